//! The polling figure: pantau polling N feeds on a shared schedule, beside Debian's Prometheus
//! scraping the same N endpoints on the same interval. They run as child processes in
//! alternating rounds (pantau alone, then Prometheus alone, and again) against one upstream
//! server in the harness, which records every request's arrival (and whose it is, by
//! User-Agent); each one's CPU time comes from its own /proc/<pid>/stat, over whole periods
//! after one period to settle.
//!
//! Lateness of a pantau poll = its arrival minus its scheduled instant, which is the schedule's
//! fire time plus the feed's fixed spread offset (`pantau::poller::spread_offset` over a
//! quarter of the period, at most 30 s, as the poller computes it).

use crate::daemon::{self, Daemon};
use crate::report::{Figure, Spread, Verdict, quantile};
use serde_json::json;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use warp::Filter;

/// One request the upstream saw.
#[derive(Debug, Clone, Copy)]
struct Arrival {
    feed: usize,
    at_ms: i64,
    prometheus: bool,
}

/// Every arrival, in order.
#[derive(Clone, Default)]
pub struct Upstream {
    arrivals: Arc<Mutex<Vec<Arrival>>>,
}

/// The exposition each endpoint serves: 16 samples, like a small exporter, one of which
/// (`bench_indicator_value`) pantau reads into the feed's indicator.
fn exposition(feed: usize, now_ms: i64) -> String {
    let minute = now_ms / 60_000;
    let value = 50.0 + ((feed as i64 * 7 + minute) % 40) as f64 / 2.0;
    let mut s = format!(
        "# HELP bench_indicator_value The indicator.\n# TYPE bench_indicator_value gauge\nbench_indicator_value{{feed=\"{feed}\"}} {value}\n\
         # HELP bench_requests_total Requests.\n# TYPE bench_requests_total counter\n"
    );
    for (i, code) in [
        "200", "201", "204", "301", "400", "401", "403", "404", "429", "500", "502", "503",
    ]
    .iter()
    .enumerate()
    {
        s.push_str(&format!(
            "bench_requests_total{{code=\"{code}\",route=\"/api/{i}\"}} {}\n",
            minute * 13 + i as i64
        ));
    }
    s.push_str("# TYPE bench_up gauge\nbench_up 1\n# TYPE bench_queue_depth gauge\nbench_queue_depth 3\n# TYPE bench_temperature_celsius gauge\nbench_temperature_celsius 31.5\n");
    s
}

impl Upstream {
    /// Serves `GET /feed/{k}` on a loopback port.
    pub async fn start(self) -> anyhow::Result<SocketAddr> {
        let arrivals = self.arrivals.clone();
        let route = warp::path!("feed" / usize)
            .and(warp::header::optional::<String>("user-agent"))
            .map(move |feed: usize, agent: Option<String>| {
                let at_ms = chrono::Utc::now().timestamp_millis();
                let prometheus = agent.is_some_and(|a| a.starts_with("Prometheus"));
                if let Ok(mut a) = arrivals.lock() {
                    a.push(Arrival {
                        feed,
                        at_ms,
                        prometheus,
                    });
                }
                warp::reply::with_header(
                    exposition(feed, at_ms),
                    "content-type",
                    "text/plain; version=0.0.4",
                )
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(warp::serve(route).incoming(listener).run());
        Ok(addr)
    }

    fn between(&self, from_ms: i64, to_ms: i64) -> Vec<Arrival> {
        self.arrivals
            .lock()
            .map(|a| {
                a.iter()
                    .filter(|x| x.at_ms >= from_ms && x.at_ms < to_ms)
                    .copied()
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Finds Debian's `prometheus`, installing it with apt-get when `install` is set.
pub fn find_prometheus(install: bool) -> Result<PathBuf, String> {
    let which = || {
        Command::new("sh")
            .args(["-c", "command -v prometheus"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
    };
    if let Some(p) = which() {
        return Ok(p);
    }
    if !install {
        return Err(
            "prometheus is not installed; run with --with-prometheus to install Debian's package"
                .into(),
        );
    }
    eprintln!("--- installing Debian's prometheus for the polling reference");
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let installed = apt(&[
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
        "prometheus",
    ]) || (apt(&["update", "-qq"])
        && apt(&[
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            "prometheus",
        ]));
    match which() {
        Some(p) if installed => Ok(p),
        _ => Err("apt-get install prometheus failed".into()),
    }
}

/// A Prometheus scraping feed endpoints `0..count` of `upstream` every `interval_s` seconds.
struct Prometheus {
    child: Child,
}

impl Prometheus {
    async fn start(
        bin: &Path,
        dir: &Path,
        upstream: SocketAddr,
        count: usize,
        interval_s: u64,
    ) -> anyhow::Result<Prometheus> {
        let mut yaml = format!(
            "global:\n  scrape_interval: {interval_s}s\n  scrape_timeout: {}s\nscrape_configs:\n  - job_name: bench\n    static_configs:\n",
            interval_s.min(10)
        );
        for k in 0..count {
            yaml.push_str(&format!(
                "      - targets: [\"{upstream}\"]\n        labels: {{ __metrics_path__: \"/feed/{k}\", feed: \"{k}\" }}\n"
            ));
        }
        let config = dir.join("prometheus.yml");
        std::fs::write(&config, yaml)?;
        let web = daemon::free_port()?;
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={web}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log"))?)
            .spawn()?;
        let p = Prometheus { child };
        let client = reqwest::Client::new();
        for _ in 0..600 {
            if let Ok(r) = client.get(format!("http://{web}/-/ready")).send().await {
                if r.status().is_success() {
                    return Ok(p);
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("prometheus did not become ready within 60 s")
    }

    fn cpu_seconds(&self) -> f64 {
        daemon::cpu_seconds(self.child.id()).unwrap_or(f64::NAN)
    }

    fn peak_rss_mib(&self) -> f64 {
        daemon::peak_rss_mib(self.child.id()).unwrap_or(f64::NAN)
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the polling run is given.
pub struct PollSetup<'a> {
    pub plan: &'a crate::plan::Plan,
    /// Folder of a database with the plan's history (the daemon is restarted on it with feeds).
    pub dir: &'a Path,
    pub feeds: usize,
    /// Seconds between polls of each feed.
    pub period_s: u64,
    /// Whole periods measured in each round (after one period to settle).
    pub periods: u64,
    /// Rounds of pantau and of Prometheus, alternating.
    pub rounds: usize,
    pub prometheus: Result<PathBuf, String>,
    /// `[storage] url` of a PostgreSQL database with the plan's history, instead of the SQLite
    /// database in `dir`.
    pub postgres: Option<String>,
}

/// One measured round of one poller.
#[derive(Debug, Clone, serde::Serialize)]
struct Round {
    cpu_s: f64,
    polls: usize,
    cpu_s_per_1000: f64,
    peak_rss_mib: f64,
}

fn per_1000(cpu: f64, polls: usize) -> f64 {
    cpu / polls.max(1) as f64 * 1000.0
}

/// Waits for the first schedule boundary at least 2 s away, lets one whole period pass (first
/// connections, first writes), then measures `periods` periods of `cpu`: (cpu seconds, from, to).
async fn measure(period_s: u64, periods: u64, cpu: impl Fn() -> f64) -> (f64, i64, i64) {
    let period_ms = period_s as i64 * 1000;
    let settle = chrono::Utc::now().timestamp_millis() + 2_000;
    let t0 = (settle / period_ms + 2) * period_ms;
    let t1 = t0 + periods as i64 * period_ms;
    sleep_until_ms(t0).await;
    let c0 = cpu();
    sleep_until_ms(t1).await;
    let c1 = cpu();
    // Polls started before t1 may still be answering: give them a moment to be counted.
    tokio::time::sleep(Duration::from_millis(500)).await;
    (c1 - c0, t0, t1)
}

/// Runs pantau and Prometheus in alternating rounds (each alone) against the same endpoints on
/// the same interval and compares CPU seconds per 1,000 polls, round by round.
pub async fn polling(setup: PollSetup<'_>) -> anyhow::Result<Figure> {
    let upstream = Upstream::default();
    let addr = upstream.clone().start().await?;
    let schedule = if setup.period_s == 60 {
        // crontab(5)'s five fields: the start of every minute.
        "* * * * *".to_string()
    } else {
        format!("*/{} * * * * *", setup.period_s)
    };
    let feeds = crate::plan::Feeds {
        count: setup.feeds,
        base: format!("http://{addr}"),
        schedule: schedule.clone(),
    };
    let masterplan = setup.plan.toml(Some(&feeds));
    let config = match &setup.postgres {
        Some(url) => crate::postgres::write_config(setup.dir, &masterplan, url)?,
        None => crate::plan::write_config(setup.dir, &masterplan)?,
    };
    let period_ms = setup.period_s as i64 * 1000;
    let window = (period_ms / 4).min(30_000) as u64;
    let (mut pantau_rounds, mut prom_rounds) = (Vec::new(), Vec::new());
    let mut lateness: Vec<f64> = Vec::new();
    for round in 0..setup.rounds {
        let pantau = Daemon::start(&config).await?;
        let (cpu, t0, t1) = measure(setup.period_s, setup.periods, || pantau.cpu_seconds()).await;
        let rss = pantau.peak_rss_mib();
        pantau.stop().await?;
        let seen: Vec<Arrival> = upstream
            .between(t0, t1)
            .into_iter()
            .filter(|a| !a.prometheus)
            .collect();
        lateness.extend(seen.iter().map(|a| {
            let offset = pantau::poller::spread_offset(
                &crate::plan::feed_id(a.feed),
                Duration::from_millis(window),
            )
            .as_millis() as i64;
            let late = (a.at_ms - offset).rem_euclid(period_ms);
            // A poll a hair early (clock rounding) shows up as almost a whole period late.
            if late > period_ms / 2 {
                (late - period_ms) as f64
            } else {
                late as f64
            }
        }));
        pantau_rounds.push(Round {
            cpu_s: cpu,
            polls: seen.len(),
            cpu_s_per_1000: per_1000(cpu, seen.len()),
            peak_rss_mib: rss,
        });
        if let Ok(bin) = &setup.prometheus {
            let dir = setup.dir.join(format!("prometheus-{round}"));
            std::fs::create_dir_all(&dir)?;
            let prom = Prometheus::start(bin, &dir, addr, setup.feeds, setup.period_s).await?;
            let (cpu, t0, t1) = measure(setup.period_s, setup.periods, || prom.cpu_seconds()).await;
            let rss = prom.peak_rss_mib();
            drop(prom);
            let _ = std::fs::remove_dir_all(&dir);
            let polls = upstream
                .between(t0, t1)
                .iter()
                .filter(|a| a.prometheus)
                .count();
            prom_rounds.push(Round {
                cpu_s: cpu,
                polls,
                cpu_s_per_1000: per_1000(cpu, polls),
                peak_rss_mib: rss,
            });
        }
    }
    let pantau_polls: usize = pantau_rounds.iter().map(|r| r.polls).sum();
    let expected = setup.feeds as u64 * setup.periods * setup.rounds as u64;
    let pantau_cpu = Spread::of(
        &pantau_rounds
            .iter()
            .map(|r| r.cpu_s_per_1000)
            .collect::<Vec<_>>(),
    );
    let ratios: Vec<f64> = pantau_rounds
        .iter()
        .zip(&prom_rounds)
        .map(|(p, q)| p.cpu_s_per_1000 / q.cpu_s_per_1000)
        .collect();
    let spread = Spread::of(&ratios);
    let prom_cpu = Spread::of(
        &prom_rounds
            .iter()
            .map(|r| r.cpu_s_per_1000)
            .collect::<Vec<_>>(),
    );
    let prom_polls: usize = prom_rounds.iter().map(|r| r.polls).sum();
    let p50 = quantile(&mut lateness, 0.5);
    let p99 = quantile(&mut lateness, 0.99);
    let what = format!(
        "{} feeds on `{schedule}`, {} s per round",
        setup.feeds,
        setup.periods * setup.period_s
    );
    Ok(Figure {
        name: "polling feeds on a shared schedule: CPU per 1,000 polls against Prometheus (alternating rounds), lateness p99",
        pantau: if ratios.is_empty() {
            format!(
                "{:.2} CPU-s per 1,000 polls ({pantau_polls} of {expected} polls; {what}); lateness p50 {p50:.0} ms, p99 {p99:.0} ms",
                pantau_cpu.median
            )
        } else {
            format!(
                "{:.2} CPU-s per 1,000 polls = {} Prometheus's ({pantau_polls} of {expected} polls; {what}); lateness p50 {p50:.0} ms, p99 {p99:.0} ms",
                pantau_cpu.median,
                spread.times(ratios.len())
            )
        },
        reference: match &setup.prometheus {
            Ok(_) => format!(
                "Prometheus scraping the same endpoints: {:.2} CPU-s per 1,000 scrapes ({prom_polls} scrapes)",
                prom_cpu.median
            ),
            Err(why) => format!("Prometheus not run: {why}"),
        },
        goal: "<= 0.6x Prometheus's CPU per poll in every round",
        verdict: if ratios.is_empty() {
            Verdict::Skipped
        } else {
            Verdict::from_bool(spread.max <= 0.6)
        },
        data: json!({
            "feeds": setup.feeds, "schedule": schedule,
            "seconds_per_round": setup.periods * setup.period_s, "rounds": setup.rounds,
            "pantau_polls": pantau_polls, "expected_polls": expected,
            "pantau": pantau_rounds, "prometheus": prom_rounds,
            "ratio": ratios, "ratio_spread": spread,
            "lateness_ms_p50": p50, "lateness_ms_p99": p99,
        }),
    })
}

async fn sleep_until_ms(t_ms: i64) {
    let now = chrono::Utc::now().timestamp_millis();
    if t_ms > now {
        tokio::time::sleep_until(
            (Instant::now() + Duration::from_millis((t_ms - now) as u64)).into(),
        )
        .await;
    }
}
