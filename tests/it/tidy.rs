//! Tidy: the house rules of ARCHITECTURE.md that the compiler cannot check, checked over
//! the source text (after rust-analyzer's tidy tests).
//!
//! - every Rust file starts with a `//!` line saying what it is;
//! - only `src/store/` names the RocksDB crate;
//! - only `src/clock.rs` reads the wall clock;
//! - only `src/store/keys.rs` encodes or decodes big-endian integers, the form every key
//!   that sorts by a number takes, so that keys are built and parsed in one place.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every Rust file of the crate, with its path relative to the crate and its text.
fn sources(top: &[&str]) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in top {
        rust_files(&root.join(dir), &mut files);
    }
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
            (rel, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

/// The code lines of `text` (comment lines left out), numbered from 1.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().map(|(i, l)| (i + 1, l)).filter(|(_, l)| !l.trim_start().starts_with("//"))
}

/// The places outside `allowed` (path prefixes) where a code line contains one of `needles`.
fn offenders(files: &[(String, String)], needles: &[&str], allowed: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for (path, text) in files {
        if allowed.iter().any(|a| path.starts_with(a)) {
            continue;
        }
        for (n, line) in code_lines(text) {
            if needles.iter().any(|needle| line.contains(needle)) {
                out.push(format!("{path}:{n}: {}", line.trim()));
            }
        }
    }
    out
}

#[test]
fn every_file_starts_with_a_module_doc_line() {
    let files = sources(&["src", "tests", "benches", "examples", "crates/gocompat/src", "crates/logql/src"]);
    assert!(files.len() > 50, "found the sources");
    let missing: Vec<&str> =
        files.iter().filter(|(_, text)| !text.starts_with("//!")).map(|(path, _)| path.as_str()).collect();
    assert!(missing.is_empty(), "files without a leading `//!` line: {missing:?}");
}

#[test]
fn only_the_store_names_rocksdb() {
    let found = offenders(&sources(&["src", "crates"]), &["rocksdb::", "use rocksdb", "librocksdb"], &["src/store/"]);
    assert!(found.is_empty(), "RocksDB named outside src/store/:\n{}", found.join("\n"));
}

#[test]
fn only_clock_rs_reads_the_wall_clock() {
    let needles = ["SystemTime::now", "Utc::now", "Local::now", "UNIX_EPOCH"];
    let found = offenders(&sources(&["src", "crates"]), &needles, &["src/clock.rs"]);
    assert!(found.is_empty(), "the wall clock read outside src/clock.rs:\n{}", found.join("\n"));
}

#[test]
fn only_keys_rs_builds_keys() {
    let found = offenders(&sources(&["src"]), &["to_be_bytes", "from_be_bytes"], &["src/store/keys.rs"]);
    assert!(found.is_empty(), "big-endian (key) encoding outside src/store/keys.rs:\n{}", found.join("\n"));
}

/// The query side reads blocks through `store::scan` (streams, hours, time ranges), never
/// by key: only its tests build keys, to set up what they test.
#[test]
fn the_query_side_names_no_key_layout() {
    let files: Vec<(String, String)> = sources(&["src/query", "src/api"])
        .into_iter()
        .filter(|(path, _)| !path.ends_with("_tests.rs") && !path.ends_with("/tests.rs"))
        .collect();
    assert!(files.len() > 20, "found the sources");
    let found = offenders(&files, &["keys::", "store::keys", "read_block(", "block_keys"], &[]);
    assert!(found.is_empty(), "key layouts named on the query side:\n{}", found.join("\n"));
}

/// The checks above find what they look for.
#[test]
fn the_checks_can_fail() {
    let files = vec![
        ("src/api/x.rs".to_string(), "//! x\nlet t = std::time::SystemTime::now();\n// Utc::now in a comment\n".into()),
        ("src/clock.rs".to_string(), "//! clock\nSystemTime::now()\n".into()),
    ];
    assert_eq!(
        offenders(&files, &["SystemTime::now", "Utc::now"], &["src/clock.rs"]),
        ["src/api/x.rs:2: let t = std::time::SystemTime::now();"]
    );
}
