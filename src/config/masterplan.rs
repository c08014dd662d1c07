//! Parses `masterplan.toml` into a validated `Masterplan`: departments, dimensions, programs,
//! indicators and feeds, with every broken reference, duplicate id, bad target, bad schedule or
//! URL and unknown key reported at once.

use super::Problem;
use super::table::FieldReader;
use crate::domain::{
    Cadence, Department, DepartmentId, Dimension, DimensionId, Direction, FeedId, Horizon, IdError,
    Indicator, IndicatorId, Kind, Masterplan, Pic, Program, ProgramId, Target, Tier,
};
use crate::feeds::{FeedFormat, FeedSpec, HeaderValue, Schedule};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

const SECTIONS: &[&str] = &["department", "dimension", "program", "indicator", "feed"];

/// Parses masterplan text; problems go to `problems`; `None` when any were found in this file.
///
/// `env` is the environment the daemon runs with: a feed header that reads `env:NAME` needs NAME
/// to be set there.
pub fn parse_masterplan(
    text: &str,
    file: &str,
    env: &[(String, String)],
    problems: &mut Vec<Problem>,
) -> Option<(Masterplan, Vec<FeedSpec>)> {
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
        if key == "revision_note" {
            continue;
        }
        if !SECTIONS.contains(&key.as_str()) {
            let hint = super::table::closest(key, SECTIONS)
                .map(|k| format!("did you mean `[[{k}]]`? "))
                .unwrap_or_default();
            problems.push(Problem {
                file: file.into(),
                item: "top level".into(),
                field: key.clone(),
                message: format!(
                    "is not a known section; {hint}the sections are [[department]], [[dimension]], [[program]], [[indicator]] and [[feed]]"
                ),
            });
        }
    }
    let items = |name: &str, problems: &mut Vec<Problem>| -> Vec<toml::Table> {
        match table.get(name) {
            None => Vec::new(),
            Some(toml::Value::Array(a)) => a
                .iter()
                .enumerate()
                .filter_map(|(i, v)| match v {
                    toml::Value::Table(t) => Some(t.clone()),
                    _ => {
                        problems.push(Problem {
                            file: file.into(),
                            item: format!("{name} #{}", i + 1),
                            field: String::new(),
                            message: format!(
                                "must be a table; write it as `[[{name}]]` followed by its keys"
                            ),
                        });
                        None
                    }
                })
                .collect(),
            Some(_) => {
                problems.push(Problem {
                    file: file.into(),
                    item: name.into(),
                    field: String::new(),
                    message: format!("must be a list of tables; write each entry as `[[{name}]]`"),
                });
                Vec::new()
            }
        }
    };
    let departments_t = items("department", problems);
    let dimensions_t = items("dimension", problems);
    let programs_t = items("program", problems);
    let indicators_t = items("indicator", problems);
    let feeds_t = items("feed", problems);

    let mut plan = Masterplan::default();
    let mut feeds = Vec::new();
    match table.get("revision_note") {
        None => {}
        Some(toml::Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= 200 => {
            plan.revision_note = Some(s.trim().to_string());
        }
        Some(_) => problems.push(Problem {
            file: file.into(),
            item: "top level".into(),
            field: "revision_note".into(),
            message: "must be a short text (at most 200 characters) saying what this version of the plan is, e.g. \"Perubahan RPJMD 2025\"".into(),
        }),
    }
    let mut seen = Seen::default();

    for (i, t) in departments_t.iter().enumerate() {
        let mut r = reader(file, "department", i, t, problems);
        let id = read_id(&mut r, &mut seen.departments, DepartmentId::parse);
        let name = r.string("name", "\"Dinas Kesehatan\"");
        let mut emails = Vec::new();
        if let Some(list) = r.opt_array("email") {
            for (k, v) in list.iter().enumerate() {
                match v.as_str().map(str::trim) {
                    Some(e) if is_email(e) => emails.push(e.to_string()),
                    _ => r.problem(
                        &format!("email[{k}]"),
                        "is not an e-mail address; write e.g. `email = [\"kepala@dinkes.mojokertokota.go.id\"]`",
                    ),
                }
            }
        }
        r.finish();
        if let (Some(id), Some(name)) = (id, name) {
            plan.departments.push(Department { id, name, emails });
        }
    }
    if departments_t.is_empty() {
        problems.push(Problem {
            file: file.into(),
            item: "[[department]]".into(),
            field: String::new(),
            message:
                "no departments are defined; add at least one `[[department]]` with `id` and `name`"
                    .into(),
        });
    }
    let department_ids: HashSet<String> = seen.departments.clone();

    for (i, t) in dimensions_t.iter().enumerate() {
        let mut r = reader(file, "dimension", i, t, problems);
        let id = read_id(&mut r, &mut seen.dimensions, DimensionId::parse);
        let name = r.string("name", "\"Smart Governance\"");
        let elements = r
            .opt_array("elements")
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let weight = read_weight(&mut r);
        r.finish();
        if let (Some(id), Some(name)) = (id, name) {
            plan.dimensions.push(Dimension {
                id,
                name,
                elements,
                weight,
            });
        }
    }

    let mut program_departments: HashMap<String, DepartmentId> = HashMap::new();
    for (i, t) in programs_t.iter().enumerate() {
        let mut r = reader(file, "program", i, t, problems);
        let id = read_id(&mut r, &mut seen.programs, ProgramId::parse);
        let dimension = read_ref(&mut r, "dimension", &seen.dimensions, "\"governance\"")
            .and_then(|s| DimensionId::parse(&s).ok());
        let name = r.string("name", "\"Mal Pelayanan Publik\"");
        let department = read_ref(&mut r, "department", &department_ids, "\"dpmptsp\"")
            .and_then(|s| DepartmentId::parse(&s).ok());
        let quick_win = r.opt_bool("quick_win").unwrap_or(false);
        let horizon = match r.opt_string("horizon") {
            Some(h) => match Horizon::parse(&h) {
                Some(h) => Some(h),
                None => {
                    r.problem(
                        "horizon",
                        format!(
                            "`{h}` is not a horizon; use one of: {}",
                            Horizon::NAMES.join(", ")
                        ),
                    );
                    None
                }
            },
            None if quick_win => Some(Horizon::QuickWin),
            None => {
                r.problem("horizon", "is missing; add it, e.g. `horizon = \"medium\"` (quick_win, short, medium or long)");
                None
            }
        };
        let start = r.date("start");
        let due = r.date("due");
        if let (Some(s), Some(d)) = (start, due) {
            if d < s {
                r.problem(
                    "due",
                    format!(
                        "{d} is before the start date {s}; the due date must come after the start"
                    ),
                );
            }
        }
        let weight = read_weight(&mut r);
        r.finish();
        if let (
            Some(id),
            Some(dimension),
            Some(name),
            Some(department),
            Some(horizon),
            Some(start),
            Some(due),
        ) = (id, dimension, name, department, horizon, start, due)
        {
            program_departments.insert(id.to_string(), department.clone());
            plan.programs.push(Program {
                id,
                dimension,
                name,
                department,
                quick_win,
                horizon,
                start,
                due,
                weight,
            });
        }
    }

    for (i, t) in indicators_t.iter().enumerate() {
        let mut r = reader(file, "indicator", i, t, problems);
        if let Some(ind) = read_indicator(&mut r, &mut seen, &department_ids, &program_departments)
        {
            plan.indicators.push(ind);
        }
        r.finish();
    }

    // Feeds are checked against every indicator the file declares, also those with problems of
    // their own, so that each broken reference shows in the same run as everything else.
    let indicator_departments = declared_indicator_departments(&programs_t, &indicators_t);
    for (i, t) in feeds_t.iter().enumerate() {
        let mut r = reader(file, "feed", i, t, problems);
        if let Some(feed) = read_feed(
            &mut r,
            &mut seen,
            &department_ids,
            &indicator_departments,
            env,
        ) {
            feeds.push(feed);
        }
        r.finish();
    }

    for program in &plan.programs {
        if !plan.indicators.iter().any(|i| i.program == program.id) {
            problems.push(Problem {
                file: file.into(),
                item: format!("program {}", program.id),
                field: String::new(),
                message: "has no indicators; add at least one `[[indicator]]` with this program, or remove the program".into(),
            });
        }
    }

    if problems.len() > before {
        None
    } else {
        Some((plan, feeds))
    }
}

/// A plausible e-mail address: one `@` with text on both sides, a dot in the domain, no spaces
/// or angle brackets (the SMTP library checks the rest when it sends).
fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && s.len() <= 254
        && !s
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '<' | '>' | ',' | ';'))
        && s.matches('@').count() == 1
}

/// The dimension ids a masterplan text declares, whatever else is wrong with it.
pub fn declared_dimension_ids(text: &str) -> Vec<String> {
    let Ok(table) = toml::from_str::<toml::Table>(text) else {
        return Vec::new();
    };
    table
        .get("dimension")
        .and_then(|d| d.as_array())
        .into_iter()
        .flatten()
        .filter_map(|d| d.get("id").and_then(|v| v.as_str()).map(String::from))
        .collect()
}

/// Every declared indicator id with its department as written (or its program's), from the raw
/// tables; None when neither names a department.
fn declared_indicator_departments(
    programs: &[toml::Table],
    indicators: &[toml::Table],
) -> HashMap<String, Option<String>> {
    let text = |t: &toml::Table, k: &str| t.get(k).and_then(|v| v.as_str()).map(String::from);
    let program_departments: HashMap<String, String> = programs
        .iter()
        .filter_map(|p| Some((text(p, "id")?, text(p, "department")?)))
        .collect();
    indicators
        .iter()
        .filter_map(|i| {
            let id = text(i, "id")?;
            let department = text(i, "department")
                .or_else(|| text(i, "program").and_then(|p| program_departments.get(&p).cloned()));
            Some((id, department))
        })
        .collect()
}

/// The indicator ids a feed's mapping table names (`indicator = "..."` at any depth and the
/// targets of `rename`), read from the raw table so they are checked even when the mapping has
/// other problems.
fn mapped_indicators(mapping: &toml::Value, out: &mut Vec<String>) {
    match mapping {
        toml::Value::Table(t) => {
            for (k, v) in t {
                match (k.as_str(), v) {
                    ("indicator", toml::Value::String(s)) => out.push(s.clone()),
                    ("rename", toml::Value::Table(r)) => {
                        out.extend(r.values().filter_map(|v| v.as_str()).map(String::from))
                    }
                    _ => mapped_indicators(v, out),
                }
            }
        }
        toml::Value::Array(a) => {
            for v in a {
                mapped_indicators(v, out);
            }
        }
        _ => {}
    }
}

#[derive(Default)]
struct Seen {
    departments: HashSet<String>,
    dimensions: HashSet<String>,
    programs: HashSet<String>,
    indicators: HashSet<String>,
    feeds: HashSet<String>,
}

fn reader<'a>(
    file: &'a str,
    kind: &str,
    index: usize,
    t: &'a toml::Table,
    problems: &'a mut Vec<Problem>,
) -> FieldReader<'a> {
    let item = match t.get("id").and_then(|v| v.as_str()) {
        Some(id) => format!("{kind} {id}"),
        None => format!("{kind} #{}", index + 1),
    };
    FieldReader::new(file, item, t, problems)
}

fn read_id<T>(
    r: &mut FieldReader<'_>,
    seen: &mut HashSet<String>,
    parse: fn(&str) -> Result<T, IdError>,
) -> Option<T> {
    let text = r.string("id", "\"dinkes\"")?;
    match parse(&text) {
        Err(e) => {
            r.problem("id", e.to_string());
            None
        }
        Ok(id) => {
            if !seen.insert(text.clone()) {
                r.problem(
                    "id",
                    format!("`{text}` is used twice; give each entry its own id"),
                );
                None
            } else {
                Some(id)
            }
        }
    }
}

fn read_ref(
    r: &mut FieldReader<'_>,
    key: &'static str,
    known: &HashSet<String>,
    example: &str,
) -> Option<String> {
    let value = r.string(key, example)?;
    if known.contains(&value) {
        Some(value)
    } else {
        let mut ids: Vec<&str> = known.iter().map(String::as_str).collect();
        ids.sort();
        let hint = super::table::closest(&value, &ids)
            .map(|k| format!("did you mean `{k}`? "))
            .unwrap_or_default();
        r.problem(
            key,
            format!(
                "refers to unknown {key} `{value}`; {hint}define it first or use one of: {}",
                ids.join(", ")
            ),
        );
        None
    }
}

fn read_weight(r: &mut FieldReader<'_>) -> f64 {
    match r.opt_number("weight") {
        None => 1.0,
        Some(w) if w >= 0.0 => w,
        Some(w) => {
            r.problem(
                "weight",
                format!("is {w}; a weight must be 0 or more (default 1)"),
            );
            1.0
        }
    }
}

fn read_target(r: &mut FieldReader<'_>, field: &str, v: &toml::Value) -> Option<Target> {
    let Some(t) = v.as_table() else {
        r.problem(
            field,
            "must be a table such as `{ date = 2023-12-31, value = 40.0 }`",
        );
        return None;
    };
    for key in t.keys() {
        if key != "date" && key != "value" {
            r.problem(
                &format!("{field}.{key}"),
                "is not a known key; a target has only `date` and `value`",
            );
        }
    }
    let date = match t.get("date") {
        Some(d) => r.as_date(&format!("{field}.date"), d),
        None => {
            r.problem(
                &format!("{field}.date"),
                "is missing; add e.g. `date = 2023-12-31`",
            );
            None
        }
    };
    let value = match t.get("value") {
        Some(v) => r.as_number(&format!("{field}.value"), v),
        None => {
            r.problem(
                &format!("{field}.value"),
                "is missing; add e.g. `value = 40.0`",
            );
            None
        }
    };
    Some(Target {
        date: date?,
        value: value?,
    })
}

fn read_indicator(
    r: &mut FieldReader<'_>,
    seen: &mut Seen,
    departments: &HashSet<String>,
    program_departments: &HashMap<String, DepartmentId>,
) -> Option<Indicator> {
    let id = read_id(r, &mut seen.indicators, IndicatorId::parse);
    let program = read_ref(r, "program", &seen.programs, "\"gov.spbe\"");
    let name = r.string("name", "\"Indeks SPBE\"");
    let code = r.opt_string("code").map(|c| c.trim().to_string());
    if code
        .as_deref()
        .is_some_and(|c| c.is_empty() || c.chars().count() > 32)
    {
        r.problem("code", "must be 1 to 32 characters, e.g. `IKU-3.1`");
    }
    let tier = match r.opt_string("tier") {
        None => None,
        Some(t) => match Tier::parse(&t) {
            Some(t) => Some(t),
            None => {
                r.problem(
                    "tier",
                    format!(
                        "`{t}` is not a tier; use one of: {}",
                        Tier::NAMES.join(", ")
                    ),
                );
                None
            }
        },
    };
    let pic = match r.opt_table("pic") {
        None => None,
        Some(t) => {
            let text = |k: &str| t.get(k).and_then(|v| v.as_str()).map(str::trim);
            match (text("nama"), text("jabatan")) {
                (Some(nama), Some(jabatan)) if !nama.is_empty() && !jabatan.is_empty() => {
                    if let Some(extra) = t.keys().find(|k| *k != "nama" && *k != "jabatan") {
                        r.problem(
                            &format!("pic.{extra}"),
                            "is not a known key; `pic` has `nama` and `jabatan`",
                        );
                    }
                    Some(Pic {
                        nama: nama.to_string(),
                        jabatan: jabatan.to_string(),
                    })
                }
                _ => {
                    r.problem(
                        "pic",
                        "needs `nama` and `jabatan`, e.g. `pic = { nama = \"dr. Ani\", jabatan = \"Kepala Bidang Kesmas\" }`",
                    );
                    None
                }
            }
        }
    };
    let source = r.opt_string("source").map(|s| s.trim().to_string());
    let unit = r.string("unit", "\"persen\"");
    let department = match r.opt_string("department") {
        Some(d) if departments.contains(&d) => DepartmentId::parse(&d).ok(),
        Some(d) => {
            r.problem("department", format!("refers to unknown department `{d}`; define it in a `[[department]]` or remove the key to use the program's"));
            None
        }
        None => program
            .as_ref()
            .and_then(|p| program_departments.get(p).cloned()),
    };
    let direction = r.string("direction", "\"increase\"").and_then(|d| {
        let parsed = Direction::parse(&d);
        if parsed.is_none() {
            r.problem(
                "direction",
                format!(
                    "`{d}` is not a direction; use one of: {}",
                    Direction::NAMES.join(", ")
                ),
            );
        }
        parsed
    });
    let kind = match r.opt_string("kind") {
        None => Some(Kind::Level),
        Some(k) => {
            let parsed = Kind::parse(&k);
            if parsed.is_none() {
                r.problem("kind", format!("`{k}` is not a kind; use `level` (the latest value counts), `cumulative` (values add up on top of the baseline) or `cumulative_yearly` (values add up within each year)"));
            }
            parsed
        }
    };
    let tolerance = r.opt_number("tolerance");
    match (direction, tolerance) {
        (Some(Direction::Maintain), None) => r.problem(
            "tolerance",
            "is missing; a `maintain` indicator needs how far from its target still counts as on track, e.g. `tolerance = 0.5`",
        ),
        (Some(Direction::Maintain), Some(t)) if t < 0.0 => {
            r.problem("tolerance", "must be 0 or more")
        }
        (Some(d), Some(_)) if d != Direction::Maintain => r.problem(
            "tolerance",
            "only applies to `direction = \"maintain\"`; remove it or change the direction",
        ),
        _ => {}
    }
    if let (Some(Kind::CumulativeYearly), Some(Direction::Decrease)) = (kind, direction) {
        r.problem(
            "direction",
            "a `cumulative_yearly` total starts again at 0 each year, so it cannot fall from a baseline; for a yearly limit use `direction = \"at_most\"`",
        );
    }
    let baseline = match r.opt_value("baseline") {
        Some(v) => read_target(r, "baseline", v),
        None => {
            r.problem(
                "baseline",
                "is missing; add e.g. `baseline = { date = 2022-12-31, value = 12.5 }`",
            );
            None
        }
    };
    let mut targets = Vec::new();
    let mut targets_ok = true;
    match r.opt_array("targets") {
        Some(list) if !list.is_empty() => {
            for (i, v) in list.iter().enumerate() {
                match read_target(r, &format!("targets[{i}]"), v) {
                    Some(t) => targets.push(t),
                    None => targets_ok = false,
                }
            }
        }
        Some(_) | None => {
            r.problem("targets", "needs at least one target; add e.g. `targets = [{ date = 2027-12-31, value = 90.0 }]`");
            targets_ok = false;
        }
    }
    if let Some(b) = baseline {
        let mut previous = b.date;
        for (i, t) in targets.iter().enumerate() {
            if t.date <= previous {
                let what = if i == 0 {
                    "the baseline date"
                } else {
                    "the previous target's date"
                };
                r.problem(
                    &format!("targets[{i}].date"),
                    format!("{} is not after {what} {previous}; list targets in date order, each after the one before", t.date),
                );
                targets_ok = false;
            }
            previous = previous.max(t.date);
        }
        if let (Some(Kind::CumulativeYearly), Some(Direction::Increase)) = (kind, direction) {
            for (i, t) in targets.iter().enumerate() {
                if t.value.is_nan() || t.value <= 0.0 {
                    r.problem(
                        &format!("targets[{i}].value"),
                        format!("{} is not above 0; a year's target total must be above 0 for a `cumulative_yearly` indicator that increases", t.value),
                    );
                    targets_ok = false;
                }
            }
        }
        let measured_from_baseline = kind != Some(Kind::CumulativeYearly);
        if let (Some(dir), Some(last), true) = (direction, targets.last(), measured_from_baseline) {
            let n = targets.len() - 1;
            match dir {
                Direction::Increase | Direction::Decrease if last.value == b.value => {
                    r.problem(&format!("targets[{n}].value"), format!("the final target equals the baseline value {}; progress cannot be measured, so set a different target or use `direction = \"maintain\"`", b.value));
                    targets_ok = false;
                }
                Direction::Increase if last.value < b.value => {
                    r.problem(&format!("targets[{n}].value"), format!("the final target {} is below the baseline {} but the direction is `increase`; use `decrease` or fix the values", last.value, b.value));
                    targets_ok = false;
                }
                Direction::Decrease if last.value > b.value => {
                    r.problem(&format!("targets[{n}].value"), format!("the final target {} is above the baseline {} but the direction is `decrease`; use `increase` or fix the values", last.value, b.value));
                    targets_ok = false;
                }
                _ => {}
            }
        }
    }
    let update_every = match r.string("update_every", "\"1mo\"") {
        Some(text) => match Cadence::parse(&text) {
            Ok(c) => Some(c),
            Err(e) => {
                r.problem("update_every", e);
                None
            }
        },
        None => None,
    };
    let weight = read_weight(r);
    let min = r.opt_number("min");
    let max = r.opt_number("max");
    if let (Some(lo), Some(hi)) = (min, max) {
        if lo > hi {
            r.problem(
                "min",
                format!("min {lo} is greater than max {hi}; swap them"),
            );
        }
    }
    Some(Indicator {
        id: id?,
        program: ProgramId::parse(&program?).ok()?,
        name: name?,
        code,
        tier,
        pic,
        source,
        unit: unit?,
        department: department?,
        direction: direction?,
        tolerance: tolerance.unwrap_or(0.0).max(0.0),
        kind: kind?,
        baseline: baseline?,
        targets: if targets_ok { targets } else { return None },
        update_every: update_every?,
        weight,
        min,
        max,
    })
}

/// Parses `10s`, `2m`, `500ms` style durations.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{t}` is not a duration; write e.g. `10s`, `500ms` or `2m`"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        // Saturates; anything that large is refused below.
        "m" => Duration::from_secs(n.saturating_mul(60)),
        _ => {
            return Err(format!(
                "`{t}` has no known unit; write e.g. `10s`, `500ms` or `2m`"
            ));
        }
    };
    if d.is_zero() {
        return Err(format!(
            "`{t}` is zero; give a positive duration such as `10s`"
        ));
    }
    // A timeout beyond a day is a typo, and a deadline that far ahead overflows timers.
    if d > Duration::from_secs(86_400) {
        return Err(format!(
            "`{t}` is longer than a day; write e.g. `10s`, `500ms` or `2m`"
        ));
    }
    Ok(d)
}

fn read_feed(
    r: &mut FieldReader<'_>,
    seen: &mut Seen,
    departments: &HashSet<String>,
    indicator_departments: &HashMap<String, Option<String>>,
    env: &[(String, String)],
) -> Option<FeedSpec> {
    let id = read_id(r, &mut seen.feeds, FeedId::parse);
    let department = read_ref(r, "department", departments, "\"dlh\"")
        .and_then(|d| DepartmentId::parse(&d).ok());
    let url = r.string("url", "\"https://data.example.go.id/api/ispu\"").and_then(|u| {
        match reqwest::Url::parse(&u) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Some(url),
            Ok(url) => {
                r.problem("url", format!("`{u}` uses `{}`; only http:// and https:// URLs with a host can be polled", url.scheme()));
                None
            }
            Err(e) => {
                r.problem("url", format!("`{u}` is not a URL ({e}); write the full address, e.g. `https://data.example.go.id/api/ispu`"));
                None
            }
        }
    });
    let schedule =
        r.string("schedule", "\"*/5 * * * *\"")
            .and_then(|s| match Schedule::parse(&s) {
                Ok(s) => Some(s),
                Err(e) => {
                    r.problem("schedule", e);
                    None
                }
            });
    let timeout = match r.opt_string("timeout") {
        None => Some(Duration::from_secs(30)),
        Some(t) => match parse_duration(&t) {
            Ok(d) => Some(d),
            Err(e) => {
                r.problem("timeout", e);
                None
            }
        },
    };
    let run_at_start = r.opt_bool("run_at_start").unwrap_or(true);
    let max_bytes = match r.opt_integer("max_bytes") {
        None => 16 * 1024 * 1024,
        Some(n) if n > 0 => n as u64,
        Some(n) => {
            r.problem(
                "max_bytes",
                format!("must be a positive number of bytes, found {n}"),
            );
            1
        }
    };
    let retries = match r.opt_integer("retries") {
        None => 2,
        Some(n) if (0..=10).contains(&n) => n as u32,
        Some(n) => {
            r.problem("retries", format!("must be between 0 and 10, found {n}"));
            0
        }
    };
    let mut headers = Vec::new();
    if let Some(t) = r.opt_table("headers") {
        for (name, v) in t {
            match v.as_str() {
                Some(s) => {
                    let value = match s.strip_prefix("env:") {
                        Some(var) => {
                            if var.is_empty() {
                                r.problem(
                                    &format!("headers.{name}"),
                                    "`env:` names no variable; write `env:NAME` with the environment variable that holds the value",
                                );
                            } else if !env.iter().any(|(k, _)| k == var) {
                                r.problem(
                                    &format!("headers.{name}"),
                                    format!("reads environment variable `{var}`, which is not set; set it where pantau runs (the shell, or the service's EnvironmentFile) before starting it"),
                                );
                            }
                            HeaderValue::Env(var.to_string())
                        }
                        None => HeaderValue::Literal(s.to_string()),
                    };
                    if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                        r.problem(
                            &format!("headers.{name}"),
                            "is not a valid HTTP header name",
                        );
                    }
                    headers.push((name.clone(), value));
                }
                None => r.problem(
                    &format!("headers.{name}"),
                    "must be a string (or `env:NAME` to read an environment variable)",
                ),
            }
        }
    }
    let format_name = r.string("format", "\"json\"");
    let mut sub_tables = Vec::new();
    for name in FeedFormat::NAMES {
        if let Some(v) = r.opt_value(name) {
            sub_tables.push((*name, v.clone()));
        }
    }
    let mut referenced = Vec::new();
    for (_, table) in &sub_tables {
        mapped_indicators(table, &mut referenced);
    }
    let format = format_name.and_then(|f| {
        if !FeedFormat::NAMES.contains(&f.as_str()) {
            r.problem("format", format!("`{f}` is not a feed format; use one of: {}", FeedFormat::NAMES.join(", ")));
            return None;
        }
        for (name, _) in &sub_tables {
            if *name != f {
                r.problem(name, format!("is a `{name}` mapping but the feed's format is `{f}`; remove it or change `format`"));
            }
        }
        let table = sub_tables.iter().find(|(n, _)| *n == f).map(|(_, v)| v.clone());
        match FeedFormat::from_config(&f, table) {
            Ok(format) => Some(format),
            Err(list) => {
                for (field, message) in list {
                    r.problem(&field, message);
                }
                None
            }
        }
    });
    let mapping_name = sub_tables.first().map_or("format", |(n, _)| *n);
    referenced.dedup();
    for ind in referenced {
        match indicator_departments.get(&ind) {
            None => r.problem(mapping_name, format!("maps to unknown indicator `{ind}`; define it in an `[[indicator]]` or fix the id")),
            Some(Some(owner)) => {
                if let Some(dept) = &department {
                    if owner != dept.as_str() {
                        r.problem(
                            mapping_name,
                            format!("maps to indicator `{ind}`, which belongs to department `{owner}`, not to this feed's department `{dept}`; a feed may only write its own department's indicators"),
                        );
                    }
                }
            }
            Some(None) => {}
        }
    }
    Some(FeedSpec {
        id: id?,
        department: department?,
        url: url?,
        format: format?,
        schedule: schedule?,
        timeout: timeout?,
        run_at_start,
        headers,
        max_bytes,
        retries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[[department]]
id = "bapenda"
name = "Badan Pendapatan Daerah"
[[dimension]]
id = "economy"
name = "Smart Economy"
[[program]]
id = "economy.tax"
dimension = "economy"
name = "Pajak Daerah"
department = "bapenda"
horizon = "medium"
start = 2023-01-01
due = 2027-12-31
"#;

    fn problems_of(indicator: &str) -> Vec<String> {
        let text = format!(
            "{BASE}\n[[indicator]]\nid = \"economy.tax.x\"\nprogram = \"economy.tax\"\nname = \"X\"\nunit = \"Rp\"\nupdate_every = \"1mo\"\n{indicator}"
        );
        let mut problems = Vec::new();
        let parsed = parse_masterplan(&text, "masterplan.toml", &[], &mut problems);
        assert_eq!(parsed.is_some(), problems.is_empty());
        problems.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn the_new_model_fields_are_read() {
        let text = format!(
            "{BASE}\n[[indicator]]\nid = \"economy.tax.pad\"\nprogram = \"economy.tax\"\nname = \"Realisasi PAD\"\ncode = \"IKU-3.1\"\ntier = \"outcome\"\npic = {{ nama = \"Hadi\", jabatan = \"Kabid Pendapatan\" }}\nsource = \"SIPD\"\nunit = \"Rp\"\ndirection = \"increase\"\nkind = \"cumulative_yearly\"\nbaseline = {{ date = 2022-12-31, value = 231.0 }}\ntargets = [{{ date = 2023-12-31, value = 245.0 }}, {{ date = 2024-03-31, value = 60.0 }}, {{ date = 2024-12-31, value = 260.0 }}]\nupdate_every = \"1mo\"\n"
        );
        let mut problems = Vec::new();
        let (plan, _) = parse_masterplan(&text, "masterplan.toml", &[], &mut problems)
            .unwrap_or_else(|| panic!("{problems:?}"));
        let ind = &plan.indicators[0];
        assert_eq!(ind.code.as_deref(), Some("IKU-3.1"));
        assert_eq!(ind.tier, Some(Tier::Outcome));
        assert_eq!(
            ind.pic.as_ref().map(|p| p.jabatan.as_str()),
            Some("Kabid Pendapatan")
        );
        assert_eq!(ind.source.as_deref(), Some("SIPD"));
        assert_eq!(ind.kind, Kind::CumulativeYearly);
        // Quarterly targets lie below the previous year's total: fine for year-to-date totals.
        assert_eq!(ind.target_years(), vec![2023, 2024]);
        assert_eq!(ind.target_of_year(2024).map(|t| t.value), Some(260.0));
    }

    #[test]
    fn the_new_model_is_checked() {
        let yearly_down = problems_of(
            "direction = \"decrease\"\nkind = \"cumulative_yearly\"\nbaseline = { date = 2022-12-31, value = 10.0 }\ntargets = [{ date = 2023-12-31, value = 5.0 }]\n",
        );
        assert!(
            yearly_down.iter().any(|p| p.contains("at_most")),
            "{yearly_down:?}"
        );
        let yearly_zero = problems_of(
            "direction = \"increase\"\nkind = \"cumulative_yearly\"\nbaseline = { date = 2022-12-31, value = 10.0 }\ntargets = [{ date = 2023-12-31, value = 0.0 }]\n",
        );
        assert!(
            yearly_zero.iter().any(|p| p.contains("targets[0].value")),
            "{yearly_zero:?}"
        );
        let threshold_tolerance = problems_of(
            "direction = \"at_least\"\ntolerance = 1.0\nbaseline = { date = 2022-12-31, value = 98.0 }\ntargets = [{ date = 2023-12-31, value = 99.5 }]\n",
        );
        assert!(threshold_tolerance.iter().any(|p| p.contains("tolerance")));
        // A threshold equal to the baseline is fine: it is met or not.
        assert!(problems_of(
            "direction = \"at_most\"\nbaseline = { date = 2022-12-31, value = 50.0 }\ntargets = [{ date = 2023-12-31, value = 50.0 }]\n",
        )
        .is_empty());
        let bad = problems_of(
            "direction = \"upward\"\ntier = \"input\"\npic = { nama = \"A\" }\ncode = \"\"\nbaseline = { date = 2022-12-31, value = 1.0 }\ntargets = [{ date = 2023-12-31, value = 2.0 }]\n",
        );
        for needle in [
            "direction",
            "at_least",
            "`input` is not a tier",
            "`pic`",
            "`code`",
        ] {
            assert!(
                bad.iter().any(|p| p.contains(needle)),
                "missing {needle} in {bad:?}"
            );
        }
    }
}
