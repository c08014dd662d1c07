//! The hub: numbers each change (`seq`) within an `epoch` (new at every start), keeps a bounded
//! history for resuming screens, and broadcasts to sessions over a bounded channel.
//!
//! Invariants: sequence numbers have no gaps; history and the broadcast channel are bounded, so
//! memory stays bounded however many screens stall; `publish` never blocks on a screen.

use crate::progress::state::{
    Change, Filter, IndicatorProgress, ProgressSnapshot, RollUpProgress, StatusEvent,
};
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// Deltas kept for screens that resume with `since`.
pub const HISTORY: usize = 1024;
/// Messages buffered per session before it counts as lagging.
pub const CHANNEL: usize = 256;

/// One numbered change.
#[derive(Debug)]
pub struct Delta {
    pub seq: u64,
    pub indicators: Vec<Arc<IndicatorProgress>>,
    pub programs: Vec<Arc<RollUpProgress>>,
    pub dimensions: Vec<Arc<RollUpProgress>>,
    pub masterplan: Option<Arc<RollUpProgress>>,
    pub events: Vec<StatusEvent>,
    /// The unfiltered delta message, serialized once and shared by every unfiltered screen.
    pub json: bytes::Bytes,
    /// The events, serialized once each.
    pub event_json: Vec<bytes::Bytes>,
    /// The masterplan itself changed (reload): sessions send a fresh snapshot instead.
    pub reset: bool,
}

/// What the hub broadcasts.
pub type HubMessage = Arc<Delta>;

#[derive(Serialize)]
struct DeltaWire<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    epoch: &'a str,
    seq: u64,
    indicators: Vec<&'a IndicatorProgress>,
    programs: Vec<&'a RollUpProgress>,
    dimensions: Vec<&'a RollUpProgress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    masterplan: Option<&'a RollUpProgress>,
}

#[derive(Serialize)]
struct EventWire<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    epoch: &'a str,
    seq: u64,
    #[serde(flatten)]
    event: &'a StatusEvent,
}

#[derive(Serialize)]
struct SnapshotWire<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    epoch: &'a str,
    seq: u64,
    progress: crate::progress::state::ProgressView<'a>,
}

struct Inner {
    seq: u64,
    snapshot: Arc<ProgressSnapshot>,
    history: VecDeque<Arc<Delta>>,
}

/// The hub handle (cheap to clone).
#[derive(Clone)]
pub struct Hub {
    epoch: Arc<str>,
    inner: Arc<Mutex<Inner>>,
    tx: broadcast::Sender<HubMessage>,
    /// To the relay task, which broadcasts each delta in the order queued (see `Hub::new`);
    /// None outside a runtime, where `publish` broadcasts itself.
    relay: Option<tokio::sync::mpsc::UnboundedSender<HubMessage>>,
}

/// What a new session starts from.
pub enum Start {
    /// Replay these deltas (all newer than the session's `since`).
    Replay(Vec<Arc<Delta>>),
    /// Send this snapshot, taken at this seq.
    Snapshot(Arc<ProgressSnapshot>, u64),
}

impl Hub {
    /// A hub starting from `snapshot`. Inside a tokio runtime it starts the relay: a task that
    /// broadcasts what `publish` queued. The writer publishes from a thread of its own, and a
    /// broadcast wakes every session's task: from outside the runtime each wake went through
    /// the runtime's shared queue, one lock each, which made the writer's share of a
    /// 1,000-screen fan-out (0.8 ms a delta, the largest part of its time) and delayed the
    /// acknowledgement behind it; from a task on the runtime the wakes go to the worker's own
    /// queue. The relay's queue holds deltas only until the relay's next turn (it never waits for
    /// a screen: a broadcast does not block), and sessions drop any delta they already hold
    /// from a snapshot, so a delta queued while a screen subscribes is neither lost nor shown
    /// twice.
    pub fn new(snapshot: Arc<ProgressSnapshot>) -> Self {
        let mut b = [0u8; 8];
        let _ = getrandom::fill(&mut b);
        let (tx, _) = broadcast::channel(CHANNEL);
        let relay = tokio::runtime::Handle::try_current().ok().map(|rt| {
            let (relay, mut queued) = tokio::sync::mpsc::unbounded_channel::<HubMessage>();
            let out = tx.clone();
            rt.spawn(async move {
                while let Some(delta) = queued.recv().await {
                    let _ = out.send(delta);
                }
            });
            relay
        });
        Hub {
            relay,
            epoch: Arc::from(hex::encode(b)),
            inner: Arc::new(Mutex::new(Inner {
                seq: 0,
                snapshot,
                history: VecDeque::with_capacity(HISTORY),
            })),
            tx,
        }
    }

    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    pub fn seq(&self) -> u64 {
        self.inner.lock().map(|i| i.seq).unwrap_or(0)
    }

    /// Numbers a change and sends it to every session. Returns the new seq, or None when nothing
    /// visible changed. Never waits for a screen.
    pub fn publish(&self, change: &Change, snapshot: Arc<ProgressSnapshot>) -> Option<u64> {
        let Ok(mut inner) = self.inner.lock() else {
            return None;
        };
        inner.snapshot = snapshot.clone();
        if change.is_empty() {
            return None;
        }
        let seq = inner.seq + 1;
        let pick_ind = |v: &[usize]| -> Vec<Arc<IndicatorProgress>> {
            v.iter()
                .filter_map(|i| snapshot.indicators.get(*i).cloned())
                .collect()
        };
        let pick = |v: &[usize], from: &[Arc<RollUpProgress>]| -> Vec<Arc<RollUpProgress>> {
            v.iter().filter_map(|i| from.get(*i).cloned()).collect()
        };
        let mut delta = Delta {
            seq,
            indicators: pick_ind(&change.indicators),
            programs: pick(&change.programs, &snapshot.programs),
            dimensions: pick(&change.dimensions, &snapshot.dimensions),
            masterplan: change.masterplan.then(|| snapshot.masterplan.clone()),
            events: change.events.clone(),
            json: bytes::Bytes::new(),
            event_json: Vec::new(),
            reset: false,
        };
        let has_items = !delta.indicators.is_empty()
            || !delta.programs.is_empty()
            || !delta.dimensions.is_empty()
            || delta.masterplan.is_some();
        if has_items {
            delta.json = self
                .render_delta(&delta, &Filter::default())
                .unwrap_or_default();
        }
        delta.event_json = delta
            .events
            .iter()
            .filter_map(|e| self.event_json(seq, e))
            .collect();
        let delta = Arc::new(delta);
        inner.seq = seq;
        if inner.history.len() == HISTORY {
            inner.history.pop_front();
        }
        inner.history.push_back(delta.clone());
        // Queued under the lock so that sessions see deltas in seq order; never blocks.
        self.broadcast(delta);
        Some(seq)
    }

    /// Numbers and sends events that change no progress item (a feed went down or came back).
    pub fn publish_events(&self, events: Vec<StatusEvent>) -> Option<u64> {
        if events.is_empty() {
            return None;
        }
        let snapshot = self.current().0;
        let change = Change {
            events,
            ..Change::default()
        };
        self.publish(&change, snapshot)
    }

    /// Replaces the snapshot after a reload: every session is sent a fresh snapshot.
    pub fn reset(&self, snapshot: Arc<ProgressSnapshot>) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        inner.snapshot = snapshot;
        let seq = inner.seq + 1;
        inner.seq = seq;
        let delta = Arc::new(Delta {
            seq,
            indicators: Vec::new(),
            programs: Vec::new(),
            dimensions: Vec::new(),
            masterplan: None,
            events: Vec::new(),
            json: bytes::Bytes::new(),
            event_json: Vec::new(),
            reset: true,
        });
        // A resuming screen cannot replay across a reset: history restarts here.
        inner.history.clear();
        inner.history.push_back(delta.clone());
        self.broadcast(delta);
    }

    /// Hands `delta` to the relay (or, outside a runtime, broadcasts it). Call under the lock.
    fn broadcast(&self, delta: HubMessage) {
        let unsent = match &self.relay {
            Some(relay) => relay.send(delta).err().map(|e| e.0),
            None => Some(delta),
        };
        // Without a relay (or once the runtime that ran it stopped), directly.
        if let Some(delta) = unsent {
            let _ = self.tx.send(delta);
        }
    }

    /// Subscribes a session and says where it starts: a replay when it can resume from
    /// (`since`, `epoch`), else a snapshot.
    pub fn subscribe(
        &self,
        since: Option<u64>,
        epoch: Option<&str>,
    ) -> (broadcast::Receiver<HubMessage>, Start) {
        let inner = match self.inner.lock() {
            Ok(i) => i,
            Err(p) => p.into_inner(),
        };
        let rx = self.tx.subscribe();
        let resumable = since.filter(|s| {
            epoch == Some(&*self.epoch)
                && *s <= inner.seq
                && inner
                    .history
                    .front()
                    .map_or(*s == inner.seq, |d| d.seq <= s + 1)
        });
        let start = match resumable {
            Some(s) => Start::Replay(
                inner
                    .history
                    .iter()
                    .filter(|d| d.seq > s)
                    .cloned()
                    .collect(),
            ),
            None => Start::Snapshot(inner.snapshot.clone(), inner.seq),
        };
        (rx, start)
    }

    /// A fresh snapshot and the seq it is current at.
    pub fn current(&self) -> (Arc<ProgressSnapshot>, u64) {
        match self.inner.lock() {
            Ok(i) => (i.snapshot.clone(), i.seq),
            Err(p) => {
                let i = p.into_inner();
                (i.snapshot.clone(), i.seq)
            }
        }
    }

    /// The delta message for a filter; None when nothing in it concerns the filter.
    pub fn delta_json(&self, d: &Delta, filter: &Filter) -> Option<bytes::Bytes> {
        if filter.is_empty() {
            // Event-only changes have no delta message, just their events.
            return (!d.json.is_empty()).then(|| d.json.clone());
        }
        self.render_delta(d, filter)
    }

    fn render_delta(&self, d: &Delta, filter: &Filter) -> Option<bytes::Bytes> {
        let indicators: Vec<&IndicatorProgress> = d
            .indicators
            .iter()
            .filter(|i| filter.indicator(i))
            .map(|i| i.as_ref())
            .collect();
        let programs: Vec<&RollUpProgress> = d
            .programs
            .iter()
            .filter(|p| {
                filter.program(p, |dep| {
                    indicators
                        .iter()
                        .any(|i| i.department == dep && i.program == p.id)
                })
            })
            .map(|p| p.as_ref())
            .collect();
        let dimensions: Vec<&RollUpProgress> = d
            .dimensions
            .iter()
            .filter(|x| filter.is_empty() || filter.dimension.as_ref().is_none_or(|w| *w == x.id))
            .filter(|x| {
                filter.is_empty()
                    || filter.dimension.is_some()
                    || programs
                        .iter()
                        .any(|p| p.dimension.as_deref() == Some(&x.id))
            })
            .map(|x| x.as_ref())
            .collect();
        if !filter.is_empty()
            && indicators.is_empty()
            && programs.is_empty()
            && dimensions.is_empty()
        {
            return None;
        }
        let wire = DeltaWire {
            kind: "delta",
            epoch: &self.epoch,
            seq: d.seq,
            indicators,
            programs,
            dimensions,
            masterplan: if filter.is_empty() {
                d.masterplan.as_deref()
            } else {
                None
            },
        };
        serde_json::to_vec(&wire).ok().map(bytes::Bytes::from)
    }

    fn event_json(&self, seq: u64, e: &StatusEvent) -> Option<bytes::Bytes> {
        let wire = EventWire {
            kind: "event",
            epoch: &self.epoch,
            seq,
            event: e,
        };
        serde_json::to_vec(&wire).ok().map(bytes::Bytes::from)
    }

    /// A snapshot message for a filter, in parts: for an unfiltered screen, the progress JSON the
    /// snapshot already holds (serialized once, shared by every screen and `/api/v1/progress`)
    /// between the message's head and closing brace, the same bytes `snapshot_json` writes.
    pub fn snapshot_message(
        &self,
        snapshot: &ProgressSnapshot,
        seq: u64,
        filter: &Filter,
    ) -> Vec<bytes::Bytes> {
        if !filter.is_empty() {
            return vec![self.snapshot_json(snapshot, seq, filter)];
        }
        let head = format!(
            "{{\"type\":\"snapshot\",\"epoch\":{},\"seq\":{seq},\"progress\":",
            serde_json::to_string(&*self.epoch).unwrap_or_default()
        );
        vec![
            bytes::Bytes::from(head),
            snapshot.json(),
            bytes::Bytes::from_static(b"}"),
        ]
    }

    /// A snapshot message for a filter.
    pub fn snapshot_json(
        &self,
        snapshot: &ProgressSnapshot,
        seq: u64,
        filter: &Filter,
    ) -> bytes::Bytes {
        let wire = SnapshotWire {
            kind: "snapshot",
            epoch: &self.epoch,
            seq,
            progress: snapshot.view(filter),
        };
        serde_json::to_vec(&wire)
            .map(bytes::Bytes::from)
            .unwrap_or_default()
    }

    /// Events of a delta that concern a filter.
    pub fn events_for<'a>(
        &self,
        d: &'a Delta,
        filter: &'a Filter,
    ) -> impl Iterator<Item = &'a bytes::Bytes> + 'a {
        d.events
            .iter()
            .zip(&d.event_json)
            .filter(move |(e, _)| {
                filter.is_empty()
                    || match e.item_type {
                        "indicator" => d
                            .indicators
                            .iter()
                            .any(|i| i.id == e.id && filter.indicator(i)),
                        "program" => d
                            .programs
                            .iter()
                            .any(|p| p.id == e.id && filter.program(p, |_| true)),
                        // Feed health is shown on unfiltered screens and department pages.
                        "feed" => filter.dimension.is_none() && !filter.quick_win,
                        _ => false,
                    }
            })
            .map(|(_, j)| j)
    }
}
