//! `Cadence`: how often an indicator is expected to be updated (`12h`, `1d`, `1w`, `1mo`, `3mo`, `1y`).
//!
//! Months count as 30 days and years as 365 days: staleness is a warning light, not a calendar.

use serde::{Serialize, Serializer};
use std::fmt;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// An expected update interval, parsed from text such as `1d` or `3mo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    count: u32,
    unit: CadenceUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CadenceUnit {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

/// How a cadence steps through the calendar, for reporting periods: minutes and hours are fixed
/// lengths from midnight; days and weeks (from Monday) count local days; months and years follow
/// the calendar in the city's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalendarStep {
    Fixed(i64),
    Days(u32),
    Weeks(u32),
    Months(u32),
    Years(u32),
}

impl Cadence {
    /// The calendar step of this cadence.
    pub fn calendar(&self) -> CalendarStep {
        match self.unit {
            CadenceUnit::Minute => CalendarStep::Fixed(i64::from(self.count) * 60_000),
            CadenceUnit::Hour => CalendarStep::Fixed(i64::from(self.count) * HOUR),
            CadenceUnit::Day => CalendarStep::Days(self.count),
            CadenceUnit::Week => CalendarStep::Weeks(self.count),
            CadenceUnit::Month => CalendarStep::Months(self.count),
            CadenceUnit::Year => CalendarStep::Years(self.count),
        }
    }

    /// Parses `<count><unit>` with unit `m` (minutes), `h`, `d`, `w`, `mo`, `y`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (digits, unit) = s.split_at(split);
        let fix = "write a count and a unit, e.g. `30m`, `12h`, `1d`, `1w`, `1mo`, `3mo` or `1y`";
        let count: u32 = digits
            .parse()
            .map_err(|_| format!("`{s}` does not start with a number; {fix}"))?;
        if count == 0 || count > 10_000 {
            return Err(format!("`{s}` must be between 1 and 10000 units; {fix}"));
        }
        let unit = match unit {
            "m" | "min" => CadenceUnit::Minute,
            "h" => CadenceUnit::Hour,
            "d" => CadenceUnit::Day,
            "w" => CadenceUnit::Week,
            "mo" => CadenceUnit::Month,
            "y" => CadenceUnit::Year,
            other => return Err(format!("`{other}` in `{s}` is not a known unit; {fix}")),
        };
        Ok(Cadence { count, unit })
    }

    /// The interval in milliseconds.
    pub fn millis(&self) -> i64 {
        let unit = match self.unit {
            CadenceUnit::Minute => 60_000,
            CadenceUnit::Hour => HOUR,
            CadenceUnit::Day => DAY,
            CadenceUnit::Week => 7 * DAY,
            CadenceUnit::Month => 30 * DAY,
            CadenceUnit::Year => 365 * DAY,
        };
        i64::from(self.count) * unit
    }
}

impl fmt::Display for Cadence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.unit {
            CadenceUnit::Minute => "m",
            CadenceUnit::Hour => "h",
            CadenceUnit::Day => "d",
            CadenceUnit::Week => "w",
            CadenceUnit::Month => "mo",
            CadenceUnit::Year => "y",
        };
        write!(f, "{}{}", self.count, unit)
    }
}

impl Serialize for Cadence {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(Cadence::parse("1d").unwrap().millis(), DAY);
        assert_eq!(Cadence::parse("3mo").unwrap().millis(), 90 * DAY);
        assert_eq!(Cadence::parse("12h").unwrap().millis(), 12 * HOUR);
        assert_eq!(Cadence::parse("1y").unwrap().to_string(), "1y");
    }

    #[test]
    fn rejects_nonsense() {
        assert!(Cadence::parse("d").is_err());
        assert!(Cadence::parse("0d").is_err());
        assert!(Cadence::parse("5 days").unwrap_err().contains("unit"));
    }
}
