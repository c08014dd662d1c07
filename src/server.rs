//! The running daemon: wires the store, the writer, the progress state, the hub, the clock
//! tick, the feed poller and the HTTP server together, and shuts them down in order.
//!
//! `run` serves until the shutdown future resolves, then stops accepting, tells every task, lets
//! the writer commit what it took, and returns. Under systemd (`Type=notify`) it says when it
//! serves (`READY=1`), reloads (`RELOADING=1` ... `READY=1`) and stops (`STOPPING=1`), and pings
//! the watchdog at half the interval systemd gives (`WATCHDOG_USEC`).

pub use crate::app::{App, RunOptions};

use crate::config::Config;
use crate::live::Hub;
use crate::live::session::ScreenRegistry;
use crate::progress::ProgressState;
use crate::progress::state::Change;
use crate::store::read::NoteRow;
use crate::store::writer::Committed;
use crate::store::{self, CommitListener, ReadPool, WriteCommand, WriteOutcome};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Takes the serve lock of `db` for a daemon listening on `addr`: a second daemon on the same
/// database is refused, naming this one.
pub fn claim(
    db: &std::path::Path,
    addr: std::net::SocketAddr,
    tz: chrono_tz::Tz,
) -> Result<Arc<store::lock::ServeLock>, store::StoreError> {
    let holder = format!(
        "pantau (pid {}, http://{addr}/, since {})",
        std::process::id(),
        crate::domain::format_instant(chrono::Utc::now().timestamp_millis(), tz)
    );
    store::lock::ServeLock::acquire(db, &holder).map(Arc::new)
}

/// Ranges of indicators a daemon on PostgreSQL reads its history in at once at start, each
/// on a connection of its own (`store::postgres::Pools::history`). Measured on the big city
/// (5,000 indicators x 5 years, server and daemon sharing 2 cores): 2.2 s in one range, 1.4 s
/// in two, 1.5 s in three, and 5.5 s in four, the server's sorts then contending.
const HISTORY_PARTS: usize = 2;

/// Updates the progress state and the hub after each commit, before senders are answered.
struct ProgressListener {
    progress: Arc<Mutex<ProgressState>>,
    hub: Hub,
}

impl CommitListener for ProgressListener {
    fn committed(&mut self, commits: &[Committed<'_>], at: i64) {
        let applied: Vec<store::AppliedObservation> = commits
            .iter()
            .flat_map(|c| c.applied.iter().cloned())
            .collect();
        let mut state = match self.progress.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if !applied.is_empty() {
            let change = state.apply(&applied, at);
            self.hub.publish(&change, state.snapshot());
        }
        for c in commits {
            if let (WriteCommand::Note(n), WriteOutcome::Note { id, created }) =
                (c.command, c.outcome)
            {
                let row = NoteRow {
                    id: *id,
                    indicator: n.indicator.to_string(),
                    kendala: n.kendala.clone(),
                    rencana_tindak_lanjut: n.rencana_tindak_lanjut.clone(),
                    department: n.department.as_ref().map(|d| d.to_string()),
                    created: *created,
                };
                let change = state.set_note(&row, at);
                self.hub.publish(&change, state.snapshot());
            }
        }
    }

    fn external(&mut self, changes: &store::changes::ExternalChanges, conn: &dyn store::Reader) {
        let ids: Vec<&str> = changes.indicators.iter().map(String::as_str).collect();
        let mut updates = Vec::new();
        match conn.indicators_state(&ids) {
            Ok(states) => {
                for (id, (series, note)) in ids.iter().zip(states) {
                    updates.push((id.to_string(), series, note));
                }
            }
            // One at a time, so that one that fails does not hold back the others.
            Err(_) => {
                for id in &ids {
                    match conn.indicator_state(id) {
                        Ok((series, note)) => updates.push((id.to_string(), series, note)),
                        Err(e) => {
                            tracing::warn!(indicator = %id, error = %e, "cannot reload an indicator changed by another process")
                        }
                    }
                }
            }
        }
        let mut state = match self.progress.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let change = state.refresh(updates, chrono::Utc::now().timestamp_millis());
        self.hub.publish(&change, state.snapshot());
    }
}

/// The store as opened at start.
enum Opened {
    Sqlite(rusqlite::Connection),
    Postgres(store::postgres::Pools),
}

/// Opens the PostgreSQL store, trying again while the server cannot be reached (connection
/// refused, timed out, starting up) for up to its `startup_wait`, so that instances booted
/// before their database come up by themselves. Any other error (authentication, a newer
/// schema) ends at once; so does `shutdown` (then None).
async fn open_postgres_patiently(
    p: &store::url::PostgresSettings,
    shutdown: &mut std::pin::Pin<Box<impl std::future::Future<Output = ()>>>,
) -> anyhow::Result<Option<store::postgres::Pools>> {
    let began = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(250);
    loop {
        match store::postgres::open(p).await {
            Ok(pools) => return Ok(Some(pools)),
            Err(store::StoreError::Unavailable(why)) if began.elapsed() < p.startup_wait => {
                let left = p.startup_wait.saturating_sub(began.elapsed());
                tracing::warn!(
                    server = %p.shown,
                    error = %why,
                    retry_in_ms = pause.as_millis() as u64,
                    gives_up_in_s = left.as_secs(),
                    "PostgreSQL cannot be reached yet; trying again"
                );
                notify_systemd(&[sd_notify::NotifyState::Status(&format!(
                    "waiting for PostgreSQL {} (gives up in {} s)",
                    p.shown,
                    left.as_secs()
                ))]);
                tokio::select! {
                    _ = tokio::time::sleep(pause.min(left)) => {}
                    _ = shutdown.as_mut() => return Ok(None),
                }
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            Err(store::StoreError::Unavailable(why)) => {
                anyhow::bail!(
                    "PostgreSQL {} could not be reached for {} s ([storage] startup_wait): {why}",
                    p.shown,
                    p.startup_wait.as_secs()
                )
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Runs the daemon on `listener` until `shutdown` resolves.
pub async fn run(
    config: Config,
    listener: TcpListener,
    options: RunOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // SIGHUP means reload from here on: installed before anything slow, so that a reload asked
    // for while the daemon starts is done once it serves instead of ending the process.
    #[cfg(unix)]
    let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let limits = connection_limits(&config)?;
    let db = config.settings.database.clone();
    let postgres = config.settings.postgres.clone();
    // One daemon per SQLite database: taken before anything is opened, held until `run`
    // returns. Several daemons may share a PostgreSQL database.
    let _lock = match (&postgres, options.lock.clone()) {
        (Some(_), _) => None,
        (None, Some(lock)) => Some(lock),
        (None, None) => Some(claim(
            &db,
            listener.local_addr()?,
            config.settings.city.time_zone,
        )?),
    };
    let mut shutdown = Box::pin(shutdown);
    let opened = match &postgres {
        Some(p) => {
            tracing::info!(server = %p.shown, "storing in PostgreSQL");
            match open_postgres_patiently(p, &mut shutdown).await? {
                Some(pools) => Opened::Postgres(pools),
                None => return Ok(()),
            }
        }
        None => {
            let db = db.clone();
            Opened::Sqlite(tokio::task::spawn_blocking(move || store::open_writer(&db)).await??)
        }
    };
    let reads = match &opened {
        Opened::Sqlite(_) => ReadPool::new(&db),
        Opened::Postgres(pools) => ReadPool::postgres(pools.clone()),
    };
    // Other daemons' commits from here on reach this one's state (read just below).
    let since = match &opened {
        Opened::Sqlite(_) => 0,
        Opened::Postgres(pools) => pools.last_change().await?,
    };
    // From the primary: a replica (`read_url`) may be behind the change log read above.
    let loading = std::time::Instant::now();
    let (series, notes) = match &opened {
        Opened::Sqlite(_) => {
            reads
                .run(|c| Ok((c.all_series()?, c.latest_notes()?)))
                .await?
        }
        Opened::Postgres(pools) => pools.history(HISTORY_PARTS).await?,
    };
    tracing::info!(
        indicators = series.len(),
        observations = series.values().map(Vec::len).sum::<usize>(),
        ms = loading.elapsed().as_millis() as u64,
        "history read"
    );
    let computing = std::time::Instant::now();
    let now = chrono::Utc::now().timestamp_millis();
    let state = ProgressState::new(
        Arc::new(config.masterplan.clone()),
        config.settings.city.time_zone,
        config.settings.progress.thresholds,
        series,
        notes,
        now,
    );
    tracing::info!(
        ms = computing.elapsed().as_millis() as u64,
        "progress computed"
    );
    let hub = Hub::new(state.snapshot());
    let progress = Arc::new(Mutex::new(state));
    let on_commit = Box::new(ProgressListener {
        progress: progress.clone(),
        hub: hub.clone(),
    });
    let (writer, writer_thread) = match opened {
        Opened::Sqlite(conn) => store::writer::spawn_writer(conn, on_commit, 1024),
        Opened::Postgres(_) => {
            let Some(p) = postgres.as_ref() else {
                anyhow::bail!("PostgreSQL pools were opened without their settings");
            };
            store::postgres::writer::spawn_writer(p, on_commit, 1024, since)?
        }
    };
    let storage = match &postgres {
        Some(_) => store::Roles::shared(),
        None => store::Roles::sole(),
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let tick_seconds = config.settings.progress.tick_seconds;
    let rate = config.settings.server.rate_limit_per_minute;
    let app = App::new(crate::app::AppState {
        config: Arc::new(RwLock::new(Arc::new(config))),
        progress: progress.clone(),
        hub: hub.clone(),
        writer,
        reads,
        screens: ScreenRegistry::default(),
        feeds: crate::feeds::FeedHealth::default(),
        http: Arc::new(crate::app::HttpMetrics::default()),
        connections: Arc::default(),
        limiter: Arc::new(crate::app::RateLimiter::new(rate)),
        tokens: Arc::default(),
        options,
        shutdown: stop_rx.clone(),
        reload: Arc::new(tokio::sync::Notify::new()),
        started: std::time::Instant::now(),
        webhooks: Arc::new(crate::live::webhooks::WebhookMetrics::default()),
        reminders: Arc::new(crate::app::counters::ReminderMetrics::default()),
        plan_version: Arc::new(RwLock::new(None)),
        backups: store::backup::BackupStatus::default(),
        storage: storage.clone(),
    });

    // Feed health as recorded before a restart is there from the first request on.
    {
        let (feeds, reads, config) = (app.feeds.clone(), app.reads.clone(), app.config());
        tokio::task::spawn_blocking(move || {
            feeds.configure(&config.feeds);
            feeds.restore(&reads, config.settings.city.time_zone);
        })
        .await?;
    }

    // The plan as loaded is a version of its own when it differs from the last one recorded.
    {
        let plan = app.config().masterplan.clone();
        if let Err(e) = app.record_plan_version(&plan).await {
            tracing::warn!(error = %e, "cannot record the plan's version");
        }
    }

    let mut tasks = tokio::task::JoinSet::new();
    // Subscribed before the other tasks start, so that their first events reach the webhooks.
    let webhooks = crate::live::webhooks::forwarder(
        &hub,
        app.config().settings.webhooks.clone(),
        app.webhooks.clone(),
        stop_rx.clone(),
    );
    tasks.spawn(webhooks);
    tasks.spawn(tick(
        progress,
        hub.clone(),
        Duration::from_secs(tick_seconds),
        stop_rx.clone(),
    ));
    tasks.spawn(crate::poller::run(app.clone(), stop_rx.clone()));
    tasks.spawn(watch_other_writers(app.writer.clone(), stop_rx.clone()));
    if let Some(p) = &postgres {
        tasks.spawn(store::postgres::roles::hold(
            p.config.clone(),
            p.shown.clone(),
            storage.clone(),
            app.writer.clone(),
            stop_rx.clone(),
        ));
    }
    tasks.spawn(crate::reminders::run(app.clone(), stop_rx.clone()));
    #[cfg(unix)]
    tasks.spawn(reload_on_sighup(app.clone(), hup, stop_rx.clone()));
    if let Some(b) = app.config().settings.backup.clone() {
        let plan = store::backup::BackupPlan {
            every: b.every,
            keep: b.keep,
            dir: b.dir,
        };
        tracing::info!(every = ?plan.every, keep = plan.keep, dir = %plan.dir.display(), "scheduled backups");
        tasks.spawn(store::backup::run_schedule(
            db.clone(),
            plan,
            app.tz(),
            app.backups.clone(),
            tell_backup(app.clone()),
            stop_rx.clone(),
        ));
    }
    if let Some(every) = sd_notify::watchdog_enabled() {
        tasks.spawn(watchdog(every / 2, stop_rx.clone()));
    }

    let addr = listener.local_addr()?;
    tracing::info!(%addr, "serving");
    let routes = crate::api::routes(app.clone());
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
        app.connections.clone(),
        server_stop,
    ));
    notify_systemd(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status(&format!("serving on http://{addr}/")),
    ]);
    shutdown.await;
    notify_systemd(&[
        sd_notify::NotifyState::Stopping,
        sd_notify::NotifyState::Status("stopping: finishing writes"),
    ]);
    tracing::info!("shutting down: no new connections; finishing writes");
    let _ = stop_tx.send(true);
    // Open connections (e.g. websockets) get a moment to close, then are dropped.
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    while tasks.join_next().await.is_some() {}
    drop(app);
    // Every writer handle is gone once the tasks and the server are: the writer commits what it
    // took and stops.
    tokio::task::spawn_blocking(move || writer_thread.join())
        .await
        .ok();
    tracing::info!("stopped");
    Ok(())
}

/// Descriptors kept for everything but client connections and screens.
fn reserved_files(config: &Config) -> u64 {
    // Standard streams, the runtime's event descriptors, the listener, signal pipes, logs,
    // a backup or export in progress, the DNS resolver.
    let base = 48;
    // The writer's database, WAL and shared-memory files.
    let writer = 3;
    // Read-only connections (database and WAL each); the pool keeps 8, bursts open more.
    let readers = 2 * 16;
    // Each feed has at most one poll in flight, plus the connection its host may keep open
    // between polls; and webhook deliveries.
    let feeds = 2 * config.feeds.len() as u64 + 2 * config.settings.webhooks.urls.len() as u64;
    base + writer + readers + feeds
}

/// The configured connection limits, raised the open-file limit to the hard limit first and
/// cut to fit in it, so that running out of descriptors never stops `/healthz` or a post.
fn connection_limits(config: &Config) -> anyhow::Result<crate::api::listen::ConnectionLimits> {
    let server = &config.settings.server;
    let configured = crate::api::listen::ConnectionLimits {
        max_connections: server.max_connections,
        max_screens: server.max_screens,
        header_read_timeout: server.header_read_timeout,
        ..Default::default()
    };
    let Some(open_files) = crate::api::listen::raise_open_file_limit() else {
        return Ok(configured);
    };
    let reserve = reserved_files(config);
    let limits = configured
        .fit(open_files, reserve)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if limits == configured {
        tracing::info!(
            open_files,
            reserve,
            max_connections = limits.max_connections,
            max_screens = limits.max_screens,
            "open-file limit"
        );
    } else {
        tracing::warn!(
            open_files,
            reserve,
            max_connections = limits.max_connections,
            max_screens = limits.max_screens,
            "the open-file limit does not fit [server] max_connections = {} and max_screens = {} beside the {reserve} descriptors pantau keeps for itself; serving fewer (raise the limit: `ulimit -n`, or LimitNOFILE= in the systemd unit)",
            configured.max_connections,
            configured.max_screens,
        );
    }
    Ok(limits)
}

/// Re-evaluates staleness and expected progress on a clock, so screens change without new data.
async fn tick(
    progress: Arc<Mutex<ProgressState>>,
    hub: Hub,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut interval = tokio::time::interval(every);
    interval.tick().await;
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let now = chrono::Utc::now().timestamp_millis();
        let mut state = match progress.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let change: Change = state.tick(now);
        hub.publish(&change, state.snapshot());
    }
}

/// How often the writer looks for commits by other processes (`pantau import`, `pantau token`).
const OTHER_WRITERS_EVERY: Duration = Duration::from_millis(500);

/// Wakes the writer on a clock so that it looks for other processes' commits while idle.
async fn watch_other_writers(writer: store::WriterHandle, mut stop: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(OTHER_WRITERS_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => writer.wake(),
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

#[cfg(unix)]
async fn reload_on_sighup(
    app: App,
    hup: Option<tokio::signal::unix::Signal>,
    mut stop: watch::Receiver<bool>,
) {
    let Some(mut hup) = hup else {
        return;
    };
    loop {
        tokio::select! {
            got = hup.recv() => {
                if got.is_none() {
                    return;
                }
            }
            _ = stop.changed() => return,
        }
        let mut reloading = vec![sd_notify::NotifyState::Reloading];
        reloading.extend(sd_notify::NotifyState::monotonic_usec_now().ok());
        notify_systemd(&reloading);
        let status = match app.reload_config().await {
            Ok(_) => "serving; configuration reloaded",
            Err(e) => {
                tracing::error!("reload refused; the running configuration stays:\n{e}");
                "serving; the last reload was refused (see the log)"
            }
        };
        notify_systemd(&[
            sd_notify::NotifyState::Ready,
            sd_notify::NotifyState::Status(status),
        ]);
    }
}

/// Tells systemd about the daemon's state when it runs under it (`NOTIFY_SOCKET` set);
/// nothing otherwise.
fn notify_systemd(states: &[sd_notify::NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify systemd (NOTIFY_SOCKET)");
    }
}

/// Pings systemd's watchdog every `every` (half its `WatchdogSec=`) while the runtime runs
/// tasks: a daemon whose workers are stuck stops pinging and is restarted.
async fn watchdog(every: Duration, mut stop: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(every.max(Duration::from_millis(10)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => notify_systemd(&[sd_notify::NotifyState::Watchdog]),
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Tells the log every backup's result, and the wall (`backup_failed`, `backup_ok` events)
/// when backups start failing and when they work again.
fn tell_backup(
    app: App,
) -> impl Fn(&store::backup::BackupRun, store::backup::Transition) + Send + 'static {
    use store::backup::Transition;
    move |run, transition| {
        let file = run
            .file
            .as_ref()
            .map(|f| f.display().to_string())
            .unwrap_or_default();
        match (&run.error, transition) {
            (Some(e), _) if run.file.is_none() => {
                tracing::error!(error = %e, "backup failed");
            }
            (Some(e), _) => {
                tracing::warn!(file = %file, error = %e, "backup written with a problem")
            }
            (None, _) => tracing::info!(
                file = %file,
                bytes = run.bytes.unwrap_or(0),
                duration_ms = run.duration_ms,
                "backup written"
            ),
        }
        let kind = match transition {
            Transition::Failed => "backup_failed",
            Transition::Recovered => "backup_ok",
            Transition::Unchanged => return,
        };
        let config = app.config();
        let name = match config.settings.city.locale {
            crate::config::Locale::Id => "Cadangan basis data",
            crate::config::Locale::En => "Database backup",
        };
        app.hub
            .publish_events(vec![crate::progress::state::StatusEvent {
                time: crate::domain::format_instant(run.started, config.settings.city.time_zone),
                kind,
                item_type: "backup",
                id: "backup".into(),
                name: name.into(),
                from: None,
                to: None,
                message: run
                    .error
                    .clone()
                    .or(run.file.as_ref().map(|_| file.clone())),
            }]);
    }
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called (inside the
/// runtime), so a signal that arrives before the future is first polled is not lost.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        async move {
            let term = async {
                match term {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let int = async {
                match int {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = term => {}
                _ = int => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async move {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
