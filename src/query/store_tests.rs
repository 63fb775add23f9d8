//! Engine tests over a real RocksDB store in a temporary directory: pushes go through the
//! `Ingester`, queries through `logs::run` and `metric::run` with a `StoreSource`.

use std::sync::Arc;

use super::logs::{self, LogQuery, StoreSource};
use super::metric::{self, MetricQuery};
use super::{Deadline, Engine, QueryResult};
use crate::index::Registry;
use crate::ingest::Ingester;
use crate::logql::{parse_expr, Expr};
use crate::model::{Direction, Entry, Labels, PushStream, TimeRange};
use crate::store::{keys, merge, Rocks, RocksOptions};
use crate::tail::Hub;

const S: i64 = 1_000_000_000;
/// 2026-02-02T13:00:00Z.
const T0: i64 = 1_770_037_200 * S;

struct Store {
    _dir: tempfile::TempDir,
    rocks: Arc<Rocks>,
    registry: Arc<Registry>,
    ingester: Ingester,
}

impl Store {
    fn open() -> Store {
        let dir = tempfile::tempdir().unwrap();
        Store::open_in(dir)
    }

    fn open_in(dir: tempfile::TempDir) -> Store {
        let rocks = Arc::new(Rocks::open(dir.path(), &RocksOptions::default()).unwrap());
        let registry = Arc::new(Registry::load(&rocks).unwrap());
        let ingester = Ingester::new(Arc::clone(&rocks), Arc::clone(&registry), Arc::new(Hub::default()));
        Store { _dir: dir, rocks, registry, ingester }
    }

    /// Closes the store and opens it again, as a restart does.
    fn reopen(self) -> Store {
        let Store { _dir, rocks, registry, ingester } = self;
        drop((ingester, registry));
        drop(Arc::try_unwrap(rocks).ok().expect("no other handle"));
        Store::open_in(_dir)
    }

    fn engine(&self) -> Engine {
        Engine { rocks: Arc::clone(&self.rocks), registry: Arc::clone(&self.registry) }
    }

    fn push(&self, labels: &[(&str, &str)], entries: &[(i64, &str)]) {
        let labels = Labels::from_pairs(labels.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect());
        let entries = entries.iter().map(|(ts, l)| Entry { ts: *ts, line: l.to_string(), metadata: vec![] }).collect();
        self.ingester.commit("fake", vec![PushStream { labels, entries }]).unwrap();
    }
}

fn lines(engine: &Engine, q: &str, direction: Direction) -> Vec<String> {
    let Ok(Expr::Log(expr)) = parse_expr(q) else { panic!("{q}") };
    let q = LogQuery {
        tenant: "fake",
        expr: &expr,
        range: TimeRange { start: T0 - 3600 * S, end: T0 + 3600 * S },
        limit: 1000,
        direction,
        categorize: false,
        interval: 0,
        deadline: Deadline::none(),
    };
    let (streams, _) = logs::run(engine, &q).unwrap();
    let mut all: Vec<(i64, String)> =
        streams.into_iter().flat_map(|s| s.entries.into_iter().map(|e| (e.ts, e.line))).collect();
    // Streams come grouped; the order inside one stream is what is checked.
    all.sort_by_key(|e| if direction == Direction::Forward { e.0 } else { -e.0 });
    all.into_iter().map(|e| e.1).collect()
}

fn instant(src: &StoreSource, q: &str, t: i64) -> Vec<(String, f64)> {
    let Ok(Expr::Metric(m)) = parse_expr(q) else { panic!("{q}") };
    match metric::run(&MetricQuery { expr: &m, steps: crate::query::plan::Steps::instant(t) }, src, 0).unwrap() {
        QueryResult::Vector(v) => v.into_iter().map(|s| (s.labels.to_string(), s.value)).collect(),
        other => panic!("{other:?}"),
    }
}

/// A line filter finds a match that begins inside a line right after a match that
/// straddled the end of the previous line (lines are searched back to back).
#[test]
fn a_match_after_a_straddling_one_is_found() {
    let st = Store::open();
    st.push(&[("app", "a")], &[(T0, "a"), (T0 + 1, "aa")]);
    let e = st.engine();
    assert_eq!(lines(&e, r#"{app="a"} |= "aa""#, Direction::Forward), vec!["aa"]);
    let src = StoreSource::new(&e, "fake", Deadline::none());
    assert_eq!(instant(&src, r#"count_over_time({app="a"} |= "aa" [1m])"#, T0 + S), vec![(r#"{app="a"}"#.into(), 1.0)]);
}

/// Every leg of a metric query reads the snapshot taken when the query started.
#[test]
fn a_metric_query_reads_one_snapshot() {
    let st = Store::open();
    st.push(&[("app", "a")], &[(T0, "one")]);
    let e = st.engine();
    let src = StoreSource::new(&e, "fake", Deadline::none());
    st.push(&[("app", "a")], &[(T0 + 1, "two")]);
    let q = r#"sum(count_over_time({app="a"}[1m])) + sum(count_over_time({app="a"} | json [1m]))"#;
    assert_eq!(instant(&src, q, T0 + S), vec![("{}".into(), 2.0)]);
    let fresh = StoreSource::new(&e, "fake", Deadline::none());
    assert_eq!(instant(&fresh, q, T0 + S), vec![("{}".into(), 4.0)]);
}

/// Entries with equal timestamps come back in one order, whatever the pushes and merges.
#[test]
fn equal_timestamps_have_a_stable_order() {
    let st = Store::open();
    st.push(&[("app", "a")], &[(T0, "b")]);
    st.push(&[("app", "a")], &[(T0, "c"), (T0, "a")]);
    let e = st.engine();
    let forward = vec!["a", "b", "c"];
    let backward = vec!["c", "b", "a"];
    assert_eq!(lines(&e, r#"{app="a"}"#, Direction::Forward), forward);
    assert_eq!(lines(&e, r#"{app="a"}"#, Direction::Backward), backward);
    let id = st.registry.lookup("fake", r#"{app="a"}"#).unwrap();
    assert_eq!(
        merge::merge_bucket(&st.rocks, id, keys::hour_of(T0), merge::Pick::All, 1 << 20, None, || 7).unwrap(),
        2
    );
    assert_eq!(lines(&e, r#"{app="a"}"#, Direction::Forward), forward);
    assert_eq!(lines(&e, r#"{app="a"}"#, Direction::Backward), backward);
}

/// The counting kernel drops exact duplicates across overlapping blocks and agrees with the
/// general evaluation on every step.
#[test]
fn kernel_and_entry_scan_agree_on_the_store() {
    let st = Store::open();
    for p in 0..5i64 {
        let entries: Vec<(i64, String)> = (0..40)
            .map(|i| {
                (T0 + (i * 5 + p) * S, format!("p{} line {} {}", p % 2, i, if i % 3 == 0 { "error" } else { "ok" }))
            })
            .collect();
        let refs: Vec<(i64, &str)> = entries.iter().map(|(t, l)| (*t, l.as_str())).collect();
        st.push(&[("app", if p % 2 == 0 { "a" } else { "b" }), ("level", "info")], &refs);
        // The same entries again: duplicates count once.
        st.push(&[("app", if p % 2 == 0 { "a" } else { "b" }), ("level", "info")], &refs[..10]);
    }
    let e = st.engine();
    let src = StoreSource::new(&e, "fake", Deadline::none());
    // `| json` forces the general evaluation (a parser), `| drop __error__` allows the kernel;
    // both count the same lines here since every label is a stream label.
    for (fast, slow) in [
        (
            r#"sum by (app) (count_over_time({level="info"} |= "error" [1m]))"#,
            r#"sum by (app) (count_over_time({level="info"} |= "error" | logfmt | drop __error__, __error_details__ [1m]))"#,
        ),
        (
            r#"sum by (level) (bytes_over_time({app=~"a|b"}[30s]))"#,
            r#"sum by (level) (bytes_over_time({app=~"a|b"} | logfmt | drop __error__, __error_details__ [30s]))"#,
        ),
    ] {
        for k in 0..8 {
            let t = T0 + k * 30 * S;
            assert_eq!(instant(&src, fast, t), instant(&src, slow, t), "{fast} at step {k}");
        }
    }
    assert_eq!(instant(&src, r#"sum(count_over_time({app="a"}[11m]))"#, T0 + 600 * S), vec![("{}".into(), 120.0)]);
}

/// Buckets with small blocks left unmerged at a stop are merged after the restart.
#[test]
fn unmerged_buckets_survive_a_restart() {
    let st = Store::open();
    st.push(&[("app", "a")], &[(T0, "x")]);
    st.push(&[("app", "a")], &[(T0 + 1, "y")]);
    let id = st.registry.lookup("fake", r#"{app="a"}"#).unwrap();
    let st = st.reopen();
    let due = st.ingester.small_blocks.lock().clone();
    assert_eq!(due.get(&(id, keys::hour_of(T0))), Some(&crate::ingest::MERGE_NOW));
    assert_eq!(
        merge::merge_bucket(&st.rocks, id, keys::hour_of(T0), merge::Pick::All, 1 << 20, None, || 9).unwrap(),
        2
    );
    let st = st.reopen();
    assert!(st.ingester.small_blocks.lock().is_empty(), "a merged bucket is not due again");
}

/// Stream ids are never reused, even when the highest-numbered stream was removed before a
/// restart; a selector never returns a stream it does not match.
#[test]
fn stream_ids_are_not_reused_after_a_restart() {
    let st = Store::open();
    st.push(&[("app", "a")], &[(T0, "a1")]);
    st.push(&[("app", "old")], &[(T0, "old1")]);
    let old = st.registry.meta(st.registry.lookup("fake", r#"{app="old"}"#).unwrap()).unwrap();
    let mut batch = st.rocks.batch();
    st.registry.prepare_remove(&mut batch, &old);
    batch.delete_blocks_range(&keys::block_stream(old.id), &keys::block_stream_end(old.id));
    st.rocks.write(batch).unwrap();
    st.registry.forget(&[Arc::clone(&old)]);
    let st = st.reopen();
    st.push(&[("app", "new")], &[(T0, "new1")]);
    let new = st.registry.lookup("fake", r#"{app="new"}"#).unwrap();
    assert!(new > old.id, "new id {new} after removed {}", old.id);
    let e = st.engine();
    // The day partition still names the old id under app="old".
    assert!(lines(&e, r#"{app="old"}"#, Direction::Forward).is_empty());
    assert_eq!(lines(&e, r#"{app="new"}"#, Direction::Forward), vec!["new1"]);
}

/// After the size cap or expiry removes a day's index partition, a late entry for that day
/// writes its postings again and is found.
#[test]
fn a_day_dropped_from_the_index_is_indexed_again() {
    let st = Store::open();
    st.push(&[("app", "a")], &[(T0, "first")]);
    let day = keys::day_of(T0);
    st.ingester.with_commit_lock(|| {
        let mut batch = st.rocks.batch();
        batch.delete_postings_range(&keys::postings_partition("fake", day), &keys::postings_partition("fake", day + 1));
        st.rocks.write(batch).unwrap();
        st.registry.forget_days(|d| d == day);
    });
    st.push(&[("app", "a")], &[(T0 + S, "late")]);
    assert_eq!(lines(&st.engine(), r#"{app="a"}"#, Direction::Forward), vec!["first", "late"]);
}

/// Sealed blocks whose token filter lacks a word of a line filter are skipped unread; every
/// match is still found, in log and metric queries.
#[test]
fn token_filters_skip_sealed_blocks_and_miss_nothing() {
    let st = Store::open();
    for b in 0..4i64 {
        let lines: Vec<(i64, String)> = (0..50)
            .map(|i| {
                (
                    T0 + (b * 50 + i) * S,
                    format!("order {} {}", b * 50 + i, if b == 2 && i == 7 { "refund issued" } else { "payment ok" }),
                )
            })
            .collect();
        let refs: Vec<(i64, &str)> = lines.iter().map(|(t, l)| (*t, l.as_str())).collect();
        st.push(&[("app", "shop")], &refs);
    }
    let id = st.registry.lookup("fake", r#"{app="shop"}"#).unwrap();
    assert_eq!(
        merge::merge_bucket(&st.rocks, id, keys::hour_of(T0), merge::Pick::All, 1 << 20, None, || 11).unwrap(),
        4,
        "one sealed block"
    );
    let e = st.engine();
    assert_eq!(lines(&e, r#"{app="shop"} |= " refund ""#, Direction::Forward), vec!["order 107 refund issued"]);
    assert_eq!(lines(&e, r#"{app="shop"} |= "refund issued""#, Direction::Forward), vec!["order 107 refund issued"]);
    assert!(lines(&e, r#"{app="shop"} |= " never-seen-word ""#, Direction::Forward).is_empty());
    let src = StoreSource::new(&e, "fake", Deadline::none());
    assert_eq!(
        instant(&src, r#"sum(count_over_time({app="shop"} |= " refund " [1h]))"#, T0 + 3000 * S),
        vec![("{}".into(), 1.0)]
    );
    assert_eq!(src.stats.borrow().blocks_decoded, 1);
    let src = StoreSource::new(&e, "fake", Deadline::none());
    assert!(instant(&src, r#"sum(count_over_time({app="shop"} |= " absent " [1h]))"#, T0 + 3000 * S).is_empty());
    let stats = src.stats.borrow();
    assert_eq!((stats.blocks_decoded, stats.blocks_skipped), (0, 1), "ruled out by the filter, not decoded: {stats:?}");
}

/// Sealed blocks are cut into pages with their own filters: a single-word needle
/// (`|= "error"`) reads only the pages that may hold it, and still finds the word inside
/// longer words ("errors", "myerror"), in log and metric queries alike.
#[test]
fn page_filters_skip_pages_and_keep_substring_semantics() {
    use crate::store::block::PAGE_BYTES;
    let st = Store::open();
    let pad = "x".repeat(200);
    let n = 6 * PAGE_BYTES as i64 / 200;
    let special = |i: i64| match i {
        10 => Some("disk error"),
        n2 if n2 == n / 2 => Some("3 errors"),
        n3 if n3 == n - 5 => Some("myerror: TERROR"),
        _ => None,
    };
    let lines: Vec<(i64, String)> =
        (0..n).map(|i| (T0 + i * S / 100, format!("{i} {} {pad}", special(i).unwrap_or("fine")))).collect();
    for chunk in lines.chunks(lines.len() / 3 + 1) {
        let refs: Vec<(i64, &str)> = chunk.iter().map(|(t, l)| (*t, l.as_str())).collect();
        st.push(&[("app", "web")], &refs);
    }
    let id = st.registry.lookup("fake", r#"{app="web"}"#).unwrap();
    assert!(
        merge::merge_bucket(&st.rocks, id, keys::hour_of(T0), merge::Pick::All, 8 << 20, None, || 21).unwrap() >= 2
    );
    let e = st.engine();
    let want: Vec<String> = lines.iter().filter(|(_, l)| l.contains("error")).map(|(_, l)| l.clone()).collect();
    assert_eq!(want.len(), 3);
    assert_eq!(lines_of(&e, r#"{app="web"} |= "error""#), want);
    assert_eq!(lines_of(&e, r#"{app="web"} |= "rror: TERR""#), vec![want[2].clone()]);
    let src = StoreSource::new(&e, "fake", Deadline::none());
    assert_eq!(
        instant(&src, r#"sum(count_over_time({app="web"} |= "error" [1h]))"#, T0 + 3000 * S),
        vec![("{}".into(), 3.0)]
    );
    let stats = src.stats.borrow();
    let all: u64 = lines.iter().map(|(_, l)| l.len() as u64).sum();
    assert!(stats.bytes_processed * 2 < all, "only the pages that may match are read: {stats:?}");
}

fn lines_of(engine: &Engine, q: &str) -> Vec<String> {
    lines(engine, q, Direction::Forward)
}

fn range_series(src: &StoreSource, q: &str, start: i64, end: i64, step: i64) -> String {
    let Ok(Expr::Metric(m)) = parse_expr(q) else { panic!("{q}") };
    match metric::run(&MetricQuery { expr: &m, steps: crate::query::plan::Steps::new(start, end, step) }, src, 0) {
        Ok(r) => format!("{r:?}"),
        Err(e) => format!("error: {e}"),
    }
}

/// `| json | unwrap f` over sealed blocks with field columns gives exactly what parsing
/// every line gives, for every kind of line a column must be careful with, and reads
/// fewer line bytes doing so.
#[test]
fn field_columns_answer_as_the_lines_do() {
    let kinds = [
        r#"{"level":"info","latency_ms":12.5,"service":"api"}"#,
        r#"{"latency_ms":"7","msg":"a string that is a number"}"#,
        r#"{"latency_ms":"","msg":"empty"}"#,
        r#"{"latency":{"ms":4},"latency_ms":9}"#, // flattened first: the nested one wins
        r#"{"l\u0061tency_ms":21}"#,
        r#"{"msg":"no field here"}"#,
        "latency_ms=19 level=info",
        "plain text without it",
        r#"{"latency_ms":3,"latency_ms":30}"#,
        r#"  {"latency_ms" : 1e3 , "n": [1, {"latency_ms": 2}]}"#,
    ];
    let stores = [Store::open(), Store::open()];
    for st in &stores {
        for app in ["a", "b"] {
            let mut entries = Vec::new();
            for i in 0..700i64 {
                // Stream b's label of the field's name gives every line a sample: only
                // lines that parse, or that would be errors.
                let k = (i as usize * 7) % kinds.len();
                let line = if app == "b" && k >= 6 { kinds[0] } else { kinds[k] }.to_string();
                // Some entries carry metadata named like the field (it wins over the line's).
                let metadata =
                    if app == "a" && k == 0 && i % 3 == 0 { vec![("latency_ms".into(), "100".into())] } else { vec![] };
                entries.push(Entry { ts: T0 + i * S / 2, line, metadata });
            }
            // Stream b also has a stream label of the field's name, and one of its own.
            let mut labels = vec![("app".to_string(), app.to_string())];
            if app == "b" {
                labels.push(("latency_ms".into(), "8".into()));
            }
            // Two pushes: two small blocks, which the merge seals into one.
            let labels = Labels::from_pairs(labels);
            let later = entries.split_off(350);
            for entries in [entries, later] {
                st.ingester.commit("fake", vec![PushStream { labels: labels.clone(), entries }]).unwrap();
            }
        }
        // Damage after the field: Loki's parser keeps looking for the grouping label, so
        // the line is an error.
        let damaged = r#"{"latency_ms":5,"x": }"#;
        for half in [0..150, 150..300] {
            st.push(&[("app", "c")], &half.clone().map(|i| (T0 + i * S, kinds[0])).collect::<Vec<_>>());
            let d: Vec<_> = half.map(|i| (T0 + i * S, if i % 9 == 0 { damaged } else { kinds[0] })).collect();
            st.push(&[("app", "d")], &d);
        }
    }
    for (n, st) in stores.iter().enumerate() {
        let fields = if n == 0 { Some(&crate::query::pipeline::JSON_FIELDS as _) } else { None };
        for app in [r#"{app="a"}"#, r#"{app="b", latency_ms="8"}"#, r#"{app="c"}"#, r#"{app="d"}"#] {
            let id = st.registry.lookup("fake", app).unwrap();
            assert_eq!(
                merge::merge_bucket(&st.rocks, id, keys::hour_of(T0), merge::Pick::All, 1 << 20, fields, || 100)
                    .unwrap(),
                2
            );
        }
    }
    let queries = [
        r#"sum by (app) (sum_over_time({app=~"a|b|c"} | json | unwrap latency_ms [1m]))"#,
        r#"quantile_over_time(0.9, {app=~"a|b|c"} | json | unwrap latency_ms [30s]) by (app)"#,
        r#"max_over_time({app=~"a|b|c"} | json | unwrap latency_ms [20s]) by (app)"#,
        r#"stddev_over_time({app=~"a|b|c"} | json | unwrap latency_ms [1m]) without (app)"#,
        r#"max_over_time({app="d"} | json | unwrap latency_ms [20s]) by (app)"#,
        r#"sum_over_time({app="c"} | json | unwrap latency_ms [1m])"#,
        r#"max_over_time({app="c"} | json | unwrap latency_ms [1m]) by (app)"#,
        r#"sum_over_time({app="a"} | json | __error__="" | unwrap latency_ms [1m])"#,
        r#"avg_over_time({app="c"} | json | unwrap bytes(latency_ms) [1m]) by (app)"#,
    ];
    let (with, without) = (stores[0].engine(), stores[1].engine());
    for q in queries {
        let (a, b) =
            (StoreSource::new(&with, "fake", Deadline::none()), StoreSource::new(&without, "fake", Deadline::none()));
        let got = range_series(&a, q, T0, T0 + 400 * S, 10 * S);
        assert_eq!(got, range_series(&b, q, T0, T0 + 400 * S, 10 * S), "{q}");
        assert_eq!(got.contains("Matrix"), !q.contains(r#"app="d""#), "{q}: {got}");
    }
    // The column stood in for lines: stream c's lines are never decompressed.
    let q = r#"max_over_time({app="c"} | json | unwrap latency_ms [1m]) by (app)"#;
    let (a, b) =
        (StoreSource::new(&with, "fake", Deadline::none()), StoreSource::new(&without, "fake", Deadline::none()));
    range_series(&a, q, T0, T0 + 400 * S, 10 * S);
    range_series(&b, q, T0, T0 + 400 * S, 10 * S);
    let (da, db) = (a.stats.borrow().decompressed_bytes, b.stats.borrow().decompressed_bytes);
    assert!(da * 2 < db, "decompressed {da} with columns, {db} without");
}

/// A query holds what its budget allows: a log query whose open blocks, or a metric query
/// whose samples, need more fails with `MemoryBudget`; within budget it answers, and every
/// byte charged is released when it ends.
#[test]
fn queries_stay_within_their_memory_budget() {
    let st = Store::open();
    for app in ["a", "b", "c", "d"] {
        let lines: Vec<(i64, String)> = (0..2000)
            .map(|i| (T0 + i * S / 10, format!(r#"{{"app":"{app}","n":{i},"pad":"{}"}}"#, "x".repeat(60))))
            .collect();
        let refs: Vec<(i64, &str)> = lines.iter().map(|(t, l)| (*t, l.as_str())).collect();
        st.push(&[("app", app)], &refs);
    }
    let e = st.engine();
    let Ok(Expr::Log(expr)) = parse_expr(r#"{app=~".+"}"#) else { panic!() };
    let run_logs = |budget: &Arc<super::Budget>| {
        let q = LogQuery {
            tenant: "fake",
            expr: &expr,
            range: TimeRange { start: T0 - 3600 * S, end: T0 + 3600 * S },
            limit: 5000,
            direction: Direction::Forward,
            categorize: false,
            interval: 0,
            deadline: Deadline { budget: Some(Arc::clone(budget)), ..Deadline::none() },
        };
        logs::run(&e, &q).map(|(streams, _)| streams.iter().map(|s| s.entries.len()).sum::<usize>())
    };
    let tight = super::Budget::new(64 << 10);
    let err = run_logs(&tight).unwrap_err();
    assert!(matches!(err, super::QueryError::MemoryBudget { limit: 65536 }), "{err}");
    assert!(err
        .to_string()
        .starts_with("the query needs more memory than its budget (lokid.query_memory_bytes: 66 kB)"));
    assert_eq!(tight.used(), 0, "released after the failure");
    let ample = super::Budget::new(64 << 20);
    assert_eq!(run_logs(&ample).unwrap(), 5000);
    assert_eq!(ample.used(), 0, "released after the answer");

    let Ok(Expr::Metric(m)) = parse_expr(r#"sum_over_time({app=~".+"} | json | unwrap n [1h])"#) else { panic!() };
    let steps = crate::query::plan::Steps::instant(T0 + 1800 * S);
    let run_metric = |budget: &Arc<super::Budget>| {
        let d = Deadline { budget: Some(Arc::clone(budget)), ..Deadline::none() };
        super::run_metric(&e, "fake", d, &MetricQuery { expr: &m, steps }, 0)
    };
    let tight = super::Budget::new(16 << 10);
    assert!(matches!(run_metric(&tight), Err(super::QueryError::MemoryBudget { .. })));
    assert_eq!(tight.used(), 0);
    let ample = super::Budget::new(64 << 20);
    let QueryResult::Vector(v) = run_metric(&ample).unwrap().0 else { panic!() };
    assert_eq!(v.len(), 4);
    assert_eq!(ample.used(), 0);
}
