//! The masterplan's domain types: ids, dimensions, programs, indicators, targets, observations.
//!
//! Values here are valid once they exist ("parse, don't validate"): ids are checked when parsed,
//! an `Indicator`'s targets are in date order and differ from its baseline. `config` builds them
//! from files; everything downstream (progress, store, ingest, live, api) takes them as given.

mod cadence;
mod ids;

pub use cadence::{Cadence, CalendarStep};
pub use ids::{DepartmentId, DimensionId, FeedId, IdError, IndicatorId, ProgramId};

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
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
    /// Where reminders about its overdue updates go (may be empty). Not shown by the read API.
    #[serde(skip_serializing)]
    pub emails: Vec<String>,
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
    /// A threshold to stay at or above (uptime ≥ 99,5 %): met or not.
    AtLeast,
    /// A threshold to stay at or below (ISPU ≤ 50): met or not.
    AtMost,
}

impl Direction {
    pub const NAMES: &'static [&'static str] =
        &["increase", "decrease", "maintain", "at_least", "at_most"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "increase" => Some(Self::Increase),
            "decrease" => Some(Self::Decrease),
            "maintain" => Some(Self::Maintain),
            "at_least" => Some(Self::AtLeast),
            "at_most" => Some(Self::AtMost),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Increase => "increase",
            Self::Decrease => "decrease",
            Self::Maintain => "maintain",
            Self::AtLeast => "at_least",
            Self::AtMost => "at_most",
        }
    }

    /// A target that is met or not (`maintain`, `at_least`, `at_most`) rather than a path from
    /// the baseline to the target.
    pub fn is_band(&self) -> bool {
        matches!(self, Self::Maintain | Self::AtLeast | Self::AtMost)
    }
}

/// How an indicator's observations make its current value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The latest observation is the current value.
    Level,
    /// Observations are increments on top of the baseline value: the current value is the
    /// baseline value plus their sum since the baseline date.
    Cumulative,
    /// Observations add up within each calendar year in the city's zone and start again on
    /// 1 January (year-to-date totals such as PAD); each year's target is that year's total.
    CumulativeYearly,
}

impl Kind {
    pub const NAMES: &'static [&'static str] = &["level", "cumulative", "cumulative_yearly"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "level" => Some(Self::Level),
            "cumulative" => Some(Self::Cumulative),
            "cumulative_yearly" => Some(Self::CumulativeYearly),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Level => "level",
            Self::Cumulative => "cumulative",
            Self::CumulativeYearly => "cumulative_yearly",
        }
    }
}

/// Where an indicator sits in the results chain the Smart City evaluation weighs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Output,
    Outcome,
    Impact,
}

impl Tier {
    pub const NAMES: &'static [&'static str] = &["output", "outcome", "impact"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "output" => Some(Self::Output),
            "outcome" => Some(Self::Outcome),
            "impact" => Some(Self::Impact),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Output => "output",
            Self::Outcome => "outcome",
            Self::Impact => "impact",
        }
    }
}

/// The person in charge of an indicator (penanggung jawab).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pic {
    pub nama: String,
    pub jabatan: String,
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
    /// The plan's own code, e.g. `IKU-3.1`.
    pub code: Option<String>,
    /// Output, outcome or impact.
    pub tier: Option<Tier>,
    /// Who answers for it.
    pub pic: Option<Pic>,
    /// Where its data comes from (sumber data), e.g. `e-PPGBM`, `SSGI`.
    pub source: Option<String>,
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

    /// The years (in date order) that have at least one target.
    pub fn target_years(&self) -> Vec<i32> {
        let mut years: Vec<i32> = self.targets.iter().map(|t| t.date.year()).collect();
        years.dedup();
        years
    }

    /// The year's target: the last target dated within `year`.
    pub fn target_of_year(&self, year: i32) -> Option<Target> {
        self.targets
            .iter()
            .rev()
            .find(|t| t.date.year() == year)
            .copied()
    }
}

/// Everything the city planned: departments, dimensions, programs and indicators. (The feeds
/// that fill the indicators are configuration: `config::Config::feeds`.)
#[derive(Debug, Clone, Default)]
pub struct Masterplan {
    /// What this version of the plan is (e.g. "Perubahan RPJMD 2025"), kept with the version.
    pub revision_note: Option<String>,
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
