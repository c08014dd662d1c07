//! The report as an XLSX workbook (rust_xlsxwriter): a summary sheet ("Ringkasan") with the
//! roll-ups per dimension, tier and department, the quick wins, OPD compliance and the
//! signatures, then one sheet per dimension with its programs and indicators.
//!
//! Every text goes into a string cell (never a formula) and through `values::neutralise` (the
//! one neutraliser of every CSV and XLSX pantau writes); numbers are number cells with
//! `#,##0.00` style formats (Excel shows them with the reader's separators, `1.234,50` in
//! Indonesian), capaian is a percent cell (95 % is stored as 0.95), dates are date cells. Header
//! rows are frozen and repeat on every printed page; pages print A4 landscape, one page wide,
//! numbered.

use super::ReportError;
use super::model::{
    CapaianBasis, EvaluationReport, GroupSummary, IndicatorRow, status_label, tier_label,
};
use super::text;
use crate::values::neutralise;
use chrono::Datelike;
use rust_xlsxwriter::{
    Color, ExcelDateTime, Format, FormatAlign, FormatBorder, FormatUnderline, Workbook, Worksheet,
    XlsxError,
};

/// Excel's limit on the characters of one cell.
const MAX_CELL_CHARS: usize = 32_000;

fn render_error(e: XlsxError) -> ReportError {
    ReportError::Render(e.to_string())
}

/// The cell formats of the workbook.
struct Formats {
    title: Format,
    subtitle: Format,
    label: Format,
    heading: Format,
    header: Format,
    text: Format,
    number: Format,
    percent: Format,
    /// A triwulan's capaian against the year's target: `95,00%*`.
    percent_marked: Format,
    count: Format,
    date: Format,
    group_text: Format,
    group_percent: Format,
    group_count: Format,
    footnote: Format,
    sign: Format,
    sign_name: Format,
}

impl Formats {
    fn new() -> Formats {
        let cell = Format::new()
            .set_border(FormatBorder::Thin)
            .set_border_color(Color::RGB(0xB7C3D0))
            .set_align(FormatAlign::Top)
            .set_font_size(10);
        let group = cell
            .clone()
            .set_bold()
            .set_background_color(Color::RGB(0xEEF2F7));
        Formats {
            title: Format::new().set_bold().set_font_size(14),
            subtitle: Format::new().set_font_size(11),
            label: Format::new().set_bold().set_font_size(10),
            heading: Format::new().set_bold().set_font_size(12),
            header: cell
                .clone()
                .set_bold()
                .set_text_wrap()
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter)
                .set_background_color(Color::RGB(0xDCE6F1)),
            text: cell.clone().set_text_wrap(),
            number: cell.clone().set_num_format("#,##0.00"),
            percent: cell.clone().set_num_format("0.00%"),
            percent_marked: cell.clone().set_num_format("0.00%\"*\""),
            count: cell.clone().set_num_format("0"),
            date: cell.clone().set_num_format("dd/mm/yyyy"),
            group_text: group.clone().set_text_wrap(),
            group_percent: group.clone().set_num_format("0.00%"),
            group_count: group.set_num_format("0"),
            footnote: Format::new().set_italic().set_font_size(9),
            sign: Format::new()
                .set_font_size(10)
                .set_align(FormatAlign::Center)
                .set_text_wrap(),
            sign_name: Format::new()
                .set_font_size(10)
                .set_bold()
                .set_underline(FormatUnderline::Single)
                .set_align(FormatAlign::Center),
        }
    }
}

/// A worksheet with the report's cell helpers.
struct Sheet<'a> {
    ws: &'a mut Worksheet,
}

impl Sheet<'_> {
    /// Text in a string cell, neutralised.
    fn text(&mut self, row: u32, col: u16, value: &str, f: &Format) -> Result<(), ReportError> {
        let mut safe = neutralise(value).into_owned();
        if safe.chars().count() > MAX_CELL_CHARS {
            safe = safe.chars().take(MAX_CELL_CHARS - 1).collect::<String>() + "…";
        }
        self.ws
            .write_string_with_format(row, col, safe, f)
            .map_err(render_error)?;
        Ok(())
    }

    /// A number cell, or a blank one (with the same borders) when there is none.
    fn number(
        &mut self,
        row: u32,
        col: u16,
        value: Option<f64>,
        f: &Format,
    ) -> Result<(), ReportError> {
        match value.filter(|v| v.is_finite()) {
            Some(v) => self.ws.write_number_with_format(row, col, v, f),
            None => self.ws.write_blank(row, col, f),
        }
        .map_err(render_error)?;
        Ok(())
    }

    /// A percentage given in percent (95.0) as a percent cell (0.95).
    fn percent(
        &mut self,
        row: u32,
        col: u16,
        percent: Option<f64>,
        f: &Format,
    ) -> Result<(), ReportError> {
        self.number(row, col, percent.map(|p| p / 100.0), f)
    }

    fn date(
        &mut self,
        row: u32,
        col: u16,
        d: chrono::NaiveDate,
        f: &Format,
    ) -> Result<(), ReportError> {
        let cell = u16::try_from(d.year())
            .ok()
            .and_then(|y| ExcelDateTime::from_ymd(y, d.month() as u8, d.day() as u8).ok());
        match cell {
            Some(cell) => {
                self.ws
                    .write_datetime_with_format(row, col, &cell, f)
                    .map_err(render_error)?;
                Ok(())
            }
            None => self.text(row, col, &d.to_string(), f),
        }
    }

    /// Text across columns `first..=last` of one row (neutralised, as every text).
    fn merged(
        &mut self,
        row: u32,
        first: u16,
        last: u16,
        value: &str,
        f: &Format,
    ) -> Result<(), ReportError> {
        if first == last {
            return self.text(row, first, value, f);
        }
        let safe: String = neutralise(value).chars().take(MAX_CELL_CHARS).collect();
        self.ws
            .merge_range(row, first, row, last, &safe, f)
            .map_err(render_error)?;
        Ok(())
    }

    fn widths(&mut self, widths: &[f64]) -> Result<(), ReportError> {
        for (c, w) in widths.iter().enumerate() {
            self.ws
                .set_column_width(c as u16, *w)
                .map_err(render_error)?;
        }
        Ok(())
    }
}

/// Text for an Excel header or footer, where `&` starts a control code.
fn header_footer_text(s: &str) -> String {
    neutralise(s)
        .replace('&', "&&")
        .chars()
        .filter(|c| !c.is_control())
        .take(80)
        .collect()
}

/// A4 landscape, one page wide, small margins, `header_rows` repeated, numbered pages.
fn page_setup(ws: &mut Worksheet, report: &EvaluationReport, header_rows: Option<(u32, u32)>) {
    ws.set_landscape();
    ws.set_paper_size(9);
    ws.set_margins(0.4, 0.4, 0.5, 0.6, 0.3, 0.3);
    ws.set_print_fit_to_pages(1, 0);
    if let Some((first, last)) = header_rows {
        let _ = ws.set_repeat_rows(first, last);
    }
    ws.set_footer(format!(
        "&L&8{}&R&8Halaman &P dari &N",
        header_footer_text(&format!(
            "Laporan evaluasi · {} · {} · versi rencana {}",
            report.city, report.period.label, report.plan_version
        ))
    ));
}

/// A sheet name Excel accepts: at most 31 characters, none of `[]:*?/\`, unique in the book.
fn sheet_name(name: &str, taken: &mut Vec<String>) -> String {
    let cleaned: String = name
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\'))
        .collect();
    let cleaned = cleaned.trim().trim_matches('\'').trim().to_string();
    let base: String = if cleaned.is_empty() {
        "Dimensi".into()
    } else {
        cleaned.chars().take(31).collect()
    };
    let mut candidate = base.clone();
    let mut n = 2;
    while taken
        .iter()
        .any(|t| t.to_lowercase() == candidate.to_lowercase())
        || candidate.eq_ignore_ascii_case("history")
    {
        let suffix = format!(" ({n})");
        candidate = base
            .chars()
            .take(31 - suffix.chars().count())
            .collect::<String>()
            + &suffix;
        n += 1;
    }
    taken.push(candidate.clone());
    candidate
}

/// The workbook as bytes.
pub fn write(report: &EvaluationReport) -> Result<Vec<u8>, ReportError> {
    let f = Formats::new();
    let mut book = Workbook::new();
    let mut taken = vec!["Ringkasan".to_string()];
    {
        let ws = book.add_worksheet();
        ws.set_name("Ringkasan").map_err(render_error)?;
        summary_sheet(&mut Sheet { ws }, report, &f)?;
    }
    for (k, dim) in report.dimensions.iter().enumerate() {
        let ws = book.add_worksheet();
        ws.set_name(sheet_name(&dim.name, &mut taken))
            .map_err(render_error)?;
        dimension_sheet(&mut Sheet { ws }, report, k, &f)?;
    }
    book.save_to_buffer().map_err(render_error)
}

/// The columns of the summary tables.
const GROUP_HEADER: [&str; 9] = [
    "Indikator",
    "Dengan capaian",
    "Capaian",
    "Kategori",
    "Sangat tinggi",
    "Tinggi",
    "Sedang",
    "Rendah",
    "Sangat rendah",
];

fn group_row(
    s: &mut Sheet<'_>,
    row: u32,
    g: &GroupSummary,
    f: &Formats,
    total: bool,
) -> Result<(), ReportError> {
    let (text, count, percent) = if total {
        (&f.group_text, &f.group_count, &f.group_percent)
    } else {
        (&f.text, &f.count, &f.percent)
    };
    let r = &g.rollup;
    s.text(row, 0, &g.name, text)?;
    s.number(row, 1, Some(f64::from(r.indicators)), count)?;
    s.number(row, 2, Some(f64::from(r.with_capaian)), count)?;
    s.percent(row, 3, r.capaian, percent)?;
    s.text(row, 4, r.category.map_or("", |c| c.label()), text)?;
    let c = &r.categories;
    for (k, n) in [
        c.sangat_tinggi,
        c.tinggi,
        c.sedang,
        c.rendah,
        c.sangat_rendah,
    ]
    .into_iter()
    .enumerate()
    {
        s.number(row, 5 + k as u16, Some(f64::from(n)), count)?;
    }
    Ok(())
}

fn header_row(s: &mut Sheet<'_>, row: u32, cells: &[&str], f: &Formats) -> Result<(), ReportError> {
    for (c, h) in cells.iter().enumerate() {
        s.text(row, c as u16, h, &f.header)?;
    }
    Ok(())
}

fn summary_sheet(
    s: &mut Sheet<'_>,
    report: &EvaluationReport,
    f: &Formats,
) -> Result<(), ReportError> {
    let tz = report.tz;
    s.widths(&[40.0, 13.0, 13.0, 13.0, 15.0, 13.0, 13.0, 13.0, 13.0, 13.0])?;
    s.text(0, 0, "Laporan Evaluasi Masterplan Smart City", &f.title)?;
    s.text(1, 0, &report.city, &f.subtitle)?;
    let mut row = 3;
    let basis = match report.period.quarter {
        None => format!(
            "realisasi tahun {y} terhadap target tahun {y} (SAKIP)",
            y = report.period.year
        ),
        Some(q) => format!(
            "realisasi TW {} terhadap target TW {} (tanpa target triwulan: target tahun {}, bertanda *)",
            text::roman(q),
            text::roman(q),
            report.period.year
        ),
    };
    let mut meta: Vec<(&str, String)> = vec![("Periode", report.period.label.clone())];
    if let Some(d) = &report.department {
        meta.push(("Perangkat daerah", d.name.clone()));
    }
    meta.extend([
        ("Dibuat", text::date_time(report.made_at_millis, tz)),
        ("Versi rencana", report.plan_version.clone()),
        ("Status per", text::date_time(report.status_at_millis, tz)),
        ("Dasar capaian", basis),
    ]);
    if report.summary.without_target > 0 {
        meta.push((
            "Tanpa target tahun ini",
            format!("{} indikator (tidak dimuat)", report.summary.without_target),
        ));
    }
    for (label, value) in &meta {
        s.text(row, 0, label, &f.label)?;
        s.text(row, 1, value, &f.subtitle)?;
        row += 1;
    }
    s.ws.set_freeze_panes(2, 0).map_err(render_error)?;
    page_setup(s.ws, report, None);

    row += 1;
    s.text(row, 0, "Ringkasan per dimensi", &f.heading)?;
    row += 1;
    let mut header = vec!["Dimensi"];
    header.extend(GROUP_HEADER);
    header_row(s, row, &header, f)?;
    row += 1;
    for g in &report.summary.dimensions {
        group_row(s, row, g, f, false)?;
        row += 1;
    }
    let total = GroupSummary {
        id: None,
        name: "Seluruh indikator".into(),
        rollup: report.summary.overall.clone(),
    };
    group_row(s, row, &total, f, true)?;
    row += 2;

    s.text(
        row,
        0,
        "Ringkasan per tingkat (output, outcome, impact)",
        &f.heading,
    )?;
    row += 1;
    header[0] = "Tingkat";
    header_row(s, row, &header, f)?;
    row += 1;
    for g in &report.summary.tiers {
        group_row(s, row, g, f, false)?;
        row += 1;
    }
    row += 1;

    s.text(row, 0, "Ringkasan per perangkat daerah (OPD)", &f.heading)?;
    row += 1;
    header[0] = "OPD penanggung jawab";
    header_row(s, row, &header, f)?;
    row += 1;
    for g in &report.summary.departments {
        group_row(s, row, g, f, false)?;
        row += 1;
    }
    row += 1;

    s.text(row, 0, "Quick wins", &f.heading)?;
    row += 1;
    header_row(
        s,
        row,
        &[
            "Program",
            "Dimensi",
            "OPD",
            "Tenggat",
            "Status",
            "Progres",
            "Seharusnya",
            "Lewat tenggat",
            "Indikator",
        ],
        f,
    )?;
    row += 1;
    if report.quick_wins.is_empty() {
        s.text(row, 0, "Tidak ada program quick win.", &f.footnote)?;
        row += 1;
    }
    for q in &report.quick_wins {
        s.text(row, 0, &q.name, &f.text)?;
        s.text(row, 1, &q.dimension_name, &f.text)?;
        s.text(row, 2, &q.department_name, &f.text)?;
        s.date(row, 3, q.due, &f.date)?;
        s.text(row, 4, status_label(q.status), &f.text)?;
        s.number(row, 5, q.progress, &f.percent)?;
        s.number(row, 6, q.expected, &f.percent)?;
        s.text(row, 7, if q.overdue { "Ya" } else { "Tidak" }, &f.text)?;
        s.number(row, 8, Some(f64::from(q.indicators)), &f.count)?;
        row += 1;
    }
    row += 1;

    let c = &report.compliance;
    s.text(
        row,
        0,
        &format!(
            "Kepatuhan pelaporan OPD ({} – {})",
            text::long_date(c.from),
            text::long_date(c.to)
        ),
        &f.heading,
    )?;
    row += 1;
    let compliance_header = [
        "OPD",
        "Peringkat",
        "Periode wajib lapor",
        "Tepat waktu",
        "Terlambat",
        "Tidak lapor",
        "Belum jatuh tempo",
        "Tepat waktu (%)",
    ];
    header_row(s, row, &compliance_header, f)?;
    row += 1;
    for d in &c.departments {
        s.text(row, 0, &d.name, &f.text)?;
        s.text(
            row,
            1,
            &format!("{} dari {}", d.rank, c.ranked_among),
            &f.text,
        )?;
        tally_cells(s, row, 2, &d.tally, d.on_time_percent, f)?;
        row += 1;
    }
    if c.departments.len() > 1 {
        s.text(row, 0, "Seluruh OPD", &f.group_text)?;
        s.text(row, 1, "", &f.group_text)?;
        tally_cells(s, row, 2, &c.totals, c.on_time_percent, f)?;
        row += 1;
    }
    for d in c.departments.iter().filter(|d| !d.indicators.is_empty()) {
        row += 1;
        s.text(row, 0, &format!("Per indikator — {}", d.name), &f.label)?;
        row += 1;
        let mut h = compliance_header;
        h[0] = "Indikator";
        h[1] = "Jadwal";
        header_row(s, row, &h, f)?;
        row += 1;
        for i in &d.indicators {
            s.text(row, 0, &i.name, &f.text)?;
            s.text(row, 1, &i.update_every, &f.text)?;
            tally_cells(s, row, 2, &i.tally, i.on_time_percent, f)?;
            row += 1;
        }
    }
    row += 2;
    signatures(s, row, report, f)
}

fn tally_cells(
    s: &mut Sheet<'_>,
    row: u32,
    col: u16,
    t: &crate::progress::compliance::Tally,
    on_time: Option<f64>,
    f: &Formats,
) -> Result<(), ReportError> {
    for (k, n) in [t.expected, t.on_time, t.late, t.missing, t.pending]
        .into_iter()
        .enumerate()
    {
        s.number(row, col + k as u16, Some(f64::from(n)), &f.count)?;
    }
    s.percent(row, col + 5, on_time, &f.percent)
}

fn signatures(
    s: &mut Sheet<'_>,
    row: u32,
    report: &EvaluationReport,
    f: &Formats,
) -> Result<(), ReportError> {
    let sig = &report.signatures;
    let date = text::long_date(sig.date);
    let line = match &sig.place {
        Some(p) => format!("{p}, {date}"),
        None => date,
    };
    let n = sig.signers.len().max(1) as u16;
    // Signers side by side, two columns each, on the right as letters are signed; the place
    // and date above the last of them.
    let first = 10u16.saturating_sub(2 * n).max(1);
    let last_col = first + 2 * n - 1;
    s.merged(row, last_col - 1, last_col, &line, &f.sign)?;
    s.ws.set_row_height(row + 1, 27).map_err(render_error)?;
    for (k, signer) in sig.signers.iter().enumerate() {
        let col = first + 2 * k as u16;
        s.merged(row + 1, col, col + 1, &signer.jabatan, &f.sign)?;
        s.merged(row + 5, col, col + 1, &signer.nama, &f.sign_name)?;
        if let Some(nip) = &signer.nip {
            s.merged(row + 6, col, col + 1, &format!("NIP. {nip}"), &f.sign)?;
        }
    }
    Ok(())
}

/// One dimension's sheet.
fn dimension_sheet(
    s: &mut Sheet<'_>,
    report: &EvaluationReport,
    k: usize,
    f: &Formats,
) -> Result<(), ReportError> {
    let dim = &report.dimensions[k];
    let y = report.period.year;
    let quarter = report.period.quarter;
    let last = quarter.unwrap_or(4);
    s.text(
        0,
        0,
        &format!("{} — Laporan Evaluasi {}", dim.name, report.period.label),
        &f.title,
    )?;
    let rollup = match (dim.rollup.capaian, dim.rollup.category) {
        (Some(c), Some(cat)) => format!(
            "{} · capaian dimensi {} % ({})",
            report.city,
            crate::locale::format_number(c, 2, crate::config::Locale::Id),
            cat.label()
        ),
        _ => format!("{} · capaian dimensi belum dapat dihitung", report.city),
    };
    s.text(1, 0, &rollup, &f.subtitle)?;

    let mut header: Vec<String> = [
        "No",
        "Kode",
        "Program / Indikator",
        "Satuan",
        "OPD",
        "Tingkat",
        "Baseline",
    ]
    .iter()
    .map(|h| h.to_string())
    .collect();
    header.push(format!("Target {y}"));
    if let Some(q) = quarter {
        header.push(format!("Target TW {}", text::roman(q)));
    }
    for q in 1..=last {
        header.push(format!("Realisasi TW {}", text::roman(q)));
    }
    let capaian_label = match quarter {
        None => {
            header.push(format!("Realisasi {y}"));
            "Capaian".to_string()
        }
        Some(q) => format!("Capaian TW {}", text::roman(q)),
    };
    header.push(capaian_label);
    for h in ["Kategori", "Status", "Kendala", "Rencana tindak lanjut"] {
        header.push(h.to_string());
    }
    let header_at = 3u32;
    let refs: Vec<&str> = header.iter().map(String::as_str).collect();
    header_row(s, header_at, &refs, f)?;
    s.ws.set_row_height(header_at, 30).map_err(render_error)?;
    let numbers = header.len() - 4 - 7;
    let mut widths = vec![5.0, 10.0, 42.0, 11.0, 16.0, 10.0];
    widths.extend(std::iter::repeat_n(13.0, numbers + 1));
    widths.extend([14.0, 15.0, 36.0, 36.0]);
    s.widths(&widths)?;
    s.ws.set_freeze_panes(header_at + 1, 3)
        .map_err(render_error)?;
    page_setup(s.ws, report, Some((header_at, header_at)));

    let capaian_col = (header.len() - 5) as u16;
    let mut row = header_at + 1;
    let mut number = 0u32;
    for prog in &dim.programs {
        let mut label = format!("Program: {}", prog.name);
        if prog.quick_win {
            label.push_str(" (quick win)");
        }
        for c in 0..header.len() as u16 {
            s.text(row, c, "", &f.group_text)?;
        }
        s.text(row, 2, &label, &f.group_text)?;
        s.text(row, 4, &prog.department_name, &f.group_text)?;
        s.percent(row, capaian_col, prog.rollup.capaian, &f.group_percent)?;
        s.text(
            row,
            capaian_col + 1,
            prog.rollup.category.map_or("", |c| c.label()),
            &f.group_text,
        )?;
        row += 1;
        for ind in &prog.indicators {
            number += 1;
            indicator_row(s, row, number, ind, quarter, f)?;
            row += 1;
        }
    }
    row += 1;
    if quarter.is_some()
        && dim
            .programs
            .iter()
            .flat_map(|p| &p.indicators)
            .any(|r| r.capaian_basis == CapaianBasis::YearTargetForQuarter)
    {
        s.text(
            row,
            2,
            &format!(
                "* Rencana tidak memuat target triwulan ini: capaian dibandingkan dengan target tahun {y}."
            ),
            &f.footnote,
        )?;
        row += 1;
    }
    s.text(
        row,
        2,
        &format!(
            "Status per {} menurut data yang tercatat hingga saat itu.",
            text::date_time(report.status_at_millis, report.tz)
        ),
        &f.footnote,
    )?;
    Ok(())
}

fn indicator_row(
    s: &mut Sheet<'_>,
    row: u32,
    number: u32,
    ind: &IndicatorRow,
    quarter: Option<u8>,
    f: &Formats,
) -> Result<(), ReportError> {
    s.number(row, 0, Some(f64::from(number)), &f.count)?;
    s.text(row, 1, ind.code.as_deref().unwrap_or(""), &f.text)?;
    s.text(row, 2, &ind.name, &f.text)?;
    s.text(row, 3, &ind.unit, &f.text)?;
    s.text(row, 4, &ind.department_name, &f.text)?;
    s.text(row, 5, tier_label(ind.tier), &f.text)?;
    s.number(row, 6, Some(ind.baseline), &f.number)?;
    s.number(row, 7, ind.target, &f.number)?;
    let mut col = 8;
    if quarter.is_some() {
        s.number(row, col, ind.quarter_target, &f.number)?;
        col += 1;
    }
    for q in &ind.quarters {
        s.number(row, col, q.realisasi, &f.number)?;
        col += 1;
    }
    if quarter.is_none() {
        s.number(row, col, ind.realisasi, &f.number)?;
        col += 1;
    }
    let percent = if ind.capaian_basis == CapaianBasis::YearTargetForQuarter {
        &f.percent_marked
    } else {
        &f.percent
    };
    s.percent(row, col, ind.capaian, percent)?;
    s.text(
        row,
        col + 1,
        ind.category.map_or("", |c| c.label()),
        &f.text,
    )?;
    let mut status = status_label(ind.status).to_string();
    if ind.overdue {
        status.push_str(" (lewat tenggat)");
    }
    s.text(row, col + 2, &status, &f.text)?;
    let (kendala, rtl) = ind
        .note
        .as_ref()
        .map_or(("", ""), |n| (&n.kendala, &n.rencana_tindak_lanjut));
    s.text(row, col + 3, kendala, &f.text)?;
    s.text(row, col + 4, rtl, &f.text)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_are_valid_and_unique() {
        let mut taken = vec!["Ringkasan".to_string()];
        assert_eq!(
            sheet_name("Smart Governance", &mut taken),
            "Smart Governance"
        );
        assert_eq!(
            sheet_name("Smart Governance", &mut taken),
            "Smart Governance (2)"
        );
        assert_eq!(sheet_name("ringkasan", &mut taken), "ringkasan (2)");
        assert_eq!(sheet_name("a/b:c*[d]?", &mut taken), "abcd");
        assert_eq!(sheet_name("''", &mut taken), "Dimensi");
        let long = sheet_name(&"x".repeat(40), &mut taken);
        assert_eq!(long.chars().count(), 31);
        let again = sheet_name(&"x".repeat(40), &mut taken);
        assert!(
            again.ends_with(" (2)") && again.chars().count() == 31,
            "{again}"
        );
    }

    #[test]
    fn footer_text_cannot_inject_codes() {
        assert_eq!(header_footer_text("A & B &P"), "A && B &&P");
        assert_eq!(header_footer_text("=1+1"), "'=1+1");
    }
}
