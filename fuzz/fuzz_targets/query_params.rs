//! Query parameters: URL query string and form body decoding, then every parameter parser
//! the query handlers apply (timestamps, step/interval, durations, bounds, limit,
//! direction). Any input is Ok or Err, never a panic (overflow included: cargo fuzz builds
//! with debug assertions, so arithmetic overflow panics here).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lokid::api::params::{self, Params};

fuzz_target!(|data: &[u8]| {
    // Split at the first 0xff: URL query before, form body after.
    let (query, body) = match data.iter().position(|&b| b == 0xff) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let query = String::from_utf8_lossy(query);
    let p = Params::parse(Some(&query), body);
    for (_, v) in &p.0 {
        let _ = params::parse_timestamp(v);
        let _ = params::parse_step(v);
        let _ = params::parse_prom_duration(v);
    }
    let _ = params::bounds(&p, 1_770_033_600_000_000_000);
    let _ = params::limit(&p);
    let _ = params::direction(&p);
    // The raw bytes as one value, too.
    let s = String::from_utf8_lossy(data);
    let _ = params::parse_timestamp(&s);
    let _ = params::parse_step(&s);
    let _ = params::parse_prom_duration(&s);
});
