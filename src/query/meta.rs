//! Metadata queries: label names, label values and series of streams with data in a range.
//!
//! The day partitions of the index give candidate streams; block keys (time bounds only,
//! no block reads) then keep the streams that really have entries in `[start, end]`.

use std::collections::BTreeSet;
use std::sync::Arc;

use roaring::RoaringBitmap;

use super::{Engine, QueryError};
use crate::index::browse::Browse;
use crate::index::{compile_all, StreamMeta};
use crate::logql::Matcher;
use crate::model::{Nanos, TimeRange};
use crate::store::scan;

/// Streams of `tenant` matching any of `selectors` (all streams when empty) with entries
/// in `[start, end]`, sorted by labels.
pub fn series(
    engine: &Engine,
    tenant: &str,
    selectors: &[Vec<Matcher>],
    start: Nanos,
    end: Nanos,
) -> Result<Vec<Arc<StreamMeta>>, QueryError> {
    let snap = engine.rocks.snapshot();
    let range = TimeRange { start, end: end.saturating_add(1) };
    let mut ids = RoaringBitmap::new();
    if selectors.is_empty() {
        ids = super::logs::select(&snap, tenant, &[], range)?;
    }
    for sel in selectors {
        ids |= super::logs::select(&snap, tenant, sel, range)?;
    }
    let mut out: Vec<Arc<StreamMeta>> = ids
        .iter()
        .filter_map(|id| engine.registry.meta(id))
        .filter(|m| m.tenant == tenant)
        .filter(|m| snap.has_data(m.id, range).unwrap_or(false))
        .collect();
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// Label names of the streams [`series`] would return, read from the label index
/// (`index::browse`): the same answer without visiting every stream.
pub fn label_names(
    engine: &Engine,
    tenant: &str,
    selector: Option<&[Matcher]>,
    start: Nanos,
    end: Nanos,
) -> Result<BTreeSet<String>, QueryError> {
    browse(engine, tenant, selector, start, end, |b, days| b.names(days))
}

/// Values of `name` among the streams [`series`] would return (see [`label_names`]).
pub fn label_values(
    engine: &Engine,
    tenant: &str,
    name: &str,
    selector: Option<&[Matcher]>,
    start: Nanos,
    end: Nanos,
) -> Result<BTreeSet<String>, QueryError> {
    browse(engine, tenant, selector, start, end, |b, days| b.values(name, days))
}

type Keep<'a> = Box<dyn FnMut(u32) -> Result<bool, crate::store::StoreError> + 'a>;

/// Runs `walk` over the day partitions of `[start, end]`, keeping the streams [`series`]
/// keeps: known to the registry, with a block in the range.
fn browse(
    engine: &Engine,
    tenant: &str,
    selector: Option<&[Matcher]>,
    start: Nanos,
    end: Nanos,
    walk: impl FnOnce(
        Browse<'_, Keep<'_>>,
        std::ops::RangeInclusive<i64>,
    ) -> Result<BTreeSet<String>, crate::store::StoreError>,
) -> Result<BTreeSet<String>, QueryError> {
    let compiled = match selector {
        Some(ms) => Some(compile_all(ms).map_err(|e| QueryError::BadRegex(e.to_string()))?),
        None => None,
    };
    let range = TimeRange { start, end: end.saturating_add(1) };
    if range.end <= range.start {
        return Ok(BTreeSet::new());
    }
    let snap = engine.rocks.snapshot();
    let mut blocks = snap.block_key_cursor();
    // `series` also checks the stream's tenant: a stream listed in `tenant`'s partitions
    // is `tenant`'s (ids are never reused), so being known is enough.
    let known = engine.registry.known_ids();
    let keep: Keep<'_> = Box::new(move |id| Ok(known.contains(id) && blocks.has_data(id, range)?));
    Ok(walk(Browse::new(&snap, tenant, compiled.as_deref(), keep), scan::days(range))?)
}

/// Loki's `index/stats`: streams with data in the range, and their blocks ("chunks"),
/// entries and line bytes, read from block headers only (whole blocks that overlap the
/// range are counted, as Loki counts whole chunks).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct IndexStats {
    pub streams: u64,
    pub chunks: u64,
    pub bytes: u64,
    pub entries: u64,
}

pub fn index_stats(
    engine: &Engine,
    tenant: &str,
    selector: &[Matcher],
    start: Nanos,
    end: Nanos,
) -> Result<IndexStats, QueryError> {
    let snap = engine.rocks.snapshot();
    let range = TimeRange { start, end: end.saturating_add(1) };
    let ids = super::logs::select(&snap, tenant, selector, range)?;
    let mut out = IndexStats::default();
    for id in ids.iter() {
        if engine.registry.meta(id).is_none_or(|m| m.tenant != tenant) {
            continue;
        }
        let mut any = false;
        snap.stream_block_values(id, range, |_, v| {
            let (n, raw) =
                crate::store::block::peek(v).map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))?;
            any = true;
            out.chunks += 1;
            out.entries += n as u64;
            out.bytes += raw.saturating_sub(16 * n) as u64;
            Ok(true)
        })?;
        out.streams += any as u64;
    }
    Ok(out)
}

#[cfg(test)]
#[path = "meta_tests.rs"]
mod tests;
