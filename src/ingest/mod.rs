//! Ingester: validated streams → one atomic RocksDB batch → tail fan-out.
//!
//! A push is acknowledged only after its single `WriteBatch` (blocks, new streams and
//! postings) has been written to the write-ahead log.

pub mod detect;
pub mod labels;
pub mod limiter;
pub mod validate;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::clock::now_ns;
use crate::index::{Postings, Registry, StreamMeta};
use crate::model::{Entry, PushStream, StreamId};
use crate::store::{block, keys, Rocks, StoreError};
use crate::tail::{Hub, TailEvent};

pub use validate::{validate_push, ServiceName, ValidatedPush};

/// Errors of the ingest layer (validation problems are not errors: see [`ValidatedPush`]).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Counts of what a commit stored.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    pub entries: usize,
    pub bytes: u64,
    pub new_streams: usize,
}

pub struct Ingester {
    rocks: Arc<Rocks>,
    registry: Arc<Registry>,
    hub: Arc<Hub>,
    /// Serialises stream creation and batch writes so two pushes never allocate two ids
    /// for one label set. Encoding and compression happen before it is taken.
    commit_lock: Mutex<()>,
    seq: AtomicU64,
    /// (stream, hour) → number of blocks written since the last merge.
    pub small_blocks: Mutex<HashMap<(StreamId, i64), u32>>,
    /// Held by the block merger and by retention so they never work on the same blocks
    /// at once (a merge must not resurrect blocks retention just deleted).
    pub maintenance: Mutex<()>,
}

struct Prepared {
    key: String,
    labels: crate::model::Labels,
    /// (hour, min_ts, max_ts, encoded block)
    blocks: Vec<(i64, i64, i64, Vec<u8>)>,
    entries: Vec<Entry>,
}

/// A small-block count at which the merger takes a bucket on its next round.
pub const MERGE_NOW: u32 = 16;

impl Ingester {
    pub fn new(rocks: Arc<Rocks>, registry: Arc<Registry>, hub: Arc<Hub>) -> Ingester {
        // Buckets whose small blocks were not merged before the last stop are due at once.
        let mut small_blocks = HashMap::new();
        match rocks.scan_streams(keys::MERGE_DUE_PREFIX) {
            Ok(due) => {
                small_blocks.extend(due.iter().filter_map(|(k, _)| keys::parse_merge_due(k)).map(|b| (b, MERGE_NOW)))
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not read the buckets due for merging; they merge on their next push")
            }
        }
        Ingester {
            rocks,
            registry,
            hub,
            commit_lock: Mutex::new(()),
            // Unique across restarts as long as the clock does not run backwards by more
            // than the number of blocks written.
            seq: AtomicU64::new(now_ns().max(0) as u64),
            small_blocks: Mutex::new(small_blocks),
            maintenance: Mutex::new(()),
        }
    }

    /// Runs `f` while no push can commit (used by retention to remove empty streams).
    pub fn with_commit_lock<R>(&self, f: impl FnOnce() -> R) -> R {
        let _guard = self.commit_lock.lock();
        f()
    }

    /// Merges the small blocks of `due` buckets into sealed blocks (blocking). Returns how
    /// many small blocks were replaced.
    pub fn merge_buckets(
        &self,
        due: Vec<(StreamId, i64)>,
        pick: crate::store::merge::Pick,
        target_raw_bytes: usize,
    ) -> usize {
        let _maintenance = self.maintenance.lock();
        let mut merged = 0;
        for (stream, hour) in due {
            match crate::store::merge::merge_bucket(
                &self.rocks,
                stream,
                hour,
                pick,
                target_raw_bytes,
                Some(&crate::query::pipeline::JSON_FIELDS),
                || self.next_seq(),
            ) {
                Ok(n) => merged += n,
                Err(e) => tracing::warn!(error = %e, stream, hour, "block merge failed"),
            }
        }
        merged
    }

    /// Every bucket with small blocks, taken off the merger's list (for a flush).
    pub fn take_all_due(&self) -> Vec<(StreamId, i64)> {
        self.small_blocks.lock().drain().map(|(k, _)| k).collect()
    }

    pub fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Stores validated streams. Blocking (RocksDB write): call from `spawn_blocking`.
    pub fn commit(&self, tenant: &str, streams: Vec<PushStream>) -> Result<Committed, IngestError> {
        let mut prepared: Vec<Prepared> = Vec::with_capacity(streams.len());
        let mut out = Committed::default();
        for mut s in streams {
            if s.entries.is_empty() {
                continue;
            }
            // By time, then line and metadata: equal times always come back in one order.
            s.entries.sort_by(|a, b| (a.ts, &a.line, &a.metadata).cmp(&(b.ts, &b.line, &b.metadata)));
            let mut blocks = Vec::new();
            let mut start = 0;
            while start < s.entries.len() {
                let hour = keys::hour_of(s.entries[start].ts);
                let mut end = start;
                while end < s.entries.len() && keys::hour_of(s.entries[end].ts) == hour {
                    end += 1;
                }
                let run = &s.entries[start..end];
                blocks.push((hour, run[0].ts, run[run.len() - 1].ts, block::encode(run, block::Codec::Lz4)));
                start = end;
            }
            out.entries += s.entries.len();
            out.bytes += s.entries.iter().map(|e| e.line.len() as u64).sum::<u64>();
            prepared.push(Prepared { key: s.labels.to_string(), labels: s.labels, blocks, entries: s.entries });
        }
        if prepared.is_empty() {
            return Ok(out);
        }

        let _guard = self.commit_lock.lock();
        let mut batch = self.rocks.batch();
        let mut created: Vec<Arc<StreamMeta>> = Vec::new();
        let mut local: HashMap<&str, Arc<StreamMeta>> = HashMap::new();
        let mut indexed = Vec::new();
        let mut indexed_here: HashSet<(StreamId, i64)> = HashSet::new();
        let mut postings = Postings::default();
        let mut metas = Vec::with_capacity(prepared.len());
        for p in &prepared {
            let meta = if let Some(m) = local.get(p.key.as_str()) {
                Arc::clone(m)
            } else if let Some(m) = self.registry.lookup(tenant, &p.key).and_then(|id| self.registry.meta(id)) {
                m
            } else {
                let m = self.registry.prepare_new(&mut batch, tenant, p.labels.clone());
                created.push(Arc::clone(&m));
                m
            };
            local.insert(p.key.as_str(), Arc::clone(&meta));
            for (hour, min_ts, max_ts, value) in &p.blocks {
                let seq = self.next_seq();
                batch.put_block(&keys::block(meta.id, *hour, *min_ts, *max_ts, seq), value);
                batch.put_stream(&keys::merge_due(meta.id, *hour), &[]);
                let first_day = keys::day_of(*min_ts);
                let last_day = keys::day_of(*max_ts);
                for day in first_day..=last_day {
                    if !indexed_here.contains(&(meta.id, day))
                        && self.registry.prepare_postings(&mut postings, &meta, day)
                    {
                        indexed_here.insert((meta.id, day));
                        indexed.push((meta.id, day));
                    }
                }
            }
            metas.push(meta);
        }
        postings.write(&mut batch);
        self.rocks.write(batch)?;
        self.registry.publish(&created);
        self.registry.mark_indexed(&indexed);
        drop(_guard);
        out.new_streams = created.len();

        {
            let mut small = self.small_blocks.lock();
            for (p, meta) in prepared.iter().zip(&metas) {
                for (hour, ..) in &p.blocks {
                    *small.entry((meta.id, *hour)).or_default() += 1;
                }
            }
        }
        if self.hub.active() > 0 {
            let events: Vec<TailEvent> = prepared
                .into_iter()
                .zip(metas)
                .map(|(p, stream)| TailEvent { stream, entries: Arc::new(p.entries) })
                .collect();
            self.hub.publish(tenant, &events);
        }
        Ok(out)
    }
}
