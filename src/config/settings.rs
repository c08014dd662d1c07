//! `Settings`: the daemon's own settings from `pantau.toml`, with `PANTAU_<SECTION>__<KEY>`
//! environment overrides. Secrets (the admin token) are never printed.

use super::Problem;
use super::table::FieldReader;
use crate::progress::Thresholds;
use chrono_tz::Tz;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

pub use crate::locale::Locale;

/// `[server]`: where and how pantau listens.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    /// Largest request body accepted, in bytes (413 beyond it).
    pub max_body_bytes: u64,
    /// Most observations accepted in one post.
    pub max_rows_per_request: usize,
    /// Write requests one token may make per minute (429 beyond it).
    pub rate_limit_per_minute: u32,
    /// Origins allowed to open websockets from a browser, besides `public_url`, the address
    /// the daemon was reached at and loopback; `*` allows any.
    pub allowed_origins: Vec<String>,
    /// Time a client has to send a request's headers; slower connections are closed.
    pub header_read_timeout: std::time::Duration,
    /// Open HTTP connections at once (websockets not counted); when all are taken the one that
    /// waited longest for a request is closed. Lowered at start to fit the open-file limit.
    pub max_connections: usize,
    /// Live screens (websockets) at once; more get 503. Lowered at start to fit the open-file
    /// limit.
    pub max_screens: usize,
    /// The address browsers open pantau at, through the reverse proxy
    /// (`https://pantau.mojokertokota.go.id`): its origin may open websockets.
    pub public_url: Option<reqwest::Url>,
    /// Who may show the dashboards in a frame: the CSP `frame-ancestors` sources.
    pub frame_ancestors: String,
}

/// `[city]`: the city, its zone and language.
#[derive(Debug, Clone)]
pub struct CitySettings {
    pub name: String,
    pub time_zone: Tz,
    pub locale: Locale,
}

/// `[progress]`: thresholds and clocks of the progress method.
#[derive(Debug, Clone)]
pub struct ProgressSettings {
    pub thresholds: Thresholds,
    /// Seconds between re-evaluations of staleness and expected progress.
    pub tick_seconds: u64,
}

/// A secret that never appears in logs or debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

/// `[auth]`: the admin token, which may write any indicator and reload the config.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub admin_token: Option<Secret>,
}

/// `[webhooks]`: where status-transition events are POSTed as JSON.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub urls: Vec<reqwest::Url>,
    /// Retries with exponential backoff after a failed delivery.
    pub retries: u32,
    pub timeout: std::time::Duration,
}

/// `[storage.backup]`: scheduled online backups of the database (off unless `every` is set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSettings {
    /// Time between backups (`1d`, `12h`, `30m`, `30s`).
    pub every: std::time::Duration,
    /// How many backups are kept (the newest).
    pub keep: usize,
    /// The folder they are written to; relative to the settings file.
    pub dir: PathBuf,
}

/// One signer of the evaluation report (the block under it): their office, name and NIP.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Signature {
    /// The office, e.g. `Kepala Bappeda`.
    pub jabatan: String,
    pub nama: String,
    /// Nomor Induk Pegawai (18 digits); elected officials have none.
    pub nip: Option<String>,
}

/// `[report]`: what the evaluation report (laporan evaluasi) prints besides its figures.
#[derive(Debug, Clone, Default)]
pub struct ReportSettings {
    /// The place written before the date above the signatures, e.g. `Mojokerto`.
    pub place: Option<String>,
    /// Who signs the report, left to right.
    pub signatures: Vec<Signature>,
}

/// The most signers a report's signature block holds.
const MAX_SIGNATURES: usize = 6;
/// The longest `jabatan`, `nama` or `place` accepted, in characters.
const MAX_SIGNATURE_TEXT: usize = 200;

/// All daemon settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The masterplan file, relative to the settings file.
    pub masterplan: PathBuf,
    /// The wall's screens file, relative to the settings file (None: a `screens.toml` beside
    /// the settings when there is one, else the example screens).
    pub screens: Option<PathBuf>,
    pub server: ServerSettings,
    /// The SQLite database file (when `postgres` is None).
    pub database: PathBuf,
    /// The PostgreSQL server to store in instead (`[storage] url = "postgres://…"`).
    pub postgres: Option<Box<crate::store::url::PostgresSettings>>,
    /// Scheduled backups (None: off).
    pub backup: Option<BackupSettings>,
    pub city: CitySettings,
    pub progress: ProgressSettings,
    pub auth: AuthSettings,
    pub webhooks: WebhookSettings,
    pub reminders: super::reminders::RemindersSettings,
    pub smtp: super::reminders::SmtpSettings,
    pub report: ReportSettings,
}

/// Applies `PANTAU_<SECTION>__<KEY>=value` (and `PANTAU_MASTERPLAN`) to the parsed table; a
/// table inside a section is named with one more `__` (`PANTAU_STORAGE__BACKUP__EVERY` sets
/// `[storage.backup] every`). A value replaces a string as a string; for other keys it is read
/// as a TOML value (`0.9`, `true`, `[..]`).
fn apply_env(table: &mut toml::Table, env: &[(String, String)], problems: &mut Vec<Problem>) {
    let defaults: toml::Table = toml::from_str(super::EMBEDDED_SETTINGS).unwrap_or_default();
    for (name, value) in env {
        let Some(rest) = name.strip_prefix("PANTAU_") else {
            continue;
        };
        let (sections, key): (Vec<String>, String) = match rest.rsplit_once("__") {
            Some((s, k)) => (
                s.split("__").map(str::to_ascii_lowercase).collect(),
                k.to_ascii_lowercase(),
            ),
            None if rest == "MASTERPLAN" => (Vec::new(), "masterplan".to_string()),
            None if rest == "SCREENS" => (Vec::new(), "screens".to_string()),
            None => continue, // PANTAU_CONFIG and friends belong to the command line
        };
        let mut default_table = Some(&defaults);
        for s in &sections {
            default_table = default_table
                .and_then(|t| t.get(s))
                .and_then(|v| v.as_table());
        }
        let default = default_table.and_then(|t| t.get(&key));
        let parsed = if matches!(default, Some(toml::Value::String(_))) {
            toml::Value::String(value.clone())
        } else {
            toml::from_str::<toml::Table>(&format!("v = {value}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or_else(|| toml::Value::String(value.clone()))
        };
        match section_table(table, &sections) {
            Ok(target) => {
                target.insert(key, parsed);
            }
            Err(s) => problems.push(Problem {
                file: "environment".into(),
                item: name.clone(),
                field: s.clone(),
                message: format!("`{s}` is not a section of pantau.toml; check the variable name"),
            }),
        }
    }
}

/// The table at `path` inside `table`, made when missing; Err(name) where a value that is not
/// a table is in the way.
fn section_table<'t>(
    table: &'t mut toml::Table,
    path: &[String],
) -> Result<&'t mut toml::Table, String> {
    let Some((first, rest)) = path.split_first() else {
        return Ok(table);
    };
    match table
        .entry(first.clone())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
    {
        toml::Value::Table(t) => section_table(t, rest),
        _ => Err(first.clone()),
    }
}

/// Parses and validates settings text; `None` when a problem makes them unusable.
pub(super) fn parse_settings(
    text: &str,
    file: &str,
    env: &[(String, String)],
    problems: &mut Vec<Problem>,
) -> Option<Settings> {
    let before = problems.len();
    let mut table: toml::Table = match toml::from_str(text) {
        Ok(t) => t,
        Err(e) => {
            problems.push(Problem {
                file: file.to_string(),
                item: "file".into(),
                field: String::new(),
                message: format!("is not valid TOML: {}", e.to_string().trim()),
            });
            return None;
        }
    };
    apply_env(&mut table, env, problems);

    let empty = toml::Table::new();
    let section = |name: &str, problems: &mut Vec<Problem>| -> toml::Table {
        match table.get(name) {
            None => toml::Table::new(),
            Some(toml::Value::Table(t)) => t.clone(),
            Some(_) => {
                problems.push(Problem {
                    file: file.to_string(),
                    item: format!("[{name}]"),
                    field: String::new(),
                    message: format!("must be a table; write `[{name}]` on its own line"),
                });
                toml::Table::new()
            }
        }
    };
    let server_t = section("server", problems);
    let storage_t = section("storage", problems);
    let city_t = section("city", problems);
    let progress_t = section("progress", problems);
    let auth_t = section("auth", problems);
    let webhooks_t = section("webhooks", problems);
    let reminders_t = section("reminders", problems);
    let smtp_t = section("smtp", problems);
    let report_t = section("report", problems);

    let mut top = FieldReader::new(file, "top level".into(), &table, problems);
    let masterplan = top
        .opt_string("masterplan")
        .unwrap_or_else(|| "masterplan.toml".into());
    let screens = top.opt_string("screens").map(PathBuf::from);
    for key in [
        "server",
        "storage",
        "city",
        "progress",
        "auth",
        "webhooks",
        "reminders",
        "smtp",
        "report",
    ] {
        let _ = top.opt_value(key);
    }
    top.finish();

    let mut r = FieldReader::new(file, "[server]".into(), &server_t, problems);
    let listen_text = r
        .opt_string("listen")
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let listen = listen_text.parse::<SocketAddr>().ok();
    if listen.is_none() {
        r.problem(
            "listen",
            format!("`{listen_text}` is not an address and port; write e.g. `127.0.0.1:8080` or `0.0.0.0:8080`"),
        );
    }
    let max_body_bytes = positive_int(&mut r, "max_body_bytes", 8 * 1024 * 1024);
    let max_rows_per_request = positive_int(&mut r, "max_rows_per_request", 10_000);
    let rate_limit_per_minute = positive_int(&mut r, "rate_limit_per_minute", 600);
    let allowed_origins = r
        .opt_array("allowed_origins")
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let header_read_timeout = match r.opt_string("header_read_timeout") {
        None => std::time::Duration::from_secs(10),
        Some(t) => match super::masterplan::parse_duration(&t) {
            Ok(d) => d,
            Err(e) => {
                r.problem("header_read_timeout", e);
                std::time::Duration::from_secs(10)
            }
        },
    };
    let max_connections = bounded_int(&mut r, "max_connections", 4096, 1_000_000);
    let max_screens = bounded_int(&mut r, "max_screens", 2000, 1_000_000);
    let public_url = match r.opt_string("public_url") {
        None => None,
        Some(t) if t.trim().is_empty() => None,
        Some(t) => match reqwest::Url::parse(t.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
            _ => {
                r.problem(
                    "public_url",
                    format!("`{}` is not an http(s) address; write the address browsers open, e.g. \"https://pantau.mojokertokota.go.id\", or leave it empty", shorten(&t)),
                );
                None
            }
        },
    };
    let frame_ancestors = match r.opt_string("frame_ancestors") {
        None => "'self'".to_string(),
        Some(t) => match check_frame_ancestors(&t) {
            Ok(v) => v,
            Err(e) => {
                r.problem("frame_ancestors", e);
                "'self'".to_string()
            }
        },
    };
    r.finish();

    let mut r = FieldReader::new(file, "[storage]".into(), &storage_t, problems);
    let database_text = r.opt_string("database");
    let url = r.opt_string("url");
    let read_url = r.opt_string("read_url");
    let password = r.opt_string("password");
    let startup_wait = r.opt_string("startup_wait");
    let mut postgres: Option<Box<crate::store::url::PostgresSettings>> = None;
    let mut database = PathBuf::from(database_text.clone().unwrap_or_else(|| "pantau.db".into()));
    match url {
        Some(_) if database_text.is_some() => r.problem(
            "url",
            "and `database` are both set; keep one: `url` (a file path, `sqlite:PATH` or `postgres://…`) or `database` (a file path)",
        ),
        Some(u) => match crate::store::url::parse(&u, read_url.as_deref(), password.as_deref(), env) {
            Ok(crate::store::url::StorageUrl::Sqlite(path)) => database = path,
            Ok(crate::store::url::StorageUrl::Postgres(p)) => postgres = Some(p),
            Err(e) => r.problem("url", e),
        },
        None if read_url.is_some() || password.is_some() => r.problem(
            "url",
            "is missing, but `read_url` or `password` is set; add `url = \"postgres://user@host/db\"`, or remove them",
        ),
        None => {}
    }
    match (startup_wait, postgres.as_mut()) {
        (None, _) => {}
        (Some(_), None) => r.problem(
            "startup_wait",
            "is for a PostgreSQL server that may not be up yet; a SQLite file is opened at once: remove `startup_wait`",
        ),
        (Some(t), Some(p)) => match parse_interval(&t) {
            Ok(d) => p.startup_wait = d,
            Err(e) => r.problem("startup_wait", e),
        },
    }
    let backup_t = r.opt_table("backup").cloned();
    r.finish();
    if postgres.is_some() && backup_t.is_some() {
        problems.push(Problem {
            file: file.to_string(),
            item: "[storage.backup]".into(),
            field: String::new(),
            message: "copies a SQLite file, but `url` names a PostgreSQL server; back PostgreSQL up with its own tools (pg_dump, pg_basebackup) and remove [storage.backup]".into(),
        });
    }
    let backup = backup_t.and_then(|t| read_backup(file, &t, problems));

    let mut r = FieldReader::new(file, "[city]".into(), &city_t, problems);
    let name = r
        .opt_string("name")
        .unwrap_or_else(|| "Kota Mojokerto".into());
    let zone_text = r
        .opt_string("time_zone")
        .unwrap_or_else(|| "Asia/Jakarta".into());
    let time_zone = zone_text.parse::<Tz>().ok();
    if time_zone.is_none() {
        r.problem(
            "time_zone",
            format!("`{zone_text}` is not an IANA time zone; use `Asia/Jakarta` (WIB), `Asia/Makassar` (WITA) or `Asia/Jayapura` (WIT)"),
        );
    }
    let locale = match r.opt_string("locale").as_deref() {
        None | Some("id") => Some(Locale::Id),
        Some("en") => Some(Locale::En),
        Some(other) => {
            r.problem(
                "locale",
                format!(
                    "`{other}` is not a supported language; use `id` (Bahasa Indonesia) or `en`"
                ),
            );
            None
        }
    };
    r.finish();

    let mut r = FieldReader::new(file, "[progress]".into(), &progress_t, problems);
    let d = Thresholds::default();
    let on_track = r.opt_number("on_track").unwrap_or(d.on_track);
    let at_risk = r.opt_number("at_risk").unwrap_or(d.at_risk);
    let stale_grace = r.opt_number("stale_grace").unwrap_or(d.stale_grace);
    let forecast_window_days = r
        .opt_number("forecast_window_days")
        .unwrap_or(d.forecast_window_days);
    let tick_seconds = positive_int(&mut r, "tick_seconds", 30);
    if !(0.0 < at_risk && at_risk <= on_track && on_track <= 1.0) {
        r.problem(
            "on_track",
            format!("the thresholds must satisfy 0 < at_risk <= on_track <= 1 (found at_risk = {at_risk}, on_track = {on_track}); e.g. on_track = 0.95, at_risk = 0.85"),
        );
    }
    if stale_grace < 0.0 {
        r.problem(
            "stale_grace",
            "must be 0 or more (a fraction of update_every, e.g. 0.5)",
        );
    }
    if forecast_window_days < 1.0 {
        r.problem("forecast_window_days", "must be at least 1 day, e.g. 180");
    }
    let capaian_decrease = match r.opt_string("capaian_decrease").as_deref() {
        None | Some("inverse") => crate::progress::CapaianDecrease::Inverse,
        Some("ratio") => crate::progress::CapaianDecrease::Ratio,
        Some(other) => {
            r.problem(
                "capaian_decrease",
                format!("`{other}` is not a capaian formula; use `inverse` ((2t − r)/t × 100, the default) or `ratio` (t/r × 100)"),
            );
            crate::progress::CapaianDecrease::Inverse
        }
    };
    let mut bands = d.bands;
    if let Some(t) = r.opt_table("capaian_bands") {
        let mut read = |key: &str, slot: &mut f64| match t.get(key) {
            None => {}
            Some(v) => match v.as_float().or_else(|| v.as_integer().map(|i| i as f64)) {
                Some(x) if x.is_finite() => *slot = x,
                Some(_) => r.problem(
                    &format!("capaian_bands.{key}"),
                    format!("must be a finite number (percent), e.g. {slot} (the default)"),
                ),
                None => r.problem(
                    &format!("capaian_bands.{key}"),
                    format!("must be a number (percent), e.g. {slot} (the default)"),
                ),
            },
        };
        read("sangat_tinggi", &mut bands.sangat_tinggi);
        read("tinggi", &mut bands.tinggi);
        read("sedang", &mut bands.sedang);
        read("rendah", &mut bands.rendah);
        for key in t.keys() {
            if !["sangat_tinggi", "tinggi", "sedang", "rendah"].contains(&key.as_str()) {
                r.problem(
                    &format!("capaian_bands.{key}"),
                    "is not a category; the bands are sangat_tinggi, tinggi, sedang and rendah (below rendah is sangat rendah)",
                );
            }
        }
        if !(bands.sangat_tinggi > bands.tinggi
            && bands.tinggi > bands.sedang
            && bands.sedang > bands.rendah)
        {
            r.problem(
                "capaian_bands",
                format!("the lower bounds must fall from sangat_tinggi to rendah (found {}, {}, {}, {}); e.g. 91, 76, 66, 51", bands.sangat_tinggi, bands.tinggi, bands.sedang, bands.rendah),
            );
        }
    }
    r.finish();

    let mut r = FieldReader::new(file, "[auth]".into(), &auth_t, problems);
    let admin_token = match r.get_admin_token() {
        Some(t) if t.len() < 16 => {
            r.problem(
                "admin_token",
                "is shorter than 16 characters; use a long random value (e.g. from `openssl rand -hex 24`), or leave it empty to disable the admin token",
            );
            None
        }
        Some(t) => Some(Secret(t)),
        None => None,
    };
    r.finish();
    let _ = &empty;

    let (reminders, smtp) = super::reminders::parse(&reminders_t, &smtp_t, file, env, problems);

    let mut r = FieldReader::new(file, "[webhooks]".into(), &webhooks_t, problems);
    let mut urls = Vec::new();
    if let Some(list) = r.opt_array("urls") {
        for (i, v) in list.iter().enumerate() {
            match v.as_str().map(reqwest::Url::parse) {
                Some(Ok(u)) if matches!(u.scheme(), "http" | "https") => urls.push(u),
                _ => r.problem(&format!("urls[{i}]"), format!("`{v}` is not an http(s) URL; write e.g. \"https://hooks.example.go.id/pantau\"")),
            }
        }
    }
    let retries = match r.opt_integer("retries") {
        None => 3,
        Some(n) if (0..=10).contains(&n) => n as u32,
        Some(n) => {
            r.problem("retries", format!("must be between 0 and 10, found {n}"));
            3
        }
    };
    let timeout = match r.opt_string("timeout") {
        None => std::time::Duration::from_secs(5),
        Some(t) => match super::masterplan::parse_duration(&t) {
            Ok(d) => d,
            Err(e) => {
                r.problem("timeout", e);
                std::time::Duration::from_secs(5)
            }
        },
    };
    r.finish();

    let report = parse_report(file, &report_t, problems);

    if problems.len() > before {
        return None;
    }
    Some(Settings {
        masterplan: PathBuf::from(masterplan),
        screens,
        server: ServerSettings {
            listen: listen?,
            max_body_bytes,
            max_rows_per_request: max_rows_per_request as usize,
            rate_limit_per_minute: rate_limit_per_minute as u32,
            allowed_origins,
            header_read_timeout,
            max_connections,
            max_screens,
            public_url,
            frame_ancestors,
        },
        database,
        postgres,
        backup,
        city: CitySettings {
            name,
            time_zone: time_zone?,
            locale: locale?,
        },
        progress: ProgressSettings {
            thresholds: Thresholds {
                on_track,
                at_risk,
                stale_grace,
                forecast_window_days,
                capaian_decrease,
                bands,
            },
            tick_seconds,
        },
        auth: AuthSettings { admin_token },
        webhooks: WebhookSettings {
            urls,
            retries,
            timeout,
        },
        reminders,
        smtp,
        report,
    })
}

/// `[storage.backup]`: `every` turns backups on; `keep` and `dir` have defaults.
fn read_backup(
    file: &str,
    table: &toml::Table,
    problems: &mut Vec<Problem>,
) -> Option<BackupSettings> {
    let mut r = FieldReader::new(file, "[storage.backup]".into(), table, problems);
    let every = r.opt_string("every");
    let keep = r.opt_integer("keep");
    let dir = r.opt_string("dir");
    let every = match every {
        None => {
            if keep.is_some() || dir.is_some() {
                r.problem(
                    "every",
                    "is missing, so no backups are made; add e.g. `every = \"1d\"`, or remove [storage.backup]",
                );
            }
            None
        }
        Some(t) => match parse_interval(&t) {
            Ok(d) => Some(d),
            Err(e) => {
                r.problem("every", e);
                None
            }
        },
    };
    let keep = match keep {
        None => 14,
        Some(n) if (1..=10_000).contains(&n) => n as usize,
        Some(n) => {
            r.problem(
                "keep",
                format!("must be between 1 and 10000 backups, found {n}; e.g. `keep = 14`"),
            );
            14
        }
    };
    let dir = match dir {
        Some(d) if d.trim().is_empty() => {
            r.problem(
                "dir",
                "is empty; name a folder, e.g. `dir = \"backups\"` (relative to this file)",
            );
            PathBuf::new()
        }
        Some(d) => PathBuf::from(d),
        None => PathBuf::from("backups"),
    };
    r.finish();
    Some(BackupSettings {
        every: every?,
        keep,
        dir,
    })
}

/// An interval (`[storage.backup] every`, `[storage] startup_wait`): a whole number and a unit,
/// `s`, `m`, `h`, `d` or `w`; from 1 s to 366 d.
pub(crate) fn parse_interval(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let fix = "write e.g. `1d`, `12h`, `30m` or `30s`";
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{}` is not an interval; {fix}", shorten(t)))?;
    let seconds = match unit {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => {
            return Err(format!(
                "`{}` has no known unit (s, m, h, d, w); {fix}",
                shorten(t)
            ));
        }
    };
    let total = n.saturating_mul(seconds);
    if total == 0 {
        return Err(format!("`{t}` is zero; {fix}"));
    }
    if total > 366 * 86_400 {
        return Err(format!("`{}` is longer than a year; {fix}", shorten(t)));
    }
    Ok(std::time::Duration::from_secs(total))
}

/// `[report]`: the place and the signers of the evaluation report, every problem recorded.
fn parse_report(file: &str, table: &toml::Table, problems: &mut Vec<Problem>) -> ReportSettings {
    let mut r = FieldReader::new(file, "[report]".into(), table, problems);
    let place = r.opt_string("place").map(|p| p.trim().to_string());
    if let Some(p) = &place {
        check_signature_text(&mut r, "place", p);
    }
    let list = r.opt_array("signatures").cloned().unwrap_or_default();
    r.finish();
    if list.len() > MAX_SIGNATURES {
        problems.push(Problem {
            file: file.to_string(),
            item: "[report]".into(),
            field: "signatures".into(),
            message: format!(
                "lists {} signers; a signature block holds at most {MAX_SIGNATURES}: keep those who sign this report",
                list.len()
            ),
        });
    }
    let mut signatures = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let item = format!("[report] signatures[{i}]");
        let Some(t) = v.as_table() else {
            problems.push(Problem {
                file: file.to_string(),
                item,
                field: String::new(),
                message: format!(
                    "must be a table, found {} `{}`; write e.g. {{ jabatan = \"Kepala Bappeda\", nama = \"...\", nip = \"...\" }}",
                    v.type_str(),
                    shorten(&v.to_string())
                ),
            });
            continue;
        };
        let mut r = FieldReader::new(file, item, t, problems);
        let jabatan = r.string("jabatan", "\"Kepala Bappeda\"");
        let nama = r.string("nama", "\"Dr. Nama Pejabat, M.Si.\"");
        let nip = r.opt_string("nip");
        for (key, text) in [("jabatan", &jabatan), ("nama", &nama), ("nip", &nip)] {
            if let Some(text) = text {
                check_signature_text(&mut r, key, text);
            }
        }
        let nip = nip.and_then(|n| match check_nip(&n) {
            Ok(n) => Some(n),
            Err(e) => {
                r.problem("nip", e);
                None
            }
        });
        r.finish();
        if let (Some(jabatan), Some(nama)) = (jabatan, nama) {
            signatures.push(Signature {
                jabatan: jabatan.trim().to_string(),
                nama: nama.trim().to_string(),
                nip,
            });
        }
    }
    ReportSettings { place, signatures }
}

/// Text printed in the signature block: one line, not too long, no control characters.
fn check_signature_text(r: &mut FieldReader<'_>, key: &str, text: &str) {
    if text.chars().count() > MAX_SIGNATURE_TEXT {
        r.problem(
            key,
            format!("is longer than {MAX_SIGNATURE_TEXT} characters; shorten it"),
        );
    }
    if text.chars().any(char::is_control) {
        r.problem(
            key,
            "holds a line break or another control character; write it on one line",
        );
    }
}

/// A NIP (Nomor Induk Pegawai): 18 digits, which may be grouped with spaces as it is usually
/// printed (`19700101 199003 1 001`); kept as written.
fn check_nip(nip: &str) -> Result<String, String> {
    let nip = nip.trim();
    let digits = nip.chars().filter(char::is_ascii_digit).count();
    if !nip.chars().all(|c| c.is_ascii_digit() || c == ' ') || digits != 18 {
        return Err(format!(
            "`{}` is not a NIP; write its 18 digits, grouped with spaces if you like (e.g. \"19700101 199003 1 001\"), or leave `nip` out for an official without one",
            shorten(nip)
        ));
    }
    Ok(nip.to_string())
}

fn positive_int(r: &mut FieldReader<'_>, key: &'static str, default: u64) -> u64 {
    match r.opt_integer(key) {
        None => default,
        Some(n) if n > 0 => n as u64,
        Some(n) => {
            r.problem(key, format!("must be a positive whole number, found {n}"));
            default
        }
    }
}

fn bounded_int(r: &mut FieldReader<'_>, key: &'static str, default: u64, max: u64) -> usize {
    let n = positive_int(r, key, default);
    if n > max {
        r.problem(key, format!("must be at most {max}, found {n}"));
        return default as usize;
    }
    n as usize
}

/// The first 100 characters of a value, to show in a message.
fn shorten(t: &str) -> String {
    let mut s: String = t.chars().take(100).collect();
    if s.len() < t.len() {
        s.push('…');
    }
    s
}

/// Checks CSP `frame-ancestors` sources: `'self'`, `'none'` (alone), or origins and
/// host patterns such as `https://cc.mojokertokota.go.id` or `https://*.go.id`.
fn check_frame_ancestors(text: &str) -> Result<String, String> {
    let sources: Vec<&str> = text.split_whitespace().collect();
    if sources.is_empty() {
        return Err("is empty; write `'self'` (this daemon's pages only), `'none'`, or the origins allowed to frame the dashboards, e.g. \"'self' https://cc.mojokertokota.go.id\"".into());
    }
    // `self` and `none` without their quotes (as an environment variable read as TOML gives
    // them) mean the keywords: no host is called that.
    let sources: Vec<String> = sources
        .into_iter()
        .map(|s| match s.to_ascii_lowercase().as_str() {
            "self" | "'self'" => "'self'".to_string(),
            "none" | "'none'" => "'none'".to_string(),
            _ => s.to_string(),
        })
        .collect();
    for s in &sources {
        let keyword = matches!(s.as_str(), "'self'" | "'none'");
        let source = !s.contains('\'')
            && s.chars().all(|c| {
                c.is_ascii_alphanumeric()
                    || matches!(c, '-' | '.' | ':' | '/' | '*' | '[' | ']' | '_' | '~' | '%')
            });
        if !keyword && !source {
            return Err(format!(
                "`{}` is not a frame-ancestors source; use `'self'`, `'none'`, or origins such as `https://cc.mojokertokota.go.id`, separated by spaces",
                shorten(s)
            ));
        }
    }
    if sources.len() > 1 && sources.iter().any(|s| s == "'none'") {
        return Err("`'none'` must stand alone; remove it or the other sources".into());
    }
    Ok(sources.join(" "))
}

impl FieldReader<'_> {
    /// The admin token: empty means none.
    fn get_admin_token(&mut self) -> Option<String> {
        match self.opt_value("admin_token") {
            Some(toml::Value::String(s)) if s.is_empty() => None,
            Some(toml::Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.problem("admin_token", "must be a string in quotes");
                None
            }
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, env: &[(&str, &str)]) -> (Option<Settings>, Vec<Problem>) {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let mut problems = Vec::new();
        let s = parse_settings(text, "pantau.toml", &env, &mut problems);
        (s, problems)
    }

    #[test]
    fn embedded_settings_are_valid() {
        let (s, p) = parse(super::super::EMBEDDED_SETTINGS, &[]);
        assert!(p.is_empty(), "{p:?}");
        let s = s.unwrap();
        assert_eq!(s.city.time_zone, chrono_tz::Asia::Jakarta);
        assert_eq!(s.progress.thresholds.on_track, 0.95);
    }

    #[test]
    fn environment_overrides_settings() {
        let (s, p) = parse(
            super::super::EMBEDDED_SETTINGS,
            &[
                ("PANTAU_SERVER__LISTEN", "127.0.0.1:0"),
                ("PANTAU_PROGRESS__ON_TRACK", "0.9"),
                ("PANTAU_AUTH__ADMIN_TOKEN", "12345678901234567890"),
                ("PANTAU_CONFIG", "ignored.toml"),
            ],
        );
        assert!(p.is_empty(), "{p:?}");
        let s = s.unwrap();
        assert_eq!(s.server.listen.port(), 0);
        assert_eq!(s.progress.thresholds.on_track, 0.9);
        assert_eq!(s.auth.admin_token.unwrap().expose(), "12345678901234567890");
    }

    #[test]
    fn reports_every_problem() {
        let (s, p) = parse(
            "[server]\nlisten = \"nowhere\"\nlistn = 1\n[city]\ntime_zone = \"Asia/Mojokerto\"\nlocale = \"jv\"\n[progress]\nat_risk = 0.99\n",
            &[],
        );
        assert!(s.is_none());
        let fields: Vec<&str> = p.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            ["listen", "listn", "time_zone", "locale", "on_track"],
            "{p:?}"
        );
        assert!(p[1].message.contains("did you mean `listen`"));
    }

    #[test]
    fn connection_and_browser_settings_have_defaults_and_are_checked() {
        let (s, p) = parse(super::super::EMBEDDED_SETTINGS, &[]);
        assert!(p.is_empty(), "{p:?}");
        let server = s.unwrap().server;
        assert_eq!(server.max_connections, 4096);
        assert_eq!(server.max_screens, 2000);
        assert_eq!(server.public_url, None);
        assert_eq!(server.frame_ancestors, "'self'");

        let (s, p) = parse(
            "[server]\nmax_screens = 10\npublic_url = \"https://pantau.mojokertokota.go.id\"\nframe_ancestors = \"'self'   https://cc.mojokertokota.go.id\"\n",
            &[("PANTAU_SERVER__MAX_CONNECTIONS", "100")],
        );
        assert!(p.is_empty(), "{p:?}");
        let server = s.unwrap().server;
        assert_eq!(server.max_connections, 100);
        assert_eq!(server.max_screens, 10);
        assert_eq!(
            server.public_url.unwrap().as_str(),
            "https://pantau.mojokertokota.go.id/"
        );
        assert_eq!(
            server.frame_ancestors,
            "'self' https://cc.mojokertokota.go.id"
        );

        let (s, p) = parse(
            "[server]\nmax_screens = 0\nmax_connections = 2000000\npublic_url = \"pantau.go.id\"\nframe_ancestors = \"self; script-src *\"\n",
            &[],
        );
        assert!(s.is_none());
        let fields: Vec<&str> = p.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "max_connections",
                "max_screens",
                "public_url",
                "frame_ancestors"
            ],
            "{p:?}"
        );
        for bad in ["'none' 'self'", "*; default-src *", "'unsafe-inline'", ""] {
            assert!(check_frame_ancestors(bad).is_err(), "{bad}");
        }
        assert_eq!(check_frame_ancestors("self").unwrap(), "'self'");
        assert_eq!(check_frame_ancestors("'none'").unwrap(), "'none'");
    }

    #[test]
    fn backups_are_off_unless_every_is_set_and_are_checked() {
        let (s, p) = parse(super::super::EMBEDDED_SETTINGS, &[]);
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(s.unwrap().backup, None);

        let (s, p) = parse("[storage.backup]\nevery = \"1d\"\n", &[]);
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(
            s.unwrap().backup,
            Some(BackupSettings {
                every: std::time::Duration::from_secs(86_400),
                keep: 14,
                dir: PathBuf::from("backups"),
            })
        );

        let (s, p) = parse(
            "[storage]\ndatabase = \"x.db\"\n",
            &[
                ("PANTAU_STORAGE__BACKUP__EVERY", "2s"),
                ("PANTAU_STORAGE__BACKUP__KEEP", "2"),
                ("PANTAU_STORAGE__BACKUP__DIR", "/srv/cadangan"),
            ],
        );
        assert!(p.is_empty(), "{p:?}");
        let b = s.unwrap().backup.unwrap();
        assert_eq!(b.every, std::time::Duration::from_secs(2));
        assert_eq!((b.keep, b.dir), (2, PathBuf::from("/srv/cadangan")));

        let (s, p) = parse(
            "[storage.backup]\nevery = \"1mo\"\nkeep = 0\ndri = \"x\"\n",
            &[],
        );
        assert!(s.is_none());
        let fields: Vec<&str> = p.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["every", "keep", "dri"], "{p:?}");
        assert!(p[0].message.contains("`1mo`"), "{p:?}");
        assert!(p[2].message.contains("did you mean `dir`"), "{p:?}");

        let (_, p) = parse("[storage.backup]\nkeep = 3\n", &[]);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].message.contains("no backups are made"), "{p:?}");

        for (text, secs) in [("30s", 30), ("15m", 900), ("12h", 43_200), ("1w", 604_800)] {
            assert_eq!(parse_interval(text).unwrap().as_secs(), secs);
        }
        for bad in ["0s", "1y", "400d", "d", "5 days", "-1d"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn report_signatures_are_read_and_every_problem_reported() {
        let (s, p) = parse(super::super::EMBEDDED_SETTINGS, &[]);
        assert!(p.is_empty(), "{p:?}");
        let report = s.unwrap().report;
        assert_eq!(report.place.as_deref(), Some("Mojokerto"));
        assert!(!report.signatures.is_empty());

        let (s, p) = parse(
            "[report]\nplace = \"Mojokerto\"\nsignatures = [{ jabatan = \"Kepala Bappeda\", nama = \"Dr. Ani, M.Si.\", nip = \"19700101 199003 1 001\" }, { jabatan = \"Wali Kota\", nama = \"Budi\" }]\n",
            &[("PANTAU_REPORT__PLACE", "Kota Mojokerto")],
        );
        assert!(p.is_empty(), "{p:?}");
        let report = s.unwrap().report;
        assert_eq!(report.place.as_deref(), Some("Kota Mojokerto"));
        assert_eq!(
            report.signatures,
            vec![
                Signature {
                    jabatan: "Kepala Bappeda".into(),
                    nama: "Dr. Ani, M.Si.".into(),
                    nip: Some("19700101 199003 1 001".into()),
                },
                Signature {
                    jabatan: "Wali Kota".into(),
                    nama: "Budi".into(),
                    nip: None,
                },
            ]
        );

        let (s, p) = parse(
            "[report]\nplac = \"x\"\nsignatures = [\"Kepala\", { nama = \"A\", nip = \"12-34\", pangkat = \"IV/a\" }, { jabatan = \"B\\nC\", nama = \"D\" }]\n",
            &[],
        );
        assert!(s.is_none());
        let found: Vec<(&str, &str)> = p
            .iter()
            .map(|p| (p.item.as_str(), p.field.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                ("[report]", "plac"),
                ("[report] signatures[0]", ""),
                ("[report] signatures[1]", "jabatan"),
                ("[report] signatures[1]", "nip"),
                ("[report] signatures[1]", "pangkat"),
                ("[report] signatures[2]", "jabatan"),
            ],
            "{p:?}"
        );
        assert!(p[3].message.contains("18 digits"), "{}", p[3].message);
        let many = format!(
            "[report]\nsignatures = [{}]\n",
            ["{ jabatan = \"A\", nama = \"B\" }"; 7].join(", ")
        );
        let (_, p) = parse(&many, &[]);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].field, "signatures");
    }

    #[test]
    fn secrets_are_not_printed() {
        let (s, _) = parse(
            "[auth]\nadmin_token = \"abcdefghijklmnopqrstuvwxyz\"\n",
            &[],
        );
        let shown = format!("{:?}", s.unwrap());
        assert!(!shown.contains("abcdefghijklmnop"));
    }
}
