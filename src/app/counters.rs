//! Counters for `/metrics`: HTTP requests by route template and status (filled by the API's log
//! filter), connections (filled by the listener, `crate::api::listen`) and reminders sent
//! (filled by `crate::reminders`).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

/// Reminders sent and failed.
#[derive(Debug, Default)]
pub struct ReminderMetrics {
    pub emails_sent: AtomicU64,
    pub email_failures: AtomicU64,
    pub digests_sent: AtomicU64,
    pub events: AtomicU64,
    /// The last failure: when (ms) and why.
    pub last_error: Mutex<Option<(i64, String)>>,
}

/// The listener's connections: how many it accepted, holds now, closed to make room for a new
/// one, and refused because every slot served a request.
#[derive(Debug, Default)]
pub struct ConnectionMetrics {
    pub accepted: AtomicU64,
    pub open: AtomicU64,
    pub made_room: AtomicU64,
    pub refused: AtomicU64,
}

/// Requests counted by (route template, status).
#[derive(Default)]
pub struct HttpMetrics {
    pub(crate) counts: Mutex<BTreeMap<(String, u16), u64>>,
}

impl HttpMetrics {
    pub fn record(&self, path: &str, status: u16) {
        let route = route_of(path);
        if let Ok(mut c) = self.counts.lock() {
            *c.entry((route, status)).or_insert(0) += 1;
        }
    }
}

/// A path reduced to its route template so that ids do not explode the label set.
pub fn route_of(path: &str) -> String {
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    match parts.as_slice() {
        ["", "api", "v1", "indicators", _] => "/api/v1/indicators/{id}".into(),
        ["", "api", "v1", "indicators", _, rest] => {
            format!("/api/v1/indicators/{{id}}/{}", sanitize(rest))
        }
        ["", "department", _] => "/department/{id}".into(),
        ["", "api", "v1", rest @ ..] if rest.len() <= 2 => format!(
            "/api/v1/{}",
            rest.iter()
                .map(|r| sanitize(r))
                .collect::<Vec<_>>()
                .join("/")
        ),
        [""] => "/".into(),
        ["", "healthz" | "metrics" | "wall" | "quick-wins"] => path.to_string(),
        ["", "assets", ..] => "/assets/*".into(),
        _ => "other".into(),
    }
}

fn sanitize(s: &str) -> String {
    if s.len() <= 24
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        s.to_string()
    } else {
        "other".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_collapse_ids() {
        assert_eq!(
            route_of("/api/v1/indicators/gov.x/series"),
            "/api/v1/indicators/{id}/series"
        );
        assert_eq!(
            route_of("/api/v1/indicators/gov.x"),
            "/api/v1/indicators/{id}"
        );
        assert_eq!(route_of("/api/v1/progress"), "/api/v1/progress");
        assert_eq!(route_of("/../etc/passwd"), "other");
    }
}
