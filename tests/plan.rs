//! The plan as a city changes it: every plan the daemon loads is a version when it differs from
//! the last (perubahan RPJMD), with what changed from → to, by reload and by SIGHUP to the real
//! daemon; a revised note alone is a version; an indicator's page says how its targets changed;
//! the evaluation report names the version it used; an indicator that leaves the plan keeps its
//! observations and gets them back when it returns.

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn plan(note: &str, target_2025: f64, with_posyandu: bool) -> String {
    let posyandu = if with_posyandu {
        r#"
[[indicator]]
id = "living.health.posyandu"
program = "living.health"
name = "Posyandu aktif"
unit = "unit"
direction = "increase"
baseline = { date = 2022-12-31, value = 10.0 }
targets = [{ date = 2027-12-31, value = 20.0 }]
update_every = "1mo"
"#
    } else {
        ""
    };
    format!(
        r#"{note}
[[department]]
id = "dinkes"
name = "Dinas Kesehatan"
[[dimension]]
id = "living"
name = "Smart Living"
[[program]]
id = "living.health"
dimension = "living"
name = "Kota Sehat"
department = "dinkes"
horizon = "short"
start = 2023-01-01
due = 2027-12-31
[[indicator]]
id = "living.health.imunisasi"
program = "living.health"
name = "Cakupan imunisasi"
unit = "persen"
direction = "increase"
baseline = {{ date = 2022-12-31, value = 70.0 }}
targets = [{{ date = 2025-12-31, value = {target_2025} }}, {{ date = 2027-12-31, value = 95.0 }}]
update_every = "1mo"
{posyandu}"#
    )
}

async fn reload(app: &TestApp, masterplan: &str) {
    std::fs::write(app.dir.path().join("masterplan.toml"), masterplan).unwrap();
    let (s, r) = app
        .post_json("/api/v1/admin/reload", Some(ADMIN), &json!({}))
        .await;
    assert_eq!(s, 200, "{r}");
}

fn texts(version: &Value) -> Vec<String> {
    version["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["text"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn every_plan_change_is_a_version_and_nothing_observed_is_lost() {
    let app = spawn_app_with(&plan("", 90.0, true), "").await;
    let (_, v) = app.get("/api/v1/masterplan/versions").await;
    assert_eq!(v["versions"].as_array().unwrap().len(), 1);
    assert_eq!(v["current"], v["versions"][0]["id"]);
    let body = json!({"observations": [
        {"indicator": "living.health.posyandu", "time": "2025-05-01", "value": 14.0},
        {"indicator": "living.health.imunisasi", "time": "2025-05-01", "value": 82.0},
    ]});
    let (s, _) = app
        .post_json("/api/v1/observations", Some(ADMIN), &body)
        .await;
    assert_eq!(s, 200);

    // Reloading the same plan records nothing new.
    reload(&app, &plan("", 90.0, true)).await;
    let (_, v) = app.get("/api/v1/masterplan/versions").await;
    assert_eq!(v["versions"].as_array().unwrap().len(), 1);

    // Perubahan RPJMD: a target revised, with a note.
    reload(
        &app,
        &plan("revision_note = \"Perubahan RPJMD 2025\"", 85.0, true),
    )
    .await;
    let (_, v) = app.get("/api/v1/masterplan/versions").await;
    let versions = v["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["revision_note"], "Perubahan RPJMD 2025");
    assert_eq!(
        texts(&versions[0]),
        vec!["Target 2025 diubah dari 90 menjadi 85"]
    );
    assert_eq!(v["current"], versions[0]["id"]);
    let (_, detail) = app.get("/api/v1/indicators/living.health.imunisasi").await;
    let change = detail["plan_changes"][0]["text"].as_str().unwrap();
    assert!(
        change.starts_with("Target 2025 diubah dari 90 menjadi 85 (Perubahan RPJMD 2025, "),
        "{change}"
    );

    // An indicator dropped: its observations stay stored and come back when it returns.
    reload(
        &app,
        &plan("revision_note = \"Perubahan kedua\"", 85.0, false),
    )
    .await;
    let (_, v) = app.get("/api/v1/masterplan/versions").await;
    assert_eq!(
        texts(&v["versions"][0]),
        vec!["Indikator dihapus: Posyandu aktif"]
    );
    let (_, p) = app.get("/api/v1/progress").await;
    assert!(
        !p["indicators"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == "living.health.posyandu")
    );
    let stored: i64 = rusqlite::Connection::open(&app.db)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM observation WHERE indicator = 'living.health.posyandu'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, 1);
    reload(&app, &plan("", 85.0, true)).await;
    let (_, p) = app.get("/api/v1/progress").await;
    let back = p["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "living.health.posyandu")
        .expect("the indicator is back");
    assert_eq!(
        back["current"],
        json!(14.0),
        "its observations came back with it"
    );
    let (_, v) = app.get("/api/v1/masterplan/versions").await;
    assert_eq!(v["versions"].as_array().unwrap().len(), 4);

    // A restart on the same plan records nothing new.
    let (dir, cfg) = app.stop().await;
    let app = start_in(dir, cfg, Default::default()).await;
    let (_, v) = app.get("/api/v1/masterplan/versions").await;
    assert_eq!(v["versions"].as_array().unwrap().len(), 4);
    app.stop().await;
}

/// `plan(note, 90.0, false)` with the imunisasi baseline `baseline` and, when `nutrition`, a
/// second program with its indicator.
fn revised(note: &str, baseline: &str, nutrition: bool) -> String {
    let mut text = plan(note, 90.0, false).replace(
        "baseline = { date = 2022-12-31, value = 70.0 }",
        &format!("baseline = {baseline}"),
    );
    if nutrition {
        text.push_str(
            r#"
[[program]]
id = "living.nutrition"
dimension = "living"
name = "Gizi Masyarakat"
department = "dinkes"
horizon = "medium"
start = 2024-01-01
due = 2027-12-31
[[indicator]]
id = "living.nutrition.stunting"
program = "living.nutrition"
name = "Prevalensi stunting"
unit = "persen"
direction = "decrease"
baseline = { date = 2023-12-31, value = 24.0 }
targets = [{ date = 2027-12-31, value = 14.0 }]
update_every = "1mo"
"#,
        );
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sighup_reload_is_a_new_version_read_back_from_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &plan("", 90.0, false), "");
    // Info logs: each reload says "configuration reloaded".
    let daemon = Daemon::start_with(&cfg, &[], &[("PANTAU_LOG", "info")]);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let versions = || {
        let url = format!("{}/api/v1/masterplan/versions", daemon.base());
        let client = client.clone();
        async move {
            let r = client.get(url).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let first = versions().await;
    assert_eq!(first["versions"].as_array().unwrap().len(), 1, "{first}");

    std::fs::write(
        dir.path().join("masterplan.toml"),
        plan("revision_note = \"Perubahan RPJMD 2025\"", 85.0, false),
    )
    .unwrap();
    daemon.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(15);
    let v = loop {
        let v = versions().await;
        if v["versions"].as_array().unwrap().len() == 2 {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "SIGHUP recorded no new version: {v}\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let newest = &v["versions"][0];
    assert_eq!(newest["revision_note"], "Perubahan RPJMD 2025");
    assert_eq!(texts(newest), vec!["Target 2025 diubah dari 90 menjadi 85"]);
    assert_eq!(
        newest["changes"][0],
        json!({"kind": "target_changed", "indicator": "living.health.imunisasi",
               "name": "Cakupan imunisasi", "date": "2025-12-31", "from": 90.0, "to": 85.0,
               "text": "Target 2025 diubah dari 90 menjadi 85"})
    );
    assert_eq!(v["current"], newest["id"]);
    assert_eq!(v["versions"][1]["hash"], first["versions"][0]["hash"]);
    assert_ne!(newest["hash"], first["versions"][0]["hash"]);
    // A second SIGHUP on the same plan records nothing new.
    daemon.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while daemon.log().matches("configuration reloaded").count() < 2 {
        assert!(Instant::now() < deadline, "{}", daemon.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let v = versions().await;
    assert_eq!(v["versions"].as_array().unwrap().len(), 2, "{v}");
    daemon.kill();
}

#[tokio::test]
async fn programs_added_and_removed_and_a_baseline_changed_read_from_to() {
    let app = spawn_app_with(
        &revised("", "{ date = 2022-12-31, value = 70.0 }", false),
        "",
    )
    .await;
    // A program with its indicator added, and the baseline moved to a later year.
    reload(
        &app,
        &revised("", "{ date = 2023-12-31, value = 72.5 }", true),
    )
    .await;
    let (_, v) = app.get("/api/v1/masterplan/versions").await;
    let newest = &v["versions"][0];
    assert_eq!(
        texts(newest),
        vec![
            "Program baru: Gizi Masyarakat",
            "Baseline diubah dari 70 (2022-12-31) menjadi 72,5 (2023-12-31)",
            "Indikator baru: Prevalensi stunting",
        ]
    );
    assert_eq!(newest["changes"][0]["kind"], "program_added");
    assert_eq!(newest["changes"][0]["program"], "living.nutrition");
    assert_eq!(
        (
            &newest["changes"][1]["kind"],
            &newest["changes"][1]["from"],
            &newest["changes"][1]["to"]
        ),
        (
            &json!("baseline_changed"),
            &json!({"date": "2022-12-31", "value": 70.0}),
            &json!({"date": "2023-12-31", "value": 72.5})
        )
    );
    let (_, detail) = app.get("/api/v1/indicators/living.health.imunisasi").await;
    let change = detail["plan_changes"][0]["text"].as_str().unwrap();
    assert!(
        change.starts_with("Baseline diubah dari 70 (2022-12-31) menjadi 72,5 (2023-12-31)"),
        "{change}"
    );

    // The program removed again.
    reload(
        &app,
        &revised("", "{ date = 2023-12-31, value = 72.5 }", false),
    )
    .await;
    let (_, v) = app.get("/api/v1/masterplan/versions").await;
    let newest = &v["versions"][0];
    assert_eq!(
        texts(newest),
        vec![
            "Program dihapus: Gizi Masyarakat",
            "Indikator dihapus: Prevalensi stunting",
        ]
    );
    assert_eq!(newest["changes"][0]["kind"], "program_removed");
    assert_eq!(newest["changes"][0]["program"], "living.nutrition");
    assert_eq!(v["versions"].as_array().unwrap().len(), 3);
    app.stop().await;
}

/// The plan version the 2025 evaluation report names.
async fn report_version(app: &TestApp) -> String {
    let (s, r) = app.get("/api/v1/reports/evaluation?year=2025").await;
    assert_eq!(s, 200, "{r}");
    r["plan_version"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_evaluation_report_names_the_version_listed_in_versions() {
    let app = spawn_app_with(&plan("", 90.0, false), "").await;
    let (_, v) = app.get("/api/v1/masterplan/versions").await;
    let hash = v["versions"][0]["hash"].as_str().unwrap().to_string();
    let first = report_version(&app).await;
    assert_eq!(first.len(), 12);
    assert!(hash.starts_with(&first), "{first} is not {hash}");

    // After a revision the report names the new version.
    reload(&app, &plan("", 85.0, false)).await;
    let (_, v) = app.get("/api/v1/masterplan/versions").await;
    let hash = v["versions"][0]["hash"].as_str().unwrap().to_string();
    let second = report_version(&app).await;
    assert_ne!(second, first);
    assert!(hash.starts_with(&second), "{second} is not {hash}");
    let listed: Vec<&str> = v["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["hash"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed
            .iter()
            .filter(|h| h.starts_with(&first) || h.starts_with(&second))
            .count(),
        2,
        "{listed:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_revised_note_alone_is_a_new_version() {
    let app = spawn_app_with(&plan("revision_note = \"Rancangan awal\"", 90.0, false), "").await;
    // The same plan, its note revised: recorded, with no changes but the note.
    reload(
        &app,
        &plan("revision_note = \"Ditetapkan Perda 2025\"", 90.0, false),
    )
    .await;
    let (_, v) = app.get("/api/v1/masterplan/versions").await;
    let versions = v["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{v}");
    assert_eq!(versions[0]["revision_note"], "Ditetapkan Perda 2025");
    assert_eq!(versions[1]["revision_note"], "Rancangan awal");
    assert_eq!(versions[0]["changes"], json!([]));
    assert_ne!(versions[0]["hash"], versions[1]["hash"]);
    assert_eq!(v["current"], versions[0]["id"]);
    // The note dropped is a version too; reloading it again is not.
    reload(&app, &plan("", 90.0, false)).await;
    reload(&app, &plan("", 90.0, false)).await;
    let (_, v) = app.get("/api/v1/masterplan/versions").await;
    assert_eq!(v["versions"].as_array().unwrap().len(), 3, "{v}");
    assert_eq!(v["versions"][0]["revision_note"], Value::Null);
    app.stop().await;
}
