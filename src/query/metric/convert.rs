//! Go-compatible value conversions for `unwrap` (`strconv.ParseFloat`, `time.ParseDuration`,
//! go-humanize `ParseBytes`, with Go's error texts) and a minimal evaluator of label filters
//! over a label set, for the filters written after `unwrap`.

use std::borrow::Cow;

use crate::logql::{translate_go_regex, CmpOp, LabelFilter, MatchOp, UnwrapConv};
use crate::model::{write_go_quoted, Labels};
use crate::query::QueryError;

pub(super) const ERROR: &str = "__error__";
pub(super) const ERROR_DETAILS: &str = "__error_details__";

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    let _ = write_go_quoted(&mut out, s);
    out
}

/// Go `strconv.ParseFloat(s, 64)` for decimal input: `1e3`, `.5`, `Inf`, `-infinity`, `NaN`.
/// Hexadecimal floats (`0x1p4`) are not accepted (Go accepts them).
pub(super) fn parse_go_float(s: &str) -> Result<f64, String> {
    let syntax = || format!("strconv.ParseFloat: parsing {}: invalid syntax", quote(s));
    let (neg, body) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity") {
        return Ok(if neg { f64::NEG_INFINITY } else { f64::INFINITY });
    }
    if body.eq_ignore_ascii_case("nan") {
        // Go's special-value parser takes a sign only in front of "inf".
        return if body.len() == s.len() { Ok(f64::NAN) } else { Err(syntax()) };
    }
    if body.is_empty() || !body.bytes().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-')) {
        return Err(syntax());
    }
    let v: f64 = s.parse().map_err(|_| syntax())?;
    if v.is_infinite() {
        return Err(format!("strconv.ParseFloat: parsing {}: value out of range", quote(s)));
    }
    Ok(v)
}

/// Go `time.ParseDuration`: nanoseconds.
pub(super) fn parse_go_duration(orig: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {}", quote(orig));
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
    while !s.is_empty() {
        let b = s.as_bytes();
        if !(b[0] == b'.' || b[0].is_ascii_digit()) {
            return Err(invalid());
        }
        // Integer part.
        let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut v: u64 = 0;
        for &c in &b[..digits] {
            v = v.checked_mul(10).and_then(|v| v.checked_add(u64::from(c - b'0'))).filter(|&v| v <= LIMIT).ok_or_else(invalid)?;
        }
        let pre = digits > 0;
        s = &s[digits..];
        // Fraction.
        let (mut frac, mut scale, mut post) = (0u64, 1f64, false);
        if let Some(rest) = s.strip_prefix('.') {
            let n = rest.bytes().take_while(|c| c.is_ascii_digit()).count();
            let mut overflow = false;
            for c in rest[..n].bytes() {
                if overflow {
                    continue;
                }
                match frac.checked_mul(10).and_then(|x| x.checked_add(u64::from(c - b'0'))).filter(|&x| x <= LIMIT) {
                    Some(x) => {
                        frac = x;
                        scale *= 10.0;
                    }
                    None => overflow = true,
                }
            }
            post = n > 0;
            s = &rest[n..];
        }
        if !pre && !post {
            return Err(invalid());
        }
        // Unit.
        let ulen = s.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(s.len());
        if ulen == 0 {
            return Err(format!("time: missing unit in duration {}", quote(orig)));
        }
        let u = &s[..ulen];
        s = &s[ulen..];
        let unit: u64 = match u {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(format!("time: unknown unit {} in duration {}", quote(u), quote(orig))),
        };
        if v > LIMIT / unit {
            return Err(invalid());
        }
        v *= unit;
        if frac > 0 {
            v += (frac as f64 * (unit as f64 / scale)) as u64;
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

/// Go `time.Duration.Seconds()`.
pub(super) fn go_seconds(ns: i64) -> f64 {
    (ns / 1_000_000_000) as f64 + (ns % 1_000_000_000) as f64 / 1e9
}

/// go-humanize `ParseBytes`: `"5 MiB"`, `"3k"`, `"1,000"`, `"10m"` (= 10 MB).
pub(super) fn parse_humanize_bytes(s: &str) -> Result<u64, String> {
    let last = s.bytes().take_while(|c| c.is_ascii_digit() || *c == b'.' || *c == b',').count();
    let num: String = s[..last].chars().filter(|&c| c != ',').collect();
    let f = parse_go_float(&num)?;
    let extra = s[last..].trim().to_lowercase();
    let m: u64 = match extra.as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "ki" | "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mi" | "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gi" | "gib" => 1 << 30,
        "t" | "tb" => 1_000_000_000_000,
        "ti" | "tib" => 1 << 40,
        "p" | "pb" => 1_000_000_000_000_000,
        "pi" | "pib" => 1 << 50,
        "e" | "eb" => 1_000_000_000_000_000_000,
        "ei" | "eib" => 1 << 60,
        _ => return Err(format!("unhandled size name: {extra}")),
    };
    let v = f * m as f64;
    if v >= u64::MAX as f64 {
        return Err(format!("too large: {s}"));
    }
    Ok(v as u64)
}

/// The value of an unwrapped label, converted as `unwrap [conv(]label[)]` asks.
pub(super) fn convert(conv: Option<UnwrapConv>, v: &str) -> Result<f64, String> {
    match conv {
        None => parse_go_float(v),
        Some(UnwrapConv::Duration | UnwrapConv::DurationSeconds) => parse_go_duration(v).map(go_seconds),
        Some(UnwrapConv::Bytes) => parse_humanize_bytes(v).map(|b| b as f64),
    }
}

fn cmp<T: PartialOrd>(op: CmpOp, a: T, b: T) -> bool {
    match op {
        CmpOp::Eq => a == b,
        CmpOp::Neq => a != b,
        CmpOp::Gt => a > b,
        CmpOp::Gte => a >= b,
        CmpOp::Lt => a < b,
        CmpOp::Lte => a <= b,
    }
}

/// A compiled label filter (logql.md §4.5) over a label set that carries `__error__` and
/// `__error_details__` as ordinary labels.
#[derive(Debug)]
pub(super) enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Str { name: String, op: MatchOp, value: String, re: Option<regex::Regex> },
    Num { name: String, op: CmpOp, value: f64 },
    Dur { name: String, op: CmpOp, value: i64 },
    Bytes { name: String, op: CmpOp, value: u64 },
}

/// Value of a label as Loki's label builder `Get` sees it: empty means absent, and the error
/// labels are not ordinary labels.
fn get<'a>(labels: &'a Labels, name: &str) -> Option<&'a str> {
    if name == ERROR || name == ERROR_DETAILS {
        return None;
    }
    labels.get(name).filter(|v| !v.is_empty())
}

/// Records a label-filter conversion error unless an error is already set.
fn set_filter_err(labels: &mut Cow<'_, Labels>, details: String) {
    if labels.get(ERROR).is_none() {
        let l = labels.to_mut();
        l.set(ERROR, "LabelFilterErr");
        l.set(ERROR_DETAILS, &details);
    }
}

impl Filter {
    pub(super) fn compile(f: &LabelFilter) -> Result<Filter, QueryError> {
        Ok(match f {
            LabelFilter::And(a, b) => Filter::And(Box::new(Self::compile(a)?), Box::new(Self::compile(b)?)),
            LabelFilter::Or(a, b) => Filter::Or(Box::new(Self::compile(a)?), Box::new(Self::compile(b)?)),
            LabelFilter::Matcher(m) => {
                let re = match m.op {
                    MatchOp::Re | MatchOp::Nre => Some(anchored_regex(&m.value)?),
                    _ => None,
                };
                Filter::Str { name: m.name.clone(), op: m.op, value: m.value.clone(), re }
            }
            LabelFilter::Ip { .. } => {
                return Err(QueryError::Unsupported("ip() label filter after unwrap".into()));
            }
            LabelFilter::Number { name, op, value } => Filter::Num { name: name.clone(), op: *op, value: *value },
            LabelFilter::Duration { name, op, value } => Filter::Dur { name: name.clone(), op: *op, value: *value },
            LabelFilter::Bytes { name, op, value } => Filter::Bytes { name: name.clone(), op: *op, value: *value },
        })
    }

    /// Whether the entry passes; may record `LabelFilterErr` (then it passes).
    pub(super) fn apply(&self, labels: &mut Cow<'_, Labels>) -> bool {
        match self {
            Filter::And(a, b) => {
                let l = a.apply(labels);
                let r = b.apply(labels);
                l && r
            }
            Filter::Or(a, b) => a.apply(labels) || b.apply(labels),
            Filter::Str { name, op, value, re } => {
                let v = labels.get(name).unwrap_or("");
                match (op, re) {
                    (MatchOp::Eq, _) => v == value,
                    (MatchOp::Neq, _) => v != value,
                    (MatchOp::Re, Some(re)) => re.is_match(v),
                    (MatchOp::Nre, Some(re)) => !re.is_match(v),
                    _ => false,
                }
            }
            Filter::Num { name, op, value } => {
                let Some(v) = get(labels, name) else { return false };
                match parse_go_float(v) {
                    Ok(x) => cmp(*op, x, *value),
                    Err(e) => {
                        set_filter_err(labels, e);
                        true
                    }
                }
            }
            Filter::Dur { name, op, value } => {
                let Some(v) = get(labels, name) else { return false };
                match parse_go_duration(v) {
                    Ok(x) => cmp(*op, x, *value),
                    Err(e) => {
                        set_filter_err(labels, e);
                        true
                    }
                }
            }
            Filter::Bytes { name, op, value } => {
                let Some(v) = get(labels, name) else { return false };
                match parse_humanize_bytes(v) {
                    Ok(x) => cmp(*op, x, *value),
                    Err(e) => {
                        set_filter_err(labels, e);
                        true
                    }
                }
            }
        }
    }
}

/// Label names a filter reads (Loki's `RequiredLabelNames`).
pub(super) fn filter_names(f: &LabelFilter, out: &mut Vec<String>) {
    match f {
        LabelFilter::And(a, b) | LabelFilter::Or(a, b) => {
            filter_names(a, out);
            filter_names(b, out);
        }
        LabelFilter::Matcher(m) => out.push(m.name.clone()),
        LabelFilter::Ip { name, .. }
        | LabelFilter::Number { name, .. }
        | LabelFilter::Duration { name, .. }
        | LabelFilter::Bytes { name, .. } => out.push(name.clone()),
    }
}

/// Field names (`.name`) a Go template reads, roughly as `listNodeFields` finds them.
pub(super) fn template_fields(t: &str, out: &mut Vec<String>) {
    let mut rest = t;
    while let Some(open) = rest.find("{{") {
        let body_start = &rest[open + 2..];
        let close = body_start.find("}}").unwrap_or(body_start.len());
        let body = &body_start.as_bytes()[..close];
        for i in 0..body.len() {
            let prev_ok = i == 0 || !(body[i - 1].is_ascii_alphanumeric() || matches!(body[i - 1], b'_' | b')' | b'.'));
            if body[i] == b'.' && prev_ok && body.get(i + 1).is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_') {
                let n = body[i + 1..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'_').count();
                out.push(String::from_utf8_lossy(&body[i + 1..i + 1 + n]).into_owned());
            }
        }
        rest = &body_start[(close + 2).min(body_start.len())..];
    }
}

/// A Go regex anchored like Prometheus matchers and `label_replace` (`^(?:re)$`), with the
/// names of its capture groups (by group number minus one).
pub(super) fn anchored_regex(re: &str) -> Result<regex::Regex, QueryError> {
    anchored_regex_with_names(re).map(|(r, _)| r)
}

pub(super) fn anchored_regex_with_names(re: &str) -> Result<(regex::Regex, Vec<Option<String>>), QueryError> {
    let tr = translate_go_regex(&format!("^(?:{re})$")).map_err(QueryError::BadRegex)?;
    let r = regex::Regex::new(&tr.rust).map_err(|e| QueryError::BadRegex(e.to_string()))?;
    Ok((r, tr.names))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_float() {
        assert_eq!(parse_go_float("1e3"), Ok(1000.0));
        assert_eq!(parse_go_float("-2.5"), Ok(-2.5));
        assert_eq!(parse_go_float(".5"), Ok(0.5));
        assert_eq!(parse_go_float("Inf"), Ok(f64::INFINITY));
        assert_eq!(parse_go_float("-infinity"), Ok(f64::NEG_INFINITY));
        assert!(parse_go_float("NaN").unwrap().is_nan());
        assert_eq!(parse_go_float("+nan"), Err(r#"strconv.ParseFloat: parsing "+nan": invalid syntax"#.into()));
        assert_eq!(parse_go_float("12ms"), Err(r#"strconv.ParseFloat: parsing "12ms": invalid syntax"#.into()));
        assert_eq!(parse_go_float(""), Err(r#"strconv.ParseFloat: parsing "": invalid syntax"#.into()));
        assert_eq!(parse_go_float("1e400"), Err(r#"strconv.ParseFloat: parsing "1e400": value out of range"#.into()));
    }

    #[test]
    fn go_duration() {
        assert_eq!(parse_go_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_go_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_go_duration("900us"), Ok(900_000));
        assert_eq!(parse_go_duration("900µs"), Ok(900_000));
        assert_eq!(parse_go_duration("-3ms"), Ok(-3_000_000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(parse_go_duration(".5h"), Ok(1_800_000_000_000));
        assert_eq!(parse_go_duration("1d"), Err(r#"time: unknown unit "d" in duration "1d""#.into()));
        assert_eq!(parse_go_duration("12"), Err(r#"time: missing unit in duration "12""#.into()));
        assert_eq!(parse_go_duration("abc"), Err(r#"time: invalid duration "abc""#.into()));
        assert_eq!(parse_go_duration(""), Err(r#"time: invalid duration """#.into()));
        assert_eq!(go_seconds(1_500_000_000), 1.5);
        assert_eq!(convert(Some(UnwrapConv::Duration), "250ms"), Ok(0.25));
    }

    #[test]
    fn humanize_bytes() {
        assert_eq!(parse_humanize_bytes("5 MiB"), Ok(5 << 20));
        assert_eq!(parse_humanize_bytes("3k"), Ok(3000));
        assert_eq!(parse_humanize_bytes("1.5MB"), Ok(1_500_000));
        assert_eq!(parse_humanize_bytes("10m"), Ok(10_000_000));
        assert_eq!(parse_humanize_bytes("1,000"), Ok(1000));
        assert_eq!(parse_humanize_bytes("0B"), Ok(0));
        assert_eq!(parse_humanize_bytes("2 zz"), Err("unhandled size name: zz".into()));
        assert_eq!(parse_humanize_bytes("x"), Err(r#"strconv.ParseFloat: parsing "": invalid syntax"#.into()));
    }

    fn labels(p: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(p.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect())
    }

    #[test]
    fn label_filters() {
        let num = Filter::compile(&LabelFilter::Number { name: "x".into(), op: CmpOp::Gt, value: 5.0 }).unwrap();
        let l = labels(&[("x", "7")]);
        assert!(num.apply(&mut Cow::Borrowed(&l)));
        let l = labels(&[("y", "7")]);
        assert!(!num.apply(&mut Cow::Borrowed(&l)), "missing label drops");
        let l = labels(&[("x", "abc")]);
        let mut c = Cow::Borrowed(&l);
        assert!(num.apply(&mut c), "conversion failure keeps");
        assert_eq!(c.get(ERROR), Some("LabelFilterErr"));
        assert_eq!(c.get(ERROR_DETAILS), Some(r#"strconv.ParseFloat: parsing "abc": invalid syntax"#));
        let err_empty = Filter::compile(&LabelFilter::Matcher(crate::logql::Matcher {
            name: ERROR.into(),
            op: MatchOp::Eq,
            value: String::new(),
        }))
        .unwrap();
        assert!(!err_empty.apply(&mut c));
        let re = Filter::compile(&LabelFilter::Matcher(crate::logql::Matcher {
            name: "x".into(),
            op: MatchOp::Re,
            value: "a.c".into(),
        }))
        .unwrap();
        assert!(re.apply(&mut c));
        let l = labels(&[("x", "xabc")]);
        assert!(!re.apply(&mut Cow::Borrowed(&l)), "regex is anchored");
    }

    #[test]
    fn template_field_names() {
        let mut v = Vec::new();
        template_fields("{{.a}} {{ __line__ | trunc 2 }} {{ .b_c | upper }} {{ 1.5 }} .d", &mut v);
        assert_eq!(v, vec!["a", "b_c"]);
    }
}
