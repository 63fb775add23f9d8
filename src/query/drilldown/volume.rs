//! Loki's `index/volume` and `index/volume_range`: line bytes per series or per label
//! name, summed per step bucket, from block headers and line lengths (no line is read).

use std::collections::BTreeMap;

use crate::logql::{MatchOp, Matcher};
use crate::model::{Labels, Nanos, TimeRange};
use crate::query::{Engine, QueryError};
use crate::store::block::Block;

/// What to sum and how to name the sums.
#[derive(Debug, Clone)]
pub struct VolumeQuery {
    /// The selector's matchers; empty for `{}` (every stream, every label kept).
    pub matchers: Vec<Matcher>,
    /// `targetLabels`: aggregate into these labels only (streams must have them).
    pub targets: Vec<String>,
    /// `aggregateBy=series` (true) or `labels`.
    pub by_series: bool,
    pub start: Nanos,
    pub end: Nanos,
    /// Bucket width for `volume_range`; 0 for the instant form (one bucket).
    pub step: Nanos,
    pub limit: usize,
}

/// Loki's `volume_max_series` default: more names than this in one answer is an error.
pub const MAX_SERIES: usize = 1000;

/// Loki's `ErrVolumeMaxSeriesHit`.
fn check_series(names: usize) -> Result<(), QueryError> {
    if names > MAX_SERIES {
        return Err(QueryError::VolumeSeriesLimit { max: MAX_SERIES });
    }
    Ok(())
}

/// One answer row: the series labels (or `{name: ""}` by labels) and `(bucket end ms, bytes)`.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeSeries {
    pub name: String,
    pub labels: Labels,
    pub samples: Vec<(i64, u64)>,
}

/// Loki's `util.ForInterval` with an inclusive end: buckets aligned to `step`, the first
/// starting at `start`, each ending 1 ms before the next one starts, the last at `end`.
/// Returns `(from, to_inclusive)` in nanoseconds.
pub fn buckets(start: Nanos, end: Nanos, step: Nanos) -> Vec<(Nanos, Nanos)> {
    if step <= 0 {
        return vec![(start, end)];
    }
    let mut out = Vec::new();
    let mut s = start - start.rem_euclid(step);
    let mut first = true;
    while s < end {
        let mut e = s + step;
        if e >= end {
            e = end;
        } else {
            e -= 1_000_000;
        }
        out.push((if first { start } else { s }, e));
        first = false;
        s += step;
    }
    out
}

/// Runs a volume query: per bucket, the top `limit` names by bytes (ties by name), as
/// Loki merges each bucket's answer; rows sorted by their first sample, largest first.
pub fn volume(engine: &Engine, tenant: &str, q: &VolumeQuery) -> Result<Vec<VolumeSeries>, QueryError> {
    let mut matchers = q.matchers.clone();
    for t in &q.targets {
        if !matchers.iter().any(|m| &m.name == t) {
            matchers.push(Matcher { name: t.clone(), op: MatchOp::Re, value: ".+".into() });
        }
    }
    let keep: Option<Vec<&str>> = if !q.targets.is_empty() {
        Some(q.targets.iter().map(String::as_str).collect())
    } else if q.matchers.is_empty() {
        None
    } else {
        Some(q.matchers.iter().map(|m| m.name.as_str()).collect())
    };
    let bks = buckets(q.start, q.end, q.step);
    let range = TimeRange { start: q.start, end: q.end.saturating_add(1) };
    let snap = engine.rocks.snapshot();
    let streams = crate::query::logs::matching_streams(engine, &snap, tenant, &matchers, range)?;
    // name → bytes per bucket
    let mut sums: BTreeMap<String, (Labels, Vec<u64>)> = BTreeMap::new();
    let mut per_bucket = vec![0u64; bks.len()];
    for meta in streams {
        let id = meta.id;
        per_bucket.iter_mut().for_each(|b| *b = 0);
        stream_bytes(&snap, id, range, &bks, &mut per_bucket)?;
        if per_bucket.iter().all(|b| *b == 0) {
            continue;
        }
        let kept = |n: &str| keep.as_ref().is_none_or(|k| k.contains(&n));
        if q.by_series {
            let labels = Labels::from_pairs(
                meta.labels.iter().filter(|(n, _)| kept(n)).map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            );
            let name = labels.to_string();
            let e = sums.entry(name).or_insert_with(|| (labels, vec![0; bks.len()]));
            e.1.iter_mut().zip(&per_bucket).for_each(|(a, b)| *a += b);
            check_series(sums.len())?;
        } else {
            for (n, _) in meta.labels.iter().filter(|(n, _)| q.targets.is_empty() || kept(n)) {
                let e = sums
                    .entry(n.to_string())
                    .or_insert_with(|| (Labels::from_pairs(vec![(n.to_string(), String::new())]), vec![0; bks.len()]));
                e.1.iter_mut().zip(&per_bucket).for_each(|(a, b)| *a += b);
            }
            check_series(sums.len())?;
        }
    }
    Ok(rows(sums, &bks, q.limit))
}

/// Per bucket top-`limit` (Loki's `MapToVolumeResponse`), then Loki's row order.
fn rows(sums: BTreeMap<String, (Labels, Vec<u64>)>, bks: &[(Nanos, Nanos)], limit: usize) -> Vec<VolumeSeries> {
    let mut out: BTreeMap<String, VolumeSeries> = BTreeMap::new();
    for (b, (_, to)) in bks.iter().enumerate() {
        let mut vols: Vec<(&String, u64)> = sums.iter().map(|(n, (_, v))| (n, v[b])).filter(|(_, v)| *v > 0).collect();
        vols.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        vols.truncate(limit);
        for (name, bytes) in vols {
            out.entry(name.clone())
                .or_insert_with(|| VolumeSeries {
                    name: name.clone(),
                    labels: sums[name].0.clone(),
                    samples: Vec::new(),
                })
                .samples
                .push((to.div_euclid(1_000_000), bytes));
        }
    }
    let mut rows: Vec<VolumeSeries> = out.into_values().collect();
    rows.sort_by(|a, b| b.samples[0].1.cmp(&a.samples[0].1).then_with(|| a.name.cmp(&b.name)));
    rows
}

/// Adds the line bytes of stream `id`'s entries in each bucket to `out`, reading only
/// block timestamps and line lengths (lines stay compressed).
fn stream_bytes(
    snap: &crate::store::Snapshot,
    id: u32,
    range: TimeRange,
    bks: &[(Nanos, Nanos)],
    out: &mut [u64],
) -> Result<(), QueryError> {
    snap.stream_block_values(id, range, |_, v| {
        let block = Block::decode_lazy(v).map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))?;
        let mut bi = 0;
        for i in block.lower_bound(range.start)..block.len() {
            let ts = block.ts(i);
            if ts >= range.end {
                break;
            }
            while bi + 1 < bks.len() && ts > bks[bi].1 {
                bi += 1;
            }
            if ts >= bks[bi].0 && ts <= bks[bi].1 {
                out[bi] += block.line_len(i) as u64;
            }
        }
        Ok(true)
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn buckets_follow_lokis_for_interval() {
        assert_eq!(buckets(5, 100, 0), vec![(5, 100)]);
        let b = buckets(90 * S, 250 * S, 100 * S);
        assert_eq!(b, vec![(90 * S, 100 * S - 1_000_000), (100 * S, 200 * S - 1_000_000), (200 * S, 250 * S)]);
    }

    #[test]
    fn too_many_names_is_lokis_error() {
        assert!(check_series(MAX_SERIES).is_ok());
        assert_eq!(
            check_series(MAX_SERIES + 1).unwrap_err().to_string(),
            "the query hit the max number of series limit (limit: 1000 series)"
        );
    }

    #[test]
    fn rows_are_limited_per_bucket_and_sorted_by_first_sample() {
        let l = |n: &str| Labels::from_pairs(vec![(n.to_string(), String::new())]);
        let sums = BTreeMap::from([
            ("a".to_string(), (l("a"), vec![5, 1])),
            ("b".to_string(), (l("b"), vec![9, 0])),
            ("c".to_string(), (l("c"), vec![5, 7])),
        ]);
        let bks = [(0, 999_999), (S, 2 * S)];
        let r = rows(sums, &bks, 2);
        let names: Vec<&str> = r.iter().map(|r| r.name.as_str()).collect();
        // bucket 0 keeps b (9) and a (5, before c by name); bucket 1 keeps c and a; c's
        // first sample (7) ranks it before a (5).
        assert_eq!(names, vec!["b", "c", "a"]);
        assert_eq!(r[2].samples, vec![(0, 5), (2000, 1)]);
        assert_eq!(r[1].samples, vec![(2000, 7)]);
    }
}
