//! The HTTP API and the dashboards, as warp filters: read endpoints, department writes, the
//! live websocket, `/healthz`, `/metrics`, and the static dashboard pages.
//!
//! Handlers answer with `Response` directly; every error goes through `error::ApiError`, the one
//! place that maps errors to statuses. `docs/openapi.yaml` describes every route here.

pub mod auth;
mod cycle;
pub mod error;
pub mod listen;
mod live;
pub mod messages;
pub mod metrics;
mod plan;
mod read;
mod reports;
mod static_files;
mod write;

use crate::app::App;
use std::convert::Infallible;
use warp::Filter;

pub use error::ApiError;
pub(crate) use read::{allow_only, filter_from};
// The federation's screens check origins the same way (src/federation/api.rs).
pub(crate) use live::origin_allowed;

/// Query parameters as sent (validated by each handler so errors name the parameter).
pub type Query = std::collections::HashMap<String, String>;

fn with_app(app: App) -> impl Filter<Extract = (App,), Error = Infallible> + Clone {
    warp::any().map(move || app.clone())
}

fn query() -> impl Filter<Extract = (Query,), Error = Infallible> + Clone {
    warp::query::raw()
        .or(warp::any().map(String::new))
        .unify()
        .map(|raw: String| {
            let mut q = Query::new();
            for (k, v) in form_urlencoded_pairs(&raw) {
                q.insert(k, v);
            }
            q
        })
}

/// Splits `a=1&b=x%20y` into decoded pairs.
fn form_urlencoded_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every route of the daemon.
pub fn routes(app: App) -> impl Filter<Extract = (impl warp::Reply,), Error = Infallible> + Clone {
    let http = app.http.clone();
    let api = read::routes(app.clone())
        .or(cycle::routes(app.clone()))
        .unify()
        .or(plan::routes(app.clone()))
        .unify()
        .or(reports::routes(app.clone()))
        .unify()
        .or(write::routes(app.clone()))
        .unify()
        .or(live::routes(app.clone()))
        .unify()
        .or(static_files::routes(app.clone()))
        .unify();
    error::answer_in_language(app, api.recover(error::recover).unify()).with(warp::log::custom(
        move |info| {
            http.record(info.path(), info.status().as_u16());
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_query_pairs() {
        let p = form_urlencoded_pairs("a=1&b=x%20y&c=%zz&d=a+b&e");
        assert_eq!(p[1], ("b".into(), "x y".into()));
        assert_eq!(p[2], ("c".into(), "%zz".into()));
        assert_eq!(p[3], ("d".into(), "a b".into()));
        assert_eq!(p[4], ("e".into(), "".into()));
        assert_eq!(percent_decode("%4"), "%4");
    }
}
