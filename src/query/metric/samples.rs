//! Range aggregations with parsers, label filters, formatting or `unwrap`, evaluated stream
//! by stream on all cores ([`StreamScan`]) instead of through one time-ordered merge of
//! every stream.
//!
//! Each worker runs the pipeline and the sample extraction over whole streams and keeps the
//! samples per series. Per chunk of steps the workers' samples are merged per series and
//! sorted by (time, stream labels) — the order the time-ordered merge feeds them in — and
//! every window is computed from a slice of them, so results are the same, bit for bit.
//! Entries outside every window are skipped before the pipeline runs. Memory is bounded by
//! the samples of one chunk (an hour of data, or four ranges when the range is longer).

use std::collections::HashMap;

use super::extract::{is_fatal, Extractor};
use super::kernel::Windows;
use super::range::window_value;
use super::{pipeline_error, StepVector, Steps};
use crate::logql::{LogExpr, LogRange, RangeOp, Stage};
use crate::model::{Labels, Nanos};
use crate::query::pipeline::{key_needle, LogPipeline};
use crate::query::source::{LogSource, StreamSink};
use crate::query::QueryError;
use crate::store::block::MetaIter;

const HOUR: Nanos = 3_600_000_000_000;

/// A range aggregation evaluated stream by stream.
#[derive(Debug)]
pub(super) struct PerStream {
    /// The selector and the line filters that decide on the stored line (every one that
    /// comes before a stage rewriting the line): streams are scanned with these, and the
    /// whole pipeline runs on what passes.
    pub(super) prefilter: LogExpr,
    /// The `| json` field whose stored column stands in for the lines (see
    /// `plan::Strategy::PerStream`).
    pub(super) column: Option<String>,
}

impl PerStream {
    /// Evaluates every step in order, handing each step's vector (sorted by labels) to
    /// `sink`, like `RangeAgg::scan_entries`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn scan(
        &self,
        op: RangeOp,
        param: Option<f64>,
        range: &LogRange,
        extractor: &Extractor,
        steps: &Steps,
        src: &dyn LogSource,
        sink: &mut dyn FnMut(usize, StepVector) -> Result<(), QueryError>,
    ) -> Result<(), QueryError> {
        let (r, o) = (range.range, range.offset);
        let chunk = if steps.step == 0 { 1 } else { ((HOUR.max(4 * r) / steps.step) as usize).max(1) };
        let workers = crate::query::workers();
        let mut c0 = 0;
        while c0 < steps.n {
            let n = chunk.min(steps.n - c0);
            let win = Windows { start: steps.t(c0), step: steps.step, n, range: r, offset: o };
            let mut workers: Vec<Collect> = (0..workers)
                .map(|_| Collect::new(&range.log.stages, extractor, self.column.clone(), win))
                .collect::<Result<_, _>>()?;
            {
                let mut sinks: Vec<&mut dyn StreamSink> =
                    workers.iter_mut().map(|w| w as &mut dyn StreamSink).collect();
                src.scan_streams(&self.prefilter, win.start - r - o, steps.t(c0 + n - 1) - o + 1, &mut sinks)?;
            }
            let mut series = merge(workers);
            for k in 0..n {
                let hi = steps.t(c0 + k) - o;
                let lo = hi - r;
                let mut out: StepVector = Vec::new();
                for (_, s) in series.iter_mut() {
                    // Both ends only move forward as the steps do.
                    while s.lo < s.samples.len() && s.samples[s.lo].0 <= lo {
                        s.lo += 1;
                    }
                    s.hi = s.hi.max(s.lo);
                    while s.hi < s.samples.len() && s.samples[s.hi].0 <= hi {
                        s.hi += 1;
                    }
                }
                for (labels, s) in &series {
                    if s.lo == s.hi {
                        continue;
                    }
                    if is_fatal(labels) {
                        return Err(pipeline_error(labels));
                    }
                    out.push((labels.clone(), window_value(op, param, range, &s.samples[s.lo..s.hi], hi)));
                }
                sink(c0 + k, out)?;
            }
            c0 += n;
        }
        Ok(())
    }
}

/// One series of a chunk: samples in time order and the current window `[lo, hi)`.
struct Series {
    samples: Vec<(Nanos, f64)>,
    lo: usize,
    hi: usize,
}

/// Merges the workers' samples: series sorted by labels, samples by (time, stream labels).
fn merge(workers: Vec<Collect<'_>>) -> Vec<(Labels, Series)> {
    // A global rank for every stream: ties on time go to the stream whose labels sort first.
    let mut streams: Vec<(&Labels, usize, u32)> = Vec::new();
    for (w, c) in workers.iter().enumerate() {
        streams.extend(c.streams.iter().enumerate().map(|(i, l)| (l, w, i as u32)));
    }
    streams.sort_by(|a, b| a.0.cmp(b.0));
    let mut rank: Vec<Vec<u32>> = workers.iter().map(|c| vec![0; c.streams.len()]).collect();
    for (r, (_, w, i)) in streams.iter().enumerate() {
        rank[*w][*i as usize] = r as u32;
    }
    let mut by_labels: HashMap<Labels, Vec<(Nanos, u32, f64)>> = HashMap::new();
    for (w, c) in workers.into_iter().enumerate() {
        for (labels, mut samples) in c.series {
            samples.iter_mut().for_each(|s| s.1 = rank[w][s.1 as usize]);
            match by_labels.get_mut(&labels) {
                Some(all) => all.extend(samples),
                None => {
                    by_labels.insert(labels, samples);
                }
            }
        }
    }
    let mut out: Vec<(Labels, Series)> = by_labels
        .into_iter()
        .map(|(labels, mut samples)| {
            // Runs of one stream are already in time order: a stable merge sort is cheap.
            samples.sort_by_key(|s| (s.0, s.1));
            let samples = samples.into_iter().map(|(t, _, v)| (t, v)).collect();
            (labels, Series { samples, lo: 0, hi: 0 })
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[cfg(test)]
thread_local! {
    /// Tests turn the needle off to compare against the path without it.
    static NO_NEEDLE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn no_needle() -> bool {
    #[cfg(test)]
    return NO_NEEDLE.get();
    #[cfg(not(test))]
    false
}

/// One worker: runs the pipeline and the extraction, keeps samples per series.
struct Collect<'e> {
    pipeline: LogPipeline,
    extractor: &'e Extractor,
    win: Windows,
    /// Streams seen, by the order this worker began them.
    streams: Vec<Labels>,
    ids: HashMap<Labels, usize>,
    /// Per series: (time, stream, value), stream being an index into `streams`.
    series: Vec<(Labels, Vec<(Nanos, u32, f64)>)>,
    metadata: Vec<(String, String)>,
    /// The encoded form of `metadata`.
    metadata_raw: Vec<u8>,
    /// The current stream's series when every sample of it falls in one series whatever
    /// the entry (a grouping by stream labels only, and stages that keep them): samples
    /// are then read off the label builder without building each entry's label set.
    fixed: Option<usize>,
    lean: bool,
    /// For `unwrap` of a label only line keys can name (see [`key_needle`]): the bytes an
    /// entry's line must hold to possibly yield a sample, and whether the current stream
    /// lacks that label (else every entry may).
    needle: Option<memchr::memmem::Finder<'static>>,
    needle_applies: bool,
    /// For `| json | unwrap f` and nothing else: the field whose stored column can stand in
    /// for the lines (`plan::Strategy::PerStream`), and whether it may for the current stream.
    column: Option<String>,
    column_applies: bool,
    /// The capacity of every series' sample buffer, summed (what [`StreamSink::held_bytes`]
    /// reports), kept up to date as samples are added.
    sample_capacity: usize,
}

impl<'e> Collect<'e> {
    fn new(
        stages: &[Stage],
        extractor: &'e Extractor,
        column: Option<String>,
        win: Windows,
    ) -> Result<Collect<'e>, QueryError> {
        let pipeline = LogPipeline::compile_for(stages, extractor.wanted.clone())?;
        let lean = pipeline.keeps_stream_labels();
        let needle = match extractor.unwrap_label() {
            Some(label) if pipeline.labels_only_from_line_keys() && !no_needle() => {
                key_needle(label).map(|n| memchr::memmem::Finder::new(n).into_owned())
            }
            _ => None,
        };
        Ok(Collect {
            column,
            column_applies: false,
            pipeline,
            extractor,
            win,
            streams: Vec::new(),
            ids: HashMap::new(),
            series: Vec::new(),
            metadata: Vec::new(),
            metadata_raw: Vec::new(),
            fixed: None,
            lean,
            needle,
            needle_applies: false,
            sample_capacity: 0,
        })
    }

    /// Adds a sample to series `id`.
    fn add_sample(&mut self, id: usize, ts: Nanos, stream: usize, value: f64) {
        let samples = &mut self.series[id].1;
        let before = samples.capacity();
        samples.push((ts, stream as u32, value));
        self.sample_capacity += samples.capacity() - before;
    }

    fn series_id(&mut self, labels: std::borrow::Cow<'_, Labels>) -> usize {
        match self.ids.get(labels.as_ref()) {
            Some(&id) => id,
            None => {
                let labels = labels.into_owned();
                self.ids.insert(labels.clone(), self.series.len());
                self.series.push((labels, Vec::new()));
                self.series.len() - 1
            }
        }
    }
}

/// Decodes an entry's structured metadata into `out`, reusing its strings, unless `raw` is
/// what `out` already holds (`last`): most lines repeat the metadata of the one before or
/// have none, and then nothing is allocated.
fn decode_metadata(raw: &[u8], last: &mut Vec<u8>, out: &mut Vec<(String, String)>) {
    if raw == last.as_slice() {
        return;
    }
    last.clear();
    last.extend_from_slice(raw);
    let mut n = 0;
    for (k, v) in MetaIter::new(raw) {
        if n == out.len() {
            out.push((String::new(), String::new()));
        }
        let (ok, ov) = &mut out[n];
        ok.clear();
        ok.push_str(&String::from_utf8_lossy(k));
        ov.clear();
        ov.push_str(&String::from_utf8_lossy(v));
        n += 1;
    }
    out.truncate(n);
}

impl Collect<'_> {
    /// Whether an entry of a stream without the unwrapped label surely yields no sample:
    /// its metadata lacks the label too, and no key of its line can be parsed into it.
    fn cannot_yield(&self, line: &[u8]) -> bool {
        let (Some(needle), Some(label)) = (&self.needle, self.extractor.unwrap_label()) else {
            return false;
        };
        !self.metadata.iter().any(|(n, _)| n == label)
            && memchr::memchr(b'\\', line).is_none()
            && needle.find(line).is_none()
    }
}

impl StreamSink for Collect<'_> {
    fn held_bytes(&self) -> usize {
        self.sample_capacity * std::mem::size_of::<(Nanos, u32, f64)>() + self.series.len() * 64
    }

    fn begin(&mut self, stream: &Labels) {
        self.streams.push(stream.clone());
        self.fixed = None;
        self.needle_applies =
            self.needle.is_some() && self.extractor.unwrap_label().is_some_and(|l| stream.get(l).is_none());
        if self.lean && self.extractor.ignores_metadata(stream) {
            let labels = self.extractor.group_of(stream);
            self.fixed = Some(self.series_id(std::borrow::Cow::Owned(labels)));
        }
        self.column_applies = self.fixed.is_some() && self.column.as_deref().is_some_and(|f| stream.get(f).is_none());
    }

    fn column(&self) -> Option<&str> {
        self.column.as_deref()
    }

    /// The lean path's answer for an entry whose line parses without error: a value, or
    /// none when the line lacks the field. Not taken when the stream or the entry's metadata
    /// holds a label of the field's name (the line's field is renamed then), or when the
    /// value does not convert (the general path decides on the error).
    fn column_entry(&mut self, ts: Nanos, value: Option<&[u8]>, metadata: &[u8]) -> bool {
        if self.win.span(ts).is_none() {
            return true;
        }
        let (Some(id), true, Some(field)) = (self.fixed, self.column_applies, self.column.as_deref()) else {
            return false;
        };
        decode_metadata(metadata, &mut self.metadata_raw, &mut self.metadata);
        if self.metadata.iter().any(|(n, _)| n == field) {
            return false;
        }
        let Some(value) = value else { return true };
        let Ok(text) = std::str::from_utf8(value) else { return false };
        match self.extractor.lean_text(text) {
            None => false,
            Some(None) => true,
            Some(Some(v)) => {
                let stream = self.streams.len() - 1;
                self.add_sample(id, ts, stream, v);
                true
            }
        }
    }

    fn entry(&mut self, ts: Nanos, line: &[u8], _line_len: usize, metadata: &[u8]) {
        if self.win.span(ts).is_none() {
            return;
        }
        decode_metadata(metadata, &mut self.metadata_raw, &mut self.metadata);
        if self.needle_applies && self.cannot_yield(line) {
            return;
        }
        let stream = self.streams.len() - 1;
        if let Some(id) = self.fixed {
            let extractor = self.extractor;
            match self
                .pipeline
                .process_lean(ts, line, &self.streams[stream], &self.metadata, |b, l| extractor.lean_value(b, l))
            {
                None | Some(Some(None)) => return, // dropped by the pipeline, or no sample
                Some(Some(Some(value))) => {
                    self.add_sample(id, ts, stream, value);
                    return;
                }
                Some(None) => {} // an error or a conversion failure: the general path decides
            }
        }
        let Some(p) = self.pipeline.process_uncategorized(ts, line, &self.streams[stream], &self.metadata) else {
            return;
        };
        let original;
        let text = match &p.line {
            Some(l) => l.as_str(),
            None => {
                original = String::from_utf8_lossy(line);
                &original
            }
        };
        let Some((value, labels)) = self.extractor.extract(text, &p.labels) else { return };
        let id = self.series_id(labels);
        self.add_sample(id, ts, stream, value);
    }
}

#[cfg(test)]
mod tests {
    use super::super::range::RangeAgg;
    use super::super::testutil::{collect_steps as collect, labels, metric, MemSource, S};
    use super::*;
    use crate::logql::{Grouping, MetricExpr};
    use crate::query::plan::RangePlan;

    /// Stream by stream gives exactly what the time-ordered evaluation gives, ties on time
    /// across streams included.
    #[test]
    fn per_stream_matches_the_entry_scan() {
        let mut e = Vec::new();
        for i in 0..500i64 {
            let app = ["a", "b", "c"][(i % 3) as usize];
            let pod = ["1", "2"][(i % 2) as usize];
            let line = format!(
                r#"{{"latency": {}, "status": "{}", "n": {}, "app": "x{}", "req": {{"ms": {}}}}}"#,
                (i * 37) % 101,
                ["ok", "err"][(i % 5 == 0) as usize],
                i,
                i % 2,
                i % 13
            );
            // Every 7th entry shares its time with the previous one (another stream).
            let ts = if i % 7 == 0 { (i - 1) * 3 * S } else { i * 3 * S };
            e.push((ts, labels(&[("app", app), ("pod", pod)]), line));
        }
        let src = MemSource::new(e);
        let by_app = Grouping::By(vec!["app".into()]);
        let without_pod = Grouping::Without(vec!["pod".into()]);
        // A JSON key that collides with a stream label becomes `<key>_extracted`; nested keys
        // are flattened (`req_ms`): the parser hints must keep both.
        let by_extracted = Grouping::By(vec!["app_extracted".into()]);
        let cases: [(&str, Option<&Grouping>); 10] = [
            (r#"count_over_time({app=~".+"} | json [30s])"#, Some(&by_extracted)),
            (r#"sum_over_time({app=~".+"} | json | unwrap req_ms [30s])"#, Some(&by_app)),
            (r#"quantile_over_time(0.9, {app=~".+"} | json | unwrap latency [30s])"#, Some(&by_app)),
            (r#"sum_over_time({app=~".+"} | json | unwrap latency [1m])"#, None),
            (r#"avg_over_time({app=~".+"} | json | status="ok" | unwrap latency [45s])"#, Some(&without_pod)),
            (r#"first_over_time({app=~".+"} | json | unwrap n [20s])"#, Some(&by_app)),
            (r#"last_over_time({app=~"a|b"} | json | unwrap n [20s])"#, None),
            (r#"rate_counter({app=~".+"} | json | unwrap n [40s])"#, Some(&by_app)),
            (r#"count_over_time({app=~".+"} | json | status="err" [1m])"#, None),
            (r#"stddev_over_time({app="a"} |= "ok" | json | unwrap latency [2m])"#, None),
        ];
        for (q, grouping) in cases {
            let MetricExpr::RangeAgg { op, param, range, .. } = metric(q) else { panic!("{q}") };
            let agg = RangeAgg::new(&RangePlan::new(op, param, &range, grouping.cloned(), false)).unwrap();
            for (start, step, n) in [(0, 10 * S, 160), (95 * S, 7 * S, 40), (900 * S, 0, 1), (100 * S, 600 * S, 5)] {
                let steps = Steps { start, step, n };
                let (fast, slow) = (collect(&agg, &steps, &src, true), collect(&agg, &steps, &src, false));
                assert_eq!(fast, slow, "{q} over {steps:?}");
            }
        }
    }

    /// Lines without the unwrapped label's letters are skipped before the parser runs;
    /// every way a line can still name the label gives the same answer as the full path.
    #[test]
    fn unwrap_needle_skips_only_lines_that_cannot_yield() {
        let lines = [
            r#"{"latency_ms": 5, "x": 1}"#,
            r#"{"lat": 1, "status": "ok"}"#,
            r#"{"latency": {"ms": 7}}"#,
            r#"{"l\u0061tency_ms": 11}"#,
            r#"{"latency-ms": 13}"#,
            r#"{" latency_ms ": 17}"#,
            r#"{"other": "no latency here"}"#,
            r#"{"x": 1 "latency_ms": 2}"#,
            "latency_ms=19 level=info",
            "lat=3 level=info",
            "not json at all",
        ];
        let mut e = Vec::new();
        for i in 0..220i64 {
            let line = lines[(i % lines.len() as i64) as usize];
            // One stream carries the label itself: every one of its entries yields a sample
            // (its lines are all the first one, valid JSON).
            let app = ["a", "b"][(i % 2) as usize];
            let l = if i % lines.len() as i64 == 0 {
                labels(&[("app", app), ("latency_ms", "23")])
            } else {
                labels(&[("app", app)])
            };
            e.push((i * 2 * S, l, line.to_string()));
        }
        let src = MemSource::new(e);
        let by_app = Grouping::By(vec!["app".into()]);
        for q in [
            r#"sum_over_time({app=~".+"} | json | unwrap latency_ms [30s])"#,
            r#"avg_over_time({app=~".+"} | logfmt | unwrap latency_ms [30s])"#,
            r#"max_over_time({app=~".+"} |= "a" | json | drop x | unwrap latency_ms [1m])"#,
        ] {
            let MetricExpr::RangeAgg { op, param, range, .. } = metric(q) else { panic!("{q}") };
            for grouping in [None, Some(&by_app)] {
                let agg = RangeAgg::new(&RangePlan::new(op, param, &range, grouping.cloned(), false)).unwrap();
                let steps = Steps { start: 0, step: 10 * S, n: 50 };
                // (The time-ordered test path parses with serde_json and does not sanitize
                // keys: the reference here is the per-stream path without the needle.)
                let fast = collect(&agg, &steps, &src, true);
                NO_NEEDLE.set(true);
                let full = collect(&agg, &steps, &src, true);
                NO_NEEDLE.set(false);
                assert_eq!(fast, full, "{q} {grouping:?}");
                assert!(fast.iter().any(|(_, v)| !v.is_empty()), "{q} has samples");
            }
        }
        // The escaped and the nested keys do yield values (so the test can fail).
        let MetricExpr::RangeAgg { op, param, range, .. } =
            metric(r#"max_over_time({app=~".+"} | json | unwrap latency_ms [1h])"#)
        else {
            panic!()
        };
        let agg = RangeAgg::new(&RangePlan::new(op, param, &range, None, false)).unwrap();
        let all = collect(&agg, &Steps { start: 440 * S, step: 0, n: 1 }, &src, true);
        let max = all[0].1.iter().map(|(_, v)| *v).fold(f64::MIN, f64::max);
        assert_eq!(max, 23.0);

        // Metadata with the label's name keeps an entry in.
        let MetricExpr::RangeAgg { range, .. } = metric(r#"sum_over_time({app="a"} | json | unwrap trace [1m])"#)
        else {
            panic!()
        };
        let ex = Extractor::planned(RangeOp::SumOverTime, &range, None).unwrap();
        let win = Windows { start: 0, step: S, n: 1, range: S, offset: 0 };
        let mut c = Collect::new(&range.log.stages, &ex, None, win).unwrap();
        c.begin(&labels(&[("app", "a")]));
        assert!(c.needle_applies);
        assert!(c.cannot_yield(br#"{"a": 1}"#));
        assert!(!c.cannot_yield(br#"{"trace": 1}"#));
        assert!(!c.cannot_yield(br#"{"a": "\u0074race"}"#));
        c.metadata.push(("trace".into(), "7".into()));
        assert!(!c.cannot_yield(br#"{"a": 1}"#));
        c.begin(&labels(&[("app", "a"), ("trace", "1")]));
        assert!(!c.needle_applies);
    }
}
