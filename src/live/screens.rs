//! The wall's screens from `dashboards/screens.toml`: id, label, pages and rotation interval,
//! and an optional token a screen must present to connect.

use serde::{Deserialize, Serialize};
use std::path::Path;
use subtle::ConstantTimeEq;

/// The embedded screens file.
pub const EMBEDDED_SCREENS: &str = include_str!("../../dashboards/screens.toml");

/// One wall screen.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Screen {
    pub id: String,
    pub label: String,
    /// Pages in rotation order, e.g. `["overview", "dimension:governance", "quick-wins"]`.
    pub pages: Vec<String>,
    /// Seconds each page stays before the next.
    #[serde(default = "default_interval")]
    pub interval_seconds: u32,
    /// When set, the screen must connect with `?screen=<id>&token=<token>`.
    #[serde(default, skip_serializing)]
    pub token: Option<String>,
}

fn default_interval() -> u32 {
    30
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScreensFile {
    #[serde(default)]
    screen: Vec<Screen>,
}

/// Reads the screens: from `--dashboards DIR` when given, else the embedded file.
pub fn load(dashboards_dir: Option<&Path>) -> Result<Vec<Screen>, String> {
    let text = match dashboards_dir {
        Some(dir) => std::fs::read_to_string(dir.join("screens.toml"))
            .map_err(|e| format!("cannot read {}/screens.toml: {e}", dir.display()))?,
        None => EMBEDDED_SCREENS.to_string(),
    };
    parse(&text)
}

pub fn parse(text: &str) -> Result<Vec<Screen>, String> {
    let file: ScreensFile =
        toml::from_str(text).map_err(|e| format!("screens.toml: {}", e.to_string().trim()))?;
    for s in &file.screen {
        if s.pages.is_empty() {
            return Err(format!(
                "screens.toml: screen `{}` has no pages; list at least one",
                s.id
            ));
        }
        if s.interval_seconds < 5 {
            return Err(format!(
                "screens.toml: screen `{}` rotates faster than every 5 seconds",
                s.id
            ));
        }
    }
    Ok(file.screen)
}

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
    dashboards_dir: Option<&Path>,
    id: &str,
    token: Option<&str>,
) -> Result<(), ScreenRefusal> {
    let screens = load(dashboards_dir).map_err(ScreenRefusal::Unreadable)?;
    let Some(screen) = screens.iter().find(|s| s.id == id) else {
        return Err(ScreenRefusal::Refused(format!(
            "unknown screen `{id}`; add it to dashboards/screens.toml"
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
    fn embedded_screens_parse() {
        let s = parse(EMBEDDED_SCREENS).unwrap();
        assert!(!s.is_empty());
    }
}
