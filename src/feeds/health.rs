//! `FeedHealth`: every feed's last run, last success, last error, next run and counters, shared
//! between the poller (which fills it) and the API (`/api/v1/feeds`, `/metrics`). Restored from
//! the recorded runs at start-up so health survives a restart.

use super::FeedSpec;
use crate::domain::{Millis, format_instant};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The last run of a feed, as `/api/v1/feeds` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    pub started: String,
    pub duration_ms: i64,
    pub http_status: Option<u16>,
    pub points: u64,
    pub new: u64,
    pub corrected: u64,
    pub rejected: u64,
    /// Values the feed sent that were left out (missing, not finite), with examples.
    pub skipped: super::Skipped,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct FeedState {
    pub(crate) department: String,
    pub(crate) url: String,
    pub(crate) format: &'static str,
    pub(crate) schedule: String,
    pub(crate) last_run: Option<(Millis, RunView)>,
    pub(crate) last_success: Option<Millis>,
    pub(crate) last_error: Option<(Millis, String)>,
    pub(crate) next_run: Option<Millis>,
    pub(crate) consecutive_failures: u64,
    pub(crate) running: bool,
    pub(crate) polls_total: u64,
    pub(crate) errors_total: u64,
    pub(crate) skipped_total: u64,
}

/// One feed's health, as `/metrics` reads it.
pub struct FeedMetric {
    pub id: String,
    pub up: bool,
    pub last_duration_ms: i64,
    pub errors_total: u64,
    pub polls_total: u64,
}

/// Every feed's health, shared between the poller and the API.
#[derive(Clone, Default)]
pub struct FeedHealth {
    feeds: Arc<Mutex<HashMap<String, FeedState>>>,
}

impl FeedHealth {
    pub(crate) fn with<R>(&self, id: &str, f: impl FnOnce(&mut FeedState) -> R) -> Option<R> {
        self.feeds
            .lock()
            .ok()
            .and_then(|mut m| m.get_mut(id).map(f))
    }

    /// Resets to the given feeds, keeping what is known of feeds that stay.
    pub fn configure(&self, specs: &[FeedSpec]) {
        if let Ok(mut m) = self.feeds.lock() {
            let mut next = HashMap::new();
            for s in specs {
                let mut st = m.remove(s.id.as_str()).unwrap_or_default();
                let mut url = s.url.clone();
                let _ = url.set_password(None);
                st.department = s.department.to_string();
                st.url = url.to_string();
                st.format = s.format.name();
                st.schedule = s.schedule.as_str().to_string();
                next.insert(s.id.to_string(), st);
            }
            *m = next;
        }
    }

    /// Fills in what the database remembers of feeds this process has not polled yet, so health
    /// survives a restart.
    pub fn restore(&self, reads: &crate::store::ReadPool, tz: chrono_tz::Tz) {
        let ids: Vec<String> = match self.feeds.lock() {
            Ok(m) => m
                .iter()
                .filter(|(_, s)| s.last_run.is_none())
                .map(|(id, _)| id.clone())
                .collect(),
            Err(_) => return,
        };
        for id in ids {
            let key = id.clone();
            let Ok(h) = reads.run_blocking(|c| crate::store::read::feed_history(c, &key)) else {
                continue;
            };
            self.with(&id, |s| {
                if s.last_run.is_some() {
                    return;
                }
                s.last_run = h.last.map(|r| {
                    (
                        r.started,
                        RunView {
                            started: format_instant(r.started, tz),
                            duration_ms: r.duration_ms,
                            http_status: r.http_status,
                            points: r.points.max(0) as u64,
                            new: r.new.max(0) as u64,
                            corrected: r.corrected.max(0) as u64,
                            rejected: 0,
                            skipped: super::Skipped::default(),
                            error: r.error,
                        },
                    )
                });
                s.last_success = h.last_success;
                s.last_error = h.last_error;
                s.consecutive_failures = h.consecutive_failures.max(0) as u64;
            });
        }
    }

    pub fn list(&self) -> Vec<FeedMetric> {
        let Ok(m) = self.feeds.lock() else {
            return Vec::new();
        };
        let mut v: Vec<FeedMetric> = m
            .iter()
            .map(|(id, s)| FeedMetric {
                id: id.clone(),
                up: s.last_run.as_ref().is_some_and(|(_, r)| r.error.is_none()),
                last_duration_ms: s.last_run.as_ref().map_or(0, |(_, r)| r.duration_ms),
                errors_total: s.errors_total,
                polls_total: s.polls_total,
            })
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// The body of `/api/v1/feeds`.
    pub fn views(&self, tz: chrono_tz::Tz) -> Vec<serde_json::Value> {
        let Ok(m) = self.feeds.lock() else {
            return Vec::new();
        };
        let mut ids: Vec<&String> = m.keys().collect();
        ids.sort();
        ids.into_iter()
            .map(|id| {
                let s = &m[id];
                serde_json::json!({
                    "id": id,
                    "department": s.department,
                    "url": s.url,
                    "format": s.format,
                    "schedule": s.schedule,
                    "up": s.last_run.as_ref().is_some_and(|(_, r)| r.error.is_none()),
                    "running": s.running,
                    "last_run": s.last_run.as_ref().map(|(_, r)| r),
                    "last_success": s.last_success.map(|t| format_instant(t, tz)),
                    "last_error": s.last_error.as_ref().map(|(t, e)| serde_json::json!({"time": format_instant(*t, tz), "message": e})),
                    "next_run": s.next_run.map(|t| format_instant(t, tz)),
                    "consecutive_failures": s.consecutive_failures,
                    "polls_total": s.polls_total,
                    "errors_total": s.errors_total,
                    "skipped_total": s.skipped_total,
                })
            })
            .collect()
    }
}
