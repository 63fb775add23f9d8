//! Generators of LogQL text for the property tests: arbitrary text, token soup and
//! mutations of valid queries that cover the grammar.
#![allow(dead_code)]

use proptest::prelude::*;

/// Valid queries covering the grammar; mutated below.
pub const SEEDS: &[&str] = &[
    r#"{app="a"}"#,
    r#"{app="a", env!="dev", host=~"web-.*", pod!~"x|y"}"#,
    r#"{app="a"} |= "err" != "debug" |~ "time(out)?" !~ `^\s+$`"#,
    r#"{app="a"} |= ip("10.0.0.0/8") or "x""#,
    r#"{app="a"} |> "<_> level=<_>" !> "foo <_>""#,
    r#"{app="a"} | json | status >= 500 and method="GET" or duration > 1s"#,
    r#"{app="a"} | json first="servers[0]", ua="request.headers[\"User-Agent\"]""#,
    r#"{app="a"} | logfmt --strict --keep-empty | level=~"warn|error""#,
    r#"{app="a"} | logfmt msg, lvl="level""#,
    r#"{app="a"} | regexp "(?P<method>\\w+) (?P<path>\\S+)" | path != "/health""#,
    r#"{app="a"} | pattern "<ip> - - [<_>] \"<method> <path> <_>\" <status> <size>""#,
    r#"{app="a"} | unpack | line_format "{{.msg}} {{ .status | upper }} {{ if eq .a \"b\" }}x{{ else }}y{{ end }}""#,
    r#"{app="a"} | label_format new=status, tpl="{{ .path | trunc 10 }}""#,
    r#"{app="a"} | decolorize | drop level, method="GET" | keep msg, app"#,
    r#"{app="a"} | json | size > 10KB | latency <= 250ms | __error__ != "JSONParserErr""#,
    r#"{app="a"} | json | line_format `{{ printf "%s-%d" .a 3 }} {{ .b | default "x" }} {{ toJson . }}`"#,
    r#"count_over_time({app="a"}[5m])"#,
    r#"sum by (level) (rate({app="a"} |= "x" [1m] offset 5m))"#,
    r#"topk(3, sum without (pod) (bytes_over_time({app="a"}[1h])))"#,
    r#"quantile_over_time(0.99, {app="a"} | json | unwrap duration(latency) | __error__="" [5m]) by (path)"#,
    r#"avg_over_time({app="a"} | logfmt | unwrap bytes(size) [10m]) > bool 1024"#,
    r#"sum(rate({app="a"}[1m])) / on(app) group_left(env) sum by (app, env) (rate({app="b"}[1m]))"#,
    r#"absent_over_time({app="a"}[1h])"#,
    r#"label_replace(rate({app="a"}[1m]), "dst", "$1", "src", "(.*)")"#,
    r#"sort_desc(count by (level) (count_over_time({app="a"} | json [1m])))"#,
    r#"vector(1) + 2 * 3 ^ 2 - -1 % 5"#,
    r#"first_over_time({app="a"} | unwrap v [1m]) unless last_over_time({app="a"} | unwrap v [1m])"#,
    r#"rate_counter({app="a"} | logfmt | unwrap n [30s]) or on() vector(0)"#,
    r#"sum by (a) (count_over_time({app="a"} | regexp "(?P<a>.)" [1m])) >= 3"#,
    r#"stddev_over_time({app="a"} | unwrap duration_seconds(d) [1m])"#,
    r#"approx_topk(5, sum by (x) (rate({app="a"}[1m])))"#,
];

/// Tokens for a LogQL token soup.
pub const TOKENS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    "=",
    "!=",
    "=~",
    "!~",
    "|=",
    "|~",
    "!=",
    "|>",
    "!>",
    "|",
    "app",
    "level",
    "\"a\"",
    "\"\"",
    "`x`",
    "\"(a*)*b\"",
    "json",
    "logfmt",
    "regexp",
    "pattern",
    "unpack",
    "line_format",
    "label_format",
    "drop",
    "keep",
    "decolorize",
    "unwrap",
    "bytes",
    "duration",
    "duration_seconds",
    "sum",
    "avg",
    "min",
    "max",
    "count",
    "topk",
    "bottomk",
    "sort",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "rate",
    "count_over_time",
    "bytes_over_time",
    "quantile_over_time",
    "absent_over_time",
    "label_replace",
    "vector",
    "1",
    "0.5",
    "-1",
    "1e3",
    "5m",
    "1h30m",
    "10KB",
    "+",
    "-",
    "*",
    "/",
    "%",
    "^",
    "==",
    ">",
    ">=",
    "<",
    "<=",
    "__error__",
    "ip",
    "\"{{.a}}\"",
    "\"{{ if .a }}x{{ end }}\"",
    "--strict",
    "--keep-empty",
    "#",
    "\n",
    " ",
    "\\",
    "\"\\\"\"",
    "\u{1F600}",
    "\u{0}",
];

#[derive(Debug, Clone)]
pub enum Edit {
    Insert(usize, &'static str),
    Delete(usize, usize),
    Duplicate(usize, usize),
    Char(usize, char),
}

pub fn apply(seed: &str, edits: &[Edit]) -> String {
    let mut s: Vec<char> = seed.chars().collect();
    for e in edits {
        let at = |i: usize, s: &Vec<char>| if s.is_empty() { 0 } else { i % (s.len() + 1) };
        match e {
            Edit::Insert(i, t) => {
                let p = at(*i, &s);
                s.splice(p..p, t.chars());
            }
            Edit::Delete(i, n) => {
                let p = at(*i, &s);
                let q = (p + n).min(s.len());
                s.drain(p..q);
            }
            Edit::Duplicate(i, n) => {
                let p = at(*i, &s);
                let q = (p + n).min(s.len());
                let d: Vec<char> = s[p..q].to_vec();
                s.splice(q..q, d);
            }
            Edit::Char(i, c) => {
                let p = at(*i, &s);
                if p < s.len() {
                    s[p] = *c;
                } else {
                    s.push(*c);
                }
            }
        }
    }
    s.into_iter().collect()
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), prop::sample::select(TOKENS)).prop_map(|(i, t)| Edit::Insert(i, t)),
        (any::<usize>(), 1..12usize).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<usize>(), 1..20usize).prop_map(|(i, n)| Edit::Duplicate(i, n)),
        (any::<usize>(), any::<char>()).prop_map(|(i, c)| Edit::Char(i, c)),
    ]
}

pub fn logql_input() -> impl Strategy<Value = String> {
    prop_oneof![
        // Arbitrary text.
        1 => ".{0,200}",
        // Token soup.
        1 => (prop::collection::vec(prop::sample::select(TOKENS), 0..40), any::<bool>())
            .prop_map(|(t, spaced)| t.join(if spaced { " " } else { "" })),
        // Mutated valid queries (most weight: they reach deep into the parser).
        3 => (prop::sample::select(SEEDS), prop::collection::vec(edit(), 0..4)).prop_map(|(s, e)| apply(s, &e)),
    ]
}

pub const SAMPLE_LINES: &[&[u8]] = &[
    br#"{"a":"b","status":503,"servers":["x"],"request":{"headers":{"User-Agent":"ua"}},"latency":"1.5s","v":2}"#,
    b"level=warn msg=\"hello world\" status=200 size=12KB latency=250ms n=3 v=1.5",
    b"10.1.2.3 - - [02/Feb/2026:12:00:00 +0000] \"GET /health HTTP/1.1\" 200 512",
    b"\x1b[31mred\x1b[0m plain",
    b"",
    b"\xff\xfe not utf-8 \xc3",
];
