//! Federation: a province's (Diskominfo Provinsi) or the ministry's pantau that follows many
//! cities' pantau on one wall, each city keeping its own data.
//!
//! - `config`: `federation.toml` (`[[city]]` entries, `[federation]` deadlines and bounds).
//! - `wire`: the city's live protocol, read leniently (older and newer cities still show).
//! - `city`: one city's latest roll-ups and connection health; the views of both.
//! - `follow`: one task per city on the city's `/api/v1/live` (snapshot, deltas, resume,
//!   backoff with jitter, bounded messages, deadlines).
//! - `state`: every city under one lock and the hub numbering the federation's own deltas.
//! - `session`: the federation's screens over the same live protocol.
//! - `history`: the daily summary per city in the federation's own SQLite database.
//! - `api`: the routes and the federation wall.
//! - `demo`: `pantau demo --federation`, simulated cities as child processes.
//!
//! It sits above `api` (whose listener, error mapping and origin check it uses) and below `cli`
//! and `demo`.

pub mod api;
pub mod city;
pub mod config;
pub mod demo;
pub mod follow;
pub mod history;
pub mod session;
pub mod state;
pub mod wire;

pub use config::{FederationConfig, find, load};
pub use state::Federation;

use std::path::PathBuf;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Options of `run` that do not come from the config files.
#[derive(Debug, Clone, Default)]
pub struct FederationOptions {
    /// Serve the dashboards from this folder instead of the embedded copy.
    pub dashboards_dir: Option<PathBuf>,
}

/// How often the cities' stale flags are looked at.
const STALENESS_EVERY: Duration = Duration::from_secs(1);

/// Runs the federation daemon on `listener` until `shutdown` resolves.
pub async fn run(
    config: FederationConfig,
    listener: TcpListener,
    options: FederationOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let addr = listener.local_addr()?;
    let db = config.settings.database.clone();
    let holder = format!(
        "pantau federation (pid {}, http://{addr}/, since {})",
        std::process::id(),
        crate::domain::format_instant(state::now_ms(), config.settings.city.time_zone)
    );
    let _lock = crate::store::lock::ServeLock::acquire(&db, &holder)?;
    let history = {
        let path = db.clone();
        tokio::task::spawn_blocking(move || history::History::open(&path))
            .await?
            .map_err(|e| anyhow::anyhow!("cannot open the database {}: {e}", db.display()))?
    };
    let kept = {
        let h = history.clone();
        tokio::task::spawn_blocking(move || h.last_known()).await?
    };
    let limits = connection_limits(&config);
    let http = reqwest::Client::builder()
        .timeout(config.follow.connect_timeout)
        .connect_timeout(config.follow.connect_timeout)
        .user_agent(concat!("pantau-federation/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let fed = Federation::new(config);
    match kept {
        Ok(kept) => {
            let n = fed.restore(kept);
            if n > 0 {
                tracing::info!(
                    cities = n,
                    "showing the cities' last known data until each answers"
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot read the cities' last known data"),
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..fed.config.cities.len() {
        tasks.spawn(follow::follow(
            fed.clone(),
            index,
            http.clone(),
            stop_rx.clone(),
        ));
    }
    tasks.spawn(staleness(fed.clone(), stop_rx.clone()));
    tasks.spawn(history::run(fed.clone(), history.clone(), stop_rx.clone()));
    let routes = api::routes(api::Routes {
        fed: fed.clone(),
        history,
        dashboards_dir: options.dashboards_dir,
        stop: stop_rx.clone(),
    });
    tracing::info!(%addr, cities = fed.config.cities.len(), "serving the federation");
    let server_stop = {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let server = tokio::spawn(crate::api::listen::serve(
        routes,
        listener,
        limits,
        Default::default(),
        server_stop,
    ));
    shutdown.await;
    tracing::info!("shutting down the federation");
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// Publishes the cities whose data became stale (or fresh again) on a clock.
async fn staleness(fed: Federation, mut stop: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(STALENESS_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        fed.refresh_staleness();
    }
}

/// The configured connection limits, fitted to the open-file limit beside one socket per city.
fn connection_limits(config: &FederationConfig) -> crate::api::listen::ConnectionLimits {
    let server = &config.settings.server;
    let configured = crate::api::listen::ConnectionLimits {
        max_connections: server.max_connections,
        max_screens: server.max_screens,
        header_read_timeout: server.header_read_timeout,
        ..Default::default()
    };
    let Some(open_files) = crate::api::listen::raise_open_file_limit() else {
        return configured;
    };
    // Standard streams, the runtime, the database and its WAL, and two per city (its live
    // socket and a `/healthz` request).
    let reserve = 64 + 2 * config.cities.len() as u64;
    match configured.fit(open_files, reserve) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("{e}");
            configured
        }
    }
}
