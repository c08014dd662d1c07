//! Read endpoints: health, metrics, the masterplan, progress, indicators with their series,
//! revisions and notes, feeds and screens. None of them scans the database for progress.

use super::messages::Msg;
use super::{ApiError, Query, query, with_app};
use crate::app::App;
use crate::domain::{Millis, format_instant};
use crate::ingest::{RawTime, parse_time};
use crate::progress::state::Filter;
use crate::store::read;
use serde::Serialize;
use std::convert::Infallible;
use warp::Filter as _;
use warp::Reply;
use warp::reply::Response;

pub(super) fn json<T: Serialize>(v: &T) -> Response {
    warp::reply::json(v).into_response()
}

fn json_bytes(b: bytes::Bytes) -> Response {
    let mut r = Response::new(b.into());
    r.headers_mut().insert(
        "content-type",
        warp::http::HeaderValue::from_static("application/json"),
    );
    r
}

fn respond(r: Result<Response, ApiError>) -> Result<Response, Infallible> {
    Ok(r.unwrap_or_else(ApiError::into_response))
}

/// Text from a request, cut to at most 100 characters for an answer (never echo more).
pub(crate) fn shorten(s: &str) -> String {
    if s.chars().count() <= 100 {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(100).collect::<String>())
    }
}

/// Fails with 400 naming the first parameter not in `allowed`.
pub(crate) fn allow_only(q: &Query, allowed: &[&'static str]) -> Result<(), ApiError> {
    let mut keys: Vec<&String> = q.keys().collect();
    keys.sort();
    for k in keys {
        if !allowed.contains(&k.as_str()) {
            return Err(ApiError::bad_parameter(
                &shorten(k),
                if allowed.is_empty() {
                    Msg::TakesNoParameters
                } else {
                    Msg::NotAParameter {
                        allowed: allowed.to_vec(),
                    }
                },
            ));
        }
    }
    Ok(())
}

/// Reads `dimension`, `department` and `quick_win` into a filter, checking they exist.
pub(crate) fn filter_from(app: &App, q: &Query) -> Result<Filter, ApiError> {
    let config = app.config();
    let plan = &config.masterplan;
    let mut f = Filter::default();
    if let Some(d) = q.get("dimension") {
        if plan.dimension(d).is_none() {
            return Err(ApiError::bad_parameter(
                "dimension",
                Msg::NotADimension {
                    value: shorten(d),
                    allowed: plan
                        .dimensions
                        .iter()
                        .map(|d| d.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                },
            ));
        }
        f.dimension = Some(d.clone());
    }
    if let Some(d) = q.get("department") {
        if plan.department(d).is_none() {
            return Err(ApiError::bad_parameter(
                "department",
                Msg::NotADepartment { value: shorten(d) },
            ));
        }
        f.department = Some(d.clone());
    }
    if let Some(v) = q.get("quick_win") {
        f.quick_win = match v.as_str() {
            "true" | "1" => true,
            "false" | "0" => false,
            other => {
                return Err(ApiError::bad_parameter(
                    "quick_win",
                    Msg::NotABoolean {
                        value: shorten(other),
                    },
                ));
            }
        };
    }
    Ok(f)
}

pub(super) fn routes(
    app: App,
) -> impl warp::Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let get = warp::get();
    let healthz = warp::path!("healthz")
        .and(get)
        .and(with_app(app.clone()))
        .and_then(|app: App| async move { respond(Ok(healthz(&app))) });
    let metrics = warp::path!("metrics")
        .and(get)
        .and(with_app(app.clone()))
        .and_then(|app: App| async move {
            let mut r = Response::new(super::metrics::render(&app).into());
            r.headers_mut().insert(
                "content-type",
                warp::http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            Ok::<_, Infallible>(r)
        });
    let masterplan = warp::path!("api" / "v1" / "masterplan")
        .and(get)
        .and(with_app(app.clone()))
        .and(query())
        .and_then(|app: App, q: Query| async move {
            respond(allow_only(&q, &[]).map(|_| masterplan(&app)))
        });
    let progress = warp::path!("api" / "v1" / "progress")
        .and(get)
        .and(with_app(app.clone()))
        .and(query())
        .and_then(|app: App, q: Query| async move {
            if q.contains_key("as_of") {
                return respond(super::cycle::progress_as_of(&app, &q).await);
            }
            respond(progress(&app, &q))
        });
    let indicator = warp::path!("api" / "v1" / "indicators" / String)
        .and(get)
        .and(with_app(app.clone()))
        .and(query())
        .and_then(|id: String, app: App, q: Query| async move {
            respond(indicator(&app, id, &q).await)
        });
    let series = warp::path!("api" / "v1" / "indicators" / String / "series")
        .and(get)
        .and(with_app(app.clone()))
        .and(query())
        .and_then(
            |id: String, app: App, q: Query| async move { respond(series(&app, id, &q).await) },
        );
    let revisions = warp::path!("api" / "v1" / "indicators" / String / "revisions")
        .and(get)
        .and(with_app(app.clone()))
        .and(query())
        .and_then(|id: String, app: App, q: Query| async move {
            respond(revisions(&app, id, &q).await)
        });
    let department_revisions = warp::path!("api" / "v1" / "departments" / String / "revisions")
        .and(get)
        .and(with_app(app.clone()))
        .and(query())
        .and_then(|id: String, app: App, q: Query| async move {
            respond(department_revisions(&app, id, &q).await)
        });
    let feeds = warp::path!("api" / "v1" / "feeds")
        .and(get)
        .and(with_app(app.clone()))
        .and(query())
        .and_then(|app: App, q: Query| async move { respond(feeds(&app, &q).await) });
    let screens = warp::path!("api" / "v1" / "screens")
        .and(get)
        .and(with_app(app.clone()))
        .and(query())
        .and_then(|app: App, q: Query| async move {
            respond(allow_only(&q, &[]).map(|_| {
                let configured: Vec<_> = app.config().screens.iter().map(|s| s.resolved()).collect();
                json(&serde_json::json!({ "configured": configured, "connected": app.screens.list() }))
            }))
        });
    healthz
        .or(metrics)
        .unify()
        .or(masterplan)
        .unify()
        .or(progress)
        .unify()
        .or(indicator)
        .unify()
        .or(series)
        .unify()
        .or(revisions)
        .unify()
        .or(department_revisions)
        .unify()
        .or(feeds)
        .unify()
        .or(screens)
        .unify()
}

fn healthz(app: &App) -> Response {
    let config = app.config();
    let tz = config.settings.city.time_zone;
    let backup = app.backups.get().map(|b| {
        serde_json::json!({
            "every_seconds": b.plan.every.as_secs(),
            "keep": b.plan.keep,
            "dir": b.plan.dir.display().to_string(),
            "files": b.files,
            "running_since": b.running_since.map(|t| format_instant(t, tz)),
            "next": b.next.map(|t| format_instant(t, tz)),
            "last": b.last.as_ref().map(|r| crate::store::backup::run_json(r, tz)),
            "last_success": b.last_success.as_ref().map(|(t, f)| serde_json::json!({
                "time": format_instant(*t, tz), "file": f.display().to_string(),
            })),
            "successes_total": b.successes_total,
            "failures_total": b.failures_total,
            "consecutive_failures": b.consecutive_failures,
        })
    });
    json(&serde_json::json!({
        "status": "ok",
        "city": config.settings.city.name,
        "version": env!("CARGO_PKG_VERSION"),
        "commit": env!("PANTAU_GIT_COMMIT"),
        "epoch": app.hub.epoch(),
        "seq": app.hub.seq(),
        "indicators": config.masterplan.indicators.len(),
        "uptime_seconds": app.started.elapsed().as_secs(),
        "backup": backup,
        "storage": {
            "backend": app.storage.backend,
            "connected": app.storage.connected(),
            "polling": app.storage.polls(),
        },
    }))
}

fn masterplan(app: &App) -> Response {
    let config = app.config();
    let plan = &config.masterplan;
    let s = &config.settings;
    let feeds: Vec<serde_json::Value> = config
        .feeds
        .iter()
        .map(|f| {
            let mut url = f.url.clone();
            let _ = url.set_password(None);
            serde_json::json!({
                "id": f.id, "department": f.department, "url": url.as_str(),
                "format": f.format.name(), "schedule": f.schedule.as_str(),
                "indicators": f.format.indicators(),
            })
        })
        .collect();
    json(&serde_json::json!({
        "city": s.city.name,
        "time_zone": s.city.time_zone.name(),
        "locale": s.city.locale,
        "thresholds": s.progress.thresholds,
        "departments": plan.departments,
        "dimensions": plan.dimensions,
        "programs": plan.programs,
        "indicators": plan.indicators,
        "feeds": feeds,
    }))
}

fn progress(app: &App, q: &Query) -> Result<Response, ApiError> {
    allow_only(q, &["dimension", "department", "quick_win"])?;
    let filter = filter_from(app, q)?;
    let (snapshot, _) = app.hub.current();
    if filter.is_empty() {
        return Ok(json_bytes(snapshot.json()));
    }
    Ok(json(&snapshot.view(&filter)))
}

fn known_indicator(app: &App, id: &str) -> Result<(), ApiError> {
    if app.config().masterplan.indicator(id).is_none() {
        return Err(ApiError::not_found(Msg::UnknownIndicator {
            id: shorten(id),
        }));
    }
    Ok(())
}

async fn indicator(app: &App, id: String, q: &Query) -> Result<Response, ApiError> {
    allow_only(q, &[])?;
    known_indicator(app, &id)?;
    let config = app.config();
    let Some(def) = config.masterplan.indicator(&id).cloned() else {
        return Err(ApiError::not_found(Msg::UnknownIndicator {
            id: shorten(&id),
        }));
    };
    let (snapshot, _) = app.hub.current();
    let progress = snapshot.indicator(&id).cloned();
    let tz = config.settings.city.time_zone;
    let trajectory: Vec<serde_json::Value> = crate::progress::Trajectory::new(&def, tz)
        .points()
        .iter()
        .map(|(t, v)| serde_json::json!({ "time": format_instant(*t, tz), "value": v }))
        .collect();
    let key = id.clone();
    let (notes, versions) = app
        .reads
        .run(move |c| Ok((c.notes(&key)?, c.plan_versions()?)))
        .await?;
    let locale = config.settings.city.locale;
    let plan_changes = super::plan::changes_of(&versions, &id, tz, locale);
    let notes: Vec<serde_json::Value> = notes
        .into_iter()
        .map(|n| {
            serde_json::json!({
                "id": n.id, "kendala": n.kendala, "rencana_tindak_lanjut": n.rencana_tindak_lanjut,
                "department": n.department, "created": format_instant(n.created, tz),
            })
        })
        .collect();
    Ok(json(&serde_json::json!({
        "indicator": def,
        "trajectory": trajectory,
        "progress": progress.as_deref(),
        "notes": notes,
        "plan_changes": plan_changes,
    })))
}

/// `from`/`to` as a date (city midnight) or an RFC 3339 instant.
fn time_param(q: &Query, name: &str, tz: chrono_tz::Tz) -> Result<Option<Millis>, ApiError> {
    match q.get(name) {
        None => Ok(None),
        Some(v) => parse_time(&RawTime::Text(v.clone()), tz)
            .map(Some)
            .map_err(|_| ApiError::bad_parameter(name, Msg::BadTime { value: shorten(v) })),
    }
}

async fn series(app: &App, id: String, q: &Query) -> Result<Response, ApiError> {
    allow_only(q, &["from", "to", "limit"])?;
    known_indicator(app, &id)?;
    let tz = app.tz();
    let from = time_param(q, "from", tz)?.unwrap_or(i64::MIN);
    let to = time_param(q, "to", tz)?.unwrap_or(i64::MAX);
    if from > to {
        return Err(ApiError::bad_parameter("from", Msg::FromAfterTo));
    }
    let limit = match q.get("limit") {
        None => 100_000,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1_000_000).contains(n))
            .ok_or_else(|| {
                ApiError::bad_parameter(
                    "limit",
                    Msg::BadLimit {
                        value: shorten(l),
                        max: 1_000_000,
                    },
                )
            })?,
    };
    let key = id.clone();
    let rows = app
        .reads
        .run(move |c| c.series(&key, from, to, limit))
        .await?;
    let points: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|r| {
            serde_json::json!({
                "time": format_instant(r.time, tz), "value": r.value, "source": r.source,
                "department": r.department, "note": r.note, "received": format_instant(r.received, tz),
            })
        })
        .collect();
    Ok(json(
        &serde_json::json!({ "indicator": id, "points": points }),
    ))
}

async fn revisions(app: &App, id: String, q: &Query) -> Result<Response, ApiError> {
    allow_only(q, &[])?;
    known_indicator(app, &id)?;
    let tz = app.tz();
    let key = id.clone();
    let rows = app.reads.run(move |c| c.revisions(&key, 1000)).await?;
    let revisions: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|r| revision_json(None, r, tz))
        .collect();
    Ok(json(
        &serde_json::json!({ "indicator": id, "revisions": revisions }),
    ))
}

fn revision_json(
    indicator: Option<&str>,
    r: read::RevisionRow,
    tz: chrono_tz::Tz,
) -> serde_json::Value {
    let mut v = serde_json::json!({
        "id": r.id, "time": format_instant(r.time, tz),
        "previous_value": r.previous_value, "previous_source": r.previous_source,
        "previous_received": format_instant(r.previous_received, tz),
        "value": r.value, "source": r.source, "department": r.department,
        "token_id": r.token_id, "token_label": r.token_label,
        "received": format_instant(r.received, tz), "note": r.note,
    });
    if let Some(i) = indicator {
        v["indicator"] = serde_json::Value::String(i.to_string());
    }
    v
}

async fn department_revisions(app: &App, id: String, q: &Query) -> Result<Response, ApiError> {
    allow_only(q, &["limit"])?;
    let config = app.config();
    if config.masterplan.department(&id).is_none() {
        return Err(ApiError::not_found(Msg::UnknownDepartment {
            id: shorten(&id),
        }));
    }
    let limit = match q.get("limit") {
        None => 200,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| {
                ApiError::bad_parameter(
                    "limit",
                    Msg::BadLimit {
                        value: shorten(l),
                        max: 1000,
                    },
                )
            })?,
    };
    let indicators: Vec<String> = config
        .masterplan
        .indicators
        .iter()
        .filter(|i| i.department.as_str() == id)
        .map(|i| i.id.to_string())
        .collect();
    let tz = config.settings.city.time_zone;
    let rows = app
        .reads
        .run(move |c| c.revisions_of(&indicators, limit))
        .await?;
    let revisions: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|(ind, r)| revision_json(Some(&ind), r, tz))
        .collect();
    Ok(json(
        &serde_json::json!({ "department": id, "revisions": revisions }),
    ))
}

async fn feeds(app: &App, q: &Query) -> Result<Response, ApiError> {
    allow_only(q, &[])?;
    Ok(json(
        &serde_json::json!({ "feeds": app.feeds.views(app.tz()) }),
    ))
}
