//! The `lokid` binary: parse Loki-style flags, load the config, serve until SIGTERM.

use std::process::ExitCode;

/// glibc gives every thread that allocates its own arena (up to 8 per core), and memory
/// freed in one arena is not reused by another: with tokio's blocking threads running
/// queries, RSS crept up long after the queries ended. Two arenas keep it flat (measured by
/// `tests/it/soak.rs`; mimalloc and the default both peaked higher there).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    // SAFETY: called once at startup, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

fn main() -> ExitCode {
    limit_malloc_arenas();
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
