//! `Schedule`: a feed's cron schedule with crontab(5) meaning, evaluated in the city's zone.
//!
//! We parse and validate every field ourselves, with messages that name the field and its range,
//! and only then build the `cron` crate's expression from the values each field names (that crate
//! wants seconds first, counts day-of-week from 1 = Sunday, and ANDs the two day fields).
//!
//! What is accepted, as in Vixie cron: 5 fields `minute hour day-of-month month day-of-week`, or 6
//! with seconds first; in each field `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n` (and `a/n`
//! for `a` up to the field's end, as cronie reads it), lists `a,b-c`; month names `jan`…`dec` and
//! day names `sun`…`sat` (in ranges too); 0 and 7 are Sunday, 1 is Monday; the macros `@yearly`,
//! `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`. `?` in a day field means
//! `*`. A day-of-month or day-of-week field is unrestricted exactly when it begins with `*` (so
//! `*/2` is, `0-6` is not); when both are restricted a day matching either one fires.
//!
//! What must stay true: no text, however broken, panics; every error quotes (a bounded part of)
//! the schedule.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::str::FromStr;

/// A validated cron schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    text: String,
    /// The fire times in one canonical form: schedules that fire at the same instants (`0 8 * * 0`
    /// and `0 8 * * sun`) have the same key.
    canonical: String,
    /// The finest field (seconds in the 6-field form, minutes in the 5-field form and the macros)
    /// names exact instants: a number, list or range rather than `*` or `*/n`.
    exact: bool,
    /// One schedule, or two whose union is crontab's "day-of-month OR day-of-week".
    parts: Vec<cron::Schedule>,
}

const MONTH_NAMES: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const MACROS: [(&str, &str); 7] = [
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];
const FIELDS_HINT: &str = "write 5 crontab fields `minute hour day-of-month month day-of-week` (e.g. `*/5 * * * *`), or 6 with seconds first (e.g. `*/30 * * * * *`)";

/// One field of a crontab line.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Second => "second",
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
        }
    }

    /// The values a field may name (day-of-week: 0-7, 7 being Sunday again).
    fn range(self) -> (u64, u64) {
        match self {
            Field::Second | Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::DayOfWeek => (0, 7),
        }
    }

    /// Names and the value of the first one.
    fn names(self) -> Option<(&'static [&'static str], u64)> {
        match self {
            Field::Month => Some((&MONTH_NAMES, 1)),
            Field::DayOfWeek => Some((&DAY_NAMES, 0)),
            _ => None,
        }
    }

    fn hint(self) -> &'static str {
        match self {
            Field::Second => "write 0-59, e.g. `*/10` or `0,30`",
            Field::Minute => "write 0-59, e.g. `*/15` or `0,30`",
            Field::Hour => "write 0-23, e.g. `9-17` or `*/6`",
            Field::DayOfMonth => "write 1-31, e.g. `1,15`",
            Field::Month => "write 1-12 or jan, feb, …, dec, e.g. `jan-mar`",
            Field::DayOfWeek => {
                "write a day of the week as 0-7 (0 and 7 are Sunday, 1 is Monday) or sun, mon, …, sat, e.g. `1-5`"
            }
        }
    }

    fn is_day(self) -> bool {
        matches!(self, Field::DayOfMonth | Field::DayOfWeek)
    }
}

/// At most this much of a bad schedule is quoted back.
const QUOTE_CHARS: usize = 80;

fn quote(text: &str) -> String {
    if text.chars().count() <= QUOTE_CHARS {
        format!("`{text}`")
    } else {
        let head: String = text.chars().take(QUOTE_CHARS).collect();
        format!("`{head}…`")
    }
}

impl Schedule {
    /// Parses crontab text. Errors quote the schedule, name the field and say how to write it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        let q = quote(trimmed);
        let expanded = if trimmed.starts_with('@') {
            let lower = trimmed.to_ascii_lowercase();
            match MACROS.iter().find(|(m, _)| *m == lower) {
                Some((_, e)) => *e,
                None if lower == "@reboot" => {
                    return Err(format!(
                        "{q} is not a schedule pantau keeps; set `run_at_start = true` for a poll at start-up and give a schedule such as `@hourly`"
                    ));
                }
                None => {
                    let names: Vec<&str> = MACROS.iter().map(|(m, _)| *m).collect();
                    return Err(format!(
                        "{q} is not a schedule macro; use one of {}, or {FIELDS_HINT}",
                        names.join(", ")
                    ));
                }
            }
        } else {
            trimmed
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let (sec, rest) = match fields.len() {
            5 => ("0", &fields[..]),
            6 => (fields[0], &fields[1..]),
            0 => return Err(format!("the schedule {q} is empty; {FIELDS_HINT}")),
            7 => {
                return Err(format!(
                    "{q} has 7 fields; {FIELDS_HINT} (a year field is not supported)"
                ));
            }
            n => return Err(format!("{q} has {n} fields; {FIELDS_HINT}")),
        };
        let finest = if fields.len() == 6 { sec } else { rest[0] };
        let exact = !is_every(finest);
        let parsed = [
            (Field::Second, sec),
            (Field::Minute, rest[0]),
            (Field::Hour, rest[1]),
            (Field::DayOfMonth, rest[2]),
            (Field::Month, rest[3]),
            (Field::DayOfWeek, rest[4]),
        ]
        .map(|(field, text)| parse_field(field, text).map_err(|e| format!("{q}: {e}")));
        let [s, mi, h, dom, mo, dow] = parsed;
        let (s, mi, h, dom, mo, dow) = (s?, mi?, h?, dom?, mo?, dow?);
        // Day-of-week 7 is Sunday, as 0 is.
        let dow = (dow & 0x7f) | ((dow >> 7) & 1);
        let dom_star = starts_unrestricted(rest[2]);
        let dow_star = starts_unrestricted(rest[4]);
        let expr = |dom: &str, dow: &str| {
            format!(
                "{} {} {} {dom} {} {dow}",
                values(s, Field::Second),
                values(mi, Field::Minute),
                values(h, Field::Hour),
                values(mo, Field::Month)
            )
        };
        let (dom_v, dow_v) = (values(dom, Field::DayOfMonth), cron_days(dow));
        let expressions = if !dom_star && !dow_star {
            // Vixie cron: both restricted, a day matching either fires.
            vec![expr(&dom_v, "*"), expr("*", &dow_v)]
        } else {
            vec![expr(&dom_v, &dow_v)]
        };
        let mut parts = Vec::with_capacity(expressions.len());
        for e in &expressions {
            // Built from validated values only; a failure here is ours, not the user's.
            let part = cron::Schedule::from_str(e)
                .map_err(|_| format!("{q} cannot be evaluated; {FIELDS_HINT}"))?;
            parts.push(part);
        }
        let schedule = Schedule {
            text: trimmed.to_string(),
            canonical: expressions.join(" | "),
            exact,
            parts,
        };
        if schedule.next_after(Utc::now(), chrono_tz::UTC).is_none() {
            return Err(format!(
                "{q} never fires; check the day-of-month and month fields (e.g. 31 in a 30-day month)"
            ));
        }
        Ok(schedule)
    }

    /// The text as configured.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The schedule's fire times in canonical form: equal for schedules that fire at the same
    /// instants however they are written.
    pub fn canonical(&self) -> &str {
        &self.canonical
    }

    /// Whether the finest field names exact instants (a number, list or range in the seconds
    /// field of the 6-field form or the minute field of the 5-field form and the macros), rather
    /// than `*` or `*/n`. Such a schedule is never moved by the poller's spread.
    pub fn names_exact_instants(&self) -> bool {
        self.exact
    }

    /// The first fire time strictly after `t`, evaluated in zone `tz`.
    pub fn next_after(&self, t: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = t.with_timezone(&tz);
        self.parts
            .iter()
            .filter_map(|p| p.after(&local).next())
            .min()
            .map(|d| d.with_timezone(&Utc))
    }
}

/// `*` or `*/n`: a field that names no instant of its own.
fn is_every(field: &str) -> bool {
    field == "*"
        || field
            .strip_prefix("*/")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Vixie cron: a day field is unrestricted when it begins with `*` (`?` is read as `*`).
fn starts_unrestricted(field: &str) -> bool {
    field.starts_with('*') || field.starts_with('?')
}

/// The values of a field as a bit set (bit n = value n).
fn parse_field(field: Field, text: &str) -> Result<u64, String> {
    let (lo, hi) = field.range();
    let name = field.name();
    let mut bits = 0u64;
    for item in text.split(',') {
        if item.is_empty() {
            return Err(format!(
                "{name} `{}` has an empty item; separate values with single commas, e.g. `0,30`",
                bounded(text)
            ));
        }
        let (range, step) = match item.split_once('/') {
            None => (item, None),
            Some((r, s)) => (r, Some(parse_step(field, s)?)),
        };
        let (a, b) = if range == "*" || (range == "?" && field.is_day()) {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (value(field, a)?, value(field, b)?);
            if a > b {
                return Err(format!(
                    "{name} range `{}` goes backwards; write the smaller value first, e.g. `{b}-{a}`, or a list such as `5,6,0` for days that wrap around",
                    bounded(range)
                ));
            }
            (a, b)
        } else {
            let v = value(field, range)?;
            // `a/n` runs from `a` to the end of the field (cronie).
            if step.is_some() { (v, hi) } else { (v, v) }
        };
        let step = step.unwrap_or(1);
        let mut v = a;
        while v <= b {
            bits |= 1 << v;
            match v.checked_add(step) {
                Some(n) => v = n,
                None => break,
            }
        }
    }
    Ok(bits)
}

fn parse_step(field: Field, s: &str) -> Result<u64, String> {
    let name = field.name();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{name} step `/{}` is not a whole number; write a step such as `*/5`",
            bounded(s)
        ));
    }
    match s.parse::<u64>() {
        Ok(0) => Err(format!(
            "{name} step `/0` must be at least 1; write a step such as `*/5`"
        )),
        Ok(n) => Ok(n),
        // Larger than any field: only the start of the range.
        Err(_) => Ok(u64::MAX),
    }
}

/// One value: a number in the field's range, or a month or day name.
fn value(field: Field, s: &str) -> Result<u64, String> {
    let (lo, hi) = field.range();
    let name = field.name();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return match s.parse::<u64>() {
            Ok(n) if (lo..=hi).contains(&n) => Ok(n),
            _ => Err(format!(
                "{name} {} is out of range {lo}-{hi}; {}",
                bounded(s),
                field.hint()
            )),
        };
    }
    if let Some((names, first)) = field.names() {
        let lower = s.to_ascii_lowercase();
        if let Some(i) = names.iter().position(|n| *n == lower) {
            return Ok(first + i as u64);
        }
    }
    let what = match field {
        Field::Month => "a month",
        Field::DayOfWeek => "a day of the week",
        _ => "a number",
    };
    Err(format!(
        "{name} `{}` is not {what}; {}",
        bounded(s),
        field.hint()
    ))
}

/// A bounded part of user text for a message.
fn bounded(s: &str) -> String {
    if s.chars().count() <= 24 {
        s.to_string()
    } else {
        let head: String = s.chars().take(24).collect();
        format!("{head}…")
    }
}

/// The `cron` crate's text for a field's values: `*` when every value is named, else a list.
fn values(bits: u64, field: Field) -> String {
    let (lo, hi) = field.range();
    let all = (lo..=hi).fold(0u64, |b, v| b | 1 << v);
    if bits == all {
        return "*".to_string();
    }
    let list: Vec<String> = (lo..=hi)
        .filter(|v| bits & (1 << v) != 0)
        .map(|v| v.to_string())
        .collect();
    list.join(",")
}

/// Day-of-week bits (0 = Sunday … 6 = Saturday) in the `cron` crate's numbering (1 = Sunday).
fn cron_days(bits: u64) -> String {
    if bits & 0x7f == 0x7f {
        return "*".to_string();
    }
    let list: Vec<String> = (0..7u64)
        .filter(|d| bits & (1 << d) != 0)
        .map(|d| (d + 1).to_string())
        .collect();
    list.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone, Timelike, Weekday};

    fn next(text: &str, after: DateTime<Utc>) -> DateTime<Utc> {
        Schedule::parse(text)
            .unwrap()
            .next_after(after, chrono_tz::Asia::Jakarta)
            .unwrap()
    }

    #[test]
    fn five_fields_use_crontab_day_of_week() {
        // Saturday 2026-11-28 00:00 UTC = 07:00 WIB.
        let t = Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap();
        // "1" is Monday in crontab(5).
        let n = next("0 8 * * 1", t).with_timezone(&chrono_tz::Asia::Jakarta);
        assert_eq!(n.weekday(), Weekday::Mon);
        assert_eq!((n.hour(), n.minute()), (8, 0));
        // 0 and 7 are both Sunday.
        for s in ["0 8 * * 0", "0 8 * * 7", "0 8 * * sun", "0 8 * * SUN"] {
            let n = next(s, t).with_timezone(&chrono_tz::Asia::Jakarta);
            assert_eq!(n.weekday(), Weekday::Sun, "{s}");
        }
        // 1-5 is Monday to Friday: from Saturday the next is Monday.
        let n = next("30 6 * * 1-5", t).with_timezone(&chrono_tz::Asia::Jakarta);
        assert_eq!((n.weekday(), n.day()), (Weekday::Mon, 30));
        // 5-7 reaches Sunday.
        let n = next("0 6 * * 5-7", t).with_timezone(&chrono_tz::Asia::Jakarta);
        assert_eq!(n.weekday(), Weekday::Sun);
    }

    #[test]
    fn evaluated_in_city_zone() {
        let t = Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap();
        // 07:00 WIB is 00:00 UTC: "0 7 * * *" after 00:00 UTC on the 28th is the 29th 00:00 UTC.
        assert_eq!(
            next("0 7 * * *", t),
            Utc.with_ymd_and_hms(2026, 11, 29, 0, 0, 0).unwrap()
        );
    }

    #[test]
    fn six_fields_have_seconds_first() {
        let t = Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap();
        assert_eq!(next("*/15 * * * * *", t), t + chrono::Duration::seconds(15));
        assert_eq!(next("*/5 * * * *", t), t + chrono::Duration::minutes(5));
        assert_eq!(next("@hourly", t), t + chrono::Duration::hours(1));
    }

    #[test]
    fn same_instants_have_one_canonical_form() {
        let c = |t: &str| Schedule::parse(t).unwrap().canonical().to_string();
        assert_eq!(c("0 8 * * 0"), c("0 8 * * 7"));
        assert_eq!(c("0 8 * * 0"), c("0 8 * * Sun"));
        assert_eq!(c("*/5 * * * *"), c("0-59/5 * * * *"));
        assert_eq!(c("@daily"), c("0 0 * * *"));
        assert_eq!(c("0 0 * * *"), c("0 0 0 * * *"));
        assert_ne!(c("0 0 1 * 1"), c("0 0 1 * *"));
        // `*/1` and `0-6` name every day, but only `*/1` leaves the day unrestricted.
        assert_ne!(c("0 0 1 * */1"), c("0 0 1 * 0-6"));
    }

    #[test]
    fn exact_instants_are_the_finest_field_as_a_number_list_or_range() {
        let exact = |t: &str| Schedule::parse(t).unwrap().names_exact_instants();
        for t in [
            "7,37 * * * * *",
            "0 * * * * *",
            "0-30 * * * * *",
            "5 * * * *",
            "0,30 * * * *",
            "10-20/5 * * * *",
            "@hourly",
            "@daily",
        ] {
            assert!(exact(t), "{t}");
        }
        for t in ["* * * * *", "*/5 * * * *", "*/2 * * * * *", "* 5 * * * *"] {
            assert!(!exact(t), "{t}");
        }
    }

    #[test]
    fn bad_schedules_explain_themselves() {
        let e = |t: &str| Schedule::parse(t).unwrap_err();
        assert!(e("* * *").contains("5 crontab fields"));
        assert!(e("0 8 * * 9").contains("day of the week"));
        assert!(e("61 * * * *").contains("minute 61 is out of range 0-59"));
        assert!(e("0 0 31 2 *").contains("never fires"));
        assert!(e("@reboot").contains("run_at_start"));
        assert!(e("1,,2 * * * *").contains("empty item"));
        assert!(e("* * * * 1/x").contains("day-of-week step"));
        assert!(e("* * * foo *").contains("month `foo` is not a month"));
        // A long text is quoted in part only.
        let long = format!("{} * * * *", "1,".repeat(500));
        assert!(e(&long).len() < 400, "{}", e(&long));
    }

    #[test]
    fn huge_steps_name_only_the_start() {
        let t = Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap();
        // Monday only.
        let n = next("0 0 * * 1/18446744073709551615", t).with_timezone(&chrono_tz::Asia::Jakarta);
        assert_eq!(n.weekday(), Weekday::Mon);
        assert!(Schedule::parse("* * * * 1/99999999999999999999999").is_ok());
    }
}
