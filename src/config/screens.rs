//! `screens.toml`: the command-center wall's screens (id, label, the pages each rotates through,
//! how long each page stays, an optional token), validated against the masterplan with every
//! problem reported at once, like the other configuration files.

use super::Problem;
use super::table::FieldReader;
use serde::Serialize;
use std::collections::HashSet;

/// The example screens shipped in `config/screens.toml`, embedded in the binary.
pub const EMBEDDED_SCREENS: &str = include_str!("../../config/screens.toml");

/// The page kinds a screen can rotate through.
pub const PAGE_KINDS: &[&str] = &["overview", "quick-wins", "dimension:<id>"];

/// Shortest time a page may stay on a wall.
pub const MIN_INTERVAL_SECONDS: i64 = 5;

/// One wall screen.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Screen {
    pub id: String,
    pub label: String,
    /// Pages in rotation order, e.g. `["overview", "dimension:governance", "quick-wins"]`.
    pub pages: Vec<String>,
    /// Seconds each page stays before the next.
    pub interval_seconds: u32,
    /// When set, the screen must connect with `?screen=<id>&token=<token>` (never shown).
    #[serde(skip_serializing)]
    pub token: Option<String>,
}

/// The screens of a city without a screens file: the overview and the quick wins on one, every
/// dimension on the other.
pub fn default_screens(dimensions: &[String]) -> Vec<Screen> {
    let mut screens = vec![Screen {
        id: "wall-1".into(),
        label: "Layar utama — ringkasan".into(),
        pages: vec!["overview".into(), "quick-wins".into()],
        interval_seconds: 30,
        token: None,
    }];
    if !dimensions.is_empty() {
        screens.push(Screen {
            id: "wall-2".into(),
            label: "Layar dimensi".into(),
            pages: dimensions
                .iter()
                .map(|d| format!("dimension:{d}"))
                .collect(),
            interval_seconds: 20,
            token: None,
        });
    }
    screens
}

/// Parses screens text against the masterplan's dimension ids; problems go to `problems`; None
/// when any were found.
pub fn parse_screens(
    text: &str,
    file: &str,
    dimensions: &[String],
    problems: &mut Vec<Problem>,
) -> Option<Vec<Screen>> {
    let before = problems.len();
    let table: toml::Table = match toml::from_str(text) {
        Ok(t) => t,
        Err(e) => {
            problems.push(Problem {
                file: file.to_string(),
                item: "file".into(),
                field: String::new(),
                message: format!("is not valid TOML: {}", e.to_string().trim()),
            });
            return None;
        }
    };
    for key in table.keys() {
        if key != "screen" {
            problems.push(Problem {
                file: file.into(),
                item: "top level".into(),
                field: key.clone(),
                message: "is not a known section; screens are written as `[[screen]]` entries"
                    .into(),
            });
        }
    }
    let entries: Vec<toml::Table> = match table.get("screen") {
        None => Vec::new(),
        Some(toml::Value::Array(a)) => a
            .iter()
            .enumerate()
            .filter_map(|(i, v)| match v {
                toml::Value::Table(t) => Some(t.clone()),
                _ => {
                    problems.push(Problem {
                        file: file.into(),
                        item: format!("screen #{}", i + 1),
                        field: String::new(),
                        message: "must be a table; write it as `[[screen]]` followed by its keys"
                            .into(),
                    });
                    None
                }
            })
            .collect(),
        Some(_) => {
            problems.push(Problem {
                file: file.into(),
                item: "screen".into(),
                field: String::new(),
                message: "must be a list of tables; write each screen as `[[screen]]`".into(),
            });
            Vec::new()
        }
    };
    let mut seen = HashSet::new();
    let mut screens = Vec::new();
    for (i, t) in entries.iter().enumerate() {
        let name = t
            .get("id")
            .and_then(|v| v.as_str())
            .map_or_else(|| format!("screen #{}", i + 1), |id| format!("screen {id}"));
        let mut r = FieldReader::new(file, name, t, problems);
        let id = r.string("id", "\"wall-1\"");
        if let Some(id) = &id {
            let ok = !id.is_empty()
                && id.len() <= 64
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                r.problem(
                    "id",
                    format!("`{id}` may only hold letters, digits, `-` and `_` (at most 64); it goes in the wall's address"),
                );
            } else if !seen.insert(id.clone()) {
                r.problem(
                    "id",
                    format!("`{id}` is used twice; give each screen its own id"),
                );
            }
        }
        let label = r.string("label", "\"Layar utama\"");
        let interval = match r.opt_integer("interval_seconds") {
            None => Some(30),
            Some(n) if (MIN_INTERVAL_SECONDS..=86_400).contains(&n) => Some(n as u32),
            Some(n) => {
                r.problem(
                    "interval_seconds",
                    format!("{n} is outside {MIN_INTERVAL_SECONDS} to 86400; a page needs at least {MIN_INTERVAL_SECONDS} seconds to be read"),
                );
                None
            }
        };
        let pages = match r.opt_array("pages") {
            None => {
                r.problem(
                    "pages",
                    "is missing; list the pages to rotate through, e.g. `pages = [\"overview\", \"quick-wins\"]`",
                );
                None
            }
            Some(list) if list.is_empty() => {
                r.problem("pages", "is empty; list at least one page");
                None
            }
            Some(list) => {
                let mut pages = Vec::new();
                for (k, v) in list.iter().enumerate() {
                    let field = format!("pages[{k}]");
                    match v.as_str() {
                        None => r.problem(&field, "must be a string such as \"overview\""),
                        Some(p) => match check_page(p, dimensions) {
                            Ok(()) => pages.push(p.to_string()),
                            Err(message) => r.problem(&field, message),
                        },
                    }
                }
                Some(pages)
            }
        };
        let token = r.opt_string("token");
        if let Some(t) = &token {
            if t.len() < 16 {
                r.problem(
                    "token",
                    "is shorter than 16 characters; use a long random token",
                );
            }
        }
        r.finish();
        if let (Some(id), Some(label), Some(pages), Some(interval_seconds)) =
            (id, label, pages, interval)
        {
            screens.push(Screen {
                id,
                label,
                pages,
                interval_seconds,
                token,
            });
        }
    }
    (problems.len() == before).then_some(screens)
}

/// A page name: one of the kinds, with a dimension of the masterplan where it needs one.
fn check_page(page: &str, dimensions: &[String]) -> Result<(), String> {
    match page.split_once(':') {
        None if page == "overview" || page == "quick-wins" => Ok(()),
        Some(("dimension", id)) => {
            if dimensions.iter().any(|d| d == id) {
                Ok(())
            } else {
                Err(format!(
                    "`{page}` names no dimension of the masterplan; use one of: {}",
                    dimensions
                        .iter()
                        .map(|d| format!("dimension:{d}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        }
        _ => Err(format!(
            "`{page}` is not a page; use one of: {}",
            PAGE_KINDS.join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dimension_ids(config: &crate::config::Config) -> Vec<String> {
        config
            .masterplan
            .dimensions
            .iter()
            .map(|d| d.id.to_string())
            .collect()
    }

    #[test]
    fn the_embedded_screens_are_valid_for_the_embedded_plan() {
        let config = crate::config::Config::embedded().unwrap();
        let mut problems = Vec::new();
        let screens = parse_screens(
            EMBEDDED_SCREENS,
            "screens.toml",
            &dimension_ids(&config),
            &mut problems,
        )
        .unwrap_or_else(|| panic!("{problems:?}"));
        assert!(screens.len() >= 2);
    }

    #[test]
    fn every_problem_is_reported() {
        let config = crate::config::Config::embedded().unwrap();
        let text = r#"
[[screen]]
id = "wall-1"
label = "A"
pages = ["overview", "dimension:nowhere", "charts"]
interval_seconds = 0
[[screen]]
id = "wall-1"
label = "B"
pages = []
colour = "red"
"#;
        let mut problems = Vec::new();
        assert!(
            parse_screens(text, "screens.toml", &dimension_ids(&config), &mut problems).is_none()
        );
        let all: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        let text = all.join("\n");
        for needle in [
            "pages[1]",
            "`dimension:nowhere` names no dimension",
            "`charts` is not a page",
            "interval_seconds",
            "used twice",
            "is empty",
            "`colour`",
        ] {
            assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
        }
    }
}
