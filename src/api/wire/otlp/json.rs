//! OTLP/HTTP JSON bodies (proto3 JSON mapping as the OTLP spec profiles it) into the
//! [`schema`](super::schema) messages.
//!
//! Field names in lowerCamelCase or their original snake_case; `null` means the default;
//! 64-bit integers as strings or numbers; enums as numbers or names; `traceId`/`spanId` as
//! hex (the OTLP exception to proto3's base64); `bytesValue` as base64; unknown fields
//! ignored, as the spec requires of receivers.

use serde::Deserialize;
use serde::Deserializer;

use super::schema::*;

pub(super) fn decode(body: &[u8]) -> Result<ExportLogsServiceRequest, String> {
    let req: JRequest = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    req.into_schema()
}

/// A field that may be `null` (= its default).
fn nd<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Num {
    U(u64),
    I(i64),
    F(f64),
    S(String),
}

impl Num {
    fn as_i64(&self, what: &str) -> Result<i64, String> {
        match self {
            Num::U(u) => i64::try_from(*u).map_err(|_| format!("{what}: value out of range")),
            Num::I(i) => Ok(*i),
            Num::F(f) if f.fract() == 0.0 && f.abs() < 9.3e18 => Ok(*f as i64),
            Num::F(_) => Err(format!("{what}: not an integer")),
            Num::S(s) => s.trim().parse::<i64>().map_err(|_| format!("{what}: invalid integer {s:?}")),
        }
    }
    fn as_u64(&self, what: &str) -> Result<u64, String> {
        match self {
            Num::U(u) => Ok(*u),
            Num::S(s) => s.trim().parse::<u64>().map_err(|_| format!("{what}: invalid integer {s:?}")),
            other => u64::try_from(other.as_i64(what)?).map_err(|_| format!("{what}: value out of range")),
        }
    }
    fn as_f64(&self, what: &str) -> Result<f64, String> {
        match self {
            Num::U(u) => Ok(*u as f64),
            Num::I(i) => Ok(*i as f64),
            Num::F(f) => Ok(*f),
            Num::S(s) => match s.as_str() {
                "NaN" => Ok(f64::NAN),
                "Infinity" => Ok(f64::INFINITY),
                "-Infinity" => Ok(f64::NEG_INFINITY),
                _ => s.parse::<f64>().map_err(|_| format!("{what}: invalid number {s:?}")),
            },
        }
    }
}

fn opt_u64(n: &Option<Num>, what: &str) -> Result<u64, String> {
    n.as_ref().map_or(Ok(0), |n| n.as_u64(what))
}

#[derive(Deserialize)]
struct JRequest {
    #[serde(default, deserialize_with = "nd", alias = "resource_logs", rename = "resourceLogs")]
    resource_logs: Vec<JResourceLogs>,
}

#[derive(Deserialize)]
struct JResourceLogs {
    #[serde(default)]
    resource: Option<JResource>,
    #[serde(default, deserialize_with = "nd", alias = "scope_logs", rename = "scopeLogs")]
    scope_logs: Vec<JScopeLogs>,
    #[serde(default, deserialize_with = "nd", alias = "schema_url", rename = "schemaUrl")]
    schema_url: String,
}

#[derive(Deserialize)]
struct JResource {
    #[serde(default, deserialize_with = "nd")]
    attributes: Vec<JKeyValue>,
    #[serde(default, alias = "dropped_attributes_count", rename = "droppedAttributesCount")]
    dropped_attributes_count: Option<Num>,
}

#[derive(Deserialize)]
struct JScopeLogs {
    #[serde(default)]
    scope: Option<JScope>,
    #[serde(default, deserialize_with = "nd", alias = "log_records", rename = "logRecords")]
    log_records: Vec<JLogRecord>,
    #[serde(default, deserialize_with = "nd", alias = "schema_url", rename = "schemaUrl")]
    schema_url: String,
}

#[derive(Deserialize)]
struct JScope {
    #[serde(default, deserialize_with = "nd")]
    name: String,
    #[serde(default, deserialize_with = "nd")]
    version: String,
    #[serde(default, deserialize_with = "nd")]
    attributes: Vec<JKeyValue>,
    #[serde(default, alias = "dropped_attributes_count", rename = "droppedAttributesCount")]
    dropped_attributes_count: Option<Num>,
}

#[derive(Deserialize)]
struct JLogRecord {
    #[serde(default, alias = "time_unix_nano", rename = "timeUnixNano")]
    time_unix_nano: Option<Num>,
    #[serde(default, alias = "observed_time_unix_nano", rename = "observedTimeUnixNano")]
    observed_time_unix_nano: Option<Num>,
    #[serde(default, alias = "severity_number", rename = "severityNumber")]
    severity_number: Option<Num>,
    #[serde(default, deserialize_with = "nd", alias = "severity_text", rename = "severityText")]
    severity_text: String,
    #[serde(default)]
    body: Option<JAnyValue>,
    #[serde(default, deserialize_with = "nd")]
    attributes: Vec<JKeyValue>,
    #[serde(default, alias = "dropped_attributes_count", rename = "droppedAttributesCount")]
    dropped_attributes_count: Option<Num>,
    #[serde(default)]
    flags: Option<Num>,
    #[serde(default, deserialize_with = "nd", alias = "trace_id", rename = "traceId")]
    trace_id: String,
    #[serde(default, deserialize_with = "nd", alias = "span_id", rename = "spanId")]
    span_id: String,
    #[serde(default, deserialize_with = "nd", alias = "event_name", rename = "eventName")]
    event_name: String,
}

#[derive(Deserialize)]
struct JKeyValue {
    #[serde(default, deserialize_with = "nd")]
    key: String,
    #[serde(default)]
    value: Option<JAnyValue>,
}

#[derive(Deserialize, Default)]
struct JAnyValue {
    #[serde(default, alias = "string_value", rename = "stringValue")]
    string_value: Option<String>,
    #[serde(default, alias = "bool_value", rename = "boolValue")]
    bool_value: Option<bool>,
    #[serde(default, alias = "int_value", rename = "intValue")]
    int_value: Option<Num>,
    #[serde(default, alias = "double_value", rename = "doubleValue")]
    double_value: Option<Num>,
    #[serde(default, alias = "array_value", rename = "arrayValue")]
    array_value: Option<JValues<JAnyValue>>,
    #[serde(default, alias = "kvlist_value", rename = "kvlistValue")]
    kvlist_value: Option<JValues<JKeyValue>>,
    #[serde(default, alias = "bytes_value", rename = "bytesValue")]
    bytes_value: Option<String>,
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
struct JValues<T> {
    #[serde(default = "Vec::new", deserialize_with = "nd_vec")]
    values: Vec<T>,
}

fn nd_vec<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

impl JRequest {
    fn into_schema(self) -> Result<ExportLogsServiceRequest, String> {
        let mut out = ExportLogsServiceRequest { resource_logs: Vec::with_capacity(self.resource_logs.len()) };
        for rl in self.resource_logs {
            let resource = match rl.resource {
                None => None,
                Some(r) => Some(Resource {
                    attributes: key_values(r.attributes)?,
                    dropped_attributes_count: opt_u64(&r.dropped_attributes_count, "droppedAttributesCount")? as u32,
                }),
            };
            let mut scope_logs = Vec::with_capacity(rl.scope_logs.len());
            for sl in rl.scope_logs {
                let scope = match sl.scope {
                    None => None,
                    Some(s) => Some(InstrumentationScope {
                        name: s.name,
                        version: s.version,
                        attributes: key_values(s.attributes)?,
                        dropped_attributes_count: opt_u64(&s.dropped_attributes_count, "droppedAttributesCount")?
                            as u32,
                    }),
                };
                let log_records = sl.log_records.into_iter().map(log_record).collect::<Result<_, _>>()?;
                scope_logs.push(ScopeLogs { scope, log_records, schema_url: sl.schema_url });
            }
            out.resource_logs.push(ResourceLogs { resource, scope_logs, schema_url: rl.schema_url });
        }
        Ok(out)
    }
}

fn log_record(r: JLogRecord) -> Result<LogRecord, String> {
    let severity_number = match &r.severity_number {
        None => 0,
        Some(Num::S(name)) if name.starts_with("SEVERITY_NUMBER_") => {
            severity_by_name(name).ok_or_else(|| format!("severityNumber: unknown value {name:?}"))?
        }
        Some(n) => n.as_i64("severityNumber")? as i32,
    };
    Ok(LogRecord {
        time_unix_nano: opt_u64(&r.time_unix_nano, "timeUnixNano")?,
        observed_time_unix_nano: opt_u64(&r.observed_time_unix_nano, "observedTimeUnixNano")?,
        severity_number,
        severity_text: r.severity_text,
        body: r.body.map(any_value).transpose()?,
        attributes: key_values(r.attributes)?,
        dropped_attributes_count: opt_u64(&r.dropped_attributes_count, "droppedAttributesCount")? as u32,
        flags: opt_u64(&r.flags, "flags")? as u32,
        trace_id: hex_id(&r.trace_id, 16, "traceId")?,
        span_id: hex_id(&r.span_id, 8, "spanId")?,
        event_name: r.event_name,
    })
}

fn severity_by_name(name: &str) -> Option<i32> {
    const NAMES: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
    let rest = name.strip_prefix("SEVERITY_NUMBER_")?;
    if rest == "UNSPECIFIED" {
        return Some(0);
    }
    let (base, n) = match rest.char_indices().find(|(_, c)| c.is_ascii_digit()) {
        Some((i, _)) => (&rest[..i], rest[i..].parse::<i32>().ok().filter(|n| (2..=4).contains(n))?),
        None => (rest, 1),
    };
    let idx = NAMES.iter().position(|b| *b == base)? as i32;
    Some(idx * 4 + n)
}

fn hex_id(s: &str, len: usize, what: &str) -> Result<Vec<u8>, String> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let bad = || format!("{what}: invalid length for ID");
    if s.len() != len * 2 {
        return Err(bad());
    }
    let digit = |c: u8| (c as char).to_digit(16).ok_or_else(|| format!("{what}: invalid hex character"));
    s.as_bytes().chunks(2).map(|p| Ok((digit(p[0])? * 16 + digit(p[1])?) as u8)).collect()
}

fn key_values(kvs: Vec<JKeyValue>) -> Result<Vec<KeyValue>, String> {
    kvs.into_iter().map(|kv| Ok(KeyValue { key: kv.key, value: kv.value.map(any_value).transpose()? })).collect()
}

fn any_value(v: JAnyValue) -> Result<AnyValue, String> {
    let value = if let Some(s) = v.string_value {
        Some(Value::String(s))
    } else if let Some(b) = v.bool_value {
        Some(Value::Bool(b))
    } else if let Some(i) = v.int_value {
        Some(Value::Int(i.as_i64("intValue")?))
    } else if let Some(f) = v.double_value {
        Some(Value::Double(f.as_f64("doubleValue")?))
    } else if let Some(a) = v.array_value {
        Some(Value::Array(ArrayValue { values: a.values.into_iter().map(any_value).collect::<Result<_, _>>()? }))
    } else if let Some(kv) = v.kvlist_value {
        Some(Value::Kvlist(KeyValueList { values: key_values(kv.values)? }))
    } else if let Some(b) = v.bytes_value {
        Some(Value::Bytes(super::base64::decode(&b).ok_or("bytesValue: illegal base64 data")?))
    } else {
        None
    };
    Ok(AnyValue { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_style_json() {
        let body =
            br#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},
          "scopeLogs":[{"scope":{"name":"s","version":"1"},"logRecords":[{"timeUnixNano":"1700000000000000001",
          "severityNumber":"SEVERITY_NUMBER_WARN2","severityText":"WARN","body":{"stringValue":"hi"},
          "attributes":[{"key":"n","value":{"intValue":"42"}},{"key":"d","value":{"doubleValue":1.5}},
          {"key":"b","value":{"bytesValue":"aGk="}},{"key":"l","value":{"arrayValue":{"values":[{"boolValue":true}]}}}],
          "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","flags":1}]}]}],"unknown":1}"#;
        let r = decode(body).unwrap();
        let lr = &r.resource_logs[0].scope_logs[0].log_records[0];
        assert_eq!(lr.time_unix_nano, 1_700_000_000_000_000_001);
        assert_eq!(lr.severity_number, 14);
        assert_eq!(lr.trace_id.len(), 16);
        assert_eq!(lr.span_id[0], 0xee);
        assert_eq!(lr.attributes[0].value.as_ref().unwrap().value, Some(Value::Int(42)));
        assert_eq!(lr.attributes[2].value.as_ref().unwrap().value, Some(Value::Bytes(b"hi".to_vec())));
        // snake_case names and plain numbers work too.
        let r = decode(
            br#"{"resource_logs":[{"scope_logs":[{"log_records":[{"time_unix_nano":5,"severity_number":9}]}]}]}"#,
        )
        .unwrap();
        assert_eq!(r.resource_logs[0].scope_logs[0].log_records[0].time_unix_nano, 5);
        assert!(decode(br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"zz"}]}]}]}"#).is_err());
        assert!(decode(b"{").is_err());
        assert_eq!(severity_by_name("SEVERITY_NUMBER_FATAL4"), Some(24));
        assert_eq!(severity_by_name("SEVERITY_NUMBER_TRACE"), Some(1));
    }
}
