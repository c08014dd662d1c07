//! `ServeLock`: at most one daemon serves a database. The daemon holds an exclusive lock on
//! `<database>.lock` for as long as it runs, with who it is written inside (process id, address,
//! start time); a second daemon is refused with those details. The operating system releases
//! the lock when the process ends, however it ends, so a crash never leaves a stale lock.
//!
//! Other commands (`pantau import`, `pantau token`) may still write while a daemon serves: they
//! use `holder` to say so, and the daemon picks their commits up from the change log.

use super::StoreError;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Held by the serving daemon; dropping it releases the database.
#[derive(Debug)]
pub struct ServeLock {
    _file: File,
    path: PathBuf,
}

/// The lock file next to a database (`pantau.db` -> `pantau.db.lock`).
pub fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    database.with_file_name(name)
}

impl ServeLock {
    /// Takes the lock for `database`, writing `holder` (e.g. `pid 123, http://127.0.0.1:8080,
    /// since ...`) into it. Refused with `StoreError::AlreadyServed` while another process holds it.
    #[allow(clippy::incompatible_msrv)] // `File::try_lock` (Rust 1.89)
    pub fn acquire(database: &Path, holder: &str) -> Result<ServeLock, StoreError> {
        let path = lock_path(database);
        if let Some(parent) = path.parent() {
            if !parent.as_os_str().is_empty() && !parent.exists() {
                std::fs::create_dir_all(parent).map_err(|e| {
                    StoreError::Unavailable(format!(
                        "cannot create folder {}: {e}",
                        parent.display()
                    ))
                })?;
            }
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| {
                StoreError::Unavailable(format!(
                    "cannot open the lock file {}: {e}",
                    path.display()
                ))
            })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::AlreadyServed {
                    database: database.to_path_buf(),
                    holder: read_holder(&mut file),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(StoreError::Unavailable(format!(
                    "cannot lock {}: {e}",
                    path.display()
                )));
            }
        }
        let _ = file.set_len(0);
        let _ = file.seek(SeekFrom::Start(0));
        let _ = file.write_all(holder.as_bytes());
        let _ = file.sync_data();
        Ok(ServeLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Who serves `database` right now, if anyone (read from the lock file while it is locked).
#[allow(clippy::incompatible_msrv)] // `File::try_lock` (Rust 1.89)
pub fn holder(database: &Path) -> Option<String> {
    let path = lock_path(database);
    let mut file = OpenOptions::new().read(true).write(true).open(path).ok()?;
    match file.try_lock() {
        // Nobody holds it: the file is left over from a daemon that has stopped.
        Ok(()) => {
            let _ = file.unlock();
            None
        }
        Err(std::fs::TryLockError::WouldBlock) => Some(read_holder(&mut file)),
        Err(std::fs::TryLockError::Error(_)) => None,
    }
}

fn read_holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.take(1024).read_to_string(&mut text);
    let text = text.trim();
    if text.is_empty() {
        "another pantau process".to_string()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_details() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("pantau.db");
        assert_eq!(holder(&db), None);
        let first = ServeLock::acquire(&db, "pid 1, http://127.0.0.1:8080").unwrap();
        assert_eq!(first.path(), dir.path().join("pantau.db.lock"));
        let err = ServeLock::acquire(&db, "pid 2").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("pid 1, http://127.0.0.1:8080"), "{text}");
        assert!(text.contains(&db.display().to_string()), "{text}");
        assert_eq!(holder(&db).as_deref(), Some("pid 1, http://127.0.0.1:8080"));
        drop(first);
        assert_eq!(holder(&db), None);
        ServeLock::acquire(&db, "pid 3").unwrap();
    }
}
