//! The one reader of times from outside, for posts (JSON, CSV, XLSX text and date cells),
//! `pantau import`, the series query and every feed format's time fields.
//!
//! `TimeFormat::Auto` reads: RFC 3339 (`2026-11-28T09:00:00+07:00`, also with a space for the
//! `T`); `YYYY-MM-DD` (a date: midnight at its start in the city's zone); `YYYY-MM-DD HH:MM[:SS]`
//! and `YYYY-MM-DDTHH:MM[:SS]` (city time); `DD/MM/YYYY` and `DD-MM-YYYY`, optionally followed by
//! `HH:MM[:SS]` or `HH.MM` (city time); `YYYY/MM/DD`; `YYYYMMDD`; a day, a month name and a year
//! in Indonesian or English (`28 November 2026`, `28 Nov 2026`, `28 Agu 2026`, `1 Mei 2026`,
//! `28-Des-2026`), optionally followed by a time; and digits only, 9 or more of them, as Unix
//! time (seconds below 1e11, milliseconds from there on). Feeds can say `unix`, `unix_ms` or a
//! chrono pattern instead. Years have four digits: `28/11/26` is refused, not read as year 26.
//!
//! What must stay true: instants outside 1900–2200 are refused (they are unit mistakes, such as
//! milliseconds read as seconds, or typos); a local time skipped by a DST change is read as the
//! same clock time an hour later, and an ambiguous one as the earlier instant.

use super::shorten;
use crate::domain::{Millis, date_start_millis};
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

/// How time values are written.
#[derive(Debug, Clone, PartialEq)]
pub enum TimeFormat {
    /// Every spelling the module documentation lists; numbers are Unix time, in seconds below
    /// 1e11 and in milliseconds from there on.
    Auto,
    /// Unix time in seconds.
    Unix,
    /// Unix time in milliseconds.
    UnixMillis,
    /// A chrono strftime pattern such as `%d/%m/%Y %H.%M`; with `%z` or `%:z` it carries an offset,
    /// otherwise it is local time in the city's zone.
    Pattern(String),
}

impl TimeFormat {
    /// What a time should look like in this format, for messages.
    pub fn expected(&self) -> String {
        match self {
            TimeFormat::Auto => "write times as RFC 3339 (2025-01-31T08:00:00+07:00), 2025-01-31, 2025-01-31 08:00:00, 31/01/2025, 31 Januari 2025 or Unix time between 1900 and 2200, or set `time_format` to the feed's pattern (e.g. \"%d-%m-%Y\")".into(),
            TimeFormat::Unix => "`time_format = \"unix\"` expects Unix time in seconds between 1900 and 2200".into(),
            TimeFormat::UnixMillis => "`time_format = \"unix_ms\"` expects Unix time in milliseconds between 1900 and 2200".into(),
            TimeFormat::Pattern(p) => format!("`time_format` expects the pattern `{p}` with a year between 1900 and 2200; fix the pattern to match the feed"),
        }
    }
}

/// A time read from outside: a calendar date (midnight at its start, in the city's zone) or an
/// instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeValue {
    Date(NaiveDate),
    Instant(Millis),
}

impl TimeValue {
    /// The instant: a date means midnight at its start in `tz`.
    pub fn instant(self, tz: Tz) -> Millis {
        match self {
            TimeValue::Date(d) => date_start_millis(d, tz),
            TimeValue::Instant(t) => t,
        }
    }

    /// The local calendar date in `tz`.
    pub fn local_date(self, tz: Tz) -> NaiveDate {
        match self {
            TimeValue::Date(d) => d,
            TimeValue::Instant(t) => crate::domain::local_date(t, tz).unwrap_or(NaiveDate::MIN),
        }
    }
}

/// Why a time cannot be read. Messages quote at most a few dozen characters of it.
#[derive(Debug, Clone, PartialEq)]
pub enum TimeError {
    Empty,
    /// No spelling of the format matches.
    NotATime(String),
    /// It reads, but lies outside 1900–2200.
    OutOfRange(String),
}

impl std::fmt::Display for TimeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TimeError::Empty => f.write_str("is empty"),
            TimeError::NotATime(t) => write!(f, "`{t}` is not a date or time pantau can read"),
            TimeError::OutOfRange(t) => write!(
                f,
                "`{t}` lies outside the years 1900 to 2200; check the year (four digits) or the unit of a Unix time"
            ),
        }
    }
}

impl std::error::Error for TimeError {}

/// Earliest instant accepted: 1900-01-01T00:00:00Z.
pub const EARLIEST: Millis = -2_208_988_800_000;
/// First instant refused: 2200-01-01T00:00:00Z.
pub const LATEST: Millis = 7_258_118_400_000;

/// How many characters of a time a message quotes.
const SHOWN: usize = 40;

/// Longest text read as a time.
const MAX_LEN: usize = 80;

fn in_range(t: Millis) -> Option<Millis> {
    (EARLIEST..LATEST).contains(&t).then_some(t)
}

fn date_in_range(d: NaiveDate) -> Option<TimeValue> {
    (1900..2200)
        .contains(&d.year())
        .then_some(TimeValue::Date(d))
}

/// Milliseconds from a Unix time in seconds (`millis` false) or milliseconds; None outside
/// 1900–2200 or when not finite.
pub fn epoch_millis(n: f64, millis: bool) -> Option<Millis> {
    let ms = if millis { n } else { n * 1000.0 };
    if !ms.is_finite() || ms < EARLIEST as f64 || ms >= LATEST as f64 {
        return None;
    }
    in_range(ms.round() as i64)
}

/// The instant of a local date-time in `tz` (an XLSX date cell, a time without an offset).
pub fn local(local: NaiveDateTime, tz: Tz) -> Result<Millis, TimeError> {
    local_instant(local, tz).ok_or_else(|| TimeError::OutOfRange(local.to_string()))
}

fn local_instant(local: NaiveDateTime, tz: Tz) -> Option<Millis> {
    let dt = match tz.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) => t,
        chrono::LocalResult::Ambiguous(earliest, _) => earliest,
        // A local time skipped by a DST change: read it as the same clock time an hour later.
        chrono::LocalResult::None => tz
            .from_local_datetime(&local.checked_add_signed(chrono::Duration::hours(1))?)
            .earliest()?,
    };
    in_range(dt.timestamp_millis())
}

const AUTO_DATETIMES: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H.%M",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y %H.%M",
];
const AUTO_DATES: &[&str] = &["%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%Y/%m/%d"];
const CLOCK: &[&str] = &["%H:%M:%S", "%H:%M", "%H.%M"];

/// Month names and abbreviations, Indonesian and English, lowercase.
const MONTHS: &[(&str, u32)] = &[
    ("januari", 1),
    ("january", 1),
    ("jan", 1),
    ("februari", 2),
    ("february", 2),
    ("pebruari", 2),
    ("feb", 2),
    ("peb", 2),
    ("maret", 3),
    ("march", 3),
    ("mar", 3),
    ("april", 4),
    ("apr", 4),
    ("mei", 5),
    ("may", 5),
    ("juni", 6),
    ("june", 6),
    ("jun", 6),
    ("juli", 7),
    ("july", 7),
    ("jul", 7),
    ("agustus", 8),
    ("august", 8),
    ("agu", 8),
    ("agt", 8),
    ("ags", 8),
    ("aug", 8),
    ("september", 9),
    ("sept", 9),
    ("sep", 9),
    ("oktober", 10),
    ("october", 10),
    ("okt", 10),
    ("oct", 10),
    ("november", 11),
    ("nopember", 11),
    ("nov", 11),
    ("nop", 11),
    ("desember", 12),
    ("december", 12),
    ("des", 12),
    ("dec", 12),
];

/// Reads a time written as text.
pub fn read_text(text: &str, format: &TimeFormat, tz: Tz) -> Result<TimeValue, TimeError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(TimeError::Empty);
    }
    let shown = || shorten(text, SHOWN).into_owned();
    if text.len() > MAX_LEN {
        return Err(TimeError::NotATime(shown()));
    }
    let found = match format {
        TimeFormat::Auto => auto(text, tz),
        TimeFormat::Unix | TimeFormat::UnixMillis => {
            match super::number::read(text, super::Decimal::Point) {
                Ok(n) => {
                    return read_number(n, format, tz).map_err(|_| TimeError::OutOfRange(shown()));
                }
                Err(_) => Found::No,
            }
        }
        TimeFormat::Pattern(pattern) => {
            if let Ok(dt) = DateTime::parse_from_str(text, pattern) {
                Found::Instant(in_range(dt.timestamp_millis()))
            } else if let Ok(local) = NaiveDateTime::parse_from_str(text, pattern) {
                Found::Instant(local_instant(local, tz))
            } else if let Ok(d) = NaiveDate::parse_from_str(text, pattern) {
                Found::Date(d)
            } else {
                Found::No
            }
        }
    };
    match found {
        Found::No => Err(TimeError::NotATime(shown())),
        Found::Instant(Some(t)) => Ok(TimeValue::Instant(t)),
        Found::Date(d) => date_in_range(d).ok_or_else(|| TimeError::OutOfRange(shown())),
        Found::Instant(None) => Err(TimeError::OutOfRange(shown())),
    }
}

/// What a spelling matched, before the range check.
enum Found {
    No,
    Date(NaiveDate),
    /// None: it reads, but out of range.
    Instant(Option<Millis>),
}

/// `YYYY-MM-DD` read without a pattern (the most common spelling, in every row of an import).
fn plain_date(text: &str) -> Option<Found> {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 10
        || b[4] != b'-'
        || b[7] != b'-'
        || !digits(0..4)
        || !digits(5..7)
        || !digits(8..10)
    {
        return None;
    }
    let (y, m, d) = (
        text[..4].parse().ok()?,
        text[5..7].parse().ok()?,
        text[8..].parse().ok()?,
    );
    Some(NaiveDate::from_ymd_opt(y, m, d).map_or(Found::No, Found::Date))
}

fn auto(text: &str, tz: Tz) -> Found {
    if let Some(found) = plain_date(text) {
        return found;
    }
    let digits = text.bytes().all(|b| b.is_ascii_digit());
    if digits && text.len() >= 9 {
        return match text.parse::<f64>() {
            Ok(n) => Found::Instant(epoch_millis(n, n.abs() >= 1e11)),
            Err(_) => Found::No,
        };
    }
    if digits && text.len() == 8 {
        return match NaiveDate::parse_from_str(text, "%Y%m%d") {
            Ok(d) => Found::Date(d),
            Err(_) => Found::No,
        };
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Found::Instant(in_range(dt.timestamp_millis()));
    }
    if let Ok(dt) = DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z") {
        return Found::Instant(in_range(dt.timestamp_millis()));
    }
    for pattern in AUTO_DATETIMES {
        if let Ok(local) = NaiveDateTime::parse_from_str(text, pattern) {
            return Found::Instant(local_instant(local, tz));
        }
    }
    for pattern in AUTO_DATES {
        if let Ok(d) = NaiveDate::parse_from_str(text, pattern) {
            return Found::Date(d);
        }
    }
    month_name(text, tz)
}

/// `28 November 2026`, `28 Agu 2026`, `28-Nov-2026`, `28 Nov. 2026 09:00`.
fn month_name(text: &str, tz: Tz) -> Found {
    let is_sep = |c: char| c.is_whitespace() || matches!(c, '-' | '/' | '.' | ',');
    let day_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let day = &text[..day_end];
    let rest = text[day_end..].trim_start_matches(is_sep);
    if day.is_empty() || day.len() > 2 || rest.len() == text.len() - day_end {
        return Found::No;
    }
    let month_end = rest
        .find(|c: char| !c.is_alphabetic())
        .unwrap_or(rest.len());
    let word = rest[..month_end].to_lowercase();
    let Some(&(_, month)) = MONTHS.iter().find(|(name, _)| *name == word) else {
        return Found::No;
    };
    let rest = rest[month_end..].trim_start_matches(is_sep);
    let year_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    if year_end != 4 {
        return Found::No;
    }
    let (Ok(year), Ok(day)) = (rest[..year_end].parse::<i32>(), day.parse::<u32>()) else {
        return Found::No;
    };
    let Some(date) = NaiveDate::from_ymd_opt(year, month, day) else {
        return Found::No;
    };
    let clock = rest[year_end..].trim_start_matches(|c: char| c.is_whitespace() || c == ',');
    if clock.is_empty() {
        return Found::Date(date);
    }
    if clock.len() == rest[year_end..].len() {
        return Found::No;
    }
    for pattern in CLOCK {
        if let Ok(t) = NaiveTime::parse_from_str(clock, pattern) {
            return Found::Instant(local_instant(date.and_time(t), tz));
        }
    }
    Found::No
}

/// Reads a time written as a number (JSON, CKAN): Unix time, or digits read by a pattern.
pub fn read_number(n: f64, format: &TimeFormat, tz: Tz) -> Result<TimeValue, TimeError> {
    let out_of_range = || TimeError::OutOfRange(n.to_string());
    match format {
        TimeFormat::Auto => epoch_millis(n, n.abs() >= 1e11)
            .map(TimeValue::Instant)
            .ok_or_else(out_of_range),
        TimeFormat::Unix => epoch_millis(n, false)
            .map(TimeValue::Instant)
            .ok_or_else(out_of_range),
        TimeFormat::UnixMillis => epoch_millis(n, true)
            .map(TimeValue::Instant)
            .ok_or_else(out_of_range),
        TimeFormat::Pattern(_) => {
            if n.fract() != 0.0 || !n.is_finite() || n.abs() > 1e15 {
                return Err(TimeError::NotATime(n.to_string()));
            }
            read_text(&format!("{}", n as i64), format, tz)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TZ: Tz = chrono_tz::Asia::Jakarta;

    fn d(y: i32, m: u32, dd: u32) -> TimeValue {
        TimeValue::Date(NaiveDate::from_ymd_opt(y, m, dd).unwrap())
    }

    fn auto(text: &str) -> Result<TimeValue, TimeError> {
        read_text(text, &TimeFormat::Auto, TZ)
    }

    #[test]
    fn every_default_shape() {
        assert_eq!(auto("2025-01-31"), Ok(d(2025, 1, 31)));
        assert_eq!(auto("31/01/2025"), Ok(d(2025, 1, 31)));
        assert_eq!(auto("31-01-2025"), Ok(d(2025, 1, 31)));
        assert_eq!(auto("2025/01/31"), Ok(d(2025, 1, 31)));
        assert_eq!(auto("20250131"), Ok(d(2025, 1, 31)));
        // 2025-01-31T01:00:00Z
        let instant = Ok(TimeValue::Instant(1_738_285_200_000));
        for text in [
            "2025-01-31T08:00:00+07:00",
            "2025-01-31 08:00:00+07:00",
            "2025-01-31T01:00:00Z",
            "2025-01-31 08:00:00",
            "2025-01-31T08:00:00",
            "2025-01-31 08:00",
            "31/01/2025 08:00",
            "31/01/2025 08:00:00",
            "31/01/2025 08.00",
            "31-01-2025 08:00",
            "31 Januari 2025 08:00",
            "31 Jan 2025 08.00",
            "1738285200",
            "1738285200000",
        ] {
            assert_eq!(auto(text), instant, "{text}");
        }
        assert_eq!(
            auto("yesterday"),
            Err(TimeError::NotATime("yesterday".into()))
        );
        assert!(matches!(auto("2025-02-30"), Err(TimeError::NotATime(_))));
        assert_eq!(auto("  "), Err(TimeError::Empty));
    }

    #[test]
    fn month_names_in_indonesian_and_english() {
        let cases = [
            ("28 November 2026", d(2026, 11, 28)),
            ("28 Nov 2026", d(2026, 11, 28)),
            ("28 nov. 2026", d(2026, 11, 28)),
            ("28-Nov-2026", d(2026, 11, 28)),
            ("28 Agu 2026", d(2026, 8, 28)),
            ("28 Agustus 2026", d(2026, 8, 28)),
            ("28 August 2026", d(2026, 8, 28)),
            ("1 Mei 2026", d(2026, 5, 1)),
            ("1 May 2026", d(2026, 5, 1)),
            ("5 Okt 2026", d(2026, 10, 5)),
            ("24 Des 2025", d(2025, 12, 24)),
            ("24 DESEMBER 2025", d(2025, 12, 24)),
            ("3 Januari 2026", d(2026, 1, 3)),
            ("17 Februari 2026", d(2026, 2, 17)),
            ("9 Maret 2026", d(2026, 3, 9)),
            ("9 Juni 2026", d(2026, 6, 9)),
            ("9 Juli 2026", d(2026, 7, 9)),
        ];
        for (text, want) in cases {
            assert_eq!(auto(text), Ok(want), "{text}");
        }
        for bad in [
            "31 Februari 2026",
            "28 Novembre 2026",
            "28 Nov 26",
            "Nov 2026",
            "28 Nov 2026 pagi",
            "123 Nov 2026",
        ] {
            assert!(auto(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unit_mistakes_and_two_digit_years_are_refused() {
        assert!(matches!(
            auto("1738285200000000"),
            Err(TimeError::OutOfRange(_))
        ));
        assert!(matches!(auto("1850-01-01"), Err(TimeError::OutOfRange(_))));
        assert!(matches!(auto("28/11/26"), Err(TimeError::OutOfRange(_))));
        assert!(read_number(f64::NAN, &TimeFormat::Auto, TZ).is_err());
        assert!(read_number(1e300, &TimeFormat::Unix, TZ).is_err());
        assert_eq!(
            read_text("1738285200", &TimeFormat::Unix, TZ),
            Ok(TimeValue::Instant(1_738_285_200_000))
        );
        assert_eq!(
            read_number(1_738_285_200_000.0, &TimeFormat::UnixMillis, TZ),
            Ok(TimeValue::Instant(1_738_285_200_000))
        );
        let e = auto("1850-01-01").unwrap_err().to_string();
        assert!(e.contains("1900 to 2200"), "{e}");
        let e = auto(&"x".repeat(10_000)).unwrap_err().to_string();
        assert!(e.len() < 120, "{e}");
    }

    #[test]
    fn patterns_and_their_numbers() {
        let pattern = TimeFormat::Pattern("%d.%m.%Y".into());
        assert_eq!(read_text("31.01.2025", &pattern, TZ), Ok(d(2025, 1, 31)));
        let ymd = TimeFormat::Pattern("%Y%m%d".into());
        assert_eq!(read_number(20250131.0, &ymd, TZ), Ok(d(2025, 1, 31)));
        let offset = TimeFormat::Pattern("%d/%m/%Y %H:%M %z".into());
        assert_eq!(
            read_text("31/01/2025 08:00 +0700", &offset, TZ),
            Ok(TimeValue::Instant(1_738_285_200_000))
        );
    }

    #[test]
    fn range_bounds_are_the_documented_instants() {
        let at = |y| {
            NaiveDate::from_ymd_opt(y, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_utc()
                .timestamp_millis()
        };
        assert_eq!(at(1900), EARLIEST);
        assert_eq!(at(2200), LATEST);
    }

    #[test]
    fn dst_gaps_move_an_hour_on() {
        let ny = chrono_tz::America::New_York;
        // 2025-03-09 02:30 does not exist in New York: read as 03:30 EDT (07:30Z).
        let t = read_text("2025-03-09 02:30", &TimeFormat::Auto, ny).unwrap();
        assert_eq!(
            t,
            TimeValue::Instant(
                DateTime::parse_from_rfc3339("2025-03-09T07:30:00Z")
                    .unwrap()
                    .timestamp_millis()
            )
        );
    }
}
