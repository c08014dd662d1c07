//! Several daemons on one PostgreSQL database, each against a throwaway cluster: a post on one
//! reaches the screens of the others; exactly one polls the feeds and another takes over
//! within 10 s when it is killed; posts get 503 while PostgreSQL is down and succeed after it
//! is back, without restarting pantau; a newer schema is refused and left untouched; the
//! password is never shown. The faults test: three daemons under sustained posts with random
//! SIGKILLs lose no acknowledged observation and store no batch in part.

mod common;

use common::postgres::Cluster;
use common::*;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
horizon = "medium"
start = 2023-01-01
due = 2027-12-31
[[program]]
id = "env.air"
dimension = "living"
name = "Udara Bersih"
department = "dlh"
horizon = "medium"
start = 2023-01-01
due = 2027-12-31
[[indicator]]
id = "living.health.visits"
program = "living.health"
name = "Kunjungan puskesmas"
unit = "orang"
direction = "increase"
baseline = { date = 2022-12-31, value = 0.0 }
targets = [{ date = 2027-12-31, value = 100000.0 }]
update_every = "1d"
[[indicator]]
id = "env.air.ispu"
program = "env.air"
name = "Rata-rata ISPU"
unit = "ISPU"
direction = "decrease"
baseline = { date = 2022-12-31, value = 80.0 }
targets = [{ date = 2027-12-31, value = 50.0 }]
update_every = "1d"
"#;

/// A feed polled every second from a port where nothing listens: every poll is recorded as a
/// failed run, by whichever daemon polled.
const FEED: &str = r#"
[[feed]]
id = "dlh-down"
department = "dlh"
url = "http://127.0.0.1:9/ispu.json"
format = "json"
schedule = "*/1 * * * * *"
timeout = "1s"
retries = 0
[feed.json]
points = [{ indicator = "env.air.ispu", value = "/v" }]
"#;

/// The settings of daemon `n` on `cluster` (a folder of its own, the same database).
fn daemon_config(
    root: &std::path::Path,
    n: usize,
    cluster: &Cluster,
    plan: &str,
) -> std::path::PathBuf {
    let dir = root.join(format!("d{n}"));
    std::fs::create_dir_all(&dir).unwrap();
    write_config_on(
        &dir,
        plan,
        "",
        &format!("url = \"{}\"", cluster.url("postgres")),
    )
}

fn token(config: &std::path::Path, department: &str) -> String {
    let config = pantau::config::Config::load(Some(config)).unwrap();
    let p = config.settings.postgres.expect("a PostgreSQL config");
    let d = pantau::domain::DepartmentId::parse(department).unwrap();
    pantau::store::postgres::create_token_blocking(&p, &d, "test")
        .unwrap()
        .1
}

async fn health(client: &reqwest::Client, base: &str) -> Option<Value> {
    let r = client
        .get(format!("{base}/healthz"))
        .timeout(Duration::from_secs(3))
        .send()
        .await
        .ok()?;
    r.json().await.ok()
}

/// Posts one batch; the status, or 0 when no answer came.
async fn post(client: &reqwest::Client, base: &str, token: &str, rows: &[(String, f64)]) -> u16 {
    let observations: Vec<Value> = rows
        .iter()
        .map(|(time, v)| json!({"indicator": "living.health.visits", "time": time, "value": v}))
        .collect();
    match client
        .post(format!("{base}/api/v1/observations"))
        .bearer_auth(token)
        .json(&json!({ "observations": observations }))
        .timeout(Duration::from_secs(10))
        .send()
        .await
    {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

/// The next delta on `ws` that carries `living.health.visits`, and that indicator in it.
async fn visits_delta(ws: &mut Ws) -> (Value, Value) {
    loop {
        let m = next_json(ws, 5).await;
        let ind = m["indicators"]
            .as_array()
            .and_then(|a| a.iter().find(|i| i["id"] == "living.health.visits"))
            .cloned();
        if let (true, Some(ind)) = (m["type"] == "delta", ind) {
            return (m, ind);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_daemons_share_one_database_and_one_of_them_polls() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let plan = format!("{PLAN}{FEED}");
    let configs: Vec<_> = (0..2)
        .map(|n| daemon_config(root.path(), n, &cluster, &plan))
        .collect();
    let mut daemons: Vec<Option<Daemon>> = configs.iter().map(|c| Some(Daemon::start(c))).collect();
    let client = reqwest::Client::new();
    let bases: Vec<String> = daemons.iter().map(|d| d.as_ref().unwrap().base()).collect();

    // Exactly one of them polls, both are connected.
    let deadline = Instant::now() + Duration::from_secs(10);
    let poller = loop {
        let mut polling = Vec::new();
        for (i, b) in bases.iter().enumerate() {
            let h = health(&client, b).await.unwrap();
            assert_eq!(h["storage"]["backend"], "postgres");
            if h["storage"]["polling"] == true {
                polling.push(i);
            }
            if h["storage"]["connected"] != true {
                polling.push(99);
            }
        }
        if polling.len() == 1 && polling[0] < 2 {
            break polling[0];
        }
        assert!(
            polling.len() <= 1 || polling.contains(&99),
            "two daemons poll at once: {polling:?}"
        );
        assert!(
            Instant::now() < deadline,
            "no daemon took the polling role: {polling:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let other = 1 - poller;

    // A post on one reaches the other's screen, and its reads.
    let mut ws = connect(&format!(
        "ws://{}/api/v1/live",
        daemons[other].as_ref().unwrap().addr
    ))
    .await;
    assert_eq!(next_json(&mut ws, 5).await["type"], "snapshot");
    let tok = token(&configs[0], "dinkes");
    let time = jakarta_date(1);
    assert_eq!(
        post(&client, &bases[poller], &tok, &[(time.clone(), 4321.0)]).await,
        200
    );
    let posted = Instant::now();
    let (_, ind) = visits_delta(&mut ws).await;
    assert_eq!(ind["current"], json!(4321.0));
    assert!(
        posted.elapsed() < Duration::from_secs(2),
        "the other daemon's screen saw the post after {:?}",
        posted.elapsed()
    );
    let series: Value = client
        .get(format!(
            "{}/api/v1/indicators/living.health.visits/series",
            bases[other]
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(series.to_string().contains("4321"), "{series}");

    // Feeds are polled by one daemon: never two runs of the same tick.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let twice = cluster.query(
        "postgres",
        "SELECT started / 1000 FROM feed_run GROUP BY started / 1000 HAVING count(*) > 1",
    );
    assert!(twice.is_empty(), "ticks polled twice: {twice:?}");
    let runs_before: i64 = cluster.query("postgres", "SELECT count(*) FROM feed_run")[0]
        .parse()
        .unwrap();
    assert!(runs_before >= 2, "the feed is polled ({runs_before} runs)");

    // The poller dies: the other takes over within 10 s and the polls go on.
    daemons[poller].take().unwrap().kill();
    let killed = Instant::now();
    loop {
        let h = health(&client, &bases[other]).await.unwrap();
        if h["storage"]["polling"] == true {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "no daemon polls 10 s after the poller died"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let took_over = killed.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let runs_after: i64 = cluster.query(
        "postgres",
        &format!(
            "SELECT count(*) FROM feed_run WHERE started > {}",
            chrono::Utc::now().timestamp_millis() - 3000
        ),
    )[0]
    .parse()
    .unwrap();
    assert!(
        runs_after >= 2,
        "polls went on after the takeover ({took_over:?}): {runs_after} runs in the last 3 s"
    );
    drop(daemons);
}

#[tokio::test]
async fn posts_get_503_while_postgres_is_down_and_succeed_after_without_a_restart() {
    let Some(app) = spawn_app_on(Backend::Postgres, PLAN, "").await else {
        return;
    };
    let cluster = app.cluster.clone().unwrap();
    let tok = app.token("dinkes");
    let body = |v: f64, day: i64| json!({"observations": [{"indicator": "living.health.visits", "time": jakarta_date(day), "value": v}]});
    let (s, _) = app
        .post_json("/api/v1/observations", Some(&tok), &body(1.0, 3))
        .await;
    assert_eq!(s, 200);
    let mut ws = connect(&app.ws_url("")).await;
    assert_eq!(next_json(&mut ws, 5).await["type"], "snapshot");

    cluster.stop();
    let (s, b) = app
        .post_json("/api/v1/observations", Some(&tok), &body(2.0, 2))
        .await;
    assert_eq!(s, 503, "{b}");
    assert_eq!(b["error"]["code"], "unavailable", "{b}");
    assert!(!b.to_string().contains(&cluster.password), "{b}");
    // The daemon itself still answers, and says its database is down.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (s, h) = app.get("/healthz").await;
        assert_eq!(s, 200);
        if h["storage"]["connected"] == false {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "healthz still says connected: {h}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    cluster.start_again();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (s, b) = app
            .post_json("/api/v1/observations", Some(&tok), &body(3.0, 1))
            .await;
        if s == 200 {
            assert_eq!(b["new"], 1, "{b}");
            break;
        }
        assert_eq!(s, 503, "{b}");
        assert!(
            Instant::now() < deadline,
            "posts still fail 20 s after PostgreSQL is back: {b}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // The screen resumes: the post after the restart reaches it.
    loop {
        let m = next_json(&mut ws, 10).await;
        if m["type"] == "delta" && m.to_string().contains("living.health.visits") {
            break;
        }
    }
    let rows = app.rows("SELECT value::text FROM observation ORDER BY t");
    assert_eq!(rows, vec!["1", "3"]);
    app.stop().await;
}

/// What the daemon said before it exited, refusing to serve.
fn refused(config: &std::path::Path) -> String {
    match Daemon::try_start(config, &[], &[]) {
        Err(log) => log,
        Ok(mut d) => {
            let status = d
                .wait_exit(Duration::from_secs(20))
                .expect("the daemon exits");
            assert!(!status.success());
            d.log()
        }
    }
}

#[test]
fn a_newer_schema_is_refused_and_left_untouched_and_the_password_is_never_shown() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    cluster.query(
        "postgres",
        "CREATE TABLE schema_version (version BIGINT NOT NULL); INSERT INTO schema_version VALUES (99); CREATE TABLE future (x int)",
    );
    let root = tempfile::tempdir().unwrap();
    let cfg = daemon_config(root.path(), 0, &cluster, PLAN);
    let log = refused(&cfg);
    assert!(log.contains("newer pantau") && log.contains("99"), "{log}");
    assert!(!log.contains(&cluster.password), "{log}");
    assert_eq!(
        cluster.query("postgres", "SELECT version::text FROM schema_version"),
        vec!["99"]
    );
    assert!(
        cluster
            .query("postgres", "SELECT to_regclass('observation')::text")
            .iter()
            .all(|r| r == "NULL"),
        "nothing was created"
    );

    // A wrong password: the daemon says it cannot connect, and shows no password.
    let dir = root.path().join("wrong");
    std::fs::create_dir_all(&dir).unwrap();
    let wrong = write_config_on(
        &dir,
        PLAN,
        "",
        &format!(
            "url = \"postgres://pantau:hunter2secret@127.0.0.1:{}/postgres\"",
            cluster.port
        ),
    );
    let log = refused(&wrong);
    assert!(
        log.contains("password") || log.contains("authentication"),
        "{log}"
    );
    assert!(!log.contains("hunter2secret"), "{log}");

    // `pantau check` reads the URL and names what is wrong, without the password.
    let bad = write_config_on(
        &dir,
        PLAN,
        "",
        "url = \"postgres://pantau:hunter2secret@127.0.0.1:notaport/postgres\"",
    );
    let out = pantau_output(&["check", "--config", bad.to_str().unwrap()]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("url") && text.contains("***"), "{text}");
    assert!(!text.contains("hunter2secret"), "{text}");

    // The password from `password = "env:NAME"`, and from PGPASSWORD (on another database:
    // this one is refused).
    cluster.query("postgres", "CREATE DATABASE kota");
    let by_ref = write_config_on(
        &dir,
        PLAN,
        "",
        &format!(
            "url = \"{}\"\npassword = \"env:KOTA_DB_PASSWORD\"",
            cluster.url_without_password("kota")
        ),
    );
    let d = Daemon::start_with(&by_ref, &[], &[("KOTA_DB_PASSWORD", &cluster.password)]);
    assert_eq!(d.healthz(), Some(200));
    assert!(!d.log().contains(&cluster.password));
    d.kill();
    let plain = write_config_on(
        &dir,
        PLAN,
        "",
        &format!("url = \"{}\"", cluster.url_without_password("kota")),
    );
    let d = Daemon::start_with(&plain, &[], &[("PGPASSWORD", &cluster.password)]);
    assert_eq!(d.healthz(), Some(200));
    d.kill();
}

/// Three daemons; posts of 5-row batches go to them at random while one is SIGKILLed and
/// started again every second or so. Every acknowledged observation is stored, and every batch
/// is stored whole or not at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_daemons_under_posts_and_sigkills_lose_nothing_acknowledged() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let cluster = Arc::new(cluster);
    let root = tempfile::tempdir().unwrap();
    let configs: Vec<_> = (0..3)
        .map(|n| daemon_config(root.path(), n, &cluster, PLAN))
        .collect();
    let daemons: Vec<Daemon> = configs.iter().map(|c| Daemon::start(c)).collect();
    let bases: Arc<std::sync::Mutex<Vec<String>>> = Arc::new(std::sync::Mutex::new(
        daemons.iter().map(|d| d.base()).collect(),
    ));
    let daemons = Arc::new(std::sync::Mutex::new(
        daemons.into_iter().map(Some).collect::<Vec<_>>(),
    ));
    let tok = token(&configs[0], "dinkes");
    let client = reqwest::Client::new();

    // Batch b holds times b*5 .. b*5+4 (seconds after a base instant), each with value b.
    let base = chrono::DateTime::parse_from_rfc3339("2025-01-01T00:00:00+07:00").unwrap();
    let batch = move |b: usize| -> Vec<(String, f64)> {
        (0..5)
            .map(|i| {
                let t = base + chrono::Duration::seconds((b * 5 + i) as i64);
                (t.to_rfc3339(), b as f64)
            })
            .collect()
    };
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut posters = Vec::new();
    for p in 0..4usize {
        let (client, bases, tok, stop) = (client.clone(), bases.clone(), tok.clone(), stop.clone());
        posters.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut b = p;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let target = {
                    let bases = bases.lock().unwrap();
                    bases[(b / 4 + p) % bases.len()].clone()
                };
                if post(&client, &target, &tok, &batch(b)).await == 200 {
                    acked.push(b);
                }
                b += 4;
            }
            acked
        }));
    }
    let killer = {
        let (daemons, configs, bases) = (daemons.clone(), configs.clone(), bases.clone());
        tokio::task::spawn_blocking(move || {
            let mut seed = 0x2545_f491_4f6c_dd1du64;
            for _ in 0..6 {
                std::thread::sleep(Duration::from_millis(700));
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let victim = (seed % 3) as usize;
                if let Some(d) = daemons.lock().unwrap()[victim].take() {
                    d.kill();
                }
                std::thread::sleep(Duration::from_millis(300));
                // Started again (on a new port, which the posters use from then on); posts to
                // it in between get no answer, as a client of a dead instance sees.
                let d = Daemon::start(&configs[victim]);
                bases.lock().unwrap()[victim] = d.base();
                daemons.lock().unwrap()[victim] = Some(d);
            }
        })
    };
    killer.await.unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut acked = Vec::new();
    for p in posters {
        acked.extend(p.await.unwrap());
    }
    assert!(
        acked.len() >= 20,
        "too few posts went through: {}",
        acked.len()
    );

    let stored = cluster.query(
        "postgres",
        "SELECT value::bigint::text || '|' || count(*)::text FROM observation GROUP BY value ORDER BY value",
    );
    let counts: std::collections::HashMap<usize, usize> = stored
        .iter()
        .map(|r| {
            let (b, n) = r.split_once('|').unwrap();
            (b.parse().unwrap(), n.parse().unwrap())
        })
        .collect();
    for (b, n) in &counts {
        assert_eq!(*n, 5, "batch {b} was stored in part ({n} of 5 rows)");
    }
    for b in &acked {
        assert_eq!(counts.get(b), Some(&5), "acknowledged batch {b} was lost");
    }
    drop(daemons);
}

/// A daemon on PostgreSQL reads its history at start in ranges of indicators, at once
/// (`Pools::history`): a daemon started on a database another filled shows every indicator as
/// the one that took the posts does, those at the ranges' bounds and those without data too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_started_on_a_filled_database_shows_every_indicator_as_the_one_that_took_the_posts()
 {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let mut plan = PLAN.to_string();
    let ids: Vec<String> = (0..9).map(|k| format!("living.health.i{k}")).collect();
    for id in &ids {
        plan.push_str(&format!(
            "[[indicator]]\nid = \"{id}\"\nprogram = \"living.health\"\nname = \"{id}\"\nunit = \"%\"\ndirection = \"increase\"\nbaseline = {{ date = 2022-12-31, value = 0.0 }}\ntargets = [{{ date = 2027-12-31, value = 100.0 }}]\nupdate_every = \"1d\"\n"
        ));
    }
    let root = tempfile::tempdir().unwrap();
    let first = daemon_config(root.path(), 0, &cluster, &plan);
    let second = daemon_config(root.path(), 1, &cluster, &plan);
    let a = Daemon::start(&first);
    let tok = token(&first, "dinkes");
    let client = reqwest::Client::new();
    // Indicator k gets k + 1 values (the last has none), on days of 2025.
    let mut observations = Vec::new();
    for (k, id) in ids.iter().enumerate().take(8) {
        for d in 0..=k {
            observations.push(json!({
                "indicator": id,
                "time": format!("2025-03-{:02}", d + 1),
                "value": (k * 10 + d) as f64,
            }));
        }
    }
    let r = client
        .post(format!("{}/api/v1/observations", a.base()))
        .bearer_auth(&tok)
        .json(&json!({ "observations": observations }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = client
        .post(format!(
            "{}/api/v1/indicators/living.health.i4/notes",
            a.base()
        ))
        .bearer_auth(&tok)
        .json(&json!({ "kendala": "Data terlambat", "rencana_tindak_lanjut": "Kirim ulang" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());

    let b = Daemon::start(&second);
    let shown = |base: String| {
        let client = client.clone();
        async move {
            let v: Value = client
                .get(format!("{base}/api/v1/progress"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["indicators"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| {
                    let id = i["id"].as_str().unwrap().to_string();
                    let seen = json!([i["current"], i["last_update"], i["sparkline"], i["note"]]);
                    (id, seen)
                })
                .collect::<std::collections::BTreeMap<_, _>>()
        }
    };
    let (on_a, on_b) = (shown(a.base()).await, shown(b.base()).await);
    assert_eq!(on_a.len(), ids.len() + 2);
    for (k, id) in ids.iter().enumerate() {
        let expected = if k < 8 {
            json!((k * 10 + k) as f64)
        } else {
            Value::Null
        };
        assert_eq!(
            on_a[id][0], expected,
            "{id} on the daemon that took the posts"
        );
        assert_eq!(
            on_b[id], on_a[id],
            "{id} on the daemon started after the posts"
        );
    }
    assert_eq!(on_b, on_a);
    assert_eq!(on_b["living.health.i4"][3]["kendala"], "Data terlambat");
}

/// Everything `pantau migrate` copies, read from a SQLite file in key order.
fn sqlite_dump(db: &std::path::Path) -> Vec<String> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut out = Vec::new();
    for q in [
        "SELECT indicator || '|' || t || '|' || value || '|' || source || '|' || coalesce(token_id, '') || '|' || received FROM observation ORDER BY indicator, t",
        "SELECT id || '|' || indicator || '|' || previous_value || '|' || value || '|' || received FROM revision ORDER BY id",
        "SELECT id || '|' || indicator || '|' || kendala || '|' || created FROM note ORDER BY id",
        "SELECT id || '|' || department || '|' || hex(hash) || '|' || coalesce(revoked, '') FROM token ORDER BY id",
        "SELECT id || '|' || hash || '|' || loaded FROM plan_version ORDER BY id",
    ] {
        let mut s = c.prepare(q).unwrap();
        out.extend(
            s.query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .map(|r| r.unwrap()),
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_copies_sqlite_into_postgres_and_back_verified() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    // A SQLite daemon with observations, a correction, a note, tokens (one revoked) and the plan.
    let app = spawn_app_on(Backend::Sqlite, PLAN, "").await.unwrap();
    let tok = app.token("dinkes");
    app.revoke(&app.token("dinkes"));
    for (day, v) in [(3, 10.0), (2, 20.0), (3, 11.0)] {
        let body = json!({"observations": [{"indicator": "living.health.visits", "time": jakarta_date(day), "value": v}]});
        assert_eq!(
            app.post_json("/api/v1/observations", Some(&tok), &body)
                .await
                .0,
            200
        );
    }
    let note = json!({"kendala": "data terlambat", "rencana_tindak_lanjut": "rapat"});
    assert_eq!(
        app.post_json(
            "/api/v1/indicators/living.health.visits/notes",
            Some(&tok),
            &note
        )
        .await
        .0,
        201
    );
    let db = app.db.clone();
    let (dir, _) = app.stop().await;
    let before = sqlite_dump(&db);
    assert!(before.len() >= 7, "{before:?}");

    let to = cluster.url("postgres");
    let out = pantau_output(&["migrate", "--from", db.to_str().unwrap(), "--to", &to]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("verified") && stdout.contains("observation"),
        "{stdout}"
    );
    assert!(!format!("{stdout}{stderr}").contains(&cluster.password));
    assert_eq!(
        cluster.query("postgres", "SELECT count(*)::text FROM observation"),
        vec!["2"]
    );
    assert_eq!(
        cluster.query("postgres", "SELECT count(*)::text FROM revision"),
        vec!["1"]
    );

    // Into a database that holds data: refused, nothing changed.
    let again = pantau_output(&["migrate", "--from", db.to_str().unwrap(), "--to", &to]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds data"));
    assert_eq!(
        cluster.query("postgres", "SELECT count(*)::text FROM observation"),
        vec!["2"]
    );

    // A daemon on the copy serves what SQLite held, the old tokens work (and the revoked one
    // does not), and new rows get new ids.
    let cfg = daemon_config(dir.path(), 1, &cluster, PLAN);
    let daemon = Daemon::start(&cfg);
    let client = reqwest::Client::new();
    assert_eq!(
        post(&client, &daemon.base(), &tok, &[(jakarta_date(1), 30.0)]).await,
        200
    );
    daemon.kill();

    // And back into a new SQLite file: the same rows, plus the one posted on PostgreSQL.
    let back = dir.path().join("back.db");
    let out = pantau_output(&["migrate", "--from", &to, "--to", back.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = sqlite_dump(&back);
    for row in &before {
        assert!(
            after.contains(row),
            "{row} is missing after the round trip: {after:?}"
        );
    }
    assert_eq!(after.len(), before.len() + 1, "{after:?}");
}

/// `pantau import` and `pantau export` work on the PostgreSQL of `[storage] url`: an import is
/// all or nothing (a file with a bad row imports none of it and lists the row), reaches a
/// serving daemon's screens, and the export gives back every stored row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_and_export_work_on_postgres_beside_a_serving_daemon() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    // A target in the year of the imported rows, so that the year's report has a realisasi.
    let year: i32 = jakarta_date(2)[..4].parse().unwrap();
    let plan = PLAN
        .replace("due = 2027-12-31", &format!("due = {}-12-31", year + 1))
        .replace(
            "targets = [{ date = 2027-12-31, value = 100000.0 }]",
            &format!(
                "targets = [{{ date = {year}-12-31, value = 50000.0 }}, {{ date = {}-12-31, value = 100000.0 }}]",
                year + 1
            ),
        );
    let dir = tempfile::tempdir().unwrap();
    let cfg = daemon_config(dir.path(), 0, &cluster, &plan);
    let daemon = Daemon::start(&cfg);
    let mut ws = connect(&format!("ws://{}/api/v1/live", daemon.addr)).await;
    assert_eq!(next_json(&mut ws, 5).await["type"], "snapshot");
    let config = cfg.to_str().unwrap();

    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        format!(
            "indicator,time,value\nliving.health.visits,{},10\nliving.health.visits,{},sepuluh\n",
            jakarta_date(3),
            jakarta_date(2)
        ),
    )
    .unwrap();
    let out = pantau_output(&["--config", config, "import", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(
        report.contains("line 3") && report.contains("nothing was imported"),
        "{report}"
    );
    assert!(!report.contains(&cluster.password), "{report}");

    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        format!(
            "indicator,time,value\nliving.health.visits,{},10\nliving.health.visits,{},1234.5\n",
            jakarta_date(3),
            jakarta_date(2)
        ),
    )
    .unwrap();
    let out = pantau_output(&["--config", config, "import", good.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("2 new"), "{summary}");
    let imported = Instant::now();
    let (delta, ind) = visits_delta(&mut ws).await;
    assert_eq!(ind["current"], json!(1234.5), "{delta}");
    assert!(
        imported.elapsed() < Duration::from_secs(2),
        "the serving daemon's screen saw the import after {:?}",
        imported.elapsed()
    );

    let out = pantau_output(&["--config", config, "export", "-"]);
    assert!(out.status.success(), "{out:?}");
    let csv = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "indicator,time,value,source,department,note,received"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    // By indicator and time: three days ago, then two.
    assert!(
        lines[1].starts_with("living.health.visits,") && lines[1].contains(",10,import,"),
        "{csv}"
    );
    assert!(lines[2].contains(",1234.5,import,"), "{csv}");

    // The evaluation report from the command line reads PostgreSQL too, and says what the
    // serving daemon's API says.
    let year = year.to_string();
    let url = format!("{}/api/v1/reports/evaluation?year={year}", daemon.base());
    let from_api: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    let out = pantau_output(&["--config", config, "report", "--year", &year, "--out", "-"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(!said.contains(&cluster.password), "{said}");
    let mut from_cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    let visits = from_cli["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["programs"].as_array().unwrap())
        .flat_map(|p| p["indicators"].as_array().unwrap())
        .find(|i| i["id"] == "living.health.visits")
        .cloned()
        .unwrap_or_else(|| panic!("no visits row in {from_cli}"));
    assert_eq!(visits["realisasi"], json!(1234.5), "{visits}");
    let mut from_api = from_api;
    // Made, and statuses taken, at now: a few milliseconds apart.
    for key in ["made_at", "status_as_of"] {
        from_cli[key] = Value::Null;
        from_api[key] = Value::Null;
    }
    assert_eq!(from_cli, from_api);

    // Backups of PostgreSQL are PostgreSQL's own: pantau says which tools, and copies nothing.
    let copy = dir.path().join("copy.db");
    for verb in ["backup", "restore"] {
        let out = pantau_output(&["--config", config, verb, copy.to_str().unwrap()]);
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{said}");
        assert!(
            said.contains("pg_dump") && said.contains("pg_basebackup"),
            "{said}"
        );
        assert!(!said.contains(&cluster.password), "{said}");
    }
    assert!(!copy.exists());

    // Token commands on PostgreSQL say which database they touch, without the password.
    let named = |out: &std::process::Output| {
        let said = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{said}");
        assert!(said.contains("pantau: database postgres://"), "{said}");
        assert!(!said.contains(&cluster.password), "{said}");
        said
    };
    let said = named(&pantau_output(&[
        "--config", config, "token", "create", "dinkes",
    ]));
    let id = said
        .split("token ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("no token id in {said}"));
    named(&pantau_output(&["--config", config, "token", "list"]));
    named(&pantau_output(&["--config", config, "token", "revoke", id]));
    daemon.kill();
}

/// A daemon started while its PostgreSQL is down keeps trying (saying so, without the
/// password) and serves once the server is up, without a restart; one whose `startup_wait`
/// runs out exits naming that setting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_started_before_postgres_waits_for_it_then_serves() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let cfg = daemon_config(root.path(), 0, &cluster, PLAN);
    cluster.stop();
    let d = Daemon::try_start(&cfg, &[], &[]).expect("the daemon starts and waits");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !d.log().contains("cannot be reached yet") {
        assert!(
            Instant::now() < deadline,
            "no word of waiting:\n{}",
            d.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    cluster.start_again();
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(h) = health(&client, &d.base()).await {
            if h["storage"]["connected"] == true {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "not serving 20 s after PostgreSQL came up:\n{}",
            d.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let tok = token(&cfg, "dinkes");
    assert_eq!(
        post(&client, &d.base(), &tok, &[(jakarta_date(1), 5.0)]).await,
        200
    );
    assert!(!d.log().contains(&cluster.password), "{}", d.log());
    d.kill();

    // Patience has a limit, and the message says which setting sets it.
    cluster.stop();
    let dir = root.path().join("impatient");
    std::fs::create_dir_all(&dir).unwrap();
    let impatient = write_config_on(
        &dir,
        PLAN,
        "",
        &format!(
            "url = \"{}\"\nstartup_wait = \"2s\"",
            cluster.url("postgres")
        ),
    );
    let began = Instant::now();
    let log = refused(&impatient);
    assert!(
        log.contains("could not be reached for 2 s") && log.contains("startup_wait"),
        "{log}"
    );
    assert!(began.elapsed() < Duration::from_secs(15), "{log}");
    assert!(!log.contains(&cluster.password), "{log}");
}
