//! LogQL lexer: Loki's token rules (Go `text/scanner` in GoTokens mode plus Loki's keyword,
//! function-token, duration, bytes, flag, range and `#`-comment handling), with Loki's token
//! positions (1-based line/column in characters; tokens Loki extends with `Next()` report line 0)
//! and Loki's lexical error texts.

mod literal;

use crate::error::ParseError;
use gocompat::{is_digit, is_letter, parse_prom_duration};
use literal::parse_logql_duration;

/// Token kinds. Discriminants follow goyacc's token numbering of Loki's grammar, because syntax
/// errors list expected tokens in that order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[rustfmt::skip]
#[allow(dead_code)] // OpenBracket: `[` always starts a RANGE, but keeps the numbering
pub(crate) enum Tok {
    End = 1, Bytes = 4, Identifier, Str, Number, FunctionFlag, Duration, Range,
    Eq = 13, Re, Nre, Npa, OpenBrace, CloseBrace, OpenBracket, CloseBracket, Comma, Dot,
    PipeMatch, PipeExact, PipePattern, OpenParen, CloseParen, By, Without, CountOverTime, Rate,
    RateCounter, Sum, Sort, SortDesc, Avg, Max, Min, Count, Stddev, Stdvar, Bottomk, Topk,
    ApproxTopk, BytesOverTime, BytesRate, Bool, Json, Regexp, Logfmt, Pipe, LineFmt, LabelFmt,
    Unwrap, AvgOverTime, SumOverTime, MinOverTime, MaxOverTime, StdvarOverTime, StddevOverTime,
    QuantileOverTime, BytesConv, DurationConv, DurationSecondsConv, FirstOverTime, LastOverTime,
    AbsentOverTime, Vector, LabelReplace, Unpack, Offset, Pattern, Ip, On, Ignoring, GroupLeft,
    GroupRight, Decolorize, Drop, Keep, Or, And, Unless, CmpEq, Neq, Lt, Lte, Gt, Gte, Add, Sub,
    Mul, Div, Mod, Pow,
}

use Tok::*;

#[rustfmt::skip]
const PLAIN_KEYWORDS: &[(&str, Tok)] = &[
    ("by", By), ("without", Without), ("bool", Bool), ("offset", Offset), ("on", On),
    ("ignoring", Ignoring), ("group_left", GroupLeft), ("group_right", GroupRight), ("or", Or),
    ("and", And), ("unless", Unless), ("json", Json), ("regexp", Regexp), ("logfmt", Logfmt),
    ("unpack", Unpack), ("pattern", Pattern), ("line_format", LineFmt),
    ("label_format", LabelFmt), ("decolorize", Decolorize), ("drop", Drop), ("keep", Keep),
    ("unwrap", Unwrap),
];

#[rustfmt::skip]
const FUNCTION_KEYWORDS: &[(&str, Tok)] = &[
    ("rate", Rate), ("rate_counter", RateCounter), ("count_over_time", CountOverTime),
    ("bytes_rate", BytesRate), ("bytes_over_time", BytesOverTime),
    ("avg_over_time", AvgOverTime), ("sum_over_time", SumOverTime),
    ("min_over_time", MinOverTime), ("max_over_time", MaxOverTime),
    ("stdvar_over_time", StdvarOverTime), ("stddev_over_time", StddevOverTime),
    ("quantile_over_time", QuantileOverTime), ("first_over_time", FirstOverTime),
    ("last_over_time", LastOverTime), ("absent_over_time", AbsentOverTime), ("vector", Vector),
    ("sum", Sum), ("avg", Avg), ("max", Max), ("min", Min), ("count", Count),
    ("stddev", Stddev), ("stdvar", Stdvar), ("bottomk", Bottomk), ("topk", Topk),
    ("sort", Sort), ("sort_desc", SortDesc), ("label_replace", LabelReplace),
    ("approx_topk", ApproxTopk), ("bytes", BytesConv), ("duration", DurationConv),
    ("duration_seconds", DurationSecondsConv), ("ip", Ip),
];

#[rustfmt::skip]
const TWO_CHAR_OPS: &[(&str, Tok)] = &[
    ("=~", Re), ("!~", Nre), ("!>", Npa), ("|=", PipeExact), ("|~", PipeMatch),
    ("|>", PipePattern), ("!=", Neq), ("==", CmpEq), (">=", Gte), ("<=", Lte),
];

#[rustfmt::skip]
const ONE_CHAR_OPS: &[(char, Tok)] = &[
    (',', Comma), ('.', Dot), ('{', OpenBrace), ('}', CloseBrace), ('=', Eq), ('(', OpenParen),
    (')', CloseParen), (']', CloseBracket), ('|', Pipe), ('+', Add), ('-', Sub), ('*', Mul),
    ('/', Div), ('%', Mod), ('^', Pow), ('>', Gt), ('<', Lt),
];

impl Tok {
    /// The name goyacc prints for this token in syntax errors (Loki replaces the names of
    /// tokens in its `tokens` map with their literal text).
    #[rustfmt::skip]
    pub(crate) fn name(self) -> &'static str {
        if let Some((s, _)) = PLAIN_KEYWORDS.iter().chain(TWO_CHAR_OPS).find(|(_, t)| *t == self) {
            return s;
        }
        match self {
            End => "$end", Bytes => "BYTES", Identifier => "IDENTIFIER", Str => "STRING",
            Number => "NUMBER", FunctionFlag => "FUNCTION_FLAG", Duration => "DURATION",
            Range => "RANGE", Eq => "=", OpenBrace => "{", CloseBrace => "}", OpenBracket => "[",
            CloseBracket => "]", Comma => ",", Dot => ".", OpenParen => "(", CloseParen => ")",
            Pipe => "|", Add => "+", Sub => "-", Mul => "*", Div => "/", Mod => "%", Pow => "^",
            Gt => ">", Lt => "<", LabelReplace => "label_replace", Ip => "ip",
            CountOverTime => "COUNT_OVER_TIME", Rate => "RATE", RateCounter => "RATE_COUNTER",
            Sum => "SUM", Sort => "SORT", SortDesc => "SORT_DESC", Avg => "AVG", Max => "MAX",
            Min => "MIN", Count => "COUNT", Stddev => "STDDEV", Stdvar => "STDVAR",
            Bottomk => "BOTTOMK", Topk => "TOPK", ApproxTopk => "APPROX_TOPK",
            BytesOverTime => "BYTES_OVER_TIME", BytesRate => "BYTES_RATE",
            AvgOverTime => "AVG_OVER_TIME", SumOverTime => "SUM_OVER_TIME",
            MinOverTime => "MIN_OVER_TIME", MaxOverTime => "MAX_OVER_TIME",
            StdvarOverTime => "STDVAR_OVER_TIME", StddevOverTime => "STDDEV_OVER_TIME",
            QuantileOverTime => "QUANTILE_OVER_TIME", BytesConv => "BYTES_CONV",
            DurationConv => "DURATION_CONV", DurationSecondsConv => "DURATION_SECONDS_CONV",
            FirstOverTime => "FIRST_OVER_TIME", LastOverTime => "LAST_OVER_TIME",
            AbsentOverTime => "ABSENT_OVER_TIME", Vector => "VECTOR",
            _ => "$unk",
        }
    }
}

/// One token. `text` holds the identifier text (original case), the number text, the unquoted
/// string value or the flag text.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub text: String,
    /// `DURATION` / `RANGE` value in nanoseconds.
    pub dur: i64,
    /// `BYTES` value.
    pub bytes: u64,
    pub line: usize,
    pub col: usize,
}

pub(crate) struct Lexer<'a> {
    pub(super) src: &'a str,
    pub(super) pos: usize,
    line: usize,
    /// Characters consumed on the current line.
    col: usize,
    prev_col: usize,
}

fn is_go_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

pub(super) fn is_duration_rune(c: char) -> bool {
    matches!(c, 'n' | 'u' | '\u{b5}' | 'm' | 's' | 'h' | 'd' | 'w' | 'y')
}

pub(super) fn is_bytes_rune(c: char) -> bool {
    matches!(c, 'B' | 'i' | 'k' | 'K' | 'M' | 'G' | 'T' | 'P')
}

/// Function tokens are keywords only when followed by `(` or by `by`/`without` then `(`.
fn is_function(rest: &str) -> bool {
    let s = rest.trim_start_matches(char::is_whitespace);
    let mut acc = String::new();
    for (i, c) in s.char_indices() {
        acc.push(c);
        let l = acc.to_lowercase();
        if l == "(" {
            return true;
        }
        if l == "by" || l == "without" {
            let after = s[i + c.len_utf8()..].trim_start_matches(char::is_whitespace);
            return after.starts_with('(');
        }
        if acc.len() > 8 {
            break;
        }
    }
    false
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        let mut lx = Lexer { src, pos: 0, line: 1, col: 0, prev_col: 0 };
        if src.starts_with('\u{feff}') {
            lx.pos = '\u{feff}'.len_utf8();
            lx.col = 1;
        }
        lx
    }

    pub(super) fn peek_char(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn peek_char_at(&self, n: usize) -> Option<char> {
        self.src[self.pos..].chars().nth(n)
    }

    pub(super) fn bump(&mut self) -> Option<char> {
        let c = self.peek_char()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.col = 0;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    /// Advance over `n` bytes (which must end on a char boundary).
    pub(super) fn bump_bytes(&mut self, n: usize) {
        let end = self.pos + n;
        while self.pos < end {
            self.bump();
        }
    }

    pub(super) fn err(&self, msg: impl Into<String>, line: usize, col: usize) -> ParseError {
        ParseError::at(msg, line, col)
    }

    pub(super) fn token(&mut self, tok: Tok, text: impl Into<String>, line: usize, col: usize) -> Token {
        self.prev_col = col;
        Token { tok, text: text.into(), dur: 0, bytes: 0, line, col }
    }

    /// Skip Go whitespace and `//`, `/* */` comments.
    fn skip_ws(&mut self) -> Result<(), ParseError> {
        loop {
            match self.peek_char() {
                Some(c) if is_go_ws(c) => {
                    self.bump();
                }
                Some('/') if matches!(self.peek_char_at(1), Some('/') | Some('*')) => {
                    let (line, col) = (self.line, self.col + 1);
                    self.bump();
                    if self.bump() == Some('/') {
                        while !matches!(self.peek_char(), None | Some('\n')) {
                            self.bump();
                        }
                    } else {
                        loop {
                            match self.bump() {
                                None => return Err(self.err("comment not terminated", line, col)),
                                Some('*') if self.peek_char() == Some('/') => {
                                    self.bump();
                                    break;
                                }
                                _ => {}
                            }
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    /// Return the next token, or the first lexical error (Loki reports the first error only).
    pub(crate) fn next_token(&mut self) -> Result<Token, ParseError> {
        loop {
            let scan_start = self.pos;
            if self.src.is_empty() {
                return Ok(self.token(End, "", 0, 0));
            }
            self.skip_ws()?;
            let (line, col) = (self.line, self.col + 1);
            let Some(c) = self.peek_char() else {
                return Ok(self.token(End, "", line, col));
            };
            if c == '\0' {
                let msg = "invalid character NUL";
                return Err(if self.pos == 0 {
                    ParseError::new(msg)
                } else if self.pos > scan_start {
                    self.err(msg, 0, self.prev_col)
                } else {
                    self.err(msg, line, col)
                });
            }
            if c == '#' {
                while !matches!(self.peek_char(), None | Some('\n')) {
                    self.bump();
                }
                continue;
            }
            let start = self.pos;
            let res = self.scan(c, scan_start, line, col);
            if self.src[start..self.pos].contains('\0') {
                let line = if c == '[' { 0 } else { line };
                return Err(self.err("invalid character NUL", line, col));
            }
            let tok = res?;
            if self.peek_char() == Some('\0') {
                return Err(self.err("invalid character NUL", tok.line, tok.col));
            }
            return Ok(tok);
        }
    }

    fn scan(&mut self, c: char, scan_start: usize, line: usize, col: usize) -> Result<Token, ParseError> {
        let start = self.pos;
        if c == '_' || is_letter(c) {
            while matches!(self.peek_char(), Some(ch) if ch == '_' || is_letter(ch) || is_digit(ch)) {
                self.bump();
            }
            let text = &self.src[start..self.pos];
            let lower = text.to_lowercase();
            if let Some((_, t)) = FUNCTION_KEYWORDS.iter().find(|(k, _)| *k == lower) {
                let t = if is_function(&self.src[self.pos..]) { *t } else { Identifier };
                return Ok(self.token(t, text, line, col));
            }
            let t = PLAIN_KEYWORDS.iter().find(|(k, _)| *k == lower).map_or(Identifier, |(_, t)| *t);
            return Ok(self.token(t, text, line, col));
        }
        let next_is_digit = matches!(self.peek_char_at(1), Some(d) if d.is_ascii_digit());
        if c.is_ascii_digit() || (c == '.' && next_is_digit) {
            return self.scan_number(c == '.', self.pos == scan_start, line, col);
        }
        match c {
            '"' | '\'' => return self.scan_quoted(c, line, col),
            '`' => {
                self.bump();
                let Some(end) = self.src[self.pos..].find('`') else {
                    return Err(self.err("literal not terminated", line, col));
                };
                let value = self.src[self.pos..self.pos + end].to_string();
                self.bump_bytes(end + 1);
                return Ok(self.token(Str, value, line, col));
            }
            '-' => {
                if let Some(t) = self.scan_minus(col) {
                    return Ok(t);
                }
            }
            '[' => return self.scan_range(col),
            _ => {}
        }
        self.bump();
        if let Some(n) = self.peek_char() {
            let two: String = [c, n].iter().collect::<String>().to_lowercase();
            if let Some((_, t)) = TWO_CHAR_OPS.iter().find(|(k, _)| *k == two) {
                self.bump();
                return Ok(self.token(*t, two, 0, col));
            }
        }
        let t = ONE_CHAR_OPS.iter().find(|(k, _)| *k == c).map_or(Identifier, |(_, t)| *t);
        Ok(self.token(t, c.to_string(), line, col))
    }

    /// Run of characters Loki's `tryScanDuration`/`tryScanBytes` look at after a number.
    pub(super) fn unit_run(&self, unit: fn(char) -> bool) -> &'a str {
        let rest = &self.src[self.pos..];
        let end = rest
            .char_indices()
            .find(|&(_, ch)| ch.is_whitespace() || !(ch.is_numeric() || unit(ch) || ch == '.'))
            .map_or(rest.len(), |(i, _)| i);
        &rest[..end]
    }

    fn scan_minus(&mut self, col: usize) -> Option<Token> {
        let rest = &self.src[self.pos..];
        if rest.starts_with("--") {
            let len = 1 + rest[1..]
                .char_indices()
                .find(|&(_, ch)| !(is_letter(ch) || ch == '-'))
                .map_or(rest.len() - 1, |(i, _)| i);
            let flag = &rest[..len];
            if flag == "--strict" || flag == "--keep-empty" {
                self.bump_bytes(len);
                return Some(self.token(FunctionFlag, flag, 0, col));
            }
        }
        self.bump();
        let run = self.unit_run(is_duration_rune);
        if !run.is_empty() {
            if let Some(d) = parse_logql_duration(&format!("-{run}")) {
                self.bump_bytes(run.len());
                let mut t = self.token(Duration, format!("-{run}"), 0, col);
                t.dur = d;
                return Some(t);
            }
        }
        // Not a flag nor a duration: undo and let the operator path handle `-`.
        self.pos -= 1;
        self.col -= 1;
        None
    }

    fn scan_range(&mut self, col: usize) -> Result<Token, ParseError> {
        self.bump();
        let rest = &self.src[self.pos..];
        let Some(end) = rest.find(']') else {
            self.bump_bytes(rest.len());
            return Err(self.err("missing closing ']' in duration", 0, col));
        };
        let inner = &rest[..end];
        self.bump_bytes(end + 1);
        match parse_prom_duration(inner) {
            Ok(d) => {
                let mut t = self.token(Range, inner, 0, col);
                t.dur = d;
                Ok(t)
            }
            Err(e) => Err(self.err(e, 0, col)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(s: &str) -> Result<Vec<(Tok, String, usize, usize)>, String> {
        let mut lx = Lexer::new(s);
        let mut out = Vec::new();
        loop {
            let t = lx.next_token().map_err(|e| e.to_string())?;
            if t.tok == End {
                return Ok(out);
            }
            out.push((t.tok, t.text, t.line, t.col));
        }
    }

    fn kinds(s: &str) -> Vec<Tok> {
        lex(s).unwrap().into_iter().map(|t| t.0).collect()
    }

    #[test]
    fn basic_tokens() {
        assert_eq!(kinds(r#"{foo="bar"}"#), vec![OpenBrace, Identifier, Eq, Str, CloseBrace]);
        assert_eq!(kinds(r#"{ foo !~ "bar" }"#), vec![OpenBrace, Identifier, Nre, Str, CloseBrace]);
        assert_eq!(
            kinds(r#"{foo="bar"} |~ "\\w+" | latency > 1h15m30.918273645s"#),
            vec![OpenBrace, Identifier, Eq, Str, CloseBrace, PipeMatch, Str, Pipe, Identifier, Gt, Duration]
        );
        assert_eq!(kinds("size > 250kB or x == 4.00"), vec![Identifier, Gt, Bytes, Or, Identifier, CmpEq, Number]);
        assert_eq!(kinds("1kb"), vec![Bytes, Identifier]);
        assert_eq!(kinds("1m 1M"), vec![Duration, Bytes]);
        assert_eq!(kinds("offset -5m"), vec![Offset, Duration]);
        assert_eq!(kinds("1 -0"), vec![Number, Duration]);
        assert_eq!(kinds("1 - 5"), vec![Number, Sub, Number]);
        assert_eq!(kinds("1 -5"), vec![Number, Sub, Number]);
        assert_eq!(kinds("logfmt --strict --keep-empty"), vec![Logfmt, FunctionFlag, FunctionFlag]);
        assert_eq!(kinds("--foo"), vec![Sub, Sub, Identifier]);
        assert_eq!(kinds("!x @"), vec![Identifier, Identifier, Identifier]);
        assert_eq!(kinds("a # comment\n b // c\n /* d */ e"), vec![Identifier, Identifier, Identifier]);
        assert_eq!(kinds("'a'"), vec![Identifier]);
    }

    #[test]
    fn function_tokens_need_parens() {
        assert_eq!(kinds("rate("), vec![Rate, OpenParen]);
        assert_eq!(kinds("rate"), vec![Identifier]);
        assert_eq!(kinds("SUM by (a) ("), vec![Sum, By, OpenParen, Identifier, CloseParen, OpenParen]);
        assert_eq!(kinds("sum bytes"), vec![Identifier, Identifier]);
        assert_eq!(kinds("sum  WITHOUT("), vec![Sum, Without, OpenParen]);
        assert_eq!(kinds("bytes(x)"), vec![BytesConv, OpenParen, Identifier, CloseParen]);
        assert_eq!(kinds("ip"), vec![Identifier]);
        assert_eq!(kinds("JSON By"), vec![Json, By]);
    }

    #[test]
    fn values_and_positions() {
        let t = lex(r#"{a="x\ty"}[5m]"#).unwrap();
        assert_eq!(t[3], (Str, "x\ty".into(), 1, 4));
        assert_eq!(t[5].0, Range);
        assert_eq!((t[5].2, t[5].3), (0, 11));
        let t = lex("a\n  b |= c").unwrap();
        assert_eq!((t[1].2, t[1].3), (2, 3));
        assert_eq!((t[2].2, t[2].3), (0, 5));
        assert_eq!(lex("`\\w+`").unwrap()[0].1, "\\w+");
        assert_eq!(lex(r#""\u00e9\x41\101""#).unwrap()[0].1, "éAA");
    }

    #[test]
    fn lexical_errors() {
        let e = |s: &str| lex(s).unwrap_err();
        assert_eq!(e(r#"{a="b"#), "parse error at line 1, col 4: literal not terminated");
        assert_eq!(e(r#""\q""#), "parse error at line 1, col 1: invalid char escape");
        assert_eq!(e(r#""\400""#), "parse error at line 1, col 1: invalid syntax");
        assert_eq!(e("x [5x]"), r#"parse error at line 0, col 3: unknown unit "x" in duration "5x""#);
        assert_eq!(e("x [5m"), "parse error at line 0, col 3: missing closing ']' in duration");
        assert_eq!(e("08"), "parse error at line 1, col 1: invalid digit '8' in octal literal");
        assert_eq!(e("x > 0B"), "parse error at line 1, col 5: decimal literal has no digits");
        assert_eq!(e("x >0B"), "parse error at line 1, col 4: binary literal has no digits");
        assert_eq!(e("1e"), "parse error at line 1, col 1: exponent has no digits");
        assert_eq!(e("1__0"), "parse error at line 1, col 1: '_' must separate successive digits");
        assert_eq!(e("'ab'"), "parse error at line 1, col 1: invalid char literal");
        assert_eq!(e("/* x"), "parse error at line 1, col 1: comment not terminated");
        assert_eq!(e("\0"), "parse error : invalid character NUL");
    }
}
