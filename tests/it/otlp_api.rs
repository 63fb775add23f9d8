//! `POST /otlp/v1/logs` against the real server: protobuf and JSON bodies (plain, gzip),
//! Loki's label/metadata mapping read back with `query_range`, tenancy, tail delivery,
//! per-tenant `otlp_config`, and Loki's statuses and `google.rpc.Status` bodies for
//! malformed, unsupported and partly invalid requests (the valid records are kept).

use std::io::Write;

use crate::harness::*;
use lokid::api::wire::otlp::schema::*;
use prost::Message;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue::new(k, Value::String(v.to_string()))
}

fn record(ts: u64, sev: i32, text: &str, body: &str) -> LogRecord {
    LogRecord {
        time_unix_nano: ts,
        severity_number: sev,
        severity_text: text.into(),
        body: Some(AnyValue::string(body)),
        attributes: vec![kv("user.id", "u-1"), KeyValue::new("attempt", Value::Int(2))],
        trace_id: (1..=16).collect(),
        span_id: (1..=8).collect(),
        flags: 1,
        ..Default::default()
    }
}

fn request(service: &str, records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", service),
                    kv("deployment.environment", "prod"),
                    kv("host.name", "h1"),
                ],
                dropped_attributes_count: 0,
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "test.scope".into(),
                    version: "0.1".into(),
                    ..Default::default()
                }),
                log_records: records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

async fn post(base: &str, ct: &str, ce: Option<&str>, tenant: Option<&str>, body: Vec<u8>) -> (u16, String, Vec<u8>) {
    let mut r = client().post(format!("{base}/otlp/v1/logs")).header("Content-Type", ct).body(body);
    if let Some(ce) = ce {
        r = r.header("Content-Encoding", ce);
    }
    if let Some(t) = tenant {
        r = r.header("X-Scope-OrgID", t);
    }
    let resp = r.send().await.expect("post");
    let status = resp.status().as_u16();
    let ct = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, ct, resp.bytes().await.unwrap().to_vec())
}

fn status_message(body: &[u8]) -> String {
    let s = Status::decode(body).expect("a google.rpc.Status body");
    assert_eq!(s.code, 0);
    s.message
}

fn now() -> u64 {
    lokid::clock::now_ns() as u64
}

async fn query(base: &str, q: &str, tenant: Option<&str>) -> serde_json::Value {
    let n = lokid::clock::now_ns();
    let (start, end) = ((n - 3_600_000_000_000).to_string(), (n + 1_000_000_000).to_string());
    let mut r = client().get(format!("{base}/loki/api/v1/query_range")).query(&[
        ("query", q),
        ("start", &start),
        ("end", &end),
        ("limit", "1000"),
        ("direction", "forward"),
    ]);
    if let Some(t) = tenant {
        r = r.header("X-Scope-OrgID", t);
    }
    let resp = r.send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    resp.json().await.unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_and_json_map_like_loki() {
    let srv = TestServer::start().await;
    let t0 = now() - 10_000_000_000;
    let pb = request("checkout", vec![record(t0, 9, "INFO", "pb line 1"), record(t0 + 1, 17, "ERROR", "pb line 2")]);
    let (status, _, body) = post(&srv.base, "application/x-protobuf", None, None, pb.encode_to_vec()).await;
    assert_eq!(status, 204, "{}", String::from_utf8_lossy(&body));
    assert!(body.is_empty());

    let v = query(&srv.base, r#"{service_name="checkout"}"#, None).await;
    let result = v["data"]["result"].as_array().unwrap();
    // Structured metadata and detected_level come back merged into the stream labels, so
    // the two records (different severities) are two result streams.
    assert_eq!(result.len(), 2, "{v}");
    let labels = &result.iter().find(|s| s["stream"]["severity_text"] == "INFO").expect("the INFO record")["stream"];
    assert_eq!(labels["severity_number"], "9", "{labels}");
    assert_eq!(labels["detected_level"], "info", "{labels}");
    assert_eq!(labels["service_name"], "checkout", "{labels}");
    assert_eq!(labels["deployment_environment"], "prod", "{labels}");
    assert_eq!(labels["host_name"], "h1", "{labels}");
    assert_eq!(labels["user_id"], "u-1", "{labels}");
    assert_eq!(labels["attempt"], "2", "{labels}");
    assert_eq!(labels["trace_id"], "0102030405060708090a0b0c0d0e0f10", "{labels}");
    assert_eq!(labels["span_id"], "0102030405060708", "{labels}");
    assert_eq!(labels["scope_name"], "test.scope", "{labels}");
    assert_eq!(labels["flags"], "1", "{labels}");
    let mut got: Vec<String> = lines(&v).into_iter().map(|(_, l)| l).collect();
    got.sort();
    assert_eq!(got, ["pb line 1", "pb line 2"]);
    // The index holds only the promoted resource attributes.
    let (_, labels_body) = get(&srv.base, "/loki/api/v1/labels", &[]).await;
    let names: serde_json::Value = serde_json::from_str(&labels_body).unwrap();
    let names: Vec<&str> = names["data"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    assert_eq!(names, ["deployment_environment", "service_name"], "{labels_body}");
    // Metadata is filterable with LogQL.
    let v = query(&srv.base, r#"{service_name="checkout"} | severity_text="ERROR""#, None).await;
    assert_eq!(lines(&v).len(), 1, "{v}");
    let v = query(&srv.base, r#"{service_name="checkout"} | detected_level="error""#, None).await;
    assert_eq!(lines(&v).iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>(), ["pb line 2"], "{v}");

    // JSON as the SDKs send it (hex ids, string int64s, camelCase), gzip-compressed.
    let ts = (now() - 5_000_000_000).to_string();
    let json = serde_json::json!({"resourceLogs":[{"resource":{"attributes":[
        {"key":"service.name","value":{"stringValue":"billing"}}]},
      "scopeLogs":[{"scope":{"name":"js"},"logRecords":[
        {"timeUnixNano": ts, "severityNumber": 13, "severityText":"WARN",
         "body":{"kvlistValue":{"values":[{"key":"msg","value":{"stringValue":"json body"}}]}},
         "attributes":[{"key":"order.id","value":{"intValue":"77"}}],
         "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174"}]}]}]});
    let (status, _, body) =
        post(&srv.base, "application/json", Some("gzip"), None, gzip(json.to_string().as_bytes())).await;
    assert_eq!(status, 204, "{}", String::from_utf8_lossy(&body));
    let v = query(&srv.base, r#"{service_name="billing"}"#, None).await;
    let s = &v["data"]["result"][0];
    assert_eq!(s["stream"]["order_id"], "77", "{v}");
    assert_eq!(s["stream"]["trace_id"], "5b8efff798038103d269b633813fc60c", "{v}");
    assert_eq!(s["stream"]["detected_level"], "warn", "{v}");
    assert_eq!(s["values"][0][1], r#"{"msg":"json body"}"#);
    assert_eq!(s["values"][0][0], ts.as_str());
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_keep_the_valid_part() {
    let srv = TestServer::start_with(|c| c.limits.max_line_size = 100).await;
    let t0 = now() - 10_000_000_000;

    // One record over max_line_size: 400 naming it, the other one stored.
    let long = "x".repeat(200);
    let pb = request("partial", vec![record(t0, 9, "INFO", "short one"), record(t0 + 1, 9, "INFO", &long)]);
    let (status, ct, body) = post(&srv.base, "application/x-protobuf", None, None, pb.encode_to_vec()).await;
    assert_eq!(status, 400);
    assert_eq!(ct, "application/octet-stream");
    let msg = status_message(&body);
    assert!(msg.contains("max entry size '100' bytes exceeded"), "{msg}");
    let v = query(&srv.base, r#"{service_name="partial"}"#, None).await;
    assert_eq!(lines(&v).iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>(), ["short one"]);

    // Malformed bodies, encodings and types.
    let (status, _, body) = post(&srv.base, "application/x-protobuf", None, None, b"\x0a\x05ab".to_vec()).await;
    assert_eq!(status, 400);
    assert!(status_message(&body).starts_with("proto: "));
    let (status, _, body) = post(&srv.base, "application/json", None, None, b"{\"resourceLogs\":[".to_vec()).await;
    assert_eq!(status, 400);
    assert!(!status_message(&body).is_empty());
    let (status, _, body) = post(&srv.base, "text/plain", None, None, b"hello".to_vec()).await;
    assert_eq!((status, status_message(&body)), (400, "content type: text/plain is not supported".to_string()));
    let (status, _, body) = post(&srv.base, "application/json", Some("br"), None, b"{}".to_vec()).await;
    assert_eq!(
        (status, status_message(&body)),
        (400, "unsupported content encoding br: only gzip, lz4 and zstd are supported".to_string())
    );
    let (status, _, body) = post(&srv.base, "application/json", Some("gzip"), None, b"nope".to_vec()).await;
    assert_eq!((status, status_message(&body)), (400, "gzip: invalid header".to_string()));
    // No records at all: Loki's 422.
    let (status, _, body) = post(&srv.base, "application/json", None, None, b"{}".to_vec()).await;
    assert_eq!(
        (status, status_message(&body)),
        (422, "error at least one valid stream is required for ingestion".to_string())
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_otlp_config_and_tail() {
    let srv = TestServer::start_with(|c| {
        c.auth_enabled = true;
        let mut l = c.limits.clone();
        l.otlp_config = lokid::limits::OtlpConfig::with_defaults(
            false,
            vec![lokid::limits::otlp::AttributesConfig {
                action: lokid::limits::otlp::OtlpAction::IndexLabel,
                attributes: vec!["host.name".into()],
                regex: None,
            }],
            vec![],
            vec![lokid::limits::otlp::AttributesConfig {
                action: lokid::limits::otlp::OtlpAction::Drop,
                attributes: vec!["user.id".into()],
                regex: None,
            }],
            false,
        );
        c.overrides.insert("team-b".into(), l);
        // team-d indexes deployment.environment only and drops service.name: as in Loki, a
        // resource that has a service.name gets no service_name at all then (no discovery,
        // no unknown_service).
        let mut d = c.limits.clone();
        d.otlp_config = lokid::limits::OtlpConfig::with_defaults(
            true,
            vec![
                lokid::limits::otlp::AttributesConfig {
                    action: lokid::limits::otlp::OtlpAction::IndexLabel,
                    attributes: vec!["deployment.environment".into()],
                    regex: None,
                },
                lokid::limits::otlp::AttributesConfig {
                    action: lokid::limits::otlp::OtlpAction::Drop,
                    attributes: vec!["service.name".into()],
                    regex: None,
                },
            ],
            vec![],
            vec![],
            false,
        );
        c.overrides.insert("team-d".into(), d);
    })
    .await;
    let pb = request("svc", vec![record(now() - 1_000_000_000, 9, "INFO", "tenant line")]).encode_to_vec();
    let (status, _, body) = post(&srv.base, "application/x-protobuf", None, None, pb.clone()).await;
    assert_eq!((status, String::from_utf8_lossy(&body).to_string()), (401, "no org id".to_string()));

    // A tail opened before the push sees the OTLP line.
    let ws_url = format!(
        "ws://{}/loki/api/v1/tail?query={}",
        srv.base.trim_start_matches("http://"),
        form_urlencoded::byte_serialize(br#"{service_name="svc"}"#).collect::<String>()
    );
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(ws_url).unwrap();
    req.headers_mut().insert("X-Scope-OrgID", "team-a".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.expect("websocket");

    assert_eq!(post(&srv.base, "application/x-protobuf", None, Some("team-a"), pb.clone()).await.0, 204);
    assert_eq!(post(&srv.base, "application/x-protobuf", None, Some("team-b"), pb).await.0, 204);

    use futures_util::StreamExt;
    let frame = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            if let tokio_tungstenite::tungstenite::Message::Text(t) = ws.next().await.unwrap().unwrap() {
                return serde_json::from_str::<serde_json::Value>(&t).unwrap();
            }
        }
    })
    .await
    .expect("a tail frame");
    assert_eq!(frame["streams"][0]["values"][0][1], "tenant line", "{frame}");

    let a = query(&srv.base, r#"{service_name="svc"}"#, Some("team-a")).await;
    assert_eq!(a["data"]["result"][0]["stream"]["host_name"], "h1");
    assert_eq!(a["data"]["result"][0]["stream"]["user_id"], "u-1");
    // team-b promotes host.name to an index label and drops user.id.
    let b = query(&srv.base, r#"{service_name="svc", host_name="h1"}"#, Some("team-b")).await;
    assert_eq!(lines(&b).len(), 1, "{b}");
    assert!(b["data"]["result"][0]["stream"].get("user_id").is_none(), "{b}");
    let pb = request("svc", vec![record(now() - 1_000_000_000, 9, "INFO", "no service name")]).encode_to_vec();
    assert_eq!(post(&srv.base, "application/x-protobuf", None, Some("team-d"), pb).await.0, 204);
    let d = query(&srv.base, r#"{deployment_environment="prod"}"#, Some("team-d")).await;
    assert_eq!(lines(&d).iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>(), ["no service name"], "{d}");
    assert!(d["data"]["result"][0]["stream"].get("service_name").is_none(), "{d}");
    let c = query(&srv.base, r#"{service_name="svc"}"#, Some("team-c")).await;
    assert_eq!(c["data"]["result"].as_array().unwrap().len(), 0);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_limit_streams_get_429_and_the_rest_is_stored() {
    let srv = TestServer::start_with(|c| c.limits.max_global_streams_per_user = 1).await;
    let t = now() - 1_000_000_000;
    let mut req = request("first", vec![record(t, 9, "INFO", "kept line")]);
    req.resource_logs.extend(request("second", vec![record(t, 9, "INFO", "refused line")]).resource_logs);
    let (status, ct, body) = post(&srv.base, "application/x-protobuf", None, None, req.encode_to_vec()).await;
    assert_eq!((status, ct.as_str()), (429, "application/octet-stream"));
    let msg = status_message(&body);
    assert!(msg.starts_with("maximum active stream limit exceeded when trying to create stream {deployment_environment=\"prod\", service_name=\"second\"}"), "{msg}");
    let v = query(&srv.base, r#"{service_name=~"first|second"}"#, None).await;
    assert_eq!(lines(&v).iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>(), ["kept line"]);
    srv.stop().await;
}
