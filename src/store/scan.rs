//! The store's reading API for the query side: the blocks of a stream in a time range, one
//! hour bucket of them, or whether there are any, each as a parsed [`BlockKey`] (stream,
//! hour, time bounds), and opening one of them with a line filter's probe. Key bytes and
//! their layout stay inside `store`; `query` asks for streams, hours and time ranges.

use std::ops::{Range, RangeInclusive};

use super::block::Block;
use super::filter::Probe;
use super::keys::{self, BlockKey};
use super::rocks::{BlockKeyCursor, Snapshot};
use super::StoreError;
use crate::model::TimeRange;

/// The hour buckets `range` covers (empty when the range is).
pub fn hours(range: TimeRange) -> RangeInclusive<i64> {
    covered(range, keys::hour_of)
}

/// The days (label-index partitions) `range` covers (empty when the range is).
pub fn days(range: TimeRange) -> RangeInclusive<i64> {
    covered(range, keys::day_of)
}

/// The units (`unit_of` a time) from `range`'s first to its last nanosecond.
fn covered(range: TimeRange, unit_of: fn(crate::model::Nanos) -> i64) -> RangeInclusive<i64> {
    if range.end <= range.start {
        #[allow(clippy::reversed_empty_ranges)]
        return 1..=0;
    }
    unit_of(range.start)..=unit_of(range.end - 1)
}

/// Runs of blocks, in key order, whose time bounds overlap one another (blocks of one
/// bucket pushed out of order and not merged yet): each run is read together.
pub fn overlapping_runs(blocks: &[BlockKey]) -> impl Iterator<Item = Range<usize>> + '_ {
    keys::overlapping_runs(blocks)
}

/// The key range of `stream`'s buckets that `range` covers.
fn bucket_bounds(stream: u32, range: TimeRange) -> ([u8; 12], [u8; 12]) {
    let h = hours(range);
    (keys::block_bucket(stream, *h.start()), keys::block_bucket(stream, *h.end() + 1))
}

fn overlaps(b: &BlockKey, range: TimeRange) -> bool {
    b.max_ts >= range.start && b.min_ts < range.end
}

impl Snapshot<'_> {
    /// `stream`'s blocks that overlap `range`, in key order (hour, then first entry time),
    /// until `f` returns false. Reads block heads' keys only.
    pub fn stream_blocks(
        &self,
        stream: u32,
        range: TimeRange,
        mut f: impl FnMut(BlockKey) -> bool,
    ) -> Result<(), StoreError> {
        if range.end <= range.start {
            return Ok(());
        }
        let (from, to) = bucket_bounds(stream, range);
        self.block_keys_in(&from, &to, |k| match keys::parse_block(k) {
            Some(b) if overlaps(&b, range) => f(b),
            _ => true,
        })
    }

    /// `stream`'s blocks in the hour bucket `hour` that overlap `range`, in key order.
    pub fn hour_blocks(
        &self,
        stream: u32,
        hour: i64,
        range: TimeRange,
        mut f: impl FnMut(BlockKey),
    ) -> Result<(), StoreError> {
        self.block_keys(&keys::block_bucket(stream, hour), |k| {
            if let Some(b) = keys::parse_block(k).filter(|b| overlaps(b, range)) {
                f(b);
            }
        })
    }

    /// `stream`'s blocks that overlap `range` with their stored values (for
    /// [`Block::decode_lazy`] or [`super::block::peek`]), until `f` returns false.
    pub fn stream_block_values(
        &self,
        stream: u32,
        range: TimeRange,
        mut f: impl FnMut(BlockKey, &[u8]) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        if range.end <= range.start {
            return Ok(());
        }
        let (from, to) = bucket_bounds(stream, range);
        self.blocks_in(&from, &to, |k, v| match keys::parse_block(k) {
            Some(b) if overlaps(&b, range) => f(b, v),
            _ => Ok(true),
        })
    }

    /// Whether `stream` has a block that overlaps `range` (keys only).
    pub fn has_data(&self, stream: u32, range: TimeRange) -> Result<bool, StoreError> {
        let mut found = false;
        self.stream_blocks(stream, range, |_| {
            found = true;
            false
        })?;
        Ok(found)
    }

    /// Reads and decodes block `key` (see [`Snapshot::read_block`]): `None` when it is gone
    /// or `probe` rules out every page; else the block (`None` too when only its head was
    /// read) and the bytes read.
    pub fn open_block(
        &self,
        key: &BlockKey,
        lines: bool,
        probe: &Probe,
    ) -> Result<Option<(Option<Block>, usize)>, StoreError> {
        self.read_block(&key.encode(), lines, probe)
    }
}

impl BlockKeyCursor<'_> {
    /// [`Snapshot::has_data`] through a cursor shared by many look-ups in ascending stream
    /// order.
    pub fn has_data(&mut self, stream: u32, range: TimeRange) -> Result<bool, StoreError> {
        if range.end <= range.start {
            return Ok(false);
        }
        let (from, to) = bucket_bounds(stream, range);
        self.any_in(&from, &to, |k| keys::parse_block(k).is_some_and(|b| overlaps(&b, range)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000_000_000;

    #[test]
    fn hours_and_days_cover_the_range_and_nothing_for_an_empty_one() {
        assert_eq!(hours(TimeRange { start: 0, end: H }), 0..=0);
        assert_eq!(hours(TimeRange { start: H - 1, end: H + 1 }), 0..=1);
        assert_eq!(hours(TimeRange { start: -1, end: 1 }), -1..=0);
        assert!(hours(TimeRange { start: 5, end: 5 }).is_empty());
        assert_eq!(days(TimeRange { start: 0, end: 25 * H }), 0..=1);
        assert!(days(TimeRange { start: 9, end: 3 }).is_empty());
    }
}
