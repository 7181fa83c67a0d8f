//! Dockerfiles: the parser (directives, comments, line continuations,
//! flags, JSON and shell forms) and the shell-like word lexer that expands
//! `$VAR`, `${VAR}`, `${VAR:-default}` and `${VAR:+alt}` as Docker's does.

use std::collections::HashMap;

/// An instruction's arguments.
#[derive(Debug, Clone, PartialEq)]
pub enum Args {
    /// `["a", "b"]`.
    Json(Vec<String>),
    /// Everything after the keyword and flags, continuations joined.
    Text(String),
}

/// One instruction.
#[derive(Debug, Clone, PartialEq)]
pub struct Instruction {
    /// Line of the keyword (1-based).
    pub line: usize,
    /// Upper case: `RUN`.
    pub cmd: String,
    /// `--name=value` flags before the arguments.
    pub flags: Vec<(String, String)>,
    pub args: Args,
    /// The instruction as written after its keyword, for messages and
    /// history (`RUN echo hi` → `echo hi`).
    pub original: String,
}

impl Instruction {
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Instructions whose arguments may be a JSON array.
const JSON_FORMS: &[&str] = &["RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME"];

const KNOWN: &[&str] = &[
    "FROM",
    "RUN",
    "CMD",
    "ENTRYPOINT",
    "SHELL",
    "COPY",
    "ADD",
    "VOLUME",
    "ENV",
    "ARG",
    "LABEL",
    "MAINTAINER",
    "EXPOSE",
    "WORKDIR",
    "USER",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "ONBUILD",
];

/// Parses a Dockerfile.
pub fn parse(src: &str) -> Result<Vec<Instruction>, String> {
    let mut escape = '\\';
    let mut lines = src.lines().enumerate().peekable();
    // Parser directives: `# name=value` lines before anything else.
    while let Some((_, l)) = lines.peek() {
        let t = l.trim();
        let Some(d) = t.strip_prefix('#') else { break };
        let Some((k, v)) = d.split_once('=') else {
            break;
        };
        match k.trim().to_ascii_lowercase().as_str() {
            "escape" => {
                escape = match v.trim() {
                    "\\" => '\\',
                    "`" => '`',
                    other => return Err(format!("invalid ESCAPE '{other}'. Must be ` or \\")),
                }
            }
            "syntax" => {}
            _ => break,
        }
        lines.next();
    }
    let mut out = Vec::new();
    while let Some((n, first)) = lines.next() {
        let t = first.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let mut text = String::new();
        let mut cur = t.to_string();
        loop {
            let trimmed = cur.trim_end();
            if let Some(body) = trimmed.strip_suffix(escape) {
                text.push_str(body);
                // Comment and empty lines inside a continuation are skipped.
                let next = loop {
                    match lines.next() {
                        Some((_, l)) if l.trim_start().starts_with('#') => continue,
                        Some((_, l)) if l.trim().is_empty() => continue,
                        other => break other,
                    }
                };
                match next {
                    Some((_, l)) => cur = l.to_string(),
                    None => break,
                }
            } else {
                text.push_str(trimmed);
                break;
            }
        }
        let (kw, rest) = match text.find(char::is_whitespace) {
            Some(i) => (&text[..i], text[i..].trim()),
            None => (text.as_str(), ""),
        };
        let cmd = kw.to_ascii_uppercase();
        if !KNOWN.contains(&cmd.as_str()) {
            return Err(format!(
                "dockerfile parse error line {}: unknown instruction: {kw}",
                n + 1
            ));
        }
        let (flags, rest) = split_flags(rest);
        let args = if JSON_FORMS.contains(&cmd.as_str()) && rest.starts_with('[') {
            match serde_json::from_str::<Vec<String>>(rest) {
                Ok(v) => Args::Json(v),
                Err(_) => Args::Text(rest.to_string()),
            }
        } else {
            Args::Text(rest.to_string())
        };
        out.push(Instruction {
            line: n + 1,
            cmd,
            flags,
            args,
            original: rest.to_string(),
        });
    }
    Ok(out)
}

/// Leading `--name=value` (or `--name`) flags.
fn split_flags(mut rest: &str) -> (Vec<(String, String)>, &str) {
    let mut flags = Vec::new();
    while let Some(f) = rest.strip_prefix("--") {
        let end = f.find(char::is_whitespace).unwrap_or(f.len());
        let word = &f[..end];
        if word.is_empty() {
            break;
        }
        let (k, v) = word.split_once('=').unwrap_or((word, ""));
        flags.push((k.to_ascii_lowercase(), v.to_string()));
        rest = f[end..].trim_start();
    }
    (flags, rest)
}

/// Splits `text` into words as Docker's shell lexer does: quotes group and
/// are removed, backslash escapes (outside single quotes), and variables
/// expand from `env` (outside single quotes).
pub fn words(text: &str, env: &HashMap<String, String>) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = text.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => cur.push(c),
            (_, '\\') => {
                in_word = true;
                match chars.next() {
                    // In double quotes only \$ \" \\ lose the backslash.
                    Some(n) if quote == Some('"') && !matches!(n, '$' | '"' | '\\') => {
                        cur.push('\\');
                        cur.push(n);
                    }
                    Some(n) => cur.push(n),
                    None => cur.push('\\'),
                }
            }
            (_, '$') => {
                in_word = true;
                cur.push_str(&expand_var(&mut chars, env)?);
            }
            (_, c) => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if quote.is_some() {
        return Err(format!(
            "unexpected end of statement while looking for matching quote: {text}"
        ));
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// Expands variables in `text` without splitting it (quotes and escapes
/// are processed as in [`words`], whitespace is kept).
pub fn expand(text: &str, env: &HashMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some('$')) => {
                chars.next();
                out.push('$');
            }
            '$' => out.push_str(&expand_var(&mut chars, env)?),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// After a `$`: the variable's value (a lone `$` stays).
fn expand_var(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    env: &HashMap<String, String>,
) -> Result<String, String> {
    let get = |name: &str| env.get(name).cloned().unwrap_or_default();
    match chars.peek() {
        Some('{') => {
            chars.next();
            let mut name = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_ascii_alphanumeric() || c == '_' {
                    name.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            match chars.next() {
                Some('}') => Ok(get(&name)),
                Some(':') => {
                    let op = chars.next();
                    let mut word = String::new();
                    let mut depth = 0;
                    loop {
                        match chars.next() {
                            Some('}') if depth == 0 => break,
                            Some('}') => {
                                depth -= 1;
                                word.push('}');
                            }
                            Some('{') => {
                                depth += 1;
                                word.push('{');
                            }
                            Some(c) => word.push(c),
                            None => return Err(format!("missing '}}' in ${{{name}")),
                        }
                    }
                    let word = expand(&word, env)?;
                    let set = env.get(&name).is_some_and(|v| !v.is_empty());
                    match op {
                        Some('-') => Ok(if set { get(&name) } else { word }),
                        Some('+') => Ok(if set { word } else { String::new() }),
                        _ => Err(format!("unsupported modifier in ${{{name}:...}}")),
                    }
                }
                _ => Err(format!("missing '}}' in ${{{name}")),
            }
        }
        Some(&c) if c.is_ascii_alphabetic() || c == '_' => {
            let mut name = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_ascii_alphanumeric() || c == '_' {
                    name.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            Ok(get(&name))
        }
        _ => Ok("$".to_string()),
    }
}

/// `KEY=VALUE ...` pairs (ENV, LABEL, ARG); the legacy `ENV KEY value with
/// spaces` form when `legacy` and the first word has no `=`.
pub fn key_values(
    text: &str,
    env: &HashMap<String, String>,
    legacy: bool,
) -> Result<Vec<(String, String)>, String> {
    let text = text.trim();
    let first = text.split_whitespace().next().unwrap_or_default();
    if legacy && !first.contains('=') {
        let value = text[first.len()..].trim();
        let key = words(first, env)?.concat();
        let value = words(value, env)?.join(" ");
        if key.is_empty() {
            return Err("missing key".into());
        }
        return Ok(vec![(key, value)]);
    }
    let mut out = Vec::new();
    for w in words(text, env)? {
        match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => out.push((k.to_string(), v.to_string())),
            _ => return Err(format!("key=value expected, got {w:?}")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_forms_flags_comments_and_continuations() {
        let df = "# syntax=docker/dockerfile:1\n\
                  # a comment\n\
                  from busybox AS base\n\
                  \n\
                  RUN echo a \\\n\
                  # inside\n\
                      && echo b\n\
                  COPY --from=base --chown=1:2 /a /b\n\
                  CMD [\"sh\", \"-c\", \"x\"]\n\
                  ENTRYPOINT [not json\n";
        let ins = parse(df).unwrap();
        let cmds: Vec<&str> = ins.iter().map(|i| i.cmd.as_str()).collect();
        assert_eq!(cmds, ["FROM", "RUN", "COPY", "CMD", "ENTRYPOINT"]);
        assert_eq!(ins[0].args, Args::Text("busybox AS base".into()));
        assert_eq!(ins[0].line, 3);
        assert_eq!(ins[1].args, Args::Text("echo a && echo b".into()));
        assert_eq!(ins[2].flag("from"), Some("base"));
        assert_eq!(ins[2].flag("chown"), Some("1:2"));
        assert_eq!(ins[2].args, Args::Text("/a /b".into()));
        assert_eq!(
            ins[3].args,
            Args::Json(vec!["sh".into(), "-c".into(), "x".into()])
        );
        assert_eq!(ins[4].args, Args::Text("[not json".into()));
        assert!(parse("FROM x\nBOGUS y\n")
            .unwrap_err()
            .contains("unknown instruction: BOGUS"));
    }

    #[test]
    fn escape_directive() {
        let ins = parse("# escape=`\nFROM x\nRUN a `\n b\n").unwrap();
        assert_eq!(ins[1].args, Args::Text("a  b".into()));
    }

    #[test]
    fn words_quote_escape_and_expand() {
        let e = env(&[("A", "1"), ("SP", "x y"), ("EMPTY", "")]);
        assert_eq!(
            words("a 'b c' \"d $A\" e\\ f", &e).unwrap(),
            ["a", "b c", "d 1", "e f"]
        );
        assert_eq!(
            words("'$A' ${A}x $A$A \\$A", &e).unwrap(),
            ["$A", "1x", "11", "$A"]
        );
        assert_eq!(
            words("${NO:-dflt} ${A:-dflt} ${A:+alt} ${NO:+alt}x", &e).unwrap(),
            ["dflt", "1", "alt", "x"]
        );
        assert_eq!(words("${EMPTY:-d}", &e).unwrap(), ["d"]);
        assert_eq!(words("$SP", &e).unwrap(), ["x y"]);
        assert_eq!(words("a$", &e).unwrap(), ["a$"]);
        assert!(words("'open", &e).is_err());
        assert!(words("${A", &e).is_err());
        assert_eq!(expand("/x/$A/${NO:-z} y", &e).unwrap(), "/x/1/z y");
    }

    #[test]
    fn key_value_forms() {
        let e = env(&[("V", "v")]);
        assert_eq!(
            key_values("A=1 B=\"two words\" C=$V", &e, true).unwrap(),
            [
                ("A".to_string(), "1".to_string()),
                ("B".to_string(), "two words".to_string()),
                ("C".to_string(), "v".to_string())
            ]
        );
        assert_eq!(
            key_values("KEY value with  spaces", &e, true).unwrap(),
            [("KEY".to_string(), "value with spaces".to_string())]
        );
        assert!(key_values("A", &e, false).is_err());
        assert_eq!(
            key_values("\"my key\"=x", &e, false).unwrap(),
            [("my key".to_string(), "x".to_string())]
        );
    }
}
