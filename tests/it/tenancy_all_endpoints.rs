//! Multi-tenancy across every endpoint, with `auth_enabled: true`.
//!
//! Two tenants push streams with the same label sets (`{app="shared", env="prod"}`,
//! `{app="shared", env="dev"}`) plus one stream, label and structured-metadata value of
//! their own. Every string a tenant pushes carries its marker (`tenant-a…` / `tenant-b…`).
//!
//! Proves, for query_range (log and metric), query (metric), labels, label values,
//! series, index/stats, Logs Drilldown's endpoints (detected_labels, index/volume and
//! volume_range, detected_fields and field values, patterns), tail (history and live) and
//! the delete API (create, list, cancel, and the compactor applying a delete):
//! - no answer to one tenant contains anything of the other (no marker in the raw body);
//! - answers are exactly the tenant's own data (counts, lines, label values, stats);
//! - a delete request of tenant B removes B's data only, however A's labels look alike;
//! - without `X-Scope-OrgID` every endpoint answers 401 `no org id`; several org ids at once
//!   are refused (400), never unioned.

use std::time::Duration;

use crate::harness::*;
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// 2026-02-02T12:00:00Z.
const T0: i64 = 1_770_033_600_000_000_000;
const T0_SECS: &str = "1770033600";
const HOUR: i64 = 3_600_000_000_000;
const TENANTS: [&str; 2] = ["tenant-a", "tenant-b"];
const N: i64 = 30;

fn other(t: &str) -> &'static str {
    if t == TENANTS[0] {
        TENANTS[1]
    } else {
        TENANTS[0]
    }
}

/// Label name only this tenant uses: `only_tenant_a`.
fn own_label(t: &str) -> String {
    format!("only_{}", t.replace('-', "_"))
}

/// The lines a tenant pushed to a stream (`env`), as pushed.
fn tenant_lines(t: &str, env: &str) -> Vec<String> {
    (0..N).map(|i| format!("{t}-line {env} {i}")).collect()
}

fn push_body(t: &str) -> Value {
    let mut streams = Vec::new();
    for (k, env) in ["prod", "dev"].iter().enumerate() {
        let values: Vec<Value> = tenant_lines(t, env)
            .into_iter()
            .enumerate()
            .map(|(i, l)| json!([(T0 + (k as i64) * 1000 + i as i64 * 1_000_000).to_string(), l, {"trace_id": format!("{t}-trace-{i}")}]))
            .collect();
        streams.push(json!({"stream": {"app": "shared", "env": env}, "values": values}));
    }
    let own = own_label(t);
    streams.push(json!({"stream": {"app": "shared", "env": "own", own: format!("{t}-value")},
                        "values": [[(T0 + 5).to_string(), format!("{t}-line own")]]}));
    json!({"streams": streams})
}

async fn push_as(base: &str, tenant: Option<&str>, body: &Value) -> (u16, String) {
    let mut r = client()
        .post(format!("{base}/loki/api/v1/push"))
        .header("Content-Type", "application/json")
        .body(body.to_string());
    if let Some(t) = tenant {
        r = r.header("X-Scope-OrgID", t);
    }
    let resp = r.send().await.unwrap();
    let s = resp.status().as_u16();
    (s, resp.text().await.unwrap())
}

async fn request(
    base: &str,
    method: reqwest::Method,
    path: &str,
    tenant: Option<&str>,
    params: &[(&str, &str)],
) -> (u16, String) {
    let mut r = client().request(method, format!("{base}{path}")).query(params);
    if let Some(t) = tenant {
        r = r.header("X-Scope-OrgID", t);
    }
    let resp = r.send().await.unwrap();
    let s = resp.status().as_u16();
    (s, resp.text().await.unwrap())
}

async fn get_as(base: &str, path: &str, tenant: Option<&str>, params: &[(&str, &str)]) -> (u16, String) {
    request(base, reqwest::Method::GET, path, tenant, params).await
}

/// Fails if `body`, an answer to `viewer`, holds anything of the other tenant.
fn assert_no_leak(viewer: &str, what: &str, body: &str) {
    let o = other(viewer);
    assert!(!body.contains(o), "{what} as {viewer} leaks {o}'s data: {body:.400}");
    assert!(!body.contains(&own_label(o)), "{what} as {viewer} leaks {o}'s label: {body:.400}");
}

/// The line strings of a streams/log answer.
fn result_lines(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = lines(v).into_iter().map(|(_, l)| l).collect();
    out.sort();
    out
}

fn expected_lines(t: &str) -> Vec<String> {
    let mut all = tenant_lines(t, "prod");
    all.extend(tenant_lines(t, "dev"));
    all.push(format!("{t}-line own"));
    all.sort();
    all
}

/// `env` → count from a vector or matrix answer (last point of a matrix).
fn counts_by_env(v: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let val = if r["value"].is_array() { &r["value"] } else { r["values"].as_array().unwrap().last().unwrap() };
            (r["metric"]["env"].as_str().unwrap().to_string(), val[1].as_str().unwrap().to_string())
        })
        .collect();
    out.sort();
    out
}

fn ws_request(
    base: &str,
    query: &str,
    tenant: Option<&str>,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let url = format!(
        "ws://{}/loki/api/v1/tail?query={}&start={T0}&limit=1000",
        base.trim_start_matches("http://"),
        form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>()
    );
    let mut req = url.into_client_request().unwrap();
    if let Some(t) = tenant {
        req.headers_mut().insert("X-Scope-OrgID", t.parse().unwrap());
    }
    req
}

/// Text frames of a tail until `want` lines arrived (or 10 s passed); returns all lines.
async fn tail_lines<S>(ws: &mut S, viewer: &str, want: usize) -> Vec<String>
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while got.len() < want {
        let msg = match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(m))) => m,
            Ok(other) => panic!("tail as {viewer} ended: {other:?}"),
            Err(_) => break,
        };
        if let Message::Text(t) = msg {
            assert_no_leak(viewer, "tail frame", &t);
            let v: Value = serde_json::from_str(&t).unwrap();
            for s in v["streams"].as_array().unwrap() {
                for e in s["values"].as_array().unwrap() {
                    got.push(e[1].as_str().unwrap().to_string());
                }
            }
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_endpoint_returns_another_tenants_data() {
    tokio::time::timeout(Duration::from_secs(120), scenario()).await.expect("tenancy test within 120 s");
}

async fn scenario() {
    let srv = TestServer::start_with(|c| {
        c.auth_enabled = true;
        // The delete API needs retention enabled; the compactor runs only when asked here.
        c.compactor.retention_enabled = true;
        c.compactor.compaction_interval = Duration::from_secs(3600);
        c.compactor.delete_request_cancel_period = Duration::ZERO;
    })
    .await;
    let base = srv.base.clone();
    for t in TENANTS {
        let (s, text) = push_as(&base, Some(t), &push_body(t)).await;
        assert_eq!(s, 204, "push as {t}: {text}");
    }
    let start = T0.to_string();
    let end = (T0 + HOUR).to_string();
    let (start, end) = (start.as_str(), end.as_str());
    let shared = r#"{app="shared"}"#;

    for t in TENANTS {
        // query_range, log.
        let (s, body) = get_as(
            &base,
            "/loki/api/v1/query_range",
            Some(t),
            &[("query", shared), ("start", start), ("end", end), ("limit", "1000")],
        )
        .await;
        assert_eq!(s, 200, "{body}");
        assert_no_leak(t, "query_range log", &body);
        assert_eq!(result_lines(&serde_json::from_str(&body).unwrap()), expected_lines(t), "query_range log as {t}");

        // query_range with a pipeline over structured metadata and a parser-free filter.
        let q = r#"{app="shared", env="prod"} | trace_id=~".+" |= "line""#;
        let (s, body) = get_as(
            &base,
            "/loki/api/v1/query_range",
            Some(t),
            &[("query", q), ("start", start), ("end", end), ("limit", "1000")],
        )
        .await;
        assert_eq!(s, 200, "{body}");
        assert_no_leak(t, "query_range pipeline", &body);
        assert_eq!(result_lines(&serde_json::from_str(&body).unwrap()).len(), N as usize);

        // query_range, metric.
        let q = r#"sum by (env) (count_over_time({app="shared"}[2h]))"#;
        let (s, body) = get_as(
            &base,
            "/loki/api/v1/query_range",
            Some(t),
            &[("query", q), ("start", start), ("end", end), ("step", "60s")],
        )
        .await;
        assert_eq!(s, 200, "{body}");
        assert_no_leak(t, "query_range metric", &body);
        let want = vec![
            ("dev".to_string(), N.to_string()),
            ("own".to_string(), "1".to_string()),
            ("prod".to_string(), N.to_string()),
        ];
        assert_eq!(counts_by_env(&serde_json::from_str(&body).unwrap()), want, "query_range metric as {t}");

        // query (instant), metric and log.
        let (s, body) = get_as(&base, "/loki/api/v1/query", Some(t), &[("query", q), ("time", end)]).await;
        assert_eq!(s, 200, "{body}");
        assert_no_leak(t, "query metric", &body);
        assert_eq!(counts_by_env(&serde_json::from_str(&body).unwrap()), want, "query metric as {t}");
        // A log query as an instant query is refused, as Loki 3 does.
        let (s, body) =
            get_as(&base, "/loki/api/v1/query", Some(t), &[("query", shared), ("time", end), ("limit", "1000")]).await;
        assert_eq!(s, 400, "{body}");
        assert_no_leak(t, "query log", &body);

        // labels, label values, series, index/stats.
        let (s, body) = get_as(&base, "/loki/api/v1/labels", Some(t), &[("start", start), ("end", end)]).await;
        assert_eq!(s, 200, "{body}");
        assert_no_leak(t, "labels", &body);
        assert!(body.contains(&own_label(t)), "labels as {t} miss its own label: {body}");
        for name in ["app", "env", "trace_id", own_label(t).as_str(), own_label(other(t)).as_str()] {
            let (s, body) =
                get_as(&base, &format!("/loki/api/v1/label/{name}/values"), Some(t), &[("start", start), ("end", end)])
                    .await;
            assert_eq!(s, 200, "{body}");
            assert_no_leak(t, &format!("label {name} values"), &body);
        }
        let (_, body) = get_as(
            &base,
            &format!("/loki/api/v1/label/{}/values", own_label(other(t))),
            Some(t),
            &[("start", start), ("end", end)],
        )
        .await;
        let v: Value = serde_json::from_str(&body).unwrap();
        assert!(v["data"].as_array().is_none_or(|a| a.is_empty()), "label values of the other tenant's label: {body}");
        let (s, body) =
            get_as(&base, "/loki/api/v1/series", Some(t), &[("match[]", shared), ("start", start), ("end", end)]).await;
        assert_eq!(s, 200, "{body}");
        assert_no_leak(t, "series", &body);
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["data"].as_array().unwrap().len(),
            3,
            "series as {t}: {body}"
        );
        let (s, body) =
            get_as(&base, "/loki/api/v1/index/stats", Some(t), &[("query", shared), ("start", start), ("end", end)])
                .await;
        assert_eq!(s, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (v["streams"].as_u64(), v["entries"].as_u64()),
            (Some(3), Some(2 * N as u64 + 1)),
            "index/stats as {t}: {body}"
        );
        let (s, body) =
            get_as(&base, "/loki/api/v1/detected_labels", Some(t), &[("query", ""), ("start", start), ("end", end)])
                .await;
        assert_eq!(s, 200, "{body}");
        assert_no_leak(t, "detected_labels", &body);
        assert!(body.contains(&format!("\"{}\"", own_label(t))), "detected_labels as {t} miss its own label: {body}");
        let range = [("query", shared), ("start", start), ("end", end)];
        for path in ["/loki/api/v1/index/volume", "/loki/api/v1/index/volume_range"] {
            let (s, body) =
                get_as(&base, path, Some(t), &[range[0], range[1], range[2], ("targetLabels", "env")]).await;
            assert_eq!(s, 200, "{path}: {body}");
            assert_no_leak(t, path, &body);
            let v: Value = serde_json::from_str(&body).unwrap();
            let rows = v["data"]["result"].as_array().unwrap();
            assert_eq!(rows.len(), 3, "{path} as {t}: prod, dev and its own stream: {body}");
            let prod = rows.iter().find(|r| r["metric"] == json!({"env": "prod"})).expect("prod row");
            let bytes: f64 = match prod.get("value") {
                Some(p) => p[1].as_str().unwrap().parse().unwrap(),
                None => prod["values"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p[1].as_str().unwrap().parse::<f64>().unwrap())
                    .sum(),
            };
            assert_eq!(
                bytes,
                tenant_lines(t, "prod").iter().map(String::len).sum::<usize>() as f64,
                "{path} as {t}: {body}"
            );
        }
        let (s, body) = get_as(&base, "/loki/api/v1/detected_fields", Some(t), &range).await;
        assert_eq!(s, 200, "{body}");
        assert_no_leak(t, "detected_fields", &body);
        let v: Value = serde_json::from_str(&body).unwrap();
        let trace = v["fields"].as_array().unwrap().iter().find(|f| f["label"] == "trace_id").cloned();
        assert_eq!(trace.map(|f| f["cardinality"].clone()), Some(json!(N)), "detected_fields as {t}: {body}");
        let (s, body) = get_as(&base, "/loki/api/v1/detected_field/trace_id/values", Some(t), &range).await;
        assert_eq!(s, 200, "{body}");
        assert_no_leak(t, "detected_field values", &body);
        assert!(body.contains(&format!("{t}-trace-0")), "field values as {t} miss its own values: {body:.300}");
        let (s, body) = get_as(&base, "/loki/api/v1/patterns", Some(t), &range).await;
        assert_eq!(s, 200, "{body}");
        assert_no_leak(t, "patterns", &body);
        assert!(body.contains(&format!("{t}-line")), "patterns as {t} miss its own lines: {body:.300}");
    }

    // Tail: history and live entries, for both tenants at once.
    let mut tails = Vec::new();
    for t in TENANTS {
        let (ws, _) =
            tokio_tungstenite::connect_async(ws_request(&base, shared, Some(t))).await.expect("tail handshake");
        tails.push((t, ws));
    }
    for (t, ws) in tails.iter_mut() {
        let mut got = tail_lines(ws, t, expected_lines(t).len()).await;
        got.sort();
        assert_eq!(got, expected_lines(t), "tail history as {t}");
    }
    let now = lokid::clock::now_ns();
    for t in TENANTS {
        let body = json!({"streams": [{"stream": {"app": "shared", "env": "prod"}, "values": [[now.to_string(), format!("{t}-live")]]}]});
        assert_eq!(push_as(&base, Some(t), &body).await.0, 204);
    }
    for (t, ws) in tails.iter_mut() {
        assert_eq!(tail_lines(ws, t, 1).await, vec![format!("{t}-live")], "live tail as {t}");
        ws.close(None).await.unwrap();
    }

    // Delete API: tenant B deletes its prod stream; A's identical-looking stream stays.
    let (a, b) = (TENANTS[0], TENANTS[1]);
    let del_q = r#"{app="shared", env="prod"}"#;
    let end_secs = (now / 1_000_000_000 - 1).to_string();
    let (s, text) = request(
        &base,
        reqwest::Method::POST,
        "/loki/api/v1/delete",
        Some(b),
        &[("query", del_q), ("start", T0_SECS), ("end", &end_secs)],
    )
    .await;
    assert_eq!(s, 204, "delete request as {b}: {text}");
    let (s, body) = get_as(&base, "/loki/api/v1/delete", Some(a), &[]).await;
    assert_eq!((s, body.as_str()), (200, "[]"), "{a} lists {b}'s delete requests");
    let (s, body) = get_as(&base, "/loki/api/v1/delete", Some(b), &[]).await;
    assert_eq!(s, 200, "{body}");
    let listed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{b}'s own delete requests: {body}");
    let id = listed[0]["request_id"].as_str().unwrap().to_string();
    let (s, text) = request(
        &base,
        reqwest::Method::DELETE,
        "/loki/api/v1/delete",
        Some(a),
        &[("request_id", &id), ("force", "true")],
    )
    .await;
    assert_eq!(s, 404, "{a} cancels {b}'s delete request: {text}");

    srv.running.as_ref().unwrap().compact_now().await;
    let (_, body) = get_as(
        &base,
        "/loki/api/v1/query_range",
        Some(b),
        &[("query", del_q), ("start", start), ("end", end), ("limit", "1000")],
    )
    .await;
    assert_eq!(
        result_lines(&serde_json::from_str(&body).unwrap()),
        Vec::<String>::new(),
        "{b}'s prod stream after its delete request"
    );
    let (_, body) = get_as(
        &base,
        "/loki/api/v1/query_range",
        Some(a),
        &[("query", del_q), ("start", start), ("end", end), ("limit", "1000")],
    )
    .await;
    let mut want = tenant_lines(a, "prod");
    want.sort();
    assert_eq!(
        result_lines(&serde_json::from_str(&body).unwrap()),
        want,
        "{a}'s prod stream after {b}'s delete request"
    );
    let (_, body) = get_as(
        &base,
        "/loki/api/v1/query_range",
        Some(b),
        &[("query", r#"{app="shared", env="dev"}"#), ("start", start), ("end", end), ("limit", "1000")],
    )
    .await;
    assert_eq!(
        result_lines(&serde_json::from_str(&body).unwrap()).len(),
        N as usize,
        "{b}'s dev stream is outside its delete"
    );

    // Without an org id: 401 everywhere. With several: refused, never a union.
    let endpoints: Vec<(reqwest::Method, &str, Vec<(&str, &str)>)> = vec![
        (reqwest::Method::GET, "/loki/api/v1/query_range", vec![("query", shared)]),
        (reqwest::Method::POST, "/loki/api/v1/query_range", vec![("query", shared)]),
        (reqwest::Method::GET, "/loki/api/v1/query", vec![("query", shared)]),
        (reqwest::Method::GET, "/loki/api/v1/labels", vec![]),
        (reqwest::Method::GET, "/loki/api/v1/label", vec![]),
        (reqwest::Method::GET, "/loki/api/v1/label/app/values", vec![]),
        (reqwest::Method::GET, "/loki/api/v1/series", vec![("match[]", shared)]),
        (reqwest::Method::GET, "/loki/api/v1/index/stats", vec![("query", shared)]),
        (reqwest::Method::GET, "/loki/api/v1/tail", vec![("query", shared)]),
        (reqwest::Method::GET, "/loki/api/v1/drilldown-limits", vec![]),
        (reqwest::Method::GET, "/loki/api/v1/detected_labels", vec![("query", "")]),
        (reqwest::Method::GET, "/loki/api/v1/index/volume", vec![("query", shared)]),
        (reqwest::Method::GET, "/loki/api/v1/index/volume_range", vec![("query", shared)]),
        (reqwest::Method::GET, "/loki/api/v1/detected_fields", vec![("query", shared)]),
        (reqwest::Method::GET, "/loki/api/v1/detected_field/app/values", vec![("query", shared)]),
        (reqwest::Method::GET, "/loki/api/v1/patterns", vec![("query", shared)]),
        (reqwest::Method::GET, "/prometheus/api/v1/rules", vec![]),
        (reqwest::Method::GET, "/prometheus/api/v1/alerts", vec![]),
        (reqwest::Method::GET, "/loki/api/v1/delete", vec![]),
        (reqwest::Method::POST, "/loki/api/v1/delete", vec![("query", shared), ("start", T0_SECS)]),
        (reqwest::Method::DELETE, "/loki/api/v1/delete", vec![("request_id", id.as_str())]),
    ];
    for (m, path, params) in &endpoints {
        let (s, body) = request(&base, m.clone(), path, None, params).await;
        assert_eq!((s, body.as_str()), (401, "no org id"), "{m} {path} without X-Scope-OrgID");
        let (s, body) = request(&base, m.clone(), path, Some("tenant-a|tenant-b"), params).await;
        assert_eq!(s, 400, "{m} {path} with two org ids: {body:.300}");
    }
    assert_eq!(push_as(&base, None, &push_body("tenant-a")).await, (401, "no org id".to_string()));
    let err = tokio_tungstenite::connect_async(ws_request(&base, shared, None)).await.expect_err("tail without org id");
    assert!(err.to_string().contains("401"), "tail handshake without org id: {err}");
    srv.stop().await;
}
