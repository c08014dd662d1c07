//! Text cells that pantau writes into a CSV or XLSX file, made safe to open in a spreadsheet
//! program: every writer of exports calls `neutralise` for each text cell.
//!
//! Following OWASP's advice on CSV injection: a cell that starts with `=`, `+`, `-`, `@` (or
//! their full-width forms), a tab or a carriage return would run as a formula in Excel or
//! LibreOffice, so it gets a leading `'`; control characters other than the line feed are
//! removed. Real numbers are written as numbers and never pass through here.

use std::borrow::Cow;

/// Characters that make a spreadsheet read a cell as a formula when they come first.
fn starts_formula(c: char) -> bool {
    matches!(
        c,
        '=' | '+' | '-' | '@' | '\t' | '\r' | '\u{ff1d}' | '\u{ff0b}' | '\u{ff0d}' | '\u{ff20}'
    )
}

/// The text of a cell, safe to open in a spreadsheet: control characters (except `\n`) removed,
/// and a `'` in front when it would start a formula.
pub fn neutralise(text: &str) -> Cow<'_, str> {
    let control = |c: char| c.is_control() && c != '\n';
    let risky = text.starts_with(starts_formula)
        || text
            .chars()
            .find(|c| !control(*c))
            .is_some_and(starts_formula);
    if !risky && !text.chars().any(control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 1);
    if risky {
        out.push('\'');
    }
    out.extend(text.chars().filter(|c| !control(*c)));
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_quoted_and_controls_removed() {
        for (text, want) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1+2", "'+1+2"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'=1"),
            ("\r=1", "'=1"),
            ("\u{0}=1", "'=1"),
            ("＝1", "'＝1"),
            ("a\u{7}b\r\nc", "ab\nc"),
            ("stunting turun", "stunting turun"),
            ("living.health.stunting", "living.health.stunting"),
            ("2026-11-28T00:00:00+07:00", "2026-11-28T00:00:00+07:00"),
            ("", ""),
        ] {
            assert_eq!(neutralise(text), want, "{text:?}");
        }
    }
}
