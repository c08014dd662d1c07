//! Numbers and dates as Indonesian readers expect them (`1.234,5`, "28 Nov 2026"), with English
//! available.

/// A count with its noun as people write it: "1 row" / "2 rows" in English, "1 baris" /
/// "2 baris" in Bahasa Indonesia (which marks no plural, so `id` is the one noun).
pub fn count(lang: Locale, n: usize, one: &str, many: &str, id: &str) -> String {
    match lang {
        Locale::En if n == 1 => format!("1 {one}"),
        Locale::En => format!("{n} {many}"),
        Locale::Id => format!("{n} {id}"),
    }
}

/// `count` in English, the command line's language: "1 program", "3 programs".
pub fn count_en(n: usize, one: &str, many: &str) -> String {
    count(Locale::En, n, one, many, one)
}

/// The language of screens and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    /// Bahasa Indonesia (the default).
    Id,
    En,
}

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

/// A number as people say it when it is large: `295,1 miliar`, `1,2 juta`, `12,3 ribu`,
/// `1,5 triliun` (`billion`, `million`, `thousand`, `trillion` in English); below 10.000 in full,
/// with at most two decimals. The pages do the same in `dashboards/js/format.js` (`shortNum`).
pub fn short_number(x: f64, locale: Locale) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    let words: [(f64, &str, &str); 4] = [
        (1e12, "triliun", "trillion"),
        (1e9, "miliar", "billion"),
        (1e6, "juta", "million"),
        (1e4, "ribu", "thousand"),
    ];
    for (at, id, en) in words {
        if x.abs() >= at {
            let divisor = if at == 1e4 { 1e3 } else { at };
            let scaled = x / divisor;
            let word = match locale {
                Locale::Id => id,
                Locale::En => en,
            };
            return format!("{} {word}", trimmed(scaled, 1, locale));
        }
    }
    let decimals = if x.abs() >= 1000.0 {
        0
    } else if x.abs() >= 100.0 {
        1
    } else {
        2
    };
    trimmed(x, decimals, locale)
}

/// `format_number` without trailing zeros after the decimal separator.
fn trimmed(x: f64, decimals: usize, locale: Locale) -> String {
    let text = format_number(x, decimals, locale);
    let sep = match locale {
        Locale::Id => ',',
        Locale::En => '.',
    };
    if text.contains(sep) {
        text.trim_end_matches('0').trim_end_matches(sep).to_string()
    } else {
        text
    }
}

/// A value with its unit for a terminal: `5,12 %`, `Rp 295,1 miliar`, `1,2 juta orang`.
pub fn format_value(x: f64, unit: &str, locale: Locale) -> String {
    let n = short_number(x, locale);
    match unit.trim() {
        "persen" | "%" | "percent" => format!("{n} %"),
        "Rp" | "rupiah" | "Rupiah" | "IDR" => format!("Rp {n}"),
        "" => n,
        u => format!("{n} {u}"),
    }
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
    fn large_numbers_as_people_say_them() {
        assert_eq!(short_number(295_096_098_000.0, Locale::Id), "295,1 miliar");
        assert_eq!(short_number(1_234_000.0, Locale::Id), "1,2 juta");
        assert_eq!(short_number(12_345.0, Locale::Id), "12,3 ribu");
        assert_eq!(short_number(1.5e12, Locale::Id), "1,5 triliun");
        assert_eq!(short_number(461_000.0, Locale::Id), "461 ribu");
        assert_eq!(short_number(9_999.0, Locale::Id), "9.999");
        assert_eq!(short_number(5.12, Locale::Id), "5,12");
        assert_eq!(short_number(5.10, Locale::Id), "5,1");
        assert_eq!(short_number(1_234_000.0, Locale::En), "1.2 million");
        assert_eq!(format_value(97.5, "persen", Locale::Id), "97,5 %");
        assert_eq!(
            format_value(615_000_000_000.0, "Rp", Locale::Id),
            "Rp 615 miliar"
        );
        assert_eq!(format_value(153.0, "unit", Locale::Id), "153 unit");
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
