//! The yearly cycle over HTTP: an indicator's targets, realisasi per triwulan and per year and
//! its SAKIP capaian (`/api/v1/indicators/{id}/years`), and OPD reporting compliance over a
//! period (`/api/v1/compliance`). Figures come from the in-memory series; when values first
//! arrived comes from the store (read-only connections, off the async workers).

use super::read::{allow_only, json};
use super::{ApiError, Query, query, with_app};
use crate::app::App;
use crate::domain::{Millis, date_start_millis, format_instant, local_date};
use chrono::{Datelike, NaiveDate};
use std::convert::Infallible;
use warp::Filter;
use warp::reply::Response;

/// The longest period compliance is computed over.
const MAX_COMPLIANCE_DAYS: i64 = 5 * 366;

pub(super) fn routes(
    app: App,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let years = warp::path!("api" / "v1" / "indicators" / String / "years")
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(query())
        .and_then(|id: String, app: App, q: Query| async move {
            Ok::<_, Infallible>(years(&app, &id, &q).unwrap_or_else(ApiError::into_response))
        });
    let compliance = warp::path!("api" / "v1" / "compliance")
        .and(warp::get())
        .and(with_app(app))
        .and(query())
        .and_then(|app: App, q: Query| async move {
            Ok::<_, Infallible>(
                compliance(&app, &q)
                    .await
                    .unwrap_or_else(ApiError::into_response),
            )
        });
    years.or(compliance).unify()
}

fn now() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

/// A `YYYY-MM-DD` query parameter.
fn date_param(q: &Query, name: &str) -> Result<Option<NaiveDate>, ApiError> {
    q.get(name)
        .map(|v| {
            NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").map_err(|_| ApiError::BadParameter {
                name: name.into(),
                message: format!(
                    "`{}` is not a date; write YYYY-MM-DD, e.g. 2026-11-01",
                    shorten(v)
                ),
            })
        })
        .transpose()
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= 40 {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(40).collect::<String>())
    }
}

/// `GET /api/v1/progress?as_of=YYYY-MM-DD[&filters]`: progress as it stood at the end of that
/// day — the observations timed up to it, each with the value known then (the revision
/// history), and the notes written by then — computed by the same state as live progress.
pub(super) async fn progress_as_of(app: &App, q: &Query) -> Result<Response, ApiError> {
    allow_only(q, &["dimension", "department", "quick_win", "as_of"])?;
    let filter = super::read::filter_from(app, q)?;
    let config = app.config();
    let tz = config.settings.city.time_zone;
    let today = local_date(now(), tz).unwrap_or_default();
    let Some(date) = date_param(q, "as_of")? else {
        return Err(ApiError::BadParameter {
            name: "as_of".into(),
            message: "give a date, YYYY-MM-DD".into(),
        });
    };
    if date > today {
        return Err(ApiError::BadParameter {
            name: "as_of".into(),
            message: format!(
                "{date} is in the future; progress as of today is GET /api/v1/progress"
            ),
        });
    }
    let at = date_start_millis(date.succ_opt().unwrap_or(date), tz) - 1;
    let reads = app.reads.clone();
    let body = tokio::task::spawn_blocking(move || {
        let (series, notes) = reads
            .run_blocking(|conn| Ok((conn.all_series_as_of(at)?, conn.latest_notes_as_of(at)?)))?;
        let state = crate::progress::ProgressState::new(
            std::sync::Arc::new(config.masterplan.clone()),
            tz,
            config.settings.progress.thresholds,
            series,
            notes,
            at,
        );
        let snapshot = state.snapshot();
        let body = serde_json::to_vec(&snapshot.view(&filter)).map_err(|e| {
            crate::store::StoreError::Unavailable(format!("cannot write the answer: {e}"))
        });
        drop((snapshot, state));
        crate::app::give_back_memory();
        body
    })
    .await
    .map_err(|e| ApiError::Internal(format!("the as-of task failed: {e}")))??;
    let mut r = Response::new(body.into());
    r.headers_mut().insert(
        "content-type",
        warp::http::HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

/// `GET /api/v1/indicators/{id}/years[?year=Y]`.
fn years(app: &App, id: &str, q: &Query) -> Result<Response, ApiError> {
    allow_only(q, &["year"])?;
    let (data, position) = {
        let state = match app.progress.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        (state.data(), state.position(id))
    };
    let Some(i) = position else {
        return Err(ApiError::NotFound(format!(
            "no indicator `{}` in the masterplan",
            shorten(id)
        )));
    };
    let ind = &data.plan.indicators[i];
    let mut figures = data.years(i, now());
    if let Some(y) = q.get("year") {
        let year: i32 = y.trim().parse().map_err(|_| ApiError::BadParameter {
            name: "year".into(),
            message: format!("`{}` is not a year; write e.g. 2026", shorten(y)),
        })?;
        let known: Vec<String> = figures.iter().map(|f| f.year.to_string()).collect();
        figures.retain(|f| f.year == year);
        if figures.is_empty() {
            return Err(ApiError::BadParameter {
                name: "year".into(),
                message: format!(
                    "{year} has no target for this indicator; its years are {}",
                    known.join(", ")
                ),
            });
        }
    }
    Ok(json(&serde_json::json!({
        "indicator": ind.id,
        "name": ind.name,
        "code": ind.code,
        "unit": ind.unit,
        "direction": ind.direction,
        "kind": ind.kind,
        "department": ind.department,
        "baseline": { "date": ind.baseline.date, "value": ind.baseline.value },
        "years": figures,
    })))
}

/// `GET /api/v1/compliance?from=YYYY-MM-DD&to=YYYY-MM-DD[&department=D]`: reporting periods
/// ending from `from` through `to` (default: this month so far).
async fn compliance(app: &App, q: &Query) -> Result<Response, ApiError> {
    allow_only(q, &["from", "to", "department"])?;
    let config = app.config();
    let tz = config.settings.city.time_zone;
    let now = now();
    let today = local_date(now, tz).unwrap_or_default();
    let from = date_param(q, "from")?.unwrap_or_else(|| {
        NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today)
    });
    let to = date_param(q, "to")?.unwrap_or(today);
    if to < from {
        return Err(ApiError::BadParameter {
            name: "to".into(),
            message: format!("{to} is before `from` {from}; give `to` on or after `from`"),
        });
    }
    if (to - from).num_days() > MAX_COMPLIANCE_DAYS {
        return Err(ApiError::BadParameter {
            name: "to".into(),
            message: format!(
                "the period is longer than {MAX_COMPLIANCE_DAYS} days; ask for at most five years at a time"
            ),
        });
    }
    if let Some(d) = q.get("department") {
        if config.masterplan.department(d).is_none() {
            return Err(ApiError::BadParameter {
                name: "department".into(),
                message: format!(
                    "`{}` is not a department of the masterplan; see GET /api/v1/masterplan",
                    shorten(d)
                ),
            });
        }
    }
    let start = date_start_millis(from, tz);
    let end = date_start_millis(to.succ_opt().unwrap_or(to), tz);
    let plan = config.masterplan.clone();
    let grace = config.settings.progress.thresholds.stale_grace;
    let reads = app.reads.clone();
    let wanted = q.get("department").cloned();
    let departments = tokio::task::spawn_blocking(move || {
        reads.run_blocking(|conn| {
            // A period ending in the window may have started up to a year before it.
            let span_from = start - 400 * 86_400_000;
            let mut receipts = Vec::with_capacity(plan.indicators.len());
            for ind in &plan.indicators {
                let wanted_here = wanted
                    .as_deref()
                    .is_none_or(|d| d == ind.department.as_str());
                receipts.push(if wanted_here {
                    conn.receipts(ind.id.as_str(), span_from, end)?
                } else {
                    Vec::new()
                });
            }
            let mut report =
                crate::progress::compliance::report(&plan, start, end, now, grace, tz, |i| {
                    receipts[i].clone()
                });
            if let Some(d) = &wanted {
                report.retain(|r| &r.id == d);
            }
            Ok(report)
        })
    })
    .await
    .map_err(|e| ApiError::Internal(format!("the compliance task failed: {e}")))??;
    let mut totals = crate::progress::compliance::Tally::default();
    for d in &departments {
        totals.merge(&d.tally);
    }
    Ok(json(&serde_json::json!({
        "from": from,
        "to": to,
        "as_of": format_instant(now, tz),
        "totals": totals,
        "on_time_percent": totals.on_time_percent(),
        "departments": departments,
    })))
}
