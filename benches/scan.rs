//! Scans over ~2 million stored winston lines (about 450 MB of raw log) after block merging
//! (sealed, paged blocks): the needle scan `{job="docker"} |= "needle"` as a log query with
//! limit 100 that finds one match, and the metric kernels Grafana leans on over the same
//! data: the logs-volume query, `rate` with a line filter, and an unwrap quantile.
//! Throughput is raw log bytes in the queried range per second.
//! Run: `bash scripts/dev.sh bench` (or `cargo bench --bench scan`).

mod common;

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lokid::index::Registry;
use lokid::ingest::Ingester;
use lokid::logql::{parse_expr, Expr, LineFilter, LineFilterOp, LineFilterValue, LogExpr, MatchOp, Matcher, Stage};
use lokid::model::{Direction, TimeRange};
use lokid::query::metric::{self, MetricQuery};
use lokid::query::plan::Steps;
use lokid::query::result::QueryResult;
use lokid::query::{logs, Deadline, Engine};
use lokid::store::{keys, merge, Rocks, RocksOptions};
use lokid::tail::Hub;

const STREAMS: usize = 24;
const BATCHES: usize = 20;
const PER_BATCH: usize = 4_200; // per stream: 24 × 20 × 4200 ≈ 2.0 M lines

fn setup() -> (tempfile::TempDir, Engine, u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let rocks = Arc::new(Rocks::open(dir.path(), &RocksOptions::default()).expect("open"));
    let registry = Arc::new(Registry::load(&rocks).expect("registry"));
    let ingester = Ingester::new(Arc::clone(&rocks), Arc::clone(&registry), Arc::new(Hub::default()));
    let mut raw = 0u64;
    for b in 0..BATCHES {
        let start = common::T0 + (b * PER_BATCH) as i64 * 1_000_000;
        let mut streams = common::streams(STREAMS, PER_BATCH, start);
        if b == BATCHES / 2 {
            streams[3].entries[17].line.push_str(" needle");
        }
        raw += streams.iter().flat_map(|s| &s.entries).map(|e| e.line.len() as u64).sum::<u64>();
        ingester.commit("fake", streams).expect("commit");
    }
    let buckets: Vec<(u32, i64)> = ingester.small_blocks.lock().keys().copied().collect();
    for (stream, hour) in buckets {
        merge::merge_bucket(
            &rocks,
            stream,
            hour,
            merge::Pick::All,
            1 << 20,
            Some(&lokid::query::pipeline::JSON_FIELDS),
            || ingester.next_seq(),
        )
        .expect("merge");
    }
    rocks.flush().expect("flush");
    (dir, Engine { rocks, registry }, raw)
}

fn bench_scan(c: &mut Criterion) {
    let (_dir, engine, raw) = setup();
    let expr = LogExpr {
        matchers: vec![Matcher { name: "job".into(), op: MatchOp::Eq, value: "docker".into() }],
        stages: vec![Stage::LineFilter(LineFilter {
            op: LineFilterOp::Contains,
            values: vec![LineFilterValue::Str("needle".into())],
        })],
    };
    let end = common::T0 + 2 * keys::HOUR_NS;
    let mut g = c.benchmark_group("scan");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(raw));
    g.bench_function("needle_2m_lines", |b| {
        b.iter(|| {
            let q = logs::LogQuery {
                tenant: "fake",
                expr: &expr,
                range: TimeRange { start: common::T0, end },
                limit: 100,
                direction: Direction::Backward,
                categorize: false,
                interval: 0,
                deadline: Deadline::none(),
            };
            let (res, _) = logs::run(&engine, &q).expect("query");
            assert_eq!(res.iter().map(|s| s.entries.len()).sum::<usize>(), 1);
        })
    });
    let kernels = [
        ("volume_by_level_2h_step60", r#"sum by (level) (count_over_time({job="docker"}[1m]))"#, 60),
        ("rate_error_by_service_step60", r#"sum by (service) (rate({job="docker"} |= "error" [5m]))"#, 60),
        (
            "unwrap_p99_by_service_step300",
            r#"quantile_over_time(0.99, {job="docker"} | json | unwrap latency_ms [5m]) by (service)"#,
            300,
        ),
    ];
    for (name, q, step) in kernels {
        let Ok(Expr::Metric(m)) = parse_expr(q) else { panic!("{q}") };
        g.bench_function(name, |b| {
            b.iter(|| {
                let src = logs::StoreSource::new(&engine, "fake", Deadline::none());
                let mq = MetricQuery { expr: &m, steps: Steps::range(common::T0, end, step * 1_000_000_000) };
                let QueryResult::Matrix(series) = metric::run(&mq, &src, 0).expect("query") else { panic!("matrix") };
                assert!(!series.is_empty());
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_scan);
criterion_main!(benches);
