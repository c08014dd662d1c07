//! `pantau init DIR --city NAME`: a new city's configuration folder (pantau.toml,
//! masterplan.toml with the six dimensions and one example program, screens.toml), commented,
//! that `pantau check` accepts and `pantau run` serves. It never overwrites a file.

use super::InitArgs;
use crate::config::{Config, Problem, parse_masterplan};
use crate::domain::Masterplan;
use anyhow::{Context, bail};
use std::process::ExitCode;

fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The settings of a new city.
pub fn settings_text(city: &str, zone: &str, locale: &str) -> String {
    format!(
        r#"# pantau settings for {city}. Every key can be overridden by an environment variable
# PANTAU_<SECTION>__<KEY>, e.g. PANTAU_SERVER__LISTEN=0.0.0.0:8080.
# Check this folder with `pantau check --config <folder>`; serve it with `pantau run --config <folder>`.
masterplan = "masterplan.toml"     # the plan, relative to this file (`pantau plan import` writes one from a workbook)
# screens = "screens.toml"         # the wall's screens; default: screens.toml beside this file

[server]
listen = "127.0.0.1:8080"          # address and port of the API, the live screens and the dashboards
max_body_bytes = 8388608           # largest request body accepted (8 MiB), e.g. an XLSX upload
max_rows_per_request = 10000       # most observations accepted in one post or upload
rate_limit_per_minute = 600        # writes one token may make per minute (429 beyond)
allowed_origins = []               # other origins allowed to open websockets
header_read_timeout = "10s"        # time a client has to send its request headers
# public_url = "https://pantau.example.go.id"   # the address browsers open (through the reverse proxy)

[storage]
database = "pantau.db"             # SQLite file, relative to this file; WAL files sit beside it

[city]
name = {name}            # shown on the monitoring wall and in exports
time_zone = {zone}         # IANA zone; masterplan dates mean midnight here (WIB: Asia/Jakarta)
locale = {locale}                      # id | en: the language of the screens

[progress]
on_track = 0.95                    # p / q at or above this is on_track
at_risk = 0.85                     # p / q at or above this (and below on_track) is at_risk
stale_grace = 0.5                  # fraction of update_every added before an indicator is stale
forecast_window_days = 180         # days of history the forecast line is fitted over
tick_seconds = 30                  # how often staleness and expected progress are re-evaluated
capaian_decrease = "inverse"       # capaian of a decrease: "inverse" (2t − r)/t × 100, or "ratio" t/r × 100
# capaian categories (Permendagri 86/2017): lower bounds in percent; below rendah is sangat rendah
capaian_bands = {{ sangat_tinggi = 91.0, tinggi = 76.0, sedang = 66.0, rendah = 51.0 }}

[auth]
admin_token = ""                   # empty = no admin token; set PANTAU_AUTH__ADMIN_TOKEN instead of writing it here

[webhooks]
urls = []                          # status-transition events are POSTed as JSON to each
retries = 3                        # retries with exponential backoff after a failed delivery
timeout = "5s"                     # per delivery attempt
"#,
        name = quoted(city),
        zone = quoted(zone),
        locale = quoted(locale),
    )
}

/// The masterplan of a new city: the six dimensions with their elements as the Gerakan Menuju
/// Smart City guide (Kemenkominfo) names them, one department and one example program.
pub fn masterplan_text(city: &str) -> String {
    format!(
        r#"# Masterplan Smart City {city} (Gerakan Menuju Smart City).
#
# The six dimensions below and their elements follow the Buku Panduan Gerakan Menuju Smart City
# (Kementerian Komunikasi dan Informatika). The program and indicator at the end are an EXAMPLE:
# replace them with the city's own. To bring a plan in from a spreadsheet instead, run
# `pantau plan template rencana.xlsx`, fill it in, then `pantau plan import rencana.xlsx --force`.
#
# Layout: departments (OPD), the six dimensions, then each program followed by its indicators.
# Ids use lowercase letters, digits, `.`, `_` and `-`; a program id starts with its dimension's
# id and an indicator id with its program's id.

revision_note = "Rancangan awal"

# =============================================================================
# Perangkat Daerah (OPD)
# =============================================================================

# id: a short name the tokens and pages use; email: where reminders of overdue updates go.
[[department]]
id = "diskominfo"
name = "Dinas Komunikasi dan Informatika"
# email = ["kominfo@example.go.id"]

# =============================================================================
# Dimensi (Buku Panduan Gerakan Menuju Smart City)
# =============================================================================

[[dimension]]
id = "governance"
name = "Smart Governance"
elements = ["Pelayanan Publik", "Manajemen Birokrasi", "Kebijakan Publik"]

[[dimension]]
id = "branding"
name = "Smart Branding"
elements = ["Tourism Branding (Pemasaran Pariwisata)", "Business Branding (Membangun Platform Ekonomi)", "City Appearance Branding (Wajah Kota)"]

[[dimension]]
id = "economy"
name = "Smart Economy"
elements = ["Industri", "Kesejahteraan Rakyat", "Ekosistem Transaksi Keuangan"]

[[dimension]]
id = "living"
name = "Smart Living"
elements = ["Harmonisasi Tata Ruang Wilayah", "Kesehatan", "Transportasi"]

[[dimension]]
id = "society"
name = "Smart Society"
elements = ["Interaksi Masyarakat", "Ekosistem Belajar", "Keamanan"]

[[dimension]]
id = "environment"
name = "Smart Environment"
elements = ["Perlindungan Lingkungan", "Pengelolaan Sampah", "Manajemen Energi"]

# =============================================================================
# Smart Governance (example program: replace it)
# =============================================================================

# horizon: quick_win, short, medium or long; quick_win = true marks the programs leadership
# watches closely.
[[program]]
id = "governance.spbe"
dimension = "governance"
name = "Penguatan Sistem Pemerintahan Berbasis Elektronik (SPBE)"
department = "diskominfo"
quick_win = true
horizon = "short"
start = 2025-01-01
due = 2026-12-31

# direction: increase, decrease, maintain (with `tolerance`), at_least or at_most.
# kind: level (the latest value counts), cumulative (values add up on top of the baseline) or
# cumulative_yearly (values add up within each year). Targets are dated; yearly ones on 31 December.
[[indicator]]
id = "governance.spbe.index"
program = "governance.spbe"
name = "Indeks SPBE"
code = "IKU-1.1"
tier = "outcome"
pic = {{ nama = "Kepala Bidang Aplikasi Informatika", jabatan = "Kepala Bidang" }}
source = "Evaluasi SPBE KemenPAN-RB"
unit = "indeks"
direction = "increase"
kind = "level"
baseline = {{ date = 2024-12-31, value = 2.6 }}
targets = [
  {{ date = 2025-12-31, value = 3.0 }},
  {{ date = 2026-12-31, value = 3.5 }},
]
update_every = "1y"

[[indicator]]
id = "governance.spbe.online-services"
program = "governance.spbe"
name = "Layanan publik yang tersedia daring"
unit = "layanan"
direction = "increase"
kind = "cumulative"
baseline = {{ date = 2024-12-31, value = 0.0 }}
targets = [
  {{ date = 2025-12-31, value = 20.0 }},
  {{ date = 2026-12-31, value = 45.0 }},
]
update_every = "1mo"
"#,
    )
}

/// The screens of a new city: a summary screen and one with the six dimensions.
pub const SCREENS_TEXT: &str = r#"# Screens of the command-center wall. Each screen rotates through its pages; open one at
# /wall?screen=<id>. `pantau check` validates this file against the masterplan.
#
# A page is "overview", "quick-wins", "feeds", "compliance", "dimension:<id>", "program:<id>",
# "department:<id>", "chart:<indicator id>", or a table such as
# { kind = "numbers", indicators = ["a", "b"], title = "Angka utama kota" }.
# interval_seconds: how long each page stays (5 or more).

[[screen]]
id = "wall-1"
label = "Layar utama — ringkasan"
pages = ["overview", "quick-wins", "compliance"]
interval_seconds = 30

[[screen]]
id = "wall-2"
label = "Layar dimensi"
pages = ["dimension:governance", "dimension:branding", "dimension:economy", "dimension:living", "dimension:society", "dimension:environment"]
interval_seconds = 20
"#;

/// The example plan of a new city, validated (the template's example rows).
pub fn example_plan(city: &str) -> anyhow::Result<Masterplan> {
    let mut problems: Vec<Problem> = Vec::new();
    match parse_masterplan(
        &masterplan_text(city),
        "masterplan.toml",
        &[],
        &mut problems,
    ) {
        Some((plan, _)) => Ok(plan),
        None => bail!(
            "the example plan is invalid: {}",
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}

/// Writes the folder; refuses (writing nothing) when any of its files exists.
pub fn run(args: &InitArgs) -> anyhow::Result<ExitCode> {
    let city = args.city.trim();
    if city.is_empty() || city.chars().count() > 100 {
        bail!("--city must name the city in 1 to 100 characters, e.g. --city \"Kota Batu\"");
    }
    if args.zone.parse::<chrono_tz::Tz>().is_err() {
        bail!(
            "--zone `{}` is not an IANA time zone; use Asia/Jakarta (WIB), Asia/Makassar (WITA) or Asia/Jayapura (WIT)",
            crate::values::echo(&args.zone)
        );
    }
    if !matches!(args.locale.as_str(), "id" | "en") {
        bail!(
            "--locale `{}` is not a language pantau speaks; use id or en",
            crate::values::echo(&args.locale)
        );
    }
    let files = [
        ("pantau.toml", settings_text(city, &args.zone, &args.locale)),
        ("masterplan.toml", masterplan_text(city)),
        ("screens.toml", SCREENS_TEXT.to_string()),
    ];
    for (name, _) in &files {
        let path = args.dir.join(name);
        if path.exists() {
            bail!(
                "{} already exists; pantau init does not overwrite files: choose a new folder, or move the file away",
                path.display()
            );
        }
    }
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create the folder {}", args.dir.display()))?;
    for (name, text) in &files {
        let path = args.dir.join(name);
        // `create_new` so that a file made meanwhile is not replaced either.
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        f.write_all(text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    // What was written must pass the same check `pantau check` makes.
    Config::load(Some(&args.dir))?;
    println!(
        "wrote {dir}/pantau.toml, masterplan.toml and screens.toml for {city}.\nnext: edit masterplan.toml (or `pantau plan template rencana.xlsx`, fill it in, `pantau plan import rencana.xlsx --out {dir}/masterplan.toml --force`), then `pantau check --config {dir}` and `pantau run --config {dir}`",
        dir = args.dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
