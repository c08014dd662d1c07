//! Following one city: a task per city connects to the city's `/api/v1/live`, takes the
//! snapshot and then the numbered deltas, and after a drop resumes with `since`/`epoch` (a new
//! epoch, or a gap, means a fresh snapshot). Reconnects back off exponentially with jitter.
//!
//! A slow or hostile city delays no other: each city has its own task; connecting, each read
//! and `/healthz` have deadlines; messages and frames are bounded (`max_message_bytes`), and a
//! large message is parsed on the blocking pool, off the async workers. A message that is not
//! the live protocol drops the connection with a short reason in the city's health.

use super::city::Applied;
use super::config::CitySpec;
use super::state::{Federation, now_ms};
use super::wire;
use futures_util::StreamExt;
use std::time::Duration;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Messages larger than this are parsed on the blocking pool.
const PARSE_INLINE_BYTES: usize = 32 * 1024;
/// Largest `/healthz` body read from a city.
const HEALTHZ_BYTES: usize = 16 * 1024;
/// First wait before reconnecting; it doubles per failed attempt up to `backoff_max`.
const BACKOFF_FIRST: Duration = Duration::from_millis(500);

/// How one connection ended.
struct Ended {
    error: Option<String>,
    /// The connection was established (the backoff starts again from the first step).
    connected: bool,
    /// The city's messages do not continue what the federation holds: reconnect for a snapshot.
    need_snapshot: bool,
}

impl Ended {
    fn failed(error: impl Into<String>, connected: bool) -> Ended {
        Ended {
            error: Some(error.into()),
            connected,
            need_snapshot: false,
        }
    }
}

/// Follows city `index` until `stop`.
pub async fn follow(
    fed: Federation,
    index: usize,
    http: reqwest::Client,
    mut stop: watch::Receiver<bool>,
) {
    let spec = fed.config.cities[index].clone();
    let mut failures = 0u32;
    loop {
        if *stop.borrow() {
            return;
        }
        let resume = fed.read(index, |c| c.resume()).flatten();
        let ended = tokio::select! {
            e = session(&fed, index, &spec, &http, resume) => e,
            _ = stop.wait_for(|s| *s) => return,
        };
        let now = now_ms();
        let need_snapshot = ended.need_snapshot;
        fed.update(index, |c| {
            let was = c.health.connected;
            c.health.connected = false;
            c.health.connected_since = None;
            if need_snapshot {
                // The next connection starts without `since`: the city sends a snapshot.
                c.health.seq = None;
            }
            if let Some(e) = &ended.error {
                c.health.last_error = Some(e.clone());
                c.health.last_error_at = Some(now);
                c.health.errors += 1;
            }
            ((), was)
        });
        if let Some(e) = &ended.error {
            tracing::info!(city = %spec.id, error = %e, "city connection ended");
        }
        failures = if ended.connected { 0 } else { failures + 1 };
        let wait = if need_snapshot && ended.connected {
            Duration::from_millis(50)
        } else {
            backoff(failures, fed.config.follow.backoff_max)
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// The wait before attempt `failures` (0: the first after a connection that worked):
/// `BACKOFF_FIRST · 2^failures`, at most `max`, times a random factor in [0.5, 1].
pub fn backoff(failures: u32, max: Duration) -> Duration {
    let base = BACKOFF_FIRST
        .saturating_mul(1u32 << failures.min(16))
        .min(max);
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    let jitter = 0.5 + 0.5 * (u16::from_le_bytes(b) as f64 / u16::MAX as f64);
    base.mul_f64(jitter)
}

/// The websocket settings towards a city: a small read buffer (PERFORMANCE-NOTES.md) and
/// the configured bound on messages and frames.
fn socket_config(max_message_bytes: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .max_message_size(Some(max_message_bytes))
        .max_frame_size(Some(max_message_bytes))
}

/// One connection: from connecting to the drop.
async fn session(
    fed: &Federation,
    index: usize,
    spec: &CitySpec,
    http: &reqwest::Client,
    resume: Option<(u64, String)>,
) -> Ended {
    let follow = &fed.config.follow;
    // The version first, bounded by the connect deadline; a city without one still follows.
    if let Some(version) = city_version(http, spec, follow.connect_timeout).await {
        fed.update(index, |c| {
            let changed = c.health.version.as_deref() != Some(&version);
            c.health.version = Some(version);
            ((), changed)
        });
    }
    let url = spec.live_url(resume.as_ref().map(|(s, e)| (*s, e.as_str())));
    let mut request = match url.as_str().into_client_request() {
        Ok(r) => r,
        Err(e) => return Ended::failed(format!("cannot build the request to {url}: {e}"), false),
    };
    if let Some(token) = &spec.token {
        if let Ok(v) = format!("Bearer {}", token.expose()).parse() {
            request.headers_mut().insert("authorization", v);
        }
    }
    let config = socket_config(follow.max_message_bytes);
    let connect = tokio_tungstenite::connect_async_with_config(request, Some(config), true);
    let mut ws = match tokio::time::timeout(follow.connect_timeout, connect).await {
        Err(_) => {
            return Ended::failed(
                format!(
                    "the city did not open its live feed within {} s; is {} reachable?",
                    follow.connect_timeout.as_secs_f64(),
                    spec.url
                ),
                false,
            );
        }
        Ok(Err(e)) => return Ended::failed(describe(&e), false),
        Ok(Ok((ws, _))) => ws,
    };
    let now = now_ms();
    fed.update(index, |c| {
        c.health.connected = true;
        c.health.connected_since = Some(now);
        c.health.connects += 1;
        ((), true)
    });
    let mut connected = false;
    loop {
        let next = match tokio::time::timeout(follow.read_timeout, ws.next()).await {
            Err(_) => {
                return Ended::failed(
                    format!(
                        "the city sent nothing for {} s (it pings every 15 s); reconnecting",
                        follow.read_timeout.as_secs_f64()
                    ),
                    connected,
                );
            }
            Ok(None) => return Ended::failed("the city closed the connection", connected),
            Ok(Some(Err(e))) => return Ended::failed(describe(&e), connected),
            Ok(Some(Ok(m))) => m,
        };
        let bytes = match next {
            Message::Text(t) => bytes::Bytes::from(t),
            Message::Binary(b) => b,
            Message::Ping(_) | Message::Pong(_) => {
                // The city is there and its data current (tungstenite answers the ping).
                let now = now_ms();
                fed.update(index, |c| {
                    c.health.last_message = Some(now);
                    if c.health.seq.is_some() {
                        c.health.last_data = Some(now);
                    }
                    ((), false)
                });
                continue;
            }
            Message::Close(frame) => {
                let reason = frame
                    .map(|f| f.reason.chars().take(120).collect::<String>())
                    .filter(|r| !r.is_empty())
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default();
                return Ended::failed(format!("the city closed the connection{reason}"), connected);
            }
            Message::Frame(_) => continue,
        };
        let parsed = if bytes.len() > PARSE_INLINE_BYTES {
            match tokio::task::spawn_blocking(move || wire::parse(&bytes)).await {
                Ok(p) => p,
                Err(_) => return Ended::failed("reading the city's message failed", connected),
            }
        } else {
            wire::parse(&bytes)
        };
        let message = match parsed {
            Ok(m) => m,
            Err(e) => return Ended::failed(e.to_string(), connected),
        };
        let now = now_ms();
        let applied = fed.update(index, |c| {
            // `last_error` stays, with `last_error_at`, for whoever asks what happened last.
            let a = c.apply(message, now);
            (a, a == Applied::Changed)
        });
        match applied {
            Some(Applied::NeedSnapshot) => {
                return Ended {
                    error: None,
                    connected: true,
                    need_snapshot: true,
                };
            }
            Some(_) => connected = true,
            None => return Ended::failed("the city is not configured any more", connected),
        }
    }
}

/// A short, lowercase reason for a websocket error.
fn describe(e: &tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::Error;
    use tokio_tungstenite::tungstenite::error::CapacityError;
    match e {
        Error::Capacity(CapacityError::MessageTooLong { size, max_size }) => format!(
            "the city sent a message of {size} bytes, more than the {max_size} accepted; raise [federation] max_message_bytes if the city is that large"
        ),
        Error::Capacity(c) => format!("the city sent too much at once: {c}"),
        Error::Http(r) => format!(
            "the city answered HTTP {} instead of opening its live feed; check the url (and the token)",
            r.status()
        ),
        Error::Io(io) => format!("cannot reach the city: {io}"),
        Error::Tls(t) => format!("the city's TLS failed: {t}"),
        other => {
            let mut m = format!("the live connection failed: {other}");
            m.truncate(200);
            m
        }
    }
}

/// The city's pantau version from its `/healthz` (`version`), if it reports one.
async fn city_version(
    http: &reqwest::Client,
    spec: &CitySpec,
    deadline: Duration,
) -> Option<String> {
    let work = async {
        let mut req = http.get(spec.page("/healthz"));
        if let Some(t) = &spec.token {
            req = req.bearer_auth(t.expose());
        }
        let mut resp = req.send().await.ok()?;
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.ok()? {
            body.extend_from_slice(&chunk);
            if body.len() > HEALTHZ_BYTES {
                return None;
            }
        }
        let v: serde_json::Value = serde_json::from_slice(&body).ok()?;
        let version = v.get("version")?.as_str()?;
        Some(version.chars().take(40).collect::<String>())
    };
    tokio::time::timeout(deadline, work).await.ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_with_jitter() {
        let max = Duration::from_secs(60);
        for _ in 0..50 {
            let first = backoff(0, max);
            assert!(first >= Duration::from_millis(250) && first <= BACKOFF_FIRST);
            let fourth = backoff(3, max);
            assert!(fourth >= Duration::from_secs(2) && fourth <= Duration::from_secs(4));
            assert!(backoff(40, max) <= max);
            assert!(backoff(40, max) >= max / 2);
        }
    }
}
