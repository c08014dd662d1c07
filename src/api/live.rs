//! `GET /api/v1/live`: checks the origin, the screen and its token, reads the filters and the
//! resume point, takes one of the listener's screen slots (`[server] max_screens`), and upgrades
//! the connection to a websocket session (`crate::live::session`) that holds the slot until it
//! ends.
//!
//! Browser origins are compared with what the daemon knows of itself (`[server] public_url`,
//! the address and port the connection arrived at, loopback names) and `allowed_origins`, never
//! with the request's own `Host` header, which a DNS-rebinding page chooses.

use super::ApiError;
use super::listen::{ScreenSlot, ScreenSlots};
use crate::app::App;
use crate::config::ServerSettings;
use crate::live::session;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
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
        .and(super::listen::server_addr())
        .and(warp::ext::optional::<ScreenSlots>())
        // Taken before `warp::ws()` (which checks the upgrade headers and removes it) so that
        // the session can set its own socket configuration (warp's `Ws` cannot).
        .and(warp::ext::optional::<hyper::upgrade::OnUpgrade>())
        .and(warp::header::optional::<String>("sec-websocket-key"))
        .and(warp::ws())
        .and_then(
            |app: App,
             raw: String,
             headers: warp::http::HeaderMap,
             remote: Option<SocketAddr>,
             local: Option<SocketAddr>,
             slots: Option<ScreenSlots>,
             upgrade: Option<hyper::upgrade::OnUpgrade>,
             key: Option<String>,
             _checked: warp::ws::Ws| async move {
                let opened = open(&app, &raw, &headers, remote, local).and_then(|params| {
                    // A slot is taken last, so that a refused request never holds one.
                    let slot = match &slots {
                        Some(s) => Some(s.try_take().ok_or(ApiError::TooManyScreens {
                            max_screens: s.max(),
                        })?),
                        None => None,
                    };
                    Ok((params, slot))
                });
                Ok::<_, Infallible>(match opened {
                    Ok((params, slot)) => match (upgrade, key) {
                        (Some(upgrade), Some(key)) => accept(app, params, slot, upgrade, &key),
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

/// Answers 101 and runs the session on the upgraded connection; the session holds `slot`.
fn accept(
    app: App,
    params: session::SessionParams,
    slot: Option<ScreenSlot>,
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
        drop(slot);
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
    remote: Option<SocketAddr>,
    local: Option<SocketAddr>,
) -> Result<session::SessionParams, ApiError> {
    let config = app.config();
    if let Some(origin) = headers.get("origin") {
        let origin = String::from_utf8_lossy(origin.as_bytes());
        if !origin_allowed(&origin, &config.settings.server, local) {
            let shown: String = origin.chars().take(200).collect();
            return Err(ApiError::Forbidden {
                message: format!(
                    "websocket connections from origin `{shown}` are not allowed; set [server] public_url to the address the screens open (e.g. \"https://pantau.mojokertokota.go.id\"), or add the origin to [server] allowed_origins"
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

/// Whether a browser page from `origin` may open a websocket: it is the daemon's public URL,
/// the address and port the connection arrived at (a page loaded from that very address),
/// `localhost` or a loopback address on that port, or listed in `allowed_origins` (`*` allows
/// any). The request's `Host` header plays no part: a page on `evil.example` whose name resolves
/// to the daemon sends `Host: evil.example` itself.
pub(crate) fn origin_allowed(
    origin: &str,
    server: &ServerSettings,
    local: Option<SocketAddr>,
) -> bool {
    let origin = origin.trim();
    if server
        .allowed_origins
        .iter()
        .any(|a| a == "*" || a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    // `null` (a sandboxed frame, a file) and anything else that is not a URL is refused here.
    let Ok(url) = reqwest::Url::parse(origin) else {
        return false;
    };
    let same = |other: &reqwest::Url| {
        url.scheme() == other.scheme()
            && url.host() == other.host()
            && url.port_or_known_default() == other.port_or_known_default()
    };
    if server.public_url.as_ref().is_some_and(same) {
        return true;
    }
    let Some(local) = local else {
        return false;
    };
    if url.scheme() != "http" || url.port_or_known_default() != Some(local.port()) {
        return false;
    }
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => {
            ip.is_loopback() || IpAddr::V4(ip) == local.ip().to_canonical()
        }
        Some(url::Host::Ipv6(ip)) => {
            ip.is_loopback() || IpAddr::V6(ip).to_canonical() == local.ip().to_canonical()
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(public_url: Option<&str>, allowed: &[&str]) -> ServerSettings {
        let mut s = crate::config::Config::inline(
            crate::config::EMBEDDED_SETTINGS,
            crate::config::EMBEDDED_MASTERPLAN,
        )
        .expect("the embedded configuration is valid")
        .settings
        .server;
        s.public_url = public_url.map(|u| reqwest::Url::parse(u).unwrap());
        s.allowed_origins = allowed.iter().map(|a| a.to_string()).collect();
        s
    }

    #[test]
    fn origins_are_compared_with_what_the_daemon_knows_of_itself() {
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let s = server(None, &[]);
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:8080",
            "http://LOCALHOST:8080",
            "http://[::1]:8080",
        ] {
            assert!(origin_allowed(ok, &s, Some(local)), "{ok}");
        }
        for refused in [
            "http://evil.example:8080",
            "http://evil.example",
            "http://localhost:9090",
            "https://localhost:8080",
            "http://127.0.0.1.evil.example:8080",
            "http://localhost.evil.example:8080",
            "null",
            "",
        ] {
            assert!(!origin_allowed(refused, &s, Some(local)), "{refused}");
        }
        assert!(!origin_allowed("http://127.0.0.1:8080", &s, None));
    }

    #[test]
    fn the_address_the_connection_arrived_at_is_its_own_origin() {
        let s = server(None, &[]);
        let lan: SocketAddr = "10.0.0.5:8080".parse().unwrap();
        assert!(origin_allowed("http://10.0.0.5:8080", &s, Some(lan)));
        assert!(!origin_allowed("http://10.0.0.6:8080", &s, Some(lan)));
        let mapped: SocketAddr = "[::ffff:10.0.0.5]:80".parse().unwrap();
        assert!(origin_allowed("http://10.0.0.5", &s, Some(mapped)));
    }

    #[test]
    fn the_public_url_and_allowed_origins_are_accepted() {
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let s = server(
            Some("https://pantau.mojokertokota.go.id/"),
            &["https://cc.mojokertokota.go.id"],
        );
        assert!(origin_allowed(
            "https://pantau.mojokertokota.go.id",
            &s,
            Some(local)
        ));
        assert!(origin_allowed(
            "https://pantau.mojokertokota.go.id:443",
            &s,
            Some(local)
        ));
        assert!(!origin_allowed(
            "http://pantau.mojokertokota.go.id",
            &s,
            Some(local)
        ));
        assert!(origin_allowed(
            "https://cc.mojokertokota.go.id",
            &s,
            Some(local)
        ));
        assert!(!origin_allowed(
            "https://evil.mojokertokota.go.id",
            &s,
            Some(local)
        ));
        assert!(origin_allowed(
            "https://any.example",
            &server(None, &["*"]),
            Some(local)
        ));
    }
}
