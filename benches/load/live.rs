//! The live figure: how long after a department's POST the delta reaches each of 1,000
//! websocket screens, beside a bare tokio-tungstenite broadcast of a message of the same size to
//! the same number of clients in one process (the shape of fan-out pantau builds on, without its
//! validation, commit, progress or hub).
//!
//! Screens are tokio-tungstenite clients with an 8 KiB read buffer (see PERFORMANCE-NOTES.md).
//! Each records when it received each sequence number; a post's latency on a screen is from the
//! moment the POST was sent (so it includes the durable commit, an upper bound of "accepted ->
//! received") to the moment that screen held the delta.

use crate::http::Conn;
use crate::plan::{ADMIN, Plan};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, broadcast, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::Utf8Bytes;

/// What every websocket in the harness uses (the default 128 KiB read buffer is zero-filled
/// before each read, which costs a quarter of the CPU in a 1,000-client fan-out).
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0)
}

/// What one screen saw: (seq, when) of each first message with a new seq, and the size of the
/// first message after the opening one.
#[derive(Default)]
pub struct Seen {
    pub arrivals: Vec<(u64, Instant)>,
    pub first_update_bytes: usize,
    pub opening_bytes: usize,
}

/// The `"seq":N` of a pantau (or reference) message, without parsing the rest.
fn seq_of(text: &str) -> Option<u64> {
    let at = text.find("\"seq\":")? + 6;
    let digits: &str = &text[at..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// Connected screens, each reading in its own task until `stop`.
pub struct Screens {
    tasks: tokio::task::JoinSet<anyhow::Result<Seen>>,
    stop: watch::Sender<bool>,
}

impl Screens {
    /// Connects `count` screens to `url` (at most 50 handshakes at a time) and returns once each
    /// has received its opening message (pantau's snapshot).
    pub async fn connect(url: &str, count: usize) -> anyhow::Result<Screens> {
        let (stop, stop_rx) = watch::channel(false);
        let ready = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(Semaphore::new(50));
        let mut tasks: tokio::task::JoinSet<anyhow::Result<Seen>> = tokio::task::JoinSet::new();
        for _ in 0..count {
            let (url, ready, gate, mut stop_rx) = (
                url.to_string(),
                ready.clone(),
                gate.clone(),
                stop_rx.clone(),
            );
            tasks.spawn(async move {
                let permit = gate.acquire_owned().await?;
                let (mut ws, _) =
                    tokio_tungstenite::connect_async_with_config(&url, Some(ws_config()), true)
                        .await?;
                let mut seen = Seen::default();
                let opening = ws
                    .next()
                    .await
                    .ok_or_else(|| anyhow::anyhow!("closed before the first message"))??;
                seen.opening_bytes = opening.len();
                drop(permit);
                ready.fetch_add(1, Ordering::SeqCst);
                let mut last = 0u64;
                loop {
                    tokio::select! {
                        msg = ws.next() => {
                            let Some(msg) = msg else { break };
                            if let Message::Text(t) = msg? {
                                let at = Instant::now();
                                if let Some(seq) = seq_of(&t) {
                                    if seq > last {
                                        last = seq;
                                        seen.arrivals.push((seq, at));
                                        if seen.first_update_bytes == 0 {
                                            seen.first_update_bytes = t.len();
                                        }
                                    }
                                }
                            }
                        }
                        _ = stop_rx.wait_for(|s| *s) => break,
                    }
                }
                let _ = ws.close(None).await;
                Ok(seen)
            });
        }
        let began = Instant::now();
        while ready.load(Ordering::SeqCst) < count {
            match tasks.try_join_next() {
                Some(Ok(Err(e))) => return Err(e.context("a screen failed to connect")),
                Some(Err(e)) => return Err(anyhow::anyhow!("a screen task failed: {e}")),
                _ => {}
            }
            anyhow::ensure!(
                began.elapsed() < Duration::from_secs(300),
                "screens did not all connect within 300 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(Screens { tasks, stop })
    }

    /// Waits until every screen saw `last_seq` (or `patience` passed), then closes them all.
    pub async fn finish(mut self, _last_seq: u64, patience: Duration) -> anyhow::Result<Vec<Seen>> {
        tokio::time::sleep(patience).await;
        let _ = self.stop.send(true);
        let mut out = Vec::new();
        while let Some(r) = self.tasks.join_next().await {
            out.push(r??);
        }
        Ok(out)
    }
}

/// Latencies (ms) of each screen's arrival of seq `first_seq + k` after `sent[k]`, and how many
/// (screen, update) pairs never arrived.
pub fn latencies(seen: &[Seen], first_seq: u64, sent: &[Instant]) -> (Vec<f64>, usize) {
    let mut lat = Vec::with_capacity(seen.len() * sent.len());
    let mut missing = 0;
    for s in seen {
        let mut got = 0;
        for (seq, at) in &s.arrivals {
            let Some(k) = seq.checked_sub(first_seq) else {
                continue;
            };
            if let Some(t0) = sent.get(k as usize) {
                lat.push(at.saturating_duration_since(*t0).as_secs_f64() * 1e3);
                got += 1;
            }
        }
        missing += sent.len().saturating_sub(got);
    }
    (lat, missing)
}

/// Result of one fan-out run.
pub struct FanOut {
    pub latencies_ms: Vec<f64>,
    pub missing: usize,
    pub message_bytes: usize,
    pub opening_bytes: usize,
    pub connect_seconds: f64,
    pub ack_ms: Vec<f64>,
}

/// Posts `updates` single-row observations (one every `every`) to pantau with `screens`
/// unfiltered screens connected, and measures each screen's delta arrival.
pub async fn pantau_fanout(
    addr: SocketAddr,
    plan: &Plan,
    screens: usize,
    updates: usize,
    every: Duration,
) -> anyhow::Result<FanOut> {
    let began = Instant::now();
    let s = Screens::connect(&format!("ws://{addr}/api/v1/live"), screens).await?;
    let connect_seconds = began.elapsed().as_secs_f64();
    let mut conn = Conn::connect(addr).await?;
    let base_seq = hub_seq(&mut conn).await?;
    let (sent, ack_ms) = post_updates(&mut conn, plan, updates, every).await?;
    let end_seq = hub_seq(&mut conn).await?;
    anyhow::ensure!(
        end_seq == base_seq + updates as u64,
        "expected one delta per post (seq {base_seq} -> {}), the hub is at {end_seq}",
        base_seq + updates as u64
    );
    let seen = s.finish(end_seq, Duration::from_millis(1500)).await?;
    let (latencies_ms, missing) = latencies(&seen, base_seq + 1, &sent);
    Ok(FanOut {
        latencies_ms,
        missing,
        message_bytes: median_size(&seen),
        opening_bytes: seen.first().map_or(0, |s| s.opening_bytes),
        connect_seconds,
        ack_ms,
    })
}

/// The seq of the daemon's last delta (`GET /healthz`).
async fn hub_seq(conn: &mut Conn) -> anyhow::Result<u64> {
    let health: serde_json::Value = serde_json::from_slice(&conn.get("/healthz").await?.body)?;
    health["seq"]
        .as_u64()
        .ok_or_else(|| anyhow::anyhow!("no seq in /healthz: {health}"))
}

/// Posts `updates` single-row observations on `conn`, one every `every`: when each was sent,
/// and how long each took to be answered (ms).
async fn post_updates(
    conn: &mut Conn,
    plan: &Plan,
    updates: usize,
    every: Duration,
) -> anyhow::Result<(Vec<Instant>, Vec<f64>)> {
    let n = plan.indicators.len();
    let mut sent = Vec::with_capacity(updates);
    let mut ack_ms = Vec::with_capacity(updates);
    let start = Instant::now();
    for k in 0..updates {
        let i = (k * 37) % n;
        let row = crate::ingest::Row {
            indicator: i,
            time: chrono::Utc::now().timestamp_millis() - 1000,
            value: plan.indicators[i].value(0.7 + (k % 10) as f64 / 100.0, k as u64),
        };
        let body = crate::ingest::body(plan, &[row]);
        let t0 = Instant::now();
        let r = conn.post_json("/api/v1/observations", ADMIN, &body).await?;
        ack_ms.push(t0.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(
            r.status == 200,
            "live post failed: {} {}",
            r.status,
            r.text()
        );
        sent.push(t0);
        tokio::time::sleep_until((start + every * (k as u32 + 1)).into()).await;
    }
    Ok((sent, ack_ms))
}

/// A POST on the instance at `post` reaching screens connected to other instances of the same
/// PostgreSQL database (`screens`: each instance's address and how many screens it serves):
/// the change log's notification, each instance's reload and its fan-out. An instance may fold
/// posts that arrive together into one delta, so each post is matched to the delta of that
/// instance that carries its indicator (every post writes another one), read back from the
/// instance's replay history (`?since=`).
pub async fn cross_fanout(
    post: SocketAddr,
    screens: &[(SocketAddr, usize)],
    plan: &Plan,
    updates: usize,
    every: Duration,
) -> anyhow::Result<FanOut> {
    anyhow::ensure!(
        updates <= plan.indicators.len(),
        "more posts than indicators"
    );
    let began = Instant::now();
    let mut groups = Vec::new();
    for &(addr, count) in screens {
        let s = Screens::connect(&format!("ws://{addr}/api/v1/live"), count).await?;
        let mut conn = Conn::connect(addr).await?;
        let (base, epoch) = hub_position(&mut conn).await?;
        groups.push((addr, s, conn, base, epoch));
    }
    let connect_seconds = began.elapsed().as_secs_f64();
    let mut conn = Conn::connect(post).await?;
    let (sent, ack_ms) = post_updates(&mut conn, plan, updates, every).await?;
    let n = plan.indicators.len();
    let (mut latencies_ms, mut missing, mut message_bytes) = (Vec::new(), 0, 0);
    for (addr, s, mut conn, base, epoch) in groups {
        let seen = s.finish(0, Duration::from_millis(1500)).await?;
        let (end, _) = hub_position(&mut conn).await?;
        let carried = seqs_by_indicator(addr, base, end, &epoch).await?;
        // Post k's delta on this instance, and when k was sent.
        let mut by_seq: std::collections::HashMap<u64, Vec<Instant>> = Default::default();
        for (k, t0) in sent.iter().enumerate() {
            let id = plan.indicators[(k * 37) % n].id.as_str();
            match carried.get(id) {
                Some(seq) => by_seq.entry(*seq).or_default().push(*t0),
                None => missing += seen.len(),
            }
        }
        for screen in &seen {
            let mut got = 0;
            for (seq, at) in &screen.arrivals {
                for t0 in by_seq.get(seq).into_iter().flatten() {
                    latencies_ms.push(at.saturating_duration_since(*t0).as_secs_f64() * 1e3);
                    got += 1;
                }
            }
            missing += by_seq.values().map(Vec::len).sum::<usize>() - got;
        }
        message_bytes = median_size(&seen);
    }
    Ok(FanOut {
        latencies_ms,
        missing,
        message_bytes,
        opening_bytes: 0,
        connect_seconds,
        ack_ms,
    })
}

/// The seq of the daemon's last delta and its hub's epoch (`GET /healthz`).
async fn hub_position(conn: &mut Conn) -> anyhow::Result<(u64, String)> {
    let health: serde_json::Value = serde_json::from_slice(&conn.get("/healthz").await?.body)?;
    let seq = health["seq"]
        .as_u64()
        .ok_or_else(|| anyhow::anyhow!("no seq in /healthz: {health}"))?;
    let epoch = health["epoch"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no epoch in /healthz: {health}"))?;
    Ok((seq, epoch.to_string()))
}

/// For each indicator in the deltas after `base` (up to `end`) of the daemon at `addr`, the
/// seq of the first delta that carried it, replayed by a screen that resumes from `base`.
async fn seqs_by_indicator(
    addr: SocketAddr,
    base: u64,
    end: u64,
    epoch: &str,
) -> anyhow::Result<std::collections::HashMap<String, u64>> {
    let url = format!("ws://{addr}/api/v1/live?since={base}&epoch={epoch}");
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(&url, None, true).await?;
    let mut out = std::collections::HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = base;
    while last < end {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = tokio::time::timeout(left, ws.next())
            .await
            .map_err(|_| anyhow::anyhow!("the replay from {addr} stopped at seq {last} of {end}"))?
            .ok_or_else(|| anyhow::anyhow!("the replay from {addr} closed at seq {last}"))??;
        let Message::Text(t) = msg else { continue };
        let v: serde_json::Value = serde_json::from_str(&t)?;
        anyhow::ensure!(
            v["type"] != "snapshot",
            "{addr} could not replay from seq {base}: {}",
            &t[..t.len().min(200)]
        );
        let Some(seq) = v["seq"].as_u64() else {
            continue;
        };
        last = last.max(seq);
        for i in v["indicators"].as_array().into_iter().flatten() {
            if let Some(id) = i["id"].as_str() {
                out.entry(id.to_string()).or_insert(seq);
            }
        }
    }
    let _ = ws.close(None).await;
    Ok(out)
}

fn median_size(seen: &[Seen]) -> usize {
    let mut v: Vec<usize> = seen.iter().map(|s| s.first_update_bytes).collect();
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

/// A bare broadcast server: each connection gets a short hello, then every message sent on the
/// channel, written (everything queued, then one flush) as pantau's sessions do.
async fn reference_server(
    listener: tokio::net::TcpListener,
    tx: broadcast::Sender<Utf8Bytes>,
) -> anyhow::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let mut rx = tx.subscribe();
        tokio::spawn(async move {
            let Ok(ws) =
                tokio_tungstenite::accept_async_with_config(stream, Some(ws_config())).await
            else {
                return;
            };
            let (mut out, mut inc) = ws.split();
            if out
                .send(Message::text("{\"type\":\"hello\",\"seq\":0}"))
                .await
                .is_err()
            {
                return;
            }
            loop {
                tokio::select! {
                    m = rx.recv() => {
                        let Ok(m) = m else { return };
                        if out.feed(Message::Text(m)).await.is_err() { return; }
                        while let Ok(m) = rx.try_recv() {
                            if out.feed(Message::Text(m)).await.is_err() { return; }
                        }
                        if out.flush().await.is_err() { return; }
                    }
                    m = inc.next() => match m {
                        Some(Ok(m)) if !m.is_close() => {}
                        _ => return,
                    },
                }
            }
        });
    }
}

/// The same fan-out as `pantau_fanout` with a bare broadcast of `bytes`-long messages.
pub async fn reference_fanout(
    screens: usize,
    updates: usize,
    every: Duration,
    bytes: usize,
) -> anyhow::Result<FanOut> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, _) = broadcast::channel::<Utf8Bytes>(256);
    let server = tokio::spawn(reference_server(listener, tx.clone()));
    let began = Instant::now();
    let s = Screens::connect(&format!("ws://{addr}/"), screens).await?;
    let connect_seconds = began.elapsed().as_secs_f64();
    let mut sent = Vec::with_capacity(updates);
    let start = Instant::now();
    for k in 0..updates {
        let seq = k as u64 + 1;
        let head = format!("{{\"type\":\"delta\",\"epoch\":\"reference\",\"seq\":{seq},\"pad\":\"");
        let pad = bytes.saturating_sub(head.len() + 2);
        let text = format!("{head}{}\"}}", "x".repeat(pad));
        let msg = Utf8Bytes::try_from(Bytes::from(text))?;
        sent.push(Instant::now());
        let _ = tx.send(msg);
        tokio::time::sleep_until((start + every * (k as u32 + 1)).into()).await;
    }
    let seen = s
        .finish(updates as u64, Duration::from_millis(1500))
        .await?;
    server.abort();
    let (latencies_ms, missing) = latencies(&seen, 1, &sent);
    Ok(FanOut {
        latencies_ms,
        missing,
        message_bytes: median_size(&seen),
        opening_bytes: 0,
        connect_seconds,
        ack_ms: Vec::new(),
    })
}
