//! Bringing a city's plan in: `pantau init` then `check` then `run` as a new user would; the
//! plan template; imports of real-looking matrices (other column orders, merged group cells, a
//! quarterly sheet, Indonesian numbers) compared field by field with the plan they were made
//! from; broken workbooks with every problem listed by cell; a hostile workbook refused; and
//! import after export giving the same plan (a property test).

mod common;

use chrono::Datelike;
use common::{Daemon, pantau_output};
use pantau::domain::{Direction, Horizon, Kind, Masterplan, Tier};
use pantau::planfile::{self, template};
use proptest::prelude::*;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet};

fn d(y: i32, m: u32, dd: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(y, m, dd).unwrap()
}

fn out(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Writes a row of texts, numbers (`#1.5`) or blanks (``) from column 0.
fn row(sheet: &mut Worksheet, r: u32, cells: &[&str]) {
    for (c, text) in cells.iter().enumerate() {
        if text.is_empty() {
            continue;
        }
        match text.strip_prefix('#') {
            Some(n) => sheet.write_number(r, c as u16, n.parse::<f64>().unwrap()),
            None => sheet.write_string(r, c as u16, *text),
        }
        .unwrap();
    }
}

#[test]
fn init_then_check_then_run_as_a_new_user_would() {
    let dir = tempfile::tempdir().unwrap();
    let city = dir.path().join("kota-batu");
    let city_s = city.to_str().unwrap();
    let o = pantau_output(&["init", city_s, "--city", "Kota Batu"]);
    assert!(o.status.success(), "{}", out(&o));
    for f in ["pantau.toml", "masterplan.toml", "screens.toml"] {
        let text = std::fs::read_to_string(city.join(f)).unwrap();
        assert!(text.starts_with('#'), "{f} is commented");
    }
    let plan = std::fs::read_to_string(city.join("masterplan.toml")).unwrap();
    for (id, element) in [
        ("governance", "Pelayanan Publik"),
        ("branding", "Wajah Kota"),
        ("economy", "Ekosistem Transaksi Keuangan"),
        ("living", "Harmonisasi Tata Ruang Wilayah"),
        ("society", "Ekosistem Belajar"),
        ("environment", "Pengelolaan Sampah"),
    ] {
        assert!(plan.contains(&format!("id = \"{id}\"")), "{id}");
        assert!(plan.contains(element), "{element}");
    }
    let o = pantau_output(&["check", "--config", city_s]);
    assert!(o.status.success(), "{}", out(&o));
    assert!(out(&o).contains("6 dimensions, 1 program ("), "{}", out(&o));

    // A second init refuses and names the file; nothing changes.
    std::fs::write(city.join("masterplan.toml"), "# mine\n").unwrap();
    let o = pantau_output(&["init", city_s, "--city", "Kota Lain"]);
    assert!(!o.status.success());
    assert!(
        out(&o).contains("pantau.toml already exists"),
        "{}",
        out(&o)
    );
    assert_eq!(
        std::fs::read_to_string(city.join("masterplan.toml")).unwrap(),
        "# mine\n"
    );
    std::fs::write(city.join("masterplan.toml"), plan).unwrap();
    // Only screens.toml missing... still refuses for the others, naming one.
    let other = dir.path().join("half");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("screens.toml"), "x").unwrap();
    let o = pantau_output(&["init", other.to_str().unwrap(), "--city", "Kota Batu"]);
    assert!(
        out(&o).contains("screens.toml already exists"),
        "{}",
        out(&o)
    );
    assert!(!other.join("pantau.toml").exists());

    let o = pantau_output(&[
        "init",
        dir.path().join("mars").to_str().unwrap(),
        "--city",
        "Kota Mars",
        "--zone",
        "Mars/Olympus",
    ]);
    assert!(!o.status.success());
    assert!(
        out(&o).contains("--zone `Mars/Olympus` is not an IANA time zone"),
        "{}",
        out(&o)
    );
    assert!(!dir.path().join("mars").exists());

    // The daemon serves the new city on port 0.
    let db = dir.path().join("batu.db");
    let (daemon, rt) = serve_city(&city, &db);
    rt.block_on(async {
        let client = common::english_client();
        let body = get_json(&client, &format!("{}/api/v1/masterplan", daemon.base())).await;
        assert_eq!(
            body["dimensions"].as_array().map(Vec::len),
            Some(6),
            "{body}"
        );
        let detail = get_json(
            &client,
            &format!("{}/api/v1/indicators/governance.spbe.index", daemon.base()),
        )
        .await;
        assert_eq!(detail["indicator"]["code"], "IKU-1.1", "{detail}");
        assert_eq!(detail["indicator"]["pic"]["jabatan"], "Kepala Bidang");
        assert_eq!(detail["indicator"]["source"], "Evaluasi SPBE KemenPAN-RB");
        let wall = client
            .get(format!("{}/", daemon.base()))
            .send()
            .await
            .unwrap();
        assert_eq!(wall.status(), 200);
    });
    daemon.kill();
}

/// The real daemon serving the config folder `city` on port 0 with the database `db`, once it
/// answers `/healthz`, and a runtime to talk to it from the test.
fn serve_city(city: &std::path::Path, db: &std::path::Path) -> (Daemon, tokio::runtime::Runtime) {
    let daemon = Daemon::start_with(
        city,
        &["--listen", "127.0.0.1:0", "--db", db.to_str().unwrap()],
        &[],
    );
    assert_eq!(daemon.healthz(), Some(200), "{}", daemon.log());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    (daemon, rt)
}

/// `GET url` read as JSON.
async fn get_json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

#[test]
fn the_template_is_a_workbook_to_fill_in_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rencana.xlsx");
    let o = pantau_output(&["plan", "template", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", out(&o));
    let bytes = std::fs::read(&file).unwrap();
    let mut book = pantau::values::workbook::open(&bytes, &Default::default()).unwrap();
    assert_eq!(
        book.sheet_names(),
        ["Petunjuk", "OPD", "Dimensi", "Program", "Indikator"]
    );
    let mut headers = Vec::new();
    book.cells(
        "Indikator",
        |r, _, v| -> Result<(), pantau::values::workbook::WorkbookError> {
            if r == 0 {
                if let calamine::DataRef::SharedString(t) = v {
                    headers.push(t.to_string());
                }
            }
            Ok(())
        },
    )
    .unwrap();
    for h in [
        "Kode",
        "Nama Indikator",
        "Satuan",
        "OPD",
        "Program",
        "Arah",
        "Jenis",
        "Tingkat",
        "Baseline",
        "Tahun Baseline",
        "Quick Win",
        "PIC Nama",
        "PIC Jabatan",
        "Sumber Data",
        "Target 2025",
        "Target 2026",
        "Target 2029",
    ] {
        assert!(headers.iter().any(|x| x == h), "{h} in {headers:?}");
    }
    // Notes, frozen headers and lists are in the sheet's XML.
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).unwrap();
    let mut xml = String::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        if f.name().unwrap().starts_with("xl/worksheets/sheet5") {
            std::io::Read::read_to_string(&mut f, &mut xml).unwrap();
        }
    }
    assert!(xml.contains("state=\"frozen\""), "frozen header");
    assert!(
        xml.contains("naik,turun,tetap,minimal,maksimal"),
        "direction list"
    );
    assert!(xml.contains("OPD!$A$2"), "OPD list");
    assert!(
        xml.contains("\"level,kumulatif,kumulatif tahunan\""),
        "kind list"
    );
    assert!(xml.contains("\"output,outcome,impact\""), "tier list");
    assert!(xml.contains("Program!$A$2"), "program list");
    assert!(xml.contains("legacyDrawing"), "header notes");
    // The Program sheet lists the dimensions' ids from the Dimensi sheet.
    let mut program_xml = String::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        if f.name().unwrap() == "xl/worksheets/sheet4.xml" {
            std::io::Read::read_to_string(&mut f, &mut program_xml).unwrap();
        }
    }
    assert!(program_xml.contains("Dimensi!$A$2"), "dimension list");
    assert!(program_xml.contains("\"Ya,Tidak\""), "quick win list");
    // Petunjuk says how to fill each sheet, in Bahasa Indonesia, and holds the revision note.
    let mut guide: Vec<(u32, u32, String)> = Vec::new();
    book.cells(
        "Petunjuk",
        |r, c, v| -> Result<(), pantau::values::workbook::WorkbookError> {
            if let calamine::DataRef::SharedString(t) = v {
                guide.push((r, c, t.to_string()));
            }
            Ok(())
        },
    )
    .unwrap();
    let lines: Vec<&str> = guide.iter().map(|(_, _, t)| t.as_str()).collect();
    for needle in [
        "Petunjuk pengisian rencana (masterplan) Smart City untuk pantau",
        "1. Sheet OPD: satu baris per perangkat daerah.",
        "2. Sheet Dimensi: enam dimensi Smart City",
        "4. Sheet Indikator: satu baris per indikator",
        "Tulis - pada sel target bila indikator tidak punya target",
        "Angka ditulis seperti biasa: 1.234,5 atau 95%",
        "Isi sel di kanan Catatan revisi (B3)",
        "pantau plan import rencana.xlsx --out masterplan.toml",
    ] {
        assert!(
            lines.iter().any(|l| l.contains(needle)),
            "{needle:?} in {lines:?}"
        );
    }
    assert!(
        guide.contains(&(2, 0, "Catatan revisi".to_string())),
        "{guide:?}"
    );
    assert!(
        guide.contains(&(2, 1, "Rancangan awal".to_string())),
        "{guide:?}"
    );
    // The template imports as it is (its examples), and a second template is refused.
    let plan_out = dir.path().join("masterplan.toml");
    let o = pantau_output(&[
        "plan",
        "import",
        file.to_str().unwrap(),
        "--out",
        plan_out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", out(&o));
    let read = pantau::config::Config::load(Some(&{
        let dir = dir.path().join("cfg");
        std::fs::create_dir(&dir).unwrap();
        common::write_config(&dir, &std::fs::read_to_string(&plan_out).unwrap(), "")
    }))
    .unwrap();
    assert_eq!(
        read.masterplan.revision_note.as_deref(),
        Some("Rancangan awal")
    );
    assert_eq!(read.masterplan.dimensions.len(), 6);
    let o = pantau_output(&["plan", "template", file.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(out(&o).contains("already exists"), "{}", out(&o));
    // Import refuses to overwrite without --force.
    let o = pantau_output(&[
        "plan",
        "import",
        file.to_str().unwrap(),
        "--out",
        plan_out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(out(&o).contains("--force"), "{}", out(&o));
    let o = pantau_output(&[
        "plan",
        "import",
        file.to_str().unwrap(),
        "--out",
        plan_out.to_str().unwrap(),
        "--force",
    ]);
    assert!(o.status.success(), "{}", out(&o));
}

/// A city's own matrix: one sheet named otherwise, a title above the header, other column
/// names in another order, dimension and program cells merged over their rows, "Target" merged
/// above the year columns, Indonesian numbers as text, no Arah column, no OPD, Dimensi or
/// Program sheets.
fn matrix_workbook() -> Vec<u8> {
    let mut book = Workbook::new();
    let s = book.add_worksheet();
    s.set_name("Matriks RAD 2025-2027").unwrap();
    let f = Format::new();
    s.write_string(0, 0, "MATRIKS RENCANA AKSI SMART CITY KOTA BATU")
        .unwrap();
    // Header rows 3 and 4 (0-based 2 and 3).
    row(
        s,
        2,
        &[
            "No",
            "DIMENSI",
            "Program",
            "Indikator Kinerja",
            "Perangkat Daerah",
            "Satuan",
            "Kondisi Awal (2024)",
            "",
            "",
            "",
            "Sumber Data",
        ],
    );
    s.merge_range(2, 7, 2, 9, "Target", &f).unwrap();
    row(s, 3, &["", "", "", "", "", "", "", "2025", "2026", "2027"]);
    // Data rows 5.. (0-based 4..).
    row(
        s,
        4,
        &[
            "#1",
            "",
            "",
            "Persentase layanan perizinan daring",
            "DPMPTSP",
            "persen",
            "42,5",
            "60%",
            "#75",
            "90 %",
            "SiCantik",
        ],
    );
    row(
        s,
        5,
        &[
            "#2",
            "",
            "",
            "Rata-rata waktu penerbitan izin",
            "DPMPTSP",
            "hari",
            "#14",
            "#10",
            "7,5",
            "#5",
            "",
        ],
    );
    row(
        s,
        6,
        &[
            "#3",
            "",
            "",
            "Jumlah titik Wi-Fi publik",
            "Diskominfo",
            "titik",
            "#120",
            "1.250",
            "1.500",
            "2.000",
            "",
        ],
    );
    row(
        s,
        7,
        &[
            "#4",
            "",
            "",
            "Prevalensi stunting",
            "Dinas Kesehatan",
            "persen",
            "18,4",
            "#16",
            "14,25",
            "#12",
            "e-PPGBM",
        ],
    );
    // Dimension merged over rows 5-7, program over 5-6; a single-row program at 7; the last
    // row is another dimension with its own (unmerged) cells.
    s.merge_range(4, 1, 6, 1, "Smart Governance", &f).unwrap();
    s.merge_range(4, 2, 5, 2, "Mal Pelayanan Publik", &f)
        .unwrap();
    s.write_string(6, 2, "Kota Terhubung").unwrap();
    s.write_string(7, 1, "Smart Living").unwrap();
    s.write_string(7, 2, "Kesehatan Ibu dan Anak").unwrap();
    book.save_to_buffer().unwrap()
}

#[test]
fn a_citys_own_matrix_with_merged_groups_is_read_field_by_field() {
    let imported =
        planfile::import(&matrix_workbook(), "matriks.xlsx").unwrap_or_else(|e| panic!("{e}"));
    let p = &imported.plan;
    let ids: Vec<&str> = p.departments.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["dpmptsp", "diskominfo", "dinas-kesehatan"]);
    assert_eq!(p.departments[2].name, "Dinas Kesehatan");
    // The two dimensions the rows name, and the other four of the guide as `pantau init`
    // writes them.
    let dims: Vec<&str> = p.dimensions.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        dims,
        [
            "governance",
            "branding",
            "economy",
            "living",
            "society",
            "environment"
        ]
    );
    let init = planfile::init::example_plan("Kota Batu").unwrap();
    for (made, written) in p.dimensions.iter().zip(&init.dimensions) {
        assert_eq!(format!("{made:?}"), format!("{written:?}"));
    }
    assert_eq!(p.dimensions[0].name, "Smart Governance");
    assert!(p.dimensions[3].elements.iter().any(|e| e == "Kesehatan"));
    let programs: Vec<(&str, &str, &str, &str)> = p
        .programs
        .iter()
        .map(|g| {
            (
                g.id.as_str(),
                g.dimension.as_str(),
                g.name.as_str(),
                g.department.as_str(),
            )
        })
        .collect();
    assert_eq!(
        programs,
        [
            (
                "governance.mal-pelayanan-publik",
                "governance",
                "Mal Pelayanan Publik",
                "dpmptsp"
            ),
            (
                "governance.kota-terhubung",
                "governance",
                "Kota Terhubung",
                "diskominfo"
            ),
            (
                "living.kesehatan-ibu-dan-anak",
                "living",
                "Kesehatan Ibu dan Anak",
                "dinas-kesehatan"
            ),
        ]
    );
    let g = &p.programs[0];
    assert_eq!((g.start, g.due), (d(2025, 1, 1), d(2027, 12, 31)));
    assert_eq!(g.horizon, Horizon::Medium);
    assert!(!g.quick_win);
    assert_eq!(p.indicators.len(), 4);
    let online = &p.indicators[0];
    assert_eq!(online.program.as_str(), "governance.mal-pelayanan-publik");
    assert_eq!(online.name, "Persentase layanan perizinan daring");
    assert_eq!(online.unit, "persen");
    assert_eq!(online.department.as_str(), "dpmptsp");
    assert_eq!(online.direction, Direction::Increase);
    assert_eq!(online.kind, Kind::Level);
    assert_eq!(online.source.as_deref(), Some("SiCantik"));
    assert_eq!(
        (online.baseline.date, online.baseline.value),
        (d(2024, 12, 31), 42.5)
    );
    let targets: Vec<(chrono::NaiveDate, f64)> =
        online.targets.iter().map(|t| (t.date, t.value)).collect();
    assert_eq!(
        targets,
        [
            (d(2025, 12, 31), 60.0),
            (d(2026, 12, 31), 75.0),
            (d(2027, 12, 31), 90.0)
        ]
    );
    let days = &p.indicators[1];
    assert_eq!(days.direction, Direction::Decrease);
    assert_eq!(days.targets[1].value, 7.5);
    assert_eq!(days.program, online.program);
    let wifi = &p.indicators[2];
    assert_eq!(wifi.department.as_str(), "diskominfo");
    assert_eq!(
        wifi.targets.iter().map(|t| t.value).collect::<Vec<_>>(),
        [1250.0, 1500.0, 2000.0]
    );
    let stunting = &p.indicators[3];
    assert_eq!(stunting.targets[1].value, 14.25);
    assert_eq!(stunting.program.as_str(), "living.kesehatan-ibu-dan-anak");
    // The file names the rows it came from and passes `pantau check`.
    assert!(
        imported.toml.contains("# Matriks RAD 2025-2027 row 5"),
        "{}",
        imported.toml
    );
    let dir = tempfile::tempdir().unwrap();
    let settings = common::write_config(dir.path(), &imported.toml, "");
    let o = pantau_output(&["check", "--config", settings.to_str().unwrap()]);
    assert!(o.status.success(), "{}", out(&o));
}

/// A quarterly sheet with its own OPD sheet: headers in capitals and another order, values
/// repeated in every row (no merges), TW I..IV 2025 and a yearly 2026 column, baseline dates as
/// text and as date cells, a year-to-date total.
fn quarterly_workbook() -> Vec<u8> {
    let mut book = Workbook::new();
    let opd = book.add_worksheet();
    opd.set_name("OPD").unwrap();
    row(opd, 0, &["Nama OPD", "ID OPD", "Email"]);
    row(
        opd,
        1,
        &["Badan Pendapatan Daerah", "bapenda", "pad@batukota.go.id"],
    );
    row(opd, 2, &["Dinas Lingkungan Hidup", "dlh", ""]);
    let s = book.add_worksheet();
    s.set_name("Indikator").unwrap();
    row(
        s,
        0,
        &[
            "TW I 2025",
            "TW II 2025",
            "TW III 2025",
            "TW IV 2025",
            "Target 2026",
            "NAMA INDIKATOR",
            "SATUAN",
            "DIMENSI",
            "PROGRAM",
            "OPD",
            "ARAH",
            "JENIS",
            "BASELINE",
            "TAHUN BASELINE",
            "KODE",
            "TINGKAT",
            "PIC NAMA",
            "PIC JABATAN",
            "QUICK WIN",
            "PEMBARUAN",
        ],
    );
    row(
        s,
        1,
        &[
            "#60",
            "#125",
            "#190",
            "#260",
            "#280",
            "Realisasi PAD",
            "Rp miliar",
            "Smart Economy",
            "Optimalisasi Pajak Daerah",
            "Badan Pendapatan Daerah",
            "naik",
            "kumulatif tahunan",
            "231,5",
            "2024",
            "IKU-3.1",
            "outcome",
            "Hadi Santoso",
            "Kabid Pendapatan",
            "Ya",
            "bulanan",
        ],
    );
    row(
        s,
        2,
        &[
            "-",
            "-",
            "-",
            "#30",
            "#35",
            "Sampah terpilah",
            "persen",
            "Smart Environment",
            "Pengelolaan Sampah Terpadu",
            "dlh",
            "Meningkat",
            "",
            "#22",
            "",
            "",
            "output",
            "",
            "",
            "",
            "",
        ],
    );
    let day = Format::new().set_num_format("dd/mm/yyyy");
    s.write_datetime_with_format(2, 13, ExcelDateTime::from_ymd(2024, 6, 30).unwrap(), &day)
        .unwrap();
    row(
        s,
        3,
        &[
            "#50",
            "#50",
            "#50",
            "#50",
            "#50",
            "ISPU rata-rata",
            "indeks",
            "Smart Environment",
            "Pengelolaan Sampah Terpadu",
            "DLH",
            "maksimal",
            "level",
            "#61",
            "31/12/2024",
            "",
            "",
            "",
            "",
            "Tidak",
            "mingguan",
        ],
    );
    book.save_to_buffer().unwrap()
}

#[test]
fn a_quarterly_sheet_with_an_opd_sheet_is_read_field_by_field() {
    let imported =
        planfile::import(&quarterly_workbook(), "triwulan.xlsx").unwrap_or_else(|e| panic!("{e}"));
    let p = &imported.plan;
    assert_eq!(p.departments.len(), 2);
    assert_eq!(p.departments[0].emails, ["pad@batukota.go.id"]);
    let pad = &p.indicators[0];
    assert_eq!(pad.name, "Realisasi PAD");
    assert_eq!(pad.code.as_deref(), Some("IKU-3.1"));
    assert_eq!(pad.tier, Some(Tier::Outcome));
    assert_eq!(
        pad.pic
            .as_ref()
            .map(|p| (p.nama.as_str(), p.jabatan.as_str())),
        Some(("Hadi Santoso", "Kabid Pendapatan"))
    );
    assert_eq!(pad.kind, Kind::CumulativeYearly);
    assert_eq!(pad.department.as_str(), "bapenda");
    assert_eq!(pad.update_every.to_string(), "1mo");
    assert_eq!(
        (pad.baseline.date, pad.baseline.value),
        (d(2024, 12, 31), 231.5)
    );
    let targets: Vec<(chrono::NaiveDate, f64)> =
        pad.targets.iter().map(|t| (t.date, t.value)).collect();
    assert_eq!(
        targets,
        [
            (d(2025, 3, 31), 60.0),
            (d(2025, 6, 30), 125.0),
            (d(2025, 9, 30), 190.0),
            (d(2025, 12, 31), 260.0),
            (d(2026, 12, 31), 280.0)
        ]
    );
    let program = p.program(pad.program.as_str()).unwrap();
    assert!(program.quick_win);
    assert_eq!(program.horizon, Horizon::QuickWin);
    assert_eq!(program.dimension.as_str(), "economy");
    let sorted = &p.indicators[1];
    assert_eq!(sorted.baseline.date, d(2024, 6, 30));
    assert_eq!(
        sorted.targets.iter().map(|t| t.date).collect::<Vec<_>>(),
        [d(2025, 12, 31), d(2026, 12, 31)]
    );
    assert_eq!(sorted.direction, Direction::Increase);
    assert_eq!(sorted.update_every.to_string(), "3mo");
    let ispu = &p.indicators[2];
    assert_eq!(ispu.direction, Direction::AtMost);
    assert_eq!(ispu.baseline.date, d(2024, 12, 31));
    assert_eq!(ispu.update_every.to_string(), "1w");
    assert_eq!(ispu.program, sorted.program);
    assert_eq!(p.programs.len(), 2);
}

#[test]
fn a_broken_workbook_lists_every_problem_with_its_cell_and_writes_nothing() {
    let mut book = Workbook::new();
    let s = book.add_worksheet();
    s.set_name("Indikator").unwrap();
    row(
        s,
        0,
        &[
            "Dimensi",
            "Program",
            "Nama Indikator",
            "Satuan",
            "OPD",
            "Arah",
            "Baseline",
            "Target 2025",
            "Target 2026",
            "Warna",
        ],
    );
    // Row 2: a bad number in the baseline; row 3: a blank dimension below a filled one (not
    // merged), an unknown direction and a missing 2026 target; row 4: a dimension that is not
    // one, a target that is not a number; row 5: final target equal to the baseline.
    row(
        s,
        1,
        &[
            "Smart Living",
            "Kesehatan",
            "Stunting",
            "persen",
            "Dinkes",
            "turun",
            "12.5.3",
            "#10",
            "#8",
            "",
        ],
    );
    row(
        s,
        2,
        &[
            "",
            "Kesehatan",
            "Imunisasi",
            "persen",
            "Dinkes",
            "ke atas",
            "#80",
            "#90",
            "",
            "",
        ],
    );
    row(
        s,
        3,
        &[
            "Smart Happiness",
            "Bahagia",
            "Indeks bahagia",
            "indeks",
            "Dinsos",
            "naik",
            "#1",
            "satu",
            "#3",
            "",
        ],
    );
    row(
        s,
        4,
        &[
            "Smart Living",
            "Kesehatan",
            "Puskesmas",
            "unit",
            "Dinkes",
            "naik",
            "#5",
            "#6",
            "#5",
            "",
        ],
    );
    let bytes = book.save_to_buffer().unwrap();
    let e = planfile::import(&bytes, "rusak.xlsx").unwrap_err();
    let text = e.to_string();
    for needle in [
        "Indikator!J1: the header `Warna` is not one pantau knows; found headers: Dimensi, Program, Nama Indikator",
        "Indikator!G2: Baseline `12.5.3` is not a number",
        "Indikator!A3: Dimensi is empty below `Smart Living` (row 2) and the cells are not merged",
        "Indikator!F3: Arah `ke atas` is not one pantau knows; write one of: naik, turun",
        "Indikator!I3: Target 2026 has no target value; write the target, or - when",
        "Indikator!A4: Dimensi `Smart Happiness` is not a Smart City dimension",
        "Indikator!H4: the target `satu` is not a number",
        "Indikator!I5: indicator ",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    assert!(text.contains("expected headers: Kode"), "{text}");
    assert!(text.contains("nothing was written"), "{text}");

    // Through the command: exit 2, and the masterplan is not written.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rusak.xlsx");
    std::fs::write(&file, &bytes).unwrap();
    let plan = dir.path().join("masterplan.toml");
    let o = pantau_output(&[
        "plan",
        "import",
        file.to_str().unwrap(),
        "--out",
        plan.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(out(&o).contains("Indikator!G2"), "{}", out(&o));
    assert!(!plan.exists());
}

#[test]
fn a_template_with_mistakes_in_every_sheet_names_each_cell() {
    // Mistakes the export cannot make (an OPD id that is no id, unknown references): the
    // template's sheets written by hand.
    let mut book = Workbook::new();
    let opd = book.add_worksheet();
    opd.set_name("OPD").unwrap();
    row(opd, 0, &["ID OPD", "Nama OPD"]);
    row(opd, 1, &["diskominfo", "Dinas Kominfo"]);
    row(opd, 2, &["Dinas Kesehatan", "Dinas Kesehatan"]);
    let prog = book.add_worksheet();
    prog.set_name("Program").unwrap();
    row(
        prog,
        0,
        &[
            "ID Program",
            "Dimensi",
            "Nama Program",
            "OPD",
            "Horizon",
            "Mulai",
            "Selesai",
        ],
    );
    row(
        prog,
        1,
        &[
            "governance.spbe",
            "governance",
            "SPBE",
            "diskominfo",
            "menengah",
            "2025",
            "2026",
        ],
    );
    row(
        prog,
        2,
        &[
            "living.health",
            "living",
            "Kesehatan",
            "dinkes",
            "sebentar",
            "2025",
            "kemarin",
        ],
    );
    let ind = book.add_worksheet();
    ind.set_name("Indikator").unwrap();
    row(
        ind,
        0,
        &[
            "Nama Indikator",
            "Satuan",
            "Program",
            "Arah",
            "Baseline",
            "Target 2025",
            "Target 2026",
            "PIC Nama",
            "PIC Jabatan",
        ],
    );
    row(
        ind,
        1,
        &[
            "Indeks SPBE",
            "indeks",
            "governance.spbe",
            "naik",
            "2,5",
            "#3",
            "3,5",
            "Ani",
            "",
        ],
    );
    row(
        ind,
        2,
        &[
            "Layanan daring",
            "layanan",
            "gov.unknown",
            "naik",
            "#0",
            "#10",
            "#20",
            "",
            "",
        ],
    );
    let bytes = book.save_to_buffer().unwrap();
    let text = planfile::import(&bytes, "rencana.xlsx")
        .unwrap_err()
        .to_string();
    for needle in [
        // The OPD id is not an id: validation's own message, at the cell.
        "OPD!A3: department Dinas Kesehatan `id` the id `Dinas Kesehatan` may only contain lowercase letters",
        "Program!D3: OPD `dinkes` is not in the OPD sheet; add it there or use one of: diskominfo",
        "Program!E3: Horizon `sebentar` is not a horizon",
        "Program!G3: Selesai `kemarin` is not a date",
        "Indikator!I2: PIC Jabatan is empty while PIC Nama is filled",
        "Indikator!C3: Program `gov.unknown` is not in the Program sheet",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    // `2,5` and `3,5` are numbers written the Indonesian way.
    assert!(
        !text.contains("Indikator!E2") && !text.contains("Indikator!G2"),
        "{text}"
    );
}

#[test]
fn missing_sheets_non_workbooks_and_hostile_workbooks_are_refused() {
    let mut book = Workbook::new();
    let s = book.add_worksheet();
    s.set_name("Catatan").unwrap();
    row(s, 0, &["Ini bukan rencana"]);
    let e = planfile::import(&book.save_to_buffer().unwrap(), "x.xlsx").unwrap_err();
    assert!(
        e.to_string()
            .contains("has no `Indikator` sheet (found sheets: Catatan)"),
        "{e}"
    );
    let e = planfile::import(b"Nama Indikator;Satuan\n", "x.csv").unwrap_err();
    assert!(
        e.to_string()
            .contains("x.csv: is not a readable XLSX workbook"),
        "{e}"
    );
    // Huge shared strings: a million tiny strings in a small file.
    let mut zipped = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zipped.start_file("xl/sharedStrings.xml", options).unwrap();
    std::io::Write::write_all(
        &mut zipped,
        "<si><t>a</t></si>".repeat(1_000_000).as_bytes(),
    )
    .unwrap();
    let bomb = zipped.finish().unwrap().into_inner();
    assert!(bomb.len() < 1_000_000);
    let e = planfile::import(&bomb, "bom.xlsx").unwrap_err();
    assert!(e.to_string().contains("bom.xlsx: is refused"), "{e}");
    // Millions of empty cells in a real workbook: refused by the cell cap.
    let mut book = Workbook::new();
    let s = book.add_worksheet();
    s.set_name("Indikator").unwrap();
    let blank = Format::new().set_bold();
    for r in 0..1010u32 {
        for c in 0..1000u16 {
            s.write_blank(r, c, &blank).unwrap();
        }
    }
    let bytes = book.save_to_buffer().unwrap();
    let e = planfile::import(&bytes, "kosong.xlsx").unwrap_err();
    // The sheet passes either the cell cap or the unpacked-size cap first.
    assert!(e.to_string().contains("kosong.xlsx: is refused"), "{e}");
    // A cell far to the right (header rows are read column by column).
    let mut book = Workbook::new();
    let s = book.add_worksheet();
    s.set_name("Indikator").unwrap();
    row(s, 0, &["Nama Indikator", "Satuan"]);
    s.write_string(0, 5000, "Target 2025").unwrap();
    let e = planfile::import(&book.save_to_buffer().unwrap(), "lebar.xlsx").unwrap_err();
    assert!(e.to_string().contains("cells beyond column"), "{e}");
    // Through the command, a file beyond the cap is refused before it is read.
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("besar.xlsx");
    std::fs::write(&big, vec![0u8; 9 << 20]).unwrap();
    let o = pantau_output(&[
        "plan",
        "import",
        big.to_str().unwrap(),
        "--out",
        dir.path().join("m.toml").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(out(&o).contains("more than the 8388608"), "{}", out(&o));
}

/// The example plan with a revision note and a feed of Dinkes, its comment above it.
fn plan_with_note_and_feed() -> String {
    format!(
        "revision_note = \"Perubahan RPJMD 2025\"\n{}\n# Dinkes' nutrition service, polled every 15 minutes.\n[[feed]]\nid = \"dinkes-gizi\"\ndepartment = \"dinkes\"\nurl = \"https://data.example.go.id/api/gizi\"\nformat = \"json\"\nschedule = \"*/15 * * * *\"\nrun_at_start = false\n[feed.json]\npoints = [{{ indicator = \"living.health.stunting\", value = \"/data/prevalensi\" }}]\n",
        common::example_masterplan()
    )
}

#[test]
fn export_writes_the_configured_plan_and_import_reads_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let settings = common::write_config(dir.path(), &plan_with_note_and_feed(), "");
    let masterplan = dir.path().join("masterplan.toml");
    let config = pantau::config::Config::load(Some(&settings)).unwrap();
    assert_eq!(config.feeds.len(), 1);
    // `plan export FILE.xlsx`: the plan `--config` names.
    let file = dir.path().join("mojokerto.xlsx");
    let o = pantau_output(&[
        "plan",
        "export",
        "--config",
        settings.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", out(&o));
    assert!(
        out(&o).contains("1 [[feed]] section is not in the workbook"),
        "{}",
        out(&o)
    );
    let back = planfile::import(&std::fs::read(&file).unwrap(), "mojokerto.xlsx")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_same(&config.masterplan, &back.plan);
    assert_eq!(
        back.plan.revision_note.as_deref(),
        Some("Perubahan RPJMD 2025")
    );
    // `plan export masterplan.toml FILE.xlsx`, the form: the same plan.
    let second = dir.path().join("kedua.xlsx");
    let o = pantau_output(&[
        "plan",
        "export",
        masterplan.to_str().unwrap(),
        second.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", out(&o));
    let again = planfile::import(&std::fs::read(&second).unwrap(), "kedua.xlsx")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_same(&config.masterplan, &again.plan);
    // `--plan` still works; an existing workbook is not overwritten.
    let o = pantau_output(&[
        "plan",
        "export",
        "--plan",
        masterplan.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert!(!o.status.success(), "refuses to overwrite");
    assert!(out(&o).contains("already exists"), "{}", out(&o));
    let third = dir.path().join("ketiga.xlsx");
    let o = pantau_output(&[
        "plan",
        "export",
        "--plan",
        masterplan.to_str().unwrap(),
        third.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", out(&o));
    // A plan named twice, or a .toml where the workbook goes, is refused before anything is
    // written.
    let fourth = dir.path().join("keempat.xlsx");
    let o = pantau_output(&[
        "plan",
        "export",
        masterplan.to_str().unwrap(),
        fourth.to_str().unwrap(),
        "--plan",
        masterplan.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(out(&o).contains("the plan is named twice"), "{}", out(&o));
    let o = pantau_output(&["plan", "export", masterplan.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        out(&o).contains("name the workbook after the plan"),
        "{}",
        out(&o)
    );
    assert!(!fourth.exists());

    // The import over the masterplan.toml keeps its feed (and the comment above it): the same
    // plan, note and feeds as before the round trip.
    let o = pantau_output(&[
        "plan",
        "import",
        file.to_str().unwrap(),
        "--out",
        masterplan.to_str().unwrap(),
        "--force",
    ]);
    assert!(o.status.success(), "{}", out(&o));
    assert!(
        out(&o).contains("its 1 [[feed]] section is kept"),
        "{}",
        out(&o)
    );
    let text = std::fs::read_to_string(&masterplan).unwrap();
    assert!(
        text.contains("# Dinkes' nutrition service, polled every 15 minutes.\n[[feed]]"),
        "{text}"
    );
    let reloaded = pantau::config::Config::load(Some(&settings)).unwrap();
    assert_same(&config.masterplan, &reloaded.masterplan);
    assert_eq!(
        format!("{:?}", reloaded.feeds),
        format!("{:?}", config.feeds)
    );
    let o = pantau_output(&["check", "--config", settings.to_str().unwrap()]);
    assert!(o.status.success(), "{}", out(&o));

    // A plan without the feed's department: the kept feed does not fit, so nothing is written.
    let template = dir.path().join("template.xlsx");
    let o = pantau_output(&["plan", "template", template.to_str().unwrap()]);
    assert!(o.status.success(), "{}", out(&o));
    let o = pantau_output(&[
        "plan",
        "import",
        template.to_str().unwrap(),
        "--out",
        masterplan.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(out(&o).contains("feed dinkes-gizi"), "{}", out(&o));
    assert!(
        out(&o).contains("the feeds above are kept from"),
        "{}",
        out(&o)
    );
    assert_eq!(std::fs::read_to_string(&masterplan).unwrap(), text);
}

/// Every field of two plans, the revision note included.
fn assert_same(a: &Masterplan, b: &Masterplan) {
    assert_eq!(a.revision_note, b.revision_note);
    let deps = |p: &Masterplan| -> Vec<(String, String, Vec<String>)> {
        p.departments
            .iter()
            .map(|d| (d.id.to_string(), d.name.clone(), d.emails.clone()))
            .collect()
    };
    assert_eq!(deps(a), deps(b));
    let dims =
        |p: &Masterplan| -> Vec<String> { p.dimensions.iter().map(|d| format!("{d:?}")).collect() };
    assert_eq!(dims(a), dims(b));
    // Programs are grouped by dimension in the written file; compare them in id order.
    let programs = |p: &Masterplan| -> Vec<String> {
        let mut list: Vec<String> = p.programs.iter().map(|d| format!("{d:?}")).collect();
        list.sort();
        list
    };
    assert_eq!(programs(a), programs(b));
    assert_eq!(a.indicators.len(), b.indicators.len());
    // Indicators are grouped by program in the written file; compare by id.
    for i in &a.indicators {
        let j = b
            .indicator(i.id.as_str())
            .unwrap_or_else(|| panic!("{} is missing", i.id));
        assert_eq!(format!("{i:?}"), format!("{j:?}"));
    }
}

/// A plan's TOML from generated parts, valid by construction.
fn plan_strategy() -> impl Strategy<Value = String> {
    let name = "[=@+-]?[A-Z][a-z]{2,8}( [A-Za-z0-9,()é/]{1,8}){0,3}";
    let text = "[A-Za-z][a-z0-9]{0,6}( [a-z0-9%-]{1,6}){0,2}";
    let department = (
        name,
        proptest::collection::vec("[a-z]{1,6}@[a-z]{2,6}\\.go\\.id", 0..3),
    );
    let dimension = (
        name,
        proptest::collection::vec(name, 0..4),
        prop::sample::select(vec![0.5, 1.0, 2.25]),
    );
    let indicator = (
        (
            name,
            proptest::option::of("[A-Z]{2,4}-[0-9]\\.[0-9]{1,2}"),
            proptest::option::of(0usize..3),
            proptest::option::of((name, name)),
            proptest::option::of(text),
            text,
            proptest::option::of(0usize..4),
        ),
        (
            0usize..5,
            0usize..3,
            (2019i32..2024, 0usize..3),
            proptest::collection::vec((0usize..3, -1000i64..100_000), 1..5),
            prop::sample::select(vec!["1d", "1w", "2w", "1mo", "3mo", "6mo", "1y", "30m"]),
            prop::sample::select(vec![0.0, 1.0, 1.5, 3.0]),
            proptest::option::of((-100i64..0, 100_000i64..200_000)),
        ),
    );
    let program = (
        name,
        0usize..6,
        0usize..4,
        any::<bool>(),
        0usize..4,
        (2019i32..2024, 1u32..365, 30i64..3000),
        proptest::collection::vec(indicator, 1..4),
    );
    (
        proptest::collection::vec(department, 1..4),
        proptest::collection::vec(dimension, 6..7),
        proptest::collection::vec(program, 1..5),
        proptest::option::of(name),
    )
        .prop_map(|(departments, dimensions, programs, note)| {
            use std::fmt::Write;
            let q = |s: &str| toml::Value::String(s.to_string()).to_string();
            let ids = ["governance", "branding", "economy", "living", "society", "environment"];
            let mut t = String::new();
            if let Some(note) = &note {
                let _ = writeln!(t, "revision_note = {}\n", q(note));
            }
            for (i, (n, emails)) in departments.iter().enumerate() {
                let emails: Vec<String> = emails.iter().map(|e| q(e)).collect();
                let _ = writeln!(t, "[[department]]\nid = \"d{i}\"\nname = {}\nemail = [{}]\n", q(n), emails.join(", "));
            }
            for (i, (n, elements, w)) in dimensions.iter().enumerate() {
                let el: Vec<String> = elements.iter().map(|e| q(e)).collect();
                let _ = writeln!(t, "[[dimension]]\nid = \"{}\"\nname = {}\nelements = [{}]\nweight = {w:?}\n", ids[i], q(n), el.join(", "));
            }
            let ndep = departments.len();
            for (pi, (n, dim, dep, qw, horizon, (sy, sd, len), indicators)) in programs.iter().enumerate() {
                let start = d(*sy, 1, 1) + chrono::Duration::days(*sd as i64);
                let due = start + chrono::Duration::days(*len);
                let pid = format!("{}.p{pi}", ids[*dim]);
                let _ = writeln!(
                    t,
                    "[[program]]\nid = \"{pid}\"\ndimension = \"{}\"\nname = {}\ndepartment = \"d{}\"\nquick_win = {qw}\nhorizon = \"{}\"\nstart = {start}\ndue = {due}\nweight = 1.5\n",
                    ids[*dim],
                    q(n),
                    dep % ndep,
                    ["quick_win", "short", "medium", "long"][*horizon]
                );
                for (ii, ((n, code, tier, pic, source, unit, dept), (dir, kind, (by, bshape), steps, every, weight, bounds))) in indicators.iter().enumerate() {
                    let baseline = match bshape {
                        0 => d(*by, 12, 31),
                        1 => d(*by, 6, 30),
                        _ => d(*by, 2, 14),
                    };
                    let mut date = baseline;
                    let mut targets = Vec::new();
                    let base = 500.0;
                    let mut value: f64 = base;
                    for (k, (shape, v)) in steps.iter().enumerate() {
                        // Year ends, quarter ends and other dates, each after the one before.
                        let y = date.year() + i32::from((date.month(), date.day()) == (12, 31));
                        date = match shape {
                            0 => d(y, 12, 31),
                            1 => [d(y, 3, 31), d(y, 6, 30), d(y, 9, 30), d(y, 12, 31)].into_iter().find(|x| *x > date).unwrap(),
                            _ => date + chrono::Duration::days(40 + k as i64),
                        };
                        value = (*v as f64) / 4.0;
                        targets.push((date, value));
                    }
                    let (direction, kind_name) = match (dir, kind) {
                        (0, 2) => ("increase", "cumulative_yearly"),
                        (0, k) => ("increase", ["level", "cumulative"][*k]),
                        (1, 2) => ("decrease", "level"),
                        (1, k) => ("decrease", ["level", "cumulative"][*k]),
                        (2, k) => ("maintain", ["level", "cumulative", "cumulative_yearly"][*k]),
                        (3, k) => ("at_least", ["level", "cumulative", "cumulative_yearly"][*k]),
                        (_, k) => ("at_most", ["level", "cumulative", "cumulative_yearly"][*k]),
                    };
                    // Make the final target agree with the direction.
                    let last = targets.len() - 1;
                    match direction {
                        "increase" if kind_name == "cumulative_yearly" => {
                            for t in targets.iter_mut() {
                                t.1 = t.1.abs() + 0.25;
                            }
                        }
                        "increase" => targets[last].1 = base + value.abs() + 1.0,
                        "decrease" => targets[last].1 = base - value.abs() - 1.0,
                        _ => {}
                    }
                    let _ = writeln!(t, "[[indicator]]\nid = \"{pid}.i{ii}\"\nprogram = \"{pid}\"\nname = {}\nunit = {}", q(n), q(unit));
                    if let Some(c) = code { let _ = writeln!(t, "code = {}", q(c)); }
                    if let Some(k) = tier { let _ = writeln!(t, "tier = \"{}\"", ["output", "outcome", "impact"][*k]); }
                    if let Some((a, b)) = pic { let _ = writeln!(t, "pic = {{ nama = {}, jabatan = {} }}", q(a), q(b)); }
                    if let Some(s) = source { let _ = writeln!(t, "source = {}", q(s)); }
                    if let Some(k) = dept { let _ = writeln!(t, "department = \"d{}\"", k % ndep); }
                    let _ = writeln!(t, "direction = \"{direction}\"\nkind = \"{kind_name}\"");
                    if direction == "maintain" { let _ = writeln!(t, "tolerance = 0.5"); }
                    let _ = writeln!(t, "baseline = {{ date = {baseline}, value = {base:?} }}");
                    let list: Vec<String> = targets.iter().map(|(dd, v)| format!("{{ date = {dd}, value = {v:?} }}")).collect();
                    let _ = writeln!(t, "targets = [{}]\nupdate_every = \"{every}\"\nweight = {weight:?}", list.join(", "));
                    if let Some((lo, hi)) = bounds { let _ = writeln!(t, "min = {:?}\nmax = {:?}", *lo as f64, *hi as f64); }
                    t.push('\n');
                }
            }
            t
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn import_after_export_gives_the_same_plan(text in plan_strategy()) {
        let mut problems = Vec::new();
        let (plan, _) = pantau::config::parse_masterplan(&text, "masterplan.toml", &[], &mut problems)
            .unwrap_or_else(|| panic!("generated plan is invalid: {problems:?}\n{text}"));
        let bytes = template::plan_workbook(&plan).unwrap();
        let back = planfile::import(&bytes, "plan.xlsx").unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_same(&plan, &back.plan);
        // And the written masterplan reads back to the same plan again.
        let mut problems = Vec::new();
        let (again, _) = pantau::config::parse_masterplan(&back.toml, "m.toml", &[], &mut problems).unwrap();
        assert_same(&plan, &again);
    }
}

#[test]
fn heading_rows_are_passed_over_and_a_blank_below_one_is_ambiguous() {
    let sheet = |repeat: bool| {
        let mut book = Workbook::new();
        let s = book.add_worksheet();
        s.set_name("Indikator").unwrap();
        row(
            s,
            0,
            &[
                "Dimensi",
                "Program",
                "Indikator",
                "Satuan",
                "OPD",
                "Baseline",
                "2025",
                "2026",
            ],
        );
        s.merge_range(1, 0, 1, 7, "1. SMART GOVERNANCE", &Format::new())
            .unwrap();
        let dim = if repeat { "Smart Governance" } else { "" };
        row(
            s,
            2,
            &[
                dim,
                "SPBE",
                "Indeks SPBE",
                "indeks",
                "Diskominfo",
                "2,6",
                "#3",
                "3,5",
            ],
        );
        row(
            s,
            3,
            &[
                dim,
                "SPBE",
                "Aplikasi terintegrasi",
                "aplikasi",
                "Diskominfo",
                "#10",
                "#20",
                "#30",
            ],
        );
        book.save_to_buffer().unwrap()
    };
    let plan = planfile::import(&sheet(true), "m.xlsx")
        .unwrap_or_else(|e| panic!("{e}"))
        .plan;
    assert_eq!(plan.indicators.len(), 2);
    assert_eq!(plan.indicators[0].baseline.value, 2.6);
    assert_eq!(plan.indicators[0].targets[1].value, 3.5);
    assert_eq!(plan.programs.len(), 1);
    let e = planfile::import(&sheet(false), "m.xlsx")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("Indikator!A3: Dimensi is empty below `1. SMART GOVERNANCE` (row 2)"),
        "{e}"
    );
    assert!(e.contains("Indikator!A4"), "{e}");
}

#[test]
fn init_in_english_writes_an_english_wall_and_refuses_other_languages() {
    let dir = tempfile::tempdir().unwrap();
    let city = dir.path().join("kota-batu");
    let o = pantau_output(&[
        "init",
        city.to_str().unwrap(),
        "--city",
        "Kota Batu",
        "--locale",
        "en",
    ]);
    assert!(o.status.success(), "{}", out(&o));
    let settings = std::fs::read_to_string(city.join("pantau.toml")).unwrap();
    assert!(settings.contains("locale = \"en\""), "{settings}");
    let config = pantau::config::Config::load(Some(&city)).unwrap();
    assert_eq!(config.settings.city.locale, pantau::config::Locale::En);
    let o = pantau_output(&["check", "--config", city.to_str().unwrap()]);
    assert!(o.status.success(), "{}", out(&o));
    let other = dir.path().join("kota-lain");
    let o = pantau_output(&[
        "init",
        other.to_str().unwrap(),
        "--city",
        "Kota Lain",
        "--locale",
        "fr",
    ]);
    assert!(!o.status.success());
    assert!(
        out(&o).contains("--locale `fr` is not a language pantau speaks; use id or en"),
        "{}",
        out(&o)
    );
    assert!(!other.exists());
}

#[test]
fn a_matrix_imported_into_an_init_folder_passes_check_and_is_served() {
    // What `pantau init` tells a new user to do next, with a matrix that names two dimensions.
    let dir = tempfile::tempdir().unwrap();
    let city = dir.path().join("kota-batu");
    let city_s = city.to_str().unwrap();
    let o = pantau_output(&["init", city_s, "--city", "Kota Batu"]);
    assert!(o.status.success(), "{}", out(&o));
    assert!(out(&o).contains("--force"), "{}", out(&o));
    let matrix = dir.path().join("matriks.xlsx");
    std::fs::write(&matrix, matrix_workbook()).unwrap();
    let plan = city.join("masterplan.toml");
    let o = pantau_output(&[
        "plan",
        "import",
        matrix.to_str().unwrap(),
        "--out",
        plan.to_str().unwrap(),
        "--force",
    ]);
    assert!(o.status.success(), "{}", out(&o));
    assert!(
        out(&o).contains("6 dimensions, 3 programs, 4 indicators"),
        "{}",
        out(&o)
    );
    let o = pantau_output(&["check", "--config", city_s]);
    assert!(o.status.success(), "{}", out(&o));
    assert!(out(&o).contains("6 dimensions, 3 programs"), "{}", out(&o));

    let db = dir.path().join("batu.db");
    let (daemon, rt) = serve_city(&city, &db);
    rt.block_on(async {
        let client = common::english_client();
        let body = get_json(&client, &format!("{}/api/v1/masterplan", daemon.base())).await;
        let dims: Vec<&str> = body["dimensions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            dims,
            [
                "governance",
                "branding",
                "economy",
                "living",
                "society",
                "environment"
            ],
            "{body}"
        );
        assert_eq!(body["indicators"].as_array().map(Vec::len), Some(4));
        // Each dimension the wall's dimension screen shows has its progress, with or without
        // indicators.
        for dim in ["governance", "branding", "living", "environment"] {
            let r = client
                .get(format!("{}/api/v1/progress?dimension={dim}", daemon.base()))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "dimension {dim}");
        }
        let wall = client
            .get(format!("{}/wall?screen=wall-2", daemon.base()))
            .send()
            .await
            .unwrap();
        assert_eq!(wall.status(), 200);
    });
    daemon.kill();
}

/// The start both merged Indikator sheets share: the header row, a heading row merged across
/// the sheet, and Dimensi, Program and OPD merged down over the four indicators (all allowed).
fn merged_sheet_head(s: &mut Worksheet, f: &Format) {
    s.set_name("Indikator").unwrap();
    row(
        s,
        0,
        &[
            "Dimensi",
            "Program",
            "Kode",
            "Nama Indikator",
            "Satuan",
            "OPD",
            "Arah",
            "Baseline",
            "Target 2025",
            "Target 2026",
        ],
    );
    s.merge_range(1, 0, 1, 9, "1. SMART LIVING", f).unwrap();
    s.merge_range(2, 0, 5, 0, "Smart Living", f).unwrap();
    s.merge_range(2, 1, 5, 1, "Kesehatan", f).unwrap();
    s.merge_range(2, 5, 5, 5, "Dinkes", f).unwrap();
}

/// An Indikator sheet with merges: allowed ones (a heading row across the sheet; Dimensi,
/// Program and OPD merged down over their rows) and ambiguous ones (Satuan, Arah and a target
/// merged down over several indicators; two targets and Kode with Nama Indikator merged across
/// in one row).
fn merged_workbook() -> Vec<u8> {
    let mut book = Workbook::new();
    let s = book.add_worksheet();
    let f = Format::new();
    merged_sheet_head(s, &f);
    s.merge_range(2, 4, 3, 4, "persen", &f).unwrap();
    s.merge_range(2, 6, 5, 6, "naik", &f).unwrap();
    row(
        s,
        2,
        &["", "", "L-1", "Cakupan imunisasi", "", "", "", "#80"],
    );
    s.merge_range(2, 8, 2, 9, "", &f).unwrap();
    s.write_number(2, 8, 90.0).unwrap();
    row(
        s,
        3,
        &[
            "",
            "",
            "L-2",
            "Cakupan ASI eksklusif",
            "",
            "",
            "",
            "#60",
            "#70",
            "#80",
        ],
    );
    row(
        s,
        4,
        &[
            "",
            "",
            "L-3",
            "Posyandu aktif",
            "unit",
            "",
            "",
            "#10",
            "",
            "#30",
        ],
    );
    s.merge_range(4, 8, 5, 8, "", &f).unwrap();
    s.write_number(4, 8, 20.0).unwrap();
    s.merge_range(5, 2, 5, 3, "Puskesmas terakreditasi", &f)
        .unwrap();
    row(s, 5, &["", "", "", "", "unit", "", "", "#5", "", "#9"]);
    book.save_to_buffer().unwrap()
}

#[test]
fn merged_cells_that_make_a_row_ambiguous_are_each_a_problem_and_nothing_is_written() {
    let bytes = merged_workbook();
    let text = planfile::import(&bytes, "gabung.xlsx")
        .unwrap_err()
        .to_string();
    for needle in [
        "Indikator!E3:E4: the cells are merged over rows 3 to 4, but Satuan holds one value per row, so it is unclear which row the value belongs to; unmerge the cells and write the value in every row",
        "Indikator!G3:G6: the cells are merged over rows 3 to 6, but Arah holds one value per row",
        "Indikator!I5:I6: the cells are merged over rows 5 to 6, but Target 2025 holds one value per row",
        "Indikator!I3:J3: the cells are merged across the columns Target 2025, Target 2026 in a data row",
        "Indikator!C6:D6: the cells are merged across the columns Kode, Nama Indikator in a data row",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    // Group columns merged down and a heading row across the sheet are not problems.
    for allowed in ["A3:A6", "B3:B6", "F3:F6", "A2:J2"] {
        assert!(!text.contains(allowed), "{allowed} in\n{text}");
    }
    assert!(text.contains("5 problems; nothing was written"), "{text}");

    // Through the command: exit 2, and the masterplan is not written.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gabung.xlsx");
    std::fs::write(&file, &bytes).unwrap();
    let plan = dir.path().join("masterplan.toml");
    let o = pantau_output(&[
        "plan",
        "import",
        file.to_str().unwrap(),
        "--out",
        plan.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(out(&o).contains("Indikator!E3:E4"), "{}", out(&o));
    assert!(!plan.exists());

    // Unmerged, with each value in its row, the same sheet imports.
    let mut book = Workbook::new();
    let s = book.add_worksheet();
    let f = Format::new();
    merged_sheet_head(s, &f);
    row(
        s,
        2,
        &[
            "",
            "",
            "L-1",
            "Cakupan imunisasi",
            "persen",
            "",
            "naik",
            "#80",
            "#90",
            "#95",
        ],
    );
    row(
        s,
        3,
        &[
            "",
            "",
            "L-2",
            "Cakupan ASI eksklusif",
            "persen",
            "",
            "naik",
            "#60",
            "#70",
            "#80",
        ],
    );
    row(
        s,
        4,
        &[
            "",
            "",
            "L-3",
            "Posyandu aktif",
            "unit",
            "",
            "naik",
            "#10",
            "#20",
            "#30",
        ],
    );
    row(
        s,
        5,
        &[
            "",
            "",
            "L-4",
            "Puskesmas terakreditasi",
            "unit",
            "",
            "naik",
            "#5",
            "#7",
            "#9",
        ],
    );
    // With a revision note on Petunjuk: read from the cell right of its label, and a note too
    // long is a problem at that cell.
    let guide = book.add_worksheet();
    guide.set_name("Petunjuk").unwrap();
    guide.write_string(2, 0, "Catatan revisi:").unwrap();
    guide.write_string(2, 1, "panjang ".repeat(30)).unwrap();
    let text = planfile::import(&book.save_to_buffer().unwrap(), "lepas.xlsx")
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("Petunjuk!B3: Catatan revisi must be a short text (at most 200 characters)"),
        "{text}"
    );
    assert!(text.contains("1 problem;"), "{text}");
    book.worksheet_from_name("Petunjuk")
        .unwrap()
        .write_string(2, 1, "Perubahan RPJMD 2025")
        .unwrap();
    let plan = planfile::import(&book.save_to_buffer().unwrap(), "lepas.xlsx")
        .unwrap_or_else(|e| panic!("{e}"))
        .plan;
    assert_eq!(plan.revision_note.as_deref(), Some("Perubahan RPJMD 2025"));
    assert_eq!(plan.indicators.len(), 4);
    assert!(
        plan.indicators
            .iter()
            .all(|i| i.department.as_str() == "dinkes")
    );
    assert_eq!(plan.programs.len(), 1);
}

#[test]
fn a_dimensi_sheet_naming_some_dimensions_gets_the_others_as_init_writes_them() {
    let mut book = Workbook::new();
    let dims = book.add_worksheet();
    dims.set_name("Dimensi").unwrap();
    row(dims, 0, &["ID Dimensi", "Nama Dimensi", "Elemen", "Bobot"]);
    row(
        dims,
        1,
        &["living", "Smart Living", "Kesehatan; Pendidikan", "#2"],
    );
    row(
        dims,
        2,
        &["tata-kelola", "Smart Governance", "Pelayanan Publik", ""],
    );
    let s = book.add_worksheet();
    s.set_name("Indikator").unwrap();
    row(
        s,
        0,
        &[
            "Dimensi",
            "Program",
            "Nama Indikator",
            "Satuan",
            "OPD",
            "Baseline",
            "2025",
        ],
    );
    row(
        s,
        1,
        &[
            "Smart Living",
            "Kesehatan",
            "Stunting",
            "persen",
            "Dinkes",
            "#20",
            "#15",
        ],
    );
    let plan = planfile::import(&book.save_to_buffer().unwrap(), "dimensi.xlsx")
        .unwrap_or_else(|e| panic!("{e}"))
        .plan;
    // The sheet's two (in its order, `tata-kelola` standing for governance), then the four it
    // does not name, in the guide's order.
    let ids: Vec<&str> = plan.dimensions.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "living",
            "tata-kelola",
            "branding",
            "economy",
            "society",
            "environment"
        ]
    );
    assert_eq!(plan.dimensions[0].elements, ["Kesehatan", "Pendidikan"]);
    assert_eq!(plan.dimensions[0].weight, 2.0);
    let init = planfile::init::example_plan("Kota Batu").unwrap();
    for made in &plan.dimensions[2..] {
        let written = init.dimension(made.id.as_str()).unwrap();
        assert_eq!(format!("{made:?}"), format!("{written:?}"));
    }
}
