//! Log query execution: select streams, walk hour buckets in query order, lazily k-way
//! merge the blocks of that hour, stop at the limit.
//!
//! Memory is bounded by the blocks that overlap the current merge position: a block is
//! read and decoded only when its time bounds (from its key) say it can hold the next
//! entry, and blocks without the required substring are skipped after one `memmem` pass.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;

use roaring::RoaringBitmap;

use super::pipeline::{LogPipeline, Processed};
use super::result::{ResultEntry, Stats, StreamResult};
use super::scan::{for_each_matching, read_counted};
use super::source::{LogSource, ProcessedEntry};
use super::{Deadline, Engine, QueryError};
use crate::index::{self, compile_all, CompiledMatcher, StreamMeta};
use crate::logql::LogExpr;
use crate::model::{Direction, Labels, Nanos, TimeRange};
use crate::store::block::Block;
use crate::store::{scan, BlockKey, Snapshot};

/// A log query request.
pub struct LogQuery<'a> {
    pub tenant: &'a str,
    pub expr: &'a LogExpr,
    pub range: TimeRange,
    pub limit: usize,
    pub direction: Direction,
    /// Loki's `categorize-labels` encoding flag.
    pub categorize: bool,
    /// Minimum spacing between returned entries (ns, 0 = off).
    pub interval: i64,
    pub deadline: Deadline,
}

/// Streams matching `matchers` with data in `range`.
pub fn select(
    snap: &Snapshot,
    tenant: &str,
    matchers: &[crate::logql::Matcher],
    range: TimeRange,
) -> Result<RoaringBitmap, QueryError> {
    let compiled = compile_all(matchers).map_err(|e| QueryError::BadRegex(e.to_string()))?;
    select_compiled(snap, tenant, &compiled, range)
}

fn select_compiled(
    snap: &Snapshot,
    tenant: &str,
    compiled: &[CompiledMatcher],
    range: TimeRange,
) -> Result<RoaringBitmap, QueryError> {
    if range.end <= range.start {
        return Ok(RoaringBitmap::new());
    }
    Ok(index::select_streams(snap, tenant, compiled, scan::days(range))?)
}

/// The streams of `tenant` that match `matchers` and have data in `range`. Each stream the
/// index returns is checked against the matchers once more: a selector never reads a
/// stream it does not match, whatever an old index partition says.
pub(crate) fn matching_streams(
    engine: &Engine,
    snap: &Snapshot,
    tenant: &str,
    matchers: &[crate::logql::Matcher],
    range: TimeRange,
) -> Result<Vec<Arc<StreamMeta>>, QueryError> {
    let compiled = compile_all(matchers).map_err(|e| QueryError::BadRegex(e.to_string()))?;
    let ids = select_compiled(snap, tenant, &compiled, range)?;
    Ok(ids
        .iter()
        .filter_map(|id| engine.registry.meta(id))
        .filter(|m| m.tenant == tenant && compiled.iter().all(|c| c.matches(m.labels.get(&c.name).unwrap_or(""))))
        .collect())
}

/// An entry of an opened block that passed the pipeline, with the pipeline's output
/// when the pipeline does more than filter lines.
pub(crate) struct Hit {
    idx: u32,
    processed: Option<Processed>,
}

/// One opened block. `cands` are the entry indices still to visit, in query order (already
/// filtered when the pipeline only filters lines); other pipelines run lazily, one entry
/// at a time, so an open block holds at most one processed entry.
struct Cursor {
    rank: u32,
    meta: Arc<StreamMeta>,
    block: Block,
    cands: Vec<u32>,
    pos: usize,
    /// The entry at the merge position; always `Some` while the cursor is in the heap.
    current: Option<Hit>,
    backward: bool,
    /// The decoded block's bytes, charged to the query's budget until the cursor is dropped.
    _charge: super::Charge,
}

impl Cursor {
    fn ts(&self) -> Nanos {
        self.block.ts(self.current.as_ref().map_or(0, |h| h.idx as usize))
    }

    fn line(&self) -> &[u8] {
        self.block.line(self.current.as_ref().map_or(0, |h| h.idx as usize))
    }

    /// Moves to the next entry that passes the pipeline; false when the block is done.
    fn advance(&mut self, pipeline: &LogPipeline, categorize: bool) -> bool {
        while self.pos < self.cands.len() {
            let i = self.cands[self.pos] as usize;
            self.pos += 1;
            if pipeline.line_filters_only() {
                self.current = Some(Hit { idx: i as u32, processed: None });
                return true;
            }
            let metadata = owned_metadata(&self.block, i);
            let (ts, line) = (self.block.ts(i), self.block.line(i));
            let processed = if categorize {
                pipeline.process(ts, line, &self.meta.labels, &metadata)
            } else {
                pipeline.process_uncategorized(ts, line, &self.meta.labels, &metadata)
            };
            if let Some(p) = processed {
                self.current = Some(Hit { idx: i as u32, processed: Some(p) });
                return true;
            }
        }
        self.current = None;
        false
    }
}

impl PartialEq for Cursor {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Cursor {}
impl PartialOrd for Cursor {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Cursor {
    /// Max-heap order: the cursor whose next entry comes first in query order is greatest.
    /// Ties on time go to the stream whose labels sort first, then (two blocks of one
    /// stream) to the smaller line: blocks are sorted by (time, line) too, so entries with
    /// equal times come back in one order whatever the block layout (reversed backward).
    fn cmp(&self, other: &Self) -> Ordering {
        let by_time = if self.backward { self.ts().cmp(&other.ts()) } else { other.ts().cmp(&self.ts()) };
        by_time.then_with(|| other.rank.cmp(&self.rank)).then_with(|| {
            let by_line = other.line().cmp(self.line());
            if self.backward {
                by_line.reverse()
            } else {
                by_line
            }
        })
    }
}

struct BlockRef {
    rank: u32,
    key: BlockKey,
}

/// What a visitor wants after an entry.
pub(crate) enum Flow {
    Continue,
    Stop,
}

/// Walks every entry of `matchers` + `pipeline` in `range`, in `direction` order across
/// all streams, calling `visit` until it answers [`Flow::Stop`]. Exact duplicates (same
/// stream, time and line) are visited once.
#[allow(clippy::too_many_arguments)]
fn walk(
    engine: &Engine,
    snap: &Snapshot,
    tenant: &str,
    matchers: &[crate::logql::Matcher],
    pipeline: &LogPipeline,
    range: TimeRange,
    direction: Direction,
    deadline: &Deadline,
    categorize: bool,
    stats: &mut Stats,
    mut visit: impl FnMut(&StreamMeta, &Block, &Hit) -> Result<Flow, QueryError>,
) -> Result<(), QueryError> {
    // Rank streams by label string so that ties on time break like Loki (labels ascending).
    let mut metas = matching_streams(engine, snap, tenant, matchers, range)?;
    metas.sort_by(|a, b| a.key.cmp(&b.key));
    stats.streams = metas.len() as u64;
    if range.end <= range.start || metas.is_empty() {
        return Ok(());
    }
    let backward = direction == Direction::Backward;
    let hours: Box<dyn Iterator<Item = i64>> =
        if backward { Box::new(scan::hours(range).rev()) } else { Box::new(scan::hours(range)) };
    for hour in hours {
        deadline.check()?;
        let mut refs = Vec::new();
        for (rank, m) in metas.iter().enumerate() {
            snap.hour_blocks(m.id, hour, range, |key| refs.push(BlockRef { rank: rank as u32, key }))?;
        }
        stats.blocks_referenced += refs.len() as u64;
        if backward {
            refs.sort_by_key(|r| std::cmp::Reverse(r.key.max_ts));
        } else {
            refs.sort_by_key(|r| r.key.min_ts);
        }
        let hour = Hour { refs: &refs, metas: &metas, snap, pipeline, range, direction, categorize, deadline };
        // Filtering queries read most blocks: decode them ahead on every core. Others
        // (a plain selector with a limit) usually stop after a block or two.
        let workers = if pipeline.is_noop() || refs.len() < 2 { 1 } else { super::workers() };
        if let Flow::Stop = hour.merge(workers, stats, &mut visit)? {
            return Ok(());
        }
    }
    Ok(())
}

/// One hour bucket of a [`walk`]: its block refs in query order and what opening needs.
struct Hour<'h> {
    refs: &'h [BlockRef],
    metas: &'h [Arc<StreamMeta>],
    snap: &'h Snapshot<'h>,
    pipeline: &'h LogPipeline,
    range: TimeRange,
    direction: Direction,
    categorize: bool,
    deadline: &'h Deadline,
}

type Opened = Result<Option<Cursor>, QueryError>;

impl Hour<'_> {
    fn open(&self, i: usize, stats: &mut Stats) -> Opened {
        self.deadline.check()?;
        let mut opened = open(
            self.snap,
            &self.refs[i],
            self.metas,
            self.pipeline,
            self.range,
            self.direction,
            self.categorize,
            stats,
        )?;
        if let Some(c) = &mut opened {
            // Open cursors (and those read ahead) are what a log query holds.
            let mut charge = self.deadline.charge();
            charge.grow(c.block.decoded_len() + 4 * c.cands.len())?;
            c._charge = charge;
        }
        Ok(opened)
    }

    /// Merges the hour's blocks, opening them on `workers` threads ahead of the merge (in
    /// query order, at most two blocks ahead per worker).
    fn merge(
        &self,
        workers: usize,
        stats: &mut Stats,
        visit: &mut impl FnMut(&StreamMeta, &Block, &Hit) -> Result<Flow, QueryError>,
    ) -> Result<Flow, QueryError> {
        if workers <= 1 {
            return self.merge_with(stats, &mut |i, stats| self.open(i, stats), visit);
        }
        std::thread::scope(|scope| {
            let mut rxs = Vec::with_capacity(workers);
            let mut handles = Vec::with_capacity(workers);
            for w in 0..workers {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Opened>(2);
                rxs.push(rx);
                handles.push(scope.spawn(move || {
                    let mut stats = Stats::default();
                    for i in (w..self.refs.len()).step_by(workers) {
                        let opened = self.open(i, &mut stats);
                        let failed = opened.is_err();
                        if tx.send(opened).is_err() || failed {
                            break; // the merge stopped, or this error ends it
                        }
                    }
                    stats
                }));
            }
            let mut get = |i: usize, _: &mut Stats| -> Opened {
                rxs[i % workers].recv().unwrap_or(Err(QueryError::Internal("block reader stopped")))
            };
            let flow = self.merge_with(stats, &mut get, visit);
            drop(rxs);
            for h in handles {
                let worker = h.join().expect("block readers do not panic");
                stats.add(&worker);
            }
            flow
        })
    }

    /// The k-way merge of the hour's blocks; `get(i)` opens block ref `i` (in order).
    fn merge_with(
        &self,
        stats: &mut Stats,
        get: &mut dyn FnMut(usize, &mut Stats) -> Opened,
        visit: &mut impl FnMut(&StreamMeta, &Block, &Hit) -> Result<Flow, QueryError>,
    ) -> Result<Flow, QueryError> {
        let backward = self.direction == Direction::Backward;
        let mut heap: BinaryHeap<Cursor> = BinaryHeap::new();
        let mut next = 0usize;
        // (stream, line) of entries visited at the current timestamp: duplicates pushed
        // twice (re-collected logs) are returned once, as Loki's merge does. The buffers
        // are reused: no allocation per entry.
        let mut same_ts: Vec<(u32, Vec<u8>)> = Vec::new();
        let mut same_used = 0usize;
        let mut same_ts_at: Option<Nanos> = None;
        loop {
            while next < self.refs.len() {
                let r = &self.refs[next];
                let needed = match heap.peek() {
                    None => true,
                    Some(top) if backward => r.key.max_ts >= top.ts(),
                    Some(top) => r.key.min_ts <= top.ts(),
                };
                if !needed {
                    break;
                }
                if let Some(c) = get(next, stats)? {
                    heap.push(c);
                }
                next += 1;
            }
            let Some(mut cur) = heap.pop() else { break };
            let Some(hit) = cur.current.as_ref() else { continue };
            let idx = hit.idx as usize;
            let ts = cur.block.ts(idx);
            let line = cur.block.line(idx);
            if same_ts_at != Some(ts) {
                same_ts_at = Some(ts);
                same_used = 0;
            }
            let id = cur.meta.id;
            let duplicate = same_ts[..same_used].iter().any(|(s, l)| *s == id && l == line);
            if !duplicate {
                if same_used < same_ts.len() {
                    same_ts[same_used].0 = id;
                    same_ts[same_used].1.clear();
                    same_ts[same_used].1.extend_from_slice(line);
                } else {
                    same_ts.push((id, line.to_vec()));
                }
                same_used += 1;
                stats.post_filter_lines += 1;
                if let Flow::Stop = visit(&cur.meta, &cur.block, hit)? {
                    return Ok(Flow::Stop);
                }
            }
            if cur.advance(self.pipeline, self.categorize) {
                heap.push(cur);
            }
        }
        Ok(Flow::Continue)
    }
}

pub fn run(engine: &Engine, q: &LogQuery) -> Result<(Vec<StreamResult>, Stats), QueryError> {
    let started = std::time::Instant::now();
    let pipeline = LogPipeline::compile(&q.expr.stages)?;
    let mut stats = Stats::default();
    let mut groups = Groups::default();
    let mut emitted = 0usize;
    let mut last_accepted: Option<Nanos> = None;
    let backward = q.direction == Direction::Backward;
    if q.limit > 0 {
        let snap = engine.rocks.snapshot();
        walk(
            engine,
            &snap,
            q.tenant,
            &q.expr.matchers,
            &pipeline,
            q.range,
            q.direction,
            &q.deadline,
            q.categorize,
            &mut stats,
            |meta, block, hit| {
                let ts = block.ts(hit.idx as usize);
                let spaced = match (q.interval, last_accepted) {
                    (0, _) | (_, None) => true,
                    (iv, Some(prev)) => {
                        if backward {
                            ts <= prev - iv
                        } else {
                            ts >= prev + iv
                        }
                    }
                };
                if spaced {
                    last_accepted = Some(ts);
                    groups.add(meta, block, hit, q.categorize);
                    emitted += 1;
                    if emitted >= q.limit {
                        return Ok(Flow::Stop);
                    }
                }
                Ok(Flow::Continue)
            },
        )?;
    }
    stats.entries_returned = emitted as u64;
    stats.exec_seconds = started.elapsed().as_secs_f64();
    Ok((groups.into_streams(), stats))
}

/// The streams of a log query's answer, keyed by their label text (Loki's order).
#[derive(Default)]
struct Groups {
    by_key: BTreeMap<String, StreamResult>,
    /// For entries the pipeline did not touch: (stream id, encoded metadata) → the group's
    /// key, so that an entry of a known (stream, metadata) pair builds no label set.
    known: std::collections::HashMap<u32, std::collections::HashMap<Vec<u8>, String>>,
}

impl Groups {
    fn add(&mut self, meta: &StreamMeta, block: &Block, hit: &Hit, categorize: bool) {
        let idx = hit.idx as usize;
        if hit.processed.is_none() {
            let raw = block.metadata_bytes(idx);
            if let Some(key) = self.known.get(&meta.id).and_then(|m| m.get(raw)) {
                let metadata = if categorize { owned_metadata(block, idx) } else { Vec::new() };
                let line = String::from_utf8_lossy(block.line(idx)).into_owned();
                let g = self.by_key.get_mut(key).expect("a known group exists");
                g.entries.push(ResultEntry { ts: block.ts(idx), line, metadata, parsed: Vec::new() });
                return;
            }
            let key = add_entry(&mut self.by_key, meta, block, hit, categorize);
            self.known.entry(meta.id).or_default().insert(raw.to_vec(), key);
        } else {
            add_entry(&mut self.by_key, meta, block, hit, categorize);
        }
    }

    fn into_streams(self) -> Vec<StreamResult> {
        self.by_key.into_values().collect()
    }
}

/// The store as a [`LogSource`] for metric queries: entries in ascending time order. Every
/// leg of a metric query reads the one snapshot taken when the source is made.
pub struct StoreSource<'a> {
    pub engine: &'a Engine,
    pub snap: Snapshot<'a>,
    pub tenant: &'a str,
    pub deadline: Deadline,
    pub stats: std::cell::RefCell<Stats>,
}

impl<'a> StoreSource<'a> {
    pub fn new(engine: &'a Engine, tenant: &'a str, deadline: Deadline) -> StoreSource<'a> {
        StoreSource { engine, snap: engine.rocks.snapshot(), tenant, deadline, stats: Default::default() }
    }
}

impl LogSource for StoreSource<'_> {
    fn for_each_entry(
        &self,
        log: &LogExpr,
        from: Nanos,
        to: Nanos,
        f: &mut dyn FnMut(ProcessedEntry<'_>) -> Result<(), QueryError>,
    ) -> Result<(), QueryError> {
        let pipeline = LogPipeline::compile(&log.stages)?;
        let mut stats = self.stats.borrow_mut();
        let range = TimeRange { start: from, end: to };
        walk(
            self.engine,
            &self.snap,
            self.tenant,
            &log.matchers,
            &pipeline,
            range,
            Direction::Forward,
            &self.deadline,
            false,
            &mut stats,
            |meta, block, hit| {
                let idx = hit.idx as usize;
                let ts = block.ts(idx);
                match &hit.processed {
                    Some(p) => {
                        let original;
                        let line = match &p.line {
                            Some(l) => l.as_str(),
                            None => {
                                original = String::from_utf8_lossy(block.line(idx));
                                &original
                            }
                        };
                        f(ProcessedEntry { ts, line, labels: &p.labels })?;
                    }
                    None => {
                        let metadata = owned_metadata(block, idx);
                        let labels = with_metadata(&meta.labels, &metadata);
                        let line = String::from_utf8_lossy(block.line(idx));
                        f(ProcessedEntry { ts, line: &line, labels: &labels })?;
                    }
                }
                Ok(Flow::Continue)
            },
        )
    }
}

fn owned_metadata(block: &Block, idx: usize) -> Vec<(String, String)> {
    block
        .metadata(idx)
        .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), String::from_utf8_lossy(v).into_owned()))
        .collect()
}

/// Reads, decodes and filters one block. `None` when nothing in it passes.
#[allow(clippy::too_many_arguments)]
fn open(
    snap: &Snapshot,
    r: &BlockRef,
    metas: &[Arc<StreamMeta>],
    pipeline: &LogPipeline,
    range: TimeRange,
    direction: Direction,
    categorize: bool,
    stats: &mut Stats,
) -> Result<Option<Cursor>, QueryError> {
    // Every page the filters do not rule out is read below: decompressed at once, only those.
    let Some(block) = read_counted(snap, &r.key, true, pipeline.required_probe(), stats)? else {
        return Ok(None);
    };
    let meta = &metas[r.rank as usize];
    let lo = block.lower_bound(range.start);
    let hi = block.lower_bound(range.end);
    // Line-filter pipelines are decided here; others run lazily in the cursor, over the
    // entries that contain the required substring.
    let mut cands: Vec<u32> = Vec::new();
    let filters_only = pipeline.line_filters_only();
    for_each_matching(
        &block,
        pipeline.required_substring(),
        lo..hi,
        stats,
        |line| !filters_only || pipeline.keep_line(line),
        |i| cands.push(i as u32),
    )?;
    stats.decompressed_bytes += block.decoded_len() as u64;
    if cands.is_empty() {
        return Ok(None);
    }
    // Here, on the reader thread, rather than in the merge, which reads the metadata of
    // every entry it returns.
    block.load_metadata();
    let backward = direction == Direction::Backward;
    if backward {
        cands.reverse();
    }
    let mut cursor = Cursor {
        rank: r.rank,
        meta: Arc::clone(meta),
        block,
        cands,
        pos: 0,
        current: None,
        backward,
        _charge: Default::default(),
    };
    Ok(cursor.advance(pipeline, categorize).then_some(cursor))
}

/// Adds an entry to its group (made when new); returns the group's key.
fn add_entry(
    groups: &mut BTreeMap<String, StreamResult>,
    meta: &StreamMeta,
    block: &Block,
    hit: &Hit,
    categorize: bool,
) -> String {
    let idx = hit.idx as usize;
    let ts = block.ts(idx);
    let (labels, line, metadata, parsed) = match (&hit.processed, categorize) {
        (None, true) => {
            let line = String::from_utf8_lossy(block.line(idx)).into_owned();
            (meta.labels.clone(), line, owned_metadata(block, idx), Vec::new())
        }
        (Some(p), true) => {
            let line = p.line.clone().unwrap_or_else(|| String::from_utf8_lossy(block.line(idx)).into_owned());
            // The stream part is what remains of the output once metadata and parsed
            // labels are taken out.
            let stream = Labels(
                p.labels
                    .0
                    .iter()
                    .filter(|(n, _)| !p.metadata.iter().any(|(m, _)| m == n) && !p.parsed.iter().any(|(m, _)| m == n))
                    .cloned()
                    .collect(),
            );
            (stream, line, p.metadata.clone(), p.parsed.clone())
        }
        (None, false) => {
            let (labels, line) = output(&meta.labels, block.line(idx), &owned_metadata(block, idx), None);
            (labels, line, Vec::new(), Vec::new())
        }
        (Some(p), false) => {
            let (labels, line) = output(&meta.labels, block.line(idx), &[], Some(p));
            (labels, line, Vec::new(), Vec::new())
        }
    };
    let key = labels.to_string();
    let g = groups.entry(key.clone()).or_insert_with(|| StreamResult { labels, entries: Vec::new() });
    g.entries.push(ResultEntry { ts, line, metadata, parsed });
    key
}

/// The labels and line a log query returns for an entry (without `categorize-labels`):
/// what the pipeline made of it, or, when it only has line filters (`processed` None), the
/// stream labels with the entry's structured metadata.
fn output(
    stream: &Labels,
    line: &[u8],
    metadata: &[(String, String)],
    processed: Option<&Processed>,
) -> (Labels, String) {
    match processed {
        None => {
            let labels = if metadata.is_empty() { stream.clone() } else { with_metadata(stream, metadata) };
            (labels, String::from_utf8_lossy(line).into_owned())
        }
        Some(p) => {
            let line = p.line.clone().unwrap_or_else(|| String::from_utf8_lossy(line).into_owned());
            (p.labels.clone(), line)
        }
    }
}

/// One live entry as a log query with `pipeline` returns it (labels and line), or None when
/// the pipeline drops it: the live tail sends what `query_range` would return.
pub fn live_entry(
    pipeline: &LogPipeline,
    stream: &Labels,
    ts: Nanos,
    line: &[u8],
    metadata: &[(String, String)],
) -> Option<(Labels, String)> {
    let processed = if pipeline.line_filters_only() {
        if !pipeline.keep_line(line) {
            return None;
        }
        None
    } else {
        Some(pipeline.process_uncategorized(ts, line, stream, metadata)?)
    };
    Some(output(stream, line, metadata, processed.as_ref()))
}

/// Stream labels plus structured metadata; a metadata name that collides with a stream
/// label is renamed `<name>_extracted`, as Loki's label builder does.
pub fn with_metadata(stream: &Labels, metadata: &[(String, String)]) -> Labels {
    let mut out = stream.clone();
    for (k, v) in metadata {
        if stream.get(k).is_some() {
            out.set(&format!("{k}_extracted"), v);
        } else {
            out.set(k, v);
        }
    }
    out
}
