//! LogQL parser: Loki's grammar by recursive descent, split by grammar area. This file holds
//! the parser state, the parse-time tree ([`Node`]) and syntax errors in goyacc's verbose
//! style; `metric.rs` the metric grammar (binary operators with Loki's precedence, literals,
//! range/vector aggregations, `label_replace`, `vector`), `log.rs` stream selectors and
//! pipelines, `range.rs` log ranges. Operator construction is in `logql/ops.rs`, semantic
//! validation in `logql/validate.rs`.
//!
//! Syntax errors mimic goyacc: `syntax error: unexpected X[, expecting A or B]`, where the
//! expected tokens are the shiftable tokens of the LALR state in which Loki's generated parser
//! detects the error, listed only when there are at most four. Each call site below passes the
//! set of that state (an empty set means "more than four").

mod log;
mod metric;
mod range;

use crate::ast::*;
use crate::error::ParseError;
use crate::lexer::{Lexer, Tok, Token};

/// Parse-time expression tree: like [`Expr`] but keeps what Loki validates *after* parsing
/// (log queries as binop legs, parameters as text, literal parse errors).
#[derive(Clone, Debug)]
pub(crate) enum Node {
    Log(LogExpr),
    Range {
        op: RangeOp,
        param: Option<String>,
        range: LogRange,
        grouping: Option<Grouping>,
    },
    Vector {
        op: VectorOp,
        param: Option<String>,
        expr: Box<Node>,
        grouping: Option<Grouping>,
    },
    BinOp {
        op: BinOp,
        modifier: BinOpModifier,
        lhs: Box<Node>,
        rhs: Box<Node>,
    },
    Literal {
        value: f64,
        err: Option<String>,
    },
    VectorLit(String),
    LabelReplace {
        expr: Box<Node>,
        dst: String,
        replacement: String,
        src: String,
        regex: String,
    },
    /// A binary operation Loki constructed with an error (reported during validation).
    Invalid(String),
}

pub(crate) struct Parser<'a> {
    lex: Lexer<'a>,
    la: Option<Token>,
    /// Skip the checks Loki performs while parsing (regexes, patterns, label filter literals).
    pub(crate) no_checks: bool,
    /// Current nesting (recursion plus operator chains); bounded by [`MAX_DEPTH`].
    pub(crate) depth: usize,
}

/// Maximum nesting of expressions / label filters. Loki's goyacc parser has no such limit, but a
/// recursive parser (and every recursive consumer of the AST) must not overflow the stack.
pub(crate) const MAX_DEPTH: usize = 128;

/// Build the goyacc-style syntax error for `tok`.
pub(crate) fn unexpected(tok: &Token, expected: &[Tok]) -> ParseError {
    let mut msg = format!("syntax error: unexpected {}", tok.tok.name());
    if !expected.is_empty() && expected.len() <= 4 {
        let mut exp = expected.to_vec();
        exp.sort();
        let names: Vec<&str> = exp.iter().map(|t| t.name()).collect();
        msg.push_str(", expecting ");
        msg.push_str(&names.join(" or "));
    }
    ParseError::at(msg, tok.line, tok.col)
}

impl<'a> Parser<'a> {
    pub(crate) fn new(input: &'a str) -> Self {
        Parser { lex: Lexer::new(input), la: None, no_checks: false, depth: 0 }
    }

    pub(crate) fn peek(&mut self) -> Result<Tok, ParseError> {
        if self.la.is_none() {
            self.la = Some(self.lex.next_token()?);
        }
        Ok(self.la.as_ref().map_or(Tok::End, |t| t.tok))
    }

    pub(crate) fn bump(&mut self) -> Result<Token, ParseError> {
        match self.la.take() {
            Some(t) => Ok(t),
            None => self.lex.next_token(),
        }
    }

    /// Consume a token of kind `want`; otherwise a syntax error listing `expected`.
    pub(crate) fn expect(&mut self, want: Tok, expected: &[Tok]) -> Result<Token, ParseError> {
        let t = self.bump()?;
        if t.tok == want {
            Ok(t)
        } else {
            Err(unexpected(&t, expected))
        }
    }

    /// Error on the lookahead token.
    pub(crate) fn fail<T>(&mut self, expected: &[Tok]) -> Result<T, ParseError> {
        let t = self.bump()?;
        Err(unexpected(&t, expected))
    }

    /// Account for one more level of nesting (`extra` levels of operator chains included).
    pub(crate) fn nest(&mut self, extra: usize) -> Result<(), ParseError> {
        if self.depth + extra > MAX_DEPTH {
            return Err(ParseError::new(format!("expression nests too deeply (more than {MAX_DEPTH} levels)")));
        }
        Ok(())
    }

    /// Enter one nesting level (the parse is abandoned on error, so no unwinding is needed).
    pub(crate) fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        self.nest(0)
    }

    /// `root: expr $end`.
    pub(crate) fn parse_root(&mut self) -> Result<Node, ParseError> {
        let e = self.parse_expr(0)?;
        if self.peek()? != Tok::End {
            return self.fail(&[]);
        }
        Ok(e)
    }
}

/// Loki's `maxInputSize`: inputs of this many bytes or more are rejected.
pub(crate) const MAX_INPUT_SIZE: usize = 131_072;

/// Parse `input` into the parse tree; `checks: false` skips every semantic check (syntax only).
pub(crate) fn parse_node(input: &str, checks: bool) -> Result<Node, ParseError> {
    if input.len() >= MAX_INPUT_SIZE {
        return Err(ParseError::new(format!("input size too long ({} > {MAX_INPUT_SIZE})", input.len())));
    }
    let mut p = Parser::new(input);
    p.no_checks = !checks;
    p.parse_root()
}

/// Syntax-only parse (no semantic checks at all): used to compare against Loki's grammar.
#[allow(dead_code)]
pub(crate) fn parse_syntax_only(input: &str) -> Result<(), ParseError> {
    parse_node(input, false).map(|_| ())
}
