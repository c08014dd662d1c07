//! Numbers and dates as Indonesian readers expect them (`1.234,5`, "28 Nov 2026"), with English
//! available.

use crate::config::Locale;

/// Formats `x` with `decimals` digits: `1.234,5` (id) or `1,234.5` (en).
pub fn format_number(x: f64, decimals: usize, locale: Locale) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    let text = format!("{:.*}", decimals, x.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let (group, decimal) = match locale {
        Locale::Id => ('.', ','),
        Locale::En => (',', '.'),
    };
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(group);
        }
        grouped.push(c);
    }
    let sign = if x < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "-"
    } else {
        ""
    };
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}{decimal}{frac}")
    }
}

const MONTHS_ID: [&str; 12] = [
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A calendar date as people write it: `16 Desember 2026` (id) or `16 December 2026` (en).
pub fn format_date(date: chrono::NaiveDate, locale: Locale) -> String {
    use chrono::Datelike;
    let months = match locale {
        Locale::Id => &MONTHS_ID,
        Locale::En => &MONTHS_EN,
    };
    format!(
        "{} {} {}",
        date.day(),
        months[date.month0() as usize],
        date.year()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_both_languages() {
        let d = chrono::NaiveDate::from_ymd_opt(2026, 12, 16).unwrap();
        assert_eq!(format_date(d, Locale::Id), "16 Desember 2026");
        assert_eq!(format_date(d, Locale::En), "16 December 2026");
    }

    #[test]
    fn indonesian_and_english_numbers() {
        assert_eq!(format_number(1234.5, 1, Locale::Id), "1.234,5");
        assert_eq!(format_number(1234.5, 1, Locale::En), "1,234.5");
        assert_eq!(format_number(-1234567.0, 0, Locale::Id), "-1.234.567");
        assert_eq!(format_number(0.04, 1, Locale::Id), "0,0");
        assert_eq!(format_number(-0.04, 1, Locale::Id), "0,0");
        assert_eq!(format_number(999.0, 0, Locale::Id), "999");
    }
}
