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
use crate::retention::{Report, Retention};
use crate::store::{merge, Rocks, RocksOptions};
use crate::tail::Hub;
use crate::telemetry::Metrics;

/// A started server: its address and a handle to stop it.
pub struct Running {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    pub retention: Arc<Retention>,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Runs one compactor pass now (tests and operators' tooling).
    pub async fn compact_now(&self) {
        run_compactor_once(&self.state, &self.retention).await;
    }

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
    let rocks =
        Arc::new(Rocks::open(&db_dir, &opts).map_err(|e| anyhow::anyhow!("open store at {}: {e}", db_dir.display()))?);
    let registry = Arc::new(Registry::load(&rocks).map_err(|e| anyhow::anyhow!("load stream registry: {e}"))?);
    let hub = Arc::new(Hub::default());
    let ingester = Arc::new(Ingester::new(Arc::clone(&rocks), Arc::clone(&registry), Arc::clone(&hub)));
    let state = Arc::new(AppState {
        config: Arc::clone(&config),
        engine: Arc::new(Engine { rocks: Arc::clone(&rocks), registry: Arc::clone(&registry) }),
        ingester: Arc::clone(&ingester),
        hub,
        metrics: Arc::new(Metrics::default()),
        limiter: Default::default(),
        ready: AtomicBool::new(true),
    });
    let addr: SocketAddr =
        config.listen_addr().parse().map_err(|e| anyhow::anyhow!("listen address {}: {e}", config.listen_addr()))?;
    let listener = TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("bind {addr}: {e}"))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, data_dir = %db_dir.display(), streams = registry.len(), "lokid listening");

    let (tx, mut rx) = tokio::sync::watch::channel(false);
    let merger = tokio::spawn(merge_loop(Arc::clone(&state), tx.subscribe()));
    let retention = Arc::new(Retention::from_config(&config).map_err(|e| anyhow::anyhow!("retention rules: {e}"))?);
    let compactor = tokio::spawn(compactor_loop(Arc::clone(&state), Arc::clone(&retention), tx.subscribe()));
    let app = api::router(Arc::clone(&state));
    let st = Arc::clone(&state);
    let header_timeout = config.http_server_read_timeout;
    let task = tokio::spawn(async move {
        serve(listener, app, header_timeout, async move {
            let _ = rx.wait_for(|stop| *stop).await;
            st.ready.store(false, Ordering::Relaxed);
        })
        .await;
        let _ = merger.await;
        let _ = compactor.await;
        if let Err(e) = rocks.flush() {
            tracing::warn!(error = %e, "flush at shutdown failed");
        }
        tracing::info!("lokid stopped");
    });
    Ok(Running { addr, state, retention, shutdown: tx, task })
}

/// Accepts HTTP/1.1 connections until `shutdown` resolves, then lets in-flight requests
/// finish. Unlike `axum::serve` it bounds how long a client may take to send its request
/// headers (`server.http_server_read_timeout`), so slow or stuck clients cannot pile up
/// connections. Websocket upgrades (live tail) are supported.
async fn serve(
    listener: TcpListener,
    app: axum::Router,
    header_timeout: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut conns = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while conns.try_join_next().is_some() {}
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let mut stop = stop_rx.clone();
        conns.spawn(async move {
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                res = conn.as_mut() => {
                    if let Err(e) = res {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
                _ = async { let _ = stop.wait_for(|s| *s).await; } => {
                    // Finish the request in flight, then close.
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // In-flight requests finish; open tails and idle keep-alive connections are closed.
    let drain = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(10), drain).await.is_err() {
        conns.abort_all();
    }
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
        if rounds.is_multiple_of(3) {
            crate::telemetry::release_free_memory();
        }
        let sweep_all = rounds.is_multiple_of(30);
        let due: Vec<(u32, i64)> = {
            let mut small = st.ingester.small_blocks.lock();
            let due: Vec<(u32, i64)> = small
                .iter()
                .filter(|(_, n)| **n >= crate::ingest::MERGE_NOW || (sweep_all && **n >= 2))
                .map(|(k, _)| *k)
                .collect();
            for k in &due {
                small.remove(k);
            }
            due
        };
        if due.is_empty() {
            continue;
        }
        // A merge writes its new blocks before the old ones' space comes back (at
        // compaction): on a nearly full volume it would take the room pushes need. The
        // buckets wait, still marked, until space returns.
        if merge::free_space_too_low(&st.config.store_dir()) {
            let mut small = st.ingester.small_blocks.lock();
            for k in due {
                small.entry(k).or_insert(crate::ingest::MERGE_NOW);
            }
            continue;
        }
        let st2 = Arc::clone(&st);
        let target = st.config.block_target_bytes as usize;
        let res =
            tokio::task::spawn_blocking(move || st2.ingester.merge_buckets(due, merge::Pick::Tiered, target)).await;
        if let Ok(n) = res {
            st.metrics.blocks_merged.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
}

/// Runs the retention compactor every `compactor.compaction_interval` (first pass one
/// interval after start).
async fn compactor_loop(st: Arc<AppState>, retention: Arc<Retention>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let period = st.config.compactor.compaction_interval.max(Duration::from_millis(10));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        run_compactor_once(&st, &retention).await;
    }
}

/// One compactor pass off the async workers, recorded in the metrics.
pub async fn run_compactor_once(st: &Arc<AppState>, retention: &Arc<Retention>) {
    let (st2, r2) = (Arc::clone(st), Arc::clone(retention));
    let res = tokio::task::spawn_blocking(move || {
        r2.run_once(&st2.engine.rocks, &st2.engine.registry, &st2.ingester, crate::clock::now_ns())
    })
    .await;
    let m = &st.metrics;
    match res {
        Ok(Ok(r)) => {
            m.compactor_runs.fetch_add(1, Ordering::Relaxed);
            m.compactor_last_success_seconds.store((crate::clock::now_ns() / 1_000_000_000) as u64, Ordering::Relaxed);
            m.compactor_bytes_deleted.fetch_add(r.bytes_deleted, Ordering::Relaxed);
            m.compactor_blocks_deleted.fetch_add(r.blocks_deleted, Ordering::Relaxed);
            m.compactor_partitions_deleted.fetch_add(r.partitions_deleted, Ordering::Relaxed);
            m.compactor_streams_removed.fetch_add(r.streams_removed, Ordering::Relaxed);
            m.compactor_days_dropped_for_size.fetch_add(r.days_dropped_for_size, Ordering::Relaxed);
            m.delete_requests_processed.fetch_add(r.delete_requests_applied, Ordering::Relaxed);
            m.delete_request_entries_deleted.fetch_add(r.entries_deleted_by_requests, Ordering::Relaxed);
            if r != Report::default() {
                tracing::info!(
                    blocks = r.blocks_deleted,
                    bytes = r.bytes_deleted,
                    partitions = r.partitions_deleted,
                    streams = r.streams_removed,
                    "compactor pass deleted data"
                );
            }
        }
        Ok(Err(e)) => tracing::error!(error = %e, "compactor pass failed"),
        Err(e) => tracing::error!(error = %e, "compactor task panicked"),
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
