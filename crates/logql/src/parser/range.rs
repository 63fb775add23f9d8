//! LogQL parser, range grammar: the log range inside range aggregations (selector, pipeline, `unwrap`,
//! `[range]`, `offset`, in all the orders and parenthesisations Loki's grammar accepts).

use super::{unexpected, Parser};
use crate::ast::*;
use crate::error::ParseError;
use crate::lexer::{Tok, Token};

const LABEL_FILTER_START: [Tok; 2] = [Tok::Identifier, Tok::OpenParen];

impl Parser<'_> {
    /// After `|` with `unwrap` as lookahead: `unwrap [conv(]label[)]` then `| labelFilter`*.
    #[inline(never)]
    pub(crate) fn parse_unwrap(&mut self) -> Result<Unwrap, ParseError> {
        self.bump()?;
        let t = self.bump()?;
        let conv = match t.tok {
            Tok::BytesConv => Some(UnwrapConv::Bytes),
            Tok::DurationConv => Some(UnwrapConv::Duration),
            Tok::DurationSecondsConv => Some(UnwrapConv::DurationSeconds),
            Tok::Identifier => None,
            _ => {
                let exp = [Tok::Identifier, Tok::BytesConv, Tok::DurationConv, Tok::DurationSecondsConv];
                return Err(unexpected(&t, &exp));
            }
        };
        let label = if conv.is_some() {
            self.expect(Tok::OpenParen, &[Tok::OpenParen])?;
            let l = self.expect(Tok::Identifier, &[Tok::Identifier])?.text;
            self.expect(Tok::CloseParen, &[Tok::CloseParen])?;
            l
        } else {
            t.text
        };
        let mut post_filters = Vec::new();
        while self.peek()? == Tok::Pipe {
            self.bump()?;
            let f = self.bump()?;
            if !LABEL_FILTER_START.contains(&f.tok) {
                return Err(unexpected(&f, &LABEL_FILTER_START));
            }
            post_filters.push(self.parse_label_filter(f, 0)?);
        }
        Ok(Unwrap { label, conv, post_filters })
    }

    fn parse_offset(&mut self) -> Result<i64, ParseError> {
        if self.peek()? != Tok::Offset {
            return Ok(0);
        }
        self.bump()?;
        Ok(self.expect(Tok::Duration, &[Tok::Duration])?.dur)
    }

    /// A log range inside `rangeOp(…)`, starting at the consumed token `t`.
    pub(crate) fn parse_log_range(&mut self, t: Token, expected: &[Tok]) -> Result<LogRange, ParseError> {
        self.enter()?;
        let r = self.parse_log_range_inner(t, expected)?;
        self.depth -= 1;
        Ok(r)
    }

    #[inline(never)]
    fn parse_log_range_inner(&mut self, t: Token, expected: &[Tok]) -> Result<LogRange, ParseError> {
        match t.tok {
            Tok::OpenBrace => {
                let matchers = self.parse_selector_body()?;
                self.parse_log_range_rest(matchers, false)
            }
            Tok::OpenParen => {
                let t2 = self.bump()?;
                match t2.tok {
                    Tok::OpenBrace => {
                        let matchers = self.parse_selector_body()?;
                        self.parse_log_range_rest(matchers, true)
                    }
                    Tok::OpenParen => {
                        let inner = self.parse_log_range(t2, &[Tok::OpenBrace, Tok::OpenParen])?;
                        self.expect(Tok::CloseParen, &[Tok::CloseParen])?;
                        Ok(inner)
                    }
                    _ => Err(unexpected(&t2, &[Tok::OpenBrace, Tok::OpenParen])),
                }
            }
            _ => Err(unexpected(&t, expected)),
        }
    }

    /// After the selector of a log range (`in_paren`: it was preceded by `(`).
    #[inline(never)]
    fn parse_log_range_rest(&mut self, matchers: Vec<Matcher>, in_paren: bool) -> Result<LogRange, ParseError> {
        let (mut stages, mut unwrap) = self.parse_pipeline(true)?;
        let bare = stages.is_empty() && unwrap.is_none();
        let t = self.bump()?;
        let (range, offset) = match t.tok {
            Tok::Range => {
                let offset = self.parse_offset()?;
                if bare {
                    (stages, unwrap) = self.parse_pipeline(true)?;
                }
                if in_paren {
                    self.expect(Tok::CloseParen, &[Tok::CloseParen])?;
                }
                (t.dur, offset)
            }
            Tok::CloseParen if in_paren => {
                let range = self.expect(Tok::Range, &[Tok::Range])?.dur;
                let offset = self.parse_offset()?;
                if bare && self.peek()? == Tok::Pipe {
                    self.bump()?;
                    if self.peek()? != Tok::Unwrap {
                        return self.fail(&[Tok::Unwrap]);
                    }
                    unwrap = Some(self.parse_unwrap()?);
                }
                (range, offset)
            }
            _ if unwrap.is_some() && in_paren => return Err(unexpected(&t, &[Tok::Range, Tok::CloseParen, Tok::Pipe])),
            _ if unwrap.is_some() => return Err(unexpected(&t, &[Tok::Range, Tok::Pipe])),
            _ => return Err(unexpected(&t, &[])),
        };
        Ok(LogRange { log: LogExpr { matchers, stages }, unwrap, range, offset })
    }
}
