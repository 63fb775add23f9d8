//! Operational endpoints: `/ready`, `/metrics`, `/config`, build info, services.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::{json_response, AppState};

/// The Loki version lokid answers like (Grafana and other clients read `version`).
pub const LOKI_COMPAT_VERSION: &str = "3.5.0";

pub async fn ready(State(st): State<Arc<AppState>>) -> Response {
    if st.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "ready\n").into_response()
    } else {
        ApiError::Stopping.into_response()
    }
}

pub async fn metrics(State(st): State<Arc<AppState>>) -> Response {
    let streams = st.engine.registry.len() as f64;
    let rocks = &st.engine.rocks;
    let sst = rocks.property_all_cfs("rocksdb.total-sst-files-size") as f64;
    let cache = rocks.property("rocksdb.block-cache-usage").unwrap_or(0) as f64;
    let memtables = rocks.property_all_cfs("rocksdb.cur-size-all-mem-tables") as f64;
    let body = st.metrics.render(&[
        ("lokid_streams", "Streams known to the registry.", streams),
        ("lokid_sst_bytes", "Size of RocksDB's SST files.", sst),
        ("lokid_rocksdb_block_cache_bytes", "Memory held by RocksDB's block cache.", cache),
        ("lokid_rocksdb_memtable_bytes", "Memory held by RocksDB's memtables (not flushed yet).", memtables),
    ]);
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}

/// Loki's `/flush` (ingesters write their in-memory chunks to the store): lokid seals every
/// bucket that still has small push blocks (merged into zstd blocks with token filters) and
/// flushes RocksDB's memtables. 204 when done.
pub async fn flush(State(st): State<Arc<AppState>>) -> Result<Response, super::error::ApiError> {
    let st2 = Arc::clone(&st);
    let merged = tokio::task::spawn_blocking(move || -> Result<usize, crate::store::StoreError> {
        let due = st2.ingester.take_all_due();
        let merged =
            st2.ingester.merge_buckets(due, crate::store::merge::Pick::All, st2.config.block_target_bytes as usize);
        st2.engine.rocks.flush()?;
        Ok(merged)
    })
    .await??;
    st.metrics.blocks_merged.fetch_add(merged as u64, Ordering::Relaxed);
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn buildinfo() -> Response {
    json_response(format!(
        r#"{{"version":"{LOKI_COMPAT_VERSION}","revision":"lokid-{}","branch":"main","buildUser":"lokid","buildDate":"","goVersion":"rust"}}"#,
        env!("CARGO_PKG_VERSION")
    ))
}

pub async fn config(State(st): State<Arc<AppState>>) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], st.config.to_yaml()).into_response()
}

pub async fn services(State(st): State<Arc<AppState>>) -> Response {
    let state = if st.ready.load(Ordering::Relaxed) { "Running" } else { "Stopping" };
    let body = ["server", "store", "ingester", "querier", "compactor"]
        .iter()
        .map(|m| format!("{m} => {state}\n"))
        .collect::<String>();
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

/// Go's `http.NotFound` answer, which Loki gives for unknown paths.
pub async fn not_found() -> Response {
    ApiError::NoRoute.into_response()
}
