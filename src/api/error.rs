//! `ApiError`: every error the HTTP API can answer, and the one place that maps each to its
//! status code and JSON body (`{"error": {"code", "message", "parameter"?, "rows"?}}`), in the
//! language the request asks for (`answer_in_language`; the texts are in `messages`).

use super::messages::{Msg, RowKey, negotiate, row_texts};
use crate::app::App;
use crate::config::Locale;
use crate::ingest::RowError;
use crate::store::StoreError;
use serde::Serialize;
use std::convert::Infallible;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

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

/// What kind of error an answer is: it decides the status and the `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    NotFound,
    BadParameter,
    BadBody,
    Unauthorized,
    Forbidden,
    Invalid,
    PayloadTooLarge,
    UnsupportedMediaType,
    MethodNotAllowed,
    RateLimited,
    Unavailable,
    TooManyScreens,
    Internal,
}

/// A rejected row as answered: the row's problem, and its key in the message catalogue when the
/// code that found it gives one (then `reason` and `fix` are answered in the request's language).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub error: RowError,
    pub key: Option<RowKey>,
}

impl From<RowError> for Row {
    fn from(error: RowError) -> Row {
        Row {
            key: error.key.clone(),
            error,
        }
    }
}

impl Row {
    /// A row problem with its catalogue key; the English texts come from the catalogue.
    pub fn keyed(row: usize, field: &str, key: RowKey) -> Row {
        let (reason, fix) = row_texts(&key, Locale::En).unwrap_or_default();
        Row {
            error: RowError::new(row, field, reason, fix),
            key: Some(key),
        }
    }
}

#[derive(Debug, Clone)]
pub enum ApiError {
    /// An error built from the message catalogue (`messages::Msg`), answered in the request's
    /// language. Handlers build their errors this way.
    Said {
        kind: Kind,
        message: Msg,
        /// The query parameter at fault (`bad_parameter`).
        parameter: Option<String>,
        rows: Vec<Row>,
    },
    // Errors given as text by modules not yet on the catalogue (authentication, the live
    // websocket, the screens check); known sentences are still translated (`messages::KNOWN`).
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
    /// Every live-screen slot (`[server] max_screens`) is taken.
    TooManyScreens {
        max_screens: usize,
    },
    Internal(String),
}

impl ApiError {
    fn said(kind: Kind, message: Msg) -> ApiError {
        ApiError::Said {
            kind,
            message,
            parameter: None,
            rows: Vec::new(),
        }
    }

    pub fn not_found(message: Msg) -> ApiError {
        ApiError::said(Kind::NotFound, message)
    }

    /// A bad query parameter: `name` goes in `error.parameter`.
    pub fn bad_parameter(name: &str, message: Msg) -> ApiError {
        ApiError::Said {
            kind: Kind::BadParameter,
            message,
            parameter: Some(name.to_string()),
            rows: Vec::new(),
        }
    }

    pub fn bad_body(message: Msg) -> ApiError {
        ApiError::said(Kind::BadBody, message)
    }

    pub fn forbidden(message: Msg, rows: Vec<Row>) -> ApiError {
        ApiError::Said {
            kind: Kind::Forbidden,
            message,
            parameter: None,
            rows,
        }
    }

    pub fn invalid(message: Msg, rows: Vec<Row>) -> ApiError {
        ApiError::Said {
            kind: Kind::Invalid,
            message,
            parameter: None,
            rows,
        }
    }

    pub fn unsupported_media_type(message: Msg) -> ApiError {
        ApiError::said(Kind::UnsupportedMediaType, message)
    }

    pub fn unavailable(message: Msg) -> ApiError {
        ApiError::said(Kind::Unavailable, message)
    }

    pub fn internal(message: Msg) -> ApiError {
        ApiError::said(Kind::Internal, message)
    }

    fn kind(&self) -> Kind {
        match self {
            ApiError::Said { kind, .. } => *kind,
            ApiError::NotFound(_) => Kind::NotFound,
            ApiError::BadParameter { .. } => Kind::BadParameter,
            ApiError::BadBody(_) => Kind::BadBody,
            ApiError::Unauthorized(_) => Kind::Unauthorized,
            ApiError::Forbidden { .. } => Kind::Forbidden,
            ApiError::Invalid { .. } => Kind::Invalid,
            ApiError::PayloadTooLarge(_) | ApiError::ContentTooLarge(_) => Kind::PayloadTooLarge,
            ApiError::UnsupportedMediaType(_) => Kind::UnsupportedMediaType,
            ApiError::MethodNotAllowed => Kind::MethodNotAllowed,
            ApiError::RateLimited { .. } => Kind::RateLimited,
            ApiError::Unavailable(_) => Kind::Unavailable,
            ApiError::TooManyScreens { .. } => Kind::TooManyScreens,
            ApiError::Internal(_) => Kind::Internal,
        }
    }

    /// The HTTP status for each error: the only such mapping in pantau.
    pub fn status(&self) -> StatusCode {
        match self.kind() {
            Kind::NotFound => StatusCode::NOT_FOUND,
            Kind::BadParameter | Kind::BadBody => StatusCode::BAD_REQUEST,
            Kind::Unauthorized => StatusCode::UNAUTHORIZED,
            Kind::Forbidden => StatusCode::FORBIDDEN,
            Kind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            Kind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Kind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Kind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Kind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Kind::Unavailable | Kind::TooManyScreens => StatusCode::SERVICE_UNAVAILABLE,
            Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self.kind() {
            Kind::NotFound => "not_found",
            Kind::BadParameter => "bad_parameter",
            Kind::BadBody => "bad_body",
            Kind::Unauthorized => "unauthorized",
            Kind::Forbidden => "forbidden",
            Kind::Invalid => "invalid_rows",
            Kind::PayloadTooLarge => "payload_too_large",
            Kind::UnsupportedMediaType => "unsupported_media_type",
            Kind::MethodNotAllowed => "method_not_allowed",
            Kind::RateLimited => "rate_limited",
            Kind::Unavailable => "unavailable",
            Kind::TooManyScreens => "too_many_screens",
            Kind::Internal => "internal",
        }
    }

    /// The message in `lang`.
    pub fn message(&self, lang: Locale) -> String {
        let text = |t: &String| Msg::Text(t.clone()).text(lang);
        match self {
            ApiError::Said {
                message, parameter, ..
            } => match parameter {
                Some(name) => match lang {
                    Locale::En => format!("query parameter `{name}`: {}", message.text(lang)),
                    Locale::Id => format!("parameter kueri `{name}`: {}", message.text(lang)),
                },
                None => message.text(lang),
            },
            ApiError::NotFound(m)
            | ApiError::BadBody(m)
            | ApiError::Unauthorized(m)
            | ApiError::UnsupportedMediaType(m)
            | ApiError::ContentTooLarge(m)
            | ApiError::Unavailable(m)
            | ApiError::Internal(m) => text(m),
            ApiError::BadParameter { name, message } => match lang {
                Locale::En => format!("query parameter `{name}`: {message}"),
                Locale::Id => format!("parameter kueri `{name}`: {}", text(message)),
            },
            ApiError::Forbidden { message, .. } | ApiError::Invalid { message, .. } => {
                text(message)
            }
            ApiError::PayloadTooLarge(limit) => Msg::PayloadTooLarge { limit: *limit }.text(lang),
            ApiError::MethodNotAllowed => Msg::MethodNotAllowed.text(lang),
            ApiError::TooManyScreens { max_screens } => Msg::TooManyScreens {
                max_screens: *max_screens,
            }
            .text(lang),
            ApiError::RateLimited { retry_after_secs } => Msg::RateLimited {
                retry_after_secs: *retry_after_secs,
            }
            .text(lang),
        }
    }

    /// The rejected rows with their texts in `lang` where the catalogue knows them. English
    /// keeps the text of the code that found the problem (it may say more, e.g. which part of
    /// a date is wrong); other languages take the catalogue's.
    fn rows(&self, lang: Locale) -> Vec<RowError> {
        let translate = |e: &RowError, key: Option<&RowKey>| {
            let mut e = e.clone();
            let texts = match (lang, key) {
                (Locale::En, _) if !e.reason.is_empty() => None,
                (_, Some(k)) => row_texts(k, lang),
                (_, None) => None,
            };
            if let Some((reason, fix)) = texts {
                e.reason = reason;
                e.fix = fix;
            }
            e
        };
        match self {
            ApiError::Said { rows, .. } => rows
                .iter()
                .map(|r| translate(&r.error, r.key.as_ref().or(r.error.key.as_ref())))
                .collect(),
            ApiError::Forbidden { rows, .. } | ApiError::Invalid { rows, .. } => {
                rows.iter().map(|e| translate(e, e.key.as_ref())).collect()
            }
            _ => Vec::new(),
        }
    }

    /// The JSON body in `lang`.
    fn body(&self, lang: Locale) -> Vec<u8> {
        let message = self.message(lang);
        let rows = self.rows(lang);
        let parameter = match self {
            ApiError::BadParameter { name, .. } => Some(name.as_str()),
            ApiError::Said { parameter, .. } => parameter.as_deref(),
            _ => None,
        };
        let body = Body {
            error: ErrorBody {
                code: self.code(),
                message: &message,
                parameter,
                rows: (!rows.is_empty()).then_some(rows.as_slice()),
            },
        };
        serde_json::to_vec(&body).unwrap_or_default()
    }

    /// The answer, in English; `answer_in_language` (around every route) turns it into the
    /// request's language. The error rides along in the response's extensions for that.
    pub fn into_response(self) -> Response {
        let mut resp = Response::new(self.body(Locale::En).into());
        *resp.status_mut() = self.status();
        resp.headers_mut().insert(
            "content-type",
            warp::http::HeaderValue::from_static("application/json"),
        );
        match &self {
            ApiError::RateLimited { retry_after_secs } => {
                if let Ok(v) = retry_after_secs.to_string().parse() {
                    resp.headers_mut().insert("retry-after", v);
                }
            }
            // Screens reconnect by themselves; this says when a slot is worth trying again.
            ApiError::TooManyScreens { .. } => {
                resp.headers_mut()
                    .insert("retry-after", warp::http::HeaderValue::from_static("30"));
            }
            _ => {}
        }
        if self.kind() == Kind::Unauthorized {
            resp.headers_mut().insert(
                "www-authenticate",
                warp::http::HeaderValue::from_static("Bearer"),
            );
        }
        resp.extensions_mut().insert(self);
        resp
    }
}

/// Answers every error in the language the request asks for (`Accept-Language`, q-values
/// honoured), else the city's `locale`: wraps all routes (`api::routes`). Only error answers
/// are touched; their status, code, fields and headers stay as they are.
pub fn answer_in_language<F>(
    app: App,
    routes: F,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone
where
    F: Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    warp::header::optional::<String>("accept-language")
        .or(warp::any().map(|| None))
        .unify()
        .and(routes)
        .map(move |accept: Option<String>, mut resp: Response| {
            let Some(error) = resp.extensions_mut().remove::<ApiError>() else {
                return resp;
            };
            let lang = negotiate(accept.as_deref(), app.config().settings.city.locale);
            if lang != Locale::En {
                *resp.body_mut() = error.body(lang).into();
            }
            resp
        })
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
            StoreError::Unavailable(detail) => {
                ApiError::unavailable(Msg::StoreUnavailable { detail })
            }
            StoreError::Closed => ApiError::unavailable(Msg::StoreClosed),
            other => {
                tracing::error!(error = %other, "store error");
                ApiError::internal(Msg::InternalDatabase)
            }
        }
    }
}

/// Turns warp's own rejections (unknown path, wrong method, ...) into `ApiError` responses.
pub async fn recover(r: Rejection) -> Result<Response, Infallible> {
    let e = if r.is_not_found() {
        ApiError::not_found(Msg::NoSuchPath)
    } else if let Some(e) = r.find::<ApiError>() {
        e.clone()
    } else if r.find::<warp::reject::PayloadTooLarge>().is_some() {
        ApiError::PayloadTooLarge(0)
    } else if r.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::MethodNotAllowed
    } else if let Some(e) = r.find::<warp::reject::InvalidQuery>() {
        ApiError::bad_parameter(
            "query",
            Msg::BadQuery {
                detail: e.to_string(),
            },
        )
    } else if let Some(e) = r.find::<warp::reject::InvalidHeader>() {
        ApiError::bad_body(Msg::BadHeader {
            detail: e.to_string(),
        })
    } else if let Some(e) = r.find::<warp::reject::MissingHeader>() {
        ApiError::bad_body(Msg::BadHeader {
            detail: e.to_string(),
        })
    } else if r.find::<warp::ws::MissingConnectionUpgrade>().is_some() {
        ApiError::bad_body(Msg::WebsocketOnly)
    } else if r.find::<warp::reject::UnsupportedMediaType>().is_some() {
        ApiError::unsupported_media_type(Msg::UnsupportedContentType)
    } else {
        tracing::debug!(rejection = ?r, "unhandled rejection");
        ApiError::not_found(Msg::CannotServe)
    };
    Ok(e.into_response())
}

impl warp::reject::Reject for ApiError {}
