//! Who is writing: the bearer token of a request resolved to a department (or the admin), and
//! a per-token rate limit on writes and on failed guesses.

use super::error::ApiError;
use crate::app::App;
use crate::domain::DepartmentId;
use crate::store::tokens::{self, TokenCheck};
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
