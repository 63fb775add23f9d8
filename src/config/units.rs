//! Loki's duration and byte-size syntaxes: parsing and the canonical text form.
//!
//! Durations: Loki has two kinds of duration field. `limits_config` uses Prometheus'
//! `model.Duration` (`[0-9]+` followed by `y w d h m s ms`, largest unit first, e.g. `7d`,
//! `1w2d`, `336h`); the other sections use Go's `time.Duration` (`1.5h`, `300ms`, `1h30m`,
//! `us`, `ns`). lokid accepts the union of both everywhere: any sequence of a decimal number
//! and a unit, units in any order. A bare `0` is zero; any other bare number is an error, as
//! in Loki. `y` is 365 days and `w` is 7 days, as in Prometheus.
//!
//! Sizes: Loki's `flagext.ByteSize` (c2h5oh/datasize after upper-casing the input): an
//! unsigned integer and an optional unit `B`, `K`/`KB`, `M`/`MB`, `G`/`GB`, `T`/`TB`,
//! `P`/`PB`, `E`/`EB` (also `kilobyte`, `megabytes`, ...), case-insensitive, powers of 1024.
//! So `256KB` is 262144 bytes. No fractions and no `KiB` spellings, again as in Loki.

use std::time::Duration;

use crate::gocompat;

const NS_PER_MS: u128 = 1_000_000;
const NS_PER_S: u128 = 1_000_000_000;
const NS_PER_M: u128 = 60 * NS_PER_S;
const NS_PER_H: u128 = 60 * NS_PER_M;
const NS_PER_D: u128 = 24 * NS_PER_H;
const NS_PER_W: u128 = 7 * NS_PER_D;
const NS_PER_Y: u128 = 365 * NS_PER_D;

fn unit_nanos(unit: &str) -> Option<u128> {
    Some(match unit {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => NS_PER_MS,
        "s" => NS_PER_S,
        "m" => NS_PER_M,
        "h" => NS_PER_H,
        "d" => NS_PER_D,
        "w" => NS_PER_W,
        "y" => NS_PER_Y,
        _ => return None,
    })
}

/// Parses a Loki duration (`336h`, `7d`, `1w`, `0s`, `0`, `1.5h`, `300ms`, `1h30m`).
/// The error is the reason only; callers add the key and the value.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.starts_with('-') {
        return Err("durations cannot be negative".into());
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    let mut total: u128 = 0;
    // Go's scan of `<number><unit>` terms; the units and the arithmetic are Loki's union.
    let mut terms = gocompat::duration::terms(s).peekable();
    while let Some(t) = terms.next() {
        let frac_part = t.frac.unwrap_or("");
        // A unit-less term followed by more is a number with a second `.` (`1.5.5h`).
        if (t.int.is_empty() && frac_part.is_empty()) || (t.unit.is_empty() && terms.peek().is_some()) {
            return Err("expected a number followed by a unit (ms, s, m, h, d, w, y)".into());
        }
        if t.unit.is_empty() {
            return Err("missing unit (ms, s, m, h, d, w, y)".into());
        }
        let unit = t.unit;
        let mult = unit_nanos(unit).ok_or_else(|| format!("unknown unit {unit:?}"))?;
        let too_big = || "duration out of range".to_string();
        let whole: u128 = if t.int.is_empty() { 0 } else { t.int.parse().map_err(|_| too_big())? };
        let mut value = whole.checked_mul(mult).ok_or_else(too_big)?;
        if !frac_part.is_empty() {
            // Digits beyond nanosecond precision cannot change the result.
            let digits = &frac_part[..frac_part.len().min(18)];
            let frac: u128 = digits.parse().map_err(|_| too_big())?;
            value += frac * mult / 10u128.pow(digits.len() as u32);
        }
        total = total.checked_add(value).ok_or_else(too_big)?;
    }
    let nanos = u64::try_from(total).map_err(|_| "duration out of range".to_string())?;
    Ok(Duration::from_nanos(nanos))
}

/// A duration that may be negative, for Loki settings where a negative value has a meaning
/// (`frontend.log_queries_longer_than: -1s` logs every query). `Err` as for
/// [`parse_duration`]; `Ok((true, d))` when negative.
pub fn parse_signed_duration(s: &str) -> Result<(bool, Duration), String> {
    match s.strip_prefix('-') {
        Some(rest) => parse_duration(rest).map(|d| (true, d)),
        None => parse_duration(s).map(|d| (false, d)),
    }
}

/// Formats a duration the way Prometheus' `model.Duration` prints it (`2w`, `30d1h`, `10m`,
/// `0s`); a sub-millisecond remainder is appended as `us`/`ns`. The result parses back to
/// the same value with [`parse_duration`].
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    crate::gocompat::duration::push_prom_duration(&mut out, ns / 1_000_000);
    let (us, rest) = ((ns % 1_000_000) / 1_000, ns % 1_000);
    if us > 0 {
        out.push_str(&format!("{us}us"));
    }
    if rest > 0 {
        out.push_str(&format!("{rest}ns"));
    }
    out
}

const KB: u64 = 1 << 10;

/// Parses a Loki byte size (`256KB`, `1MB`, `512M`, `64kb`, `262144`, `3 MB`).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if digits == 0 {
        return Err("expected an integer with an optional unit (B, KB, MB, GB, TB)".into());
    }
    let n: u64 = s[..digits].parse().map_err(|_| "size out of range".to_string())?;
    if s[digits..].starts_with(['.', ',']) {
        return Err("fractions are not supported: write 1536KB, not 1.5MB".into());
    }
    let unit = s[digits..].trim().to_lowercase();
    let mult = match unit.as_str() {
        "" | "b" | "byte" => 1,
        "k" | "kb" | "kilo" | "kilobyte" | "kilobytes" => KB,
        "m" | "mb" | "mega" | "megabyte" | "megabytes" => KB.pow(2),
        "g" | "gb" | "giga" | "gigabyte" | "gigabytes" => KB.pow(3),
        "t" | "tb" | "tera" | "terabyte" | "terabytes" => KB.pow(4),
        "p" | "pb" | "peta" | "petabyte" | "petabytes" => KB.pow(5),
        "e" | "eb" => KB.pow(6),
        _ => return Err(format!("unknown unit {:?} (B, KB, MB, GB, TB, PB, EB)", &s[digits..])),
    };
    n.checked_mul(mult).ok_or_else(|| "size out of range".to_string())
}

/// Formats a byte size as Loki prints a `flagext.ByteSize`: the largest unit that divides
/// it exactly (`256KB`, `1MB`, `1000B`, `0B`).
pub fn format_bytes(n: u64) -> String {
    if n == 0 {
        return "0B".into();
    }
    for (unit, i) in [("EB", 6), ("PB", 5), ("TB", 4), ("GB", 3), ("MB", 2), ("KB", 1)] {
        let mult = KB.pow(i);
        if n.is_multiple_of(mult) {
            return format!("{}{unit}", n / mult);
        }
    }
    format!("{n}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Duration {
        parse_duration(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn prometheus_durations() {
        assert_eq!(d("336h"), Duration::from_secs(336 * 3600));
        assert_eq!(d("7d"), Duration::from_secs(7 * 86400));
        assert_eq!(d("1w"), Duration::from_secs(7 * 86400));
        assert_eq!(d("180d"), Duration::from_secs(180 * 86400));
        assert_eq!(d("1y"), Duration::from_secs(365 * 86400));
        assert_eq!(d("1w2d3h4m5s6ms"), Duration::from_millis(((9 * 24 + 3) * 3600 + 4 * 60 + 5) * 1000 + 6));
        assert_eq!(d("0s"), Duration::ZERO);
        assert_eq!(d("0"), Duration::ZERO);
        assert_eq!(d("10m"), Duration::from_secs(600));
    }

    #[test]
    fn go_durations() {
        assert_eq!(d("1.5h"), Duration::from_secs(5400));
        assert_eq!(d("300ms"), Duration::from_millis(300));
        assert_eq!(d("1h30m"), Duration::from_secs(5400));
        assert_eq!(d("30m1h"), Duration::from_secs(5400));
        assert_eq!(d(".5s"), Duration::from_millis(500));
        assert_eq!(d("2us"), Duration::from_micros(2));
        assert_eq!(d("2µs"), Duration::from_micros(2));
        assert_eq!(d("7ns"), Duration::from_nanos(7));
        assert_eq!(d("+5s"), Duration::from_secs(5));
        assert_eq!(d("1.000000001s"), Duration::from_nanos(1_000_000_001));
    }

    #[test]
    fn bad_durations() {
        for bad in ["", "14 days", "300", "5", "1x", "h", "1h 30m", "-1s", "1.5.5h", "abc", "99999999999999999999y"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should not parse");
        }
        assert_eq!(parse_duration("300").unwrap_err(), "missing unit (ms, s, m, h, d, w, y)");
        let number = "expected a number followed by a unit (ms, s, m, h, d, w, y)";
        for bad in ["1.5.5h", "1..h", "..5s", ".s", "abc", "1.5."] {
            assert_eq!(parse_duration(bad).unwrap_err(), number, "{bad}");
        }
        assert_eq!(parse_duration("5.").unwrap_err(), "missing unit (ms, s, m, h, d, w, y)");
        assert_eq!(parse_duration("1x").unwrap_err(), r#"unknown unit "x""#);
        assert_eq!(parse_duration("+0").unwrap_err(), "missing unit (ms, s, m, h, d, w, y)");
        assert_eq!(parse_duration("+"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("5.s"), Ok(Duration::from_secs(5)));
    }

    #[test]
    fn signed_durations() {
        assert_eq!(parse_signed_duration("-1s"), Ok((true, Duration::from_secs(1))));
        assert_eq!(parse_signed_duration("5s"), Ok((false, Duration::from_secs(5))));
        assert!(parse_signed_duration("-").is_err());
    }

    #[test]
    fn format_like_prometheus() {
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(d("336h")), "2w");
        assert_eq!(format_duration(d("168h")), "1w");
        assert_eq!(format_duration(d("721h")), "30d1h");
        assert_eq!(format_duration(d("90d")), "90d");
        assert_eq!(format_duration(d("10m")), "10m");
        assert_eq!(format_duration(d("1.5s")), "1s500ms");
        assert_eq!(format_duration(d("8760h")), "1y");
        assert_eq!(format_duration(Duration::from_nanos(1_500)), "1us500ns");
        for s in ["2w", "30d1h", "1s500ms", "1y", "1us500ns", "1h30m", "310s"] {
            assert_eq!(d(&format_duration(d(s))), d(s), "{s}");
        }
    }

    #[test]
    fn byte_sizes_like_loki() {
        assert_eq!(parse_bytes("256KB"), Ok(262144));
        assert_eq!(parse_bytes("256kb"), Ok(262144));
        assert_eq!(parse_bytes("64kb"), Ok(65536));
        assert_eq!(parse_bytes("1MB"), Ok(1 << 20));
        assert_eq!(parse_bytes("3MB"), Ok(3 << 20));
        assert_eq!(parse_bytes("512M"), Ok(512 << 20));
        assert_eq!(parse_bytes("1024M"), Ok(1 << 30));
        assert_eq!(parse_bytes("2GB"), Ok(2 << 30));
        assert_eq!(parse_bytes("1 MB"), Ok(1 << 20));
        assert_eq!(parse_bytes("262144"), Ok(262144));
        assert_eq!(parse_bytes("100B"), Ok(100));
        assert_eq!(parse_bytes("0"), Ok(0));
        assert_eq!(parse_bytes("2 megabytes"), Ok(2 << 20));
        assert_eq!(parse_bytes("1.5MB").unwrap_err(), "fractions are not supported: write 1536KB, not 1.5MB");
        for bad in ["", "KB", "1.5MB", "1.5e+6", "256KiB", "-1", "12 apples", "99999999999EB"] {
            assert!(parse_bytes(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn format_bytes_like_loki() {
        assert_eq!(format_bytes(0), "0B");
        assert_eq!(format_bytes(262144), "256KB");
        assert_eq!(format_bytes(1 << 20), "1MB");
        assert_eq!(format_bytes(1000), "1000B");
        assert_eq!(format_bytes(1536 << 10), "1536KB");
        for n in [0, 1, 1000, 262144, 1 << 20, 1 << 40, 123456789] {
            assert_eq!(parse_bytes(&format_bytes(n)), Ok(n));
        }
    }
}
