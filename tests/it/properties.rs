//! Property tests for every untrusted-input entry point, bounded and deterministic (fixed
//! seed, 2000 cases per property), so they run in CI. The `fuzz/` crate explores the same
//! entry points open-endedly with cargo-fuzz.
//!
//! Proves:
//! - LogQL (`parse_expr`, `parse_selector`): any text is Ok or a `ParseError`, never a panic
//!   or a hang; a parsed query prints back to text that parses to the same AST (the invariant
//!   of `crates/logql/src/print.rs`);
//! - push bodies (`decode_push_body`): arbitrary, mutated and well-formed protobuf+snappy,
//!   JSON (v1 and legacy), gzip and deflate bodies are Ok or Err, never a panic; well-formed
//!   bodies with valid labels decode to exactly the entries sent;
//! - query parameters (`Params::parse`, `parse_timestamp`, `parse_step`,
//!   `parse_prom_duration`, `bounds`, `limit`, `direction`): never a panic, and a duration
//!   either parses to its exact value or is refused — no silent overflow;
//! - pathological regexes in queries (`(a*)*b` on a 200 KB line, huge repetition counts,
//!   deep nesting) are answered within a few seconds by the server.
//!
//! Each case runs on its own thread with a 2 MiB stack (a tokio worker's) and a 5 s limit, so
//! a hang fails the test instead of stalling CI.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crate::logql_gen::{logql_input, SEEDS};
use lokid::api::params::{self, Params};
use lokid::api::wire::push::{decode_push_body, EntryAdapter, LabelPairAdapter, PushRequest, StreamAdapter, Timestamp};
use lokid::ingest::labels::parse_label_set;
use lokid::logql::{parse_expr, parse_selector};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use serde_json::json;

/// 2000 per property in CI; `LOKID_PROPTEST_CASES` / `LOKID_PROPTEST_SEED` for a longer or
/// different local run.
fn cases() -> u32 {
    std::env::var("LOKID_PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(2000)
}

fn seed(default: u64) -> u64 {
    std::env::var("LOKID_PROPTEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

const CASE_LIMIT: Duration = Duration::from_secs(5);
const MAX_DECOMPRESSED: usize = 512 << 20;

fn runner(default_seed: u64) -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        rng_seed: RngSeed::Fixed(seed(default_seed)),
        failure_persistence: None,
        max_shrink_iters: 2000,
        ..Config::default()
    })
}

/// Runs `f` on a fresh 2 MiB-stack thread; a panic or a run over 5 s fails the case.
fn guarded<T: Send + 'static>(
    what: &str,
    input: &dyn std::fmt::Debug,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, TestCaseError> {
    let (tx, rx) = mpsc::channel();
    let h = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let _ = tx.send(f());
        })
        .expect("spawn");
    match rx.recv_timeout(CASE_LIMIT) {
        Ok(v) => {
            let _ = h.join();
            Ok(v)
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            Err(TestCaseError::fail(format!("{what}: no answer within {CASE_LIMIT:?} for {input:?}")))
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(TestCaseError::fail(format!("{what} panicked on {input:?}"))),
    }
}

fn run<S: Strategy>(name: &str, seed: u64, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let started = Instant::now();
    let mut r = runner(seed);
    if let Err(e) = r.run(&strategy, test) {
        panic!("{name}: {e}");
    }
    eprintln!("{name}: {} cases in {:?}", cases(), started.elapsed());
}

// ---- LogQL ------------------------------------------------------------------------------

/// What one LogQL input must satisfy; returns whether it parsed.
fn check_logql(s: String) -> Result<bool, String> {
    let _ = parse_selector(&s, true);
    let _ = parse_selector(&s, false);
    let Ok(e) = parse_expr(&s) else { return Ok(false) };
    let printed = e.to_string();
    match parse_expr(&printed) {
        Ok(again) if format!("{again:?}") == format!("{e:?}") => Ok(true),
        Ok(again) => Err(format!("{s:?} printed as {printed:?} parses to another AST: {again:?} vs {e:?}")),
        Err(err) => Err(format!("{s:?} parses, but its printed form {printed:?} does not: {err}")),
    }
}

#[test]
fn seeds_are_valid_logql() {
    for s in SEEDS {
        assert!(parse_expr(s).is_ok(), "seed does not parse: {s} -> {:?}", parse_expr(s).err());
    }
}

#[test]
fn logql_any_input_parses_or_errs_and_round_trips() {
    let parsed = Arc::new(AtomicUsize::new(0));
    let p2 = Arc::clone(&parsed);
    run("logql", 0x10c9, logql_input(), move |s| {
        let input = s.clone();
        match guarded("parse_expr", &input, move || check_logql(s))? {
            Ok(true) => {
                p2.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Ok(false) => Ok(()),
            Err(e) => Err(TestCaseError::fail(e)),
        }
    });
    let n = parsed.load(Ordering::Relaxed);
    eprintln!("logql: {n} of {} inputs parsed", cases());
    assert!(
        n >= cases() as usize / 10,
        "only {n} generated inputs parsed: the generator no longer reaches the parser's depths"
    );
}

// ---- push bodies --------------------------------------------------------------------------

fn label_name() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z_][a-zA-Z0-9_]{0,12}", ".{0,8}"]
}

fn valid_label_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_]{0,12}".prop_filter("not reserved", |n| !n.starts_with("__"))
}

/// A well-formed request: valid label names, any values and lines.
fn push_request(valid_labels: bool) -> impl Strategy<Value = PushRequest> {
    let name = if valid_labels { valid_label_name().boxed() } else { label_name().boxed() };
    let stream = (
        prop::collection::btree_map(name, ".{0,20}", 1..4),
        prop::collection::vec(
            (
                any::<i64>(),
                -2_000_000_000i32..2_000_000_000,
                ".{0,64}",
                prop::collection::vec(("[a-z_]{1,8}", ".{0,10}"), 0..3),
            ),
            0..6,
        ),
    )
        .prop_map(|(labels, entries): (BTreeMap<String, String>, _)| StreamAdapter {
            labels: labels_text(&labels),
            entries: entries
                .into_iter()
                .map(|(s, n, line, md): (i64, i32, String, Vec<(String, String)>)| EntryAdapter {
                    timestamp: Some(Timestamp { seconds: s, nanos: n }),
                    line,
                    structured_metadata: md.into_iter().map(|(name, value)| LabelPairAdapter { name, value }).collect(),
                    parsed: vec![],
                })
                .collect(),
            hash: 0,
        });
    prop::collection::vec(stream, 0..4).prop_map(|streams| PushRequest { streams, format: String::new() })
}

/// Loki's label text: `{a="b", c="d"}` with Go-quoted values.
fn labels_text(labels: &BTreeMap<String, String>) -> String {
    let parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={}", serde_json::to_string(v).unwrap())).collect();
    format!("{{{}}}", parts.join(", "))
}

#[derive(Debug, Clone)]
enum Mutation {
    None,
    Flip(usize, u8),
    Truncate(usize),
    Splice(usize, Vec<u8>),
}

fn mutate(mut b: Vec<u8>, m: &Mutation) -> Vec<u8> {
    match m {
        Mutation::None => {}
        Mutation::Flip(i, x) if !b.is_empty() => {
            let i = i % b.len();
            b[i] ^= x | 1;
        }
        Mutation::Truncate(i) if !b.is_empty() => b.truncate(i % b.len()),
        Mutation::Splice(i, bytes) => {
            let i = if b.is_empty() { 0 } else { i % b.len() };
            b.splice(i..i, bytes.iter().copied());
        }
        _ => {}
    }
    b
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        Just(Mutation::None),
        (any::<usize>(), any::<u8>()).prop_map(|(i, x)| Mutation::Flip(i, x)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(i, b)| Mutation::Splice(i, b)),
    ]
}

fn snappy(b: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(b).unwrap()
}

#[derive(Debug, Clone)]
enum ProtoCase {
    /// Raw bytes as the body (snappy decoding rejects most).
    Raw(Vec<u8>),
    /// Arbitrary bytes, snappy-compressed: reaches the protobuf reader.
    SnappyOf(Vec<u8>),
    /// A real request, encoded, then maybe damaged before compression.
    Request(PushRequest, Mutation, bool),
}

#[test]
fn protobuf_push_bodies_never_panic_and_round_trip() {
    let strategy = prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..512).prop_map(ProtoCase::Raw),
        1 => prop::collection::vec(any::<u8>(), 0..512).prop_map(ProtoCase::SnappyOf),
        2 => (push_request(true), mutation(), any::<bool>()).prop_map(|(r, m, legacy)| ProtoCase::Request(r, m, legacy)),
        1 => (push_request(false), mutation(), any::<bool>()).prop_map(|(r, m, legacy)| ProtoCase::Request(r, m, legacy)),
    ];
    run("push protobuf", 0x9b0f, strategy, |case| {
        let input = case.clone();
        guarded("decode_push_body (protobuf)", &input, move || -> Result<(), String> {
            let ct = Some("application/x-protobuf");
            match &case {
                ProtoCase::Raw(b) => {
                    let _ = decode_push_body(false, ct, None, b, MAX_DECOMPRESSED);
                    let _ = decode_push_body(false, ct, Some("snappy"), b, MAX_DECOMPRESSED);
                }
                ProtoCase::SnappyOf(b) => {
                    let _ = decode_push_body(false, ct, None, &snappy(b), MAX_DECOMPRESSED);
                }
                ProtoCase::Request(r, m, legacy) => {
                    use prost::Message;
                    let raw = r.encode_to_vec();
                    let damaged = !matches!(m, Mutation::None);
                    let body = snappy(&mutate(raw, m));
                    let got = decode_push_body(*legacy, ct, None, &body, MAX_DECOMPRESSED);
                    // Valid as far as the push label parser goes (Loki's ParseMetric refuses
                    // U+FFFD, which LogQL selectors accept).
                    let valid =
                        r.streams.iter().all(|s| parse_label_set(&s.labels).is_ok() && !s.labels.contains("=\"\""));
                    if !damaged && valid {
                        let streams = got.map_err(|e| format!("a well-formed request was refused: {e}"))?;
                        let sent: usize = r.streams.iter().map(|s| s.entries.len()).sum();
                        let back: usize = streams.iter().map(|s| s.entries.len()).sum();
                        if sent != back {
                            return Err(format!("{sent} entries sent, {back} decoded"));
                        }
                    }
                }
            }
            Ok(())
        })?
        .map_err(TestCaseError::fail)
    });
}

#[derive(Debug, Clone)]
enum JsonCase {
    Text(String, bool),
    Body(String, Mutation, bool, u8),
}

fn json_body() -> impl Strategy<Value = (String, bool)> {
    let ts = prop_oneof![
        any::<i64>().prop_map(|t| json!(t.to_string())),
        "[0-9]{0,25}".prop_map(|t| json!(t)),
        any::<i64>().prop_map(|t| json!(t)),
        any::<f64>().prop_map(|t| json!(t)),
        ".{0,12}".prop_map(|t| json!(t)),
        Just(json!(null)),
    ];
    let entry = (ts, ".{0,40}", prop::option::of(prop::collection::btree_map("[a-z_]{1,6}", ".{0,6}", 0..3))).prop_map(
        |(t, l, md)| match md {
            Some(md) => json!([t, l, md]),
            None => json!([t, l]),
        },
    );
    let v1 = prop::collection::vec(
        (prop::collection::btree_map(label_name(), ".{0,10}", 0..4), prop::collection::vec(entry, 0..5)),
        0..4,
    )
    .prop_map(|streams| {
        let streams: Vec<serde_json::Value> =
            streams.into_iter().map(|(l, v)| json!({"stream": l, "values": v})).collect();
        (json!({ "streams": streams }).to_string(), false)
    });
    let legacy = prop::collection::vec(
        (
            prop::collection::btree_map(label_name(), ".{0,10}", 0..4),
            prop::collection::vec(
                (
                    "(20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?Z)|.{0,10}",
                    ".{0,20}",
                ),
                0..4,
            ),
        ),
        0..3,
    )
    .prop_map(|streams| {
        let streams: Vec<serde_json::Value> = streams
            .into_iter()
            .map(|(l, e)| {
                let entries: Vec<serde_json::Value> =
                    e.into_iter().map(|(ts, line)| json!({"ts": ts, "line": line})).collect();
                json!({"labels": labels_text(&l), "entries": entries})
            })
            .collect();
        (json!({ "streams": streams }).to_string(), true)
    });
    prop_oneof![v1, legacy]
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn deflate(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

#[test]
fn json_push_bodies_never_panic() {
    let strategy = prop_oneof![
        1 => (".{0,300}", any::<bool>()).prop_map(|(s, l)| JsonCase::Text(s, l)),
        1 => (prop::collection::vec(prop::sample::select(&["{", "}", "[", "]", ",", ":", "\"streams\"", "\"stream\"", "\"values\"", "\"labels\"", "\"entries\"", "\"ts\"", "\"line\"", "\"1\"", "1", "null", "true", "\"\\u0000\"", "\"\\ud800\"", "1e999", "-0"][..]), 0..40), any::<bool>())
            .prop_map(|(t, l)| JsonCase::Text(t.concat(), l)),
        3 => (json_body(), mutation(), 0..3u8).prop_map(|((b, l), m, enc)| JsonCase::Body(b, m, l, enc)),
    ];
    run("push json", 0x7501, strategy, |case| {
        let input = case.clone();
        guarded("decode_push_body (json)", &input, move || {
            let ct = Some("application/json");
            match &case {
                JsonCase::Text(s, legacy) => {
                    let _ = decode_push_body(*legacy, ct, None, s.as_bytes(), MAX_DECOMPRESSED);
                    let _ = decode_push_body(*legacy, ct, Some("gzip"), s.as_bytes(), MAX_DECOMPRESSED);
                    let _ = decode_push_body(*legacy, ct, Some("deflate"), s.as_bytes(), MAX_DECOMPRESSED);
                }
                JsonCase::Body(b, m, legacy, enc) => {
                    let body = mutate(b.clone().into_bytes(), m);
                    let (body, ce) = match enc {
                        0 => (body, None),
                        1 => (gzip(&body), Some("gzip")),
                        _ => (deflate(&body), Some("deflate")),
                    };
                    let _ = decode_push_body(*legacy, ct, ce, &body, MAX_DECOMPRESSED);
                    // The same bytes damaged after compression.
                    let _ = decode_push_body(
                        *legacy,
                        ct,
                        ce,
                        &mutate(body.clone(), &Mutation::Flip(body.len() / 2, 0x40)),
                        MAX_DECOMPRESSED,
                    );
                }
            }
        })
    });
}

// ---- query parameters ---------------------------------------------------------------------

/// The value of a duration made of integer and unit pairs (in any order), computed with
/// checked arithmetic: `Some(None)` when it does not fit an i64 of nanoseconds. lokid may
/// refuse more (Prometheus wants the units in order), but what it accepts must have exactly
/// this value, and what does not fit must be refused — a silent wrap-around shows up here.
fn duration_reference(s: &str) -> Option<Option<i64>> {
    if s == "0" {
        return Some(Some(0));
    }
    let b = s.as_bytes();
    if b.is_empty() {
        return Some(None);
    }
    let mut i = 0;
    let mut total: i128 = 0;
    let mut overflow = false;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Some(None);
        }
        let n: Option<i128> = s[start..i].parse().ok();
        let us = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let mult: i128 = match &s[us..i] {
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "d" => 86_400_000_000_000,
            "w" => 604_800_000_000_000,
            "y" => 31_536_000_000_000_000,
            _ => return Some(None),
        };
        match n.and_then(|n| n.checked_mul(mult)).and_then(|v| total.checked_add(v)) {
            Some(t) => total = t,
            None => overflow = true,
        }
    }
    if overflow {
        return Some(None);
    }
    Some(i64::try_from(total).ok())
}

fn param_value() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,40}",
        "-?[0-9]{0,30}(\\.[0-9]{0,20})?([eE][-+]?[0-9]{1,4})?",
        "([0-9]{1,26}(ms|s|m|h|d|w|y|us|µs|ns|x)?){1,5}",
        "(1|2)[0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,12})?(Z|[+-][0-9]{2}:[0-9]{2})",
        prop::sample::select(
            &[
                "NaN",
                "inf",
                "-inf",
                "+Inf",
                "1e308",
                "-1e308",
                "1e308.5",
                "9223372036854775807",
                "-9223372036854775808",
                "99999999999.999",
                "-0.0",
                "0",
                "",
                " ",
                "1.",
                ".5",
                "0x10",
                "1_000"
            ][..]
        )
        .prop_map(String::from),
    ]
}

#[test]
fn query_parameters_never_panic_and_durations_do_not_overflow() {
    let strategy = (
        prop::collection::vec(
            (
                prop::sample::select(
                    &["start", "end", "since", "time", "step", "interval", "limit", "direction", "query", "x"][..],
                ),
                param_value(),
            ),
            0..6,
        ),
        prop::option::of(".{0,60}"),
        ".{0,60}",
    );
    run("query params", 0x9a7a, strategy, |(pairs, body, raw_query)| {
        let input = (pairs.clone(), body.clone(), raw_query.clone());
        guarded("query parameters", &input, move || -> Result<(), String> {
            let query: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
                .finish();
            for q in [query.as_str(), raw_query.as_str()] {
                let p = Params::parse(Some(q), body.as_deref().map(str::as_bytes));
                let _ = params::bounds(&p, 1_770_033_600_000_000_000);
                let _ = params::limit(&p);
                let _ = params::direction(&p);
                for (_, v) in &p.0 {
                    let _ = params::parse_timestamp(v);
                    let _ = params::parse_step(v);
                }
            }
            for (_, v) in &pairs {
                let _ = params::parse_timestamp(v);
                let _ = params::parse_step(v);
                let got = params::parse_prom_duration(v);
                if let (Some(got), Some(want)) = (got, duration_reference(v)) {
                    if Some(got) != want {
                        return Err(format!("parse_prom_duration({v:?}) = {got}, but the value is {want:?}"));
                    }
                }
            }
            Ok(())
        })?
        .map_err(TestCaseError::fail)
    });
}

/// Regression (a38b28d): `parse_prom_duration` multiplied in i128 without overflow checks —
/// a debug build panicked (found by `cargo fuzz run query_params`), a release build wrapped:
/// 2^122 ms is exactly 0 modulo 2^128, so `step=5316911983139663491615228241121378304ms1s`
/// was read as 1s. Prometheus answers "duration out of range".
#[test]
fn huge_durations_are_refused_not_wrapped() {
    for s in [
        "5316911983139663491615228241121378304ms",
        "5316911983139663491615228241121378304ms1s",
        "77777777777777777777777777777777771m30s",
    ] {
        assert_eq!(params::parse_prom_duration(s), None, "{s}");
    }
}

// ---- pathological regexes, end to end ----------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pathological_regexes_are_bounded_in_time() {
    let srv = crate::harness::TestServer::start().await;
    let t0: i64 = 1_770_033_600_000_000_000;
    let long = "a".repeat(200_000);
    let body = json!({"streams": [{"stream": {"app": "re", "blob": "a".repeat(2000)},
                                   "values": [[t0.to_string(), long], [(t0 + 1).to_string(), "a".repeat(5000) + "c"]]}]});
    let (s, text) = crate::harness::push_json(&srv.base, &body).await;
    assert_eq!(s, 204, "{text}");
    let queries = [
        r#"{app="re"} |~ "(a*)*b""#,
        // No required literal: the regex engine itself runs over the 200 KB line.
        r#"{app="re"} |~ "(a*)*[bc]d""#,
        r#"{app="re"} |~ "^(a+)+[^a]$""#,
        r#"{app="re"} |~ "(.*a){25}[^ac]""#,
        r#"{app="re"} |~ `(\w+\s?)*[^\w]`"#,
        r#"{app="re"} |~ "(?i)(a|a?)+$[x-z]""#,
        r#"{app="re"} |~ "(a|aa)*b""#,
        r#"{app="re"} |~ "(a+)+$b""#,
        r#"{app="re"} |~ "(?i)(a|a?)+$x""#,
        r#"{app="re"} != "b" |~ "((a*)*)*b""#,
        r#"{app=~"(r*)*e"} |~ "(.*a){20}b""#,
        r#"{app="re"} | regexp "(?P<x>(a*)*b)""#,
        r#"{app="re"} | blob=~"(a*)*b""#,
        r#"{app="re"} | label_format y=`{{ regexReplaceAll "(a*)*b" .blob "x" }}`"#,
        r#"{app="re"} |~ "a{1000}""#,
        r#"{app="re"} |~ "a{1001}""#,
        r#"{app="re"} |~ "(a{1000}){1000}""#,
        r#"{app="re"} |~ "((a{100}){100}){100}""#,
        r#"{app="re"} |~ "(((((((((((((((((((((((((((((((((((((((((((((a)))))))))))))))))))))))))))))))))))))))))))))""#,
        r#"sum(count_over_time({app="re"} |~ "(a*)*b" [1h]))"#,
    ];
    let end = (t0 + 3_600_000_000_000).to_string();
    for q in queries {
        let started = Instant::now();
        let r = tokio::time::timeout(
            Duration::from_secs(20),
            crate::harness::get(
                &srv.base,
                "/loki/api/v1/query_range",
                &[("query", q), ("start", &t0.to_string()), ("end", &end), ("step", "60s")],
            ),
        )
        .await;
        let took = started.elapsed();
        let (s, text) = r.unwrap_or_else(|_| panic!("{q}: no answer within 20 s"));
        eprintln!("{took:>10.1?} {s} {q}");
        assert!(s == 200 || s == 400, "{q}: {s} {text:.300}");
        assert!(took < Duration::from_secs(5), "{q}: took {took:?}");
    }
    srv.stop().await;
}
