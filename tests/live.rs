//! Live progress over websockets: snapshots, deltas after posts, gap-free sequence numbers,
//! filters, resume, epochs across restarts, stalled clients, many clients, screens.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use warp::Filter;

fn obs(indicator: &str, days_ago: i64, value: f64) -> Value {
    json!({ "observations": [{ "indicator": indicator, "time": jakarta_date(days_ago), "value": value }] })
}

#[tokio::test]
async fn a_post_reaches_every_screen_as_a_numbered_delta() {
    let app = spawn_app().await;
    let t = app.token("dinkes");
    let mut screens = Vec::new();
    for _ in 0..3 {
        let mut ws = connect(&app.ws_url("")).await;
        let snap = next_json(&mut ws, 5).await;
        assert_eq!(snap["type"], "snapshot");
        assert!(snap["progress"]["indicators"].as_array().unwrap().len() >= 40);
        screens.push((
            ws,
            snap["seq"].as_u64().unwrap(),
            snap["epoch"].as_str().unwrap().to_string(),
        ));
    }
    let mut filtered = connect(&app.ws_url("?dimension=environment")).await;
    let fsnap = next_json(&mut filtered, 5).await;
    assert!(
        fsnap["progress"]["indicators"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["dimension"] == "environment")
    );

    for (k, value) in [14.0, 13.5, 13.0].into_iter().enumerate() {
        let (s, _) = app
            .post_json(
                "/api/v1/observations",
                Some(&t),
                &obs("living.health.stunting", 3 - k as i64, value),
            )
            .await;
        assert_eq!(s, 200);
        for (ws, seq, epoch) in screens.iter_mut() {
            let mut d = next_json(ws, 5).await;
            while d["type"] == "event" {
                d = next_json(ws, 5).await;
            }
            assert_eq!(d["type"], "delta");
            assert_eq!(d["epoch"].as_str().unwrap(), epoch);
            assert_eq!(
                d["seq"].as_u64().unwrap(),
                *seq + 1,
                "sequence numbers have no gaps"
            );
            *seq += 1;
            let ind = d["indicators"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["id"] == "living.health.stunting")
                .expect("the posted indicator");
            assert_eq!(ind["current"], json!(value));
            assert!(
                d["programs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["id"] == "living.health")
            );
        }
    }
    // The environment screen got none of the living deltas.
    let quiet = tokio::time::timeout(Duration::from_millis(500), filtered.next()).await;
    assert!(
        quiet.is_err(),
        "a filtered screen received another dimension's delta: {quiet:?}"
    );
    // An environment post reaches it, carrying only environment items.
    let dlh = app.token("dlh");
    let (s, _) = app
        .post_json(
            "/api/v1/observations",
            Some(&dlh),
            &obs("env.air.ispu-mean", 1, 48.0),
        )
        .await;
    assert_eq!(s, 200);
    let d = next_json(&mut filtered, 5).await;
    assert_eq!(d["type"], "delta");
    assert!(
        d["indicators"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["dimension"] == "environment")
    );
    assert!(
        d["dimensions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["id"] == "environment")
    );
    app.stop().await;
}

#[tokio::test]
async fn resume_replays_missed_deltas_and_a_restart_changes_the_epoch() {
    let app = spawn_app().await;
    let t = app.token("dinkes");
    let mut ws = connect(&app.ws_url("")).await;
    let snap = next_json(&mut ws, 5).await;
    let epoch = snap["epoch"].as_str().unwrap().to_string();
    let seq = snap["seq"].as_u64().unwrap();
    drop(ws);
    for k in 0..3 {
        app.post_json(
            "/api/v1/observations",
            Some(&t),
            &obs("living.health.stunting", 5 - k, 15.0 - k as f64),
        )
        .await;
    }
    let mut ws = connect(&app.ws_url(&format!("?since={seq}&epoch={epoch}"))).await;
    let mut got = Vec::new();
    while got.len() < 3 {
        let m = next_json(&mut ws, 5).await;
        if m["type"] == "delta" {
            got.push(m["seq"].as_u64().unwrap());
        }
        assert_ne!(
            m["type"], "snapshot",
            "a resumable screen gets the missed deltas, not a snapshot"
        );
    }
    assert_eq!(got, vec![seq + 1, seq + 2, seq + 3]);
    // A wrong epoch gets a snapshot.
    let mut ws2 = connect(&app.ws_url(&format!("?since={seq}&epoch=0000"))).await;
    assert_eq!(next_json(&mut ws2, 5).await["type"], "snapshot");
    drop((ws, ws2));
    let (dir, cfg) = app.stop().await;
    let app = start_in(dir, cfg, Default::default()).await;
    let mut ws = connect(&app.ws_url(&format!("?since={}&epoch={epoch}", seq + 3))).await;
    let m = next_json(&mut ws, 5).await;
    assert_eq!(m["type"], "snapshot");
    assert_ne!(
        m["epoch"].as_str().unwrap(),
        epoch,
        "a restart starts a new epoch"
    );
    // The data survived the restart.
    let ind = m["progress"]["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "living.health.stunting")
        .unwrap()
        .clone();
    assert_eq!(ind["current"], json!(13.0));
    app.stop().await;
}

#[tokio::test]
async fn a_stalled_screen_never_delays_the_others() {
    let app = spawn_app().await;
    let t = app.token("dinkes");
    // A client that never reads: its socket buffers fill up.
    let stalled = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let (mut stalled_ws, _) = tokio_tungstenite::client_async(app.ws_url(""), stalled)
        .await
        .unwrap();
    let _ = stalled_ws
        .send(tokio_tungstenite::tungstenite::Message::Ping(vec![].into()))
        .await;
    let mut live = connect(&app.ws_url("")).await;
    next_json(&mut live, 5).await;
    // Megabytes of deltas: each post touches ~10 indicators' worth of JSON.
    let mut worst = Duration::ZERO;
    for k in 0..150 {
        let started = std::time::Instant::now();
        let rows: Vec<Value> = (0..5).map(|d| json!({"indicator": "living.health.stunting", "time": jakarta_date(200 - d), "value": 10.0 + (k % 7) as f64 + d as f64 / 10.0})).collect();
        let (s, _) = app
            .post_json(
                "/api/v1/observations",
                Some(&t),
                &json!({"observations": rows}),
            )
            .await;
        assert_eq!(s, 200);
        loop {
            let m = next_json(&mut live, 5).await;
            if m["type"] == "delta" || m["type"] == "snapshot" {
                break;
            }
        }
        worst = worst.max(started.elapsed());
    }
    // Deltas kept arriving while the stalled client read nothing (next_json would have timed out
    // otherwise). The bound is generous: this checks "not blocked", not speed.
    assert!(worst < Duration::from_secs(5), "a delta took {worst:?}");
    let (_, h) = app.get("/healthz").await;
    assert_eq!(h["status"], "ok");
    drop(stalled_ws);
    app.stop().await;
}

/// Screens that connect while posts keep coming: each sees its snapshot's seq, then every
/// later delta once, in order, the last one with the last value posted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screens_joining_during_posts_see_every_later_delta_once_in_order() {
    let app = spawn_app().await;
    let t = app.token("dinkes");
    let posts = 60;
    let mut screens = Vec::new();
    for k in 0..posts {
        let (s, _) = app
            .post_json(
                "/api/v1/observations",
                Some(&t),
                &obs("living.health.stunting", 1, 20.0 - k as f64 * 0.1),
            )
            .await;
        assert_eq!(s, 200);
        if k % 6 == 0 {
            let mut ws = connect(&app.ws_url("")).await;
            let snap = next_json(&mut ws, 5).await;
            assert_eq!(snap["type"], "snapshot");
            screens.push((ws, snap["seq"].as_u64().unwrap()));
        }
    }
    let last_value = 20.0 - (posts - 1) as f64 * 0.1;
    let (_, now) = app.get("/api/v1/progress").await;
    let current = now["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "living.health.stunting")
        .unwrap()["current"]
        .clone();
    assert_eq!(current, json!(last_value));
    // Every screen catches up, one delta after another.
    for (mut ws, mut seq) in screens {
        let mut shown = None;
        loop {
            let m = match tokio::time::timeout(Duration::from_millis(700), ws_next(&mut ws)).await {
                Ok(Some(m)) => m,
                _ => break,
            };
            if m["type"] != "delta" {
                continue;
            }
            let got = m["seq"].as_u64().unwrap();
            assert_eq!(got, seq + 1, "each later delta once, in order");
            seq = got;
            if let Some(i) = m["indicators"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["id"] == "living.health.stunting")
            {
                shown = Some(i["current"].clone());
            }
        }
        // Every screen joined before at least five more posts: it must show the last one.
        assert_eq!(
            shown,
            Some(json!(last_value)),
            "the last delta holds the last value"
        );
    }
    app.stop().await;
}

async fn ws_next(ws: &mut Ws) -> Option<Value> {
    while let Some(m) = ws.next().await {
        if let Ok(tokio_tungstenite::tungstenite::Message::Text(t)) = m {
            return serde_json::from_str(&t).ok();
        }
    }
    None
}

#[tokio::test]
async fn hundreds_of_screens_at_once() {
    let app = spawn_app().await;
    let t = app.token("dlh");
    let mut clients = Vec::new();
    for _ in 0..300 {
        let mut ws = connect(&app.ws_url("?quick_win=false")).await;
        next_json(&mut ws, 10).await;
        clients.push(ws);
    }
    let (_, screens) = app.get("/api/v1/screens").await;
    assert_eq!(screens["connected"].as_array().unwrap().len(), 300);
    let (s, _) = app
        .post_json(
            "/api/v1/observations",
            Some(&t),
            &obs("env.air.ispu-mean", 1, 47.0),
        )
        .await;
    assert_eq!(s, 200);
    let mut received = 0;
    for ws in clients.iter_mut() {
        let m = next_json(ws, 10).await;
        if m["type"] == "delta" {
            received += 1;
        }
    }
    assert_eq!(received, 300);
    drop(clients);
    app.stop().await;
}

#[tokio::test]
async fn screens_origins_and_bad_parameters() {
    let app = spawn_app_with(
        &example_masterplan(),
        "allowed_origins = [\"http://wall.mojokertokota.go.id\"]",
    )
    .await;
    // A configured screen connects and is listed with what it shows.
    let mut ws = connect(&app.ws_url("?screen=wall-1&quick_win=true")).await;
    next_json(&mut ws, 5).await;
    let (_, s) = app.get("/api/v1/screens").await;
    let c = &s["connected"][0];
    assert_eq!(c["screen"], "wall-1");
    assert_eq!(c["shows"]["quick_win"], json!(true));
    assert!(
        s["configured"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == "wall-1")
    );
    // Unknown screens are refused.
    let r = tokio_tungstenite::connect_async(app.ws_url("?screen=nowhere")).await;
    assert!(r.is_err());
    // Origins: allowed, same host, and others.
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = app.ws_url("").into_client_request().unwrap();
    req.headers_mut()
        .insert("origin", "http://evil.example".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(req).await.is_err());
    let mut req = app.ws_url("").into_client_request().unwrap();
    req.headers_mut()
        .insert("origin", "http://wall.mojokertokota.go.id".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(req).await.is_ok());
    let mut req = app.ws_url("").into_client_request().unwrap();
    req.headers_mut()
        .insert("origin", format!("http://{}", app.addr).parse().unwrap());
    assert!(tokio_tungstenite::connect_async(req).await.is_ok());
    // Bad parameters are refused before the upgrade.
    let r = app
        .client
        .get(app.url("/api/v1/live?since=abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    app.stop().await;
}

#[tokio::test]
async fn watch_prints_live_progress() {
    let app = spawn_app().await;
    let t = app.token("dinkes");
    let base = app.base.clone();
    let watcher = tokio::task::spawn_blocking(move || {
        pantau()
            .args([
                "watch",
                "--url",
                &base,
                "--quick-wins",
                "--max-messages",
                "2",
            ])
            .output()
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    app.post_json(
        "/api/v1/observations",
        Some(&t),
        &obs("living.health.stunting", 1, 12.0),
    )
    .await;
    let out = tokio::time::timeout(Duration::from_secs(20), watcher)
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // The figure is the filter's, not the whole masterplan's; names, values with units, status
    // words in the city's language (id) and times in its zone (WIB).
    let first = text.lines().next().unwrap_or("");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(first.contains(" WIB  Quick wins: "), "{text}");
    assert!(first.contains("indikator"), "{text}");
    assert!(!first.contains("Masterplan"), "{text}");
    assert!(
        text.contains("Prevalensi stunting balita (e-PPGBM): 12 % ("),
        "{text}"
    );
    assert!(
        ["Tercapai", "Sesuai target", "Berisiko", "Tertinggal"]
            .iter()
            .any(|w| text.contains(w)),
        "{text}"
    );
    assert!(!text.contains("living.health.stunting"), "{text}");
    assert!(
        !text.contains("off_track") && !text.contains("at_risk"),
        "{text}"
    );

    // A bad filter is refused by the daemon: watch says so and stops instead of retrying.
    let base = app.base.clone();
    let started = std::time::Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        pantau()
            .args(["watch", "--url", &base, "--dimension", "nowhere"])
            .output()
            .unwrap()
    });
    let out = tokio::time::timeout(Duration::from_secs(15), out)
        .await
        .expect("watch with a bad filter stops by itself")
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`nowhere` bukan dimensi"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(15));
    app.stop().await;
}

#[tokio::test]
async fn events_staleness_on_the_clock_and_webhooks() {
    // A receiver for webhooks, and one that is down: neither may block anything.
    let received = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::<Value>::new()));
    let sink = received.clone();
    let hook = warp::post().and(warp::body::json()).then(move |v: Value| {
        let sink = sink.clone();
        async move {
            sink.lock().await.push(v);
            warp::reply()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(hook).incoming(listener).run());
    let plan = r#"
[[department]]
id = "dishub"
name = "Dinas Perhubungan"
[[dimension]]
id = "living"
name = "Smart Living"
[[program]]
id = "living.traffic"
dimension = "living"
name = "Lalu lintas"
department = "dishub"
horizon = "short"
start = 2023-01-01
due = 2027-12-31
[[indicator]]
id = "living.traffic.sensors"
program = "living.traffic"
name = "Sensor lalu lintas aktif"
unit = "persen"
direction = "increase"
baseline = { date = 2022-12-31, value = 10.0 }
targets = [{ date = 2027-12-31, value = 20.0 }]
update_every = "1m"
"#;
    let settings = format!(
        "[progress]\nstale_grace = 0.0\ntick_seconds = 1\n[webhooks]\nurls = [\"http://{hook_addr}/hook\", \"http://127.0.0.1:9/down\"]\nretries = 1\ntimeout = \"1s\""
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), plan, "");
    let text = std::fs::read_to_string(&cfg).unwrap() + &settings;
    std::fs::write(&cfg, text).unwrap();
    let app = start_in(dir, cfg, Default::default()).await;
    let t = app.token("dishub");
    let mut ws = connect(&app.ws_url("")).await;
    next_json(&mut ws, 5).await;
    // A value measured 58 s ago, on a one-minute cadence with no grace: achieved now, stale soon.
    let at = (chrono::Utc::now() - chrono::Duration::seconds(58)).to_rfc3339();
    let (s, _) = app.post_json("/api/v1/observations", Some(&t), &json!({"observations": [{"indicator": "living.traffic.sensors", "time": at, "value": 25.0}]})).await;
    assert_eq!(s, 200);
    let mut kinds = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !kinds.contains(&"became_stale".to_string()) && std::time::Instant::now() < deadline {
        let m = next_json(&mut ws, 10).await;
        if m["type"] == "event" {
            kinds.push(m["kind"].as_str().unwrap().to_string());
            assert!(m["seq"].as_u64().is_some() && m["time"].as_str().unwrap().ends_with("+07:00"));
        }
    }
    assert!(kinds.contains(&"status_changed".to_string()), "{kinds:?}");
    assert!(
        kinds.contains(&"became_stale".to_string()),
        "staleness comes from the clock: {kinds:?}"
    );
    assert_eq!(
        app.indicator("living.traffic.sensors").await["stale"],
        json!(true)
    );
    // The webhook got the same events; the dead one blocked nothing.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got: Vec<String> = received
            .lock()
            .await
            .iter()
            .map(|v| v["kind"].as_str().unwrap_or("").to_string())
            .collect();
        if got.contains(&"became_stale".to_string()) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "webhook got {got:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn dead_peers_are_dropped_and_screen_tokens_are_checked() {
    // A screens.toml beside the settings with a screen that needs a token, dashboards from
    // disk, and a fast heartbeat.
    let dashboards = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("screens.toml"),
        "[[screen]]\nid = \"ruang-rapat\"\nlabel = \"Ruang rapat wali kota\"\npages = [\"quick-wins\"]\ntoken = \"rahasia-layar-123\"\n",
    )
    .unwrap();
    let cfg = write_config(dir.path(), &example_masterplan(), "");
    let options = pantau::app::RunOptions {
        dashboards_dir: Some(dashboards.path().to_path_buf()),
        heartbeat: Some(pantau::live::session::Heartbeat {
            interval: Duration::from_millis(200),
            timeout: Duration::from_millis(700),
        }),
        lock: None,
    };
    let app = start_in(dir, cfg, options).await;
    assert!(
        tokio_tungstenite::connect_async(app.ws_url("?screen=ruang-rapat"))
            .await
            .is_err(),
        "no token"
    );
    assert!(
        tokio_tungstenite::connect_async(app.ws_url("?screen=ruang-rapat&token=salah"))
            .await
            .is_err(),
        "wrong token"
    );
    let mut good = connect(&app.ws_url("?screen=ruang-rapat&token=rahasia-layar-123")).await;
    assert_eq!(next_json(&mut good, 5).await["type"], "snapshot");
    // A peer that stops reading never answers pings and is dropped; a reading one stays.
    let silent = connect(&app.ws_url("")).await;
    let reader = tokio::spawn(async move { while let Some(Ok(_)) = good.next().await {} });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, s) = app.get("/api/v1/screens").await;
        let connected = s["connected"].as_array().unwrap();
        if connected.len() == 1 {
            assert_eq!(connected[0]["screen"], "ruang-rapat");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the silent peer was not dropped: {s}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(silent);
    reader.abort();
    app.stop().await;
}

/// A plan whose statuses and expected values move with time alone (dates around today).
fn moving_plan() -> String {
    let d = |days: i64| jakarta_date(-days);
    format!(
        r#"
[[department]]
id = "dinkes"
name = "Dinas Kesehatan"
[[dimension]]
id = "living"
name = "Smart Living"
[[dimension]]
id = "society"
name = "Smart Society"
[[program]]
id = "living.mixed"
dimension = "living"
name = "Program campuran"
department = "dinkes"
horizon = "short"
start = {d0}
due = {d3}
[[indicator]]
id = "living.mixed.steady"
program = "living.mixed"
name = "Tetap"
unit = "persen"
direction = "maintain"
tolerance = 5.0
baseline = {{ date = {d0}, value = 50.0 }}
targets = [{{ date = {d3}, value = 50.0 }}]
update_every = "1d"
[[indicator]]
id = "living.mixed.slow"
program = "living.mixed"
name = "Lambat"
unit = "persen"
direction = "increase"
baseline = {{ date = {d0}, value = 0.0 }}
targets = [{{ date = {d3}, value = 100.0 }}]
update_every = "1d"
[[program]]
id = "society.day"
dimension = "society"
name = "Sehari"
department = "dinkes"
horizon = "short"
start = {today}
due = {d1}
[[indicator]]
id = "society.day.ramp"
program = "society.day"
name = "Naik sehari"
unit = "orang"
direction = "increase"
baseline = {{ date = {today}, value = 0.0 }}
targets = [{{ date = {d1}, value = 100.0 }}]
update_every = "1d"
[[program]]
id = "society.late"
dimension = "society"
name = "Sudah lewat"
department = "dinkes"
quick_win = true
start = {dm10}
due = {dm2}
[[indicator]]
id = "society.late.almost"
program = "society.late"
name = "Hampir tercapai"
unit = "persen"
direction = "increase"
baseline = {{ date = {dm10}, value = 0.0 }}
targets = [{{ date = {dm2}, value = 100.0 }}]
update_every = "1d"
[[indicator]]
id = "society.late.done"
program = "society.late"
name = "Tercapai"
unit = "persen"
direction = "increase"
baseline = {{ date = {dm10}, value = 0.0 }}
targets = [{{ date = {dm2}, value = 100.0 }}]
update_every = "1d"
"#,
        d0 = d(-1),
        d1 = d(1),
        d3 = d(3),
        today = d(0),
        dm10 = d(-10),
        dm2 = d(-2),
    )
}

/// Midnight at the start of a Jakarta date (YYYY-MM-DD), in ms.
fn jakarta_midnight(date: &str) -> i64 {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis()
        - 7 * 3_600_000
}

fn find<'a>(list: &'a Value, id: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|x| x["id"] == id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_alone_moves_expected_values_and_roll_up_statuses() {
    let app = spawn_app_with(&moving_plan(), "[progress]\ntick_seconds = 1\n").await;
    let t = app.token("dinkes");
    // The maintained indicator is met (p = 1, q = 1). The slow one has its p fixed by a post so
    // that the program's means cross p/q = 0.95 three seconds from now: (1 + pB) / (1 + qB(t*)),
    // while the slow indicator itself stays off track all along (pB/qB < 0.85 for qB < 0.5).
    let d0 = jakarta_midnight(&jakarta_date(1));
    let d3 = jakarta_midnight(&jakarta_date(-3));
    let crossing = chrono::Utc::now().timestamp_millis() + 4_000;
    let q_at = (crossing - d0) as f64 / (d3 - d0) as f64;
    assert!((0.25..0.5).contains(&q_at), "q at the crossing {q_at}");
    let p_slow = 0.95 * (1.0 + q_at) - 1.0;
    let body = json!({ "observations": [
        { "indicator": "living.mixed.steady", "time": jakarta_date(0), "value": 50.0 },
        { "indicator": "living.mixed.slow", "time": jakarta_date(0), "value": 100.0 * p_slow },
    ]});
    let (s, r) = app.post_json("/api/v1/observations", Some(&t), &body).await;
    assert_eq!(s, 200, "{r}");
    let (_, progress) = app.get("/api/v1/progress").await;
    assert_eq!(
        find(&progress["programs"], "living.mixed").unwrap()["status"],
        "on_track"
    );
    assert_eq!(
        find(&progress["indicators"], "living.mixed.slow").unwrap()["status"],
        "off_track"
    );

    let mut ws = connect(&app.ws_url("")).await;
    let snap = next_json(&mut ws, 5).await;
    let ramp_q0 = find(&snap["progress"]["indicators"], "society.day.ramp").unwrap()["expected"]
        .as_f64()
        .unwrap();
    // With no post, within a few ticks after the crossing the program, its dimension and the
    // events say at risk; the ramp's expected value (q grows 1.2e-5 a second) is resent as it
    // moves, however small each tick's step.
    let (mut program_at_risk, mut dimension_at_risk, mut event_seen) = (false, false, false);
    let mut ramp_q = ramp_q0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(25);
    while !(program_at_risk && dimension_at_risk && event_seen && ramp_q > ramp_q0 + 1e-4) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "time did not move the wall: program at risk {program_at_risk}, dimension at risk {dimension_at_risk}, event {event_seen}, ramp q {ramp_q0} -> {ramp_q}"
        );
        let m = next_json(&mut ws, 25).await;
        if m["type"] == "delta" {
            if let Some(p) = find(&m["programs"], "living.mixed") {
                program_at_risk = p["status"] == "at_risk";
            }
            if let Some(d) = find(&m["dimensions"], "living") {
                dimension_at_risk = d["status"] == "at_risk";
            }
            if let Some(i) = find(&m["indicators"], "society.day.ramp") {
                ramp_q = i["expected"].as_f64().unwrap();
            }
            assert!(
                find(&m["indicators"], "living.mixed.slow")
                    .is_none_or(|i| i["status"] == "off_track"),
                "the slow indicator itself stays off track"
            );
        } else if m["type"] == "event"
            && m["kind"] == "status_changed"
            && m["item_type"] == "program"
            && m["id"] == "living.mixed"
        {
            assert_eq!(
                (m["from"].as_str(), m["to"].as_str()),
                (Some("on_track"), Some("at_risk"))
            );
            event_seen = true;
        }
    }
    // The REST view agrees with the screen.
    let (_, progress) = app.get("/api/v1/progress").await;
    assert_eq!(
        find(&progress["programs"], "living.mixed").unwrap()["status"],
        "at_risk"
    );
    app.stop().await;
}

#[tokio::test]
async fn items_past_their_date_are_overdue_unless_achieved() {
    let app = spawn_app_with(&moving_plan(), "").await;
    let t = app.token("dinkes");
    let body = json!({ "observations": [
        { "indicator": "society.late.almost", "time": jakarta_date(0), "value": 98.0 },
        { "indicator": "society.late.done", "time": jakarta_date(0), "value": 100.0 },
        { "indicator": "society.day.ramp", "time": jakarta_date(0), "value": 1.0 },
    ]});
    let (s, r) = app.post_json("/api/v1/observations", Some(&t), &body).await;
    assert_eq!(s, 200, "{r}");
    let (_, p) = app.get("/api/v1/progress").await;
    let almost = find(&p["indicators"], "society.late.almost").unwrap();
    // 98 of 100 with everything expected is on pace, but two days past its date: overdue.
    assert_eq!(almost["status"], "on_track");
    assert_eq!(almost["overdue"], true);
    let done = find(&p["indicators"], "society.late.done").unwrap();
    assert_eq!(
        (done["status"].as_str(), done["overdue"].as_bool()),
        (Some("achieved"), Some(false))
    );
    assert_eq!(
        find(&p["indicators"], "society.day.ramp").unwrap()["overdue"],
        false
    );
    let late = find(&p["programs"], "society.late").unwrap();
    assert_eq!(late["overdue"], true);
    assert_eq!(late["counts"]["overdue"], 1);
    assert_eq!(
        find(&p["programs"], "society.day").unwrap()["overdue"],
        false
    );
    let society = find(&p["dimensions"], "society").unwrap();
    assert_eq!(
        society["overdue"], true,
        "a dimension with an overdue program"
    );
    assert_eq!(p["masterplan"]["counts"]["overdue"], 1);
    app.stop().await;
}
