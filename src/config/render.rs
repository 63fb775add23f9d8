//! [`Config::to_yaml`]: the effective configuration as Loki-style YAML, for `GET /config`.
//!
//! Only keys lokid uses are printed (with their effective values, defaults included);
//! unused keys from the file are not echoed, so secrets in `storage_config` and the like
//! never reach the endpoint. Durations print as Prometheus does (`2w`, `30d1h`), sizes as
//! Loki's ByteSize does (`256KB`); the output loads back into the same `Config`.

use serde_yaml_ng::{Mapping, Value};

use super::units::{format_bytes, format_duration};
use super::Config;

#[derive(Default)]
struct Map(Mapping);

impl Map {
    fn put(mut self, key: &str, v: impl Into<Value>) -> Self {
        self.0.insert(Value::String(key.into()), v.into());
        self
    }
    fn dur(self, key: &str, d: std::time::Duration) -> Self {
        self.put(key, format_duration(d))
    }
    fn size(self, key: &str, n: u64) -> Self {
        self.put(key, format_bytes(n))
    }
    fn sub(self, key: &str, m: Map) -> Self {
        self.put(key, Value::Mapping(m.0))
    }
}

impl Config {
    /// The effective configuration as YAML with Loki's key names.
    pub fn to_yaml(&self) -> String {
        let server = Map::default()
            .put("http_listen_address", self.http_listen_address.as_str())
            .put("http_listen_port", self.http_listen_port)
            .put("grpc_listen_port", self.grpc_listen_port)
            .dur("http_server_read_timeout", self.http_server_read_timeout)
            .dur("http_server_write_timeout", self.http_server_write_timeout)
            .dur("http_server_idle_timeout", self.http_server_idle_timeout)
            .put("log_level", self.log_level.as_str())
            .put("log_format", self.log_format.as_str());
        let common = Map::default().put("path_prefix", self.data_dir.to_string_lossy().as_ref());
        let l = &self.limits;
        let streams: Vec<Value> = self
            .retention_streams
            .iter()
            .map(|s| {
                let m = Map::default()
                    .put("selector", s.selector.as_str())
                    .put("priority", s.priority)
                    .dur("period", s.period);
                Value::Mapping(m.0)
            })
            .collect();
        let mut limits = Map::default()
            .put("reject_old_samples", l.reject_old_samples)
            .dur("reject_old_samples_max_age", l.reject_old_samples_max_age)
            .dur("creation_grace_period", l.creation_grace_period)
            .size("max_line_size", l.max_line_size)
            .put("max_line_size_truncate", l.max_line_size_truncate)
            .put("max_label_names_per_series", l.max_label_names_per_series as u64)
            .put("max_label_name_length", l.max_label_name_length as u64)
            .put("max_label_value_length", l.max_label_value_length as u64)
            .put("allow_structured_metadata", l.allow_structured_metadata)
            .size("max_structured_metadata_size", l.max_structured_metadata_size)
            .put("max_structured_metadata_entries_count", l.max_structured_metadata_entries_count as u64)
            .put(
                "discover_service_name",
                Value::Sequence(l.discover_service_name.iter().map(|s| Value::String(s.clone())).collect()),
            )
            .put("discover_log_levels", l.discover_log_levels)
            .put("max_entries_limit_per_query", l.max_entries_limit_per_query as u64)
            .put("max_query_series", l.max_query_series as u64)
            .dur("max_query_length", l.max_query_length)
            .dur("query_timeout", l.query_timeout)
            .dur("retention_period", l.retention_period)
            .put("ingestion_rate_mb", l.ingestion_rate_mb)
            .put("ingestion_burst_size_mb", l.ingestion_burst_size_mb)
            .size("per_stream_rate_limit", l.per_stream_rate_limit)
            .size("per_stream_rate_limit_burst", l.per_stream_rate_limit_burst)
            .put("max_global_streams_per_user", l.max_global_streams_per_user as u64)
            .dur("max_query_lookback", l.max_query_lookback)
            .put("max_concurrent_tail_requests", l.max_concurrent_tail_requests as u64);
        if !streams.is_empty() {
            limits = limits.put("retention_stream", Value::Sequence(streams));
        }
        let c = &self.compactor;
        let mut compactor = Map::default()
            .put("retention_enabled", c.retention_enabled)
            .dur("compaction_interval", c.compaction_interval)
            .dur("retention_delete_delay", c.retention_delete_delay)
            .dur("delete_request_cancel_period", c.delete_request_cancel_period)
            .size("retention_max_disk_bytes", c.retention_max_disk_bytes);
        if let Some(w) = &c.working_directory {
            compactor = compactor.put("working_directory", w.to_string_lossy().as_ref());
        }
        if let Some(s) = &c.delete_request_store {
            compactor = compactor.put("delete_request_store", s.as_str());
        }
        let slow = match self.frontend.log_queries_longer_than {
            None => "0s".to_string(),
            Some(d) if d.is_zero() => "-1s".to_string(),
            Some(d) => format_duration(d),
        };
        let root = Map::default()
            .put("auth_enabled", self.auth_enabled)
            .sub("server", server)
            .sub("common", common)
            .sub("limits_config", limits)
            .sub("compactor", compactor)
            .sub("ingester", Map::default().dur("max_chunk_age", self.max_chunk_age))
            .sub(
                "querier",
                Map::default()
                    .put("max_concurrent", self.querier.max_concurrent as u64)
                    .dur("tail_max_duration", self.querier.tail_max_duration),
            )
            .sub(
                "frontend",
                Map::default()
                    .put("log_queries_longer_than", slow)
                    .put("compress_responses", self.frontend.compress_responses),
            )
            .sub(
                "lokid",
                Map::default()
                    .put("sync_writes", self.sync_writes)
                    .size("block_target_bytes", self.block_target_bytes)
                    .size("block_cache_bytes", self.block_cache_bytes)
                    .size("query_memory_bytes", self.query_memory_bytes)
                    .size("write_buffer_bytes", self.write_buffer_bytes),
            );
        serde_yaml_ng::to_string(&Value::Mapping(root.0)).expect("a mapping of scalars serializes")
    }
}
