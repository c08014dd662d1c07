//! Department updates: parsing posted rows (JSON, CSV, XLSX), validating them against the
//! masterplan, and the errors a department sees.
//!
//! Every source of observations (posts, uploads, `pantau import`, feeds) goes through
//! `validate`, so one rule set decides what may be stored. A batch is all or nothing: any bad
//! row rejects the whole batch with every bad row listed.

pub mod parse;

use crate::domain::{DepartmentId, Masterplan, Millis, Observation, date_start_millis};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::HashSet;

/// How far in the future an observation's time may be (clock skew between machines).
pub const FUTURE_LEEWAY_MS: Millis = 10 * 60 * 1000;

/// One row as sent, before validation.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRow {
    /// Row number for JSON (1-based), line number for CSV, sheet row for XLSX.
    pub line: usize,
    pub indicator: Option<String>,
    pub time: Option<RawTime>,
    pub value: Option<RawValue>,
    pub note: Option<String>,
}

/// A time as sent: text, or an already-decoded spreadsheet date-time (local to the city).
#[derive(Debug, Clone, PartialEq)]
pub enum RawTime {
    Text(String),
    Local(NaiveDateTime),
    /// An instant already decoded (feeds).
    Instant(Millis),
}

/// A value as sent: a JSON number or a spreadsheet number, or text to parse.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    Number(f64),
    /// Text; `decimal_comma` says whether `,` is the decimal separator (Indonesian locale).
    Text {
        text: String,
        decimal_comma: bool,
    },
}

/// One problem with one row, as a department sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowError {
    /// Row (JSON), line (CSV) or sheet row (XLSX) number, 1-based.
    pub row: usize,
    pub field: String,
    pub reason: String,
    pub fix: String,
}

impl RowError {
    pub fn new(row: usize, field: &str, reason: impl Into<String>, fix: impl Into<String>) -> Self {
        RowError {
            row,
            field: field.to_string(),
            reason: reason.into(),
            fix: fix.into(),
        }
    }
}

/// Why a batch was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Rejection {
    /// Rows are for indicators the department does not own (HTTP 403).
    NotOwner(Vec<RowError>),
    /// Rows are invalid (HTTP 422).
    Invalid(Vec<RowError>),
}

/// Checks every row and turns the batch into observations, or lists every bad row.
/// `department` None means the admin (may write any indicator).
pub fn validate(
    plan: &Masterplan,
    tz: Tz,
    now: Millis,
    department: Option<&DepartmentId>,
    rows: Vec<RawRow>,
) -> Result<Vec<Observation>, Rejection> {
    let mut errors = Vec::new();
    let mut foreign = Vec::new();
    let mut seen: HashSet<(String, Millis)> = HashSet::new();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let n = row.line;
        let indicator = match row.indicator.as_deref().map(str::trim) {
            None | Some("") => {
                errors.push(RowError::new(
                    n,
                    "indicator",
                    "is missing",
                    "give the indicator id, e.g. `living.health.stunting`",
                ));
                None
            }
            Some(id) => match plan.indicator(id) {
                None => {
                    errors.push(RowError::new(
                        n,
                        "indicator",
                        format!("`{id}` is not an indicator of the masterplan"),
                        "check the id in GET /api/v1/masterplan",
                    ));
                    None
                }
                Some(ind) => {
                    if department.is_some_and(|d| *d != ind.department) {
                        foreign.push(RowError::new(
                            n,
                            "indicator",
                            format!("`{id}` belongs to department `{}`", ind.department),
                            "post only your own department's indicators, or ask that department to post it",
                        ));
                    }
                    Some(ind)
                }
            },
        };
        let time = match &row.time {
            None => {
                errors.push(RowError::new(n, "time", "is missing", "give the time as YYYY-MM-DD or RFC 3339, e.g. 2026-11-28 or 2026-11-28T09:00:00+07:00"));
                None
            }
            Some(t) => match parse_time(t, tz) {
                Ok(t) => Some(t),
                Err(reason) => {
                    errors.push(RowError::new(n, "time", reason, "write YYYY-MM-DD, `YYYY-MM-DD HH:MM` (city time) or RFC 3339, e.g. 2026-11-28T09:00:00+07:00"));
                    None
                }
            },
        };
        let value = match &row.value {
            None => {
                errors.push(RowError::new(
                    n,
                    "value",
                    "is missing",
                    "give a number, e.g. 12.5 (or 12,5 in an Indonesian CSV)",
                ));
                None
            }
            Some(v) => match parse_value(v) {
                Ok(v) => Some(v),
                Err(reason) => {
                    errors.push(RowError::new(
                        n,
                        "value",
                        reason,
                        "give a finite number, e.g. 1234.5, or 1.234,5 in an Indonesian CSV",
                    ));
                    None
                }
            },
        };
        let (Some(ind), Some(time), Some(value)) = (indicator, time, value) else {
            continue;
        };
        let mut ok = true;
        let baseline = date_start_millis(ind.baseline.date, tz);
        if time < baseline {
            errors.push(RowError::new(
                n,
                "time",
                format!(
                    "is before the indicator's baseline date {}",
                    ind.baseline.date
                ),
                "observations start at the baseline date; check the year",
            ));
            ok = false;
        }
        if time > now + FUTURE_LEEWAY_MS {
            errors.push(RowError::new(
                n,
                "time",
                "is in the future",
                "send values when they are measured; check the date and the time zone",
            ));
            ok = false;
        }
        if let Some(min) = ind.min.filter(|m| value < *m) {
            errors.push(RowError::new(
                n,
                "value",
                format!("{value} is below this indicator's minimum {min}"),
                format!(
                    "check the unit ({}); values lie between {min} and {}",
                    ind.unit,
                    ind.max
                        .map_or("no upper bound".to_string(), |m| m.to_string())
                ),
            ));
            ok = false;
        }
        if let Some(max) = ind.max.filter(|m| value > *m) {
            errors.push(RowError::new(
                n,
                "value",
                format!("{value} is above this indicator's maximum {max}"),
                format!("check the unit ({}); the maximum is {max}", ind.unit),
            ));
            ok = false;
        }
        if !seen.insert((ind.id.to_string(), time)) {
            errors.push(RowError::new(
                n,
                "time",
                "the same indicator and time appear twice in this batch",
                "send each (indicator, time) once; remove the duplicate row",
            ));
            ok = false;
        }
        if let Some(note) = &row.note {
            if note.chars().count() > 2000 {
                errors.push(RowError::new(
                    n,
                    "note",
                    "is longer than 2000 characters",
                    "shorten the note",
                ));
                ok = false;
            }
        }
        if ok {
            out.push(Observation {
                indicator: ind.id.clone(),
                time,
                value,
                note: row.note.filter(|n| !n.trim().is_empty()),
            });
        }
    }
    if !foreign.is_empty() {
        return Err(Rejection::NotOwner(foreign));
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.row);
        return Err(Rejection::Invalid(errors));
    }
    Ok(out)
}

/// Parses an observation time: RFC 3339, `YYYY-MM-DD` (midnight in the city's zone) or
/// `YYYY-MM-DD HH:MM[:SS]` / `DD/MM/YYYY` (city time).
pub fn parse_time(t: &RawTime, tz: Tz) -> Result<Millis, String> {
    let local = match t {
        RawTime::Instant(ms) => return Ok(*ms),
        RawTime::Local(dt) => *dt,
        RawTime::Text(text) => {
            let s = text.trim();
            if s.is_empty() {
                return Err("is empty".into());
            }
            if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
                return Ok(dt.timestamp_millis());
            }
            let parsed = NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default())
                .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S"))
                .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M"))
                .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
                .or_else(|_| {
                    NaiveDate::parse_from_str(s, "%d/%m/%Y")
                        .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default())
                });
            match parsed {
                Ok(dt) => dt,
                Err(_) => return Err(format!("`{}` is not a date or time", truncate(s, 40))),
            }
        }
    };
    tz.from_local_datetime(&local)
        .earliest()
        .map(|d| d.timestamp_millis())
        .ok_or_else(|| format!("{local} does not exist in the city's time zone"))
}

/// Parses a value; text may use Indonesian separators (`1.234,5`) when `decimal_comma`.
pub fn parse_value(v: &RawValue) -> Result<f64, String> {
    let n = match v {
        RawValue::Number(n) => *n,
        RawValue::Text {
            text,
            decimal_comma,
        } => parse_number(text, *decimal_comma)?,
    };
    if n.is_finite() {
        Ok(n)
    } else {
        Err("is not a finite number (NaN and infinity are not values)".into())
    }
}

/// Parses a number written with `.`/`,` separators. With `decimal_comma` (Indonesian Excel):
/// `.` groups thousands and `,` is the decimal mark; otherwise the reverse.
pub fn parse_number(text: &str, decimal_comma: bool) -> Result<f64, String> {
    let s: String = text
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}')
        .collect();
    if s.is_empty() {
        return Err("is empty".into());
    }
    let (group, decimal) = if decimal_comma {
        ('.', ',')
    } else {
        (',', '.')
    };
    // A group mark must separate thousands (`1,234`, `1.234.567`): `7,9` in JSON or `7.9` in an
    // Indonesian CSV is a decimal in the other locale, and reading it as 79 would store a value
    // ten times off without a word.
    if s.contains(group) {
        let int = s.split(decimal).next().unwrap_or("");
        let int = int.strip_prefix(['-', '+']).unwrap_or(int);
        let mut groups = int.split(group);
        let first = groups.next().unwrap_or("");
        let thousands = (1..=3).contains(&first.len()) && groups.all(|g| g.len() == 3);
        let after = s.split_once(decimal).map_or("", |(_, f)| f);
        if !thousands || after.contains(group) {
            let example = if decimal_comma { "1.234,5" } else { "1,234.5" };
            return Err(format!(
                "`{}` is not a number: `{group}` separates thousands here and `{decimal}` decimals, as in {example}",
                truncate(text.trim(), 40)
            ));
        }
    }
    let plain: String = s
        .chars()
        .filter(|c| *c != group)
        .map(|c| if c == decimal { '.' } else { c })
        .collect();
    let ok_chars = plain
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'));
    match plain.parse::<f64>() {
        Ok(n) if ok_chars => Ok(n),
        _ => Err(format!("`{}` is not a number", truncate(text.trim(), 40))),
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_both_locales() {
        assert_eq!(parse_number("1.234,5", true), Ok(1234.5));
        assert_eq!(parse_number("12,5", true), Ok(12.5));
        assert_eq!(parse_number("1,234.5", false), Ok(1234.5));
        assert_eq!(parse_number(" -3 ", false), Ok(-3.0));
        assert!(parse_number("12abc", false).is_err());
        assert!(parse_number("inf", false).is_err());
        assert!(parse_value(&RawValue::Number(f64::NAN)).is_err());
        assert_eq!(parse_number("2.000", true), Ok(2000.0));
        assert_eq!(parse_number("-1.234.567", true), Ok(-1_234_567.0));
        // A decimal in the other locale is refused, not read ten times too large.
        assert!(parse_number("7,9", false).unwrap_err().contains("decimals"));
        assert!(parse_number("7.9", true).is_err());
        assert!(parse_number("1,2345", false).is_err());
        assert!(parse_number("1.5,3", false).is_err());
    }

    #[test]
    fn times_in_city_zone() {
        let tz = chrono_tz::Asia::Jakarta;
        let d = parse_time(&RawTime::Text("2026-11-28".into()), tz).unwrap();
        assert_eq!(
            d,
            DateTime::parse_from_rfc3339("2026-11-27T17:00:00Z")
                .unwrap()
                .timestamp_millis()
        );
        let t = parse_time(&RawTime::Text("2026-11-28T09:00:00+07:00".into()), tz).unwrap();
        assert_eq!(t - d, 9 * 3_600_000);
        let l = parse_time(&RawTime::Text("2026-11-28 09:00".into()), tz).unwrap();
        assert_eq!(l, t);
        assert!(parse_time(&RawTime::Text("28-11-2026x".into()), tz).is_err());
    }
}
