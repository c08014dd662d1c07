//! What one daemon among several on a PostgreSQL database holds: the polling role (a session
//! advisory lock), and the session that listens for other daemons' commits.
//!
//! One connection of its own does both. While it lives and holds `POLL_LOCK`, this daemon polls
//! the feeds; when the daemon dies its session ends, PostgreSQL frees the lock, and another
//! daemon, trying every second, takes it. Each notification on `CHANGE_CHANNEL` from another
//! daemon's writer (the payload names the writer) wakes this daemon's writer, which reads the
//! change log after the last entry it saw, so a notification lost while the connection was down
//! is caught up when it is back (the writer also looks on a clock).

use super::{CHANGE_CHANNEL, POLL_LOCK};
use crate::store::writer::WriterHandle;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// How often a daemon without the polling role tries to take it, and a holder checks its session.
const TRY_EVERY: Duration = Duration::from_secs(1);

/// The state `/healthz` shows and the poller asks.
#[derive(Clone, Debug)]
pub struct Roles {
    /// Whether this daemon polls the feeds.
    polling: Arc<AtomicBool>,
    /// Whether the database answered the last check.
    connected: Arc<AtomicBool>,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
}

impl Roles {
    /// The only daemon on its database (SQLite): it always polls.
    pub fn sole() -> Roles {
        Roles {
            polling: Arc::new(AtomicBool::new(true)),
            connected: Arc::new(AtomicBool::new(true)),
            backend: "sqlite",
        }
    }

    /// One of several: the role is won by `hold`.
    pub fn shared() -> Roles {
        Roles {
            polling: Arc::new(AtomicBool::new(false)),
            connected: Arc::new(AtomicBool::new(false)),
            backend: "postgres",
        }
    }

    pub fn polls(&self) -> bool {
        self.polling.load(Ordering::Relaxed)
    }

    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    fn set(&self, polling: bool, connected: bool) {
        self.polling.store(polling, Ordering::Relaxed);
        self.connected.store(connected, Ordering::Relaxed);
    }
}

/// Keeps a session to the primary until `stop`: listens for commits (waking `writer`) and
/// takes the polling role when it is free.
pub async fn hold(
    config: tokio_postgres::Config,
    shown: String,
    roles: Roles,
    writer: WriterHandle,
    mut stop: watch::Receiver<bool>,
) {
    let mut failing = false;
    loop {
        if *stop.borrow() {
            break;
        }
        match session(&config, &roles, &writer, &mut stop).await {
            Ok(()) => break,
            Err(e) => {
                if roles.polls() {
                    tracing::warn!("lost the polling role: the session to PostgreSQL ended");
                }
                roles.set(false, false);
                if !failing {
                    tracing::warn!(server = %shown, error = %e, "no session to PostgreSQL; retrying every second");
                    failing = true;
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(TRY_EVERY) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
    }
    roles.set(false, roles.connected());
}

/// One session: Ok when asked to stop, Err when it ended.
async fn session(
    config: &tokio_postgres::Config,
    roles: &Roles,
    writer: &WriterHandle,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), crate::store::StoreError> {
    let (client, mut connection) = config.connect(super::tls()).await.map_err(super::error)?;
    let (ended_tx, mut ended) = tokio::sync::oneshot::channel::<String>();
    let waker = writer.clone();
    tokio::spawn(async move {
        let why = loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                // A notification names the writer that committed; this daemon's own commits
                // are in its state already.
                Some(Ok(tokio_postgres::AsyncMessage::Notification(n))) => {
                    if n.payload() != waker.id() {
                        waker.wake();
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => break e.to_string(),
                None => break "closed".to_string(),
            }
        };
        let _ = ended_tx.send(why);
    });
    client
        .batch_execute(&format!("LISTEN {CHANGE_CHANNEL}"))
        .await
        .map_err(super::error)?;
    tracing::info!("connected to PostgreSQL; listening for other daemons' commits");
    roles.set(false, true);
    // Whatever was committed while no session listened.
    writer.wake();
    let mut every = tokio::time::interval(TRY_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            why = &mut ended => {
                return Err(crate::store::StoreError::Unavailable(format!(
                    "PostgreSQL: the session ended ({})",
                    why.unwrap_or_default()
                )));
            }
            // Dropping the client ends the session, which frees the polling role at once.
            _ = stop.wait_for(|s| *s) => return Ok(()),
        }
        let check = if roles.polls() {
            tokio::time::timeout(Duration::from_secs(3), client.simple_query("SELECT 1"))
                .await
                .map(|r| r.map(|_| true))
        } else {
            tokio::time::timeout(
                Duration::from_secs(3),
                client.query_one("SELECT pg_try_advisory_lock($1)", &[&POLL_LOCK]),
            )
            .await
            .map(|r| r.map(|row| row.get::<_, bool>(0)))
        };
        match check {
            Ok(Ok(holds)) => {
                if holds && !roles.polls() {
                    tracing::info!("this daemon polls the feeds now (it holds the polling role)");
                }
                roles.set(holds, true);
            }
            Ok(Err(e)) => return Err(super::error(e)),
            Err(_) => {
                return Err(crate::store::StoreError::Unavailable(
                    "PostgreSQL: no answer within 3 s".into(),
                ));
            }
        }
    }
}
