//! The federation's state: every followed city (one lock over all of them, held for tiny
//! sections and never across `.await`), and the hub that numbers each change for the
//! federation's own screens (the same protocol as a city's: a snapshot, then numbered deltas
//! within an epoch, resumable with `since`/`epoch`).
//!
//! Invariant: a change to a city and its delta are made under the same lock, so a snapshot
//! (taken under it) and the seq it carries always agree.

use super::city::{City, Millis};
use super::config::FederationConfig;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

/// Deltas kept for screens that resume with `since`.
pub const HISTORY: usize = 1024;
/// Messages buffered per screen before it counts as lagging (it then gets a snapshot).
pub const CHANNEL: usize = 1024;

/// One numbered change on the federation's live feed.
#[derive(Debug)]
pub struct WallDelta {
    pub seq: u64,
    pub json: bytes::Bytes,
}

struct HubInner {
    seq: u64,
    history: VecDeque<Arc<WallDelta>>,
}

/// Where a new screen starts.
pub enum Start {
    Replay(Vec<Arc<WallDelta>>),
    Snapshot(bytes::Bytes, u64),
}

/// Everything the federation's tasks and handlers share. Cheap to clone.
#[derive(Clone)]
pub struct Federation {
    pub config: Arc<FederationConfig>,
    cities: Arc<Mutex<Vec<City>>>,
    epoch: Arc<str>,
    hub: Arc<Mutex<HubInner>>,
    tx: broadcast::Sender<Arc<WallDelta>>,
    pub started: std::time::Instant,
    pub metrics: Arc<Metrics>,
}

/// Counters of the federation (besides each city's health).
#[derive(Debug, Default)]
pub struct Metrics {
    pub screens: std::sync::atomic::AtomicU64,
    pub history_rows: std::sync::atomic::AtomicU64,
    pub history_errors: std::sync::atomic::AtomicU64,
}

#[derive(Serialize)]
struct DeltaWire<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    epoch: &'a str,
    seq: u64,
    cities: Vec<super::city::CityView<'a>>,
}

/// The body of `/api/v1/federation/progress` (and of a screen's snapshot).
#[derive(Serialize)]
pub struct ProgressView<'a> {
    pub name: &'a str,
    pub as_of: String,
    pub time_zone: &'a str,
    pub locale: &'a str,
    pub stale_after_seconds: u64,
    /// Every dimension any city reports, in the order first seen.
    pub dimensions: Vec<DimensionName<'a>>,
    /// Cities ranked by masterplan progress, highest first (cities without data last).
    pub cities: Vec<super::city::CityView<'a>>,
}

#[derive(Serialize)]
pub struct DimensionName<'a> {
    pub id: &'a str,
    pub name: &'a str,
}

pub fn now_ms() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

impl Federation {
    pub fn new(config: FederationConfig) -> Self {
        let cities = config
            .cities
            .iter()
            .map(|c| City::new(Arc::new(c.clone())))
            .collect();
        let mut b = [0u8; 8];
        let _ = getrandom::fill(&mut b);
        let (tx, _) = broadcast::channel(CHANNEL);
        Federation {
            config: Arc::new(config),
            cities: Arc::new(Mutex::new(cities)),
            epoch: Arc::from(hex::encode(b)),
            hub: Arc::new(Mutex::new(HubInner {
                seq: 0,
                history: VecDeque::with_capacity(HISTORY),
            })),
            tx,
            started: std::time::Instant::now(),
            metrics: Arc::new(Metrics::default()),
        }
    }

    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    pub fn seq(&self) -> u64 {
        lock(&self.hub).seq
    }

    fn stale_after_ms(&self) -> Millis {
        self.config.follow.stale_after.as_millis() as Millis
    }

    pub fn tz(&self) -> chrono_tz::Tz {
        self.config.settings.city.time_zone
    }

    /// Changes city `index` with `f` and, when `f` says something visible changed, publishes
    /// the city's new view as one delta. Returns what `f` returned.
    pub fn update<R>(&self, index: usize, f: impl FnOnce(&mut City) -> (R, bool)) -> Option<R> {
        let mut cities = lock(&self.cities);
        let city = cities.get_mut(index)?;
        let (out, changed) = f(city);
        if changed {
            let now = now_ms();
            city.shown_stale = city.stale(now, self.stale_after_ms());
            let view = city.view(now, self.stale_after_ms(), self.tz());
            self.publish(vec![view]);
        }
        Some(out)
    }

    /// Shows each city's last known data (stored before a restart) until the city answers:
    /// unconnected, stale, with the age of the data. Cities no longer configured are ignored.
    pub fn restore(&self, kept: Vec<super::history::LastKnown>) -> usize {
        let mut cities = lock(&self.cities);
        let mut restored = 0;
        for k in kept {
            let Some(c) = cities.iter_mut().find(|c| c.spec.id == k.city) else {
                continue;
            };
            if c.data.masterplan.is_some() || c.health.last_data.is_some() {
                continue;
            }
            c.data = k.data;
            c.health.last_data = k.last_data;
            c.health.version = k.version;
            restored += 1;
        }
        restored
    }

    /// Reads city `index`.
    pub fn read<R>(&self, index: usize, f: impl FnOnce(&City) -> R) -> Option<R> {
        lock(&self.cities).get(index).map(f)
    }

    /// Publishes the cities whose stale flag flipped since they were last shown.
    pub fn refresh_staleness(&self) -> usize {
        let mut cities = lock(&self.cities);
        let now = now_ms();
        let stale_after = self.stale_after_ms();
        let mut flipped = Vec::new();
        for c in cities.iter_mut() {
            let stale = c.stale(now, stale_after);
            if stale != c.shown_stale {
                c.shown_stale = stale;
                flipped.push(&*c);
            }
        }
        let n = flipped.len();
        if n > 0 {
            let views = flipped
                .into_iter()
                .map(|c| c.view(now, stale_after, self.tz()))
                .collect();
            self.publish(views);
        }
        n
    }

    /// Numbers and broadcasts a delta of these city views. Called under the cities' lock.
    fn publish(&self, cities: Vec<super::city::CityView<'_>>) {
        let mut hub = lock(&self.hub);
        let seq = hub.seq + 1;
        let wire = DeltaWire {
            kind: "delta",
            epoch: &self.epoch,
            seq,
            cities,
        };
        let Ok(json) = serde_json::to_vec(&wire) else {
            return;
        };
        let delta = Arc::new(WallDelta {
            seq,
            json: json.into(),
        });
        hub.seq = seq;
        if hub.history.len() == HISTORY {
            hub.history.pop_front();
        }
        hub.history.push_back(delta.clone());
        let _ = self.tx.send(delta);
    }

    /// The federation's progress (every city, ranked) as JSON.
    pub fn progress_json(&self) -> bytes::Bytes {
        let cities = lock(&self.cities);
        render_progress(self, &cities)
    }

    /// Every city's connection, as JSON.
    pub fn health_json(&self) -> bytes::Bytes {
        let cities = lock(&self.cities);
        let now = now_ms();
        let views: Vec<_> = cities
            .iter()
            .map(|c| c.health_view(now, self.tz()))
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "as_of": crate::domain::format_instant(now, self.tz()),
            "cities": views,
        }))
        .unwrap_or_default()
        .into()
    }

    /// Subscribes a screen; it replays from (`since`, `epoch`) when it can, else starts from a
    /// snapshot.
    pub fn subscribe(
        &self,
        since: Option<u64>,
        epoch: Option<&str>,
    ) -> (broadcast::Receiver<Arc<WallDelta>>, Start) {
        // The cities' lock first (as publishers take it), so that no delta slips between the
        // subscription and the start point.
        let cities = lock(&self.cities);
        let hub = lock(&self.hub);
        let rx = self.tx.subscribe();
        let resumable = since.filter(|s| {
            epoch == Some(&*self.epoch)
                && *s <= hub.seq
                && hub
                    .history
                    .front()
                    .map_or(*s == hub.seq, |d| d.seq <= s + 1)
        });
        if let Some(s) = resumable {
            let replay = hub.history.iter().filter(|d| d.seq > s).cloned().collect();
            return (rx, Start::Replay(replay));
        }
        let seq = hub.seq;
        drop(hub);
        let progress = render_progress(self, &cities);
        drop(cities);
        let head = format!(
            "{{\"type\":\"snapshot\",\"epoch\":{},\"seq\":{seq},\"federation\":",
            serde_json::to_string(&*self.epoch).unwrap_or_default()
        );
        let mut out = Vec::with_capacity(head.len() + progress.len() + 1);
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(&progress);
        out.push(b'}');
        (rx, Start::Snapshot(out.into(), seq))
    }

    /// Runs `f` over every city (for metrics and the history).
    pub fn each<R>(&self, mut f: impl FnMut(&City) -> R) -> Vec<R> {
        lock(&self.cities).iter().map(&mut f).collect()
    }

    /// Marks the given cities' summaries as stored.
    pub fn mark_saved(&self, ids: &[String]) {
        let mut cities = lock(&self.cities);
        for c in cities.iter_mut() {
            if ids.contains(&c.spec.id) {
                c.unsaved = false;
                c.saved_once = true;
            }
        }
    }
}

fn render_progress(fed: &Federation, cities: &[City]) -> bytes::Bytes {
    let now = now_ms();
    let stale_after = fed.stale_after_ms();
    let tz = fed.tz();
    let mut views: Vec<_> = cities
        .iter()
        .map(|c| c.view(now, stale_after, tz))
        .collect();
    views.sort_by(|a, b| {
        let p = |v: &super::city::CityView<'_>| v.masterplan.and_then(|m| m.progress);
        match (p(a), p(b)) {
            (Some(x), Some(y)) => y.total_cmp(&x),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.name.cmp(b.name),
        }
    });
    let mut dimensions: Vec<DimensionName<'_>> = Vec::new();
    for c in cities {
        for d in &c.data.dimensions {
            if !dimensions.iter().any(|x| x.id == d.id) {
                dimensions.push(DimensionName {
                    id: &d.id,
                    name: if d.name.is_empty() { &d.id } else { &d.name },
                });
            }
        }
    }
    let settings = &fed.config.settings;
    let view = ProgressView {
        name: fed.config.name(),
        as_of: crate::domain::format_instant(now, tz),
        time_zone: tz.name(),
        locale: match settings.city.locale {
            crate::config::Locale::En => "en",
            _ => "id",
        },
        stale_after_seconds: fed.config.follow.stale_after.as_secs(),
        dimensions,
        cities: views,
    };
    serde_json::to_vec(&view).unwrap_or_default().into()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}
