//! The report as one self-contained HTML document for reading and printing: inline CSS, no
//! script, A4 landscape pages (`@page`) numbered "Halaman N dari M", tables of fixed layout
//! whose cells wrap instead of clipping, header rows repeated on every printed page, rows kept
//! whole across pages, and every text HTML-escaped. Numbers are Indonesian (`1.234,5`).

use super::model::{
    CapaianBasis, EvaluationReport, GroupSummary, IndicatorRow, status_label, tier_label,
};
use super::text::{self, css_string, html};
use crate::config::Locale;
use crate::locale::format_number;
use crate::progress::compliance::Tally;
use std::fmt::Write as _;

/// The document's style; `{FOOTER}` becomes the CSS string of the page footer.
const STYLE: &str = r#"
@page { size: A4 landscape; margin: 12mm;
  @bottom-left { content: "{FOOTER}"; font: 7pt sans-serif; color: #555; }
  @bottom-right { content: "Halaman " counter(page) " dari " counter(pages); font: 7pt sans-serif; color: #555; } }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font: 9pt/1.3 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #111; margin: 0; padding: 12px; }
@media print { body { padding: 0; } }
h1 { font-size: 15pt; margin: 0 0 2px; }
h2 { font-size: 11pt; margin: 14px 0 6px; break-after: avoid; page-break-after: avoid; }
p { margin: 2px 0 6px; }
.city { font-size: 11pt; }
table { width: 100%; table-layout: fixed; border-collapse: collapse; margin: 0 0 6px; }
th, td { border: 0.5pt solid #9aa7b5; padding: 2px 3px; vertical-align: top; text-align: left;
  overflow-wrap: anywhere; word-break: normal; hyphens: auto; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
thead th { background: #dce6f1; font-weight: bold; text-align: center; vertical-align: middle; overflow-wrap: break-word; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.group td { background: #eef2f7; font-weight: bold; }
tr.total td { background: #eef2f7; font-weight: bold; }
table.meta { width: auto; max-width: 100%; }
table.meta th, table.meta td { border: none; padding: 1px 10px 1px 0; }
table.meta th { text-align: left; white-space: nowrap; }
table.summary { font-size: 8pt; }
table.indicators { font-size: 7pt; }
table.indicators thead th { font-size: 6.5pt; }
section.dimension { break-before: page; page-break-before: always; }
.note { font-size: 7.5pt; font-style: italic; color: #333; }
.muted { color: #555; }
.signatures { display: flex; justify-content: flex-end; gap: 10mm; margin-top: 10mm; break-inside: avoid; page-break-inside: avoid; }
.signer { width: 70mm; text-align: center; }
.signer .space { height: 22mm; }
.signer .name { font-weight: bold; text-decoration: underline; }
.place { text-align: right; margin-top: 10mm; }
"#;

/// A value as Indonesian text with at most two decimals (`1.234,5`, `57`), `–` when missing;
/// a break opportunity after each thousands separator so narrow cells wrap between groups.
fn value(x: Option<f64>) -> String {
    match x.filter(|v| v.is_finite()) {
        None => "–".into(),
        Some(v) => {
            let s = format_number(v, 2, Locale::Id);
            let s = if s.contains(',') {
                s.trim_end_matches('0').trim_end_matches(',').to_string()
            } else {
                s
            };
            s.replace('.', ".<wbr>")
        }
    }
}

/// A percentage given in percent: `93,33 %`.
fn percent(x: Option<f64>) -> String {
    match x.filter(|v| v.is_finite()) {
        None => "–".into(),
        Some(v) => format!("{} %", format_number(v, 2, Locale::Id)).replace('.', ".<wbr>"),
    }
}

/// A fraction as a percentage: 0.767 -> `76,70 %`.
fn fraction(x: Option<f64>) -> String {
    percent(x.map(|f| f * 100.0))
}

fn count(n: u32) -> String {
    format_number(f64::from(n), 0, Locale::Id)
}

/// `<colgroup>` with widths in percent.
fn colgroup(widths: &[f64]) -> String {
    let mut s = String::from("<colgroup>");
    for w in widths {
        let _ = write!(s, "<col style=\"width:{w:.2}%\">");
    }
    s.push_str("</colgroup>");
    s
}

fn header(cells: &[(&str, bool)]) -> String {
    let mut s = String::from("<thead><tr>");
    for (h, numeric) in cells {
        let _ = write!(
            s,
            "<th{}>{}</th>",
            if *numeric { " class=\"n\"" } else { "" },
            html(h)
        );
    }
    s.push_str("</tr></thead>");
    s
}

/// The document.
pub fn write(report: &EvaluationReport) -> String {
    let tz = report.tz;
    let footer = format!(
        "Laporan evaluasi · {} · {} · versi rencana {}",
        report.city, report.period.label, report.plan_version
    );
    let mut out = String::with_capacity(64 * 1024);
    let title = format!(
        "Laporan Evaluasi Masterplan Smart City — {} — {}",
        report.city, report.period.label
    );
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"id\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n",
        html(&title),
        STYLE.replace("{FOOTER}", &css_string(&footer))
    );

    // Heading and what the report is.
    let _ = write!(
        out,
        "<header>\n<h1>Laporan Evaluasi Masterplan Smart City</h1>\n<p class=\"city\">{}</p>\n<table class=\"meta\">",
        html(&report.city)
    );
    let mut meta = vec![("Periode", report.period.label.clone())];
    if let Some(d) = &report.department {
        meta.push(("Perangkat daerah", d.name.clone()));
    }
    let basis = match report.period.quarter {
        None => format!(
            "realisasi tahun {y} terhadap target tahun {y} (SAKIP)",
            y = report.period.year
        ),
        Some(q) => format!(
            "realisasi TW {r} terhadap target TW {r}; tanpa target triwulan, terhadap target tahun {} (bertanda *)",
            report.period.year,
            r = text::roman(q)
        ),
    };
    meta.extend([
        ("Dibuat", text::date_time(report.made_at_millis, tz)),
        ("Versi rencana", report.plan_version.clone()),
        ("Status per", text::date_time(report.status_at_millis, tz)),
        ("Dasar capaian", basis),
    ]);
    if report.summary.without_target > 0 {
        meta.push((
            "Tanpa target tahun ini",
            format!(
                "{} indikator (tidak dimuat)",
                count(report.summary.without_target)
            ),
        ));
    }
    for (label, v) in meta {
        let _ = write!(
            out,
            "<tr><th>{}</th><td>{}</td></tr>",
            html(label),
            html(&v)
        );
    }
    out.push_str("</table>\n</header>\n");

    // Summaries.
    let group_widths = [28.0, 8.0, 8.0, 8.0, 10.0, 7.6, 7.6, 7.6, 7.6, 7.6];
    let group_header = |first: &str| {
        header(&[
            (first, false),
            ("Indikator", true),
            ("Dengan capaian", true),
            ("Capaian", true),
            ("Kategori", false),
            ("Sangat tinggi", true),
            ("Tinggi", true),
            ("Sedang", true),
            ("Rendah", true),
            ("Sangat rendah", true),
        ])
    };
    let _ = write!(
        out,
        "<section class=\"summary\">\n<h2>Ringkasan per dimensi</h2>\n<table class=\"summary\" data-table=\"dimensions\">{}{}<tbody>",
        colgroup(&group_widths),
        group_header("Dimensi")
    );
    for g in &report.summary.dimensions {
        out.push_str(&group_row(g, ""));
    }
    out.push_str(&group_row(
        &GroupSummary {
            id: None,
            name: "Seluruh indikator".into(),
            rollup: report.summary.overall.clone(),
        },
        " class=\"total\"",
    ));
    let _ = write!(
        out,
        "</tbody></table>\n<h2>Ringkasan per tingkat (output, outcome, impact)</h2>\n<table class=\"summary\" data-table=\"tiers\">{}{}<tbody>",
        colgroup(&group_widths),
        group_header("Tingkat")
    );
    for g in &report.summary.tiers {
        out.push_str(&group_row(g, ""));
    }
    let _ = write!(
        out,
        "</tbody></table>\n<h2>Ringkasan per perangkat daerah (OPD)</h2>\n<table class=\"summary\" data-table=\"departments\">{}{}<tbody>",
        colgroup(&group_widths),
        group_header("OPD penanggung jawab")
    );
    for g in &report.summary.departments {
        out.push_str(&group_row(g, ""));
    }
    out.push_str("</tbody></table>\n</section>\n");

    // Quick wins.
    let _ = write!(
        out,
        "<section class=\"quick-wins\">\n<h2>Quick wins</h2>\n<table class=\"summary\" data-table=\"quick-wins\">{}{}<tbody>",
        colgroup(&[26.0, 14.0, 16.0, 9.0, 10.0, 8.0, 8.0, 9.0]),
        header(&[
            ("Program", false),
            ("Dimensi", false),
            ("OPD", false),
            ("Tenggat", false),
            ("Status", false),
            ("Progres", true),
            ("Seharusnya", true),
            ("Lewat tenggat", false),
        ])
    );
    if report.quick_wins.is_empty() {
        out.push_str(
            "<tr><td colspan=\"8\" class=\"muted\">Tidak ada program quick win.</td></tr>",
        );
    }
    for q in &report.quick_wins {
        let _ = write!(
            out,
            "<tr data-id=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            html(&q.id),
            html(&q.name),
            html(&q.dimension_name),
            html(&q.department_name),
            html(&text::long_date(q.due)),
            html(status_label(q.status)),
            fraction(q.progress),
            fraction(q.expected),
            if q.overdue { "Ya" } else { "Tidak" }
        );
    }
    out.push_str("</tbody></table>\n</section>\n");

    // Compliance.
    let c = &report.compliance;
    let compliance_widths = [30.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0];
    let compliance_header = |first: &str, second: &str| {
        header(&[
            (first, false),
            (second, false),
            ("Periode wajib lapor", true),
            ("Tepat waktu", true),
            ("Terlambat", true),
            ("Tidak lapor", true),
            ("Belum jatuh tempo", true),
            ("Tepat waktu (%)", true),
        ])
    };
    let _ = write!(
        out,
        "<section class=\"compliance\">\n<h2>Kepatuhan pelaporan OPD ({} – {})</h2>\n<table class=\"summary\" data-table=\"compliance\">{}{}<tbody>",
        html(&text::long_date(c.from)),
        html(&text::long_date(c.to)),
        colgroup(&compliance_widths),
        compliance_header("OPD", "Peringkat")
    );
    for d in &c.departments {
        let _ = write!(
            out,
            "<tr data-id=\"{}\"><td>{}</td><td>{} dari {}</td>{}</tr>",
            html(&d.id),
            html(&d.name),
            d.rank,
            c.ranked_among,
            tally_cells(&d.tally, d.on_time_percent)
        );
    }
    if c.departments.len() > 1 {
        let _ = write!(
            out,
            "<tr class=\"total\"><td>Seluruh OPD</td><td></td>{}</tr>",
            tally_cells(&c.totals, c.on_time_percent)
        );
    }
    out.push_str("</tbody></table>\n");
    for d in c.departments.iter().filter(|d| !d.indicators.is_empty()) {
        let _ = write!(
            out,
            "<h2>Kepatuhan per indikator — {}</h2>\n<table class=\"summary\" data-table=\"compliance-indicators\">{}{}<tbody>",
            html(&d.name),
            colgroup(&compliance_widths),
            compliance_header("Indikator", "Jadwal")
        );
        for i in &d.indicators {
            let _ = write!(
                out,
                "<tr data-id=\"{}\"><td>{}</td><td>{}</td>{}</tr>",
                html(&i.id),
                html(&i.name),
                html(&i.update_every),
                tally_cells(&i.tally, i.on_time_percent)
            );
        }
        out.push_str("</tbody></table>\n");
    }
    out.push_str("</section>\n");

    // One section per dimension.
    for dim in &report.dimensions {
        dimension_section(&mut out, report, dim);
    }

    // Signatures.
    let sig = &report.signatures;
    let date = text::long_date(sig.date);
    let line = match &sig.place {
        Some(p) => format!("{p}, {date}"),
        None => date,
    };
    let _ = write!(
        out,
        "<section class=\"signature-block\">\n<p class=\"place\">{}</p>\n<div class=\"signatures\">",
        html(&line)
    );
    for s in &sig.signers {
        let _ = write!(
            out,
            "<div class=\"signer\"><div>{}</div><div class=\"space\"></div><div class=\"name\">{}</div>{}</div>",
            html(&s.jabatan),
            html(&s.nama),
            s.nip
                .as_ref()
                .map(|n| format!("<div>NIP. {}</div>", html(n)))
                .unwrap_or_default()
        );
    }
    out.push_str("</div>\n</section>\n</body>\n</html>\n");
    out
}

/// A department as the indicator tables name it: its id in capitals (DINKES, DPMPTSP), as the
/// dashboards do; the compliance table gives the full names.
fn short_department(id: &str) -> String {
    id.to_uppercase()
}

fn group_row(g: &GroupSummary, class: &str) -> String {
    let r = &g.rollup;
    let c = &r.categories;
    format!(
        "<tr{class}{}><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
        g.id.as_ref()
            .map(|id| format!(" data-id=\"{}\"", html(id)))
            .unwrap_or_default(),
        html(&g.name),
        count(r.indicators),
        count(r.with_capaian),
        percent(r.capaian),
        html(r.category.map_or("–", |c| c.label())),
        count(c.sangat_tinggi),
        count(c.tinggi),
        count(c.sedang),
        count(c.rendah),
        count(c.sangat_rendah),
    )
}

fn tally_cells(t: &Tally, on_time: Option<f64>) -> String {
    format!(
        "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
        count(t.expected),
        count(t.on_time),
        count(t.late),
        count(t.missing),
        count(t.pending),
        percent(on_time)
    )
}

fn dimension_section(
    out: &mut String,
    report: &EvaluationReport,
    dim: &super::model::DimensionSection,
) {
    let y = report.period.year;
    let quarter = report.period.quarter;
    let last = quarter.unwrap_or(4);
    let rollup = match (dim.rollup.capaian, dim.rollup.category) {
        (Some(c), Some(cat)) => format!(
            "Capaian dimensi {} ({})",
            percent(Some(c)),
            html(cat.label())
        ),
        _ => "Capaian dimensi belum dapat dihitung".into(),
    };
    let _ = write!(
        out,
        "<section class=\"dimension\" data-id=\"{}\">\n<h2>Dimensi {} — {}</h2>\n<p>{}</p>\n",
        html(&dim.id),
        html(&dim.name),
        html(&report.period.label),
        rollup
    );
    // Columns: the fixed ones, the figures (realisasi grouped under one heading), then what
    // the OPD says. (label, numeric, width %, under "Realisasi")
    let mut cols: Vec<(String, bool, f64, bool)> = vec![
        ("No".into(), true, 2.5, false),
        ("Kode".into(), false, 4.0, false),
        ("Program / Indikator".into(), false, 12.5, false),
        ("Satuan".into(), false, 4.5, false),
        ("OPD".into(), false, 6.5, false),
        ("Tingkat".into(), false, 5.0, false),
        ("Baseline".into(), true, 5.0, false),
        (format!("Target {y}"), true, 5.0, false),
    ];
    if let Some(q) = quarter {
        cols.push((format!("Target TW {}", text::roman(q)), true, 5.0, false));
    }
    for q in 1..=last {
        cols.push((format!("TW {}", text::roman(q)), true, 4.8, true));
    }
    let capaian = match quarter {
        None => {
            cols.push((format!("Tahun {y}"), true, 4.8, true));
            "Capaian".to_string()
        }
        Some(q) => format!("Capaian TW {}", text::roman(q)),
    };
    cols.push((capaian, true, 5.5, false));
    cols.push(("Kategori".into(), false, 5.5, false));
    cols.push(("Status".into(), false, 5.5, false));
    // What is left goes to the notes, split evenly.
    let used: f64 = cols.iter().map(|c| c.2).sum();
    let notes = ((100.0 - used) / 2.0).max(5.0);
    cols.push(("Kendala".into(), false, notes, false));
    cols.push(("Rencana tindak lanjut".into(), false, notes, false));
    let widths: Vec<f64> = cols.iter().map(|c| c.2).collect();
    let realisasi = cols.iter().filter(|c| c.3).count();
    let mut head = String::from("<thead><tr>");
    let mut grouped = false;
    for (label, numeric, _, under) in &cols {
        if *under {
            if !grouped {
                let _ = write!(head, "<th colspan=\"{realisasi}\">Realisasi</th>");
                grouped = true;
            }
            continue;
        }
        let _ = write!(
            head,
            "<th rowspan=\"2\"{}>{}</th>",
            if *numeric { " class=\"n\"" } else { "" },
            html(label)
        );
    }
    head.push_str("</tr><tr>");
    for (label, ..) in cols.iter().filter(|c| c.3) {
        let _ = write!(head, "<th class=\"n\">{}</th>", html(label));
    }
    head.push_str("</tr></thead>");
    let _ = write!(
        out,
        "<table class=\"indicators\">{}{head}<tbody>",
        colgroup(&widths),
    );
    let width = cols.len();
    let mut number = 0u32;
    let mut marked = false;
    for prog in &dim.programs {
        let mut name = format!("Program: {}", prog.name);
        if prog.quick_win {
            name.push_str(" (quick win)");
        }
        // Program line: its name and OPD over the descriptive columns, its capaian in the
        // capaian column.
        let _ = write!(
            out,
            "<tr class=\"group\" data-program=\"{}\"><td></td><td></td><td colspan=\"4\">{} · {}</td><td colspan=\"{}\"></td><td class=\"n\">{}</td><td>{}</td><td colspan=\"3\"></td></tr>",
            html(&prog.id),
            html(&name),
            html(&short_department(&prog.department)),
            width - 11,
            percent(prog.rollup.capaian),
            html(prog.rollup.category.map_or("–", |c| c.label())),
        );
        for ind in &prog.indicators {
            number += 1;
            marked |=
                ind.capaian_basis == CapaianBasis::YearTargetForQuarter && ind.capaian.is_some();
            indicator_row(out, number, ind, quarter);
        }
    }
    out.push_str("</tbody></table>\n");
    if marked {
        let _ = writeln!(
            out,
            "<p class=\"note\">* Rencana tidak memuat target triwulan ini: capaian dibandingkan dengan target tahun {y}.</p>"
        );
    }
    let _ = write!(
        out,
        "<p class=\"note\">Status per {} menurut data yang tercatat hingga saat itu.</p>\n</section>\n",
        html(&text::date_time(report.status_at_millis, report.tz))
    );
}

fn indicator_row(out: &mut String, number: u32, ind: &IndicatorRow, quarter: Option<u8>) {
    let _ = write!(
        out,
        "<tr data-id=\"{}\"><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
        html(&ind.id),
        number,
        html(ind.code.as_deref().unwrap_or("")),
        html(&ind.name),
        html(&ind.unit),
        html(&short_department(&ind.department)),
        html(ind.tier.map_or("–", |t| tier_label(Some(t)))),
        value(Some(ind.baseline)),
        value(ind.target),
    );
    if quarter.is_some() {
        let _ = write!(out, "<td class=\"n\">{}</td>", value(ind.quarter_target));
    }
    for q in &ind.quarters {
        let _ = write!(out, "<td class=\"n\">{}</td>", value(q.realisasi));
    }
    if quarter.is_none() {
        let _ = write!(out, "<td class=\"n\">{}</td>", value(ind.realisasi));
    }
    let mark = if ind.capaian_basis == CapaianBasis::YearTargetForQuarter && ind.capaian.is_some() {
        "*"
    } else {
        ""
    };
    let mut status = status_label(ind.status).to_string();
    if ind.overdue {
        status.push_str(" (lewat tenggat)");
    }
    let (kendala, rtl) = ind.note.as_ref().map_or(("", ""), |n| {
        (n.kendala.as_str(), n.rencana_tindak_lanjut.as_str())
    });
    let _ = write!(
        out,
        "<td class=\"n\" data-col=\"capaian\">{}{mark}</td><td>{}</td><td data-status=\"{}\">{}</td><td data-col=\"kendala\">{}</td><td data-col=\"rtl\">{}</td></tr>",
        percent(ind.capaian),
        html(ind.category.map_or("–", |c| c.label())),
        ind.status.as_str(),
        html(&status),
        html(kendala).replace('\n', "<br>"),
        html(rtl).replace('\n', "<br>"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_indonesian() {
        assert_eq!(value(Some(1400.0)), "1.<wbr>400");
        assert_eq!(value(Some(87.5)), "87,5");
        assert_eq!(value(Some(57.0)), "57");
        assert_eq!(value(Some(1234567.891)), "1.<wbr>234.<wbr>567,89");
        assert_eq!(value(None), "–");
        assert_eq!(percent(Some(93.333333)), "93,33 %");
        assert_eq!(fraction(Some(0.767)), "76,70 %");
    }
}
