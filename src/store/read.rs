//! Read-only queries: a small pool of read-only connections and the queries the API needs.
//!
//! Queries run on tokio's blocking threads so they never stall the async workers, and on WAL
//! readers so they never block the writer.

use super::{StoreError, open_reader};
use crate::domain::Millis;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The read queries the daemon makes, over a SQLite connection or a PostgreSQL client. Each
/// blocks its thread: callers run them through `ReadPool::run` (tokio's blocking threads) so
/// they never stall the async workers.
pub trait Reader {
    fn series(
        &self,
        indicator: &str,
        from: Millis,
        to: Millis,
        limit: usize,
    ) -> Result<Vec<SeriesRow>, StoreError>;
    fn revisions(&self, indicator: &str, limit: usize) -> Result<Vec<RevisionRow>, StoreError>;
    fn notes(&self, indicator: &str) -> Result<Vec<NoteRow>, StoreError>;
    fn latest_notes(&self) -> Result<HashMap<String, NoteRow>, StoreError>;
    fn receipts(
        &self,
        indicator: &str,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<(Millis, Millis)>, StoreError>;
    fn all_series_as_of(&self, at: Millis) -> Result<HashMap<String, Series>, StoreError>;
    fn latest_notes_as_of(&self, at: Millis) -> Result<HashMap<String, NoteRow>, StoreError>;
    fn plan_versions(&self) -> Result<Vec<PlanVersionRow>, StoreError>;
    fn latest_plan(&self) -> Result<Option<(i64, String, String)>, StoreError>;
    fn reminders_since(&self, since: Millis) -> Result<Vec<(String, Millis, String)>, StoreError>;
    fn indicator_state(&self, indicator: &str) -> Result<(Series, Option<NoteRow>), StoreError>;
    fn all_series(&self) -> Result<HashMap<String, Series>, StoreError>;
    fn feed_runs(&self, feed: &str, limit: usize) -> Result<Vec<FeedRunRow>, StoreError>;
    fn feed_history(&self, feed: &str) -> Result<FeedHistory, StoreError>;
    fn observation_count(&self) -> Result<i64, StoreError>;
    /// A token's (department, salt, hash, revoked), by id.
    fn token(&self, id: i64) -> Result<Option<super::tokens::TokenRow>, StoreError>;

    /// Several indicators' series and latest notes, in the order asked (what another process
    /// changed).
    fn indicators_state(
        &self,
        indicators: &[&str],
    ) -> Result<Vec<(Series, Option<NoteRow>)>, StoreError> {
        indicators
            .iter()
            .map(|id| self.indicator_state(id))
            .collect()
    }

    /// The newest corrections across several indicators (a department's page), with each one's id.
    fn revisions_of(
        &self,
        indicators: &[String],
        limit: usize,
    ) -> Result<Vec<(String, RevisionRow)>, StoreError> {
        let mut out = Vec::new();
        for id in indicators {
            for r in self.revisions(id, limit)? {
                out.push((id.clone(), r));
            }
        }
        out.sort_by(|a, b| b.1.received.cmp(&a.1.received).then(b.1.id.cmp(&a.1.id)));
        out.truncate(limit);
        Ok(out)
    }
}

impl Reader for Connection {
    fn series(
        &self,
        indicator: &str,
        from: Millis,
        to: Millis,
        limit: usize,
    ) -> Result<Vec<SeriesRow>, StoreError> {
        series(self, indicator, from, to, limit)
    }
    fn revisions(&self, indicator: &str, limit: usize) -> Result<Vec<RevisionRow>, StoreError> {
        revisions(self, indicator, limit)
    }
    fn notes(&self, indicator: &str) -> Result<Vec<NoteRow>, StoreError> {
        notes(self, indicator)
    }
    fn latest_notes(&self) -> Result<HashMap<String, NoteRow>, StoreError> {
        latest_notes(self)
    }
    fn receipts(
        &self,
        indicator: &str,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<(Millis, Millis)>, StoreError> {
        receipts(self, indicator, from, to)
    }
    fn all_series_as_of(&self, at: Millis) -> Result<HashMap<String, Series>, StoreError> {
        all_series_as_of(self, at)
    }
    fn latest_notes_as_of(&self, at: Millis) -> Result<HashMap<String, NoteRow>, StoreError> {
        latest_notes_as_of(self, at)
    }
    fn plan_versions(&self) -> Result<Vec<PlanVersionRow>, StoreError> {
        plan_versions(self)
    }
    fn latest_plan(&self) -> Result<Option<(i64, String, String)>, StoreError> {
        latest_plan(self)
    }
    fn reminders_since(&self, since: Millis) -> Result<Vec<(String, Millis, String)>, StoreError> {
        reminders_since(self, since)
    }
    fn indicator_state(&self, indicator: &str) -> Result<(Series, Option<NoteRow>), StoreError> {
        indicator_state(self, indicator)
    }
    fn all_series(&self) -> Result<HashMap<String, Series>, StoreError> {
        all_series(self)
    }
    fn feed_runs(&self, feed: &str, limit: usize) -> Result<Vec<FeedRunRow>, StoreError> {
        feed_runs(self, feed, limit)
    }
    fn feed_history(&self, feed: &str) -> Result<FeedHistory, StoreError> {
        feed_history(self, feed)
    }
    fn observation_count(&self) -> Result<i64, StoreError> {
        observation_count(self)
    }
    fn token(&self, id: i64) -> Result<Option<super::tokens::TokenRow>, StoreError> {
        super::tokens::token_row(self, id)
    }
}

/// Where reads go: a pool of read-only connections to one SQLite file, or a PostgreSQL pool
/// (the replica of `read_url` when there is one).
#[derive(Clone)]
pub struct ReadPool {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Sqlite {
        path: Arc<PathBuf>,
        idle: Arc<Mutex<Vec<Connection>>>,
    },
    Postgres(super::postgres::Pools),
}

impl ReadPool {
    pub fn new(path: &Path) -> Self {
        ReadPool {
            backend: Backend::Sqlite {
                path: Arc::new(path.to_path_buf()),
                idle: Arc::new(Mutex::new(Vec::new())),
            },
        }
    }

    /// Reads from PostgreSQL.
    pub fn postgres(pools: super::postgres::Pools) -> Self {
        ReadPool {
            backend: Backend::Postgres(pools),
        }
    }

    /// Runs `f` with a reader on a blocking thread.
    pub async fn run<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Reader) -> Result<R, StoreError> + Send + 'static,
    {
        let pool = self.clone();
        tokio::task::spawn_blocking(move || pool.run_blocking(f))
            .await
            .map_err(|e| StoreError::Unavailable(format!("read task failed: {e}")))?
    }

    /// Runs `f` with a reader on the current thread, which must not be an async worker (a
    /// blocking thread of tokio's, or a thread of its own).
    pub fn run_blocking<R>(
        &self,
        f: impl FnOnce(&dyn Reader) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        match &self.backend {
            Backend::Sqlite { path, idle } => {
                let conn = idle.lock().map(|mut v| v.pop()).unwrap_or(None);
                let conn = match conn {
                    Some(c) => c,
                    None => open_reader(path)?,
                };
                let result = f(&conn);
                if let Ok(mut idle) = idle.lock() {
                    if idle.len() < 8 {
                        idle.push(conn);
                    }
                }
                result
            }
            Backend::Postgres(pools) => pools.read_blocking(f),
        }
    }
}

/// One stored observation with where it came from.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesRow {
    pub time: Millis,
    pub value: f64,
    pub source: String,
    pub department: Option<String>,
    pub note: Option<String>,
    pub received: Millis,
}

pub fn series(
    conn: &Connection,
    indicator: &str,
    from: Millis,
    to: Millis,
    limit: usize,
) -> Result<Vec<SeriesRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT t, value, source, department, note, received FROM observation
         WHERE indicator = ?1 AND t >= ?2 AND t < ?3 ORDER BY t LIMIT ?4",
    )?;
    let rows = stmt
        .query_map(params![indicator, from, to, limit as i64], |r| {
            Ok(SeriesRow {
                time: r.get(0)?,
                value: r.get(1)?,
                source: r.get(2)?,
                department: r.get(3)?,
                note: r.get(4)?,
                received: r.get(5)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// A correction: the value at (indicator, time) changed.
#[derive(Debug, Clone, Serialize)]
pub struct RevisionRow {
    pub id: i64,
    pub time: Millis,
    pub previous_value: f64,
    pub previous_source: String,
    pub previous_received: Millis,
    pub value: f64,
    pub source: String,
    pub department: Option<String>,
    pub token_id: Option<i64>,
    /// The label the token was created with (`pantau token create --label`), if a token wrote it.
    pub token_label: Option<String>,
    pub received: Millis,
    /// The note stored with the value now at that time (the revision table keeps none of its own).
    pub note: Option<String>,
}

pub fn revisions(
    conn: &Connection,
    indicator: &str,
    limit: usize,
) -> Result<Vec<RevisionRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.id, r.t, r.previous_value, r.previous_source, r.previous_received, r.value, r.source,
                r.department, r.token_id, r.received, k.label, o.note
         FROM revision r
         LEFT JOIN token k ON k.id = r.token_id
         LEFT JOIN observation o ON o.indicator = r.indicator AND o.t = r.t
         WHERE r.indicator = ?1 ORDER BY r.id DESC LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![indicator, limit as i64], |r| {
            Ok(RevisionRow {
                id: r.get(0)?,
                time: r.get(1)?,
                previous_value: r.get(2)?,
                previous_source: r.get(3)?,
                previous_received: r.get(4)?,
                value: r.get(5)?,
                source: r.get(6)?,
                department: r.get(7)?,
                token_id: r.get(8)?,
                received: r.get(9)?,
                token_label: r.get::<_, Option<String>>(10)?.filter(|l| !l.is_empty()),
                note: r.get(11)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// A department's note on an indicator.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NoteRow {
    pub id: i64,
    pub indicator: String,
    pub kendala: String,
    pub rencana_tindak_lanjut: String,
    pub department: Option<String>,
    pub created: Millis,
}

pub fn notes(conn: &Connection, indicator: &str) -> Result<Vec<NoteRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, indicator, kendala, rencana_tindak_lanjut, department, created FROM note
         WHERE indicator = ?1 ORDER BY id DESC LIMIT 200",
    )?;
    let rows = stmt
        .query_map(params![indicator], note_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

fn note_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<NoteRow> {
    Ok(NoteRow {
        id: r.get(0)?,
        indicator: r.get(1)?,
        kendala: r.get(2)?,
        rencana_tindak_lanjut: r.get(3)?,
        department: r.get(4)?,
        created: r.get(5)?,
    })
}

/// The newest note of every indicator that has one.
pub fn latest_notes(conn: &Connection) -> Result<HashMap<String, NoteRow>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, indicator, kendala, rencana_tindak_lanjut, department, created FROM note
         WHERE id IN (SELECT max(id) FROM note GROUP BY indicator)",
    )?;
    let rows = stmt
        .query_map([], note_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows.into_iter().map(|n| (n.indicator.clone(), n)).collect())
}

/// An indicator's series in time order.
pub type Series = Vec<(Millis, f64)>;

/// (observation time, when its first value arrived) of one indicator's observations timed in
/// [`from`, `to`), in time order. A corrected value keeps the arrival of its first version (the
/// revision history holds it).
pub fn receipts(
    conn: &Connection,
    indicator: &str,
    from: Millis,
    to: Millis,
) -> Result<Vec<(Millis, Millis)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT o.t, coalesce(
             (SELECT min(r.previous_received) FROM revision r WHERE r.indicator = o.indicator AND r.t = o.t),
             o.received)
         FROM observation o WHERE o.indicator = ?1 AND o.t >= ?2 AND o.t < ?3 ORDER BY o.t",
    )?;
    let rows = stmt
        .query_map(params![indicator, from, to], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Every indicator's series as it was known at instant `at`: observations timed at or before
/// `at`, each with the value it had then (the revision history holds the values that were
/// corrected since); observations that had not arrived yet are left out.
pub fn all_series_as_of(
    conn: &Connection,
    at: Millis,
) -> Result<HashMap<String, Vec<(Millis, f64)>>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT o.indicator, o.t,
            CASE WHEN o.received <= ?1 THEN o.value ELSE coalesce(
                (SELECT r.value FROM revision r
                  WHERE r.indicator = o.indicator AND r.t = o.t AND r.received <= ?1
                  ORDER BY r.received DESC, r.id DESC LIMIT 1),
                (SELECT r.previous_value FROM revision r
                  WHERE r.indicator = o.indicator AND r.t = o.t AND r.previous_received <= ?1
                  ORDER BY r.id ASC LIMIT 1))
            END
         FROM observation o WHERE o.t <= ?1 ORDER BY o.indicator, o.t",
    )?;
    let mut rows = stmt.query(params![at])?;
    let mut out: HashMap<String, Vec<(Millis, f64)>> = HashMap::new();
    let mut current: Option<(String, Vec<(Millis, f64)>)> = None;
    while let Some(r) = rows.next()? {
        let Some(value) = r.get::<_, Option<f64>>(2)? else {
            continue;
        };
        let id = r.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
        let point = (r.get::<_, i64>(1)?, value);
        match &mut current {
            Some((cur, list)) if cur == id => list.push(point),
            _ => {
                if let Some((k, mut v)) = current.take() {
                    // Without the slack of its growth: every series is held at once.
                    v.shrink_to_fit();
                    out.insert(k, v);
                }
                current = Some((id.to_string(), vec![point]));
            }
        }
    }
    if let Some((k, mut v)) = current {
        v.shrink_to_fit();
        out.insert(k, v);
    }
    Ok(out)
}

/// The newest note of every indicator written at or before `at`.
pub fn latest_notes_as_of(
    conn: &Connection,
    at: Millis,
) -> Result<HashMap<String, NoteRow>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, indicator, kendala, rencana_tindak_lanjut, department, created FROM note
         WHERE id IN (SELECT max(id) FROM note WHERE created <= ?1 GROUP BY indicator)",
    )?;
    let rows = stmt
        .query_map(params![at], note_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows.into_iter().map(|n| (n.indicator.clone(), n)).collect())
}

/// A recorded version of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlanVersionRow {
    pub id: i64,
    pub hash: String,
    pub loaded: Millis,
    pub revision_note: Option<String>,
    /// The changes from the version before (JSON list).
    pub changes: String,
}

/// Every version of the plan, newest first (without the plans themselves).
pub fn plan_versions(conn: &Connection) -> Result<Vec<PlanVersionRow>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, hash, loaded, revision_note, changes FROM plan_version ORDER BY id DESC",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(PlanVersionRow {
                id: r.get(0)?,
                hash: r.get(1)?,
                loaded: r.get(2)?,
                revision_note: r.get(3)?,
                changes: r.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The newest recorded plan: (id, hash, canonical JSON).
pub fn latest_plan(conn: &Connection) -> Result<Option<(i64, String, String)>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id, hash, plan FROM plan_version ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?)
}

/// Reminders sent for periods starting at or after `since`: (subject, period start, channel).
pub fn reminders_since(
    conn: &Connection,
    since: Millis,
) -> Result<Vec<(String, Millis, String)>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT indicator, period_start, channel FROM reminder WHERE period_start >= ?1",
    )?;
    let rows = stmt
        .query_map(params![since], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// One indicator's series in time order, and its newest note.
pub fn indicator_state(
    conn: &Connection,
    indicator: &str,
) -> Result<(Series, Option<NoteRow>), StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT t, value FROM observation WHERE indicator = ?1 ORDER BY t")?;
    let series = stmt
        .query_map(params![indicator], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let note = conn
        .prepare_cached(
            "SELECT id, indicator, kendala, rencana_tindak_lanjut, department, created FROM note
             WHERE indicator = ?1 ORDER BY id DESC LIMIT 1",
        )?
        .query_row(params![indicator], note_row)
        .optional()?;
    Ok((series, note))
}

/// Every indicator's series, in (indicator, time) order: the progress state is rebuilt from it.
pub fn all_series(conn: &Connection) -> Result<HashMap<String, Vec<(Millis, f64)>>, StoreError> {
    let mut stmt =
        conn.prepare("SELECT indicator, t, value FROM observation ORDER BY indicator, t")?;
    let mut rows = stmt.query([])?;
    let mut out: HashMap<String, Vec<(Millis, f64)>> = HashMap::new();
    let mut current: Option<(String, Vec<(Millis, f64)>)> = None;
    while let Some(r) = rows.next()? {
        let id = r.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
        let point = (r.get::<_, i64>(1)?, r.get::<_, f64>(2)?);
        match &mut current {
            Some((cur, list)) if cur == id => list.push(point),
            _ => {
                if let Some((k, v)) = current.take() {
                    out.insert(k, v);
                }
                current = Some((id.to_string(), vec![point]));
            }
        }
    }
    if let Some((k, v)) = current {
        out.insert(k, v);
    }
    Ok(out)
}

/// One stored observation as `pantau export` writes it (from either backend).
#[derive(Debug, Clone)]
pub struct ExportRow {
    pub indicator: String,
    pub time: Millis,
    pub value: f64,
    pub source: String,
    pub department: Option<String>,
    pub note: Option<String>,
    pub received: Millis,
}

/// One recorded poll of a feed.
#[derive(Debug, Clone, Serialize)]
pub struct FeedRunRow {
    pub started: Millis,
    pub duration_ms: i64,
    pub http_status: Option<u16>,
    pub points: i64,
    pub new: i64,
    pub corrected: i64,
    pub error: Option<String>,
}

pub fn feed_runs(
    conn: &Connection,
    feed: &str,
    limit: usize,
) -> Result<Vec<FeedRunRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT started, duration_ms, http_status, points, new, corrected, error FROM feed_run
         WHERE feed = ?1 ORDER BY id DESC LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![feed, limit as i64], |r| {
            Ok(FeedRunRow {
                started: r.get(0)?,
                duration_ms: r.get(1)?,
                http_status: r.get(2)?,
                points: r.get(3)?,
                new: r.get(4)?,
                corrected: r.get(5)?,
                error: r.get(6)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// What the database remembers of a feed's health (for `/api/v1/feeds` after a restart).
#[derive(Debug, Clone, Default)]
pub struct FeedHistory {
    pub last: Option<FeedRunRow>,
    pub last_success: Option<Millis>,
    pub last_error: Option<(Millis, String)>,
    pub consecutive_failures: i64,
}

pub fn feed_history(conn: &Connection, feed: &str) -> Result<FeedHistory, StoreError> {
    use rusqlite::OptionalExtension;
    let last = feed_runs(conn, feed, 1)?.into_iter().next();
    let last_success: Option<Millis> = conn.query_row(
        "SELECT max(started) FROM feed_run WHERE feed = ?1 AND error IS NULL",
        params![feed],
        |r| r.get(0),
    )?;
    let last_error: Option<(Millis, String)> = conn
        .query_row(
            "SELECT started, error FROM feed_run WHERE feed = ?1 AND error IS NOT NULL ORDER BY id DESC LIMIT 1",
            params![feed],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let consecutive_failures: i64 = conn.query_row(
        "SELECT count(*) FROM feed_run WHERE feed = ?1 AND id > coalesce(
             (SELECT max(id) FROM feed_run WHERE feed = ?1 AND error IS NULL), 0)",
        params![feed],
        |r| r.get(0),
    )?;
    Ok(FeedHistory {
        last,
        last_success,
        last_error,
        consecutive_failures,
    })
}

pub fn observation_count(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("SELECT count(*) FROM observation", [], |r| r.get(0))?)
}
