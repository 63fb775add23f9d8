//! Ingestion limits that answer 429 so that Promtail retries: the tenant's ingestion rate
//! (`ingestion_rate_mb`, burst `ingestion_burst_size_mb`; the whole push is refused), the
//! per-stream rate (`per_stream_rate_limit`, burst `per_stream_rate_limit_burst`) and the
//! number of active streams (`max_global_streams_per_user`). Messages are Loki's.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::gocompat;
use crate::limits::Limits;
use crate::model::PushStream;

/// A stream that received nothing for this long no longer counts as active (Loki drops
/// idle streams from ingester memory after flushing them).
pub const ACTIVE_WINDOW: Duration = Duration::from_secs(3600);

/// A token bucket in bytes.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(burst: f64, now: Instant) -> Bucket {
        Bucket { tokens: burst, last: now }
    }

    /// Takes `n` bytes if available (refilling at `rate` up to `burst` first).
    fn take(&mut self, n: f64, rate: f64, burst: f64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.last = now;
        if n <= self.tokens {
            self.tokens -= n;
            true
        } else {
            false
        }
    }
}

struct StreamState {
    bucket: Bucket,
    last_seen: Instant,
}

/// A stream's identity in the limiter: 128 bits of hash of its labels text (a collision is
/// as likely as a cosmic ray), so the limiter keeps no copy of every stream's labels.
type StreamKey = u128;

fn stream_key(labels: &str) -> StreamKey {
    let half = |seed: u8| {
        let mut h = DefaultHasher::new();
        seed.hash(&mut h);
        labels.hash(&mut h);
        h.finish() as u128
    };
    (half(0) << 64) | half(1)
}

struct TenantState {
    bucket: Bucket,
    streams: HashMap<StreamKey, StreamState>,
    /// One entry per active stream: (a time at or before its `last_seen`, stream). Its
    /// length is the number of active streams once [`TenantState::expire`] ran, so a new
    /// stream costs O(log n), not a walk over every stream.
    active: BinaryHeap<Reverse<(Instant, StreamKey)>>,
    last_prune: Instant,
}

impl TenantState {
    /// Drops from `active` the streams idle for `ACTIVE_WINDOW` at `now`; a stream seen
    /// again since its entry was queued is queued again at its `last_seen`.
    fn expire(&mut self, now: Instant) {
        while let Some(&Reverse((queued, key))) = self.active.peek() {
            if now.saturating_duration_since(queued) < ACTIVE_WINDOW {
                break;
            }
            self.active.pop();
            if let Some(st) = self.streams.get(&key) {
                if now.saturating_duration_since(st.last_seen) < ACTIVE_WINDOW {
                    self.active.push(Reverse((st.last_seen, key)));
                }
            }
        }
    }
}

/// What the limits let through.
#[derive(Debug, Default)]
pub struct LimitOutcome {
    pub accepted: Vec<PushStream>,
    /// The whole push was refused by the tenant rate limit (nothing may be stored).
    pub rate_limited: Option<String>,
    /// Refused streams: (reason, message, entries, bytes).
    pub rejected: Vec<(&'static str, String, usize, u64)>,
}

#[derive(Default)]
pub struct Limiter {
    tenants: Mutex<HashMap<String, TenantState>>,
}

fn bytes_of(s: &PushStream) -> u64 {
    s.entries.iter().map(|e| e.line.len() as u64).sum()
}

const MB: f64 = (1u64 << 20) as f64;

impl Limiter {
    pub fn check(&self, tenant: &str, streams: Vec<PushStream>, limits: &Limits, now: Instant) -> LimitOutcome {
        let mut out = LimitOutcome::default();
        let total: u64 = streams.iter().map(bytes_of).sum();
        let lines: usize = streams.iter().map(|s| s.entries.len()).sum();
        let (rate, burst) = (limits.ingestion_rate_mb * MB, limits.ingestion_burst_size_mb * MB);
        let mut tenants = self.tenants.lock();
        let t = tenants.entry(tenant.to_string()).or_insert_with(|| TenantState {
            bucket: Bucket::new(burst, now),
            streams: HashMap::new(),
            active: BinaryHeap::new(),
            last_prune: now,
        });
        if rate > 0.0 && total > 0 && !t.bucket.take(total as f64, rate, burst, now) {
            out.rate_limited = Some(format!(
                "ingestion rate limit exceeded for user {tenant} (limit: {} bytes/sec) while attempting to ingest '{lines}' lines totaling '{total}' bytes, reduce log volume or contact your Loki administrator to see if the limit can be increased",
                rate as u64
            ));
            return out;
        }
        t.expire(now);
        if now.saturating_duration_since(t.last_prune) > Duration::from_secs(60) {
            t.streams.retain(|_, s| now.saturating_duration_since(s.last_seen) < ACTIVE_WINDOW);
            t.last_prune = now;
        }
        let (s_rate, s_burst) = (limits.per_stream_rate_limit as f64, limits.per_stream_rate_limit_burst as f64);
        for s in streams {
            let key = s.labels.to_string();
            let hkey = stream_key(&key);
            let bytes = bytes_of(&s);
            let active =
                t.streams.get(&hkey).is_some_and(|st| now.saturating_duration_since(st.last_seen) < ACTIVE_WINDOW);
            if !active {
                let n_active = t.active.len();
                if limits.max_global_streams_per_user > 0 && n_active >= limits.max_global_streams_per_user {
                    out.rejected.push((
                        "stream_limit",
                        format!(
                            "maximum active stream limit exceeded when trying to create stream {key}, reduce the number of active streams (reduce labels or reduce label values), or contact your administrator to see if the limit can be increased, user: '{tenant}'"
                        ),
                        s.entries.len(),
                        bytes,
                    ));
                    continue;
                }
            }
            if !active {
                t.active.push(Reverse((now, hkey)));
            }
            let st = t
                .streams
                .entry(hkey)
                .or_insert_with(|| StreamState { bucket: Bucket::new(s_burst, now), last_seen: now });
            st.last_seen = now;
            if s_rate > 0.0 && bytes > 0 && !st.bucket.take(bytes as f64, s_rate, s_burst, now) {
                out.rejected.push((
                    "per_stream_rate_limit",
                    format!(
                        "Per stream rate limit exceeded (limit: {}/sec) while attempting to ingest for stream '{key}' totaling {}, consider splitting a stream via additional labels or contact your Loki administrator to see if the limit can be increased",
                        gocompat::bytes(s_rate as u64),
                        gocompat::bytes(bytes)
                    ),
                    s.entries.len(),
                    bytes,
                ));
                continue;
            }
            out.accepted.push(s);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Entry, Labels};

    fn stream(app: &str, bytes: usize) -> PushStream {
        PushStream {
            labels: Labels::from_pairs(vec![("app".into(), app.into())]),
            entries: vec![Entry { ts: 1, line: "x".repeat(bytes), metadata: vec![] }],
        }
    }

    #[test]
    fn tenant_rate_refuses_the_whole_push_then_refills() {
        let l = Limiter::default();
        let limits = Limits { ingestion_rate_mb: 1.0, ingestion_burst_size_mb: 1.0, ..Limits::default() };
        let t0 = Instant::now();
        assert!(l.check("t", vec![stream("a", 900_000)], &limits, t0).rate_limited.is_none());
        let out = l.check("t", vec![stream("a", 200_000)], &limits, t0);
        let msg = out.rate_limited.expect("over the burst");
        assert_eq!(msg, "ingestion rate limit exceeded for user t (limit: 1048576 bytes/sec) while attempting to ingest '1' lines totaling '200000' bytes, reduce log volume or contact your Loki administrator to see if the limit can be increased");
        assert!(out.accepted.is_empty());
        assert!(l.check("t", vec![stream("a", 200_000)], &limits, t0 + Duration::from_secs(1)).rate_limited.is_none());
        assert!(
            l.check("other", vec![stream("a", 900_000)], &limits, t0).rate_limited.is_none(),
            "tenants are separate"
        );
    }

    #[test]
    fn per_stream_rate_and_stream_limit() {
        let l = Limiter::default();
        let limits = Limits {
            per_stream_rate_limit: 1000,
            per_stream_rate_limit_burst: 1000,
            max_global_streams_per_user: 2,
            ..Limits::default()
        };
        let t0 = Instant::now();
        let out = l.check("t", vec![stream("a", 800), stream("b", 10), stream("c", 10)], &limits, t0);
        assert_eq!(out.accepted.len(), 2);
        assert_eq!(out.rejected[0].0, "stream_limit");
        assert!(out.rejected[0]
            .1
            .starts_with("maximum active stream limit exceeded when trying to create stream {app=\"c\"}"));
        let out = l.check("t", vec![stream("a", 800)], &limits, t0);
        assert_eq!(out.rejected[0].0, "per_stream_rate_limit");
        assert_eq!(out.rejected[0].1, "Per stream rate limit exceeded (limit: 1.0 kB/sec) while attempting to ingest for stream '{app=\"a\"}' totaling 800 B, consider splitting a stream via additional labels or contact your Loki administrator to see if the limit can be increased");
        // An idle stream stops counting as active.
        let later = t0 + ACTIVE_WINDOW + Duration::from_secs(61);
        assert!(l.check("t", vec![stream("c", 10)], &limits, later).rejected.is_empty());
    }

    /// The active-stream count kept incrementally agrees with counting every stream, as
    /// the limiter did before, over many streams that go idle and come back.
    #[test]
    fn stream_limit_with_many_streams_matches_a_full_count() {
        let l = Limiter::default();
        let limits = Limits { max_global_streams_per_user: 1500, ..Limits::default() };
        let t0 = Instant::now();
        let mut seen: HashMap<String, Instant> = HashMap::new();
        let mut rng = 0x9e3779b97f4a7c15u64;
        let mut rejected = 0;
        for round in 0..60u64 {
            // Time moves by up to 20 minutes a round, so streams keep falling idle.
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let now = t0 + Duration::from_secs(round * 600 + (rng >> 33) % 600);
            let batch: Vec<PushStream> = (0..400)
                .map(|_| {
                    rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    stream(&format!("s{}", (rng >> 33) % 5000), 10)
                })
                .collect();
            let names: Vec<String> = batch.iter().map(|s| s.labels.to_string()).collect();
            let out = l.check("t", batch, &limits, now);
            let mut want_rejected = Vec::new();
            for name in names {
                let active = seen.get(&name).is_some_and(|t| now.saturating_duration_since(*t) < ACTIVE_WINDOW);
                if !active {
                    let n = seen.values().filter(|t| now.saturating_duration_since(**t) < ACTIVE_WINDOW).count();
                    if n >= limits.max_global_streams_per_user {
                        want_rejected.push(format!("maximum active stream limit exceeded when trying to create stream {name}, reduce the number of active streams (reduce labels or reduce label values), or contact your administrator to see if the limit can be increased, user: 't'"));
                        continue;
                    }
                }
                seen.insert(name, now);
            }
            let got: Vec<String> = out.rejected.iter().map(|r| r.1.clone()).collect();
            assert_eq!(got, want_rejected, "round {round}");
            rejected += got.len();
        }
        assert!(rejected > 500, "the limit was reached often ({rejected})");
    }
}
