//! The evaluation-report figures: the yearly report (laporan evaluasi) of the synthetic city
//! (1,000 indicators x 3 years of daily data) as XLSX and as HTML from the daemon, the same
//! XLSX from `pantau report` on the database (a process of its own, read-only, beside the
//! daemon), and progress as of a past day (`GET /api/v1/progress?as_of=`), each beside the
//! same-run request it builds on: OPD compliance over the same year (the report's heaviest
//! part) and live progress. The daemon's peak RSS (VmHWM) is read before and after the reports
//! and `as_of` (the compliance reference, whose answer lists every late or missing period, is
//! timed after that reading).

use crate::daemon::{Daemon, binary};
use crate::http::Conn;
use crate::plan::{Plan, TZ};
use crate::report::{Figure, Verdict, ms, quantile};
use chrono::{Datelike, Days};
use serde_json::json;
use std::path::Path;
use std::time::Instant;

/// The year the report is about: last year when the plan has targets in it (a whole year of
/// history), else this year, else the plan's first year.
pub fn report_year(plan: &Plan) -> i32 {
    let baseline = chrono::DateTime::from_timestamp_millis(plan.history_start - 86_400_000)
        .map(|t| t.with_timezone(&TZ).date_naive())
        .unwrap_or_default();
    let years: Vec<i32> = (1..=5).map(|k| baseline.year() + k).collect();
    let this = chrono::Utc::now().with_timezone(&TZ).year();
    [this - 1, this]
        .into_iter()
        .find(|y| years.contains(y))
        .unwrap_or(years[0])
}

/// `runs` sequential GETs of `path` on one connection: every time in ms and the body size.
async fn timed(conn: &mut Conn, path: &str, runs: usize) -> anyhow::Result<(Vec<f64>, usize)> {
    let mut times = Vec::with_capacity(runs);
    let mut bytes = 0;
    for _ in 0..runs {
        let t0 = Instant::now();
        let r = conn.get(path).await?;
        times.push(t0.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(
            r.status == 200,
            "{path} answered {}: {}",
            r.status,
            r.text().chars().take(300).collect::<String>()
        );
        bytes = r.body.len();
    }
    Ok((times, bytes))
}

fn kib(bytes: usize) -> String {
    format!("{} KiB", bytes / 1024)
}

/// The figures of the phase.
pub async fn figures(
    d: &Daemon,
    config: &Path,
    plan: &Plan,
    runs: usize,
) -> anyhow::Result<Vec<Figure>> {
    let year = report_year(plan);
    let rss_before = d.peak_rss_mib();
    let mut conn = Conn::connect(d.addr).await?;
    let mut out = Vec::new();
    for (format, name) in [
        (
            "xlsx",
            "evaluation report as XLSX (GET /api/v1/reports/evaluation), 1,000 indicators x 3 years of daily data",
        ),
        (
            "html",
            "evaluation report as HTML (GET /api/v1/reports/evaluation), same data",
        ),
    ] {
        let path = format!("/api/v1/reports/evaluation?year={year}&format={format}");
        let (mut times, bytes) = timed(&mut conn, &path, runs).await?;
        let p50 = quantile(&mut times, 0.5);
        let worst = quantile(&mut times, 1.0);
        out.push(Figure {
            name,
            pantau: format!(
                "p50 {}, worst {} ({} {format}, year {year}, {runs} runs)",
                ms(p50),
                ms(worst),
                kib(bytes)
            ),
            // Filled in below, once the peak RSS of the reports is read.
            reference: String::new(),
            goal: "<= 2 s",
            verdict: Verdict::from_bool(worst <= 2000.0),
            data: json!({ "year": year, "runs": runs, "times_ms": times, "bytes": bytes }),
        });
    }

    // The same XLSX from the command line, on the database the daemon serves.
    let file = config.with_file_name("laporan-bench.xlsx");
    let mut cli = Vec::with_capacity(runs);
    for _ in 0..runs {
        let (config, file) = (config.to_path_buf(), file.clone());
        let (elapsed, status) = tokio::task::spawn_blocking(move || {
            let t0 = Instant::now();
            let status = std::process::Command::new(binary())
                .arg("--config")
                .arg(&config)
                .args(["report", "--year", &year.to_string(), "--out"])
                .arg(&file)
                .env("PANTAU_LOG", "warn")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
            (t0.elapsed().as_secs_f64() * 1e3, status)
        })
        .await?;
        anyhow::ensure!(status?.success(), "pantau report failed");
        cli.push(elapsed);
    }
    let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0) as usize;
    let p50 = quantile(&mut cli, 0.5);
    let worst = quantile(&mut cli, 1.0);
    out.push(Figure {
        name: "pantau report --out FILE.xlsx beside the daemon (a process of its own, reading the database)",
        pantau: format!(
            "p50 {}, worst {} ({}, {runs} runs)",
            ms(p50),
            ms(worst),
            kib(bytes)
        ),
        reference: "-".into(),
        goal: "<= 2 s",
        verdict: Verdict::from_bool(worst <= 2000.0),
        data: json!({ "year": year, "runs": runs, "times_ms": cli, "bytes": bytes }),
    });

    // Progress as of a past day: the end of the report's year when it is over, else a month ago.
    let today = chrono::Utc::now().with_timezone(&TZ).date_naive();
    let end = chrono::NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(today);
    let as_of = if end < today {
        end
    } else {
        today - Days::new(30)
    };
    let (mut live, _) = timed(&mut conn, "/api/v1/progress", runs).await?;
    let (mut times, bytes) =
        timed(&mut conn, &format!("/api/v1/progress?as_of={as_of}"), runs).await?;
    let p50 = quantile(&mut times, 0.5);
    let worst = quantile(&mut times, 1.0);
    out.push(Figure {
        name: "GET /api/v1/progress?as_of= (values known then), same data",
        pantau: format!(
            "p50 {}, worst {} ({}, as of {as_of}, {runs} runs)",
            ms(p50),
            ms(worst),
            kib(bytes)
        ),
        reference: format!(
            "live GET /api/v1/progress: p50 {}",
            ms(quantile(&mut live, 0.5))
        ),
        goal: "<= 2 s",
        verdict: Verdict::from_bool(worst <= 2000.0),
        data: json!({ "as_of": as_of, "runs": runs, "times_ms": times, "bytes": bytes, "live_times_ms": live }),
    });

    let rss_after = d.peak_rss_mib();
    // The reference of the two daemon reports: compliance over the same year (what a report
    // computes besides the figures it reads from memory).
    let compliance = format!("/api/v1/compliance?from={year}-01-01&to={year}-12-31");
    let (mut reference, _) = timed(&mut conn, &compliance, runs).await?;
    let r50 = quantile(&mut reference, 0.5);
    for f in out.iter_mut().take(2) {
        f.reference = format!("GET /api/v1/compliance over the same year: p50 {}", ms(r50));
        f.data["reference_times_ms"] = json!(reference);
    }
    out.push(Figure {
        name: "daemon peak RSS through the reports and as_of (VmHWM)",
        pantau: format!(
            "{rss_after:.1} MiB ({rss_before:.1} MiB after start-up and before them; {} indicators, {} days)",
            plan.indicators.len(),
            plan.days
        ),
        reference: "-".into(),
        goal: "<= 100 MB (as the reads phase)",
        verdict: Verdict::from_bool(rss_after * 1.048_576 <= 100.0),
        data: json!({ "peak_rss_mib": rss_after, "peak_rss_before_mib": rss_before }),
    });
    Ok(out)
}
