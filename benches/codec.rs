//! The block codec of engine v2: encoding a ~1 MiB run of winston lines as a push block
//! (lz4) and as a sealed block (zstd + token filter), decoding it whole or index-only, and
//! probing its token filter. Throughput is raw log bytes per second.
//! Run: `cargo bench --bench codec`.

mod common;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use lokid::model::Entry;
use lokid::store::block::{self, Block, Codec};
use lokid::store::filter;

/// About 1 MiB of raw log: what a sealed block holds.
fn entries() -> Vec<Entry> {
    (0..5_000u64)
        .map(|i| Entry { ts: common::T0 + i as i64 * 1_000_000, line: common::line(i, "api-server", "info"), metadata: vec![] })
        .collect()
}

fn bench(c: &mut Criterion) {
    let entries = entries();
    let raw: u64 = entries.iter().map(|e| e.line.len() as u64).sum();
    let push = block::encode(&entries, Codec::Lz4);
    let sealed = block::encode(&entries, Codec::Zstd(3));
    eprintln!(
        "codec: {} lines, {raw} raw bytes; push block (lz4) {} bytes ({:.1}x), sealed block (zstd 3 + filter) {} bytes ({:.1}x), filter {} bytes",
        entries.len(),
        push.len(),
        raw as f64 / push.len() as f64,
        sealed.len(),
        raw as f64 / sealed.len() as f64,
        block::filter_of(&sealed).len()
    );
    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Bytes(raw));
    g.bench_function("encode_push_lz4", |b| b.iter(|| block::encode(black_box(&entries), Codec::Lz4)));
    g.bench_function("encode_sealed_zstd3_filter", |b| b.iter(|| block::encode(black_box(&entries), Codec::Zstd(3))));
    g.bench_function("decode_sealed_whole", |b| b.iter(|| Block::decode(black_box(&sealed)).unwrap()));
    g.bench_function("decode_sealed_index_only", |b| b.iter(|| Block::decode_lazy(black_box(&sealed)).unwrap()));
    let absent = filter::needle_tokens(b"never-appears-anywhere");
    let present = filter::needle_tokens(b"\"user_id_123\"");
    g.bench_function("filter_probe_absent", |b| {
        b.iter(|| filter::may_contain(block::filter_of(black_box(&sealed)), black_box(&absent)))
    });
    g.bench_function("filter_probe_present", |b| {
        b.iter(|| filter::may_contain(block::filter_of(black_box(&sealed)), black_box(&present)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
