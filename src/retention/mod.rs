//! Retention compactor: the only module that deletes data.
//!
//! Every `compactor.compaction_interval` it (1) deletes each stream's hour buckets that
//! ended before `now − period` (the period from `retention_stream` rules, else
//! `retention_period`), with one range tombstone per stream; (2) drops whole day
//! partitions of the label index once every stream of the tenant has expired there;
//! (3) removes streams with no data left from the registry (under the ingester's commit
//! lock, so no push can race it); (4) applies the size cap, oldest day first; (5) applies
//! delete requests whose cancel period is over. After each deletion the disk space of the
//! deleted key ranges is reclaimed (`Rocks::reclaim`: table files wholly inside a range are
//! dropped, only those straddling its ends are rewritten), so a pass costs in proportion
//! to what it deletes, never a rewrite of the whole database.
//! Queries read through snapshots; entries being deleted may still go missing from a query
//! already running once their table files are dropped (docs/operations.md).

pub mod deletes;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::index::{compile_all, CompiledMatcher, Registry, StreamMeta};
use crate::ingest::Ingester;
use crate::model::{Labels, Nanos};
use crate::store::{keys, Rocks, StoreError};

/// One `retention_stream` rule, compiled.
pub struct StreamRule {
    pub matchers: Vec<CompiledMatcher>,
    pub priority: i64,
    pub period: Duration,
}

/// What one run did (exported on `/metrics`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub blocks_deleted: u64,
    pub bytes_deleted: u64,
    pub partitions_deleted: u64,
    pub streams_removed: u64,
    pub days_dropped_for_size: u64,
    pub delete_requests_applied: u64,
    pub entries_deleted_by_requests: u64,
}

impl Report {
    fn add(&mut self, o: &Report) {
        self.blocks_deleted += o.blocks_deleted;
        self.bytes_deleted += o.bytes_deleted;
        self.partitions_deleted += o.partitions_deleted;
        self.streams_removed += o.streams_removed;
        self.days_dropped_for_size += o.days_dropped_for_size;
        self.delete_requests_applied += o.delete_requests_applied;
        self.entries_deleted_by_requests += o.entries_deleted_by_requests;
    }
}

/// Retention settings, compiled from the config.
pub struct Retention {
    pub enabled: bool,
    pub global: Duration,
    /// Tenants whose runtime-config `overrides` set their own `retention_period`.
    pub tenant_periods: HashMap<String, Duration>,
    pub rules: Vec<StreamRule>,
    pub max_disk_bytes: u64,
    pub cancel_period: Duration,
    pub data_dir: PathBuf,
}

impl Retention {
    pub fn from_config(c: &crate::config::Config) -> Result<Retention, String> {
        let mut rules = Vec::new();
        for r in &c.retention_streams {
            let ms = crate::logql::parse_selector(&r.selector, false)
                .map_err(|e| format!("retention_stream selector {:?}: {e}", r.selector))?;
            rules.push(StreamRule { matchers: compile_all(&ms)?, priority: r.priority, period: r.period });
        }
        Ok(Retention {
            enabled: c.compactor.retention_enabled,
            global: c.limits.retention_period,
            tenant_periods: c.overrides.iter().map(|(t, l)| (t.clone(), l.retention_period)).collect(),
            rules,
            max_disk_bytes: c.compactor.retention_max_disk_bytes,
            cancel_period: c.compactor.delete_request_cancel_period,
            data_dir: c.store_dir(),
        })
    }

    /// The retention period of a stream, as Loki picks it: the matching rule with the
    /// highest priority (on a tie, the shortest period), else the tenant's period. Zero
    /// means keep forever.
    pub fn period_for(&self, tenant: &str, labels: &Labels) -> Duration {
        let mut found: Option<&StreamRule> = None;
        for r in &self.rules {
            if !r.matchers.iter().all(|m| m.matches(labels.get(&m.name).unwrap_or(""))) {
                continue;
            }
            if let Some(f) = found {
                if f.priority > r.priority || (f.priority == r.priority && f.period <= r.period) {
                    continue;
                }
            }
            found = Some(r);
        }
        found.map(|r| r.period).unwrap_or_else(|| *self.tenant_periods.get(tenant).unwrap_or(&self.global))
    }

    /// One compactor pass. Blocking.
    pub fn run_once(
        &self,
        rocks: &Rocks,
        registry: &Registry,
        ingester: &Ingester,
        now: Nanos,
    ) -> Result<Report, StoreError> {
        let _maintenance = ingester.maintenance.lock();
        let mut report = Report::default();
        if self.enabled {
            report.add(&self.expire(rocks, registry, ingester, now)?);
        }
        if self.max_disk_bytes > 0 {
            report.add(&self.enforce_size(rocks, registry, ingester)?);
        }
        report.add(&deletes::apply_due(rocks, registry, ingester, self.cancel_period, now)?);
        report.streams_removed += remove_empty_streams(rocks, registry, ingester)?;
        Ok(report)
    }

    fn expire(
        &self,
        rocks: &Rocks,
        registry: &Registry,
        ingester: &Ingester,
        now: Nanos,
    ) -> Result<Report, StoreError> {
        let mut report = Report::default();
        // Per tenant: the oldest cutoff of its streams, or None if any stream is kept forever.
        let mut tenant_cutoff: HashMap<String, Option<Nanos>> = HashMap::new();
        let mut batch = rocks.batch();
        let snap = rocks.snapshot();
        for meta in registry.all() {
            let period = self.period_for(&meta.tenant, &meta.labels);
            let cutoff = if period.is_zero() { None } else { Some(now - period.as_nanos() as i64) };
            let slot = tenant_cutoff.entry(meta.tenant.clone()).or_insert(cutoff);
            *slot = match (*slot, cutoff) {
                (Some(a), Some(b)) => Some(a.min(b)),
                _ => None,
            };
            let Some(cutoff) = cutoff else { continue };
            // Whole hour buckets that ended at or before the cutoff.
            let from = keys::block_stream(meta.id).to_vec();
            let to = keys::block_bucket(meta.id, keys::hour_of(cutoff)).to_vec();
            let mut n = 0u64;
            snap.blocks_in(&from, &to, |_, v| {
                n += 1;
                report.bytes_deleted += v.len() as u64;
                Ok(true)
            })?;
            if n > 0 {
                batch.delete_blocks_range(&from, &to);
                report.blocks_deleted += n;
            }
        }
        drop(snap);
        let mut forget_before = i64::MIN;
        for (tenant, cutoff) in tenant_cutoff {
            let Some(cutoff) = cutoff else { continue };
            let last_day = keys::day_of(cutoff); // partitions of days before it ended by the cutoff
            let days: Vec<i64> = postings_days(rocks, &tenant)?.into_iter().filter(|d| *d < last_day).collect();
            if !days.is_empty() {
                batch.delete_postings_range(
                    &keys::postings_partition(&tenant, i64::MIN),
                    &keys::postings_partition(&tenant, last_day),
                );
                report.partitions_deleted += days.len() as u64;
                forget_before = forget_before.max(last_day);
            }
        }
        if !batch.is_empty() {
            let deleted = batch.deleted();
            // Under the commit lock: no push can find a day "already indexed" between the
            // removal of its partition and the registry forgetting it.
            ingester.with_commit_lock(|| -> Result<(), StoreError> {
                rocks.write(batch)?;
                registry.forget_days(|d| d < forget_before);
                Ok(())
            })?;
            rocks.reclaim(&deleted);
        }
        Ok(report)
    }

    /// Deletes the oldest day of every stream until the data directory fits the cap.
    fn enforce_size(&self, rocks: &Rocks, registry: &Registry, ingester: &Ingester) -> Result<Report, StoreError> {
        let mut report = Report::default();
        for round in 0..64 {
            if dir_size(&self.data_dir) <= self.max_disk_bytes {
                break;
            }
            if round == 0 {
                // Over the cap: measure again without garbage (overwritten and deleted
                // data not compacted away yet) before dropping a whole day. This rewrites
                // the database, but only when it is over the cap.
                rocks.compact_all();
                if dir_size(&self.data_dir) <= self.max_disk_bytes {
                    break;
                }
            }
            let metas = registry.all();
            let snap = rocks.snapshot();
            let mut oldest: Option<i64> = None;
            for m in &metas {
                snap.block_keys_in(&keys::block_stream(m.id), &keys::block_stream_end(m.id), |k| {
                    if let Some(b) = keys::parse_block(k) {
                        let day = keys::day_of(b.min_ts.max(b.hour * keys::HOUR_NS));
                        oldest = Some(oldest.map_or(day, |o: i64| o.min(day)));
                    }
                    false
                })?;
            }
            drop(snap);
            let Some(day) = oldest else { break };
            let (h0, h1) = (day * 24, day * 24 + 24);
            let mut batch = rocks.batch();
            let mut tenants: Vec<&str> = Vec::new();
            for m in &metas {
                batch.delete_blocks_range(&keys::block_bucket(m.id, h0), &keys::block_bucket(m.id, h1));
                if !tenants.contains(&m.tenant.as_str()) {
                    tenants.push(&m.tenant);
                }
            }
            for t in tenants {
                batch.delete_postings_range(&keys::postings_partition(t, day), &keys::postings_partition(t, day + 1));
            }
            let deleted = batch.deleted();
            ingester.with_commit_lock(|| -> Result<(), StoreError> {
                rocks.write(batch)?;
                registry.forget_days(|d| d == day);
                Ok(())
            })?;
            rocks.reclaim(&deleted);
            report.days_dropped_for_size += 1;
            report.partitions_deleted += 1;
            tracing::warn!(
                day,
                cap = self.max_disk_bytes,
                "data directory over retention_max_disk_bytes: dropped the oldest day"
            );
        }
        Ok(report)
    }
}

/// Days that have a label-index partition for `tenant`.
fn postings_days(rocks: &Rocks, tenant: &str) -> Result<Vec<i64>, StoreError> {
    let snap = rocks.snapshot();
    let mut prefix = tenant.as_bytes().to_vec();
    prefix.push(0);
    let mut days = Vec::new();
    snap.scan_postings(&prefix, |rest, _| {
        if rest.len() >= 8 {
            let d = keys::dec_i64(&rest[..8]);
            if days.last() != Some(&d) {
                days.push(d);
            }
        }
        Ok(())
    })?;
    Ok(days)
}

/// Removes streams that have no block left from the registry. Returns how many.
fn remove_empty_streams(rocks: &Rocks, registry: &Registry, ingester: &Ingester) -> Result<u64, StoreError> {
    let empty = |snap: &crate::store::Snapshot, m: &StreamMeta| -> Result<bool, StoreError> {
        let mut any = false;
        snap.block_keys_in(&keys::block_stream(m.id), &keys::block_stream_end(m.id), |_| {
            any = true;
            false
        })?;
        Ok(!any)
    };
    let snap = rocks.snapshot();
    let mut candidates = Vec::new();
    for m in registry.all() {
        if empty(&snap, &m)? {
            candidates.push(m);
        }
    }
    drop(snap);
    if candidates.is_empty() {
        return Ok(0);
    }
    ingester.with_commit_lock(|| -> Result<u64, StoreError> {
        // Re-check under the lock: a push may have added data since.
        let snap = rocks.snapshot();
        let mut gone: Vec<Arc<StreamMeta>> = Vec::new();
        for m in candidates {
            if empty(&snap, &m)? {
                gone.push(m);
            }
        }
        drop(snap);
        let mut batch = rocks.batch();
        for m in &gone {
            registry.prepare_remove(&mut batch, m);
        }
        if !batch.is_empty() {
            rocks.write(batch)?;
        }
        registry.forget(&gone);
        Ok(gone.len() as u64)
    })
}

/// Bytes of the files under `dir`.
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logql::{MatchOp, Matcher};

    fn rule(name: &str, value: &str, priority: i64, hours: u64) -> StreamRule {
        StreamRule {
            matchers: compile_all(&[Matcher { name: name.into(), op: MatchOp::Eq, value: value.into() }]).unwrap(),
            priority,
            period: Duration::from_secs(hours * 3600),
        }
    }

    #[test]
    fn stream_rules_pick_like_loki() {
        let r = Retention {
            enabled: true,
            global: Duration::from_secs(336 * 3600),
            tenant_periods: [("short".to_string(), Duration::from_secs(3600))].into_iter().collect(),
            rules: vec![
                rule("level", "debug", 1, 24),
                rule("level", "debug", 1, 48),
                rule("app", "audit", 5, 720),
                rule("level", "debug", 2, 72),
            ],
            max_disk_bytes: 0,
            cancel_period: Duration::ZERO,
            data_dir: PathBuf::new(),
        };
        let l = |pairs: &[(&str, &str)]| {
            Labels::from_pairs(pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect())
        };
        assert_eq!(r.period_for("fake", &l(&[("level", "info")])), Duration::from_secs(336 * 3600));
        assert_eq!(r.period_for("short", &l(&[("level", "info")])), Duration::from_secs(3600), "tenant override");
        assert_eq!(
            r.period_for("fake", &l(&[("level", "debug")])),
            Duration::from_secs(72 * 3600),
            "higher priority wins"
        );
        assert_eq!(r.period_for("fake", &l(&[("level", "debug"), ("app", "audit")])), Duration::from_secs(720 * 3600));
        let tie = Retention { rules: vec![rule("a", "1", 1, 48), rule("a", "1", 1, 24)], ..r };
        assert_eq!(
            tie.period_for("fake", &l(&[("a", "1")])),
            Duration::from_secs(24 * 3600),
            "equal priority: shortest period"
        );
    }
}
