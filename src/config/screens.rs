//! `screens.toml`: the command-center wall's screens (id, label, the pages each rotates through,
//! how long each page stays, an optional token), validated against the masterplan with every
//! problem reported at once, like the other configuration files.
//!
//! A page is written as a string (`"overview"`, `"quick-wins"`, `"dimension:<id>"`) or as a table
//! with a `kind` and that kind's keys (`{ kind = "program", program = "living.health" }`). The
//! kinds and the keys each takes are listed once, in `KINDS`: a new kind of page is one more
//! entry there, one more arm in `PageKind`, and one more renderer in `dashboards/js/wall.js`.

use super::Problem;
use super::table::FieldReader;
use crate::domain::Masterplan;
use serde::Serialize;
use std::collections::HashSet;

/// The example screens shipped in `config/screens.toml`, embedded in the binary.
pub const EMBEDDED_SCREENS: &str = include_str!("../../config/screens.toml");

/// The page kinds a screen can rotate through, as written in `screens.toml`.
pub const PAGE_KINDS: &[&str] = &[
    "overview",
    "dimension",
    "program",
    "quick-wins",
    "department",
    "feeds",
    "numbers",
    "chart",
    "compliance",
];

/// Shortest time a page may stay on a wall.
pub const MIN_INTERVAL_SECONDS: i64 = 5;

/// Most indicators one `numbers` page shows.
pub const MAX_NUMBERS: usize = 12;

/// What a wall page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PageKind {
    /// The masterplan total beside the six dimensions.
    Overview,
    /// One dimension's programs and indicators.
    Dimension,
    /// One program with its indicators.
    Program,
    /// Quick-win programs by risk (optionally of one dimension or department).
    QuickWins,
    /// One department's (OPD's) indicators and what it has not reported.
    Department,
    /// "Sumber data": every feed's state, last success and error.
    Feeds,
    /// Chosen indicators as big numbers.
    Numbers,
    /// One indicator's trajectory chart.
    Chart,
    /// "Kepatuhan Pelaporan OPD": every department's reporting this month, ranked.
    Compliance,
}

/// A key a page table may hold besides `kind`, `title` and `seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Dimension,
    Program,
    Department,
    Indicator,
    Indicators,
}

impl Key {
    fn name(self) -> &'static str {
        match self {
            Key::Dimension => "dimension",
            Key::Program => "program",
            Key::Department => "department",
            Key::Indicator => "indicator",
            Key::Indicators => "indicators",
        }
    }
}

/// One kind of page: its name, the keys it must have and the ones it may have.
struct KindSpec {
    kind: PageKind,
    name: &'static str,
    required: &'static [Key],
    optional: &'static [Key],
    example: &'static str,
}

/// Every kind of page. Adding one (e.g. an OPD reporting-compliance page) is one entry here.
const KINDS: &[KindSpec] = &[
    KindSpec {
        kind: PageKind::Overview,
        name: "overview",
        required: &[],
        optional: &[],
        example: "{ kind = \"overview\" }",
    },
    KindSpec {
        kind: PageKind::Dimension,
        name: "dimension",
        required: &[Key::Dimension],
        optional: &[],
        example: "{ kind = \"dimension\", dimension = \"living\" }",
    },
    KindSpec {
        kind: PageKind::Program,
        name: "program",
        required: &[Key::Program],
        optional: &[],
        example: "{ kind = \"program\", program = \"living.health\" }",
    },
    KindSpec {
        kind: PageKind::QuickWins,
        name: "quick-wins",
        required: &[],
        optional: &[Key::Dimension, Key::Department],
        example: "{ kind = \"quick-wins\", dimension = \"living\" }",
    },
    KindSpec {
        kind: PageKind::Department,
        name: "department",
        required: &[Key::Department],
        optional: &[],
        example: "{ kind = \"department\", department = \"dinkes\" }",
    },
    KindSpec {
        kind: PageKind::Feeds,
        name: "feeds",
        required: &[],
        optional: &[Key::Department],
        example: "{ kind = \"feeds\" }",
    },
    KindSpec {
        kind: PageKind::Numbers,
        name: "numbers",
        required: &[Key::Indicators],
        optional: &[],
        example: "{ kind = \"numbers\", indicators = [\"living.health.stunting\"], title = \"Kesehatan\" }",
    },
    KindSpec {
        kind: PageKind::Chart,
        name: "chart",
        required: &[Key::Indicator],
        optional: &[],
        example: "{ kind = \"chart\", indicator = \"living.health.stunting\" }",
    },
    KindSpec {
        kind: PageKind::Compliance,
        name: "compliance",
        required: &[],
        optional: &[],
        example: "{ kind = \"compliance\" }",
    },
];

fn spec(name: &str) -> Option<&'static KindSpec> {
    KINDS.iter().find(|k| k.name == name)
}

/// One page of a screen's rotation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page {
    /// Names the page within its screen (`/wall?screen=..&page=<id>` pins it): the string form
    /// (`dimension:living`), or the kind and its subject for a table (`program:living.health`).
    pub id: String,
    pub kind: PageKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dimension: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indicator: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub indicators: Vec<String>,
    /// Shown in the wall's header instead of the page's own name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Seconds this page stays (each of its sub-pages, when it has more than fits); the screen's
    /// `interval_seconds` when not given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u32>,
}

impl Page {
    fn of(kind: PageKind) -> Page {
        Page {
            id: String::new(),
            kind,
            dimension: None,
            program: None,
            department: None,
            indicator: None,
            indicators: Vec::new(),
            title: None,
            seconds: None,
        }
    }

    /// The overview page.
    pub fn overview() -> Page {
        Page {
            id: "overview".into(),
            ..Page::of(PageKind::Overview)
        }
    }

    /// A dimension's page.
    pub fn dimension(id: &str) -> Page {
        Page {
            id: format!("dimension:{id}"),
            dimension: Some(id.to_string()),
            ..Page::of(PageKind::Dimension)
        }
    }

    /// The quick-wins page, unfiltered.
    pub fn quick_wins() -> Page {
        Page {
            id: "quick-wins".into(),
            ..Page::of(PageKind::QuickWins)
        }
    }

    /// "Kepatuhan Pelaporan OPD".
    pub fn compliance() -> Page {
        Page {
            id: "compliance".into(),
            ..Page::of(PageKind::Compliance)
        }
    }

    /// The id a table page gets: its kind and what it shows.
    fn derived_id(&self) -> String {
        let name = KINDS
            .iter()
            .find(|k| k.kind == self.kind)
            .map_or("page", |k| k.name);
        let subject = match self.kind {
            PageKind::Dimension => self.dimension.clone(),
            PageKind::Program => self.program.clone(),
            PageKind::Department => self.department.clone(),
            PageKind::Chart => self.indicator.clone(),
            PageKind::QuickWins | PageKind::Feeds => match (&self.dimension, &self.department) {
                (Some(d), _) => Some(format!("dimension={d}")),
                (None, Some(d)) => Some(format!("department={d}")),
                _ => None,
            },
            PageKind::Overview | PageKind::Numbers | PageKind::Compliance => None,
        };
        match subject {
            Some(s) => format!("{name}:{s}"),
            None => name.to_string(),
        }
    }
}

/// A page from its string form, for code and tests; an unknown form gives the overview (screens
/// files go through `parse_screens`, which reports it instead).
impl From<&str> for Page {
    fn from(s: &str) -> Page {
        match s.split_once(':') {
            Some(("dimension", id)) => Page::dimension(id),
            _ if s == "quick-wins" => Page::quick_wins(),
            _ if s == "compliance" => Page::compliance(),
            _ => Page::overview(),
        }
    }
}

/// One wall screen.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Screen {
    pub id: String,
    pub label: String,
    /// Pages in rotation order.
    pub pages: Vec<Page>,
    /// Seconds each page stays before the next, unless the page says otherwise.
    pub interval_seconds: u32,
    /// When set, the screen must connect with `?screen=<id>&token=<token>` (never shown).
    #[serde(skip_serializing)]
    pub token: Option<String>,
}

impl Screen {
    /// How long `page` stays on this screen.
    pub fn seconds_of(&self, page: &Page) -> u32 {
        page.seconds.unwrap_or(self.interval_seconds)
    }

    /// The screen as `/api/v1/screens` shows it: every page with the seconds it stays.
    pub fn resolved(&self) -> Screen {
        let mut s = self.clone();
        for p in &mut s.pages {
            p.seconds = Some(self.seconds_of(p));
        }
        s
    }
}

/// The ids of the masterplan that pages may name. Taken from the validated plan, or read from
/// the raw text when the plan has problems, so screens are still checked in the same run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanIds {
    pub dimensions: Vec<String>,
    pub programs: Vec<String>,
    pub departments: Vec<String>,
    pub indicators: Vec<String>,
}

impl PlanIds {
    /// The ids of a validated masterplan.
    pub fn of(plan: &Masterplan) -> PlanIds {
        PlanIds {
            dimensions: plan.dimensions.iter().map(|d| d.id.to_string()).collect(),
            programs: plan.programs.iter().map(|p| p.id.to_string()).collect(),
            departments: plan.departments.iter().map(|d| d.id.to_string()).collect(),
            indicators: plan.indicators.iter().map(|i| i.id.to_string()).collect(),
        }
    }

    /// The ids as declared in masterplan text (`[[dimension]] id = ...`, ...), whatever else is
    /// wrong with it; empty lists when it is not TOML at all.
    pub fn declared(text: &str) -> PlanIds {
        let Ok(table) = toml::from_str::<toml::Table>(text) else {
            return PlanIds::default();
        };
        let ids = |section: &str| -> Vec<String> {
            table
                .get(section)
                .and_then(|d| d.as_array())
                .into_iter()
                .flatten()
                .filter_map(|d| d.get("id").and_then(|v| v.as_str()).map(String::from))
                .collect()
        };
        PlanIds {
            dimensions: super::masterplan::declared_dimension_ids(text),
            programs: ids("program"),
            departments: ids("department"),
            indicators: ids("indicator"),
        }
    }

    fn list(&self, key: Key) -> &[String] {
        match key {
            Key::Dimension => &self.dimensions,
            Key::Program => &self.programs,
            Key::Department => &self.departments,
            Key::Indicator | Key::Indicators => &self.indicators,
        }
    }
}

/// The screens of a city without a screens file: the overview and the quick wins on one, every
/// dimension on the other.
pub fn default_screens(dimensions: &[String]) -> Vec<Screen> {
    let mut screens = vec![Screen {
        id: "wall-1".into(),
        label: "Layar utama — ringkasan".into(),
        pages: vec![Page::overview(), Page::quick_wins(), Page::compliance()],
        interval_seconds: 30,
        token: None,
    }];
    if !dimensions.is_empty() {
        screens.push(Screen {
            id: "wall-2".into(),
            label: "Layar dimensi".into(),
            pages: dimensions.iter().map(|d| Page::dimension(d)).collect(),
            interval_seconds: 20,
            token: None,
        });
    }
    screens
}

/// Parses screens text against the masterplan's ids; problems go to `problems`; None when any
/// were found.
pub fn parse_screens(
    text: &str,
    file: &str,
    ids: &PlanIds,
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
        let mut r = FieldReader::new(file, name.clone(), t, problems);
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
            Some(n) => seconds(&mut r, "interval_seconds", n),
        };
        let pages_ok = match r.opt_array("pages") {
            None => {
                r.problem(
                    "pages",
                    "is missing; list the pages to rotate through, e.g. `pages = [\"overview\", \"quick-wins\"]`",
                );
                false
            }
            Some(list) if list.is_empty() => {
                r.problem("pages", "is empty; list at least one page");
                false
            }
            Some(list) if list.len() > 100 => {
                r.problem(
                    "pages",
                    format!(
                        "has {} pages, more than 100; split them over more screens",
                        list.len()
                    ),
                );
                false
            }
            Some(_) => true,
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
        // Read again from the table: the reader keeps `problems` borrowed while its values live.
        let list = t
            .get("pages")
            .and_then(|v| v.as_array())
            .filter(|_| pages_ok);
        let pages = list.map(|list| {
            let mut pages = Vec::new();
            let mut page_ids = HashSet::new();
            for (k, v) in list.iter().enumerate() {
                if let Some(mut page) = parse_page(v, file, &name, k, ids, problems) {
                    // Two pages with the same subject (two number pages, say) get #2, #3...
                    let base = page.id.clone();
                    let mut n = 1;
                    while !page_ids.insert(page.id.clone()) {
                        n += 1;
                        page.id = format!("{base}#{n}");
                    }
                    pages.push(page);
                }
            }
            pages
        });
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

/// A number of seconds a page stays: 5 to 86400.
fn seconds(r: &mut FieldReader<'_>, field: &str, n: i64) -> Option<u32> {
    if (MIN_INTERVAL_SECONDS..=86_400).contains(&n) {
        Some(n as u32)
    } else {
        r.problem(
            field,
            format!("{n} is outside {MIN_INTERVAL_SECONDS} to 86400; a page needs at least {MIN_INTERVAL_SECONDS} seconds to be read"),
        );
        None
    }
}

fn kind_list() -> String {
    PAGE_KINDS.join(", ")
}

/// One entry of `pages`: a string form or a table.
fn parse_page(
    v: &toml::Value,
    file: &str,
    screen: &str,
    k: usize,
    ids: &PlanIds,
    problems: &mut Vec<Problem>,
) -> Option<Page> {
    let field = format!("pages[{k}]");
    let problem = |problems: &mut Vec<Problem>, field: &str, message: String| {
        problems.push(Problem {
            file: file.into(),
            item: screen.into(),
            field: field.into(),
            message,
        })
    };
    match v {
        toml::Value::String(s) => match page_from_string(s, ids) {
            Ok(p) => Some(p),
            Err(m) => {
                problem(problems, &field, m);
                None
            }
        },
        toml::Value::Table(t) => {
            let item = format!("{screen}, {field}");
            let before = problems.len();
            let mut r = FieldReader::new(file, item, t, problems);
            let kind_name = r.string("kind", "\"program\"");
            let Some(kind_name) = kind_name else {
                r.finish();
                return None;
            };
            let Some(spec) = spec(&kind_name) else {
                r.problem(
                    "kind",
                    format!(
                        "`{kind_name}` is not a kind of page; use one of: {}",
                        kind_list()
                    ),
                );
                return None;
            };
            let mut page = Page::of(spec.kind);
            page.title = r.opt_string("title");
            if let Some(t) = &page.title {
                if t.chars().count() > 120 {
                    r.problem("title", "is longer than 120 characters; shorten it");
                }
            }
            if let Some(n) = r.opt_integer("seconds") {
                page.seconds = seconds(&mut r, "seconds", n);
            }
            for (key, required) in spec
                .required
                .iter()
                .map(|k| (*k, true))
                .chain(spec.optional.iter().map(|k| (*k, false)))
            {
                read_key(&mut r, &mut page, key, required, spec, ids);
            }
            r.finish();
            if problems.len() > before {
                return None;
            }
            page.id = page.derived_id();
            Some(page)
        }
        other => {
            problem(
                problems,
                &field,
                format!(
                    "must be a string such as \"overview\" or a table such as {}, found {}",
                    KINDS[2].example,
                    other.type_str()
                ),
            );
            None
        }
    }
}

/// The string forms people write: `overview`, `quick-wins`, `feeds`, `dimension:<id>`,
/// `program:<id>`, `department:<id>`, `chart:<indicator>`.
fn page_from_string(s: &str, ids: &PlanIds) -> Result<Page, String> {
    let (name, subject) = match s.split_once(':') {
        Some((n, id)) => (n, Some(id)),
        None => (s, None),
    };
    let Some(spec) = spec(name) else {
        return Err(format!(
            "`{s}` is not a page; use one of: overview, quick-wins, feeds, dimension:<id>, program:<id>, department:<id>, chart:<indicator>, or a table such as {}",
            KINDS[2].example
        ));
    };
    let key = match (spec.required, subject) {
        ([], None) => None,
        ([key], Some(_)) if *key != Key::Indicators => Some(*key),
        ([key], None) if *key != Key::Indicators => {
            return Err(format!(
                "`{s}` needs its {}: write `{s}:<id>`, e.g. {}",
                key.name(),
                spec.example
            ));
        }
        _ => {
            return Err(format!(
                "`{s}` is not a page; write this kind as a table, e.g. {}",
                spec.example
            ));
        }
    };
    let mut page = Page::of(spec.kind);
    page.id = s.to_string();
    if let (Some(key), Some(id)) = (key, subject) {
        let known = ids.list(key);
        if !known.iter().any(|k| k == id) {
            return Err(format!(
                "`{s}` names no {} of the masterplan; use one of: {}",
                key.name(),
                shown_ids(known, &format!("{name}:"))
            ));
        }
        set(&mut page, key, id.to_string());
    }
    Ok(page)
}

/// At most 12 ids with a prefix, for a message.
fn shown_ids(ids: &[String], prefix: &str) -> String {
    let mut shown: Vec<String> = ids
        .iter()
        .take(12)
        .map(|i| format!("{prefix}{i}"))
        .collect();
    if ids.len() > 12 {
        shown.push(format!(
            "… ({} in all; see GET /api/v1/masterplan)",
            ids.len()
        ));
    }
    if shown.is_empty() {
        "(the masterplan has none)".into()
    } else {
        shown.join(", ")
    }
}

fn set(page: &mut Page, key: Key, id: String) {
    match key {
        Key::Dimension => page.dimension = Some(id),
        Key::Program => page.program = Some(id),
        Key::Department => page.department = Some(id),
        Key::Indicator => page.indicator = Some(id),
        Key::Indicators => page.indicators.push(id),
    }
}

/// Reads one of a kind's keys into `page`, checking the ids against the masterplan.
fn read_key(
    r: &mut FieldReader<'_>,
    page: &mut Page,
    key: Key,
    required: bool,
    spec: &KindSpec,
    ids: &PlanIds,
) {
    let known = ids.list(key);
    let check = |r: &mut FieldReader<'_>, field: &str, id: &str| -> bool {
        if known.iter().any(|k| k == id) {
            true
        } else {
            r.problem(
                field,
                format!(
                    "`{id}` is not {} of the masterplan; use one of: {}",
                    match key {
                        Key::Indicator | Key::Indicators => "an indicator",
                        Key::Dimension => "a dimension",
                        Key::Program => "a program",
                        Key::Department => "a department",
                    },
                    shown_ids(known, "")
                ),
            );
            false
        }
    };
    if key == Key::Indicators {
        match r.opt_array("indicators") {
            None => r.problem(
                "indicators",
                format!(
                    "is missing; a {} page lists its indicators, e.g. {}",
                    spec.name, spec.example
                ),
            ),
            Some(list) if list.is_empty() || list.len() > MAX_NUMBERS => r.problem(
                "indicators",
                format!(
                    "lists {} indicators; list 1 to {MAX_NUMBERS} (more go on another page)",
                    list.len()
                ),
            ),
            Some(list) => {
                let mut seen = HashSet::new();
                for (n, v) in list.iter().enumerate() {
                    let field = format!("indicators[{n}]");
                    match v.as_str() {
                        None => r.problem(&field, "must be an indicator id in quotes"),
                        Some(id) if !seen.insert(id) => r.problem(
                            &field,
                            format!("`{id}` is listed twice; list each indicator once"),
                        ),
                        Some(id) => {
                            if check(r, &field, id) {
                                page.indicators.push(id.to_string());
                            }
                        }
                    }
                }
            }
        }
        return;
    }
    let name = key.name();
    let value = match key {
        Key::Dimension => r.opt_string("dimension"),
        Key::Program => r.opt_string("program"),
        Key::Department => r.opt_string("department"),
        _ => r.opt_string("indicator"),
    };
    match value {
        None if required => r.problem(
            name,
            format!(
                "is missing; a {} page names its {name}, e.g. {}",
                spec.name, spec.example
            ),
        ),
        None => {}
        Some(id) if check(r, name, &id) => set(page, key, id),
        Some(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> PlanIds {
        PlanIds::of(&crate::config::Config::embedded().unwrap().masterplan)
    }

    #[test]
    fn the_embedded_screens_are_valid_for_the_embedded_plan() {
        let mut problems = Vec::new();
        let screens = parse_screens(EMBEDDED_SCREENS, "screens.toml", &ids(), &mut problems)
            .unwrap_or_else(|| panic!("{problems:?}"));
        assert!(screens.len() >= 2);
        // The example shows every kind of page.
        let kinds: HashSet<PageKind> = screens
            .iter()
            .flat_map(|s| s.pages.iter().map(|p| p.kind))
            .collect();
        assert_eq!(kinds.len(), PAGE_KINDS.len(), "{kinds:?}");
    }

    #[test]
    fn every_kind_in_the_table_has_its_name_listed() {
        for k in KINDS {
            assert!(PAGE_KINDS.contains(&k.name), "{}", k.name);
        }
        assert_eq!(KINDS.len(), PAGE_KINDS.len());
    }

    #[test]
    fn string_and_table_forms() {
        let text = r#"
[[screen]]
id = "wall-3"
label = "Komposisi"
interval_seconds = 25
pages = [
  "overview",
  "dimension:living",
  "program:living.health",
  "department:dinkes",
  "chart:living.health.stunting",
  "feeds",
  { kind = "program", program = "living.health", seconds = 40 },
  { kind = "numbers", indicators = ["living.health.stunting", "economy.welfare.poverty"], title = "Angka utama" },
  { kind = "numbers", indicators = ["living.health.stunting"] },
  { kind = "chart", indicator = "living.health.stunting" },
  { kind = "department", department = "dinkes" },
  { kind = "feeds", department = "dlh" },
  { kind = "quick-wins", dimension = "living" },
  { kind = "quick-wins", department = "dinkes" },
]
"#;
        let mut problems = Vec::new();
        let screens = parse_screens(text, "screens.toml", &ids(), &mut problems)
            .unwrap_or_else(|| panic!("{problems:?}"));
        let s = &screens[0];
        let page_ids: Vec<&str> = s.pages.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(
            page_ids,
            [
                "overview",
                "dimension:living",
                "program:living.health",
                "department:dinkes",
                "chart:living.health.stunting",
                "feeds",
                "program:living.health#2",
                "numbers",
                "numbers#2",
                "chart:living.health.stunting#2",
                "department:dinkes#2",
                "feeds:department=dlh",
                "quick-wins:dimension=living",
                "quick-wins:department=dinkes",
            ]
        );
        assert_eq!(s.seconds_of(&s.pages[0]), 25);
        assert_eq!(s.seconds_of(&s.pages[6]), 40);
        assert_eq!(s.pages[7].title.as_deref(), Some("Angka utama"));
        assert_eq!(s.pages[7].indicators.len(), 2);
        assert_eq!(s.pages[12].dimension.as_deref(), Some("living"));
        let json = serde_json::to_value(&s.pages[12]).unwrap();
        assert_eq!(json["kind"], "quick-wins");
        assert_eq!(json["dimension"], "living");
        assert!(json.get("program").is_none());
    }

    #[test]
    fn every_problem_is_reported() {
        let text = r#"
[[screen]]
id = "wall-1"
label = "A"
pages = ["overview", "dimension:nowhere", "charts", "program", 7]
interval_seconds = 0
[[screen]]
id = "wall-1"
label = "B"
pages = []
colour = "red"
[[screen]]
id = "wall-3"
label = "C"
pages = [
  { kind = "program" },
  { kind = "program", program = "living.nope", dimension = "living" },
  { kind = "numbers", indicators = [] },
  { kind = "numbers", indicators = ["living.health.stunting", "living.health.stunting", "x.y"] },
  { kind = "chart", indicator = "nope", seconds = 2 },
  { kind = "department", department = "dinkez" },
  { kind = "quick-wins", dimension = "nowhere", department = "dinkes" },
  { kind = "graph" },
  { program = "living.health" },
  { kind = "feeds", title = "Sumber data", colour = "red" },
]
"#;
        let mut problems = Vec::new();
        assert!(parse_screens(text, "screens.toml", &ids(), &mut problems).is_none());
        let all: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        let text = all.join("\n");
        for needle in [
            "pages[1]",
            "`dimension:nowhere` names no dimension",
            "`charts` is not a page",
            "`program` needs its program",
            "pages[4]`: must be a string such as",
            "interval_seconds",
            "used twice",
            "is empty",
            "`colour`",
            "screen wall-3, pages[0], field `program`: is missing",
            "screen wall-3, pages[1], field `program`: `living.nope` is not a program",
            "screen wall-3, pages[1], field `dimension`: is not a known key",
            "screen wall-3, pages[2], field `indicators`: lists 0 indicators",
            "screen wall-3, pages[3], field `indicators[1]`: `living.health.stunting` is listed twice",
            "screen wall-3, pages[3], field `indicators[2]`: `x.y` is not an indicator",
            "screen wall-3, pages[4], field `indicator`: `nope` is not an indicator",
            "screen wall-3, pages[4], field `seconds`: 2 is outside",
            "screen wall-3, pages[5], field `department`: `dinkez` is not a department",
            "screen wall-3, pages[6], field `dimension`: `nowhere` is not a dimension",
            "screen wall-3, pages[7], field `kind`: `graph` is not a kind of page",
            "screen wall-3, pages[8], field `kind`: is missing",
            "screen wall-3, pages[9], field `colour`",
        ] {
            assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
        }
    }

    #[test]
    fn ids_are_read_from_a_plan_with_problems() {
        let text = "[[dimension]]\nid = \"living\"\nname = 3\n[[program]]\nid = \"living.x\"\n[[department]]\nid = \"dinkes\"\n[[indicator]]\nid = \"living.x.y\"\nunit = []\n";
        let ids = PlanIds::declared(text);
        assert_eq!(ids.dimensions, ["living"]);
        assert_eq!(ids.programs, ["living.x"]);
        assert_eq!(ids.departments, ["dinkes"]);
        assert_eq!(ids.indicators, ["living.x.y"]);
        assert_eq!(PlanIds::declared("not toml ["), PlanIds::default());
    }
}
