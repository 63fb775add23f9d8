//! Durations: Go `time.ParseDuration`, `Duration.String` and `Duration.Seconds`, and
//! Prometheus `model.ParseDuration` / `model.Duration.String`, in nanoseconds.

use super::strconv::{quote, Dialect};

const NS: u64 = 1;
const US: u64 = 1_000;
const MS: u64 = 1_000_000;
const SEC: u64 = 1_000_000_000;
const MIN: u64 = 60 * SEC;
const HOUR: u64 = 60 * MIN;
const DAY: u64 = 24 * HOUR;

impl Dialect {
    /// Go `time.ParseDuration`, in nanoseconds, with Go's error texts
    /// (`time: invalid duration "x"`), the input quoted as `self` quotes.
    pub fn parse_duration(&self, orig: &str) -> Result<i64, String> {
        let invalid = || format!("time: invalid duration {}", self.quote(orig));
        let mut s = orig;
        let mut neg = false;
        if let Some(c) = s.chars().next() {
            if c == '-' || c == '+' {
                neg = c == '-';
                s = &s[1..];
            }
        }
        if s == "0" {
            return Ok(0);
        }
        if s.is_empty() {
            return Err(invalid());
        }
        const LIMIT: u64 = 1 << 63;
        let mut d: u64 = 0;
        for t in terms(s) {
            // Integer part.
            let mut v: u64 = 0;
            for c in t.int.bytes() {
                v = v
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(u64::from(c - b'0')))
                    .filter(|&v| v <= LIMIT)
                    .ok_or_else(invalid)?;
            }
            let pre = !t.int.is_empty();
            // Fraction: digits past what fits are dropped.
            let (mut f, mut scale, mut post) = (0u64, 1f64, false);
            if let Some(frac) = t.frac {
                let mut overflow = false;
                for c in frac.bytes() {
                    if overflow {
                        continue;
                    }
                    match f.checked_mul(10).and_then(|x| x.checked_add(u64::from(c - b'0'))).filter(|&x| x <= LIMIT) {
                        Some(x) => {
                            f = x;
                            scale *= 10.0;
                        }
                        None => overflow = true,
                    }
                }
                post = !frac.is_empty();
            }
            if !pre && !post {
                return Err(invalid());
            }
            // Unit.
            if t.unit.is_empty() {
                return Err(format!("time: missing unit in duration {}", self.quote(orig)));
            }
            let u = t.unit;
            let unit = match u {
                "ns" => NS,
                "us" | "\u{b5}s" | "\u{3bc}s" => US,
                "ms" => MS,
                "s" => SEC,
                "m" => MIN,
                "h" => HOUR,
                _ => return Err(format!("time: unknown unit {} in duration {}", self.quote(u), self.quote(orig))),
            };
            if v > LIMIT / unit {
                return Err(invalid());
            }
            v *= unit;
            if f > 0 {
                v += (f as f64 * (unit as f64 / scale)) as u64;
                if v > LIMIT {
                    return Err(invalid());
                }
            }
            d += v;
            if d > LIMIT {
                return Err(invalid());
            }
        }
        if neg {
            return Ok((d as i64).wrapping_neg());
        }
        if d > LIMIT - 1 {
            return Err(invalid());
        }
        Ok(d as i64)
    }
}

/// One `<number><unit>` term of a duration as Go's `time.ParseDuration` scans it: `1.5h` is
/// `int: "1", frac: Some("5"), unit: "h"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Term<'a> {
    /// The integer digits (maybe none: `.5s`).
    pub int: &'a str,
    /// The digits after a `.`, when there is a `.`.
    pub frac: Option<&'a str>,
    /// Everything up to the next `.` or digit (maybe nothing: `5`, `1.5.5h`).
    pub unit: &'a str,
}

/// The terms of `s` (without its sign), scanned as Go's `time.ParseDuration` does: digits, an
/// optional `.` and digits, then the unit. Only the scan: a term may lack digits or a unit, and
/// each caller decides which units and values it takes. Every term consumes at least one byte.
pub fn terms(s: &str) -> impl Iterator<Item = Term<'_>> {
    let mut rest = s;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
        let n = digits(rest);
        let int = &rest[..n];
        rest = &rest[n..];
        let frac = rest.strip_prefix('.').map(|after| {
            let n = digits(after);
            rest = &after[n..];
            &after[..n]
        });
        let n = rest.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = &rest[..n];
        rest = &rest[n..];
        Some(Term { int, frac, unit })
    })
}

/// Go `time.ParseDuration`, in nanoseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    Dialect::GO.parse_duration(s)
}

/// Go `time.Duration.Seconds()`.
pub fn seconds(ns: i64) -> f64 {
    (ns / 1_000_000_000) as f64 + (ns % 1_000_000_000) as f64 / 1e9
}

/// Prometheus `model.ParseDuration` (units ms s m h d w y, biggest first, no fractions).
pub fn parse_prom_duration(orig: &str) -> Result<i64, String> {
    match orig {
        "0" => return Ok(0),
        "" => return Err("empty duration string".into()),
        _ => {}
    }
    let invalid = || format!("not a valid duration string: {}", quote(orig));
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
            _ => return Err(format!("unknown unit {} in duration {}", quote(u), quote(orig))),
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

/// Go `time.Duration.String` (`1h0m0s`, `1.5s`, `300ms`, `0s`).
pub fn duration_string(d: i64) -> String {
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

/// Go `time.Duration.String` of a `std` duration (saturating at Go's largest duration).
pub fn std_duration_string(d: std::time::Duration) -> String {
    duration_string(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
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
    let ms = d / 1_000_000;
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    if ms < 0 {
        out.push('-');
    }
    push_prom_duration(&mut out, ms.unsigned_abs() as u128);
    out
}

/// Appends `ms` milliseconds as [`prom_duration_string`] writes a positive duration
/// (nothing for 0): years and weeks only when exact, then days down to milliseconds.
pub fn push_prom_duration(out: &mut String, mut ms: u128) {
    const D: u128 = 1000 * 60 * 60 * 24;
    let units: [(&str, u128, bool); 7] = [
        ("y", D * 365, true),
        ("w", D * 7, true),
        ("d", D, false),
        ("h", 1000 * 60 * 60, false),
        ("m", 1000 * 60, false),
        ("s", 1000, false),
        ("ms", 1, false),
    ];
    for (unit, mult, exact) in units {
        if exact && !ms.is_multiple_of(mult) {
            continue;
        }
        let v = ms / mult;
        if v > 0 {
            out.push_str(&v.to_string());
            out.push_str(unit);
            ms -= v * mult;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_parse_duration() {
        assert_eq!(parse_duration("1m30s"), Ok(90 * SEC as i64));
        assert_eq!(parse_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_duration("900\u{b5}s"), Ok(900_000));
        assert_eq!(parse_duration("-3ms"), Ok(-3_000_000));
        assert_eq!(parse_duration("+0"), Ok(0));
        assert_eq!(parse_duration(".5h"), Ok(1_800_000_000_000));
        assert_eq!(parse_duration("5.s"), Ok(5 * SEC as i64));
        assert_eq!(parse_duration("1d").unwrap_err(), r#"time: unknown unit "d" in duration "1d""#);
        assert_eq!(parse_duration("12").unwrap_err(), r#"time: missing unit in duration "12""#);
        assert_eq!(parse_duration("1.5.5h").unwrap_err(), r#"time: missing unit in duration "1.5.5h""#);
        assert_eq!(parse_duration("abc").unwrap_err(), r#"time: invalid duration "abc""#);
        assert_eq!(parse_duration(".s").unwrap_err(), r#"time: invalid duration ".s""#);
        assert_eq!(parse_duration("").unwrap_err(), r#"time: invalid duration """#);
        assert_eq!(
            parse_duration("99999999999999999999").unwrap_err(),
            r#"time: invalid duration "99999999999999999999""#
        );
        assert_eq!(parse_duration("2562047h47m16.854775807s"), Ok(i64::MAX));
        assert_eq!(parse_duration("-2562047h47m16.854775808s"), Ok(i64::MIN));
        assert!(parse_duration("2562047h47m16.854775808s").is_err());
        let t = |int, frac, unit| Term { int, frac, unit };
        assert_eq!(terms("1.5h30m").collect::<Vec<_>>(), vec![t("1", Some("5"), "h"), t("30", None, "m")]);
        assert_eq!(terms("1.5.5h").collect::<Vec<_>>(), vec![t("1", Some("5"), ""), t("", Some("5"), "h")]);
    }

    #[test]
    fn durations_like_go_and_prom() {
        assert_eq!(parse_prom_duration("5x").unwrap_err(), r#"unknown unit "x" in duration "5x""#);
        assert_eq!(parse_prom_duration("1.5m").unwrap_err(), r#"unknown unit "." in duration "1.5m""#);
        assert_eq!(parse_prom_duration("m5").unwrap_err(), r#"not a valid duration string: "m5""#);
        assert_eq!(parse_prom_duration("").unwrap_err(), "empty duration string");
        assert_eq!(parse_prom_duration("1m1h").unwrap_err(), r#"not a valid duration string: "1m1h""#);
        assert_eq!(duration_string(3600 * SEC as i64), "1h0m0s");
        assert_eq!(duration_string(1_500_000_000), "1.5s");
        assert_eq!(duration_string(300 * MS as i64), "300ms");
        assert_eq!(duration_string(-300 * SEC as i64), "-5m0s");
        let std = std::time::Duration::from_secs;
        assert_eq!(std_duration_string(std(721 * 3600)), "721h0m0s");
        assert_eq!(std_duration_string(std(90)), "1m30s");
        assert_eq!(std_duration_string(std::time::Duration::from_millis(1500)), "1.5s");
        assert_eq!(prom_duration_string(5400 * SEC as i64), "1h30m");
        assert_eq!(prom_duration_string(14 * DAY as i64), "2w");
        assert_eq!(prom_duration_string(0), "0s");
    }
}
