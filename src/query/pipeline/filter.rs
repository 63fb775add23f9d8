//! Line filters (`|=`, `!=`, `|~`, `!~`, `|>`, `!>`) compiled for the scan hot path.
//!
//! Substrings use a precomputed `memmem::Finder`; regexes are unanchored searches; `ip("…")`
//! operands scan the line for addresses (§4.9).

use memchr::memmem::Finder;
use regex::bytes::Regex;

use super::ip::IpMatcher;
use super::pattern::Pattern;
use crate::logql::{LineFilter, LineFilterOp, LineFilterValue};
use crate::query::QueryError;

/// One test on a line.
#[derive(Debug)]
enum Test {
    Contains(Box<Finder<'static>>),
    /// `|= ""` and friends: always true.
    Always,
    Regex(Regex),
    Pattern(Pattern),
    Ip(IpMatcher),
}

impl Test {
    fn matches(&self, line: &[u8]) -> bool {
        match self {
            Test::Contains(f) => f.find(line).is_some(),
            Test::Always => true,
            Test::Regex(r) => r.is_match(line),
            Test::Pattern(p) => p.test(line),
            Test::Ip(m) => m.matches(line),
        }
    }
}

/// Compiles a Go RE2 regex (as Loki does) through its Rust translation.
pub fn go_regex(re: &str) -> Result<Regex, QueryError> {
    let g = crate::gocompat::translate_go_regex(re).map_err(QueryError::BadRegex)?;
    Regex::new(&g.rust).map_err(|e| QueryError::BadRegex(e.to_string()))
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
                LineFilterValue::Ip(p) => {
                    if !matches!(f.op, LineFilterOp::Contains | LineFilterOp::NotContains) {
                        return Err(QueryError::IpOperation);
                    }
                    alternatives.push(Test::Ip(IpMatcher::new(p).map_err(QueryError::Pipeline)?));
                    continue;
                }
            };
            alternatives.push(match f.op {
                LineFilterOp::Contains | LineFilterOp::NotContains if s.is_empty() => Test::Always,
                LineFilterOp::Contains | LineFilterOp::NotContains => {
                    Test::Contains(Box::new(Finder::new(s.as_bytes()).into_owned()))
                }
                LineFilterOp::Match | LineFilterOp::NotMatch => Test::Regex(go_regex(s)?),
                LineFilterOp::Pattern | LineFilterOp::NotPattern => {
                    Test::Pattern(Pattern::new_line_filter(s).map_err(QueryError::Pipeline)?)
                }
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

    #[test]
    fn ip_operands() {
        let ipf = |op, vals: &[&str]| {
            CompiledLineFilter::new(&LineFilter {
                op,
                values: vals.iter().map(|v| LineFilterValue::Ip(v.to_string())).collect(),
            })
        };
        let f = ipf(LineFilterOp::Contains, &["10.0.1.0/24"]).unwrap();
        assert!(f.matches(b"10.0.1.174 - - [02/Feb/2026:13:59:55 +0000]"));
        assert!(!f.matches(b"10.0.2.174 - -"));
        assert!(ipf(LineFilterOp::NotContains, &["10.0.1.0/24"]).unwrap().matches(b"10.0.2.174 - -"));
        assert_eq!(ipf(LineFilterOp::Match, &["10.0.1.0/24"]).unwrap_err().to_string(), "ip: invalid operation");
    }
}
