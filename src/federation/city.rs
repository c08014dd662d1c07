//! One followed city as the federation knows it: its latest roll-ups (merged from the city's
//! snapshot and deltas), the health of its connection, and the views of both that the API and
//! the wall show. Pure code: the clock is passed in.

use super::config::{CityKind, CitySpec};
use super::wire::{CityMessage, ProgressDoc, RollUp};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

pub type Millis = i64;

/// The city's data, as last received (and as kept in the history database).
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct CityData {
    /// The city's own `as_of` text of its last snapshot.
    pub as_of: Option<String>,
    pub masterplan: Option<RollUp>,
    pub dimensions: Vec<RollUp>,
    /// The city's quick-win programs only.
    pub quick_wins: Vec<RollUp>,
}

/// The connection to a city.
#[derive(Debug, Clone, Default)]
pub struct Health {
    pub connected: bool,
    pub connected_since: Option<Millis>,
    /// When anything last arrived from the city (messages and pings).
    pub last_message: Option<Millis>,
    /// When the city's data was last confirmed current (a snapshot, a delta, or a live
    /// connection's heartbeat).
    pub last_data: Option<Millis>,
    pub last_error: Option<String>,
    pub last_error_at: Option<Millis>,
    /// The city's pantau version, when it reports one (`/healthz` or the snapshot).
    pub version: Option<String>,
    pub epoch: Option<String>,
    pub seq: Option<u64>,
    pub connects: u64,
    pub messages: u64,
    pub snapshots: u64,
    pub errors: u64,
}

/// What applying a message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The data changed.
    Changed,
    /// Nothing visible changed (an event, an unknown message).
    Unchanged,
    /// The message belongs to another epoch or skips seq numbers: a fresh snapshot is needed.
    NeedSnapshot,
}

/// A followed city.
#[derive(Debug, Clone)]
pub struct City {
    pub spec: Arc<CitySpec>,
    pub data: CityData,
    pub health: Health,
    /// The data changed since the daily summary was last stored.
    pub unsaved: bool,
    /// The stale flag as last published to the federation's screens.
    pub shown_stale: bool,
    /// A summary of this city was stored since the federation started.
    pub saved_once: bool,
}

impl City {
    pub fn new(spec: Arc<CitySpec>) -> Self {
        City {
            spec,
            data: CityData::default(),
            health: Health::default(),
            unsaved: false,
            shown_stale: true,
            saved_once: false,
        }
    }

    /// Applies one message received at `now`.
    pub fn apply(&mut self, message: CityMessage, now: Millis) -> Applied {
        self.health.messages += 1;
        self.health.last_message = Some(now);
        match message {
            CityMessage::Snapshot {
                epoch,
                seq,
                version,
                progress,
            } => {
                self.health.snapshots += 1;
                self.health.epoch = Some(epoch);
                self.health.seq = Some(seq);
                if version.is_some() {
                    self.health.version = version;
                }
                self.health.last_data = Some(now);
                self.data = data_of(progress);
                self.unsaved = true;
                Applied::Changed
            }
            CityMessage::Delta {
                epoch,
                seq,
                masterplan,
                dimensions,
                programs,
            } => {
                if !self.in_sequence(&epoch, seq) {
                    return Applied::NeedSnapshot;
                }
                self.health.seq = Some(seq);
                self.health.last_data = Some(now);
                if let Some(m) = masterplan {
                    self.data.masterplan = Some(m);
                }
                for d in dimensions {
                    match self.data.dimensions.iter_mut().find(|x| x.id == d.id) {
                        Some(x) => *x = d,
                        None => self.data.dimensions.push(d),
                    }
                }
                for p in programs {
                    let pos = self.data.quick_wins.iter().position(|x| x.id == p.id);
                    match (pos, p.quick_win == Some(true)) {
                        (Some(i), true) => self.data.quick_wins[i] = p,
                        (Some(i), false) => {
                            self.data.quick_wins.remove(i);
                        }
                        (None, true) => self.data.quick_wins.push(p),
                        (None, false) => {}
                    }
                }
                self.unsaved = true;
                Applied::Changed
            }
            CityMessage::Other { epoch, seq } => {
                if !self.in_sequence(&epoch, seq) {
                    return Applied::NeedSnapshot;
                }
                self.health.seq = Some(seq);
                self.health.last_data = Some(now);
                Applied::Unchanged
            }
        }
    }

    /// A numbered message continues what the federation holds: same epoch, and seq the same
    /// (an event beside its delta) or the next one.
    fn in_sequence(&self, epoch: &str, seq: u64) -> bool {
        self.health.epoch.as_deref() == Some(epoch)
            && self
                .health
                .seq
                .is_some_and(|last| seq == last || seq == last + 1)
    }

    /// Where to resume after a drop: (seq, epoch) of the last message applied.
    pub fn resume(&self) -> Option<(u64, String)> {
        Some((self.health.seq?, self.health.epoch.clone()?))
    }

    /// Seconds since the data was last confirmed current.
    pub fn age_seconds(&self, now: Millis) -> Option<i64> {
        self.health.last_data.map(|t| ((now - t) / 1000).max(0))
    }

    pub fn stale(&self, now: Millis, stale_after_ms: Millis) -> bool {
        match self.health.last_data {
            None => true,
            Some(t) => now - t > stale_after_ms,
        }
    }

    /// Quick wins by status, with how many are overdue.
    pub fn quick_win_counts(&self) -> BTreeMap<String, u64> {
        let mut c: BTreeMap<String, u64> =
            ["achieved", "on_track", "at_risk", "off_track", "no_data"]
                .iter()
                .map(|s| (s.to_string(), 0))
                .collect();
        for p in &self.data.quick_wins {
            *c.entry(p.status.clone()).or_default() += 1;
            if p.overdue {
                *c.entry("overdue".into()).or_default() += 1;
            }
        }
        c.entry("overdue".into()).or_default();
        c.insert("total".into(), self.data.quick_wins.len() as u64);
        c
    }

    /// The city as the federation's API and wall show it.
    pub fn view(&self, now: Millis, stale_after_ms: Millis, tz: chrono_tz::Tz) -> CityView<'_> {
        let spec = &self.spec;
        let at_risk: Vec<&RollUp> = self
            .data
            .quick_wins
            .iter()
            .filter(|p| matches!(p.status.as_str(), "at_risk" | "off_track") || p.overdue)
            .collect();
        CityView {
            id: &spec.id,
            name: &spec.name,
            kind: spec.kind,
            province: &spec.province,
            url: spec.url.as_str(),
            zone: spec.zone.map(|z| z.name()),
            version: self.health.version.as_deref(),
            connected: self.health.connected,
            stale: self.stale(now, stale_after_ms),
            has_data: self.data.masterplan.is_some(),
            last_data: self.health.last_data.map(|t| instant(t, tz)),
            last_data_ms: self.health.last_data,
            age_seconds: self.age_seconds(now),
            city_as_of: self.data.as_of.as_deref(),
            masterplan: self.data.masterplan.as_ref(),
            dimensions: &self.data.dimensions,
            status_counts: self
                .data
                .masterplan
                .as_ref()
                .map(|m| &m.counts)
                .unwrap_or(&EMPTY),
            quick_wins: self.quick_win_counts(),
            quick_wins_at_risk: at_risk,
        }
    }

    /// The city's connection as `/api/v1/cities` shows it.
    pub fn health_view(&self, now: Millis, tz: chrono_tz::Tz) -> HealthView<'_> {
        let h = &self.health;
        HealthView {
            id: &self.spec.id,
            name: &self.spec.name,
            url: self.spec.url.as_str(),
            connected: h.connected,
            connected_since: h.connected_since.map(|t| instant(t, tz)),
            last_message: h.last_message.map(|t| instant(t, tz)),
            last_message_age_seconds: h.last_message.map(|t| ((now - t) / 1000).max(0)),
            last_error: h.last_error.as_deref(),
            last_error_at: h.last_error_at.map(|t| instant(t, tz)),
            version: h.version.as_deref(),
            epoch: h.epoch.as_deref(),
            seq: h.seq,
            connects: h.connects,
            messages: h.messages,
            snapshots: h.snapshots,
            errors: h.errors,
        }
    }
}

static EMPTY: BTreeMap<String, u64> = BTreeMap::new();

fn instant(t: Millis, tz: chrono_tz::Tz) -> String {
    crate::domain::format_instant(t, tz)
}

fn data_of(progress: ProgressDoc) -> CityData {
    CityData {
        as_of: progress.as_of,
        masterplan: progress.masterplan,
        dimensions: progress.dimensions.unwrap_or_default(),
        quick_wins: progress
            .programs
            .unwrap_or_default()
            .into_iter()
            .filter(|p| p.quick_win == Some(true))
            .collect(),
    }
}

/// A city on the federation's API and wall.
#[derive(Debug, Serialize)]
pub struct CityView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub kind: CityKind,
    pub province: &'a str,
    /// The city's own pantau (drill-down).
    pub url: &'a str,
    pub zone: Option<&'a str>,
    pub version: Option<&'a str>,
    pub connected: bool,
    /// The data was last confirmed current longer than `stale_after` ago (or never).
    pub stale: bool,
    pub has_data: bool,
    pub last_data: Option<String>,
    pub last_data_ms: Option<Millis>,
    pub age_seconds: Option<i64>,
    pub city_as_of: Option<&'a str>,
    pub masterplan: Option<&'a RollUp>,
    pub dimensions: &'a [RollUp],
    pub status_counts: &'a BTreeMap<String, u64>,
    pub quick_wins: BTreeMap<String, u64>,
    pub quick_wins_at_risk: Vec<&'a RollUp>,
}

/// A city's connection on `/api/v1/cities`.
#[derive(Debug, Serialize)]
pub struct HealthView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub url: &'a str,
    pub connected: bool,
    pub connected_since: Option<String>,
    pub last_message: Option<String>,
    pub last_message_age_seconds: Option<i64>,
    pub last_error: Option<&'a str>,
    pub last_error_at: Option<String>,
    pub version: Option<&'a str>,
    pub epoch: Option<&'a str>,
    pub seq: Option<u64>,
    pub connects: u64,
    pub messages: u64,
    pub snapshots: u64,
    pub errors: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn city() -> City {
        let mut p = Vec::new();
        let (_, cities) = super::super::config::parse(
            "[[city]]\nid = \"a\"\nname = \"Kota A\"\nkind = \"kota\"\nprovince = \"P\"\nurl = \"http://127.0.0.1:1\"\n",
            "f",
            &[],
            &mut p,
        )
        .unwrap();
        City::new(Arc::new(cities[0].clone()))
    }

    fn msg(text: &str) -> CityMessage {
        super::super::wire::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn deltas_merge_into_the_snapshot_and_gaps_ask_for_a_new_one() {
        let mut c = city();
        assert_eq!(
            c.apply(msg(r#"{"type":"delta","epoch":"e","seq":1}"#), 1),
            Applied::NeedSnapshot
        );
        c.apply(msg(r#"{"type":"snapshot","epoch":"e","seq":3,"progress":{"masterplan":{"id":"masterplan","status":"on_track","progress":0.2},"dimensions":[{"id":"living","progress":0.1}],"programs":[{"id":"p1","quick_win":true,"status":"at_risk"},{"id":"p2","quick_win":false}]}}"#), 2);
        assert_eq!(c.data.quick_wins.len(), 1);
        assert_eq!(
            c.apply(msg(r#"{"type":"delta","epoch":"e","seq":4,"masterplan":{"id":"masterplan","status":"achieved","progress":1.0},"dimensions":[{"id":"living","progress":0.9},{"id":"economy","progress":0.5}],"programs":[{"id":"p1","quick_win":true,"status":"achieved"}]}"#), 3),
            Applied::Changed
        );
        assert_eq!(c.data.masterplan.as_ref().unwrap().progress, Some(1.0));
        assert_eq!(c.data.dimensions.len(), 2);
        assert_eq!(c.quick_win_counts()["achieved"], 1);
        assert_eq!(
            c.apply(msg(r#"{"type":"event","epoch":"e","seq":4}"#), 4),
            Applied::Unchanged
        );
        assert_eq!(
            c.apply(msg(r#"{"type":"delta","epoch":"e","seq":6}"#), 5),
            Applied::NeedSnapshot
        );
        assert_eq!(
            c.apply(msg(r#"{"type":"delta","epoch":"other","seq":5}"#), 5),
            Applied::NeedSnapshot
        );
        assert_eq!(c.resume(), Some((4, "e".into())));
    }

    #[test]
    fn a_city_not_heard_from_is_stale_with_its_age() {
        let mut c = city();
        assert!(c.stale(0, 1000));
        c.apply(
            msg(r#"{"type":"snapshot","epoch":"e","seq":1,"progress":{}}"#),
            10_000,
        );
        c.health.connected = true;
        assert!(!c.stale(10_500, 1000));
        assert!(c.stale(12_000, 1000));
        assert_eq!(c.age_seconds(40_000), Some(30));
    }
}
