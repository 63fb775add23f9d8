//! Every RocksDB key's byte layout, in one place. See `docs/storage-format.md`.
//!
//! All integers are big-endian so that byte order equals numeric order; timestamps are
//! `i64` with the sign bit flipped for the same reason.

use crate::model::{Nanos, StreamId};

/// Nanoseconds per hour: blocks never span two hour buckets.
pub const HOUR_NS: i64 = 3_600_000_000_000;
/// Nanoseconds per day: the label index is partitioned per day.
pub const DAY_NS: i64 = 24 * HOUR_NS;

/// The hour bucket of a timestamp (floor division, so pre-1970 times also work).
pub fn hour_of(ts: Nanos) -> i64 {
    ts.div_euclid(HOUR_NS)
}

/// The day partition of a timestamp.
pub fn day_of(ts: Nanos) -> i64 {
    ts.div_euclid(DAY_NS)
}

pub fn enc_i64(v: i64) -> [u8; 8] {
    ((v as u64) ^ (1u64 << 63)).to_be_bytes()
}

pub fn dec_i64(b: &[u8]) -> i64 {
    (u64::from_be_bytes(b[..8].try_into().expect("8 bytes")) ^ (1u64 << 63)) as i64
}

// ---- CF `streams`: the stream registry -------------------------------------------------

/// `L` tenant 0x00 labels-string → stream id (4 bytes).
pub fn stream_by_labels(tenant: &str, labels: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + tenant.len() + labels.len());
    k.push(b'L');
    k.extend_from_slice(tenant.as_bytes());
    k.push(0);
    k.extend_from_slice(labels.as_bytes());
    k
}

/// `I` stream id → tenant 0x00 labels-string.
pub fn stream_by_id(id: StreamId) -> [u8; 5] {
    let mut k = [b'I', 0, 0, 0, 0];
    k[1..].copy_from_slice(&id.to_be_bytes());
    k
}

pub const STREAM_BY_ID_PREFIX: &[u8] = b"I";

/// The stream id of a [`stream_by_id`] key.
pub fn parse_stream_by_id(k: &[u8]) -> Option<StreamId> {
    match k {
        [b'I', id @ ..] => Some(StreamId::from_be_bytes(id.try_into().ok()?)),
        _ => None,
    }
}

/// A stream id as the values of [`NEXT_STREAM_ID`] and of `stream_by_labels` hold it.
pub fn stream_id_value(id: StreamId) -> [u8; 4] {
    id.to_be_bytes()
}

/// The stream id a [`stream_id_value`] holds.
pub fn parse_stream_id_value(v: &[u8]) -> Option<StreamId> {
    Some(StreamId::from_be_bytes(v.try_into().ok()?))
}

/// `N` → the next stream id (u32 BE), written with every new stream: ids are never
/// reused, even when the highest-numbered stream was removed.
pub const NEXT_STREAM_ID: &[u8] = b"N";

/// `M` stream(4) hour(8) → empty: the bucket has small blocks to merge. Written with every
/// block a push stores, deleted by the merge, so merging resumes after a restart.
pub fn merge_due(stream: StreamId, hour: i64) -> [u8; 13] {
    let mut k = [0u8; 13];
    k[0] = MERGE_DUE_PREFIX[0];
    k[1..5].copy_from_slice(&stream.to_be_bytes());
    k[5..].copy_from_slice(&enc_i64(hour));
    k
}

pub const MERGE_DUE_PREFIX: &[u8] = b"M";

/// The (stream, hour) of a `merge_due` key.
pub fn parse_merge_due(k: &[u8]) -> Option<(StreamId, i64)> {
    if k.len() != 13 || k[0] != MERGE_DUE_PREFIX[0] {
        return None;
    }
    Some((u32::from_be_bytes(k[1..5].try_into().ok()?), dec_i64(&k[5..])))
}

/// Value of a `stream_by_id` key.
pub fn stream_record(tenant: &str, labels: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(tenant.len() + 1 + labels.len());
    v.extend_from_slice(tenant.as_bytes());
    v.push(0);
    v.extend_from_slice(labels.as_bytes());
    v
}

/// Splits a `stream_record` value into (tenant, labels-string).
pub fn parse_stream_record(v: &[u8]) -> Option<(&str, &str)> {
    let i = v.iter().position(|&b| b == 0)?;
    Some((std::str::from_utf8(&v[..i]).ok()?, std::str::from_utf8(&v[i + 1..]).ok()?))
}

// ---- CF `postings`: label index, one partition per tenant and day ---------------------

/// tenant 0x00 day(8) — the prefix of one partition.
pub fn postings_partition(tenant: &str, day: i64) -> Vec<u8> {
    let mut k = Vec::with_capacity(tenant.len() + 9 + 32);
    k.extend_from_slice(tenant.as_bytes());
    k.push(0);
    k.extend_from_slice(&enc_i64(day));
    k
}

/// partition name 0x00 value → roaring bitmap of stream ids. The empty name (key
/// `partition 0x00`) holds every stream of the partition.
pub fn postings(tenant: &str, day: i64, name: &str, value: &str) -> Vec<u8> {
    let mut k = postings_partition(tenant, day);
    k.extend_from_slice(name.as_bytes());
    k.push(0);
    k.extend_from_slice(value.as_bytes());
    k
}

/// partition name 0x00: the first posting key of label `name` in a partition.
pub fn postings_name(tenant: &str, day: i64, name: &str) -> Vec<u8> {
    let mut k = postings_partition(tenant, day);
    k.extend_from_slice(name.as_bytes());
    k.push(0);
    k
}

/// partition name 0x01: the first key after every posting of label `name` (names hold
/// no 0x00 or 0x01 bytes, values follow the 0x00).
pub fn postings_after_name(tenant: &str, day: i64, name: &str) -> Vec<u8> {
    let mut k = postings_partition(tenant, day);
    k.extend_from_slice(name.as_bytes());
    k.push(1);
    k
}

/// Splits the part after the partition prefix into (name, value).
pub fn parse_postings_suffix(rest: &[u8]) -> Option<(&str, &str)> {
    let i = rest.iter().position(|&b| b == 0)?;
    Some((std::str::from_utf8(&rest[..i]).ok()?, std::str::from_utf8(&rest[i + 1..]).ok()?))
}

// ---- CF `blocks`: compressed entry blocks ---------------------------------------------

/// Length of a block key.
pub const BLOCK_KEY_LEN: usize = 4 + 8 + 8 + 8 + 8;

/// stream(4) hour(8) min_ts(8) max_ts(8) seq(8). Keys of one stream and hour sort by
/// their first entry; the max is in the key so a scan can skip a block without reading it.
pub fn block(stream: StreamId, hour: i64, min_ts: Nanos, max_ts: Nanos, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(BLOCK_KEY_LEN);
    k.extend_from_slice(&stream.to_be_bytes());
    k.extend_from_slice(&enc_i64(hour));
    k.extend_from_slice(&enc_i64(min_ts));
    k.extend_from_slice(&enc_i64(max_ts));
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// stream(4) hour(8): all blocks of one stream in one hour.
pub fn block_bucket(stream: StreamId, hour: i64) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..4].copy_from_slice(&stream.to_be_bytes());
    k[4..].copy_from_slice(&enc_i64(hour));
    k
}

/// stream(4): all blocks of one stream.
pub fn block_stream(stream: StreamId) -> [u8; 4] {
    stream.to_be_bytes()
}

/// The first key after every block of `stream`.
pub fn block_stream_end(stream: StreamId) -> Vec<u8> {
    match stream.checked_add(1) {
        Some(next) => next.to_be_bytes().to_vec(),
        None => vec![0xff; BLOCK_KEY_LEN + 1],
    }
}

/// Decoded block key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockKey {
    pub stream: StreamId,
    pub hour: i64,
    pub min_ts: Nanos,
    pub max_ts: Nanos,
    pub seq: u64,
}

pub fn parse_block(k: &[u8]) -> Option<BlockKey> {
    if k.len() != BLOCK_KEY_LEN {
        return None;
    }
    Some(BlockKey {
        stream: u32::from_be_bytes(k[0..4].try_into().ok()?),
        hour: dec_i64(&k[4..12]),
        min_ts: dec_i64(&k[12..20]),
        max_ts: dec_i64(&k[20..28]),
        seq: u64::from_be_bytes(k[28..36].try_into().ok()?),
    })
}

impl BlockKey {
    pub fn encode(&self) -> Vec<u8> {
        block(self.stream, self.hour, self.min_ts, self.max_ts, self.seq)
    }
}

/// Cuts keys sorted by first entry into runs whose time bounds overlap (touching counts):
/// the blocks of one run may interleave, blocks of different runs never do.
pub fn overlapping_runs(keys: &[BlockKey]) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at >= keys.len() {
            return None;
        }
        let start = at;
        let mut max = keys[at].max_ts;
        at += 1;
        while at < keys.len() && keys[at].min_ts <= max {
            max = max.max(keys[at].max_ts);
            at += 1;
        }
        Some(start..at)
    })
}

// ---- CF `deletes`: delete requests -----------------------------------------------------

/// tenant 0x00 request-id → JSON record (see `retention::deletes`).
pub fn delete_request(tenant: &str, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(tenant.len() + 1 + id.len());
    k.extend_from_slice(tenant.as_bytes());
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

/// The prefix of every delete request of `tenant`.
pub fn delete_requests_of(tenant: &str) -> Vec<u8> {
    let mut k = tenant.as_bytes().to_vec();
    k.push(0);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_runs_join_touching_bounds() {
        let k = |min, max| BlockKey { stream: 1, hour: 0, min_ts: min, max_ts: max, seq: 0 };
        let keys = [k(1, 5), k(3, 4), k(5, 6), k(7, 9), k(10, 10), k(10, 12)];
        assert_eq!(overlapping_runs(&keys).collect::<Vec<_>>(), vec![0..3, 3..4, 4..6]);
        assert_eq!(overlapping_runs(&[]).count(), 0);
    }

    #[test]
    fn signed_order_is_byte_order() {
        let vals = [i64::MIN, -5, -1, 0, 1, 1_700_000_000_000_000_000, i64::MAX];
        for w in vals.windows(2) {
            assert!(enc_i64(w[0]) < enc_i64(w[1]));
            assert_eq!(dec_i64(&enc_i64(w[0])), w[0]);
        }
    }

    #[test]
    fn block_key_round_trips_and_sorts_by_time() {
        let a = BlockKey { stream: 7, hour: 3, min_ts: 10, max_ts: 20, seq: 1 };
        let b = BlockKey { stream: 7, hour: 3, min_ts: 11, max_ts: 12, seq: 0 };
        assert_eq!(parse_block(&a.encode()), Some(a));
        assert!(a.encode() < b.encode());
        assert!(a.encode().starts_with(&block_bucket(7, 3)));
    }

    #[test]
    fn hours_floor_negative_times() {
        assert_eq!(hour_of(-1), -1);
        assert_eq!(hour_of(HOUR_NS), 1);
        assert_eq!(day_of(DAY_NS - 1), 0);
    }
}
