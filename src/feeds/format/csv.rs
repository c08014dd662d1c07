//! The `csv` feed format: a CSV table with a header row into points, one per row or one per local
//! day and series (count / mean / sum / min / max / last of the matching rows).
//!
//! Also the row engine that `ckan` reuses for its records: `TableSeries`, `TableOptions`,
//! `read_series` and `extract_rows`. Rows may come in any order; days are the city's calendar
//! dates and a day's point is stamped at midnight starting that day.
//!
//! ```toml
//! [feed.csv]
//! time_column = "tanggal"
//! series = [
//!   { indicator = "env.air.good-days", aggregate = "count", filter = { categori = "BAIK" } },
//!   { indicator = "env.air.ispu-mean", aggregate = "mean", column = "max", exclude = { categori = "TIDAK ADA DATA" } },
//! ]
//! ```

use super::{
    ExtractContext, ExtractError, FeedPoint, Fields, Page, Problems, ReadNumber, Skipped,
    TimeFormat, ValueMatch, check_body, check_unique_indicators, expected_time, is_missing,
    number_from_number, number_from_text, quoted_list, read_decimal, read_indicator, read_matches,
    read_missing, read_scale, read_time_format, shorten, strip_bom, time_from_number,
    time_from_text,
};
use crate::domain::{IndicatorId, Millis, date_start_millis};
use crate::values::Decimal;
use chrono::NaiveDate;
use std::borrow::Cow;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};

/// How a series turns the matching rows into values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// One point per matching row, at the row's own time.
    None,
    /// Per day: how many rows match `filter` (0 on days that have rows but none match).
    Count,
    /// Per day: the mean of `column` over the matching rows.
    Mean,
    /// Per day: the sum of `column`.
    Sum,
    /// Per day: the smallest value of `column`.
    Min,
    /// Per day: the largest value of `column`.
    Max,
    /// Per day: the value of `column` in the row with the latest time (the later row on a tie).
    Last,
}

impl Aggregate {
    pub const NAMES: &'static [&'static str] =
        &["none", "count", "mean", "sum", "min", "max", "last"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Self::None),
            "count" => Some(Self::Count),
            "mean" | "avg" => Some(Self::Mean),
            "sum" => Some(Self::Sum),
            "min" => Some(Self::Min),
            "max" => Some(Self::Max),
            "last" => Some(Self::Last),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::None => "value",
            Self::Count => "count",
            Self::Mean => "mean",
            Self::Sum => "sum",
            Self::Min => "minimum",
            Self::Max => "maximum",
            Self::Last => "last value",
        }
    }
}

/// One point per row unless the series says how to aggregate per day.
pub fn default_aggregate() -> Aggregate {
    Aggregate::None
}

/// One indicator read from a table's rows.
#[derive(Debug, Clone)]
pub struct TableSeries {
    /// The indicator the points are for.
    pub indicator: IndicatorId,
    /// How matching rows become values (`none` = one point per row).
    pub aggregate: Aggregate,
    /// The column (CKAN: field) holding the value; none for `count`.
    pub column: Option<String>,
    /// Rows used: every named column must hold one of its values. For `count`, rows that fail
    /// the filter still make their day appear (with a count of 0).
    pub filter: Vec<ValueMatch>,
    /// Rows ignored entirely: any named column holding one of its values.
    pub exclude: Vec<ValueMatch>,
    /// Multiplier applied to each value (default 1).
    pub scale: f64,
}

/// What every series of one table shares.
#[derive(Debug, Clone)]
pub struct TableOptions {
    /// The column (CKAN: field) with each row's time; None = every row is "now" (one bucket).
    pub time: Option<String>,
    /// How the time column is written.
    pub time_format: TimeFormat,
    /// Cell texts meaning "no value"; blank cells always do.
    pub missing: Vec<String>,
    /// Whether `,` marks decimals (true) or `.` does (false); None = the CSV's `;` delimiter
    /// means a decimal comma, and otherwise each value follows the text rule of
    /// `crate::values::number` (a value holding a comma uses the decimal comma).
    pub decimal_comma: Option<bool>,
}

/// The `[feed.csv]` mapping, validated.
#[derive(Debug, Clone)]
pub struct CsvMapping {
    /// The field separator; None = detected from the header line (`,` `;` tab or `|`).
    pub delimiter: Option<u8>,
    pub table: TableOptions,
    pub series: Vec<TableSeries>,
}

const CSV_KEYS: &[&str] = &[
    "delimiter",
    "time_column",
    "time_format",
    "missing",
    "decimal_comma",
    "series",
];

/// The keys of one series, with the value column called `column` (CSV) or `field` (CKAN).
fn series_keys(word: &'static str) -> [&'static str; 6] {
    ["indicator", "aggregate", word, "filter", "exclude", "scale"]
}

/// Reads `series = [...]` of a table format; `word` is "column" or "field".
pub(crate) fn read_series(
    fields: &mut Fields,
    word: &'static str,
    has_time: bool,
    problems: &mut Problems,
) -> Vec<TableSeries> {
    let Some(list) = fields.tables("series", problems) else {
        if !fields.has("series") {
            problems.push((
                fields.at("series"),
                format!(
                    "missing; list what to read, e.g. series = [{{ indicator = \"env.air.ispu-mean\", aggregate = \"mean\", {word} = \"max\" }}]"
                ),
            ));
        }
        return Vec::new();
    };
    if list.is_empty() {
        problems.push((
            fields.at("series"),
            "is empty; list at least one series with an indicator".into(),
        ));
    }
    let mut out = Vec::new();
    let mut ids = Vec::new();
    for mut entry in list {
        let indicator = read_indicator(&mut entry, "indicator", problems);
        let parsed = match entry.string("aggregate", problems) {
            None => Some(default_aggregate()),
            Some(text) => {
                let parsed = Aggregate::parse(text.trim());
                if parsed.is_none() {
                    problems.push((
                        entry.at("aggregate"),
                        format!(
                            "unknown aggregate `{text}`; use one of {}",
                            quoted_list(Aggregate::NAMES)
                        ),
                    ));
                }
                parsed
            }
        };
        let aggregate = parsed.unwrap_or_else(default_aggregate);
        let column = entry.string(word, problems).map(|c| c.trim().to_string());
        match (&column, aggregate) {
            (Some(_), Aggregate::Count) => problems.push((
                entry.at(word),
                format!("`count` counts matching rows and reads no {word}; remove `{word}`, or use another aggregate"),
            )),
            (None, agg) if agg != Aggregate::Count && !entry.has(word) => problems.push((
                entry.at(word),
                format!("missing; name the {word} that holds the value (needed for aggregate `{}`)", aggregate_word(agg)),
            )),
            _ => {}
        }
        if parsed == Some(Aggregate::None) && !has_time {
            let time_key = if word == "column" {
                "time_column"
            } else {
                "time_field"
            };
            problems.push((
                entry.at("aggregate"),
                format!("`none` makes one point per row at the row's time, which needs `{time_key}`; set it, or choose `last`, `sum`, `mean`, `count`, `min` or `max`"),
            ));
        }
        let filter = read_matches(&mut entry, "filter", problems);
        let exclude = read_matches(&mut entry, "exclude", problems);
        let scale = read_scale(&mut entry, problems);
        let path = entry.at("indicator");
        entry.finish(&series_keys(word), problems);
        if let Some(indicator) = indicator {
            ids.push((path, indicator.clone()));
            out.push(TableSeries {
                indicator,
                aggregate,
                column,
                filter,
                exclude,
                scale,
            });
        }
    }
    check_unique_indicators(&ids, problems);
    out
}

fn aggregate_word(a: Aggregate) -> &'static str {
    match a {
        Aggregate::None => "none",
        Aggregate::Count => "count",
        Aggregate::Mean => "mean",
        Aggregate::Sum => "sum",
        Aggregate::Min => "min",
        Aggregate::Max => "max",
        Aggregate::Last => "last",
    }
}

impl CsvMapping {
    pub(crate) fn from_config(
        table: Option<toml::Value>,
        problems: &mut Problems,
    ) -> Option<CsvMapping> {
        let before = problems.len();
        let mut fields = Fields::format_table(
            "csv",
            table,
            "time_column = \"tanggal\" and series = [{ indicator = \"...\", aggregate = \"mean\", column = \"max\" }]",
            problems,
        )?;
        let delimiter = fields
            .string("delimiter", problems)
            .and_then(|d| match d.as_str() {
                "tab" | "\t" => Some(b'\t'),
                s if s.len() == 1 && s.is_ascii() && !matches!(s, "\"" | "\n" | "\r") => {
                    Some(s.as_bytes()[0])
                }
                other => {
                    problems.push((
                        fields.at("delimiter"),
                        format!("`{other}` is not a single separator character; use \",\", \";\", \"|\" or \"tab\", or leave it out to detect it from the header"),
                    ));
                    None
                }
            });
        let time = fields
            .string("time_column", problems)
            .map(|c| c.trim().to_string());
        let time_format = read_time_format(&mut fields, problems);
        let missing = read_missing(&mut fields, problems);
        let decimal_comma = read_decimal(&mut fields, problems);
        let series = read_series(&mut fields, "column", time.is_some(), problems);
        fields.finish(CSV_KEYS, problems);
        (problems.len() == before).then_some(CsvMapping {
            delimiter,
            table: TableOptions {
                time,
                time_format,
                missing,
                decimal_comma,
            },
            series,
        })
    }

    pub(crate) fn indicators(&self) -> Vec<IndicatorId> {
        self.series.iter().map(|s| s.indicator.clone()).collect()
    }

    /// Reads one CSV body.
    pub(crate) fn extract(&self, body: &[u8], ctx: &ExtractContext) -> Result<Page, ExtractError> {
        check_body(body, "CSV")?;
        let body = strip_bom(body);
        let delimiter = self.delimiter.unwrap_or_else(|| detect_delimiter(body));
        let decimal = match self.table.decimal_comma {
            Some(setting) => Decimal::from_setting(Some(setting)),
            None if delimiter == b';' => Decimal::Comma,
            None => Decimal::Text,
        };
        let mut reader = ::csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(body);
        let mut records = reader.byte_records();
        let header = match records.next() {
            None => return Err(ExtractError::EmptyBody),
            Some(Err(e)) => return Err(csv_error(&e)),
            Some(Ok(h)) => h,
        };
        let names: Vec<String> = header
            .iter()
            .map(|f| String::from_utf8_lossy(f).trim().to_string())
            .collect();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (i, name) in names.iter().enumerate() {
            index.entry(name.as_str()).or_insert(i);
        }
        check_columns(
            &self.table,
            &self.series,
            |c| index.contains_key(c),
            &names,
            "CSV header",
            "column",
        )?;
        let rows = records.map(|record| {
            record
                .map(|record| CsvRow {
                    line: record.position().map_or(0, |p| p.line()),
                    record,
                    index: &index,
                })
                .map_err(|e| csv_error(&e))
        });
        let (points, skipped) =
            extract_rows(rows, &self.series, &self.table, decimal, "column", ctx)?;
        Ok(Page {
            points,
            next: None,
            skipped,
        })
    }
}

fn csv_error(e: &::csv::Error) -> ExtractError {
    ExtractError::Csv {
        line: e.position().map_or(0, |p| p.line()),
        detail: e.to_string(),
    }
}

/// The separator of the header line: the most frequent of `,` `;` tab `|` outside quotes.
fn detect_delimiter(body: &[u8]) -> u8 {
    let line = body.split(|&b| b == b'\n').next().unwrap_or(body);
    let mut counts = [0usize; 4];
    let candidates = [b',', b';', b'\t', b'|'];
    let mut quoted = false;
    for &b in line {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted {
            if let Some(i) = candidates.iter().position(|&c| c == b) {
                counts[i] += 1;
            }
        }
    }
    let mut best = 0;
    for i in 1..candidates.len() {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    candidates[best]
}

/// Fails when the table lacks a column the mapping names (all of them listed at once).
pub(crate) fn check_columns(
    opts: &TableOptions,
    series: &[TableSeries],
    has: impl Fn(&str) -> bool,
    names: &[String],
    table: &'static str,
    what: &'static str,
) -> Result<(), ExtractError> {
    let mut wanted: Vec<&str> = Vec::new();
    wanted.extend(opts.time.as_deref());
    for s in series {
        wanted.extend(s.column.as_deref());
        wanted.extend(s.filter.iter().map(|m| m.name.as_str()));
        wanted.extend(s.exclude.iter().map(|m| m.name.as_str()));
    }
    let mut missing: Vec<String> = Vec::new();
    for w in wanted {
        let quoted = format!("`{w}`");
        if !has(w) && !missing.contains(&quoted) {
            missing.push(quoted);
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let available = if names.is_empty() {
        "none".to_string()
    } else {
        names
            .iter()
            .take(40)
            .map(|n| format!("`{}`", shorten(n)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(ExtractError::MissingColumn {
        table,
        what,
        missing: missing.join(", "),
        available,
    })
}

/// One cell of a row, as the row engine sees it.
pub(crate) enum Cell<'a> {
    /// The row has no such column or field at all.
    Absent,
    /// An explicit null (CKAN).
    Null,
    Text(Cow<'a, str>),
    Number(f64),
}

/// A row the engine can read cells from.
pub(crate) trait TableRow {
    fn cell(&self, name: &str) -> Cell<'_>;
    /// Where the row is, for messages: "CSV line 12", "CKAN record 3 (offset 1000)".
    fn location(&self) -> String;
}

struct CsvRow<'i> {
    record: ::csv::ByteRecord,
    index: &'i HashMap<&'i str, usize>,
    line: u64,
}

impl TableRow for CsvRow<'_> {
    fn cell(&self, name: &str) -> Cell<'_> {
        match self.index.get(name) {
            None => Cell::Absent,
            // A cell beyond the end of a short row is empty.
            Some(&i) => Cell::Text(String::from_utf8_lossy(
                self.record.get(i).unwrap_or_default(),
            )),
        }
    }

    fn location(&self) -> String {
        format!("CSV line {}", self.line)
    }
}

/// The running aggregate of one series on one day.
#[derive(Debug, Clone, Copy)]
enum Acc {
    Count(u64),
    Mean {
        sum: f64,
        n: u64,
    },
    Sum(f64),
    Min(f64),
    Max(f64),
    Last {
        time: Millis,
        seq: usize,
        value: f64,
    },
}

impl Acc {
    /// The aggregate of one value (`count` starts at 0 elsewhere).
    fn first(aggregate: Aggregate, value: f64, time: Millis, seq: usize) -> Acc {
        match aggregate {
            Aggregate::Mean => Acc::Mean { sum: value, n: 1 },
            Aggregate::Sum => Acc::Sum(value),
            Aggregate::Min => Acc::Min(value),
            Aggregate::Max => Acc::Max(value),
            Aggregate::None | Aggregate::Count | Aggregate::Last => Acc::Last { time, seq, value },
        }
    }

    /// Adds the value of row `seq` at `time`.
    fn add(&mut self, value: f64, time: Millis, seq: usize) {
        match self {
            Acc::Count(n) => *n += 1,
            Acc::Mean { sum, n } => {
                *sum += value;
                *n += 1;
            }
            Acc::Sum(v) => *v += value,
            Acc::Min(v) => *v = v.min(value),
            Acc::Max(v) => *v = v.max(value),
            Acc::Last {
                time: at,
                seq: s,
                value: v,
            } => {
                if (time, seq) >= (*at, *s) {
                    (*at, *s, *v) = (time, seq, value);
                }
            }
        }
    }

    fn value(self) -> f64 {
        match self {
            Acc::Count(n) => n as f64,
            Acc::Mean { sum, n } => sum / n.max(1) as f64,
            Acc::Sum(v) | Acc::Min(v) | Acc::Max(v) | Acc::Last { value: v, .. } => v,
        }
    }
}

/// Turns rows into points for every series; returns the points and the values left out, each
/// with where it was and why.
pub(crate) fn extract_rows<R: TableRow>(
    rows: impl Iterator<Item = Result<R, ExtractError>>,
    series: &[TableSeries],
    opts: &TableOptions,
    decimal: Decimal,
    word: &'static str,
    ctx: &ExtractContext,
) -> Result<(Vec<FeedPoint>, Skipped), ExtractError> {
    let tz = ctx.tz;
    let mut skipped = Skipped::default();
    let mut per_row: Vec<Vec<FeedPoint>> = vec![Vec::new(); series.len()];
    let mut per_day: Vec<BTreeMap<Option<NaiveDate>, Acc>> = vec![BTreeMap::new(); series.len()];
    for (seq, row) in rows.enumerate() {
        let row = row?;
        let time = match &opts.time {
            None => None,
            Some(column) => match read_time(&row, column, opts, word, tz)? {
                Ok(t) => Some(t),
                Err(reason) => {
                    skipped.add(
                        || format!("{}, {word} `{column}`", row.location()),
                        format!("time {reason}"),
                    );
                    continue;
                }
            },
        };
        let instant = time.map(|t| t.instant(tz));
        let day = time.map(|t| t.local_date(tz));
        for (i, s) in series.iter().enumerate() {
            if matches_any(&row, &s.exclude, word)? {
                continue;
            }
            let matched = matches_all(&row, &s.filter, word)?;
            if s.aggregate == Aggregate::Count {
                if let Acc::Count(n) = per_day[i].entry(day).or_insert(Acc::Count(0)) {
                    *n += u64::from(matched);
                }
                continue;
            }
            if !matched {
                continue;
            }
            let column = s.column.as_deref().unwrap_or_default();
            let value = match read_value(&row, column, opts, decimal, word)? {
                Ok(value) => value,
                Err(reason) => {
                    skipped.add(|| format!("{}, {word} `{column}`", row.location()), reason);
                    continue;
                }
            };
            if s.aggregate == Aggregate::None {
                per_row[i].push(FeedPoint {
                    indicator: s.indicator.to_string(),
                    time: instant,
                    value: value * s.scale,
                });
                continue;
            }
            let t = instant.unwrap_or_default();
            match per_day[i].entry(day) {
                Entry::Vacant(slot) => {
                    slot.insert(Acc::first(s.aggregate, value, t, seq));
                }
                Entry::Occupied(mut slot) => slot.get_mut().add(value, t, seq),
            }
        }
    }
    let mut points = Vec::new();
    for (i, s) in series.iter().enumerate() {
        points.append(&mut per_row[i]);
        for (day, acc) in &per_day[i] {
            let value = acc.value() * s.scale;
            if !value.is_finite() {
                return Err(ExtractError::Overflow {
                    indicator: s.indicator.to_string(),
                    aggregate: s.aggregate.name(),
                });
            }
            points.push(FeedPoint {
                indicator: s.indicator.to_string(),
                time: day.map(|d| date_start_millis(d, tz)),
                value,
            });
        }
    }
    Ok((points, skipped))
}

/// The row's time; Err(reason) when it is missing.
fn read_time<R: TableRow>(
    row: &R,
    column: &str,
    opts: &TableOptions,
    word: &'static str,
    tz: chrono_tz::Tz,
) -> Result<Result<super::TimeValue, String>, ExtractError> {
    let bad = |value: String| ExtractError::BadTime {
        location: format!("{}, {word} `{column}`", row.location()),
        value,
        expected: expected_time(&opts.time_format),
    };
    match row.cell(column) {
        Cell::Absent => Err(ExtractError::MissingField {
            field: column.to_string(),
            location: row.location(),
        }),
        Cell::Null => Ok(Err("null".into())),
        Cell::Text(text) if text.trim().is_empty() => Ok(Err("empty".into())),
        Cell::Text(text) if is_missing(&text, &opts.missing) => {
            Ok(Err(format!("missing (`{}`)", shorten(text.trim()))))
        }
        Cell::Text(text) => time_from_text(&text, &opts.time_format, tz)
            .map(Ok)
            .ok_or_else(|| bad(shorten(&text))),
        Cell::Number(n) => time_from_number(n, &opts.time_format, tz)
            .map(Ok)
            .ok_or_else(|| bad(n.to_string())),
    }
}

/// The row's value in `column`; Err(reason) when it is left out (missing or not finite).
fn read_value<R: TableRow>(
    row: &R,
    column: &str,
    opts: &TableOptions,
    decimal: Decimal,
    word: &'static str,
) -> Result<Result<f64, String>, ExtractError> {
    let read = match row.cell(column) {
        Cell::Absent => {
            return Err(ExtractError::MissingField {
                field: column.to_string(),
                location: row.location(),
            });
        }
        Cell::Null => return Ok(Err("null".into())),
        Cell::Number(n) => number_from_number(n),
        Cell::Text(text) => match number_from_text(&text, decimal, &opts.missing) {
            ReadNumber::Bad(why) => {
                let hint = if text.contains(',') && decimal == Decimal::Point {
                    "; `decimal_comma = false` makes `,` group thousands: remove it, or set `decimal_comma = true`".to_string()
                } else if text.contains('.') && decimal == Decimal::Comma {
                    "; the decimal comma is in force (a `;` CSV or `decimal_comma = true`): set `decimal_comma = false` if the feed writes 12.5".to_string()
                } else {
                    "; if it means \"no data\", add it to `missing`".to_string()
                };
                return Err(ExtractError::NotANumber {
                    location: format!("{}, {word} `{column}`", row.location()),
                    value: shorten(&text),
                    hint: format!("{why}{hint}"),
                });
            }
            other => other,
        },
    };
    Ok(match read {
        ReadNumber::Value(v) => Ok(v),
        ReadNumber::Skip(reason) => Err(reason),
        ReadNumber::Bad(_) => Err("not a number".into()),
    })
}

fn cell_text<'r, R: TableRow>(
    row: &'r R,
    name: &str,
    word: &'static str,
) -> Result<Cow<'r, str>, ExtractError> {
    match row.cell(name) {
        Cell::Absent => Err(ExtractError::MissingField {
            field: name.to_string(),
            location: format!("{} ({word} used in a filter)", row.location()),
        }),
        Cell::Null => Ok(Cow::Borrowed("")),
        Cell::Text(t) => Ok(t),
        Cell::Number(n) => Ok(Cow::Owned(n.to_string())),
    }
}

fn matches_all<R: TableRow>(
    row: &R,
    filter: &[ValueMatch],
    word: &'static str,
) -> Result<bool, ExtractError> {
    for m in filter {
        if !m.accepts(&cell_text(row, &m.name, word)?) {
            return Ok(false);
        }
    }
    Ok(true)
}

fn matches_any<R: TableRow>(
    row: &R,
    exclude: &[ValueMatch],
    word: &'static str,
) -> Result<bool, ExtractError> {
    for m in exclude {
        if m.accepts(&cell_text(row, &m.name, word)?) {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::super::FeedFormat;
    use super::super::tests::{ctx, jkt_midnight, table, url};
    use super::*;

    fn mapping(text: &str) -> FeedFormat {
        FeedFormat::from_config("csv", table(text)).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn run(format: &FeedFormat, body: &str) -> Result<Page, ExtractError> {
        let u = url("http://opendata.example.go.id/ispu.csv");
        format.extract(body.as_bytes(), &u, &u, &ctx())
    }

    fn values(page: &Page, indicator: &str) -> Vec<(Option<Millis>, f64)> {
        page.points
            .iter()
            .filter(|p| p.indicator == indicator)
            .map(|p| (p.time, p.value))
            .collect()
    }

    const AIR: &str = "tanggal,stasiun,max,categori
2024-01-02,DKI1,60,SEDANG
2024-01-01,DKI1,40,BAIK
2024-01-01,DKI2,,TIDAK ADA DATA
2024-01-01,DKI3,80,SEDANG
2024-01-02,DKI2,45,BAIK
2024-01-03,DKI1,---,SEDANG
";

    #[test]
    fn per_day_aggregates_of_unsorted_rows() {
        let f = mapping(
            r#"time_column = "tanggal"
               series = [
                 { indicator = "air.good", aggregate = "count", filter = { categori = "BAIK" } },
                 { indicator = "air.mean", aggregate = "mean", column = "max" },
                 { indicator = "air.sum", aggregate = "sum", column = "max" },
                 { indicator = "air.min", aggregate = "min", column = "max" },
                 { indicator = "air.max", aggregate = "max", column = "max" },
                 { indicator = "air.last", aggregate = "last", column = "max" },
                 { indicator = "air.dki1", aggregate = "mean", column = "max", filter = { stasiun = ["DKI1"] } },
               ]"#,
        );
        let page = run(&f, AIR).unwrap();
        let (d1, d2, d3) = (
            Some(jkt_midnight(2024, 1, 1)),
            Some(jkt_midnight(2024, 1, 2)),
            Some(jkt_midnight(2024, 1, 3)),
        );
        assert_eq!(
            values(&page, "air.good"),
            vec![(d1, 1.0), (d2, 1.0), (d3, 0.0)]
        );
        assert_eq!(values(&page, "air.mean"), vec![(d1, 60.0), (d2, 52.5)]);
        assert_eq!(values(&page, "air.sum"), vec![(d1, 120.0), (d2, 105.0)]);
        assert_eq!(values(&page, "air.min"), vec![(d1, 40.0), (d2, 45.0)]);
        assert_eq!(values(&page, "air.max"), vec![(d1, 80.0), (d2, 60.0)]);
        // Same day, same time: the later row wins.
        assert_eq!(values(&page, "air.last"), vec![(d1, 80.0), (d2, 45.0)]);
        assert_eq!(values(&page, "air.dki1"), vec![(d1, 40.0), (d2, 60.0)]);
        // Empty and `---` cells, for five value series each plus the DKI1 one on 01-03.
        assert_eq!(page.skipped.count, 2 * 5 + 1);
        assert_eq!(page.next, None);
    }

    #[test]
    fn one_point_per_row_at_the_row_time() {
        let f = mapping(
            r#"time_column = "waktu"
               series = [{ indicator = "traffic.speed", column = "kecepatan", scale = 0.5 }]"#,
        );
        let page = run(
            &f,
            "waktu,kecepatan\n2024-05-01 08:30:00,40\n2024-05-01T09:00:00+07:00,30\n",
        )
        .unwrap();
        assert_eq!(
            values(&page, "traffic.speed"),
            vec![
                (Some(1_714_527_000_000), 20.0),
                (Some(1_714_528_800_000), 15.0)
            ]
        );
    }

    #[test]
    fn last_takes_the_latest_time_not_the_last_line() {
        let f = mapping(
            r#"time_column = "waktu"
               series = [{ indicator = "water.level", aggregate = "last", column = "tinggi" }]"#,
        );
        let page = run(
            &f,
            "waktu,tinggi\n2024-05-01 18:00,3\n2024-05-01 07:00,1\n2024-05-01 12:00,2\n",
        )
        .unwrap();
        assert_eq!(
            values(&page, "water.level"),
            vec![(Some(jkt_midnight(2024, 5, 1)), 3.0)]
        );
    }

    #[test]
    fn semicolon_bom_and_decimal_comma_are_detected() {
        let f = mapping(
            r#"time_column = "Tanggal"
               series = [{ indicator = "health.bor", aggregate = "mean", column = "BOR (%)" }]"#,
        );
        let body = "\u{feff}Tanggal;BOR (%)\r\n01/02/2024;\"71,5\"\r\n01/02/2024;1.072,5\r\n";
        let page = run(&f, body).unwrap();
        assert_eq!(
            values(&page, "health.bor"),
            vec![(Some(jkt_midnight(2024, 2, 1)), (71.5 + 1072.5) / 2.0)]
        );
    }

    #[test]
    fn configured_delimiter_and_time_format() {
        let f = mapping(
            r#"delimiter = "|"
               time_column = "tgl"
               time_format = "%d.%m.%Y"
               decimal_comma = true
               series = [{ indicator = "a.b", column = "v" }]"#,
        );
        let page = run(&f, "tgl|v\n31.12.2024|2,25\n").unwrap();
        assert_eq!(
            values(&page, "a.b"),
            vec![(Some(jkt_midnight(2024, 12, 31)), 2.25)]
        );
    }

    #[test]
    fn without_a_time_column_every_row_is_now() {
        let f = mapping(
            r#"series = [
                 { indicator = "gov.wifi.points", aggregate = "count", filter = { status = "aktif" } },
                 { indicator = "gov.wifi.bandwidth", aggregate = "sum", column = "mbps" },
               ]"#,
        );
        let page = run(
            &f,
            "lokasi,status,mbps\nA,aktif,10\nB,rusak,20\nC,aktif,30\n",
        )
        .unwrap();
        assert_eq!(values(&page, "gov.wifi.points"), vec![(None, 2.0)]);
        assert_eq!(values(&page, "gov.wifi.bandwidth"), vec![(None, 60.0)]);
    }

    #[test]
    fn custom_missing_markers_and_non_finite_values_are_skipped() {
        let f = mapping(
            r#"time_column = "t"
               missing = ["N/A"]
               series = [{ indicator = "a.b", column = "v" }]"#,
        );
        let page = run(
            &f,
            "t,v\n2024-01-01,n/a\n2024-01-02,NaN\n2024-01-03,inf\n2024-01-04,\n2024-01-05,5\n,7\n",
        )
        .unwrap();
        assert_eq!(
            values(&page, "a.b"),
            vec![(Some(jkt_midnight(2024, 1, 5)), 5.0)]
        );
        assert_eq!(page.skipped.count, 5);
        let examples: Vec<(&str, &str)> = page
            .skipped
            .examples
            .iter()
            .map(|e| (e.location.as_str(), e.reason.as_str()))
            .collect();
        assert_eq!(
            examples,
            vec![
                ("CSV line 2, column `v`", "missing (`n/a`)"),
                ("CSV line 3, column `v`", "not finite (`NaN`)"),
                ("CSV line 4, column `v`", "not finite (`inf`)"),
                ("CSV line 5, column `v`", "empty"),
                ("CSV line 7, column `t`", "time empty"),
            ]
        );
    }

    #[test]
    fn short_rows_count_as_missing() {
        let f = mapping(
            r#"time_column = "t"
               series = [{ indicator = "a.b", column = "v" }]"#,
        );
        let page = run(&f, "t,x,v\n2024-01-01,1\n2024-01-02,1,2\n").unwrap();
        assert_eq!(page.points.len(), 1);
        assert_eq!(page.skipped.count, 1);
    }

    #[test]
    fn faults_give_errors_that_say_where() {
        let f = mapping(
            r#"time_column = "tanggal"
               series = [{ indicator = "a.b", aggregate = "mean", column = "nilai", filter = { wilayah = "Utara" } }]"#,
        );
        let err = run(&f, "tanggal,value\n2024-01-01,3\n").unwrap_err();
        assert!(
            matches!(&err, ExtractError::MissingColumn { missing, available, .. }
                if missing == "`nilai`, `wilayah`" && available == "`tanggal`, `value`"),
            "{err}"
        );
        let err = run(&f, "tanggal,nilai,wilayah\n2024-01-01,tiga,Utara\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "CSV line 2, column `nilai`: `tiga` is not a number; if it means \"no data\", add it to `missing`"
        );
        // A `,` CSV reads a value holding a comma with the decimal comma.
        let page = run(&f, "tanggal,nilai,wilayah\n2024-01-01,\"3,5\",Utara\n").unwrap();
        assert_eq!(page.points[0].value, 3.5);
        let english = mapping(
            r#"time_column = "tanggal"
               decimal_comma = false
               series = [{ indicator = "a.b", column = "nilai" }]"#,
        );
        let err = run(&english, "tanggal,nilai\n2024-01-01,\"3,5\"\n").unwrap_err();
        assert!(
            err.to_string().contains("`,` groups thousands")
                && err.to_string().contains("decimal_comma = true"),
            "{err}"
        );
        let page = run(&english, "tanggal,nilai\n2024-01-01,\"1,234.5\"\n").unwrap();
        assert_eq!(page.points[0].value, 1234.5);
        let err = run(&f, "tanggal,nilai,wilayah\nkemarin,3,Utara\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("CSV line 2, column `tanggal`: `kemarin` is not a time"),
            "{err}"
        );
        assert_eq!(run(&f, "").unwrap_err(), ExtractError::EmptyBody);
        assert!(matches!(
            run(&f, "<!DOCTYPE html><html><body>Login</body></html>").unwrap_err(),
            ExtractError::Html { .. }
        ));
        // A garbage body: one column named after the garbage.
        assert!(matches!(
            run(&f, "\u{0}\u{1}garbage\n\u{ff}").unwrap_err(),
            ExtractError::MissingColumn { .. }
        ));
    }

    #[test]
    fn huge_values_overflow_with_an_error() {
        let f = mapping(
            r#"time_column = "t"
               series = [{ indicator = "a.b", aggregate = "sum", column = "v" }, { indicator = "a.c", column = "v" }]"#,
        );
        let err = run(&f, "t,v\n2024-01-01,1e308\n2024-01-01,1e308\n").unwrap_err();
        assert!(matches!(err, ExtractError::Overflow { .. }), "{err}");
        // A single huge value is finite and kept; one beyond f64 is infinite and skipped.
        let f = mapping(
            r#"time_column = "t"
               series = [{ indicator = "a.c", column = "v" }]"#,
        );
        let page = run(&f, "t,v\n2024-01-01,1e308\n2024-01-02,1e999\n").unwrap();
        assert_eq!(page.points.len(), 1);
        assert_eq!(page.skipped.count, 1);
    }

    #[test]
    fn config_problems_are_all_reported() {
        let err = FeedFormat::from_config(
            "csv",
            table(
                r#"delimiter = ";;"
                   time_format = "%Q"
                   missing = "x"
                   series = [
                     { indicator = "Bad Id", aggregate = "median", column = "v" },
                     { indicator = "a.b", aggregate = "count", column = "v" },
                     { indicator = "a.c", aggregate = "mean" },
                     { indicator = "a.c", aggregate = "sum", column = "v", filter = { x = [] }, scale = 0 },
                     { indicator = "a.d", column = "v" },
                   ]"#,
            ),
        )
        .unwrap_err();
        let paths: Vec<&str> = err.iter().map(|(p, _)| p.as_str()).collect();
        for want in [
            "csv.delimiter",
            "csv.time_format",
            "csv.missing",
            "csv.series[0].indicator",
            "csv.series[0].aggregate",
            "csv.series[1].column",
            "csv.series[2].column",
            "csv.series[4].aggregate",
            "csv.series[3].filter.x",
            "csv.series[3].scale",
            "csv.series[3].indicator",
        ] {
            assert!(paths.contains(&want), "{want} missing from {err:#?}");
        }
        let err = FeedFormat::from_config("csv", table("time_column = \"t\"")).unwrap_err();
        assert_eq!(err[0].0, "csv.series");
    }

    #[test]
    fn indicators_and_content_types() {
        let f = mapping(
            r#"time_column = "t"
               series = [{ indicator = "a.b", column = "v" }, { indicator = "a.c", aggregate = "count" }]"#,
        );
        assert_eq!(f.indicators(), vec!["a.b", "a.c"]);
        assert!(f.expected_content_types().contains(&"text/csv"));
        let u = url("http://x.example/data.csv?x=1");
        assert_eq!(f.first_url(&u), u);
    }

    fn ispu_body() -> Vec<u8> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/data/ispu-jakarta/ispu_dki_all.csv"
        );
        std::fs::read(path).unwrap_or_else(|e| {
            panic!("the ISPU test data is missing at {path} ({e}); it comes with shared/data")
        })
    }

    #[test]
    fn jakarta_ispu_good_days_and_daily_mean() {
        let f = mapping(
            r#"time_column = "tanggal"
               series = [
                 { indicator = "env.air.good-days", aggregate = "count", filter = { categori = "BAIK" }, exclude = { categori = "TIDAK ADA DATA" } },
                 { indicator = "env.air.ispu-mean", aggregate = "mean", column = "max", exclude = { categori = "TIDAK ADA DATA" } },
                 { indicator = "env.air.ispu-raw", aggregate = "mean", column = "max" },
                 { indicator = "env.air.dki4", aggregate = "mean", column = "max", filter = { stasiun = "DKI4 (Lubang Buaya)" } },
               ]"#,
        );
        let body = ispu_body();
        let u = url("http://opendata.example.go.id/ispu.csv");
        let page = f.extract(&body, &u, &u, &ctx()).unwrap();
        // Checked with Python's csv module: 5,538 rows, one per day; 4 `TIDAK ADA DATA` rows, one
        // of which (2023-09-30) has an empty `max`; 316 `BAIK` days; sum of `max` over the
        // other 5,534 days is 540,554; DKI4 has 1,674 rows summing to 156,478.
        let good = values(&page, "env.air.good-days");
        assert_eq!(good.len(), 5534);
        assert_eq!(good.iter().map(|(_, v)| v).sum::<f64>(), 316.0);
        let mean = values(&page, "env.air.ispu-mean");
        assert_eq!(mean.len(), 5534);
        assert_eq!(mean.iter().map(|(_, v)| v).sum::<f64>(), 540_554.0);
        let at = |series: &[(Option<Millis>, f64)], y, m, d| {
            series
                .iter()
                .find(|(t, _)| *t == Some(jkt_midnight(y, m, d)))
                .map(|(_, v)| *v)
        };
        assert_eq!(at(&good, 2010, 1, 1), Some(0.0));
        assert_eq!(at(&mean, 2010, 1, 1), Some(73.0));
        assert_eq!(at(&good, 2010, 1, 2), Some(1.0));
        assert_eq!(at(&mean, 2010, 1, 2), Some(33.0));
        assert_eq!(at(&mean, 2019, 7, 15), Some(77.0));
        assert_eq!(at(&good, 2024, 12, 31), Some(1.0));
        assert_eq!(at(&mean, 2024, 12, 31), Some(35.0));
        assert_eq!(at(&mean, 2025, 2, 28), Some(71.0));
        assert_eq!(
            at(&good, 2010, 6, 25),
            None,
            "`TIDAK ADA DATA` days are excluded"
        );
        let raw = values(&page, "env.air.ispu-raw");
        assert_eq!(raw.len(), 5537, "three `TIDAK ADA DATA` days carry max 0.0");
        assert_eq!(at(&raw, 2010, 6, 25), Some(0.0));
        let dki4 = values(&page, "env.air.dki4");
        assert_eq!(dki4.len(), 1674);
        assert_eq!(dki4.iter().map(|(_, v)| v).sum::<f64>(), 156_478.0);
        assert_eq!(
            page.skipped.count, 1,
            "the empty `max` of 2023-09-30 in the raw series"
        );
        assert_eq!(
            page.skipped.examples[0].location,
            "CSV line 5022, column `max`"
        );
        assert_eq!(page.skipped.examples[0].reason, "empty");

        // The same rows in reverse order give the same points (the skipped value on another line).
        let text = String::from_utf8(body).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines[1..].reverse();
        let reversed = f
            .extract(lines.join("\n").as_bytes(), &u, &u, &ctx())
            .unwrap();
        assert!(
            reversed.points == page.points,
            "reversed rows give other points"
        );
        assert_eq!(reversed.skipped.count, page.skipped.count);
    }
}
