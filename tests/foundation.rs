//! Foundation: configuration checks, the store, progress over the read API, import, restart,
//! shutdown. The daemon runs for real on port 0; the binary is used where a user would use it.

mod common;

use common::*;
use serde_json::{Value, json};
use std::process::{Command, Stdio};

const PLAN: &str = r#"
[[department]]
id = "dinkes"
name = "Dinas Kesehatan"
[[department]]
id = "dlh"
name = "Dinas Lingkungan Hidup"

[[dimension]]
id = "living"
name = "Smart Living"
[[dimension]]
id = "environment"
name = "Smart Environment"

[[program]]
id = "living.health"
dimension = "living"
name = "Mojokerto Sehat"
department = "dinkes"
quick_win = true
start = 2023-01-01
due = 2027-12-31

[[program]]
id = "env.air"
dimension = "environment"
name = "Udara Bersih"
department = "dlh"
horizon = "medium"
start = 2023-01-01
due = 2027-12-31

[[indicator]]
id = "living.health.coverage"
program = "living.health"
name = "Cakupan imunisasi"
unit = "persen"
direction = "increase"
baseline = { date = 2022-12-31, value = 40.0 }
targets = [{ date = 2023-12-31, value = 50.0 }, { date = 2027-12-31, value = 90.0 }]
update_every = "1y"
weight = 2.0

[[indicator]]
id = "living.health.stunting"
program = "living.health"
name = "Prevalensi stunting"
unit = "persen"
direction = "decrease"
baseline = { date = 2022-12-31, value = 30.0 }
targets = [{ date = 2025-12-31, value = 20.0 }, { date = 2027-12-31, value = 14.0 }]
update_every = "1y"

[[indicator]]
id = "living.health.posyandu"
program = "living.health"
name = "Posyandu digital"
unit = "unit"
direction = "increase"
kind = "cumulative"
baseline = { date = 2022-12-31, value = 0.0 }
targets = [{ date = 2027-12-31, value = 500.0 }]
update_every = "1y"

[[indicator]]
id = "env.air.ispu"
program = "env.air"
name = "Rata-rata ISPU"
unit = "ISPU"
direction = "maintain"
tolerance = 10.0
baseline = { date = 2022-12-31, value = 60.0 }
targets = [{ date = 2027-12-31, value = 50.0 }]
update_every = "1y"
"#;

/// Midnight at the start of a Jakarta date, in ms.
fn day(d: &str) -> i64 {
    let date = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
    date.and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis()
        - 7 * 3_600_000
}

/// DESIGN.md's expected value, computed independently: piecewise linear through the points.
fn expected_at(points: &[(i64, f64)], t: i64) -> f64 {
    if t <= points[0].0 {
        return points[0].1;
    }
    for w in points.windows(2) {
        let ((t0, v0), (t1, v1)) = (w[0], w[1]);
        if t <= t1 {
            return v0 + (v1 - v0) * (t - t0) as f64 / (t1 - t0) as f64;
        }
    }
    points.last().unwrap().1
}

#[tokio::test]
async fn import_restart_and_progress_match_the_method() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), PLAN, "");
    let csv = "indicator,time,value,note\n\
        living.health.coverage,2023-12-31,48,\n\
        living.health.coverage,2024-12-31,55,naik\n\
        living.health.stunting,2024-12-31,26.5,\n\
        living.health.stunting,2023-12-31,28,\n\
        living.health.posyandu,2023-06-30,40,\n\
        living.health.posyandu,2024-06-30,60,\n\
        living.health.posyandu,2025-06-30,90,\n\
        env.air.ispu,2025-01-01,55,\n";
    let file = dir.path().join("backfill.csv");
    std::fs::write(&file, csv).unwrap();
    let out = pantau()
        .arg("--config")
        .arg(&cfg)
        .arg("import")
        .arg("--create")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("8 new"));

    // Importing the same file again changes nothing.
    let out = pantau()
        .arg("--config")
        .arg(&cfg)
        .arg("import")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("0 new, 0 corrected, 8 unchanged"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let app = start_in(dir, cfg, Default::default()).await;
    let (dir, cfg) = app.stop().await;
    // After a restart the state is rebuilt from the database.
    let app = start_in(dir, cfg, Default::default()).await;
    let (status, progress) = app.get("/api/v1/progress").await;
    assert_eq!(status, 200);
    let now = chrono::Utc::now().timestamp_millis();
    let by_id = |id: &str| {
        progress["indicators"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == id)
            .unwrap()
            .clone()
    };

    // coverage: level, increase, B=40, T=90.
    let cov = by_id("living.health.coverage");
    let traj = [
        (day("2022-12-31"), 40.0),
        (day("2023-12-31"), 50.0),
        (day("2027-12-31"), 90.0),
    ];
    let e = expected_at(&traj, now);
    let p = (55.0 - 40.0) / 50.0;
    let q = (e - 40.0) / 50.0;
    close(&cov["current"], 55.0);
    close(&cov["progress"], p);
    close(&cov["expected"], q);
    close(&cov["expected_value"], e);
    close(&cov["capaian"], 55.0 / 90.0 * 100.0);
    let status = if p / q >= 0.95 {
        "on_track"
    } else if p / q >= 0.85 {
        "at_risk"
    } else {
        "off_track"
    };
    assert_eq!(cov["status"], status);
    // Yearly cadence + half a year of grace: the 2024-12-31 value is stale after 2026-06-30.
    assert_eq!(
        cov["stale"],
        json!(now > day("2024-12-31") + (365 + 182) * 86_400_000 + 43_200_000)
    );
    assert_eq!(cov["unit"], "persen");
    assert_eq!(cov["department"], "dinkes");
    assert!(
        cov["last_update"]
            .as_str()
            .unwrap()
            .starts_with("2024-12-31T00:00:00+07:00")
    );

    // stunting: decrease, B=30, T=14; the latest by time is 26.5 (rows came unsorted).
    let st = by_id("living.health.stunting");
    let traj = [
        (day("2022-12-31"), 30.0),
        (day("2025-12-31"), 20.0),
        (day("2027-12-31"), 14.0),
    ];
    let e = expected_at(&traj, now);
    close(&st["current"], 26.5);
    close(&st["progress"], (26.5 - 30.0) / (14.0 - 30.0));
    close(&st["expected"], (e - 30.0) / (14.0 - 30.0));
    close(&st["capaian"], (2.0 * 14.0 - 26.5) / 14.0 * 100.0);

    // posyandu: cumulative, the sum since the baseline.
    let po = by_id("living.health.posyandu");
    close(&po["current"], 190.0);
    close(&po["progress"], 190.0 / 500.0);
    // A forecast needs 3 points in the last 180 days: none here.
    assert_eq!(po["forecast"], Value::Null);

    // ispu: maintain 50 ± 10, current 55 is on track; p = 1, q = 1.
    let is = by_id("env.air.ispu");
    assert_eq!(is["status"], "on_track");
    close(&is["progress"], 1.0);
    close(&is["expected"], 1.0);

    // Roll-up: the program's p and q are weighted means of clamped values.
    let prog = progress["programs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "living.health")
        .unwrap();
    let parts = [(&cov, 2.0), (&st, 1.0), (&po, 1.0)];
    let clamp = |v: &Value| v.as_f64().unwrap().clamp(0.0, 1.0);
    let w: f64 = parts.iter().map(|(_, w)| w).sum();
    let pp: f64 = parts
        .iter()
        .map(|(i, w)| clamp(&i["progress"]) * w)
        .sum::<f64>()
        / w;
    let pq: f64 = parts
        .iter()
        .map(|(i, w)| clamp(&i["expected"]) * w)
        .sum::<f64>()
        / w;
    close(&prog["progress"], pp);
    close(&prog["expected"], pq);
    // Its sparkline is its progress at weekly instants, computed the same way, ending now: no
    // observation is younger than half a year, so every point equals today's progress.
    let spark = prog["sparkline"].as_array().unwrap();
    assert_eq!(spark.len(), 26);
    for v in spark {
        close(v, pp);
    }
    let counts = &prog["counts"];
    let total: u64 = ["no_data", "achieved", "on_track", "at_risk", "off_track"]
        .iter()
        .map(|k| counts[k].as_u64().unwrap())
        .sum();
    assert_eq!(total, 3);
    assert_eq!(
        progress["masterplan"]["counts"]["on_track"]
            .as_u64()
            .unwrap()
            + progress["masterplan"]["counts"]["at_risk"]
                .as_u64()
                .unwrap()
            + progress["masterplan"]["counts"]["off_track"]
                .as_u64()
                .unwrap()
            + progress["masterplan"]["counts"]["achieved"]
                .as_u64()
                .unwrap(),
        4
    );

    // Series with its source.
    let (s, series) = app
        .get("/api/v1/indicators/living.health.coverage/series?from=2024-01-01")
        .await;
    assert_eq!(s, 200);
    assert_eq!(series["points"].as_array().unwrap().len(), 1);
    assert_eq!(series["points"][0]["source"], "import");
    assert_eq!(series["points"][0]["note"], "naik");
    app.stop().await;
}

#[tokio::test]
async fn import_refuses_a_file_with_any_bad_row_and_lists_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), PLAN, "");
    let csv = "indicator,time,value\nliving.health.coverage,2024-01-01,50\nno.such,2024-01-01,1\nliving.health.coverage,2021-01-01,1\nliving.health.stunting,2024-01-01,abc\n";
    let file = dir.path().join("bad.csv");
    std::fs::write(&file, csv).unwrap();
    let out = pantau()
        .arg("--config")
        .arg(&cfg)
        .arg("import")
        .arg("--create")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "line 3",
        "no.such",
        "line 4",
        "baseline",
        "line 5",
        "not a number",
        "nothing was imported",
    ] {
        assert!(err.contains(needle), "missing `{needle}` in:\n{err}");
    }
    let db = dir.path().join("pantau.db");
    if db.exists() {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM observation", [], |r| r.get(0))
            .unwrap_or(0);
        assert_eq!(n, 0, "nothing is stored when any row is bad");
    }
}

#[test]
fn check_reports_every_problem_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let bad_plan = PLAN
        .replace(
            "program = \"env.air\"\nname = \"Rata-rata ISPU\"",
            "program = \"env.udara\"\nname = \"Rata-rata ISPU\"",
        )
        .replace(
            "id = \"dlh\"\nname = \"Dinas Lingkungan Hidup\"",
            "id = \"dinkes\"\nname = \"Dinas Lingkungan Hidup\"",
        )
        .replace(
            "targets = [{ date = 2025-12-31, value = 20.0 }, { date = 2027-12-31, value = 14.0 }]",
            "targets = [{ date = 2027-12-31, value = 20.0 }, { date = 2025-12-31, value = 14.0 }]",
        )
        .replace(
            "targets = [{ date = 2027-12-31, value = 500.0 }]",
            "targets = [{ date = 2027-12-31, value = 0.0 }]",
        )
        .replace(
            "direction = \"increase\"\nbaseline = { date = 2022-12-31, value = 40.0 }",
            "direction = \"upward\"\nbaseline = { date = 2022-12-31, value = 40.0 }",
        )
        .replace("kind = \"cumulative\"", "kind = \"sum\"\ncolour = \"red\"")
        + "\n[[feed]]\nid = \"dinkes-api\"\ndepartment = \"dinkes\"\nurl = \"not a url\"\nformat = \"json\"\nschedule = \"0 8 * * 9\"\n[feed.json]\npoints = [{ indicator = \"living.health.stunting\", value = \"/v\" }]\n"
        // A feed whose mapping has a problem of its own, that also maps an unknown indicator and
        // reads a header from an unset environment variable: all three in the same run.
        + "\n[[feed]]\nid = \"dinkes-gizi\"\ndepartment = \"dinkes\"\nurl = \"https://data.example.go.id/gizi\"\nformat = \"json\"\nschedule = \"*/5 * * * *\"\nheaders = { Authorization = \"env:PANTAU_TEST_SURELY_UNSET\" }\n[feed.json]\npoints = [{ indicator = \"living.health.nope\", value = \"no-leading-slash\" }]\n";
    let cfg = write_config(dir.path(), &bad_plan, "");
    let settings = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("Asia/Jakarta", "Asia/Mojokerto");
    std::fs::write(&cfg, settings).unwrap();
    std::fs::write(
        dir.path().join("screens.toml"),
        "[[screen]]\nid = \"wall-1\"\nlabel = \"Layar\"\npages = [\"overview\", \"dimension:smart-city\", \"graphs\"]\ninterval_seconds = 0\n",
    )
    .unwrap();
    let out = pantau()
        .arg("check")
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "time_zone",                              // bad time zone
        "unknown program `env.udara`",            // unknown reference
        "`dinkes` is used twice",                 // duplicate id
        "targets[1].date",                        // targets out of order
        "equals the baseline",                    // target equal to baseline
        "`upward` is not a direction",            // unknown direction
        "`sum` is not a kind",                    // unknown kind
        "`colour`",                               // unknown TOML key
        "not a URL",                              // bad URL
        "day of the week",                        // bad cron
        "unknown indicator `living.health.nope`", // feed cross-reference beside a mapping problem
        "PANTAU_TEST_SURELY_UNSET",               // env: header variable that is not set
        "screens.toml",                           // the screens file is checked too
        "`dimension:smart-city` names no dimension",
        "`graphs` is not a page",
        "interval_seconds",
    ] {
        assert!(err.contains(needle), "missing `{needle}` in:\n{err}");
    }
    // Each problem names the file and the item.
    assert!(
        err.contains("masterplan.toml: indicator living.health.posyandu, field `kind`"),
        "{err}"
    );

    // The same config is refused by `run`, with the same messages.
    let out = pantau()
        .arg("run")
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`upward` is not a direction"));

    // A valid config passes.
    let ok = tempfile::tempdir().unwrap();
    let cfg = write_config(ok.path(), PLAN, "");
    let out = pantau()
        .arg("check")
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_shipped_example_config_is_valid_and_rich() {
    let out = pantau()
        .arg("check")
        .arg("--config")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/config/pantau.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = pantau::config::Config::load(Some(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/pantau.toml"
    ))))
    .unwrap();
    let plan = &c.masterplan;
    assert_eq!(plan.dimensions.len(), 6);
    assert!(plan.programs.len() >= 15);
    assert!(plan.programs.iter().filter(|p| p.quick_win).count() >= 6);
    assert!(plan.indicators.len() >= 40);
    let owners: std::collections::HashSet<_> = plan
        .indicators
        .iter()
        .map(|i| i.department.as_str())
        .collect();
    assert!(owners.len() >= 10);
    use pantau::domain::{Direction, Kind};
    assert!(
        plan.indicators
            .iter()
            .any(|i| i.direction == Direction::Decrease)
    );
    for band in [Direction::AtLeast, Direction::AtMost] {
        assert!(
            plan.indicators.iter().any(|i| i.direction == band),
            "{band:?}"
        );
    }
    for kind in [Kind::Level, Kind::Cumulative, Kind::CumulativeYearly] {
        assert!(plan.indicators.iter().any(|i| i.kind == kind), "{kind:?}");
    }
    assert!(
        plan.indicators
            .iter()
            .any(|i| i.code.is_some() && i.tier.is_some())
    );
}

#[test]
fn a_database_from_a_newer_pantau_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), PLAN, "");
    let db = dir.path().join("pantau.db");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch("CREATE TABLE observation (x); PRAGMA user_version = 42;")
            .unwrap();
    }
    let before = std::fs::read(&db).unwrap();
    let out = pantau()
        .arg("run")
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("newer pantau") && err.contains("42"), "{err}");
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

on_both_backends!(read_api_shapes_filters_and_errors);

async fn read_api_shapes_filters_and_errors(backend: Backend) {
    let Some(app) = spawn_app_on(backend, PLAN, "").await else {
        return;
    };
    let (s, h) = app.get("/healthz").await;
    assert_eq!((s, h["status"].as_str()), (200, Some("ok")));

    let (s, m) = app.get("/api/v1/masterplan").await;
    assert_eq!(s, 200);
    assert_eq!(m["indicators"].as_array().unwrap().len(), 4);
    assert_eq!(m["time_zone"], "Asia/Jakarta");

    let (s, p) = app.get("/api/v1/progress").await;
    assert_eq!(s, 200);
    for key in [
        "as_of",
        "masterplan",
        "dimensions",
        "programs",
        "indicators",
    ] {
        assert!(p.get(key).is_some(), "missing {key}");
    }
    let ind = &p["indicators"][0];
    for key in [
        "id",
        "name",
        "status",
        "progress",
        "expected",
        "stale",
        "current",
        "unit",
        "capaian",
        "forecast",
        "last_update",
        "department",
    ] {
        assert!(ind.get(key).is_some(), "indicator missing {key}");
    }
    assert_eq!(ind["status"], "no_data");
    for key in [
        "id", "name", "status", "progress", "expected", "stale", "counts",
    ] {
        assert!(p["programs"][0].get(key).is_some(), "program missing {key}");
    }

    let (_, f) = app.get("/api/v1/progress?dimension=environment").await;
    assert_eq!(f["indicators"].as_array().unwrap().len(), 1);
    assert_eq!(f["dimensions"].as_array().unwrap().len(), 1);
    let (_, f) = app.get("/api/v1/progress?quick_win=true").await;
    assert!(
        f["indicators"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["quick_win"] == true)
    );
    assert_eq!(f["programs"].as_array().unwrap().len(), 1);
    let (_, f) = app.get("/api/v1/progress?department=dlh").await;
    assert_eq!(f["indicators"].as_array().unwrap().len(), 1);

    let (s, e) = app.get("/api/v1/progress?dimension=space").await;
    assert_eq!(s, 400);
    assert_eq!(e["error"]["parameter"], "dimension");
    let (s, e) = app.get("/api/v1/progress?quick_win=maybe").await;
    assert_eq!(
        (s, e["error"]["parameter"].as_str()),
        (400, Some("quick_win"))
    );
    let (s, e) = app.get("/api/v1/progress?colour=red").await;
    assert_eq!((s, e["error"]["parameter"].as_str()), (400, Some("colour")));
    let (s, e) = app.get("/api/v1/indicators/no.such").await;
    assert_eq!(s, 404);
    assert_eq!(e["error"]["code"], "not_found");
    let (s, _) = app.get("/api/v1/indicators/no.such/series").await;
    assert_eq!(s, 404);
    let (s, e) = app
        .get("/api/v1/indicators/env.air.ispu/series?from=yesterday")
        .await;
    assert_eq!((s, e["error"]["parameter"].as_str()), (400, Some("from")));
    let (s, _) = app.get("/api/v1/nothing-here").await;
    assert_eq!(s, 404);

    let (s, d) = app.get("/api/v1/indicators/env.air.ispu").await;
    assert_eq!(s, 200);
    assert_eq!(d["indicator"]["direction"], "maintain");
    assert_eq!(d["trajectory"].as_array().unwrap().len(), 2);

    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "pantau_writer_queue_depth",
        "pantau_writer_commits_total",
        "pantau_observations_stored",
        "pantau_http_requests_total{route=\"/api/v1/progress\",status=\"200\"}",
        "pantau_http_requests_total{route=\"/api/v1/progress\",status=\"400\"}",
    ] {
        assert!(metrics.contains(name), "missing {name} in\n{metrics}");
    }
    app.stop().await;
}

#[test]
fn run_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), PLAN, "");
    let mut child = pantau()
        .arg("run")
        .arg("--config")
        .arg(&cfg)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut reader = std::io::BufReader::new(stderr);
    let mut line = String::new();
    use std::io::BufRead;
    let addr = loop {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "daemon exited early"
        );
        if let Some(rest) = line.split("open http://").nth(1) {
            break rest.trim().trim_end_matches('/').to_string();
        }
    };
    std::net::TcpStream::connect(&addr).expect("the daemon listens");
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    std::thread::spawn(move || {
        let mut sink = String::new();
        while reader.read_line(&mut sink).unwrap_or(0) > 0 {}
    });
    let code = child.wait().unwrap();
    assert!(code.success(), "exit status {code:?}");
}

#[tokio::test]
async fn roll_up_sparklines_follow_the_observations_week_by_week() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), PLAN, "");
    let file = dir.path().join("recent.csv");
    std::fs::write(
        &file,
        format!(
            "indicator,time,value\nliving.health.coverage,{},50\nliving.health.coverage,{},65\n",
            jakarta_date(70),
            jakarta_date(14)
        ),
    )
    .unwrap();
    let out = pantau()
        .arg("--config")
        .arg(&cfg)
        .arg("import")
        .arg("--create")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let app = start_in(dir, cfg, Default::default()).await;
    let (_, p) = app.get("/api/v1/progress").await;
    let prog = p["programs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "living.health")
        .unwrap()
        .clone();
    let spark: Vec<f64> = prog["sparkline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    // Weekly instants from 25 weeks ago to now: none has data before 70 days ago; from then the
    // only indicator with data is coverage (B 40, T 90): 50 -> p 0.2, and 65 -> p 0.5 from 14 days ago.
    let mut expected = vec![0.2; 8];
    expected.extend([0.5; 3]);
    assert_eq!(spark.len(), expected.len(), "{spark:?}");
    for (a, b) in spark.iter().zip(&expected) {
        assert!((a - b).abs() < 1e-9, "{spark:?}");
    }
    assert_eq!(p["masterplan"]["sparkline"].as_array().unwrap().len(), 11);
    app.stop().await;
}

#[test]
fn a_second_daemon_on_the_same_database_is_refused_naming_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), PLAN, "");
    let first = Daemon::start(&cfg);
    let second = Daemon::try_start(&cfg, &[], &[]);
    let log = match second {
        Ok(d) => panic!("a second daemon started on the same database:\n{}", d.log()),
        Err(log) => log,
    };
    let db = dir.path().join("pantau.db");
    assert!(log.contains(&db.display().to_string()), "{log}");
    assert!(log.contains("already served"), "{log}");
    assert!(
        log.contains(&format!("pid {}", first.child.id())),
        "names the one serving it: {log}"
    );
    assert!(log.contains(&first.addr), "{log}");
    // The first one still serves.
    assert_eq!(first.healthz(), Some(200));
    // Once it is gone, the database can be served again (a killed daemon leaves no stale lock).
    first.kill();
    let again = Daemon::start(&cfg);
    again.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_and_a_revocation_beside_a_running_daemon_reach_it() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), PLAN, "");
    let daemon = Daemon::start(&cfg);
    let db = dir.path().join("pantau.db");
    let token = {
        let conn = pantau::store::open_writer(&db).unwrap();
        let d = pantau::domain::DepartmentId::parse("dinkes").unwrap();
        pantau::store::tokens::create(&conn, &d, "beside").unwrap()
    };
    let mut ws = connect(&format!("ws://{}/api/v1/live", daemon.addr)).await;
    let snap = next_json(&mut ws, 5).await;
    assert_eq!(snap["type"], "snapshot");

    let file = dir.path().join("rows.csv");
    std::fs::write(
        &file,
        "indicator,time,value\nliving.health.coverage,2025-06-30,77.5\n",
    )
    .unwrap();
    let out = tokio::task::spawn_blocking({
        let (cfg, file) = (cfg.clone(), file.clone());
        move || {
            pantau()
                .arg("--config")
                .arg(&cfg)
                .arg("import")
                .arg(&file)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&db.display().to_string()) && stderr.contains("served by"),
        "the import says which database and that a daemon serves it: {stderr}"
    );
    // The committed import reaches the screen: the daemon notices another process's commit.
    let committed = std::time::Instant::now();
    let delta = loop {
        let m = next_json(&mut ws, 5).await;
        if m["type"] == "delta" {
            break m;
        }
    };
    let seen_after = committed.elapsed();
    let ind = delta["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "living.health.coverage")
        .expect("the imported indicator");
    assert_eq!(ind["current"], json!(77.5));
    assert!(
        seen_after < std::time::Duration::from_secs(2),
        "the import reached the screen after {seen_after:?}"
    );
    let client = reqwest::Client::new();
    let progress: Value = client
        .get(format!("{}/api/v1/progress", daemon.base()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let coverage = progress["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "living.health.coverage")
        .unwrap();
    assert_eq!(coverage["current"], json!(77.5));

    // A token revoked from the command line stops working on the running daemon.
    let post = |tok: String| {
        let client = client.clone();
        let url = format!("{}/api/v1/observations", daemon.base());
        async move {
            client
                .post(url)
                .bearer_auth(tok)
                .json(&json!({"observations": [{"indicator": "living.health.coverage", "time": "2025-07-01", "value": 78.0}]}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(post(token.1.clone()).await, 200);
    let out = pantau()
        .arg("--config")
        .arg(&cfg)
        .args(["token", "revoke", &token.0.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(post(token.1.clone()).await, 401);
    // Revoking it again says so.
    let out = pantau()
        .arg("--config")
        .arg(&cfg)
        .args(["token", "revoke", &token.0.to_string()])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("already revoked"));
    daemon.kill();
}

#[test]
fn commands_take_a_config_folder_and_refuse_a_database_that_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), PLAN, "");
    let folder = dir.path().to_str().unwrap();
    let out = pantau_output(&["--config", folder, "check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = dir.path().join("rows.csv");
    std::fs::write(
        &file,
        "indicator,time,value\nliving.health.coverage,2025-06-30,70\n",
    )
    .unwrap();
    let typo = dir.path().join("pantua.db");
    let copy = dir.path().join("copy.db");
    let report = dir.path().join("laporan.xlsx");
    let (typo_s, copy_s, report_s) = (
        typo.to_str().unwrap(),
        copy.to_str().unwrap(),
        report.to_str().unwrap(),
    );
    for args in [
        vec!["import", file.to_str().unwrap(), "--db", typo_s],
        vec!["token", "create", "dinkes", "--db", typo_s],
        vec!["token", "list", "--db", typo_s],
        vec!["token", "revoke", "1", "--db", typo_s],
        vec!["export", "--db", typo_s],
        vec!["backup", copy_s, "--db", typo_s],
        vec![
            "report", "--year", "2027", "--out", report_s, "--db", typo_s,
        ],
        vec!["report", "--year", "2027", "--out", "-", "--db", typo_s],
    ] {
        let mut full = vec!["--config", folder];
        full.extend(args.iter().copied());
        let out = pantau_output(&full);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{args:?} succeeded on a missing database"
        );
        assert!(
            err.contains(&typo.display().to_string()) && err.contains("no database"),
            "{args:?}: {err}"
        );
        assert!(!typo.exists(), "{args:?} made a new empty database");
        assert!(!copy.exists(), "{args:?} wrote a backup of nothing");
        assert!(!report.exists(), "{args:?} wrote a report of nothing");
    }
    // With --create it is made, and the command says which database it used.
    let out = pantau_output(&[
        "--config",
        folder,
        "import",
        file.to_str().unwrap(),
        "--db",
        typo.to_str().unwrap(),
        "--create",
    ]);
    assert!(out.status.success());
    let named = format!("pantau: database {}", typo.display());
    assert!(String::from_utf8_lossy(&out.stderr).contains(&named));
    // Once it exists, every command that touches it says which database it is.
    for args in [
        vec!["token", "create", "dinkes", "--db", typo_s],
        vec!["token", "list", "--db", typo_s],
        vec!["token", "revoke", "1", "--db", typo_s],
        vec!["export", "--db", typo_s],
        vec!["backup", copy_s, "--db", typo_s],
        vec![
            "report", "--year", "2027", "--out", report_s, "--db", typo_s,
        ],
    ] {
        let mut full = vec!["--config", folder];
        full.extend(args.iter().copied());
        let out = pantau_output(&full);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {err}");
        assert!(
            err.contains(&named),
            "{args:?} does not say which database: {err}"
        );
    }
    assert!(copy.exists() && report.exists());
    let list = pantau_output(&["--config", folder, "token", "list", "--db", typo_s]);
    assert!(String::from_utf8_lossy(&list.stdout).contains("revoked"));
}
