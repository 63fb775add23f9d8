//! The full-disk fault: a size-limited tmpfs holding the data directory and a filler file,
//! and the scenario the full-disk tests share: pushes until the disk is full, reads while
//! full, recovery when the filler is deleted, and a crash/restart check at the end.
//!
//! Mounting needs root. Without it a test prints SKIPPED and passes — unless it runs in CI
//! (`CI=true`) or `LOKID_REQUIRE_MOUNT` is set: then it fails, so that CI cannot go green
//! without the full-disk tests having run.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::{
    bounded, client, exclusive, get_text, payload, proto_body, query_all, Lokid, ProtoStream, GENEROUS_LIMITS,
};

const T0: i64 = 1_770_033_600_000_000_000;
const ENTRIES: u64 = 100;
const LINE_BYTES: usize = 2000;

/// A size-limited tmpfs, unmounted on drop (lazily if still busy).
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    pub fn mount(dir: &Path, mib: u64) -> Result<Tmpfs, String> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m,mode=0755"), "lokid-full-disk-test"])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!("mount failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount").arg(&self.0).status().map(|s| s.success()).unwrap_or(false);
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

fn line(b: u64, i: u64) -> String {
    format!("b{b} e{i} {}", payload(b * ENTRIES + i, LINE_BYTES))
}

fn ts(b: u64, i: u64) -> i64 {
    T0 + (b * ENTRIES + i) as i64 * 1_000_000
}

fn body(b: u64, n: u64) -> Vec<u8> {
    proto_body(&[ProtoStream {
        labels: r#"{job="fulldisk"}"#,
        entries: (0..n).map(|i| (ts(b, i), line(b, i))).collect(),
    }])
}

async fn push(c: &reqwest::Client, base: &str, body: Vec<u8>) -> (u16, String) {
    let r = c
        .post(format!("{base}/loki/api/v1/push"))
        .header("Content-Type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .expect("the server answers every push, full disk or not");
    let s = r.status().as_u16();
    (s, r.text().await.unwrap_or_default())
}

#[derive(Default)]
struct Ledger {
    /// line → ts, for pushes answered 204.
    acked: HashMap<String, i64>,
    /// line → ts, for every push sent.
    sent: HashMap<String, i64>,
    /// batch → number of entries sent.
    batches: HashMap<u64, u64>,
}

impl Ledger {
    fn send(&mut self, b: u64, n: u64) {
        self.batches.insert(b, n);
        for i in 0..n {
            self.sent.insert(line(b, i), ts(b, i));
        }
    }
    fn ack(&mut self, b: u64, n: u64) {
        for i in 0..n {
            self.acked.insert(line(b, i), ts(b, i));
        }
    }
}

/// Reads everything back and checks it against the ledger; returns the number of entries.
async fn check_reads(srv: &Lokid, ledger: &Ledger, when: &str) -> usize {
    let c = client();
    let got = query_all(&c, &srv.base, r#"{job="fulldisk"}"#, T0, T0 + 3_600_000_000_000).await;
    let mut seen = HashSet::new();
    for (_, t, l) in &got {
        assert!(seen.insert(l.as_str()), "{when}: entry returned twice: {l:.30}");
        let want = ledger.sent.get(l).unwrap_or_else(|| panic!("{when}: an entry never sent, or corrupted: {l:.60}"));
        assert_eq!(t, want, "{when}: timestamp of {l:.30}");
    }
    let missing = ledger.acked.keys().filter(|l| !seen.contains(l.as_str())).count();
    assert_eq!(missing, 0, "{when}: {missing} of {} acknowledged entries missing", ledger.acked.len());
    // A push is one WriteBatch: all of a batch or nothing.
    for (&b, &n) in &ledger.batches {
        let found = (0..n).filter(|&i| seen.contains(line(b, i).as_str())).count() as u64;
        assert!(found == 0 || found == n, "{when}: batch {b} is partially stored ({found} of {n})");
    }
    // The metric path reads the same blocks.
    let (s, text) = get_text(
        &c,
        &srv.base,
        "/loki/api/v1/query",
        &[("query", r#"sum(count_over_time({job="fulldisk"}[2h]))"#), ("time", &(T0 + 3_600_000_000_000).to_string())],
        None,
    )
    .await;
    assert_eq!(s, 200, "{when}: metric query: {text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let count: usize = v["data"]["result"][0]["value"][1].as_str().unwrap_or("0").parse().unwrap();
    assert_eq!(count, got.len(), "{when}: count_over_time disagrees with the log query");
    for path in ["/loki/api/v1/labels", "/loki/api/v1/series"] {
        let (s, text) = get_text(
            &c,
            &srv.base,
            path,
            &[
                ("match[]", r#"{job="fulldisk"}"#),
                ("start", &T0.to_string()),
                ("end", &(T0 + 3_600_000_000_000).to_string()),
            ],
            None,
        )
        .await;
        assert_eq!(s, 200, "{when}: {path}: {text}");
        assert!(text.contains("job"), "{when}: {path} lost the stream: {text}");
    }
    got.len()
}

fn log_tail(srv: &Lokid) -> String {
    let t = srv.log_text();
    let lines: Vec<&str> = t.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// How a full-disk run is set up and what it does once the disk is full.
pub struct Scenario {
    /// Size of the tmpfs holding the data directory and the filler.
    pub fs_mib: u64,
    /// The filler file, deleted when "space returns".
    pub filler_mib: u64,
    /// Kill -9 and restart lokid while the disk is still full, before space returns (and
    /// restart it again once space is back, as documented for a read-only start).
    pub restart_while_full: bool,
}

/// Why a full-disk test may not skip when it cannot mount its disk: `CI=true` (or `CI=1`),
/// or `LOKID_REQUIRE_MOUNT` set. None outside CI.
fn skip_forbidden() -> Option<&'static str> {
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        Some("CI is set")
    } else if std::env::var_os("LOKID_REQUIRE_MOUNT").is_some() {
        Some("LOKID_REQUIRE_MOUNT is set")
    } else {
        None
    }
}

/// Runs the scenario; returns false (after printing SKIPPED and why) when no tmpfs can be
/// mounted outside CI, and fails the test when it cannot be mounted in CI.
pub async fn run(sc: Scenario) -> bool {
    let _alone = exclusive().await;
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let _fs = match Tmpfs::mount(&mnt, sc.fs_mib) {
        Ok(fs) => fs,
        Err(e) => {
            if let Some(why) = skip_forbidden() {
                panic!("the full-disk test cannot set up its disk and may not skip ({why}): {e} (needs root to mount a size-limited tmpfs)");
            }
            eprintln!(
                "SKIPPED full-disk test: {e} (needs root to mount a size-limited tmpfs; with CI=true this fails)"
            );
            return false;
        }
    };
    // Declared after `_fs`: dropped (killed) before the unmount, also when a check panics.
    bounded("the full-disk scenario", Duration::from_secs(180), scenario(&sc, tmp.path(), &mnt)).await;
    true
}

async fn scenario(sc: &Scenario, tmp: &Path, mnt: &Path) {
    let filler = mnt.join("filler");
    std::fs::write(&filler, vec![0x5a; (sc.filler_mib << 20) as usize]).unwrap();
    let data = mnt.join("data");
    let log = tmp.join("lokid.log");
    let mut srv = Lokid::spawn_at(tmp, &data, &log, GENEROUS_LIMITS);
    srv.wait_ready(Duration::from_secs(30)).await;
    let c = client();
    let mut ledger = Ledger::default();

    // 1. Fill the disk with pushes (~200 KB each) until writes fail; then a few more.
    let mut first_failure = None;
    let mut failures: Vec<(u64, u16, String)> = Vec::new();
    let mut b = 0u64;
    while b < 2000 {
        ledger.send(b, ENTRIES);
        let (s, text) = push(&c, &srv.base, body(b, ENTRIES)).await;
        if s == 204 {
            ledger.ack(b, ENTRIES);
            assert!(first_failure.is_none(), "push {b} succeeded after a failure on a still full disk");
        } else {
            first_failure.get_or_insert(b);
            failures.push((b, s, text));
        }
        b += 1;
        if first_failure.is_some_and(|f| b >= f + 5) {
            break;
        }
    }
    let first = first_failure.unwrap_or_else(|| panic!("{} MiB never filled after {b} pushes", sc.fs_mib));
    eprintln!(
        "disk full after {first} acknowledged pushes; the failed pushes got {:?}: {:.200}",
        failures.iter().map(|f| f.1).collect::<Vec<_>>(),
        failures[0].2
    );
    for (fb, s, text) in &failures {
        assert_eq!(*s, 503, "push {fb} on a full disk: want 503 (Promtail retries it), got {s}: {text}");
        assert!(text.contains("no space left on device"), "push {fb}: 503 without the reason: {text}");
    }
    assert!(srv.child.try_wait().unwrap().is_none(), "lokid died on the full disk:\n{}", log_tail(&srv));

    // 2. Reads keep working while the disk is full.
    let n = check_reads(&srv, &ledger, "disk full").await;
    eprintln!("disk full: {n} entries readable ({} acknowledged)", ledger.acked.len());
    let (s, _) = get_text(&c, &srv.base, "/ready", &[], None).await;
    eprintln!("disk full: /ready answers {s}");

    if sc.restart_while_full {
        // A crash (or an operator's restart) while the disk is still full: lokid comes back
        // and serves what it has; pushes get 503.
        srv.kill9();
        srv = srv.respawn();
        srv.wait_ready(Duration::from_secs(30)).await;
        check_reads(&srv, &ledger, "restarted on the full disk").await;
        // lokid opens read-only when the disk cannot even take a new manifest; when the
        // few KiB it needs are there, it opens read-write, and a push that still fits is
        // acknowledged (and must then survive like any other).
        let (s, text) = push(&c, &srv.base, body(b, ENTRIES)).await;
        ledger.send(b, ENTRIES);
        match s {
            204 => ledger.ack(b, ENTRIES),
            _ => {
                assert_eq!(s, 503, "push after a restart on the full disk: {text}");
                assert!(text.contains("no space left on device"), "503 without the reason: {text}");
            }
        }
        eprintln!("restarted on the full disk: a push got {s}");
        b += 1;
    }

    // 3. Space returns: pushes succeed again — without a restart, unless lokid was started
    //    on the full disk: then it runs read-only and needs one (docs/operations.md).
    std::fs::remove_file(&filler).unwrap();
    if sc.restart_while_full {
        srv.kill9();
        srv = srv.respawn();
        srv.wait_ready(Duration::from_secs(30)).await;
    }
    let freed = Instant::now();
    let resumed = loop {
        ledger.send(b, 10);
        let (s, text) = push(&c, &srv.base, body(b, 10)).await;
        b += 1;
        if s == 204 {
            ledger.ack(b - 1, 10);
            break freed.elapsed();
        }
        assert_eq!(s, 503, "push while recovering: {text}");
        assert!(
            freed.elapsed() < Duration::from_secs(60),
            "pushes still fail 60 s after {} MiB were freed: {s} {text}\nlokid log:\n{}\nRocksDB LOG:\n{}",
            sc.filler_mib,
            log_tail(&srv),
            rocksdb_log_errors(&data)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    eprintln!("pushes resumed {resumed:?} after {} MiB were freed", sc.filler_mib);
    for _ in 0..20 {
        ledger.send(b, ENTRIES);
        let (s, text) = push(&c, &srv.base, body(b, ENTRIES)).await;
        assert_eq!(s, 204, "push {b} after recovery: {text}");
        ledger.ack(b, ENTRIES);
        b += 1;
    }
    check_reads(&srv, &ledger, "after recovery").await;

    // 4. Nothing acknowledged is lost or corrupted across a crash after all this.
    srv.kill9();
    let mut srv = srv.respawn();
    srv.wait_ready(Duration::from_secs(30)).await;
    let n = check_reads(&srv, &ledger, "after kill -9 and restart").await;
    ledger.send(b, ENTRIES);
    let (s, text) = push(&c, &srv.base, body(b, ENTRIES)).await;
    assert_eq!(s, 204, "push after restart: {text}");
    eprintln!("after restart: {n} entries, all {} acknowledged among them; pushes accepted", ledger.acked.len());
    srv.kill9();
}

/// RocksDB's own log lines about the background error and its recovery.
fn rocksdb_log_errors(data: &Path) -> String {
    let t = std::fs::read_to_string(data.join("lokid").join("LOG")).unwrap_or_default();
    let lines: Vec<&str> = t
        .lines()
        .filter(|l| l.contains("error_handler") || l.contains("sst_file_manager") || l.contains("esum"))
        .collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}
