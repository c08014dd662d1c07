//! `pantau plan import`: a plan workbook (the template, or a city's own matrix) read into a
//! `Draft`, rendered as masterplan.toml, and validated by `config::parse_masterplan` with every
//! problem reported at once, each naming its cell (`Indikator!F12: ...`).
//!
//! What it reads: headers in any order and case under many Indonesian names ("Nama Indikator",
//! "Indikator", "Perangkat Daerah", "Kondisi Awal", ...), below title rows and over two header
//! rows ("Target" merged above "2025", "2026"); merged cells (a merged group cell, Dimensi,
//! Program or OPD, applies to every row it spans; a blank group cell below a filled one without a
//! merge is ambiguous, and so is a merge over several rows of a column that holds one value per
//! row, or across columns in a data row: each a problem naming its range); targets as columns
//! `Target 2025`, `2025`, `TW III 2025`, `Target 2025-06-30`; numbers through `values::number`
//! (`1.234,5`, `95%`) and dates through `values::time`; the revision note from the `Petunjuk`
//! sheet (the cell right of `Catatan revisi`). Only the `Indikator` sheet is needed: without
//! `OPD`, `Dimensi` or `Program` sheets, departments, dimensions and programs are made from the
//! indicator rows. The six dimensions of the guide are always in the plan read: those the
//! workbook does not name are added as `pantau init` writes them.
//!
//! Limits: the workbook is opened only through `values::workbook::open` (the caps uploads
//! have); the text kept from cells is capped in all; a plan has at most `MAX_ROWS` rows a sheet.

use super::draft::{
    Draft, DraftDepartment, DraftDimension, DraftIndicator, DraftProgram, Origin, column_letters,
};
use super::template::{
    self, DIMENSION_COLUMNS, Field, INDICATOR_COLUMNS, OPD_COLUMNS, PROGRAM_COLUMNS, words,
};
use crate::config::{Problem, parse_masterplan};
use crate::domain::Masterplan;
use crate::values::workbook::{self, Region, WorkbookError};
use crate::values::{self, Decimal, TimeFormat};
use calamine::DataRef;
use chrono::{Datelike, NaiveDate};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

/// Most rows read from one sheet.
pub const MAX_ROWS: usize = 20_000;
/// Most characters kept from one cell.
const CELL_CHARS: usize = 1_000;
/// Most text kept from all cells of the workbook.
const MAX_TEXT_BYTES: usize = 16 << 20;
/// Rows searched for the header row.
const HEADER_ROWS: u32 = 20;
/// Most problems listed (the rest are counted).
const MAX_PROBLEMS: usize = 500;
/// Columns read from a sheet (a plan's matrix has a few dozen); cells further right are refused.
const MAX_COLUMNS: u32 = 512;
/// Most target columns of the Indikator sheet.
const MAX_TARGET_COLUMNS: usize = 200;

/// A plan read from a workbook and validated.
#[derive(Debug)]
pub struct Imported {
    /// The masterplan.toml text to write.
    pub toml: String,
    /// The plan that text validates into.
    pub plan: Masterplan,
}

/// Every problem of a workbook, each naming its cell and how to fix it.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ImportError {
    pub file: String,
    pub problems: Vec<String>,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(
            f,
            "{} has {n} problem{}; nothing was written:",
            self.file,
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

/// A cell as kept.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Text(String),
    Number(f64),
    Date(NaiveDate),
}

impl Value {
    fn text(&self) -> String {
        match self {
            Value::Text(s) => s.clone(),
            Value::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
            Value::Number(n) => n.to_string(),
            Value::Date(d) => d.to_string(),
        }
    }
}

/// One sheet's filled cells and merged regions.
struct Sheet {
    name: String,
    cells: BTreeMap<(u32, u32), Value>,
    merges: Vec<Region>,
    /// The merged regions that start in the rows searched for the header.
    head_merges: Vec<Region>,
    /// column -> merged regions touching it, as (first row, last row, top-left), by first row.
    by_column: HashMap<u32, Vec<Span>>,
}

/// A merged region as one column sees it: first row, last row, the region's top-left cell.
type Span = (u32, u32, (u32, u32));

impl Sheet {
    fn own(&self, row: u32, col: u32) -> Option<&Value> {
        self.cells.get(&(row, col))
    }

    /// The top-left cell of the merged region that covers (row, col), when it is not that cell.
    fn merged_from(&self, row: u32, col: u32) -> Option<(u32, u32)> {
        if let Some(list) = self.by_column.get(&col) {
            let i = list.partition_point(|(r0, _, _)| *r0 <= row);
            if i > 0 {
                let (_, r1, top) = list[i - 1];
                if row <= r1 && top != (row, col) {
                    return Some(top);
                }
            }
            return None;
        }
        // Header rows only (columns not indexed yet).
        self.head_merges
            .iter()
            .find(|((r0, c0), (r1, c1))| {
                (*r0..=*r1).contains(&row) && (*c0..=*c1).contains(&col) && (*r0, *c0) != (row, col)
            })
            .map(|(start, _)| *start)
    }

    /// The cell's value, or the value of the merged region it lies in.
    fn value(&self, row: u32, col: u32) -> Option<&Value> {
        self.own(row, col)
            .or_else(|| self.merged_from(row, col).and_then(|(r, c)| self.own(r, c)))
    }

    fn index_columns(&mut self, columns: &[u32]) {
        for &c in columns {
            let mut list: Vec<Span> = self
                .merges
                .iter()
                .filter(|((_, c0), (_, c1))| (*c0..=*c1).contains(&c))
                .map(|(start, end)| (start.0, end.0, *start))
                .collect();
            list.sort();
            self.by_column.insert(c, list);
        }
    }

    fn last_row(&self) -> u32 {
        self.cells.keys().next_back().map_or(0, |(r, _)| *r)
    }
}

/// Problems found while reading, each with its place.
#[derive(Default)]
struct Problems {
    list: Vec<(String, String)>,
    cells: HashSet<String>,
    /// Problems beyond the `MAX_PROBLEMS` listed (a hostile workbook may have millions).
    more: usize,
}

impl Problems {
    fn at(&mut self, place: String, message: impl Into<String>) {
        if self.list.len() >= MAX_PROBLEMS {
            self.more += 1;
            return;
        }
        self.cells.insert(place.clone());
        self.list.push((place, message.into()));
    }
    fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

fn cell_name(sheet: &str, row: u32, col: u32) -> String {
    format!("{sheet}!{}{}", column_letters(col), row + 1)
}

fn text_of(value: &DataRef<'_>) -> Option<Value> {
    let t = |s: &str| {
        let s = s.trim();
        // Undo the quote `values::neutralise` puts before a leading formula character.
        let s = match s.strip_prefix('\'') {
            Some(rest) if rest.starts_with(['=', '+', '-', '@', '＝', '＋', '－', '＠']) => {
                rest
            }
            _ => s,
        };
        let cut = match s.char_indices().nth(CELL_CHARS) {
            Some((end, _)) => &s[..end],
            None => s,
        };
        (!cut.is_empty()).then(|| Value::Text(cut.to_string()))
    };
    match value {
        DataRef::Empty => None,
        DataRef::Int(i) => Some(Value::Number(*i as f64)),
        DataRef::Float(f) => Some(Value::Number(*f)),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => t(s),
        DataRef::SharedString(s) => t(s),
        DataRef::Bool(b) => Some(Value::Text(if *b { "Ya" } else { "Tidak" }.into())),
        DataRef::DateTime(d) => match d.as_datetime() {
            Some(dt) => Some(Value::Date(dt.date())),
            None => Some(Value::Number(d.as_f64())),
        },
        DataRef::Error(e) => Some(Value::Text(format!("#{e:?}"))),
    }
}

fn workbook_problem(file: &str, e: WorkbookError) -> ImportError {
    let message = match e {
        WorkbookError::Unreadable(why) => format!(
            "is not a readable XLSX workbook ({why}); open it in a spreadsheet program and save it as an Excel workbook (.xlsx), or start from `pantau plan template`"
        ),
        WorkbookError::TooLarge(why) => format!("is refused: {why}"),
    };
    ImportError {
        file: file.to_string(),
        problems: vec![format!("{file}: {message}")],
    }
}

/// What a sheet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SheetKind {
    Opd,
    Dimension,
    Program,
    Indicator,
}

impl SheetKind {
    fn sheet_name(self) -> &'static str {
        match self {
            SheetKind::Opd => template::OPD_SHEET,
            SheetKind::Dimension => template::DIMENSION_SHEET,
            SheetKind::Program => template::PROGRAM_SHEET,
            SheetKind::Indicator => template::INDICATOR_SHEET,
        }
    }

    fn of_sheet_name(name: &str) -> Option<SheetKind> {
        match words(name).as_str() {
            "opd" | "perangkat daerah" | "skpd" | "departments" => Some(SheetKind::Opd),
            "dimensi" | "dimensions" | "dimensi smart city" => Some(SheetKind::Dimension),
            "program" | "programs" | "daftar program" => Some(SheetKind::Program),
            "indikator" | "indicators" | "indikator kinerja" | "matriks" | "matriks indikator" => {
                Some(SheetKind::Indicator)
            }
            _ => None,
        }
    }

    fn columns(self) -> &'static [template::Column] {
        match self {
            SheetKind::Opd => OPD_COLUMNS,
            SheetKind::Dimension => DIMENSION_COLUMNS,
            SheetKind::Program => PROGRAM_COLUMNS,
            SheetKind::Indicator => INDICATOR_COLUMNS,
        }
    }

    /// The fields a header of this sheet may name, under their other names.
    fn synonyms(self, field: Field) -> &'static [&'static str] {
        use Field::*;
        match (self, field) {
            (SheetKind::Opd, Id) => &["id", "id opd", "kode opd", "singkatan"],
            (SheetKind::Opd, Name) => &[
                "nama",
                "nama opd",
                "opd",
                "perangkat daerah",
                "nama perangkat daerah",
            ],
            (SheetKind::Opd, Email) => &["email", "e mail", "surel"],
            (SheetKind::Dimension, Id) => &["id", "id dimensi", "kode dimensi"],
            (SheetKind::Dimension, Name) => &["nama", "nama dimensi", "dimensi"],
            (SheetKind::Dimension, Elements) => &["elemen", "elemen dimensi", "elements"],
            (SheetKind::Program, Id) => &["id", "id program", "kode program"],
            (SheetKind::Program, Dimension) => &["dimensi", "id dimensi", "dimensi smart city"],
            (SheetKind::Program, Name) => &["nama", "nama program", "program"],
            (SheetKind::Program, Horizon) => &["horizon", "jangka", "jangka waktu"],
            (SheetKind::Program, Start) => &["mulai", "tanggal mulai", "awal", "start"],
            (SheetKind::Program, Due) => &["selesai", "tanggal selesai", "akhir", "due", "tenggat"],
            (SheetKind::Indicator, Id) => &["id", "id indikator"],
            (SheetKind::Indicator, Code) => &["kode", "kode indikator", "kode iku", "no indikator"],
            (SheetKind::Indicator, Name) => &[
                "nama indikator",
                "indikator",
                "indikator kinerja",
                "indikator kinerja utama",
                "uraian indikator",
                "nama",
            ],
            (SheetKind::Indicator, Program) => {
                &["program", "nama program", "id program", "program kegiatan"]
            }
            (SheetKind::Indicator, Dimension) => &["dimensi", "dimensi smart city", "id dimensi"],
            (SheetKind::Indicator, Direction) => {
                &["arah", "arah indikator", "arah kinerja", "polaritas"]
            }
            (SheetKind::Indicator, Field::Kind) => {
                &["jenis", "jenis indikator", "sifat", "cara hitung"]
            }
            (SheetKind::Indicator, Tier) => {
                &["tingkat", "tingkat indikator", "level indikator", "tier"]
            }
            (SheetKind::Indicator, Baseline) => {
                &["baseline", "kondisi awal", "nilai awal", "capaian awal"]
            }
            (SheetKind::Indicator, BaselineYear) => &[
                "tahun baseline",
                "tahun kondisi awal",
                "tanggal baseline",
                "tahun dasar",
            ],
            (SheetKind::Indicator, PicNama) => &[
                "pic nama",
                "nama pic",
                "pic",
                "penanggung jawab",
                "nama penanggung jawab",
            ],
            (SheetKind::Indicator, PicJabatan) => &[
                "pic jabatan",
                "jabatan pic",
                "jabatan",
                "jabatan penanggung jawab",
            ],
            (SheetKind::Indicator, Source) => &["sumber data", "sumber", "source"],
            (SheetKind::Indicator, UpdateEvery) => &[
                "pembaruan",
                "frekuensi",
                "frekuensi pembaruan",
                "frekuensi pelaporan",
                "periode pelaporan",
            ],
            (SheetKind::Indicator, Tolerance) => &["toleransi"],
            (SheetKind::Indicator, Min) => &["min", "minimum", "nilai minimum"],
            (SheetKind::Indicator, Max) => &["maks", "max", "maksimum", "nilai maksimum"],
            (_, Unit) => &["satuan", "unit"],
            (_, Department) => &[
                "opd",
                "id opd",
                "perangkat daerah",
                "pd",
                "opd penanggung jawab",
                "opd pengampu",
                "perangkat daerah penanggung jawab",
                "perangkat daerah pengampu",
                "unit kerja",
                "dinas",
            ],
            (_, QuickWin) => &["quick win", "quickwin", "qw"],
            (_, Weight) => &["bobot", "weight"],
            _ => &[],
        }
    }

    /// The fields this sheet needs.
    fn required(self, sheets: &Present) -> Vec<Field> {
        match self {
            SheetKind::Opd => vec![Field::Id, Field::Name],
            SheetKind::Dimension => vec![Field::Id, Field::Name],
            SheetKind::Program => vec![
                Field::Id,
                Field::Dimension,
                Field::Name,
                Field::Department,
                Field::Start,
                Field::Due,
            ],
            SheetKind::Indicator => {
                let mut f = vec![Field::Name, Field::Unit, Field::Program, Field::Baseline];
                if !sheets.program {
                    f.push(Field::Dimension);
                    f.push(Field::Department);
                }
                f
            }
        }
    }
}

/// Which of the optional sheets the workbook has.
#[derive(Default)]
struct Present {
    program: bool,
}

/// What a header names.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Header {
    Field(Field),
    /// The baseline, with the year the header gives (`Kondisi Awal 2024`).
    BaselineOf(i32),
    Target(NaiveDate),
    /// A column pantau does not need (`No`, `Keterangan`, `Realisasi 2024`).
    Ignored,
}

fn year(token: &str) -> Option<i32> {
    (token.len() == 4)
        .then(|| token.parse::<i32>().ok())
        .flatten()
        .filter(|y| (1900..2200).contains(y))
}

fn quarter(token: &str) -> Option<u32> {
    match token {
        "i" | "1" => Some(1),
        "ii" | "2" => Some(2),
        "iii" | "3" => Some(3),
        "iv" | "4" => Some(4),
        _ => None,
    }
}

fn quarter_end(y: i32, q: u32) -> Option<NaiveDate> {
    let (m, d) = [(3, 31), (6, 30), (9, 30), (12, 31)][(q - 1) as usize];
    NaiveDate::from_ymd_opt(y, m, d)
}

/// The date a target header names: `Target 2025`, `2025`, `TW III 2025`, `Triwulan 3 2025`,
/// `Q3 2025`, `Target 2025-06-30`.
pub fn target_date(header: &str) -> Option<NaiveDate> {
    let lower = header.to_lowercase().replace(['(', ')', ',', ':'], " ");
    let mut tokens: Vec<&str> = lower
        .split_whitespace()
        .map(|t| t.trim_end_matches('.'))
        .filter(|t| !matches!(*t, "target" | "tahun" | "thn" | "th" | "kinerja"))
        .collect();
    if tokens.is_empty() {
        return None;
    }
    // `tw3`, `q3`, `trw3` written as one token.
    let split: Vec<String>;
    if let Some(first) = tokens.first() {
        for prefix in ["tw", "trw", "q"] {
            if let Some(rest) = first.strip_prefix(prefix) {
                if quarter(rest).is_some() {
                    split = vec![prefix.to_string(), rest.to_string()];
                    let rest_tokens: Vec<&str> = tokens[1..].to_vec();
                    let mut all: Vec<&str> = split.iter().map(String::as_str).collect();
                    all.extend(rest_tokens);
                    return quarter_tokens(&all);
                }
            }
        }
    }
    if tokens.len() == 1 {
        if let Some(y) = year(tokens[0]) {
            return NaiveDate::from_ymd_opt(y, 12, 31);
        }
        return NaiveDate::parse_from_str(tokens[0], "%Y-%m-%d")
            .ok()
            .filter(|d| (1900..2200).contains(&d.year()));
    }
    tokens.retain(|t| !t.is_empty());
    quarter_tokens(&tokens)
}

fn quarter_tokens(tokens: &[&str]) -> Option<NaiveDate> {
    match tokens {
        [q, n, y] if matches!(*q, "tw" | "trw" | "triwulan" | "q" | "kuartal" | "tri") => {
            quarter_end(year(y)?, quarter(n)?)
        }
        _ => None,
    }
}

fn recognise(kind: SheetKind, text: &str) -> Option<Header> {
    let w = words(&text.replace(['(', ')', ':', '*', '.'], " "));
    if w.is_empty() {
        return None;
    }
    for c in kind.columns() {
        if words(c.header) == w || kind.synonyms(c.field).contains(&w.as_str()) {
            return Some(Header::Field(c.field));
        }
    }
    if matches!(
        w.as_str(),
        "no" | "nomor" | "keterangan" | "ket" | "catatan" | "urutan"
    ) || w.starts_with("realisasi")
        || w.starts_with("capaian ")
        || w.starts_with("status")
    {
        return Some(Header::Ignored);
    }
    // The Indikator sheet of a city's own matrix may name the dimension too.
    if kind == SheetKind::Indicator && kind.synonyms(Field::Dimension).contains(&w.as_str()) {
        return Some(Header::Field(Field::Dimension));
    }
    if kind == SheetKind::Indicator {
        if let Some(d) = target_date(text) {
            return Some(Header::Target(d));
        }
        // `Baseline 2024`, `Kondisi Awal Tahun 2024`.
        let tokens: Vec<&str> = w.split(' ').collect();
        if let Some((last, head)) = tokens.split_last() {
            if let Some(y) = year(last) {
                let head: Vec<&str> = head.iter().copied().filter(|t| *t != "tahun").collect();
                if kind
                    .synonyms(Field::Baseline)
                    .contains(&head.join(" ").as_str())
                {
                    return Some(Header::BaselineOf(y));
                }
            }
        }
    }
    None
}

/// The header of one sheet: which column holds what, and the first data row.
struct Layout {
    kind: SheetKind,
    first_data_row: u32,
    fields: BTreeMap<Field, u32>,
    baseline_year: Option<i32>,
    /// (date, column) in date order.
    targets: Vec<(NaiveDate, u32)>,
}

impl Layout {
    fn col(&self, field: Field) -> Option<u32> {
        self.fields.get(&field).copied()
    }
}

fn header_text(sheet: &Sheet, row: u32, col: u32) -> Option<String> {
    sheet.value(row, col).map(Value::text)
}

fn expected_headers(kind: SheetKind) -> String {
    let mut names: Vec<String> = kind
        .columns()
        .iter()
        .map(|c| c.header.to_string())
        .collect();
    if kind == SheetKind::Indicator {
        names.push("Target 2025 (one per year; also TW I 2025 ... TW IV 2025)".into());
    }
    names.join(", ")
}

fn found_headers(sheet: &Sheet, row: u32) -> String {
    let found: Vec<String> = sheet
        .cells
        .range((row, 0)..(row + 1, 0))
        .map(|(_, v)| values::echo(&v.text()))
        .take(40)
        .collect();
    if found.is_empty() {
        "none".into()
    } else {
        found.join(", ")
    }
}

/// Finds the header row (the first of the top rows naming two or more known columns) and reads
/// it, with a second header row of target years below it when there is one.
fn layout(
    sheet: &Sheet,
    kind: SheetKind,
    present: &Present,
    problems: &mut Problems,
) -> Option<Layout> {
    let last = sheet.last_row().min(HEADER_ROWS);
    let mut best: Option<u32> = None;
    for row in 0..=last {
        let known = sheet
            .cells
            .range((row, 0)..(row + 1, 0))
            .filter(|(_, v)| {
                matches!(
                    recognise(kind, &v.text()),
                    Some(Header::Field(_) | Header::BaselineOf(_) | Header::Target(_))
                )
            })
            .count();
        if known >= 2 {
            best = Some(row);
            break;
        }
    }
    let Some(header_row) = best else {
        let first = sheet.cells.keys().next().map_or(0, |(r, _)| *r);
        problems.at(
            format!("{}!{}", sheet.name, first + 1),
            format!(
                "no header row was recognised in the first {HEADER_ROWS} rows; found headers: {}; expected headers: {}",
                found_headers(sheet, first),
                expected_headers(kind)
            ),
        );
        return None;
    };
    let mut columns: Vec<u32> = sheet
        .cells
        .range((header_row, 0)..(header_row + 2, 0))
        .map(|((_, c), _)| *c)
        .collect();
    // Columns a merged header spans (`Target` over five year columns).
    for ((r0, c0), (r1, c1)) in &sheet.head_merges {
        if (*r0..=*r1).contains(&header_row) {
            columns.extend(*c0..=(*c1).min(MAX_COLUMNS - 1));
        }
    }
    columns.sort();
    columns.dedup();
    // A second header row: target years under a merged or general header.
    let below = header_row + 1;
    // Only years (or quarters) under headers that name nothing themselves (blank, or a merged
    // "Target"), and nothing under the headers that do: otherwise the row below is data.
    let year_text = |v: &Value| match v {
        Value::Text(t) => target_date(t).is_some(),
        Value::Number(n) => n.fract() == 0.0 && target_date(&v.text()).is_some() && *n > 0.0,
        Value::Date(_) => false,
    };
    let named = |c: u32| header_text(sheet, header_row, c).and_then(|t| recognise(kind, &t));
    let second = kind == SheetKind::Indicator
        && columns
            .iter()
            .any(|c| sheet.own(below, *c).is_some_and(year_text) && named(*c).is_none())
        && columns.iter().all(|c| {
            sheet.own(below, *c).is_none()
                || (named(*c).is_none() && sheet.own(below, *c).is_some_and(year_text))
        });
    let mut out = Layout {
        kind,
        first_data_row: if second { below + 1 } else { below },
        fields: BTreeMap::new(),
        baseline_year: None,
        targets: Vec::new(),
    };
    let mut unknown = Vec::new();
    for col in columns {
        let top = header_text(sheet, header_row, col);
        let sub = if second && named(col).is_none() {
            sheet.own(below, col).map(Value::text)
        } else {
            None
        };
        let text = match (&top, &sub) {
            (Some(t), Some(s)) if target_date(s).is_some() => match target_date(t) {
                // `Target 2025` above `TW I`: read as `TW I 2025`.
                Some(d) => format!("{s} {}", d.year()),
                None => s.clone(),
            },
            (Some(t), Some(s)) if recognise(kind, t).is_none() => format!("{t} {s}"),
            (Some(t), _) => t.clone(),
            (None, Some(s)) => s.clone(),
            (None, None) => continue,
        };
        let place = cell_name(&sheet.name, header_row, col);
        match recognise(kind, &text) {
            Some(Header::Field(f)) => {
                if out.fields.insert(f, col).is_some() {
                    problems.at(
                        place,
                        format!(
                            "`{}` is a second column for the same field; keep one and delete the other",
                            values::echo(&text)
                        ),
                    );
                }
            }
            Some(Header::BaselineOf(y)) => {
                out.fields.insert(Field::Baseline, col);
                out.baseline_year = Some(y);
            }
            Some(Header::Target(d)) => {
                if out.targets.iter().any(|(t, _)| *t == d) {
                    problems.at(
                        place,
                        format!(
                            "`{}` is a second target column for {d}; keep one",
                            values::echo(&text)
                        ),
                    );
                } else {
                    out.targets.push((d, col));
                }
            }
            Some(Header::Ignored) => {}
            None => unknown.push((place, text)),
        }
    }
    out.targets.sort();
    if out.targets.len() > MAX_TARGET_COLUMNS {
        problems.at(
            format!("{}!{}", sheet.name, header_row + 1),
            format!(
                "has {} target columns, more than the {MAX_TARGET_COLUMNS} a plan may have; keep one per year (or quarter)",
                out.targets.len()
            ),
        );
        out.targets.truncate(MAX_TARGET_COLUMNS);
    }
    let found = found_headers(sheet, header_row);
    for (place, text) in unknown {
        problems.at(
            place,
            format!(
                "the header `{}` is not one pantau knows; found headers: {found}; expected headers: {}; rename the column or delete it",
                values::echo(&text),
                expected_headers(kind)
            ),
        );
    }
    for field in kind.required(present) {
        if out.col(field).is_none() {
            let column = kind.columns().iter().find(|c| c.field == field);
            let name = column.map_or("Dimensi", |c| c.header);
            let also = kind.synonyms(field).join("\", \"");
            problems.at(
                format!("{}!{}", sheet.name, header_row + 1),
                format!(
                    "has no `{name}` column (also read as \"{also}\"); found headers: {found}; add the column"
                ),
            );
        }
    }
    if kind == SheetKind::Indicator && out.targets.is_empty() {
        problems.at(
            format!("{}!{}", sheet.name, header_row + 1),
            format!(
                "has no target columns; add one per year, headed `Target 2025`, `Target 2026`, ... (or `TW I 2025` for quarters); found headers: {found}"
            ),
        );
    }
    Some(out)
}

/// One data row's cells, read with the layout, problems naming their cells.
struct RowReader<'a> {
    sheet: &'a Sheet,
    layout: &'a Layout,
    row: u32,
    origin: Origin,
}

impl<'a> RowReader<'a> {
    fn new(sheet: &'a Sheet, layout: &'a Layout, row: u32) -> Self {
        RowReader {
            sheet,
            layout,
            row,
            origin: Origin {
                sheet: sheet.name.clone(),
                row: row + 1,
                columns: BTreeMap::new(),
            },
        }
    }

    fn place(&self, field: Field) -> String {
        match self.layout.col(field) {
            Some(c) => cell_name(&self.sheet.name, self.row, c),
            None => format!("{}!{}", self.sheet.name, self.row + 1),
        }
    }

    fn header(&self, field: Field) -> &'static str {
        self.layout
            .kind
            .columns()
            .iter()
            .find(|c| c.field == field)
            .map_or("Dimensi", |c| c.header)
    }

    /// Records which column a masterplan field came from.
    fn from(&mut self, key: &str, field: Field) {
        if let Some(c) = self.layout.col(field) {
            self.origin.columns.insert(key.to_string(), c);
        }
    }

    fn value(&self, field: Field) -> Option<&'a Value> {
        let c = self.layout.col(field)?;
        self.sheet.value(self.row, c)
    }

    fn text(&self, field: Field) -> Option<String> {
        self.value(field).map(Value::text)
    }

    fn number(&self, field: Field, problems: &mut Problems) -> Option<f64> {
        match self.value(field)? {
            Value::Number(n) => match values::number::finite(*n) {
                Ok(n) => Some(n),
                Err(e) => {
                    problems.at(self.place(field), format!("{} {e}", self.header(field)));
                    None
                }
            },
            Value::Text(t) => number_text(t)
                .map_err(|e| {
                    problems.at(
                        self.place(field),
                        format!(
                            "{} {e}; write a number such as 1.234,5 or 95% (comma for decimals)",
                            self.header(field)
                        ),
                    )
                })
                .ok(),
            Value::Date(d) => {
                problems.at(
                    self.place(field),
                    format!(
                        "{} holds the date {d}, not a number; format the cell as a number",
                        self.header(field)
                    ),
                );
                None
            }
        }
    }

    /// A date cell, a date written as text, or a year alone (its first or last day).
    fn date(&self, field: Field, year_end: bool, problems: &mut Problems) -> Option<NaiveDate> {
        let value = self.value(field)?;
        match read_date(value, year_end) {
            Ok(d) => Some(d),
            Err(why) => {
                problems.at(
                    self.place(field),
                    format!(
                        "{} {why}; write a date such as 31/12/2025 or 2025-12-31, or a year such as 2025",
                        self.header(field)
                    ),
                );
                None
            }
        }
    }

    /// A text the row must have: a problem when it is empty.
    fn required(&self, field: Field, problems: &mut Problems, example: &str) -> Option<String> {
        match self.text(field) {
            Some(t) => Some(t),
            None => {
                if self.layout.col(field).is_some() {
                    problems.at(
                        self.place(field),
                        format!(
                            "{} is empty; fill it in, e.g. {example}",
                            self.header(field)
                        ),
                    );
                }
                None
            }
        }
    }

    /// A filled cell in any column the layout knows (merged cells not counted).
    fn is_blank(&self) -> bool {
        let filled = |c: u32| self.sheet.own(self.row, c).is_some();
        !self.layout.fields.values().any(|c| filled(*c))
            && !self.layout.targets.iter().any(|(_, c)| filled(*c))
    }
}

fn number_text(text: &str) -> Result<f64, values::NumberError> {
    values::number::read(text, Decimal::Comma)
}

fn read_date(value: &Value, year_end: bool) -> Result<NaiveDate, String> {
    let of_year = |y: i32| {
        if year_end {
            NaiveDate::from_ymd_opt(y, 12, 31)
        } else {
            NaiveDate::from_ymd_opt(y, 1, 1)
        }
    };
    match value {
        Value::Date(d) => Ok(*d),
        Value::Number(n) if n.fract() == 0.0 && (1900.0..2200.0).contains(n) => {
            of_year(*n as i32).ok_or_else(|| "is not a year".into())
        }
        Value::Number(n) => Err(format!("`{n}` is not a date or a year")),
        Value::Text(t) => {
            if let Some(y) = year(t.trim()) {
                return of_year(y).ok_or_else(|| "is not a year".into());
            }
            values::time::read_text(t, &TimeFormat::Auto, chrono_tz::Asia::Jakarta)
                .map(|v| v.local_date(chrono_tz::Asia::Jakarta))
                .map_err(|e| e.to_string())
        }
    }
}

/// An id made from a name: lowercase letters and digits joined by `-`, at most `max` long.
fn slug(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= max {
            break;
        }
    }
    let out = out.trim_matches('-').to_string();
    if out.is_empty() { "x".into() } else { out }
}

/// `base`, or `base-2`, `base-3`, ... when taken.
fn unique(base: String, taken: &mut HashSet<String>) -> String {
    if taken.insert(base.clone()) {
        return base;
    }
    for n in 2.. {
        let id = format!("{base}-{n}");
        if taken.insert(id.clone()) {
            return id;
        }
    }
    unreachable!("some suffix is free")
}

/// The six dimensions of the Gerakan Menuju Smart City guide: id, name, other names, elements.
const DIMENSIONS: &[(&str, &str, &[&str])] = &[
    (
        "governance",
        "Smart Governance",
        &["tata kelola", "pemerintahan"],
    ),
    ("branding", "Smart Branding", &["branding daerah"]),
    ("economy", "Smart Economy", &["ekonomi"]),
    ("living", "Smart Living", &["kehidupan"]),
    ("society", "Smart Society", &["masyarakat", "sosial"]),
    ("environment", "Smart Environment", &["lingkungan"]),
];

fn builtin_dimension(text: &str) -> Option<usize> {
    let mut w = words(text);
    // `1. Smart Governance`, `A. SMART GOVERNANCE`, `Dimensi Smart Governance`.
    if let Some((first, rest)) = w.split_once(' ') {
        if first.ends_with('.') || first.ends_with(')') || first == "dimensi" {
            w = rest.to_string();
        }
    }
    DIMENSIONS
        .iter()
        .position(|(id, name, other)| w == *id || w == words(name) || other.contains(&w.as_str()))
}

fn builtin_elements(id: &str) -> Vec<String> {
    let text = super::init::masterplan_text("");
    crate::config::parse_masterplan(&text, "", &[], &mut Vec::new())
        .and_then(|(plan, _)| plan.dimension(id).map(|d| d.elements.clone()))
        .unwrap_or_default()
}

/// Looks names and ids up, ignoring case and spacing.
/// Ids are found before names, so that a name spelled like another entry's id does not hide it.
#[derive(Default)]
struct Lookup {
    by_id: HashMap<String, String>,
    by_key: HashMap<String, String>,
    ids: Vec<String>,
}

impl Lookup {
    fn add(&mut self, id: &str, name: &str) {
        self.by_id
            .entry(words(id))
            .or_insert_with(|| id.to_string());
        self.by_key
            .entry(words(name))
            .or_insert_with(|| id.to_string());
        self.ids.push(id.to_string());
    }
    fn find(&self, text: &str) -> Option<String> {
        let key = words(text);
        self.by_id
            .get(&key)
            .or_else(|| self.by_key.get(&key))
            .cloned()
    }
    fn known(&self) -> String {
        let mut ids = self.ids.clone();
        ids.truncate(15);
        let more = if self.ids.len() > 15 { ", ..." } else { "" };
        format!("{}{more}", ids.join(", "))
    }
}

fn split_list(text: &str, marks: &[char]) -> Vec<String> {
    text.split(marks)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// The data rows of a sheet (rows with any filled cell in a known column), at most `MAX_ROWS`.
fn data_rows(sheet: &Sheet, layout: &Layout, problems: &mut Problems) -> Vec<u32> {
    let mut rows: Vec<u32> = sheet
        .cells
        .range((layout.first_data_row, 0)..)
        .map(|((r, _), _)| *r)
        .collect();
    rows.dedup();
    rows.retain(|r| !RowReader::new(sheet, layout, *r).is_blank());
    if rows.len() > MAX_ROWS {
        problems.at(
            format!("{}!{}", sheet.name, rows[MAX_ROWS] + 1),
            format!("the sheet has more than {MAX_ROWS} rows; a plan has far fewer, so split it"),
        );
        rows.truncate(MAX_ROWS);
    }
    rows
}

fn read_departments(
    sheet: &Sheet,
    layout: &Layout,
    problems: &mut Problems,
    draft: &mut Draft,
    lookup: &mut Lookup,
) {
    for row in data_rows(sheet, layout, problems) {
        let mut r = RowReader::new(sheet, layout, row);
        let id = r.required(Field::Id, problems, "dinkes");
        let name = r.required(Field::Name, problems, "Dinas Kesehatan");
        let emails = r
            .text(Field::Email)
            .map(|t| split_list(&t, &[',', ';', ' ', '\n']))
            .unwrap_or_default();
        r.from("id", Field::Id);
        r.from("name", Field::Name);
        r.from("email", Field::Email);
        if let (Some(id), Some(name)) = (id, name) {
            lookup.add(&id, &name);
            draft.departments.push(DraftDepartment {
                id,
                name,
                emails,
                origin: r.origin,
            });
        }
    }
}

fn read_dimensions(
    sheet: &Sheet,
    layout: &Layout,
    problems: &mut Problems,
    draft: &mut Draft,
    lookup: &mut Lookup,
) {
    for row in data_rows(sheet, layout, problems) {
        let mut r = RowReader::new(sheet, layout, row);
        let id = r.required(Field::Id, problems, "governance");
        let name = r.required(Field::Name, problems, "Smart Governance");
        let elements = r
            .text(Field::Elements)
            .map(|t| split_list(&t, &[';', '\n']))
            .unwrap_or_default();
        let weight = r.number(Field::Weight, problems);
        for (key, field) in [
            ("id", Field::Id),
            ("name", Field::Name),
            ("elements", Field::Elements),
            ("weight", Field::Weight),
        ] {
            r.from(key, field);
        }
        if let (Some(id), Some(name)) = (id, name) {
            lookup.add(&id, &name);
            if let Some(i) = builtin_dimension(&name).or_else(|| builtin_dimension(&id)) {
                lookup
                    .by_key
                    .entry(words(DIMENSIONS[i].0))
                    .or_insert_with(|| id.clone());
            }
            draft.dimensions.push(DraftDimension {
                id,
                name,
                elements,
                weight,
                origin: r.origin,
            });
        }
    }
}

/// The references a row makes, resolved.
struct Refs<'a> {
    departments: &'a mut Lookup,
    /// Departments are made from the rows when there is no OPD sheet.
    make_departments: bool,
    dimensions: &'a mut Lookup,
    make_dimensions: bool,
}

impl Refs<'_> {
    fn department(
        &mut self,
        r: &RowReader<'_>,
        field: Field,
        text: &str,
        draft: &mut Draft,
        problems: &mut Problems,
    ) -> Option<String> {
        if let Some(id) = self.departments.find(text) {
            return Some(id);
        }
        if self.make_departments {
            let mut taken: HashSet<String> =
                draft.departments.iter().map(|d| d.id.clone()).collect();
            let id = unique(slug(text, 40), &mut taken);
            self.departments.add(&id, text);
            let mut origin = r.origin.clone();
            origin.columns.clear();
            if let Some(c) = r.layout.col(field) {
                origin.columns.insert("name".into(), c);
                origin.columns.insert("id".into(), c);
            }
            draft.departments.push(DraftDepartment {
                id: id.clone(),
                name: text.to_string(),
                emails: Vec::new(),
                origin,
            });
            return Some(id);
        }
        problems.at(
            r.place(field),
            format!(
                "{} `{}` is not in the OPD sheet; add it there or use one of: {}",
                r.header(field),
                values::echo(text),
                self.departments.known()
            ),
        );
        None
    }

    fn dimension(
        &mut self,
        r: &RowReader<'_>,
        field: Field,
        text: &str,
        draft: &mut Draft,
        problems: &mut Problems,
    ) -> Option<String> {
        if let Some(id) = self.dimensions.find(text) {
            return Some(id);
        }
        if let Some(i) = builtin_dimension(text) {
            if let Some(id) = self.dimensions.find(DIMENSIONS[i].0) {
                return Some(id);
            }
            if self.make_dimensions {
                let (id, name, _) = DIMENSIONS[i];
                self.dimensions.add(id, name);
                draft.dimensions.push(DraftDimension {
                    id: id.into(),
                    name: name.into(),
                    elements: builtin_elements(id),
                    weight: None,
                    origin: Origin::default(),
                });
                return Some(id.into());
            }
        }
        let known = if self.make_dimensions {
            DIMENSIONS
                .iter()
                .map(|(_, n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            self.dimensions.known()
        };
        problems.at(
            r.place(field),
            format!(
                "{} `{}` is not a Smart City dimension; use one of: {known}",
                r.header(field),
                values::echo(text)
            ),
        );
        None
    }
}

fn read_programs(
    sheet: &Sheet,
    layout: &Layout,
    problems: &mut Problems,
    draft: &mut Draft,
    refs: &mut Refs<'_>,
    lookup: &mut Lookup,
) {
    for row in data_rows(sheet, layout, problems) {
        let mut r = RowReader::new(sheet, layout, row);
        let id = r.required(Field::Id, problems, "living.health");
        let name = r.required(Field::Name, problems, "Peningkatan Layanan Kesehatan");
        let dimension = r
            .required(Field::Dimension, problems, "living")
            .and_then(|t| refs.dimension(&r, Field::Dimension, &t, draft, problems));
        let department = r
            .required(Field::Department, problems, "dinkes")
            .and_then(|t| refs.department(&r, Field::Department, &t, draft, problems));
        let quick_win = yes(&r, Field::QuickWin, problems);
        let horizon = match r.text(Field::Horizon) {
            None if quick_win => Some("quick_win".to_string()),
            None => {
                if layout.col(Field::Horizon).is_some() {
                    problems.at(
                        r.place(Field::Horizon),
                        "Horizon is empty; write quick win, pendek, menengah or panjang",
                    );
                }
                None
            }
            Some(t) => match template::parse_horizon(&t) {
                Some(h) => Some(h.to_string()),
                None => {
                    problems.at(
                        r.place(Field::Horizon),
                        format!(
                            "Horizon `{}` is not a horizon; write one of: {}",
                            values::echo(&t),
                            template::HORIZON_WORDS.join(", ")
                        ),
                    );
                    None
                }
            },
        };
        let start = r.date(Field::Start, false, problems);
        let due = r.date(Field::Due, true, problems);
        let weight = r.number(Field::Weight, problems);
        for (key, field) in [
            ("id", Field::Id),
            ("name", Field::Name),
            ("dimension", Field::Dimension),
            ("department", Field::Department),
            ("quick_win", Field::QuickWin),
            ("horizon", Field::Horizon),
            ("start", Field::Start),
            ("due", Field::Due),
            ("weight", Field::Weight),
        ] {
            r.from(key, field);
        }
        if let (Some(id), Some(name), Some(dimension), Some(department)) =
            (id, name, dimension, department)
        {
            lookup.add(&id, &name);
            draft.programs.push(DraftProgram {
                id,
                dimension,
                name,
                department,
                quick_win,
                horizon,
                start,
                due,
                weight,
                origin: r.origin,
            });
        }
    }
}

fn yes(r: &RowReader<'_>, field: Field, problems: &mut Problems) -> bool {
    match r.text(field) {
        None => false,
        Some(t) => match template::parse_yes(&t) {
            Some(b) => b,
            None => {
                problems.at(
                    r.place(field),
                    format!(
                        "{} `{}` is neither Ya nor Tidak; write Ya or Tidak",
                        r.header(field),
                        values::echo(&t)
                    ),
                );
                false
            }
        },
    }
}

/// A group column's value for a row: its own, or its merged region's; a blank that is not merged
/// below a filled cell is ambiguous.
fn group(
    r: &RowReader<'_>,
    field: Field,
    last: &mut Option<(u32, String)>,
    problems: &mut Problems,
) -> Option<String> {
    let col = r.layout.col(field)?;
    if let Some(v) = r.sheet.value(r.row, col) {
        let t = v.text();
        *last = Some((r.row, t.clone()));
        return Some(t);
    }
    match last {
        Some((row, text)) => problems.at(
            r.place(field),
            format!(
                "{} is empty below `{}` (row {}) and the cells are not merged, so it is unclear which {} the row belongs to; merge the group's cells or repeat the value in every row",
                r.header(field),
                values::echo(text),
                *row + 1,
                r.header(field).to_lowercase()
            ),
        ),
        None => problems.at(
            r.place(field),
            format!("{} is empty; fill it in", r.header(field)),
        ),
    }
    None
}

/// A heading row of the Indikator sheet ("1. SMART GOVERNANCE", a program's name above its
/// indicators): only group cells are filled.
fn is_heading(sheet: &Sheet, layout: &Layout, row: u32) -> bool {
    layout.kind == SheetKind::Indicator
        && layout
            .col(Field::Name)
            .is_none_or(|c| sheet.own(row, c).is_none())
        && layout
            .fields
            .iter()
            .filter(|(_, c)| sheet.own(row, **c).is_some())
            .all(|(f, _)| matches!(f, Field::Dimension | Field::Program | Field::Code))
        && !layout
            .targets
            .iter()
            .any(|(_, c)| sheet.own(row, *c).is_some())
}

/// The columns that group rows and may be merged down over them: an Indikator row's dimension,
/// program, OPD and quick win (its program's), a Program row's dimension and OPD. Every other
/// column holds one value per row.
fn is_group(kind: SheetKind, field: Field) -> bool {
    match kind {
        SheetKind::Indicator => matches!(
            field,
            Field::Dimension | Field::Program | Field::Department | Field::QuickWin
        ),
        SheetKind::Program => matches!(field, Field::Dimension | Field::Department),
        SheetKind::Opd | SheetKind::Dimension => false,
    }
}

/// Merged regions that make a row ambiguous, each a problem naming its range: one over several
/// rows in a column that holds one value per row (an indicator's name, satuan, baseline, a
/// target, ...), and one across columns in a data row (a heading row aside).
fn ambiguous_merges(sheet: &Sheet, layout: &Layout, rows: &[u32], problems: &mut Problems) {
    // Known columns: (column, its header, whether it groups rows).
    let mut known: Vec<(u32, String, bool)> = layout
        .fields
        .iter()
        .map(|(f, c)| {
            let header = layout
                .kind
                .columns()
                .iter()
                .find(|k| k.field == *f)
                .map_or("Dimensi", |k| k.header);
            (*c, header.to_string(), is_group(layout.kind, *f))
        })
        .collect();
    known.extend(
        layout
            .targets
            .iter()
            .map(|(d, c)| (*c, template::target_header(*d), false)),
    );
    known.sort();
    // The data rows other than headings, in order.
    let plain: Vec<u32> = rows
        .iter()
        .copied()
        .filter(|r| !is_heading(sheet, layout, *r))
        .collect();
    for ((r0, c0), (r1, c1)) in &sheet.merges {
        let lo = plain.partition_point(|r| r < r0);
        let hi = plain.partition_point(|r| r <= r1);
        if hi <= lo {
            continue;
        }
        let (first, last, spanned) = (plain[lo], plain[hi - 1], hi - lo);
        let columns: Vec<&(u32, String, bool)> = known
            .iter()
            .filter(|(c, _, _)| (*c0..=*c1).contains(c))
            .collect();
        if columns.is_empty() {
            continue;
        }
        let range = format!(
            "{}!{}{}:{}{}",
            sheet.name,
            column_letters(*c0),
            r0 + 1,
            column_letters(*c1),
            r1 + 1
        );
        let names = |list: &[&(u32, String, bool)]| {
            list.iter()
                .map(|(_, h, _)| h.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let single: Vec<&(u32, String, bool)> =
            columns.iter().copied().filter(|(_, _, g)| !g).collect();
        if spanned > 1 && !single.is_empty() {
            problems.at(
                range,
                format!(
                    "the cells are merged over rows {} to {}, but {} holds one value per row, so it is unclear which row the value belongs to; unmerge the cells and write the value in every row (only group columns such as Dimensi, Program and OPD may be merged down)",
                    first + 1,
                    last + 1,
                    names(&single)
                ),
            );
        } else if columns.len() > 1 {
            problems.at(
                range,
                format!(
                    "the cells are merged across the columns {} in a data row, so only the first has a value and it is unclear what the others hold; unmerge the cells and fill in each column",
                    names(&columns)
                ),
            );
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn read_indicators(
    sheet: &Sheet,
    layout: &Layout,
    problems: &mut Problems,
    draft: &mut Draft,
    refs: &mut Refs<'_>,
    programs: &mut Lookup,
    make_programs: bool,
) {
    let mut last_dimension = None;
    let mut last_program = None;
    let mut taken: HashSet<String> = HashSet::new();
    let mut program_ids: HashSet<String> = draft.programs.iter().map(|p| p.id.clone()).collect();
    // Programs made from the rows, by (dimension, name).
    let mut made: HashMap<(String, String), String> = HashMap::new();
    for row in data_rows(sheet, layout, problems) {
        let mut r = RowReader::new(sheet, layout, row);
        let name = r.text(Field::Name);
        // A heading row names the group for the message about a blank below it.
        if is_heading(sheet, layout, row) {
            for (field, last) in [
                (Field::Dimension, &mut last_dimension),
                (Field::Program, &mut last_program),
            ] {
                if let Some(v) = layout.col(field).and_then(|c| sheet.own(row, c)) {
                    *last = Some((row, v.text()));
                }
            }
            continue;
        }
        let dimension_text = group(&r, Field::Dimension, &mut last_dimension, problems);
        let program_text = group(&r, Field::Program, &mut last_program, problems);
        let Some(name) = name else {
            problems.at(
                r.place(Field::Name),
                "the indicator's name is empty but the row has other cells; fill in Nama Indikator or clear the row",
            );
            continue;
        };
        let dimension = dimension_text
            .as_deref()
            .and_then(|t| refs.dimension(&r, Field::Dimension, t, draft, problems));
        let department_text = r.text(Field::Department);
        let department = department_text
            .as_deref()
            .and_then(|t| refs.department(&r, Field::Department, t, draft, problems));
        let quick_win = yes(&r, Field::QuickWin, problems);
        let code = r.text(Field::Code);

        // Baseline and targets.
        let baseline_value = r.number(Field::Baseline, problems);
        if baseline_value.is_none() && r.value(Field::Baseline).is_none() {
            problems.at(
                r.place(Field::Baseline),
                "Baseline is empty; write the value at the start (kondisi awal), e.g. 24,5",
            );
        }
        let mut targets = Vec::new();
        for (date, col) in &layout.targets {
            let place = cell_name(&sheet.name, row, *col);
            match sheet.value(row, *col) {
                None => problems.at(
                    place,
                    format!(
                        "{} has no target value; write the target, or - when the indicator has no target there",
                        template::target_header(*date)
                    ),
                ),
                Some(Value::Text(t)) if matches!(t.trim(), "-" | "–" | "—") => {}
                Some(Value::Number(n)) => match values::number::finite(*n) {
                    Ok(n) => {
                        r.origin
                            .columns
                            .insert(format!("targets[{}]", targets.len()), *col);
                        targets.push((*date, n));
                    }
                    Err(e) => problems.at(place, format!("the target {e}")),
                },
                Some(Value::Text(t)) => match number_text(t) {
                    Ok(n) => {
                        r.origin
                            .columns
                            .insert(format!("targets[{}]", targets.len()), *col);
                        targets.push((*date, n));
                    }
                    Err(e) => problems.at(
                        place,
                        format!(
                            "the target {e}; write a number such as 1.234,5 or 95%, or - when there is no target"
                        ),
                    ),
                },
                Some(Value::Date(d)) => problems.at(
                    place,
                    format!("the target holds the date {d}, not a number; format the cell as a number"),
                ),
            }
        }
        let baseline_date = match layout.col(Field::BaselineYear) {
            Some(_) if r.value(Field::BaselineYear).is_some() => {
                r.date(Field::BaselineYear, true, problems)
            }
            _ => match layout.baseline_year {
                Some(y) => NaiveDate::from_ymd_opt(y, 12, 31),
                // The year before the first target.
                None => targets
                    .first()
                    .map(|(d, _)| *d)
                    .or(layout.targets.first().map(|(d, _)| *d))
                    .and_then(|d| NaiveDate::from_ymd_opt(d.year() - 1, 12, 31)),
            },
        };

        // The program: from the Program sheet, or made from the rows.
        let program = match program_text {
            None => None,
            Some(t) => match programs.find(&t) {
                Some(id) => Some(id),
                None if make_programs => match (&dimension, &department) {
                    (Some(dim), Some(dep)) => {
                        let key = (dim.clone(), words(&t));
                        let id = made.entry(key).or_insert_with(|| {
                            let id = unique(format!("{dim}.{}", slug(&t, 40)), &mut program_ids);
                            let mut origin = r.origin.clone();
                            origin.columns.clear();
                            for (k, f) in [
                                ("id", Field::Program),
                                ("name", Field::Program),
                                ("dimension", Field::Dimension),
                                ("department", Field::Department),
                            ] {
                                if let Some(c) = layout.col(f) {
                                    origin.columns.insert(k.into(), c);
                                }
                            }
                            draft.programs.push(DraftProgram {
                                id: id.clone(),
                                dimension: dim.clone(),
                                name: t.clone(),
                                department: dep.clone(),
                                quick_win: false,
                                horizon: None,
                                start: None,
                                due: None,
                                weight: None,
                                origin,
                            });
                            id
                        });
                        Some(id.clone())
                    }
                    _ => None,
                },
                None => {
                    problems.at(
                        r.place(Field::Program),
                        format!(
                            "Program `{}` is not in the Program sheet; add it there or use one of: {}",
                            values::echo(&t),
                            programs.known()
                        ),
                    );
                    None
                }
            },
        };
        let program_entry = program
            .as_ref()
            .and_then(|p| draft.programs.iter_mut().find(|g| &g.id == p));
        let mut department_override = None;
        if let Some(p) = program_entry {
            p.quick_win |= quick_win;
            if make_programs {
                // A program made from rows spans its indicators' targets.
                if let Some((first, _)) = targets.first() {
                    let start = NaiveDate::from_ymd_opt(first.year(), 1, 1);
                    p.start = p.start.min(start).or(start);
                }
                if let Some((last, _)) = targets.last() {
                    p.due = p.due.max(Some(*last));
                }
            }
            if let (Some(dim), false) = (&dimension, make_programs) {
                if &p.dimension != dim {
                    problems.at(
                        r.place(Field::Dimension),
                        format!(
                            "Dimensi `{dim}` differs from the dimension `{}` of program `{}` in the Program sheet; fix one of them",
                            p.dimension, p.id
                        ),
                    );
                }
            }
            if let Some(d) = &department {
                if d != &p.department {
                    department_override = Some(d.clone());
                }
            }
        }

        let read_word = |field: Field,
                         parse: fn(&str) -> Option<&'static str>,
                         allowed: &[&str],
                         problems: &mut Problems|
         -> Option<String> {
            let t = r.text(field)?;
            match parse(&t) {
                Some(w) => Some(w.to_string()),
                None => {
                    problems.at(
                        r.place(field),
                        format!(
                            "{} `{}` is not one pantau knows; write one of: {}",
                            r.header(field),
                            values::echo(&t),
                            allowed.join(", ")
                        ),
                    );
                    None
                }
            }
        };
        let mut notes = Vec::new();
        let direction = if layout.col(Field::Direction).is_some() {
            let d = read_word(
                Field::Direction,
                template::parse_direction,
                template::DIRECTION_WORDS,
                problems,
            );
            if d.is_none() && r.value(Field::Direction).is_none() {
                problems.at(
                    r.place(Field::Direction),
                    format!(
                        "Arah is empty; write one of: {}",
                        template::DIRECTION_WORDS.join(", ")
                    ),
                );
            }
            d
        } else {
            // No Arah column: the targets say which way the indicator should move.
            match (baseline_value, targets.last()) {
                (Some(b), Some((_, t))) if *t > b => {
                    notes.push("direction: increase, as its targets rise (no Arah column)".into());
                    Some("increase".to_string())
                }
                (Some(b), Some((_, t))) if *t < b => {
                    notes.push("direction: decrease, as its targets fall (no Arah column)".into());
                    Some("decrease".to_string())
                }
                (Some(_), Some(_)) => {
                    problems.at(
                        r.place(Field::Baseline),
                        "the final target equals the baseline, so the direction cannot be told from the targets; add an Arah column (naik, turun, tetap, minimal, maksimal)",
                    );
                    None
                }
                _ => None,
            }
        };
        let kind = read_word(
            Field::Kind,
            template::parse_kind,
            template::KIND_WORDS,
            problems,
        )
        .or_else(|| Some("level".to_string()));
        let tier = read_word(
            Field::Tier,
            template::parse_tier,
            template::TIER_WORDS,
            problems,
        );
        let pic = match (r.text(Field::PicNama), r.text(Field::PicJabatan)) {
            (Some(n), Some(j)) => Some((n, j)),
            (None, None) => None,
            (Some(_), None) => {
                problems.at(
                    r.place(Field::PicJabatan),
                    "PIC Jabatan is empty while PIC Nama is filled; fill in both or neither",
                );
                None
            }
            (None, Some(_)) => {
                problems.at(
                    r.place(Field::PicNama),
                    "PIC Nama is empty while PIC Jabatan is filled; fill in both or neither",
                );
                None
            }
        };
        let update_every = match r.text(Field::UpdateEvery) {
            None => Some("3mo".to_string()),
            Some(t) => match template::parse_cadence(&t) {
                Some(c) => Some(c),
                None => {
                    problems.at(
                        r.place(Field::UpdateEvery),
                        format!(
                            "Pembaruan `{}` is not a cadence; write harian, mingguan, bulanan, triwulanan, semesteran or tahunan (or e.g. 2w, 1mo)",
                            values::echo(&t)
                        ),
                    );
                    None
                }
            },
        };
        let unit = r.required(Field::Unit, problems, "persen");
        let id = match r.text(Field::Id) {
            Some(id) => {
                taken.insert(id.clone());
                id
            }
            None => {
                let base = match &program {
                    Some(p) => format!("{p}.{}", slug(code.as_deref().unwrap_or(&name), 30)),
                    None => slug(&name, 40),
                };
                unique(base.chars().take(64).collect(), &mut taken)
            }
        };
        for (key, field) in [
            ("id", Field::Id),
            ("name", Field::Name),
            ("code", Field::Code),
            ("tier", Field::Tier),
            ("pic", Field::PicNama),
            ("source", Field::Source),
            ("unit", Field::Unit),
            ("department", Field::Department),
            ("direction", Field::Direction),
            ("tolerance", Field::Tolerance),
            ("kind", Field::Kind),
            ("baseline", Field::Baseline),
            ("baseline.date", Field::BaselineYear),
            ("update_every", Field::UpdateEvery),
            ("weight", Field::Weight),
            ("min", Field::Min),
            ("max", Field::Max),
            ("program", Field::Program),
        ] {
            r.from(key, field);
        }
        if !r.origin.columns.contains_key("targets") {
            if let Some((_, c)) = layout.targets.first() {
                r.origin.columns.insert("targets".into(), *c);
            }
        }
        let tolerance = r.number(Field::Tolerance, problems);
        let weight = r.number(Field::Weight, problems);
        let min = r.number(Field::Min, problems);
        let max = r.number(Field::Max, problems);
        let source = r.text(Field::Source);
        let (Some(program), Some(unit)) = (program, unit) else {
            continue;
        };
        draft.indicators.push(DraftIndicator {
            id,
            program,
            name,
            code,
            tier,
            pic,
            source,
            unit,
            department: department_override,
            direction,
            tolerance,
            kind,
            baseline: baseline_date.zip(baseline_value),
            targets,
            update_every,
            weight,
            min,
            max,
            notes,
            origin: r.origin,
        });
    }
    if make_programs {
        for p in draft.programs.iter_mut() {
            if p.horizon.is_none() {
                p.horizon = Some(if p.quick_win { "quick_win" } else { "medium" }.into());
            }
        }
    }
}

/// The plan's revision note on the Petunjuk sheet: the cell right of the `Catatan revisi` label,
/// with that cell's name.
fn revision_note(sheet: &Sheet) -> Option<(String, String)> {
    let ((row, col), _) = sheet
        .cells
        .iter()
        .take_while(|((r, _), _)| *r <= HEADER_ROWS * 3)
        .find(|(_, v)| match v {
            Value::Text(t) => matches!(
                words(t.trim_end_matches(':')).as_str(),
                "catatan revisi" | "catatan revisi rencana" | "revision note"
            ),
            _ => false,
        })?;
    let ((r, c), v) = sheet.cells.range((*row, col + 1)..(row + 1, 0)).next()?;
    Some((v.text(), cell_name(&sheet.name, *r, *c)))
}

/// Reads a sheet's cells (and merged regions) through the capped opener.
fn read_sheet(
    book: &mut workbook::Workbook<'_>,
    name: &str,
    text_budget: &mut usize,
) -> Result<Sheet, WorkbookError> {
    let mut cells = BTreeMap::new();
    let mut last_row = 0u32;
    let mut out_of_order = false;
    book.cells(name, |row, col, value| -> Result<(), WorkbookError> {
        let beyond = (row as usize) > MAX_ROWS + HEADER_ROWS as usize + 2;
        if beyond && !matches!(value, DataRef::Empty) {
            return Err(WorkbookError::TooLarge(format!(
                "the sheet `{}` has more than {MAX_ROWS} rows; a plan has far fewer, so split it",
                values::echo(name)
            )));
        }
        if beyond {
            return Ok(());
        }
        if col >= MAX_COLUMNS && !matches!(value, DataRef::Empty) {
            return Err(WorkbookError::TooLarge(format!(
                "the sheet `{}` has cells beyond column {}; a plan needs far fewer columns, so delete the others",
                values::echo(name),
                column_letters(MAX_COLUMNS - 1)
            )));
        }
        if row < last_row {
            out_of_order = true;
        }
        last_row = last_row.max(row);
        if let Some(v) = text_of(value) {
            if let Value::Text(t) = &v {
                *text_budget = text_budget.saturating_sub(t.len());
                if *text_budget == 0 {
                    return Err(WorkbookError::TooLarge(format!(
                        "the workbook's cells hold more than {} MiB of text; a plan holds far less, so save only the plan's sheets in a new workbook",
                        MAX_TEXT_BYTES >> 20
                    )));
                }
            }
            cells.insert((row, col), v);
        }
        Ok(())
    })?;
    let mut merges = book.merged_regions(name)?;
    merges.retain(|((_, c0), _)| *c0 < MAX_COLUMNS);
    let head_merges = merges
        .iter()
        .filter(|((r0, _), _)| *r0 <= HEADER_ROWS + 2)
        .copied()
        .collect();
    Ok(Sheet {
        name: name.to_string(),
        cells,
        merges,
        head_merges,
        by_column: HashMap::new(),
    })
}

/// Reads `bytes` (a workbook named `file` in messages) into a validated plan.
pub fn import(bytes: &[u8], file: &str) -> Result<Imported, ImportError> {
    let mut book = workbook::open(bytes, &workbook::Limits::default())
        .map_err(|e| workbook_problem(file, e))?;
    let names = book.sheet_names();
    let mut budget = MAX_TEXT_BYTES;
    let mut problems = Problems::default();
    let mut sheets: BTreeMap<&'static str, (SheetKind, Sheet)> = BTreeMap::new();
    for name in &names {
        if let Some(kind) = SheetKind::of_sheet_name(name) {
            if sheets.contains_key(kind.sheet_name()) {
                problems.at(
                    format!("{file}: sheet `{}`", values::echo(name)),
                    format!("is a second `{}` sheet; keep one", kind.sheet_name()),
                );
                continue;
            }
            let sheet =
                read_sheet(&mut book, name, &mut budget).map_err(|e| workbook_problem(file, e))?;
            sheets.insert(kind.sheet_name(), (kind, sheet));
        }
    }
    if !sheets.contains_key(template::INDICATOR_SHEET) {
        // A city's own matrix: the first sheet whose header names indicators.
        for name in &names {
            if SheetKind::of_sheet_name(name).is_some() {
                continue;
            }
            let sheet =
                read_sheet(&mut book, name, &mut budget).map_err(|e| workbook_problem(file, e))?;
            let mut quiet = Problems::default();
            let found = layout(
                &sheet,
                SheetKind::Indicator,
                &Present { program: true },
                &mut quiet,
            )
            .is_some_and(|l| l.col(Field::Name).is_some());
            if found {
                sheets.insert(template::INDICATOR_SHEET, (SheetKind::Indicator, sheet));
                break;
            }
        }
    }
    if !sheets.contains_key(template::INDICATOR_SHEET) {
        let found: Vec<String> = names.iter().map(|n| values::echo(n)).take(20).collect();
        return Err(ImportError {
            file: file.into(),
            problems: vec![format!(
                "{file}: has no `Indikator` sheet (found sheets: {}); name the sheet with the indicators `Indikator`, or start from `pantau plan template`",
                if found.is_empty() {
                    "none".into()
                } else {
                    found.join(", ")
                }
            )],
        });
    }
    let note = match names
        .iter()
        .find(|n| words(n) == words(template::GUIDE_SHEET))
    {
        Some(name) => revision_note(
            &read_sheet(&mut book, name, &mut budget).map_err(|e| workbook_problem(file, e))?,
        ),
        None => None,
    };
    let present = Present {
        program: sheets.contains_key(template::PROGRAM_SHEET),
    };
    let mut layouts: HashMap<&'static str, Layout> = HashMap::new();
    for (key, (kind, sheet)) in sheets.iter_mut() {
        if let Some(l) = layout(sheet, *kind, &present, &mut problems) {
            let mut columns: Vec<u32> = l.fields.values().copied().collect();
            columns.extend(l.targets.iter().map(|(_, c)| *c));
            sheet.index_columns(&columns);
            layouts.insert(key, l);
        }
    }
    for (key, (_, sheet)) in &sheets {
        if let Some(l) = layouts.get(key) {
            let rows = data_rows(sheet, l, &mut Problems::default());
            ambiguous_merges(sheet, l, &rows, &mut problems);
        }
    }
    let mut draft = Draft::default();
    if let Some((text, cell)) = note {
        draft.revision_note = Some(text);
        draft.revision_note_cell = Some(cell);
    }
    let mut departments = Lookup::default();
    let mut dimensions = Lookup::default();
    let mut programs = Lookup::default();
    let get = |k: &str| sheets.get(k).map(|(_, s)| s).zip(layouts.get(k));
    if let Some((s, l)) = get(template::OPD_SHEET) {
        read_departments(s, l, &mut problems, &mut draft, &mut departments);
    }
    if let Some((s, l)) = get(template::DIMENSION_SHEET) {
        read_dimensions(s, l, &mut problems, &mut draft, &mut dimensions);
    }
    let mut refs = Refs {
        departments: &mut departments,
        make_departments: !sheets.contains_key(template::OPD_SHEET),
        dimensions: &mut dimensions,
        make_dimensions: !sheets.contains_key(template::DIMENSION_SHEET),
    };
    if let Some((s, l)) = get(template::PROGRAM_SHEET) {
        read_programs(s, l, &mut problems, &mut draft, &mut refs, &mut programs);
    }
    if let Some((s, l)) = get(template::INDICATOR_SHEET) {
        read_indicators(
            s,
            l,
            &mut problems,
            &mut draft,
            &mut refs,
            &mut programs,
            !present.program,
        );
    }
    // The six dimensions of the guide are always in the plan (the screens `pantau init` writes
    // show all six): those the workbook does not name are added as `pantau init` writes them.
    for (i, (id, name, _)) in DIMENSIONS.iter().enumerate() {
        let named = draft.dimensions.iter().any(|d| {
            d.id == *id
                || builtin_dimension(&d.id) == Some(i)
                || builtin_dimension(&d.name) == Some(i)
        });
        if !named {
            draft.dimensions.push(DraftDimension {
                id: (*id).into(),
                name: (*name).into(),
                elements: builtin_elements(id),
                weight: None,
                origin: Origin::default(),
            });
        }
    }
    // Dimensions made from the rows, in the guide's order.
    if !sheets.contains_key(template::DIMENSION_SHEET) {
        draft.dimensions.sort_by_key(|d| {
            DIMENSIONS
                .iter()
                .position(|(id, _, _)| *id == d.id)
                .unwrap_or(usize::MAX)
        });
    }
    let header = format!(
        "# Masterplan read by `pantau plan import` from {}.\n# Each entry names the sheet and row it came from. Check it with `pantau check`.\n\n",
        values::echo(file)
    );
    let toml = draft.render(&header);
    let mut validation: Vec<Problem> = Vec::new();
    let parsed = parse_masterplan(&toml, "masterplan.toml", &[], &mut validation);
    for p in validation {
        // A program whose indicators all have problems of their own "has no indicators": those
        // problems say it already.
        if let Some(id) = p.item.strip_prefix("program ") {
            if p.field.is_empty() && draft.indicators.iter().any(|i| i.program == id) {
                continue;
            }
        }
        let (place, message) = place_of(&draft, &p);
        if !problems.cells.contains(&place) {
            problems.at(place, message);
        }
    }
    match parsed {
        Some((plan, _)) if problems.is_empty() => Ok(Imported { toml, plan }),
        _ => {
            let total = problems.list.len() + problems.more;
            let mut list: Vec<String> = problems
                .list
                .into_iter()
                .map(|(place, m)| format!("{place}: {m}"))
                .collect();
            if total > MAX_PROBLEMS {
                list.push(format!(
                    "... and {} more; fix these and import again",
                    total - MAX_PROBLEMS
                ));
            }
            Err(ImportError {
                file: file.into(),
                problems: list,
            })
        }
    }
}

/// Where a validation problem lies in the workbook, and its message there.
fn place_of(draft: &Draft, p: &Problem) -> (String, String) {
    let (kind, id) = p.item.split_once(' ').unwrap_or((p.item.as_str(), ""));
    let origin = match kind {
        "department" => draft
            .departments
            .iter()
            .find(|d| d.id == id)
            .map(|d| &d.origin),
        "dimension" => draft
            .dimensions
            .iter()
            .find(|d| d.id == id)
            .map(|d| &d.origin),
        "program" => draft
            .programs
            .iter()
            .find(|d| d.id == id)
            .map(|d| &d.origin),
        "indicator" => draft
            .indicators
            .iter()
            .find(|d| d.id == id)
            .map(|d| &d.origin),
        _ => None,
    }
    .filter(|o| !o.sheet.is_empty());
    if let (true, Some(cell)) = (p.field == "revision_note", &draft.revision_note_cell) {
        return (
            cell.clone(),
            format!("{} {}", template::NOTE_LABEL, p.message),
        );
    }
    let field = if p.field.is_empty() {
        String::new()
    } else {
        format!("`{}` ", p.field)
    };
    match origin {
        Some(o) => (o.cell(&p.field), format!("{} {field}{}", p.item, p.message)),
        None => (p.item.clone(), format!("{field}{}", p.message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, dd).unwrap()
    }

    #[test]
    fn target_headers_name_their_dates() {
        assert_eq!(target_date("Target 2025"), Some(d(2025, 12, 31)));
        assert_eq!(target_date("2026"), Some(d(2026, 12, 31)));
        assert_eq!(target_date("TW III 2025"), Some(d(2025, 9, 30)));
        assert_eq!(target_date("Target TW I 2027"), Some(d(2027, 3, 31)));
        assert_eq!(target_date("Triwulan 2 2025"), Some(d(2025, 6, 30)));
        assert_eq!(target_date("tw4 2025"), Some(d(2025, 12, 31)));
        assert_eq!(target_date("Q1 2026"), Some(d(2026, 3, 31)));
        assert_eq!(target_date("Target 2025-06-15"), Some(d(2025, 6, 15)));
        assert_eq!(target_date("Target (2025)"), Some(d(2025, 12, 31)));
        assert_eq!(target_date("Satuan"), None);
        assert_eq!(target_date("TW V 2025"), None);
        assert_eq!(target_date("1850"), None);
    }

    #[test]
    fn headers_are_read_under_their_other_names() {
        let f = |t| recognise(SheetKind::Indicator, t);
        assert_eq!(f("NAMA INDIKATOR"), Some(Header::Field(Field::Name)));
        assert_eq!(f("Indikator Kinerja"), Some(Header::Field(Field::Name)));
        assert_eq!(
            f("Perangkat Daerah"),
            Some(Header::Field(Field::Department))
        );
        assert_eq!(f("Kondisi Awal"), Some(Header::Field(Field::Baseline)));
        assert_eq!(f("Kondisi Awal (2024)"), Some(Header::BaselineOf(2024)));
        assert_eq!(f("Baseline Tahun 2023"), Some(Header::BaselineOf(2023)));
        assert_eq!(f("sumber  data"), Some(Header::Field(Field::Source)));
        assert_eq!(f("No."), Some(Header::Ignored));
        assert_eq!(f("Realisasi 2024"), Some(Header::Ignored));
        assert_eq!(f("Warna"), None);
    }

    #[test]
    fn ids_are_made_from_names() {
        assert_eq!(slug("Dinas Kesehatan, P2KB", 40), "dinas-kesehatan-p2kb");
        assert_eq!(slug("  ", 40), "x");
        assert!(slug(&"Panjang ".repeat(20), 40).len() <= 40);
        let mut taken = HashSet::new();
        assert_eq!(unique("a".into(), &mut taken), "a");
        assert_eq!(unique("a".into(), &mut taken), "a-2");
        assert_eq!(builtin_dimension("1. SMART GOVERNANCE"), Some(0));
        assert_eq!(builtin_dimension("Dimensi Smart Living"), Some(3));
        assert_eq!(builtin_dimension("Lingkungan"), Some(5));
    }
}
