//! The block codec of engine v2: encoding a ~1 MiB run of winston lines as a push block
//! (lz4) and as a sealed block (zstd pages + page filters), decoding it whole or index-only,
//! and decoding it for a needle that its page filters rule out or let through. Throughput
//! is raw log bytes per second.
//! Run: `cargo bench --bench codec`.

mod common;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use lokid::model::Entry;
use lokid::store::block::{self, Block, Codec};
use lokid::store::filter::Probe;

/// About 1 MiB of raw log: what a sealed block holds.
fn entries() -> Vec<Entry> {
    (0..5_000u64)
        .map(|i| Entry {
            ts: common::T0 + i as i64 * 1_000_000,
            line: common::line(i, "api-server", "info"),
            metadata: vec![],
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let entries = entries();
    let raw: u64 = entries.iter().map(|e| e.line.len() as u64).sum();
    let push = block::encode(&entries, Codec::Lz4);
    let level = lokid::store::merge::SEALED_ZSTD_LEVEL;
    let sealed = block::encode(&entries, Codec::Zstd(level));
    eprintln!(
        "codec: {} lines, {raw} raw bytes; push block (lz4) {} bytes ({:.1}x), sealed block (zstd {level}, paged, filtered) {} bytes ({:.1}x)",
        entries.len(),
        push.len(),
        raw as f64 / push.len() as f64,
        sealed.len(),
        raw as f64 / sealed.len() as f64,
    );
    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Bytes(raw));
    g.bench_function("encode_push_lz4", |b| b.iter(|| block::encode(black_box(&entries), Codec::Lz4)));
    g.bench_function("encode_sealed", |b| b.iter(|| block::encode(black_box(&entries), Codec::Zstd(level))));
    g.bench_function("decode_sealed_whole", |b| b.iter(|| Block::decode(black_box(&sealed)).unwrap()));
    g.bench_function("decode_sealed_index_only", |b| b.iter(|| Block::decode_lazy(black_box(&sealed)).unwrap()));
    let absent = Probe::new([&b"never-appears-anywhere"[..]]);
    let present = Probe::new([&b"\"user_id_123\""[..]]);
    // A needle every page's filter rules out: only page headers are read.
    g.bench_function("decode_probed_ruled_out", |b| {
        b.iter(|| Block::decode_probed(black_box(&sealed), black_box(&absent)).unwrap())
    });
    // A needle some pages may hold: the index and those pages' payloads.
    g.bench_function("decode_probed_present", |b| {
        b.iter(|| Block::decode_probed(black_box(&sealed), black_box(&present)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
