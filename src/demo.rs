//! `pantau demo`: the example Kota Mojokerto masterplan run against simulated department
//! services on loopback, one per feed format (CSV from DLH, Prometheus text from Diskominfo's
//! gateway, JSON from Dinkes, DPMPTSP and BPBD, a CKAN DataStore for Satu Data), whose values move
//! every few seconds. A fresh database gets years of plausible history first, so every screen has
//! something to show. Everything goes through the real paths: the feeds through the poller, the
//! history through the importer's writer.

use crate::app::RunOptions;
use crate::config::{Config, EMBEDDED_MASTERPLAN, EMBEDDED_SETTINGS};
use crate::domain::{Direction, Indicator, Kind, Millis, Observation, Source, date_start_millis};
use anyhow::Context;
use chrono::{Datelike, Duration as Days, NaiveDate, Utc};
use std::net::SocketAddr;
use warp::Filter;

/// Indicators the simulated feeds write (their history stops where the feeds' data begins).
const FED: &[&str] = &[
    "env.air.ispu-mean",
    "env.air.good-days",
    "gov.spbe.uptime",
    "living.health.stunting",
    "gov.permit.days",
    "living.transport.response",
    "economy.umkm.digital",
];

/// Days of data the simulated CSV and CKAN services publish.
const PUBLISHED_DAYS: i64 = 30;

/// A small deterministic generator (no crate needed for demo noise).
struct Noise(u64);

impl Noise {
    fn new(seed: &str) -> Self {
        let mut h: u64 = 0xcbf29ce484222325;
        for b in seed.as_bytes() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x100000001b3);
        }
        Noise(h | 1)
    }
    /// Uniform in [-1, 1).
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
}

fn seconds_now() -> f64 {
    Utc::now().timestamp_millis() as f64 / 1000.0
}

/// A number in [-1, 1] that moves smoothly over `period_s` seconds.
fn swing(period_s: f64, phase: f64) -> f64 {
    let t = seconds_now();
    ((t / period_s + phase).sin() * 0.7 + (t / (period_s * 0.37) + phase).sin() * 0.3)
        .clamp(-1.0, 1.0)
}

fn today() -> NaiveDate {
    Utc::now()
        .with_timezone(&chrono_tz::Asia::Jakarta)
        .date_naive()
}

/// How far back a simulated feed looks at the stored history it continues.
pub const CONTINUE_FROM_DAYS: i64 = 90;

/// How a simulated feed continues its indicator's stored history: the level and range of the
/// values of the last `CONTINUE_FROM_DAYS` days. Every value a simulator sends lies in
/// `[low, high]`, so the first live value never jumps away from the history the screens show.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Continuation {
    /// The newest stored value.
    pub center: f64,
    pub low: f64,
    pub high: f64,
    /// The mean of the recent values (a rate, for counts per day).
    pub mean: f64,
}

impl Continuation {
    /// From recent values in time order; None without any.
    pub fn from_recent(values: &[f64]) -> Option<Self> {
        let center = *values.last()?;
        let (low, high) = values
            .iter()
            .fold((center, center), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        Some(Continuation {
            center,
            low,
            high,
            mean,
        })
    }

    /// `x` in [-1, 1] mapped into the range: -1 is `low`, 0 the center, 1 `high`.
    fn at(&self, x: f64) -> f64 {
        let x = x.clamp(-1.0, 1.0);
        let v = if x < 0.0 {
            self.center + x * (self.center - self.low)
        } else {
            self.center + x * (self.high - self.center)
        };
        v.clamp(self.low, self.high)
    }

    /// A whole number in the range (counts), nearest to `at(x)`.
    fn count(&self, x: f64) -> f64 {
        let (lo, hi) = (self.low.ceil(), self.high.floor());
        if lo > hi {
            return self.center.round();
        }
        self.at(x).round().clamp(lo, hi)
    }

    /// A fixed value for a past `day` (the same on every poll).
    fn on_day(&self, day: NaiveDate, key: &str) -> f64 {
        self.at(Noise::new(&format!("{day}{key}")).next())
    }

    /// Today's value, moving every few seconds.
    fn now(&self, period_s: f64, phase: f64) -> f64 {
        self.at(swing(period_s, phase))
    }
}

/// What the simulated services continue: one `Continuation` per fed indicator.
#[derive(Debug, Clone, Default)]
pub struct Simulation {
    continuations: std::collections::HashMap<String, Continuation>,
}

impl Simulation {
    /// From the stored series of the fed indicators (what the screens already show), falling back
    /// to the trajectory at `now` for an indicator without recent values.
    pub fn from_store(
        config: &Config,
        db: &std::path::Path,
        now: Millis,
    ) -> anyhow::Result<Simulation> {
        let conn = crate::store::open_reader(db)?;
        let tz = config.settings.city.time_zone;
        let since = now - CONTINUE_FROM_DAYS * 86_400_000;
        let mut continuations = std::collections::HashMap::new();
        for id in FED {
            let Some(ind) = config.masterplan.indicator(id) else {
                continue;
            };
            let (series, _) = crate::store::read::indicator_state(&conn, id)?;
            let recent: Vec<f64> = series
                .iter()
                .filter(|(t, _)| *t >= since && *t <= now)
                .map(|(_, v)| *v)
                .collect();
            let c = Continuation::from_recent(&recent).unwrap_or_else(|| {
                let e = crate::progress::Trajectory::new(ind, tz).expected_at(now);
                let span = (ind.final_target().value - ind.baseline.value)
                    .abs()
                    .max(1.0);
                Continuation {
                    center: e,
                    low: e - 0.02 * span,
                    high: e + 0.02 * span,
                    mean: e,
                }
            });
            continuations.insert(id.to_string(), c);
        }
        Ok(Simulation { continuations })
    }

    fn get(&self, id: &str) -> Continuation {
        self.continuations.get(id).copied().unwrap_or(Continuation {
            center: 0.0,
            low: 0.0,
            high: 0.0,
            mean: 0.0,
        })
    }
}

/// DLH's daily air-quality export: two stations, the last 30 days, today's row still moving.
/// Each day's mean of `max` over the stations continues `env.air.ispu-mean`; whether the
/// Alun-alun station is BAIK (`env.air.good-days` counts those days) follows its recent rate.
fn ispu_csv(sim: &Simulation) -> String {
    let mean = sim.get("env.air.ispu-mean");
    let good_rate = sim.get("env.air.good-days");
    let mut out = String::from("tanggal,stasiun,pm10,max,critical,categori\n");
    let today = today();
    for back in (0..PUBLISHED_DAYS).rev() {
        let day = today - Days::days(back);
        let m = if back == 0 {
            mean.now(20.0, 0.0)
        } else {
            mean.on_day(day, "ispu")
        };
        let mut n = Noise::new(&format!("{day}stations"));
        let second_missing = back > 0 && n.next() > 0.9;
        let good = (n.next() + 1.0) / 2.0 < good_rate.mean.clamp(0.0, 1.0);
        // With one station missing the day's mean is the other's value.
        let first = if second_missing {
            m
        } else if good {
            (m - 3.0).min(48.0)
        } else {
            (m + 3.0).max(52.0)
        };
        let rows = [
            ("DKI1 Alun-alun", Some(first)),
            (
                "DKI2 Prajurit Kulon",
                (!second_missing).then_some(2.0 * m - first),
            ),
        ];
        for (station, value) in rows {
            match value {
                None => out.push_str(&format!("{day},{station},,0,,TIDAK ADA DATA\n")),
                Some(max) => {
                    let category = if max <= 50.0 {
                        "BAIK"
                    } else if max <= 100.0 {
                        "SEDANG"
                    } else {
                        "TIDAK SEHAT"
                    };
                    out.push_str(&format!(
                        "{day},{station},{:.0},{max},PM10,{category}\n",
                        max * 0.9
                    ));
                }
            }
        }
    }
    out
}

/// Diskominfo's device gateway in Prometheus text format: five services whose mean uptime
/// continues `gov.spbe.uptime` (in percent; the gateway reports ratios).
fn gateway_metrics(sim: &Simulation) -> String {
    let uptime = sim.get("gov.spbe.uptime");
    let mut out = String::from(
        "# HELP spbe_service_up_ratio Share of successful health checks over the last hour.\n# TYPE spbe_service_up_ratio gauge\n",
    );
    for (k, service) in ["sipd", "e-office", "mpp-online", "satu-data", "lapor"]
        .iter()
        .enumerate()
    {
        let v = (uptime.now(15.0, k as f64) / 100.0).min(1.0);
        out.push_str(&format!(
            "spbe_service_up_ratio{{service=\"{service}\",opd=\"diskominfo\"}} {v}\n"
        ));
    }
    out.push_str("# HELP gateway_uptime_seconds Seconds since the gateway started.\n# TYPE gateway_uptime_seconds counter\n");
    out.push_str(&format!(
        "gateway_uptime_seconds {:.0}\n",
        seconds_now() % 864_000.0
    ));
    out
}

fn now_rfc3339() -> String {
    Utc::now()
        .with_timezone(&chrono_tz::Asia::Jakarta)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn round_to(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}

fn dinkes_json(sim: &Simulation) -> serde_json::Value {
    let c = sim.get("living.health.stunting");
    serde_json::json!({
        "status": "ok",
        "data": {
            "prevalensi_stunting": round_to(c.now(30.0, 0.3), 2).clamp(c.low, c.high),
            "diperbarui": now_rfc3339(),
            "sumber": "e-PPGBM (simulasi)"
        }
    })
}

fn dpmptsp_json(sim: &Simulation) -> serde_json::Value {
    let c = sim.get("gov.permit.days");
    serde_json::json!({
        "items": [
            { "indikator": "rata_hari_izin", "nilai": round_to(c.now(25.0, 1.1), 2).clamp(c.low, c.high), "waktu": now_rfc3339() },
            { "indikator": "jumlah_izin_terbit", "nilai": 37, "waktu": now_rfc3339() }
        ]
    })
}

fn bpbd_json(sim: &Simulation) -> serde_json::Value {
    let c = sim.get("living.transport.response");
    serde_json::json!({ "respon": { "rata_menit": round_to(c.now(18.0, 2.0), 2).clamp(c.low, c.high) } })
}

/// Satu Data Mojokerto's DataStore: digital MSME registrations per day and district; each day's
/// total continues `economy.umkm.digital`'s recent daily counts.
fn ckan_records(sim: &Simulation) -> Vec<serde_json::Value> {
    let daily = sim.get("economy.umkm.digital");
    let today = today();
    let mut records = Vec::new();
    let mut id = 1;
    for back in (0..PUBLISHED_DAYS).rev() {
        let day = today - Days::days(back);
        let total = if back == 0 {
            daily.count(swing(40.0, 0.5))
        } else {
            daily.count(Noise::new(&format!("{day}umkm")).next())
        };
        // Split the day's total over three districts.
        let first = (total / 2.0).ceil();
        let second = ((total - first) / 2.0).ceil();
        for (district, jumlah) in [
            ("Magersari", first),
            ("Prajurit Kulon", second),
            ("Kranggan", total - first - second),
        ] {
            records.push(serde_json::json!({ "_id": id, "tanggal": day.to_string(), "kecamatan": district, "jumlah": jumlah }));
            id += 1;
        }
    }
    records
}

fn ckan_search(
    sim: &Simulation,
    q: std::collections::HashMap<String, String>,
) -> serde_json::Value {
    if q.get("resource_id").map(String::as_str) != Some("umkm-digital") {
        return serde_json::json!({ "success": false, "error": { "__type": "Not Found Error", "message": "Not found: Resource was not found." } });
    }
    let mut records = ckan_records(sim);
    if q.get("sort").is_some_and(|s| s.contains("desc")) {
        records.reverse();
    }
    let total = records.len();
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
    let offset: usize = q.get("offset").and_then(|l| l.parse().ok()).unwrap_or(0);
    let page: Vec<_> = records.into_iter().skip(offset).take(limit).collect();
    serde_json::json!({
        "help": "datastore_search",
        "success": true,
        "result": { "resource_id": "umkm-digital", "records": page, "total": total, "limit": limit, "offset": offset,
                    "fields": [{"id": "_id", "type": "int"}, {"id": "tanggal", "type": "date"}, {"id": "kecamatan", "type": "text"}, {"id": "jumlah", "type": "numeric"}] }
    })
}

/// The simulation the services answer from, set once the history is in place (until then they
/// answer 503, which a feed records as a failed poll).
pub type SharedSimulation = std::sync::Arc<std::sync::OnceLock<Simulation>>;

/// Starts the simulated department services; returns their address.
pub async fn start_simulated_services(sim: SharedSimulation) -> anyhow::Result<SocketAddr> {
    let with_sim = move || {
        let sim = sim.clone();
        warp::any().and_then(move || {
            let sim = sim.clone();
            async move {
                match sim.get() {
                    Some(s) => Ok(s.clone()),
                    None => Err(warp::reject::not_found()),
                }
            }
        })
    };
    let csv = warp::path!("dlh" / "ispu.csv")
        .and(with_sim())
        .map(|s: Simulation| {
            warp::reply::with_header(ispu_csv(&s), "content-type", "text/csv; charset=utf-8")
        });
    let prom = warp::path!("diskominfo" / "metrics")
        .and(with_sim())
        .map(|s: Simulation| {
            warp::reply::with_header(
                gateway_metrics(&s),
                "content-type",
                "text/plain; version=0.0.4",
            )
        });
    let dinkes = warp::path!("dinkes" / "gizi.json")
        .and(with_sim())
        .map(|s: Simulation| warp::reply::json(&dinkes_json(&s)));
    let dpmptsp = warp::path!("dpmptsp" / "izin.json")
        .and(with_sim())
        .map(|s: Simulation| warp::reply::json(&dpmptsp_json(&s)));
    let bpbd = warp::path!("bpbd" / "respons.json")
        .and(with_sim())
        .map(|s: Simulation| warp::reply::json(&bpbd_json(&s)));
    let ckan = warp::path!("api" / "3" / "action" / "datastore_search")
        .and(with_sim())
        .and(warp::query::<std::collections::HashMap<String, String>>())
        .map(|s: Simulation, q| warp::reply::json(&ckan_search(&s, q)));
    let routes = warp::get().and(
        csv.map(|r| Box::new(r) as Box<dyn warp::Reply>)
            .or(prom.map(|r| Box::new(r) as Box<dyn warp::Reply>))
            .unify()
            .or(dinkes.map(|r| Box::new(r) as Box<dyn warp::Reply>))
            .unify()
            .or(dpmptsp.map(|r| Box::new(r) as Box<dyn warp::Reply>))
            .unify()
            .or(bpbd.map(|r| Box::new(r) as Box<dyn warp::Reply>))
            .unify()
            .or(ckan.map(|r| Box::new(r) as Box<dyn warp::Reply>))
            .unify(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(warp::serve(routes).incoming(listener).run());
    Ok(addr)
}

/// The `[[feed]]` entries that poll the simulated services at `addr`.
pub fn demo_feeds(addr: SocketAddr) -> String {
    format!(
        r#"
# ---- Simulated department feeds (pantau demo) ----
[[feed]]
id = "dlh-ispu"
department = "dlh"
url = "http://{addr}/dlh/ispu.csv"
format = "csv"
schedule = "*/10 * * * * *"
timeout = "5s"
[feed.csv]
time_column = "tanggal"
series = [
  {{ indicator = "env.air.ispu-mean", aggregate = "mean", column = "max", exclude = {{ categori = "TIDAK ADA DATA" }} }},
  {{ indicator = "env.air.good-days", aggregate = "count", filter = {{ stasiun = "DKI1 Alun-alun", categori = "BAIK" }} }},
]

[[feed]]
id = "diskominfo-gateway"
department = "diskominfo"
url = "http://{addr}/diskominfo/metrics"
format = "prometheus"
schedule = "*/5 * * * * *"
timeout = "5s"
[feed.prometheus]
series = [{{ indicator = "gov.spbe.uptime", metric = "spbe_service_up_ratio", aggregate = "avg", scale = 100.0 }}]

[[feed]]
id = "dinkes-gizi"
department = "dinkes"
url = "http://{addr}/dinkes/gizi.json"
format = "json"
schedule = "*/7 * * * * *"
timeout = "5s"
[feed.json]
points = [{{ indicator = "living.health.stunting", value = "/data/prevalensi_stunting", time = "/data/diperbarui" }}]

[[feed]]
id = "dpmptsp-izin"
department = "dpmptsp"
url = "http://{addr}/dpmptsp/izin.json"
format = "json"
schedule = "*/6 * * * * *"
timeout = "5s"
[feed.json]
records = {{ path = "/items", indicator_field = "indikator", rename = {{ rata_hari_izin = "gov.permit.days" }}, value = "nilai", time = "waktu" }}

[[feed]]
id = "bpbd-respons"
department = "bpbd"
url = "http://{addr}/bpbd/respons.json"
format = "json"
schedule = "*/8 * * * * *"
timeout = "5s"
[feed.json]
points = [{{ indicator = "living.transport.response", value = "/respon/rata_menit" }}]

[[feed]]
id = "satudata-umkm"
department = "diskopukmperindag"
url = "http://{addr}/api/3/action/datastore_search"
format = "ckan"
schedule = "*/9 * * * * *"
timeout = "5s"
[feed.ckan]
resource_id = "umkm-digital"
limit = 1000
time_field = "tanggal"
series = [{{ indicator = "economy.umkm.digital", aggregate = "sum", field = "jumlah" }}]
"#
    )
}

/// Plausible history for every indicator: most on track, some at risk or off track, a few stale
/// or without data, so that every status shows on the wall.
pub fn history(config: &Config, now: Millis) -> Vec<Observation> {
    let tz = config.settings.city.time_zone;
    let today = Utc::now().with_timezone(&tz).date_naive();
    let mut out = Vec::new();
    for ind in &config.masterplan.indicators {
        let mut noise = Noise::new(ind.id.as_str());
        let pick = (noise.next() + 1.0) / 2.0;
        let fed = FED.contains(&ind.id.as_str());
        let group = if fed { 0 } else { (pick * 20.0) as u32 };
        let (factor, skip, stale) = match group {
            0..=10 => (1.06 + 0.04 * noise.next(), false, false),
            11..=13 => (0.9, false, false),
            14..=16 => (0.62, false, false),
            17 => (1.6, false, false),
            18 => (1.0, false, true),
            _ => (1.0, true, false),
        };
        if skip {
            continue;
        }
        // The fed indicators get daily history: their feeds publish a value per day.
        let step_days = if fed {
            1
        } else {
            (ind.update_every.millis() / 86_400_000).clamp(1, 366)
        };
        let mut end = today - Days::days(1);
        if fed {
            end = today - Days::days(PUBLISHED_DAYS + 1);
        }
        if stale {
            end -= Days::days(step_days * 3);
        }
        let trajectory = crate::progress::Trajectory::new(ind, tz);
        let (b, t) = (ind.baseline.value, ind.final_target().value);
        // Dates step back from the last one, so the newest value is as recent as the cadence says.
        let mut dates = Vec::new();
        let mut d = end;
        while d > ind.baseline.date {
            dates.push(d);
            d -= Days::days(step_days);
        }
        dates.reverse();
        let mut previous_total = b;
        // Year-to-date totals start again each 1 January.
        let mut year_total = (0_i32, 0.0_f64);
        for date in dates {
            let at = date_start_millis(date, tz);
            if at > now {
                break;
            }
            let expected = trajectory.expected_at(at);
            let span = (t - b).abs().max(1e-9);
            let value = match (ind.direction, ind.kind) {
                (_, Kind::CumulativeYearly) => {
                    let frame = trajectory.year_frame(ind, date.year());
                    let total = factor * frame.trajectory.expected_at(at);
                    if year_total.0 != date.year() {
                        year_total = (date.year(), 0.0);
                    }
                    let inc = (total - year_total.1).max(0.0);
                    year_total.1 += inc;
                    inc
                }
                (Direction::AtLeast | Direction::AtMost, _) => {
                    // Met most of the time when the group says so, missed otherwise.
                    let margin = ((t - b).abs() * 0.3).max(t.abs() * 0.004).max(1e-6);
                    let sign = if ind.direction == Direction::AtLeast {
                        1.0
                    } else {
                        -1.0
                    };
                    t + sign * margin * (10.0 * (factor - 1.0) + 0.5 * noise.next())
                }
                (Direction::Maintain, _) => {
                    t + ind.tolerance * 0.8 * noise.next()
                        + if factor < 0.7 {
                            ind.tolerance * 1.5
                        } else {
                            0.0
                        }
                }
                (_, Kind::Level) => b + factor * (expected - b) + 0.015 * span * noise.next(),
                (_, Kind::Cumulative) => {
                    // Registrations and the like go on after the last target at the last
                    // segment's pace; whole increments carry their rounding forward.
                    let total = b + factor * (continuing(&trajectory, at) - b);
                    let inc = (total - previous_total).max(0.0).round();
                    previous_total += inc;
                    inc
                }
            };
            let value = clamp(ind, value);
            out.push(Observation {
                indicator: ind.id.clone(),
                time: at,
                value: (value * 100.0).round() / 100.0,
                note: None,
            });
        }
    }
    out
}

/// The expected value, going on past the final target at the pace of the last segment.
fn continuing(trajectory: &crate::progress::Trajectory, at: Millis) -> f64 {
    let points = trajectory.points();
    let (last_t, last_v) = trajectory.final_target();
    match points.len() {
        n if n >= 2 && at > last_t => {
            let (prev_t, prev_v) = points[n - 2];
            let slope = (last_v - prev_v) / (last_t - prev_t).max(1) as f64;
            last_v + slope * (at - last_t) as f64
        }
        _ => trajectory.expected_at(at),
    }
}

fn clamp(ind: &Indicator, v: f64) -> f64 {
    let v = ind.min.map_or(v, |m| v.max(m));
    ind.max.map_or(v, |m| v.min(m))
}

/// Runs the demo city until SIGINT/SIGTERM.
/// What `pantau demo` takes from the command line.
#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    /// Address to listen on (default: the embedded settings', or a free port when it is taken).
    pub listen: Option<std::net::SocketAddr>,
    /// Database file (default: a new one in the temporary folder).
    pub db: Option<std::path::PathBuf>,
    /// Serve the dashboards from this folder instead of the embedded copy.
    pub dashboards: Option<std::path::PathBuf>,
}

pub async fn run(args: DemoOptions) -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let stop = crate::server::shutdown_signal();
    let simulation = SharedSimulation::default();
    let services = start_simulated_services(simulation.clone())
        .await
        .context("cannot start the simulated department services")?;
    let masterplan = format!("{EMBEDDED_MASTERPLAN}\n{}", demo_feeds(services));
    let mut config = Config::inline(EMBEDDED_SETTINGS, &masterplan)?;
    let db = match &args.db {
        Some(p) => p.clone(),
        None => {
            let dir = std::env::temp_dir().join(format!("pantau-demo-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            dir.join("pantau.db")
        }
    };
    config.settings.database = db.clone();
    if let Some(l) = args.listen {
        config.settings.server.listen = l;
    }
    let admin = match &config.settings.auth.admin_token {
        Some(t) => t.expose().to_string(),
        None => {
            let mut b = [0u8; 18];
            getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
            let t = format!("demo-admin-{}", hex::encode(b));
            config.settings.auth.admin_token = Some(crate::config::Secret::new(t.clone()));
            t
        }
    };
    let listener = match tokio::net::TcpListener::bind(config.settings.server.listen).await {
        Ok(l) => l,
        Err(e) if args.listen.is_none() => {
            eprintln!(
                "pantau demo: {} is busy ({e}); using a free port instead",
                config.settings.server.listen
            );
            tokio::net::TcpListener::bind("127.0.0.1:0").await?
        }
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot listen on {}", config.settings.server.listen));
        }
    };
    let addr = listener.local_addr()?;
    // Claimed before the history is written: a database another daemon serves is left alone.
    let lock = crate::server::claim(&db, addr, config.settings.city.time_zone)?;
    let fresh = !db.exists()
        || crate::store::open_reader(&db)
            .and_then(|c| crate::store::read::observation_count(&c))
            .unwrap_or(0)
            == 0;
    if fresh {
        let now = Utc::now().timestamp_millis();
        let rows = history(&config, now);
        let n = rows.len();
        let observations = crate::ingest::validate(
            &config.masterplan,
            config.settings.city.time_zone,
            now,
            None,
            rows.into_iter()
                .enumerate()
                .map(|(i, o)| crate::ingest::RawRow {
                    line: i + 1,
                    indicator: Some(o.indicator.to_string()),
                    time: Some(crate::ingest::RawTime::Instant(o.time)),
                    value: Some(crate::ingest::RawValue::Number(o.value)),
                    note: None,
                })
                .collect(),
        )
        .map_err(|e| anyhow::anyhow!("the demo history does not validate: {e:?}"))?;
        let db2 = db.clone();
        tokio::task::spawn_blocking(move || {
            crate::store::backfill(&db2, observations, Source::Import)
        })
        .await??;
        eprintln!(
            "pantau demo: wrote {n} historical observations to {}",
            db.display()
        );
    }
    // The simulated feeds continue what the database holds (fresh history or an earlier run).
    let sim = {
        let (config, db) = (config.clone(), db.clone());
        tokio::task::spawn_blocking(move || {
            Simulation::from_store(&config, &db, Utc::now().timestamp_millis())
        })
        .await??
    };
    let _ = simulation.set(sim);
    let dinkes_token = {
        let conn = crate::store::open_writer(&db)?;
        let d = crate::domain::DepartmentId::parse("dinkes")?;
        crate::store::tokens::create(&conn, &d, "demo")?.1
    };
    eprintln!(
        "pantau demo: {} with simulated department feeds on {services}",
        config.settings.city.name
    );
    eprintln!("pantau demo: database {}", db.display());
    eprintln!("pantau demo: admin token {admin}");
    eprintln!("pantau demo: Dinkes token {dinkes_token}");
    eprintln!(
        "pantau demo: open http://{addr}/  (wall: http://{addr}/wall?screen=wall-1, quick wins: http://{addr}/quick-wins)"
    );
    crate::server::run(
        config,
        listener,
        RunOptions {
            dashboards_dir: args.dashboards,
            heartbeat: None,
            lock: Some(lock),
        },
        stop,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_feeds_validate_against_the_example_masterplan() {
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let config = Config::inline(
            EMBEDDED_SETTINGS,
            &format!("{EMBEDDED_MASTERPLAN}\n{}", demo_feeds(addr)),
        )
        .unwrap();
        assert_eq!(config.feeds.len(), 6);
        let formats: std::collections::HashSet<&str> =
            config.feeds.iter().map(|f| f.format.name()).collect();
        assert_eq!(formats.len(), 4, "all four formats are simulated");
    }

    #[test]
    fn history_validates_and_covers_several_statuses() {
        let config = Config::embedded().unwrap();
        let now = Utc::now().timestamp_millis();
        let rows = history(&config, now);
        assert!(rows.len() > 1000);
        for r in &rows {
            let ind = config.masterplan.indicator(r.indicator.as_str()).unwrap();
            assert!(r.time >= date_start_millis(ind.baseline.date, config.settings.city.time_zone));
            assert!(r.time <= now && r.value.is_finite());
        }
    }
}
