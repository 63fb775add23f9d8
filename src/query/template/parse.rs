//! A Go `text/template` subset for `line_format` / `label_format`: parsing. Actions with pipes,
//! fields, variables, literals, parenthesised pipelines, function calls, `if`/`else if`/`else`,
//! `with`, `range`, `break`/`continue`, comments and `{{-`/`-}}` trimming. Unknown functions fail at
//! parse time with Go's text (`template: line:1: function "x" not defined`).
//! Execution lives in `exec.rs`, functions in `funcs.rs`.

use super::funcs::{lookup_func, Func};
use super::lex::{go_quote_s, parse_number};

#[derive(Debug, Clone)]
pub enum Node {
    Text(String),
    Action(Pipe),
    If(Pipe, Vec<Node>, Vec<Node>),
    With(Pipe, Vec<Node>, Vec<Node>),
    Range(Pipe, Vec<Node>, Vec<Node>),
    Break,
    Continue,
}

#[derive(Debug, Clone)]
pub struct Pipe {
    pub decl: Vec<String>,
    pub assign: bool,
    pub cmds: Vec<Cmd>,
}

#[derive(Debug, Clone)]
pub struct Cmd {
    pub args: Vec<Operand>,
}

/// One operand with its byte offset and source text (for Go-style error context).
#[derive(Debug, Clone)]
pub struct Operand {
    pub kind: Kind,
    pub pos: usize,
    pub text: String,
}

#[derive(Debug, Clone)]
pub enum Kind {
    /// `.a.b`
    Field(Vec<String>),
    /// `.`
    Dot,
    /// `$x.a` (name without `$`, `""` for `$`)
    Var(String, Vec<String>),
    /// `(pipeline).a.b` (fields may be empty)
    Sub(Box<Pipe>, Vec<String>),
    Str(String),
    /// Number constant: integer value if it is one, float value otherwise.
    Num {
        int: Option<i64>,
        float: f64,
        is_float: bool,
    },
    Bool(bool),
    Nil,
    Func(Func),
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    pub name: &'static str,
    pub src: String,
    pub root: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Field(String),
    Dot,
    Var(String),
    Ident(String),
    Str(String),
    Num(String),
    Char(char),
    Pipe,
    LParen,
    RParen,
    Declare,
    Assign,
    Comma,
}

/// Tokens of one action with their start and end offsets.
pub(super) type Toks = Vec<(Tok, usize, usize)>;

/// The `end` / `else` action that closed a list: (keyword, offset, tokens).
type Stop = (String, usize, Toks);

/// (line, col) of a byte offset as Go's `ErrorContext` reports them.
pub fn line_col(src: &str, pos: usize) -> (usize, usize) {
    let before = &src[..pos.min(src.len())];
    let line = 1 + before.matches('\n').count();
    let col = before.rfind('\n').map_or(pos, |nl| pos - nl - 1);
    (line, col)
}

pub(super) struct Parser<'s> {
    pub(super) name: &'static str,
    pub(super) src: &'s str,
    /// Actions and text, flattened: (is_action, start, end, tokens).
    pub(super) items: Vec<Item>,
    at: usize,
    /// Current `{{if}}`/`{{range}}`/`{{with}}` nesting, bounded by [`MAX_NESTING`].
    depth: usize,
}

/// Deepest nesting of parentheses or blocks a template may use. Parsing and execution
/// recurse per level; real templates use a handful, and a hostile query must get an error,
/// not a stack overflow that takes the server down.
pub const MAX_NESTING: usize = 256;

#[derive(Debug)]
pub(super) enum Item {
    Text(String),
    Action { pos: usize, toks: Vec<(Tok, usize, usize)> },
}

impl<'s> Parser<'s> {
    pub(super) fn err(&self, pos: usize, msg: &str) -> String {
        let (line, _) = line_col(self.src, pos);
        format!("template: {}:{}: {}", self.name, line, msg)
    }

    fn parse_list(&mut self, stop: &[&str]) -> Result<(Vec<Node>, Option<Stop>), String> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(
                self.err(self.src.len(), &format!("template nests too deeply (more than {MAX_NESTING} levels)"))
            );
        }
        let res = self.parse_list_inner(stop);
        self.depth -= 1;
        res
    }

    fn parse_list_inner(&mut self, stop: &[&str]) -> Result<(Vec<Node>, Option<Stop>), String> {
        let mut nodes = Vec::new();
        while self.at < self.items.len() {
            let item = std::mem::replace(&mut self.items[self.at], Item::Text(String::new()));
            self.at += 1;
            match item {
                Item::Text(t) => nodes.push(Node::Text(t)),
                Item::Action { pos, toks } => {
                    let kw = match toks.first() {
                        Some((Tok::Ident(k), _, _)) => k.clone(),
                        _ => String::new(),
                    };
                    match kw.as_str() {
                        "end" | "else" => {
                            if stop.contains(&kw.as_str()) {
                                return Ok((nodes, Some((kw, pos, toks))));
                            }
                            return Err(self.err(pos, &format!("unexpected {{{{{kw}}}}}")));
                        }
                        "if" | "with" | "range" => nodes.push(self.parse_control(&kw, pos, &toks[1..])?),
                        "break" | "continue" if toks.len() == 1 => {
                            nodes.push(if kw == "break" { Node::Break } else { Node::Continue })
                        }
                        "define" | "template" | "block" => {
                            return Err(self.err(pos, &format!("{{{{{kw}}}}} is not supported by lokid")));
                        }
                        _ => nodes.push(Node::Action(self.parse_pipe(pos, &toks, true)?)),
                    }
                }
            }
        }
        if stop.is_empty() {
            Ok((nodes, None))
        } else {
            Err(self.err(self.src.len(), "unexpected EOF"))
        }
    }

    fn parse_control(&mut self, kw: &str, pos: usize, toks: &[(Tok, usize, usize)]) -> Result<Node, String> {
        let pipe = self.parse_pipe(pos, toks, kw == "range")?;
        let (list, end) = self.parse_list(&["end", "else"])?;
        let (_, epos, etoks) = end.expect("stop token");
        let else_list = if matches!(etoks.first(), Some((Tok::Ident(k), _, _)) if k == "else") {
            match etoks.get(1) {
                // `else if …` / `else with …`: a nested control whose `end` closes both.
                Some((Tok::Ident(k2), _, _)) if (k2 == "if" && kw == "if") || (k2 == "with" && kw == "with") => {
                    vec![self.parse_control(&k2.clone(), epos, &etoks[2..])?]
                }
                None => {
                    let (l, end) = self.parse_list(&["end"])?;
                    let (_, p, t) = end.expect("stop token");
                    if t.len() != 1 {
                        return Err(self.err(p, "unexpected tokens after end"));
                    }
                    l
                }
                Some(_) => return Err(self.err(epos, "unexpected tokens after else")),
            }
        } else {
            Vec::new()
        };
        Ok(match kw {
            "if" => Node::If(pipe, list, else_list),
            "with" => Node::With(pipe, list, else_list),
            _ => Node::Range(pipe, list, else_list),
        })
    }

    fn parse_pipe(&self, pos: usize, toks: &[(Tok, usize, usize)], allow_decl: bool) -> Result<Pipe, String> {
        let mut decl = Vec::new();
        let mut assign = false;
        let mut t = toks;
        // `$x :=` / `$x =` / `$i, $e :=`
        let decl_end = t.iter().position(|(k, _, _)| matches!(k, Tok::Declare | Tok::Assign));
        if let Some(d) = decl_end {
            let vars: Vec<&Tok> = t[..d].iter().map(|(k, _, _)| k).filter(|k| **k != Tok::Comma).collect();
            if !vars.is_empty() && vars.iter().all(|k| matches!(k, Tok::Var(_))) && (vars.len() == 1 || allow_decl) {
                decl = vars.iter().map(|k| if let Tok::Var(n) = k { n.clone() } else { unreachable!() }).collect();
                assign = matches!(t[d].0, Tok::Assign);
                t = &t[d + 1..];
            }
        }
        let mut cmds = Vec::new();
        let mut i = 0;
        loop {
            let (cmd, next) = self.parse_cmd(pos, t, i)?;
            cmds.push(cmd);
            i = next;
            match t.get(i) {
                None => break,
                Some((Tok::Pipe, _, _)) => i += 1,
                Some((_, p, _)) => return Err(self.err(*p, "unexpected token in pipeline")),
            }
        }
        Ok(Pipe { decl, assign, cmds })
    }

    fn parse_cmd(&self, pos: usize, t: &[(Tok, usize, usize)], mut i: usize) -> Result<(Cmd, usize), String> {
        let mut args = Vec::new();
        while i < t.len() {
            match &t[i].0 {
                Tok::Pipe | Tok::RParen => break,
                _ => {
                    let (op, next) = self.parse_operand(t, i)?;
                    args.push(op);
                    i = next;
                }
            }
        }
        if args.is_empty() {
            return Err(self.err(t.get(i).map_or(pos, |x| x.1), "missing value for command"));
        }
        Ok((Cmd { args }, i))
    }

    fn parse_operand(&self, t: &[(Tok, usize, usize)], i: usize) -> Result<(Operand, usize), String> {
        let (tok, p, _) = &t[i];
        let p = *p;
        let mut next = i + 1;
        let kind = match tok {
            Tok::Field(f) => Kind::Field(vec![f.clone()]),
            Tok::Dot => Kind::Dot,
            Tok::Var(v) => Kind::Var(v.clone(), Vec::new()),
            Tok::Str(s) => Kind::Str(s.clone()),
            Tok::Char(c) => Kind::Num { int: Some(*c as i64), float: *c as u32 as f64, is_float: false },
            Tok::Num(n) => {
                parse_number(n).ok_or_else(|| self.err(p, &format!("bad number syntax: {}", go_quote_s(n))))?
            }
            Tok::Ident(id) => match id.as_str() {
                "true" => Kind::Bool(true),
                "false" => Kind::Bool(false),
                "nil" => Kind::Nil,
                _ => Kind::Func(
                    lookup_func(id).ok_or_else(|| self.err(p, &format!("function {} not defined", go_quote_s(id))))?,
                ),
            },
            Tok::LParen => {
                let mut depth = 0;
                let mut j = i;
                while j < t.len() {
                    match t[j].0 {
                        Tok::LParen => depth += 1,
                        Tok::RParen => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                if j >= t.len() {
                    return Err(self.err(p, "unclosed left paren"));
                }
                next = j + 1;
                Kind::Sub(Box::new(self.parse_pipe(p, &t[i + 1..j], false)?), Vec::new())
            }
            Tok::RParen => return Err(self.err(p, "unexpected right paren")),
            other => return Err(self.err(p, &format!("unexpected {other:?} in operand"))),
        };
        let mut kind = kind;
        // Field chains: `.a.b`, `$x.a`, `(…).a`.
        while let Some((Tok::Field(f), fp, _)) = t.get(next) {
            if *fp != t[next - 1].2 {
                break;
            }
            match &mut kind {
                Kind::Field(v) | Kind::Var(_, v) | Kind::Sub(_, v) => v.push(f.clone()),
                _ => return Err(self.err(*fp, &format!("unexpected .{f} after term"))),
            }
            next += 1;
        }
        let text = self.src[p..t[next - 1].2].to_string();
        Ok((Operand { kind, pos: p, text }, next))
    }
}

impl Template {
    /// Parses `src`; `name` is `"line"` or `"label"` (it appears in error messages).
    pub fn parse(name: &'static str, src: &str) -> Result<Template, String> {
        let mut p = Parser { name, src, items: Vec::new(), at: 0, depth: 0 };
        p.lex()?;
        // Parenthesised sub-pipelines recurse once per level: refuse deep ones up front.
        for item in &p.items {
            if let Item::Action { toks, .. } = item {
                let mut depth = 0usize;
                for (tok, pos, _) in toks {
                    match tok {
                        Tok::LParen => {
                            depth += 1;
                            if depth > MAX_NESTING {
                                return Err(p.err(
                                    *pos,
                                    &format!("expression nests too deeply (more than {MAX_NESTING} levels)"),
                                ));
                            }
                        }
                        Tok::RParen => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                }
            }
        }
        let (root, _) = p.parse_list(&[])?;
        Ok(Template { name, src: src.to_string(), root })
    }

    /// `Some(key)` when the template is exactly one `{{.key}}` action (Loki's fast path).
    pub fn simple_key(&self) -> Option<&str> {
        match self.root.as_slice() {
            [Node::Action(p)] if p.decl.is_empty() && p.cmds.len() == 1 && p.cmds[0].args.len() == 1 => {
                match &p.cmds[0].args[0].kind {
                    Kind::Field(f) if f.len() == 1 => Some(&f[0]),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_follow_go() {
        assert_eq!(Template::parse("line", "{{ x .a }}").unwrap_err(), r#"template: line:1: function "x" not defined"#);
        assert_eq!(
            Template::parse("line", "a\n{{ .a | nope }}").unwrap_err(),
            r#"template: line:2: function "nope" not defined"#
        );
        assert!(Template::parse("line", "{{ .a ").is_err());
        assert!(Template::parse("line", "{{ if .a }}x").is_err());
        assert!(Template::parse("line", "{{ end }}").is_err());
    }

    #[test]
    fn simple_keys() {
        assert_eq!(Template::parse("line", "{{.message}}").unwrap().simple_key(), Some("message"));
        assert_eq!(Template::parse("line", "{{ .message }}").unwrap().simple_key(), Some("message"));
        assert_eq!(Template::parse("line", "{{.message}}  ").unwrap().simple_key(), None);
        assert_eq!(Template::parse("line", "{{.a.b}}").unwrap().simple_key(), None);
    }
}
