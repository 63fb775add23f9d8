//! Block merging: folds the small blocks that every push writes into large, time-ordered
//! blocks, so scans read few values and compress well.
//!
//! Old blocks are deleted and new ones written in one batch; readers hold snapshots, so a
//! query sees either the old blocks or the new ones, never both or neither.

use super::block::{self, Block};
use super::{keys, Rocks, StoreError};
use crate::model::{Entry, StreamId};

/// zstd level of merged (sealed) blocks: ~10x smaller than the raw log on the monitoring
/// data set, and decompressing still runs at about 1 GB/s per core.
pub const SEALED_ZSTD_LEVEL: i32 = 9;

/// Free space below which the merger waits (see `server::merge_loop`).
pub const MERGE_RESERVE_BYTES: u64 = 64 << 20;

/// Whether the volume holding `dir` has less than [`MERGE_RESERVE_BYTES`] free.
pub fn free_space_too_low(dir: &std::path::Path) -> bool {
    super::disk::free_bytes(dir).is_some_and(|free| free < MERGE_RESERVE_BYTES)
}

/// Merges the blocks smaller than half of `target_raw_bytes` of one (stream, hour) bucket
/// into blocks of about `target_raw_bytes`. Returns how many blocks it replaced.
pub fn merge_bucket(
    rocks: &Rocks,
    stream: StreamId,
    hour: i64,
    target_raw_bytes: usize,
    mut next_seq: impl FnMut() -> u64,
) -> Result<usize, StoreError> {
    let snap = rocks.snapshot();
    let prefix = keys::block_bucket(stream, hour);
    let upper = super::prefix_upper_bound(&prefix).expect("bucket prefix has a successor");
    let mut small: Vec<(Vec<u8>, Block)> = Vec::new();
    snap.blocks_in(&prefix, &upper, |k, v| {
        let (_, raw_len) = block::peek(v).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if raw_len < target_raw_bytes / 2 {
            small.push((k.to_vec(), Block::decode(v).map_err(|e| StoreError::Corrupt(e.to_string()))?));
        }
        Ok(true)
    })?;
    drop(snap);
    let marker = keys::merge_due(stream, hour);
    if small.len() < 2 {
        let mut batch = rocks.batch();
        batch.delete_stream(&marker);
        rocks.write(batch)?;
        return Ok(0);
    }
    let mut entries: Vec<Entry> = Vec::new();
    for (_, b) in &small {
        entries.extend((0..b.len()).map(|i| b.entry(i)));
    }
    // The order pushes write blocks in: time, then line and metadata.
    entries.sort_by(|a, b| (a.ts, &a.line, &a.metadata).cmp(&(b.ts, &b.line, &b.metadata)));
    dedup_same_ts(&mut entries);

    let mut batch = rocks.batch();
    batch.delete_stream(&marker);
    for (k, _) in &small {
        batch.delete_block(k);
    }
    let mut start = 0;
    while start < entries.len() {
        let mut end = start;
        let mut raw = 0usize;
        while end < entries.len() && (end == start || raw + entries[end].line.len() + 16 <= target_raw_bytes) {
            raw += entries[end].line.len() + 16;
            end += 1;
        }
        let run = &entries[start..end];
        let key = keys::block(stream, hour, run[0].ts, run[run.len() - 1].ts, next_seq());
        batch.put_block(&key, &block::encode(run, block::Codec::Zstd(SEALED_ZSTD_LEVEL)));
        start = end;
    }
    rocks.write(batch)?;
    Ok(small.len())
}

/// Drops exact duplicates (same time, line and metadata): re-sent entries are stored once.
fn dedup_same_ts(entries: &mut Vec<Entry>) {
    let mut out: Vec<Entry> = Vec::with_capacity(entries.len());
    let mut group_start = 0;
    for e in entries.drain(..) {
        if out.last().is_some_and(|l| l.ts != e.ts) {
            group_start = out.len();
        }
        if !out[group_start..].iter().any(|o| o.line == e.line && o.metadata == e.metadata) {
            out.push(e);
        }
    }
    *entries = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_keeps_distinct_lines_at_one_time() {
        let e = |ts, l: &str| Entry { ts, line: l.into(), metadata: vec![] };
        let mut v = vec![e(1, "a"), e(1, "b"), e(1, "a"), e(2, "a"), e(2, "a")];
        dedup_same_ts(&mut v);
        assert_eq!(v, vec![e(1, "a"), e(1, "b"), e(2, "a")]);
    }
}
