//! Retention compactor, size cap and delete API end to end, on the real server.

use std::time::Duration;

use crate::harness::*;
use lokid::config::RetentionStream;
use lokid::retention::dir_size;
use serde_json::json;

const H: i64 = 3_600_000_000_000;

fn now() -> i64 {
    lokid::clock::now_ns()
}

/// ~1 KiB of pseudo-random hex: lz4 cannot shrink it, so disk sizes are predictable.
fn noise(seed: u64) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..64)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            format!("{x:016x}")
        })
        .collect()
}

/// Pushes `n` entries of ~1 KiB for `labels`, 1 ms apart from `start`.
async fn push_many(base: &str, labels: serde_json::Value, start: i64, n: usize) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(2000) {
        let values: Vec<_> = chunk
            .iter()
            .map(|i| {
                json!([
                    (start + *i as i64 * 1_000_000).to_string(),
                    format!("line {i} {}", noise(start as u64 ^ *i as u64))
                ])
            })
            .collect();
        let (s, t) = push_json(base, &json!({"streams": [{"stream": labels, "values": values}]})).await;
        assert_eq!(s, 204, "{t}");
    }
}

async fn count(base: &str, query: &str, start: i64, end: i64) -> usize {
    let v = get_json(
        base,
        "/loki/api/v1/query_range",
        &[("query", query), ("start", &start.to_string()), ("end", &end.to_string()), ("limit", "5000")],
    )
    .await;
    lines(&v).len()
}

fn running(srv: &TestServer) -> &lokid::server::Running {
    srv.running.as_ref().expect("running")
}

#[tokio::test]
async fn retention_deletes_expired_data_streams_and_disk_space() {
    let srv = TestServer::start_with(|c| {
        c.compactor.retention_enabled = true;
        c.limits.retention_period = Duration::from_secs(336 * 3600);
        c.compactor.compaction_interval = Duration::from_secs(3600);
        c.limits.ingestion_rate_mb = 1000.0; // this test pushes 6 MB at once
        c.limits.ingestion_burst_size_mb = 1000.0;
    })
    .await;
    let old = now() - 20 * 24 * H;
    push_many(&srv.base, json!({"app": "old"}), old, 6000).await;
    push_many(&srv.base, json!({"app": "fresh"}), now() - H, 100).await;
    let st = &running(&srv).state;
    st.engine.rocks.flush().unwrap();
    let dir = srv.dir.path().join("lokid");
    let before = dir_size(&dir);
    assert_eq!(count(&srv.base, r#"{app="old"}"#, old - H, old + H).await, 5000);

    running(&srv).compact_now().await;

    assert_eq!(count(&srv.base, r#"{app="old"}"#, old - H, old + H).await, 0);
    assert_eq!(count(&srv.base, r#"{app="fresh"}"#, now() - 2 * H, now()).await, 100);
    // The expired stream is gone from the registry, labels and series.
    assert_eq!(st.engine.registry.len(), 1);
    let (start, end) = ((old - H).to_string(), (old + H).to_string());
    let v = get_json(&srv.base, "/loki/api/v1/label/app/values", &[("start", &start), ("end", &end)]).await;
    assert!(v.get("data").is_none(), "{v}");
    let after = dir_size(&dir);
    assert!(after < before, "data directory should shrink: {before} -> {after}");
    let (_, metrics) = get(&srv.base, "/metrics", &[]).await;
    assert!(metrics.contains("lokid_compactor_removed_streams_total 1"), "{metrics}");
    assert!(!metrics.contains("lokid_compactor_deleted_bytes_total 0\n"), "bytes deleted must be counted");
    srv.stop().await;
}

#[tokio::test]
async fn retention_stream_rules_override_the_global_period() {
    let srv = TestServer::start_with(|c| {
        c.compactor.retention_enabled = true;
        c.limits.retention_period = Duration::ZERO; // keep forever by default
        c.retention_streams = vec![RetentionStream {
            selector: r#"{level="debug"}"#.into(),
            priority: 1,
            period: Duration::from_secs(24 * 3600),
        }];
    })
    .await;
    let old = now() - 3 * 24 * H;
    push_many(&srv.base, json!({"app": "a", "level": "debug"}), old, 10).await;
    push_many(&srv.base, json!({"app": "a", "level": "info"}), old, 10).await;
    running(&srv).compact_now().await;
    assert_eq!(count(&srv.base, r#"{app="a", level="debug"}"#, old - H, old + H).await, 0);
    assert_eq!(count(&srv.base, r#"{app="a", level="info"}"#, old - H, old + H).await, 10);
    srv.stop().await;
}

#[tokio::test]
async fn size_cap_drops_the_oldest_days_first() {
    let srv = TestServer::start_with(|c| {
        c.compactor.retention_max_disk_bytes = 4 << 20;
        c.limits.ingestion_rate_mb = 1000.0; // this test pushes 12 MB at once
        c.limits.ingestion_burst_size_mb = 1000.0;
    })
    .await;
    let base_t = now() - 10 * 24 * H;
    for day in 0..4 {
        push_many(&srv.base, json!({"app": "cap"}), base_t + day * 24 * H, 3000).await;
    }
    running(&srv).state.engine.rocks.flush().unwrap();
    running(&srv).compact_now().await;
    let dir = srv.dir.path().join("lokid");
    assert!(dir_size(&dir) <= 4 << 20, "size {} over the cap", dir_size(&dir));
    // The newest day survives; the oldest went first.
    assert_eq!(count(&srv.base, r#"{app="cap"}"#, base_t + 3 * 24 * H, base_t + 4 * 24 * H).await, 3000);
    assert_eq!(count(&srv.base, r#"{app="cap"}"#, base_t, base_t + 24 * H).await, 0);
    srv.stop().await;
}

#[tokio::test]
async fn delete_api_follows_loki() {
    let srv = TestServer::start_with(|c| {
        c.compactor.retention_enabled = true;
        c.compactor.delete_request_cancel_period = Duration::ZERO;
    })
    .await;
    let t = now() - 2 * H;
    let body = json!({"streams": [{"stream": {"app": "del"}, "values": [
        [t.to_string(), "keep me"], [(t + 1).to_string(), "secret password=1"], [(t + 2).to_string(), "keep too"]]}]});
    assert_eq!(push_json(&srv.base, &body).await.0, 204);
    let c = client();
    let url = srv.url("/loki/api/v1/delete");
    let secs = |ns: i64| (ns / 1_000_000_000).to_string();
    for (params, want) in [
        (vec![("start", secs(t - H))], "query not set"),
        (vec![("query", r#"{app="del"}"#.to_string())], "start time not set"),
        (
            vec![("query", r#"{app="del"}"#.to_string()), ("start", "12345".to_string())],
            "invalid start time: require unix seconds or RFC3339 format",
        ),
        (
            vec![("query", r#"{app="del"}"#.to_string()), ("start", secs(t)), ("end", secs(t - H))],
            "start time can't be greater than or equal to end time",
        ),
        (
            vec![("query", r#"{app="del"}"#.to_string()), ("start", secs(t)), ("end", secs(now() + 10 * H))],
            "deletes in the future are not allowed",
        ),
    ] {
        let r = c.post(&url).query(&params).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 400);
        assert_eq!(r.text().await.unwrap(), want);
    }
    let r = c
        .post(&url)
        .query(&[("query", r#"{app="del"} |= "password""#.to_string()), ("start", secs(t - H)), ("end", secs(t + H))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let id = r.headers()["X-Delete-Request-ID"].to_str().unwrap().to_string();
    let list: serde_json::Value = c.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(list[0]["request_id"], id.as_str());
    assert_eq!(list[0]["status"], "received");
    assert_eq!(list[0]["user_id"], "");

    running(&srv).compact_now().await;
    let v = get_json(
        &srv.base,
        "/loki/api/v1/query_range",
        &[("query", r#"{app="del"}"#), ("start", &(t - H).to_string()), ("end", &(t + H).to_string())],
    )
    .await;
    let mut got: Vec<String> = lines(&v).into_iter().map(|(_, l)| l).collect();
    got.sort();
    assert_eq!(got, vec!["keep me", "keep too"]);
    let list: serde_json::Value = c.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(list[0]["status"], "processed");
    let r = c.delete(&url).query(&[("request_id", id.as_str())]).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(r.text().await.unwrap(), "deletion of request which is in process or already processed is not allowed");
    let r = c.delete(&url).query(&[("request_id", "nope")]).send().await.unwrap();
    assert_eq!(
        (r.status().as_u16(), r.text().await.unwrap().as_str()),
        (404, "could not find delete request with given id")
    );
    srv.stop().await;
}

#[tokio::test]
async fn delete_requests_can_be_cancelled_within_the_cancel_period() {
    let srv = TestServer::start_with(|c| c.compactor.retention_enabled = true).await;
    let c = client();
    let url = srv.url("/loki/api/v1/delete");
    let start = ((now() - H) / 1_000_000_000).to_string();
    let r = c.post(&url).query(&[("query", r#"{app="x"}"#), ("start", start.as_str())]).send().await.unwrap();
    let id = r.headers()["X-Delete-Request-ID"].to_str().unwrap().to_string();
    let r = c.delete(&url).query(&[("request_id", id.as_str())]).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let list: serde_json::Value = c.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(list, json!([]));
    srv.stop().await;
}

#[tokio::test]
async fn delete_api_needs_retention() {
    let srv = TestServer::start().await;
    let (s, body) = get(&srv.base, "/loki/api/v1/delete", &[]).await;
    assert_eq!((s, body.as_str()), (400, "Retention is not enabled"));
    srv.stop().await;
}
