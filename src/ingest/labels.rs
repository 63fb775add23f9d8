//! Parser for stream label sets in Prometheus text form (`{a="b", c="d"}`), as pushed.
//!
//! Behaves like Loki's `syntax.ParseLabels` (Prometheus `ParseMetric`, then empty values
//! dropped): Go-style quoted values with escapes (`"…"`, `'…'`, `` `…` ``), quoted UTF-8
//! names (`{"service.name"="x"}`), an optional leading metric name (`foo{…}` becomes
//! `__name__="foo"`), a trailing comma. Errors read like Prometheus's
//! (`1:9: parse error: unexpected character inside braces: '.'`).
//!
//! Repeated names are *kept* (sorted next to each other) so that validation can report
//! Loki's `duplicate label name` error; every other producer of [`Labels`] deduplicates.

use std::fmt::Write as _;

use crate::gocompat::strconv::simple_escape;
use crate::model::{write_go_quoted, Labels};

/// Parses a pushed label set. See the module docs for the accepted syntax.
pub fn parse_label_set(s: &str) -> Result<Labels, String> {
    let mut p = Parser { src: s, bytes: s.as_bytes(), pos: 0, in_braces: false };
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(8);

    let mut tok = p.next()?;
    if let Tok::Ident(name) = tok.kind {
        pairs.push(("__name__".to_string(), name.to_string()));
        tok = p.next()?;
    }
    match tok.kind {
        Tok::Eof => return Ok(finish(pairs)),
        Tok::LBrace => {}
        _ => return Err(p.unexpected(&tok, "", "")),
    }
    p.in_braces = true;
    loop {
        let t = p.next()?;
        let sep = match t.kind {
            Tok::RBrace => break,
            Tok::Ident(name) => {
                let eq = p.next()?;
                if !matches!(eq.kind, Tok::Eq) {
                    return Err(p.unexpected(&eq, "label set", "\"=\""));
                }
                let v = p.next()?;
                let Tok::Str(value) = v.kind else {
                    return Err(p.unexpected(&v, "label set", "string"));
                };
                pairs.push((name.to_string(), value));
                p.next()?
            }
            Tok::Str(name) => {
                let after = p.next()?;
                if matches!(after.kind, Tok::Eq) {
                    let v = p.next()?;
                    let Tok::Str(value) = v.kind else {
                        return Err(p.unexpected(&v, "label set", "string"));
                    };
                    pairs.push((name, value));
                    p.next()?
                } else {
                    // `{"metric_name"}`: a lone quoted name is the metric name.
                    pairs.push(("__name__".to_string(), name));
                    after
                }
            }
            _ => return Err(p.unexpected(&t, "label set", "identifier or \"}\"")),
        };
        match sep.kind {
            Tok::Comma => continue,
            Tok::RBrace => break,
            _ => return Err(p.unexpected(&sep, "label set", "\",\" or \"}\"")),
        }
    }
    p.in_braces = false;
    let end = p.next()?;
    if !matches!(end.kind, Tok::Eof) {
        return Err(p.unexpected(&end, "", ""));
    }
    Ok(finish(pairs))
}

/// Sorts by name (stable, repeated names kept) and drops empty values (`WithoutEmpty`).
fn finish(mut pairs: Vec<(String, String)>) -> Labels {
    pairs.retain(|(_, v)| !v.is_empty());
    if !pairs.is_sorted_by(|a, b| a.0 <= b.0) {
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
    }
    Labels(pairs)
}

pub use crate::model::is_plain_label_name;

enum Tok<'a> {
    Eof,
    LBrace,
    RBrace,
    Comma,
    Eq,
    /// `=~`, `!=`, `!~`: lexed (Prometheus does) but never valid in a label set.
    Op(&'static str),
    Ident(&'a str),
    /// Unquoted value of a string literal.
    Str(String),
}

struct Token<'a> {
    kind: Tok<'a>,
    /// Byte offset where the token starts.
    pos: usize,
    /// Source text of the token (for error messages).
    raw: &'a str,
}

struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    in_braces: bool,
}

impl<'a> Parser<'a> {
    fn next(&mut self) -> Result<Token<'a>, String> {
        loop {
            // Whitespace and `#` comments are skipped.
            while self.pos < self.bytes.len() && matches!(self.bytes[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
                self.pos += 1;
            }
            if self.bytes.get(self.pos) == Some(&b'#') {
                self.pos = memchr::memchr(b'\n', &self.bytes[self.pos..]).map_or(self.bytes.len(), |i| self.pos + i);
                continue;
            }
            break;
        }
        let start = self.pos;
        let Some(&c) = self.bytes.get(start) else {
            if self.in_braces {
                return Err(self.error_at(start, "unexpected end of input inside braces"));
            }
            return Ok(Token { kind: Tok::Eof, pos: start, raw: "" });
        };
        let simple = |kind, len: usize, p: &mut Self| {
            p.pos = start + len;
            Ok(Token { kind, pos: start, raw: &p.src[start..start + len] })
        };
        if c.is_ascii_alphabetic() || c == b'_' || (!self.in_braces && c == b':') {
            let mut end = start + 1;
            while end < self.bytes.len() {
                let d = self.bytes[end];
                if d.is_ascii_alphanumeric() || d == b'_' || (!self.in_braces && d == b':') {
                    end += 1;
                } else {
                    break;
                }
            }
            self.pos = end;
            let raw = &self.src[start..end];
            return Ok(Token { kind: Tok::Ident(raw), pos: start, raw });
        }
        match c {
            b'{' if self.in_braces => Err(self.error_at(start, "unexpected left brace '{'")),
            b'{' => simple(Tok::LBrace, 1, self),
            b'}' if self.in_braces => simple(Tok::RBrace, 1, self),
            b',' if self.in_braces => simple(Tok::Comma, 1, self),
            b'=' if self.in_braces => {
                if self.bytes.get(start + 1) == Some(&b'~') {
                    simple(Tok::Op("=~"), 2, self)
                } else {
                    simple(Tok::Eq, 1, self)
                }
            }
            b'!' if self.in_braces => match self.bytes.get(start + 1) {
                Some(b'=') => simple(Tok::Op("!="), 2, self),
                Some(b'~') => simple(Tok::Op("!~"), 2, self),
                _ => {
                    let next = self.src[start + 1..].chars().next();
                    let shown = next.map_or_else(|| "'\\x00'".to_string(), go_quote_rune);
                    Err(self.error_at(start, &format!("unexpected character after '!' inside braces: {shown}")))
                }
            },
            b'"' | b'\'' | b'`' if self.in_braces => self.string(start, c),
            _ => {
                let ch = self.src[start..].chars().next().unwrap_or('\0');
                let what = if self.in_braces { "unexpected character inside braces" } else { "unexpected character" };
                Err(self.error_at(start, &format!("{what}: {}", go_quote_rune(ch))))
            }
        }
    }

    /// Lexes and unquotes a string literal whose opening quote is at `start`.
    fn string(&mut self, start: usize, quote: u8) -> Result<Token<'a>, String> {
        let body = start + 1;
        let rest = &self.bytes[body..];
        // Fast path: no escape before the closing quote.
        let stop = if quote == b'`' { memchr::memchr(quote, rest) } else { memchr::memchr3(quote, b'\\', b'\n', rest) };
        let Some(stop) = stop else {
            return Err(self.unterminated(start, quote, rest));
        };
        if rest[stop] == quote {
            let text = &self.src[body..body + stop];
            if text.contains('\u{FFFD}') {
                return Err(self.error_at(start, "invalid UTF-8 rune"));
            }
            self.pos = body + stop + 1;
            return Ok(Token { kind: Tok::Str(text.to_string()), pos: start, raw: &self.src[start..self.pos] });
        }
        if rest[stop] == b'\n' {
            return Err(self.error_at(start, "unterminated quoted string"));
        }
        self.escaped_string(start, quote)
    }

    fn unterminated(&self, start: usize, quote: u8, rest: &[u8]) -> String {
        if quote == b'`' {
            return self.error_at(start, "unterminated raw string");
        }
        if memchr::memmem::find(rest, "\u{FFFD}".as_bytes()).is_some() {
            return self.error_at(start, "invalid UTF-8 rune");
        }
        self.error_at(start, "unterminated quoted string")
    }

    /// Slow path for `"…"` / `'…'` literals with backslash escapes (Go semantics).
    fn escaped_string(&mut self, start: usize, quote: u8) -> Result<Token<'a>, String> {
        let mut out: Vec<u8> = Vec::with_capacity(32);
        let mut chars = self.src[start + 1..].char_indices();
        let base = start + 1;
        loop {
            let Some((_, c)) = chars.next() else {
                return Err(self.error_at(start, "unterminated quoted string"));
            };
            match c {
                '\n' => return Err(self.error_at(start, "unterminated quoted string")),
                '\u{FFFD}' => return Err(self.error_at(start, "invalid UTF-8 rune")),
                c if c as u32 == quote as u32 => {
                    let end = chars.next().map_or(self.src.len(), |(i, _)| base + i);
                    self.pos = end;
                    let value =
                        String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
                    return Ok(Token { kind: Tok::Str(value), pos: start, raw: &self.src[start..end] });
                }
                '\\' => {
                    let Some((_, e)) = chars.next() else {
                        return Err(self.error_at(start, "escape sequence not terminated"));
                    };
                    let simple = simple_escape(e, quote as char);
                    if let Some(b) = simple {
                        out.push(b);
                        continue;
                    }
                    let (digits, radix, is_byte, first) = match e {
                        '0'..='7' => (3, 8, true, Some(e)),
                        'x' => (2, 16, true, None),
                        'u' => (4, 16, false, None),
                        'U' => (8, 16, false, None),
                        other => {
                            return Err(self.error_at(start, &format!("unknown escape sequence {}", go_sharp_u(other))));
                        }
                    };
                    let mut value: u32 = 0;
                    for i in 0..digits {
                        let d = if i == 0 && first.is_some() { first } else { chars.next().map(|(_, d)| d) };
                        let Some(d) = d else {
                            return Err(self.error_at(start, "escape sequence not terminated"));
                        };
                        let Some(v) = d.to_digit(radix) else {
                            return Err(self
                                .error_at(start, &format!("illegal character {} in escape sequence", go_sharp_u(d))));
                        };
                        value = value * radix + v;
                    }
                    if is_byte {
                        if value > 255 {
                            return Err(self.error_at(start, "escape sequence is an invalid Unicode code point"));
                        }
                        out.push(value as u8);
                    } else {
                        let Some(ch) = char::from_u32(value) else {
                            return Err(self.error_at(start, "escape sequence is an invalid Unicode code point"));
                        };
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    }
                }
                c => {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
    }

    /// `<line>:<col>: parse error: <msg>` (Prometheus `ParseErr`).
    fn error_at(&self, pos: usize, msg: &str) -> String {
        let before = &self.bytes[..pos.min(self.bytes.len())];
        let line = 1 + memchr::memchr_iter(b'\n', before).count();
        let col = pos as isize - memchr::memrchr(b'\n', before).map_or(-1, |i| i as isize);
        if self.src.is_empty() {
            return format!("unknown position: parse error: {msg}");
        }
        format!("{line}:{col}: parse error: {msg}")
    }

    /// The parser's `unexpected <token> [in <context>][, expected <expected>]`.
    fn unexpected(&self, tok: &Token<'_>, context: &str, expected: &str) -> String {
        let mut msg = String::from("unexpected ");
        match &tok.kind {
            Tok::Eof => msg.push_str("end of input"),
            Tok::LBrace | Tok::RBrace | Tok::Comma | Tok::Eq => {
                let _ = write!(msg, "\"{}\"", tok.raw);
            }
            Tok::Op(op) => {
                let _ = write!(msg, "<op:{op}>");
            }
            Tok::Ident(name) => {
                msg.push_str("identifier ");
                let _ = write_go_quoted(&mut msg, name);
            }
            Tok::Str(_) => {
                msg.push_str("string ");
                if tok.raw.len() > 10 {
                    let head: String = tok.raw.chars().take(10).collect();
                    let _ = write_go_quoted(&mut msg, &head);
                    msg.push_str("...");
                } else {
                    let _ = write_go_quoted(&mut msg, tok.raw);
                }
            }
        }
        if !context.is_empty() {
            let _ = write!(msg, " in {context}");
        }
        if !expected.is_empty() {
            let _ = write!(msg, ", expected {expected}");
        }
        self.error_at(tok.pos, &msg)
    }
}

/// Go's `%q` for a rune: `'.'`, `'\''`, `'\x00'`.
fn go_quote_rune(c: char) -> String {
    match c {
        '\'' => "'\\''".to_string(),
        '"' => "'\"'".to_string(),
        c => {
            let mut s = String::new();
            let _ = write_go_quoted(&mut s, &c.to_string());
            format!("'{}'", &s[1..s.len() - 1])
        }
    }
}

/// Go's `%#U` for a rune: `U+0071 'q'`.
fn go_sharp_u(c: char) -> String {
    if c.is_control() {
        format!("U+{:04X}", c as u32)
    } else {
        format!("U+{:04X} '{c}'", c as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(l: &Labels) -> Vec<(&str, &str)> {
        l.iter().collect()
    }

    #[test]
    fn parses_plain_and_sorts() {
        let l = parse_label_set(r#"{job="varlogs", filename="/var/log/syslog", host="h1"}"#).unwrap();
        assert_eq!(pairs(&l), vec![("filename", "/var/log/syslog"), ("host", "h1"), ("job", "varlogs")]);
        assert_eq!(parse_label_set("{}").unwrap(), Labels::default());
        assert_eq!(parse_label_set("").unwrap(), Labels::default());
        assert_eq!(parse_label_set(" { a = \"1\" , } ").unwrap().to_string(), r#"{a="1"}"#);
    }

    #[test]
    fn escapes_and_quote_styles() {
        let l = parse_label_set(r#"{a="x\"y\\z\n", b='it\'s', c=`raw\n`, d="\u00e9\x41\101"}"#).unwrap();
        assert_eq!(l.get("a"), Some("x\"y\\z\n"));
        assert_eq!(l.get("b"), Some("it's"));
        assert_eq!(l.get("c"), Some("raw\\n"));
        assert_eq!(l.get("d"), Some("éAA"));
    }

    #[test]
    fn quoted_utf8_names_and_metric_name() {
        let l = parse_label_set(r#"{"service.name"="x", app="y"}"#).unwrap();
        assert_eq!(pairs(&l), vec![("app", "y"), ("service.name", "x")]);
        let l = parse_label_set(r#"up{job="a"}"#).unwrap();
        assert_eq!(pairs(&l), vec![("__name__", "up"), ("job", "a")]);
        let l = parse_label_set(r#"{"up", job="a"}"#).unwrap();
        assert_eq!(pairs(&l), vec![("__name__", "up"), ("job", "a")]);
    }

    #[test]
    fn empty_values_dropped_duplicates_kept() {
        let l = parse_label_set(r#"{b="", a="1", a="2"}"#).unwrap();
        assert_eq!(pairs(&l), vec![("a", "1"), ("a", "2")]);
    }

    #[test]
    fn errors_read_like_prometheus() {
        let e = |s: &str| parse_label_set(s).unwrap_err();
        assert_eq!(e(r#"{service.name="x"}"#), "1:9: parse error: unexpected character inside braces: '.'");
        assert_eq!(e(r#"{a="b""#), "1:7: parse error: unexpected end of input inside braces");
        assert_eq!(e(r#"{a="b}"#), "1:4: parse error: unterminated quoted string");
        assert_eq!(e(r#"{a}"#), r#"1:3: parse error: unexpected "}" in label set, expected "=""#);
        assert_eq!(e(r#"{a=b}"#), r#"1:4: parse error: unexpected identifier "b" in label set, expected string"#);
        assert_eq!(e(r#"{="x"}"#), r#"1:2: parse error: unexpected "=" in label set, expected identifier or "}""#);
        assert_eq!(
            e(r#"{a="1" b="2"}"#),
            r#"1:8: parse error: unexpected identifier "b" in label set, expected "," or "}""#
        );
        assert_eq!(e(r#"{a=~"1"}"#), r#"1:3: parse error: unexpected <op:=~> in label set, expected "=""#);
        assert_eq!(e(r#"{a="\q"}"#), "1:4: parse error: unknown escape sequence U+0071 'q'");
        assert_eq!(e("{a=\"\u{FFFD}\"}"), "1:4: parse error: invalid UTF-8 rune");
        assert_eq!(e(r#"{a="1"} x"#), r#"1:9: parse error: unexpected identifier "x""#);
        assert_eq!(e("{\n a.b=\"1\"}"), "2:3: parse error: unexpected character inside braces: '.'");
    }

    #[test]
    fn plain_names() {
        assert!(is_plain_label_name("_a1"));
        assert!(!is_plain_label_name("1a"));
        assert!(!is_plain_label_name("a.b"));
        assert!(!is_plain_label_name(""));
    }
}
