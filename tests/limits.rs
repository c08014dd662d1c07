//! Rate limits end to end: an exhausted bucket (a token's writes, an address's failed logins)
//! stays exhausted through a flood of failed logins from more distinct addresses than the limiter
//! holds keys, over real sockets to the real daemon; IPv6 guessers count per /64.

mod common;

use common::*;
use pantau::app::limiter::MAX_KEYS;
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

/// Requests a bucket holds: two, so that one failed login leaves a bucket neither full nor
/// exhausted (an idle bucket the limiter may evict), and an exhausted one takes 30 s to get a
/// single request back.
const PER_MINUTE: u32 = 2;

/// Clients talking at once during a flood.
const CLIENTS: usize = 64;

/// `method path` with `headers` and `body`, from address `from` (any port) to `to`, as the one
/// request of a fresh connection (`Connection: close`): the answer's status.
async fn request_from(
    from: IpAddr,
    to: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> u16 {
    let socket = match from {
        IpAddr::V4(_) => TcpSocket::new_v4(),
        IpAddr::V6(_) => TcpSocket::new_v6(),
    }
    .unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    let mut stream = socket.connect(to).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {to}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{headers}\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::with_capacity(64);
    let mut buf = [0u8; 64];
    while head.len() < 12 {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "{from} -> {to}: closed before a status line");
        head.extend_from_slice(&buf[..n]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 "),
        "{:?}",
        String::from_utf8_lossy(&head)
    );
    std::str::from_utf8(&head[9..12]).unwrap().parse().unwrap()
}

/// A login that fails (no token) on the write endpoint, from `from`.
async fn failed_login(from: IpAddr, to: SocketAddr) -> u16 {
    request_from(from, to, "POST", "/api/v1/observations", "", "{}").await
}

/// A post of one observation with `token`, from `from`.
async fn post(from: IpAddr, to: SocketAddr, token: &str, value: f64) -> u16 {
    let body = json!({"observations": [
        {"indicator": "living.health.visits", "time": jakarta_date(1), "value": value}
    ]});
    let auth = format!("Authorization: Bearer {token}\r\n");
    request_from(
        from,
        to,
        "POST",
        "/api/v1/observations",
        &auth,
        &body.to_string(),
    )
    .await
}

/// The `i`th address of the flood: 127.10.0.1, 127.10.0.2, ..., none ending in .0 or .255 (and
/// none below 127.10, where the test's own clients are).
fn flood_address(i: usize) -> IpAddr {
    let per_block = 256 * 254;
    let (block, rest) = (i / per_block, i % per_block);
    IpAddr::V4(Ipv4Addr::new(
        127,
        10 + u8::try_from(block).unwrap(),
        (rest / 254) as u8,
        (rest % 254 + 1) as u8,
    ))
}

/// Failed logins from flood addresses `range`, CLIENTS at a time; each must be refused as a
/// failed login (401), none as rate-limited.
async fn flood(to: SocketAddr, range: std::ops::Range<usize>) {
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|w| {
            let range = range.clone();
            tokio::spawn(async move {
                for i in range.skip(w).step_by(CLIENTS) {
                    let from = flood_address(i);
                    let status = failed_login(from, to).await;
                    assert_eq!(status, 401, "the first failed login from {from}");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

/// 1. A token that used up its writes and an address that used up its failed logins stay
///    refused (429) after failed logins from more new addresses than the limiter holds keys
///    (until this was fixed, the limiter cleared every bucket beyond 100,000 keys).
///
/// The bound is crossed within seconds of the exhaustion: a flood of `MAX_KEYS` takes longer
/// than a bucket of two a minute needs to refill one request, so most of the flood comes first,
/// then the exhaustion, then the rest of the flood, which takes the limiter past its bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_failed_logins_from_new_addresses_resets_no_exhausted_bucket() {
    let app = spawn_app_with(
        VISITS_PLAN,
        &format!("rate_limit_per_minute = {PER_MINUTE}\n"),
    )
    .await;
    let to = app.addr;
    let token = app.token("dinkes");
    let guesser = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
    let writer = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let margin = 3_000;
    let total = MAX_KEYS + margin;
    let started = Instant::now();
    flood(to, 0..MAX_KEYS - margin).await;
    let prefilled = started.elapsed();

    // The token's writes and the guesser's failed logins, used up.
    let exhausted = Instant::now();
    for i in 0..PER_MINUTE {
        assert_eq!(post(writer, to, &token, f64::from(i)).await, 200);
        assert_eq!(failed_login(guesser, to).await, 401);
    }
    assert_eq!(post(writer, to, &token, 9.0).await, 429);
    assert_eq!(failed_login(guesser, to).await, 429);

    // The rest of the flood: more distinct addresses in all than the limiter's bound.
    flood(to, MAX_KEYS - margin..total).await;
    let since = exhausted.elapsed();
    assert!(
        since < Duration::from_secs(25),
        "the flood past the bound took {since:?}: too slow to tell a wiped bucket from one that refilled"
    );
    assert_eq!(
        failed_login(guesser, to).await,
        429,
        "the guesser got its failed logins back after {total} addresses failed to log in"
    );
    assert_eq!(
        post(writer, to, &token, 10.0).await,
        429,
        "the token got its writes back after {total} addresses failed to log in"
    );
    // The limiter still tells clients apart: a new address fails as a login, not as a flood.
    let fresh = IpAddr::V4(Ipv4Addr::new(127, 9, 9, 9));
    assert_eq!(failed_login(fresh, to).await, 401);
    eprintln!("{total} failed logins: {prefilled:?} before the exhaustion, {since:?} after it",);
    app.stop().await;
}

/// The local IPv6 addresses other than `::1` that a socket can be bound to (from
/// /proc/net/if_inet6, link-local ones left out: they need a scope).
fn other_ipv6_addresses() -> Vec<Ipv6Addr> {
    let Ok(table) = std::fs::read_to_string("/proc/net/if_inet6") else {
        return Vec::new();
    };
    table
        .lines()
        .filter_map(|line| u128::from_str_radix(line.split_whitespace().next()?, 16).ok())
        .map(Ipv6Addr::from)
        .filter(|a| !a.is_loopback() && !a.is_unicast_link_local())
        .filter(|a| std::net::TcpListener::bind((*a, 0)).is_ok())
        .collect()
}

/// 2. IPv6 guessers count per /64, over a real IPv6 socket. Loopback gives one address, `::1`,
///    and the other /64s a machine has hold one address each (no second address of a /64 can
///    be had without changing the machine's network configuration), so this shows what real
///    sockets can: `::1`, once exhausted, stays refused on every new connection (each from a
///    new port), an IPv4 client of the same dual-stack listener has its own bucket, and a
///    guesser from another /64 (when the machine has one) has its own too. That different
///    addresses of one /64 share a bucket is shown on the key itself, in `api::auth`'s tests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_guessers_are_limited_per_64_network_over_a_real_socket() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: this machine has no IPv6 loopback");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        VISITS_PLAN,
        &format!("rate_limit_per_minute = {PER_MINUTE}\n"),
    );
    let settings = std::fs::read_to_string(&config)
        .unwrap()
        .replace("listen = \"127.0.0.1:0\"", "listen = \"[::]:0\"");
    std::fs::write(&config, settings).unwrap();
    let daemon = Daemon::start(&config);
    let port: u16 = daemon.addr.rsplit(':').next().unwrap().parse().unwrap();
    let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port);
    let loopback = IpAddr::V6(Ipv6Addr::LOCALHOST);
    for _ in 0..PER_MINUTE {
        assert_eq!(failed_login(loopback, v6).await, 401);
    }
    for _ in 0..3 {
        assert_eq!(failed_login(loopback, v6).await, 429, "::1 is exhausted");
    }
    // 127.0.0.1 reaches the same listener as ::ffff:127.0.0.1: an IPv4 client, its own bucket.
    let v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    assert_eq!(failed_login(IpAddr::V4(Ipv4Addr::LOCALHOST), v4).await, 401);
    for other in other_ipv6_addresses() {
        let to = SocketAddr::new(IpAddr::V6(other), port);
        assert_eq!(
            failed_login(IpAddr::V6(other), to).await,
            401,
            "{other} is in another /64 than ::1"
        );
    }
    assert_eq!(failed_login(loopback, v6).await, 429);
    drop(daemon);
}
