//! The masterplan's domain types: ids, dimensions, programs, indicators, targets, observations.
//!
//! Values here are valid once they exist ("parse, don't validate"): ids are checked when parsed,
//! an `Indicator`'s targets are in date order and differ from its baseline. `config` builds them
//! from files; everything downstream (progress, store, ingest, live, api) takes them as given.

mod cadence;
mod ids;

pub use cadence::Cadence;
pub use ids::{DepartmentId, DimensionId, FeedId, IdError, IndicatorId, ProgramId};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

/// Milliseconds since the Unix epoch (UTC): the one representation of an instant in the store,
/// the progress engine and the hub.
pub type Millis = i64;

/// Midnight at the start of `date` in the city's zone, as an instant.
pub fn date_start(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    // A zone may skip midnight (DST); take the earliest valid local time at or after it.
    match tz.from_local_datetime(&midnight) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
        chrono::LocalResult::None => tz
            .from_local_datetime(&(midnight + chrono::Duration::hours(1)))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| Utc.from_utc_datetime(&midnight)),
    }
}

/// Midnight at the start of `date` in the city's zone, in milliseconds.
pub fn date_start_millis(date: NaiveDate, tz: Tz) -> Millis {
    date_start(date, tz).timestamp_millis()
}

/// An instant rendered in the city's zone, RFC 3339 with its offset (e.g. `2026-11-28T09:00:00+07:00`).
pub fn format_instant(t: Millis, tz: Tz) -> String {
    match DateTime::<Utc>::from_timestamp_millis(t) {
        Some(dt) => dt
            .with_timezone(&tz)
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        None => String::from("invalid-time"),
    }
}

/// The calendar date (in the city's zone) that contains instant `t`.
pub fn local_date(t: Millis, tz: Tz) -> Option<NaiveDate> {
    DateTime::<Utc>::from_timestamp_millis(t).map(|dt| dt.with_timezone(&tz).date_naive())
}

/// One of the six Smart City dimensions.
#[derive(Debug, Clone, Serialize)]
pub struct Dimension {
    pub id: DimensionId,
    pub name: String,
    /// The dimension's elements as the masterplan lists them (e.g. "Public Service").
    pub elements: Vec<String>,
    pub weight: f64,
}

/// An organisational unit of the city government (OPD) that owns programs and indicators.
#[derive(Debug, Clone, Serialize)]
pub struct Department {
    pub id: DepartmentId,
    pub name: String,
}

/// How long a program is planned to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Horizon {
    QuickWin,
    Short,
    Medium,
    Long,
}

impl Horizon {
    pub const NAMES: &'static [&'static str] = &["quick_win", "short", "medium", "long"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "quick_win" => Some(Self::QuickWin),
            "short" => Some(Self::Short),
            "medium" => Some(Self::Medium),
            "long" => Some(Self::Long),
            _ => None,
        }
    }
}

/// A masterplan program under one dimension, owned by one department.
#[derive(Debug, Clone, Serialize)]
pub struct Program {
    pub id: ProgramId,
    pub dimension: DimensionId,
    pub name: String,
    pub department: DepartmentId,
    pub quick_win: bool,
    pub horizon: Horizon,
    pub start: NaiveDate,
    pub due: NaiveDate,
    pub weight: f64,
}

/// Which way an indicator should move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Increase,
    Decrease,
    /// Stay within `tolerance` of the target.
    Maintain,
}

impl Direction {
    pub const NAMES: &'static [&'static str] = &["increase", "decrease", "maintain"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "increase" => Some(Self::Increase),
            "decrease" => Some(Self::Decrease),
            "maintain" => Some(Self::Maintain),
            _ => None,
        }
    }
}

/// How an indicator's observations make its current value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The latest observation is the current value.
    Level,
    /// Observations are increments; the current value is their sum since the baseline date.
    Cumulative,
}

impl Kind {
    pub const NAMES: &'static [&'static str] = &["level", "cumulative"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "level" => Some(Self::Level),
            "cumulative" => Some(Self::Cumulative),
            _ => None,
        }
    }
}

/// A value an indicator should have on a calendar date (also used for the baseline).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Target {
    pub date: NaiveDate,
    pub value: f64,
}

/// A measurable indicator of a program, with its baseline, targets and expected cadence.
#[derive(Debug, Clone, Serialize)]
pub struct Indicator {
    pub id: IndicatorId,
    pub program: ProgramId,
    pub name: String,
    /// Satuan: persen, unit, hari, orang, Rp, ...
    pub unit: String,
    pub department: DepartmentId,
    pub direction: Direction,
    /// For `maintain`: how far from the target still counts as on track.
    pub tolerance: f64,
    pub kind: Kind,
    pub baseline: Target,
    /// In strictly increasing date order, all after the baseline date; the last is the final target.
    pub targets: Vec<Target>,
    pub update_every: Cadence,
    pub weight: f64,
    /// Optional bounds a posted value must lie within.
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl Indicator {
    /// The final target (the last one in date order).
    pub fn final_target(&self) -> Target {
        *self.targets.last().unwrap_or(&self.baseline)
    }
}

/// Everything the city planned: departments, dimensions, programs and indicators. (The feeds
/// that fill the indicators are configuration: `config::Config::feeds`.)
#[derive(Debug, Clone, Default)]
pub struct Masterplan {
    pub departments: Vec<Department>,
    pub dimensions: Vec<Dimension>,
    pub programs: Vec<Program>,
    pub indicators: Vec<Indicator>,
}

impl Masterplan {
    pub fn indicator(&self, id: &str) -> Option<&Indicator> {
        self.indicators.iter().find(|i| i.id.as_str() == id)
    }
    pub fn program(&self, id: &str) -> Option<&Program> {
        self.programs.iter().find(|p| p.id.as_str() == id)
    }
    pub fn department(&self, id: &str) -> Option<&Department> {
        self.departments.iter().find(|d| d.id.as_str() == id)
    }
    pub fn dimension(&self, id: &str) -> Option<&Dimension> {
        self.dimensions.iter().find(|d| d.id.as_str() == id)
    }
}

/// Where an observation came from; kept with every stored value and revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Post,
    Upload,
    Import,
    Feed(FeedId),
}

impl Source {
    pub fn as_string(&self) -> String {
        match self {
            Source::Post => "post".into(),
            Source::Upload => "upload".into(),
            Source::Import => "import".into(),
            Source::Feed(id) => format!("feed:{id}"),
        }
    }
}

/// One value of one indicator at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub indicator: IndicatorId,
    pub time: Millis,
    pub value: f64,
    pub note: Option<String>,
}
