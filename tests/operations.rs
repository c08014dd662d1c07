//! pantau as an operator runs it, against the real binary: scheduled backups while departments
//! post (rotated, checked, holding what was acknowledged), a backup folder that cannot be
//! written (the wall and `/healthz` say so), `pantau restore` (refused beside a daemon, the
//! replaced database kept with its WAL), systemd's readiness, watchdog, reload and stop
//! notifications, JSON and colourless logs, `--version`, the packaged configuration, the alert
//! rules' metric names, and a database made by an earlier release opened by this one.

mod common;

use common::*;
use rusqlite::Connection;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PLAN: &str = common::VISITS_PLAN;

const INDICATOR: &str = "living.health.visits";

/// Milliseconds of 2021-01-01T00:00:00Z: posted times are this plus whole seconds.
const BASE_MS: i64 = 1_609_459_200_000;

/// A folder with PLAN and settings whose rate limit never gets in the way, `extra` in `[server]`
/// (or after it, when it opens another table).
fn operations_config(extra: &str) -> (tempfile::TempDir, PathBuf) {
    config_dir(PLAN, &format!("rate_limit_per_minute = 100000000\n{extra}"))
}

async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    let r = client.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.unwrap()
}

fn millis_of(time: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(time.as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn stored_times(conn: &Connection) -> HashSet<i64> {
    let mut stmt = conn
        .prepare("SELECT t FROM observation WHERE indicator = ?1")
        .unwrap();
    stmt.query_map([INDICATOR], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Waits until the daemon answers `/healthz` (its database exists from then on).
fn serving(daemon: &Daemon) {
    let start = Instant::now();
    while daemon.healthz() != Some(200) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "not serving: {}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Posts one row at a time (time `BASE_MS + k s`) until `stop`, recording for each acknowledged
/// row when its answer arrived (wall clock, ms).
async fn poster(
    base: String,
    token: String,
    acked: Arc<Mutex<Vec<(i64, i64)>>>,
    stop: Arc<AtomicBool>,
) {
    let client = client(Duration::from_secs(10));
    let mut k: i64 = 0;
    while !stop.load(Ordering::Relaxed) {
        k += 1;
        let t = BASE_MS + k * 1000;
        let body = json!({"observations": [{"indicator": INDICATOR, "time": rfc3339(t), "value": k as f64}]});
        let r = client
            .post(format!("{base}/api/v1/observations"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
        acked.lock().unwrap().push((t, now_ms()));
    }
}

fn backup_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("pantau-") && n.ends_with(".db"))
        .collect();
    names.sort();
    names
}

// ---------------------------------------------------------------------------------------------
// Scheduled backups

/// Backups every 2 s, 2 kept, while a department posts without pause: each backup passes
/// `integrity_check`, is one self-contained file, holds every row acknowledged before it
/// started, and only the newest two are kept; `/healthz` and `/metrics` say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_backups_while_departments_post() {
    let (dir, config) =
        operations_config("[storage.backup]\nevery = \"2s\"\nkeep = 2\ndir = \"cadangan\"\n");
    let daemon = Daemon::start(&config);
    serving(&daemon);
    let base = daemon.base();
    let token = cli_token(&config, "dinkes");
    let client = client(Duration::from_secs(10));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let posting = tokio::spawn(poster(base.clone(), token, acked.clone(), stop.clone()));

    let backups = dir.path().join("cadangan");
    let kept = dir.path().join("kept");
    std::fs::create_dir(&kept).unwrap();
    let mut seen: Vec<(String, i64, PathBuf)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(40);
    while seen.len() < 4 {
        assert!(
            Instant::now() < deadline,
            "only {} backups in 40 s: {}",
            seen.len(),
            daemon.log()
        );
        let health = get_json(&client, &format!("{base}/healthz")).await;
        let b = &health["backup"];
        assert_eq!(b["every_seconds"], 2);
        assert_eq!(b["keep"], 2);
        if let Some(file) = b["last"]["file"].as_str() {
            assert_eq!(b["last"]["ok"], true, "{b}");
            if seen.iter().all(|(f, _, _)| f != file) {
                // Copied at once: rotation removes it two backups later.
                let copy = kept.join(Path::new(file).file_name().unwrap());
                std::fs::copy(file, &copy).unwrap();
                assert_eq!(
                    b["last"]["bytes"].as_u64().unwrap(),
                    std::fs::metadata(&copy).unwrap().len()
                );
                seen.push((file.to_string(), millis_of(&b["last"]["time"]), copy));
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    posting.await.unwrap();
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 50, "posting stalled: {} rows", acked.len());

    let mut held = Vec::new();
    for (file, started, copy) in &seen {
        assert!(file.starts_with(backups.to_str().unwrap()), "{file}");
        let name = Path::new(file).file_name().unwrap().to_string_lossy();
        // pantau-YYYYMMDDTHHMMSS.db: seconds in the name, since backups come every 2 s.
        assert_eq!(name.len(), "pantau-20261201T030000.db".len(), "{name}");
        let conn = open_ro(copy);
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok", "{name}");
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            mode, "delete",
            "{name} must be one file, not a WAL database"
        );
        let times = stored_times(&conn);
        let before: Vec<i64> = acked
            .iter()
            .filter(|(_, at)| at < started)
            .map(|(t, _)| *t)
            .collect();
        for t in &before {
            assert!(
                times.contains(t),
                "{name}: the row at {t} was acknowledged before the backup started and is missing"
            );
        }
        held.push((name.to_string(), before.len(), times.len()));
    }
    assert!(
        held.windows(2).all(|w| w[0].2 <= w[1].2) && held.last().unwrap().1 > 0,
        "later backups hold more: {held:?}"
    );

    // Rotation: the newest two, whatever moment we look at.
    let names = backup_names(&backups);
    assert_eq!(names.len(), 2, "{names:?}");
    let health = get_json(&client, &format!("{base}/healthz")).await;
    let b = &health["backup"];
    assert_eq!(b["files"], 2, "{b}");
    assert!(b["successes_total"].as_u64().unwrap() >= 4, "{b}");
    assert_eq!(b["failures_total"], 0, "{b}");
    assert!(b["last_success"]["file"].is_string(), "{b}");
    // The body is the one docs/openapi.yaml documents (BackupHealth, BackupRun).
    let spec: Value =
        serde_norway::from_str(&std::fs::read_to_string(repo("docs/openapi.yaml")).unwrap())
            .unwrap();
    let keys = |v: &Value| -> BTreeSet<String> { v.as_object().unwrap().keys().cloned().collect() };
    let schemas = &spec["components"]["schemas"];
    for (body, schema) in [(b, "BackupHealth"), (&b["last"], "BackupRun")] {
        assert_eq!(keys(body), keys(&schemas[schema]["properties"]), "{schema}");
        let required: BTreeSet<String> = schemas[schema]["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_string())
            .collect();
        assert_eq!(keys(body), required, "{schema}");
    }
    assert!(keys(&health).contains("backup") && keys(&health).contains("commit"));
    assert_eq!(
        keys(&health),
        keys(&schemas["Health"]["properties"]),
        "Health"
    );
    let m = metrics(&client, &base).await;
    let last = metric(&m, "pantau_backup_last_success_timestamp_seconds").unwrap();
    assert!((last - now_ms() as f64 / 1000.0).abs() < 30.0, "{m}");
    assert!(metric(&m, "pantau_backup_successes_total").unwrap() >= 4.0);
    assert_eq!(metric(&m, "pantau_backup_failures_total"), Some(0.0));
    assert_eq!(metric(&m, "pantau_backup_files"), Some(2.0));
    assert_eq!(metric(&m, "pantau_backup_interval_seconds"), Some(2.0));
    assert_eq!(metric(&m, "pantau_backup_last_ok"), Some(1.0));
    assert!(metric(&m, "pantau_backup_last_size_bytes").unwrap() > 0.0);
    println!("backups while posting (file, rows acknowledged before it, rows in it): {held:?}");
}

/// A backup folder that cannot be made: the wall gets `backup_failed` naming the problem,
/// `/healthz` and `/metrics` show the failure, nothing is written; once the folder can be made
/// the next try succeeds and the wall gets `backup_ok`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_folder_that_cannot_be_written_is_reported_on_the_wall() {
    // A regular file where the folder's parent should be: even root cannot make it.
    let (dir, config) = operations_config(
        "[storage.backup]\nevery = \"2s\"\nkeep = 2\ndir = \"blocked/backups\"\n",
    );
    let blocked = dir.path().join("blocked");
    std::fs::write(&blocked, "a file, not a folder").unwrap();
    let daemon = Daemon::start(&config);
    let base = daemon.base();
    let client = client(Duration::from_secs(10));
    // The first backup is tried as soon as the daemon serves: resuming from seq 0 replays
    // everything the wall was told since the start, that first failure included.
    let health = get_json(&client, &format!("{base}/healthz")).await;
    let epoch = health["epoch"].as_str().unwrap();
    let mut ws = connect(&format!(
        "ws://{}/api/v1/live?since=0&epoch={epoch}",
        daemon.addr
    ))
    .await;
    let event = loop {
        let m = next_json(&mut ws, 15).await;
        if m["type"] == "event" {
            break m;
        }
    };
    assert_eq!(event["kind"], "backup_failed", "{event}");
    assert_eq!(event["item_type"], "backup");
    let message = event["message"].as_str().unwrap();
    assert!(
        message.contains("cannot create the backup folder") && message.contains("blocked"),
        "{message}"
    );
    let health = get_json(&client, &format!("{base}/healthz")).await;
    let b = &health["backup"];
    assert_eq!(b["last"]["ok"], false, "{b}");
    assert!(b["last"]["file"].is_null());
    assert!(
        b["last"]["error"]
            .as_str()
            .unwrap()
            .contains("[storage.backup] dir")
    );
    assert!(b["failures_total"].as_u64().unwrap() >= 1);
    assert!(b["last_success"].is_null());
    let m = metrics(&client, &base).await;
    assert!(metric(&m, "pantau_backup_failures_total").unwrap() >= 1.0);
    assert_eq!(metric(&m, "pantau_backup_last_ok"), Some(0.0));
    assert_eq!(
        metric(&m, "pantau_backup_last_success_timestamp_seconds"),
        Some(0.0)
    );
    // The daemon serves on.
    assert_eq!(daemon.healthz(), Some(200));
    let start = Instant::now();
    while !daemon.log().contains("backup failed") {
        assert!(start.elapsed() < Duration::from_secs(5), "{}", daemon.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    std::fs::remove_file(&blocked).unwrap();
    let event = loop {
        let m = next_json(&mut ws, 15).await;
        if m["type"] == "event" {
            break m;
        }
    };
    assert_eq!(event["kind"], "backup_ok", "{event}");
    assert_eq!(backup_names(&blocked.join("backups")).len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Restore

async fn post_rows(base: &str, token: &str, from: i64, n: i64) {
    let rows: Vec<Value> = (from..from + n)
        .map(|k| json!({"indicator": INDICATOR, "time": rfc3339(BASE_MS + k * 1000), "value": k as f64}))
        .collect();
    let r = client(Duration::from_secs(10))
        .post(format!("{base}/api/v1/observations"))
        .bearer_auth(token)
        .json(&json!({ "observations": rows }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

async fn series_len(base: &str) -> usize {
    let v = get_json(
        &client(Duration::from_secs(10)),
        &format!("{base}/api/v1/indicators/{INDICATOR}/series"),
    )
    .await;
    v["points"].as_array().unwrap().len()
}

/// `pantau restore` beside a running daemon is refused and changes nothing; once the daemon is
/// gone (killed, so its last commits are still in the WAL) the backup replaces the database,
/// the replaced one is kept with those commits, and a daemon started again serves the backup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_is_refused_beside_a_daemon_and_keeps_the_replaced_database() {
    let (dir, config) = operations_config("");
    let db = dir.path().join("pantau.db");
    let daemon = Daemon::start(&config);
    serving(&daemon);
    let base = daemon.base();
    let token = cli_token(&config, "dinkes");
    post_rows(&base, &token, 0, 300).await;
    let backup = dir.path().join("sebelum.db");
    let out = pantau()
        .arg("backup")
        .arg(&backup)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    post_rows(&base, &token, 300, 200).await;
    assert_eq!(series_len(&base).await, 500);

    let out = pantau()
        .arg("restore")
        .arg(&backup)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("is served by pantau (pid")
            && err.contains(&daemon.child.id().to_string())
            && err.contains("stop that daemon first"),
        "{err}"
    );
    assert_eq!(
        series_len(&base).await,
        500,
        "the refused restore changed data"
    );

    // Killed: nothing checkpointed the last commits out of the WAL.
    daemon.kill();
    let wal = dir.path().join("pantau.db-wal");
    assert!(
        std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) > 0,
        "the test needs commits in the WAL"
    );
    let out = pantau()
        .arg("restore")
        .arg(&backup)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains(&format!(
            "schema version {}, 300 observations",
            pantau::store::SCHEMA_VERSION
        )),
        "{said}"
    );
    let aside: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("pantau.db.replaced-")
        })
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    let aside = &aside[0];
    assert!(said.contains(&aside.display().to_string()), "{said}");
    // The replaced database holds every commit, the ones that were only in its WAL included,
    // as one file: no WAL is left beside the restored database to be mistaken for its own.
    let kept = stored_times(&open_ro(aside));
    assert_eq!(kept.len(), 500);
    assert!(!wal.exists(), "a WAL beside the restored database");
    assert_eq!(stored_times(&open_ro(&db)).len(), 300);

    let daemon = Daemon::start(&config);
    assert_eq!(series_len(&daemon.base()).await, 300);
    let v = get_json(
        &client(Duration::from_secs(10)),
        &format!("{}/api/v1/indicators/{INDICATOR}/series", daemon.base()),
    )
    .await;
    let values: Vec<f64> = v["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_f64().unwrap())
        .collect();
    assert_eq!(values, (0..300).map(|k| k as f64).collect::<Vec<_>>());

    // A backup from a newer pantau is refused before anything changes.
    let newer = dir.path().join("newer.db");
    std::fs::copy(&backup, &newer).unwrap();
    Connection::open(&newer)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    drop(daemon);
    let out = pantau()
        .arg("restore")
        .arg(&newer)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("newer pantau (schema version 99") && err.contains("nothing was changed"),
        "{err}"
    );
    assert_eq!(stored_times(&open_ro(&db)).len(), 300);
}

// ---------------------------------------------------------------------------------------------
// systemd

/// Under `Type=notify`: READY=1 once `/healthz` answers, WATCHDOG=1 at half of WATCHDOG_USEC,
/// RELOADING=1 (with MONOTONIC_USEC) and READY=1 around a SIGHUP reload, STOPPING=1 on SIGTERM.
#[test]
fn systemd_hears_ready_watchdog_reloading_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    let (dir, config) = operations_config("");
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut daemon = Daemon::start_with(
        &config,
        &[],
        &[
            ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "400000"),
        ],
    );
    let mut buf = [0u8; 4096];
    let mut next = || -> String {
        let n = socket.recv(&mut buf).expect("a notification in time");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let mut messages = Vec::new();
    let ready = loop {
        let m = next();
        messages.push(m.clone());
        if m.lines().any(|l| l == "READY=1") {
            break m;
        }
    };
    assert!(ready.contains("STATUS=serving on http://"), "{ready}");
    assert_eq!(daemon.healthz(), Some(200), "READY=1 came before serving");
    // Pings at half the interval: about 5 in 1 s.
    let started = Instant::now();
    let mut pings = 0;
    while started.elapsed() < Duration::from_secs(1) {
        if next().lines().any(|l| l == "WATCHDOG=1") {
            pings += 1;
        }
    }
    assert!((3..=8).contains(&pings), "{pings} watchdog pings in 1 s");

    daemon.signal("HUP");
    let reloading = loop {
        let m = next();
        if m.contains("RELOADING=1") {
            break m;
        }
    };
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    let ready = loop {
        let m = next();
        if m.lines().any(|l| l == "READY=1") {
            break m;
        }
    };
    assert!(ready.contains("configuration reloaded"), "{ready}");

    daemon.signal("TERM");
    let stopping = loop {
        let m = next();
        if m.contains("STOPPING=1") {
            break m;
        }
    };
    assert!(stopping.contains("STATUS=stopping"), "{stopping}");
    let status = daemon.wait_exit(Duration::from_secs(20)).expect("exits");
    assert!(status.success());
    println!("first notifications: {messages:?}; {pings} watchdog pings in 1 s");
}

/// Without NOTIFY_SOCKET (not under systemd) nothing is sent and nothing complains.
#[test]
fn outside_systemd_nothing_is_notified() {
    let (_dir, config) = operations_config("");
    let mut daemon = Daemon::start_with(&config, &[], &[("PANTAU_LOG", "info")]);
    assert_eq!(daemon.healthz(), Some(200));
    daemon.signal("TERM");
    assert!(daemon.wait_exit(Duration::from_secs(20)).unwrap().success());
    assert!(!daemon.log().contains("NOTIFY_SOCKET"), "{}", daemon.log());
}

// ---------------------------------------------------------------------------------------------
// Logs

/// `PANTAU_LOG_FORMAT=json`: every line on standard error is one JSON object with a timestamp,
/// a level and a message, the start-up notices and a fatal error included; the `open http://`
/// notice carries the address as a field.
#[test]
fn json_logs_are_one_object_per_line() {
    let (_dir, config) = operations_config("");
    let env = [("PANTAU_LOG_FORMAT", "json"), ("PANTAU_LOG", "info")];
    let mut daemon = Daemon::start_with(&config, &[], &env);
    assert_eq!(daemon.healthz(), Some(200));
    // A second daemon on the same database fails at start: its error is JSON too.
    let second = pantau()
        .args(["run", "--config"])
        .arg(&config)
        .envs(env)
        .output()
        .unwrap();
    assert!(!second.status.success());
    daemon.signal("HUP");
    std::thread::sleep(Duration::from_millis(500));
    daemon.signal("TERM");
    assert!(daemon.wait_exit(Duration::from_secs(20)).unwrap().success());

    let parse = |text: &str, what: &str| -> Vec<Value> {
        text.lines()
            .map(|l| {
                serde_json::from_str::<Value>(l)
                    .unwrap_or_else(|e| panic!("{what}: not a JSON line ({e}): {l}"))
            })
            .collect()
    };
    let lines = parse(&daemon.log(), "daemon");
    for l in &lines {
        assert!(l["timestamp"].is_string(), "{l}");
        assert!(l["level"].is_string(), "{l}");
        assert!(l["message"].is_string(), "{l}");
    }
    let find = |m: &str| {
        lines
            .iter()
            .find(|l| l["message"].as_str().unwrap().contains(m))
            .unwrap_or_else(|| panic!("no `{m}` in {lines:?}"))
    };
    assert_eq!(
        find("open http://")["address"],
        format!("http://{}/", daemon.addr)
    );
    assert!(find("pantau: database")["database"].is_string());
    assert_eq!(find("serving")["addr"], daemon.addr);
    assert_eq!(find("configuration reloaded")["level"], "INFO");
    find("stopped");
    let errors = parse(&String::from_utf8_lossy(&second.stderr), "second daemon");
    let fatal = errors.last().unwrap();
    assert_eq!(fatal["level"], "ERROR");
    assert!(
        fatal["message"]
            .as_str()
            .unwrap()
            .contains("is already served by"),
        "{fatal}"
    );
}

/// Text logs into a pipe (as under systemd or a log shipper) carry no ANSI colour codes.
#[test]
fn text_logs_into_a_pipe_have_no_colour_codes() {
    let (dir, config) = operations_config("");
    let mut daemon = Daemon::start_with(&config, &[], &[("PANTAU_LOG", "info")]);
    serving(&daemon);
    // A refused reload logs an error (levels are what colouring would paint).
    std::fs::write(
        dir.path().join("masterplan.toml"),
        "[[dimension]]\nid = 1\n",
    )
    .unwrap();
    daemon.signal("HUP");
    std::thread::sleep(Duration::from_millis(500));
    daemon.signal("TERM");
    assert!(daemon.wait_exit(Duration::from_secs(20)).unwrap().success());
    let log = daemon.log();
    assert!(log.contains("INFO") && log.contains("ERROR"), "{log}");
    assert!(log.contains("reload refused"), "{log}");
    assert!(!log.contains("\x1b["), "ANSI codes in a pipe: {log:?}");
}

/// A misspelt log format is refused at start, naming the variable and the choices.
#[test]
fn an_unknown_log_format_is_refused() {
    let out = pantau()
        .arg("check")
        .env("PANTAU_LOG_FORMAT", "xml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("PANTAU_LOG_FORMAT=`xml`") && err.contains("json"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// Version

/// `pantau --version` names the release and the commit it was built from.
#[test]
fn version_names_the_release_and_the_commit() {
    let out = pantau_output(&["--version"]);
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stdout);
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    assert_eq!(
        said.trim(),
        format!("pantau {} (commit {commit})", env!("CARGO_PKG_VERSION"))
    );
}

// ---------------------------------------------------------------------------------------------
// The package's configuration and the alert rules

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The packaged pantau.toml is the example city's, with the database under /var/lib/pantau,
/// loopback on 8080 and daily backups, and `pantau check` accepts it beside the packaged plan.
#[test]
fn the_packaged_configuration_is_the_example_city_for_a_server() {
    let packaged: toml::Table =
        toml::from_str(&std::fs::read_to_string(repo("packaging/pantau.toml")).unwrap()).unwrap();
    let example: toml::Table =
        toml::from_str(&std::fs::read_to_string(repo("config/pantau.toml")).unwrap()).unwrap();
    assert_eq!(
        packaged["storage"]["database"].as_str(),
        Some("/var/lib/pantau/pantau.db")
    );
    assert_eq!(
        packaged["server"]["listen"].as_str(),
        Some("127.0.0.1:8080")
    );
    let backup = &packaged["storage"]["backup"];
    assert_eq!(backup["every"].as_str(), Some("1d"));
    assert_eq!(backup["keep"].as_integer(), Some(14));
    assert_eq!(backup["dir"].as_str(), Some("/var/lib/pantau/backups"));
    // Every other setting as in the example.
    for (section, value) in &example {
        match value {
            toml::Value::Table(t) => {
                for (key, v) in t {
                    if (section, key.as_str()) == (&"storage".to_string(), "database") {
                        continue;
                    }
                    assert_eq!(
                        packaged[section.as_str()].get(key),
                        Some(v),
                        "[{section}] {key}"
                    );
                }
            }
            v => assert_eq!(packaged.get(section), Some(v), "{section}"),
        }
    }
    let etc = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo("packaging/pantau.toml"),
        etc.path().join("pantau.toml"),
    )
    .unwrap();
    std::fs::copy(
        repo("config/masterplan.toml"),
        etc.path().join("masterplan.toml"),
    )
    .unwrap();
    std::fs::copy(repo("config/screens.toml"), etc.path().join("screens.toml")).unwrap();
    let out = pantau()
        .arg("check")
        .arg("--config")
        .arg(etc.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every metric the example alert rules (docs/alerts.yml) use is one pantau exports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alert_rules_use_metrics_pantau_exports() {
    let (_dir, config) = operations_config("[storage.backup]\nevery = \"1d\"\n");
    let daemon = Daemon::start(&config);
    let text = metrics(&client(Duration::from_secs(10)), &daemon.base()).await;
    let exported: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    let rules = std::fs::read_to_string(repo("docs/alerts.yml")).unwrap();
    let mut used = BTreeSet::new();
    let mut rest = rules.as_str();
    while let Some(i) = rest.find("pantau_") {
        let name: String = rest[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[i + name.len()..];
        used.insert(name);
    }
    assert!(used.len() >= 5, "{used:?}");
    for name in &used {
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|b| exported.contains(*b))
            .unwrap_or(name);
        assert!(
            exported.contains(base),
            "docs/alerts.yml uses {name}, which /metrics does not export; exported: {exported:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Upgrades

/// A row of the listing committed beside the fixture (`pantau export` of it when it was made).
#[derive(Debug, Clone, PartialEq)]
struct Listed {
    time: i64,
    value: f64,
    source: String,
    department: String,
    note: String,
}

fn fixture(path: &str) -> PathBuf {
    repo("tests/fixtures/v2").join(path)
}

/// The database made by release 0.1.0 (schema version 2, tests/fixtures/v2) opened by this
/// build, through a copy: every observation reads back as listed, with its revisions, notes,
/// tokens (a fixture token still writes, the revoked one does not) and feed runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_from_release_0_1_0_reads_back_whole() {
    let original = std::fs::read(fixture("pantau.db")).unwrap();
    let facts: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("facts.json")).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for f in ["pantau.toml", "pantau.db"] {
        std::fs::copy(fixture(f), dir.path().join(f)).unwrap();
    }
    // The plan as it was, except that its feed, whose upstream is gone, does not poll at start
    // (a failed poll would replace the last run this test reads).
    let plan = std::fs::read_to_string(fixture("masterplan.toml")).unwrap();
    assert!(plan.contains("run_at_start = true"));
    std::fs::write(
        dir.path().join("masterplan.toml"),
        plan.replace("run_at_start = true", "run_at_start = false"),
    )
    .unwrap();
    let config = dir.path().join("pantau.toml");
    let mut listed: BTreeMap<String, Vec<Listed>> = BTreeMap::new();
    let mut reader = csv::Reader::from_path(fixture("observations.csv")).unwrap();
    for r in reader.records() {
        let r = r.unwrap();
        listed.entry(r[0].to_string()).or_default().push(Listed {
            time: chrono::DateTime::parse_from_rfc3339(&r[1])
                .unwrap()
                .timestamp_millis(),
            value: r[2].parse().unwrap(),
            source: r[3].to_string(),
            department: r[4].to_string(),
            note: r[5].to_string(),
        });
    }
    let total: usize = listed.values().map(Vec::len).sum();
    assert_eq!(total as u64, facts["observations"].as_u64().unwrap());
    assert!(total > 2000, "the fixture should hold a few thousand rows");

    let daemon = Daemon::start_with(&config, &[], &[]);
    let base = daemon.base();
    let client = client(Duration::from_secs(10));
    let feeds = get_json(&client, &format!("{base}/api/v1/feeds")).await;
    let plan: Value = get_json(&client, &format!("{base}/api/v1/masterplan")).await;
    let mut read_back = 0;
    for ind in plan["indicators"].as_array().unwrap() {
        let id = ind["id"].as_str().unwrap();
        let v = get_json(&client, &format!("{base}/api/v1/indicators/{id}/series")).await;
        let got: Vec<Listed> = v["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| Listed {
                time: millis_of(&p["time"]),
                value: p["value"].as_f64().unwrap(),
                source: p["source"].as_str().unwrap().to_string(),
                department: p["department"].as_str().unwrap_or("").to_string(),
                note: p["note"].as_str().unwrap_or("").to_string(),
            })
            .collect();
        let want = listed.remove(id).unwrap_or_default();
        assert_eq!(got, want, "{id}: series differs from the listing");
        read_back += got.len();
    }
    assert!(
        listed.is_empty(),
        "listed but not in the plan: {:?}",
        listed.keys()
    );
    assert_eq!(read_back, total);

    // Revisions, notes, tokens and feed runs came along.
    let mut revisions = 0;
    for d in plan["departments"].as_array().unwrap() {
        let id = d["id"].as_str().unwrap();
        let v = get_json(
            &client,
            &format!("{base}/api/v1/departments/{id}/revisions?limit=1000"),
        )
        .await;
        revisions += v["revisions"].as_array().unwrap().len();
    }
    assert_eq!(revisions as u64, facts["revisions"].as_u64().unwrap());
    let noted = facts["note_indicator"].as_str().unwrap();
    let v = get_json(&client, &format!("{base}/api/v1/indicators/{noted}")).await;
    assert_eq!(
        v["notes"].as_array().unwrap().len() as u64,
        facts["notes_on_it"].as_u64().unwrap(),
        "{v}"
    );
    let feed = feeds["feeds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == facts["feed"])
        .unwrap_or_else(|| panic!("{feeds}"));
    assert!(feed["last_run"].is_object(), "{feed}");
    assert!(feed["last_success"].is_string(), "{feed}");
    let post = |token: String| {
        let client = client.clone();
        let url = format!("{base}/api/v1/observations");
        let indicator = facts["token_indicator"].as_str().unwrap().to_string();
        async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"observations": [{"indicator": indicator, "time": jakarta_date(0), "value": 1.0}]}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        post(facts["token"].as_str().unwrap().to_string()).await,
        200
    );
    assert_eq!(
        post(facts["revoked_token"].as_str().unwrap().to_string()).await,
        401
    );
    drop(daemon);

    let copy = open_ro(&dir.path().join("pantau.db"));
    let version: i64 = copy
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, pantau::store::SCHEMA_VERSION);
    let changes: i64 = copy
        .query_row("SELECT count(*) FROM change", [], |r| r.get(0))
        .unwrap();
    assert!(changes as u64 >= facts["changes"].as_u64().unwrap());
    assert_eq!(
        std::fs::read(fixture("pantau.db")).unwrap(),
        original,
        "the fixture itself must never be opened in place"
    );
}
