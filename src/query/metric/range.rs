//! Range aggregations: one streaming pass over a [`LogSource`] per log range, windows
//! `(t − o − r, t − o]` evaluated as the scan passes their end, and the window functions
//! (logql.md §6.3, §6.4).
//!
//! Per series only the samples that can still fall into a current or future window are kept,
//! so memory is bounded by one window. Samples of different streams whose labels end up equal
//! share one series (in time order) before the function is applied.

use std::collections::{HashMap, VecDeque};

use super::extract::{is_fatal, Extractor};
use super::kernel::Kernel;
use super::samples::PerStream;
use super::{pipeline_error, StepVector, Steps};
use crate::gocompat::seconds as go_seconds;
use crate::logql::{LogRange, MatchOp, RangeOp};
use crate::model::{Labels, Nanos};
use crate::query::plan::{RangePlan, Strategy};
use crate::query::source::LogSource;
use crate::query::QueryError;

/// A compiled range aggregation.
#[derive(Debug)]
pub(super) struct RangeAgg<'a> {
    op: RangeOp,
    param: Option<f64>,
    range: &'a LogRange,
    extractor: Extractor,
    /// Set when the counting kernel evaluates this aggregation.
    kernel: Option<Kernel>,
    /// Else set when it is evaluated stream by stream.
    per_stream: Option<PerStream>,
}

impl<'a> RangeAgg<'a> {
    /// Compiles a planned range aggregation (its grouping is the aggregation's own, or the
    /// one of an enclosing `sum` pushed down).
    pub(super) fn new(plan: &RangePlan<'a>) -> Result<RangeAgg<'a>, QueryError> {
        let (op, range) = (plan.op, plan.range);
        let (kernel, per_stream) = match &plan.strategy {
            Strategy::Counting { log, bytes, per_second } => {
                (Some(Kernel { log: log.clone(), bytes: *bytes, per_second: *per_second }), None)
            }
            Strategy::PerStream { prefilter, column } => {
                (None, Some(PerStream { prefilter: prefilter.clone(), column: column.clone() }))
            }
            Strategy::Entries => (None, None),
        };
        let extractor = Extractor::new(op, range, &plan.hints)?;
        Ok(RangeAgg { op, param: plan.param, range, extractor, kernel, per_stream })
    }

    /// Evaluates every step in order, handing each step's vector (sorted by labels) to `sink`.
    pub(super) fn scan(
        &self,
        steps: &Steps,
        src: &dyn LogSource,
        sink: &mut dyn FnMut(usize, StepVector) -> Result<(), QueryError>,
    ) -> Result<(), QueryError> {
        if steps.n == 0 {
            return Ok(());
        }
        if let Some(k) = &self.kernel {
            return k.scan(self.range, &self.extractor, steps, src, sink);
        }
        if let Some(p) = &self.per_stream {
            return p.scan(self.op, self.param, self.range, &self.extractor, steps, src, sink);
        }
        self.scan_entries(steps, src, sink)
    }

    /// The general evaluation: one pass over the entries of every stream in time order.
    pub(super) fn scan_entries(
        &self,
        steps: &Steps,
        src: &dyn LogSource,
        sink: &mut dyn FnMut(usize, StepVector) -> Result<(), QueryError>,
    ) -> Result<(), QueryError> {
        let (r, o) = (self.range.range, self.range.offset);
        let from = steps.t(0) - r - o;
        let to = steps.t(steps.n - 1) - o + 1;
        let mut w = Windows { agg: self, steps, series: HashMap::new(), next: 0 };
        src.for_each_entry(&self.range.log, from, to, &mut |e| {
            while w.next < steps.n && w.hi(w.next) < e.ts {
                w.finish_step(sink)?;
            }
            if w.next == steps.n || e.ts <= w.hi(w.next) - r {
                // Past the last window, or between two windows (step > range).
                return Ok(());
            }
            if let Some((value, labels)) = self.extractor.extract(e.line, e.labels) {
                match w.series.get_mut(labels.as_ref()) {
                    Some(buf) => buf.push_back((e.ts, value)),
                    None => {
                        w.series.insert(labels.into_owned(), VecDeque::from([(e.ts, value)]));
                    }
                }
            }
            Ok(())
        })?;
        while w.next < steps.n {
            w.finish_step(sink)?;
        }
        Ok(())
    }
}

struct Windows<'s, 'a> {
    agg: &'s RangeAgg<'a>,
    steps: &'s Steps,
    series: HashMap<Labels, VecDeque<(Nanos, f64)>>,
    /// The first step not evaluated yet.
    next: usize,
}

impl Windows<'_, '_> {
    /// Inclusive upper end of the window of step `k`.
    fn hi(&self, k: usize) -> Nanos {
        self.steps.t(k) - self.agg.range.offset
    }

    fn finish_step(
        &mut self,
        sink: &mut dyn FnMut(usize, StepVector) -> Result<(), QueryError>,
    ) -> Result<(), QueryError> {
        let k = self.next;
        self.next += 1;
        let hi = self.hi(k);
        let lo = hi - self.agg.range.range;
        self.series.retain(|_, buf| {
            while buf.front().is_some_and(|&(ts, _)| ts <= lo) {
                buf.pop_front();
            }
            !buf.is_empty()
        });
        if let Some(bad) = self.series.keys().filter(|l| is_fatal(l)).min() {
            return Err(pipeline_error(bad));
        }
        let out = if self.agg.op == RangeOp::AbsentOverTime {
            if self.series.is_empty() {
                vec![(absent_labels(self.agg.range), 1.0)]
            } else {
                Vec::new()
            }
        } else {
            let mut out: StepVector = self
                .series
                .iter_mut()
                .map(|(l, buf)| {
                    (l.clone(), window_value(self.agg.op, self.agg.param, self.agg.range, buf.make_contiguous(), hi))
                })
                .collect();
            out.sort_by(|a, b| a.0.cmp(&b.0));
            out
        };
        sink(k, out)
    }
}

/// `absent_over_time`'s labels: the selector's equality matchers, minus names that appear in
/// more than one matcher or in a non-equality matcher.
pub(super) fn absent_labels(range: &LogRange) -> Labels {
    let mut set = Labels::default();
    let mut drop = Vec::new();
    for m in &range.log.matchers {
        if m.name == "__name__" {
            continue;
        }
        if m.op == MatchOp::Eq && set.get(&m.name).is_none() {
            set.set(&m.name, &m.value);
        } else {
            drop.push(m.name.as_str());
        }
    }
    set.0.retain(|(n, _)| !drop.contains(&n.as_str()));
    set
}

/// The value of `op` over the samples of one window ending at `hi` (time order).
pub(super) fn window_value(op: RangeOp, param: Option<f64>, range: &LogRange, buf: &[(Nanos, f64)], hi: Nanos) -> f64 {
    let r = range.range;
    let secs = go_seconds(r);
    let values = || buf.iter().map(|&(_, v)| v);
    let sum = || values().fold(0.0, |a, v| a + v);
    match op {
        RangeOp::CountOverTime => buf.len() as f64,
        RangeOp::Rate if range.unwrap.is_none() => buf.len() as f64 / secs,
        RangeOp::Rate | RangeOp::BytesRate => sum() / secs,
        RangeOp::BytesOverTime | RangeOp::SumOverTime => sum(),
        RangeOp::AvgOverTime => avg(values()),
        RangeOp::MaxOverTime => values().fold(f64::NAN, |m, v| if v > m || m.is_nan() { v } else { m }),
        RangeOp::MinOverTime => values().fold(f64::NAN, |m, v| if v < m || m.is_nan() { v } else { m }),
        RangeOp::StdvarOverTime => variance(values()),
        RangeOp::StddevOverTime => variance(values()).sqrt(),
        RangeOp::QuantileOverTime => quantile(param.unwrap_or(0.0), values().collect()),
        RangeOp::FirstOverTime => buf.first().map_or(f64::NAN, |s| s.1),
        RangeOp::LastOverTime => buf.last().map_or(f64::NAN, |s| s.1),
        RangeOp::RateCounter => rate_counter(buf, r, hi),
        RangeOp::AbsentOverTime => 1.0,
    }
}

/// Incremental mean, Inf-safe like Prometheus.
fn avg(values: impl Iterator<Item = f64>) -> f64 {
    let (mut mean, mut count) = (0.0f64, 0.0f64);
    for v in values {
        count += 1.0;
        if mean.is_infinite() {
            if v.is_infinite() && (mean > 0.0) == (v > 0.0) {
                continue;
            }
            if !v.is_infinite() && !v.is_nan() {
                continue;
            }
        }
        mean += v / count - mean / count;
    }
    mean
}

/// Population variance (Welford).
fn variance(values: impl Iterator<Item = f64>) -> f64 {
    let (mut aux, mut count, mut mean) = (0.0f64, 0.0f64, 0.0f64);
    for v in values {
        count += 1.0;
        let delta = v - mean;
        mean += delta / count;
        aux += delta * (v - mean);
    }
    aux / count
}

/// φ-quantile with linear interpolation; NaN sorts first; φ outside [0, 1] gives ∓Inf.
pub(super) fn quantile(q: f64, mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// Prometheus' `extrapolatedRate` for counters, per second, over the window ending at `hi`.
fn rate_counter(buf: &[(Nanos, f64)], range: Nanos, hi: Nanos) -> f64 {
    if buf.len() < 2 {
        return 0.0;
    }
    let (first, last) = (buf[0], buf[buf.len() - 1]);
    let mut result = last.1 - first.1;
    let mut prev = 0.0;
    for &(_, v) in buf {
        if v < prev {
            result += prev;
        }
        prev = v;
    }
    let mut to_start = (first.0 - (hi - range)) as f64 / 1e9;
    let mut to_end = (hi - last.0) as f64 / 1e9;
    let sampled = (last.0 - first.0) as f64 / 1e9;
    let avg_gap = sampled / (buf.len() - 1) as f64;
    let threshold = avg_gap * 1.1;
    if to_start >= threshold {
        to_start = avg_gap / 2.0;
    }
    let mut to_zero = to_start;
    if result > 0.0 && first.1 >= 0.0 {
        to_zero = sampled * (first.1 / result);
    }
    if to_zero < to_start {
        to_start = to_zero;
    }
    if to_end >= threshold {
        to_end = avg_gap / 2.0;
    }
    result *= (sampled + to_start + to_end) / sampled;
    result / go_seconds(range)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{inst, labels, one, points, run_q, v, MemSource, S};
    use super::*;

    fn src() -> MemSource {
        MemSource::new(vec![
            (10 * S, labels(&[("app", "a")]), "aaaa"),
            (20 * S, labels(&[("app", "a")]), "aa"),
            (30 * S, labels(&[("app", "b")]), "b"),
            (40 * S, labels(&[("app", "a")]), "a"),
            (60 * S, labels(&[("app", "a")]), "a"),
        ])
    }

    #[test]
    fn window_edges_lower_exclusive_upper_inclusive() {
        // Window at t=60s with [20s]: (40s, 60s] holds only the sample at 60s.
        let r = run_q(r#"count_over_time({app="a"}[20s])"#, &src(), 60 * S, 60 * S, 0).unwrap();
        assert_eq!(inst(r), v(&[("{app=\"a\"}", 1.0)]));
        // At t=40s: (20s, 40s] holds 40s only; at t=20s: (0, 20s] holds 10s and 20s.
        let r = run_q(r#"count_over_time({app="a"}[20s])"#, &src(), 20 * S, 40 * S, 20 * S).unwrap();
        assert_eq!(points(r), vec![("{app=\"a\"}".into(), vec![(20_000, 2.0), (40_000, 1.0)])]);
        assert_eq!(src().scans.get(), 0);
        let s = src();
        run_q(r#"count_over_time({app="a"}[20s])"#, &s, 0, 600 * S, S).unwrap();
        assert_eq!(s.scans.get(), 1, "one scan per log range");
    }

    #[test]
    fn no_zero_filling_and_step_larger_than_range() {
        // Steps 0,25,50,75 s with [10s] windows: (−10,0] (15,25] (40,50] (65,75].
        let r = run_q(r#"count_over_time({app=~".+"}[10s])"#, &src(), 0, 75 * S, 25 * S).unwrap();
        assert_eq!(points(r), vec![("{app=\"a\"}".into(), vec![(25_000, 1.0)])]);
    }

    #[test]
    fn offset_shifts_windows_not_timestamps() {
        // t=60s offset 20s → (20s, 40s].
        let r = run_q(r#"count_over_time({app="a"}[20s] offset 20s)"#, &src(), 60 * S, 60 * S, 0).unwrap();
        assert_eq!(
            r,
            crate::query::QueryResult::Vector(vec![crate::query::Sample {
                labels: labels(&[("app", "a")]),
                ts_ms: 60_000,
                value: 1.0
            }])
        );
        // Negative offset looks into the future: t=30s offset -20s → (35s, 50s].
        let r = run_q(r#"count_over_time({app="a"}[15s] offset -20s)"#, &src(), 30 * S, 30 * S, 0).unwrap();
        assert_eq!(inst(r), v(&[("{app=\"a\"}", 1.0)]));
    }

    #[test]
    fn streams_with_equal_labels_merge_before_the_function() {
        let s = MemSource::new(vec![
            (S, labels(&[("app", "a"), ("pod", "1")]), "v=1"),
            (2 * S, labels(&[("app", "a"), ("pod", "2")]), "v=5"),
            (3 * S, labels(&[("app", "a"), ("pod", "1")]), "v=3"),
        ]);
        assert_eq!(one(r#"first_over_time({app="a"} | logfmt | unwrap v [10s]) by (app)"#, &s, 10 * S), 1.0);
        assert_eq!(one(r#"last_over_time({app="a"} | logfmt | unwrap v [10s]) by (app)"#, &s, 10 * S), 3.0);
        assert_eq!(one(r#"avg_over_time({app="a"} | logfmt | unwrap v [10s]) by (app)"#, &s, 10 * S), 3.0);
        let r = run_q(r#"avg_over_time({app="a"} | logfmt | unwrap v [10s])"#, &s, 10 * S, 10 * S, 0).unwrap();
        assert_eq!(inst(r), v(&[("{app=\"a\", pod=\"1\"}", 2.0), ("{app=\"a\", pod=\"2\"}", 5.0)]));
    }

    /// Like Loki (`errFoundAllLabels`), `| json` and `| logfmt` stop reading a line once
    /// every label the query needs is extracted: damage after that point is no error, and
    /// a second parser adds nothing.
    #[test]
    fn parsers_stop_once_every_needed_label_is_extracted() {
        let s = MemSource::new(vec![
            (S, labels(&[("app", "a")]), r#"{"latency_ms":5,"level":"info","bad": }"#),
            (2 * S, labels(&[("app", "a")]), r#"{"level":"info","latency_ms":7,"bad": }"#),
        ]);
        // Needed: latency_ms and level. The first line has both before the damage; the
        // second too. Without the stop both would carry __error__ and the query would fail.
        let q = r#"sum by (level) (sum_over_time({app="a"} | json | unwrap latency_ms [10s]))"#;
        assert_eq!(inst(run_q(q, &s, 10 * S, 10 * S, 0).unwrap()), v(&[("{level=\"info\"}", 12.0)]));
        // Needed: level only, but the line breaks before it: the parser error stays.
        let broken = MemSource::new(vec![(S, labels(&[("app", "a")]), r#"{"x": ,"level":"info"}"#)]);
        let q = r#"sum by (level, __error__) (count_over_time({app="a"} | json [10s]))"#;
        assert_eq!(inst(run_q(q, &broken, 10 * S, 10 * S, 0).unwrap()), v(&[("{__error__=\"JSONParserErr\"}", 1.0)]));
        // A parser after every needed label is there does nothing: `| json` on a logfmt
        // line sets no error.
        let lf = MemSource::new(vec![(S, labels(&[("app", "a")]), "level=warn msg=x")]);
        let q = r#"sum by (level) (count_over_time({app="a"} | logfmt | json [10s]))"#;
        assert_eq!(inst(run_q(q, &lf, 10 * S, 10 * S, 0).unwrap()), v(&[("{level=\"warn\"}", 1.0)]));
    }

    fn unwrapped(vals: &[f64]) -> MemSource {
        MemSource::new(
            vals.iter()
                .enumerate()
                .map(|(i, x)| ((i as i64 + 1) * S, labels(&[("app", "a")]), format!("v={x}")))
                .collect(),
        )
    }

    #[test]
    fn window_functions_on_known_inputs() {
        let s = unwrapped(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        let q = |f: &str| format!(r#"{f}({{app="a"}} | logfmt | unwrap v [10s])"#);
        assert_eq!(one(&q("sum_over_time"), &s, 10 * S), 40.0);
        assert_eq!(one(&q("avg_over_time"), &s, 10 * S), 5.0);
        assert_eq!(one(&q("min_over_time"), &s, 10 * S), 2.0);
        assert_eq!(one(&q("max_over_time"), &s, 10 * S), 9.0);
        assert_eq!(one(&q("stdvar_over_time"), &s, 10 * S), 4.0);
        assert_eq!(one(&q("stddev_over_time"), &s, 10 * S), 2.0);
        assert_eq!(one(&q("first_over_time"), &s, 10 * S), 2.0);
        assert_eq!(one(&q("last_over_time"), &s, 10 * S), 9.0);
        assert_eq!(one(&q("rate"), &s, 10 * S), 4.0);
        assert_eq!(one(r#"rate({app="a"}[10s])"#, &s, 10 * S), 0.8);
        assert_eq!(one(r#"count_over_time({app="a"}[10s])"#, &s, 10 * S), 8.0);
        assert_eq!(one(r#"bytes_over_time({app="a"}[10s])"#, &s, 10 * S), 24.0);
        assert_eq!(one(r#"bytes_rate({app="a"}[10s])"#, &s, 10 * S), 2.4);
        // Quantile: sorted [2 4 4 4 5 5 7 9]; φ=0.5 → rank 3.5 → 4.5; φ=0.9 → rank 6.3 → 7.6.
        let qq = |p: &str| format!(r#"quantile_over_time({p}, {{app="a"}} | logfmt | unwrap v [10s])"#);
        assert_eq!(one(&qq("0.5"), &s, 10 * S), 4.5);
        assert!((one(&qq("0.9"), &s, 10 * S) - 7.6).abs() < 1e-12);
        assert_eq!(one(&qq("0"), &s, 10 * S), 2.0);
        assert_eq!(one(&qq("1"), &s, 10 * S), 9.0);
        assert_eq!(one(&qq("2"), &s, 10 * S), f64::INFINITY);
        assert_eq!(quantile(-0.5, vec![1.0]), f64::NEG_INFINITY);
        assert_eq!(quantile(0.5, vec![f64::NAN, 1.0, 3.0]), 1.0, "NaN sorts first");
        let s = unwrapped(&[1.0, f64::NAN, 3.0]);
        assert_eq!(one(&q("max_over_time"), &s, 10 * S), 3.0);
        assert_eq!(one(&q("min_over_time"), &s, 10 * S), 1.0);
    }

    #[test]
    fn rate_counter_with_reset() {
        // Samples at 1..4 s: 1, 3, 1 (reset), 2 in the window (0, 4s].
        // increase = 2 − 1 + 3 = 4; sampled 3 s, avg gap 1 s; to_start 1 s < 1.1 but the zero
        // point is 3·1/4 = 0.75 s away; to_end 0 → 4·(3 + 0.75)/3 = 5 over 4 s = 1.25.
        let s = unwrapped(&[1.0, 3.0, 1.0, 2.0]);
        let x = one(r#"rate_counter({app="a"} | logfmt | unwrap v [4s])"#, &s, 4 * S);
        assert!((x - 1.25).abs() < 1e-12, "{x}");
        // Far from the edges: extrapolate by half the average gap on each side.
        // Window (0, 10s], samples at 1..4 s → to_start 1 ≥? 1.1 no → min(1, zero 0.75)=0.75;
        // to_end 6 ≥ 1.1 → 0.5 → 4·(3 + 0.75 + 0.5)/3 / 10.
        let x = one(r#"rate_counter({app="a"} | logfmt | unwrap v [10s])"#, &s, 10 * S);
        assert!((x - 4.0 * 4.25 / 3.0 / 10.0).abs() < 1e-12, "{x}");
        // One sample: a point with value 0.
        let s = unwrapped(&[5.0]);
        assert_eq!(one(r#"rate_counter({app="a"} | logfmt | unwrap v [4s])"#, &s, 4 * S), 0.0);
    }

    #[test]
    fn absent_over_time_labels_and_points() {
        let r = run_q(r#"absent_over_time({app="a", app=~".+"}[5s])"#, &src(), 0, 30 * S, 10 * S).unwrap();
        assert_eq!(points(r), vec![("{}".into(), vec![(0, 1.0), (30_000, 1.0)])]);
        let r = run_q(r#"absent_over_time({app="zz", env=~"p.*", x="1"}[5s])"#, &src(), 10 * S, 10 * S, 0).unwrap();
        assert_eq!(inst(r), v(&[("{app=\"zz\", x=\"1\"}", 1.0)]));
        let r = run_q(r#"absent_over_time({app="a"}[5s])"#, &src(), 10 * S, 10 * S, 0).unwrap();
        assert_eq!(inst(r), v(&[]));
    }

    #[test]
    fn pipeline_error_text_and_when_it_does_not_happen() {
        let s = MemSource::new(vec![
            (S, labels(&[("app", "a")]), "{\"x\":1}"),
            (2 * S, labels(&[("app", "a")]), "not json"),
        ]);
        // Evaluated stream by stream, so the real `| json` runs (not the test source's).
        let err = run_q(r#"count_over_time({app="a"} | json [10s])"#, &s, 10 * S, 10 * S, 0).unwrap_err();
        assert!(matches!(err, QueryError::SeriesError { .. }));
        assert_eq!(
            err.to_string(),
            "pipeline error: 'JSONParserErr' for series: '{__error__=\"JSONParserErr\", \
             __error_details__=\"Value looks like object, but can't find closing '}' symbol\", app=\"a\"}'.\n\
             Use a label filter to intentionally skip this error. (e.g | __error__!=\"JSONParserErr\").\n\
             To skip all potential errors you can match empty errors.(e.g __error__=\"\")\n\
             The label filter can also be specified after unwrap. (e.g | unwrap latency | __error__=\"\" )\n"
        );
        let ok = |q: &str, t: i64| inst(run_q(q, &s, t, t, 0).unwrap());
        // Filtered out explicitly.
        assert_eq!(
            ok(r#"count_over_time({app="a"} | json | __error__="" [10s])"#, 10 * S),
            v(&[("{app=\"a\", x=\"1\"}", 1.0)])
        );
        // No label needed: Loki's parser never runs (parser hints), so no error.
        assert_eq!(ok(r#"sum(count_over_time({app="a"} | json [10s]))"#, 10 * S), v(&[("{}", 2.0)]));
        // The bad entry is outside every evaluated window.
        assert_eq!(ok(r#"count_over_time({app="a"} | json [1s])"#, S), v(&[("{app=\"a\", x=\"1\"}", 1.0)]));
        // Errors asked for are kept.
        let by_err = ok(r#"sum by (__error__) (count_over_time({app="a"} | json [10s]))"#, 10 * S);
        assert_eq!(by_err, v(&[("{}", 1.0), ("{__error__=\"JSONParserErr\"}", 1.0)]));
        // `sum by (app)` needs a label, so Loki parses and the error surfaces.
        assert!(run_q(r#"sum by (app) (count_over_time({app="a"} | json [10s]))"#, &s, 10 * S, 10 * S, 0).is_err());
        assert!(run_q(r#"max(count_over_time({app="a"} | json [10s]))"#, &s, 10 * S, 10 * S, 0).is_err());
    }
}
