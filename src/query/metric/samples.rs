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
use super::{pipeline_error, Steps, StepVector};
use crate::logql::{LogExpr, LogRange, RangeOp, Stage};
use crate::model::{Labels, Nanos};
use crate::query::pipeline::LogPipeline;
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
    prefilter: LogExpr,
}

impl PerStream {
    /// Every range aggregation but `absent_over_time` (whose answer is about the absence
    /// of every series).
    pub(super) fn for_range(op: RangeOp, range: &LogRange) -> Option<PerStream> {
        if op == RangeOp::AbsentOverTime {
            return None;
        }
        let mut stages = Vec::new();
        for s in &range.log.stages {
            match s {
                Stage::LineFilter(_) => stages.push(s.clone()),
                Stage::LineFormat(_) | Stage::Unpack | Stage::Decolorize => break,
                _ => {}
            }
        }
        Some(PerStream { prefilter: LogExpr { matchers: range.log.matchers.clone(), stages } })
    }

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
                .map(|_| Collect::new(&range.log.stages, extractor, win))
                .collect::<Result<_, _>>()?;
            {
                let mut sinks: Vec<&mut dyn StreamSink> = workers.iter_mut().map(|w| w as &mut dyn StreamSink).collect();
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
            samples.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
            let samples = samples.into_iter().map(|(t, _, v)| (t, v)).collect();
            (labels, Series { samples, lo: 0, hi: 0 })
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
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
}

impl<'e> Collect<'e> {
    fn new(stages: &[Stage], extractor: &'e Extractor, win: Windows) -> Result<Collect<'e>, QueryError> {
        let pipeline = LogPipeline::compile_for(stages, extractor.wanted.clone())?;
        let lean = pipeline.keeps_stream_labels();
        Ok(Collect {
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
        })
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

impl StreamSink for Collect<'_> {
    fn begin(&mut self, stream: &Labels) {
        self.streams.push(stream.clone());
        self.fixed = None;
        if self.lean && self.extractor.ignores_metadata(stream) {
            let labels = self.extractor.group_of(stream);
            self.fixed = Some(self.series_id(std::borrow::Cow::Owned(labels)));
        }
    }

    fn entry(&mut self, ts: Nanos, line: &[u8], _line_len: usize, metadata: &[u8]) {
        if self.win.span(ts).is_none() {
            return;
        }
        decode_metadata(metadata, &mut self.metadata_raw, &mut self.metadata);
        let stream = self.streams.len() - 1;
        if let Some(id) = self.fixed {
            let extractor = self.extractor;
            match self.pipeline.process_lean(ts, line, &self.streams[stream], &self.metadata, |b, l| extractor.lean_value(b, l)) {
                None | Some(Some(None)) => return, // dropped by the pipeline, or no sample
                Some(Some(Some(value))) => {
                    self.series[id].1.push((ts, stream as u32, value));
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
        self.series[id].1.push((ts, stream as u32, value));
    }
}

#[cfg(test)]
mod tests {
    use super::super::range::RangeAgg;
    use super::super::testutil::{collect_steps as collect, labels, metric, MemSource, S};
    use super::*;
    use crate::logql::{Grouping, MetricExpr};

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
            let agg = RangeAgg::new(op, param, &range, grouping).unwrap();
            for (start, step, n) in [(0, 10 * S, 160), (95 * S, 7 * S, 40), (900 * S, 0, 1), (100 * S, 600 * S, 5)] {
                let steps = Steps { start, step, n };
                let (fast, slow) = (collect(&agg, &steps, &src, true), collect(&agg, &steps, &src, false));
                assert_eq!(fast, slow, "{q} over {steps:?}");
            }
        }
    }
}
