//! Delete requests (Loki's `/loki/api/v1/delete`): stored in the `deletes` column family,
//! cancellable for `delete_request_cancel_period`, then applied by the compactor, which
//! rewrites the affected blocks without the matching entries.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::index::{compile_all, Registry};
use crate::ingest::Ingester;
use crate::logql::{self, Expr, LogExpr, Stage};
use crate::model::{Entry, Nanos, TimeRange};
use crate::query::pipeline::LogPipeline;
use crate::store::block::{self, Block};
use crate::store::{keys, Rocks, StoreError};

use super::Report;

/// One delete request as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeleteRequest {
    pub request_id: String,
    pub tenant: String,
    pub query: String,
    /// Nanoseconds, inclusive.
    pub start: Nanos,
    /// Nanoseconds, inclusive.
    pub end: Nanos,
    pub created_at: Nanos,
    /// `received` or `processed`.
    pub status: String,
}

/// Parses a delete query: a selector with optional line filters only (as Loki).
pub fn parse_delete_query(q: &str) -> Result<LogExpr, String> {
    match logql::parse_expr(q).map_err(|e| e.to_string())? {
        Expr::Log(l) if l.stages.iter().all(|s| matches!(s, Stage::LineFilter(_))) => Ok(l),
        _ => {
            Err("unsupported query type: only log selectors with optional line filters can be used for deletion".into())
        }
    }
}

pub fn store(rocks: &Rocks, r: &DeleteRequest) -> Result<(), StoreError> {
    let mut batch = rocks.batch();
    let value = serde_json::to_vec(r).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    batch.put_delete_request(&keys::delete_request(&r.tenant, &r.request_id), &value);
    rocks.write(batch)
}

pub fn remove(rocks: &Rocks, r: &DeleteRequest) -> Result<(), StoreError> {
    let mut batch = rocks.batch();
    batch.delete_delete_request(&keys::delete_request(&r.tenant, &r.request_id));
    rocks.write(batch)
}

/// Requests of one tenant (`None`: all tenants), oldest first.
pub fn list(rocks: &Rocks, tenant: Option<&str>) -> Result<Vec<DeleteRequest>, StoreError> {
    let prefix = tenant.map(keys::delete_requests_of).unwrap_or_default();
    let mut out: Vec<DeleteRequest> =
        rocks.scan_deletes(&prefix)?.into_iter().filter_map(|(_, v)| serde_json::from_slice(&v).ok()).collect();
    out.sort_by_key(|r| r.created_at);
    Ok(out)
}

/// Applies every `received` request whose cancel period is over.
pub fn apply_due(
    rocks: &Rocks,
    registry: &Registry,
    ingester: &Ingester,
    cancel_period: Duration,
    now: Nanos,
) -> Result<Report, StoreError> {
    let mut report = Report::default();
    for mut r in list(rocks, None)? {
        if r.status != "received" || r.created_at + cancel_period.as_nanos() as i64 > now {
            continue;
        }
        report.entries_deleted_by_requests += apply(rocks, registry, ingester, &r)?;
        report.delete_requests_applied += 1;
        r.status = "processed".into();
        store(rocks, &r)?;
    }
    Ok(report)
}

/// Removes the entries of one request; returns how many.
fn apply(rocks: &Rocks, registry: &Registry, ingester: &Ingester, r: &DeleteRequest) -> Result<u64, StoreError> {
    let Ok(expr) = parse_delete_query(&r.query) else { return Ok(0) };
    let Ok(pipeline) = LogPipeline::compile(&expr.stages) else { return Ok(0) };
    let Ok(matchers) = compile_all(&expr.matchers) else { return Ok(0) };
    let range = TimeRange { start: r.start, end: r.end.saturating_add(1) };
    let snap = rocks.snapshot();
    let days = keys::day_of(range.start)..=keys::day_of(range.end - 1);
    let ids = crate::index::select_streams(&snap, &r.tenant, &matchers, days)?;
    let mut deleted = 0u64;
    let mut batch = rocks.batch();
    for id in ids.iter() {
        if registry.meta(id).is_none_or(|m| m.tenant != r.tenant) {
            continue;
        }
        let from = keys::block_bucket(id, keys::hour_of(range.start));
        let to = keys::block_bucket(id, keys::hour_of(range.end - 1) + 1);
        snap.blocks_in(&from, &to, |k, v| {
            let Some(key) = keys::parse_block(k) else { return Ok(true) };
            if key.max_ts < range.start || key.min_ts >= range.end {
                return Ok(true);
            }
            let b = Block::decode(v).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let kept: Vec<Entry> = (0..b.len())
                .filter(|&i| !(range.contains(b.ts(i)) && pipeline.keep_line(b.line(i))))
                .map(|i| b.entry(i))
                .collect();
            let removed = (b.len() - kept.len()) as u64;
            if removed == 0 {
                return Ok(true);
            }
            deleted += removed;
            batch.delete_block(k);
            if let (Some(first), Some(last)) = (kept.first(), kept.last()) {
                let new_key = keys::block(id, key.hour, first.ts, last.ts, ingester.next_seq());
                batch.put_block(
                    &new_key,
                    &block::encode(&kept, block::Codec::Zstd(crate::store::merge::SEALED_ZSTD_LEVEL)),
                );
            }
            Ok(true)
        })?;
    }
    drop(snap);
    if !batch.is_empty() {
        let gone = batch.deleted();
        rocks.write(batch)?;
        rocks.reclaim(&gone);
    }
    Ok(deleted)
}
