//! The `ckan` feed format: records of a CKAN DataStore resource (`datastore_search`), read page
//! by page and turned into points by the same row engine as `csv` (a time field, a value field,
//! optional filters and per-day aggregation).
//!
//! ```toml
//! [feed.ckan]
//! resource_id = "b1c5e3a0-...."
//! filters = { wilayah = "Jakarta Pusat" }
//! time_field = "tanggal"
//! series = [{ indicator = "env.air.ispu-mean", aggregate = "mean", field = "max" }]
//! ```
//!
//! Paging: `datastore_search` has only equality filters, so it cannot ask for "`_id` greater than
//! the last seen". `paging = "id"` (the default) therefore sorts by `_id` descending and pages
//! with `offset`: the newest records come first, and when `max_pages` runs out the ones left out
//! are the oldest, which earlier polls have stored. `paging = "offset"` keeps CKAN's own order
//! and treats running out of pages as an error. The next page is found whether or not the portal
//! sends `_links.next` or `next_page`: from `total` (unless estimated), from a page shorter than
//! the limit, or from an empty page. The next URL keeps the feed's own host and path (links from
//! a portal behind a proxy often lack its path prefix); only their `offset` is used.

use super::csv::{
    Aggregate, Cell, TableOptions, TableRow, TableSeries, check_columns, extract_rows, read_series,
};
use super::{
    ExtractContext, ExtractError, Fields, Page, Problems, describe_json, describe_toml,
    parse_json_body, quoted_list, read_decimal, read_missing, read_time_format, shorten,
};
use crate::domain::IndicatorId;
use crate::values::Decimal;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// The `[feed.ckan]` mapping, validated.
#[derive(Debug, Clone)]
pub struct CkanMapping {
    /// The DataStore resource to read (its id or alias).
    pub resource_id: String,
    /// Equality filters sent to CKAN (`filters` query parameter, as JSON).
    pub filters: Map<String, Value>,
    /// Records per page (`limit`).
    pub limit: u64,
    /// How pages follow each other.
    pub paging: Paging,
    /// Pages read per poll at most.
    pub max_pages: u64,
    /// Time field, its format, missing markers, decimal comma (default: the text rule of
    /// `crate::values::number`, so `"12,5"` is 12.5 and `"12.5"` too).
    pub table: TableOptions,
    pub series: Vec<TableSeries>,
}

/// How pages follow each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// `sort=_id desc` with `offset`: newest first; the page budget leaves out the oldest.
    Id,
    /// CKAN's order with `offset`; running out of the page budget is an error.
    Offset,
}

/// A thousand records per page: small enough for any portal, large enough for daily data.
pub fn default_limit() -> u64 {
    1000
}

/// Newest records first.
pub fn default_paging() -> Paging {
    Paging::Id
}

/// A hundred pages per poll.
pub fn default_max_pages() -> u64 {
    100
}

/// CKAN's default `ckan.datastore.search.rows_max`.
const CKAN_ROWS_MAX: i64 = 32_000;

const CKAN_KEYS: &[&str] = &[
    "resource_id",
    "filters",
    "limit",
    "paging",
    "max_pages",
    "time_field",
    "time_format",
    "missing",
    "decimal_comma",
    "series",
];

/// The `paging` choices.
pub const PAGING_NAMES: &[&str] = &["id", "offset"];

impl CkanMapping {
    pub(crate) fn from_config(
        table: Option<toml::Value>,
        problems: &mut Problems,
    ) -> Option<CkanMapping> {
        let before = problems.len();
        let mut fields = Fields::format_table(
            "ckan",
            table,
            "resource_id = \"...\", time_field = \"tanggal\" and series = [{ indicator = \"...\", field = \"nilai\" }]",
            problems,
        )?;
        let resource_id = fields.required_string(
            "resource_id",
            "the id of the DataStore resource, as in the portal's resource URL",
            problems,
        );
        let filters = read_filters(&mut fields, problems);
        let limit = fields
            .integer("limit", 1..=CKAN_ROWS_MAX, problems)
            .map_or_else(default_limit, |l| l as u64);
        let paging = match fields.string("paging", problems) {
            None => default_paging(),
            Some(p) => match p.trim() {
                "id" => Paging::Id,
                "offset" => Paging::Offset,
                other => {
                    problems.push((
                        fields.at("paging"),
                        format!(
                            "unknown paging `{other}`; use one of {} (`id`: newest records first, `offset`: CKAN's order)",
                            quoted_list(PAGING_NAMES)
                        ),
                    ));
                    default_paging()
                }
            },
        };
        let max_pages = fields
            .integer("max_pages", 1..=100_000, problems)
            .map_or_else(default_max_pages, |m| m as u64);
        let time = fields
            .string("time_field", problems)
            .map(|f| f.trim().to_string());
        let time_format = read_time_format(&mut fields, problems);
        let missing = read_missing(&mut fields, problems);
        let decimal_comma = read_decimal(&mut fields, problems);
        let series = read_series(&mut fields, "field", time.is_some(), problems);
        fields.finish(CKAN_KEYS, problems);
        match resource_id {
            Some(resource_id) if problems.len() == before => Some(CkanMapping {
                resource_id: resource_id.trim().to_string(),
                filters,
                limit,
                paging,
                max_pages,
                table: TableOptions {
                    time,
                    time_format,
                    missing,
                    decimal_comma,
                },
                series,
            }),
            _ => None,
        }
    }

    pub(crate) fn indicators(&self) -> Vec<IndicatorId> {
        self.series.iter().map(|s| s.indicator.clone()).collect()
    }

    /// The feed URL (a portal root or its `…/api/3/action/datastore_search`) with the
    /// resource, filters, limit and sort of the first page.
    pub(crate) fn first_url(&self, base: &reqwest::Url) -> reqwest::Url {
        let mut url = base.clone();
        let path = url.path().trim_end_matches('/').to_string();
        if !url.cannot_be_a_base() && !path.ends_with("/datastore_search") {
            url.set_path(&format!("{path}/api/3/action/datastore_search"));
        }
        let filters =
            (!self.filters.is_empty()).then(|| Value::Object(self.filters.clone()).to_string());
        let sort = (self.paging == Paging::Id).then(|| "_id desc".to_string());
        set_params(
            &mut url,
            &[
                ("resource_id", Some(self.resource_id.clone())),
                ("limit", Some(self.limit.to_string())),
                ("offset", None),
                ("filters", filters),
                ("sort", sort),
            ],
        );
        url
    }

    /// Reads one `datastore_search` answer.
    pub(crate) fn extract(
        &self,
        body: &[u8],
        _base: &reqwest::Url,
        current: &reqwest::Url,
        ctx: &ExtractContext,
    ) -> Result<Page, ExtractError> {
        let root = parse_json_body(body)?;
        let Some(envelope) = root.as_object() else {
            return Err(ExtractError::NotCkan {
                detail: format!(
                    "expected an object with `success` and `result`, found {}; is the feed URL a CKAN action API (…/api/3/action/datastore_search)?",
                    describe_json(&root)
                ),
            });
        };
        if envelope.get("success") == Some(&Value::Bool(false)) {
            return Err(ExtractError::CkanFailure {
                message: failure_message(envelope.get("error")),
            });
        }
        let Some(result) = envelope.get("result").and_then(Value::as_object) else {
            return Err(ExtractError::NotCkan {
                detail: "it has no `result` object; is the feed URL a CKAN action API (…/api/3/action/datastore_search)?".into(),
            });
        };
        let records = match result.get("records") {
            Some(Value::Array(records)) => records,
            Some(other) => {
                return Err(ExtractError::WrongShape {
                    location: "the CKAN result's `records`".into(),
                    expected: "a list of records".into(),
                    found: describe_json(other),
                });
            }
            None => {
                return Err(ExtractError::MissingField {
                    field: "records".into(),
                    location: "the CKAN result".into(),
                });
            }
        };
        if let Some(Value::Array(described)) = result.get("fields") {
            let ids: Vec<String> = described
                .iter()
                .filter_map(|f| f.get("id").and_then(Value::as_str))
                .map(str::to_string)
                .collect();
            if !ids.is_empty() {
                check_columns(
                    &self.table,
                    &self.series,
                    |name| ids.iter().any(|id| id == name),
                    &ids,
                    "CKAN resource",
                    "field",
                )?;
            }
        }
        let offset = query_u64(current, "offset").unwrap_or(0);
        let rows = records.iter().enumerate().map(|(i, record)| match record {
            Value::Object(map) => Ok(CkanRow {
                map,
                position: offset + i as u64,
            }),
            other => Err(ExtractError::WrongShape {
                location: format!("CKAN record {}", offset + i as u64),
                expected: "an object of field values (remove `records_format` from the feed URL)"
                    .into(),
                found: describe_json(other),
            }),
        });
        let decimal = Decimal::from_setting(self.table.decimal_comma);
        let (points, skipped) =
            extract_rows(rows, &self.series, &self.table, decimal, "field", ctx)?;
        let next = self.next_url(envelope, result, records.len() as u64, offset, current)?;
        let aggregated = self.series.iter().any(|s| s.aggregate != Aggregate::None);
        if aggregated && (next.is_some() || offset > 0) {
            return Err(ExtractError::AggregationSpansPages {
                limit: effective_limit(result, current, self.limit),
            });
        }
        Ok(Page {
            points,
            next,
            skipped,
        })
    }

    /// The URL of the next page, or None after the last one.
    fn next_url(
        &self,
        envelope: &Map<String, Value>,
        result: &Map<String, Value>,
        count: u64,
        offset: u64,
        current: &reqwest::Url,
    ) -> Result<Option<reqwest::Url>, ExtractError> {
        if count == 0 {
            return Ok(None);
        }
        let limit = effective_limit(result, current, self.limit);
        let next_page = result
            .get("next_page")
            .or_else(|| envelope.get("next_page"));
        if next_page == Some(&Value::Null) {
            return Ok(None);
        }
        let estimated = result
            .get("total_was_estimated")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if let Some(total) = result.get("total").and_then(Value::as_u64) {
            if !estimated && offset + count >= total {
                return Ok(None);
            }
        }
        if count < limit {
            return Ok(None);
        }
        let link = result
            .get("_links")
            .and_then(|l| l.get("next"))
            .or(next_page)
            .and_then(Value::as_str)
            .and_then(link_offset)
            .filter(|&o| o > offset);
        let next_offset = link.unwrap_or(offset + count);
        if offset / limit + 1 >= self.max_pages {
            return match self.paging {
                Paging::Id => Ok(None),
                Paging::Offset => Err(ExtractError::TooManyPages {
                    max_pages: self.max_pages,
                    limit,
                }),
            };
        }
        let mut url = current.clone();
        set_params(&mut url, &[("offset", Some(next_offset.to_string()))]);
        Ok(Some(url))
    }
}

/// Reads `filters = { field = value or [values] }` into the JSON CKAN expects.
fn read_filters(fields: &mut Fields, problems: &mut Problems) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(value) = fields.take("filters") else {
        return out;
    };
    let path = fields.at("filters");
    let toml::Value::Table(table) = value else {
        problems.push((
            path,
            format!(
                "expected a table such as {{ wilayah = \"Jakarta Pusat\" }}, found {}",
                describe_toml(&value)
            ),
        ));
        return out;
    };
    for (name, value) in table {
        let at = format!("{path}.{name}");
        let json = match value {
            toml::Value::Array(items) => {
                let list: Vec<Value> = items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, item)| {
                        let v = scalar_json(item);
                        if v.is_none() {
                            problems.push((
                                format!("{at}[{i}]"),
                                format!(
                                    "expected a string or number, found {}",
                                    describe_toml(item)
                                ),
                            ));
                        }
                        v
                    })
                    .collect();
                if list.is_empty() {
                    problems.push((at.clone(), "the list of accepted values is empty".into()));
                }
                Value::Array(list)
            }
            other => match scalar_json(&other) {
                Some(v) => v,
                None => {
                    problems.push((
                        at.clone(),
                        format!(
                            "expected a value or a list of values, found {}",
                            describe_toml(&other)
                        ),
                    ));
                    continue;
                }
            },
        };
        out.insert(name, json);
    }
    out
}

fn scalar_json(value: &toml::Value) -> Option<Value> {
    match value {
        toml::Value::String(s) => Some(Value::String(s.clone())),
        toml::Value::Integer(i) => Some(Value::from(*i)),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f).map(Value::Number),
        toml::Value::Boolean(b) => Some(Value::Bool(*b)),
        _ => None,
    }
}

/// The page size in force: what CKAN says it used, else what we asked for.
fn effective_limit(result: &Map<String, Value>, current: &reqwest::Url, configured: u64) -> u64 {
    result
        .get("limit")
        .and_then(Value::as_u64)
        .or_else(|| query_u64(current, "limit"))
        .filter(|&l| l > 0)
        .unwrap_or(configured)
}

fn query_u64(url: &reqwest::Url, key: &str) -> Option<u64> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| v.trim().parse().ok())
}

/// The `offset` of a next-page link (absolute or relative).
fn link_offset(link: &str) -> Option<u64> {
    let base = reqwest::Url::parse("http://ckan.invalid/").ok()?;
    query_u64(&base.join(link).ok()?, "offset")
}

/// Replaces the named query parameters (None removes one) and keeps all others.
fn set_params(url: &mut reqwest::Url, params: &[(&str, Option<String>)]) {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !params.iter().any(|(name, _)| name == k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut pairs = url.query_pairs_mut();
    pairs.clear();
    for (k, v) in &kept {
        pairs.append_pair(k, v);
    }
    for (k, v) in params {
        if let Some(v) = v {
            pairs.append_pair(k, v);
        }
    }
    drop(pairs);
    if url.query() == Some("") {
        url.set_query(None);
    }
}

/// CKAN's error object as one message, with a hint for the common kinds.
fn failure_message(error: Option<&Value>) -> String {
    let Some(Value::Object(error)) = error else {
        return match error {
            Some(Value::String(s)) => shorten(s),
            _ => "CKAN gave no error message; check the feed URL and resource_id".into(),
        };
    };
    let kind = error.get("__type").and_then(Value::as_str).unwrap_or("");
    let mut message = match error.get("message").and_then(Value::as_str) {
        Some(m) => m.to_string(),
        None => error
            .iter()
            .filter(|(k, _)| *k != "__type")
            .map(|(k, v)| {
                let text = match v {
                    Value::Array(items) => items
                        .iter()
                        .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                        .collect::<Vec<_>>()
                        .join("; "),
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                format!("{k}: {text}")
            })
            .collect::<Vec<_>>()
            .join(", "),
    };
    if message.is_empty() {
        message = "no message".into();
    }
    let hint = match kind {
        "Not Found Error" => {
            "; check `resource_id` in [feed.ckan] (the resource may not be in the DataStore)"
        }
        "Validation Error" => "; check `filters` and the field names in [feed.ckan]",
        "Authorization Error" => {
            "; the resource may be private: add an Authorization header to the feed"
        }
        _ => "",
    };
    let kind = if kind.is_empty() {
        String::new()
    } else {
        format!(" ({kind})")
    };
    format!("{}{kind}{hint}", shorten(&message))
}

struct CkanRow<'a> {
    map: &'a Map<String, Value>,
    position: u64,
}

impl TableRow for CkanRow<'_> {
    fn cell(&self, name: &str) -> Cell<'_> {
        match self.map.get(name) {
            None => Cell::Absent,
            Some(Value::Null) => Cell::Null,
            Some(Value::String(s)) => Cell::Text(Cow::Borrowed(s)),
            Some(Value::Number(n)) => Cell::Number(n.as_f64().unwrap_or(f64::NAN)),
            Some(Value::Bool(b)) => Cell::Number(f64::from(u8::from(*b))),
            Some(other) => Cell::Text(Cow::Owned(other.to_string())),
        }
    }

    fn location(&self) -> String {
        match self.map.get("_id") {
            Some(id) => format!("CKAN record {} (_id {id})", self.position),
            None => format!("CKAN record {}", self.position),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::FeedFormat;
    use super::super::FeedPoint;
    use super::super::tests::{ctx, jkt_midnight, table, url};
    use super::*;
    use serde_json::json;

    const BASE: &str = "https://satudata.example.go.id/portal/api/3/action/datastore_search";

    fn mapping(text: &str) -> FeedFormat {
        FeedFormat::from_config("ckan", table(text)).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn extract(
        format: &FeedFormat,
        body: &Value,
        current: &reqwest::Url,
    ) -> Result<Page, ExtractError> {
        format.extract(body.to_string().as_bytes(), &url(BASE), current, &ctx())
    }

    fn records(from: u64, n: u64) -> Vec<Value> {
        (from..from + n)
            .map(|i| json!({"_id": i + 1, "tanggal": format!("2024-01-{:02}", i + 1), "nilai": i as f64 + 0.5}))
            .collect()
    }

    const PER_ROW: &str = r#"resource_id = "res-1"
        limit = 2
        paging = "offset"
        time_field = "tanggal"
        series = [{ indicator = "a.b", field = "nilai" }]"#;

    #[test]
    fn first_url_from_a_portal_root_or_the_endpoint() {
        let f = mapping(
            r#"resource_id = "res-1"
               filters = { wilayah = "Jakarta Pusat", tahun = [2023, 2024] }
               time_field = "tanggal"
               series = [{ indicator = "a.b", field = "nilai" }]"#,
        );
        let first = f.first_url(&url("https://data.example.go.id/?lang=id&offset=9"));
        assert_eq!(first.path(), "/api/3/action/datastore_search");
        let pairs: Vec<(String, String)> = first
            .query_pairs()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("lang".into(), "id".into()),
                ("resource_id".into(), "res-1".into()),
                ("limit".into(), "1000".into()),
                (
                    "filters".into(),
                    r#"{"tahun":[2023,2024],"wilayah":"Jakarta Pusat"}"#.into()
                ),
                ("sort".into(), "_id desc".into()),
            ]
        );
        let f = mapping(PER_ROW);
        let first = f.first_url(&url(BASE));
        assert_eq!(first.as_str(), format!("{BASE}?resource_id=res-1&limit=2"));
    }

    #[test]
    fn old_style_paging_without_links() {
        let f = mapping(PER_ROW);
        let first = f.first_url(&url(BASE));
        // CKAN before 2.6: no `_links`, no `total`.
        let page = extract(
            &f,
            &json!({"success": true, "result": {"records": records(0, 2)}}),
            &first,
        )
        .unwrap();
        assert_eq!(
            page.points,
            vec![
                FeedPoint {
                    indicator: "a.b".into(),
                    time: Some(jkt_midnight(2024, 1, 1)),
                    value: 0.5
                },
                FeedPoint {
                    indicator: "a.b".into(),
                    time: Some(jkt_midnight(2024, 1, 2)),
                    value: 1.5
                },
            ]
        );
        let second = page.next.expect("a full page has a next one");
        assert_eq!(
            second.as_str(),
            format!("{BASE}?resource_id=res-1&limit=2&offset=2")
        );
        let page = extract(
            &f,
            &json!({"success": true, "result": {"records": records(2, 1)}}),
            &second,
        )
        .unwrap();
        assert_eq!(page.points.len(), 1);
        assert_eq!(page.next, None, "a short page is the last");
        // With `total`: the page that reaches it is the last even when full.
        let body =
            json!({"success": true, "result": {"records": records(2, 2), "total": 4, "limit": 2}});
        assert_eq!(extract(&f, &body, &second).unwrap().next, None);
        // An empty page ends it too.
        let body = json!({"success": true, "result": {"records": []}});
        assert_eq!(
            extract(&f, &body, &second).unwrap(),
            Page {
                points: vec![],
                next: None,
                skipped: super::super::Skipped::default()
            }
        );
    }

    #[test]
    fn new_style_paging_with_links_keeps_the_feed_path() {
        let f = mapping(PER_ROW);
        let first = f.first_url(&url(BASE));
        let body = json!({"help": "…", "success": true, "result": {
            "resource_id": "res-1", "limit": 2, "total": 5, "total_was_estimated": false,
            "fields": [{"id": "_id", "type": "int"}, {"id": "tanggal", "type": "date"}, {"id": "nilai", "type": "numeric"}],
            "records": records(0, 2),
            "_links": {"start": "/api/3/action/datastore_search?resource_id=res-1&limit=2",
                       "next": "/api/3/action/datastore_search?resource_id=res-1&limit=2&offset=2"}}});
        let next = extract(&f, &body, &first).unwrap().next.expect("next page");
        assert_eq!(
            next.as_str(),
            format!("{BASE}?resource_id=res-1&limit=2&offset=2")
        );
        // The last page still carries a `_links.next`; `total` says it is the last.
        let body = json!({"success": true, "result": {
            "limit": 2, "total": 5, "records": records(4, 1),
            "_links": {"next": "/api/3/action/datastore_search?offset=6"}}});
        let last = url(&format!("{BASE}?resource_id=res-1&limit=2&offset=4"));
        assert_eq!(extract(&f, &body, &last).unwrap().next, None);
        // An estimated total is not trusted.
        let body = json!({"success": true, "result": {
            "limit": 2, "total": 2, "total_was_estimated": true, "records": records(0, 2)}});
        assert!(extract(&f, &body, &first).unwrap().next.is_some());
    }

    #[test]
    fn next_page_field_is_followed_or_ends_the_paging() {
        let f = mapping(PER_ROW);
        let first = f.first_url(&url(BASE));
        let body = json!({"success": true, "next_page": "https://elsewhere.example/x?offset=2", "result": {"records": records(0, 2)}});
        let next = extract(&f, &body, &first).unwrap().next.expect("next page");
        assert_eq!(next.host_str(), Some("satudata.example.go.id"));
        assert_eq!(query_u64(&next, "offset"), Some(2));
        let body =
            json!({"success": true, "result": {"records": records(0, 2), "next_page": null}});
        assert_eq!(extract(&f, &body, &first).unwrap().next, None);
    }

    #[test]
    fn page_budget() {
        // paging = "offset": running out is an error.
        let f = mapping(&PER_ROW.replace("limit = 2", "limit = 2\nmax_pages = 2"));
        let second = url(&format!("{BASE}?resource_id=res-1&limit=2&offset=2"));
        let body = json!({"success": true, "result": {"records": records(2, 2), "total": 10}});
        let err = extract(&f, &body, &second).unwrap_err();
        assert_eq!(
            err,
            ExtractError::TooManyPages {
                max_pages: 2,
                limit: 2
            }
        );
        // paging = "id": newest first, so stopping leaves out only the oldest.
        let f = mapping(&PER_ROW.replace("paging = \"offset\"", "paging = \"id\"\nmax_pages = 2"));
        let page = extract(&f, &body, &second).unwrap();
        assert_eq!((page.points.len(), page.next), (2, None));
        let first = f.first_url(&url(BASE));
        assert!(extract(&f, &body, &first).unwrap().next.is_some());
    }

    #[test]
    fn per_day_aggregation_with_filters() {
        let f = mapping(
            r#"resource_id = "ispu"
               time_field = "tanggal"
               series = [
                 { indicator = "env.air.good-days", aggregate = "count", filter = { categori = "BAIK" } },
                 { indicator = "env.air.ispu-mean", aggregate = "mean", field = "max", exclude = { categori = "TIDAK ADA DATA" } },
               ]"#,
        );
        let body = json!({"success": true, "result": {"total": 4, "records": [
            {"_id": 1, "tanggal": "2024-01-01T00:00:00", "max": 40, "categori": "BAIK"},
            {"_id": 2, "tanggal": "2024-01-01T00:00:00", "max": "60", "categori": "SEDANG"},
            {"_id": 3, "tanggal": "2024-01-02T00:00:00", "max": null, "categori": "SEDANG"},
            {"_id": 4, "tanggal": "2024-01-02T00:00:00", "max": 0, "categori": "TIDAK ADA DATA"},
        ]}});
        let first = f.first_url(&url(BASE));
        let page = extract(&f, &body, &first).unwrap();
        let got: Vec<(&str, Option<i64>, f64)> = page
            .points
            .iter()
            .map(|p| (p.indicator.as_str(), p.time, p.value))
            .collect();
        let (d1, d2) = (
            Some(jkt_midnight(2024, 1, 1)),
            Some(jkt_midnight(2024, 1, 2)),
        );
        assert_eq!(
            got,
            vec![
                ("env.air.good-days", d1, 1.0),
                ("env.air.good-days", d2, 0.0),
                ("env.air.ispu-mean", d1, 50.0),
            ]
        );
        assert_eq!(page.skipped.count, 1);
        // More records than one page: aggregation would be wrong, so it is an error.
        let body = json!({"success": true, "result": {"total": 5000, "limit": 4, "records": body["result"]["records"]}});
        let err = extract(&f, &body, &first).unwrap_err();
        assert_eq!(err, ExtractError::AggregationSpansPages { limit: 4 });
        assert!(err.to_string().contains("raise `limit`"), "{err}");
    }

    #[test]
    fn success_false_carries_ckans_message() {
        let f = mapping(PER_ROW);
        let first = f.first_url(&url(BASE));
        let body = json!({"help": "…", "success": false, "error": {
            "__type": "Not Found Error", "message": "Not found: Resource \"res-1\" was not found."}});
        let err = extract(&f, &body, &first).unwrap_err();
        assert_eq!(
            err.to_string(),
            "CKAN answered with an error: Not found: Resource \"res-1\" was not found. (Not Found Error); check `resource_id` in [feed.ckan] (the resource may not be in the DataStore)"
        );
        let body = json!({"success": false, "error": {
            "__type": "Validation Error", "filters": ["field \"wilayh\" not in resource"]}});
        let err = extract(&f, &body, &first).unwrap_err();
        assert_eq!(
            err,
            ExtractError::CkanFailure {
                message: "filters: field \"wilayh\" not in resource (Validation Error); check `filters` and the field names in [feed.ckan]".into()
            }
        );
        let err = extract(&f, &json!({"success": false}), &first).unwrap_err();
        assert!(err.to_string().contains("no error message"), "{err}");
    }

    #[test]
    fn faults_name_what_is_missing() {
        let f = mapping(PER_ROW);
        let first = f.first_url(&url(BASE));
        let err = extract(&f, &json!([1, 2]), &first).unwrap_err();
        assert!(matches!(err, ExtractError::NotCkan { .. }), "{err}");
        let err = extract(&f, &json!({"success": true}), &first).unwrap_err();
        assert!(matches!(err, ExtractError::NotCkan { .. }), "{err}");
        let err = extract(&f, &json!({"success": true, "result": {}}), &first).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the CKAN result has no field `records`; check the field name in the feed's mapping (names are case-sensitive)"
        );
        let body =
            json!({"success": true, "result": {"records": [{"_id": 7, "tanggal": "2024-01-01"}]}});
        let err = extract(&f, &body, &first).unwrap_err();
        assert_eq!(
            err,
            ExtractError::MissingField {
                field: "nilai".into(),
                location: "CKAN record 0 (_id 7)".into()
            }
        );
        let body = json!({"success": true, "result": {"fields": [{"id": "tanggal"}, {"id": "value"}], "records": []}});
        let err = extract(&f, &body, &first).unwrap_err();
        assert!(
            matches!(&err, ExtractError::MissingColumn { missing, .. } if missing == "`nilai`"),
            "{err}"
        );
        let body = json!({"success": true, "result": {"records": [["2024-01-01", 1]]}});
        let err = extract(&f, &body, &first).unwrap_err();
        assert!(err.to_string().contains("records_format"), "{err}");
        let body = json!({"success": true, "result": {"records": [{"tanggal": "2024-01-01", "nilai": "banyak"}]}});
        assert!(matches!(
            extract(&f, &body, &first).unwrap_err(),
            ExtractError::NotANumber { .. }
        ));
        let body =
            json!({"success": true, "result": {"records": [{"tanggal": 1e300, "nilai": 1}]}});
        assert!(matches!(
            extract(&f, &body, &first).unwrap_err(),
            ExtractError::BadTime { .. }
        ));
        let body = json!({"success": true, "result": {"records": [{"tanggal": "2024-01-01", "nilai": "NaN"}, {"tanggal": "2024-01-02", "nilai": 1e308}]}});
        let page = extract(&f, &body, &first).unwrap();
        assert_eq!((page.points.len(), page.skipped.count), (1, 1));
        let err = f
            .extract(
                b"<!DOCTYPE html><html>Maintenance</html>",
                &url(BASE),
                &first,
                &ctx(),
            )
            .unwrap_err();
        assert!(matches!(err, ExtractError::Html { .. }), "{err}");
    }

    #[test]
    fn config_problems_are_all_reported() {
        let err = FeedFormat::from_config(
            "ckan",
            table(
                r#"limit = 0
                   paging = "cursor"
                   max_pages = "many"
                   filters = { a = { b = 1 } }
                   time_field = "t"
                   series = [{ indicator = "a.b", field = "v", column = "v" }]"#,
            ),
        )
        .unwrap_err();
        let paths: Vec<&str> = err.iter().map(|(p, _)| p.as_str()).collect();
        for want in [
            "ckan.resource_id",
            "ckan.limit",
            "ckan.paging",
            "ckan.max_pages",
            "ckan.filters.a",
            "ckan.series[0].column",
        ] {
            assert!(paths.contains(&want), "{want} missing from {err:#?}");
        }
        let f = mapping(PER_ROW);
        assert_eq!(f.indicators(), vec!["a.b"]);
        assert_eq!(f.expected_content_types(), &["application/json"]);
    }
}
