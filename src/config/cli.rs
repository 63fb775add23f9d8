//! The command line, in Loki's spelling: `-config.file=loki.yaml`, `-config.expand-env=true`,
//! `-server.http-listen-port=3200`, `-version`. GNU spellings work too (`--config.file x`,
//! `--config x`), as do Go-flag forms (`-config.file x`, `-auth.enabled` for true).
//!
//! Single-dash long flags are rewritten to double-dash before clap parses them, except
//! where the token is the value of the previous flag (`-config.file -odd-name.yaml`).

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{Arg, ArgAction, ArgMatches, Command};

use super::units;

/// What the command line asked for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CliArgs {
    /// `-config.file` (alias `-config`). `None`: run with defaults.
    pub config_file: Option<PathBuf>,
    /// `-config.expand-env`: expand `${VAR}` references in the file.
    pub expand_env: bool,
    /// `-version`: print the version and exit.
    pub print_version: bool,
    /// `-print-config-stderr` (or Loki's `-log-config-reverse-order`): print the effective
    /// config ([`super::Config::to_yaml`]) to stderr at startup.
    pub print_config: bool,
    /// Flags that override file settings.
    pub overrides: CliOverrides,
}

impl CliArgs {
    /// Applies the override flags to a loaded config and returns it (flags win).
    pub fn apply_overrides(&self, mut config: super::Config) -> super::Config {
        config.apply_overrides(&self.overrides);
        config
    }
}

/// Flags that override the file (flags win, as in Loki).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CliOverrides {
    /// `-server.http-listen-address`
    pub http_listen_address: Option<String>,
    /// `-server.http-listen-port`
    pub http_listen_port: Option<u16>,
    /// `-common.path-prefix`: the data directory.
    pub path_prefix: Option<PathBuf>,
    /// `-log.level`
    pub log_level: Option<String>,
    /// `-log.format`
    pub log_format: Option<String>,
    /// `-auth.enabled`
    pub auth_enabled: Option<bool>,
    /// `-compactor.retention-enabled`
    pub retention_enabled: Option<bool>,
    /// `-store.retention` (Loki's flag for `limits_config.retention_period`)
    pub retention_period: Option<Duration>,
}

enum Kind {
    Bool,
    Value(&'static str),
}

/// (name, kind, help). The table drives parsing, normalisation and `-help`.
const FLAGS: &[(&str, Kind, &str)] = &[
    (
        "config.file",
        Kind::Value("FILE"),
        "Loki-style YAML config file; for a comma-separated list, the first that exists (alias: -config)",
    ),
    ("config.expand-env", Kind::Bool, "Expand ${VAR} and ${VAR:-default} in the config file"),
    (
        "server.http-listen-address",
        Kind::Value("ADDR"),
        "HTTP listen address (server.http_listen_address, default 0.0.0.0)",
    ),
    ("server.http-listen-port", Kind::Value("PORT"), "HTTP listen port (server.http_listen_port, default 3100)"),
    ("common.path-prefix", Kind::Value("DIR"), "Data directory (common.path_prefix, default ./data)"),
    ("log.level", Kind::Value("LEVEL"), "debug, info, warn or error (server.log_level)"),
    ("log.format", Kind::Value("FORMAT"), "logfmt or json (server.log_format)"),
    ("auth.enabled", Kind::Bool, "Require X-Scope-OrgID (auth_enabled, default false)"),
    ("compactor.retention-enabled", Kind::Bool, "Delete data past its retention (compactor.retention_enabled)"),
    ("store.retention", Kind::Value("DURATION"), "Retention period (limits_config.retention_period), e.g. 14d"),
    ("target", Kind::Value("TARGET"), "Accepted for Loki compatibility; only \"all\""),
    ("print-config-stderr", Kind::Bool, "Print the effective config to stderr at startup"),
    ("log-config-reverse-order", Kind::Bool, "Same as -print-config-stderr"),
    ("version", Kind::Bool, "Print the version and exit"),
    ("help", Kind::Bool, "Print this help and exit (also -h)"),
];

fn command() -> Command {
    let mut cmd = Command::new("lokid")
        .no_binary_name(true)
        .disable_help_flag(true)
        .disable_version_flag(true)
        .override_usage("lokid [-config.file=FILE] [-config.expand-env=true] [FLAGS]");
    for (name, kind, _) in FLAGS {
        let mut arg = Arg::new(*name).long(*name).action(ArgAction::Set).overrides_with(*name);
        arg = match kind {
            Kind::Bool => arg
                .num_args(0..=1)
                .require_equals(true)
                .default_missing_value("true")
                .value_parser(BoolishValueParser::new()),
            Kind::Value(v) => arg.num_args(1).value_name(*v),
        };
        if *name == "config.file" {
            arg = arg.alias("config");
        }
        if *name == "help" {
            arg = arg.short('h');
        }
        cmd = cmd.arg(arg);
    }
    cmd
}

fn takes_value(name: &str) -> bool {
    name == "config" || FLAGS.iter().any(|(n, k, _)| *n == name && matches!(k, Kind::Value(_)))
}

/// Rewrites `-name[=v]` to `--name[=v]`, leaving flag values alone.
fn normalise(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut value_next = false;
    for a in args {
        if value_next {
            // Join as `--name=value` so clap never reads a dash-led value as a flag.
            value_next = false;
            let flag: String = out.pop().unwrap_or_default();
            out.push(format!("{flag}={a}"));
            continue;
        }
        let a = if !a.starts_with("--") && a.starts_with('-') && a.len() > 2 { format!("-{a}") } else { a };
        if let Some(name) = a.strip_prefix("--") {
            value_next = !name.contains('=') && takes_value(name);
        }
        out.push(a);
    }
    out
}

/// Parses the command line, without the program name (`std::env::args().skip(1)`).
///
/// `Err` holds text ready to print, after which the caller exits with status 2: an error
/// naming the flag, or for `-help`/`-h` the [`help_text`] (Loki also exits 2 after help).
pub fn parse_cli(args: impl IntoIterator<Item = String>) -> Result<CliArgs, String> {
    let args = normalise(args);
    // clap spells flags `--name` in its messages; lokid documents `-name`.
    let m = command().try_get_matches_from(args).map_err(|e| e.render().to_string().replace("'--", "'-"))?;
    let flag = |name: &str| m.get_one::<bool>(name).copied();
    let text = |name: &str| m.get_one::<String>(name).cloned();
    let mut out = CliArgs {
        config_file: text("config.file").filter(|s| !s.is_empty()).map(PathBuf::from),
        expand_env: flag("config.expand-env").unwrap_or(false),
        print_version: flag("version").unwrap_or(false),
        print_config: flag("print-config-stderr").unwrap_or(false) || flag("log-config-reverse-order").unwrap_or(false),
        overrides: CliOverrides::default(),
    };
    if flag("help") == Some(true) {
        return Err(help_text());
    }
    let o = &mut out.overrides;
    o.http_listen_address = text("server.http-listen-address");
    o.http_listen_port = value(&m, "server.http-listen-port", |s| {
        s.parse::<u16>().map_err(|_| format!("expected a port number (0-65535), got {s:?}"))
    })?;
    o.path_prefix = text("common.path-prefix").filter(|s| !s.is_empty()).map(PathBuf::from);
    o.log_level = value(&m, "log.level", |s| one_of(s, &super::LOG_LEVELS))?;
    o.log_format = value(&m, "log.format", |s| one_of(s, &super::LOG_FORMATS))?;
    o.auth_enabled = flag("auth.enabled");
    o.retention_enabled = flag("compactor.retention-enabled");
    o.retention_period = value(&m, "store.retention", |s| {
        units::parse_duration(s).map_err(|why| format!("invalid duration {s:?}: {why}"))
    })?;
    value(&m, "target", |s| match s {
        "all" => Ok(()),
        _ => Err(format!("lokid runs every component; only \"all\" is accepted, got {s:?}")),
    })?;
    Ok(out)
}

fn value<T>(m: &ArgMatches, name: &str, parse: impl Fn(&str) -> Result<T, String>) -> Result<Option<T>, String> {
    match m.get_one::<String>(name) {
        None => Ok(None),
        Some(s) => parse(s).map(Some).map_err(|e| format!("-{name}: {e}")),
    }
}

fn one_of(s: &str, allowed: &[&str]) -> Result<String, String> {
    let lower = s.to_ascii_lowercase();
    if allowed.contains(&lower.as_str()) {
        Ok(lower)
    } else {
        Err(format!("invalid value {s:?} (one of {})", allowed.join(", ")))
    }
}

/// The `-help` text, in Loki's single-dash spelling.
pub fn help_text() -> String {
    let mut s = String::from(
        "lokid: a single-node log store that speaks Grafana Loki's HTTP API\n\n\
         Usage: lokid [-config.file=FILE] [-config.expand-env=true] [FLAGS]\n\n\
         Without -config.file lokid listens on 0.0.0.0:3100 and keeps data under ./data.\n\
         Flags override the config file. Each may be written -name=value, -name value,\n\
         or --name=value; boolean flags alone mean true.\n\nFlags:\n",
    );
    for (name, kind, help) in FLAGS {
        let left = match kind {
            Kind::Bool => format!("-{name}"),
            Kind::Value(v) => format!("-{name}={v}"),
        };
        s.push_str(&format!("  {left:<38} {help}\n"));
    }
    s.push_str("\nConfiguration keys: docs/configuration.md\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Result<CliArgs, String> {
        parse_cli(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn config_file_spellings() {
        let want = Some(PathBuf::from("loki-config.example.yaml"));
        for args in [
            &["-config.file=loki-config.example.yaml"][..],
            &["--config.file=loki-config.example.yaml"],
            &["--config.file", "loki-config.example.yaml"],
            &["-config.file", "loki-config.example.yaml"],
            &["--config", "loki-config.example.yaml"],
            &["-config=loki-config.example.yaml"],
        ] {
            assert_eq!(cli(args).unwrap().config_file, want, "{args:?}");
        }
        assert_eq!(cli(&["-config.file", "-odd.yaml"]).unwrap().config_file, Some(PathBuf::from("-odd.yaml")));
        assert_eq!(cli(&[]).unwrap(), CliArgs::default());
    }

    #[test]
    fn boolean_flags() {
        assert!(cli(&["-config.expand-env=true"]).unwrap().expand_env);
        assert!(cli(&["-config.expand-env"]).unwrap().expand_env);
        assert!(cli(&["--config.expand-env=1"]).unwrap().expand_env);
        assert!(!cli(&["-config.expand-env=false"]).unwrap().expand_env);
        assert!(cli(&["-config.expand-env=maybe"]).is_err());
        assert_eq!(cli(&["-auth.enabled"]).unwrap().overrides.auth_enabled, Some(true));
        assert_eq!(cli(&["-auth.enabled=false"]).unwrap().overrides.auth_enabled, Some(false));
        assert!(cli(&["-version"]).unwrap().print_version);
        assert!(cli(&["--version"]).unwrap().print_version);
        for help in ["-help", "-h", "--help"] {
            assert_eq!(cli(&["-config.file=x.yaml", help]).unwrap_err(), help_text());
        }
        assert!(cli(&["-print-config-stderr"]).unwrap().print_config);
        assert!(cli(&["-log-config-reverse-order"]).unwrap().print_config);
    }

    #[test]
    fn overrides() {
        let a = cli(&[
            "-config.file=x.yaml",
            "-server.http-listen-port=3200",
            "-server.http-listen-address",
            "127.0.0.1",
            "-common.path-prefix=/var/lib/lokid",
            "-log.level=DEBUG",
            "-store.retention=14d",
            "-compactor.retention-enabled",
            "-target=all",
        ])
        .unwrap();
        let o = a.overrides;
        assert_eq!(o.http_listen_port, Some(3200));
        assert_eq!(o.http_listen_address.as_deref(), Some("127.0.0.1"));
        assert_eq!(o.path_prefix, Some(PathBuf::from("/var/lib/lokid")));
        assert_eq!(o.log_level.as_deref(), Some("debug"));
        assert_eq!(o.retention_period, Some(Duration::from_secs(14 * 86400)));
        assert_eq!(o.retention_enabled, Some(true));
        // The last occurrence wins, as with Go's flag package.
        assert_eq!(
            cli(&["-server.http-listen-port=1", "-server.http-listen-port=2"]).unwrap().overrides.http_listen_port,
            Some(2)
        );
    }

    #[test]
    fn errors_name_the_flag() {
        let e = cli(&["-server.http-listen-port=abc"]).unwrap_err();
        assert_eq!(e, "-server.http-listen-port: expected a port number (0-65535), got \"abc\"");
        assert!(cli(&["-store.retention=14 days"]).unwrap_err().starts_with("-store.retention: invalid duration"));
        assert!(cli(&["-log.level=loud"]).unwrap_err().starts_with("-log.level: invalid value"));
        assert!(cli(&["-target=querier"]).unwrap_err().starts_with("-target:"));
        assert!(cli(&["-no.such-flag=1"]).unwrap_err().contains("no.such-flag"));
        assert!(cli(&["stray"]).is_err());
        assert!(cli(&["-config.file"]).is_err());
    }

    #[test]
    fn help_uses_loki_spelling() {
        let h = help_text();
        assert!(h.contains("-config.file=FILE"));
        assert!(h.contains("-config.expand-env "));
    }
}
