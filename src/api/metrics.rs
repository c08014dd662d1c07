//! `/metrics` in Prometheus text format: writer queue and commits, observations, HTTP requests
//! by route and status, connections (open, accepted, closed to make room, refused), connected
//! screens, and each feed's health: up, late, durations, errors,
//! the lateness of its scheduled polls (a histogram) and its skipped ticks by cause; and
//! scheduled backups (when `[storage.backup]` is on): last success, failures, size, duration.

use crate::app::App;
use crate::feeds::health::LATENESS_BUCKETS_MS;
use std::fmt::Write;
use std::sync::atomic::Ordering;

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Renders every metric.
pub fn render(app: &App) -> String {
    let mut out = String::new();
    let m = app.writer.metrics();
    let gauge = |out: &mut String, name: &str, help: &str, kind: &str, v: f64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
        );
    };
    gauge(
        &mut out,
        "pantau_writer_queue_depth",
        "Write commands waiting for the writer.",
        "gauge",
        m.queue_depth.load(Ordering::Relaxed).max(0) as f64,
    );
    gauge(
        &mut out,
        "pantau_writer_commits_total",
        "Transactions committed by the writer.",
        "counter",
        m.commits.load(Ordering::Relaxed) as f64,
    );
    gauge(
        &mut out,
        "pantau_writer_commands_total",
        "Write commands committed.",
        "counter",
        m.commands.load(Ordering::Relaxed) as f64,
    );
    gauge(
        &mut out,
        "pantau_writer_failed_commits_total",
        "Transactions that could not be committed.",
        "counter",
        m.failed_commits.load(Ordering::Relaxed) as f64,
    );
    gauge(
        &mut out,
        "pantau_observations_new_total",
        "New observations stored since start.",
        "counter",
        m.observations_new.load(Ordering::Relaxed) as f64,
    );
    gauge(
        &mut out,
        "pantau_observations_corrected_total",
        "Observations corrected since start.",
        "counter",
        m.observations_corrected.load(Ordering::Relaxed) as f64,
    );
    gauge(
        &mut out,
        "pantau_external_commits_total",
        "Commits by other processes (pantau import, pantau token) picked up from the change log.",
        "counter",
        m.external_changes.load(Ordering::Relaxed) as f64,
    );
    let r = &app.reminders;
    for (name, help, v) in [
        (
            "pantau_reminder_emails_sent_total",
            "Reminder e-mails sent to departments about overdue updates.",
            &r.emails_sent,
        ),
        (
            "pantau_reminder_email_failures_total",
            "Reminder e-mails that could not be sent (retried at the next look).",
            &r.email_failures,
        ),
        (
            "pantau_reminder_digests_sent_total",
            "Daily digest e-mails sent to departments.",
            &r.digests_sent,
        ),
        (
            "pantau_reminder_events_total",
            "update_overdue events published (webhooks and the wall).",
            &r.events,
        ),
    ] {
        gauge(
            &mut out,
            name,
            help,
            "counter",
            v.load(Ordering::Relaxed) as f64,
        );
    }
    let stored = app
        .progress
        .lock()
        .map(|s| s.stored_points() as f64)
        .unwrap_or(0.0);
    gauge(
        &mut out,
        "pantau_observations_stored",
        "Observations of masterplan indicators held in the progress state.",
        "gauge",
        stored,
    );
    // The masterplan's indicators by status, and how many are stale or overdue (what the wall's
    // overview counts), so that an alert can watch departments falling silent.
    let counts = app
        .progress
        .lock()
        .map(|s| s.snapshot().masterplan.counts)
        .unwrap_or_default();
    let name = "pantau_indicators";
    let _ = writeln!(
        out,
        "# HELP {name} Indicators of the masterplan by progress status.\n# TYPE {name} gauge"
    );
    for (status, n) in [
        ("no_data", counts.no_data),
        ("achieved", counts.achieved),
        ("on_track", counts.on_track),
        ("at_risk", counts.at_risk),
        ("off_track", counts.off_track),
    ] {
        let _ = writeln!(out, "{name}{{status=\"{status}\"}} {n}");
    }
    gauge(
        &mut out,
        "pantau_indicators_stale",
        "Indicators whose newest observation is older than update_every plus the grace period.",
        "gauge",
        f64::from(counts.stale),
    );
    gauge(
        &mut out,
        "pantau_indicators_overdue",
        "Indicators past their final target date and not achieved.",
        "gauge",
        f64::from(counts.overdue),
    );
    gauge(
        &mut out,
        "pantau_screens_connected",
        "Websocket screens connected.",
        "gauge",
        app.screens.count() as f64,
    );
    let c = &app.connections;
    gauge(
        &mut out,
        "pantau_http_connections_open",
        "HTTP connections open now (a websocket leaves them once upgraded and counts as a screen).",
        "gauge",
        c.open.load(Ordering::Relaxed) as f64,
    );
    gauge(
        &mut out,
        "pantau_http_connections_accepted_total",
        "HTTP connections accepted and given a slot (those refused at once are counted apart).",
        "counter",
        c.accepted.load(Ordering::Relaxed) as f64,
    );
    gauge(
        &mut out,
        "pantau_http_connections_made_room_total",
        "Connections closed, while waiting for a request, to make room for a new one when every slot (max_connections) was taken.",
        "counter",
        c.made_room.load(Ordering::Relaxed) as f64,
    );
    gauge(
        &mut out,
        "pantau_http_connections_refused_total",
        "New connections closed at once because every slot (max_connections) served a request.",
        "counter",
        c.refused.load(Ordering::Relaxed) as f64,
    );
    gauge(
        &mut out,
        "pantau_live_seq",
        "Sequence number of the last live delta.",
        "gauge",
        app.hub.seq() as f64,
    );
    let _ = writeln!(
        out,
        "# HELP pantau_http_requests_total HTTP requests by route and status.\n# TYPE pantau_http_requests_total counter"
    );
    if let Ok(c) = app.http.counts.lock() {
        for ((route, status), n) in c.iter() {
            let _ = writeln!(
                out,
                "pantau_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
    }
    let feeds = app.feeds.list();
    let per_feed = |out: &mut String,
                    name: &str,
                    help: &str,
                    kind: &str,
                    value: &dyn Fn(&crate::feeds::health::FeedMetric) -> f64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for f in &feeds {
            let _ = writeln!(out, "{name}{{feed=\"{}\"}} {}", escape(&f.id), value(f));
        }
    };
    per_feed(
        &mut out,
        "pantau_feed_up",
        "Whether the feed's last poll succeeded and no poll of it has run past its schedule period.",
        "gauge",
        &|f| f64::from(u8::from(f.up)),
    );
    per_feed(
        &mut out,
        "pantau_feed_late",
        "Whether a poll of the feed has been running past its schedule period (a hanging upstream).",
        "gauge",
        &|f| f64::from(u8::from(f.late)),
    );
    per_feed(
        &mut out,
        "pantau_feed_running_seconds",
        "How long the feed's poll in flight has been running (0 when none is).",
        "gauge",
        &|f| f.running_ms as f64 / 1000.0,
    );
    per_feed(
        &mut out,
        "pantau_feed_last_duration_seconds",
        "Duration of the feed's last poll.",
        "gauge",
        &|f| f.last_duration_ms as f64 / 1000.0,
    );
    per_feed(
        &mut out,
        "pantau_feed_errors_total",
        "Failed polls of the feed since start.",
        "counter",
        &|f| f.errors_total as f64,
    );
    per_feed(
        &mut out,
        "pantau_feed_polls_total",
        "Polls of the feed since start.",
        "counter",
        &|f| f.polls_total as f64,
    );
    per_feed(
        &mut out,
        "pantau_feed_last_lateness_seconds",
        "How late the feed's last scheduled poll started against its scheduled instant.",
        "gauge",
        &|f| f.lateness.last_ms.unwrap_or(0) as f64 / 1000.0,
    );
    let name = "pantau_feed_lateness_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} How late the feed's scheduled polls started against their scheduled instants.\n# TYPE {name} histogram"
    );
    for f in &feeds {
        let feed = escape(&f.id);
        let l = &f.lateness;
        for (bound, n) in LATENESS_BUCKETS_MS.iter().zip(l.buckets.iter()) {
            let le = *bound as f64 / 1000.0;
            let _ = writeln!(out, "{name}_bucket{{feed=\"{feed}\",le=\"{le}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{feed=\"{feed}\",le=\"+Inf\"}} {}\n{name}_sum{{feed=\"{feed}\"}} {}\n{name}_count{{feed=\"{feed}\"}} {}",
            l.count,
            l.sum_ms as f64 / 1000.0,
            l.count
        );
    }
    let name = "pantau_feed_skipped_ticks_total";
    let _ = writeln!(
        out,
        "# HELP {name} Scheduled ticks of the feed that started no poll, by cause: previous_poll_running (the feed's own previous poll was still running) or scheduler_behind (the tick was reached only after the next one was due).\n# TYPE {name} counter"
    );
    for f in &feeds {
        for (cause, n) in &f.skipped {
            let _ = writeln!(
                out,
                "{name}{{feed=\"{}\",cause=\"{}\"}} {n}",
                escape(&f.id),
                cause.as_str()
            );
        }
    }
    backups(&mut out, app);
    out
}

/// Scheduled backups, only when they are configured (so an alert on them can tell "off" from
/// "never succeeded": the metrics are absent when off).
fn backups(out: &mut String, app: &App) {
    let Some(b) = app.backups.get() else {
        return;
    };
    let seconds = |ms: i64| ms as f64 / 1000.0;
    let rows: [(&str, &str, &str, f64); 9] = [
        (
            "pantau_backup_interval_seconds",
            "Configured time between scheduled backups ([storage.backup] every).",
            "gauge",
            b.plan.every.as_secs_f64(),
        ),
        (
            "pantau_backup_last_success_timestamp_seconds",
            "When the newest good backup was written (Unix time; after a restart, the newest file in the backup folder; 0 when there is none).",
            "gauge",
            b.last_success.as_ref().map_or(0.0, |(t, _)| seconds(*t)),
        ),
        (
            "pantau_backup_last_attempt_timestamp_seconds",
            "When the last scheduled backup started (Unix time; 0 before the first).",
            "gauge",
            b.last.as_ref().map_or(0.0, |r| seconds(r.started)),
        ),
        (
            "pantau_backup_last_ok",
            "Whether the last scheduled backup succeeded (1) or failed (0); 1 before the first.",
            "gauge",
            b.last
                .as_ref()
                .map_or(1.0, |r| f64::from(u8::from(r.file.is_some()))),
        ),
        (
            "pantau_backup_last_size_bytes",
            "Size of the last backup written.",
            "gauge",
            b.last.as_ref().and_then(|r| r.bytes).unwrap_or(0) as f64,
        ),
        (
            "pantau_backup_last_duration_seconds",
            "How long the last scheduled backup took (copy, integrity check, sync, rotation).",
            "gauge",
            b.last
                .as_ref()
                .map_or(0.0, |r| r.duration_ms as f64 / 1000.0),
        ),
        (
            "pantau_backup_files",
            "Backups kept in the backup folder.",
            "gauge",
            b.files as f64,
        ),
        (
            "pantau_backup_successes_total",
            "Scheduled backups written since start.",
            "counter",
            b.successes_total as f64,
        ),
        (
            "pantau_backup_failures_total",
            "Scheduled backups that failed since start.",
            "counter",
            b.failures_total as f64,
        ),
    ];
    for (name, help, kind, value) in rows {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
}
