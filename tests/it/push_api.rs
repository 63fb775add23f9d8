//! Push endpoint end to end: every body encoding Loki accepts, Loki's validation errors,
//! and the partial-push rule (valid entries are kept, the 400 names the rejected ones).

use std::io::Write;

use crate::harness::*;
use lokid::api::wire::push::{EntryAdapter, LabelPairAdapter, PushRequest, StreamAdapter, Timestamp};
use prost::Message;
use serde_json::json;

const T0: i64 = 1_770_033_600_000_000_000;

fn proto_body(labels: &str, lines: &[(&str, &[(&str, &str)])]) -> Vec<u8> {
    let req = PushRequest {
        streams: vec![StreamAdapter {
            labels: labels.into(),
            entries: lines
                .iter()
                .enumerate()
                .map(|(i, (l, meta))| EntryAdapter {
                    timestamp: Some(Timestamp::from_nanos(T0 + i as i64)),
                    line: l.to_string(),
                    structured_metadata: meta
                        .iter()
                        .map(|(k, v)| LabelPairAdapter { name: k.to_string(), value: v.to_string() })
                        .collect(),
                    parsed: vec![],
                })
                .collect(),
            hash: 0,
        }],
        format: String::new(),
    };
    snap::raw::Encoder::new().compress_vec(&req.encode_to_vec()).unwrap()
}

async fn post(base: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> (u16, String) {
    let mut r = client().post(format!("{base}/loki/api/v1/push")).body(body);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let resp = r.send().await.unwrap();
    let s = resp.status().as_u16();
    (s, resp.text().await.unwrap())
}

async fn all_lines(base: &str, query: &str) -> Vec<String> {
    let v = get_json(
        base,
        "/loki/api/v1/query_range",
        &[
            ("query", query),
            ("start", &T0.to_string()),
            ("end", &(T0 + 3_600_000_000_000).to_string()),
            ("direction", "forward"),
        ],
    )
    .await;
    lines(&v).into_iter().map(|(_, l)| l).collect()
}

#[tokio::test]
async fn protobuf_snappy_as_promtail_sends_it() {
    let srv = TestServer::start().await;
    let body = proto_body(
        r#"{job="promtail", host="backend-instance"}"#,
        &[("first", &[]), ("second", &[("trace_id", "t1")])],
    );
    let (s, text) = post(&srv.base, body, &[("Content-Type", "application/x-protobuf")]).await;
    assert_eq!(s, 204, "{text}");
    let v = get_json(
        &srv.base,
        "/loki/api/v1/query_range",
        &[("query", r#"{job="promtail"}"#), ("start", &T0.to_string()), ("end", &(T0 + 10).to_string())],
    )
    .await;
    let streams = v["data"]["result"].as_array().unwrap();
    assert!(streams.iter().any(|s| s["stream"]["trace_id"] == "t1" && s["stream"]["service_name"] == "promtail"));
    assert_eq!(lines(&v).len(), 2);
    srv.stop().await;
}

#[tokio::test]
async fn json_gzip_and_deflate_bodies() {
    let srv = TestServer::start().await;
    let body =
        |line: &str| json!({"streams": [{"stream": {"app": "enc"}, "values": [[T0.to_string(), line]]}]}).to_string();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(body("gzipped").as_bytes()).unwrap();
    let (s, t) =
        post(&srv.base, gz.finish().unwrap(), &[("Content-Type", "application/json"), ("Content-Encoding", "gzip")])
            .await;
    assert_eq!(s, 204, "{t}");
    let mut df = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    df.write_all(body("deflated").as_bytes()).unwrap();
    let (s, t) =
        post(&srv.base, df.finish().unwrap(), &[("Content-Type", "application/json"), ("Content-Encoding", "deflate")])
            .await;
    assert_eq!(s, 204, "{t}");
    let (s, t) =
        post(&srv.base, body("x").into_bytes(), &[("Content-Type", "application/json"), ("Content-Encoding", "br")])
            .await;
    assert_eq!((s, t.as_str()), (400, r#"Content-Encoding "br" not supported"#));
    let mut got = all_lines(&srv.base, r#"{app="enc"}"#).await;
    got.sort();
    assert_eq!(got, vec!["deflated", "gzipped"]);
    srv.stop().await;
}

#[tokio::test]
async fn malformed_bodies_are_400_and_the_server_keeps_serving() {
    let srv = TestServer::start().await;
    let (s, t) = post(&srv.base, b"{}".to_vec(), &[]).await;
    assert_eq!((s, t.as_str()), (400, "mime: no media type"));
    let (s, _) = post(&srv.base, b"not snappy".to_vec(), &[("Content-Type", "application/x-protobuf")]).await;
    assert_eq!(s, 400);
    let (s, _) = post(&srv.base, b"{\"streams\": [".to_vec(), &[("Content-Type", "application/json")]).await;
    assert_eq!(s, 400);
    let bad_ts = json!({"streams": [{"stream": {"a": "b"}, "values": [[1, "x"]]}]});
    assert_eq!(push_json(&srv.base, &bad_ts).await.0, 400);
    let bad_name = json!({"streams": [{"stream": {"a-b": "c"}, "values": [[T0.to_string(), "x"]]}]});
    let (s, t) = push_json(&srv.base, &bad_name).await;
    assert_eq!(s, 400);
    assert!(t.starts_with("couldn't parse labels"), "{t}");
    let (s, t) = push_json(&srv.base, &json!({"streams": []})).await;
    assert_eq!((s, t.as_str()), (422, "error at least one valid stream is required for ingestion"));
    let (s, _) = get(&srv.base, "/ready", &[]).await;
    assert_eq!(s, 200);
    srv.stop().await;
}

#[tokio::test]
async fn partial_push_keeps_valid_entries_and_names_rejected_ones() {
    let srv = TestServer::start_with(|c| c.limits.max_line_size = 20).await;
    let future = lokid::clock::now_ns() + 3_600_000_000_000;
    let body = json!({"streams": [
        {"stream": {"app": "partial"}, "values": [[T0.to_string(), "short"], [(T0 + 1).to_string(), "this line is far too long to be accepted"]]},
        {"stream": {"app": "future"}, "values": [[future.to_string(), "from the future"]]},
        {"stream": {"a1": "1", "a2": "2", "a3": "3", "a4": "4", "a5": "5", "a6": "6", "a7": "7", "a8": "8",
                    "a9": "9", "a10": "10", "a11": "11", "a12": "12", "a13": "13", "a14": "14", "a15": "15", "a16": "16"},
         "values": [[T0.to_string(), "too many labels"]]}
    ]});
    let (s, t) = push_json(&srv.base, &body).await;
    assert_eq!(s, 400);
    assert!(t.contains("max entry size '20' bytes exceeded for stream '{app=\"partial\", service_name=\"partial\"}' while adding an entry with length '40' bytes"), "{t}");
    assert!(t.contains("has timestamp too new"), "{t}");
    assert!(t.contains("has 16 label names; limit 15"), "{t}");
    assert_eq!(all_lines(&srv.base, r#"{app="partial"}"#).await, vec!["short"]);
    srv.stop().await;
}

#[tokio::test]
async fn reject_old_samples_when_enabled() {
    let srv = TestServer::start_with(|c| c.limits.reject_old_samples = true).await;
    let body = json!({"streams": [{"stream": {"app": "old"}, "values": [[T0.to_string(), "ancient"]]}]});
    let (s, t) = push_json(&srv.base, &body).await;
    assert_eq!(s, 400);
    assert!(t.contains("has timestamp too old"), "{t}");
    srv.stop().await;
}

#[tokio::test]
async fn body_over_the_limit_is_413() {
    let srv = TestServer::start().await;
    let big = vec![b'a'; 101 << 20];
    let (s, _) = post(&srv.base, big, &[("Content-Type", "application/json")]).await;
    assert_eq!(s, 413);
    srv.stop().await;
}

#[tokio::test]
async fn rate_limits_answer_429_with_lokis_messages() {
    let srv = TestServer::start_with(|c| {
        c.limits.ingestion_rate_mb = 0.001; // ~1 KB/s, burst below
        c.limits.ingestion_burst_size_mb = 0.002;
    })
    .await;
    let big = "x".repeat(4000);
    let body = json!({"streams": [{"stream": {"app": "rl"}, "values": [[T0.to_string(), big]]}]});
    let (s, t) = push_json(&srv.base, &body).await;
    assert_eq!(s, 429);
    assert!(t.starts_with("ingestion rate limit exceeded for user fake (limit: 1048 bytes/sec) while attempting to ingest '1' lines totaling '4000' bytes"), "{t}");
    assert!(all_lines(&srv.base, r#"{app="rl"}"#).await.is_empty(), "a rate-limited push stores nothing");
    let (_, metrics) = get(&srv.base, "/metrics", &[]).await;
    assert!(metrics.contains(r#"loki_discarded_samples_total{reason="rate_limited",tenant="fake"} 1"#), "{metrics}");
    // Memory figures: RocksDB's cache and memtables, and the process's resident size.
    for name in ["lokid_rocksdb_block_cache_bytes ", "lokid_rocksdb_memtable_bytes ", "process_resident_memory_bytes "]
    {
        let value =
            metrics.lines().find_map(|l| l.strip_prefix(name)).unwrap_or_else(|| panic!("{name}missing:\n{metrics}"));
        assert!(value.parse::<f64>().is_ok_and(|v| v >= 0.0), "{name}{value}");
    }
    let rss: f64 =
        metrics.lines().find_map(|l| l.strip_prefix("process_resident_memory_bytes ")).unwrap().parse().unwrap();
    assert!(rss > 1e6, "a running server has more than 1 MB resident: {rss}");
    srv.stop().await;
}

#[tokio::test]
async fn stream_limit_refuses_new_streams_with_429_and_keeps_the_rest() {
    let srv = TestServer::start_with(|c| c.limits.max_global_streams_per_user = 1).await;
    let body = json!({"streams": [
        {"stream": {"app": "first"}, "values": [[T0.to_string(), "kept"]]},
        {"stream": {"app": "second"}, "values": [[T0.to_string(), "refused"]]}
    ]});
    let (s, t) = push_json(&srv.base, &body).await;
    assert_eq!(s, 429);
    assert!(t.starts_with("maximum active stream limit exceeded when trying to create stream {app=\"second\", service_name=\"second\"}"), "{t}");
    assert_eq!(all_lines(&srv.base, r#"{app="first"}"#).await, vec!["kept"]);
    srv.stop().await;
}

#[tokio::test]
async fn a_body_that_never_arrives_is_cut_off_with_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let srv = TestServer::start_with(|c| c.http_server_read_timeout = std::time::Duration::from_millis(300)).await;
    let addr = srv.base.trim_start_matches("http://").to_string();
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /loki/api/v1/push HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"streams\""
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), sock.read(&mut buf))
        .await
        .expect("answer in time")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    srv.stop().await;
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let srv = TestServer::start_with(|c| c.http_server_read_timeout = std::time::Duration::from_millis(300)).await;
    let addr = srv.base.trim_start_matches("http://").to_string();
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    sock.write_all(b"POST /loki/api/v1/push HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    // No blank line: the headers never end. The server must close the connection.
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), sock.read(&mut buf))
        .await
        .expect("the server gives up on the client in time")
        .unwrap_or(0);
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(n == 0 || answer.starts_with("HTTP/1.1 408"), "{answer}");
    srv.stop().await;
}

/// Loki's `/flush`: every bucket with small push blocks is sealed at once, and the entries
/// read back the same.
#[tokio::test]
async fn flush_seals_the_pushed_blocks() {
    let srv = TestServer::start().await;
    for i in 0..3i64 {
        let body =
            json!({"streams": [{"stream": {"app": "fl"}, "values": [[(T0 + i).to_string(), format!("line {i}")]]}]});
        assert_eq!(push_json(&srv.base, &body).await.0, 204);
    }
    let before = all_lines(&srv.base, r#"{app="fl"}"#).await;
    assert_eq!(before.len(), 3);
    let r = client().post(format!("{}/flush", srv.base)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let (_, metrics) = get(&srv.base, "/metrics", &[]).await;
    assert!(metrics.contains("lokid_blocks_merged_total 3"), "three push blocks were sealed:\n{metrics}");
    assert_eq!(all_lines(&srv.base, r#"{app="fl"}"#).await, before);
    srv.stop().await;
}
