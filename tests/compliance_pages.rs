//! OPD reporting compliance (kepatuhan pelaporan) as the dashboards show it, in a real headless
//! Chromium: each department page's own figures (`loadCompliance` in department.js) and the
//! wall's "Kepatuhan Pelaporan OPD" ranking (`compliancePage` in wall.js), both against
//! `GET /api/v1/compliance` over this month, on a month of hourly reports crafted on time, late
//! and missing.
//!
//! Needs Debian's `chromium` (`apt-get install -y chromium`); without it these tests fail.

#[path = "common/browser.rs"]
mod browser;
mod common;

use browser::Browser;
use chrono::{Datelike, TimeZone};
use common::*;
use serde_json::{Value, json};
use std::time::Duration;

const HOUR: i64 = 3_600_000;
const MINUTE: i64 = 60_000;

/// Three OPD: Dinkes with two hourly indicators and a reminder address, Dishub with one hourly
/// indicator and none, Bapenda with one monthly indicator (this month's period ends after
/// today: nothing due or pending, so the wall leaves it out).
fn plan() -> String {
    let y = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Jakarta)
        .year();
    let (start, end) = (y - 1, y + 1);
    let indicator = |id: &str, program: &str, department: &str, name: &str, every: &str| {
        format!(
            r#"
[[indicator]]
id = "{id}"
program = "{program}"
department = "{department}"
name = "{name}"
unit = "laporan"
direction = "increase"
baseline = {{ date = {start}-01-01, value = 0.0 }}
targets = [{{ date = {end}-12-31, value = 100.0 }}]
update_every = "{every}"
"#
        )
    };
    let mut plan = format!(
        r#"
[[department]]
id = "dinkes"
name = "Dinas Kesehatan"
email = ["kepala@dinkes.example.go.id"]
[[department]]
id = "dishub"
name = "Dinas Perhubungan"
[[department]]
id = "bapenda"
name = "Badan Pendapatan Daerah"
[[dimension]]
id = "living"
name = "Smart Living"
[[program]]
id = "living.lapor"
dimension = "living"
name = "Pelaporan layanan"
department = "dinkes"
horizon = "medium"
start = {start}-01-01
due = {end}-12-31
"#
    );
    plan.push_str(&indicator(
        "living.lapor.puskesmas",
        "living.lapor",
        "dinkes",
        "Antrean puskesmas",
        "1h",
    ));
    plan.push_str(&indicator(
        "living.lapor.ambulans",
        "living.lapor",
        "dinkes",
        "Ambulans siaga",
        "1h",
    ));
    plan.push_str(&indicator(
        "living.lapor.parkir",
        "living.lapor",
        "dishub",
        "Parkir terisi",
        "1h",
    ));
    plan.push_str(&indicator(
        "living.lapor.pajak",
        "living.lapor",
        "bapenda",
        "Pajak daring",
        "1mo",
    ));
    plan
}

/// What a department page says when none of its reports is due yet this month.
const NONE_DUE: &str = "Belum ada laporan yang jatuh tempo bulan ini.";

const SCREENS: &str =
    "[[screen]]\nid = \"kepatuhan\"\nlabel = \"Kepatuhan\"\npages = [\"compliance\"]\n";

/// The start of this month in Jakarta (epoch ms).
fn month_start() -> i64 {
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Jakarta)
        .date_naive();
    let first = today.with_day(1).unwrap();
    chrono_tz::Asia::Jakarta
        .from_local_datetime(&first.and_hms_opt(0, 0, 0).unwrap())
        .unwrap()
        .timestamp_millis()
}

/// How one hourly period of this month is reported.
#[derive(Clone, Copy, PartialEq)]
enum Report {
    OnTime,
    Late,
    Missing,
}

/// The crafted pattern: Puskesmas misses every fifth hour and is otherwise on time; Ambulans is
/// late every fourth hour; Parkir misses every third and is late otherwise.
fn pattern(indicator: &str, k: i64) -> Report {
    match indicator {
        "living.lapor.puskesmas" if k % 5 == 4 => Report::Missing,
        "living.lapor.ambulans" if k % 4 == 3 => Report::Late,
        "living.lapor.parkir" if k % 3 == 0 => Report::Missing,
        "living.lapor.parkir" => Report::Late,
        _ => Report::OnTime,
    }
}

/// The example plan's daemon with every hourly period of this month reported by `pattern`, up to
/// those whose late value would still be in the future (their values arrive at the crafted
/// instants: ten minutes after the period starts on time, or an hour after its deadline, the
/// end plus half an hour, late). Returns the app and how many hours were crafted.
async fn crafted_month() -> (TestApp, i64) {
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_config(dir.path(), &plan(), "");
    std::fs::write(dir.path().join("screens.toml"), SCREENS).unwrap();
    let config = pantau::config::Config::load(Some(&config_path)).expect("valid config");
    let now = chrono::Utc::now().timestamp_millis();
    let m = month_start();
    // Period k is [m + k h, m + (k + 1) h), due by its end plus 30 min; a late value arrives an
    // hour after that, and must lie in the past.
    let crafted = (0..)
        .take_while(|k| m + (k + 1) * HOUR + 30 * MINUTE + HOUR + 10 * MINUTE <= now)
        .count() as i64;
    let mut observations = Vec::new();
    let mut received = Vec::new();
    for id in [
        "living.lapor.puskesmas",
        "living.lapor.ambulans",
        "living.lapor.parkir",
    ] {
        for k in 0..crafted {
            let t = m + k * HOUR + 10 * MINUTE;
            let arrived = match pattern(id, k) {
                Report::Missing => continue,
                Report::OnTime => t + 5 * MINUTE,
                Report::Late => m + (k + 1) * HOUR + 30 * MINUTE + HOUR,
            };
            observations.push(pantau::domain::Observation {
                indicator: pantau::domain::IndicatorId::parse(id).unwrap(),
                time: t,
                value: k as f64,
                note: None,
            });
            received.push((id, t, arrived));
        }
    }
    let db = config.settings.database.clone();
    tokio::task::spawn_blocking(move || {
        pantau::store::backfill(&db, observations, pantau::domain::Source::Import).unwrap();
        let mut conn = rusqlite::Connection::open(&db).unwrap();
        let tx = conn.transaction().unwrap();
        {
            let mut update = tx
                .prepare("UPDATE observation SET received = ?3 WHERE indicator = ?1 AND t = ?2")
                .unwrap();
            for (id, t, arrived) in &received {
                assert_eq!(
                    update.execute(rusqlite::params![id, t, arrived]).unwrap(),
                    1
                );
            }
        }
        tx.commit().unwrap();
    })
    .await
    .unwrap();
    let app = start_in(dir, config_path, pantau::app::RunOptions::default()).await;
    (app, crafted)
}

async fn compliance(app: &TestApp, query: &str) -> Value {
    let (s, v) = app.get(&format!("/api/v1/compliance{query}")).await;
    assert_eq!(s, 200, "{v}");
    v["departments"].clone()
}

/// The percentage as the pages write it (the browser's Indonesian percent, no decimals).
async fn percent_text(page: &browser::Page, percent: &Value) -> String {
    match percent.as_f64() {
        None => "–".into(),
        Some(p) => page
            .eval(&format!(
                "new Intl.NumberFormat('id-ID', {{ style: 'percent', minimumFractionDigits: 0, maximumFractionDigits: 0 }}).format({} / 100)",
                p
            ))
            .await
            .as_str()
            .unwrap()
            .to_string(),
    }
}

/// Loads `path` and waits until the page has drawn its data and `ready_js` holds.
async fn open(page: &browser::Page, app: &TestApp, path: &str, ready_js: &str) {
    page.clear_errors();
    page.goto(&app.url(path)).await;
    let js = format!("document.body.dataset.ready === '1' && !!({ready_js})");
    let ready = page.wait_for(&js, Duration::from_secs(15)).await;
    assert!(
        ready.is_some(),
        "{path} did not draw its compliance within 15 s; errors: {:?}",
        page.errors()
    );
    assert_eq!(
        page.errors(),
        Vec::<String>::new(),
        "console errors on {path}"
    );
}

/// Reads what the page shows and compares it with the API's answer, around which the API is
/// asked twice: a period whose deadline passes in between changes the figures, and then it is
/// read again.
async fn matching<F, Fut>(app: &TestApp, query: &str, mut read_and_compare: F)
where
    F: FnMut(Value) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut last = String::new();
    for _ in 0..3 {
        let before = compliance(app, query).await;
        let shown = read_and_compare(before.clone()).await;
        let after = compliance(app, query).await;
        if before != after {
            last = "the figures changed while the page was read".into();
            continue;
        }
        match shown {
            Ok(()) => return,
            Err(e) => panic!("{e}"),
        }
    }
    panic!("{last}");
}

#[tokio::test]
async fn each_department_page_and_the_wall_show_the_compliance_the_api_gives() {
    let (app, crafted) = crafted_month().await;
    let browser = Browser::launch().await;
    let page = browser.new_page(1600, 1000).await;

    // The crafted month as the API sees it: Dinkes has each kind, Dishub is never on time.
    let all = compliance(&app, "").await;
    let find = |list: &Value, id: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no {id} in {list}"))
    };
    let (dinkes, dishub) = (find(&all, "dinkes"), find(&all, "dishub"));
    if crafted >= 8 {
        // (Only in the first hours of a month are there too few periods for every kind.)
        for key in ["on_time", "late", "missing"] {
            assert!(dinkes[key].as_u64().unwrap() > 0, "{key}: {dinkes}");
        }
        assert_eq!(dishub["on_time"], 0, "{dishub}");
        assert!(dishub["late"].as_u64().unwrap() > 0, "{dishub}");
        assert_eq!(
            (dinkes["rank"].as_u64(), dishub["rank"].as_u64()),
            (Some(1), Some(2))
        );
    }
    let bapenda = find(&all, "bapenda");
    assert_eq!(
        (bapenda["expected"].as_u64(), bapenda["pending"].as_u64()),
        (Some(0), Some(0)),
        "this month's monthly report ends after today: nothing due or pending: {bapenda}"
    );

    // Each department page: its own line, the indicators late or missing with their counts, and
    // whether reminders can reach it by e-mail.
    for id in ["dinkes", "dishub"] {
        let query = format!("?department={id}");
        let path = format!("/department/{id}");
        matching(&app, &query, |answer| {
            let (page, app, path) = (&page, &app, path.clone());
            async move {
                let list = answer.as_array().unwrap();
                if list.len() != 1 {
                    return Err(format!("one department asked, {} answered", list.len()));
                }
                let d = &list[0];
                if d["expected"] == 0 {
                    // Only in a month's first hour or two: nothing due yet, and the page says so.
                    open(page, app, &path, "document.getElementById('compliance').textContent.trim()")
                        .await;
                    let text = page
                        .eval("document.getElementById('compliance').textContent.trim()")
                        .await;
                    return if text == json!(NONE_DUE) {
                        Ok(())
                    } else {
                        Err(format!("{path}: {text} shown with nothing due"))
                    };
                }
                open(page, app, &path, "document.querySelector('#compliance [data-compliance]')")
                    .await;
                let shown = page
                    .eval("(() => { const p = document.querySelector('#compliance [data-compliance]'); return { percent: p.dataset.compliance, line: p.textContent.trim(), late: [...document.querySelectorAll('#compliance li[data-id]')].map((li) => [li.dataset.id, li.querySelector('.ind-title').textContent, li.querySelector('small').textContent]), text: document.getElementById('compliance').textContent }; })()")
                    .await;
                let percent: f64 = shown["percent"].as_str().unwrap().parse().unwrap();
                let api_percent = d["on_time_percent"].as_f64().unwrap();
                if (percent - api_percent).abs() > 1e-9 {
                    return Err(format!("{path}: {percent} % shown, {api_percent} % answered"));
                }
                let line = format!(
                    "{} tepat waktu: {} dari {} laporan ({} terlambat, {} belum masuk)",
                    percent_text(page, &d["on_time_percent"]).await,
                    d["on_time"],
                    d["expected"],
                    d["late"],
                    d["missing"]
                );
                if shown["line"] != json!(line) {
                    return Err(format!("{path}: `{}` shown, `{line}` expected", shown["line"]));
                }
                let late: Vec<Value> = d["indicators"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|i| i["late"] != 0 || i["missing"] != 0)
                    .map(|i| {
                        json!([
                            i["id"],
                            i["name"],
                            format!(
                                "{} tepat waktu · {} terlambat · {} belum masuk",
                                i["on_time"], i["late"], i["missing"]
                            )
                        ])
                    })
                    .collect();
                if shown["late"] != json!(late) {
                    return Err(format!("{path}: {} shown, {} expected", shown["late"], json!(late)));
                }
                let no_email = shown["text"]
                    .as_str()
                    .unwrap()
                    .contains("tanpa alamat e-mail pengingat");
                if no_email != (d["email_configured"] == false) {
                    return Err(format!("{path}: the e-mail note is wrong: {}", shown["text"]));
                }
                Ok(())
            }
        })
        .await;
        page.screenshot(&screenshot(&format!("department-{id}.png")))
            .await;
    }
    // Dinkes lists both its indicators (each missed or was late in some hour); Dishub is told
    // it has no reminder address.
    if crafted >= 8 {
        open(
            &page,
            &app,
            "/department/dinkes",
            "document.querySelector('#compliance [data-compliance]')",
        )
        .await;
        let ids = page
            .eval("[...document.querySelectorAll('#compliance li[data-id]')].map((li) => li.dataset.id)")
            .await;
        assert_eq!(
            ids,
            json!(["living.lapor.puskesmas", "living.lapor.ambulans"])
        );
    }
    // Nothing due yet for Bapenda: the page says so rather than 0 %.
    open(
        &page,
        &app,
        "/department/bapenda",
        "document.getElementById('compliance').textContent.trim()",
    )
    .await;
    let text = page
        .eval("document.getElementById('compliance').textContent.trim()")
        .await;
    assert_eq!(text, json!(NONE_DUE));

    // The wall's compliance page: every department with something due or pending (not Bapenda), in the API's
    // ranking, each with its rank, percentage, counts and e-mail note.
    matching(&app, "", |answer| {
        let (page, app) = (&page, &app);
        async move {
            open(
                page,
                app,
                "/wall?screen=kepatuhan",
                "document.querySelectorAll('.cmp-row').length > 0",
            )
            .await;
            let shown = page
                .eval("[...document.querySelectorAll('.cmp-row')].map((r) => ({ id: r.dataset.id, percent: r.dataset.percent, rank: r.querySelector('.cmp-rank').textContent.trim(), pct: r.querySelector('.cmp-pct').textContent.trim(), counts: r.querySelector('.cmp-counts').textContent.trim(), no_email: !!r.querySelector('.cmp-noemail') }))")
                .await;
            let mut expected = Vec::new();
            for d in answer.as_array().unwrap() {
                if d["expected"] == 0 && d["pending"] == 0 {
                    continue;
                }
                expected.push(json!({
                    "id": d["id"],
                    "percent": d["on_time_percent"].as_f64().map_or(String::new(), |p| format!("{p:.1}")),
                    "rank": d["rank"].to_string(),
                    "pct": percent_text(page, &d["on_time_percent"]).await,
                    "counts": format!("{} tepat waktu · {} terlambat · {} belum masuk", d["on_time"], d["late"], d["missing"]),
                    "no_email": d["email_configured"] == false,
                }));
            }
            if shown != json!(expected) {
                return Err(format!("the wall shows {shown}, the API gives {}", json!(expected)));
            }
            let ranks: Vec<u64> = answer
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["rank"].as_u64().unwrap())
                .collect();
            if !ranks.windows(2).all(|w| w[0] <= w[1]) {
                return Err(format!("not ranked: {ranks:?}"));
            }
            Ok(())
        }
    })
    .await;
    if crafted >= 8 {
        let ids = page
            .eval("[...document.querySelectorAll('.cmp-row')].map((r) => r.dataset.id)")
            .await;
        assert_eq!(
            ids,
            json!(["dinkes", "dishub"]),
            "Bapenda has nothing this month"
        );
    }
    page.screenshot(&screenshot("wall.png")).await;
    drop(browser);
    app.stop().await;
}

fn screenshot(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("screenshots")
        .join("compliance")
        .join(name)
}
