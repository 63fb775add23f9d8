//! Go-compatible durations and byte sizes for LogQL: `time.ParseDuration`, Prometheus
//! `model.ParseDuration` (and both `String` forms), and go-humanize `ParseBytes` / `Bytes`.

use super::gofmt::{go_quote, is_digit};

const NS: u64 = 1;
const US: u64 = 1_000;
const MS: u64 = 1_000_000;
const SEC: u64 = 1_000_000_000;
const MIN: u64 = 60 * SEC;
const HOUR: u64 = 60 * MIN;
const DAY: u64 = 24 * HOUR;

/// Go `time.ParseDuration`, in nanoseconds (`None` on any error).
pub fn go_parse_duration(orig: &str) -> Option<i64> {
    let mut s = orig;
    let mut neg = false;
    if let Some(rest) = s.strip_prefix('-') {
        neg = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    let limit: u64 = 1 << 63;
    let mut d: u64 = 0;
    while !s.is_empty() {
        let b = s.as_bytes();
        if !(b[0] == b'.' || b[0].is_ascii_digit()) {
            return None;
        }
        let int_len = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut v: u64 = 0;
        for &c in &b[..int_len] {
            if v > limit / 10 {
                return None;
            }
            v = v * 10 + u64::from(c - b'0');
            if v > limit {
                return None;
            }
        }
        s = &s[int_len..];
        let pre = int_len > 0;
        let (mut f, mut scale, mut post) = (0u64, 1f64, false);
        if let Some(rest) = s.strip_prefix('.') {
            let fl = rest.bytes().take_while(|c| c.is_ascii_digit()).count();
            let mut overflow = false;
            for &c in &rest.as_bytes()[..fl] {
                if overflow || f > (limit - 1) / 10 {
                    overflow = true;
                    continue;
                }
                let y = f * 10 + u64::from(c - b'0');
                if y > limit {
                    overflow = true;
                    continue;
                }
                f = y;
                scale *= 10.0;
            }
            post = fl > 0;
            s = &rest[fl..];
        }
        if !pre && !post {
            return None;
        }
        let ul = s
            .bytes()
            .take_while(|&c| c != b'.' && !c.is_ascii_digit())
            .count();
        if ul == 0 {
            return None;
        }
        let unit = match &s[..ul] {
            "ns" => NS,
            "us" | "\u{b5}s" | "\u{3bc}s" => US,
            "ms" => MS,
            "s" => SEC,
            "m" => MIN,
            "h" => HOUR,
            _ => return None,
        };
        s = &s[ul..];
        if v > limit / unit {
            return None;
        }
        v *= unit;
        if f > 0 {
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > limit {
                return None;
            }
        }
        d += v;
        if d > limit {
            return None;
        }
    }
    if neg {
        return Some((d as i64).wrapping_neg());
    }
    i64::try_from(d).ok()
}

/// Prometheus `model.ParseDuration` (units ms s m h d w y, biggest first, no fractions).
pub fn prom_parse_duration(orig: &str) -> Result<i64, String> {
    match orig {
        "0" => return Ok(0),
        "" => return Err("empty duration string".into()),
        _ => {}
    }
    let invalid = || format!("not a valid duration string: {}", go_quote(orig));
    let mut s = orig;
    let mut dur: u64 = 0;
    let mut last_pos = 0;
    while !s.is_empty() {
        if !s.as_bytes()[0].is_ascii_digit() {
            return Err(invalid());
        }
        let n = s.bytes().take_while(|c| c.is_ascii_digit()).count();
        let v: u64 = s[..n].parse().map_err(|_| invalid())?;
        s = &s[n..];
        let ul = s.bytes().take_while(|c| !c.is_ascii_digit()).count();
        if ul == 0 {
            return Err(invalid());
        }
        let u = &s[..ul];
        s = &s[ul..];
        let (pos, mult) = match u {
            "ms" => (7, MS),
            "s" => (6, SEC),
            "m" => (5, MIN),
            "h" => (4, HOUR),
            "d" => (3, DAY),
            "w" => (2, 7 * DAY),
            "y" => (1, 365 * DAY),
            _ => {
                return Err(format!(
                    "unknown unit {} in duration {}",
                    go_quote(u),
                    go_quote(orig)
                ))
            }
        };
        if pos <= last_pos {
            return Err(invalid());
        }
        last_pos = pos;
        if v > (1u64 << 63) / mult {
            return Err("duration out of range".into());
        }
        dur += v * mult;
        if dur > (1u64 << 63) - 1 {
            return Err("duration out of range".into());
        }
    }
    Ok(dur as i64)
}

/// Loki's lexer duration rule: Prometheus syntax first, then Go's.
pub fn parse_logql_duration(s: &str) -> Option<i64> {
    prom_parse_duration(s).ok().or_else(|| go_parse_duration(s))
}

/// go-humanize `ParseBytes` restricted to what the LogQL lexer can hand it.
pub fn humanize_parse_bytes(s: &str) -> Option<u64> {
    let last_digit = s
        .chars()
        .take_while(|&c| is_digit(c) || c == '.' || c == ',')
        .count();
    if !s.is_char_boundary(last_digit) {
        return None;
    }
    let num: String = s[..last_digit].chars().filter(|&c| c != ',').collect();
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let f: f64 = num.parse().ok()?;
    let extra = s[last_digit..].trim().to_lowercase();
    let mult: u64 = match extra.as_str() {
        "b" | "" => 1,
        "kib" | "ki" => 1 << 10,
        "kb" | "k" => 1_000,
        "mib" | "mi" => 1 << 20,
        "mb" | "m" => 1_000_000,
        "gib" | "gi" => 1 << 30,
        "gb" | "g" => 1_000_000_000,
        "tib" | "ti" => 1 << 40,
        "tb" | "t" => 1_000_000_000_000,
        "pib" | "pi" => 1 << 50,
        "pb" | "p" => 1_000_000_000_000_000,
        "eib" | "ei" => 1 << 60,
        "eb" | "e" => 1_000_000_000_000_000_000,
        _ => return None,
    };
    let v = f * mult as f64;
    if v >= u64::MAX as f64 {
        return None;
    }
    Some(v as u64)
}

/// go-humanize `Bytes` with spaces removed (as Loki prints byte label filters).
pub fn humanize_bytes(v: u64) -> String {
    if v < 10 {
        return format!("{v}B");
    }
    const SIZES: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let e = ((v as f64).ln() / 1000f64.ln()).floor();
    let val = ((v as f64) / 1000f64.powf(e) * 10.0 + 0.5).floor() / 10.0;
    let suffix = SIZES[e as usize];
    if val < 10.0 {
        format!("{val:.1}{suffix}")
    } else {
        format!("{val:.0}{suffix}")
    }
}

/// Go `time.Duration.String` (`1h0m0s`, `1.5s`, `300ms`, `0s`).
pub fn go_duration_string(d: i64) -> String {
    if d == 0 {
        return "0s".into();
    }
    let neg = d < 0;
    let u = d.unsigned_abs();
    let mut out = String::new();
    if u < SEC {
        let (unit, div) = if u < US {
            ("ns", NS)
        } else if u < MS {
            ("\u{b5}s", US)
        } else {
            ("ms", MS)
        };
        out.push_str(&frac_string(u, div));
        out.push_str(unit);
    } else {
        let h = u / HOUR;
        let m = (u % HOUR) / MIN;
        let s_ns = u % MIN;
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&frac_string(s_ns, SEC));
        out.push('s');
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

fn frac_string(v: u64, div: u64) -> String {
    let int = v / div;
    let frac = v % div;
    if frac == 0 {
        return int.to_string();
    }
    let width = div.to_string().len() - 1;
    let digits = format!("{frac:0width$}");
    format!("{int}.{}", digits.trim_end_matches('0'))
}

/// Prometheus `model.Duration.String` (`5m`, `1h30m`, `1d`, `2w`, `0s`), millisecond precision.
pub fn prom_duration_string(d: i64) -> String {
    let mut ms = d / 1_000_000;
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    if ms < 0 {
        out.push('-');
        ms = -ms;
    }
    let units: [(&str, i64, bool); 7] = [
        ("y", 1000 * 60 * 60 * 24 * 365, true),
        ("w", 1000 * 60 * 60 * 24 * 7, true),
        ("d", 1000 * 60 * 60 * 24, false),
        ("h", 1000 * 60 * 60, false),
        ("m", 1000 * 60, false),
        ("s", 1000, false),
        ("ms", 1, false),
    ];
    for (unit, mult, exact) in units {
        if exact && ms % mult != 0 {
            continue;
        }
        let v = ms / mult;
        if v > 0 {
            out.push_str(&format!("{v}{unit}"));
            ms -= v * mult;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_like_go_and_prom() {
        assert_eq!(parse_logql_duration("5m"), Some(300 * SEC as i64));
        assert_eq!(parse_logql_duration("1h30m"), Some(5400 * SEC as i64));
        assert_eq!(parse_logql_duration("1.5h"), Some(5400 * SEC as i64));
        assert_eq!(parse_logql_duration("2d"), Some(2 * DAY as i64));
        assert_eq!(parse_logql_duration("-5m"), Some(-300 * SEC as i64));
        assert_eq!(parse_logql_duration("-0"), Some(0));
        assert_eq!(parse_logql_duration("-5"), None);
        assert_eq!(parse_logql_duration("1.5d"), None);
        assert_eq!(parse_logql_duration("300\u{b5}s"), Some(300_000));
        assert_eq!(
            prom_parse_duration("5x").unwrap_err(),
            r#"unknown unit "x" in duration "5x""#
        );
        assert_eq!(
            prom_parse_duration("1.5m").unwrap_err(),
            r#"unknown unit "." in duration "1.5m""#
        );
        assert_eq!(
            prom_parse_duration("m5").unwrap_err(),
            r#"not a valid duration string: "m5""#
        );
        assert_eq!(
            prom_parse_duration("").unwrap_err(),
            "empty duration string"
        );
        assert_eq!(
            prom_parse_duration("1m1h").unwrap_err(),
            r#"not a valid duration string: "1m1h""#
        );
        assert_eq!(go_duration_string(3600 * SEC as i64), "1h0m0s");
        assert_eq!(go_duration_string(1_500_000_000), "1.5s");
        assert_eq!(go_duration_string(300 * MS as i64), "300ms");
        assert_eq!(go_duration_string(-300 * SEC as i64), "-5m0s");
        assert_eq!(prom_duration_string(5400 * SEC as i64), "1h30m");
        assert_eq!(prom_duration_string(14 * DAY as i64), "2w");
        assert_eq!(prom_duration_string(0), "0s");
    }

    #[test]
    fn bytes_like_humanize() {
        assert_eq!(humanize_parse_bytes("20KB"), Some(20_000));
        assert_eq!(humanize_parse_bytes("1.5KiB"), Some(1536));
        assert_eq!(humanize_parse_bytes("1M"), Some(1_000_000));
        assert_eq!(humanize_parse_bytes("1K5"), None);
        assert_eq!(humanize_bytes(20_000), "20kB");
        assert_eq!(humanize_bytes(1_500), "1.5kB");
        assert_eq!(humanize_bytes(5), "5B");
    }
}
