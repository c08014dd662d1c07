//! The command line: `run`, `demo`, `check`, `import`, `export`, `backup`, `restore`, `report`,
//! `watch`, `token`, `init`, `plan`.
//!
//! Each subcommand loads and validates the configuration the same way; errors print their
//! whole chain and exit non-zero (2 for an invalid configuration).

use crate::app::RunOptions;
use crate::config::Config;
use crate::domain::{DepartmentId, Source};
use crate::locale::count_en as n;
use crate::store;
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `pantau --version`: the release and the commit it was built from (`unknown` outside git).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("PANTAU_GIT_COMMIT"),
    ")"
);

#[derive(Parser, Debug)]
#[command(
    name = "pantau",
    version = VERSION,
    about = "Smart City Masterplan monitoring for a city's command center"
)]
pub struct Cli {
    /// Settings file (pantau.toml), or a folder holding one. Default: config/pantau.toml if
    /// present, else the embedded example.
    #[arg(long, global = true, env = "PANTAU_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the API, the live screens and the dashboards (the default).
    Run(RunArgs),
    /// Run the example Kota Mojokerto masterplan against simulated department feeds
    /// (`--federation`: several simulated cities and a federation over them).
    Demo(DemoArgs),
    /// Validate the configuration and report every problem (exit 0 valid, 2 invalid).
    Check,
    /// Backfill observations from a CSV file (indicator,time,value[,note]): all rows or none.
    Import {
        file: PathBuf,
        #[arg(long)]
        db: Option<PathBuf>,
        /// Create the database if it does not exist yet (otherwise a missing one is an error,
        /// so that a mistyped path does not make a new, empty database).
        #[arg(long)]
        create: bool,
    },
    /// Write every indicator's series as CSV (to a file, or to standard output with `-`).
    Export {
        #[arg(default_value = "-")]
        out: PathBuf,
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// Copy the database with SQLite's online backup (safe while the daemon writes).
    Backup {
        file: PathBuf,
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// Replace the database with a backup. Refused while a daemon serves the database; the
    /// backup is checked first (integrity, schema version) and the replaced database is kept
    /// beside it as `<database>.replaced-<time>`.
    Restore {
        file: PathBuf,
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// Write the evaluation report (laporan evaluasi) of a year or a triwulan as XLSX or HTML
    /// (by the file's extension), or as JSON on standard output with `--out -`. Reads the
    /// database read-only, so it works beside a running daemon.
    Report(ReportArgs),
    /// Show live progress and events from a running daemon in the terminal.
    Watch(crate::watch::WatchArgs),
    /// Manage department tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Copy every table from one store into an empty one (SQLite file or postgres:// URL, either
    /// way), verified by row counts and a checksum per table.
    Migrate(store::migrate::MigrateArgs),
    /// Write a new city's configuration folder (pantau.toml, masterplan.toml, screens.toml).
    Init(crate::planfile::InitArgs),
    /// The masterplan as a workbook: a template to fill in, its import, its export.
    #[command(subcommand)]
    Plan(crate::planfile::PlanCommand),
}

#[derive(clap::Args, Debug, Default, Clone)]
pub struct RunArgs {
    /// Address to listen on (overrides [server] listen).
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Database file (overrides [storage] database).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Serve the dashboards from this folder instead of the embedded copy.
    #[arg(long)]
    pub dashboards: Option<PathBuf>,
}

/// `pantau demo`: the run arguments, and whether to simulate a federation.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct DemoArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Start several simulated cities and one federation daemon following them.
    #[arg(long)]
    pub federation: bool,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ReportArgs {
    /// The year (tahun anggaran), one in which the masterplan has targets, e.g. 2025.
    #[arg(long)]
    pub year: String,
    /// Only up to this triwulan: 1-4 (or I-IV).
    #[arg(long)]
    pub quarter: Option<String>,
    /// Only this department's (OPD's) indicators and compliance.
    #[arg(long)]
    pub department: Option<String>,
    /// FILE.xlsx, FILE.html (or .json), or `-` for JSON on standard output.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long)]
    pub db: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a token for a department; it is printed once and stored only as a hash.
    Create {
        department: String,
        #[arg(long, default_value = "")]
        label: String,
        #[arg(long)]
        db: Option<PathBuf>,
        /// Create the database if it does not exist yet.
        #[arg(long)]
        create: bool,
    },
    /// List tokens (never their secrets).
    List {
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// Revoke a token by id.
    Revoke {
        id: i64,
        #[arg(long)]
        db: Option<PathBuf>,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = match crate::telemetry::LogFormat::from_env() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("pantau: {e}");
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init(format);
    if !matches!(
        cli.command,
        None | Some(Command::Run(_)) | Some(Command::Demo(_))
    ) {
        reader_may_go_away();
    }
    match execute(cli) {
        Ok(code) => code,
        Err(e) => {
            if let Some(c) = e.downcast_ref::<crate::config::ConfigError>() {
                crate::telemetry::fatal(&format!("pantau: {c}"));
                return ExitCode::from(2);
            }
            let mut text = format!("pantau: error: {e}\n");
            for cause in e.chain().skip(1) {
                text.push_str(&format!("  caused by: {cause}\n"));
            }
            crate::telemetry::fatal(&text);
            ExitCode::FAILURE
        }
    }
}

/// A command whose output is piped into `head` (or a pager that quits) ends quietly when the
/// reader goes away, as `cat` does, instead of reporting a broken pipe: the default action of
/// SIGPIPE is restored (Rust ignores it). Only for commands that print; the daemon keeps
/// ignoring it, since a screen that disconnects must never stop it.
fn reader_may_go_away() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to its default before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn load(cli_config: &Option<PathBuf>) -> anyhow::Result<Config> {
    Ok(Config::load(cli_config.as_deref())?)
}

fn db_path(config: &Config, db: &Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let (None, Some(p)) = (db, &config.settings.postgres) {
        bail!(
            "this command works on a SQLite file, but [storage] url names the PostgreSQL server {}; give it --db FILE, or copy between the two with `pantau migrate`",
            p.shown
        );
    }
    Ok(db
        .clone()
        .unwrap_or_else(|| config.settings.database.clone()))
}

/// `pantau backup` and `restore` copy SQLite files; a PostgreSQL store is backed up, restored
/// and replicated by PostgreSQL's own tools, which do it online and point-in-time.
fn sqlite_only_backups(config: &Config, db: &Option<PathBuf>, verb: &str) -> anyhow::Result<()> {
    if let (None, Some(p)) = (db, &config.settings.postgres) {
        bail!(
            "pantau {verb} copies a SQLite file, but [storage] url names the PostgreSQL server {}; back it up with PostgreSQL's own tools: `pg_dump -Fc` for a copy (`pg_restore` to bring it back), or `pg_basebackup` with WAL archiving for point-in-time recovery; `pantau migrate` copies it into a SQLite file",
            p.shown
        );
    }
    Ok(())
}

/// Where `pantau import` writes.
enum ImportInto<'a> {
    Sqlite(PathBuf),
    Postgres(&'a crate::store::url::PostgresSettings),
}

/// Says on standard error which PostgreSQL server a command works on (password hidden).
fn announce_postgres(p: &crate::store::url::PostgresSettings) {
    crate::telemetry::notice(
        &format!(
            "pantau: database {} (serving daemons show what this command writes at its commit)",
            p.shown
        ),
        &[("database", &p.shown)],
    );
}

/// Says on standard error which database a command works on, and whether a daemon serves it.
fn announce_db(db: &Path) {
    match store::lock::holder(db) {
        Some(holder) => crate::telemetry::notice(
            &format!(
                "pantau: database {} (served by {holder}; it shows what this command writes within a few seconds)",
                db.display()
            ),
            &[("database", &db.display().to_string())],
        ),
        None => crate::telemetry::notice(
            &format!("pantau: database {}", db.display()),
            &[("database", &db.display().to_string())],
        ),
    }
}

/// The database of a command that writes: it must exist unless `create` is given.
fn existing_or_create(db: &Path, create: bool) -> anyhow::Result<()> {
    if !create && !db.exists() {
        bail!(
            "there is no database at {}; check --db or [storage] database in pantau.toml, or add --create to make a new one",
            db.display()
        );
    }
    announce_db(db);
    Ok(())
}

/// The database of a command that only reads: it must exist.
fn existing(db: &Path) -> anyhow::Result<()> {
    if !db.exists() {
        bail!(
            "there is no database at {}; check --db or [storage] database in pantau.toml",
            db.display()
        );
    }
    announce_db(db);
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn execute(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command.unwrap_or(Command::Run(RunArgs::default())) {
        Command::Run(args) => {
            // A folder with federation.toml follows cities instead (src/federation).
            if let Some(file) = crate::federation::find(cli.config.as_deref()) {
                return serve_federation(&file, args);
            }
            let mut config = load(&cli.config)?;
            apply_run_args(&mut config, &args);
            serve(config, args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo(DemoArgs {
            federation: true,
            run: args,
        }) => {
            runtime()?.block_on(crate::federation::demo::run(args.listen, args.dashboards))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo(DemoArgs { run: args, .. }) => {
            if let Some(c) = &cli.config {
                eprintln!(
                    "pantau demo: it always runs the embedded example city, so {} is not used; serve your own configuration with `pantau run --config {}`",
                    c.display(),
                    c.display()
                );
            }
            runtime()?.block_on(crate::demo::run(crate::demo::DemoOptions {
                listen: args.listen,
                db: args.db,
                dashboards: args.dashboards,
            }))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Check if crate::federation::find(cli.config.as_deref()).is_some() => {
            let file = crate::federation::find(cli.config.as_deref()).unwrap_or_default();
            match crate::federation::load(&file) {
                Ok(f) => {
                    println!(
                        "ok: a federation of {} cities ({} kota, {} kabupaten) in {}",
                        f.cities.len(),
                        f.cities
                            .iter()
                            .filter(|c| c.kind == crate::federation::config::CityKind::Kota)
                            .count(),
                        f.cities
                            .iter()
                            .filter(|c| c.kind == crate::federation::config::CityKind::Kabupaten)
                            .count(),
                        file.display()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprint!("{e}");
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Check => match Config::load(cli.config.as_deref()) {
            Ok(c) => {
                let m = &c.masterplan;
                println!(
                    "ok: {}, {}, {} ({}), {}, {}",
                    n(m.departments.len(), "department", "departments"),
                    n(m.dimensions.len(), "dimension", "dimensions"),
                    n(m.programs.len(), "program", "programs"),
                    n(
                        m.programs.iter().filter(|p| p.quick_win).count(),
                        "quick win",
                        "quick wins"
                    ),
                    n(m.indicators.len(), "indicator", "indicators"),
                    n(c.feeds.len(), "feed", "feeds")
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprint!("{e}");
                Ok(ExitCode::from(2))
            }
        },
        Command::Import { file, db, create } => {
            let config = load(&cli.config)?;
            let into = match (&db, &config.settings.postgres) {
                (None, Some(p)) => {
                    announce_postgres(p);
                    ImportInto::Postgres(p)
                }
                _ => {
                    let db = db_path(&config, &db)?;
                    existing_or_create(&db, create)?;
                    ImportInto::Sqlite(db)
                }
            };
            match import_file(&config, &into, &file, true)? {
                Ok(summary) => {
                    println!("{summary}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(report) => {
                    eprint!("{report}");
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Export { out, db } => {
            let config = load(&cli.config)?;
            let mut csv = ExportCsv::create(&out, config.settings.city.time_zone)?;
            let n = match (&db, &config.settings.postgres) {
                (None, Some(p)) => {
                    announce_postgres(p);
                    let shared = std::sync::Arc::new(std::sync::Mutex::new(csv));
                    let writer = shared.clone();
                    let n = store::postgres::export_blocking(p, move |row| {
                        let mut w = writer.lock().unwrap_or_else(|e| e.into_inner());
                        w.row(&row)
                    })?;
                    csv = match std::sync::Arc::try_unwrap(shared) {
                        Ok(m) => m.into_inner().unwrap_or_else(|e| e.into_inner()),
                        Err(_) => bail!("the export's writer is still in use"),
                    };
                    n
                }
                _ => {
                    let db = db_path(&config, &db)?;
                    existing(&db)?;
                    export_sqlite(&db, &mut csv)?
                }
            };
            csv.finish()?;
            if out != Path::new("-") {
                eprintln!(
                    "exported {} to {}",
                    self::n(n as usize, "observation", "observations"),
                    out.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { file, db } => {
            let config = load(&cli.config)?;
            sqlite_only_backups(&config, &db, "backup")?;
            let src = db_path(&config, &db)?;
            existing(&src)?;
            if file.exists() {
                bail!("{} already exists; choose a new file name", file.display());
            }
            if let Some(folder) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
                if !folder.is_dir() {
                    bail!(
                        "the folder {} does not exist; create it first (mkdir -p {}) or write the backup elsewhere",
                        folder.display(),
                        folder.display()
                    );
                }
            }
            let check = store::backup::backup(&src, &file)?;
            if check != "ok" {
                bail!("the copy failed its integrity check: {check}");
            }
            println!("backup written to {} (integrity_check: ok)", file.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore { file, db } => {
            let config = load(&cli.config)?;
            sqlite_only_backups(&config, &db, "restore")?;
            let db = db_path(&config, &db)?;
            let tz = config.settings.city.time_zone;
            let restored =
                store::backup::restore(&file, &db, chrono::Utc::now().with_timezone(&tz))?;
            println!(
                "restored {} from {} (schema version {}, {} {})",
                db.display(),
                file.display(),
                restored.schema_version,
                crate::locale::format_number(
                    restored.observations as f64,
                    0,
                    config.settings.city.locale
                ),
                if restored.observations == 1 {
                    "observation"
                } else {
                    "observations"
                }
            );
            match &restored.replaced {
                Some(aside) => println!(
                    "the database it replaced is kept as {}; delete it once the restored one serves well",
                    aside.display()
                ),
                None => println!("there was no database at {} before", db.display()),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Report(args) => {
            let config = load(&cli.config)?;
            report(&config, &args)
        }
        Command::Watch(args) => {
            runtime()?.block_on(crate::watch::run(args))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Token(cmd) => {
            let config = load(&cli.config)?;
            token(&config, cmd)
        }
        Command::Migrate(args) => store::migrate::run(&args),
        Command::Init(args) => crate::planfile::init::run(&args),
        Command::Plan(cmd) => crate::planfile::run(cmd, cli.config.as_deref()),
    }
}

pub(crate) fn apply_run_args(config: &mut Config, args: &RunArgs) {
    if let Some(l) = args.listen {
        config.settings.server.listen = l;
    }
    if let Some(db) = &args.db {
        config.settings.database = db.clone();
    }
}

fn serve(config: Config, args: RunArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        let stop = crate::server::shutdown_signal();
        let listener = tokio::net::TcpListener::bind(config.settings.server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.settings.server.listen))?;
        let addr = listener.local_addr()?;
        let db = config.settings.database.clone();
        let (lock, shown) = match &config.settings.postgres {
            Some(p) => (None, p.shown.clone()),
            None => (
                Some(crate::server::claim(
                    &db,
                    addr,
                    config.settings.city.time_zone,
                )?),
                db.display().to_string(),
            ),
        };
        crate::telemetry::notice(
            &format!("pantau: database {shown}"),
            &[("database", &shown)],
        );
        // Tests and scripts read the address from this line, in either log format.
        crate::telemetry::notice(
            &format!(
                "pantau: {} — open http://{addr}/",
                config.settings.city.name
            ),
            &[("address", &format!("http://{addr}/"))],
        );
        crate::server::run(
            config,
            listener,
            RunOptions {
                dashboards_dir: args.dashboards,
                heartbeat: None,
                lock,
            },
            stop,
        )
        .await
    })
}

/// Serves a federation (`federation.toml` beside `pantau.toml`).
fn serve_federation(file: &Path, args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut config = crate::federation::load(file)?;
    if let Some(l) = args.listen {
        config.settings.server.listen = l;
    }
    if let Some(db) = &args.db {
        config.settings.database = db.clone();
    }
    runtime()?.block_on(async move {
        let stop = crate::server::shutdown_signal();
        let listener = tokio::net::TcpListener::bind(config.settings.server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.settings.server.listen))?;
        let addr = listener.local_addr()?;
        eprintln!("pantau: database {}", config.settings.database.display());
        eprintln!(
            "pantau: {} — a federation of {} cities — open http://{addr}/",
            config.name(),
            config.cities.len()
        );
        crate::federation::run(
            config,
            listener,
            crate::federation::FederationOptions {
                dashboards_dir: args.dashboards,
            },
            stop,
        )
        .await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Imports a CSV file through a writer of its own. Ok(Err(report)) lists every bad row.
fn import_file(
    config: &Config,
    into: &ImportInto<'_>,
    file: &Path,
    progress_bar: bool,
) -> anyhow::Result<Result<String, String>> {
    let body = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    // Large files show what stage the import is in: reading, validating, writing.
    let bar = (progress_bar && body.len() > 1_000_000).then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.enable_steady_tick(std::time::Duration::from_millis(120));
        b.set_message(format!(
            "reading {} ({} MB)",
            file.display(),
            body.len() / 1_000_000
        ));
        b
    });
    let stage = |m: String| {
        if let Some(b) = &bar {
            b.set_message(m);
        }
    };
    let rows = match crate::ingest::parse::csv_rows(&body, usize::MAX) {
        Ok(r) => r,
        Err(e) => {
            if let Some(b) = &bar {
                b.finish_and_clear();
            }
            let mut report = format!("{}: {}\n", file.display(), e.message);
            for r in e.rows {
                report.push_str(&format!(
                    "  line {}: {}: {} ({})\n",
                    r.row, r.field, r.reason, r.fix
                ));
            }
            return Ok(Err(report));
        }
    };
    // The rows own their text now; the file's bytes are not needed any more.
    drop(body);
    stage(format!("validating {}", n(rows.len(), "row", "rows")));
    let now = chrono::Utc::now().timestamp_millis();
    let validated = crate::ingest::validate(
        &config.masterplan,
        config.settings.city.time_zone,
        now,
        None,
        rows,
    );
    let observations = match validated {
        Ok(o) => o,
        Err(crate::ingest::Rejection::Invalid(errors))
        | Err(crate::ingest::Rejection::NotOwner(errors)) => {
            if let Some(b) = &bar {
                b.finish_and_clear();
            }
            let mut report = format!(
                "{}: {}; nothing was imported:\n",
                file.display(),
                n(errors.len(), "problem", "problems")
            );
            for r in errors {
                report.push_str(&format!(
                    "  line {}: {}: {} ({})\n",
                    r.row, r.field, r.reason, r.fix
                ));
            }
            return Ok(Err(report));
        }
    };
    let total = observations.len();
    stage(format!(
        "writing {} in one transaction",
        n(total, "row", "rows")
    ));
    let outcome = match into {
        ImportInto::Sqlite(db) => store::backfill(db, observations, Source::Import),
        ImportInto::Postgres(p) => store::postgres::import_blocking(p, observations),
    };
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let outcome = outcome?;
    Ok(Ok(format!(
        "imported {} from {}: {} new, {} corrected, {} unchanged",
        n(total, "row", "rows"),
        file.display(),
        outcome.0,
        outcome.1,
        outcome.2
    )))
}

/// The CSV of `pantau export`, written row by row (to a file, or standard output for `-`).
struct ExportCsv {
    csv: csv::Writer<Box<dyn std::io::Write + Send>>,
    tz: chrono_tz::Tz,
}

impl ExportCsv {
    fn create(out: &Path, tz: chrono_tz::Tz) -> anyhow::Result<ExportCsv> {
        let writer: Box<dyn std::io::Write + Send> = if out == Path::new("-") {
            Box::new(std::io::stdout())
        } else {
            Box::new(
                std::fs::File::create(out)
                    .with_context(|| format!("cannot create {}", out.display()))?,
            )
        };
        let mut csv = csv::Writer::from_writer(writer);
        csv.write_record([
            "indicator",
            "time",
            "value",
            "source",
            "department",
            "note",
            "received",
        ])?;
        Ok(ExportCsv { csv, tz })
    }

    /// Text cells go through the one neutraliser so that a note such as `=HYPERLINK(...)` opens
    /// as text in a spreadsheet program; the value stays a plain number.
    fn row(&mut self, r: &store::read::ExportRow) -> std::io::Result<()> {
        use crate::values::neutralise;
        let text = |s: &str| neutralise(s).into_owned();
        self.csv
            .write_record([
                text(&r.indicator),
                crate::domain::format_instant(r.time, self.tz),
                r.value.to_string(),
                text(&r.source),
                text(r.department.as_deref().unwrap_or_default()),
                text(r.note.as_deref().unwrap_or_default()),
                crate::domain::format_instant(r.received, self.tz),
            ])
            .map_err(std::io::Error::other)
    }

    fn finish(mut self) -> anyhow::Result<()> {
        self.csv.flush()?;
        Ok(())
    }
}

/// Every observation of a SQLite database into `csv`; returns the count.
fn export_sqlite(db: &Path, csv: &mut ExportCsv) -> anyhow::Result<u64> {
    let conn = store::open_reader(db)?;
    let mut stmt = conn.prepare("SELECT indicator, t, value, source, department, note, received FROM observation ORDER BY indicator, t")?;
    let mut rows = stmt.query([])?;
    let mut n = 0u64;
    while let Some(r) = rows.next()? {
        csv.row(&store::read::ExportRow {
            indicator: r.get(0)?,
            time: r.get(1)?,
            value: r.get(2)?,
            source: r.get(3)?,
            department: r.get(4)?,
            note: r.get(5)?,
            received: r.get(6)?,
        })?;
        n += 1;
    }
    Ok(n)
}

/// `pantau report`: exit 2 for a bad year, triwulan, department or output name.
fn report(config: &Config, args: &ReportArgs) -> anyhow::Result<ExitCode> {
    use crate::report::{self, Format, Period, ReportError, Request};
    let usage = |flag: &str, message: &str| {
        eprintln!("pantau report: --{flag}: {message}");
        Ok(ExitCode::from(2))
    };
    let to_stdout = args.out == Path::new("-");
    let format = if to_stdout {
        Format::Json
    } else {
        match Format::from_path(&args.out) {
            Some(f) => f,
            None => {
                return usage(
                    "out",
                    &format!(
                        "`{}` does not end in .xlsx, .html or .json; the extension chooses the format (`-` writes JSON to standard output)",
                        args.out.display()
                    ),
                );
            }
        }
    };
    let request = (|| -> Result<Request, ReportError> {
        Ok(Request {
            year: report::parse_year(&args.year)?,
            quarter: args
                .quarter
                .as_deref()
                .map(report::parse_quarter)
                .transpose()?,
            department: args.department.clone(),
        })
    })()
    .and_then(|r| {
        Period::resolve(&r, &config.masterplan, config.settings.city.time_zone)?;
        Ok(r)
    });
    let request = match request {
        Ok(r) => r,
        Err(ReportError::BadParameter { name, message }) => return usage(name, &message),
        Err(e) => return Err(e.into()),
    };
    let now = chrono::Utc::now().timestamp_millis();
    let made = match (&args.db, &config.settings.postgres) {
        (None, Some(p)) => {
            announce_postgres(p);
            let (config, request) = (config.clone(), request.clone());
            store::postgres::read_once(p, move |conn| {
                report::source::from_reader(&config, conn, &request, now)
            })?
        }
        _ => {
            let db = db_path(config, &args.db)?;
            existing(&db)?;
            report::source::from_database(config, &db, &request, now)?
        }
    };
    let body = report::render(&made, format)?;
    if to_stdout {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        out.write_all(&body)?;
        out.write_all(b"\n")?;
        out.flush()?;
    } else {
        std::fs::write(&args.out, &body)
            .with_context(|| format!("cannot write {}", args.out.display()))?;
    }
    eprintln!(
        "pantau report: laporan evaluasi {} of {} ({}, versi rencana {}){}",
        made.period.label,
        made.city,
        n(made.rows().count(), "indicator", "indicators"),
        made.plan_version,
        if to_stdout {
            String::new()
        } else {
            format!(" written to {}", args.out.display())
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// A table with columns padded to their widest cell (counted in characters, not bytes).
fn aligned<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == N {
                out.push_str(cell);
            } else {
                out.push_str(cell);
                out.push_str(&" ".repeat(w - cell.chars().count() + 2));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

fn token(config: &Config, cmd: TokenCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TokenCommand::Create {
            department,
            label,
            db,
            create,
        } => {
            let Some(d) = config.masterplan.department(&department) else {
                let ids: Vec<&str> = config
                    .masterplan
                    .departments
                    .iter()
                    .map(|d| d.id.as_str())
                    .collect();
                bail!(
                    "`{department}` is not a department of the masterplan; use one of: {}",
                    ids.join(", ")
                );
            };
            let id = DepartmentId::parse(d.id.as_str())?;
            let (tid, token) = match (&config.settings.postgres, &db) {
                (Some(p), None) => {
                    announce_postgres(p);
                    store::postgres::create_token_blocking(p, &id, &label)?
                }
                _ => {
                    let db = db_path(config, &db)?;
                    existing_or_create(&db, create)?;
                    let conn = store::open_writer(&db)?;
                    store::tokens::create(&conn, &id, &label)?
                }
            };
            eprintln!(
                "token {tid} for {} ({}) — shown only now, store it safely:",
                d.name, d.id
            );
            println!("{token}");
        }
        TokenCommand::List { db } => {
            let list = match (&config.settings.postgres, &db) {
                (Some(p), None) => {
                    announce_postgres(p);
                    store::postgres::list_tokens_blocking(p)?
                }
                _ => {
                    let db = db_path(config, &db)?;
                    existing(&db)?;
                    store::tokens::list(&store::open_writer(&db)?)?
                }
            };
            let tz = config.settings.city.time_zone;
            let rows: Vec<[String; 5]> = list
                .into_iter()
                .map(|t| {
                    let status = match t.revoked {
                        Some(r) => format!("revoked {}", crate::domain::format_instant(r, tz)),
                        None => "active".into(),
                    };
                    [
                        t.id.to_string(),
                        t.department,
                        t.label,
                        crate::domain::format_instant(t.created, tz),
                        status,
                    ]
                })
                .collect();
            print!(
                "{}",
                aligned(["id", "department", "label", "created", "status"], &rows)
            );
        }
        TokenCommand::Revoke { id, db } => {
            let revoked = match (&config.settings.postgres, &db) {
                (Some(p), None) => {
                    announce_postgres(p);
                    store::postgres::revoke_token_blocking(p, id)?
                }
                _ => {
                    let db = db_path(config, &db)?;
                    existing(&db)?;
                    store::tokens::revoke(&store::open_writer(&db)?, id)?
                }
            };
            let tz = config.settings.city.time_zone;
            match revoked {
                store::tokens::Revoked::Now => println!("token {id} revoked"),
                store::tokens::Revoked::Already(at) => println!(
                    "token {id} was already revoked on {}; nothing changed",
                    crate::domain::format_instant(at, tz)
                ),
                store::tokens::Revoked::NoSuchToken => {
                    bail!("there is no token {id}; see `pantau token list`")
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
