//! The evaluation report (laporan evaluasi) as data: the period asked for, checked against the
//! plan; and the report itself, assembled from what `progress` computes — the yearly figures
//! (`PlanData::years`), capaian roll-ups (`roll_up_capaian`) per program, dimension, tier and
//! department, each indicator's status at the period's end (`math::evaluate` over the series
//! as known then, as `GET /api/v1/progress?as_of=` computes it), quick-win programs rolled up
//! (`math::roll_up`), and OPD compliance (`compliance::report`). Pure: the caller passes the
//! data, the series known at the period's end, the receipts and `now`.

use super::ReportError;
use super::text;
use crate::config::{ReportSettings, Signature};
use crate::domain::{
    Direction, Indicator, Kind, Masterplan, Millis, Tier, date_start_millis, format_instant,
    local_date,
};
use crate::progress::compliance::{self, Tally};
use crate::progress::math::{self, CapaianCategory, RollUpPart, Status};
use crate::progress::state::PlanData;
use crate::progress::years::{CapaianRollUp, roll_up_capaian};
use chrono::{Datelike, NaiveDate};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::HashMap;

/// What a report is asked for: a year, optionally one triwulan of it, optionally one OPD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub year: i32,
    pub quarter: Option<u8>,
    pub department: Option<String>,
}

/// `2025` as a year.
pub fn parse_year(text: &str) -> Result<i32, ReportError> {
    text.trim()
        .parse::<i32>()
        .ok()
        .filter(|y| (1900..=9999).contains(y))
        .ok_or_else(|| ReportError::BadParameter {
            name: "year",
            message: format!("`{}` is not a year; write e.g. 2025", shorten(text)),
        })
}

/// A triwulan: `1` to `4`, or `I` to `IV` (also `TW III`).
pub fn parse_quarter(text: &str) -> Result<u8, ReportError> {
    let t = text.trim().to_ascii_uppercase();
    let t = t.strip_prefix("TW").map_or(t.as_str(), str::trim);
    let q = match t {
        "1" | "I" => 1,
        "2" | "II" => 2,
        "3" | "III" => 3,
        "4" | "IV" => 4,
        _ => {
            return Err(ReportError::BadParameter {
                name: "quarter",
                message: format!(
                    "`{}` is not a triwulan; give 1, 2, 3 or 4 (TW I to TW IV), or leave it out for the whole year",
                    shorten(text)
                ),
            });
        }
    };
    Ok(q)
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= 40 {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(40).collect::<String>())
    }
}

/// The years in which some indicator of the plan has a target, in order.
pub fn plan_years(plan: &Masterplan) -> Vec<i32> {
    let mut years: Vec<i32> = plan
        .indicators
        .iter()
        .flat_map(Indicator::target_years)
        .collect();
    years.sort_unstable();
    years.dedup();
    years
}

/// The year a report is about when none is asked: this year when the plan has targets in it,
/// else the plan's last year before it, else its first.
pub fn default_year(plan: &Masterplan, today: NaiveDate) -> Option<i32> {
    let years = plan_years(plan);
    let this = today.year();
    years
        .iter()
        .rev()
        .find(|y| **y <= this)
        .or(years.first())
        .copied()
}

/// A short, stable fingerprint of the plan as loaded ("versi rencana"): the first 12 hex digits
/// of the SHA-256 of its canonical JSON (departments, dimensions, programs and indicators in the
/// order the plan lists them). The same plan gives the same version on every machine; any
/// change to a target, name or weight gives another.
pub fn plan_version(plan: &Masterplan) -> String {
    // The same canonical form and hash the daemon records in its plan versions
    // (`GET /api/v1/masterplan/versions`), so the report's version can be found there.
    let hash = crate::config::versions::canonical(plan).hash;
    hash.chars().take(12).collect()
}

/// The period of a report, checked against the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub year: i32,
    pub quarter: Option<u8>,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    /// Midnight at the start of the first day (city time).
    pub start: Millis,
    /// Midnight after the last day: the period is [`start`, `end`).
    pub end: Millis,
    /// Only this OPD's indicators and compliance.
    pub department: Option<String>,
}

impl Period {
    /// Checks `request` against `plan`: a year in which some indicator has a target, a
    /// triwulan 1–4, a department of the plan. Each problem names its parameter.
    pub fn resolve(request: &Request, plan: &Masterplan, tz: Tz) -> Result<Period, ReportError> {
        let years = plan_years(plan);
        if !years.contains(&request.year) {
            let known = match (years.first(), years.last()) {
                (Some(a), Some(b)) if a == b => format!("its only year is {a}"),
                (Some(_), Some(_)) => format!(
                    "its years are {}",
                    years
                        .iter()
                        .map(i32::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                _ => "it has no targets at all".into(),
            };
            return Err(ReportError::BadParameter {
                name: "year",
                message: format!(
                    "{} is not a year of the masterplan (no indicator has a target in it); {known}",
                    request.year
                ),
            });
        }
        if let Some(q) = request.quarter {
            if !(1..=4).contains(&q) {
                return Err(ReportError::BadParameter {
                    name: "quarter",
                    message: format!("{q} is not a triwulan; give 1, 2, 3 or 4"),
                });
            }
        }
        if let Some(d) = &request.department {
            if plan.department(d).is_none() {
                return Err(ReportError::BadParameter {
                    name: "department",
                    message: format!(
                        "`{}` is not a department of the masterplan; use one of: {}",
                        shorten(d),
                        plan.departments
                            .iter()
                            .map(|d| d.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
        }
        let year = request.year;
        let (first_month, months) = match request.quarter {
            Some(q) => (u32::from(q - 1) * 3 + 1, 3),
            None => (1, 12),
        };
        let invalid = || ReportError::BadParameter {
            name: "year",
            message: format!("{year} has no calendar here; write e.g. 2025"),
        };
        let first_day = NaiveDate::from_ymd_opt(year, first_month, 1).ok_or_else(invalid)?;
        let next = first_day
            .checked_add_months(chrono::Months::new(months))
            .ok_or_else(invalid)?;
        let last_day = next.pred_opt().ok_or_else(invalid)?;
        Ok(Period {
            year,
            quarter: request.quarter,
            first_day,
            last_day,
            start: date_start_millis(first_day, tz),
            end: date_start_millis(next, tz),
            department: request.department.clone(),
        })
    }

    /// "Tahun 2025" or "Triwulan III Tahun 2025".
    pub fn label(&self) -> String {
        match self.quarter {
            Some(q) => format!("Triwulan {} Tahun {}", text::roman(q), self.year),
            None => format!("Tahun {}", self.year),
        }
    }

    /// The instant statuses are evaluated at: the period's last moment, or now while it runs.
    pub fn status_at(&self, now: Millis) -> Millis {
        (self.end - 1).min(now)
    }

    /// Whether the period is over at `now` (its status is then progress as of its last day).
    pub fn has_ended(&self, now: Millis) -> bool {
        now >= self.end
    }

    /// Whether the indicator is in the report's scope (its OPD, when one is asked for).
    pub fn covers(&self, indicator: &Indicator) -> bool {
        self.department
            .as_deref()
            .is_none_or(|d| d == indicator.department.as_str())
    }

    /// From when an indicator's receipts matter to compliance over this period: the start of
    /// its earliest reporting period that can end within it (a month or a year before, at most).
    pub fn receipts_from(&self, indicator: &Indicator) -> Millis {
        let length = indicator.update_every.millis();
        self.start - length.saturating_add(length / 10) - 2 * 86_400_000
    }
}

/// What a capaian compares the realisasi with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CapaianBasis {
    /// The year's target (SAKIP: realisasi of year N against the target of year N).
    YearTarget,
    /// The triwulan's own target from the plan.
    QuarterTarget,
    /// A triwulan report where the plan has no target for that triwulan: the year's target.
    YearTargetForQuarter,
}

/// The name of a status as the report writes it.
pub fn status_label(s: Status) -> &'static str {
    match s {
        Status::NoData => "Belum ada data",
        Status::Achieved => "Tercapai",
        Status::OnTrack => "Sesuai target",
        Status::AtRisk => "Berisiko",
        Status::OffTrack => "Tertinggal",
    }
}

/// The name of a tier as the report writes it; `None` is "Tanpa tingkat".
pub fn tier_label(t: Option<Tier>) -> &'static str {
    match t {
        Some(Tier::Output) => "Output",
        Some(Tier::Outcome) => "Outcome",
        Some(Tier::Impact) => "Impact",
        None => "Tanpa tingkat",
    }
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct EvaluationReport {
    pub city: String,
    pub period: PeriodView,
    /// The OPD the report is limited to, if any.
    pub department: Option<DepartmentRef>,
    /// When it was made (RFC 3339, city time).
    pub made_at: String,
    #[serde(skip)]
    pub made_at_millis: Millis,
    pub time_zone: String,
    /// A fingerprint of the plan it was computed from (`plan_version`).
    pub plan_version: String,
    /// The instant the status column is evaluated at: the period's last moment, with the values
    /// known then (as `GET /api/v1/progress?as_of=` its last day), or now while it runs.
    pub status_as_of: String,
    #[serde(skip)]
    pub status_at_millis: Millis,
    #[serde(skip)]
    pub tz: Tz,
    pub summary: Summary,
    pub dimensions: Vec<DimensionSection>,
    pub quick_wins: Vec<QuickWin>,
    pub compliance: ComplianceSection,
    pub signatures: SignatureBlock,
}

#[derive(Debug, Clone, Serialize)]
pub struct PeriodView {
    pub year: i32,
    pub quarter: Option<u8>,
    /// "Tahun 2025", "Triwulan III Tahun 2025".
    pub label: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

#[derive(Debug, Clone, Serialize)]
pub struct DepartmentRef {
    pub id: String,
    pub name: String,
}

/// Capaian roll-ups over the whole report, per dimension, per tier and per department.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub overall: CapaianRollUp,
    pub dimensions: Vec<GroupSummary>,
    /// Output, outcome and impact, then indicators without a tier ("tanpa tingkat") if any.
    pub tiers: Vec<GroupSummary>,
    /// Each OPD responsible for indicators in the report (the indicator's own department), in
    /// plan order.
    pub departments: Vec<GroupSummary>,
    /// Indicators in scope without a target in the year (left out of the report).
    pub without_target: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupSummary {
    /// The dimension's or department's id, or the tier (`output`, `outcome`, `impact`; null:
    /// without a tier).
    pub id: Option<String>,
    pub name: String,
    #[serde(flatten)]
    pub rollup: CapaianRollUp,
}

#[derive(Debug, Clone, Serialize)]
pub struct DimensionSection {
    pub id: String,
    pub name: String,
    pub rollup: CapaianRollUp,
    pub programs: Vec<ProgramSection>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProgramSection {
    pub id: String,
    pub name: String,
    pub department: String,
    pub department_name: String,
    pub quick_win: bool,
    pub rollup: CapaianRollUp,
    pub indicators: Vec<IndicatorRow>,
}

/// One indicator's line.
#[derive(Debug, Clone, Serialize)]
pub struct IndicatorRow {
    pub id: String,
    pub code: Option<String>,
    pub name: String,
    pub unit: String,
    pub department: String,
    pub department_name: String,
    pub tier: Option<Tier>,
    pub direction: Direction,
    pub kind: Kind,
    pub baseline: f64,
    pub baseline_date: NaiveDate,
    /// The year's target.
    pub target: Option<f64>,
    /// The triwulan's target (triwulan reports), when the plan has one.
    pub quarter_target: Option<f64>,
    /// TW I–IV (up to the asked triwulan).
    pub quarters: Vec<QuarterCell>,
    /// Realisasi of the year, or of the asked triwulan.
    pub realisasi: Option<f64>,
    /// SAKIP capaian in percent.
    pub capaian: Option<f64>,
    pub capaian_basis: CapaianBasis,
    pub category: Option<CapaianCategory>,
    /// Progress at the end of the period as it stood then: the observations timed up to it with
    /// the values known then (`GET /api/v1/progress?as_of=`); now, while the period runs.
    pub status: Status,
    pub overdue: bool,
    pub stale: bool,
    pub note: Option<NoteCell>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QuarterCell {
    pub quarter: u8,
    pub target: Option<f64>,
    pub realisasi: Option<f64>,
}

/// The latest kendala and rencana tindak lanjut an OPD wrote on the indicator.
#[derive(Debug, Clone, Serialize)]
pub struct NoteCell {
    pub kendala: String,
    pub rencana_tindak_lanjut: String,
    /// When it was written (RFC 3339, city time).
    pub created: String,
}

/// A quick-win program.
#[derive(Debug, Clone, Serialize)]
pub struct QuickWin {
    pub id: String,
    pub name: String,
    pub dimension: String,
    pub dimension_name: String,
    pub department: String,
    pub department_name: String,
    pub due: NaiveDate,
    /// At the end of the period.
    pub status: Status,
    pub progress: Option<f64>,
    pub expected: Option<f64>,
    pub overdue: bool,
    pub indicators: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct ComplianceSection {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub totals: Tally,
    pub on_time_percent: Option<f64>,
    /// How many OPD the ranking is among.
    pub ranked_among: u32,
    pub departments: Vec<DepartmentComplianceRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DepartmentComplianceRow {
    pub rank: u32,
    pub id: String,
    pub name: String,
    #[serde(flatten)]
    pub tally: Tally,
    pub on_time_percent: Option<f64>,
    /// Per indicator, in a report limited to this OPD (empty otherwise).
    pub indicators: Vec<IndicatorComplianceRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IndicatorComplianceRow {
    pub id: String,
    pub name: String,
    pub update_every: String,
    #[serde(flatten)]
    pub tally: Tally,
    pub on_time_percent: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SignatureBlock {
    pub place: Option<String>,
    /// The day the report was made (city time).
    pub date: NaiveDate,
    pub signers: Vec<Signature>,
}

/// An indicator's series: (observation time, value) in time order.
pub type Series = Vec<(Millis, f64)>;

/// Builds the report for `period` from `data` at `now`. `receipts[i]`: (observation time, first
/// received) of indicator `i` from `period.receipts_from` to the period's end (empty for
/// indicators nobody asked about). `known_then[i]`: for a period that has ended, indicator `i`'s
/// series as known at its end (`source::read_known_then`), which the status, the quick wins
/// and the other progress figures are computed from; `None` while the period runs (today's
/// series in `data`). Realisasi and capaian always come from `data` (later corrections count).
pub fn build(
    period: &Period,
    data: &PlanData,
    receipts: &[Vec<(Millis, Millis)>],
    known_then: Option<&[Series]>,
    city: &str,
    settings: &ReportSettings,
    now: Millis,
) -> EvaluationReport {
    let plan = &data.plan;
    let tz = data.tz;
    let th = &data.th;
    let at = period.status_at(now);
    let department_name = |id: &str| {
        plan.department(id)
            .map_or_else(|| id.to_string(), |d| d.name.clone())
    };

    // Each indicator's status at the period's end, over the observations timed up to it: with
    // the values known then once the period is over (as `?as_of=` its last day), else today's.
    let evaluations: Vec<math::IndicatorEvaluation> = plan
        .indicators
        .iter()
        .enumerate()
        .map(|(i, ind)| {
            let series: &[(Millis, f64)] = match known_then {
                Some(k) => k.get(i).map_or(&[], Vec::as_slice),
                _ => &data.series[i],
            };
            let upto = series.partition_point(|(t, _)| *t <= at);
            math::evaluate(ind, &data.trajectories[i], &series[..upto], at, th)
        })
        .collect();

    // Rows of the indicators in scope that have a target this year.
    let mut rows: HashMap<usize, IndicatorRow> = HashMap::new();
    let mut without_target = 0u32;
    for (i, ind) in plan.indicators.iter().enumerate() {
        if !period.covers(ind) {
            continue;
        }
        let Some(year) = data
            .years(i, now)
            .into_iter()
            .find(|y| y.year == period.year)
        else {
            without_target += 1;
            continue;
        };
        let last_quarter = period.quarter.unwrap_or(4);
        let quarters: Vec<QuarterCell> = year
            .quarters
            .iter()
            .filter(|q| q.quarter <= last_quarter)
            .map(|q| QuarterCell {
                quarter: q.quarter,
                target: q.target,
                realisasi: q.realisasi,
            })
            .collect();
        let (quarter_target, realisasi, capaian, basis) = match period.quarter {
            None => (None, year.realisasi, year.capaian, CapaianBasis::YearTarget),
            Some(q) => {
                let figure = year.quarters.iter().find(|f| f.quarter == q);
                let realisasi = figure.and_then(|f| f.realisasi);
                match figure.and_then(|f| f.target) {
                    Some(t) => (
                        Some(t),
                        realisasi,
                        figure.and_then(|f| f.capaian),
                        CapaianBasis::QuarterTarget,
                    ),
                    None => {
                        let capaian = match (realisasi, year.target) {
                            (Some(r), Some(t)) => math::capaian(
                                ind.direction,
                                r,
                                t,
                                ind.tolerance,
                                th.capaian_decrease,
                            ),
                            _ => None,
                        };
                        (None, realisasi, capaian, CapaianBasis::YearTargetForQuarter)
                    }
                }
            }
        };
        let e = &evaluations[i];
        rows.insert(
            i,
            IndicatorRow {
                id: ind.id.to_string(),
                code: ind.code.clone(),
                name: ind.name.clone(),
                unit: ind.unit.clone(),
                department: ind.department.to_string(),
                department_name: department_name(ind.department.as_str()),
                tier: ind.tier,
                direction: ind.direction,
                kind: ind.kind,
                baseline: ind.baseline.value,
                baseline_date: ind.baseline.date,
                target: year.target,
                quarter_target,
                quarters,
                realisasi,
                capaian,
                capaian_basis: basis,
                category: capaian.map(|c| math::category(c, &th.bands)),
                status: e.status,
                overdue: e.overdue,
                stale: e.stale,
                note: data.notes[i].as_ref().map(|n| NoteCell {
                    kendala: n.kendala.clone(),
                    rencana_tindak_lanjut: n.rencana_tindak_lanjut.clone(),
                    created: n.created.clone(),
                }),
            },
        );
    }
    let part = |i: usize| (plan.indicators[i].weight, rows[&i].capaian);

    // Dimensions, their programs and indicators, in plan order.
    let mut dimension_sections = Vec::new();
    let mut dimension_summaries = Vec::new();
    for dim in &plan.dimensions {
        let mut programs = Vec::new();
        let mut dim_parts = Vec::new();
        for prog in plan.programs.iter().filter(|p| p.dimension == dim.id) {
            let members: Vec<usize> = plan
                .indicators
                .iter()
                .enumerate()
                .filter(|(i, ind)| ind.program == prog.id && rows.contains_key(i))
                .map(|(i, _)| i)
                .collect();
            if members.is_empty() {
                continue;
            }
            let parts: Vec<(f64, Option<f64>)> = members.iter().map(|i| part(*i)).collect();
            dim_parts.extend_from_slice(&parts);
            programs.push(ProgramSection {
                id: prog.id.to_string(),
                name: prog.name.clone(),
                department: prog.department.to_string(),
                department_name: department_name(prog.department.as_str()),
                quick_win: prog.quick_win,
                rollup: roll_up_capaian(&parts, th),
                indicators: members.iter().map(|i| rows[i].clone()).collect(),
            });
        }
        if programs.is_empty() && period.department.is_some() {
            continue;
        }
        let rollup = roll_up_capaian(&dim_parts, th);
        dimension_summaries.push(GroupSummary {
            id: Some(dim.id.to_string()),
            name: dim.name.clone(),
            rollup: rollup.clone(),
        });
        dimension_sections.push(DimensionSection {
            id: dim.id.to_string(),
            name: dim.name.clone(),
            rollup,
            programs,
        });
    }
    let in_report: Vec<usize> = {
        let mut v: Vec<usize> = rows.keys().copied().collect();
        v.sort_unstable();
        v
    };
    let overall = roll_up_capaian(&in_report.iter().map(|i| part(*i)).collect::<Vec<_>>(), th);
    let mut tiers = Vec::new();
    for tier in [
        Some(Tier::Output),
        Some(Tier::Outcome),
        Some(Tier::Impact),
        None,
    ] {
        let parts: Vec<(f64, Option<f64>)> = in_report
            .iter()
            .filter(|i| plan.indicators[**i].tier == tier)
            .map(|i| part(*i))
            .collect();
        if tier.is_none() && parts.is_empty() {
            continue;
        }
        tiers.push(GroupSummary {
            id: tier.map(|t| t.as_str().to_string()),
            name: tier_label(tier).to_string(),
            rollup: roll_up_capaian(&parts, th),
        });
    }
    // Per OPD: the indicators each department is responsible for, in plan order.
    let department_summaries: Vec<GroupSummary> = plan
        .departments
        .iter()
        .filter_map(|d| {
            let parts: Vec<(f64, Option<f64>)> = in_report
                .iter()
                .filter(|i| plan.indicators[**i].department == d.id)
                .map(|i| part(*i))
                .collect();
            (!parts.is_empty()).then(|| GroupSummary {
                id: Some(d.id.to_string()),
                name: d.name.clone(),
                rollup: roll_up_capaian(&parts, th),
            })
        })
        .collect();

    // Quick wins: each program rolled up over its indicators at the period's end.
    let quick_wins = plan
        .programs
        .iter()
        .filter(|p| p.quick_win)
        .filter(|p| {
            period.department.as_deref().is_none_or(|d| {
                p.department.as_str() == d
                    || plan
                        .indicators
                        .iter()
                        .any(|i| i.program == p.id && i.department.as_str() == d)
            })
        })
        .map(|p| {
            let parts: Vec<RollUpPart> = plan
                .indicators
                .iter()
                .enumerate()
                .filter(|(_, i)| i.program == p.id)
                .map(|(k, i)| RollUpPart::from_indicator(&evaluations[k], i.weight))
                .collect();
            let mut r = math::roll_up(&parts, th);
            let overdue_from = p
                .due
                .succ_opt()
                .map_or(Millis::MAX, |d| date_start_millis(d, tz));
            r.overdue = math::program_overdue(&r, overdue_from, at);
            QuickWin {
                id: p.id.to_string(),
                name: p.name.clone(),
                dimension: p.dimension.to_string(),
                dimension_name: plan
                    .dimension(p.dimension.as_str())
                    .map_or_else(|| p.dimension.to_string(), |d| d.name.clone()),
                department: p.department.to_string(),
                department_name: department_name(p.department.as_str()),
                due: p.due,
                status: r.status,
                progress: r.progress,
                expected: r.expected,
                overdue: r.overdue,
                indicators: parts.len() as u32,
            }
        })
        .collect();

    // OPD compliance over the period, ranked among every OPD.
    let mut ranked = compliance::report(
        plan,
        period.start,
        period.end,
        now,
        th.stale_grace,
        tz,
        |i| receipts.get(i).cloned().unwrap_or_default(),
    );
    let ranked_among = ranked.len() as u32;
    if let Some(d) = &period.department {
        ranked.retain(|r| &r.id == d);
    }
    let mut totals = Tally::default();
    for d in &ranked {
        totals.merge(&d.tally);
    }
    let departments = ranked
        .into_iter()
        .map(|d| DepartmentComplianceRow {
            rank: d.rank,
            indicators: if period.department.is_some() {
                d.indicators
                    .iter()
                    .map(|i| IndicatorComplianceRow {
                        id: i.id.clone(),
                        name: i.name.clone(),
                        update_every: i.update_every.clone(),
                        tally: i.tally,
                        on_time_percent: i.on_time_percent,
                    })
                    .collect()
            } else {
                Vec::new()
            },
            id: d.id,
            name: d.name,
            tally: d.tally,
            on_time_percent: d.on_time_percent,
        })
        .collect();

    EvaluationReport {
        city: city.to_string(),
        period: PeriodView {
            year: period.year,
            quarter: period.quarter,
            label: period.label(),
            from: period.first_day,
            to: period.last_day,
        },
        department: period.department.as_ref().map(|d| DepartmentRef {
            id: d.clone(),
            name: department_name(d),
        }),
        made_at: format_instant(now, tz),
        made_at_millis: now,
        time_zone: tz.name().to_string(),
        plan_version: plan_version(plan),
        status_as_of: format_instant(at, tz),
        status_at_millis: at,
        tz,
        summary: Summary {
            overall,
            dimensions: dimension_summaries,
            tiers,
            departments: department_summaries,
            without_target,
        },
        dimensions: dimension_sections,
        quick_wins,
        compliance: ComplianceSection {
            from: period.first_day,
            to: period.last_day,
            on_time_percent: totals.on_time_percent(),
            totals,
            ranked_among,
            departments,
        },
        signatures: SignatureBlock {
            place: settings.place.clone(),
            date: local_date(now, tz).unwrap_or(period.last_day),
            signers: settings.signatures.clone(),
        },
    }
}

impl EvaluationReport {
    /// Whether any capaian compares a triwulan's realisasi with the year's target (marked `*`).
    pub fn has_year_target_for_quarter(&self) -> bool {
        self.rows()
            .any(|r| r.capaian_basis == CapaianBasis::YearTargetForQuarter && r.capaian.is_some())
    }

    /// Every indicator row, in report order.
    pub fn rows(&self) -> impl Iterator<Item = &IndicatorRow> {
        self.dimensions
            .iter()
            .flat_map(|d| d.programs.iter())
            .flat_map(|p| p.indicators.iter())
    }

    /// "laporan-evaluasi-kota-mojokerto-2025[-tw2][-dinkes].<extension>".
    pub fn file_name(&self, extension: &str) -> String {
        let mut name = format!(
            "laporan-evaluasi-{}-{}",
            text::slug(&self.city),
            self.period.year
        );
        if let Some(q) = self.period.quarter {
            name.push_str(&format!("-tw{q}"));
        }
        if let Some(d) = &self.department {
            name.push('-');
            name.push_str(&text::slug(&d.id));
        }
        format!("{name}.{extension}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Masterplan {
        crate::config::Config::embedded()
            .expect("the example configuration is valid")
            .masterplan
    }

    #[test]
    fn parameters_are_parsed_and_checked_against_the_plan() {
        assert_eq!(parse_year(" 2025 ").unwrap(), 2025);
        for bad in ["dua ribu", "20255", "-1", ""] {
            assert!(matches!(
                parse_year(bad),
                Err(ReportError::BadParameter { name: "year", .. })
            ));
        }
        assert_eq!(parse_quarter("3").unwrap(), 3);
        assert_eq!(parse_quarter("iii").unwrap(), 3);
        assert_eq!(parse_quarter("TW IV").unwrap(), 4);
        for bad in ["0", "5", "V", "x"] {
            assert!(matches!(
                parse_quarter(bad),
                Err(ReportError::BadParameter {
                    name: "quarter",
                    ..
                })
            ));
        }
        let plan = plan();
        let tz = chrono_tz::Asia::Jakarta;
        let years = plan_years(&plan);
        let y = years[0];
        let ok = Period::resolve(
            &Request {
                year: y,
                quarter: Some(3),
                department: None,
            },
            &plan,
            tz,
        )
        .unwrap();
        assert_eq!(ok.first_day, NaiveDate::from_ymd_opt(y, 7, 1).unwrap());
        assert_eq!(ok.last_day, NaiveDate::from_ymd_opt(y, 9, 30).unwrap());
        assert_eq!(ok.label(), format!("Triwulan III Tahun {y}"));
        assert_eq!(ok.end - ok.start, 92 * 86_400_000);
        for (request, name) in [
            (
                Request {
                    year: 1999,
                    quarter: None,
                    department: None,
                },
                "year",
            ),
            (
                Request {
                    year: y,
                    quarter: Some(5),
                    department: None,
                },
                "quarter",
            ),
            (
                Request {
                    year: y,
                    quarter: None,
                    department: Some("dinas-rahasia".into()),
                },
                "department",
            ),
        ] {
            match Period::resolve(&request, &plan, tz) {
                Err(ReportError::BadParameter { name: n, message }) => {
                    assert_eq!(n, name, "{message}")
                }
                other => panic!("{request:?}: {other:?}"),
            }
        }
        let today = NaiveDate::from_ymd_opt(3000, 1, 1).unwrap();
        assert_eq!(default_year(&plan, today), years.last().copied());
        let long_ago = NaiveDate::from_ymd_opt(1990, 1, 1).unwrap();
        assert_eq!(default_year(&plan, long_ago), years.first().copied());
    }

    #[test]
    fn the_plan_version_is_stable_and_changes_with_the_plan() {
        let a = plan();
        let v = plan_version(&a);
        assert_eq!(v.len(), 12);
        assert!(v.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(plan_version(&plan()), v, "the same plan, the same version");
        let mut b = plan();
        b.indicators[0].targets[0].value += 1.0;
        assert_ne!(plan_version(&b), v, "a changed target is another version");
    }
}
