//! Backups of the database and restoring one: the online copy (SQLite's backup API from a
//! read-only connection, so the writer is never blocked), scheduled backups written atomically
//! and rotated, their last result for `/healthz` and `/metrics`, and `pantau restore`.
//!
//! What must stay true: a file named `pantau-<time>.db` in the backup folder is always a whole
//! copy that passed `PRAGMA integrity_check` (it is written under a temporary name, synced, and
//! only then renamed); a copy holds every commit made before it started; a restore never runs
//! beside a daemon serving the database, and never throws the replaced database away.

use super::{SCHEMA_VERSION, StoreError, lock::ServeLock, open_reader};
use crate::domain::{Millis, format_instant};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Pages copied per backup step; between steps a stopping daemon can interrupt the copy.
const PAGES_PER_STEP: i32 = 1024;

/// How soon a failed scheduled backup is tried again (or after `every`, if that is sooner).
pub const RETRY_AFTER: Duration = Duration::from_secs(15 * 60);

/// Copies the live database `source` to a new file `dest` with SQLite's online backup, then
/// returns `PRAGMA integrity_check` of the copy (`ok` when it is sound).
///
/// The copy is one snapshot: a read transaction is held on the source for the whole copy, so
/// commits made meanwhile (WAL: they never wait for it) neither restart it nor enter it, and
/// everything committed before it began is in it. `cancel` stops it between steps.
pub fn backup_with(
    source: &Path,
    dest: &Path,
    cancel: Option<&AtomicBool>,
) -> Result<String, StoreError> {
    let src = open_reader(source)?;
    // The snapshot: a deferred transaction becomes a read transaction at its first read.
    src.execute_batch("BEGIN; SELECT count(*) FROM sqlite_schema;")?;
    let mut dst = Connection::open(dest)?;
    {
        let b = rusqlite::backup::Backup::new(&src, &mut dst)?;
        loop {
            if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                return Err(StoreError::Unavailable(
                    "the backup was interrupted: pantau is stopping".into(),
                ));
            }
            match b.step(PAGES_PER_STEP)? {
                rusqlite::backup::StepResult::Done => break,
                rusqlite::backup::StepResult::More => {}
                _ => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    }
    src.execute_batch("COMMIT")?;
    // The copy carries the source's WAL flag; a backup is one self-contained file instead, so
    // that opening it (even read-only) leaves no -wal or -shm beside it.
    dst.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))?;
    let check: String = dst.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    dst.close().map_err(|(_, e)| StoreError::from(e))?;
    Ok(check)
}

/// `backup_with` without interruption (`pantau backup`).
pub fn backup(source: &Path, dest: &Path) -> Result<String, StoreError> {
    backup_with(source, dest, None)
}

/// When, how many and where scheduled backups are kept (`[storage.backup]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupPlan {
    pub every: Duration,
    pub keep: usize,
    pub dir: PathBuf,
}

impl BackupPlan {
    /// Backups more often than once a minute carry seconds in their names.
    fn names_with_seconds(&self) -> bool {
        self.every < Duration::from_secs(60)
    }
}

/// The name of a backup made at `at`, in the city's time: `pantau-20261201T0300.db`
/// (`pantau-20261201T030015.db` when backups are made more often than once a minute).
pub fn backup_name(at: DateTime<Tz>, with_seconds: bool) -> String {
    let stamp = if with_seconds {
        at.format("%Y%m%dT%H%M%S")
    } else {
        at.format("%Y%m%dT%H%M")
    };
    format!("pantau-{stamp}.db")
}

/// The time stamp of a backup's file name, with seconds (so both forms sort together), or
/// None for a file that is not one of ours.
fn stamp_of(name: &str) -> Option<String> {
    let stamp = name.strip_prefix("pantau-")?.strip_suffix(".db")?;
    let (date, time) = stamp.split_once('T')?;
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if date.len() != 8 || !digits(date) || !digits(time) {
        return None;
    }
    match time.len() {
        4 => Some(format!("{date}T{time}00")),
        6 => Some(format!("{date}T{time}")),
        _ => None,
    }
}

/// Backups in `dir`, oldest first.
pub fn list_backups(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(stamp) = name.to_str().and_then(stamp_of) else {
            continue;
        };
        if entry.file_type()?.is_file() {
            found.push((stamp, entry.path()));
        }
    }
    found.sort();
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

/// Deletes all but the newest `keep` backups in `dir`, and temporary files that an interrupted
/// backup left; files that are not pantau's are never touched. Returns the backups kept.
pub fn rotate(dir: &Path, keep: usize) -> std::io::Result<usize> {
    let all = list_backups(dir)?;
    let remove = all.len().saturating_sub(keep);
    for old in &all[..remove] {
        std::fs::remove_file(old)?;
        // Someone may have opened it in place.
        for suffix in ["-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(beside(old, suffix));
        }
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(".pantau-") && name.ends_with(".db.partial") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(all.len() - remove)
}

/// Syncs a folder, so that a rename in it survives power loss.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> String {
    format!("cannot {what} {}: {e}", path.display())
}

/// A backup written by `write_backup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub file: PathBuf,
    pub bytes: u64,
}

/// Writes one backup of `db` into `dir` named for `at`: copied to a temporary name, checked
/// with `integrity_check`, synced, renamed. On any failure nothing is left under a backup's name.
pub fn write_backup(
    db: &Path,
    dir: &Path,
    at: DateTime<Tz>,
    with_seconds: bool,
    cancel: Option<&AtomicBool>,
) -> Result<Written, String> {
    std::fs::create_dir_all(dir).map_err(|e| {
        io_error("create the backup folder", dir, e)
            + "; fix [storage.backup] dir or the folder's permissions"
    })?;
    let name = backup_name(at, with_seconds);
    let file = dir.join(&name);
    if file.exists() {
        return Err(format!(
            "{} already exists; a backup is never overwritten",
            file.display()
        ));
    }
    let partial = dir.join(format!(".{name}.partial"));
    let _ = std::fs::remove_file(&partial);
    let result = (|| {
        let check = backup_with(db, &partial, cancel).map_err(|e| e.to_string())?;
        if check != "ok" {
            return Err(format!("the copy failed its integrity check: {check}"));
        }
        let f = std::fs::File::open(&partial).map_err(|e| io_error("open", &partial, e))?;
        // A backup holds the token hashes: nobody but the owner and its group may read it.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(m) = f.metadata() {
                let mode = m.permissions().mode() & 0o770;
                let _ = f.set_permissions(std::fs::Permissions::from_mode(mode));
            }
        }
        f.sync_all().map_err(|e| io_error("sync", &partial, e))?;
        drop(f);
        std::fs::rename(&partial, &file).map_err(|e| io_error("rename", &partial, e))?;
        sync_dir(dir).map_err(|e| io_error("sync the folder", dir, e))?;
        let bytes = std::fs::metadata(&file)
            .map_err(|e| io_error("read", &file, e))?
            .len();
        Ok(Written {
            file: file.clone(),
            bytes,
        })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
        let _ = std::fs::remove_file(dir.join(format!(".{name}.partial-journal")));
    }
    result
}

/// One scheduled backup's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupRun {
    /// When it started (ms).
    pub started: Millis,
    /// The file written (on success).
    pub file: Option<PathBuf>,
    pub bytes: Option<u64>,
    pub duration_ms: u64,
    /// What went wrong (None: it succeeded).
    pub error: Option<String>,
}

/// What `/healthz` and `/metrics` show about scheduled backups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupState {
    pub plan: BackupPlan,
    pub last: Option<BackupRun>,
    /// The newest good backup: when it was written (ms) and its file. After a restart, the
    /// newest one in the folder.
    pub last_success: Option<(Millis, PathBuf)>,
    pub successes_total: u64,
    pub failures_total: u64,
    pub consecutive_failures: u64,
    /// When the next one is due (ms).
    pub next: Option<Millis>,
    /// Backups in the folder after the last rotation.
    pub files: usize,
    /// The backup being written now, since when (ms).
    pub running_since: Option<Millis>,
}

/// The shared backup state; empty when backups are not configured. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct BackupStatus(Arc<Mutex<Option<BackupState>>>);

impl BackupStatus {
    /// A copy of the state (None: backups are off).
    pub fn get(&self) -> Option<BackupState> {
        match self.0.lock() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut BackupState) -> R) -> Option<R> {
        let mut guard = match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        guard.as_mut().map(f)
    }

    fn start(&self, plan: BackupPlan) {
        let mut guard = match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *guard = Some(BackupState {
            plan,
            last: None,
            last_success: None,
            successes_total: 0,
            failures_total: 0,
            consecutive_failures: 0,
            next: None,
            files: 0,
            running_since: None,
        });
    }
}

/// The newest backup in `dir` and when it was written (its modification time), and how many
/// there are.
fn newest_in(dir: &Path) -> (Option<(Millis, PathBuf)>, usize) {
    let Ok(all) = list_backups(dir) else {
        return (None, 0);
    };
    let newest = all.last().and_then(|p| {
        let modified = std::fs::metadata(p).ok()?.modified().ok()?;
        let ms = DateTime::<Utc>::from(modified).timestamp_millis();
        Some((ms, p.clone()))
    });
    (newest, all.len())
}

/// What the schedule tells its owner after each backup: the run, and whether it is the first
/// failure after successes (`Failed`) or the first success after failures (`Recovered`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Failed,
    Recovered,
    Unchanged,
}

/// Runs scheduled backups of `db` until `stop` turns true: the first one `every` after the
/// newest backup already in the folder (at once when there is none, or it is older), then
/// every `every` (a failed one is tried again within `RETRY_AFTER`). Each backup runs on a
/// blocking thread; `told` hears every result (to tell the wall and the log).
pub async fn run_schedule(
    db: PathBuf,
    plan: BackupPlan,
    tz: Tz,
    status: BackupStatus,
    told: impl Fn(&BackupRun, Transition) + Send + 'static,
    mut stop: watch::Receiver<bool>,
) {
    status.start(plan.clone());
    let dir = plan.dir.clone();
    let (newest, files) = tokio::task::spawn_blocking(move || newest_in(&dir))
        .await
        .unwrap_or((None, 0));
    let every_ms = plan.every.as_millis() as i64;
    let now = Utc::now().timestamp_millis();
    let mut next = newest
        .as_ref()
        .map(|(t, _)| (t + every_ms).max(now))
        .unwrap_or(now);
    status.with(|s| {
        s.last_success = newest;
        s.files = files;
        s.next = Some(next);
    });
    loop {
        let wait = (next - Utc::now().timestamp_millis()).max(0) as u64;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
            _ = stopped(&mut stop) => return,
        }
        let started = Utc::now().timestamp_millis();
        status.with(|s| s.running_since = Some(started));
        let cancel = Arc::new(AtomicBool::new(false));
        let job = {
            let (db, plan, cancel) = (db.clone(), plan.clone(), cancel.clone());
            tokio::task::spawn_blocking(move || {
                let at = DateTime::<Utc>::from_timestamp_millis(started)
                    .unwrap_or_default()
                    .with_timezone(&tz);
                let clock = Instant::now();
                let written =
                    write_backup(&db, &plan.dir, at, plan.names_with_seconds(), Some(&cancel));
                let kept = match &written {
                    Ok(_) => Some(
                        rotate(&plan.dir, plan.keep)
                            .map_err(|e| io_error("rotate the backups in", &plan.dir, e)),
                    ),
                    Err(_) => None,
                };
                (written, kept, clock.elapsed())
            })
        };
        tokio::pin!(job);
        let outcome = tokio::select! {
            done = &mut job => done,
            _ = stopped(&mut stop) => {
                // Interrupt the copy between steps; its temporary file is removed.
                cancel.store(true, Ordering::Relaxed);
                let _ = job.await;
                return;
            }
        };
        let (written, kept, took) = match outcome {
            Ok(o) => o,
            Err(e) => (
                Err(format!("the backup task failed: {e}")),
                None,
                Duration::ZERO,
            ),
        };
        let run = BackupRun {
            started,
            file: written.as_ref().ok().map(|w| w.file.clone()),
            bytes: written.as_ref().ok().map(|w| w.bytes),
            duration_ms: took.as_millis() as u64,
            // A backup that was written but whose rotation failed is good, and says so.
            error: match (&written, &kept) {
                (Err(e), _) => Some(e.clone()),
                (Ok(_), Some(Err(e))) => Some(format!("the backup was written, but {e}")),
                _ => None,
            },
        };
        let ok = written.is_ok();
        next = if ok {
            started + every_ms
        } else {
            started + every_ms.min(RETRY_AFTER.as_millis() as i64)
        }
        .max(Utc::now().timestamp_millis() + 1000.min(every_ms));
        let transition = status
            .with(|s| {
                let was_failing = s.consecutive_failures > 0;
                s.running_since = None;
                s.next = Some(next);
                if let Some(Ok(files)) = &kept {
                    s.files = *files;
                }
                if let Ok(w) = &written {
                    s.successes_total += 1;
                    s.consecutive_failures = 0;
                    s.last_success = Some((started, w.file.clone()));
                } else {
                    s.failures_total += 1;
                    s.consecutive_failures += 1;
                }
                s.last = Some(run.clone());
                match (ok, was_failing) {
                    (false, false) => Transition::Failed,
                    (true, true) => Transition::Recovered,
                    _ => Transition::Unchanged,
                }
            })
            .unwrap_or(Transition::Unchanged);
        told(&run, transition);
    }
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Why `pantau restore` refused.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(
        "the database {} is served by {holder}; stop that daemon first (e.g. `systemctl stop pantau`), then run pantau restore again",
        database.display()
    )]
    Served { database: PathBuf, holder: String },
    #[error("{} is not a backup pantau can restore: {reason}", file.display())]
    NotABackup { file: PathBuf, reason: String },
    #[error(
        "{} was written by a newer pantau (schema version {found}; this build knows up to {supported}); nothing was changed: restore it with that pantau or a newer one",
        file.display()
    )]
    Newer {
        file: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("cannot restore: {0}; nothing was changed")]
    Io(String),
    #[error(
        "the restored copy could not be put in place ({0}); the replaced database was kept aside, and the copy is beside it with the suffix `.restoring`"
    )]
    Incomplete(String),
}

/// What `restore` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub schema_version: i64,
    pub observations: i64,
    /// Where the database it replaced now is (None: there was none).
    pub replaced: Option<PathBuf>,
}

/// Checks that `file` is a sound pantau database this build can open: integrity, schema version.
pub fn check_backup(file: &Path) -> Result<(i64, i64), RestoreError> {
    let not = |reason: String| RestoreError::NotABackup {
        file: file.to_path_buf(),
        reason,
    };
    if !file.is_file() {
        return Err(not("there is no such file".into()));
    }
    let conn = Connection::open_with_flags(
        file,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| not(e.to_string()))?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| not(format!("it is not an SQLite database ({e})")))?;
    if version > SCHEMA_VERSION {
        return Err(RestoreError::Newer {
            file: file.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| not(format!("its integrity check could not run ({e})")))?;
    if check != "ok" {
        let shown: String = check.chars().take(200).collect();
        return Err(not(format!("it fails PRAGMA integrity_check: {shown}")));
    }
    let observations: i64 = conn
        .query_row("SELECT count(*) FROM observation", [], |r| r.get(0))
        .map_err(|_| not("it has no observation table (it is not a pantau database)".into()))?;
    Ok((version, observations))
}

/// `<name><suffix>` beside `path`.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// Gives `path` the owner of `like` (a restore run as root for a daemon that runs as `pantau`).
#[cfg(unix)]
fn same_owner(path: &Path, like: &Path) {
    use std::os::unix::fs::MetadataExt;
    if let Ok(m) = std::fs::metadata(like) {
        let _ = std::os::unix::fs::chown(path, Some(m.uid()), Some(m.gid()));
    }
}

#[cfg(not(unix))]
fn same_owner(_: &Path, _: &Path) {}

/// Replaces the database `db` with the backup `file`: refused while a daemon serves `db` (the
/// serve lock is held for the whole restore, so none can start meanwhile); the backup is
/// checked first; the replaced database is checkpointed and kept as
/// `<db>.replaced-<time>` (with its `-wal`/`-shm`, if any remain).
pub fn restore(file: &Path, db: &Path, now: DateTime<Tz>) -> Result<Restored, RestoreError> {
    let lock = ServeLock::acquire(db, &format!("pantau restore (pid {})", std::process::id()))
        .map_err(|e| match e {
            StoreError::AlreadyServed { database, holder } => {
                RestoreError::Served { database, holder }
            }
            other => RestoreError::Io(other.to_string()),
        })?;
    // A lock file made by a restore run as root must stay usable by the daemon's user.
    if let Some(dir) = db.parent().filter(|p| !p.as_os_str().is_empty()) {
        same_owner(lock.path(), dir);
    }
    if let (Ok(a), Ok(b)) = (file.canonicalize(), db.canonicalize()) {
        if a == b {
            return Err(RestoreError::NotABackup {
                file: file.to_path_buf(),
                reason: "it is the database itself; name a backup file".into(),
            });
        }
    }
    let (schema_version, observations) = check_backup(file)?;

    // The copy is made first, beside the database, so that the database is replaced by one
    // rename once it is sound.
    let incoming = beside(db, ".restoring");
    let _ = std::fs::remove_file(&incoming);
    let copied = (|| {
        let check = backup(file, &incoming).map_err(|e| e.to_string())?;
        if check != "ok" {
            return Err(format!("the copy failed its integrity check: {check}"));
        }
        std::fs::File::open(&incoming)
            .and_then(|f| f.sync_all())
            .map_err(|e| io_error("sync", &incoming, e))
    })();
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&incoming);
        return Err(RestoreError::Io(e));
    }

    let replaced = if db.exists() {
        // Fold the WAL into the database so that the file kept aside is whole on its own.
        if let Ok(c) = Connection::open_with_flags(
            db,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        ) {
            let _ = c.busy_timeout(Duration::from_secs(5));
            let _ = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
            let _ = c.close();
        }
        let aside = beside(db, &format!(".replaced-{}", now.format("%Y%m%dT%H%M%S")));
        if aside.exists() {
            let _ = std::fs::remove_file(&incoming);
            return Err(RestoreError::Io(format!(
                "{} already exists; wait a second and try again",
                aside.display()
            )));
        }
        std::fs::rename(db, &aside).map_err(|e| {
            let _ = std::fs::remove_file(&incoming);
            RestoreError::Io(io_error("move aside", db, e))
        })?;
        // Whatever WAL is left belongs to the file kept aside: it moves with it.
        for suffix in ["-wal", "-shm"] {
            let from = beside(db, suffix);
            if from.exists() {
                std::fs::rename(&from, beside(&aside, suffix))
                    .map_err(|e| RestoreError::Incomplete(io_error("move aside", &from, e)))?;
            }
        }
        Some(aside)
    } else {
        None
    };
    let owner = replaced
        .clone()
        .or_else(|| db.parent().map(Path::to_path_buf))
        .filter(|p| !p.as_os_str().is_empty());
    if let Some(owner) = &owner {
        same_owner(&incoming, owner);
    }
    std::fs::rename(&incoming, db)
        .map_err(|e| RestoreError::Incomplete(io_error("rename", &incoming, e)))?;
    if let Some(dir) = db.parent().filter(|p| !p.as_os_str().is_empty()) {
        let _ = sync_dir(dir);
    }
    drop(lock);
    Ok(Restored {
        schema_version,
        observations,
        replaced,
    })
}

/// A backup run as `/healthz` shows it.
pub fn run_json(run: &BackupRun, tz: Tz) -> serde_json::Value {
    serde_json::json!({
        "time": format_instant(run.started, tz),
        "ok": run.file.is_some(),
        "file": run.file.as_ref().map(|f| f.display().to_string()),
        "bytes": run.bytes,
        "duration_ms": run.duration_ms,
        "error": run.error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Tz> {
        chrono_tz::Asia::Jakarta
            .with_ymd_and_hms(2026, 12, 1, h, m, s)
            .unwrap()
    }

    #[test]
    fn names_carry_the_city_time() {
        assert_eq!(backup_name(at(3, 0, 9), false), "pantau-20261201T0300.db");
        assert_eq!(backup_name(at(3, 0, 9), true), "pantau-20261201T030009.db");
        assert_eq!(
            stamp_of("pantau-20261201T0300.db").as_deref(),
            Some("20261201T030000")
        );
        assert_eq!(
            stamp_of("pantau-20261201T030009.db").as_deref(),
            Some("20261201T030009")
        );
        for other in [
            "pantau.db",
            "pantau-20261201T03.db",
            "pantau-2026120xT0300.db",
            ".pantau-20261201T0300.db.partial",
            "pantau-20261201T0300.db-wal",
        ] {
            assert_eq!(stamp_of(other), None, "{other}");
        }
    }

    #[test]
    fn rotation_keeps_the_newest_and_touches_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let names = [
            "pantau-20261129T0300.db",
            "pantau-20261130T0300.db",
            "pantau-20261201T030000.db",
            "pantau-20261201T0301.db",
            "notes.txt",
            ".pantau-20261201T0302.db.partial",
        ];
        for n in names {
            std::fs::write(dir.path().join(n), n).unwrap();
        }
        assert_eq!(rotate(dir.path(), 2).unwrap(), 2);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "notes.txt",
                "pantau-20261201T030000.db",
                "pantau-20261201T0301.db"
            ]
        );
    }

    #[test]
    fn a_backup_is_whole_checked_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("pantau.db");
        let conn = super::super::open_writer(&db).unwrap();
        conn.execute(
            "INSERT INTO observation (indicator, t, value, source, received) VALUES ('a', 1, 2.5, 'post', 3)",
            [],
        )
        .unwrap();
        let out = dir.path().join("backups");
        let w = write_backup(&db, &out, at(3, 0, 0), false, None).unwrap();
        assert_eq!(w.file, out.join("pantau-20261201T0300.db"));
        assert_eq!(w.bytes, std::fs::metadata(&w.file).unwrap().len());
        assert_eq!(check_backup(&w.file).unwrap(), (SCHEMA_VERSION, 1));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&w.file).unwrap().permissions().mode();
            assert_eq!(mode & 0o007, 0, "others may not read a backup: {mode:o}");
        }
        let again = write_backup(&db, &out, at(3, 0, 30), false, None).unwrap_err();
        assert!(again.contains("already exists"), "{again}");
        let names: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        eprintln!("{names:?}");
        assert_eq!(
            names.len(),
            1,
            "no temporary or WAL file is left behind: {names:?}"
        );
        // An interrupted copy leaves nothing under a backup's name.
        let cancel = AtomicBool::new(true);
        let e = write_backup(&db, &out, at(4, 0, 0), false, Some(&cancel)).unwrap_err();
        assert!(e.contains("interrupted"), "{e}");
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);
    }

    #[test]
    fn a_file_that_is_not_a_backup_is_refused_before_anything_changes() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("pantau.db");
        drop(super::super::open_writer(&db).unwrap());
        let before = std::fs::read(&db).unwrap();
        let text = dir.path().join("notes.db");
        std::fs::write(&text, "not a database at all, just text").unwrap();
        let newer = dir.path().join("newer.db");
        Connection::open(&newer)
            .unwrap()
            .execute_batch("CREATE TABLE observation (x); PRAGMA user_version = 99;")
            .unwrap();
        let other = dir.path().join("other.db");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t (x);")
            .unwrap();
        for (file, says) in [
            (&text, "not an SQLite database"),
            (&newer, "newer pantau"),
            (&other, "not a pantau database"),
            (&dir.path().join("missing.db"), "no such file"),
            (&db, "the database itself"),
        ] {
            let e = restore(file, &db, at(5, 0, 0)).unwrap_err().to_string();
            assert!(e.contains(says), "{}: {e}", file.display());
        }
        assert_eq!(std::fs::read(&db).unwrap(), before);
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("replaced") || n.contains("restoring"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    /// A backup whose pages were damaged after it was written (a bad disk, a partial copy) opens
    /// as SQLite but fails `integrity_check`: it is refused and the database is untouched.
    #[test]
    fn a_damaged_backup_fails_its_integrity_check_and_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("pantau.db");
        drop(super::super::open_writer(&db).unwrap());
        let before = std::fs::read(&db).unwrap();
        let damaged = dir.path().join("damaged.db");
        {
            let conn = super::super::open_writer(&damaged).unwrap();
            let tx = conn.unchecked_transaction().unwrap();
            for i in 0..5_000 {
                tx.execute(
                    "INSERT INTO observation (indicator, t, value, source, received) \
                     VALUES (?1, ?2, ?3, 'post', 3)",
                    rusqlite::params![format!("indikator-{}", i % 50), i, i as f64 * 0.5],
                )
                .unwrap();
            }
            tx.commit().unwrap();
            conn.execute_batch("PRAGMA journal_mode = DELETE").unwrap();
        }
        let pristine = check_backup(&damaged).expect("sound before the damage");
        assert_eq!(pristine.1, 5_000);
        // Scribble over the middle of every page but the first (the header and the schema stay
        // readable, so the file still opens as a pantau database of this schema).
        let mut bytes = std::fs::read(&damaged).unwrap();
        let page = u16::from_be_bytes([bytes[16], bytes[17]]) as usize;
        assert!(bytes.len() / page > 4, "{} pages", bytes.len() / page);
        for start in (page..bytes.len()).step_by(page) {
            for b in &mut bytes[start + page / 3..start + page / 2] {
                *b = 0xA5;
            }
        }
        std::fs::write(&damaged, &bytes).unwrap();
        let e = restore(&damaged, &db, at(5, 0, 0)).unwrap_err().to_string();
        assert!(e.contains("integrity"), "{e}");
        assert_eq!(std::fs::read(&db).unwrap(), before);
    }
}
