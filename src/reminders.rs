//! Reminders: when an indicator's update is due and no value has come, its department is told —
//! by e-mail (SMTP, in Bahasa Indonesia, with the indicators, their periods and due dates and a
//! link to the department page) and as an `update_overdue` event (which reaches webhooks and
//! the wall). At most once per indicator, reporting period and channel, kept in the database so
//! that a restart sends nothing twice; optionally one digest per department on a schedule.
//!
//! The task runs on its own: a mail server that is down or slow delays nothing else (each send
//! has a deadline; failures are counted in `/metrics` and retried at the next look).

use crate::app::App;
use crate::config::Config;
use crate::config::reminders::{SmtpSecurity, SmtpSettings};
use crate::domain::{Millis, format_instant, local_date};
use crate::progress::compliance::{Period, overdue_period};
use crate::store::{ReminderRecord, WriteCommand};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::Ordering;
use tokio::sync::watch;

/// What was sent already: (subject, period start, channel).
type Sent = HashSet<(String, Millis, String)>;

/// One overdue update.
#[derive(Debug, Clone)]
struct Overdue {
    indicator: String,
    name: String,
    department: String,
    period: Period,
}

fn now() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

/// Runs until shutdown.
pub async fn run(app: App, mut stop: watch::Receiver<bool>) {
    let mut sent: Sent = Sent::new();
    let mut loaded = false;
    let mut next_digest: Option<Millis> = None;
    loop {
        let config = app.config();
        let settings = &config.settings.reminders;
        if !app.storage.polls() {
            // Another daemon on the same PostgreSQL database sends them; what it sent is read
            // again when this one takes over.
            sent = Sent::new();
            loaded = false;
        } else if settings.enabled {
            if !loaded {
                // Reminders about periods of the last 400 days: older ones are never asked for.
                let since = now() - 400 * 86_400_000;
                match app.reads.run(move |c| c.reminders_since(since)).await {
                    Ok(rows) => {
                        sent.extend(rows);
                        loaded = true;
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot read the reminders sent so far"),
                }
            }
            if loaded {
                look(&app, &config, &mut sent, &mut next_digest).await;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(settings.check_every) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Every overdue update at `now`.
fn overdue_now(app: &App, config: &Config, now: Millis) -> Vec<Overdue> {
    let data = {
        let state = match app.progress.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        state.data()
    };
    let tz = config.settings.city.time_zone;
    let grace = config.settings.progress.thresholds.stale_grace;
    data.plan
        .indicators
        .iter()
        .enumerate()
        .filter_map(|(i, ind)| {
            let period = overdue_period(ind, &data.series[i], now, grace, tz)?;
            Some(Overdue {
                indicator: ind.id.to_string(),
                name: ind.name.clone(),
                department: ind.department.to_string(),
                period,
            })
        })
        .collect()
}

async fn look(app: &App, config: &Config, sent: &mut Sent, next_digest: &mut Option<Millis>) {
    let now = now();
    let tz = config.settings.city.time_zone;
    let settings = &config.settings.reminders;
    let overdue = overdue_now(app, config, now);
    let key =
        |o: &Overdue, channel: &str| (o.indicator.clone(), o.period.start, channel.to_string());

    // Events (webhooks and the wall), once each.
    let fresh: Vec<&Overdue> = overdue
        .iter()
        .filter(|o| !sent.contains(&key(o, "webhook")))
        .collect();
    if !fresh.is_empty() {
        let events = fresh
            .iter()
            .map(|o| crate::progress::state::StatusEvent {
                time: format_instant(now, tz),
                kind: "update_overdue",
                item_type: "indicator",
                id: o.indicator.clone(),
                name: o.name.clone(),
                from: None,
                to: None,
                message: Some(format!(
                    "{}: nilai periode {} belum masuk (tenggat {})",
                    o.department,
                    period_text(&o.period, tz),
                    format_instant(o.period.deadline, tz)
                )),
            })
            .collect();
        app.hub.publish_events(events);
        app.reminders
            .events
            .fetch_add(fresh.len() as u64, Ordering::Relaxed);
        let records: Vec<ReminderRecord> = fresh
            .iter()
            .map(|o| ReminderRecord {
                subject: o.indicator.clone(),
                period_start: o.period.start,
                channel: "webhook".into(),
            })
            .collect();
        if record(app, records).await {
            for o in &fresh {
                sent.insert(key(o, "webhook"));
            }
        }
    }

    let Some(host) = config.settings.smtp.host.clone() else {
        return;
    };
    let by_department = |list: Vec<&Overdue>| {
        let mut m: BTreeMap<String, Vec<Overdue>> = BTreeMap::new();
        for o in list {
            m.entry(o.department.clone()).or_default().push(o.clone());
        }
        m
    };
    match &settings.digest {
        None => {
            let fresh: Vec<&Overdue> = overdue
                .iter()
                .filter(|o| !sent.contains(&key(o, "email")))
                .collect();
            for (department, list) in by_department(fresh) {
                let Some(to) = recipients(config, &department) else {
                    continue;
                };
                if send(app, config, &host, &department, &to, &list, false).await {
                    app.reminders.emails_sent.fetch_add(1, Ordering::Relaxed);
                    let records = list
                        .iter()
                        .map(|o| ReminderRecord {
                            subject: o.indicator.clone(),
                            period_start: o.period.start,
                            channel: "email".into(),
                        })
                        .collect();
                    if record(app, records).await {
                        for o in &list {
                            sent.insert(key(o, "email"));
                        }
                    }
                }
            }
        }
        Some(schedule) => {
            let due = match *next_digest {
                Some(at) => at,
                None => {
                    let first = schedule
                        .next_after(chrono::Utc::now(), tz)
                        .map(|t| t.timestamp_millis());
                    *next_digest = first;
                    return;
                }
            };
            if now < due {
                return;
            }
            for (department, list) in by_department(overdue.iter().collect()) {
                let subject = format!("digest:{department}");
                if sent.contains(&(subject.clone(), due, "digest".to_string())) {
                    continue;
                }
                let Some(to) = recipients(config, &department) else {
                    continue;
                };
                if send(app, config, &host, &department, &to, &list, true).await {
                    app.reminders.digests_sent.fetch_add(1, Ordering::Relaxed);
                    let records = vec![ReminderRecord {
                        subject: subject.clone(),
                        period_start: due,
                        channel: "digest".into(),
                    }];
                    if record(app, records).await {
                        sent.insert((subject, due, "digest".to_string()));
                    }
                }
            }
            *next_digest = schedule
                .next_after(chrono::Utc::now(), tz)
                .map(|t| t.timestamp_millis());
        }
    }
}

/// The department's addresses, or None when it has none (it is listed in `/api/v1/compliance`).
fn recipients(config: &Config, department: &str) -> Option<Vec<String>> {
    config
        .masterplan
        .department(department)
        .map(|d| d.emails.clone())
        .filter(|e| !e.is_empty())
}

async fn record(app: &App, records: Vec<ReminderRecord>) -> bool {
    match app.writer.submit(WriteCommand::Reminders(records)).await {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(error = %e, "cannot record the reminders sent; they may go out again");
            false
        }
    }
}

/// `1 November 2026 – 30 November 2026`, or one date for a period of a day.
fn period_text(p: &Period, tz: chrono_tz::Tz) -> String {
    let locale = crate::config::Locale::Id;
    let (Some(first), Some(last)) = (local_date(p.start, tz), local_date(p.end - 1, tz)) else {
        return String::new();
    };
    if first == last {
        crate::locale::format_date(first, locale)
    } else {
        format!(
            "{} – {}",
            crate::locale::format_date(first, locale),
            crate::locale::format_date(last, locale)
        )
    }
}

/// The e-mail about `list` for a department (in Bahasa Indonesia).
pub fn message_text(
    config: &Config,
    department: &str,
    list: &[(String, String, Period)],
    digest: bool,
) -> (String, String) {
    let tz = config.settings.city.time_zone;
    let city = &config.settings.city.name;
    let name = config
        .masterplan
        .department(department)
        .map_or(department.to_string(), |d| d.name.clone());
    let n = list.len();
    let subject = format!("[pantau] {city}: {n} indikator {name} belum diperbarui");
    let link = config
        .settings
        .reminders
        .link
        .clone()
        .or_else(|| {
            config
                .settings
                .server
                .public_url
                .clone()
                .map(|u| u.to_string())
        })
        .map(|base| format!("{}/department/{department}", base.trim_end_matches('/')));
    let mut body = format!("Yth. Kepala {name},\n\n");
    body.push_str(if digest {
        "Ringkasan harian: nilai indikator berikut belum masuk ke pantau sampai tenggatnya.\n\n"
    } else {
        "Nilai indikator berikut belum masuk ke pantau sampai tenggatnya.\n\n"
    });
    for (id, indicator, p) in list {
        let deadline = local_date(p.deadline, tz)
            .map(|d| crate::locale::format_date(d, crate::config::Locale::Id))
            .unwrap_or_default();
        body.push_str(&format!(
            "- {indicator} ({id})\n  periode: {}\n  tenggat: {deadline}\n",
            period_text(p, tz)
        ));
    }
    match link {
        Some(l) => body.push_str(&format!("\nKirim nilainya melalui halaman OPD: {l}\n")),
        None => body.push_str("\nKirim nilainya melalui halaman OPD di pantau.\n"),
    }
    body.push_str(&format!(
        "\nPesan ini dikirim otomatis oleh pantau, {city}. Balasan ke alamat ini tidak dibaca.\n"
    ));
    (subject, body)
}

async fn send(
    app: &App,
    config: &Config,
    host: &str,
    department: &str,
    to: &[String],
    list: &[Overdue],
    digest: bool,
) -> bool {
    let items: Vec<(String, String, Period)> = list
        .iter()
        .map(|o| (o.indicator.clone(), o.name.clone(), o.period))
        .collect();
    let (subject, body) = message_text(config, department, &items, digest);
    let smtp = &config.settings.smtp;
    let result = tokio::time::timeout(smtp.timeout * 3, deliver(host, smtp, to, &subject, &body))
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "no answer from {host} within {:?}",
                smtp.timeout * 3
            ))
        });
    match result {
        Ok(()) => true,
        Err(e) => {
            app.reminders.email_failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(department, error = %e, "a reminder e-mail could not be sent; it is tried again at the next look");
            if let Ok(mut last) = app.reminders.last_error.lock() {
                *last = Some((now(), e));
            }
            false
        }
    }
}

async fn deliver(
    host: &str,
    smtp: &SmtpSettings,
    to: &[String],
    subject: &str,
    body: &str,
) -> Result<(), String> {
    use lettre::message::header::ContentType;
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    let mut message = Message::builder()
        .from(
            smtp.from
                .parse()
                .map_err(|e| format!("the sender `{}`: {e}", smtp.from))?,
        )
        .subject(subject)
        .header(ContentType::TEXT_PLAIN);
    for address in to {
        message = message.to(address
            .parse()
            .map_err(|e| format!("the address `{address}`: {e}"))?);
    }
    let message = message
        .body(body.to_string())
        .map_err(|e| format!("cannot build the message: {e}"))?;
    let builder = match smtp.security {
        SmtpSecurity::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
            .map_err(|e| format!("{host}: {e}"))?,
        SmtpSecurity::Tls => {
            AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(|e| format!("{host}: {e}"))?
        }
        SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
    };
    let mut builder = builder.port(smtp.port).timeout(Some(smtp.timeout));
    if let Some(user) = &smtp.username {
        let password = smtp
            .password
            .as_ref()
            .map(|p| p.expose().to_string())
            .unwrap_or_default();
        builder = builder.credentials(Credentials::new(user.clone(), password));
    }
    builder
        .build()
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| format!("{host}:{}: {e}", smtp.port))
}
