//! `GET /api/v1/reports/evaluation`: the yearly evaluation report (laporan evaluasi) as XLSX,
//! HTML or JSON, computed from the in-memory series, the store's receipts and, for a period
//! that is over, the series as known at its end (its status), off the async workers, a few
//! reports at a time.
//!
//! The HTML answer carries its own Content-Security-Policy (no script at all, its inline style
//! only, framing by `[server] frame_ancestors`), so the page `/laporan` can show it in a frame.

use super::read::allow_only;
use super::{ApiError, Query, query, with_app};
use crate::app::App;
use crate::domain::{Millis, local_date};
use crate::report::{self, Format, Period, ReportError, Request};
use std::convert::Infallible;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::Semaphore;
use warp::Filter;
use warp::http::HeaderValue;
use warp::reply::Response;

/// Reports made at once; each takes a core for a moment and its own memory.
const CONCURRENT_REPORTS: usize = 2;
/// How long a request waits for its turn before it is told to retry.
const QUEUE_WAIT: Duration = Duration::from_secs(20);

fn turns() -> &'static Semaphore {
    static TURNS: OnceLock<Semaphore> = OnceLock::new();
    TURNS.get_or_init(|| Semaphore::new(CONCURRENT_REPORTS))
}

pub(super) fn routes(
    app: App,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    warp::path!("api" / "v1" / "reports" / "evaluation")
        .and(warp::get())
        .and(with_app(app))
        .and(query())
        .and_then(|app: App, q: Query| async move {
            Ok::<_, Infallible>(
                evaluation(&app, &q)
                    .await
                    .unwrap_or_else(ApiError::into_response),
            )
        })
}

/// A report error as the API answers it.
fn api_error(e: ReportError) -> ApiError {
    match e {
        ReportError::BadParameter { name, message } => ApiError::BadParameter {
            name: name.into(),
            message,
        },
        ReportError::Store(e) => e.into(),
        ReportError::Render(m) => {
            tracing::error!(error = %m, "cannot write an evaluation report");
            ApiError::Internal("the report could not be written; it was logged".into())
        }
    }
}

fn now() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

/// `?year=&quarter=&department=&format=xlsx|html|json`.
async fn evaluation(app: &App, q: &Query) -> Result<Response, ApiError> {
    allow_only(q, &["year", "quarter", "department", "format"])?;
    let format = match q.get("format") {
        Some(f) => Format::parse(f).map_err(api_error)?,
        None => Format::Json,
    };
    let config = app.config();
    let tz = config.settings.city.time_zone;
    let now = now();
    // The plan the figures are computed with (the state's, which a reload replaces whole).
    let data = {
        let state = match app.progress.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        state.data()
    };
    let year = match q.get("year") {
        Some(y) => report::parse_year(y).map_err(api_error)?,
        None => {
            let today = local_date(now, tz).unwrap_or_default();
            report::default_year(&data.plan, today).ok_or_else(|| ApiError::BadParameter {
                name: "year".into(),
                message: "the masterplan has no targets, so there is no year to report on".into(),
            })?
        }
    };
    let quarter = q
        .get("quarter")
        .map(|v| report::parse_quarter(v))
        .transpose()
        .map_err(api_error)?;
    let request = Request {
        year,
        quarter,
        department: q.get("department").cloned(),
    };
    let period = Period::resolve(&request, &data.plan, tz).map_err(api_error)?;

    let _turn = tokio::time::timeout(QUEUE_WAIT, turns().acquire())
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or_else(|| {
            ApiError::Unavailable(format!(
                "{CONCURRENT_REPORTS} reports are being made and this one waited {} s for its turn; retry in a minute",
                QUEUE_WAIT.as_secs()
            ))
        })?;
    let reads = app.reads.clone();
    let (report, body) = tokio::task::spawn_blocking(move || {
        // A period that is over reports its status as of its last day (the values known then).
        let (receipts, known_then) = reads.run_blocking(|conn| {
            Ok((
                report::source::read_receipts(conn, &data.plan, &period)?,
                report::source::read_known_then(conn, &data.plan, &period, now)?,
            ))
        })?;
        let made = report::build(
            &period,
            &data,
            &receipts,
            known_then.as_deref(),
            &config.settings.city.name,
            &config.settings.report,
            now,
        );
        drop((receipts, known_then));
        let body = report::render(&made, format)?;
        crate::app::give_back_memory();
        Ok::<_, ReportError>((made, body))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("the report task failed: {e}")))?
    .map_err(api_error)?;

    let mut r = Response::new(body.into());
    let headers = r.headers_mut();
    headers.insert(
        "content-type",
        HeaderValue::from_static(format.content_type()),
    );
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    let file = report.file_name(format.extension());
    let disposition = match format {
        Format::Xlsx => Some(format!("attachment; filename=\"{file}\"")),
        Format::Html => Some(format!("inline; filename=\"{file}\"")),
        Format::Json => None,
    };
    if let Some(v) = disposition.and_then(|d| HeaderValue::from_str(&d).ok()) {
        headers.insert("content-disposition", v);
    }
    if format == Format::Html {
        let frame_ancestors = &app.config().settings.server.frame_ancestors;
        let policy = format!(
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors {frame_ancestors}"
        );
        if let Ok(v) = HeaderValue::from_str(&policy) {
            headers.insert("content-security-policy", v);
        }
        headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    }
    Ok(r)
}
