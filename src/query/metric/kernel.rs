//! The counting kernel: `count_over_time`, `rate`, `bytes_over_time` and `bytes_rate` over
//! a selector with line filters only, evaluated without ordering lines across streams.
//!
//! These functions are sums, so a window's value does not depend on the order of its
//! entries. Each entry adds its count and bytes to the steps whose window holds it with a
//! difference array (O(1) per entry, whatever the range/step ratio); group keys are
//! computed once per stream, or once per distinct structured metadata of a stream when the
//! grouping can read metadata. Streams are read in parallel ([`StreamScan`]), one
//! accumulator per worker, merged at the end. Long ranges are evaluated in chunks of steps
//! so memory stays bounded by groups × chunk.

use std::collections::HashMap;

use super::extract::{is_fatal, Extractor};
use super::{pipeline_error, StepVector, Steps};
use crate::gocompat::seconds as go_seconds;
use crate::logql::{LogExpr, LogRange};
use crate::model::{Labels, Nanos};
use crate::query::logs::with_metadata;
use crate::query::source::{LogSource, StreamSink};
use crate::query::QueryError;
use crate::store::block::MetaIter;

/// Steps per chunk (at least; more when the range is long, so re-reading the range at
/// chunk borders stays cheap).
const CHUNK_STEPS: usize = 720;

/// A range aggregation the kernel can evaluate.
#[derive(Debug)]
pub(super) struct Kernel {
    /// The selector with its line filters (stages that cannot change what counts dropped;
    /// see `plan::Strategy::Counting`).
    pub(super) log: LogExpr,
    pub(super) bytes: bool,
    pub(super) per_second: bool,
}

impl Kernel {
    /// Evaluates every step in order, handing each step's vector (sorted by labels) to
    /// `sink`, like `RangeAgg::scan`.
    pub(super) fn scan(
        &self,
        range: &LogRange,
        extractor: &Extractor,
        steps: &Steps,
        src: &dyn LogSource,
        sink: &mut dyn FnMut(usize, StepVector) -> Result<(), QueryError>,
    ) -> Result<(), QueryError> {
        let (r, o) = (range.range, range.offset);
        let chunk = if steps.step == 0 { 1 } else { CHUNK_STEPS.max((4 * r / steps.step.max(1)) as usize + 1) };
        let workers = crate::query::workers();
        let secs = go_seconds(r);
        let mut c0 = 0;
        while c0 < steps.n {
            let n = chunk.min(steps.n - c0);
            let win = Windows { start: steps.t(c0), step: steps.step, n, range: r, offset: o };
            let mut accs: Vec<Acc> = (0..workers).map(|_| Acc::new(extractor, win, self.bytes)).collect();
            {
                let mut sinks: Vec<&mut dyn StreamSink> = accs.iter_mut().map(|a| a as &mut dyn StreamSink).collect();
                let from = win.start - r - o;
                let to = steps.t(c0 + n - 1) - o + 1;
                src.scan_streams(&self.log, from, to, &mut sinks)?;
            }
            let mut all = accs.pop().expect("at least one worker");
            for a in accs {
                all.absorb(a);
            }
            all.emit(c0, secs, self.per_second, sink)?;
            c0 += n;
        }
        Ok(())
    }
}

/// The evaluation windows of one chunk: step `k` covers `(t_k − offset − range, t_k − offset]`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Windows {
    pub(super) start: Nanos,
    pub(super) step: Nanos,
    pub(super) n: usize,
    pub(super) range: Nanos,
    pub(super) offset: Nanos,
}

/// ⌈a / b⌉ for b > 0.
fn ceil_div(a: i64, b: i64) -> i64 {
    -((-a).div_euclid(b))
}

impl Windows {
    /// The steps (first, last; inclusive) whose windows hold `ts`.
    pub(super) fn span(&self, ts: Nanos) -> Option<(usize, usize)> {
        // t_k ≥ ts + offset and t_k < ts + offset + range.
        let a = ts + self.offset - self.start;
        let b = a + self.range;
        if self.step == 0 {
            return (a <= 0 && b > 0).then_some((0, 0));
        }
        let lo = ceil_div(a, self.step).max(0);
        let hi = (ceil_div(b, self.step) - 1).min(self.n as i64 - 1);
        (lo <= hi).then_some((lo as usize, hi as usize))
    }
}

/// One worker's sums: per group, difference arrays of counts and bytes over the chunk.
struct Acc<'e> {
    extractor: &'e Extractor,
    win: Windows,
    bytes: bool,
    ids: HashMap<Labels, u32>,
    labels: Vec<Labels>,
    /// `group * (n + 1) + step`.
    counts: Vec<i64>,
    sums: Vec<i64>,
    /// The current stream and its group when metadata cannot change it.
    stream: Labels,
    fixed: Option<u32>,
    by_metadata: HashMap<Box<[u8]>, u32>,
}

impl<'e> Acc<'e> {
    fn new(extractor: &'e Extractor, win: Windows, bytes: bool) -> Acc<'e> {
        Acc {
            extractor,
            win,
            bytes,
            ids: HashMap::new(),
            labels: Vec::new(),
            counts: Vec::new(),
            sums: Vec::new(),
            stream: Labels::default(),
            fixed: None,
            by_metadata: HashMap::new(),
        }
    }

    fn group_id(&mut self, labels: Labels) -> u32 {
        if let Some(&g) = self.ids.get(&labels) {
            return g;
        }
        let g = self.labels.len() as u32;
        let width = self.win.n + 1;
        self.counts.resize(self.counts.len() + width, 0);
        if self.bytes {
            self.sums.resize(self.sums.len() + width, 0);
        }
        self.ids.insert(labels.clone(), g);
        self.labels.push(labels);
        g
    }

    fn add(&mut self, g: u32, (lo, hi): (usize, usize), count: i64, bytes: i64) {
        let base = g as usize * (self.win.n + 1);
        self.counts[base + lo] += count;
        self.counts[base + hi + 1] -= count;
        if self.bytes {
            self.sums[base + lo] += bytes;
            self.sums[base + hi + 1] -= bytes;
        }
    }

    /// Adds another worker's sums.
    fn absorb(&mut self, other: Acc<'_>) {
        let width = self.win.n + 1;
        for (g, labels) in other.labels.into_iter().enumerate() {
            let mine = self.group_id(labels) as usize * width;
            let theirs = g * width;
            for k in 0..width {
                self.counts[mine + k] += other.counts[theirs + k];
                if self.bytes {
                    self.sums[mine + k] += other.sums[theirs + k];
                }
            }
        }
    }

    /// Hands the chunk's steps (the first is `first`) to `sink`.
    fn emit(
        &self,
        first: usize,
        secs: f64,
        per_second: bool,
        sink: &mut dyn FnMut(usize, StepVector) -> Result<(), QueryError>,
    ) -> Result<(), QueryError> {
        let width = self.win.n + 1;
        let mut order: Vec<usize> = (0..self.labels.len()).collect();
        order.sort_by(|&a, &b| self.labels[a].cmp(&self.labels[b]));
        let fatal: Vec<bool> = self.labels.iter().map(is_fatal).collect();
        let mut count = vec![0i64; self.labels.len()];
        let mut sum = vec![0i64; self.labels.len()];
        for k in 0..self.win.n {
            let mut out: StepVector = Vec::new();
            for &g in &order {
                count[g] += self.counts[g * width + k];
                if self.bytes {
                    sum[g] += self.sums[g * width + k];
                }
                if count[g] <= 0 {
                    continue;
                }
                if fatal[g] {
                    return Err(pipeline_error(&self.labels[g]));
                }
                let v = if self.bytes { sum[g] as f64 } else { count[g] as f64 };
                out.push((self.labels[g].clone(), if per_second { v / secs } else { v }));
            }
            sink(first + k, out)?;
        }
        Ok(())
    }
}

impl StreamSink for Acc<'_> {
    fn begin(&mut self, stream: &Labels) {
        self.stream = stream.clone();
        self.by_metadata.clear();
        self.fixed = None;
        if self.extractor.ignores_metadata(stream) {
            let g = self.extractor.group_of(stream);
            self.fixed = Some(self.group_id(g));
        }
    }

    fn wants_lines(&self) -> bool {
        false
    }

    fn entry(&mut self, ts: Nanos, _line: &[u8], line_len: usize, metadata: &[u8]) {
        let Some(span) = self.win.span(ts) else { return };
        let g = match self.fixed {
            Some(g) => g,
            None => match self.by_metadata.get(metadata) {
                Some(&g) => g,
                None => {
                    let pairs: Vec<(String, String)> = MetaIter::new(metadata)
                        .map(|(k, v)| {
                            (String::from_utf8_lossy(k).into_owned(), String::from_utf8_lossy(v).into_owned())
                        })
                        .collect();
                    let labels = self.extractor.group_of(&with_metadata(&self.stream, &pairs));
                    let g = self.group_id(labels);
                    self.by_metadata.insert(metadata.into(), g);
                    g
                }
            },
        };
        self.add(g, span, 1, line_len as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::super::range::RangeAgg;
    use super::super::testutil::{collect_steps as collect, labels, metric, MemSource, S};
    use super::*;
    use crate::logql::{Grouping, MetricExpr};
    use crate::query::plan::{RangePlan, Strategy};

    /// The kernel gives exactly what the general per-entry evaluation gives.
    #[test]
    fn kernel_matches_the_entry_scan() {
        let mut e = Vec::new();
        for i in 0..400i64 {
            let app = ["a", "b", "c", "d"][(i % 4) as usize];
            let level = if i % 7 == 0 { "error" } else { "info" };
            let line = if i % 3 == 0 { "an error line" } else { "ok" };
            e.push((i * 7 * S / 3 + (i % 5) * S, labels(&[("app", app), ("level", level)]), line));
        }
        let src = MemSource::new(e);
        let by_level = Grouping::By(vec!["level".into()]);
        let by_none = Grouping::By(vec![]);
        let without_app = Grouping::Without(vec!["app".into()]);
        let cases: [(&str, Option<&Grouping>); 6] = [
            (r#"count_over_time({app=~".+"}[10s])"#, None),
            (r#"rate({app=~".+"} |= "error" [30s])"#, Some(&by_level)),
            (r#"bytes_over_time({app="a"}[7s] offset 3s)"#, None),
            (r#"bytes_rate({app=~"a|b"} | drop __error__ [1m])"#, Some(&by_none)),
            (r#"count_over_time({app=~".+"} != "ok" [45s])"#, Some(&without_app)),
            (r#"count_over_time({app=~".+"}[5s] offset -2s)"#, Some(&by_level)),
        ];
        for (q, grouping) in cases {
            let MetricExpr::RangeAgg { op, param, range, .. } = metric(q) else { panic!("{q}") };
            let agg = RangeAgg::new(&RangePlan::new(op, param, &range, grouping.cloned(), false)).unwrap();
            assert!(matches!(Strategy::for_range(op, &range), Strategy::Counting { .. }), "{q} uses the kernel");
            for (start, step, n) in [(0, 10 * S, 100), (95 * S, 3 * S, 40), (500 * S, 0, 1), (100 * S, 60 * S, 1000)] {
                let steps = Steps { start, step, n };
                let (fast, slow) = (collect(&agg, &steps, &src, true), collect(&agg, &steps, &src, false));
                assert_eq!(fast, slow, "{q} over {steps:?}");
            }
        }
    }

    #[test]
    fn only_counting_functions_over_line_filters_use_it() {
        let range_of = |q: &str| match metric(q) {
            MetricExpr::RangeAgg { op, range, .. } => (op, range),
            _ => unreachable!(),
        };
        for q in [
            r#"count_over_time({a="b"} | json [1m])"#,
            r#"sum_over_time({a="b"} | unwrap x [1m])"#,
            r#"max_over_time({a="b"} | unwrap x [1m])"#,
            r#"count_over_time({a="b"} | drop x [1m])"#,
            r#"absent_over_time({a="b"}[1m])"#,
            r#"count_over_time({a="b"} | level="x" [1m])"#,
        ] {
            let (op, range) = range_of(q);
            assert!(!matches!(Strategy::for_range(op, &range), Strategy::Counting { .. }), "{q}");
        }
        let (op, range) = range_of(r#"count_over_time({a="b"} |= "x" | drop __error__, __error_details__ [1m])"#);
        let Strategy::Counting { log, .. } = Strategy::for_range(op, &range) else { panic!("the kernel applies") };
        assert_eq!(log.stages.len(), 1);
    }

    #[test]
    fn spans_match_the_window_definition() {
        // Brute force: step k holds ts iff t_k - o - r < ts <= t_k - o.
        for (start, step, n, r, o) in [(100, 10, 7, 25, 0), (100, 10, 7, 10, 3), (100, 30, 4, 10, -5), (0, 7, 9, 3, 0)]
        {
            let w = Windows { start, step, n, range: r, offset: o };
            for ts in start - 60..start + step * n as i64 + 20 {
                let want: Vec<usize> = (0..n)
                    .filter(|&k| {
                        let t = start + k as i64 * step;
                        t - o - r < ts && ts <= t - o
                    })
                    .collect();
                let got: Vec<usize> = w.span(ts).map_or(vec![], |(a, b)| (a..=b).collect());
                assert_eq!(got, want, "ts {ts} in {w:?}");
            }
        }
        let w = Windows { start: 100, step: 0, n: 1, range: 10, offset: 0 };
        assert_eq!(w.span(90), None);
        assert_eq!(w.span(91), Some((0, 0)));
        assert_eq!(w.span(100), Some((0, 0)));
        assert_eq!(w.span(101), None);
    }
}
