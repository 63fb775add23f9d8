//! Loki's `patterns` answer mined at query time: the newest lines a selector returns are
//! clustered with [`super::drain`] per detected level, and each pattern counts its lines per
//! step (timestamps in seconds).

use std::collections::BTreeMap;

use super::drain::{Config, Drain};
use crate::model::Nanos;
use crate::query::StreamResult;

/// Drain as the patterns use it: routed by token count only (the first tokens of JSON
/// lines are often variables), 300 clusters per level at most.
const DRAIN: Config = Config { depth: 2, similarity: 0.3, max_children: 100, max_clusters: 300 };

/// Lines mined per request at most (the newest ones): bounds the time of a request.
pub const MAX_LINES: usize = 20_000;

/// One pattern: its text, level and `(unix seconds, count)` per step, ascending.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    pub pattern: String,
    pub level: String,
    pub samples: Vec<(i64, i64)>,
}

/// Clusters the entries of `streams` per level (`detected_level` metadata or the stream's
/// `detected_level`/`level` label, else `unknown`) and counts each cluster's lines per step
/// aligned to `step`. Patterns that are only placeholders are left out. Sorted by total
/// count, largest first, then by pattern.
pub fn mine(streams: &[StreamResult], step: Nanos) -> Vec<Pattern> {
    let mut drains: BTreeMap<String, (Drain, Vec<Nanos>)> = BTreeMap::new();
    for s in streams {
        for e in &s.entries {
            let level = e
                .metadata
                .iter()
                .find(|(k, _)| k == "detected_level")
                .map(|(_, v)| v.as_str())
                .or_else(|| s.labels.get("detected_level"))
                .or_else(|| s.labels.get("level"))
                .unwrap_or("unknown");
            let (d, ts) = drains.entry(level.to_string()).or_insert_with(|| (Drain::new(DRAIN), Vec::new()));
            let id = ts.len();
            ts.push(e.ts);
            d.add(id, &e.line);
        }
    }
    let mut out = Vec::new();
    for (level, (d, ts)) in drains {
        for c in &d.clusters {
            let pattern = c.pattern();
            if pattern.split(' ').all(|t| t == super::drain::WILDCARD) {
                continue;
            }
            let mut counts: BTreeMap<i64, i64> = BTreeMap::new();
            for &m in &c.members {
                let t = ts[m];
                *counts.entry((t - t.rem_euclid(step)) / 1_000_000_000).or_default() += 1;
            }
            out.push(Pattern { pattern, level: level.clone(), samples: counts.into_iter().collect() });
        }
    }
    let total = |p: &Pattern| p.samples.iter().map(|s| s.1).sum::<i64>();
    out.sort_by(|a, b| total(b).cmp(&total(a)).then_with(|| a.pattern.cmp(&b.pattern)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Labels;
    use crate::query::result::ResultEntry;

    #[test]
    fn patterns_count_lines_per_step_and_level() {
        let e = |ts: i64, line: &str, lvl: &str| ResultEntry {
            ts: ts * 1_000_000_000,
            line: line.into(),
            metadata: vec![("detected_level".into(), lvl.into())],
            parsed: vec![],
        };
        let s = StreamResult {
            labels: Labels(vec![("job".into(), "a".into())]),
            entries: vec![
                e(125, "user 2 logged in", "info"),
                e(61, "user 1 logged in", "info"),
                e(60, "user 3 logged in", "info"),
                e(59, "disk full on sda", "error"),
            ],
        };
        let p = mine(&[s], 60 * 1_000_000_000);
        assert_eq!(
            p[0],
            Pattern { pattern: "user <_> logged in".into(), level: "info".into(), samples: vec![(60, 2), (120, 1)] }
        );
        assert_eq!(p[1], Pattern { pattern: "disk full on sda".into(), level: "error".into(), samples: vec![(0, 1)] });
    }
}
