//! Log query execution: select streams, walk hour buckets in query order, lazily k-way
//! merge the blocks of that hour, stop at the limit.
//!
//! Memory is bounded by the blocks that overlap the current merge position: a block is
//! read and decoded only when its time bounds (from its key) say it can hold the next
//! entry, and blocks without the required substring are skipped after one `memmem` pass.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashSet};
use std::sync::Arc;

use roaring::RoaringBitmap;

use super::pipeline::LogPipeline;
use super::result::{ResultEntry, Stats, StreamResult};
use super::{Deadline, Engine, QueryError};
use crate::index::{self, compile_all, StreamMeta};
use crate::logql::LogExpr;
use crate::model::{Direction, Labels, Nanos, TimeRange};
use crate::store::block::Block;
use crate::store::{keys, Snapshot};

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
    if range.end <= range.start {
        return Ok(RoaringBitmap::new());
    }
    let days = keys::day_of(range.start)..=keys::day_of(range.end - 1);
    Ok(index::select_streams(snap, tenant, &compiled, days)?)
}

/// One opened block: the entry indices that pass the pipeline, in query order.
struct Cursor {
    rank: u32,
    meta: Arc<StreamMeta>,
    block: Block,
    hits: Vec<u32>,
    pos: usize,
    backward: bool,
}

impl Cursor {
    fn ts(&self) -> Nanos {
        self.block.ts(self.hits[self.pos] as usize)
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
    /// Ties on time go to the stream whose labels sort first.
    fn cmp(&self, other: &Self) -> Ordering {
        let by_time = if self.backward { self.ts().cmp(&other.ts()) } else { other.ts().cmp(&self.ts()) };
        by_time.then_with(|| other.rank.cmp(&self.rank))
    }
}

struct BlockRef {
    rank: u32,
    key: keys::BlockKey,
}

pub fn run(engine: &Engine, q: &LogQuery) -> Result<(Vec<StreamResult>, Stats), QueryError> {
    let started = std::time::Instant::now();
    let pipeline = LogPipeline::compile(&q.expr.stages)?;
    let snap = engine.rocks.snapshot();
    let mut stats = Stats::default();
    let ids = select(&snap, q.tenant, &q.expr.matchers, q.range)?;

    // Rank streams by label string so that ties on time break like Loki (labels ascending).
    let mut metas: Vec<Arc<StreamMeta>> = ids
        .iter()
        .filter_map(|id| engine.registry.meta(id))
        .filter(|m| m.tenant == q.tenant)
        .collect();
    metas.sort_by(|a, b| a.key.cmp(&b.key));
    stats.streams = metas.len() as u64;

    let mut groups: BTreeMap<String, StreamResult> = BTreeMap::new();
    let mut emitted = 0usize;
    let mut last_accepted: Option<Nanos> = None;
    let backward = q.direction == Direction::Backward;
    if q.range.end > q.range.start && q.limit > 0 && !metas.is_empty() {
        let first = keys::hour_of(q.range.start);
        let last = keys::hour_of(q.range.end - 1);
        let hours: Box<dyn Iterator<Item = i64>> =
            if backward { Box::new((first..=last).rev()) } else { Box::new(first..=last) };
        'hours: for hour in hours {
            q.deadline.check()?;
            let mut refs = Vec::new();
            for (rank, m) in metas.iter().enumerate() {
                snap.block_keys(&keys::block_bucket(m.id, hour), |k| {
                    if let Some(key) = keys::parse_block(k) {
                        if key.max_ts >= q.range.start && key.min_ts < q.range.end {
                            refs.push(BlockRef { rank: rank as u32, key });
                        }
                    }
                })?;
            }
            stats.blocks_referenced += refs.len() as u64;
            if backward {
                refs.sort_by(|a, b| b.key.max_ts.cmp(&a.key.max_ts));
            } else {
                refs.sort_by(|a, b| a.key.min_ts.cmp(&b.key.min_ts));
            }
            let mut heap: BinaryHeap<Cursor> = BinaryHeap::new();
            let mut next = 0usize;
            // (stream, ts, line) of entries emitted at the current timestamp: duplicates
            // pushed twice (re-collected logs) are returned once, as Loki's merge does.
            let mut same_ts: HashSet<(u32, Vec<u8>)> = HashSet::new();
            let mut same_ts_at: Option<Nanos> = None;
            loop {
                while next < refs.len() {
                    let r = &refs[next];
                    let needed = match heap.peek() {
                        None => true,
                        Some(top) if backward => r.key.max_ts >= top.ts(),
                        Some(top) => r.key.min_ts <= top.ts(),
                    };
                    if !needed {
                        break;
                    }
                    next += 1;
                    q.deadline.check()?;
                    if let Some(c) = open(&snap, r, &metas, &pipeline, q, &mut stats)? {
                        heap.push(c);
                    }
                }
                let Some(mut cur) = heap.pop() else { break };
                let idx = cur.hits[cur.pos] as usize;
                let ts = cur.block.ts(idx);
                let line = cur.block.line(idx);
                let duplicate = if same_ts_at == Some(ts) {
                    !same_ts.insert((cur.meta.id, line.to_vec()))
                } else {
                    same_ts_at = Some(ts);
                    same_ts.clear();
                    same_ts.insert((cur.meta.id, line.to_vec()));
                    false
                };
                let spaced = match (q.interval, last_accepted) {
                    (0, _) | (_, None) => true,
                    (iv, Some(prev)) => if backward { ts <= prev - iv } else { ts >= prev + iv },
                };
                if !duplicate && spaced {
                    last_accepted = Some(ts);
                    add_entry(&mut groups, &cur, idx, q.categorize);
                    emitted += 1;
                    if emitted >= q.limit {
                        break 'hours;
                    }
                }
                cur.pos += 1;
                if cur.pos < cur.hits.len() {
                    heap.push(cur);
                }
            }
        }
    }
    stats.entries_returned = emitted as u64;
    stats.exec_seconds = started.elapsed().as_secs_f64();
    let mut out: Vec<StreamResult> = groups.into_values().collect();
    for s in &mut out {
        // Entries were appended in query order already; nothing to sort.
        s.entries.shrink_to_fit();
    }
    Ok((out, stats))
}

/// Reads, decodes and filters one block. `None` when nothing in it passes.
fn open(
    snap: &Snapshot,
    r: &BlockRef,
    metas: &[Arc<StreamMeta>],
    pipeline: &LogPipeline,
    q: &LogQuery,
    stats: &mut Stats,
) -> Result<Option<Cursor>, QueryError> {
    let Some(value) = snap.get_block(&r.key.encode())? else { return Ok(None) };
    stats.compressed_bytes += value.len() as u64;
    let block = Block::decode(&value).map_err(|e| QueryError::Store(crate::store::StoreError::Corrupt(e.to_string())))?;
    stats.blocks_decoded += 1;
    stats.decompressed_bytes += block.raw_len() as u64;
    let lo = block.lower_bound(q.range.start);
    let hi = block.lower_bound(q.range.end);
    let mut hits: Vec<u32> = Vec::new();
    stats.lines_processed += (hi - lo) as u64;
    if let Some(finder) = pipeline.required_substring() {
        // One pass over all lines; only entries containing the needle are examined.
        let region = block.lines_region();
        let mut last = usize::MAX;
        for off in finder.find_iter(region) {
            let i = block.entry_at_line_offset(off);
            if i != last && i >= lo && i < hi && pipeline.keep_line(block.line(i)) {
                hits.push(i as u32);
            }
            last = i;
        }
        stats.bytes_processed += region.len() as u64;
        if hits.is_empty() {
            stats.blocks_skipped += 1;
        }
    } else {
        for i in lo..hi {
            let line = block.line(i);
            stats.bytes_processed += line.len() as u64;
            if pipeline.is_noop() || pipeline.keep_line(line) {
                hits.push(i as u32);
            }
        }
    }
    if hits.is_empty() {
        return Ok(None);
    }
    stats.post_filter_lines += hits.len() as u64;
    let backward = q.direction == Direction::Backward;
    if backward {
        hits.reverse();
    }
    Ok(Some(Cursor { rank: r.rank, meta: Arc::clone(&metas[r.rank as usize]), block, hits, pos: 0, backward }))
}

fn add_entry(groups: &mut BTreeMap<String, StreamResult>, cur: &Cursor, idx: usize, categorize: bool) {
    let block = &cur.block;
    let metadata: Vec<(String, String)> = block
        .metadata(idx)
        .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), String::from_utf8_lossy(v).into_owned()))
        .collect();
    let line = String::from_utf8_lossy(block.line(idx)).into_owned();
    let ts = block.ts(idx);
    if categorize || metadata.is_empty() {
        let g = groups
            .entry(cur.meta.key.clone())
            .or_insert_with(|| StreamResult { labels: cur.meta.labels.clone(), entries: Vec::new() });
        g.entries.push(ResultEntry { ts, line, metadata: if categorize { metadata } else { Vec::new() }, parsed: Vec::new() });
        return;
    }
    let labels = with_metadata(&cur.meta.labels, &metadata);
    let key = labels.to_string();
    let g = groups.entry(key).or_insert_with(|| StreamResult { labels, entries: Vec::new() });
    g.entries.push(ResultEntry { ts, line, metadata: Vec::new(), parsed: Vec::new() });
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
