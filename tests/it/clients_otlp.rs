//! The push clients services use after Promtail, for real, against an in-process lokid:
//! the OpenTelemetry JS SDK (OTLP/HTTP JSON), winston through @opentelemetry/winston-transport
//! into that SDK, pino with pino-loki (Loki push API) — `tests/clients/otel-js/send.js` — and
//! the OpenTelemetry Python SDK (OTLP/HTTP protobuf + gzip) and loki-logger-handler (Loki
//! push API, JSON + gzip) — `tests/clients/python/send.py`. Each pushes; the lines must come
//! back from `query_range` with the labels and structured metadata Loki would give them.
//!
//! Versions are pinned (`package-lock.json`, `requirements.lock`); the test installs them
//! (npm into node_modules, pip into `tests/clients/python/.venv`). Without node, npm or
//! python3 (with venv) the tests fail on purpose: `bash scripts/dev.sh test` installs them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use crate::harness::*;

fn clients_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients").join(name)
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn run_ok(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!(
            "{what}: could not start ({e}). Run `bash scripts/dev.sh test`, which installs node, npm and python3-venv."
        )
    });
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The tests of this file run in parallel: one install each, the others wait for it.
static NPM: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
static VENV: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

fn npm_install() -> PathBuf {
    NPM.get_or_init(npm_install_once).clone()
}

fn python_venv() -> PathBuf {
    VENV.get_or_init(python_venv_once).clone()
}

/// Install of the pinned JS clients (package-lock.json), skipped when node_modules is current.
fn npm_install_once() -> PathBuf {
    let dir = clients_dir("otel-js");
    let installed = mtime(&dir.join("node_modules/.package-lock.json"));
    let fresh = installed.is_some()
        && ["package.json", "package-lock.json"].iter().all(|f| mtime(&dir.join(f)) <= installed)
        && ["@opentelemetry/sdk-logs", "@opentelemetry/winston-transport", "pino-loki"]
            .iter()
            .all(|m| dir.join("node_modules").join(m).join("package.json").is_file());
    if !fresh {
        run_ok(
            Command::new("npm").args(["install", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(&dir),
            "npm install in tests/clients/otel-js",
        );
    }
    dir
}

/// A venv with the pinned Python clients; returns its python.
fn python_venv_once() -> PathBuf {
    let dir = clients_dir("python");
    let venv = dir.join(".venv");
    let python = venv.join("bin/python");
    let marker = venv.join(".installed");
    if mtime(&marker).is_some() && mtime(&dir.join("requirements.lock")) <= mtime(&marker) && python.is_file() {
        return python;
    }
    run_ok(Command::new("python3").args(["-m", "venv", "--clear"]).arg(&venv), "python3 -m venv");
    run_ok(
        Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input", "-r"])
            .arg(dir.join("requirements.lock")),
        "pip install -r tests/clients/python/requirements.lock",
    );
    std::fs::write(&marker, b"").unwrap();
    python
}

async fn run_client(program: &Path, script_dir: &Path, args: &[&str]) {
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new(program).args(args).current_dir(script_dir).kill_on_drop(true).output(),
    )
    .await
    .unwrap_or_else(|_| panic!("{} {args:?} finished within 120s", program.display()))
    .expect("client started");
    let (o, e) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{} {args:?} failed ({}):\nstdout: {o}\nstderr: {e}", program.display(), out.status);
    eprintln!("{}", o.trim());
}

/// (stream labels, line) of every entry matching `query` within the last hour.
async fn read_back(base: &str, query: &str) -> Vec<(serde_json::Value, String)> {
    let now = lokid::clock::now_ns();
    let (start, end) = ((now - 3_600_000_000_000).to_string(), (now + 1_000_000_000).to_string());
    let v = get_json(
        base,
        "/loki/api/v1/query_range",
        &[("query", query), ("start", &start), ("end", &end), ("limit", "1000"), ("direction", "forward")],
    )
    .await;
    let mut out = Vec::new();
    for s in v["data"]["result"].as_array().expect("streams") {
        for e in s["values"].as_array().unwrap() {
            out.push((s["stream"].clone(), e[1].as_str().unwrap().to_string()));
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

fn marker(name: &str) -> String {
    format!("{name}-marker-{}", lokid::clock::now_ns())
}

fn check_otel_entry(labels: &serde_json::Value, service: &str, trace_id: &str, span_id: &str, scope: &str) {
    assert_eq!(labels["service_name"], service, "{labels}");
    assert_eq!(labels["trace_id"], trace_id, "{labels}");
    assert_eq!(labels["span_id"], span_id, "{labels}");
    assert_eq!(labels["flags"], "1", "{labels}");
    assert_eq!(labels["order_id"], "42", "{labels}");
    assert_eq!(labels["scope_name"], scope, "{labels}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opentelemetry_js_sdk_over_otlp_json() {
    let dir = npm_install();
    let srv = TestServer::start().await;
    let m = marker("otel-js");
    run_client(Path::new("node"), &dir, &["send.js", "sdk", &srv.base, &m]).await;
    let got = read_back(&srv.base, &format!(r#"{{service_name="otel-js-test"}} |= "{m}""#)).await;
    let lines: Vec<&str> = got.iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(lines, [format!("{m} sdk error line"), format!("{m} sdk info line"), format!("{m} sdk warn line")]);
    for ((labels, _), (level, text, number)) in
        got.iter().zip([("error", "ERROR", "17"), ("info", "INFO", "9"), ("warn", "WARN", "13")])
    {
        check_otel_entry(
            labels,
            "otel-js-test",
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "00f067aa0ba902b7",
            "lokid-test-js",
        );
        assert_eq!(labels["deployment_environment"], "ci", "{labels}");
        assert_eq!(labels["host_name"], "js-host", "{labels}");
        assert_eq!(labels["http_route"], "/orders", "{labels}");
        assert_eq!(
            (&labels["detected_level"], &labels["severity_text"], &labels["severity_number"]),
            (&level.into(), &text.into(), &number.into())
        );
    }
    // Only the promoted resource attributes are stream labels.
    let series = get_json(&srv.base, "/loki/api/v1/series", &[("match[]", r#"{service_name="otel-js-test"}"#)]).await;
    assert_eq!(
        series["data"],
        serde_json::json!([{"deployment_environment": "ci", "service_name": "otel-js-test"}]),
        "{series}"
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn winston_through_opentelemetry_transport() {
    let dir = npm_install();
    let srv = TestServer::start().await;
    let m = marker("winston-otel");
    run_client(Path::new("node"), &dir, &["send.js", "winston", &srv.base, &m]).await;
    let got = read_back(&srv.base, &format!(r#"{{service_name="winston-otel-test"}} |= "{m}""#)).await;
    let lines: Vec<&str> = got.iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(lines, [format!("{m} winston error line"), format!("{m} winston info line")]);
    let (err, info) = (&got[0].0, &got[1].0);
    assert_eq!(
        (&err["severity_text"], &err["detected_level"], &err["requestId"]),
        (&"error".into(), &"error".into(), &"r-2".into()),
        "{err}"
    );
    assert_eq!(
        (&info["severity_number"], &info["requestId"], &info["userId"]),
        (&"9".into(), &"r-1".into(), &"7".into()),
        "{info}"
    );
    assert_eq!(info["scope_name"], "@opentelemetry/winston-transport", "{info}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pino_loki_push() {
    let dir = npm_install();
    let srv = TestServer::start().await;
    let m = marker("pino");
    run_client(Path::new("node"), &dir, &["send.js", "pino", &srv.base, &m]).await;
    let got = read_back(&srv.base, &format!(r#"{{job="pino-test"}} |= "{m}""#)).await;
    assert_eq!(got.len(), 2, "{got:?}");
    // Lines are pino's JSON (`{"level":30,…}` sorts before `{"level":50,…}`).
    let (info, err) = (&got[0], &got[1]);
    assert_eq!(err.0["level"], "error", "{}", err.0);
    assert_eq!(info.0["level"], "info", "{}", info.0);
    assert_eq!(info.0["service_name"], "pino-api", "{}", info.0);
    assert_eq!(info.0["requestId"], "p-1", "pino-loki's meta becomes structured metadata: {}", info.0);
    let line: serde_json::Value = serde_json::from_str(&info.1).expect("pino writes JSON lines");
    assert_eq!(line["msg"], format!("{m} pino info line"));
    let line: serde_json::Value = serde_json::from_str(&err.1).unwrap();
    assert_eq!(
        (line["msg"].as_str().unwrap(), line["level"].as_i64()),
        (format!("{m} pino error line").as_str(), Some(50))
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opentelemetry_python_sdk_over_otlp_protobuf() {
    let python = python_venv();
    let srv = TestServer::start().await;
    let m = marker("otel-py");
    run_client(&python, &clients_dir("python"), &["send.py", "otel", &srv.base, &m]).await;
    let got =
        read_back(&srv.base, &format!(r#"{{service_name="otel-py-test", service_namespace="shop"}} |= "{m}""#)).await;
    let lines: Vec<&str> = got.iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(
        lines,
        [format!("{m} otel-py error line"), format!("{m} otel-py info line"), format!("{m} otel-py warning line")]
    );
    for ((labels, _), level) in got.iter().zip(["error", "info", "warn"]) {
        check_otel_entry(
            labels,
            "otel-py-test",
            "0af7651916cd43dd8448eb211c80319c",
            "b7ad6b7169203331",
            "lokid-test-py",
        );
        assert_eq!(labels["deployment_environment_name"], "ci", "{labels}");
        assert_eq!((&labels["retry"], &labels["ratio"]), (&"true".into(), &"0.5".into()), "{labels}");
        assert_eq!(labels["telemetry_sdk_language"], "python", "{labels}");
        assert_eq!(labels["detected_level"], level, "{labels}");
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_loki_logger_handler_push() {
    let python = python_venv();
    let srv = TestServer::start().await;
    let m = marker("py-loki");
    run_client(&python, &clients_dir("python"), &["send.py", "loki", &srv.base, &m]).await;
    let got = read_back(&srv.base, &format!(r#"{{job="py-loki-test"}} |= "{m}""#)).await;
    assert_eq!(got.len(), 2, "{got:?}");
    for ((labels, line), level) in got.iter().zip(["error", "info"]) {
        assert_eq!(labels["service_name"], "py-api", "{labels}");
        assert_eq!(labels["env"], "ci", "loki_metadata becomes structured metadata: {labels}");
        assert_eq!(labels["detected_level"], level, "{labels}");
        let v: serde_json::Value = serde_json::from_str(line).expect("the handler writes JSON lines");
        assert_eq!(v["message"], format!("{m} py-loki {level} line"));
    }
    srv.stop().await;
}
