//! The synthetic city the harness loads: a masterplan of N indicators across the six dimensions
//! (about 50 programs, eight departments, daily cadence) written as TOML and validated by
//! pantau's own config loader, the daemon settings, and a fast backfill of daily history.

use chrono::{Datelike, Days, NaiveDate, TimeZone};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The city's zone (also what the settings say).
pub const TZ: chrono_tz::Tz = chrono_tz::Asia::Jakarta;
/// The admin token of every harness daemon (may write any indicator).
pub const ADMIN: &str = "pantau-bench-admin-token-0123456789";

const DEPARTMENTS: [&str; 8] = [
    "diskominfo",
    "bappeda",
    "dinkes",
    "dindik",
    "dlh",
    "dishub",
    "dpmptsp",
    "bpbd",
];

/// (id, program id prefix, name) of the six dimensions.
const DIMENSIONS: [(&str, &str, &str); 6] = [
    ("governance", "gov", "Smart Governance"),
    ("branding", "brand", "Smart Branding"),
    ("economy", "economy", "Smart Economy"),
    ("living", "living", "Smart Living"),
    ("society", "society", "Smart Society"),
    ("environment", "env", "Smart Environment"),
];

const PROGRAMS: usize = 50;

/// One generated indicator.
#[derive(Debug, Clone)]
pub struct Indicator {
    pub id: String,
    pub department: &'static str,
    pub direction: &'static str,
    pub cumulative: bool,
    pub baseline: f64,
    pub target: f64,
}

impl Indicator {
    /// A plausible value `fraction` of the way from baseline to target (an increment for
    /// cumulative indicators), with a little deterministic wobble from `salt`.
    pub fn value(&self, fraction: f64, salt: u64) -> f64 {
        let wobble = ((salt.wrapping_mul(2654435761) % 1000) as f64 / 1000.0 - 0.5) * 0.02;
        let v = if self.cumulative {
            1.0 + (salt % 3) as f64
        } else if self.direction == "maintain" {
            self.target + wobble
        } else {
            self.baseline + (self.target - self.baseline) * (fraction + wobble)
        };
        (v * 100.0).round() / 100.0
    }
}

/// The generated masterplan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub indicators: Vec<Indicator>,
    /// Midnight (city time) of the first day of history, ms since the epoch.
    pub history_start: i64,
    /// Days of history the dates are laid out for.
    pub days: u64,
    toml: String,
}

/// Feeds to add to the masterplan (the polling figure).
#[derive(Debug, Clone)]
pub struct Feeds {
    /// How many (one per indicator, from the first).
    pub count: usize,
    /// Base URL of the upstream server; feed `k` polls `{base}/feed/{k}`.
    pub base: String,
    /// Cron schedule of every feed.
    pub schedule: String,
}

/// Feed `k`'s id.
pub fn feed_id(k: usize) -> String {
    format!("bench-feed-{k:04}")
}

/// Midnight at the start of `d` in the city's zone, ms since the epoch.
pub fn midnight(d: NaiveDate) -> i64 {
    TZ.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap())
        .single()
        .unwrap()
        .timestamp_millis()
}

impl Plan {
    /// A masterplan of `n` indicators whose history covers the `days` days before today.
    pub fn new(n: usize, days: u64) -> Plan {
        let today = chrono::Utc::now().with_timezone(&TZ).date_naive();
        let first = today - Days::new(days);
        let baseline = first - Days::new(1);
        let year = |k: i32| NaiveDate::from_ymd_opt(baseline.year() + k, 12, 31).unwrap();
        let due = year(5);
        let mut t = String::new();
        t.push_str("# Synthetic masterplan of the load harness (benches/load).\n\n");
        for d in DEPARTMENTS {
            let _ = writeln!(t, "[[department]]\nid = \"{d}\"\nname = \"Dinas {d}\"\n");
        }
        for (id, _, name) in DIMENSIONS {
            let _ = writeln!(
                t,
                "[[dimension]]\nid = \"{id}\"\nname = \"{name}\"\nelements = [\"Elemen {name}\"]\n"
            );
        }
        let program_id = |p: usize| format!("{}.p{p:02}", DIMENSIONS[p % 6].1);
        for p in 0..PROGRAMS {
            let quick = p % 5 == 0;
            let _ = writeln!(
                t,
                "[[program]]\nid = \"{}\"\ndimension = \"{}\"\nname = \"Program {p}\"\ndepartment = \"{}\"\nquick_win = {quick}\nhorizon = \"{}\"\nstart = {baseline}\ndue = {due}\n",
                program_id(p),
                DIMENSIONS[p % 6].0,
                DEPARTMENTS[p % DEPARTMENTS.len()],
                if quick { "quick_win" } else { "medium" },
            );
        }
        let mut indicators = Vec::with_capacity(n);
        for i in 0..n {
            let p = i % PROGRAMS;
            let program = program_id(p);
            let (direction, cumulative, b, target) = match i % 10 {
                0 => ("decrease", false, 40.0, 10.0),
                1 => ("maintain", false, 95.0, 95.0),
                3 | 7 => ("increase", true, 0.0, 2_000.0 * (1 + i % 4) as f64),
                _ => ("increase", false, 10.0 + (i % 13) as f64, 90.0),
            };
            let ind = Indicator {
                id: format!("{program}.i{i:04}"),
                department: DEPARTMENTS[p % DEPARTMENTS.len()],
                direction,
                cumulative,
                baseline: b,
                target,
            };
            let step = |k: i32| b + (target - b) * f64::from(k) / 5.0;
            let targets: Vec<String> = (1..=5)
                .map(|k| format!("{{ date = {}, value = {:.1} }}", year(k), step(k)))
                .collect();
            let _ = writeln!(
                t,
                "[[indicator]]\nid = \"{}\"\nprogram = \"{program}\"\nname = \"Indikator {i}\"\nunit = \"unit\"\ndirection = \"{direction}\"\nkind = \"{}\"\nbaseline = {{ date = {baseline}, value = {b:.1} }}\ntargets = [{}]\nupdate_every = \"1d\"\n{}",
                ind.id,
                if cumulative { "cumulative" } else { "level" },
                targets.join(", "),
                if direction == "maintain" {
                    "tolerance = 2.0\n"
                } else {
                    ""
                },
            );
            indicators.push(ind);
        }
        Plan {
            indicators,
            history_start: midnight(first),
            days,
            toml: t,
        }
    }

    /// The masterplan TOML, with `feeds` appended when given.
    pub fn toml(&self, feeds: Option<&Feeds>) -> String {
        let mut t = self.toml.clone();
        if let Some(f) = feeds {
            for k in 0..f.count.min(self.indicators.len()) {
                let ind = &self.indicators[k];
                let _ = writeln!(
                    t,
                    "[[feed]]\nid = \"{}\"\ndepartment = \"{}\"\nurl = \"{}/feed/{k}\"\nformat = \"prometheus\"\nschedule = \"{}\"\ntimeout = \"10s\"\nrun_at_start = false\nretries = 0\n[feed.prometheus]\nseries = [{{ indicator = \"{}\", metric = \"bench_indicator_value\", aggregate = \"avg\" }}]\n",
                    feed_id(k),
                    ind.department,
                    f.base,
                    f.schedule,
                    ind.id
                );
            }
        }
        t
    }
}

/// Settings for a harness daemon with its database at `db`: writes are not rate-limited (the
/// harness is the only client) and the clock tick is slow so that it adds no deltas mid-figure.
pub fn settings(db: &Path) -> String {
    format!(
        "masterplan = \"masterplan.toml\"\n\
         [server]\nlisten = \"127.0.0.1:0\"\nrate_limit_per_minute = 1000000000\n\
         [storage]\ndatabase = \"{}\"\n\
         [city]\nname = \"Kota Beban\"\ntime_zone = \"Asia/Jakarta\"\n\
         [progress]\ntick_seconds = 3600\n\
         [auth]\nadmin_token = \"{ADMIN}\"\n",
        db.display()
    )
}

/// Writes pantau.toml and masterplan.toml into `dir`, checks them with pantau's own loader, and
/// returns the settings path.
pub fn write_config(dir: &Path, masterplan: &str) -> anyhow::Result<PathBuf> {
    let db = dir.join("pantau.db");
    let path = dir.join("pantau.toml");
    std::fs::write(dir.join("masterplan.toml"), masterplan)?;
    std::fs::write(&path, settings(&db))?;
    pantau::config::Config::load(Some(&path)).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(path)
}

/// Fills `db` (created with pantau's schema) with one value per indicator per day of the plan's
/// history, indicator by indicator, in one transaction. Returns the number of rows.
pub fn backfill(db: &Path, plan: &Plan) -> anyhow::Result<u64> {
    let mut conn = pantau::store::open_writer(db)?;
    // A one-off bulk load before the daemon starts: durability per row does not matter here.
    conn.execute_batch("PRAGMA synchronous = OFF")?;
    let tx = conn.transaction()?;
    let mut n = 0u64;
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO observation (indicator, t, value, source, department, token_id, note, received)
             VALUES (?1, ?2, ?3, 'import', ?4, NULL, NULL, ?2)",
        )?;
        for ind in &plan.indicators {
            for day in 0..plan.days {
                let t = plan.history_start + day as i64 * 86_400_000;
                // On the way to the final target five years after the baseline.
                let fraction = day as f64 / (5.0 * 365.0);
                insert.execute(rusqlite::params![
                    ind.id,
                    t,
                    ind.value(fraction, day),
                    ind.department
                ])?;
                n += 1;
            }
        }
    }
    tx.commit()?;
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    Ok(n)
}
