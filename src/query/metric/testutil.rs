//! Test support: an in-memory [`LogSource`] over `(ts, labels, line)` with a toy pipeline
//! (`| json` flat/nested, `| logfmt`, line `|=`, label filters) and result helpers.

use std::cell::Cell;

use super::convert::PostFilter;
use crate::logql::{parse_expr, Expr};
use crate::logql::{LineFilterOp, LineFilterValue, LogExpr, MatchOp, MetricExpr, Stage};
use crate::model::{Labels, Nanos};
use crate::query::source::{LogSource, ProcessedEntry, StreamScan, StreamSink};
use crate::query::{QueryError, QueryResult};

pub const S: i64 = 1_000_000_000;

pub fn labels(p: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(p.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect())
}

pub struct MemSource {
    entries: Vec<(Nanos, Labels, String)>,
    /// How many scans were made (one per log range expected).
    pub scans: Cell<usize>,
}

impl MemSource {
    pub fn new<L: Into<String>>(mut entries: Vec<(Nanos, Labels, L)>) -> MemSource {
        entries.sort_by_key(|e| e.0);
        MemSource { entries: entries.into_iter().map(|(t, l, s)| (t, l, s.into())).collect(), scans: Cell::new(0) }
    }
}

fn add_parsed(l: &mut Labels, orig: &Labels, k: &str, v: &str) {
    let name = if orig.get(k).is_some() { format!("{k}_extracted") } else { k.to_string() };
    if l.get(&name).is_none() || orig.get(&name).is_none() {
        l.set(&name, v);
    }
}

fn flatten(prefix: &str, v: &serde_json::Value, orig: &Labels, out: &mut Labels) {
    if let serde_json::Value::Object(m) = v {
        for (k, v) in m {
            let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}_{k}") };
            match v {
                serde_json::Value::Object(_) => flatten(&key, v, orig, out),
                serde_json::Value::String(s) => add_parsed(out, orig, &key, s),
                serde_json::Value::Number(n) => add_parsed(out, orig, &key, &n.to_string()),
                serde_json::Value::Bool(b) => add_parsed(out, orig, &key, &b.to_string()),
                _ => {}
            }
        }
    }
}

fn logfmt(line: &str, orig: &Labels, out: &mut Labels) {
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        let eq = rest.find(['=', ' ']).unwrap_or(rest.len());
        let key = &rest[..eq];
        rest = &rest[eq..];
        let mut val = String::new();
        if let Some(r) = rest.strip_prefix('=') {
            if let Some(q) = r.strip_prefix('"') {
                let end = q.find('"').unwrap_or(q.len());
                val = q[..end].to_string();
                rest = &q[(end + 1).min(q.len())..];
            } else {
                let end = r.find(' ').unwrap_or(r.len());
                val = r[..end].to_string();
                rest = &r[end..];
            }
        }
        if !key.is_empty() && !val.is_empty() {
            add_parsed(out, orig, key, &val);
        }
        rest = rest.trim_start();
    }
}

fn matches(e: &LogExpr, l: &Labels) -> bool {
    e.matchers.iter().all(|m| {
        let v = l.get(&m.name).unwrap_or("");
        match m.op {
            MatchOp::Eq => v == m.value,
            MatchOp::Neq => v != m.value,
            MatchOp::Re => regex::Regex::new(&format!("^(?:{})$", m.value)).unwrap().is_match(v),
            MatchOp::Nre => !regex::Regex::new(&format!("^(?:{})$", m.value)).unwrap().is_match(v),
        }
    })
}

impl LogSource for MemSource {
    fn for_each_entry(
        &self,
        log: &LogExpr,
        from: Nanos,
        to: Nanos,
        f: &mut dyn FnMut(ProcessedEntry<'_>) -> Result<(), QueryError>,
    ) -> Result<(), QueryError> {
        self.scans.set(self.scans.get() + 1);
        let filters: Vec<Option<PostFilter>> = log
            .stages
            .iter()
            .map(|s| match s {
                Stage::LabelFilter(lf) => Some(PostFilter::compile(lf).unwrap()),
                _ => None,
            })
            .collect();
        'entries: for (ts, orig, line) in &self.entries {
            if *ts < from || *ts >= to || !matches(log, orig) {
                continue;
            }
            let mut l = std::borrow::Cow::Borrowed(orig);
            for (s, filter) in log.stages.iter().zip(&filters) {
                match s {
                    Stage::Json(x) if x.is_empty() => match serde_json::from_str::<serde_json::Value>(line) {
                        Ok(v) => flatten("", &v, orig, l.to_mut()),
                        Err(_) => {
                            l.to_mut().set("__error__", "JSONParserErr");
                            l.to_mut().set("__error_details__", "invalid json");
                        }
                    },
                    Stage::Logfmt { extractions, .. } if extractions.is_empty() => logfmt(line, orig, l.to_mut()),
                    Stage::LineFilter(lf) => {
                        let hit = lf.values.iter().any(|v| match v {
                            LineFilterValue::Str(s) => line.contains(s.as_str()),
                            LineFilterValue::Ip(_) => unimplemented!(),
                        });
                        let keep = match lf.op {
                            LineFilterOp::Contains => hit,
                            LineFilterOp::NotContains => !hit,
                            _ => unimplemented!(),
                        };
                        if !keep {
                            continue 'entries;
                        }
                    }
                    Stage::LabelFilter(_) => {
                        if !filter.as_ref().unwrap().apply(&mut l) {
                            continue 'entries;
                        }
                    }
                    Stage::Drop(items) if items.iter().all(|i| i.matcher.is_none()) => {
                        l.to_mut().0.retain(|(n, _)| !items.iter().any(|i| &i.name == n));
                    }
                    other => unimplemented!("test pipeline: {other:?}"),
                }
            }
            f(ProcessedEntry { ts: *ts, line, labels: &l })?;
        }
        Ok(())
    }
}

impl StreamScan for MemSource {
    /// Streams are the distinct label sets; they are dealt out to the sinks in turn.
    fn scan_streams(
        &self,
        log: &LogExpr,
        from: Nanos,
        to: Nanos,
        sinks: &mut [&mut dyn StreamSink],
    ) -> Result<(), QueryError> {
        let mut streams: std::collections::BTreeMap<Labels, Vec<(Nanos, String)>> = Default::default();
        self.for_each_entry(log, from, to, &mut |e| {
            streams.entry(e.labels.clone()).or_default().push((e.ts, e.line.to_string()));
            Ok(())
        })?;
        for (i, (labels, entries)) in streams.iter().enumerate() {
            let sink = &mut sinks[i % sinks.len()];
            sink.begin(labels);
            for (ts, line) in entries {
                sink.entry(*ts, line.as_bytes(), line.len(), &[]);
            }
        }
        Ok(())
    }
}

/// Parses a metric query.
pub fn metric(q: &str) -> MetricExpr {
    match parse_expr(q) {
        Ok(Expr::Metric(e)) => e,
        other => panic!("metric query expected for {q}: {other:?}"),
    }
}

/// Runs a metric query given as text (series limit 500).
pub fn run_q(q: &str, src: &MemSource, start: i64, end: i64, step: i64) -> Result<QueryResult, QueryError> {
    let e = metric(q);
    super::run(&super::MetricQuery { expr: &e, steps: crate::query::plan::Steps::new(start, end, step) }, src, 500)
}

/// An instant vector as `(labels, value)` in result order.
pub fn inst(r: QueryResult) -> Vec<(String, f64)> {
    let QueryResult::Vector(v) = r else { panic!("vector expected: {r:?}") };
    v.into_iter().map(|s| (s.labels.to_string(), s.value)).collect()
}

/// A matrix as `(labels, points)`.
pub fn points(r: QueryResult) -> Vec<(String, Vec<(i64, f64)>)> {
    let QueryResult::Matrix(m) = r else { panic!("matrix expected: {r:?}") };
    m.into_iter().map(|s| (s.labels.to_string(), s.points)).collect()
}

pub fn v(items: &[(&str, f64)]) -> Vec<(String, f64)> {
    items.iter().map(|(l, x)| (l.to_string(), *x)).collect()
}

/// Instant query: the single value of the single sample.
pub fn one(q: &str, s: &MemSource, t: i64) -> f64 {
    let r = inst(run_q(q, s, t, t, 0).unwrap());
    assert_eq!(r.len(), 1, "{q}: {r:?}");
    r[0].1
}

/// Every step of a range aggregation: through its chosen evaluation (`fast`: the kernel or
/// the per-stream path) or through the general time-ordered one, to compare the two.
pub(super) fn collect_steps(
    agg: &super::range::RangeAgg,
    steps: &super::Steps,
    src: &MemSource,
    fast: bool,
) -> Vec<(usize, super::StepVector)> {
    let mut out = Vec::new();
    let mut sink = |k, v| {
        out.push((k, v));
        Ok(())
    };
    if fast { agg.scan(steps, src, &mut sink) } else { agg.scan_entries(steps, src, &mut sink) }.unwrap();
    out
}
