//! The big-city start-up: an instance starting on 5,000 indicators x 5 years of daily
//! observations (about 9 M rows), on SQLite and on a throwaway PostgreSQL cluster; time from
//! spawn to serving and the peak RSS it took to get there.

use crate::daemon::Daemon;
use crate::pg_cluster::{self, Cluster};
use crate::plan::{self, Plan};
use crate::report::{Figure, Verdict, thousands};
use crate::{Scale, http, step};
use serde_json::json;
use std::path::Path;
use std::time::Instant;

/// Start-up goal, seconds.
const GOAL_S: f64 = 5.0;
/// Peak RSS goal, MB (10^6 bytes).
const GOAL_MB: f64 = 300.0;

/// Starts an instance on the filled store, checks it serves every indicator, and reports.
async fn measure(
    config: &Path,
    rows: u64,
    indicators: usize,
    backend: &str,
    name: &'static str,
) -> anyhow::Result<Figure> {
    let d = Daemon::start(config).await?;
    let startup = d.startup.as_secs_f64();
    let rss = d.peak_rss_mib();
    let mut conn = http::Conn::connect(d.addr).await?;
    let r = conn.get("/api/v1/progress").await?;
    anyhow::ensure!(r.status == 200, "progress answered {}", r.status);
    let v: serde_json::Value = serde_json::from_slice(&r.body)?;
    let shown = v["indicators"].as_array().map_or(0, Vec::len);
    anyhow::ensure!(
        shown == indicators,
        "progress lists {shown} indicators, expected {indicators}"
    );
    d.stop().await?;
    let mb = rss * 1.048_576;
    Ok(Figure {
        name,
        pantau: format!(
            "{startup:.2} s, peak RSS {rss:.0} MiB ({} rows, {indicators} indicators, {backend})",
            thousands(rows as f64)
        ),
        reference: "-".into(),
        goal: "<= 5 s, RSS <= 300 MB",
        verdict: Verdict::from_bool(startup <= GOAL_S && mb <= GOAL_MB),
        data: json!({ "seconds": startup, "peak_rss_mib": rss, "rows": rows, "backend": backend }),
    })
}

/// The start-up figures on SQLite and, where its binaries are installed, PostgreSQL.
pub async fn figures(scale: &Scale, scratch: &Path) -> anyhow::Result<Vec<Figure>> {
    let plan = Plan::new(scale.big_indicators, scale.big_days);
    let mut figures = Vec::new();

    step(&format!(
        "scale: {} indicators x {} days on SQLite",
        scale.big_indicators, scale.big_days
    ));
    let dir = scratch.join("scale-sqlite");
    std::fs::create_dir_all(&dir)?;
    let config = plan::write_config(&dir, &plan.toml(None))?;
    let began = Instant::now();
    let rows = {
        let (db, plan) = (dir.join("pantau.db"), plan.clone());
        tokio::task::spawn_blocking(move || plan::backfill(&db, &plan)).await??
    };
    eprintln!(
        "    {} rows in {:.1} s",
        thousands(rows as f64),
        began.elapsed().as_secs_f64()
    );
    figures.push(
        measure(
            &config,
            rows,
            scale.big_indicators,
            "SQLite",
            "start-up of a big city (5,000 indicators x 5 years of daily data), SQLite",
        )
        .await?,
    );
    std::fs::remove_dir_all(&dir)?;

    if !pg_cluster::available() {
        figures.push(Figure {
            name: "start-up of a big city, PostgreSQL",
            pantau: "not measured: PostgreSQL's server binaries are not installed".into(),
            reference: "-".into(),
            goal: "-",
            verdict: Verdict::Skipped,
            data: json!({ "skipped": "postgresql not installed" }),
        });
        return Ok(figures);
    }
    step(&format!(
        "scale: {} indicators x {} days on PostgreSQL",
        scale.big_indicators, scale.big_days
    ));
    let cluster = tokio::task::spawn_blocking(Cluster::start_durable)
        .await?
        .ok_or_else(|| anyhow::anyhow!("PostgreSQL did not start"))?;
    let url = cluster.url("postgres");
    let dir = scratch.join("scale-postgres");
    let config = crate::postgres::write_config(&dir, &plan.toml(None), &url)?;
    crate::postgres::migrate(&config).await?;
    let began = Instant::now();
    let rows = crate::postgres::copy_into_postgres(&url, &plan).await?;
    eprintln!(
        "    {} rows in {:.1} s",
        thousands(rows as f64),
        began.elapsed().as_secs_f64()
    );
    figures.push(
        measure(
            &config,
            rows,
            scale.big_indicators,
            "PostgreSQL",
            "start-up of a big city (5,000 indicators x 5 years of daily data), PostgreSQL",
        )
        .await?,
    );
    Ok(figures)
}
