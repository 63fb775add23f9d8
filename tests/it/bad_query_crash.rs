//! One query must never take the server down (regression test; fixed by bounding the
//! template parser's nesting).
//!
//! `{a="b"} | line_format "{{((((…1…))))}}"` with 30,000 nested parentheses (a 60 KB query,
//! under the 128 KiB LogQL size limit; the parser's 128-level nesting limit does not look
//! inside templates) overflowed the stack in `LogPipeline::compile` — the Go-template parser
//! in `src/query/pipeline/template*.rs` recurses per parenthesis — and the whole process
//! aborted ("thread 'tokio-rt-worker' has overflowed its stack"). 10,000 levels still work on
//! a 2 MiB stack. `label_format` templates do the same.

use std::time::Duration;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_templates_are_refused_not_fatal() {
    let tmp = tempfile::tempdir().unwrap();
    let mut srv = Lokid::spawn(tmp.path(), "");
    srv.wait_ready(Duration::from_secs(30)).await;
    let c = client();
    let n = 30_000;
    let nested = format!("{}1{}", "(".repeat(n), ")".repeat(n));
    for q in [
        format!(r#"{{a="b"}} | line_format "{{{{{nested}}}}}""#),
        format!(r#"{{a="b"}} | label_format x="{{{{{nested}}}}}""#),
        format!(r#"sum(count_over_time({{a="b"}} | line_format "{{{{{nested}}}}}" [1m]))"#),
    ] {
        let r = c
            .post(format!("{}/loki/api/v1/query_range", srv.base))
            .form(&[("query", q.as_str()), ("start", "1770033600"), ("end", "1770037200")])
            .send()
            .await;
        let status = r.as_ref().map(|r| r.status().as_u16()).map_err(|e| e.to_string());
        assert!(
            srv.child.try_wait().unwrap().is_none(),
            "lokid died on a {} byte query ({status:?}):\n{}",
            q.len(),
            srv.log_text()
        );
        let s = status.expect("an answer");
        assert!(s == 400 || s == 200, "{s}");
    }
}
