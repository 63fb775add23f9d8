//! The `lokid` binary: parse Loki-style flags, load the config, serve until SIGTERM.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match lokid::config::parse_cli(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    if args.print_version {
        println!("lokid {} (Loki API {})", env!("CARGO_PKG_VERSION"), lokid::api::ops::LOKI_COMPAT_VERSION);
        return ExitCode::SUCCESS;
    }
    let config = match lokid::config::Config::from_cli(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error loading config: {e}");
            return ExitCode::from(1);
        }
    };
    if args.print_config {
        eprintln!("{}", config.to_yaml());
    }
    lokid::telemetry::init_logging(&config.log_level);
    if let Some(w) = config.unused_keys_warning() {
        tracing::warn!("{w}");
    }
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(lokid::server::run_until_signal(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lokid: {e:#}");
            ExitCode::from(1)
        }
    }
}
