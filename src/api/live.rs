//! `GET /api/v1/live`: checks the origin, the screen and its token, reads the filters and the
//! resume point, and upgrades the connection to a websocket session (`crate::live::session`).

use super::ApiError;
use crate::app::App;
use crate::live::session;
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
        .and(super::listen::client_addr())
        // Taken before `warp::ws()` (which checks the upgrade headers and removes it) so that
        // the session can set its own socket configuration (warp's `Ws` cannot).
        .and(warp::ext::optional::<hyper::upgrade::OnUpgrade>())
        .and(warp::header::optional::<String>("sec-websocket-key"))
        .and(warp::ws())
        .and_then(
            |app: App,
             raw: String,
             headers: warp::http::HeaderMap,
             remote: Option<std::net::SocketAddr>,
             upgrade: Option<hyper::upgrade::OnUpgrade>,
             key: Option<String>,
             _checked: warp::ws::Ws| async move {
                Ok::<_, Infallible>(match open(&app, &raw, &headers, remote) {
                    Ok(params) => match (upgrade, key) {
                        (Some(upgrade), Some(key)) => accept(app, params, upgrade, &key),
                        _ => ApiError::BadParameter {
                            name: "upgrade".into(),
                            message: "this connection cannot be upgraded to a websocket".into(),
                        }
                        .into_response(),
                    },
                    Err(e) => e.into_response(),
                })
            },
        )
}

/// Answers 101 and runs the session on the upgraded connection.
fn accept(
    app: App,
    params: session::SessionParams,
    upgrade: hyper::upgrade::OnUpgrade,
    key: &str,
) -> Response {
    let hub = app.hub.clone();
    let screens = app.screens.clone();
    let heartbeat = app.options.heartbeat.unwrap_or_default();
    let tz = app.tz();
    let stop = app.shutdown.clone();
    tokio::spawn(async move {
        match upgrade.await {
            Ok(upgraded) => {
                let socket = tokio_tungstenite::WebSocketStream::from_raw_socket(
                    hyper_util::rt::TokioIo::new(upgraded),
                    tokio_tungstenite::tungstenite::protocol::Role::Server,
                    Some(session::socket_config()),
                )
                .await;
                session::run(socket, hub, params, screens, heartbeat, tz, stop).await;
            }
            Err(e) => tracing::debug!(error = %e, "websocket upgrade failed"),
        }
    });
    let accept =
        tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.trim().as_bytes());
    let mut response = Response::default();
    *response.status_mut() = warp::http::StatusCode::SWITCHING_PROTOCOLS;
    let h = response.headers_mut();
    h.insert(
        "connection",
        warp::http::HeaderValue::from_static("upgrade"),
    );
    h.insert("upgrade", warp::http::HeaderValue::from_static("websocket"));
    if let Ok(v) = warp::http::HeaderValue::from_str(&accept) {
        h.insert("sec-websocket-accept", v);
    }
    response
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
    let q: super::Query = raw
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (super::percent_decode(k), super::percent_decode(v))
        })
        .collect();
    super::allow_only(
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
    let filter = super::filter_from(app, &q)?;
    let since = match q.get("since") {
        None => None,
        Some(s) => Some(s.parse::<u64>().map_err(|_| ApiError::BadParameter {
            name: "since".into(),
            message: format!("`{s}` must be the seq number of the last message received"),
        })?),
    };
    let screen = q.get("screen").cloned();
    if let Some(id) = &screen {
        crate::live::screens::check_screen(
            &app.config().screens,
            id,
            q.get("token").map(String::as_str),
        )?;
    }
    Ok(session::SessionParams {
        filter,
        since,
        epoch: q.get("epoch").cloned(),
        screen,
        remote: remote.map(|r| r.to_string()),
    })
}
