//! Label matchers compiled for execution: `=`, `!=`, `=~`, `!~` with Prometheus semantics.
//!
//! Regexes are fully anchored (`^(?:re)$`); a missing label has the value `""`.

use regex::Regex;

use crate::logql::{MatchOp, Matcher};

/// A matcher ready to test values.
#[derive(Clone, Debug)]
pub struct CompiledMatcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    re: Option<Regex>,
}

impl CompiledMatcher {
    pub fn new(m: &Matcher) -> Result<CompiledMatcher, String> {
        let re = match m.op {
            MatchOp::Re | MatchOp::Nre => {
                // The query's regex is Go RE2 syntax; translate it exactly as the parser
                // validated it.
                let go = crate::gocompat::translate_go_regex(&m.value)?;
                Some(Regex::new(&format!("^(?:{})$", go.rust)).map_err(|e| e.to_string())?)
            }
            _ => None,
        };
        Ok(CompiledMatcher { name: m.name.clone(), op: m.op, value: m.value.clone(), re })
    }

    /// Tests a label value (`""` when the label is absent).
    pub fn matches(&self, v: &str) -> bool {
        match self.op {
            MatchOp::Eq => v == self.value,
            MatchOp::Neq => v != self.value,
            MatchOp::Re => self.re.as_ref().is_some_and(|r| r.is_match(v)),
            MatchOp::Nre => !self.re.as_ref().is_some_and(|r| r.is_match(v)),
        }
    }

    /// Whether a stream *without* this label matches.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }
}

pub fn compile_all(ms: &[Matcher]) -> Result<Vec<CompiledMatcher>, String> {
    ms.iter().map(CompiledMatcher::new).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, op: MatchOp, value: &str) -> CompiledMatcher {
        CompiledMatcher::new(&Matcher { name: name.into(), op, value: value.into() }).unwrap()
    }

    #[test]
    fn regexes_are_anchored() {
        let r = m("a", MatchOp::Re, "api|ticket");
        assert!(r.matches("api"));
        assert!(!r.matches("api-server"));
        assert!(m("a", MatchOp::Re, ".*").matches_empty());
        assert!(!m("a", MatchOp::Re, ".+").matches_empty());
        assert!(m("a", MatchOp::Nre, "docker|nginx").matches("worker"));
        assert!(!m("a", MatchOp::Nre, "docker|nginx").matches("nginx"));
        assert!(m("a", MatchOp::Neq, "x").matches_empty());
    }
}
