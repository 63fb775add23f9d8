//! The sections lokid reads, key by key: `server`, the data directory, `limits_config`
//! (with `retention_stream`), `querier`, `frontend`, `ingester`, `compactor`, `lokid`, and
//! the cross-field checks that turn into errors or startup warnings.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_yaml_ng::Value;

use super::read::{self, Reader};
use super::{set, units, Config, RetentionStream, LOG_FORMATS, LOG_LEVELS};
use crate::limits::Limits;

/// Paths whose parent becomes the data directory when `common.path_prefix` is absent,
/// in order of preference: where the chunks went, then the index, then the ingester WAL.
const DATA_DIR_HINTS: [&[&str]; 6] = [
    &["common", "storage", "filesystem", "chunks_directory"],
    &["storage_config", "filesystem", "directory"],
    &["storage_config", "tsdb_shipper", "active_index_directory"],
    &["storage_config", "boltdb_shipper", "active_index_directory"],
    &["storage_config", "boltdb", "directory"],
    &["ingester", "wal", "dir"],
];

impl Config {
    pub(super) fn read_server(&mut self, r: &mut Reader) {
        set(&mut self.auth_enabled, r.bool(&["auth_enabled"]));
        let addr_key = ["server", "http_listen_address"];
        if let Some(a) = r.string(&addr_key) {
            let bare = a.trim_start_matches('[').trim_end_matches(']');
            if a.is_empty() {
                self.http_listen_address = "0.0.0.0".into();
            } else if bare.parse::<std::net::IpAddr>().is_ok()
                || bare.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
            {
                self.http_listen_address = bare.to_string();
            } else {
                r.invalid_text(&addr_key, &a, format!("invalid address {a:?}"));
            }
        }
        set(&mut self.http_listen_port, r.int(&["server", "http_listen_port"], 0, 65535).map(|p| p as u16));
        set(&mut self.grpc_listen_port, r.int(&["server", "grpc_listen_port"], 0, 65535).map(|p| p as u16));
        set(&mut self.http_server_read_timeout, r.duration(&["server", "http_server_read_timeout"]));
        set(&mut self.http_server_write_timeout, r.duration(&["server", "http_server_write_timeout"]));
        set(&mut self.http_server_idle_timeout, r.duration(&["server", "http_server_idle_timeout"]));
        for (k, allowed, field) in [
            ("log_level", &LOG_LEVELS[..], &mut self.log_level),
            ("log_format", &LOG_FORMATS[..], &mut self.log_format),
        ] {
            if let Some(v) = r.string(&["server", k]) {
                let lower = v.to_ascii_lowercase();
                if allowed.contains(&lower.as_str()) {
                    *field = lower;
                } else {
                    r.invalid_text(&["server", k], &v, format!("invalid value {v:?} (one of {})", allowed.join(", ")));
                }
            }
        }
        // `target: all` is what lokid is; anything else gets a warning in `check`.
        r.get(&["target"]);
    }

    /// `lokid.data_dir`, else `common.path_prefix`, else the parent of the first chunk or
    /// index directory in the file, else `./data`.
    pub(super) fn read_data_dir(&mut self, r: &mut Reader) {
        for path in [&["lokid", "data_dir"][..], &["common", "path_prefix"]] {
            if let Some(p) = r.string(path).filter(|p| !p.is_empty()) {
                self.data_dir = PathBuf::from(p);
                self.data_dir_source = read::key(path);
                return;
            }
        }
        for path in DATA_DIR_HINTS {
            if let Some(p) = r.string(path).filter(|p| !p.is_empty()) {
                let p = PathBuf::from(p);
                self.data_dir = match p.parent() {
                    Some(parent) if parent.as_os_str().is_empty() => PathBuf::from("."),
                    Some(parent) => parent.to_path_buf(),
                    None => p,
                };
                self.data_dir_source = format!("parent of {}", read::key(path));
                return;
            }
        }
    }

    pub(super) fn read_limits(&mut self, r: &mut Reader) {
        read_limits_at(&mut self.limits, r, &["limits_config"]);
        self.retention_streams = read_retention_streams(r);
    }

    pub(super) fn read_components(&mut self, r: &mut Reader) {
        set(&mut self.querier.max_concurrent, r.usize(&["querier", "max_concurrent"]));
        set(&mut self.querier.tail_max_duration, r.duration(&["querier", "tail_max_duration"]));
        if let Some((negative, d)) = r.signed_duration(&["frontend", "log_queries_longer_than"]) {
            self.frontend.log_queries_longer_than = match (negative, d.is_zero()) {
                (true, _) => Some(Duration::ZERO),
                (false, true) => None,
                (false, false) => Some(d),
            };
        }
        set(&mut self.frontend.compress_responses, r.bool(&["frontend", "compress_responses"]));
        set(&mut self.max_chunk_age, r.duration(&["ingester", "max_chunk_age"]));

        let c = &mut self.compactor;
        set(&mut c.retention_enabled, r.bool(&["compactor", "retention_enabled"]));
        set(&mut c.compaction_interval, r.duration(&["compactor", "compaction_interval"]));
        set(&mut c.retention_delete_delay, r.duration(&["compactor", "retention_delete_delay"]));
        set(&mut c.delete_request_cancel_period, r.duration(&["compactor", "delete_request_cancel_period"]));
        set(&mut c.retention_max_disk_bytes, r.bytes(&["compactor", "retention_max_disk_bytes"]));
        c.working_directory =
            r.string(&["compactor", "working_directory"]).filter(|s| !s.is_empty()).map(PathBuf::from);
        c.delete_request_store = r.string(&["compactor", "delete_request_store"]).filter(|s| !s.is_empty());

        set(&mut self.sync_writes, r.bool(&["lokid", "sync_writes"]));
        set(&mut self.block_target_bytes, r.bytes(&["lokid", "block_target_bytes"]));
        set(&mut self.block_cache_bytes, r.bytes(&["lokid", "block_cache_bytes"]));
        set(&mut self.query_memory_bytes, r.bytes(&["lokid", "query_memory_bytes"]));
        set(&mut self.write_buffer_bytes, r.bytes(&["lokid", "write_buffer_bytes"]));
    }

    /// Cross-field checks (errors go to `r`) and warnings.
    pub(super) fn check(&self, r: &mut Reader) -> Vec<String> {
        if self.compactor.compaction_interval.is_zero() {
            r.error(&["compactor", "compaction_interval"], "must be greater than 0");
        }
        if self.block_target_bytes == 0 {
            r.error(&["lokid", "block_target_bytes"], "must be greater than 0");
        }
        if self.querier.max_concurrent == 0 {
            r.error(&["querier", "max_concurrent"], "must be greater than 0");
        }
        let mut warnings = Vec::new();
        let has_retention = !self.limits.retention_period.is_zero() || !self.retention_streams.is_empty();
        if has_retention && !self.compactor.retention_enabled {
            warnings.push(
                "limits_config.retention_period/retention_stream are set but compactor.retention_enabled \
                 is false: as in Loki, nothing is deleted"
                    .to_string(),
            );
        }
        if r.peek(&["table_manager", "retention_deletes_enabled"]).and_then(Value::as_bool) == Some(true) {
            warnings.push(
                "table_manager retention is not supported: use compactor.retention_enabled and \
                 limits_config.retention_period"
                    .to_string(),
            );
        }
        if let Some(t) = r.peek(&["target"]).and_then(Value::as_str) {
            if t != "all" {
                warnings.push(format!("target: lokid always runs every component (all), not {t:?}"));
            }
        }
        if !r.expanded() {
            for (what, value) in [
                ("lokid data directory", self.data_dir.to_string_lossy()),
                (
                    "compactor.working_directory",
                    self.compactor.working_directory.as_deref().unwrap_or(Path::new("")).to_string_lossy(),
                ),
            ] {
                if value.contains("${") {
                    warnings.push(format!(
                        "{what} {value:?} contains an environment variable reference: start lokid with \
                         -config.expand-env=true to expand it"
                    ));
                }
            }
        }
        warnings
    }
}

/// Reads Loki's limit keys under `prefix` (`limits_config`, or `overrides.<tenant>` in the
/// runtime config file) into `l`; keys that are absent keep `l`'s value.
pub(super) fn read_limits_at(l: &mut Limits, r: &mut Reader, prefix: &[&str]) {
    let k = |name: &'static str| -> Vec<&str> {
        let mut v: Vec<&str> = prefix.to_vec();
        v.push(name);
        v
    };
    set(&mut l.reject_old_samples, r.bool(&k("reject_old_samples")));
    set(&mut l.reject_old_samples_max_age, r.duration(&k("reject_old_samples_max_age")));
    set(&mut l.creation_grace_period, r.duration(&k("creation_grace_period")));
    set(&mut l.max_line_size, r.bytes(&k("max_line_size")));
    set(&mut l.max_line_size_truncate, r.bool(&k("max_line_size_truncate")));
    set(&mut l.max_label_names_per_series, r.usize(&k("max_label_names_per_series")));
    set(&mut l.max_label_name_length, r.usize(&k("max_label_name_length")));
    set(&mut l.max_label_value_length, r.usize(&k("max_label_value_length")));
    set(&mut l.allow_structured_metadata, r.bool(&k("allow_structured_metadata")));
    set(&mut l.max_structured_metadata_size, r.bytes(&k("max_structured_metadata_size")));
    set(&mut l.max_structured_metadata_entries_count, r.usize(&k("max_structured_metadata_entries_count")));
    set(&mut l.discover_service_name, r.string_list(&k("discover_service_name")));
    set(&mut l.discover_log_levels, r.bool(&k("discover_log_levels")));
    set(&mut l.max_entries_limit_per_query, r.usize(&k("max_entries_limit_per_query")));
    set(&mut l.max_query_series, r.usize(&k("max_query_series")));
    set(&mut l.max_query_length, r.duration(&k("max_query_length")));
    set(&mut l.retention_period, r.duration(&k("retention_period")));
    set(&mut l.ingestion_rate_mb, r.f64(&k("ingestion_rate_mb")));
    set(&mut l.ingestion_burst_size_mb, r.f64(&k("ingestion_burst_size_mb")));
    set(&mut l.per_stream_rate_limit, r.bytes(&k("per_stream_rate_limit")));
    set(&mut l.per_stream_rate_limit_burst, r.bytes(&k("per_stream_rate_limit_burst")));
    set(&mut l.max_global_streams_per_user, r.usize(&k("max_global_streams_per_user")));
    set(&mut l.max_query_lookback, r.duration(&k("max_query_lookback")));
    super::otlp::read_otlp_config(&mut l.otlp_config, r, &k("otlp_config"));
    set(&mut l.max_concurrent_tail_requests, r.usize(&k("max_concurrent_tail_requests")));
    // Loki 2.x had the query timeout under `querier`; the limits value wins.
    let timeout = r
        .duration(&k("query_timeout"))
        .or_else(|| r.duration(&["querier", "query_timeout"]))
        .or_else(|| r.duration(&["querier", "engine", "timeout"]));
    set(&mut l.query_timeout, timeout);
}

fn read_retention_streams(r: &mut Reader) -> Vec<RetentionStream> {
    let path = ["limits_config", "retention_stream"];
    let Some(v) = r.get(&path) else {
        return Vec::new();
    };
    let Some(items) = v.as_sequence() else {
        r.error(&path, format!("expected a list of {{selector, priority, period}}, got {}", read::describe(v)));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let base = format!("limits_config.retention_stream[{i}]");
        let Some(m) = item.as_mapping() else {
            r.error(&[&base], format!("expected a mapping, got {}", read::describe(item)));
            continue;
        };
        // Each rule is read with its own walker so errors carry the index.
        let mut sub = Reader::new(item, r.expanded());
        let selector = sub.string(&["selector"]).unwrap_or_default();
        let priority = sub.int(&["priority"], i64::MIN, i64::MAX).unwrap_or(0);
        let period = sub.duration(&["period"]);
        for e in sub.errors.drain(..) {
            r.push_error(format!("{base}.{e}"));
        }
        for k in sub.unused() {
            r.extra_unused.push(format!("{base}.{k}"));
        }
        let s = selector.trim();
        if !(s.starts_with('{') && s.ends_with('}')) {
            r.error(
                &[&base, "selector"],
                format!("expected a stream selector such as {{app=\"nginx\"}}, got {selector:?}"),
            );
        }
        match period {
            None if m.get("period").is_none() => r.error(&[&base, "period"], "missing"),
            Some(p) if p < Duration::from_secs(24 * 3600) => {
                r.error(&[&base, "period"], format!("must be at least 24h, got {}", units::format_duration(p)))
            }
            Some(p) => out.push(RetentionStream { selector: s.to_string(), priority, period: p }),
            None => {}
        }
    }
    out
}
