//! The polling figure: pantau polling N feeds on a shared schedule, beside Debian's Prometheus
//! scraping the same N endpoints on the same interval. Both run as child processes at the same
//! time against one upstream server in the harness, which records every request's arrival (and
//! whose it is, by User-Agent); each one's CPU time comes from its own /proc/<pid>/stat.
//!
//! Lateness of a pantau poll = its arrival minus its scheduled instant, which is the schedule's
//! fire time plus the feed's fixed spread offset (`pantau::poller::spread_offset` over a
//! quarter of the period, at most 30 s, as the poller computes it).

use crate::daemon::{self, Daemon};
use crate::report::{Figure, Verdict, quantile};
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
    /// Seconds between polls of each feed (60 for a one-minute cron schedule).
    pub period_s: u64,
    /// Whole periods measured.
    pub periods: u64,
    pub prometheus: Result<PathBuf, String>,
}

/// Runs pantau (and Prometheus when available) against the same endpoints for `periods`
/// periods and compares CPU seconds per 1,000 polls.
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
    let config = crate::plan::write_config(setup.dir, &setup.plan.toml(Some(&feeds)))?;
    let pantau = Daemon::start(&config).await?;
    let prom_dir = setup.dir.join("prometheus");
    std::fs::create_dir_all(&prom_dir)?;
    let prometheus = match &setup.prometheus {
        Ok(bin) => {
            Some(Prometheus::start(bin, &prom_dir, addr, setup.feeds, setup.period_s).await?)
        }
        Err(_) => None,
    };
    // Measure whole periods from a schedule boundary, a little after both have settled.
    let period_ms = setup.period_s as i64 * 1000;
    let settle = chrono::Utc::now().timestamp_millis() + 2_000;
    let t0 = (settle / period_ms + 1) * period_ms;
    let t1 = t0 + setup.periods as i64 * period_ms;
    sleep_until_ms(t0).await;
    let (p0, q0) = (
        pantau.cpu_seconds(),
        prometheus.as_ref().map(|p| p.cpu_seconds()),
    );
    sleep_until_ms(t1).await;
    let (p1, q1) = (
        pantau.cpu_seconds(),
        prometheus.as_ref().map(|p| p.cpu_seconds()),
    );
    // Polls started before t1 may still be answering: give them a moment to be counted.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = upstream.between(t0, t1);
    let prom_rss = prometheus.as_ref().map(|p| p.peak_rss_mib());
    drop(prometheus);
    let pantau_rss = pantau.peak_rss_mib();
    pantau.stop().await?;

    let window = (period_ms / 4).min(30_000) as u64;
    let mut lateness: Vec<f64> = seen
        .iter()
        .filter(|a| !a.prometheus)
        .map(|a| {
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
        })
        .collect();
    let pantau_polls = lateness.len();
    let prom_polls = seen.iter().filter(|a| a.prometheus).count();
    let expected = setup.feeds as u64 * setup.periods;
    let per_1000 = |cpu: f64, polls: usize| cpu / polls.max(1) as f64 * 1000.0;
    let pantau_cpu = per_1000(p1 - p0, pantau_polls);
    let prom_cpu = match (q0, q1) {
        (Some(a), Some(b)) => Some(per_1000(b - a, prom_polls)),
        _ => None,
    };
    let p50 = quantile(&mut lateness, 0.5);
    let p99 = quantile(&mut lateness, 0.99);
    let what = format!(
        "{} feeds on `{schedule}`, {} s",
        setup.feeds,
        setup.periods * setup.period_s
    );
    Ok(Figure {
        name: "polling feeds on a shared schedule: CPU per 1,000 polls, lateness p99",
        pantau: format!(
            "{pantau_cpu:.2} CPU-s per 1,000 polls ({pantau_polls} of {expected} polls; {what}); lateness p50 {p50:.0} ms, p99 {p99:.0} ms"
        ),
        reference: match (prom_cpu, &setup.prometheus) {
            (Some(c), _) => format!(
                "Prometheus scraping the same endpoints: {c:.2} CPU-s per 1,000 scrapes ({prom_polls} scrapes)"
            ),
            (None, Err(why)) => format!("Prometheus not run: {why}"),
            (None, Ok(_)) => "Prometheus not measured".into(),
        },
        goal: "less CPU per poll than Prometheus",
        verdict: match prom_cpu {
            Some(c) => Verdict::from_bool(pantau_cpu < c),
            None => Verdict::Skipped,
        },
        data: json!({
            "feeds": setup.feeds, "schedule": schedule, "seconds": setup.periods * setup.period_s,
            "pantau_polls": pantau_polls, "expected_polls": expected,
            "pantau_cpu_s": p1 - p0, "pantau_cpu_s_per_1000": pantau_cpu,
            "lateness_ms_p50": p50, "lateness_ms_p99": p99,
            "pantau_peak_rss_mib": pantau_rss,
            "prometheus_scrapes": prom_polls,
            "prometheus_cpu_s_per_1000": prom_cpu,
            "prometheus_peak_rss_mib": prom_rss,
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
