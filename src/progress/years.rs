//! The yearly cycle as pure code: for every indicator and every year that has a target, the
//! year's target, its realisasi at the end of each triwulan (TW I–IV) and of the year, and the
//! year's SAKIP capaian and category; and roll-ups of those per program, dimension, tier and
//! department.
//!
//! A period is read from the observations timed within it (a value posted late for a period
//! counts for that period; a later correction of an older value counts too). A running period
//! is read up to `now`; a period that has not started has no realisasi. No I/O and no clock.

use super::math::{CapaianCategory, Thresholds, Trajectory, capaian, category};
use crate::domain::{Indicator, Kind, Millis, date_start_millis};
use chrono::{Datelike, NaiveDate};
use serde::Serialize;

/// One triwulan of one year.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuarterFigure {
    /// 1 to 4 (TW I to TW IV).
    pub quarter: u8,
    /// The quarter's last day.
    pub end: NaiveDate,
    /// The last target dated within the quarter, when the plan has one.
    pub target: Option<f64>,
    /// Realisasi at the quarter's end (or so far, for the running quarter).
    pub realisasi: Option<f64>,
    /// Capaian of that realisasi against the quarter's target.
    pub capaian: Option<f64>,
}

/// One year of one indicator.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct YearFigure {
    pub year: i32,
    /// The year's target: the last target dated within the year.
    pub target: Option<f64>,
    /// Realisasi of the year: `level` the last value in the year; `cumulative` the running
    /// total at the year's end; `cumulative_yearly` the year's sum. So far, in the running year.
    pub realisasi: Option<f64>,
    /// Realisasi against the year's target.
    pub capaian: Option<f64>,
    pub category: Option<CapaianCategory>,
    pub quarters: Vec<QuarterFigure>,
    /// The year has ended (its figures are final, up to corrections).
    pub complete: bool,
}

/// Midnight at the start of `date` as an instant, for a date that exists.
fn start_of(y: i32, m: u32, d: u32, tz: chrono_tz::Tz) -> Millis {
    NaiveDate::from_ymd_opt(y, m, d).map_or(Millis::MAX, |date| date_start_millis(date, tz))
}

/// The first month of quarter `q` (1-based).
fn quarter_first_month(q: u8) -> u32 {
    u32::from(q - 1) * 3 + 1
}

/// Realisasi of `indicator` over the period [`from`, `to`) read up to `now`; None when the
/// period has not started or nothing counts for it.
pub fn realisasi(
    indicator: &Indicator,
    trajectory: &Trajectory,
    series: &[(Millis, f64)],
    from: Millis,
    to: Millis,
    now: Millis,
) -> Option<f64> {
    if from > now {
        return None;
    }
    let end = to.min(now.saturating_add(1));
    let baseline_start = trajectory.baseline().0;
    let counted = |t: Millis| t >= baseline_start && t < end;
    match indicator.kind {
        Kind::Level => series
            .iter()
            .rev()
            .find(|(t, v)| counted(*t) && *t >= from && v.is_finite())
            .map(|(_, v)| *v),
        Kind::Cumulative => {
            let mut any = false;
            let mut sum = indicator.baseline.value;
            for (t, v) in series {
                if *t >= end {
                    break;
                }
                if counted(*t) && v.is_finite() {
                    any = true;
                    sum += v;
                }
            }
            any.then_some(sum)
        }
        Kind::CumulativeYearly => {
            // The year-to-date total at the period's end: from 1 January of its year.
            let year_start = trajectory.year_start(trajectory.year_of(from));
            let mut any = false;
            let mut sum = 0.0;
            for (t, v) in series {
                if *t >= end {
                    break;
                }
                if *t >= year_start && counted(*t) && v.is_finite() {
                    any = true;
                    sum += v;
                }
            }
            any.then_some(sum)
        }
    }
}

/// Every year that has a target, with its quarters, read at `now`.
pub fn years(
    indicator: &Indicator,
    trajectory: &Trajectory,
    series: &[(Millis, f64)],
    now: Millis,
    th: &Thresholds,
) -> Vec<YearFigure> {
    let tz = trajectory.tz();
    let score = |r: Option<f64>, t: Option<f64>| match (r, t) {
        (Some(r), Some(t)) => capaian(
            indicator.direction,
            r,
            t,
            indicator.tolerance,
            th.capaian_decrease,
        ),
        _ => None,
    };
    indicator
        .target_years()
        .into_iter()
        .map(|year| {
            let from = start_of(year, 1, 1, tz);
            let to = start_of(year + 1, 1, 1, tz);
            let quarters = (1..=4u8)
                .map(|q| {
                    let m = quarter_first_month(q);
                    let q_from = start_of(year, m, 1, tz);
                    let q_to = if q == 4 {
                        to
                    } else {
                        start_of(year, m + 3, 1, tz)
                    };
                    let end = NaiveDate::from_ymd_opt(year, m + 2, 1)
                        .and_then(|d| {
                            d.checked_add_months(chrono::Months::new(1))
                                .and_then(|n| n.pred_opt())
                        })
                        .unwrap_or_default();
                    let target = indicator
                        .targets
                        .iter()
                        .rev()
                        .find(|t| {
                            t.date.year() == year && (t.date.month() - 1) / 3 + 1 == u32::from(q)
                        })
                        .map(|t| t.value);
                    let realisasi = realisasi(indicator, trajectory, series, q_from, q_to, now);
                    QuarterFigure {
                        quarter: q,
                        end,
                        target,
                        realisasi,
                        capaian: score(realisasi, target),
                    }
                })
                .collect();
            let target = indicator.target_of_year(year).map(|t| t.value);
            let realisasi = realisasi(indicator, trajectory, series, from, to, now);
            let capaian = score(realisasi, target);
            YearFigure {
                year,
                target,
                realisasi,
                capaian,
                category: capaian.map(|c| category(c, &th.bands)),
                quarters,
                complete: now >= to,
            }
        })
        .collect()
}

/// Capaian of one year over a group of indicators (a program, dimension, tier or department).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapaianRollUp {
    /// The weighted mean of the indicators' capaian, over those that have one.
    pub capaian: Option<f64>,
    pub category: Option<CapaianCategory>,
    /// How many indicators fall in each category.
    pub categories: CategoryCounts,
    /// Indicators in the group, and how many of them have a capaian this year.
    pub indicators: u32,
    pub with_capaian: u32,
}

/// Indicators per capaian category.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CategoryCounts {
    pub sangat_tinggi: u32,
    pub tinggi: u32,
    pub sedang: u32,
    pub rendah: u32,
    pub sangat_rendah: u32,
}

impl CategoryCounts {
    fn add(&mut self, c: CapaianCategory) {
        let slot = match c {
            CapaianCategory::SangatTinggi => &mut self.sangat_tinggi,
            CapaianCategory::Tinggi => &mut self.tinggi,
            CapaianCategory::Sedang => &mut self.sedang,
            CapaianCategory::Rendah => &mut self.rendah,
            CapaianCategory::SangatRendah => &mut self.sangat_rendah,
        };
        *slot = slot.saturating_add(1);
    }
}

/// Rolls up (weight, capaian) pairs of a group's indicators. Non-finite values and negative or
/// non-finite weights are left out (weights summing to 0 weigh equally).
pub fn roll_up_capaian(parts: &[(f64, Option<f64>)], th: &Thresholds) -> CapaianRollUp {
    let mut categories = CategoryCounts::default();
    let with: Vec<(f64, f64)> = parts
        .iter()
        .filter_map(|(w, c)| {
            let c = c.filter(|c| c.is_finite())?;
            categories.add(category(c, &th.bands));
            let w = if w.is_finite() && *w > 0.0 { *w } else { 0.0 };
            Some((w, c))
        })
        .collect();
    let total_w: f64 = with.iter().map(|(w, _)| w).sum();
    let mean = if with.is_empty() {
        None
    } else if total_w > 0.0 {
        Some(with.iter().map(|(w, c)| w * c).sum::<f64>() / total_w)
    } else {
        Some(with.iter().map(|(_, c)| c).sum::<f64>() / with.len() as f64)
    };
    CapaianRollUp {
        capaian: mean,
        category: mean.map(|c| category(c, &th.bands)),
        categories,
        indicators: parts.len() as u32,
        with_capaian: with.len() as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Cadence, DepartmentId, Direction, IndicatorId, ProgramId, Target};

    const TZ: chrono_tz::Tz = chrono_tz::Asia::Jakarta;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// Noon in Jakarta on `d`.
    fn at(d: &str) -> Millis {
        date_start_millis(date(d), TZ) + 12 * 3_600_000
    }

    fn ind(direction: Direction, kind: Kind, baseline: f64, targets: &[(&str, f64)]) -> Indicator {
        Indicator {
            id: IndicatorId::parse("x.y.z").unwrap(),
            program: ProgramId::parse("x.y").unwrap(),
            name: "X".into(),
            code: None,
            tier: None,
            pic: None,
            source: None,
            unit: "unit".into(),
            department: DepartmentId::parse("d").unwrap(),
            direction,
            tolerance: 0.0,
            kind,
            baseline: Target {
                date: date("2024-12-31"),
                value: baseline,
            },
            targets: targets
                .iter()
                .map(|(d, v)| Target {
                    date: date(d),
                    value: *v,
                })
                .collect(),
            update_every: Cadence::parse("1mo").unwrap(),
            weight: 1.0,
            min: None,
            max: None,
        }
    }

    fn figures(i: &Indicator, series: &[(Millis, f64)], now: Millis) -> Vec<YearFigure> {
        years(
            i,
            &Trajectory::new(i, TZ),
            series,
            now,
            &Thresholds::default(),
        )
    }

    #[test]
    fn level_takes_the_last_value_of_each_period() {
        let i = ind(
            Direction::Increase,
            Kind::Level,
            40.0,
            &[
                ("2025-06-30", 55.0),
                ("2025-12-31", 60.0),
                ("2026-12-31", 80.0),
            ],
        );
        let s = [
            (at("2025-02-10"), 44.0),
            (at("2025-03-31"), 46.0),
            (at("2025-08-15"), 57.0),
            (at("2026-01-20"), 61.0),
        ];
        let y = figures(&i, &s, at("2026-02-01"));
        assert_eq!(y.len(), 2);
        let y25 = &y[0];
        assert_eq!(
            (y25.year, y25.target, y25.realisasi),
            (2025, Some(60.0), Some(57.0))
        );
        assert_eq!(y25.capaian, Some(95.0));
        assert_eq!(y25.category, Some(CapaianCategory::SangatTinggi));
        assert!(y25.complete);
        let q: Vec<Option<f64>> = y25.quarters.iter().map(|q| q.realisasi).collect();
        assert_eq!(q, vec![Some(46.0), None, Some(57.0), None]);
        assert_eq!(y25.quarters[1].target, Some(55.0));
        assert_eq!(y25.quarters[3].target, Some(60.0));
        assert_eq!(y25.quarters[1].end, date("2025-06-30"));
        // The running year: the latest so far; quarters not yet begun have none.
        let y26 = &y[1];
        assert_eq!((y26.realisasi, y26.complete), (Some(61.0), false));
        assert_eq!(y26.quarters[1].realisasi, None);
    }

    #[test]
    fn cumulative_is_the_running_total_from_the_baseline() {
        let i = ind(
            Direction::Increase,
            Kind::Cumulative,
            1000.0,
            &[("2025-12-31", 1500.0), ("2026-12-31", 2000.0)],
        );
        let s = [
            (at("2025-03-01"), 100.0),
            (at("2025-11-01"), 300.0),
            (at("2026-05-01"), 250.0),
        ];
        let y = figures(&i, &s, at("2027-01-10"));
        assert_eq!(y[0].realisasi, Some(1400.0));
        assert_eq!(y[0].quarters[0].realisasi, Some(1100.0));
        assert_eq!(y[0].quarters[1].realisasi, Some(1100.0)); // the running total stands
        assert_eq!(y[1].realisasi, Some(1650.0));
        assert!((y[1].capaian.unwrap() - 82.5).abs() < 1e-9);
        assert_eq!(y[1].category, Some(CapaianCategory::Tinggi));
    }

    #[test]
    fn year_to_date_totals_with_quarterly_targets() {
        let i = ind(
            Direction::Increase,
            Kind::CumulativeYearly,
            180.0,
            &[
                ("2025-03-31", 40.0),
                ("2025-06-30", 100.0),
                ("2025-09-30", 150.0),
                ("2025-12-31", 200.0),
                ("2026-12-31", 220.0),
            ],
        );
        let s = [
            (at("2025-01-31"), 15.0),
            (at("2025-02-28"), 15.0),
            (at("2025-05-31"), 50.0),
            (at("2025-10-31"), 60.0),
            (at("2026-01-31"), 20.0),
        ];
        let y = figures(&i, &s, at("2026-02-15"));
        let q: Vec<(Option<f64>, Option<f64>)> = y[0]
            .quarters
            .iter()
            .map(|q| (q.target, q.realisasi))
            .collect();
        assert_eq!(
            q,
            vec![
                (Some(40.0), Some(30.0)),
                (Some(100.0), Some(80.0)),
                (Some(150.0), Some(80.0)),
                (Some(200.0), Some(140.0))
            ]
        );
        assert_eq!(y[0].quarters[0].capaian, Some(75.0));
        assert_eq!(y[0].realisasi, Some(140.0));
        assert_eq!(y[0].capaian, Some(70.0));
        assert_eq!(y[0].category, Some(CapaianCategory::Sedang));
        // 2026 starts again from 0.
        assert_eq!(y[1].realisasi, Some(20.0));
    }

    #[test]
    fn decrease_and_thresholds_per_year() {
        let down = ind(
            Direction::Decrease,
            Kind::Level,
            10.0,
            &[("2025-12-31", 8.0)],
        );
        let y = figures(&down, &[(at("2025-12-01"), 9.0)], at("2026-01-02"));
        assert_eq!(y[0].capaian, Some(87.5)); // (2 × 8 − 9) / 8
        let th = Thresholds {
            capaian_decrease: crate::progress::CapaianDecrease::Ratio,
            ..Thresholds::default()
        };
        let y = years(
            &down,
            &Trajectory::new(&down, TZ),
            &[(at("2025-12-01"), 10.0)],
            at("2026-01-02"),
            &th,
        );
        assert_eq!(y[0].capaian, Some(80.0)); // 8 / 10
        let most = ind(
            Direction::AtMost,
            Kind::Level,
            60.0,
            &[("2025-12-31", 50.0)],
        );
        let y = figures(&most, &[(at("2025-12-01"), 42.0)], at("2026-01-02"));
        assert_eq!(y[0].capaian, Some(100.0));
    }

    #[test]
    fn roll_ups_weigh_indicators_and_count_categories() {
        let th = Thresholds::default();
        let r = roll_up_capaian(&[(1.0, Some(100.0)), (3.0, Some(60.0)), (1.0, None)], &th);
        assert_eq!(r.capaian, Some(70.0));
        assert_eq!(r.category, Some(CapaianCategory::Sedang));
        assert_eq!((r.indicators, r.with_capaian), (3, 2));
        assert_eq!(r.categories.sangat_tinggi, 1);
        assert_eq!(r.categories.rendah, 1);
        let none = roll_up_capaian(&[(1.0, None)], &th);
        assert_eq!((none.capaian, none.category), (None, None));
    }
}
