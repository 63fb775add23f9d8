//! Helpers for the fault, soak and isolation tests: a `lokid` child process with its own
//! config and captured log, protobuf push bodies, whole-result queries, RSS sampling, and
//! deterministic line payloads that can be checked byte for byte after recovery.
#![allow(dead_code)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lokid::api::wire::push::{EntryAdapter, PushRequest, StreamAdapter, Timestamp};
use prost::Message;

/// Limits high enough that the tests measure durability and isolation, not rate limiting:
/// 8 concurrent pushers exceed Loki's default 4 MB/s per tenant.
pub const GENEROUS_LIMITS: &str = "limits_config:
  max_entries_limit_per_query: 10000000
  max_query_series: 100000
  ingestion_rate_mb: 100000
  ingestion_burst_size_mb: 100000
  per_stream_rate_limit: 100GB
  per_stream_rate_limit_burst: 100GB
  max_global_streams_per_user: 0
";

/// A `lokid` child process. Killed (SIGKILL) and reaped on drop.
pub struct Lokid {
    pub child: Child,
    pub base: String,
    pub port: u16,
    pub log: PathBuf,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Lokid {
    /// Starts the binary with `data` as `common.path_prefix`; `extra_yaml` is appended to the
    /// config (top-level sections). stdout and stderr (lokid's log) go to `log`.
    pub fn spawn(config_dir: &Path, data: &Path, port: u16, extra_yaml: &str, log: &Path) -> Lokid {
        let cfg = config_dir.join("config.yaml");
        std::fs::write(
            &cfg,
            format!(
                "auth_enabled: false\nserver:\n  http_listen_address: 127.0.0.1\n  http_listen_port: {port}\n\
                 common:\n  path_prefix: {}\n{extra_yaml}",
                data.display()
            ),
        )
        .unwrap();
        let err = File::options().create(true).append(true).open(log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_lokid"))
            .arg(format!("-config.file={}", cfg.display()))
            .env("NO_COLOR", "1")
            .stdout(Stdio::from(err.try_clone().expect("log file")))
            .stderr(Stdio::from(err))
            .spawn()
            .expect("spawn lokid");
        Lokid { child, base: format!("http://127.0.0.1:{port}"), port, log: log.to_path_buf() }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Polls `/ready` until 200; returns how long that took, or panics after `limit`
    /// (with the log) — also when the process exits first.
    pub async fn wait_ready(&mut self, limit: Duration) -> Duration {
        let started = Instant::now();
        let c = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
        loop {
            if let Ok(r) = c.get(format!("{}/ready", self.base)).send().await {
                if r.status().as_u16() == 200 {
                    return started.elapsed();
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("lokid exited with {status} before it was ready; log:\n{}", self.log_text());
            }
            assert!(started.elapsed() < limit, "lokid not ready within {limit:?}; log:\n{}", self.log_text());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill(); // SIGKILL on Unix
        let _ = self.child.wait();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// VmRSS of the child in KiB (None once it is gone).
    pub fn rss_kib(&self) -> Option<u64> {
        rss_kib(self.pid())
    }
}

impl Drop for Lokid {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
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

/// A deterministic printable payload of `len` bytes for `seed` (xorshift64*), so that a line
/// read back after a crash can be compared byte for byte with what was sent.
pub fn payload(seed: u64, len: usize) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ";
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            alphabet[(x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 58) as usize % alphabet.len()] as char
        })
        .collect()
}

/// Runs `f` with an overall deadline; on expiry the test fails naming `what`.
pub async fn bounded<T>(what: &str, limit: Duration, f: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(limit, f).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: did not finish within {limit:?}"),
    }
}
pub mod disk;
