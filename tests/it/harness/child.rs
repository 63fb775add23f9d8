//! The real `lokid` binary as a child process: its own config and captured log, a port no
//! other test of this process is given, readiness, SIGKILL and restart on the same data,
//! and its resident memory.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// A free port for a child `lokid`, never the same one twice in this process: the child binds
/// it only later, and all tests share the process, so without the register two tests could
/// be handed the same port (or one restarted child's port) and talk to each other's server.
pub fn free_port() -> u16 {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if GIVEN.lock().unwrap().insert(port) {
            return port;
        }
    }
}

/// A `lokid` child process. Killed (SIGKILL) and reaped on drop.
pub struct Lokid {
    pub child: Child,
    pub base: String,
    pub port: u16,
    pub log: PathBuf,
    config_dir: PathBuf,
    data: PathBuf,
    extra_yaml: String,
}

impl Lokid {
    /// Starts the binary with `dir/config.yaml`, `dir/data` as data directory and its log in
    /// `dir/lokid.log`; `extra_yaml` is appended to the config (top-level sections).
    pub fn spawn(dir: &Path, extra_yaml: &str) -> Lokid {
        Self::spawn_at(dir, &dir.join("data"), &dir.join("lokid.log"), extra_yaml)
    }

    /// Like [`Lokid::spawn`], with the data directory and the log where the caller wants them
    /// (the full-disk tests put the data on a small tmpfs).
    pub fn spawn_at(config_dir: &Path, data: &Path, log: &Path, extra_yaml: &str) -> Lokid {
        Self::launch(config_dir, data, log, extra_yaml, free_port())
    }

    /// A new process with the same port, config and data directory: the restart after a
    /// `kill9` (or an exit). Its log is appended to the same file.
    pub fn respawn(&self) -> Lokid {
        Self::launch(&self.config_dir, &self.data, &self.log, &self.extra_yaml, self.port)
    }

    fn launch(config_dir: &Path, data: &Path, log: &Path, extra_yaml: &str, port: u16) -> Lokid {
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
        Lokid {
            child,
            base: format!("http://127.0.0.1:{port}"),
            port,
            log: log.to_path_buf(),
            config_dir: config_dir.to_path_buf(),
            data: data.to_path_buf(),
            extra_yaml: extra_yaml.to_string(),
        }
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
