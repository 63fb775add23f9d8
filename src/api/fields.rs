//! `GET /loki/api/v1/detected_fields` and `/loki/api/v1/detected_field/{name}/values`:
//! Loki's parameters (`query`, `line_limit`, `limit`, `step`) and answers.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::response::Response;
use serde_json::Value;

use super::error::ApiError;
use super::invalid::Invalid;
use super::params;
use super::AppState;
use crate::logql::{self, Expr};
use crate::model::{Direction, TimeRange};
use crate::query::drilldown::fields;
use crate::query::{logs, CancelOnDrop, StreamResult};

pub async fn detected_fields(State(st): State<Arc<AppState>>, req: Request) -> Result<Response, ApiError> {
    let (streams, limit) = select(&st, req).await?;
    let found = fields::detect(&streams, limit);
    if found.is_empty() {
        return Ok(super::grafana::json_body("{}\n".into()));
    }
    let items: Vec<String> = found
        .iter()
        .map(|f| {
            let parsers = if f.parsers.is_empty() { Value::Null } else { Value::from(f.parsers.clone()) };
            let mut s = format!(
                r#"{{"label":{},"type":"{}","cardinality":{},"parsers":{}"#,
                Value::from(f.name.as_str()),
                f.kind,
                f.values.len(),
                parsers
            );
            if !f.json_path.is_empty() {
                s.push_str(&format!(r#","jsonPath":{}"#, Value::from(f.json_path.clone())));
            }
            s.push('}');
            s
        })
        .collect();
    Ok(super::grafana::json_body(format!(r#"{{"fields":[{}],"limit":{limit}}}"#, items.join(",")) + "\n"))
}

pub async fn detected_field_values(
    State(st): State<Arc<AppState>>,
    Path(name): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let (streams, limit) = select(&st, req).await?;
    let vals = fields::values(&streams, &name, limit);
    if vals.is_empty() {
        return Ok(super::grafana::json_body("{}\n".into()));
    }
    Ok(super::grafana::json_body(
        format!(r#"{{"limit":{limit},"values":{}}}"#, Value::from(vals.into_iter().collect::<Vec<_>>())) + "\n",
    ))
}

/// Loki's `ParseDetectedFieldsQuery` checks, then the log query Loki sends downstream
/// (backward, `line_limit` lines, categorized labels). Returns the streams and `limit`.
async fn select(st: &Arc<AppState>, req: Request) -> Result<(Vec<StreamResult>, usize), ApiError> {
    let (tenant, start, end, p) = super::meta::meta_request(st, req).await?;
    if end < start {
        return Err(Invalid::EndBeforeStart.into());
    }
    let line_limit = params::positive(&p, "line_limit", 100)?;
    let limit = match p.get("limit") {
        Some(_) => params::positive(&p, "limit", 1000)?,
        None => params::positive(&p, "field_limit", 1000)?,
    };
    let step = params::step(&p, start, end)?;
    // Loki's detected_fields checks the step in milliseconds: under 1 ms is zero.
    params::check_step(if step < 1_000_000 { 0 } else { step }, start, end)?;
    let expr = match logql::parse_expr(p.get("query").unwrap_or(""))? {
        Expr::Log(l) => l,
        Expr::Metric(_) => return Err(Invalid::NotALogSelector.into()),
    };
    let max_entries = st.config.limits_for(&tenant).max_entries_limit_per_query;
    if max_entries > 0 && line_limit > max_entries {
        return Err(Invalid::TooManyEntries { limit: line_limit, max: max_entries }.into());
    }
    let guard = CancelOnDrop::new();
    let deadline = super::query::deadline(st, &tenant, &guard);
    let st2 = Arc::clone(st);
    let streams = tokio::task::spawn_blocking(move || {
        let q = logs::LogQuery {
            tenant: &tenant,
            expr: &expr,
            range: TimeRange { start, end: end.max(start) },
            limit: line_limit,
            direction: Direction::Backward,
            categorize: true,
            interval: 0,
            deadline,
        };
        logs::run(&st2.engine, &q).map(|(s, _)| s)
    })
    .await??;
    guard.disarm();
    Ok((streams, limit))
}
