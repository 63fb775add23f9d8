//! Domain vocabulary shared by every layer: tenants, labels, entries, streams, time.
//!
//! Nothing here knows HTTP, JSON wire shapes or RocksDB.

use std::fmt;

/// Nanoseconds since the Unix epoch (Loki's timestamp unit everywhere).
pub type Nanos = i64;

/// Identifier of one stream (tenant + label set). Globally unique, never reused;
/// 32 bits so that sets of streams are plain roaring bitmaps.
pub type StreamId = u32;

/// Tenant name (`fake` when `auth_enabled: false`).
pub type Tenant = String;

/// A sorted (by name) set of label pairs. Names are unique.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(pub Vec<(String, String)>);

impl Labels {
    /// Builds a label set from pairs in any order; the last value of a repeated name wins.
    pub fn from_pairs(mut pairs: Vec<(String, String)>) -> Labels {
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        pairs.dedup_by(|later, earlier| {
            if later.0 == earlier.0 {
                std::mem::swap(&mut earlier.1, &mut later.1);
                true
            } else {
                false
            }
        });
        Labels(pairs)
    }

    /// The value of `name`, if present.
    #[inline]
    pub fn get(&self, name: &str) -> Option<&str> {
        // Stream label sets are small: a scan that compares lengths first touches no bytes
        // for most names, where a binary search compares bytes at every probe (this runs
        // several times per line in parsers' collision checks).
        if self.0.len() <= 16 {
            return self.0.iter().find(|(n, _)| n.len() == name.len() && n == name).map(|(_, v)| v.as_str());
        }
        self.0.binary_search_by(|(n, _)| n.as_str().cmp(name)).ok().map(|i| self.0[i].1.as_str())
    }

    /// Inserts or replaces `name`, keeping the set sorted.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.0.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) => self.0[i].1 = value.to_string(),
            Err(i) => self.0.insert(i, (name.to_string(), value.to_string())),
        }
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// Prometheus text form as Loki prints it: `{a="1", b="x\"y"}` (Go-quoted values).
impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (n, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            if is_plain_label_name(n) {
                f.write_str(n)?;
            } else {
                write_go_quoted(f, n)?;
            }
            f.write_str("=")?;
            write_go_quoted(f, v)?;
        }
        f.write_str("}")
    }
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`: names Prometheus prints without quotes.
pub fn is_plain_label_name(n: &str) -> bool {
    let mut b = n.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Writes `s` Go-quoted as label sets print (Go `strconv.Quote` escaping ASCII controls only).
pub fn write_go_quoted(out: &mut impl fmt::Write, s: &str) -> fmt::Result {
    crate::gocompat::write_quoted(out, s, crate::gocompat::Escapes::AsciiControls)
}

/// One log entry: timestamp, line and structured metadata (in push order).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    pub ts: Nanos,
    pub line: String,
    pub metadata: Vec<(String, String)>,
}

/// A batch of entries for one label set, as decoded from a push body.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PushStream {
    pub labels: Labels,
    pub entries: Vec<Entry>,
}

/// Query direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Backward,
}

/// Half-open time range `[start, end)` in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeRange {
    pub start: Nanos,
    pub end: Nanos,
}

impl TimeRange {
    pub fn contains(&self, ts: Nanos) -> bool {
        ts >= self.start && ts < self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_sort_and_print_like_loki() {
        let l = Labels::from_pairs(vec![("job".into(), "docker".into()), ("app".into(), "a\"b".into())]);
        assert_eq!(l.to_string(), r#"{app="a\"b", job="docker"}"#);
        assert_eq!(l.get("job"), Some("docker"));
        assert_eq!(l.get("nope"), None);
        let dotted = Labels::from_pairs(vec![("service.name".into(), "x".into())]);
        assert_eq!(dotted.to_string(), r#"{"service.name"="x"}"#);
    }

    #[test]
    fn repeated_name_keeps_last_value() {
        let l = Labels::from_pairs(vec![("a".into(), "1".into()), ("a".into(), "2".into())]);
        assert_eq!(l.0, vec![("a".to_string(), "2".to_string())]);
    }
}
