//! The `json` feed format: values picked from a JSON body by JSON Pointer (RFC 6901), or a list of
//! records with a field for the value, the time and (optionally) the indicator.
//!
//! ```toml
//! [feed.json]
//! points = [{ indicator = "gov.wifi.points", value = "/data/total", time = "/data/updated" }]
//! # or
//! records = { path = "/items", indicator_field = "indikator", time = "waktu", value = "nilai", rename = { "wifi" = "gov.wifi.points" } }
//! ```
//!
//! Numbers may come as JSON numbers, strings (`"12.5"`, `"12,5"`, `"1.234,5"`) or booleans (1/0).
//! Strings are read by the one number reader (`crate::values::number`): by its text rule, or with
//! `decimal_comma = true` (`"1.000"` is a thousand) or `false` (`.` marks decimals, `,` groups).
//! `null` and the `missing` markers are skipped and recorded with their JSON Pointer; a pointer
//! or field that is absent is an error.

use super::{
    ExtractContext, ExtractError, FeedPoint, Fields, Page, Problems, ReadNumber, Skipped,
    TimeFormat, TimeValue, check_unique_indicators, describe_json, describe_toml, expected_time,
    is_missing, number_from_number, number_from_text, parse_json_body, read_decimal,
    read_indicator, read_missing, read_scale, read_time_format, shorten, time_from_number,
    time_from_text,
};
use crate::domain::IndicatorId;
use crate::values::Decimal;
use serde_json::Value;

/// The `[feed.json]` mapping, validated.
#[derive(Debug, Clone)]
pub struct JsonMapping {
    /// Where the values are.
    pub shape: JsonShape,
    /// How time values are written (numbers are Unix time).
    pub time_format: TimeFormat,
    /// Strings meaning "no value" besides `null`.
    pub missing: Vec<String>,
    /// How numbers written as strings mark decimals (`decimal_comma`; unset = the text rule).
    pub decimal: Decimal,
}

/// Single values or a list of records.
#[derive(Debug, Clone)]
pub enum JsonShape {
    /// `points = [...]`: each a value somewhere in the body.
    Points(Vec<JsonPoint>),
    /// `records = {...}`: a list of records.
    Records(JsonRecords),
}

/// One value found by JSON Pointer.
#[derive(Debug, Clone)]
pub struct JsonPoint {
    /// The indicator it feeds.
    pub indicator: IndicatorId,
    /// JSON Pointer to the value, e.g. `/data/total` or `/items/0/nilai`.
    pub value: String,
    /// JSON Pointer to its time; None = the poll time.
    pub time: Option<String>,
    /// Multiplier applied to the value (default 1).
    pub scale: f64,
}

/// A list of records, one value each.
#[derive(Debug, Clone)]
pub struct JsonRecords {
    /// JSON Pointer to the list; "" (the default) = the whole body.
    pub path: String,
    /// Which indicator each record feeds.
    pub indicator: RecordIndicator,
    /// The field with the value.
    pub value: FieldRef,
    /// The field with the time; None = the poll time.
    pub time: Option<FieldRef>,
    /// Multiplier applied to each value (default 1).
    pub scale: f64,
}

/// Which indicator a record feeds.
#[derive(Debug, Clone)]
pub enum RecordIndicator {
    /// Every record feeds this indicator (`indicator = "..."`).
    Fixed(IndicatorId),
    /// A field names the indicator in the feed's own words; `rename` maps those names to
    /// indicator ids, and records with other names are ignored.
    Field {
        field: FieldRef,
        rename: Vec<(String, IndicatorId)>,
    },
}

/// A field of a record: a key (`nilai`) or a JSON Pointer into the record (`/detail/nilai`).
#[derive(Debug, Clone, PartialEq)]
pub enum FieldRef {
    Key(String),
    Pointer(String),
}

impl FieldRef {
    /// This field of record `i` of the list at `path`, as a JSON Pointer into the body.
    fn pointer(&self, path: &str, i: usize) -> String {
        match self {
            FieldRef::Key(k) => format!("{path}/{i}/{}", k.replace('~', "~0").replace('/', "~1")),
            FieldRef::Pointer(p) => format!("{path}/{i}{p}"),
        }
    }

    fn get<'v>(&self, record: &'v Value) -> Option<&'v Value> {
        match self {
            FieldRef::Key(k) => record.as_object()?.get(k),
            FieldRef::Pointer(p) => record.pointer(p),
        }
    }

    fn name(&self) -> &str {
        match self {
            FieldRef::Key(k) | FieldRef::Pointer(k) => k,
        }
    }
}

const JSON_KEYS: &[&str] = &[
    "points",
    "records",
    "time_format",
    "missing",
    "decimal_comma",
];
const POINT_KEYS: &[&str] = &["indicator", "value", "time", "scale"];
const RECORD_KEYS: &[&str] = &[
    "path",
    "indicator",
    "indicator_field",
    "rename",
    "value",
    "time",
    "scale",
];

/// The whole body, when `records.path` is not given.
fn default_records_path() -> String {
    String::new()
}

/// Checks RFC 6901 syntax: "" or `/`-separated tokens where `~` is followed by `0` or `1`.
fn check_pointer(p: &str) -> Result<(), String> {
    if !p.is_empty() && !p.starts_with('/') {
        return Err(format!(
            "`{p}` is not a JSON Pointer; it must start with `/`, e.g. \"/data/total\" (\"\" is the whole body)"
        ));
    }
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return Err(format!(
                "`{p}` has a `~` not followed by 0 or 1; write `~0` for `~` and `~1` for `/`"
            ));
        }
    }
    Ok(())
}

fn read_pointer(
    fields: &mut Fields,
    key: &str,
    required: Option<&str>,
    problems: &mut Problems,
) -> Option<String> {
    let text = match required {
        Some(what) => fields.required_string(key, what, problems)?,
        None => fields.string(key, problems)?,
    };
    match check_pointer(&text) {
        Ok(()) => Some(text),
        Err(msg) => {
            problems.push((fields.at(key), msg));
            None
        }
    }
}

fn read_field(
    fields: &mut Fields,
    key: &str,
    required: Option<&str>,
    problems: &mut Problems,
) -> Option<FieldRef> {
    let text = match required {
        Some(what) => fields.required_string(key, what, problems)?,
        None => fields.string(key, problems)?,
    };
    if text.starts_with('/') {
        match check_pointer(&text) {
            Ok(()) => Some(FieldRef::Pointer(text)),
            Err(msg) => {
                problems.push((fields.at(key), msg));
                None
            }
        }
    } else if text.is_empty() {
        problems.push((
            fields.at(key),
            "is empty; name a field of the records".into(),
        ));
        None
    } else {
        Some(FieldRef::Key(text))
    }
}

impl JsonMapping {
    pub(crate) fn from_config(
        table: Option<toml::Value>,
        problems: &mut Problems,
    ) -> Option<JsonMapping> {
        let before = problems.len();
        let mut fields = Fields::format_table(
            "json",
            table,
            "points = [{ indicator = \"gov.wifi.points\", value = \"/data/total\" }]",
            problems,
        )?;
        let shape = match (fields.has("points"), fields.has("records")) {
            (true, false) => read_points(&mut fields, problems).map(JsonShape::Points),
            (false, true) => read_records(&mut fields, problems).map(JsonShape::Records),
            (true, true) => {
                problems.push((
                    fields.at("records"),
                    "give either `points` or `records`, not both; use two feeds to read both"
                        .into(),
                ));
                fields.take("points");
                fields.take("records");
                None
            }
            (false, false) => {
                problems.push((
                    fields.at("points"),
                    "missing; give `points = [{ indicator = \"...\", value = \"/json/pointer\" }]` for single values, or `records = { path = \"/items\", value = \"nilai\", ... }` for a list of records".into(),
                ));
                None
            }
        };
        let time_format = read_time_format(&mut fields, problems);
        let missing = read_missing(&mut fields, problems);
        let decimal = Decimal::from_setting(read_decimal(&mut fields, problems));
        fields.finish(JSON_KEYS, problems);
        match shape {
            Some(shape) if problems.len() == before => Some(JsonMapping {
                shape,
                time_format,
                missing,
                decimal,
            }),
            _ => None,
        }
    }

    pub(crate) fn indicators(&self) -> Vec<IndicatorId> {
        match &self.shape {
            JsonShape::Points(points) => points.iter().map(|p| p.indicator.clone()).collect(),
            JsonShape::Records(r) => match &r.indicator {
                RecordIndicator::Fixed(id) => vec![id.clone()],
                RecordIndicator::Field { rename, .. } => {
                    rename.iter().map(|(_, id)| id.clone()).collect()
                }
            },
        }
    }

    /// Reads one JSON body.
    pub(crate) fn extract(&self, body: &[u8], ctx: &ExtractContext) -> Result<Page, ExtractError> {
        let root = parse_json_body(body)?;
        let mut points = Vec::new();
        let mut skipped = Skipped::default();
        match &self.shape {
            JsonShape::Points(list) => {
                for (i, p) in list.iter().enumerate() {
                    let found =
                        root.pointer(&p.value)
                            .ok_or_else(|| ExtractError::MissingPointer {
                                pointer: p.value.clone(),
                                field: format!("json.points[{i}].value"),
                            })?;
                    let location = || format!("the value at `{}`", p.value);
                    let value = self.number(found, location)?;
                    let time = match &p.time {
                        None => None,
                        Some(pointer) => {
                            let found = root.pointer(pointer).ok_or_else(|| {
                                ExtractError::MissingPointer {
                                    pointer: pointer.clone(),
                                    field: format!("json.points[{i}].time"),
                                }
                            })?;
                            match self.time(found, || format!("the time at `{pointer}`"), ctx)? {
                                Ok(t) => Some(t),
                                Err(reason) => {
                                    skipped.add(|| pointer.clone(), format!("time {reason}"));
                                    continue;
                                }
                            }
                        }
                    };
                    match value {
                        Ok(v) => points.push(FeedPoint {
                            indicator: p.indicator.to_string(),
                            time: time.map(|t| t.instant(ctx.tz)),
                            value: v * p.scale,
                        }),
                        Err(reason) => skipped.add(|| p.value.clone(), reason),
                    }
                }
            }
            JsonShape::Records(r) => {
                let shown = if r.path.is_empty() {
                    "/"
                } else {
                    r.path.as_str()
                };
                let list = root
                    .pointer(&r.path)
                    .ok_or_else(|| ExtractError::MissingPointer {
                        pointer: r.path.clone(),
                        field: "json.records.path".into(),
                    })?;
                let items = list.as_array().ok_or_else(|| ExtractError::WrongShape {
                    location: format!("the JSON at `{shown}`"),
                    expected: "a list of records (set `records.path` to the list)".into(),
                    found: describe_json(list),
                })?;
                for (i, record) in items.iter().enumerate() {
                    let at = || format!("record {i} of `{shown}`");
                    let field = |f: &FieldRef| {
                        f.get(record).ok_or_else(|| ExtractError::MissingField {
                            field: f.name().to_string(),
                            location: at(),
                        })
                    };
                    let indicator = match &r.indicator {
                        RecordIndicator::Fixed(id) => id.to_string(),
                        RecordIndicator::Field { field: f, rename } => {
                            let name = match field(f)? {
                                Value::String(s) => s.trim().to_string(),
                                Value::Number(n) => n.to_string(),
                                Value::Null => continue,
                                other => {
                                    return Err(ExtractError::WrongShape {
                                        location: format!("{}, field `{}`", at(), f.name()),
                                        expected: "the indicator's name as text".into(),
                                        found: describe_json(other),
                                    });
                                }
                            };
                            match rename.iter().find(|(k, _)| *k == name) {
                                Some((_, id)) => id.to_string(),
                                None => continue,
                            }
                        }
                    };
                    let value = self.number(field(&r.value)?, || {
                        format!("{}, field `{}`", at(), r.value.name())
                    })?;
                    let time = match &r.time {
                        None => None,
                        Some(f) => {
                            let found = field(f)?;
                            match self.time(
                                found,
                                || format!("{}, field `{}`", at(), f.name()),
                                ctx,
                            )? {
                                Ok(t) => Some(t),
                                Err(reason) => {
                                    skipped.add(|| f.pointer(&r.path, i), format!("time {reason}"));
                                    continue;
                                }
                            }
                        }
                    };
                    match value {
                        Ok(v) => points.push(FeedPoint {
                            indicator,
                            time: time.map(|t| t.instant(ctx.tz)),
                            value: v * r.scale,
                        }),
                        Err(reason) => skipped.add(|| r.value.pointer(&r.path, i), reason),
                    }
                }
            }
        }
        Ok(Page {
            points,
            next: None,
            skipped,
        })
    }

    /// A JSON value as a number; Err(reason) when it is left out (missing or not finite).
    fn number(
        &self,
        value: &Value,
        location: impl Fn() -> String,
    ) -> Result<Result<f64, String>, ExtractError> {
        let read = match value {
            Value::Null => return Ok(Err("null".into())),
            Value::Bool(b) => ReadNumber::Value(f64::from(u8::from(*b))),
            Value::Number(n) => number_from_number(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => number_from_text(s, self.decimal, &self.missing),
            other => {
                return Err(ExtractError::WrongShape {
                    location: location(),
                    expected: "a number".into(),
                    found: describe_json(other),
                });
            }
        };
        match read {
            ReadNumber::Value(v) => Ok(Ok(v)),
            ReadNumber::Skip(reason) => Ok(Err(reason)),
            ReadNumber::Bad(why) => Err(ExtractError::NotANumber {
                location: location(),
                value: shorten(value.as_str().unwrap_or_default()),
                hint: format!("{why}; if it means \"no data\", add it to `missing` in [feed.json]"),
            }),
        }
    }

    /// A JSON value as a time; Err(reason) when it is missing (null or a missing marker).
    fn time(
        &self,
        value: &Value,
        location: impl Fn() -> String,
        ctx: &ExtractContext,
    ) -> Result<Result<TimeValue, String>, ExtractError> {
        let bad = |shown: String| ExtractError::BadTime {
            location: location(),
            value: shown,
            expected: expected_time(&self.time_format),
        };
        match value {
            Value::Null => Ok(Err("null".into())),
            Value::String(s) if s.trim().is_empty() => Ok(Err("empty".into())),
            Value::String(s) if is_missing(s, &self.missing) => {
                Ok(Err(format!("missing (`{}`)", shorten(s.trim()))))
            }
            Value::String(s) => time_from_text(s, &self.time_format, ctx.tz)
                .map(Ok)
                .ok_or_else(|| bad(shorten(s))),
            Value::Number(n) => {
                time_from_number(n.as_f64().unwrap_or(f64::NAN), &self.time_format, ctx.tz)
                    .map(Ok)
                    .ok_or_else(|| bad(n.to_string()))
            }
            other => Err(ExtractError::WrongShape {
                location: location(),
                expected: "a time (text or Unix time)".into(),
                found: describe_json(other),
            }),
        }
    }
}

fn read_points(fields: &mut Fields, problems: &mut Problems) -> Option<Vec<JsonPoint>> {
    let list = fields.tables("points", problems)?;
    if list.is_empty() {
        problems.push((
            fields.at("points"),
            "is empty; list at least one { indicator = \"...\", value = \"/json/pointer\" }".into(),
        ));
    }
    let mut out = Vec::new();
    let mut ids = Vec::new();
    for mut entry in list {
        let indicator = read_indicator(&mut entry, "indicator", problems);
        let value = read_pointer(
            &mut entry,
            "value",
            Some("a JSON Pointer to the value, e.g. \"/data/total\""),
            problems,
        );
        let time = read_pointer(&mut entry, "time", None, problems);
        let scale = read_scale(&mut entry, problems);
        let path = entry.at("indicator");
        entry.finish(POINT_KEYS, problems);
        if let (Some(indicator), Some(value)) = (indicator, value) {
            ids.push((path, indicator.clone()));
            out.push(JsonPoint {
                indicator,
                value,
                time,
                scale,
            });
        }
    }
    check_unique_indicators(&ids, problems);
    Some(out)
}

fn read_records(fields: &mut Fields, problems: &mut Problems) -> Option<JsonRecords> {
    let mut entry = fields.table("records", problems)?;
    let path =
        read_pointer(&mut entry, "path", None, problems).unwrap_or_else(default_records_path);
    let indicator = match (entry.has("indicator"), entry.has("indicator_field")) {
        (true, false) => {
            if entry.has("rename") {
                problems.push((
                    entry.at("rename"),
                    "`rename` goes with `indicator_field`; with a fixed `indicator` remove it"
                        .into(),
                ));
                entry.take("rename");
            }
            read_indicator(&mut entry, "indicator", problems).map(RecordIndicator::Fixed)
        }
        (false, true) => {
            let field = read_field(&mut entry, "indicator_field", None, problems);
            let rename = read_rename(&mut entry, problems);
            field.map(|field| RecordIndicator::Field { field, rename })
        }
        (true, true) => {
            problems.push((
                entry.at("indicator"),
                "give either `indicator` (every record feeds it) or `indicator_field` (a field names it), not both".into(),
            ));
            entry.take("indicator");
            entry.take("indicator_field");
            entry.take("rename");
            None
        }
        (false, false) => {
            problems.push((
                entry.at("indicator"),
                "missing; give `indicator = \"...\"` when every record feeds one indicator, or `indicator_field` with `rename` when a field names it".into(),
            ));
            None
        }
    };
    let value = read_field(
        &mut entry,
        "value",
        Some("the field with the value, e.g. \"nilai\" (or a pointer such as \"/detail/nilai\")"),
        problems,
    );
    let time = read_field(&mut entry, "time", None, problems);
    let scale = read_scale(&mut entry, problems);
    entry.finish(RECORD_KEYS, problems);
    Some(JsonRecords {
        path,
        indicator: indicator?,
        value: value?,
        time,
        scale,
    })
}

/// `rename = { "feed name" = "indicator.id" }`: required with `indicator_field`.
fn read_rename(fields: &mut Fields, problems: &mut Problems) -> Vec<(String, IndicatorId)> {
    let Some(table) = fields.take("rename") else {
        problems.push((
            fields.at("rename"),
            "missing; map the names in `indicator_field` to indicator ids, e.g. rename = { \"wifi\" = \"gov.wifi.points\" } (records with other names are ignored)".into(),
        ));
        return Vec::new();
    };
    let toml::Value::Table(table) = table else {
        problems.push((
            fields.at("rename"),
            format!(
                "expected a table such as {{ \"wifi\" = \"gov.wifi.points\" }}, found {}",
                describe_toml(&table)
            ),
        ));
        return Vec::new();
    };
    let before = problems.len();
    let mut out = Vec::new();
    for (name, id) in table {
        let path = format!("{}.{name}", fields.at("rename"));
        match id {
            toml::Value::String(s) => match IndicatorId::parse(s.trim()) {
                Ok(id) => out.push((name.trim().to_string(), id)),
                Err(e) => problems.push((path, e.to_string())),
            },
            other => problems.push((
                path,
                format!(
                    "expected an indicator id in quotes, found {}",
                    describe_toml(&other)
                ),
            )),
        }
    }
    if out.is_empty() && problems.len() == before {
        problems.push((
            fields.at("rename"),
            "is empty; map at least one name to an indicator id".into(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::FeedFormat;
    use super::super::tests::{ctx, jkt_midnight, table, url};
    use super::*;

    fn mapping(text: &str) -> FeedFormat {
        FeedFormat::from_config("json", table(text)).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn run(format: &FeedFormat, body: &str) -> Result<Page, ExtractError> {
        let u = url("http://diskominfo.example.go.id/api/wifi");
        format.extract(body.as_bytes(), &u, &u, &ctx())
    }

    fn point(indicator: &str, time: Option<i64>, value: f64) -> FeedPoint {
        FeedPoint {
            indicator: indicator.into(),
            time,
            value,
        }
    }

    #[test]
    fn points_by_pointer_with_and_without_time() {
        let f = mapping(
            r#"points = [
                 { indicator = "gov.wifi.points", value = "/data/total", time = "/data/updated" },
                 { indicator = "gov.wifi.ratio", value = "/data/rasio", scale = 100.0 },
                 { indicator = "gov.wifi.first", value = "/data/list/0/n" },
                 { indicator = "gov.odd", value = "/odd~1key~0x" },
               ]"#,
        );
        let page = run(
            &f,
            r#"{"data": {"total": 1250, "updated": "2025-01-31", "rasio": "0.875", "list": [{"n": true}]},
                "odd/key~x": 3}"#,
        )
        .unwrap();
        assert_eq!(
            page.points,
            vec![
                point("gov.wifi.points", Some(jkt_midnight(2025, 1, 31)), 1250.0),
                point("gov.wifi.ratio", None, 87.5),
                point("gov.wifi.first", None, 1.0),
                point("gov.odd", None, 3.0),
            ]
        );
    }

    #[test]
    fn records_with_an_indicator_field_and_rename() {
        let f = mapping(
            r#"records = { path = "/items", indicator_field = "indikator", time = "waktu", value = "nilai", rename = { "wifi" = "gov.wifi.points", "cctv" = "gov.cctv.count" } }"#,
        );
        let page = run(
            &f,
            r#"{"items": [
                {"indikator": "wifi", "waktu": 1738285200, "nilai": 10},
                {"indikator": "cctv", "waktu": "2025-01-31T08:00:00+07:00", "nilai": "7"},
                {"indikator": "lain", "waktu": "2025-01-31", "nilai": 1},
                {"indikator": null, "waktu": "2025-01-31", "nilai": 1},
                {"indikator": "wifi", "waktu": "2025-02-01", "nilai": null},
                {"indikator": "wifi", "waktu": null, "nilai": 3},
                {"indikator": "wifi", "waktu": "2025-02-02", "nilai": "TIDAK ADA DATA"}
            ]}"#,
        )
        .unwrap();
        assert_eq!(
            page.points,
            vec![
                point("gov.wifi.points", Some(1_738_285_200_000), 10.0),
                point("gov.cctv.count", Some(1_738_285_200_000), 7.0),
            ]
        );
        assert_eq!(page.skipped.count, 3);
        let examples: Vec<(&str, &str)> = page
            .skipped
            .examples
            .iter()
            .map(|e| (e.location.as_str(), e.reason.as_str()))
            .collect();
        assert_eq!(
            examples,
            vec![
                ("/items/4/nilai", "null"),
                ("/items/5/waktu", "time null"),
                ("/items/6/nilai", "missing (`TIDAK ADA DATA`)"),
            ]
        );
        assert_eq!(f.indicators(), vec!["gov.cctv.count", "gov.wifi.points"]);
    }

    #[test]
    fn records_of_one_indicator_at_the_root_with_nested_fields() {
        let f = mapping(
            r#"time_format = "%d/%m/%Y"
               records = { indicator = "health.bor", value = "/detail/bor", time = "tgl" }"#,
        );
        let page = run(
            &f,
            r#"[{"tgl": "01/02/2025", "detail": {"bor": 71.5}}, {"tgl": "02/02/2025", "detail": {"bor": 70}}]"#,
        )
        .unwrap();
        assert_eq!(
            page.points,
            vec![
                point("health.bor", Some(jkt_midnight(2025, 2, 1)), 71.5),
                point("health.bor", Some(jkt_midnight(2025, 2, 2)), 70.0),
            ]
        );
    }

    #[test]
    fn faults_name_the_pointer_or_field() {
        let f =
            mapping(r#"points = [{ indicator = "a.b", value = "/data/total", time = "/data/t" }]"#);
        assert_eq!(
            run(&f, r#"{"data": {}}"#).unwrap_err().to_string(),
            "the JSON body has no value at `/data/total`; check `json.points[0].value` in the feed's mapping against what the feed sends"
        );
        assert!(matches!(
            run(&f, r#"{"data": {"total": 1}}"#).unwrap_err(),
            ExtractError::MissingPointer { pointer, .. } if pointer == "/data/t"
        ));
        let err = run(&f, r#"{"data": {"total": "banyak", "t": "2025-01-01"}}"#).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the value at `/data/total`: `banyak` is not a number"),
            "{err}"
        );
        let err = run(&f, r#"{"data": {"total": {"x": 1}, "t": "2025-01-01"}}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the value at `/data/total`: expected a number, found an object"
        );
        let err = run(&f, r#"{"data": {"total": 1, "t": "besok"}}"#).unwrap_err();
        assert!(matches!(err, ExtractError::BadTime { .. }), "{err}");
        let err = run(&f, r#"{"data": {"total": 1, "t": 1e15}}"#).unwrap_err();
        assert!(
            matches!(err, ExtractError::BadTime { .. }),
            "a time in microseconds: {err}"
        );
        let err = run(&f, "{\"data\": {\"total\": 1e400}}").unwrap_err();
        assert!(
            matches!(&err, ExtractError::Json { detail, .. } if detail.contains("out of range")),
            "{err}"
        );
        let err = run(&f, "not json").unwrap_err();
        assert!(
            matches!(&err, ExtractError::Json { start, .. } if start == "not json"),
            "{err}"
        );
        assert!(matches!(
            run(&f, "<html><body>502</body></html>").unwrap_err(),
            ExtractError::Html { .. }
        ));
        assert_eq!(run(&f, "").unwrap_err(), ExtractError::EmptyBody);
        // NaN as a string is skipped and counted.
        let page = run(&f, r#"{"data": {"total": "NaN", "t": "2025-01-01"}}"#).unwrap();
        assert_eq!((page.points.len(), page.skipped.count), (0, 1));

        let f = mapping(
            r#"records = { path = "/items", indicator = "a.b", value = "nilai", time = "waktu" }"#,
        );
        let err = run(&f, r#"{"items": [{"nilai": 1, "waktu": "2025-01-01"}, {"value": 2, "waktu": "2025-01-01"}]}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "record 1 of `/items` has no field `nilai`; check the field name in the feed's mapping (names are case-sensitive)"
        );
        let err = run(&f, r#"{"items": {"nilai": 1}}"#).unwrap_err();
        assert!(matches!(err, ExtractError::WrongShape { .. }), "{err}");
        let err = run(&f, r#"{"items": [3]}"#).unwrap_err();
        assert!(matches!(err, ExtractError::MissingField { .. }), "{err}");
    }

    #[test]
    fn strings_follow_the_text_rule_or_the_decimal_comma_setting() {
        let body = r#"{"a": "12,5", "b": "1.234,5", "c": "1.000", "d": 7.5, "e": "95 %"}"#;
        let points = r#"points = [
                 { indicator = "x.a", value = "/a" }, { indicator = "x.b", value = "/b" },
                 { indicator = "x.c", value = "/c" }, { indicator = "x.d", value = "/d" },
                 { indicator = "x.e", value = "/e" },
               ]"#;
        let read = |mapping_text: &str| -> Vec<f64> {
            run(&mapping(mapping_text), body)
                .unwrap()
                .points
                .iter()
                .map(|p| p.value)
                .collect()
        };
        assert_eq!(read(points), vec![12.5, 1234.5, 1.0, 7.5, 95.0]);
        assert_eq!(
            read(&format!("decimal_comma = true\n{points}")),
            vec![12.5, 1234.5, 1000.0, 7.5, 95.0]
        );
        let err = run(&mapping(&format!("decimal_comma = false\n{points}")), body).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "the value at `/a`: `12,5` is not a number: here `,` groups thousands"
            ),
            "{err}"
        );
        let err = FeedFormat::from_config(
            "json",
            table(
                r#"decimal_comma = "ya"
                     points = [{ indicator = "x.a", value = "/a" }]"#,
            ),
        )
        .unwrap_err();
        assert_eq!(err[0].0, "json.decimal_comma", "{err:?}");
    }

    #[test]
    fn config_problems_are_all_reported() {
        let err = FeedFormat::from_config(
            "json",
            table(
                r#"points = [
                     { indicator = "a.b", value = "/data/total", time = "/x~2" },
                     { indicator = "a.b", value = "/v", extra = 1 },
                     { value = "/v" },
                     { indicator = "a.c", value = "data/total" },
                   ]"#,
            ),
        )
        .unwrap_err();
        let paths: Vec<&str> = err.iter().map(|(p, _)| p.as_str()).collect();
        for want in [
            "json.points[3].value",
            "json.points[0].time",
            "json.points[1].extra",
            "json.points[1].indicator",
            "json.points[2].indicator",
        ] {
            assert!(paths.contains(&want), "{want} missing from {err:#?}");
        }
        let err = FeedFormat::from_config("json", table("time_format = \"auto\"")).unwrap_err();
        assert_eq!(err[0].0, "json.points");
        let err = FeedFormat::from_config(
            "json",
            table(r#"records = { indicator_field = "k", value = "v" }"#),
        )
        .unwrap_err();
        assert_eq!(err[0].0, "json.records.rename", "{err:?}");
        let err = FeedFormat::from_config(
            "json",
            table(
                r#"records = { indicator_field = "k", value = "v", rename = { a = "Not An Id" } }"#,
            ),
        )
        .unwrap_err();
        assert_eq!(err[0].0, "json.records.rename.a", "{err:?}");
        let err = FeedFormat::from_config(
            "json",
            table(
                r#"points = [{ indicator = "a.b", value = "/v" }]
                     records = { indicator = "a.b", value = "v" }"#,
            ),
        )
        .unwrap_err();
        assert_eq!(err[0].0, "json.records", "{err:?}");
    }
}
