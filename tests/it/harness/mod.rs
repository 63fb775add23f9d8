//! The one harness of the integration tests: a server in this process on 127.0.0.1:0
//! ([`TestServer`]), the real `lokid` binary as a child process that can be killed with
//! SIGKILL and restarted ([`child::Lokid`]), faults ([`disk`]: a full disk on a size-limited
//! tmpfs), HTTP helpers for pushing and querying, and [`exclusive`] for the few load tests
//! that must not overlap each other in this one test process.
#![allow(dead_code)]

pub mod child;
pub mod disk;
mod http;

use std::path::Path;
use std::time::Duration;

pub use child::{Lokid, GENEROUS_LIMITS};
pub use http::*;
use lokid::config::Config;
use lokid::server::{self, Running};

/// A server started in this process with its own temporary data directory.
pub struct TestServer {
    pub running: Option<Running>,
    pub base: String,
    pub dir: tempfile::TempDir,
}

/// The in-process server's config: `dir` as data directory, a port the OS picks.
pub fn config_for(dir: &Path) -> Config {
    Config {
        http_listen_address: "127.0.0.1".into(),
        http_listen_port: 0,
        data_dir: dir.to_path_buf(),
        ..Config::default()
    }
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// Settings are passed in the `Config`, never through the environment: every test of
    /// this program shares one process.
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

/// Held by the load tests (soak, kill -9 under concurrent pushes, full disk) for their whole
/// run. They drive a child `lokid` as fast as it goes and bound its restart time, memory or
/// recovery time; run at the same time on a small machine they would measure each other.
/// Every other test runs in parallel with them. An async lock (not poisoned by a failing
/// test) that works across the tests' separate tokio runtimes.
pub async fn exclusive() -> tokio::sync::MutexGuard<'static, ()> {
    static LOAD_TESTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOAD_TESTS.lock().await
}

/// Runs `f` with an overall deadline; on expiry the test fails naming `what`.
pub async fn bounded<T>(what: &str, limit: Duration, f: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(limit, f).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: did not finish within {limit:?}"),
    }
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
