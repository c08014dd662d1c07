//! `pantau demo` tells one story: every simulated department feed continues the history the
//! demo wrote, so the first live values on the wall sit where the charts already are.

mod common;

use common::*;
use serde_json::Value;
use std::time::{Duration, Instant};

/// The indicators the demo's simulated feeds write.
const FED: &[&str] = &[
    "env.air.ispu-mean",
    "env.air.good-days",
    "gov.spbe.uptime",
    "living.health.stunting",
    "gov.permit.days",
    "living.transport.response",
    "economy.umkm.digital",
];

async fn get(client: &reqwest::Client, url: String) -> Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_simulated_feed_continues_its_indicators_history() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let demo = Daemon::spawn(
        &[
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--db",
            db.to_str().unwrap(),
        ],
        &[],
    )
    .unwrap_or_else(|log| panic!("the demo did not start:\n{log}"));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let base = demo.base();

    // Every feed has polled successfully at least once.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let feeds = get(&client, format!("{base}/api/v1/feeds")).await;
        let feeds = feeds["feeds"].as_array().expect("a list of feeds");
        assert_eq!(feeds.len(), 6);
        if feeds.iter().all(|f| !f["last_success"].is_null()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every demo feed succeeded: {feeds:#?}\n{}",
            demo.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let from = (chrono::Utc::now() - chrono::Duration::days(120))
        .format("%Y-%m-%d")
        .to_string();
    for id in FED {
        let series = get(
            &client,
            format!("{base}/api/v1/indicators/{id}/series?from={from}&limit=100000"),
        )
        .await;
        let points = series["points"]
            .as_array()
            .unwrap_or_else(|| panic!("{id}: {series}"));
        let (history, live): (Vec<&Value>, Vec<&Value>) =
            points.iter().partition(|p| p["source"] == "import");
        assert!(!live.is_empty(), "{id}: no live values yet");
        // The history's last 90 days before the first live value.
        let first_live = live
            .iter()
            .map(|p| chrono::DateTime::parse_from_rfc3339(p["received"].as_str().unwrap()).unwrap())
            .min()
            .unwrap();
        let first_poll: Vec<f64> = live
            .iter()
            .filter(|p| {
                let r =
                    chrono::DateTime::parse_from_rfc3339(p["received"].as_str().unwrap()).unwrap();
                r - first_live < chrono::Duration::seconds(1)
            })
            .map(|p| p["value"].as_f64().unwrap())
            .collect();
        let last_history = history
            .iter()
            .map(|p| chrono::DateTime::parse_from_rfc3339(p["time"].as_str().unwrap()).unwrap())
            .max()
            .unwrap_or_else(|| panic!("{id}: no history"));
        let recent: Vec<f64> = history
            .iter()
            .filter(|p| {
                let t = chrono::DateTime::parse_from_rfc3339(p["time"].as_str().unwrap()).unwrap();
                last_history - t <= chrono::Duration::days(90)
            })
            .map(|p| p["value"].as_f64().unwrap())
            .collect();
        let low = recent.iter().cloned().fold(f64::INFINITY, f64::min);
        let high = recent.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let slack = 1e-9 * low.abs().max(high.abs()).max(1.0);
        for v in &first_poll {
            assert!(
                *v >= low - slack && *v <= high + slack,
                "{id}: the first live value {v} lies outside the last 90 days of history [{low}, {high}] (first poll: {first_poll:?})"
            );
        }
    }
    demo.kill();
}
