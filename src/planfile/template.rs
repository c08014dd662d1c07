//! The plan workbook: its sheets and columns, the words its cells use, and the writer that fills
//! it with a plan (the template's examples, or the current plan for `pantau plan export`).
//!
//! The import (`import.rs`) reads the same columns under these headers and many synonyms; what a
//! cell may say is defined here once (`direction_word`, `parse_direction`, ...).

use crate::domain::{Direction, Horizon, Kind, Masterplan, Tier};
use crate::values::neutralise;
use chrono::{Datelike, NaiveDate};
use rust_xlsxwriter::{
    DataValidation, ExcelDateTime, Format, FormatAlign, Formula, Note, Workbook, Worksheet,
    XlsxError,
};

/// A field a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Id,
    Name,
    Email,
    Elements,
    Weight,
    Dimension,
    Department,
    QuickWin,
    Horizon,
    Start,
    Due,
    Code,
    Program,
    Unit,
    Direction,
    Kind,
    Tier,
    Baseline,
    BaselineYear,
    PicNama,
    PicJabatan,
    Source,
    UpdateEvery,
    Tolerance,
    Min,
    Max,
}

/// One column of a sheet: its header, what it holds, and the note on its header.
pub struct Column {
    pub field: Field,
    pub header: &'static str,
    pub note: &'static str,
    pub width: f64,
}

const fn col(field: Field, header: &'static str, width: f64, note: &'static str) -> Column {
    Column {
        field,
        header,
        note,
        width,
    }
}

pub const OPD_SHEET: &str = "OPD";
pub const DIMENSION_SHEET: &str = "Dimensi";
pub const PROGRAM_SHEET: &str = "Program";
pub const INDICATOR_SHEET: &str = "Indikator";
pub const GUIDE_SHEET: &str = "Petunjuk";

/// The label of the plan's revision note (`revision_note`) on the Petunjuk sheet; the note is
/// the cell to its right (`NOTE_CELL`).
pub const NOTE_LABEL: &str = "Catatan revisi";
/// Where the export writes the revision note: row and column (0-based) on the Petunjuk sheet.
pub const NOTE_CELL: (u32, u16) = (2, 1);
const NOTE_HELP: &str = "Opsional. Apa versi rencana ini, mis. Perubahan RPJMD 2025 (paling banyak 200 huruf). pantau mencatatnya bersama setiap versi rencana yang dimuat.";

pub const OPD_COLUMNS: &[Column] = &[
    col(
        Field::Id,
        "ID OPD",
        14.0,
        "Singkatan OPD, huruf kecil tanpa spasi, mis. dinkes. Dipakai di kolom OPD sheet Program dan Indikator.",
    ),
    col(
        Field::Name,
        "Nama OPD",
        50.0,
        "Nama lengkap perangkat daerah, mis. Dinas Kesehatan.",
    ),
    col(
        Field::Email,
        "Email",
        36.0,
        "Opsional. Alamat e-mail pengingat laporan; beberapa alamat dipisah koma.",
    ),
];

pub const DIMENSION_COLUMNS: &[Column] = &[
    col(
        Field::Id,
        "ID Dimensi",
        14.0,
        "governance, branding, economy, living, society atau environment.",
    ),
    col(Field::Name, "Nama Dimensi", 22.0, "Mis. Smart Governance."),
    col(
        Field::Elements,
        "Elemen",
        70.0,
        "Elemen dimensi menurut Buku Panduan Gerakan Menuju Smart City, dipisah titik koma (;).",
    ),
    col(
        Field::Weight,
        "Bobot",
        8.0,
        "Opsional, angka 0 atau lebih (bawaan 1).",
    ),
];

pub const PROGRAM_COLUMNS: &[Column] = &[
    col(
        Field::Id,
        "ID Program",
        22.0,
        "Huruf kecil, angka, titik, garis bawah atau tanda hubung; diawali ID dimensi, mis. living.health.",
    ),
    col(
        Field::Dimension,
        "Dimensi",
        14.0,
        "ID dimensi dari sheet Dimensi.",
    ),
    col(
        Field::Name,
        "Nama Program",
        40.0,
        "Nama program seperti di masterplan.",
    ),
    col(
        Field::Department,
        "OPD",
        12.0,
        "ID OPD pengampu dari sheet OPD.",
    ),
    col(
        Field::QuickWin,
        "Quick Win",
        10.0,
        "Ya bila program ini quick win, selain itu Tidak.",
    ),
    col(
        Field::Horizon,
        "Horizon",
        12.0,
        "quick win, pendek, menengah atau panjang. Kosong: quick win untuk quick win, selain itu wajib diisi.",
    ),
    col(
        Field::Start,
        "Mulai",
        12.0,
        "Tanggal mulai, mis. 01/01/2025 (atau tahun saja: 1 Januari).",
    ),
    col(
        Field::Due,
        "Selesai",
        12.0,
        "Tanggal selesai, mis. 31/12/2029 (atau tahun saja: 31 Desember).",
    ),
    col(
        Field::Weight,
        "Bobot",
        8.0,
        "Opsional, angka 0 atau lebih (bawaan 1).",
    ),
];

pub const INDICATOR_COLUMNS: &[Column] = &[
    col(
        Field::Code,
        "Kode",
        10.0,
        "Opsional. Kode indikator di dokumen rencana, mis. IKU-3.1.",
    ),
    col(
        Field::Id,
        "ID Indikator",
        26.0,
        "Opsional. ID unik, diawali ID program, mis. living.health.stunting. Kosong: dibuat dari program dan kode atau nama.",
    ),
    col(
        Field::Name,
        "Nama Indikator",
        40.0,
        "Nama indikator seperti di masterplan.",
    ),
    col(
        Field::Unit,
        "Satuan",
        10.0,
        "persen, unit, hari, orang, Rp, ...",
    ),
    col(
        Field::Department,
        "OPD",
        12.0,
        "Opsional. ID OPD yang melapor bila berbeda dari OPD program.",
    ),
    col(
        Field::Program,
        "Program",
        22.0,
        "ID program dari sheet Program.",
    ),
    col(
        Field::Direction,
        "Arah",
        10.0,
        "naik, turun, tetap (dalam toleransi), minimal (batas bawah) atau maksimal (batas atas).",
    ),
    col(
        Field::Kind,
        "Jenis",
        16.0,
        "level (nilai terakhir), kumulatif (dijumlah sejak baseline) atau kumulatif tahunan (dijumlah per tahun). Kosong: level.",
    ),
    col(
        Field::Tier,
        "Tingkat",
        10.0,
        "Opsional. output, outcome atau impact.",
    ),
    col(
        Field::Baseline,
        "Baseline",
        10.0,
        "Nilai kondisi awal, mis. 24,5 atau 95%.",
    ),
    col(
        Field::BaselineYear,
        "Tahun Baseline",
        10.0,
        "Tahun kondisi awal (nilai per 31 Desember), atau tanggalnya.",
    ),
    col(
        Field::QuickWin,
        "Quick Win",
        10.0,
        "Opsional. Ya menandai program indikator ini sebagai quick win.",
    ),
    col(
        Field::PicNama,
        "PIC Nama",
        20.0,
        "Opsional. Nama penanggung jawab; isi bersama PIC Jabatan.",
    ),
    col(
        Field::PicJabatan,
        "PIC Jabatan",
        22.0,
        "Opsional. Jabatan penanggung jawab, mis. Kepala Bidang Kesmas.",
    ),
    col(
        Field::Source,
        "Sumber Data",
        16.0,
        "Opsional. Asal data, mis. e-PPGBM, SSGI, SIPD.",
    ),
    col(
        Field::UpdateEvery,
        "Pembaruan",
        12.0,
        "Seberapa sering OPD melapor: harian, mingguan, bulanan, triwulanan, semesteran, tahunan (atau 1mo, 3mo, ...). Kosong: triwulanan.",
    ),
    col(
        Field::Tolerance,
        "Toleransi",
        10.0,
        "Hanya untuk arah tetap: selisih dari target yang masih dianggap sesuai, mis. 0,5.",
    ),
    col(
        Field::Weight,
        "Bobot",
        8.0,
        "Opsional, angka 0 atau lebih (bawaan 1).",
    ),
    col(
        Field::Min,
        "Min",
        8.0,
        "Opsional. Nilai terkecil yang boleh dilaporkan.",
    ),
    col(
        Field::Max,
        "Maks",
        8.0,
        "Opsional. Nilai terbesar yang boleh dilaporkan.",
    ),
];

/// The note on each target column.
pub const TARGET_NOTE: &str = "Target indikator per 31 Desember tahun itu. Kolom lain: `TW I 2025` ... `TW IV 2025` untuk target triwulan, `Target 2025-06-30` untuk tanggal lain. Tulis - bila tidak ada target pada kolom ini; sel kosong dianggap lupa diisi.";

/// What a target column's header says: its date.
pub fn target_header(date: NaiveDate) -> String {
    let y = date.year();
    match (date.month(), date.day()) {
        (12, 31) => format!("Target {y}"),
        (3, 31) => format!("TW I {y}"),
        (6, 30) => format!("TW II {y}"),
        (9, 30) => format!("TW III {y}"),
        _ => format!("Target {date}"),
    }
}

/// A cell's text made comparable: lowercase, `_` and `-` as spaces, spaces collapsed.
pub fn words(text: &str) -> String {
    text.to_lowercase()
        .replace(['_', '-'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn direction_word(d: Direction) -> &'static str {
    match d {
        Direction::Increase => "naik",
        Direction::Decrease => "turun",
        Direction::Maintain => "tetap",
        Direction::AtLeast => "minimal",
        Direction::AtMost => "maksimal",
    }
}

pub const DIRECTION_WORDS: &[&str] = &["naik", "turun", "tetap", "minimal", "maksimal"];

/// The masterplan name of a direction written in a cell (Indonesian or the masterplan's own).
pub fn parse_direction(text: &str) -> Option<&'static str> {
    Some(match words(text).as_str() {
        "naik" | "meningkat" | "increase" | "positif" | "↑" => "increase",
        "turun" | "menurun" | "decrease" | "negatif" | "↓" => "decrease",
        "tetap" | "dipertahankan" | "stabil" | "maintain" => "maintain",
        "minimal" | "paling sedikit" | "at least" | "≥" | ">=" => "at_least",
        "maksimal" | "paling banyak" | "at most" | "≤" | "<=" => "at_most",
        _ => return None,
    })
}

pub fn kind_word(k: Kind) -> &'static str {
    match k {
        Kind::Level => "level",
        Kind::Cumulative => "kumulatif",
        Kind::CumulativeYearly => "kumulatif tahunan",
    }
}

pub const KIND_WORDS: &[&str] = &["level", "kumulatif", "kumulatif tahunan"];

pub fn parse_kind(text: &str) -> Option<&'static str> {
    Some(match words(text).as_str() {
        "level" | "nilai akhir" | "posisi" => "level",
        "kumulatif" | "cumulative" | "akumulatif" => "cumulative",
        "kumulatif tahunan" | "cumulative yearly" | "kumulatif per tahun" => "cumulative_yearly",
        _ => return None,
    })
}

pub const TIER_WORDS: &[&str] = &["output", "outcome", "impact"];

pub fn parse_tier(text: &str) -> Option<&'static str> {
    Some(match words(text).as_str() {
        "output" | "keluaran" => "output",
        "outcome" | "hasil" => "outcome",
        "impact" | "dampak" => "impact",
        _ => return None,
    })
}

pub fn horizon_word(h: Horizon) -> &'static str {
    match h {
        Horizon::QuickWin => "quick win",
        Horizon::Short => "pendek",
        Horizon::Medium => "menengah",
        Horizon::Long => "panjang",
    }
}

pub const HORIZON_WORDS: &[&str] = &["quick win", "pendek", "menengah", "panjang"];

pub fn parse_horizon(text: &str) -> Option<&'static str> {
    Some(match words(text).as_str() {
        "quick win" | "quickwin" => "quick_win",
        "pendek" | "jangka pendek" | "short" => "short",
        "menengah" | "jangka menengah" | "medium" => "medium",
        "panjang" | "jangka panjang" | "long" => "long",
        _ => return None,
    })
}

pub const YES_NO: &[&str] = &["Ya", "Tidak"];

/// Ya/Tidak (also yes/no, true/false, 1/0, ✓); None when it is neither.
pub fn parse_yes(text: &str) -> Option<bool> {
    match words(text).as_str() {
        "ya" | "y" | "yes" | "true" | "1" | "✓" | "v" | "quick win" => Some(true),
        "tidak" | "t" | "no" | "false" | "0" | "bukan" | "" => Some(false),
        _ => None,
    }
}

/// How a cadence is written in a cell.
pub fn cadence_word(c: &str) -> String {
    match c {
        "1d" => "harian".into(),
        "1w" => "mingguan".into(),
        "1mo" => "bulanan".into(),
        "3mo" => "triwulanan".into(),
        "6mo" => "semesteran".into(),
        "1y" => "tahunan".into(),
        other => other.into(),
    }
}

/// The masterplan cadence of a cell: a word above or the masterplan's own spelling (`2w`).
pub fn parse_cadence(text: &str) -> Option<String> {
    let w = words(text);
    let named = match w.as_str() {
        "harian" | "setiap hari" => "1d",
        "mingguan" | "setiap minggu" => "1w",
        "bulanan" | "setiap bulan" => "1mo",
        "triwulanan" | "triwulan" | "per triwulan" | "setiap triwulan" => "3mo",
        "semesteran" | "semester" | "per semester" => "6mo",
        "tahunan" | "setiap tahun" | "per tahun" => "1y",
        other => {
            return crate::domain::Cadence::parse(other)
                .ok()
                .map(|c| c.to_string());
        }
    };
    Some(named.into())
}

/// The years the template has a target column for (a five-year plan), besides its examples'.
pub const TEMPLATE_YEARS: std::ops::RangeInclusive<i32> = 2025..=2029;

/// The workbook `pantau plan template` writes: the example plan of `pantau init`, with a target
/// column for each of `TEMPLATE_YEARS`.
pub fn template_workbook() -> anyhow::Result<Vec<u8>> {
    let plan = super::init::example_plan("Kota Contoh")?;
    let years: Vec<NaiveDate> = TEMPLATE_YEARS
        .filter_map(|y| NaiveDate::from_ymd_opt(y, 12, 31))
        .collect();
    write_workbook(&plan, &years).map_err(xlsx)
}

fn xlsx(e: XlsxError) -> anyhow::Error {
    anyhow::anyhow!("cannot write the workbook: {e}")
}

/// Rows the data-validation lists and formats cover.
const ROWS: u32 = 2000;

/// `plan` in the plan workbook, as bytes.
pub fn plan_workbook(plan: &Masterplan) -> anyhow::Result<Vec<u8>> {
    write_workbook(plan, &[]).map_err(xlsx)
}

fn text(sheet: &mut Worksheet, row: u32, col: u16, s: &str) -> Result<(), XlsxError> {
    if !s.is_empty() {
        sheet.write_string(row, col, neutralise(s).as_ref())?;
    }
    Ok(())
}

fn headers(sheet: &mut Worksheet, columns: &[Column], bold: &Format) -> Result<(), XlsxError> {
    for (c, column) in columns.iter().enumerate() {
        let c = c as u16;
        sheet.write_string_with_format(0, c, column.header, bold)?;
        sheet.insert_note(0, c, &Note::new(column.note).set_author("pantau"))?;
        sheet.set_column_width(c, column.width)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    Ok(())
}

fn list(sheet: &mut Worksheet, col: u16, words: &[&str]) -> Result<(), XlsxError> {
    let v = DataValidation::new().allow_list_strings(words)?;
    sheet.add_data_validation(1, col, ROWS, col, &v)?;
    Ok(())
}

fn list_of(sheet: &mut Worksheet, col: u16, range: &str) -> Result<(), XlsxError> {
    let v = DataValidation::new().allow_list_formula(Formula::new(range));
    sheet.add_data_validation(1, col, ROWS, col, &v)?;
    Ok(())
}

fn position(columns: &[Column], field: Field) -> u16 {
    columns.iter().position(|c| c.field == field).unwrap_or(0) as u16
}

fn date(d: NaiveDate) -> Result<ExcelDateTime, XlsxError> {
    ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)
}

const GUIDE: &[&str] = &[
    "Petunjuk pengisian rencana (masterplan) Smart City untuk pantau",
    "",
    NOTE_LABEL,
    "   Isi sel di kanan Catatan revisi (B3) dengan apa versi rencana ini, mis. Perubahan RPJMD 2025; boleh kosong. pantau mencatatnya bersama setiap versi rencana.",
    "",
    "1. Sheet OPD: satu baris per perangkat daerah. ID OPD adalah singkatan huruf kecil tanpa spasi (mis. dinkes).",
    "2. Sheet Dimensi: enam dimensi Smart City (governance, branding, economy, living, society, environment) dan elemennya, dipisah titik koma.",
    "3. Sheet Program: satu baris per program, dengan dimensi, OPD pengampu, quick win (Ya/Tidak), horizon, tanggal mulai dan selesai.",
    "4. Sheet Indikator: satu baris per indikator, dengan program, satuan, arah, baseline dan target per tahun (kolom Target 2025, Target 2026, ...).",
    "   Target triwulan: tambahkan kolom TW I 2025, TW II 2025, TW III 2025, TW IV 2025. Target pada tanggal lain: kolom Target 2025-06-30.",
    "   Tulis - pada sel target bila indikator tidak punya target di kolom itu; sel kosong dianggap lupa diisi.",
    "5. Angka ditulis seperti biasa: 1.234,5 atau 95% atau sel angka. Tanggal: sel tanggal, 31/12/2025, 2025-12-31 atau 31 Desember 2025.",
    "6. Pilihan pada kolom Arah, Jenis, Tingkat, Quick Win, Horizon, OPD, Program dan Dimensi tersedia sebagai daftar di selnya.",
    "7. Setiap judul kolom punya catatan yang menjelaskan isinya (arahkan kursor ke judul kolom).",
    "8. Baris contoh boleh diubah atau dihapus. Jangan ubah nama sheet; urutan kolom boleh diubah.",
    "",
    "Setelah diisi, jalankan:  pantau plan import rencana.xlsx --out masterplan.toml",
    "pantau memeriksa seluruh isian sekaligus dan menyebut setiap masalah dengan selnya (mis. Indikator!F12) serta cara memperbaikinya; tidak ada yang ditulis selama masih ada masalah.",
    "Lalu periksa konfigurasi dengan:  pantau check --config <folder>",
    "",
    "Matriks yang sudah ada (judul kolom lain, urutan lain, sel Dimensi/Program yang digabung, kolom TW I 2025) juga bisa dibaca langsung: pantau plan import matriks.xlsx",
];

/// `plan` in the workbook, with target columns for its targets' dates and `more` dates.
fn write_workbook(plan: &Masterplan, more: &[NaiveDate]) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let wrap = Format::new().set_text_wrap().set_align(FormatAlign::Top);
    let day = Format::new().set_num_format("dd/mm/yyyy");

    let guide = book.add_worksheet();
    guide.set_name(GUIDE_SHEET)?;
    guide.set_column_width(0, 130.0)?;
    guide.set_column_width(NOTE_CELL.1, 40.0)?;
    for (r, line) in GUIDE.iter().enumerate() {
        if r == 0 || *line == NOTE_LABEL {
            guide.write_string_with_format(r as u32, 0, *line, &bold)?;
        } else if !line.is_empty() {
            guide.write_string(r as u32, 0, *line)?;
        }
    }
    guide.insert_note(
        NOTE_CELL.0,
        NOTE_CELL.1,
        &Note::new(NOTE_HELP).set_author("pantau"),
    )?;
    if let Some(note) = &plan.revision_note {
        text(guide, NOTE_CELL.0, NOTE_CELL.1, note)?;
    }

    let opd = book.add_worksheet();
    opd.set_name(OPD_SHEET)?;
    headers(opd, OPD_COLUMNS, &bold)?;
    for (r, d) in plan.departments.iter().enumerate() {
        let r = r as u32 + 1;
        text(opd, r, 0, d.id.as_str())?;
        text(opd, r, 1, &d.name)?;
        text(opd, r, 2, &d.emails.join(", "))?;
    }

    let dims = book.add_worksheet();
    dims.set_name(DIMENSION_SHEET)?;
    headers(dims, DIMENSION_COLUMNS, &bold)?;
    for (r, d) in plan.dimensions.iter().enumerate() {
        let r = r as u32 + 1;
        text(dims, r, 0, d.id.as_str())?;
        text(dims, r, 1, &d.name)?;
        dims.write_string_with_format(r, 2, neutralise(&d.elements.join("; ")).as_ref(), &wrap)?;
        dims.write_number(r, 3, d.weight)?;
    }

    let programs = book.add_worksheet();
    programs.set_name(PROGRAM_SHEET)?;
    headers(programs, PROGRAM_COLUMNS, &bold)?;
    let p = |f| position(PROGRAM_COLUMNS, f);
    list_of(programs, p(Field::Dimension), "=Dimensi!$A$2:$A$100")?;
    list_of(programs, p(Field::Department), "=OPD!$A$2:$A$1000")?;
    list(programs, p(Field::QuickWin), YES_NO)?;
    list(programs, p(Field::Horizon), HORIZON_WORDS)?;
    for (r, g) in plan.programs.iter().enumerate() {
        let r = r as u32 + 1;
        text(programs, r, p(Field::Id), g.id.as_str())?;
        text(programs, r, p(Field::Dimension), g.dimension.as_str())?;
        text(programs, r, p(Field::Name), &g.name)?;
        text(programs, r, p(Field::Department), g.department.as_str())?;
        text(
            programs,
            r,
            p(Field::QuickWin),
            YES_NO[usize::from(!g.quick_win)],
        )?;
        text(programs, r, p(Field::Horizon), horizon_word(g.horizon))?;
        programs.write_datetime_with_format(r, p(Field::Start), date(g.start)?, &day)?;
        programs.write_datetime_with_format(r, p(Field::Due), date(g.due)?, &day)?;
        programs.write_number(r, p(Field::Weight), g.weight)?;
    }

    let sheet = book.add_worksheet();
    sheet.set_name(INDICATOR_SHEET)?;
    headers(sheet, INDICATOR_COLUMNS, &bold)?;
    let i = |f| position(INDICATOR_COLUMNS, f);
    list(sheet, i(Field::Direction), DIRECTION_WORDS)?;
    list(sheet, i(Field::Kind), KIND_WORDS)?;
    list(sheet, i(Field::Tier), TIER_WORDS)?;
    list(sheet, i(Field::QuickWin), YES_NO)?;
    list_of(sheet, i(Field::Department), "=OPD!$A$2:$A$1000")?;
    list_of(sheet, i(Field::Program), "=Program!$A$2:$A$1000")?;
    // One column per target date any indicator has (and each of `more`), in date order; an
    // indicator without a target in a column gets `-` there.
    let mut dates: Vec<NaiveDate> = plan
        .indicators
        .iter()
        .flat_map(|i| i.targets.iter().map(|t| t.date))
        .chain(more.iter().copied())
        .collect();
    dates.sort();
    dates.dedup();
    let first = INDICATOR_COLUMNS.len() as u16;
    for (k, d) in dates.iter().enumerate() {
        let c = first + k as u16;
        sheet.write_string_with_format(0, c, target_header(*d), &bold)?;
        sheet.insert_note(0, c, &Note::new(TARGET_NOTE).set_author("pantau"))?;
        sheet.set_column_width(c, 12.0)?;
    }
    for (r, ind) in plan.indicators.iter().enumerate() {
        let r = r as u32 + 1;
        let program = plan.program(ind.program.as_str());
        text(sheet, r, i(Field::Code), ind.code.as_deref().unwrap_or(""))?;
        text(sheet, r, i(Field::Id), ind.id.as_str())?;
        text(sheet, r, i(Field::Name), &ind.name)?;
        text(sheet, r, i(Field::Unit), &ind.unit)?;
        if program.is_none_or(|p| p.department != ind.department) {
            text(sheet, r, i(Field::Department), ind.department.as_str())?;
        }
        text(sheet, r, i(Field::Program), ind.program.as_str())?;
        text(sheet, r, i(Field::Direction), direction_word(ind.direction))?;
        text(sheet, r, i(Field::Kind), kind_word(ind.kind))?;
        text(
            sheet,
            r,
            i(Field::Tier),
            ind.tier.as_ref().map_or("", Tier::as_str),
        )?;
        sheet.write_number(r, i(Field::Baseline), ind.baseline.value)?;
        let b = ind.baseline.date;
        if (b.month(), b.day()) == (12, 31) {
            sheet.write_number(r, i(Field::BaselineYear), b.year() as f64)?;
        } else {
            sheet.write_datetime_with_format(r, i(Field::BaselineYear), date(b)?, &day)?;
        }
        let quick = program.is_some_and(|p| p.quick_win);
        text(sheet, r, i(Field::QuickWin), YES_NO[usize::from(!quick)])?;
        if let Some(pic) = &ind.pic {
            text(sheet, r, i(Field::PicNama), &pic.nama)?;
            text(sheet, r, i(Field::PicJabatan), &pic.jabatan)?;
        }
        text(
            sheet,
            r,
            i(Field::Source),
            ind.source.as_deref().unwrap_or(""),
        )?;
        text(
            sheet,
            r,
            i(Field::UpdateEvery),
            &cadence_word(&ind.update_every.to_string()),
        )?;
        if ind.direction == Direction::Maintain {
            sheet.write_number(r, i(Field::Tolerance), ind.tolerance)?;
        }
        sheet.write_number(r, i(Field::Weight), ind.weight)?;
        if let Some(m) = ind.min {
            sheet.write_number(r, i(Field::Min), m)?;
        }
        if let Some(m) = ind.max {
            sheet.write_number(r, i(Field::Max), m)?;
        }
        for (k, d) in dates.iter().enumerate() {
            let c = first + k as u16;
            match ind.targets.iter().find(|t| t.date == *d) {
                Some(t) => sheet.write_number(r, c, t.value)?,
                None => sheet.write_string(r, c, "-")?,
            };
        }
    }
    book.save_to_buffer()
}
