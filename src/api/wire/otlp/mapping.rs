//! OTLP logs → push streams, with Loki 3's mapping (`otlpToLokiPushRequest`).
//!
//! Per resource: attributes whose `otlp_config` action is `index_label` become stream labels
//! (names in Prometheus form: `service.name` → `service_name`; nested maps flattened as
//! `parent_child`), `structured_metadata` ones are appended to every entry's metadata,
//! `drop` ones vanish. `service_name` falls back to the first `discover_service_name` label
//! among the indexed ones, then to `unknown_service`. Per record: the body (rendered as
//! pdata's `AsString`) is the line; the timestamp falls back to the observed timestamp, then
//! to now; the record's own attributes, `observed_timestamp`, `severity_number`,
//! `severity_text`, `dropped_attributes_count`, `flags`, `trace_id` and `span_id` come first
//! in the metadata, then the resource's, then the scope's (`scope_name`, `scope_version`, …).
//! Log attributes with `index_label` put the record in a stream of its own.

use std::collections::{BTreeMap, HashMap};

use super::schema::*;
use crate::limits::otlp::{OtlpAction, OtlpConfig};
use crate::model::{Entry, Labels, Nanos, PushStream};

/// Loki's `push.LabelServiceName` / `push.ServiceUnknown`.
const SERVICE_NAME: &str = "service_name";
const SERVICE_UNKNOWN: &str = "unknown_service";

type Pairs = Vec<(String, String)>;

/// Converts a decoded export request; an attribute whose name cannot become a label name
/// fails the request (400), as in Loki.
pub fn to_push_streams(
    req: ExportLogsServiceRequest,
    cfg: &OtlpConfig,
    discover_service_name: &[String],
    now: Nanos,
) -> Result<Vec<PushStream>, String> {
    let mut streams: Vec<PushStream> = Vec::new();
    let mut by_labels: HashMap<Labels, usize> = HashMap::new();
    let mut stream_index = |labels: Labels, streams: &mut Vec<PushStream>| -> usize {
        *by_labels.entry(labels.clone()).or_insert_with(|| {
            streams.push(PushStream { labels, entries: Vec::new() });
            streams.len() - 1
        })
    };

    for rl in req.resource_logs {
        let attrs = rl.resource.map(|r| r.attributes).unwrap_or_default();
        let mut has_service_name = attrs
            .iter()
            .any(|kv| kv.key == "service.name" && kv.value.as_ref().is_some_and(|v| !as_string(v).is_empty()));
        let discover = !discover_service_name.is_empty();
        let mut labels: BTreeMap<String, String> = BTreeMap::new();
        let mut resource_md: Pairs = Vec::new();
        for kv in &attrs {
            let action = cfg.resource_action(&kv.key);
            if action == OtlpAction::Drop {
                continue;
            }
            let pairs = attribute_to_labels(&kv.key, kv.value.as_ref(), None)?;
            match action {
                OtlpAction::IndexLabel => {
                    for (n, v) in pairs {
                        if !has_service_name && discover && discover_service_name.contains(&n) {
                            labels.insert(SERVICE_NAME.to_string(), v.clone());
                            has_service_name = true;
                        }
                        labels.insert(n, v);
                    }
                }
                _ => resource_md.extend(pairs),
            }
        }
        if !has_service_name && discover {
            labels.insert(SERVICE_NAME.to_string(), SERVICE_UNKNOWN.to_string());
        }
        let resource_labels = to_labels(&labels);
        let resource_stream = stream_index(resource_labels, &mut streams);

        for sl in rl.scope_logs {
            let mut scope_md: Pairs = Vec::new();
            if let Some(scope) = &sl.scope {
                for kv in &scope.attributes {
                    if cfg.scope_action(&kv.key) == OtlpAction::StructuredMetadata {
                        scope_md.extend(attribute_to_labels(&kv.key, kv.value.as_ref(), None)?);
                    }
                }
                if !scope.name.is_empty() {
                    scope_md.push(("scope_name".into(), scope.name.clone()));
                }
                if !scope.version.is_empty() {
                    scope_md.push(("scope_version".into(), scope.version.clone()));
                }
                if scope.dropped_attributes_count != 0 {
                    scope_md
                        .push(("scope_dropped_attributes_count".into(), scope.dropped_attributes_count.to_string()));
                }
            }
            for lr in sl.log_records {
                let (log_labels, mut entry) = record_to_entry(lr, cfg, now)?;
                entry.metadata.reserve(resource_md.len() + scope_md.len());
                entry.metadata.extend(resource_md.iter().cloned());
                entry.metadata.extend(scope_md.iter().cloned());
                let idx = if log_labels.is_empty() {
                    resource_stream
                } else {
                    let mut combined = labels.clone();
                    combined.extend(log_labels);
                    stream_index(to_labels(&combined), &mut streams)
                };
                streams[idx].entries.push(entry);
            }
        }
    }
    streams.retain(|s| !s.entries.is_empty());
    Ok(streams)
}

/// Label set from a map, without empty values (as every other push path drops them).
fn to_labels(m: &BTreeMap<String, String>) -> Labels {
    Labels(m.iter().filter(|(_, v)| !v.is_empty()).map(|(n, v)| (n.clone(), v.clone())).collect())
}

fn record_to_entry(lr: LogRecord, cfg: &OtlpConfig, now: Nanos) -> Result<(BTreeMap<String, String>, Entry), String> {
    let mut md: Pairs = Vec::with_capacity(lr.attributes.len() + 7);
    let mut log_labels = BTreeMap::new();
    for kv in &lr.attributes {
        match cfg.log_action(&kv.key) {
            OtlpAction::Drop => {}
            OtlpAction::StructuredMetadata => md.extend(attribute_to_labels(&kv.key, kv.value.as_ref(), None)?),
            OtlpAction::IndexLabel => log_labels.extend(attribute_to_labels(&kv.key, kv.value.as_ref(), None)?),
        }
    }
    if lr.time_unix_nano != 0 && lr.observed_time_unix_nano != 0 {
        md.push(("observed_timestamp".into(), (lr.observed_time_unix_nano as i64).to_string()));
    }
    if lr.severity_number != 0 {
        md.push(("severity_number".into(), lr.severity_number.to_string()));
    }
    if !lr.severity_text.is_empty() {
        if cfg.severity_text_as_label {
            log_labels.insert("severity_text".into(), lr.severity_text.clone());
        }
        md.push(("severity_text".into(), lr.severity_text.clone()));
    }
    if lr.dropped_attributes_count != 0 {
        md.push(("dropped_attributes_count".into(), lr.dropped_attributes_count.to_string()));
    }
    if lr.flags != 0 {
        md.push(("flags".into(), lr.flags.to_string()));
    }
    if lr.trace_id.iter().any(|b| *b != 0) {
        md.push(("trace_id".into(), hex(&lr.trace_id)));
    }
    if lr.span_id.iter().any(|b| *b != 0) {
        md.push(("span_id".into(), hex(&lr.span_id)));
    }
    let ts = match (lr.time_unix_nano, lr.observed_time_unix_nano) {
        (0, 0) => now,
        (0, o) => o as i64,
        (t, _) => t as i64,
    };
    let line = lr.body.as_ref().map(as_string).unwrap_or_default();
    Ok((log_labels, Entry { ts, line, metadata: md }))
}

fn hex(b: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(D[(x >> 4) as usize] as char);
        s.push(D[(x & 15) as usize] as char);
    }
    s
}

/// Loki's `attributeToLabels`: one pair, or one per leaf of a map value (`a_b`).
fn attribute_to_labels(key: &str, v: Option<&AnyValue>, prefix: Option<&str>) -> Result<Pairs, String> {
    let full;
    let key = match prefix {
        Some(p) => {
            full = format!("{p}_{key}");
            &full
        }
        None => key,
    };
    let name = label_name(key).map_err(|e| format!("symbolizer lookup: {e}"))?;
    match v.and_then(|v| v.value.as_ref()) {
        Some(Value::Kvlist(kvs)) => {
            let mut out = Vec::with_capacity(kvs.values.len());
            for kv in &kvs.values {
                out.extend(attribute_to_labels(&kv.key, kv.value.as_ref(), Some(&name))?);
            }
            Ok(out)
        }
        _ => Ok(vec![(name, v.map(as_string).unwrap_or_default())]),
    }
}

/// The OTel→Prometheus label namer (`otlptranslator.LabelNamer{}`), the one structured
/// metadata names get at ingest (`ingest::detect::normalize_name`).
pub fn label_name(name: &str) -> Result<String, String> {
    crate::ingest::detect::normalize_name(name).map(|n| n.into_owned())
}

/// pdata's `Value.AsString`: strings as they are, numbers and booleans in Go's text,
/// bytes in base64, maps and arrays as compact JSON (sorted keys, no HTML escaping).
pub fn as_string(v: &AnyValue) -> String {
    match &v.value {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Int(i)) => i.to_string(),
        Some(Value::Double(f)) => crate::gocompat::strconv::json_float(*f),
        Some(Value::Bytes(b)) => {
            let mut s = String::new();
            super::base64::encode_into(&mut s, b);
            s
        }
        Some(_) => {
            let mut s = String::new();
            write_json(&mut s, v);
            s
        }
    }
}

fn write_json(out: &mut String, v: &AnyValue) {
    match &v.value {
        None => out.push_str("null"),
        Some(Value::String(s)) => write_json_string(out, s),
        Some(Value::Bytes(b)) => {
            out.push('"');
            super::base64::encode_into(out, b);
            out.push('"');
        }
        Some(Value::Double(f)) if !f.is_finite() => out.push_str("null"),
        Some(Value::Bool(_) | Value::Int(_) | Value::Double(_)) => out.push_str(&as_string(v)),
        Some(Value::Array(a)) => {
            out.push('[');
            for (i, item) in a.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Some(Value::Kvlist(kvs)) => {
            // Go maps: the last value of a repeated key wins, keys sorted.
            let mut m: BTreeMap<&str, Option<&AnyValue>> = BTreeMap::new();
            for kv in &kvs.values {
                m.insert(&kv.key, kv.value.as_ref());
            }
            out.push('{');
            for (i, (k, val)) in m.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, k);
                out.push(':');
                match val {
                    Some(val) => write_json(out, val),
                    None => out.push_str("null"),
                }
            }
            out.push('}');
        }
    }
}

/// Go's JSON string escaping with HTML escaping off.
fn write_json_string(out: &mut String, s: &str) {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
#[path = "mapping_tests.rs"]
mod tests;
