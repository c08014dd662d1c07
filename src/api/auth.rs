//! Who is writing: the bearer token of a request resolved to a department (or the admin), and
//! a per-token rate limit on writes and on failed guesses.

use super::error::ApiError;
use crate::domain::DepartmentId;
use crate::server::App;
use crate::store::tokens::{self, TokenCheck};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;
use subtle::ConstantTimeEq;
use warp::http::HeaderMap;

/// The writer of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The admin token from settings: may write any indicator.
    Admin,
    Department {
        id: DepartmentId,
        token_id: i64,
    },
}

impl Caller {
    pub fn department(&self) -> Option<&DepartmentId> {
        match self {
            Caller::Admin => None,
            Caller::Department { id, .. } => Some(id),
        }
    }

    pub fn token_id(&self) -> Option<i64> {
        match self {
            Caller::Admin => None,
            Caller::Department { token_id, .. } => Some(*token_id),
        }
    }

    fn limit_key(&self) -> String {
        match self {
            Caller::Admin => "admin".into(),
            Caller::Department { token_id, .. } => format!("token:{token_id}"),
        }
    }
}

/// A token bucket per key: `per_minute` requests a minute, bursts up to the same number.
pub struct RateLimiter {
    per_minute: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute: f64::from(per_minute.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds until `key`'s bucket has a request again, without taking one; None when it has.
    pub fn exhausted(&self, key: &str) -> Option<u64> {
        let buckets = self.buckets.lock().ok()?;
        let (tokens, at) = buckets.get(key)?;
        let rate = self.per_minute / 60.0;
        let tokens = (tokens + at.elapsed().as_secs_f64() * rate).min(self.per_minute);
        (tokens < 1.0).then(|| ((1.0 - tokens) / rate).ceil().max(1.0) as u64)
    }

    /// Takes one request from `key`'s bucket; Err(seconds to wait) when empty.
    pub fn take(&self, key: &str) -> Result<(), u64> {
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if buckets.len() > 100_000 {
            buckets.clear();
        }
        let now = Instant::now();
        let rate = self.per_minute / 60.0;
        let entry = buckets
            .entry(key.to_string())
            .or_insert((self.per_minute, now));
        let refill = now.duration_since(entry.1).as_secs_f64() * rate;
        entry.0 = (entry.0 + refill).min(self.per_minute);
        entry.1 = now;
        if entry.0 >= 1.0 {
            entry.0 -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - entry.0) / rate).ceil().max(1.0) as u64)
        }
    }
}

/// Resolves the `Authorization: Bearer <token>` header; rate-limits the caller (and failed
/// guesses per client address).
pub async fn authenticate(
    app: &App,
    headers: &HeaderMap,
    remote: Option<std::net::SocketAddr>,
) -> Result<Caller, ApiError> {
    let guess_key = format!(
        "guess:{}",
        remote.map(|r| r.ip().to_string()).unwrap_or_default()
    );
    // An address that used up its failed attempts is refused before any token is checked, so a
    // guess that happens to be right is not confirmed to a guesser (nor is a right token from it).
    if let Some(wait) = app.limiter.exhausted(&guess_key) {
        return Err(ApiError::RateLimited {
            retry_after_secs: wait,
        });
    }
    let fail = |message: &str| -> ApiError {
        if let Err(wait) = app.limiter.take(&guess_key) {
            return ApiError::RateLimited {
                retry_after_secs: wait,
            };
        }
        ApiError::Unauthorized(message.to_string())
    };
    let Some(value) = headers.get("authorization") else {
        return Err(fail(
            "missing `Authorization: Bearer <token>` header; ask your administrator for a department token (`pantau token create <department>`)",
        ));
    };
    let Some(token) = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
    else {
        return Err(fail("the Authorization header must read `Bearer <token>`"));
    };
    if token.is_empty() || token.len() > 200 {
        return Err(fail("the bearer token is malformed"));
    }
    let config = app.config();
    if let Some(admin) = &config.settings.auth.admin_token {
        if bool::from(admin.expose().as_bytes().ct_eq(token.as_bytes())) {
            let caller = Caller::Admin;
            app.limiter
                .take(&caller.limit_key())
                .map_err(|w| ApiError::RateLimited {
                    retry_after_secs: w,
                })?;
            return Ok(caller);
        }
    }
    let presented = token.to_string();
    let (check, department) = app
        .reads
        .run(move |c| tokens::verify(c, &presented))
        .await?;
    let caller = match (check, department) {
        (TokenCheck::Valid { id }, Some(dept)) => match DepartmentId::parse(&dept) {
            Ok(d) if config.masterplan.department(d.as_str()).is_some() => Caller::Department {
                id: d,
                token_id: id,
            },
            _ => {
                return Err(fail(
                    "this token's department is no longer in the masterplan; create a new token",
                ));
            }
        },
        (TokenCheck::Revoked, _) => {
            return Err(fail(
                "this token was revoked; ask your administrator for a new one",
            ));
        }
        (TokenCheck::Malformed, _) => {
            return Err(fail(
                "the bearer token is malformed; tokens look like `pantau_<id>_<secret>`",
            ));
        }
        _ => return Err(fail("unknown token; check that it was copied whole")),
    };
    app.limiter
        .take(&caller.limit_key())
        .map_err(|w| ApiError::RateLimited {
            retry_after_secs: w,
        })?;
    Ok(caller)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_empties_and_says_when_to_retry() {
        let l = RateLimiter::new(2);
        assert!(l.take("a").is_ok());
        assert!(l.take("a").is_ok());
        let wait = l.take("a").unwrap_err();
        assert!((1..=30).contains(&wait), "{wait}");
        assert!(l.take("b").is_ok());
        assert!(l.exhausted("b").is_none());
        assert!((1..=30).contains(&l.exhausted("a").unwrap()));
        assert!(l.exhausted("never-seen").is_none());
    }
}
