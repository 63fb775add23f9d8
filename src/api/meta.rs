//! `/loki/api/v1/labels`, `/loki/api/v1/label/{name}/values`, `/loki/api/v1/series`.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::params::{self, Params};
use super::wire::response::{json_str, labels_obj, string_list};
use super::{json_response, read_params, tenant_of, AppState};
use crate::clock::now_ns;
use crate::logql::{self, Matcher};
use crate::query::meta;

/// The optional `query=` selector of labels / label values (must have a non-empty matcher).
fn selector(p: &Params) -> Result<Option<Vec<Matcher>>, ApiError> {
    match p.get("query") {
        None => Ok(None),
        Some(q) => Ok(Some(logql::parse_selector(q, true)?)),
    }
}

/// What every metadata request starts with: tenant, `[start, end]` with Loki's defaults
/// and `max_query_lookback`, and the parameters.
pub(super) async fn meta_request(st: &AppState, req: Request) -> Result<(String, i64, i64, Params), ApiError> {
    let (headers, p) = read_params(req).await?;
    let tenant = tenant_of(st, &headers)?;
    let now = now_ns();
    let (start, end) = params::bounds(&p, now)?;
    let start = params::clamp_lookback(st.config.limits_for(&tenant), start, now);
    Ok((tenant, start, end, p))
}

pub async fn labels(State(st): State<Arc<AppState>>, req: Request) -> Result<Response, ApiError> {
    let (tenant, start, end, p) = meta_request(&st, req).await?;
    let sel = selector(&p)?;
    let st2 = Arc::clone(&st);
    let names =
        tokio::task::spawn_blocking(move || meta::label_names(&st2.engine, &tenant, sel.as_deref(), start, end))
            .await??;
    Ok(json_response(string_list(names)))
}

pub async fn label_values(
    State(st): State<Arc<AppState>>,
    Path(name): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let (tenant, start, end, p) = meta_request(&st, req).await?;
    let sel = selector(&p)?;
    let st2 = Arc::clone(&st);
    let values = tokio::task::spawn_blocking(move || {
        meta::label_values(&st2.engine, &tenant, &name, sel.as_deref(), start, end)
    })
    .await??;
    Ok(json_response(string_list(values)))
}

pub async fn series(State(st): State<Arc<AppState>>, req: Request) -> Result<Response, ApiError> {
    let (tenant, start, end, p) = meta_request(&st, req).await?;
    let mut selectors = Vec::new();
    for m in p.all("match[]").chain(p.all("match")) {
        let sel = logql::parse_selector(m, false)?;
        if sel.is_empty() && m.trim() != "{}" {
            return Err(super::invalid::Invalid::EmptyMatcherGroup(m.to_string()).into());
        }
        selectors.push(sel);
    }
    // No `match[]`, or only `{}`: every series.
    if selectors.iter().any(|s| s.is_empty()) {
        selectors.clear();
    }
    let st2 = Arc::clone(&st);
    let streams =
        tokio::task::spawn_blocking(move || meta::series(&st2.engine, &tenant, &selectors, start, end)).await??;
    let mut out = String::from("{\"status\":\"success\",\"data\":[");
    for (i, m) in streams.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        labels_obj(&mut out, &m.labels);
    }
    out.push_str("]}");
    Ok(json_response(out))
}

/// `GET /loki/api/v1/index/stats`: `{"streams":…,"chunks":…,"bytes":…,"entries":…}`.
pub async fn index_stats(State(st): State<Arc<AppState>>, req: Request) -> Result<Response, ApiError> {
    let (tenant, start, end, p) = meta_request(&st, req).await?;
    let sel = logql::parse_selector(p.get("query").unwrap_or(""), true)?;
    let st2 = Arc::clone(&st);
    let s = tokio::task::spawn_blocking(move || meta::index_stats(&st2.engine, &tenant, &sel, start, end)).await??;
    Ok(json_response(format!(
        r#"{{"streams":{},"chunks":{},"bytes":{},"entries":{}}}"#,
        s.streams, s.chunks, s.bytes, s.entries
    )))
}

/// `GET /loki/api/v1/format_query`
pub async fn format_query(req: Request) -> Response {
    let p = match read_params(req).await {
        Ok((_, p)) => p,
        Err(e) => return axum::response::IntoResponse::into_response(e),
    };
    match logql::parse_expr(p.get("query").unwrap_or("")) {
        Ok(expr) => {
            let mut out = String::from("{\"status\":\"success\",\"data\":");
            json_str(&mut out, &expr.to_string());
            out.push('}');
            json_response(out)
        }
        Err(e) => ApiError::InvalidQuery(e.to_string()).into_response(),
    }
}
