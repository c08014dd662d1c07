//! The SQLite store: schema and migrations, connection settings, the one writer, read queries,
//! tokens and backups.
//!
//! One read-write connection lives in the writer thread (`writer`); every query uses a read-only
//! connection from `ReadPool`. The file is in WAL mode so readers never block the writer.
//! Migrations run at start in one IMMEDIATE transaction tracked by `user_version`; a database
//! written by a newer pantau is refused and left untouched.

pub mod backup;
pub mod changes;
mod finisher;
pub mod lock;
pub mod migrate;
pub mod postgres;
pub mod read;
pub mod tokens;
pub mod url;
pub mod writer;

pub use postgres::roles::Roles;
pub use read::{ReadPool, Reader};
pub use writer::{
    AppliedObservation, CommitListener, FeedRunRecord, NoteRecord, ObservationBatch, Origin,
    PlanVersionRecord, ReminderRecord, WriteCommand, WriteOutcome, WriterHandle,
};

use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};

/// The schema version this build writes. Each entry of `MIGRATIONS` moves one version up.
pub const SCHEMA_VERSION: i64 = 4;

const MIGRATIONS: &[&str] = &[
    // 0 -> 1: observations keyed by (indicator, time), their revisions, notes, tokens, feed runs.
    r#"
    CREATE TABLE observation (
        indicator   TEXT    NOT NULL,
        t           INTEGER NOT NULL,  -- instant, milliseconds since the Unix epoch (UTC)
        value       REAL    NOT NULL,
        source      TEXT    NOT NULL,  -- post | upload | import | feed:<id>
        department  TEXT,
        token_id    INTEGER,
        note        TEXT,
        received    INTEGER NOT NULL,  -- when pantau committed it (ms)
        PRIMARY KEY (indicator, t)
    ) WITHOUT ROWID;

    CREATE TABLE revision (
        id              INTEGER PRIMARY KEY,
        indicator       TEXT    NOT NULL,
        t               INTEGER NOT NULL,
        previous_value  REAL    NOT NULL,
        previous_source TEXT    NOT NULL,
        previous_received INTEGER NOT NULL,
        value           REAL    NOT NULL,
        source          TEXT    NOT NULL,
        department      TEXT,
        token_id        INTEGER,
        received        INTEGER NOT NULL
    );
    CREATE INDEX revision_by_indicator ON revision (indicator, id);

    CREATE TABLE note (
        id                    INTEGER PRIMARY KEY,
        indicator             TEXT    NOT NULL,
        kendala               TEXT    NOT NULL,
        rencana_tindak_lanjut TEXT    NOT NULL,
        department            TEXT,
        token_id              INTEGER,
        created               INTEGER NOT NULL
    );
    CREATE INDEX note_by_indicator ON note (indicator, id);

    CREATE TABLE token (
        id          INTEGER PRIMARY KEY,
        department  TEXT    NOT NULL,
        label       TEXT    NOT NULL DEFAULT '',
        salt        BLOB    NOT NULL,
        hash        BLOB    NOT NULL,
        created     INTEGER NOT NULL,
        revoked     INTEGER
    );

    CREATE TABLE feed_run (
        id          INTEGER PRIMARY KEY,
        feed        TEXT    NOT NULL,
        started     INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL,
        http_status INTEGER,
        points      INTEGER NOT NULL,
        new         INTEGER NOT NULL,
        corrected   INTEGER NOT NULL,
        error       TEXT
    );
    CREATE INDEX feed_run_by_feed ON feed_run (feed, id);
    "#,
    // 1 -> 2: the change log. Every commit (by the daemon, `pantau import`, `pantau token`)
    // records what it changed, so that a daemon sees commits made by other processes.
    r#"
    CREATE TABLE change (
        id          INTEGER PRIMARY KEY,
        committed   INTEGER NOT NULL,  -- ms
        writer      TEXT    NOT NULL,  -- who committed it (a random id per process)
        kind        TEXT    NOT NULL,  -- observations | note | token
        subject     TEXT               -- the indicator for observations and notes
    );
    CREATE INDEX change_by_time ON change (committed);
    "#,
    // 2 -> 3: the yearly cycle. When a value first arrived (compliance) is found through the
    // revisions of its (indicator, time); reminders sent, so each goes out once per period.
    r#"
    CREATE INDEX revision_by_key ON revision (indicator, t);
    CREATE TABLE reminder (
        indicator     TEXT    NOT NULL,
        period_start  INTEGER NOT NULL,  -- the reporting period the reminder is about (ms)
        channel       TEXT    NOT NULL,  -- email | webhook
        sent          INTEGER NOT NULL,  -- ms
        PRIMARY KEY (indicator, period_start, channel)
    ) WITHOUT ROWID;
    "#,
    // 3 -> 4: every version of the plan the daemon loaded (perubahan RPJMD), with what changed.
    r#"
    CREATE TABLE plan_version (
        id            INTEGER PRIMARY KEY,
        hash          TEXT    NOT NULL,  -- SHA-256 of the canonical plan
        loaded        INTEGER NOT NULL,  -- ms
        revision_note TEXT,
        plan          TEXT    NOT NULL,  -- the canonical plan (JSON)
        changes       TEXT    NOT NULL   -- JSON list of changes from the previous version
    );
    "#,
];

/// Errors of the store, mapped to HTTP statuses in `api::error`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the database {path} was written by a newer pantau (schema version {found}; this build knows up to {supported}); it was not modified: upgrade pantau or use another --db"
    )]
    NewerDatabase {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error(
        "the database cannot be written right now ({0}); nothing was stored: free disk space or fix permissions, then retry"
    )]
    Unavailable(String),
    #[error("the writer has stopped (pantau is shutting down); retry shortly")]
    Closed,
    /// The department token the write was authorized with was revoked (or removed) before the
    /// write's transaction began; nothing was stored.
    #[error("this token was revoked; ask your administrator for a new one")]
    TokenRevoked,
    #[error(
        "the database {} is already served by {holder}; stop that daemon first, or give this one another database with --db",
        database.display()
    )]
    AlreadyServed { database: PathBuf, holder: String },
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    /// A PostgreSQL error that is not about the connection (its text holds no password).
    #[error("database error: {0}")]
    Postgres(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode::*;
        match e.sqlite_error_code() {
            Some(
                DiskFull | ReadOnly | SystemIoFailure | CannotOpen | DatabaseBusy | DatabaseLocked,
            ) => StoreError::Unavailable(e.to_string()),
            _ => StoreError::Sqlite(e),
        }
    }
}

/// Connection settings for the read-write connection, in one place:
/// - `journal_mode = WAL`: readers see the last commit and never block the writer.
/// - `synchronous = FULL`: a commit is on disk when it returns, so an acknowledged value survives
///   power loss, not just a process crash (group commit keeps this cheap).
/// - `foreign_keys = ON`: no constraints use it yet; on so that future ones are enforced.
/// - `busy_timeout = 5000`: `pantau token` and backups from another process wait instead of failing.
/// - `wal_autocheckpoint = 4000` pages: fewer, larger checkpoints for faster sustained ingest.
fn configure_writer(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 5000;
         PRAGMA wal_autocheckpoint = 4000;",
    )?;
    Ok(())
}

/// Opens (creating if needed) the database at `path` read-write and brings the schema up to date.
/// A database from a newer pantau is refused before anything is written to it.
pub fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    if let Some(parent) = path.parent() {
        if !parent.as_os_str().is_empty() && !parent.exists() {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Unavailable(format!("cannot create folder {}: {e}", parent.display()))
            })?;
        }
    }
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // Read the version before any PRAGMA that could write (journal_mode changes the header).
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerDatabase {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    configure_writer(&conn)?;
    migrate(&mut conn)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerDatabase {
            path: PathBuf::new(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
    }
    tx.commit()?;
    Ok(())
}

/// Opens a read-only connection (WAL readers see the last commit and never block the writer).
pub fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

struct NoListener;
impl CommitListener for NoListener {
    fn committed(&mut self, _: &[writer::Committed<'_>], _: i64) {}
}

/// Writes validated observations in one transaction (all or none) through a writer of its own.
/// Returns (new, corrected, unchanged).
pub fn backfill(
    db: &Path,
    observations: Vec<crate::domain::Observation>,
    source: crate::domain::Source,
) -> Result<(u64, u64, u64), StoreError> {
    let conn = open_writer(db)?;
    let (writer, thread) = writer::spawn_writer(conn, Box::new(NoListener), 4);
    let result = writer.submit_blocking(WriteCommand::Observations(ObservationBatch {
        origin: Origin {
            source,
            department: None,
            token_id: None,
        },
        rows: observations,
    }));
    drop(writer);
    let _ = thread.join();
    match result? {
        WriteOutcome::Observations {
            new,
            corrected,
            unchanged,
        } => Ok((new, corrected, unchanged)),
        _ => Err(StoreError::Closed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_a_new_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let conn = open_writer(&path).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        drop(conn);
        // Opening again is a no-op migration.
        open_writer(&path).unwrap();
    }

    #[test]
    fn refuses_newer_database_without_touching_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;")
                .unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let err = open_writer(&path).unwrap_err();
        assert!(
            matches!(err, StoreError::NewerDatabase { found: 99, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("newer pantau"));
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert!(!dir.path().join("new.db-wal").exists());
    }
}
