//! Go's `text/template`, the subset Loki's `line_format` and `label_format` run: parse a
//! template once ([`Template::parse`]), execute it per entry ([`Template::execute`] with an
//! [`Env`]: the entry's labels as [`Data`], its line and time), and list the fields it reads
//! ([`Template::fields`], for the parsers' label hints). Everything else is private:
//! `parse.rs` (the tree and its parser), `lex.rs` (tokens, Go literals), `exec.rs` (the
//! evaluator and Go's value rules), `funcs.rs` (Loki's and sprig's functions), `printf.rs`
//! (Go's `fmt` verbs), `util.rs` (their helpers); Go's `time.Time` layouts are `gocompat::time`.

mod exec;
mod funcs;
mod lex;
mod parse;
mod printf;
mod util;

pub use exec::{Data, Env, PairsData};
pub use parse::Template;

use parse::{Kind, Node, Pipe};

impl Template {
    /// Field names the template reads, as Loki's `listNodeFields` walks the tree: every name
    /// of a field chain (`.a.b` gives `a` and `b`) in actions, commands, parenthesised
    /// pipelines and `if`/`with`/`range` branches; not those after a variable (`$x.a`) or a
    /// parenthesised pipeline (`(…).a`).
    pub fn fields(&self, out: &mut Vec<String>) {
        fn nodes(list: &[Node], out: &mut Vec<String>) {
            for n in list {
                match n {
                    Node::Action(p) => pipe(p, out),
                    Node::If(p, then, other) | Node::With(p, then, other) | Node::Range(p, then, other) => {
                        pipe(p, out);
                        nodes(then, out);
                        nodes(other, out);
                    }
                    Node::Text(_) | Node::Break | Node::Continue => {}
                }
            }
        }
        fn pipe(p: &Pipe, out: &mut Vec<String>) {
            for arg in p.cmds.iter().flat_map(|c| &c.args) {
                match &arg.kind {
                    Kind::Field(names) => out.extend(names.iter().cloned()),
                    Kind::Sub(p, chain) if chain.is_empty() => pipe(p, out),
                    _ => {}
                }
            }
        }
        nodes(&self.root, out);
    }
}
