//! End-to-end query behaviour against the real server: limits across streams, direction,
//! half-open ranges, filters, metadata endpoints, instant queries, Grafana's shapes.

use crate::harness::*;
use serde_json::json;

const T0: i64 = 1_770_033_600_000_000_000; // 2026-02-02T12:00:00Z

fn ns(offset_s: i64) -> String {
    (T0 + offset_s * 1_000_000_000).to_string()
}

async fn seeded() -> TestServer {
    let srv = TestServer::start().await;
    let body = json!({"streams": [
        {"stream": {"job": "docker", "container": "api-server", "level": "info"},
         "values": [[ns(1), "GET /api ok user_id_1"], [ns(3), "payment failed user_id_2"], [ns(5), "GET /api ok"]]},
        {"stream": {"job": "docker", "container": "ticket-server", "level": "error"},
         "values": [[ns(2), "error: seat already taken"], [ns(4), "timeout user_id_123", {"trace_id": "abc"}]]},
        {"stream": {"job": "varlogs", "filename": "/var/log/syslog"},
         "values": [[ns(6), "kernel: Out of memory"]]}
    ]});
    let (status, text) = push_json(&srv.base, &body).await;
    assert_eq!(status, 204, "{text}");
    srv
}

fn range() -> Vec<(&'static str, String)> {
    vec![("start", ns(0)), ("end", ns(3600))]
}

async fn qr(srv: &TestServer, query: &str, extra: &[(&str, &str)]) -> serde_json::Value {
    let r = range();
    let mut p: Vec<(&str, &str)> = r.iter().map(|(k, v)| (*k, v.as_str())).collect();
    p.push(("query", query));
    p.extend_from_slice(extra);
    get_json(&srv.base, "/loki/api/v1/query_range", &p).await
}

fn sorted_ts(v: &serde_json::Value) -> Vec<String> {
    let mut ts: Vec<String> = lines(v).into_iter().map(|(t, _)| t).collect();
    ts.sort();
    ts
}

#[tokio::test]
async fn limit_applies_across_streams_newest_first() {
    let srv = seeded().await;
    let v = qr(&srv, r#"{job="docker"}"#, &[("limit", "2")]).await;
    assert_eq!(v["data"]["resultType"], "streams");
    assert_eq!(sorted_ts(&v), vec![ns(4), ns(5)]);
    let v = qr(&srv, r#"{job="docker"}"#, &[("limit", "2"), ("direction", "forward")]).await;
    assert_eq!(sorted_ts(&v), vec![ns(1), ns(2)]);
    srv.stop().await;
}

#[tokio::test]
async fn start_is_inclusive_end_exclusive() {
    let srv = seeded().await;
    let p = [("query", r#"{job="docker"}"#), ("start", &ns(2)[..]), ("end", &ns(4)[..])];
    let v = get_json(&srv.base, "/loki/api/v1/query_range", &p).await;
    assert_eq!(sorted_ts(&v), vec![ns(2), ns(3)]);
    srv.stop().await;
}

#[tokio::test]
async fn line_filters_select_lines() {
    let srv = seeded().await;
    let v = qr(&srv, r#"{job="docker"} |= "user_id_123""#, &[]).await;
    assert_eq!(lines(&v).len(), 1);
    let v = qr(&srv, r#"{job="docker"} |= "payment failed" or "seat already taken""#, &[]).await;
    assert_eq!(sorted_ts(&v), vec![ns(2), ns(3)]);
    let v = qr(&srv, r#"{job="docker"} != "GET" != "error""#, &[]).await;
    assert_eq!(sorted_ts(&v), vec![ns(3), ns(4)]);
    let v = qr(&srv, r#"{job="varlogs"} |~ "(?i)out of MEMORY""#, &[]).await;
    assert_eq!(lines(&v).len(), 1);
    let v = qr(&srv, r#"{container=~"api.*", job!~"nginx|x"}"#, &[]).await;
    assert_eq!(lines(&v).len(), 3);
    srv.stop().await;
}

#[tokio::test]
async fn stream_labels_include_discovered_service_name_and_metadata() {
    let srv = seeded().await;
    let v = qr(&srv, r#"{container="ticket-server"}"#, &[]).await;
    let streams = v["data"]["result"].as_array().unwrap();
    // The entry with trace_id forms its own result stream, as in Loki.
    assert_eq!(streams.len(), 2);
    for s in streams {
        assert_eq!(s["stream"]["service_name"], "ticket-server");
        assert_eq!(s.as_object().unwrap().len(), 2, "stream objects hold only stream and values");
    }
    assert!(streams.iter().any(|s| s["stream"]["trace_id"] == "abc"));
    srv.stop().await;
}

#[tokio::test]
async fn categorize_labels_keeps_metadata_apart() {
    let srv = seeded().await;
    let r = range();
    let resp = client()
        .get(srv.url("/loki/api/v1/query_range"))
        .header("X-Loki-Response-Encoding-Flags", "categorize-labels")
        .query(&[("query", r#"{container="ticket-server"}"#), ("start", &r[0].1), ("end", &r[1].1)])
        .send()
        .await
        .unwrap();
    let text = resp.text().await.unwrap();
    let ef = text.find("\"encodingFlags\"").expect("encodingFlags present");
    assert!(ef < text.find("\"result\"").unwrap(), "encodingFlags must precede result");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let streams = v["data"]["result"].as_array().unwrap();
    assert_eq!(streams.len(), 1);
    assert!(streams[0]["stream"].get("trace_id").is_none());
    let values = streams[0]["values"].as_array().unwrap();
    assert!(values.iter().all(|e| e.as_array().unwrap().len() == 3));
    assert!(values.iter().any(|e| e[2]["structuredMetadata"]["trace_id"] == "abc"));
    srv.stop().await;
}

#[tokio::test]
async fn metadata_endpoints() {
    let srv = seeded().await;
    let r = range();
    let p: Vec<(&str, &str)> = r.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let v = get_json(&srv.base, "/loki/api/v1/labels", &p).await;
    assert_eq!(v["data"], json!(["container", "filename", "job", "level", "service_name"]));
    let v = get_json(&srv.base, "/loki/api/v1/label/container/values", &p).await;
    assert_eq!(v["data"], json!(["api-server", "ticket-server"]));
    let mut pq = p.clone();
    pq.push(("query", r#"{level="error"}"#));
    let v = get_json(&srv.base, "/loki/api/v1/label/container/values", &pq).await;
    assert_eq!(v["data"], json!(["ticket-server"]));
    let mut ps = p.clone();
    ps.push(("match[]", r#"{job="varlogs"}"#));
    let v = get_json(&srv.base, "/loki/api/v1/series", &ps).await;
    assert_eq!(v["data"], json!([{"filename": "/var/log/syslog", "job": "varlogs", "service_name": "varlogs"}]));
    // Outside the data's time range: Loki omits `data`.
    let far = [("start", "1000000000"), ("end", "1000003600")];
    let (s, body) = get(&srv.base, "/loki/api/v1/labels", &far).await;
    assert_eq!((s, body.as_str()), (200, r#"{"status":"success"}"#));
    srv.stop().await;
}

#[tokio::test]
async fn grafana_health_check_and_instant_rules() {
    let srv = TestServer::start().await;
    let (s, body) = get(
        &srv.base,
        "/loki/api/v1/query",
        &[("direction", "backward"), ("query", "vector(1)+vector(1)"), ("time", "4000000000")],
    )
    .await;
    assert_eq!(s, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["data"]["result"], json!([{"metric": {}, "value": [4000000000u64, "2"]}]));
    let (s, body) = get(&srv.base, "/loki/api/v1/query", &[("query", r#"{job="x"}"#)]).await;
    assert_eq!(s, 400);
    assert_eq!(
        body,
        "log queries are not supported as an instant query type, please change your query to a range query type"
    );
    let (s, body) = get(&srv.base, "/loki/api/v1/query", &[("query", "2 * 3"), ("time", "1770040800")]).await;
    assert_eq!(s, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["data"]["result"], json!([1770040800u64, "6"]));
    srv.stop().await;
}

/// Logs Drilldown's limits in Loki's shape (values from the config), and the alert list's
/// requests answered as an empty ruler; the ruler API itself is a 404 `page not found`
/// (Grafana: "ruler disabled"), as Loki answers without a ruler.
#[tokio::test]
async fn drilldown_limits_and_an_empty_ruler_for_grafana() {
    let srv = TestServer::start_with(|c| c.limits.retention_period = std::time::Duration::from_secs(14 * 86400)).await;
    let (s, body) = get(&srv.base, "/loki/api/v1/drilldown-limits", &[]).await;
    assert_eq!(s, 200);
    assert!(body.ends_with("}\n"), "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["pattern_ingester_enabled"], json!(true), "patterns are served (mined at query time)");
    assert_eq!(v["limits"]["volume_enabled"], json!(true), "the volume endpoints are served");
    assert!(v["version"].is_string());
    let l = &v["limits"];
    assert_eq!(l["retention_period"], json!("2w"));
    assert_eq!(l["max_query_length"], json!("30d1h"));
    assert_eq!(l["query_timeout"], json!("1m"));
    assert_eq!(l["max_entries_limit_per_query"], json!(5000));
    assert_eq!(l["discover_log_levels"], json!(true));
    assert_eq!(l["discover_service_name"][0], json!("service"));
    assert_eq!(l["log_level_fields"][0], json!("level"));
    let keys: Vec<&String> = l.as_object().unwrap().keys().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "Go's encoder sorts map keys");
    assert!(body.find("\"discover_log_levels\"").unwrap() < body.find("\"volume_max_series\"").unwrap());
    let (s, body) = get(&srv.base, "/prometheus/api/v1/rules", &[]).await;
    assert_eq!((s, body.as_str()), (200, r#"{"status":"success","data":{"groups":[]},"errorType":"","error":""}"#));
    let (s, body) = get(&srv.base, "/prometheus/api/v1/alerts", &[]).await;
    assert_eq!((s, body.as_str()), (200, r#"{"status":"success","data":{"alerts":[]},"errorType":"","error":""}"#));
    for path in ["/api/prom/rules", "/api/prom/rules/ns/group", "/loki/api/v1/rules"] {
        let (s, body) = get(&srv.base, path, &[]).await;
        assert_eq!(s, 404, "{path}");
        assert!(body.contains("page not found"), "{path}: {body}");
    }
    srv.stop().await;
}

/// Logs Drilldown's `detected_labels`: label names with their number of distinct values
/// over the selected streams; labels whose values are all ids are left out, except the
/// labels Loki always keeps; nothing selected answers `{}`.
#[tokio::test]
async fn detected_labels_count_values_and_skip_id_labels() {
    let srv = TestServer::start().await;
    let t = (lokid::clock::now_ns() - 60_000_000_000).to_string();
    let mut streams = Vec::new();
    for (i, (service, level)) in [("api", "info"), ("api", "error"), ("queue", "info")].into_iter().enumerate() {
        streams.push(json!({"stream": {"job": "docker", "service": service, "level": level, "req_id": (100 + i).to_string(), "pod": "7"},
                            "values": [[t, "line"]]}));
    }
    streams.push(json!({"stream": {"job": "nginx", "host": "edge"}, "values": [[t, "GET /"]]}));
    assert_eq!(push_json(&srv.base, &json!({"streams": streams})).await.0, 204);
    let detected = |query: &'static str| {
        let base = srv.base.clone();
        async move {
            let (s, body) = get(&base, "/loki/api/v1/detected_labels", &[("query", query)]).await;
            assert_eq!(s, 200, "{body}");
            assert!(body.ends_with('\n'));
            body
        }
    };
    let v: serde_json::Value = serde_json::from_str(&detected(r#"{job="docker"}"#).await).unwrap();
    let got: Vec<(String, u64)> = v["detectedLabels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["label"].as_str().unwrap().to_string(), l["cardinality"].as_u64().unwrap()))
        .collect();
    let want: Vec<(String, u64)> = [("job", 1), ("level", 2), ("pod", 1), ("service", 2), ("service_name", 2)]
        .iter()
        .map(|(l, n)| (l.to_string(), *n))
        .collect();
    assert_eq!(got, want, "req_id (only numbers) is left out, pod (static) is kept");
    let all = detected("").await;
    assert!(all.contains(r#"{"label":"host","cardinality":1}"#), "{all}");
    assert!(all.contains(r#"{"label":"job","cardinality":2}"#), "{all}");
    assert_eq!(detected(r#"{job="absent"}"#).await, "{}\n");
    let (s, _) = get(&srv.base, "/loki/api/v1/detected_labels", &[("query", "{job=")]).await;
    assert_eq!(s, 400);
    srv.stop().await;
}

#[tokio::test]
async fn bad_queries_and_params_are_loki_400s() {
    let srv = seeded().await;
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("query", r#"{job="docker""#)],
            "parse error at line 1, col 14: syntax error: unexpected $end, expecting } or ,",
        ),
        (&[("query", r#"{job="docker"}"#), ("limit", "0")], "limit must be a positive value"),
        (
            &[("query", r#"{job="docker"}"#), ("limit", "5001")],
            "max entries limit per query exceeded, limit > max_entries_limit_per_query (5001 > 5000)",
        ),
        (&[("query", r#"{job="docker"}"#), ("direction", "sideways")], "invalid direction 'sideways'"),
        (
            &[("query", r#"{job="docker"}"#), ("start", "abc")],
            "could not parse 'start' parameter: strconv.ParseInt: parsing \"abc\": invalid syntax",
        ),
    ];
    for (params, want) in cases {
        let (s, body) = get(&srv.base, "/loki/api/v1/query_range", params).await;
        assert_eq!((s, body.as_str()), (400, *want), "{params:?}");
    }
    // A template that cannot be built is a 400 naming the problem, not an empty answer.
    let (s, body) = get(
        &srv.base,
        "/loki/api/v1/query_range",
        &[("query", r#"{job="docker"} | line_format "{{ nosuchfunc .a }}""#)],
    )
    .await;
    assert_eq!(s, 400);
    assert!(body.contains("nosuchfunc"), "{body}");
    srv.stop().await;
}

#[tokio::test]
async fn pipelines_and_metric_queries_run_end_to_end() {
    let srv = seeded().await;
    // logfmt-free lines: a regexp parser, a label filter and line_format.
    let v = qr(
        &srv,
        r#"{job="docker"} | regexp `(?P<word>\w+) (?P<rest>.*)` | word="payment" | line_format "{{.rest}}""#,
        &[],
    )
    .await;
    let got: Vec<String> = lines(&v).into_iter().map(|(_, l)| l).collect();
    assert_eq!(got, vec!["failed user_id_2"]);
    assert_eq!(v["data"]["result"][0]["stream"]["word"], "payment");
    // Grafana's logs-volume query: sum by (level, detected_level) over count_over_time | drop __error__.
    let p = [
        ("query", r#"sum by (level, detected_level) (count_over_time({job="docker"} | drop __error__[1m]))"#),
        ("start", &ns(0)[..]),
        ("end", &ns(60)[..]),
        ("step", "60000ms"),
    ];
    let v = get_json(&srv.base, "/loki/api/v1/query_range", &p).await;
    assert_eq!(v["data"]["resultType"], "matrix");
    let series = v["data"]["result"].as_array().unwrap();
    // Windows are (t-1m, t]: every entry (offsets 1..5 s) falls in the window of the step at 60 s.
    let total: f64 = series
        .iter()
        .flat_map(|s| s["values"].as_array().unwrap().iter())
        .map(|p| p[1].as_str().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(total, 5.0, "{v}");
    srv.stop().await;
}

#[tokio::test]
async fn out_of_order_pushes_come_back_in_order() {
    let srv = TestServer::start().await;
    for offs in [[30, 10], [20, 40]] {
        let body = json!({"streams": [{"stream": {"app": "ooo"}, "values": [[ns(offs[0]), format!("l{}", offs[0])], [ns(offs[1]), format!("l{}", offs[1])]]}]});
        assert_eq!(push_json(&srv.base, &body).await.0, 204);
    }
    let p = [("query", r#"{app="ooo"}"#), ("start", &ns(0)[..]), ("end", &ns(100)[..]), ("direction", "forward")];
    let v = get_json(&srv.base, "/loki/api/v1/query_range", &p).await;
    let got: Vec<String> = lines(&v).into_iter().map(|(_, l)| l).collect();
    assert_eq!(got, vec!["l10", "l20", "l30", "l40"]);
    srv.stop().await;
}

#[tokio::test]
async fn query_timeout_is_a_504_with_lokis_text() {
    let srv = TestServer::start_with(|c| c.limits.query_timeout = std::time::Duration::from_nanos(1)).await;
    let body = json!({"streams": [{"stream": {"app": "slow"}, "values": [[ns(1), "x"]]}]});
    assert_eq!(push_json(&srv.base, &body).await.0, 204);
    let (s, text) = get(
        &srv.base,
        "/loki/api/v1/query_range",
        &[("query", r#"{app="slow"}"#), ("start", &ns(0)[..]), ("end", &ns(10)[..])],
    )
    .await;
    assert_eq!(s, 504);
    assert_eq!(text, "request timed out, decrease the duration of the request or add more label matchers (prefer exact match over regex match) to reduce the amount of data processed");
    srv.stop().await;
}

#[tokio::test]
async fn max_query_lookback_clamps_the_start_silently() {
    let srv = TestServer::start_with(|c| c.limits.max_query_lookback = std::time::Duration::from_secs(3600)).await;
    let now = lokid::clock::now_ns();
    let body = json!({"streams": [{"stream": {"app": "lb"}, "values": [
        [(now - 2 * 3_600_000_000_000i64).to_string(), "too old to see"], [(now - 60_000_000_000i64).to_string(), "recent"]]}]});
    assert_eq!(push_json(&srv.base, &body).await.0, 204);
    let start = (now - 3 * 3_600_000_000_000i64).to_string();
    let v = get_json(&srv.base, "/loki/api/v1/query_range", &[("query", r#"{app="lb"}"#), ("start", &start)]).await;
    let got: Vec<String> = lines(&v).into_iter().map(|(_, l)| l).collect();
    assert_eq!(got, vec!["recent"]);
    srv.stop().await;
}

#[tokio::test]
async fn index_stats_counts_streams_entries_and_bytes() {
    let srv = seeded().await;
    let p = [("query", r#"{job="docker"}"#), ("start", &ns(0)[..]), ("end", &ns(3600)[..])];
    let (s, body) = get(&srv.base, "/loki/api/v1/index/stats", &p).await;
    assert_eq!(s, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["streams"], 2);
    assert_eq!(v["entries"], 5);
    let line_bytes = [
        "GET /api ok user_id_1",
        "payment failed user_id_2",
        "GET /api ok",
        "error: seat already taken",
        "timeout user_id_123",
    ]
    .iter()
    .map(|l| l.len())
    .sum::<usize>();
    assert_eq!(v["bytes"].as_u64().unwrap() as usize, line_bytes + metadata_bytes(&v));
    assert!(body.starts_with(r#"{"streams":2,"chunks":"#), "{body}");
    srv.stop().await;
}

/// Bytes of structured metadata stored beside the lines (counted with them, as raw size).
fn metadata_bytes(_: &serde_json::Value) -> usize {
    // detected_level (14) + value per entry, trace_id (8) + "abc" on one entry, each with
    // two one-byte varint lengths.
    let levels = ["info", "info", "info", "error", "error"];
    levels.iter().map(|l| 2 + 14 + l.len()).sum::<usize>() + (2 + 8 + 3)
}

#[tokio::test]
async fn hostile_nesting_in_a_line_or_a_template_is_an_answer_not_a_crash() {
    let srv = TestServer::start().await;
    let deep = format!("{}1{}", r#"{"a":"#.repeat(40_000), "}".repeat(40_000));
    let body = json!({"streams": [{"stream": {"app": "deep"}, "values": [[ns(1), deep]]}]});
    assert_eq!(push_json(&srv.base, &body).await.0, 204);
    let v = qr(&srv, r#"{app="deep"} | json"#, &[]).await;
    assert_eq!(lines(&v).len(), 1);
    let nested = format!("{}1{}", "(".repeat(30_000), ")".repeat(30_000));
    let q = format!(r#"{{app="deep"}} | line_format "{{{{{nested}}}}}""#);
    let r = client().post(srv.url("/loki/api/v1/query_range")).form(&[("query", q.as_str())]).send().await.unwrap();
    let (s, text) = (r.status().as_u16(), r.text().await.unwrap());
    assert_eq!(s, 400, "{text:.200}");
    assert!(text.contains("nests too deeply"), "{text:.200}");
    let (s, _) = get(&srv.base, "/ready", &[]).await;
    assert_eq!(s, 200);
    srv.stop().await;
}
