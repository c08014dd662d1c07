//! Live progress for command-center screens: the hub that numbers every change, and the
//! websocket sessions that carry snapshots, deltas and events to each screen.
//!
//! The writer (through the commit listener) and the clock tick hand each `Change` to
//! `Hub::publish`; it never waits for a screen. Each session filters what it forwards and falls
//! back to a fresh snapshot when it lags.

pub mod hub;
pub mod screens;
pub mod session;
pub mod webhooks;

pub use hub::{Hub, HubMessage};

use crate::api::ApiError;
use crate::server::App;
use std::convert::Infallible;
use warp::Filter;
use warp::reply::Response;

/// `GET /api/v1/live`: upgrades to a websocket session with the filters and resume point given
/// in the query (`dimension`, `department`, `quick_win`, `since`, `epoch`, `screen`, `token`).
pub fn routes(app: App) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    warp::path!("api" / "v1" / "live")
        .and(warp::get())
        .and(warp::any().map(move || app.clone()))
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(crate::api::listen::client_addr())
        .and(warp::ws())
        .and_then(
            |app: App,
             raw: String,
             headers: warp::http::HeaderMap,
             remote: Option<std::net::SocketAddr>,
             ws: warp::ws::Ws| async move {
                Ok::<_, Infallible>(match open(&app, &raw, &headers, remote) {
                    Ok(params) => {
                        let hub = app.hub.clone();
                        let screens = app.screens.clone();
                        let heartbeat = app.options.heartbeat.unwrap_or_default();
                        let tz = app.tz();
                        let stop = app.shutdown.clone();
                        use warp::Reply;
                        ws.max_message_size(64 * 1024)
                            .max_frame_size(64 * 1024)
                            .on_upgrade(move |socket| {
                                session::run(socket, hub, params, screens, heartbeat, tz, stop)
                            })
                            .into_response()
                    }
                    Err(e) => e.into_response(),
                })
            },
        )
}

/// Checks the origin, the screen and its token, and reads the session's parameters.
fn open(
    app: &App,
    raw: &str,
    headers: &warp::http::HeaderMap,
    remote: Option<std::net::SocketAddr>,
) -> Result<session::SessionParams, ApiError> {
    let config = app.config();
    if let Some(origin) = headers.get("origin").and_then(|o| o.to_str().ok()) {
        let host = headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let same_host = origin
            .split_once("://")
            .map(|(_, rest)| rest.trim_end_matches('/') == host)
            .unwrap_or(false);
        let allowed = config
            .settings
            .server
            .allowed_origins
            .iter()
            .any(|a| a == origin || a == "*");
        if !same_host && !allowed {
            return Err(ApiError::Forbidden {
                message: format!(
                    "websocket connections from origin `{origin}` are not allowed; add it to [server] allowed_origins"
                ),
                rows: Vec::new(),
            });
        }
    }
    let q: crate::api::Query = raw
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (crate::api::percent_decode(k), crate::api::percent_decode(v))
        })
        .collect();
    crate::api::allow_only(
        &q,
        &[
            "dimension",
            "department",
            "quick_win",
            "since",
            "epoch",
            "screen",
            "token",
            "lang",
        ],
    )?;
    let filter = crate::api::filter_from(app, &q)?;
    let since = match q.get("since") {
        None => None,
        Some(s) => Some(s.parse::<u64>().map_err(|_| ApiError::BadParameter {
            name: "since".into(),
            message: format!("`{s}` must be the seq number of the last message received"),
        })?),
    };
    let screen = q.get("screen").cloned();
    if let Some(id) = &screen {
        crate::live::screens::check_screen(&app.options, id, q.get("token").map(String::as_str))?;
    }
    Ok(session::SessionParams {
        filter,
        since,
        epoch: q.get("epoch").cloned(),
        screen,
        remote: remote.map(|r| r.to_string()),
    })
}
