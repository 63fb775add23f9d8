//! Per-stream scans ([`StreamScan`]) over the store, for metric kernels that do not need
//! the global time order: each selected stream is read on its own, its blocks in key
//! order, and the streams are shared out among worker threads.
//!
//! Within a stream, blocks whose time bounds do not overlap are read one by one; a run of
//! overlapping blocks (out-of-order pushes not merged yet) is read together and its
//! entries sorted by time, so entries always come in ascending time and exact duplicates
//! (same time and line) are dropped, as the k-way merge of [`super::logs`] does.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::logs::{matching_streams, StoreSource};
use super::pipeline::LogPipeline;
use super::result::Stats;
use super::source::{StreamScan, StreamSink};
use super::{Deadline, QueryError};
use crate::index::StreamMeta;
use crate::logql::LogExpr;
use crate::model::{Nanos, TimeRange};
use crate::store::block::{Block, CorruptBlock};
use crate::store::columns::{Cell, Column, KIND_JSON};
use crate::store::filter::Probe;
use crate::store::{scan, BlockKey, Snapshot};

impl StreamScan for StoreSource<'_> {
    fn scan_streams(
        &self,
        log: &LogExpr,
        from: Nanos,
        to: Nanos,
        sinks: &mut [&mut dyn StreamSink],
    ) -> Result<(), QueryError> {
        let pipeline = LogPipeline::compile(&log.stages)?;
        if !pipeline.line_filters_only() {
            return Err(QueryError::Internal("a stream scan takes line filters only"));
        }
        let range = TimeRange { start: from, end: to };
        let metas = matching_streams(self.engine, &self.snap, self.tenant, &log.matchers, range)?;
        self.stats.borrow_mut().streams += metas.len() as u64;
        if range.end <= range.start || metas.is_empty() {
            return Ok(());
        }
        let next = AtomicUsize::new(0);
        let total = Mutex::new(Stats::default());
        let failed: Mutex<Option<QueryError>> = Mutex::new(None);
        let lines = !pipeline.is_noop() || sinks.iter().any(|s| s.wants_lines());
        // Field columns stand in for lines only when no line filter needs the lines.
        let column = sinks.first().and_then(|s| s.column()).filter(|_| pipeline.is_noop()).map(str::to_string);
        let job = Job { snap: &self.snap, pipeline: &pipeline, range, deadline: &self.deadline, lines, column };
        let workers = sinks.len().min(metas.len()).max(1);
        std::thread::scope(|s| {
            for sink in sinks.iter_mut().take(workers) {
                let (job, metas, next, total, failed) = (&job, &metas, &next, &total, &failed);
                s.spawn(move || {
                    let mut stats = Stats::default();
                    let mut charge = job.deadline.charge();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= metas.len() {
                            break;
                        }
                        if let Err(e) = job.stream(&metas[i], &mut **sink, &mut charge, &mut stats) {
                            // Stop every worker: claim the rest of the streams.
                            next.store(metas.len(), Ordering::Relaxed);
                            failed.lock().expect("no panics under this lock").get_or_insert(e);
                            break;
                        }
                    }
                    total.lock().expect("no panics under this lock").add(&stats);
                });
            }
        });
        self.stats.borrow_mut().add(&total.into_inner().expect("workers joined"));
        match failed.into_inner().expect("workers joined") {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// What every worker shares.
struct Job<'j> {
    snap: &'j Snapshot<'j>,
    pipeline: &'j LogPipeline,
    range: TimeRange,
    deadline: &'j Deadline,
    /// Whether anything reads the lines; if not, they stay compressed (but for comparing
    /// entries with equal times).
    lines: bool,
    /// The `| json` field column the sinks take instead of lines where a block has it
    /// ([`StreamSink::column`]): such blocks' pages are decompressed only for the entries the
    /// column cannot answer for.
    column: Option<String>,
}

impl Job<'_> {
    /// Feeds one stream to `sink`.
    /// What the sink holds is charged to `charge` after every block.
    fn stream(
        &self,
        meta: &StreamMeta,
        sink: &mut dyn StreamSink,
        charge: &mut crate::query::Charge,
        stats: &mut Stats,
    ) -> Result<(), QueryError> {
        self.deadline.check()?;
        let mut refs: Vec<BlockKey> = Vec::new();
        self.snap.stream_blocks(meta.id, self.range, |key| {
            refs.push(key);
            true
        })?;
        stats.blocks_referenced += refs.len() as u64;
        if refs.is_empty() {
            return Ok(());
        }
        sink.begin(&meta.labels);
        // Keys sort by (hour, min_ts): cut them into runs of overlapping time bounds.
        for run in scan::overlapping_runs(&refs) {
            if run.len() == 1 {
                if let Some(block) = self.read(&refs[run.start], stats)? {
                    self.feed_block(&block, sink, stats)?;
                }
            } else {
                self.feed_overlapping(&refs[run], sink, stats)?;
            }
            charge.hold(sink.held_bytes())?;
        }
        Ok(())
    }

    fn read(&self, key: &BlockKey, stats: &mut Stats) -> Result<Option<Block>, QueryError> {
        self.deadline.check()?;
        // Whoever reads lines reads every page the filters leave: decompress those at once
        // (unless a column may stand in for them).
        let eager = self.lines && self.column.is_none();
        read_counted(self.snap, key, eager, self.pipeline.required_probe(), stats)
    }

    /// The block's column [`Self::column`], if it has one; else, for a reader of lines whose
    /// block was read lazily, its lines decompressed now.
    fn column_of(&self, block: &Block) -> Result<Option<Column>, QueryError> {
        let Some(name) = &self.column else { return Ok(None) };
        let col = block.column(KIND_JSON, name).map_err(corrupt)?;
        if col.is_none() && self.lines {
            block.load_lines().map_err(corrupt)?;
        }
        Ok(col)
    }

    /// Hands entry `i` to `sink`: its column cell when the sink takes that, else its line.
    fn emit(&self, block: &Block, col: Option<&Column>, i: usize, sink: &mut dyn StreamSink) -> Result<(), QueryError> {
        let (ts, meta) = (block.ts(i), block.metadata_bytes(i));
        if let Some(c) = col {
            let taken = match c.cell(i) {
                Cell::Absent => sink.column_entry(ts, None, meta),
                Cell::Value(v) => sink.column_entry(ts, Some(v), meta),
                Cell::Unknown => false,
            };
            if taken {
                return Ok(());
            }
        }
        let line = if self.lines { block.try_line(i).map_err(corrupt)? } else { &[] };
        sink.entry(ts, line, block.line_len(i), meta);
        Ok(())
    }

    fn candidates(&self, block: &Block, stats: &mut Stats, f: impl FnMut(usize)) -> Result<(), QueryError> {
        let lo = block.lower_bound(self.range.start);
        let hi = block.lower_bound(self.range.end);
        let p = self.pipeline;
        if p.is_noop() {
            stats.lines_processed += (hi - lo) as u64;
            stats.bytes_processed += (block.line_offset(hi) - block.line_offset(lo)) as u64;
            (lo..hi).for_each(f);
            Ok(())
        } else {
            for_each_matching(block, p.required_substring(), lo..hi, stats, |l| p.keep_line(l), f)
        }
    }

    fn feed_block(&self, block: &Block, sink: &mut dyn StreamSink, stats: &mut Stats) -> Result<(), QueryError> {
        let col = self.column_of(block)?;
        let mut run = SameTime::default();
        let mut fed = 0u64;
        let mut failed = Ok(());
        self.candidates(block, stats, |i| {
            let ts = block.ts(i);
            if failed.is_ok() && run.first(ts, (0, i), |&(_, j)| block.line(j) == block.line(i)) {
                fed += 1;
                failed = self.emit(block, col.as_ref(), i, sink);
            }
        })?;
        failed?;
        stats.post_filter_lines += fed;
        stats.decompressed_bytes += block.decoded_len() as u64;
        Ok(())
    }

    fn feed_overlapping(
        &self,
        refs: &[BlockKey],
        sink: &mut dyn StreamSink,
        stats: &mut Stats,
    ) -> Result<(), QueryError> {
        let mut blocks = Vec::with_capacity(refs.len());
        for r in refs {
            if let Some(b) = self.read(r, stats)? {
                blocks.push(b);
            }
        }
        // (ts, block, entry), sorted by time, then line (the order blocks are written in).
        let mut order: Vec<(Nanos, u32, u32)> = Vec::new();
        for (b, block) in blocks.iter().enumerate() {
            self.candidates(block, stats, |i| order.push((block.ts(i), b as u32, i as u32)))?;
        }
        order.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| blocks[a.1 as usize].line(a.2 as usize).cmp(blocks[b.1 as usize].line(b.2 as usize)))
        });
        let cols = blocks.iter().map(|b| self.column_of(b)).collect::<Result<Vec<_>, _>>()?;
        let mut run = SameTime::default();
        for &(ts, b, i) in &order {
            let (block, i) = (&blocks[b as usize], i as usize);
            if run.first(ts, (b as usize, i), |&(pb, pi)| blocks[pb].line(pi) == block.line(i)) {
                stats.post_filter_lines += 1;
                self.emit(block, cols[b as usize].as_ref(), i, sink)?;
            }
        }
        stats.decompressed_bytes += blocks.iter().map(|b| b.decoded_len() as u64).sum::<u64>();
        Ok(())
    }
}

/// Reads one block for a query that only wants lines `probe` allows (decompressing every
/// possible page at once with `lines`), counting what it read: `None` when the block is gone
/// or its page filters rule it out.
pub(crate) fn read_counted(
    snap: &Snapshot,
    key: &BlockKey,
    lines: bool,
    probe: &Probe,
    stats: &mut Stats,
) -> Result<Option<Block>, QueryError> {
    let Some((block, stored)) = snap.open_block(key, lines, probe)? else { return Ok(None) };
    stats.compressed_bytes += stored as u64;
    if block.is_some() {
        stats.blocks_decoded += 1;
    } else {
        stats.blocks_skipped += 1;
    }
    Ok(block)
}

/// Calls `f` with every entry in `entries` of `block` that contains `required` (when
/// given) and whose line passes `keep`, in order.
///
/// Page by page: a page that the block's decoding probe (the pipeline's
/// `required_probe`) ruled out is not decompressed. Within a page
/// the required substring is searched over all its lines at once; a match may straddle two
/// lines, so each hit is checked on its own line and the search resumes at the start of the
/// next line (never after the straddling match, which could hide a real match that begins
/// inside the next line).
#[allow(clippy::too_many_arguments)]
pub(crate) fn for_each_matching(
    block: &Block,
    required: Option<&memchr::memmem::Finder<'_>>,
    entries: std::ops::Range<usize>,
    stats: &mut Stats,
    keep: impl Fn(&[u8]) -> bool,
    mut f: impl FnMut(usize),
) -> Result<(), QueryError> {
    let (lo, hi) = (entries.start, entries.end);
    stats.lines_processed += (hi - lo) as u64;
    if lo >= hi {
        return Ok(());
    }
    let mut any = false;
    for p in block.pages_of(lo..hi) {
        if !block.page_possible(p) {
            continue;
        }
        let region = block.page_lines(p).map_err(corrupt)?;
        let entries = block.page_entries(p);
        let (plo, phi) = (lo.max(entries.start), hi.min(entries.end));
        let base = block.page_start(p);
        let end = block.line_offset(phi) - base;
        let mut at = block.line_offset(plo) - base;
        stats.bytes_processed += (end - at) as u64;
        let Some(finder) = required else {
            (plo..phi).filter(|&i| keep(block.line(i))).for_each(|i| {
                any = true;
                f(i)
            });
            continue;
        };
        while at < end {
            let Some(off) = finder.find(&region[at..end]) else { break };
            let i = block.entry_at_line_offset(base + at + off);
            let next = block.line_offset(i + 1) - base;
            // The leftmost match starting in line `i` straddles into the next line: then no
            // match lies inside line `i`.
            if at + off + finder.needle().len() <= next && keep(block.line(i)) {
                any = true;
                f(i);
            }
            at = next;
        }
    }
    if !any {
        stats.blocks_skipped += 1;
    }
    Ok(())
}

fn corrupt(e: CorruptBlock) -> QueryError {
    QueryError::Store(crate::store::StoreError::Corrupt(e.to_string()))
}

/// The entries fed at the current timestamp, to drop exact duplicates.
#[derive(Default)]
struct SameTime {
    ts: Option<Nanos>,
    seen: Vec<(usize, usize)>,
}

impl SameTime {
    /// Whether the entry `at` with time `ts` is the first with its line at that time
    /// (`same_line` compares with an entry seen before); remembers it.
    fn first(&mut self, ts: Nanos, at: (usize, usize), same_line: impl Fn(&(usize, usize)) -> bool) -> bool {
        if self.ts != Some(ts) {
            self.ts = Some(ts);
            self.seen.clear();
        } else if self.seen.iter().any(same_line) {
            return false;
        }
        self.seen.push(at);
        true
    }
}
