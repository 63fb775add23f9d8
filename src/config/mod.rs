//! Configuration: a Loki-style YAML file, `-config.expand-env`, and command-line overrides.
//!
//! lokid reads the same file a single-binary Loki reads. The keys it understands (server
//! address and port, `common.path_prefix`, `limits_config`, compactor retention, a few
//! querier/frontend/ingester settings, and our own `lokid:` section) are typed and checked;
//! an invalid value is an error naming the key path (`limits_config.retention_period:
//! invalid duration "14 days": ...`). Everything else a Loki config holds (`schema_config`,
//! `storage_config`, rings, caches, ...) is accepted and listed in [`Config::unused_keys`]
//! so the server can print one startup warning. `docs/configuration.md` lists every key.
//!
//! Layout: `units` (durations and byte sizes), `env` (`${VAR}` expansion), `read` (the YAML
//! walker), `render` ([`Config::to_yaml`]), `cli` (the command line).

mod cli;
mod env;
mod otlp;
mod read;
mod render;
mod sections;
#[cfg(test)]
mod tests;
pub mod units;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_yaml_ng::Value;

pub use cli::{help_text, parse_cli, CliArgs, CliOverrides};
pub use env::{expand_env, expand_env_with};

use crate::limits::Limits;
use read::Reader;

/// The effective configuration. Field names follow Loki's keys where there is one.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// `auth_enabled`: take the tenant from `X-Scope-OrgID`. Default **false** (Loki's
    /// binary defaults to true; single-node configs set false). When false every request
    /// belongs to tenant `fake`, as in Loki.
    pub auth_enabled: bool,
    /// `server.http_listen_address`, default `0.0.0.0` (an empty value means the same).
    pub http_listen_address: String,
    /// `server.http_listen_port`, default 3100.
    pub http_listen_port: u16,
    /// `server.grpc_listen_port`: accepted and shown, lokid serves no gRPC. Default 9095.
    pub grpc_listen_port: u16,
    /// `server.http_server_read_timeout` / `write_timeout` / `idle_timeout` (30s, 30s, 2m).
    pub http_server_read_timeout: Duration,
    pub http_server_write_timeout: Duration,
    pub http_server_idle_timeout: Duration,
    /// `server.log_level`: `debug`, `info`, `warn` or `error`. Default `info`.
    pub log_level: String,
    /// `server.log_format`: `logfmt` or `json`. Default `logfmt`.
    pub log_format: String,
    /// Data directory; RocksDB lives in [`Config::store_dir`]. See [`Config::data_dir_source`].
    pub data_dir: PathBuf,
    /// Where `data_dir` came from, for the startup log: `lokid.data_dir`,
    /// `common.path_prefix`, `parent of storage_config.filesystem.directory`, `default`, ...
    pub data_dir_source: String,
    /// `limits_config`.
    pub limits: Limits,
    /// `limits_config.retention_stream`, in file order.
    pub retention_streams: Vec<RetentionStream>,
    pub compactor: CompactorConfig,
    pub querier: QuerierConfig,
    pub frontend: FrontendConfig,
    /// `ingester.max_chunk_age` (default 2h). Loki accepts out-of-order entries down to
    /// `newest entry of the stream - max_chunk_age / 2`.
    pub max_chunk_age: Duration,
    /// `lokid.sync_writes`: fsync the RocksDB WAL on every push. Default false.
    pub sync_writes: bool,
    /// `lokid.block_target_bytes`: uncompressed size of the blocks the merger builds from
    /// small per-push blocks. Default 1MB.
    pub block_target_bytes: u64,
    /// `lokid.block_cache_bytes`: RocksDB block cache. Default 32MB.
    pub block_cache_bytes: u64,
    /// `lokid.query_memory_bytes`: what one query may hold at once (decoded blocks of a log
    /// query's merge, samples of a metric query's chunk of steps); 0 = unlimited. Default
    /// 512MB.
    pub query_memory_bytes: u64,
    /// `lokid.write_buffer_bytes`: RocksDB memtable size. Default 16MB.
    pub write_buffer_bytes: u64,
    /// Keys in the file lokid does not use, in file order (`schema_config`,
    /// `ingester.chunk_idle_period`, ...). See [`Config::unused_keys_warning`].
    pub unused_keys: Vec<String>,
    /// `runtime_config.file`: Loki's runtime config with per-tenant `overrides`.
    pub runtime_config_file: Option<PathBuf>,
    /// Per-tenant limits from the runtime config file (see [`Config::limits_for`]).
    pub overrides: std::collections::HashMap<String, Limits>,
    /// Other things worth a startup warning (retention configured but disabled, `${VAR:x}`
    /// written without the dash, ...).
    pub warnings: Vec<String>,
}

/// One `limits_config.retention_stream` rule. The selector is checked only for its braces
/// here; the retention code parses it.
#[derive(Clone, Debug, PartialEq)]
pub struct RetentionStream {
    pub selector: String,
    /// Higher wins when several rules match.
    pub priority: i64,
    /// At least 24h, as Loki requires.
    pub period: Duration,
}

/// `compactor`: retention settings.
#[derive(Clone, Debug, PartialEq)]
pub struct CompactorConfig {
    /// Retention (`limits_config.retention_period`, `retention_stream`) deletes data only
    /// when this is true, as in Loki. Default false.
    pub retention_enabled: bool,
    /// How often the compactor/retention pass runs. Default 10m.
    pub compaction_interval: Duration,
    /// Delay between marking data expired and deleting it. Default 2h.
    pub retention_delete_delay: Duration,
    /// Delete requests can be cancelled this long after creation and are applied after
    /// it. Default 24h (Loki's).
    pub delete_request_cancel_period: Duration,
    /// lokid's own: when the data directory grows past this many bytes the compactor
    /// deletes the oldest days first. 0 = no cap (default).
    pub retention_max_disk_bytes: u64,
    /// Accepted and shown; lokid keeps everything under `data_dir`.
    pub working_directory: Option<PathBuf>,
    /// Accepted and shown (Loki 3.1+ requires it with retention); unused.
    pub delete_request_store: Option<String>,
}

/// `querier`.
#[derive(Clone, Debug, PartialEq)]
pub struct QuerierConfig {
    /// `querier.max_concurrent`: queries executed at once. Default 4 (Loki 3's default).
    pub max_concurrent: usize,
    /// `querier.tail_max_duration`: longest a live tail stays open. Default 1h.
    pub tail_max_duration: Duration,
}

/// `frontend`.
#[derive(Clone, Debug, PartialEq)]
pub struct FrontendConfig {
    /// `frontend.log_queries_longer_than`: `None` = off (Loki's `0s`); `Some(ZERO)` = log
    /// every query (Loki's negative values); else the threshold.
    pub log_queries_longer_than: Option<Duration>,
    /// `frontend.compress_responses`: gzip responses when the client accepts it. Default
    /// true (Loki 3's default).
    pub compress_responses: bool,
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    NotFound(String),
    #[error("{path}: expanding environment variables: {msg}")]
    Env { path: PathBuf, msg: String },
    #[error("parsing YAML: {0}")]
    Yaml(String),
    /// One or more invalid values, each `key.path: what is wrong`.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error("{path}: {source}")]
    InFile { path: PathBuf, source: Box<ConfigError> },
}

impl Default for Config {
    fn default() -> Self {
        Config {
            auth_enabled: false,
            http_listen_address: "0.0.0.0".into(),
            http_listen_port: 3100,
            grpc_listen_port: 9095,
            http_server_read_timeout: Duration::from_secs(30),
            http_server_write_timeout: Duration::from_secs(30),
            http_server_idle_timeout: Duration::from_secs(120),
            log_level: "info".into(),
            log_format: "logfmt".into(),
            data_dir: PathBuf::from("./data"),
            data_dir_source: "default".into(),
            limits: Limits::default(),
            retention_streams: Vec::new(),
            compactor: CompactorConfig::default(),
            querier: QuerierConfig { max_concurrent: 4, tail_max_duration: Duration::from_secs(3600) },
            frontend: FrontendConfig { log_queries_longer_than: None, compress_responses: true },
            max_chunk_age: Duration::from_secs(2 * 3600),
            sync_writes: false,
            block_target_bytes: 1 << 20,
            block_cache_bytes: 32 << 20,
            query_memory_bytes: 512 << 20,
            write_buffer_bytes: 16 << 20,
            unused_keys: Vec::new(),
            runtime_config_file: None,
            overrides: Default::default(),
            warnings: Vec::new(),
        }
    }
}

impl Default for CompactorConfig {
    fn default() -> Self {
        CompactorConfig {
            retention_enabled: false,
            compaction_interval: Duration::from_secs(600),
            retention_delete_delay: Duration::from_secs(2 * 3600),
            delete_request_cancel_period: Duration::from_secs(24 * 3600),
            retention_max_disk_bytes: 0,
            working_directory: None,
            delete_request_store: None,
        }
    }
}

const LOG_LEVELS: [&str; 4] = ["debug", "info", "warn", "error"];
const LOG_FORMATS: [&str; 2] = ["logfmt", "json"];

impl Config {
    /// Parses YAML text as is (no environment expansion).
    pub fn from_yaml_str(s: &str) -> Result<Config, ConfigError> {
        Self::parse(s, false, Vec::new())
    }

    /// Parses YAML text after expanding `${VAR}` references with `lookup`.
    pub fn from_yaml_str_with_env(s: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let (text, warnings) =
            expand_env_with(s, lookup).map_err(|msg| ConfigError::Env { path: "config".into(), msg })?;
        Self::parse(&text, true, warnings)
    }

    /// Reads a config file, expanding environment variables first if asked (Loki's
    /// `-config.expand-env=true`). Errors are prefixed with the path.
    pub fn load(path: &Path, expand_env: bool) -> Result<Config, ConfigError> {
        let raw =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let (text, warnings) = if expand_env {
            env::expand_env(&raw).map_err(|msg| ConfigError::Env { path: path.to_path_buf(), msg })?
        } else {
            (raw, Vec::new())
        };
        Self::parse(&text, expand_env, warnings)
            .map_err(|e| ConfigError::InFile { path: path.to_path_buf(), source: Box::new(e) })
    }

    /// What `lokid` runs with: the file named on the command line (or defaults), then the
    /// command-line overrides on top, as Loki does.
    pub fn from_cli(args: &CliArgs) -> Result<Config, ConfigError> {
        let mut config = match &args.config_file {
            Some(arg) => Self::load(&resolve_config_path(arg)?, args.expand_env)?,
            None => Config::default(),
        };
        config.apply_overrides(&args.overrides);
        Ok(config)
    }

    /// Applies command-line overrides (already validated by [`parse_cli`]).
    pub fn apply_overrides(&mut self, o: &CliOverrides) {
        if let Some(a) = &o.http_listen_address {
            self.http_listen_address = if a.is_empty() { "0.0.0.0".into() } else { a.clone() };
        }
        if let Some(p) = o.http_listen_port {
            self.http_listen_port = p;
        }
        if let Some(p) = &o.path_prefix {
            self.data_dir = p.clone();
            self.data_dir_source = "-common.path-prefix".into();
        }
        if let Some(l) = &o.log_level {
            self.log_level = l.clone();
        }
        if let Some(f) = &o.log_format {
            self.log_format = f.clone();
        }
        if let Some(a) = o.auth_enabled {
            self.auth_enabled = a;
        }
        if let Some(r) = o.retention_enabled {
            self.compactor.retention_enabled = r;
        }
        if let Some(r) = o.retention_period {
            self.limits.retention_period = r;
        }
    }

    /// Where RocksDB keeps its files: `<data_dir>/lokid`.
    pub fn store_dir(&self) -> PathBuf {
        self.data_dir.join("lokid")
    }

    /// `address:port` to bind, with brackets around an IPv6 address.
    pub fn listen_addr(&self) -> String {
        let a = self.http_listen_address.trim_start_matches('[').trim_end_matches(']');
        if a.contains(':') {
            format!("[{a}]:{}", self.http_listen_port)
        } else {
            format!("{a}:{}", self.http_listen_port)
        }
    }

    /// True when the compactor will delete anything: retention is enabled and a period or a
    /// stream rule is set.
    pub fn retention_active(&self) -> bool {
        self.compactor.retention_enabled
            && (!self.limits.retention_period.is_zero() || !self.retention_streams.is_empty())
    }

    /// The one startup warning about ignored keys, or `None` when every key was used.
    /// The limits of `tenant`: its `overrides` entry from the runtime config file, else
    /// `limits_config`.
    pub fn limits_for(&self, tenant: &str) -> &Limits {
        self.overrides.get(tenant).unwrap_or(&self.limits)
    }

    /// Reads Loki's runtime config file (`runtime_config.file`): per-tenant limits under
    /// `overrides: {<tenant>: {<limits_config keys>}}`, each starting from `limits_config`.
    fn read_overrides(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::Invalid(vec![format!("runtime_config.file: cannot read {}: {e}", path.display())])
        })?;
        let root: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_yaml_ng::from_str(&text).map_err(|e| ConfigError::Yaml(format!("{}: {e}", path.display())))?
        };
        let tenants: Vec<String> = match root.get("overrides") {
            Some(Value::Mapping(m)) => m.keys().filter_map(|k| k.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        };
        let mut r = Reader::new(&root, true);
        for t in tenants {
            let mut l = self.limits.clone();
            sections::read_limits_at(&mut l, &mut r, &["overrides", &t]);
            self.overrides.insert(t, l);
        }
        if !r.errors.is_empty() {
            return Err(ConfigError::Invalid(r.errors.iter().map(|e| format!("{}: {e}", path.display())).collect()));
        }
        Ok(())
    }

    pub fn unused_keys_warning(&self) -> Option<String> {
        (!self.unused_keys.is_empty())
            .then(|| format!("config keys not used by lokid: {}", self.unused_keys.join(", ")))
    }

    fn parse(text: &str, expanded: bool, mut warnings: Vec<String>) -> Result<Config, ConfigError> {
        let mut root: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| ConfigError::Yaml(e.to_string()))?
        };
        root.apply_merge().map_err(|e| ConfigError::Yaml(e.to_string()))?;
        if !matches!(root, Value::Null | Value::Mapping(_)) {
            return Err(ConfigError::Invalid(vec![format!(
                "config: expected a mapping at the top level, got {}",
                read::describe(&root)
            )]));
        }
        let mut r = Reader::new(&root, expanded);
        let mut c = Config::default();
        c.read_server(&mut r);
        c.read_data_dir(&mut r);
        c.read_limits(&mut r);
        c.runtime_config_file = r.string(&["runtime_config", "file"]).filter(|s| !s.is_empty()).map(PathBuf::from);
        c.read_components(&mut r);
        warnings.extend(c.check(&mut r));
        if !r.errors.is_empty() {
            return Err(ConfigError::Invalid(r.errors));
        }
        c.unused_keys = r.unused();
        c.warnings = warnings;
        if let Some(path) = c.runtime_config_file.clone() {
            c.read_overrides(&path)?;
        }
        Ok(c)
    }
}

/// Resolves `-config.file`: the path itself, or for a comma-separated list (as Loki
/// accepts), the first one that exists.
pub fn resolve_config_path(arg: &Path) -> Result<PathBuf, ConfigError> {
    if arg.exists() {
        return Ok(arg.to_path_buf());
    }
    let text = arg.to_string_lossy();
    text.split(',').map(|p| PathBuf::from(p.trim())).find(|p| !p.as_os_str().is_empty() && p.exists()).ok_or_else(
        || ConfigError::NotFound(format!("{text} does not exist, set -config.file for a custom config path")),
    )
}

fn set<T>(dst: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *dst = v;
    }
}
