//! The federation daemon's HTTP routes: `/healthz`, `/metrics`, `GET /api/v1/cities` (each
//! city's connection), `GET /api/v1/federation/progress` (every city's progress, ranked),
//! `GET /api/v1/federation/history`, the federation's own `/api/v1/live` websocket, and the
//! federation wall (`/`, `/assets/...` from `dashboards/`).
//!
//! Errors are `crate::api::ApiError`, the one mapping of errors to statuses.

use super::history::History;
use super::state::Federation;
use crate::api::ApiError;
use crate::api::listen::{ScreenSlot, ScreenSlots};
use crate::api::messages::Msg;
use rust_embed::RustEmbed;
use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use warp::Filter;
use warp::reply::Response;

#[derive(RustEmbed)]
#[folder = "dashboards/"]
struct Embedded;

/// What the routes share.
#[derive(Clone)]
pub struct Routes {
    pub fed: Federation,
    pub history: History,
    pub dashboards_dir: Option<PathBuf>,
    pub stop: tokio::sync::watch::Receiver<bool>,
}

fn json(body: bytes::Bytes) -> Response {
    let mut r = Response::new(body.into());
    r.headers_mut().insert(
        "content-type",
        warp::http::HeaderValue::from_static("application/json"),
    );
    r.headers_mut().insert(
        "cache-control",
        warp::http::HeaderValue::from_static("no-store"),
    );
    r
}

fn query(raw: &str) -> HashMap<String, String> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (crate::api::percent_decode(k), crate::api::percent_decode(v))
        })
        .collect()
}

fn only(q: &HashMap<String, String>, allowed: &[&str]) -> Result<(), ApiError> {
    for k in q.keys() {
        if !allowed.contains(&k.as_str()) {
            let shown: String = k.chars().take(40).collect();
            return Err(ApiError::BadParameter {
                name: shown.clone(),
                message: if allowed.is_empty() {
                    format!("`{shown}` is not a parameter of this endpoint; it takes none")
                } else {
                    format!(
                        "`{shown}` is not a parameter of this endpoint; use {}",
                        allowed.join(", ")
                    )
                },
            });
        }
    }
    Ok(())
}

fn raw_query() -> impl Filter<Extract = (String,), Error = Infallible> + Clone {
    warp::query::raw().or(warp::any().map(String::new)).unify()
}

/// Every route of the federation daemon.
pub fn routes(r: Routes) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    let with = {
        let r = r.clone();
        warp::any().map(move || r.clone())
    };
    let healthz = warp::path!("healthz")
        .and(warp::get())
        .and(with.clone())
        .map(|r: Routes| {
            let connected = r
                .fed
                .each(|c| c.health.connected)
                .into_iter()
                .filter(|c| *c)
                .count();
            json(
                serde_json::to_vec(&serde_json::json!({
                    "status": "ok",
                    "federation": r.fed.config.name(),
                    "epoch": r.fed.epoch(),
                    "seq": r.fed.seq(),
                    "cities": r.fed.config.cities.len(),
                    "connected": connected,
                    "uptime_seconds": r.fed.started.elapsed().as_secs(),
                    "version": env!("CARGO_PKG_VERSION"),
                }))
                .unwrap_or_default()
                .into(),
            )
        });
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(with.clone())
        .map(|r: Routes| {
            let mut resp = Response::new(render_metrics(&r.fed).into());
            resp.headers_mut().insert(
                "content-type",
                warp::http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            resp
        });
    let cities = warp::path!("api" / "v1" / "cities")
        .and(warp::get())
        .and(with.clone())
        .and(raw_query())
        .map(|r: Routes, raw: String| match only(&query(&raw), &[]) {
            Ok(()) => json(r.fed.health_json()),
            Err(e) => e.into_response(),
        });
    let progress = warp::path!("api" / "v1" / "federation" / "progress")
        .and(warp::get())
        .and(with.clone())
        .and(raw_query())
        .map(|r: Routes, raw: String| match only(&query(&raw), &[]) {
            Ok(()) => json(r.fed.progress_json()),
            Err(e) => e.into_response(),
        });
    let history = warp::path!("api" / "v1" / "federation" / "history")
        .and(warp::get())
        .and(with.clone())
        .and(raw_query())
        .and_then(|r: Routes, raw: String| async move {
            Ok::<_, Infallible>(match history(&r, &raw).await {
                Ok(resp) => resp,
                Err(e) => e.into_response(),
            })
        });
    let live = warp::path!("api" / "v1" / "live")
        .and(warp::get())
        .and(with.clone())
        .and(raw_query())
        .and(warp::header::headers_cloned())
        .and(crate::api::listen::server_addr())
        .and(warp::ext::optional::<ScreenSlots>())
        .and(warp::ext::optional::<hyper::upgrade::OnUpgrade>())
        .and(warp::header::optional::<String>("sec-websocket-key"))
        .and(warp::ws())
        .map(
            |r: Routes,
             raw: String,
             headers: warp::http::HeaderMap,
             local: Option<SocketAddr>,
             slots: Option<ScreenSlots>,
             upgrade: Option<hyper::upgrade::OnUpgrade>,
             key: Option<String>,
             _checked: warp::ws::Ws| {
                match open_live(&r, &raw, &headers, local, slots.as_ref()) {
                    Ok((since, epoch, slot)) => match (upgrade, key) {
                        (Some(upgrade), Some(key)) => accept(r, since, epoch, slot, upgrade, &key),
                        _ => ApiError::BadParameter {
                            name: "upgrade".into(),
                            message: "this connection cannot be upgraded to a websocket".into(),
                        }
                        .into_response(),
                    },
                    Err(e) => e.into_response(),
                }
            },
        );
    let wall = warp::path::end()
        .and(warp::get())
        .and(with.clone())
        .map(|r: Routes| page(&r, "federation.html"));
    let assets = warp::path("assets")
        .and(warp::get())
        .and(warp::path::tail())
        .and(with)
        .map(|tail: warp::path::Tail, r: Routes| {
            let p = tail.as_str();
            let safe = !p.is_empty()
                && p.split('/').all(|s| !s.is_empty() && s != ".." && s != ".")
                && !p.contains('\\');
            if safe {
                page(&r, p)
            } else {
                ApiError::not_found(Msg::NoDashboardFile).into_response()
            }
        });
    healthz
        .or(metrics)
        .unify()
        .or(cities)
        .unify()
        .or(progress)
        .unify()
        .or(history)
        .unify()
        .or(live)
        .unify()
        .or(wall)
        .unify()
        .or(assets)
        .unify()
        .recover(crate::api::error::recover)
        .unify()
}

async fn history(r: &Routes, raw: &str) -> Result<Response, ApiError> {
    let q = query(raw);
    only(&q, &["city", "days"])?;
    let city = q.get("city").cloned();
    if let Some(id) = &city {
        if !r.fed.config.cities.iter().any(|c| &c.id == id) {
            let shown: String = id.chars().take(64).collect();
            return Err(ApiError::NotFound(format!(
                "`{shown}` is not a city of this federation; see /api/v1/cities"
            )));
        }
    }
    let days = match q.get("days") {
        None => 30,
        Some(d) => match d.parse::<usize>() {
            Ok(n) if (1..=3660).contains(&n) => n,
            _ => {
                return Err(ApiError::BadParameter {
                    name: "days".into(),
                    message: "must be a whole number of days from 1 to 3660, e.g. 30".into(),
                });
            }
        },
    };
    let cities = if city.is_some() {
        1
    } else {
        r.fed.config.cities.len()
    };
    let limit = days.saturating_mul(cities).min(100_000);
    let h = r.history.clone();
    let rows = tokio::task::spawn_blocking(move || h.days(city.as_deref(), limit))
        .await
        .map_err(|e| ApiError::Internal(format!("the history read failed: {e}")))?
        .map_err(|e| ApiError::Unavailable(format!("cannot read the history: {e}")))?;
    Ok(json(
        serde_json::to_vec(&serde_json::json!({ "days": rows }))
            .unwrap_or_default()
            .into(),
    ))
}

type LiveStart = (Option<u64>, Option<String>, Option<ScreenSlot>);

fn open_live(
    r: &Routes,
    raw: &str,
    headers: &warp::http::HeaderMap,
    local: Option<SocketAddr>,
    slots: Option<&ScreenSlots>,
) -> Result<LiveStart, ApiError> {
    if let Some(origin) = headers.get("origin") {
        let origin = String::from_utf8_lossy(origin.as_bytes());
        if !crate::api::origin_allowed(&origin, &r.fed.config.settings.server, local) {
            let shown: String = origin.chars().take(200).collect();
            return Err(ApiError::Forbidden {
                message: format!(
                    "websocket connections from origin `{shown}` are not allowed; set [server] public_url to the address the wall opens, or add the origin to [server] allowed_origins"
                ),
                rows: Vec::new(),
            });
        }
    }
    let q = query(raw);
    only(&q, &["since", "epoch", "lang", "screen"])?;
    let since = match q.get("since") {
        None => None,
        Some(s) => Some(s.parse::<u64>().map_err(|_| ApiError::BadParameter {
            name: "since".into(),
            message: format!(
                "`{}` must be the seq number of the last message received",
                s.chars().take(40).collect::<String>()
            ),
        })?),
    };
    let slot = match slots {
        Some(s) => Some(s.try_take().ok_or(ApiError::TooManyScreens {
            max_screens: s.max(),
        })?),
        None => None,
    };
    Ok((since, q.get("epoch").cloned(), slot))
}

fn accept(
    r: Routes,
    since: Option<u64>,
    epoch: Option<String>,
    slot: Option<ScreenSlot>,
    upgrade: hyper::upgrade::OnUpgrade,
    key: &str,
) -> Response {
    tokio::spawn(async move {
        if let Ok(upgraded) = upgrade.await {
            let socket = tokio_tungstenite::WebSocketStream::from_raw_socket(
                hyper_util::rt::TokioIo::new(upgraded),
                tokio_tungstenite::tungstenite::protocol::Role::Server,
                Some(crate::live::session::socket_config()),
            )
            .await;
            super::session::run(socket, r.fed.clone(), since, epoch, r.stop.clone()).await;
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

/// A dashboard file, from `--dashboards` or the embedded copy, with a policy that lets it run
/// only its own scripts and talk only to this daemon.
fn page(r: &Routes, name: &str) -> Response {
    let body: Option<Vec<u8>> = match &r.dashboards_dir {
        Some(dir) => std::fs::read(dir.join(name)).ok(),
        None => Embedded::get(name).map(|f| f.data.into_owned()),
    };
    let Some(body) = body else {
        return ApiError::not_found(Msg::NoDashboardFile).into_response();
    };
    let mime = mime_guess::from_path(name).first_or_octet_stream();
    let mut resp = Response::new(body.into());
    let h = resp.headers_mut();
    if let Ok(v) = warp::http::HeaderValue::from_str(mime.as_ref()) {
        h.insert("content-type", v);
    }
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors {}",
        r.fed.config.settings.server.frame_ancestors
    );
    if let Ok(v) = warp::http::HeaderValue::from_str(&csp) {
        h.insert("content-security-policy", v);
    }
    h.insert(
        "referrer-policy",
        warp::http::HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "x-content-type-options",
        warp::http::HeaderValue::from_static("nosniff"),
    );
    h.insert(
        "cache-control",
        warp::http::HeaderValue::from_static("no-cache"),
    );
    resp
}

/// Prometheus text: each city's connection and freshness, and the federation's own counters.
pub fn render_metrics(fed: &Federation) -> String {
    use std::sync::atomic::Ordering;
    let now = super::state::now_ms();
    let rows = fed.each(|c| {
        (
            c.spec.id.clone(),
            c.health.connected,
            c.health.messages,
            c.health.errors,
            c.health.connects,
            c.age_seconds(now),
            c.data.masterplan.as_ref().and_then(|m| m.progress),
            c.health.version.clone(),
        )
    });
    let mut out = String::new();
    let label = |id: &str| id.replace('\\', "\\\\").replace('"', "\\\"");
    let mut family = |name: &str, help: &str, kind: &str, values: Vec<(String, String)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, v) in values {
            let _ = writeln!(out, "{name}{{{labels}}} {v}");
        }
    };
    let city = |id: &str| format!("city=\"{}\"", label(id));
    family(
        "pantau_federation_city_up",
        "1 while the city's live feed is connected.",
        "gauge",
        rows.iter()
            .map(|r| (city(&r.0), u8::from(r.1).to_string()))
            .collect(),
    );
    family(
        "pantau_federation_city_messages_total",
        "Live messages received from the city.",
        "counter",
        rows.iter().map(|r| (city(&r.0), r.2.to_string())).collect(),
    );
    family(
        "pantau_federation_city_errors_total",
        "Connections to the city that ended in an error.",
        "counter",
        rows.iter().map(|r| (city(&r.0), r.3.to_string())).collect(),
    );
    family(
        "pantau_federation_city_connects_total",
        "Live connections opened to the city.",
        "counter",
        rows.iter().map(|r| (city(&r.0), r.4.to_string())).collect(),
    );
    family(
        "pantau_federation_city_data_age_seconds",
        "Seconds since the city's data was last confirmed current.",
        "gauge",
        rows.iter()
            .filter_map(|r| r.5.map(|a| (city(&r.0), a.to_string())))
            .collect(),
    );
    family(
        "pantau_federation_city_progress",
        "The city's masterplan progress (0 to 1).",
        "gauge",
        rows.iter()
            .filter_map(|r| r.6.map(|p| (city(&r.0), p.to_string())))
            .collect(),
    );
    family(
        "pantau_federation_city_info",
        "The city's pantau version, as it reports it.",
        "gauge",
        rows.iter()
            .map(|r| {
                (
                    format!(
                        "{},version=\"{}\"",
                        city(&r.0),
                        label(r.7.as_deref().unwrap_or(""))
                    ),
                    "1".to_string(),
                )
            })
            .collect(),
    );
    family(
        "pantau_federation_live_seq",
        "Sequence number of the federation's last live change.",
        "gauge",
        vec![(String::new(), fed.seq().to_string())],
    );
    family(
        "pantau_federation_screens",
        "Screens connected to the federation's live feed.",
        "gauge",
        vec![(
            String::new(),
            fed.metrics.screens.load(Ordering::Relaxed).to_string(),
        )],
    );
    family(
        "pantau_federation_history_rows_total",
        "Daily city summaries stored.",
        "counter",
        vec![(
            String::new(),
            fed.metrics.history_rows.load(Ordering::Relaxed).to_string(),
        )],
    );
    out.replace("{}", "")
}
