//! Replays what Logs Drilldown sends when a user opens a service, selects a label, opens the
//! fields tab and the patterns tab (`X-Query-Tags: Source=grafana-lokiexplore-app`, RFC3339
//! times, an empty `query=`), and reads every answer the way the app does.

use crate::harness::{client, push_json, TestServer};
use serde_json::{json, Value};

const TAGS: (&str, &str) = ("X-Query-Tags", "Source=grafana-lokiexplore-app");

async fn app_get(base: &str, path: &str, params: &[(&str, &str)]) -> (u16, String) {
    let r = client().get(format!("{base}{path}")).header(TAGS.0, TAGS.1).query(params).send().await.expect("get");
    let s = r.status().as_u16();
    (s, r.text().await.unwrap_or_default())
}

async fn app_json(base: &str, path: &str, params: &[(&str, &str)]) -> Value {
    let (s, body) = app_get(base, path, params).await;
    assert_eq!(s, 200, "{path} {params:?}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

fn rfc3339_ms(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[tokio::test]
async fn drilldown_session_reads_every_answer() {
    let srv = TestServer::start().await;
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    let t0 = now - 20 * 60 * 1_000_000_000;
    // api: 60 JSON lines with a trace_id (structured metadata); web: 30 plain-text lines.
    let mut api = Vec::new();
    let mut api_bytes = 0usize;
    for i in 0..60i64 {
        let line = format!(
            r#"{{"level":"{}","msg":"request done","status":{},"path":"/p/{}","req":{{"method":"GET"}}}}"#,
            if i % 3 == 0 { "error" } else { "info" },
            [200, 404, 500][(i % 3) as usize],
            i % 4
        );
        api_bytes += line.len();
        api.push(json!([(t0 + i * 10_000_000_000).to_string(), line, {"trace_id": format!("t{}", i % 7)}]));
    }
    let web: Vec<Value> = (0..30i64)
        .map(|i| {
            json!([
                (t0 + i * 20_000_000_000).to_string(),
                format!("GET /index.html from 10.0.0.{} took {}ms", i % 5, i)
            ])
        })
        .collect();
    let body = json!({"streams": [
        {"stream": {"service_name": "api", "env": "prod"}, "values": api},
        {"stream": {"service_name": "web", "env": "prod"}, "values": web},
    ]});
    let (s, b) = push_json(&srv.base, &body).await;
    assert_eq!(s, 204, "{b}");
    let (start, end) = (rfc3339_ms(now - 3600 * 1_000_000_000), rfc3339_ms(now + 1_000_000_000));
    let range = [("start", start.as_str()), ("end", end.as_str())];
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&str, &str)> {
        range.iter().copied().chain(extra.iter().copied()).collect()
    };

    // The app starts: limits (404 tolerated, but lokid serves them), then the service list.
    let l = app_json(&srv.base, "/loki/api/v1/drilldown-limits", &[]).await;
    assert_eq!(l["limits"]["volume_enabled"], json!(true));
    assert_eq!(l["pattern_ingester_enabled"], json!(true));
    let v = app_json(
        &srv.base,
        "/loki/api/v1/index/volume",
        &with(&[("query", r#"{service_name=~".+"}"#), ("limit", "5000")]),
    )
    .await;
    assert_eq!(v["data"]["resultType"], "vector");
    let res = v["data"]["result"].as_array().unwrap();
    let by_service: Vec<(&str, f64)> = res
        .iter()
        .map(|r| (r["metric"]["service_name"].as_str().unwrap(), r["value"][1].as_str().unwrap().parse().unwrap()))
        .collect();
    assert_eq!(by_service[0], ("api", api_bytes as f64), "largest first, bytes are the line lengths");
    assert_eq!(by_service[1].0, "web");
    assert!(res.iter().all(|r| r["metric"].as_object().unwrap().len() == 1), "only the selector's labels: {res:?}");
    let labels_agg =
        app_json(&srv.base, "/loki/api/v1/index/volume", &with(&[("query", "{}"), ("aggregateBy", "labels")])).await;
    let names: Vec<&str> = labels_agg["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["metric"].as_object().unwrap().keys().next().unwrap().as_str())
        .collect();
    assert_eq!(names, vec!["env", "service_name"], "equal bytes: by name");
    let d = app_json(&srv.base, "/loki/api/v1/detected_labels", &with(&[("query", "")])).await;
    let dl: Vec<&str> = d["detectedLabels"].as_array().unwrap().iter().map(|l| l["label"].as_str().unwrap()).collect();
    assert!(dl.contains(&"service_name") && dl.contains(&"env"), "{d}");

    // The user opens service `api` and picks label `env`: the label's volume over time.
    let vr = app_json(
        &srv.base,
        "/loki/api/v1/index/volume_range",
        &with(&[("query", r#"{service_name="api", env=~".+"}"#), ("step", "300s"), ("targetLabels", "env")]),
    )
    .await;
    assert_eq!(vr["data"]["resultType"], "matrix");
    let series = vr["data"]["result"].as_array().unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0]["metric"], json!({"env": "prod"}));
    let total: f64 =
        series[0]["values"].as_array().unwrap().iter().map(|p| p[1].as_str().unwrap().parse::<f64>().unwrap()).sum();
    assert_eq!(total, api_bytes as f64, "buckets add up to the whole");

    // Fields tab.
    let f = app_json(&srv.base, "/loki/api/v1/detected_fields", &with(&[("query", r#"{service_name="api"}"#)])).await;
    assert_eq!(f["limit"], 1000);
    let field = |name: &str| {
        f["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["label"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name}: {f}"))
    };
    assert_eq!(field("status")["type"], "int");
    assert_eq!(field("status")["cardinality"], 3);
    assert_eq!(field("status")["parsers"], json!(["json"]));
    assert_eq!(field("req_method")["jsonPath"], json!(["req", "method"]));
    assert_eq!(field("trace_id")["parsers"], Value::Null, "structured metadata");
    assert_eq!(field("trace_id")["cardinality"], 7);
    let ns = [("start", (now - 3600 * 1_000_000_000).to_string()), ("end", (now + 1_000_000_000).to_string())];
    let vals = app_json(
        &srv.base,
        "/loki/api/v1/detected_field/status/values",
        &[("query", r#"{service_name="api"}"#), ("start", &ns[0].1), ("end", &ns[1].1), ("limit", "1000")],
    )
    .await;
    let mut got: Vec<&str> = vals["values"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    got.sort();
    assert_eq!(got, vec!["200", "404", "500"]);
    let limited = app_json(
        &srv.base,
        "/loki/api/v1/detected_fields",
        &with(&[("query", r#"{service_name="api"}"#), ("limit", "2")]),
    )
    .await;
    assert_eq!((limited["fields"].as_array().unwrap().len(), limited["limit"].clone()), (2, json!(2)));
    let piped = app_json(
        &srv.base,
        "/loki/api/v1/detected_fields",
        &with(&[("query", r#"{service_name="api"} | json | status >= 500"#)]),
    )
    .await;
    let st = piped["fields"].as_array().unwrap().iter().find(|x| x["label"] == "status").unwrap().clone();
    assert_eq!(st["cardinality"], 1, "the query's own filter applies: {piped}");

    // Patterns tab.
    let p =
        app_json(&srv.base, "/loki/api/v1/patterns", &with(&[("query", r#"{service_name="web"}"#), ("step", "60s")]))
            .await;
    assert_eq!(p["status"], "success");
    let pats = p["data"].as_array().unwrap();
    assert_eq!(pats.len(), 1, "{p}");
    assert_eq!(pats[0]["pattern"], "GET /index.html from <_> took <_>");
    let samples = pats[0]["samples"].as_array().unwrap();
    assert!(samples.iter().all(|s| s[0].as_i64().unwrap() < 10_000_000_000), "seconds: {samples:?}");
    assert_eq!(samples.iter().map(|s| s[1].as_i64().unwrap()).sum::<i64>(), 30);

    // Loki's errors for bad parameters.
    let bad = [
        (
            "/loki/api/v1/index/volume",
            vec![("query", r#"{service_name="api"}"#), ("aggregateBy", "x")],
            "invalid aggregation option",
        ),
        (
            "/loki/api/v1/index/volume",
            vec![("query", r#"{service_name="api"}"#), ("limit", "-3")],
            "limit must be a positive value",
        ),
        (
            "/loki/api/v1/detected_fields",
            vec![("query", r#"{service_name="api"}"#), ("line_limit", "0")],
            "limit must be a positive value",
        ),
        (
            "/loki/api/v1/patterns",
            vec![("query", r#"{service_name="api"}"#), ("step", "0")],
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ),
    ];
    for (path, params, want) in bad {
        let (s, body) = app_get(&srv.base, path, &params).await;
        assert_eq!((s, body.trim()), (400, want), "{path} {params:?}");
    }
    srv.stop().await;
}
