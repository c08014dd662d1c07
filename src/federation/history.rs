//! The federation's own SQLite database: one summary per city per day (masterplan progress and
//! status, each dimension's progress, quick-win counts), the last one of the day winning, for
//! the history the wall and reports draw on. Its tables are owned here (`federation_daily`,
//! versioned by `federation_schema`), apart from a city's schema in `store`.
//!
//! Written from the blocking pool every `SAVE_EVERY` (a city's first summary at once, and all at
//! shutdown) in one transaction; read by `/api/v1/federation/history`. The same transaction
//! keeps each city's latest data whole (`federation_last`), which a restarted federation shows
//! as the city's last known values until the city answers again.

use super::city::{CityData, Millis};
use super::state::Federation;
use rusqlite::{Connection, params};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often changed cities' summaries are stored.
pub const SAVE_EVERY: Duration = Duration::from_secs(30);

/// The schema of this module's tables, in order; append only.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE federation_daily (
        city TEXT NOT NULL,
        day TEXT NOT NULL,
        masterplan_progress REAL,
        masterplan_expected REAL,
        masterplan_status TEXT,
        dimensions TEXT NOT NULL,
        quick_wins TEXT NOT NULL,
        version TEXT,
        updated INTEGER NOT NULL,
        PRIMARY KEY (city, day)
    ) WITHOUT ROWID",
    // Each city's latest data as last stored, so that after a restart the wall shows an
    // unreachable city's last known values (with their age) instead of nothing.
    "CREATE TABLE federation_last (
        city TEXT PRIMARY KEY,
        data TEXT NOT NULL,
        last_data INTEGER,
        version TEXT,
        updated INTEGER NOT NULL
    ) WITHOUT ROWID",
];

/// A city's data as last stored, to show until the city answers after a restart.
#[derive(Debug, Clone)]
pub struct LastKnown {
    pub city: String,
    pub data: CityData,
    /// When the data was last confirmed current (its age on the wall counts from here).
    pub last_data: Option<Millis>,
    pub version: Option<String>,
}

/// The database handle (one connection; writes are a few rows every half minute).
#[derive(Clone)]
pub struct History {
    conn: Arc<Mutex<Connection>>,
}

/// One stored day of one city.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct Day {
    pub city: String,
    pub day: String,
    pub masterplan_progress: Option<f64>,
    pub masterplan_expected: Option<f64>,
    pub masterplan_status: Option<String>,
    pub dimensions: serde_json::Value,
    pub quick_wins: serde_json::Value,
    pub version: Option<String>,
}

impl History {
    /// Opens (creating) the database and brings its tables up to date.
    pub fn open(path: &Path) -> Result<History, rusqlite::Error> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        // WAL: readers (the history endpoint, backups) never wait for the writer.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // NORMAL: a summary lost to a power cut is written again half a minute later.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "CREATE TABLE IF NOT EXISTS federation_schema (version INTEGER NOT NULL)",
            [],
        )?;
        let version: i64 = tx.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM federation_schema",
            [],
            |r| r.get(0),
        )?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            tx.execute(sql, [])?;
            tx.execute(
                "INSERT INTO federation_schema (version) VALUES (?1)",
                [i as i64 + 1],
            )?;
        }
        tx.commit()?;
        Ok(History {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        match self.conn.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Stores the summaries of the cities that changed since they were last stored; returns
    /// the ids stored.
    pub fn save(&self, fed: &Federation) -> Result<Vec<String>, rusqlite::Error> {
        let tz = fed.tz();
        let now = super::state::now_ms();
        let day = chrono::DateTime::from_timestamp_millis(now)
            .map(|t| t.with_timezone(&tz).date_naive().to_string())
            .unwrap_or_default();
        let rows: Vec<Option<(String, Day, LastKnown)>> = fed.each(|c| {
            (c.unsaved && c.data.masterplan.is_some()).then(|| {
                let m = c.data.masterplan.as_ref();
                let dims: Vec<serde_json::Value> = c
                    .data
                    .dimensions
                    .iter()
                    .map(|d| serde_json::json!({"id": d.id, "progress": d.progress, "status": d.status}))
                    .collect();
                (
                    c.spec.id.clone(),
                    Day {
                        city: c.spec.id.clone(),
                        day: day.clone(),
                        masterplan_progress: m.and_then(|m| m.progress),
                        masterplan_expected: m.and_then(|m| m.expected),
                        masterplan_status: m.map(|m| m.status.clone()),
                        dimensions: serde_json::Value::Array(dims),
                        quick_wins: serde_json::to_value(c.quick_win_counts()).unwrap_or_default(),
                        version: c.health.version.clone(),
                    },
                    LastKnown {
                        city: c.spec.id.clone(),
                        data: c.data.clone(),
                        last_data: c.health.last_data,
                        version: c.health.version.clone(),
                    },
                )
            })
        });
        let rows: Vec<(String, Day, LastKnown)> = rows.into_iter().flatten().collect();
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO federation_daily (city, day, masterplan_progress, masterplan_expected, masterplan_status, dimensions, quick_wins, version, updated)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (city, day) DO UPDATE SET masterplan_progress = excluded.masterplan_progress,
                   masterplan_expected = excluded.masterplan_expected, masterplan_status = excluded.masterplan_status,
                   dimensions = excluded.dimensions, quick_wins = excluded.quick_wins, version = excluded.version,
                   updated = excluded.updated",
            )?;
            let mut last = tx.prepare_cached(
                "INSERT INTO federation_last (city, data, last_data, version, updated)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (city) DO UPDATE SET data = excluded.data,
                   last_data = excluded.last_data, version = excluded.version,
                   updated = excluded.updated",
            )?;
            for (_, d, k) in &rows {
                stmt.execute(params![
                    d.city,
                    d.day,
                    d.masterplan_progress,
                    d.masterplan_expected,
                    d.masterplan_status,
                    d.dimensions.to_string(),
                    d.quick_wins.to_string(),
                    d.version,
                    now
                ])?;
                let data = serde_json::to_string(&k.data).unwrap_or_else(|_| "{}".into());
                last.execute(params![k.city, data, k.last_data, k.version, now])?;
            }
        }
        tx.commit()?;
        Ok(rows.into_iter().map(|(id, _, _)| id).collect())
    }

    /// Every city's data as last stored. A row that no longer reads (written by another
    /// version) is left out with a warning: the city then shows no data until it answers.
    pub fn last_known(&self) -> Result<Vec<LastKnown>, rusqlite::Error> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT city, data, last_data, version FROM federation_last ORDER BY city",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<Millis>>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (city, data, last_data, version) = row?;
            match serde_json::from_str::<CityData>(&data) {
                Ok(data) => out.push(LastKnown {
                    city,
                    data,
                    last_data,
                    version,
                }),
                Err(e) => tracing::warn!(
                    city = %city,
                    error = %e,
                    "the stored last known data of this city does not read; it shows none until it answers"
                ),
            }
        }
        Ok(out)
    }

    /// The stored days of `city` (every city when None), newest first, at most `limit`.
    pub fn days(&self, city: Option<&str>, limit: usize) -> Result<Vec<Day>, rusqlite::Error> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT city, day, masterplan_progress, masterplan_expected, masterplan_status, dimensions, quick_wins, version
             FROM federation_daily WHERE (?1 IS NULL OR city = ?1) ORDER BY day DESC, city LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![city, limit as i64], |r| {
            let json = |s: String| serde_json::from_str(&s).unwrap_or(serde_json::Value::Null);
            Ok(Day {
                city: r.get(0)?,
                day: r.get(1)?,
                masterplan_progress: r.get(2)?,
                masterplan_expected: r.get(3)?,
                masterplan_status: r.get(4)?,
                dimensions: json(r.get(5)?),
                quick_wins: json(r.get(6)?),
                version: r.get(7)?,
            })
        })?;
        rows.collect()
    }
}

/// Stores changed summaries every `SAVE_EVERY`, a city's first one as soon as it has data, and
/// once more at the end (until `stop`).
pub async fn run(fed: Federation, history: History, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_save = tokio::time::Instant::now();
    loop {
        let last = tokio::select! {
            _ = every.tick() => false,
            _ = stop.wait_for(|s| *s) => true,
        };
        let first = fed
            .each(|c| c.unsaved && !c.saved_once && c.data.masterplan.is_some())
            .into_iter()
            .any(|x| x);
        if !last && !first && last_save.elapsed() < SAVE_EVERY {
            continue;
        }
        last_save = tokio::time::Instant::now();
        let (f, h) = (fed.clone(), history.clone());
        let saved = tokio::task::spawn_blocking(move || h.save(&f)).await;
        match saved {
            Ok(Ok(ids)) => {
                fed.metrics
                    .history_rows
                    .fetch_add(ids.len() as u64, std::sync::atomic::Ordering::Relaxed);
                fed.mark_saved(&ids);
            }
            Ok(Err(e)) => {
                fed.metrics
                    .history_errors
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(error = %e, "cannot store the cities' daily summaries");
            }
            Err(_) => {}
        }
        if last {
            return;
        }
    }
}
