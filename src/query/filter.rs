//! Line filters (`|=`, `!=`, `|~`, `!~`, `|>`, `!>`) compiled for the scan hot path.
//!
//! Substrings use a precomputed `memmem::Finder`; regexes are unanchored searches.

use memchr::memmem::Finder;
use regex::bytes::Regex;

use super::QueryError;
use crate::logql::{LineFilter, LineFilterOp, LineFilterValue};

/// One test on a line.
#[derive(Debug)]
enum Test {
    Contains(Finder<'static>),
    /// `|= ""` and friends: always true.
    Always,
    Regex(Regex),
    Pattern(LinePattern),
}

impl Test {
    fn matches(&self, line: &[u8]) -> bool {
        match self {
            Test::Contains(f) => f.find(line).is_some(),
            Test::Always => true,
            Test::Regex(r) => r.is_match(line),
            Test::Pattern(p) => p.matches(line),
        }
    }
}

/// A compiled filter: the line passes if any alternative matches (positive op) or if
/// none does (negative op).
#[derive(Debug)]
pub struct CompiledLineFilter {
    negative: bool,
    alternatives: Vec<Test>,
}

impl CompiledLineFilter {
    pub fn new(f: &LineFilter) -> Result<CompiledLineFilter, QueryError> {
        let mut alternatives = Vec::with_capacity(f.values.len());
        for v in &f.values {
            let s = match v {
                LineFilterValue::Str(s) => s,
                LineFilterValue::Ip(_) => {
                    return Err(QueryError::Unsupported("ip() line filter".into()));
                }
            };
            alternatives.push(match f.op {
                LineFilterOp::Contains | LineFilterOp::NotContains if s.is_empty() => Test::Always,
                LineFilterOp::Contains | LineFilterOp::NotContains => {
                    Test::Contains(Finder::new(s.as_bytes()).into_owned())
                }
                LineFilterOp::Match | LineFilterOp::NotMatch => Test::Regex(
                    Regex::new(s).map_err(|e| QueryError::BadRegex(e.to_string()))?,
                ),
                LineFilterOp::Pattern | LineFilterOp::NotPattern => Test::Pattern(LinePattern::new(s)?),
            });
        }
        Ok(CompiledLineFilter { negative: f.op.is_negative(), alternatives })
    }

    pub fn matches(&self, line: &[u8]) -> bool {
        let any = self.alternatives.iter().any(|t| t.matches(line));
        any != self.negative
    }

    /// The substring every passing line must contain, if this filter has exactly one
    /// positive substring: lets a scan skip whole blocks with one `memmem` pass.
    pub fn required_substring(&self) -> Option<&Finder<'static>> {
        match (self.negative, self.alternatives.as_slice()) {
            (false, [Test::Contains(f)]) => Some(f),
            _ => None,
        }
    }
}

/// `|>` pattern: literals separated by `<_>` captures (see logql.md §4.2).
#[derive(Debug)]
pub struct LinePattern {
    /// Literal parts; `captures_before[i]` tells whether a capture precedes literal i.
    literals: Vec<Vec<u8>>,
    captures_before: Vec<bool>,
    ends_with_capture: bool,
    empty: bool,
}

impl LinePattern {
    pub fn new(p: &str) -> Result<LinePattern, QueryError> {
        let mut literals = Vec::new();
        let mut captures_before = Vec::new();
        let mut pending_capture = false;
        let mut lit = Vec::new();
        let mut rest = p;
        let mut last_was_capture = false;
        while !rest.is_empty() {
            if let Some(name) = capture_at(rest) {
                if name != "_" {
                    return Err(QueryError::Pipeline(format!("named captures are not allowed: found '<{name}>'")));
                }
                if last_was_capture {
                    return Err(QueryError::Pipeline("found consecutive capture '<_><_>'".into()));
                }
                if !lit.is_empty() {
                    literals.push(std::mem::take(&mut lit));
                    captures_before.push(pending_capture);
                }
                pending_capture = true;
                last_was_capture = true;
                rest = &rest[name.len() + 2..];
            } else {
                let c = rest.chars().next().expect("non-empty");
                let mut buf = [0u8; 4];
                lit.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                rest = &rest[c.len_utf8()..];
                last_was_capture = false;
            }
        }
        let ends_with_capture = last_was_capture;
        if !lit.is_empty() {
            literals.push(lit);
            captures_before.push(pending_capture);
        }
        Ok(LinePattern { literals, captures_before, ends_with_capture, empty: p.is_empty() })
    }

    pub fn matches(&self, line: &[u8]) -> bool {
        if self.empty {
            return line.is_empty();
        }
        if line.is_empty() {
            return false;
        }
        let mut pos = 0;
        for (lit, &cap) in self.literals.iter().zip(&self.captures_before) {
            let Some(off) = memchr::memmem::find(&line[pos..], lit) else { return false };
            if cap && off == 0 && pos > 0 {
                return false;
            }
            pos += off + lit.len();
        }
        if self.ends_with_capture {
            pos < line.len()
        } else {
            pos == line.len()
        }
    }
}

/// If `s` starts with `<name>` (name = `[A-Za-z_][A-Za-z0-9_]*`), returns the name.
fn capture_at(s: &str) -> Option<&str> {
    let inner = s.strip_prefix('<')?;
    let end = inner.find('>')?;
    let name = &inner[..end];
    let mut chars = name.chars();
    let first = chars.next()?;
    if !(first.is_ascii_alphabetic() || first == '_') || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(op: LineFilterOp, vals: &[&str]) -> CompiledLineFilter {
        CompiledLineFilter::new(&LineFilter {
            op,
            values: vals.iter().map(|v| LineFilterValue::Str(v.to_string())).collect(),
        })
        .unwrap()
    }

    #[test]
    fn substring_and_or_semantics() {
        let or = f(LineFilterOp::Contains, &["payment failed", "seat already taken"]);
        assert!(or.matches(b"x seat already taken y"));
        assert!(!or.matches(b"nothing"));
        let not = f(LineFilterOp::NotContains, &["a", "b"]);
        assert!(not.matches(b"ccc"));
        assert!(!not.matches(b"cbc"));
        assert!(!f(LineFilterOp::NotContains, &[""]).matches(b"anything"));
        assert!(f(LineFilterOp::Contains, &[""]).matches(b""));
    }

    #[test]
    fn regex_is_unanchored() {
        assert!(f(LineFilterOp::Match, &["(?i)out of MEMORY"]).matches(b"kernel: Out of memory: Killed"));
        assert!(f(LineFilterOp::NotMatch, &["sshd|CRON"]).matches(b"kernel: x"));
        assert!(f(LineFilterOp::Match, &["\" 5[0-9]{2} "]).matches(b"\"GET / HTTP/1.1\" 502 10"));
    }

    #[test]
    fn pattern_filter_follows_loki() {
        let p = f(LineFilterOp::Pattern, &["<_> level=error <_>"]);
        assert!(p.matches(b"ts=1 level=error msg=x"));
        assert!(!p.matches(b"ts=1 level=info msg=x"));
        // Leading literal is not anchored in the filter form.
        assert!(f(LineFilterOp::Pattern, &["foo <_>"]).matches(b"xx foo bar"));
        assert!(!f(LineFilterOp::Pattern, &["foo"]).matches(b"foo bar"));
        assert!(CompiledLineFilter::new(&LineFilter {
            op: LineFilterOp::Pattern,
            values: vec![LineFilterValue::Str("<a> x".into())]
        })
        .is_err());
    }
}
