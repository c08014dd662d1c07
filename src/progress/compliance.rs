//! OPD reporting compliance (kepatuhan pelaporan) as pure code: each indicator's reporting
//! periods by its `update_every` on the city's calendar, each period judged on time, late,
//! missing or not yet due from when its value was first received; totals and a ranking per
//! department.
//!
//! A reporting period is a day, week (from Monday), month, quarter or year in the city's zone
//! (minutes and hours are fixed lengths from midnight). Its value is due by the period's end
//! plus the grace of staleness (`stale_grace × update_every`). A value *for* the period is an
//! observation timed within it, wherever and whenever it came from; it is on time when it was
//! first received by the deadline. No I/O and no clock.

use crate::domain::{CalendarStep, Indicator, Millis, date_start_millis, local_date};
use chrono::{Datelike, Months, NaiveDate};
use chrono_tz::Tz;
use serde::Serialize;

/// One reporting period of one indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: Millis,
    pub end: Millis,
    /// When its value is due: the end plus the grace.
    pub deadline: Millis,
}

/// How one period went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodState {
    OnTime,
    Late,
    Missing,
    /// Nothing yet, and the deadline has not passed.
    Pending,
}

/// Counts over periods.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Periods whose deadline has passed (on time + late + missing).
    pub expected: u32,
    pub on_time: u32,
    pub late: u32,
    pub missing: u32,
    pub pending: u32,
}

impl Tally {
    pub fn add(&mut self, state: PeriodState) {
        match state {
            PeriodState::OnTime => self.on_time += 1,
            PeriodState::Late => self.late += 1,
            PeriodState::Missing => self.missing += 1,
            PeriodState::Pending => self.pending += 1,
        }
        if state != PeriodState::Pending {
            self.expected += 1;
        }
    }

    pub fn merge(&mut self, other: &Tally) {
        self.expected += other.expected;
        self.on_time += other.on_time;
        self.late += other.late;
        self.missing += other.missing;
        self.pending += other.pending;
    }

    /// On-time periods as a percentage of those due; None when none was due.
    pub fn on_time_percent(&self) -> Option<f64> {
        (self.expected > 0).then(|| f64::from(self.on_time) / f64::from(self.expected) * 100.0)
    }
}

/// The date `n` steps of `step` after `d` (months keep the day where it exists).
fn add_steps(d: NaiveDate, step: CalendarStep, n: u32) -> Option<NaiveDate> {
    match step {
        CalendarStep::Fixed(_) => None,
        CalendarStep::Days(k) => d.checked_add_days(chrono::Days::new(u64::from(k) * u64::from(n))),
        CalendarStep::Weeks(k) => {
            d.checked_add_days(chrono::Days::new(7 * u64::from(k) * u64::from(n)))
        }
        CalendarStep::Months(k) => d.checked_add_months(Months::new(k * n)),
        CalendarStep::Years(k) => d.checked_add_months(Months::new(12 * k * n)),
    }
}

/// The calendar date a cadence's periods are counted from, at or before `d`: the day itself,
/// its Monday, the first of a month (months dividing the year align to January: quarters are
/// Jan–Mar, Apr–Jun, ...), or 1 January.
fn period_anchor(d: NaiveDate, step: CalendarStep, first: NaiveDate) -> NaiveDate {
    match step {
        CalendarStep::Fixed(_) | CalendarStep::Days(_) => d,
        CalendarStep::Weeks(_) => {
            d - chrono::Days::new(u64::from(d.weekday().num_days_from_monday()))
        }
        CalendarStep::Months(k) => {
            let month0 = d.month0();
            let start_month = if 12 % k.max(1) == 0 {
                month0 - month0 % k.max(1)
            } else {
                // Cadences that do not divide the year count from the first period's month.
                let since = (d.year() - first.year()) * 12 + month0 as i32 - first.month0() as i32;
                (month0 as i32 - since.rem_euclid(k.max(1) as i32)).rem_euclid(12) as u32
            };
            let year = if start_month > month0 {
                d.year() - 1
            } else {
                d.year()
            };
            NaiveDate::from_ymd_opt(year, start_month + 1, 1).unwrap_or(d)
        }
        CalendarStep::Years(_) => NaiveDate::from_ymd_opt(d.year(), 1, 1).unwrap_or(d),
    }
}

/// The reporting periods of `indicator` that end within (`from`, `to`] and start on or after
/// its baseline date, in time order. `grace` is the staleness grace fraction.
pub fn periods(indicator: &Indicator, from: Millis, to: Millis, grace: f64, tz: Tz) -> Vec<Period> {
    let step = indicator.update_every.calendar();
    let length = indicator.update_every.millis();
    let grace_ms = (grace.max(0.0) * length as f64).round() as i64;
    let reporting_from = date_start_millis(indicator.baseline.date, tz);
    let mut out = Vec::new();
    match step {
        CalendarStep::Fixed(len) => {
            let len = len.max(60_000);
            let Some(day) = local_date(from.max(reporting_from), tz) else {
                return out;
            };
            let midnight = date_start_millis(day, tz);
            let mut start = midnight + (from.max(reporting_from) - midnight) / len * len;
            // At most a year of minute periods: a bound on the work, far beyond any report.
            let cap = 600_000;
            while out.len() < cap {
                let end = start + len;
                if end > to {
                    break;
                }
                if end > from && start >= reporting_from {
                    out.push(Period {
                        start,
                        end,
                        deadline: end + grace_ms,
                    });
                }
                start = end;
            }
        }
        _ => {
            let (Some(first), Some(last)) =
                (local_date(from.max(reporting_from), tz), local_date(to, tz))
            else {
                return out;
            };
            let anchor = period_anchor(first, step, indicator.baseline.date);
            let mut n = 0u32;
            while let (Some(s), Some(e)) =
                (add_steps(anchor, step, n), add_steps(anchor, step, n + 1))
            {
                if s > last {
                    break;
                }
                let (start, end) = (date_start_millis(s, tz), date_start_millis(e, tz));
                if end > to {
                    break;
                }
                if end > from && start >= reporting_from {
                    out.push(Period {
                        start,
                        end,
                        deadline: end + grace_ms,
                    });
                }
                n += 1;
                if n > 100_000 {
                    break;
                }
            }
        }
    }
    out
}

/// The latest reporting period of `indicator` whose deadline has passed at `now` and which has
/// no observation timed within it (`series` in time order), while the plan runs (periods that
/// start after the final target date are not asked for).
pub fn overdue_period(
    indicator: &Indicator,
    series: &[(Millis, f64)],
    now: Millis,
    grace: f64,
    tz: Tz,
) -> Option<Period> {
    let length = indicator.update_every.millis();
    let grace_ms = (grace.max(0.0) * length as f64) as i64;
    let from = now.saturating_sub(length.saturating_mul(3).saturating_add(grace_ms));
    let last = periods(indicator, from, now, grace, tz)
        .into_iter()
        .rfind(|p| p.deadline <= now)?;
    let plan_end = date_start_millis(indicator.final_target().date, tz);
    if last.start > plan_end {
        return None;
    }
    let i = series.partition_point(|(t, _)| *t < last.start);
    let has_value = series.get(i).is_some_and(|(t, _)| *t < last.end);
    (!has_value).then_some(last)
}

/// Judges a period from the first-received times of the observations timed within it
/// (`receipts`: (observation time, first received), sorted by time), at `now`.
pub fn judge(
    period: &Period,
    receipts: &[(Millis, Millis)],
    now: Millis,
) -> (PeriodState, Option<(Millis, Millis)>) {
    let from = receipts.partition_point(|(t, _)| *t < period.start);
    let within = receipts[from..].iter().take_while(|(t, _)| *t < period.end);
    // The earliest arrival decides: one value on time is enough.
    match within.min_by_key(|(_, received)| *received) {
        Some(&(t, received)) if received <= period.deadline => {
            (PeriodState::OnTime, Some((t, received)))
        }
        Some(&(t, received)) => (PeriodState::Late, Some((t, received))),
        None if now > period.deadline => (PeriodState::Missing, None),
        None => (PeriodState::Pending, None),
    }
}

/// A period that needs attention (late, missing or still pending).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodView {
    pub start: String,
    pub end: String,
    pub deadline: String,
    pub state: PeriodState,
    /// When the value for it first arrived, if it did.
    pub received: Option<String>,
}

/// One indicator's compliance over the asked period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndicatorCompliance {
    pub id: String,
    pub name: String,
    pub update_every: String,
    #[serde(flatten)]
    pub tally: Tally,
    pub on_time_percent: Option<f64>,
    /// The periods that were late, missed or are still pending (on-time ones are left out).
    pub attention: Vec<PeriodView>,
}

/// One department's compliance (an OPD), ranked among the others.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DepartmentCompliance {
    pub id: String,
    pub name: String,
    /// 1 for the best on-time percentage; departments with nothing due share the last rank.
    pub rank: u32,
    #[serde(flatten)]
    pub tally: Tally,
    pub on_time_percent: Option<f64>,
    /// Reminders by e-mail need an address in the masterplan (`[[department]] email`).
    pub email_configured: bool,
    pub indicators: Vec<IndicatorCompliance>,
}

/// Compliance of every department over [`from`, `to`), judged at `now`. `receipts(i)` gives
/// (observation time, first received) of indicator `i` over the periods' span.
pub fn report(
    plan: &crate::domain::Masterplan,
    from: Millis,
    to: Millis,
    now: Millis,
    grace: f64,
    tz: Tz,
    receipts: impl Fn(usize) -> Vec<(Millis, Millis)>,
) -> Vec<DepartmentCompliance> {
    let fmt = |t: Millis| crate::domain::format_instant(t, tz);
    let mut departments: Vec<DepartmentCompliance> = plan
        .departments
        .iter()
        .map(|d| DepartmentCompliance {
            id: d.id.to_string(),
            name: d.name.clone(),
            rank: 0,
            tally: Tally::default(),
            on_time_percent: None,
            email_configured: !d.emails.is_empty(),
            indicators: Vec::new(),
        })
        .collect();
    for (i, ind) in plan.indicators.iter().enumerate() {
        let list = periods(ind, from, to, grace, tz);
        if list.is_empty() {
            continue;
        }
        let got = receipts(i);
        let mut tally = Tally::default();
        let mut attention = Vec::new();
        for p in &list {
            let (state, hit) = judge(p, &got, now);
            tally.add(state);
            if state != PeriodState::OnTime {
                attention.push(PeriodView {
                    start: fmt(p.start),
                    end: fmt(p.end),
                    deadline: fmt(p.deadline),
                    state,
                    received: hit.map(|(_, r)| fmt(r)),
                });
            }
        }
        if let Some(d) = departments
            .iter_mut()
            .find(|d| d.id == ind.department.as_str())
        {
            d.tally.merge(&tally);
            d.indicators.push(IndicatorCompliance {
                id: ind.id.to_string(),
                name: ind.name.clone(),
                update_every: ind.update_every.to_string(),
                tally,
                on_time_percent: tally.on_time_percent(),
                attention,
            });
        }
    }
    for d in &mut departments {
        d.on_time_percent = d.tally.on_time_percent();
    }
    // Best first; more periods due wins a tie; nothing due goes last.
    departments.sort_by(|a, b| {
        let key =
            |d: &DepartmentCompliance| (d.on_time_percent.is_none(), d.on_time_percent.map(|p| -p));
        key(a)
            .partial_cmp(&key(b))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(b.tally.expected.cmp(&a.tally.expected))
            .then(a.id.cmp(&b.id))
    });
    let last = departments.len() as u32;
    let mut rank = 0;
    let mut previous: Option<Option<f64>> = None;
    for (k, d) in departments.iter_mut().enumerate() {
        if d.on_time_percent.is_none() {
            d.rank = last;
            continue;
        }
        if previous != Some(d.on_time_percent) {
            rank = k as u32 + 1;
            previous = Some(d.on_time_percent);
        }
        d.rank = rank;
    }
    departments
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Cadence, DepartmentId, Direction, IndicatorId, Kind, ProgramId, Target};

    const TZ: Tz = chrono_tz::Asia::Jakarta;
    const H: i64 = 3_600_000;

    fn day(s: &str) -> Millis {
        date_start_millis(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap(), TZ)
    }

    fn indicator(every: &str) -> Indicator {
        Indicator {
            id: IndicatorId::parse("a.b.c").unwrap(),
            program: ProgramId::parse("a.b").unwrap(),
            name: "A".into(),
            code: None,
            tier: None,
            pic: None,
            source: None,
            unit: "u".into(),
            department: DepartmentId::parse("d").unwrap(),
            direction: Direction::Increase,
            tolerance: 0.0,
            kind: Kind::Level,
            baseline: Target {
                date: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
                value: 0.0,
            },
            targets: vec![Target {
                date: NaiveDate::from_ymd_opt(2027, 12, 31).unwrap(),
                value: 10.0,
            }],
            update_every: Cadence::parse(every).unwrap(),
            weight: 1.0,
            min: None,
            max: None,
        }
    }

    #[test]
    fn monthly_periods_follow_the_calendar_with_their_grace() {
        let p = periods(
            &indicator("1mo"),
            day("2026-10-01"),
            day("2026-12-01"),
            0.5,
            TZ,
        );
        let starts: Vec<Millis> = p.iter().map(|p| p.start).collect();
        assert_eq!(starts, vec![day("2026-10-01"), day("2026-11-01")]);
        assert_eq!(p[1].end, day("2026-12-01"));
        assert_eq!(p[1].deadline, day("2026-12-01") + 15 * 24 * H);
    }

    #[test]
    fn quarters_weeks_and_days() {
        let q = periods(
            &indicator("3mo"),
            day("2026-01-01"),
            day("2027-01-01"),
            0.0,
            TZ,
        );
        let starts: Vec<Millis> = q.iter().map(|p| p.start).collect();
        assert_eq!(
            starts,
            vec![
                day("2026-01-01"),
                day("2026-04-01"),
                day("2026-07-01"),
                day("2026-10-01")
            ]
        );
        // 2026-11-02 is a Monday; a period that started before `from` but ends inside counts.
        let w = periods(
            &indicator("1w"),
            day("2026-11-04"),
            day("2026-11-16"),
            0.0,
            TZ,
        );
        let starts: Vec<Millis> = w.iter().map(|p| p.start).collect();
        assert_eq!(starts, vec![day("2026-11-02"), day("2026-11-09")]);
        let d = periods(
            &indicator("1d"),
            day("2026-11-01"),
            day("2026-11-04"),
            0.5,
            TZ,
        );
        assert_eq!(d.len(), 3);
        assert_eq!(d[0].deadline, day("2026-11-02") + 12 * H);
        // Nothing before the baseline date.
        let before = periods(
            &indicator("1d"),
            day("2024-12-30"),
            day("2025-01-02"),
            0.0,
            TZ,
        );
        assert_eq!(before.first().map(|p| p.start), Some(day("2025-01-01")));
    }

    #[test]
    fn the_latest_past_due_period_without_a_value_is_overdue() {
        let ind = indicator("1mo");
        // 20 December: November's value was due by 16 December.
        let now = day("2026-12-20");
        let p = overdue_period(&ind, &[(day("2026-10-05"), 1.0)], now, 0.5, TZ).unwrap();
        assert_eq!((p.start, p.end), (day("2026-11-01"), day("2026-12-01")));
        // A value for November: nothing is overdue; December is not due yet.
        assert_eq!(
            overdue_period(&ind, &[(day("2026-11-30"), 1.0)], now, 0.5, TZ),
            None
        );
        // 10 December: November is still within its grace.
        assert_eq!(
            overdue_period(&ind, &[], day("2026-12-10"), 0.5, TZ).map(|p| p.start),
            Some(day("2026-10-01"))
        );
        // After the plan's last target date nothing more is asked for.
        assert_eq!(overdue_period(&ind, &[], day("2029-06-01"), 0.5, TZ), None);
    }

    #[test]
    fn on_time_late_missing_and_pending() {
        let p = Period {
            start: day("2026-11-01"),
            end: day("2026-12-01"),
            deadline: day("2026-12-16"),
        };
        let now = day("2026-12-20");
        // Posted in time.
        let r = [(day("2026-11-30"), day("2026-12-05"))];
        assert_eq!(judge(&p, &r, now).0, PeriodState::OnTime);
        // Posted for November, but only in January: late, and it still counts for November.
        let r = [(day("2026-11-30"), day("2027-01-03"))];
        assert_eq!(judge(&p, &r, day("2027-01-04")).0, PeriodState::Late);
        // A value for October does not cover November.
        let r = [(day("2026-10-15"), day("2026-10-16"))];
        assert_eq!(judge(&p, &r, now).0, PeriodState::Missing);
        assert_eq!(judge(&p, &r, day("2026-12-10")).0, PeriodState::Pending);
        // The first arrival decides, whatever came later.
        let r = [
            (day("2026-11-10"), day("2027-02-01")),
            (day("2026-11-20"), day("2026-11-21")),
        ];
        assert_eq!(judge(&p, &r, now).0, PeriodState::OnTime);
        let mut t = Tally::default();
        for s in [
            PeriodState::OnTime,
            PeriodState::Late,
            PeriodState::Missing,
            PeriodState::Pending,
        ] {
            t.add(s);
        }
        assert_eq!((t.expected, t.pending), (3, 1));
        assert!((t.on_time_percent().unwrap() - 100.0 / 3.0).abs() < 1e-9);
        assert_eq!(Tally::default().on_time_percent(), None);
    }
}
