//! lokid's integration tests, built as one program (one binary links RocksDB once).
//!
//! Each module is one area, tested from the outside: over HTTP against a server started in
//! this process on 127.0.0.1:0, or against the real `lokid` binary as a child process that
//! the fault tests kill with SIGKILL, restart and run on a full disk. [`harness`] is the one
//! place that starts servers and injects faults; [`logql_gen`] generates LogQL for the
//! property tests. Data the tests read stays beside this folder: `tests/clients/` (the real
//! push clients), `tests/conformance/`, `tests/fixtures/`.
//!
//! All tests share this process and run on parallel threads, so a test passes its settings
//! explicitly (the server's `Config`, a child's YAML), never through environment variables,
//! the current directory or a fixed port or path; the few load tests that bound a child's
//! restart time, memory or recovery hold [`harness::exclusive`] so that they do not overlap.
//!
//! Run one area with `cargo test --release --test it push_api::`, one test by its name.

mod harness;
mod logql_gen;

mod bad_query_crash;
mod clients;
mod clients_otlp;
mod drilldown_replay;
mod durability;
mod fault_full_disk;
mod fault_full_disk_small_space;
mod fault_kill9_concurrent;
mod otlp_api;
mod properties;
mod properties_pipeline;
mod push_api;
mod query_api;
mod retention;
mod soak;
mod tail_ws;
mod tenancy;
mod tenancy_all_endpoints;
mod tidy;
