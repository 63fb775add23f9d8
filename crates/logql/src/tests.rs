//! Table-driven tests of the LogQL front end: representative queries, Loki's error texts and
//! positions, precedence quirks, printing round trips, selectors, and a no-panic property test.

use super::*;

fn ok(q: &str) -> Expr {
    parse_expr(q).unwrap_or_else(|e| panic!("{q:?} should parse: {e}"))
}

fn err(q: &str) -> String {
    match parse_expr(q) {
        Ok(e) => panic!("{q:?} should fail, got {e:?}"),
        Err(e) => e.to_string(),
    }
}

/// `expected` is either the printed form (`=> text`) or the full error text.
fn check(q: &str, expected: &str) {
    let got = match parse_expr(q) {
        Ok(e) => format!("=> {e}"),
        Err(e) => e.to_string(),
    };
    assert_eq!(got, expected, "query: {q:?}");
}

fn m(name: &str, op: MatchOp, value: &str) -> Matcher {
    Matcher { name: name.into(), op, value: value.into() }
}

fn lf_m(name: &str, value: &str) -> LabelFilter {
    LabelFilter::Matcher(m(name, MatchOp::Eq, value))
}

fn and(l: LabelFilter, r: LabelFilter) -> LabelFilter {
    LabelFilter::And(Box::new(l), Box::new(r))
}

fn or(l: LabelFilter, r: LabelFilter) -> LabelFilter {
    LabelFilter::Or(Box::new(l), Box::new(r))
}

fn log(q: &str) -> LogExpr {
    match ok(q) {
        Expr::Log(l) => l,
        other => panic!("{q:?} is not a log query: {other:?}"),
    }
}

fn metric(q: &str) -> MetricExpr {
    match ok(q) {
        Expr::Metric(m) => m,
        other => panic!("{q:?} is not a metric query: {other:?}"),
    }
}

/// logql.md §8: the representative queries and whether they are log (`L`) or metric (`M`).
#[rustfmt::skip]
const SPEC_QUERIES: &[(&str, char)] = &[
    (r#"{app="foo"}"#, 'L'),
    (r#"{app="foo", env!="dev"}"#, 'L'),
    (r#"{app=~"foo|bar"} |= "error""#, 'L'),
    (r#"{app="foo"} != "timeout" |~ "(?i)err""#, 'L'),
    (r#"{app="foo"} |= "a" or "b""#, 'L'),
    (r#"{app="foo"} != "a" or "b""#, 'L'),
    (r#"{app="foo"} |> "<_> level=error <_>""#, 'L'),
    (r#"{app="foo"} |= ip("10.0.0.0/8")"#, 'L'),
    (r#"{app="foo"} | json"#, 'L'),
    (r#"{app="foo"} | json status="response.status", ua="request.headers[\"User-Agent\"]""#, 'L'),
    (r#"{app="foo"} | logfmt | level="error""#, 'L'),
    (r#"{app="foo"} | logfmt --strict --keep-empty"#, 'L'),
    (r#"{app="foo"} | logfmt host, ip="remote_addr""#, 'L'),
    (r#"{app="foo"} | regexp "(?P<method>\\w+) (?P<path>\\S+)""#, 'L'),
    (r#"{app="foo"} | pattern "<ip> - - <_> \"<method> <uri> <_>\" <status>""#, 'L'),
    (r#"{app="foo"} | unpack"#, 'L'),
    (r#"{app="foo"} | json | duration > 10s and status >= 500"#, 'L'),
    (r#"{app="foo"} | logfmt | size > 20KB or method!~"GET|HEAD""#, 'L'),
    (r#"{app="foo"} | json | __error__ = """#, 'L'),
    (r#"{app="foo"} | json | __error__ != """#, 'L'),
    (r#"{app="foo"} | logfmt | addr = ip("192.168.0.0/16")"#, 'L'),
    (r#"{app="foo"} | line_format "{{.level}} {{__line__ | trunc 20}}""#, 'L'),
    (r#"{app="foo"} | logfmt | label_format lvl=level, msg="{{ .msg | upper }}""#, 'L'),
    (r#"{app="foo"} | json | drop level, method="GET""#, 'L'),
    (r#"{app="foo"} | json | keep level, host"#, 'L'),
    (r#"{app="foo"} | decolorize"#, 'L'),
    (r#"count_over_time({app="foo"}[5m])"#, 'M'),
    (r#"rate({app="foo"} |= "error" [1m])"#, 'M'),
    (r#"bytes_over_time({app="foo"}[1h])"#, 'M'),
    (r#"bytes_rate({app="foo"}[5m])"#, 'M'),
    (r#"count_over_time({app="foo"}[5m] offset 1h)"#, 'M'),
    (r#"count_over_time({app="foo"}[5m]) > 10"#, 'M'),
    (r#"count_over_time({app="foo"}[5m]) > bool 10"#, 'M'),
    (r#"sum(rate({app="foo"}[1m]))"#, 'M'),
    (r#"sum by (level) (count_over_time({app="foo"} | logfmt [5m]))"#, 'M'),
    (r#"sum without (pod) (rate({app="foo"}[1m]))"#, 'M'),
    (r#"avg(rate({app="foo"}[1m])) by (env)"#, 'M'),
    (r#"count(rate({app=~".+"}[1m]))"#, 'M'),
    (r#"max by (host) (rate({app="foo"}[1m]))"#, 'M'),
    (r#"topk(5, sum by (path) (rate({app="foo"} | json [5m])))"#, 'M'),
    (r#"bottomk(3, count_over_time({app="foo"}[1h]))"#, 'M'),
    (r#"sort_desc(sum by (app) (rate({env="prod"}[5m])))"#, 'M'),
    (r#"stddev by (app) (rate({env="prod"}[5m]))"#, 'M'),
    (r#"sum_over_time({app="foo"} | logfmt | unwrap bytes [5m])"#, 'M'),
    (r#"avg_over_time({app="foo"} | json | unwrap duration(latency) [5m]) by (host)"#, 'M'),
    (r#"quantile_over_time(0.99, {app="foo"} | json | unwrap latency | __error__="" [5m]) by (route)"#, 'M'),
    (r#"max_over_time({app="foo"} | logfmt | unwrap bytes(size) [1m])"#, 'M'),
    (r#"first_over_time({app="foo"} | logfmt | unwrap v [1m]) by (host)"#, 'M'),
    (r#"rate({app="foo"} | logfmt | unwrap bytes [1m])"#, 'M'),
    (r#"rate_counter({app="foo"} | logfmt | unwrap counter [5m])"#, 'M'),
    (r#"absent_over_time({app="foo", env="prod"}[5m])"#, 'M'),
    (r#"sum(rate({app="foo"}[1m])) / sum(rate({app="bar"}[1m]))"#, 'M'),
    (r#"sum by (app) (rate({a="b"}[1m])) / on () group_left sum(rate({a="b"}[1m]))"#, 'M'),
    (r#"rate({app=~"foo|bar"}[1m]) and rate({app="bar"}[1m])"#, 'M'),
    (r#"rate({app="foo"}[1m]) unless rate({app="foo"} |= "x" [1m])"#, 'M'),
    (r#"sum(count_over_time({app="foo"}[5m])) or vector(0)"#, 'M'),
    (r#"label_replace(rate({app="foo"}[1m]), "svc", "$1", "app", "(.*)")"#, 'M'),
    ("vector(1)", 'M'),
    ("1", 'M'),
    ("2 * 3 + 1", 'M'),
    (r#"sum(rate({app="foo"}[1m])) * 60"#, 'M'),
    (r#"-1 * sum(rate({app="foo"}[1m]))"#, 'M'),
    (r#"count_over_time({app="foo"} | json [5m])"#, 'M'),
    (r#"sum(count_over_time({app="foo"} | json [5m]))"#, 'M'),
];

const MATCHER_REQUIRED: &str = "parse error : queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but app=~\".+\" will";

#[test]
fn spec_representative_queries() {
    for (q, kind) in SPEC_QUERIES {
        match (ok(q), kind) {
            (Expr::Log(_), 'L') | (Expr::Metric(_), 'M') => {}
            (e, _) => panic!("{q:?}: wrong kind {e:?}"),
        }
    }
    // #65
    assert_eq!(err("{}"), MATCHER_REQUIRED);
    assert_eq!(err(r#"{app=""}"#), MATCHER_REQUIRED);
}

#[test]
fn spec_query_shapes() {
    assert_eq!(metric("2 * 3 + 1"), MetricExpr::Literal(7.0));
    assert_eq!(metric("1 > 1 > 1"), MetricExpr::Literal(0.0));
    assert_eq!(metric("-1"), MetricExpr::Literal(-1.0));
    assert!(matches!(metric("1/0"), MetricExpr::Literal(v) if v.is_nan()));
    assert!(matches!(metric("5 % 0"), MetricExpr::Literal(v) if v.is_nan()));
    assert_eq!(metric("vector(1)"), MetricExpr::Vector(1.0));
    let l = log(r#"{app="foo"} != "a" or "b""#);
    assert_eq!(l.stages.len(), 2, "negative or-chains split like Loki: {l:?}");
    let l = log(r#"{app="foo"} |= "a" or ip("1.2.3.4") or "b""#);
    assert_eq!(
        l.stages,
        vec![Stage::LineFilter(LineFilter {
            op: LineFilterOp::Contains,
            values: vec![
                LineFilterValue::Str("a".into()),
                LineFilterValue::Ip("1.2.3.4".into()),
                LineFilterValue::Str("b".into())
            ]
        })]
    );
    let l = log(r#"{app="foo"} | logfmt --strict host, ip="remote_addr""#);
    assert_eq!(
        l.stages,
        vec![Stage::Logfmt {
            strict: true,
            keep_empty: false,
            extractions: vec![
                LabelExtraction { name: "host".into(), expr: "host".into() },
                LabelExtraction { name: "ip".into(), expr: "remote_addr".into() },
            ]
        }]
    );
    let l = log(r#"{a="b"} | json | drop level, method="GET" | label_format x=y, z="{{.q}}""#);
    assert_eq!(
        l.stages[1],
        Stage::Drop(vec![
            NamedMatcher { name: "level".into(), matcher: None },
            NamedMatcher { name: "method".into(), matcher: Some(m("method", MatchOp::Eq, "GET")) },
        ])
    );
    assert_eq!(
        l.stages[2],
        Stage::LabelFormat(vec![
            LabelFmt::Rename { dst: "x".into(), src: "y".into() },
            LabelFmt::Template { dst: "z".into(), template: "{{.q}}".into() },
        ])
    );
    let MetricExpr::RangeAgg { op, param, range, grouping } = metric(
        r#"quantile_over_time(0.99, {app="foo"} | json | unwrap duration(latency) | __error__="" [5m] offset -1h) by (route)"#,
    ) else {
        panic!("range agg expected")
    };
    assert_eq!((op, param), (RangeOp::QuantileOverTime, Some(0.99)));
    assert_eq!(grouping, Some(Grouping::By(vec!["route".into()])));
    assert_eq!(range.range, 300_000_000_000);
    assert_eq!(range.offset, -3_600_000_000_000);
    assert_eq!(
        range.unwrap,
        Some(Unwrap {
            label: "latency".into(),
            conv: Some(UnwrapConv::Duration),
            post_filters: vec![lf_m("__error__", "")]
        })
    );
    assert_eq!(range.log.stages, vec![Stage::Json(vec![])]);
    let MetricExpr::VectorAgg { op, param, grouping, .. } = metric(r#"topk by (a) (5, rate({x="y"}[1m]))"#) else {
        panic!("vector agg expected")
    };
    assert_eq!((op, param, grouping), (VectorOp::Topk, Some(5.0), Some(Grouping::By(vec!["a".into()]))));
    let MetricExpr::BinOp { op, modifier, .. } =
        metric(r#"sum(rate({a="b"}[1m])) > bool ignoring (x, y) group_right (z) sum(rate({a="b"}[1m]))"#)
    else {
        panic!("binop expected")
    };
    assert_eq!(op, BinOp::Gt);
    assert_eq!(
        modifier,
        BinOpModifier {
            return_bool: true,
            matching: Some(VectorMatching { on: false, labels: vec!["x".into(), "y".into()] }),
            group: Some(GroupModifier { left: false, labels: vec!["z".into()] }),
        }
    );
}

#[test]
fn log_range_shapes() {
    let same = [
        r#"rate({a="b"} | json | unwrap x [1m])"#,
        r#"rate({a="b"}[1m] | json | unwrap x)"#,
        r#"rate(({a="b"} | json | unwrap x)[1m])"#,
        r#"rate((({a="b"} | json | unwrap x[1m])))"#,
    ];
    let first = ok(same[0]);
    for q in &same[1..] {
        assert_eq!(ok(q), first, "{q}");
    }
    assert_eq!(ok(r#"rate(({a="b"})[1m] | unwrap x)"#), ok(r#"rate({a="b"} | unwrap x [1m])"#));
    assert_eq!(ok(r#"rate({a="b"}[1m] offset 5m | json)"#), ok(r#"rate({a="b"} | json [1m] offset 5m)"#));
}

#[test]
fn keywords_and_function_tokens() {
    // Function names are identifiers unless followed by `(` (or by/without then `(`).
    let l = log(r#"{rate="x"} | bytes > 10KB | count="y""#);
    assert_eq!(l.matchers[0].name, "rate");
    assert_eq!(
        l.stages[0],
        Stage::LabelFilter(LabelFilter::Bytes { name: "bytes".into(), op: CmpOp::Gt, value: 10_000 })
    );
    assert!(matches!(ok(r#"SUM BY (a) (RATE({x="y"}[1m]))"#), Expr::Metric(MetricExpr::VectorAgg { .. })));
    check(
        r#"{a="b"} | json | line_format"#,
        "parse error at line 1, col 29: syntax error: unexpected $end, expecting STRING",
    );
    check(r#"{json="b"}"#, "parse error at line 1, col 2: syntax error: unexpected json, expecting IDENTIFIER or }");
    check("{a=\"b\"} # comment\n |= \"x\" // more\n", "=> {a=\"b\"} |= \"x\"");
}

/// logql.md §4.5.
#[test]
fn label_filter_precedence() {
    let (a, b, c, d) = (lf_m("a", "1"), lf_m("b", "2"), lf_m("c", "3"), lf_m("d", "4"));
    let table: Vec<(&str, LabelFilter)> = vec![
        (r#"a="1" or b="2" and c="3""#, or(a.clone(), and(b.clone(), c.clone()))),
        (r#"a="1" and b="2" or c="3""#, or(and(a.clone(), b.clone()), c.clone())),
        (r#"a="1" or b="2", c="3""#, or(a.clone(), and(b.clone(), c.clone()))),
        (r#"a="1", b="2" or c="3""#, and(a.clone(), or(b.clone(), c.clone()))),
        (r#"a="1" and b="2", c="3""#, and(a.clone(), and(b.clone(), c.clone()))),
        (r#"a="1" b="2" or c="3""#, and(a.clone(), or(b.clone(), c.clone()))),
        (r#"a="1" or b="2" or c="3""#, or(or(a.clone(), b.clone()), c.clone())),
        (r#"a="1" and b="2" and c="3""#, and(and(a.clone(), b.clone()), c.clone())),
        (r#"(a="1" or b="2") and c="3""#, and(or(a.clone(), b.clone()), c.clone())),
        (r#"a="1" or b="2" and c="3" or d="4""#, or(or(a.clone(), and(b.clone(), c.clone())), d.clone())),
        (r#"a="1" b="2", c="3" or d="4""#, and(a.clone(), and(b.clone(), or(c.clone(), d.clone())))),
    ];
    for (q, want) in table {
        let l = log(&format!("{{x=\"y\"}} | {q}"));
        assert_eq!(l.stages, vec![Stage::LabelFilter(want)], "{q}");
    }
    let l = log(r#"{x="y"} | a="1" or b="2" | c="3""#);
    assert_eq!(l.stages.len(), 2);
    let l = log(r#"{x="y"} | n > -1.5, d <= 250ms, s == 20KiB, i != ip("::1")"#);
    assert_eq!(
        l.stages,
        vec![Stage::LabelFilter(and(
            LabelFilter::Number { name: "n".into(), op: CmpOp::Gt, value: -1.5 },
            and(
                LabelFilter::Duration { name: "d".into(), op: CmpOp::Lte, value: 250_000_000 },
                and(
                    LabelFilter::Bytes { name: "s".into(), op: CmpOp::Eq, value: 20 * 1024 },
                    LabelFilter::Ip { name: "i".into(), equal: false, pattern: "::1".into() }
                )
            )
        ))]
    );
}

#[test]
fn binop_precedence() {
    let q = |s: &str| format!("{}", ok(s));
    let x = r#"rate({a="b"}[1m])"#;
    assert_eq!(q(&format!("{x} + {x} * {x}")), format!("({x} + ({x} * {x}))"));
    assert_eq!(q(&format!("{x} * {x} + {x}")), format!("(({x} * {x}) + {x})"));
    assert_eq!(q(&format!("{x} ^ {x} ^ {x}")), format!("({x} ^ ({x} ^ {x}))"));
    assert_eq!(q(&format!("{x} - {x} - {x}")), format!("(({x} - {x}) - {x})"));
    assert_eq!(q(&format!("{x} or {x} and {x} > {x}")), format!("({x} or ({x} and ({x} > {x})))"));
    assert_eq!(q(&format!("{x} unless {x} or {x}")), format!("(({x} unless {x}) or {x})"));
    assert_eq!(q(&format!("2 * {x} + 3 * 4")), format!("((2 * {x}) + 12)"));
    assert_eq!(q("2 ^ 3 ^ 2"), "512");
    assert_eq!(q("-2 ^ 2"), "4");
    assert_eq!(q("10 % 3 == 1"), "1");
}

/// The two answers recorded from Loki 3.7.6, plus goyacc-style syntax errors and positions
/// (checked against Loki's generated parser).
#[test]
fn syntax_errors() {
    let cases = [
        (r#"{job="docker""#, "parse error at line 1, col 14: syntax error: unexpected $end, expecting } or ,"),
        (r#"count_over_time({job="docker"})"#, "parse error at line 1, col 31: syntax error: unexpected )"),
        ("", "parse error : syntax error: unexpected $end"),
        ("x", "parse error at line 1, col 1: syntax error: unexpected IDENTIFIER"),
        ("{1}", "parse error at line 1, col 2: syntax error: unexpected NUMBER, expecting IDENTIFIER or }"),
        ("{a 1}", "parse error at line 1, col 4: syntax error: unexpected NUMBER, expecting = or =~ or !~ or !="),
        ("{a=1}", "parse error at line 1, col 4: syntax error: unexpected NUMBER, expecting STRING"),
        ("{a='b'}", "parse error at line 1, col 4: syntax error: unexpected IDENTIFIER, expecting STRING"),
        (r#"{a="b",}"#, "parse error at line 1, col 8: syntax error: unexpected }, expecting IDENTIFIER"),
        (r#"{a="b"} |= 1"#, "parse error at line 1, col 12: syntax error: unexpected NUMBER, expecting STRING or ip"),
        (r#"{a="b"} |= "x" or rate({a="b"}[1m])"#, "parse error at line 1, col 19: syntax error: unexpected RATE, expecting STRING or ip"),
        (r#"{a="b"} | foo"#, "parse error at line 1, col 14: syntax error: unexpected $end"),
        (r#"{a="b"} | x > 1 and 2"#, "parse error at line 1, col 21: syntax error: unexpected NUMBER, expecting IDENTIFIER or ("),
        (r#"{a="b"} | json a=b"#, "parse error at line 1, col 18: syntax error: unexpected IDENTIFIER, expecting STRING"),
        (r#"{a="b"} | json --strict"#, "parse error at line 0, col 16: syntax error: unexpected FUNCTION_FLAG"),
        (r#"{a="b"} | label_format a"#, "parse error at line 1, col 25: syntax error: unexpected $end, expecting ="),
        (r#"{a="b"} | label_format a=b,"#, "parse error at line 1, col 28: syntax error: unexpected $end, expecting IDENTIFIER"),
        (r#"{a="b"}[5m]"#, "parse error at line 0, col 8: syntax error: unexpected RANGE"),
        (r#"{a="b"} != 1"#, "parse error at line 1, col 12: syntax error: unexpected NUMBER, expecting STRING or ip"),
        (r#"count_over_time()"#, "parse error at line 1, col 17: syntax error: unexpected ), expecting NUMBER or { or ("),
        (r#"count_over_time({a="b"}[5m] x)"#, "parse error at line 1, col 29: syntax error: unexpected IDENTIFIER, expecting )"),
        (r#"count_over_time({a="b"} | unwrap x)"#, "parse error at line 1, col 35: syntax error: unexpected ), expecting RANGE or |"),
        (r#"count_over_time(({a="b"} | unwrap x 5))"#, "parse error at line 1, col 37: syntax error: unexpected NUMBER, expecting RANGE or ) or |"),
        (r#"count_over_time(({a="b"} | unwrap x))"#, "parse error at line 1, col 37: syntax error: unexpected ), expecting RANGE"),
        (r#"count_over_time(({a="b"})[1m] | json)"#, "parse error at line 1, col 33: syntax error: unexpected json, expecting unwrap"),
        (r#"rate({a="b"} | unwrap)"#, "parse error at line 1, col 22: syntax error: unexpected ), expecting IDENTIFIER or BYTES_CONV or DURATION_CONV or DURATION_SECONDS_CONV"),
        (r#"rate({a="b"}[1m] offset)"#, "parse error at line 1, col 24: syntax error: unexpected ), expecting DURATION"),
        (r#"sum({a="b"})"#, "parse error at line 1, col 12: syntax error: unexpected )"),
        (r#"sum by (a b) (x)"#, "parse error at line 1, col 11: syntax error: unexpected IDENTIFIER, expecting , or )"),
        ("vector(-1)", "parse error at line 1, col 8: syntax error: unexpected -, expecting NUMBER"),
        ("-sum(x)", "parse error at line 1, col 2: syntax error: unexpected SUM, expecting NUMBER"),
        ("1 -0", "parse error at line 0, col 3: syntax error: unexpected DURATION"),
        (r#"rate({a="b"}[1m]) / on() group_left (sum(x))"#, "parse error at line 1, col 38: syntax error: unexpected SUM, expecting IDENTIFIER or )"),
        (r#"label_replace(vector(1), "a", "b", "c")"#, "parse error at line 1, col 39: syntax error: unexpected ), expecting ,"),
        ("(1", "parse error at line 1, col 3: syntax error: unexpected $end"),
        ("{a=\"b\"}\n |= \"x\" |", "parse error at line 2, col 10: syntax error: unexpected $end"),
    ];
    for (q, want) in cases {
        assert_eq!(err(q), want, "query: {q:?}");
    }
}

#[test]
fn lexical_errors() {
    let cases = [
        (r#"{a="b"#, "parse error at line 1, col 4: literal not terminated"),
        (r#"{a="\q"}"#, "parse error at line 1, col 4: invalid char escape"),
        (r#"{a="b"} |= "\400""#, "parse error at line 1, col 12: invalid syntax"),
        (
            r#"rate({a="b"}[5minutes])"#,
            r#"parse error at line 0, col 13: unknown unit "minutes" in duration "5minutes""#,
        ),
        (r#"rate({a="b"}[1.5m])"#, r#"parse error at line 0, col 13: unknown unit "." in duration "1.5m""#),
        (r#"rate({a="b"}[])"#, "parse error at line 0, col 13: empty duration string"),
        (r#"rate({a="b"}[5m"#, "parse error at line 0, col 13: missing closing ']' in duration"),
        (r#"{a="b"} | x > 08"#, "parse error at line 1, col 15: invalid digit '8' in octal literal"),
        (r#"{a="b"} | x > 1e"#, "parse error at line 1, col 15: exponent has no digits"),
        ("{a=\"b\"} /* x", "parse error at line 1, col 9: comment not terminated"),
        ("{a=\"\0\"}", "parse error at line 1, col 4: invalid character NUL"),
    ];
    for (q, want) in cases {
        assert_eq!(err(q), want, "query: {q:?}");
    }
}

/// Every validation message of logql.md §3, §6 and §9.2.
#[test]
fn semantic_errors() {
    let p = "parse error : ";
    let cases: Vec<(&str, String)> = vec![
        (r#"{a=~".*"}"#, MATCHER_REQUIRED.into()),
        (r#"{a!="x"}"#, MATCHER_REQUIRED.into()),
        (r#"{a!~"x"} |= "y""#, MATCHER_REQUIRED.into()),
        (r#"rate({a=""}[1m])"#, MATCHER_REQUIRED.into()),
        (r#"sum_over_time({a="b"}[5m])"#, format!("{p}invalid aggregation sum_over_time without unwrap")),
        (r#"count_over_time({a="b"} | unwrap x [5m])"#, format!("{p}invalid aggregation count_over_time with unwrap")),
        (r#"rate({a="b"}[5m]) by (x)"#, format!("{p}grouping not allowed for rate aggregation")),
        (r#"quantile_over_time({a="b"} | unwrap x [5m])"#, format!("{p}parameter required for operation quantile_over_time")),
        (r#"rate(0.5, {a="b"}[5m])"#, format!("{p}parameter 0.5 not supported for operation rate")),
        (r#"quantile_over_time(0x1, {a="b"} | unwrap x [5m])"#, format!(r#"{p}invalid parameter for operation quantile_over_time: strconv.ParseFloat: parsing "0x1": invalid syntax"#)),
        (r#"topk(rate({a="b"}[5m]))"#, format!("{p}parameter required for operation topk")),
        (r#"topk(1.5, rate({a="b"}[5m]))"#, format!("{p}invalid parameter topk(1.5,")),
        (r#"topk(0, rate({a="b"}[5m]))"#, format!("{p}invalid parameter (must be greater than 0) topk(0")),
        (r#"sum(2, rate({a="b"}[5m]))"#, format!("{p}unsupported parameter for operation sum(2,")),
        (r#"sort by (x) (rate({a="b"}[5m]))"#, format!("{p}sort and sort_desc doesn't allow grouping by ")),
        (r#"approx_topk(2, rate({a="b"}[5m])) by ()"#, format!("{p}grouping not allowed for approx_topk aggregation")),
        (r#"{a="b"} + 1"#, format!("{p}unexpected type for left leg of binary operation (+): *syntax.MatchersExpr")),
        (r#"1 - {a="b"} |= "x""#, format!("{p}unexpected type for right leg of binary operation (-): *syntax.PipelineExpr")),
        (r#"rate({a="b"}[1m]) or 1"#, format!("{p}unexpected literal for right leg of logical/set binary operation (or): 1.000000")),
        (r#"1 unless rate({a="b"}[1m])"#, format!("{p}unexpected literal for left leg of logical/set binary operation (unless): 1.000000")),
        ("0x10 + 1", format!(r#"{p}unable to parse literal as a float: strconv.ParseFloat: parsing "0x10": invalid syntax"#)),
        ("vector(0x10)", format!(r#"{p}unable to parse vectorExpr as a float: strconv.ParseFloat: parsing "0x10": invalid syntax"#)),
        (r#"label_replace(vector(1), "a", "b", "c", "\\q")"#, format!("{p}invalid regex in label_replace: error parsing regexp: invalid escape sequence: `\\q`")),
        (r#"{a=~"("}"#, format!("{p}error parsing regexp: missing closing ): `(`")),
        (r#"{a="b"} | x=~"[a""#, format!("{p}error parsing regexp: missing closing ]: `[a`")),
        (r#"{a="b"} | regexp "foo""#, format!("{p}invalid regexp parser: at least one named capture must be supplied")),
        (r#"{a="b"} | regexp "(foo)""#, format!("{p}invalid regexp parser: at least one named capture must be supplied")),
        (r#"{a="b"} | regexp "(?P<x>a)(?P<x>b)""#, format!("{p}invalid regexp parser: duplicate extracted label name 'x'")),
        (r#"{a="b"} | regexp "(?P<x>""#, format!("{p}invalid regexp parser: error parsing regexp: missing closing ): `(?P<x>`")),
        (r#"{a="b"} | pattern "foo""#, format!("{p}invalid pattern parser: at least one capture is required")),
        (r#"{a="b"} | pattern "<a><b>""#, format!("{p}invalid pattern parser: found consecutive capture '<a><b>': invalid expression")),
        (r#"{a="b"} | pattern "<a> <a>""#, format!("{p}invalid pattern parser: duplicate capture name (a): invalid expression")),
        (r#"{a="b"} | pattern """#, format!("{p}invalid pattern parser: parse error at line 1, col 1: syntax error: unexpected $end, expecting IDENTIFIER or LITERAL")),
        (r#"{a="b"} | x > 0x1"#, format!(r#"{p}unable to parse literal as a float: strconv.ParseFloat: parsing "0x1": invalid syntax"#)),
        (r#"{a="b"} |~ "(" |= "x""#, format!("{p}stage '|~ \"(\" |= \"x\"' : error parsing regexp: missing closing ): `(`")),
        (r#"{a="b"} |> "<x>""#, format!("{p}stage '|> \"<x>\"' : named captures are not allowed: found '<x>'")),
        (r#"{a="b"} |~ ip("1.2.3.4")"#, format!("{p}stage '|~ ip(\"1.2.3.4\")' : ip: invalid operation")),
        (r#"{a="b"} |= ip("nope")"#, format!("{p}stage '|= ip(\"nope\")' : ip: invalid pattern: \"nope\"")),
        (r#"{a="b"} | label_format x=y, x="z""#, format!("{p}stage '| label_format x=y,x=\"z\"' : multiple label name 'x' not allowed in a single format operation")),
        (r#"{a="b"} | label_format __error__=y"#, format!("{p}stage '| label_format __error__=y' : __error__ cannot be formatted")),
    ];
    for (q, want) in cases {
        assert_eq!(err(q), want, "query: {q:?}");
    }
    let big = format!("{{a=\"{}\"}}", "x".repeat(131_072));
    assert_eq!(err(&big), format!("{p}input size too long (131078 > 131072)"));
}

/// Checks Loki runs while parsing win over errors later in the text.
#[test]
fn error_ordering() {
    assert_eq!(err(r#"{a=~"(" b"#), "parse error : error parsing regexp: missing closing ): `(`");
    assert_eq!(err(r#"sum_over_time({a=""}[5m])"#), "parse error : invalid aggregation sum_over_time without unwrap");
    assert_eq!(err(r#"{a="b"} + 1 x"#), "parse error at line 1, col 13: syntax error: unexpected IDENTIFIER");
    // Matcher validation runs before pipeline construction.
    assert_eq!(err(r#"{a=""} |~ "(""#), MATCHER_REQUIRED);
    assert_eq!(
        err(r#"{a!=""} |~ "(""#),
        "parse error : stage '|~ \"(\"' : error parsing regexp: missing closing ): `(`"
    );
}

#[test]
fn printing_round_trips() {
    let queries: Vec<&str> = SPEC_QUERIES
        .iter()
        .map(|(q, _)| *q)
        .chain([
            r#"{a="b\n\"c\"\\ é \u0001"} |= `raw\w` |~ "(?i)x" !~ "y" |> "<_> z" !> "w" != "q" or "r""#,
            r#"{a="b"} | json | x > -1.5 | y <= 1h30m0.5s | z == 1536 | n != 0.000001 | e > -0.0"#,
            r#"{a="b"} | ( x="1" or y!="2" ) , ( z=~"a.*" and w!~"b" ) | v = ip("::1") | u != ip("10.0.0.0/8")"#,
            r#"{a="b"} | logfmt --keep-empty a, b="c" | unpack | decolorize | keep a, b!="c""#,
            r#"count_over_time({a="b"}[1d] offset 1h30m)"#,
            r#"count_over_time({a="b"}[0s])"#,
            r#"sum by () (rate({a="b"}[1m])) + on (x) group_left (y, z) sum without () (rate({a="b"}[1m]))"#,
            r#"rate({a="b"}[1m]) > bool ignoring () 2"#,
            r#"rate({a="b"}[1m]) * on() group_right rate({a="b"}[1m])"#,
            r#"topk(3, rate({a="b"}[1m])) by (x) / 1e6"#,
            r#"1e21 * rate({a="b"}[1m]) - 0.0000001"#,
            r#"(0/0) * rate({a="b"}[1m])"#,
            r#"(1e308*10) * rate({a="b"}[1m])"#,
            r#"-0.0 * rate({a="b"}[1m])"#,
            "vector(0.0000001)",
            "vector(12345678901234567890)",
            r#"label_replace(sum(rate({a="b"}[1m])), "d", "$1-x", "s", "(.*):\\d+")"#,
            r#"avg_over_time({a="b"} | unwrap duration_seconds(x) | x > 1 | y="z" [5m]) without (a)"#,
            // Fuzzer finds: a lone `!` is an identifier, so `| json !` is an extraction named
            // `!`; printed `!="!"` it read back as a line filter. Zero bytes printed `0B`, which
            // reads as an empty Go binary literal.
            r#"{app="a"} | json !"#,
            r#"{app="a"} |json !| tency <= 250ms "#,
            r#"{app="a"} | json | size == 0KB"#,
            r#"{app="a"} | json | size >= 0MB"#,
        ])
        .collect();
    for q in queries {
        let e = ok(q);
        let printed = e.to_string();
        let again = parse_expr(&printed).unwrap_or_else(|err| panic!("{q:?} printed as {printed:?}: {err}"));
        // NaN literals are never `==`; their printed form is compared instead.
        if !printed.contains("(0 / 0)") {
            assert_eq!(again, e, "{q:?} printed as {printed:?}");
        }
        assert_eq!(again.to_string(), printed);
    }
}

#[test]
fn printing_matches_loki_string() {
    let cases = [
        (r#"{foo="bar", bar!="baz"} != "bip" !~ ".+bop""#, r#"{foo="bar", bar!="baz"} != "bip" !~ ".+bop""#),
        (r#"{app="foo"} != "test" != "foo" or "bar""#, r#"{app="foo"} != "test" != "foo" != "bar""#),
        (r#"{foo="bar"} | logfmt | b>=10GB"#, r#"{foo="bar"} | logfmt | b>=10GB"#),
        (r#"{foo="bar"} | logfmt | counter>-1 | counter==-1"#, r#"{foo="bar"} | logfmt | counter>-1 | counter==-1"#),
        (
            r#"{foo="bar"} | regexp "(?P<foo>foo|bar)" | ( ( foo<5.01 , bar>20ms ) or foo="bar" ) | line_format "blip{{.boop}}bap" | label_format foo=bar,bar="blip{{.blop}}""#,
            r#"{foo="bar"} | regexp "(?P<foo>foo|bar)" | ( ( foo<5.01 , bar>20ms ) or foo="bar" ) | line_format "blip{{.boop}}bap" | label_format foo=bar,bar="blip{{.blop}}""#,
        ),
        (r#"1 > bool 1 > count_over_time({foo="bar"}[1m])"#, r#"(0 > count_over_time({foo="bar"}[1m]))"#),
        (r#"sum by (a) (rate({x="y"}[5m])) * 1000000"#, r#"(sum by (a)(rate({x="y"}[5m])) * 1e+06)"#),
        (r#"rate({x="y"}[5m] offset 1h)"#, r#"rate({x="y"}[5m] offset 1h0m0s)"#),
        ("vector(1)", "vector(1.000000)"),
    ];
    for (q, want) in cases {
        assert_eq!(ok(q).to_string(), want, "{q}");
    }
}

#[test]
fn selectors() {
    assert_eq!(
        parse_selector(r#"{a="b", c=~"d.*"}"#, true),
        Ok(vec![m("a", MatchOp::Eq, "b"), m("c", MatchOp::Re, "d.*")])
    );
    assert_eq!(parse_selector("{}", false), Ok(vec![]));
    assert_eq!(parse_selector(r#"{a=""}"#, false), Ok(vec![m("a", MatchOp::Eq, "")]));
    assert_eq!(parse_selector("{}", true).unwrap_err().to_string(), MATCHER_REQUIRED);
    let not = "only label matchers are supported";
    assert_eq!(parse_selector(r#"{a="b"} |= "x""#, true).unwrap_err().to_string(), not);
    assert_eq!(parse_selector(r#"rate({a="b"}[1m])"#, false).unwrap_err().to_string(), not);
    assert_eq!(parse_selector("1", false).unwrap_err().to_string(), not);
    assert_eq!(
        parse_selector(r#"{a="b""#, false).unwrap_err().to_string(),
        "parse error at line 1, col 7: syntax error: unexpected $end, expecting } or ,"
    );
    assert_eq!(
        parse_selector(r#"{a=~"("}"#, false).unwrap_err().to_string(),
        "parse error : error parsing regexp: missing closing ): `(`"
    );
    // Parenthesised selectors are still bare selectors.
    assert_eq!(parse_selector(r#"({a="b"})"#, true), Ok(vec![m("a", MatchOp::Eq, "b")]));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    const VOCAB: &[&str] = &[
        "{",
        "}",
        "(",
        ")",
        "[5m]",
        "[",
        "]",
        ",",
        "|",
        "|=",
        "!=",
        "|~",
        "!~",
        "|>",
        "!>",
        "=",
        "=~",
        "==",
        ">",
        ">=",
        "<",
        "+",
        "-",
        "*",
        "/",
        "%",
        "^",
        "\"x\"",
        "`y`",
        "\"(?P<a>.)\"",
        "\"<a> <_>\"",
        "5",
        "0.5",
        "5m",
        "10KB",
        "-5m",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "bool",
        "or",
        "and",
        "unless",
        "json",
        "logfmt",
        "--strict",
        "regexp",
        "pattern",
        "unpack",
        "line_format",
        "label_format",
        "decolorize",
        "drop",
        "keep",
        "unwrap",
        "offset",
        "ip(",
        "sum(",
        "rate(",
        "topk(",
        "vector(",
        "label_replace(",
        "bytes(",
        "foo",
        "__error__",
        "{a=\"b\"}",
        "#c\n",
        "0x1",
        "08",
        "é",
        "\0",
        "\"\\q\"",
        "'a'",
        "/*",
        "quantile_over_time(",
    ];

    fn query() -> impl Strategy<Value = String> {
        prop::collection::vec((prop::sample::select(VOCAB), prop::bool::ANY), 0..16)
            .prop_map(|v| v.into_iter().map(|(t, sp)| if sp { format!("{t} ") } else { t.to_string() }).collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn never_panics_on_token_soup(q in query()) {
            if let Ok(e) = parse_expr(&q) {
                let printed = e.to_string();
                let again = parse_expr(&printed);
                prop_assert!(again.is_ok(), "printed {} fails: {:?}", printed, again);
                let again = again.unwrap();
                prop_assert!(again == e || again.to_string() == printed, "printed {}", printed);
            }
            let _ = parse_selector(&q, true);
        }

        #[test]
        fn never_panics_on_arbitrary_text(q in "\\PC{0,40}") {
            let _ = parse_expr(&q);
            let _ = parse_selector(&q, false);
        }
    }
}
