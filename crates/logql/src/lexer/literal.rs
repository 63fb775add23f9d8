//! LogQL lexer, literals: Go `text/scanner` number and string/char literal scanning (with
//! Loki's modifications and error texts), Prometheus string unquoting, and Loki's
//! duration/bytes suffix rules for numbers.

use super::{is_bytes_rune, is_duration_rune, Lexer, Tok, Token};
use crate::error::ParseError;
use gocompat::strconv::unquote_prometheus;
use gocompat::{parse_bytes, parse_duration, parse_prom_duration};

fn lit_name(prefix: u8) -> &'static str {
    match prefix {
        b'x' => "hexadecimal literal",
        b'o' | b'0' => "octal literal",
        b'b' => "binary literal",
        _ => "decimal literal",
    }
}

/// Go scanner's `invalidSep`: index of the first misplaced `_`, if any.
fn invalid_sep(x: &[u8]) -> bool {
    let mut x1 = b' ';
    let mut d = b'.';
    let mut i = 0;
    if x.len() >= 2 && x[0] == b'0' {
        x1 = x[1] | 0x20;
        if matches!(x1, b'x' | b'o' | b'b') {
            d = b'0';
            i = 2;
        }
    }
    while i < x.len() {
        let p = d;
        d = x[i];
        if d == b'_' {
            if p != b'0' {
                return true;
            }
        } else if d.is_ascii_digit() || (x1 == b'x' && d.is_ascii_hexdigit()) {
            d = b'0';
        } else {
            if p == b'_' {
                return true;
            }
            d = b'.';
        }
        i += 1;
    }
    d == b'_'
}

impl Lexer<'_> {
    /// Go scanner string / char literal scan, then Prometheus unquoting.
    pub(super) fn scan_quoted(&mut self, quote: char, line: usize, col: usize) -> Result<Token, ParseError> {
        let start = self.pos;
        let e = |m: &str| ParseError::at(m, line, col);
        self.bump();
        let mut n = 0;
        loop {
            match self.peek_char() {
                None | Some('\n') => return Err(e("literal not terminated")),
                Some(ch) if ch == quote => {
                    self.bump();
                    break;
                }
                Some('\\') => {
                    self.bump();
                    let esc = self.peek_char();
                    let (base, mut digits) = match esc {
                        Some('a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | '\\') => (0, 0),
                        Some(ch) if ch == quote => (0, 0),
                        Some('0'..='7') => (8, 3),
                        Some('x') => (16, 2),
                        Some('u') => (16, 4),
                        Some('U') => (16, 8),
                        _ => return Err(e("invalid char escape")),
                    };
                    if base == 0 || base == 16 {
                        self.bump();
                    }
                    while digits > 0 && matches!(self.peek_char(), Some(d) if d.is_digit(base)) {
                        self.bump();
                        digits -= 1;
                    }
                    if base != 0 && digits > 0 {
                        return Err(e("invalid char escape"));
                    }
                }
                Some(_) => {
                    self.bump();
                }
            }
            n += 1;
        }
        let raw = &self.src[start..self.pos];
        if quote == '\'' {
            if n != 1 {
                return Err(e("invalid char literal"));
            }
            return Ok(self.token(Tok::Identifier, raw, line, col));
        }
        match unquote_prometheus(&raw[1..raw.len() - 1]) {
            Some(v) => Ok(self.token(Tok::Str, v, line, col)),
            None => Err(e("invalid syntax")),
        }
    }

    /// Go scanner number scan (with Loki's modifications), then duration / bytes attempts.
    pub(super) fn scan_number(
        &mut self,
        seen_dot: bool,
        binary_ok: bool,
        line: usize,
        col: usize,
    ) -> Result<Token, ParseError> {
        let b = self.src.as_bytes();
        let at = |i: usize| b.get(i).copied().unwrap_or(0);
        let start = self.pos;
        let mut i = start;
        let (mut base, mut prefix, mut digsep) = (10u32, 0u8, 0u8);
        let mut invalid: Option<u8> = None;
        let mut is_float = seen_dot;
        let mut err: Option<String> = None;
        let set_err = |m: String, err: &mut Option<String>| {
            if err.is_none() {
                *err = Some(m);
            }
        };
        let digits = |mut i: usize, base: u32, invalid: &mut Option<u8>| -> (usize, u8) {
            let mut ds = 0;
            loop {
                let ch = at(i);
                let ok = if base <= 10 { ch.is_ascii_digit() } else { ch.is_ascii_hexdigit() };
                if ch == b'_' {
                    ds |= 2;
                } else if ok {
                    ds |= 1;
                    if base <= 10 && u32::from(ch - b'0') >= base && invalid.is_none() {
                        *invalid = Some(ch);
                    }
                } else {
                    return (i, ds);
                }
                i += 1;
            }
        };
        if seen_dot {
            i += 1;
        } else {
            if at(i) == b'0' {
                i += 1;
                match at(i) | 0x20 {
                    b'x' => (i, base, prefix) = (i + 1, 16, b'x'),
                    b'o' => (i, base, prefix) = (i + 1, 8, b'o'),
                    b'b' => {
                        if binary_ok {
                            (i, base, prefix) = (i + 1, 2, b'b');
                        }
                    }
                    _ => (base, prefix, digsep) = (8, b'0', 1),
                }
            }
            let (ni, ds) = digits(i, base, &mut invalid);
            i = ni;
            digsep |= ds;
            if at(i) == b'.' {
                i += 1;
                is_float = true;
            }
        }
        if is_float {
            if prefix == b'o' || prefix == b'b' {
                set_err(format!("invalid radix point in {}", lit_name(prefix)), &mut err);
            }
            let (ni, ds) = digits(i, base, &mut invalid);
            i = ni;
            digsep |= ds;
        }
        if digsep & 1 == 0 {
            set_err(format!("{} has no digits", lit_name(prefix)), &mut err);
        }
        let e = at(i) | 0x20;
        if e == b'e' || (e == b'p' && prefix == b'x') {
            if e == b'e' && prefix != 0 && prefix != b'0' {
                set_err(format!("'{}' exponent requires decimal mantissa", at(i) as char), &mut err);
            }
            i += 1;
            is_float = true;
            if at(i) == b'+' || at(i) == b'-' {
                i += 1;
            }
            let (ni, ds) = digits(i, 10, &mut None);
            i = ni;
            digsep |= ds;
            if ds & 1 == 0 {
                set_err("exponent has no digits".into(), &mut err);
            }
        } else if prefix == b'x' && is_float {
            set_err("hexadecimal mantissa requires a 'p' exponent".into(), &mut err);
        }
        if let (false, Some(d)) = (is_float, invalid) {
            set_err(format!("invalid digit '{}' in {}", d as char, lit_name(prefix)), &mut err);
        }
        if digsep & 2 != 0 && invalid_sep(&b[start..i]) {
            set_err("'_' must separate successive digits".into(), &mut err);
        }
        self.bump_bytes(i - start);
        if let Some(m) = err {
            return Err(self.err(m, line, col));
        }
        let text = &self.src[start..i];
        let run = self.unit_run(is_duration_rune);
        if !run.is_empty() {
            if let Some(d) = parse_logql_duration(&format!("{text}{run}")) {
                self.bump_bytes(run.len());
                let mut t = self.token(Tok::Duration, format!("{text}{run}"), 0, col);
                t.dur = d;
                return Ok(t);
            }
        }
        let run = self.unit_run(is_bytes_rune);
        if !run.is_empty() {
            if let Ok(v) = parse_bytes(&format!("{text}{run}")) {
                self.bump_bytes(run.len());
                let mut t = self.token(Tok::Bytes, format!("{text}{run}"), 0, col);
                t.bytes = v;
                return Ok(t);
            }
        }
        Ok(self.token(Tok::Number, text, line, col))
    }
}

/// Loki's lexer duration rule: Prometheus syntax first, then Go's.
pub(super) fn parse_logql_duration(s: &str) -> Option<i64> {
    parse_prom_duration(s).ok().or_else(|| parse_duration(s).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: i64 = 1_000_000_000;
    const DAY: i64 = 86_400 * SEC;

    #[test]
    fn durations_like_go_and_prom() {
        assert_eq!(parse_logql_duration("5m"), Some(300 * SEC));
        assert_eq!(parse_logql_duration("1h30m"), Some(5400 * SEC));
        assert_eq!(parse_logql_duration("1.5h"), Some(5400 * SEC));
        assert_eq!(parse_logql_duration("2d"), Some(2 * DAY));
        assert_eq!(parse_logql_duration("-5m"), Some(-300 * SEC));
        assert_eq!(parse_logql_duration("-0"), Some(0));
        assert_eq!(parse_logql_duration("-5"), None);
        assert_eq!(parse_logql_duration("1.5d"), None);
        assert_eq!(parse_logql_duration("300\u{b5}s"), Some(300_000));
    }
}
