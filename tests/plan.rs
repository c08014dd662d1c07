//! The plan as a city changes it: every plan the daemon loads is a version when it differs from
//! the last (perubahan RPJMD), with what changed from → to; an indicator's page says how its
//! targets changed; an indicator that leaves the plan keeps its observations and gets them back
//! when it returns.

mod common;

use common::*;
use serde_json::{Value, json};

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
