//! A small evaluator of Go `text/template` syntax over `serde_json::Value`,
//! enough for Docker's `--format` flags: text, `{{.A.B}}` field paths, `.`,
//! `$` and `$var` variables, string/number/bool literals, pipelines
//! (`{{.X | json}}`), parentheses, trim markers (`{{-`, `-}}`), comments,
//! `if`/`else if`/`else`, `range` (with `$i, $e :=`), `with`, and the
//! functions Docker's formatter offers (`json`, `index`, `join`, `split`,
//! `upper`, `lower`, `title`, `truncate`, `pad`, `len`, `print`, `printf`,
//! `println`, `eq`, `ne`, `not`, `and`, `or`).
//!
//! Printing follows Go's `fmt.Print`: strings raw, arrays as `[a b]`,
//! objects as `map[k:v]` (sorted keys), `null` as `<nil>`, a missing key as
//! `<no value>`.

use serde_json::Value;

use super::template_parse::{parse, Cmd, Node, Operand, Pipeline};

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
}

/// How functions behave: normally, or for computing table headers, where
/// the data is a map of field name to column title and formatting
/// functions return their argument unchanged (as Docker's
/// `HeaderFunctions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Data,
    Header,
}

/// A value during evaluation: `None` is Go's "no value" (missing key).
type Val = Option<Value>;

struct Exec<'a> {
    mode: Mode,
    root: &'a Value,
    vars: Vec<(String, Val)>,
    out: String,
}

impl Template {
    /// Parse a template; errors read like Go's (`template: :1: ...`).
    pub fn parse(src: &str) -> Result<Self, String> {
        Ok(Self { nodes: parse(src)? })
    }

    /// Run the template with `data` as `.`.
    pub fn execute(&self, data: &Value) -> Result<String, String> {
        self.run(data, Mode::Data)
    }

    /// Run the template over a map of field name → column title, to get
    /// the header line of a table.
    pub fn execute_header(&self, headers: &Value) -> Result<String, String> {
        self.run(headers, Mode::Header)
    }

    fn run(&self, data: &Value, mode: Mode) -> Result<String, String> {
        let mut exec = Exec {
            mode,
            root: data,
            vars: Vec::new(),
            out: String::new(),
        };
        exec.nodes(&self.nodes, &Some(data.clone()))
            .map_err(|e| format!("template: :1: executing \"\" {e}"))?;
        Ok(exec.out)
    }
}

impl Exec<'_> {
    fn nodes(&mut self, nodes: &[Node], dot: &Val) -> Result<(), String> {
        for node in nodes {
            self.node(node, dot)?;
        }
        Ok(())
    }

    fn node(&mut self, node: &Node, dot: &Val) -> Result<(), String> {
        match node {
            Node::Text(t) => self.out.push_str(t),
            Node::Action(p) => {
                let v = self.pipeline(p, dot)?;
                if p.decl.is_empty() {
                    let text = self.print(&v);
                    self.out.push_str(&text);
                }
            }
            Node::If { cond, then, els } => {
                let mark = self.vars.len();
                let v = self.pipeline(cond, dot)?;
                let branch = if truthy(&v) { then } else { els };
                self.nodes(branch, dot)?;
                self.vars.truncate(mark);
            }
            Node::With { cond, then, els } => {
                let mark = self.vars.len();
                let v = self.pipeline(cond, dot)?;
                if truthy(&v) {
                    self.nodes(then, &v)?;
                } else {
                    self.nodes(els, dot)?;
                }
                self.vars.truncate(mark);
            }
            Node::Range { over, body, els } => self.range(over, body, els, dot)?,
        }
        Ok(())
    }

    fn range(
        &mut self,
        over: &Pipeline,
        body: &[Node],
        els: &[Node],
        dot: &Val,
    ) -> Result<(), String> {
        let mark = self.vars.len();
        let decl = over.decl.clone();
        let mut plain = over.clone();
        plain.decl.clear();
        let v = self.pipeline(&plain, dot)?;
        let items: Vec<(Value, Value)> = match &v {
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, e)| (Value::from(i), e.clone()))
                .collect(),
            Some(Value::Object(m)) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                keys.into_iter()
                    .map(|k| (Value::String(k.clone()), m[k].clone()))
                    .collect()
            }
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Number(n)) if self.mode == Mode::Data => {
                let n = n
                    .as_u64()
                    .ok_or("range can't iterate over a negative number")?;
                (0..n).map(|i| (Value::from(i), Value::from(i))).collect()
            }
            Some(other) if self.mode == Mode::Data => {
                return Err(format!("range can't iterate over {}", print_value(other)))
            }
            Some(other) => vec![(Value::from(0), other.clone())],
        };
        if items.is_empty() {
            self.nodes(els, dot)?;
        }
        for (key, elem) in items {
            let inner = self.vars.len();
            match decl.as_slice() {
                [] => {}
                [e] => self.vars.push((e.clone(), Some(elem.clone()))),
                [k, e, ..] => {
                    self.vars.push((k.clone(), Some(key)));
                    self.vars.push((e.clone(), Some(elem.clone())));
                }
            }
            self.nodes(body, &Some(elem))?;
            self.vars.truncate(inner);
        }
        self.vars.truncate(mark);
        Ok(())
    }

    fn pipeline(&mut self, p: &Pipeline, dot: &Val) -> Result<Val, String> {
        let mut prev: Option<Val> = None;
        for cmd in &p.cmds {
            prev = Some(self.command(cmd, dot, prev)?);
        }
        let v = prev.unwrap_or(None);
        if let Some(name) = p.decl.first() {
            self.vars.push((name.clone(), v.clone()));
        }
        Ok(v)
    }

    fn command(&mut self, cmd: &Cmd, dot: &Val, piped: Option<Val>) -> Result<Val, String> {
        let (first, rest) = cmd.args.split_first().ok_or("empty command")?;
        if let Operand::Func(name) = first {
            let mut args = rest
                .iter()
                .map(|a| self.operand(a, dot))
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(p) = piped {
                args.push(p);
            }
            return self.call(name, args);
        }
        if !rest.is_empty() || piped.is_some() {
            return Err(format!(
                "at <{}>: can't give argument to non-function",
                first.describe()
            ));
        }
        self.operand(first, dot)
    }

    fn operand(&mut self, op: &Operand, dot: &Val) -> Result<Val, String> {
        match op {
            Operand::Dot(path) => field(dot, path, op),
            Operand::Var(name, path) => {
                let base = if name == "$" {
                    Some(self.root.clone())
                } else {
                    self.vars
                        .iter()
                        .rev()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| v.clone())
                        .ok_or_else(|| format!("undefined variable: {name}"))?
                };
                field(&base, path, op)
            }
            Operand::Lit(v) => Ok(Some(v.clone())),
            Operand::Func(name) => self.call(name, Vec::new()),
            Operand::Sub(p, path) => {
                let v = self.pipeline(p, dot)?;
                field(&v, path, op)
            }
        }
    }

    fn call(&mut self, name: &str, args: Vec<Val>) -> Result<Val, String> {
        if self.mode == Mode::Header
            && matches!(
                name,
                "json"
                    | "index"
                    | "join"
                    | "split"
                    | "upper"
                    | "lower"
                    | "title"
                    | "truncate"
                    | "pad"
            )
        {
            return Ok(args.into_iter().next().flatten().or(Some(Value::from(""))));
        }
        super::template_funcs::call(name, args)
    }

    fn print(&self, v: &Val) -> String {
        match v {
            None if self.mode == Mode::Header => String::new(),
            None => "<no value>".to_string(),
            Some(v) => print_value(v),
        }
    }
}

/// Follow `path` from `base`. A missing key or a path through `null` or a
/// missing value gives "no value"; a path through a scalar is an error.
fn field(base: &Val, path: &[String], op: &Operand) -> Result<Val, String> {
    let mut cur = base.clone();
    for name in path {
        cur = match cur {
            None | Some(Value::Null) => None,
            Some(Value::Object(mut m)) => m.remove(name),
            Some(other) => {
                return Err(format!(
                    "at <{}>: can't evaluate field {name} in type {}",
                    op.describe(),
                    type_name(&other)
                ))
            }
        };
    }
    Ok(cur)
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Go's truth: false, 0, empty string/array/map, nil and "no value" are
/// false.
pub(crate) fn truthy(v: &Val) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(m)) => !m.is_empty(),
    }
}

/// Print a value as Go's `fmt.Print` would.
pub(crate) fn print_value(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => {
            let parts: Vec<String> = a.iter().map(print_value).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{k}:{}", print_value(&m[k])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(tpl: &str, data: &Value) -> String {
        Template::parse(tpl).unwrap().execute(data).unwrap()
    }

    fn inspect() -> Value {
        json!({
            "Id": "abc",
            "Name": "/web",
            "Args": ["-c", "echo hi"],
            "State": {"Status": "exited", "ExitCode": 3, "Running": false, "Health": null},
            "Config": {
                "Image": "busybox",
                "Labels": {"b": "2", "a": "1", "com.example.x": "y"},
                "Env": ["A=1", "B=2"],
                "Tty": false
            }
        })
    }

    #[test]
    fn field_paths() {
        let d = inspect();
        assert_eq!(run("{{.State.Status}}", &d), "exited");
        assert_eq!(run("{{.State.ExitCode}}", &d), "3");
        assert_eq!(run("{{.Config.Image}}", &d), "busybox");
        assert_eq!(run("{{.Name}}", &d), "/web");
        assert_eq!(run("x={{ .State.Running }}.", &d), "x=false.");
        assert_eq!(run("{{.Args}}", &d), "[-c echo hi]");
        assert_eq!(
            run("{{.Config.Labels}}", &d),
            "map[a:1 b:2 com.example.x:y]"
        );
        assert_eq!(run("{{.Nope}}", &d), "<no value>");
        assert_eq!(run("{{.Nope.Deeper}}", &d), "<no value>");
        assert_eq!(run("{{.State.Health}}", &d), "<nil>");
        assert_eq!(run("{{.State.Health.Status}}", &d), "<no value>");
        assert_eq!(run("{{$}} {{.}}", &json!("s")), "s s");
        assert_eq!(run("{{$.Id}}", &d), "abc");
        let err = Template::parse("{{.Name.X}}")
            .unwrap()
            .execute(&d)
            .unwrap_err();
        assert!(
            err.contains("can't evaluate field X in type string"),
            "{err}"
        );
    }

    #[test]
    fn json_and_index() {
        let d = inspect();
        assert_eq!(
            run("{{json .Config.Labels}}", &d),
            r#"{"a":"1","b":"2","com.example.x":"y"}"#
        );
        assert_eq!(run("{{json .Args}}", &d), r#"["-c","echo hi"]"#);
        assert_eq!(run("{{.Config.Env | json}}", &d), r#"["A=1","B=2"]"#);
        assert_eq!(run("{{json .State.Health}}", &d), "null");
        assert_eq!(run(r#"{{index .Config.Labels "com.example.x"}}"#, &d), "y");
        assert_eq!(run(r#"{{index .Config.Labels "missing"}}"#, &d), "");
        assert_eq!(run("{{index .Args 1}}", &d), "echo hi");
        let json_cfg = run("{{json .Config}}", &d);
        let back: Value = serde_json::from_str(&json_cfg).unwrap();
        assert_eq!(back, d["Config"]);
        assert!(Template::parse("{{index .Args 5}}")
            .unwrap()
            .execute(&d)
            .unwrap_err()
            .contains("out of range"));
    }

    #[test]
    fn control_flow() {
        let d = inspect();
        assert_eq!(run("{{range .Config.Env}}[{{.}}]{{end}}", &d), "[A=1][B=2]");
        assert_eq!(
            run(
                "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}",
                &d
            ),
            "a=1;b=2;com.example.x=y;"
        );
        assert_eq!(run("{{range .Missing}}x{{else}}empty{{end}}", &d), "empty");
        assert_eq!(
            run(
                r#"{{if eq .State.Status "running"}}up{{else if .State.ExitCode}}failed{{else}}ok{{end}}"#,
                &d
            ),
            "failed"
        );
        assert_eq!(run("{{with .Config}}{{.Image}}{{end}}", &d), "busybox");
        assert_eq!(run("{{if not .Config.Tty}}no tty{{end}}", &d), "no tty");
        assert_eq!(run("{{$img := .Config.Image}}<{{$img}}>", &d), "<busybox>");
        assert_eq!(run("a  {{- .Name -}}  b", &d), "a/webb");
        assert_eq!(run("{{/* comment */}}x", &d), "x");
    }

    #[test]
    fn string_functions() {
        let d = inspect();
        assert_eq!(run(r#"{{join .Args ","}}"#, &d), "-c,echo hi");
        assert_eq!(run(r#"{{split "a:b" ":"}}"#, &d), "[a b]");
        assert_eq!(run("{{upper .Config.Image}}", &d), "BUSYBOX");
        assert_eq!(run("{{title \"hello world\"}}", &d), "Hello World");
        assert_eq!(run("{{len .Args}}", &d), "2");
        assert_eq!(run("{{truncate .Config.Image 3}}", &d), "bus");
        assert_eq!(
            run(r#"{{printf "%s:%d" .Name .State.ExitCode}}"#, &d),
            "/web:3"
        );
        assert_eq!(run("{{println .Name}}", &d), "/web\n");
        assert_eq!(run(r#"{{(index .Args 0) | upper}}"#, &d), "-C");
    }

    #[test]
    fn headers() {
        let h = json!({"ID": "CONTAINER ID", "Names": "NAMES"});
        let t = Template::parse("{{.ID}}\t{{.Names | upper}}\t{{json .Names}}\t{{.X}}").unwrap();
        assert_eq!(
            t.execute_header(&h).unwrap(),
            "CONTAINER ID\tNAMES\tNAMES\t"
        );
    }

    #[test]
    fn parse_errors() {
        for (src, want) in [
            ("{{.Name", "unclosed action"),
            ("{{if .X}}a", "unexpected EOF"),
            ("{{end}}", "unexpected {{end}}"),
            ("{{nosuch .X}}", "function \"nosuch\" not defined"),
            ("{{\"abc}}", "unterminated quoted string"),
            ("{{}}", "missing value for command"),
        ] {
            let err = Template::parse(src).unwrap_err();
            assert!(err.starts_with("template: :1:"), "{src}: {err}");
            assert!(err.contains(want), "{src}: {err}");
        }
    }
}
