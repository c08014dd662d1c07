//! Configuration: `pantau.toml` (daemon settings) and `masterplan.toml` (the city's plan), read,
//! overridden from `PANTAU_...` environment variables, and validated into domain types.
//!
//! Validation reports every problem at once, each naming the file, the item, the field, what is
//! wrong and how to fix it. `pantau check` prints them; `pantau run` refuses to start with them.
//! The example Mojokerto files in `config/` are embedded so that pantau runs with no files at all.

mod masterplan;
pub mod reminders;
mod screens;
mod settings;
mod table;
pub mod versions;

pub use masterplan::parse_masterplan;
pub use screens::{
    EMBEDDED_SCREENS, MAX_NUMBERS, PAGE_KINDS, Page, PageKind, PlanIds, Screen, parse_screens,
};
pub use settings::{
    AuthSettings, BackupSettings, CitySettings, Locale, ProgressSettings, ReportSettings, Secret,
    ServerSettings, Settings, Signature, WebhookSettings,
};

use crate::domain::Masterplan;
use std::fmt;
use std::path::{Path, PathBuf};

/// The example settings shipped in `config/pantau.toml`, embedded in the binary.
pub const EMBEDDED_SETTINGS: &str = include_str!("../../config/pantau.toml");
/// The example Kota Mojokerto masterplan shipped in `config/masterplan.toml`, embedded in the binary.
pub const EMBEDDED_MASTERPLAN: &str = include_str!("../../config/masterplan.toml");

/// The example screens shipped with the example city.
fn embedded_screens(_: Option<&Path>) -> Result<Option<(String, String)>, String> {
    Ok(Some((
        EMBEDDED_SCREENS.to_string(),
        "screens.toml (embedded)".into(),
    )))
}

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file (or `environment`) the problem is in.
    pub file: String,
    /// The item, e.g. `indicator gov.spbe.index` or `[server]`.
    pub item: String,
    /// The field, e.g. `targets[2].date`.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.item)?;
        if !self.field.is_empty() {
            write!(f, ", field `{}`", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in one validation run.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "the configuration has {} problem{}:",
            self.problems.len(),
            if self.problems.len() == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

/// Where the configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigOrigin {
    /// The example files embedded in the binary.
    Embedded,
    /// A settings file on disk (the masterplan path is relative to its folder).
    File(PathBuf),
    /// Texts composed by the program (the demo city): reloads validate them again.
    Inline {
        settings: String,
        masterplan: String,
    },
}

/// A validated configuration: settings, the masterplan and the feeds that fill it.
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
    pub masterplan: Masterplan,
    pub feeds: Vec<crate::feeds::FeedSpec>,
    /// The wall's screens (`screens.toml`).
    pub screens: Vec<Screen>,
    pub origin: ConfigOrigin,
}

impl Config {
    /// Loads the configuration: `path` if given, else `config/pantau.toml` when it exists, else
    /// the embedded example. Environment variables `PANTAU_<SECTION>__<KEY>` override settings.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        match path {
            // A folder means the pantau.toml in it.
            Some(p) if p.is_dir() => Self::load_file(&p.join("pantau.toml"), &env),
            Some(p) => Self::load_file(p, &env),
            None => {
                let default = Path::new("config/pantau.toml");
                if default.exists() {
                    Self::load_file(default, &env)
                } else {
                    Self::embedded()
                }
            }
        }
    }

    /// Loads the embedded example configuration (with environment overrides).
    pub fn embedded() -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::from_texts(
            EMBEDDED_SETTINGS,
            "pantau.toml (embedded)",
            |_| {
                Ok((
                    EMBEDDED_MASTERPLAN.to_string(),
                    "masterplan.toml (embedded)".into(),
                ))
            },
            embedded_screens,
            &env,
            ConfigOrigin::Embedded,
        )
    }

    /// Validates composed settings and masterplan texts (with environment overrides).
    pub fn inline(settings: &str, masterplan: &str) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let m = masterplan.to_string();
        Self::from_texts(
            settings,
            "pantau.toml (demo)",
            move |_| Ok((m, "masterplan.toml (demo)".into())),
            embedded_screens,
            &env,
            ConfigOrigin::Inline {
                settings: settings.to_string(),
                masterplan: masterplan.to_string(),
            },
        )
    }

    fn load_file(path: &Path, env: &[(String, String)]) -> Result<Config, ConfigError> {
        let mut config = Self::load_file_as_written(path, env)?;
        // A relative database path is relative to the settings file, like the masterplan.
        if config.settings.database.is_relative() {
            if let Some(dir) = path.parent() {
                config.settings.database = dir.join(&config.settings.database);
            }
        }
        // So is the backup folder.
        if let (Some(backup), Some(dir)) = (config.settings.backup.as_mut(), path.parent()) {
            if backup.dir.is_relative() {
                backup.dir = dir.join(&backup.dir);
            }
        }
        Ok(config)
    }

    fn load_file_as_written(path: &Path, env: &[(String, String)]) -> Result<Config, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            problems: vec![Problem {
                file: name.clone(),
                item: "file".into(),
                field: String::new(),
                message: format!(
                    "cannot read the settings file ({e}); check the path given with --config"
                ),
            }],
        })?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let screens_dir = dir.clone();
        Self::from_texts(
            &text,
            &name,
            |masterplan: &Path| {
                let full = dir.join(masterplan);
                let shown = full.display().to_string();
                std::fs::read_to_string(&full)
                    .map(|t| (t, shown.clone()))
                    .map_err(|e| {
                        format!("cannot read the masterplan file `{shown}` ({e}); fix the `masterplan` path (relative to the settings file)")
                    })
            },
            move |configured: Option<&Path>| {
                // `screens = "..."` must exist; without it, a `screens.toml` beside the settings
                // is used when there is one, else screens made from the masterplan.
                let full = match configured {
                    Some(p) => screens_dir.join(p),
                    None => {
                        let beside = screens_dir.join("screens.toml");
                        if !beside.exists() {
                            return Ok(None);
                        }
                        beside
                    }
                };
                let shown = full.display().to_string();
                std::fs::read_to_string(&full)
                    .map(|t| Some((t, shown.clone())))
                    .map_err(|e| {
                        format!("cannot read the screens file `{shown}` ({e}); fix the `screens` path (relative to the settings file)")
                    })
            },
            env,
            ConfigOrigin::File(path.to_path_buf()),
        )
    }

    /// Validates settings text and the masterplan and screens it names, collecting every
    /// problem of all three files. `read_screens` gets the configured `screens` path (None when
    /// the settings name none) and answers None when there is no screens file: then every
    /// dimension gets a page (`screens::default_screens`).
    pub fn from_texts(
        settings_text: &str,
        settings_name: &str,
        read_masterplan: impl FnOnce(&Path) -> Result<(String, String), String>,
        read_screens: impl FnOnce(Option<&Path>) -> Result<Option<(String, String)>, String>,
        env: &[(String, String)],
        origin: ConfigOrigin,
    ) -> Result<Config, ConfigError> {
        let mut problems = Vec::new();
        let settings = settings::parse_settings(settings_text, settings_name, env, &mut problems);
        let masterplan_path = settings
            .as_ref()
            .map(|s| s.masterplan.clone())
            .unwrap_or_else(|| PathBuf::from("masterplan.toml"));
        let (masterplan, plan_ids) = match read_masterplan(&masterplan_path) {
            Ok((text, name)) => {
                let parsed = parse_masterplan(&text, &name, env, &mut problems);
                // Screens are checked against the plan's ids even when the plan has problems:
                // then the ids are read from its raw text.
                let ids = match &parsed {
                    Some((plan, _)) => PlanIds::of(plan),
                    None => PlanIds::declared(&text),
                };
                (parsed, ids)
            }
            Err(message) => {
                problems.push(Problem {
                    file: settings_name.to_string(),
                    item: "top level".into(),
                    field: "masterplan".into(),
                    message,
                });
                (None, PlanIds::default())
            }
        };
        let configured_screens = settings.as_ref().and_then(|s| s.screens.clone());
        let screens = match read_screens(configured_screens.as_deref()) {
            Ok(Some((text, name))) => parse_screens(&text, &name, &plan_ids, &mut problems),
            Ok(None) => Some(screens::default_screens(&plan_ids.dimensions)),
            Err(message) => {
                problems.push(Problem {
                    file: settings_name.to_string(),
                    item: "top level".into(),
                    field: "screens".into(),
                    message,
                });
                None
            }
        };
        match (settings, masterplan, screens) {
            (Some(settings), Some((masterplan, feeds)), Some(screens)) if problems.is_empty() => {
                Ok(Config {
                    settings,
                    masterplan,
                    feeds,
                    screens,
                    origin,
                })
            }
            _ => Err(ConfigError { problems }),
        }
    }
}

// --- The settings alone, for a daemon without a masterplan of its own (`crate::federation`) ---

impl Config {
    /// Reads and validates only the settings file at `path` (with environment overrides): a
    /// province's or the ministry's pantau follows other cities and has no masterplan. A missing
    /// file means the embedded example settings. A relative database path is relative to the file.
    pub fn settings_only(path: &Path) -> Result<Settings, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let (text, name) = if path.exists() {
            let name = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
                problems: vec![Problem {
                    file: name.clone(),
                    item: "file".into(),
                    field: String::new(),
                    message: format!(
                        "cannot read the settings file ({e}); check the path given with --config"
                    ),
                }],
            })?;
            (text, name)
        } else {
            (
                EMBEDDED_SETTINGS.to_string(),
                "pantau.toml (embedded)".into(),
            )
        };
        let mut problems = Vec::new();
        match settings::parse_settings(&text, &name, &env, &mut problems) {
            Some(mut s) if problems.is_empty() => {
                if s.database.is_relative() && path.exists() {
                    if let Some(dir) = path.parent() {
                        s.database = dir.join(&s.database);
                    }
                }
                Ok(s)
            }
            _ => Err(ConfigError { problems }),
        }
    }
}
