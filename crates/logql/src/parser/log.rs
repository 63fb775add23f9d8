//! LogQL parser, log grammar: stream selectors, pipelines (line filters, parsers, label filters,
//! formatters, drop/keep) and label-filter precedence (Loki's yacc quirks).

use super::{unexpected, Parser};
use crate::ast::*;
use crate::error::ParseError;
use crate::lexer::{Tok, Token};
use crate::validate;

const LINE_FILTER_START: [Tok; 2] = [Tok::Str, Tok::Ip];
const LABEL_FILTER_START: [Tok; 2] = [Tok::Identifier, Tok::OpenParen];

impl Parser<'_> {
    /// After `{`: matchers and `}`.
    #[inline(never)]
    pub(crate) fn parse_selector_body(&mut self) -> Result<Vec<Matcher>, ParseError> {
        let mut matchers = Vec::new();
        let mut t = self.bump()?;
        if t.tok == Tok::CloseBrace {
            return Ok(matchers);
        }
        loop {
            if t.tok != Tok::Identifier {
                let exp: &[Tok] =
                    if matchers.is_empty() { &[Tok::Identifier, Tok::CloseBrace] } else { &[Tok::Identifier] };
                return Err(unexpected(&t, exp));
            }
            let op = self.bump()?;
            matchers.push(self.parse_matcher(t.text, &op, &[Tok::Eq, Tok::Re, Tok::Nre, Tok::Neq])?);
            let n = self.bump()?;
            match n.tok {
                Tok::CloseBrace => return Ok(matchers),
                Tok::Comma => t = self.bump()?,
                _ => return Err(unexpected(&n, &[Tok::CloseBrace, Tok::Comma])),
            }
        }
    }

    /// `name op STRING` once `name` and the operator token are consumed; the regex is checked
    /// at once, like Loki's `mustNewMatcher`.
    fn parse_matcher(&mut self, name: String, op: &Token, op_expected: &[Tok]) -> Result<Matcher, ParseError> {
        let op = match op.tok {
            Tok::Eq => MatchOp::Eq,
            Tok::Neq => MatchOp::Neq,
            Tok::Re => MatchOp::Re,
            Tok::Nre => MatchOp::Nre,
            _ => return Err(unexpected(op, op_expected)),
        };
        let value = self.expect(Tok::Str, &[Tok::Str])?.text;
        let m = Matcher { name, op, value };
        if !self.no_checks {
            validate::check_matcher(&m)?;
        }
        Ok(m)
    }

    /// Pipeline stages. With `in_range`, `| unwrap …` ends the pipeline and is returned.
    #[inline(never)]
    pub(crate) fn parse_pipeline(&mut self, in_range: bool) -> Result<(Vec<Stage>, Option<Unwrap>), ParseError> {
        let mut stages = Vec::new();
        loop {
            match self.peek()? {
                Tok::PipeExact | Tok::Neq | Tok::PipeMatch | Tok::Nre | Tok::PipePattern | Tok::Npa => {
                    let lf = self.parse_line_filter()?;
                    if lf.op.is_negative() {
                        // Like Loki: `!= "a" or "b"` is `!= "a" != "b"` (De Morgan).
                        stages.extend(
                            lf.values.into_iter().map(|v| Stage::LineFilter(LineFilter { op: lf.op, values: vec![v] })),
                        );
                    } else {
                        stages.push(Stage::LineFilter(lf));
                    }
                }
                Tok::Pipe => {
                    self.bump()?;
                    if in_range && self.peek()? == Tok::Unwrap {
                        return Ok((stages, Some(self.parse_unwrap()?)));
                    }
                    stages.push(self.parse_stage()?);
                }
                _ => return Ok((stages, None)),
            }
        }
    }

    fn parse_line_filter(&mut self) -> Result<LineFilter, ParseError> {
        let op = match self.bump()?.tok {
            Tok::PipeExact => LineFilterOp::Contains,
            Tok::Neq => LineFilterOp::NotContains,
            Tok::PipeMatch => LineFilterOp::Match,
            Tok::Nre => LineFilterOp::NotMatch,
            Tok::PipePattern => LineFilterOp::Pattern,
            _ => LineFilterOp::NotPattern,
        };
        let mut values = vec![self.parse_line_filter_value()?];
        while self.peek()? == Tok::Or {
            self.bump()?;
            values.push(self.parse_line_filter_value()?);
        }
        Ok(LineFilter { op, values })
    }

    fn parse_line_filter_value(&mut self) -> Result<LineFilterValue, ParseError> {
        let t = self.bump()?;
        match t.tok {
            Tok::Str => Ok(LineFilterValue::Str(t.text)),
            Tok::Ip => Ok(LineFilterValue::Ip(self.parse_ip_call()?)),
            _ => Err(unexpected(&t, &LINE_FILTER_START)),
        }
    }

    /// After `ip`: `( STRING )`.
    fn parse_ip_call(&mut self) -> Result<String, ParseError> {
        self.expect(Tok::OpenParen, &[Tok::OpenParen])?;
        let s = self.expect(Tok::Str, &[Tok::Str])?.text;
        self.expect(Tok::CloseParen, &[Tok::CloseParen])?;
        Ok(s)
    }

    /// A stage after `|` (the `|` is consumed).
    #[inline(never)]
    fn parse_stage(&mut self) -> Result<Stage, ParseError> {
        let t = self.bump()?;
        Ok(match t.tok {
            Tok::Identifier | Tok::OpenParen => Stage::LabelFilter(self.parse_label_filter(t, 0)?),
            Tok::Json => Stage::Json(self.parse_extractions()?),
            Tok::Logfmt => {
                let (mut strict, mut keep_empty) = (false, false);
                while self.peek()? == Tok::FunctionFlag {
                    match self.bump()?.text.as_str() {
                        "--strict" => strict = true,
                        _ => keep_empty = true,
                    }
                }
                Stage::Logfmt { strict, keep_empty, extractions: self.parse_extractions()? }
            }
            Tok::Regexp => {
                let re = self.expect(Tok::Str, &[Tok::Str])?.text;
                if !self.no_checks {
                    validate::check_regexp_stage(&re)?;
                }
                Stage::Regexp(re)
            }
            Tok::Pattern => {
                let pat = self.expect(Tok::Str, &[Tok::Str])?.text;
                if !self.no_checks {
                    validate::check_pattern_stage(&pat)?;
                }
                Stage::Pattern(pat)
            }
            Tok::Unpack => Stage::Unpack,
            Tok::LineFmt => Stage::LineFormat(self.expect(Tok::Str, &[Tok::Str])?.text),
            Tok::Decolorize => Stage::Decolorize,
            Tok::LabelFmt => Stage::LabelFormat(self.parse_label_formats()?),
            Tok::Drop => Stage::Drop(self.parse_named_matchers()?),
            Tok::Keep => Stage::Keep(self.parse_named_matchers()?),
            _ => return Err(unexpected(&t, &[])),
        })
    }

    /// Optional `a="expr", b, …` after `json` / `logfmt [flags]`.
    fn parse_extractions(&mut self) -> Result<Vec<LabelExtraction>, ParseError> {
        let mut out = Vec::new();
        if self.peek()? != Tok::Identifier {
            return Ok(out);
        }
        loop {
            let name = self.expect(Tok::Identifier, &[Tok::Identifier])?.text;
            let expr = if self.peek()? == Tok::Eq {
                self.bump()?;
                self.expect(Tok::Str, &[Tok::Str])?.text
            } else {
                name.clone()
            };
            out.push(LabelExtraction { name, expr });
            if self.peek()? != Tok::Comma {
                return Ok(out);
            }
            self.bump()?;
        }
    }

    fn parse_label_formats(&mut self) -> Result<Vec<LabelFmt>, ParseError> {
        let mut out = Vec::new();
        loop {
            let dst = self.expect(Tok::Identifier, &[Tok::Identifier])?.text;
            self.expect(Tok::Eq, &[Tok::Eq])?;
            let v = self.bump()?;
            out.push(match v.tok {
                Tok::Identifier => LabelFmt::Rename { dst, src: v.text },
                Tok::Str => LabelFmt::Template { dst, template: v.text },
                _ => return Err(unexpected(&v, &[Tok::Identifier, Tok::Str])),
            });
            if self.peek()? != Tok::Comma {
                return Ok(out);
            }
            self.bump()?;
        }
    }

    fn parse_named_matchers(&mut self) -> Result<Vec<NamedMatcher>, ParseError> {
        let mut out = Vec::new();
        loop {
            let name = self.expect(Tok::Identifier, &[Tok::Identifier])?.text;
            let matcher = if matches!(self.peek()?, Tok::Eq | Tok::Neq | Tok::Re | Tok::Nre) {
                let op = self.bump()?;
                Some(self.parse_matcher(name.clone(), &op, &[])?)
            } else {
                None
            };
            out.push(NamedMatcher { name, matcher });
            if self.peek()? != Tok::Comma {
                return Ok(out);
            }
            self.bump()?;
        }
    }

    /// Label filter expression starting with the consumed token `first`.
    ///
    /// Loki's grammar gives `and` precedence over `or` (both left-associative), while a comma or
    /// plain juxtaposition has no precedence, so yacc shifts: its right operand extends over
    /// everything that follows (`a, b or c` = `a and (b or c)`).
    pub(crate) fn parse_label_filter(&mut self, first: Token, min_prec: u8) -> Result<LabelFilter, ParseError> {
        self.enter()?;
        let f = self.parse_label_filter_chain(first, min_prec)?;
        self.depth -= 1;
        Ok(f)
    }

    fn parse_label_filter_chain(&mut self, first: Token, min_prec: u8) -> Result<LabelFilter, ParseError> {
        let mut lhs = self.parse_label_filter_primary(first)?;
        let mut chain = 0;
        loop {
            chain += 1;
            self.nest(chain)?;
            let (prec, or) = match self.peek()? {
                Tok::Identifier | Tok::OpenParen => (0, false),
                Tok::Comma => {
                    self.bump()?;
                    (0, false)
                }
                Tok::And if min_prec < 2 => {
                    self.bump()?;
                    (2, false)
                }
                Tok::Or if min_prec < 1 => {
                    self.bump()?;
                    (1, true)
                }
                _ => return Ok(lhs),
            };
            let t = self.bump()?;
            if !LABEL_FILTER_START.contains(&t.tok) {
                return Err(unexpected(&t, &LABEL_FILTER_START));
            }
            let rhs = Box::new(self.parse_label_filter(t, prec)?);
            lhs = if or { LabelFilter::Or(Box::new(lhs), rhs) } else { LabelFilter::And(Box::new(lhs), rhs) };
        }
    }

    #[inline(never)]
    fn parse_label_filter_primary(&mut self, t: Token) -> Result<LabelFilter, ParseError> {
        if t.tok == Tok::OpenParen {
            let first = self.bump()?;
            if !LABEL_FILTER_START.contains(&first.tok) {
                return Err(unexpected(&first, &LABEL_FILTER_START));
            }
            let inner = self.parse_label_filter(first, 0)?;
            self.expect(Tok::CloseParen, &[])?;
            return Ok(inner);
        }
        if t.tok != Tok::Identifier {
            return Err(unexpected(&t, &LABEL_FILTER_START));
        }
        let name = t.text;
        let op_tok = self.bump()?;
        let op = match op_tok.tok {
            Tok::Re | Tok::Nre => return Ok(LabelFilter::Matcher(self.parse_matcher(name, &op_tok, &[])?)),
            Tok::Eq | Tok::CmpEq => CmpOp::Eq,
            Tok::Neq => CmpOp::Neq,
            Tok::Gt => CmpOp::Gt,
            Tok::Gte => CmpOp::Gte,
            Tok::Lt => CmpOp::Lt,
            Tok::Lte => CmpOp::Lte,
            _ => return Err(unexpected(&op_tok, &[])),
        };
        let v = self.bump()?;
        let eq_or_neq = matches!(op_tok.tok, Tok::Eq | Tok::Neq);
        match v.tok {
            Tok::Str if eq_or_neq => {
                let m = Matcher { name, op: if op == CmpOp::Eq { MatchOp::Eq } else { MatchOp::Neq }, value: v.text };
                Ok(LabelFilter::Matcher(m))
            }
            Tok::Ip if eq_or_neq => {
                Ok(LabelFilter::Ip { name, equal: op == CmpOp::Eq, pattern: self.parse_ip_call()? })
            }
            Tok::Duration => Ok(LabelFilter::Duration { name, op, value: v.dur }),
            Tok::Bytes => Ok(LabelFilter::Bytes { name, op, value: v.bytes }),
            Tok::Number | Tok::Add | Tok::Sub => {
                let text = if v.tok == Tok::Number { v.text } else { self.expect(Tok::Number, &[Tok::Number])?.text };
                let value = if self.no_checks { Ok(0.0) } else { validate::label_filter_number(&text) };
                let value = if v.tok == Tok::Sub { -value? } else { value? };
                Ok(LabelFilter::Number { name, op, value })
            }
            _ => Err(unexpected(&v, &[])),
        }
    }
}
