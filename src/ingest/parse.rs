//! Turns a posted body (JSON, CSV as spreadsheets write it, XLSX) into `RawRow`s.
//!
//! CSV: a header row names the columns `indicator,time,value[,note]` (Indonesian names
//! `indikator,waktu|tanggal,nilai,catatan` also work); `;` or `,` separators are detected from
//! the header; a UTF-8 BOM is skipped; with `;` numbers use the Indonesian `1.234,5`.
//! XLSX: the first sheet, its first row the header, read with calamine.

use super::{RawRow, RawTime, RawValue, RowError};
use serde::Deserialize;

/// A body that cannot be read at all (as opposed to bad rows).
#[derive(Debug, Clone, PartialEq)]
pub struct BodyError {
    pub message: String,
    /// Row-level details when the body has rows but some cannot be read.
    pub rows: Vec<RowError>,
}

impl BodyError {
    fn new(message: impl Into<String>) -> Self {
        BodyError {
            message: message.into(),
            rows: Vec::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonBody {
    observations: Vec<serde_json::Value>,
}

/// `{"observations": [{"indicator", "time", "value", "note"}]}`.
pub fn json_rows(body: &[u8], max_rows: usize) -> Result<Vec<RawRow>, BodyError> {
    let parsed: JsonBody = serde_json::from_slice(body).map_err(|e| {
        BodyError::new(format!(
            "the body is not the expected JSON ({e}); send {{\"observations\": [{{\"indicator\": \"...\", \"time\": \"2026-11-28\", \"value\": 12.5}}]}}"
        ))
    })?;
    check_count(parsed.observations.len(), max_rows)?;
    let mut rows = Vec::with_capacity(parsed.observations.len());
    let mut errors = Vec::new();
    for (i, v) in parsed.observations.into_iter().enumerate() {
        let n = i + 1;
        let serde_json::Value::Object(map) = v else {
            errors.push(RowError::new(
                n,
                "observation",
                "is not an object",
                "write each observation as {\"indicator\": ..., \"time\": ..., \"value\": ...}",
            ));
            continue;
        };
        for key in map.keys() {
            if !matches!(key.as_str(), "indicator" | "time" | "value" | "note") {
                errors.push(RowError::new(
                    n,
                    key,
                    "is not a known field",
                    "use only indicator, time, value and note",
                ));
            }
        }
        let text = |k: &str, errors: &mut Vec<RowError>| match map.get(k) {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(other) => {
                errors.push(RowError::new(
                    n,
                    k,
                    format!("must be a string, found {other}"),
                    "put the value in quotes",
                ));
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
                decimal_comma: false,
            }),
            Some(other) => {
                errors.push(RowError::new(
                    n,
                    "value",
                    format!("must be a number, found {other}"),
                    "send a JSON number such as 12.5",
                ));
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
        return Err(BodyError::new(format!(
            "the batch has {n} rows, more than the limit of {max_rows}; split it into smaller batches"
        )));
    }
    Ok(())
}

/// Which column holds what, from the header row.
struct Columns {
    indicator: usize,
    time: usize,
    value: usize,
    note: Option<usize>,
}

fn columns(header: &[String]) -> Result<Columns, BodyError> {
    let find = |names: &[&str]| {
        header
            .iter()
            .position(|h| names.contains(&h.trim().to_lowercase().as_str()))
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
            header.join(", ")
        ))),
    }
}

/// The 1-based line a record starts on. The csv crate reports a CRLF record's position at the
/// end of the previous line, so skip line terminators first.
fn line_of(text: &str, byte: usize) -> usize {
    let bytes = text.as_bytes();
    let mut start = byte.min(bytes.len());
    while start < bytes.len() && (bytes[start] == b'\r' || bytes[start] == b'\n') {
        start += 1;
    }
    bytes[..start].iter().filter(|b| **b == b'\n').count() + 1
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
    let decimal_comma = delimiter == b';';
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| BodyError::new(format!("cannot read the CSV header row ({e})")))?
        .iter()
        .map(str::to_string)
        .collect();
    let cols = columns(&header)?;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            BodyError::new(format!(
                "cannot read the CSV ({e}); check quotes and separators"
            ))
        })?;
        let line = record
            .position()
            .map_or(0, |p| line_of(text, p.byte() as usize));
        if record.iter().all(|f| f.is_empty()) {
            continue;
        }
        if rows.len() >= max_rows {
            return Err(BodyError::new(format!(
                "the file has more than {max_rows} rows; split it into smaller files"
            )));
        }
        let get = |i: usize| record.get(i).filter(|s| !s.is_empty()).map(str::to_string);
        rows.push(RawRow {
            line,
            indicator: get(cols.indicator),
            time: get(cols.time).map(RawTime::Text),
            value: get(cols.value).map(|text| RawValue::Text {
                text,
                decimal_comma,
            }),
            note: cols.note.and_then(get),
        });
    }
    check_count(rows.len(), max_rows)?;
    Ok(rows)
}

/// The first sheet of an XLSX workbook, its first row the header.
pub fn xlsx_rows(body: &[u8], max_rows: usize) -> Result<Vec<RawRow>, BodyError> {
    // calamine panics on some damaged workbooks (an arithmetic overflow on a huge cell reference,
    // found by tests/fuzz.rs); a broken upload must get 400, not a dropped connection.
    std::panic::catch_unwind(|| read_xlsx(body, max_rows)).unwrap_or_else(|_| {
        Err(BodyError::new(
            "the upload is not a readable XLSX workbook (it is damaged); open it in a spreadsheet program and save it again as .xlsx",
        ))
    })
}

/// Most non-empty cells read from one sheet: far more than any upload within `max_rows` needs.
const MAX_XLSX_CELLS: usize = 2_000_000;

fn read_xlsx(body: &[u8], max_rows: usize) -> Result<Vec<RawRow>, BodyError> {
    use calamine::{Data, DataRef, Reader, Xlsx, XlsxError};
    use std::collections::{BTreeMap, HashMap};
    let mut book: Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(body)).map_err(|e| {
            BodyError::new(format!(
                "the upload is not a readable XLSX workbook ({e}); save it as .xlsx"
            ))
        })?;
    let name = book
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| BodyError::new("the workbook has no sheets"))?;
    // The cells are read one by one into sparse rows. calamine's `worksheet_range` allocates the
    // whole bounding box of the used cells: one cell at XFD1048576 asks for 512 GiB and aborts
    // the process.
    let mut sheet: BTreeMap<u32, HashMap<u32, Data>> = BTreeMap::new();
    let mut min_col = u32::MAX;
    let mut count = 0usize;
    let unreadable = |e: XlsxError| BodyError::new(format!("cannot read the first sheet ({e})"));
    match book.worksheet_cells_reader(&name) {
        Err(XlsxError::NotAWorksheet(_)) => {}
        Err(e) => return Err(unreadable(e)),
        Ok(mut reader) => {
            while let Some(cell) = reader.next_cell().map_err(unreadable)? {
                if matches!(cell.get_value(), DataRef::Empty) {
                    continue;
                }
                count += 1;
                if count > MAX_XLSX_CELLS {
                    return Err(BodyError::new(format!(
                        "the first sheet has more than {MAX_XLSX_CELLS} filled cells; upload only the columns indicator, time, value and note"
                    )));
                }
                let (row, col) = cell.get_position();
                min_col = min_col.min(col);
                sheet
                    .entry(row)
                    .or_default()
                    .insert(col, Data::from(cell.get_value().clone()));
            }
        }
    }
    let mut sheet_rows = sheet.into_iter();
    let (_, header_cells) = sheet_rows.next().ok_or_else(|| {
        BodyError::new(
            "the first sheet is empty; put the header row indicator, time, value in row 1",
        )
    })?;
    let width = header_cells.keys().max().map_or(0, |c| c - min_col + 1);
    let header: Vec<String> = (0..width)
        .map(|i| {
            header_cells
                .get(&(min_col + i))
                .map(|c| c.to_string())
                .unwrap_or_default()
        })
        .collect();
    let cols = columns(&header)?;
    let mut rows = Vec::new();
    for (row, r) in sheet_rows {
        let line = row as usize + 1;
        if rows.len() >= max_rows {
            return Err(BodyError::new(format!(
                "the sheet has more than {max_rows} rows; split it into smaller files"
            )));
        }
        let cell = |i: usize| {
            u32::try_from(i)
                .ok()
                .and_then(|i| min_col.checked_add(i))
                .and_then(|c| r.get(&c))
        };
        let text = |i: usize| {
            cell(i)
                .map(|c| c.to_string())
                .filter(|s| !s.trim().is_empty())
        };
        let time = cell(cols.time).map(|c| match c {
            Data::DateTime(d) => d
                .as_datetime()
                .map(RawTime::Local)
                .unwrap_or_else(|| RawTime::Text(c.to_string())),
            Data::DateTimeIso(s) => RawTime::Text(s.replace('T', " ")),
            other => RawTime::Text(other.to_string()),
        });
        let value = cell(cols.value).map(|c| match c {
            Data::Float(f) => RawValue::Number(*f),
            Data::Int(i) => RawValue::Number(*i as f64),
            other => {
                let text = other.to_string();
                // Text cells in an Indonesian workbook use the decimal comma.
                let decimal_comma =
                    text.contains(',') && !text.contains('.') || text.rfind(',') > text.rfind('.');
                RawValue::Text {
                    text,
                    decimal_comma,
                }
            }
        });
        rows.push(RawRow {
            line,
            indicator: text(cols.indicator),
            time,
            value,
            note: cols.note.and_then(text),
        });
    }
    check_count(rows.len(), max_rows)?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indonesian_excel_csv() {
        let body = "\u{feff}indikator;waktu;nilai;catatan\r\nliving.health.stunting;2026-11-01;1.234,5;ok\r\n;;;\r\ngov.permit.days;2026-11-02;3,5;\r\n";
        let rows = csv_rows(body.as_bytes(), 100).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].indicator.as_deref(), Some("living.health.stunting"));
        assert_eq!(
            super::super::parse_value(rows[0].value.as_ref().unwrap()),
            Ok(1234.5)
        );
        assert_eq!(
            super::super::parse_value(rows[1].value.as_ref().unwrap()),
            Ok(3.5)
        );
        assert_eq!(rows[1].line, 4);
        assert_eq!(rows[0].note.as_deref(), Some("ok"));
    }

    #[test]
    fn comma_csv_and_bad_header() {
        let rows = csv_rows(b"indicator,time,value\na,2026-01-01,\"1,234.5\"\n", 10).unwrap();
        assert_eq!(
            super::super::parse_value(rows[0].value.as_ref().unwrap()),
            Ok(1234.5)
        );
        let e = csv_rows(b"foo,bar\n1,2\n", 10).unwrap_err();
        assert!(e.message.contains("indicator, time and value"));
        let e = csv_rows(b"indicator,time,value\na,b,1\na,b,2\na,b,3\n", 2).unwrap_err();
        assert!(e.message.contains("more than 2 rows"));
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
    }
}
