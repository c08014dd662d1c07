//! `ApiError`: every error the HTTP API can answer, and the one place that maps each to its
//! status code and JSON body (`{"error": {"code", "message", "rows"?}}`).

use crate::ingest::RowError;
use crate::store::StoreError;
use serde::Serialize;
use std::convert::Infallible;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Rejection, Reply};

#[derive(Debug, Clone)]
pub enum ApiError {
    NotFound(String),
    BadParameter {
        name: String,
        message: String,
    },
    BadBody(String),
    Unauthorized(String),
    Forbidden {
        message: String,
        rows: Vec<RowError>,
    },
    Invalid {
        message: String,
        rows: Vec<RowError>,
    },
    PayloadTooLarge(u64),
    /// The body is within the byte limit but holds or unpacks to more than pantau reads (too
    /// many rows, an XLSX beyond its caps); the message says which limit.
    ContentTooLarge(String),
    UnsupportedMediaType(String),
    MethodNotAllowed,
    RateLimited {
        retry_after_secs: u64,
    },
    Unavailable(String),
    Internal(String),
}

#[derive(Serialize)]
struct Body<'a> {
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'static str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameter: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rows: Option<&'a [RowError]>,
}

impl ApiError {
    /// The HTTP status for each error: the only such mapping in pantau.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadParameter { .. } | ApiError::BadBody(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PayloadTooLarge(_) | ApiError::ContentTooLarge(_) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::NotFound(_) => "not_found",
            ApiError::BadParameter { .. } => "bad_parameter",
            ApiError::BadBody(_) => "bad_body",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden { .. } => "forbidden",
            ApiError::Invalid { .. } => "invalid_rows",
            ApiError::PayloadTooLarge(_) | ApiError::ContentTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    fn message(&self) -> String {
        match self {
            ApiError::NotFound(m)
            | ApiError::BadBody(m)
            | ApiError::Unauthorized(m)
            | ApiError::UnsupportedMediaType(m)
            | ApiError::ContentTooLarge(m)
            | ApiError::Unavailable(m)
            | ApiError::Internal(m) => m.clone(),
            ApiError::BadParameter { name, message } => {
                format!("query parameter `{name}`: {message}")
            }
            ApiError::Forbidden { message, .. } | ApiError::Invalid { message, .. } => {
                message.clone()
            }
            ApiError::PayloadTooLarge(limit) => format!(
                "the request body is larger than the limit of {limit} bytes; send fewer rows per request"
            ),
            ApiError::MethodNotAllowed => {
                "this method is not allowed on this path; see docs/openapi.yaml".into()
            }
            ApiError::RateLimited { retry_after_secs } => {
                format!(
                    "too many requests from this token or address (failed attempts count too); retry after {retry_after_secs} s"
                )
            }
        }
    }

    pub fn into_response(self) -> Response {
        let message = self.message();
        let rows = match &self {
            ApiError::Forbidden { rows, .. } | ApiError::Invalid { rows, .. }
                if !rows.is_empty() =>
            {
                Some(rows.as_slice())
            }
            _ => None,
        };
        let parameter = match &self {
            ApiError::BadParameter { name, .. } => Some(name.as_str()),
            _ => None,
        };
        let body = Body {
            error: ErrorBody {
                code: self.code(),
                message: &message,
                parameter,
                rows,
            },
        };
        let mut resp =
            warp::reply::with_status(warp::reply::json(&body), self.status()).into_response();
        if let ApiError::RateLimited { retry_after_secs } = &self {
            if let Ok(v) = retry_after_secs.to_string().parse() {
                resp.headers_mut().insert("retry-after", v);
            }
        }
        if let ApiError::Unauthorized(_) = &self {
            resp.headers_mut().insert(
                "www-authenticate",
                warp::http::HeaderValue::from_static("Bearer"),
            );
        }
        resp
    }
}

impl From<crate::live::screens::ScreenRefusal> for ApiError {
    fn from(e: crate::live::screens::ScreenRefusal) -> Self {
        use crate::live::screens::ScreenRefusal;
        match e {
            ScreenRefusal::Unreadable(m) => ApiError::Unavailable(m),
            ScreenRefusal::Refused(message) => ApiError::Forbidden {
                message,
                rows: Vec::new(),
            },
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) | StoreError::Closed => ApiError::Unavailable(e.to_string()),
            other => {
                tracing::error!(error = %other, "store error");
                ApiError::Internal("an internal database error occurred; it was logged".into())
            }
        }
    }
}

/// Turns warp's own rejections (unknown path, wrong method, ...) into `ApiError` responses.
pub async fn recover(r: Rejection) -> Result<Response, Infallible> {
    let e = if r.is_not_found() {
        ApiError::NotFound("no such path; see docs/openapi.yaml for the API".into())
    } else if let Some(e) = r.find::<ApiError>() {
        e.clone()
    } else if r.find::<warp::reject::PayloadTooLarge>().is_some() {
        ApiError::PayloadTooLarge(0)
    } else if r.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::MethodNotAllowed
    } else if let Some(e) = r.find::<warp::reject::InvalidQuery>() {
        ApiError::BadParameter {
            name: "query".into(),
            message: format!("{e}; check the query string"),
        }
    } else if let Some(e) = r.find::<warp::reject::InvalidHeader>() {
        ApiError::BadBody(format!("{e}"))
    } else if let Some(e) = r.find::<warp::reject::MissingHeader>() {
        ApiError::BadBody(format!("{e}"))
    } else if r.find::<warp::ws::MissingConnectionUpgrade>().is_some() {
        ApiError::BadBody(
            "this is a websocket endpoint; connect with a websocket client (`Connection: upgrade`, `Upgrade: websocket`)".into(),
        )
    } else if r.find::<warp::reject::UnsupportedMediaType>().is_some() {
        ApiError::UnsupportedMediaType("unsupported content type".into())
    } else {
        ApiError::NotFound(format!("cannot serve this request ({r:?})"))
    };
    Ok(e.into_response())
}

impl warp::reject::Reject for ApiError {}
