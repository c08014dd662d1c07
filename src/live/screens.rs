//! Whether a wall screen may connect: it must be one of the configured screens
//! (`config::screens`) and, if it has a token, present it (compared in constant time).

use crate::config::Screen;
use subtle::ConstantTimeEq;

/// Why a screen may not connect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScreenRefusal {
    /// The screens file cannot be read (HTTP 503).
    #[error("{0}")]
    Unreadable(String),
    /// Unknown screen, or its token is missing or wrong (HTTP 403).
    #[error("{0}")]
    Refused(String),
}

/// A screen may connect when it is known and, if it has a token, presents it.
pub fn check_screen(
    screens: &[Screen],
    id: &str,
    token: Option<&str>,
) -> Result<(), ScreenRefusal> {
    let Some(screen) = screens.iter().find(|s| s.id == id) else {
        return Err(ScreenRefusal::Refused(format!(
            "unknown screen `{id}`; add it to screens.toml"
        )));
    };
    if let Some(expected) = &screen.token {
        let ok = token.is_some_and(|t| bool::from(t.as_bytes().ct_eq(expected.as_bytes())));
        if !ok {
            return Err(ScreenRefusal::Refused(format!(
                "screen `{id}` needs its token (`&token=...`); the one given is missing or wrong"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_screens_and_wrong_tokens_are_refused() {
        let screens = vec![Screen {
            id: "wall-9".into(),
            label: "x".into(),
            pages: vec!["overview".into()],
            interval_seconds: 30,
            token: Some("a-long-screen-token-123".into()),
        }];
        assert!(check_screen(&screens, "wall-9", Some("a-long-screen-token-123")).is_ok());
        assert!(check_screen(&screens, "wall-9", Some("wrong")).is_err());
        assert!(check_screen(&screens, "wall-9", None).is_err());
        assert!(check_screen(&screens, "nope", None).is_err());
    }
}
