//! Department tokens: created once and shown once, stored only as a salted SHA-256 hash,
//! checked in constant time, revocable.
//!
//! A token reads `pantau_<id>_<48 hex digits>`: the id finds the row, the secret is hashed with
//! the row's salt and compared. The secrets are random 192-bit values, so a fast hash is enough.
//!
//! A serving daemon keeps the tokens that verified in a small `TokenCache`, so a post does not
//! look its token up in SQLite each time. Tokens are created and revoked only by other processes
//! (`pantau token`), whose commits the writer notices in the change log: it then bumps
//! `WriterMetrics::token_changes`, and the cache empties itself when it sees the new count.

use super::StoreError;
use crate::domain::{DepartmentId, Millis};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use subtle::ConstantTimeEq;

/// Tokens a cache holds at most; when full it starts again empty.
pub const CACHE_TOKENS: usize = 1024;

/// Tokens that verified as valid since the last token change: by the SHA-256 of the presented
/// text (the cache never holds a token itself), their id and department.
#[derive(Debug, Default)]
pub struct TokenCache {
    state: Mutex<CacheState>,
}

#[derive(Debug, Default)]
struct CacheState {
    /// The token change count the entries were verified under.
    generation: u64,
    entries: HashMap<[u8; 32], (i64, String)>,
}

fn cache_key(presented: &str) -> [u8; 32] {
    Sha256::digest(presented.as_bytes()).into()
}

impl TokenCache {
    /// The id and department of `presented` if it verified under `generation` (the current
    /// token change count); a newer generation empties the cache.
    pub fn get(&self, presented: &str, generation: u64) -> Option<(i64, String)> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.generation != generation {
            state.entries.clear();
            state.generation = generation;
            return None;
        }
        state.entries.get(&cache_key(presented)).cloned()
    }

    /// Remembers a token that `verify` found valid, when no token changed since `generation`
    /// was read (before the lookup) and `now` (after it).
    pub fn insert(&self, presented: &str, generation: u64, now: u64, id: i64, department: &str) {
        if generation != now {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.generation != generation {
            return;
        }
        if state.entries.len() >= CACHE_TOKENS {
            state.entries.clear();
        }
        state
            .entries
            .insert(cache_key(presented), (id, department.to_string()));
    }
}

/// A stored token (never its secret).
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub department: String,
    pub label: String,
    pub created: Millis,
    pub revoked: Option<Millis>,
}

fn random_bytes<const N: usize>() -> Result<[u8; N], StoreError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b)
        .map_err(|e| StoreError::Unavailable(format!("no randomness available: {e}")))?;
    Ok(b)
}

fn digest(salt: &[u8], secret: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(secret.as_bytes());
    h.finalize().to_vec()
}

/// A new token's secret and salt, and the hash stored for them.
pub fn new_secret() -> Result<(String, [u8; 16], Vec<u8>), StoreError> {
    let secret = hex::encode(random_bytes::<24>()?);
    let salt = random_bytes::<16>()?;
    let hash = digest(&salt, &secret);
    Ok((secret, salt, hash))
}

/// Creates a token for `department` and returns (id, the full token text to show once).
pub fn create(
    conn: &Connection,
    department: &DepartmentId,
    label: &str,
) -> Result<(i64, String), StoreError> {
    let (secret, salt, hash) = new_secret()?;
    let now = chrono::Utc::now().timestamp_millis();
    let tx = conn.unchecked_transaction()?;
    tx.execute(
        "INSERT INTO token (department, label, salt, hash, created) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![department.as_str(), label, &salt[..], hash, now],
    )?;
    let id = tx.last_insert_rowid();
    super::changes::record(&tx, &super::changes::new_writer_id(), "token", None, now)?;
    tx.commit()?;
    Ok((id, format!("pantau_{id}_{secret}")))
}

pub fn list(conn: &Connection) -> Result<Vec<TokenInfo>, StoreError> {
    let mut stmt =
        conn.prepare("SELECT id, department, label, created, revoked FROM token ORDER BY id")?;
    let rows = stmt
        .query_map([], |r| {
            Ok(TokenInfo {
                id: r.get(0)?,
                department: r.get(1)?,
                label: r.get(2)?,
                created: r.get(3)?,
                revoked: r.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// What `revoke` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// Revoked now.
    Now,
    /// It had been revoked already, at this instant.
    Already(Millis),
    /// There is no token with this id.
    NoSuchToken,
}

/// Revokes token `id` (recorded in the change log, so a serving daemon refuses it at once).
pub fn revoke(conn: &Connection, id: i64) -> Result<Revoked, StoreError> {
    let now = chrono::Utc::now().timestamp_millis();
    let tx = conn.unchecked_transaction()?;
    let before: Option<Option<Millis>> = tx
        .query_row(
            "SELECT revoked FROM token WHERE id = ?1",
            params![id],
            |r| r.get(0),
        )
        .optional()?;
    let outcome = match before {
        None => Revoked::NoSuchToken,
        Some(Some(at)) => Revoked::Already(at),
        Some(None) => {
            tx.execute(
                "UPDATE token SET revoked = ?2 WHERE id = ?1",
                params![id, now],
            )?;
            super::changes::record(&tx, &super::changes::new_writer_id(), "token", None, now)?;
            Revoked::Now
        }
    };
    tx.commit()?;
    Ok(outcome)
}

/// department, salt, hash, revoked
pub type TokenRow = (String, Vec<u8>, Vec<u8>, Option<i64>);

/// The stored row of token `id`.
pub fn token_row(conn: &Connection, id: i64) -> Result<Option<TokenRow>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT department, salt, hash, revoked FROM token WHERE id = ?1")?
        .query_row(params![id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?)
}

/// Why a presented token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCheck {
    Valid { id: i64 },
    Malformed,
    Unknown,
    Revoked,
}

/// The department a valid token belongs to, or why it is not valid.
pub fn verify(
    conn: &dyn super::read::Reader,
    presented: &str,
) -> Result<(TokenCheck, Option<String>), StoreError> {
    let Some(rest) = presented.strip_prefix("pantau_") else {
        return Ok((TokenCheck::Malformed, None));
    };
    let Some((id, secret)) = rest.split_once('_') else {
        return Ok((TokenCheck::Malformed, None));
    };
    let Ok(id) = id.parse::<i64>() else {
        return Ok((TokenCheck::Malformed, None));
    };
    let row: Option<TokenRow> = conn.token(id)?;
    let Some((department, salt, hash, revoked)) = row else {
        // Spend the same work as a real check so timing does not reveal which ids exist.
        let _ = digest(&[0u8; 16], secret);
        return Ok((TokenCheck::Unknown, None));
    };
    let matches: bool = digest(&salt, secret).ct_eq(&hash).into();
    if !matches {
        return Ok((TokenCheck::Unknown, None));
    }
    if revoked.is_some() {
        return Ok((TokenCheck::Revoked, Some(department)));
    }
    Ok((TokenCheck::Valid { id }, Some(department)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_verify_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let conn = super::super::open_writer(&dir.path().join("t.db")).unwrap();
        let dept = DepartmentId::parse("dinkes").unwrap();
        let (id, token) = create(&conn, &dept, "laptop").unwrap();
        assert_eq!(
            verify(&conn, &token).unwrap(),
            (TokenCheck::Valid { id }, Some("dinkes".into()))
        );
        let mut wrong = token.clone();
        wrong.pop();
        wrong.push('x');
        assert_eq!(verify(&conn, &wrong).unwrap().0, TokenCheck::Unknown);
        assert_eq!(
            verify(&conn, "Bearer nope").unwrap().0,
            TokenCheck::Malformed
        );
        assert_eq!(
            verify(&conn, "pantau_999_abc").unwrap().0,
            TokenCheck::Unknown
        );
        assert_eq!(revoke(&conn, id).unwrap(), Revoked::Now);
        assert_eq!(verify(&conn, &token).unwrap().0, TokenCheck::Revoked);
        assert!(matches!(revoke(&conn, id).unwrap(), Revoked::Already(_)));
        assert_eq!(revoke(&conn, 999).unwrap(), Revoked::NoSuchToken);
        // Creating and revoking are in the change log for a serving daemon to see.
        let tokens: i64 = conn
            .query_row(
                "SELECT count(*) FROM change WHERE kind = 'token'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tokens, 2);
        let stored: Vec<u8> = conn
            .query_row("SELECT hash FROM token", [], |r| r.get(0))
            .unwrap();
        assert!(!String::from_utf8_lossy(&stored).contains(&token[10..]));
        assert_eq!(list(&conn).unwrap().len(), 1);
    }

    #[test]
    fn the_cache_forgets_everything_when_tokens_change() {
        let cache = TokenCache::default();
        cache.insert("pantau_1_a", 0, 0, 1, "dinkes");
        assert_eq!(cache.get("pantau_1_a", 0), Some((1, "dinkes".into())));
        assert_eq!(cache.get("pantau_1_b", 0), None);
        // A token changed (e.g. revoked by `pantau token revoke`): nothing verified before stays.
        assert_eq!(cache.get("pantau_1_a", 1), None);
        assert_eq!(cache.get("pantau_1_a", 1), None);
        // A lookup that began before the change is not remembered.
        cache.insert("pantau_1_a", 1, 2, 1, "dinkes");
        assert_eq!(cache.get("pantau_1_a", 1), None);
        cache.insert("pantau_1_a", 0, 0, 1, "dinkes");
        assert_eq!(cache.get("pantau_1_a", 1), None);
        // Bounded.
        for i in 0..CACHE_TOKENS + 10 {
            cache.insert(&format!("pantau_{i}_x"), 1, 1, i as i64, "dinkes");
        }
        assert!(cache.state.lock().unwrap().entries.len() <= CACHE_TOKENS);
    }
}
