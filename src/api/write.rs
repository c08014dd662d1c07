//! Write endpoints: department posts (JSON, CSV, XLSX), notes, and the admin reload. Each
//! authenticates, reads the body within its limit, validates every row, and answers only after
//! the writer committed.
//!
//! Parsing and validating a post runs on tokio's blocking threads (`spawn_blocking`), at most one
//! per core at a time, so that a large upload never holds an async worker and `/healthz`, reads
//! and screens are served meanwhile; only bodies of a few kilobytes (a handful of rows, done in
//! microseconds) are read in place.

use super::auth::{Caller, authenticate};
use super::error::Row;
use super::messages::{Msg, RowKey};
use super::read::{allow_only, json};
use super::{ApiError, Query, query, with_app};
use crate::app::App;
use crate::config::Config;
use crate::domain::{DepartmentId, IndicatorId, Observation, Source};
use crate::ingest::parse::{self, BodyError};
use crate::ingest::{Rejection, validate};
use crate::store::{NoteRecord, ObservationBatch, Origin, WriteCommand, WriteOutcome};
use bytes::{Buf, BytesMut};
use futures_util::{Stream, StreamExt};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use tokio::sync::Semaphore;
use warp::Filter;
use warp::Reply;
use warp::http::HeaderMap;
use warp::reply::Response;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

pub(super) fn routes(
    app: App,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let observations = warp::path!("api" / "v1" / "observations")
        .and(warp::post())
        .and(with_app(app.clone()))
        .and(warp::header::headers_cloned())
        .and(crate::api::listen::client_addr())
        .and(query())
        .and(warp::body::stream())
        .and_then(
            |app: App, headers: HeaderMap, remote: Option<SocketAddr>, q: Query, body| async move {
                Ok::<_, Infallible>(
                    post_observations(app, headers, remote, q, body)
                        .await
                        .unwrap_or_else(ApiError::into_response),
                )
            },
        );
    let notes = warp::path!("api" / "v1" / "indicators" / String / "notes")
        .and(warp::post())
        .and(with_app(app.clone()))
        .and(warp::header::headers_cloned())
        .and(crate::api::listen::client_addr())
        .and(warp::body::stream())
        .and_then(|id: String, app: App, headers: HeaderMap, remote: Option<SocketAddr>, body| async move {
            Ok::<_, Infallible>(post_note(app, id, headers, remote, body).await.unwrap_or_else(ApiError::into_response))
        });
    let reload = warp::path!("api" / "v1" / "admin" / "reload")
        .and(warp::post())
        .and(with_app(app))
        .and(warp::header::headers_cloned())
        .and(crate::api::listen::client_addr())
        .and_then(
            |app: App, headers: HeaderMap, remote: Option<SocketAddr>| async move {
                Ok::<_, Infallible>(
                    reload(app, headers, remote)
                        .await
                        .unwrap_or_else(ApiError::into_response),
                )
            },
        );
    observations.or(notes).unify().or(reload).unify()
}

/// Reads the body, refusing it with 413 as soon as it passes `limit` bytes.
async fn read_body<S, B>(body: S, limit: u64) -> Result<bytes::Bytes, ApiError>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let mut body = std::pin::pin!(body);
    let mut out = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|e| {
            ApiError::bad_body(Msg::BodyUnreadable {
                detail: e.to_string(),
            })
        })?;
        if out.len() as u64 + chunk.remaining() as u64 > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            out.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    Ok(out.freeze())
}

fn declared_too_large(headers: &HeaderMap, limit: u64) -> Result<(), ApiError> {
    let declared = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > limit => Err(ApiError::PayloadTooLarge(limit)),
        _ => Ok(()),
    }
}

fn body_error(e: BodyError) -> ApiError {
    if e.too_large {
        return ApiError::ContentTooLarge(e.message);
    }
    let message = Msg::BodyRefused { detail: e.message };
    if e.rows.is_empty() {
        ApiError::bad_body(message)
    } else {
        ApiError::invalid(message, e.rows.into_iter().map(Row::from).collect())
    }
}

/// Bodies up to this size are parsed on the async worker: a few rows take microseconds, less
/// than handing them to a blocking thread.
const INLINE_PARSE_BYTES: usize = 16 * 1024;

/// One permit per core for parsing large bodies: memory stays bounded by a few uploads at once,
/// and the rest wait their turn without holding a thread.
fn parse_permits() -> &'static Arc<Semaphore> {
    static PERMITS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Arc::new(Semaphore::new(cores))
    })
}

/// Which parser a content type selects.
#[derive(Debug, Clone, Copy)]
enum BodyKind {
    Json,
    Csv,
    Xlsx,
}

/// Parses and validates a body: pure CPU work, run in place or on a blocking thread.
fn parse_and_validate(
    kind: BodyKind,
    body: &[u8],
    config: &Config,
    department: Option<&DepartmentId>,
) -> Result<Vec<Observation>, ApiError> {
    let max_rows = config.settings.server.max_rows_per_request;
    let rows = match kind {
        BodyKind::Json => parse::json_rows(body, max_rows),
        BodyKind::Csv => parse::csv_rows(body, max_rows),
        BodyKind::Xlsx => parse::xlsx_rows(body, max_rows),
    }
    .map_err(body_error)?;
    let now = chrono::Utc::now().timestamp_millis();
    validate(
        &config.masterplan,
        config.settings.city.time_zone,
        now,
        department,
        rows,
    )
    .map_err(|r| match r {
        Rejection::NotOwner(rows) => ApiError::forbidden(
            Msg::RowsNotOwned { n: rows.len() },
            rows.into_iter().map(Row::from).collect(),
        ),
        Rejection::Invalid(rows) => ApiError::invalid(
            Msg::RowsInvalid { n: rows.len() },
            rows.into_iter().map(Row::from).collect(),
        ),
    })
}

async fn post_observations<S, B>(
    app: App,
    headers: HeaderMap,
    remote: Option<SocketAddr>,
    q: Query,
    body: S,
) -> Result<Response, ApiError>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    allow_only(&q, &[])?;
    let caller = authenticate(&app, &headers, remote).await?;
    let config = app.config();
    let limit = config.settings.server.max_body_bytes;
    declared_too_large(&headers, limit)?;
    let body = read_body(body, limit).await?;
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let (kind, source) = match content_type.as_str() {
        "application/json" | "" => (BodyKind::Json, Source::Post),
        "text/csv" | "application/csv" | "text/plain" => (BodyKind::Csv, Source::Upload),
        XLSX | "application/octet-stream" => (BodyKind::Xlsx, Source::Upload),
        other => {
            return Err(ApiError::unsupported_media_type(
                Msg::UnsupportedMediaType {
                    content_type: crate::values::echo(other),
                },
            ));
        }
    };
    let department = caller.department().cloned();
    let observations = if body.len() <= INLINE_PARSE_BYTES && !matches!(kind, BodyKind::Xlsx) {
        parse_and_validate(kind, &body, &config, department.as_ref())?
    } else {
        let permit = parse_permits()
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ApiError::Unavailable("the daemon is shutting down".into()))?;
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            parse_and_validate(kind, &body, &config, department.as_ref())
        })
        .await
        .map_err(|e| ApiError::Internal(format!("parsing the body failed ({e})")))??
    };
    let n = observations.len();
    let outcome = app
        .writer
        .submit(WriteCommand::Observations(ObservationBatch {
            origin: origin(&caller, source),
            rows: observations,
        }))
        .await?;
    match outcome {
        WriteOutcome::Observations {
            new,
            corrected,
            unchanged,
        } => Ok(json(&serde_json::json!({
            "rows": n, "new": new, "corrected": corrected, "unchanged": unchanged,
        }))),
        _ => Err(ApiError::internal(Msg::WrongOutcome)),
    }
}

fn origin(caller: &Caller, source: Source) -> Origin {
    Origin {
        source,
        department: caller.department().cloned(),
        token_id: caller.token_id(),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    kendala: String,
    rencana_tindak_lanjut: String,
}

async fn post_note<S, B>(
    app: App,
    id: String,
    headers: HeaderMap,
    remote: Option<SocketAddr>,
    body: S,
) -> Result<Response, ApiError>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let caller = authenticate(&app, &headers, remote).await?;
    let config = app.config();
    let Some(ind) = config.masterplan.indicator(&id) else {
        return Err(ApiError::not_found(Msg::UnknownIndicator {
            id: super::read::shorten(&id),
        }));
    };
    if caller.department().is_some_and(|d| *d != ind.department) {
        return Err(ApiError::forbidden(
            Msg::NoteNotOwned {
                id: id.clone(),
                department: ind.department.to_string(),
            },
            Vec::new(),
        ));
    }
    let body = read_body(body, 64 * 1024).await?;
    let note: NoteBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_body(Msg::NoteNotJson {
            detail: e.to_string(),
        })
    })?;
    let mut rows = Vec::new();
    for (field, text) in [
        ("kendala", &note.kendala),
        ("rencana_tindak_lanjut", &note.rencana_tindak_lanjut),
    ] {
        if text.trim().is_empty() {
            rows.push(Row::keyed(1, field, RowKey::new("note.empty")));
        } else if text.chars().count() > 4000 {
            rows.push(Row::keyed(
                1,
                field,
                RowKey::new("note.too_long").arg("max", 4000),
            ));
        }
    }
    if !rows.is_empty() {
        return Err(ApiError::invalid(Msg::NoteIncomplete, rows));
    }
    let indicator = IndicatorId::parse(&id).map_err(|_| {
        ApiError::not_found(Msg::UnknownIndicator {
            id: super::read::shorten(&id),
        })
    })?;
    let outcome = app
        .writer
        .submit(WriteCommand::Note(NoteRecord {
            indicator,
            kendala: note.kendala.trim().to_string(),
            rencana_tindak_lanjut: note.rencana_tindak_lanjut.trim().to_string(),
            department: caller.department().cloned(),
            token_id: caller.token_id(),
        }))
        .await?;
    let tz = config.settings.city.time_zone;
    match outcome {
        WriteOutcome::Note { id, created } => Ok(warp::reply::with_status(
            warp::reply::json(&serde_json::json!({ "id": id, "created": crate::domain::format_instant(created, tz) })),
            warp::http::StatusCode::CREATED,
        )
        .into_response()),
        _ => Err(ApiError::internal(Msg::WrongOutcome)),
    }
}

async fn reload(
    app: App,
    headers: HeaderMap,
    remote: Option<SocketAddr>,
) -> Result<Response, ApiError> {
    let caller = authenticate(&app, &headers, remote).await?;
    if caller != Caller::Admin {
        return Err(ApiError::forbidden(Msg::AdminOnlyReload, Vec::new()));
    }
    match app.reload_config().await {
        Ok(n) => Ok(json(
            &serde_json::json!({ "reloaded": true, "indicators": n }),
        )),
        Err(e) => Err(ApiError::invalid(
            Msg::ReloadRefused {
                detail: e.to_string(),
            },
            e.problems
                .iter()
                .map(|p| {
                    Row::keyed(
                        0,
                        &p.field,
                        RowKey::new("config.problem")
                            .arg("where", format!("{}: {}", p.file, p.item))
                            .arg("what", p.message.clone()),
                    )
                })
                .collect(),
        )),
    }
}
