//! The change log: what each commit changed (the indicators whose observations or notes moved,
//! and token changes), written in the same transaction as the change itself by whoever commits.
//!
//! A serving daemon reads the entries other writers made since the last one it saw (another
//! process's `pantau import` or `pantau token revoke`) and refreshes exactly those indicators,
//! so what others commit reaches the screens. Entries older than `KEEP_MS` are pruned.

use crate::domain::Millis;
use rusqlite::{Connection, params};
use std::collections::BTreeSet;

/// Entries are kept this long; a reader further behind reloads everything.
pub const KEEP_MS: Millis = 7 * 86_400_000;

/// A random id for this process's writer, so it can tell its own entries from others'.
pub fn new_writer_id() -> String {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    hex::encode(b)
}

/// What others changed since the last entry seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExternalChanges {
    /// Indicators whose observations or notes changed.
    pub indicators: BTreeSet<String>,
    /// Tokens were created or revoked.
    pub tokens: bool,
}

impl ExternalChanges {
    pub fn is_empty(&self) -> bool {
        self.indicators.is_empty() && !self.tokens
    }
}

/// Records one change (inside the caller's transaction).
pub fn record(
    conn: &Connection,
    writer: &str,
    kind: &str,
    subject: Option<&str>,
    at: Millis,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO change (committed, writer, kind, subject) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![at, writer, kind, subject])?;
    Ok(())
}

/// The newest entry's id (0 when there is none).
pub fn last_id(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT coalesce(max(id), 0) FROM change", [], |r| r.get(0))
}

/// Entries after `after` that `writer` did not make; returns them and the newest id seen.
pub fn since(
    conn: &Connection,
    after: i64,
    writer: &str,
) -> rusqlite::Result<(ExternalChanges, i64)> {
    let mut stmt =
        conn.prepare_cached("SELECT id, writer, kind, subject FROM change WHERE id > ?1")?;
    let mut rows = stmt.query(params![after])?;
    let mut out = ExternalChanges::default();
    let mut last = after;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        last = last.max(id);
        let who: String = r.get(1)?;
        if who == writer {
            continue;
        }
        let kind: String = r.get(2)?;
        match kind.as_str() {
            "token" => out.tokens = true,
            _ => {
                if let Some(subject) = r.get::<_, Option<String>>(3)? {
                    out.indicators.insert(subject);
                }
            }
        }
    }
    Ok((out, last))
}

/// Deletes entries older than `KEEP_MS` before `now`.
pub fn prune(conn: &Connection, now: Millis) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM change WHERE committed < ?1",
        params![now - KEEP_MS],
    )
}
