//! Plan versions: the masterplan's canonical form (JSON with a stable order) and its hash, and the
//! changes from one version to the next as planners read them — indicators and programs added
//! or removed, baselines and targets changed from → to (perubahan RPJMD). Pure code: the daemon
//! records a version in the database whenever the plan it loads differs from the last one; a
//! revised `revision_note` alone is a new version too (planners record a revision by its note).

use crate::config::Locale;
use crate::domain::Masterplan;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The plan as recorded: its canonical JSON and the SHA-256 of it (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canonical {
    pub json: String,
    pub hash: String,
}

/// The canonical form of a plan: departments, dimensions, programs and indicators in the order
/// the plan lists them, every field included, and its revision note when it has one (so a plan
/// without a note hashes as it did before notes counted). Two loads of the same plan give the
/// same hash.
pub fn canonical(plan: &Masterplan) -> Canonical {
    let mut value = serde_json::json!({
        "departments": plan.departments,
        "dimensions": plan.dimensions,
        "programs": plan.programs,
        "indicators": plan.indicators,
    });
    if let Some(note) = &plan.revision_note {
        value["revision_note"] = Value::String(note.clone());
    }
    let json = serde_json::to_string(&value).unwrap_or_default();
    let hash = hex::encode(Sha256::digest(json.as_bytes()));
    Canonical { json, hash }
}

/// One change between two versions of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PlanChange {
    IndicatorAdded {
        indicator: String,
        name: String,
    },
    IndicatorRemoved {
        indicator: String,
        name: String,
    },
    ProgramAdded {
        program: String,
        name: String,
    },
    ProgramRemoved {
        program: String,
        name: String,
    },
    BaselineChanged {
        indicator: String,
        name: String,
        from: DatedValue,
        to: DatedValue,
    },
    TargetChanged {
        indicator: String,
        name: String,
        date: String,
        from: f64,
        to: f64,
    },
    TargetAdded {
        indicator: String,
        name: String,
        date: String,
        value: f64,
    },
    TargetRemoved {
        indicator: String,
        name: String,
        date: String,
        value: f64,
    },
}

/// A date and a value, as the plan writes baselines and targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatedValue {
    pub date: String,
    pub value: f64,
}

impl PlanChange {
    /// The indicator it is about, if any.
    pub fn indicator(&self) -> Option<&str> {
        match self {
            PlanChange::IndicatorAdded { indicator, .. }
            | PlanChange::IndicatorRemoved { indicator, .. }
            | PlanChange::BaselineChanged { indicator, .. }
            | PlanChange::TargetChanged { indicator, .. }
            | PlanChange::TargetAdded { indicator, .. }
            | PlanChange::TargetRemoved { indicator, .. } => Some(indicator),
            _ => None,
        }
    }

    /// How a planner says it: "Target 2025 diubah dari 90 menjadi 85".
    pub fn text(&self, locale: Locale) -> String {
        let n = |x: f64| crate::locale::format_number(x, decimals(x), locale);
        let year = |d: &str| target_label(d, locale);
        match (self, locale) {
            (PlanChange::IndicatorAdded { name, .. }, Locale::Id) => {
                format!("Indikator baru: {name}")
            }
            (PlanChange::IndicatorAdded { name, .. }, Locale::En) => {
                format!("New indicator: {name}")
            }
            (PlanChange::IndicatorRemoved { name, .. }, Locale::Id) => {
                format!("Indikator dihapus: {name}")
            }
            (PlanChange::IndicatorRemoved { name, .. }, Locale::En) => {
                format!("Indicator removed: {name}")
            }
            (PlanChange::ProgramAdded { name, .. }, Locale::Id) => format!("Program baru: {name}"),
            (PlanChange::ProgramAdded { name, .. }, Locale::En) => format!("New program: {name}"),
            (PlanChange::ProgramRemoved { name, .. }, Locale::Id) => {
                format!("Program dihapus: {name}")
            }
            (PlanChange::ProgramRemoved { name, .. }, Locale::En) => {
                format!("Program removed: {name}")
            }
            (PlanChange::BaselineChanged { from, to, .. }, Locale::Id) => format!(
                "Baseline diubah dari {} ({}) menjadi {} ({})",
                n(from.value),
                from.date,
                n(to.value),
                to.date
            ),
            (PlanChange::BaselineChanged { from, to, .. }, Locale::En) => format!(
                "Baseline changed from {} ({}) to {} ({})",
                n(from.value),
                from.date,
                n(to.value),
                to.date
            ),
            (PlanChange::TargetChanged { date, from, to, .. }, Locale::Id) => {
                format!("{} diubah dari {} menjadi {}", year(date), n(*from), n(*to))
            }
            (PlanChange::TargetChanged { date, from, to, .. }, Locale::En) => {
                format!("{} changed from {} to {}", year(date), n(*from), n(*to))
            }
            (PlanChange::TargetAdded { date, value, .. }, Locale::Id) => {
                format!("{} ditambahkan: {}", year(date), n(*value))
            }
            (PlanChange::TargetAdded { date, value, .. }, Locale::En) => {
                format!("{} added: {}", year(date), n(*value))
            }
            (PlanChange::TargetRemoved { date, value, .. }, Locale::Id) => {
                format!("{} dihapus (sebelumnya {})", year(date), n(*value))
            }
            (PlanChange::TargetRemoved { date, value, .. }, Locale::En) => {
                format!("{} removed (was {})", year(date), n(*value))
            }
        }
    }
}

/// "Target 2025" for a year-end target, "Target TW II 2025" for a quarter's end, else the date.
fn target_label(date: &str, locale: Locale) -> String {
    let word = match locale {
        Locale::Id => "Target",
        Locale::En => "Target",
    };
    match chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d") {
        Ok(d) => {
            use chrono::Datelike;
            let quarter_end = [(3, 31), (6, 30), (9, 30)];
            if (d.month(), d.day()) == (12, 31) {
                format!("{word} {}", d.year())
            } else if let Some(q) = quarter_end.iter().position(|e| *e == (d.month(), d.day())) {
                format!("{word} TW {} {}", ["I", "II", "III"][q], d.year())
            } else {
                format!("{word} {date}")
            }
        }
        Err(_) => format!("{word} {date}"),
    }
}

fn decimals(x: f64) -> usize {
    if (x - x.round()).abs() < 1e-9 {
        0
    } else if (x * 10.0 - (x * 10.0).round()).abs() < 1e-9 {
        1
    } else {
        2
    }
}

fn by_id<'a>(v: &'a Value, list: &str) -> Vec<(&'a str, &'a Value)> {
    v[list]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item["id"].as_str().map(|id| (id, item)))
        .collect()
}

fn dated(v: &Value) -> Option<DatedValue> {
    Some(DatedValue {
        date: v["date"].as_str()?.to_string(),
        value: v["value"].as_f64()?,
    })
}

/// The changes from `before` to `after` (canonical JSON of each), in plan order: removals,
/// additions, then each kept indicator's baseline and targets.
pub fn diff(before: &Value, after: &Value) -> Vec<PlanChange> {
    let mut out = Vec::new();
    let name = |v: &Value| v["name"].as_str().unwrap_or_default().to_string();
    let (old_programs, new_programs) = (by_id(before, "programs"), by_id(after, "programs"));
    for (id, p) in &old_programs {
        if !new_programs.iter().any(|(n, _)| n == id) {
            out.push(PlanChange::ProgramRemoved {
                program: id.to_string(),
                name: name(p),
            });
        }
    }
    for (id, p) in &new_programs {
        if !old_programs.iter().any(|(o, _)| o == id) {
            out.push(PlanChange::ProgramAdded {
                program: id.to_string(),
                name: name(p),
            });
        }
    }
    let (old, new) = (by_id(before, "indicators"), by_id(after, "indicators"));
    for (id, i) in &old {
        if !new.iter().any(|(n, _)| n == id) {
            out.push(PlanChange::IndicatorRemoved {
                indicator: id.to_string(),
                name: name(i),
            });
        }
    }
    for (id, i) in &new {
        let Some((_, was)) = old.iter().find(|(o, _)| o == id) else {
            out.push(PlanChange::IndicatorAdded {
                indicator: id.to_string(),
                name: name(i),
            });
            continue;
        };
        if let (Some(from), Some(to)) = (dated(&was["baseline"]), dated(&i["baseline"])) {
            if from != to {
                out.push(PlanChange::BaselineChanged {
                    indicator: id.to_string(),
                    name: name(i),
                    from,
                    to,
                });
            }
        }
        let targets = |v: &Value| -> Vec<DatedValue> {
            v["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(dated)
                .collect()
        };
        let (from, to) = (targets(was), targets(i));
        for t in &to {
            match from.iter().find(|f| f.date == t.date) {
                Some(f) if f.value != t.value => out.push(PlanChange::TargetChanged {
                    indicator: id.to_string(),
                    name: name(i),
                    date: t.date.clone(),
                    from: f.value,
                    to: t.value,
                }),
                Some(_) => {}
                None => out.push(PlanChange::TargetAdded {
                    indicator: id.to_string(),
                    name: name(i),
                    date: t.date.clone(),
                    value: t.value,
                }),
            }
        }
        for f in &from {
            if !to.iter().any(|t| t.date == f.date) {
                out.push(PlanChange::TargetRemoved {
                    indicator: id.to_string(),
                    name: name(i),
                    date: f.date.clone(),
                    value: f.value,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(targets: &str, extra: &str) -> Masterplan {
        let text = format!(
            r#"
[[department]]
id = "dinkes"
name = "Dinas Kesehatan"
[[dimension]]
id = "living"
name = "Smart Living"
[[program]]
id = "living.health"
dimension = "living"
name = "Kota Sehat"
department = "dinkes"
horizon = "short"
start = 2023-01-01
due = 2027-12-31
[[indicator]]
id = "living.health.imunisasi"
program = "living.health"
name = "Cakupan imunisasi"
unit = "persen"
direction = "increase"
baseline = {{ date = 2022-12-31, value = 70.0 }}
targets = {targets}
update_every = "1mo"
{extra}"#
        );
        let mut problems = Vec::new();
        crate::config::parse_masterplan(&text, "masterplan.toml", &[], &mut problems)
            .unwrap_or_else(|| panic!("{problems:?}"))
            .0
    }

    #[test]
    fn the_same_plan_has_the_same_hash() {
        let a = canonical(&plan("[{ date = 2025-12-31, value = 90.0 }]", ""));
        let b = canonical(&plan("[{ date = 2025-12-31, value = 90.0 }]", ""));
        assert_eq!(a, b);
        let c = canonical(&plan("[{ date = 2025-12-31, value = 85.0 }]", ""));
        assert_ne!(a.hash, c.hash);
        assert_eq!(a.hash.len(), 64);
        // A revised note alone is another version; no note hashes as the plan's parts alone.
        let mut noted = plan("[{ date = 2025-12-31, value = 90.0 }]", "");
        noted.revision_note = Some("Perubahan RPJMD 2025".into());
        let n = canonical(&noted);
        assert_ne!(n.hash, a.hash);
        noted.revision_note = Some("Perubahan kedua".into());
        assert_ne!(canonical(&noted).hash, n.hash);
        assert!(!a.json.contains("revision_note"), "{}", a.json);
    }

    #[test]
    fn changes_read_as_planners_write_them() {
        let before = canonical(&plan(
            "[{ date = 2025-06-30, value = 80.0 }, { date = 2025-12-31, value = 90.0 }, { date = 2026-12-31, value = 95.0 }]",
            "",
        ));
        let after = canonical(&plan(
            "[{ date = 2025-06-30, value = 80.0 }, { date = 2025-12-31, value = 85.0 }, { date = 2027-12-31, value = 97.5 }]",
            "[[indicator]]\nid = \"living.health.posyandu\"\nprogram = \"living.health\"\nname = \"Posyandu aktif\"\nunit = \"unit\"\ndirection = \"increase\"\nbaseline = { date = 2022-12-31, value = 10.0 }\ntargets = [{ date = 2027-12-31, value = 20.0 }]\nupdate_every = \"1mo\"\n",
        ));
        let b: Value = serde_json::from_str(&before.json).unwrap();
        let a: Value = serde_json::from_str(&after.json).unwrap();
        let changes = diff(&b, &a);
        let texts: Vec<String> = changes.iter().map(|c| c.text(Locale::Id)).collect();
        assert_eq!(
            texts,
            vec![
                "Target 2025 diubah dari 90 menjadi 85",
                "Target 2027 ditambahkan: 97,5",
                "Target 2026 dihapus (sebelumnya 95)",
                "Indikator baru: Posyandu aktif",
            ]
        );
        assert_eq!(changes[0].indicator(), Some("living.health.imunisasi"));
        assert_eq!(
            changes[0].text(Locale::En),
            "Target 2025 changed from 90 to 85"
        );
        // Removing it again is a removal.
        let back = diff(&a, &b);
        assert!(
            back.iter()
                .any(|c| matches!(c, PlanChange::IndicatorRemoved { .. }))
        );
        assert_eq!(target_label("2025-06-30", Locale::Id), "Target TW II 2025");
    }
}
