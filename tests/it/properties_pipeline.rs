//! Property test of the log pipeline: for every generated LogQL log query that parses,
//! `LogPipeline::compile` is Ok or an error, never a panic, and the compiled pipeline runs
//! over sample lines (JSON, logfmt, access log, ANSI colours, empty, invalid UTF-8) without
//! panicking.
//!
//! Regression: it first failed on `{app="a"} | line_format "{{€}}"` (any non-alphabetic
//! non-ASCII character inside `{{ }}`): the template lexer advanced one byte into a
//! multi-byte character and sliced there — over HTTP a 500 "task panicked" instead of
//! Loki's 400 (fixed in 1de7691).

use std::sync::mpsc;
use std::time::Duration;

use crate::logql_gen::{logql_input, SAMPLE_LINES};
use lokid::logql::{parse_expr, Expr};
use lokid::model::Labels;
use lokid::query::pipeline::LogPipeline;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};

#[test]
fn parsed_pipelines_compile_and_run_without_panicking() {
    let mut r = TestRunner::new(Config {
        cases: std::env::var("LOKID_PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(2000),
        rng_seed: RngSeed::Fixed(0x10c9),
        failure_persistence: None,
        ..Config::default()
    });
    let result = r.run(&logql_input(), |s| {
        let input = s.clone();
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                if let Ok(Expr::Log(l)) = parse_expr(&s) {
                    if let Ok(p) = LogPipeline::compile(&l.stages) {
                        let stream =
                            Labels::from_pairs(vec![("app".into(), "a".into()), ("level".into(), "info".into())]);
                        let meta = vec![("trace_id".to_string(), "t1".to_string())];
                        for line in SAMPLE_LINES {
                            let _ = p.process(1_770_033_600_000_000_000, line, &stream, &meta);
                            let _ = p.process_uncategorized(1, line, &stream, &[]);
                            let _ = p.keep_line(line);
                        }
                    }
                }
                let _ = tx.send(());
            })
            .unwrap();
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(()) => Ok(()),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                Err(TestCaseError::fail(format!("no answer within 5 s for {input:?}")))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(TestCaseError::fail(format!("panicked on {input:?}"))),
        }
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
