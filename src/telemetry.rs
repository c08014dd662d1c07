//! The log output, set up once at start: text lines (today's format) or, with
//! `PANTAU_LOG_FORMAT=json`, one JSON object per line for log shippers. Colours only when
//! standard error is a terminal (and `NO_COLOR` is unset), never in a pipe or the journal.
//!
//! The daemon's own start-up notices (which database, the `open http://` address) and a fatal
//! error go through `notice` and `fatal`, so that in JSON mode every line on standard error is
//! JSON as well, shaped like the log events (`timestamp`, `level`, `message`, fields).

use std::io::{IsTerminal, Write};
use std::sync::OnceLock;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// Reads `PANTAU_LOG_FORMAT` (`text`, the default, or `json`).
    pub fn from_env() -> Result<LogFormat, String> {
        match std::env::var("PANTAU_LOG_FORMAT") {
            Err(_) => Ok(LogFormat::Text),
            Ok(v) => LogFormat::parse(&v),
        }
    }

    pub fn parse(text: &str) -> Result<LogFormat, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => {
                let shown: String = text.chars().take(40).collect();
                Err(format!(
                    "PANTAU_LOG_FORMAT=`{shown}` is not a log format; use `text` (the default) or `json`"
                ))
            }
        }
    }
}

static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// The format chosen by `init` (text before it is called).
pub fn format() -> LogFormat {
    FORMAT.get().copied().unwrap_or(LogFormat::Text)
}

/// Whether text on standard error may carry ANSI colour codes.
fn colours() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Installs the tracing subscriber: level from `PANTAU_LOG` (default `info`), format from
/// `format`, written to standard error. A second call changes nothing.
pub fn init(format: LogFormat) {
    let _ = FORMAT.set(format);
    let filter = tracing_subscriber::EnvFilter::try_from_env("PANTAU_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(colours()).try_init(),
        LogFormat::Json => builder
            .json()
            .with_ansi(false)
            // `message` and the event's fields at the top level, as shippers index them.
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
    };
}

/// A JSON line shaped like a log event of the JSON format.
fn json_line(level: &str, message: &str, fields: &[(&str, &str)]) -> String {
    let mut event = serde_json::Map::new();
    event.insert(
        "timestamp".into(),
        chrono::Utc::now()
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            .into(),
    );
    event.insert("level".into(), level.into());
    event.insert("message".into(), message.into());
    for (k, v) in fields {
        event.insert((*k).to_string(), (*v).into());
    }
    serde_json::Value::Object(event).to_string()
}

/// Writes a notice the operator must see whatever `PANTAU_LOG` says (the database a command
/// works on, the address the daemon serves): the plain line in text mode, a JSON event with
/// `fields` beside the message in JSON mode.
pub fn notice(message: &str, fields: &[(&str, &str)]) {
    let line = match format() {
        LogFormat::Text => message.to_string(),
        LogFormat::Json => json_line("INFO", message, fields),
    };
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Writes the error that ends the process: `text` as it is in text mode (it may span lines),
/// one JSON event holding it in JSON mode.
pub fn fatal(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = match format() {
        LogFormat::Text => write!(err, "{text}"),
        LogFormat::Json => writeln!(err, "{}", json_line("ERROR", text.trim_end(), &[])),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_named_text_and_json() {
        assert_eq!(LogFormat::parse("json"), Ok(LogFormat::Json));
        assert_eq!(LogFormat::parse(" JSON "), Ok(LogFormat::Json));
        assert_eq!(LogFormat::parse("text"), Ok(LogFormat::Text));
        assert_eq!(LogFormat::parse(""), Ok(LogFormat::Text));
        let e = LogFormat::parse("xml").unwrap_err();
        assert!(e.contains("`xml`") && e.contains("json"), "{e}");
    }

    #[test]
    fn a_json_notice_is_one_object_with_its_fields() {
        let line = json_line(
            "INFO",
            "Kota Uji — open http://127.0.0.1:1/",
            &[("address", "http://127.0.0.1:1/")],
        );
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["address"], "http://127.0.0.1:1/");
        assert!(v["message"].as_str().unwrap().contains("open http://"));
        assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
    }
}
