//! The poller: one engine for every feed format. It sleeps until each feed's next cron fire
//! (plus a fixed per-feed offset so feeds sharing a schedule are spread), fetches with a timeout
//! and a size limit, retries with backoff inside the tick, extracts points with the feed's
//! format, validates them like department posts, and sends them to the writer as `feed:<id>`.
//!
//! A failing feed never delays the others: each feed has its own task; at most
//! `MAX_CONCURRENT_POLLS` polls run at once; a tick that finds the last run still going is
//! skipped and recorded. Every run is recorded in the database and in `FeedHealth`.

use crate::app::App;
use crate::domain::{Source, format_instant};
use crate::feeds::health::RunView;
use crate::feeds::{ExtractContext, FeedSpec, HeaderValue};
use crate::ingest::{RawRow, RawTime, RawValue, Rejection, validate};
use crate::store::{FeedRunRecord, ObservationBatch, Origin, WriteCommand, WriteOutcome};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, watch};

/// Polls running at the same time, across all feeds.
pub const MAX_CONCURRENT_POLLS: usize = 32;
/// Pages one poll may follow (CKAN paging).
pub const MAX_PAGES: usize = 1000;

/// Runs every configured feed until shutdown; restarts the schedules after a reload.
pub async fn run(app: App, mut stop: watch::Receiver<bool>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(5))
        .user_agent(concat!("pantau/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the HTTP client; feeds are not polled");
            return;
        }
    };
    let permits = Arc::new(Semaphore::new(MAX_CONCURRENT_POLLS));
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
        let (feed_stop_tx, feed_stop_rx) = watch::channel(false);
        let mut tasks = tokio::task::JoinSet::new();
        for spec in config.feeds.iter().cloned() {
            let previous = in_flight.remove(spec.id.as_str());
            tasks.spawn(feed_loop(
                app.clone(),
                client.clone(),
                spec,
                permits.clone(),
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
            // Polls in flight finish (each is bounded by its timeout) so nothing half-written is
            // lost.
            for poll in in_flight.into_values().chain(retired) {
                let _ = poll.await;
            }
            return;
        }
    }
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

async fn feed_loop(
    app: App,
    client: reqwest::Client,
    spec: FeedSpec,
    permits: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
    mut running: Option<tokio::task::JoinHandle<()>>,
) -> (String, Option<tokio::task::JoinHandle<()>>) {
    let id = spec.id.to_string();
    let spec = Arc::new(spec);
    let mut first = spec.run_at_start;
    loop {
        let tz = app.tz();
        let now = chrono::Utc::now();
        let wait = if first {
            first = false;
            app.feeds
                .with(&id, |s| s.next_run = Some(now.timestamp_millis()));
            Duration::ZERO
        } else {
            let Some(next) = spec.schedule.next_after(now, tz) else {
                app.feeds.with(&id, |s| s.next_run = None);
                let _ = stop.wait_for(|s| *s).await;
                break;
            };
            let period = spec
                .schedule
                .next_after(next, tz)
                .map(|n2| (n2 - next).to_std().unwrap_or_default())
                .unwrap_or_default();
            let offset = spread_offset(&id, (period / 4).min(Duration::from_secs(30)));
            let at = next + chrono::Duration::from_std(offset).unwrap_or_default();
            app.feeds
                .with(&id, |s| s.next_run = Some(at.timestamp_millis()));
            (at - now).to_std().unwrap_or_default()
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        if running.as_ref().is_some_and(|h| !h.is_finished()) {
            tracing::warn!(feed = %id, "previous poll still running; this tick is skipped");
            app.feeds.with(&id, |s| s.skipped_total += 1);
            continue;
        }
        let (app2, client2, spec2, permits2) =
            (app.clone(), client.clone(), spec.clone(), permits.clone());
        running = Some(tokio::spawn(async move {
            let Ok(_permit) = permits2.acquire_owned().await else {
                return;
            };
            poll_and_record(&app2, &client2, &spec2).await;
        }));
    }
    // A poll still in flight is handed back to `run`, which decides whether to wait for it.
    (id, running.filter(|h| !h.is_finished()))
}

/// What one poll produced before it was written.
struct Fetched {
    http_status: Option<u16>,
    points: Vec<crate::feeds::FeedPoint>,
    /// Values the pages left out (missing, not finite), with examples.
    skipped: crate::feeds::Skipped,
}

/// Polls once, writes the points, records the run.
pub async fn poll_and_record(app: &App, client: &reqwest::Client, spec: &FeedSpec) {
    let id = spec.id.to_string();
    app.feeds.with(&id, |s| s.running = true);
    let started = chrono::Utc::now().timestamp_millis();
    let clock = std::time::Instant::now();
    let tz = app.tz();
    let result = fetch_with_retries(client, spec, tz).await;
    let (mut points_read, mut new, mut corrected, mut rejected) = (0u64, 0u64, 0u64, 0u64);
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
            match write_points(app, spec, f.points, run).await {
                Ok(w) => {
                    new = w.new;
                    corrected = w.corrected;
                    rejected = w.rejected;
                    recorded = w.recorded;
                    None
                }
                Err(e) => Some(e),
            }
        }
    };
    let duration_ms = clock.elapsed().as_millis() as i64;
    if let Some(e) = &error {
        tracing::warn!(feed = %id, error = %e, "feed poll failed");
    } else {
        tracing::debug!(feed = %id, points_read, new, corrected, "feed polled");
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
    let was_up = app
        .feeds
        .with(&id, |s| s.last_run.as_ref().map(|(_, r)| r.error.is_none()))
        .flatten();
    let up = error.is_none();
    // A feed going down (or failing from the start) and coming back are events for the wall.
    if was_up != Some(up) && (was_up.is_some() || !up) {
        app.hub
            .publish_events(vec![crate::progress::state::StatusEvent {
                time: format_instant(chrono::Utc::now().timestamp_millis(), tz),
                kind: if up { "feed_up" } else { "feed_down" },
                item_type: "feed",
                id: id.clone(),
                name: format!("{} ({})", id, spec.department),
                from: None,
                to: None,
                message: error.clone(),
            }]);
    }
    app.feeds.with(&id, |s| {
        s.running = false;
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

/// What `write_points` stored.
#[derive(Debug, Default)]
struct Written {
    new: u64,
    corrected: u64,
    rejected: u64,
    /// The run record was stored with the points (else the caller records the run).
    recorded: bool,
}

/// Validates points like a department post (dropping, and counting, the invalid ones) and
/// writes them together with the record of the run that read them.
async fn write_points(
    app: &App,
    spec: &FeedSpec,
    points: Vec<crate::feeds::FeedPoint>,
    run: FeedRunRecord,
) -> Result<Written, String> {
    if points.is_empty() {
        return Ok(Written::default());
    }
    let config = app.config();
    let tz = config.settings.city.time_zone;
    let now = chrono::Utc::now().timestamp_millis();
    let rows: Vec<RawRow> = points
        .into_iter()
        .enumerate()
        .map(|(i, p)| RawRow {
            line: i + 1,
            indicator: Some(p.indicator),
            time: Some(RawTime::Instant(p.time.unwrap_or(now))),
            value: Some(RawValue::Number(p.value)),
            note: None,
        })
        .collect();
    let total = rows.len() as u64;
    // First pass finds the bad rows; the feed keeps the good ones (a single out-of-range value in
    // a portal's history must not stop the whole feed).
    let observations = match validate(
        &config.masterplan,
        tz,
        now,
        Some(&spec.department),
        rows.clone(),
    ) {
        Ok(o) => o,
        Err(Rejection::NotOwner(e)) | Err(Rejection::Invalid(e)) => {
            let bad: std::collections::HashSet<usize> = e.iter().map(|r| r.row).collect();
            let good: Vec<RawRow> = rows
                .into_iter()
                .filter(|r| !bad.contains(&r.line))
                .collect();
            if good.is_empty() {
                let first = &e[0];
                return Err(format!(
                    "no valid points: {} ({}: {}); {}",
                    e.len(),
                    first.field,
                    first.reason,
                    first.fix
                ));
            }
            match validate(&config.masterplan, tz, now, Some(&spec.department), good) {
                Ok(o) => o,
                Err(_) => return Err("points could not be validated".into()),
            }
        }
    };
    let kept = observations.len() as u64;
    let outcome = app
        .writer
        .submit(WriteCommand::FeedPoll {
            points: ObservationBatch {
                origin: Origin {
                    source: Source::Feed(spec.id.clone()),
                    department: Some(spec.department.clone()),
                    token_id: None,
                },
                rows: observations,
            },
            run,
        })
        .await
        .map_err(|e| e.to_string())?;
    let (new, corrected) = match outcome {
        WriteOutcome::Observations { new, corrected, .. } => (new, corrected),
        _ => (0, 0),
    };
    Ok(Written {
        new,
        corrected,
        rejected: total - kept,
        recorded: true,
    })
}

fn retryable(status: Option<u16>) -> bool {
    status.is_none_or(|s| s >= 500 || s == 429)
}

async fn fetch_with_retries(
    client: &reqwest::Client,
    spec: &FeedSpec,
    tz: chrono_tz::Tz,
) -> Result<Fetched, (Option<u16>, String)> {
    let mut attempt = 0;
    loop {
        let r = tokio::time::timeout(spec.timeout, fetch_all_pages(client, spec, tz)).await;
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
    client: &reqwest::Client,
    spec: &FeedSpec,
    tz: chrono_tz::Tz,
) -> Result<Fetched, (Option<u16>, String, bool)> {
    let mut url = spec.format.first_url(&spec.url);
    let mut points = Vec::new();
    let mut skipped = crate::feeds::Skipped::default();
    let mut status = None;
    for _ in 0..MAX_PAGES {
        let mut req = client.get(url.clone());
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
                        "the response is larger than max_bytes = {}; raise it or fetch less",
                        spec.max_bytes
                    ),
                    false,
                ));
            }
            body.extend_from_slice(&chunk);
        }
        let ctx = ExtractContext {
            tz,
            now: chrono::Utc::now().timestamp_millis(),
        };
        let page = spec.format.extract(&body, &spec.url, &url, &ctx).map_err(|e| {
            let expected = spec.format.expected_content_types();
            let hint = if !content_type.is_empty() && !expected.iter().any(|x| content_type.contains(x)) {
                format!(" (the response's content type `{content_type}` is not what a {} feed sends)", spec.format.name())
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
    } else if e.is_body() || e.is_decode() {
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
    if source.is_empty() {
        format!("{what}: {url}")
    } else {
        format!("{what}: {url} ({source})")
    }
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
}
