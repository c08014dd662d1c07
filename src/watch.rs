//! `pantau watch`: a terminal client of the live websocket (tokio-tungstenite). It prints the
//! snapshot's totals, then one line per delta and per event, and resumes with `since` after a
//! dropped connection.

use futures_util::StreamExt;
use serde_json::Value;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

#[derive(clap::Args, Debug, Clone)]
pub struct WatchArgs {
    /// The daemon's address.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Only quick-win programs and their indicators.
    #[arg(long)]
    pub quick_wins: bool,
    #[arg(long)]
    pub dimension: Option<String>,
    #[arg(long)]
    pub department: Option<String>,
    /// Stop after this many messages (for scripts and tests).
    #[arg(long)]
    pub max_messages: Option<u64>,
}

/// The websocket URL for the daemon address and filters.
pub fn live_url(args: &WatchArgs, since: Option<(u64, &str)>) -> String {
    let base = args
        .url
        .trim_end_matches('/')
        .replacen("https://", "wss://", 1)
        .replacen("http://", "ws://", 1);
    let mut q = Vec::new();
    if args.quick_wins {
        q.push("quick_win=true".to_string());
    }
    if let Some(d) = &args.dimension {
        q.push(format!("dimension={d}"));
    }
    if let Some(d) = &args.department {
        q.push(format!("department={d}"));
    }
    if let Some((seq, epoch)) = since {
        q.push(format!("since={seq}&epoch={epoch}"));
    }
    if q.is_empty() {
        format!("{base}/api/v1/live")
    } else {
        format!("{base}/api/v1/live?{}", q.join("&"))
    }
}

fn pct(v: &Value) -> String {
    v.as_f64()
        .map(|x| crate::locale::format_number(x * 100.0, 1, crate::config::Locale::Id) + " %")
        .unwrap_or_else(|| "–".into())
}

/// One line describing a message.
pub fn describe(msg: &Value) -> String {
    match msg["type"].as_str() {
        Some("snapshot") => {
            let p = &msg["progress"];
            let m = &p["masterplan"];
            format!(
                "snapshot seq {}: masterplan {} progress {} (expected {}), {} indicators",
                msg["seq"],
                m["status"].as_str().unwrap_or("?"),
                pct(&m["progress"]),
                pct(&m["expected"]),
                p["indicators"].as_array().map_or(0, |a| a.len())
            )
        }
        Some("delta") => {
            let items: Vec<String> = msg["indicators"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|i| {
                            format!(
                                "{} {} {}",
                                i["id"].as_str().unwrap_or("?"),
                                i["status"].as_str().unwrap_or("?"),
                                pct(&i["progress"])
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            format!("delta seq {}: {}", msg["seq"], items.join("; "))
        }
        Some("event") => format!(
            "event seq {}: {} {} {} {} -> {}",
            msg["seq"],
            msg["item_type"].as_str().unwrap_or("?"),
            msg["id"].as_str().unwrap_or("?"),
            msg["kind"].as_str().unwrap_or("?"),
            msg["from"].as_str().unwrap_or(""),
            msg["to"].as_str().unwrap_or("")
        ),
        _ => format!("message: {msg}"),
    }
}

/// Connects, prints, reconnects with backoff; stops after `max_messages` if given.
pub async fn run(args: WatchArgs) -> anyhow::Result<()> {
    let mut resume: Option<(u64, String)> = None;
    let mut seen = 0u64;
    let mut backoff = Duration::from_millis(500);
    loop {
        let url = live_url(&args, resume.as_ref().map(|(s, e)| (*s, e.as_str())));
        let mut config = WebSocketConfig::default();
        config.read_buffer_size = 8 * 1024;
        match tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true).await {
            Err(e) => {
                eprintln!("cannot connect to {url}: {e}; retrying in {backoff:?}");
            }
            Ok((mut ws, _)) => {
                backoff = Duration::from_millis(500);
                while let Some(msg) = ws.next().await {
                    let Ok(msg) = msg else { break };
                    let Message::Text(text) = msg else { continue };
                    let Ok(v) = serde_json::from_str::<Value>(text.as_str()) else {
                        continue;
                    };
                    if let (Some(seq), Some(epoch)) = (v["seq"].as_u64(), v["epoch"].as_str()) {
                        resume = Some((seq, epoch.to_string()));
                    }
                    println!("{}", describe(&v));
                    seen += 1;
                    if args.max_messages.is_some_and(|m| seen >= m) {
                        return Ok(());
                    }
                }
                eprintln!("connection closed; reconnecting");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}
