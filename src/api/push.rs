//! `POST /loki/api/v1/push` (and legacy `/api/prom/push`) and `POST /otlp/v1/logs`:
//! decode → validate → commit, one path for every body format.
//!
//! Partial pushes follow Loki: valid entries are stored, and the 400 names the rejected
//! ones. The reply is sent only after the RocksDB write returned.

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};

use super::error::ApiError;
use super::wire::otlp;
use super::wire::push::decode_push_body;
use super::{tenant_of, AppState};
use crate::clock::now_ns;
use crate::ingest::{validate_push, ServiceName};
use crate::model::PushStream;

/// Loki's `distributor.max-recv-msg-size` (compressed body).
pub const MAX_RECV_BYTES: usize = 100 << 20;
/// Loki's `distributor.max-decompressed-size` is 5000 MiB; lokid keeps RAM bounded.
pub const MAX_DECOMPRESSED_BYTES: usize = 512 << 20;

pub async fn push(
    State(st): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let tenant = tenant_of(&st, &headers)?;
    // A client that trickles its body is cut off after the server's read timeout.
    let read_timeout = st.config.http_server_read_timeout;
    let body = match tokio::time::timeout(read_timeout, to_bytes(body, MAX_RECV_BYTES)).await {
        Err(_) => return Err(ApiError::ReadTimeout(crate::gocompat::std_duration_string(read_timeout))),
        Ok(res) => res.map_err(|_| {
            ApiError::PayloadTooLarge(format!(
                "request body too large: message size too large than max (more than {MAX_RECV_BYTES} vs {MAX_RECV_BYTES})"
            ))
        })?,
    };
    let legacy = !uri.path().to_ascii_lowercase().contains("/loki/api/v1");
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let content_encoding = headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).map(str::to_string);
    let st2 = Arc::clone(&st);
    // Decoding, validation, compression and the write all run off the async workers; the
    // write completes even if the client goes away.
    let outcome = tokio::task::spawn_blocking(move || -> Result<Option<ApiError>, ApiError> {
        let streams = decode_push_body(
            legacy,
            content_type.as_deref(),
            content_encoding.as_deref(),
            &body,
            MAX_DECOMPRESSED_BYTES,
        )
        .map_err(ApiError::from)?;
        store_streams(&st2, &tenant, streams, ServiceName::Discover)
    })
    .await??;
    match outcome {
        Some(err) => Err(err),
        None => Ok(StatusCode::NO_CONTENT),
    }
}

/// The one path from decoded streams to the store, shared by every push endpoint:
/// metrics, validation, limits, the durable commit (acknowledged after the `WriteBatch`)
/// and tail delivery. `Ok(Some(err))` means part of the push was stored and `err` names
/// what was refused. Blocking: call from `spawn_blocking`.
fn store_streams(
    st2: &AppState,
    tenant: &str,
    streams: Vec<PushStream>,
    service: ServiceName,
) -> Result<Option<ApiError>, ApiError> {
    if streams.is_empty() {
        return Err(ApiError::Unprocessable("error at least one valid stream is required for ingestion".into()));
    }
    let (lines, bytes) = streams.iter().fold((0u64, 0u64), |acc, s| {
        (acc.0 + s.entries.len() as u64, acc.1 + s.entries.iter().map(|e| e.line.len() as u64).sum::<u64>())
    });
    st2.metrics.add_received(tenant, lines, bytes);
    let limits = st2.config.limits_for(tenant);
    let validated = validate_push(tenant, streams, limits, now_ns(), service);
    for (reason, n, b) in &validated.rejected_by_reason {
        st2.metrics.add_discarded(reason, tenant, *n as u64, *b);
    }
    let invalid = validated.error_message();
    let limited = st2.limiter.check(tenant, validated.accepted, limits, std::time::Instant::now());
    if let Some(msg) = limited.rate_limited {
        st2.metrics.add_discarded("rate_limited", tenant, lines, bytes);
        return Ok(Some(ApiError::TooManyRequests(msg)));
    }
    let committed = st2.ingester.commit(tenant, limited.accepted)?;
    st2.metrics.streams_created.fetch_add(committed.new_streams as u64, std::sync::atomic::Ordering::Relaxed);
    if !limited.rejected.is_empty() {
        // 429 so that the client retries the streams the limits refused.
        let mut msgs = Vec::new();
        for (reason, msg, n, b) in limited.rejected {
            st2.metrics.add_discarded(reason, tenant, n as u64, b);
            msgs.push(msg);
        }
        msgs.extend(invalid);
        return Ok(Some(ApiError::TooManyRequests(msgs.join("; "))));
    }
    Ok(invalid.map(ApiError::BadRequest))
}

/// `POST /otlp/v1/logs`: OTLP/HTTP logs, mapped as Loki 3 maps them, then the same path
/// as every other push. Errors carry the HTTP status Loki gives and a `google.rpc.Status`
/// body (500 becomes 503 so that OTLP exporters retry).
pub async fn otlp_logs(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let tenant = tenant_of(&st, &headers)?;
    let header_str = |h| headers.get(h).and_then(|v: &header::HeaderValue| v.to_str().ok()).map(str::to_string);
    let content_type = header_str(header::CONTENT_TYPE);
    let content_encoding = header_str(header::CONTENT_ENCODING);
    otlp::check_encoding(content_encoding.as_deref())
        .map_err(|e| ApiError::otlp(ApiError::BadRequest(e.to_string())))?;
    let read_timeout = st.config.http_server_read_timeout;
    // One byte over the limit is enough to know the body is too large.
    let (body, body_size) = match tokio::time::timeout(read_timeout, to_bytes(body, MAX_RECV_BYTES + 1)).await {
        Err(_) => {
            return Err(ApiError::otlp(ApiError::ReadTimeout(crate::gocompat::std_duration_string(read_timeout))))
        }
        Ok(Ok(b)) => {
            let n = b.len();
            (b, n)
        }
        Ok(Err(_)) => (Default::default(), MAX_RECV_BYTES + 1),
    };
    let st2 = Arc::clone(&st);
    let outcome = tokio::task::spawn_blocking(move || -> Result<Option<ApiError>, ApiError> {
        let limits = st2.config.limits_for(&tenant);
        let streams = otlp::decode_otlp_streams(
            content_type.as_deref(),
            content_encoding.as_deref(),
            &body,
            body_size,
            MAX_RECV_BYTES,
            MAX_DECOMPRESSED_BYTES,
            &limits.otlp_config,
            &limits.discover_service_name,
            now_ns(),
        )
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        store_streams(&st2, &tenant, streams, ServiceName::AsDecoded)
    })
    .await
    .map_err(|e| ApiError::otlp(e.into()))?
    .map_err(ApiError::otlp)?;
    match outcome {
        Some(err) => Err(ApiError::otlp(err)),
        None => Ok(StatusCode::NO_CONTENT),
    }
}
