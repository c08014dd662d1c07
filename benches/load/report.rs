//! Figures, their goals and the report: a Markdown table on standard output and the same
//! figures (with every raw number) as JSON in `target/bench/load.json`.

use serde_json::{Value, json};
use std::path::Path;

/// Whether a figure met its goal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Met,
    Missed,
    /// Not measured in this run (the reason is in the figure's note).
    Skipped,
    /// No goal of its own: shown beside another figure (PostgreSQL beside SQLite).
    Beside,
}

impl Verdict {
    pub fn from_bool(ok: bool) -> Verdict {
        if ok { Verdict::Met } else { Verdict::Missed }
    }

    fn label(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Missed => "MISSED",
            Verdict::Skipped => "skipped",
            Verdict::Beside => "-",
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Figure {
    pub name: &'static str,
    /// pantau's figure, formatted.
    pub pantau: String,
    /// The reference measured in the same run, formatted ("-" when the figure has none).
    pub reference: String,
    pub goal: &'static str,
    pub verdict: Verdict,
    /// Raw numbers and notes for the JSON report.
    pub data: Value,
}

/// The `q`-quantile (0..=1) of `v` (sorted in place), nearest rank; NaN when empty.
pub fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = (q * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// 12345.6 -> "12,346".
pub fn thousands(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    let s = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if x < 0.0 { format!("-{out}") } else { out }
}

/// Milliseconds with precision that suits them.
pub fn ms(x: f64) -> String {
    if !x.is_finite() {
        "n/a".into()
    } else if x < 10.0 {
        format!("{x:.2} ms")
    } else {
        format!("{x:.1} ms")
    }
}

/// The table, as Markdown.
pub fn table(figures: &[Figure]) -> String {
    let mut out = String::from(
        "| figure | pantau | reference (same run) | goal | result |\n|---|---|---|---|---|\n",
    );
    for f in figures {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            f.name,
            f.pantau,
            f.reference,
            f.goal,
            f.verdict.label()
        ));
    }
    out
}

/// Writes the JSON report.
pub fn write_json(path: &Path, meta: Value, figures: &[Figure]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let figures: Vec<Value> = figures
        .iter()
        .map(|f| {
            json!({
                "figure": f.name,
                "pantau": f.pantau,
                "reference": f.reference,
                "goal": f.goal,
                "result": f.verdict.label(),
                "data": f.data,
            })
        })
        .collect();
    let report = json!({ "run": meta, "figures": figures });
    std::fs::write(path, serde_json::to_vec_pretty(&report)?)
}

/// The median, smallest and largest of paired-round ratios (NaN when there are none).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(ratios: &[f64]) -> Spread {
        let mut v = ratios.to_vec();
        let median = quantile(&mut v, 0.5);
        Spread {
            median,
            min: v.first().copied().unwrap_or(f64::NAN),
            max: v.last().copied().unwrap_or(f64::NAN),
        }
    }

    /// "0.52x (0.48-0.57x, 3 rounds)".
    pub fn times(&self, rounds: usize) -> String {
        format!(
            "{:.2}x ({:.2}-{:.2}x over {rounds} rounds)",
            self.median, self.min, self.max
        )
    }

    /// "61 % (58-66 %, 3 rounds)".
    pub fn percent(&self, rounds: usize) -> String {
        format!(
            "{:.0} % ({:.0}-{:.0} % over {rounds} rounds)",
            self.median * 100.0,
            self.min * 100.0,
            self.max * 100.0
        )
    }
}
