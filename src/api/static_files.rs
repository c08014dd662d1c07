//! The dashboard pages: embedded from `dashboards/` at build time, or read from a folder given
//! with `--dashboards DIR` so a city can change them without a rebuild. Paths that leave the
//! dashboards folder are refused.
//!
//! Every file goes out with a Content-Security-Policy that lets the pages run only their own
//! scripts and styles and talk only to this daemon (`content_security_policy`), may be framed
//! only by `[server] frame_ancestors`, and sends no referrer to other sites.

use super::ApiError;
use super::messages::Msg;
use crate::app::App;
use rust_embed::RustEmbed;
use warp::Filter;
use warp::reply::Response;

#[derive(RustEmbed)]
#[folder = "dashboards/"]
struct Embedded;

pub(super) fn routes(
    app: App,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let app2 = app.clone();
    let app3 = app.clone();
    let app4 = app.clone();
    let app5 = app.clone();
    let page = |name: &'static str, app: App| {
        warp::get()
            .and(host())
            .map(move |host: Option<String>| serve(&app, name, host.as_deref()))
    };
    let index = warp::path::end().and(page("index.html", app.clone()));
    let wall = warp::path!("wall").and(page("wall.html", app2));
    let quick = warp::path!("quick-wins").and(page("quick-wins.html", app3));
    let laporan = warp::path!("laporan").and(page("laporan.html", app5));
    let department = warp::path!("department" / String)
        .and(warp::get())
        .and(host())
        .map(move |_id: String, host: Option<String>| {
            serve(&app4, "department.html", host.as_deref())
        });
    let assets = warp::path("assets")
        .and(warp::get())
        .and(warp::path::tail())
        .and(host())
        .map(
            move |tail: warp::path::Tail, host: Option<String>| match safe_path(tail.as_str()) {
                Some(p) => serve(&app, &p, host.as_deref()),
                None => ApiError::not_found(Msg::NoDashboardFile).into_response(),
            },
        );
    index
        .or(wall)
        .unify()
        .or(quick)
        .unify()
        .or(laporan)
        .unify()
        .or(department)
        .unify()
        .or(assets)
        .unify()
}

/// The `Host` header as sent, if any.
fn host() -> impl Filter<Extract = (Option<String>,), Error = std::convert::Infallible> + Clone {
    warp::header::optional::<String>("host")
        .or(warp::any().map(|| None))
        .unify()
}

/// The policy every dashboard file carries. The pages load their scripts (modules), styles,
/// fonts and icons from this daemon only, run no inline script, and fetch and open websockets
/// to this daemon only. They do set `style` attributes (bar widths, positions computed from the
/// data), hence `style-src-attr 'unsafe-inline'`; `<style>` elements and inline scripts stay
/// refused. `'self'` covers websockets to the page's own host in current browsers; older ones
/// need them named, so the host the browser asked for is added when it is a plain host[:port]
/// (it only ever widens the policy to the page's own origin).
pub(super) fn content_security_policy(frame_ancestors: &str, host: Option<&str>) -> String {
    let mut connect = String::from("'self'");
    if let Some(host) = host.filter(|h| plain_authority(h)) {
        connect.push_str(&format!(" ws://{host} wss://{host}"));
    }
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src {connect}; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {frame_ancestors}"
    )
}

/// A `host` or `host:port` made only of the characters a host name or address may hold.
fn plain_authority(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

/// Kinds of file the dashboards are made of. Anything else in the folder (e.g. `screens.toml`,
/// which may hold screen tokens) is never served.
const SERVED_EXTENSIONS: &[&str] = &[
    "html", "css", "js", "mjs", "svg", "png", "ico", "woff", "woff2", "map",
];

/// A decoded relative path that stays inside the dashboards folder and names a page asset, or None.
fn safe_path(raw: &str) -> Option<String> {
    let decoded = super::percent_decode(raw);
    if decoded.is_empty() || decoded.contains('\\') || decoded.contains('\0') {
        return None;
    }
    let extension = decoded
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase());
    if !extension.is_some_and(|e| SERVED_EXTENSIONS.contains(&e.as_str())) {
        return None;
    }
    let ok = decoded
        .split('/')
        .all(|seg| !seg.is_empty() && seg != ".." && seg != "." && !seg.starts_with('.'));
    ok.then_some(decoded)
}

fn serve(app: &App, path: &str, host: Option<&str>) -> Response {
    let body: Option<Vec<u8>> = match &app.options.dashboards_dir {
        Some(dir) => std::fs::read(dir.join(path)).ok(),
        None => Embedded::get(path).map(|f| f.data.into_owned()),
    };
    let Some(body) = body else {
        return ApiError::not_found(Msg::NoDashboardFile).into_response();
    };
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let mut r = Response::new(body.into());
    if let Ok(v) = warp::http::HeaderValue::from_str(mime.essence_str()) {
        r.headers_mut().insert("content-type", v);
    }
    r.headers_mut().insert(
        "cache-control",
        warp::http::HeaderValue::from_static("no-cache"),
    );
    r.headers_mut().insert(
        "x-content-type-options",
        warp::http::HeaderValue::from_static("nosniff"),
    );
    r.headers_mut().insert(
        "referrer-policy",
        warp::http::HeaderValue::from_static("same-origin"),
    );
    let config = app.config();
    let policy = content_security_policy(&config.settings.server.frame_ancestors, host);
    if let Ok(v) = warp::http::HeaderValue::from_str(&policy) {
        r.headers_mut().insert("content-security-policy", v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_only_the_pages_own_host() {
        let p = content_security_policy("'self'", Some("pantau.mojokertokota.go.id"));
        assert!(
            p.starts_with("default-src 'self'; script-src 'self'; style-src 'self';"),
            "{p}"
        );
        assert!(p.contains("connect-src 'self' ws://pantau.mojokertokota.go.id wss://pantau.mojokertokota.go.id;"), "{p}");
        assert!(p.ends_with("frame-ancestors 'self'"), "{p}");
        assert!(!p.contains("script-src 'self' 'unsafe-inline'"), "{p}");
        let p = content_security_policy("'none'", Some("[::1]:8080"));
        assert!(p.contains("ws://[::1]:8080 "), "{p}");
        for odd in ["evil.example; script-src *", "a b", "", "x\u{7f}"] {
            let p = content_security_policy("'self'", Some(odd));
            assert!(p.contains("connect-src 'self';"), "{odd}: {p}");
        }
    }

    #[test]
    fn refuses_paths_outside() {
        assert_eq!(safe_path("js/app.js").as_deref(), Some("js/app.js"));
        assert_eq!(safe_path("../Cargo.toml"), None);
        assert_eq!(safe_path("%2e%2e/Cargo.toml"), None);
        assert_eq!(safe_path("a//b"), None);
        assert_eq!(safe_path(".git/config"), None);
        assert_eq!(safe_path("..%5cx"), None);
        assert_eq!(
            safe_path("screens.toml"),
            None,
            "screen tokens are never served"
        );
        assert_eq!(safe_path("vendor/uplot/LICENSE"), None);
        assert_eq!(
            safe_path("css/pantau.css").as_deref(),
            Some("css/pantau.css")
        );
    }
}
