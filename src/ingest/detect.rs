//! Ingest-time mutations Loki applies to pushed streams: `service_name` discovery,
//! structured-metadata name normalisation and `detected_level` discovery.
//!
//! Mirrors `ParseLokiRequest` (`pkg/loghttp/push/push.go`), the structured-metadata step of
//! `Distributor.Push` and `pkg/distributor/field_detection.go` of Loki 3.7.6. Everything
//! here is per line on the hot path: no regex, no allocation unless a value is produced.

use std::borrow::Cow;

use crate::model::{Entry, Labels};
use crate::query::pipeline::{json, logfmt};

pub const SERVICE_NAME: &str = "service_name";
pub const UNKNOWN_SERVICE: &str = "unknown_service";
pub const DETECTED_LEVEL: &str = "detected_level";
/// Loki's `-validation.log-level-fields` default, in priority order.
pub const LEVEL_FIELDS: [&str; 14] = [
    "level",
    "LEVEL",
    "Level",
    "log.level",
    "severity",
    "SEVERITY",
    "Severity",
    "SeverityText",
    "lvl",
    "LVL",
    "Lvl",
    "severity_text",
    "Severity_Text",
    "SEVERITY_TEXT",
];
/// `-validation.log-level-from-json-max-depth` default: top level and one nested object.
const JSON_MAX_DEPTH: usize = 2;

/// Streams Loki writes for itself (aggregated metrics, patterns): never mutated or validated.
pub fn is_internal_stream(labels: &Labels) -> bool {
    labels.get("__aggregated_metric__").is_some() || labels.get("__pattern__").is_some()
}

/// Adds `service_name` from the first non-empty label named in `discover` (else
/// `unknown_service`), unless the stream has one already or `discover` is empty.
pub fn discover_service_name(labels: &mut Labels, discover: &[String]) {
    if discover.is_empty() || labels.get(SERVICE_NAME).is_some() || is_internal_stream(labels) {
        return;
    }
    let value = discover
        .iter()
        .find_map(|name| labels.get(name).filter(|v| !v.is_empty()))
        .unwrap_or(UNKNOWN_SERVICE)
        .to_string();
    labels.set(SERVICE_NAME, &value);
}

/// Loki's structured-metadata clean-up: names rewritten to Prometheus form (OTLP translator
/// rules: runs of invalid characters become one `_`, a leading digit gets `key_`, `__x__`
/// kept), U+FFFD in values replaced by a space, pairs sorted by name. A name that cannot be
/// normalised (empty, only underscores) is an error.
pub fn normalize_metadata(md: &mut Vec<(String, String)>) -> Result<(), String> {
    let mut dropped = false;
    for (name, value) in md.iter_mut() {
        if let Cow::Owned(new) = normalize_name(name)? {
            // Loki re-sets a renamed pair through a label builder, which drops empty values;
            // an empty name (never valid otherwise) marks it for removal.
            dropped |= value.is_empty();
            *name = if value.is_empty() { String::new() } else { new };
        }
        if value.contains('\u{FFFD}') {
            *value = value.replace('\u{FFFD}', " ");
        }
    }
    if dropped {
        md.retain(|(n, _)| !n.is_empty());
    }
    if !md.is_sorted_by(|a, b| a.0 <= b.0) {
        md.sort_by(|a, b| a.0.cmp(&b.0));
    }
    Ok(())
}

/// The OTel→Prometheus label namer (`otlptranslator.LabelNamer{}`): every character other
/// than `[a-zA-Z0-9]` becomes `_`, runs of `_` collapse (a `__x__` name keeps its reserved
/// underscores), a leading digit gets `key_`.
pub(crate) fn normalize_name(name: &str) -> Result<Cow<'_, str>, String> {
    if name.is_empty() {
        return Err("label name is empty".into());
    }
    let collapsed = |s: &str| {
        let mut out = String::with_capacity(s.len());
        let mut prev_underscore = false;
        for c in s.chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c);
                prev_underscore = false;
            } else if !prev_underscore {
                out.push('_');
                prev_underscore = true;
            }
        }
        out
    };
    let reserved = name.len() >= 4 && name.starts_with("__") && name.ends_with("__");
    let mut out = if reserved { format!("__{}__", collapsed(&name[2..name.len() - 2])) } else { collapsed(name) };
    if out.as_bytes()[0].is_ascii_digit() {
        out.insert_str(0, "key_");
    }
    if out.bytes().all(|b| b == b'_') {
        return Err(format!("normalization for label name {name:?} resulted in invalid name {out:?}"));
    }
    Ok(if out == name { Cow::Borrowed(name) } else { Cow::Owned(out) })
}

/// Adds `detected_level` to the entry's structured metadata (after the pushed pairs), or
/// normalises an already present `detected_level` in place.
pub fn apply_detected_level(labels: &Labels, entry: &mut Entry) {
    if let Some((_, v)) = entry.metadata.iter_mut().find(|(n, _)| n == DETECTED_LEVEL) {
        if let Some(level) = known_level(v.as_bytes()) {
            if v != level {
                *v = level.to_string();
            }
        }
        return;
    }
    // A level label / metadata pair that is present but empty yields no detected_level.
    let level = if let Some(v) = first_field(LEVEL_FIELDS.iter().map(|f| labels.get(f))) {
        normalize_level(v)
    } else if let Some(v) = first_field(LEVEL_FIELDS.iter().map(|f| metadata_get(&entry.metadata, f))) {
        normalize_level(v)
    } else if let Some(n) = metadata_get(&entry.metadata, "severity_number").filter(|v| !v.is_empty()) {
        level_from_otlp_severity(n)
    } else {
        level_from_line(&entry.line)
    };
    if !level.is_empty() {
        let level = level.to_string();
        entry.metadata.push((DETECTED_LEVEL.to_string(), level));
    }
}

fn first_field<'a>(mut it: impl Iterator<Item = Option<&'a str>>) -> Option<&'a str> {
    it.find_map(|v| v)
}

fn metadata_get<'a>(md: &'a [(String, String)], name: &str) -> Option<&'a str> {
    md.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// A known level spelling (ASCII case-insensitive) → canonical level.
pub fn known_level(v: &[u8]) -> Option<&'static str> {
    const TABLE: [(&str, &str); 14] = [
        ("trace", "trace"),
        ("trc", "trace"),
        ("debug", "debug"),
        ("dbg", "debug"),
        ("info", "info"),
        ("inf", "info"),
        ("information", "info"),
        ("warn", "warn"),
        ("wrn", "warn"),
        ("warning", "warn"),
        ("error", "error"),
        ("err", "error"),
        ("critical", "critical"),
        ("fatal", "fatal"),
    ];
    TABLE.iter().find(|(w, _)| v.eq_ignore_ascii_case(w.as_bytes())).map(|(_, l)| *l)
}

/// Canonical level, or the value itself when it is not a known spelling (Loki keeps it).
pub fn normalize_level(v: &str) -> &str {
    known_level(v.as_bytes()).unwrap_or(v)
}

/// OTLP `severity_number` (1-4 trace, 5-8 debug, … 21-24 fatal).
fn level_from_otlp_severity(n: &str) -> &'static str {
    match n.parse::<i64>() {
        Err(_) => "info",
        Ok(0) => "unknown",
        Ok(n) if n <= 4 => "trace",
        Ok(n) if n <= 8 => "debug",
        Ok(n) if n <= 12 => "info",
        Ok(n) if n <= 16 => "warn",
        Ok(n) if n <= 20 => "error",
        Ok(n) if n <= 24 => "fatal",
        Ok(_) => "unknown",
    }
}

/// Level from the line: a JSON or logfmt level field, else the keyword scan.
pub fn level_from_line(line: &str) -> &'static str {
    let b = line.as_bytes();
    let field: Option<Cow<'_, [u8]>> = if is_json(line) {
        json_level(b).map(Cow::Borrowed)
    } else if memchr::memchr(b'=', b).is_some() {
        logfmt_level(b)
    } else {
        return keyword_level(b);
    };
    field.and_then(|v| known_level(&v)).unwrap_or_else(|| keyword_level(b))
}

fn is_json(line: &str) -> bool {
    let first = line.trim_start().as_bytes().first().copied();
    // Loki checks the last non-space *byte* (so 0x85 and 0xA0 count as space).
    let last = line.as_bytes().iter().rev().find(|b| !matches!(b, b'\t'..=b'\r' | b' ' | 0x85 | 0xA0)).copied();
    first == Some(b'{') && last == Some(b'}')
}

// ---- keyword scan ------------------------------------------------------------------------

/// Characters that may precede / follow a level keyword (Loki 3.7.6 `isLeft/RightWordBoundary`;
/// later Loki also accepts `'` and `|`).
const fn boundary_table(chars: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < chars.len() {
        t[chars[i] as usize] = true;
        i += 1;
    }
    t
}
static LEFT: [bool; 256] = boundary_table(b" \t\n[({\"=");
static RIGHT: [bool; 256] = boundary_table(b" \t\n[](){}:,!\"=");

/// The earliest bounded, case-insensitive occurrence of trace/debug/fatal/critical/error/err/
/// warning/warn/info decides; none → `unknown`. One pass over the bytes.
pub fn keyword_level(b: &[u8]) -> &'static str {
    for i in 0..b.len() {
        let words: &[(&[u8], &'static str)] = match b[i] | 0x20 {
            b't' => &[(b"trace", "trace")],
            b'd' => &[(b"debug", "debug")],
            b'f' => &[(b"fatal", "fatal")],
            b'c' => &[(b"critical", "critical")],
            b'e' => &[(b"error", "error"), (b"err", "error")],
            b'w' => &[(b"warning", "warn"), (b"warn", "warn")],
            b'i' => &[(b"info", "info")],
            _ => continue,
        };
        if i > 0 && !LEFT[b[i - 1] as usize] {
            continue;
        }
        for (w, level) in words {
            let end = i + w.len();
            if end <= b.len() && b[i..end].eq_ignore_ascii_case(w) && (end == b.len() || RIGHT[b[end] as usize]) {
                return level;
            }
        }
    }
    "unknown"
}

// ---- logfmt and JSON: the query pipeline's scanners, as Loki uses its logfmt decoder and
// jsonparser for both --------------------------------------------------------------------------

/// Value of the highest-priority level field (key compared case-insensitively), read with the
/// pipeline's logfmt decoder like Loki's `getValueUsingLogfmtParser`: the scan stops at the
/// first syntax error.
fn logfmt_level(line: &[u8]) -> Option<Cow<'_, [u8]>> {
    let mut d = logfmt::Decoder::new(line);
    let mut best: Option<(usize, Cow<'_, [u8]>)> = None;
    while !d.eol() && d.scan() {
        let key = d.key();
        let Some(x) = LEVEL_FIELDS.iter().position(|f| key.eq_ignore_ascii_case(f.as_bytes())) else { continue };
        if best.as_ref().is_none_or(|(p, _)| x < *p) {
            if x == 0 {
                return Some(d.value_cow());
            }
            best = Some((x, d.value_cow()));
        }
    }
    best.map(|(_, v)| v)
}

/// Raw (still escaped) content of the first string value whose key is a level field, walking
/// the object in document order with the pipeline's jsonparser-style scanner and descending
/// into nested objects up to `JSON_MAX_DEPTH` (Loki's `getLevelUsingJSONParser`). A malformed
/// document stops the walk.
fn json_level(line: &[u8]) -> Option<&[u8]> {
    fn walk<'d>(d: &'d [u8], depth: usize, found: &mut Option<&'d [u8]>) -> Result<(), json::Stop> {
        if depth >= JSON_MAX_DEPTH {
            return Ok(());
        }
        json::object_each(d, |key, value, ty| match ty {
            json::JType::String if LEVEL_FIELDS.iter().any(|f| f.as_bytes() == key) => {
                *found = Some(value);
                Err(json::Stop::Done)
            }
            json::JType::Object => walk(value, depth + 1, found),
            _ => Ok(()),
        })
    }
    let mut found = None;
    let _ = walk(line, 0, &mut found);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect())
    }

    fn defaults() -> Vec<String> {
        crate::limits::Limits::default().discover_service_name
    }

    #[test]
    fn service_name_discovery() {
        let cases: [(&[(&str, &str)], &str); 4] = [
            (&[("container", "nginx"), ("host", "web-1"), ("job", "nginx")], "nginx"),
            (&[("app", "mailer"), ("env", "prod")], "mailer"),
            (&[("filename", "/var/log/syslog"), ("host", "h"), ("job", "varlogs")], "varlogs"),
            (&[("host", "h")], "unknown_service"),
        ];
        for (pairs, want) in cases {
            let mut l = labels(pairs);
            discover_service_name(&mut l, &defaults());
            assert_eq!(l.get(SERVICE_NAME), Some(want), "{pairs:?}");
        }
        let mut l = labels(&[("service_name", "mine"), ("app", "x")]);
        discover_service_name(&mut l, &defaults());
        assert_eq!(l.get(SERVICE_NAME), Some("mine"));
        let mut l = labels(&[("app", "x")]);
        discover_service_name(&mut l, &[]);
        assert_eq!(l.get(SERVICE_NAME), None);
        let mut l = labels(&[("__pattern__", "p")]);
        discover_service_name(&mut l, &defaults());
        assert_eq!(l.get(SERVICE_NAME), None);
    }

    fn level(stream: &[(&str, &str)], md: &[(&str, &str)], line: &str) -> Option<String> {
        let mut e = Entry {
            ts: 0,
            line: line.into(),
            metadata: md.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
        };
        apply_detected_level(&labels(stream), &mut e);
        let found: Vec<_> = e.metadata.iter().filter(|(n, _)| n == DETECTED_LEVEL).collect();
        assert!(found.len() <= 1);
        found.first().map(|(_, v)| v.clone())
    }

    #[test]
    fn level_from_labels_and_metadata() {
        let winston = r#"{"level":"error","message":"payment failed","service":"api"}"#;
        assert_eq!(level(&[("app", "api"), ("level", "info")], &[], winston).as_deref(), Some("info"));
        assert_eq!(level(&[("level", "WARNING")], &[], "x").as_deref(), Some("warn"));
        assert_eq!(level(&[("level", "notice")], &[], "error here").as_deref(), Some("notice"));
        assert_eq!(level(&[], &[("severity", "Error")], "x").as_deref(), Some("error"));
        assert_eq!(level(&[], &[("level", "")], "error here"), None);
        assert_eq!(level(&[], &[("severity_number", "9")], "x").as_deref(), Some("info"));
        assert_eq!(level(&[], &[("severity_number", "abc")], "x").as_deref(), Some("info"));
        assert_eq!(level(&[], &[("severity_number", "21")], "x").as_deref(), Some("fatal"));
        // An existing detected_level is normalised, not duplicated; it stays in place.
        let mut e = Entry {
            ts: 0,
            line: "debug".into(),
            metadata: vec![("detected_level".into(), "WRN".into()), ("z".into(), "1".into())],
        };
        apply_detected_level(&labels(&[]), &mut e);
        assert_eq!(e.metadata, vec![("detected_level".into(), "warn".into()), ("z".into(), "1".into())]);
        // Appended after pushed metadata.
        let mut e = Entry { ts: 0, line: "INFO hi".into(), metadata: vec![("a".into(), "1".into())] };
        apply_detected_level(&labels(&[]), &mut e);
        assert_eq!(e.metadata, vec![("a".into(), "1".into()), ("detected_level".into(), "info".into())]);
    }

    #[test]
    fn level_from_line() {
        let cases = [
            ("ts=2024-02-02T13:58:08Z level=debug msg=\"cache warmed\" caller=main.go:42", "debug"),
            ("ts=1 LEVEL=\"Warning\" msg=x", "warn"),
            ("ts=1 lvl=err severity=info msg=x", "info"),
            ("ts=1 msg=\"no level\" other=1", "unknown"),
            ("ts=1 level=\"in\\u0066o\" msg=x", "info"),
            (
                r#"192.168.1.10 - - [02/Feb/2024:13:58:08 +0000] "GET /api/users HTTP/1.1" 200 512 "-" "curl/8.0""#,
                "unknown",
            ),
            (r#"10.0.0.1 - - [02/Feb/2024:13:58:08 +0000] "GET /search?q=error HTTP/1.1" 500 0"#, "error"),
            ("Feb 02 13:58:08 backend-instance kernel: Out of memory: Killed process 4242 (node)", "unknown"),
            (r#"{"level":"warn","message":"disk almost full"}"#, "warn"),
            (r#"  {"log":{"Severity":"ERROR"},"msg":"x"}  "#, "error"),
            (r#"{"a":{"b":{"level":"x"}},"msg":"hi"}"#, "unknown"),
            (r#"{"level":5,"msg":"fatal: boom"}"#, "fatal"),
            (r#"{"level":"verbose","msg":"[DEBUG] detail"}"#, "debug"),
            ("2024-02-02 ERROR something failed; then a WARN", "error"),
            ("[warn] low memory", "warn"),
            ("misc:error happened", "unknown"),
            ("an error: x", "error"),
            ("informational errors", "unknown"),
            ("trace", "trace"),
            ("CRITICAL! meltdown", "critical"),
            ("", "unknown"),
        ];
        for (line, want) in cases {
            assert_eq!(level(&[], &[], line).as_deref(), Some(want), "{line}");
        }
    }

    /// Lines are read with the query pipeline's scanners, which behave like Loki's jsonparser
    /// and logfmt decoder: malformed JSON stops the walk where jsonparser stops (a key with an
    /// invalid escape, a bad literal), and the keyword scan decides.
    #[test]
    fn malformed_json_stops_like_jsonparser() {
        assert_eq!(super::level_from_line(r#"{"\q":1,"msg":"error","level":"debug"}"#), "error");
        assert_eq!(super::level_from_line(r#"{"b\'":2,"msg":"error","lvl":"debug"}"#), "error");
        assert_eq!(super::level_from_line(r#"{"a":nul,"msg":"error","level":"debug"}"#), "error");
        assert_eq!(super::level_from_line(r#"{"a":tru,"msg":"error","level":"debug"}"#), "error");
        assert_eq!(super::level_from_line(r#"{"a":null,"msg":"error","level":"debug"}"#), "debug");
        assert_eq!(super::level_from_line(r#"{"lev\u0065l":"warn","msg":"error"}"#), "warn");
        assert_eq!(super::level_from_line(r#"{"a":{"level":"warn"},"level":"error"}"#), "warn");
        assert_eq!(super::level_from_line("a=1 b c=\"x\\\"y\" Lvl=\"in\\u0066o\" msg=error"), "info");
        assert_eq!(super::level_from_line("msg=error a=1 =x level=debug"), "error");
        assert_eq!(super::level_from_line("msg=error level= severity=info"), "error");
    }

    #[test]
    fn keyword_boundaries() {
        assert_eq!(keyword_level(b"x=debug"), "debug");
        assert_eq!(keyword_level(b"(info)"), "info");
        assert_eq!(keyword_level(b"'error'"), "unknown"); // `'` is a boundary only after 3.7.6
        assert_eq!(keyword_level(b"debugger attached, fatal"), "fatal");
        assert_eq!(keyword_level("ünïcode warn".as_bytes()), "warn");
    }

    #[test]
    fn metadata_normalisation() {
        let mut md: Vec<(String, String)> =
            [("trace.id", "a"), ("1abc", "b"), ("__x__", "c"), ("a__b", "d\u{FFFD}e"), ("k.v", "")]
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
        normalize_metadata(&mut md).unwrap();
        let got: Vec<(&str, &str)> = md.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        assert_eq!(got, vec![("__x__", "c"), ("a_b", "d e"), ("key_1abc", "b"), ("trace_id", "a")]);
        let mut bad = vec![(String::new(), "x".to_string())];
        assert_eq!(normalize_metadata(&mut bad).unwrap_err(), "label name is empty");
        let mut bad = vec![("..".to_string(), "x".to_string())];
        assert_eq!(
            normalize_metadata(&mut bad).unwrap_err(),
            r#"normalization for label name ".." resulted in invalid name "_""#
        );
    }
}
