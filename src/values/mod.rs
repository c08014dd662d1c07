//! Values from outside, read one way everywhere: the one number reader (`number`), the one time
//! reader (`time`), the capped workbook opener (`workbook`) and the neutraliser for cells pantau
//! writes into spreadsheets (`cell`).
//!
//! Department posts, uploads, `pantau import` and every feed format call these, so a spelling
//! such as `12.345` or `28 Agu 2026` means the same wherever it arrives. This module depends only
//! on `domain`; `ingest`, `feeds` and `config` sit above it.

pub mod cell;
pub mod number;
pub mod time;
pub mod workbook;

pub use cell::neutralise;
pub use number::{Decimal, NumberError};
pub use time::{TimeError, TimeFormat, TimeValue};

use std::borrow::Cow;

/// Most characters of outside input that a message quotes; longer input is cut with `…`.
pub const ECHO_CHARS: usize = 80;

/// At most `max` characters of `text`, for messages: input is never echoed in full.
pub fn shorten(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => Cow::Borrowed(text),
        Some((end, _)) => Cow::Owned(format!("{}…", &text[..end])),
    }
}

/// `text` cut to `ECHO_CHARS` characters, with any control character shown as a space.
pub fn echo(text: &str) -> String {
    shorten(text, ECHO_CHARS)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_quote_little() {
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten("abcd", 3), "abc…");
        assert_eq!(shorten("ééé", 2), "éé…");
        let long = "x".repeat(52_000);
        assert_eq!(echo(&long).chars().count(), ECHO_CHARS + 1);
        assert_eq!(echo("a\nb"), "a b");
    }
}
