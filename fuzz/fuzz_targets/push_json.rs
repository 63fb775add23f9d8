//! JSON push bodies (v1 and the legacy `/api/prom/push` shape), optionally gzip / deflate
//! wrapped as Content-Encoding says. The first byte picks shape, encoding and content type.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use lokid::api::wire::push::decode_push_body;

const MAX: usize = 100 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let legacy = mode & 1 != 0;
    let ct = match (mode >> 1) & 3 {
        0 => "application/json",
        1 => "application/json; charset=utf-8",
        2 => "Application/JSON ;",
        _ => "application/json; charset",
    };
    match (mode >> 3) & 3 {
        0 => {
            let _ = decode_push_body(legacy, Some(ct), None, rest, MAX);
        }
        1 => {
            // The raw bytes as if they were gzip (corrupt streams must be a clean error)...
            let _ = decode_push_body(legacy, Some(ct), Some("gzip"), rest, MAX);
        }
        2 => {
            // ...and valid gzip around the fuzzed JSON, so the JSON decoder still sees it.
            let gz = stored_gzip(rest);
            let _ = decode_push_body(legacy, Some(ct), Some("gzip"), &gz, MAX);
        }
        _ => {
            let _ = decode_push_body(legacy, Some(ct), Some("deflate"), rest, MAX);
        }
    }
});

/// A stored (uncompressed) gzip member around `data`, written by hand so the fuzz crate needs
/// no compression dependency: header, deflate "stored" blocks, CRC-32 and length trailer.
fn stored_gzip(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut chunks = data.chunks(65535).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(c) = chunks.next() {
        let last = chunks.peek().is_none();
        out.push(last as u8);
        let len = c.len() as u16;
        out.write_all(&len.to_le_bytes()).unwrap();
        out.write_all(&(!len).to_le_bytes()).unwrap();
        out.write_all(c).unwrap();
    }
    out.write_all(&crc32(data).to_le_bytes()).unwrap();
    out.write_all(&(data.len() as u32).to_le_bytes()).unwrap();
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
