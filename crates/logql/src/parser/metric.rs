//! LogQL parser, metric grammar: binary operators with Loki's precedence and modifiers,
//! literals, range and vector aggregations, `label_replace`, `vector`.

use super::{unexpected, Node, Parser};
use crate::ast::*;
use crate::error::ParseError;
use crate::lexer::{Tok, Token};
use crate::ops::{binop_of, literal, make_binop, range_op_of, vector_op_of};

impl Parser<'_> {
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
