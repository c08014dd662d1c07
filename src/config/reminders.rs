//! `[reminders]` and `[smtp]` of `pantau.toml`: whether departments are told when an update is
//! overdue, how often pantau looks, an optional daily digest, and the mail server to send
//! through. The SMTP password may be an `env:NAME` reference and is never printed.

use super::Problem;
use super::settings::Secret;
use super::table::FieldReader;
use crate::feeds::Schedule;
use std::time::Duration;

/// `[reminders]`.
#[derive(Debug, Clone)]
pub struct RemindersSettings {
    pub enabled: bool,
    /// How often overdue updates are looked for.
    pub check_every: Duration,
    /// When set, e-mails go out as one digest per department on this schedule (crontab, city
    /// time) instead of as soon as an update is overdue.
    pub digest: Option<Schedule>,
    /// Base address of the department pages linked from e-mails (default `[server] public_url`).
    pub link: Option<String>,
}

/// How the connection to the mail server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (port 587).
    StartTls,
    /// TLS from the start (port 465).
    Tls,
    /// No encryption: only for a relay on the same machine or network.
    None,
}

/// `[smtp]`.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// None: no e-mail is sent (webhook events still are).
    pub host: Option<String>,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// The sender, e.g. `pantau <pantau@mojokertokota.go.id>`.
    pub from: String,
    pub timeout: Duration,
}

impl Default for RemindersSettings {
    fn default() -> Self {
        RemindersSettings {
            enabled: false,
            check_every: Duration::from_secs(60),
            digest: None,
            link: None,
        }
    }
}

impl Default for SmtpSettings {
    fn default() -> Self {
        SmtpSettings {
            host: None,
            port: 587,
            security: SmtpSecurity::StartTls,
            username: None,
            password: None,
            from: "pantau <pantau@localhost>".into(),
            timeout: Duration::from_secs(10),
        }
    }
}

fn duration(r: &mut FieldReader<'_>, key: &'static str, default: Duration) -> Duration {
    match r.opt_string(key) {
        None => default,
        Some(t) => match super::masterplan::parse_duration(&t) {
            Ok(d) if d >= Duration::from_secs(1) => d,
            Ok(_) => {
                r.problem(key, "must be at least 1s");
                default
            }
            Err(e) => {
                r.problem(key, e);
                default
            }
        },
    }
}

/// Reads both sections, reporting every problem.
pub fn parse(
    reminders: &toml::Table,
    smtp: &toml::Table,
    file: &str,
    env: &[(String, String)],
    problems: &mut Vec<Problem>,
) -> (RemindersSettings, SmtpSettings) {
    let mut r = FieldReader::new(file, "[reminders]".into(), reminders, problems);
    let d = RemindersSettings::default();
    let enabled = r.opt_bool("enabled").unwrap_or(d.enabled);
    let check_every = duration(&mut r, "check_every", d.check_every);
    let digest = match r.opt_string("digest") {
        None => None,
        Some(s) if s.trim().is_empty() => None,
        Some(s) => match Schedule::parse(&s) {
            Ok(s) => Some(s),
            Err(e) => {
                r.problem("digest", e);
                None
            }
        },
    };
    let link = r.opt_string("link").filter(|l| !l.trim().is_empty());
    if let Some(l) = &link {
        if !(l.starts_with("http://") || l.starts_with("https://")) {
            r.problem(
                "link",
                format!("`{l}` is not an http(s) address; write e.g. \"https://pantau.mojokertokota.go.id\""),
            );
        }
    }
    r.finish();

    let mut s = FieldReader::new(file, "[smtp]".into(), smtp, problems);
    let ds = SmtpSettings::default();
    let host = s.opt_string("host").filter(|h| !h.trim().is_empty());
    let port = match s.opt_integer("port") {
        None => None,
        Some(p) if (1..=65535).contains(&p) => Some(p as u16),
        Some(p) => {
            s.problem(
                "port",
                format!("{p} is not a port; use 1 to 65535 (587 for STARTTLS, 465 for TLS)"),
            );
            None
        }
    };
    let security = match s.opt_string("security").as_deref() {
        None | Some("starttls") => SmtpSecurity::StartTls,
        Some("tls") => SmtpSecurity::Tls,
        Some("none") => SmtpSecurity::None,
        Some(other) => {
            s.problem(
                "security",
                format!("`{other}` is not a choice; use \"starttls\" (port 587), \"tls\" (465) or \"none\" (a relay on this machine)"),
            );
            SmtpSecurity::StartTls
        }
    };
    let port = port.unwrap_or(match security {
        SmtpSecurity::Tls => 465,
        SmtpSecurity::StartTls => 587,
        SmtpSecurity::None => 25,
    });
    let username = s.opt_string("username").filter(|u| !u.is_empty());
    let password = match s.opt_string("password") {
        None => None,
        Some(p) if p.is_empty() => None,
        Some(p) => match p.strip_prefix("env:") {
            Some(var) => match env.iter().find(|(k, _)| k == var) {
                Some((_, v)) => Some(Secret::new(v.clone())),
                None => {
                    s.problem(
                        "password",
                        format!("reads environment variable `{var}`, which is not set; set it where pantau runs before starting it"),
                    );
                    None
                }
            },
            None => Some(Secret::new(p)),
        },
    };
    let from = s.opt_string("from").unwrap_or(ds.from);
    if from.parse::<lettre::message::Mailbox>().is_err() {
        s.problem(
            "from",
            format!("`{from}` is not a sender address; write e.g. \"pantau <pantau@mojokertokota.go.id>\""),
        );
    }
    let timeout = duration(&mut s, "timeout", ds.timeout);
    s.finish();
    if enabled && host.is_none() {
        // Not a problem: the webhook events go out; e-mail needs a server.
        tracing::debug!("reminders are on without [smtp] host: only webhook events are sent");
    }
    (
        RemindersSettings {
            enabled,
            check_every,
            digest,
            link,
        },
        SmtpSettings {
            host,
            port,
            security,
            username,
            password,
            from,
            timeout,
        },
    )
}
