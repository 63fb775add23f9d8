//! HTTP helpers shared by every test: one client, pushes (Loki JSON, protobuf + snappy as
//! Promtail sends it), GETs with or without a tenant, and whole-result queries.

use std::time::Duration;

use lokid::api::wire::push::{EntryAdapter, PushRequest, StreamAdapter, Timestamp};
use prost::Message;

/// The tests' HTTP client: a 30 s timeout per request.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client")
}

/// Pushes a Loki JSON body; returns (status, body text).
pub async fn push_json(base: &str, body: &serde_json::Value) -> (u16, String) {
    let r = client()
        .post(format!("{base}/loki/api/v1/push"))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("push");
    let s = r.status().as_u16();
    (s, r.text().await.unwrap_or_default())
}

/// GET with query parameters; returns (status, body text).
pub async fn get(base: &str, path: &str, params: &[(&str, &str)]) -> (u16, String) {
    get_text(&client(), base, path, params, None).await
}

pub async fn get_json(base: &str, path: &str, params: &[(&str, &str)]) -> serde_json::Value {
    let (status, body) = get(base, path, params).await;
    assert_eq!(status, 200, "GET {path} {params:?} -> {status}: {body}");
    serde_json::from_str(&body).expect("json body")
}

/// GET returning (status, body); panics only when no answer arrives.
pub async fn get_text(
    c: &reqwest::Client,
    base: &str,
    path: &str,
    params: &[(&str, &str)],
    tenant: Option<&str>,
) -> (u16, String) {
    let mut r = c.get(format!("{base}{path}")).query(params);
    if let Some(t) = tenant {
        r = r.header("X-Scope-OrgID", t);
    }
    let resp = r.send().await.unwrap_or_else(|e| panic!("GET {path} {params:?}: {e}"));
    let s = resp.status().as_u16();
    (s, resp.text().await.unwrap_or_default())
}

/// All (ts, line) of a streams result, in response order per stream, flattened.
pub fn lines(v: &serde_json::Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for s in v["data"]["result"].as_array().expect("result array") {
        for e in s["values"].as_array().expect("values") {
            out.push((e[0].as_str().unwrap().to_string(), e[1].as_str().unwrap().to_string()));
        }
    }
    out
}

/// One stream of a protobuf push: label text and (ts, line) entries.
pub struct ProtoStream<'a> {
    pub labels: &'a str,
    pub entries: Vec<(i64, String)>,
}

/// A snappy-compressed protobuf `PushRequest`, as Promtail sends it.
pub fn proto_body(streams: &[ProtoStream<'_>]) -> Vec<u8> {
    let req = PushRequest {
        streams: streams
            .iter()
            .map(|s| StreamAdapter {
                labels: s.labels.to_string(),
                entries: s
                    .entries
                    .iter()
                    .map(|(ts, line)| EntryAdapter {
                        timestamp: Some(Timestamp::from_nanos(*ts)),
                        line: line.clone(),
                        structured_metadata: vec![],
                        parsed: vec![],
                    })
                    .collect(),
                hash: 0,
            })
            .collect(),
        format: String::new(),
    };
    snap::raw::Encoder::new().compress_vec(&req.encode_to_vec()).unwrap()
}

/// POSTs a protobuf body; Ok(status) or Err when no HTTP answer came back.
pub async fn post_proto(c: &reqwest::Client, base: &str, body: Vec<u8>, tenant: Option<&str>) -> Result<u16, String> {
    let mut r = c.post(format!("{base}/loki/api/v1/push")).header("Content-Type", "application/x-protobuf").body(body);
    if let Some(t) = tenant {
        r = r.header("X-Scope-OrgID", t);
    }
    match r.send().await {
        Ok(resp) => {
            let s = resp.status().as_u16();
            // Read the body so that the answer is complete, not just its head.
            let _ = resp.bytes().await;
            Ok(s)
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Every (stream labels as JSON text, ts, line) a log query returns over [start, end].
pub async fn query_all(
    c: &reqwest::Client,
    base: &str,
    query: &str,
    start: i64,
    end: i64,
) -> Vec<(String, i64, String)> {
    let (s, body) = get_text(
        c,
        base,
        "/loki/api/v1/query_range",
        &[
            ("query", query),
            ("start", &start.to_string()),
            ("end", &end.to_string()),
            ("limit", "10000000"),
            ("direction", "forward"),
        ],
        None,
    )
    .await;
    assert_eq!(s, 200, "query_range {query}: {body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    let mut out = Vec::new();
    for st in v["data"]["result"].as_array().expect("streams result") {
        let labels = st["stream"].to_string();
        for e in st["values"].as_array().unwrap() {
            out.push((labels.clone(), e[0].as_str().unwrap().parse().unwrap(), e[1].as_str().unwrap().to_string()));
        }
    }
    out
}
