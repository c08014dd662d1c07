//! Upload figures: `pantau import` of a large CSV file (the real binary) beside the rusqlite
//! insert of the same rows in one transaction, and `/healthz` latency from a client while two
//! clients keep posting maximum-size workbooks, beside the same client with no uploads, both
//! measured in the same run.
//!
//! The import's rows come indicator by indicator, day by day, as `pantau export` writes them
//! (the file a backfill most often starts from); the reference inserts the same rows in the
//! same order into a database opened with `pantau::store::open_writer`, so the schema, PRAGMAs
//! and key locality are the same on both sides.

use crate::daemon::{Daemon, binary, peak_rss_mib};
use crate::http::Conn;
use crate::ingest::{Row, sqlite_reference};
use crate::plan::{ADMIN, Plan, TZ};
use crate::report::{Figure, Verdict, ms, quantile, thousands};
use chrono::TimeZone;
use serde_json::json;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The default `max_body_bytes` of the daemon.
const MAX_BODY: usize = 8 * 1024 * 1024;

/// Every row of the plan's history, indicator-major.
fn history_rows(plan: &Plan) -> Vec<Row> {
    let mut rows = Vec::with_capacity(plan.indicators.len() * plan.days as usize);
    for (i, ind) in plan.indicators.iter().enumerate() {
        for day in 0..plan.days {
            rows.push(Row {
                indicator: i,
                time: plan.history_start + day as i64 * 86_400_000,
                value: ind.value(day as f64 / (5.0 * 365.0), day),
            });
        }
    }
    rows
}

/// The rows as a CSV file that `pantau import` reads: `indicator,time,value`, dates in the
/// city's zone.
fn write_csv(path: &Path, plan: &Plan, rows: &[Row]) -> anyhow::Result<()> {
    let mut out = String::with_capacity(rows.len() * 40);
    out.push_str("indicator,time,value\n");
    for r in rows {
        let date = TZ.timestamp_millis_opt(r.time).unwrap().date_naive();
        let _ = writeln!(
            out,
            "{},{date},{}",
            plan.indicators[r.indicator].id, r.value
        );
    }
    std::fs::write(path, out)?;
    Ok(())
}

/// `pantau import` of the plan's whole history into a fresh database, beside rusqlite.
pub async fn import(plan: &Plan, dir: &Path, config: &Path) -> anyhow::Result<Figure> {
    let rows = history_rows(plan);
    let n = rows.len();
    let file = dir.join("import.csv");
    write_csv(&file, plan, &rows)?;
    let bytes = std::fs::metadata(&file)?.len();
    let reference = {
        let (db, plan) = (dir.join("reference-import.db"), plan.clone());
        tokio::task::spawn_blocking(move || sqlite_reference(&db, &plan, &[rows])).await??
    };
    let began = Instant::now();
    let mut child = Command::new(binary())
        .arg("--config")
        .arg(config)
        .arg("import")
        .arg("--create")
        .arg(&file)
        .env("PANTAU_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // The peak resident set, read while it runs (VmHWM only grows; the last read is kept).
    let mut rss = 0.0f64;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        rss = peak_rss_mib(child.id()).unwrap_or(rss).max(rss);
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let seconds = began.elapsed().as_secs_f64();
    let output = child.wait_with_output()?;
    let said = String::from_utf8_lossy(&output.stdout).to_string();
    anyhow::ensure!(
        status.success() && said.contains(&format!("imported {n} rows")),
        "pantau import failed ({status}): {said}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rate = n as f64 / seconds;
    Ok(Figure {
        name: "pantau import of 1,000,000 rows (CSV; fewer with --quick), wall time",
        pantau: format!(
            "{seconds:.1} s for {} rows ({} MB file): {} rows/s, peak RSS {rss:.0} MiB",
            thousands(n as f64),
            bytes / 1_000_000,
            thousands(rate)
        ),
        reference: format!(
            "rusqlite, the same rows in one transaction: {} rows/s ({:.0} % of it)",
            thousands(reference),
            rate / reference * 100.0
        ),
        goal: "< 60 s",
        verdict: Verdict::from_bool(seconds < 60.0),
        data: json!({
            "rows": n, "file_bytes": bytes, "seconds": seconds, "rows_per_s": rate,
            "peak_rss_mib": rss, "reference_rows_per_s": reference, "ratio": rate / reference,
        }),
    })
}

/// Random lowercase text (notes compress about as badly as this).
fn noise(seed: &mut u64, n: usize) -> String {
    (0..n)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            (b'a' + (*seed % 26) as u8) as char
        })
        .collect()
}

/// A workbook of 10,000 rows (`max_rows_per_request`) with notes long enough to come close to
/// `max_body_bytes`; its last row names no indicator, so every upload is read and validated
/// whole and then refused, and the figure measures parsing rather than the writer.
pub fn maximum_size_workbook(plan: &Plan) -> anyhow::Result<Vec<u8>> {
    let mut note = 1300;
    loop {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (c, h) in ["indicator", "time", "value", "note"].iter().enumerate() {
            sheet.write_string(0, c as u16, *h)?;
        }
        for r in 1..=10_000u32 {
            let k = r as usize;
            let ind = &plan.indicators[k % plan.indicators.len()];
            let day = (k / plan.indicators.len()) as i64 % plan.days as i64;
            let t = TZ
                .timestamp_millis_opt(plan.history_start + day * 86_400_000)
                .unwrap()
                .date_naive()
                .to_string();
            let id = if r == 10_000 {
                "no.such.indicator"
            } else {
                &ind.id
            };
            sheet.write_string(r, 0, id)?;
            sheet.write_string(r, 1, &t)?;
            sheet.write_number(r, 2, ind.value(0.5, r as u64))?;
            sheet.write_string(r, 3, noise(&mut seed, note))?;
        }
        let bytes = book.save_to_buffer()?;
        if bytes.len() <= MAX_BODY {
            return Ok(bytes);
        }
        note = note * 9 / 10;
    }
}

/// `/healthz` latencies (ms) from one keep-alive client asking one after another for `window`.
async fn healthz_latencies(addr: SocketAddr, window: Duration) -> anyhow::Result<Vec<f64>> {
    let mut conn = Conn::connect(addr).await?;
    let began = Instant::now();
    let mut lat = Vec::new();
    while began.elapsed() < window {
        let t0 = Instant::now();
        let r = conn.get("/healthz").await?;
        lat.push(t0.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(r.status == 200, "/healthz answered {}", r.status);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(lat)
}

/// `/healthz` p50/p99 while two clients keep posting `body` (a maximum-size workbook), beside
/// the same client on the same daemon with no uploads.
pub async fn healthz_during_uploads(
    d: &Daemon,
    body: Vec<u8>,
    seconds: f64,
) -> anyhow::Result<Figure> {
    let window = Duration::from_secs_f64(seconds);
    let mut quiet = healthz_latencies(d.addr, window).await?;
    let body = Arc::new(body);
    let stop = Arc::new(AtomicBool::new(false));
    let uploads = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..2 {
        let (addr, body, stop, uploads) = (d.addr, body.clone(), stop.clone(), uploads.clone());
        tasks.spawn(async move {
            let mut conn = Conn::connect(addr).await?;
            while !stop.load(Ordering::SeqCst) {
                let r = conn
                    .post(
                        "/api/v1/observations",
                        ADMIN,
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        &body,
                    )
                    .await?;
                anyhow::ensure!(
                    r.status == 422 && r.text().contains("no.such.indicator"),
                    "the upload answered {}: {}",
                    r.status,
                    r.text().chars().take(300).collect::<String>()
                );
                uploads.fetch_add(1, Ordering::SeqCst);
            }
            anyhow::Ok(())
        });
    }
    // Let both uploads get going before measuring.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let cpu_before = d.cpu_seconds();
    let mut busy = healthz_latencies(d.addr, window).await?;
    let cpu = d.cpu_seconds() - cpu_before;
    stop.store(true, Ordering::SeqCst);
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    let done = uploads.load(Ordering::SeqCst);
    let (p50, p99) = (quantile(&mut busy, 0.5), quantile(&mut busy, 0.99));
    let (q50, q99) = (quantile(&mut quiet, 0.5), quantile(&mut quiet, 0.99));
    Ok(Figure {
        name: "GET /healthz while two clients post maximum-size workbooks, p50 and p99",
        pantau: format!(
            "p50 {}, p99 {} ({} answers; {done} uploads of {} KiB parsed in {seconds:.0} s, daemon {:.1} CPU-s)",
            ms(p50),
            ms(p99),
            busy.len(),
            body.len() / 1024,
            cpu
        ),
        reference: format!(
            "the same client with no uploads: p50 {}, p99 {}",
            ms(q50),
            ms(q99)
        ),
        goal: "p99 < 50 ms",
        verdict: Verdict::from_bool(p99 < 50.0 && done >= 2),
        data: json!({
            "p50_ms": p50, "p99_ms": p99, "answers": busy.len(), "uploads": done,
            "upload_bytes": body.len(), "seconds": seconds, "daemon_cpu_s": cpu,
            "quiet_p50_ms": q50, "quiet_p99_ms": q99, "quiet_answers": quiet.len(),
        }),
    })
}
