//! Lexing of Go templates: text vs actions (`{{- … -}}` trimming, comments), action tokens, and
//! literal syntax: number constants (with Go's int/float distinction), quoted strings and
//! characters (`strconv.Unquote`).

use super::parse::{Item, Kind, Parser, Tok, Toks};
use crate::gocompat::strconv::unquote;

impl Parser<'_> {
    pub(super) fn lex(&mut self) -> Result<(), String> {
        let src = self.src;
        let mut i = 0;
        let mut trim_next = false;
        while i <= src.len() {
            let open = src[i..].find("{{").map(|o| i + o);
            let text_end = open.unwrap_or(src.len());
            let mut text = &src[i..text_end];
            if trim_next {
                text = text.trim_start_matches([' ', '\t', '\r', '\n']);
            }
            let Some(open) = open else {
                if !text.is_empty() {
                    self.items.push(Item::Text(text.to_string()));
                }
                break;
            };
            let mut j = open + 2;
            if src[j..].starts_with("- ")
                || src[j..].starts_with("-\t")
                || src[j..].starts_with("-\n")
                || src[j..].starts_with("-\r")
            {
                text = text.trim_end_matches([' ', '\t', '\r', '\n']);
                j += 1;
            }
            if !text.is_empty() {
                self.items.push(Item::Text(text.to_string()));
            }
            let inner_start = j;
            let trimmed = src[j..].trim_start_matches([' ', '\t', '\r', '\n']);
            if trimmed.starts_with("/*") {
                let c = src.len() - trimmed.len();
                let end = src[c..].find("*/").ok_or_else(|| self.err(open, "unclosed comment"))? + c + 2;
                let rest = &src[end..];
                let rest_t = rest.trim_start_matches([' ', '\t', '\r', '\n']);
                if let Some(r) = rest_t.strip_prefix("-}}") {
                    trim_next = true;
                    i = src.len() - r.len();
                } else if let Some(r) = rest.strip_prefix("}}") {
                    trim_next = false;
                    i = src.len() - r.len();
                } else {
                    return Err(self.err(open, "comment ends before closing delimiter"));
                }
                continue;
            }
            let (toks, end, trim) = self.lex_action(inner_start)?;
            trim_next = trim;
            self.items.push(Item::Action { pos: open, toks });
            i = end;
        }
        Ok(())
    }

    /// Lexes one action body starting at `i`; returns tokens, the offset after `}}`, and whether
    /// the action ended with `-}}`.
    fn lex_action(&self, mut i: usize) -> Result<(Toks, usize, bool), String> {
        let src = self.src;
        let b = src.as_bytes();
        let mut toks = Vec::new();
        loop {
            if i >= b.len() {
                return Err(self.err(i, "unclosed action"));
            }
            let c = b[i];
            if src[i..].starts_with("}}") {
                return Ok((toks, i + 2, false));
            }
            if matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
                let ws_end = i + src[i..].len() - src[i..].trim_start_matches([' ', '\t', '\r', '\n']).len();
                if src[ws_end..].starts_with("-}}") {
                    return Ok((toks, ws_end + 3, true));
                }
                i = ws_end;
                continue;
            }
            let start = i;
            let ident_len = |from: usize| {
                src[from..].find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(src.len() - from)
            };
            let tok = match c {
                b'|' => {
                    i += 1;
                    Tok::Pipe
                }
                b'(' => {
                    i += 1;
                    Tok::LParen
                }
                b')' => {
                    i += 1;
                    Tok::RParen
                }
                b',' => {
                    i += 1;
                    Tok::Comma
                }
                b':' if src[i..].starts_with(":=") => {
                    i += 2;
                    Tok::Declare
                }
                b'=' => {
                    i += 1;
                    Tok::Assign
                }
                b'"' => {
                    let mut j = i + 1;
                    loop {
                        match b.get(j) {
                            None | Some(b'\n') => return Err(self.err(i, "unterminated quoted string")),
                            Some(b'\\') => j += 2,
                            Some(b'"') => break,
                            _ => j += 1,
                        }
                    }
                    let s = unquote(&src[i + 1..j], '"').ok_or_else(|| self.err(i, "invalid syntax"))?;
                    i = j + 1;
                    Tok::Str(s)
                }
                b'`' => {
                    let end = src[i + 1..].find('`').ok_or_else(|| self.err(i, "unterminated raw quoted string"))?;
                    let s = src[i + 1..i + 1 + end].to_string();
                    i += end + 2;
                    Tok::Str(s)
                }
                b'\'' => {
                    let end = src[i + 1..].find('\'').ok_or_else(|| self.err(i, "unterminated character constant"))?;
                    let s = unquote(&src[i + 1..i + 1 + end], '\'').ok_or_else(|| self.err(i, "invalid syntax"))?;
                    i += end + 2;
                    Tok::Char(s.chars().next().unwrap_or('\0'))
                }
                b'$' => {
                    let n = ident_len(i + 1);
                    let name = src[i + 1..i + 1 + n].to_string();
                    i += 1 + n;
                    Tok::Var(name)
                }
                b'.' if b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                    let n = number_len(&src[i..]);
                    i += n;
                    Tok::Num(src[start..i].to_string())
                }
                b'.' => {
                    let n = ident_len(i + 1);
                    i += 1 + n;
                    if n == 0 {
                        Tok::Dot
                    } else {
                        Tok::Field(src[start + 1..i].to_string())
                    }
                }
                b'0'..=b'9' | b'+' | b'-' => {
                    let n = number_len(&src[i..]);
                    if n == 0 {
                        return Err(
                            self.err(i, &format!("bad character {}", crate::gocompat::strconv::quote_char(c as char)))
                        );
                    }
                    i += n;
                    Tok::Num(src[start..i].to_string())
                }
                _ if c.is_ascii_alphabetic() || c == b'_' || (c >= 0x80 && ident_len(i) > 0) => {
                    // A non-letter multi-byte character is not an identifier: it falls to
                    // the error below instead of being cut in the middle.
                    i += ident_len(i).max(1);
                    Tok::Ident(src[start..i].to_string())
                }
                _ => {
                    let ch = src[i..].chars().next().unwrap_or('?');
                    return Err(
                        self.err(i, &format!("unexpected {} in command", crate::gocompat::strconv::quote_char(ch)))
                    );
                }
            };
            toks.push((tok, start, i));
        }
    }
}

pub fn go_quote_s(s: &str) -> String {
    crate::query::pipeline::conv::go_quote(s)
}

/// Length of a Go number literal at the start of `s` (sign, digits, `.`, exponent, base prefix).
pub fn number_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+') | Some(b'-')) {
        i += 1;
    }
    let start = i;
    let hex = s[i..].len() > 1 && b[i] == b'0' && matches!(b[i + 1], b'x' | b'X');
    if hex {
        i += 2;
    }
    while i < b.len() {
        let c = b[i];
        let ok = c.is_ascii_digit()
            || c == b'_'
            || c == b'.'
            || (hex && c.is_ascii_hexdigit())
            || (!hex && matches!(c, b'e' | b'E'))
            || (hex && matches!(c, b'p' | b'P'))
            || (matches!(c, b'+' | b'-') && matches!(b[i - 1], b'e' | b'E' | b'p' | b'P'))
            || (i == start + 1 && b[start] == b'0' && matches!(c, b'o' | b'O' | b'b' | b'B'));
        if !ok {
            break;
        }
        i += 1;
    }
    if i == start {
        0
    } else {
        i
    }
}

pub fn parse_number(n: &str) -> Option<Kind> {
    let int = crate::query::pipeline::conv::parse_int_base0(n);
    let is_float = int.is_none() || (!n.starts_with("0x") && n.contains(['.', 'e', 'E']));
    let float = match int {
        Some(i) if !is_float => i as f64,
        _ => crate::query::pipeline::conv::parse_float(n).ok()?,
    };
    let int = if is_float { None } else { int };
    Some(Kind::Num { int, float, is_float })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by tests/it/properties_pipeline.rs: a multi-byte character that is not a letter
    /// was cut in the middle (its lead byte read as a Latin-1 letter) and panicked.
    #[test]
    fn non_letter_multibyte_characters_are_errors_not_panics() {
        assert!(crate::query::template::Template::parse("line", "{{ .path | tr\u{10a75e}nc 10 }}").is_err());
        assert!(crate::query::template::Template::parse("line", "{{ .path | trünc }}").is_err());
    }

    #[test]
    fn literals() {
        assert_eq!(number_len("12 x"), 2);
        assert_eq!(number_len(".2}}"), 2);
        assert_eq!(number_len("-1.5e3)"), 6);
        assert!(matches!(parse_number("1e3"), Some(Kind::Num { is_float: true, .. })));
        assert!(matches!(parse_number("0x10"), Some(Kind::Num { int: Some(16), .. })));
    }
}
