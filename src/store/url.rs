//! Where the store lives: `[storage] url` read as a SQLite file (a plain path or `sqlite:PATH`)
//! or a PostgreSQL server (`postgres://user@host/db`), with the password kept out of every
//! message.
//!
//! The password comes from the URL, from `[storage] password = "env:NAME"`, or from
//! `PGPASSWORD`, in that order. It is never printed: every message shows the URL through
//! `redact`, and `tokio_postgres::Config`'s own `Debug` hides it too. Several hosts
//! (`postgres://a,b/db?target_session_attrs=read-write`) are passed to the client as they are,
//! so that after a failover the client connects to the new primary.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// A PostgreSQL server to store in, with an optional replica for read queries.
#[derive(Clone)]
pub struct PostgresSettings {
    /// The connection for writes (and reads when there is no `read_url`).
    pub config: tokio_postgres::Config,
    /// `url` with its password hidden, for messages.
    pub shown: String,
    /// A replica for read queries (`read_url`).
    pub read: Option<(tokio_postgres::Config, String)>,
    /// How long `pantau run` keeps trying to reach the server at start-up before it gives up
    /// (`[storage] startup_wait`), so that the order in which machines boot does not matter.
    pub startup_wait: Duration,
}

/// `[storage] startup_wait` when it is not set.
pub const DEFAULT_STARTUP_WAIT: Duration = Duration::from_secs(60);

impl std::fmt::Debug for PostgresSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSettings")
            .field("url", &self.shown)
            .field("read_url", &self.read.as_ref().map(|(_, s)| s))
            .field("startup_wait", &self.startup_wait)
            .finish()
    }
}

/// What `[storage] url` names.
#[derive(Debug, Clone)]
pub enum StorageUrl {
    Sqlite(PathBuf),
    Postgres(Box<PostgresSettings>),
}

/// `text` with the password of a `postgres://` URL (and any `password=` parameter) replaced
/// by `***`. Anything else is returned unchanged.
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest = &out[scheme_end + 3..];
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        if let Some(at) = authority.rfind('@') {
            if let Some(colon) = authority[..at].find(':') {
                let start = scheme_end + 3 + colon + 1;
                let end = scheme_end + 3 + at;
                out.replace_range(start..end, "***");
            }
        }
    }
    let lower = out.to_ascii_lowercase();
    if let Some(p) = lower.find("password=") {
        let start = p + "password=".len();
        let end = out[start..]
            .find(['&', ' '])
            .map_or(out.len(), |e| start + e);
        out.replace_range(start..end, "***");
    }
    out
}

/// Reads a `postgres://` or `postgresql://` URL. `password` is `[storage] password` (only the
/// `env:NAME` form, so no password sits in the settings file); `env` is the environment.
pub fn parse_postgres(
    url: &str,
    password: Option<&str>,
    env: &[(String, String)],
) -> Result<tokio_postgres::Config, String> {
    let shown = redact(url);
    let mut config = tokio_postgres::Config::from_str(url.trim()).map_err(|e| {
        format!(
            "`{shown}` is not a PostgreSQL URL ({}); write e.g. \"postgres://pantau@db.example/pantau\"",
            redact(&e.to_string())
        )
    })?;
    if config.get_hosts().is_empty() {
        return Err(format!(
            "`{shown}` names no host; write e.g. \"postgres://pantau@db.example/pantau\""
        ));
    }
    if config.get_user().is_none() {
        return Err(format!(
            "`{shown}` names no user; write it before the host, e.g. \"postgres://pantau@db.example/pantau\""
        ));
    }
    if config.get_password().is_none() {
        let lookup = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        match password {
            Some(p) => {
                let Some(var) = p.strip_prefix("env:") else {
                    return Err("`password` must read `env:NAME` (the environment variable that holds it), so that no password is written in the settings file".into());
                };
                match lookup(var) {
                    Some(v) => {
                        config.password(v);
                    }
                    None => {
                        return Err(format!(
                            "`password` reads environment variable `{var}`, which is not set; set it where pantau runs (the shell, or the service's EnvironmentFile)"
                        ));
                    }
                }
            }
            None => {
                if let Some(v) = lookup("PGPASSWORD") {
                    config.password(v);
                }
            }
        }
    }
    if config.get_dbname().is_none() {
        let user = config.get_user().unwrap_or_default().to_string();
        config.dbname(user);
    }
    config.application_name("pantau");
    config.connect_timeout(Duration::from_secs(5));
    config.keepalives_idle(Duration::from_secs(30));
    Ok(config)
}

/// Whether `url` names a PostgreSQL server.
pub fn is_postgres(url: &str) -> bool {
    let u = url.trim_start();
    u.starts_with("postgres://") || u.starts_with("postgresql://")
}

/// Reads `[storage] url`: a PostgreSQL URL, `sqlite:PATH`, or a plain path.
pub fn parse(
    url: &str,
    read_url: Option<&str>,
    password: Option<&str>,
    env: &[(String, String)],
) -> Result<StorageUrl, String> {
    if is_postgres(url) {
        let config = parse_postgres(url, password, env)?;
        let read = match read_url {
            None => None,
            Some(r) if !is_postgres(r) => {
                return Err(format!(
                    "`read_url` `{}` is not a PostgreSQL URL; write the replica's address, e.g. \"postgres://pantau@replica.example/pantau\", or remove it",
                    redact(r)
                ));
            }
            Some(r) => Some((parse_postgres(r, password, env)?, redact(r))),
        };
        return Ok(StorageUrl::Postgres(Box::new(PostgresSettings {
            config,
            shown: redact(url),
            read,
            startup_wait: DEFAULT_STARTUP_WAIT,
        })));
    }
    if read_url.is_some() {
        return Err(
            "`read_url` is for a PostgreSQL replica; a SQLite database is read from its own file: remove `read_url`"
                .into(),
        );
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if path.trim().is_empty() || url.contains("://") && !url.starts_with("sqlite:") {
        return Err(format!(
            "`{}` is neither a file path nor a PostgreSQL URL; write e.g. \"pantau.db\", \"sqlite:/var/lib/pantau/pantau.db\" or \"postgres://pantau@db.example/pantau\"",
            redact(url)
        ));
    }
    Ok(StorageUrl::Sqlite(PathBuf::from(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://u:s3cret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(
            redact("postgres://u:p@ss@a,b/db?target_session_attrs=read-write"),
            "postgres://u:***@a,b/db?target_session_attrs=read-write"
        );
        assert_eq!(
            redact("postgres://u@h/db?password=x&sslmode=require"),
            "postgres://u@h/db?password=***&sslmode=require"
        );
        assert_eq!(redact("pantau.db"), "pantau.db");
    }

    #[test]
    fn reads_urls() {
        let env = vec![("PGPASSWORD".to_string(), "fromenv".to_string())];
        match parse(
            "postgres://pantau@a:5432,b:5433/kota?target_session_attrs=read-write",
            None,
            None,
            &env,
        )
        .unwrap()
        {
            StorageUrl::Postgres(p) => {
                assert_eq!(p.config.get_hosts().len(), 2);
                assert_eq!(p.config.get_password(), Some(&b"fromenv"[..]));
                assert_eq!(
                    p.config.get_target_session_attrs(),
                    tokio_postgres::config::TargetSessionAttrs::ReadWrite
                );
                assert!(!format!("{p:?}").contains("fromenv"));
            }
            other => panic!("{other:?}"),
        }
        let env = vec![("DB_PASS".to_string(), "viaref".to_string())];
        match parse("postgres://pantau@h/kota", None, Some("env:DB_PASS"), &env).unwrap() {
            StorageUrl::Postgres(p) => assert_eq!(p.config.get_password(), Some(&b"viaref"[..])),
            other => panic!("{other:?}"),
        }
        let e = parse("postgres://pantau@h/kota", None, Some("hunter2"), &[]).unwrap_err();
        assert!(e.contains("env:NAME") && !e.contains("hunter2"), "{e}");
        let e = parse("postgres://u:hunter2@h:notaport/db", None, None, &[]).unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        assert!(
            matches!(parse("sqlite:/x/p.db", None, None, &[]).unwrap(), StorageUrl::Sqlite(p) if p == std::path::Path::new("/x/p.db"))
        );
        assert!(matches!(
            parse("p.db", None, None, &[]).unwrap(),
            StorageUrl::Sqlite(_)
        ));
        assert!(parse("mysql://x/y", None, None, &[]).is_err());
        assert!(parse("p.db", Some("postgres://u@h/d"), None, &[]).is_err());
    }
}
