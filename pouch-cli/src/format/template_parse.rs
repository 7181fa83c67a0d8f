//! Parser of the Go-template subset evaluated by [`super::template`].

use serde_json::Value;

use super::template_funcs::FUNCS;

/// A node of a parsed template.
#[derive(Debug, Clone)]
pub enum Node {
    Text(String),
    Action(Pipeline),
    If {
        cond: Pipeline,
        then: Vec<Node>,
        els: Vec<Node>,
    },
    With {
        cond: Pipeline,
        then: Vec<Node>,
        els: Vec<Node>,
    },
    Range {
        over: Pipeline,
        body: Vec<Node>,
        els: Vec<Node>,
    },
}

/// `[$a[, $b] :=] cmd | cmd | ...`
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    pub decl: Vec<String>,
    pub cmds: Vec<Cmd>,
}

/// A function call or a single operand.
#[derive(Debug, Clone)]
pub struct Cmd {
    pub args: Vec<Operand>,
}

#[derive(Debug, Clone)]
pub enum Operand {
    /// `.` (empty path) or `.A.B`.
    Dot(Vec<String>),
    /// `$`, `$x`, `$x.A.B`.
    Var(String, Vec<String>),
    Lit(Value),
    Func(String),
    /// `(pipeline).A.B`.
    Sub(Pipeline, Vec<String>),
}

impl Operand {
    /// The operand as written, for error messages.
    pub fn describe(&self) -> String {
        let path = |p: &[String]| p.iter().map(|f| format!(".{f}")).collect::<String>();
        match self {
            Operand::Dot(p) if p.is_empty() => ".".to_string(),
            Operand::Dot(p) => path(p),
            Operand::Var(n, p) => format!("{n}{}", path(p)),
            Operand::Lit(v) => v.to_string(),
            Operand::Func(f) => f.clone(),
            Operand::Sub(_, p) => format!("(...){}", path(p)),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Field(Vec<String>),
    Var(String, Vec<String>),
    Lit(Value),
    Ident(String),
    Pipe,
    LParen,
    RParen,
    Comma,
    Declare,
}

/// A token and whether whitespace preceded it.
type Spanned = (Tok, bool);

enum Item {
    Text(String),
    Action { toks: Vec<Spanned>, line: usize },
}

fn err(line: usize, msg: impl std::fmt::Display) -> String {
    format!("template: :{line}: {msg}")
}

/// Parse template source into nodes.
pub fn parse(src: &str) -> Result<Vec<Node>, String> {
    let items = scan(src)?;
    let mut p = Parser { items, pos: 0 };
    let (nodes, end) = p.list()?;
    match end {
        Stop::Eof => Ok(nodes),
        Stop::End(line) => Err(err(line, "unexpected {{end}}")),
        Stop::Else(line, _) => Err(err(line, "unexpected {{else}}")),
    }
}

/// Split the source into text and lexed actions, applying trim markers and
/// dropping comments.
fn scan(src: &str) -> Result<Vec<Item>, String> {
    let mut items = Vec::new();
    let mut rest = src;
    let mut line = 1;
    let mut trim_next = false;
    while !rest.is_empty() {
        let Some(start) = rest.find("{{") else {
            push_text(&mut items, rest, trim_next, false);
            break;
        };
        let after = &rest[start + 2..];
        let trim_left =
            after.starts_with('-') && after[1..].starts_with(|c: char| c.is_ascii_whitespace());
        push_text(&mut items, &rest[..start], trim_next, trim_left);
        line += rest[..start].matches('\n').count();
        let body_start = if trim_left { &after[2..] } else { after };
        let (body, consumed, trim_right) = action_body(body_start, line)?;
        let action_line = line;
        line += body.matches('\n').count();
        let trimmed = body.trim();
        if let Some(comment) = trimmed.strip_prefix("/*") {
            if !comment.ends_with("*/") {
                return Err(err(action_line, "unclosed comment"));
            }
        } else {
            let toks = lex(body, action_line)?;
            items.push(Item::Action {
                toks,
                line: action_line,
            });
        }
        trim_next = trim_right;
        rest = &body_start[consumed..];
    }
    Ok(items)
}

fn push_text(items: &mut Vec<Item>, text: &str, trim_start: bool, trim_end: bool) {
    let mut t = text;
    if trim_start {
        t = t.trim_start();
    }
    if trim_end {
        t = t.trim_end();
    }
    if !t.is_empty() {
        items.push(Item::Text(t.to_string()));
    }
}

/// Find the end of an action: returns the body, the bytes consumed
/// (including the closing delimiter) and whether it ends with ` -}}`.
fn action_body(s: &str, line: usize) -> Result<(&str, usize, bool), String> {
    let bytes = s.as_bytes();
    let mut i = 0;
    let comment = s.trim_start().starts_with("/*");
    while i < bytes.len() {
        match bytes[i] {
            b'"' | b'`' | b'\'' if !comment => {
                let q = bytes[i];
                i += 1;
                while i < bytes.len() && bytes[i] != q {
                    if bytes[i] == b'\\' && q != b'`' {
                        i += 1;
                    }
                    i += 1;
                }
                if i >= bytes.len() {
                    return Err(err(line, "unterminated quoted string"));
                }
                i += 1;
            }
            b'}' if bytes.get(i + 1) == Some(&b'}') => {
                let body = &s[..i];
                let trim = body.ends_with(" -")
                    || body.ends_with("\t-")
                    || body.ends_with("\n-")
                    || (body == "-");
                let body = if trim { &body[..body.len() - 1] } else { body };
                return Ok((body, i + 2, trim));
            }
            _ => i += 1,
        }
    }
    Err(err(line, "unclosed action"))
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Read `.A.B` style field chains starting at `chars[i]` (a `.`).
fn field_chain(chars: &[char], i: &mut usize) -> Vec<String> {
    let mut path = Vec::new();
    while *i < chars.len() && chars[*i] == '.' {
        let start = *i + 1;
        let mut j = start;
        while j < chars.len() && is_ident_char(chars[j]) {
            j += 1;
        }
        if j == start {
            if path.is_empty() {
                *i += 1; // lone `.`
            }
            break;
        }
        path.push(chars[start..j].iter().collect());
        *i = j;
    }
    path
}

fn lex(body: &str, line: usize) -> Result<Vec<Spanned>, String> {
    let chars: Vec<char> = body.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    let mut space = true;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            space = true;
            i += 1;
            continue;
        }
        let tok = match c {
            '|' => {
                i += 1;
                Tok::Pipe
            }
            '(' => {
                i += 1;
                Tok::LParen
            }
            ')' => {
                i += 1;
                Tok::RParen
            }
            ',' => {
                i += 1;
                Tok::Comma
            }
            ':' if chars.get(i + 1) == Some(&'=') => {
                i += 2;
                Tok::Declare
            }
            '.' if !chars.get(i + 1).is_some_and(|c| c.is_ascii_digit()) => {
                Tok::Field(field_chain(&chars, &mut i))
            }
            '$' => {
                let start = i;
                i += 1;
                while i < chars.len() && is_ident_char(chars[i]) {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                Tok::Var(name, field_chain(&chars, &mut i))
            }
            '"' | '`' => Tok::Lit(Value::String(lex_string(&chars, &mut i, line)?)),
            '\'' => {
                let s = lex_string(&chars, &mut i, line)?;
                let mut it = s.chars();
                match (it.next(), it.next()) {
                    (Some(ch), None) => Tok::Lit(Value::from(ch as u32)),
                    _ => return Err(err(line, "malformed character constant")),
                }
            }
            c if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' => {
                let start = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '.' || chars[i] == '_')
                {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                Tok::Lit(
                    parse_number(&text)
                        .ok_or_else(|| err(line, format!("bad number syntax: {text:?}")))?,
                )
            }
            c if is_ident_char(c) => {
                let start = i;
                while i < chars.len() && is_ident_char(chars[i]) {
                    i += 1;
                }
                Tok::Ident(chars[start..i].iter().collect())
            }
            other => return Err(err(line, format!("unexpected {other:?} in command"))),
        };
        toks.push((tok, space));
        space = false;
    }
    Ok(toks)
}

fn parse_number(text: &str) -> Option<Value> {
    let t = text.replace('_', "");
    if let Ok(i) = t.parse::<i64>() {
        return Some(Value::from(i));
    }
    if let Some(hex) = t.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok().map(Value::from);
    }
    t.parse::<f64>().ok().map(Value::from)
}

fn lex_string(chars: &[char], i: &mut usize, line: usize) -> Result<String, String> {
    let q = chars[*i];
    *i += 1;
    let mut out = String::new();
    while *i < chars.len() && chars[*i] != q {
        let c = chars[*i];
        if c == '\\' && q != '`' {
            *i += 1;
            let e = *chars
                .get(*i)
                .ok_or_else(|| err(line, "unterminated quoted string"))?;
            out.push(match e {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                '0' => '\0',
                other => other,
            });
        } else {
            out.push(c);
        }
        *i += 1;
    }
    if *i >= chars.len() {
        return Err(err(line, "unterminated quoted string"));
    }
    *i += 1;
    Ok(out)
}

enum Stop {
    Eof,
    End(usize),
    /// `{{else ...}}` with the tokens after `else`.
    Else(usize, Vec<Spanned>),
}

struct Parser {
    items: Vec<Item>,
    pos: usize,
}

impl Parser {
    fn list(&mut self) -> Result<(Vec<Node>, Stop), String> {
        let mut nodes = Vec::new();
        while self.pos < self.items.len() {
            let idx = self.pos;
            self.pos += 1;
            let (toks, line) = match &self.items[idx] {
                Item::Text(t) => {
                    nodes.push(Node::Text(t.clone()));
                    continue;
                }
                Item::Action { toks, line } => (toks.clone(), *line),
            };
            let keyword = match toks.first() {
                Some((Tok::Ident(k), _)) => k.as_str(),
                _ => "",
            };
            match keyword {
                "end" => return Ok((nodes, Stop::End(line))),
                "else" => return Ok((nodes, Stop::Else(line, toks[1..].to_vec()))),
                "if" => nodes.push(self.if_tail(&toks[1..], line)?),
                "with" => {
                    let cond = pipeline(&toks[1..], line, "with")?;
                    let (then, els) = self.block(line)?;
                    nodes.push(Node::With { cond, then, els });
                }
                "range" => {
                    let over = pipeline(&toks[1..], line, "range")?;
                    let (body, els) = self.block(line)?;
                    nodes.push(Node::Range { over, body, els });
                }
                "define" | "template" | "block" | "break" | "continue" => {
                    return Err(err(line, format!("{{{{{keyword}}}}} is not supported")))
                }
                _ => nodes.push(Node::Action(pipeline(&toks, line, "command")?)),
            }
        }
        Ok((nodes, Stop::Eof))
    }

    /// The body of a block and its `{{else}}` part, up to `{{end}}`.
    fn block(&mut self, line: usize) -> Result<(Vec<Node>, Vec<Node>), String> {
        let (then, end) = self.list()?;
        match end {
            Stop::Eof => Err(err(line, "unexpected EOF")),
            Stop::End(_) => Ok((then, Vec::new())),
            Stop::Else(eline, rest) => {
                if !rest.is_empty() {
                    return Err(err(eline, "unexpected tokens after {{else}}"));
                }
                let (els, end) = self.list()?;
                match end {
                    Stop::End(_) => Ok((then, els)),
                    Stop::Eof => Err(err(line, "unexpected EOF")),
                    Stop::Else(l, _) => Err(err(l, "expected end; found {{else}}")),
                }
            }
        }
    }

    fn if_tail(&mut self, cond: &[Spanned], line: usize) -> Result<Node, String> {
        let cond = pipeline(cond, line, "if")?;
        let (then, end) = self.list()?;
        let els = match end {
            Stop::Eof => return Err(err(line, "unexpected EOF")),
            Stop::End(_) => Vec::new(),
            Stop::Else(eline, rest) => match rest.first() {
                Some((Tok::Ident(k), _)) if k == "if" => vec![self.if_tail(&rest[1..], eline)?],
                Some(_) => return Err(err(eline, "unexpected tokens after {{else}}")),
                None => {
                    let (els, end) = self.list()?;
                    match end {
                        Stop::End(_) => els,
                        Stop::Eof => return Err(err(line, "unexpected EOF")),
                        Stop::Else(l, _) => return Err(err(l, "expected end; found {{else}}")),
                    }
                }
            },
        };
        Ok(Node::If { cond, then, els })
    }
}

fn pipeline(toks: &[Spanned], line: usize, ctx: &str) -> Result<Pipeline, String> {
    let mut p = Pipeline::default();
    let mut rest = toks;
    // Declarations: `$x :=` or `$i, $e :=`.
    match toks {
        [(Tok::Var(a, pa), _), (Tok::Declare, _), tail @ ..] if pa.is_empty() => {
            p.decl = vec![a.clone()];
            rest = tail;
        }
        [(Tok::Var(a, pa), _), (Tok::Comma, _), (Tok::Var(b, pb), _), (Tok::Declare, _), tail @ ..]
            if pa.is_empty() && pb.is_empty() =>
        {
            p.decl = vec![a.clone(), b.clone()];
            rest = tail;
        }
        _ => {}
    }
    if rest.is_empty() {
        return Err(err(line, format!("missing value for {ctx}")));
    }
    let mut i = 0;
    loop {
        let cmd = command(rest, &mut i, line)?;
        p.cmds.push(cmd);
        match rest.get(i) {
            None => break,
            Some((Tok::Pipe, _)) => i += 1,
            Some((t, _)) => return Err(err(line, format!("unexpected {t:?} in operand"))),
        }
    }
    Ok(p)
}

fn command(toks: &[Spanned], i: &mut usize, line: usize) -> Result<Cmd, String> {
    let mut args = Vec::new();
    while let Some((tok, _)) = toks.get(*i) {
        let op = match tok {
            Tok::Pipe | Tok::RParen => break,
            Tok::Field(p) => Operand::Dot(p.clone()),
            Tok::Var(n, p) => Operand::Var(n.clone(), p.clone()),
            Tok::Lit(v) => Operand::Lit(v.clone()),
            Tok::Ident(name) => match name.as_str() {
                "true" => Operand::Lit(Value::Bool(true)),
                "false" => Operand::Lit(Value::Bool(false)),
                "nil" => Operand::Lit(Value::Null),
                f if FUNCS.contains(&f) => Operand::Func(f.to_string()),
                f => return Err(err(line, format!("function {f:?} not defined"))),
            },
            Tok::LParen => {
                // Find the matching parenthesis.
                let mut depth = 0;
                let mut j = *i;
                loop {
                    match toks.get(j) {
                        None => return Err(err(line, "unclosed left paren")),
                        Some((Tok::LParen, _)) => depth += 1,
                        Some((Tok::RParen, _)) => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                let inner = pipeline(&toks[*i + 1..j], line, "command")?;
                *i = j;
                let path = match toks.get(j + 1) {
                    Some((Tok::Field(p), false)) => {
                        *i = j + 1;
                        p.clone()
                    }
                    _ => Vec::new(),
                };
                Operand::Sub(inner, path)
            }
            Tok::Comma | Tok::Declare => {
                return Err(err(line, format!("unexpected {tok:?} in command")))
            }
        };
        args.push(op);
        *i += 1;
    }
    if args.is_empty() {
        return Err(err(line, "missing value for command"));
    }
    Ok(Cmd { args })
}
