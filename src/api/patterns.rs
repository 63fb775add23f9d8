//! `GET /loki/api/v1/patterns`: Loki's parameters (`query`, `start`, `end`, `step`) and
//! answer, the patterns mined at query time over the newest selected lines
//! ([`crate::query::drilldown::patterns`]).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;

use super::error::ApiError;
use super::params;
use super::wire::response::json_str;
use super::AppState;
use crate::logql::{self, Expr};
use crate::model::{Direction, TimeRange};
use crate::query::drilldown::patterns;
use crate::query::{logs, CancelOnDrop};

pub async fn patterns(State(st): State<Arc<AppState>>, req: Request) -> Result<Response, ApiError> {
    let (tenant, start, end, p) = super::meta::meta_request(&st, req).await?;
    let step = params::step(&p, start, end)?;
    params::check_step(step, start, end)?;
    let expr = match logql::parse_expr(p.get("query").unwrap_or(""))? {
        Expr::Log(l) => l,
        Expr::Metric(_) => return Err(super::invalid::Invalid::NotALogSelector.into()),
    };
    let guard = CancelOnDrop::new();
    let deadline = super::query::deadline(&st, &tenant, &guard);
    let st2 = Arc::clone(&st);
    let found = tokio::task::spawn_blocking(move || {
        let q = logs::LogQuery {
            tenant: &tenant,
            expr: &expr,
            range: TimeRange { start, end: end.max(start) },
            limit: patterns::MAX_LINES,
            direction: Direction::Backward,
            categorize: true,
            interval: 0,
            deadline,
        };
        logs::run(&st2.engine, &q).map(|(s, _)| patterns::mine(&s, step))
    })
    .await??;
    guard.disarm();
    let mut out = String::from(r#"{"status":"success","data":["#);
    for (i, p) in found.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"pattern":"#);
        json_str(&mut out, &p.pattern);
        out.push_str(r#","level":"#);
        json_str(&mut out, &p.level);
        out.push_str(r#","samples":["#);
        let samples: Vec<String> = p.samples.iter().map(|(t, v)| format!("[{t},{v}]")).collect();
        out.push_str(&samples.join(","));
        out.push_str("]}");
    }
    out.push_str("]}\n");
    Ok(super::grafana::json_body(out))
}
