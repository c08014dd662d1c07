//! `Schedule`: a feed's cron schedule as people write it (crontab(5)), evaluated in the city's zone.
//!
//! The `cron` crate wants 6 or 7 fields with seconds first and counts day-of-week from 1 = Sunday.
//! People write 5-field crontab where 0 and 7 are Sunday and 1 is Monday. We accept 5 fields
//! (seconds = 0), 6 fields (seconds first) and the `@hourly`-style macros, always with crontab's
//! day-of-week meaning, and translate. As in crontab(5), when both day-of-month and day-of-week
//! are restricted a day matching either one fires.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::str::FromStr;

/// A validated cron schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    text: String,
    /// One schedule, or two whose union is crontab's "day-of-month OR day-of-week".
    parts: Vec<cron::Schedule>,
}

const DAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Schedule {
    /// Parses crontab text. Errors say what is wrong and how to write it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        let expanded = match trimmed {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let (sec, rest) = match fields.len() {
            5 => ("0", &fields[..]),
            6 => (fields[0], &fields[1..]),
            n => {
                return Err(format!(
                    "`{trimmed}` has {n} fields; write 5 crontab fields `minute hour day-of-month month day-of-week` (e.g. `*/5 * * * *`), or 6 with seconds first"
                ));
            }
        };
        let (min, hour, dom, month, dow) = (rest[0], rest[1], rest[2], rest[3], rest[4]);
        let dow = translate_day_of_week(dow).map_err(|e| format!("`{trimmed}`: {e}"))?;
        let build = |dom: &str, dow: &str| {
            let expr = format!("{sec} {min} {hour} {dom} {month} {dow}");
            cron::Schedule::from_str(&expr).map_err(|e| {
                format!(
                    "`{trimmed}` is not a valid cron schedule ({e}); write 5 crontab fields such as `0 7 * * 1-5` (07:00 Monday to Friday)"
                )
            })
        };
        let parts = if dom != "*" && dom != "?" && dow != "*" {
            vec![build(dom, "*")?, build("*", &dow)?]
        } else {
            vec![build(dom, &dow)?]
        };
        let schedule = Schedule {
            text: trimmed.to_string(),
            parts,
        };
        if schedule.next_after(Utc::now(), chrono_tz::UTC).is_none() {
            return Err(format!(
                "`{trimmed}` never fires; check the day-of-month and month fields (e.g. 31 in a 30-day month)"
            ));
        }
        Ok(schedule)
    }

    /// The text as configured.
    pub fn as_str(&self) -> &str {
        &self.text
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

/// Turns a crontab(5) day-of-week field into the `cron` crate's (1 = Sunday … 7 = Saturday).
fn translate_day_of_week(field: &str) -> Result<String, String> {
    if field == "*" || field == "?" {
        return Ok("*".to_string());
    }
    let mut days = [false; 7];
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: usize = s.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                    format!("the day-of-week step `{s}` must be a positive number")
                })?;
                (r, step)
            }
            None => (item, 1),
        };
        let (lo, hi) = if range == "*" {
            (0, 6)
        } else if let Some((a, b)) = range.split_once('-') {
            (day_number(a)?, day_number(b)?)
        } else {
            let d = day_number(range)?;
            if item.contains('/') { (d, 6) } else { (d, d) }
        };
        if lo > hi {
            return Err(format!(
                "the day-of-week range `{range}` goes backwards; write it from the earlier day, e.g. `1-5` for Monday to Friday"
            ));
        }
        let mut d = lo;
        while d <= hi {
            days[d % 7] = true;
            // A step beyond the week (e.g. `1/99999999999999999999`) ends the range.
            let Some(next) = d.checked_add(step) else {
                break;
            };
            d = next;
        }
    }
    if days.iter().all(|d| *d) {
        return Ok("*".to_string());
    }
    let list: Vec<String> = days
        .iter()
        .enumerate()
        .filter(|(_, on)| **on)
        .map(|(i, _)| (i + 1).to_string())
        .collect();
    Ok(list.join(","))
}

/// A crontab day: 0-7 (0 and 7 are Sunday) or a three-letter English name.
fn day_number(s: &str) -> Result<usize, String> {
    if let Ok(n) = s.parse::<usize>() {
        if n <= 7 {
            return Ok(n);
        }
    }
    let lower = s.to_ascii_lowercase();
    DAY_NAMES
        .iter()
        .position(|d| *d == lower)
        .ok_or_else(|| {
            format!("`{s}` is not a day of the week; use 0-7 (0 and 7 are Sunday, 1 is Monday) or sun, mon, …, sat")
        })
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
        for s in ["0 8 * * 0", "0 8 * * 7", "0 8 * * sun"] {
            let n = next(s, t).with_timezone(&chrono_tz::Asia::Jakarta);
            assert_eq!(n.weekday(), Weekday::Sun, "{s}");
        }
        // 1-5 is Monday to Friday: from Saturday the next is Monday.
        let n = next("30 6 * * 1-5", t).with_timezone(&chrono_tz::Asia::Jakarta);
        assert_eq!((n.weekday(), n.day()), (Weekday::Mon, 30));
        // 5-7 wraps to Sunday.
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
    fn day_of_month_or_day_of_week() {
        // crontab(5): "0 0 1 * 1" fires on the 1st and on every Monday.
        let t = Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap();
        let n = next("0 0 1 * 1", t).with_timezone(&chrono_tz::Asia::Jakarta);
        assert_eq!((n.weekday(), n.day()), (Weekday::Mon, 30));
        let n2 = Schedule::parse("0 0 1 * 1")
            .unwrap()
            .next_after(n.with_timezone(&Utc), chrono_tz::Asia::Jakarta)
            .unwrap()
            .with_timezone(&chrono_tz::Asia::Jakarta);
        assert_eq!(n2.day(), 1);
    }

    #[test]
    fn bad_schedules_explain_themselves() {
        assert!(
            Schedule::parse("* * *")
                .unwrap_err()
                .contains("5 crontab fields")
        );
        assert!(
            Schedule::parse("0 8 * * 9")
                .unwrap_err()
                .contains("day of the week")
        );
        assert!(Schedule::parse("61 * * * *").is_err());
        assert!(
            Schedule::parse("0 0 31 2 *")
                .unwrap_err()
                .contains("never fires")
        );
    }
}
