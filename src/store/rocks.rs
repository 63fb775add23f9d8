//! The only file that names RocksDB: column families, options, batches, snapshots.
//!
//! Column families: `streams` (registry), `postings` (label index, roaring bitmaps merged
//! by a union merge operator), `blocks` (entry block bodies), `heads` (one head per block
//! under the same key: its page filters, `store::head`; listing blocks and probing filters
//! read this family only), `deletes`. One push = one `WriteBatch`.

use std::path::Path;

use roaring::RoaringBitmap;
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, DBCompressionType, Direction as RDir, IteratorMode,
    MergeOperands, Options, ReadOptions, WriteBatch, WriteOptions, DB,
};

use super::StoreError;

const CF_STREAMS: &str = "streams";
const CF_POSTINGS: &str = "postings";
const CF_BLOCKS: &str = "blocks";
const CF_HEADS: &str = "heads";
const CF_DELETES: &str = "deletes";
/// The column families lokid writes (beside RocksDB's `default`).
const DATA_CFS: [&str; 5] = [CF_STREAMS, CF_POSTINGS, CF_BLOCKS, CF_HEADS, CF_DELETES];
/// Key in `default` written once every block has a head (stores from before the `heads`
/// family get empty heads for their blocks at the first start, see [`Rocks::open`]).
const HEADS_READY: &[u8] = b"heads-v1";

/// Tuning that matters for memory: a small shared block cache and modest memtables keep an
/// idle server well under 50 MiB.
pub struct RocksOptions {
    pub sync_writes: bool,
    pub block_cache_bytes: usize,
    pub write_buffer_bytes: usize,
}

impl Default for RocksOptions {
    fn default() -> Self {
        RocksOptions { sync_writes: false, block_cache_bytes: 32 << 20, write_buffer_bytes: 16 << 20 }
    }
}

pub struct Rocks {
    db: DB,
    sync_writes: bool,
    /// Opened read-only because the disk was full at startup: reads work, writes fail
    /// with `NoSpace` (503, clients retry) until lokid restarts with space available.
    read_only: bool,
}

/// A consistent read view; every query holds one for its whole run.
pub struct Snapshot<'a> {
    db: &'a DB,
    snap: rocksdb::Snapshot<'a>,
}

fn union_merge(_key: &[u8], existing: Option<&[u8]>, operands: &MergeOperands) -> Option<Vec<u8>> {
    let mut acc = existing.and_then(|b| RoaringBitmap::deserialize_from(b).ok()).unwrap_or_default();
    for op in operands {
        if let Ok(bm) = RoaringBitmap::deserialize_from(op) {
            acc |= bm;
        }
    }
    let mut out = Vec::with_capacity(acc.serialized_size());
    acc.serialize_into(&mut out).ok()?;
    Some(out)
}

impl Rocks {
    pub fn open(dir: &Path, opts: &RocksOptions) -> Result<Rocks, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Io(e.to_string()))?;
        let cache = Cache::new_lru_cache(opts.block_cache_bytes);
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&cache);
        table.set_bloom_filter(10.0, false);
        table.set_cache_index_and_filter_blocks(true);

        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.set_max_background_jobs(2);
        db_opts.set_keep_log_file_num(3);
        // The manifest of a store this size stays in tens of KiB; RocksDB's default
        // preallocates 4 MiB of disk for it (a tenth of the benchmark's whole store).
        db_opts.set_manifest_preallocation_size(64 << 10);
        // The WAL holds what memtables have not flushed yet. A 16 MiB cap (tried to shrink
        // a small store's directory) made pushes on a full disk hang instead of failing
        // with 503 (tests/it/fault_full_disk.rs, about one run in two): forced flushes that
        // cannot complete stall writes. `POST /flush` empties it on demand.
        db_opts.set_max_total_wal_size(64 << 20);
        // After a no-space error RocksDB resumes writing only once the free space exceeds
        // the write buffers: keep every one of them small (see `descriptors` below).
        db_opts.set_write_buffer_size(1 << 20);

        // Column families and their options; built twice when the read-only fallback runs.
        let descriptors = || {
            let mut streams = Options::default();
            streams.set_block_based_table_factory(&table);
            streams.set_write_buffer_size(4 << 20);
            streams.set_compression_type(DBCompressionType::Lz4);

            let mut postings = Options::default();
            postings.set_block_based_table_factory(&table);
            postings.set_write_buffer_size(4 << 20);
            postings.set_merge_operator_associative("roaring_union", union_merge);
            postings.set_compression_type(DBCompressionType::Lz4);

            let mut blocks = Options::default();
            blocks.set_block_based_table_factory(&table);
            blocks.set_write_buffer_size(opts.write_buffer_bytes);
            // Block values are already compressed by `block::encode` (lz4 or zstd).
            blocks.set_compression_type(DBCompressionType::None);
            // Merging deletes every small block it folds into a sealed one: files that are
            // mostly such tombstones are compacted soon, so the small blocks' space comes back
            // without waiting for size-triggered compactions.
            blocks.add_compact_on_deletion_collector_factory(64, 16, 0.25);

            // Heads are small and read by every line-filter query: they share the block
            // cache, which body reads in queries do not fill (`read_block`).
            let mut heads = Options::default();
            heads.set_block_based_table_factory(&table);
            heads.set_write_buffer_size(2 << 20);
            heads.set_compression_type(DBCompressionType::None);
            heads.add_compact_on_deletion_collector_factory(64, 16, 0.25);

            let mut deletes = Options::default();
            deletes.set_write_buffer_size(1 << 20);

            // The implicit `default` family would get Options::default() (64 MiB buffer),
            // which sets the free space RocksDB demands before resuming after a full disk.
            let mut default_cf = Options::default();
            default_cf.set_write_buffer_size(1 << 20);
            vec![
                ColumnFamilyDescriptor::new("default", default_cf),
                ColumnFamilyDescriptor::new(CF_STREAMS, streams),
                ColumnFamilyDescriptor::new(CF_POSTINGS, postings),
                ColumnFamilyDescriptor::new(CF_BLOCKS, blocks),
                ColumnFamilyDescriptor::new(CF_HEADS, heads),
                ColumnFamilyDescriptor::new(CF_DELETES, deletes),
            ]
        };
        match DB::open_cf_descriptors(&db_opts, dir, descriptors()) {
            Ok(db) => {
                let rocks = Rocks { db, sync_writes: opts.sync_writes, read_only: false };
                rocks.give_every_block_a_head()?;
                Ok(rocks)
            }
            Err(e) => match StoreError::from(e) {
                // Opening writes a new MANIFEST and WAL; on a full disk fall back to a
                // read-only open (which replays the WAL in memory) so queries keep working.
                StoreError::NoSpace(why) => {
                    tracing::error!(error = %why, "disk full at startup: serving reads only until restarted with free space");
                    let db = DB::open_cf_descriptors_read_only(&db_opts, dir, descriptors(), false)?;
                    Ok(Rocks { db, sync_writes: opts.sync_writes, read_only: true })
                }
                other => Err(other),
            },
        }
    }

    /// A store written before the `heads` family existed: every block gets an empty head
    /// (its filters stay inline in its value, which still decodes), then the marker. Runs
    /// again after a crash half-way (the puts are idempotent).
    fn give_every_block_a_head(&self) -> Result<(), StoreError> {
        if self.db.get(HEADS_READY)?.is_some() {
            return Ok(());
        }
        let mut n = 0u64;
        let mut batch = WriteBatch::default();
        let mut it = self.db.raw_iterator_cf(self.cf(CF_BLOCKS));
        it.seek_to_first();
        while let Some(k) = it.key() {
            batch.put_cf(self.cf(CF_HEADS), k, b"");
            n += 1;
            if batch.len() >= 4096 {
                self.db.write(std::mem::take(&mut batch))?;
            }
            it.next();
        }
        it.status()?;
        batch.put(HEADS_READY, b"");
        self.db.write(batch)?;
        // Nothing else is written to `default`: flushed now, its memtable would otherwise
        // pin every write-ahead log from here on (the directory would never shrink).
        self.db.flush()?;
        if n > 0 {
            tracing::info!(blocks = n, "store from an older lokid: gave every block an (empty) head");
        }
        Ok(())
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db.cf_handle(name).expect("column family created at open")
    }

    /// Writes a batch atomically. Returns once it is in the write-ahead log (fsynced when
    /// `sync_writes`), which is the durability point of a push.
    pub fn write(&self, batch: Batch) -> Result<(), StoreError> {
        if self.read_only {
            return Err(StoreError::NoSpace(
                "store opened read-only because the disk was full at startup; free space and restart lokid".into(),
            ));
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(self.sync_writes);
        self.db.write_opt(batch.inner, &wo)?;
        Ok(())
    }

    pub fn batch(&self) -> Batch<'_> {
        Batch { inner: WriteBatch::default(), rocks: self, deleted: Deleted::default() }
    }

    pub fn snapshot(&self) -> Snapshot<'_> {
        Snapshot { db: &self.db, snap: self.db.snapshot() }
    }

    /// Every (key, value) of the `streams` CF under `prefix` (startup only).
    pub fn scan_streams(&self, prefix: &[u8]) -> Result<Vec<(Box<[u8]>, Box<[u8]>)>, StoreError> {
        self.scan_cf(CF_STREAMS, prefix)
    }

    /// Every (key, value) of the `deletes` CF under `prefix` (delete requests).
    pub fn scan_deletes(&self, prefix: &[u8]) -> Result<Vec<(Box<[u8]>, Box<[u8]>)>, StoreError> {
        self.scan_cf(CF_DELETES, prefix)
    }

    fn scan_cf(&self, cf: &str, prefix: &[u8]) -> Result<Vec<(Box<[u8]>, Box<[u8]>)>, StoreError> {
        let it = self.db.iterator_cf(self.cf(cf), IteratorMode::From(prefix, RDir::Forward));
        let mut out = Vec::new();
        for item in it {
            let (k, v) = item?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push((k, v));
        }
        Ok(out)
    }

    /// Gives the space of what `deleted` removed back to the file system, in proportion
    /// to what was deleted: table files wholly inside a deleted range are dropped without
    /// being read, and only the files that straddle a range's ends are rewritten
    /// (`DeleteFilesInRange`, then a compaction of that range). The rest of the database is
    /// not touched. A query that still reads a dropped range through an older snapshot may
    /// miss those entries: only data being deleted is ever dropped.
    pub fn reclaim(&self, deleted: &Deleted) {
        if self.read_only {
            return;
        }
        for (cf, from, to) in deleted.ranges() {
            let h = self.cf(cf);
            if let Err(e) = self.db.delete_file_in_range_cf(h, from, &to) {
                tracing::warn!(error = %e, cf, "dropping the table files of a deleted range failed");
            }
            self.db.compact_range_cf(h, Some(from), Some(&to));
        }
    }

    /// Compacts every data column family in full (rewrites the database): only for a size
    /// cap that must be measured without garbage.
    pub fn compact_all(&self) {
        if self.read_only {
            return;
        }
        for cf in [CF_BLOCKS, CF_HEADS, CF_POSTINGS, CF_STREAMS] {
            self.db.compact_range_cf(self.cf(cf), None::<&[u8]>, None::<&[u8]>);
        }
    }

    pub fn flush(&self) -> Result<(), StoreError> {
        if self.read_only {
            return Ok(());
        }
        for cf in DATA_CFS {
            self.db.flush_cf(self.cf(cf))?;
        }
        Ok(())
    }

    pub fn property(&self, name: &str) -> Option<u64> {
        self.db.property_int_value(name).ok().flatten()
    }

    /// An integer property summed over every column family (e.g. memtable sizes).
    pub fn property_all_cfs(&self, name: &str) -> u64 {
        DATA_CFS
            .iter()
            .chain(&["default"])
            .filter_map(|cf| self.db.cf_handle(cf))
            .filter_map(|h| self.db.property_int_value_cf(&h, name).ok().flatten())
            .sum()
    }
}

pub struct Batch<'a> {
    inner: WriteBatch,
    rocks: &'a Rocks,
    deleted: Deleted,
}

/// The key ranges a batch deletes, per column family: what [`Rocks::reclaim`] frees once
/// the batch is written. Single-key deletes are kept as one span per family.
#[derive(Clone, Debug, Default)]
pub struct Deleted {
    ranges: Vec<(&'static str, Vec<u8>, Vec<u8>)>,
    /// (family, smallest key, largest key) of single-key deletes.
    spans: Vec<(&'static str, Vec<u8>, Vec<u8>)>,
}

impl Deleted {
    fn range(&mut self, cf: &'static str, from: &[u8], to: &[u8]) {
        self.ranges.push((cf, from.to_vec(), to.to_vec()));
    }

    fn key(&mut self, cf: &'static str, key: &[u8]) {
        match self.spans.iter_mut().find(|(c, _, _)| *c == cf) {
            Some((_, lo, hi)) => {
                if key < lo.as_slice() {
                    *lo = key.to_vec();
                }
                if key > hi.as_slice() {
                    *hi = key.to_vec();
                }
            }
            None => self.spans.push((cf, key.to_vec(), key.to_vec())),
        }
    }

    /// `[from, to)` ranges; a span ends just after its largest key.
    fn ranges(&self) -> impl Iterator<Item = (&'static str, &[u8], Vec<u8>)> + '_ {
        let ranges = self.ranges.iter().map(|(cf, f, t)| (*cf, f.as_slice(), t.clone()));
        let spans = self.spans.iter().map(|(cf, lo, hi)| {
            let mut end = hi.clone();
            end.push(0);
            (*cf, lo.as_slice(), end)
        });
        ranges.chain(spans)
    }
}

impl Batch<'_> {
    pub fn put_stream(&mut self, key: &[u8], value: &[u8]) {
        self.inner.put_cf(self.rocks.cf(CF_STREAMS), key, value);
    }

    /// Adds stream ids to a posting list (union, via the merge operator).
    pub fn merge_postings(&mut self, key: &[u8], ids: &RoaringBitmap) {
        let mut v = Vec::with_capacity(ids.serialized_size());
        ids.serialize_into(&mut v).expect("write to Vec");
        self.inner.merge_cf(self.rocks.cf(CF_POSTINGS), key, v);
    }

    /// Writes an encoded block: its head (page filters) and its body, under one key in
    /// two families (`store::head`).
    pub fn put_block(&mut self, key: &[u8], value: &[u8]) {
        match super::head::split(value) {
            Ok((head, body)) => {
                self.inner.put_cf(self.rocks.cf(CF_HEADS), key, head);
                self.inner.put_cf(self.rocks.cf(CF_BLOCKS), key, body);
            }
            // Not a block this version can take apart: kept whole (its filters inline).
            Err(_) => {
                self.inner.put_cf(self.rocks.cf(CF_HEADS), key, b"");
                self.inner.put_cf(self.rocks.cf(CF_BLOCKS), key, value);
            }
        }
    }

    pub fn delete_block(&mut self, key: &[u8]) {
        for cf in [CF_BLOCKS, CF_HEADS] {
            self.inner.delete_cf(self.rocks.cf(cf), key);
            self.deleted.key(cf, key);
        }
    }

    /// Deletes every block key in `[from, to)` (one range tombstone per family).
    pub fn delete_blocks_range(&mut self, from: &[u8], to: &[u8]) {
        for cf in [CF_BLOCKS, CF_HEADS] {
            self.inner.delete_range_cf(self.rocks.cf(cf), from, to);
            self.deleted.range(cf, from, to);
        }
    }

    /// Deletes every posting key in `[from, to)`.
    pub fn delete_postings_range(&mut self, from: &[u8], to: &[u8]) {
        self.inner.delete_range_cf(self.rocks.cf(CF_POSTINGS), from, to);
        self.deleted.range(CF_POSTINGS, from, to);
    }

    /// What this batch deletes (for [`Rocks::reclaim`] after it is written).
    pub fn deleted(&self) -> Deleted {
        self.deleted.clone()
    }

    pub fn delete_stream(&mut self, key: &[u8]) {
        self.inner.delete_cf(self.rocks.cf(CF_STREAMS), key);
    }

    pub fn put_delete_request(&mut self, key: &[u8], value: &[u8]) {
        self.inner.put_cf(self.rocks.cf(CF_DELETES), key, value);
    }

    pub fn delete_delete_request(&mut self, key: &[u8]) {
        self.inner.delete_cf(self.rocks.cf(CF_DELETES), key);
    }

    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    pub fn size_in_bytes(&self) -> usize {
        self.inner.size_in_bytes()
    }
}

impl<'a> Snapshot<'a> {
    fn read_opts(&self, lower: Option<&[u8]>, upper: Option<Vec<u8>>) -> ReadOptions {
        let mut ro = ReadOptions::default();
        ro.set_snapshot(&self.snap);
        if let Some(l) = lower {
            ro.set_iterate_lower_bound(l.to_vec());
        }
        if let Some(u) = upper {
            ro.set_iterate_upper_bound(u);
        }
        ro
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db.cf_handle(name).expect("column family created at open")
    }

    pub fn get_postings(&self, key: &[u8]) -> Result<Option<RoaringBitmap>, StoreError> {
        let ro = self.read_opts(None, None);
        match self.db.get_pinned_cf_opt(self.cf(CF_POSTINGS), key, &ro)? {
            Some(v) => {
                Ok(Some(RoaringBitmap::deserialize_from(&v[..]).map_err(|e| StoreError::Corrupt(e.to_string()))?))
            }
            None => Ok(None),
        }
    }

    /// Calls `f(key_suffix_after_prefix, bitmap_bytes)` for every posting under `prefix`.
    pub fn scan_postings(
        &self,
        prefix: &[u8],
        mut f: impl FnMut(&[u8], &[u8]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let ro = self.read_opts(Some(prefix), prefix_upper_bound(prefix));
        let mut it = self.db.raw_iterator_cf_opt(self.cf(CF_POSTINGS), ro);
        it.seek(prefix);
        while it.valid() {
            let (Some(k), Some(v)) = (it.key(), it.value()) else { break };
            f(&k[prefix.len()..], v)?;
            it.next();
        }
        it.status()?;
        Ok(())
    }

    /// A cursor over the posting keys under `prefix` (one tenant-day partition), for
    /// walks that skip ahead (label browsing seeks from one label name to the next).
    pub fn postings_cursor(&self, prefix: &[u8]) -> PostingsCursor<'_> {
        let ro = self.read_opts(Some(prefix), prefix_upper_bound(prefix));
        PostingsCursor { it: self.db.raw_iterator_cf_opt(self.cf(CF_POSTINGS), ro), prefix_len: prefix.len() }
    }

    /// One iterator over block keys for many short look-ups (whether each of many
    /// streams has a block in a range): cheaper than a new iterator per look-up.
    pub fn block_key_cursor(&self) -> BlockKeyCursor<'_> {
        let ro = self.read_opts(None, None);
        BlockKeyCursor { it: self.db.raw_iterator_cf_opt(self.cf(CF_HEADS), ro), after: Vec::new() }
    }

    /// Keys of every block under `prefix` (a stream or a stream-hour), in key order.
    pub fn block_keys(&self, prefix: &[u8], mut f: impl FnMut(&[u8])) -> Result<(), StoreError> {
        let upper = prefix_upper_bound(prefix).unwrap_or_else(|| vec![0xff; prefix.len() + 1]);
        self.block_keys_in(prefix, &upper, |k| {
            f(k);
            true
        })
    }

    /// Keys of blocks in `[from, to)` key order until `f` returns false. Reads heads only,
    /// never block bodies.
    pub fn block_keys_in(&self, from: &[u8], to: &[u8], mut f: impl FnMut(&[u8]) -> bool) -> Result<(), StoreError> {
        let ro = self.read_opts(Some(from), Some(to.to_vec()));
        let mut it = self.db.raw_iterator_cf_opt(self.cf(CF_HEADS), ro);
        it.seek(from);
        while it.valid() {
            let Some(k) = it.key() else { break };
            if !f(k) {
                break;
            }
            it.next();
        }
        it.status()?;
        Ok(())
    }

    /// Visits (key, value) of every block in `[from, to)` key order.
    pub fn blocks_in(
        &self,
        from: &[u8],
        to: &[u8],
        mut f: impl FnMut(&[u8], &[u8]) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        let ro = self.read_opts(Some(from), Some(to.to_vec()));
        let mut it = self.db.raw_iterator_cf_opt(self.cf(CF_BLOCKS), ro);
        it.seek(from);
        while it.valid() {
            let (Some(k), Some(v)) = (it.key(), it.value()) else { break };
            if !f(k, v)? {
                break;
            }
            it.next();
        }
        it.status()?;
        Ok(())
    }

    /// Reads and decodes one block without copying its stored value first; with `lines`
    /// the pages `probe` allows are decompressed now, straight from the stored value
    /// (`Block::decode_masked_loaded`), else they stay compressed until first read
    /// (`Block::decode_lazy`); the pages `probe` rules out are not even copied. Also
    /// returns the stored (compressed) size. When the block's page filters rule out every
    /// page for `probe` (`store::filter`), nothing is decompressed and the block is `None`.
    pub fn read_block(
        &self,
        key: &[u8],
        lines: bool,
        probe: &super::filter::Probe,
    ) -> Result<Option<(Option<super::block::Block>, usize)>, StoreError> {
        use super::block::Block;
        let corrupt = |e: super::block::CorruptBlock| StoreError::Corrupt(e.to_string());
        let ro = self.read_opts(None, None);
        // Without a probe nothing is ruled out: the head is not read (counting queries
        // read bodies only, one look-up per block).
        let mut mask = None;
        if !probe.is_empty() {
            let Some(head) = self.db.get_pinned_cf_opt(self.cf(CF_HEADS), key, &ro)? else { return Ok(None) };
            mask = super::head::possible(&head, probe).map_err(corrupt)?;
            if mask.as_ref().is_some_and(|m| m.iter().all(|p| !p)) {
                return Ok(Some((None, head.len())));
            }
        }
        match self.db.get_pinned_cf_opt(self.cf(CF_BLOCKS), key, &ro)? {
            Some(v) => {
                let b = if lines {
                    Block::decode_masked_loaded(&v, probe, mask.as_deref())
                } else {
                    Block::decode_masked(&v, probe, mask.as_deref())
                };
                Ok(Some((b.map_err(corrupt)?, v.len())))
            }
            None => Ok(None),
        }
    }
}

/// See [`Snapshot::postings_cursor`].
pub struct PostingsCursor<'s> {
    it: rocksdb::DBRawIteratorWithThreadMode<'s, DB>,
    prefix_len: usize,
}

impl PostingsCursor<'_> {
    /// Moves to the first key at or after `key` (a full key under the cursor's prefix).
    pub fn seek(&mut self, key: &[u8]) {
        self.it.seek(key);
    }

    pub fn next(&mut self) {
        self.it.next();
    }

    /// The current key after the prefix, and its bitmap bytes; `None` at the end.
    pub fn current(&self) -> Option<(&[u8], &[u8])> {
        if !self.it.valid() {
            return None;
        }
        let (k, v) = (self.it.key()?, self.it.value()?);
        Some((&k[self.prefix_len..], v))
    }

    pub fn status(&self) -> Result<(), StoreError> {
        Ok(self.it.status()?)
    }
}

/// See [`Snapshot::block_key_cursor`].
pub struct BlockKeyCursor<'s> {
    it: rocksdb::DBRawIteratorWithThreadMode<'s, DB>,
    /// The `to` of the last look-up that left the iterator on the first key at or after it
    /// (no key lies in `[to, current)`); empty when unknown.
    after: Vec<u8>,
}

impl BlockKeyCursor<'_> {
    /// Visits block keys in `[from, to)` in key order until `f` returns true; returns
    /// whether it did. Look-ups in ascending key order step forward instead of seeking
    /// when the next range is a few keys away (the usual case: one stream after another).
    pub fn any_in(&mut self, from: &[u8], to: &[u8], mut f: impl FnMut(&[u8]) -> bool) -> Result<bool, StoreError> {
        // Stepping forward from a key before `from` visits every key up to the first one at
        // or after it. A current key at or after `from` is that first key only when no key
        // lies in [after, current) and `after` <= `from`.
        let (mut positioned, mut stepped) = (false, false);
        for _ in 0..16 {
            if !self.it.valid() {
                break;
            }
            match self.it.key() {
                Some(k) if k < from => {
                    stepped = true;
                    self.it.next();
                }
                Some(_) => {
                    positioned = stepped || (!self.after.is_empty() && from >= self.after.as_slice());
                    break;
                }
                None => break,
            }
        }
        if !positioned {
            self.it.seek(from);
        }
        self.after.clear();
        while self.it.valid() {
            let Some(k) = self.it.key() else { break };
            if k >= to {
                self.after.extend_from_slice(to);
                break;
            }
            if f(k) {
                return Ok(true);
            }
            self.it.next();
        }
        self.it.status()?;
        Ok(false)
    }
}

/// The smallest key greater than every key that starts with `prefix`.
pub fn prefix_upper_bound(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut p = prefix.to_vec();
    while let Some(last) = p.pop() {
        if last < 0xff {
            p.push(last + 1);
            return Some(p);
        }
    }
    None
}

impl From<rocksdb::Error> for StoreError {
    fn from(e: rocksdb::Error) -> Self {
        let s = e.into_string();
        if s.contains("No space left") || s.contains("NoSpace") {
            StoreError::NoSpace(s)
        } else {
            StoreError::Rocks(s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::keys;

    fn block_files(rocks: &Rocks) -> Vec<String> {
        let mut v: Vec<String> = rocks
            .db
            .live_files()
            .unwrap()
            .into_iter()
            .filter(|f| f.column_family_name == CF_BLOCKS)
            .map(|f| f.name)
            .collect();
        v.sort();
        v
    }

    /// Reclaiming a deleted range drops the table files wholly inside it and leaves every
    /// other file as it is: retention does not rewrite the database.
    #[test]
    fn reclaim_drops_files_of_the_range_and_rewrites_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let rocks = Rocks::open(dir.path(), &RocksOptions::default()).unwrap();
        let value = vec![7u8; 64 << 10];
        for stream in [1u32, 2] {
            let mut batch = rocks.batch();
            for hour in 0..8 {
                batch.put_block(&keys::block(stream, hour, hour * keys::HOUR_NS, hour * keys::HOUR_NS, 0), &value);
            }
            rocks.write(batch).unwrap();
            rocks.flush().unwrap();
        }
        let before = block_files(&rocks);
        assert_eq!(before.len(), 2, "one table file per stream: {before:?}");
        let mut batch = rocks.batch();
        batch.delete_blocks_range(&keys::block_stream(1), &keys::block_stream_end(1));
        let deleted = batch.deleted();
        rocks.write(batch).unwrap();
        rocks.reclaim(&deleted);
        let after = block_files(&rocks);
        assert_eq!(after.len(), 1, "{after:?}");
        assert!(before.contains(&after[0]), "stream 2's file is untouched: {before:?} -> {after:?}");
        let mut left = 0;
        rocks.snapshot().block_keys(&keys::block_stream(2), |_| left += 1).unwrap();
        assert_eq!(left, 8);
        rocks.snapshot().block_keys(&keys::block_stream(1), |_| panic!("stream 1 was deleted")).unwrap();
    }

    /// A store from before the `heads` family: its blocks get heads at the next start and
    /// stay visible; a sealed block written now keeps its filters in its head.
    #[test]
    fn blocks_of_an_older_store_get_heads_at_open() {
        use crate::store::block::{encode, Codec};
        use crate::store::filter::Probe;
        let dir = tempfile::tempdir().unwrap();
        let entries: Vec<crate::model::Entry> = (0..2000)
            .map(|i| crate::model::Entry { ts: i, line: format!("line {i} of the old store"), metadata: Vec::new() })
            .collect();
        let sealed = encode(&entries, Codec::Zstd(3));
        let old = keys::block(1, 0, 0, 1999, 0);
        {
            let rocks = Rocks::open(dir.path(), &RocksOptions::default()).unwrap();
            // What an older lokid wrote: the whole value in `blocks`, no head, no marker.
            rocks.db.put_cf(rocks.cf(CF_BLOCKS), &old, &sealed).unwrap();
            rocks.db.delete(HEADS_READY).unwrap();
        }
        let rocks = Rocks::open(dir.path(), &RocksOptions::default()).unwrap();
        let mut batch = rocks.batch();
        let new = keys::block(1, 1, keys::HOUR_NS, keys::HOUR_NS + 1999, 1);
        batch.put_block(&new, &sealed);
        rocks.write(batch).unwrap();
        let snap = rocks.snapshot();
        let mut seen = Vec::new();
        snap.block_keys(&keys::block_stream(1), |k| seen.push(k.to_vec())).unwrap();
        assert_eq!(seen, vec![old.clone(), new.clone()]);
        for key in [&old, &new] {
            let (b, _) = snap.read_block(key, true, &Probe::new([&b"line 1999 of"[..]])).unwrap().unwrap();
            assert_eq!(b.unwrap().line(1999), b"line 1999 of the old store");
            let (b, _) = snap.read_block(key, false, &Probe::new([&b"never written"[..]])).unwrap().unwrap();
            assert!(b.is_none(), "filters rule the block out, inline or in the head");
        }
        assert!(
            rocks.db.get_cf(rocks.cf(CF_HEADS), &new).unwrap().unwrap().len() > 5,
            "the new block's filters are in its head"
        );
    }
}
