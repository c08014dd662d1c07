//! pantau's load harness (issue 7): `cargo bench --bench load [-- --quick] [--with-prometheus]`.
//!
//! Starts the real daemon (the `pantau` binary of this build, as a child process on a loopback
//! port), drives it over loopback HTTP and websockets with a synthetic city of 1,000 indicators,
//! and prints a Markdown table; the same figures with every raw number go to
//! `target/bench/load.json` (`load-quick.json` in quick mode, or `--out PATH`). Each figure
//! stands beside a reference measured in the same run on the same machine, because absolute
//! times vary from machine to machine.
//!
//! - `--quick`: a small city and short phases, so CI can run every path without timing it.
//! - `--with-prometheus`: install Debian's `prometheus` (apt-get) if missing, for the polling
//!   reference; without it the reference runs only when `prometheus` is already installed.
//! - `--only writes,reads,scale,postgres,polling,uploads,report,federation`: run only those phases
//!   (e.g. to profile one of them). `postgres` starts a throwaway PostgreSQL cluster (Debian's
//!   `postgresql`); without it that phase is reported as skipped.
//!
//! Run by `cargo test` (no `--bench` argument), it only checks that the synthetic city is valid.

#[path = "load/daemon.rs"]
mod daemon;
#[path = "load/evaluation.rs"]
mod evaluation;
#[path = "load/federation.rs"]
mod federation;
#[path = "load/feeds.rs"]
mod feeds;
#[path = "load/http.rs"]
mod http;
#[path = "load/ingest.rs"]
mod ingest;
#[path = "load/live.rs"]
mod live;
#[path = "../tests/common/postgres.rs"]
mod pg_cluster;
#[path = "load/plan.rs"]
mod plan;
#[path = "load/postgres.rs"]
mod postgres;
#[path = "load/report.rs"]
mod report;
#[path = "load/scale.rs"]
mod scale;
#[path = "load/uploads.rs"]
mod uploads;

use report::{Figure, Spread, Verdict, ms, quantile, thousands};
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Sizes of one run.
#[derive(Debug, Clone, serde::Serialize)]
struct Scale {
    indicators: usize,
    days: u64,
    batch_posts: usize,
    batch_clients: usize,
    single_clients: usize,
    single_seconds: f64,
    single_reference_rows: usize,
    progress_gets: usize,
    screens: usize,
    updates: usize,
    update_every_ms: u64,
    feeds: usize,
    poll_period_s: u64,
    poll_periods: u64,
    /// `pantau import` of indicators x days rows.
    import_indicators: usize,
    import_days: u64,
    /// Seconds of `/healthz` with and without two clients posting maximum-size workbooks.
    upload_seconds: f64,
    /// Each evaluation report and `as_of` request is timed this many times.
    report_runs: usize,
    /// Rounds of each paired figure (single-row posts, live, polling): pantau and its
    /// reference alternate, one round each at a time, and the worst round decides the result.
    rounds: usize,
    /// The federation phase: simulated cities, rounds of one delta from each, ms between rounds.
    federation_cities: usize,
    federation_rounds: u64,
    federation_every_ms: u64,
    /// The big-city start-up: indicators x days of daily history.
    big_indicators: usize,
    big_days: u64,
}

impl Scale {
    fn full() -> Scale {
        Scale {
            indicators: 1000,
            days: 3 * 365,
            batch_posts: 200,
            batch_clients: 4,
            single_clients: 64,
            single_seconds: 3.0,
            single_reference_rows: 3000,
            progress_gets: 500,
            screens: 1000,
            updates: 250,
            update_every_ms: 20,
            feeds: 1000,
            poll_period_s: 10,
            poll_periods: 2,
            import_indicators: 1000,
            import_days: 1000,
            upload_seconds: 10.0,
            report_runs: 5,
            rounds: 3,
            federation_cities: 500,
            federation_rounds: 20,
            federation_every_ms: 500,
            big_indicators: 5000,
            big_days: 5 * 365 + 1,
        }
    }

    fn quick() -> Scale {
        Scale {
            indicators: 200,
            days: 60,
            batch_posts: 20,
            batch_clients: 4,
            single_clients: 64,
            single_seconds: 2.0,
            single_reference_rows: 300,
            progress_gets: 50,
            screens: 100,
            updates: 50,
            update_every_ms: 20,
            feeds: 100,
            poll_period_s: 5,
            poll_periods: 2,
            import_indicators: 200,
            import_days: 100,
            upload_seconds: 2.0,
            report_runs: 2,
            rounds: 1,
            federation_cities: 5,
            federation_rounds: 10,
            federation_every_ms: 100,
            big_indicators: 300,
            big_days: 100,
        }
    }
}

struct Options {
    quick: bool,
    with_prometheus: bool,
    out: PathBuf,
    /// Phases to run (all when empty).
    only: Vec<String>,
}

impl Options {
    fn wants(&self, phase: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|p| p == phase)
    }
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    if !has("--bench") {
        // `cargo test --all-targets` runs this binary without `--bench`: check the city only.
        let plan = plan::Plan::new(100, 30);
        let dir = tempfile::tempdir().expect("a temporary folder");
        if let Err(e) = plan::write_config(dir.path(), &plan.toml(None)) {
            eprintln!("the synthetic masterplan is invalid: {e}");
            return std::process::ExitCode::FAILURE;
        }
        println!("load harness: the synthetic city is valid; run `cargo bench --bench load`");
        return std::process::ExitCode::SUCCESS;
    }
    let out = args
        .iter()
        .position(|a| a == "--out")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let name = if has("--quick") {
                "load-quick.json"
            } else {
                "load.json"
            };
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("target/bench")
                .join(name)
        });
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let options = Options {
        quick: has("--quick"),
        with_prometheus: has("--with-prometheus"),
        out,
        only,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run(options)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("load harness failed: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn step(what: &str) {
    eprintln!("--- {what}");
}

async fn run(options: Options) -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let scale = if options.quick {
        Scale::quick()
    } else {
        Scale::full()
    };
    let started = Instant::now();
    let load_before = loadavg();
    let prometheus = feeds::find_prometheus(options.with_prometheus);
    let scratch = tempfile::tempdir()?;
    let plan = plan::Plan::new(scale.indicators, scale.days);
    let mut figures: Vec<Figure> = Vec::new();

    // ---- Writes: a fresh database, department tokens, batch then single-row posts.
    if options.wants("writes") {
        step("writes: batch ingest and single-row posts");
        let write_dir = scratch.path().join("writes");
        std::fs::create_dir_all(&write_dir)?;
        let config = plan::write_config(&write_dir, &plan.toml(None))?;
        let tokens = department_tokens(&write_dir.join("pantau.db"), &plan)?;
        let d = daemon::Daemon::start(&config).await?;
        figures.push(
            ingest::batch(
                d.addr,
                &plan,
                scale.batch_posts,
                scale.batch_clients,
                scratch.path(),
            )
            .await?,
        );
        figures.push(
            ingest::single(
                d.addr,
                &plan,
                &tokens,
                scale.single_clients,
                scale.single_seconds,
                scale.rounds,
                scale.single_reference_rows,
                scratch.path(),
            )
            .await?,
        );
        d.stop().await?;
    }

    // ---- Reads and screens: the plan's whole daily history, then start-up, progress, live.
    step(&format!(
        "history: {} indicators x {} days",
        scale.indicators, scale.days
    ));
    let read_dir = scratch.path().join("reads");
    std::fs::create_dir_all(&read_dir)?;
    let config = plan::write_config(&read_dir, &plan.toml(None))?;
    let began = Instant::now();
    let rows = if options.wants("reads") || options.wants("polling") || options.wants("report") {
        let (db, plan) = (read_dir.join("pantau.db"), plan.clone());
        tokio::task::spawn_blocking(move || plan::backfill(&db, &plan)).await??
    } else {
        0
    };
    eprintln!(
        "    {} rows in {:.1} s",
        thousands(rows as f64),
        began.elapsed().as_secs_f64()
    );
    if options.wants("reads") {
        step("start-up and GET /api/v1/progress");
        let d = daemon::Daemon::start(&config).await?;
        figures.push(startup_figure(&d, rows, &scale));
        figures.push(progress_figure(&d, &scale).await?);

        step(&format!(
            "live: {} screens, {} rounds beside a bare tokio-tungstenite broadcast",
            scale.screens, scale.rounds
        ));
        let every = Duration::from_millis(scale.update_every_ms);
        let mut rounds = Vec::new();
        for _ in 0..scale.rounds {
            let fan =
                live::pantau_fanout(d.addr, &plan, scale.screens, scale.updates, every).await?;
            let reference =
                live::reference_fanout(scale.screens, scale.updates, every, fan.message_bytes)
                    .await?;
            rounds.push((fan, reference));
        }
        let rss = d.peak_rss_mib();
        let cpu = d.cpu_seconds();
        d.stop().await?;
        figures.push(live_figure(rounds, &scale));
        figures.push(Figure {
            name: "peak RSS with 1,000 indicators and 1,000 screens",
            pantau: format!(
                "{rss:.1} MiB ({} indicators, {} days of history, {} screens)",
                scale.indicators, scale.days, scale.screens
            ),
            reference: "-".into(),
            goal: "<= 100 MB",
            verdict: Verdict::from_bool(rss * 1.048_576 <= 100.0),
            data: json!({ "peak_rss_mib": rss, "daemon_cpu_s": cpu }),
        });
    }

    // ---- A big city: start-up on 5,000 indicators x 5 years, SQLite and PostgreSQL.
    if options.wants("scale") {
        figures.extend(scale::figures(&scale, scratch.path()).await?);
    }

    // ---- PostgreSQL: the write and live figures again on a throwaway cluster, three instances.
    if options.wants("postgres") {
        step("postgres: batch, single-row posts and fan-out on PostgreSQL; three instances");
        let dir = scratch.path().join("postgres");
        std::fs::create_dir_all(&dir)?;
        figures.extend(postgres::figures(&plan, &scale, &dir).await?);
    }

    // ---- The evaluation report and progress as of a past day, on the same database.
    if options.wants("report") {
        step("report: the yearly evaluation report (XLSX, HTML, CLI) and progress as_of");
        let d = daemon::Daemon::start(&config).await?;
        figures.extend(evaluation::figures(&d, &config, &plan, scale.report_runs).await?);
        d.stop().await?;
    }

    // ---- Polling: the same database, now with feeds, beside Prometheus.
    if options.wants("polling") {
        step(&format!(
            "polling: {} feeds every {} s for {} periods",
            scale.feeds, scale.poll_period_s, scale.poll_periods
        ));
        if let Err(why) = &prometheus {
            eprintln!("    {why}");
        }
        figures.push(
            feeds::polling(feeds::PollSetup {
                plan: &plan,
                dir: &read_dir,
                feeds: scale.feeds,
                period_s: scale.poll_period_s,
                periods: scale.poll_periods,
                rounds: scale.rounds,
                prometheus,
                postgres: None,
            })
            .await?,
        );
    }

    // ---- Uploads: a large `pantau import`, then /healthz beside two maximum-size uploads.
    if options.wants("uploads") {
        step(&format!(
            "uploads: pantau import of {} indicators x {} days, then /healthz beside uploads",
            scale.import_indicators, scale.import_days
        ));
        let dir = scratch.path().join("uploads");
        std::fs::create_dir_all(&dir)?;
        let plan = plan::Plan::new(scale.import_indicators, scale.import_days);
        let config = plan::write_config(&dir, &plan.toml(None))?;
        figures.push(uploads::import(&plan, &dir, &config).await?);
        let body = {
            let plan = plan.clone();
            tokio::task::spawn_blocking(move || uploads::maximum_size_workbook(&plan)).await??
        };
        let d = daemon::Daemon::start(&config).await?;
        figures.push(uploads::healthz_during_uploads(&d, body, scale.upload_seconds).await?);
        d.stop().await?;
    }

    // ---- Federation: N simulated cities, the federation daemon over them, a screen on it.
    if options.wants("federation") {
        let _ = rlimit::increase_nofile_limit(u64::MAX);
        let every = Duration::from_millis(scale.federation_every_ms);
        step(&format!(
            "federation: {} simulated cities, {} rounds of one delta each",
            scale.federation_cities, scale.federation_rounds
        ));
        let dir = scratch.path().join("federation");
        std::fs::create_dir_all(&dir)?;
        let fed = federation::federation(
            &dir,
            scale.federation_cities,
            scale.federation_rounds,
            every,
        )
        .await?;
        step("federation reference: bare tokio-tungstenite relay");
        let reference =
            federation::relay(scale.federation_cities, scale.federation_rounds, every).await?;
        figures.extend(federation::figures(fed, reference, scale.federation_cities));
    }

    let table = report::table(&figures);
    println!(
        "\npantau load harness ({} mode, {} cores, load average {} -> {}):\n\n{table}",
        if options.quick { "quick" } else { "full" },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_before,
        loadavg()
    );
    let meta = json!({
        "mode": if options.quick { "quick" } else { "full" },
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "load_average_before": load_before,
        "load_average_after": loadavg(),
        "seconds": started.elapsed().as_secs_f64(),
        "scale": scale,
        "unix_time": chrono::Utc::now().timestamp(),
    });
    report::write_json(&options.out, meta, &figures)?;
    println!("JSON report: {}", options.out.display());
    Ok(())
}

/// One token per department, created the way `pantau token create` does.
fn department_tokens(
    db: &std::path::Path,
    plan: &plan::Plan,
) -> anyhow::Result<HashMap<String, Arc<str>>> {
    let conn = pantau::store::open_writer(db)?;
    let mut tokens = HashMap::new();
    for ind in &plan.indicators {
        if !tokens.contains_key(ind.department) {
            let id = pantau::domain::DepartmentId::parse(ind.department)?;
            let (_, token) = pantau::store::tokens::create(&conn, &id, "load harness")?;
            tokens.insert(ind.department.to_string(), Arc::from(token.as_str()));
        }
    }
    Ok(tokens)
}

fn startup_figure(d: &daemon::Daemon, rows: u64, scale: &Scale) -> Figure {
    let s = d.startup.as_secs_f64();
    Figure {
        name: "start-up to serving on that database",
        pantau: format!(
            "{s:.2} s ({} rows, {} indicators)",
            thousands(rows as f64),
            scale.indicators
        ),
        reference: "-".into(),
        goal: "<= 2 s",
        verdict: Verdict::from_bool(s <= 2.0),
        data: json!({ "seconds": s, "rows": rows }),
    }
}

async fn progress_figure(d: &daemon::Daemon, scale: &Scale) -> anyhow::Result<Figure> {
    let mut conn = http::Conn::connect(d.addr).await?;
    let first = conn.get("/api/v1/progress").await?;
    anyhow::ensure!(first.status == 200, "progress answered {}", first.status);
    let v: serde_json::Value = serde_json::from_slice(&first.body)?;
    let shown = v["indicators"].as_array().map_or(0, Vec::len);
    anyhow::ensure!(
        shown == scale.indicators,
        "progress lists {shown} indicators, expected {}",
        scale.indicators
    );
    let mut lat = Vec::with_capacity(scale.progress_gets);
    for _ in 0..scale.progress_gets {
        let t0 = Instant::now();
        let r = conn.get("/api/v1/progress").await?;
        lat.push(t0.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(r.status == 200, "progress answered {}", r.status);
    }
    let p50 = quantile(&mut lat, 0.5);
    let p99 = quantile(&mut lat, 0.99);
    Ok(Figure {
        name: "GET /api/v1/progress, 1,000 indicators x 3 years of daily data, p50",
        pantau: format!(
            "p50 {}, p99 {} ({} KiB body, {} GETs on one connection)",
            ms(p50),
            ms(p99),
            first.body.len() / 1024,
            scale.progress_gets
        ),
        reference: "-".into(),
        goal: "p50 <= 2 ms",
        verdict: Verdict::from_bool(p50 <= 2.0),
        data: json!({ "p50_ms": p50, "p99_ms": p99, "body_bytes": first.body.len(), "gets": scale.progress_gets }),
    })
}

fn live_figure(rounds: Vec<(live::FanOut, live::FanOut)>, scale: &Scale) -> Figure {
    let mut all = Vec::new();
    let mut all_reference = Vec::new();
    let (mut p99s, mut r99s, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let (mut missing, mut reference_missing) = (0, 0);
    let mut ack = Vec::new();
    let mut connect = Vec::new();
    let (mut message_bytes, mut opening_bytes) = (0, 0);
    for (mut fan, mut reference) in rounds {
        let p99 = quantile(&mut fan.latencies_ms, 0.99);
        let r99 = quantile(&mut reference.latencies_ms, 0.99);
        p99s.push(p99);
        r99s.push(r99);
        ratios.push(p99 / r99);
        missing += fan.missing;
        reference_missing += reference.missing;
        all.extend(fan.latencies_ms);
        all_reference.extend(reference.latencies_ms);
        ack.extend(fan.ack_ms);
        connect.push((fan.connect_seconds, reference.connect_seconds));
        message_bytes = fan.message_bytes;
        opening_bytes = fan.opening_bytes;
    }
    let spread = Spread::of(&ratios);
    let p50 = quantile(&mut all, 0.5);
    let p99 = Spread::of(&p99s).median;
    let r50 = quantile(&mut all_reference, 0.5);
    let r99 = Spread::of(&r99s).median;
    let ack50 = quantile(&mut ack, 0.5);
    Figure {
        name: "POST accepted -> delta received on 1,000 websocket screens: p99 against a bare broadcast (alternating rounds)",
        pantau: format!(
            "p99 {} = {} the reference's; p50 {} ({} screens, {} posts per round, {} B deltas, {} undelivered; POST answered in {} p50)",
            ms(p99),
            spread.times(ratios.len()),
            ms(p50),
            scale.screens,
            scale.updates,
            message_bytes,
            missing,
            ms(ack50)
        ),
        reference: format!(
            "bare tokio-tungstenite broadcast: p50 {}, p99 {} ({} undelivered)",
            ms(r50),
            ms(r99),
            reference_missing
        ),
        goal: "p99 <= 1.25x reference in every round, none undelivered",
        verdict: Verdict::from_bool(spread.max <= 1.25 && missing == 0),
        data: json!({
            "screens": scale.screens, "updates_per_round": scale.updates, "every_ms": scale.update_every_ms,
            "rounds": ratios.len(), "p50_ms": p50, "p99_ms": p99s, "reference_p99_ms": r99s,
            "ratio_p99": ratios, "ratio_spread": spread, "missing": missing,
            "message_bytes": message_bytes, "snapshot_bytes": opening_bytes,
            "connect_seconds": connect, "post_answer_ms_p50": ack50,
            "reference_p50_ms": r50, "reference_missing": reference_missing,
        }),
    }
}
