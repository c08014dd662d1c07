//! The dashboard pages: embedded from `dashboards/` at build time, or read from a folder given
//! with `--dashboards DIR` so a city can change them without a rebuild. Paths that leave the
//! dashboards folder are refused.

use super::ApiError;
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
    let page = |name: &'static str, app: App| warp::get().map(move || serve(&app, name));
    let index = warp::path::end().and(page("index.html", app.clone()));
    let wall = warp::path!("wall").and(page("wall.html", app2));
    let quick = warp::path!("quick-wins").and(page("quick-wins.html", app3));
    let department = warp::path!("department" / String)
        .and(warp::get())
        .map(move |_id: String| serve(&app4, "department.html"));
    let assets = warp::path("assets")
        .and(warp::get())
        .and(warp::path::tail())
        .map(
            move |tail: warp::path::Tail| match safe_path(tail.as_str()) {
                Some(p) => serve(&app, &p),
                None => ApiError::NotFound("no such file in the dashboards".into()).into_response(),
            },
        );
    index
        .or(wall)
        .unify()
        .or(quick)
        .unify()
        .or(department)
        .unify()
        .or(assets)
        .unify()
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

fn serve(app: &App, path: &str) -> Response {
    let body: Option<Vec<u8>> = match &app.options.dashboards_dir {
        Some(dir) => std::fs::read(dir.join(path)).ok(),
        None => Embedded::get(path).map(|f| f.data.into_owned()),
    };
    let Some(body) = body else {
        return ApiError::NotFound(format!("no dashboard file `{path}`")).into_response();
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
    r
}

#[cfg(test)]
mod tests {
    use super::*;

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
