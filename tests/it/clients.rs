//! Real clients against the real server. winston + winston-loki (Node.js, protobuf + snappy;
//! `tests/clients/winston/send.js`) push to an in-process lokid; the lines must come back from
//! `query_range` with the `level` label the transport sets, and over a live tail opened
//! before the push.
//!
//! Needs `node` and `npm` (`bash scripts/dev.sh test` installs them). Without them this test
//! fails on purpose: a skipped client test would look like a passing one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use crate::harness::*;
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

const JOB_SELECTOR: &str = r#"{job="winston-test"}"#;

fn winston_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/winston")
}

/// `tool --version`, or a failure that says how to get the tool.
fn require_tool(tool: &str) -> String {
    match Command::new(tool).arg("--version").output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        Ok(out) => panic!(
            "`{tool} --version` failed ({}): {}\nThe winston client test needs Node.js and npm: \
             run `bash scripts/dev.sh test` (installs them) or `apt-get install -y nodejs npm`.",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!(
            "`{tool}` not found ({e}).\nThe winston client test needs Node.js and npm: \
             run `bash scripts/dev.sh test` (installs them) or `apt-get install -y nodejs npm`."
        ),
    }
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// `npm install` in `dir`, unless node_modules is newer than package.json and the lock file
/// and holds the packages send.js needs.
fn npm_install(dir: &Path) {
    let installed = mtime(&dir.join("node_modules/.package-lock.json"));
    let fresh = installed.is_some()
        && ["package.json", "package-lock.json"].iter().all(|f| mtime(&dir.join(f)) <= installed)
        && ["winston", "winston-loki", "snappy"]
            .iter()
            .all(|m| dir.join("node_modules").join(m).join("package.json").is_file());
    if fresh {
        return;
    }
    let out = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .output()
        .expect("run npm install");
    assert!(
        out.status.success(),
        "npm install in {} failed ({}):\n{}\n{}",
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// (level label, line) of every entry in a list of Loki streams (query result or tail frame).
fn level_lines(streams: &serde_json::Value, out: &mut Vec<(String, String)>) {
    for s in streams.as_array().expect("streams array") {
        let labels = &s["stream"];
        assert_eq!(labels["job"], "winston-test", "labels {labels}");
        assert_eq!(labels["service"], "api-server", "labels {labels}");
        let level = labels["level"].as_str().unwrap_or_else(|| panic!("no level label in {labels}")).to_string();
        for e in s["values"].as_array().expect("values") {
            out.push((level.clone(), e[1].as_str().expect("line").to_string()));
        }
    }
}

/// Reads tail frames until `want` entries containing `marker` arrived or `deadline` passed.
async fn collect_tail<S>(mut ws: S, marker: String, want: usize, deadline: Instant) -> (Vec<(String, String)>, S)
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let mut got = Vec::new();
    while got.len() < want {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = match tokio::time::timeout(left, ws.next()).await {
            Err(_) => break, // deadline
            Ok(None) => panic!("tail websocket closed after {} entries", got.len()),
            Ok(Some(m)) => m.expect("no websocket error"),
        };
        match msg {
            Message::Text(t) => {
                let frame: serde_json::Value = serde_json::from_str(&t).expect("json frame");
                let mut entries = Vec::new();
                level_lines(&frame["streams"], &mut entries);
                got.extend(entries.into_iter().filter(|(_, l)| l.contains(&marker)));
            }
            Message::Close(c) => panic!("tail websocket closed by the server after {} entries: {c:?}", got.len()),
            _ => {}
        }
    }
    (got, ws)
}

fn sorted(mut v: Vec<(String, String)>) -> Vec<(String, String)> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn winston_loki_protobuf_push_is_queryable_and_tailed() {
    let node = require_tool("node");
    let npm = require_tool("npm");
    eprintln!("node {node}, npm {npm}");
    let dir = winston_dir();
    npm_install(&dir);

    let srv = TestServer::start().await;
    let marker = format!("winston-marker-{}", lokid::clock::now_ns());
    let n = 40;
    let mut expected: Vec<(String, String)> =
        (0..n).map(|i| ("info".to_string(), format!("{marker} info line {i}"))).collect();
    expected.push(("error".to_string(), format!("{marker} error line")));
    let expected = sorted(expected);

    // The tail is open (subscribed) before anything is sent.
    let ws_url =
        format!("ws://{}/loki/api/v1/tail?query={}", srv.base.trim_start_matches("http://"), urlencode(JOB_SELECTOR));
    let (ws, _) = tokio_tungstenite::connect_async(ws_url).await.expect("websocket handshake");
    let tail = tokio::spawn(collect_tail(ws, marker.clone(), expected.len(), Instant::now() + Duration::from_secs(60)));

    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new("node")
            .arg("send.js")
            .arg(&srv.base)
            .arg(&marker)
            .arg(n.to_string())
            .current_dir(&dir)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("node send.js finished within 60s")
    .expect("run node send.js");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "node send.js failed ({}):\nstdout: {stdout}\nstderr: {stderr}", out.status);
    eprintln!("{}", stdout.trim());

    // (a) query_range over the last 5 minutes.
    let now = lokid::clock::now_ns();
    let (start, end) = ((now - 300_000_000_000).to_string(), (now + 1_000_000_000).to_string());
    let query = format!(r#"{JOB_SELECTOR} |= "{marker}""#);
    let v = get_json(
        &srv.base,
        "/loki/api/v1/query_range",
        &[
            ("query", query.as_str()),
            ("start", start.as_str()),
            ("end", end.as_str()),
            ("limit", "1000"),
            ("direction", "forward"),
        ],
    )
    .await;
    assert_eq!(v["status"], "success", "{v}");
    assert_eq!(v["data"]["resultType"], "streams", "{v}");
    let mut got = Vec::new();
    level_lines(&v["data"]["result"], &mut got);
    assert_eq!(sorted(got), expected, "query_range {query}");
    let per_level: BTreeMap<String, usize> =
        v["data"]["result"].as_array().unwrap().iter().fold(BTreeMap::new(), |mut m, s| {
            *m.entry(s["stream"]["level"].as_str().unwrap().to_string()).or_default() +=
                s["values"].as_array().unwrap().len();
            m
        });
    assert_eq!(per_level, BTreeMap::from([("error".to_string(), 1), ("info".to_string(), n)]));

    // (b) the tail opened before the push saw every line.
    let (tailed, mut ws) = tail.await.expect("tail task");
    assert_eq!(sorted(tailed), expected, "lines received over the tail websocket");

    let _ = ws.close(None).await;
    srv.stop().await;
}
