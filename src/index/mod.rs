//! Label index: the stream registry (tenant + labels ↔ id) and per-day posting lists.
//!
//! Resolves stream selectors to sets of stream ids. Never reads block data.

pub mod browse;
pub mod matchers;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use roaring::RoaringBitmap;

use crate::gocompat::strconv::unquote_prefix;
use crate::model::{Labels, StreamId};
use crate::store::{keys, Batch, Rocks, Snapshot, StoreError};
pub use matchers::{compile_all, CompiledMatcher};

/// What the registry knows about one stream.
#[derive(Debug)]
pub struct StreamMeta {
    pub id: StreamId,
    pub tenant: String,
    pub labels: Labels,
    /// `labels` in Loki's text form; also the registry key.
    pub key: String,
}

/// Hashes stream ids (dense u32s, not attacker-chosen) with one multiplication instead of
/// SipHash: the registry is looked up once per stream by every query.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type IdHash = std::hash::BuildHasherDefault<IdHasher>;

/// In-memory mirror of the `streams` column family plus the set of (stream, day)
/// partitions already written to the postings, so that a push only touches the index
/// the first time a stream shows up in a day.
pub struct Registry {
    by_key: RwLock<HashMap<(String, String), StreamId>>,
    by_id: RwLock<HashMap<StreamId, Arc<StreamMeta>, IdHash>>,
    next_id: AtomicU32,
    indexed: Mutex<HashSet<(StreamId, i64)>>,
    /// The keys of `by_id`, as a bitmap: label browsing tests thousands of ids at once.
    known: RwLock<RoaringBitmap>,
}

impl Registry {
    /// Loads every stream from disk (startup).
    pub fn load(rocks: &Rocks) -> Result<Registry, StoreError> {
        let mut by_key = HashMap::new();
        let mut by_id = HashMap::with_hasher(IdHash::default());
        let mut max_id = 0;
        for (k, v) in rocks.scan_streams(keys::STREAM_BY_ID_PREFIX)? {
            let id = keys::parse_stream_by_id(&k).ok_or_else(|| StoreError::Corrupt("stream key".into()))?;
            let (tenant, key) =
                keys::parse_stream_record(&v).ok_or_else(|| StoreError::Corrupt("stream record".into()))?;
            let labels =
                parse_registry_labels(key).ok_or_else(|| StoreError::Corrupt(format!("stream labels {key}")))?;
            max_id = max_id.max(id);
            by_key.insert((tenant.to_string(), key.to_string()), id);
            by_id.insert(id, Arc::new(StreamMeta { id, tenant: tenant.into(), labels, key: key.into() }));
        }
        let mut next_id = max_id + 1;
        for (_, v) in rocks.scan_streams(keys::NEXT_STREAM_ID)? {
            let stored = keys::parse_stream_id_value(&v).ok_or_else(|| StoreError::Corrupt("next stream id".into()))?;
            next_id = next_id.max(stored);
        }
        let known: RoaringBitmap = by_id.keys().copied().collect();
        Ok(Registry {
            known: RwLock::new(known),
            by_key: RwLock::new(by_key),
            by_id: RwLock::new(by_id),
            next_id: AtomicU32::new(next_id),
            indexed: Mutex::new(HashSet::new()),
        })
    }

    pub fn lookup(&self, tenant: &str, key: &str) -> Option<StreamId> {
        self.by_key.read().get(&(tenant.to_string(), key.to_string())).copied()
    }

    pub fn meta(&self, id: StreamId) -> Option<Arc<StreamMeta>> {
        self.by_id.read().get(&id).cloned()
    }

    /// The ids of every known stream (a compact copy: a few bytes per stream).
    pub fn known_ids(&self) -> RoaringBitmap {
        self.known.read().clone()
    }

    pub fn len(&self) -> usize {
        self.by_id.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Allocates an id for a new stream and adds its registry records to `batch`. The
    /// stream becomes visible through [`Self::publish`] once the batch is written.
    /// Callers serialise stream creation (the ingester's commit lock).
    pub fn prepare_new(&self, batch: &mut Batch, tenant: &str, labels: Labels) -> Arc<StreamMeta> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let key = labels.to_string();
        batch.put_stream(keys::NEXT_STREAM_ID, &keys::stream_id_value(id + 1));
        batch.put_stream(&keys::stream_by_labels(tenant, &key), &keys::stream_id_value(id));
        batch.put_stream(&keys::stream_by_id(id), &keys::stream_record(tenant, &key));
        Arc::new(StreamMeta { id, tenant: tenant.into(), labels, key })
    }

    /// Makes streams created by a written batch visible.
    pub fn publish(&self, metas: &[Arc<StreamMeta>]) {
        if metas.is_empty() {
            return;
        }
        let mut by_key = self.by_key.write();
        let mut by_id = self.by_id.write();
        let mut known = self.known.write();
        for m in metas {
            by_key.insert((m.tenant.clone(), m.key.clone()), m.id);
            by_id.insert(m.id, Arc::clone(m));
            known.insert(m.id);
        }
    }

    /// Adds the posting-list entries of (stream, day) to `pending` unless already indexed.
    /// Returns whether anything was added; write `pending` with [`Postings::write`], then
    /// call [`Self::mark_indexed`] after the batch is written.
    pub fn prepare_postings(&self, pending: &mut Postings, meta: &StreamMeta, day: i64) -> bool {
        if self.indexed.lock().contains(&(meta.id, day)) {
            return false;
        }
        pending.add(&meta.tenant, day, "", "", meta.id);
        for (n, v) in meta.labels.iter() {
            pending.add(&meta.tenant, day, n, v, meta.id);
        }
        true
    }

    /// Every known stream (retention walks them).
    pub fn all(&self) -> Vec<Arc<StreamMeta>> {
        self.by_id.read().values().cloned().collect()
    }

    /// Adds the deletion of a stream's registry records to `batch`; call
    /// [`Self::forget`] after the write. Callers hold the ingester's commit lock so no
    /// push can add data to the stream in between.
    pub fn prepare_remove(&self, batch: &mut Batch, meta: &StreamMeta) {
        batch.delete_stream(&keys::stream_by_labels(&meta.tenant, &meta.key));
        batch.delete_stream(&keys::stream_by_id(meta.id));
    }

    /// Drops removed streams from memory.
    pub fn forget(&self, metas: &[Arc<StreamMeta>]) {
        if metas.is_empty() {
            return;
        }
        let mut by_key = self.by_key.write();
        let mut by_id = self.by_id.write();
        let mut known = self.known.write();
        for m in metas {
            by_key.remove(&(m.tenant.clone(), m.key.clone()));
            by_id.remove(&m.id);
            known.remove(m.id);
        }
        drop((by_key, by_id, known));
        let gone: HashSet<StreamId> = metas.iter().map(|m| m.id).collect();
        self.indexed.lock().retain(|(id, _)| !gone.contains(id));
    }

    /// Forgets which (stream, day) postings were written for the days `days` holds, after
    /// retention removed partitions of those days: a later push for such a day writes its
    /// postings again. Forgetting too much only costs a redundant (idempotent) union.
    /// Call under the ingester's commit lock, right after the removal is written.
    pub fn forget_days(&self, days: impl Fn(i64) -> bool) {
        self.indexed.lock().retain(|(_, d)| !days(*d));
    }

    pub fn mark_indexed(&self, pairs: &[(StreamId, i64)]) {
        self.indexed.lock().extend(pairs.iter().copied());
    }
}

/// The posting-list additions of one batch, one bitmap per key: a batch of 2,000 new
/// streams writes one merge operand to the tenant's all-streams list, not 2,000.
#[derive(Default)]
pub struct Postings {
    lists: HashMap<Vec<u8>, RoaringBitmap>,
}

impl Postings {
    fn add(&mut self, tenant: &str, day: i64, name: &str, value: &str, id: StreamId) {
        self.lists.entry(keys::postings(tenant, day, name, value)).or_default().insert(id);
    }

    /// Adds every list to `batch` (union merge operands).
    pub fn write(self, batch: &mut Batch) {
        for (k, ids) in self.lists {
            batch.merge_postings(&k, &ids);
        }
    }
}

/// Parses the registry's own `{a="b", c="d"}` text (always written by `Labels`'s Display).
fn parse_registry_labels(s: &str) -> Option<Labels> {
    let inner = s.strip_prefix('{')?.strip_suffix('}')?;
    let mut pairs = Vec::new();
    let mut rest = inner;
    while !rest.is_empty() {
        rest = rest.trim_start_matches([',', ' ']);
        let name = if rest.starts_with('"') {
            let (n, used) = unquote_prefix(rest)?;
            rest = &rest[used..];
            n
        } else {
            let eq = rest.find('=')?;
            let n = rest[..eq].to_string();
            rest = &rest[eq..];
            n
        };
        rest = rest.strip_prefix('=')?;
        let (value, used) = unquote_prefix(rest)?;
        pairs.push((name, value));
        rest = &rest[used..];
    }
    Some(Labels::from_pairs(pairs))
}

/// Streams of `tenant` matching all `matchers` that have data in any of `days`.
pub fn select_streams(
    snap: &Snapshot,
    tenant: &str,
    matchers: &[CompiledMatcher],
    days: impl Iterator<Item = i64>,
) -> Result<RoaringBitmap, StoreError> {
    let mut out = RoaringBitmap::new();
    for day in days {
        out |= select_in_day(snap, tenant, matchers, day)?;
    }
    Ok(out)
}

fn select_in_day(
    snap: &Snapshot,
    tenant: &str,
    matchers: &[CompiledMatcher],
    day: i64,
) -> Result<RoaringBitmap, StoreError> {
    let Some(all) = snap.get_postings(&keys::postings(tenant, day, "", ""))? else {
        return Ok(RoaringBitmap::new());
    };
    let mut acc = all.clone();
    // Cheap exact matchers first: they shrink the set before regexes scan value lists.
    let mut order: Vec<&CompiledMatcher> = matchers.iter().collect();
    order.sort_by_key(|m| m.op != crate::logql::MatchOp::Eq || m.value.is_empty());
    for m in order {
        if acc.is_empty() {
            break;
        }
        let set = if m.op == crate::logql::MatchOp::Eq && !m.value.is_empty() {
            snap.get_postings(&keys::postings(tenant, day, &m.name, &m.value))?.unwrap_or_default()
        } else {
            // Union of the values that match, plus streams lacking the label when the
            // matcher accepts the empty value.
            let mut matched = RoaringBitmap::new();
            let mut has_label = RoaringBitmap::new();
            let want_missing = m.matches_empty();
            let mut prefix = keys::postings_partition(tenant, day);
            prefix.extend_from_slice(m.name.as_bytes());
            prefix.push(0);
            snap.scan_postings(&prefix, |value, bytes| {
                let value = std::str::from_utf8(value).unwrap_or("");
                let is_match = m.matches(value);
                if is_match || want_missing {
                    let bm = RoaringBitmap::deserialize_from(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    if want_missing {
                        has_label |= &bm;
                    }
                    if is_match {
                        matched |= bm;
                    }
                }
                Ok(())
            })?;
            if want_missing {
                matched |= &all - &has_label;
            }
            matched
        };
        acc &= set;
    }
    Ok(acc)
}

/// Label names of streams with data in `days` (all streams of the tenant, or `only`).
pub fn label_names(
    snap: &Snapshot,
    tenant: &str,
    days: impl Iterator<Item = i64>,
) -> Result<BTreeSet<String>, StoreError> {
    let mut names = BTreeSet::new();
    for day in days {
        let prefix = keys::postings_partition(tenant, day);
        snap.scan_postings(&prefix, |rest, _| {
            if let Some((n, _)) = keys::parse_postings_suffix(rest) {
                if !n.is_empty() {
                    names.insert(n.to_string());
                }
            }
            Ok(())
        })?;
    }
    Ok(names)
}

/// Values of label `name` among streams with data in `days`.
pub fn label_values(
    snap: &Snapshot,
    tenant: &str,
    name: &str,
    days: impl Iterator<Item = i64>,
) -> Result<BTreeSet<String>, StoreError> {
    let mut values = BTreeSet::new();
    for day in days {
        let mut prefix = keys::postings_partition(tenant, day);
        prefix.extend_from_slice(name.as_bytes());
        prefix.push(0);
        snap.scan_postings(&prefix, |value, _| {
            values.insert(String::from_utf8_lossy(value).into_owned());
            Ok(())
        })?;
    }
    values.remove("");
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_labels_round_trip_through_display() {
        let l = Labels::from_pairs(vec![("app".into(), "a\"b, c=\"d\"\n".into()), ("job".into(), "x".into())]);
        assert_eq!(parse_registry_labels(&l.to_string()), Some(l));
        assert_eq!(parse_registry_labels("{}"), Some(Labels::default()));
        let dotted = Labels::from_pairs(vec![("service.name".into(), "a=b".into()), ("z".into(), "".into())]);
        assert_eq!(parse_registry_labels(&dotted.to_string()), Some(dotted));
    }
}
