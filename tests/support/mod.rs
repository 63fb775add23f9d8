//! Shared helpers for integration tests: start the real server (in process on
//! 127.0.0.1:0, or the `lokid` binary), push and query over HTTP.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lokid::config::Config;
use lokid::server::{self, Running};

/// A server started in this process with its own temporary data directory.
pub struct TestServer {
    pub running: Option<Running>,
    pub base: String,
    pub dir: tempfile::TempDir,
}

pub fn config_for(dir: &Path) -> Config {
    let mut c = Config::default();
    c.http_listen_address = "127.0.0.1".into();
    c.http_listen_port = 0;
    c.data_dir = dir.to_path_buf();
    c
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tune: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = config_for(dir.path());
        tune(&mut c);
        let running = server::start(c).await.expect("server starts");
        let base = format!("http://{}", running.addr);
        TestServer { running: Some(running), base, dir }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }
}

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
    let r = client().get(format!("{base}{path}")).query(params).send().await.expect("get");
    let s = r.status().as_u16();
    (s, r.text().await.unwrap_or_default())
}

pub async fn get_json(base: &str, path: &str, params: &[(&str, &str)]) -> serde_json::Value {
    let (status, body) = get(base, path, params).await;
    assert_eq!(status, 200, "GET {path} {params:?} -> {status}: {body}");
    serde_json::from_str(&body).expect("json body")
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

/// The `lokid` binary built by cargo for this test run.
pub fn lokid_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_lokid"))
}

/// A `lokid` child process on a free port with `dir` as data directory.
pub struct ChildServer {
    pub child: Child,
    pub base: String,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl ChildServer {
    pub fn spawn(dir: &Path, port: u16) -> ChildServer {
        let cfg = dir.join("config.yaml");
        std::fs::write(
            &cfg,
            format!(
                "auth_enabled: false\nserver:\n  http_listen_address: 127.0.0.1\n  http_listen_port: {port}\ncommon:\n  path_prefix: {}\n",
                dir.join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new(lokid_bin())
            .arg(format!("-config.file={}", cfg.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn lokid");
        ChildServer { child, base: format!("http://127.0.0.1:{port}") }
    }

    /// Waits until `/ready` answers 200.
    pub async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client().get(format!("{}/ready", self.base)).send().await {
                if r.status().as_u16() == 200 {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "lokid did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill(); // SIGKILL on Unix
        let _ = self.child.wait();
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
