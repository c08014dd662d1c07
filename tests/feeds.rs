//! Feeds and config reload against real local upstreams: every format (with the real Jakarta
//! air-quality CSV and both CKAN paging styles), crontab schedules and time zones seen through
//! `/api/v1/feeds`, crontab(5) fire times and messages, which feeds are spread, every fault kind
//! beside healthy feeds, 40 hanging feeds beside healthy ones that keep every tick, compressed
//! bodies (gzip, deflate, brotli, a gzip bomb, an unknown encoding), refused points with their
//! reasons, feed health in `/api/v1/feeds`, `/metrics` and the feed-run records, feed up/down
//! events on the websocket, and reloads by `POST /api/v1/admin/reload` and by SIGHUP to the real
//! binary.

mod common;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use common::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warp::Filter;

/// Departments, dimensions, programs and indicators every test here shares; feeds are appended.
const BASE: &str = r#"
[[department]]
id = "dlh"
name = "Dinas Lingkungan Hidup"
[[department]]
id = "dinkes"
name = "Dinas Kesehatan"
[[department]]
id = "diskominfo"
name = "Dinas Komunikasi dan Informatika"
[[department]]
id = "bappeda"
name = "Bappeda"

[[dimension]]
id = "environment"
name = "Smart Environment"
[[dimension]]
id = "living"
name = "Smart Living"
[[dimension]]
id = "governance"
name = "Smart Governance"

[[program]]
id = "env.air"
dimension = "environment"
name = "Udara Bersih"
department = "dlh"
horizon = "long"
start = 2023-01-01
due = 2030-12-31

[[program]]
id = "living.health"
dimension = "living"
name = "Kota Sehat"
department = "dinkes"
quick_win = true
start = 2023-01-01
due = 2027-12-31

[[program]]
id = "gov.spbe"
dimension = "governance"
name = "SPBE Terpadu"
department = "diskominfo"
horizon = "medium"
start = 2023-01-01
due = 2027-12-31

[[program]]
id = "gov.data"
dimension = "governance"
name = "Satu Data"
department = "bappeda"
horizon = "short"
start = 2023-01-01
due = 2025-12-31

[[indicator]]
id = "env.air.ispu"
program = "env.air"
name = "Rata-rata ISPU harian"
unit = "ISPU"
direction = "maintain"
tolerance = 15.0
baseline = { date = 2022-12-31, value = 58.0 }
targets = [{ date = 2027-12-31, value = 50.0 }]
update_every = "1d"
min = 0.0
max = 500.0

[[indicator]]
id = "env.air.good-days"
program = "env.air"
name = "Jumlah hari kualitas udara baik"
unit = "hari"
direction = "increase"
kind = "cumulative"
baseline = { date = 2022-12-31, value = 0.0 }
targets = [{ date = 2027-12-31, value = 1340.0 }]
update_every = "1d"

[[indicator]]
id = "env.air.sensor"
program = "env.air"
name = "Sensor kualitas udara"
unit = "unit"
direction = "increase"
baseline = { date = 2022-12-31, value = 1.0 }
targets = [{ date = 2027-12-31, value = 100.0 }]
update_every = "1d"

[[indicator]]
id = "env.air.trees"
program = "env.air"
name = "Pohon ditanam"
unit = "batang"
direction = "increase"
baseline = { date = 2022-12-31, value = 1.0 }
targets = [{ date = 2027-12-31, value = 100.0 }]
update_every = "1d"

[[indicator]]
id = "env.air.pm25"
program = "env.air"
name = "PM2.5"
unit = "ug/m3"
direction = "decrease"
baseline = { date = 2022-12-31, value = 80.0 }
targets = [{ date = 2027-12-31, value = 20.0 }]
update_every = "1d"

[[indicator]]
id = "env.air.pm10"
program = "env.air"
name = "PM10"
unit = "ug/m3"
direction = "decrease"
baseline = { date = 2022-12-31, value = 80.0 }
targets = [{ date = 2027-12-31, value = 20.0 }]
update_every = "1d"

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
baseline = { date = 2022-12-31, value = 100.0 }
targets = [{ date = 2027-12-31, value = 200.0 }]
update_every = "1mo"

[[indicator]]
id = "gov.spbe.uptime"
program = "gov.spbe"
name = "Uptime pusat data"
unit = "persen"
direction = "maintain"
tolerance = 0.3
baseline = { date = 2022-12-31, value = 98.9 }
targets = [{ date = 2027-12-31, value = 99.5 }]
update_every = "1d"
min = 0.0
max = 100.0

[[indicator]]
id = "gov.data.old"
program = "gov.data"
name = "Izin per hari (portal lama)"
unit = "izin"
direction = "increase"
baseline = { date = 2022-12-31, value = 0.0 }
targets = [{ date = 2025-12-31, value = 100.0 }]
update_every = "1d"

[[indicator]]
id = "gov.data.new"
program = "gov.data"
name = "Izin per hari (portal baru)"
unit = "izin"
direction = "increase"
baseline = { date = 2022-12-31, value = 0.0 }
targets = [{ date = 2025-12-31, value = 100.0 }]
update_every = "1d"
"#;

/// One `[[feed]]` with its `[feed.<format>]` mapping.
fn feed(
    id: &str,
    department: &str,
    url: &str,
    format: &str,
    options: &str,
    mapping: &str,
) -> String {
    format!(
        "\n[[feed]]\nid = \"{id}\"\ndepartment = \"{department}\"\nurl = \"{url}\"\nformat = \"{format}\"\n{options}\n[feed.{format}]\n{mapping}\n"
    )
}

const EVERY_SECOND: &str = "schedule = \"*/1 * * * * *\"\ntimeout = \"1s\"\nretries = 0";

// ---------------------------------------------------------------------------------------------
// Upstreams
// ---------------------------------------------------------------------------------------------

/// One request an upstream received.
#[derive(Debug, Clone)]
struct Hit {
    path: String,
    query: HashMap<String, String>,
    at: Instant,
    /// The wall-clock arrival, to compare with scheduled instants.
    wall: DateTime<Utc>,
    accept_encoding: Option<String>,
}

type Hits = Arc<Mutex<Vec<Hit>>>;

fn hits_on(hits: &Hits, path: &str) -> Vec<Hit> {
    hits.lock()
        .unwrap()
        .iter()
        .filter(|h| h.path == path)
        .cloned()
        .collect()
}

/// A canned answer.
struct Canned {
    status: u16,
    content_type: String,
    body: Vec<u8>,
    location: Option<String>,
    content_encoding: Option<String>,
}

impl Canned {
    fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Canned {
        Canned {
            status: 200,
            content_type: content_type.into(),
            body: body.into(),
            location: None,
            content_encoding: None,
        }
    }
    fn json(v: &Value) -> Canned {
        Canned::ok("application/json", v.to_string())
    }
    fn status(status: u16, body: &str) -> Canned {
        Canned {
            status,
            content_type: "text/plain".into(),
            body: body.as_bytes().to_vec(),
            location: None,
            content_encoding: None,
        }
    }
}

type Handler = Arc<dyn Fn(&str, &HashMap<String, String>) -> Canned + Send + Sync>;

fn handler(
    f: impl Fn(&str, &HashMap<String, String>) -> Canned + Send + Sync + 'static,
) -> Handler {
    Arc::new(f)
}

/// A real HTTP server (warp) on loopback answering every request with `handler`; every request
/// is recorded.
async fn upstream(handler: Handler) -> (SocketAddr, Hits) {
    let hits: Hits = Arc::default();
    let recorded = hits.clone();
    let route = warp::path::full()
        .and(warp::query::<HashMap<String, String>>())
        .and(warp::header::optional::<String>("accept-encoding"))
        .map(
            move |path: warp::path::FullPath,
                  query: HashMap<String, String>,
                  accept_encoding: Option<String>| {
                let path = path.as_str().to_string();
                recorded.lock().unwrap().push(Hit {
                    path: path.clone(),
                    query: query.clone(),
                    at: Instant::now(),
                    wall: Utc::now(),
                    accept_encoding,
                });
                let c = handler(&path, &query);
                let mut r = warp::reply::Response::new(c.body.into());
                *r.status_mut() = warp::http::StatusCode::from_u16(c.status).unwrap();
                r.headers_mut().insert(
                    "content-type",
                    warp::http::HeaderValue::from_str(&c.content_type).unwrap(),
                );
                if let Some(l) = c.location {
                    r.headers_mut()
                        .insert("location", warp::http::HeaderValue::from_str(&l).unwrap());
                }
                if let Some(e) = c.content_encoding {
                    r.headers_mut().insert(
                        "content-encoding",
                        warp::http::HeaderValue::from_str(&e).unwrap(),
                    );
                }
                r
            },
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(route).incoming(listener).run());
    (addr, hits)
}

/// Misbehaviour below HTTP that warp cannot be made to do.
#[derive(Debug, Clone, Copy)]
enum Raw {
    /// Reads the request and never answers.
    Hang,
    /// Answers 200 and sends body bytes forever.
    Endless,
    /// Answers 200 with a small body, one byte every 250 ms.
    SlowBody,
    /// Answers the first request with `{"v": 5}`, then hangs like `Hang`.
    AnswerOnceThenHang,
}

/// A hand-written HTTP/1.1 server; returns its address, connections accepted and connections
/// whose handler ended (the client hung up on an endless or slow body).
async fn raw_upstream(kind: Raw) -> (SocketAddr, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let ended = Arc::new(AtomicUsize::new(0));
    let (a, e) = (accepted.clone(), ended.clone());
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let first = a.fetch_add(1, Ordering::SeqCst) == 0;
            let e = e.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                match kind {
                    Raw::Hang => tokio::time::sleep(Duration::from_secs(120)).await,
                    Raw::AnswerOnceThenHang if first => {
                        let body = br#"{"v": 5}"#;
                        let head = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = sock.write_all(head.as_bytes()).await;
                        let _ = sock.write_all(body).await;
                        let _ = sock.shutdown().await;
                    }
                    Raw::AnswerOnceThenHang => tokio::time::sleep(Duration::from_secs(120)).await,
                    Raw::Endless => {
                        let _ = sock
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n[")
                            .await;
                        let chunk = "1,".repeat(8192).into_bytes();
                        while sock.write_all(&chunk).await.is_ok() {}
                    }
                    Raw::SlowBody => {
                        let body = br#"{"v": 7.5, "padding": "................"}"#;
                        let head = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                            body.len()
                        );
                        if sock.write_all(head.as_bytes()).await.is_ok() {
                            for b in body {
                                if sock.write_all(&[*b]).await.is_err() {
                                    break;
                                }
                                let _ = sock.flush().await;
                                tokio::time::sleep(Duration::from_millis(250)).await;
                            }
                        }
                    }
                }
                e.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    (addr, accepted, ended)
}

/// A loopback port nobody listens on.
fn refused_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    addr
}

// ---------------------------------------------------------------------------------------------
// Reading the daemon
// ---------------------------------------------------------------------------------------------

/// `/api/v1/feeds` by feed id.
async fn feeds(app: &TestApp) -> BTreeMap<String, Value> {
    let (s, v) = app.get("/api/v1/feeds").await;
    assert_eq!(s, 200, "{v}");
    v["feeds"]
        .as_array()
        .unwrap_or_else(|| panic!("no `feeds` list in {v}"))
        .iter()
        .map(|f| (f["id"].as_str().unwrap().to_string(), f.clone()))
        .collect()
}

/// Polls `/api/v1/feeds` until `ok` holds; panics with the last answer after `secs`.
async fn wait_feeds(
    app: &TestApp,
    secs: u64,
    what: &str,
    ok: impl Fn(&BTreeMap<String, Value>) -> bool,
) -> BTreeMap<String, Value> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let f = feeds(app).await;
        if ok(&f) {
            return f;
        }
        if Instant::now() > deadline {
            panic!(
                "not within {secs} s: {what}; /api/v1/feeds says\n{}",
                serde_json::to_string_pretty(&f).unwrap()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

static NULL: Value = Value::Null;

/// A feed's entry, or null before the poller has listed it.
fn at<'a>(f: &'a BTreeMap<String, Value>, id: &str) -> &'a Value {
    f.get(id).unwrap_or(&NULL)
}

fn polls(f: &Value) -> u64 {
    f["polls_total"].as_u64().unwrap_or(0)
}

fn succeeded(f: &Value) -> bool {
    !f["last_run"].is_null() && f["last_run"]["error"].is_null()
}

/// Every recorded run of a feed, oldest first (the `feed_run` table the poller writes).
fn runs(app: &TestApp, feed: &str) -> Vec<pantau::store::read::FeedRunRow> {
    let conn = pantau::store::open_reader(&app.db).unwrap();
    let mut v = pantau::store::read::feed_runs(&conn, feed, 10_000).unwrap();
    v.reverse();
    v
}

async fn series(app: &TestApp, indicator: &str) -> Vec<Value> {
    let (s, v) = app
        .get(&format!("/api/v1/indicators/{indicator}/series"))
        .await;
    assert_eq!(s, 200, "{v}");
    v["points"].as_array().unwrap().clone()
}

/// The value of `name{feed="<feed>"}` in Prometheus text.
fn feed_metric(text: &str, name: &str, feed: &str) -> f64 {
    let prefix = format!("{name}{{feed=\"{feed}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} in /metrics:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Every format
// ---------------------------------------------------------------------------------------------

const ISPU: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/ispu-jakarta/ispu_dki_all.csv"
);

fn ispu_text() -> String {
    std::fs::read_to_string(ISPU).unwrap_or_else(|e| {
        panic!(
            "the real Jakarta air-quality data is missing: cannot read {ISPU} ({e}); these tests \
             need the shared data folder beside the repository (../shared/data/ispu-jakarta/)"
        )
    })
}

/// One row of the ISPU file, read independently of pantau (the file has no quoted fields).
struct IspuRow {
    date: NaiveDate,
    max: Option<f64>,
    category: String,
}

fn ispu_rows(text: &str) -> Vec<IspuRow> {
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "tanggal,stasiun,pm25,pm10,so2,co,o3,no2,max,critical,categori"
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 11, "{l}");
            IspuRow {
                date: NaiveDate::parse_from_str(f[0], "%Y-%m-%d").unwrap(),
                max: (!f[8].is_empty()).then(|| f[8].parse().unwrap()),
                category: f[10].to_string(),
            }
        })
        .collect()
}

/// Ten DataStore records: `_id` 1..=10, one per day of January 2024.
fn ckan_records() -> Vec<Value> {
    (1..=10)
        .map(|i| json!({ "_id": i, "tanggal": format!("2024-01-{i:02}"), "kecamatan": "Magersari", "jumlah": i as f64 * 3.0 + 0.25 }))
        .collect()
}

fn ckan_fields() -> Value {
    json!([{"id": "_id", "type": "int"}, {"id": "tanggal", "type": "date"}, {"id": "kecamatan", "type": "text"}, {"id": "jumlah", "type": "numeric"}])
}

/// A CKAN `datastore_search` answer: `new_style` pages with `_links.next` (relative to the
/// portal root, without the proxy prefix, and no `total`), the old style with `total` only.
fn ckan_answer(q: &HashMap<String, String>, new_style: bool) -> Canned {
    if q.get("resource_id").map(String::as_str) != Some("izin-harian") {
        return Canned::json(
            &json!({"success": false, "error": {"__type": "Not Found Error", "message": "Not found: Resource was not found."}}),
        );
    }
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
    let offset: usize = q.get("offset").and_then(|l| l.parse().ok()).unwrap_or(0);
    let mut records = ckan_records();
    if q.get("sort").is_some_and(|s| s == "_id desc") {
        records.reverse();
    }
    let page: Vec<Value> = records.into_iter().skip(offset).take(limit).collect();
    let result = if new_style {
        json!({
            "resource_id": "izin-harian", "fields": ckan_fields(), "records": page, "limit": limit,
            "records_format": "objects",
            "_links": {
                "start": format!("/api/3/action/datastore_search?limit={limit}&resource_id=izin-harian&sort=_id+desc"),
                "next": format!("/api/3/action/datastore_search?limit={limit}&offset={}&resource_id=izin-harian&sort=_id+desc", offset + limit),
            }
        })
    } else {
        json!({ "resource_id": "izin-harian", "fields": ckan_fields(), "records": page, "limit": limit, "offset": offset, "total": 10 })
    };
    Canned::json(&json!({ "help": "datastore_search", "success": true, "result": result }))
}

/// 2025-01-15T03:00:00Z = 10:00 WIB, in Prometheus milliseconds.
const PROM_TS: i64 = 1_736_910_000_000;

fn format_handler(ispu: String) -> Handler {
    handler(move |path, q| match path {
        "/dinkes/gizi.json" => Canned::json(
            &json!({"status": "ok", "data": {"prevalensi": 21.5, "diperbarui": "2025-01-15T10:00:00+07:00", "sumber": "e-PPGBM"}}),
        ),
        "/dinkes/kunjungan.json" => Canned::json(&json!({"items": [
            {"indikator": "kunjungan", "nilai": 120, "waktu": "2025-01-01"},
            {"indikator": "kunjungan", "nilai": "135.5", "waktu": "2025-02-01"},
            {"indikator": "rujukan", "nilai": 7, "waktu": "2025-02-01"},
        ]})),
        "/dlh/ispu.csv" => Canned::ok("text/csv; charset=utf-8", ispu.clone()),
        "/diskominfo/metrics" => Canned::ok(
            "text/plain; version=0.0.4",
            format!(
                "# HELP spbe_service_up_ratio Share of successful health checks.\n\
                 # TYPE spbe_service_up_ratio gauge\n\
                 spbe_service_up_ratio{{service=\"sipd\",opd=\"diskominfo\"}} 0.995 {PROM_TS}\n\
                 spbe_service_up_ratio{{service=\"e-office\",opd=\"diskominfo\"}} 0.997 {PROM_TS}\n\
                 spbe_service_up_ratio{{service=\"lapor\",opd=\"diskominfo\"}} 0.999 {PROM_TS}\n\
                 # HELP gateway_uptime_seconds Seconds since start.\n\
                 # TYPE gateway_uptime_seconds counter\n\
                 gateway_uptime_seconds 12345 {PROM_TS}\n"
            ),
        ),
        "/ckan28/api/3/action/datastore_search" => ckan_answer(q, false),
        "/portal/api/3/action/datastore_search" => ckan_answer(q, true),
        _ => Canned::status(404, "not found"),
    })
}

fn format_feeds(addr: SocketAddr) -> String {
    let every = "schedule = \"*/1 * * * * *\"\ntimeout = \"5s\"\nretries = 0";
    [
        feed(
            "dinkes-gizi",
            "dinkes",
            &format!("http://{addr}/dinkes/gizi.json"),
            "json",
            every,
            r#"points = [{ indicator = "living.health.stunting", value = "/data/prevalensi", time = "/data/diperbarui" }]"#,
        ),
        feed(
            "dinkes-kunjungan",
            "dinkes",
            &format!("http://{addr}/dinkes/kunjungan.json"),
            "json",
            every,
            r#"records = { path = "/items", indicator_field = "indikator", rename = { kunjungan = "living.health.visits" }, value = "nilai", time = "waktu" }"#,
        ),
        feed(
            "dlh-ispu",
            "dlh",
            &format!("http://{addr}/dlh/ispu.csv"),
            "csv",
            "schedule = \"*/2 * * * * *\"\ntimeout = \"10s\"\nretries = 0",
            r#"time_column = "tanggal"
series = [
  { indicator = "env.air.ispu", column = "max", exclude = { categori = "TIDAK ADA DATA" } },
  { indicator = "env.air.good-days", aggregate = "count", filter = { categori = "BAIK" } },
]"#,
        ),
        feed(
            "diskominfo-gateway",
            "diskominfo",
            &format!("http://{addr}/diskominfo/metrics"),
            "prometheus",
            every,
            r#"series = [{ indicator = "gov.spbe.uptime", metric = "spbe_service_up_ratio", labels = { opd = "diskominfo" }, aggregate = "avg", scale = 100.0 }]"#,
        ),
        feed(
            "satudata-old",
            "bappeda",
            &format!("http://{addr}/ckan28"),
            "ckan",
            every,
            r#"resource_id = "izin-harian"
limit = 4
paging = "offset"
time_field = "tanggal"
series = [{ indicator = "gov.data.old", field = "jumlah" }]"#,
        ),
        feed(
            "satudata-new",
            "bappeda",
            &format!("http://{addr}/portal"),
            "ckan",
            every,
            r#"resource_id = "izin-harian"
limit = 5
time_field = "tanggal"
series = [{ indicator = "gov.data.new", field = "jumlah" }]"#,
        ),
    ]
    .concat()
}

/// The date part of an RFC 3339 time in the city's zone.
fn date_of(t: &Value) -> NaiveDate {
    NaiveDate::parse_from_str(&t.as_str().unwrap()[..10], "%Y-%m-%d").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_is_written_as_its_feed_and_a_second_read_writes_nothing_new() {
    let text = ispu_text();
    let rows = ispu_rows(&text);
    assert_eq!(rows.len(), 5538, "the shared ISPU file changed");
    let (addr, hits) = upstream(format_handler(text)).await;
    let app = spawn_app_with(&format!("{BASE}{}", format_feeds(addr)), "").await;
    let ids = [
        "dinkes-gizi",
        "dinkes-kunjungan",
        "dlh-ispu",
        "diskominfo-gateway",
        "satudata-old",
        "satudata-new",
    ];
    let f = wait_feeds(&app, 20, "every feed polled twice, successfully", |f| {
        ids.iter()
            .all(|id| f.get(*id).is_some_and(|x| polls(x) >= 2 && succeeded(x)))
    })
    .await;

    // The real Jakarta CSV, computed independently: the ISPU series takes `max` from every row
    // except TIDAK ADA DATA; good days count BAIK rows per day (one row per day in this file).
    let baseline = NaiveDate::from_ymd_opt(2022, 12, 31).unwrap();
    let ispu: Vec<&IspuRow> = rows
        .iter()
        .filter(|r| r.category != "TIDAK ADA DATA" && r.max.is_some())
        .collect();
    let mut days: BTreeMap<NaiveDate, bool> = BTreeMap::new();
    for r in &rows {
        *days.entry(r.date).or_default() |= r.category == "BAIK";
    }
    let ispu_kept: BTreeMap<NaiveDate, f64> = ispu
        .iter()
        .filter(|r| r.date >= baseline)
        .map(|r| (r.date, r.max.unwrap()))
        .collect();
    let days_kept: BTreeMap<NaiveDate, bool> = days
        .iter()
        .filter(|(d, _)| **d >= baseline)
        .map(|(d, g)| (*d, *g))
        .collect();
    let points = (ispu.len() + days.len()) as i64;
    let new = (ispu_kept.len() + days_kept.len()) as i64;
    assert!(new > 1500 && points > 11_000, "{new} of {points}");

    // Every run is recorded; the first writes everything, each later one nothing new.
    let expected_first: [(&str, i64, i64); 6] = [
        ("dinkes-gizi", 1, 1),
        ("dinkes-kunjungan", 2, 2),
        ("dlh-ispu", points, new),
        ("diskominfo-gateway", 1, 1),
        ("satudata-old", 10, 10),
        ("satudata-new", 10, 10),
    ];
    for (id, points, new) in expected_first {
        let r = runs(&app, id);
        assert!(r.len() >= 2, "{id}: {} runs recorded", r.len());
        assert_eq!(
            (r[0].points, r[0].new, r[0].corrected, r[0].http_status),
            (points, new, 0, Some(200)),
            "{id}: first run {:?}",
            r[0]
        );
        assert!(r[0].error.is_none(), "{id}: {:?}", r[0]);
        for later in &r[1..] {
            assert_eq!(
                (
                    later.points,
                    later.new,
                    later.corrected,
                    later.error.as_deref()
                ),
                (points, 0, 0, None),
                "{id}: re-reading unchanged data wrote something: {later:?}"
            );
        }
        let v = &f[id];
        assert_eq!(v["last_run"]["http_status"], 200, "{id}: {v}");
        assert_eq!(v["last_run"]["points"], json!(points), "{id}: {v}");
        assert_eq!(v["last_run"]["new"], 0, "{id}: {v}");
        assert_eq!(v["last_run"]["corrected"], 0, "{id}: {v}");
        assert_eq!(v["up"], true, "{id}: {v}");
        assert_eq!(v["consecutive_failures"], 0, "{id}: {v}");
        assert!(
            v["last_error"].is_null() && v["last_success"].is_string(),
            "{id}: {v}"
        );
        assert!(v["next_run"].as_str().unwrap().ends_with("+07:00"), "{v}");
    }
    // Rows before the baseline were refused by the same validation as posts, and counted.
    let rejected = &f["dlh-ispu"]["last_run"]["rejected"];
    assert_eq!(rejected["count"], json!(points - new));
    // Each refused point is listed (the first 20) with its reason.
    let examples = rejected["examples"].as_array().unwrap();
    assert_eq!(examples.len(), 20, "{rejected}");
    assert!(
        examples.iter().all(|e| e["reason"]
            .as_str()
            .unwrap()
            .contains("before the indicator's baseline date 2022-12-31")
            && date_of(&e["time"]) < baseline),
        "{rejected}"
    );
    assert_eq!(f["dlh-ispu"]["format"], "csv");
    assert_eq!(f["satudata-new"]["format"], "ckan");
    assert_eq!(f["diskominfo-gateway"]["department"], "diskominfo");

    // What is stored, with its source: the ISPU values and the good days, day by day.
    let s = series(&app, "env.air.ispu").await;
    let got: BTreeMap<NaiveDate, f64> = s
        .iter()
        .map(|p| (date_of(&p["time"]), p["value"].as_f64().unwrap()))
        .collect();
    assert_eq!(got.len(), s.len(), "one point per day");
    assert_eq!(got, ispu_kept);
    assert!(
        s.iter()
            .all(|p| p["source"] == "feed:dlh-ispu" && p["department"] == "dlh"),
        "{:?}",
        s.first()
    );
    let s = series(&app, "env.air.good-days").await;
    let got: BTreeMap<NaiveDate, bool> = s
        .iter()
        .map(|p| (date_of(&p["time"]), p["value"] == json!(1.0)))
        .collect();
    assert_eq!(got, days_kept);
    assert!(
        s.iter()
            .all(|p| p["value"] == json!(1.0) || p["value"] == json!(0.0))
    );
    let good = days_kept.values().filter(|g| **g).count();
    close(
        &app.indicator("env.air.good-days").await["current"],
        good as f64,
    );
    let latest = ispu_kept.last_key_value().unwrap();
    close(&app.indicator("env.air.ispu").await["current"], *latest.1);

    // JSON by pointer, JSON records (renamed, others ignored), Prometheus with timestamps.
    let s = series(&app, "living.health.stunting").await;
    assert_eq!(s.len(), 1);
    assert_eq!(s[0]["source"], "feed:dinkes-gizi");
    assert_eq!(s[0]["time"], "2025-01-15T10:00:00+07:00");
    close(&s[0]["value"], 21.5);
    let s = series(&app, "living.health.visits").await;
    let got: Vec<(String, f64)> = s
        .iter()
        .map(|p| {
            assert_eq!(p["source"], "feed:dinkes-kunjungan");
            (
                p["time"].as_str().unwrap().to_string(),
                p["value"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("2025-01-01T00:00:00+07:00".to_string(), 120.0),
            ("2025-02-01T00:00:00+07:00".to_string(), 135.5)
        ]
    );
    let s = series(&app, "gov.spbe.uptime").await;
    assert_eq!(s.len(), 1);
    assert_eq!(s[0]["source"], "feed:diskominfo-gateway");
    assert_eq!(s[0]["time"], "2025-01-15T10:00:00+07:00");
    close(&s[0]["value"], (0.995 + 0.997 + 0.999) / 3.0 * 100.0);

    // CKAN, both paging styles: every record, once, from three requests per poll.
    for (indicator, feed_id) in [
        ("gov.data.old", "satudata-old"),
        ("gov.data.new", "satudata-new"),
    ] {
        let s = series(&app, indicator).await;
        let got: Vec<(NaiveDate, f64)> = s
            .iter()
            .map(|p| {
                assert_eq!(p["source"], format!("feed:{feed_id}"));
                (date_of(&p["time"]), p["value"].as_f64().unwrap())
            })
            .collect();
        let want: Vec<(NaiveDate, f64)> = (1..=10)
            .map(|i| {
                (
                    NaiveDate::from_ymd_opt(2024, 1, i).unwrap(),
                    i as f64 * 3.0 + 0.25,
                )
            })
            .collect();
        assert_eq!(got, want, "{feed_id}");
    }
    let old = hits_on(&hits, "/ckan28/api/3/action/datastore_search");
    let offsets: Vec<Option<&str>> = old[..3]
        .iter()
        .map(|h| h.query.get("offset").map(String::as_str))
        .collect();
    assert_eq!(
        offsets,
        vec![None, Some("4"), Some("8")],
        "old-style paging by total"
    );
    assert!(
        old.iter()
            .all(|h| h.query.get("limit").map(String::as_str) == Some("4")
                && !h.query.contains_key("sort"))
    );
    let new_hits = hits_on(&hits, "/portal/api/3/action/datastore_search");
    let offsets: Vec<Option<&str>> = new_hits[..3]
        .iter()
        .map(|h| h.query.get("offset").map(String::as_str))
        .collect();
    assert_eq!(
        offsets,
        vec![None, Some("5"), Some("10")],
        "new-style paging by _links.next, ended by the empty page"
    );
    assert!(
        new_hits
            .iter()
            .all(|h| h.query.get("sort").map(String::as_str) == Some("_id desc"))
    );
    assert!(
        hits_on(&hits, "/api/3/action/datastore_search").is_empty(),
        "a `_links.next` without the portal's path prefix was followed literally"
    );

    // Feed health in /metrics.
    let m = metrics(&app.client, &app.base).await;
    for id in ids {
        assert_eq!(feed_metric(&m, "pantau_feed_up", id), 1.0, "{id}");
        assert_eq!(feed_metric(&m, "pantau_feed_errors_total", id), 0.0, "{id}");
        let d = feed_metric(&m, "pantau_feed_last_duration_seconds", id);
        assert!((0.0..5.0).contains(&d), "{id}: {d}");
    }

    // The same validation as department posts: DLH cannot post before the baseline either.
    let dlh = app.token("dlh");
    let (s, e) = app
        .post_json(
            "/api/v1/observations",
            Some(&dlh),
            &json!({"observations": [{"indicator": "env.air.ispu", "time": "2022-06-01", "value": 60.0}]}),
        )
        .await;
    assert_eq!(s, 422, "{e}");
    assert!(e.to_string().contains("baseline"), "{e}");

    // The same writer: Dinkes posting the feed's own value changes nothing; a different value is
    // a correction, and the next poll corrects it back, with the feed as the source.
    let dinkes = app.token("dinkes");
    let post = |v: f64| json!({"observations": [{"indicator": "living.health.stunting", "time": "2025-01-15T10:00:00+07:00", "value": v}]});
    let (s, r) = app
        .post_json("/api/v1/observations", Some(&dinkes), &post(21.5))
        .await;
    assert_eq!((s, r["unchanged"].as_u64()), (200, Some(1)), "{r}");
    let (s, r) = app
        .post_json("/api/v1/observations", Some(&dinkes), &post(22.0))
        .await;
    assert_eq!((s, r["corrected"].as_u64()), (200, Some(1)), "{r}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !runs(&app, "dinkes-gizi").iter().any(|r| r.corrected == 1) {
        assert!(
            Instant::now() < deadline,
            "the feed never corrected the posted value back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (s, rev) = app
        .get("/api/v1/indicators/living.health.stunting/revisions")
        .await;
    assert_eq!(s, 200);
    let rev = rev["revisions"].as_array().unwrap();
    assert!(
        rev.iter().any(|r| r["value"] == json!(21.5)
            && r["source"] == "feed:dinkes-gizi"
            && r["previous_value"] == json!(22.0)),
        "{rev:?}"
    );
    close(
        &app.indicator("living.health.stunting").await["current"],
        21.5,
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------------

/// Deterministic bytes that are neither UTF-8 nor JSON nor Prometheus text.
fn garbage() -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

fn fault_handler() -> Handler {
    handler(|path, _| match path {
        "/ok/a.json" => Canned::json(&json!({"v": 5})),
        "/ok/b.csv" => Canned::ok("text/csv", "waktu,nilai\n2025-01-01,3\n2025-01-02,4\n"),
        "/fail/500" => Canned::status(500, "Internal Server Error"),
        "/fail/loop" => Canned {
            status: 302,
            content_type: "text/plain".into(),
            body: Vec::new(),
            location: Some("/fail/loop".into()),
            content_encoding: None,
        },
        "/fail/garbage.json" => Canned::ok("application/json", garbage()),
        "/fail/garbage.prom" => Canned::ok("text/plain; version=0.0.4", garbage()),
        "/fail/wrong-type" => Canned::ok("text/csv", "tanggal,nilai\n2025-01-01,1\n"),
        "/fail/login" => Canned::ok(
            "text/html; charset=utf-8",
            "<!DOCTYPE html><html><head><title>Masuk</title></head><body><form>Login SSO</form></body></html>",
        ),
        "/fail/missing.json" => Canned::json(
            &json!({"items": [{"waktu": "2025-01-01", "jumlah": 3}, {"waktu": "2025-01-02", "jumlah": 4}]}),
        ),
        "/fail/missing.csv" => Canned::ok("text/csv", "waktu,jumlah\n2025-01-01,3\n"),
        "/fail/nan.prom" => Canned::ok(
            "text/plain; version=0.0.4",
            "# TYPE pm25 gauge\npm25{station=\"a\"} NaN\npm25{station=\"b\"} +Inf\npm25{station=\"c\"} -Inf\npm25{station=\"d\"} 40\npm25{station=\"e\"} 60\n",
        ),
        "/fail/nan.json" => Canned::json(&json!({"items": [
            {"waktu": "2025-01-01", "nilai": 12.5},
            {"waktu": "2025-01-02", "nilai": "NaN"},
            {"waktu": "2025-01-03", "nilai": "Infinity"},
            {"waktu": "2025-01-04", "nilai": "-inf"},
            {"waktu": "2025-01-05", "nilai": null},
            {"waktu": "2025-01-06", "nilai": 13.5},
        ]})),
        _ => Canned::status(404, "not found"),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_is_recorded_while_healthy_feeds_keep_their_pace() {
    let (web, hits) = upstream(fault_handler()).await;
    let (hang, _, _) = raw_upstream(Raw::Hang).await;
    let (endless, _, endless_ended) = raw_upstream(Raw::Endless).await;
    let (endless_default, _, _) = raw_upstream(Raw::Endless).await;
    let (slow, _, slow_ended) = raw_upstream(Raw::SlowBody).await;
    let refused = refused_port();
    let sensor_point = r#"points = [{ indicator = "env.air.sensor", value = "/v" }]"#;
    let sensor_records = r#"records = { path = "/items", indicator = "env.air.sensor", value = "nilai", time = "waktu" }"#;
    let sensor_csv = r#"time_column = "waktu"
series = [{ indicator = "env.air.sensor", column = "nilai" }]"#;
    let sensor_prom = r#"series = [{ indicator = "env.air.sensor", metric = "up" }]"#;
    let feeds_toml = [
        feed("healthy-a", "dlh", &format!("http://{web}/ok/a.json"), "json", EVERY_SECOND, sensor_point),
        feed(
            "healthy-b",
            "dlh",
            &format!("http://{web}/ok/b.csv"),
            "csv",
            EVERY_SECOND,
            r#"time_column = "waktu"
series = [{ indicator = "env.air.trees", column = "nilai" }]"#,
        ),
        feed(
            "timeout",
            "dlh",
            &format!("http://{hang}/data.json"),
            "json",
            "schedule = \"*/1 * * * * *\"\ntimeout = \"3s\"\nretries = 0",
            sensor_point,
        ),
        feed(
            "slow-body",
            "dlh",
            &format!("http://{slow}/data.json"),
            "json",
            EVERY_SECOND,
            sensor_point,
        ),
        feed(
            "endless",
            "dlh",
            &format!("http://{endless}/data.json"),
            "json",
            "schedule = \"*/1 * * * * *\"\ntimeout = \"5s\"\nretries = 0\nmax_bytes = 65536",
            sensor_point,
        ),
        feed(
            "endless-default-limit",
            "dlh",
            &format!("http://{endless_default}/data.json"),
            "json",
            "schedule = \"*/5 * * * * *\"\ntimeout = \"10s\"\nretries = 0",
            sensor_point,
        ),
        feed("refused", "dlh", &format!("http://{refused}/data.json"), "json", EVERY_SECOND, sensor_point),
        feed(
            "http-500",
            "dlh",
            &format!("http://{web}/fail/500"),
            "json",
            "schedule = \"*/1 * * * * *\"\ntimeout = \"1s\"\nretries = 1",
            sensor_point,
        ),
        feed("redirect-loop", "dlh", &format!("http://{web}/fail/loop"), "json", EVERY_SECOND, sensor_point),
        feed("garbage-json", "dlh", &format!("http://{web}/fail/garbage.json"), "json", EVERY_SECOND, sensor_point),
        feed("garbage-prom", "dlh", &format!("http://{web}/fail/garbage.prom"), "prometheus", EVERY_SECOND, sensor_prom),
        feed("wrong-type", "dlh", &format!("http://{web}/fail/wrong-type"), "json", EVERY_SECOND, sensor_point),
        feed("login-page", "dlh", &format!("http://{web}/fail/login"), "json", EVERY_SECOND, sensor_point),
        feed("missing-field", "dlh", &format!("http://{web}/fail/missing.json"), "json", EVERY_SECOND, sensor_records),
        feed("missing-column", "dlh", &format!("http://{web}/fail/missing.csv"), "csv", EVERY_SECOND, sensor_csv),
        feed(
            "nan-prom",
            "dlh",
            &format!("http://{web}/fail/nan.prom"),
            "prometheus",
            EVERY_SECOND,
            r#"series = [{ indicator = "env.air.pm25", metric = "pm25", aggregate = "avg" }]"#,
        ),
        feed(
            "nan-json",
            "dlh",
            &format!("http://{web}/fail/nan.json"),
            "json",
            EVERY_SECOND,
            r#"records = { path = "/items", indicator = "env.air.pm10", value = "nilai", time = "waktu" }"#,
        ),
    ]
    .concat();
    let app = spawn_app_with(&format!("{BASE}{feeds_toml}"), "").await;
    let started = Instant::now();

    // (feed, expected http_status, what the error says)
    let faults: [(&str, Value, &[&str]); 13] = [
        ("timeout", Value::Null, &["timed out"]),
        ("slow-body", Value::Null, &["timed out"]),
        ("endless", json!(200), &["larger than max_bytes = 65536"]),
        (
            "endless-default-limit",
            json!(200),
            &["larger than max_bytes = 16777216"],
        ),
        ("refused", Value::Null, &["cannot connect"]),
        ("http-500", json!(500), &["HTTP 500", "after 2 attempts"]),
        ("redirect-loop", Value::Null, &["too many redirects"]),
        ("garbage-json", json!(200), &["response body"]),
        ("garbage-prom", json!(200), &[]),
        (
            "wrong-type",
            json!(200),
            &["not valid JSON", "content type `text/csv`"],
        ),
        ("login-page", json!(200), &["HTML page"]),
        ("missing-field", json!(200), &["no field `nilai`"]),
        ("missing-column", json!(200), &["nilai"]),
    ];
    let fault_ids: Vec<&str> = faults.iter().map(|f| f.0).collect();
    let f = wait_feeds(&app, 20, "every faulty feed failed twice", |f| {
        fault_ids.iter().all(|id| {
            f.get(*id)
                .is_some_and(|x| x["consecutive_failures"].as_u64().unwrap_or(0) >= 2)
        }) && ["healthy-a", "healthy-b", "nan-prom", "nan-json"]
            .iter()
            .all(|id| f.get(*id).is_some_and(|x| polls(x) >= 2))
    })
    .await;
    let window = started.elapsed();

    for (id, status, needles) in &faults {
        let v = &f[*id];
        let err = v["last_run"]["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: no error in {v}"));
        assert_eq!(&v["last_run"]["http_status"], status, "{id}: {v}");
        for n in *needles {
            assert!(err.contains(n), "{id}: `{n}` not in `{err}`");
        }
        assert_eq!(v["up"], false, "{id}");
        assert!(v["last_success"].is_null(), "{id}: {v}");
        assert_eq!(v["last_error"]["message"].as_str(), Some(err), "{id}");
        assert!(
            v["last_error"]["time"]
                .as_str()
                .unwrap()
                .ends_with("+07:00")
        );
        assert_eq!(v["consecutive_failures"], v["polls_total"], "{id}: {v}");
        assert_eq!(v["errors_total"], v["polls_total"], "{id}: {v}");
        assert_eq!(v["last_run"]["new"], 0, "{id}");
        assert!(v["next_run"].is_string(), "{id}");
        let recorded = runs(&app, id);
        assert!(
            recorded.len() >= 2,
            "{id}: every run is recorded: {recorded:?}"
        );
        assert!(
            recorded.iter().all(|r| r.error.is_some() && r.new == 0),
            "{id}: {recorded:?}"
        );
    }
    // The timeout is the feed's own: about 3 s, and the ticks that came meanwhile were skipped.
    let d = f["timeout"]["last_run"]["duration_ms"].as_i64().unwrap();
    assert!((2900..6000).contains(&d), "timeout run took {d} ms");
    assert!(
        f["timeout"]["skipped_total"].as_u64().unwrap() >= 1,
        "{}",
        f["timeout"]
    );
    // The daemon hung up on the endless and the slow bodies.
    assert!(endless_ended.load(Ordering::SeqCst) >= 1);
    assert!(slow_ended.load(Ordering::SeqCst) >= 1);
    // Retries happen inside the tick: two requests per poll of the 500 feed.
    assert!(hits_on(&hits, "/fail/500").len() >= 4);
    // A redirect loop is cut off.
    let loops = hits_on(&hits, "/fail/loop").len() as u64;
    assert!(
        loops <= 7 * polls(&f["redirect-loop"]) + 7,
        "{loops} requests"
    );

    // NaN and ±Inf are skipped, never stored; the rest of the body is used.
    for id in ["nan-prom", "nan-json"] {
        assert!(succeeded(&f[id]), "{id}: {}", f[id]);
        assert_eq!(f[id]["up"], true);
    }
    let s = series(&app, "env.air.pm25").await;
    assert!(!s.is_empty());
    for p in &s {
        assert_eq!(
            p["value"],
            json!(50.0),
            "the average of the finite samples: {p}"
        );
    }
    let s = series(&app, "env.air.pm10").await;
    let got: Vec<(String, Value)> = s
        .iter()
        .map(|p| (p["time"].as_str().unwrap().to_string(), p["value"].clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("2025-01-01T00:00:00+07:00".to_string(), json!(12.5)),
            ("2025-01-06T00:00:00+07:00".to_string(), json!(13.5))
        ]
    );
    assert_eq!(f["nan-json"]["last_run"]["points"], 2);

    // The healthy feeds were never held up: polls about every second all along.
    for id in ["healthy-a", "healthy-b"] {
        let v = &f[id];
        assert!(succeeded(v) && v["up"] == true, "{id}: {v}");
        assert_eq!(v["consecutive_failures"], 0);
        assert_eq!(v["errors_total"], 0);
        assert!(v["last_run"]["duration_ms"].as_i64().unwrap() < 1000, "{v}");
    }
    let times: Vec<Instant> = hits_on(&hits, "/ok/a.json").iter().map(|h| h.at).collect();
    let worst = times
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default();
    assert!(
        times.len() as f64 >= window.as_secs_f64() - 2.0 && worst < Duration::from_millis(2500),
        "{} polls of a healthy feed in {window:?}, worst gap {worst:?}",
        times.len()
    );
    let healthy_stored = series(&app, "env.air.trees").await;
    assert_eq!(healthy_stored.len(), 2);
    assert!(
        healthy_stored
            .iter()
            .all(|p| p["source"] == "feed:healthy-b")
    );

    // /metrics has every feed's health.
    let m = metrics(&app.client, &app.base).await;
    for id in &fault_ids {
        assert_eq!(feed_metric(&m, "pantau_feed_up", id), 0.0, "{id}");
        assert!(
            feed_metric(&m, "pantau_feed_errors_total", id) >= 2.0,
            "{id}"
        );
        feed_metric(&m, "pantau_feed_last_duration_seconds", id);
    }
    assert!(feed_metric(&m, "pantau_feed_last_duration_seconds", "timeout") >= 2.9);
    for id in ["healthy-a", "healthy-b", "nan-prom", "nan-json"] {
        assert_eq!(feed_metric(&m, "pantau_feed_up", id), 1.0, "{id}");
        assert_eq!(feed_metric(&m, "pantau_feed_errors_total", id), 0.0, "{id}");
    }

    // Nothing crashed the daemon: it still answers, still polls, and stops cleanly.
    let (s, h) = app.get("/healthz").await;
    assert_eq!((s, h["status"].as_str()), (200, Some("ok")));
    let before = polls(&feeds(&app).await["healthy-a"]);
    wait_feeds(&app, 5, "healthy-a keeps polling", |f| {
        polls(at(f, "healthy-a")) > before
    })
    .await;
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Feed up / down events
// ---------------------------------------------------------------------------------------------

/// Reads websocket messages until a feed event with `kind` for `id`; returns it and every feed
/// event seen on the way.
async fn until_feed_event(ws: &mut Ws, kind: &str, id: &str, secs: u64) -> (Value, Vec<Value>) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "no {kind} event for {id} within {secs} s; saw {seen:?}"
        );
        let m = next_json(ws, left.as_secs().max(1)).await;
        if m["type"] == "event" && m["item_type"] == "feed" {
            if m["kind"] == kind && m["id"] == id {
                return (m, seen);
            }
            seen.push(m);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_going_down_and_coming_back_are_websocket_events() {
    let broken = Arc::new(AtomicBool::new(false));
    let b = broken.clone();
    let (web, _) = upstream(handler(move |path, _| match path {
        "/flaky.json" if b.load(Ordering::SeqCst) => Canned::status(500, "down for maintenance"),
        "/flaky.json" | "/steady.json" => {
            Canned::json(&json!({"v": 5, "t": "2025-01-01T08:00:00+07:00"}))
        }
        _ => Canned::status(404, "not found"),
    }))
    .await;
    let point = r#"points = [{ indicator = "env.air.sensor", value = "/v", time = "/t" }]"#;
    let plan = format!(
        "{BASE}{}{}{}",
        feed(
            "flaky",
            "dlh",
            &format!("http://{web}/flaky.json"),
            "json",
            EVERY_SECOND,
            point
        ),
        feed(
            "steady",
            "dlh",
            &format!("http://{web}/steady.json"),
            "json",
            EVERY_SECOND,
            point
        ),
        feed(
            "dead",
            "dlh",
            &format!("http://{}/x.json", refused_port()),
            "json",
            EVERY_SECOND,
            point
        ),
    );
    let app = spawn_app_with(&plan, "").await;
    let (_, h) = app.get("/healthz").await;
    let epoch = h["epoch"].as_str().unwrap().to_string();
    wait_feeds(&app, 10, "flaky and steady up, dead down", |f| {
        succeeded(at(f, "flaky")) && succeeded(at(f, "steady")) && polls(at(f, "dead")) >= 1
    })
    .await;

    // Replayed from the start: the feed that failed from its first poll went down; a first
    // success is not an event.
    let mut ws = connect(&app.ws_url(&format!("?since=0&epoch={epoch}"))).await;
    let (down, before) = until_feed_event(&mut ws, "feed_down", "dead", 5).await;
    assert!(before.is_empty(), "unexpected feed events: {before:?}");
    assert!(
        down["message"].as_str().unwrap().contains("cannot connect"),
        "{down}"
    );

    broken.store(true, Ordering::SeqCst);
    let (down, others) = until_feed_event(&mut ws, "feed_down", "flaky", 10).await;
    assert!(others.is_empty(), "unexpected feed events: {others:?}");
    assert_eq!(down["type"], "event");
    assert_eq!(down["item_type"], "feed");
    assert_eq!(down["epoch"], json!(epoch));
    assert!(down["seq"].as_u64().unwrap() > 0);
    assert!(down["time"].as_str().unwrap().ends_with("+07:00"), "{down}");
    assert!(down["name"].as_str().unwrap().contains("flaky"), "{down}");
    assert!(
        down["message"].as_str().unwrap().contains("HTTP 500"),
        "{down}"
    );

    // Staying down is not news: one event per outage.
    wait_feeds(&app, 10, "flaky failed three times", |f| {
        at(f, "flaky")["consecutive_failures"].as_u64() >= Some(3)
    })
    .await;
    broken.store(false, Ordering::SeqCst);
    let (up, between) = until_feed_event(&mut ws, "feed_up", "flaky", 10).await;
    assert!(
        between.is_empty(),
        "repeated events while down: {between:?}"
    );
    assert_eq!(up["item_type"], "feed");
    assert!(up["seq"].as_u64() > down["seq"].as_u64());
    let f = feeds(&app).await;
    assert_eq!(f["flaky"]["consecutive_failures"], 0);
    assert_eq!(f["flaky"]["up"], true);
    assert!(
        f["flaky"]["last_error"]["message"]
            .as_str()
            .unwrap()
            .contains("HTTP 500")
    );
    assert!(f["flaky"]["errors_total"].as_u64().unwrap() >= 3);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Schedules
// ---------------------------------------------------------------------------------------------

/// The first local `hh:mm` strictly after `now` on a day that `day_ok` accepts, computed
/// independently of pantau's cron code.
fn next_local(
    now: DateTime<Utc>,
    tz: Tz,
    (h, m): (u32, u32),
    day_ok: impl Fn(NaiveDate) -> bool,
) -> DateTime<Utc> {
    let today = now.with_timezone(&tz).date_naive();
    (0..62)
        .map(|d| today + chrono::Days::new(d))
        .filter(|d| day_ok(*d))
        .filter_map(|d| {
            tz.from_local_datetime(&d.and_hms_opt(h, m, 0).unwrap())
                .single()
        })
        .map(|t| t.with_timezone(&Utc))
        .find(|t| *t > now)
        .unwrap()
}

/// Checks a feed's `next_run`: the offset, and that it is the expected fire time (computed at
/// either `before` or `after`) plus the fixed per-feed spread of under 30 s.
fn check_next_run(
    v: &Value,
    tz: Tz,
    offset: &str,
    (before, after): (DateTime<Utc>, DateTime<Utc>),
    at: (u32, u32),
    day_ok: impl Fn(NaiveDate) -> bool + Copy,
) {
    let text = v["next_run"]
        .as_str()
        .unwrap_or_else(|| panic!("no next_run: {v}"));
    assert!(
        text.ends_with(offset),
        "{} next_run {text} is not at {offset}",
        v["id"]
    );
    let next = DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc);
    let ok = [before, after].into_iter().any(|now| {
        let want = next_local(now, tz, at, day_ok);
        next >= want && next - want < chrono::Duration::seconds(30)
    });
    assert!(
        ok,
        "{}: next_run {text}, expected {} (plus under 30 s)",
        v["id"],
        next_local(before, tz, at, day_ok).with_timezone(&tz)
    );
    let local = next.with_timezone(&tz);
    assert!(day_ok(local.date_naive()), "{text}");
    assert_eq!((local.hour(), local.minute()), at, "{text}");
}

fn weekly_feeds(addr: SocketAddr, schedules: &[(&str, &str)]) -> String {
    schedules
        .iter()
        .map(|(id, schedule)| {
            feed(
                id,
                "dlh",
                &format!("http://{addr}/{id}.json"),
                "json",
                &format!(
                    "schedule = \"{schedule}\"\nrun_at_start = false\ntimeout = \"1s\"\nretries = 0"
                ),
                r#"points = [{ indicator = "env.air.sensor", value = "/v" }]"#,
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_runs_follow_crontab_day_of_week_in_the_city_zone() {
    let (web, hits) = upstream(handler(|_, _| Canned::json(&json!({"v": 5})))).await;
    let schedules = [
        ("monday-0800", "0 8 * * 1"),
        ("sunday-0", "30 6 * * 0"),
        ("sunday-7", "30 6 * * 7"),
        ("sunday-name", "30 6 * * sun"),
        ("weekdays", "15 7 * * 1-5"),
        ("first-or-monday", "0 0 1 * 1"),
        ("every-second", "*/1 * * * * *"),
    ];
    let before = Utc::now();
    let app = spawn_app_with(&format!("{BASE}{}", weekly_feeds(web, &schedules)), "").await;
    let f = wait_feeds(&app, 10, "the every-second feed fired twice", |f| {
        polls(at(f, "every-second")) >= 2
    })
    .await;
    let after = Utc::now();
    let jkt = chrono_tz::Asia::Jakarta;
    let span = (before, after);
    let wd = |w: Weekday| move |d: NaiveDate| d.weekday() == w;
    check_next_run(
        &f["monday-0800"],
        jkt,
        "+07:00",
        span,
        (8, 0),
        wd(Weekday::Mon),
    );
    for id in ["sunday-0", "sunday-7", "sunday-name"] {
        check_next_run(&f[id], jkt, "+07:00", span, (6, 30), wd(Weekday::Sun));
    }
    check_next_run(&f["weekdays"], jkt, "+07:00", span, (7, 15), |d| {
        d.weekday().number_from_monday() <= 5
    });
    // crontab(5): with both day-of-month and day-of-week restricted, either one fires.
    check_next_run(&f["first-or-monday"], jkt, "+07:00", span, (0, 0), |d| {
        d.day() == 1 || d.weekday() == Weekday::Mon
    });
    // None of them has run (run_at_start = false), while the every-second one has.
    for (id, _) in &schedules[..6] {
        assert!(f[*id]["last_run"].is_null(), "{id}: {}", f[*id]);
        assert_eq!(polls(&f[*id]), 0, "{id}");
        assert_eq!(
            f[*id]["schedule"],
            json!(schedules.iter().find(|s| s.0 == *id).unwrap().1)
        );
        assert!(
            hits_on(&hits, &format!("/{id}.json")).is_empty(),
            "{id} was polled"
        );
    }
    let n = f["every-second"]["next_run"].as_str().unwrap();
    let n = DateTime::parse_from_rfc3339(n).unwrap().with_timezone(&Utc);
    let now = Utc::now();
    assert!(
        n > now - chrono::Duration::seconds(1) && n < now + chrono::Duration::milliseconds(1500),
        "a seconds-first schedule fires within the second: next_run {n}, now {now}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_runs_are_in_the_configured_city_zone() {
    let (web, _) = upstream(handler(|_, _| Canned::json(&json!({"v": 5})))).await;
    let dir = tempfile::tempdir().unwrap();
    let schedules = [("monday-0800", "0 8 * * 1"), ("sunday", "30 6 * * sun")];
    let cfg = write_config(
        dir.path(),
        &format!("{BASE}{}", weekly_feeds(web, &schedules)),
        "",
    );
    let settings = std::fs::read_to_string(&cfg).unwrap();
    assert!(settings.contains("time_zone = \"Asia/Jakarta\""));
    std::fs::write(&cfg, settings.replace("Asia/Jakarta", "Asia/Jayapura")).unwrap();
    let before = Utc::now();
    let app = start_in(dir, cfg, Default::default()).await;
    let f = wait_feeds(&app, 5, "both feeds scheduled", |f| {
        f.values().filter(|v| v["next_run"].is_string()).count() == 2
    })
    .await;
    let after = Utc::now();
    let (_, m) = app.get("/api/v1/masterplan").await;
    assert_eq!(m["time_zone"], "Asia/Jayapura");
    let wit = chrono_tz::Asia::Jayapura;
    let wd = |w: Weekday| move |d: NaiveDate| d.weekday() == w;
    check_next_run(
        &f["monday-0800"],
        wit,
        "+09:00",
        (before, after),
        (8, 0),
        wd(Weekday::Mon),
    );
    check_next_run(
        &f["sunday"],
        wit,
        "+09:00",
        (before, after),
        (6, 30),
        wd(Weekday::Sun),
    );
    // 08:00 WIT is 23:00 UTC the day before, two hours before 08:00 WIB would be.
    let n = DateTime::parse_from_rfc3339(f["monday-0800"]["next_run"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(n.hour(), 23);
    assert_eq!(n.weekday(), Weekday::Sun);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Reload
// ---------------------------------------------------------------------------------------------

fn reload_handler() -> Handler {
    handler(|path, _| match path {
        "/gizi.json" => Canned::json(&json!({"v": 21.0, "t": "2025-01-15T10:00:00+07:00"})),
        "/posyandu.json" => Canned::json(&json!({"v": 42.0, "t": "2025-01-20T09:00:00+07:00"})),
        "/old.json" => Canned::json(&json!({"v": 120.0, "t": "2025-01-10T00:00:00+07:00"})),
        _ => Canned::status(404, "not found"),
    })
}

const POSYANDU: &str = r#"
[[indicator]]
id = "living.health.posyandu"
program = "living.health"
name = "Posyandu digital"
unit = "unit"
direction = "increase"
kind = "cumulative"
baseline = { date = 2022-12-31, value = 0.0 }
targets = [{ date = 2027-12-31, value = 500.0 }]
update_every = "1mo"
"#;

/// Plan A: gizi polls every second, `weekly` waits for Monday, `old` polls every second.
fn plan_a(web: SocketAddr) -> String {
    let every = EVERY_SECOND;
    let point = |ind: &str| {
        format!("points = [{{ indicator = \"{ind}\", value = \"/v\", time = \"/t\" }}]")
    };
    format!(
        "{BASE}{}{}{}",
        feed(
            "gizi",
            "dinkes",
            &format!("http://{web}/gizi.json"),
            "json",
            every,
            &point("living.health.stunting")
        ),
        feed(
            "weekly",
            "dinkes",
            &format!("http://{web}/gizi.json"),
            "json",
            "schedule = \"0 8 * * 1\"\nrun_at_start = false\ntimeout = \"1s\"\nretries = 0",
            &point("living.health.stunting"),
        ),
        feed(
            "old",
            "dinkes",
            &format!("http://{web}/old.json"),
            "json",
            every,
            &point("living.health.visits")
        ),
    )
}

/// Plan B: a new indicator and a new feed for it, `weekly` now every second, `old` removed.
fn plan_b(web: SocketAddr) -> String {
    let every = EVERY_SECOND;
    let point = |ind: &str| {
        format!("points = [{{ indicator = \"{ind}\", value = \"/v\", time = \"/t\" }}]")
    };
    format!(
        "{BASE}{POSYANDU}{}{}{}",
        feed(
            "gizi",
            "dinkes",
            &format!("http://{web}/gizi.json"),
            "json",
            every,
            &point("living.health.stunting")
        ),
        feed(
            "weekly",
            "dinkes",
            &format!("http://{web}/gizi.json"),
            "json",
            every,
            &point("living.health.stunting")
        ),
        feed(
            "posyandu",
            "dinkes",
            &format!("http://{web}/posyandu.json"),
            "json",
            every,
            &point("living.health.posyandu")
        ),
    )
}

/// Plan B with three mistakes `pantau check` reports.
fn plan_broken(web: SocketAddr) -> String {
    format!(
        "{}{}\n[[indicator]]\nid = \"living.health.gizi-buruk\"\nprogram = \"living.gizi\"\nname = \"Gizi buruk\"\nunit = \"kasus\"\ndirection = \"decrease\"\nbaseline = {{ date = 2022-12-31, value = 30.0 }}\ntargets = [{{ date = 2027-12-31, value = 10.0 }}]\nupdate_every = \"1mo\"\n",
        plan_b(web),
        feed(
            "dinkes-udara",
            "dinkes",
            &format!("http://{web}/gizi.json"),
            "json",
            "schedule = \"0 8 * * 9\"",
            r#"points = [{ indicator = "env.air.ispu", value = "/v" }]"#,
        ),
    )
}

fn ids_of(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_reload_replaces_masterplan_and_schedules_and_refuses_a_broken_config() {
    let (web, hits) = upstream(reload_handler()).await;
    let app = spawn_app_with(&plan_a(web), "").await;
    let masterplan = app.config_path.parent().unwrap().join("masterplan.toml");
    wait_feeds(&app, 10, "gizi and old polled", |f| {
        succeeded(at(f, "gizi")) && succeeded(at(f, "old"))
    })
    .await;
    let dinkes = app.token("dinkes");
    let (s, r) = app
        .post_json(
            "/api/v1/observations",
            Some(&dinkes),
            &json!({"observations": [{"indicator": "living.health.visits", "time": "2025-02-01", "value": 150.0}]}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let stunting_before = series(&app, "living.health.stunting").await;
    let visits_before = series(&app, "living.health.visits").await;
    assert_eq!(stunting_before.len(), 1);
    assert_eq!(visits_before.len(), 2);
    let gizi_polls = polls(&feeds(&app).await["gizi"]);

    // Only the admin token may reload.
    std::fs::write(&masterplan, plan_b(web)).unwrap();
    let (s, _) = app
        .post_json("/api/v1/admin/reload", None, &json!({}))
        .await;
    assert_eq!(s, 401);
    let (s, _) = app
        .post_json("/api/v1/admin/reload", Some(&dinkes), &json!({}))
        .await;
    assert_eq!(s, 403);
    let (_, m) = app.get("/api/v1/masterplan").await;
    assert!(!ids_of(&m["indicators"]).contains(&"living.health.posyandu".to_string()));

    let (s, r) = app
        .post_json("/api/v1/admin/reload", Some(ADMIN), &json!({}))
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["reloaded"], true);
    let (_, m) = app.get("/api/v1/masterplan").await;
    let indicators = ids_of(&m["indicators"]);
    assert!(
        indicators.contains(&"living.health.posyandu".to_string()),
        "{indicators:?}"
    );
    assert_eq!(r["indicators"], json!(indicators.len()));
    assert_eq!(ids_of(&m["feeds"]), vec!["gizi", "weekly", "posyandu"]);
    assert!(
        app.indicator("living.health.posyandu").await["status"].is_string(),
        "the new indicator is in the progress"
    );

    // The new schedules run: the new feed writes, `weekly` now polls every second, `old` is gone.
    let f = wait_feeds(
        &app,
        10,
        "posyandu and weekly polled after the reload",
        |f| {
            f.get("posyandu").is_some_and(succeeded)
                && f.get("weekly").is_some_and(succeeded)
                && !f.contains_key("old")
        },
    )
    .await;
    assert_eq!(
        f.keys().collect::<Vec<_>>(),
        vec!["gizi", "posyandu", "weekly"]
    );
    assert_eq!(f["weekly"]["schedule"], "*/1 * * * * *");
    assert!(polls(&f["gizi"]) >= gizi_polls, "gizi's health was kept");
    let s = series(&app, "living.health.posyandu").await;
    assert_eq!(s.len(), 1);
    assert_eq!(s[0]["source"], "feed:posyandu");
    close(
        &app.indicator("living.health.posyandu").await["current"],
        42.0,
    );
    let old_hits = hits_on(&hits, "/old.json").len();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        hits_on(&hits, "/old.json").len(),
        old_hits,
        "a removed feed is still polled"
    );

    // Stored data survived.
    assert_eq!(
        series(&app, "living.health.stunting").await,
        stunting_before
    );
    assert_eq!(series(&app, "living.health.visits").await, visits_before);
    close(
        &app.indicator("living.health.visits").await["current"],
        150.0,
    );

    // A broken config is refused with `pantau check`'s messages; the running one stays.
    std::fs::write(&masterplan, plan_broken(web)).unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_pantau"))
        .arg("check")
        .arg("--config")
        .arg(&app.config_path)
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(2));
    let check = String::from_utf8_lossy(&check.stderr).trim().to_string();
    let (s, e) = app
        .post_json("/api/v1/admin/reload", Some(ADMIN), &json!({}))
        .await;
    assert_eq!(s, 422, "{e}");
    let message = e["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&check),
        "the reload answer lacks what `pantau check` says:\n{check}\n---\n{message}"
    );
    for needle in [
        "day of the week",
        "a feed may only write its own department's indicators",
        "unknown program `living.gizi`",
    ] {
        assert!(message.contains(needle), "`{needle}` not in {message}");
    }
    assert!(e["error"]["rows"].as_array().unwrap().len() >= 3, "{e}");
    let (_, m) = app.get("/api/v1/masterplan").await;
    assert_eq!(ids_of(&m["indicators"]), indicators);
    assert_eq!(ids_of(&m["feeds"]), vec!["gizi", "weekly", "posyandu"]);
    let before = polls(&feeds(&app).await["posyandu"]);
    let f = wait_feeds(&app, 5, "the running feeds keep polling", |f| {
        polls(at(f, "posyandu")) > before
    })
    .await;
    assert!(!f.contains_key("dinkes-udara"));
    assert_eq!(
        series(&app, "living.health.stunting").await,
        stunting_before
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_real_daemon_and_keeps_it_on_a_broken_config() {
    let (web, _) = upstream(reload_handler()).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), BASE, "");
    let daemon = Daemon::start(&cfg);
    let addr = daemon.addr.clone();
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    let get = |path: &str| {
        let (client, url) = (client.clone(), format!("{base}{path}"));
        async move {
            let r = client.get(url).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let (s, r) = {
        let r = client
            .post(format!("{base}/api/v1/observations"))
            .bearer_auth(ADMIN)
            .json(&json!({"observations": [{"indicator": "living.health.stunting", "time": "2025-01-01", "value": 25.0}]}))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    };
    assert_eq!((s, r["new"].as_u64()), (200, Some(1)), "{r}");
    let (_, f) = get("/api/v1/feeds").await;
    assert_eq!(f["feeds"], json!([]));

    // A valid new config: a new indicator and a feed for it.
    std::fs::write(dir.path().join("masterplan.toml"), plan_b(web)).unwrap();
    daemon.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, f) = get("/api/v1/feeds").await;
        let polled = f["feeds"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == "posyandu" && succeeded(x));
        if polled {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not load the new feeds: {f}\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, m) = get("/api/v1/masterplan").await;
    let indicators = ids_of(&m["indicators"]);
    assert!(indicators.contains(&"living.health.posyandu".to_string()));
    let (_, s) = get("/api/v1/indicators/living.health.posyandu/series").await;
    assert_eq!(s["points"][0]["source"], "feed:posyandu");
    let (_, s) = get("/api/v1/indicators/living.health.stunting/series").await;
    let points = s["points"].as_array().unwrap();
    assert!(
        points
            .iter()
            .any(|p| p["value"] == json!(25.0) && p["time"] == "2025-01-01T00:00:00+07:00"),
        "the posted value was lost: {s}"
    );

    // A broken config: refused, logged with its problems, the running one stays.
    std::fs::write(dir.path().join("masterplan.toml"), plan_broken(web)).unwrap();
    daemon.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !daemon.log().contains("reload refused") {
        assert!(
            Instant::now() < deadline,
            "no refusal logged:\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = daemon.log();
    assert!(log.contains("day of the week"), "{log}");
    assert!(log.contains("unknown program `living.gizi`"), "{log}");
    let (s, h) = get("/healthz").await;
    assert_eq!((s, h["status"].as_str()), (200, Some("ok")));
    let (_, m) = get("/api/v1/masterplan").await;
    assert_eq!(ids_of(&m["indicators"]), indicators);
    assert_eq!(ids_of(&m["feeds"]), vec!["gizi", "weekly", "posyandu"]);

    // Still stops cleanly.
    let mut daemon = daemon;
    daemon.signal("TERM");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = daemon.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the daemon did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status {status:?}\n{}", daemon.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_is_not_held_up_by_a_hanging_feed() {
    let (web, hits) = upstream(handler(|_, _| {
        Canned::json(&json!({"v": 5, "t": "2025-01-01T08:00:00+07:00"}))
    }))
    .await;
    let (hang, hang_connections, _) = raw_upstream(Raw::Hang).await;
    let point = r#"points = [{ indicator = "env.air.sensor", value = "/v", time = "/t" }]"#;
    let feeds_a = format!(
        "{}{}",
        feed(
            "healthy",
            "dlh",
            &format!("http://{web}/healthy.json"),
            "json",
            EVERY_SECOND,
            point
        ),
        feed(
            "hanging",
            "dlh",
            &format!("http://{hang}/x.json"),
            "json",
            "schedule = \"*/1 * * * * *\"\ntimeout = \"6s\"\nretries = 0",
            point,
        ),
    );
    let app = spawn_app_with(&format!("{BASE}{feeds_a}"), "").await;
    wait_feeds(&app, 10, "healthy polled while hanging hangs", |f| {
        succeeded(at(f, "healthy")) && at(f, "hanging")["running"] == true
    })
    .await;

    // Add a feed and reload while `hanging` is stuck in a 6 s poll.
    let added = feed(
        "added",
        "dlh",
        &format!("http://{web}/added.json"),
        "json",
        EVERY_SECOND,
        point,
    );
    let masterplan = app.config_path.parent().unwrap().join("masterplan.toml");
    std::fs::write(&masterplan, format!("{BASE}{feeds_a}{added}")).unwrap();
    let reloading = Instant::now();
    let (s, r) = app
        .post_json("/api/v1/admin/reload", Some(ADMIN), &json!({}))
        .await;
    assert_eq!(s, 200, "{r}");
    wait_feeds(&app, 4, "the new feed polled soon after the reload", |f| {
        succeeded(at(f, "added"))
    })
    .await;
    // The healthy feed keeps its pace: two polls within 3.5 s of the reload (the hanging poll
    // lasts until 6 s after the start).
    let healthy_after = || {
        hits_on(&hits, "/healthy.json")
            .iter()
            .filter(|h| h.at > reloading)
            .count()
    };
    while healthy_after() < 2 {
        assert!(
            reloading.elapsed() < Duration::from_millis(3500),
            "the healthy feed waited for the hanging one after the reload: {} polls in {:?}",
            healthy_after(),
            reloading.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The new schedule of `hanging` skips its ticks while the old poll is still out: never two
    // polls of one feed at once.
    assert_eq!(hang_connections.load(Ordering::SeqCst), 1);
    // The hanging poll still ends in its own time and is recorded.
    wait_feeds(&app, 15, "the hanging poll is recorded", |f| {
        at(f, "hanging")["last_run"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("timed out"))
    })
    .await;
    app.stop().await;
}

/// Feed health comes back from the database after a restart, before the feed polls again.
#[tokio::test]
async fn feed_health_survives_a_restart() {
    let plan = |schedule: &str, run_at_start: bool| {
        format!(
            r#"
[[department]]
id = "dlh"
name = "Dinas Lingkungan Hidup"
[[dimension]]
id = "environment"
name = "Smart Environment"
[[program]]
id = "env.air"
dimension = "environment"
name = "Udara Bersih"
department = "dlh"
horizon = "medium"
start = 2023-01-01
due = 2027-12-31
[[indicator]]
id = "env.air.ispu"
program = "env.air"
name = "Rata-rata ISPU"
unit = "ISPU"
direction = "decrease"
baseline = {{ date = 2022-12-31, value = 80.0 }}
targets = [{{ date = 2027-12-31, value = 50.0 }}]
update_every = "1d"
[[feed]]
id = "dlh-down"
department = "dlh"
url = "http://127.0.0.1:9/ispu.json"
format = "json"
schedule = "{schedule}"
run_at_start = {run_at_start}
timeout = "1s"
retries = 0
[feed.json]
points = [{{ indicator = "env.air.ispu", value = "/v" }}]
"#
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &plan("*/1 * * * * *", true), "");
    let app = start_in(dir, cfg, Default::default()).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let before = loop {
        let (_, f) = app.get("/api/v1/feeds").await;
        let feed = f["feeds"][0].clone();
        if feed["consecutive_failures"].as_u64().unwrap_or(0) >= 2 {
            break feed;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the feed did not fail twice: {f}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (dir, cfg) = app.stop().await;
    // Restart with a schedule that will not fire during the test.
    std::fs::write(dir.path().join("masterplan.toml"), plan("0 8 1 1 *", false)).unwrap();
    let app = start_in(dir, cfg, Default::default()).await;
    let (_, f) = app.get("/api/v1/feeds").await;
    let feed = &f["feeds"][0];
    assert_eq!(
        feed["polls_total"].as_u64(),
        Some(0),
        "no poll since the restart: {f}"
    );
    assert!(
        feed["consecutive_failures"].as_u64().unwrap()
            >= before["consecutive_failures"].as_u64().unwrap()
    );
    assert!(
        feed["last_error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot connect"),
        "{f}"
    );
    assert_eq!(feed["last_run"]["error"], feed["last_error"]["message"]);
    assert_eq!(feed["up"], serde_json::json!(false));
    assert_eq!(feed["last_success"], serde_json::Value::Null);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Hanging feeds beside healthy ones
// ---------------------------------------------------------------------------------------------

/// The instants in `[from, to]` at which the 6-field schedule `*/n * * * * *` fires (seconds
/// 0, n, 2n, … of every minute), written out independently of pantau's cron code.
fn every_n_seconds(n: u32, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut t = from.with_nanosecond(0).unwrap() + chrono::Duration::seconds(1);
    let mut out = Vec::new();
    while t <= to {
        if t.second() % n == 0 {
            out.push(t);
        }
        t += chrono::Duration::seconds(1);
    }
    out
}

/// The value of a metric line that starts with `prefix` (labels included).
fn metric_line(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no {prefix} in /metrics:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_hanging_feeds_never_delay_healthy_ones() {
    let (web, hits) = upstream(handler(|_, _| Canned::json(&json!({"v": 5})))).await;
    let (hang, hang_connections, _) = raw_upstream(Raw::Hang).await;
    let (once, _, _) = raw_upstream(Raw::AnswerOnceThenHang).await;
    let point = r#"points = [{ indicator = "env.air.sensor", value = "/v" }]"#;
    let hanging: Vec<String> = (1..=40).map(|i| format!("hang-{i:02}")).collect();
    let mut plan = BASE.to_string();
    for id in &hanging {
        plan += &feed(
            id,
            "dlh",
            &format!("http://{hang}/{id}.json"),
            "json",
            "schedule = \"* * * * * *\"\ntimeout = \"60s\"\nretries = 0",
            point,
        );
    }
    let healthy = [("every-2s", 2u32), ("every-3s", 3), ("every-4s", 4)];
    for (id, n) in healthy {
        plan += &feed(
            id,
            "dlh",
            &format!("http://{web}/{id}.json"),
            "json",
            &format!("schedule = \"*/{n} * * * * *\"\ntimeout = \"5s\"\nretries = 0"),
            point,
        );
    }
    // Answers its first poll, then hangs: its last run succeeded, yet it is late.
    plan += &feed(
        "was-healthy",
        "dlh",
        &format!("http://{once}/x.json"),
        "json",
        "schedule = \"*/1 * * * * *\"\ntimeout = \"60s\"\nretries = 0",
        point,
    );
    let app = spawn_app_with(&plan, "").await;
    let (_, h) = app.get("/healthz").await;
    let mut ws =
        connect(&app.ws_url(&format!("?since=0&epoch={}", h["epoch"].as_str().unwrap()))).await;
    let from = Utc::now();
    tokio::time::sleep(Duration::from_secs(15)).await;
    let to = Utc::now();
    let f = feeds(&app).await;
    let m = metrics(&app.client, &app.base).await;

    for (id, n) in healthy {
        // A correctness property of the scheduler: no tick missed and each started within 1 s
        // of its instant (the first second after start-up and the last one are left out).
        let arrivals: Vec<DateTime<Utc>> = hits_on(&hits, &format!("/{id}.json"))
            .iter()
            .map(|h| h.wall)
            .collect();
        let ticks = every_n_seconds(
            n,
            from + chrono::Duration::seconds(1),
            to - chrono::Duration::seconds(1),
        );
        assert!(ticks.len() >= 3, "{id}: {ticks:?}");
        for t in &ticks {
            assert!(
                arrivals
                    .iter()
                    .any(|a| *a >= *t && *a < *t + chrono::Duration::seconds(1)),
                "{id}: the tick at {t} was missed or started more than 1 s late; polls arrived at {arrivals:?}"
            );
        }
        let v = &f[id];
        assert_eq!(
            (v["health"].as_str(), v["up"].as_bool()),
            (Some("up"), Some(true)),
            "{id}: {v}"
        );
        assert_eq!(v["skipped_total"], 0, "{id}: {v}");
        assert_eq!(
            v["spread_ms"], 0,
            "{id} shares its schedule with no other: {v}"
        );
        let l = &v["lateness"];
        assert!(l["max_ms"].as_i64().unwrap() < 1000, "{id}: {v}");
        assert!(
            l["polls"].as_u64().unwrap() >= ticks.len() as u64,
            "{id}: {v}"
        );
        assert!(l["last_scheduled"].as_str().unwrap().ends_with("+07:00"));
        assert_eq!(feed_metric(&m, "pantau_feed_up", id), 1.0, "{id}");
        assert_eq!(feed_metric(&m, "pantau_feed_late", id), 0.0, "{id}");
        let count = feed_metric(&m, "pantau_feed_lateness_seconds_count", id);
        assert!(count >= ticks.len() as f64, "{id}: {count}");
        let within_1s = metric_line(
            &m,
            &format!("pantau_feed_lateness_seconds_bucket{{feed=\"{id}\",le=\"1\"}} "),
        );
        assert_eq!(
            within_1s, count,
            "{id}: every scheduled poll started within 1 s"
        );
        for cause in ["previous_poll_running", "scheduler_behind"] {
            let skipped = metric_line(
                &m,
                &format!("pantau_feed_skipped_ticks_total{{feed=\"{id}\",cause=\"{cause}\"}} "),
            );
            assert_eq!(skipped, 0.0, "{id} {cause}");
        }
    }

    // The hanging ones: running past their period, so late and not up; their ticks skipped for
    // their own poll, never for another feed's.
    for id in &hanging {
        let v = &f[id];
        assert_eq!(v["running"], true, "{id}: {v}");
        assert_eq!(
            (v["health"].as_str(), v["up"].as_bool()),
            (Some("late"), Some(false)),
            "{id}: {v}"
        );
        let since = v["running_since"].as_str().unwrap();
        assert!(
            v["skipped_ticks"]["previous_poll_running"]
                .as_u64()
                .unwrap()
                >= 10,
            "{id}: {v}"
        );
        assert_eq!(v["skipped_ticks"]["scheduler_behind"], 0, "{id}: {v}");
        assert_eq!(
            v["last_skip"]["cause"], "previous_poll_running",
            "{id}: {v}"
        );
        let message = v["last_skip"]["message"].as_str().unwrap();
        assert!(
            message.contains("own previous poll") && message.contains(since),
            "{id}: {message}"
        );
        assert_eq!(polls(v), 0, "{id}: no poll has ended: {v}");
        assert_eq!(feed_metric(&m, "pantau_feed_up", id), 0.0, "{id}");
        assert_eq!(feed_metric(&m, "pantau_feed_late", id), 1.0, "{id}");
        assert!(
            feed_metric(&m, "pantau_feed_running_seconds", id) >= 10.0,
            "{id}"
        );
        let skipped = metric_line(
            &m,
            &format!(
                "pantau_feed_skipped_ticks_total{{feed=\"{id}\",cause=\"previous_poll_running\"}} "
            ),
        );
        assert!(skipped >= 10.0, "{id}: {skipped}");
    }
    // One poll in flight per feed: one connection each, never a second poll of the same feed.
    assert_eq!(hang_connections.load(Ordering::SeqCst), 40);

    // A feed whose last poll succeeded is not up while its next poll hangs past the period.
    let v = &f["was-healthy"];
    assert!(succeeded(v), "{v}");
    assert_eq!(
        (
            v["health"].as_str(),
            v["up"].as_bool(),
            v["running"].as_bool()
        ),
        (Some("late"), Some(false), Some(true)),
        "{v}"
    );
    assert_eq!(feed_metric(&m, "pantau_feed_up", "was-healthy"), 0.0);
    // The wall is told once that it went down, and why.
    let (down, _) = until_feed_event(&mut ws, "feed_down", "was-healthy", 5).await;
    let message = down["message"].as_str().unwrap();
    assert!(
        message.contains("running since") && message.contains("past the schedule's period"),
        "{down}"
    );
    // The daemon stops without waiting out the 60 s timeouts: polls still waiting for their
    // upstream are abandoned (`stop` fails after 20 s).
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Crontab meaning
// ---------------------------------------------------------------------------------------------

/// The next `n` fire times of `text` after `from`, both as Jakarta local `YYYY-MM-DD HH:MM:SS`.
fn fires(text: &str, from: &str, n: usize) -> Vec<String> {
    let tz = chrono_tz::Asia::Jakarta;
    let schedule = pantau::feeds::Schedule::parse(text)
        .unwrap_or_else(|e| panic!("`{text}` should be valid: {e}"));
    let local = chrono::NaiveDateTime::parse_from_str(from, "%Y-%m-%d %H:%M:%S").unwrap();
    let mut t = tz.from_local_datetime(&local).unwrap().with_timezone(&Utc);
    (0..n)
        .map(|_| {
            t = schedule.next_after(t, tz).unwrap();
            t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string()
        })
        .collect()
}

#[test]
fn schedules_fire_when_vixie_cron_would() {
    // (schedule, after, the fire times crontab(5) gives, written out by hand)
    let cases: &[(&str, &str, &[&str])] = &[
        // Every quarter hour from 09:00 to 17:45, Monday to Friday: Friday evening, then Monday.
        (
            "*/15 9-17 * * 1-5",
            "2026-11-27 17:20:00",
            &[
                "2026-11-27 17:30:00",
                "2026-11-27 17:45:00",
                "2026-11-30 09:00:00",
                "2026-11-30 09:15:00",
            ],
        ),
        // Both day fields restricted: the 1st and 15th OR any day of 0-6, i.e. every day.
        (
            "0 0 1,15 * 0-6",
            "2026-11-28 12:00:00",
            &[
                "2026-11-29 00:00:00",
                "2026-11-30 00:00:00",
                "2026-12-01 00:00:00",
            ],
        ),
        // `0-7` and `1-7` name the whole week too (7 is Sunday again), and neither begins with
        // `*`: restricted, so with the 1st and 15th (or the 13th) they fire every day.
        (
            "0 0 1,15 * 0-7",
            "2026-11-28 12:00:00",
            &[
                "2026-11-29 00:00:00",
                "2026-11-30 00:00:00",
                "2026-12-01 00:00:00",
                "2026-12-02 00:00:00",
            ],
        ),
        (
            "30 6 13 * 1-7",
            "2026-04-10 07:00:00",
            &[
                "2026-04-11 06:30:00",
                "2026-04-12 06:30:00",
                "2026-04-13 06:30:00",
                "2026-04-14 06:30:00",
            ],
        ),
        // The 13th OR a Friday (April 2026: Fridays 3, 10, 17, 24; the 13th is a Monday).
        (
            "0 0 13 * 5",
            "2026-04-01 00:00:00",
            &[
                "2026-04-03 00:00:00",
                "2026-04-10 00:00:00",
                "2026-04-13 00:00:00",
                "2026-04-17 00:00:00",
                "2026-04-24 00:00:00",
                "2026-05-01 00:00:00",
            ],
        ),
        // Friday the 13th (February 2026) fires once.
        (
            "0 0 13 * 5",
            "2026-02-12 00:00:00",
            &["2026-02-13 00:00:00", "2026-02-20 00:00:00"],
        ),
        // 7 is Sunday; so is `sun`; and `@weekly` is Sunday midnight.
        (
            "0 0 * * 7",
            "2026-11-28 00:00:00",
            &["2026-11-29 00:00:00", "2026-12-06 00:00:00"],
        ),
        (
            "0 0 * * sun",
            "2026-11-28 00:00:00",
            &["2026-11-29 00:00:00", "2026-12-06 00:00:00"],
        ),
        (
            "@weekly",
            "2026-11-28 00:00:00",
            &["2026-11-29 00:00:00", "2026-12-06 00:00:00"],
        ),
        // `*/2` begins with `*`: day-of-month counts as unrestricted, so both must match: odd
        // days that are Mondays (November 2026 Mondays: 2, 9, 16, 23, 30; December: 7, 14, 21).
        (
            "0 0 */2 * 1",
            "2026-11-01 00:00:00",
            &[
                "2026-11-09 00:00:00",
                "2026-11-23 00:00:00",
                "2026-12-07 00:00:00",
                "2026-12-21 00:00:00",
            ],
        ),
        // The same days written as a range are restricted: odd days OR Mondays.
        (
            "0 0 1-31/2 * 1",
            "2026-10-31 12:00:00",
            &[
                "2026-11-01 00:00:00",
                "2026-11-02 00:00:00",
                "2026-11-03 00:00:00",
                "2026-11-05 00:00:00",
            ],
        ),
        // The 1st OR Mondays.
        (
            "0 0 1 * mon",
            "2026-11-28 00:00:00",
            &[
                "2026-11-30 00:00:00",
                "2026-12-01 00:00:00",
                "2026-12-07 00:00:00",
            ],
        ),
        // Month names in a range.
        (
            "0 12 * jan-mar *",
            "2026-03-31 13:00:00",
            &["2027-01-01 12:00:00", "2027-01-02 12:00:00"],
        ),
        // A range with a step.
        (
            "0-30/10 * * * *",
            "2026-11-28 10:00:30",
            &[
                "2026-11-28 10:10:00",
                "2026-11-28 10:20:00",
                "2026-11-28 10:30:00",
                "2026-11-28 11:00:00",
            ],
        ),
        // Day names in a range, Friday to Sunday through 7.
        (
            "30 8 * * fri-7",
            "2026-11-26 09:00:00",
            &[
                "2026-11-27 08:30:00",
                "2026-11-28 08:30:00",
                "2026-11-29 08:30:00",
                "2026-12-04 08:30:00",
            ],
        ),
        // Six fields: seconds first, exactly at :07 and :37.
        (
            "7,37 * * * * *",
            "2026-11-28 10:00:00",
            &[
                "2026-11-28 10:00:07",
                "2026-11-28 10:00:37",
                "2026-11-28 10:01:07",
            ],
        ),
        // Leap day.
        (
            "0 0 29 2 *",
            "2026-01-01 00:00:00",
            &["2028-02-29 00:00:00"],
        ),
        (
            "@monthly",
            "2026-11-28 00:00:00",
            &["2026-12-01 00:00:00", "2027-01-01 00:00:00"],
        ),
        ("@hourly", "2026-11-28 10:59:59", &["2026-11-28 11:00:00"]),
    ];
    for (text, from, want) in cases {
        assert_eq!(
            fires(text, from, want.len()),
            want.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            "`{text}` after {from}"
        );
    }

    // Bad schedules: pantau's own words, naming the field and its range.
    let bad: &[(&str, &str)] = &[
        ("61 * * * *", "minute 61 is out of range 0-59"),
        ("60 * * * * *", "second 60 is out of range 0-59"),
        ("* 24 * * *", "hour 24 is out of range 0-23"),
        ("* * 32 * *", "day-of-month 32 is out of range 1-31"),
        ("* * 0 * *", "day-of-month 0 is out of range 1-31"),
        ("* * * 13 *", "month 13 is out of range 1-12"),
        ("* * * * 8", "day-of-week 8 is out of range 0-7"),
        ("5-1 * * * *", "minute range `5-1` goes backwards"),
        ("*/0 * * * *", "minute step `/0` must be at least 1"),
        ("* * * jun-jan *", "month range `jun-jan` goes backwards"),
        (
            "* * * * funday",
            "day-of-week `funday` is not a day of the week",
        ),
        ("* * * *", "has 4 fields"),
        ("0 0 0 * * * 2026", "has 7 fields"),
        ("@reboot", "run_at_start"),
    ];
    for (text, needle) in bad {
        let e = pantau::feeds::Schedule::parse(text).unwrap_err();
        assert!(e.contains(needle), "`{text}`: `{needle}` not in `{e}`");
        assert!(
            e.starts_with(&format!("`{text}`")),
            "`{text}` is quoted first: {e}"
        );
        // Never the cron crate's words or its internal 6- or 7-field form.
        for foreign in ["must be less than", "Minutes", "Invalid", "0 61 * * * *"] {
            assert!(!e.contains(foreign), "`{text}`: {e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_schedules_fire_exactly_and_only_shared_ones_are_spread() {
    let (web, hits) = upstream(handler(|_, _| Canned::json(&json!({"v": 5})))).await;
    let schedules = [
        // Names exact instants and shares with no one.
        ("exact-alone", "7,37 * * * * *"),
        // The same fire times written two ways: shared, but exact seconds are never moved.
        ("exact-shared-a", "0 */5 * * * *"),
        ("exact-shared-b", "0 0-59/5 * * * *"),
        // Shared and `*/n`: spread.
        ("spread-a", "*/5 * * * *"),
        ("spread-b", "*/5 * * * *"),
        // Shares the fire times of spread-a and spread-b, but its minutes are a range.
        ("ranged", "0-59/5 * * * *"),
        // `*/n`, but alone.
        ("every-alone", "*/10 * * * * *"),
    ];
    let app = spawn_app_with(&format!("{BASE}{}", weekly_feeds(web, &schedules)), "").await;
    let f = wait_feeds(&app, 5, "every feed scheduled", |f| {
        f.len() == schedules.len() && f.values().all(|v| v["next_run"].is_string())
    })
    .await;
    let next = |id: &str| {
        DateTime::parse_from_rfc3339(f[id]["next_run"].as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc)
    };
    let n = next("exact-alone");
    assert!(
        [7, 37].contains(&n.second()) && n.nanosecond() == 0,
        "`7,37 * * * * *` must run at :07 or :37 exactly, not {n}"
    );
    for id in [
        "exact-alone",
        "exact-shared-a",
        "exact-shared-b",
        "ranged",
        "every-alone",
    ] {
        assert_eq!(f[id]["spread_ms"], 0, "{id}: {}", f[id]);
        let n = next(id);
        assert_eq!(n.nanosecond(), 0, "{id}: {n}");
    }
    for id in ["exact-shared-a", "exact-shared-b", "ranged"] {
        let n = next(id);
        assert!(n.minute() % 5 == 0 && n.second() == 0, "{id}: {n}");
    }
    assert_eq!(next("every-alone").second() % 10, 0);
    // Spread: a fixed offset under min(a quarter of 5 minutes, 30 s), different per feed.
    for id in ["spread-a", "spread-b"] {
        let spread = f[id]["spread_ms"].as_i64().unwrap();
        let want = pantau::poller::spread_offset(id, Duration::from_secs(30)).as_millis() as i64;
        assert_eq!(spread, want, "{id}");
        assert!((0..30_000).contains(&spread));
        let fire = next(id) - chrono::Duration::milliseconds(spread);
        assert!(
            fire.minute() % 5 == 0 && fire.second() == 0 && fire.nanosecond() == 0,
            "{id}: next_run minus spread_ms is the schedule's fire time: {fire}"
        );
    }
    assert_ne!(f["spread-a"]["spread_ms"], f["spread-b"]["spread_ms"]);

    // The poll itself arrives at :07 or :37, within a second.
    let deadline = Instant::now() + Duration::from_secs(35);
    let arrival = loop {
        if let Some(h) = hits_on(&hits, "/exact-alone.json").first() {
            break h.wall;
        }
        assert!(Instant::now() < deadline, "exact-alone was not polled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        [7, 37].contains(&arrival.second()) && arrival.nanosecond() < 900_000_000,
        "arrived at {arrival}"
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Feed bodies
// ---------------------------------------------------------------------------------------------

fn gzip(body: &[u8], level: flate2::Compression) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), level);
    e.write_all(body).unwrap();
    e.finish().unwrap()
}

fn zlib(body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(body).unwrap();
    e.finish().unwrap()
}

/// Raw deflate (RFC 1951, no zlib header), which some servers send as `deflate`.
fn raw_deflate(body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(body).unwrap();
    e.finish().unwrap()
}

fn brotli_encode(body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        w.write_all(body).unwrap();
    }
    out
}

fn encoded(encoding: &str, body: Vec<u8>) -> Canned {
    Canned {
        content_encoding: Some(encoding.into()),
        ..Canned::ok("application/json", body)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_bodies_are_decoded_and_limited_after_decoding() {
    const LIMIT: usize = 1 << 20;
    // 64 MiB of JSON that gzip packs far below the 1 MiB limit.
    let mut bomb_json = b"{\"v\": 1, \"pad\": \"".to_vec();
    bomb_json.resize(bomb_json.len() + (64 << 20), b'0');
    bomb_json.extend_from_slice(b"\"}");
    let bomb = Arc::new(gzip(&bomb_json, flate2::Compression::fast()));
    drop(bomb_json);
    assert!(
        bomb.len() < LIMIT,
        "the bomb is {} bytes packed",
        bomb.len()
    );
    let body = |v: f64, day: u32| {
        json!({"v": v, "t": format!("2025-01-0{day}T08:00:00+07:00")})
            .to_string()
            .into_bytes()
    };
    let b = bomb.clone();
    let (web, hits) = upstream(handler(move |path, _| match path {
        "/gzip.json" => encoded("gzip", gzip(&body(11.0, 1), flate2::Compression::default())),
        "/deflate.json" => encoded("deflate", zlib(&body(12.0, 2))),
        "/raw-deflate.json" => encoded("deflate", raw_deflate(&body(14.0, 4))),
        "/br.json" => encoded("br", brotli_encode(&body(13.0, 3))),
        "/bomb.json" => encoded("gzip", b.to_vec()),
        "/compress.json" => encoded("compress", b"\x1f\x9d\x90{\"v\": 1}".to_vec()),
        "/corrupt.json" => encoded("gzip", garbage()),
        _ => Canned::status(404, "not found"),
    }))
    .await;
    let point = r#"points = [{ indicator = "env.air.sensor", value = "/v", time = "/t" }]"#;
    let every = "schedule = \"*/1 * * * * *\"\ntimeout = \"5s\"\nretries = 0";
    let plan = format!(
        "{BASE}{}",
        [
            feed(
                "gzip",
                "dlh",
                &format!("http://{web}/gzip.json"),
                "json",
                every,
                point
            ),
            feed(
                "deflate",
                "dlh",
                &format!("http://{web}/deflate.json"),
                "json",
                every,
                point
            ),
            feed(
                "br",
                "dlh",
                &format!("http://{web}/br.json"),
                "json",
                every,
                point
            ),
            feed(
                "raw-deflate",
                "dlh",
                &format!("http://{web}/raw-deflate.json"),
                "json",
                every,
                point,
            ),
            feed(
                "bomb",
                "dlh",
                &format!("http://{web}/bomb.json"),
                "json",
                &format!("{every}\nmax_bytes = {LIMIT}"),
                point,
            ),
            feed(
                "compress",
                "dlh",
                &format!("http://{web}/compress.json"),
                "json",
                every,
                point
            ),
            feed(
                "corrupt",
                "dlh",
                &format!("http://{web}/corrupt.json"),
                "json",
                every,
                point
            ),
        ]
        .concat()
    );
    let app = spawn_app_with(&plan, "").await;
    let f = wait_feeds(&app, 20, "each feed polled twice", |f| {
        [
            "gzip",
            "deflate",
            "raw-deflate",
            "br",
            "bomb",
            "compress",
            "corrupt",
        ]
        .iter()
        .all(|id| polls(at(f, id)) >= 2)
    })
    .await;

    // Every request offers the three encodings.
    for h in hits.lock().unwrap().iter() {
        let offered = h.accept_encoding.as_deref().unwrap_or("");
        for e in ["gzip", "deflate", "br"] {
            assert!(
                offered.contains(e),
                "{}: Accept-Encoding `{offered}`",
                h.path
            );
        }
    }
    for id in ["gzip", "deflate", "br"] {
        assert!(succeeded(&f[id]) && f[id]["up"] == true, "{id}: {}", f[id]);
    }
    let s = series(&app, "env.air.sensor").await;
    let got: Vec<(String, f64, String)> = s
        .iter()
        .map(|p| {
            (
                p["time"].as_str().unwrap().to_string(),
                p["value"].as_f64().unwrap(),
                p["source"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("2025-01-01T08:00:00+07:00".into(), 11.0, "feed:gzip".into()),
            (
                "2025-01-02T08:00:00+07:00".into(),
                12.0,
                "feed:deflate".into()
            ),
            ("2025-01-03T08:00:00+07:00".into(), 13.0, "feed:br".into()),
        ]
    );

    // `deflate` is zlib-wrapped (RFC 9110 8.4.1.2); a raw deflate stream sent under that name is
    // refused, naming the encoding, and nothing of it is stored (14.0 is not in the series).
    let v = &f["raw-deflate"];
    let err = v["last_run"]["error"].as_str().unwrap_or_default();
    assert!(
        err.contains("the response body cannot be decoded") && err.contains("deflate"),
        "raw deflate: {v}"
    );
    assert_eq!(v["last_run"]["http_status"], 200);
    assert_eq!(v["up"], false);
    // The bomb is cut off at max_bytes of decoded body.
    let v = &f["bomb"];
    let err = v["last_run"]["error"].as_str().unwrap_or_default();
    assert!(
        err.contains(&format!("larger than max_bytes = {LIMIT}")),
        "bomb: {v}"
    );
    assert_eq!(v["last_run"]["http_status"], 200);
    assert_eq!(v["up"], false);
    // Another encoding is named.
    let v = &f["compress"];
    let err = v["last_run"]["error"].as_str().unwrap_or_default();
    assert!(
        err.contains("Content-Encoding `compress`") && err.contains("cannot decode"),
        "compress: {v}"
    );
    assert_eq!(v["up"], false);
    // A body that says gzip but is not.
    let v = &f["corrupt"];
    let err = v["last_run"]["error"].as_str().unwrap_or_default();
    assert!(
        err.contains("the response body cannot be decoded (") && err.contains("gzip"),
        "corrupt: {v}"
    );

    // The normal feeds are still served beside the bomb.
    let before = polls(&feeds(&app).await["gzip"]);
    wait_feeds(&app, 5, "gzip keeps polling", |f| {
        polls(at(f, "gzip")) > before
    })
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_points_are_listed_with_their_reasons() {
    let (web, _) = upstream(handler(|path, _| match path {
        "/ispu.json" => Canned::json(&json!({"items": [
            {"waktu": "2025-01-01", "nilai": 40},
            {"waktu": "2025-01-02", "nilai": 600},
            {"waktu": "2025-01-03", "nilai": -5},
            {"waktu": "2022-06-01", "nilai": 50},
            {"waktu": "2099-01-01", "nilai": 30},
        ]})),
        "/uptime.json" => Canned::json(&json!({"items": [
            {"waktu": "2025-01-01", "nilai": 150},
            {"waktu": "2025-01-02", "nilai": 200},
        ]})),
        _ => Canned::status(404, "not found"),
    }))
    .await;
    let records = |indicator: &str| {
        format!(
            r#"records = {{ path = "/items", indicator = "{indicator}", value = "nilai", time = "waktu" }}"#
        )
    };
    let plan = format!(
        "{BASE}{}{}",
        feed(
            "ispu",
            "dlh",
            &format!("http://{web}/ispu.json"),
            "json",
            EVERY_SECOND,
            &records("env.air.ispu")
        ),
        feed(
            "uptime",
            "diskominfo",
            &format!("http://{web}/uptime.json"),
            "json",
            EVERY_SECOND,
            &records("gov.spbe.uptime")
        ),
    );
    let app = spawn_app_with(&plan, "").await;
    let f = wait_feeds(&app, 10, "both feeds polled", |f| {
        polls(at(f, "ispu")) >= 1 && polls(at(f, "uptime")) >= 1
    })
    .await;

    let run = &f["ispu"]["last_run"];
    assert!(succeeded(&f["ispu"]), "{run}");
    assert_eq!(
        (run["points"].as_u64(), run["new"].as_u64()),
        (Some(5), Some(1)),
        "{run}"
    );
    assert_eq!(run["rejected"]["count"], 4, "{run}");
    let got: Vec<(String, String, f64, String)> = run["rejected"]["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["indicator"].as_str().unwrap().to_string(),
                e["time"].as_str().unwrap().to_string(),
                e["value"].as_f64().unwrap(),
                e["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        (
            "2025-01-02T00:00:00+07:00",
            600.0,
            "value 600 is above this indicator's maximum 500",
        ),
        (
            "2025-01-03T00:00:00+07:00",
            -5.0,
            "value -5 is below this indicator's minimum 0",
        ),
        (
            "2022-06-01T00:00:00+07:00",
            50.0,
            "time is before the indicator's baseline date 2022-12-31",
        ),
        ("2099-01-01T00:00:00+07:00", 30.0, "time is in the future"),
    ];
    assert_eq!(got.len(), want.len(), "{got:?}");
    for ((indicator, time, value, reason), (t, v, r)) in got.iter().zip(want) {
        assert_eq!(
            (indicator.as_str(), time.as_str(), *value),
            ("env.air.ispu", t, v)
        );
        assert!(reason.contains(r), "`{r}` not in `{reason}`");
    }
    let stored = series(&app, "env.air.ispu").await;
    assert_eq!(
        stored.len(),
        1,
        "only the valid point is stored: {stored:?}"
    );

    // Nothing valid: the run fails, saying why, and still lists the points.
    let v = &f["uptime"];
    let err = v["last_run"]["error"].as_str().unwrap();
    assert!(
        err.contains("no valid points: 2 refused") && err.contains("maximum 100"),
        "{v}"
    );
    assert_eq!(v["last_run"]["rejected"]["count"], 2);
    assert_eq!(
        v["last_run"]["rejected"]["examples"][1]["reason"],
        "value 200 is above this indicator's maximum 100"
    );
    assert_eq!(v["up"], false);
    app.stop().await;
}
