//! Per-tenant limits (Loki's `limits_config`), with Loki's names and defaults.
//!
//! Filled by `config`, read by `ingest` (validation) and `api` (query limits).

use std::time::Duration;

pub mod otlp;

pub use otlp::OtlpConfig;

/// Loki's `limits_config` subset that lokid enforces. Field names are Loki's YAML keys.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Reject entries older than `reject_old_samples_max_age` (Loki binary default true;
    /// lokid's default is **false**, as the product asks: late logs are accepted).
    pub reject_old_samples: bool,
    pub reject_old_samples_max_age: Duration,
    /// Entries newer than now + this are rejected.
    pub creation_grace_period: Duration,
    /// Bytes; 0 = unlimited.
    pub max_line_size: u64,
    pub max_line_size_truncate: bool,
    pub max_label_names_per_series: usize,
    pub max_label_name_length: usize,
    pub max_label_value_length: usize,
    pub allow_structured_metadata: bool,
    /// Bytes.
    pub max_structured_metadata_size: u64,
    pub max_structured_metadata_entries_count: usize,
    /// Label names tried in order to fill `service_name`; empty disables discovery.
    pub discover_service_name: Vec<String>,
    pub discover_log_levels: bool,
    /// Query: default 5000.
    pub max_entries_limit_per_query: usize,
    /// Query: default 500.
    pub max_query_series: usize,
    /// Query: default 721h; zero = unlimited.
    pub max_query_length: Duration,
    /// Query: default 1m.
    pub query_timeout: Duration,
    /// Default 0 = off.
    pub retention_period: Duration,
    /// Tail: default 10.
    pub max_concurrent_tail_requests: usize,
    /// Per-tenant ingestion rate in MB/s (Loki: 4).
    pub ingestion_rate_mb: f64,
    /// Per-tenant burst in MB (Loki: 6).
    pub ingestion_burst_size_mb: f64,
    /// Per-stream rate in bytes/s (Loki: 3MB).
    pub per_stream_rate_limit: u64,
    /// Per-stream burst in bytes (Loki: 15MB).
    pub per_stream_rate_limit_burst: u64,
    /// Active streams per tenant (Loki: 5000); 0 = unlimited.
    pub max_global_streams_per_user: usize,
    /// Queries may not reach further back than this; zero = off. Start is clamped silently.
    pub max_query_lookback: std::time::Duration,
    /// How OTLP attributes map to labels and structured metadata (`otlp_config`).
    pub otlp_config: OtlpConfig,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            reject_old_samples: false,
            reject_old_samples_max_age: Duration::from_secs(7 * 24 * 3600),
            creation_grace_period: Duration::from_secs(10 * 60),
            max_line_size: 256 * 1024,
            max_line_size_truncate: false,
            max_label_names_per_series: 15,
            max_label_name_length: 1024,
            max_label_value_length: 2048,
            allow_structured_metadata: true,
            max_structured_metadata_size: 64 * 1024,
            max_structured_metadata_entries_count: 128,
            discover_service_name: [
                "service",
                "app",
                "application",
                "app_name",
                "name",
                "app_kubernetes_io_name",
                "container",
                "container_name",
                "k8s_container_name",
                "component",
                "workload",
                "job",
                "k8s_job_name",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            discover_log_levels: true,
            max_entries_limit_per_query: 5000,
            max_query_series: 500,
            max_query_length: Duration::from_secs(721 * 3600),
            query_timeout: Duration::from_secs(60),
            retention_period: Duration::ZERO,
            max_concurrent_tail_requests: 10,
            ingestion_rate_mb: 4.0,
            ingestion_burst_size_mb: 6.0,
            per_stream_rate_limit: 3 << 20,
            per_stream_rate_limit_burst: 15 << 20,
            max_global_streams_per_user: 5000,
            max_query_lookback: std::time::Duration::ZERO,
            otlp_config: OtlpConfig::default(),
        }
    }
}
