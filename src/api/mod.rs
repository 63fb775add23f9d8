//! HTTP API: the whole Loki route table, shared state, tenant and parameter extraction.
//!
//! Only this layer knows HTTP, JSON and protobuf; handlers stay thin and call one
//! domain function each through `spawn_blocking`.

pub mod delete;
pub mod error;
pub mod fields;
pub mod grafana;
pub mod invalid;
pub mod meta;
pub mod ops;
pub mod params;
pub mod patterns;
pub mod push;
pub mod query;
pub mod tail;
pub mod volume;
pub mod wire;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use axum::body::to_bytes;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::config::Config;
use crate::ingest::Ingester;
use crate::query::Engine;
use crate::tail::Hub;
use crate::telemetry::Metrics;
use error::ApiError;
use params::Params;

/// Everything a handler may touch.
pub struct AppState {
    pub config: Arc<Config>,
    pub engine: Arc<Engine>,
    pub ingester: Arc<Ingester>,
    pub hub: Arc<Hub>,
    pub metrics: Arc<Metrics>,
    pub limiter: crate::ingest::limiter::Limiter,
    pub ready: AtomicBool,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        // Ingest
        .route("/loki/api/v1/push", post(push::push))
        .route("/api/prom/push", post(push::push))
        .route("/otlp/v1/logs", post(push::otlp_logs))
        // Queries
        .route("/loki/api/v1/query_range", get(query::query_range).post(query::query_range))
        .route("/loki/api/v1/query", get(query::query_instant).post(query::query_instant))
        .route("/loki/api/v1/tail", get(tail::tail))
        // Metadata
        .route("/loki/api/v1/labels", get(meta::labels).post(meta::labels))
        .route("/loki/api/v1/label", get(meta::labels).post(meta::labels))
        .route("/loki/api/v1/label/{name}/values", get(meta::label_values).post(meta::label_values))
        .route("/loki/api/v1/series", get(meta::series).post(meta::series))
        .route("/loki/api/v1/index/stats", get(meta::index_stats).post(meta::index_stats))
        .route("/loki/api/v1/index/volume", get(volume::volume_instant).post(volume::volume_instant))
        .route("/loki/api/v1/index/volume_range", get(volume::volume_range).post(volume::volume_range))
        .route("/loki/api/v1/format_query", get(meta::format_query).post(meta::format_query))
        // Deletion (applied by the compactor)
        .route("/loki/api/v1/delete", post(delete::create).put(delete::create).get(delete::list).delete(delete::cancel))
        // Operations
        .route("/ready", get(ops::ready))
        .route("/metrics", get(ops::metrics))
        .route("/config", get(ops::config))
        .route("/flush", get(ops::flush).post(ops::flush))
        .route("/services", get(ops::services))
        .route("/loki/api/v1/status/buildinfo", get(ops::buildinfo))
        // Grafana: Logs Drilldown's limits, the alert list (an empty ruler)
        .route("/loki/api/v1/drilldown-limits", get(grafana::drilldown_limits))
        .route("/loki/api/v1/detected_labels", get(grafana::detected_labels))
        .route("/loki/api/v1/patterns", get(patterns::patterns))
        .route("/loki/api/v1/detected_fields", get(fields::detected_fields))
        .route("/loki/api/v1/detected_field/{name}/values", get(fields::detected_field_values))
        .route("/prometheus/api/v1/rules", get(grafana::rules))
        .route("/prometheus/api/v1/alerts", get(grafana::alerts))
        .fallback(ops::not_found)
        .layer(middleware::from_fn_with_state(Arc::clone(&state), observe))
        .with_state(state)
}

/// Records `loki_request_duration_seconds` per route.
async fn observe(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route =
        req.extensions().get::<MatchedPath>().map(|p| route_name(p.as_str())).unwrap_or_else(|| "other".to_string());
    let resp = next.run(req).await;
    st.metrics.observe_request(&method, &route, resp.status().as_u16(), started.elapsed().as_secs_f64());
    resp
}

/// Loki-style route label: `/loki/api/v1/query_range` → `loki_api_v1_query_range`.
fn route_name(path: &str) -> String {
    path.trim_start_matches('/').replace(['{', '}'], "").replace('/', "_")
}

/// Tenant of a request: `fake` without auth, else a valid `X-Scope-OrgID`.
pub fn tenant_of(st: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    if !st.config.auth_enabled {
        return Ok("fake".to_string());
    }
    let Some(id) = headers.get("X-Scope-OrgID").and_then(|v| v.to_str().ok()).map(str::trim) else {
        return Err(ApiError::NoOrgId);
    };
    if id.is_empty() {
        return Err(ApiError::NoOrgId);
    }
    if id.contains('|') {
        return Err(invalid::Invalid::MultipleOrgIds.into());
    }
    let valid_char = |c: char| c.is_ascii_alphanumeric() || "!-_.*'()".contains(c);
    if id.len() > 150 || id == "." || id == ".." || !id.chars().all(valid_char) {
        return Err(invalid::Invalid::TenantId(id.to_string()).into());
    }
    Ok(id.to_string())
}

/// Merges URL parameters with a form-encoded POST body (Loki's `r.ParseForm()`).
pub async fn read_params(req: Request) -> Result<(HeaderMap, Params), ApiError> {
    let (parts, body) = req.into_parts();
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let body = if is_form {
        Some(to_bytes(body, 1 << 20).await.map_err(|e| ApiError::BadRequest(e.to_string()))?)
    } else {
        None
    };
    Ok((parts.headers, Params::parse(parts.uri.query(), body.as_deref())))
}

pub fn json_response(body: String) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json; charset=UTF-8")], body).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn route_names() {
        assert_eq!(super::route_name("/loki/api/v1/label/{name}/values"), "loki_api_v1_label_name_values");
        assert_eq!(super::route_name("/ready"), "ready");
    }
}
