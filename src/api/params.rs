//! Loki's request-parameter rules: timestamps, durations, limits, direction, defaults.
//!
//! Parameters come from the URL query and, for form-encoded POSTs, the body (body wins).

use std::time::Duration;

use crate::limits::Limits;
use crate::model::{Direction, Nanos};

use super::error::ApiError;
use super::invalid::Invalid;

/// A `query_range` request's parameters, checked as Loki checks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeRequest {
    pub start: Nanos,
    pub end: Nanos,
    pub limit: usize,
    pub direction: Direction,
    pub step: Nanos,
    /// Minimum spacing of returned entries (0: off).
    pub interval: Nanos,
}

impl RangeRequest {
    /// The parameters of `p` under the tenant's `limits` (`max_query_lookback` clamps the
    /// start silently, `max_query_length` bounds the range), at `now`.
    pub fn parse(p: &Params, now: Nanos, limits: &Limits) -> Result<RangeRequest, ApiError> {
        let (start, end) = bounds(p, now)?;
        let start = clamp_lookback(limits, start, now);
        let limit = limit(p)?;
        let direction = direction(p)?;
        let step = step(p, start, end)?;
        let interval = match p.get("interval") {
            Some(s) => parse_step(s).map_err(ApiError::BadRequest)?,
            None => 0,
        };
        if end < start {
            return Err(Invalid::EndBeforeStart.into());
        }
        check_step(step, start, end)?;
        if interval < 0 {
            return Err(Invalid::NegativeInterval.into());
        }
        let max_len = limits.max_query_length;
        if !max_len.is_zero() && (end - start) as u128 > max_len.as_nanos() {
            let length = Duration::from_nanos((end - start) as u64);
            return Err(Invalid::QueryTooLong { length, limit: max_len }.into());
        }
        Ok(RangeRequest { start, end, limit, direction, step, interval })
    }
}

/// Loki's `max_query_lookback`: the start is clamped silently.
pub fn clamp_lookback(limits: &Limits, start: Nanos, now: Nanos) -> Nanos {
    let lb = limits.max_query_lookback;
    if lb.is_zero() {
        start
    } else {
        start.max(now - lb.as_nanos() as i64)
    }
}

/// Decoded form parameters (repeated keys kept in order).
#[derive(Debug, Default, Clone)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn parse(query: Option<&str>, form_body: Option<&[u8]>) -> Params {
        let mut v: Vec<(String, String)> = Vec::new();
        if let Some(q) = query {
            v.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
        }
        if let Some(b) = form_body {
            // Body values override URL values of the same name.
            let body: Vec<(String, String)> = form_urlencoded::parse(b).into_owned().collect();
            v.retain(|(k, _)| !body.iter().any(|(bk, _)| bk == k));
            v.extend(body);
        }
        Params(v)
    }

    /// First non-empty value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v.as_str())
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Loki's `parseTimestamp`: float seconds (ms-rounded), ≤10-digit integer seconds,
/// longer integers nanoseconds, else RFC3339(Nano).
pub fn parse_timestamp(s: &str) -> Result<Nanos, String> {
    if s.contains('.') {
        if let Ok(f) = s.parse::<f64>() {
            let secs = f.trunc();
            let ms = ((f - secs) * 1000.0).round();
            // Found by cargo fuzz: huge values must not wrap (Go would; we refuse them).
            return (secs as i64)
                .checked_mul(1_000_000_000)
                .and_then(|ns| ns.checked_add(ms as i64 * 1_000_000))
                .ok_or_else(|| format!("timestamp out of range: {s}"));
        }
    }
    if let Ok(i) = s.parse::<i64>() {
        return Ok(if s.len() <= 10 { i.saturating_mul(1_000_000_000) } else { i });
    }
    match chrono::DateTime::parse_from_rfc3339(s) {
        Ok(t) => t.timestamp_nanos_opt().ok_or_else(|| format!("timestamp out of range: {s}")),
        Err(_) => Err(format!("strconv.ParseInt: parsing {}: invalid syntax", go_quote(s))),
    }
}

/// Float seconds, else a Prometheus duration (`1m30s`, `2d`).
pub fn parse_step(s: &str) -> Result<Nanos, String> {
    if let Ok(f) = s.parse::<f64>() {
        return Ok((f * 1e9).round() as i64);
    }
    parse_prom_duration(s).ok_or_else(|| format!("cannot parse {} to a valid duration", go_quote(s)))
}

/// Prometheus `model.ParseDuration` (units ms s m h d w y); `None` when invalid or out of
/// range. The parser's checked implementation, shared.
pub fn parse_prom_duration(s: &str) -> Option<Nanos> {
    crate::gocompat::parse_prom_duration(s).ok()
}

fn go_quote(s: &str) -> String {
    let mut out = String::new();
    let _ = crate::model::write_go_quoted(&mut out, s);
    out
}

/// `start`/`end` with Loki's defaults: end = now, start = min(end, now) − since (1h).
pub fn bounds(p: &Params, now: Nanos) -> Result<(Nanos, Nanos), ApiError> {
    let end = match p.get("end") {
        Some(s) => parse_timestamp(s).map_err(|reason| Invalid::Timestamp { name: "end", reason })?,
        None => now,
    };
    let since = match p.get("since") {
        Some(s) => parse_prom_duration(s).ok_or_else(|| Invalid::Since(s.to_string()))?,
        None => 3600 * 1_000_000_000,
    };
    let start = match p.get("start") {
        Some(s) => parse_timestamp(s).map_err(|reason| Invalid::Timestamp { name: "start", reason })?,
        None => end.min(now) - since,
    };
    Ok((start, end))
}

/// A query's `limit` (default 100).
pub fn limit(p: &Params) -> Result<usize, ApiError> {
    positive(p, "limit", 100)
}

/// A positive integer parameter (Loki's `parseInt`, then `limit must be a positive value`).
pub fn positive(p: &Params, name: &str, default: usize) -> Result<usize, ApiError> {
    match p.get(name) {
        None => Ok(default),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n > 0 => Ok(n as usize),
            Ok(_) => Err(Invalid::NonPositiveLimit.into()),
            Err(_) => Err(Invalid::NotAnInteger(s.to_string()).into()),
        },
    }
}

pub fn direction(p: &Params) -> Result<Direction, ApiError> {
    match p.get("direction").map(|s| s.to_ascii_lowercase()) {
        None => Ok(Direction::Backward),
        Some(d) if d == "backward" => Ok(Direction::Backward),
        Some(d) if d == "forward" => Ok(Direction::Forward),
        Some(d) => Err(Invalid::Direction(d.to_string()).into()),
    }
}

/// The `step` parameter, or Loki's default for the range.
pub fn step(p: &Params, start: Nanos, end: Nanos) -> Result<Nanos, ApiError> {
    match p.get("step") {
        Some(s) => parse_step(s).map_err(ApiError::BadRequest),
        None => Ok(default_step(start, end)),
    }
}

/// Loki's checks of a range query's step: positive, and at most 11,000 points.
pub fn check_step(step: Nanos, start: Nanos, end: Nanos) -> Result<(), ApiError> {
    if step <= 0 {
        return Err(Invalid::NonPositiveStep.into());
    }
    if (end - start) / step > 11_000 {
        return Err(Invalid::TooManySteps.into());
    }
    Ok(())
}

/// Loki's default step: max(floor((end − start) / 250s), 1s), in nanoseconds.
pub fn default_step(start: Nanos, end: Nanos) -> Nanos {
    let secs = ((end - start) / 1_000_000_000) / 250;
    secs.max(1) * 1_000_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_requests_are_checked_under_the_tenants_limits() {
        const S: i64 = 1_000_000_000;
        let p = |pairs: &[(&str, &str)]| Params(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        let now = 10_000 * S;
        let limits = Limits {
            max_query_lookback: Duration::from_secs(3600),
            max_query_length: Duration::from_secs(7200),
            ..Limits::default()
        };
        // The start is clamped to the lookback silently, before the length is checked.
        let r = RangeRequest::parse(&p(&[("start", "1000"), ("end", "10000"), ("step", "60")]), now, &limits).unwrap();
        assert_eq!((r.start, r.step), (now - 3600 * S, 60 * S));
        let no_lookback = Limits { max_query_lookback: Duration::ZERO, ..limits.clone() };
        let err = RangeRequest::parse(&p(&[("start", "1000"), ("end", "10000"), ("step", "60")]), now, &no_lookback);
        assert_eq!(
            err.unwrap_err().to_string(),
            "the query time range exceeds the limit (query length: 2h30m0s, limit: 2h0m0s)"
        );
        let r = RangeRequest::parse(&p(&[("start", "9000"), ("end", "10000"), ("limit", "5")]), now, &limits).unwrap();
        assert_eq!((r.start, r.end, r.limit, r.interval), (9000 * S, 10_000 * S, 5, 0));
        let err = RangeRequest::parse(&p(&[("start", "9000"), ("end", "8000")]), now, &limits).unwrap_err();
        assert_eq!(err.to_string(), "end timestamp must not be before or equal to start time");
        let err = RangeRequest::parse(&p(&[("start", "9000"), ("interval", "-1")]), now, &limits).unwrap_err();
        assert_eq!(err.to_string(), "interval must be >= 0");
    }

    #[test]
    fn timestamps_follow_loki_rules() {
        assert_eq!(parse_timestamp("4000000000").unwrap(), 4_000_000_000 * 1_000_000_000);
        assert_eq!(parse_timestamp("1770033600000000000").unwrap(), 1_770_033_600_000_000_000);
        assert_eq!(parse_timestamp("1700000000.1234567").unwrap(), 1_700_000_000_123_000_000);
        assert_eq!(parse_timestamp("2026-02-02T12:00:00Z").unwrap(), 1_770_033_600_000_000_000);
        assert_eq!(parse_timestamp("2026-02-02T13:00:00.5+01:00").unwrap(), 1_770_033_600_500_000_000);
        assert_eq!(parse_timestamp("abc").unwrap_err(), "strconv.ParseInt: parsing \"abc\": invalid syntax");
        assert!(parse_timestamp("17026702026700.36").is_err(), "overflow is refused, not wrapped");
    }

    #[test]
    fn durations_and_steps() {
        assert_eq!(parse_step("60").unwrap(), 60_000_000_000);
        assert_eq!(parse_step("2000ms").unwrap(), 2_000_000_000);
        assert_eq!(parse_step("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(parse_step("0.5").unwrap(), 500_000_000);
        assert!(parse_step("x").is_err());
        // Found by cargo fuzz: out-of-range durations are refused, not wrapped (2^122 ms
        // used to wrap to 0, so this step read as 1s).
        assert_eq!(parse_prom_duration("5316911983139663491615228241121378304ms1s"), None);
        assert!(parse_step("5316911983139663491615228241121378304ms1s").is_err());
        assert_eq!(default_step(0, 7200 * 1_000_000_000), 28_000_000_000);
        assert_eq!(default_step(0, 10), 1_000_000_000);
    }

    #[test]
    fn defaults_and_validation() {
        let p = Params::parse(Some("limit=0"), None);
        assert!(limit(&p).is_err());
        let p = Params::parse(Some("direction=FORWARD&match%5B%5D=a&match[]=b"), None);
        assert_eq!(direction(&p).unwrap(), Direction::Forward);
        assert_eq!(p.all("match[]").collect::<Vec<_>>(), vec!["a", "b"]);
        let (s, e) = bounds(&Params::default(), 10_000_000_000_000).unwrap();
        assert_eq!(e - s, 3_600_000_000_000);
        let p = Params::parse(Some("a=1"), Some(b"a=2"));
        assert_eq!(p.get("a"), Some("2"));
    }
}
