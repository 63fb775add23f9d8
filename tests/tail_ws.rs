//! Live tail over a real websocket: history first, then entries as they are pushed.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use support::*;
use tokio_tungstenite::tungstenite::Message;

async fn next_frame(
    ws: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
) -> serde_json::Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame within 10s")
            .expect("stream open")
            .expect("no websocket error");
        if let Message::Text(t) = msg {
            return serde_json::from_str(&t).expect("json frame");
        }
    }
}

fn frame_lines(v: &serde_json::Value) -> Vec<String> {
    v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["values"].as_array().unwrap().iter().map(|e| e[1].as_str().unwrap().to_string()))
        .collect()
}

#[tokio::test]
async fn tail_sends_history_then_live_entries() {
    let srv = TestServer::start().await;
    let now = lokid::clock::now_ns();
    let body = json!({"streams": [{"stream": {"app": "tailme"}, "values": [[(now - 2_000_000_000).to_string(), "old line"]]}]});
    assert_eq!(push_json(&srv.base, &body).await.0, 204);

    let url = format!(
        "ws://{}/loki/api/v1/tail?query={}",
        srv.base.trim_start_matches("http://"),
        urlencode(r#"{app="tailme"} |= "line""#)
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("websocket handshake");
    let first = next_frame(&mut ws).await;
    assert_eq!(frame_lines(&first), vec!["old line"]);

    let now = lokid::clock::now_ns();
    let body = json!({"streams": [
        {"stream": {"app": "tailme"}, "values": [[now.to_string(), "new line"], [(now + 1).to_string(), "filtered out"]]},
        {"stream": {"app": "other"}, "values": [[now.to_string(), "other line"]]}
    ]});
    assert_eq!(push_json(&srv.base, &body).await.0, 204);
    let live = next_frame(&mut ws).await;
    assert_eq!(frame_lines(&live), vec!["new line"]);
    let stream = &live["streams"][0]["stream"];
    assert_eq!(stream["app"], "tailme");
    assert_eq!(live["streams"][0]["values"][0][0], now.to_string());

    ws.close(None).await.expect("clean close");
    srv.stop().await;
}

#[tokio::test]
async fn tail_rejects_bad_queries_before_upgrade() {
    let srv = TestServer::start().await;
    let (s, body) = get(&srv.base, "/loki/api/v1/tail", &[("query", "{app=")]).await;
    assert_eq!(s, 400, "{body}");
    assert!(body.starts_with("parse error"), "{body}");
    srv.stop().await;
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
