//! `pantau plan import --out EXISTING --force`: the `[[feed]]` sections of the masterplan.toml an
//! import replaces are kept, since the workbook does not carry feeds (their URLs, schedules,
//! headers and mappings are Diskominfo's technical settings, not the plan Bappeda holds).
//!
//! The sections are copied as written (comments included) when the copy reads back to the same
//! feeds, else written anew from their values; the plan with them is validated as `pantau check`
//! validates it, so a kept feed that maps an indicator the new plan dropped is a problem and
//! nothing is written.

use crate::config::{Problem, parse_masterplan};
use std::fmt;

/// Why the feeds could not be kept; nothing is written.
#[derive(Debug, Clone, thiserror::Error)]
pub struct KeepError {
    pub file: String,
    pub problems: Vec<String>,
}

impl fmt::Display for KeepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} cannot be replaced with its feeds kept; nothing was written:",
            self.file
        )?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

/// `new` (an imported masterplan.toml) with the `[[feed]]` sections of `old` (the file it
/// replaces, named `file`) after it, and how many feeds were kept.
pub fn with_feeds(new: &str, old: &str, file: &str) -> Result<(String, usize), KeepError> {
    let table: toml::Table = match toml::from_str(old) {
        Ok(t) => t,
        // A broken file without feeds is simply replaced.
        Err(_) if !old.contains("[[feed") => return Ok((new.to_string(), 0)),
        Err(e) => {
            return Err(KeepError {
                file: file.into(),
                problems: vec![format!(
                    "{file}: is not valid TOML ({}), so its [[feed]] sections cannot be kept; fix it (`pantau check` names the problem) or move it away, then import again",
                    e.to_string().trim()
                )],
            });
        }
    };
    let Some(feeds) = table.get("feed") else {
        return Ok((new.to_string(), 0));
    };
    let count = feeds.as_array().map_or(1, Vec::len);
    let text = match sections(old) {
        Some(text) if reads_back(&text, feeds) => text,
        _ => {
            let mut only = toml::Table::new();
            only.insert("feed".into(), feeds.clone());
            toml::to_string(&only).map_err(|e| KeepError {
                file: file.into(),
                problems: vec![format!(
                    "{file}: its [[feed]] sections cannot be copied: {e}"
                )],
            })?
        }
    };
    let mut out = new.trim_end().to_string();
    out.push_str(&format!(
        "\n\n# =============================================================================\n# Sumber data otomatis (feeds), kept from the {file} this import replaced:\n# the plan workbook does not carry them.\n# =============================================================================\n\n{}\n",
        text.trim()
    ));
    let env: Vec<(String, String)> = std::env::vars().collect();
    let mut problems: Vec<Problem> = Vec::new();
    let parsed = parse_masterplan(&out, file, &env, &mut problems);
    if parsed.is_none() || !problems.is_empty() {
        let mut list: Vec<String> = problems.iter().map(ToString::to_string).collect();
        list.push(format!(
            "the feeds above are kept from {file}; fix or remove them there (or move the file away), then import again"
        ));
        return Err(KeepError {
            file: file.into(),
            problems: list,
        });
    }
    Ok((out, count))
}

/// Whether `text` holds exactly the `feed` array `feeds`.
fn reads_back(text: &str, feeds: &toml::Value) -> bool {
    toml::from_str::<toml::Table>(text).is_ok_and(|t| t.len() == 1 && t.get("feed") == Some(feeds))
}

/// The first key of a table header line (`[[feed]]`, `[feed.json]`, `[ "feed" . csv ]`), if the
/// line is one.
fn header_key(line: &str) -> Option<String> {
    let t = line.trim_start();
    let inner = t.strip_prefix("[[").or_else(|| t.strip_prefix('['))?;
    let name = inner.split(']').next()?;
    let first = name.split('.').next()?.trim();
    Some(first.trim_matches(['"', '\'']).to_string())
}

/// The lines of `old` that make its feed tables: from each `[[feed]]` or `[feed...]` header
/// (with the comment lines right above it) to the next other table's header (without the
/// comment lines right above that one). None when there are none.
fn sections(old: &str) -> Option<String> {
    let lines: Vec<&str> = old.split_inclusive('\n').collect();
    // Header lines outside multi-line strings: (line, is a feed table).
    let mut headers: Vec<(usize, bool)> = Vec::new();
    let mut in_string = false;
    for (i, line) in lines.iter().enumerate() {
        if !in_string {
            if let Some(key) = header_key(line) {
                headers.push((i, key == "feed"));
            }
        }
        let quotes = line.matches("\"\"\"").count() + line.matches("'''").count();
        if quotes % 2 == 1 {
            in_string = !in_string;
        }
    }
    let comment = |i: usize| lines[i].trim_start().starts_with('#');
    let mut out = String::new();
    let mut k = 0;
    while k < headers.len() {
        let (first, feed) = headers[k];
        if !feed {
            k += 1;
            continue;
        }
        while k < headers.len() && headers[k].1 {
            k += 1;
        }
        let mut start = first;
        while start > 0 && comment(start - 1) {
            start -= 1;
        }
        let mut end = headers.get(k).map_or(lines.len(), |(i, _)| *i);
        if k < headers.len() {
            while end > first + 1 && comment(end - 1) {
                end -= 1;
            }
        }
        for line in &lines[start..end] {
            out.push_str(line);
        }
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push('\n');
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_sections_are_cut_out_with_their_comments() {
        let old = "revision_note = \"x\"\n[[department]]\nid = \"d\"\n\n# the feed of d\n[[feed]]\nid = \"f\"\nurl = \"https://x.example/a\"\n[feed.json]\npoints = [\n  { indicator = \"a\", value = \"/v\" },\n]\n\n# about the program\n[[program]]\nid = \"p\"\n[[feed]]\nid = \"g\"\n";
        let text = sections(old).unwrap();
        assert!(text.starts_with("# the feed of d\n[[feed]]"), "{text}");
        assert!(!text.contains("about the program"), "{text}");
        assert!(!text.contains("[[program]]"), "{text}");
        assert!(text.contains("id = \"g\""), "{text}");
        let table: toml::Table = toml::from_str(old).unwrap();
        assert!(reads_back(&text, &table["feed"]));
        assert_eq!(header_key("  [ \"feed\" . csv ]"), Some("feed".into()));
        assert_eq!(header_key("x = [1]"), None);
        assert_eq!(sections("[[program]]\nid = \"p\"\n"), None);
    }

    const FEED: &str = "id = \"kominfo-spbe\"\ndepartment = \"diskominfo\"\nurl = \"https://data.example.go.id/spbe\"\nformat = \"json\"\nschedule = \"@daily\"\n";
    const MAPPING: &str =
        "points = [{ indicator = \"governance.spbe.index\", value = \"/indeks\" }]\n";

    fn feeds_of(text: &str) -> String {
        let (_, feeds) = parse_masterplan(text, "m.toml", &[], &mut Vec::new()).unwrap();
        format!("{feeds:?}")
    }

    #[test]
    fn feeds_are_kept_as_written_or_rewritten_and_checked_with_the_new_plan() {
        let new = super::super::init::masterplan_text("Kota Uji");
        // As written: the comment stays.
        let old = format!("{new}\n# SPBE index\n[[feed]]\n{FEED}[feed.json]\n{MAPPING}");
        let (text, n) = with_feeds(&new, &old, "m.toml").unwrap();
        assert_eq!(n, 1);
        assert!(text.contains("# SPBE index\n[[feed]]"), "{text}");
        assert_eq!(feeds_of(&text), feeds_of(&old));
        // Written inline (no table header to copy): rewritten from its values.
        let inline = format!(
            "feed = [{{ {}, json = {{ {} }} }}]\n{new}",
            FEED.trim().replace('\n', ", "),
            MAPPING.trim()
        );
        let (text, n) = with_feeds(&new, &inline, "m.toml").unwrap();
        assert_eq!(n, 1);
        assert_eq!(feeds_of(&text), feeds_of(&inline));
        // No feeds: the new plan as it is; a feed the new plan has no OPD for: refused.
        assert_eq!(with_feeds(&new, &new, "m.toml").unwrap(), (new.clone(), 0));
        let other = old.replace("diskominfo\"\nurl", "dinkes\"\nurl");
        let e = with_feeds(&new, &other, "m.toml").unwrap_err().to_string();
        assert!(e.contains("feed kominfo-spbe"), "{e}");
        assert!(e.contains("fix or remove them there"), "{e}");
        // A broken file with feeds is refused; without, it is replaced.
        let e = with_feeds(&new, "[[feed]\nid = ", "m.toml").unwrap_err();
        assert!(e.to_string().contains("is not valid TOML"), "{e}");
        assert_eq!(with_feeds(&new, "x = ", "m.toml").unwrap().1, 0);
    }
}
