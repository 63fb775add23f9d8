//! An acknowledged push survives `kill -9` of the real binary.

use std::time::Duration;

use crate::harness::*;
use serde_json::json;

#[tokio::test]
async fn acknowledged_pushes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = Lokid::spawn(dir.path(), "");
    srv.wait_ready(Duration::from_secs(30)).await;
    let t0: i64 = 1_770_033_600_000_000_000;
    let mut acked = Vec::new();
    for batch in 0..50i64 {
        let values: Vec<serde_json::Value> =
            (0..20i64).map(|i| json!([(t0 + batch * 1000 + i).to_string(), format!("b{batch} e{i}")])).collect();
        let body =
            json!({"streams": [{"stream": {"app": "durable", "batch": (batch % 3).to_string()}, "values": values}]});
        let (s, text) = push_json(&srv.base, &body).await;
        assert_eq!(s, 204, "{text}");
        acked.extend((0..20i64).map(|i| format!("b{batch} e{i}")));
    }
    srv.kill9();

    let mut srv = srv.respawn();
    srv.wait_ready(Duration::from_secs(30)).await;
    let start = t0.to_string();
    let end = (t0 + 3_600_000_000_000).to_string();
    let v = get_json(
        &srv.base,
        "/loki/api/v1/query_range",
        &[("query", r#"{app="durable"}"#), ("start", &start), ("end", &end), ("limit", "5000")],
    )
    .await;
    let mut got: Vec<String> = lines(&v).into_iter().map(|(_, l)| l).collect();
    got.sort();
    acked.sort();
    assert_eq!(got, acked);
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_shuts_down_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = Lokid::spawn(dir.path(), "");
    srv.wait_ready(Duration::from_secs(30)).await;
    let pid = srv.child.id().to_string();
    let status = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(code) = srv.child.try_wait().unwrap() {
            assert!(code.success(), "lokid exited with {code}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "lokid did not stop after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
