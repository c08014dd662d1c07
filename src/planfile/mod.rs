//! The masterplan outside TOML: a new city's configuration folder (`pantau init`), the plan
//! workbook to fill in (`pantau plan template`), the import of that workbook or of the matrices a
//! city already has (`pantau plan import`), and the export of the current plan into the same
//! workbook (`pantau plan export`).
//!
//! What must stay true: an imported plan is validated by `config::parse_masterplan`, the same
//! rules `pantau check` applies, and every problem is reported at once with its cell; nothing is
//! written while any remain; no command overwrites a file unless told to (`--force`); import
//! after export gives the same plan, its revision note included, and an import over an existing
//! masterplan.toml keeps that file's `[[feed]]` sections (feeds are not in the workbook; `keep`).
//! Workbooks are opened only through `values::workbook::open`.

pub mod draft;
pub mod export;
pub mod import;
pub mod init;
pub mod keep;
pub mod template;

pub use draft::Draft;
pub use import::{ImportError, Imported, import};

use crate::locale::count_en;
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `pantau init DIR --city NAME [--zone ZONE] [--locale id|en]`.
#[derive(clap::Args, Debug, Clone)]
pub struct InitArgs {
    /// The folder to write pantau.toml, masterplan.toml and screens.toml into (made if missing).
    pub dir: PathBuf,
    /// The city's name as the screens show it, e.g. "Kota Batu".
    #[arg(long)]
    pub city: String,
    /// The city's IANA time zone: Asia/Jakarta (WIB), Asia/Makassar (WITA) or Asia/Jayapura (WIT).
    #[arg(long, default_value = "Asia/Jakarta")]
    pub zone: String,
    /// The screens' language: id or en.
    #[arg(long, default_value = "id")]
    pub locale: String,
}

/// `pantau plan ...`.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum PlanCommand {
    /// Write an empty plan workbook to fill in (sheets Petunjuk, OPD, Dimensi, Program, Indikator).
    Template {
        /// The .xlsx file to write (refused when it exists).
        file: PathBuf,
    },
    /// Read a plan workbook (the template, or a city's own matrix) into masterplan.toml.
    Import {
        /// The .xlsx file to read.
        file: PathBuf,
        /// Where to write the masterplan.
        #[arg(long, default_value = "masterplan.toml")]
        out: PathBuf,
        /// Replace `--out` when it exists (its `[[feed]]` sections are kept).
        #[arg(long)]
        force: bool,
    },
    /// Write the current plan into the template workbook: `plan export FILE.xlsx` (the plan
    /// `--config` names) or `plan export masterplan.toml FILE.xlsx`.
    #[command(override_usage = "pantau plan export [OPTIONS] [masterplan.toml] FILE.xlsx")]
    Export {
        /// The .xlsx file to write (refused when it exists); or, when two files are given, the
        /// masterplan.toml to export.
        #[arg(value_name = "FILE")]
        first: PathBuf,
        /// The .xlsx file to write, after the masterplan.toml.
        #[arg(value_name = "FILE.xlsx")]
        second: Option<PathBuf>,
        /// The masterplan.toml to export (default: the one `--config` names); the same as
        /// naming it before FILE.xlsx.
        #[arg(long)]
        plan: Option<PathBuf>,
    },
}

/// The plan to export (None: the configuration's) and the workbook to write, from `plan export
/// [masterplan.toml] FILE.xlsx [--plan masterplan.toml]`.
pub fn export_paths(
    first: PathBuf,
    second: Option<PathBuf>,
    plan: Option<PathBuf>,
) -> anyhow::Result<(Option<PathBuf>, PathBuf)> {
    let is_toml = |p: &Path| {
        p.extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
    };
    let (plan, file) = match (second, plan) {
        (Some(_), Some(_)) => bail!(
            "the plan is named twice; write either `pantau plan export masterplan.toml FILE.xlsx` or `pantau plan export FILE.xlsx --plan masterplan.toml`"
        ),
        (Some(file), None) => (Some(first), file),
        (None, plan) => (plan, first),
    };
    if is_toml(&file) {
        bail!(
            "{} is where the workbook would be written, but it is a .toml file; name the workbook after the plan: `pantau plan export {} FILE.xlsx`",
            file.display(),
            file.display()
        );
    }
    Ok((plan, file))
}

/// Runs a `pantau plan` command; `config` is the global `--config`.
pub fn run(command: PlanCommand, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    match command {
        PlanCommand::Template { file } => {
            let bytes = template::template_workbook()?;
            write_new(&file, &bytes, false)?;
            println!(
                "wrote {}: fill in the sheets (see Petunjuk), then run `pantau plan import {}`",
                file.display(),
                file.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        PlanCommand::Import { file, out, force } => {
            let bytes = read_capped(&file)?;
            let imported = match import(&bytes, &file.display().to_string()) {
                Ok(imported) => imported,
                Err(e) => {
                    eprint!("{e}");
                    return Ok(ExitCode::from(2));
                }
            };
            // The file replaced keeps its feeds (they are not part of the workbook).
            let (text, feeds) = if force && out.is_file() {
                let old = std::fs::read_to_string(&out)
                    .with_context(|| format!("cannot read {}", out.display()))?;
                match keep::with_feeds(&imported.toml, &old, &out.display().to_string()) {
                    Ok(kept) => kept,
                    Err(e) => {
                        eprint!("{e}");
                        return Ok(ExitCode::from(2));
                    }
                }
            } else {
                (imported.toml.clone(), 0)
            };
            write_new(&out, text.as_bytes(), force)?;
            let p = &imported.plan;
            let kept = if feeds > 0 {
                format!(
                    "; its {feeds} [[feed]] section{} kept",
                    if feeds == 1 { " is" } else { "s are" }
                )
            } else {
                String::new()
            };
            println!(
                "wrote {}: {}, {}, {}, {}{kept}; check it with `pantau check`",
                out.display(),
                count_en(p.departments.len(), "department", "departments"),
                count_en(p.dimensions.len(), "dimension", "dimensions"),
                count_en(p.programs.len(), "program", "programs"),
                count_en(p.indicators.len(), "indicator", "indicators")
            );
            Ok(ExitCode::SUCCESS)
        }
        PlanCommand::Export {
            first,
            second,
            plan,
        } => {
            let (plan, file) = export_paths(first, second, plan)?;
            let (plan, feeds) = export::load_plan(plan.as_deref(), config)?;
            let bytes = template::plan_workbook(&plan)?;
            write_new(&file, &bytes, false)?;
            println!(
                "wrote {}: {}, {}",
                file.display(),
                count_en(plan.programs.len(), "program", "programs"),
                count_en(plan.indicators.len(), "indicator", "indicators")
            );
            if feeds > 0 {
                println!(
                    "the plan's {feeds} [[feed]] section{} not in the workbook: `pantau plan import {} --out <that masterplan.toml> --force` keeps them",
                    if feeds == 1 { " is" } else { "s are" },
                    file.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Largest workbook `pantau plan import` reads: the upload cap (a plan is far smaller).
pub const MAX_WORKBOOK_BYTES: u64 = 8 << 20;

fn read_capped(file: &Path) -> anyhow::Result<Vec<u8>> {
    let meta = std::fs::metadata(file)
        .with_context(|| format!("cannot read {}; check the path", file.display()))?;
    if meta.len() > MAX_WORKBOOK_BYTES {
        bail!(
            "{} is {} bytes, more than the {} a plan workbook may have; save only the plan's sheets in a new workbook",
            file.display(),
            meta.len(),
            MAX_WORKBOOK_BYTES
        );
    }
    std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))
}

/// Writes `bytes` to `path`, refusing to replace an existing file unless `force`.
pub fn write_new(path: &Path, bytes: &[u8], force: bool) -> anyhow::Result<()> {
    if !force && path.exists() {
        bail!(
            "{} already exists; pantau does not overwrite it (choose another name, move it away{})",
            path.display(),
            if path.extension().is_some_and(|e| e == "toml") {
                ", or add --force"
            } else {
                ""
            }
        );
    }
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !dir.is_dir() {
            bail!(
                "the folder {} does not exist; create it first (mkdir -p {})",
                dir.display(),
                dir.display()
            );
        }
    }
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}
