//! The PostgreSQL figures: batch ingest, single-row posts and the fan-out again with
//! `[storage] url` on a throwaway cluster with `fsync` on (initdb and pg_ctl in a temporary
//! folder, as the tests start one), printed beside the SQLite rows of the same run; and three
//! instances on that one database: a POST on A reaching 1,000 screens spread over B and C.

use crate::daemon::Daemon;
use crate::pg_cluster::{self, Cluster};
use crate::plan::{self, Plan};
use crate::report::{Figure, Verdict};
use crate::{Scale, ingest, live, quantile};
use serde_json::json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Settings for an instance on `url` (the same as the SQLite runs', but for the storage).
pub(crate) fn write_config(dir: &Path, masterplan: &str, url: &str) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = plan::write_config(dir, masterplan)?;
    let settings = std::fs::read_to_string(&path)?;
    let storage = settings
        .lines()
        .find(|l| l.starts_with("database = "))
        .ok_or_else(|| anyhow::anyhow!("no database line in the harness's settings"))?
        .to_string();
    std::fs::write(
        &path,
        settings.replace(&storage, &format!("url = \"{url}\"")),
    )?;
    pantau::config::Config::load(Some(&path)).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(path)
}

/// A department token for each department of the plan, created in PostgreSQL.
fn department_tokens(config: &Path, plan: &Plan) -> anyhow::Result<HashMap<String, Arc<str>>> {
    let config = pantau::config::Config::load(Some(config)).map_err(|e| anyhow::anyhow!("{e}"))?;
    let p = config
        .settings
        .postgres
        .ok_or_else(|| anyhow::anyhow!("not a PostgreSQL configuration"))?;
    let mut tokens = HashMap::new();
    for ind in &plan.indicators {
        if !tokens.contains_key(ind.department) {
            let id = pantau::domain::DepartmentId::parse(ind.department)?;
            let (_, token) =
                pantau::store::postgres::create_token_blocking(&p, &id, "load harness")?;
            tokens.insert(ind.department.to_string(), Arc::from(token.as_str()));
        }
    }
    Ok(tokens)
}

/// `figure` as measured on PostgreSQL: its own name, shown beside the SQLite row (no goal of
/// its own).
fn on_postgres(mut figure: Figure, name: &'static str) -> Figure {
    figure.name = name;
    figure.goal = "- (beside the SQLite row above)";
    figure.verdict = Verdict::Beside;
    figure
}

/// The PostgreSQL figures, or one skipped figure when PostgreSQL is not installed.
pub async fn figures(plan: &Plan, scale: &Scale, scratch: &Path) -> anyhow::Result<Vec<Figure>> {
    if !pg_cluster::available() {
        return Ok(vec![Figure {
            name: "PostgreSQL backend",
            pantau: "not measured: PostgreSQL's server binaries are not installed (apt-get install postgresql)".into(),
            reference: "-".into(),
            goal: "-",
            verdict: Verdict::Skipped,
            data: json!({ "skipped": "postgresql not installed" }),
        }]);
    }
    let cluster = tokio::task::spawn_blocking(Cluster::start_durable)
        .await?
        .ok_or_else(|| anyhow::anyhow!("PostgreSQL did not start"))?;
    let url = cluster.url("postgres");
    let masterplan = plan.toml(None);
    let configs: Vec<PathBuf> = (0..3)
        .map(|n| write_config(&scratch.join(format!("pg{n}")), &masterplan, &url))
        .collect::<anyhow::Result<_>>()?;
    let a = Daemon::start(&configs[0]).await?;
    let tokens = {
        let (config, plan) = (configs[0].clone(), plan.clone());
        tokio::task::spawn_blocking(move || department_tokens(&config, &plan)).await??
    };
    let mut figures = Vec::new();
    figures.push(on_postgres(
        ingest::batch(
            a.addr,
            plan,
            scale.batch_posts,
            scale.batch_clients,
            scratch,
        )
        .await?,
        "batch ingest over HTTP (1,000 rows per POST), durable rows/s, on PostgreSQL",
    ));
    figures.push(on_postgres(
        ingest::single(
            a.addr,
            plan,
            &tokens,
            scale.single_clients,
            scale.single_seconds,
            scale.rounds,
            scale.single_reference_rows,
            scratch,
        )
        .await?,
        "single-row posts from 64 concurrent clients, on PostgreSQL",
    ));
    let every = Duration::from_millis(scale.update_every_ms);
    let mut rounds = Vec::new();
    for _ in 0..scale.rounds {
        let fan = live::pantau_fanout(a.addr, plan, scale.screens, scale.updates, every).await?;
        let reference =
            live::reference_fanout(scale.screens, scale.updates, every, fan.message_bytes).await?;
        rounds.push((fan, reference));
    }
    figures.push(on_postgres(
        crate::live_figure(rounds, scale),
        "POST accepted -> delta received on 1,000 websocket screens, one instance, on PostgreSQL",
    ));

    let b = Daemon::start(&configs[1]).await?;
    let c = Daemon::start(&configs[2]).await?;
    let half = scale.screens / 2;
    let spread = [(b.addr, half), (c.addr, scale.screens - half)];
    let mut p99s = Vec::new();
    let mut all = Vec::new();
    let mut failure = None;
    let mut ack = Vec::new();
    let mut missing = 0;
    for _ in 0..scale.rounds {
        match live::cross_fanout(a.addr, &spread, plan, scale.updates, every).await {
            Ok(mut fan) => {
                missing += fan.missing;
                p99s.push(quantile(&mut fan.latencies_ms, 0.99));
                all.extend(fan.latencies_ms);
                ack.extend(fan.ack_ms);
            }
            Err(e) => {
                failure = Some(format!("{e:#}"));
                break;
            }
        }
    }
    let worst = p99s.iter().copied().fold(0.0, f64::max);
    let p50 = quantile(&mut all, 0.5);
    let p99 = quantile(&mut all, 0.99);
    let ack50 = quantile(&mut ack, 0.5);
    figures.push(Figure {
        name: "three instances on one PostgreSQL: POST on A -> delta on 1,000 screens spread over B and C",
        pantau: match &failure {
            None => format!(
                "p50 {p50:.1} ms, p99 {p99:.1} ms (worst round {worst:.1} ms over {} rounds; {} posts per round, answered in {ack50:.1} ms p50; {missing} undelivered)",
                p99s.len(),
                scale.updates
            ),
            Some(e) => format!("failed: {e}"),
        },
        reference: "-".into(),
        goal: "p99 <= 50 ms in every round, none undelivered",
        verdict: Verdict::from_bool(failure.is_none() && missing == 0 && worst <= 50.0),
        data: json!({
            "p50_ms": p50, "p99_ms": p99, "round_p99_ms": p99s, "screens": scale.screens,
            "updates_per_round": scale.updates, "every_ms": scale.update_every_ms,
            "post_answer_ms_p50": ack50, "failure": failure, "missing": missing,
        }),
    });
    c.stop().await?;
    b.stop().await?;
    a.stop().await?;

    // The reads: the SQLite phase's history (indicators x days) in a database of its own, then
    // start-up, progress, the evaluation report and as_of on an instance over it.
    crate::step("postgres: start-up, progress, reports and as_of on the same history");
    cluster.query("postgres", "CREATE DATABASE reads");
    let url = cluster.url("reads");
    let config = write_config(&scratch.join("pg-reads"), &masterplan, &url)?;
    migrate(&config).await?;
    let rows = copy_into_postgres(&url, plan).await?;
    let d = Daemon::start(&config).await?;
    figures.push(on_postgres(
        crate::startup_figure(&d, rows, scale),
        "start-up to serving on that database, on PostgreSQL",
    ));
    figures.push(on_postgres(
        crate::progress_figure(&d, scale).await?,
        "GET /api/v1/progress, same data, on PostgreSQL",
    ));
    for f in crate::evaluation::figures(&d, &config, plan, scale.report_runs).await? {
        let name = match f.name {
            n if n.starts_with("evaluation report as XLSX") => {
                "evaluation report as XLSX, same data, on PostgreSQL"
            }
            n if n.starts_with("evaluation report as HTML") => {
                "evaluation report as HTML, same data, on PostgreSQL"
            }
            n if n.starts_with("pantau report") => {
                "pantau report --out FILE.xlsx beside the daemon, on PostgreSQL"
            }
            n if n.starts_with("GET /api/v1/progress?as_of") => {
                "GET /api/v1/progress?as_of= (values known then), on PostgreSQL"
            }
            _ => "daemon peak RSS through the reports and as_of, on PostgreSQL",
        };
        figures.push(on_postgres(f, name));
    }
    d.stop().await?;

    // Polling on the same history: pantau's CPU per 1,000 polls, one round (Prometheus's is
    // in the SQLite row above; it does not depend on pantau's storage).
    crate::step("postgres: polling on the same history");
    let polled = crate::feeds::polling(crate::feeds::PollSetup {
        plan,
        dir: &scratch.join("pg-polling"),
        feeds: scale.feeds,
        period_s: scale.poll_period_s,
        periods: scale.poll_periods,
        rounds: 1,
        prometheus: Err("beside the SQLite row above".into()),
        postgres: Some(url.clone()),
    })
    .await?;
    figures.push(on_postgres(
        polled,
        "polling feeds on a shared schedule: CPU per 1,000 polls, on PostgreSQL",
    ));

    // `pantau import` into a database of its own.
    crate::step("postgres: pantau import");
    cluster.query("postgres", "CREATE DATABASE import");
    let import_plan = Plan::new(scale.import_indicators, scale.import_days);
    let dir = scratch.join("pg-import");
    let config = write_config(&dir, &import_plan.toml(None), &cluster.url("import"))?;
    figures.push(on_postgres(
        crate::uploads::import(&import_plan, &dir, &config).await?,
        "pantau import of 1,000,000 rows (CSV), wall time, on PostgreSQL",
    ));
    drop(cluster);
    Ok(figures)
}

/// Makes the schema at `config`'s PostgreSQL, as `pantau run` does.
pub(crate) async fn migrate(config: &Path) -> anyhow::Result<()> {
    let c = pantau::config::Config::load(Some(config)).map_err(|e| anyhow::anyhow!("{e}"))?;
    let p = c
        .settings
        .postgres
        .ok_or_else(|| anyhow::anyhow!("not a PostgreSQL configuration"))?;
    tokio::task::spawn_blocking(move || {
        pantau::store::postgres::run_sync(async move {
            pantau::store::postgres::open(&p).await.map(drop)
        })
    })
    .await??;
    Ok(())
}

/// The plan's daily history (as `plan::backfill` writes it to SQLite), in `COPY` binary format,
/// into the observation table at `url`.
pub(crate) async fn copy_into_postgres(url: &str, plan: &Plan) -> anyhow::Result<u64> {
    use tokio_postgres::binary_copy::BinaryCopyInWriter;
    use tokio_postgres::types::Type;
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let sink = client
        .copy_in(
            "COPY observation (indicator, t, value, source, department, received) FROM STDIN BINARY",
        )
        .await?;
    let types = [
        Type::TEXT,
        Type::INT8,
        Type::FLOAT8,
        Type::TEXT,
        Type::TEXT,
        Type::INT8,
    ];
    let writer = BinaryCopyInWriter::new(sink, &types);
    futures_util::pin_mut!(writer);
    for ind in &plan.indicators {
        for day in 0..plan.days {
            let t = plan.history_start + day as i64 * 86_400_000;
            let value = ind.value(day as f64 / (5.0 * 365.0), day);
            writer
                .as_mut()
                .write(&[&ind.id, &t, &value, &"import", &ind.department, &t])
                .await?;
        }
    }
    let n = writer.as_mut().finish().await?;
    client.batch_execute("ANALYZE observation").await?;
    Ok(n)
}
