//! Department updates: parsing posted rows (JSON, CSV, XLSX), validating them against the
//! masterplan, and the errors a department sees.
//!
//! Every source of observations (posts, uploads, `pantau import`, feeds) goes through
//! `validate`, so one rule set decides what may be stored. A batch is all or nothing: any bad
//! row rejects the whole batch with every bad row listed. Numbers and times written as text are
//! read by `crate::values`, the one reader that feeds use too. Validation is linear in the rows
//! (indicators are looked up in an index built once per batch) and quotes no more than a few
//! dozen characters of any input in its messages.

pub mod parse;

use crate::domain::{DepartmentId, Indicator, Masterplan, Millis, Observation, date_start_millis};
use crate::values::{Decimal, NumberError, TimeFormat, echo, number, time};
use chrono::NaiveDateTime;
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// How far in the future an observation's time may be (clock skew between machines).
pub const FUTURE_LEEWAY_MS: Millis = 10 * 60 * 1000;

/// Longest note kept, in characters.
pub const MAX_NOTE_CHARS: usize = 2000;

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
    /// Text, read in the context of where it came from (a `;` CSV: `Decimal::Comma`; a JSON
    /// string, a `,` CSV field or an XLSX text cell: `Decimal::Text`).
    Text {
        text: String,
        decimal: Decimal,
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
    /// The problem's key in the message catalogue (`api::messages::ROW_TEXTS`), so that the
    /// answer can give `reason` and `fix` in the reader's language.
    #[serde(skip)]
    pub key: Option<RowKey>,
}

/// A row problem's stable key in the message catalogue and the values its texts name.
#[derive(Debug, Clone, PartialEq)]
pub struct RowKey {
    pub key: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl RowKey {
    pub fn new(key: &'static str) -> RowKey {
        RowKey {
            key,
            args: Vec::new(),
        }
    }

    pub fn arg(mut self, name: &'static str, value: impl ToString) -> RowKey {
        self.args.push((name, value.to_string()));
        self
    }
}

impl RowError {
    /// A problem with `field` of row `row`. The field name is shortened: it may come from input.
    pub fn new(row: usize, field: &str, reason: impl Into<String>, fix: impl Into<String>) -> Self {
        RowError {
            row,
            field: echo(field),
            reason: reason.into(),
            fix: fix.into(),
            key: None,
        }
    }

    /// The same problem with its catalogue key.
    pub fn keyed(mut self, key: RowKey) -> Self {
        self.key = Some(key);
        self
    }
}

/// A time as sent, shortened, for a message that names it.
fn raw_time_text(t: &RawTime) -> String {
    match t {
        RawTime::Text(text) => echo(text),
        RawTime::Local(local) => local.to_string(),
        RawTime::Instant(ms) => ms.to_string(),
    }
}

/// A value as sent, shortened, for a message that names it.
fn raw_value_text(v: &RawValue) -> String {
    match v {
        RawValue::Number(x) => x.to_string(),
        RawValue::Text { text, .. } => echo(text),
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
    // Indexed once per batch: a linear search per row made large imports quadratic.
    let index: HashMap<&str, (usize, &Indicator)> = plan
        .indicators
        .iter()
        .enumerate()
        .map(|(i, ind)| (ind.id.as_str(), (i, ind)))
        .collect();
    let mut errors = Vec::new();
    let mut foreign = Vec::new();
    let mut seen: HashSet<(usize, Millis)> = HashSet::with_capacity(rows.len());
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let n = row.line;
        let indicator = match row.indicator.as_deref().map(str::trim) {
            None | Some("") => {
                errors.push(
                    RowError::new(
                        n,
                        "indicator",
                        "is missing",
                        "give the indicator id, e.g. `living.health.stunting`",
                    )
                    .keyed(RowKey::new("indicator.missing")),
                );
                None
            }
            Some(id) => match index.get(id) {
                None => {
                    errors.push(
                        RowError::new(
                            n,
                            "indicator",
                            format!("`{}` is not an indicator of the masterplan", echo(id)),
                            "check the id in GET /api/v1/masterplan",
                        )
                        .keyed(RowKey::new("indicator.unknown").arg("id", echo(id))),
                    );
                    None
                }
                Some(&(i, ind)) => {
                    if department.is_some_and(|d| *d != ind.department) {
                        foreign.push(RowError::new(
                            n,
                            "indicator",
                            format!("`{id}` belongs to department `{}`", ind.department),
                            "post only your own department's indicators, or ask that department to post it",
                        ).keyed(RowKey::new("indicator.not_owned").arg("id", id).arg("department", &ind.department)));
                    }
                    Some((i, ind))
                }
            },
        };
        let time = match &row.time {
            None => {
                errors.push(RowError::new(n, "time", "is missing", "give the time as YYYY-MM-DD or RFC 3339, e.g. 2026-11-28 or 2026-11-28T09:00:00+07:00").keyed(RowKey::new("time.missing")));
                None
            }
            Some(t) => match parse_time(t, tz) {
                Ok(t) => Some(t),
                Err(reason) => {
                    errors.push(RowError::new(n, "time", reason, "write YYYY-MM-DD, `YYYY-MM-DD HH:MM` (city time), DD/MM/YYYY, 28 November 2026 or RFC 3339, e.g. 2026-11-28T09:00:00+07:00").keyed(RowKey::new("time.unreadable").arg("value", raw_time_text(t))));
                    None
                }
            },
        };
        let value = match &row.value {
            None => {
                errors.push(
                    RowError::new(
                        n,
                        "value",
                        "is missing",
                        "give a number, e.g. 12.5 (or 12,5 in an Indonesian CSV)",
                    )
                    .keyed(RowKey::new("value.missing")),
                );
                None
            }
            Some(v) => {
                match parse_value(v) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        let fix = match e {
                            NumberError::NotFinite => {
                                "give a finite number; leave the row out when there is no value"
                            }
                            _ => {
                                "give a number such as 1234.5 or 12,5; with a decimal comma group thousands with `.` (1.234,5)"
                            }
                        };
                        errors.push(RowError::new(n, "value", e.to_string(), fix).keyed(
                            RowKey::new("value.not_a_number").arg("value", raw_value_text(v)),
                        ));
                        None
                    }
                }
            }
        };
        let (Some((index, ind)), Some(time), Some(value)) = (indicator, time, value) else {
            continue;
        };
        let mut ok = true;
        let baseline = date_start_millis(ind.baseline.date, tz);
        if time < baseline {
            errors.push(
                RowError::new(
                    n,
                    "time",
                    format!(
                        "is before the indicator's baseline date {}",
                        ind.baseline.date
                    ),
                    "observations start at the baseline date; check the year",
                )
                .keyed(RowKey::new("time.before_baseline").arg("date", ind.baseline.date)),
            );
            ok = false;
        }
        if time > now + FUTURE_LEEWAY_MS {
            errors.push(
                RowError::new(
                    n,
                    "time",
                    "is in the future",
                    "send values when they are measured; check the date and the time zone",
                )
                .keyed(RowKey::new("time.future")),
            );
            ok = false;
        }
        if let Some(min) = ind.min.filter(|m| value < *m) {
            errors.push(
                RowError::new(
                    n,
                    "value",
                    format!("{value} is below this indicator's minimum {min}"),
                    format!(
                        "check the unit ({}); values lie between {min} and {}",
                        ind.unit,
                        ind.max
                            .map_or("no upper bound".to_string(), |m| m.to_string())
                    ),
                )
                .keyed(
                    RowKey::new("value.below_min")
                        .arg("value", value)
                        .arg("min", min)
                        .arg("max", ind.max.map_or("–".to_string(), |m| m.to_string()))
                        .arg("unit", &ind.unit),
                ),
            );
            ok = false;
        }
        if let Some(max) = ind.max.filter(|m| value > *m) {
            errors.push(
                RowError::new(
                    n,
                    "value",
                    format!("{value} is above this indicator's maximum {max}"),
                    format!("check the unit ({}); the maximum is {max}", ind.unit),
                )
                .keyed(
                    RowKey::new("value.above_max")
                        .arg("value", value)
                        .arg("max", max)
                        .arg("unit", &ind.unit),
                ),
            );
            ok = false;
        }
        if !seen.insert((index, time)) {
            errors.push(
                RowError::new(
                    n,
                    "time",
                    "the same indicator and time appear twice in this batch",
                    "send each (indicator, time) once; remove the duplicate row",
                )
                .keyed(RowKey::new("time.duplicate")),
            );
            ok = false;
        }
        if let Some(note) = &row.note {
            if note.chars().nth(MAX_NOTE_CHARS).is_some() {
                errors.push(
                    RowError::new(
                        n,
                        "note",
                        format!("is longer than {MAX_NOTE_CHARS} characters"),
                        "shorten the note",
                    )
                    .keyed(RowKey::new("note.too_long").arg("max", MAX_NOTE_CHARS)),
                );
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

/// Reads an observation time with the one time reader (`crate::values::time`, `Auto`): RFC
/// 3339, `YYYY-MM-DD` (midnight in the city's zone), `YYYY-MM-DD HH:MM[:SS]`, `DD/MM/YYYY`,
/// `DD-MM-YYYY`, `28 November 2026`, ... (city time).
pub fn parse_time(t: &RawTime, tz: Tz) -> Result<Millis, String> {
    match t {
        RawTime::Instant(ms) => Ok(*ms),
        RawTime::Local(dt) => time::local(*dt, tz).map_err(|e| e.to_string()),
        RawTime::Text(text) => time::read_text(text, &TimeFormat::Auto, tz)
            .map(|t| t.instant(tz))
            .map_err(|e| e.to_string()),
    }
}

/// Reads a value with the one number reader (`crate::values::number`).
pub fn parse_value(v: &RawValue) -> Result<f64, NumberError> {
    match v {
        RawValue::Number(n) => number::finite(*n),
        RawValue::Text { text, decimal } => number::read(text, *decimal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: &str, decimal: Decimal) -> RawValue {
        RawValue::Text {
            text: t.into(),
            decimal,
        }
    }

    #[test]
    fn values_go_through_the_one_reader() {
        assert_eq!(parse_value(&text("1.234,5", Decimal::Comma)), Ok(1234.5));
        assert_eq!(parse_value(&text("12.345", Decimal::Comma)), Ok(12345.0));
        assert_eq!(parse_value(&text("12,5", Decimal::Text)), Ok(12.5));
        assert_eq!(parse_value(&text("1,234.5", Decimal::Text)), Ok(1234.5));
        assert!(parse_value(&text("7.9", Decimal::Comma)).is_err());
        assert_eq!(
            parse_value(&RawValue::Number(f64::NAN)),
            Err(NumberError::NotFinite)
        );
    }

    #[test]
    fn times_in_city_zone() {
        let tz = chrono_tz::Asia::Jakarta;
        let d = parse_time(&RawTime::Text("2026-11-28".into()), tz).unwrap();
        assert_eq!(d, 1_795_798_800_000, "2026-11-27T17:00:00Z");
        let t = parse_time(&RawTime::Text("2026-11-28T09:00:00+07:00".into()), tz).unwrap();
        assert_eq!(t - d, 9 * 3_600_000);
        let l = parse_time(&RawTime::Text("2026-11-28 09:00".into()), tz).unwrap();
        assert_eq!(l, t);
        let m = parse_time(&RawTime::Text("28 November 2026".into()), tz).unwrap();
        assert_eq!(m, d);
        assert!(parse_time(&RawTime::Text("28-11-2026x".into()), tz).is_err());
    }
}
