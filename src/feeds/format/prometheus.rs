//! The `prometheus` feed format: the text exposition format (Prometheus 0.0.4, and OpenMetrics
//! 1.0 when the body ends with `# EOF`), read by a parser of our own, then samples selected by
//! metric name and label values and summed, averaged, or reduced to their min or max.
//!
//! ```toml
//! [feed.prometheus]
//! series = [{ indicator = "gov.spbe.uptime", metric = "up_ratio", labels = { job = "spbe" }, aggregate = "avg", scale = 100.0 }]
//! ```
//!
//! Why our own parser: the Rust crates for this are either lenient regex splitters that misread
//! label values containing `,` or `}`, or LGPL. This one never panics (a property test feeds it
//! random bytes) and passes the OpenMetrics conformance cases (see the tests). Prometheus text is
//! read the way Prometheus reads it (blank lines and comments allowed, timestamps in integer
//! milliseconds); a body with a `# EOF` line is OpenMetrics and is held to that spec (timestamps
//! in seconds, metadata before samples, families together, histogram and counter rules).
//! NaN and ±Inf samples are skipped and counted in `Page::skipped`.

use super::{
    ExtractError, FeedPoint, Fields, Page, Problems, Skipped, ValueMatch, check_body,
    check_unique_indicators, quoted_list, read_indicator, read_matches, read_scale, shorten,
};
use crate::domain::IndicatorId;
use crate::values::time::epoch_millis;
use std::collections::{HashMap, HashSet};

/// The `[feed.prometheus]` mapping, validated.
#[derive(Debug, Clone)]
pub struct PromMapping {
    pub series: Vec<PromSeries>,
}

/// One indicator read from the samples of one metric.
#[derive(Debug, Clone)]
pub struct PromSeries {
    /// The indicator the value feeds.
    pub indicator: IndicatorId,
    /// The sample name as written in the text, e.g. `http_requests_total` or `up`.
    pub metric: String,
    /// Label matchers: each label must have one of the values (`""` matches a missing label).
    pub labels: Vec<ValueMatch>,
    /// How the matching series combine (default `sum`).
    pub aggregate: PromAggregate,
    /// Multiplier applied to the result (default 1), e.g. 100 for a ratio shown in percent.
    pub scale: f64,
}

/// How the values of the matching series combine into one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromAggregate {
    Sum,
    Avg,
    Min,
    Max,
}

impl PromAggregate {
    pub const NAMES: &'static [&'static str] = &["sum", "avg", "min", "max"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sum" => Some(Self::Sum),
            "avg" | "mean" => Some(Self::Avg),
            "min" => Some(Self::Min),
            "max" => Some(Self::Max),
            _ => None,
        }
    }
}

/// Matching series are summed unless the series says otherwise.
pub fn default_prom_aggregate() -> PromAggregate {
    PromAggregate::Sum
}

const PROM_KEYS: &[&str] = &["series"];
const SERIES_KEYS: &[&str] = &["indicator", "metric", "labels", "aggregate", "scale"];

impl PromMapping {
    pub(crate) fn from_config(
        table: Option<toml::Value>,
        problems: &mut Problems,
    ) -> Option<PromMapping> {
        let before = problems.len();
        let mut fields = Fields::format_table(
            "prometheus",
            table,
            "series = [{ indicator = \"gov.spbe.uptime\", metric = \"up\", labels = { job = \"spbe\" } }]",
            problems,
        )?;
        let mut series = Vec::new();
        let mut ids = Vec::new();
        match fields.tables("series", problems) {
            None if !fields.has("series") => problems.push((
                fields.at("series"),
                "missing; list what to read, e.g. series = [{ indicator = \"gov.spbe.uptime\", metric = \"up\", labels = { job = \"spbe\" } }]".into(),
            )),
            None => {}
            Some(list) => {
                if list.is_empty() {
                    problems.push((fields.at("series"), "is empty; list at least one series".into()));
                }
                for mut entry in list {
                    let indicator = read_indicator(&mut entry, "indicator", problems);
                    let metric = entry.required_string(
                        "metric",
                        "the sample name as the text writes it, e.g. \"up\" or \"http_requests_total\"",
                        problems,
                    );
                    if let Some(m) = &metric {
                        if metric_name_end(m.as_bytes(), 0) != m.len() {
                            problems.push((
                                entry.at("metric"),
                                format!("`{m}` is not a metric name; names are letters, digits, `_` and `:` and do not start with a digit"),
                            ));
                        }
                    }
                    let labels = read_matches(&mut entry, "labels", problems);
                    let aggregate = match entry.string("aggregate", problems) {
                        None => default_prom_aggregate(),
                        Some(text) => PromAggregate::parse(text.trim()).unwrap_or_else(|| {
                            problems.push((
                                entry.at("aggregate"),
                                format!(
                                    "unknown aggregate `{text}`; use one of {}",
                                    quoted_list(PromAggregate::NAMES)
                                ),
                            ));
                            default_prom_aggregate()
                        }),
                    };
                    let scale = read_scale(&mut entry, problems);
                    let path = entry.at("indicator");
                    entry.finish(SERIES_KEYS, problems);
                    if let (Some(indicator), Some(metric)) = (indicator, metric) {
                        ids.push((path, indicator.clone()));
                        series.push(PromSeries {
                            indicator,
                            metric,
                            labels,
                            aggregate,
                            scale,
                        });
                    }
                }
            }
        }
        check_unique_indicators(&ids, problems);
        fields.finish(PROM_KEYS, problems);
        (problems.len() == before).then_some(PromMapping { series })
    }

    pub(crate) fn indicators(&self) -> Vec<IndicatorId> {
        self.series.iter().map(|s| s.indicator.clone()).collect()
    }

    /// Reads one exposition body.
    pub(crate) fn extract(&self, body: &[u8]) -> Result<Page, ExtractError> {
        check_body(body, "Prometheus text")?;
        let samples = parse_exposition(body)?;
        let mut points = Vec::new();
        let mut skipped = Skipped::default();
        for s in &self.series {
            // The newest sample of each matching series (by timestamp, then position).
            let mut latest: HashMap<Vec<(&str, &str)>, &Sample> = HashMap::new();
            for sample in samples.iter().filter(|x| x.name == s.metric) {
                let accepted = s
                    .labels
                    .iter()
                    .all(|m| m.accepts(sample.label(&m.name).unwrap_or_default()));
                if !accepted {
                    continue;
                }
                let mut key: Vec<(&str, &str)> = sample
                    .labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                key.sort_unstable();
                let newer = latest.get(&key).is_none_or(|old| {
                    sample.timestamp_ms.unwrap_or(f64::MIN) >= old.timestamp_ms.unwrap_or(f64::MIN)
                });
                if newer {
                    latest.insert(key, sample);
                }
            }
            if latest.is_empty() {
                return Err(no_match(s, &samples));
            }
            let mut chosen: Vec<&Sample> = latest.into_values().collect();
            chosen.sort_by_key(|x| x.line);
            let (finite, left_out): (Vec<&Sample>, Vec<&Sample>) =
                chosen.iter().copied().partition(|x| x.value.is_finite());
            for x in left_out {
                skipped.add(
                    || format!("{} (line {})", selector_of(x), x.line),
                    format!("not finite ({})", x.value),
                );
            }
            if finite.is_empty() {
                continue;
            }
            let values = finite.iter().map(|x| x.value);
            let value = match s.aggregate {
                PromAggregate::Sum => values.sum::<f64>(),
                PromAggregate::Avg => values.sum::<f64>() / finite.len() as f64,
                PromAggregate::Min => values.fold(f64::INFINITY, f64::min),
                PromAggregate::Max => values.fold(f64::NEG_INFINITY, f64::max),
            } * s.scale;
            if !value.is_finite() {
                return Err(ExtractError::Overflow {
                    indicator: s.indicator.to_string(),
                    aggregate: "sum",
                });
            }
            // The time is the newest sample timestamp when every series has one.
            let time = if finite.iter().all(|x| x.timestamp_ms.is_some()) {
                let newest = finite
                    .iter()
                    .filter_map(|x| x.timestamp_ms)
                    .fold(f64::NEG_INFINITY, f64::max);
                Some(epoch_millis(newest, true).ok_or_else(|| ExtractError::BadTime {
                    location: format!("the samples of `{}`", s.metric),
                    value: format!("{newest} ms"),
                    expected: "sample timestamps must fall between 1900 and 2200; Prometheus text gives milliseconds and OpenMetrics seconds".into(),
                })?)
            } else {
                None
            };
            points.push(FeedPoint {
                indicator: s.indicator.to_string(),
                time,
                value,
            });
        }
        Ok(Page {
            points,
            next: None,
            skipped,
        })
    }
}

/// A sample's metric and labels as Prometheus writes them, shortened: `up{job="api"}`.
fn selector_of(sample: &Sample) -> String {
    let labels: Vec<String> = sample
        .labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", shorten(v)))
        .collect();
    if labels.is_empty() {
        sample.name.clone()
    } else {
        shorten(&format!("{}{{{}}}", sample.name, labels.join(",")))
    }
}

fn selector(s: &PromSeries) -> String {
    let labels: Vec<String> = s
        .labels
        .iter()
        .map(|m| {
            if m.values.len() == 1 {
                format!("{}=\"{}\"", m.name, m.values[0])
            } else {
                format!("{}=~\"{}\"", m.name, m.values.join("|"))
            }
        })
        .collect();
    format!("`{}{{{}}}`", s.metric, labels.join(","))
}

fn no_match(s: &PromSeries, samples: &[Sample]) -> ExtractError {
    let same_name: Vec<&Sample> = samples.iter().filter(|x| x.name == s.metric).collect();
    let found = if same_name.is_empty() {
        let mut names: Vec<&str> = Vec::new();
        for x in samples {
            if !names.contains(&x.name.as_str()) {
                names.push(&x.name);
            }
        }
        if names.is_empty() {
            "the body has no samples at all".to_string()
        } else {
            let more = if names.len() > 12 { ", …" } else { "" };
            names.truncate(12);
            format!(
                "the body has no sample named `{}`; it has {}{more} (check `metric`, which must include suffixes such as `_total`)",
                s.metric,
                quoted_list(&names)
            )
        }
    } else {
        let shown: Vec<String> = same_name
            .iter()
            .take(5)
            .map(|x| {
                let labels: Vec<String> = x
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{}\"", shorten(v)))
                    .collect();
                format!("{{{}}}", labels.join(","))
            })
            .collect();
        format!(
            "`{}` has {} series, with labels such as {}; check `labels`",
            s.metric,
            same_name.len(),
            shown.join(" ")
        )
    };
    ExtractError::NoMatchingSeries {
        selector: selector(s),
        found,
    }
}

// ---------------------------------------------------------------------------------------------
// The parser.

/// One sample of an exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The sample name as written (with `_total`, `_bucket`, … suffixes).
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
    /// Milliseconds since the Unix epoch as written (it may be beyond any real date).
    pub timestamp_ms: Option<f64>,
    /// The 1-based line the sample is on.
    pub line: usize,
}

impl Sample {
    fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a text exposition. A body with a line starting `# EOF` is OpenMetrics 1.0 and is
/// checked against that spec; anything else is read as Prometheus text format 0.0.4.
pub fn parse_exposition(body: &[u8]) -> Result<Vec<Sample>, ExtractError> {
    let text = std::str::from_utf8(body).map_err(|e| ExtractError::NotUtf8 {
        detail: e.to_string(),
    })?;
    let openmetrics = text.split('\n').any(|l| l.starts_with("# EOF"));
    let result = if openmetrics {
        parse_openmetrics(text)
    } else {
        parse_prometheus(text)
    };
    result.map_err(|(line, message)| ExtractError::Prometheus { line, message })
}

type ParseResult<T> = Result<T, (usize, String)>;

fn parse_prometheus(text: &str) -> ParseResult<Vec<Sample>> {
    if text.trim().is_empty() {
        return Err((1, "the body has no samples".into()));
    }
    let mut samples = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let n = i + 1;
        let line = raw
            .strip_suffix('\r')
            .unwrap_or(raw)
            .trim_start_matches([' ', '\t']);
        if line.trim_end_matches([' ', '\t']).is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            prometheus_comment(comment).map_err(|m| (n, m))?;
            continue;
        }
        let raw = parse_sample(line, false).map_err(|m| (n, m))?;
        samples.push(Sample {
            name: raw.name,
            labels: raw.labels,
            value: raw.value,
            timestamp_ms: raw.timestamp,
            line: n,
        });
    }
    Ok(samples)
}

/// Checks `# HELP name …` and `# TYPE name type`; other comments are ignored.
fn prometheus_comment(comment: &str) -> Result<(), String> {
    let mut words = comment.split([' ', '\t']).filter(|w| !w.is_empty());
    let keyword = words.next();
    if !matches!(keyword, Some("HELP" | "TYPE")) {
        return Ok(());
    }
    let keyword = keyword.unwrap_or_default();
    let name = words.next().unwrap_or_default();
    if name.is_empty() || metric_name_end(name.as_bytes(), 0) != name.len() {
        return Err(format!(
            "`# {keyword}` needs a valid metric name, found `{}`",
            shorten(name)
        ));
    }
    if keyword == "TYPE" {
        let kind = words.next().unwrap_or_default();
        const TYPES: &[&str] = &[
            "counter",
            "gauge",
            "histogram",
            "summary",
            "untyped",
            "unknown",
            "gaugehistogram",
            "info",
            "stateset",
        ];
        if !TYPES.contains(&kind) {
            return Err(format!(
                "`# TYPE {name}` names the unknown type `{}`; use counter, gauge, histogram, summary or untyped",
                shorten(kind)
            ));
        }
    }
    Ok(())
}

/// A sample line as read, before any OpenMetrics family checks.
struct RawSample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
    timestamp: Option<f64>,
    exemplar: bool,
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':'
}

/// The end of the metric name starting at `start` (`start` itself when there is none).
fn metric_name_end(b: &[u8], start: usize) -> usize {
    let mut i = start;
    if i < b.len() && is_name_start(b[i]) {
        i += 1;
        while i < b.len() && (is_name_start(b[i]) || b[i].is_ascii_digit()) {
            i += 1;
        }
    }
    i
}

fn label_name_end(b: &[u8], start: usize) -> usize {
    let mut i = start;
    if i < b.len() && (b[i].is_ascii_alphabetic() || b[i] == b'_') {
        i += 1;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            i += 1;
        }
    }
    i
}

fn is_blank(b: u8, om: bool) -> bool {
    b == b' ' || (!om && b == b'\t')
}

fn skip_blanks(b: &[u8], i: &mut usize, om: bool) {
    if !om {
        while *i < b.len() && is_blank(b[*i], om) {
            *i += 1;
        }
    }
}

/// The token from `i` to the next blank (or the end).
fn token<'a>(line: &'a str, i: &mut usize, om: bool) -> &'a str {
    let b = line.as_bytes();
    let start = *i;
    while *i < b.len() && !is_blank(b[*i], om) {
        *i += 1;
    }
    &line[start..*i]
}

fn parse_sample(line: &str, om: bool) -> Result<RawSample, String> {
    let b = line.as_bytes();
    let name_end = metric_name_end(b, 0);
    if name_end == 0 {
        return Err(format!(
            "expected a metric name (letters, digits, `_`, `:`) at the start of `{}`",
            shorten(line)
        ));
    }
    let name = line[..name_end].to_string();
    let mut i = name_end;
    let mut labels = Vec::new();
    let mut open = name_end;
    skip_blanks(b, &mut open, om);
    if b.get(open) == Some(&b'{') {
        i = parse_labels(line, open, om, &mut labels)?;
    }
    // One space (OpenMetrics) or any blanks (Prometheus) before the value.
    match b.get(i) {
        Some(&c) if is_blank(c, om) => i += 1,
        Some(_) => {
            return Err(format!(
                "unexpected `{}` after the metric name `{name}`; names are letters, digits, `_` and `:`, then labels in {{}}, a space and the value",
                char_at(line, i)
            ));
        }
        None => return Err(format!("the sample `{name}` has no value")),
    }
    skip_blanks(b, &mut i, om);
    let value_text = token(line, &mut i, om);
    if value_text.is_empty() {
        return Err(format!("the sample `{name}` has no value"));
    }
    let value = parse_value(value_text).ok_or_else(|| {
        format!(
            "`{}` is not a sample value; write a decimal number, NaN, +Inf or -Inf",
            shorten(value_text)
        )
    })?;
    let mut timestamp = None;
    let mut exemplar = false;
    if om {
        let rest = &line[i..];
        if !rest.is_empty() && !rest.starts_with(" # ") {
            i += 1; // the space
            let ts = token(line, &mut i, om);
            timestamp = Some(
                parse_real(ts)
                    .ok_or_else(|| {
                        format!(
                            "`{}` is not a timestamp; OpenMetrics timestamps are seconds such as 1700000000.5",
                            shorten(ts)
                        )
                    })?
                    * 1000.0,
            );
        }
        let rest = &line[i..];
        if let Some(after) = rest.strip_prefix(" # ") {
            parse_exemplar(after)?;
            exemplar = true;
        } else if !rest.is_empty() {
            return Err(format!(
                "unexpected `{}` after the sample; a sample is `name{{labels}} value [timestamp] [# {{exemplar}} value]`",
                shorten(rest.trim())
            ));
        }
    } else {
        skip_blanks(b, &mut i, om);
        if i < b.len() {
            let ts = token(line, &mut i, om);
            let ms = ts.parse::<i64>().map_err(|_| {
                format!(
                    "`{}` is not a timestamp; Prometheus text timestamps are whole milliseconds since 1970",
                    shorten(ts)
                )
            })?;
            timestamp = Some(ms as f64);
            skip_blanks(b, &mut i, om);
            if i < b.len() {
                return Err(format!(
                    "unexpected `{}` after the timestamp",
                    shorten(&line[i..])
                ));
            }
        }
    }
    Ok(RawSample {
        name,
        labels,
        value,
        timestamp,
        exemplar,
    })
}

fn char_at(line: &str, i: usize) -> char {
    line.get(i..)
        .and_then(|rest| rest.chars().next())
        .unwrap_or(' ')
}

/// Parses `{name="value",…}` starting at the `{`; returns the index after the `}`.
fn parse_labels(
    line: &str,
    open: usize,
    om: bool,
    out: &mut Vec<(String, String)>,
) -> Result<usize, String> {
    let b = line.as_bytes();
    let mut i = open + 1;
    let mut after_comma = false;
    loop {
        skip_blanks(b, &mut i, om);
        match b.get(i) {
            None => return Err("the label set is not closed with `}`".into()),
            Some(b'}') => {
                if after_comma && om {
                    return Err("a `,` before `}` has no label after it; remove it".into());
                }
                return Ok(i + 1);
            }
            Some(_) => {}
        }
        let name_end = label_name_end(b, i);
        if name_end == i {
            return Err(format!(
                "expected a label name (letters, digits, `_`, not starting with a digit) at `{}`",
                shorten(&line[i..])
            ));
        }
        let name = &line[i..name_end];
        i = name_end;
        skip_blanks(b, &mut i, om);
        if b.get(i) != Some(&b'=') {
            return Err(format!("the label `{name}` needs `=\"value\"`"));
        }
        i += 1;
        skip_blanks(b, &mut i, om);
        if b.get(i) != Some(&b'"') {
            return Err(format!(
                "the value of label `{name}` must be in double quotes, e.g. {name}=\"x\""
            ));
        }
        i += 1;
        let mut value: Vec<u8> = Vec::new();
        loop {
            match b.get(i) {
                None => return Err(format!("the value of label `{name}` has no closing `\"`")),
                Some(b'"') => {
                    i += 1;
                    break;
                }
                Some(b'\\') => {
                    match b.get(i + 1) {
                        Some(b'n') => value.push(b'\n'),
                        Some(b'\\') => value.push(b'\\'),
                        Some(b'"') => value.push(b'"'),
                        // Unknown escapes are kept as written, as Prometheus does.
                        Some(&other) => value.extend_from_slice(&[b'\\', other]),
                        None => {
                            return Err(format!("the value of label `{name}` has no closing `\"`"));
                        }
                    }
                    i += 2;
                }
                Some(&c) => {
                    value.push(c);
                    i += 1;
                }
            }
        }
        if out.iter().any(|(k, _)| k == name) {
            return Err(format!("the label `{name}` appears twice in one label set"));
        }
        out.push((
            name.to_string(),
            String::from_utf8_lossy(&value).into_owned(),
        ));
        skip_blanks(b, &mut i, om);
        match b.get(i) {
            Some(b',') => {
                i += 1;
                after_comma = true;
            }
            Some(b'}') => return Ok(i + 1),
            _ => {
                return Err(format!(
                    "expected `,` or `}}` after the value of label `{name}`"
                ));
            }
        }
    }
}

/// Checks an exemplar `{labels} value [timestamp]` (after ` # `).
fn parse_exemplar(text: &str) -> Result<(), String> {
    if !text.starts_with('{') {
        return Err("an exemplar after ` # ` must start with a label set `{…}`".into());
    }
    let mut labels = Vec::new();
    let mut i = parse_labels(text, 0, true, &mut labels)?;
    let length: usize = labels
        .iter()
        .map(|(k, v)| k.chars().count() + v.chars().count())
        .sum();
    if length > 128 {
        return Err(format!(
            "the exemplar's labels have {length} characters; OpenMetrics allows at most 128"
        ));
    }
    if text.as_bytes().get(i) != Some(&b' ') {
        return Err("the exemplar's label set must be followed by a space and a value".into());
    }
    i += 1;
    let value = token(text, &mut i, true);
    if parse_value(value).is_none() {
        return Err(format!("`{}` is not an exemplar value", shorten(value)));
    }
    if i < text.len() {
        i += 1;
        let ts = token(text, &mut i, true);
        if parse_real(ts).is_none() || i < text.len() {
            return Err(format!(
                "`{}` is not an exemplar timestamp",
                shorten(&text[i.min(text.len())..])
            ));
        }
    }
    Ok(())
}

/// A sample value: a real number, `NaN`, or `Inf`/`Infinity` with an optional sign (any case).
fn parse_value(t: &str) -> Option<f64> {
    match t.to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "inf" | "+inf" | "infinity" | "+infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        _ => parse_real(t),
    }
}

/// A decimal real number: `[sign] digits [. digits] [e [sign] digits]` (no hex, no `_`).
fn parse_real(t: &str) -> Option<f64> {
    let b = t.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i - int_start;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        digits += i - frac_start;
    }
    if digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    t.parse::<f64>().ok()
}

// ---------------------------------------------------------------------------------------------
// OpenMetrics 1.0: metric families and their rules.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OmType {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
    Unknown,
}

impl OmType {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "counter" => Some(Self::Counter),
            "gauge" => Some(Self::Gauge),
            "histogram" => Some(Self::Histogram),
            "gaugehistogram" => Some(Self::GaugeHistogram),
            "summary" => Some(Self::Summary),
            "info" => Some(Self::Info),
            "stateset" => Some(Self::StateSet),
            "unknown" => Some(Self::Unknown),
            _ => None,
        }
    }

    /// The suffixes its samples may carry after the family name.
    fn suffixes(self) -> &'static [&'static str] {
        match self {
            Self::Counter => &["_total", "_created"],
            Self::Gauge | Self::StateSet | Self::Unknown => &[""],
            Self::Histogram => &["_bucket", "_count", "_sum", "_created"],
            Self::GaugeHistogram => &["_bucket", "_gcount", "_gsum"],
            Self::Summary => &["", "_count", "_sum", "_created"],
            Self::Info => &["_info"],
        }
    }
}

/// Label pairs sorted by name: the identity of a series within a family.
type LabelSet = Vec<(String, String)>;

struct OmSample {
    sample: Sample,
    exemplar: bool,
}

struct Family {
    name: String,
    kind: OmType,
    typed: bool,
    help: bool,
    unit: Option<String>,
    line: usize,
    samples: Vec<OmSample>,
}

impl Family {
    fn new(name: &str, line: usize) -> Family {
        Family {
            name: name.to_string(),
            kind: OmType::Unknown,
            typed: false,
            help: false,
            unit: None,
            line,
            samples: Vec::new(),
        }
    }

    fn suffix_of<'n>(&self, sample: &'n str) -> Option<&'n str> {
        let suffix = sample.strip_prefix(self.name.as_str())?;
        self.kind.suffixes().contains(&suffix).then_some(suffix)
    }
}

fn parse_openmetrics(text: &str) -> ParseResult<Vec<Sample>> {
    let body = text.strip_suffix('\n').unwrap_or(text);
    let lines: Vec<&str> = body.split('\n').collect();
    let last = lines.len();
    let mut samples = Vec::new();
    let mut claimed: HashSet<String> = HashSet::new();
    let mut current: Option<Family> = None;
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        if line.starts_with("# EOF") {
            if *line != "# EOF" {
                return Err((n, "the end marker must be exactly `# EOF`".into()));
            }
            if n != last {
                return Err((
                    n,
                    "text after `# EOF`; the end marker must be the last line".into(),
                ));
            }
            break;
        }
        if n == last {
            return Err((n, "an OpenMetrics body must end with `# EOF`".into()));
        }
        if line.is_empty() {
            return Err((n, "blank lines are not allowed in OpenMetrics".into()));
        }
        if line.starts_with('#') {
            let (keyword, name, value) = om_metadata(line).map_err(|m| (n, m))?;
            let same = current.as_ref().is_some_and(|f| f.name == name);
            if !same {
                if let Some(done) = current.take() {
                    close_family(done, &mut claimed, &mut samples)?;
                }
                current = Some(Family::new(name, n));
            }
            let Some(family) = current.as_mut() else {
                continue;
            };
            if !family.samples.is_empty() {
                return Err((
                    n,
                    format!(
                        "`# {keyword} {name}` comes after samples of `{name}`; put metadata before the samples"
                    ),
                ));
            }
            let repeated = match keyword {
                "TYPE" => {
                    let kind = OmType::parse(value).ok_or_else(|| {
                        (n, format!("`{}` is not an OpenMetrics type; use counter, gauge, histogram, gaugehistogram, summary, info, stateset or unknown", shorten(value)))
                    })?;
                    family.kind = kind;
                    std::mem::replace(&mut family.typed, true)
                }
                "HELP" => std::mem::replace(&mut family.help, true),
                _ => family.unit.replace(value.to_string()).is_some(),
            };
            if repeated {
                return Err((n, format!("a second `# {keyword}` for `{name}`")));
            }
            continue;
        }
        let raw = parse_sample(line, true).map_err(|m| (n, m))?;
        let belongs = current
            .as_ref()
            .is_some_and(|f| f.suffix_of(&raw.name).is_some());
        if !belongs {
            if let Some(done) = current.take() {
                close_family(done, &mut claimed, &mut samples)?;
            }
            current = Some(Family::new(&raw.name, n));
        }
        if let Some(family) = current.as_mut() {
            family.samples.push(OmSample {
                sample: Sample {
                    name: raw.name,
                    labels: raw.labels,
                    value: raw.value,
                    timestamp_ms: raw.timestamp,
                    line: n,
                },
                exemplar: raw.exemplar,
            });
        }
    }
    if let Some(done) = current.take() {
        close_family(done, &mut claimed, &mut samples)?;
    }
    Ok(samples)
}

/// Reads `# HELP name text`, `# TYPE name type` or `# UNIT name unit`.
fn om_metadata(line: &str) -> Result<(&'static str, &str, &str), String> {
    let (keyword, rest) = if let Some(rest) = line.strip_prefix("# HELP ") {
        ("HELP", rest)
    } else if let Some(rest) = line.strip_prefix("# TYPE ") {
        ("TYPE", rest)
    } else if let Some(rest) = line.strip_prefix("# UNIT ") {
        ("UNIT", rest)
    } else {
        return Err(format!(
            "`{}` is not allowed; OpenMetrics comments are only `# HELP`, `# TYPE`, `# UNIT` and `# EOF`",
            shorten(line)
        ));
    };
    let end = metric_name_end(rest.as_bytes(), 0);
    if end == 0 {
        return Err(format!("`# {keyword}` needs a metric name"));
    }
    let name = &rest[..end];
    let Some(value) = rest[end..].strip_prefix(' ') else {
        return Err(format!(
            "`# {keyword} {name}` must be followed by one space and the {}",
            match keyword {
                "HELP" => "help text",
                "TYPE" => "type",
                _ => "unit",
            }
        ));
    };
    if keyword == "UNIT"
        && !value
            .bytes()
            .all(|b| is_name_start(b) || b.is_ascii_digit())
    {
        return Err(format!(
            "`{}` is not a unit; units are letters, digits, `_` and `:`",
            shorten(value)
        ));
    }
    Ok((keyword, name, value))
}

/// Checks a finished family and moves its samples to `out`.
fn close_family(
    family: Family,
    claimed: &mut HashSet<String>,
    out: &mut Vec<Sample>,
) -> ParseResult<()> {
    let err = |line: usize, message: String| Err((line, message));
    let mut names: Vec<String> = vec![family.name.clone()];
    names.extend(
        family
            .kind
            .suffixes()
            .iter()
            .map(|s| format!("{}{s}", family.name)),
    );
    for name in &names {
        if claimed.contains(name) {
            return err(
                family.line,
                format!(
                    "the metric family `{}` clashes with an earlier family over the name `{name}`; each family's samples must be together and its names unique",
                    family.name
                ),
            );
        }
    }
    claimed.extend(names);
    if let Some(unit) = family.unit.as_deref().filter(|u| !u.is_empty()) {
        if matches!(family.kind, OmType::Info | OmType::StateSet) {
            return err(
                family.line,
                format!(
                    "`{}` is an info or stateset and cannot have a unit",
                    family.name
                ),
            );
        }
        if !family.name.ends_with(&format!("_{unit}")) {
            return err(
                family.line,
                format!(
                    "`{}` has unit `{unit}`, so its name must end in `_{unit}`",
                    family.name
                ),
            );
        }
    }
    let kind = family.kind;
    let mut seen_groups: HashSet<LabelSet> = HashSet::new();
    let mut group: Option<LabelSet> = None;
    let mut series_ts: HashMap<(String, LabelSet), Option<f64>> = HashMap::new();
    for s in &family.samples {
        let x = &s.sample;
        let line = x.line;
        let suffix = family.suffix_of(&x.name).unwrap_or_default();
        let allowed = (kind == OmType::Counter && suffix == "_total")
            || (matches!(kind, OmType::Histogram | OmType::GaugeHistogram) && suffix == "_bucket");
        if s.exemplar && !allowed {
            return err(
                line,
                "exemplars are only allowed on counter `_total` and histogram `_bucket` samples"
                    .into(),
            );
        }
        let negative_or_nan = x.value.is_nan() || x.value < 0.0;
        match (kind, suffix) {
            (OmType::Counter, "_total") if negative_or_nan => {
                return err(
                    line,
                    format!("the counter `{}` must be a number ≥ 0", x.name),
                );
            }
            (OmType::Info, _) if x.value != 1.0 => {
                return err(
                    line,
                    format!("the info metric `{}` must have the value 1", x.name),
                );
            }
            (OmType::StateSet, _) => {
                if x.label(&family.name).is_none() {
                    return err(
                        line,
                        format!(
                            "a stateset sample needs a label named `{}` for its state",
                            family.name
                        ),
                    );
                }
                if x.value != 0.0 && x.value != 1.0 {
                    return err(line, "a stateset value must be 0 or 1".into());
                }
            }
            (OmType::Summary, "") => {
                let q = x.label("quantile").and_then(parse_value);
                if !q.is_some_and(|q| (0.0..=1.0).contains(&q)) {
                    return err(
                        line,
                        "a summary quantile sample needs a `quantile` label between 0 and 1".into(),
                    );
                }
                if x.value < 0.0 {
                    return err(line, "a summary quantile value must not be negative".into());
                }
            }
            (OmType::Summary | OmType::Histogram, "_sum" | "_count")
            | (OmType::GaugeHistogram, "_gcount")
                if negative_or_nan =>
            {
                return err(line, format!("`{}` must be a number ≥ 0", x.name));
            }
            (OmType::GaugeHistogram, "_gsum") if x.value.is_nan() => {
                return err(line, format!("`{}` must be a number", x.name));
            }
            (OmType::Histogram | OmType::GaugeHistogram, "_bucket") => {
                let le = x.label("le");
                let bound = le.and_then(parse_value);
                let ok = match bound {
                    Some(b) if b.is_nan() => false,
                    Some(b) if b.is_infinite() => le == Some("+Inf"),
                    Some(_) => true,
                    None => false,
                };
                if !ok {
                    return err(line, "a histogram bucket needs an `le` label with its upper bound (`+Inf` for the last)".into());
                }
                if negative_or_nan {
                    return err(line, "a histogram bucket count must be a number ≥ 0".into());
                }
            }
            _ => {}
        }
        // Samples of one label set stay together.
        let key: Vec<(String, String)> = {
            let mut k: Vec<(String, String)> = x
                .labels
                .iter()
                .filter(|(name, _)| match kind {
                    OmType::Histogram | OmType::GaugeHistogram => name != "le",
                    OmType::Summary => name != "quantile",
                    OmType::StateSet => *name != family.name,
                    _ => true,
                })
                .cloned()
                .collect();
            k.sort();
            k
        };
        if group.as_ref() != Some(&key) {
            if !seen_groups.insert(key.clone()) {
                return err(
                    line,
                    format!(
                        "samples of `{}` with the same labels must be together",
                        family.name
                    ),
                );
            }
            group = Some(key);
        }
        // Each series: timestamps on all samples or none, never going back.
        let mut labels = x.labels.clone();
        labels.sort();
        let previous = series_ts.insert((x.name.clone(), labels), x.timestamp_ms);
        match (previous, x.timestamp_ms) {
            (None, _) | (Some(None), None) => {}
            (Some(Some(a)), Some(b)) if b >= a => {}
            (Some(Some(_)), Some(_)) => {
                return err(line, format!("the timestamps of `{}` go backwards", x.name));
            }
            (Some(_), _) => {
                return err(
                    line,
                    format!("`{}` mixes samples with and without timestamps", x.name),
                );
            }
        }
    }
    if matches!(kind, OmType::Histogram | OmType::GaugeHistogram) {
        check_histograms(&family)?;
    }
    out.extend(family.samples.into_iter().map(|s| s.sample));
    Ok(())
}

/// Histogram rules per label set and timestamp: buckets in increasing `le` with counts that do
/// not decrease, a `+Inf` bucket, `_count` equal to it, `_sum` and `_count` together, and sums
/// that fit the buckets' signs.
fn check_histograms(family: &Family) -> ParseResult<()> {
    #[derive(Default)]
    struct Run {
        line: usize,
        last_le: Option<f64>,
        last_count: f64,
        negative_bucket: bool,
        count: Option<f64>,
        sum: Option<f64>,
    }
    let gauge = family.kind == OmType::GaugeHistogram;
    let finish = |run: &Run| -> ParseResult<()> {
        let name = &family.name;
        if run.last_le != Some(f64::INFINITY) {
            return Err((
                run.line,
                format!("the histogram `{name}` has no `+Inf` bucket"),
            ));
        }
        if run.count.is_some_and(|c| c != run.last_count) {
            return Err((
                run.line,
                format!("the count of `{name}` differs from its `+Inf` bucket"),
            ));
        }
        if run.count.is_some() != run.sum.is_some() {
            return Err((
                run.line,
                format!("`{name}` must give its sum and count together, or neither"),
            ));
        }
        match run.sum {
            Some(_) if !gauge && run.negative_bucket => Err((
                run.line,
                format!("`{name}` has negative buckets, so it cannot have `_sum`"),
            )),
            Some(s) if s < 0.0 && !run.negative_bucket => Err((
                run.line,
                format!("`{name}` has a negative sum but no negative buckets"),
            )),
            _ => Ok(()),
        }
    };
    let mut run: Option<(LabelSet, Option<f64>, Run)> = None;
    for s in &family.samples {
        let x = &s.sample;
        let suffix = family.suffix_of(&x.name).unwrap_or_default();
        if !matches!(suffix, "_bucket" | "_count" | "_sum" | "_gcount" | "_gsum") {
            continue;
        }
        let mut key: Vec<(String, String)> = x
            .labels
            .iter()
            .filter(|(k, _)| k != "le")
            .cloned()
            .collect();
        key.sort();
        let same = run
            .as_ref()
            .is_some_and(|(k, t, _)| *k == key && *t == x.timestamp_ms);
        if !same {
            if let Some((_, _, done)) = run.take() {
                finish(&done)?;
            }
            run = Some((
                key,
                x.timestamp_ms,
                Run {
                    line: x.line,
                    ..Run::default()
                },
            ));
        }
        let Some((_, _, r)) = run.as_mut() else {
            continue;
        };
        match suffix {
            "_bucket" => {
                let le = x.label("le").and_then(parse_value).unwrap_or(f64::NAN);
                if r.last_le.is_some_and(|prev| le <= prev) {
                    return Err((
                        x.line,
                        format!(
                            "the buckets of `{}` must be in increasing order of `le`",
                            family.name
                        ),
                    ));
                }
                if x.value < r.last_count {
                    return Err((
                        x.line,
                        format!("the bucket counts of `{}` must not decrease", family.name),
                    ));
                }
                r.negative_bucket |= le < 0.0;
                r.last_le = Some(le);
                r.last_count = x.value;
            }
            "_count" | "_gcount" => r.count = Some(x.value),
            _ => r.sum = Some(x.value),
        }
    }
    if let Some((_, _, done)) = run {
        finish(&done)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::FeedFormat;
    use super::super::tests::{ctx, table, url};
    use super::*;

    fn mapping(text: &str) -> FeedFormat {
        FeedFormat::from_config("prometheus", table(text)).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn run(format: &FeedFormat, body: &str) -> Result<Page, ExtractError> {
        let u = url("http://spbe.example.go.id/metrics");
        format.extract(body.as_bytes(), &u, &u, &ctx())
    }

    const EXPORTER: &str = r#"# HELP up_ratio Share of checks that passed.
# TYPE up_ratio gauge
up_ratio{job="spbe",instance="a:9100"} 0.99
up_ratio{job="spbe",instance="b:9100"}   0.97
up_ratio{job="other",instance="c:9100"} 0.5

# A free comment, then odd spacing and a Windows line end.
	http_requests_total{code="200",path="/a,b}c"} 1027 1738285200000
http_requests_total{code="500", path="/x",} 3 1738285260000
queue_length NaN
temperature_celsius{zone="1"} +Inf
temperature_celsius{zone="2"} 21.5
"#;

    #[test]
    fn selects_by_name_and_labels_and_aggregates() {
        let f = mapping(
            r#"series = [
                 { indicator = "gov.spbe.uptime", metric = "up_ratio", labels = { job = "spbe" }, aggregate = "avg", scale = 100.0 },
                 { indicator = "gov.spbe.requests", metric = "http_requests_total" },
                 { indicator = "gov.spbe.ok", metric = "http_requests_total", labels = { code = ["200", "201"], path = "/a,b}c" } },
                 { indicator = "gov.spbe.min", metric = "up_ratio", aggregate = "min" },
                 { indicator = "gov.spbe.max", metric = "up_ratio", aggregate = "max", labels = { job = "spbe" } },
                 { indicator = "gov.spbe.queue", metric = "queue_length" },
                 { indicator = "gov.temp", metric = "temperature_celsius" },
                 { indicator = "gov.nolabel", metric = "up_ratio", labels = { region = "" } },
               ]"#,
        );
        let page = run(&f, &EXPORTER.replace("0.5\n", "0.5\r\n")).unwrap();
        let got: Vec<(&str, Option<i64>, f64)> = page
            .points
            .iter()
            .map(|p| (p.indicator.as_str(), p.time, p.value))
            .collect();
        let avg = (0.99 + 0.97) / 2.0 * 100.0;
        assert_eq!(
            got,
            vec![
                ("gov.spbe.uptime", None, avg),
                ("gov.spbe.requests", Some(1_738_285_260_000), 1030.0),
                ("gov.spbe.ok", Some(1_738_285_200_000), 1027.0),
                ("gov.spbe.min", None, 0.5),
                ("gov.spbe.max", None, 0.99),
                ("gov.temp", None, 21.5),
                ("gov.nolabel", None, 0.99 + 0.97 + 0.5),
            ]
        );
        // queue_length NaN and temperature +Inf, each named by metric and labels.
        assert_eq!(page.skipped.count, 2);
        let reasons: Vec<&str> = page
            .skipped
            .examples
            .iter()
            .map(|e| e.reason.as_str())
            .collect();
        assert_eq!(reasons, vec!["not finite (NaN)", "not finite (inf)"]);
        assert!(
            page.skipped.examples[0]
                .location
                .starts_with("queue_length")
                && page.skipped.examples[0].location.contains("(line "),
            "{:?}",
            page.skipped.examples
        );
    }

    #[test]
    fn openmetrics_timestamps_are_seconds_and_repeats_keep_the_newest() {
        let f = mapping(r#"series = [{ indicator = "a.b", metric = "a_total" }]"#);
        let body = "# TYPE a counter\na_total{x=\"1\"} 5 1738285200\na_total{x=\"1\"} 7 1738285260.5\na_total{x=\"2\"} 1 1738285230\n# EOF\n";
        let page = run(&f, body).unwrap();
        assert_eq!(
            page.points,
            vec![FeedPoint {
                indicator: "a.b".into(),
                time: Some(1_738_285_260_500),
                value: 8.0
            }]
        );
    }

    #[test]
    fn faults_give_clear_errors() {
        let f = mapping(
            r#"series = [{ indicator = "a.b", metric = "up", labels = { job = "spbe" } }]"#,
        );
        let err = run(&f, "up{job=\"x\"} 1\nup{job=\"y\"} 1\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "no sample matches `up{job=\"spbe\"}`; `up` has 2 series, with labels such as {job=\"x\"} {job=\"y\"}; check `labels`"
        );
        let err = run(&f, "down 1\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("no sample named `up`; it has `down`"),
            "{err}"
        );
        let err = run(&f, "up{job=spbe} 1\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the Prometheus text is invalid at line 1: the value of label `job` must be in double quotes, e.g. job=\"x\""
        );
        let err = run(&f, "# TYPE up gauge\nup{job=\"spbe\"} 0x1p3\n").unwrap_err();
        assert!(
            matches!(err, ExtractError::Prometheus { line: 2, .. }),
            "{err}"
        );
        let err = run(&f, "up{job=\"spbe\"} 1 1.5\n").unwrap_err();
        assert!(err.to_string().contains("whole milliseconds"), "{err}");
        let err = run(&f, "up{job=\"spbe\"} 1 99999999999999999\n").unwrap_err();
        assert!(
            matches!(err, ExtractError::BadTime { .. }),
            "a timestamp in the year 5000000: {err}"
        );
        let err = run(&f, "up{job=\"spbe\"} 1 99999999999999999999\n").unwrap_err();
        assert!(
            matches!(err, ExtractError::Prometheus { .. }),
            "beyond i64: {err}"
        );
        let err = run(&f, "# TYPE up gauge\nup{job=\"spbe\"} 1\n# EOF\nup 2\n").unwrap_err();
        assert!(err.to_string().contains("after `# EOF`"), "{err}");
        assert!(matches!(
            run(&f, "\u{ff}\u{fe}up 1").unwrap_err(),
            ExtractError::Prometheus { .. }
        ));
        assert!(matches!(
            run(&f, "up 1 \u{0}").unwrap_err(),
            ExtractError::Prometheus { .. }
        ));
        assert!(matches!(
            f.extract(
                b"up{job=\"spbe\"} \xff",
                &url("http://x.example"),
                &url("http://x.example"),
                &ctx()
            ),
            Err(ExtractError::NotUtf8 { .. })
        ));
        assert_eq!(run(&f, " \n").unwrap_err(), ExtractError::EmptyBody);
        // Huge finite values are kept; a sum beyond f64 is an error.
        let f = mapping(r#"series = [{ indicator = "a.b", metric = "big" }]"#);
        let page = run(&f, "big 1.7e308\n").unwrap();
        assert_eq!(page.points[0].value, 1.7e308);
        assert!(matches!(
            run(&f, "big{a=\"1\"} 1.7e308\nbig{a=\"2\"} 1.7e308\n").unwrap_err(),
            ExtractError::Overflow { .. }
        ));
    }

    #[test]
    fn config_problems_are_all_reported() {
        let err = FeedFormat::from_config(
            "prometheus",
            table(
                r#"series = [
                     { indicator = "a.b", metric = "up-ratio", aggregate = "median", labels = "job" },
                     { indicator = "a.b", metric = "up", scale = "x" },
                     { metric = "up", lables = { a = "b" } },
                   ]
                   timeout = 3"#,
            ),
        )
        .unwrap_err();
        let paths: Vec<&str> = err.iter().map(|(p, _)| p.as_str()).collect();
        for want in [
            "prometheus.series[0].metric",
            "prometheus.series[0].aggregate",
            "prometheus.series[0].labels",
            "prometheus.series[1].scale",
            "prometheus.series[1].indicator",
            "prometheus.series[2].indicator",
            "prometheus.series[2].lables",
            "prometheus.timeout",
        ] {
            assert!(paths.contains(&want), "{want} missing from {err:#?}");
        }
        let f = mapping(r#"series = [{ indicator = "a.b", metric = "up" }]"#);
        assert_eq!(f.indicators(), vec!["a.b"]);
        assert!(f.expected_content_types().contains(&"text/plain"));
    }

    #[test]
    fn openmetrics_rules_are_enforced() {
        let bad = [
            ("a 1\n\n# EOF\n", "blank"),
            ("# TYPE a counter\na_total -1\n# EOF\n", "≥ 0"),
            (
                "# TYPE a histogram\na_bucket{le=\"1\"} 2\na_bucket{le=\"+Inf\"} 1\n# EOF\n",
                "must not decrease",
            ),
            ("# TYPE a gauge\na 1\n# HELP a x\n# EOF\n", "after samples"),
            ("a{a=\"1\",} 1\n# EOF\n", "`,` before `}`"),
            ("a 1\n# EOF", "ok"),
        ];
        for (body, want) in bad {
            match parse_exposition(body.as_bytes()) {
                Ok(_) => assert_eq!(want, "ok", "{body:?} parsed"),
                Err(e) => assert!(e.to_string().contains(want), "{body:?}: {e}"),
            }
        }
        // The same trailing comma is fine in Prometheus text.
        assert!(parse_exposition(b"a{a=\"1\",} 1\n").is_ok());
    }

    #[test]
    fn label_values_unescape() {
        let samples = parse_exposition(b"a{x=\"q\\\"\\\\n\\n\\z # }\"} 1\n").unwrap();
        assert_eq!(
            samples[0].labels,
            vec![("x".into(), "q\"\\n\n\\z # }".into())]
        );
    }

    /// Every case of the OpenMetrics conformance suite: no panic, every `shouldParse` case
    /// parses, and the invalid ones are rejected (all 167 at the time of writing).
    #[test]
    fn openmetrics_conformance_cases() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/data/openmetrics-parsers"
        );
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| {
            panic!("the OpenMetrics conformance cases are missing at {dir} ({e}); they come with shared/data")
        });
        let (mut good, mut bad, mut rejected) = (0, 0, 0);
        let mut accepted_bad = Vec::new();
        for entry in entries {
            let path = entry.expect("directory entry").path();
            let spec = std::fs::read_to_string(path.join("test.json")).expect("test.json");
            let spec: serde_json::Value = serde_json::from_str(&spec).expect("test.json is JSON");
            let file = spec["file"].as_str().unwrap_or("metrics");
            let body = std::fs::read(path.join(file)).expect("metrics file");
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            let result = parse_exposition(&body);
            if spec["shouldParse"].as_bool() == Some(true) {
                good += 1;
                assert!(result.is_ok(), "{name} must parse: {result:?}");
            } else {
                bad += 1;
                match result {
                    Err(_) => rejected += 1,
                    Ok(_) => accepted_bad.push(name),
                }
            }
        }
        println!(
            "openmetrics conformance: {good} valid cases parsed; {rejected} of {bad} invalid cases rejected; accepted: {accepted_bad:?}"
        );
        assert_eq!((good, bad), (44, 167));
        assert_eq!(rejected, 167, "invalid cases accepted: {accepted_bad:?}");
    }
}
