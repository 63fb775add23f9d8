//! LogQL: text → AST. Pure: no I/O, no storage, no async, no clock.
//!
//! Entry points: [`parse_expr`] for queries, [`parse_selector`] for `match[]` / `query=` params.

pub mod ast;

pub use ast::*;
