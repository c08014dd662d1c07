//! Text as the report's documents need it: HTML and CSS escaping, Indonesian dates and times
//! with the zone's label (WIB, WITA, WIT), and the city's name as a file-name part (spreadsheet
//! text goes through `values::neutralise`, as in every CSV and XLSX pantau writes).

use crate::domain::Millis;
use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;

/// Text for HTML element content and quoted attribute values: `& < > " '` escaped, control
/// characters other than tab and line feed removed.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Text inside a double-quoted CSS string (`content: "..."`): everything but letters, digits,
/// spaces and plain punctuation written as a CSS escape, so it can close neither the string nor
/// the `<style>` element.
pub fn css_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            continue;
        }
        if c.is_alphanumeric() || matches!(c, ' ' | '.' | ',' | '-' | '–' | '·' | '(' | ')' | ':')
        {
            out.push(c);
        } else {
            out.push_str(&format!("\\{:x} ", c as u32));
        }
    }
    out
}

const MONTHS: [&str; 12] = [
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

/// "2 Desember 2026".
pub fn long_date(d: NaiveDate) -> String {
    format!("{} {} {}", d.day(), MONTHS[d.month0() as usize], d.year())
}

/// "2 Desember 2026 06.33 WIB": an instant in the city's zone, as Indonesian documents write it.
pub fn date_time(t: Millis, tz: Tz) -> String {
    match DateTime::<Utc>::from_timestamp_millis(t) {
        Some(dt) => {
            let local = dt.with_timezone(&tz);
            format!(
                "{} {:02}.{:02} {}",
                long_date(local.date_naive()),
                local.hour(),
                local.minute(),
                zone_label(tz, t)
            )
        }
        None => "–".into(),
    }
}

/// WIB, WITA or WIT for Indonesia's zones; the zone's abbreviation elsewhere.
pub fn zone_label(tz: Tz, at: Millis) -> String {
    match tz.name() {
        "Asia/Jakarta" | "Asia/Pontianak" => "WIB".into(),
        "Asia/Makassar" | "Asia/Ujung_Pandang" => "WITA".into(),
        "Asia/Jayapura" => "WIT".into(),
        _ => DateTime::<Utc>::from_timestamp_millis(at)
            .map(|dt| dt.with_timezone(&tz).format("%Z").to_string())
            .unwrap_or_else(|| tz.name().to_string()),
    }
}

/// TW I … TW IV.
pub fn roman(quarter: u8) -> &'static str {
    match quarter {
        1 => "I",
        2 => "II",
        3 => "III",
        _ => "IV",
    }
}

/// A name as part of a file name: lowercase ASCII letters and digits joined by `-`
/// ("Kota Mojokerto" -> "kota-mojokerto"); `kota` when nothing is left.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= 60 {
            break;
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() { "kota".into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_and_css_are_escaped() {
        assert_eq!(
            html("<script>alert('x')</script> & \"q\"\u{0}"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        let css = css_string("Kota \"X\" </style><script>\\");
        assert!(!css.contains('"') && !css.contains('<'), "{css}");
        assert!(!css.contains("</style"), "{css}");
        assert!(
            css.starts_with("Kota \\22 X\\22  \\3c \\2f style\\3e "),
            "{css}"
        );
    }

    #[test]
    fn dates_and_names() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        assert_eq!(long_date(d), "2 Desember 2026");
        let t = crate::domain::date_start_millis(d, chrono_tz::Asia::Jakarta)
            + 6 * 3_600_000
            + 33 * 60_000;
        assert_eq!(
            date_time(t, chrono_tz::Asia::Jakarta),
            "2 Desember 2026 06.33 WIB"
        );
        assert_eq!(zone_label(chrono_tz::Asia::Jayapura, t), "WIT");
        assert_eq!(zone_label(chrono_tz::UTC, t), "UTC");
        assert_eq!(slug("Kota Mojokerto"), "kota-mojokerto");
        assert_eq!(slug("  Kab. Ṡleman / DIY "), "kab-leman-diy");
        assert_eq!(slug("../.."), "kota");
    }
}
