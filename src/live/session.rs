//! One websocket session: a snapshot or a replay first, then filtered deltas and events, pings,
//! and a fresh snapshot whenever the session lagged behind the hub.
//!
//! A session whose socket does not take a message within `SEND_TIMEOUT` is disconnected, so a
//! stalled screen holds at most the hub's bounded channel, never the writer.
//!
//! Memory per screen stays small however large the masterplan: the socket reads into an 8 KiB
//! buffer (`socket_config`), writes through without a buffer of its own, and a message larger
//! than `FRAGMENT` (a snapshot) goes out as fragments cut from the shared serialized bytes, so no
//! screen ever holds a copy of a whole snapshot.

use super::hub::{Hub, Start};
use crate::progress::state::Filter;
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};

/// A screen's websocket.
pub type Socket = WebSocketStream<hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>>;

/// How long one send may take before the screen counts as dead.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest websocket frame a session writes; longer messages are sent in fragments.
pub const FRAGMENT: usize = 8 * 1024;

/// The websocket settings of every session. tungstenite zero-fills its whole read buffer
/// before each read (and a session's socket is polled on every delta), so the 128 KiB default
/// cost a quarter of the CPU of a 1,000-screen fan-out and 128 KiB of memory per screen; screens
/// only send pongs and closes. `write_buffer_size = 0` writes frames through as they come,
/// so a session's write buffer never grows past one fragment.
pub fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(64 * 1024))
        .max_frame_size(Some(64 * 1024))
}

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
    seen: Arc<Seen>,
    tz: chrono_tz::Tz,
}

/// What a session updates after each send without taking the registry's lock (1,000 screens
/// would queue on it for every delta): when it was last heard from or written to, and the last
/// seq it was sent. Formatted only when the screens are listed.
#[derive(Debug, Default)]
struct Seen {
    at_ms: AtomicI64,
    seq: AtomicU64,
}

/// When the screen was last heard from (any frame: pong, text, ping), in milliseconds since
/// the session began: written by the session's reader task, read at each heartbeat.
#[derive(Debug)]
struct Heard {
    began: std::time::Instant,
    ms: AtomicU64,
}

impl Heard {
    fn now(&self) -> u64 {
        self.began.elapsed().as_millis() as u64
    }

    fn hear(&self) {
        self.ms.store(self.now(), Ordering::Relaxed);
    }

    fn silent_for(&self) -> Duration {
        Duration::from_millis(self.now().saturating_sub(self.ms.load(Ordering::Relaxed)))
    }
}

impl Seen {
    fn touch(&self, seq: Option<u64>) {
        self.at_ms
            .store(chrono::Utc::now().timestamp_millis(), Ordering::Relaxed);
        if let Some(seq) = seq {
            self.seq.store(seq, Ordering::Relaxed);
        }
    }
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
            .map(|s| {
                s.values()
                    .map(|e| {
                        let mut info = e.info.clone();
                        info.last_seen = crate::domain::format_instant(
                            e.seen.at_ms.load(Ordering::Relaxed),
                            e.tz,
                        );
                        info.seq = e.seen.seq.load(Ordering::Relaxed);
                        info
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort_by_key(|s| s.session);
        v
    }

    pub fn count(&self) -> usize {
        self.sessions.lock().map(|s| s.len()).unwrap_or(0)
    }

    fn add(&self, params: &SessionParams, tz: chrono_tz::Tz) -> (u64, Arc<Seen>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let now = chrono::Utc::now().timestamp_millis();
        let seen = Arc::new(Seen::default());
        seen.at_ms.store(now, Ordering::Relaxed);
        let text = crate::domain::format_instant(now, tz);
        if let Ok(mut s) = self.sessions.lock() {
            s.insert(
                id,
                Entry {
                    info: ScreenInfo {
                        session: id,
                        screen: params.screen.clone(),
                        remote: params.remote.clone(),
                        connected: text.clone(),
                        last_seen: text,
                        shows: ShowsView {
                            dimension: params.filter.dimension.clone(),
                            department: params.filter.department.clone(),
                            quick_win: params.filter.quick_win,
                        },
                        seq: 0,
                    },
                    seen: seen.clone(),
                    tz,
                },
            );
        }
        (id, seen)
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
    ws: Socket,
    hub: Hub,
    params: SessionParams,
    registry: ScreenRegistry,
    heartbeat: Heartbeat,
    tz: chrono_tz::Tz,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let (id, seen) = registry.add(&params, tz);
    let (mut tx, rx_ws) = ws.split();
    let (mut rx, start) = hub.subscribe(params.since, params.epoch.as_deref());
    let filter = params.filter.clone();
    let mut last_sent: u64;
    let first: Vec<Outgoing> = match start {
        Start::Snapshot(snapshot, seq) => {
            last_sent = seq;
            vec![hub.snapshot_message(&snapshot, seq, &filter)]
        }
        Start::Replay(deltas) => {
            last_sent = params.since.unwrap_or(0);
            let mut out = Vec::new();
            for d in &deltas {
                if d.reset {
                    let (snapshot, seq) = hub.current();
                    last_sent = seq;
                    out = vec![hub.snapshot_message(&snapshot, seq, &filter)];
                    break;
                }
                if let Some(j) = hub.delta_json(d, &filter) {
                    out.push(vec![j]);
                }
                out.extend(hub.events_for(d, &filter).map(|e| vec![e.clone()]));
                last_sent = d.seq;
            }
            out
        }
    };
    if send_all(&mut tx, first).await.is_err() {
        registry.remove(id);
        return;
    }
    seen.touch(Some(last_sent));
    let mut ping = tokio::time::interval(heartbeat.interval);
    ping.tick().await;
    // The screen's side of the socket is read by a task of its own, polled only when the
    // socket has something to read: polled from the loop below, it ran on every delta, and
    // tungstenite zero-fills its read buffer before each read attempt (8 KiB per screen per
    // delta, the largest cost of a 1,000-screen fan-out after the sends themselves). It ends
    // on a close, an error or the end of the stream, and its end (`gone`) ends the session.
    let heard = Arc::new(Heard {
        began: std::time::Instant::now(),
        ms: AtomicU64::new(0),
    });
    let (left, gone) = tokio::sync::oneshot::channel::<()>();
    let reader = {
        let (heard, seen) = (heard.clone(), seen.clone());
        tokio::spawn(async move {
            let mut rx_ws = rx_ws;
            loop {
                match rx_ws.next().await {
                    Some(Ok(m)) if m.is_close() => break,
                    Some(Ok(_)) => {
                        heard.hear();
                        seen.touch(None);
                    }
                    Some(Err(_)) | None => break,
                }
            }
            drop(left);
        })
    };
    tokio::pin!(gone);
    // Made once: a `changed()` made afresh on every turn of the loop would enter and leave the
    // waiters of the one shutdown signal every session shares, a lock twice per delta per screen.
    let stopping = shutdown.changed();
    tokio::pin!(stopping);
    loop {
        // Deltas first: a wake for a delta polls nothing else. Each turn takes everything
        // queued, so the turn after it finds the channel empty and looks at the rest.
        tokio::select! {
            biased;
            msg = rx.recv() => {
                let out = match msg {
                    Ok(d) if d.seq <= last_sent => continue,
                    Ok(d) if d.reset => {
                        let (snapshot, seq) = hub.current();
                        last_sent = seq;
                        vec![hub.snapshot_message(&snapshot, seq, &filter)]
                    }
                    Ok(d) => {
                        last_sent = d.seq;
                        let mut out: Vec<Outgoing> = hub.delta_json(&d, &filter).map(|j| vec![j]).into_iter().collect();
                        out.extend(hub.events_for(&d, &filter).map(|e| vec![e.clone()]));
                        // Take everything else already queued, then write it all before one flush.
                        while let Ok(next) = rx.try_recv() {
                            if next.seq <= last_sent { continue; }
                            if next.reset {
                                let (snapshot, seq) = hub.current();
                                last_sent = seq;
                                out = vec![hub.snapshot_message(&snapshot, seq, &filter)];
                                continue;
                            }
                            last_sent = next.seq;
                            out.extend(hub.delta_json(&next, &filter).map(|j| vec![j]));
                            out.extend(hub.events_for(&next, &filter).map(|e| vec![e.clone()]));
                        }
                        out
                    }
                    Err(RecvError::Lagged(_)) => {
                        let (snapshot, seq) = hub.current();
                        last_sent = seq;
                        vec![hub.snapshot_message(&snapshot, seq, &filter)]
                    }
                    Err(RecvError::Closed) => break,
                };
                if out.is_empty() { continue; }
                if send_all(&mut tx, out).await.is_err() { break; }
                seen.touch(Some(last_sent));
            }
            _ = &mut gone => break,
            _ = &mut stopping => {
                let _ = tokio::time::timeout(Duration::from_secs(1), tx.send(Message::Close(Some(CloseFrame { code: CloseCode::Away, reason: "pantau is restarting".into() })))).await;
                break;
            }
            _ = ping.tick() => {
                if heard.silent_for() > heartbeat.timeout {
                    tracing::info!(session = id, "screen silent too long; disconnecting");
                    break;
                }
                if tokio::time::timeout(SEND_TIMEOUT, tx.send(Message::Ping(bytes::Bytes::new()))).await.map_or(true, |r| r.is_err()) {
                    break;
                }
            }
        }
    }
    reader.abort();
    registry.remove(id);
}

/// One message to a screen, as consecutive parts of its bytes: a delta or event is one part; a
/// snapshot is a short head, the shared serialized progress, and a closing brace.
pub type Outgoing = Vec<bytes::Bytes>;

/// The frames of one message: a single text frame when it fits in `FRAGMENT`, else a text frame
/// and continuation frames of at most `FRAGMENT` bytes each, sliced (not copied) from `parts`.
/// Fragments may split a UTF-8 sequence; the message as a whole is valid UTF-8 (RFC 6455 5.6).
fn frames(parts: Outgoing) -> Vec<Message> {
    let total: usize = parts.iter().map(bytes::Bytes::len).sum();
    if parts.len() == 1 && total <= FRAGMENT {
        // One final text frame over the shared bytes: no copy, and no UTF-8 check per screen
        // (the hub serialized them once, with serde_json, which writes only valid UTF-8).
        return parts
            .into_iter()
            .map(|p| Message::Frame(Frame::message(p, OpCode::Data(Data::Text), true)))
            .collect();
    }
    let mut chunks = Vec::with_capacity(total / FRAGMENT + parts.len());
    for part in parts {
        let mut at = 0;
        while at < part.len() {
            let end = (at + FRAGMENT).min(part.len());
            chunks.push(part.slice(at..end));
            at = end;
        }
    }
    let last = chunks.len().saturating_sub(1);
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let opcode = OpCode::Data(if i == 0 { Data::Text } else { Data::Continue });
            Message::Frame(Frame::message(chunk, opcode, i == last))
        })
        .collect()
}

async fn send_all(
    tx: &mut futures_util::stream::SplitSink<Socket, Message>,
    messages: Vec<Outgoing>,
) -> Result<(), ()> {
    let work = async {
        for m in messages {
            for frame in frames(m) {
                tx.feed(frame).await.map_err(|_| ())?;
            }
        }
        tx.flush().await.map_err(|_| ())
    };
    // The deadline is armed only when the socket cannot take it all at once: nearly every send
    // to a reading screen completes on its first poll, and a timer made for each (a reference
    // to the runtime's timer, counted up and down from both cores) cost every delta.
    let mut work = std::pin::pin!(work);
    if let std::task::Poll::Ready(done) =
        std::future::poll_fn(|cx| std::task::Poll::Ready(work.as_mut().poll(cx))).await
    {
        return done;
    }
    tokio::time::timeout(SEND_TIMEOUT, work)
        .await
        .map_err(|_| ())?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(frames: &[Message]) -> (String, usize) {
        let mut out = Vec::new();
        for m in frames {
            match m {
                Message::Text(t) => out.extend_from_slice(t.as_bytes()),
                Message::Frame(f) => out.extend_from_slice(f.payload()),
                other => panic!("unexpected {other:?}"),
            }
        }
        (String::from_utf8(out).unwrap(), frames.len())
    }

    #[test]
    fn small_messages_are_one_text_frame() {
        let f = frames(vec![bytes::Bytes::from_static(b"{\"type\":\"delta\"}")]);
        let [Message::Frame(frame)] = &f[..] else {
            panic!("one frame: {f:?}")
        };
        assert!(frame.header().is_final);
        assert_eq!(frame.header().opcode, OpCode::Data(Data::Text));
        assert_eq!(text_of(&f).0, "{\"type\":\"delta\"}");
    }

    #[test]
    fn large_messages_are_fragmented_without_losing_bytes() {
        let body = "é".repeat(FRAGMENT); // two bytes each: fragments split characters
        let parts = vec![
            bytes::Bytes::from_static(b"{\"progress\":\""),
            bytes::Bytes::from(body.clone()),
            bytes::Bytes::from_static(b"\"}"),
        ];
        let f = frames(parts);
        let (text, n) = text_of(&f);
        assert_eq!(text, format!("{{\"progress\":\"{body}\"}}"));
        assert!(n >= 3);
        for (i, m) in f.iter().enumerate() {
            let Message::Frame(frame) = m else {
                panic!("fragments are raw frames")
            };
            assert!(frame.payload().len() <= FRAGMENT);
            assert_eq!(frame.header().is_final, i + 1 == n);
            let expected = if i == 0 { Data::Text } else { Data::Continue };
            assert_eq!(frame.header().opcode, OpCode::Data(expected));
        }
    }
}
