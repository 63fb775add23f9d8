//! `kill -9` of the real binary while 8 pushers send protobuf+snappy batches concurrently.
//!
//! Proves, over two crash/restart rounds on the same data directory:
//! - every entry whose push was answered 2xx is returned by `query_range` after restart,
//!   with its timestamp, stream and line byte for byte;
//! - nothing is returned that was never sent, and nothing twice (entries of pushes that were
//!   in flight at the kill may or may not be there — a batch is all-or-nothing);
//! - the restarted server answers `/ready` within a few seconds (bound: 10 s).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::harness::*;

/// 2026-02-02T12:00:00Z plus 50 minutes, so that the pushes cross an hour boundary (blocks
/// are cut per stream and hour).
const T0: i64 = 1_770_033_600_000_000_000 + 50 * 60 * 1_000_000_000;
const PUSHERS: u64 = 8;
const PRIVATE: u64 = 40;
const SHARED: u64 = 10;
const READY_BOUND: Duration = Duration::from_secs(10);
/// ~125k entries (~30 MiB of lines) per round.
const KILL_AFTER_PUSHES: usize = 2500;

/// What one entry must look like when read back.
#[derive(Clone, Debug, PartialEq)]
struct Sent {
    pusher_label: String,
    ts: i64,
}

/// Entries of batch `b` of pusher `p` in round `r`: 40 for the pusher's own stream, 10 for
/// a stream all pushers share. Timestamps are unique (10 ms apart), lines are unique.
fn batch(r: u64, p: u64, b: u64) -> Vec<(String, i64, String)> {
    let slot = ((r * 1_000_000 + b) * PUSHERS + p) * (PRIVATE + SHARED);
    (0..PRIVATE + SHARED)
        .map(|i| {
            let label = if i < PRIVATE { format!("p{p}") } else { "shared".to_string() };
            let ts = T0 + ((b * PUSHERS + p) * (PRIVATE + SHARED) + i) as i64 * 10_000_000 + r as i64 * 3;
            let line = format!("r{r} p{p} b{b} e{i} {}", payload(slot + i, 300));
            (label, ts, line)
        })
        .collect()
}

fn body(entries: &[(String, i64, String)]) -> Vec<u8> {
    let mut streams: Vec<(String, Vec<(i64, String)>)> = Vec::new();
    for (label, ts, line) in entries {
        let text = format!(r#"{{job="kill9", pusher="{label}"}}"#);
        match streams.iter_mut().find(|(l, _)| *l == text) {
            Some((_, v)) => v.push((*ts, line.clone())),
            None => streams.push((text, vec![(*ts, line.clone())])),
        }
    }
    let streams: Vec<ProtoStream<'_>> =
        streams.iter().map(|(l, e)| ProtoStream { labels: l, entries: e.clone() }).collect();
    proto_body(&streams)
}

#[derive(Default)]
struct Outcome {
    /// line → what it must read back as, for pushes answered 2xx.
    acked: HashMap<String, Sent>,
    /// Every line ever sent (answered or not).
    sent: HashMap<String, Sent>,
    /// Statuses of answered pushes other than 2xx.
    bad_statuses: Vec<(u64, u64, u16)>,
    pushes_acked: usize,
    pushes_unanswered: usize,
}

/// One round: 8 pushers until `kill9`, which comes once `KILL_AFTER_PUSHES` pushes were
/// acknowledged or `run_for` passed (so the data size does not depend on the machine's
/// speed, and the pushers are always mid-flight); returns what was acked and sent.
async fn push_and_kill(round: u64, srv: &mut Lokid, run_for: Duration) -> Outcome {
    let stop = Arc::new(AtomicBool::new(false));
    let acked_pushes = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for p in 0..PUSHERS {
        let base = srv.base.clone();
        let stop = Arc::clone(&stop);
        let acked_pushes = Arc::clone(&acked_pushes);
        tasks.push(tokio::spawn(async move {
            let c = client();
            let mut out = Outcome::default();
            for b in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let entries = batch(round, p, b);
                for (label, ts, line) in &entries {
                    out.sent.insert(line.clone(), Sent { pusher_label: label.clone(), ts: *ts });
                }
                match post_proto(&c, &base, body(&entries), None).await {
                    Ok(s) if (200..300).contains(&s) => {
                        out.pushes_acked += 1;
                        acked_pushes.fetch_add(1, Ordering::Relaxed);
                        for (label, ts, line) in entries {
                            out.acked.insert(line, Sent { pusher_label: label, ts });
                        }
                    }
                    Ok(s) => out.bad_statuses.push((p, b, s)),
                    Err(_) => {
                        // No answer: the server died under this push.
                        out.pushes_unanswered += 1;
                        break;
                    }
                }
            }
            out
        }));
    }
    // Let the pushers run, then SIGKILL while they are in flight.
    let started = Instant::now();
    while started.elapsed() < run_for && acked_pushes.load(Ordering::Relaxed) < KILL_AFTER_PUSHES {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    srv.kill9();
    stop.store(true, Ordering::Relaxed);
    let mut all = Outcome::default();
    for t in tasks {
        let o = bounded("a pusher after the kill", Duration::from_secs(60), t).await.expect("pusher task");
        all.acked.extend(o.acked);
        all.sent.extend(o.sent);
        all.bad_statuses.extend(o.bad_statuses);
        all.pushes_acked += o.pushes_acked;
        all.pushes_unanswered += o.pushes_unanswered;
    }
    all
}

fn dir_bytes(p: &std::path::Path) -> u64 {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let m = e.metadata().unwrap();
            n += if m.is_dir() { dir_bytes(&e.path()) } else { m.len() };
        }
    }
    n
}

/// The batch a line belongs to: its `r… p… b…` prefix.
fn batch_of(line: &str) -> &str {
    let end = line.match_indices(' ').nth(2).map(|(i, _)| i).unwrap_or(line.len());
    &line[..end]
}

async fn verify(srv: &Lokid, acked: &HashMap<String, Sent>, sent: &HashMap<String, Sent>) -> usize {
    let c = client();
    // One query per stream keeps each response (and this test's memory) small.
    let mut got = Vec::new();
    for label in (0..PUSHERS).map(|p| format!("p{p}")).chain(["shared".to_string()]) {
        let q = format!(r#"{{job="kill9", pusher="{label}"}}"#);
        got.extend(query_all(&c, &srv.base, &q, T0 - 1, T0 + 24 * 3600 * 1_000_000_000).await);
    }
    let mut seen: HashSet<&str> = HashSet::new();
    for (labels, ts, line) in &got {
        assert!(seen.insert(line.as_str()), "entry returned twice: {line:.40}");
        let want = sent.get(line).unwrap_or_else(|| panic!("returned an entry that was never sent: {line:.80}"));
        assert_eq!(*ts, want.ts, "timestamp of {line:.40}");
        let v: serde_json::Value = serde_json::from_str(labels).unwrap();
        assert_eq!(v["pusher"], want.pusher_label.as_str(), "stream of {line:.40}");
    }
    let missing: Vec<&String> = acked.keys().filter(|l| !seen.contains(l.as_str())).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged entries are missing after kill -9 and restart, e.g. {:.60}",
        missing.len(),
        acked.len(),
        missing[0]
    );
    // A push is one WriteBatch: of a batch that was in flight, all entries or none are back.
    let mut per_batch: HashMap<&str, (usize, usize)> = HashMap::new();
    for line in sent.keys() {
        let e = per_batch.entry(batch_of(line)).or_default();
        e.0 += 1;
        e.1 += seen.contains(line.as_str()) as usize;
    }
    for (b, (n, found)) in per_batch {
        assert!(found == 0 || found == n, "batch {b} came back partially: {found} of {n} entries");
    }
    got.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_concurrent_pushes_survive_kill9_and_restart_is_fast() {
    let _alone = exclusive().await;
    bounded("the whole kill -9 test", Duration::from_secs(240), async {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let mut acked: HashMap<String, Sent> = HashMap::new();
        let mut sent: HashMap<String, Sent> = HashMap::new();

        let mut srv = Lokid::spawn(tmp.path(), GENEROUS_LIMITS);
        srv.wait_ready(Duration::from_secs(30)).await;
        for round in 0..2u64 {
            let o = push_and_kill(round, &mut srv, Duration::from_secs(5)).await;
            assert!(
                o.bad_statuses.is_empty(),
                "pushes answered with non-2xx before the kill: {:?}",
                &o.bad_statuses[..o.bad_statuses.len().min(10)]
            );
            assert!(o.pushes_acked >= 8 * 5, "too few pushes acknowledged to mean anything: {}", o.pushes_acked);
            let unacked_sent = o.sent.len() - o.acked.len();
            acked.extend(o.acked);
            sent.extend(o.sent);
            let size = dir_bytes(&data);

            let mut restarted = srv.respawn();
            let ready = restarted.wait_ready(Duration::from_secs(60)).await;
            let got = verify(&restarted, &acked, &sent).await;
            eprintln!(
                "round {round}: {} pushes acked, {} unanswered at the kill ({} entries in flight), \
                 data dir {:.1} MiB; ready {:?} after restart; {} acked entries all returned, \
                 {} returned in total (of {} sent)",
                o.pushes_acked,
                o.pushes_unanswered,
                unacked_sent,
                size as f64 / (1 << 20) as f64,
                ready,
                acked.len(),
                got,
                sent.len()
            );
            assert!(ready < READY_BOUND, "restart took {ready:?} to become ready (bound {READY_BOUND:?})");
            srv = restarted;
        }
        // The last server also takes new pushes after the recoveries.
        let c = client();
        let fresh = batch(9, 0, 0);
        assert_eq!(post_proto(&c, &srv.base, body(&fresh), None).await, Ok(204));
        let started = Instant::now();
        srv.kill9();
        drop(srv);
        eprintln!("done; kill took {:?}", started.elapsed());
    })
    .await;
}
