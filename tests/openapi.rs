//! `docs/openapi.yaml` stays true to the server: every documented operation exists and answers a
//! valid request with its documented success status; every route in the source (`warp::path!`
//! in src/api and src/live) answers on exactly the methods the spec lists; and live answers,
//! successes and errors alike, validate against their documented schemas (a small JSON Schema
//! checker below covers what the spec uses).

mod common;

use common::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn spec() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.yaml"))
        .expect("docs/openapi.yaml");
    serde_norway::from_str(&text).expect("docs/openapi.yaml is valid YAML")
}

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// `/api/v1/indicators/{id}/series` -> `/api/v1/indicators/{}/series`.
fn template(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// The routes written in the source: `warp::path!(...)` macros, `warp::path::end()` (the index)
/// and `warp::path("assets")` with a tail.
fn routes_in_source() -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src/api", "src/live"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let mut rest = text.as_str();
        while let Some(i) = rest.find("warp::path!(") {
            rest = &rest[i + "warp::path!(".len()..];
            let end = rest.find(')').unwrap();
            let segments: Vec<String> = rest[..end]
                .split('/')
                .map(|s| {
                    let s = s.trim();
                    if let Some(lit) = s.strip_prefix('"') {
                        lit.trim_end_matches('"').to_string()
                    } else {
                        "{}".to_string()
                    }
                })
                .collect();
            found.insert(format!("/{}", segments.join("/")));
        }
        if text.contains("warp::path::end()") {
            found.insert("/".into());
        }
        let mut rest = text.as_str();
        while let Some(i) = rest.find("warp::path(\"") {
            rest = &rest[i + "warp::path(\"".len()..];
            let name = &rest[..rest.find('"').unwrap()];
            if text.contains("warp::path::tail()") {
                found.insert(format!("/{name}/{{}}"));
            }
        }
    }
    found
}

/// The documented operations: template -> (concrete path, methods).
fn documented(spec: &Value) -> BTreeMap<String, (String, Vec<String>)> {
    let mut out = BTreeMap::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        // The federation daemon's routes are checked against a federation below.
        if is_federation(item) {
            continue;
        }
        let methods: Vec<String> = METHODS
            .iter()
            .filter(|m| item.get(**m).is_some())
            .map(|m| m.to_string())
            .collect();
        out.insert(template(path), (concrete(spec, path, item), methods));
    }
    out
}

/// A path served by the federation daemon (tagged `federation`), not by a city's.
fn is_federation(item: &Value) -> bool {
    METHODS.iter().filter_map(|m| item.get(*m)).any(|op| {
        op["tags"]
            .as_array()
            .is_some_and(|t| t.iter().any(|x| x == "federation"))
    })
}

/// The path with each parameter replaced by its documented example.
fn concrete(spec: &Value, path: &str, item: &Value) -> String {
    let mut p = path.to_string();
    for op in METHODS.iter().filter_map(|m| item.get(*m)) {
        for param in op["parameters"].as_array().into_iter().flatten() {
            let param = resolve(spec, param);
            if param["in"] == "path" {
                let example = param["schema"]["example"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{path}: path parameter without an example"));
                p = p.replace(&format!("{{{}}}", param["name"].as_str().unwrap()), example);
            }
        }
    }
    p
}

fn resolve<'a>(spec: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let mut node = spec;
            for part in r.trim_start_matches("#/").split('/') {
                node = &node[part];
            }
            assert!(!node.is_null(), "dangling $ref {r}");
            resolve(spec, node)
        }
        None => v,
    }
}

/// The documented response of `status` for `method path`: its JSON schema, if it has one.
fn response_schema<'a>(
    spec: &'a Value,
    path: &str,
    method: &str,
    status: u16,
) -> Result<Option<&'a Value>, String> {
    let op = &spec["paths"][path][method];
    let responses = op["responses"]
        .as_object()
        .ok_or(format!("{method} {path} is not documented"))?;
    let Some(r) = responses.get(&status.to_string()) else {
        return Err(format!(
            "{} {path} answered {status}, which is not documented (documented: {:?})",
            method.to_uppercase(),
            responses.keys().collect::<Vec<_>>()
        ));
    };
    let r = resolve(spec, r);
    Ok(r["content"]["application/json"].get("schema"))
}

// ---------------------------------------------------------------------------------------------
// A small JSON Schema checker: the subset docs/openapi.yaml uses (OpenAPI 3.0 flavour).

fn validate(spec: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = resolve(spec, schema);
    if v.is_null() && schema["nullable"] == true {
        return;
    }
    if let Some(all) = schema["allOf"].as_array() {
        for s in all {
            validate(spec, s, v, at, errors);
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema[key].as_array() {
            let passing = options
                .iter()
                .filter(|s| {
                    let mut e = Vec::new();
                    validate(spec, s, v, at, &mut e);
                    e.is_empty()
                })
                .count();
            let ok = if key == "oneOf" {
                passing == 1
            } else {
                passing >= 1
            };
            if !ok {
                errors.push(format!("{at}: {passing} of the {key} options match {v}"));
            }
        }
    }
    if let Some(options) = schema["enum"].as_array() {
        if !options.contains(v) {
            errors.push(format!("{at}: {v} is not one of {options:?}"));
        }
    }
    let Some(ty) = schema["type"].as_str() else {
        return;
    };
    let type_ok = match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64(),
        "boolean" => v.is_boolean(),
        other => panic!("{at}: the checker does not know type `{other}`"),
    };
    if !type_ok {
        errors.push(format!("{at}: expected {ty}, found {v}"));
        return;
    }
    match v {
        Value::Object(map) => {
            let props = schema["properties"].as_object();
            for r in schema["required"].as_array().into_iter().flatten() {
                let r = r.as_str().unwrap();
                if !map.contains_key(r) {
                    errors.push(format!("{at}: required `{r}` is missing"));
                }
            }
            for (k, x) in map {
                match props.and_then(|p| p.get(k)) {
                    Some(s) => validate(spec, s, x, &format!("{at}.{k}"), errors),
                    None => match &schema["additionalProperties"] {
                        Value::Bool(false) => {
                            errors.push(format!("{at}: `{k}` is not documented"));
                        }
                        s @ Value::Object(_) => validate(spec, s, x, &format!("{at}.{k}"), errors),
                        _ => {}
                    },
                }
            }
        }
        Value::Array(items) => {
            if let Some(n) = schema["minItems"].as_u64() {
                if (items.len() as u64) < n {
                    errors.push(format!("{at}: fewer than {n} items"));
                }
            }
            if let Some(n) = schema["maxItems"].as_u64() {
                if items.len() as u64 > n {
                    errors.push(format!("{at}: more than {n} items"));
                }
            }
            for (i, x) in items.iter().enumerate() {
                validate(spec, &schema["items"], x, &format!("{at}[{i}]"), errors);
            }
        }
        Value::String(s) => {
            let format_ok = match schema["format"].as_str() {
                Some("date") => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok(),
                Some("date-time") => chrono::DateTime::parse_from_rfc3339(s).is_ok(),
                _ => true,
            };
            if !format_ok {
                errors.push(format!("{at}: `{s}` is not a {}", schema["format"]));
            }
            let n = s.chars().count() as u64;
            if schema["minLength"].as_u64().is_some_and(|m| n < m)
                || schema["maxLength"].as_u64().is_some_and(|m| n > m)
            {
                errors.push(format!("{at}: length {n} is out of bounds"));
            }
        }
        Value::Number(n) => {
            let x = n.as_f64().unwrap();
            if schema["minimum"].as_f64().is_some_and(|m| x < m)
                || schema["maximum"].as_f64().is_some_and(|m| x > m)
            {
                errors.push(format!("{at}: {x} is out of bounds"));
            }
        }
        _ => {}
    }
}

fn check_schema(spec: &Value, path: &str, method: &str, status: u16, body: &Value) {
    let schema = response_schema(spec, path, method, status).unwrap_or_else(|e| panic!("{e}"));
    let Some(schema) = schema else {
        panic!("{method} {path} {status} answered JSON but documents no JSON schema: {body}");
    };
    let mut errors = Vec::new();
    validate(spec, schema, body, "body", &mut errors);
    assert!(
        errors.is_empty(),
        "{} {path} {status} does not match docs/openapi.yaml:\n  {}\nbody: {body}",
        method.to_uppercase(),
        errors.join("\n  ")
    );
}

#[test]
fn the_checker_catches_what_it_should() {
    let spec = spec();
    let schema = json!({"$ref": "#/components/schemas/Error"});
    let mut e = Vec::new();
    validate(
        &spec,
        &schema,
        &json!({"error": {"code": "not_found", "message": "x"}}),
        "b",
        &mut e,
    );
    assert!(e.is_empty(), "{e:?}");
    for bad in [
        json!({"error": {"code": "nope", "message": "x"}}),
        json!({"error": {"message": "x"}}),
        json!({"error": {"code": "not_found", "message": "x", "extra": 1}}),
        json!({"error": {"code": "not_found", "message": 5}}),
        json!({"error": {"code": "not_found", "message": "x", "rows": [{"row": 1}]}}),
        json!([]),
    ] {
        let mut e = Vec::new();
        validate(&spec, &schema, &bad, "b", &mut e);
        assert!(!e.is_empty(), "{bad} should not validate");
    }
    let mut e = Vec::new();
    let forecast = json!({"$ref": "#/components/schemas/Forecast"});
    validate(
        &spec,
        &forecast,
        &json!({"projected_value": 1.0, "reach_date": "2026-13-01"}),
        "f",
        &mut e,
    );
    assert!(!e.is_empty(), "a bad date must not validate");
}

// ---------------------------------------------------------------------------------------------

/// A dashboards folder with every page, so that a 404 below means "no route", not "no file".
fn dashboards(dir: &Path) -> std::path::PathBuf {
    let d = dir.join("dashboards");
    std::fs::create_dir_all(&d).unwrap();
    for page in [
        "index.html",
        "wall.html",
        "quick-wins.html",
        "department.html",
        "laporan.html",
    ] {
        std::fs::write(d.join(page), "<!doctype html><title>pantau</title>").unwrap();
    }
    std::fs::write(
        d.join("favicon.svg"),
        "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
    )
    .unwrap();
    d
}

async fn start() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let d = dashboards(dir.path());
    let config = write_config(dir.path(), &example_masterplan(), "");
    start_in(
        dir,
        config,
        pantau::app::RunOptions {
            dashboards_dir: Some(d),
            heartbeat: None,
            lock: None,
        },
    )
    .await
}

/// A request that should succeed on each documented operation.
fn valid_body(path: &str) -> Option<Value> {
    match path {
        "/api/v1/observations" => Some(json!({"observations": [
            {"indicator": "living.health.stunting", "time": jakarta_date(3), "value": 7.5, "note": "posyandu"}
        ]})),
        "/api/v1/indicators/{id}/notes" => {
            Some(json!({"kendala": "data terlambat", "rencana_tindak_lanjut": "rapat koordinasi"}))
        }
        _ => None,
    }
}

async fn send(
    app: &TestApp,
    method: &str,
    url: &str,
    body: Option<&Value>,
) -> (u16, String, Value) {
    let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let mut req = app.client.request(m, app.url(url)).bearer_auth(ADMIN);
    if let Some(b) = body {
        req = req.json(b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = r.text().await.unwrap();
    (
        status,
        ct,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Every documented operation exists and answers a valid request with its documented success
/// status and schema; every route in the source is documented with exactly the methods it
/// answers on.
#[tokio::test]
async fn the_spec_and_the_server_list_the_same_routes() {
    let spec = spec();
    let app = start().await;
    let docs = documented(&spec);
    let source = routes_in_source();
    assert!(
        source.len() >= 15,
        "found only {} routes in src/api and src/live: {source:?}",
        source.len()
    );
    let documented_templates: BTreeSet<String> = docs.keys().cloned().collect();
    assert_eq!(
        source, documented_templates,
        "routes in the source (left) and paths in docs/openapi.yaml (right) differ"
    );

    // (a) each documented operation answers a valid request with its first documented 2xx/101.
    let raw_paths: BTreeMap<String, String> = spec["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(|p| (template(p), p.clone()))
        .collect();
    let mut probed = 0;
    for (t, (url, methods)) in &docs {
        let path = &raw_paths[t];
        for method in methods {
            let expected: u16 = spec["paths"][path][method]["responses"]
                .as_object()
                .unwrap()
                .keys()
                .filter_map(|k| k.parse().ok())
                .find(|s: &u16| (100..300).contains(s))
                .unwrap_or_else(|| panic!("{method} {path} documents no success"));
            if expected == 101 {
                let mut ws = connect(&app.ws_url("?dimension=living")).await;
                let first = next_json(&mut ws, 5).await;
                assert_eq!(first["type"], "snapshot");
                check_schema(&spec, "/api/v1/progress", "get", 200, &first["progress"]);
                probed += 1;
                continue;
            }
            let body = valid_body(path);
            let (status, ct, answer) = send(&app, method, url, body.as_ref()).await;
            assert_eq!(
                status,
                expected,
                "{} {url}: {answer}",
                method.to_uppercase()
            );
            if ct.starts_with("application/json") {
                check_schema(&spec, path, method, status, &answer);
            } else {
                let documented = &spec["paths"][path][method]["responses"][expected.to_string()];
                let documented = resolve(&spec, documented);
                let types: Vec<&String> =
                    documented["content"].as_object().unwrap().keys().collect();
                let essence = ct.split(';').next().unwrap().trim();
                assert!(
                    types.iter().any(|t| *t == essence || *t == "*/*"),
                    "{url} answered {ct}, documented {types:?}"
                );
            }
            probed += 1;
        }
    }

    // (b) each source route, on every method: the ones that answer are exactly the documented.
    for (t, (url, methods)) in &docs {
        for method in METHODS {
            let (status, _, answer) =
                send(&app, method, url, valid_body(&raw_paths[t]).as_ref()).await;
            let no_route = status == 405
                || (status == 404
                    && answer["error"]["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("no such path")));
            let listed = methods.iter().any(|m| m == method);
            assert_eq!(
                !no_route,
                listed,
                "{} {url} answered {status} ({answer}) but docs/openapi.yaml {} it",
                method.to_uppercase(),
                if listed { "lists" } else { "does not list" }
            );
        }
    }
    // The probe tells a missing route apart: these are not routes.
    for url in [
        "/api/v1/nothing",
        "/api/v1/indicators",
        "/api",
        "/healthz/x",
        "/metrics/x",
        "/department",
    ] {
        let (status, _, answer) = send(&app, "get", url, None).await;
        assert!(
            status == 405
                || (status == 404
                    && answer["error"]["message"]
                        .as_str()
                        .unwrap()
                        .starts_with("no such path")),
            "{url} answered {status}: {answer}"
        );
    }
    println!(
        "{} routes in the source, {} documented operations answered as documented",
        source.len(),
        probed
    );
    app.stop().await;
}

/// Live answers, after real posts, corrections and notes, validate against the spec; so do the
/// error answers of each kind.
#[tokio::test]
async fn live_answers_match_their_schemas() {
    let spec = spec();
    let app = start().await;
    let dinkes = app.token("dinkes");
    let ind = "living.health.stunting";
    let post = |token: Option<String>, body: Value| {
        let app = &app;
        async move {
            app.post_json("/api/v1/observations", token.as_deref(), &body)
                .await
        }
    };
    let rows = json!({"observations": [
        {"indicator": ind, "time": jakarta_date(40), "value": 9.0},
        {"indicator": ind, "time": jakarta_date(20), "value": 8.5, "note": "posyandu"},
        {"indicator": ind, "time": jakarta_date(2), "value": "7,9,1"},
    ]});
    let (s, b) = post(Some(dinkes.clone()), rows).await;
    check_schema(&spec, "/api/v1/observations", "post", s, &b);
    assert_eq!(s, 422, "a string that is not a number is refused: {b}");
    let rows = json!({"observations": [
        {"indicator": ind, "time": jakarta_date(40), "value": 9.0},
        {"indicator": ind, "time": jakarta_date(20), "value": 8.5, "note": "posyandu"},
        {"indicator": ind, "time": jakarta_date(2), "value": "7.9"},
    ]});
    let (s, b) = post(Some(dinkes.clone()), rows).await;
    assert_eq!(s, 200, "{b}");
    check_schema(&spec, "/api/v1/observations", "post", s, &b);
    let (s, b) = post(
        Some(dinkes.clone()),
        json!({"observations": [{"indicator": ind, "time": jakarta_date(2), "value": 7.7}]}),
    )
    .await;
    assert_eq!(b["corrected"], 1);
    check_schema(&spec, "/api/v1/observations", "post", s, &b);
    let (s, b) = app
        .post_json(
            &format!("/api/v1/indicators/{ind}/notes"),
            Some(&dinkes),
            &json!({"kendala": "data terlambat", "rencana_tindak_lanjut": "rapat"}),
        )
        .await;
    assert_eq!(s, 201);
    check_schema(&spec, "/api/v1/indicators/{id}/notes", "post", s, &b);
    let mut screen = connect(&app.ws_url("?screen=wall-1&department=dinkes")).await;
    let first = next_json(&mut screen, 5).await;
    check_schema(&spec, "/api/v1/progress", "get", 200, &first["progress"]);

    let gets = [
        ("/healthz", "/healthz"),
        ("/api/v1/masterplan", "/api/v1/masterplan"),
        ("/api/v1/progress", "/api/v1/progress"),
        (
            "/api/v1/progress",
            "/api/v1/progress?dimension=living&quick_win=true",
        ),
        ("/api/v1/progress", "/api/v1/progress?department=dinkes"),
        (
            "/api/v1/indicators/{id}",
            "/api/v1/indicators/living.health.stunting",
        ),
        (
            "/api/v1/indicators/{id}",
            "/api/v1/indicators/gov.wifi.points",
        ),
        (
            "/api/v1/indicators/{id}/series",
            "/api/v1/indicators/living.health.stunting/series",
        ),
        (
            "/api/v1/indicators/{id}/series",
            "/api/v1/indicators/living.health.stunting/series?from=2024-01-01&to=2030-01-01T00:00:00Z&limit=2",
        ),
        (
            "/api/v1/indicators/{id}/revisions",
            "/api/v1/indicators/living.health.stunting/revisions",
        ),
        (
            "/api/v1/departments/{id}/revisions",
            "/api/v1/departments/dinkes/revisions",
        ),
        (
            "/api/v1/departments/{id}/revisions",
            "/api/v1/departments/dinkes/revisions?limit=1",
        ),
        ("/api/v1/feeds", "/api/v1/feeds"),
        ("/api/v1/screens", "/api/v1/screens"),
    ];
    for (path, url) in gets {
        let (s, b) = app.get(url).await;
        assert_eq!(s, 200, "{url}: {b}");
        check_schema(&spec, path, "get", s, &b);
    }
    let (_, revisions) = app
        .get("/api/v1/indicators/living.health.stunting/revisions")
        .await;
    assert_eq!(revisions["revisions"].as_array().unwrap().len(), 1);
    let (_, revisions) = app.get("/api/v1/departments/dinkes/revisions").await;
    assert_eq!(revisions["revisions"][0]["indicator"], ind, "{revisions}");
    let (_, screens) = app.get("/api/v1/screens").await;
    assert_eq!(
        screens["connected"].as_array().unwrap().len(),
        1,
        "{screens}"
    );
    let (_, detail) = app.get("/api/v1/indicators/living.health.stunting").await;
    assert!(!detail["progress"]["note"].is_null(), "{detail}");

    // Errors: each kind validates as the documented Error body of its operation.
    // (documented path, method, expected status, url, posted with the dinkes token?, body)
    type Case<'a> = (&'a str, &'a str, u16, String, Option<&'a str>, Value);
    let errors: Vec<Case> = vec![
        (
            "/api/v1/indicators/{id}",
            "get",
            404,
            "/api/v1/indicators/no.such".into(),
            None,
            Value::Null,
        ),
        (
            "/api/v1/progress",
            "get",
            400,
            "/api/v1/progress?dimension=mars".into(),
            None,
            Value::Null,
        ),
        (
            "/api/v1/indicators/{id}/series",
            "get",
            400,
            format!("/api/v1/indicators/{ind}/series?limit=0"),
            None,
            Value::Null,
        ),
        (
            "/api/v1/indicators/{id}/series",
            "get",
            400,
            format!("/api/v1/indicators/{ind}/series?from=2025-02-30"),
            None,
            Value::Null,
        ),
        (
            "/api/v1/masterplan",
            "get",
            400,
            "/api/v1/masterplan?x=1".into(),
            None,
            Value::Null,
        ),
        (
            "/api/v1/observations",
            "post",
            401,
            "/api/v1/observations".into(),
            None,
            json!({"observations": []}),
        ),
        (
            "/api/v1/observations",
            "post",
            400,
            "/api/v1/observations".into(),
            Some("dinkes"),
            json!({"rows": []}),
        ),
        (
            "/api/v1/observations",
            "post",
            403,
            "/api/v1/observations".into(),
            Some("dinkes"),
            json!({"observations": [{"indicator": "gov.wifi.points", "time": jakarta_date(1), "value": 1}]}),
        ),
        (
            "/api/v1/observations",
            "post",
            422,
            "/api/v1/observations".into(),
            Some("dinkes"),
            json!({"observations": [{"indicator": ind, "time": "2019-01-01", "value": 1e300}]}),
        ),
        (
            "/api/v1/indicators/{id}/notes",
            "post",
            404,
            "/api/v1/indicators/no.such/notes".into(),
            Some("dinkes"),
            json!({"kendala": "a", "rencana_tindak_lanjut": "b"}),
        ),
        (
            "/api/v1/indicators/{id}/notes",
            "post",
            422,
            format!("/api/v1/indicators/{ind}/notes"),
            Some("dinkes"),
            json!({"kendala": " ", "rencana_tindak_lanjut": "b"}),
        ),
        (
            "/api/v1/admin/reload",
            "post",
            403,
            "/api/v1/admin/reload".into(),
            Some("dinkes"),
            Value::Null,
        ),
    ];
    for (path, method, expected, url, who, body) in errors {
        let token = who.map(|_| dinkes.clone());
        let (s, b) = if method == "get" {
            app.get(&url).await
        } else {
            app.post_json(&url, token.as_deref(), &body).await
        };
        assert_eq!(s, expected, "{method} {url}: {b}");
        check_schema(&spec, path, method, s, &b);
        if s == 400 && method == "get" {
            assert!(b["error"]["parameter"].is_string(), "{b}");
        }
        if s == 422 && path == "/api/v1/observations" {
            assert!(b["error"]["rows"].as_array().unwrap().len() >= 2, "{b}");
        }
    }
    let (s, b) = app
        .post_bytes(
            "/api/v1/observations",
            Some(&dinkes),
            "text/xml",
            b"<x/>".to_vec(),
        )
        .await;
    assert_eq!(s, 415);
    check_schema(&spec, "/api/v1/observations", "post", s, &b);
    let r = app
        .client
        .get(app.url("/api/v1/live"))
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    let b: Value = r.json().await.unwrap();
    assert_eq!(s, 400, "a plain GET of the websocket endpoint: {b}");
    check_schema(&spec, "/api/v1/live", "get", s, &b);
    let r = app
        .client
        .get(app.ws_url("?screen=nope").replace("ws://", "http://"))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    let b: Value = r.json().await.unwrap();
    assert_eq!(s, 403, "{b}");
    check_schema(&spec, "/api/v1/live", "get", s, &b);
    app.stop().await;
}

/// Errors answer in the language the request asks for (q-values honoured), else the city's
/// (`id` here): the same status, `code` and machine fields, the message translated.
#[tokio::test]
async fn errors_answer_in_the_language_asked_for() {
    let app = spawn_app().await;
    let plain = reqwest::Client::new();
    let ask = |lang: Option<&'static str>, path: &'static str| {
        let mut req = plain.get(app.url(path));
        if let Some(l) = lang {
            req = req.header("accept-language", l);
        }
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let path = "/api/v1/progress?dimension=nowhere";
    let (s_id, id) = ask(None, path).await;
    let (s_en, en) = ask(Some("en-US,en;q=0.9,id;q=0.5"), path).await;
    let (_, id2) = ask(Some("en;q=0.3, id-ID"), path).await;
    assert_eq!((s_id, s_en), (400, 400));
    assert_eq!(id["error"]["code"], en["error"]["code"]);
    assert_eq!(id["error"]["parameter"], "dimension");
    assert_eq!(en["error"]["parameter"], "dimension");
    let (m_id, m_en) = (
        id["error"]["message"].as_str().unwrap(),
        en["error"]["message"].as_str().unwrap(),
    );
    assert!(m_id.contains("`nowhere` bukan dimensi"), "{m_id}");
    assert!(m_en.contains("`nowhere` is not a dimension"), "{m_en}");
    assert_eq!(id2, id, "q-values decide");
    let (s, nf) = ask(None, "/api/v1/indicators/nope").await;
    assert_eq!(s, 404);
    assert!(
        nf["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("tidak ada indikator `nope`")
    );
    // A refused note: the rows keep their machine fields, reason and fix are translated.
    let t = app.token("dinkes");
    for (lang, reason) in [("id", "kosong"), ("en", "is empty")] {
        let r = app
            .client
            .post(app.url("/api/v1/indicators/living.health.stunting/notes"))
            .bearer_auth(&t)
            .header("accept-language", lang)
            .json(&serde_json::json!({ "kendala": " ", "rencana_tindak_lanjut": "jadwal ulang" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 422);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "invalid_rows");
        assert_eq!(v["error"]["rows"][0]["field"], "kendala");
        assert_eq!(v["error"]["rows"][0]["reason"], reason, "{v}");
    }
    // A refused batch: 1 problem, said as people say it.
    let r = reqwest::Client::new()
        .post(app.url("/api/v1/observations"))
        .bearer_auth(&t)
        .json(&serde_json::json!({ "observations": [{ "indicator": "living.health.stunting", "time": "2001-01-01", "value": 5 }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["error"]["message"],
        "1 masalah dalam kiriman; tidak ada yang disimpan"
    );
    assert!(
        v["error"]["rows"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("lebih awal dari tanggal baseline indikator"),
        "{v}"
    );
    // Every row problem from posts, uploads and imports has its words in both languages.
    for (lang, reason, fix) in [
        ("id", "`nope` bukan indikator di masterplan", "periksa id"),
        (
            "en",
            "`nope` is not an indicator of the masterplan",
            "check the id",
        ),
    ] {
        let r = reqwest::Client::new()
            .post(app.url("/api/v1/observations"))
            .bearer_auth(&t)
            .header("accept-language", lang)
            .json(&serde_json::json!({ "observations": [{ "indicator": "nope", "time": "2026-01-01", "value": 5 }, { "indicator": "living.health.stunting", "time": "kemarin", "value": "lima" }] }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 422);
        let v: Value = r.json().await.unwrap();
        let rows = v["error"]["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 3, "{v}");
        assert_eq!(rows[0]["field"], "indicator");
        assert_eq!(rows[0]["reason"], reason, "{v}");
        assert!(rows[0]["fix"].as_str().unwrap().starts_with(fix), "{v}");
        let time = rows.iter().find(|r| r["field"] == "time").unwrap();
        let value = rows.iter().find(|r| r["field"] == "value").unwrap();
        if lang == "id" {
            assert_eq!(time["reason"], "`kemarin` bukan tanggal atau waktu", "{v}");
            assert_eq!(value["reason"], "`lima` bukan angka", "{v}");
        } else {
            assert_eq!(
                time["reason"], "`kemarin` is not a date or time pantau can read",
                "{v}"
            );
        }
    }
    // The token's label and the note in the revision history.
    for value in [7.9, 7.7] {
        let (s, _) = app
            .post_json(
                "/api/v1/observations",
                Some(&t),
                &serde_json::json!({ "observations": [{ "indicator": "living.health.stunting", "time": jakarta_date(2), "value": value, "note": "data puskesmas" }] }),
            )
            .await;
        assert_eq!(s, 200);
    }
    let (_, rev) = app
        .get("/api/v1/indicators/living.health.stunting/revisions")
        .await;
    assert_eq!(rev["revisions"][0]["token_label"], "test", "{rev}");
    assert_eq!(rev["revisions"][0]["note"], "data puskesmas", "{rev}");
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The federation daemon (src/federation): its documented operations over a real city.

#[tokio::test]
async fn federation_answers_match_their_schemas() {
    let spec = spec();
    let city = start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pantau.toml"),
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\ndatabase = \"{}\"\n",
            dir.path().join("federation.db").display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("federation.toml"),
        format!(
            "[federation]\nbackoff_max = \"1s\"\n[[city]]\nid = \"uji\"\nname = \"Kota Uji\"\nkind = \"kota\"\nprovince = \"Jawa Timur\"\nurl = \"{}\"\n[[city]]\nid = \"mati\"\nname = \"Kota Mati\"\nkind = \"kabupaten\"\nprovince = \"Jawa Timur\"\nurl = \"http://127.0.0.1:9\"\n",
            city.base
        ),
    )
    .unwrap();
    let config = pantau::federation::load(&dir.path().join("federation.toml")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let fed = tokio::spawn(pantau::federation::run(
        config,
        listener,
        pantau::federation::FederationOptions::default(),
        async move {
            let _ = rx.await;
        },
    ));
    let client = english_client();
    let get = |path: String| {
        let client = client.clone();
        async move {
            let r = client.get(path).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    // Wait for the live city's data.
    let mut progress = Value::Null;
    for _ in 0..100 {
        let (_, p) = get(format!("{base}/api/v1/federation/progress")).await;
        if p["cities"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["has_data"] == true))
        {
            progress = p;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        !progress.is_null(),
        "the federation never got the city's data"
    );
    check_schema(&spec, "/api/v1/federation/progress", "get", 200, &progress);
    let (s, cities) = get(format!("{base}/api/v1/cities")).await;
    check_schema(&spec, "/api/v1/cities", "get", s, &cities);
    let mut history = Value::Null;
    for _ in 0..50 {
        let (s, h) = get(format!("{base}/api/v1/federation/history?city=uji&days=7")).await;
        check_schema(&spec, "/api/v1/federation/history", "get", s, &h);
        if h["days"].as_array().is_some_and(|d| !d.is_empty()) {
            history = h;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        history["days"][0]["city"], "uji",
        "the city's day is stored: {history}"
    );
    assert_eq!(history["days"][0]["masterplan_status"], "no_data");
    let (s, e) = get(format!("{base}/api/v1/federation/history?days=0")).await;
    assert_eq!(s, 400);
    check_schema(&spec, "/api/v1/federation/history", "get", s, &e);
    let (s, e) = get(format!("{base}/api/v1/federation/history?city=nowhere")).await;
    assert_eq!(s, 404);
    check_schema(&spec, "/api/v1/federation/history", "get", s, &e);
    let (s, e) = get(format!("{base}/api/v1/cities?x=1")).await;
    assert_eq!(s, 400);
    check_schema(&spec, "/api/v1/cities", "get", s, &e);
    // The live snapshot carries the same document.
    let mut ws = connect(&format!("ws{}/api/v1/live", &base[4..])).await;
    let snap = next_json(&mut ws, 5).await;
    assert_eq!(snap["type"], "snapshot");
    check_schema(
        &spec,
        "/api/v1/federation/progress",
        "get",
        200,
        &snap["federation"],
    );
    let _ = tx.send(());
    fed.await.unwrap().unwrap();
    city.stop().await;
}
