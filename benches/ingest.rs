//! Ingest throughput: protobuf+snappy decode, validation, block encoding and the RocksDB
//! write of one push, as Promtail sends it. Run: `bash scripts/dev.sh bench` (or
//! `cargo bench --bench ingest`). Throughput is reported in lines/s and bytes/s.

mod common;

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lokid::api::wire::push::{decode_push_body, EntryAdapter, LabelPairAdapter, PushRequest, StreamAdapter, Timestamp};
use lokid::index::Registry;
use lokid::ingest::{validate_push, Ingester};
use lokid::limits::Limits;
use lokid::store::{Rocks, RocksOptions};
use lokid::tail::Hub;
use prost::Message;

fn push_body(batch: u64, n_streams: usize, per_stream: usize) -> (Vec<u8>, u64) {
    let start = common::T0 + batch as i64 * 10_000_000_000;
    let mut bytes = 0u64;
    let req = PushRequest {
        streams: common::streams(n_streams, per_stream, start)
            .into_iter()
            .map(|s| StreamAdapter {
                labels: s.labels.to_string(),
                entries: s
                    .entries
                    .into_iter()
                    .map(|e| {
                        bytes += e.line.len() as u64;
                        EntryAdapter {
                            timestamp: Some(Timestamp::from_nanos(e.ts)),
                            line: e.line,
                            structured_metadata: vec![LabelPairAdapter {
                                name: "trace_id".into(),
                                value: "0af7651916cd43dd".into(),
                            }],
                            parsed: vec![],
                        }
                    })
                    .collect(),
                hash: 0,
            })
            .collect(),
        format: String::new(),
    };
    (snap::raw::Encoder::new().compress_vec(&req.encode_to_vec()).expect("snappy"), bytes)
}

fn bench_ingest(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let rocks = Arc::new(Rocks::open(dir.path(), &RocksOptions::default()).expect("open"));
    let registry = Arc::new(Registry::load(&rocks).expect("registry"));
    let ingester = Ingester::new(Arc::clone(&rocks), registry, Arc::new(Hub::default()));
    let limits = Limits::default();
    let (n_streams, per_stream) = (12, 1000);
    let bodies: Vec<(Vec<u8>, u64)> = (0..16).map(|b| push_body(b, n_streams, per_stream)).collect();
    let lines = (n_streams * per_stream) as u64;

    let mut g = c.benchmark_group("ingest");
    g.sample_size(20);
    // The same push measured twice, reported once in lines/s and once in bytes/s.
    let mut i = 0usize;
    let mut push_once = || {
        let (body, _) = &bodies[i % bodies.len()];
        i += 1;
        let streams = decode_push_body(false, Some("application/x-protobuf"), None, body, 0).expect("decode");
        let v = validate_push("fake", streams, &limits, common::T0, lokid::ingest::ServiceName::Discover);
        ingester.commit("fake", v.accepted).expect("commit")
    };
    g.throughput(Throughput::Elements(lines));
    g.bench_function("push_12k_lines_lines_per_s", |b| b.iter(&mut push_once));
    g.throughput(Throughput::Bytes(bodies[0].1));
    g.bench_function("push_12k_lines_bytes_per_s", |b| b.iter(&mut push_once));
    g.finish();
}

criterion_group!(benches, bench_ingest);
criterion_main!(benches);
