//! A federation over real cities: several `pantau run` city daemons (the real binary on port 0)
//! and one federation daemon (`pantau run` on a folder with `federation.toml`), over loopback
//! with real HTTP and websockets. A post to a city reaches the federation's API and live feed; a
//! city killed and restarted (a new epoch) is followed again; a restarted federation shows a
//! down city's last known values; hostile cities (silent, huge
//! messages, garbage) beside a healthy one do not stop it; a configuration with several mistakes
//! lists them all.

#[path = "common/browser.rs"]
mod browser;
mod common;

use common::*;
use futures_util::SinkExt;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// A city daemon on port 0 (or on `listen`), with its folder.
struct CityDaemon {
    daemon: Daemon,
    _dir: tempfile::TempDir,
    config: PathBuf,
}

fn start_city(name: &str) -> CityDaemon {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &example_masterplan(), "");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("Kota Uji", name);
    std::fs::write(&config, text).unwrap();
    let daemon = Daemon::start(&config);
    CityDaemon {
        daemon,
        _dir: dir,
        config,
    }
}

/// Writes a federation folder (pantau.toml + federation.toml) following `cities` (id, url).
fn federation_folder(dir: &Path, cities: &[(&str, String)]) -> PathBuf {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let settings = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\ndatabase = \"{}\"\n[city]\nname = \"Provinsi Uji\"\n",
        dir.join("federation.db").display()
    );
    std::fs::write(dir.join("pantau.toml"), settings).unwrap();
    let mut fed = String::from(
        "[federation]\nname = \"Diskominfo Provinsi Uji\"\nconnect_timeout = \"2s\"\nread_timeout = \"5s\"\nmax_message_bytes = 1048576\nstale_after = \"3s\"\nbackoff_max = \"1s\"\n",
    );
    for (id, url) in cities {
        fed.push_str(&format!(
            "\n[[city]]\nid = \"{id}\"\nname = \"Kota {id}\"\nkind = \"kota\"\nprovince = \"Jawa Timur\"\nurl = \"{url}\"\n"
        ));
    }
    std::fs::write(dir.join("federation.toml"), fed).unwrap();
    dir.join("pantau.toml")
}

async fn get(url: &str) -> Value {
    let r = reqwest::get(url).await.unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().await.unwrap()
}

fn city<'a>(progress: &'a Value, id: &str) -> &'a Value {
    progress["cities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("city {id} in {progress}"))
}

fn dimension_progress(city: &Value, dim: &str) -> Option<f64> {
    city["dimensions"]
        .as_array()?
        .iter()
        .find(|d| d["id"] == dim)?["progress"]
        .as_f64()
}

/// Polls `f` every 100 ms until it returns Some, for at most `secs`.
async fn until<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "{what}: not within {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn post_value(base: &str, indicator: &str, value: f64) {
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/observations"))
        .bearer_auth(ADMIN)
        .json(&json!({"observations": [{"indicator": indicator, "time": jakarta_date(1), "value": value}]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "post: {}", r.text().await.unwrap());
}

/// Waits until the federation shows every listed city connected with data.
async fn all_connected(fed: &str, ids: &[&str]) -> Value {
    until(20, "every city connected", || async {
        let p = get(&format!("{fed}/api/v1/federation/progress")).await;
        ids.iter()
            .all(|id| city(&p, id)["connected"] == true && city(&p, id)["has_data"] == true)
            .then_some(p)
    })
    .await
}

const STUNTING: &str = "living.health.stunting";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_to_a_city_reaches_the_federation_api_and_its_live_feed() {
    let a = start_city("Kota Alpha");
    let b = start_city("Kota Beta");
    let dir = tempfile::tempdir().unwrap();
    let cfg = federation_folder(
        dir.path(),
        &[("alpha", a.daemon.base()), ("beta", b.daemon.base())],
    );
    let fed = Daemon::start(&cfg);
    let base = fed.base();
    let before = all_connected(&base, &["alpha", "beta"]).await;
    assert_eq!(before["name"], "Diskominfo Provinsi Uji");
    let living_before = dimension_progress(city(&before, "alpha"), "living");
    assert!(city(&before, "alpha")["masterplan"]["status"].is_string());

    // Each city's pantau version is named.
    let cities = get(&format!("{base}/api/v1/cities")).await;
    for c in cities["cities"].as_array().unwrap() {
        assert_eq!(c["version"], env!("CARGO_PKG_VERSION"), "{c}");
        assert_eq!(c["connected"], true);
        assert!(c["epoch"].is_string());
    }

    // A screen of the federation: a snapshot of every city, then numbered deltas.
    let mut ws = connect(&format!("ws://{}/api/v1/live", fed.addr)).await;
    let snap = next_json(&mut ws, 5).await;
    assert_eq!(snap["type"], "snapshot");
    assert_eq!(snap["federation"]["cities"].as_array().unwrap().len(), 2);
    let mut seq = snap["seq"].as_u64().unwrap();
    let epoch = snap["epoch"].as_str().unwrap().to_string();

    // Stunting falls a lot: living's progress in Alpha moves; Beta's does not.
    post_value(&a.daemon.base(), STUNTING, 6.0).await;
    let moved = loop {
        let m = next_json(&mut ws, 10).await;
        assert_eq!(m["type"], "delta", "{m}");
        assert_eq!(m["epoch"], epoch.as_str());
        let s = m["seq"].as_u64().unwrap();
        assert_eq!(s, seq + 1, "deltas are numbered without gaps");
        seq = s;
        let alpha = m["cities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "alpha");
        if let Some(alpha) = alpha {
            let p = dimension_progress(alpha, "living");
            if p != living_before {
                break p;
            }
        }
    };
    let after = get(&format!("{base}/api/v1/federation/progress")).await;
    assert_eq!(dimension_progress(city(&after, "alpha"), "living"), moved);
    assert_eq!(
        dimension_progress(city(&after, "beta"), "living"),
        dimension_progress(city(&before, "beta"), "living")
    );
    // The federation's progress matches the city's own.
    let own = get(&format!("{}/api/v1/progress", a.daemon.base())).await;
    let own_living = own["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "living")
        .unwrap()["progress"]
        .as_f64();
    assert_eq!(moved, own_living);

    // A screen that drops resumes where it was, without a snapshot.
    drop(ws);
    post_value(&a.daemon.base(), STUNTING, 5.5).await;
    let mut ws = connect(&format!(
        "ws://{}/api/v1/live?since={seq}&epoch={epoch}",
        fed.addr
    ))
    .await;
    let m = next_json(&mut ws, 10).await;
    assert_eq!(m["type"], "delta", "a resumed screen gets deltas: {m}");
    assert_eq!(m["seq"].as_u64().unwrap(), seq + 1);

    // Metrics name each city.
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("pantau_federation_city_up{city=\"alpha\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains(&format!(
        "pantau_federation_city_info{{city=\"beta\",version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    )));

    // The wall page is served with its own policy.
    let page = reqwest::get(format!("{base}/")).await.unwrap();
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    assert!(page.text().await.unwrap().contains("federation.js"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_city_killed_and_restarted_with_a_new_epoch_is_followed_again() {
    let a = start_city("Kota Alpha");
    let b = start_city("Kota Beta");
    let dir = tempfile::tempdir().unwrap();
    let cfg = federation_folder(
        dir.path(),
        &[("alpha", a.daemon.base()), ("beta", b.daemon.base())],
    );
    let fed = Daemon::start(&cfg);
    let base = fed.base();
    all_connected(&base, &["alpha", "beta"]).await;
    let health = get(&format!("{base}/api/v1/cities")).await;
    let first_epoch = health["cities"][0]["epoch"].as_str().unwrap().to_string();
    let progress_before = city(
        &get(&format!("{base}/api/v1/federation/progress")).await,
        "alpha",
    )["masterplan"]["progress"]
        .clone();

    // Alpha dies: the federation keeps its last values, marked unconnected, then stale with age.
    let addr = a.daemon.addr.clone();
    let CityDaemon {
        daemon,
        _dir: a_dir,
        config: a_config,
    } = a;
    daemon.kill();
    let down = until(15, "alpha shown stale", || async {
        let p = get(&format!("{base}/api/v1/federation/progress")).await;
        let c = city(&p, "alpha").clone();
        (c["connected"] == false && c["stale"] == true).then_some(c)
    })
    .await;
    assert_eq!(down["masterplan"]["progress"], progress_before);
    assert!(down["age_seconds"].as_i64().unwrap() >= 3, "{down}");
    let health = get(&format!("{base}/api/v1/cities")).await;
    assert!(health["cities"][0]["last_error"].is_string(), "{health}");
    // Beta is unaffected.
    let p = get(&format!("{base}/api/v1/federation/progress")).await;
    assert_eq!(city(&p, "beta")["connected"], true);

    // Alpha comes back on the same address: a new epoch, a new snapshot, and posts flow again.
    let restarted = Daemon::start_with(&a_config, &["--listen", &addr], &[]);
    let second_epoch = until(20, "alpha followed again", || async {
        let h = get(&format!("{base}/api/v1/cities")).await;
        let c = &h["cities"][0];
        let e = c["epoch"].as_str().unwrap_or("").to_string();
        (c["connected"] == true && e != first_epoch).then_some(e)
    })
    .await;
    assert_ne!(second_epoch, first_epoch);
    let living_before = dimension_progress(
        city(
            &get(&format!("{base}/api/v1/federation/progress")).await,
            "alpha",
        ),
        "living",
    );
    post_value(&restarted.base(), STUNTING, 2.0).await;
    until(
        10,
        "the post after the restart reaches the federation",
        || async {
            let p = get(&format!("{base}/api/v1/federation/progress")).await;
            let c = city(&p, "alpha");
            (dimension_progress(c, "living") != living_before && c["stale"] == false).then_some(())
        },
    )
    .await;
    drop(a_dir);
}

/// A federation killed and restarted while a city is down shows the city's last known values
/// at once (unconnected, stale, with the age of the data), not an empty row, and follows the
/// city again when it answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_federation_shows_a_down_citys_last_known_values() {
    let a = start_city("Kota Alpha");
    // A value before the federation starts: its first snapshot, and so its first stored
    // summary, has progress to show.
    post_value(&a.daemon.base(), STUNTING, 2.0).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = federation_folder(dir.path(), &[("alpha", a.daemon.base())]);
    let fed = Daemon::start(&cfg);
    let base = fed.base();
    all_connected(&base, &["alpha"]).await;
    // A city's first summary is stored as soon as it has data.
    let stored = until(10, "alpha's first summary stored", || async {
        let h = get(&format!("{base}/api/v1/federation/history")).await;
        h["days"]
            .as_array()
            .and_then(|d| d.first().cloned())
            .filter(|d| d["masterplan_progress"].is_f64())
    })
    .await;

    let addr = a.daemon.addr.clone();
    let CityDaemon {
        daemon,
        _dir: a_dir,
        config: a_config,
    } = a;
    daemon.kill();
    fed.kill();
    // Longer than the federation's `stale_after` (3 s).
    tokio::time::sleep(Duration::from_millis(3500)).await;

    let fed = Daemon::start(&cfg);
    let base = fed.base();
    let p = get(&format!("{base}/api/v1/federation/progress")).await;
    let c = city(&p, "alpha");
    assert_eq!(c["has_data"], true, "{c}");
    assert_eq!(c["connected"], false, "{c}");
    assert_eq!(c["stale"], true, "{c}");
    assert_eq!(
        c["masterplan"]["progress"], stored["masterplan_progress"],
        "{c}\n{stored}"
    );
    assert!(c["age_seconds"].as_i64().unwrap() >= 3, "{c}");
    let stored_living = stored["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "living")
        .map(|d| d["progress"].as_f64());
    assert_eq!(
        Some(dimension_progress(c, "living")),
        stored_living,
        "{c}\n{stored}"
    );

    // The city comes back: followed again, fresh.
    let _back = Daemon::start_with(&a_config, &["--listen", &addr], &[]);
    until(20, "alpha followed again after the restart", || async {
        let p = get(&format!("{base}/api/v1/federation/progress")).await;
        let c = city(&p, "alpha");
        (c["connected"] == true && c["stale"] == false).then_some(())
    })
    .await;
    drop(a_dir);
}

/// A loopback server that is not a well-behaved pantau.
#[derive(Clone, Copy)]
enum Hostile {
    /// Accepts connections and never answers.
    Silent,
    /// Opens the websocket and sends one message of 4 MiB.
    Huge,
    /// Opens the websocket and sends garbage as fast as it can.
    Garbage,
    /// An older pantau: a snapshot with fields missing, extra and of other types, then pings.
    Older,
}

async fn hostile_city(kind: Hostile) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            match kind {
                Hostile::Silent => held.push(stream),
                _ => {
                    tokio::spawn(async move {
                        // /healthz requests are plain HTTP: answer them with nothing useful.
                        let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                            return;
                        };
                        match kind {
                            Hostile::Huge => {
                                let big = format!(
                                    "{{\"type\":\"snapshot\",\"epoch\":\"e\",\"seq\":1,\"pad\":\"{}\"}}",
                                    "x".repeat(4 * 1024 * 1024)
                                );
                                let _ = ws.send(Message::text(big)).await;
                                tokio::time::sleep(Duration::from_secs(30)).await;
                            }
                            Hostile::Garbage => {
                                for _ in 0..100_000 {
                                    if ws.send(Message::text("\u{0}garbage{{{{")).await.is_err() {
                                        return;
                                    }
                                }
                            }
                            Hostile::Older => {
                                let snap = json!({"type": "snapshot", "epoch": "old", "seq": 7,
                                    "progress": {"masterplan": {"id": "masterplan", "name": "Masterplan", "status": "on_track", "progress": 0.42, "trend": [1, 2]},
                                                 "dimensions": [{"id": "living", "name": "Living", "progress": "unknown"}, {"id": "economy", "progress": 0.3}],
                                                 "programs": [{"id": "old.qw", "name": "Lama", "quick_win": true, "status": "at_risk"}]}});
                                let _ = ws.send(Message::text(snap.to_string())).await;
                                loop {
                                    tokio::time::sleep(Duration::from_secs(1)).await;
                                    if ws.send(Message::Ping(Default::default())).await.is_err() {
                                        return;
                                    }
                                }
                            }
                            Hostile::Silent => {}
                        }
                    });
                }
            }
        }
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_cities_beside_a_healthy_one_do_not_stop_it() {
    let good = start_city("Kota Baik");
    let silent = hostile_city(Hostile::Silent).await;
    let huge = hostile_city(Hostile::Huge).await;
    let garbage = hostile_city(Hostile::Garbage).await;
    let older = hostile_city(Hostile::Older).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = federation_folder(
        dir.path(),
        &[
            ("silent", silent),
            ("huge", huge),
            ("garbage", garbage),
            ("good", good.daemon.base()),
            ("older", older),
        ],
    );
    let fed = Daemon::start(&cfg);
    let base = fed.base();
    all_connected(&base, &["good", "older"]).await;

    // Several rounds of posts to the healthy city, each shown while the others misbehave.
    for value in [8.0, 7.0, 6.0] {
        let before = dimension_progress(
            city(
                &get(&format!("{base}/api/v1/federation/progress")).await,
                "good",
            ),
            "living",
        );
        post_value(&good.daemon.base(), STUNTING, value).await;
        until(10, "the healthy city's post", || async {
            let p = get(&format!("{base}/api/v1/federation/progress")).await;
            (dimension_progress(city(&p, "good"), "living") != before).then_some(())
        })
        .await;
    }

    // Each hostile city has its reason, short and lowercase.
    let health = until(15, "every hostile city has an error", || async {
        let h = get(&format!("{base}/api/v1/cities")).await;
        let all = ["silent", "huge", "garbage"].iter().all(|id| {
            h["cities"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["id"] == *id && c["last_error"].is_string())
        });
        all.then_some(h)
    })
    .await;
    let error_of = |id: &str| -> String {
        health["cities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()["last_error"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        error_of("silent").contains("did not open"),
        "{}",
        error_of("silent")
    );
    assert!(error_of("huge").contains("bytes"), "{}", error_of("huge"));
    assert!(
        error_of("garbage").contains("not JSON"),
        "{}",
        error_of("garbage")
    );
    for id in ["silent", "huge", "garbage"] {
        assert!(error_of(id).len() < 400, "{}", error_of(id));
    }

    // The older pantau shows what it can: its masterplan, the dimension that parsed, its
    // quick win at risk; no version is named.
    let p = get(&format!("{base}/api/v1/federation/progress")).await;
    let old = city(&p, "older");
    assert_eq!(old["masterplan"]["progress"], 0.42);
    assert_eq!(dimension_progress(old, "economy"), Some(0.3));
    assert_eq!(dimension_progress(old, "living"), None);
    assert_eq!(old["quick_wins"]["at_risk"], 1);
    assert_eq!(old["quick_wins_at_risk"][0]["id"], "old.qw");
    assert!(old["version"].is_null());
    // Ranked: the cities with data first, by progress.
    let ranked: Vec<&str> = p["cities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ranked.len(), 5);
    assert!(
        ranked[..2].contains(&"good") && ranked[..2].contains(&"older"),
        "{ranked:?}"
    );
    assert!(fed.healthz() == Some(200));
}

#[test]
fn a_federation_with_several_mistakes_lists_them_all() {
    let dir = tempfile::tempdir().unwrap();
    federation_folder(dir.path(), &[]);
    std::fs::write(
        dir.path().join("federation.toml"),
        r#"
[federation]
stale_after = "never"

[[city]]
id = "mojokerto"
name = "Kota Mojokerto"
kind = "kota"
province = "Jawa Timur"
url = "http://127.0.0.1:8080"

[[city]]
id = "mojokerto"
name = "Kota Mojokerto (salinan)"
kind = "kotamadya"
province = "Jawa Timur"
url = "pantau.mojokertokota.go.id"

[[city]]
id = "blitar"
name = "Kota Blitar"
kind = "kota"
url = "http://127.0.0.1:8080/"
token = "env:PANTAU_TEST_UNSET_TOKEN"
"#,
    )
    .unwrap();
    let out = pantau_output(&["check", "--config", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "the configuration has 7 problems",
        "[federation], field `stale_after`",
        "city mojokerto, field `id`: `mojokerto` is used by city[0] too",
        "city mojokerto, field `kind`: `kotamadya` is not a kind of city",
        "city mojokerto, field `url`: `pantau.mojokertokota.go.id` is not the address",
        "city blitar, field `province`: is missing",
        "city blitar, field `url`: `http://127.0.0.1:8080/` is the url of city mojokerto too",
        "city blitar, field `token`: the environment variable `PANTAU_TEST_UNSET_TOKEN` is not set",
    ] {
        assert!(err.contains(expected), "missing `{expected}` in:\n{err}");
    }

    // Fixed, it checks clean and names what it follows.
    let dir = tempfile::tempdir().unwrap();
    federation_folder(
        dir.path(),
        &[
            ("alpha", "http://127.0.0.1:9001".into()),
            ("beta", "http://127.0.0.1:9002".into()),
        ],
    );
    let out = pantau_output(&["check", "--config", dir.path().to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("a federation of 2 cities"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_federation_demo_follows_its_simulated_cities() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut demo = Daemon::spawn(&["demo", "--federation", "--listen", "127.0.0.1:0"], &[])
        .unwrap_or_else(|log| panic!("the federation demo did not start:\n{log}"));
    let base = demo.base();
    let p = all_connected(&base, &["mojokerto", "blitar", "kab-malang", "madiun"]).await;
    // Each simulated city has figures of its own.
    let mut figures: Vec<String> = p["cities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["masterplan"]["progress"].to_string())
        .collect();
    figures.dedup();
    assert!(
        figures.len() > 1,
        "every city shows the same figures: {figures:?}"
    );
    assert!(demo.log().contains("a federation of 4 simulated cities"));
    // SIGTERM stops the federation and its cities.
    demo.signal("TERM");
    assert!(
        demo.wait_exit(Duration::from_secs(20)).is_some(),
        "{}",
        demo.log()
    );
    for c in p["cities"].as_array().unwrap() {
        let url = c["url"].as_str().unwrap();
        assert!(
            reqwest::get(format!("{url}healthz")).await.is_err(),
            "{url} still answers after the demo stopped"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_federation_wall_shows_the_cities_live_in_a_browser() {
    let a = start_city("Kota Alpha");
    let b = start_city("Kota Beta");
    post_value(&a.daemon.base(), STUNTING, 8.0).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = federation_folder(
        dir.path(),
        &[("alpha", a.daemon.base()), ("beta", b.daemon.base())],
    );
    let fed = Daemon::start(&cfg);
    let base = fed.base();
    all_connected(&base, &["alpha", "beta"]).await;

    let chromium = browser::Browser::launch().await;
    let page = chromium.new_page(1920, 1080).await;
    page.goto(&format!("{base}/")).await;
    let ready = page
        .wait_for(
            "document.body.dataset.ready === '1' && document.querySelectorAll('#fed-table tbody tr').length === 2",
            Duration::from_secs(10),
        )
        .await;
    assert!(
        ready.is_some(),
        "the wall did not draw: {:?}",
        page.errors()
    );
    assert_eq!(page.errors(), Vec::<String>::new());
    // Bahasa Indonesia, numbers with a decimal comma, the federation's name, WIB.
    let header = page
        .eval("document.querySelector('header').textContent")
        .await;
    let header = header.as_str().unwrap();
    assert!(
        header.contains("Diskominfo Provinsi Uji") && header.contains("WIB"),
        "{header}"
    );
    let living = "document.querySelector('tr[data-city=alpha] td[data-dim=living]').textContent";
    let before = page.eval(living).await;
    assert!(before.as_str().unwrap().ends_with('%'), "{before}");
    let mp = page
        .eval("document.querySelector('tr[data-city=alpha] .mp b').textContent")
        .await;
    assert!(mp.as_str().unwrap().contains(','), "id-ID numbers: {mp}");
    // Drill-down to the city's own pantau.
    let link = page
        .eval("document.querySelector('tr[data-city=alpha] .city-name a').href")
        .await;
    assert_eq!(link.as_str().unwrap(), format!("{}/", a.daemon.base()));
    let problems = page
        .text_problems(browser::TextRules {
            min_px: 24.0,
            clip_viewport_y: true,
        })
        .await;
    assert!(
        problems.is_empty(),
        "text that cannot be read: {problems:#?}"
    );
    let shot = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/federation-wall.png");
    page.screenshot(&shot).await;

    // A post to the city moves the wall without a reload.
    post_value(&a.daemon.base(), STUNTING, 6.0).await;
    let moved = page
        .wait_for(&format!("{living} !== {before}"), Duration::from_secs(10))
        .await;
    assert!(moved.is_some(), "the wall did not move after the post");

    // A city that goes away is listed as stale, with when its data was current.
    b.daemon.kill();
    let stale = page
        .wait_for(
            "(() => { const t = (document.querySelector('#fed-stale [data-stale=beta]') || {}).textContent || ''; return t.includes('terputus') ? t : null; })()",
            Duration::from_secs(15),
        )
        .await;
    let stale = stale.expect("beta listed as stale");
    assert!(stale.as_str().unwrap().contains("terputus"), "{stale}");
    assert!(stale.as_str().unwrap().contains("WIB"), "{stale}");
    page.screenshot(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/federation-wall-stale.png"),
    )
    .await;
    assert_eq!(page.errors(), Vec::<String>::new());
}
