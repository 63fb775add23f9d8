//! Push bodies as Promtail sends them (snappy-block protobuf). The first byte picks how the
//! rest is fed: as the raw body, or snappy-compressed first so that the fuzzer reaches the
//! protobuf reader with arbitrary bytes instead of stopping at the snappy check.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lokid::api::wire::push::decode_push_body;

/// lokid's default `distributor.max-recv-msg-size` bounds decompression (snappy bombs).
const MAX: usize = 100 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let encoding = if mode & 2 == 0 { None } else { Some("snappy") };
    let legacy = mode & 4 != 0;
    let ct = Some("application/x-protobuf");
    if mode & 1 == 0 {
        let _ = decode_push_body(legacy, ct, encoding, rest, MAX);
    } else {
        let body = snap::raw::Encoder::new().compress_vec(rest).expect("snappy encodes any input");
        let _ = decode_push_body(legacy, ct, encoding, &body, MAX);
    }
});
