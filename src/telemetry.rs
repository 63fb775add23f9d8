//! Logging setup and every metric lokid exports (Prometheus text format on `/metrics`).
//!
//! Loki's metric names are used where one exists (`loki_request_duration_seconds`,
//! `loki_distributor_lines_received_total`, `loki_discarded_samples_total`, …).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

/// Latency buckets of Loki's `loki_request_duration_seconds` (seconds).
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Process-wide metrics.
#[derive(Default)]
pub struct Metrics {
    /// (method, route, status) → latency histogram.
    requests: Mutex<BTreeMap<(String, String, u16), Histogram>>,
    /// tenant → (lines, bytes)
    received: Mutex<BTreeMap<String, (u64, u64)>>,
    /// (reason, tenant) → (samples, bytes)
    discarded: Mutex<BTreeMap<(String, String), (u64, u64)>>,
    pub streams_created: AtomicU64,
    pub compactor_runs: AtomicU64,
    pub compactor_last_success_seconds: AtomicU64,
    pub compactor_bytes_deleted: AtomicU64,
    pub compactor_blocks_deleted: AtomicU64,
    pub compactor_partitions_deleted: AtomicU64,
    pub compactor_streams_removed: AtomicU64,
    pub compactor_days_dropped_for_size: AtomicU64,
    pub delete_requests_processed: AtomicU64,
    pub delete_request_entries_deleted: AtomicU64,
    pub blocks_merged: AtomicU64,
    pub tails_active: AtomicU64,
}

impl Metrics {
    pub fn observe_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut m = self.requests.lock();
        let h = m.entry((method.to_string(), route.to_string(), status)).or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    pub fn add_received(&self, tenant: &str, lines: u64, bytes: u64) {
        let mut m = self.received.lock();
        let e = m.entry(tenant.to_string()).or_default();
        e.0 += lines;
        e.1 += bytes;
    }

    pub fn add_discarded(&self, reason: &str, tenant: &str, samples: u64, bytes: u64) {
        let mut m = self.discarded.lock();
        let e = m.entry((reason.to_string(), tenant.to_string())).or_default();
        e.0 += samples;
        e.1 += bytes;
    }

    /// Renders everything in Prometheus text format; `extra` adds gauges computed by the caller.
    pub fn render(&self, extra: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        out.push_str("# HELP loki_request_duration_seconds Time (in seconds) spent serving HTTP requests.\n# TYPE loki_request_duration_seconds histogram\n");
        for ((method, route, status), h) in self.requests.lock().iter() {
            let l = format!("method=\"{method}\",route=\"{route}\",status_code=\"{status}\",ws=\"false\"");
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(out, "loki_request_duration_seconds_bucket{{{l},le=\"{b}\"}} {}", h.counts[i]);
            }
            let _ = writeln!(out, "loki_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "loki_request_duration_seconds_sum{{{l}}} {}", h.sum);
            let _ = writeln!(out, "loki_request_duration_seconds_count{{{l}}} {}", h.count);
        }
        out.push_str("# HELP loki_distributor_lines_received_total The total number of lines received per tenant.\n# TYPE loki_distributor_lines_received_total counter\n");
        let received = self.received.lock();
        for (t, (lines, _)) in received.iter() {
            let _ = writeln!(out, "loki_distributor_lines_received_total{{tenant=\"{t}\"}} {lines}");
        }
        out.push_str("# HELP loki_distributor_bytes_received_total The total number of uncompressed bytes received per tenant.\n# TYPE loki_distributor_bytes_received_total counter\n");
        for (t, (_, bytes)) in received.iter() {
            let _ = writeln!(out, "loki_distributor_bytes_received_total{{tenant=\"{t}\"}} {bytes}");
        }
        drop(received);
        out.push_str("# HELP loki_discarded_samples_total The total number of samples that were discarded.\n# TYPE loki_discarded_samples_total counter\n");
        let discarded = self.discarded.lock();
        for ((r, t), (n, _)) in discarded.iter() {
            let _ = writeln!(out, "loki_discarded_samples_total{{reason=\"{r}\",tenant=\"{t}\"}} {n}");
        }
        out.push_str("# HELP loki_discarded_bytes_total The total number of bytes that were discarded.\n# TYPE loki_discarded_bytes_total counter\n");
        for ((r, t), (_, b)) in discarded.iter() {
            let _ = writeln!(out, "loki_discarded_bytes_total{{reason=\"{r}\",tenant=\"{t}\"}} {b}");
        }
        drop(discarded);
        let counters = [
            ("loki_ingester_streams_created_total", "The total number of streams created.", &self.streams_created),
            (
                "lokid_blocks_merged_total",
                "Small blocks merged into larger ones by the block compactor.",
                &self.blocks_merged,
            ),
            ("lokid_compactor_runs_total", "Retention compactor passes that completed.", &self.compactor_runs),
            (
                "lokid_compactor_deleted_bytes_total",
                "Bytes of blocks deleted by retention.",
                &self.compactor_bytes_deleted,
            ),
            ("lokid_compactor_deleted_blocks_total", "Blocks deleted by retention.", &self.compactor_blocks_deleted),
            (
                "lokid_compactor_deleted_partitions_total",
                "Label-index day partitions deleted.",
                &self.compactor_partitions_deleted,
            ),
            (
                "lokid_compactor_removed_streams_total",
                "Streams removed from the registry because no data was left.",
                &self.compactor_streams_removed,
            ),
            (
                "lokid_compactor_size_cap_days_dropped_total",
                "Days dropped to keep the data directory under retention_max_disk_bytes.",
                &self.compactor_days_dropped_for_size,
            ),
            (
                "loki_compactor_delete_requests_processed_total",
                "Delete requests applied.",
                &self.delete_requests_processed,
            ),
            (
                "lokid_compactor_delete_request_entries_deleted_total",
                "Entries removed by delete requests.",
                &self.delete_request_entries_deleted,
            ),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", v.load(Ordering::Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP loki_querier_tail_active Number of active tailers.\n# TYPE loki_querier_tail_active gauge\nloki_querier_tail_active {}",
            self.tails_active.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP loki_compactor_apply_retention_last_successful_run_timestamp_seconds Unix time of the last successful compactor pass.\n# TYPE loki_compactor_apply_retention_last_successful_run_timestamp_seconds gauge\nloki_compactor_apply_retention_last_successful_run_timestamp_seconds {}",
            self.compactor_last_success_seconds.load(Ordering::Relaxed)
        );
        for (name, help, v) in extra {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        if let Some(rss) = resident_memory_bytes() {
            let _ = writeln!(out, "# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {rss}");
        }
        out
    }
}

/// RSS from `/proc/self/statm` (Linux).
pub fn resident_memory_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = s.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Installs the `tracing` subscriber (`RUST_LOG` overrides `level`).
pub fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("lokid={level},warn")));
    // Colours only on a terminal: `docker logs` and journald get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_ansi(ansi).try_init();
}

/// Hands memory that queries, pushes and merges freed back to the system (glibc keeps it
/// in its arenas otherwise, and RSS stays at the high-water mark). Called every few
/// seconds by the merge loop; cheap when little is free.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks and releases glibc's free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}
