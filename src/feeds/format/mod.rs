//! Feed formats: pure code that turns one HTTP response body into indicator points.
//!
//! `FeedFormat::from_config` validates a feed's `format = "..."` and its mapping sub-table
//! (`[feed.json]`, `[feed.csv]`, `[feed.prometheus]`, `[feed.ckan]`), reporting every problem at
//! once; `FeedFormat::extract` reads one response body into a `Page`. Nothing here does I/O or
//! reads the clock: the poller passes the city's zone and the poll time in `ExtractContext`.
//!
//! What must stay true: no body, however broken, panics; every failure is an `ExtractError` whose
//! message says what was wrong and how to fix it. Values that are missing (an empty cell, `null`,
//! a configured marker such as `TIDAK ADA DATA`) or not finite (NaN, ±Inf) are **skipped and
//! counted** in `Page::skipped`, never turned into points; anything else that is not a number is
//! an error naming where it was found. Instants outside 1900–2200 are refused as unit mistakes.
//!
//! Shared by the formats here: the config reader (`Fields`), missing markers, reading
//! `time_format` and `decimal_comma`. Numbers and times are read by `crate::values`, the one
//! reader that posts and imports use too. The per-day row aggregation lives in `csv` and is
//! reused by `ckan`.
//!
//! Every value left out is recorded with where it was and why (`Skipped::add`), so that
//! `/api/v1/feeds` shows examples beside the count.

pub mod ckan;
pub mod csv;
pub mod json;
pub mod prometheus;

use crate::domain::{IndicatorId, Millis};
pub use crate::values::time::{TimeFormat, TimeValue};
use crate::values::{Decimal, NumberError};
use chrono_tz::Tz;

/// One value read from a feed. `time` None = "now" (the poll time) is used by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedPoint {
    pub indicator: String,
    pub time: Option<Millis>,
    pub value: f64,
}

/// What extraction needs besides the body.
#[derive(Debug, Clone, Copy)]
pub struct ExtractContext {
    /// The city's zone: local dates, times written without an offset, per-day buckets.
    pub tz: Tz,
    /// The poll time.
    pub now: Millis,
}

/// One page of results; `next` is the URL of the next page (CKAN paging) or None.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub points: Vec<FeedPoint>,
    pub next: Option<reqwest::Url>,
    /// Values skipped as missing or not finite (rows without a time count once; a row whose
    /// value is missing counts once for each series that wanted it).
    pub skipped: Skipped,
}

/// How many examples of skipped values a page keeps (the count goes on).
pub const SKIPPED_EXAMPLES: usize = 20;

/// Values a poll left out, with the first few of them and why, for `/api/v1/feeds`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Skipped {
    /// How many values were left out.
    pub count: usize,
    /// The first `SKIPPED_EXAMPLES` of them: where and why.
    pub examples: Vec<SkippedValue>,
}

/// One value a feed sent that was not turned into a point.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SkippedValue {
    /// Where in the body (e.g. `line 12, column pm25`, `/data/3/nilai`).
    pub location: String,
    /// Why it was left out (e.g. `missing (`TIDAK ADA DATA`)`, `not finite (NaN)`).
    pub reason: String,
}

impl Skipped {
    /// Counts one skipped value, keeping it as an example while there is room.
    pub fn add(&mut self, location: impl FnOnce() -> String, reason: impl Into<String>) {
        self.count += 1;
        if self.examples.len() < SKIPPED_EXAMPLES {
            self.examples.push(SkippedValue {
                location: location(),
                reason: reason.into(),
            });
        }
    }

    /// Adds another page's skipped values.
    pub fn merge(&mut self, other: Skipped) {
        self.count += other.count;
        let room = SKIPPED_EXAMPLES.saturating_sub(self.examples.len());
        self.examples.extend(other.examples.into_iter().take(room));
    }
}

/// Why a response body could not be read. Messages say what was wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExtractError {
    /// The body has no content at all.
    #[error(
        "the response body is empty; check the feed URL and that the department's service is up"
    )]
    EmptyBody,
    /// The body is an HTML page (often a login or error page sent with status 200).
    #[error(
        "the response body is an HTML page, not {expected} (it starts with `{start}`); check the feed URL and whether the service needs a token or header"
    )]
    Html {
        expected: &'static str,
        start: String,
    },
    /// The body is not valid JSON.
    #[error("the response body is not valid JSON ({detail}); it starts with `{start}`")]
    Json { detail: String, start: String },
    /// The body is not UTF-8 where text is required.
    #[error("the response body is not UTF-8 text ({detail}); ask the department to serve UTF-8")]
    NotUtf8 { detail: String },
    /// A JSON Pointer from the mapping points at nothing in the body.
    #[error(
        "the JSON body has no value at `{pointer}`; check `{field}` in the feed's mapping against what the feed sends"
    )]
    MissingPointer { pointer: String, field: String },
    /// A record lacks a field the mapping names.
    #[error(
        "{location} has no field `{field}`; check the field name in the feed's mapping (names are case-sensitive)"
    )]
    MissingField { field: String, location: String },
    /// The body has another shape than the mapping expects.
    #[error("{location}: expected {expected}, found {found}")]
    WrongShape {
        location: String,
        expected: String,
        found: String,
    },
    /// A value that should be a number is something else.
    #[error("{location}: `{value}` is not a number{hint}")]
    NotANumber {
        location: String,
        value: String,
        hint: String,
    },
    /// A time value cannot be read.
    #[error("{location}: `{value}` is not a time pantau can read; {expected}")]
    BadTime {
        location: String,
        value: String,
        expected: String,
    },
    /// A table (CSV header, CKAN fields) lacks columns the mapping names.
    #[error(
        "the {table} has no {what} {missing}; it has {available} (names must match exactly, including case)"
    )]
    MissingColumn {
        table: &'static str,
        what: &'static str,
        missing: String,
        available: String,
    },
    /// The CSV reader failed.
    #[error("the CSV body cannot be read at line {line}: {detail}")]
    Csv { line: u64, detail: String },
    /// The Prometheus or OpenMetrics text is malformed.
    #[error("the Prometheus text is invalid at line {line}: {message}")]
    Prometheus { line: usize, message: String },
    /// No sample matches a series' metric name and labels.
    #[error("no sample matches {selector}; {found}")]
    NoMatchingSeries { selector: String, found: String },
    /// An aggregate of finite values exceeded the range of f64.
    #[error(
        "the {aggregate} for indicator `{indicator}` is beyond ±1.8e308 and cannot be stored; check the values in the feed"
    )]
    Overflow {
        indicator: String,
        aggregate: &'static str,
    },
    /// CKAN answered `"success": false`.
    #[error("CKAN answered with an error: {message}")]
    CkanFailure { message: String },
    /// The body is JSON but not a CKAN action answer.
    #[error("the response is not a CKAN datastore_search answer: {detail}")]
    NotCkan { detail: String },
    /// Per-day aggregation over CKAN records that do not fit in one page.
    #[error(
        "per-day aggregation needs every matching CKAN record in one page, but there are more than {limit}; raise `limit` in [feed.ckan] (CKAN allows up to 32000) or narrow `filters`"
    )]
    AggregationSpansPages { limit: u64 },
    /// More CKAN pages than `max_pages` with `paging = "offset"`.
    #[error(
        "the CKAN resource has more than {max_pages} pages of {limit} records; raise `max_pages` or `limit`, narrow `filters`, or use paging = \"id\" (newest records first, the oldest left out)"
    )]
    TooManyPages { max_pages: u64, limit: u64 },
}

/// A feed's format and its mapping, validated.
#[derive(Debug, Clone)]
pub enum FeedFormat {
    Json(json::JsonMapping),
    Csv(csv::CsvMapping),
    Prometheus(prometheus::PromMapping),
    Ckan(ckan::CkanMapping),
}

impl FeedFormat {
    pub const NAMES: &'static [&'static str] = &["json", "csv", "prometheus", "ckan"];

    /// Builds the format from the feed's `format = "..."` string and its format sub-table
    /// (`[feed.json]`, `[feed.csv]`, `[feed.prometheus]` or `[feed.ckan]`; None when absent).
    /// Reports every problem as (field path relative to the feed, message with how to fix it).
    pub fn from_config(
        format: &str,
        table: Option<toml::Value>,
    ) -> Result<FeedFormat, Vec<(String, String)>> {
        let mut problems = Problems::new();
        let built = match format {
            "json" => json::JsonMapping::from_config(table, &mut problems).map(FeedFormat::Json),
            "csv" => csv::CsvMapping::from_config(table, &mut problems).map(FeedFormat::Csv),
            "prometheus" => prometheus::PromMapping::from_config(table, &mut problems)
                .map(FeedFormat::Prometheus),
            "ckan" => ckan::CkanMapping::from_config(table, &mut problems).map(FeedFormat::Ckan),
            other => {
                problems.push((
                    "format".into(),
                    format!(
                        "unknown format `{other}`; use one of {}",
                        quoted_list(Self::NAMES)
                    ),
                ));
                None
            }
        };
        match built {
            Some(format) if problems.is_empty() => Ok(format),
            _ => {
                if problems.is_empty() {
                    problems.push(("format".into(), "the format could not be built".into()));
                }
                Err(problems)
            }
        }
    }

    /// The format's name as written in `format = "..."`.
    pub fn name(&self) -> &'static str {
        match self {
            FeedFormat::Json(_) => "json",
            FeedFormat::Csv(_) => "csv",
            FeedFormat::Prometheus(_) => "prometheus",
            FeedFormat::Ckan(_) => "ckan",
        }
    }

    /// The indicator ids named in the mapping, each once, in the order they appear.
    pub fn indicators(&self) -> Vec<String> {
        let ids = match self {
            FeedFormat::Json(m) => m.indicators(),
            FeedFormat::Csv(m) => m.indicators(),
            FeedFormat::Prometheus(m) => m.indicators(),
            FeedFormat::Ckan(m) => m.indicators(),
        };
        let mut out: Vec<String> = Vec::with_capacity(ids.len());
        for id in ids {
            if !out.iter().any(|s| s == id.as_str()) {
                out.push(id.as_str().to_string());
            }
        }
        out
    }

    /// The first URL to fetch (CKAN adds resource_id, filters, limit to `base`; others return base).
    pub fn first_url(&self, base: &reqwest::Url) -> reqwest::Url {
        match self {
            FeedFormat::Ckan(m) => m.first_url(base),
            _ => base.clone(),
        }
    }

    /// Extract the points of one response body. `base` = the feed URL; `current` = the URL this
    /// body came from.
    pub fn extract(
        &self,
        body: &[u8],
        base: &reqwest::Url,
        current: &reqwest::Url,
        ctx: &ExtractContext,
    ) -> Result<Page, ExtractError> {
        match self {
            FeedFormat::Json(m) => m.extract(body, ctx),
            FeedFormat::Csv(m) => m.extract(body, ctx),
            FeedFormat::Prometheus(m) => m.extract(body),
            FeedFormat::Ckan(m) => m.extract(body, base, current, ctx),
        }
    }

    /// Content types this format expects (for a warning on a wrong content type).
    pub fn expected_content_types(&self) -> &'static [&'static str] {
        match self {
            FeedFormat::Json(_) | FeedFormat::Ckan(_) => &["application/json"],
            FeedFormat::Csv(_) => &["text/csv", "application/csv", "text/plain"],
            FeedFormat::Prometheus(_) => &["text/plain", "application/openmetrics-text"],
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the mapping sub-table: every problem is collected, unknown keys included.

/// Config problems: (field path relative to the feed, message saying how to fix it).
pub(crate) type Problems = Vec<(String, String)>;

/// A TOML table being read. Each read removes its key, so `finish` finds the unknown ones.
pub(crate) struct Fields {
    path: String,
    table: toml::Table,
}

impl Fields {
    /// Starts reading `value`, which must be a table, found at `path`.
    pub(crate) fn new(
        path: impl Into<String>,
        value: toml::Value,
        problems: &mut Problems,
    ) -> Option<Fields> {
        let path = path.into();
        match value {
            toml::Value::Table(table) => Some(Fields { path, table }),
            other => {
                problems.push((
                    path,
                    format!(
                        "expected a table such as `{{ key = \"value\" }}`, found {}",
                        describe_toml(&other)
                    ),
                ));
                None
            }
        }
    }

    /// The sub-table of a format, which every format needs.
    pub(crate) fn format_table(
        format: &str,
        table: Option<toml::Value>,
        example: &str,
        problems: &mut Problems,
    ) -> Option<Fields> {
        match table {
            Some(value) => Fields::new(format, value, problems),
            None => {
                problems.push((
                    format.to_string(),
                    format!(
                        "the {format} format needs a [feed.{format}] table saying what to read, e.g. {example}"
                    ),
                ));
                None
            }
        }
    }

    /// The path of `key` in this table, e.g. `csv.series[1].aggregate`.
    pub(crate) fn at(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    pub(crate) fn take(&mut self, key: &str) -> Option<toml::Value> {
        self.table.remove(key)
    }

    /// An optional string.
    pub(crate) fn string(&mut self, key: &str, problems: &mut Problems) -> Option<String> {
        match self.take(key)? {
            toml::Value::String(s) => Some(s),
            other => {
                problems.push((
                    self.at(key),
                    format!(
                        "expected a string in quotes, found {}",
                        describe_toml(&other)
                    ),
                ));
                None
            }
        }
    }

    /// A string that must be present and not blank; `what` says what it is for.
    pub(crate) fn required_string(
        &mut self,
        key: &str,
        what: &str,
        problems: &mut Problems,
    ) -> Option<String> {
        if !self.has(key) {
            problems.push((self.at(key), format!("missing; add {what}")));
            return None;
        }
        let s = self.string(key, problems)?;
        if s.trim().is_empty() {
            problems.push((self.at(key), format!("is empty; give {what}")));
            return None;
        }
        Some(s)
    }

    /// An optional integer within `range`.
    pub(crate) fn integer(
        &mut self,
        key: &str,
        range: std::ops::RangeInclusive<i64>,
        problems: &mut Problems,
    ) -> Option<i64> {
        match self.take(key)? {
            toml::Value::Integer(i) if range.contains(&i) => Some(i),
            toml::Value::Integer(i) => {
                problems.push((
                    self.at(key),
                    format!(
                        "{i} is out of range; use a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                ));
                None
            }
            other => {
                problems.push((
                    self.at(key),
                    format!(
                        "expected a whole number from {} to {}, found {}",
                        range.start(),
                        range.end(),
                        describe_toml(&other)
                    ),
                ));
                None
            }
        }
    }

    /// An optional finite number (integers are accepted).
    pub(crate) fn number(&mut self, key: &str, problems: &mut Problems) -> Option<f64> {
        let value = match self.take(key)? {
            toml::Value::Integer(i) => i as f64,
            toml::Value::Float(f) => f,
            other => {
                problems.push((
                    self.at(key),
                    format!("expected a number, found {}", describe_toml(&other)),
                ));
                return None;
            }
        };
        if value.is_finite() {
            Some(value)
        } else {
            problems.push((self.at(key), "must be a finite number".into()));
            None
        }
    }

    /// An optional true/false.
    pub(crate) fn boolean(&mut self, key: &str, problems: &mut Problems) -> Option<bool> {
        match self.take(key)? {
            toml::Value::Boolean(b) => Some(b),
            other => {
                problems.push((
                    self.at(key),
                    format!("expected true or false, found {}", describe_toml(&other)),
                ));
                None
            }
        }
    }

    /// An optional list of strings.
    pub(crate) fn string_list(
        &mut self,
        key: &str,
        problems: &mut Problems,
    ) -> Option<Vec<String>> {
        match self.take(key)? {
            toml::Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.into_iter().enumerate() {
                    match item {
                        toml::Value::String(s) => out.push(s),
                        other => problems.push((
                            format!("{}[{i}]", self.at(key)),
                            format!(
                                "expected a string in quotes, found {}",
                                describe_toml(&other)
                            ),
                        )),
                    }
                }
                Some(out)
            }
            other => {
                problems.push((
                    self.at(key),
                    format!(
                        "expected a list of strings such as [\"a\", \"b\"], found {}",
                        describe_toml(&other)
                    ),
                ));
                None
            }
        }
    }

    /// An optional sub-table.
    pub(crate) fn table(&mut self, key: &str, problems: &mut Problems) -> Option<Fields> {
        let value = self.take(key)?;
        Fields::new(self.at(key), value, problems)
    }

    /// An optional list of tables, each read at `key[i]`.
    pub(crate) fn tables(&mut self, key: &str, problems: &mut Problems) -> Option<Vec<Fields>> {
        match self.take(key)? {
            toml::Value::Array(items) => Some(
                items
                    .into_iter()
                    .enumerate()
                    .filter_map(|(i, item)| {
                        Fields::new(format!("{}[{i}]", self.at(key)), item, problems)
                    })
                    .collect(),
            ),
            other => {
                problems.push((
                    self.at(key),
                    format!(
                        "expected a list of tables such as [{{ indicator = \"...\" }}], found {}",
                        describe_toml(&other)
                    ),
                ));
                None
            }
        }
    }

    /// Reports every key that was not read as unknown, suggesting a near known one.
    pub(crate) fn finish(self, known: &[&str], problems: &mut Problems) {
        for key in self.table.keys() {
            let hint = match closest(key, known) {
                Some(near) => format!("did you mean `{near}`? "),
                None => String::new(),
            };
            problems.push((
                self.at(key),
                format!(
                    "unknown key; {hint}the keys here are {}",
                    quoted_list(known)
                ),
            ));
        }
    }
}

/// What a TOML value is, for messages.
pub(crate) fn describe_toml(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "a whole number",
        toml::Value::Float(_) => "a number",
        toml::Value::Boolean(_) => "true/false",
        toml::Value::Datetime(_) => "a date/time (put it in quotes)",
        toml::Value::Array(_) => "a list",
        toml::Value::Table(_) => "a table",
    }
}

/// `a`, `b` and `c` as one string for messages.
pub(crate) fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The known word nearest to `word` (edit distance at most 2), for "did you mean".
fn closest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(word, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Reads `indicator`: a valid indicator id.
pub(crate) fn read_indicator(
    fields: &mut Fields,
    key: &str,
    problems: &mut Problems,
) -> Option<IndicatorId> {
    let text = fields.required_string(
        key,
        "the id of the indicator this feeds, e.g. \"env.air.good-days\"",
        problems,
    )?;
    match IndicatorId::parse(text.trim()) {
        Ok(id) => Some(id),
        Err(e) => {
            problems.push((fields.at(key), e.to_string()));
            None
        }
    }
}

/// Reports an indicator fed twice by one feed (its points would overwrite each other).
pub(crate) fn check_unique_indicators(ids: &[(String, IndicatorId)], problems: &mut Problems) {
    for (i, (path, id)) in ids.iter().enumerate() {
        if let Some((first, _)) = ids[..i].iter().find(|(_, other)| other == id) {
            problems.push((
                path.clone(),
                format!(
                    "indicator `{id}` is already fed by {first}; one feed gives each indicator one series"
                ),
            ));
        }
    }
}

/// Reads `scale`: an optional multiplier applied to every value (default 1).
pub(crate) fn read_scale(fields: &mut Fields, problems: &mut Problems) -> f64 {
    match fields.number("scale", problems) {
        Some(s) if s != 0.0 => s,
        Some(_) => {
            problems.push((
                fields.at("scale"),
                "a scale of 0 would turn every value into 0; remove it or use e.g. 100.0".into(),
            ));
            default_scale()
        }
        None => default_scale(),
    }
}

/// Values are used as sent unless a `scale` is given.
pub(crate) fn default_scale() -> f64 {
    1.0
}

/// A column (or label, or field) whose value must be one of `values`.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueMatch {
    pub name: String,
    pub values: Vec<String>,
}

impl ValueMatch {
    /// Whether `text` (trimmed) is one of the values; numbers compare as numbers.
    pub(crate) fn accepts(&self, text: &str) -> bool {
        let text = text.trim();
        self.values.iter().any(|v| {
            v == text
                || matches!(
                    (v.parse::<f64>(), text.parse::<f64>()),
                    (Ok(a), Ok(b)) if a == b && a.is_finite()
                )
        })
    }
}

/// Reads a table of matchers such as `{ categori = "BAIK", stasiun = ["DKI1", "DKI2"] }`.
pub(crate) fn read_matches(
    fields: &mut Fields,
    key: &str,
    problems: &mut Problems,
) -> Vec<ValueMatch> {
    let Some(table) = fields.table(key, problems) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, value) in table.table {
        let path = format!("{}.{name}", table.path);
        let texts = match value {
            toml::Value::Array(items) => {
                let mut texts = Vec::new();
                for (i, item) in items.into_iter().enumerate() {
                    match scalar_text(&item) {
                        Some(t) => texts.push(t),
                        None => problems.push((
                            format!("{path}[{i}]"),
                            format!(
                                "expected a string or number, found {}",
                                describe_toml(&item)
                            ),
                        )),
                    }
                }
                if texts.is_empty() {
                    problems.push((
                        path.clone(),
                        "the list of accepted values is empty; give at least one value".into(),
                    ));
                }
                texts
            }
            other => match scalar_text(&other) {
                Some(t) => vec![t],
                None => {
                    problems.push((
                        path.clone(),
                        format!(
                            "expected a value or a list of values, found {}",
                            describe_toml(&other)
                        ),
                    ));
                    Vec::new()
                }
            },
        };
        if !texts.is_empty() {
            out.push(ValueMatch {
                name: name.trim().to_string(),
                values: texts.iter().map(|t| t.trim().to_string()).collect(),
            });
        }
    }
    out
}

fn scalar_text(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Reads `missing`: the cell texts that mean "no value" (default `default_missing()`).
pub(crate) fn read_missing(fields: &mut Fields, problems: &mut Problems) -> Vec<String> {
    fields
        .string_list("missing", problems)
        .map(|list| list.into_iter().map(|s| s.trim().to_string()).collect())
        .unwrap_or_else(default_missing)
}

/// Empty cells, `---` and `TIDAK ADA DATA` (what Satu Data portals write for "no data").
pub(crate) fn default_missing() -> Vec<String> {
    vec![String::new(), "---".into(), "TIDAK ADA DATA".into()]
}

/// Whether `text` is a missing-value marker. Blank text is always missing; markers compare
/// without surrounding spaces and without regard to case.
pub(crate) fn is_missing(text: &str, missing: &[String]) -> bool {
    let text = text.trim();
    text.is_empty()
        || missing
            .iter()
            .any(|m| m.to_lowercase() == text.to_lowercase())
}

// ---------------------------------------------------------------------------------------------
// Times.

/// `time_format = "auto"` unless configured.
pub(crate) fn default_time_format() -> TimeFormat {
    TimeFormat::Auto
}

/// Reads `time_format`.
pub(crate) fn read_time_format(fields: &mut Fields, problems: &mut Problems) -> TimeFormat {
    let Some(text) = fields.string("time_format", problems) else {
        return default_time_format();
    };
    match text.trim() {
        "" | "auto" => TimeFormat::Auto,
        "unix" | "unix_s" => TimeFormat::Unix,
        "unix_ms" => TimeFormat::UnixMillis,
        pattern if pattern.contains('%') => {
            let broken = chrono::format::StrftimeItems::new(pattern)
                .any(|item| matches!(item, chrono::format::Item::Error));
            if broken {
                problems.push((
                    fields.at("time_format"),
                    format!("`{pattern}` is not a valid chrono pattern; write e.g. \"%d/%m/%Y\" or \"%Y-%m-%d %H:%M:%S\""),
                ));
            }
            TimeFormat::Pattern(pattern.to_string())
        }
        other => {
            problems.push((
                fields.at("time_format"),
                format!("`{other}` is not a time format; use \"auto\", \"unix\", \"unix_ms\" or a chrono pattern such as \"%d/%m/%Y\""),
            ));
            TimeFormat::Auto
        }
    }
}

/// Reads `decimal_comma`: true = `,` marks decimals, false = `.` does; absent = the text rule
/// of `crate::values::number` (a value holding a comma uses the decimal comma).
pub(crate) fn read_decimal(fields: &mut Fields, problems: &mut Problems) -> Option<bool> {
    fields.boolean("decimal_comma", problems)
}

/// A time written as text, by the one time reader; None when it cannot be read.
pub(crate) fn time_from_text(text: &str, format: &TimeFormat, tz: Tz) -> Option<TimeValue> {
    crate::values::time::read_text(text, format, tz).ok()
}

/// A time written as a number (JSON, CKAN), by the one time reader.
pub(crate) fn time_from_number(n: f64, format: &TimeFormat, tz: Tz) -> Option<TimeValue> {
    crate::values::time::read_number(n, format, tz).ok()
}

/// What a time should look like, for messages.
pub(crate) fn expected_time(format: &TimeFormat) -> String {
    format.expected()
}

/// What a value that was not turned into a number is.
pub(crate) enum ReadNumber {
    Value(f64),
    /// Left out: missing or not finite; the reason for `Skipped::add`.
    Skip(String),
    /// Not a number: the detail for `ExtractError::NotANumber`.
    Bad(String),
}

/// Reads a text value: a missing marker or a non-finite number is a skip, anything the number
/// reader refuses is an error with its reason.
pub(crate) fn number_from_text(text: &str, decimal: Decimal, missing: &[String]) -> ReadNumber {
    if text.trim().is_empty() {
        return ReadNumber::Skip("empty".into());
    }
    if is_missing(text, missing) {
        return ReadNumber::Skip(format!("missing (`{}`)", shorten(text.trim())));
    }
    match crate::values::number::read(text, decimal) {
        Ok(v) => ReadNumber::Value(v),
        Err(NumberError::NotFinite) => {
            ReadNumber::Skip(format!("not finite (`{}`)", shorten(text.trim())))
        }
        Err(NumberError::Empty) => ReadNumber::Skip("empty".into()),
        Err(NumberError::NotANumber { why, .. }) => ReadNumber::Bad(match why {
            Some(why) => format!(": {why}"),
            None => String::new(),
        }),
    }
}

/// A number that arrived as a number: finite, or a skip saying which.
pub(crate) fn number_from_number(n: f64) -> ReadNumber {
    if n.is_finite() {
        ReadNumber::Value(n)
    } else {
        ReadNumber::Skip(format!("not finite ({n})"))
    }
}

// ---------------------------------------------------------------------------------------------
// Numbers and bodies.

/// The body without a UTF-8 byte order mark.
pub(crate) fn strip_bom(body: &[u8]) -> &[u8] {
    body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body)
}

/// The first characters of a body, printable, for messages.
pub(crate) fn body_start(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(240)]);
    let mut out: String = text
        .trim_start()
        .chars()
        .take(60)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.trim_start().chars().count() > 60 {
        out.push('…');
    }
    out
}

/// Whether the body is an HTML (or XML) page rather than data.
pub(crate) fn looks_like_html(body: &[u8]) -> bool {
    let body = strip_bom(body);
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    let head = String::from_utf8_lossy(&body[start..body.len().min(start + 512)]).to_lowercase();
    head.starts_with("<!doctype")
        || head.starts_with("<html")
        || head.starts_with("<?xml")
        || (head.starts_with('<') && head.contains("<body"))
}

/// Fails on an empty body or an HTML page; `expected` names what was expected.
pub(crate) fn check_body(body: &[u8], expected: &'static str) -> Result<(), ExtractError> {
    if strip_bom(body).iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ExtractError::EmptyBody);
    }
    if looks_like_html(body) {
        return Err(ExtractError::Html {
            expected,
            start: body_start(body),
        });
    }
    Ok(())
}

/// What a JSON value is, for messages.
pub(crate) fn describe_json(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "null".into(),
        serde_json::Value::Bool(b) => b.to_string(),
        serde_json::Value::Number(n) => format!("the number {n}"),
        serde_json::Value::String(s) => format!("the string \"{}\"", shorten(s)),
        serde_json::Value::Array(a) => format!("a list of {} items", a.len()),
        serde_json::Value::Object(_) => "an object".into(),
    }
}

/// At most 80 characters of `s`, for messages.
pub(crate) fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(80).collect();
    if s.chars().count() > 80 {
        out.push('…');
    }
    out
}

/// Parses a JSON body, with a message that shows how it starts when it is not JSON.
pub(crate) fn parse_json_body(body: &[u8]) -> Result<serde_json::Value, ExtractError> {
    check_body(body, "JSON")?;
    serde_json::from_slice(strip_bom(body)).map_err(|e| ExtractError::Json {
        detail: e.to_string(),
        start: body_start(body),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn ctx() -> ExtractContext {
        ExtractContext {
            tz: chrono_tz::Asia::Jakarta,
            now: 1_767_225_600_000,
        }
    }

    pub(crate) fn url(s: &str) -> reqwest::Url {
        reqwest::Url::parse(s).expect("test url")
    }

    pub(crate) fn table(text: &str) -> Option<toml::Value> {
        Some(toml::Value::Table(
            toml::from_str::<toml::Table>(text).expect("test toml"),
        ))
    }

    /// Jakarta midnight starting `y-m-d`, in ms.
    pub(crate) fn jkt_midnight(y: i32, m: u32, d: u32) -> Millis {
        crate::domain::date_start_millis(
            chrono::NaiveDate::from_ymd_opt(y, m, d).expect("date"),
            chrono_tz::Asia::Jakarta,
        )
    }

    #[test]
    fn unknown_format_is_a_problem_naming_the_choices() {
        let err = FeedFormat::from_config("xml", None).unwrap_err();
        assert_eq!(err[0].0, "format");
        assert!(
            err[0].1.contains("`json`, `csv`, `prometheus`, `ckan`"),
            "{}",
            err[0].1
        );
    }

    #[test]
    fn a_missing_sub_table_is_a_problem_for_every_format() {
        for name in FeedFormat::NAMES {
            let err = FeedFormat::from_config(name, None).unwrap_err();
            assert_eq!(err[0].0, *name, "{err:?}");
            assert!(err[0].1.contains(&format!("[feed.{name}]")), "{err:?}");
        }
    }

    #[test]
    fn unknown_keys_are_reported_with_a_suggestion() {
        let err = FeedFormat::from_config(
            "csv",
            table(
                r#"delimeter = ";"
                   time_column = "tanggal"
                   series = [{ indicator = "a.b", aggregate = "count", filtr = { x = "1" } }]"#,
            ),
        )
        .unwrap_err();
        let text = format!("{err:?}");
        assert!(
            err.iter()
                .any(|(p, m)| p == "csv.delimeter" && m.contains("did you mean `delimiter`")),
            "{text}"
        );
        assert!(
            err.iter()
                .any(|(p, m)| p == "csv.series[0].filtr" && m.contains("did you mean `filter`")),
            "{text}"
        );
    }

    #[test]
    fn missing_markers_ignore_case_and_spaces() {
        let m = default_missing();
        assert!(is_missing("  ", &m));
        assert!(is_missing(" tidak ada data ", &m));
        assert!(is_missing("---", &m));
        assert!(!is_missing("0", &m));
    }

    #[test]
    fn html_bodies_are_recognised() {
        assert!(looks_like_html(b"  <!DOCTYPE html><html>"));
        assert!(looks_like_html(b"<html><body>login</body></html>"));
        assert!(!looks_like_html(b"a,b\n1,2"));
        assert!(matches!(
            check_body(b"<html>", "CSV"),
            Err(ExtractError::Html { .. })
        ));
        assert_eq!(check_body(b" \n", "CSV"), Err(ExtractError::EmptyBody));
    }

    mod never_panic {
        use super::*;
        use proptest::prelude::*;
        use serde_json::Value;

        fn build(format: &str, text: &str) -> FeedFormat {
            FeedFormat::from_config(format, table(text)).unwrap_or_else(|e| panic!("{e:?}"))
        }

        fn every_format() -> Vec<FeedFormat> {
            vec![
                build(
                    "json",
                    r#"points = [{ indicator = "a.b", value = "/a", time = "/t" }]"#,
                ),
                build(
                    "json",
                    r#"records = { path = "/r", indicator_field = "k", rename = { x = "a.b" }, value = "v", time = "/t/0" }"#,
                ),
                build(
                    "csv",
                    r#"time_column = "t"
                       series = [{ indicator = "a.b", column = "v" }, { indicator = "a.c", aggregate = "count", filter = { k = "x" } }]"#,
                ),
                build(
                    "csv",
                    r#"delimiter = ";"
                       time_column = "t"
                       time_format = "%d/%m/%Y"
                       series = [{ indicator = "a.b", aggregate = "sum", column = "v", exclude = { k = "x" } }]"#,
                ),
                build(
                    "prometheus",
                    r#"series = [{ indicator = "a.b", metric = "a", labels = { x = ["1", ""] }, aggregate = "avg" }]"#,
                ),
                build(
                    "ckan",
                    r#"resource_id = "r"
                       limit = 2
                       time_field = "t"
                       series = [{ indicator = "a.b", field = "v" }]"#,
                ),
                build(
                    "ckan",
                    r#"resource_id = "r"
                       paging = "offset"
                       max_pages = 2
                       time_field = "t"
                       series = [{ indicator = "a.b", aggregate = "max", field = "v", filter = { k = 1 } }]"#,
                ),
            ]
        }

        fn feed_all(body: &[u8], current: &str) {
            let base = url("http://feed.example/api/3/action/datastore_search");
            let current = reqwest::Url::parse(current).unwrap_or_else(|_| base.clone());
            for format in every_format() {
                let _ = format.extract(body, &base, &current, &ctx());
                let _ = format.first_url(&current);
            }
            let _ = prometheus::parse_exposition(body);
        }

        fn json_scalar() -> impl Strategy<Value = Value> {
            prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(
                    |f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
                ),
                prop_oneof![
                    Just("2024-01-01".to_string()),
                    Just("NaN".to_string()),
                    Just("TIDAK ADA DATA".to_string()),
                    Just("1e999".to_string()),
                    Just("31/12/2024".to_string()),
                    ".{0,12}",
                ]
                .prop_map(Value::from),
            ]
        }

        fn json_value() -> impl Strategy<Value = Value> {
            json_scalar().prop_recursive(4, 48, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    prop::collection::vec(
                        (
                            prop_oneof![
                                Just("t".to_string()),
                                Just("v".to_string()),
                                Just("k".to_string()),
                                "[a-z_]{1,3}"
                            ],
                            inner
                        ),
                        0..6
                    )
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
                ]
            })
        }

        fn prom_line() -> impl Strategy<Value = String> {
            let name = prop_oneof![
                Just("a"),
                Just("a_total"),
                Just("a_bucket"),
                Just("a_count"),
                Just("a_sum"),
                Just("a_info"),
                Just("b")
            ];
            let labels = prop_oneof![
                Just(""),
                Just("{}"),
                Just("{x=\"1\"}"),
                Just("{le=\"+Inf\"}"),
                Just("{le=\"1\",x=\"\"}"),
                Just("{quantile=\"0.5\"}"),
                Just("{a=\"b\",}"),
                Just("{x=\"1\\\"}")
            ];
            let value = prop_oneof![
                Just("1"),
                Just("-1"),
                Just("NaN"),
                Just("+Inf"),
                Just("1e400"),
                Just("0x1"),
                Just("")
            ];
            let tail = prop_oneof![
                Just(""),
                Just(" 123"),
                Just(" 1.5"),
                Just(" # {a=\"b\"} 1"),
                Just(" 99999999999999999999"),
                Just("  ")
            ];
            let meta = prop_oneof![
                Just("# TYPE a counter"),
                Just("# TYPE a histogram"),
                Just("# TYPE a info"),
                Just("# TYPE a summary"),
                Just("# HELP a x"),
                Just("# UNIT a s"),
                Just("# EOF"),
                Just(""),
                Just("# TYPE a_total stateset")
            ];
            prop_oneof![
                (name, labels, value, tail).prop_map(|(n, l, v, t)| format!("{n}{l} {v}{t}")),
                meta.prop_map(str::to_string),
                "[ -~]{0,30}",
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(384))]

            #[test]
            fn random_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..600)) {
                feed_all(&body, "http://feed.example/?offset=2&limit=2");
            }

            #[test]
            fn random_feed_like_text_never_panics(
                body in r#"[a-z0-9_{}=",#\\ .:;/\n\r\t+\-eE\[\]\x{feff}\x{0}ÿ]{0,400}"#,
                current in r"http://feed\.example/\?(offset=[0-9]{0,25}&)?limit=[0-9-]{0,3}",
            ) {
                feed_all(body.as_bytes(), &current);
            }

            #[test]
            fn random_json_never_panics(value in json_value(), records in prop::collection::vec(json_value(), 0..5),
                                        success in json_scalar(), total in json_scalar(), limit in json_scalar(),
                                        link in json_scalar(), offset in 0u64..10) {
                feed_all(value.to_string().as_bytes(), "http://feed.example/");
                let ckan = serde_json::json!({"success": success, "result": {
                    "records": records, "total": total, "limit": limit, "_links": {"next": link}, "next_page": link.clone(),
                    "fields": value}, "error": value, "a": value, "t": records, "r": records});
                feed_all(ckan.to_string().as_bytes(), &format!("http://feed.example/?offset={offset}&limit=2"));
            }

            #[test]
            fn random_expositions_never_panic(lines in prop::collection::vec(prom_line(), 0..24), eol in prop_oneof![Just("\n"), Just("\r\n")]) {
                let body = lines.join(eol);
                feed_all(body.as_bytes(), "http://feed.example/");
            }
        }
    }
}
