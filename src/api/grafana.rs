//! Endpoints Grafana reads besides queries: Logs Drilldown's `drilldown-limits` and
//! `detected_labels`, and the alert list's Prometheus-style rules and alerts, answered as
//! an empty ruler (lokid runs no rules). The ruler's own API (`/api/prom/rules…`, `/loki/api/v1/rules…`) stays a 404
//! `page not found`, which Grafana reads as "ruler disabled", as Loki answers without one.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::error::ApiError;
use super::ops::LOKI_COMPAT_VERSION;
use super::{tenant_of, AppState};
use crate::gocompat::prom_duration_string;
use crate::limits::Limits;

/// `GET /loki/api/v1/drilldown-limits`: the tenant's limits that Loki publishes by default
/// (`tenant_limits_allow_publish`), in Loki's JSON (keys sorted, durations as Prometheus
/// durations, a trailing newline).
pub async fn drilldown_limits(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let tenant = tenant_of(&st, &headers)?;
    let body = json!({
        "limits": published_limits(st.config.limits_for(&tenant)),
        "pattern_ingester_enabled": true,
        "version": LOKI_COMPAT_VERSION,
    });
    Ok(json_body(format!("{body}\n")))
}

/// The published limits lokid has. `otlp_config` is not published yet (OTLP is served, `api::wire::otlp`);
/// `volume_enabled` is true: the volume endpoints are served (`api::volume`).
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
        ("volume_enabled", Value::from(true)),
        ("volume_max_series", Value::from(crate::query::drilldown::volume::MAX_SERIES)),
    ])
}

/// Labels Loki always keeps in `detected_labels` when they have values.
const STATIC_LABELS: [&str; 4] = ["cluster", "namespace", "instance", "pod"];

/// `GET /loki/api/v1/detected_labels`: the stream labels of the streams `query` selects (all
/// streams when empty) in `[start, end]`, with their number of distinct values, leaving out
/// labels whose values are all ids (numbers or UUIDs) unless Loki keeps them anyway. Loki
/// lists them in map order (random) and estimates the cardinality with a sketch; lokid sorts
/// by name and counts exactly.
pub async fn detected_labels(State(st): State<Arc<AppState>>, req: Request) -> Result<Response, ApiError> {
    let (tenant, start, end, p) = super::meta::meta_request(&st, req).await?;
    let selectors = match p.get("query").map(str::trim) {
        None | Some("") => Vec::new(),
        Some(q) => vec![crate::logql::parse_selector(q, true)?],
    };
    let st2 = Arc::clone(&st);
    let series =
        tokio::task::spawn_blocking(move || crate::query::meta::series(&st2.engine, &tenant, &selectors, start, end))
            .await??;
    let mut values: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in series {
        for (name, value) in s.labels.iter() {
            values.entry(name.to_string()).or_default().insert(value.to_string());
        }
    }
    let detected: Vec<String> = values
        .iter()
        .filter(|(name, vals)| (STATIC_LABELS.contains(&name.as_str()) && !vals.is_empty()) || !reject_label(vals))
        .map(|(name, vals)| format!(r#"{{"label":{},"cardinality":{}}}"#, Value::from(name.as_str()), vals.len()))
        .collect();
    if detected.is_empty() {
        return Ok(json_body("{}\n".to_string()));
    }
    Ok(json_body(format!(r#"{{"detectedLabels":[{}]}}"#, detected.join(",")) + "\n"))
}

/// Loki's `shouldRejectLabel`: no values, or only ids (except a boolean-like 0/1 pair).
fn reject_label(values: &BTreeSet<String>) -> bool {
    if values.is_empty() {
        return true;
    }
    if values.len() <= 2 && values.iter().all(|v| v == "0" || v == "1") {
        return false;
    }
    values.iter().all(|v| crate::gocompat::parse_float(v).is_ok() || is_uuid(v))
}

/// Go's `uuid.Parse` forms: 36 characters with dashes, 32 hex digits, `urn:uuid:` + 36,
/// or 36 in braces.
fn is_uuid(s: &str) -> bool {
    let dashed = |s: &str| {
        s.len() == 36
            && s.bytes()
                .enumerate()
                .all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == b'-' } else { c.is_ascii_hexdigit() })
    };
    match s.len() {
        32 => s.bytes().all(|c| c.is_ascii_hexdigit()),
        36 => dashed(s),
        38 => s.starts_with('{') && s.ends_with('}') && dashed(&s[1..37]),
        45 => s.get(..9).is_some_and(|p| p.eq_ignore_ascii_case("urn:uuid:")) && dashed(&s[9..]),
        _ => false,
    }
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
pub(super) fn json_body(body: String) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn id_only_labels_are_rejected_like_lokis() {
        assert!(reject_label(&set(&[])));
        assert!(!reject_label(&set(&["0", "1"])));
        assert!(reject_label(&set(&["0", "1", "2"])));
        assert!(reject_label(&set(&["12", "3.5"])));
        assert!(reject_label(&set(&["123e4567-e89b-12d3-a456-426614174000", "7"])));
        assert!(!reject_label(&set(&["api-server", "7"])));
        assert!(!reject_label(&set(&["info"])));
        assert!(is_uuid("{123e4567-e89b-12d3-a456-426614174000}"));
        assert!(is_uuid("urn:uuid:123e4567-e89b-12d3-a456-426614174000"));
        assert!(is_uuid("123e4567e89b12d3a456426614174000"));
        assert!(!is_uuid("123e4567-e89b-12d3-a456-42661417400g"));
    }
}
