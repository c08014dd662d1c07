//! pantau under faults and abuse: SIGKILL during sustained posting, online backups and exports
//! while the daemon writes, a full disk, oversized headers, bodies and websocket messages, slow
//! clients trickling headers, token guessing, and paths that try to leave the dashboards folder.
//!
//! Every check is about what a user would notice: an acknowledged value is never lost, the
//! database stays intact, the daemon keeps serving others, and refusals are clear.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use rusqlite::Connection;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
[[program]]
id = "living.health"
dimension = "living"
name = "Mojokerto Sehat"
department = "dinkes"
quick_win = true
start = 2020-01-01
due = 2030-12-31
[[indicator]]
id = "living.health.visits"
program = "living.health"
name = "Kunjungan puskesmas"
unit = "orang"
direction = "increase"
baseline = { date = 2020-01-01, value = 0.0 }
targets = [{ date = 2030-12-31, value = 1000000000.0 }]
update_every = "1d"
[[indicator]]
id = "living.health.stunting"
program = "living.health"
name = "Prevalensi stunting"
unit = "persen"
direction = "decrease"
baseline = { date = 2020-01-01, value = 30.0 }
targets = [{ date = 2030-12-31, value = 14.0 }]
update_every = "1mo"
"#;

const INDICATORS: [&str; 2] = ["living.health.visits", "living.health.stunting"];

/// Milliseconds of 2021-01-01T00:00:00Z: every posted time is this plus whole seconds.
const BASE_MS: i64 = 1_609_459_200_000;

// ---------------------------------------------------------------------------------------------
// Helpers

/// A small xorshift generator: enough randomness for kill moments and batch sizes, and the seed
/// is printed so a failing run can be repeated with `PANTAU_FAULT_SEED`.
struct Rng(u64);

impl Rng {
    fn from_env() -> Rng {
        let seed = std::env::var("PANTAU_FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        println!("fault seed: {seed} (repeat with PANTAU_FAULT_SEED={seed})");
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One posted row: (indicator, time in ms, value).
type Row = (String, i64, f64);

fn batch_body(rows: &[Row]) -> Value {
    json!({ "observations": rows.iter().map(|(i, t, v)| json!({"indicator": i, "time": rfc3339(*t), "value": v})).collect::<Vec<_>>() })
}

/// What the posters saw: batches answered 200, and batches whose fate is unknown (connection
/// cut by the kill) or refused.
#[derive(Default)]
struct Ledger {
    acked: Vec<Vec<Row>>,
    unknown: Vec<Vec<Row>>,
    statuses: BTreeMap<u16, usize>,
}

fn integrity(conn: &Connection) -> String {
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// What is stored, from SQLite (checked with `integrity_check` first) or PostgreSQL.
fn stored_in(
    db: &Path,
    cluster: Option<&common::postgres::Cluster>,
) -> HashMap<(String, i64), f64> {
    let Some(cluster) = cluster else {
        let conn = open_ro(db);
        assert_eq!(integrity(&conn), "ok");
        return stored(&conn);
    };
    cluster
        .query("postgres", "SELECT indicator, t, value FROM observation")
        .iter()
        .map(|r| {
            let mut cols = r.split('|');
            let (i, t, v) = (
                cols.next().unwrap(),
                cols.next().unwrap(),
                cols.next().unwrap(),
            );
            ((i.to_string(), t.parse().unwrap()), v.parse().unwrap())
        })
        .collect()
}

fn stored(conn: &Connection) -> HashMap<(String, i64), f64> {
    let mut stmt = conn
        .prepare("SELECT indicator, t, value FROM observation")
        .unwrap();
    stmt.query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Checks that every acknowledged row is stored with its value, and that every batch is stored
/// whole or not at all. Returns the number of acknowledged rows checked.
fn check_ledger(stored: &HashMap<(String, i64), f64>, ledger: &Ledger, what: &str) -> usize {
    let mut checked = 0;
    for batch in &ledger.acked {
        for (i, t, v) in batch {
            match stored.get(&(i.clone(), *t)) {
                Some(s) if s == v => checked += 1,
                Some(s) => panic!("{what}: acknowledged {i} at {t} = {v}, stored {s}"),
                None => panic!("{what}: acknowledged {i} at {t} = {v} is missing"),
            }
        }
    }
    for batch in ledger.acked.iter().chain(&ledger.unknown) {
        let present = batch
            .iter()
            .filter(|(i, t, _)| stored.contains_key(&(i.clone(), *t)))
            .count();
        assert!(
            present == 0 || present == batch.len(),
            "{what}: a batch of {} rows is stored in part ({present} rows): batches are all or nothing",
            batch.len()
        );
    }
    checked
}

/// Posts batches of 1-4 rows with distinct times until `stop` is set, recording each answer.
async fn poster(
    base: String,
    token: String,
    id: i64,
    ledger: Arc<Mutex<Ledger>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    seq: Arc<std::sync::atomic::AtomicI64>,
) {
    use std::sync::atomic::Ordering;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut n: i64 = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let k = seq.fetch_add(1, Ordering::Relaxed);
        let size = 1 + (k % 4) as usize;
        let rows: Vec<Row> = (0..size)
            .map(|j| {
                let ind = INDICATORS[j % 2].to_string();
                let t = BASE_MS + (k * 8 + j as i64) * 1000;
                (ind, t, (id * 1_000_000 + n) as f64 + j as f64 / 8.0)
            })
            .collect();
        let r = client
            .post(format!("{base}/api/v1/observations"))
            .bearer_auth(&token)
            .json(&batch_body(&rows))
            .send()
            .await;
        let status = match r {
            Ok(r) => {
                let s = r.status().as_u16();
                // The answer counts only once its body arrived whole.
                match r.text().await {
                    Ok(_) => Some(s),
                    Err(_) => None,
                }
            }
            Err(_) => None,
        };
        let cut_off = {
            let mut l = ledger.lock().unwrap();
            *l.statuses.entry(status.unwrap_or(0)).or_default() += 1;
            if status == Some(200) {
                l.acked.push(rows);
            } else {
                l.unknown.push(rows);
            }
            status.is_none()
        };
        if cut_off {
            // The daemon is gone or restarting: do not spin.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

fn settings_with(extra: &str) -> String {
    format!("rate_limit_per_minute = 100000000\n{extra}")
}

/// Sends `request` on a fresh connection and reads until the server closes it (or `wait`
/// passes). Returns the status code, if a response came, and everything read.
async fn raw(addr: &str, request: &[u8], wait: Duration) -> (Option<u16>, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(request).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, async {
        let mut buf = [0u8; 8192];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok());
    (status, text)
}

// ---------------------------------------------------------------------------------------------
// 1. Crash safety

on_both_backends!(multi_thread: sigkill_during_sustained_posting_loses_nothing_acknowledged);

/// SIGKILL at random moments while four clients of a department post without pause, for 24
/// cycles: after each restart every acknowledged value is still there, no batch is stored in
/// part, and (SQLite) `PRAGMA integrity_check` is ok.
async fn sigkill_during_sustained_posting_loses_nothing_acknowledged(backend: Backend) {
    use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
    const CYCLES: usize = 24;
    const POSTERS: i64 = 4;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let Some(storage) = Storage::new(backend, dir.path()) else {
        return;
    };
    let config = write_config_on(dir.path(), PLAN, &settings_with(""), &storage.settings);
    let cluster = storage.cluster.as_deref();
    let db = dir.path().join("pantau.db");
    let token = match cluster {
        None => department_token(&db, "dinkes"),
        Some(_) => {
            let c = pantau::config::Config::load(Some(&config)).unwrap();
            let d = pantau::domain::DepartmentId::parse("dinkes").unwrap();
            pantau::store::postgres::create_token_blocking(
                &c.settings.postgres.unwrap(),
                &d,
                "faults",
            )
            .unwrap()
            .1
        }
    };
    let mut rng = Rng::from_env();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let seq = Arc::new(AtomicI64::new(0));
    let started = Instant::now();
    let mut acked_per_cycle = Vec::new();
    for cycle in 0..CYCLES {
        let daemon = Daemon::start(&config);
        let base = format!("http://{}", daemon.addr);
        let stop = Arc::new(AtomicBool::new(false));
        let before = ledger.lock().unwrap().acked.len();
        let mut tasks = Vec::new();
        for p in 0..POSTERS {
            tasks.push(tokio::spawn(poster(
                base.clone(),
                token.clone(),
                p + 1,
                ledger.clone(),
                stop.clone(),
                seq.clone(),
            )));
        }
        // Most kills land in full flow; every few cycles one lands right after start-up.
        let wait = if cycle % 6 == 5 {
            rng.below(60)
        } else {
            150 + rng.below(550)
        };
        tokio::time::sleep(Duration::from_millis(wait)).await;
        tokio::task::spawn_blocking(move || daemon.kill())
            .await
            .unwrap();
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await.unwrap();
        }
        acked_per_cycle.push(ledger.lock().unwrap().acked.len() - before);
        // What was acknowledged so far is on disk, whatever the kill interrupted.
        check_ledger(
            &stored_in(&db, cluster),
            &ledger.lock().unwrap(),
            &format!("cycle {cycle}"),
        );
    }
    // A last clean start: the daemon serves what survived every kill.
    let daemon = Daemon::start(&config);
    let client = reqwest::Client::new();
    let mut served = 0;
    for ind in INDICATORS {
        let r: Value = client
            .get(format!(
                "http://{}/api/v1/indicators/{ind}/series",
                daemon.addr
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        served += r["points"].as_array().unwrap().len();
    }
    daemon.kill();
    let all = stored_in(&db, cluster);
    let l = ledger.lock().unwrap();
    let checked = check_ledger(&all, &l, "at the end");
    assert_eq!(
        served,
        all.len(),
        "the restarted daemon serves every stored row"
    );
    println!(
        "{backend:?}: {CYCLES} SIGKILL cycles in {:.1} s: {} batches / {checked} rows acknowledged and found, {} batches cut off ({} of their rows stored), answers {:?}, acknowledged per cycle {acked_per_cycle:?}",
        started.elapsed().as_secs_f64(),
        l.acked.len(),
        l.unknown.len(),
        all.len() - checked,
        l.statuses
    );
    assert!(
        checked >= 500,
        "only {checked} rows were acknowledged: the test did not put the daemon under load"
    );
    let cycles_with_acks = acked_per_cycle.iter().filter(|n| **n > 0).count();
    assert!(
        cycles_with_acks >= CYCLES * 2 / 3,
        "too few cycles acknowledged anything: {acked_per_cycle:?}"
    );
    assert!(
        l.unknown.len() >= CYCLES / 2,
        "the kills should cut off posts in flight; cut off: {}",
        l.unknown.len()
    );
}

// ---------------------------------------------------------------------------------------------
// 7. Backups and exports while the daemon writes

/// `pantau backup` while two clients post without pause: the copy passes `integrity_check` and
/// holds everything acknowledged before the backup started. `pantau export` then writes exactly
/// the stored rows as CSV, notes with commas, quotes and line breaks included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_and_export_while_the_daemon_writes() {
    use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
    let app = spawn_app_with(PLAN, &settings_with("")).await;
    let token = app.token("dinkes");
    // History with notes that need CSV quoting, so the export is not trivially simple.
    let notes = [
        "biasa",
        "koma, dan \"kutip\"",
        "baris\nbaru",
        "titik;koma",
        "unicode: ±µ",
    ];
    let rows: Vec<Value> = (0..2000)
        .map(|k| {
            json!({"indicator": INDICATORS[k % 2], "time": rfc3339(BASE_MS - 86_400_000 * 30 + k as i64 * 60_000),
                   "value": k as f64 * 0.25, "note": notes[k % notes.len()]})
        })
        .collect();
    let (s, body) = app
        .post_json(
            "/api/v1/observations",
            Some(&token),
            &json!({ "observations": rows }),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let seq = Arc::new(AtomicI64::new(0));
    let writers: Vec<_> = (0..2)
        .map(|p| {
            tokio::spawn(poster(
                app.base.clone(),
                token.clone(),
                p + 1,
                ledger.clone(),
                stop.clone(),
                seq.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut backups = Vec::new();
    for round in 0..3 {
        // Acknowledged before the backup starts: must be in the copy.
        let before: Vec<Vec<Row>> = ledger.lock().unwrap().acked.clone();
        let copy = app.dir.path().join(format!("copy-{round}.db"));
        let (cfg, c2) = (app.config_path.clone(), copy.clone());
        let out = tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_pantau"))
                .arg("backup")
                .arg(&c2)
                .arg("--config")
                .arg(&cfg)
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "backup failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("integrity_check: ok"), "{stdout}");
        let conn = open_ro(&copy);
        assert_eq!(integrity(&conn), "ok");
        let in_copy = stored(&conn);
        let snapshot = Ledger {
            acked: before,
            ..Default::default()
        };
        let checked = check_ledger(&in_copy, &snapshot, "backup copy");
        backups.push((checked, in_copy.len()));
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    // Writing went on during the backups.
    let acked_during = ledger.lock().unwrap().acked.len();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    assert!(acked_during > 20, "posting stalled during the backups");
    // A backup never overwrites an existing file.
    let out = Command::new(env!("CARGO_BIN_EXE_pantau"))
        .arg("backup")
        .arg(app.dir.path().join("copy-0.db"))
        .arg("--config")
        .arg(&app.config_path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));

    // Export: the CSV holds exactly the stored rows.
    let csv_path = app.dir.path().join("export.csv");
    let out = Command::new(env!("CARGO_BIN_EXE_pantau"))
        .arg("export")
        .arg(&csv_path)
        .arg("--config")
        .arg(&app.config_path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let conn = open_ro(&app.db);
    let mut stmt = conn
        .prepare("SELECT indicator, t, value, source, department, note FROM observation")
        .unwrap();
    let mut in_db: Vec<(String, i64, f64, String, String, String)> = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                r.get::<_, Option<String>>(5)?.unwrap_or_default(),
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut reader = csv::Reader::from_path(&csv_path).unwrap();
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "indicator",
            "time",
            "value",
            "source",
            "department",
            "note",
            "received"
        ]
    );
    let mut exported: Vec<(String, i64, f64, String, String, String)> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let t = chrono::DateTime::parse_from_rfc3339(&r[1])
                .unwrap_or_else(|e| panic!("time `{}` is not RFC 3339: {e}", &r[1]))
                .timestamp_millis();
            assert!(r[1].ends_with("+07:00"), "times are in the city's zone");
            (
                r[0].to_string(),
                t,
                r[2].parse::<f64>().unwrap(),
                r[3].to_string(),
                r[4].to_string(),
                r[5].to_string(),
            )
        })
        .collect();
    let key = |a: &(String, i64, f64, String, String, String)| (a.0.clone(), a.1);
    in_db.sort_by_key(key);
    exported.sort_by_key(key);
    assert_eq!(exported.len(), in_db.len());
    assert_eq!(exported, in_db, "the export differs from the database");
    for ind in INDICATORS {
        let per = exported.iter().filter(|r| r.0 == ind).count();
        assert!(per > 1000, "{ind}: only {per} rows exported");
    }
    // `export -` writes the same CSV to standard output.
    let out = Command::new(env!("CARGO_BIN_EXE_pantau"))
        .arg("export")
        .arg("-")
        .arg("--config")
        .arg(&app.config_path)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, std::fs::read(&csv_path).unwrap());
    println!(
        "backups while writing (acknowledged rows checked, rows in copy): {backups:?}; {acked_during} batches acknowledged meanwhile; export: {} rows equal to the database",
        exported.len()
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 8. A full disk

/// A small ext4 filesystem on a loop device, unmounted when dropped.
struct LoopDisk {
    mount: PathBuf,
    _dir: tempfile::TempDir,
}

impl LoopDisk {
    /// Creates and mounts a `mib` MiB ext4 filesystem, or says precisely why it cannot.
    fn new(mib: u64) -> Result<LoopDisk, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let image = dir.path().join("disk.img");
        let mount = dir.path().join("mnt");
        std::fs::create_dir(&mount).map_err(|e| e.to_string())?;
        std::fs::File::create(&image)
            .and_then(|f| f.set_len(mib * 1024 * 1024))
            .map_err(|e| format!("cannot create the disk image: {e}"))?;
        let run = |cmd: &mut Command| -> Result<(), String> {
            let shown = format!("{cmd:?}");
            let out = cmd
                .output()
                .map_err(|e| format!("cannot run {shown}: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "{shown} failed ({}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ))
            }
        };
        // -m 0: no blocks reserved for root, so the filler really fills the disk.
        run(Command::new("mkfs.ext4")
            .args(["-q", "-F", "-m", "0"])
            .arg(&image))?;
        run(Command::new("mount")
            .args(["-o", "loop"])
            .arg(&image)
            .arg(&mount))?;
        Ok(LoopDisk { mount, _dir: dir })
    }
}

impl Drop for LoopDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
    }
}

/// Writes a filler file until the filesystem has no space left, then gives back `spare` bytes;
/// returns the filler's size.
fn fill(path: &Path, spare: u64) -> u64 {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let mut total = 0u64;
    for chunk in [256 * 1024, 4096, 512] {
        let buf = vec![0xA5u8; chunk];
        while f.write_all(&buf).is_ok() {
            total += chunk as u64;
        }
    }
    let _ = f.sync_all();
    let total = total.saturating_sub(spare);
    f.set_len(total).unwrap();
    f.sync_all().unwrap();
    total
}

/// On a full disk posts get 503 with a message saying what to do, reads go on, nothing
/// acknowledged is lost, and once space is freed posts succeed again without a restart.
///
/// Needs root and loop devices (`mount -o loop`), as on the development machines and CI; where
/// they are missing the test fails and says why, rather than passing without checking anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_gives_503_and_the_daemon_recovers_by_itself() {
    let disk = LoopDisk::new(8).unwrap_or_else(|e| {
        panic!(
            "this test needs root and a loop-mounted ext4 filesystem, and could not make one: {e}"
        )
    });
    let dir = tempfile::tempdir_in(&disk.mount).unwrap();
    let config = write_config(dir.path(), PLAN, &settings_with(""));
    let app = start_in(dir, config, pantau::app::RunOptions::default()).await;
    let token = app.token("dinkes");
    let mut ledger = Ledger::default();
    let mut k: i64 = 0;
    let mut next_batch = |n: usize| -> Vec<Row> {
        (0..n)
            .map(|j| {
                k += 1;
                (
                    INDICATORS[j % 2].to_string(),
                    BASE_MS + k * 1000,
                    k as f64 + 0.5,
                )
            })
            .collect()
    };
    let post = |rows: Vec<Row>| {
        let app = &app;
        let token = token.clone();
        async move {
            let (s, body) = app
                .post_json("/api/v1/observations", Some(&token), &batch_body(&rows))
                .await;
            (s, body, rows)
        }
    };
    for _ in 0..20 {
        let (s, body, rows) = post(next_batch(20)).await;
        assert_eq!(s, 200, "{body}");
        ledger.acked.push(rows);
    }
    let filler = disk.mount.join("filler");
    // A little room is left, so that the disk fills up while posts are being committed.
    let filled = fill(&filler, 384 * 1024);
    assert!(filled > 1024 * 1024, "the filler wrote only {filled} bytes");

    // Post until the disk refuses.
    let acked_before_full = ledger.acked.len();
    let mut refused: Option<Value> = None;
    for _ in 0..400 {
        let (s, body, rows) = post(next_batch(200)).await;
        match s {
            200 => ledger.acked.push(rows),
            503 => {
                ledger.unknown.push(rows);
                refused = Some(body);
                break;
            }
            other => panic!("a post on a full disk answered {other}: {body}"),
        }
    }
    let refused = refused.expect("posts on a full disk were never refused with 503");
    let acked_while_filling = ledger.acked.len() - acked_before_full;
    assert!(
        acked_while_filling > 0,
        "the spare room should take a few posts before the disk is full"
    );
    assert_eq!(refused["error"]["code"], "unavailable", "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("free disk space") && message.contains("nothing was stored"),
        "the 503 message should say what happened and what to do: {message}"
    );
    // It stays refused while full, with 503 each time, and reads go on.
    for _ in 0..5 {
        let (s, body, rows) = post(next_batch(50)).await;
        assert_eq!(s, 503, "{body}");
        ledger.unknown.push(rows);
    }
    let (s, _) = app.get("/api/v1/progress").await;
    assert_eq!(s, 200, "reads must go on while the disk is full");
    let (s, health) = app.get("/healthz").await;
    assert_eq!(s, 200, "{health}");

    // Space comes back: posts succeed again, without a restart.
    std::fs::remove_file(&filler).unwrap();
    let freed_at = Instant::now();
    let mut recovered = false;
    while freed_at.elapsed() < Duration::from_secs(10) {
        let (s, body, rows) = post(next_batch(20)).await;
        match s {
            200 => {
                ledger.acked.push(rows);
                recovered = true;
                break;
            }
            503 => {
                ledger.unknown.push(rows);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => panic!("after freeing space a post answered {other}: {body}"),
        }
    }
    assert!(
        recovered,
        "posts still fail 10 s after disk space was freed: the writer did not recover"
    );
    for _ in 0..10 {
        let (s, body, rows) = post(next_batch(20)).await;
        assert_eq!(s, 200, "{body}");
        ledger.acked.push(rows);
    }
    let (dir, config) = app.stop().await;
    let db = dir.path().join("pantau.db");
    let conn = open_ro(&db);
    assert_eq!(integrity(&conn), "ok");
    let checked = check_ledger(&stored(&conn), &ledger, "after the disk filled up");
    drop(conn);
    // And the daemon starts again on it.
    let app = start_in(dir, config, pantau::app::RunOptions::default()).await;
    let (s, series) = app
        .get("/api/v1/indicators/living.health.visits/series")
        .await;
    assert_eq!(s, 200);
    assert!(series["points"].as_array().unwrap().len() * 2 >= checked);
    println!(
        "full disk: filler {filled} bytes; {acked_while_filling} batches of 200 rows acknowledged while the disk filled up; {} batches / {checked} rows acknowledged and found; recovered {:.2} s after space was freed",
        ledger.acked.len(),
        freed_at.elapsed().as_secs_f64()
    );
    app.stop().await;
    drop(disk);
}

// ---------------------------------------------------------------------------------------------
// 6. Abuse

/// An address that keeps failing to authenticate is refused with 429 before its tokens are even
/// checked, so a guess that happens to be right is not confirmed to a guesser; it may try again
/// after `Retry-After`.
#[tokio::test]
async fn token_guessing_is_locked_out_even_when_a_guess_is_right() {
    let app = spawn_app_with(PLAN, "rate_limit_per_minute = 60").await;
    let token = app.token("dinkes");
    let row = |k: i64| batch_body(&[(INDICATORS[0].to_string(), BASE_MS + k * 1000, 1.0)]);
    let (s, body) = app
        .post_json("/api/v1/observations", Some(&token), &row(1))
        .await;
    assert_eq!(s, 200, "{body}");
    // Every way of failing counts: no header, another scheme, malformed and unknown tokens.
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for i in 0..80 {
        let mut req = app
            .client
            .post(app.url("/api/v1/observations"))
            .json(&row(100 + i));
        req = match i % 4 {
            0 => req,
            1 => req.header("authorization", format!("Basic {i}")),
            2 => req.bearer_auth(format!("x{i}")),
            _ => req.bearer_auth(format!("pantau_1_{i:048x}")),
        };
        let r = req.send().await.unwrap();
        if r.status() == 429 {
            retry_after = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
        }
        statuses.push(r.status().as_u16());
    }
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert!(limited >= 15, "{statuses:?}");
    let retry_after = retry_after.expect("429 carries Retry-After");
    // The right token, from the guessing address, while it is locked out: 429, nothing stored.
    let (s, body) = app
        .post_json("/api/v1/observations", Some(&token), &row(2))
        .await;
    assert_eq!(
        s, 429,
        "a right token sent from an address that is guessing must not be confirmed: {body}"
    );
    let (_, series) = app
        .get("/api/v1/indicators/living.health.visits/series")
        .await;
    assert_eq!(series["points"].as_array().unwrap().len(), 1);
    // After the wait it works again.
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    let (s, body) = app
        .post_json("/api/v1/observations", Some(&token), &row(3))
        .await;
    assert_eq!(s, 200, "{body}");
    app.stop().await;
}

/// A 100 KiB header is refused (431 or a closed connection) while a 16 KiB one is served; a
/// chunked body past `max_body_bytes` and an oversized note get 413 with nothing stored; a
/// websocket message over 64 KiB closes that socket and no other.
#[tokio::test]
async fn oversized_headers_bodies_and_websocket_messages_are_refused() {
    let app = spawn_app_with(PLAN, "max_body_bytes = 4096").await;
    let token = app.token("dinkes");
    let addr = app.addr.to_string();
    let get = |header: usize| {
        format!(
            "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: {}\r\nConnection: close\r\n\r\n",
            "a".repeat(header)
        )
    };
    let (status, _) = raw(&addr, get(16 * 1024).as_bytes(), Duration::from_secs(5)).await;
    assert_eq!(status, Some(200), "a 16 KiB header is normal");
    let (status, text) = raw(&addr, get(100 * 1024).as_bytes(), Duration::from_secs(5)).await;
    assert!(
        status == Some(431) || status.is_none(),
        "a 100 KiB header must be refused: {}",
        &text[..text.len().min(200)]
    );

    // Chunked, so no Content-Length announces the size: the limit is enforced while reading.
    let rows: Vec<Row> = (0..200)
        .map(|k| (INDICATORS[0].to_string(), BASE_MS + k * 1000, k as f64))
        .collect();
    let body = serde_json::to_vec(&batch_body(&rows)).unwrap();
    assert!(body.len() > 4096);
    let mut req = format!(
        "POST /api/v1/observations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for chunk in body.chunks(1000) {
        req.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        req.extend_from_slice(chunk);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let (status, text) = raw(&addr, &req, Duration::from_secs(5)).await;
    assert_eq!(status, Some(413), "{text}");
    assert!(text.contains("payload_too_large"), "{text}");
    let note = json!({"kendala": "x".repeat(70 * 1024), "rencana_tindak_lanjut": "y"});
    let (s, body) = app
        .post_json(
            "/api/v1/indicators/living.health.visits/notes",
            Some(&token),
            &note,
        )
        .await;
    assert_eq!(s, 413, "{body}");
    let (_, series) = app
        .get("/api/v1/indicators/living.health.visits/series")
        .await;
    assert_eq!(series["points"], json!([]), "nothing was stored");
    let (_, ind) = app.get("/api/v1/indicators/living.health.visits").await;
    assert_eq!(ind["notes"], json!([]));

    // Websockets: a 100 KiB message closes that socket; the neighbour keeps its updates.
    let mut big = connect(&app.ws_url("")).await;
    let mut neighbour = connect(&app.ws_url("")).await;
    assert_eq!(next_json(&mut big, 5).await["type"], "snapshot");
    assert_eq!(next_json(&mut neighbour, 5).await["type"], "snapshot");
    use tokio_tungstenite::tungstenite::Message;
    big.send(Message::text("x".repeat(100 * 1024)))
        .await
        .unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match big.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return true,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert_eq!(
        closed,
        Ok(true),
        "the socket that sent 100 KiB must be closed"
    );
    neighbour
        .send(Message::text("a small message is fine"))
        .await
        .unwrap();
    let (s, body) = app
        .post_json(
            "/api/v1/observations",
            Some(&token),
            &batch_body(&[(INDICATORS[0].to_string(), BASE_MS, 5.0)]),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let delta = next_json(&mut neighbour, 5).await;
    assert_eq!(delta["type"], "delta", "{delta}");
    app.stop().await;
}

/// An unlabelled metric read from `/metrics` on a connection of its own, which is counted
/// among the connections it reports.
async fn connection_metric(addr: &str, name: &str) -> f64 {
    let (s, text) = raw(
        addr,
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(s, Some(200), "{text}");
    metric(&text, name).unwrap_or_else(|| panic!("no {name} in /metrics: {text}"))
}

/// 200 connections that trickle a header byte every 400 ms, 50 that send nothing, and 30 that
/// send one request and then stay silent, do not keep a normal client waiting; each is closed
/// once `header_read_timeout` (2 s here) passes without a complete request head.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_cannot_exhaust_connections() {
    const TRICKLERS: usize = 200;
    const SILENT: usize = 50;
    const IDLE: usize = 30;
    const ALL: usize = TRICKLERS + SILENT + IDLE;
    // The deadline starts when the daemon accepts a connection. Connections that arrive faster
    // than it accepts wait in the kernel's accept queue (`net.core.somaxconn`: 4096 on recent
    // kernels, 128 on older ones), and one that overflows it is accepted only when the kernel
    // sends its SYN-ACK again (after 1, 3, 7, 15 s, ...), while the client already counts it as
    // open; one that sends nothing meanwhile looked open for 20 s on a loaded CI machine. So the
    // slow clients connect in waves, each accepted (as `/metrics` counts) before the next.
    const WAVE: usize = 10;
    let app = spawn_app_with(PLAN, "header_read_timeout = \"2s\"").await;
    let addr = app.addr.to_string();
    // Each read is on a connection of its own, which the count includes.
    let accepted = |addr: String| async move {
        connection_metric(&addr, "pantau_http_connections_accepted_total").await as usize
    };
    let mut reads = 0;
    let before = accepted(addr.clone()).await;
    let started = Instant::now();
    let mut slow = Vec::new();
    for wave in (0..ALL).step_by(WAVE).map(|w| w..(w + WAVE).min(ALL)) {
        let (connected_tx, mut connected) = tokio::sync::mpsc::channel::<()>(WAVE);
        for i in wave.clone() {
            let addr = addr.clone();
            let connected_tx = connected_tx.clone();
            slow.push(tokio::spawn(async move {
                let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
                let opened = Instant::now();
                let _ = connected_tx.send(()).await;
                if i >= TRICKLERS + SILENT {
                    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
                }
                let head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
                let mut sent = 0;
                let mut buf = [0u8; 1024];
                let mut answer = Vec::new();
                // A generous bound for "closed at all": without the deadline a connection
                // stays open for ever, so the bound only has to end the test; the lower bound
                // below checks that nothing closes before the deadline.
                let deadline = tokio::time::sleep(Duration::from_secs(20));
                tokio::pin!(deadline);
                let mut tick = tokio::time::interval(Duration::from_millis(400));
                loop {
                    tokio::select! {
                        r = s.read(&mut buf) => match r {
                            Ok(0) | Err(_) => return (opened.elapsed(), true, answer),
                            Ok(n) => answer.extend_from_slice(&buf[..n]),
                        },
                        _ = tick.tick(), if i < TRICKLERS => {
                            if s.write_all(&head[sent % head.len()..sent % head.len() + 1]).await.is_err() {
                                return (opened.elapsed(), true, answer);
                            }
                            sent += 1;
                        }
                        _ = &mut deadline => return (opened.elapsed(), false, answer),
                    }
                }
            }));
        }
        for _ in wave.clone() {
            connected.recv().await;
        }
        let waited = Instant::now();
        loop {
            let now = accepted(addr.clone()).await;
            reads += 1;
            // Each read after the first counts its own connection.
            if now >= before + reads + wave.end {
                break;
            }
            assert!(
                waited.elapsed() < Duration::from_secs(10),
                "the daemon accepted {} of the first {} slow connections in 10 s",
                now.saturating_sub(before + reads),
                wave.end
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Meanwhile a normal client is served at once, again and again.
    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let t = Instant::now();
        let r = tokio::time::timeout(
            Duration::from_secs(2),
            app.client.get(app.url("/healthz")).send(),
        )
        .await
        .expect("a normal client is served while slow clients hold connections")
        .unwrap();
        assert_eq!(r.status(), 200);
        slowest = slowest.max(t.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        slowest < Duration::from_secs(1),
        "slowest normal request {slowest:?}"
    );
    let mut lifetimes = Vec::new();
    for (i, h) in slow.into_iter().enumerate() {
        let (lived, closed, answer) = h.await.unwrap();
        let kind = match i {
            i if i < TRICKLERS => "trickling",
            i if i < TRICKLERS + SILENT => "silent",
            _ => "idle after one request",
        };
        assert!(
            closed,
            "a {kind} connection was still open after {lived:?}: the header deadline is not enforced"
        );
        assert!(
            lived >= Duration::from_millis(1500),
            "a {kind} connection was closed after {lived:?}, before the 2 s deadline"
        );
        let answer = String::from_utf8_lossy(&answer);
        assert_eq!(
            answer.matches("200 OK").count(),
            usize::from(i >= TRICKLERS + SILENT),
            "a {kind} connection got: {answer}"
        );
        lifetimes.push(lived);
    }
    lifetimes.sort();
    println!(
        "{TRICKLERS} trickling + {SILENT} silent + {IDLE} idle connections closed after {:?}..{:?}; slowest normal request {slowest:?}; total {:?}",
        lifetimes[0],
        lifetimes[lifetimes.len() - 1],
        started.elapsed()
    );
    // The daemon counts them closed: what is open is this read's own connection and at most
    // the normal client's kept-alive one.
    let open = connection_metric(&addr, "pantau_http_connections_open").await;
    assert!((1.0..=2.0).contains(&open), "{open} connections open");
    // And the daemon is still fine afterwards.
    let (s, _) = app.get("/healthz").await;
    assert_eq!(s, 200);
    app.stop().await;
}

/// Requests that try to leave the dashboards folder get 404, never a file's contents: with the
/// embedded dashboards and with `--dashboards DIR` (where a secret file sits beside the folder).
#[tokio::test]
async fn paths_outside_the_dashboards_are_refused() {
    let cargo_toml =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    assert!(cargo_toml.contains("[package]"));
    let attempts = [
        "/assets/../Cargo.toml",
        "/assets/%2e%2e/Cargo.toml",
        "/assets/%2E%2E/%2E%2E/Cargo.toml",
        "/assets/..%2fCargo.toml",
        "/assets/%2e%2e%2fCargo.toml",
        "/assets/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/assets/../secret.txt",
        "/assets/js/../../secret.txt",
        "/assets/..%5csecret.txt",
        "/assets/%5c..%5csecret.txt",
        "/assets/..\\secret.txt",
        "/assets//etc/passwd",
        "/assets/%2fetc%2fpasswd",
        "/assets/%2Fetc%2Fpasswd",
        "/assets/.%2e/secret.txt",
        "/assets/%252e%252e/secret.txt",
        "/assets/./../secret.txt",
        "/assets/.hidden",
        "/assets/secret.txt%00.css",
        "/assets/%c0%ae%c0%ae/secret.txt",
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/assets/",
        "/assets",
    ];
    let holder = tempfile::tempdir().unwrap();
    let dashboards = holder.path().join("dashboards");
    std::fs::create_dir(&dashboards).unwrap();
    std::fs::create_dir(dashboards.join("js")).unwrap();
    std::fs::write(dashboards.join("js/app.js"), "console.log('ok');").unwrap();
    std::fs::write(dashboards.join(".hidden"), "HIDDEN-CONTENT").unwrap();
    std::fs::write(holder.path().join("secret.txt"), "SECRET-CONTENT").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), PLAN, "");
    let from_dir = start_in(
        dir,
        config,
        pantau::app::RunOptions {
            dashboards_dir: Some(dashboards.clone()),
            heartbeat: None,
            lock: None,
        },
    )
    .await;
    let embedded = spawn_app_with(PLAN, "").await;
    // The folder itself is served, so a refusal below is about the path, not a missing file.
    let (status, text) = raw(
        &from_dir.addr.to_string(),
        b"GET /assets/js/app.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(status, Some(200), "{text}");
    assert!(text.contains("console.log"));
    for app in [&from_dir, &embedded] {
        for path in attempts {
            let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let (status, text) = raw(
                &app.addr.to_string(),
                req.as_bytes(),
                Duration::from_secs(5),
            )
            .await;
            assert!(
                matches!(status, Some(400) | Some(404)),
                "{path}: answered {status:?}: {text}"
            );
            for leak in ["SECRET-CONTENT", "HIDDEN-CONTENT", "[package]", "root:x:0"] {
                assert!(!text.contains(leak), "{path} leaked {leak}: {text}");
            }
        }
        // Department pages take any id and serve the one page; never a file named by the id.
        for path in [
            "/department/..%2f..%2fsecret.txt",
            "/department/%2e%2e%2fCargo.toml",
        ] {
            let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let (_, text) = raw(
                &app.addr.to_string(),
                req.as_bytes(),
                Duration::from_secs(5),
            )
            .await;
            for leak in ["SECRET-CONTENT", "[package]"] {
                assert!(!text.contains(leak), "{path} leaked {leak}: {text}");
            }
        }
    }
    from_dir.stop().await;
    embedded.stop().await;
}

/// `pantau export - | head -1`: the reader goes away after the first line of a large export;
/// the export ends quietly (no error, no panic), as `cat` would.
#[test]
fn export_into_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::write_config(dir.path(), &common::example_masterplan(), "");
    // 20,000 rows, one a minute back from now: an export far larger than a pipe's buffer.
    let now = chrono::Utc::now().timestamp_millis();
    let mut csv = String::from("indicator,time,value,note\n");
    for k in 1..=20_000i64 {
        let t = chrono::DateTime::from_timestamp_millis(now - k * 60_000).unwrap();
        csv.push_str(&format!(
            "living.health.stunting,{},{}.5,catatan puskesmas {k}\n",
            t.to_rfc3339(),
            k % 20
        ));
    }
    let file = dir.path().join("rows.csv");
    std::fs::write(&file, csv).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pantau"))
        .args(["import", "--create"])
        .arg(&file)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pantau"))
        .args(["export", "-"])
        .arg("--config")
        .arg(&config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        !said.contains("error") && !said.contains("pipe") && !said.contains("panicked"),
        "export into a closed pipe said: {said}"
    );
    assert!(
        out.status.success()
            || std::os::unix::process::ExitStatusExt::signal(&out.status) == Some(13),
        "{:?}",
        out.status
    );
}
