//! What a city's pantau sends on `/api/v1/live`, read leniently: a city on an older or newer
//! pantau (fields missing, extra, or of another type) still yields what can be shown. Only the
//! masterplan, dimension and program roll-ups are kept; indicators are skipped unread.
//!
//! Pure code: `parse` is linear in the message and is run off the async workers for large
//! messages (`follow`).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// A masterplan, dimension or program roll-up as a city reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RollUp {
    #[serde(deserialize_with = "lenient")]
    pub id: String,
    #[serde(deserialize_with = "lenient")]
    pub name: String,
    /// `no_data`, `achieved`, `on_track`, `at_risk`, `off_track`, or whatever a newer pantau says.
    #[serde(deserialize_with = "lenient")]
    pub status: String,
    #[serde(deserialize_with = "lenient")]
    pub progress: Option<f64>,
    #[serde(deserialize_with = "lenient")]
    pub expected: Option<f64>,
    #[serde(deserialize_with = "lenient")]
    pub stale: bool,
    #[serde(deserialize_with = "lenient")]
    pub overdue: bool,
    /// Indicators under the item by status (and `stale`, `overdue`).
    #[serde(deserialize_with = "lenient")]
    pub counts: BTreeMap<String, u64>,
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub dimension: Option<String>,
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub quick_win: Option<bool>,
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub due: Option<String>,
}

/// A value of the expected type, or its default when the city sent something else.
fn lenient<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    let v = serde_json::Value::deserialize(d)?;
    Ok(T::deserialize(v).unwrap_or_default())
}

/// A list of roll-ups; items that are not roll-ups (or have no id) are left out.
fn rollups<'de, D>(d: D) -> Result<Option<Vec<RollUp>>, D::Error>
where
    D: Deserializer<'de>,
{
    let v = Option::<Vec<serde_json::Value>>::deserialize(d).unwrap_or(None);
    Ok(v.map(|items| {
        items
            .into_iter()
            .filter_map(|i| RollUp::deserialize(i).ok())
            .filter(|r| !r.id.is_empty())
            .collect()
    }))
}

fn rollup<'de, D>(d: D) -> Result<Option<RollUp>, D::Error>
where
    D: Deserializer<'de>,
{
    let v = serde_json::Value::deserialize(d)?;
    Ok(RollUp::deserialize(v).ok().filter(|r| !r.id.is_empty()))
}

/// A snapshot's `progress` document (the body of `/api/v1/progress`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ProgressDoc {
    #[serde(deserialize_with = "lenient")]
    pub as_of: Option<String>,
    #[serde(deserialize_with = "rollup")]
    pub masterplan: Option<RollUp>,
    #[serde(deserialize_with = "rollups")]
    pub dimensions: Option<Vec<RollUp>>,
    #[serde(deserialize_with = "rollups")]
    pub programs: Option<Vec<RollUp>>,
}

/// One message of the live protocol, as far as the federation reads it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Raw {
    #[serde(rename = "type", deserialize_with = "lenient")]
    kind: String,
    #[serde(deserialize_with = "lenient")]
    epoch: Option<String>,
    #[serde(deserialize_with = "lenient")]
    seq: Option<u64>,
    #[serde(deserialize_with = "lenient")]
    version: Option<String>,
    progress: Option<ProgressDoc>,
    #[serde(deserialize_with = "rollup")]
    masterplan: Option<RollUp>,
    #[serde(deserialize_with = "rollups")]
    dimensions: Option<Vec<RollUp>>,
    #[serde(deserialize_with = "rollups")]
    programs: Option<Vec<RollUp>>,
}

/// A message from a city.
#[derive(Debug)]
pub enum CityMessage {
    Snapshot {
        epoch: String,
        seq: u64,
        version: Option<String>,
        progress: ProgressDoc,
    },
    Delta {
        epoch: String,
        seq: u64,
        masterplan: Option<RollUp>,
        dimensions: Vec<RollUp>,
        programs: Vec<RollUp>,
    },
    /// A status event, or a message type this federation does not know: it only moves `seq`.
    Other { epoch: String, seq: u64 },
}

/// Why a message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("the city sent a message that is not JSON ({0}); is the url the city's pantau?")]
    NotJson(String),
    #[error(
        "the city sent a `{0}` message without an epoch and seq; is the url the city's pantau?"
    )]
    NotNumbered(String),
}

/// Reads one text message.
pub fn parse(text: &[u8]) -> Result<CityMessage, WireError> {
    let raw: Raw = serde_json::from_slice(text).map_err(|e| {
        let mut m = e.to_string();
        m.truncate(120);
        WireError::NotJson(m)
    })?;
    let kind: String = raw.kind.chars().take(40).collect();
    let (Some(epoch), Some(seq)) = (raw.epoch.filter(|e| !e.is_empty()), raw.seq) else {
        return Err(WireError::NotNumbered(kind));
    };
    let epoch: String = epoch.chars().take(64).collect();
    Ok(match kind.as_str() {
        "snapshot" => CityMessage::Snapshot {
            epoch,
            seq,
            version: raw.version.map(|v| v.chars().take(40).collect()),
            progress: raw.progress.unwrap_or_default(),
        },
        "delta" => CityMessage::Delta {
            epoch,
            seq,
            masterplan: raw.masterplan,
            dimensions: raw.dimensions.unwrap_or_default(),
            programs: raw.programs.unwrap_or_default(),
        },
        _ => CityMessage::Other { epoch, seq },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_of_this_pantau_is_read() {
        let m = parse(br#"{"type":"snapshot","epoch":"e1","seq":4,"progress":{"as_of":"2026-12-02 08:00 WIB","masterplan":{"id":"masterplan","name":"M","status":"on_track","progress":0.5,"expected":0.4,"stale":false,"overdue":false,"counts":{"no_data":1,"achieved":2,"on_track":3,"at_risk":0,"off_track":0,"stale":0,"overdue":0},"sparkline":[0.1]},"dimensions":[{"id":"living","name":"Living","status":"at_risk","progress":0.3,"expected":0.4,"stale":false,"overdue":false,"counts":{}}],"programs":[{"id":"living.health","name":"Sehat","status":"off_track","progress":0.1,"expected":0.5,"stale":false,"overdue":true,"counts":{},"dimension":"living","quick_win":true,"due":"2026-12-31"}],"indicators":[{"id":"x","whatever":[1,2,3]}]}}"#).unwrap();
        let CityMessage::Snapshot {
            epoch,
            seq,
            progress,
            ..
        } = m
        else {
            panic!("a snapshot");
        };
        assert_eq!((epoch.as_str(), seq), ("e1", 4));
        let mp = progress.masterplan.unwrap();
        assert_eq!(mp.progress, Some(0.5));
        assert_eq!(mp.counts["achieved"], 2);
        let p = &progress.programs.unwrap()[0];
        assert_eq!(p.quick_win, Some(true));
        assert!(p.overdue);
    }

    #[test]
    fn older_and_newer_cities_still_show_what_they_can() {
        // An older pantau: no counts, no expected, no quick_win. A newer one: extra fields,
        // a status this federation does not know, a field of another type.
        let m = parse(br#"{"type":"delta","epoch":"e","seq":9,"masterplan":{"id":"masterplan","name":"M","status":"paused","progress":"n/a","trend":{"x":1}},"dimensions":[{"id":"economy","progress":0.7},{"name":"no id"},7],"programs":null}"#).unwrap();
        let CityMessage::Delta {
            masterplan,
            dimensions,
            programs,
            ..
        } = m
        else {
            panic!("a delta");
        };
        let mp = masterplan.unwrap();
        assert_eq!(mp.status, "paused");
        assert_eq!(mp.progress, None);
        assert_eq!(dimensions.len(), 1);
        assert_eq!(dimensions[0].progress, Some(0.7));
        assert!(programs.is_empty());
        assert!(matches!(
            parse(br#"{"type":"event","epoch":"e","seq":9,"kind":"status_changed"}"#),
            Ok(CityMessage::Other { seq: 9, .. })
        ));
    }

    #[test]
    fn garbage_is_refused_with_a_short_reason() {
        let garbage = vec![b'x'; 100_000];
        let e = parse(&garbage).unwrap_err();
        assert!(e.to_string().len() < 300, "{e}");
        assert_eq!(
            parse(br#"{"type":"delta"}"#).unwrap_err(),
            WireError::NotNumbered("delta".into())
        );
        assert!(parse(b"[1,2]").is_err());
    }
}
