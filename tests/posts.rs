//! Department posts: the auth matrix on every write endpoint (with the database compared before
//! and after each rejection), every kind of invalid row, JSON, Indonesian-locale CSV and XLSX,
//! idempotent repeats, corrections with their revision history, and notes. Each test runs on
//! SQLite and on PostgreSQL.

mod common;

use common::*;

on_both_backends!(
    auth_matrix_on_every_write_endpoint_stores_nothing_when_refused,
    body_limit_and_rate_limit,
    every_kind_of_invalid_row_is_listed_and_nothing_is_stored,
    repeats_are_idempotent_and_corrections_keep_their_history,
    indonesian_csv_and_xlsx_uploads,
    notes_explain_an_indicator,
    a_token_revoked_by_another_process_is_refused_at_once_though_it_was_just_used,
);
use serde_json::{Value, json};

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
id = "living.health.stunting"
program = "living.health"
name = "Prevalensi stunting"
unit = "persen"
direction = "decrease"
baseline = { date = 2022-12-31, value = 30.0 }
targets = [{ date = 2027-12-31, value = 14.0 }]
update_every = "1mo"
min = 0.0
max = 100.0
[[indicator]]
id = "living.health.visits"
program = "living.health"
name = "Kunjungan puskesmas"
unit = "orang"
direction = "increase"
kind = "cumulative"
baseline = { date = 2022-12-31, value = 0.0 }
targets = [{ date = 2027-12-31, value = 100000.0 }]
update_every = "1d"
[[indicator]]
id = "env.air.ispu"
program = "env.air"
name = "Rata-rata ISPU"
unit = "ISPU"
direction = "maintain"
tolerance = 10.0
baseline = { date = 2022-12-31, value = 60.0 }
targets = [{ date = 2027-12-31, value = 50.0 }]
update_every = "1d"
"#;

/// Everything stored, to compare before and after a rejected request.
fn dump(app: &TestApp) -> Vec<String> {
    let mut out = Vec::new();
    for q in [
        "SELECT indicator || '|' || t || '|' || value || '|' || source FROM observation ORDER BY indicator, t",
        "SELECT id || '|' || indicator || '|' || value FROM revision ORDER BY id",
        "SELECT id || '|' || indicator || '|' || kendala FROM note ORDER BY id",
    ] {
        out.extend(app.rows(q));
    }
    out
}

fn obs(indicator: &str, time: &str, value: f64) -> Value {
    json!({ "observations": [{ "indicator": indicator, "time": time, "value": value }] })
}

async fn auth_matrix_on_every_write_endpoint_stores_nothing_when_refused(backend: Backend) {
    let Some(app) = spawn_app_on(backend, PLAN, "").await else {
        return;
    };
    let dinkes = app.token("dinkes");
    let dlh = app.token("dlh");
    let revoked = app.token("dinkes");
    app.revoke(&revoked);
    // Something stored first, so "unchanged" is meaningful.
    let (s, _) = app
        .post_json(
            "/api/v1/observations",
            Some(&dinkes),
            &obs("living.health.stunting", &jakarta_date(3), 25.0),
        )
        .await;
    assert_eq!(s, 200);
    let before = dump(&app);

    let body = obs("living.health.stunting", &jakarta_date(1), 24.0);
    let note = json!({"kendala": "data terlambat", "rencana_tindak_lanjut": "rapat koordinasi"});
    let endpoints: Vec<(&str, Value)> = vec![
        ("/api/v1/observations", body.clone()),
        (
            "/api/v1/indicators/living.health.stunting/notes",
            note.clone(),
        ),
        ("/api/v1/admin/reload", json!({})),
    ];
    for (path, body) in &endpoints {
        // Missing header.
        let r = app
            .client
            .post(app.url(path))
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{path} without a token");
        // Malformed header.
        let r = app
            .client
            .post(app.url(path))
            .header("authorization", "Token abc")
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{path} with a malformed header");
        let r = app
            .client
            .post(app.url(path))
            .header("authorization", "Bearer ")
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{path} with an empty bearer");
        // Unknown and revoked tokens.
        let (s, e) = app
            .post_json(path, Some("pantau_1_0000000000000000"), body)
            .await;
        assert_eq!(s, 401, "{path} with an unknown token: {e}");
        let (s, e) = app.post_json(path, Some(&revoked), body).await;
        assert_eq!(s, 401, "{path} with a revoked token: {e}");
        assert!(e["error"]["message"].as_str().unwrap().contains("revoked"));
        // Another department's token.
        let (s, _) = app.post_json(path, Some(&dlh), body).await;
        assert_eq!(s, 403, "{path} with another department's token");
        assert_eq!(
            dump(&app),
            before,
            "{path}: a refused request stored something"
        );
    }
    // A department token may not reload; the admin may.
    let (s, _) = app
        .post_json("/api/v1/admin/reload", Some(&dinkes), &json!({}))
        .await;
    assert_eq!(s, 403);
    let (s, r) = app
        .post_json("/api/v1/admin/reload", Some(ADMIN), &json!({}))
        .await;
    assert_eq!((s, r["reloaded"].as_bool()), (200, Some(true)), "{r}");
    // The admin may write any department's indicator.
    let (s, r) = app
        .post_json(
            "/api/v1/observations",
            Some(ADMIN),
            &obs("env.air.ispu", &jakarta_date(1), 52.0),
        )
        .await;
    assert_eq!((s, r["new"].as_u64()), (200, Some(1)), "{r}");
    let rev = app.get("/api/v1/indicators/env.air.ispu/series").await.1;
    assert_eq!(rev["points"][0]["department"], Value::Null);
    app.stop().await;
}

async fn body_limit_and_rate_limit(backend: Backend) {
    let Some(app) = spawn_app_on(
        backend,
        PLAN,
        "max_body_bytes = 2048\nrate_limit_per_minute = 5",
    )
    .await
    else {
        return;
    };
    let t = app.token("dinkes");
    let before = dump(&app);
    let big = json!({ "observations": (0..100).map(|i| json!({"indicator": "living.health.visits", "time": format!("2024-01-{:02}", i % 28 + 1), "value": i})).collect::<Vec<_>>() });
    let (s, e) = app.post_json("/api/v1/observations", Some(&t), &big).await;
    assert_eq!(s, 413, "{e}");
    assert_eq!(dump(&app), before);
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for i in 0..8 {
        let r = app
            .client
            .post(app.url("/api/v1/observations"))
            .bearer_auth(&t)
            .json(&obs("living.health.visits", &jakarta_date(10 + i), 1.0))
            .send()
            .await
            .unwrap();
        if r.status().as_u16() == 429 {
            retry_after = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
        }
        statuses.push(r.status().as_u16());
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(retry_after.unwrap().parse::<u64>().unwrap() >= 1);
    // Guessing tokens is rate limited too.
    let mut guessed = Vec::new();
    for i in 0..10 {
        let (s, _) = app
            .post_json(
                "/api/v1/observations",
                Some(&format!("pantau_{i}_guess")),
                &obs("living.health.visits", &jakarta_date(1), 1.0),
            )
            .await;
        guessed.push(s);
    }
    assert!(guessed.contains(&429), "{guessed:?}");
    app.stop().await;
}

async fn every_kind_of_invalid_row_is_listed_and_nothing_is_stored(backend: Backend) {
    let Some(app) = spawn_app_on(backend, PLAN, "").await else {
        return;
    };
    let t = app.token("dinkes");
    let future = (chrono::Utc::now() + chrono::Duration::minutes(30)).to_rfc3339();
    let body = json!({ "observations": [
        { "indicator": "living.health.stunting", "time": jakarta_date(2), "value": 22.0 },   // 1 fine
        { "indicator": "no.such.indicator", "time": jakarta_date(2), "value": 1.0 },        // 2 unknown
        { "indicator": "living.health.stunting", "time": "kemarin", "value": 1.0 },        // 3 malformed time
        { "indicator": "living.health.stunting", "time": "2020-01-01", "value": 1.0 },     // 4 before baseline
        { "indicator": "living.health.stunting", "time": future, "value": 1.0 },           // 5 future
        { "indicator": "living.health.stunting", "time": jakarta_date(5), "value": "dua" },// 6 unparseable
        { "indicator": "living.health.stunting", "time": jakarta_date(6), "value": "NaN" },// 7 not finite
        { "indicator": "living.health.stunting", "time": jakarta_date(7), "value": 140.0 },// 8 above max
        { "indicator": "living.health.stunting", "time": jakarta_date(2), "value": 23.0 }, // 9 duplicate of 1
        { "indicator": "living.health.stunting", "time": jakarta_date(8) },                // 10 missing value
    ]});
    let before = dump(&app);
    let (s, e) = app.post_json("/api/v1/observations", Some(&t), &body).await;
    assert_eq!(s, 422, "{e}");
    let rows = e["error"]["rows"].as_array().unwrap();
    let bad: Vec<u64> = rows.iter().map(|r| r["row"].as_u64().unwrap()).collect();
    for n in 2..=10 {
        assert!(bad.contains(&n), "row {n} not reported: {e}");
    }
    assert!(!bad.contains(&1));
    for r in rows {
        for k in ["row", "field", "reason", "fix"] {
            assert!(r.get(k).is_some(), "row error without {k}: {r}");
        }
    }
    assert_eq!(dump(&app), before);
    // An indicator of another department in an otherwise fine batch: 403, nothing stored.
    let mixed = json!({ "observations": [
        { "indicator": "living.health.stunting", "time": jakarta_date(2), "value": 22.0 },
        { "indicator": "env.air.ispu", "time": jakarta_date(2), "value": 50.0 },
    ]});
    let (s, _) = app
        .post_json("/api/v1/observations", Some(&t), &mixed)
        .await;
    assert_eq!(s, 403);
    assert_eq!(dump(&app), before);
    // Garbage bodies.
    let (s, _) = app
        .post_bytes(
            "/api/v1/observations",
            Some(&t),
            "application/json",
            b"{not json".to_vec(),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = app
        .post_bytes(
            "/api/v1/observations",
            Some(&t),
            "image/png",
            b"\x89PNG".to_vec(),
        )
        .await;
    assert_eq!(s, 415);
    let (s, _) = app
        .post_bytes(
            "/api/v1/observations",
            Some(&t),
            "text/csv",
            b"a,b\n1,2\n".to_vec(),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(dump(&app), before);
    app.stop().await;
}

async fn repeats_are_idempotent_and_corrections_keep_their_history(backend: Backend) {
    let Some(app) = spawn_app_on(backend, PLAN, "").await else {
        return;
    };
    let t = app.token("dinkes");
    let day = jakarta_date(2);
    let (s, r) = app
        .post_json(
            "/api/v1/observations",
            Some(&t),
            &obs("living.health.stunting", &day, 25.0),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        (
            r["new"].as_u64(),
            r["corrected"].as_u64(),
            r["unchanged"].as_u64()
        ),
        (Some(1), Some(0), Some(0))
    );
    // The progress state reflects the post before the answer was sent.
    assert_eq!(
        app.indicator("living.health.stunting").await["current"],
        json!(25.0)
    );
    let (_, r) = app
        .post_json(
            "/api/v1/observations",
            Some(&t),
            &obs("living.health.stunting", &day, 25.0),
        )
        .await;
    assert_eq!(
        (r["new"].as_u64(), r["unchanged"].as_u64()),
        (Some(0), Some(1))
    );
    let (_, r) = app
        .post_json(
            "/api/v1/observations",
            Some(&t),
            &obs("living.health.stunting", &day, 24.5),
        )
        .await;
    assert_eq!(r["corrected"].as_u64(), Some(1));
    assert_eq!(
        app.indicator("living.health.stunting").await["current"],
        json!(24.5)
    );
    let (s, revs) = app
        .get("/api/v1/indicators/living.health.stunting/revisions")
        .await;
    assert_eq!(s, 200);
    let rev = &revs["revisions"][0];
    assert_eq!(rev["previous_value"], json!(25.0));
    assert_eq!(rev["value"], json!(24.5));
    assert_eq!(rev["source"], "post");
    assert_eq!(rev["department"], "dinkes");
    assert!(rev["token_id"].as_i64().is_some());
    assert!(rev["received"].as_str().unwrap().ends_with("+07:00"));
    // The department's page reads every correction of its indicators at once.
    let (s, dept) = app.get("/api/v1/departments/dinkes/revisions").await;
    assert_eq!(s, 200);
    assert_eq!(dept["revisions"][0]["indicator"], "living.health.stunting");
    assert_eq!(dept["revisions"][0]["value"], json!(24.5));
    let (s, other) = app.get("/api/v1/departments/dlh/revisions").await;
    assert_eq!((s, other["revisions"].as_array().unwrap().len()), (200, 0));
    assert_eq!(app.get("/api/v1/departments/nope/revisions").await.0, 404);
    assert_eq!(
        app.get("/api/v1/departments/dinkes/revisions?limit=0")
            .await
            .0,
        400
    );
    app.stop().await;
}

async fn indonesian_csv_and_xlsx_uploads(backend: Backend) {
    let Some(app) = spawn_app_on(backend, PLAN, "").await else {
        return;
    };
    let t = app.token("dinkes");
    // As Excel saves "CSV UTF-8" in the Indonesian locale: BOM, `;`, decimal comma, CRLF.
    let csv = format!(
        "\u{feff}indikator;waktu;nilai;catatan\r\nliving.health.visits;{};1.234,5;awal\r\nliving.health.visits;{};2.000;\r\nliving.health.stunting;{};21,75;\r\n",
        jakarta_date(3),
        jakarta_date(2),
        jakarta_date(2)
    );
    let (s, r) = app
        .post_bytes(
            "/api/v1/observations",
            Some(&t),
            "text/csv; charset=utf-8",
            csv.into_bytes(),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["new"].as_u64(), Some(3));
    let visits = app.indicator("living.health.visits").await;
    assert_eq!(visits["current"], json!(3234.5));
    assert_eq!(
        app.indicator("living.health.stunting").await["current"],
        json!(21.75)
    );
    let series = app
        .get("/api/v1/indicators/living.health.visits/series")
        .await
        .1;
    assert_eq!(series["points"][0]["source"], "upload");
    assert_eq!(series["points"][0]["note"], "awal");

    // A bad CSV row names its line.
    let bad = format!(
        "indicator,time,value\nliving.health.visits,{},1\nliving.health.visits,{},x\n",
        jakarta_date(4),
        jakarta_date(5)
    );
    let (s, e) = app
        .post_bytes(
            "/api/v1/observations",
            Some(&t),
            "text/csv",
            bad.into_bytes(),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(e["error"]["rows"][0]["row"], json!(3));

    // An XLSX workbook with real date cells and number cells.
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let date_format = rust_xlsxwriter::Format::new().set_num_format("dd/mm/yyyy");
    sheet.write_string(0, 0, "indicator").unwrap();
    sheet.write_string(0, 1, "time").unwrap();
    sheet.write_string(0, 2, "value").unwrap();
    let d = chrono::NaiveDate::parse_from_str(&jakarta_date(1), "%Y-%m-%d").unwrap();
    sheet.write_string(1, 0, "living.health.stunting").unwrap();
    sheet
        .write_datetime_with_format(1, 1, d.and_hms_opt(0, 0, 0).unwrap(), &date_format)
        .unwrap();
    sheet.write_number(1, 2, 20.25).unwrap();
    sheet.write_string(2, 0, "living.health.visits").unwrap();
    sheet.write_string(2, 1, jakarta_date(1)).unwrap();
    sheet.write_number(2, 2, 100.0).unwrap();
    let bytes = book.save_to_buffer().unwrap();
    let (s, r) = app
        .post_bytes(
            "/api/v1/observations",
            Some(&t),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            bytes,
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["new"].as_u64(), Some(2));
    let st = app.indicator("living.health.stunting").await;
    assert_eq!(st["current"], json!(20.25));
    assert!(
        st["last_update"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}T00:00:00+07:00", jakarta_date(1)))
    );
    // A file that is not a workbook.
    let (s, _) = app
        .post_bytes(
            "/api/v1/observations",
            Some(&t),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            b"PK not really".to_vec(),
        )
        .await;
    assert_eq!(s, 400);
    app.stop().await;
}

async fn notes_explain_an_indicator(backend: Backend) {
    let Some(app) = spawn_app_on(backend, PLAN, "").await else {
        return;
    };
    let t = app.token("dinkes");
    let (s, e) = app
        .post_json(
            "/api/v1/indicators/living.health.stunting/notes",
            Some(&t),
            &json!({"kendala": " "}),
        )
        .await;
    assert_eq!(s, 400, "{e}");
    let (s, e) = app
        .post_json(
            "/api/v1/indicators/living.health.stunting/notes",
            Some(&t),
            &json!({"kendala": "", "rencana_tindak_lanjut": "x"}),
        )
        .await;
    assert_eq!(s, 422, "{e}");
    for (k, r) in [
        (
            "Data posyandu terlambat",
            "Verifikasi lapangan minggu depan",
        ),
        ("Anggaran tertunda", "Usulan APBD perubahan"),
    ] {
        let (s, _) = app
            .post_json(
                "/api/v1/indicators/living.health.stunting/notes",
                Some(&t),
                &json!({"kendala": k, "rencana_tindak_lanjut": r}),
            )
            .await;
        assert_eq!(s, 201);
    }
    let ind = app.indicator("living.health.stunting").await;
    assert_eq!(ind["note"]["kendala"], "Anggaran tertunda");
    let (_, d) = app.get("/api/v1/indicators/living.health.stunting").await;
    assert_eq!(d["notes"].as_array().unwrap().len(), 2);
    let (s, _) = app
        .post_json(
            "/api/v1/indicators/no.such/notes",
            Some(&t),
            &json!({"kendala": "a", "rencana_tindak_lanjut": "b"}),
        )
        .await;
    assert_eq!(s, 404);
    app.stop().await;
}

/// Tokens that verified are remembered so that posts skip the database lookup; a revocation
/// committed by another process must still refuse the very next post (and note), storing nothing.
async fn a_token_revoked_by_another_process_is_refused_at_once_though_it_was_just_used(
    backend: Backend,
) {
    let Some(app) = spawn_app_on(backend, PLAN, "").await else {
        return;
    };
    let token = app.token("dinkes");
    for day in [5, 4] {
        let (s, e) = app
            .post_json(
                "/api/v1/observations",
                Some(&token),
                &obs("living.health.stunting", &jakarta_date(day), 25.0),
            )
            .await;
        assert_eq!(s, 200, "{e}");
    }
    let before = dump(&app);
    // What `pantau token revoke` does, on its own connection (in PostgreSQL: what any other
    // daemon or `pantau token revoke` commits there).
    app.revoke(&token);
    let (s, e) = app
        .post_json(
            "/api/v1/observations",
            Some(&token),
            &obs("living.health.stunting", &jakarta_date(3), 26.0),
        )
        .await;
    assert_eq!(s, 401, "a post right after the revocation: {e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("revoked"),
        "{e}"
    );
    let (s, e) = app
        .post_json(
            "/api/v1/indicators/living.health.stunting/notes",
            Some(&token),
            &json!({"kendala": "data terlambat", "rencana_tindak_lanjut": "rapat koordinasi"}),
        )
        .await;
    assert_eq!(s, 401, "a note right after the revocation: {e}");
    // Still refused once the daemon has noticed the change (the cache is emptied then).
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let (s, _) = app
        .post_json(
            "/api/v1/observations",
            Some(&token),
            &obs("living.health.stunting", &jakarta_date(2), 27.0),
        )
        .await;
    assert_eq!(s, 401);
    assert_eq!(dump(&app), before, "a refused post stored something");
    // Another token of the same department still writes.
    let other = app.token("dinkes");
    let (s, e) = app
        .post_json(
            "/api/v1/observations",
            Some(&other),
            &obs("living.health.stunting", &jakarta_date(2), 27.0),
        )
        .await;
    assert_eq!(s, 200, "{e}");
}
