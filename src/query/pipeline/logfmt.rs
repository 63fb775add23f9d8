//! logfmt decoder with the behaviour of Loki's (`pkg/logql/log/logfmt/decode.go`, adapted from
//! go-logfmt): whitespace-separated `key=value` pairs, quoted values with JSON-like escapes, and
//! `logfmt syntax error at pos N : …` errors.

use std::borrow::Cow;

/// Iterates the pairs of one line.
pub struct Decoder<'l> {
    line: &'l [u8],
    pos: usize,
    key: &'l [u8],
    value: Cow<'l, [u8]>,
    err: Option<String>,
}

impl<'l> Decoder<'l> {
    pub fn new(line: &'l [u8]) -> Decoder<'l> {
        Decoder { line, pos: 0, key: b"", value: Cow::Borrowed(b""), err: None }
    }

    pub fn eol(&self) -> bool {
        self.pos >= self.line.len()
    }

    pub fn key(&self) -> &'l [u8] {
        self.key
    }

    pub fn value(&self) -> &[u8] {
        &self.value
    }

    /// The current value, borrowed from the line unless it had escapes (for callers that keep
    /// it past the next `scan`, like ingest's level detection).
    pub fn value_cow(&self) -> Cow<'l, [u8]> {
        self.value.clone()
    }

    /// The first syntax error met (`logfmt syntax error at pos N : msg`).
    pub fn err(&self) -> Option<&str> {
        self.err.as_deref()
    }

    fn syntax_error(&mut self, msg: &str) {
        self.err = Some(format!("logfmt syntax error at pos {} : {msg}", self.pos + 1));
    }

    fn unexpected(&mut self, c: u8) {
        let shown = if c == b'\'' { "'\\''".to_string() } else { format!("'{}'", c as char) };
        self.err = Some(format!("logfmt syntax error at pos {} : unexpected {shown}", self.pos + 1));
    }

    fn skip_value(&mut self) -> bool {
        let rest = &self.line[self.pos..];
        self.pos += rest.iter().position(|&c| c <= b' ').unwrap_or(rest.len());
        false
    }

    fn bad_key(key: &[u8], multibyte: bool) -> bool {
        multibyte && String::from_utf8_lossy(key).contains('\u{FFFD}')
    }

    /// Advances to the next pair; false on a malformed pair or at the end of the line.
    pub fn scan(&mut self) -> bool {
        self.key = b"";
        self.value = Cow::Borrowed(b"");
        let line = self.line;
        match line[self.pos..].iter().position(|&c| c > b' ') {
            Some(p) => self.pos += p,
            None => {
                self.pos = line.len();
                return false;
            }
        }
        // key
        let start = self.pos;
        let mut multibyte = false;
        loop {
            if self.pos >= line.len() {
                self.key = &line[start..];
                if Self::bad_key(self.key, multibyte) {
                    self.syntax_error("invalid key");
                    return false;
                }
                return true;
            }
            let c = line[self.pos];
            if c == b'=' {
                if self.pos == start {
                    self.unexpected(c);
                    return self.skip_value();
                }
                self.key = &line[start..self.pos];
                if Self::bad_key(self.key, multibyte) {
                    self.syntax_error("invalid key");
                    return self.skip_value();
                }
                break;
            } else if c == b'"' {
                self.unexpected(c);
                return self.skip_value();
            } else if c <= b' ' {
                self.key = &line[start..self.pos];
                if Self::bad_key(self.key, multibyte) {
                    self.syntax_error("invalid key");
                    return false;
                }
                return true;
            } else if c >= 0x80 {
                multibyte = true;
            }
            self.pos += 1;
        }
        // equal sign
        self.pos += 1;
        if self.pos >= line.len() {
            return true;
        }
        let c = line[self.pos];
        if c <= b' ' {
            return true;
        }
        if c == b'"' {
            return self.quoted_value();
        }
        let start = self.pos;
        while self.pos < line.len() {
            let c = line[self.pos];
            if c == b'=' || c == b'"' {
                self.unexpected(c);
                return self.skip_value();
            }
            if c <= b' ' {
                break;
            }
            self.pos += 1;
        }
        self.value = Cow::Borrowed(&line[start..self.pos]);
        true
    }

    fn quoted_value(&mut self) -> bool {
        let line = self.line;
        let start = self.pos;
        let (mut has_esc, mut esc) = (false, false);
        let mut p = start + 1;
        while p < line.len() {
            let c = line[p];
            if esc {
                esc = false;
            } else if c == b'\\' {
                has_esc = true;
                esc = true;
            } else if c == b'"' {
                self.pos = p + 1;
                let inner = &line[start + 1..p];
                if has_esc {
                    match unquote(inner) {
                        Some(v) => self.value = Cow::Owned(v),
                        None => {
                            self.syntax_error("invalid quoted value");
                            return false;
                        }
                    }
                } else {
                    self.value = Cow::Borrowed(inner);
                }
                return true;
            }
            p += 1;
        }
        self.pos = line.len();
        self.syntax_error("unterminated quoted value");
        false
    }
}

/// Go `encoding/json`-style unquoting of a quoted logfmt value's inside (also accepts `\'`).
fn unquote(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    super::json::unescape_with(s, &mut out, super::json::Escapes::Logfmt).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(line: &str) -> (Vec<(String, String)>, Option<String>) {
        let mut d = Decoder::new(line.as_bytes());
        let mut out = Vec::new();
        while !d.eol() {
            if d.scan() {
                out.push((
                    String::from_utf8_lossy(d.key()).into_owned(),
                    String::from_utf8_lossy(d.value()).into_owned(),
                ));
            }
        }
        (out, d.err().map(str::to_string))
    }

    #[test]
    fn decodes_like_go_logfmt() {
        let (p, e) = pairs(
            r#"ts=2026-02-02T13:00:08.475Z level=debug msg="template rendered" to=user15@example.com flag x= q="a\"b""#,
        );
        assert_eq!(e, None);
        assert_eq!(p[2], ("msg".into(), "template rendered".into()));
        assert_eq!(p[4], ("flag".into(), "".into()));
        assert_eq!(p[5], ("x".into(), "".into()));
        assert_eq!(p[6], ("q".into(), "a\"b".into()));
        let (p, e) = pairs("foo=bar=buzz a=b");
        assert_eq!(p, vec![("a".into(), "b".into())]);
        assert_eq!(e.unwrap(), "logfmt syntax error at pos 8 : unexpected '='");
        assert_eq!(pairs(r#"a="open"#).1.unwrap(), "logfmt syntax error at pos 8 : unterminated quoted value");
        assert_eq!(pairs(r#"a"b=c"#).1.unwrap(), "logfmt syntax error at pos 2 : unexpected '\"'");
    }
}
