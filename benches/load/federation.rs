//! The federation phase (`--only federation`): N light simulated cities in this process, each a
//! loopback websocket server speaking pantau's live protocol (a snapshot, then numbered deltas
//! that move one dimension), the real federation daemon (`pantau run` on a folder with
//! `federation.toml`) following them, and a screen on the federation's own `/api/v1/live`.
//! Measured: the federation's peak RSS, its CPU per 1,000 city deltas, and the latency from a
//! city sending a delta to the federation's screen receiving it. The reference, in the same run:
//! a bare tokio-tungstenite relay (one client per city, forwarding each message to one screen)
//! on a thread of its own, its CPU read from that thread's /proc times.

use crate::report::{Figure, Verdict, ms, quantile, thousands};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;

/// Send instants by (city, k).
type Sent = Arc<Mutex<HashMap<(usize, u64), Instant>>>;

/// What one run measured.
pub struct Run {
    pub latencies_ms: Vec<f64>,
    pub missing: usize,
    pub deltas: usize,
    pub cpu_s: f64,
    pub rss_mib: f64,
}

/// Starts `cities` simulated cities; returns their addresses and the trigger that makes each
/// send its next delta (the round number).
async fn simulate(
    cities: usize,
    sent: Sent,
) -> anyhow::Result<(Vec<String>, broadcast::Sender<u64>)> {
    let (tx, _) = broadcast::channel::<u64>(1024);
    let mut addrs = Vec::with_capacity(cities);
    for city in 0..cities {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        addrs.push(format!("http://{}", listener.local_addr()?));
        let (tx, sent) = (tx.clone(), sent.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let _ = stream.set_nodelay(true);
                let mut rounds = tx.subscribe();
                let sent = sent.clone();
                tokio::spawn(async move {
                    // `/healthz` is plain HTTP: the upgrade fails and the connection closes.
                    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                        return;
                    };
                    let epoch = format!("sim{city}");
                    let dims: Vec<_> = (0..6)
                        .map(|d| json!({"id": format!("d{d}"), "name": format!("Dimensi {d}"), "status": "on_track", "progress": 0.5, "expected": 0.5, "stale": false, "overdue": false, "counts": {"on_track": 10}}))
                        .collect();
                    let programs: Vec<_> = (0..4)
                        .map(|p| json!({"id": format!("qw{p}"), "name": format!("Quick win {p}"), "status": if p == 0 { "at_risk" } else { "on_track" }, "progress": 0.4, "expected": 0.5, "stale": false, "overdue": false, "counts": {}, "quick_win": true, "dimension": "d0"}))
                        .collect();
                    let snap = json!({"type": "snapshot", "epoch": epoch, "seq": 0, "progress": {
                        "as_of": "2026-12-02T08:00:00+07:00",
                        "masterplan": {"id": "masterplan", "name": "Masterplan", "status": "on_track", "progress": 0.5, "expected": 0.5, "stale": false, "overdue": false, "counts": {"on_track": 60}},
                        "dimensions": dims, "programs": programs, "indicators": []}});
                    if ws.send(Message::text(snap.to_string())).await.is_err() {
                        return;
                    }
                    let mut seq = 0u64;
                    while let Ok(k) = rounds.recv().await {
                        seq += 1;
                        // The round number rides in the dimension's progress; `city` is an extra
                        // field the federation ignores and the relay's screen reads.
                        let delta = json!({"type": "delta", "epoch": epoch, "seq": seq, "city": city,
                            "dimensions": [{"id": "d0", "name": "Dimensi 0", "status": "on_track", "progress": k as f64 / 1e6, "expected": 0.5, "stale": false, "overdue": false, "counts": {"on_track": 10}}],
                            "masterplan": {"id": "masterplan", "name": "Masterplan", "status": "on_track", "progress": 0.5, "expected": 0.5, "stale": false, "overdue": false, "counts": {"on_track": 60}}});
                        sent.lock().unwrap().insert((city, k), Instant::now());
                        if ws.send(Message::text(delta.to_string())).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
    }
    Ok((addrs, tx))
}

/// The (city, k) pairs one screen message carries: a federation delta (`cities`) or a relayed
/// city delta (`city`).
fn arrivals(text: &str) -> Vec<(usize, u64)> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
        return Vec::new();
    };
    let k_of = |c: &serde_json::Value| {
        c["dimensions"]
            .as_array()?
            .iter()
            .find(|d| d["id"] == "d0")?["progress"]
            .as_f64()
            .map(|p| (p * 1e6).round() as u64)
    };
    if let Some(city) = v["city"].as_u64() {
        return k_of(&v)
            .map(|k| vec![(city as usize, k)])
            .unwrap_or_default();
    }
    v["cities"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let city = c["id"].as_str()?.strip_prefix("c")?.parse().ok()?;
            Some((city, k_of(c)?))
        })
        .collect()
}

/// Reads a screen until `expected` arrivals or `quiet` without a message; latencies in ms.
async fn screen(
    url: String,
    sent: Sent,
    expected: usize,
    quiet: Duration,
) -> anyhow::Result<(
    tokio::task::JoinHandle<Vec<f64>>,
    tokio::sync::oneshot::Receiver<()>,
)> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str()).await?;
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let handle = tokio::spawn(async move {
        let mut lat = Vec::with_capacity(expected);
        let mut ready = Some(ready_tx);
        loop {
            let next = tokio::time::timeout(quiet, ws.next()).await;
            let Ok(Some(Ok(msg))) = next else {
                break;
            };
            if let Some(r) = ready.take() {
                let _ = r.send(());
            }
            let Message::Text(t) = msg else { continue };
            let now = Instant::now();
            for key in arrivals(t.as_str()) {
                if key.1 == 0 {
                    continue;
                }
                if let Some(at) = sent.lock().unwrap().remove(&key) {
                    lat.push(now.duration_since(at).as_secs_f64() * 1e3);
                }
            }
            if lat.len() >= expected {
                break;
            }
        }
        lat
    });
    Ok((handle, ready_rx))
}

/// Sends `rounds` rounds (every city one delta each), `every` apart.
async fn drive(trigger: &broadcast::Sender<u64>, rounds: u64, every: Duration) {
    let mut tick = tokio::time::interval(every);
    for k in 1..=rounds {
        tick.tick().await;
        let _ = trigger.send(k);
    }
}

/// The federation daemon over `cities` simulated cities.
pub async fn federation(
    dir: &std::path::Path,
    cities: usize,
    rounds: u64,
    every: Duration,
) -> anyhow::Result<Run> {
    let sent: Sent = Arc::default();
    let (addrs, trigger) = simulate(cities, sent.clone()).await?;
    std::fs::write(
        dir.join("pantau.toml"),
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\ndatabase = \"{}\"\n",
            dir.join("federation.db").display()
        ),
    )?;
    let mut toml = String::from("[federation]\nbackoff_max = \"2s\"\n");
    for (i, a) in addrs.iter().enumerate() {
        toml.push_str(&format!(
            "[[city]]\nid = \"c{i}\"\nname = \"Kota {i}\"\nkind = \"kota\"\nprovince = \"Uji\"\nurl = \"{a}\"\n"
        ));
    }
    std::fs::write(dir.join("federation.toml"), toml)?;
    let d = crate::daemon::Daemon::start(&dir.join("pantau.toml")).await?;
    // Every city connected with its snapshot.
    let began = Instant::now();
    loop {
        let mut c = crate::http::Conn::connect(d.addr).await?;
        let r = c.get("/healthz").await?;
        let v: serde_json::Value = serde_json::from_slice(&r.body)?;
        if v["connected"].as_u64() == Some(cities as u64) {
            break;
        }
        anyhow::ensure!(
            began.elapsed() < Duration::from_secs(120),
            "only {} of {cities} cities connected within 120 s",
            v["connected"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let expected = cities * rounds as usize;
    let (handle, ready) = screen(
        format!("ws://{}/api/v1/live", d.addr),
        sent.clone(),
        expected,
        Duration::from_secs(5),
    )
    .await?;
    let _ = ready.await;
    let cpu0 = d.cpu_seconds();
    drive(&trigger, rounds, every).await;
    let latencies_ms = handle.await?;
    let cpu_s = d.cpu_seconds() - cpu0;
    let rss_mib = d.peak_rss_mib();
    d.stop().await?;
    Ok(Run {
        missing: expected.saturating_sub(latencies_ms.len()),
        latencies_ms,
        deltas: expected,
        cpu_s,
        rss_mib,
    })
}

/// CPU seconds of this process's threads named `name` (/proc/self/task/*/stat).
fn thread_cpu_seconds(name: &str) -> f64 {
    let mut total = 0.0;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return f64::NAN;
    };
    for t in tasks.flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, r)| r.split_whitespace().collect())
            .unwrap_or_default();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        total += (ticks(11) + ticks(12)) / 100.0;
    }
    total
}

/// The reference: a bare tokio-tungstenite relay over the same simulated cities.
pub async fn relay(cities: usize, rounds: u64, every: Duration) -> anyhow::Result<Run> {
    const THREAD: &str = "fed-relay";
    let sent: Sent = Arc::default();
    let (addrs, trigger) = simulate(cities, sent.clone()).await?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let relay_addr = listener.local_addr()?;
    let (conn_tx, conn_rx) = std::sync::mpsc::channel::<usize>();
    std::thread::Builder::new()
        .name(THREAD.into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a relay runtime");
            rt.block_on(async move {
                let listener =
                    tokio::net::TcpListener::from_std(listener).expect("the relay listener");
                let (out_tx, _) =
                    broadcast::channel::<tokio_tungstenite::tungstenite::Utf8Bytes>(65536);
                let mut connected = 0;
                for a in &addrs {
                    let url = format!("ws{}/", &a[4..]);
                    let Ok((ws, _)) = tokio_tungstenite::connect_async(url.as_str()).await else {
                        continue;
                    };
                    connected += 1;
                    let out = out_tx.clone();
                    tokio::spawn(async move {
                        let (_, mut rx) = ws.split();
                        while let Some(Ok(m)) = rx.next().await {
                            if let Message::Text(t) = m {
                                let _ = out.send(t);
                            }
                        }
                    });
                }
                let _ = conn_tx.send(connected);
                while let Ok((stream, _)) = listener.accept().await {
                    let _ = stream.set_nodelay(true);
                    let mut rx = out_tx.subscribe();
                    tokio::spawn(async move {
                        let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                            return;
                        };
                        while let Ok(t) = rx.recv().await {
                            if ws.send(Message::Text(t)).await.is_err() {
                                return;
                            }
                        }
                    });
                }
            });
        })?;
    let connected = tokio::task::spawn_blocking(move || conn_rx.recv()).await??;
    anyhow::ensure!(
        connected == cities,
        "the relay reached {connected} of {cities} cities"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let expected = cities * rounds as usize;
    let (handle, _ready) = screen(
        format!("ws://{relay_addr}/"),
        sent.clone(),
        expected,
        Duration::from_secs(5),
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let cpu0 = thread_cpu_seconds(THREAD);
    drive(&trigger, rounds, every).await;
    let latencies_ms = handle.await?;
    let cpu_s = thread_cpu_seconds(THREAD) - cpu0;
    Ok(Run {
        missing: expected.saturating_sub(latencies_ms.len()),
        latencies_ms,
        deltas: expected,
        cpu_s,
        rss_mib: f64::NAN,
    })
}

/// The figures of the phase.
pub fn figures(mut fed: Run, mut reference: Run, cities: usize) -> Vec<Figure> {
    let p50 = quantile(&mut fed.latencies_ms, 0.5);
    let p99 = quantile(&mut fed.latencies_ms, 0.99);
    let r50 = quantile(&mut reference.latencies_ms, 0.5);
    let r99 = quantile(&mut reference.latencies_ms, 0.99);
    let per_k = fed.cpu_s / fed.deltas as f64 * 1000.0;
    let ref_per_k = reference.cpu_s / reference.deltas as f64 * 1000.0;
    vec![
        Figure {
            name: "federation: city delta -> federation screen, p50 and p99",
            pantau: format!(
                "p50 {}, p99 {} ({cities} cities, {} deltas, {} undelivered)",
                ms(p50),
                ms(p99),
                thousands(fed.deltas as f64),
                fed.missing
            ),
            reference: format!(
                "bare tokio-tungstenite relay: p50 {}, p99 {} ({} undelivered)",
                ms(r50),
                ms(r99),
                reference.missing
            ),
            goal: "p99 <= 5x reference, nothing lost",
            verdict: Verdict::from_bool(p99 <= 5.0 * r99.max(1.0) && fed.missing == 0),
            data: json!({"cities": cities, "deltas": fed.deltas, "p50_ms": p50, "p99_ms": p99, "missing": fed.missing,
                "reference_p50_ms": r50, "reference_p99_ms": r99, "reference_missing": reference.missing}),
        },
        Figure {
            name: "federation: CPU per 1,000 city deltas",
            pantau: format!(
                "{:.3} CPU-s ({:.2} CPU-s for {} deltas)",
                per_k,
                fed.cpu_s,
                thousands(fed.deltas as f64)
            ),
            reference: format!("bare relay: {ref_per_k:.3} CPU-s"),
            goal: "<= 10x reference",
            verdict: Verdict::from_bool(per_k <= 10.0 * ref_per_k.max(0.001)),
            data: json!({"cpu_s": fed.cpu_s, "per_1000_cpu_s": per_k, "reference_cpu_s": reference.cpu_s, "reference_per_1000_cpu_s": ref_per_k}),
        },
        Figure {
            name: "federation: peak RSS following the cities",
            pantau: format!("{:.1} MiB ({cities} cities)", fed.rss_mib),
            reference: "-".into(),
            goal: "<= 100 MB",
            verdict: Verdict::from_bool(fed.rss_mib * 1.048_576 <= 100.0),
            data: json!({"peak_rss_mib": fed.rss_mib, "cities": cities}),
        },
    ]
}
