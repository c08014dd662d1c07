//! One websocket session: a snapshot or a replay first, then filtered deltas and events, pings,
//! and a fresh snapshot whenever the session lagged behind the hub.
//!
//! A session whose socket does not take a message within `SEND_TIMEOUT` is disconnected, so a
//! stalled screen holds at most the hub's bounded channel, never the writer.

use super::hub::{Hub, Start};
use crate::progress::state::Filter;
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use warp::ws::{Message, WebSocket};

/// How long one send may take before the screen counts as dead.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// What a screen asked for when it connected.
#[derive(Debug, Clone, Default)]
pub struct SessionParams {
    pub filter: Filter,
    pub since: Option<u64>,
    pub epoch: Option<String>,
    /// The screen id from `dashboards/screens.toml`, if the client named one.
    pub screen: Option<String>,
    pub remote: Option<String>,
}

/// A connected screen, as listed by `/api/v1/screens`.
#[derive(Debug, Clone, Serialize)]
pub struct ScreenInfo {
    pub session: u64,
    pub screen: Option<String>,
    pub remote: Option<String>,
    pub connected: String,
    pub last_seen: String,
    pub shows: ShowsView,
    pub seq: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShowsView {
    pub dimension: Option<String>,
    pub department: Option<String>,
    pub quick_win: bool,
}

struct Entry {
    info: ScreenInfo,
}

/// Connected screens.
#[derive(Clone, Default)]
pub struct ScreenRegistry {
    next: Arc<AtomicU64>,
    sessions: Arc<Mutex<HashMap<u64, Entry>>>,
}

impl ScreenRegistry {
    pub fn list(&self) -> Vec<ScreenInfo> {
        let mut v: Vec<ScreenInfo> = self
            .sessions
            .lock()
            .map(|s| s.values().map(|e| e.info.clone()).collect())
            .unwrap_or_default();
        v.sort_by_key(|s| s.session);
        v
    }

    pub fn count(&self) -> usize {
        self.sessions.lock().map(|s| s.len()).unwrap_or(0)
    }

    fn add(&self, params: &SessionParams, now: &str) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        if let Ok(mut s) = self.sessions.lock() {
            s.insert(
                id,
                Entry {
                    info: ScreenInfo {
                        session: id,
                        screen: params.screen.clone(),
                        remote: params.remote.clone(),
                        connected: now.to_string(),
                        last_seen: now.to_string(),
                        shows: ShowsView {
                            dimension: params.filter.dimension.clone(),
                            department: params.filter.department.clone(),
                            quick_win: params.filter.quick_win,
                        },
                        seq: 0,
                    },
                },
            );
        }
        id
    }

    fn touch(&self, id: u64, now: &str, seq: Option<u64>) {
        if let Ok(mut s) = self.sessions.lock() {
            if let Some(e) = s.get_mut(&id) {
                e.info.last_seen = now.to_string();
                if let Some(seq) = seq {
                    e.info.seq = seq;
                }
            }
        }
    }

    fn remove(&self, id: u64) {
        if let Ok(mut s) = self.sessions.lock() {
            s.remove(&id);
        }
    }
}

/// Heartbeat settings.
#[derive(Debug, Clone, Copy)]
pub struct Heartbeat {
    pub interval: Duration,
    /// Peers silent for longer than this are dropped.
    pub timeout: Duration,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Heartbeat {
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(45),
        }
    }
}

/// Runs one session until the peer leaves, stalls, or pantau shuts down.
pub async fn run(
    ws: WebSocket,
    hub: Hub,
    params: SessionParams,
    registry: ScreenRegistry,
    heartbeat: Heartbeat,
    tz: chrono_tz::Tz,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let now_text = || crate::domain::format_instant(chrono::Utc::now().timestamp_millis(), tz);
    let id = registry.add(&params, &now_text());
    let (mut tx, mut rx_ws) = ws.split();
    let (mut rx, start) = hub.subscribe(params.since, params.epoch.as_deref());
    let filter = params.filter.clone();
    let mut last_sent: u64;
    let first: Vec<bytes::Bytes> = match start {
        Start::Snapshot(snapshot, seq) => {
            last_sent = seq;
            vec![hub.snapshot_json(&snapshot, seq, &filter)]
        }
        Start::Replay(deltas) => {
            last_sent = params.since.unwrap_or(0);
            let mut out = Vec::new();
            for d in &deltas {
                if d.reset {
                    let (snapshot, seq) = hub.current();
                    last_sent = seq;
                    out = vec![hub.snapshot_json(&snapshot, seq, &filter)];
                    break;
                }
                if let Some(j) = hub.delta_json(d, &filter) {
                    out.push(j);
                }
                out.extend(hub.events_for(d, &filter).cloned());
                last_sent = d.seq;
            }
            out
        }
    };
    if send_all(&mut tx, first).await.is_err() {
        registry.remove(id);
        return;
    }
    registry.touch(id, &now_text(), Some(last_sent));
    let mut ping = tokio::time::interval(heartbeat.interval);
    ping.tick().await;
    let mut last_heard = tokio::time::Instant::now();
    loop {
        tokio::select! {
            msg = rx.recv() => {
                let out = match msg {
                    Ok(d) if d.seq <= last_sent => continue,
                    Ok(d) if d.reset => {
                        let (snapshot, seq) = hub.current();
                        last_sent = seq;
                        vec![hub.snapshot_json(&snapshot, seq, &filter)]
                    }
                    Ok(d) => {
                        last_sent = d.seq;
                        let mut out: Vec<bytes::Bytes> = hub.delta_json(&d, &filter).into_iter().collect();
                        out.extend(hub.events_for(&d, &filter).cloned());
                        // Take everything else already queued, then write it all before one flush.
                        while let Ok(next) = rx.try_recv() {
                            if next.seq <= last_sent { continue; }
                            if next.reset {
                                let (snapshot, seq) = hub.current();
                                last_sent = seq;
                                out = vec![hub.snapshot_json(&snapshot, seq, &filter)];
                                continue;
                            }
                            last_sent = next.seq;
                            out.extend(hub.delta_json(&next, &filter));
                            out.extend(hub.events_for(&next, &filter).cloned());
                        }
                        out
                    }
                    Err(RecvError::Lagged(_)) => {
                        let (snapshot, seq) = hub.current();
                        last_sent = seq;
                        vec![hub.snapshot_json(&snapshot, seq, &filter)]
                    }
                    Err(RecvError::Closed) => break,
                };
                if out.is_empty() { continue; }
                if send_all(&mut tx, out).await.is_err() { break; }
                registry.touch(id, &now_text(), Some(last_sent));
            }
            incoming = rx_ws.next() => {
                match incoming {
                    Some(Ok(m)) if m.is_close() => break,
                    Some(Ok(_)) => {
                        last_heard = tokio::time::Instant::now();
                        registry.touch(id, &now_text(), None);
                    }
                    Some(Err(_)) | None => break,
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > heartbeat.timeout {
                    tracing::info!(session = id, "screen silent too long; disconnecting");
                    break;
                }
                if tokio::time::timeout(SEND_TIMEOUT, tx.send(Message::ping(Vec::<u8>::new()))).await.map_or(true, |r| r.is_err()) {
                    break;
                }
            }
            _ = shutdown.changed() => {
                let _ = tokio::time::timeout(Duration::from_secs(1), tx.send(Message::close_with(1001u16, "pantau is restarting"))).await;
                break;
            }
        }
    }
    registry.remove(id);
}

async fn send_all(
    tx: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    messages: Vec<bytes::Bytes>,
) -> Result<(), ()> {
    let work = async {
        for m in messages {
            let text = String::from_utf8(m.to_vec()).map_err(|_| ())?;
            tx.feed(Message::text(text)).await.map_err(|_| ())?;
        }
        tx.flush().await.map_err(|_| ())
    };
    tokio::time::timeout(SEND_TIMEOUT, work)
        .await
        .map_err(|_| ())?
}
