//! lokid: a single-node log store that speaks Grafana Loki's HTTP API on embedded RocksDB.
//!
//! Push: `api::push` → `ingest` (validate, one atomic batch) → `store`; the `tail` hub
//! fans accepted entries out to live tails. Query: `api::query` → `logql` (pure parser) →
//! `query` (engine, via `index` for stream selection and `store` for blocks) → Loki JSON.
//! See ARCHITECTURE.md.

pub use gocompat;
pub use logql;

pub mod api;
pub mod clock;
pub mod config;
pub mod index;
pub mod ingest;
pub mod limits;
pub mod model;
pub mod query;
pub mod retention;
pub mod server;
pub mod store;
pub mod tail;
pub mod telemetry;
