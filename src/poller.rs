//! The poller: one engine for every feed format. Each feed has its own task that sleeps until
//! the feed's next scheduled instant (the cron fire time; for feeds that share a schedule, plus a
//! fixed per-feed offset so they are spread), fetches with a timeout and a size limit (counted on
//! the decoded body: gzip, deflate and brotli are decoded), retries with backoff inside the tick,
//! extracts points with the feed's format and validates them like department posts (both off the
//! async workers, except a page of at most 16 KiB and a poll of a few points, which take less
//! time than the hop to a blocking thread), and sends them to the writer as `feed:<id>`.
//!
//! What must stay true: a feed never waits for another. There is no cap on polls in flight
//! across feeds (a hanging upstream could hold it); each feed has at most one poll in flight,
//! so the polls in flight are at most the feeds configured, each bounded by its timeout and
//! `max_bytes`. Only extraction and validation, which are CPU work bounded by the body size,
//! take one of a few permits (one per core). A tick that finds the feed's own previous poll still
//! running is skipped and recorded with that cause; how late each poll started against its
//! scheduled instant is recorded too. Every run is recorded in the database and in `FeedHealth`.

use crate::app::App;
use crate::domain::{Millis, Source, format_instant};
use crate::feeds::health::{Health, Rejected, RejectedPoint, RunView, SkipCause};
use crate::feeds::{ExtractContext, FeedSpec, HeaderValue, Schedule};
use crate::ingest::{RawRow, RawTime, RawValue, Rejection, RowError, validate};
use crate::store::{FeedRunRecord, ObservationBatch, Origin, WriteCommand, WriteOutcome};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, watch};

/// A page at most this large is extracted on the async worker that fetched it.
const INLINE_BYTES: usize = 16 * 1024;
/// A poll of at most this many points is validated on the async worker.
const INLINE_POINTS: usize = 8;
/// Pages one poll may follow (CKAN paging).
pub const MAX_PAGES: usize = 1000;
/// The spread offset of feeds sharing a schedule stays under this (and under a quarter of the
/// schedule's period).
pub const MAX_SPREAD: Duration = Duration::from_secs(30);
/// The longest the scheduler sleeps before looking at the wall clock again.
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// A tick reached later than this many whole periods makes the scheduler start again from now.
const MAX_BEHIND_TICKS: u32 = 1000;

/// Runs every configured feed until shutdown; restarts the schedules after a reload.
pub async fn run(app: App, mut stop: watch::Receiver<bool>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(5))
        .user_agent(concat!("pantau/", env!("CARGO_PKG_VERSION")))
        // Sends `Accept-Encoding` and decodes as the body streams in, so `max_bytes` counts the
        // decoded bytes (a gzip bomb is cut off there).
        .gzip(true)
        .deflate(true)
        .brotli(true)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the HTTP client; feeds are not polled");
            return;
        }
    };
    let cpu = Arc::new(Semaphore::new(
        std::thread::available_parallelism().map_or(2, |n| n.get()),
    ));
    // Polls still in flight when their schedules were replaced: by feed id for feeds that stay
    // (their new schedule skips ticks until the poll ends), and those of removed feeds.
    let mut in_flight: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
    let mut retired: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    let reload = app.reload.clone();
    loop {
        // Register for the next reload before reading the config, so a reload that lands in
        // between is not missed.
        let notified = reload.notified();
        let mut notified = std::pin::pin!(notified);
        notified.as_mut().enable();
        let config = app.config();
        app.feeds.configure(&config.feeds);
        {
            let (feeds, reads, tz) = (app.feeds.clone(), app.reads.clone(), app.tz());
            let _ = tokio::task::spawn_blocking(move || feeds.restore(&reads, tz)).await;
        }
        let spread = spread_feeds(&config.feeds);
        let (feed_stop_tx, feed_stop_rx) = watch::channel(false);
        let mut tasks = tokio::task::JoinSet::new();
        for spec in config.feeds.iter().cloned() {
            let previous = in_flight.remove(spec.id.as_str());
            let spread = spread.contains(spec.id.as_str());
            tasks.spawn(feed_loop(
                Poller {
                    app: app.clone(),
                    client: client.clone(),
                    spec: Arc::new(spec),
                    cpu: cpu.clone(),
                    shutdown: stop.clone(),
                },
                spread,
                feed_stop_rx.clone(),
                previous,
            ));
        }
        retired.extend(in_flight.drain().map(|(_, h)| h));
        retired.retain(|h| !h.is_finished());
        let reloaded = tokio::select! {
            _ = notified => true,
            _ = stop.wait_for(|s| *s) => false,
        };
        let _ = feed_stop_tx.send(true);
        // The loops stop at once and hand over their polls in flight, so after a reload the new
        // schedules start now: a hanging poll holds up no other feed.
        while let Some(done) = tasks.join_next().await {
            if let Ok((id, Some(poll))) = done {
                in_flight.insert(id, poll);
            }
        }
        if !reloaded {
            // Polls in flight that are writing finish, so nothing half-written is lost; those
            // still waiting for their upstream give up at once.
            for poll in in_flight.into_values().chain(retired) {
                let _ = poll.await;
            }
            return;
        }
    }
}

/// The feeds whose polls are spread: those that share their schedule (the same fire times
/// however written) with another feed, unless their schedule names exact instants (a number,
/// list or range in the finest field: seconds in the 6-field form, minutes in the 5-field form
/// and the `@` macros). Such a schedule fires exactly when it says.
pub fn spread_feeds(specs: &[FeedSpec]) -> HashSet<String> {
    let mut sharing: HashMap<&str, usize> = HashMap::new();
    for s in specs {
        *sharing.entry(s.schedule.canonical()).or_default() += 1;
    }
    specs
        .iter()
        .filter(|s| !s.schedule.names_exact_instants() && sharing[s.schedule.canonical()] > 1)
        .map(|s| s.id.to_string())
        .collect()
}

/// A fixed offset in [0, window) from the feed id, so feeds sharing a schedule do not all fire
/// at the same instant.
pub fn spread_offset(id: &str, window: Duration) -> Duration {
    let ms = window.as_millis() as u64;
    if ms == 0 {
        return Duration::ZERO;
    }
    // FNV-1a: stable across runs and builds.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in id.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    Duration::from_millis(h % ms)
}

/// The instant a feed polls for the schedule's fire time `fire`, and its offset from `fire`: the
/// fire time itself, or for a spread feed plus `spread_offset` over a quarter of the time to the
/// next fire (at most `MAX_SPREAD`), so a spread poll never passes the next fire time.
pub fn scheduled_instant(
    schedule: &Schedule,
    id: &str,
    spread: bool,
    fire: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> (DateTime<Utc>, Duration) {
    if !spread {
        return (fire, Duration::ZERO);
    }
    let period = schedule
        .next_after(fire, tz)
        .and_then(|n| (n - fire).to_std().ok())
        .unwrap_or_default();
    let offset = spread_offset(id, (period / 4).min(MAX_SPREAD));
    (
        fire + chrono::Duration::from_std(offset).unwrap_or_default(),
        offset,
    )
}

/// What every poll of one feed needs.
#[derive(Clone)]
struct Poller {
    app: App,
    client: reqwest::Client,
    spec: Arc<FeedSpec>,
    /// Permits for CPU work (extraction, validation): one per core.
    cpu: Arc<Semaphore>,
    /// The daemon's shutdown: a poll still waiting for its upstream is abandoned then.
    shutdown: watch::Receiver<bool>,
}

fn millis(t: DateTime<Utc>) -> Millis {
    t.timestamp_millis()
}

async fn feed_loop(
    p: Poller,
    spread: bool,
    mut stop: watch::Receiver<bool>,
    mut running: Option<tokio::task::JoinHandle<()>>,
) -> (String, Option<tokio::task::JoinHandle<()>>) {
    let id = p.spec.id.to_string();
    let schedule = &p.spec.schedule;
    // A reload restarts this loop, so the zone is fixed for its lifetime.
    let tz = p.app.tz();
    let mut fire = schedule.next_after(Utc::now(), tz);
    if p.spec.run_at_start
        && p.app.storage.polls()
        && running.as_ref().is_none_or(|h| h.is_finished())
    {
        // Late once it has run as long as the schedule's period.
        let now = Utc::now();
        let period = fire
            .and_then(|f| (schedule.next_after(f, tz)? - f).to_std().ok())
            .unwrap_or(Duration::from_secs(86_400));
        let late_at = millis(now) + period.as_millis() as i64;
        running = Some(spawn_poll(&p, None, late_at));
    }
    let mut behind = 0u32;
    'ticks: loop {
        let Some(f) = fire else {
            p.app.feeds.with(&id, |s| s.next_run = None);
            let _ = stop.wait_for(|s| *s).await;
            break;
        };
        let (at, offset) = scheduled_instant(schedule, &id, spread, f, tz);
        p.app.feeds.with(&id, |s| {
            s.next_run = Some(millis(at));
            s.spread_ms = offset.as_millis() as i64;
        });
        let first_wait = (at - Utc::now()).to_std().unwrap_or_default();
        loop {
            // Sleep on the wall clock, in steps of at most a minute: the timer's clock stops
            // while the machine is suspended and does not follow the wall clock when it is set.
            let wait = (at - Utc::now()).to_std().unwrap_or_default();
            if wait.is_zero() {
                break;
            }
            if wait > first_wait + Duration::from_secs(1) {
                // The clock was set back: start again from now.
                fire = schedule.next_after(Utc::now(), tz);
                continue 'ticks;
            }
            tokio::select! {
                _ = tokio::time::sleep(wait.min(MAX_SLEEP)) => {}
                _ = stop.wait_for(|s| *s) => break 'ticks,
            }
        }
        let now = Utc::now();
        let next = schedule.next_after(f, tz);
        let next_at = next.map(|n| scheduled_instant(schedule, &id, spread, n, tz).0);
        if next_at.is_some_and(|n| n <= now) {
            // This tick was reached only after the next one was due.
            p.app
                .feeds
                .with(&id, |s| s.skip(millis(at), SkipCause::SchedulerBehind));
            behind += 1;
            tracing::debug!(feed = %id, "tick reached after the next one was due; skipped");
            fire = if behind >= MAX_BEHIND_TICKS {
                behind = 0;
                schedule.next_after(now, tz)
            } else {
                next
            };
            continue;
        }
        behind = 0;
        if running.as_ref().is_some_and(|h| !h.is_finished()) {
            let (health, since) = p
                .app
                .feeds
                .with(&id, |s| {
                    s.skip(millis(at), SkipCause::PreviousPollRunning);
                    (s.health(millis(now)), s.running_since)
                })
                .unwrap_or((Health::Pending, None));
            tracing::debug!(feed = %id, "the feed's previous poll is still running; tick skipped");
            if health == Health::Late {
                let since =
                    since.map_or_else(String::new, |t| format!(" since {}", format_instant(t, tz)));
                announce(
                    &p,
                    false,
                    Some(format!(
                        "the poll has been running{since}, past the schedule's period (timeout {:?}); ticks are skipped until it ends",
                        p.spec.timeout
                    )),
                );
            }
        } else if !p.app.storage.polls() {
            // Another daemon on the same PostgreSQL database polls the feeds.
            tracing::debug!(feed = %id, "another daemon holds the polling role; tick left to it");
        } else {
            // Late once the next tick is due and it is still running.
            let late_at = next_at.map_or(i64::MAX, millis);
            running = Some(spawn_poll(&p, Some(millis(at)), late_at));
        }
        fire = next;
    }
    // A poll still in flight is handed back to `run`, which decides whether to wait for it.
    (id, running.filter(|h| !h.is_finished()))
}

fn spawn_poll(
    p: &Poller,
    scheduled: Option<Millis>,
    late_at: Millis,
) -> tokio::task::JoinHandle<()> {
    let p = p.clone();
    tokio::spawn(async move { poll_and_record(&p, scheduled, late_at).await })
}

/// Tells the wall (a `feed_down` / `feed_up` event) and the log when a feed goes down or comes
/// back: once per change, and for a feed that fails from the start.
fn announce(p: &Poller, up: bool, message: Option<String>) {
    let id = p.spec.id.as_str();
    let was = p
        .app
        .feeds
        .with(id, |s| {
            let was = s
                .announced_up
                .or_else(|| s.last_run.as_ref().map(|(_, r)| r.error.is_none()));
            s.announced_up = Some(up);
            was
        })
        .flatten();
    if was == Some(up) || (was.is_none() && up) {
        return;
    }
    match &message {
        Some(m) if !up => tracing::warn!(feed = %id, error = %m, "feed is down"),
        _ => tracing::info!(feed = %id, "feed is up again"),
    }
    let tz = p.app.tz();
    p.app
        .hub
        .publish_events(vec![crate::progress::state::StatusEvent {
            time: format_instant(Utc::now().timestamp_millis(), tz),
            kind: if up { "feed_up" } else { "feed_down" },
            item_type: "feed",
            id: id.to_string(),
            name: format!("{} ({})", id, p.spec.department),
            from: None,
            to: None,
            message,
        }]);
}

/// What one poll produced before it was written.
struct Fetched {
    http_status: Option<u16>,
    points: Vec<crate::feeds::FeedPoint>,
    /// Values the pages left out (missing, not finite), with examples.
    skipped: crate::feeds::Skipped,
}

/// Polls once, writes the points, records the run. `scheduled` is the tick's instant (None for
/// the poll at start-up); from `late_at` on, a poll still running makes the feed late.
async fn poll_and_record(p: &Poller, scheduled: Option<Millis>, late_at: Millis) {
    let (app, spec) = (&p.app, &p.spec);
    let id = spec.id.to_string();
    let started = Utc::now().timestamp_millis();
    app.feeds
        .with(&id, |s| s.begin_poll(started, scheduled, late_at));
    let clock = std::time::Instant::now();
    let tz = app.tz();
    let mut shutdown = p.shutdown.clone();
    let stopping = async move {
        if shutdown.wait_for(|s| *s).await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    // At shutdown a poll still fetching has nothing to lose: it is abandoned (and not recorded),
    // so a hanging upstream does not hold up the exit. A poll that is writing finishes.
    let result = tokio::select! {
        r = fetch_with_retries(p, tz) => r,
        _ = stopping => {
            tracing::debug!(feed = %id, "the daemon is stopping; the poll in flight is abandoned");
            app.feeds.with(&id, |s| s.end_poll());
            return;
        }
    };
    let (mut points_read, mut new, mut corrected) = (0u64, 0u64, 0u64);
    let mut rejected = Rejected::default();
    let mut skipped = crate::feeds::Skipped::default();
    let http_status;
    // Set when the run was stored together with its points (one commit per poll).
    let mut recorded = false;
    let error: Option<String> = match result {
        Err((status, e)) => {
            http_status = status;
            Some(e)
        }
        Ok(f) => {
            http_status = f.http_status;
            points_read = f.points.len() as u64;
            skipped = f.skipped;
            let run = FeedRunRecord {
                feed: spec.id.clone(),
                started,
                duration_ms: clock.elapsed().as_millis() as i64,
                http_status,
                points: points_read,
                new: 0,
                corrected: 0,
                error: None,
            };
            let w = write_points(p, f.points, run).await;
            new = w.new;
            corrected = w.corrected;
            rejected = w.rejected;
            recorded = w.recorded;
            w.error
        }
    };
    let duration_ms = clock.elapsed().as_millis() as i64;
    match &error {
        Some(e) => tracing::debug!(feed = %id, error = %e, "feed poll failed"),
        None => tracing::debug!(feed = %id, points_read, new, corrected, "feed polled"),
    }
    if !recorded {
        let record = FeedRunRecord {
            feed: spec.id.clone(),
            started,
            duration_ms,
            http_status,
            points: points_read,
            new,
            corrected,
            error: error.clone(),
        };
        if let Err(e) = app.writer.submit(WriteCommand::FeedRun(record)).await {
            tracing::warn!(feed = %id, error = %e, "cannot record the feed run");
        }
    }
    let view = RunView {
        started: format_instant(started, tz),
        duration_ms,
        http_status,
        points: points_read,
        new,
        corrected,
        rejected,
        skipped,
        error: error.clone(),
    };
    announce(p, error.is_none(), error.clone());
    app.feeds.with(&id, |s| {
        s.end_poll();
        s.polls_total += 1;
        s.last_run = Some((started, view));
        match &error {
            None => {
                s.last_success = Some(started);
                s.consecutive_failures = 0;
            }
            Some(e) => {
                s.last_error = Some((started, e.clone()));
                s.consecutive_failures += 1;
                s.errors_total += 1;
            }
        }
    });
}

/// What `write_points` stored and refused.
#[derive(Debug, Default)]
struct Written {
    new: u64,
    corrected: u64,
    rejected: Rejected,
    /// The run record was stored with the points (else the caller records the run).
    recorded: bool,
    error: Option<String>,
}

/// Validates points like a department post (refusing, and listing, the invalid ones) and writes
/// the rest together with the record of the run that read them.
async fn write_points(
    p: &Poller,
    points: Vec<crate::feeds::FeedPoint>,
    run: FeedRunRecord,
) -> Written {
    if points.is_empty() {
        return Written::default();
    }
    let config = p.app.config();
    let department = p.spec.department.clone();
    let validated = if points.len() <= INLINE_POINTS {
        let now = Utc::now().timestamp_millis();
        Ok(validate_points(
            &config.masterplan,
            config.settings.city.time_zone,
            now,
            &department,
            points,
        ))
    } else {
        let Ok(_permit) = p.cpu.acquire().await else {
            return Written {
                error: Some("the poller is shutting down".into()),
                ..Default::default()
            };
        };
        tokio::task::spawn_blocking(move || {
            let now = Utc::now().timestamp_millis();
            validate_points(
                &config.masterplan,
                config.settings.city.time_zone,
                now,
                &department,
                points,
            )
        })
        .await
    };
    let Ok(Checked {
        observations,
        rejected,
        first,
    }) = validated
    else {
        return Written {
            error: Some("the points could not be validated".into()),
            ..Default::default()
        };
    };
    if observations.is_empty() {
        let error = first.map(|e| {
            format!(
                "no valid points: {} refused ({}: {}); {}",
                rejected.count, e.field, e.reason, e.fix
            )
        });
        return Written {
            rejected,
            error,
            ..Default::default()
        };
    }
    let outcome = p
        .app
        .writer
        .submit(WriteCommand::FeedPoll {
            points: ObservationBatch {
                origin: Origin {
                    source: Source::Feed(p.spec.id.clone()),
                    department: Some(p.spec.department.clone()),
                    token_id: None,
                },
                rows: observations,
            },
            run,
        })
        .await;
    match outcome {
        Ok(WriteOutcome::Observations { new, corrected, .. }) => Written {
            new,
            corrected,
            rejected,
            recorded: true,
            error: None,
        },
        Ok(_) => Written {
            rejected,
            recorded: true,
            ..Default::default()
        },
        Err(e) => Written {
            rejected,
            error: Some(e.to_string()),
            ..Default::default()
        },
    }
}

/// Points that passed validation, and those refused.
struct Checked {
    observations: Vec<crate::domain::Observation>,
    rejected: Rejected,
    /// The first problem, for the run's error when nothing passed.
    first: Option<RowError>,
}

/// The longest indicator id or reason a refused-point example repeats.
const EXAMPLE_CHARS: usize = 200;

fn bounded(s: &str) -> String {
    if s.chars().count() <= EXAMPLE_CHARS {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(EXAMPLE_CHARS).collect();
        t.push('…');
        t
    }
}

/// Validates feed points with the rules of department posts, keeping the good ones (a single
/// out-of-range value in a portal's history must not stop the whole feed). Pure: no I/O.
fn validate_points(
    plan: &crate::domain::Masterplan,
    tz: chrono_tz::Tz,
    now: Millis,
    department: &crate::domain::DepartmentId,
    points: Vec<crate::feeds::FeedPoint>,
) -> Checked {
    let mut rows: Vec<RawRow> = points
        .iter()
        .enumerate()
        .map(|(i, p)| RawRow {
            line: i + 1,
            indicator: Some(p.indicator.clone()),
            time: Some(RawTime::Instant(p.time.unwrap_or(now))),
            value: Some(RawValue::Number(p.value)),
            note: None,
        })
        .collect();
    // Problems by row. Rows for another department's indicators are reported on their own
    // first, so a second round finds the other problems; dropping rows adds none, so this ends.
    let mut problems: BTreeMap<usize, Vec<RowError>> = BTreeMap::new();
    let mut observations = Vec::new();
    for _ in 0..4 {
        match validate(plan, tz, now, Some(department), rows.clone()) {
            Ok(o) => {
                observations = o;
                break;
            }
            Err(Rejection::NotOwner(e)) | Err(Rejection::Invalid(e)) => {
                for err in e {
                    problems.entry(err.row).or_default().push(err);
                }
                rows.retain(|r| !problems.contains_key(&r.line));
                if rows.is_empty() {
                    break;
                }
            }
        }
    }
    let mut rejected = Rejected::default();
    let mut first = None;
    for (row, errs) in problems {
        let Some(point) = points.get(row - 1) else {
            continue;
        };
        if first.is_none() {
            first = errs.first().cloned();
        }
        rejected.add(|| RejectedPoint {
            indicator: bounded(&point.indicator),
            time: format_instant(point.time.unwrap_or(now), tz),
            value: point.value,
            reason: bounded(
                &errs
                    .iter()
                    .map(|e| format!("{} {}", e.field, e.reason))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        });
    }
    Checked {
        observations,
        rejected,
        first,
    }
}

fn retryable(status: Option<u16>) -> bool {
    status.is_none_or(|s| s >= 500 || s == 429)
}

async fn fetch_with_retries(
    p: &Poller,
    tz: chrono_tz::Tz,
) -> Result<Fetched, (Option<u16>, String)> {
    let spec = &p.spec;
    let mut attempt = 0;
    loop {
        let r = tokio::time::timeout(spec.timeout, fetch_all_pages(p, tz)).await;
        let r = match r {
            Ok(r) => r,
            Err(_) => Err((None, format!("timed out after {:?}", spec.timeout), true)),
        };
        match r {
            Ok(f) => return Ok(f),
            Err((status, e, transport)) => {
                if attempt >= spec.retries || !(transport && retryable(status)) {
                    let tries = attempt + 1;
                    return Err((
                        status,
                        if tries > 1 {
                            format!("{e} (after {tries} attempts)")
                        } else {
                            e
                        },
                    ));
                }
                let backoff = Duration::from_millis(250 * (1 << attempt.min(6)));
                tokio::time::sleep(backoff).await;
                attempt += 1;
            }
        }
    }
}

/// Fetches every page. Err = (status, message, retryable transport-level failure?).
async fn fetch_all_pages(
    p: &Poller,
    tz: chrono_tz::Tz,
) -> Result<Fetched, (Option<u16>, String, bool)> {
    let spec = &p.spec;
    let mut url = spec.format.first_url(&spec.url);
    let mut points = Vec::new();
    let mut skipped = crate::feeds::Skipped::default();
    let mut status = None;
    for _ in 0..MAX_PAGES {
        let mut req = p.client.get(url.clone());
        for (name, value) in &spec.headers {
            let v = match value {
                HeaderValue::Literal(s) => s.clone(),
                HeaderValue::Env(var) => std::env::var(var).map_err(|_| {
                    (
                        None,
                        format!(
                            "header `{name}` names environment variable `{var}`, which is not set"
                        ),
                        false,
                    )
                })?,
            };
            req = req.header(name.as_str(), v);
        }
        let mut resp = req
            .send()
            .await
            .map_err(|e| (None, describe_reqwest(&e), true))?;
        let code = resp.status().as_u16();
        status = Some(code);
        if !resp.status().is_success() {
            return Err((status, format!("HTTP {code} from {}", redact(&url)), true));
        }
        // gzip, deflate and br were decoded (and their header removed) by the client; anything
        // left is an encoding we cannot read.
        if let Some(encoding) = resp.headers().get(reqwest::header::CONTENT_ENCODING) {
            let encoding = String::from_utf8_lossy(encoding.as_bytes())
                .trim()
                .to_string();
            if !encoding.is_empty() && !encoding.eq_ignore_ascii_case("identity") {
                return Err((
                    status,
                    format!(
                        "the response is sent with Content-Encoding `{}`, which pantau cannot decode; ask the department to send it with gzip, deflate, br or no encoding",
                        bounded(&encoding)
                    ),
                    false,
                ));
            }
        }
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| (status, describe_reqwest(&e), true))?
        {
            if body.len() as u64 + chunk.len() as u64 > spec.max_bytes {
                return Err((
                    status,
                    format!(
                        "the response is larger than max_bytes = {} (counted after decompression); raise it or fetch less",
                        spec.max_bytes
                    ),
                    false,
                ));
            }
            body.extend_from_slice(&chunk);
        }
        let ctx = ExtractContext {
            tz,
            now: Utc::now().timestamp_millis(),
        };
        // Extraction is CPU work bounded by the body's size: off the async workers, a few at once;
        // a small body is read in place (a hop to a blocking thread cost more than reading it).
        let extracted = if body.len() <= INLINE_BYTES {
            spec.format.extract(&body, &spec.url, &url, &ctx)
        } else {
            let Ok(_permit) = p.cpu.acquire().await else {
                return Err((status, "the poller is shutting down".into(), false));
            };
            let (spec, page_url) = (spec.clone(), url.clone());
            tokio::task::spawn_blocking(move || {
                spec.format.extract(&body, &spec.url, &page_url, &ctx)
            })
            .await
            .map_err(|_| (status, "the response could not be read".to_string(), false))?
        };
        let page = extracted.map_err(|e| {
            let expected = spec.format.expected_content_types();
            let hint =
                if !content_type.is_empty() && !expected.iter().any(|x| content_type.contains(x)) {
                    format!(
                        " (the response's content type `{}` is not what a {} feed sends)",
                        bounded(&content_type),
                        spec.format.name()
                    )
                } else {
                    String::new()
                };
            (status, format!("{e}{hint}"), false)
        })?;
        points.extend(page.points);
        skipped.merge(page.skipped);
        match page.next {
            Some(next) if next != url => url = next,
            _ => {
                return Ok(Fetched {
                    http_status: status,
                    points,
                    skipped,
                });
            }
        }
    }
    Err((
        status,
        format!("more than {MAX_PAGES} pages; narrow the query with filters"),
        false,
    ))
}

fn redact(url: &reqwest::Url) -> String {
    let mut u = url.clone();
    let _ = u.set_password(None);
    u.set_query(None);
    u.to_string()
}

fn describe_reqwest(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_redirect() {
        "too many redirects"
    } else if e.is_decode() {
        "the response body cannot be decoded"
    } else if e.is_body() {
        "the response body broke off"
    } else {
        "request failed"
    };
    let url = e.url().map(redact).unwrap_or_default();
    let mut source = String::new();
    let mut cur: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = cur {
        source = s.to_string();
        cur = s.source();
    }
    let mut message = what.to_string();
    if !url.is_empty() {
        message = format!("{message}: {url}");
    }
    if !source.is_empty() {
        message = format!("{message} ({source})");
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_stable_and_bounded() {
        let w = Duration::from_secs(15);
        assert_eq!(spread_offset("dlh-ispu", w), spread_offset("dlh-ispu", w));
        assert!(spread_offset("a", w) < w);
        assert_ne!(spread_offset("a", w), spread_offset("b", w));
        assert_eq!(spread_offset("a", Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn only_spread_feeds_move_and_never_past_a_quarter_period() {
        use chrono::TimeZone;
        let tz = chrono_tz::Asia::Jakarta;
        let fire = Utc.with_ymd_and_hms(2026, 11, 28, 1, 5, 0).unwrap();
        let every5 = Schedule::parse("*/5 * * * *").unwrap();
        assert_eq!(
            scheduled_instant(&every5, "a", false, fire, tz),
            (fire, Duration::ZERO)
        );
        let (at, offset) = scheduled_instant(&every5, "a", true, fire, tz);
        assert_eq!(offset, spread_offset("a", MAX_SPREAD));
        assert_eq!(at - fire, chrono::Duration::from_std(offset).unwrap());
        // Every 2 s: the window is a quarter of the period, 500 ms.
        let every2 = Schedule::parse("*/2 * * * * *").unwrap();
        let (_, offset) = scheduled_instant(&every2, "a", true, fire, tz);
        assert_eq!(offset, spread_offset("a", Duration::from_millis(500)));
        assert!(offset < Duration::from_millis(500));
    }
}
