//! `pantau watch`: a terminal client of the live websocket (tokio-tungstenite). It reads the
//! city's language and zone from `/api/v1/masterplan`, prints the snapshot's figure (the whole
//! masterplan, or the filter's: "Dimensi Smart Living", "OPD Dinkes"), then one line per changed
//! indicator and per event with names, values and units, status words and city times; it resumes
//! with `since` after a dropped connection, and stops with the daemon's error when the daemon
//! refuses the request (a bad filter) instead of retrying.

use crate::config::Locale;
use crate::locale::{format_number, format_value};
use anyhow::bail;
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
        q.push(format!("dimension={}", encode(d)));
    }
    if let Some(d) = &args.department {
        q.push(format!("department={}", encode(d)));
    }
    if let Some((seq, epoch)) = since {
        q.push(format!("since={seq}&epoch={}", encode(epoch)));
    }
    if q.is_empty() {
        format!("{base}/api/v1/live")
    } else {
        format!("{base}/api/v1/live?{}", q.join("&"))
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What the terminal needs to know of the city: its language, zone and names.
#[derive(Debug, Clone)]
pub struct View {
    pub locale: Locale,
    pub tz: chrono_tz::Tz,
    /// What the figure is of: "Masterplan", "Dimensi Smart Living", "OPD Dinkes", "Quick wins".
    pub scope: String,
    /// The dimension the watch is filtered to, whose roll-up is the figure.
    pub dimension: Option<String>,
}

impl View {
    /// From `/api/v1/masterplan` and the filters.
    pub fn new(plan: &Value, args: &WatchArgs) -> View {
        let locale = match plan["locale"].as_str() {
            Some("en") => Locale::En,
            _ => Locale::Id,
        };
        let tz = plan["time_zone"]
            .as_str()
            .and_then(|z| z.parse().ok())
            .unwrap_or(chrono_tz::Asia::Jakarta);
        let name_of = |list: &str, id: &str| {
            plan[list]
                .as_array()
                .and_then(|a| a.iter().find(|d| d["id"] == id))
                .and_then(|d| d["name"].as_str())
                .unwrap_or(id)
                .to_string()
        };
        let en = locale == Locale::En;
        let mut parts = Vec::new();
        if let Some(d) = &args.dimension {
            parts.push(if en {
                format!("Dimension {}", name_of("dimensions", d))
            } else {
                format!("Dimensi {}", name_of("dimensions", d))
            });
        }
        if let Some(d) = &args.department {
            let mut short: Vec<char> = d.chars().collect();
            if let Some(c) = short.first_mut() {
                *c = c.to_ascii_uppercase();
            }
            let short: String = short.into_iter().collect();
            parts.push(if en {
                format!("Department {short}")
            } else {
                format!("OPD {short}")
            });
        }
        if args.quick_wins {
            parts.push("Quick wins".into());
        }
        let scope = if parts.is_empty() {
            "Masterplan".to_string()
        } else {
            parts.join(", ")
        };
        View {
            locale,
            tz,
            scope,
            dimension: args.dimension.clone(),
        }
    }

    fn status(&self, s: &Value) -> String {
        let s = s.as_str().unwrap_or("?");
        let (id, en) = match s {
            "achieved" => ("Tercapai", "Achieved"),
            "on_track" => ("Sesuai target", "On track"),
            "at_risk" => ("Berisiko", "At risk"),
            "off_track" => ("Tertinggal", "Off track"),
            "no_data" => ("Belum ada data", "No data"),
            other => (other, other),
        };
        match self.locale {
            Locale::Id => id.to_string(),
            Locale::En => en.to_string(),
        }
    }

    fn pct(&self, v: &Value) -> String {
        v.as_f64()
            .map(|x| format_number(x * 100.0, 1, self.locale) + " %")
            .unwrap_or_else(|| "–".into())
    }

    /// "14:05 WIB" for an RFC 3339 time, or now.
    fn clock(&self, at: Option<&str>) -> String {
        let t = at
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&self.tz))
            .unwrap_or_else(|| chrono::Utc::now().with_timezone(&self.tz));
        let zone = match self.tz.name() {
            "Asia/Jakarta" | "Asia/Pontianak" => "WIB".to_string(),
            "Asia/Makassar" => "WITA".to_string(),
            "Asia/Jayapura" => "WIT".to_string(),
            _ => t.format("%Z").to_string(),
        };
        format!("{} {zone}", t.format("%H:%M:%S"))
    }

    fn words(&self, id: &'static str, en: &'static str) -> &'static str {
        match self.locale {
            Locale::Id => id,
            Locale::En => en,
        }
    }

    /// The figure of the snapshot: the filter's dimension, the indicators in view, or the masterplan.
    fn figure(&self, p: &Value) -> String {
        let expected = self.words("seharusnya", "expected");
        let progress = self.words("progres", "progress");
        let indicators = p["indicators"].as_array().map_or(&[][..], |a| a.as_slice());
        let n = indicators.len();
        let count = match self.locale {
            Locale::Id => format!("{n} indikator"),
            Locale::En if n == 1 => "1 indicator".to_string(),
            Locale::En => format!("{n} indicators"),
        };
        let item = match &self.dimension {
            Some(d) => p["dimensions"]
                .as_array()
                .and_then(|a| a.iter().find(|x| x["id"] == d.as_str()))
                .cloned(),
            None if self.scope == "Masterplan" => Some(p["masterplan"].clone()),
            None => None,
        };
        match item {
            Some(m) => format!(
                "{}: {}, {progress} {} ({expected} {}), {count}",
                self.scope,
                self.status(&m["status"]),
                self.pct(&m["progress"]),
                self.pct(&m["expected"]),
            ),
            None => {
                // A department or the quick wins: what their indicators say, status by status.
                let mut by: Vec<(String, usize)> = Vec::new();
                for s in ["achieved", "on_track", "at_risk", "off_track", "no_data"] {
                    let k = indicators.iter().filter(|i| i["status"] == s).count();
                    if k > 0 {
                        by.push((self.status(&Value::from(s)), k));
                    }
                }
                let with: Vec<&Value> = indicators
                    .iter()
                    .filter(|i| i["progress"].is_number())
                    .collect();
                let mean = |k: &str| {
                    (!with.is_empty()).then(|| {
                        with.iter()
                            .map(|i| i[k].as_f64().unwrap_or(0.0).clamp(0.0, 1.0))
                            .sum::<f64>()
                            / with.len() as f64
                    })
                };
                let counts: Vec<String> = by.iter().map(|(s, k)| format!("{k} {s}")).collect();
                format!(
                    "{}: {count} ({}), {progress} {} ({expected} {})",
                    self.scope,
                    counts.join(", "),
                    self.pct(&mean("progress").map_or(Value::Null, Value::from)),
                    self.pct(&mean("expected").map_or(Value::Null, Value::from)),
                )
            }
        }
    }

    /// One indicator: "Prevalensi stunting balita: 5,12 % (Sesuai target, progres 98,2 %)".
    fn indicator(&self, i: &Value) -> String {
        let value = match i["current"].as_f64() {
            Some(c) => format_value(c, i["unit"].as_str().unwrap_or(""), self.locale),
            None => "–".into(),
        };
        format!(
            "{}: {value} ({}, {} {})",
            i["name"].as_str().or(i["id"].as_str()).unwrap_or("?"),
            self.status(&i["status"]),
            self.words("progres", "progress"),
            self.pct(&i["progress"]),
        )
    }

    /// The lines describing a message.
    pub fn describe(&self, msg: &Value) -> Vec<String> {
        let now = self.clock(None);
        match msg["type"].as_str() {
            Some("snapshot") => vec![format!("{now}  {}", self.figure(&msg["progress"]))],
            Some("delta") => msg["indicators"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|i| format!("{now}  {}", self.indicator(i)))
                        .collect()
                })
                .unwrap_or_default(),
            Some("event") => {
                let name = msg["name"].as_str().or(msg["id"].as_str()).unwrap_or("?");
                let at = self.clock(msg["time"].as_str());
                let text = match msg["kind"].as_str() {
                    Some("became_stale") => {
                        format!("{name}: {}", self.words("data usang", "data went stale"))
                    }
                    Some("fresh_again") => format!(
                        "{name}: {}",
                        self.words("data diperbarui", "data fresh again")
                    ),
                    Some("became_overdue") => format!(
                        "{name}: {}",
                        self.words("lewat tenggat, belum tercapai", "past due, not achieved")
                    ),
                    Some("feed_down") => {
                        format!("feed {name}: {}", self.words("gagal", "down"))
                    }
                    Some("feed_up") => {
                        format!("feed {name}: {}", self.words("aktif kembali", "up again"))
                    }
                    _ => format!(
                        "{name}: {} → {}",
                        self.status(&msg["from"]),
                        self.status(&msg["to"])
                    ),
                };
                vec![format!("{at}  {text}")]
            }
            _ => vec![format!("{now}  {msg}")],
        }
    }
}

/// Why a connection attempt ended.
enum Failure {
    /// Worth retrying: the daemon is down or restarting.
    Transient(String),
    /// The daemon refused the request (4xx): retrying would not help.
    Refused(String),
}

/// The message of an error answer's body, or the status.
fn refusal(status: u16, body: Option<&[u8]>) -> String {
    let message = body
        .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        .and_then(|v| v["error"]["message"].as_str().map(String::from));
    match message {
        Some(m) => format!("the daemon refused the request ({status}): {m}"),
        None => format!("the daemon refused the request with HTTP {status}"),
    }
}

async fn masterplan(args: &WatchArgs) -> Result<Value, Failure> {
    let url = format!("{}/api/v1/masterplan", args.url.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| Failure::Transient(e.to_string()))?;
    let r = client
        .get(&url)
        .send()
        .await
        .map_err(|e| Failure::Transient(format!("cannot reach {url}: {e}")))?;
    let status = r.status().as_u16();
    let body = r
        .bytes()
        .await
        .map_err(|e| Failure::Transient(e.to_string()))?;
    if (400..500).contains(&status) {
        return Err(Failure::Refused(refusal(status, Some(&body))));
    }
    let plan = serde_json::from_slice(&body)
        .map_err(|e| Failure::Transient(format!("{url} did not answer JSON ({e})")))?;
    // The filters are checked where the daemon explains a bad one in its answer.
    if let Some(query) = live_url(args, None)
        .split_once('?')
        .map(|(_, q)| q.to_string())
    {
        let url = format!("{}/api/v1/progress?{query}", args.url.trim_end_matches('/'));
        let r = client
            .get(&url)
            .send()
            .await
            .map_err(|e| Failure::Transient(format!("cannot reach {url}: {e}")))?;
        let status = r.status().as_u16();
        if (400..500).contains(&status) {
            let body = r.bytes().await.ok();
            return Err(Failure::Refused(refusal(status, body.as_deref())));
        }
    }
    Ok(plan)
}

/// Connects, prints, reconnects with backoff; stops after `max_messages` if given, and with an
/// error when the daemon refuses the request.
pub async fn run(args: WatchArgs) -> anyhow::Result<()> {
    // reqwest is built without a default crypto provider (see CRATES.md).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut resume: Option<(u64, String)> = None;
    let mut seen = 0u64;
    let mut backoff = Duration::from_millis(500);
    let mut view: Option<View> = None;
    loop {
        if view.is_none() {
            match masterplan(&args).await {
                Ok(plan) => view = Some(View::new(&plan, &args)),
                Err(Failure::Refused(m)) => bail!("{m}"),
                Err(Failure::Transient(m)) => eprintln!("{m}; retrying in {backoff:?}"),
            }
        }
        if let Some(view) = &view {
            let url = live_url(&args, resume.as_ref().map(|(s, e)| (*s, e.as_str())));
            let config = WebSocketConfig::default().read_buffer_size(8 * 1024);
            match tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true)
                .await
            {
                Err(tokio_tungstenite::tungstenite::Error::Http(resp))
                    if resp.status().is_client_error() =>
                {
                    bail!(
                        "{}",
                        refusal(resp.status().as_u16(), resp.body().as_deref())
                    );
                }
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
                        for line in view.describe(&v) {
                            println!("{line}");
                        }
                        seen += 1;
                        if args.max_messages.is_some_and(|m| seen >= m) {
                            return Ok(());
                        }
                    }
                    eprintln!("connection closed; reconnecting");
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args() -> WatchArgs {
        WatchArgs {
            url: "http://127.0.0.1:1".into(),
            quick_wins: false,
            dimension: None,
            department: None,
            max_messages: None,
        }
    }

    fn plan() -> Value {
        json!({ "locale": "id", "time_zone": "Asia/Makassar",
            "dimensions": [{ "id": "living", "name": "Smart Living" }] })
    }

    #[test]
    fn a_filtered_figure_is_labelled_as_its_filter() {
        let mut a = args();
        a.dimension = Some("living".into());
        let v = View::new(&plan(), &a);
        let snap = json!({ "type": "snapshot", "progress": {
            "masterplan": { "status": "off_track", "progress": 0.1, "expected": 0.9 },
            "dimensions": [{ "id": "living", "status": "at_risk", "progress": 0.765, "expected": 0.801 }],
            "indicators": [{}, {}] } });
        let line = &v.describe(&snap)[0];
        assert!(
            line.ends_with(
                "Dimensi Smart Living: Berisiko, progres 76,5 % (seharusnya 80,1 %), 2 indikator"
            ),
            "{line}"
        );
        assert!(line.contains(" WITA "), "{line}");
        let mut a = args();
        a.department = Some("dinkes".into());
        let v = View::new(&plan(), &a);
        let snap = json!({ "type": "snapshot", "progress": { "masterplan": {}, "dimensions": [],
            "indicators": [{ "status": "achieved", "progress": 1.2, "expected": 0.9 },
                           { "status": "at_risk", "progress": 0.5, "expected": 0.7 }] } });
        let line = &v.describe(&snap)[0];
        assert!(
            line.contains("OPD Dinkes: 2 indikator (1 Tercapai, 1 Berisiko), progres 75,0 %"),
            "{line}"
        );
    }

    #[test]
    fn indicators_with_values_units_and_status_words() {
        let v = View::new(&plan(), &args());
        let delta = json!({ "type": "delta", "indicators": [
            { "name": "Realisasi investasi", "current": 295_096_098_000.0, "unit": "Rp", "status": "on_track", "progress": 0.81 },
            { "name": "Prevalensi stunting", "current": 5.12, "unit": "persen", "status": "achieved", "progress": 1.02 }] });
        let lines = v.describe(&delta);
        assert!(
            lines[0]
                .ends_with("Realisasi investasi: Rp 295,1 miliar (Sesuai target, progres 81,0 %)"),
            "{lines:?}"
        );
        assert!(
            lines[1].ends_with("Prevalensi stunting: 5,12 % (Tercapai, progres 102,0 %)"),
            "{lines:?}"
        );
        let ev = json!({ "type": "event", "time": "2026-11-28T14:05:00+08:00", "kind": "status_changed",
            "name": "Prevalensi stunting", "from": "at_risk", "to": "on_track" });
        assert_eq!(
            v.describe(&ev),
            ["14:05:00 WITA  Prevalensi stunting: Berisiko → Sesuai target"]
        );
    }
}
