//! The yearly cycle against the real daemon: per-year and per-triwulan realisasi, capaian and
//! categories for every direction and kind, compared with figures worked out by hand from the
//! posted values; OPD compliance over a crafted month of on-time, late and missing updates;
//! the capaian formula and bands read from pantau.toml, and refused by `pantau check` when wrong.

mod common;

use chrono::Datelike;
use common::*;
use serde_json::{Value, json};

/// Two complete years before this one, so that every value lies in the past whenever this runs.
fn years() -> (i32, i32) {
    let y = chrono::Utc::now().year();
    (y - 2, y - 1)
}

fn plan() -> String {
    let (a, b) = years();
    let base = a - 1;
    format!(
        r#"
[[department]]
id = "bapenda"
name = "Badan Pendapatan Daerah"
email = ["kepala@bapenda.example.go.id"]
[[department]]
id = "dishub"
name = "Dinas Perhubungan"
[[dimension]]
id = "economy"
name = "Smart Economy"
[[program]]
id = "economy.x"
dimension = "economy"
name = "Program uji"
department = "bapenda"
horizon = "medium"
start = {base}-12-31
due = {b}-12-31
[[indicator]]
id = "economy.x.level"
program = "economy.x"
name = "Naik, nilai terakhir"
tier = "output"
unit = "persen"
direction = "increase"
baseline = {{ date = {base}-12-31, value = 40.0 }}
targets = [{{ date = {a}-06-30, value = 55.0 }}, {{ date = {a}-12-31, value = 60.0 }}, {{ date = {b}-12-31, value = 80.0 }}]
update_every = "1mo"
[[indicator]]
id = "economy.x.cum"
program = "economy.x"
name = "Kumulatif dari baseline"
tier = "outcome"
unit = "rumah"
direction = "increase"
kind = "cumulative"
baseline = {{ date = {base}-12-31, value = 1000.0 }}
targets = [{{ date = {a}-12-31, value = 1500.0 }}, {{ date = {b}-12-31, value = 2000.0 }}]
update_every = "1mo"
[[indicator]]
id = "economy.x.ytd"
program = "economy.x"
name = "Realisasi PAD"
tier = "outcome"
unit = "Rp miliar"
direction = "increase"
kind = "cumulative_yearly"
baseline = {{ date = {base}-12-31, value = 180.0 }}
targets = [{{ date = {a}-03-31, value = 40.0 }}, {{ date = {a}-06-30, value = 100.0 }}, {{ date = {a}-09-30, value = 150.0 }}, {{ date = {a}-12-31, value = 200.0 }}, {{ date = {b}-12-31, value = 220.0 }}]
update_every = "1mo"
[[indicator]]
id = "economy.x.down"
program = "economy.x"
name = "Turun"
tier = "impact"
unit = "hari"
direction = "decrease"
baseline = {{ date = {base}-12-31, value = 10.0 }}
targets = [{{ date = {a}-12-31, value = 8.0 }}, {{ date = {b}-12-31, value = 6.0 }}]
update_every = "1mo"
[[indicator]]
id = "economy.x.most"
program = "economy.x"
name = "Paling banyak"
unit = "ISPU"
direction = "at_most"
baseline = {{ date = {base}-12-31, value = 60.0 }}
targets = [{{ date = {a}-12-31, value = 50.0 }}, {{ date = {b}-12-31, value = 50.0 }}]
update_every = "1mo"
[[indicator]]
id = "economy.x.least"
program = "economy.x"
name = "Paling sedikit"
unit = "persen"
direction = "at_least"
baseline = {{ date = {base}-12-31, value = 98.0 }}
targets = [{{ date = {a}-12-31, value = 99.5 }}, {{ date = {b}-12-31, value = 99.5 }}]
update_every = "1mo"
[[indicator]]
id = "economy.x.keep"
program = "economy.x"
name = "Dijaga"
unit = "persen"
direction = "maintain"
tolerance = 2.0
baseline = {{ date = {base}-12-31, value = 100.0 }}
targets = [{{ date = {a}-12-31, value = 100.0 }}, {{ date = {b}-12-31, value = 100.0 }}]
update_every = "1mo"
[[program]]
id = "economy.y"
dimension = "economy"
name = "Program Dishub"
department = "dishub"
horizon = "short"
start = {base}-12-31
due = {b}-12-31
[[indicator]]
id = "economy.y.daily"
program = "economy.y"
name = "Harian"
unit = "kendaraan"
direction = "increase"
baseline = {{ date = {base}-12-31, value = 0.0 }}
targets = [{{ date = {b}-12-31, value = 100.0 }}]
update_every = "1d"
[[indicator]]
id = "economy.x.daily"
program = "economy.x"
name = "Harian Bapenda"
department = "bapenda"
unit = "transaksi"
direction = "increase"
baseline = {{ date = {base}-12-31, value = 0.0 }}
targets = [{{ date = {b}-12-31, value = 100.0 }}]
update_every = "1d"
"#
    )
}

fn obs(list: &[(&str, String, f64)]) -> Value {
    json!({ "observations": list.iter().map(|(i, t, v)| json!({"indicator": i, "time": t, "value": v})).collect::<Vec<_>>() })
}

fn year_of(v: &Value, year: i32) -> &Value {
    v["years"]
        .as_array()
        .unwrap()
        .iter()
        .find(|y| y["year"] == year)
        .unwrap_or_else(|| panic!("no year {year} in {v}"))
}

fn quarters(y: &Value, field: &str) -> Vec<Option<f64>> {
    y["quarters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q[field].as_f64())
        .collect()
}

#[tokio::test]
async fn yearly_figures_for_every_direction_and_kind_match_a_computation_by_hand() {
    let (a, b) = years();
    let app = spawn_app_with(&plan(), "").await;
    let d = |y: i32, md: &str| format!("{y}-{md}");
    let body = obs(&[
        // level: the last value of each period counts.
        ("economy.x.level", d(a, "02-10"), 44.0),
        ("economy.x.level", d(a, "03-31"), 46.0),
        ("economy.x.level", d(a, "08-15"), 57.0),
        ("economy.x.level", d(b, "05-05"), 70.0),
        ("economy.x.level", d(b, "11-20"), 68.0),
        // cumulative: increments on top of 1,000.
        ("economy.x.cum", d(a, "03-01"), 100.0),
        ("economy.x.cum", d(a, "11-01"), 300.0),
        ("economy.x.cum", d(b, "05-01"), 250.0),
        // year-to-date: sums within each year.
        ("economy.x.ytd", d(a, "01-31"), 15.0),
        ("economy.x.ytd", d(a, "02-28"), 15.0),
        ("economy.x.ytd", d(a, "05-31"), 50.0),
        ("economy.x.ytd", d(a, "10-31"), 60.0),
        ("economy.x.ytd", d(b, "01-31"), 20.0),
        ("economy.x.ytd", d(b, "07-31"), 200.0),
        // decrease, thresholds, maintain.
        ("economy.x.down", d(a, "12-01"), 9.0),
        ("economy.x.down", d(b, "12-01"), 6.6),
        ("economy.x.most", d(a, "12-01"), 42.0),
        ("economy.x.most", d(b, "12-01"), 60.0),
        ("economy.x.least", d(a, "12-01"), 99.7),
        ("economy.x.least", d(b, "12-01"), 89.55),
        ("economy.x.keep", d(a, "12-01"), 101.0),
        ("economy.x.keep", d(b, "12-01"), 110.0),
    ]);
    let (s, r) = app
        .post_json("/api/v1/observations", Some(common::ADMIN), &body)
        .await;
    assert_eq!(s, 200, "{r}");

    let get = |id: &str| {
        let app = &app;
        let id = id.to_string();
        async move {
            let (s, v) = app.get(&format!("/api/v1/indicators/{id}/years")).await;
            assert_eq!(s, 200, "{v}");
            v
        }
    };

    // level, year a: quarters' last values 46 (Q1), none (Q2), 57 (Q3), none (Q4); the year's
    // realisasi 57 against 60: 95 %, sangat tinggi. Q2 has the target 55 dated 30 June.
    let v = get("economy.x.level").await;
    let ya = year_of(&v, a);
    assert_eq!(
        quarters(ya, "realisasi"),
        vec![Some(46.0), None, Some(57.0), None]
    );
    assert_eq!(
        quarters(ya, "target"),
        vec![None, Some(55.0), None, Some(60.0)]
    );
    close(&ya["realisasi"], 57.0);
    close(&ya["capaian"], 95.0);
    assert_eq!(ya["category"], "sangat_tinggi");
    assert_eq!(ya["complete"], true);
    // year b: 68 (November) against 80: 85 %, tinggi.
    let yb = year_of(&v, b);
    close(&yb["realisasi"], 68.0);
    close(&yb["capaian"], 85.0);
    assert_eq!(yb["category"], "tinggi");

    // cumulative: 1,000 + 100 + 300 = 1,400 at the end of a (93,33 %); + 250 = 1,650 at the end of
    // b against 2,000 (82,5 %, tinggi). Q2 of a keeps the running total 1,100.
    let v = get("economy.x.cum").await;
    let ya = year_of(&v, a);
    close(&ya["realisasi"], 1400.0);
    close(&ya["capaian"], 1400.0 / 1500.0 * 100.0);
    assert_eq!(
        quarters(ya, "realisasi"),
        vec![Some(1100.0), Some(1100.0), Some(1100.0), Some(1400.0)]
    );
    close(&year_of(&v, b)["capaian"], 82.5);

    // year-to-date: Q1 30 of 40 (75 %), Q2 80 of 100 (80 %), Q3 80 of 150, Q4 140 of 200: the
    // year 70 %, sedang; b starts from 0 again: 220 of 220, 100 %.
    let v = get("economy.x.ytd").await;
    let ya = year_of(&v, a);
    assert_eq!(
        quarters(ya, "realisasi"),
        vec![Some(30.0), Some(80.0), Some(80.0), Some(140.0)]
    );
    assert_eq!(
        quarters(ya, "capaian"),
        vec![
            Some(75.0),
            Some(80.0),
            Some(80.0 / 150.0 * 100.0),
            Some(70.0)
        ]
    );
    close(&ya["capaian"], 70.0);
    assert_eq!(ya["category"], "sedang");
    let yb = year_of(&v, b);
    close(&yb["realisasi"], 220.0);
    close(&yb["capaian"], 100.0);

    // decrease (inverse by default): (2 × 8 − 9) / 8 = 87,5 %; b: (12 − 6,6) / 6 = 90 %.
    let v = get("economy.x.down").await;
    close(&year_of(&v, a)["capaian"], 87.5);
    close(&year_of(&v, b)["capaian"], 90.0);
    assert_eq!(year_of(&v, b)["category"], "tinggi");
    // at_most: met in a (capped 100); b 60 of ≤ 50 as decrease: (100 − 60) / 50 = 80 %.
    let v = get("economy.x.most").await;
    close(&year_of(&v, a)["capaian"], 100.0);
    close(&year_of(&v, b)["capaian"], 80.0);
    // at_least: met in a (capped 100); b 89,55 of ≥ 99,5: 90 %.
    let v = get("economy.x.least").await;
    close(&year_of(&v, a)["capaian"], 100.0);
    close(&year_of(&v, b)["capaian"], 90.0);
    // maintain: within ±2 in a (100 %); 110 in b is above: as decrease, (200 − 110) / 100 = 90 %.
    let v = get("economy.x.keep").await;
    close(&year_of(&v, a)["capaian"], 100.0);
    close(&year_of(&v, b)["capaian"], 90.0);

    // One year only; a year outside the plan names the parameter.
    let (s, v) = app
        .get(&format!(
            "/api/v1/indicators/economy.x.level/years?year={a}"
        ))
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["years"].as_array().unwrap().len(), 1);
    let (s, v) = app
        .get("/api/v1/indicators/economy.x.level/years?year=1999")
        .await;
    assert_eq!((s, v["error"]["parameter"].as_str()), (400, Some("year")));
    let (s, _) = app.get("/api/v1/indicators/no.such/years").await;
    assert_eq!(s, 404);
    app.stop().await;
}

/// Milliseconds of a Jakarta wall-clock time.
fn wib(date: &str, hour: u32) -> i64 {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .unwrap()
        .and_hms_opt(hour, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis()
        - 7 * 3_600_000
}

#[tokio::test]
async fn compliance_of_a_crafted_month_counts_on_time_late_and_missing() {
    let (_, b) = years();
    let app = spawn_app_with(&plan(), "").await;
    // June of last year. Bapenda's daily indicator: days 1–20 sent by 06:00 the next morning (on
    // time: a daily value is due by noon the next day), 21–25 two days late, 26–30 never. Its
    // monthly level indicator: June's value sent on 10 July (due by 16 July: on time). Dishub's
    // daily indicator: June 1st only, sent in August (late), the rest missing.
    let mut rows = Vec::new();
    let mut receipts = Vec::new();
    for day in 1..=25u32 {
        let date = format!("{b}-06-{day:02}");
        rows.push(("economy.x.daily", date.clone(), f64::from(day)));
        let next = chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d").unwrap()
            + chrono::Duration::days(if day <= 20 { 1 } else { 3 });
        receipts.push(("economy.x.daily", wib(&date, 0), wib(&next.to_string(), 6)));
    }
    rows.push(("economy.x.level", format!("{b}-06-15"), 50.0));
    receipts.push((
        "economy.x.level",
        wib(&format!("{b}-06-15"), 0),
        wib(&format!("{b}-07-10"), 9),
    ));
    rows.push(("economy.y.daily", format!("{b}-06-01"), 5.0));
    receipts.push((
        "economy.y.daily",
        wib(&format!("{b}-06-01"), 0),
        wib(&format!("{b}-08-01"), 9),
    ));
    let (s, r) = app
        .post_json("/api/v1/observations", Some(ADMIN), &obs(&rows))
        .await;
    assert_eq!(s, 200, "{r}");
    // When each value arrived is crafted in the stored rows.
    {
        let conn = rusqlite::Connection::open(&app.db).unwrap();
        for (ind, t, received) in &receipts {
            let n = conn
                .execute(
                    "UPDATE observation SET received = ?3 WHERE indicator = ?1 AND t = ?2",
                    rusqlite::params![ind, t, received],
                )
                .unwrap();
            assert_eq!(n, 1);
        }
    }
    // A correction today of an on-time value keeps its first arrival: still on time.
    let (s, _) = app
        .post_json(
            "/api/v1/observations",
            Some(ADMIN),
            &obs(&[("economy.x.daily", format!("{b}-06-05"), 55.0)]),
        )
        .await;
    assert_eq!(s, 200);

    let (s, v) = app
        .get(&format!("/api/v1/compliance?from={b}-06-01&to={b}-06-30"))
        .await;
    assert_eq!(s, 200, "{v}");
    let deps = v["departments"].as_array().unwrap();
    let bapenda = deps.iter().find(|d| d["id"] == "bapenda").unwrap();
    // The month's periods of every monthly indicator of Bapenda (seven, one posted) and 30 days.
    let daily = bapenda["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "economy.x.daily")
        .unwrap();
    assert_eq!(
        (
            daily["expected"].as_u64(),
            daily["on_time"].as_u64(),
            daily["late"].as_u64(),
            daily["missing"].as_u64()
        ),
        (Some(30), Some(20), Some(5), Some(5))
    );
    assert_eq!(daily["attention"].as_array().unwrap().len(), 10);
    let level = bapenda["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "economy.x.level")
        .unwrap();
    assert_eq!(
        (level["expected"].as_u64(), level["on_time"].as_u64()),
        (Some(1), Some(1))
    );
    // Six other monthly indicators without a June value: missing.
    assert_eq!(bapenda["expected"].as_u64(), Some(30 + 7));
    assert_eq!(bapenda["on_time"].as_u64(), Some(21));
    assert_eq!(bapenda["missing"].as_u64(), Some(5 + 6));
    close(&bapenda["on_time_percent"], 21.0 / 37.0 * 100.0);
    assert_eq!(bapenda["email_configured"], true);
    let dishub = deps.iter().find(|d| d["id"] == "dishub").unwrap();
    assert_eq!(
        (
            dishub["expected"].as_u64(),
            dishub["on_time"].as_u64(),
            dishub["late"].as_u64(),
            dishub["missing"].as_u64()
        ),
        (Some(30), Some(0), Some(1), Some(29))
    );
    assert_eq!(dishub["email_configured"], false);
    assert_eq!(
        (bapenda["rank"].as_u64(), dishub["rank"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(deps[0]["id"], "bapenda", "best first");

    // One department; bad parameters name themselves.
    let (s, v) = app
        .get(&format!(
            "/api/v1/compliance?from={b}-06-01&to={b}-06-30&department=dishub"
        ))
        .await;
    assert_eq!((s, v["departments"].as_array().unwrap().len()), (200, 1));
    for (q, p) in [
        ("department=nope", "department"),
        ("from=2026-13-01", "from"),
        ("from=2026-06-10&to=2026-06-01", "to"),
        ("colour=red", "colour"),
    ] {
        let (s, v) = app.get(&format!("/api/v1/compliance?{q}")).await;
        assert_eq!(
            (s, v["error"]["parameter"].as_str()),
            (400, Some(p)),
            "{q}: {v}"
        );
    }
    app.stop().await;
}

on_both_backends!(progress_as_of_a_past_day_uses_the_values_known_then);

async fn progress_as_of_a_past_day_uses_the_values_known_then(backend: Backend) {
    let (a, b) = years();
    let Some(app) = spawn_app_on(backend, &plan(), "").await else {
        return;
    };
    // Posted "on 10 March of last year" (the arrival is crafted), then corrected today.
    let posted = [
        ("economy.x.level", format!("{b}-03-01"), 50.0),
        ("economy.x.down", format!("{a}-06-01"), 9.5),
    ];
    let (s, r) = app
        .post_json("/api/v1/observations", Some(ADMIN), &obs(&posted))
        .await;
    assert_eq!(s, 200, "{r}");
    app.execute(&format!(
        "UPDATE observation SET received = {}",
        wib(&format!("{b}-03-10"), 9)
    ));
    let (s, _) = app
        .post_json(
            "/api/v1/observations",
            Some(ADMIN),
            &obs(&[
                ("economy.x.level", format!("{b}-03-01"), 58.0),
                // Timed in February, but it only arrives today.
                ("economy.x.cum", format!("{b}-02-01"), 10.0),
            ]),
        )
        .await;
    assert_eq!(s, 200);

    let find = |v: &Value, id: &str| {
        v["indicators"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == id)
            .cloned()
            .unwrap()
    };
    let (s, then) = app.get(&format!("/api/v1/progress?as_of={b}-03-31")).await;
    assert_eq!(s, 200, "{then}");
    assert!(
        then["as_of"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{b}-03-31T23:59:59"))
    );
    assert_eq!(
        find(&then, "economy.x.level")["current"],
        json!(50.0),
        "the value before the correction"
    );
    assert_eq!(find(&then, "economy.x.down")["current"], json!(9.5));
    assert_eq!(
        find(&then, "economy.x.cum")["status"],
        "no_data",
        "not yet arrived then"
    );
    let (_, now) = app.get("/api/v1/progress").await;
    assert_eq!(find(&now, "economy.x.level")["current"], json!(58.0));
    assert_eq!(find(&now, "economy.x.cum")["current"], json!(1010.0));
    // Before anything arrived: nothing known.
    let (_, early) = app.get(&format!("/api/v1/progress?as_of={b}-03-09")).await;
    assert_eq!(find(&early, "economy.x.level")["status"], "no_data");
    // Filters still apply; a date in the future or not a date names the parameter.
    let (s, f) = app
        .get(&format!(
            "/api/v1/progress?as_of={b}-03-31&department=dishub"
        ))
        .await;
    assert_eq!(s, 200);
    assert!(
        f["indicators"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["department"] == "dishub")
    );
    for bad in ["2999-01-01", "maret"] {
        let (s, v) = app.get(&format!("/api/v1/progress?as_of={bad}")).await;
        assert_eq!((s, v["error"]["parameter"].as_str()), (400, Some("as_of")));
    }
    app.stop().await;
}

/// `[progress] capaian_decrease = "ratio"` and custom `capaian_bands` in pantau.toml change
/// what `/api/v1/indicators/{id}/years` says: decrease (and at_most, and maintain above its
/// target) as `t / r × 100`, categories by the new lower bounds (each bound inclusive).
#[tokio::test]
async fn the_capaian_formula_and_bands_are_read_from_pantau_toml() {
    let (a, b) = years();
    let settings = "[progress]\ncapaian_decrease = \"ratio\"\ncapaian_bands = { sangat_tinggi = 95, tinggi = 89, sedang = 80, rendah = 60 }\n";
    let app = spawn_app_with(&plan(), settings).await;
    let d = |y: i32, md: &str| format!("{y}-{md}");
    let values = vec![
        ("economy.x.level", d(a, "08-15"), 57.0),
        ("economy.x.level", d(b, "05-05"), 70.0),
        ("economy.x.cum", d(a, "03-01"), 100.0),
        ("economy.x.ytd", d(a, "01-31"), 15.0),
        ("economy.x.down", d(a, "12-01"), 9.0),
        ("economy.x.down", d(b, "12-01"), 6.6),
        ("economy.x.most", d(b, "12-01"), 60.0),
        ("economy.x.least", d(b, "12-01"), 89.55),
        ("economy.x.keep", d(b, "12-01"), 110.0),
    ];
    let (s, r) = app
        .post_json("/api/v1/observations", Some(ADMIN), &obs(&values))
        .await;
    assert_eq!(s, 200, "{r}");
    let years_of = |id: &'static str| {
        let app = &app;
        async move {
            let (s, v) = app.get(&format!("/api/v1/indicators/{id}/years")).await;
            assert_eq!(s, 200, "{v}");
            v
        }
    };
    // (indicator, year, capaian, category). With the default (inverse, 91/76/66/51) these would
    // be 87,5 tinggi, 90, 80 tinggi, 90 tinggi, 87,5 tinggi, 73,33 sedang.
    for (id, year, capaian, category) in [
        // decrease as ratio: 8 / 9 = 88,89 % (just below tinggi's 89); b: 6 / 6,6 = 90,91 %.
        ("economy.x.down", a, 8.0 / 9.0 * 100.0, "sedang"),
        ("economy.x.down", b, 6.0 / 6.6 * 100.0, "tinggi"),
        // at_most above its target, as decrease: 50 / 60 = 83,33 %.
        ("economy.x.most", b, 50.0 / 60.0 * 100.0, "sedang"),
        // maintain above its band, as decrease: 100 / 110 = 90,91 %.
        ("economy.x.keep", b, 100.0 / 110.0 * 100.0, "tinggi"),
        // increase is unchanged: 57 / 60 = 95 % (on the bound: sangat tinggi); 70 / 80 = 87,5 %.
        ("economy.x.level", a, 95.0, "sangat_tinggi"),
        ("economy.x.level", b, 87.5, "sedang"),
        // at_least below, as increase: 89,55 / 99,5 = 90 %.
        ("economy.x.least", b, 90.0, "tinggi"),
        // cumulative 1,000 + 100 of 1,500 = 73,33 %: rendah (60 to 80).
        ("economy.x.cum", a, 1100.0 / 1500.0 * 100.0, "rendah"),
        // year-to-date 15 of 200 = 7,5 %: below 60, sangat rendah.
        ("economy.x.ytd", a, 7.5, "sangat_rendah"),
    ] {
        let v = years_of(id).await;
        let y = year_of(&v, year);
        close(&y["capaian"], capaian);
        assert_eq!(y["category"], category, "{id} {year}: {y}");
    }
    app.stop().await;
}

/// A capaian formula or bands that make no sense are refused by `pantau check`, each message
/// naming the file, the table and the field, and saying what to write instead.
#[test]
fn bad_capaian_settings_are_refused_by_pantau_check_naming_the_field() {
    let cases: [(&str, &[&str]); 6] = [
        (
            "capaian_decrease = \"kebalikan\"",
            &[
                "field `capaian_decrease`",
                "`kebalikan` is not a capaian formula",
                "use `inverse`",
                "`ratio`",
            ],
        ),
        (
            "capaian_bands = { sangat_tinggi = 76, tinggi = 91, sedang = 66, rendah = 51 }",
            &[
                "field `capaian_bands`",
                "must fall from sangat_tinggi to rendah",
                "found 76, 91, 66, 51",
                "e.g. 91, 76, 66, 51",
            ],
        ),
        (
            "capaian_bands = { sangat_tinggi = 91, tinggi = 66, sedang = 66, rendah = 51 }",
            &[
                "field `capaian_bands`",
                "found 91, 66, 66, 51",
                "e.g. 91, 76, 66, 51",
            ],
        ),
        (
            "capaian_bands = { sangat_rendah = 10 }",
            &[
                "field `capaian_bands.sangat_rendah`",
                "is not a category",
                "sangat_tinggi, tinggi, sedang and rendah",
            ],
        ),
        (
            "capaian_bands = { tinggi = \"76\" }",
            &["field `capaian_bands.tinggi`", "must be a number"],
        ),
        (
            "capaian_bands = { sangat_tinggi = inf }",
            &[
                "field `capaian_bands.sangat_tinggi`",
                "must be a finite number",
            ],
        ),
    ];
    for (line, needles) in cases {
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(dir.path(), &plan(), &format!("[progress]\n{line}\n"));
        let out = pantau_output(&["check", "--config", config.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{line}: {err}");
        assert!(
            err.contains("pantau.toml") && err.contains("[progress]"),
            "{line}: {err}"
        );
        for needle in needles {
            assert!(err.contains(needle), "{line}: no `{needle}` in:\n{err}");
        }
    }
    // The same settings written well pass.
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &plan(),
        "[progress]\ncapaian_decrease = \"ratio\"\ncapaian_bands = { sangat_tinggi = 95, tinggi = 89, sedang = 80, rendah = 60 }\n",
    );
    let out = pantau_output(&["check", "--config", config.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
