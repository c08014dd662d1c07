//! Turns a posted body (JSON, CSV as spreadsheets write it, XLSX) into `RawRow`s.
//!
//! CSV: a header row names the columns `indicator,time,value[,note]` (Indonesian names
//! `indikator,waktu|tanggal,nilai,catatan` also work); `;` or `,` separators are detected from
//! the header; a UTF-8 BOM is skipped; with `;` numbers use the decimal comma (`1.234,5`), with
//! `,` each value is read by the text rule of `crate::values::number`. Blank records count
//! toward `max_rows`. XLSX: the first sheet, its first row the header, opened through the capped
//! `crate::values::workbook::open`.
//!
//! What must stay true: parsing is linear in the body (CSV line numbers come from the reader's
//! own positions, never from recounting the text), and no message quotes more than a few dozen
//! characters of a header, cell or value.

use super::{MAX_NOTE_CHARS, RawRow, RawTime, RawValue, RowError, RowKey};
use crate::values::workbook::{self, WorkbookError};
use crate::values::{Decimal, echo, shorten};
use calamine::DataRef;
use serde::Deserialize;
use std::collections::BTreeMap;

/// A body that cannot be read at all (as opposed to bad rows).
#[derive(Debug, Clone, PartialEq)]
pub struct BodyError {
    pub message: String,
    /// Row-level details when the body has rows but some cannot be read.
    pub rows: Vec<RowError>,
    /// Whether the body was refused for holding too much (more rows than `max_rows`, an XLSX
    /// that unpacks beyond its caps) rather than for being unreadable.
    pub too_large: bool,
}

impl BodyError {
    fn new(message: impl Into<String>) -> Self {
        BodyError {
            message: message.into(),
            rows: Vec::new(),
            too_large: false,
        }
    }

    fn too_large(message: impl Into<String>) -> Self {
        BodyError {
            too_large: true,
            ..BodyError::new(message)
        }
    }
}

impl From<WorkbookError> for BodyError {
    fn from(e: WorkbookError) -> Self {
        BodyError {
            too_large: matches!(e, WorkbookError::TooLarge(_)),
            message: e.to_string(),
            rows: Vec::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonBody {
    observations: Vec<serde_json::Value>,
}

/// What a JSON value is, for messages (never the value itself when it is large).
fn describe(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "null".into(),
        serde_json::Value::Bool(b) => b.to_string(),
        serde_json::Value::Number(n) => format!("the number {n}"),
        serde_json::Value::String(s) => format!("the string \"{}\"", echo(s)),
        serde_json::Value::Array(a) => format!("a list of {} items", a.len()),
        serde_json::Value::Object(_) => "an object".into(),
    }
}

/// `{"observations": [{"indicator", "time", "value", "note"}]}`.
pub fn json_rows(body: &[u8], max_rows: usize) -> Result<Vec<RawRow>, BodyError> {
    let parsed: JsonBody = serde_json::from_slice(body).map_err(|e| {
        BodyError::new(format!(
            "the body is not the expected JSON ({}); send {{\"observations\": [{{\"indicator\": \"...\", \"time\": \"2026-11-28\", \"value\": 12.5}}]}}",
            shorten(&e.to_string(), 160)
        ))
    })?;
    check_count(parsed.observations.len(), max_rows)?;
    let mut rows = Vec::with_capacity(parsed.observations.len());
    let mut errors = Vec::new();
    for (i, v) in parsed.observations.into_iter().enumerate() {
        let n = i + 1;
        let serde_json::Value::Object(map) = v else {
            errors.push(
                RowError::new(
                    n,
                    "observation",
                    "is not an object",
                    "write each observation as {\"indicator\": ..., \"time\": ..., \"value\": ...}",
                )
                .keyed(RowKey::new("observation.not_an_object")),
            );
            continue;
        };
        for key in map.keys() {
            if !matches!(key.as_str(), "indicator" | "time" | "value" | "note") {
                errors.push(
                    RowError::new(
                        n,
                        key,
                        "is not a known field",
                        "use only indicator, time, value and note",
                    )
                    .keyed(RowKey::new("field.unknown")),
                );
            }
        }
        let text = |k: &str, errors: &mut Vec<RowError>| match map.get(k) {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(other) => {
                errors.push(
                    RowError::new(
                        n,
                        k,
                        format!("must be a string, found {}", describe(other)),
                        "put the value in quotes",
                    )
                    .keyed(RowKey::new("field.not_a_string").arg("found", describe(other))),
                );
                None
            }
        };
        let indicator = text("indicator", &mut errors);
        let time = text("time", &mut errors).map(RawTime::Text);
        let note = text("note", &mut errors);
        let value = match map.get("value") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::Number(x)) => {
                Some(RawValue::Number(x.as_f64().unwrap_or(f64::NAN)))
            }
            Some(serde_json::Value::String(s)) => Some(RawValue::Text {
                text: s.clone(),
                decimal: Decimal::Text,
            }),
            Some(other) => {
                errors.push(
                    RowError::new(
                        n,
                        "value",
                        format!("must be a number, found {}", describe(other)),
                        "send a JSON number such as 12.5",
                    )
                    .keyed(RowKey::new("value.not_a_json_number").arg("found", describe(other))),
                );
                None
            }
        };
        rows.push(RawRow {
            line: n,
            indicator,
            time,
            value,
            note,
        });
    }
    if !errors.is_empty() {
        return Err(BodyError {
            message: "some observations cannot be read".into(),
            rows: errors,
            too_large: false,
        });
    }
    Ok(rows)
}

fn check_count(n: usize, max_rows: usize) -> Result<(), BodyError> {
    if n == 0 {
        return Err(BodyError::new(
            "the batch has no observations; send at least one row",
        ));
    }
    if n > max_rows {
        return Err(BodyError::too_large(format!(
            "the batch has {n} rows, more than the limit of {max_rows}; split it into smaller batches"
        )));
    }
    Ok(())
}

/// Which column holds what, as positions in the header row.
struct Columns {
    indicator: usize,
    time: usize,
    value: usize,
    note: Option<usize>,
}

/// Header names as a message shows them: the first few, each shortened.
fn shown_header(header: &[String]) -> String {
    let mut shown: Vec<String> = header
        .iter()
        .take(12)
        .map(|h| format!("`{}`", shorten(h.trim(), 30)))
        .collect();
    if header.len() > 12 {
        shown.push(format!("and {} more", header.len() - 12));
    }
    if shown.is_empty() {
        "nothing".into()
    } else {
        shown.join(", ")
    }
}

fn columns(header: &[String]) -> Result<Columns, BodyError> {
    let find = |names: &[&str]| {
        header.iter().position(|h| {
            let h = h.trim();
            h.len() <= 20 && names.contains(&h.to_lowercase().as_str())
        })
    };
    let indicator = find(&["indicator", "indikator"]);
    let time = find(&["time", "waktu", "tanggal", "date"]);
    let value = find(&["value", "nilai"]);
    let note = find(&["note", "catatan", "keterangan"]);
    match (indicator, time, value) {
        (Some(indicator), Some(time), Some(value)) => Ok(Columns {
            indicator,
            time,
            value,
            note,
        }),
        _ => Err(BodyError::new(format!(
            "the header row must name the columns indicator, time and value (optionally note); found: {}",
            shown_header(header)
        ))),
    }
}

/// The 1-based line a record starts on, from the csv reader's own position. The reader puts a
/// record that follows a CRLF (or blank lines) at the `\n` ending the previous line, before its
/// line count has passed it, so the line terminators from there on are stepped over and their
/// `\n`s counted. Each byte is stepped over at most once in a whole file: linear.
fn record_line(bytes: &[u8], position: &csv::Position) -> usize {
    let mut line = position.line() as usize;
    let mut i = position.byte() as usize;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\n' => line += 1,
            b'\r' => {}
            _ => break,
        }
        i += 1;
    }
    line
}

fn too_many_rows(max_rows: usize) -> BodyError {
    BodyError::too_large(format!(
        "the file has more than {max_rows} rows (blank rows count too); split it into smaller files and remove blank rows"
    ))
}

/// CSV as people and spreadsheets write it.
pub fn csv_rows(body: &[u8], max_rows: usize) -> Result<Vec<RawRow>, BodyError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let text = std::str::from_utf8(body)
        .map_err(|_| BodyError::new("the CSV is not UTF-8 text; save it as \"CSV UTF-8\""))?;
    let header_line = text.lines().next().unwrap_or("");
    let delimiter = if header_line.matches(';').count() > header_line.matches(',').count() {
        b';'
    } else {
        b','
    };
    let decimal = if delimiter == b';' {
        Decimal::Comma
    } else {
        Decimal::Text
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| {
            BodyError::new(format!(
                "cannot read the CSV header row ({})",
                shorten(&e.to_string(), 160)
            ))
        })?
        .iter()
        .map(|h| shorten(h, 100).into_owned())
        .collect();
    let cols = columns(&header)?;
    let mut rows = Vec::new();
    let mut records = 0usize;
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                return Err(BodyError::new(format!(
                    "cannot read the CSV ({}); check quotes and separators",
                    shorten(&e.to_string(), 160)
                )));
            }
        }
        records += 1;
        if records > max_rows {
            return Err(too_many_rows(max_rows));
        }
        if record.iter().all(str::is_empty) {
            continue;
        }
        let line = record
            .position()
            .map_or(0, |p| record_line(text.as_bytes(), p));
        let get = |i: usize| record.get(i).filter(|s| !s.is_empty()).map(str::to_string);
        rows.push(RawRow {
            line,
            indicator: get(cols.indicator),
            time: get(cols.time).map(RawTime::Text),
            value: get(cols.value).map(|text| RawValue::Text { text, decimal }),
            note: cols.note.and_then(get),
        });
    }
    check_count(rows.len(), max_rows)?;
    Ok(rows)
}

/// One cell kept from a sheet, its text cut to what validation can use.
#[derive(Debug, Clone)]
enum Kept {
    Text(String),
    Number(f64),
    Local(chrono::NaiveDateTime),
}

/// Longest text kept from a cell other than the note (ids, times and numbers are far shorter;
/// a longer one is refused anyway, and its message quotes only the start).
const CELL_CHARS: usize = 200;

/// The cell as kept, or None when empty. Text is cut before it is copied: a shared string of
/// megabytes referenced by every row must not be copied into every row.
fn keep(value: &DataRef<'_>, max_chars: usize) -> Option<Kept> {
    let text = |s: &str| Kept::Text(cut(s, max_chars).to_string());
    match value {
        DataRef::Empty => None,
        DataRef::Int(i) => Some(Kept::Number(*i as f64)),
        DataRef::Float(f) => Some(Kept::Number(*f)),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Some(text(s)),
        DataRef::SharedString(s) => Some(text(s)),
        DataRef::Bool(b) => Some(Kept::Text(b.to_string())),
        DataRef::DateTime(d) => Some(match d.as_datetime() {
            Some(dt) => Kept::Local(dt),
            None => Kept::Text(d.as_f64().to_string()),
        }),
        DataRef::Error(e) => Some(Kept::Text(e.to_string())),
    }
}

/// At most `max` characters of `s` (one more than a limit, so that the limit still applies).
fn cut(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((end, _)) => &s[..end],
        None => s,
    }
}

impl Kept {
    fn text(self) -> String {
        match self {
            Kept::Text(s) => s,
            Kept::Number(n) => n.to_string(),
            Kept::Local(dt) => dt.to_string(),
        }
    }
}

/// The cells of one data row that the columns name: indicator, time, value, note.
type RowCells = [Option<Kept>; 4];

/// The first sheet of an XLSX workbook, its first row the header.
pub fn xlsx_rows(body: &[u8], max_rows: usize) -> Result<Vec<RawRow>, BodyError> {
    let mut book = workbook::open(body, &workbook::Limits::default())?;
    let name = book
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| BodyError::new("the workbook has no sheets"))?;
    // One pass over the cells in file order: the first row with a filled cell is the header;
    // after it only the four named columns are kept, so memory follows the rows, not the cells.
    let mut header_row: Option<u32> = None;
    let mut header: Vec<(u32, String)> = Vec::new();
    let mut wanted: Option<[Option<u32>; 4]> = None;
    let mut data: BTreeMap<u32, RowCells> = BTreeMap::new();
    let mut last_row: Option<u32> = None;
    let mut rows_seen = 0usize;
    book.cells(&name, |row, col, value| -> Result<(), BodyError> {
        let Some(top) = header_row else {
            if let Some(kept) = keep(value, 100) {
                header_row = Some(row);
                header.push((col, kept.text()));
            }
            return Ok(());
        };
        if row < top {
            return Err(BodyError::new(
                "the sheet's rows are out of order; open it in a spreadsheet program and save it again as .xlsx",
            ));
        }
        if row == top {
            if wanted.is_some() {
                return Err(BodyError::new(
                    "the sheet's rows are out of order; open it in a spreadsheet program and save it again as .xlsx",
                ));
            }
            if let Some(kept) = keep(value, 100) {
                header.push((col, kept.text()));
            }
            return Ok(());
        }
        if last_row != Some(row) {
            last_row = Some(row);
            rows_seen += 1;
            if rows_seen > max_rows {
                return Err(too_many_rows(max_rows));
            }
        }
        let columns = match wanted {
            Some(c) => c,
            None => {
                let names: Vec<String> = header.iter().map(|(_, h)| h.clone()).collect();
                let cols = columns(&names)?;
                let at = |i: usize| header[i].0;
                let c = [
                    Some(at(cols.indicator)),
                    Some(at(cols.time)),
                    Some(at(cols.value)),
                    cols.note.map(at),
                ];
                wanted = Some(c);
                c
            }
        };
        if matches!(value, DataRef::Empty) {
            return Ok(());
        }
        // A row with a filled cell in any column is a row: one whose cells are all in other
        // columns is reported as missing its fields, not dropped without a word.
        let cells = data.entry(row).or_default();
        if let Some(slot) = columns.iter().position(|c| *c == Some(col)) {
            let limit = if slot == 3 {
                MAX_NOTE_CHARS + 1
            } else {
                CELL_CHARS
            };
            cells[slot] = keep(value, limit);
        }
        Ok(())
    })?;
    if header_row.is_none() {
        return Err(BodyError::new(
            "the first sheet is empty; put the header row indicator, time, value in row 1",
        ));
    }
    if wanted.is_none() {
        let names: Vec<String> = header.iter().map(|(_, h)| h.clone()).collect();
        columns(&names)?;
    }
    let mut rows = Vec::with_capacity(data.len());
    for (row, cells) in data {
        let [indicator, time, value, note] = cells;
        let text = |c: Option<Kept>| c.map(|c| c.text()).filter(|s| !s.trim().is_empty());
        rows.push(RawRow {
            line: row as usize + 1,
            indicator: text(indicator),
            time: time.map(|c| match c {
                Kept::Local(dt) => RawTime::Local(dt),
                other => RawTime::Text(other.text()),
            }),
            value: value.map(|c| match c {
                Kept::Number(n) => RawValue::Number(n),
                other => RawValue::Text {
                    text: other.text(),
                    decimal: Decimal::Text,
                },
            }),
            note: text(note),
        });
    }
    check_count(rows.len(), max_rows)?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::super::parse_value;
    use super::*;

    #[test]
    fn indonesian_excel_csv() {
        let body = "\u{feff}indikator;waktu;nilai;catatan\r\nliving.health.stunting;2026-11-01;1.234,5;ok\r\n;;;\r\ngov.permit.days;2026-11-02;3,5;\r\ngov.permit.days;2026-11-03;12.345;\r\n";
        let rows = csv_rows(body.as_bytes(), 100).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].indicator.as_deref(), Some("living.health.stunting"));
        assert_eq!(parse_value(rows[0].value.as_ref().unwrap()), Ok(1234.5));
        assert_eq!(parse_value(rows[1].value.as_ref().unwrap()), Ok(3.5));
        assert_eq!(parse_value(rows[2].value.as_ref().unwrap()), Ok(12345.0));
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[1].line, 4);
        assert_eq!(rows[2].line, 5);
        assert_eq!(rows[0].note.as_deref(), Some("ok"));
    }

    #[test]
    fn line_numbers_with_lf_crlf_blank_lines_and_quoted_newlines() {
        for (body, want) in [
            ("indicator,time,value\na,t,1\nb,t,2\n", vec![2, 3]),
            ("indicator,time,value\r\na,t,1\r\nb,t,2\r\n", vec![2, 3]),
            (
                "indicator,time,value\r\n\r\n\r\na,t,1\r\n,,\r\n\nb,t,2\n",
                vec![4, 7],
            ),
            (
                "indicator,time,value,note\na,t,1,\"x\ny\"\nb,t,2,\n",
                vec![2, 4],
            ),
        ] {
            let lines: Vec<usize> = csv_rows(body.as_bytes(), 100)
                .unwrap()
                .iter()
                .map(|r| r.line)
                .collect();
            assert_eq!(lines, want, "{body:?}");
        }
    }

    #[test]
    fn blank_records_count_toward_max_rows() {
        let mut body = String::from("indicator;time;value\n");
        for _ in 0..11 {
            body.push_str(";;\n");
        }
        body.push_str("a;2026-01-01;1\n");
        let e = csv_rows(body.as_bytes(), 10).unwrap_err();
        assert!(
            e.message
                .contains("more than 10 rows (blank rows count too)"),
            "{e:?}"
        );
        assert_eq!(csv_rows(body.as_bytes(), 12).unwrap().len(), 1);
    }

    #[test]
    fn comma_csv_and_bad_header() {
        let rows = csv_rows(
            b"indicator,time,value\na,2026-01-01,\"1,234.5\"\nb,2026-01-01,\"12,5\"\nc,2026-01-01,1.000\n",
            10,
        )
        .unwrap();
        let values: Vec<f64> = rows
            .iter()
            .map(|r| parse_value(r.value.as_ref().unwrap()).unwrap())
            .collect();
        assert_eq!(values, vec![1234.5, 12.5, 1.0]);
        let e = csv_rows(b"foo,bar\n1,2\n", 10).unwrap_err();
        assert!(e.message.contains("indicator, time and value"));
        let e = csv_rows(b"indicator,time,value\na,b,1\na,b,2\na,b,3\n", 2).unwrap_err();
        assert!(e.message.contains("more than 2 rows"));
        // A huge header is not echoed back.
        let huge = format!("{},time\n1,2\n", "x".repeat(52_000));
        let e = csv_rows(huge.as_bytes(), 10).unwrap_err();
        assert!(e.message.len() < 300, "{}", e.message.len());
    }

    #[test]
    fn json_rows_report_shapes() {
        let rows = json_rows(
            br#"{"observations":[{"indicator":"a","time":"2026-01-01","value":1.5,"note":"n"}]}"#,
            10,
        )
        .unwrap();
        assert_eq!(rows[0].value, Some(RawValue::Number(1.5)));
        let e = json_rows(
            br#"{"observations":[{"indicator":"a","time":"2026-01-01","value":true,"x":1}]}"#,
            10,
        )
        .unwrap_err();
        assert_eq!(e.rows.len(), 2);
        assert!(json_rows(b"not json", 10).is_err());
        assert!(json_rows(br#"{"observations":[]}"#, 10).is_err());
        // A huge key or value is not echoed back, whatever the number of rows.
        let key = "k".repeat(52_000);
        let row = format!(
            r#"{{"indicator":"a","time":"t","value":[{}],"{key}":1}}"#,
            "1,".repeat(10) + "1"
        );
        let body = format!(r#"{{"observations":[{}]}}"#, vec![row; 100].join(","));
        let e = json_rows(body.as_bytes(), 1000).unwrap_err();
        let size: usize = e.rows.iter().map(|r| r.field.len() + r.reason.len()).sum();
        assert!(size < 100 * 300, "{size}");
        let e = json_rows(format!(r#"{{"observations":"{key}"}}"#).as_bytes(), 10).unwrap_err();
        assert!(e.message.len() < 400, "{}", e.message.len());
    }
}
