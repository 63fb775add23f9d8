//! Execution of parsed Go templates: values with Go's types and printing rules, pipelines,
//! control structures, variables, and Go-style execution errors
//! (`template: line:1:2: executing "line" at <.foo>: …`).

use std::borrow::Cow;
use std::rc::Rc;

use super::funcs::{call, Func};
use super::parse::{line_col, Cmd, Kind, Node, Operand, Pipe, Template};
use crate::gocompat::time::GoTime;
use crate::query::pipeline::conv::format_float;

/// The label map a template reads (`map[string]string`, missing keys read as `""`).
pub trait Data {
    fn get(&self, name: &str) -> Option<&str>;
    /// All pairs, sorted by name.
    fn pairs(&self) -> Vec<(String, String)>;
}

/// What one execution sees.
pub struct Env<'a> {
    pub data: &'a dyn Data,
    pub line: &'a str,
    pub ts: i64,
}

/// A template value, typed like the Go value it stands for.
#[derive(Clone, Debug)]
pub enum Value<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
    Time(GoTime),
    /// A nil interface (prints `<no value>`).
    Nil,
    /// The label map (the template's data).
    Labels,
    /// `map[string]interface {}` (from `fromJson`), sorted by key.
    Map(Rc<Vec<(String, Value<'static>)>>),
    List(Rc<Vec<Value<'static>>>),
}

impl Value<'_> {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Bool(_) => "bool",
            Value::Time(_) => "time.Time",
            Value::Nil => "<nil>",
            Value::Labels => "map[string]string",
            Value::Map(_) => "map[string]interface {}",
            Value::List(_) => "[]interface {}",
        }
    }

    /// Go's `fmt.Fprint` of the value (`nested` = inside a map or slice).
    pub fn write(&self, env: &Env, out: &mut String, nested: bool) {
        match self {
            Value::Str(s) => out.push_str(s),
            Value::Int(i) => out.push_str(&i.to_string()),
            Value::Float(f) => out.push_str(&format_float(*f)),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Time(t) => out.push_str(&t.go_string()),
            Value::Nil => out.push_str(if nested { "<nil>" } else { "<no value>" }),
            Value::Labels => {
                out.push_str("map[");
                for (i, (k, v)) in env.data.pairs().iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(k);
                    out.push(':');
                    out.push_str(v);
                }
                out.push(']');
            }
            Value::Map(m) => {
                out.push_str("map[");
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(k);
                    out.push(':');
                    v.write(env, out, true);
                }
                out.push(']');
            }
            Value::List(l) => {
                out.push('[');
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    v.write(env, out, true);
                }
                out.push(']');
            }
        }
    }

    pub fn to_text(&self, env: &Env) -> String {
        let mut s = String::new();
        self.write(env, &mut s, false);
        s
    }

    /// Go template truth.
    pub fn truth(&self, env: &Env) -> bool {
        match self {
            Value::Str(s) => !s.is_empty(),
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Bool(b) => *b,
            Value::Time(_) => true,
            Value::Nil => false,
            Value::Labels => !env.data.pairs().is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::List(l) => !l.is_empty(),
        }
    }
}

enum Flow {
    Normal,
    Break,
    Continue,
}

/// An execution error before Go's context prefix is added.
pub struct ExecErr {
    pub pos: usize,
    pub node: String,
    pub msg: String,
}

type R<T> = Result<T, ExecErr>;

struct State<'a, 't> {
    env: &'t Env<'a>,
    vars: Vec<(String, Value<'a>)>,
}

fn err<T>(op: &Operand, msg: String) -> R<T> {
    Err(ExecErr { pos: op.pos, node: op.text.clone(), msg })
}

impl Template {
    /// Renders into `out`; on error returns Go's message (`template: line:1:2: executing …`).
    pub fn execute(&self, env: &Env, out: &mut String) -> Result<(), String> {
        let mut st = State { env, vars: vec![(String::new(), Value::Labels)] };
        match st.list(&self.root, &Value::Labels, out) {
            Ok(_) => Ok(()),
            Err(e) => {
                let (line, col) = line_col(&self.src, e.pos);
                Err(format!("template: {n}:{line}:{col}: executing \"{n}\" at <{}>: {}", e.node, e.msg, n = self.name))
            }
        }
    }
}

impl<'a> State<'a, '_> {
    fn list(&mut self, nodes: &[Node], dot: &Value<'a>, out: &mut String) -> R<Flow> {
        for n in nodes {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Action(p) => {
                    let v = self.pipe(p, dot)?;
                    if p.decl.is_empty() {
                        v.write(self.env, out, false);
                    }
                }
                Node::If(p, then, els) | Node::With(p, then, els) => {
                    let mark = self.vars.len();
                    let v = self.pipe(p, dot)?;
                    let truth = v.truth(self.env);
                    let flow = if truth {
                        let d = if matches!(n, Node::With(..)) { v } else { dot.clone() };
                        self.list(then, &d, out)?
                    } else {
                        self.list(els, dot, out)?
                    };
                    self.vars.truncate(mark);
                    if !matches!(flow, Flow::Normal) {
                        return Ok(flow);
                    }
                }
                Node::Range(p, body, els) => {
                    let flow = self.range(p, body, els, dot, out)?;
                    if !matches!(flow, Flow::Normal) {
                        return Ok(flow);
                    }
                }
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
            }
        }
        Ok(Flow::Normal)
    }

    fn range(&mut self, p: &Pipe, body: &[Node], els: &[Node], dot: &Value<'a>, out: &mut String) -> R<Flow> {
        let mark = self.vars.len();
        let plain = Pipe { decl: Vec::new(), assign: false, cmds: p.cmds.clone() };
        let v = self.pipe(&plain, dot)?;
        let items: Vec<(Value<'a>, Value<'a>)> = match &v {
            Value::Labels => self
                .env
                .data
                .pairs()
                .into_iter()
                .map(|(k, v)| (Value::Str(Cow::Owned(k)), Value::Str(Cow::Owned(v))))
                .collect(),
            Value::Map(m) => m.iter().map(|(k, v)| (Value::Str(Cow::Owned(k.clone())), v.clone())).collect(),
            Value::List(l) => l.iter().enumerate().map(|(i, v)| (Value::Int(i as i64), v.clone())).collect(),
            Value::Int(n) => (0..*n).map(|i| (Value::Int(i), Value::Int(i))).collect(),
            Value::Nil => Vec::new(),
            other => return err(&p.cmds[0].args[0], format!("range can't iterate over {}", other.to_text(self.env))),
        };
        if items.is_empty() {
            let f = self.list(els, dot, out)?;
            self.vars.truncate(mark);
            return Ok(f);
        }
        for (k, elem) in items {
            match p.decl.as_slice() {
                [e] => self.vars.push((e.clone(), elem.clone())),
                [kn, e] => {
                    self.vars.push((kn.clone(), k));
                    self.vars.push((e.clone(), elem.clone()));
                }
                _ => {}
            }
            let f = self.list(body, &elem, out)?;
            self.vars.truncate(mark);
            if matches!(f, Flow::Break) {
                break;
            }
        }
        Ok(Flow::Normal)
    }

    fn pipe(&mut self, p: &Pipe, dot: &Value<'a>) -> R<Value<'a>> {
        let mut val: Option<Value<'a>> = None;
        for c in &p.cmds {
            val = Some(self.cmd(c, dot, val)?);
        }
        let v = val.unwrap_or(Value::Nil);
        for name in &p.decl {
            if p.assign {
                if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                    slot.1 = v.clone();
                }
            } else {
                self.vars.push((name.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn cmd(&mut self, c: &Cmd, dot: &Value<'a>, fin: Option<Value<'a>>) -> R<Value<'a>> {
        let first = &c.args[0];
        let has_args = c.args.len() > 1 || fin.is_some();
        match &first.kind {
            Kind::Func(f) => self.call_func(*f, first, &c.args[1..], dot, fin),
            Kind::Field(fields) | Kind::Var(_, fields) | Kind::Sub(_, fields) if has_args && !fields.is_empty() => {
                err(first, format!("{} is not a method but has arguments", fields.last().expect("non-empty")))
            }
            _ if has_args => err(first, format!("can't give argument to non-function {}", first.text)),
            _ => self.operand(first, dot),
        }
    }

    fn call_func(
        &mut self,
        f: Func,
        node: &Operand,
        args: &[Operand],
        dot: &Value<'a>,
        fin: Option<Value<'a>>,
    ) -> R<Value<'a>> {
        let name = f.name();
        if matches!(f, Func::And | Func::Or) {
            let n = args.len() + usize::from(fin.is_some());
            if n < 1 {
                return err(node, format!("wrong number of args for {name}: want at least 1 got 0"));
            }
            let mut last = Value::Nil;
            for a in args {
                last = self.operand(a, dot)?;
                if last.truth(self.env) == matches!(f, Func::Or) {
                    return Ok(last);
                }
            }
            if let Some(v) = fin {
                last = v;
            }
            return Ok(last);
        }
        let mut vals = Vec::with_capacity(args.len() + 1);
        for a in args {
            vals.push(self.operand(a, dot)?);
        }
        if let Some(v) = fin {
            vals.push(v);
        }
        let (min, max) = f.arity();
        if vals.len() < min || max.is_some_and(|m| vals.len() > m) {
            let msg = match max {
                Some(m) if m == min => format!("wrong number of args for {name}: want {m} got {}", vals.len()),
                _ => format!("wrong number of args for {name}: want at least {min} got {}", vals.len()),
            };
            return err(node, msg);
        }
        call(f, vals, self.env).map_err(|m| ExecErr { pos: node.pos, node: node.text.clone(), msg: m })
    }

    fn operand(&mut self, op: &Operand, dot: &Value<'a>) -> R<Value<'a>> {
        match &op.kind {
            Kind::Dot => Ok(dot.clone()),
            Kind::Str(s) => Ok(Value::Str(Cow::Owned(s.clone()))),
            Kind::Num { int, float, is_float } => Ok(match (int, is_float) {
                (Some(i), false) => Value::Int(*i),
                _ => Value::Float(*float),
            }),
            Kind::Bool(b) => Ok(Value::Bool(*b)),
            Kind::Nil => err(op, "nil is not a command".into()),
            Kind::Func(f) => self.call_func(*f, op, &[], dot, None),
            Kind::Field(fields) => self.fields(op, dot.clone(), fields),
            Kind::Var(name, fields) => {
                let Some((_, v)) = self.vars.iter().rev().find(|(n, _)| n == name) else {
                    return err(op, format!("undefined variable: ${name}"));
                };
                let v = v.clone();
                self.fields(op, v, fields)
            }
            Kind::Sub(p, fields) => {
                let v = self.pipe(p, dot)?;
                self.fields(op, v, fields)
            }
        }
    }

    fn fields(&self, op: &Operand, mut v: Value<'a>, fields: &[String]) -> R<Value<'a>> {
        for f in fields {
            v = match v {
                Value::Labels => Value::Str(self.env.data.get(f).map_or(Cow::Borrowed(""), Cow::Borrowed)),
                Value::Map(m) => m.iter().find(|(k, _)| k == f).map_or(Value::Nil, |(_, x)| x.clone()),
                Value::Nil => return err(op, format!("nil pointer evaluating interface {{}}.{f}")),
                other => return err(op, format!("can't evaluate field {f} in type {}", other.type_name())),
            };
        }
        Ok(v)
    }
}

/// Adapts a sorted pair list (a `label_format` snapshot) to [`Data`].
pub struct PairsData<'p>(pub &'p [(String, String)]);

impl Data for PairsData<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.binary_search_by(|(n, _)| n.as_str().cmp(name)).ok().map(|i| self.0[i].1.as_str())
    }

    fn pairs(&self) -> Vec<(String, String)> {
        self.0.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(t: &str, pairs: &[(&str, &str)]) -> Result<String, String> {
        let mut p: Vec<(String, String)> = pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        p.sort();
        let data = PairsData(&p);
        let env = Env { data: &data, line: "the line", ts: 1_656_331_200_000_000_000 };
        let t = Template::parse("line", t)?;
        let mut out = String::new();
        t.execute(&env, &mut out)?;
        Ok(out)
    }

    #[test]
    fn control_flow_and_values() {
        let l = [("foo", "blip"), ("bar", "blop"), ("n", "5")];
        assert_eq!(render("foo{{.foo}}buzz{{  .bar  }}", &l).unwrap(), "fooblipbuzzblop");
        assert_eq!(render("{{.missing}}|{{ if .foo }}y{{ else }}n{{ end }}", &l).unwrap(), "|y");
        assert_eq!(render("{{ if eq .foo \"x\" }}a{{ else if eq .foo \"blip\" }}b{{ end }}", &l).unwrap(), "b");
        assert_eq!(
            render("{{ with .bar }}[{{ . }}]{{ end }}{{ with .zz }}x{{ else }}none{{ end }}", &l).unwrap(),
            "[blop]none"
        );
        assert_eq!(render("{{ $x := .foo }}{{ $x | upper }}", &l).unwrap(), "BLIP");
        assert_eq!(render("{{ range $k, $v := . }}{{ $k }}={{ $v }};{{ end }}", &l).unwrap(), "bar=blop;foo=blip;n=5;");
        assert_eq!(render("{{- \"a\" }}  \n {{- \"b\" -}}  c", &l).unwrap(), "abc");
        assert_eq!(render("{{/* note */}}x", &l).unwrap(), "x");
        assert_eq!(render("{{ and .foo .zz }}|{{ or .zz .bar }}|{{ not .zz }}", &l).unwrap(), "|blop|true");
        assert_eq!(render("{{ len .foo }} {{ 1.5 }} {{ 3 }} {{ true }}", &l).unwrap(), "4 1.5 3 true");
        assert_eq!(render("{{ __line__ }} {{ __timestamp__ }}", &l).unwrap(), "the line 2022-06-27 12:00:00 +0000 UTC");
        assert_eq!(render(r#"{{ (fromJson "{\"a\":{\"b\":1}}").a.b }}"#, &l).unwrap(), "1");
    }

    #[test]
    fn execution_errors_follow_go() {
        let l = [("foo", "blip")];
        assert_eq!(
            render(r#"{{.foo Replace "foo"}}"#, &l).unwrap_err(),
            r#"template: line:1:2: executing "line" at <.foo>: foo is not a method but has arguments"#
        );
        assert_eq!(
            render("{{.foo | now}}", &l).unwrap_err(),
            r#"template: line:1:9: executing "line" at <now>: wrong number of args for now: want 0 got 1"#
        );
        assert_eq!(
            render(r#"{{replace "test" .foo}}"#, &l).unwrap_err(),
            r#"template: line:1:2: executing "line" at <replace>: wrong number of args for replace: want 3 got 2"#
        );
    }
}
