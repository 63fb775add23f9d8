//! Live tail over a real websocket: history first, then entries as they are pushed.

use std::time::Duration;

use crate::harness::*;
use futures_util::StreamExt;
use serde_json::json;
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

/// (stream labels, timestamp, line) of every entry in a tail frame or a query_range answer.
fn entries_of(streams: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> =
        streams
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| {
                let labels = s["stream"].to_string();
                s["values"].as_array().unwrap().iter().map(move |v| {
                    (labels.clone(), v[0].as_str().unwrap().to_string(), v[1].as_str().unwrap().to_string())
                })
            })
            .collect();
    out.sort();
    out
}

/// Every kind of pipeline stage applies to live entries exactly as to `query_range`: an
/// entry a stage drops never reaches the websocket, and parsed labels and rewritten lines
/// arrive as `query_range` returns them.
#[tokio::test]
async fn live_entries_run_the_whole_pipeline_like_query_range() {
    let srv = TestServer::start().await;
    let json_lines = [r#"{"level":"info","msg":"fine","n":1}"#, r#"{"level":"error","msg":"boom","n":2}"#, "not json"];
    let logfmt_lines = ["level=info msg=fine n=1", "level=error msg=\"bad thing\" n=2"];
    let cases: Vec<(&str, &[&str], usize)> = vec![
        (r#"| json | level="error""#, &json_lines, 1),
        (r#"| json | __error__="""#, &json_lines, 2),
        (r#"| json | n > 1 | line_format "{{.msg}} ({{.level}})""#, &json_lines, 1),
        (r#"| logfmt | level="error" | label_format what=msg"#, &logfmt_lines, 1),
        (r#"| logfmt | drop n, msg"#, &logfmt_lines, 2),
        (r#"| logfmt | keep level"#, &logfmt_lines, 2),
        (r#"| regexp "level=(?P<lvl>\\w+)" | lvl="info""#, &logfmt_lines, 1),
        (r#"| pattern "level=<lvl> msg=<_>" | lvl!="info""#, &logfmt_lines, 1),
        (r#"|= "boom" | decolorize"#, &json_lines, 1),
    ];
    for (i, (pipeline, lines, kept)) in cases.into_iter().enumerate() {
        let app = format!("live-{i}");
        let query = format!(r#"{{app="{app}"}} {pipeline}"#);
        let url =
            format!("ws://{}/loki/api/v1/tail?query={}", srv.base.trim_start_matches("http://"), urlencode(&query));
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("websocket handshake");
        let now = lokid::clock::now_ns();
        let values: Vec<serde_json::Value> =
            lines.iter().enumerate().map(|(k, l)| json!([(now + k as i64).to_string(), l])).collect();
        let body = json!({"streams": [{"stream": {"app": app}, "values": values}]});
        assert_eq!(push_json(&srv.base, &body).await.0, 204);
        let live = entries_of(&next_frame(&mut ws).await["streams"]);
        let start = (now - 3_600_000_000_000).to_string();
        let end = (now + 3_600_000_000_000).to_string();
        let params =
            [("query", query.as_str()), ("start", start.as_str()), ("end", end.as_str()), ("direction", "forward")];
        let answer = get_json(&srv.base, "/loki/api/v1/query_range", &params).await;
        let want = entries_of(&answer["data"]["result"]);
        assert_eq!(want.len(), kept, "{query}: {want:?}");
        assert_eq!(live, want, "{query}");
        ws.close(None).await.expect("clean close");
    }
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
