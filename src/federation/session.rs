//! One federation screen's websocket: a snapshot or a replay first, then the numbered deltas,
//! pings, and a fresh snapshot whenever the screen lagged behind. The same protocol a city's
//! screens speak (`crate::live::session`), with `federation` in place of `progress` in the
//! snapshot and `cities` in each delta.

use super::state::{Federation, Start};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

pub type Socket = crate::live::session::Socket;

/// How long one write may take before the screen counts as dead.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
const PING_EVERY: Duration = Duration::from_secs(15);
const SILENT_LIMIT: Duration = Duration::from_secs(45);

fn text(b: bytes::Bytes) -> Option<Message> {
    tokio_tungstenite::tungstenite::Utf8Bytes::try_from(b)
        .ok()
        .map(Message::Text)
}

/// Runs one screen until it leaves, stalls, or the federation shuts down.
pub async fn run(
    ws: Socket,
    fed: Federation,
    since: Option<u64>,
    epoch: Option<String>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    use std::sync::atomic::Ordering;
    fed.metrics.screens.fetch_add(1, Ordering::Relaxed);
    let (mut tx, mut rx_ws) = ws.split();
    let (mut rx, start) = fed.subscribe(since, epoch.as_deref());
    let mut last_sent;
    let first: Vec<bytes::Bytes> = match start {
        Start::Snapshot(json, seq) => {
            last_sent = seq;
            vec![json]
        }
        Start::Replay(deltas) => {
            last_sent = since.unwrap_or(0);
            deltas
                .into_iter()
                .map(|d| {
                    last_sent = d.seq;
                    d.json.clone()
                })
                .collect()
        }
    };
    let mut ok = send_all(&mut tx, first).await;
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut last_heard = tokio::time::Instant::now();
    while ok {
        tokio::select! {
            msg = rx.recv() => {
                let out = match msg {
                    Ok(d) if d.seq <= last_sent => continue,
                    Ok(d) => {
                        last_sent = d.seq;
                        let mut out = vec![d.json.clone()];
                        while let Ok(next) = rx.try_recv() {
                            if next.seq > last_sent {
                                last_sent = next.seq;
                                out.push(next.json.clone());
                            }
                        }
                        out
                    }
                    Err(RecvError::Lagged(_)) => {
                        let (rx2, start) = fed.subscribe(None, None);
                        rx = rx2;
                        match start {
                            Start::Snapshot(json, seq) => {
                                last_sent = seq;
                                vec![json]
                            }
                            Start::Replay(_) => continue,
                        }
                    }
                    Err(RecvError::Closed) => break,
                };
                ok = send_all(&mut tx, out).await;
            }
            incoming = rx_ws.next() => match incoming {
                Some(Ok(m)) if m.is_close() => break,
                Some(Ok(_)) => last_heard = tokio::time::Instant::now(),
                Some(Err(_)) | None => break,
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > SILENT_LIMIT {
                    break;
                }
                ok = tokio::time::timeout(SEND_TIMEOUT, tx.send(Message::Ping(bytes::Bytes::new())))
                    .await
                    .is_ok_and(|r| r.is_ok());
            }
            _ = stop.changed() => {
                let close = Message::Close(Some(CloseFrame {
                    code: CloseCode::Away,
                    reason: "pantau is restarting".into(),
                }));
                let _ = tokio::time::timeout(Duration::from_secs(1), tx.send(close)).await;
                break;
            }
        }
    }
    fed.metrics.screens.fetch_sub(1, Ordering::Relaxed);
}

async fn send_all(
    tx: &mut futures_util::stream::SplitSink<Socket, Message>,
    messages: Vec<bytes::Bytes>,
) -> bool {
    let work = async {
        for m in messages {
            if let Some(m) = text(m) {
                tx.feed(m).await?;
            }
        }
        tx.flush().await
    };
    matches!(tokio::time::timeout(SEND_TIMEOUT, work).await, Ok(Ok(())))
}
