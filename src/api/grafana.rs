//! Endpoints Grafana reads besides queries: Logs Drilldown's `drilldown-limits`, and the
//! alert list's Prometheus-style rules and alerts, answered as an empty ruler (lokid runs
//! no rules). The ruler's own API (`/api/prom/rules…`, `/loki/api/v1/rules…`) stays a 404
//! `page not found`, which Grafana reads as "ruler disabled", as Loki answers without one.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::error::ApiError;
use super::ops::LOKI_COMPAT_VERSION;
use super::{tenant_of, AppState};
use crate::limits::Limits;
use crate::logql::go::prom_duration_string;

/// `GET /loki/api/v1/drilldown-limits`: the tenant's limits that Loki publishes by default
/// (`tenant_limits_allow_publish`), in Loki's JSON (keys sorted, durations as Prometheus
/// durations, a trailing newline).
pub async fn drilldown_limits(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let tenant = tenant_of(&st, &headers)?;
    let body = json!({
        "limits": published_limits(&st.config.limits_for(&tenant)),
        "pattern_ingester_enabled": false,
        "version": LOKI_COMPAT_VERSION,
    });
    Ok(json_body(format!("{body}\n")))
}

/// The published limits lokid has. `otlp_config` is left out until lokid accepts OTLP;
/// `volume_enabled` is false until it serves the volume endpoints (docs/compat.md).
fn published_limits(l: &Limits) -> BTreeMap<&'static str, Value> {
    let dur = |d: std::time::Duration| Value::from(prom_duration_string(d.as_nanos().min(i64::MAX as u128) as i64));
    BTreeMap::from([
        ("discover_log_levels", Value::from(l.discover_log_levels)),
        ("discover_service_name", Value::from(l.discover_service_name.clone())),
        ("log_level_fields", Value::from(crate::ingest::detect::LEVEL_FIELDS.to_vec())),
        ("max_entries_limit_per_query", Value::from(l.max_entries_limit_per_query)),
        ("max_line_size_truncate", Value::from(l.max_line_size_truncate)),
        ("max_query_bytes_read", Value::from("0B")),
        ("max_query_length", dur(l.max_query_length)),
        ("max_query_lookback", dur(l.max_query_lookback)),
        ("max_query_range", Value::from("0s")),
        ("max_query_series", Value::from(l.max_query_series)),
        ("metric_aggregation_enabled", Value::from(false)),
        ("pattern_persistence_enabled", Value::from(false)),
        ("query_timeout", dur(l.query_timeout)),
        ("retention_period", dur(l.retention_period)),
        ("volume_enabled", Value::from(false)),
        ("volume_max_series", Value::from(1000)),
    ])
}

/// `GET /prometheus/api/v1/rules`: no rule groups.
pub async fn rules(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response, ApiError> {
    tenant_of(&st, &headers)?;
    Ok(json_body(r#"{"status":"success","data":{"groups":[]},"errorType":"","error":""}"#.to_string()))
}

/// `GET /prometheus/api/v1/alerts`: no alerts.
pub async fn alerts(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response, ApiError> {
    tenant_of(&st, &headers)?;
    Ok(json_body(r#"{"status":"success","data":{"alerts":[]},"errorType":"","error":""}"#.to_string()))
}

/// Loki sends these with `Content-Type: application/json` (no charset).
fn json_body(body: String) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}
