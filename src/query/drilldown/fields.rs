//! Loki's field detection (`detected_fields`, `detected_field/{name}/values`): over the lines
//! a log query returns, structured metadata (no parser) and the fields of each line parsed as
//! JSON, else logfmt, with their type, distinct values and, for JSON, the key path.

use std::collections::{BTreeMap, BTreeSet};

use crate::gocompat as go;
use crate::model::Labels;
use crate::query::pipeline::{json, logfmt::Decoder};
use crate::query::result::{ResultEntry, StreamResult};

/// One detected field.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    /// Loki's type of the value last seen: `string int float boolean duration bytes`.
    pub kind: &'static str,
    pub values: BTreeSet<String>,
    /// Empty for structured metadata (Loki's `null`).
    pub parsers: Vec<&'static str>,
    pub json_path: Vec<String>,
}

/// Loki's `determineType`.
pub fn determine_type(v: &str) -> &'static str {
    if go::parse_int(v).is_some() {
        "int"
    } else if go::parse_float(v).is_ok() {
        "float"
    } else if matches!(v, "1" | "t" | "T" | "TRUE" | "true" | "True" | "0" | "f" | "F" | "FALSE" | "false" | "False") {
        "boolean"
    } else if crate::query::pipeline::conv::parse_duration(v).is_ok() {
        "duration"
    } else if go::parse_bytes(v).is_ok() {
        "bytes"
    } else {
        "string"
    }
}

/// Fields of one line: name → (value, JSON path), and the parser that read them.
type LineFields = (Vec<(String, String, Vec<String>)>, Option<&'static str>);

/// Parses `line` as Loki's detection does: JSON, else logfmt; names colliding with the
/// stream labels (or the entry's metadata) get `_extracted`, the first value of a name wins.
pub fn parse_line(line: &str, stream: &Labels, meta: &[(String, String)]) -> LineFields {
    let collides = |n: &str| stream.get(n).is_some() || meta.iter().any(|(k, _)| k == n);
    let mut out: Vec<(String, String, Vec<String>)> = Vec::new();
    let mut path: Vec<String> = Vec::new();
    if walk(line.as_bytes(), &mut path, &mut out, &collides).is_ok() {
        return (out, Some("json"));
    }
    out.clear();
    let mut dec = Decoder::new(line.as_bytes());
    while !dec.eol() {
        if !dec.scan() {
            continue;
        }
        let mut name = crate::query::pipeline::labels::sanitize_key(&String::from_utf8_lossy(dec.key()));
        if name.is_empty() {
            continue;
        }
        if collides(&name) {
            name.push_str("_extracted");
        }
        let v = String::from_utf8_lossy(dec.value()).replace('\u{FFFD}', "");
        if v.is_empty() || out.iter().any(|(n, _, _)| *n == name) {
            continue;
        }
        out.push((name, v, Vec::new()));
    }
    // Loki's non-strict logfmt parser always succeeds (it may find nothing).
    (out, Some("logfmt"))
}

/// Flattens a JSON object as `| json` does; `Err` when the line is not a JSON object.
fn walk(
    obj: &[u8],
    path: &mut Vec<String>,
    out: &mut Vec<(String, String, Vec<String>)>,
    collides: &dyn Fn(&str) -> bool,
) -> Result<(), ()> {
    json::object_each(obj, |key, value, ty| {
        let key = String::from_utf8_lossy(key).into_owned();
        match ty {
            json::JType::Object if path.len() < 64 => {
                path.push(key);
                let r = walk(value, path, out, collides);
                path.pop();
                r.map_err(|_| json::Stop::Err("nested"))
            }
            json::JType::String | json::JType::Number | json::JType::Boolean => {
                let parts: Vec<String> = path
                    .iter()
                    .chain(std::iter::once(&key))
                    .filter(|p| !p.trim().is_empty())
                    .map(|p| crate::query::pipeline::labels::sanitize_key(p))
                    .collect();
                let mut name = parts.join("_");
                if name.is_empty() {
                    return Ok(());
                }
                if collides(&name) {
                    name.push_str("_extracted");
                }
                if out.iter().any(|(n, _, _)| *n == name) {
                    return Ok(());
                }
                let v = match ty {
                    json::JType::String => json::unescape_string(value),
                    _ => String::from_utf8_lossy(value).into_owned(),
                };
                let mut jp = path.clone();
                jp.push(key);
                out.push((name, v, jp));
                Ok(())
            }
            _ => Ok(()),
        }
    })
    .map_err(|_| ())
}

/// Loki's `parseDetectedFields`: the first `limit` names met, in result order.
pub fn detect(streams: &[StreamResult], limit: usize) -> Vec<Field> {
    let mut fields: BTreeMap<String, Field> = BTreeMap::new();
    let add = |name: &str,
               v: &str,
               first: bool,
               parsers: &[&'static str],
               jp: Option<&[String]>,
               fields: &mut BTreeMap<String, Field>| {
        if !fields.contains_key(name) {
            if fields.len() >= limit {
                return;
            }
            let f = Field {
                name: name.to_string(),
                kind: "string",
                values: BTreeSet::new(),
                parsers: parsers.to_vec(),
                json_path: Vec::new(),
            };
            fields.insert(name.to_string(), f);
        }
        let f = fields.get_mut(name).expect("inserted above");
        for p in parsers {
            if !f.parsers.contains(p) {
                f.parsers.push(p);
            }
        }
        if let Some(jp) = jp {
            f.json_path = jp.to_vec();
        }
        if first {
            f.kind = determine_type(v);
        }
        f.values.insert(v.to_string());
    };
    for s in streams {
        for e in &s.entries {
            let mut seen_meta: Vec<&str> = Vec::new();
            for (k, v) in &e.metadata {
                add(k, v, !seen_meta.contains(&k.as_str()), &[], None, &mut fields);
                seen_meta.push(k);
            }
            for (name, v, jp, parsers) in entry_fields(s, e) {
                let json_path = parsers.contains(&"json").then_some(jp.as_slice());
                add(&name, &v, true, &parsers, json_path, &mut fields);
            }
        }
    }
    fields.into_values().collect()
}

/// The parsed fields of one entry: those the query's own parsers extracted, merged with
/// the line's re-parse (Loki's `parseEntry`), each with the re-parse's parser.
fn entry_fields(s: &StreamResult, e: &ResultEntry) -> Vec<(String, String, Vec<String>, Vec<&'static str>)> {
    let stream = Labels(s.labels.0.iter().filter(|(n, _)| !e.parsed.iter().any(|(p, _)| p == n)).cloned().collect());
    let (fields, parser) = parse_line(&e.line, &stream, &e.metadata);
    let parsers: Vec<&'static str> = parser.into_iter().collect();
    let is_err = |n: &str| matches!(n, "__error__" | "__error_details__" | "__preserve_error__");
    let mut out: Vec<(String, String, Vec<String>, Vec<&'static str>)> = Vec::new();
    for (n, v) in e.parsed.iter().filter(|(n, _)| !is_err(n)) {
        let jp = fields.iter().find(|(f, _, _)| f == n).map(|f| f.2.clone()).unwrap_or_default();
        out.push((n.clone(), v.clone(), jp, if parser.is_some() { parsers.clone() } else { Vec::new() }));
    }
    if parser.is_some() {
        for (n, v, jp) in fields {
            if !out.iter().any(|o| o.0 == n) {
                out.push((n, v, jp, parsers.clone()));
            }
        }
    }
    out
}

/// Loki's `parseDetectedFieldValues`: distinct values of `name` (metadata or parsed),
/// byte sizes normalised (`1.5kB`), stopping once `limit` are found.
pub fn values(streams: &[StreamResult], name: &str, limit: usize) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for s in streams {
        for e in &s.entries {
            if out.len() >= limit {
                break;
            }
            for (k, v) in &e.metadata {
                if k == name {
                    out.insert(v.clone());
                }
            }
            for (n, v, _, _) in entry_fields(s, e) {
                if n != name {
                    continue;
                }
                let lower = v.to_ascii_lowercase();
                match go::parse_bytes(&v) {
                    Ok(b) if BYTE_UNITS.iter().any(|u| lower.ends_with(u)) => {
                        out.insert(go::bytes(b).replacen(' ', "", 1))
                    }
                    _ => out.insert(v),
                };
            }
        }
    }
    out
}

/// Loki's `allowedBytesUnits` (suffixes).
const BYTE_UNITS: [&str; 25] = [
    "b", "kib", "kb", "mib", "mb", "gib", "gb", "tib", "tb", "pib", "pb", "eib", "eb", "ki", "k", "mi", "m", "gi", "g",
    "ti", "t", "pi", "p", "ei", "e",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_follow_lokis_order() {
        assert_eq!(determine_type("200"), "int");
        assert_eq!(determine_type("9.75"), "float");
        assert_eq!(determine_type("true"), "boolean");
        assert_eq!(determine_type("+24ms"), "duration");
        assert_eq!(determine_type("12 MB"), "bytes");
        assert_eq!(determine_type("GET"), "string");
    }

    #[test]
    fn json_lines_flatten_with_paths_and_collisions() {
        let stream = Labels(vec![("service".into(), "api".into())]);
        let (f, p) =
            parse_line(r#"{"service":"api","req":{"headers":{"user-agent":"k6"}},"a":[1],"n":null}"#, &stream, &[]);
        assert_eq!(p, Some("json"));
        assert_eq!(f[0], ("service_extracted".into(), "api".into(), vec!["service".to_string()]));
        assert_eq!(f[1].0, "req_headers_user_agent");
        assert_eq!(f[1].2, vec!["req", "headers", "user-agent"]);
        assert_eq!(f.len(), 2, "arrays and nulls are not fields");
        let (f, p) =
            parse_line("level=info msg=\"a b\" empty= 127.0.0.1", &Labels(vec![("level".into(), "x".into())]), &[]);
        assert_eq!(p, Some("logfmt"));
        assert_eq!(f.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(), vec!["level_extracted", "msg"]);
    }
}
