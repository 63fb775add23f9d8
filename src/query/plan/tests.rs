//! Snapshot tests of printed plans (`snapshots.txt`: `== query` then its plan), and the
//! step arithmetic.
//!
//! After a deliberate change in planning, `LOKID_UPDATE_PLANS=1 cargo test plan::` rewrites
//! the file; review the diff like code.

use super::{Plan, Steps};
use crate::logql::parse_expr;

const SNAPSHOTS: &str = include_str!("snapshots.txt");

/// (query, printed plan) pairs of a snapshot file.
fn cases(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(q) = line.strip_prefix("== ") {
            out.push((q.to_string(), String::new()));
        } else if let Some((_, plan)) = out.last_mut() {
            plan.push_str(line);
            plan.push('\n');
        }
    }
    for (_, plan) in &mut out {
        while plan.ends_with("\n\n") {
            plan.pop();
        }
    }
    out
}

fn printed(query: &str) -> String {
    let expr = parse_expr(query).unwrap_or_else(|e| panic!("{query}: {e}"));
    Plan::of(&expr, None).to_string()
}

#[test]
fn printed_plans_match_the_snapshots() {
    let cases = cases(SNAPSHOTS);
    assert!(cases.len() >= 20, "the snapshot file lost cases");
    if std::env::var_os("LOKID_UPDATE_PLANS").is_some() {
        let mut text = String::new();
        for (q, _) in &cases {
            text.push_str(&format!("== {q}\n{}\n", printed(q)));
        }
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/query/plan/snapshots.txt");
        std::fs::write(path, text).expect("snapshot file is writable");
        return;
    }
    let mut wrong = Vec::new();
    for (q, want) in &cases {
        let got = printed(q);
        if &got != want {
            wrong.push(format!("== {q}\n--- want\n{want}--- got\n{got}"));
        }
    }
    assert!(wrong.is_empty(), "{} plans changed:\n{}", wrong.len(), wrong.join("\n"));
}

#[test]
fn steps_align_like_lokis_frontend() {
    const S: i64 = 1_000_000_000;
    let s = Steps::aligned(61 * S, 179 * S, 60 * S);
    assert_eq!((s.start, s.step, s.n, s.end()), (60 * S, 60 * S, 3, 180 * S));
    let s = Steps::aligned(60 * S, 180 * S, 60 * S);
    assert_eq!((s.start, s.n, s.end()), (60 * S, 3, 180 * S));
    // Negative times round down too.
    let s = Steps::aligned(-S, S, 2 * S);
    assert_eq!((s.start, s.n, s.end()), (-2 * S, 3, 2 * S));
    assert_eq!(Steps::new(5, 5, 0), Steps::instant(5));
    assert!(Steps::new(5, 5, 1).n == 1 && !Steps::new(5, 5, 1).is_instant());
    assert_eq!(Steps::range(10, 5, 1).n, 0, "an end before the start has no step");
}

#[test]
fn the_pipeline_runs_in_the_planned_order() {
    // The plan's order is what the compiled pipeline runs: a filter moved before `| json`
    // decides on the raw line, so a line whose JSON would rename the text still counts.
    let expr = parse_expr(r#"{a="b"} | json | x="1" |= "k" | logfmt |= "z""#).unwrap();
    let Plan::Logs(p) = Plan::of(&expr, None) else { panic!() };
    let order: Vec<String> = p.stages.iter().map(|s| s.to_string()).collect();
    assert_eq!(order, ["| json", "| x=\"1\"", "|= \"k\"", "|= \"z\"", "| logfmt"]);
    assert_eq!(p.required, ["k", "z"]);
}
