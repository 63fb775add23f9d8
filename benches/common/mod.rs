//! Shared data generation for the benches: winston-style JSON lines like the monitoring
//! instance's traffic (see tests/conformance/dataset.py for the real shape).
#![allow(dead_code)]

use lokid::model::{Entry, Labels, PushStream};

pub const T0: i64 = 1_770_033_600_000_000_000;

const MESSAGES: [&str; 6] =
    ["reservation created", "queue entered", "ticket issued", "seat locked", "payment failed", "cache hit"];
const CONTEXTS: [&str; 4] = ["RoutesResolver", "ReservationService", "TicketScheduler", "QueueGateway"];

/// A deterministic pseudo-random winston JSON line (~200 bytes).
pub fn line(i: u64, service: &str, level: &str) -> String {
    let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!(
        r#"{{"context":"{}","level":"{}","message":"{}","service":"{}","timestamp":"2026-02-02T13:00:00.{:03}Z","ms":"+{}ms","userId":"user_id_{}","path":"/api/tickets","latency_ms":{}.{},"status":200}}"#,
        CONTEXTS[(x % 4) as usize],
        level,
        MESSAGES[((x >> 8) % 6) as usize],
        service,
        i % 1000,
        x % 40,
        (x >> 16) % 400,
        (x >> 24) % 300,
        (x >> 32) % 100
    )
}

/// `n_streams` streams of `per_stream` entries, 1 ms apart, starting at `start`.
pub fn streams(n_streams: usize, per_stream: usize, start: i64) -> Vec<PushStream> {
    let services = ["api-server", "ticket-server", "queue-backend"];
    let levels = ["info", "debug", "warn", "error"];
    (0..n_streams)
        .map(|s| {
            let service = services[s % 3];
            let level = levels[(s / 3) % 4];
            let labels = Labels::from_pairs(vec![
                ("job".into(), "docker".into()),
                ("host".into(), "backend-instance".into()),
                ("container".into(), service.into()),
                ("service".into(), service.into()),
                ("level".into(), level.into()),
                ("shard".into(), s.to_string()),
            ]);
            let entries = (0..per_stream)
                .map(|i| Entry {
                    ts: start + (i as i64) * 1_000_000 + s as i64,
                    line: line((s * per_stream + i) as u64, service, level),
                    metadata: vec![("detected_level".into(), level.into())],
                })
                .collect();
            PushStream { labels, entries }
        })
        .collect()
}
