//! `/loki/api/v1/query_range` and `/loki/api/v1/query`: parameters → engine → Loki JSON.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::error::ApiError;
use super::invalid::Invalid;
use super::params::{self, Params, RangeRequest};
use super::wire::response::query_response;
use super::{json_response, read_params, tenant_of, AppState};
use crate::clock::now_ns;
use crate::logql::{self, Expr};
use crate::model::TimeRange;
use crate::query::plan::Steps;
use crate::query::{self, logs, metric, CancelOnDrop, Deadline, QueryResult, Stats};

/// Grafana asks for Loki 3's categorized labels with this header.
fn categorize(headers: &HeaderMap) -> bool {
    headers
        .get_all("X-Loki-Response-Encoding-Flags")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|f| f.trim() == "categorize-labels"))
}

fn parse_query(p: &Params) -> Result<Expr, ApiError> {
    Ok(logql::parse_expr(p.get("query").unwrap_or(""))?)
}

pub async fn query_range(State(st): State<Arc<AppState>>, req: Request) -> Result<Response, ApiError> {
    let (headers, p) = read_params(req).await?;
    let tenant = tenant_of(&st, &headers)?;
    let expr = parse_query(&p)?;
    let r = RangeRequest::parse(&p, now_ns(), st.config.limits_for(&tenant))?;
    let categorize = categorize(&headers);
    let guard = CancelOnDrop::new();
    let deadline = deadline(&st, &tenant, &guard);
    let st2 = Arc::clone(&st);
    let (res, stats) = tokio::task::spawn_blocking(move || -> Result<(QueryResult, Stats), ApiError> {
        let limits = st2.config.limits_for(&tenant);
        match &expr {
            Expr::Log(log) => {
                let max_entries = limits.max_entries_limit_per_query;
                if r.limit > max_entries {
                    return Err(Invalid::TooManyEntries { limit: r.limit, max: max_entries }.into());
                }
                let q = logs::LogQuery {
                    tenant: &tenant,
                    expr: log,
                    range: TimeRange { start: r.start, end: r.end.max(r.start) },
                    limit: r.limit,
                    direction: r.direction,
                    categorize,
                    interval: r.interval,
                    deadline,
                };
                let (streams, stats) = logs::run(&st2.engine, &q)?;
                Ok((QueryResult::Streams(streams), stats))
            }
            Expr::Metric(m) => {
                // Loki's query frontend aligns start down and end up to the step.
                let q = metric::MetricQuery { expr: m, steps: Steps::aligned(r.start, r.end, r.step) };
                Ok(query::run_metric(&st2.engine, &tenant, deadline, &q, limits.max_query_series)?)
            }
        }
    })
    .await??;
    guard.disarm();
    release_after(&stats);
    Ok(json_response(query_response(&res, &stats, categorize)))
}

pub async fn query_instant(State(st): State<Arc<AppState>>, req: Request) -> Result<Response, ApiError> {
    let (headers, p) = read_params(req).await?;
    let tenant = tenant_of(&st, &headers)?;
    let expr = parse_query(&p)?;
    let t = match p.get("time") {
        Some(s) => params::parse_timestamp(s).map_err(|reason| Invalid::Timestamp { name: "time", reason })?,
        None => now_ns(),
    };
    params::limit(&p)?;
    params::direction(&p)?;
    let Expr::Metric(m) = expr else {
        return Err(Invalid::LogQueryAsInstant.into());
    };
    let guard = CancelOnDrop::new();
    let deadline = deadline(&st, &tenant, &guard);
    let st2 = Arc::clone(&st);
    let (res, stats) = tokio::task::spawn_blocking(move || -> Result<(QueryResult, Stats), ApiError> {
        let q = metric::MetricQuery { expr: &m, steps: Steps::instant(t) };
        let max_series = st2.config.limits_for(&tenant).max_query_series;
        Ok(query::run_metric(&st2.engine, &tenant, deadline, &q, max_series)?)
    })
    .await??;
    guard.disarm();
    release_after(&stats);
    Ok(json_response(query_response(&res, &stats, false)))
}

/// After a query that decompressed more than a few MiB, hands the freed memory back to the
/// system in the background (the merge loop also does every few seconds): a burst of
/// queries leaves no heap behind it (RSS after the benchmark's queries: 84 → 72 MiB at
/// 4 MiB instead of 16 MiB; docs/benchmarks.md).
fn release_after(stats: &Stats) {
    if stats.decompressed_bytes > 4 << 20 {
        tokio::task::spawn_blocking(crate::telemetry::release_free_memory);
    }
}

/// The query timeout plus a cancel flag tied to `guard` (set if the client disconnects).
pub(super) fn deadline(st: &AppState, tenant: &str, guard: &CancelOnDrop) -> Deadline {
    let t = st.config.limits_for(tenant).query_timeout;
    Deadline {
        at: if t.is_zero() { None } else { Some(Instant::now() + t) },
        cancelled: Some(Arc::clone(&guard.0)),
        budget: Some(crate::query::Budget::new(st.config.query_memory_bytes as usize)),
    }
}
