//! LogQL parser, part 1: parser state, syntax errors in goyacc's verbose style, and the metric
//! grammar (binary operators with Loki's precedence, literals, range/vector aggregations,
//! `label_replace`, `vector`). Selectors and pipelines are in `parser_log.rs`, log ranges in
//! `parser_range.rs`, operator construction in `ops.rs`, semantic validation in `validate.rs`.
//!
//! Syntax errors mimic goyacc: `syntax error: unexpected X[, expecting A or B]`, where the
//! expected tokens are the shiftable tokens of the LALR state in which Loki's generated parser
//! detects the error, listed only when there are at most four. Each call site below passes the
//! set of that state (an empty set means "more than four").

use super::ast::*;
use super::error::ParseError;
use super::lexer::{Lexer, Tok, Token};
use super::ops::{binop_of, literal, make_binop, range_op_of, vector_op_of};

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

    pub(crate) fn parse_expr(&mut self, min_prec: u8) -> Result<Node, ParseError> {
        self.enter()?;
        let lhs = self.parse_operand()?;
        let e = self.parse_binops(lhs, min_prec)?;
        self.depth -= 1;
        Ok(e)
    }

    /// Precedence climbing over Loki's `%left OR / AND UNLESS / cmp / + - / * / % / %right ^`.
    pub(crate) fn parse_binops(&mut self, mut lhs: Node, min_prec: u8) -> Result<Node, ParseError> {
        let mut chain = 0;
        loop {
            chain += 1;
            self.nest(chain)?;
            let Some((op, prec)) = binop_of(self.peek()?) else {
                return Ok(lhs);
            };
            if prec < min_prec {
                return Ok(lhs);
            }
            self.bump()?;
            let modifier = self.parse_bin_modifier()?;
            let next_min = if op == BinOp::Pow { prec } else { prec + 1 };
            let rhs = self.parse_expr(next_min)?;
            lhs = make_binop(op, modifier, lhs, rhs);
        }
    }

    #[inline(never)]
    fn parse_bin_modifier(&mut self) -> Result<BinOpModifier, ParseError> {
        let mut m = BinOpModifier::default();
        if self.peek()? == Tok::Bool {
            self.bump()?;
            m.return_bool = true;
        }
        let on = match self.peek()? {
            Tok::On => true,
            Tok::Ignoring => false,
            _ => return Ok(m),
        };
        self.bump()?;
        self.expect(Tok::OpenParen, &[Tok::OpenParen])?;
        m.matching = Some(VectorMatching { on, labels: self.parse_label_list()? });
        let left = match self.peek()? {
            Tok::GroupLeft => true,
            Tok::GroupRight => false,
            _ => return Ok(m),
        };
        self.bump()?;
        let mut labels = Vec::new();
        if self.peek()? == Tok::OpenParen {
            self.bump()?;
            labels = self.parse_label_list()?;
        }
        m.group = Some(GroupModifier { left, labels });
        Ok(m)
    }

    /// After `(`: `)` | IDENTIFIER (`,` IDENTIFIER)* `)`.
    pub(crate) fn parse_label_list(&mut self) -> Result<Vec<String>, ParseError> {
        let mut labels = Vec::new();
        let t = self.bump()?;
        match t.tok {
            Tok::CloseParen => return Ok(labels),
            Tok::Identifier => labels.push(t.text),
            _ => return Err(unexpected(&t, &[Tok::Identifier, Tok::CloseParen])),
        }
        loop {
            let t = self.bump()?;
            match t.tok {
                Tok::CloseParen => return Ok(labels),
                Tok::Comma => labels.push(self.expect(Tok::Identifier, &[Tok::Identifier])?.text),
                _ => return Err(unexpected(&t, &[Tok::Comma, Tok::CloseParen])),
            }
        }
    }

    /// `by (…)` / `without (…)`; the lookahead is BY or WITHOUT.
    pub(crate) fn parse_grouping(&mut self) -> Result<Grouping, ParseError> {
        let by = self.bump()?.tok == Tok::By;
        self.expect(Tok::OpenParen, &[Tok::OpenParen])?;
        let labels = self.parse_label_list()?;
        Ok(if by { Grouping::By(labels) } else { Grouping::Without(labels) })
    }

    fn parse_operand(&mut self) -> Result<Node, ParseError> {
        let t = self.bump()?;
        match t.tok {
            Tok::Number => Ok(literal(&t.text, false)),
            Tok::Add | Tok::Sub => {
                let n = self.expect(Tok::Number, &[Tok::Number])?;
                Ok(literal(&n.text, t.tok == Tok::Sub))
            }
            Tok::OpenBrace => {
                let matchers = self.parse_selector_body()?;
                let (stages, _) = self.parse_pipeline(false)?;
                Ok(Node::Log(LogExpr { matchers, stages }))
            }
            Tok::OpenParen => {
                let inner = self.parse_expr(0)?;
                self.expect(Tok::CloseParen, &[])?;
                Ok(inner)
            }
            Tok::LabelReplace => self.parse_label_replace(),
            Tok::Vector => {
                self.expect(Tok::OpenParen, &[Tok::OpenParen])?;
                let n = self.expect(Tok::Number, &[Tok::Number])?;
                self.expect(Tok::CloseParen, &[Tok::CloseParen])?;
                Ok(Node::VectorLit(n.text))
            }
            tok => {
                if let Some(op) = range_op_of(tok) {
                    self.parse_range_agg(op)
                } else if let Some(op) = vector_op_of(tok) {
                    self.parse_vector_agg(op)
                } else {
                    Err(unexpected(&t, &[]))
                }
            }
        }
    }

    /// An `expr` where the grammar requires a `metricExpr`: a log expression there is a syntax
    /// error on the following token (goyacc only reduces it to `expr` for a binary operator).
    fn parse_metric(&mut self, first_number: Option<Token>) -> Result<Node, ParseError> {
        let e = match first_number {
            Some(n) => self.parse_binops(literal(&n.text, false), 0)?,
            None => self.parse_expr(0)?,
        };
        if matches!(e, Node::Log(_)) {
            return self.fail(&[]);
        }
        Ok(e)
    }

    #[inline(never)]
    fn parse_vector_agg(&mut self, op: VectorOp) -> Result<Node, ParseError> {
        let mut grouping = None;
        if matches!(self.peek()?, Tok::By | Tok::Without) {
            grouping = Some(self.parse_grouping()?);
            self.expect(Tok::OpenParen, &[Tok::OpenParen])?;
        } else {
            self.expect(Tok::OpenParen, &[Tok::OpenParen, Tok::By, Tok::Without])?;
        }
        let (param, expr) = if self.peek()? == Tok::Number {
            let n = self.bump()?;
            if self.peek()? == Tok::Comma {
                self.bump()?;
                (Some(n.text), self.parse_metric(None)?)
            } else {
                (None, self.parse_metric(Some(n))?)
            }
        } else {
            (None, self.parse_metric(None)?)
        };
        self.expect(Tok::CloseParen, &[])?;
        if grouping.is_none() && matches!(self.peek()?, Tok::By | Tok::Without) {
            grouping = Some(self.parse_grouping()?);
        }
        Ok(Node::Vector { op, param, expr: Box::new(expr), grouping })
    }

    #[inline(never)]
    fn parse_range_agg(&mut self, op: RangeOp) -> Result<Node, ParseError> {
        self.expect(Tok::OpenParen, &[Tok::OpenParen])?;
        let mut param = None;
        let first = if self.peek()? == Tok::Number {
            param = Some(self.bump()?.text);
            self.expect(Tok::Comma, &[Tok::Comma])?;
            self.bump()?
        } else {
            self.bump()?
        };
        let expected: &[Tok] = if param.is_some() {
            &[Tok::OpenBrace, Tok::OpenParen]
        } else {
            &[Tok::Number, Tok::OpenBrace, Tok::OpenParen]
        };
        let range = self.parse_log_range(first, expected)?;
        self.expect(Tok::CloseParen, &[Tok::CloseParen])?;
        let grouping = if matches!(self.peek()?, Tok::By | Tok::Without) { Some(self.parse_grouping()?) } else { None };
        Ok(Node::Range { op, param, range, grouping })
    }

    #[inline(never)]
    fn parse_label_replace(&mut self) -> Result<Node, ParseError> {
        self.expect(Tok::OpenParen, &[Tok::OpenParen])?;
        let expr = self.parse_metric(None)?;
        self.expect(Tok::Comma, &[])?;
        let string = |p: &mut Self, comma: bool| -> Result<String, ParseError> {
            if comma {
                p.expect(Tok::Comma, &[Tok::Comma])?;
            }
            Ok(p.expect(Tok::Str, &[Tok::Str])?.text)
        };
        let dst = string(self, false)?;
        let replacement = string(self, true)?;
        let src = string(self, true)?;
        let regex = string(self, true)?;
        self.expect(Tok::CloseParen, &[Tok::CloseParen])?;
        Ok(Node::LabelReplace { expr: Box::new(expr), dst, replacement, src, regex })
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
