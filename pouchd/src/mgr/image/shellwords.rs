//! The word splitting of Dockerfile instructions (moby's shell lexer, the
//! part `--change` needs): quotes, backslash escapes and `$VAR`
//! substitution from the config's environment.

/// Splits on unquoted whitespace, removing quotes and backslash escapes and
/// expanding `$VAR`, `${VAR}`, `${VAR:-word}` and `${VAR:+word}` from `env`
/// (not inside single quotes), as Docker's shell lexer does.
pub(super) fn words(s: &str, env: &[String]) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(n) => cur.push(n),
                    None => cur.push('\\'),
                }
            }
            '$' => {
                in_word = true;
                cur.push_str(&expand(&mut chars, env)?);
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(n) => cur.push(n),
                        None => return Err("unmatched quote (')".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(n @ ('"' | '\\' | '$')) => cur.push(n),
                            Some(n) => {
                                cur.push('\\');
                                cur.push(n);
                            }
                            None => return Err("unmatched quote (\")".into()),
                        },
                        Some('$') => cur.push_str(&expand(&mut chars, env)?),
                        Some(n) => cur.push(n),
                        None => return Err("unmatched quote (\")".into()),
                    }
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// The value of `name` in `env` (`K=V` entries; the last one wins).
fn lookup<'a>(env: &'a [String], name: &str) -> Option<&'a str> {
    env.iter().rev().find_map(|e| match e.split_once('=') {
        Some((k, v)) if k == name => Some(v),
        _ => None,
    })
}

/// Expands what follows a `$`.
fn expand(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    env: &[String],
) -> std::result::Result<String, String> {
    let is_name = |c: &char| c.is_ascii_alphanumeric() || *c == '_';
    match chars.peek() {
        Some('{') => {
            chars.next();
            let mut inner = String::new();
            loop {
                match chars.next() {
                    Some('}') => break,
                    Some(c) => inner.push(c),
                    None => return Err("missing '}' in variable substitution".into()),
                }
            }
            let (name, op) = match inner.find(':') {
                Some(i) => (&inner[..i], Some(&inner[i..])),
                None => (inner.as_str(), None),
            };
            if name.is_empty() || !name.chars().all(|c| is_name(&c)) {
                return Err(format!("bad substitution: ${{{inner}}}"));
            }
            let value = lookup(env, name).filter(|v| !v.is_empty());
            Ok(match op {
                None => value.unwrap_or("").to_string(),
                Some(o) if o.starts_with(":-") => value.unwrap_or(&o[2..]).to_string(),
                Some(o) if o.starts_with(":+") => value.map(|_| &o[2..]).unwrap_or("").to_string(),
                Some(o) => return Err(format!("unsupported modifier ({o}) in substitution")),
            })
        }
        Some(c) if is_name(c) => {
            let mut name = String::new();
            while let Some(c) = chars.next_if(is_name) {
                name.push(c);
            }
            Ok(lookup(env, &name).unwrap_or("").to_string())
        }
        _ => Ok("$".to_string()),
    }
}
