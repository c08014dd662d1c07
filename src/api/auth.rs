//! Who is writing: the bearer token of a request resolved to a department (or the admin), and
//! a per-token rate limit on writes and on failed guesses (per client address, an IPv6 client
//! per /64 network: whoever holds one address of a /64 usually holds all of it).

use super::error::ApiError;
use crate::app::App;
use crate::domain::DepartmentId;
use crate::store::tokens::{self, TokenCheck};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
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

/// The rate-limit key of failed guesses from `remote`: its IPv4 address, or its IPv6 /64
/// network (an IPv4 address written as IPv6 counts as the IPv4 address).
pub fn guess_key(remote: Option<SocketAddr>) -> String {
    match remote.map(|r| r.ip().to_canonical()) {
        None => "guess:unknown".into(),
        Some(IpAddr::V4(ip)) => format!("guess:{ip}"),
        Some(IpAddr::V6(ip)) => {
            let network = u128::from(ip) & !((1u128 << 64) - 1);
            format!("guess:{}/64", Ipv6Addr::from(network))
        }
    }
}

/// Resolves the `Authorization: Bearer <token>` header; rate-limits the caller (and failed
/// guesses per client address).
pub async fn authenticate(
    app: &App,
    headers: &HeaderMap,
    remote: Option<SocketAddr>,
) -> Result<Caller, ApiError> {
    let guess_key = guess_key(remote);
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
    // A token that verified since the last token change is not looked up again: the writer
    // counts the token changes other processes commit (`pantau token revoke`), and a new count
    // empties the cache, so a revocation takes effect as soon as the writer has seen it.
    let changes = &app.writer.metrics().token_changes;
    let generation = changes.load(std::sync::atomic::Ordering::SeqCst);
    // Both writers check the token again inside the transaction, after the lock a revocation
    // takes, so a revocation committed by any daemon refuses writes exactly, whatever this cache
    // holds; the cache spares the lookup and the hash.
    let cached = app.tokens.get(token, generation);
    let (check, department) = match cached {
        Some((id, department)) => (TokenCheck::Valid { id }, Some(department)),
        None => {
            let presented = token.to_string();
            let (check, department) = app
                .reads
                .run(move |c| tokens::verify(c, &presented))
                .await?;
            if let (TokenCheck::Valid { id }, Some(d)) = (check, &department) {
                let now = changes.load(std::sync::atomic::Ordering::SeqCst);
                app.tokens.insert(token, generation, now, id, d);
            }
            (check, department)
        }
    };
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

    fn key(addr: &str) -> String {
        guess_key(Some(addr.parse().unwrap()))
    }

    #[test]
    fn ipv6_guesses_count_per_64_network() {
        let a = key("[2001:db8:1:2::1]:40000");
        assert_eq!(a, "guess:2001:db8:1:2::/64");
        assert_eq!(a, key("[2001:db8:1:2:ffff:ffff:ffff:ffff]:1"));
        assert_eq!(a, key("[2001:db8:1:2:dead:beef:0:7]:65535"));
        assert_ne!(a, key("[2001:db8:1:3::1]:40000"));
        assert_ne!(a, key("[2001:db8:2:2::1]:40000"));
    }

    #[test]
    fn ipv4_guesses_count_per_address() {
        assert_eq!(key("192.0.2.7:5000"), "guess:192.0.2.7");
        assert_eq!(key("192.0.2.7:6000"), key("192.0.2.7:5000"));
        assert_ne!(key("192.0.2.8:5000"), key("192.0.2.7:5000"));
        // An IPv4 client on a dual-stack listener is the same client.
        assert_eq!(key("[::ffff:192.0.2.7]:5000"), "guess:192.0.2.7");
        assert_eq!(guess_key(None), "guess:unknown");
    }
}
