//! The plan's versions over HTTP: `GET /api/v1/masterplan/versions` lists every version the
//! daemon loaded (perubahan RPJMD) with what changed, and an indicator's own changes go with
//! its detail ("Target 2025 diubah dari 90 menjadi 85 (Perubahan RPJMD, 1 Maret 2025)").

use super::read::{allow_only, json};
use super::{ApiError, Query, query, with_app};
use crate::app::App;
use crate::config::Locale;
use crate::config::versions::PlanChange;
use crate::domain::{format_instant, local_date};
use crate::store::read::PlanVersionRow;
use std::convert::Infallible;
use warp::Filter;
use warp::reply::Response;

pub(super) fn routes(
    app: App,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    warp::path!("api" / "v1" / "masterplan" / "versions")
        .and(warp::get())
        .and(with_app(app))
        .and(query())
        .and_then(|app: App, q: Query| async move {
            Ok::<_, Infallible>(
                versions(&app, &q)
                    .await
                    .unwrap_or_else(ApiError::into_response),
            )
        })
}

/// The stored changes of a version (a list written from `PlanChange`).
fn parse_changes(v: &PlanVersionRow) -> Vec<PlanChange> {
    serde_json::from_str(&v.changes).unwrap_or_default()
}

/// "(Perubahan RPJMD 2025, 1 Maret 2025)" or "(1 Maret 2025)".
fn when(v: &PlanVersionRow, tz: chrono_tz::Tz, locale: Locale) -> String {
    let date = local_date(v.loaded, tz)
        .map(|d| crate::locale::format_date(d, locale))
        .unwrap_or_default();
    match &v.revision_note {
        Some(note) => format!("({note}, {date})"),
        None => format!("({date})"),
    }
}

/// The changes that concern indicator `id`, newest first, each with its sentence.
pub(super) fn changes_of(
    versions: &[PlanVersionRow],
    id: &str,
    tz: chrono_tz::Tz,
    locale: Locale,
) -> Vec<serde_json::Value> {
    versions
        .iter()
        .flat_map(|v| {
            parse_changes(v)
                .into_iter()
                .filter(|c| c.indicator() == Some(id))
                .map(move |c| {
                    serde_json::json!({
                        "version": v.id,
                        "loaded": format_instant(v.loaded, tz),
                        "revision_note": v.revision_note,
                        "change": c,
                        "text": format!("{} {}", c.text(locale), when(v, tz, locale)),
                    })
                })
        })
        .collect()
}

async fn versions(app: &App, q: &Query) -> Result<Response, ApiError> {
    allow_only(q, &[])?;
    let config = app.config();
    let (tz, locale) = (config.settings.city.time_zone, config.settings.city.locale);
    let rows = app.reads.run(|c| c.plan_versions()).await?;
    let list: Vec<serde_json::Value> = rows
        .iter()
        .map(|v| {
            let changes: Vec<serde_json::Value> = parse_changes(v)
                .into_iter()
                .map(|c| {
                    let text = c.text(locale);
                    let mut j = serde_json::to_value(&c).unwrap_or_default();
                    j["text"] = serde_json::Value::String(text);
                    j
                })
                .collect();
            serde_json::json!({
                "id": v.id,
                "hash": v.hash,
                "loaded": format_instant(v.loaded, tz),
                "revision_note": v.revision_note,
                "changes": changes,
            })
        })
        .collect();
    Ok(json(&serde_json::json!({
        "current": app.plan_version().map(|v| v.id),
        "versions": list,
    })))
}
