//! One table of number spellings and one of time spellings, pushed through every input path
//! against the real daemon: JSON posts (value as a string and as a number), `,` and `;` CSV
//! uploads, XLSX uploads (text cells and number cells), `pantau import` (the real binary) of `;`
//! and `,` CSV files, and feeds polled from a real local HTTP upstream: JSON (value as a string,
//! as a number, and with `decimal_comma = true`), `;` CSV, `,` CSV and a CKAN datastore (as it
//! is, and with `decimal_comma = true`). What was stored is read back from
//! `GET /api/v1/indicators/{id}/series`. Also: feeds list what they skipped, with where and why,
//! in `/api/v1/feeds`.
//!
//! The rule every path follows (`src/values/number.rs`): in a decimal-comma context (a `;` CSV,
//! `decimal_comma = true`) `.` groups thousands and `,` marks decimals; a text value without a
//! stated locale (a JSON string, a `,` CSV field, an XLSX text cell, a CKAN text field) uses the
//! decimal comma when it holds a comma and the decimal point otherwise; a JSON number or a
//! spreadsheet number cell is a number already.
//!
//! What a path cannot carry: a JSON number or a number cell holds only what JSON can spell
//! (`number: None` below); in a `,` CSV a value holding `,` is quoted, as spreadsheets write it.

mod common;

use common::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use warp::Filter;

/// What a spelling must be stored as.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    Value(f64),
    /// Refused (a post answers 4xx, an import exits with an error, a feed poll fails or skips
    /// it): nothing is stored.
    Refused,
}

use Want::{Refused, Value as V};

/// A number spelling and what each context reads it as.
struct NumberCase {
    text: &'static str,
    /// A `;` CSV, or `decimal_comma = true`.
    comma: Want,
    /// A text value without a stated locale: JSON string, `,` CSV, XLSX text cell, CKAN field.
    text_rule: Want,
    /// Written as a JSON number literal or a number cell, when JSON can spell it.
    number: Option<Want>,
}

const fn case(
    text: &'static str,
    comma: Want,
    text_rule: Want,
    number: Option<Want>,
) -> NumberCase {
    NumberCase {
        text,
        comma,
        text_rule,
        number,
    }
}

/// The number table.
const NUMBERS: &[NumberCase] = &[
    case("12.5", Refused, V(12.5), Some(V(12.5))),
    case("12,5", V(12.5), V(12.5), None),
    case("12.345", V(12345.0), V(12.345), Some(V(12.345))),
    case("1.000", V(1000.0), V(1.0), Some(V(1.0))),
    case("1.2345", Refused, V(1.2345), Some(V(1.2345))),
    case("1.234,5", V(1234.5), V(1234.5), None),
    // Written the English way: only one reading is possible, whatever the context.
    case("1,234.5", V(1234.5), V(1234.5), None),
    case("1.234.567", V(1_234_567.0), V(1_234_567.0), None),
    case("1,234,567", V(1_234_567.0), V(1_234_567.0), None),
    // A group mark must group thousands: 7.9 in a decimal-comma context is not 79.
    case("7.9", Refused, V(7.9), Some(V(7.9))),
    case("7,9", V(7.9), V(7.9), None),
    case("0.500", Refused, V(0.5), Some(V(0.5))),
    case("1,2,3", Refused, Refused, None),
    case("1.23,4", Refused, Refused, None),
    case("95%", V(95.0), V(95.0), None),
    case("95 %", V(95.0), V(95.0), None),
    // Rupiah are written the Indonesian way, also where the context does not say so.
    case("Rp 1.500.000", V(1_500_000.0), V(1_500_000.0), None),
    case("Rp 50.000", V(50_000.0), V(50_000.0), None),
    case("Rp 7.500,-", V(7500.0), V(7500.0), None),
    case("1 234 567", V(1_234_567.0), V(1_234_567.0), None),
    case("1\u{a0}234,5", V(1234.5), V(1234.5), None),
    case("\u{2212}12,5", V(-12.5), V(-12.5), None),
    case("-3", V(-3.0), V(-3.0), Some(V(-3.0))),
    case("1e6", V(1e6), V(1e6), Some(V(1e6))),
    case("1e999", Refused, Refused, Some(Refused)),
    case("NaN", Refused, Refused, None),
    case("abc", Refused, Refused, None),
    case("", Refused, Refused, None),
];

/// The paths a number takes, each storing on its own day of January 2026.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum NumberPath {
    PostJsonString,
    PostJsonNumber,
    PostCsvComma,
    PostCsvSemicolon,
    PostXlsxText,
    PostXlsxNumber,
    ImportSemicolon,
    ImportComma,
    FeedJsonString,
    FeedJsonNumber,
    FeedJsonDecimalComma,
    FeedCsvSemicolon,
    FeedCsvComma,
    FeedCkan,
    FeedCkanDecimalComma,
}

/// Every feed format that reads numbers from text is here; `prometheus` is not: the exposition
/// format spells a sample value one way only (Go's float syntax, `12.5`, `1e6`, `NaN`, `+Inf`),
/// never in a locale, so it has no `decimal_comma` and no Indonesian spelling to read.
const NUMBER_PATHS: &[NumberPath] = &[
    NumberPath::PostJsonString,
    NumberPath::PostJsonNumber,
    NumberPath::PostCsvComma,
    NumberPath::PostCsvSemicolon,
    NumberPath::PostXlsxText,
    NumberPath::PostXlsxNumber,
    NumberPath::ImportSemicolon,
    NumberPath::ImportComma,
    NumberPath::FeedJsonString,
    NumberPath::FeedJsonNumber,
    NumberPath::FeedJsonDecimalComma,
    NumberPath::FeedCsvSemicolon,
    NumberPath::FeedCsvComma,
    NumberPath::FeedCkan,
    NumberPath::FeedCkanDecimalComma,
];

impl NumberPath {
    /// What this path must store for `c`; None when it cannot carry the spelling.
    fn want(self, c: &NumberCase) -> Option<Want> {
        use NumberPath::*;
        match self {
            PostJsonNumber | PostXlsxNumber | FeedJsonNumber => c.number,
            PostCsvSemicolon | ImportSemicolon | FeedCsvSemicolon | FeedJsonDecimalComma
            | FeedCkanDecimalComma => Some(c.comma),
            PostJsonString | PostCsvComma | PostXlsxText | ImportComma | FeedJsonString
            | FeedCsvComma | FeedCkan => Some(c.text_rule),
        }
    }

    /// The kind of feed this path is (`feed_setup`), if it is one.
    fn feed_kind(self) -> Option<&'static str> {
        use NumberPath::*;
        Some(match self {
            FeedJsonString => "json-string",
            FeedJsonNumber => "json-number",
            FeedJsonDecimalComma => "json-decimal-comma",
            FeedCsvSemicolon => "csv-semicolon",
            FeedCsvComma => "csv-comma",
            FeedCkan => "ckan",
            FeedCkanDecimalComma => "ckan-decimal-comma",
            _ => return None,
        })
    }

    /// The day of January 2026 this path stores on.
    fn date(self) -> String {
        let i = NUMBER_PATHS.iter().position(|p| *p == self).unwrap();
        format!("2026-01-{:02}", i + 1)
    }
}

/// A time spelling and the instant it means in Jakarta (RFC 3339), or None when refused.
const TIMES: &[(&str, Option<&str>)] = &[
    ("2026-11-28", Some("2026-11-28T00:00:00+07:00")),
    ("2026-11-28 09:30", Some("2026-11-28T09:30:00+07:00")),
    (
        "2026-11-28T09:30:00+07:00",
        Some("2026-11-28T09:30:00+07:00"),
    ),
    ("2026-11-28T02:30:00Z", Some("2026-11-28T09:30:00+07:00")),
    ("28/11/2026", Some("2026-11-28T00:00:00+07:00")),
    ("28-11-2026", Some("2026-11-28T00:00:00+07:00")),
    ("28/11/2026 09:30", Some("2026-11-28T09:30:00+07:00")),
    ("28 November 2026", Some("2026-11-28T00:00:00+07:00")),
    ("28 Nov 2026", Some("2026-11-28T00:00:00+07:00")),
    ("28 November 2026 09:30", Some("2026-11-28T09:30:00+07:00")),
    ("28 Agu 2026", Some("2026-08-28T00:00:00+07:00")),
    ("28 Agustus 2026", Some("2026-08-28T00:00:00+07:00")),
    ("1 Mei 2026", Some("2026-05-01T00:00:00+07:00")),
    ("5 Okt 2026", Some("2026-10-05T00:00:00+07:00")),
    ("24 Des 2025", Some("2025-12-24T00:00:00+07:00")),
    ("3 Januari 2026", Some("2026-01-03T00:00:00+07:00")),
    ("yesterday", None),
    ("2026-02-30", None),
    ("28/11/26", None),
    ("1850-01-01", None),
];

/// The paths a time takes; each (time, path) has an indicator of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TimePath {
    PostJson,
    PostCsvComma,
    PostCsvSemicolon,
    PostXlsxText,
    Import,
    FeedJson,
    FeedCsvSemicolon,
    FeedCsvComma,
    FeedCkan,
}

const TIME_PATHS: &[TimePath] = &[
    TimePath::PostJson,
    TimePath::PostCsvComma,
    TimePath::PostCsvSemicolon,
    TimePath::PostXlsxText,
    TimePath::Import,
    TimePath::FeedJson,
    TimePath::FeedCsvSemicolon,
    TimePath::FeedCsvComma,
    TimePath::FeedCkan,
];

fn number_indicator(i: usize) -> String {
    format!("gov.inputs.n{i:02}")
}

fn time_indicator(i: usize, p: TimePath) -> String {
    let k = TIME_PATHS.iter().position(|x| *x == p).unwrap();
    format!("gov.inputs.t{i:02}-p{k}")
}

fn indicator_toml(id: &str) -> String {
    format!(
        "\n[[indicator]]\nid = \"{id}\"\nprogram = \"gov.inputs\"\nname = \"{id}\"\nunit = \"unit\"\ndirection = \"increase\"\nbaseline = {{ date = 2020-01-01, value = 0.0 }}\ntargets = [{{ date = 2030-12-31, value = 1000000000.0 }}]\nupdate_every = \"1d\"\n"
    )
}

const PLAN_HEAD: &str = r#"
[[department]]
id = "dinas"
name = "Dinas Uji"
[[dimension]]
id = "governance"
name = "Smart Governance"
[[program]]
id = "gov.inputs"
dimension = "governance"
name = "Masukan"
department = "dinas"
horizon = "long"
start = 2020-01-01
due = 2030-12-31
"#;

/// A CSV field as a spreadsheet writes it: quoted when it holds the separator.
fn field(text: &str, sep: char) -> String {
    if text.contains(sep) || text.contains('"') {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Canned upstream answers by path: (content type, body).
type Bodies = Arc<Mutex<HashMap<String, (String, Vec<u8>)>>>;

/// A real HTTP upstream (warp on port 0) answering each path with its canned body.
async fn upstream(bodies: Bodies) -> SocketAddr {
    let route = warp::path::full().map(move |path: warp::path::FullPath| {
        let found = bodies.lock().unwrap().get(path.as_str()).cloned();
        let (status, ct, body) = match found {
            Some((ct, body)) => (200, ct, body),
            None => (404, "text/plain".to_string(), b"not found".to_vec()),
        };
        let mut r = warp::reply::Response::new(body.into());
        *r.status_mut() = warp::http::StatusCode::from_u16(status).unwrap();
        r.headers_mut().insert(
            "content-type",
            warp::http::HeaderValue::from_str(&ct).unwrap(),
        );
        r
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(route).incoming(listener).run());
    addr
}

/// One `[[feed]]` polled once at start (its cron fires yearly).
fn feed_toml(id: &str, url: &str, format: &str, mapping: &str) -> String {
    format!(
        "\n[[feed]]\nid = \"{id}\"\ndepartment = \"dinas\"\nurl = \"{url}\"\nformat = \"{format}\"\nschedule = \"0 0 1 1 *\"\ntimeout = \"5s\"\nretries = 0\n[feed.{format}]\n{mapping}\n"
    )
}

/// A CKAN `datastore_search` answer with one record.
fn ckan_body(time: &str, value: &str) -> Vec<u8> {
    json!({"success": true, "result": {"records": [{"_id": 1, "t": time, "v": value}], "total": 1, "limit": 1000}})
        .to_string()
        .into_bytes()
}

/// What a feed mapping, upstream path and body are for one (indicator, time, value) reading.
struct FeedSetup {
    id: String,
    format: &'static str,
    mapping: String,
    path: String,
    content_type: &'static str,
    body: Vec<u8>,
}

/// The feed for a value `text` (or a raw JSON literal) and a time `time` of `indicator`.
fn feed_setup(kind: &str, key: &str, indicator: &str, time: &str, value: &str) -> FeedSetup {
    let id = format!("{key}-{kind}");
    let json_str = |s: &str| serde_json::to_string(s).unwrap();
    let points =
        format!("points = [{{ indicator = \"{indicator}\", value = \"/v\", time = \"/t\" }}]");
    let table = format!(
        "time_column = \"t\"\nseries = [{{ indicator = \"{indicator}\", column = \"v\" }}]"
    );
    let (format, mapping, content_type, body, path) = match kind {
        "json-string" => (
            "json",
            points,
            "application/json",
            format!("{{\"t\": {}, \"v\": {}}}", json_str(time), json_str(value)),
            format!("/{id}"),
        ),
        "json-number" => (
            "json",
            points,
            "application/json",
            format!("{{\"t\": {}, \"v\": {value}}}", json_str(time)),
            format!("/{id}"),
        ),
        "json-decimal-comma" => (
            "json",
            format!("decimal_comma = true\n{points}"),
            "application/json",
            format!("{{\"t\": {}, \"v\": {}}}", json_str(time), json_str(value)),
            format!("/{id}"),
        ),
        "csv-semicolon" => (
            "csv",
            table,
            "text/csv",
            format!("t;v\n{};{}\n", field(time, ';'), field(value, ';')),
            format!("/{id}"),
        ),
        "csv-comma" => (
            "csv",
            table,
            "text/csv",
            format!("t,v\n{},{}\n", field(time, ','), field(value, ',')),
            format!("/{id}"),
        ),
        "ckan" | "ckan-decimal-comma" => (
            "ckan",
            format!(
                "{}resource_id = \"r\"\ntime_field = \"t\"\nseries = [{{ indicator = \"{indicator}\", field = \"v\" }}]",
                if kind == "ckan" {
                    ""
                } else {
                    "decimal_comma = true\n"
                }
            ),
            "application/json",
            String::from_utf8(ckan_body(time, value)).unwrap(),
            format!("/{id}/api/3/action/datastore_search"),
        ),
        other => panic!("no feed kind {other}"),
    };
    FeedSetup {
        id: id.clone(),
        format,
        mapping,
        path,
        content_type,
        body: body.into_bytes(),
    }
}

/// Imports one CSV file with the real binary; true when it was accepted.
fn import(cfg: &Path, dir: &Path, name: &str, csv: &str) -> bool {
    let file = dir.join(name);
    std::fs::write(&file, csv).unwrap();
    let out = pantau()
        .arg("--config")
        .arg(cfg)
        .arg("import")
        .arg("--create")
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() || stderr.contains("nothing was imported"),
        "import of {name} failed for another reason: {stderr}"
    );
    out.status.success()
}

/// One XLSX workbook with the header and one row; `value` as text or as a number cell.
fn workbook(indicator: &str, time: &str, value: Result<&str, f64>) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in ["indicator", "time", "value"].iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    sheet.write_string(1, 0, indicator).unwrap();
    sheet.write_string(1, 1, time).unwrap();
    match value {
        Ok(text) => sheet.write_string(1, 2, text).unwrap(),
        Err(n) => sheet.write_number(1, 2, n).unwrap(),
    };
    book.save_to_buffer().unwrap()
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Posts one observation by `path`-like means; returns whether it was stored (200).
async fn post(app: &TestApp, token: &str, content_type: &str, body: Vec<u8>) -> bool {
    let (status, answer) = app
        .post_bytes("/api/v1/observations", Some(token), content_type, body)
        .await;
    assert!(
        status == 200 || status == 400 || status == 422,
        "a post answered {status}: {answer}"
    );
    let text = answer.to_string();
    assert!(text.len() < 4000, "an error answer of {} bytes", text.len());
    status == 200
}

/// The stored series of an indicator: time -> value.
async fn stored(app: &TestApp, id: &str) -> BTreeMap<String, f64> {
    let (s, v) = app.get(&format!("/api/v1/indicators/{id}/series")).await;
    assert_eq!(s, 200, "{v}");
    v["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["time"].as_str().unwrap().to_string(),
                p["value"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// Waits until every feed has run once; returns `/api/v1/feeds` by id.
async fn feeds_after_one_run(app: &TestApp, n: usize) -> BTreeMap<String, Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (s, v) = app.get("/api/v1/feeds").await;
        assert_eq!(s, 200, "{v}");
        let feeds: BTreeMap<String, Value> = v["feeds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["id"].as_str().unwrap().to_string(), f.clone()))
            .collect();
        let done = feeds.values().filter(|f| !f["last_run"].is_null()).count();
        if done == n && feeds.len() == n {
            return feeds;
        }
        assert!(
            Instant::now() < deadline,
            "only {done} of {n} feeds ran within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_spelling_reads_the_same_on_every_path() {
    let bodies: Bodies = Arc::default();
    let addr = upstream(bodies.clone()).await;
    let base = format!("http://{addr}");

    // The plan: one indicator per number case, one per (time case, path); the feeds.
    let mut plan = PLAN_HEAD.to_string();
    for i in 0..NUMBERS.len() {
        plan.push_str(&indicator_toml(&number_indicator(i)));
    }
    for i in 0..TIMES.len() {
        for p in TIME_PATHS {
            plan.push_str(&indicator_toml(&time_indicator(i, *p)));
        }
    }
    let mut feeds = 0;
    let mut add_feed = |plan: &mut String, setup: FeedSetup| {
        plan.push_str(&feed_toml(
            &setup.id,
            &format!(
                "{base}{}",
                if setup.format == "ckan" {
                    format!("/{}", setup.id)
                } else {
                    setup.path.clone()
                }
            ),
            setup.format,
            &setup.mapping,
        ));
        bodies
            .lock()
            .unwrap()
            .insert(setup.path, (setup.content_type.to_string(), setup.body));
        feeds += 1;
    };
    for (i, c) in NUMBERS.iter().enumerate() {
        let ind = number_indicator(i);
        for path in NUMBER_PATHS {
            let (Some(kind), Some(_)) = (path.feed_kind(), path.want(c)) else {
                continue;
            };
            add_feed(
                &mut plan,
                feed_setup(kind, &format!("n{i:02}"), &ind, &path.date(), c.text),
            );
        }
    }
    for (i, (text, _)) in TIMES.iter().enumerate() {
        for (path, kind) in [
            (TimePath::FeedJson, "json-string"),
            (TimePath::FeedCsvSemicolon, "csv-semicolon"),
            (TimePath::FeedCsvComma, "csv-comma"),
            (TimePath::FeedCkan, "ckan"),
        ] {
            add_feed(
                &mut plan,
                feed_setup(
                    kind,
                    &format!("t{i:02}"),
                    &time_indicator(i, path),
                    text,
                    "1",
                ),
            );
        }
    }

    // `pantau import` runs before the daemon starts, one file per case.
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &plan, "");
    let mut imported: BTreeMap<(usize, NumberPath), bool> = BTreeMap::new();
    for (i, c) in NUMBERS.iter().enumerate() {
        let ind = number_indicator(i);
        let semicolon = format!(
            "indikator;waktu;nilai\n{ind};{};{}\n",
            NumberPath::ImportSemicolon.date(),
            field(c.text, ';')
        );
        imported.insert(
            (i, NumberPath::ImportSemicolon),
            import(&cfg, dir.path(), &format!("n{i}-semicolon.csv"), &semicolon),
        );
        let comma = format!(
            "indicator,time,value\n{ind},{},{}\n",
            NumberPath::ImportComma.date(),
            field(c.text, ',')
        );
        imported.insert(
            (i, NumberPath::ImportComma),
            import(&cfg, dir.path(), &format!("n{i}-comma.csv"), &comma),
        );
    }
    let mut time_imported = BTreeMap::new();
    for (i, (text, _)) in TIMES.iter().enumerate() {
        let csv = format!(
            "indikator;waktu;nilai\n{};{};1\n",
            time_indicator(i, TimePath::Import),
            field(text, ';')
        );
        time_imported.insert(i, import(&cfg, dir.path(), &format!("t{i}.csv"), &csv));
    }

    let app = start_in(dir, cfg, Default::default()).await;
    let token = app.token("dinas");

    // Posts.
    let mut posted: BTreeMap<(usize, NumberPath), bool> = BTreeMap::new();
    for (i, c) in NUMBERS.iter().enumerate() {
        let ind = number_indicator(i);
        for path in NUMBER_PATHS {
            let Some(_) = path.want(c) else { continue };
            let date = path.date();
            let body = match path {
                NumberPath::PostJsonString => Some((
                    "application/json",
                    serde_json::to_vec(&json!({"observations": [{"indicator": ind, "time": date, "value": c.text}]})).unwrap(),
                )),
                NumberPath::PostJsonNumber => Some((
                    "application/json",
                    format!(r#"{{"observations": [{{"indicator": "{ind}", "time": "{date}", "value": {}}}]}}"#, c.text).into_bytes(),
                )),
                NumberPath::PostCsvComma => Some((
                    "text/csv",
                    format!("indicator,time,value\n{ind},{date},{}\n", field(c.text, ',')).into_bytes(),
                )),
                NumberPath::PostCsvSemicolon => Some((
                    "text/csv",
                    format!("indikator;waktu;nilai\r\n{ind};{date};{}\r\n", field(c.text, ';')).into_bytes(),
                )),
                NumberPath::PostXlsxText => Some((XLSX, workbook(&ind, &date, Ok(c.text)))),
                NumberPath::PostXlsxNumber => match c.number {
                    Some(V(n)) => Some((XLSX, workbook(&ind, &date, Err(n)))),
                    // A number cell cannot hold what is not a finite number.
                    _ => None,
                },
                _ => None,
            };
            if let Some((ct, body)) = body {
                posted.insert((i, *path), post(&app, &token, ct, body).await);
            }
        }
    }
    let mut time_posted: BTreeMap<(usize, TimePath), bool> = BTreeMap::new();
    for (i, (text, _)) in TIMES.iter().enumerate() {
        for path in TIME_PATHS {
            let ind = time_indicator(i, *path);
            let body = match path {
                TimePath::PostJson => (
                    "application/json",
                    serde_json::to_vec(
                        &json!({"observations": [{"indicator": ind, "time": text, "value": 1}]}),
                    )
                    .unwrap(),
                ),
                TimePath::PostCsvComma => (
                    "text/csv",
                    format!("indicator,time,value\n{ind},{},1\n", field(text, ',')).into_bytes(),
                ),
                TimePath::PostCsvSemicolon => (
                    "text/csv",
                    format!("indikator;waktu;nilai\n{ind};{};1\n", field(text, ';')).into_bytes(),
                ),
                TimePath::PostXlsxText => (XLSX, workbook(&ind, text, Err(1.0))),
                _ => continue,
            };
            time_posted.insert((i, *path), post(&app, &token, body.0, body.1).await);
        }
    }

    let feed_state = feeds_after_one_run(&app, feeds).await;

    // Every (case, path): what was stored against the table.
    let mut wrong = Vec::new();
    for (i, c) in NUMBERS.iter().enumerate() {
        let series = stored(&app, &number_indicator(i)).await;
        for path in NUMBER_PATHS {
            let Some(want) = path.want(c) else { continue };
            if *path == NumberPath::PostXlsxNumber && !matches!(c.number, Some(V(_))) {
                continue;
            }
            let got = series
                .get(&format!("{}T00:00:00+07:00", path.date()))
                .copied();
            let ok = match want {
                V(v) => got == Some(v),
                Refused => got.is_none(),
            };
            let accepted = imported
                .get(&(i, *path))
                .or_else(|| posted.get(&(i, *path)))
                .copied();
            // Posts and imports also say so in their answer.
            let said = accepted.is_none_or(|a| a == matches!(want, V(_)));
            if !ok || !said {
                let feed = path
                    .feed_kind()
                    .and_then(|kind| feed_state.get(&format!("n{i:02}-{kind}")))
                    .map(|f| format!("; feed error: {}", f["last_error"]))
                    .unwrap_or_default();
                wrong.push(format!(
                    "{:?} via {path:?}: want {want:?}, stored {got:?}, accepted {accepted:?}{feed}",
                    c.text
                ));
            }
        }
    }
    for (i, (text, want)) in TIMES.iter().enumerate() {
        for path in TIME_PATHS {
            let series = stored(&app, &time_indicator(i, *path)).await;
            let got: Vec<&String> = series.keys().collect();
            let ok = match want {
                Some(t) => got == vec![&t.to_string()],
                None => got.is_empty(),
            };
            let accepted = match path {
                TimePath::Import => time_imported.get(&i).copied(),
                _ => time_posted.get(&(i, *path)).copied(),
            };
            let said = accepted.is_none_or(|a| a == want.is_some());
            if !ok || !said {
                wrong.push(format!(
                    "time {text:?} via {path:?}: want {want:?}, stored {got:?}, accepted {accepted:?}"
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of the cases were read otherwise:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    // A refused value in a feed names what was wrong with it.
    let f = &feed_state["n09-csv-semicolon"];
    let error = f["last_error"].to_string();
    assert!(
        error.contains("`7.9` is not a number") && error.contains("groups thousands"),
        "{f}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_list_what_they_skipped_with_where_and_why() {
    let bodies: Bodies = Arc::default();
    let addr = upstream(bodies.clone()).await;
    let base = format!("http://{addr}");
    let mut plan = PLAN_HEAD.to_string();
    for id in [
        "gov.inputs.a",
        "gov.inputs.b",
        "gov.inputs.c",
        "gov.inputs.d",
    ] {
        plan.push_str(&indicator_toml(id));
    }
    let put = |path: &str, ct: &str, body: String| {
        bodies
            .lock()
            .unwrap()
            .insert(path.to_string(), (ct.to_string(), body.into_bytes()));
    };
    put(
        "/csv",
        "text/csv",
        "tanggal;nilai\n2026-01-01;5\n2026-01-02;TIDAK ADA DATA\n2026-01-03;\n2026-01-04;NaN\n;7\n"
            .into(),
    );
    plan.push_str(&feed_toml(
        "csv",
        &format!("{base}/csv"),
        "csv",
        "time_column = \"tanggal\"\nseries = [{ indicator = \"gov.inputs.a\", column = \"nilai\" }]",
    ));
    put(
        "/json",
        "application/json",
        json!({"items": [{"t": "2026-01-01", "v": "1,5"}, {"t": "2026-01-02", "v": null}, {"t": null, "v": 2}, {"t": "2026-01-04", "v": "---"}]}).to_string(),
    );
    plan.push_str(&feed_toml(
        "json",
        &format!("{base}/json"),
        "json",
        "records = { path = \"/items\", indicator = \"gov.inputs.b\", value = \"v\", time = \"t\" }",
    ));
    put(
        "/ckan/api/3/action/datastore_search",
        "application/json",
        json!({"success": true, "result": {"records": [
            {"_id": 1, "t": "2026-01-01", "v": "2,5"},
            {"_id": 2, "t": "2026-01-02", "v": null},
            {"_id": 3, "t": "2026-01-03", "v": "Infinity"},
        ], "total": 3}})
        .to_string(),
    );
    plan.push_str(&feed_toml(
        "ckan",
        &format!("{base}/ckan"),
        "ckan",
        "resource_id = \"r\"\ntime_field = \"t\"\nseries = [{ indicator = \"gov.inputs.c\", field = \"v\" }]",
    ));
    put(
        "/metrics",
        "text/plain",
        "antrian{loket=\"1\"} 4\nantrian{loket=\"2\"} NaN\n".into(),
    );
    plan.push_str(&feed_toml(
        "prom",
        &format!("{base}/metrics"),
        "prometheus",
        "series = [{ indicator = \"gov.inputs.d\", metric = \"antrian\", aggregate = \"sum\" }]",
    ));
    let app = spawn_app_with(&plan, "").await;
    let feeds = feeds_after_one_run(&app, 4).await;
    let examples = |id: &str| -> Vec<(String, String)> {
        let run = &feeds[id]["last_run"];
        assert!(run["error"].is_null(), "{id}: {run}");
        run["skipped"]["examples"]
            .as_array()
            .unwrap_or_else(|| panic!("{id}: no skipped examples in {run}"))
            .iter()
            .map(|e| {
                (
                    e["location"].as_str().unwrap().to_string(),
                    e["reason"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        examples("csv"),
        pairs(&[
            ("CSV line 3, column `nilai`", "missing (`TIDAK ADA DATA`)"),
            ("CSV line 4, column `nilai`", "empty"),
            ("CSV line 5, column `nilai`", "not finite (`NaN`)"),
            ("CSV line 6, column `tanggal`", "time empty"),
        ])
    );
    assert_eq!(feeds["csv"]["last_run"]["skipped"]["count"], 4);
    assert_eq!(
        examples("json"),
        pairs(&[
            ("/items/1/v", "null"),
            ("/items/2/t", "time null"),
            ("/items/3/v", "missing (`---`)"),
        ])
    );
    assert_eq!(
        examples("ckan"),
        pairs(&[
            ("CKAN record 1 (_id 2), field `v`", "null"),
            (
                "CKAN record 2 (_id 3), field `v`",
                "not finite (`Infinity`)"
            ),
        ])
    );
    let prom = examples("prom");
    assert_eq!(prom.len(), 1, "{prom:?}");
    assert!(
        prom[0].0.starts_with("antrian{loket=\"2\"}") && prom[0].1 == "not finite (NaN)",
        "{prom:?}"
    );
    // What was not skipped was stored, with the decimal comma of its text.
    assert_eq!(
        stored(&app, "gov.inputs.b")
            .await
            .values()
            .copied()
            .collect::<Vec<_>>(),
        vec![1.5]
    );
    assert_eq!(
        stored(&app, "gov.inputs.c")
            .await
            .values()
            .copied()
            .collect::<Vec<_>>(),
        vec![2.5]
    );
    assert_eq!(
        stored(&app, "gov.inputs.d")
            .await
            .values()
            .copied()
            .collect::<Vec<_>>(),
        vec![4.0]
    );
    app.stop().await;
}
