//! `/loki/api/v1/delete`: create (POST/PUT), list (GET) and cancel (DELETE) delete
//! requests, with Loki's parameters, checks and messages. The compactor applies them.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::invalid::Invalid;
use super::params::Params;
use super::wire::response::{fmt_seconds, json_str};
use super::{json_response, tenant_of, AppState};
use crate::clock::now_ns;
use crate::retention::deletes::{self, DeleteRequest};

fn require_retention(st: &AppState) -> Result<(), ApiError> {
    if st.config.compactor.retention_enabled {
        Ok(())
    } else {
        Err(Invalid::RetentionDisabled.into())
    }
}

/// RFC3339, or exactly 10 characters of Unix seconds (Loki's delete-time rule).
fn parse_delete_time(s: &str) -> Option<i64> {
    if s.len() == 10 {
        if let Ok(secs) = s.parse::<i64>() {
            return Some(secs * 1_000_000_000);
        }
    }
    chrono::DateTime::parse_from_rfc3339(s).ok().and_then(|t| t.timestamp_nanos_opt())
}

/// What every delete-request endpoint starts with: the tenant, retention on, the parameters.
fn delete_request(
    st: &AppState,
    headers: &HeaderMap,
    raw: Vec<(String, String)>,
) -> Result<(String, Params), ApiError> {
    let tenant = tenant_of(st, headers)?;
    require_retention(st)?;
    Ok((tenant, Params(raw)))
}

pub async fn create(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(raw): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let (tenant, p) = delete_request(&st, &headers, raw)?;
    let query = p.get("query").ok_or(Invalid::Missing("query"))?;
    deletes::parse_delete_query(query).map_err(ApiError::BadRequest)?;
    let start_s = p.get("start").ok_or(Invalid::Missing("start time"))?;
    let start = parse_delete_time(start_s).ok_or(Invalid::DeleteTime("start"))?;
    let now = now_ns();
    let end = match p.get("end") {
        Some(e) => parse_delete_time(e).ok_or(Invalid::DeleteTime("end"))?,
        None => now,
    };
    if end > now {
        return Err(Invalid::DeleteInFuture.into());
    }
    if start >= end {
        return Err(Invalid::DeleteStartAfterEnd.into());
    }
    let id = format!("{:08x}", fxhash(&tenant, query, now));
    let req = DeleteRequest {
        request_id: id.clone(),
        tenant,
        query: query.to_string(),
        start,
        end,
        created_at: now,
        status: "received".into(),
    };
    let st2 = Arc::clone(&st);
    tokio::task::spawn_blocking(move || deletes::store(&st2.engine.rocks, &req)).await??;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert("X-Delete-Request-ID", HeaderValue::from_str(&id).expect("hex id"));
    Ok(resp)
}

pub async fn list(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(raw): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let (tenant, p) = delete_request(&st, &headers, raw)?;
    let window = match (p.get("start").and_then(parse_delete_time), p.get("end").and_then(parse_delete_time)) {
        (Some(s), Some(e)) => Some((s, e)),
        _ => None,
    };
    let st2 = Arc::clone(&st);
    let t2 = tenant.clone();
    let reqs = tokio::task::spawn_blocking(move || deletes::list(&st2.engine.rocks, Some(&t2))).await??;
    let mut out = String::from("[");
    for (i, r) in reqs.iter().filter(|r| window.is_none_or(|(s, e)| r.start <= e && r.end >= s)).enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"request_id\":");
        json_str(&mut out, &r.request_id);
        out.push_str(&format!(
            ",\"start_time\":{},\"end_time\":{},\"query\":",
            fmt_seconds(r.start / 1_000_000),
            fmt_seconds(r.end / 1_000_000)
        ));
        json_str(&mut out, &r.query);
        out.push_str(",\"status\":");
        json_str(&mut out, &r.status);
        out.push_str(&format!(",\"created_at\":{},\"user_id\":\"\"}}", fmt_seconds(r.created_at / 1_000_000)));
    }
    out.push(']');
    Ok(json_response(out))
}

pub async fn cancel(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(raw): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let (tenant, p) = delete_request(&st, &headers, raw)?;
    let id = p.get("request_id").ok_or(Invalid::Missing("request_id"))?.to_string();
    let force = p.get("force") == Some("true");
    let period = st.config.compactor.delete_request_cancel_period;
    let st2 = Arc::clone(&st);
    tokio::task::spawn_blocking(move || -> Result<(), ApiError> {
        let reqs = deletes::list(&st2.engine.rocks, Some(&tenant))?;
        let Some(r) = reqs.into_iter().find(|r| r.request_id == id) else {
            return Err(ApiError::NotFound("could not find delete request with given id".into()));
        };
        if r.status == "processed" {
            return Err(Invalid::DeleteAlreadyProcessed.into());
        }
        if !force && r.created_at + period.as_nanos() as i64 <= now_ns() {
            return Err(Invalid::CancelPastDeadline(period).into());
        }
        deletes::remove(&st2.engine.rocks, &r)?;
        Ok(())
    })
    .await??;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A short, stable id (FNV-1a over tenant, query and creation time).
fn fxhash(tenant: &str, query: &str, now: i64) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in tenant.bytes().chain([0]).chain(query.bytes()).chain(now.to_le_bytes()) {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}
