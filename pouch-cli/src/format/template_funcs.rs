//! Functions available in templates (Go's builtins that matter plus
//! Docker's formatter functions).

use serde_json::Value;

use super::template::{print_value, truthy, type_name};

/// Known function names (checked at parse time, as Go does).
pub const FUNCS: &[&str] = &[
    "json", "index", "join", "split", "upper", "lower", "title", "truncate", "pad", "len", "print",
    "printf", "println", "eq", "ne", "not", "and", "or",
];

type Val = Option<Value>;

fn arity(name: &str, args: &[Val], n: usize) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!(
            "error calling {name}: wrong number of args for {name}: want {n} got {}",
            args.len()
        ))
    }
}

fn string_arg(name: &str, v: &Val) -> Result<String, String> {
    match v {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!(
            "error calling {name}: expected string; found {}",
            print_value(other)
        )),
        None => Err(format!(
            "error calling {name}: invalid value; expected string"
        )),
    }
}

fn int_arg(name: &str, v: &Val) -> Result<i64, String> {
    match v {
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(n.as_i64().unwrap_or(i64::MAX)),
        _ => Err(format!("error calling {name}: expected integer")),
    }
}

/// Print as `fmt.Sprint` does a single operand ("no value" prints as
/// `<no value>`).
fn sprint(v: &Val) -> String {
    v.as_ref()
        .map_or_else(|| "<no value>".to_string(), print_value)
}

/// Call function `name`.
pub fn call(name: &str, args: Vec<Val>) -> Result<Val, String> {
    let s = |x: String| Ok(Some(Value::String(x)));
    match name {
        "json" => {
            arity(name, &args, 1)?;
            let v = args[0].clone().unwrap_or(Value::Null);
            s(serde_json::to_string(&v).map_err(|e| e.to_string())?)
        }
        "index" => index(args),
        "join" => {
            arity(name, &args, 2)?;
            let sep = string_arg(name, &args[1])?;
            match &args[0] {
                Some(Value::Array(a)) => {
                    let parts: Vec<String> = a.iter().map(print_value).collect();
                    s(parts.join(&sep))
                }
                Some(Value::Null) | None => s(String::new()),
                Some(other) => s(print_value(other)),
            }
        }
        "split" => {
            arity(name, &args, 2)?;
            let text = string_arg(name, &args[0])?;
            let sep = string_arg(name, &args[1])?;
            let parts: Vec<Value> = if sep.is_empty() {
                text.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                text.split(sep.as_str())
                    .map(|p| Value::String(p.to_string()))
                    .collect()
            };
            Ok(Some(Value::Array(parts)))
        }
        "upper" => {
            arity(name, &args, 1)?;
            s(string_arg(name, &args[0])?.to_uppercase())
        }
        "lower" => {
            arity(name, &args, 1)?;
            s(string_arg(name, &args[0])?.to_lowercase())
        }
        "title" => {
            arity(name, &args, 1)?;
            s(title(&string_arg(name, &args[0])?))
        }
        "truncate" => {
            arity(name, &args, 2)?;
            let text = string_arg(name, &args[0])?;
            let n = usize::try_from(int_arg(name, &args[1])?).unwrap_or(0);
            s(text.chars().take(n).collect())
        }
        "pad" => {
            arity(name, &args, 3)?;
            let text = string_arg(name, &args[0])?;
            let l = usize::try_from(int_arg(name, &args[1])?).unwrap_or(0);
            let r = usize::try_from(int_arg(name, &args[2])?).unwrap_or(0);
            s(format!("{}{text}{}", " ".repeat(l), " ".repeat(r)))
        }
        "len" => {
            arity(name, &args, 1)?;
            let n = match &args[0] {
                Some(Value::String(t)) => t.len(),
                Some(Value::Array(a)) => a.len(),
                Some(Value::Object(m)) => m.len(),
                Some(other) => {
                    return Err(format!(
                        "error calling len: len of type {}",
                        type_name(other)
                    ))
                }
                None => return Err("error calling len: len of nil pointer".to_string()),
            };
            Ok(Some(Value::from(n)))
        }
        "print" => s(go_print(&args)),
        "println" => {
            let parts: Vec<String> = args.iter().map(sprint).collect();
            s(format!("{}\n", parts.join(" ")))
        }
        "printf" => {
            let (fmt, rest) = args
                .split_first()
                .ok_or("error calling printf: missing format")?;
            s(printf(&string_arg(name, fmt)?, rest))
        }
        "eq" | "ne" => {
            if args.len() < 2 {
                return Err(format!(
                    "error calling {name}: missing argument for comparison"
                ));
            }
            let first = &args[0];
            let eq = args[1..].iter().any(|a| values_equal(first, a));
            Ok(Some(Value::Bool(if name == "eq" { eq } else { !eq })))
        }
        "not" => {
            arity(name, &args, 1)?;
            Ok(Some(Value::Bool(!truthy(&args[0]))))
        }
        "and" | "or" => {
            // Go: `and` gives the first false argument, `or` the first
            // true one, else the last argument.
            let want = name == "or";
            let last = args.last().cloned().flatten();
            let found = args.iter().find(|a| truthy(a) == want).cloned();
            Ok(found.unwrap_or(last))
        }
        other => Err(format!("function {other:?} not defined")),
    }
}

fn values_equal(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x.as_f64() == y.as_f64(),
        (None, Some(Value::Null)) | (Some(Value::Null), None) => true,
        _ => a == b,
    }
}

fn index(args: Vec<Val>) -> Result<Val, String> {
    let mut it = args.into_iter();
    let mut cur = it.next().ok_or("error calling index: missing argument")?;
    for key in it {
        cur = match (cur, key) {
            (Some(Value::Object(mut m)), Some(Value::String(k))) => {
                // A missing key gives the zero value, as with Go's typed
                // map[string]string.
                Some(m.remove(&k).unwrap_or(Value::String(String::new())))
            }
            (Some(Value::Array(a)), Some(Value::Number(n))) => {
                let i = n.as_u64().unwrap_or(u64::MAX);
                let len = a.len();
                let v = usize::try_from(i).ok().and_then(|i| a.into_iter().nth(i));
                Some(v.ok_or_else(|| {
                    format!("error calling index: index out of range: {n} (length {len})")
                })?)
            }
            (None | Some(Value::Null), _) => None,
            (Some(other), key) => {
                return Err(format!(
                    "error calling index: cannot index {} with {}",
                    type_name(&other),
                    sprint(&key)
                ))
            }
        };
    }
    Ok(cur)
}

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut at_start = true;
    for c in s.chars() {
        if at_start && c.is_alphanumeric() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        at_start = !c.is_alphanumeric() && c != '\'';
    }
    out
}

/// `fmt.Sprint`: spaces between operands when neither is a string.
fn go_print(args: &[Val]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = matches!(a, Some(Value::String(_)));
        if i > 0 && !is_str && !matches!(args[i - 1], Some(Value::String(_))) {
            out.push(' ');
        }
        out.push_str(&sprint(a));
    }
    out
}

/// A `printf` for `%s`, `%d`, `%v`, `%q`, `%t` and `%%`.
fn printf(fmt: &str, args: &[Val]) -> String {
    let mut out = String::new();
    let mut it = args.iter();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some(verb) => match it.next() {
                Some(a) => match verb {
                    'q' => out.push_str(&serde_json::to_string(&sprint(a)).unwrap_or_default()),
                    _ => out.push_str(&sprint(a)),
                },
                None => out.push_str(&format!("%!{verb}(MISSING)")),
            },
            None => out.push_str("%!(NOVERB)"),
        }
    }
    out
}
