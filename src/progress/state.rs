//! The progress state: every indicator's series in memory, its evaluation, and the roll-ups.
//!
//! Rebuilt from the database at start-up; after each commit only the touched indicators and
//! what they roll up into (program, dimension, masterplan) are recomputed. Each change publishes
//! a new immutable `ProgressSnapshot` that readers share without locking the state, so serving
//! `/api/v1/progress` never scans the database.

use super::math::{self, IndicatorEvaluation, RollUp, RollUpPart, Status, Thresholds, Trajectory};
use crate::domain::{Indicator, Masterplan, Millis, format_instant, local_date};
use crate::store::AppliedObservation;
use crate::store::read::NoteRow;
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// How many recent values each indicator carries for sparklines.
pub const SPARKLINE_POINTS: usize = 30;
/// Roll-ups carry their progress at this many weekly instants (the last one is now).
pub const ROLLUP_HISTORY_POINTS: usize = 26;
const WEEK_MS: Millis = 7 * 86_400_000;
/// How often the weekly roll-up history is recomputed from the series.
const ROLLUP_HISTORY_REFRESH_MS: Millis = 3_600_000;

/// A target or baseline as shown in the API.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TargetView {
    pub date: String,
    pub value: f64,
}

/// The forecast as shown in the API: the trend's value at the final target date and the date
/// (in the city's zone) it reaches the target.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ForecastView {
    pub projected_value: f64,
    pub reach_date: Option<String>,
}

/// The latest note a department left on an indicator.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NoteView {
    pub kendala: String,
    pub rencana_tindak_lanjut: String,
    pub department: Option<String>,
    pub created: String,
}

/// One indicator's progress, as served by `/api/v1/progress` and pushed to screens.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IndicatorProgress {
    pub id: String,
    pub name: String,
    pub code: Option<String>,
    pub tier: Option<crate::domain::Tier>,
    pub program: String,
    pub dimension: String,
    pub department: String,
    pub quick_win: bool,
    pub unit: String,
    pub direction: crate::domain::Direction,
    pub kind: crate::domain::Kind,
    pub update_every: String,
    pub status: Status,
    pub progress: Option<f64>,
    pub expected: f64,
    pub expected_value: f64,
    pub current: Option<f64>,
    pub capaian: Option<f64>,
    pub stale: bool,
    /// The final target date has passed and the indicator is not achieved.
    pub overdue: bool,
    pub last_update: Option<String>,
    pub baseline: TargetView,
    pub target: TargetView,
    pub forecast: Option<ForecastView>,
    pub sparkline: Vec<f64>,
    pub note: Option<NoteView>,
}

/// A program, a dimension or the masterplan, rolled up.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RollUpProgress {
    pub id: String,
    pub name: String,
    pub status: Status,
    pub progress: Option<f64>,
    pub expected: Option<f64>,
    pub stale: bool,
    /// A program past its due date and not achieved; a dimension or the masterplan with such a
    /// program under it.
    pub overdue: bool,
    pub counts: math::Counts,
    /// Progress at weekly instants over the last half year, oldest first, ending now (instants
    /// without data are left out).
    pub sparkline: Vec<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dimension: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quick_win: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub horizon: Option<crate::domain::Horizon>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due: Option<String>,
}

/// Which items a reader or a screen wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub dimension: Option<String>,
    pub department: Option<String>,
    pub quick_win: bool,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.dimension.is_none() && self.department.is_none() && !self.quick_win
    }

    pub fn indicator(&self, i: &IndicatorProgress) -> bool {
        self.dimension.as_ref().is_none_or(|d| *d == i.dimension)
            && self.department.as_ref().is_none_or(|d| *d == i.department)
            && (!self.quick_win || i.quick_win)
    }

    /// A program matches when it is in the dimension, is a quick win (if asked), and is owned
    /// by the department or has one of its indicators.
    pub fn program(&self, p: &RollUpProgress, owns_indicator: impl Fn(&str) -> bool) -> bool {
        self.dimension
            .as_ref()
            .is_none_or(|d| Some(d) == p.dimension.as_ref())
            && (!self.quick_win || p.quick_win == Some(true))
            && self
                .department
                .as_ref()
                .is_none_or(|d| Some(d) == p.department.as_ref() || owns_indicator(d))
    }
}

/// An immutable view of all progress at one moment, shared by readers.
#[derive(Debug)]
pub struct ProgressSnapshot {
    pub as_of: Millis,
    pub tz: Tz,
    pub masterplan: Arc<RollUpProgress>,
    pub dimensions: Vec<Arc<RollUpProgress>>,
    pub programs: Vec<Arc<RollUpProgress>>,
    pub indicators: Vec<Arc<IndicatorProgress>>,
    /// For each program (by position), the departments of its indicators.
    program_departments: Arc<Vec<Vec<String>>>,
    json: OnceLock<bytes::Bytes>,
}

/// The body of `/api/v1/progress` (and of a screen's snapshot).
#[derive(Serialize)]
pub struct ProgressView<'a> {
    pub as_of: String,
    pub masterplan: &'a RollUpProgress,
    pub dimensions: Vec<&'a RollUpProgress>,
    pub programs: Vec<&'a RollUpProgress>,
    pub indicators: Vec<&'a IndicatorProgress>,
}

impl ProgressSnapshot {
    /// The items a filter selects.
    pub fn view(&self, filter: &Filter) -> ProgressView<'_> {
        let programs: Vec<&RollUpProgress> = self
            .programs
            .iter()
            .enumerate()
            .filter(|(i, p)| {
                filter.program(p, |d| self.program_departments[*i].iter().any(|x| x == d))
            })
            .map(|(_, p)| p.as_ref())
            .collect();
        let dimensions = self
            .dimensions
            .iter()
            .filter(|d| {
                if filter.is_empty() {
                    return true;
                }
                if let Some(want) = &filter.dimension {
                    return *want == d.id;
                }
                programs
                    .iter()
                    .any(|p| p.dimension.as_deref() == Some(&d.id))
            })
            .map(|d| d.as_ref())
            .collect();
        ProgressView {
            as_of: format_instant(self.as_of, self.tz),
            masterplan: &self.masterplan,
            dimensions,
            programs,
            indicators: self
                .indicators
                .iter()
                .filter(|i| filter.indicator(i))
                .map(|i| i.as_ref())
                .collect(),
        }
    }

    /// The unfiltered view serialized once per snapshot.
    pub fn json(&self) -> bytes::Bytes {
        self.json
            .get_or_init(|| {
                serde_json::to_vec(&self.view(&Filter::default()))
                    .map(bytes::Bytes::from)
                    .unwrap_or_default()
            })
            .clone()
    }

    pub fn indicator(&self, id: &str) -> Option<&Arc<IndicatorProgress>> {
        self.indicators.iter().find(|i| i.id == id)
    }
}

/// A status transition or freshness change worth telling the wall about.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StatusEvent {
    pub time: String,
    /// `status_changed`, `became_stale`, `fresh_again` or `became_overdue` (or a feed's `feed_down`, `feed_up`).
    pub kind: &'static str,
    /// `indicator`, `program`, `dimension` or `masterplan`.
    pub item_type: &'static str,
    pub id: String,
    pub name: String,
    pub from: Option<Status>,
    pub to: Option<Status>,
    /// What happened, for events that are not status changes (e.g. a feed's error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// What one update changed: positions of changed items, and events.
#[derive(Debug, Clone, Default)]
pub struct Change {
    pub indicators: Vec<usize>,
    pub programs: Vec<usize>,
    pub dimensions: Vec<usize>,
    pub masterplan: bool,
    pub events: Vec<StatusEvent>,
}

impl Change {
    pub fn is_empty(&self) -> bool {
        self.indicators.is_empty()
            && self.programs.is_empty()
            && self.dimensions.is_empty()
            && !self.masterplan
            && self.events.is_empty()
    }
}

/// The plan with every indicator's trajectory, series and latest note, at one moment.
#[derive(Debug, Clone)]
pub struct PlanData {
    pub plan: Arc<Masterplan>,
    pub tz: Tz,
    pub th: Thresholds,
    /// By indicator position.
    pub trajectories: Arc<Vec<Trajectory>>,
    pub series: Vec<Arc<Vec<(Millis, f64)>>>,
    pub notes: Vec<Option<NoteView>>,
}

impl PlanData {
    /// The yearly figures of the indicator at `position`, read at `now`.
    pub fn years(&self, position: usize, now: Millis) -> Vec<super::years::YearFigure> {
        super::years::years(
            &self.plan.indicators[position],
            &self.trajectories[position],
            &self.series[position],
            now,
            &self.th,
        )
    }
}

/// An indicator as the database holds it now: its id, series and newest note.
pub type Refreshed = (String, Vec<(Millis, f64)>, Option<NoteRow>);

/// The mutable state behind the snapshots. Owned behind one mutex; see module docs.
pub struct ProgressState {
    plan: Arc<Masterplan>,
    tz: Tz,
    th: Thresholds,
    trajectories: Arc<Vec<Trajectory>>,
    index: HashMap<String, usize>,
    indicator_program: Vec<usize>,
    program_dimension: Vec<usize>,
    program_indicators: Vec<Vec<usize>>,
    dimension_programs: Vec<Vec<usize>>,
    program_departments: Arc<Vec<Vec<String>>>,
    /// For each program, midnight at the start of the day after its due date.
    program_overdue_from: Vec<Millis>,
    /// Each indicator's series, shared with readers (`data`); copied on write only while a
    /// reader holds it.
    series: Vec<Arc<Vec<(Millis, f64)>>>,
    evaluations: Vec<IndicatorEvaluation>,
    program_rollups: Vec<RollUp>,
    dimension_rollups: Vec<RollUp>,
    masterplan_rollup: RollUp,
    notes: Vec<Option<NoteView>>,
    history: RollUpHistory,
    snapshot: Arc<ProgressSnapshot>,
}

/// The roll-ups of one past week, for the history.
struct WeekRollUps {
    programs: Vec<RollUp>,
    dimensions: Vec<RollUp>,
    masterplan: RollUp,
}

/// Roll-up progress at past weekly instants (without the current one), recomputed hourly.
#[derive(Debug, Clone, Default)]
struct RollUpHistory {
    computed_at: Millis,
    programs: Vec<Vec<Option<f64>>>,
    dimensions: Vec<Vec<Option<f64>>>,
    masterplan: Vec<Option<f64>>,
}

fn with_current(past: Option<&Vec<Option<f64>>>, current: Option<f64>) -> Vec<f64> {
    past.into_iter()
        .flatten()
        .copied()
        .chain(std::iter::once(current))
        .flatten()
        .collect()
}

impl ProgressState {
    /// Builds the state from the stored series and notes.
    pub fn new(
        plan: Arc<Masterplan>,
        tz: Tz,
        th: Thresholds,
        mut stored: HashMap<String, Vec<(Millis, f64)>>,
        stored_notes: HashMap<String, NoteRow>,
        now: Millis,
    ) -> Self {
        let index: HashMap<String, usize> = plan
            .indicators
            .iter()
            .enumerate()
            .map(|(i, ind)| (ind.id.to_string(), i))
            .collect();
        let program_index: HashMap<&str, usize> = plan
            .programs
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.as_str(), i))
            .collect();
        let dimension_index: HashMap<&str, usize> = plan
            .dimensions
            .iter()
            .enumerate()
            .map(|(i, d)| (d.id.as_str(), i))
            .collect();
        let indicator_program: Vec<usize> = plan
            .indicators
            .iter()
            .map(|i| program_index.get(i.program.as_str()).copied().unwrap_or(0))
            .collect();
        let program_dimension: Vec<usize> = plan
            .programs
            .iter()
            .map(|p| {
                dimension_index
                    .get(p.dimension.as_str())
                    .copied()
                    .unwrap_or(0)
            })
            .collect();
        let mut program_indicators = vec![Vec::new(); plan.programs.len()];
        for (i, p) in indicator_program.iter().enumerate() {
            program_indicators[*p].push(i);
        }
        let mut dimension_programs = vec![Vec::new(); plan.dimensions.len()];
        for (p, d) in program_dimension.iter().enumerate() {
            dimension_programs[*d].push(p);
        }
        let program_departments: Vec<Vec<String>> = program_indicators
            .iter()
            .map(|inds| {
                let mut d: Vec<String> = inds
                    .iter()
                    .map(|i| plan.indicators[*i].department.to_string())
                    .collect();
                d.sort();
                d.dedup();
                d
            })
            .collect();
        let trajectories = Arc::new(
            plan.indicators
                .iter()
                .map(|i| Trajectory::new(i, tz))
                .collect(),
        );
        let series: Vec<Arc<Vec<(Millis, f64)>>> = plan
            .indicators
            .iter()
            .map(|i| Arc::new(stored.remove(i.id.as_str()).unwrap_or_default()))
            .collect();
        let notes = plan
            .indicators
            .iter()
            .map(|i| stored_notes.get(i.id.as_str()).map(|n| note_view(n, tz)))
            .collect();
        let empty_rollup = math::roll_up(&[], &th);
        let program_overdue_from = plan
            .programs
            .iter()
            .map(|p| {
                p.due
                    .succ_opt()
                    .map_or(Millis::MAX, |d| crate::domain::date_start_millis(d, tz))
            })
            .collect();
        let mut state = ProgressState {
            plan: plan.clone(),
            tz,
            th,
            trajectories,
            index,
            indicator_program,
            program_dimension,
            program_indicators,
            dimension_programs,
            program_departments: Arc::new(program_departments),
            program_overdue_from,
            series,
            evaluations: Vec::new(),
            program_rollups: vec![empty_rollup; plan.programs.len()],
            dimension_rollups: vec![empty_rollup; plan.dimensions.len()],
            masterplan_rollup: empty_rollup,
            notes,
            history: RollUpHistory::default(),
            snapshot: Arc::new(ProgressSnapshot {
                as_of: now,
                tz,
                masterplan: Arc::new(rollup_view("masterplan", "Masterplan", &empty_rollup)),
                dimensions: Vec::new(),
                programs: Vec::new(),
                indicators: Vec::new(),
                program_departments: Arc::new(Vec::new()),
                json: OnceLock::new(),
            }),
        };
        state.evaluations = (0..plan.indicators.len())
            .map(|i| state.evaluate(i, now))
            .collect();
        for p in 0..plan.programs.len() {
            state.program_rollups[p] = state.roll_program(p, now);
        }
        for d in 0..plan.dimensions.len() {
            state.dimension_rollups[d] = state.roll_dimension(d);
        }
        state.masterplan_rollup = state.roll_masterplan();
        state.history = state.compute_history(now);
        let all = Change {
            indicators: (0..plan.indicators.len()).collect(),
            programs: (0..plan.programs.len()).collect(),
            dimensions: (0..plan.dimensions.len()).collect(),
            masterplan: true,
            events: Vec::new(),
        };
        state.publish(&all, now, true);
        state
    }

    pub fn plan(&self) -> &Arc<Masterplan> {
        &self.plan
    }

    pub fn snapshot(&self) -> Arc<ProgressSnapshot> {
        self.snapshot.clone()
    }

    /// What the yearly figures, reports and compliance are computed from, shared without
    /// copying the series (the state copies an indicator's series on its next write instead).
    pub fn data(&self) -> PlanData {
        PlanData {
            plan: self.plan.clone(),
            tz: self.tz,
            th: self.th,
            trajectories: self.trajectories.clone(),
            series: self.series.clone(),
            notes: self.notes.clone(),
        }
    }

    /// The indicator's position, if it is in the plan.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// Observations of masterplan indicators held in memory.
    pub fn stored_points(&self) -> usize {
        self.series.iter().map(|s| s.len()).sum()
    }

    /// The indicator's in-memory series (time order).
    pub fn series(&self, position: usize) -> &[(Millis, f64)] {
        &self.series[position]
    }

    fn evaluate(&self, i: usize, now: Millis) -> IndicatorEvaluation {
        math::evaluate(
            &self.plan.indicators[i],
            &self.trajectories[i],
            &self.series[i],
            now,
            &self.th,
        )
    }

    fn roll_program(&self, p: usize, now: Millis) -> RollUp {
        self.roll_program_with(p, &self.evaluations, now)
    }

    fn roll_program_with(
        &self,
        p: usize,
        evaluations: &[IndicatorEvaluation],
        now: Millis,
    ) -> RollUp {
        let parts: Vec<RollUpPart> = self.program_indicators[p]
            .iter()
            .map(|i| RollUpPart::from_indicator(&evaluations[*i], self.plan.indicators[*i].weight))
            .collect();
        let mut r = math::roll_up(&parts, &self.th);
        r.overdue = math::program_overdue(&r, self.program_overdue_from[p], now);
        r
    }

    fn roll_dimension(&self, d: usize) -> RollUp {
        self.roll_dimension_with(d, &self.program_rollups)
    }

    fn roll_dimension_with(&self, d: usize, programs: &[RollUp]) -> RollUp {
        let parts: Vec<RollUpPart> = self.dimension_programs[d]
            .iter()
            .map(|p| RollUpPart::from_roll_up(&programs[*p], self.plan.programs[*p].weight))
            .collect();
        let mut r = math::roll_up(&parts, &self.th);
        r.overdue = math::any_overdue(self.dimension_programs[d].iter().map(|p| &programs[*p]));
        r
    }

    fn roll_masterplan(&self) -> RollUp {
        self.roll_masterplan_with(&self.dimension_rollups)
    }

    fn roll_masterplan_with(&self, dimensions: &[RollUp]) -> RollUp {
        let parts: Vec<RollUpPart> = dimensions
            .iter()
            .zip(&self.plan.dimensions)
            .map(|(r, d)| RollUpPart::from_roll_up(r, d.weight))
            .collect();
        let mut r = math::roll_up(&parts, &self.th);
        r.overdue = math::any_overdue(dimensions);
        r
    }

    /// Every roll-up's progress at the past weekly instants, each computed by the same method
    /// from the observations that existed then.
    fn compute_history(&self, now: Millis) -> RollUpHistory {
        let mut history = RollUpHistory {
            computed_at: now,
            programs: vec![Vec::new(); self.plan.programs.len()],
            dimensions: vec![Vec::new(); self.plan.dimensions.len()],
            masterplan: Vec::new(),
        };
        // Every indicator evaluated at each past week: on a city of 5,000 indicators x 5 years
        // the largest part of the start-up, so the weeks are shared out over the cores.
        let weeks: Vec<Millis> = (1..ROLLUP_HISTORY_POINTS as i64)
            .rev()
            .map(|k| now - k * WEEK_MS)
            .collect();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let per_thread = weeks.len().div_ceil(threads.clamp(1, weeks.len().max(1)));
        let rolled: Vec<WeekRollUps> = std::thread::scope(|scope| {
            let parts: Vec<_> = weeks
                .chunks(per_thread.max(1))
                .map(|part| scope.spawn(move || part.iter().map(|&t| self.roll_week(t)).collect()))
                .collect();
            parts
                .into_iter()
                .flat_map(
                    |part: std::thread::ScopedJoinHandle<'_, Vec<WeekRollUps>>| {
                        part.join()
                            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                    },
                )
                .collect()
        });
        for week in rolled {
            for (p, r) in week.programs.iter().enumerate() {
                history.programs[p].push(r.progress);
            }
            for (d, r) in week.dimensions.iter().enumerate() {
                history.dimensions[d].push(r.progress);
            }
            history.masterplan.push(week.masterplan.progress);
        }
        history
    }

    /// Every program, dimension and the masterplan rolled up from the indicators as they stood
    /// at `t` (each indicator's series cut at `t`).
    fn roll_week(&self, t: Millis) -> WeekRollUps {
        let evaluations: Vec<IndicatorEvaluation> = (0..self.plan.indicators.len())
            .map(|i| {
                let series = &self.series[i];
                let upto = series.partition_point(|(at, _)| *at <= t);
                math::evaluate(
                    &self.plan.indicators[i],
                    &self.trajectories[i],
                    &series[..upto],
                    t,
                    &self.th,
                )
            })
            .collect();
        let programs: Vec<RollUp> = (0..self.plan.programs.len())
            .map(|p| self.roll_program_with(p, &evaluations, t))
            .collect();
        let dimensions: Vec<RollUp> = (0..self.plan.dimensions.len())
            .map(|d| self.roll_dimension_with(d, &programs))
            .collect();
        let masterplan = self.roll_masterplan_with(&dimensions);
        WeekRollUps {
            programs,
            dimensions,
            masterplan,
        }
    }

    /// Applies committed observations: updates the series, recomputes what they touch.
    pub fn apply(&mut self, applied: &[AppliedObservation], now: Millis) -> Change {
        let mut touched: Vec<usize> = Vec::new();
        for a in applied {
            let Some(&i) = self.index.get(a.indicator.as_str()) else {
                continue;
            };
            let s = Arc::make_mut(&mut self.series[i]);
            match s.binary_search_by_key(&a.time, |(t, _)| *t) {
                Ok(k) => s[k].1 = a.value,
                Err(k) => s.insert(k, (a.time, a.value)),
            }
            touched.push(i);
        }
        touched.sort_unstable();
        touched.dedup();
        self.recompute(touched, now, Touch::Data)
    }

    /// Replaces indicators' series and latest notes with what the database holds now (another
    /// process committed them), and recomputes what they touch. Unknown ids are ignored.
    pub fn refresh(&mut self, updates: Vec<Refreshed>, now: Millis) -> Change {
        let mut touched = Vec::new();
        for (id, series, note) in updates {
            let Some(&i) = self.index.get(id.as_str()) else {
                continue;
            };
            self.series[i] = Arc::new(series);
            self.notes[i] = note.as_ref().map(|n| note_view(n, self.tz));
            touched.push(i);
        }
        touched.sort_unstable();
        touched.dedup();
        if touched.is_empty() {
            return Change::default();
        }
        self.recompute(touched, now, Touch::Data)
    }

    /// Records a new latest note for an indicator.
    pub fn set_note(&mut self, note: &NoteRow, now: Millis) -> Change {
        let Some(&i) = self.index.get(note.indicator.as_str()) else {
            return Change::default();
        };
        self.notes[i] = Some(note_view(note, self.tz));
        self.recompute(vec![i], now, Touch::Data)
    }

    /// Re-evaluates every indicator and re-rolls every program, dimension and the masterplan at
    /// `now`: expected progress, staleness and overdue move with time alone. Each item is
    /// compared with what was last *published*, so slow drifts add up until they show.
    pub fn tick(&mut self, now: Millis) -> Change {
        let all: Vec<usize> = (0..self.evaluations.len()).collect();
        if now - self.history.computed_at >= ROLLUP_HISTORY_REFRESH_MS {
            self.history = self.compute_history(now);
            let mut change = self.recompute(all, now, Touch::Clock);
            // Every roll-up's sparkline moved: send them all once.
            change.programs = (0..self.plan.programs.len()).collect();
            change.dimensions = (0..self.plan.dimensions.len()).collect();
            change.masterplan = true;
            self.publish(&change, now, false);
            return change;
        }
        self.recompute(all, now, Touch::Clock)
    }

    /// Recomputes `candidates` (indicator positions) and the roll-ups above them at `now`.
    /// `Touch::Data`: the candidates' data changed; they and the roll-ups over them are sent.
    /// `Touch::Clock`: only time passed; every roll-up is re-rolled, and an item is sent only
    /// when it differs visibly from its published view.
    fn recompute(&mut self, candidates: Vec<usize>, now: Millis, touch: Touch) -> Change {
        let data = touch == Touch::Data;
        let mut change = Change::default();
        let time = format_instant(now, self.tz);
        let published = self.snapshot.clone();
        for i in candidates {
            let new = self.evaluate(i, now);
            let old = std::mem::replace(&mut self.evaluations[i], new);
            let new = &self.evaluations[i];
            let visible = data
                || published
                    .indicators
                    .get(i)
                    .is_none_or(|p| indicator_differs(p, new, self.tz));
            if visible {
                change.indicators.push(i);
            }
            let ind = &self.plan.indicators[i];
            push_events(
                &mut change.events,
                &time,
                "indicator",
                ind.id.as_str(),
                &ind.name,
                Flags::of(old.status, old.stale, old.overdue),
                Flags::of(new.status, new.stale, new.overdue),
            );
        }
        let programs: Vec<usize> = if data {
            let mut p: Vec<usize> = change
                .indicators
                .iter()
                .map(|i| self.indicator_program[*i])
                .collect();
            p.sort_unstable();
            p.dedup();
            p
        } else {
            (0..self.plan.programs.len()).collect()
        };
        for p in programs {
            let new = self.roll_program(p, now);
            let old = std::mem::replace(&mut self.program_rollups[p], new);
            let visible = (data && old != new)
                || published
                    .programs
                    .get(p)
                    .is_none_or(|v| rollup_differs(v, &new));
            if visible {
                change.programs.push(p);
            }
            let prog = &self.plan.programs[p];
            push_events(
                &mut change.events,
                &time,
                "program",
                prog.id.as_str(),
                &prog.name,
                Flags::of(old.status, old.stale, old.overdue),
                Flags::of(new.status, new.stale, new.overdue),
            );
        }
        let dims: Vec<usize> = if data {
            let mut d: Vec<usize> = change
                .programs
                .iter()
                .map(|p| self.program_dimension[*p])
                .collect();
            d.sort_unstable();
            d.dedup();
            d
        } else {
            (0..self.plan.dimensions.len()).collect()
        };
        for d in dims {
            let new = self.roll_dimension(d);
            let old = std::mem::replace(&mut self.dimension_rollups[d], new);
            let visible = (data && old != new)
                || published
                    .dimensions
                    .get(d)
                    .is_none_or(|v| rollup_differs(v, &new));
            if visible {
                change.dimensions.push(d);
            }
            let dim = &self.plan.dimensions[d];
            push_events(
                &mut change.events,
                &time,
                "dimension",
                dim.id.as_str(),
                &dim.name,
                Flags::of(old.status, old.stale, old.overdue),
                Flags::of(new.status, new.stale, new.overdue),
            );
        }
        if !data || !change.dimensions.is_empty() {
            let new = self.roll_masterplan();
            let old = std::mem::replace(&mut self.masterplan_rollup, new);
            if (data && old != new) || rollup_differs(&published.masterplan, &new) {
                change.masterplan = true;
            }
            push_events(
                &mut change.events,
                &time,
                "masterplan",
                "masterplan",
                "Masterplan",
                Flags::of(old.status, old.stale, old.overdue),
                Flags::of(new.status, new.stale, new.overdue),
            );
        }
        self.publish(&change, now, false);
        change
    }

    /// Builds the next snapshot, re-rendering only the changed items.
    fn publish(&mut self, change: &Change, now: Millis, full: bool) {
        let prev = self.snapshot.clone();
        let mut indicators = if full {
            Vec::new()
        } else {
            prev.indicators.clone()
        };
        let mut programs = if full {
            Vec::new()
        } else {
            prev.programs.clone()
        };
        let mut dimensions = if full {
            Vec::new()
        } else {
            prev.dimensions.clone()
        };
        if full {
            indicators = (0..self.plan.indicators.len())
                .map(|i| Arc::new(self.indicator_view(i, now)))
                .collect();
            programs = (0..self.plan.programs.len())
                .map(|p| Arc::new(self.program_view(p)))
                .collect();
            dimensions = (0..self.plan.dimensions.len())
                .map(|d| Arc::new(self.dimension_view(d)))
                .collect();
        } else {
            for &i in &change.indicators {
                indicators[i] = Arc::new(self.indicator_view(i, now));
            }
            for &p in &change.programs {
                programs[p] = Arc::new(self.program_view(p));
            }
            for &d in &change.dimensions {
                dimensions[d] = Arc::new(self.dimension_view(d));
            }
        }
        let masterplan = if full || change.masterplan {
            let mut v = rollup_view("masterplan", "Masterplan", &self.masterplan_rollup);
            v.sparkline = with_current(
                Some(&self.history.masterplan),
                self.masterplan_rollup.progress,
            );
            Arc::new(v)
        } else {
            prev.masterplan.clone()
        };
        self.snapshot = Arc::new(ProgressSnapshot {
            as_of: now,
            tz: self.tz,
            masterplan,
            dimensions,
            programs,
            indicators,
            program_departments: self.program_departments.clone(),
            json: OnceLock::new(),
        });
    }

    fn indicator_view(&self, i: usize, now: Millis) -> IndicatorProgress {
        let ind: &Indicator = &self.plan.indicators[i];
        let e = &self.evaluations[i];
        let program = &self.plan.programs[self.indicator_program[i]];
        let tz = self.tz;
        // The same current values the evaluation used (running totals from the baseline, or
        // within the year for year-to-date totals), the last few of them.
        let frame = math::Frame::at(ind, &self.trajectories[i], now);
        let upto = self.series[i].partition_point(|(t, _)| *t <= now);
        let values = math::current_value_series(ind, &self.series[i][..upto], &frame);
        let sparkline = values[values.len().saturating_sub(SPARKLINE_POINTS)..]
            .iter()
            .map(|(_, v)| *v)
            .collect();
        let target_date = local_date(e.target.0, tz).unwrap_or(ind.final_target().date);
        IndicatorProgress {
            id: ind.id.to_string(),
            name: ind.name.clone(),
            code: ind.code.clone(),
            tier: ind.tier,
            program: ind.program.to_string(),
            dimension: program.dimension.to_string(),
            department: ind.department.to_string(),
            quick_win: program.quick_win,
            unit: ind.unit.clone(),
            direction: ind.direction,
            kind: ind.kind,
            update_every: ind.update_every.to_string(),
            status: e.status,
            progress: e.progress,
            expected: e.expected,
            expected_value: e.expected_value,
            current: e.current,
            capaian: e.capaian,
            stale: e.stale,
            overdue: e.overdue,
            last_update: e.last_update.map(|t| format_instant(t, tz)),
            baseline: TargetView {
                date: ind.baseline.date.to_string(),
                value: ind.baseline.value,
            },
            target: TargetView {
                date: target_date.to_string(),
                value: e.target.1,
            },
            forecast: e.forecast.map(|f| ForecastView {
                projected_value: f.projected_value,
                reach_date: f
                    .reach_time
                    .and_then(|t| local_date(t, tz))
                    .map(|d| d.to_string()),
            }),
            sparkline,
            note: self.notes[i].clone(),
        }
    }

    fn program_view(&self, p: usize) -> RollUpProgress {
        let prog = &self.plan.programs[p];
        let mut v = rollup_view(prog.id.as_str(), &prog.name, &self.program_rollups[p]);
        v.sparkline = with_current(
            self.history.programs.get(p),
            self.program_rollups[p].progress,
        );
        v.dimension = Some(prog.dimension.to_string());
        v.department = Some(prog.department.to_string());
        v.quick_win = Some(prog.quick_win);
        v.horizon = Some(prog.horizon);
        v.due = Some(prog.due.to_string());
        v
    }

    fn dimension_view(&self, d: usize) -> RollUpProgress {
        let dim = &self.plan.dimensions[d];
        let mut v = rollup_view(dim.id.as_str(), &dim.name, &self.dimension_rollups[d]);
        v.sparkline = with_current(
            self.history.dimensions.get(d),
            self.dimension_rollups[d].progress,
        );
        v
    }
}

fn rollup_view(id: &str, name: &str, r: &RollUp) -> RollUpProgress {
    RollUpProgress {
        id: id.to_string(),
        name: name.to_string(),
        status: r.status,
        progress: r.progress,
        expected: r.expected,
        stale: r.stale,
        overdue: r.overdue,
        counts: r.counts,
        sparkline: Vec::new(),
        dimension: None,
        department: None,
        quick_win: None,
        horizon: None,
        due: None,
    }
}

fn note_view(n: &NoteRow, tz: Tz) -> NoteView {
    NoteView {
        kendala: n.kendala.clone(),
        rencana_tindak_lanjut: n.rencana_tindak_lanjut.clone(),
        department: n.department.clone(),
        created: format_instant(n.created, tz),
    }
}

/// What an item's events are judged by: its status and the flags beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Flags {
    status: Status,
    stale: bool,
    overdue: bool,
}

impl Flags {
    fn of(status: Status, stale: bool, overdue: bool) -> Self {
        Flags {
            status,
            stale,
            overdue,
        }
    }
}

/// Why an item is recomputed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Touch {
    /// Its observations or notes changed.
    Data,
    /// Only time passed.
    Clock,
}

/// Progress fractions that differ by less than this are the same on every screen (screens show
/// at most one decimal of a percent, 0.001): a published item is resent once its value has
/// moved this far from what was sent.
const VISIBLE_FRACTION: f64 = 1e-4;

fn moved(a: f64, b: f64) -> bool {
    // NaN on either side counts as moved.
    (a - b).abs().partial_cmp(&VISIBLE_FRACTION) != Some(std::cmp::Ordering::Less)
}

fn moved_opt(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => moved(a, b),
        (None, None) => false,
        _ => true,
    }
}

/// Relative difference for values in the indicator's own unit.
fn moved_relative(a: f64, b: f64) -> bool {
    let slack = VISIBLE_FRACTION * a.abs().max(b.abs()).max(1e-12);
    (a - b).abs().partial_cmp(&slack) == Some(std::cmp::Ordering::Greater)
        || a.is_nan() != b.is_nan()
}

/// Whether a fresh evaluation shows differently from the view last published for it.
fn indicator_differs(published: &IndicatorProgress, e: &IndicatorEvaluation, tz: Tz) -> bool {
    let forecast_differs = match (&published.forecast, &e.forecast) {
        (None, None) => false,
        (Some(p), Some(f)) => {
            moved_relative(p.projected_value, f.projected_value)
                || p.reach_date
                    != f.reach_time
                        .and_then(|t| local_date(t, tz))
                        .map(|d| d.to_string())
        }
        _ => true,
    };
    published.status != e.status
        || published.stale != e.stale
        || published.overdue != e.overdue
        || published.current != e.current
        || moved_opt(published.progress, e.progress)
        || moved(published.expected, e.expected)
        || published.capaian.is_some() != e.capaian.is_some()
        || forecast_differs
}

/// Whether a fresh roll-up shows differently from the view last published for it.
fn rollup_differs(published: &RollUpProgress, r: &RollUp) -> bool {
    published.status != r.status
        || published.stale != r.stale
        || published.overdue != r.overdue
        || published.counts != r.counts
        || moved_opt(published.progress, r.progress)
        || moved_opt(published.expected, r.expected)
}

fn push_events(
    events: &mut Vec<StatusEvent>,
    time: &str,
    item_type: &'static str,
    id: &str,
    name: &str,
    old: Flags,
    new: Flags,
) {
    let event = |kind: &'static str, from: Option<Status>, to: Option<Status>| StatusEvent {
        time: time.to_string(),
        kind,
        item_type,
        id: id.to_string(),
        name: name.to_string(),
        from,
        to,
        message: None,
    };
    if old.status != new.status {
        events.push(event("status_changed", Some(old.status), Some(new.status)));
    }
    if item_type == "indicator" && old.stale != new.stale {
        events.push(event(
            if new.stale {
                "became_stale"
            } else {
                "fresh_again"
            },
            None,
            None,
        ));
    }
    if new.overdue && !old.overdue && item_type != "dimension" && item_type != "masterplan" {
        events.push(event("became_overdue", None, Some(new.status)));
    }
}
