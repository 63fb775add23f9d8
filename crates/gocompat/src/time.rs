//! Go `time.Time` as text templates see it: UTC instants formatted and parsed with Go reference
//! layouts (`2006-01-02 15:04:05.999999999 -0700 MST`). Named zones other than UTC are treated as
//! UTC (no tz database).

use chrono::{DateTime, Datelike, Timelike, Utc};

/// An instant (always in UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct GoTime {
    pub secs: i64,
    pub nsec: u32,
}

/// Go's zero `time.Time` (January 1, year 1, 00:00:00 UTC).
pub const ZERO: GoTime = GoTime { secs: -62_135_596_800, nsec: 0 };

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Std {
    Lit,
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    Tz,
    /// Numeric zone: (with Z for UTC, text like "-07:00").
    Zone(bool, &'static str),
    /// Fractional seconds: (digits, trim trailing zeros, separator).
    Frac(usize, bool, u8),
}

/// Splits a layout into (literal prefix, std chunk, chunk length).
fn next_chunk(l: &str) -> (usize, Std, usize) {
    let b = l.as_bytes();
    let starts = |i: usize, p: &str| l[i..].starts_with(p);
    for i in 0..b.len() {
        let found: Option<(Std, usize)> = match b[i] {
            b'J' if starts(i, "January") => Some((Std::LongMonth, 7)),
            b'J' if starts(i, "Jan") => Some((Std::Month, 3)),
            b'M' if starts(i, "Monday") => Some((Std::LongWeekDay, 6)),
            b'M' if starts(i, "Mon") => Some((Std::WeekDay, 3)),
            b'M' if starts(i, "MST") => Some((Std::Tz, 3)),
            b'0' if starts(i, "002") => Some((Std::ZeroYearDay, 3)),
            b'0' if i + 1 < b.len() && (b'1'..=b'6').contains(&b[i + 1]) => Some((
                [Std::ZeroMonth, Std::ZeroDay, Std::ZeroHour12, Std::ZeroMinute, Std::ZeroSecond, Std::Year]
                    [(b[i + 1] - b'1') as usize],
                2,
            )),
            b'1' if starts(i, "15") => Some((Std::Hour, 2)),
            b'1' => Some((Std::NumMonth, 1)),
            b'2' if starts(i, "2006") => Some((Std::LongYear, 4)),
            b'2' => Some((Std::Day, 1)),
            b'_' if starts(i, "_2") && !starts(i, "_2006") => Some((Std::UnderDay, 2)),
            b'_' if starts(i, "__2") => Some((Std::UnderYearDay, 3)),
            b'3' => Some((Std::Hour12, 1)),
            b'4' => Some((Std::Minute, 1)),
            b'5' => Some((Std::Second, 1)),
            b'P' if starts(i, "PM") => Some((Std::PM, 2)),
            b'p' if starts(i, "pm") => Some((Std::Pm, 2)),
            b'-' | b'Z' => {
                let z = b[i] == b'Z';
                ["-07:00:00", "-070000", "-07:00", "-0700", "-07"]
                    .iter()
                    .find(|p| starts(i + 1, &p[1..]))
                    .map(|p| (Std::Zone(z, p), p.len()))
            }
            b'.' | b',' if i + 1 < b.len() && (b[i + 1] == b'0' || b[i + 1] == b'9') => {
                let ch = b[i + 1];
                let j = i + 1 + b[i + 1..].iter().take_while(|&&c| c == ch).count();
                if j < b.len() && b[j].is_ascii_digit() {
                    None
                } else {
                    Some((Std::Frac(j - i - 1, ch == b'9', b[i]), j - i))
                }
            }
            _ => None,
        };
        if let Some((std, len)) = found {
            return (i, std, len);
        }
    }
    (b.len(), Std::Lit, 0)
}

impl GoTime {
    pub fn from_nanos(ns: i64) -> GoTime {
        GoTime { secs: ns.div_euclid(1_000_000_000), nsec: ns.rem_euclid(1_000_000_000) as u32 }
    }

    pub fn unix_nanos(&self) -> i128 {
        i128::from(self.secs) * 1_000_000_000 + i128::from(self.nsec)
    }

    fn dt(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.secs, self.nsec).unwrap_or_default()
    }

    /// Go `Time.Format(layout)`.
    pub fn format(&self, layout: &str) -> String {
        let t = self.dt();
        let mut out = String::new();
        let mut l = layout;
        while !l.is_empty() {
            let (pre, std, len) = next_chunk(l);
            out.push_str(&l[..pre]);
            if std == Std::Lit {
                break;
            }
            l = &l[pre + len..];
            let h12 = match t.hour() % 12 {
                0 => 12,
                h => h,
            };
            match std {
                Std::Lit => {}
                Std::LongMonth => out.push_str(MONTHS[t.month0() as usize]),
                Std::Month => out.push_str(&MONTHS[t.month0() as usize][..3]),
                Std::NumMonth => out.push_str(&t.month().to_string()),
                Std::ZeroMonth => out.push_str(&format!("{:02}", t.month())),
                Std::LongWeekDay => out.push_str(DAYS[t.weekday().num_days_from_sunday() as usize]),
                Std::WeekDay => out.push_str(&DAYS[t.weekday().num_days_from_sunday() as usize][..3]),
                Std::Day => out.push_str(&t.day().to_string()),
                Std::UnderDay => out.push_str(&format!("{:>2}", t.day())),
                Std::ZeroDay => out.push_str(&format!("{:02}", t.day())),
                Std::UnderYearDay => out.push_str(&format!("{:>3}", t.ordinal())),
                Std::ZeroYearDay => out.push_str(&format!("{:03}", t.ordinal())),
                Std::Hour => out.push_str(&format!("{:02}", t.hour())),
                Std::Hour12 => out.push_str(&h12.to_string()),
                Std::ZeroHour12 => out.push_str(&format!("{h12:02}")),
                Std::Minute => out.push_str(&t.minute().to_string()),
                Std::ZeroMinute => out.push_str(&format!("{:02}", t.minute())),
                Std::Second => out.push_str(&t.second().to_string()),
                Std::ZeroSecond => out.push_str(&format!("{:02}", t.second())),
                Std::LongYear => out.push_str(&format!("{:04}", t.year())),
                Std::Year => out.push_str(&format!("{:02}", t.year().rem_euclid(100))),
                Std::PM => out.push_str(if t.hour() >= 12 { "PM" } else { "AM" }),
                Std::Pm => out.push_str(if t.hour() >= 12 { "pm" } else { "am" }),
                Std::Tz => out.push_str("UTC"),
                Std::Zone(z, p) => {
                    if z {
                        out.push('Z');
                    } else {
                        out.push_str(&p.replace('7', "0").replace('-', "+"));
                    }
                }
                Std::Frac(n, trim, sep) => {
                    let digits = format!("{:09}", self.nsec);
                    let mut d = &digits[..n.min(9)];
                    if trim {
                        d = d.trim_end_matches('0');
                        if d.is_empty() {
                            continue;
                        }
                    }
                    out.push(sep as char);
                    out.push_str(d);
                }
            }
        }
        out
    }

    /// Go `Time.String()`.
    pub fn go_string(&self) -> String {
        self.format("2006-01-02 15:04:05.999999999 -0700 MST")
    }

    /// Go `time.Parse(layout, value)` for the layouts people write; None on any mismatch.
    pub fn parse(layout: &str, value: &str) -> Option<GoTime> {
        let (mut year, mut month, mut day, mut hour, mut min, mut sec, mut nsec) =
            (1i32, 1u32, 1u32, 0u32, 0u32, 0u32, 0u32);
        let mut pm: Option<bool> = None;
        let mut offset: i64 = 0;
        let (mut l, mut v) = (layout, value);
        fn num(v: &str, min: usize, max: usize) -> Option<(u32, &str)> {
            let n = v.bytes().take(max).take_while(u8::is_ascii_digit).count();
            (n >= min).then(|| (v[..n].parse().ok(), &v[n..])).and_then(|(a, b)| a.map(|a| (a, b)))
        }
        while !l.is_empty() {
            let (pre, std, len) = next_chunk(l);
            v = v.strip_prefix(&l[..pre])?;
            if std == Std::Lit {
                break;
            }
            l = &l[pre + len..];
            let rest;
            match std {
                Std::LongYear => {
                    let (y, r) = num(v, 4, 4)?;
                    (year, rest) = (y as i32, r);
                }
                Std::Year => {
                    let (y, r) = num(v, 2, 2)?;
                    (year, rest) = (if y >= 69 { 1900 + y as i32 } else { 2000 + y as i32 }, r);
                }
                Std::ZeroMonth | Std::NumMonth => (month, rest) = num(v, if std == Std::ZeroMonth { 2 } else { 1 }, 2)?,
                Std::LongMonth | Std::Month => {
                    let i = MONTHS.iter().position(|m| {
                        let m = if std == Std::Month { &m[..3] } else { m };
                        v.len() >= m.len() && v[..m.len()].eq_ignore_ascii_case(m)
                    })?;
                    month = i as u32 + 1;
                    rest = &v[if std == Std::Month { 3 } else { MONTHS[i].len() }..];
                }
                Std::LongWeekDay | Std::WeekDay => {
                    let i = DAYS.iter().position(|d| {
                        let d = if std == Std::WeekDay { &d[..3] } else { d };
                        v.len() >= d.len() && v[..d.len()].eq_ignore_ascii_case(d)
                    })?;
                    rest = &v[if std == Std::WeekDay { 3 } else { DAYS[i].len() }..];
                }
                Std::Day | Std::ZeroDay | Std::UnderDay => {
                    let t = if std == Std::UnderDay { v.strip_prefix(' ').unwrap_or(v) } else { v };
                    (day, rest) = num(t, if std == Std::ZeroDay { 2 } else { 1 }, 2)?;
                }
                Std::Hour => (hour, rest) = num(v, 2, 2)?,
                Std::Hour12 | Std::ZeroHour12 => (hour, rest) = num(v, if std == Std::ZeroHour12 { 2 } else { 1 }, 2)?,
                Std::Minute | Std::ZeroMinute => (min, rest) = num(v, if std == Std::ZeroMinute { 2 } else { 1 }, 2)?,
                Std::Second | Std::ZeroSecond => {
                    let (s, mut r) = num(v, if std == Std::ZeroSecond { 2 } else { 1 }, 2)?;
                    sec = s;
                    if r.len() > 1
                        && (r.starts_with('.') || r.starts_with(','))
                        && r.as_bytes()[1].is_ascii_digit()
                        && !matches!(next_chunk(l), (0, Std::Frac(..), _))
                    {
                        let n = r[1..].bytes().take_while(u8::is_ascii_digit).count();
                        nsec = frac_nanos(&r[1..1 + n]);
                        r = &r[1 + n..];
                    }
                    rest = r;
                }
                Std::PM | Std::Pm => {
                    let p = v.get(..2)?.to_ascii_uppercase();
                    pm = Some(match p.as_str() {
                        "PM" => true,
                        "AM" => false,
                        _ => return None,
                    });
                    rest = &v[2..];
                }
                Std::Tz => {
                    let n = v.bytes().take_while(u8::is_ascii_uppercase).count();
                    if n < 3 {
                        return None;
                    }
                    rest = &v[n..];
                }
                Std::Zone(z, p) => {
                    if z && v.starts_with('Z') {
                        rest = &v[1..];
                    } else {
                        let sign = match v.as_bytes().first()? {
                            b'+' => 1,
                            b'-' => -1,
                            _ => return None,
                        };
                        let colon = p.contains(':');
                        let (hh, mut r) = num(&v[1..], 2, 2)?;
                        let mut mm = 0;
                        if p.len() > 3 {
                            if colon {
                                r = r.strip_prefix(':')?;
                            }
                            (mm, r) = num(r, 2, 2)?;
                        }
                        offset = sign * (i64::from(hh) * 3600 + i64::from(mm) * 60);
                        rest = r;
                    }
                }
                Std::Frac(n, trim, _) => {
                    let b = v.as_bytes();
                    if trim && (b.len() < 2 || !matches!(b[0], b'.' | b',') || !b[1].is_ascii_digit()) {
                        rest = v;
                    } else {
                        if !matches!(b.first(), Some(b'.') | Some(b',')) {
                            return None;
                        }
                        let d = v[1..].bytes().take_while(u8::is_ascii_digit).count();
                        if !trim && d != n {
                            return None;
                        }
                        nsec = frac_nanos(&v[1..1 + d]);
                        rest = &v[1 + d..];
                    }
                }
                Std::UnderYearDay | Std::ZeroYearDay => (_, rest) = num(v.trim_start(), 1, 3)?,
                Std::Lit => unreachable!(),
            }
            v = rest;
        }
        if !v.is_empty() {
            return None;
        }
        match pm {
            Some(true) if hour < 12 => hour += 12,
            Some(false) if hour == 12 => hour = 0,
            _ => {}
        }
        let date = chrono::NaiveDate::from_ymd_opt(year, month, day)?;
        let dt = date.and_hms_nano_opt(hour, min, sec, nsec)?;
        let secs = dt.and_utc().timestamp() - offset;
        Some(GoTime { secs, nsec })
    }
}

fn frac_nanos(d: &str) -> u32 {
    let mut s: String = d.chars().take(9).collect();
    while s.len() < 9 {
        s.push('0');
    }
    s.parse().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_and_parse() {
        let t = GoTime::from_nanos(1_656_331_200_000_000_000);
        assert_eq!(t.format("2006-01-02"), "2022-06-27");
        assert_eq!(t.go_string(), "2022-06-27 12:00:00 +0000 UTC");
        let t2 = GoTime::from_nanos(1_770_039_524_452_000_000);
        assert_eq!(t2.go_string(), "2026-02-02 13:38:44.452 +0000 UTC");
        assert_eq!(t2.format("Mon Jan _2 3:04PM .000 Z07:00"), "Mon Feb  2 1:38PM .452 Z");
        let p = GoTime::parse("2006-01-02T15:04:05.999999999Z", "2023-03-10T01:32:40.340485723Z").unwrap();
        assert_eq!(p.unix_nanos(), 1_678_411_960_340_485_723);
        assert_eq!(GoTime::parse("2006-01-02", "2021-11-02").unwrap().secs, 1_635_811_200);
        assert_eq!(
            GoTime::parse("2006-01-02 15:04:05 -0700", "2021-11-02 10:00:00 +0200").unwrap().secs,
            1_635_840_000
        );
        assert!(GoTime::parse("2006-01-02", "nope").is_none());
        assert_eq!(ZERO.format("2006-01-02"), "0001-01-01");
    }
}
