//! Write figures: batch ingest (1,000 rows per POST) and single-row posts from 64 concurrent
//! clients, each beside the bare-SQLite reference for the same rows measured in the same run.
//!
//! Both references open their database with `pantau::store::open_writer`, so they get exactly
//! pantau's schema and PRAGMAs (WAL, synchronous=FULL, wal_autocheckpoint=4000): the key
//! locality and checkpointing that dominate SQLite's write speed are then the same on both
//! sides, and the difference is what the daemon adds (HTTP, JSON, validation, progress, hub).

use crate::http::Conn;
use crate::plan::{Plan, TZ};
use crate::report::{Figure, Spread, Verdict, quantile, thousands};
use chrono::TimeZone;
use serde_json::json;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The statement pantau's writer inserts new observations with (src/store/writer.rs).
const INSERT: &str =
    "INSERT INTO observation (indicator, t, value, source, department, token_id, note, received)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (indicator, t) DO NOTHING";

/// One observation to write.
#[derive(Debug, Clone)]
pub struct Row {
    pub indicator: usize,
    pub time: i64,
    pub value: f64,
}

fn rfc3339(ms: i64) -> String {
    TZ.timestamp_millis_opt(ms)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string()
}

/// The JSON body of a post.
pub fn body(plan: &Plan, rows: &[Row]) -> Vec<u8> {
    let obs: Vec<_> = rows
        .iter()
        .map(|r| {
            json!({
                "indicator": plan.indicators[r.indicator].id,
                "time": rfc3339(r.time),
                "value": r.value,
            })
        })
        .collect();
    serde_json::to_vec(&json!({ "observations": obs })).unwrap()
}

/// `posts` batches of `per_post` rows in time-major order (each instant carries every
/// indicator before the next instant starts), as a department system sending its latest
/// readings would: instants one minute apart from the start of the plan's history.
pub fn batch_rows(plan: &Plan, posts: usize, per_post: usize) -> Vec<Vec<Row>> {
    let n = plan.indicators.len();
    (0..posts)
        .map(|k| {
            (0..per_post)
                .map(|j| {
                    let r = k * per_post + j;
                    let slot = (r / n) as i64;
                    Row {
                        indicator: r % n,
                        time: plan.history_start + slot * 60_000,
                        value: plan.indicators[r % n].value(0.1, r as u64),
                    }
                })
                .collect()
        })
        .collect()
}

/// Inserts `batches` with one transaction per batch and one cached prepared statement, into a
/// fresh database at `db`. Returns rows per second.
pub fn sqlite_reference(db: &Path, plan: &Plan, batches: &[Vec<Row>]) -> anyhow::Result<f64> {
    let mut conn = pantau::store::open_writer(db)?;
    let rows: usize = batches.iter().map(Vec::len).sum();
    let began = Instant::now();
    for batch in batches {
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(INSERT)?;
            let received = chrono::Utc::now().timestamp_millis();
            for r in batch {
                let ind = &plan.indicators[r.indicator];
                insert.execute(rusqlite::params![
                    ind.id,
                    r.time,
                    r.value,
                    "post",
                    ind.department,
                    Option::<i64>::None,
                    Option::<String>::None,
                    received
                ])?;
            }
        }
        tx.commit()?;
    }
    Ok(rows as f64 / began.elapsed().as_secs_f64())
}

/// The writer's (commits, commands) so far, from `/metrics`: their ratio over a round is the
/// mean size of its commit groups.
async fn writer_counts(addr: SocketAddr) -> anyhow::Result<(f64, f64)> {
    let text = Conn::connect(addr).await?.get("/metrics").await?.text();
    let read = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
            .ok_or_else(|| anyhow::anyhow!("/metrics has no {name}"))
    };
    Ok((
        read("pantau_writer_commits_total")?,
        read("pantau_writer_commands_total")?,
    ))
}

/// Sends the bodies from `next` on over `clients` keep-alive connections (each takes the next
/// unsent body) until they run out or `deadline` passes, and
/// waits for each answer. Returns (elapsed, per-request latencies in ms, non-200 answers).
async fn drive(
    addr: SocketAddr,
    clients: usize,
    bodies: Arc<Vec<(Arc<str>, Vec<u8>)>>,
    next: Arc<AtomicUsize>,
    deadline: Option<Duration>,
) -> anyhow::Result<(Duration, Vec<f64>, Vec<String>)> {
    let began = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (next, bodies) = (next.clone(), bodies.clone());
        tasks.spawn(async move {
            let mut conn = Conn::connect(addr).await?;
            let mut lat = Vec::new();
            let mut failures = Vec::new();
            loop {
                if deadline.is_some_and(|d| began.elapsed() >= d) {
                    break;
                }
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some((token, body)) = bodies.get(k) else {
                    break;
                };
                let sent = Instant::now();
                let r = conn.post_json("/api/v1/observations", token, body).await?;
                lat.push(sent.elapsed().as_secs_f64() * 1e3);
                if r.status != 200 && failures.len() < 5 {
                    failures.push(format!("{} {}", r.status, r.text()));
                }
            }
            anyhow::Ok((lat, failures))
        });
    }
    let mut lat = Vec::new();
    let mut failures = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let (l, f) = r??;
        lat.extend(l);
        failures.extend(f);
    }
    Ok((began.elapsed(), lat, failures))
}

/// Requests per second of `GET path` from `clients` keep-alive connections for `seconds`: the
/// ceiling of the HTTP stack (and of the client) on this machine, beside the write figures.
pub async fn get_rate(
    addr: SocketAddr,
    clients: usize,
    path: &'static str,
    seconds: f64,
) -> anyhow::Result<f64> {
    let began = Instant::now();
    let deadline = Duration::from_secs_f64(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        tasks.spawn(async move {
            let mut conn = Conn::connect(addr).await?;
            let mut n = 0u64;
            while began.elapsed() < deadline {
                let r = conn.get(path).await?;
                anyhow::ensure!(r.status == 200, "{path} answered {}", r.status);
                n += 1;
            }
            anyhow::Ok(n)
        });
    }
    let mut total = 0;
    while let Some(r) = tasks.join_next().await {
        total += r??;
    }
    Ok(total as f64 / began.elapsed().as_secs_f64())
}

/// Batch ingest over HTTP against the rusqlite batch insert of the same rows.
pub async fn batch(
    addr: SocketAddr,
    plan: &Plan,
    posts: usize,
    clients: usize,
    scratch: &Path,
) -> anyhow::Result<Figure> {
    let batches = batch_rows(plan, posts, 1000);
    let reference = {
        let (db, plan2, b) = (
            scratch.join("reference-batch.db"),
            plan.clone(),
            batches.clone(),
        );
        tokio::task::spawn_blocking(move || sqlite_reference(&db, &plan2, &b)).await??
    };
    let admin: Arc<str> = Arc::from(crate::plan::ADMIN);
    let bodies: Vec<(Arc<str>, Vec<u8>)> = batches
        .iter()
        .map(|b| (admin.clone(), body(plan, b)))
        .collect();
    let rows = posts * 1000;
    let (elapsed, mut lat, failures) = drive(
        addr,
        clients,
        Arc::new(bodies),
        Arc::new(AtomicUsize::new(0)),
        None,
    )
    .await?;
    anyhow::ensure!(failures.is_empty(), "batch posts failed: {failures:?}");
    let rate = rows as f64 / elapsed.as_secs_f64();
    let ratio = rate / reference;
    Ok(Figure {
        name: "batch ingest over HTTP (1,000 rows per POST), durable rows/s",
        pantau: format!(
            "{} rows/s ({:.0} % of reference; {clients} clients, p50 {:.0} ms per POST)",
            thousands(rate),
            ratio * 100.0,
            quantile(&mut lat, 0.5)
        ),
        reference: format!(
            "rusqlite, 1,000 rows per transaction: {} rows/s",
            thousands(reference)
        ),
        goal: ">= 50 % of reference",
        verdict: Verdict::from_bool(ratio >= 0.5),
        data: json!({
            "rows": rows, "posts": posts, "clients": clients,
            "seconds": elapsed.as_secs_f64(), "rows_per_s": rate,
            "reference_rows_per_s": reference, "ratio": ratio,
            "post_ms_p50": quantile(&mut lat, 0.5), "post_ms_p99": quantile(&mut lat, 0.99),
        }),
    })
}

/// The one-row posts: client `c` writes its department's indicators at instants unique to it,
/// one day after the start of history (clear of the batch rows).
fn single_rows(plan: &Plan, clients: usize, per_client: usize) -> Vec<Vec<Row>> {
    let departments: Vec<&str> = {
        let mut d: Vec<&str> = plan.indicators.iter().map(|i| i.department).collect();
        d.sort();
        d.dedup();
        d
    };
    (0..clients)
        .map(|c| {
            let dept = departments[c % departments.len()];
            let own: Vec<usize> = (0..plan.indicators.len())
                .filter(|&i| plan.indicators[i].department == dept)
                .collect();
            (0..per_client)
                .map(|s| {
                    let i = own[(s * 7 + c) % own.len()];
                    Row {
                        indicator: i,
                        time: plan.history_start + 86_400_000 + ((s * clients + c) as i64) * 1000,
                        value: plan.indicators[i].value(0.2, (s * clients + c) as u64),
                    }
                })
                .collect()
        })
        .collect()
}

/// Writes each row in its own transaction (what ingest without group commit costs). Rows/s.
pub fn sqlite_one_per_transaction(db: &Path, plan: &Plan, rows: &[Row]) -> anyhow::Result<f64> {
    let batches: Vec<Vec<Row>> = rows.iter().map(|r| vec![r.clone()]).collect();
    sqlite_reference(db, plan, &batches)
}

/// Single-row posts from `clients` concurrent clients, with department tokens
/// (`tokens[department]`), in `rounds` rounds of `seconds` each, every round followed by a round
/// of `GET /healthz` from the same number of clients (the no-op ceiling of the HTTP stack and of
/// the client, measured under the same conditions); also beside one SQLite transaction per row.
#[allow(clippy::too_many_arguments)]
pub async fn single(
    addr: SocketAddr,
    plan: &Plan,
    tokens: &std::collections::HashMap<String, Arc<str>>,
    clients: usize,
    seconds: f64,
    rounds: usize,
    reference_rows: usize,
    scratch: &Path,
) -> anyhow::Result<Figure> {
    // Enough rows for 40,000 req/s over every round; clients stop at each round's deadline and
    // the next round goes on with the rows not yet sent, so every post writes a new row.
    let per_client = ((40_000.0 * seconds * rounds as f64) as usize / clients).max(100);
    let rows = single_rows(plan, clients, per_client);
    let reference = {
        let flat: Vec<Row> = rows
            .iter()
            .flat_map(|r| r.iter().take(reference_rows / clients + 1).cloned())
            .take(reference_rows)
            .collect();
        let (db, plan2) = (scratch.join("reference-single.db"), plan.clone());
        tokio::task::spawn_blocking(move || sqlite_one_per_transaction(&db, &plan2, &flat))
            .await??
    };
    // Interleave so that the shared queue hands each client its own rows in turn.
    let mut bodies = Vec::with_capacity(clients * per_client);
    for s in 0..per_client {
        for row in rows.iter().map(|r| &r[s]) {
            let dept = plan.indicators[row.indicator].department;
            bodies.push((tokens[dept].clone(), body(plan, std::slice::from_ref(row))));
        }
    }
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let (mut lat, mut rates, mut ceilings, mut ratios) = (Vec::new(), vec![], vec![], vec![]);
    let mut groups = Vec::new();
    for _ in 0..rounds {
        let before = writer_counts(addr).await?;
        let (elapsed, l, failures) = drive(
            addr,
            clients,
            bodies.clone(),
            next.clone(),
            Some(Duration::from_secs_f64(seconds)),
        )
        .await?;
        anyhow::ensure!(failures.is_empty(), "single posts failed: {failures:?}");
        let after = writer_counts(addr).await?;
        groups.push((after.1 - before.1) / (after.0 - before.0).max(1.0));
        let rate = l.len() as f64 / elapsed.as_secs_f64();
        lat.extend(l);
        let ceiling = get_rate(addr, clients, "/healthz", seconds).await?;
        rates.push(rate);
        ceilings.push(ceiling);
        ratios.push(rate / ceiling);
    }
    let spread = Spread::of(&ratios);
    let rate = Spread::of(&rates).median;
    let ceiling = Spread::of(&ceilings).median;
    let p50 = quantile(&mut lat, 0.5);
    let p99 = quantile(&mut lat, 0.99);
    let versus_sqlite = Spread::of(&rates).min / reference;
    Ok(Figure {
        name: "single-row posts from 64 concurrent clients: req/s against the HTTP ceiling (GET /healthz, same clients, alternating rounds)",
        pantau: format!(
            "{} req/s, {} of the ceiling's {} req/s; p50 {p50:.1} ms, p99 {p99:.1} ms; {versus_sqlite:.1}x one transaction per row (slowest round)",
            thousands(rate),
            spread.percent(rounds),
            thousands(ceiling),
        ),
        reference: format!(
            "GET /healthz, same clients: {} req/s; one SQLite transaction per row: {} rows/s",
            thousands(ceiling),
            thousands(reference)
        ),
        goal: ">= 60 % of the HTTP ceiling in every round",
        verdict: Verdict::from_bool(spread.min >= 0.6),
        data: json!({
            "requests": lat.len(), "clients": clients, "round_seconds": seconds, "rounds": rounds,
            "req_per_s": rates, "healthz_req_per_s": ceilings, "ratio_to_ceiling": ratios,
            "ratio_spread": spread, "p50_ms": p50, "p99_ms": p99,
            "reference_rows_per_s": reference, "reference_rows": reference_rows,
            "slowest_round_to_reference": versus_sqlite,
            "posts_per_commit": groups,
        }),
    })
}
