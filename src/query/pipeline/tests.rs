//! End-to-end pipeline tests against answers recorded from real Loki 3.7.6, plus Loki's own
//! unit-test expectations (`pkg/logql/log/*_test.go`).

use super::*;
use crate::logql::{
    CmpOp, LabelExtraction, LabelFilter, LabelFmt, LineFilter, LineFilterOp, LineFilterValue, MatchOp, Matcher,
    NamedMatcher,
};

const WINSTON: &str = r#"{"context":"AuthGuard","level":"debug","message":"redis GET seat:42","service":"api-server","timestamp":"2026-02-02T13:38:44.452Z","ms":"+26ms","userId":"user_id_4","path":"/api/captcha","latency_ms":30.37,"status":500,"req":{"method":"POST","headers":{"user-agent":"k6/0.50"}}}"#;
const LOGFMT: &str = "ts=2026-02-02T13:00:08.475Z level=debug msg=\"template rendered\" to=user15@example.com duration=3s bytes=20kB attempt=3";
const NGINX: &str =
    r#"10.0.1.174 - - [02/Feb/2026:13:59:55 +0000] "POST /api/captcha HTTP/1.1" 200 10075 "-" "Mozilla/5.0" 0.012"#;
const SYSLOG: &str = "Feb 02 13:58:08 backend-instance kernel: Out of memory: Killed process 4242 (node)";

fn labels(p: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(p.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect())
}

fn api_stream() -> Labels {
    labels(&[
        ("container", "api-server"),
        ("host", "backend-instance"),
        ("job", "docker"),
        ("level", "debug"),
        ("service", "api-server"),
        ("service_name", "api-server"),
    ])
}

fn md(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

fn m(name: &str, op: MatchOp, value: &str) -> Matcher {
    Matcher { name: name.into(), op, value: value.into() }
}

fn num(name: &str, op: CmpOp, value: f64) -> LabelFilter {
    LabelFilter::Number { name: name.into(), op, value }
}

fn ext(name: &str, expr: &str) -> LabelExtraction {
    LabelExtraction { name: name.into(), expr: expr.into() }
}

fn run(stages: Vec<Stage>, line: &str, stream: &Labels, meta: &[(String, String)]) -> Option<Processed> {
    LogPipeline::compile(&stages).unwrap().process(1_770_039_524_452_000_000, line.as_bytes(), stream, meta)
}

fn get<'p>(p: &'p Processed, n: &str) -> Option<&'p str> {
    p.labels.get(n)
}

#[test]
fn json_flattens_with_extracted_suffix() {
    let p = run(
        vec![Stage::Json(vec![])],
        WINSTON,
        &api_stream(),
        &md(&[("detected_level", "debug"), ("trace_id", "abc")]),
    )
    .unwrap();
    let want = labels(&[
        ("container", "api-server"),
        ("context", "AuthGuard"),
        ("detected_level", "debug"),
        ("host", "backend-instance"),
        ("job", "docker"),
        ("latency_ms", "30.37"),
        ("level", "debug"),
        ("level_extracted", "debug"),
        ("message", "redis GET seat:42"),
        ("ms", "+26ms"),
        ("path", "/api/captcha"),
        ("req_headers_user_agent", "k6/0.50"),
        ("req_method", "POST"),
        ("service", "api-server"),
        ("service_extracted", "api-server"),
        ("service_name", "api-server"),
        ("status", "500"),
        ("timestamp", "2026-02-02T13:38:44.452Z"),
        ("trace_id", "abc"),
        ("userId", "user_id_4"),
    ]);
    assert_eq!(p.labels, want);
    assert_eq!(p.line, None);
    assert_eq!(p.metadata, md(&[("detected_level", "debug"), ("trace_id", "abc")]));
    assert_eq!(p.parsed.len(), 12);
}

#[test]
fn json_expression_missing_value_conversion_error() {
    let line = r#"{"context":"AuthGuard","level":"info","message":"ok"}"#;
    let stages = vec![
        Stage::Json(vec![ext("lat", "latency_ms"), ext("uid", "userId")]),
        Stage::LabelFilter(num("lat", CmpOp::Gt, 100.0)),
    ];
    let p = run(stages, line, &api_stream(), &md(&[("detected_level", "info")])).unwrap();
    assert_eq!(get(&p, "__error__"), Some("LabelFilterErr"));
    assert_eq!(get(&p, "__error_details__"), Some("strconv.ParseFloat: parsing \"\": invalid syntax"));
    assert_eq!(get(&p, "lat"), Some(""));
    assert_eq!(get(&p, "uid"), Some(""));
    // With the value present the filter compares numerically.
    let stages = vec![
        Stage::Json(vec![ext("lat", "latency_ms"), ext("uid", "userId")]),
        Stage::LabelFilter(num("lat", CmpOp::Gt, 100.0)),
    ];
    assert!(run(stages, WINSTON, &api_stream(), &[]).is_none());
}

fn mailer() -> Labels {
    labels(&[("app", "mailer"), ("host", "queue-instance"), ("job", "worker"), ("service_name", "mailer")])
}

#[test]
fn logfmt_duration_bytes_and_keep() {
    let logfmt = || Stage::Logfmt { strict: false, keep_empty: false, extractions: vec![] };
    let p = run(
        vec![
            logfmt(),
            Stage::LabelFilter(LabelFilter::Duration { name: "duration".into(), op: CmpOp::Gt, value: 1_000_000_000 }),
        ],
        LOGFMT,
        &mailer(),
        &[],
    )
    .unwrap();
    assert_eq!(get(&p, "msg"), Some("template rendered"));
    assert_eq!(get(&p, "to"), Some("user15@example.com"));
    assert_eq!(get(&p, "attempt"), Some("3"));
    assert_eq!(p.labels.len(), 4 + 7);
    let bytes =
        |v| vec![logfmt(), Stage::LabelFilter(LabelFilter::Bytes { name: "bytes".into(), op: CmpOp::Gte, value: v })];
    assert!(run(bytes(20_000), LOGFMT, &mailer(), &[]).is_some());
    assert!(run(bytes(20_001), LOGFMT, &mailer(), &[]).is_none());
    let p = run(
        vec![
            logfmt(),
            Stage::LabelFormat(vec![LabelFmt::Rename { dst: "who".into(), src: "to".into() }]),
            Stage::Keep(vec![
                NamedMatcher { name: "who".into(), matcher: None },
                NamedMatcher { name: "level".into(), matcher: None },
            ]),
        ],
        LOGFMT,
        &mailer(),
        &[],
    )
    .unwrap();
    assert_eq!(p.labels, labels(&[("level", "debug"), ("who", "user15@example.com")]));
    assert_eq!(p.parsed, md(&[("level", "debug"), ("who", "user15@example.com")]));
}

#[test]
fn pattern_and_regexp() {
    let nginx = labels(&[("job", "nginx")]);
    let pat = r#"<ip> - - [<_>] "<method> <path> <_>" <status> <size> <_>"#;
    let st = |v: &str| {
        vec![Stage::Pattern(pat.into()), Stage::LabelFilter(LabelFilter::Matcher(m("status", MatchOp::Eq, v)))]
    };
    assert!(run(st("502"), NGINX, &nginx, &[]).is_none());
    let p = run(st("200"), NGINX, &nginx, &[]).unwrap();
    assert_eq!(
        p.labels,
        labels(&[
            ("ip", "10.0.1.174"),
            ("job", "nginx"),
            ("method", "POST"),
            ("path", "/api/captcha"),
            ("size", "10075"),
            ("status", "200")
        ])
    );
    let sys = labels(&[("job", "syslog")]);
    let re = |v: &str| {
        vec![
            Stage::Regexp(r"(?P<proc>\w+)(\[\d+\])?: ".into()),
            Stage::LabelFilter(LabelFilter::Matcher(m("proc", MatchOp::Eq, v))),
        ]
    };
    let p = run(re("kernel"), SYSLOG, &sys, &[]).unwrap();
    assert_eq!(p.labels, labels(&[("job", "syslog"), ("proc", "kernel")]));
    assert!(run(re("sshd"), SYSLOG, &sys, &[]).is_none());
}

#[test]
fn json_line_format_drop_and_or_filters() {
    let p = run(
        vec![Stage::Json(vec![]), Stage::LineFormat("{{.context}}: {{.message}}".into())],
        WINSTON,
        &api_stream(),
        &[],
    )
    .unwrap();
    assert_eq!(p.line.as_deref(), Some("AuthGuard: redis GET seat:42"));
    let names = ["ms", "timestamp", "context", "req_method", "req_headers_user_agent"];
    let drop = Stage::Drop(names.iter().map(|n| NamedMatcher { name: n.to_string(), matcher: None }).collect());
    let p = run(vec![Stage::Json(vec![]), drop], WINSTON, &api_stream(), &md(&[("detected_level", "debug")])).unwrap();
    for n in names {
        assert_eq!(get(&p, n), None);
    }
    assert_eq!(get(&p, "message"), Some("redis GET seat:42"));
    assert_eq!(p.labels.len(), 6 + 1 + 7);
    let or = |status: f64, lat: f64| {
        vec![
            Stage::Json(vec![]),
            Stage::LabelFilter(LabelFilter::Or(
                Box::new(num("status", CmpOp::Eq, status)),
                Box::new(num("latency_ms", CmpOp::Gt, lat)),
            )),
        ]
    };
    assert!(run(or(503.0, 150.0), WINSTON, &api_stream(), &[]).is_none());
    assert!(run(or(500.0, 150.0), WINSTON, &api_stream(), &[]).is_some());
    assert!(run(or(503.0, 30.0), WINSTON, &api_stream(), &[]).is_some());
}

#[test]
fn drop_error_label_like_grafana_volume_query() {
    let st = vec![Stage::Json(vec![]), Stage::Drop(vec![NamedMatcher { name: "__error__".into(), matcher: None }])];
    let p = run(st, "not json", &api_stream(), &[]).unwrap();
    // Loki's builder: nothing added or deleted and no __error__ left → the stream labels alone
    // (the orphaned details are not shown).
    assert_eq!(p.labels, api_stream());
    let st = vec![Stage::Json(vec![]), Stage::Drop(vec![NamedMatcher { name: "__error__".into(), matcher: None }])];
    let p = run(st, r#"{"a":"b"} "#, &api_stream(), &[]).unwrap();
    assert_eq!(get(&p, "a"), Some("b"));
    let p = run(vec![Stage::Json(vec![])], "not json", &api_stream(), &[]).unwrap();
    assert_eq!(get(&p, "__error__"), Some("JSONParserErr"));
    // Only the stream labels: drop __error__ on a pipeline without parsers is a no-op.
    let st = vec![Stage::Drop(vec![NamedMatcher { name: "__error__".into(), matcher: None }])];
    assert_eq!(run(st, "x", &api_stream(), &[]).unwrap().labels, api_stream());
}

#[test]
fn loki_parser_cases() {
    let none = Labels::default();
    let j = |line: &str, stream: &Labels| run(vec![Stage::Json(vec![])], line, stream, &[]).unwrap().labels;
    assert_eq!(
        j(
            r#"{"app":"bar","namespace":"prod","pod":{"uuid":"bar","deployment":{"ref":"foobar"}}}"#,
            &labels(&[("app", "foo"), ("pod_uuid", "foo")])
        ),
        labels(&[
            ("app", "foo"),
            ("app_extracted", "bar"),
            ("namespace", "prod"),
            ("pod_deployment_ref", "foobar"),
            ("pod_uuid", "foo"),
            ("pod_uuid_extracted", "bar")
        ])
    );
    assert_eq!(j(r#"{" ": {"foo":"bar"}}"#, &none), labels(&[("foo", "bar")]));
    assert_eq!(j(r#"{"counter":1, "price": {"net_":["10","20"]}}"#, &none), labels(&[("counter", "1")]));
    assert_eq!(j(r#"{"foo":{"cou-nter":1}}""#, &none), labels(&[("foo_cou_nter", "1")]));
    assert_eq!(j(r#"{"counter":1,"foo":"foo\\\"bar"}"#, &none), labels(&[("counter", "1"), ("foo", "foo\\\"bar")]));
    assert_eq!(j(r#"{"a":1,"a":2,"1x":true,"n":null}"#, &none), labels(&[("_1x", "true"), ("a", "1")]));
    // json then logfmt: the first value wins.
    let p = run(
        vec![Stage::Json(vec![]), Stage::Logfmt { strict: false, keep_empty: false, extractions: vec![] }],
        r#"{"a":"json"}"#,
        &none,
        &[],
    )
    .unwrap();
    assert_eq!(p.labels, labels(&[("a", "json")]));
    let strict = |line: &str| {
        run(vec![Stage::Logfmt { strict: true, keep_empty: false, extractions: vec![] }], line, &none, &[])
            .unwrap()
            .labels
    };
    assert_eq!(
        strict("foo=bar=buzz"),
        labels(&[
            ("__error__", "LogfmtParserErr"),
            ("__error_details__", "logfmt syntax error at pos 8 : unexpected '='")
        ])
    );
    let keep_empty =
        run(vec![Stage::Logfmt { strict: false, keep_empty: true, extractions: vec![] }], "a= b=1", &none, &[]);
    assert_eq!(keep_empty.unwrap().labels, labels(&[("a", ""), ("b", "1")]));
    let lx = run(
        vec![Stage::Logfmt {
            strict: false,
            keep_empty: false,
            extractions: vec![ext("host", "host"), ext("fwd", "forwarded")],
        }],
        "host=a forwarded=b other=c host=z",
        &none,
        &[],
    );
    assert_eq!(lx.unwrap().labels, labels(&[("fwd", "b"), ("host", "z")]));
}

#[test]
fn unpack_and_reordering() {
    let none = Labels::default();
    let p = run(vec![Stage::Unpack], r#"{"_entry":"original \"line\"","app":"x","n":1}"#, &none, &[]).unwrap();
    assert_eq!(p.line.as_deref(), Some("original \"line\""));
    assert_eq!(p.labels, labels(&[("app", "x")]));
    let p = run(vec![Stage::Unpack], r#"{"app":"x"}"#, &none, &[]).unwrap();
    assert_eq!((p.line, p.labels), (None, none.clone()));
    let p = run(vec![Stage::Unpack], "plain", &none, &[]).unwrap();
    assert_eq!(p.labels.get("__error_details__"), Some("expecting json object(6), but it is not"));
    // decolorize |= "foo" runs the filter first, on the coloured line.
    let f = |v: &str| {
        Stage::LineFilter(LineFilter { op: LineFilterOp::Contains, values: vec![LineFilterValue::Str(v.into())] })
    };
    let pl = LogPipeline::compile(&[Stage::Decolorize, f("\u{1b}[0;32mgreen")]).unwrap();
    assert!(pl.process(0, "\u{1b}[0;32mgreen\u{1b}[0m".as_bytes(), &none, &[]).is_some());
    assert_eq!(pl.required_substring().map(|f| f.needle().to_vec()), Some("\u{1b}[0;32mgreen".as_bytes().to_vec()));
    let p = pl.process(0, "\u{1b}[0;32mgreen\u{1b}[0m red".as_bytes(), &none, &[]).unwrap();
    assert_eq!(p.line.as_deref(), Some("green red"));
    let pl = LogPipeline::compile(&[Stage::LineFormat("x".into()), f("x")]).unwrap();
    assert!(pl.required_substring().is_none());
    assert!(!pl.line_filters_only());
    assert!(LogPipeline::compile(&[f("a"), f("b")]).unwrap().line_filters_only());
}

#[test]
fn label_format_and_templates() {
    let base = labels(&[("foo", "blip"), ("bar", "blop")]);
    let lf = |f: Vec<LabelFmt>| run(vec![Stage::LabelFormat(f)], "test line", &base, &[]).unwrap();
    let t = |dst: &str, tpl: &str| LabelFmt::Template { dst: dst.into(), template: tpl.into() };
    let r = |dst: &str, src: &str| LabelFmt::Rename { dst: dst.into(), src: src.into() };
    assert_eq!(lf(vec![r("bar", "foo")]).labels, labels(&[("bar", "blip")]));
    assert_eq!(
        lf(vec![t("blip", "{{.foo}} and {{.bar}}"), r("bar", "foo")]).labels,
        labels(&[("bar", "blip"), ("blip", "blip and blop")])
    );
    assert_eq!(lf(vec![t("line", "{{ __line__ | count \"test\" }}")]).labels.get("line"), Some("1"));
    let e = lf(vec![t("bar", "{{replace \"test\" .foo}}")]);
    assert_eq!(
        e.labels.get("__error_details__"),
        Some(r#"template: label:1:2: executing "label" at <replace>: wrong number of args for replace: want 3 got 2"#)
    );
    assert_eq!(e.labels.get("bar"), Some("blop"));
    let err = LogPipeline::compile(&[Stage::LineFormat("{{ nope }}".into())]).unwrap_err().to_string();
    assert_eq!(err, r#"invalid line template: template: line:1: function "nope" not defined"#);
    let err = LogPipeline::compile(&[Stage::LabelFormat(vec![r("a", "b"), r("a", "c")])]).unwrap_err().to_string();
    assert_eq!(err, "multiple label name 'a' not allowed in a single format operation");
    let lines = [
        (r#"{{.foo | count "a|b|c" }}"#, "blip", "1"),
        (r#"{{.foo | substr 1 3 }} {{ .bar | trunc 1 }} {{ .bar | trunc 3 }}"#, "", "li b blo"),
        (r#"{{ .bar | trimAll "op" }} {{ .bar | trimPrefix "b" }} {{ .bar | trimSuffix "p" }}"#, "", "bl lop blo"),
        (r#"{{ "foo" | repeat 3 }} {{ .foo | title }} {{ .foo | upper }}"#, "", "foofoofoo Blip BLIP"),
        (r#"{{ regexReplaceAll "(p)" .foo "t" }} {{ regexReplaceAllLiteral "(p)" .foo "${1}" }}"#, "", "blit bli${1}"),
        (r#"{{ if .foo | hasPrefix "bl" }}yes{{end}}-{{ if .foo | contains "z"}}no{{end}}"#, "", "yes-"),
        (r#"{{.zz | default "-" }}{{.foo | default "-"}}"#, "", "-blip"),
        (r#"{{ __timestamp__ | date "2006-01-02" }} {{ __timestamp__ | unixEpoch }}"#, "", "2026-02-02 1770039524"),
        (r#"{{ printf "%s-%s" .foo .bar }} {{ len .foo }}"#, "", "blip-blop 4"),
        (r#"{{ "3MB" | bytes }} {{ "3m10s" | duration }} {{ "Zm9vYmE" | b64dec }}"#, "", "3e+06 190 fooba"),
        (r#"{{ "2.5" | float64 | int | add 10 }} {{ div 200 100 }} {{ mod 20 3 }} {{ max 5 10 15 }}"#, "", "12 2 2 15"),
        (r#"{{ round (addf 1.5 1.5 | subf 3.5 | mulf 10.5 | divf 20.4) 5 .2 }}"#, "", "3.88572"),
        (
            r#"{{ sub (unixEpoch (toDate "2006-01-02" "2021-11-02")) (unixEpoch (toDate "2006-01-02" "2021-11-01")) }}"#,
            "",
            "86400",
        ),
        (
            r#"{{ "2023-03-10T01:32:40.340485723Z" | toDateInZone "2006-01-02T15:04:05.999999999Z" "UTC" | unixEpochNanos }}"#,
            "",
            "1678411960340485723",
        ),
        (
            r#"{{ "1679577215" | unixToTime }}|{{ alignLeft 6 .foo }}|{{ alignRight 2 .foo }}"#,
            "",
            "2023-03-23 13:13:35 +0000 UTC|blip  |ip",
        ),
        (r#"{{ urlencode "a b/c" }} {{ "x%2Fy" | urldecode }} {{ .foo | b64enc }}"#, "", "a+b%2Fc x/y YmxpcA=="),
        (r#"{{ if and (eq .foo "blip") (ne .bar "x") (lt 1 2) }}ok{{ end }}"#, "", "ok"),
        (r#"{{ ceil 5.3 }} {{ floor 5.3 }} {{ minf 5.3 10.5 }}"#, "", "6 5 5.3"),
    ];
    for (tpl, _, want) in lines {
        let p = run(vec![Stage::LineFormat(tpl.into())], "test line", &base, &[]).unwrap();
        assert_eq!(p.line.as_deref(), Some(want), "{tpl}: {:?}", p.labels.get("__error_details__"));
    }
    let p = run(vec![Stage::LineFormat("{{.foo | now}}".into())], "test line", &base, &[]).unwrap();
    assert_eq!(p.line, None);
    assert_eq!(p.labels.get("__error__"), Some("TemplateFormatErr"));
    let p = run(vec![Stage::LineFormat("{{.missing}}".into())], "test line", &base, &[]).unwrap();
    assert_eq!(p.line.as_deref(), Some(""));
}

/// Template string literals unquote like Go's `strconv.Unquote` (text/template's parser).
#[test]
fn template_literals_unquote_like_go() {
    let base = labels(&[]);
    for (tpl, want) in
        [(r#"{{ "a\tb\x41\101\u00e9" }}"#, "a\tbAAé"), (r#"{{ "\xc3\xa9" }}"#, "é"), (r#"{{ `\n` }}"#, "\\n")]
    {
        let p = run(vec![Stage::LineFormat(tpl.into())], "l", &base, &[]).unwrap();
        assert_eq!(p.line.as_deref(), Some(want), "{tpl}");
    }
    for bad in [r#"{{ "\'" }}"#, r#"{{ "\400" }}"#, r#"{{ "\ud800" }}"#, r#"{{ "\q" }}"#] {
        assert!(LogPipeline::compile(&[Stage::LineFormat(bad.into())]).is_err(), "{bad}");
    }
}

#[test]
fn ip_and_string_label_filters() {
    let none = Labels::default();
    let ip = |pat: &str, equal| {
        vec![
            Stage::Pattern("<addr> <_>".into()),
            Stage::LabelFilter(LabelFilter::Ip { name: "addr".into(), equal, pattern: pat.into() }),
        ]
    };
    assert!(run(ip("10.0.1.0/24", true), NGINX, &none, &[]).is_some());
    assert!(run(ip("10.0.2.0/24", true), NGINX, &none, &[]).is_none());
    assert!(run(ip("10.0.2.0/24", false), NGINX, &none, &[]).is_some());
    let re = |v: &str| vec![Stage::Json(vec![]), Stage::LabelFilter(LabelFilter::Matcher(m("path", MatchOp::Re, v)))];
    assert!(run(re("/api/.*"), WINSTON, &api_stream(), &[]).is_some());
    assert!(run(re("/api"), WINSTON, &api_stream(), &[]).is_none());
    // `__error__` is tested with string matchers only.
    let err_eq = vec![Stage::Json(vec![]), Stage::LabelFilter(LabelFilter::Matcher(m("__error__", MatchOp::Eq, "")))];
    assert!(run(err_eq.clone(), "oops", &none, &[]).is_none());
    assert!(run(err_eq, WINSTON, &none, &[]).is_some());
}

#[test]
fn parser_hints_drop_early_like_loki() {
    // Loki evaluates `status="x"` when json sets status (before label_format changes it).
    let st = vec![
        Stage::Json(vec![]),
        Stage::LabelFormat(vec![LabelFmt::Template { dst: "status".into(), template: "x".into() }]),
        Stage::LabelFilter(LabelFilter::Matcher(m("status", MatchOp::Eq, "x"))),
    ];
    assert!(run(st, WINSTON, &api_stream(), &[]).is_none());
}
