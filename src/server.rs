//! Server assembly: open the store, load the registry, start background tasks, serve
//! HTTP until SIGTERM/SIGINT, then drain and flush.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::api::{self, AppState};
use crate::config::Config;
use crate::index::Registry;
use crate::ingest::Ingester;
use crate::query::Engine;
use crate::store::{merge, Rocks, RocksOptions};
use crate::tail::Hub;
use crate::telemetry::Metrics;

/// A started server: its address and a handle to stop it.
pub struct Running {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops accepting, drains in-flight requests, flushes the store.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

/// Opens storage and binds the listener (use port 0 in tests).
pub async fn start(config: Config) -> anyhow::Result<Running> {
    let config = Arc::new(config);
    let db_dir = config.store_dir();
    let opts = RocksOptions {
        sync_writes: config.sync_writes,
        block_cache_bytes: config.block_cache_bytes as usize,
        write_buffer_bytes: config.write_buffer_bytes as usize,
    };
    let rocks = Arc::new(Rocks::open(&db_dir, &opts).map_err(|e| anyhow::anyhow!("open store at {}: {e}", db_dir.display()))?);
    let registry = Arc::new(Registry::load(&rocks).map_err(|e| anyhow::anyhow!("load stream registry: {e}"))?);
    let hub = Arc::new(Hub::default());
    let ingester = Arc::new(Ingester::new(Arc::clone(&rocks), Arc::clone(&registry), Arc::clone(&hub)));
    let state = Arc::new(AppState {
        config: Arc::clone(&config),
        engine: Arc::new(Engine { rocks: Arc::clone(&rocks), registry: Arc::clone(&registry) }),
        ingester: Arc::clone(&ingester),
        hub,
        metrics: Arc::new(Metrics::default()),
        ready: AtomicBool::new(true),
    });
    let addr: SocketAddr = config
        .listen_addr()
        .parse()
        .map_err(|e| anyhow::anyhow!("listen address {}: {e}", config.listen_addr()))?;
    let listener = TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("bind {addr}: {e}"))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, data_dir = %db_dir.display(), streams = registry.len(), "lokid listening");

    let (tx, mut rx) = tokio::sync::watch::channel(false);
    let merger = tokio::spawn(merge_loop(Arc::clone(&state), tx.subscribe()));
    let app = api::router(Arc::clone(&state));
    let st = Arc::clone(&state);
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = rx.wait_for(|stop| *stop).await;
            st.ready.store(false, Ordering::Relaxed);
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "http server failed");
        }
        let _ = merger.await;
        if let Err(e) = rocks.flush() {
            tracing::warn!(error = %e, "flush at shutdown failed");
        }
        tracing::info!("lokid stopped");
    });
    Ok(Running { addr, state, shutdown: tx, task })
}

/// Merges small blocks in the background: buckets with many pushes right away, the rest
/// once a minute.
async fn merge_loop(st: Arc<AppState>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    let mut rounds: u64 = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        rounds += 1;
        let sweep_all = rounds % 30 == 0;
        let due: Vec<(u32, i64)> = {
            let mut small = st.ingester.small_blocks.lock();
            let due: Vec<(u32, i64)> =
                small.iter().filter(|(_, n)| **n >= 16 || (sweep_all && **n >= 2)).map(|(k, _)| *k).collect();
            for k in &due {
                small.remove(k);
            }
            due
        };
        if due.is_empty() {
            continue;
        }
        let st2 = Arc::clone(&st);
        let target = st.config.block_target_bytes as usize;
        let res = tokio::task::spawn_blocking(move || {
            let mut merged = 0;
            for (stream, hour) in due {
                match merge::merge_bucket(&st2.engine.rocks, stream, hour, target, || st2.ingester.next_seq()) {
                    Ok(n) => merged += n,
                    Err(e) => tracing::warn!(error = %e, stream, hour, "block merge failed"),
                }
            }
            merged
        })
        .await;
        if let Ok(n) = res {
            st.metrics.blocks_merged.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
}

/// Runs until SIGTERM or SIGINT.
pub async fn run_until_signal(config: Config) -> anyhow::Result<()> {
    let running = start(config).await?;
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.stop().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
