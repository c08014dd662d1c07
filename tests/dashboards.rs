//! The dashboards in a real headless Chromium: every page loads without console errors and shows
//! the API's values, a post changes the wall and the quick-wins page without a reload, a stopped
//! daemon shows the disconnect banner and a restarted one clears it, and screenshots of every
//! page are written under `target/screenshots/`.
//!
//! Needs Debian's `chromium` (`apt-get install -y chromium`); without it these tests fail.

#[path = "common/browser.rs"]
mod browser;
mod common;

use browser::Browser;
use common::*;
use serde_json::{Value, json};
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// Seeding: plausible values for every indicator, so the pages are not empty.
// ---------------------------------------------------------------------------------------------

fn day(s: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a YYYY-MM-DD date")
}

/// The expected value of an indicator definition on `d` (piecewise linear through the baseline
/// and the targets, flat outside them).
fn expected_at(ind: &Value, d: chrono::NaiveDate) -> f64 {
    let mut points = vec![(
        day(ind["baseline"]["date"].as_str().unwrap()),
        ind["baseline"]["value"].as_f64().unwrap(),
    )];
    for t in ind["targets"].as_array().unwrap() {
        points.push((
            day(t["date"].as_str().unwrap()),
            t["value"].as_f64().unwrap(),
        ));
    }
    if d <= points[0].0 {
        return points[0].1;
    }
    for w in points.windows(2) {
        let ((d0, v0), (d1, v1)) = (w[0], w[1]);
        if d <= d1 {
            let span = (d1 - d0).num_days().max(1) as f64;
            return v0 + (v1 - v0) * (d - d0).num_days() as f64 / span;
        }
    }
    points.last().unwrap().1
}

/// Days between posts for a cadence such as `1d`, `1w`, `1mo`, `3mo`, `1y`.
fn cadence_days(every: &str) -> i64 {
    match every {
        "1d" => 1,
        "1w" => 7,
        "1mo" => 30,
        "3mo" => 91,
        "1y" => 365,
        _ => 30,
    }
}

/// Observations for every indicator of `plan` (the `/api/v1/masterplan` document): most on
/// track, some at risk, off track, achieved or stale, a few without data. Deterministic.
pub fn seed_observations(plan: &Value) -> Vec<Value> {
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Jakarta)
        .date_naive();
    let mut out = Vec::new();
    for (i, ind) in plan["indicators"].as_array().unwrap().iter().enumerate() {
        if i % 11 == 10 {
            continue; // no data yet
        }
        let id = ind["id"].as_str().unwrap();
        let base = ind["baseline"]["value"].as_f64().unwrap();
        let base_date = day(ind["baseline"]["date"].as_str().unwrap());
        let step = cadence_days(ind["update_every"].as_str().unwrap_or("1mo"));
        // How far along the expected path each indicator is, and whether it stopped reporting.
        let (factor, stale) = match i % 8 {
            0..=2 => (1.02, false),
            3 => (0.91, false),
            4 => (0.55, false),
            5 => (1.0, true),
            6 => (0.97, false),
            _ => (0.80, false),
        };
        let last = if stale {
            today - chrono::Duration::days(step * 3 + 20)
        } else {
            today - chrono::Duration::days((i as i64 * 3) % step.max(1))
        };
        let count = match step {
            1 => 30,
            7 => 26,
            30 => 12,
            91 => 8,
            _ => 3,
        };
        let mut dates: Vec<chrono::NaiveDate> = (0..count)
            .map(|k| last - chrono::Duration::days(step * k))
            .filter(|d| *d > base_date)
            .collect();
        dates.reverse();
        let maintain = ind["direction"] == "maintain";
        let cumulative = ind["kind"] == "cumulative";
        let lo = ind["min"].as_f64().unwrap_or(f64::MIN);
        let hi = ind["max"].as_f64().unwrap_or(f64::MAX);
        let mut previous_total = base;
        for (k, d) in dates.iter().enumerate() {
            let wobble = (((i * 7 + k * 13) % 10) as f64 - 4.5) / 100.0;
            let e = expected_at(ind, *d);
            let value = if maintain {
                let tol = ind["tolerance"].as_f64().unwrap_or(0.0);
                let drift = if i % 2 == 0 { 0.3 } else { 1.6 };
                e + tol * drift * (1.0 + wobble)
            } else {
                base + (e - base) * (factor + wobble * 0.3)
            };
            let value = value.clamp(lo, hi);
            let posted = if cumulative {
                let inc = (value - previous_total).max(0.0);
                previous_total += inc;
                inc
            } else {
                value
            };
            let rounded = (posted * 100.0).round() / 100.0;
            out.push(json!({ "indicator": id, "time": d.to_string(), "value": rounded }));
        }
    }
    out
}

/// Notes from departments on some quick-win indicators.
pub fn seed_notes(plan: &Value) -> Vec<(String, Value)> {
    let quick: Vec<&str> = plan["programs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["quick_win"] == true)
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    let texts = [
        (
            "Anggaran perubahan baru cair bulan lalu; pengadaan perangkat tertunda.",
            "Lelang ulang dipercepat, target kontrak ditandatangani akhir bulan ini.",
        ),
        (
            "Data dari puskesmas masuk terlambat karena jaringan di dua kelurahan terputus.",
            "Diskominfo memasang ulang jaringan; entri manual sementara lewat formulir.",
        ),
        (
            "Partisipasi warga di kelurahan pinggiran masih rendah.",
            "Sosialisasi lewat kader dan RT/RW, jadwal keliling dua kali seminggu.",
        ),
    ];
    plan["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| quick.contains(&i["program"].as_str().unwrap()))
        .enumerate()
        .filter(|(k, _)| k % 2 == 0)
        .map(|(k, i)| {
            let (kendala, rtl) = texts[k / 2 % texts.len()];
            (
                i["id"].as_str().unwrap().to_string(),
                json!({ "kendala": kendala, "rencana_tindak_lanjut": rtl }),
            )
        })
        .collect()
}

async fn seed(client: &reqwest::Client, base: &str, token: &str) {
    let plan: Value = client
        .get(format!("{base}/api/v1/masterplan"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let observations = seed_observations(&plan);
    let r = client
        .post(format!("{base}/api/v1/observations"))
        .bearer_auth(token)
        .json(&json!({ "observations": observations }))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body = r.text().await.unwrap();
    assert!(status.is_success(), "seeding failed: {status} {body}");
    for (id, note) in seed_notes(&plan) {
        let r = client
            .post(format!("{base}/api/v1/indicators/{id}/notes"))
            .bearer_auth(token)
            .json(&note)
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "note on {id}: {}",
            r.text().await.unwrap()
        );
    }
}

/// Seeds a daemon you run yourself (for working on the pages):
/// `PANTAU_SEED_URL=http://127.0.0.1:8099 PANTAU_SEED_TOKEN=... cargo test --test dashboards -- --ignored seed_dev_server`
#[tokio::test]
#[ignore = "seeds a daemon you run yourself"]
async fn seed_dev_server() {
    let base = std::env::var("PANTAU_SEED_URL").expect("PANTAU_SEED_URL");
    let token = std::env::var("PANTAU_SEED_TOKEN").expect("PANTAU_SEED_TOKEN");
    let _ = rustls::crypto::ring::default_provider().install_default();
    seed(&reqwest::Client::new(), &base, &token).await;
}

// ---------------------------------------------------------------------------------------------
// Formatting as the pages do it (Intl id-ID / en-GB), to compare what is shown with the API.
// ---------------------------------------------------------------------------------------------

/// A fraction as a percentage with one decimal: 0.7673 -> "76,7%" (id) or "76.7%" (en).
fn pct(fraction: f64, lang: &str) -> String {
    let text = format!("{:.1}%", fraction * 100.0);
    if lang == "id" {
        text.replace('.', ",")
    } else {
        text
    }
}

/// A number as `num()` in format.js shows it in id-ID: grouping dots, a decimal comma, at most
/// 0, 1 or 2 decimals by size, no trailing zeros.
fn num_id(x: f64) -> String {
    let digits = if x.abs() >= 1000.0 {
        0
    } else if x.abs() >= 100.0 {
        1
    } else {
        2
    };
    let text = format!("{:.*}", digits, x.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let frac = frac.trim_end_matches('0');
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(c);
    }
    let sign = if x < 0.0 { "-" } else { "" };
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped},{frac}")
    }
}

#[test]
fn formats_like_the_pages() {
    assert_eq!(pct(0.7673, "id"), "76,7%");
    assert_eq!(pct(0.7673, "en"), "76.7%");
    assert_eq!(num_id(3935.38), "3.935");
    assert_eq!(num_id(97.4), "97,4");
    assert_eq!(num_id(161.1), "161,1");
    assert_eq!(num_id(4.81), "4,81");
}

// ---------------------------------------------------------------------------------------------
// Running the daemon on a chosen address, so a restart comes back on the same port.
// ---------------------------------------------------------------------------------------------

struct Daemon {
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Daemon {
    async fn start(config_path: &std::path::Path, addr: &str) -> Daemon {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = pantau::config::Config::load(Some(config_path)).expect("valid test config");
        // The old socket may linger for a moment after a stop.
        let mut listener = None;
        for _ in 0..100 {
            match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => {
                    listener = Some(l);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let listener = listener.unwrap_or_else(|| panic!("cannot bind {addr} again"));
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(pantau::server::run(
            config,
            listener,
            pantau::app::RunOptions::default(),
            async move {
                let _ = rx.await;
            },
        ));
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if let Ok(r) = client.get(format!("http://{addr}/healthz")).send().await {
                if r.status().is_success() {
                    return Daemon {
                        addr,
                        stop: Some(tx),
                        handle,
                    };
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("daemon did not start on {addr}");
    }

    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(Duration::from_secs(20), self.handle)
            .await
            .expect("daemon stops within 20 s")
            .unwrap()
            .expect("daemon exits cleanly");
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn screenshot_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("screenshots")
        .join(name)
}

async fn get_json(base: &str, path: &str) -> Value {
    reqwest::get(format!("{base}{path}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Loads `path`, waits until the page has drawn its data, and fails on console errors.
async fn open(page: &browser::Page, base: &str, path: &str) {
    page.clear_errors();
    page.goto(&format!("{base}{path}")).await;
    let ready = page
        .wait_for(
            "document.body.dataset.ready === '1'",
            Duration::from_secs(10),
        )
        .await;
    assert!(
        ready.is_some(),
        "{path} did not draw its data within 10 s; errors: {:?}",
        page.errors()
    );
    // Let sparklines and charts settle before reading or taking pictures.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        page.errors(),
        Vec::<String>::new(),
        "console errors on {path}"
    );
}

async fn text(page: &browser::Page, selector: &str) -> String {
    let js = format!(
        "(document.querySelector({}) || {{}}).textContent",
        json!(selector)
    );
    page.eval(&js)
        .await
        .as_str()
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| panic!("nothing matches `{selector}`"))
}

/// Waits until `selector`'s text equals `expected`; the text seen last when it does not.
async fn wait_text(
    page: &browser::Page,
    selector: &str,
    expected: &str,
    within: Duration,
) -> Result<(), String> {
    let js = format!(
        "(() => {{ const el = document.querySelector({}); return !!el && el.textContent.trim() === {}; }})()",
        json!(selector),
        json!(expected)
    );
    if page.wait_for(&js, within).await.is_some() {
        return Ok(());
    }
    let seen = page
        .eval(&format!(
            "(document.querySelector({}) || {{}}).textContent",
            json!(selector)
        ))
        .await;
    Err(format!("`{selector}` shows {seen} instead of `{expected}`"))
}

/// Fails unless every element matching `selector` lies entirely inside the viewport.
async fn all_on_screen(page: &browser::Page, selector: &str) {
    let js = format!(
        "[...document.querySelectorAll({})].filter(e => {{ const r = e.getBoundingClientRect(); \
         return !(r.width > 0 && r.left >= 0 && r.top >= 0 && r.right <= innerWidth + 0.5 && r.bottom <= innerHeight + 0.5); }}).map(e => e.dataset.id || e.className)",
        json!(selector)
    );
    let off = page.eval(&js).await;
    assert_eq!(off, json!([]), "`{selector}` elements outside the screen");
}

/// The text rules for a page at a screen size: on the wall nothing under 24 px at 1080p (scaled
/// with the screen) and nothing below the screen; at a desk nothing under 12 px.
fn rules_for(path: &str, width: u32, height: u32) -> browser::TextRules {
    if path.starts_with("/wall") {
        let scale = (width as f64 / 1920.0).min(height as f64 / 1080.0);
        browser::TextRules {
            min_px: 24.0 * scale,
            clip_viewport_y: true,
        }
    } else {
        browser::TextRules {
            min_px: 12.0,
            clip_viewport_y: false,
        }
    }
}

async fn seeded_app() -> TestApp {
    let app = spawn_app().await;
    seed(&app.client, &app.base, ADMIN).await;
    app
}

/// Risk order of statuses, as the quick-wins page sorts them.
fn risk(status: &str) -> usize {
    ["off_track", "at_risk", "no_data", "on_track", "achieved"]
        .iter()
        .position(|s| *s == status)
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_page_loads_without_errors_and_shows_the_api_values() {
    let app = seeded_app().await;
    let base = app.base.clone();
    let progress = get_json(&base, "/api/v1/progress").await;
    let plan = get_json(&base, "/api/v1/masterplan").await;
    let browser = Browser::launch().await;
    let page = browser.new_page(1920, 1080).await;

    // The start page lists the screens and the departments.
    open(&page, &base, "/").await;
    let screens = get_json(&base, "/api/v1/screens").await;
    for s in screens["configured"].as_array().unwrap() {
        let id = s["id"].as_str().unwrap();
        let label = text(&page, &format!("[data-screen='{id}'] h3")).await;
        assert_eq!(label, s["label"].as_str().unwrap());
        let links = page
            .eval(&format!(
                "document.querySelectorAll(\"[data-screen='{id}'] .page-links a\").length"
            ))
            .await;
        assert_eq!(
            links,
            json!(s["pages"].as_array().unwrap().len()),
            "a link per page of {id}"
        );
    }
    let departments = page
        .eval("document.querySelectorAll('[data-department]').length")
        .await;
    assert_eq!(
        departments,
        json!(plan["departments"].as_array().unwrap().len())
    );
    page.screenshot(&screenshot_path("index.png")).await;

    // The wall: the masterplan total, each dimension, counts per status, a clock in WIB.
    open(&page, &base, "/wall?screen=wall-1").await;
    let m = &progress["masterplan"];
    assert_eq!(
        text(&page, "[data-id='masterplan'] .value-progress").await,
        pct(m["progress"].as_f64().unwrap(), "id")
    );
    assert_eq!(
        text(&page, "[data-id='masterplan'] .value-expected").await,
        pct(m["expected"].as_f64().unwrap(), "id")
    );
    for status in [
        "achieved",
        "on_track",
        "at_risk",
        "off_track",
        "no_data",
        "stale",
    ] {
        assert_eq!(
            text(
                &page,
                &format!("[data-id='masterplan'] [data-count='{status}']")
            )
            .await,
            m["counts"][status].to_string(),
            "count of {status}"
        );
    }
    for d in progress["dimensions"].as_array().unwrap() {
        let id = d["id"].as_str().unwrap();
        assert_eq!(
            text(&page, &format!("[data-id='{id}'] h2")).await,
            d["name"].as_str().unwrap()
        );
        assert_eq!(
            text(&page, &format!("[data-id='{id}'] .value-progress")).await,
            pct(d["progress"].as_f64().unwrap(), "id")
        );
        let label = text(&page, &format!("[data-id='{id}'] .badge")).await;
        assert!(
            !label.is_empty(),
            "{id} shows its status as text, not colour alone"
        );
    }
    let clock = text(&page, "#clock-time").await;
    assert!(clock.ends_with("WIB"), "clock shows the zone: {clock}");
    assert_eq!(text(&page, "#title").await, "Ringkasan");
    let sparks = page
        .eval("document.querySelectorAll('.spark canvas').length")
        .await;
    // The masterplan's trend always; the dimensions' where their tiles have room for it.
    assert!(sparks.as_u64().unwrap() >= 1, "sparklines drawn: {sparks}");
    all_on_screen(&page, ".tile").await;
    page.screenshot(&screenshot_path("wall.png")).await;

    // The wall's quick-wins page: every quick win, highest risk first.
    open(&page, &base, "/wall?screen=wall-1&page=quick-wins").await;
    let quick: Vec<&Value> = progress["programs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["quick_win"] == true)
        .collect();
    let (parts, shown_all) = over_parts(
        &page,
        "[...document.querySelectorAll('.qw-row')].map(r => r.dataset.status)",
    )
    .await;
    let shown: Vec<&str> = shown_all.iter().filter_map(Value::as_str).collect();
    assert_eq!(
        shown.len(),
        quick.len(),
        "every quick win on the wall, over {parts} parts"
    );
    assert!(
        shown.windows(2).all(|w| risk(w[0]) <= risk(w[1])),
        "sorted by risk: {shown:?}"
    );
    all_on_screen(&page, ".qw-row").await;
    page.screenshot(&screenshot_path("wall-quick-wins.png"))
        .await;

    // A dimension page of the second screen.
    open(&page, &base, "/wall?screen=wall-2").await;
    let gov = progress["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "governance")
        .unwrap();
    assert_eq!(text(&page, "#title").await, gov["name"].as_str().unwrap());
    let (_, rows) = over_parts(
        &page,
        "[...document.querySelectorAll('.ind')].map(r => r.dataset.id)",
    )
    .await;
    let gov_indicators = progress["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["dimension"] == "governance")
        .count();
    assert_eq!(
        rows.len(),
        gov_indicators,
        "every indicator, over the page's parts"
    );
    all_on_screen(&page, ".ind").await;
    page.screenshot(&screenshot_path("wall-dimension.png"))
        .await;
    // Every dimension's page fits the screen.
    for d in progress["dimensions"].as_array().unwrap() {
        let id = d["id"].as_str().unwrap();
        open(
            &page,
            &base,
            &format!("/wall?screen=wall-2&page=dimension:{id}"),
        )
        .await;
        all_on_screen(&page, ".ind").await;
    }

    // The wall in 4K looks the same, only sharper.
    let big = browser.new_page(3840, 2160).await;
    open(&big, &base, "/wall?screen=wall-1").await;
    assert_eq!(
        text(&big, "[data-id='masterplan'] .value-progress").await,
        pct(m["progress"].as_f64().unwrap(), "id")
    );
    let fits = big.eval("document.documentElement.scrollHeight <= innerHeight && document.documentElement.scrollWidth <= innerWidth").await;
    assert_eq!(fits, json!(true), "the 4K wall fits the screen");
    all_on_screen(&big, ".tile").await;
    big.screenshot(&screenshot_path("wall-4k.png")).await;

    // English on request.
    open(&page, &base, "/wall?screen=wall-1&lang=en").await;
    assert_eq!(text(&page, "#title").await, "Overview");
    assert_eq!(
        text(&page, "[data-id='masterplan'] .value-progress").await,
        pct(m["progress"].as_f64().unwrap(), "en")
    );
    let label = text(&page, "[data-id='masterplan'] .badge").await;
    let english = ["Achieved", "On track", "At risk", "Off track", "No data"];
    assert!(
        english.contains(&label.as_str()),
        "English status label: {label}"
    );
    page.screenshot(&screenshot_path("wall-en.png")).await;

    // Quick wins for leadership.
    open(&page, &base, "/quick-wins").await;
    let shown = page
        .eval("[...document.querySelectorAll('tr.row-main')].map(r => r.dataset.id)")
        .await;
    assert_eq!(shown.as_array().unwrap().len(), quick.len());
    for p in &quick {
        let id = p["id"].as_str().unwrap();
        let sel = format!("tr.row-main[data-id='{id}'] .value-progress");
        assert_eq!(
            text(&page, &sel).await,
            pct(p["progress"].as_f64().unwrap(), "id"),
            "progress of {id}"
        );
        let due = page
            .eval(&format!(
                "document.querySelector(\"tr.row-main[data-id='{id}'] [data-days]\").dataset.days"
            ))
            .await;
        let expected_days =
            (chrono::NaiveDate::parse_from_str(p["due"].as_str().unwrap(), "%Y-%m-%d").unwrap()
                - chrono::NaiveDate::parse_from_str(&jakarta_date(0), "%Y-%m-%d").unwrap())
            .num_days();
        assert_eq!(
            due,
            json!(expected_days.to_string()),
            "days to the due date of {id}"
        );
    }
    page.screenshot(&screenshot_path("quick-wins.png")).await;
    let english = browser.new_page(1920, 1080).await;
    open(&english, &base, "/quick-wins?lang=en").await;
    assert_eq!(text(&english, "#title").await, "Quick Wins");

    // Drill-down: an indicator of a quick win with data.
    let with_data =
        |i: &&Value| i["quick_win"] == true && i["kind"] == "level" && !i["current"].is_null();
    let indicators = progress["indicators"].as_array().unwrap();
    let ind = indicators
        .iter()
        .filter(with_data)
        .find(|i| !i["forecast"].is_null() && i["update_every"] != "1d")
        .or_else(|| indicators.iter().find(with_data))
        .expect("a quick-win indicator with data");
    let id = ind["id"].as_str().unwrap();
    open(&page, &base, &format!("/quick-wins?indicator={id}")).await;
    page.wait_for(
        "document.getElementById('drawer').dataset.ready === '1'",
        Duration::from_secs(10),
    )
    .await
    .expect("drill-down opens");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        text(&page, "#drawer-title").await,
        ind["name"].as_str().unwrap()
    );
    let canvas = page
        .eval("!!document.querySelector('#trajectory canvas')")
        .await;
    assert_eq!(canvas, json!(true), "the trajectory chart is drawn");
    let legend = page
        .eval("document.querySelectorAll('#trajectory .u-legend .u-series').length")
        .await;
    assert_eq!(
        legend,
        json!(5),
        "date, actual, expected, targets, forecast"
    );
    assert!(
        text(&page, "#drawer .value-current")
            .await
            .starts_with(&num_id(ind["current"].as_f64().unwrap()))
    );
    assert_eq!(page.errors(), Vec::<String>::new());
    page.screenshot(&screenshot_path("quick-wins-indicator.png"))
        .await;

    // The plan's code, person in charge and data source, in the drill-down and on the
    // department's page.
    open(&page, &base, "/quick-wins?indicator=economy.tax.pad").await;
    page.wait_for(
        "document.getElementById('drawer').dataset.ready === '1'",
        Duration::from_secs(10),
    )
    .await
    .expect("drill-down opens");
    let meta = text(&page, "#drawer .ind-meta").await;
    for part in [
        "Kode IKU-3.1",
        "Penanggung jawab: Drs. Hadi Santoso, Kepala Bidang Pendapatan",
        "Sumber data: SIPD dan e-Pajak Bapenda",
    ] {
        assert!(meta.contains(part), "`{part}` in `{meta}`");
    }
    open(&page, &base, "/department/bapenda").await;
    let row = "#ind-body tr[data-id='economy.tax.pad']";
    assert_eq!(text(&page, &format!("{row} .ind-code")).await, "IKU-3.1");
    let meta = text(&page, &format!("{row} .ind-meta")).await;
    assert!(
        meta.contains("Drs. Hadi Santoso, Kepala Bidang Pendapatan")
            && meta.contains("SIPD dan e-Pajak Bapenda"),
        "{meta}"
    );

    // A department's page: its indicators with their values, and the stale ones.
    open(&page, &base, "/department/dinkes").await;
    let mine: Vec<&Value> = progress["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["department"] == "dinkes")
        .collect();
    assert_eq!(
        page.eval("document.querySelectorAll('#ind-body tr').length")
            .await,
        json!(mine.len())
    );
    for i in &mine {
        let id = i["id"].as_str().unwrap();
        let shown = text(
            &page,
            &format!("#ind-body tr[data-id='{id}'] .value-current"),
        )
        .await;
        match i["current"].as_f64() {
            Some(c) => assert!(
                shown.starts_with(&num_id(c)),
                "{id}: `{shown}` shows {}",
                num_id(c)
            ),
            None => assert_eq!(shown, "–"),
        }
    }
    let overdue = page
        .eval("document.querySelectorAll('#overdue li').length")
        .await;
    let expected_overdue = mine
        .iter()
        .filter(|i| i["stale"] == true || i["last_update"].is_null())
        .count();
    assert_eq!(
        overdue,
        json!(expected_overdue),
        "stale or never reported indicators are listed as overdue"
    );
    assert!(text(&page, "#title").await.starts_with("Dinas Kesehatan"));
    page.screenshot(&screenshot_path("department.png")).await;

    // An unknown department says so.
    page.clear_errors();
    page.goto(&format!("{base}/department/nope")).await;
    let msg = page
        .wait_for(
            "document.getElementById('page-error').textContent",
            Duration::from_secs(5),
        )
        .await;
    assert!(msg.unwrap().as_str().unwrap().contains("nope"));

    drop(browser);
    app.stop().await;
}

#[tokio::test]
async fn a_post_changes_the_wall_and_quick_wins_within_two_seconds_without_a_reload() {
    let app = seeded_app().await;
    let base = app.base.clone();
    let before = get_json(&base, "/api/v1/progress").await;
    let browser = Browser::launch().await;
    let wall = browser.new_page(1920, 1080).await;
    open(&wall, &base, "/wall?screen=wall-1").await;
    let quick = browser.new_page(1920, 1080).await;
    open(&quick, &base, "/quick-wins").await;
    for page in [&wall, &quick] {
        page.eval("window.__marker = 'still-here'").await;
    }

    // Every indicator of the furthest-behind quick win reaches its final target.
    let program = before["programs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["quick_win"] == true && p["status"] != "achieved" && p["status"] != "no_data")
        .min_by(|a, b| {
            a["progress"]
                .as_f64()
                .partial_cmp(&b["progress"].as_f64())
                .unwrap()
        })
        .expect("a quick win behind its targets");
    let pid = program["id"].as_str().unwrap();
    let observations: Vec<Value> = before["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["program"] == pid && i["direction"] != "maintain")
        .map(|i| {
            let target = i["target"]["value"].as_f64().unwrap();
            let value = if i["kind"] == "cumulative" {
                (target - i["current"].as_f64().unwrap_or(0.0)).max(1.0)
            } else {
                target
            };
            json!({ "indicator": i["id"], "time": jakarta_date(0), "value": value })
        })
        .collect();
    let (status, body) = app
        .post_json(
            "/api/v1/observations",
            Some(ADMIN),
            &json!({ "observations": observations }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let posted = std::time::Instant::now();
    let after = get_json(&base, "/api/v1/progress").await;
    let p_after = after["programs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == pid)
        .unwrap();
    let p_text = pct(p_after["progress"].as_f64().unwrap(), "id");
    assert_ne!(
        p_text,
        pct(program["progress"].as_f64().unwrap(), "id"),
        "the post moves the program"
    );
    let m_text = pct(after["masterplan"]["progress"].as_f64().unwrap(), "id");
    let dim = p_after["dimension"].as_str().unwrap();
    let d_after = after["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == dim)
        .unwrap();
    let d_text = pct(d_after["progress"].as_f64().unwrap(), "id");
    let d_before = before["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == dim)
        .unwrap();
    assert_ne!(
        d_text,
        pct(d_before["progress"].as_f64().unwrap(), "id"),
        "the post moves the dimension"
    );

    let within = Duration::from_secs(2).saturating_sub(posted.elapsed());
    wait_text(
        &wall,
        &format!("[data-id='{dim}'] .value-progress"),
        &d_text,
        within,
    )
    .await
    .unwrap();
    wait_text(
        &wall,
        "[data-id='masterplan'] .value-progress",
        &m_text,
        Duration::from_millis(200),
    )
    .await
    .unwrap();
    let within = Duration::from_secs(2).saturating_sub(posted.elapsed());
    wait_text(
        &quick,
        &format!("tr.row-main[data-id='{pid}'] .value-progress"),
        &p_text,
        within,
    )
    .await
    .unwrap();
    assert!(posted.elapsed() < Duration::from_secs(3));
    for page in [&wall, &quick] {
        assert_eq!(
            page.eval("window.__marker").await,
            json!("still-here"),
            "the page was not reloaded"
        );
        assert_eq!(
            page.eval("performance.getEntriesByType('navigation').length")
                .await,
            json!(1)
        );
        assert_eq!(page.errors(), Vec::<String>::new());
    }
    drop(browser);
    app.stop().await;
}

#[tokio::test]
async fn a_department_posts_a_value_and_a_note_through_its_page() {
    let app = seeded_app().await;
    let base = app.base.clone();
    let token = app.token("dinkes");
    let browser = Browser::launch().await;
    let page = browser.new_page(1920, 1080).await;
    open(&page, &base, "/department/dinkes").await;

    let id = "living.health.immunization";
    let fill = format!(
        "document.getElementById('token').value = {};
         document.getElementById('obs-indicator').value = '{id}';
         document.getElementById('obs-value').value = '98,25';
         document.getElementById('obs-form').requestSubmit();",
        json!(token)
    );
    page.eval(&fill).await;
    let result = page.wait_for("document.querySelector('#obs-result.ok') && document.querySelector('#obs-result').textContent.includes('baris diterima') && document.querySelector('#obs-result').textContent", Duration::from_secs(5)).await;
    assert!(
        result.is_some(),
        "the post is answered: {:?}",
        page.eval("document.getElementById('obs-result').textContent")
            .await
    );
    let current = app.indicator(id).await;
    assert_eq!(
        current["current"],
        json!(98.25),
        "the decimal comma was read"
    );
    wait_text(
        &page,
        &format!("#ind-body tr[data-id='{id}'] .value-current"),
        "98,25%",
        Duration::from_secs(2),
    )
    .await
    .unwrap();

    // A wrong token is refused with the server's message, and nothing else changes.
    page.eval("document.getElementById('token').value = 'wrong-token'; document.getElementById('obs-value').value = '1'; document.getElementById('obs-form').requestSubmit();").await;
    let refused = page.wait_for("document.querySelector('#obs-result.err') && document.querySelector('#obs-result').textContent", Duration::from_secs(5)).await;
    assert!(refused.is_some(), "a wrong token is reported");
    assert_eq!(app.indicator(id).await["current"], json!(98.25));

    // A note reaches the quick-wins data.
    let note = format!(
        "document.getElementById('token').value = {};
         document.getElementById('note-indicator').value = '{id}';
         document.getElementById('note-kendala').value = 'Vaksin terlambat datang dari provinsi';
         document.getElementById('note-rtl').value = 'Jadwal ulang posyandu pekan depan';
         document.getElementById('note-form').requestSubmit();",
        json!(token)
    );
    page.eval(&note).await;
    let saved = page.wait_for("document.querySelector('#note-result.ok') && document.querySelector('#note-result').textContent", Duration::from_secs(5)).await;
    assert_eq!(saved, Some(json!("Catatan tersimpan.")));
    let with_note = app.indicator(id).await;
    assert_eq!(
        with_note["note"]["kendala"],
        "Vaksin terlambat datang dari provinsi"
    );

    // The value appears in the revision history once it is corrected.
    page.eval(&format!(
        "document.getElementById('token').value = {}; document.getElementById('obs-value').value = '98,5'; document.getElementById('obs-form').requestSubmit();",
        json!(token)
    ))
    .await;
    let rev = page.wait_for("[...document.querySelectorAll('#revisions td.rev-new')].some(td => td.textContent.trim() === '98,5%')", Duration::from_secs(5)).await;
    assert!(rev.is_some(), "the correction is in the revision history");
    // An upload: a CSV the way spreadsheets in Indonesia write it (";" and a decimal comma).
    let csv = app.dir.path().join("dinkes.csv");
    std::fs::write(
        &csv,
        format!(
            "indicator;time;value\nliving.health.stunting;{};7,9\nliving.health.stunting;{};7,7\n",
            jakarta_date(40),
            jakarta_date(10)
        ),
    )
    .unwrap();
    page.set_file("#upload-file", &csv).await;
    page.eval("document.getElementById('upload-form').requestSubmit()")
        .await;
    let uploaded = page
        .wait_for("document.querySelector('#upload-result.ok') && document.querySelector('#upload-result').textContent", Duration::from_secs(5))
        .await;
    assert_eq!(
        uploaded,
        Some(json!("2 baris diterima: 2 baru, 0 dikoreksi, 0 tetap."))
    );
    wait_text(
        &page,
        "#ind-body tr[data-id='living.health.stunting'] .value-current",
        "7,7%",
        Duration::from_secs(2),
    )
    .await
    .unwrap();
    // A file with a bad row is refused with the row, the reason and the fix.
    std::fs::write(
        &csv,
        "indicator;time;value\nliving.health.stunting;kemarin;7,5\n",
    )
    .unwrap();
    page.set_file("#upload-file", &csv).await;
    page.eval("document.getElementById('upload-form').requestSubmit()")
        .await;
    let refused = page
        .wait_for("document.querySelector('#upload-result.err li') && document.querySelector('#upload-result').textContent", Duration::from_secs(5))
        .await;
    let refused = refused.expect("the bad row is reported");
    assert!(refused.as_str().unwrap().contains("Baris"), "{refused}");
    page.eval("document.getElementById('upload-result').scrollIntoView({ block: 'center' })")
        .await;
    page.screenshot(&screenshot_path("department-upload-error.png"))
        .await;
    page.eval("window.scrollTo(0, 0)").await;

    let errors: Vec<String> = page
        .errors()
        .into_iter()
        .filter(|e| !e.contains("401") && !e.contains("403") && !e.contains("422"))
        .collect();
    assert_eq!(errors, Vec::<String>::new());
    page.screenshot(&screenshot_path("department-posted.png"))
        .await;
    drop(browser);
    app.stop().await;
}

#[tokio::test]
async fn a_stopped_daemon_shows_the_banner_and_a_restarted_one_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &example_masterplan(), "");
    let daemon = Daemon::start(&config, "127.0.0.1:0").await;
    let addr = daemon.addr.to_string();
    let base = daemon.base();
    let client = reqwest::Client::new();
    seed(&client, &base, ADMIN).await;
    let browser = Browser::launch().await;
    let page = browser.new_page(1920, 1080).await;
    open(&page, &base, "/wall?screen=wall-1").await;
    page.eval("window.__marker = 'still-here'").await;
    assert_eq!(
        page.eval("document.getElementById('banner').hidden").await,
        json!(true)
    );

    daemon.stop().await;
    let banner = page
        .wait_for("!document.getElementById('banner').hidden && document.getElementById('banner').textContent", Duration::from_secs(5))
        .await
        .expect("the disconnect banner appears");
    let banner = banner.as_str().unwrap().to_string();
    assert!(
        banner.starts_with("Koneksi terputus - data per "),
        "{banner}"
    );
    assert!(banner.contains(" WIB"), "{banner}");
    assert_eq!(
        page.eval("document.body.dataset.live").await,
        json!("offline")
    );
    page.screenshot(&screenshot_path("wall-disconnected.png"))
        .await;

    let daemon = Daemon::start(&config, &addr).await;
    let back = page
        .wait_for(
            "document.getElementById('banner').hidden && document.body.dataset.live === 'live'",
            Duration::from_secs(20),
        )
        .await;
    assert!(back.is_some(), "the banner goes away after the restart");

    // Data flows again: a post reaches the page.
    let progress = get_json(&base, "/api/v1/progress").await;
    let ind = progress["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| {
            i["status"] == "off_track" && i["kind"] == "level" && i["direction"] != "maintain"
        })
        .expect("an indicator off track");
    let dim = ind["dimension"].as_str().unwrap().to_string();
    let r = client
        .post(format!("{base}/api/v1/observations"))
        .bearer_auth(ADMIN)
        .json(&json!({ "observations": [{ "indicator": ind["id"], "time": jakarta_date(0), "value": ind["target"]["value"] }] }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let after = get_json(&base, "/api/v1/progress").await;
    let d = after["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == dim.as_str())
        .unwrap();
    wait_text(
        &page,
        &format!("[data-id='{dim}'] .value-progress"),
        &pct(d["progress"].as_f64().unwrap(), "id"),
        Duration::from_secs(2),
    )
    .await
    .unwrap();
    assert_eq!(
        page.eval("window.__marker").await,
        json!("still-here"),
        "recovered without a reload"
    );
    let unexpected: Vec<String> = page
        .errors()
        .into_iter()
        .filter(|e| {
            !e.contains("WebSocket")
                && !e.contains("ERR_CONNECTION_REFUSED")
                && !e.contains("Failed to load resource")
        })
        .collect();
    assert_eq!(unexpected, Vec::<String>::new());
    drop(browser);
    daemon.stop().await;
}

/// Screenshots of a daemon you run yourself (for working on the pages), with the text problems
/// each page has:
/// `PANTAU_SEED_URL=http://127.0.0.1:8099 PANTAU_PAGES=/,/wall?screen=wall-1 PANTAU_SIZE=1920x1080 cargo test --test dashboards -- --ignored dev_screenshots --nocapture`
#[tokio::test]
#[ignore = "screenshots a daemon you run yourself"]
async fn dev_screenshots() {
    let base = std::env::var("PANTAU_SEED_URL").expect("PANTAU_SEED_URL");
    let pages = std::env::var("PANTAU_PAGES").unwrap_or_else(|_| "/wall?screen=wall-1".into());
    let size = std::env::var("PANTAU_SIZE").unwrap_or_else(|_| "1920x1080".into());
    let (w, h) = size.split_once('x').unwrap();
    let (w, h): (u32, u32) = (w.parse().unwrap(), h.parse().unwrap());
    let browser = Browser::launch().await;
    let page = browser.new_page(w, h).await;
    for (k, path) in pages.split(',').enumerate() {
        page.goto(&format!("{base}{path}")).await;
        page.wait_for(
            "document.body.dataset.ready === '1'",
            Duration::from_secs(10),
        )
        .await;
        let wait = std::env::var("PANTAU_WAIT_MS")
            .ok()
            .and_then(|w| w.parse().ok())
            .unwrap_or(700);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        page.screenshot(&std::path::PathBuf::from(format!("/tmp/dev-{k}.png")))
            .await;
        let problems = page.text_problems(rules_for(path, w, h)).await;
        println!("{path} at {size}: {} problems", problems.len());
        for p in problems {
            println!("  {p}");
        }
    }
    println!("errors: {:?}", page.errors());
}

// ---------------------------------------------------------------------------------------------
// Readable from across the room, at every size, for every kind of page
// ---------------------------------------------------------------------------------------------

/// A screens file with every kind of page, in both forms.
const COMPOSED_SCREENS: &str = r#"
[[screen]]
id = "wall-1"
label = "Ringkasan"
pages = ["overview", "quick-wins"]

[[screen]]
id = "wall-all"
label = "Setiap jenis halaman"
interval_seconds = 20
pages = [
  "dimension:governance",
  { kind = "program", program = "gov.spbe", seconds = 25 },
  { kind = "numbers", title = "Angka utama kota", indicators = ["living.health.stunting", "economy.welfare.poverty", "brand.business.investment", "economy.tax.pad", "brand.heritage.visitors", "env.waste.sorted"] },
  { kind = "chart", indicator = "brand.business.investment" },
  { kind = "department", department = "diskominfo" },
  "feeds",
  { kind = "quick-wins", dimension = "governance" },
  { kind = "quick-wins", department = "dinkes" },
  "dimension:economy",
  "compliance",
]
"#;

/// Two feeds whose upstream is not there (nothing listens on the discard port): the feeds page
/// shows them down with their error.
const DEAD_FEEDS: &str = r#"
[[feed]]
id = "dinkes-gizi-e-ppgbm-bulanan"
department = "dinkes"
url = "http://127.0.0.1:9/api/gizi"
format = "json"
schedule = "*/5 * * * *"
timeout = "2s"
[feed.json]
points = [{ indicator = "living.health.stunting", value = "/data/prevalensi" }]

[[feed]]
id = "dlh-ispu"
department = "dlh"
url = "http://127.0.0.1:9/ispu.csv"
format = "csv"
schedule = "0 * * * *"
run_at_start = false
[feed.csv]
time_column = "tanggal"
series = [{ indicator = "env.air.ispu-mean", aggregate = "mean", column = "max" }]
"#;

/// The example city with the demo's few years of history, and the composed screens.
async fn city_with_history() -> TestApp {
    city_with_history_and("").await
}

/// `city_with_history` with `more` (such as more feeds) added to its masterplan.
async fn city_with_history_and(more: &str) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let plan = format!("{}\n{DEAD_FEEDS}\n{more}", example_masterplan());
    let config_path = write_config(dir.path(), &plan, "");
    std::fs::write(dir.path().join("screens.toml"), COMPOSED_SCREENS).unwrap();
    let config = pantau::config::Config::load(Some(&config_path)).expect("valid config");
    let now = chrono::Utc::now().timestamp_millis();
    let history = pantau::demo::history(&config, now);
    assert!(history.len() > 1000, "plausible history: {}", history.len());
    let db = config.settings.database.clone();
    tokio::task::spawn_blocking(move || {
        pantau::store::backfill(&db, history, pantau::domain::Source::Import).unwrap()
    })
    .await
    .unwrap();
    start_in(dir, config_path, pantau::app::RunOptions::default()).await
}

/// True once the report preview's frame holds the HTML report, loaded.
const PREVIEW_LOADED: &str = "(() => { const f = document.getElementById('preview'); const d = f && f.contentDocument; return !!d && f.dataset.ready === '1' && d.readyState === 'complete' && d.location.href.includes('/api/v1/reports/evaluation') && !!d.body && d.body.textContent.trim().length > 0; })()";

/// Evaluates `list_js` (an expression giving an array) on every part of the wall page shown now
/// (a page with more than fits rotates through parts) and returns the number of parts and all
/// the items.
async fn over_parts(page: &browser::Page, list_js: &str) -> (u64, Vec<Value>) {
    let parts = page
        .eval("Number(document.body.dataset.parts || 1)")
        .await
        .as_u64()
        .unwrap_or(1);
    let mut all = Vec::new();
    for k in 0..parts {
        if k > 0 {
            page.eval("window.__pantauNextPart && window.__pantauNextPart()")
                .await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        if let Value::Array(items) = page.eval(list_js).await {
            all.extend(items);
        }
    }
    (parts, all)
}

/// Opens every part of the wall page `path` shows (a page with more than fits rotates through
/// parts) and returns the text problems of each, with the number of parts.
async fn wall_parts(
    page: &browser::Page,
    base: &str,
    path: &str,
    rules: browser::TextRules,
) -> (usize, Vec<String>) {
    open(page, base, path).await;
    let parts: usize = page
        .eval("Number(document.body.dataset.parts || 1)")
        .await
        .as_u64()
        .unwrap_or(1) as usize;
    let mut problems = Vec::new();
    for k in 0..parts {
        if k > 0 {
            // Move the rotation on by hand instead of waiting the page's seconds.
            page.eval("window.__pantauNextPart && window.__pantauNextPart()")
                .await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        for p in page.text_problems(rules).await {
            problems.push(format!("{path} part {}: {p}", k + 1));
        }
    }
    (parts, problems)
}

#[tokio::test]
async fn every_page_is_readable_at_every_size_with_nothing_cut_off() {
    let app = city_with_history().await;
    let base = app.base.clone();
    let screens = get_json(&base, "/api/v1/screens").await;
    let all = screens["configured"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "wall-all")
        .unwrap();
    let kinds: std::collections::HashSet<&str> = screens["configured"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["pages"].as_array().unwrap())
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.len(),
        pantau::config::PAGE_KINDS.len(),
        "every kind of page is on a screen: {kinds:?}"
    );
    let browser = Browser::launch().await;
    let mut problems = Vec::new();
    for (w, h) in [(1920, 1080), (3840, 2160)] {
        let page = browser.new_page(w, h).await;
        let mut paths = vec![
            "/wall?screen=wall-1&page=1".to_string(),
            "/wall?screen=wall-1&page=2".to_string(),
        ];
        for k in 1..=all["pages"].as_array().unwrap().len() {
            paths.push(format!("/wall?screen=wall-all&page={k}"));
        }
        for path in &paths {
            let (parts, found) = wall_parts(&page, &base, path, rules_for(path, w, h)).await;
            problems.extend(found.into_iter().map(|p| format!("{w}x{h} {p}")));
            // A page that fills the screen: its flow holds more than half of the room it has.
            let kind = page.eval("document.body.dataset.kind").await;
            let empty = page.eval("!!document.querySelector('.empty-hint')").await;
            let units = page
                .eval("document.querySelectorAll('.flow > .unit').length")
                .await;
            if parts == 1 && empty != json!(true) && units.as_u64().unwrap_or(0) >= 4 {
                let filled = page
                    .eval("(() => { const f = document.querySelector('.flow'); if (!f || !f.children.length) return 1; const r = f.getBoundingClientRect(); let used = 0; for (const c of f.children) for (const b of c.getClientRects()) used += b.width * b.height; return used / (r.width * r.height); })()")
                    .await;
                assert!(
                    filled.as_f64().unwrap() > 0.45,
                    "{path} ({kind}) leaves most of the screen empty: {filled}"
                );
            }
            let name = path.replace(['/', '?', '&', '='], "_");
            page.screenshot(&screenshot_path(&format!("readable/{w}x{h}{name}.png")))
                .await;
            assert_eq!(page.errors(), Vec::<String>::new(), "{path}");
        }
        // The wall shows the full value where it shortens one.
        open(&page, &base, "/wall?screen=wall-all&page=3").await;
        let shortened = page
            .eval("(() => { const el = document.querySelector(\"[data-id='brand.business.investment'] .value-current\"); return [el.textContent.trim(), el.title]; })()")
            .await;
        let (shown, full) = (
            shortened[0].as_str().unwrap(),
            shortened[1].as_str().unwrap(),
        );
        assert!(shown.starts_with("Rp ") && shown.ends_with(" M"), "{shown}");
        assert!(
            full.starts_with("Rp ") && full.matches('.').count() >= 3,
            "{full}"
        );
    }
    // The events footer shows the latest events in full.
    let page = browser.new_page(1920, 1080).await;
    open(&page, &base, "/wall?screen=wall-1&page=1").await;
    let progress = get_json(&base, "/api/v1/progress").await;
    let long = progress["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| {
            i["kind"] == "level" && i["direction"] == "increase" && i["status"] != "achieved"
        })
        .max_by_key(|i| i["name"].as_str().unwrap().len())
        .unwrap();
    let (status, body) = app
        .post_json(
            "/api/v1/observations",
            Some(ADMIN),
            &json!({ "observations": [{ "indicator": long["id"], "time": jakarta_date(0), "value": long["target"]["value"] }] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let name = long["name"].as_str().unwrap();
    let shown = page
        .wait_for(
            &format!("[...document.querySelectorAll('#events .event')].some(e => e.textContent.includes({}))", json!(name)),
            Duration::from_secs(5),
        )
        .await;
    assert!(shown.is_some(), "the event names {name} in full");
    problems.extend(page.text_problems(rules_for("/wall", 1920, 1080)).await);
    page.screenshot(&screenshot_path("readable/wall-event.png"))
        .await;

    // The pages at a desk: a 1366x768 laptop, a 1920 screen and a 412 px phone.
    for (w, h) in [(1366, 768), (1920, 1080), (412, 915)] {
        let page = browser.new_page(w, h).await;
        let mut desk = vec![
            "/",
            "/quick-wins",
            "/department/diskominfo",
            "/department/dinkes",
            "/quick-wins?indicator=brand.business.investment",
        ];
        if w > 412 {
            desk.push("/laporan");
        }
        for path in desk {
            open(&page, &base, path).await;
            if path.contains("indicator=") {
                page.wait_for(
                    "document.getElementById('drawer').dataset.ready === '1'",
                    Duration::from_secs(10),
                )
                .await;
            }
            for p in page.text_problems(rules_for(path, w, h)).await {
                problems.push(format!("{w}x{h} {path}: {p}"));
            }
            let name = path.replace(['/', '?', '&', '='], "_");
            page.screenshot(&screenshot_path(&format!("readable/{w}x{h}{name}.png")))
                .await;
        }
        // The report's preview is a frame: what it shows is read inside it, at its own width.
        if w > 412 {
            open(&page, &base, "/laporan").await;
            page.eval("document.getElementById('view').click()").await;
            let loaded = page.wait_for(PREVIEW_LOADED, Duration::from_secs(15)).await;
            assert!(loaded.is_some(), "the report preview loads at {w}");
            tokio::time::sleep(Duration::from_millis(300)).await;
            for p in page
                .text_problems_in_frame("/api/v1/reports/evaluation", rules_for("/laporan", w, h))
                .await
            {
                problems.push(format!("{w}x{h} /laporan preview: {p}"));
            }
            page.eval("document.getElementById('preview').scrollIntoView()")
                .await;
            page.screenshot(&screenshot_path(&format!(
                "readable/{w}x{h}_laporan_preview.png"
            )))
            .await;
        }
        // Every column of the quick-wins table is there at 1366 (none scrolled away).
        open(&page, &base, "/quick-wins").await;
        let cols = page
            .eval("[...document.querySelectorAll('.qw-table th')].filter(th => th.offsetParent && !th.classList.contains('opt')).every(th => { const r = th.getBoundingClientRect(); return r.right <= innerWidth + 1; })")
            .await;
        if w > 760 {
            assert_eq!(cols, json!(true), "quick-wins columns on screen at {w}");
        }
        // On a phone the department's post form is within the first screen's reach.
        if w == 412 {
            open(&page, &base, "/department/dinkes").await;
            let top = page
                .eval("(() => { const jump = document.querySelector('.sticky-jump'); const r = jump.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight && getComputedStyle(jump).display !== 'none'; })()")
                .await;
            assert_eq!(
                top,
                json!(true),
                "a Kirim nilai button at the top of the phone's screen"
            );
            let form = page
                .eval(
                    "document.getElementById('post').getBoundingClientRect().top < 2 * innerHeight",
                )
                .await;
            assert_eq!(
                form,
                json!(true),
                "the form comes before the indicator list"
            );
        }
    }
    assert!(
        problems.is_empty(),
        "{} text problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    drop(browser);
    app.stop().await;
}

#[tokio::test]
async fn an_empty_city_says_what_to_do_next_on_every_page() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_config(dir.path(), &example_masterplan(), "");
    std::fs::write(dir.path().join("screens.toml"), COMPOSED_SCREENS).unwrap();
    let app = start_in(dir, config_path, pantau::app::RunOptions::default()).await;
    let base = app.base.clone();
    let browser = Browser::launch().await;
    let page = browser.new_page(1920, 1080).await;
    let mut problems = Vec::new();
    let mut paths = vec![
        "/".to_string(),
        "/laporan".to_string(),
        "/department/dinkes".to_string(),
        "/quick-wins".to_string(),
        "/wall?screen=wall-1&page=1".to_string(),
        "/wall?screen=wall-1&page=2".to_string(),
    ];
    // Every page of the screen with every kind: dimensions, program, numbers, the chart, a
    // department, feeds, the filtered quick wins, compliance.
    let screens = get_json(&base, "/api/v1/screens").await;
    let pages = screens["configured"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "wall-all")
        .unwrap()["pages"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(pages, 10, "every page of wall-all");
    for k in 1..=pages {
        paths.push(format!("/wall?screen=wall-all&page={k}"));
    }
    for path in &paths {
        let path = path.as_str();
        open(&page, &base, path).await;
        let hint = page
            .eval("[...document.querySelectorAll('.empty-hint, .empty-desk')].filter(e => !e.hidden && e.offsetParent).map(e => e.textContent).join(' ')")
            .await;
        let hint = hint.as_str().unwrap_or("");
        assert!(
            hint.contains("pantau import")
                || hint.contains("pantau token create")
                || hint.contains("[[feed]]"),
            "{path} says what to do next: `{hint}`"
        );
        if path == "/" {
            // The start page names the compliance page by its title, not its id.
            let label = page
                .eval("[...document.querySelectorAll(\"a[data-kind='compliance']\")].map(a => a.textContent.trim())")
                .await;
            assert_eq!(
                label,
                json!(["Kepatuhan Pelaporan OPD"]),
                "/ lists compliance"
            );
        }
        for p in page.text_problems(rules_for(path, 1920, 1080)).await {
            problems.push(format!("{path}: {p}"));
        }
        let name = path.replace(['/', '?', '&', '='], "_");
        page.screenshot(&screenshot_path(&format!("empty/{name}.png")))
            .await;
    }
    let phone = browser.new_page(412, 915).await;
    for path in ["/department/dinkes", "/quick-wins", "/"] {
        open(&phone, &base, path).await;
        for p in phone.text_problems(rules_for(path, 412, 915)).await {
            problems.push(format!("412 {path}: {p}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    drop(browser);
    app.stop().await;
}

#[tokio::test]
async fn a_cumulative_post_asks_for_the_increase_and_confirms_a_total() {
    let app = seeded_app().await;
    let base = app.base.clone();
    let token = app.token("dinkes");
    let browser = Browser::launch().await;
    let page = browser.new_page(1366, 768).await;
    open(&page, &base, "/department/dinkes").await;
    let id = "living.health.eposyandu";
    let before = app.indicator(id).await["current"].as_f64().unwrap();
    assert!(before > 0.0);
    page.eval(&format!(
        "document.getElementById('token').value = {}; var s = document.getElementById('obs-indicator'); s.value = '{id}'; s.dispatchEvent(new Event('change'));",
        json!(token)
    ))
    .await;
    let label = text(&page, "#obs-value-label").await;
    assert_eq!(label, "Kenaikan sejak laporan terakhir");
    let hint = text(&page, "#obs-hint").await;
    assert!(
        hint.contains("kenaikan") && hint.contains("Total saat ini"),
        "{hint}"
    );
    // The running total typed where the increase belongs: the page asks first.
    page.eval(&format!(
        "var v = document.getElementById('obs-value'); v.value = '{}'; v.dispatchEvent(new Event('input')); document.getElementById('obs-form').requestSubmit();",
        before.ceil() as i64
    ))
    .await;
    let asked = page
        .wait_for("!document.getElementById('obs-confirm').hidden && document.getElementById('obs-confirm').textContent", Duration::from_secs(3))
        .await
        .expect("a confirmation");
    assert!(asked.as_str().unwrap().contains("total"), "{asked}");
    page.screenshot(&screenshot_path("department-cumulative-confirm.png"))
        .await;
    assert_eq!(
        app.indicator(id).await["current"].as_f64().unwrap(),
        before,
        "nothing posted yet"
    );
    // "No" posts nothing; a real increase goes through without a question.
    page.eval("document.querySelector('[data-confirm=no]').click()")
        .await;
    page.eval("var v = document.getElementById('obs-value'); v.value = '2'; v.dispatchEvent(new Event('input')); document.getElementById('obs-form').requestSubmit();").await;
    page.wait_for(
        "document.querySelector('#obs-result.ok')",
        Duration::from_secs(5),
    )
    .await
    .expect("the increase is posted");
    assert_eq!(
        app.indicator(id).await["current"].as_f64().unwrap(),
        before + 2.0
    );
    // A value posted for today says "hari ini", not hours ago.
    wait_text(
        &page,
        &format!("#ind-body tr[data-id='{id}'] td[data-label='Pembaruan'] > span"),
        "hari ini",
        Duration::from_secs(3),
    )
    .await
    .unwrap();
    // A correction shows in the history with the token's label and the note.
    page.eval("var v = document.getElementById('obs-value'); v.value = '3'; v.dispatchEvent(new Event('input')); document.getElementById('obs-note').value = 'koreksi hitungan posyandu'; document.getElementById('obs-form').requestSubmit();").await;
    let rev = page
        .wait_for("[...document.querySelectorAll('#revisions tr[data-revision]')].map(r => r.textContent).find(t => t.includes('koreksi hitungan posyandu'))", Duration::from_secs(5))
        .await
        .expect("the correction with its note");
    assert!(rev.as_str().unwrap().contains("Token “test”"), "{rev}");
    // A refused post is explained in the page's language.
    page.eval("var v = document.getElementById('obs-value'); v.value = '1'; document.getElementById('obs-date').value = '2001-01-01'; document.getElementById('obs-form').requestSubmit();").await;
    let refused = page
        .wait_for("document.querySelector('#obs-result.err') && document.querySelector('#obs-result').textContent", Duration::from_secs(5))
        .await
        .expect("refused");
    assert!(
        refused.as_str().unwrap().contains("masalah dalam kiriman"),
        "{refused}"
    );
    drop(browser);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Past due is visible on every page that lists the item; an achieved item never is
// ---------------------------------------------------------------------------------------------

/// A plan, dated from today, with a quick win whose due date was yesterday and whose indicator
/// is halfway (overdue), a quick win achieved after its due date passed a month ago, and a
/// department with a single indicator (for the singulars in English).
fn past_due_plan() -> String {
    let d = |days: i64| jakarta_date(days);
    format!(
        r#"
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
id = "env"
name = "Smart Environment"

[[program]]
id = "living.late"
dimension = "living"
name = "Posyandu Terlambat"
department = "dinkes"
quick_win = true
start = {start}
due = {yesterday}
[[indicator]]
id = "living.late.visits"
program = "living.late"
name = "Kunjungan posyandu"
unit = "orang"
direction = "increase"
baseline = {{ date = {start}, value = 0.0 }}
targets = [{{ date = {yesterday}, value = 100.0 }}]
update_every = "1mo"

[[program]]
id = "living.done"
dimension = "living"
name = "Klinik Tercapai"
department = "dinkes"
quick_win = true
start = {start}
due = {month_ago}
[[indicator]]
id = "living.done.clinics"
program = "living.done"
name = "Klinik baru"
unit = "unit"
direction = "increase"
baseline = {{ date = {start}, value = 0.0 }}
targets = [{{ date = {month_ago}, value = 10.0 }}]
update_every = "1mo"

[[program]]
id = "env.waste"
dimension = "env"
name = "Bank Sampah"
department = "dlh"
horizon = "medium"
start = {start}
due = 2030-12-31
[[indicator]]
id = "env.waste.banks"
program = "env.waste"
name = "Bank sampah aktif"
unit = "unit"
direction = "increase"
baseline = {{ date = {start}, value = 0.0 }}
targets = [{{ date = 2030-12-31, value = 50.0 }}]
update_every = "1mo"
"#,
        start = d(400),
        yesterday = d(1),
        month_ago = d(30),
    )
}

const PAST_DUE_SCREENS: &str = r#"
[[screen]]
id = "late"
label = "Tenggat"
pages = [
  "dimension:living",
  "quick-wins",
  { kind = "department", department = "dinkes" },
  { kind = "program", program = "living.late" },
  { kind = "numbers", indicators = ["living.late.visits", "living.done.clinics"] },
  "overview",
]

[[screen]]
id = "solo"
label = "Satu halaman"
pages = [{ kind = "numbers", indicators = ["env.waste.banks"] }]
"#;

/// What a page shows of the items with `ids` (by `data-id`): for each, whether it carries an
/// overdue chip, the chips' texts and the item's whole text.
async fn marks(page: &browser::Page, ids: &[&str]) -> Value {
    page.eval(&format!(
        "Object.fromEntries({}.map(id => {{ const els = [...document.querySelectorAll(`[data-id='${{id}}']`)]; const row = (e) => e.closest('tr, .unit, li, article') || e; return [id, {{ found: els.length, chips: els.flatMap(e => [...row(e).querySelectorAll('.overdue-chip')].map(c => c.textContent.trim())), text: els.map(e => row(e).textContent.replace(/\\s+/g, ' ')).join(' | ') }}]; }}))",
        json!(ids)
    ))
    .await
}

#[tokio::test]
async fn past_due_is_marked_on_every_page_and_an_achieved_item_never_is() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_config(dir.path(), &past_due_plan(), "");
    std::fs::write(dir.path().join("screens.toml"), PAST_DUE_SCREENS).unwrap();
    let app = start_in(dir, config_path, pantau::app::RunOptions::default()).await;
    let base = app.base.clone();
    let (status, body) = app
        .post_json(
            "/api/v1/observations",
            Some(ADMIN),
            &json!({ "observations": [
                { "indicator": "living.late.visits", "time": jakarta_date(2), "value": 50.0 },
                { "indicator": "living.done.clinics", "time": jakarta_date(35), "value": 12.0 },
            ] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // The API's word first: past due and not achieved is overdue; achieved never is.
    let progress = get_json(&base, "/api/v1/progress").await;
    let item = |id: &str| -> Value {
        ["indicators", "programs"]
            .iter()
            .flat_map(|k| progress[k].as_array().unwrap().iter())
            .find(|x| x["id"] == id)
            .cloned()
            .unwrap()
    };
    for id in ["living.late", "living.late.visits"] {
        assert_eq!(item(id)["overdue"], true, "{id}");
        assert_ne!(item(id)["status"], "achieved", "{id}");
    }
    for id in ["living.done", "living.done.clinics"] {
        assert_eq!(item(id)["status"], "achieved", "{id}");
        assert_eq!(item(id)["overdue"], false, "{id}");
    }

    let browser = Browser::launch().await;
    let page = browser.new_page(1920, 1080).await;
    let late_ids = ["living.late", "living.late.visits"];
    let done_ids = ["living.done", "living.done.clinics"];
    // Each page kind that lists the items: the ids it lists them under.
    let pages: [(&str, &[&str], &[&str]); 8] = [
        ("/wall?screen=late&page=1", &late_ids, &done_ids),
        (
            "/wall?screen=late&page=2",
            &["living.late"],
            &["living.done"],
        ),
        ("/wall?screen=late&page=3", &late_ids, &done_ids),
        ("/wall?screen=late&page=4", &late_ids, &[]),
        (
            "/wall?screen=late&page=5",
            &["living.late.visits"],
            &["living.done.clinics"],
        ),
        ("/quick-wins", &["living.late"], &["living.done"]),
        (
            "/department/dinkes",
            &["living.late.visits"],
            &["living.done.clinics"],
        ),
        ("/", &["dinkes"], &["dlh"]),
    ];
    let mut problems = Vec::new();
    for (path, late, done) in pages {
        open(&page, &base, path).await;
        if path == "/" {
            // The overview counts what is past due and marks the department that owns it.
            // One indicator is past due (its program too, which the quick-wins page counts).
            assert_eq!(progress["masterplan"]["counts"]["overdue"], 1);
            let tile = text(&page, "[data-figure='overdue']").await;
            assert!(tile.starts_with("Lewat tenggat1"), "{path}: {tile}");
            let dept = page
                .eval("(() => { const a = document.querySelector(\"[data-department='dinkes']\"); return [...a.querySelectorAll('.overdue-chip')].map(c => c.textContent.trim()); })()")
                .await;
            assert_eq!(dept, json!(["Lewat tenggat: 1"]), "{path}");
            let other = page
                .eval("document.querySelector(\"[data-department='dlh']\").querySelectorAll('.overdue-chip').length")
                .await;
            assert_eq!(other, json!(0), "{path}: dlh has nothing past due");
        } else {
            let seen = marks(&page, late).await;
            for id in late {
                let m = &seen[id];
                assert!(
                    m["found"].as_u64().unwrap() > 0,
                    "{path} lists {id}: {seen}"
                );
                let chips = m["chips"].as_array().unwrap();
                assert!(
                    chips
                        .iter()
                        .any(|c| c.as_str().unwrap().starts_with("Lewat tenggat")),
                    "{path}: {id} carries the Lewat tenggat chip: {m}"
                );
            }
            let seen = marks(&page, done).await;
            for id in done {
                let m = &seen[id];
                assert!(
                    m["found"].as_u64().unwrap() > 0,
                    "{path} lists {id}: {seen}"
                );
                assert_eq!(m["chips"], json!([]), "{path}: achieved {id} has no chip");
                let t = m["text"].as_str().unwrap().to_lowercase();
                assert!(!t.contains("lewat"), "{path}: achieved {id} says `{t}`");
            }
        }
        for p in page.text_problems(rules_for(path, 1920, 1080)).await {
            problems.push(format!("{path}: {p}"));
        }
        let name = path.replace(['/', '?', '&', '='], "_");
        page.screenshot(&screenshot_path(&format!("past-due/{name}.png")))
            .await;
    }
    // The wall's overview counts what is past due beside the masterplan's status.
    open(&page, &base, "/wall?screen=late&page=6").await;
    assert_eq!(
        text(&page, "[data-id='masterplan'] .overdue-chip").await,
        "Lewat tenggat: 1"
    );
    // The quick-wins table says how long past due, and nothing of the kind for the achieved one.
    open(&page, &base, "/quick-wins").await;
    let due = text(&page, "tr[data-id='living.late'] [data-days]").await;
    assert_eq!(due, "lewat 1 hari");
    let done = text(&page, "tr[data-id='living.done'] [data-days]").await;
    assert_eq!(done, "Tercapai");

    // In English, one of a thing is singular: "1 day overdue", "1 page", "1 indicator".
    open(&page, &base, "/quick-wins?lang=en").await;
    assert_eq!(
        text(&page, "tr[data-id='living.late'] [data-days]").await,
        "1 day overdue"
    );
    assert_eq!(
        text(&page, "tr[data-id='living.late'] .overdue-chip").await,
        "1 day past due"
    );
    assert_eq!(
        text(&page, "tr[data-id='living.done'] [data-days]").await,
        "Achieved"
    );
    open(&page, &base, "/?lang=en").await;
    let solo = text(&page, "[data-screen='solo'] .meta").await;
    assert!(solo.contains("1 page ·"), "{solo}");
    let late = text(&page, "[data-screen='late'] .meta").await;
    assert!(late.contains("6 pages ·"), "{late}");
    let numbers = text(&page, "[data-screen='solo'] a[data-kind='numbers']").await;
    assert_eq!(numbers, "Key figures (1 indicator)");
    let dlh = text(&page, "[data-department='dlh'] small").await;
    assert_eq!(dlh, "1 indicator");
    let dinkes = text(&page, "[data-department='dinkes'] small").await;
    assert_eq!(dinkes, "2 indicators");
    assert_eq!(
        text(&page, "[data-department='dinkes'] .overdue-chip").await,
        "Past due: 1"
    );
    // Bahasa Indonesia marks no plural.
    open(&page, &base, "/").await;
    assert_eq!(
        text(&page, "[data-department='dlh'] small").await,
        "1 indikator"
    );
    assert_eq!(
        text(&page, "[data-department='dinkes'] small").await,
        "2 indikator"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    drop(browser);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// What the wall's feeds, numbers and chart pages say, against the API
// ---------------------------------------------------------------------------------------------

/// A value with its unit as `valueUnit` in format.js shows it in id-ID.
fn value_unit_id(x: f64, unit: &str) -> String {
    let n = num_id(x);
    match unit.trim() {
        "persen" | "%" | "percent" => format!("{n}%"),
        "Rp" | "rupiah" | "Rupiah" | "IDR" => format!("Rp {n}"),
        "" => n,
        u => format!("{n} {u}"),
    }
}

/// An upstream that answers every request with `body` as JSON (a department's system that
/// works); returns its address.
async fn upstream(body: &'static str) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn the_wall_feeds_numbers_and_chart_pages_show_what_the_api_says() {
    // Besides the two dead feeds, one that works: its page shows it up with its last success.
    let up = upstream(r#"{"data": {"cakupan": 95.5}}"#).await;
    let app = city_with_history_and(&format!(
        r#"
[[feed]]
id = "dinkes-imunisasi"
department = "dinkes"
url = "http://{up}/imunisasi"
format = "json"
schedule = "*/5 * * * *"
timeout = "2s"
[feed.json]
points = [{{ indicator = "living.health.immunization", value = "/data/cakupan" }}]
"#
    ))
    .await;
    let base = app.base.clone();
    let browser = Browser::launch().await;
    let page = browser.new_page(1920, 1080).await;
    let screens = get_json(&base, "/api/v1/screens").await;
    let all = screens["configured"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "wall-all")
        .unwrap()["pages"]
        .as_array()
        .unwrap()
        .clone();
    let page_of = |kind: &str| {
        1 + all
            .iter()
            .position(|p| p["kind"] == kind)
            .unwrap_or_else(|| panic!("a {kind} page"))
    };

    // Sumber data: each feed's state, its last success (or that it never succeeded) and its error.
    let feeds_path = format!("/wall?screen=wall-all&page={}", page_of("feeds"));
    let feeds = get_json(&base, "/api/v1/feeds").await;
    let feeds = feeds["feeds"].as_array().unwrap().clone();
    assert_eq!(feeds.len(), 3);
    open(&page, &base, &feeds_path).await;
    // The first polls of the feeds that run at start end within their 2 s timeout: one fails,
    // one succeeds; the third waits for its hour.
    let settled = page
        .wait_for(
            "document.querySelector(\"[data-id='dinkes-gizi-e-ppgbm-bulanan']\")?.dataset.health === 'down' && document.querySelector(\"[data-id='dinkes-imunisasi']\")?.dataset.health === 'up'",
            Duration::from_secs(15),
        )
        .await;
    assert!(
        settled.is_some(),
        "the dead feed shows down, the live one up"
    );
    let feeds = get_json(&base, "/api/v1/feeds").await;
    let states: std::collections::BTreeSet<&str> = feeds["feeds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["health"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["down", "pending", "up"].into_iter().collect(),
        "{feeds}"
    );
    for f in feeds["feeds"].as_array().unwrap() {
        let id = f["id"].as_str().unwrap();
        let shown = page
            .eval(&format!(
                "(() => {{ const a = document.querySelector(\"[data-id='{id}']\"); return a && {{ health: a.dataset.health, badge: a.querySelector('.badge').textContent.trim(), meta: a.querySelector('.meta').textContent.replace(/\\s+/g, ' ').trim(), err: (a.querySelector('.err') || {{}}).textContent || null, errTitle: (a.querySelector('.err') || {{}}).title || null }}; }})()"
            ))
            .await;
        assert_eq!(shown["health"], f["health"], "{id}: {shown}");
        let word = match f["health"].as_str().unwrap() {
            "up" => "Aktif",
            "down" => "Gagal",
            "late" => "Terlambat",
            _ => "Menunggu",
        };
        assert_eq!(shown["badge"], word, "{id}");
        let meta = shown["meta"].as_str().unwrap();
        assert!(meta.contains(f["format"].as_str().unwrap()), "{id}: {meta}");
        if f["last_success"].is_null() {
            assert!(meta.contains("belum pernah berhasil"), "{id}: {meta}");
        } else {
            assert!(meta.contains("berhasil terakhir"), "{id}: {meta}");
        }
        match f["last_error"]["message"].as_str() {
            Some(message) => {
                assert_eq!(shown["errTitle"], message, "{id}: the whole error");
                let err = shown["err"].as_str().unwrap();
                assert!(err.starts_with("Galat "), "{id}: {err}");
                let head: String = message.chars().take(40).collect();
                assert!(err.contains(&head), "{id}: `{err}` shows `{message}`");
            }
            None => assert_eq!(shown["err"], Value::Null, "{id}: no error shown"),
        }
    }

    // Angka utama: every tile's full value, status and progress as the API has them.
    let numbers = all.iter().find(|p| p["kind"] == "numbers").unwrap().clone();
    open(
        &page,
        &base,
        &format!("/wall?screen=wall-all&page={}", page_of("numbers")),
    )
    .await;
    let progress = get_json(&base, "/api/v1/progress").await;
    let ind = |id: &str| -> Value {
        progress["indicators"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == id)
            .cloned()
            .unwrap()
    };
    for id in numbers["indicators"].as_array().unwrap() {
        let id = id.as_str().unwrap();
        let i = ind(id);
        let shown = page
            .eval(&format!(
                "(() => {{ const a = document.querySelector(\".num-tile[data-id='{id}']\"); return {{ status: a.dataset.status, title: a.querySelector('.value-current').title, pct: a.querySelector('.row > b').textContent.trim(), name: a.querySelector('h3').textContent.trim() }}; }})()"
            ))
            .await;
        assert_eq!(shown["status"], i["status"], "{id}");
        assert_eq!(shown["name"], i["name"], "{id}");
        assert_eq!(
            shown["title"].as_str().unwrap(),
            value_unit_id(i["current"].as_f64().unwrap(), i["unit"].as_str().unwrap()),
            "{id}"
        );
        let p = format!("{:.0}%", i["progress"].as_f64().unwrap() * 100.0);
        assert_eq!(shown["pct"].as_str().unwrap(), p, "{id}");
    }

    // The chart page: the indicator's figures, "Realisasi terkini" beside the current value, and
    // a chart drawn from its series.
    let chart = all.iter().find(|p| p["kind"] == "chart").unwrap().clone();
    let id = chart["indicator"].as_str().unwrap();
    open(
        &page,
        &base,
        &format!("/wall?screen=wall-all&page={}", page_of("chart")),
    )
    .await;
    page.wait_for(
        "!!document.querySelector('#wall-chart canvas, #wall-chart svg')",
        Duration::from_secs(10),
    )
    .await
    .expect("the chart is drawn");
    let i = ind(id);
    let facts = page
        .eval("Object.fromEntries([...document.querySelectorAll('.fact-w')].map(f => [f.querySelector('.lbl').textContent.trim(), { text: f.querySelector('b').textContent.trim(), title: f.querySelector('b').title }]))")
        .await;
    assert_eq!(
        facts["Realisasi terkini"]["title"].as_str().unwrap(),
        value_unit_id(i["current"].as_f64().unwrap(), i["unit"].as_str().unwrap()),
        "{facts}"
    );
    assert_eq!(
        facts["Progres"]["text"].as_str().unwrap(),
        pct(i["progress"].as_f64().unwrap(), "id"),
        "{facts}"
    );
    // One decimal always, as SAKIP tables write it ("79,0%", never "79%").
    let capaian = i["capaian"]
        .as_f64()
        .map(|c| pct(c / 100.0, "id"))
        .unwrap_or("–".into());
    assert_eq!(facts["Capaian (SAKIP)"]["text"].as_str().unwrap(), capaian);
    assert_eq!(text(&page, ".chart-page .strip-name h2").await, i["name"]);
    let series = get_json(&base, &format!("/api/v1/indicators/{id}/series")).await;
    assert!(series["points"].as_array().unwrap().len() > 3, "{series}");

    // "Realisasi terkini" labels the current value on the program page and the desk.
    open(
        &page,
        &base,
        &format!("/wall?screen=wall-all&page={}", page_of("program")),
    )
    .await;
    let labels = page
        .eval(
            "[...document.querySelectorAll('.card-ind .val .lbl')].map(l => l.textContent.trim())",
        )
        .await;
    let labels = labels.as_array().unwrap();
    assert!(
        !labels.is_empty() && labels.iter().all(|l| l == "Realisasi terkini"),
        "{labels:?}"
    );
    open(&page, &base, "/department/dinkes").await;
    let cells = page
        .eval(
            "[...document.querySelectorAll('#ind-body td.value-cell')].map(td => td.dataset.label)",
        )
        .await;
    let cells = cells.as_array().unwrap();
    assert!(
        !cells.is_empty() && cells.iter().all(|l| l == "Realisasi terkini"),
        "{cells:?}"
    );

    // The department form shows the API's refusal in the page's language.
    let token = app.token("dinkes");
    for (path, words) in [
        ("/department/dinkes?lang=en", "problem in the batch"),
        ("/department/dinkes", "masalah dalam kiriman"),
    ] {
        open(&page, &base, path).await;
        page.eval(&format!(
            "document.getElementById('token').value = {}; var s = document.getElementById('obs-indicator'); s.value = 'living.health.stunting'; s.dispatchEvent(new Event('change')); var v = document.getElementById('obs-value'); v.value = '1'; v.dispatchEvent(new Event('input')); document.getElementById('obs-date').value = '2001-01-01'; document.getElementById('obs-form').requestSubmit();",
            json!(token)
        ))
        .await;
        let refused = page
            .wait_for(
                "document.querySelector('#obs-result.err') && document.querySelector('#obs-result').textContent",
                Duration::from_secs(5),
            )
            .await
            .expect("refused");
        let refused = refused.as_str().unwrap();
        assert!(refused.contains(words), "{path}: {refused}");
        if path.contains("lang=en") {
            assert!(
                !refused.contains("masalah") && !refused.contains("Baris"),
                "{refused}"
            );
        }
    }
    drop(browser);
    app.stop().await;
}
