//! A plan as read from a workbook, before validation: plain texts and numbers, each item with the
//! cells it came from; rendered as a tidy masterplan.toml (grouped by dimension, in workbook
//! order, comments naming the source rows) that `config::parse_masterplan` then validates.

use crate::domain::Masterplan;
use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Where an item came from: its sheet, its row (1-based) and the column (0-based) of each field.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub sheet: String,
    pub row: u32,
    /// masterplan field name (`name`, `unit`, `baseline`, `targets[2]`, ...) -> column.
    pub columns: BTreeMap<String, u32>,
}

impl Origin {
    /// `Sheet!C12` for `field` (or the first column the field starts with), else `Sheet!12`.
    pub fn cell(&self, field: &str) -> String {
        let mut key = field;
        loop {
            if let Some(col) = self.columns.get(key) {
                return format!("{}!{}{}", self.sheet, column_letters(*col), self.row);
            }
            // `targets[2].value` -> `targets[2]` -> `targets`; `pic.nama` -> `pic`.
            match key.rfind(['.', '[']) {
                Some(i) => key = &key[..i],
                None => return format!("{}!{}", self.sheet, self.row),
            }
        }
    }
}

/// `A`, `B`, ..., `Z`, `AA`, ... for a 0-based column.
pub fn column_letters(col: u32) -> String {
    let mut n = col as u64 + 1;
    let mut out = Vec::new();
    while n > 0 {
        let r = ((n - 1) % 26) as u8;
        out.push(b'A' + r);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

#[derive(Debug, Clone, Default)]
pub struct DraftDepartment {
    pub id: String,
    pub name: String,
    pub emails: Vec<String>,
    pub origin: Origin,
}

#[derive(Debug, Clone, Default)]
pub struct DraftDimension {
    pub id: String,
    pub name: String,
    pub elements: Vec<String>,
    pub weight: Option<f64>,
    pub origin: Origin,
}

#[derive(Debug, Clone, Default)]
pub struct DraftProgram {
    pub id: String,
    pub dimension: String,
    pub name: String,
    pub department: String,
    pub quick_win: bool,
    pub horizon: Option<String>,
    pub start: Option<NaiveDate>,
    pub due: Option<NaiveDate>,
    pub weight: Option<f64>,
    pub origin: Origin,
}

#[derive(Debug, Clone, Default)]
pub struct DraftIndicator {
    pub id: String,
    pub program: String,
    pub name: String,
    pub code: Option<String>,
    pub tier: Option<String>,
    pub pic: Option<(String, String)>,
    pub source: Option<String>,
    pub unit: String,
    /// Only when it differs from the program's department.
    pub department: Option<String>,
    pub direction: Option<String>,
    pub tolerance: Option<f64>,
    pub kind: Option<String>,
    pub baseline: Option<(NaiveDate, f64)>,
    pub targets: Vec<(NaiveDate, f64)>,
    pub update_every: Option<String>,
    pub weight: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Said in the comment above the indicator (e.g. that its direction was inferred).
    pub notes: Vec<String>,
    pub origin: Origin,
}

/// A whole plan as read.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub revision_note: Option<String>,
    /// The cell the revision note was read from (`Petunjuk!B3`).
    pub revision_note_cell: Option<String>,
    pub departments: Vec<DraftDepartment>,
    pub dimensions: Vec<DraftDimension>,
    pub programs: Vec<DraftProgram>,
    pub indicators: Vec<DraftIndicator>,
}

fn string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn number(n: f64) -> String {
    toml::Value::Float(n).to_string()
}

fn target(date: NaiveDate, value: f64) -> String {
    format!("{{ date = {date}, value = {} }}", number(value))
}

fn from_rows(origin: &Origin) -> String {
    if origin.sheet.is_empty() {
        String::new()
    } else {
        format!("# {} row {}\n", origin.sheet, origin.row)
    }
}

impl Draft {
    /// The plan of a validated masterplan (for the export and for `init`'s examples).
    pub fn of(plan: &Masterplan) -> Draft {
        let mut d = Draft {
            revision_note: plan.revision_note.clone(),
            ..Draft::default()
        };
        for dep in &plan.departments {
            d.departments.push(DraftDepartment {
                id: dep.id.to_string(),
                name: dep.name.clone(),
                emails: dep.emails.clone(),
                origin: Origin::default(),
            });
        }
        for dim in &plan.dimensions {
            d.dimensions.push(DraftDimension {
                id: dim.id.to_string(),
                name: dim.name.clone(),
                elements: dim.elements.clone(),
                weight: Some(dim.weight),
                origin: Origin::default(),
            });
        }
        for p in &plan.programs {
            d.programs.push(DraftProgram {
                id: p.id.to_string(),
                dimension: p.dimension.to_string(),
                name: p.name.clone(),
                department: p.department.to_string(),
                quick_win: p.quick_win,
                horizon: Some(horizon_name(p.horizon).into()),
                start: Some(p.start),
                due: Some(p.due),
                weight: Some(p.weight),
                origin: Origin::default(),
            });
        }
        for i in &plan.indicators {
            let program_department = plan.program(i.program.as_str()).map(|p| &p.department);
            d.indicators.push(DraftIndicator {
                id: i.id.to_string(),
                program: i.program.to_string(),
                name: i.name.clone(),
                code: i.code.clone(),
                tier: i.tier.map(|t| t.as_str().to_string()),
                pic: i.pic.as_ref().map(|p| (p.nama.clone(), p.jabatan.clone())),
                source: i.source.clone(),
                unit: i.unit.clone(),
                department: (Some(&i.department) != program_department)
                    .then(|| i.department.to_string()),
                direction: Some(i.direction.as_str().into()),
                tolerance: (i.direction == crate::domain::Direction::Maintain)
                    .then_some(i.tolerance),
                kind: Some(i.kind.as_str().into()),
                baseline: Some((i.baseline.date, i.baseline.value)),
                targets: i.targets.iter().map(|t| (t.date, t.value)).collect(),
                update_every: Some(i.update_every.to_string()),
                weight: Some(i.weight),
                min: i.min,
                max: i.max,
                notes: Vec::new(),
                origin: Origin::default(),
            });
        }
        d
    }

    /// The masterplan.toml text: departments, then each dimension followed by its programs,
    /// each program followed by its indicators; items in the order they were read.
    pub fn render(&self, header: &str) -> String {
        let mut out = String::new();
        out.push_str(header);
        if let Some(note) = &self.revision_note {
            let _ = writeln!(out, "revision_note = {}\n", string(note));
        }
        out.push_str(
            "# =============================================================================\n# Perangkat Daerah (OPD)\n# =============================================================================\n\n",
        );
        for dep in &self.departments {
            out.push_str(&from_rows(&dep.origin));
            let _ = writeln!(out, "[[department]]\nid = {}", string(&dep.id));
            let _ = writeln!(out, "name = {}", string(&dep.name));
            if !dep.emails.is_empty() {
                let list: Vec<String> = dep.emails.iter().map(|e| string(e)).collect();
                let _ = writeln!(out, "email = [{}]", list.join(", "));
            }
            out.push('\n');
        }
        out.push_str(
            "# =============================================================================\n# Dimensi\n# =============================================================================\n\n",
        );
        for dim in &self.dimensions {
            out.push_str(&from_rows(&dim.origin));
            let _ = writeln!(out, "[[dimension]]\nid = {}", string(&dim.id));
            let _ = writeln!(out, "name = {}", string(&dim.name));
            let list: Vec<String> = dim.elements.iter().map(|e| string(e)).collect();
            let _ = writeln!(out, "elements = [{}]", list.join(", "));
            if let Some(w) = dim.weight {
                let _ = writeln!(out, "weight = {}", number(w));
            }
            out.push('\n');
        }
        // Dimensions in their order, then programs whose dimension is unknown (validation
        // reports those), so that nothing read is left out.
        let mut order: Vec<&str> = self.dimensions.iter().map(|d| d.id.as_str()).collect();
        for p in &self.programs {
            if !order.contains(&p.dimension.as_str()) {
                order.push(&p.dimension);
            }
        }
        for dim in order {
            let name = self
                .dimensions
                .iter()
                .find(|d| d.id == dim)
                .map_or(dim, |d| d.name.as_str());
            let programs: Vec<&DraftProgram> = self
                .programs
                .iter()
                .filter(|p| p.dimension == dim)
                .collect();
            if programs.is_empty() {
                continue;
            }
            let _ = writeln!(
                out,
                "# =============================================================================\n# {name}\n# =============================================================================\n"
            );
            for p in programs {
                self.render_program(&mut out, p);
            }
        }
        // Indicators whose program is unknown (validation reports those).
        for i in &self.indicators {
            if !self.programs.iter().any(|p| p.id == i.program) {
                render_indicator(&mut out, i);
            }
        }
        out
    }

    fn render_program(&self, out: &mut String, p: &DraftProgram) {
        out.push_str(&from_rows(&p.origin));
        let _ = writeln!(out, "[[program]]\nid = {}", string(&p.id));
        let _ = writeln!(out, "dimension = {}", string(&p.dimension));
        let _ = writeln!(out, "name = {}", string(&p.name));
        let _ = writeln!(out, "department = {}", string(&p.department));
        if p.quick_win {
            out.push_str("quick_win = true\n");
        }
        if let Some(h) = &p.horizon {
            let _ = writeln!(out, "horizon = {}", string(h));
        }
        if let Some(s) = p.start {
            let _ = writeln!(out, "start = {s}");
        }
        if let Some(d) = p.due {
            let _ = writeln!(out, "due = {d}");
        }
        if let Some(w) = p.weight {
            let _ = writeln!(out, "weight = {}", number(w));
        }
        out.push('\n');
        for i in self.indicators.iter().filter(|i| i.program == p.id) {
            render_indicator(out, i);
        }
    }
}

fn render_indicator(out: &mut String, i: &DraftIndicator) {
    out.push_str(&from_rows(&i.origin));
    for note in &i.notes {
        let _ = writeln!(out, "# {note}");
    }
    let _ = writeln!(out, "[[indicator]]\nid = {}", string(&i.id));
    let _ = writeln!(out, "program = {}", string(&i.program));
    let _ = writeln!(out, "name = {}", string(&i.name));
    if let Some(c) = &i.code {
        let _ = writeln!(out, "code = {}", string(c));
    }
    if let Some(t) = &i.tier {
        let _ = writeln!(out, "tier = {}", string(t));
    }
    if let Some((nama, jabatan)) = &i.pic {
        let _ = writeln!(
            out,
            "pic = {{ nama = {}, jabatan = {} }}",
            string(nama),
            string(jabatan)
        );
    }
    if let Some(s) = &i.source {
        let _ = writeln!(out, "source = {}", string(s));
    }
    let _ = writeln!(out, "unit = {}", string(&i.unit));
    if let Some(d) = &i.department {
        let _ = writeln!(out, "department = {}", string(d));
    }
    if let Some(d) = &i.direction {
        let _ = writeln!(out, "direction = {}", string(d));
    }
    if let Some(t) = i.tolerance {
        let _ = writeln!(out, "tolerance = {}", number(t));
    }
    if let Some(k) = &i.kind {
        let _ = writeln!(out, "kind = {}", string(k));
    }
    if let Some((date, value)) = i.baseline {
        let _ = writeln!(out, "baseline = {}", target(date, value));
    }
    if !i.targets.is_empty() {
        out.push_str("targets = [\n");
        for (date, value) in &i.targets {
            let _ = writeln!(out, "  {},", target(*date, *value));
        }
        out.push_str("]\n");
    }
    if let Some(u) = &i.update_every {
        let _ = writeln!(out, "update_every = {}", string(u));
    }
    if let Some(w) = i.weight {
        let _ = writeln!(out, "weight = {}", number(w));
    }
    if let Some(m) = i.min {
        let _ = writeln!(out, "min = {}", number(m));
    }
    if let Some(m) = i.max {
        let _ = writeln!(out, "max = {}", number(m));
    }
    out.push('\n');
}

/// The masterplan name of a horizon.
pub fn horizon_name(h: crate::domain::Horizon) -> &'static str {
    use crate::domain::Horizon;
    match h {
        Horizon::QuickWin => "quick_win",
        Horizon::Short => "short",
        Horizon::Medium => "medium",
        Horizon::Long => "long",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_and_cells_are_named_as_spreadsheets_do() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
        let mut o = Origin {
            sheet: "Indikator".into(),
            row: 12,
            ..Origin::default()
        };
        o.columns.insert("targets[1]".into(), 22);
        o.columns.insert("pic".into(), 5);
        assert_eq!(o.cell("targets[1].value"), "Indikator!W12");
        assert_eq!(o.cell("pic.nama"), "Indikator!F12");
        assert_eq!(o.cell("unit"), "Indikator!12");
    }
}
