//! Loader tests: the 20 real Loki configs in `tests/fixtures/loki-configs`, the example file,
//! errors that name the key, defaults, data-directory derivation, env expansion, overrides,
//! and the `to_yaml` round trip.

use super::*;

const H: u64 = 3600;
const D: u64 = 24 * H;

fn shared_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/loki-configs")
}

/// The shared configs, sorted by name, with their text.
fn shared_configs() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(shared_dir())
        .expect("tests/fixtures/loki-configs is readable")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    out.sort();
    out
}

fn shared(name_prefix: &str) -> Config {
    let (_, text) = shared_configs().into_iter().find(|(n, _)| n.starts_with(name_prefix)).unwrap();
    Config::from_yaml_str_with_env(&text, |_| None).unwrap()
}

fn parse(yaml: &str) -> Config {
    Config::from_yaml_str(yaml).unwrap_or_else(|e| panic!("{yaml}\n=> {e}"))
}

fn err(yaml: &str) -> String {
    match Config::from_yaml_str(yaml) {
        Ok(_) => panic!("should fail:\n{yaml}"),
        Err(e) => e.to_string(),
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn every_shared_config_loads_with_expand_env() {
    let configs = shared_configs();
    assert_eq!(configs.len(), 20);
    for (name, text) in &configs {
        let c = Config::from_yaml_str_with_env(text, |_| None).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(c.http_listen_port, 3100, "{name}");
        assert!(!c.unused_keys.is_empty(), "{name}: every real config has Loki-only keys");
        assert!(c.unused_keys_warning().unwrap().starts_with("config keys not used by lokid: "));
    }
}

#[test]
fn shared_configs_without_expand_env() {
    // Loki fails on an unexpanded placeholder only where a typed value is expected; so
    // does lokid. Only 09 has one in a key lokid reads (07's are all in storage and rings).
    for (name, text) in shared_configs() {
        let result = Config::from_yaml_str(&text);
        if name.starts_with("09-") {
            let e = result.unwrap_err().to_string();
            assert!(
                e.starts_with("limits_config.retention_period: invalid duration \"${RETENTION_PERIOD:744h}\""),
                "{e}"
            );
            assert!(e.contains("-config.expand-env=true"), "{e}");
        } else {
            result.unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}

#[test]
fn load_reads_a_file() {
    let c = Config::load(&shared_dir().join("18-HomeLab.yaml"), false).unwrap();
    assert_eq!(c.limits.retention_period, secs(30 * D));
    assert_eq!(c.log_level, "warn");
    let e = Config::load(Path::new("/nonexistent/loki.yaml"), false).unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }), "{e}");
}

#[test]
fn oldest_style_config_01() {
    let c = shared("01-");
    assert_eq!(c.data_dir, PathBuf::from("/tmp/loki"));
    assert_eq!(c.data_dir_source, "parent of storage_config.filesystem.directory");
    assert!(c.limits.reject_old_samples);
    assert_eq!(c.limits.reject_old_samples_max_age, secs(168 * H));
    assert_eq!(
        c.unused_keys,
        [
            "ingester.lifecycler",
            "ingester.chunk_idle_period",
            "ingester.chunk_retain_period",
            "ingester.max_transfer_retries",
            "schema_config",
            "storage_config.boltdb",
            "limits_config.enforce_metric_name",
            "chunk_store_config",
            "table_manager",
        ]
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn unused_keys_warning_06() {
    let c = shared("06-");
    assert_eq!(c.data_dir, PathBuf::from("/loki"));
    assert_eq!(c.store_dir(), PathBuf::from("/loki/lokid"));
    assert_eq!(c.max_chunk_age, secs(60));
    assert_eq!(
        c.unused_keys_warning().unwrap(),
        "config keys not used by lokid: common.storage, common.replication_factor, common.ring, \
         ingester.chunk_idle_period, schema_config, analytics"
    );
}

#[test]
fn env_config_07() {
    let c = shared("07-");
    assert!(c.auth_enabled);
    assert_eq!(c.grpc_listen_port, 9096);
    assert_eq!(c.http_server_read_timeout, secs(310));
    assert_eq!(c.http_server_write_timeout, secs(310));
    assert_eq!(c.limits.query_timeout, secs(300), "Loki 2.x querier.query_timeout is the fallback");
    assert_eq!(c.max_chunk_age, secs(2 * H));
    assert!(c.unused_keys.contains(&"storage_config".to_string()));
    assert!(c.unused_keys.contains(&"querier.engine".to_string()));
    assert!(!c.unused_keys.iter().any(|k| k.starts_with("querier.query_timeout")));
}

#[test]
fn colon_default_config_09() {
    // Unset: `${VAR:text}` expands to empty, as in Loki, so retention stays off.
    let c = shared("09-");
    assert_eq!(c.limits.retention_period, Duration::ZERO);
    assert_eq!(c.data_dir, PathBuf::from("./data"));
    assert_eq!(c.limits.reject_old_samples_max_age, secs(H));
    assert!(c.compactor.retention_enabled);
    assert!(c.warnings[0].contains("line 88: ${RETENTION_PERIOD:744h}"), "{:?}", c.warnings);
    assert!(c.warnings.iter().any(|w| w.starts_with("table_manager retention")));
    // Set: the variables' values are used.
    let text = std::fs::read_to_string(shared_dir().join("09-userver-logger.yaml")).unwrap();
    let c = Config::from_yaml_str_with_env(&text, |k| match k {
        "RETENTION_PERIOD" => Some("744h".into()),
        "COMPACTOR_FOLDER" => Some("/srv/compactor".into()),
        "CHUNKS_FOLDER" => Some("/srv/loki/chunks".into()),
        _ => None,
    })
    .unwrap();
    assert_eq!(c.limits.retention_period, secs(744 * H));
    assert_eq!(c.compactor.working_directory, Some(PathBuf::from("/srv/compactor")));
    assert_eq!(c.data_dir, PathBuf::from("/srv/loki"));
    assert!(c.retention_active());
}

#[test]
fn retention_streams_config_10() {
    let c = shared("10-");
    assert!(c.auth_enabled);
    assert_eq!(c.limits.retention_period, secs(720 * H));
    assert_eq!(
        c.retention_streams,
        [
            RetentionStream { selector: r#"{job=~"infra/.*"}"#.into(), priority: 10, period: secs(2160 * H) },
            RetentionStream { selector: r#"{container="postgres"}"#.into(), priority: 5, period: secs(8760 * H) },
        ]
    );
    assert!(c.compactor.retention_enabled);
    assert!(c.retention_active());
    assert_eq!(
        c.unused_keys,
        [
            "common.storage",
            "common.replication_factor",
            "common.ring",
            "storage_config",
            "schema_config",
            "ruler",
            "compactor.shared_store",
            "analytics",
            "query_frontend",
            "ingester.lifecycler",
            "ingester.chunk_idle_period",
            "ingester.chunk_target_size",
            "ingester.max_transfer_retries",
        ]
    );
}

#[test]
fn values_from_other_shared_configs() {
    let c = shared("03-");
    assert_eq!(c.http_listen_address, "0.0.0.0");
    assert_eq!(c.data_dir, PathBuf::from("/data/loki"));
    assert_eq!(c.compactor.working_directory, Some(PathBuf::from("/data/loki/boltdb-shipper-compactor")));

    let c = shared("12-");
    assert_eq!(c.limits.retention_period, secs(180 * D));
    assert_eq!(c.limits.max_query_series, 100_000);
    assert_eq!(c.querier.max_concurrent, 2048);
    assert_eq!(c.http_server_read_timeout, secs(600));
    assert_eq!(c.compactor.retention_delete_delay, secs(2 * H));

    let c = shared("13-");
    assert_eq!(c.frontend.log_queries_longer_than, Some(secs(5)));
    assert_eq!(c.limits.query_timeout, secs(300));
    assert!(c.unused_keys.contains(&"reporting_enabled".to_string()));
    assert!(c.unused_keys.contains(&"frontend.max_outstanding_per_tenant".to_string()));

    let c = shared("16-");
    assert!(!c.limits.allow_structured_metadata);
    assert_eq!(c.limits.max_query_length, secs(744 * H));
    assert!(!c.retention_active());
    assert!(c.warnings[0].contains("compactor.retention_enabled is false"), "{:?}", c.warnings);

    let c = shared("21-");
    assert_eq!(c.log_level, "warn");
    assert_eq!(c.http_server_idle_timeout, secs(600));
    assert_eq!(c.limits.max_label_names_per_series, 300);
    assert_eq!(c.limits.max_label_value_length, 20480);
    assert_eq!(c.limits.max_label_name_length, 10240);
    assert_eq!(c.limits.max_entries_limit_per_query, 1_000_000);
    // Rate limits are read now (not reported as unused).
    assert_eq!(c.limits.per_stream_rate_limit, 512 << 20);
    assert_eq!(c.limits.per_stream_rate_limit_burst, 1024 << 20);
    assert_eq!(c.limits.ingestion_rate_mb, 10000.0);
    assert_eq!(c.limits.ingestion_burst_size_mb, 1000.0);
    assert!(!c.unused_keys.contains(&"limits_config.per_stream_rate_limit".to_string()));

    let c = shared("22-");
    assert_eq!(c.limits.max_query_length, secs(33 * D));
    assert_eq!(c.limits.query_timeout, secs(60));
    assert_eq!(c.limits.retention_period, secs(1440 * H));
    assert_eq!(c.compactor.compaction_interval, secs(H));
    assert_eq!(c.compactor.retention_delete_delay, secs(48 * H));
    assert_eq!(c.compactor.delete_request_store.as_deref(), Some("filesystem"));

    let c = shared("23-");
    assert_eq!(c.limits.retention_period, secs(14 * D));
    assert!(c.frontend.compress_responses);
    assert_eq!(c.limits.max_query_series, 10_000);

    let c = shared("30-");
    assert_eq!(c.data_dir, PathBuf::from("/var/loki"));
    assert_eq!(c.limits.retention_period, secs(336 * H));
    assert!(c.retention_active(), "lokid does not need delete_request_store");
}

#[test]
fn example_config_uses_every_key() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("loki-config.example.yaml");
    let c = Config::load(&path, false).unwrap();
    assert!(c.unused_keys.is_empty(), "{:?}", c.unused_keys);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert!(!c.auth_enabled);
    assert_eq!(c.listen_addr(), "0.0.0.0:3100");
    assert_eq!(c.data_dir, PathBuf::from("./data"));
    let l = &c.limits;
    assert!(!l.reject_old_samples);
    assert_eq!(l.reject_old_samples_max_age, secs(168 * H));
    assert_eq!(l.creation_grace_period, secs(600));
    assert_eq!(l.max_line_size, 256 * 1024);
    assert_eq!(l.max_label_names_per_series, 15);
    assert_eq!(l.retention_period, secs(336 * H));
    assert!(c.compactor.retention_enabled);
    assert_eq!(c.compactor.compaction_interval, secs(600));
    assert!(c.retention_active());
}

#[test]
fn empty_file_is_the_defaults() {
    assert_eq!(parse(""), Config::default());
    assert_eq!(parse("# only a comment\n"), Config::default());
    let d = Config::default();
    assert!(!d.auth_enabled);
    assert_eq!(d.listen_addr(), "0.0.0.0:3100");
    assert_eq!(d.store_dir(), PathBuf::from("./data/lokid"));
    assert_eq!(d.limits, Limits::default());
    assert!(d.unused_keys_warning().is_none());
}

#[test]
fn errors_name_the_key() {
    let e = err("limits_config:\n  retention_period: 14 days\n");
    assert!(e.starts_with("limits_config.retention_period: invalid duration \"14 days\""), "{e}");
    assert_eq!(err("server:\n  http_listen_port: abc\n"), "server.http_listen_port: expected an integer, got \"abc\"");
    assert_eq!(err("server:\n  http_listen_port: 70000\n"), "server.http_listen_port: 70000 is out of range (0-65535)");
    assert_eq!(err("auth_enabled: maybe\n"), "auth_enabled: expected true or false, got \"maybe\"");
    assert_eq!(err("server: 3100\n"), "server: expected a mapping, got 3100");
    assert_eq!(
        err("limits_config:\n  max_label_names_per_series: -1\n"),
        "limits_config.max_label_names_per_series: must not be negative, got -1"
    );
    assert_eq!(
        err("limits_config:\n  max_query_series: 1.5\n"),
        "limits_config.max_query_series: expected an integer, got 1.5"
    );
    assert!(err("limits_config:\n  max_line_size: 1.5MB\n")
        .starts_with("limits_config.max_line_size: invalid size \"1.5MB\""));
    assert!(err("server:\n  log_level: loud\n").starts_with("server.log_level: invalid value \"loud\""));
    assert!(err("server:\n  http_listen_address: not an address\n")
        .starts_with("server.http_listen_address: invalid address"));
    assert!(err("compactor:\n  compaction_interval: 0s\n")
        .starts_with("compactor.compaction_interval: must be greater than 0"));
    assert!(err("ingester:\n  max_chunk_age: [1h]\n").starts_with("ingester.max_chunk_age: expected a duration"));
    assert!(err("lokid:\n  sync_writes: 1\n").starts_with("lokid.sync_writes: expected true or false, got 1"));
    // Every bad value is reported, not only the first.
    let e = err("server:\n  http_listen_port: abc\nlimits_config:\n  retention_period: 14 days\n");
    assert!(e.contains("server.http_listen_port") && e.contains("; limits_config.retention_period"), "{e}");
    // The file name comes first when loading from a file.
    let f = std::env::temp_dir().join(format!("lokid-config-test-{}.yaml", std::process::id()));
    std::fs::write(&f, "server:\n  http_listen_port: abc\n").unwrap();
    let e = Config::load(&f, false).unwrap_err().to_string();
    std::fs::remove_file(&f).ok();
    assert!(e.ends_with(".yaml: server.http_listen_port: expected an integer, got \"abc\""), "{e}");
}

#[test]
fn document_errors() {
    assert!(matches!(Config::from_yaml_str("server: [\n"), Err(ConfigError::Yaml(_))));
    assert_eq!(err("- a\n- b\n"), "config: expected a mapping at the top level, got a list");
    let e = Config::from_yaml_str_with_env("a: ${}\n", |_| None).unwrap_err().to_string();
    assert!(e.contains("bad substitution at line 1"), "{e}");
}

#[test]
fn retention_stream_rules_are_checked() {
    let ok = parse("limits_config:\n  retention_stream:\n  - selector: '{app=\"x\"}'\n    period: 1w\n");
    assert_eq!(
        ok.retention_streams,
        [RetentionStream { selector: "{app=\"x\"}".into(), priority: 0, period: secs(7 * D) }]
    );
    let e = err("limits_config:\n  retention_stream:\n  - selector: '{app=\"x\"}'\n    priority: 1\n    period: 1h\n");
    assert_eq!(e, "limits_config.retention_stream[0].period: must be at least 24h, got 1h");
    let e = err("limits_config:\n  retention_stream:\n  - selector: app\n    period: 48h\n");
    assert!(e.starts_with("limits_config.retention_stream[0].selector: expected a stream selector"), "{e}");
    let e = err("limits_config:\n  retention_stream:\n  - selector: '{a=\"b\"}'\n    period: two days\n");
    assert!(e.starts_with("limits_config.retention_stream[0].period: invalid duration \"two days\""), "{e}");
    assert_eq!(
        err("limits_config:\n  retention_stream:\n  - selector: '{a=\"b\"}'\n"),
        "limits_config.retention_stream[0].period: missing"
    );
    let c = parse("limits_config:\n  retention_stream:\n  - selector: '{a=\"b\"}'\n    period: 48h\n    color: red\n");
    assert_eq!(c.unused_keys, ["limits_config.retention_stream[0].color"]);
}

#[test]
fn unknown_keys_in_used_sections_are_listed_not_errors() {
    let c = parse("server:\n  http_listen_port: 3200\n  http_path_prefix: /loki\nlokid:\n  sync_write: true\nruler:\n");
    assert_eq!(c.http_listen_port, 3200);
    assert_eq!(c.unused_keys, ["server.http_path_prefix", "lokid.sync_write", "ruler"]);
    // A section lokid reads that is present but empty is fine.
    assert!(parse("server:\nlimits_config:\n").unused_keys.is_empty());
}

#[test]
fn units_and_lenient_scalars() {
    let c = parse(
        "auth_enabled: yes\nlimits_config:\n  max_line_size: 1MB\n  max_structured_metadata_size: 64kb\n  \
         reject_old_samples_max_age: 1w\n  retention_period: 0\n  max_query_length: 0s\n  max_query_series: '250'\n  \
         max_entries_limit_per_query: 1e4\n  discover_service_name: [app, job]\n",
    );
    assert!(c.auth_enabled);
    assert_eq!(c.limits.max_line_size, 1 << 20);
    assert_eq!(c.limits.max_structured_metadata_size, 64 << 10);
    assert_eq!(c.limits.reject_old_samples_max_age, secs(7 * D));
    assert_eq!(c.limits.retention_period, Duration::ZERO);
    assert_eq!(c.limits.max_query_length, Duration::ZERO);
    assert_eq!(c.limits.max_query_series, 250);
    assert_eq!(c.limits.max_entries_limit_per_query, 10_000);
    assert_eq!(c.limits.discover_service_name, ["app", "job"]);
    assert_eq!(parse("limits_config:\n  max_line_size: 262144\n").limits.max_line_size, 262144);
    assert!(parse("limits_config:\n  discover_service_name: []\n").limits.discover_service_name.is_empty());
    // Null is the same as absent.
    assert_eq!(parse("limits_config:\n  retention_period:\n").limits, Limits::default());
    // YAML merge keys work, as in Loki.
    let c = parse("x: &d\n  http_listen_port: 3300\nserver:\n  <<: *d\n");
    assert_eq!(c.http_listen_port, 3300);
}

#[test]
fn frontend_and_lokid_sections() {
    let c = parse("frontend:\n  log_queries_longer_than: -1s\n  compress_responses: false\n");
    assert_eq!(c.frontend.log_queries_longer_than, Some(Duration::ZERO));
    assert!(!c.frontend.compress_responses);
    assert_eq!(parse("frontend:\n  log_queries_longer_than: 0s\n").frontend.log_queries_longer_than, None);
    let c = parse("lokid:\n  sync_writes: true\n  block_target_bytes: 1MB\n  block_cache_bytes: 64MB\n  write_buffer_bytes: 8MB\n  query_memory_bytes: 1GB\n");
    assert_eq!(c.query_memory_bytes, 1 << 30);
    assert!(c.sync_writes);
    assert_eq!((c.block_target_bytes, c.block_cache_bytes, c.write_buffer_bytes), (1 << 20, 64 << 20, 8 << 20));
    let c = parse("querier:\n  tail_max_duration: 30m\n  query_timeout: 2m\nlimits_config:\n  query_timeout: 5m\n");
    assert_eq!(c.querier.tail_max_duration, secs(1800));
    assert_eq!(c.limits.query_timeout, secs(300), "limits_config.query_timeout wins");
}

#[test]
fn data_dir_derivation() {
    let c = parse("common:\n  storage:\n    filesystem:\n      chunks_directory: /srv/loki/chunks\n");
    assert_eq!(
        (c.data_dir, c.data_dir_source.as_str()),
        (PathBuf::from("/srv/loki"), "parent of common.storage.filesystem.chunks_directory")
    );
    let c = parse("storage_config:\n  tsdb_shipper:\n    active_index_directory: /idx/tsdb-index\n");
    assert_eq!(c.data_dir, PathBuf::from("/idx"));
    let c = parse("storage_config:\n  filesystem:\n    directory: chunks\n");
    assert_eq!(c.data_dir, PathBuf::from("."));
    let c = parse(
        "common:\n  path_prefix: /loki\n  storage:\n    filesystem:\n      chunks_directory: /elsewhere/chunks\n",
    );
    assert_eq!(c.data_dir, PathBuf::from("/loki"));
    assert_eq!(c.unused_keys, ["common.storage"]);
    let c = parse("common:\n  path_prefix: /loki\nlokid:\n  data_dir: /var/lib/lokid\n");
    assert_eq!((c.data_dir, c.data_dir_source.as_str()), (PathBuf::from("/var/lib/lokid"), "lokid.data_dir"));
    assert_eq!(parse("common:\n  path_prefix: ''\n").data_dir, PathBuf::from("./data"));
    let c = parse("common:\n  path_prefix: ${DATA}\n");
    assert!(c.warnings[0].contains("-config.expand-env=true"), "{:?}", c.warnings);
}

#[test]
fn env_expansion_in_typed_values() {
    let yaml = "server:\n  http_listen_port: ${PORT:-3200}\n";
    assert_eq!(Config::from_yaml_str_with_env(yaml, |_| None).unwrap().http_listen_port, 3200);
    assert_eq!(
        Config::from_yaml_str_with_env(yaml, |k| (k == "PORT").then(|| "4000".into())).unwrap().http_listen_port,
        4000
    );
    let e = err(yaml);
    assert!(e.starts_with("server.http_listen_port: expected an integer, got \"${PORT:-3200}\""), "{e}");
    assert!(e.contains("-config.expand-env=true"), "{e}");
}

#[test]
fn overrides_win_over_the_file() {
    let args = parse_cli(
        ["-server.http-listen-port=3200", "-common.path-prefix=/data", "-auth.enabled=false", "-store.retention=14d"]
            .map(String::from),
    )
    .unwrap();
    // The call main.rs makes.
    let c = args.apply_overrides(shared("10-"));
    assert_eq!(c.http_listen_port, 3200);
    assert_eq!((c.data_dir.as_path(), c.data_dir_source.as_str()), (Path::new("/data"), "-common.path-prefix"));
    assert!(!c.auth_enabled);
    assert_eq!(c.limits.retention_period, secs(14 * D));

    let path = shared_dir().join("22-docker-grafana-loki.yaml");
    let args = parse_cli([format!("-config.file={}", path.display()), "-log.level=debug".into()]).unwrap();
    let c = Config::from_cli(&args).unwrap();
    assert_eq!((c.log_level.as_str(), c.data_dir.as_path()), ("debug", Path::new("/var/lib/loki")));
    let none = parse_cli(Vec::new()).unwrap();
    assert_eq!(Config::from_cli(&none).unwrap(), Config::default());
    let missing = parse_cli(["-config.file=/nope.yaml".to_string()]).unwrap();
    assert!(matches!(Config::from_cli(&missing), Err(ConfigError::NotFound(_))));
}

#[test]
fn comma_separated_config_file_picks_the_first_that_exists() {
    let real = shared_dir().join("18-HomeLab.yaml");
    let arg = PathBuf::from(format!("/nope.yaml,{}", real.display()));
    assert_eq!(resolve_config_path(&arg).unwrap(), real);
}

fn comparable(mut c: Config) -> Config {
    c.unused_keys.clear();
    c.warnings.clear();
    c.data_dir_source.clear();
    c
}

#[test]
fn to_yaml_round_trips() {
    let mut configs = vec![Config::default()];
    configs.extend(shared_configs().iter().map(|(_, t)| Config::from_yaml_str_with_env(t, |_| None).unwrap()));
    let mut special = Config::default();
    special.frontend.log_queries_longer_than = Some(Duration::ZERO);
    special.http_listen_address = "::1".into();
    configs.push(special);
    for c in configs {
        let yaml = c.to_yaml();
        let back = Config::from_yaml_str(&yaml).unwrap_or_else(|e| panic!("{yaml}\n=> {e}"));
        assert!(back.unused_keys.is_empty(), "{:?}", back.unused_keys);
        assert_eq!(comparable(back), comparable(c), "{yaml}");
    }
}

#[test]
fn to_yaml_uses_loki_names_and_units() {
    let c = shared("10-");
    let y = c.to_yaml();
    for line in [
        "auth_enabled: true",
        "  http_listen_port: 3100",
        "  path_prefix: /loki",
        "  retention_period: 30d",
        "  max_line_size: 256KB",
        "  reject_old_samples_max_age: 1w",
        "  - selector: '{container=\"postgres\"}'",
        "    period: 1y",
        "  retention_enabled: true",
        "  compaction_interval: 10m",
        "  sync_writes: false",
    ] {
        assert!(y.lines().any(|l| l == line), "missing {line:?} in\n{y}");
    }
    assert!(!y.contains("schema_config") && !y.contains("shared_store"), "unused keys are not echoed");
}

#[test]
fn runtime_config_overrides_limits_per_tenant() {
    let dir = std::env::temp_dir().join(format!("lokid-rt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rt = dir.join("runtime.yaml");
    std::fs::write(&rt, "overrides:\n  team-a:\n    ingestion_rate_mb: 20\n    retention_period: 24h\n  team-b:\n    max_line_size: 1KB\n").unwrap();
    let c = parse(&format!("limits_config:\n  ingestion_rate_mb: 8\nruntime_config:\n  file: {}\n", rt.display()));
    assert_eq!(c.limits_for("team-a").ingestion_rate_mb, 20.0);
    assert_eq!(c.limits_for("team-a").retention_period, secs(24 * H));
    assert_eq!(c.limits_for("team-b").ingestion_rate_mb, 8.0, "unset keys inherit limits_config");
    assert_eq!(c.limits_for("team-b").max_line_size, 1024);
    assert_eq!(c.limits_for("other").ingestion_rate_mb, 8.0);
    std::fs::write(&rt, "overrides:\n  team-a:\n    ingestion_rate_mb: lots\n").unwrap();
    let err = Config::from_yaml_str(&format!("runtime_config:\n  file: {}\n", rt.display())).unwrap_err().to_string();
    assert!(err.contains("overrides.team-a.ingestion_rate_mb"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn otlp_config_rules_and_errors() {
    use crate::limits::otlp::OtlpAction;
    let c = parse(
        "limits_config:\n  otlp_config:\n    resource_attributes:\n      ignore_defaults: true\n      attributes_config:\n        - action: index_label\n          attributes: [host.name]\n        - action: drop\n          regex: k8s\\..*\n    scope_attributes:\n      - action: drop\n        attributes: [x]\n    log_attributes:\n      - attributes: [user.id]\n",
    );
    let o = &c.limits.otlp_config;
    assert_eq!(o.resource_action("host.name"), OtlpAction::IndexLabel);
    assert_eq!(o.resource_action("service.name"), OtlpAction::StructuredMetadata);
    assert_eq!(o.resource_action("k8s.pod.name"), OtlpAction::Drop);
    assert_eq!(o.scope_action("x"), OtlpAction::Drop);
    assert_eq!(o.log_action("user.id"), OtlpAction::StructuredMetadata);
    assert_eq!(parse("limits_config: {}\n").limits.otlp_config.resource_action("service.name"), OtlpAction::IndexLabel);
    let e =
        err("limits_config:\n  otlp_config:\n    log_attributes:\n      - action: promote\n        attributes: [a]\n");
    assert!(
        e.contains(
            "limits_config.otlp_config: unsupported action, it must be one of: drop, index_label, structured_metadata"
        ),
        "{e}"
    );
    let e = err("limits_config:\n  otlp_config:\n    log_attributes:\n      - action: drop\n");
    assert!(e.contains("attributes or regex must be set"), "{e}");
    let e =
        err("limits_config:\n  otlp_config:\n    log_attributes:\n      - {action: drop, attributes: [a], regex: b}\n");
    assert!(e.contains("only one of attributes or regex must be set"), "{e}");
    let e =
        err("limits_config:\n  otlp_config:\n    scope_attributes:\n      - {action: index_label, attributes: [a]}\n");
    assert!(e.contains("index_label action is only supported for resource_attributes"), "{e}");
}
