//! `FeedHealth`: every feed's last run, last success, last error, next run, the poll in flight,
//! how late its polls started and which ticks it skipped and why; shared between the poller
//! (which fills it) and the API (`/api/v1/feeds`, `/metrics`). Restored from the recorded runs at
//! start-up so health survives a restart.
//!
//! What must stay true: a feed is `up` only when its last poll succeeded and no poll of it has
//! been running past its own schedule period (then it is `late`).

use super::FeedSpec;
use crate::domain::{Millis, format_instant};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How many examples of refused points a run keeps (the count goes on).
pub const REJECTED_EXAMPLES: usize = 20;

/// The last run of a feed, as `/api/v1/feeds` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    pub started: String,
    pub duration_ms: i64,
    pub http_status: Option<u16>,
    pub points: u64,
    pub new: u64,
    pub corrected: u64,
    /// Points refused by validation (bounds, baseline date, future, unknown indicator...), with
    /// examples.
    pub rejected: Rejected,
    /// Values the feed sent that were left out (missing, not finite), with examples.
    pub skipped: super::Skipped,
    pub error: Option<String>,
}

/// Points a run read but validation refused, with the first few of them and why.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Rejected {
    pub count: usize,
    pub examples: Vec<RejectedPoint>,
}

/// One refused point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RejectedPoint {
    pub indicator: String,
    /// The point's time in the city's zone.
    pub time: String,
    pub value: f64,
    /// Why, as the validation of department posts says it (field first).
    pub reason: String,
}

impl Rejected {
    /// Counts one refused point, keeping it as an example while there is room.
    pub fn add(&mut self, point: impl FnOnce() -> RejectedPoint) {
        self.count += 1;
        if self.examples.len() < REJECTED_EXAMPLES {
            self.examples.push(point());
        }
    }
}

/// Why a scheduled tick did not start a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipCause {
    /// The feed's own previous poll was still running.
    PreviousPollRunning,
    /// The scheduler got to the tick only after the next one was due (the machine was
    /// suspended, the clock moved, or the process was starved of CPU); missed ticks are not made
    /// up.
    SchedulerBehind,
}

impl SkipCause {
    pub const ALL: [SkipCause; 2] = [SkipCause::PreviousPollRunning, SkipCause::SchedulerBehind];

    /// The name in `/api/v1/feeds` and the `cause` label in `/metrics`.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipCause::PreviousPollRunning => "previous_poll_running",
            SkipCause::SchedulerBehind => "scheduler_behind",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A feed's health in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Not polled yet.
    Pending,
    /// The last poll succeeded.
    Up,
    /// The last poll failed.
    Down,
    /// A poll has been running past the feed's schedule period (a hanging upstream).
    Late,
}

/// Upper bounds (ms) of the lateness histogram in `/metrics`.
pub const LATENESS_BUCKETS_MS: [i64; 6] = [10, 100, 500, 1_000, 5_000, 30_000];

/// How late scheduled polls started against their scheduled instants.
#[derive(Debug, Clone, Default)]
pub struct Lateness {
    pub last_ms: Option<i64>,
    pub max_ms: i64,
    pub sum_ms: u64,
    pub count: u64,
    /// Polls at or under each bound of `LATENESS_BUCKETS_MS` (cumulative, as Prometheus counts).
    pub buckets: [u64; LATENESS_BUCKETS_MS.len()],
}

impl Lateness {
    fn record(&mut self, ms: i64) {
        let ms = ms.max(0);
        self.last_ms = Some(ms);
        self.max_ms = self.max_ms.max(ms);
        self.sum_ms = self.sum_ms.saturating_add(ms as u64);
        self.count += 1;
        for (bound, n) in LATENESS_BUCKETS_MS.iter().zip(self.buckets.iter_mut()) {
            if ms <= *bound {
                *n += 1;
            }
        }
    }
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
    /// The offset of `next_run` from the schedule's fire time (feeds sharing a schedule).
    pub(crate) spread_ms: i64,
    pub(crate) consecutive_failures: u64,
    /// When the poll in flight started.
    pub(crate) running_since: Option<Millis>,
    /// When the poll in flight has run a whole schedule period: from then on the feed is late.
    pub(crate) late_at: Option<Millis>,
    /// The scheduled instant of the last scheduled poll.
    pub(crate) last_scheduled: Option<Millis>,
    pub(crate) lateness: Lateness,
    /// Skipped ticks by `SkipCause`.
    pub(crate) skipped: [u64; 2],
    /// The last skipped tick: when, why, and since when the poll that held it was running.
    pub(crate) last_skip: Option<(Millis, SkipCause, Option<Millis>)>,
    /// Whether the wall was last told this feed is up (feed_up / feed_down events).
    pub(crate) announced_up: Option<bool>,
    pub(crate) polls_total: u64,
    pub(crate) errors_total: u64,
}

impl FeedState {
    pub(crate) fn health(&self, now: Millis) -> Health {
        if self.running_since.is_some() && self.late_at.is_some_and(|t| now >= t) {
            return Health::Late;
        }
        match &self.last_run {
            None => Health::Pending,
            Some((_, r)) if r.error.is_none() => Health::Up,
            Some(_) => Health::Down,
        }
    }

    /// A poll starts: `scheduled` is its tick's instant (None for the poll at start-up).
    pub(crate) fn begin_poll(
        &mut self,
        started: Millis,
        scheduled: Option<Millis>,
        late_at: Millis,
    ) {
        self.running_since = Some(started);
        self.late_at = Some(late_at);
        if let Some(at) = scheduled {
            self.last_scheduled = Some(at);
            self.lateness.record(started - at);
        }
    }

    /// The poll in flight ended.
    pub(crate) fn end_poll(&mut self) {
        self.running_since = None;
        self.late_at = None;
    }

    /// A tick at `at` was skipped.
    pub(crate) fn skip(&mut self, at: Millis, cause: SkipCause) {
        self.skipped[cause.index()] += 1;
        let since = match cause {
            SkipCause::PreviousPollRunning => self.running_since,
            SkipCause::SchedulerBehind => None,
        };
        self.last_skip = Some((at, cause, since));
    }

    fn skipped_total(&self) -> u64 {
        self.skipped.iter().sum()
    }
}

/// One feed's health, as `/metrics` reads it.
pub struct FeedMetric {
    pub id: String,
    pub up: bool,
    pub late: bool,
    /// How long the poll in flight has been running, or 0.
    pub running_ms: i64,
    pub last_duration_ms: i64,
    pub errors_total: u64,
    pub polls_total: u64,
    pub lateness: Lateness,
    /// Skipped ticks by cause.
    pub skipped: Vec<(SkipCause, u64)>,
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
            let Ok(h) = reads.run_blocking(|c| c.feed_history(&key)) else {
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
                            rejected: Rejected::default(),
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
        let now = chrono::Utc::now().timestamp_millis();
        let mut v: Vec<FeedMetric> = m
            .iter()
            .map(|(id, s)| {
                let health = s.health(now);
                FeedMetric {
                    id: id.clone(),
                    up: health == Health::Up,
                    late: health == Health::Late,
                    running_ms: s.running_since.map_or(0, |t| (now - t).max(0)),
                    last_duration_ms: s.last_run.as_ref().map_or(0, |(_, r)| r.duration_ms),
                    errors_total: s.errors_total,
                    polls_total: s.polls_total,
                    lateness: s.lateness.clone(),
                    skipped: SkipCause::ALL
                        .iter()
                        .map(|c| (*c, s.skipped[c.index()]))
                        .collect(),
                }
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
        let now = chrono::Utc::now().timestamp_millis();
        let mut ids: Vec<&String> = m.keys().collect();
        ids.sort();
        ids.into_iter()
            .map(|id| {
                let s = &m[id];
                let health = s.health(now);
                let l = &s.lateness;
                let skipped: serde_json::Map<String, serde_json::Value> = SkipCause::ALL
                    .iter()
                    .map(|c| (c.as_str().to_string(), s.skipped[c.index()].into()))
                    .collect();
                let last_skip = s.last_skip.map(|(at, cause, since)| {
                    let message = match (cause, since) {
                        (SkipCause::PreviousPollRunning, Some(t)) => format!(
                            "the feed's own previous poll was still running (since {}); the tick was skipped",
                            format_instant(t, tz)
                        ),
                        (SkipCause::PreviousPollRunning, None) => {
                            "the feed's own previous poll was still running; the tick was skipped".to_string()
                        }
                        (SkipCause::SchedulerBehind, _) => {
                            "the scheduler reached this tick only after the next one was due (machine suspended, clock moved, or the daemon starved of CPU); missed ticks are not made up".to_string()
                        }
                    };
                    serde_json::json!({
                        "time": format_instant(at, tz),
                        "cause": cause.as_str(),
                        "message": message,
                    })
                });
                serde_json::json!({
                    "id": id,
                    "department": s.department,
                    "url": s.url,
                    "format": s.format,
                    "schedule": s.schedule,
                    "health": health,
                    "up": health == Health::Up,
                    "running": s.running_since.is_some(),
                    "running_since": s.running_since.map(|t| format_instant(t, tz)),
                    "last_run": s.last_run.as_ref().map(|(_, r)| r),
                    "last_success": s.last_success.map(|t| format_instant(t, tz)),
                    "last_error": s.last_error.as_ref().map(|(t, e)| serde_json::json!({"time": format_instant(*t, tz), "message": e})),
                    "next_run": s.next_run.map(|t| format_instant(t, tz)),
                    "spread_ms": s.spread_ms,
                    "lateness": {
                        "last_scheduled": s.last_scheduled.map(|t| format_instant(t, tz)),
                        "last_ms": l.last_ms,
                        "max_ms": l.last_ms.map(|_| l.max_ms),
                        "mean_ms": (l.count > 0).then(|| l.sum_ms as f64 / l.count as f64),
                        "polls": l.count,
                    },
                    "consecutive_failures": s.consecutive_failures,
                    "polls_total": s.polls_total,
                    "errors_total": s.errors_total,
                    "skipped_ticks": skipped,
                    "last_skip": last_skip,
                    "skipped_total": s.skipped_total(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok_run() -> RunView {
        RunView {
            started: String::new(),
            duration_ms: 1,
            http_status: Some(200),
            points: 1,
            new: 1,
            corrected: 0,
            rejected: Rejected::default(),
            skipped: super::super::Skipped::default(),
            error: None,
        }
    }

    #[test]
    fn a_poll_running_past_its_period_is_late_not_up() {
        let mut s = FeedState {
            last_run: Some((0, ok_run())),
            ..Default::default()
        };
        assert_eq!(s.health(10), Health::Up);
        s.begin_poll(1_000, Some(1_000), 2_000);
        assert_eq!(s.health(1_999), Health::Up, "running within its period");
        assert_eq!(s.health(2_000), Health::Late);
        s.skip(2_000, SkipCause::PreviousPollRunning);
        assert_eq!(
            s.last_skip,
            Some((2_000, SkipCause::PreviousPollRunning, Some(1_000)))
        );
        s.end_poll();
        assert_eq!(s.health(5_000), Health::Up);
    }

    #[test]
    fn lateness_is_counted_in_cumulative_buckets() {
        let mut l = Lateness::default();
        for ms in [3, 50, 700, 40_000, -2] {
            l.record(ms);
        }
        assert_eq!(l.count, 5);
        assert_eq!(l.max_ms, 40_000);
        assert_eq!(l.last_ms, Some(0));
        assert_eq!(l.buckets, [2, 3, 3, 4, 4, 4]);
    }
}
