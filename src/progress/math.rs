//! The progress method of DESIGN.md as pure functions: trajectory, current value, progress,
//! expected progress, status, staleness, forecast, capaian and roll-up.
//!
//! No I/O and no clock: `now` is always passed in. Every function is total over finite input:
//! nothing here panics, and no NaN reaches an output (an undefined number becomes `None`, an
//! overflowing one is held at `±f64::MAX`).

use crate::domain::{Direction, Indicator, Kind, Millis, date_start_millis, local_date};
use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use std::borrow::Cow;

/// One day in milliseconds; forecast lines are fitted with x in days.
const DAY_MS: f64 = 86_400_000.0;

/// Relative slack for threshold comparisons, so that a value computed by hand to lie exactly on
/// a threshold (0.95, 0.85, a target, a tolerance) counts as reaching it despite rounding.
const EPS: f64 = 1e-9;

/// Where an indicator (or a rolled-up item) stands against its trajectory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// No observation at or after the baseline date.
    NoData,
    /// The final target is reached (never for `maintain`).
    Achieved,
    OnTrack,
    AtRisk,
    OffTrack,
}

impl Status {
    /// The name used in the API and on screens (`no_data`, `achieved`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::NoData => "no_data",
            Status::Achieved => "achieved",
            Status::OnTrack => "on_track",
            Status::AtRisk => "at_risk",
            Status::OffTrack => "off_track",
        }
    }
}

/// How capaian is computed for an indicator that should go down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CapaianDecrease {
    /// `(2t − r) / t × 100`.
    Inverse,
    /// `t / r × 100`.
    Ratio,
}

/// Lower bounds (percent) of the capaian categories; below `rendah` is sangat rendah.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CapaianBands {
    pub sangat_tinggi: f64,
    pub tinggi: f64,
    pub sedang: f64,
    pub rendah: f64,
}

impl Default for CapaianBands {
    /// Permendagri 86/2017: ≥ 91 sangat tinggi, 76–90 tinggi, 66–75 sedang, 51–65 rendah,
    /// ≤ 50 sangat rendah.
    fn default() -> Self {
        CapaianBands {
            sangat_tinggi: 91.0,
            tinggi: 76.0,
            sedang: 66.0,
            rendah: 51.0,
        }
    }
}

/// A capaian category (kategori capaian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CapaianCategory {
    SangatTinggi,
    Tinggi,
    Sedang,
    Rendah,
    SangatRendah,
}

impl CapaianCategory {
    pub const ALL: [CapaianCategory; 5] = [
        CapaianCategory::SangatTinggi,
        CapaianCategory::Tinggi,
        CapaianCategory::Sedang,
        CapaianCategory::Rendah,
        CapaianCategory::SangatRendah,
    ];

    /// The name in Bahasa Indonesia, as reports write it.
    pub fn label(&self) -> &'static str {
        match self {
            CapaianCategory::SangatTinggi => "Sangat tinggi",
            CapaianCategory::Tinggi => "Tinggi",
            CapaianCategory::Sedang => "Sedang",
            CapaianCategory::Rendah => "Rendah",
            CapaianCategory::SangatRendah => "Sangat rendah",
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            CapaianCategory::SangatTinggi => "sangat_tinggi",
            CapaianCategory::Tinggi => "tinggi",
            CapaianCategory::Sedang => "sedang",
            CapaianCategory::Rendah => "rendah",
            CapaianCategory::SangatRendah => "sangat_rendah",
        }
    }
}

/// The tunable numbers of the method (from `pantau.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    /// `p / q` at or above this is on track.
    pub on_track: f64,
    /// `p / q` at or above this (and below `on_track`) is at risk.
    pub at_risk: f64,
    /// Grace period before an indicator is stale, as a fraction of its `update_every`.
    pub stale_grace: f64,
    /// How far back the forecast line looks, in days.
    pub forecast_window_days: f64,
    /// The capaian formula for `decrease` (and `at_most`, `maintain` above its target).
    pub capaian_decrease: CapaianDecrease,
    /// The capaian categories.
    pub bands: CapaianBands,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            on_track: 0.95,
            at_risk: 0.85,
            stale_grace: 0.5,
            forecast_window_days: 180.0,
            capaian_decrease: CapaianDecrease::Inverse,
            bands: CapaianBands::default(),
        }
    }
}

/// Expected value over time: piecewise linear through (baseline date, B) and each target
/// (date, value), in date order; B before the baseline date, T (final) after the last date.
#[derive(Debug, Clone, PartialEq)]
pub struct Trajectory {
    /// First the baseline, then the targets; times strictly increasing.
    points: Vec<(Millis, f64)>,
    /// The first instant after the final target's day (midnight at the start of the next day):
    /// from here on an item that is not achieved is overdue.
    overdue_from: Millis,
    /// The city's zone: dates and years are counted in it.
    tz: chrono_tz::Tz,
}

impl Trajectory {
    /// The trajectory of `indicator`, each date taken as midnight at its start in `tz`.
    pub fn new(indicator: &Indicator, tz: chrono_tz::Tz) -> Self {
        let baseline = &indicator.baseline;
        let points = std::iter::once(baseline)
            .chain(indicator.targets.iter())
            .map(|t| (date_start_millis(t.date, tz), t.value))
            .collect();
        let final_date = indicator.final_target().date;
        let overdue_from = final_date
            .succ_opt()
            .map(|next| date_start_millis(next, tz))
            .unwrap_or(Millis::MAX);
        Trajectory {
            points,
            overdue_from,
            tz,
        }
    }

    /// A trajectory from explicit points: the first is the baseline, the rest are targets, in
    /// strictly increasing time order (the caller guarantees it). Overdue one day after the last.
    pub fn from_points(points: Vec<(Millis, f64)>) -> Self {
        let overdue_from = points
            .last()
            .map_or(Millis::MAX, |(t, _)| t.saturating_add(86_400_000));
        Trajectory {
            points,
            overdue_from,
            tz: chrono_tz::UTC,
        }
    }

    /// The first instant at which an item that is not achieved counts as overdue: midnight at
    /// the start of the day after the final target date.
    pub fn overdue_from(&self) -> Millis {
        self.overdue_from
    }

    /// The value the indicator is expected to have at instant `t`.
    pub fn expected_at(&self, t: Millis) -> f64 {
        let points = &self.points;
        let (Some(&(first_t, first_v)), Some(&(last_t, last_v))) = (points.first(), points.last())
        else {
            return 0.0;
        };
        if t <= first_t {
            return first_v;
        }
        if t >= last_t {
            return last_v;
        }
        // The first point strictly after `t`; the segment is [i-1, i].
        let i = points.partition_point(|&(time, _)| time <= t);
        let (Some(&(t0, v0)), Some(&(t1, v1))) =
            (i.checked_sub(1).and_then(|j| points.get(j)), points.get(i))
        else {
            return last_v;
        };
        let span = i128::from(t1) - i128::from(t0);
        if span <= 0 {
            return v1;
        }
        let frac = ((i128::from(t) - i128::from(t0)) as f64 / span as f64).clamp(0.0, 1.0);
        // Weighted form: exact at both ends and cannot overflow into NaN.
        hold_finite(v0 * (1.0 - frac) + v1 * frac)
    }

    /// The baseline instant and value `B`.
    pub fn baseline(&self) -> (Millis, f64) {
        self.points.first().copied().unwrap_or((0, 0.0))
    }

    /// The final target instant and value `T`.
    pub fn final_target(&self) -> (Millis, f64) {
        self.points.last().copied().unwrap_or((0, 0.0))
    }

    /// Baseline first, then every target, in time order.
    pub fn points(&self) -> &[(Millis, f64)] {
        &self.points
    }

    /// The city's zone.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.tz
    }

    /// The calendar year (in the city's zone) of instant `t`.
    pub fn year_of(&self, t: Millis) -> i32 {
        local_date(t, self.tz).map_or(1970, |d| d.year())
    }

    /// Midnight at the start of 1 January of `year` in the city's zone.
    pub fn year_start(&self, year: i32) -> Millis {
        NaiveDate::from_ymd_opt(year, 1, 1).map_or(Millis::MIN, |d| date_start_millis(d, self.tz))
    }

    /// The first 1 January midnight after instant `t`.
    pub fn year_end_after(&self, t: Millis) -> Millis {
        self.year_start(self.year_of(t).saturating_add(1))
    }

    /// The frame of a `cumulative_yearly` indicator in `year`: from 0 on 1 January through the
    /// targets dated within the year; the last of them is the year's total. A year without a
    /// target expects nothing (its target is the plan's first, for scale).
    pub fn year_frame(&self, indicator: &Indicator, year: i32) -> Frame {
        let start = self.year_start(year);
        let mut points = vec![(start, 0.0)];
        for target in indicator.targets.iter().filter(|t| t.date.year() == year) {
            let at = date_start_millis(target.date, self.tz);
            if at > points.last().map_or(Millis::MIN, |p| p.0) {
                points.push((at, target.value));
            }
        }
        let target = match points.last() {
            Some(&last) if points.len() > 1 => last,
            _ => (
                self.year_end_after(start),
                indicator.targets.first().map_or(0.0, |t| t.value),
            ),
        };
        Frame {
            start: start.max(self.baseline().0),
            baseline: 0.0,
            target,
            trajectory: Trajectory {
                points,
                overdue_from: self.overdue_from,
                tz: self.tz,
            },
        }
    }
}

/// A least-squares trend over the recent current-value series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Forecast {
    /// The line's value at the final target date.
    pub projected_value: f64,
    /// The instant the line reaches `T`; `None` if its slope is zero or moves the wrong way.
    pub reach_time: Option<Millis>,
}

/// Everything the method says about one indicator at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct IndicatorEvaluation {
    /// `c`; `None` when there is no observation at or after the baseline date.
    pub current: Option<f64>,
    /// `p = (c − B)/(T − B)`, unclamped; `None` when there is no data. For `maintain`: 1.0 when
    /// on track, else 0.0.
    pub progress: Option<f64>,
    /// `q = (e(now) − B)/(T − B)`; 1.0 for `maintain`.
    pub expected: f64,
    /// `e(now)`.
    pub expected_value: f64,
    pub status: Status,
    /// The newest observation is older than `update_every × (1 + stale_grace)`; false without data.
    pub stale: bool,
    /// The final target date has passed and the indicator is not achieved (also without data).
    pub overdue: bool,
    /// Time of the newest observation at or after the baseline date.
    pub last_update: Option<Millis>,
    pub forecast: Option<Forecast>,
    /// SAKIP capaian against `target` (see `capaian`); `None` without data or where the formula
    /// has no meaning.
    pub capaian: Option<f64>,
    /// The target progress was measured against, and its instant (the final target; for
    /// `cumulative_yearly` the active year's total).
    pub target: (Millis, f64),
}

/// What progress is measured against at one instant: the baseline `B`, the target `T`, the
/// trajectory giving the expected value, and where the counted observations start.
///
/// For `level` and `cumulative` this is the plan's baseline, final target and trajectory. For
/// `cumulative_yearly` it is the active year: `B = 0` on 1 January, `T` that year's total, the
/// trajectory from 0 through that year's targets (quarterly ones included).
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// Observations from this instant on are counted.
    pub start: Millis,
    pub baseline: f64,
    /// The target progress is measured against, and its instant.
    pub target: (Millis, f64),
    /// The expected value over time within this frame.
    pub trajectory: Trajectory,
}

impl Frame {
    /// The frame of `indicator` at `now`.
    pub fn at(indicator: &Indicator, trajectory: &Trajectory, now: Millis) -> Frame {
        match indicator.kind {
            Kind::CumulativeYearly => {
                let year = trajectory.year_of(now);
                // This year; after the plan's last target year, that last year; before the
                // first, this year with nothing expected yet.
                let active = indicator
                    .target_years()
                    .into_iter()
                    .filter(|y| *y <= year)
                    .max()
                    .unwrap_or(year);
                trajectory.year_frame(indicator, active)
            }
            Kind::Level | Kind::Cumulative => Frame {
                start: trajectory.baseline().0,
                baseline: trajectory.baseline().1,
                target: trajectory.final_target(),
                trajectory: trajectory.clone(),
            },
        }
    }
}

/// Evaluates `indicator` at `now` against `trajectory`.
///
/// `series`: observations (time, value) sorted by time ascending with unique times, none after
/// `now` (the caller cuts the series for a past `now`). Observations before the frame's start
/// are not counted (nor are non-finite values).
pub fn evaluate(
    indicator: &Indicator,
    trajectory: &Trajectory,
    series: &[(Millis, f64)],
    now: Millis,
    th: &Thresholds,
) -> IndicatorEvaluation {
    let direction = indicator.direction;
    let frame = Frame::at(indicator, trajectory, now);
    let b = frame.baseline;
    let (target_time, t) = frame.target;
    let expected_value = frame.trajectory.expected_at(now);
    let q_raw = fraction(expected_value, b, t);

    let values = current_value_series(indicator, series, &frame);
    let Some(&(last_update, c)) = values.last() else {
        let expected = if direction.is_band() {
            1.0
        } else {
            q_raw.unwrap_or(1.0)
        };
        return IndicatorEvaluation {
            current: None,
            progress: None,
            expected,
            expected_value,
            status: Status::NoData,
            stale: false,
            overdue: is_overdue(now, trajectory.overdue_from(), Status::NoData),
            last_update: None,
            forecast: None,
            capaian: None,
            target: frame.target,
        };
    };

    let (progress, expected, status) = match direction {
        Direction::Maintain => {
            let slack = EPS * c.abs().max(t.abs()).max(1.0);
            if (c - t).abs() <= indicator.tolerance + slack {
                (1.0, 1.0, Status::OnTrack)
            } else {
                (0.0, 1.0, Status::OffTrack)
            }
        }
        Direction::AtLeast | Direction::AtMost => {
            let met = if direction == Direction::AtLeast {
                reaches(c, t)
            } else {
                reaches(-c, -t)
            };
            if met {
                (1.0, 1.0, Status::Achieved)
            } else {
                (0.0, 1.0, Status::OffTrack)
            }
        }
        Direction::Increase | Direction::Decrease => {
            let achieved = if direction == Direction::Increase {
                reaches(c, t)
            } else {
                reaches(-c, -t)
            };
            // `T = B` cannot pass `pantau check`; should it reach us, progress is all or nothing.
            let (p, q) = match (fraction(c, b, t), q_raw) {
                (Some(p), Some(q)) => (p, q),
                _ => (if achieved { 1.0 } else { 0.0 }, 1.0),
            };
            let status = if achieved {
                Status::Achieved
            } else {
                pace_status(p, q, th)
            };
            (p, q, status)
        }
    };

    let forecast = match status {
        Status::NoData | Status::Achieved => None,
        _ => forecast(direction, &values, now, target_time, t, th),
    };

    IndicatorEvaluation {
        current: Some(c),
        progress: Some(progress),
        expected,
        expected_value,
        status,
        stale: is_stale(
            last_update,
            indicator.update_every.millis(),
            th.stale_grace,
            now,
        ),
        overdue: is_overdue(now, trajectory.overdue_from(), status),
        last_update: Some(last_update),
        forecast,
        capaian: capaian(direction, c, t, indicator.tolerance, th.capaian_decrease),
        target: frame.target,
    }
}

/// How many indicators under an item are in each status, and how many are stale.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub no_data: u32,
    pub achieved: u32,
    pub on_track: u32,
    pub at_risk: u32,
    pub off_track: u32,
    pub stale: u32,
    /// Indicators past their final target date and not achieved (a flag beside the status).
    pub overdue: u32,
}

impl Counts {
    /// Adds `other` into `self` (saturating; counts never wrap).
    pub fn add(&mut self, other: &Counts) {
        self.no_data = self.no_data.saturating_add(other.no_data);
        self.achieved = self.achieved.saturating_add(other.achieved);
        self.on_track = self.on_track.saturating_add(other.on_track);
        self.at_risk = self.at_risk.saturating_add(other.at_risk);
        self.off_track = self.off_track.saturating_add(other.off_track);
        self.stale = self.stale.saturating_add(other.stale);
        self.overdue = self.overdue.saturating_add(other.overdue);
    }

    /// The counts of a single indicator.
    pub fn of_indicator(status: Status, stale: bool, overdue: bool) -> Counts {
        let mut counts = Counts {
            stale: u32::from(stale),
            overdue: u32::from(overdue),
            ..Counts::default()
        };
        match status {
            Status::NoData => counts.no_data = 1,
            Status::Achieved => counts.achieved = 1,
            Status::OnTrack => counts.on_track = 1,
            Status::AtRisk => counts.at_risk = 1,
            Status::OffTrack => counts.off_track = 1,
        }
        counts
    }

    /// How many indicators are counted (the sum of the five statuses; `stale` is a flag beside).
    pub fn total(&self) -> u32 {
        self.no_data
            .saturating_add(self.achieved)
            .saturating_add(self.on_track)
            .saturating_add(self.at_risk)
            .saturating_add(self.off_track)
    }
}

/// One item being rolled up (an indicator into a program, a program into a dimension, a
/// dimension into the masterplan).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RollUpPart {
    pub weight: f64,
    /// `None` = no data: left out of the means.
    pub progress: Option<f64>,
    pub expected: f64,
    /// This part is fully achieved.
    pub achieved: bool,
    pub counts: Counts,
}

impl RollUpPart {
    /// From an indicator: progress and expected clamped to [0, 1] (maintain: p = 1 on track else
    /// 0, q = 1); progress `None` when there is no data.
    pub fn from_indicator(e: &IndicatorEvaluation, weight: f64) -> Self {
        let progress = match e.status {
            Status::NoData => None,
            _ => e.progress.map(clamp01),
        };
        RollUpPart {
            weight,
            progress,
            expected: clamp01(e.expected),
            achieved: e.status == Status::Achieved,
            counts: Counts::of_indicator(e.status, e.stale, e.overdue),
        }
    }

    /// From a rolled-up item (program -> dimension, dimension -> masterplan).
    pub fn from_roll_up(r: &RollUp, weight: f64) -> Self {
        RollUpPart {
            weight,
            progress: r.progress,
            expected: r.expected.unwrap_or(0.0),
            achieved: r.status == Status::Achieved,
            counts: r.counts,
        }
    }
}

/// A program, dimension or the masterplan, summarised from its parts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RollUp {
    pub status: Status,
    /// Weighted mean of the parts' clamped `p`; `None` when no part has data.
    pub progress: Option<f64>,
    /// Weighted mean of the parts' clamped `q`; `None` when no part has data.
    pub expected: Option<f64>,
    /// Some indicator under this item is stale (`counts.stale > 0`).
    pub stale: bool,
    /// A program past its due date and not achieved; a dimension or the masterplan with such a
    /// program under it. `roll_up` leaves it false: the caller knows the dates
    /// (`program_overdue`, `any_overdue`).
    pub overdue: bool,
    pub counts: Counts,
}

/// Weighted means over parts with data of (clamped) p and q; status by the same rules applied to
/// the means; `Achieved` only when every part (including no-data parts) is achieved and there is
/// at least one; `NoData` when no part has data. `counts` is the sum of the parts' counts.
///
/// Negative or non-finite weights count as 0; when the weights of the parts with data sum to 0,
/// those parts weigh equally.
pub fn roll_up(parts: &[RollUpPart], th: &Thresholds) -> RollUp {
    let mut counts = Counts::default();
    for part in parts {
        counts.add(&part.counts);
    }
    let stale = counts.stale > 0;

    let with_data: Vec<(f64, f64, f64)> = parts
        .iter()
        .filter_map(|part| {
            let p = part.progress.filter(|p| !p.is_nan())?;
            let w = if part.weight.is_finite() && part.weight > 0.0 {
                part.weight
            } else {
                0.0
            };
            Some((w, clamp01(p), clamp01(part.expected)))
        })
        .collect();
    if with_data.is_empty() {
        return RollUp {
            status: Status::NoData,
            progress: None,
            expected: None,
            stale,
            overdue: false,
            counts,
        };
    }

    // Scale weights by the largest so their sum can neither overflow nor vanish.
    let max_weight = with_data.iter().fold(0.0_f64, |m, &(w, _, _)| m.max(w));
    let (mut sum_w, mut sum_p, mut sum_q) = (0.0, 0.0, 0.0);
    for &(w, p, q) in &with_data {
        let w = if max_weight > 0.0 {
            w / max_weight
        } else {
            1.0
        };
        sum_w += w;
        sum_p += w * p;
        sum_q += w * q;
    }
    let progress = clamp01(sum_p / sum_w);
    let expected = clamp01(sum_q / sum_w);

    let status = if parts.iter().all(|part| part.achieved) {
        Status::Achieved
    } else {
        pace_status(progress, expected, th)
    };
    RollUp {
        status,
        progress: Some(progress),
        expected: Some(expected),
        stale,
        overdue: false,
        counts,
    }
}

/// A program is overdue from `overdue_from` (midnight after its due date) while not achieved.
pub fn program_overdue(rollup: &RollUp, overdue_from: Millis, now: Millis) -> bool {
    is_overdue(now, overdue_from, rollup.status)
}

/// A dimension or the masterplan is overdue when any item under it is.
pub fn any_overdue<'a>(parts: impl IntoIterator<Item = &'a RollUp>) -> bool {
    parts.into_iter().any(|r| r.overdue)
}

/// Past `overdue_from` and not achieved.
fn is_overdue(now: Millis, overdue_from: Millis, status: Status) -> bool {
    now >= overdue_from && status != Status::Achieved
}

/// Steps 3–5 of the status rules: on track, at risk or off track by `p / q`.
fn pace_status(p: f64, q: f64, th: &Thresholds) -> Status {
    if q <= 0.0 {
        return Status::OnTrack;
    }
    let pace = p / q;
    if reaches(pace, th.on_track) {
        Status::OnTrack
    } else if reaches(pace, th.at_risk) {
        Status::AtRisk
    } else {
        Status::OffTrack
    }
}

/// `x ≥ threshold`, with a relative slack of `EPS` for rounding.
fn reaches(x: f64, threshold: f64) -> bool {
    x >= threshold - EPS * threshold.abs().max(1.0)
}

/// `(x − b)/(t − b)`, robust to overflow; `None` when undefined (`t = b`).
fn fraction(x: f64, b: f64, t: f64) -> Option<f64> {
    if t == b || !(x.is_finite() && b.is_finite() && t.is_finite()) {
        return None;
    }
    let direct = (x - b) / (t - b);
    if direct.is_finite() {
        return Some(direct);
    }
    // A difference overflowed: scale everything into [-1, 1] first.
    let scale = x.abs().max(b.abs()).max(t.abs());
    let scaled = (x / scale - b / scale) / (t / scale - b / scale);
    if scaled.is_nan() {
        None
    } else {
        Some(hold_finite(scaled))
    }
}

/// A non-NaN value with infinities held at `±f64::MAX`.
fn hold_finite(x: f64) -> f64 {
    x.clamp(-f64::MAX, f64::MAX)
}

/// `x` clamped to [0, 1]; NaN counts as 0.
fn clamp01(x: f64) -> f64 {
    if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) }
}

/// The current value after each counted observation (at or after the frame's start): the value
/// itself (`level`), the baseline value plus the running sum (`cumulative`), or the running sum
/// within the frame's year (`cumulative_yearly`: the frame starts on 1 January and its
/// observations end with the year).
///
/// Borrowed for a `level` indicator whose values are all finite (as stored values are): the
/// start-up evaluates every indicator at 26 past weeks, and copying 5 years of daily values for
/// each was most of that time.
pub fn current_value_series<'a>(
    indicator: &Indicator,
    series: &'a [(Millis, f64)],
    frame: &Frame,
) -> Cow<'a, [(Millis, f64)]> {
    let from = series.partition_point(|(t, _)| *t < frame.start);
    let counted = &series[from..];
    let observed = counted
        .iter()
        .copied()
        .filter(|&(_, value)| value.is_finite());
    Cow::Owned(match indicator.kind {
        Kind::Level if counted.iter().all(|(_, v)| v.is_finite()) => {
            return Cow::Borrowed(counted);
        }
        Kind::Level => observed.collect(),
        Kind::Cumulative => {
            let mut sum = frame.baseline;
            observed
                .map(|(time, value)| {
                    sum = hold_finite(sum + value);
                    (time, sum)
                })
                .collect()
        }
        Kind::CumulativeYearly => {
            let end = frame.trajectory.year_end_after(frame.start);
            let mut sum = 0.0;
            observed
                .take_while(|(time, _)| *time < end)
                .map(|(time, value)| {
                    sum = hold_finite(sum + value);
                    (time, sum)
                })
                .collect()
        }
    })
}

/// The newest observation is strictly older than `update_every × (1 + grace)` at `now`.
fn is_stale(newest: Millis, every_ms: i64, grace: f64, now: Millis) -> bool {
    // Float-to-int `as` saturates (NaN -> 0); the sum is done in i128 so it cannot overflow.
    let grace_ms = (grace * every_ms as f64).round() as i64;
    let deadline = i128::from(newest) + i128::from(every_ms) + i128::from(grace_ms);
    i128::from(now) > deadline
}

/// SAKIP capaian in percent of realisasi `r` against target `t`:
/// - `increase`: `r / t × 100`;
/// - `decrease`: `(2t − r) / t × 100` (`CapaianDecrease::Inverse`, the default) or `t / r × 100`
///   (`Ratio`);
/// - `at_least` as increase and `at_most` as decrease, each capped at 100 when met;
/// - `maintain`: 100 within its tolerance, otherwise as decrease above the target and as
///   increase below it.
///
/// `None` where the formula has no meaning: `t ≤ 0`, or `r ≤ 0` for the ratio form.
pub fn capaian(
    direction: Direction,
    r: f64,
    t: f64,
    tolerance: f64,
    decrease: CapaianDecrease,
) -> Option<f64> {
    if t.is_nan() || t <= 0.0 || !r.is_finite() {
        return None;
    }
    let up = || r / t * 100.0;
    let down = || match decrease {
        CapaianDecrease::Inverse => Some((2.0 - r / t) * 100.0),
        CapaianDecrease::Ratio => (r > 0.0).then(|| t / r * 100.0),
    };
    let percent = match direction {
        Direction::Increase => Some(up()),
        Direction::Decrease => down(),
        Direction::AtLeast => Some(up().min(100.0)),
        Direction::AtMost => down().map(|p| p.min(100.0)),
        Direction::Maintain => {
            let slack = EPS * r.abs().max(t).max(1.0);
            if (r - t).abs() <= tolerance + slack {
                Some(100.0)
            } else if r > t {
                down()
            } else {
                Some(up())
            }
        }
    };
    percent.filter(|p| !p.is_nan()).map(hold_finite)
}

/// The capaian category of a percentage in `bands`.
pub fn category(percent: f64, bands: &CapaianBands) -> CapaianCategory {
    if percent >= bands.sangat_tinggi {
        CapaianCategory::SangatTinggi
    } else if percent >= bands.tinggi {
        CapaianCategory::Tinggi
    } else if percent >= bands.sedang {
        CapaianCategory::Sedang
    } else if percent >= bands.rendah {
        CapaianCategory::Rendah
    } else {
        CapaianCategory::SangatRendah
    }
}

/// Least-squares line through the current-value series within the forecast window ending at
/// `now`; `None` with fewer than 3 points or any non-finite result.
fn forecast(
    direction: Direction,
    values: &[(Millis, f64)],
    now: Millis,
    final_time: Millis,
    target: f64,
    th: &Thresholds,
) -> Option<Forecast> {
    let window_start = now as f64 - th.forecast_window_days * DAY_MS;
    // `values` is in time order: the window is the run of it from `window_start` to `now`.
    let from = values.partition_point(|&(time, _)| (time as f64) < window_start);
    let to = values.partition_point(|&(time, _)| time <= now);
    let recent = &values[from..to.max(from)];
    let &(origin, _) = recent.first()?;
    if recent.len() < 3 {
        return None;
    }
    let days = |time: Millis| (i128::from(time) - i128::from(origin)) as f64 / DAY_MS;

    let n = recent.len() as f64;
    let mean_x = recent.iter().map(|&(time, _)| days(time)).sum::<f64>() / n;
    let mean_y = recent.iter().map(|&(_, v)| v).sum::<f64>() / n;
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for &(time, v) in recent {
        let dx = days(time) - mean_x;
        sxx += dx * dx;
        sxy += dx * (v - mean_y);
    }
    if sxx <= 0.0 || !sxx.is_finite() {
        return None;
    }
    let slope = sxy / sxx;
    let projected_value = mean_y + slope * (days(final_time) - mean_x);
    if !(slope.is_finite() && projected_value.is_finite()) {
        return None;
    }

    let toward_target = match direction {
        Direction::Increase | Direction::AtLeast => slope > 0.0,
        Direction::Decrease | Direction::AtMost => slope < 0.0,
        Direction::Maintain => false,
    };
    let reach_time = if toward_target {
        let reach_days = mean_x + (target - mean_y) / slope;
        let reach_ms = (origin as f64 + reach_days * DAY_MS).round();
        // i64::MAX as f64 is 2^63, itself out of range.
        (reach_ms.is_finite() && reach_ms >= i64::MIN as f64 && reach_ms < i64::MAX as f64)
            .then_some(reach_ms as i64)
    } else {
        None
    };
    Some(Forecast {
        projected_value,
        reach_time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Cadence, DepartmentId, IndicatorId, ProgramId, Target};
    use chrono::NaiveDate;
    use proptest::prelude::*;

    const DAY: i64 = 86_400_000;
    /// 2026-01-01T00:00:00Z.
    const JAN1: Millis = 1_767_225_600_000;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// Midnight UTC, `n` days after 2026-01-01.
    fn day(n: i64) -> Millis {
        JAN1 + n * DAY
    }

    fn indicator(
        direction: Direction,
        kind: Kind,
        baseline: (&str, f64),
        targets: &[(&str, f64)],
    ) -> Indicator {
        Indicator {
            id: IndicatorId::parse("env.air-quality").unwrap(),
            program: ProgramId::parse("env.clean-air").unwrap(),
            name: "Kualitas udara".into(),
            code: None,
            tier: None,
            pic: None,
            source: None,
            unit: "persen".into(),
            department: DepartmentId::parse("dlh").unwrap(),
            direction,
            tolerance: 0.0,
            kind,
            baseline: Target {
                date: date(baseline.0),
                value: baseline.1,
            },
            targets: targets
                .iter()
                .map(|&(d, value)| Target {
                    date: date(d),
                    value,
                })
                .collect(),
            update_every: Cadence::parse("1d").unwrap(),
            weight: 1.0,
            min: None,
            max: None,
        }
    }

    /// Increase from 0 on 2026-01-01 to 100 on 2026-01-11 (10 units a day).
    fn ten_day_increase() -> Indicator {
        indicator(
            Direction::Increase,
            Kind::Level,
            ("2026-01-01", 0.0),
            &[("2026-01-11", 100.0)],
        )
    }

    fn eval_at(ind: &Indicator, series: &[(Millis, f64)], now: Millis) -> IndicatorEvaluation {
        let trajectory = Trajectory::new(ind, chrono_tz::UTC);
        evaluate(ind, &trajectory, series, now, &Thresholds::default())
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[track_caller]
    fn assert_close(a: f64, b: f64) {
        assert!(close(a, b), "{a} is not close to {b}");
    }

    #[test]
    fn a_level_series_is_borrowed_unless_a_value_is_not_finite() {
        let ind = ten_day_increase();
        let trajectory = Trajectory::new(&ind, chrono_tz::UTC);
        let frame = Frame::at(&ind, &trajectory, day(5));
        let clean = [(day(1), 10.0), (day(2), 20.0)];
        assert!(matches!(
            current_value_series(&ind, &clean, &frame),
            Cow::Borrowed(_)
        ));
        let dirty = [(day(1), 10.0), (day(2), f64::NAN), (day(3), 30.0)];
        let values = current_value_series(&ind, &dirty, &frame);
        assert_eq!(&values[..], &[(day(1), 10.0), (day(3), 30.0)]);
        // The evaluation and its forecast see the finite values only.
        let e = eval_at(&ind, &dirty, day(5));
        assert_eq!(e.current, Some(30.0));
        assert_eq!(e.last_update, Some(day(3)));
    }

    #[test]
    fn the_forecast_window_is_the_values_from_its_start_to_now() {
        // 10 a day for 30 days, then a window of 7 days (the last 8 values): the line's slope
        // is 10 a day whatever came before it, and a value after `now` is not in it.
        let th = Thresholds {
            forecast_window_days: 7.0,
            ..Thresholds::default()
        };
        let mut series: Vec<(Millis, f64)> = (0..30).map(|d| (day(d), 10.0 * d as f64)).collect();
        series[0].1 = 5_000.0; // far outside the window: it must not bend the line
        series.push((day(40), -1e9)); // after `now`
        let f = forecast(
            Direction::Increase,
            &series,
            day(29),
            day(364),
            10_000.0,
            &th,
        )
        .expect("a forecast from 8 values");
        assert_close(f.projected_value, 3_640.0);
    }

    // --- trajectory -------------------------------------------------------------------------

    #[test]
    fn trajectory_dates_are_midnight_in_the_city_zone() {
        let ind = ten_day_increase();
        let jakarta = Trajectory::new(&ind, chrono_tz::Asia::Jakarta);
        // 2026-01-01 00:00 +07:00 is 2025-12-31 17:00 UTC.
        assert_eq!(jakarta.baseline(), (JAN1 - 7 * 3_600_000, 0.0));
        assert_eq!(jakarta.final_target(), (day(10) - 7 * 3_600_000, 100.0));
        assert_eq!(jakarta.points().len(), 2);
    }

    #[test]
    fn expected_value_is_baseline_before_and_final_target_after() {
        let t = Trajectory::new(&ten_day_increase(), chrono_tz::UTC);
        assert_eq!(t.expected_at(day(-30)), 0.0);
        assert_eq!(t.expected_at(day(0)), 0.0);
        assert_eq!(t.expected_at(day(10)), 100.0);
        assert_eq!(t.expected_at(day(400)), 100.0);
        assert_close(t.expected_at(day(3)), 30.0);
        assert_close(t.expected_at(day(0) + DAY / 2), 5.0);
    }

    #[test]
    fn expected_value_interpolates_between_two_targets() {
        let ind = indicator(
            Direction::Increase,
            Kind::Level,
            ("2026-01-01", 0.0),
            &[("2026-01-11", 10.0), ("2026-01-31", 50.0)],
        );
        let t = Trajectory::new(&ind, chrono_tz::UTC);
        assert_close(t.expected_at(day(5)), 5.0);
        assert_eq!(t.expected_at(day(10)), 10.0);
        // Halfway from (day 10, 10) to (day 30, 50).
        assert_close(t.expected_at(day(20)), 30.0);
        assert_close(t.expected_at(day(25)), 40.0);
        assert_eq!(t.expected_at(day(30)), 50.0);

        // q follows the same segments: e = 30 of T = 50.
        let e = eval_at(&ind, &[(day(20), 30.0)], day(20));
        assert_close(e.expected_value, 30.0);
        assert_close(e.expected, 0.6);
        assert_close(e.progress.unwrap(), 0.6);
        assert_eq!(e.status, Status::OnTrack);
    }

    #[test]
    fn empty_trajectory_does_not_panic() {
        let t = Trajectory::from_points(Vec::new());
        assert_eq!(t.expected_at(5), 0.0);
        assert_eq!(t.baseline(), (0, 0.0));
        assert_eq!(t.final_target(), (0, 0.0));
    }

    // --- status -----------------------------------------------------------------------------

    #[test]
    fn increase_progress_and_expected_by_hand() {
        // Day 5: e = 50, q = 0.5; c = 40: p = 0.4, p/q = 0.8 -> off track.
        let e = eval_at(&ten_day_increase(), &[(day(4), 40.0)], day(5));
        assert_eq!(e.current, Some(40.0));
        assert_close(e.progress.unwrap(), 0.4);
        assert_close(e.expected, 0.5);
        assert_close(e.expected_value, 50.0);
        assert_eq!(e.status, Status::OffTrack);
        assert_eq!(e.last_update, Some(day(4)));
        assert!(!e.stale);
    }

    #[test]
    fn level_takes_the_latest_value() {
        let series = [(day(1), 70.0), (day(2), 10.0), (day(3), 30.0)];
        let e = eval_at(&ten_day_increase(), &series, day(3));
        assert_eq!(e.current, Some(30.0));
        assert_close(e.progress.unwrap(), 0.3);
        assert_eq!(e.status, Status::OnTrack); // p/q = 0.3/0.3 = 1
    }

    #[test]
    fn thresholds_count_when_exactly_reached() {
        // Day 3: q = 0.3. p/q = 0.95 at c = 28.5, 0.85 at c = 25.5.
        let ind = ten_day_increase();
        let at = |c: f64| eval_at(&ind, &[(day(3), c)], day(3));
        assert_eq!(at(28.5).status, Status::OnTrack);
        assert_eq!(at(28.4).status, Status::AtRisk);
        assert_eq!(at(25.5).status, Status::AtRisk);
        assert_eq!(at(25.4).status, Status::OffTrack);
        assert_eq!(at(-5.0).status, Status::OffTrack);
        assert_close(at(-5.0).progress.unwrap(), -0.05); // regression is not clamped
    }

    #[test]
    fn achieved_when_the_final_target_is_reached() {
        let ind = ten_day_increase();
        let e = eval_at(&ind, &[(day(2), 100.0)], day(2));
        assert_eq!(e.status, Status::Achieved);
        assert_eq!(e.progress, Some(1.0));
        let e = eval_at(&ind, &[(day(2), 120.0)], day(2));
        assert_eq!(e.status, Status::Achieved);
        assert_close(e.progress.unwrap(), 1.2); // beyond is not clamped
        assert_eq!(e.forecast, None);
        // A hair below the target is not achieved, and at day 2 it is far ahead: on track.
        assert_eq!(
            eval_at(&ind, &[(day(2), 99.9)], day(2)).status,
            Status::OnTrack
        );
    }

    #[test]
    fn decrease_by_hand() {
        // From 50 down to 10 over 10 days (4 a day). Day 5: e = 30, q = 0.5.
        let ind = indicator(
            Direction::Decrease,
            Kind::Level,
            ("2026-01-01", 50.0),
            &[("2026-01-11", 10.0)],
        );
        let e = eval_at(&ind, &[(day(5), 32.0)], day(5)); // p = 18/40 = 0.45, p/q = 0.9
        assert_close(e.expected_value, 30.0);
        assert_close(e.expected, 0.5);
        assert_close(e.progress.unwrap(), 0.45);
        assert_eq!(e.status, Status::AtRisk);
        assert_eq!(
            eval_at(&ind, &[(day(5), 31.0)], day(5)).status,
            Status::OnTrack
        );
        assert_eq!(
            eval_at(&ind, &[(day(5), 34.0)], day(5)).status,
            Status::OffTrack
        );
        assert_eq!(
            eval_at(&ind, &[(day(5), 10.0)], day(5)).status,
            Status::Achieved
        );
        assert_eq!(
            eval_at(&ind, &[(day(5), 9.0)], day(5)).status,
            Status::Achieved
        );
        // Day 1: q = 0.1. By hand c = 46.2 is exactly 0.95 of pace and 46.6 exactly 0.85, but
        // in f64 p/q comes out as 0.9499999999999993 and 0.8499999999999996.
        assert_eq!(
            eval_at(&ind, &[(day(1), 46.2)], day(1)).status,
            Status::OnTrack
        );
        assert_eq!(
            eval_at(&ind, &[(day(1), 46.3)], day(1)).status,
            Status::AtRisk
        );
        assert_eq!(
            eval_at(&ind, &[(day(1), 46.6)], day(1)).status,
            Status::AtRisk
        );
        assert_eq!(
            eval_at(&ind, &[(day(1), 46.7)], day(1)).status,
            Status::OffTrack
        );
        // Going up is regression.
        let e = eval_at(&ind, &[(day(5), 60.0)], day(5));
        assert_close(e.progress.unwrap(), -0.25);
        assert_eq!(e.status, Status::OffTrack);
    }

    #[test]
    fn maintain_is_on_track_within_tolerance_and_never_achieved() {
        let mut ind = indicator(
            Direction::Maintain,
            Kind::Level,
            ("2026-01-01", 100.0),
            &[("2026-01-11", 100.0)],
        );
        ind.tolerance = 2.0;
        let at = |c: f64| eval_at(&ind, &[(day(3), c)], day(3));
        let e = at(101.5);
        assert_eq!(e.status, Status::OnTrack);
        assert_eq!(e.progress, Some(1.0));
        assert_eq!(e.expected, 1.0);
        // Within its tolerance a maintained target is fully met.
        assert_close(e.capaian.unwrap(), 100.0);
        assert_eq!(at(102.0).status, Status::OnTrack);
        assert_eq!(at(98.0).status, Status::OnTrack);
        assert_eq!(at(100.0).status, Status::OnTrack); // exactly on target: not "achieved"
        let e = at(102.5);
        assert_eq!(e.status, Status::OffTrack);
        assert_eq!(e.progress, Some(0.0));
        assert_eq!(e.expected, 1.0);
        assert_eq!(at(97.9).status, Status::OffTrack);
    }

    #[test]
    fn maintain_tolerance_boundary_with_decimals() {
        let mut ind = indicator(
            Direction::Maintain,
            Kind::Level,
            ("2026-01-01", 7.2),
            &[("2026-01-11", 7.0)],
        );
        ind.tolerance = 0.3;
        // |7.3 - 7.0| is 0.2999999999999998 or 0.3000000000000007 in f64; both count.
        assert_eq!(
            eval_at(&ind, &[(day(1), 7.3)], day(1)).status,
            Status::OnTrack
        );
        assert_eq!(
            eval_at(&ind, &[(day(1), 6.7)], day(1)).status,
            Status::OnTrack
        );
        assert_eq!(
            eval_at(&ind, &[(day(1), 6.69)], day(1)).status,
            Status::OffTrack
        );
    }

    #[test]
    fn cumulative_sums_increments_since_the_baseline_date() {
        let ind = indicator(
            Direction::Increase,
            Kind::Cumulative,
            ("2026-01-01", 0.0),
            &[("2026-01-11", 100.0)],
        );
        // The increment before the baseline date is ignored: c = 10 + 15 + 5 = 30.
        let series = [
            (day(-1), 1000.0),
            (day(0), 10.0),
            (day(1), 15.0),
            (day(2), 5.0),
        ];
        let e = eval_at(&ind, &series, day(3));
        assert_eq!(e.current, Some(30.0));
        assert_close(e.progress.unwrap(), 0.3);
        assert_eq!(e.status, Status::OnTrack);
        assert_eq!(e.last_update, Some(day(2)));

        // Decimal increments summing to the target are achieved.
        let tenths: Vec<(Millis, f64)> = (0..10).map(|i| (day(0) + i * 1000, 0.1)).collect();
        let ind = indicator(
            Direction::Increase,
            Kind::Cumulative,
            ("2026-01-01", 0.0),
            &[("2026-01-11", 1.0)],
        );
        assert_eq!(eval_at(&ind, &tenths, day(1)).status, Status::Achieved);
    }

    #[test]
    fn now_before_the_baseline_date() {
        let ind = ten_day_increase();
        // Nothing can be observed yet: no data, nothing expected.
        let e = eval_at(&ind, &[(day(-3), 5.0)], day(-2));
        assert_eq!(e.status, Status::NoData);
        assert_eq!(e.expected, 0.0);
        assert_eq!(e.expected_value, 0.0);
        // An observation at the baseline instant while q = 0 is on track, even at regression.
        let e = eval_at(&ind, &[(day(0), -1.0)], day(0));
        assert_eq!(e.expected, 0.0);
        assert_eq!(e.status, Status::OnTrack);
        assert_close(e.progress.unwrap(), -0.01);
    }

    #[test]
    fn after_the_last_target_date_everything_is_expected() {
        let ind = ten_day_increase();
        let e = eval_at(&ind, &[(day(40), 96.0)], day(40));
        assert_eq!(e.expected, 1.0);
        assert_eq!(e.expected_value, 100.0);
        assert_eq!(e.status, Status::OnTrack);
        assert_eq!(
            eval_at(&ind, &[(day(40), 90.0)], day(40)).status,
            Status::AtRisk
        );
        assert_eq!(
            eval_at(&ind, &[(day(40), 80.0)], day(40)).status,
            Status::OffTrack
        );
    }

    #[test]
    fn overdue_from_the_day_after_the_final_target_date_unless_achieved() {
        // The final target date is 2026-01-11 (day 10): overdue from midnight of 2026-01-12.
        let ind = ten_day_increase();
        let series = [(day(2), 60.0)];
        assert!(!eval_at(&ind, &series, day(10)).overdue);
        assert!(!eval_at(&ind, &series, day(11) - 1).overdue);
        let late = eval_at(&ind, &series, day(11));
        assert!(late.overdue);
        // 60 of 100 with everything expected: off track, and overdue beside it.
        assert_eq!(late.status, Status::OffTrack);
        // Nearly there but late is still overdue; on track by pace does not hide it.
        let nearly = eval_at(&ind, &[(day(12), 98.0)], day(12));
        assert_eq!((nearly.status, nearly.overdue), (Status::OnTrack, true));
        // Achieved is never overdue, and no data past the date is.
        assert!(!eval_at(&ind, &[(day(2), 100.0)], day(400)).overdue);
        assert!(eval_at(&ind, &[], day(11)).overdue);
        // In a roll-up the counts carry it.
        let part = RollUpPart::from_indicator(&late, 1.0);
        assert_eq!(part.counts.overdue, 1);
    }

    #[test]
    fn program_overdue_follows_its_due_date_and_status() {
        let th = Thresholds::default();
        let off = roll_up(&[part(1.0, Some(0.2), 1.0, Status::OffTrack)], &th);
        assert!(!program_overdue(&off, day(5), day(4)));
        assert!(program_overdue(&off, day(5), day(5)));
        let done = roll_up(&[part(1.0, Some(1.0), 1.0, Status::Achieved)], &th);
        assert!(!program_overdue(&done, day(5), day(50)));
        let flagged = RollUp {
            overdue: true,
            ..off
        };
        assert!(any_overdue([&done, &flagged]));
        assert!(!any_overdue([&done, &off]));
    }

    #[test]
    fn no_data_without_observations_at_or_after_the_baseline() {
        let ind = ten_day_increase();
        for series in [&[][..], &[(day(-1), 50.0)][..], &[(day(0) - 1, 50.0)][..]] {
            let e = eval_at(&ind, series, day(5));
            assert_eq!(e.status, Status::NoData);
            assert_eq!(e.current, None);
            assert_eq!(e.progress, None);
            assert_eq!(e.last_update, None);
            assert_eq!(e.capaian, None);
            assert_eq!(e.forecast, None);
            assert!(!e.stale);
            assert_close(e.expected, 0.5);
            assert_close(e.expected_value, 50.0);
        }
    }

    #[test]
    fn baseline_date_uses_the_city_zone() {
        let ind = ten_day_increase();
        let tz = chrono_tz::Asia::Jakarta;
        let trajectory = Trajectory::new(&ind, tz);
        let th = Thresholds::default();
        // 2025-12-31T18:00Z is 01:00 on 1 January in Jakarta: counted.
        let e = evaluate(&ind, &trajectory, &[(JAN1 - 6 * 3_600_000, 5.0)], JAN1, &th);
        assert_eq!(e.current, Some(5.0));
        // 2025-12-31T16:00Z is still 31 December in Jakarta: ignored.
        let e = evaluate(&ind, &trajectory, &[(JAN1 - 8 * 3_600_000, 5.0)], JAN1, &th);
        assert_eq!(e.status, Status::NoData);
    }

    #[test]
    fn single_point_has_a_value_but_no_forecast() {
        // Day 2: q = 0.2; c = 20 gives p = 0.2, exactly on pace.
        let e = eval_at(&ten_day_increase(), &[(day(2), 20.0)], day(2));
        assert_eq!(e.current, Some(20.0));
        assert_close(e.progress.unwrap(), 0.2);
        assert_eq!(e.status, Status::OnTrack);
        assert_eq!(e.forecast, None);
    }

    // --- staleness --------------------------------------------------------------------------

    #[test]
    fn stale_only_strictly_after_cadence_plus_grace() {
        // update_every = 1d, grace = 0.5: stale once the newest value is more than 36 h old.
        let ind = ten_day_increase();
        let series = [(day(1), 10.0)];
        let boundary = day(1) + 36 * 3_600_000;
        assert!(!eval_at(&ind, &series, boundary).stale);
        assert!(eval_at(&ind, &series, boundary + 1).stale);
        assert!(!eval_at(&ind, &series, day(1)).stale);

        let th = Thresholds {
            stale_grace: 0.0,
            ..Thresholds::default()
        };
        let t = Trajectory::new(&ind, chrono_tz::UTC);
        assert!(!evaluate(&ind, &t, &series, day(2), &th).stale);
        assert!(evaluate(&ind, &t, &series, day(2) + 1, &th).stale);
    }

    #[test]
    fn stale_is_judged_by_the_newest_observation() {
        let ind = ten_day_increase();
        let series = [(day(0), 1.0), (day(4), 40.0)];
        assert!(!eval_at(&ind, &series, day(5)).stale);
        // An achieved indicator still goes stale: the flag sits beside the status.
        let e = eval_at(&ind, &[(day(1), 100.0)], day(9));
        assert_eq!(e.status, Status::Achieved);
        assert!(e.stale);
    }

    // --- forecast ---------------------------------------------------------------------------

    #[test]
    fn forecast_with_three_points_by_hand() {
        // Baseline 0 on 2026-01-01, T = 100 on 2027-01-01 (day 365).
        let ind = indicator(
            Direction::Increase,
            Kind::Level,
            ("2026-01-01", 0.0),
            &[("2027-01-01", 100.0)],
        );
        // x = 10, 11, 12; y = 10, 12, 17. x̄ = 11, ȳ = 13; Σdxdy = 3 + 0 + 4 = 7; Σdx² = 2.
        // slope = 3.5 a day; line at day 365 = 13 + 3.5 × 354 = 1252;
        // reaches 100 at day 11 + 87 / 3.5 = 35.857142857… = 3 098 057 142.857 ms after day 0.
        let series = [(day(10), 10.0), (day(11), 12.0), (day(12), 17.0)];
        let e = eval_at(&ind, &series, day(12));
        let f = e.forecast.expect("three points give a forecast");
        assert_close(f.projected_value, 1252.0);
        let reach = f.reach_time.expect("moving toward the target");
        assert!((reach - (day(0) + 3_098_057_143)).abs() <= 1, "{reach}");

        // The same points moving the wrong way: a projection, but no reach time.
        let series = [(day(10), 17.0), (day(11), 12.0), (day(12), 10.0)];
        let f = eval_at(&ind, &series, day(12)).forecast.unwrap();
        assert_close(f.projected_value, 13.0 - 3.5 * 354.0);
        assert_eq!(f.reach_time, None);

        // A flat line never reaches it.
        let series = [(day(10), 5.0), (day(11), 5.0), (day(12), 5.0)];
        let f = eval_at(&ind, &series, day(12)).forecast.unwrap();
        assert_eq!(f.projected_value, 5.0);
        assert_eq!(f.reach_time, None);

        // Two points are not enough.
        assert_eq!(eval_at(&ind, &series[1..], day(12)).forecast, None);
    }

    #[test]
    fn forecast_for_decrease_needs_a_falling_line() {
        // 50 -> 10 by day 365; values fall 2 a day: 40, 38, 36 at days 5..7.
        // Line: 38 - 2(x - 6); at day 365: 38 - 718 = -680; reaches 10 at day 6 + 14 = 20.
        let ind = indicator(
            Direction::Decrease,
            Kind::Level,
            ("2026-01-01", 50.0),
            &[("2027-01-01", 10.0)],
        );
        let series = [(day(5), 40.0), (day(6), 38.0), (day(7), 36.0)];
        let f = eval_at(&ind, &series, day(7)).forecast.unwrap();
        assert_close(f.projected_value, -680.0);
        assert_eq!(f.reach_time, Some(day(20)));

        let rising = [(day(5), 40.0), (day(6), 41.0), (day(7), 42.0)];
        assert_eq!(
            eval_at(&ind, &rising, day(7)).forecast.unwrap().reach_time,
            None
        );
    }

    #[test]
    fn forecast_for_cumulative_uses_the_running_sum() {
        // Increments of 5 a day: running sum 5, 10, 15 at days 10..12 -> slope 5 a day.
        // Line: 10 + 5(x - 11); day 365: 10 + 1770 = 1780; reaches 100 at day 11 + 18 = 29.
        let ind = indicator(
            Direction::Increase,
            Kind::Cumulative,
            ("2026-01-01", 0.0),
            &[("2027-01-01", 100.0)],
        );
        let series = [(day(10), 5.0), (day(11), 5.0), (day(12), 5.0)];
        let e = eval_at(&ind, &series, day(12));
        assert_eq!(e.current, Some(15.0));
        let f = e.forecast.unwrap();
        assert_close(f.projected_value, 1780.0);
        assert_eq!(f.reach_time, Some(day(29)));

        // Older increments count toward the running sum but fall outside the window.
        let series = [
            (day(-5), 999.0), // before the baseline: ignored altogether
            (day(1), 40.0),
            (day(200), 5.0),
            (day(201), 5.0),
            (day(202), 5.0),
        ];
        let e = eval_at(&ind, &series, day(202));
        assert_eq!(e.current, Some(55.0));
        // The window covers 45, 50, 55 at days 200..202 only; but 55 < 100 is not achieved.
        let f = e.forecast.unwrap();
        assert_close(f.projected_value, 50.0 + 5.0 * 164.0);
        assert_eq!(f.reach_time, Some(day(201) + 10 * DAY));
    }

    #[test]
    fn forecast_uses_only_the_window_up_to_now() {
        let ind = indicator(
            Direction::Increase,
            Kind::Level,
            ("2026-01-01", 0.0),
            &[("2027-01-01", 100.0)],
        );
        // Only two points lie within the last 180 days of day 300.
        let series = [
            (day(100), 1.0),
            (day(119), 2.0),
            (day(120), 3.0),
            (day(300), 4.0),
        ];
        assert_eq!(eval_at(&ind, &series, day(300)).forecast, None);
        // At day 299 the window starts at day 119, but the day-300 point is in the future.
        assert_eq!(eval_at(&ind, &series, day(299)).forecast, None);
        // At day 300 with a 181-day window, days 119, 120 and 300 are in.
        let t = Trajectory::new(&ind, chrono_tz::UTC);
        let th = Thresholds {
            forecast_window_days: 181.0,
            ..Thresholds::default()
        };
        assert!(
            evaluate(&ind, &t, &series, day(300), &th)
                .forecast
                .is_some()
        );
    }

    #[test]
    fn maintain_forecast_has_no_reach_time() {
        let mut ind = indicator(
            Direction::Maintain,
            Kind::Level,
            ("2026-01-01", 100.0),
            &[("2026-12-31", 100.0)],
        );
        ind.tolerance = 5.0;
        let series = [(day(1), 99.0), (day(2), 100.0), (day(3), 101.0)];
        let f = eval_at(&ind, &series, day(3)).forecast.unwrap();
        assert_close(f.projected_value, 100.0 + 362.0);
        assert_eq!(f.reach_time, None);
    }

    // --- capaian ----------------------------------------------------------------------------

    #[test]
    fn capaian_both_directions_and_zero_target() {
        let up = ten_day_increase();
        assert_close(
            eval_at(&up, &[(day(1), 80.0)], day(1)).capaian.unwrap(),
            80.0,
        );
        assert_close(
            eval_at(&up, &[(day(1), 125.0)], day(1)).capaian.unwrap(),
            125.0,
        );

        let down = indicator(
            Direction::Decrease,
            Kind::Level,
            ("2026-01-01", 50.0),
            &[("2026-01-11", 20.0)],
        );
        // (2 × 20 − 25) / 20 = 75 %; (40 − 15) / 20 = 125 %.
        assert_close(
            eval_at(&down, &[(day(1), 25.0)], day(1)).capaian.unwrap(),
            75.0,
        );
        assert_close(
            eval_at(&down, &[(day(1), 15.0)], day(1)).capaian.unwrap(),
            125.0,
        );

        let to_zero = indicator(
            Direction::Decrease,
            Kind::Level,
            ("2026-01-01", 10.0),
            &[("2026-01-11", 0.0)],
        );
        let e = eval_at(&to_zero, &[(day(1), 4.0)], day(1));
        assert_eq!(e.capaian, None);
        assert_close(e.progress.unwrap(), 0.6);
    }

    #[test]
    fn capaian_for_every_direction_and_the_ratio_form() {
        let inv = CapaianDecrease::Inverse;
        let ratio = CapaianDecrease::Ratio;
        let close_opt = |a: Option<f64>, b: f64| assert_close(a.unwrap(), b);
        close_opt(capaian(Direction::Increase, 80.0, 100.0, 0.0, inv), 80.0);
        close_opt(capaian(Direction::Decrease, 25.0, 20.0, 0.0, inv), 75.0);
        close_opt(capaian(Direction::Decrease, 25.0, 20.0, 0.0, ratio), 80.0);
        close_opt(capaian(Direction::Decrease, 10.0, 20.0, 0.0, ratio), 200.0);
        assert_eq!(capaian(Direction::Decrease, 0.0, 20.0, 0.0, ratio), None);
        // Thresholds: capped at 100 when met.
        close_opt(capaian(Direction::AtLeast, 99.9, 99.5, 0.0, inv), 100.0);
        close_opt(capaian(Direction::AtLeast, 89.55, 99.5, 0.0, inv), 90.0);
        close_opt(capaian(Direction::AtMost, 40.0, 50.0, 0.0, inv), 100.0);
        close_opt(capaian(Direction::AtMost, 60.0, 50.0, 0.0, inv), 80.0);
        close_opt(capaian(Direction::AtMost, 62.5, 50.0, 0.0, ratio), 80.0);
        // Maintain: 100 inside the band, as decrease above, as increase below.
        close_opt(capaian(Direction::Maintain, 101.0, 100.0, 2.0, inv), 100.0);
        close_opt(capaian(Direction::Maintain, 110.0, 100.0, 2.0, inv), 90.0);
        close_opt(capaian(Direction::Maintain, 90.0, 100.0, 2.0, inv), 90.0);
        // No meaning without a positive target.
        for d in [
            Direction::Increase,
            Direction::Decrease,
            Direction::AtLeast,
            Direction::AtMost,
            Direction::Maintain,
        ] {
            assert_eq!(capaian(d, 5.0, 0.0, 0.0, inv), None);
            assert_eq!(capaian(d, 5.0, -3.0, 0.0, inv), None);
        }
    }

    #[test]
    fn capaian_categories_follow_permendagri_86_2017() {
        let b = CapaianBands::default();
        for (p, want) in [
            (120.0, CapaianCategory::SangatTinggi),
            (91.0, CapaianCategory::SangatTinggi),
            (90.99, CapaianCategory::Tinggi),
            (76.0, CapaianCategory::Tinggi),
            (75.99, CapaianCategory::Sedang),
            (66.0, CapaianCategory::Sedang),
            (65.5, CapaianCategory::Rendah),
            (51.0, CapaianCategory::Rendah),
            (50.99, CapaianCategory::SangatRendah),
            (-10.0, CapaianCategory::SangatRendah),
        ] {
            assert_eq!(category(p, &b), want, "{p}");
        }
    }

    #[test]
    fn cumulative_starts_from_the_baseline_value() {
        // 1,000 households connected at the baseline, +100 a day planned to 2,000 by day 10.
        let ind = indicator(
            Direction::Increase,
            Kind::Cumulative,
            ("2026-01-01", 1000.0),
            &[("2026-01-11", 2000.0)],
        );
        let e = eval_at(&ind, &[(day(1), 150.0), (day(2), 150.0)], day(3));
        assert_eq!(e.current, Some(1300.0));
        assert_close(e.progress.unwrap(), 0.3); // (1300 − 1000) / (2000 − 1000)
        assert_close(e.expected, 0.3);
        assert_eq!(e.status, Status::OnTrack);
    }

    #[test]
    fn thresholds_are_met_or_not() {
        let uptime = indicator(
            Direction::AtLeast,
            Kind::Level,
            ("2026-01-01", 98.0),
            &[("2026-01-11", 99.5)],
        );
        let met = eval_at(&uptime, &[(day(1), 99.7)], day(1));
        assert_eq!(
            (met.status, met.progress, met.expected),
            (Status::Achieved, Some(1.0), 1.0)
        );
        assert_close(met.capaian.unwrap(), 100.0);
        let missed = eval_at(&uptime, &[(day(1), 99.0)], day(1));
        assert_eq!(
            (missed.status, missed.progress, missed.expected),
            (Status::OffTrack, Some(0.0), 1.0)
        );
        assert!(eval_at(&uptime, &[(day(1), 99.5)], day(1)).status == Status::Achieved);
        let ispu = indicator(
            Direction::AtMost,
            Kind::Level,
            ("2026-01-01", 70.0),
            &[("2026-01-11", 50.0)],
        );
        assert_eq!(
            eval_at(&ispu, &[(day(1), 45.0)], day(1)).status,
            Status::Achieved
        );
        assert_eq!(
            eval_at(&ispu, &[(day(1), 50.1)], day(1)).status,
            Status::OffTrack
        );
        // In a roll-up: 1 when met, 0 when not, always fully expected.
        let part = RollUpPart::from_indicator(&eval_at(&ispu, &[(day(1), 60.0)], day(1)), 1.0);
        assert_eq!((part.progress, part.expected), (Some(0.0), 1.0));
    }

    /// A year-to-date total (PAD, Rp miliar) with quarterly targets in 2026 and a yearly one in
    /// 2027, the plan's baseline being 2025's total.
    fn pad() -> Indicator {
        indicator(
            Direction::Increase,
            Kind::CumulativeYearly,
            ("2025-12-31", 180.0),
            &[
                ("2026-03-31", 40.0),
                ("2026-06-30", 100.0),
                ("2026-09-30", 150.0),
                ("2026-12-31", 200.0),
                ("2027-12-31", 220.0),
            ],
        )
    }

    fn utc(d: &str) -> Millis {
        date(d)
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis()
    }

    #[test]
    fn year_to_date_totals_start_again_each_january() {
        let ind = pad();
        let series = [
            (utc("2026-02-01"), 20.0),
            (utc("2026-05-01"), 40.0),
            (utc("2026-11-01"), 120.0),
            (utc("2027-01-15"), 30.0),
            (utc("2027-03-01"), 25.0),
        ];
        // 15 February 2026: 20 so far; expected runs from 0 on 1 January to 40 on 31 March.
        let feb = eval_at(&ind, &series[..1], utc("2026-02-15"));
        assert_eq!(feb.current, Some(20.0));
        let q1_days = (utc("2026-03-31") - utc("2026-01-01")) as f64;
        let e = 40.0 * (utc("2026-02-15") - utc("2026-01-01")) as f64 / q1_days;
        assert_close(feb.expected_value, e);
        assert_close(feb.expected, e / 200.0); // against the year's total
        assert_close(feb.progress.unwrap(), 20.0 / 200.0);
        assert_eq!(feb.target, (utc("2026-12-31"), 200.0));
        // December 2026: 180 of 200.
        let dec = eval_at(&ind, &series[..3], utc("2026-12-20"));
        assert_eq!(dec.current, Some(180.0));
        // 2027: the count starts again, against 2027's total, from 0 on 1 January.
        let mar = eval_at(&ind, &series, utc("2027-03-02"));
        assert_eq!(mar.current, Some(55.0));
        assert_eq!(mar.target, (utc("2027-12-31"), 220.0));
        let expected = 220.0 * (utc("2027-03-02") - utc("2027-01-01")) as f64
            / (utc("2027-12-31") - utc("2027-01-01")) as f64;
        assert_close(mar.expected_value, expected);
        // A new year with nothing posted yet is no data, not last year's total.
        let early = eval_at(&ind, &series[..3], utc("2027-01-05"));
        assert_eq!(early.status, Status::NoData);
        // The year's total reached: achieved.
        let done = eval_at(&ind, &[(utc("2026-10-01"), 205.0)], utc("2026-10-02"));
        assert_eq!(done.status, Status::Achieved);
        // After the plan's last year the last year's figures stand.
        let after = eval_at(&ind, &series, utc("2028-06-01"));
        assert_eq!(after.current, Some(55.0));
        assert_eq!(after.expected, 1.0);
        assert!(after.overdue);
    }

    // --- counts and roll-up -----------------------------------------------------------------

    fn part(weight: f64, progress: Option<f64>, expected: f64, status: Status) -> RollUpPart {
        RollUpPart {
            weight,
            progress,
            expected,
            achieved: status == Status::Achieved,
            counts: Counts::of_indicator(status, false, false),
        }
    }

    #[test]
    fn counts_add_up() {
        let mut c = Counts::default();
        c.add(&Counts::of_indicator(Status::OnTrack, true, false));
        c.add(&Counts::of_indicator(Status::OnTrack, false, false));
        c.add(&Counts::of_indicator(Status::NoData, false, false));
        c.add(&Counts::of_indicator(Status::OffTrack, true, false));
        c.add(&Counts::of_indicator(Status::AtRisk, false, false));
        c.add(&Counts::of_indicator(Status::Achieved, false, false));
        c.add(&Counts::of_indicator(Status::OffTrack, false, true));
        let want = Counts {
            no_data: 1,
            achieved: 1,
            on_track: 2,
            at_risk: 1,
            off_track: 2,
            stale: 2,
            overdue: 1,
        };
        assert_eq!(c, want);
        assert_eq!(c.total(), 7);
        assert_eq!(Counts::default().total(), 0);
        let mut full = Counts {
            on_track: u32::MAX,
            ..Counts::default()
        };
        full.add(&want);
        assert_eq!(full.on_track, u32::MAX);
    }

    #[test]
    fn roll_up_uses_weighted_means() {
        // p = (1 × 1.0 + 3 × 0.2) / 4 = 0.4; q = 0.5; 0.4 / 0.5 = 0.8 -> off track.
        let parts = [
            part(1.0, Some(1.0), 0.5, Status::OnTrack),
            part(3.0, Some(0.2), 0.5, Status::OffTrack),
        ];
        let r = roll_up(&parts, &Thresholds::default());
        assert_close(r.progress.unwrap(), 0.4);
        assert_close(r.expected.unwrap(), 0.5);
        assert_eq!(r.status, Status::OffTrack);
        assert_eq!(r.counts.total(), 2);
        assert!(!r.stale);

        // (3 × 1.0 + 1 × 0.2) / 4 = 0.8 -> 1.6 on track.
        let parts = [
            part(3.0, Some(1.0), 0.5, Status::OnTrack),
            part(1.0, Some(0.2), 0.5, Status::OffTrack),
        ];
        let r = roll_up(&parts, &Thresholds::default());
        assert_close(r.progress.unwrap(), 0.8);
        assert_eq!(r.status, Status::OnTrack);

        // Means exactly at 0.85 of expected are at risk: p = 0.425, q = 0.5.
        let parts = [
            part(1.0, Some(0.35), 0.5, Status::OffTrack),
            part(1.0, Some(0.5), 0.5, Status::OnTrack),
        ];
        assert_eq!(
            roll_up(&parts, &Thresholds::default()).status,
            Status::AtRisk
        );
    }

    #[test]
    fn roll_up_treats_zero_weights_as_equal() {
        let parts = [
            part(0.0, Some(1.0), 1.0, Status::OnTrack),
            part(0.0, Some(0.0), 1.0, Status::OffTrack),
            part(7.0, None, 1.0, Status::NoData), // no data: its weight does not matter
        ];
        let r = roll_up(&parts, &Thresholds::default());
        assert_close(r.progress.unwrap(), 0.5);
        assert_eq!(r.status, Status::OffTrack);
    }

    #[test]
    fn roll_up_leaves_out_parts_without_data() {
        let parts = [
            part(1.0, Some(0.6), 0.6, Status::OnTrack),
            part(100.0, None, 0.9, Status::NoData),
        ];
        let r = roll_up(&parts, &Thresholds::default());
        assert_close(r.progress.unwrap(), 0.6);
        assert_close(r.expected.unwrap(), 0.6);
        assert_eq!(r.status, Status::OnTrack);
        assert_eq!(r.counts.no_data, 1);
        assert_eq!(r.counts.total(), 2);

        let none = roll_up(&parts[1..], &Thresholds::default());
        assert_eq!(none.status, Status::NoData);
        assert_eq!(none.progress, None);
        assert_eq!(none.expected, None);
        assert_eq!(none.counts.no_data, 1);

        let empty = roll_up(&[], &Thresholds::default());
        assert_eq!(empty.status, Status::NoData);
        assert_eq!(empty.counts, Counts::default());
    }

    #[test]
    fn roll_up_is_achieved_only_when_every_part_is() {
        let th = Thresholds::default();
        let done = part(1.0, Some(1.0), 0.5, Status::Achieved);
        let r = roll_up(&[done, done], &th);
        assert_eq!(r.status, Status::Achieved);
        assert_eq!(r.progress, Some(1.0));

        // One part without data keeps the item from being achieved.
        let r = roll_up(&[done, part(1.0, None, 0.5, Status::NoData)], &th);
        assert_eq!(r.status, Status::OnTrack);
        assert_eq!(r.progress, Some(1.0));

        // Means of 1.0 without every part achieved are on track, not achieved.
        let r = roll_up(&[done, part(1.0, Some(1.0), 1.0, Status::OnTrack)], &th);
        assert_eq!(r.status, Status::OnTrack);
    }

    #[test]
    fn roll_up_parts_from_indicators_are_clamped() {
        let ind = ten_day_increase();
        let ahead = eval_at(&ind, &[(day(5), 130.0)], day(5)); // p = 1.3, achieved
        let behind = eval_at(&ind, &[(day(5), -20.0)], day(5)); // p = -0.2
        let none = eval_at(&ind, &[], day(5));
        let a = RollUpPart::from_indicator(&ahead, 2.0);
        assert_eq!((a.progress, a.expected, a.achieved), (Some(1.0), 0.5, true));
        assert_eq!(a.counts.achieved, 1);
        let b = RollUpPart::from_indicator(&behind, 1.0);
        assert_eq!((b.progress, b.achieved), (Some(0.0), false));
        assert_eq!(b.counts.off_track, 1);
        let n = RollUpPart::from_indicator(&none, 1.0);
        assert_eq!(n.progress, None);
        assert_eq!(n.counts.no_data, 1);

        // Program: (2 × 1 + 1 × 0) / 3 = 2/3 of an expected 0.5 -> on track.
        let program = roll_up(&[a, b, n], &Thresholds::default());
        assert_close(program.progress.unwrap(), 2.0 / 3.0);
        assert_eq!(program.status, Status::OnTrack);
        assert_eq!(program.counts.total(), 3);

        // Dimension from that program and an achieved one.
        let achieved = roll_up(&[a], &Thresholds::default());
        let dimension = roll_up(
            &[
                RollUpPart::from_roll_up(&program, 1.0),
                RollUpPart::from_roll_up(&achieved, 1.0),
            ],
            &Thresholds::default(),
        );
        assert_close(dimension.progress.unwrap(), (2.0 / 3.0 + 1.0) / 2.0);
        assert_eq!(dimension.status, Status::OnTrack);
        assert_eq!(dimension.counts.total(), 4);
        assert_eq!(dimension.counts.achieved, 2);
    }

    #[test]
    fn roll_up_stale_when_any_indicator_is() {
        let mut p = part(1.0, Some(0.5), 0.5, Status::OnTrack);
        p.counts = Counts::of_indicator(Status::OnTrack, true, false);
        let r = roll_up(
            &[p, part(1.0, Some(0.5), 0.5, Status::OnTrack)],
            &Thresholds::default(),
        );
        assert!(r.stale);
        assert_eq!(r.counts.stale, 1);
    }

    #[test]
    fn maintain_counts_as_one_or_zero_in_a_roll_up() {
        let mut ind = indicator(
            Direction::Maintain,
            Kind::Level,
            ("2026-01-01", 100.0),
            &[("2026-01-11", 100.0)],
        );
        ind.tolerance = 1.0;
        let on = RollUpPart::from_indicator(&eval_at(&ind, &[(day(1), 100.5)], day(1)), 1.0);
        let off = RollUpPart::from_indicator(&eval_at(&ind, &[(day(1), 90.0)], day(1)), 1.0);
        assert_eq!((on.progress, on.expected), (Some(1.0), 1.0));
        assert_eq!((off.progress, off.expected), (Some(0.0), 1.0));
        let r = roll_up(&[on, off], &Thresholds::default());
        assert_close(r.progress.unwrap(), 0.5);
        assert_close(r.expected.unwrap(), 1.0);
        assert_eq!(r.status, Status::OffTrack);
    }

    #[test]
    fn status_names() {
        assert_eq!(Status::NoData.as_str(), "no_data");
        assert_eq!(Status::Achieved.as_str(), "achieved");
        assert_eq!(Status::OnTrack.as_str(), "on_track");
        assert_eq!(Status::AtRisk.as_str(), "at_risk");
        assert_eq!(Status::OffTrack.as_str(), "off_track");
        assert_eq!(
            serde_json::to_string(&Status::OffTrack).unwrap(),
            "\"off_track\""
        );
    }

    // --- properties -------------------------------------------------------------------------

    fn any_finite() -> impl Strategy<Value = f64> {
        prop_oneof![
            -1e6..1e6_f64,
            proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO,
        ]
    }

    fn baseline_and_target() -> impl Strategy<Value = (f64, f64)> {
        (-1e9..1e9_f64, -1e9..1e9_f64).prop_filter("B != T", |(b, t)| b != t)
    }

    proptest! {
        #[test]
        fn progress_is_zero_at_baseline_and_one_at_target(
            (b, t) in baseline_and_target(),
            offset in 0..400_i64,
        ) {
            let direction = if t > b { Direction::Increase } else { Direction::Decrease };
            let ind = indicator(direction, Kind::Level, ("2026-01-01", b), &[("2027-01-01", t)]);
            let at_baseline = eval_at(&ind, &[(day(0), b)], day(offset));
            prop_assert_eq!(at_baseline.progress, Some(0.0));
            let at_target = eval_at(&ind, &[(day(0), t)], day(offset));
            prop_assert_eq!(at_target.progress, Some(1.0));
            prop_assert_eq!(at_target.status, Status::Achieved);
        }

        #[test]
        fn expected_is_baseline_before_and_target_after(
            b in any_finite(),
            steps in proptest::collection::vec((1..1_000_000_000_i64, any_finite()), 1..6),
            before in 0..i64::MAX / 4,
            after in 0..i64::MAX / 4,
        ) {
            let start = day(0);
            let mut points = vec![(start, b)];
            let mut time = start;
            for (gap, value) in steps {
                time += gap;
                points.push((time, value));
            }
            let trajectory = Trajectory::from_points(points);
            let (last_time, t) = trajectory.final_target();
            prop_assert_eq!(trajectory.expected_at(start), b);
            prop_assert_eq!(trajectory.expected_at(start - before), b);
            prop_assert_eq!(trajectory.expected_at(last_time), t);
            prop_assert_eq!(trajectory.expected_at(last_time + after), t);
            for probe in [start + 1, (start + last_time) / 2, last_time - 1] {
                prop_assert!(trajectory.expected_at(probe).is_finite());
            }
        }

        #[test]
        fn roll_up_progress_stays_within_unit_interval(
            parts in proptest::collection::vec(
                (
                    prop_oneof![0.0..100.0_f64, any_finite()],
                    proptest::option::of(any_finite()),
                    any_finite(),
                    any::<bool>(),
                ),
                0..12,
            ),
        ) {
            let parts: Vec<RollUpPart> = parts
                .into_iter()
                .map(|(weight, progress, expected, achieved)| RollUpPart {
                    weight,
                    progress,
                    expected,
                    achieved,
                    counts: Counts::of_indicator(Status::OnTrack, false, false),
                })
                .collect();
            let r = roll_up(&parts, &Thresholds::default());
            for value in [r.progress, r.expected].into_iter().flatten() {
                prop_assert!((0.0..=1.0).contains(&value), "{value}");
            }
            prop_assert_eq!(r.progress.is_none(), r.status == Status::NoData);
            prop_assert_eq!(r.counts.total() as usize, parts.len());
        }

        #[test]
        fn evaluate_never_panics_nor_returns_nan(
            direction in prop_oneof![
                Just(Direction::Increase),
                Just(Direction::Decrease),
                Just(Direction::Maintain),
            ],
            kind in prop_oneof![Just(Kind::Level), Just(Kind::Cumulative)],
            b in any_finite(),
            targets in proptest::collection::vec((1..800_i64, any_finite()), 0..4),
            tolerance in any_finite(),
            series in proptest::collection::vec(
                (prop_oneof![-2_000..2_000_i64, any::<i64>()], any_finite()),
                0..12,
            ),
            now in prop_oneof![-2_000..2_000_i64, any::<i64>()],
            grace in any_finite(),
            window in any_finite(),
        ) {
            let mut ind = indicator(direction, kind, ("2026-01-01", b), &[]);
            ind.tolerance = tolerance;
            let mut date = ind.baseline.date;
            for (gap, value) in targets {
                date = date + chrono::Days::new(gap as u64);
                ind.targets.push(Target { date, value });
            }
            // Small numbers are days around the baseline; others are any instant.
            let instant = |x: i64| if (-2_000..2_000).contains(&x) { day(x / 2) + x * 3_600_000 } else { x };
            let mut series: Vec<(Millis, f64)> =
                series.into_iter().map(|(x, v)| (instant(x), v)).collect();
            series.sort_by_key(|&(time, _)| time);
            series.dedup_by_key(|&mut (time, _)| time);
            let th = Thresholds { stale_grace: grace, forecast_window_days: window, ..Thresholds::default() };
            let trajectory = Trajectory::new(&ind, chrono_tz::Asia::Jakarta);
            let e = evaluate(&ind, &trajectory, &series, instant(now), &th);

            let mut numbers = vec![e.expected, e.expected_value];
            numbers.extend(e.current);
            numbers.extend(e.progress);
            numbers.extend(e.capaian);
            numbers.extend(e.forecast.map(|f| f.projected_value));
            for x in numbers {
                prop_assert!(!x.is_nan());
            }
            prop_assert_eq!(e.current.is_none(), e.status == Status::NoData);
            prop_assert_eq!(e.progress.is_none(), e.status == Status::NoData);
            if direction == Direction::Maintain {
                prop_assert_ne!(e.status, Status::Achieved);
            }
            let part = RollUpPart::from_indicator(&e, 1.0);
            let r = roll_up(&[part], &th);
            prop_assert!(r.progress.is_none_or(|p| (0.0..=1.0).contains(&p)));
        }
    }
}
