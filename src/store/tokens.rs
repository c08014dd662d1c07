//! Department tokens: created once and shown once, stored only as a salted SHA-256 hash,
//! checked in constant time, revocable.
//!
//! A token reads `pantau_<id>_<48 hex digits>`: the id finds the row, the secret is hashed with
//! the row's salt and compared. The secrets are random 192-bit values, so a fast hash is enough.

use super::StoreError;
use crate::domain::{DepartmentId, Millis};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

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
}
