//! pantau against outsiders who try to stall it without a token: floods of idle HTTP/2 and
//! HTTP/1 connections, websockets past every limit under a small open-file limit, bodies left
//! unread after an early refusal, DNS-rebinding origins, and pages without a security policy.
//!
//! The floods run against the real binary as a child process, so that open-file limits are
//! real; each asserts what a normal client notices: it is still answered, and posts still land.

mod common;

use common::*;
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PLAN: &str = common::VISITS_PLAN;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// ---------------------------------------------------------------------------------------------
// Helpers

/// Raises this test process's own open-file limit to its hard limit and returns it (and sets up
/// the HTTP client's crypto, as the tests with a daemon child need it).
fn raise_own_file_limit() -> u64 {
    let _ = rustls::crypto::ring::default_provider().install_default();
    rlimit::increase_nofile_limit(u64::MAX).expect("read the open-file limit")
}

/// The daemon's log without colour codes.
fn plain_log(daemon: &Daemon) -> String {
    let log = daemon.log();
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The connection limits the daemon logs at start (`max_connections`, `max_screens`), waiting a
/// moment for the line; None when it never comes.
async fn logged_limits(daemon: &Daemon) -> Option<(usize, usize)> {
    for _ in 0..100 {
        if let (Some(c), Some(s)) = (
            logged_number(daemon, "max_connections"),
            logged_number(daemon, "max_screens"),
        ) {
            return Some((c, s));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// The number after `name=` in the daemon's log, if any.
fn logged_number(daemon: &Daemon, name: &str) -> Option<usize> {
    let log = plain_log(daemon);
    let rest = log.split(&format!("{name}=")).nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

fn row(seconds: i64, value: f64) -> Value {
    let time = chrono::DateTime::from_timestamp(1_609_459_200 + seconds, 0)
        .unwrap()
        .to_rfc3339();
    json!({"observations": [{"indicator": "living.health.visits", "time": time, "value": value}]})
}

/// Reads until the peer closes (or `wait` passes): Some(bytes read) when it closed.
async fn read_until_closed(s: &mut TcpStream, wait: Duration) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(wait, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()
    .map(|()| out)
}

/// Reads one answer's head and its `Content-Length` body from a kept-alive connection.
async fn read_answer(s: &mut TcpStream) -> (u16, String, String) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(n > 0, "closed before an answer");
        data.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0);
    while data.len() < head_end + length {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed inside the body");
        data.extend_from_slice(&buf[..n]);
    }
    let status = head[9..12].parse().unwrap();
    let body = String::from_utf8_lossy(&data[head_end..head_end + length]).into_owned();
    (status, head, body)
}

/// A websocket handshake for `/api/v1/live` with the given `Host` and `Origin`; the status.
async fn handshake(addr: &str, host: &str, origin: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let origin = origin
        .map(|o| format!("Origin: {o}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "GET /api/v1/live HTTP/1.1\r\nHost: {host}\r\n{origin}Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    while !data.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap();
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
    }
    // An error answer carries a body after the head; take what came with it.
    let _ = tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf))
        .await
        .map(|r| r.map(|n| data.extend_from_slice(&buf[..n])));
    let text = String::from_utf8_lossy(&data).into_owned();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, text)
}

// ---------------------------------------------------------------------------------------------
// 1. Connections

/// More connections than the daemon's connection cap open with the HTTP/2 preface and go
/// quiet. pantau speaks HTTP/1.1 only, so each is closed at once (at the latest at the header
/// deadline) and a normal client beside them is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_http2_connections_are_closed_and_others_are_served() {
    let own = raise_own_file_limit();
    let (_dir, config) = config_dir(PLAN, "header_read_timeout = \"2s\"");
    // A daemon with 4,096 descriptors: its connection cap is below that, and the flood goes
    // past it.
    let daemon = Daemon::start_with_open_files(&config, 4096, &[("PANTAU_LOG", "info")]);
    let cap = logged_limits(&daemon).await.map_or(4096, |(c, _)| c);
    let flood = cap + 500;
    assert!(
        (flood as u64) + 200 < own,
        "this test needs {} open files and may have {own}; raise the hard limit (`ulimit -Hn`)",
        flood + 200
    );
    let addr = daemon.addr.clone();
    let (sent_tx, mut sent_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut idle = Vec::new();
    for _ in 0..flood {
        let addr = addr.clone();
        let sent = sent_tx.clone();
        idle.push(tokio::spawn(async move {
            let opened = Instant::now();
            let Ok(mut s) = TcpStream::connect(&addr).await else {
                let _ = sent.send(());
                return (Some(Vec::new()), opened.elapsed());
            };
            let _ = s.write_all(PREFACE).await;
            let _ = sent.send(());
            // A client would now send SETTINGS and wait; this one sends nothing more.
            let closed = read_until_closed(&mut s, Duration::from_secs(10)).await;
            (closed, opened.elapsed())
        }));
    }
    // Every idle connection is open and has sent its preface before the normal client comes.
    for _ in 0..flood {
        tokio::time::timeout(Duration::from_secs(30), sent_rx.recv())
            .await
            .expect("the idle connections open");
    }
    let client = reqwest::Client::new();
    for _ in 0..5 {
        let r = tokio::time::timeout(
            Duration::from_secs(10),
            client.get(format!("{}/healthz", daemon.base())).send(),
        )
        .await
        .expect("a normal client is answered beside the idle HTTP/2 connections")
        .expect("a normal client is answered beside the idle HTTP/2 connections");
        assert_eq!(r.status(), 200);
    }
    let mut slowest = Duration::ZERO;
    for h in idle {
        let (closed, lived) = h.await.unwrap();
        let answer = closed.unwrap_or_else(|| {
            panic!("an idle HTTP/2 connection was still open after {lived:?}, past the 2 s header deadline")
        });
        // Nothing that an HTTP/2 client would take for a server preface (a SETTINGS frame).
        assert!(
            answer.len() < 9 || answer[3] != 4,
            "the daemon spoke HTTP/2: {answer:?}"
        );
        slowest = slowest.max(lived);
    }
    println!(
        "{flood} idle HTTP/2 connections (cap {cap}) all closed, the last after {slowest:?}; open files here {own}"
    );
    assert!(
        !plain_log(&daemon).contains("accept failed"),
        "the daemon ran out of descriptors:\n{}",
        plain_log(&daemon)
    );
}

/// Under an open-file limit of 256, more websockets than `max_screens` and more idle
/// connections than `max_connections`: the extra websockets get 503 saying what to do, the
/// daemon never runs out of descriptors, and `/healthz` and a department's post are served
/// while all of them are open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websockets_and_idle_connections_past_the_limits_leave_room_for_health_and_posts() {
    let own = raise_own_file_limit();
    assert!(
        own > 1200,
        "this test needs 1,200 open files and may have {own}"
    );
    let (dir, config) = config_dir(PLAN, "header_read_timeout = \"30s\"");
    let token = department_token(&dir.path().join("pantau.db"), "dinkes");
    let daemon = Daemon::start_with_open_files(&config, 256, &[]);
    let (connections, screens) = logged_limits(&daemon).await.unwrap_or((4096, 2000));

    // Websockets, 20 past the cap, all at once: the first `screens` are served, then 503.
    let url = format!("ws://{}/api/v1/live", daemon.addr);
    let attempts: Vec<_> = (0..screens.min(600) + 20)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                tokio::time::timeout(
                    Duration::from_secs(5),
                    tokio_tungstenite::connect_async(url),
                )
                .await
            })
        })
        .collect();
    let mut sockets = Vec::new();
    let mut refused = Vec::new();
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(Ok((ws, _))) => sockets.push(ws),
            Ok(Err(tokio_tungstenite::tungstenite::Error::Http(r))) => refused.push((
                r.status().as_u16(),
                String::from_utf8_lossy(r.body().as_deref().unwrap_or(&[])).into_owned(),
            )),
            Ok(Err(e)) => refused.push((0, e.to_string())),
            Err(_) => refused.push((0, "no answer within 5 s".into())),
        }
    }

    // Idle connections, 50 past the cap, that never send a request.
    let opening: Vec<_> = (0..connections.min(600) + 50)
        .map(|_| {
            let addr = daemon.addr.clone();
            tokio::spawn(async move {
                tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr)).await
            })
        })
        .collect();
    let mut idle = Vec::new();
    for o in opening {
        if let Ok(Ok(s)) = o.await.unwrap() {
            idle.push(s);
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    let client = reqwest::Client::new();
    let health = tokio::time::timeout(
        Duration::from_secs(10),
        client.get(format!("{}/healthz", daemon.base())).send(),
    )
    .await
    .expect("/healthz is answered while every slot is taken")
    .expect("/healthz is answered while every slot is taken");
    assert_eq!(health.status(), 200);
    let post = tokio::time::timeout(
        Duration::from_secs(10),
        client
            .post(format!("{}/api/v1/observations", daemon.base()))
            .bearer_auth(&token)
            .json(&row(60, 7.0))
            .send(),
    )
    .await
    .expect("a post is answered while every slot is taken")
    .expect("a post is answered while every slot is taken");
    let status = post.status();
    assert_eq!(status, 200, "{}", post.text().await.unwrap());
    // The limits fit, and past them the screens were told what to do.
    let log = plain_log(&daemon);
    assert!(
        screens + connections < 256,
        "the limits must fit in 256 descriptors: {log}"
    );
    assert!(
        log.contains("open-file limit"),
        "the daemon says why it serves fewer: {log}"
    );
    assert_eq!(sockets.len(), screens, "screens served: {refused:?}");
    assert_eq!(refused.len(), 20);
    for (status, body) in &refused {
        assert_eq!(*status, 503, "{body}");
        assert!(
            body.contains("too_many_screens") && body.contains("max_screens"),
            "{body}"
        );
    }
    let first = sockets[0].next().await.unwrap().unwrap();
    assert!(first.to_text().unwrap().contains("snapshot"));
    // The screens that were let in still get the change.
    let delta = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let m = sockets[0].next().await.unwrap().unwrap();
            if m.to_text().unwrap_or("").contains("\"delta\"") {
                return m;
            }
        }
    })
    .await
    .expect("an open screen gets the delta");
    assert!(delta.to_text().unwrap().contains("living.health.visits"));
    let log = plain_log(&daemon);
    assert!(
        !log.contains("accept failed"),
        "the daemon ran out of descriptors:\n{log}"
    );
    // /metrics counts what happened: at least the 50 idle connections past the cap were closed
    // to make room, and never more are open than the cap.
    let text = metrics(&client, &daemon.base()).await;
    let made_room = metric(&text, "pantau_http_connections_made_room_total").unwrap();
    let open = metric(&text, "pantau_http_connections_open").unwrap();
    assert!(made_room >= 50.0, "{made_room} closed to make room");
    assert!(open <= connections as f64, "{open} open, cap {connections}");
    println!(
        "open-file limit 256: {screens} screens ({} refused), {connections} connections ({} idle opened); /healthz and a post served",
        refused.len(),
        idle.len()
    );
    drop(idle);
}

/// `[server] max_screens` caps websockets: past it the upgrade is answered 503 with a message
/// saying what to do, and a slot that frees up is used again.
#[tokio::test]
async fn screens_past_max_screens_get_503_until_one_leaves() {
    let app = spawn_app_with(PLAN, "max_screens = 3").await;
    let mut screens = Vec::new();
    for _ in 0..3 {
        let mut ws = connect(&app.ws_url("")).await;
        assert_eq!(next_json(&mut ws, 5).await["type"], "snapshot");
        screens.push(ws);
    }
    let refused = tokio_tungstenite::connect_async(app.ws_url("")).await;
    let Err(tokio_tungstenite::tungstenite::Error::Http(r)) = refused else {
        panic!("a fourth screen must be refused: {refused:?}");
    };
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "30");
    let body: Value = serde_json::from_slice(r.body().as_deref().unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "too_many_screens");
    // The city speaks Bahasa Indonesia and the client asked for no language.
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("3 layar langsung") && message.contains("max_screens"),
        "{message}"
    );
    // The refusal took no slot, and one screen leaving frees one.
    let mut leaving = screens.pop().unwrap();
    leaving.close(None).await.unwrap();
    while leaving.next().await.is_some() {}
    let mut back = None;
    for _ in 0..50 {
        if let Ok((ws, _)) = tokio_tungstenite::connect_async(app.ws_url("")).await {
            back = Some(ws);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut back = back.expect("the freed slot is given to the next screen");
    assert_eq!(next_json(&mut back, 5).await["type"], "snapshot");
    app.stop().await;
}

/// A 401 or 429 given before the body was read ends the connection with `Connection: close`:
/// the unread rest of the body is never read as a next request. An answer to a request whose
/// body was read keeps the connection open.
#[tokio::test]
async fn an_early_refusal_of_a_body_closes_the_connection() {
    let app = spawn_app_with(PLAN, "rate_limit_per_minute = 2").await;
    let addr = app.addr.to_string();
    let head = |auth: &str, length: usize| {
        format!(
            "POST /api/v1/observations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{auth}Content-Length: {length}\r\n\r\n"
        )
    };
    // A request whose body is read keeps the connection: two posts on one socket. (First, as
    // the address is locked out for guessing afterwards.)
    let body = row(1, 1.0).to_string();
    let mut s = TcpStream::connect(&addr).await.unwrap();
    for _ in 0..2 {
        let mut req = head(&format!("Authorization: Bearer {ADMIN}\r\n"), body.len()).into_bytes();
        req.extend_from_slice(body.as_bytes());
        s.write_all(&req).await.unwrap();
        let (status, head, text) = read_answer(&mut s).await;
        assert_eq!(status, 200, "{text}");
        assert!(!head.contains("connection: close"), "{head}");
    }

    // The body announced is 100,000 bytes; 1,000 are sent, and what follows would look like a
    // request of its own.
    let smuggled = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        let mut req = head("", 100_000).into_bytes();
        req.extend_from_slice(smuggled.as_bytes());
        req.extend_from_slice(&vec![b' '; 1000 - smuggled.len()]);
        s.write_all(&req).await.unwrap();
        let (status, head, body) = read_answer(&mut s).await;
        assert!(
            head.contains("\r\nconnection: close\r\n"),
            "a {status} before the body was read must close the connection: {head}{body}"
        );
        let rest = read_until_closed(&mut s, Duration::from_secs(5))
            .await
            .expect("the daemon closes the connection after the answer");
        assert!(
            !String::from_utf8_lossy(&rest).contains("HTTP/1.1 200"),
            "the unread body was served as a request"
        );
        statuses.push(status);
    }
    assert_eq!(statuses, [401, 401, 429, 429]);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 3. Origins and headers

/// DNS rebinding: a page on `evil.example` that resolves to the daemon sends its own name as
/// `Host` and `Origin`. The origin is compared with the daemon's public URL, the address the
/// connection arrived at and loopback, never with the `Host` header.
#[tokio::test]
async fn websocket_origins_are_checked_against_the_daemon_not_the_host_header() {
    // Out of the box: loopback and the daemon's own address only.
    let app = spawn_app_with(PLAN, "").await;
    let addr = app.addr.to_string();
    let port = app.addr.port();
    let evil = format!("evil.example:{port}");
    let (status, text) = handshake(&addr, &evil, Some(&format!("http://{evil}"))).await;
    assert_eq!(
        status, 403,
        "a forged Host/Origin pair must be refused: {text}"
    );
    assert!(text.contains("public_url"), "{text}");
    for allowed in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
    ] {
        // Whatever the Host says.
        let (status, text) = handshake(&addr, &evil, Some(&allowed)).await;
        assert_eq!(status, 101, "{allowed}: {text}");
    }
    // Clients that are not browsers send no Origin.
    let (status, text) = handshake(&addr, "x", None).await;
    assert_eq!(status, 101, "{text}");
    app.stop().await;

    // Behind the city's reverse proxy: its public URL, and the origins listed.
    let app = spawn_app_with(
        PLAN,
        "public_url = \"https://pantau.mojokertokota.go.id\"\nallowed_origins = [\"https://cc.mojokertokota.go.id\"]",
    )
    .await;
    let addr = app.addr.to_string();
    let port = app.addr.port();
    let host = "pantau.mojokertokota.go.id";
    for refused in [
        "http://pantau.mojokertokota.go.id".to_string(),
        "https://evil.example".to_string(),
        format!("http://localhost:{}", port + 1),
        "null".to_string(),
    ] {
        let (status, text) = handshake(&addr, host, Some(&refused)).await;
        assert_eq!(status, 403, "{refused}: {text}");
    }
    for allowed in [
        "https://pantau.mojokertokota.go.id",
        "https://cc.mojokertokota.go.id",
    ] {
        let (status, text) = handshake(&addr, host, Some(allowed)).await;
        assert_eq!(status, 101, "{allowed}: {text}");
    }
    app.stop().await;
}

/// Dashboard files carry a Content-Security-Policy (own scripts and styles only, connections to
/// this daemon only, framing by `frame_ancestors`), `Referrer-Policy` and `nosniff`; API
/// answers carry `nosniff` too.
#[tokio::test]
async fn dashboards_and_api_answers_carry_security_headers() {
    let framed = spawn_app_with(
        PLAN,
        "frame_ancestors = \"'self' https://cc.mojokertokota.go.id\"",
    )
    .await;
    let plain = spawn_app_with(PLAN, "").await;
    for (app, ancestors) in [
        (
            &framed,
            "frame-ancestors 'self' https://cc.mojokertokota.go.id",
        ),
        (&plain, "frame-ancestors 'self'"),
    ] {
        for path in [
            "/",
            "/wall",
            "/quick-wins",
            "/department/dinkes",
            "/assets/js/wall.js",
        ] {
            let r = app.client.get(app.url(path)).send().await.unwrap();
            assert_eq!(r.status(), 200, "{path}");
            let h = r.headers();
            let csp = h
                .get("content-security-policy")
                .unwrap_or_else(|| panic!("{path} has no Content-Security-Policy"))
                .to_str()
                .unwrap();
            for part in [
                "default-src 'self'",
                "script-src 'self';",
                "style-src 'self';",
                &format!("connect-src 'self' ws://{0} wss://{0};", app.addr),
                ancestors,
            ] {
                assert!(csp.contains(part), "{path}: `{part}` missing in {csp}");
            }
            assert!(!csp.contains("script-src 'self' 'unsafe"), "{csp}");
            assert_eq!(h["referrer-policy"], "same-origin", "{path}");
            assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        }
        for path in [
            "/api/v1/progress",
            "/healthz",
            "/api/v1/nothing-here",
            "/metrics",
        ] {
            let r = app.client.get(app.url(path)).send().await.unwrap();
            assert_eq!(
                r.headers()
                    .get("x-content-type-options")
                    .map(|v| v.to_str().unwrap()),
                Some("nosniff"),
                "{path}"
            );
        }
    }
    framed.stop().await;
    plain.stop().await;
}
