//! `GET /loki/api/v1/tail` (websocket): recent history, then live entries as pushed.
//!
//! Subscribes before reading history so no entry falls between the two; pings every
//! second; a full subscriber queue turns into `dropped_entries`, never a slow push.

use std::collections::HashSet;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::response::Response;

use super::error::ApiError;
use super::invalid::Invalid;
use super::params::{self, Params};
use super::wire::response::{json_str, labels_obj};
use super::{tenant_of, AppState};
use crate::clock::now_ns;
use crate::index::compile_all;
use crate::logql::{self, Expr, LogExpr};
use crate::model::{Direction, Labels, Nanos, TimeRange};
use crate::query::logs;
use crate::query::pipeline::LogPipeline;
use crate::query::Deadline;
use crate::tail::Subscription;

/// Loki's `tail_max_duration`.
const TAIL_MAX: Duration = Duration::from_secs(3600);
/// Most entries per frame, as Loki.
const FRAME_ENTRIES: usize = 100;

pub async fn tail(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(raw): Query<Vec<(String, String)>>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let tenant = tenant_of(&st, &headers)?;
    let p = Params(raw);
    let expr = match logql::parse_expr(p.get("query").unwrap_or(""))? {
        Expr::Log(l) => l,
        Expr::Metric(_) => return Err(Invalid::TailNeedsLogQuery.into()),
    };
    let limit = params::limit(&p)?;
    let delay_for: i64 = match p.get("delay_for") {
        None => 0,
        Some(s) => s.parse().map_err(|_| Invalid::DelayFor(s.to_string()))?,
    };
    if delay_for > 5 {
        return Err(Invalid::DelayTooLong.into());
    }
    let now = now_ns();
    let start = match p.get("start") {
        Some(s) => params::parse_timestamp(s).map_err(|reason| Invalid::Timestamp { name: "start", reason })?,
        None => now - 3600 * 1_000_000_000,
    };
    // Validate the pipeline before upgrading: errors must be plain HTTP 400s.
    LogPipeline::compile(&expr.stages)?;
    let matchers = compile_all(&expr.matchers).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    // Parameters are checked first (plain 400s, as Loki); only then must it be an upgrade.
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => return Ok(rejection.into_response()),
    };
    let active = st.metrics.tails_active.load(Ordering::Relaxed) as usize;
    let max = st.config.limits_for(&tenant).max_concurrent_tail_requests;
    let sub = st.hub.subscribe(&tenant, matchers);
    Ok(ws.on_upgrade(move |socket| async move {
        if max > 0 && active >= max {
            let mut socket = socket;
            let _ = socket
                .send(Message::Close(Some(CloseFrame {
                    code: 1011,
                    reason: format!(
                        "max concurrent tail requests limit exceeded, count > limit ({} > {max})",
                        active + 1
                    )
                    .into(),
                })))
                .await;
            return;
        }
        st.metrics.tails_active.fetch_add(1, Ordering::Relaxed);
        run(st.clone(), socket, sub, tenant, expr, start, limit, delay_for * 1_000_000_000).await;
        st.metrics.tails_active.fetch_sub(1, Ordering::Relaxed);
    }))
}

#[allow(clippy::too_many_arguments)]
async fn run(
    st: Arc<AppState>,
    mut socket: WebSocket,
    mut sub: Subscription,
    tenant: String,
    expr: LogExpr,
    start: Nanos,
    limit: usize,
    delay: i64,
) {
    let Ok(pipeline) = LogPipeline::compile(&expr.stages) else { return };
    // History: the newest `limit` entries since `start`, sent oldest first.
    let now = now_ns();
    let st2 = Arc::clone(&st);
    let expr2 = expr.clone();
    let tenant2 = tenant.clone();
    let history = tokio::task::spawn_blocking(move || {
        let q = logs::LogQuery {
            tenant: &tenant2,
            expr: &expr2,
            range: TimeRange { start, end: now + 1 },
            limit,
            direction: Direction::Backward,
            categorize: false,
            interval: 0,
            deadline: Deadline::none(),
        };
        logs::run(&st2.engine, &q).map(|(s, _)| s)
    })
    .await;
    let mut seen: HashSet<(String, Nanos, String)> = HashSet::new();
    if let Ok(Ok(streams)) = history {
        let mut entries: Vec<(Labels, Nanos, String)> = Vec::new();
        for s in streams {
            for e in s.entries {
                seen.insert((s.labels.to_string(), e.ts, e.line.clone()));
                entries.push((s.labels.clone(), e.ts, e.line));
            }
        }
        entries.sort_by_key(|e| e.1);
        for chunk in entries.chunks(FRAME_ENTRIES) {
            if socket.send(Message::Text(frame(chunk, &[]).into())).await.is_err() {
                return;
            }
        }
    }

    let mut ping = tokio::time::interval(Duration::from_secs(1));
    let deadline = tokio::time::sleep(TAIL_MAX);
    tokio::pin!(deadline);
    let mut delayed: Vec<(Labels, Nanos, String)> = Vec::new();
    loop {
        tokio::select! {
            ev = sub.rx.recv() => {
                let Some(ev) = ev else { break };
                let mut out = Vec::new();
                for e in ev.entries.iter() {
                    // The whole pipeline, through the code `query_range` uses: parsers,
                    // label filters and formats apply to live entries as to history.
                    let Some((labels, line)) =
                        logs::live_entry(&pipeline, &ev.stream.labels, e.ts, e.line.as_bytes(), &e.metadata)
                    else {
                        continue;
                    };
                    if !seen.is_empty() && seen.remove(&(labels.to_string(), e.ts, line.clone())) {
                        continue;
                    }
                    out.push((labels, e.ts, line));
                }
                if delay > 0 {
                    delayed.extend(out);
                    continue;
                }
                if !send_entries(&mut socket, &sub, &out).await { break; }
            }
            _ = ping.tick() => {
                if delay > 0 && !delayed.is_empty() {
                    let cutoff = now_ns() - delay;
                    let (ready, later): (Vec<_>, Vec<_>) = delayed.drain(..).partition(|e| e.1 <= cutoff);
                    delayed = later;
                    if !send_entries(&mut socket, &sub, &ready).await { break; }
                }
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() { break; }
            }
            msg = socket.recv() => {
                match msg {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    _ => {}
                }
            }
            _ = &mut deadline => {
                let _ = socket.send(Message::Close(Some(CloseFrame { code: 1011, reason: "reached tail max duration limit".into() }))).await;
                return;
            }
        }
    }
    let _ = socket.send(Message::Close(Some(CloseFrame { code: 1000, reason: "".into() }))).await;
}

async fn send_entries(socket: &mut WebSocket, sub: &Subscription, entries: &[(Labels, Nanos, String)]) -> bool {
    let dropped: Vec<(Labels, Nanos)> = {
        let mut d = sub.dropped.lock();
        d.drain(..).map(|x| (x.stream.labels.clone(), x.ts)).collect()
    };
    if entries.is_empty() && dropped.is_empty() {
        return true;
    }
    let mut chunks: Vec<&[(Labels, Nanos, String)]> = entries.chunks(FRAME_ENTRIES).collect();
    if chunks.is_empty() {
        chunks.push(&[]);
    }
    for (i, chunk) in chunks.iter().enumerate() {
        let d: &[(Labels, Nanos)] = if i == 0 { &dropped } else { &[] };
        if socket.send(Message::Text(frame(chunk, d).into())).await.is_err() {
            return false;
        }
    }
    true
}

/// `{"streams":[{"stream":{…},"values":[["ns","line"]]},…],"dropped_entries":[…]}`: one
/// entry per stream object, as Loki's tailer sends them.
fn frame(entries: &[(Labels, Nanos, String)], dropped: &[(Labels, Nanos)]) -> String {
    let mut out = String::from("{\"streams\":[");
    for (i, (labels, ts, line)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"stream\":");
        labels_obj(&mut out, labels);
        let _ = write!(out, ",\"values\":[[\"{ts}\",");
        json_str(&mut out, line);
        out.push_str("]]}");
    }
    out.push(']');
    if !dropped.is_empty() {
        out.push_str(",\"dropped_entries\":[");
        for (i, (labels, ts)) in dropped.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"labels\":");
            labels_obj(&mut out, labels);
            let _ = write!(out, ",\"timestamp\":\"{ts}\"}}");
        }
        out.push(']');
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_shape() {
        let l = Labels::from_pairs(vec![("app".into(), "a".into())]);
        assert_eq!(
            frame(&[(l.clone(), 5, "x".into())], &[(l, 6)]),
            r#"{"streams":[{"stream":{"app":"a"},"values":[["5","x"]]}],"dropped_entries":[{"labels":{"app":"a"},"timestamp":"6"}]}"#
        );
    }
}
