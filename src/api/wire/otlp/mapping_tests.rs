//! Mapping tests: Loki's label promotion, metadata order, fallbacks and `otlp_config`.

use super::*;
use crate::limits::otlp::{AttributesConfig, OtlpConfig};

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

fn request(resource: Vec<KeyValue>, records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource { attributes: resource, dropped_attributes_count: 0 }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "my.scope".into(),
                    version: "1.2".into(),
                    attributes: vec![KeyValue::new("scope.attr", s("x"))],
                    dropped_attributes_count: 0,
                }),
                log_records: records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn discover() -> Vec<String> {
    crate::limits::Limits::default().discover_service_name
}

#[test]
fn default_mapping() {
    let rec = LogRecord {
        time_unix_nano: 10,
        observed_time_unix_nano: 20,
        severity_number: 17,
        severity_text: "ERROR".into(),
        body: Some(AnyValue::string("boom")),
        attributes: vec![
            KeyValue::new("http.method", s("GET")),
            KeyValue::new("nested", Value::Kvlist(KeyValueList { values: vec![KeyValue::new("a.b", Value::Int(3))] })),
        ],
        flags: 1,
        trace_id: vec![0xab; 16],
        span_id: vec![0x01; 8],
        ..Default::default()
    };
    let req = request(
        vec![
            KeyValue::new("service.name", s("checkout")),
            KeyValue::new("k8s.pod.name", s("pod-1")),
            KeyValue::new("host.name", s("h1")),
            KeyValue::new("deployment.environment.name", s("")),
        ],
        vec![rec],
    );
    let streams = to_push_streams(req, &OtlpConfig::default(), &discover(), 99).unwrap();
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0].labels.to_string(), r#"{k8s_pod_name="pod-1", service_name="checkout"}"#);
    let e = &streams[0].entries[0];
    assert_eq!((e.ts, e.line.as_str()), (10, "boom"));
    let md: Vec<(&str, &str)> = e.metadata.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    assert_eq!(
        md,
        [
            ("http_method", "GET"),
            ("nested_a_b", "3"),
            ("observed_timestamp", "20"),
            ("severity_number", "17"),
            ("severity_text", "ERROR"),
            ("flags", "1"),
            ("trace_id", "abababababababababababababababab"),
            ("span_id", "0101010101010101"),
            ("host_name", "h1"),
            ("scope_attr", "x"),
            ("scope_name", "my.scope"),
            ("scope_version", "1.2"),
        ]
    );
}

#[test]
fn fallbacks_service_name_and_timestamps() {
    let recs = vec![
        LogRecord {
            observed_time_unix_nano: 20,
            body: Some(AnyValue { value: Some(Value::Int(7)) }),
            ..Default::default()
        },
        LogRecord { ..Default::default() },
    ];
    let streams = to_push_streams(request(vec![], recs.clone()), &OtlpConfig::default(), &discover(), 99).unwrap();
    assert_eq!(streams[0].labels.to_string(), r#"{service_name="unknown_service"}"#);
    assert_eq!((streams[0].entries[0].ts, streams[0].entries[0].line.as_str()), (20, "7"));
    assert_eq!((streams[0].entries[1].ts, streams[0].entries[1].line.as_str()), (99, ""));
    // No observed_timestamp when it became the timestamp.
    assert!(!streams[0].entries[0].metadata.iter().any(|(n, _)| n == "observed_timestamp"));

    // service_name from a promoted attribute on the discovery list.
    let cfg = OtlpConfig::with_defaults(
        false,
        vec![AttributesConfig { action: OtlpAction::IndexLabel, attributes: vec!["app".into()], regex: None }],
        vec![],
        vec![],
        false,
    );
    let streams =
        to_push_streams(request(vec![KeyValue::new("app", s("web"))], recs.clone()), &cfg, &discover(), 0).unwrap();
    assert_eq!(streams[0].labels.to_string(), r#"{app="web", service_name="web"}"#);
    // Discovery off: no service_name at all.
    let streams = to_push_streams(request(vec![KeyValue::new("app", s("web"))], recs), &cfg, &[], 0).unwrap();
    assert_eq!(streams[0].labels.to_string(), r#"{app="web"}"#);
}

#[test]
fn log_attribute_index_label_and_drop() {
    let cfg = OtlpConfig::with_defaults(
        false,
        vec![],
        vec![AttributesConfig { action: OtlpAction::Drop, attributes: vec!["scope.attr".into()], regex: None }],
        vec![
            AttributesConfig { action: OtlpAction::IndexLabel, attributes: vec!["tenant.tier".into()], regex: None },
            AttributesConfig { action: OtlpAction::Drop, attributes: vec!["secret".into()], regex: None },
        ],
        true,
    );
    let recs = vec![
        LogRecord {
            time_unix_nano: 1,
            severity_text: "INFO".into(),
            attributes: vec![KeyValue::new("tenant.tier", s("gold")), KeyValue::new("secret", s("x"))],
            ..Default::default()
        },
        LogRecord { time_unix_nano: 2, ..Default::default() },
    ];
    let streams =
        to_push_streams(request(vec![KeyValue::new("service.name", s("a"))], recs), &cfg, &discover(), 0).unwrap();
    let mut names: Vec<String> = streams.iter().map(|s| s.labels.to_string()).collect();
    names.sort();
    assert_eq!(names, [r#"{service_name="a", severity_text="INFO", tenant_tier="gold"}"#, r#"{service_name="a"}"#]);
    for s in &streams {
        for e in &s.entries {
            assert!(!e.metadata.iter().any(|(n, _)| n == "secret" || n == "scope_attr"), "{:?}", e.metadata);
        }
    }
}

#[test]
fn label_names_and_values_like_loki() {
    assert_eq!(label_name("service.name").unwrap(), "service_name");
    assert_eq!(label_name("a..b//c").unwrap(), "a_b_c");
    assert_eq!(label_name("1abc").unwrap(), "key_1abc");
    assert_eq!(label_name("__meta.x__").unwrap(), "__meta_x__");
    assert!(label_name("").is_err());
    assert!(label_name("...").unwrap_err().contains("resulted in invalid name"));

    let kv = |v| AnyValue { value: Some(v) };
    assert_eq!(as_string(&kv(Value::Double(1.5))), "1.5");
    assert_eq!(as_string(&kv(Value::Double(1e21))), "1e+21");
    assert_eq!(as_string(&kv(Value::Double(1e-7))), "1e-7");
    assert_eq!(as_string(&kv(Value::Double(100.0))), "100");
    assert_eq!(as_string(&kv(Value::Bool(true))), "true");
    assert_eq!(as_string(&kv(Value::Bytes(b"hi".to_vec()))), "aGk=");
    let map = Value::Kvlist(KeyValueList {
        values: vec![
            KeyValue::new(
                "z",
                Value::Array(ArrayValue { values: vec![kv(Value::Int(1)), AnyValue::string("<a&b>\n")] }),
            ),
            KeyValue::new("a", Value::Bool(false)),
        ],
    });
    assert_eq!(as_string(&kv(map)), r#"{"a":false,"z":[1,"<a&b>\n"]}"#);
    // A bad attribute name fails the request.
    let req = request(vec![KeyValue::new("...", s("x"))], vec![LogRecord::default()]);
    assert!(to_push_streams(req, &OtlpConfig::default(), &[], 0)
        .unwrap_err()
        .starts_with("symbolizer lookup: normalization"));
}
