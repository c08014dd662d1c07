//! The one reader of numbers written as text, for posts, uploads, imports and every feed format.
//!
//! Which mark is the decimal mark depends on the context (`Decimal`):
//!
//! - `Decimal::Comma` (a `;` CSV, `decimal_comma = true` in a feed mapping): `,` is the decimal
//!   mark and `.` groups thousands: `12,5` = 12.5, `1.234,5` = 1234.5, `12.345` = 12345,
//!   `1.000` = 1000.
//! - `Decimal::Point` (`decimal_comma = false` in a feed mapping): `.` is the decimal mark and
//!   `,` groups thousands: `12.5`, `1,234.5`.
//! - `Decimal::Text` (a text value without a stated locale: a JSON string, a `,` CSV field, an
//!   XLSX text cell): a value holding a comma is read as in `Comma` (`12,5` = 12.5,
//!   `1.234,5` = 1234.5), one without as in `Point` (`12.5`, and `1.000` = 1). A value that
//!   starts with `Rp` is written the Indonesian way and read as in `Comma`.
//!
//! Whatever the context, a spelling that can be read only one way is read that way: with both
//! marks the last one is the decimal mark (`1,234.5` = 1234.5 and `1.234,5` = 1234.5), and a
//! mark that appears more than once groups thousands (`1.234.567`, `1,234,567`). A group mark
//! must really separate groups of three digits after a first group of one to three: `7.9` in a
//! decimal-comma context is refused (it is not 79), and so are `0.500` there and `1,2,3`
//! anywhere. Spaces (also no-break and thin spaces) may group thousands (`1 234 567,5`).
//! `95%` and `95 %` read as 95 (the number of percent), `Rp 1.500.000` and `Rp 50.000,-` as
//! rupiah, `−12,5` (Unicode minus) as -12.5, and `1e6` as a million. `NaN`, `inf` and numbers
//! beyond the range of f64 are `NumberError::NotFinite`, which feeds skip and posts refuse.

use super::shorten;

/// Which mark separates the decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decimal {
    /// `,` marks decimals and `.` groups thousands (Indonesian: `1.234,5`).
    Comma,
    /// `.` marks decimals and `,` groups thousands (`1,234.5`).
    Point,
    /// The value decides: a comma (or a leading `Rp`) makes it `Comma`, otherwise `Point`.
    Text,
}

impl Decimal {
    /// `Comma` for true, `Point` for false, `Text` when not stated.
    pub fn from_setting(decimal_comma: Option<bool>) -> Decimal {
        match decimal_comma {
            Some(true) => Decimal::Comma,
            Some(false) => Decimal::Point,
            None => Decimal::Text,
        }
    }
}

/// Why a text is not a number. The message quotes at most a few dozen characters of it.
#[derive(Debug, Clone, PartialEq)]
pub enum NumberError {
    /// Nothing but spaces.
    Empty,
    /// `NaN`, `inf`, or beyond ±1.8e308.
    NotFinite,
    /// Not a number; `why` says what is wrong with it when that is known.
    NotANumber { text: String, why: Option<String> },
}

impl std::fmt::Display for NumberError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NumberError::Empty => f.write_str("is empty"),
            NumberError::NotFinite => {
                f.write_str("is not a finite number (NaN and infinity are not values)")
            }
            NumberError::NotANumber { text, why: None } => write!(f, "`{text}` is not a number"),
            NumberError::NotANumber {
                text,
                why: Some(why),
            } => write!(f, "`{text}` is not a number: {why}"),
        }
    }
}

impl std::error::Error for NumberError {}

/// Longest text read as a number; anything longer is refused before it is looked at.
const MAX_LEN: usize = 100;

/// How many characters of the text a message quotes.
const SHOWN: usize = 40;

fn not_a_number(text: &str, why: Option<String>) -> NumberError {
    NumberError::NotANumber {
        text: shorten(text, SHOWN).into_owned(),
        why,
    }
}

/// A number that arrived as a number (a JSON number, a spreadsheet number cell): only finite
/// values are values.
pub fn finite(n: f64) -> Result<f64, NumberError> {
    if n.is_finite() {
        Ok(n)
    } else {
        Err(NumberError::NotFinite)
    }
}

/// Reads a number written as text in the given context (see the module documentation).
pub fn read(text: &str, decimal: Decimal) -> Result<f64, NumberError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(NumberError::Empty);
    }
    if t.len() > MAX_LEN {
        return Err(not_a_number(
            t,
            Some(format!("it is longer than {MAX_LEN} characters")),
        ));
    }
    if is_not_finite_word(t) {
        return Err(NumberError::NotFinite);
    }
    if let Some(n) = plain(t, decimal) {
        return finite(n);
    }
    let mut rest = t;
    let mut negative = take_sign(&mut rest);
    let rupiah = take_rupiah(&mut rest);
    if rupiah && negative.is_none() {
        negative = take_sign(&mut rest);
    }
    if rupiah {
        // `Rp 50.000,-`: no cents.
        if let Some(r) = rest.strip_suffix(",-").or_else(|| rest.strip_suffix(".-")) {
            rest = r;
        }
    }
    if let Some(r) = rest.strip_suffix('%') {
        rest = r.trim_end();
    }
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        None => (rest, None),
        Some(i) => {
            let exp = &rest[i + 1..];
            let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(not_a_number(t, None));
            }
            (&rest[..i], Some(exp))
        }
    };
    let context = if rupiah && decimal == Decimal::Text {
        Decimal::Comma
    } else {
        decimal
    };
    let (int, frac) = split_mantissa(mantissa, context).map_err(|why| not_a_number(t, why))?;
    if int.is_empty() && frac.is_empty() {
        return Err(not_a_number(t, None));
    }
    let mut plain = String::with_capacity(int.len() + frac.len() + 8);
    if negative == Some(true) {
        plain.push('-');
    }
    plain.push_str(if int.is_empty() { "0" } else { &int });
    if !frac.is_empty() {
        plain.push('.');
        plain.push_str(frac);
    }
    if let Some(exp) = exponent {
        plain.push('e');
        plain.push_str(exp);
    }
    let n: f64 = plain.parse().map_err(|_| not_a_number(t, None))?;
    finite(n)
}

/// A number with nothing to decide (digits, an optional `-`, at most one `.` where `.` is not a
/// group mark), read straight away: the common case, in every row of an import.
fn plain(t: &str, decimal: Decimal) -> Option<f64> {
    let b = t.as_bytes();
    let body = b.strip_prefix(b"-").unwrap_or(b);
    let mut dots = 0;
    let mut digits = 0;
    for &c in body {
        match c {
            b'0'..=b'9' => digits += 1,
            b'.' => dots += 1,
            _ => return None,
        }
    }
    let ok = digits > 0 && (dots == 0 || (dots == 1 && decimal != Decimal::Comma));
    if ok { t.parse().ok() } else { None }
}

fn is_not_finite_word(t: &str) -> bool {
    let word = t.strip_prefix(['+', '-']).unwrap_or(t);
    ["nan", "inf", "infinity"]
        .iter()
        .any(|w| word.eq_ignore_ascii_case(w))
}

/// Takes a leading sign (`-`, `+` or the Unicode minus `−`): Some(true) for minus.
fn take_sign(rest: &mut &str) -> Option<bool> {
    let mut chars = rest.chars();
    let negative = match chars.next()? {
        '-' | '\u{2212}' => true,
        '+' => false,
        _ => return None,
    };
    *rest = chars.as_str().trim_start();
    Some(negative)
}

/// Takes a leading `Rp` (any case, optionally `Rp.`) and the spaces after it.
fn take_rupiah(rest: &mut &str) -> bool {
    let b = rest.as_bytes();
    if b.len() < 2 || !b[..2].eq_ignore_ascii_case(b"rp") {
        return false;
    }
    let mut r = &rest[2..];
    if r.starts_with(|c: char| c.is_alphabetic()) {
        return false;
    }
    r = r.strip_prefix('.').unwrap_or(r);
    *rest = r.trim_start();
    true
}

/// The mark between two runs of digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Dot,
    Comma,
    Space,
}

impl Mark {
    fn shown(self) -> &'static str {
        match self {
            Mark::Dot => "`.`",
            Mark::Comma => "`,`",
            Mark::Space => "a space",
        }
    }
}

/// Splits digits and marks into the integer digits and the fraction digits, checking that every
/// group mark separates thousands. Err(why) when it is not a number (why None: no detail).
fn split_mantissa(mantissa: &str, context: Decimal) -> Result<(String, &str), Option<String>> {
    // Runs of digits and the marks between them: runs.len() == marks.len() + 1.
    let mut runs: Vec<&str> = Vec::new();
    let mut marks: Vec<Mark> = Vec::new();
    let mut start = 0;
    for (i, c) in mantissa.char_indices() {
        let mark = match c {
            '0'..='9' => continue,
            '.' => Mark::Dot,
            ',' => Mark::Comma,
            c if c.is_whitespace() => Mark::Space,
            _ => return Err(None),
        };
        runs.push(&mantissa[start..i]);
        marks.push(mark);
        start = i + c.len_utf8();
    }
    runs.push(&mantissa[start..]);
    let last = runs.len() - 1;
    if runs
        .iter()
        .skip(1)
        .take(last.saturating_sub(1))
        .any(|r| r.is_empty())
    {
        return Err(Some("two marks follow each other".into()));
    }
    let count = |m: Mark| marks.iter().filter(|x| **x == m).count();
    let (dots, commas, spaces) = (count(Mark::Dot), count(Mark::Comma), count(Mark::Space));
    // Which mark is the decimal mark, and whether the context chose it.
    let (decimal, by_context) = if dots > 0 && commas > 0 {
        let last_dot = marks.iter().rposition(|m| *m == Mark::Dot);
        let last_comma = marks.iter().rposition(|m| *m == Mark::Comma);
        let d = if last_dot > last_comma {
            Mark::Dot
        } else {
            Mark::Comma
        };
        if count(d) > 1 {
            return Err(Some(format!(
                "it has {} more than once and also {}; write thousands and decimals as 1.234,5 or 1,234.5",
                d.shown(),
                other(d).shown()
            )));
        }
        (Some(d), false)
    } else if dots > 1 || commas > 1 {
        (None, false)
    } else if dots == 1 {
        match context {
            Decimal::Comma => (None, true),
            Decimal::Point | Decimal::Text => (Some(Mark::Dot), true),
        }
    } else if commas == 1 {
        match context {
            Decimal::Point => (None, true),
            Decimal::Comma | Decimal::Text => (Some(Mark::Comma), true),
        }
    } else {
        (None, false)
    };
    let at = decimal.and_then(|d| marks.iter().position(|m| *m == d));
    let group_marks = &marks[..at.unwrap_or(marks.len())];
    if at.is_some_and(|i| i + 1 < marks.len()) {
        return Err(Some(
            "thousands are grouped after the decimal mark; group only the whole part".into(),
        ));
    }
    let group = group_marks.first().copied();
    if let Some(g) = group {
        if group_marks.iter().any(|m| *m != g) {
            return Err(Some(format!(
                "it groups thousands with both {} and {}; use one of them",
                g.shown(),
                if spaces > 0 && g != Mark::Space {
                    Mark::Space.shown()
                } else {
                    other(g).shown()
                }
            )));
        }
    }
    let int_runs = &runs[..=at.unwrap_or(last)];
    let frac = at.map_or("", |i| runs[i + 1]);
    if group.is_some() {
        let first = int_runs[0];
        let groups_ok = (1..=3).contains(&first.len())
            && !first.starts_with('0')
            && int_runs[1..].iter().all(|r| r.len() == 3);
        if !groups_ok {
            return Err(Some(group_reason(
                mantissa,
                group.unwrap_or(Mark::Dot),
                by_context,
            )));
        }
    }
    Ok((int_runs.concat(), frac))
}

fn other(m: Mark) -> Mark {
    match m {
        Mark::Dot => Mark::Comma,
        _ => Mark::Dot,
    }
}

/// Why a group mark does not group thousands, with the spelling that was probably meant.
fn group_reason(mantissa: &str, group: Mark, by_context: bool) -> String {
    match (group, by_context) {
        (Mark::Dot, true) => format!(
            "here `.` groups thousands and `,` marks decimals (as in 1.234,5), and the `.` in it does not separate groups of three digits; for a decimal write `{}`",
            shorten(&mantissa.replace('.', ","), SHOWN)
        ),
        (Mark::Comma, true) => format!(
            "here `,` groups thousands and `.` marks decimals (as in 1,234.5), and the `,` in it does not separate groups of three digits; for a decimal write `{}`",
            shorten(&mantissa.replace(',', "."), SHOWN)
        ),
        (g, _) => format!(
            "{} must separate groups of three digits after a first group of one to three (as in 1.234.567)",
            g.shown()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str, decimal: Decimal) -> f64 {
        read(text, decimal).unwrap_or_else(|e| panic!("{text:?} in {decimal:?}: {e}"))
    }

    #[test]
    fn the_context_decides_a_lone_mark() {
        use Decimal::*;
        assert_eq!(ok("12.345", Comma), 12345.0);
        assert_eq!(ok("1.000", Comma), 1000.0);
        assert_eq!(ok("12,5", Comma), 12.5);
        assert_eq!(ok("12.345", Text), 12.345);
        assert_eq!(ok("1.000", Text), 1.0);
        assert_eq!(ok("12,5", Text), 12.5);
        assert_eq!(ok("1,234", Text), 1.234);
        assert_eq!(ok("1,234", Point), 1234.0);
        assert_eq!(ok("12.5", Point), 12.5);
        assert!(read("12,5", Point).is_err());
    }

    #[test]
    fn unambiguous_spellings_read_the_same_everywhere() {
        for d in [Decimal::Comma, Decimal::Point, Decimal::Text] {
            assert_eq!(ok("1.234,5", d), 1234.5);
            assert_eq!(ok("1,234.5", d), 1234.5);
            assert_eq!(ok("1.234.567", d), 1_234_567.0);
            assert_eq!(ok("1,234,567", d), 1_234_567.0);
            assert_eq!(ok("-1.234.567,25", d), -1_234_567.25);
            assert_eq!(ok("95%", d), 95.0);
            assert_eq!(ok("95 %", d), 95.0);
            assert_eq!(ok("1 234 567", d), 1_234_567.0);
            assert_eq!(ok("1\u{a0}234", d), 1234.0);
            assert_eq!(ok("\u{2212}3", d), -3.0);
            assert_eq!(ok(" -3 ", d), -3.0);
            assert_eq!(ok("1e6", d), 1e6);
            assert_eq!(ok("Rp 1.500.000", d), 1_500_000.0);
            assert_eq!(ok("Rp1.500.000,-", d), 1_500_000.0);
            assert_eq!(ok("0", d), 0.0);
            assert!(read("1,2,3", d).is_err(), "{d:?}");
            assert!(read("1.23,4", d).is_err(), "{d:?}");
            assert!(read("1.234,5,6", d).is_err(), "{d:?}");
            assert!(read("1,234.567,8", d).is_err(), "{d:?}");
            assert!(read("12abc", d).is_err());
            assert!(read("1_000", d).is_err());
            assert!(read("0x10", d).is_err());
            assert!(read("--1", d).is_err());
            assert!(read("1..2", d).is_err());
            assert!(read("1.234 567", d).is_err());
            assert_eq!(read("", d), Err(NumberError::Empty));
            assert_eq!(read("NaN", d), Err(NumberError::NotFinite));
            assert_eq!(read("-inf", d), Err(NumberError::NotFinite));
            assert_eq!(read("1e999", d), Err(NumberError::NotFinite));
        }
    }

    #[test]
    fn rupiah_is_written_the_indonesian_way() {
        assert_eq!(ok("Rp 50.000", Decimal::Text), 50_000.0);
        assert_eq!(ok("Rp. 7.500,50", Decimal::Text), 7500.5);
        assert_eq!(ok("-Rp 5.000", Decimal::Text), -5000.0);
        assert_eq!(ok("Rp -5.000", Decimal::Text), -5000.0);
        assert!(read("Rupiah 5", Decimal::Text).is_err());
    }

    #[test]
    fn a_group_mark_must_group_thousands() {
        let e = read("7.9", Decimal::Comma).unwrap_err().to_string();
        assert!(
            e.contains("`7.9` is not a number") && e.contains("write `7,9`"),
            "{e}"
        );
        let e = read("12,5", Decimal::Point).unwrap_err().to_string();
        assert!(e.contains("write `12.5`"), "{e}");
        assert!(read("0.500", Decimal::Comma).is_err());
        assert!(read(".500", Decimal::Comma).is_err());
        assert!(read("1.2345", Decimal::Comma).is_err());
        assert!(read("1234.567", Decimal::Comma).is_err());
        assert_eq!(ok(",5", Decimal::Comma), 0.5);
        assert_eq!(ok(".5", Decimal::Text), 0.5);
        assert_eq!(ok("12.", Decimal::Text), 12.0);
        let long = "9".repeat(200);
        let e = read(&long, Decimal::Text).unwrap_err().to_string();
        assert!(e.len() < 200, "{e}");
    }
}
