//! LogQL: text → AST. Pure: no I/O, no storage, no async, no clock.
//!
//! Entry points: [`parse_expr`] for queries, [`parse_selector`] for `match[]` / `query=` params.
//! Errors ([`ParseError`]) render exactly like Loki's (`parse error at line 1, col 14: …`).
//! Go's conversions, quoting and regex syntax come from [`gocompat`], the one
//! re-implementation of Go behaviour, shared with the query engine.

pub mod ast;
mod error;
mod lexer;
mod ops;
pub(crate) mod parser;
pub mod pattern;
mod print;
#[cfg(test)]
mod tests;
mod validate;

pub use ast::*;
pub use error::ParseError;
pub use ops::{binop_str, range_op_name, vector_op_name};

use parser::{parse_node, Node};

/// Parse a full LogQL query (log or metric) with all of Loki's validations.
pub fn parse_expr(input: &str) -> Result<Expr, ParseError> {
    let node = parse_node(input, true)?;
    validate::validate(&node)?;
    validate::check_stages(&node)?;
    Ok(validate::to_expr(node))
}

/// Parse a bare stream selector (`/labels?query=`, `/series?match[]=`, …), like Loki's
/// `ParseMatchers(input, validate)`: with `require_non_empty` the query is fully validated (so
/// `{}` or only empty-compatible matchers are rejected); without it `{}` yields an empty list.
/// Anything that parses but is not a bare selector gives `only label matchers are supported`.
pub fn parse_selector(input: &str, require_non_empty: bool) -> Result<Vec<Matcher>, ParseError> {
    let node = parse_node(input, true)?;
    if require_non_empty {
        validate::validate(&node)?;
    }
    match node {
        Node::Log(l) if l.stages.is_empty() => Ok(l.matchers),
        _ => Err(ParseError::not_matchers()),
    }
}
