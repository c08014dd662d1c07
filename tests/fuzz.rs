//! Fuzzing every parser of outside input with proptest: posted observations (JSON, CSV, XLSX)
//! and their validation, each feed format (mapping and body), the configuration files, and cron
//! schedules. The property is always the same: whatever comes in, nothing panics, and what
//! passes a parser goes on through the next stage (validation, the progress engine) without
//! panicking either.
//!
//! Generators are structure-aware: besides random bytes they mutate valid seeds (byte and line
//! edits with a per-format dictionary of tricky tokens), replace values inside valid TOML with
//! odd ones, and build spreadsheets cell by cell.
//!
//! Each property runs `PANTAU_FUZZ_CASES` cases (default 512, a few seconds, so CI stays fast); run it longer
//! with e.g. `PANTAU_FUZZ_CASES=20000 cargo test --release --test fuzz`.

use pantau::config::{Config, ConfigOrigin, EMBEDDED_MASTERPLAN, EMBEDDED_SETTINGS};
use pantau::domain::{DepartmentId, Masterplan, Millis};
use pantau::feeds::{ExtractContext, FeedFormat, Schedule};
use pantau::ingest::parse::{csv_rows, json_rows, xlsx_rows};
use pantau::ingest::{RawRow, RawTime, RawValue, validate};
use pantau::progress::ProgressState;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

fn cases() -> u32 {
    std::env::var("PANTAU_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(512)
}

fn fuzz_config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        max_shrink_iters: 4096,
        // The minimal failing input is printed with the failure; nothing is written to tests/.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// How far the inputs of one property got: read at all, and accepted by the last stage.
#[derive(Default)]
struct Tally {
    inputs: AtomicUsize,
    parsed: AtomicUsize,
    accepted: AtomicUsize,
}

impl Tally {
    fn input(&self) {
        self.inputs.fetch_add(1, Ordering::Relaxed);
    }
    fn parsed(&self) {
        self.parsed.fetch_add(1, Ordering::Relaxed);
    }
    fn accepted(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    /// Fails when fewer than `parsed`% of the inputs were read or fewer than `accepted`% got
    /// through every stage: the generators would then only poke at the first error path.
    fn require(&self, name: &str, parsed: usize, accepted: usize) {
        let n = self.inputs.load(Ordering::Relaxed);
        let p = self.parsed.load(Ordering::Relaxed);
        let a = self.accepted.load(Ordering::Relaxed);
        println!("{name}: {n} inputs, {p} read, {a} accepted through every stage");
        if n >= 200 {
            assert!(
                p * 100 >= n * parsed,
                "{name}: only {p} of {n} inputs were read at all"
            );
            assert!(
                a * 100 >= n * accepted,
                "{name}: only {a} of {n} inputs got through every stage"
            );
        }
    }
}

/// Runs `test` on `fuzz_config().cases` values of `strategy`; a failure (an assertion or a panic
/// inside pantau) is shrunk to a minimal input and reported with it.
fn fuzz<S>(
    name: &str,
    strategy: S,
    test: impl Fn(S::Value, &Tally) -> Result<(), TestCaseError>,
) -> Tally
where
    S: Strategy,
    S::Value: std::fmt::Debug,
{
    let tally = Tally::default();
    let mut runner = proptest::test_runner::TestRunner::new(fuzz_config());
    if let Err(e) = runner.run(&strategy, |v| test(v, &tally)) {
        panic!("{name}: {e}");
    }
    tally
}

/// 2026-11-28T03:00:00Z, a fixed "now" so that failures repeat.
const NOW: Millis = 1_795_834_800_000;

fn example() -> &'static Config {
    static C: OnceLock<Config> = OnceLock::new();
    C.get_or_init(|| {
        Config::from_texts(
            EMBEDDED_SETTINGS,
            "pantau.toml",
            |_| Ok((EMBEDDED_MASTERPLAN.to_string(), "masterplan.toml".into())),
            |_| {
                Ok(Some((
                    pantau::config::EMBEDDED_SCREENS.to_string(),
                    "screens.toml".into(),
                )))
            },
            &[],
            ConfigOrigin::Embedded,
        )
        .expect("the example configuration is valid")
    })
}

fn plan() -> &'static Masterplan {
    &example().masterplan
}

fn zones() -> impl Strategy<Value = chrono_tz::Tz> {
    prop_oneof![
        Just(chrono_tz::Asia::Jakarta),
        Just(chrono_tz::Asia::Jayapura),
        Just(chrono_tz::Pacific::Kiritimati),
        Just(chrono_tz::America::St_Johns),
        Just(chrono_tz::Australia::Lord_Howe),
        Just(chrono_tz::Europe::London),
        Just(chrono_tz::UTC),
    ]
}

// ---------------------------------------------------------------------------------------------
// Byte and line mutations of valid seeds

#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, usize),
    Replace(usize, usize, usize),
    Byte(usize, u8),
    Duplicate(usize, usize),
    Truncate(usize),
    SwapLines(usize, usize),
    DuplicateLine(usize),
    DeleteLine(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let p = any::<usize>();
    prop_oneof![
        1 => (p, 1usize..16).prop_map(|(a, n)| Edit::Delete(a, n)),
        3 => (p, any::<usize>()).prop_map(|(a, d)| Edit::Insert(a, d)),
        3 => (p, 1usize..12, any::<usize>()).prop_map(|(a, n, d)| Edit::Replace(a, n, d)),
        1 => (p, any::<u8>()).prop_map(|(a, b)| Edit::Byte(a, b)),
        1 => (p, 1usize..64).prop_map(|(a, n)| Edit::Duplicate(a, n)),
        1 => p.prop_map(Edit::Truncate),
        1 => (p, any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        1 => p.prop_map(Edit::DuplicateLine),
        1 => p.prop_map(Edit::DeleteLine),
    ]
}

/// Up to `max` edits; often none or one or two, so that many mutants stay nearly valid and
/// reach the later stages.
fn edits(max: usize) -> impl Strategy<Value = Vec<Edit>> {
    prop_oneof![
        1 => Just(Vec::new()),
        2 => prop::collection::vec(edit(), 1..3),
        2 => prop::collection::vec(edit(), 0..max),
    ]
}

/// Times pantau accepts for the example plan at `NOW` (between the baselines and now).
const GOOD_TIMES: &[&str] = &[
    "2025-06-01",
    "2026-11-28",
    "2026-11-28T10:00:00+07:00",
    "2026-11-28T03:00:00Z",
    "2024-02-29",
    "2023-07-15T08:30:00+07:00",
    "2025-01-01T00:00:00.5Z",
];

fn ids() -> Vec<String> {
    plan().indicators.iter().map(|i| i.id.to_string()).collect()
}

/// A value most indicators accept (the example has percentages with bounds 0..100).
fn plausible() -> impl Strategy<Value = f64> {
    prop_oneof![3 => 0.0f64..100.0, 1 => Just(0.0), 1 => Just(100.0), 1 => 0.0f64..1e6]
}

/// Applies `edits` to `seed`; inserted and replacing text comes from `dict`.
fn mutate(seed: &[u8], edits: &[Edit], dict: &[&str]) -> Vec<u8> {
    let mut b = seed.to_vec();
    let at = |b: &Vec<u8>, p: usize| p % (b.len() + 1);
    for e in edits {
        match *e {
            Edit::Delete(p, n) => {
                let s = at(&b, p);
                let e = (s + n).min(b.len());
                b.drain(s..e);
            }
            Edit::Insert(p, d) => {
                let s = at(&b, p);
                let t = dict[d % dict.len()].as_bytes();
                b.splice(s..s, t.iter().copied());
            }
            Edit::Replace(p, n, d) => {
                let s = at(&b, p);
                let e = (s + n).min(b.len());
                let t = dict[d % dict.len()].as_bytes();
                b.splice(s..e, t.iter().copied());
            }
            Edit::Byte(p, v) if !b.is_empty() => {
                let s = p % b.len();
                b[s] = v;
            }
            Edit::Duplicate(p, n) => {
                let s = at(&b, p);
                let e = (s + n).min(b.len());
                let part = b[s..e].to_vec();
                b.splice(e..e, part);
            }
            Edit::Truncate(p) => {
                let s = at(&b, p);
                b.truncate(s);
            }
            Edit::SwapLines(x, _) | Edit::DuplicateLine(x) | Edit::DeleteLine(x)
                if b.contains(&b'\n') =>
            {
                let mut lines: Vec<Vec<u8>> =
                    b.split(|c| *c == b'\n').map(<[u8]>::to_vec).collect();
                let n = lines.len();
                match *e {
                    Edit::SwapLines(_, y) => lines.swap(x % n, y % n),
                    Edit::DuplicateLine(_) => {
                        let l = lines[x % n].clone();
                        lines.insert(x % n, l);
                    }
                    _ => {
                        lines.remove(x % n);
                    }
                }
                b = lines.join(&b'\n');
            }
            _ => {}
        }
    }
    b
}

const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1e308",
    "1e309",
    "-1e309",
    "4.9e-324",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "1.234,5",
    "1,234.5",
    "1.234.567,89",
    "12,5",
    "0x1F",
    "1_000",
    "+5",
    "--5",
    ".5",
    "5.",
    "1e",
    "٣",
    "½",
];

const TIMES: &[&str] = &[
    "2025-06-01",
    "2026-11-28",
    "2026-11-28T10:00:00+07:00",
    "2026-11-28T03:00:00Z",
    "2026-11-29T10:00:00+07:00",
    "2099-12-31",
    "1900-01-01",
    "0000-01-01",
    "9999-12-31T23:59:59Z",
    "2024-02-29",
    "2023-02-29",
    "2024-13-01",
    "2024-02-30T25:61:61+99:99",
    "31/12/2024",
    "12/31/2024",
    "2024-06-01 10:00",
    "2024-06-01T10:00:00.123456789+07:00",
    "1718000000",
    "1718000000000",
    "-62135596800",
    "",
    " ",
];

const JSON_DICT: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ",",
    ":",
    "null",
    "true",
    "false",
    "1e999",
    "-0",
    "\"NaN\"",
    "\"observations\"",
    "\"indicator\"",
    "\"value\"",
    "\"time\"",
    "\"note\"",
    "\"extra\"",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"\\u00e9\"",
    "99999999999999999999999",
    "\"2026-13-45\"",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    "{\"a\":{\"a\":{\"a\":{}}}}",
    "\"living.health.stunting\"",
    "\"gov.wifi.points\"",
    "\"\"",
    "\\",
    "\u{feff}",
    "\n",
    "\t",
    "\u{7f}",
    "é",
    "\"1.234,5\"",
    "\"31/12/2024\"",
    "\"2026-11-28T10:00:00+07:00\"",
];

const CSV_DICT: &[&str] = &[
    ",",
    ";",
    "\t",
    "\"",
    "\"\"",
    "\n",
    "\r\n",
    "\r",
    "\u{feff}",
    "indicator",
    "indikator",
    "time",
    "waktu",
    "tanggal",
    "value",
    "nilai",
    "note",
    "catatan",
    "living.health.stunting",
    "gov.wifi.points",
    "economy.tax.pad",
    "TIDAK ADA DATA",
    "-",
    " ",
    "\u{0}",
    "\u{a0}",
    "2026-11-28",
    "31/12/2024",
    "1.234,5",
    "1e309",
    "NaN",
    "é",
    "\"a\nb\"",
    ",,,,,,,",
];

const TOML_DICT: &[&str] = &[
    "=",
    "[",
    "]",
    "[[indicator]]",
    "[[program]]",
    "[[feed]]",
    "[feed.json]",
    "[server]",
    "[progress]",
    "\"",
    "'''",
    "\"\"\"",
    "{",
    "}",
    "#",
    "\n",
    ",",
    ".",
    "1e999",
    "nan",
    "inf",
    "-inf",
    "0",
    "-1",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999999999999",
    "2024-02-29",
    "2024-02-30",
    "1979-05-27T07:32:00Z",
    "true",
    "\"*/0 * * * *\"",
    "\"99999999999999999999m\"",
    "\"999999999999999999m\"",
    "\"0s\"",
    "\"1mo\"",
    "\"999999999999y\"",
    "\"18446744073709551615s\"",
    "\"\"",
    "\"é\"",
    "\"a.b\"",
    "id = \"x\"",
    "weight = -1",
    "weight = nan",
    "tolerance = -0.0",
    "targets = []",
    "baseline = { date = 2024-01-01, value = 1e308 }",
    "value = -1e308",
    "direction = \"maintain\"",
    "kind = \"cumulative\"",
    "quick_win = 1",
    "update_every = \"0d\"",
    "update_every = \"9999999999999y\"",
    "schedule = \"@reboot\"",
    "url = \"ftp://x\"",
    "url = \"http://[::1\"",
    "timeout = \"99999999999999999999m\"",
    "timeout = \"999999999999999999m\"",
    "max_bytes = 0",
    "retries = 99999",
    "\u{0}",
    "\u{feff}",
    "\r\n",
];

// ---------------------------------------------------------------------------------------------
// Posted observations: JSON, CSV, XLSX, then validation and the progress engine

fn json_seeds() -> Vec<String> {
    vec![
        r#"{"observations":[{"indicator":"living.health.stunting","time":"2025-06-01","value":12.5,"note":"ok"},{"indicator":"gov.wifi.points","time":"2026-11-28T10:00:00+07:00","value":"1.234"}]}"#.into(),
        r#"{"observations":[{"indicator":"economy.tax.pad","time":"2024-01-31","value":1e12}]}"#.into(),
        r#"{"observations":[]}"#.into(),
        r#"{"observations":[{"indicator":"living.health.stunting","time":"2025-06-01","value":12.5},{"indicator":"living.health.stunting","time":"2025-06-01","value":12.6}]}"#.into(),
    ]
}

fn csv_seeds() -> Vec<String> {
    vec![
        "indicator,time,value,note\nliving.health.stunting,2025-06-01,12.5,ok\ngov.wifi.points,2026-11-28T10:00:00+07:00,1234,\"koma, dan \"\"kutip\"\"\"\n".into(),
        "\u{feff}indikator;waktu;nilai;catatan\r\nliving.health.stunting;01/06/2025;12,5;baik\r\neconomy.tax.pad;2024-01-31;1.234.567,89;\r\n".into(),
        "tanggal,nilai,indikator\n2025-06-01,7,living.health.stunting\n\n,,\n".into(),
        "indicator,time,value\n\"living.health.stunting\",\"2025-06-01\",\"12.5\"\n\"multi\nline\",2025,1\n".into(),
    ]
}

/// Validates rows against the example plan as the admin and as a department, and runs what
/// passes through the progress engine.
fn validate_and_compute(rows: Vec<RawRow>, tz: chrono_tz::Tz) -> bool {
    let dinkes = DepartmentId::parse("dinkes").unwrap();
    let _ = validate(plan(), tz, NOW, Some(&dinkes), rows.clone());
    let Ok(observations) = validate(plan(), tz, NOW, None, rows) else {
        return false;
    };
    {
        let mut series: HashMap<String, Vec<(Millis, f64)>> = HashMap::new();
        for o in observations {
            series
                .entry(o.indicator.as_str().to_string())
                .or_default()
                .push((o.time, o.value));
        }
        for s in series.values_mut() {
            s.sort_by_key(|(t, _)| *t);
            s.dedup_by_key(|(t, _)| *t);
        }
        compute(Arc::new(plan().clone()), tz, series);
    }
    true
}

/// Builds the progress state and renders it, now and a year later.
fn compute(plan: Arc<Masterplan>, tz: chrono_tz::Tz, series: HashMap<String, Vec<(Millis, f64)>>) {
    let mut state = ProgressState::new(
        plan,
        tz,
        example().settings.progress.thresholds,
        series,
        HashMap::new(),
        NOW,
    );
    let _ = state.snapshot().json();
    let _ = state.tick(NOW + 365 * 86_400_000);
    let _ = state.snapshot().json();
}

fn json_observation() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::{Value, json};
    let indicator = prop_oneof![
        24 => prop::sample::select(ids()).prop_map(Value::from),
        1 => ".{0,20}".prop_map(Value::from),
        1 => Just(Value::Null),
        1 => any::<i64>().prop_map(Value::from),
    ];
    let time = prop_oneof![
        24 => prop::sample::select(GOOD_TIMES).prop_map(Value::from),
        4 => prop::sample::select(TIMES).prop_map(Value::from),
        1 => "[0-9:T+\\-Z/ ]{0,30}".prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => Just(Value::Null),
    ];
    let value = prop_oneof![
        24 => plausible().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        4 => any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        2 => (-1000i64..1000).prop_map(Value::from),
        2 => prop::sample::select(NUMBERS).prop_map(Value::from),
        1 => any::<bool>().prop_map(Value::from),
        1 => Just(json!([1])),
        1 => Just(json!({"v": 1})),
    ];
    let note = prop_oneof![
        3 => Just(None),
        2 => ".{0,40}".prop_map(|s| Some(Value::from(s))),
        1 => Just(Some(Value::from(1))),
    ];
    let extra = prop_oneof![40 => Just(None), 1 => "[a-z]{1,8}".prop_map(Some)];
    (indicator, time, value, note, extra).prop_map(|(i, t, v, n, x)| {
        let mut o = serde_json::Map::new();
        o.insert("indicator".into(), i);
        o.insert("time".into(), t);
        o.insert("value".into(), v);
        if let Some(n) = n {
            o.insert("note".into(), n);
        }
        if let Some(x) = x {
            o.insert(x, Value::from(1));
        }
        Value::Object(o)
    })
}

/// Validates and computes what one parsed body yields; counts it when `counted`.
fn through<E>(
    tally: &Tally,
    parsed: Result<Vec<RawRow>, E>,
    tz: chrono_tz::Tz,
    counted: bool,
) -> Result<(), TestCaseError> {
    if counted {
        tally.input();
    }
    if let Ok(rows) = parsed {
        prop_assert!(
            !rows.is_empty(),
            "a parser returned no rows without an error"
        );
        let accepted = validate_and_compute(rows, tz);
        if counted {
            tally.parsed();
            if accepted {
                tally.accepted();
            }
        }
    }
    Ok(())
}

#[test]
fn observations_json_never_panic() {
    let strategy = (
        0usize..4,
        edits(6),
        prop::collection::vec(json_observation(), 1..6),
        prop::collection::vec(any::<u8>(), 0..300),
        prop_oneof![3 => Just(10_000usize), 1 => 0usize..4],
        zones(),
    );
    fuzz(
        "json",
        strategy,
        |(seed, edits, rows, raw, max_rows, tz), tally| {
            let mutated = mutate(json_seeds()[seed].as_bytes(), &edits, JSON_DICT);
            let built = serde_json::to_vec(&serde_json::json!({ "observations": rows })).unwrap();
            for (body, counted) in [(&mutated, true), (&built, true), (&raw, false)] {
                let parsed = json_rows(body, max_rows);
                if let Ok(rows) = &parsed {
                    prop_assert!(rows.len() <= max_rows);
                }
                through(tally, parsed, tz, counted)?;
            }
            Ok(())
        },
    )
    .require("posted JSON", 20, 5);
}

#[test]
fn observations_csv_never_panic() {
    let cell = prop_oneof![
        prop::sample::select(CSV_DICT).prop_map(str::to_string),
        prop::sample::select(NUMBERS).prop_map(str::to_string),
        prop::sample::select(TIMES).prop_map(str::to_string),
        prop::sample::select(ids()),
        "[^\n]{0,12}",
    ];
    let shaped = (
        prop::sample::select(ids()),
        prop::sample::select(GOOD_TIMES),
        plausible(),
        "[a-z ]{0,10}",
    )
        .prop_map(|(i, t, v, n)| vec![i, t.to_string(), v.to_string(), n]);
    let row = prop_oneof![6 => shaped, 1 => prop::collection::vec(cell, 0..6)];
    let strategy = (
        0usize..4,
        edits(8),
        prop::collection::vec(row, 1..8),
        prop_oneof![Just(","), Just(";")],
        prop::collection::vec(any::<u8>(), 0..300),
        zones(),
    );
    fuzz(
        "csv",
        strategy,
        |(seed, edits, cells, sep, raw, tz), tally| {
            let mutated = mutate(csv_seeds()[seed].as_bytes(), &edits, CSV_DICT);
            let mut built = format!("indicator{sep}time{sep}value{sep}note\n");
            for row in &cells {
                // With `;` numbers are written the Indonesian way.
                let row: Vec<String> = if sep == ";" {
                    row.iter()
                        .map(|c| {
                            if c.parse::<f64>().is_ok() {
                                c.replace('.', ",")
                            } else {
                                c.clone()
                            }
                        })
                        .collect()
                } else {
                    row.clone()
                };
                built.push_str(&row.join(sep));
                built.push('\n');
            }
            for (body, counted) in [
                (&mutated[..], true),
                (built.as_bytes(), true),
                (&raw[..], false),
            ] {
                through(tally, csv_rows(body, 10_000), tz, counted)?;
            }
            Ok(())
        },
    )
    .require("posted CSV", 30, 3);
}

#[derive(Debug, Clone)]
enum Cell {
    Blank,
    Number(f64),
    Text(String),
    Date(u16, u8, u8, u8),
    Bool(bool),
    Formula(&'static str),
}

/// A row shaped like an upload (indicator, time, value, note), or cells of any kind.
fn sheet_row() -> impl Strategy<Value = Vec<Cell>> {
    let time = prop_oneof![
        2 => (2023u16..2026, 1u8..13, 1u8..29, 0u8..24).prop_map(|(y, m, d, h)| Cell::Date(y, m, d, h)),
        1 => prop::sample::select(GOOD_TIMES).prop_map(|s| Cell::Text(s.to_string())),
    ];
    let shaped = (
        prop::sample::select(ids()),
        time,
        plausible(),
        prop::option::of("[a-z ]{1,10}"),
    )
        .prop_map(|(i, t, v, n)| {
            let mut row = vec![Cell::Text(i), t, Cell::Number(v)];
            if let Some(n) = n {
                row.push(Cell::Text(n));
            }
            row
        });
    prop_oneof![6 => shaped, 1 => prop::collection::vec(cell(), 0..5)]
}

fn cell() -> impl Strategy<Value = Cell> {
    prop_oneof![
        1 => Just(Cell::Blank),
        3 => any::<f64>().prop_map(Cell::Number),
        2 => (-100.0f64..100.0).prop_map(Cell::Number),
        3 => prop::sample::select(ids()).prop_map(Cell::Text),
        2 => prop::sample::select(TIMES).prop_map(|s| Cell::Text(s.to_string())),
        2 => prop::sample::select(NUMBERS).prop_map(|s| Cell::Text(s.to_string())),
        1 => ".{0,16}".prop_map(Cell::Text),
        3 => (1900u16..2200, 1u8..13, 1u8..29, 0u8..24).prop_map(|(y, m, d, h)| Cell::Date(y, m, d, h)),
        1 => any::<bool>().prop_map(Cell::Bool),
        1 => prop::sample::select(&["=1/0", "=NA()", "=A1", "=SUM(A1:A3)", "=\"x\""][..]).prop_map(Cell::Formula),
    ]
}

fn workbook(header: &[String], rows: &[Vec<Cell>], empty_first: bool) -> Option<Vec<u8>> {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut book = Workbook::new();
    if empty_first {
        book.add_worksheet();
    }
    let sheet = book.add_worksheet();
    let date = Format::new().set_num_format("dd/mm/yyyy hh:mm");
    for (c, h) in header.iter().enumerate() {
        sheet.write_string(0, c as u16, h).ok()?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, cell) in row.iter().enumerate() {
            let c = c as u16;
            let _ = match cell {
                Cell::Blank => continue,
                Cell::Number(x) => sheet.write_number(r, c, *x).map(|_| ()),
                Cell::Text(s) => sheet.write_string(r, c, s).map(|_| ()),
                Cell::Date(y, m, d, h) => match ExcelDateTime::from_ymd(*y, *m, *d)
                    .and_then(|t| t.and_hms(u16::from(*h), 0, 0))
                {
                    Ok(t) => sheet
                        .write_datetime_with_format(r, c, &t, &date)
                        .map(|_| ()),
                    Err(_) => continue,
                },
                Cell::Bool(b) => sheet.write_boolean(r, c, *b).map(|_| ()),
                Cell::Formula(f) => sheet.write_formula(r, c, *f).map(|_| ()),
            };
        }
    }
    book.save_to_buffer().ok()
}

#[test]
fn observations_xlsx_never_panic() {
    let names = &[
        "indicator",
        "time",
        "value",
        "note",
        "indikator",
        "waktu",
        "tanggal",
        "nilai",
        "catatan",
    ][..];
    let header = prop_oneof![
        2 => Just(vec!["indicator".to_string(), "time".into(), "value".into(), "note".into()]),
        2 => Just(vec!["indikator".to_string(), "tanggal".into(), "nilai".into()]),
        1 => prop::collection::vec(prop_oneof![
            4 => prop::sample::select(names).prop_map(str::to_string),
            1 => ".{0,8}",
        ], 0..5),
    ];
    let strategy = (
        header,
        prop::collection::vec(sheet_row(), 1..6),
        prop::bool::weighted(0.1),
        prop::collection::vec((any::<usize>(), any::<u8>()), 0..3),
        prop::option::weighted(0.1, any::<usize>()),
        zones(),
    );
    fuzz(
        "xlsx",
        strategy,
        |(header, rows, empty_first, flips, cut, tz), tally| {
            let Some(mut book) = workbook(&header, &rows, empty_first) else {
                return Ok(());
            };
            through(tally, xlsx_rows(&book, 10_000), tz, true)?;
            // The same workbook, damaged: flipped bytes, or cut short.
            for (p, v) in &flips {
                let n = book.len();
                book[p % n] ^= v | 1;
            }
            if let Some(c) = cut {
                let n = book.len();
                book.truncate(c % n);
            }
            if !flips.is_empty() || cut.is_some() {
                through(tally, xlsx_rows(&book, 10_000), tz, false)?;
            }
            Ok(())
        },
    )
    .require("posted XLSX", 30, 2);
}

// An XLSX written by hand with uncompressed ("stored") ZIP entries, so that mutations of the
// sheet's XML reach calamine's XML and cell reading instead of stopping at a CRC check.

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A ZIP archive of `files`, stored without compression.
fn stored_zip(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in files {
        let offset = out.len() as u32;
        let (crc, size, n) = (crc32(data), data.len() as u32, name.len() as u16);
        // Version 20, no flags, stored, 1980-01-01 00:00, sizes, name length, no extra field.
        let mut fields = Vec::new();
        fields.extend(20u16.to_le_bytes());
        fields.extend(0u16.to_le_bytes());
        fields.extend(0u16.to_le_bytes());
        fields.extend(0u16.to_le_bytes());
        fields.extend(0x21u16.to_le_bytes());
        fields.extend(crc.to_le_bytes());
        fields.extend(size.to_le_bytes());
        fields.extend(size.to_le_bytes());
        fields.extend(n.to_le_bytes());
        fields.extend(0u16.to_le_bytes());
        out.extend(0x0403_4b50u32.to_le_bytes());
        out.extend(&fields);
        out.extend(name.as_bytes());
        out.extend(data);
        central.extend(0x0201_4b50u32.to_le_bytes());
        central.extend(20u16.to_le_bytes()); // made by
        central.extend(&fields);
        central.extend(0u16.to_le_bytes()); // comment length
        central.extend(0u16.to_le_bytes()); // disk
        central.extend(0u16.to_le_bytes()); // internal attributes
        central.extend(0u32.to_le_bytes()); // external attributes
        central.extend(offset.to_le_bytes());
        central.extend(name.as_bytes());
    }
    let (cd_offset, cd_size) = (out.len() as u32, central.len() as u32);
    out.extend(central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out.extend((files.len() as u16).to_le_bytes());
    out.extend((files.len() as u16).to_le_bytes());
    out.extend(cd_size.to_le_bytes());
    out.extend(cd_offset.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

const SHEET_XML: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1:D3"/><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>indicator</t></is></c><c r="B1" t="inlineStr"><is><t>time</t></is></c><c r="C1" t="inlineStr"><is><t>value</t></is></c><c r="D1" t="s"><v>0</v></c></row>
<row r="2"><c r="A2" t="inlineStr"><is><t>living.health.stunting</t></is></c><c r="B2" t="inlineStr"><is><t>2025-06-01</t></is></c><c r="C2"><v>12.5</v></c><c r="D2" t="s"><v>1</v></c></row>
<row r="3"><c r="A3" t="str"><v>gov.wifi.points</v></c><c r="B3" t="inlineStr"><is><t>2026-11-28</t></is></c><c r="C3" t="n"><v>1234</v></c><c r="D3" t="b"><v>1</v></c></row>
</sheetData></worksheet>"#;

const SHARED_XML: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="2" uniqueCount="2"><si><t>note</t></si><si><r><t>rich </t></r><r><t>text</t></r></si></sst>"#;

/// A minimal workbook around `sheet` (the XML of its only worksheet) and `shared` strings.
fn hand_xlsx(sheet: &[u8], shared: &[u8]) -> Vec<u8> {
    let content_types = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"#;
    let rels = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
    let workbook = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
    let workbook_rels = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#;
    stored_zip(&[
        ("[Content_Types].xml", content_types.as_bytes().to_vec()),
        ("_rels/.rels", rels.as_bytes().to_vec()),
        ("xl/workbook.xml", workbook.as_bytes().to_vec()),
        (
            "xl/_rels/workbook.xml.rels",
            workbook_rels.as_bytes().to_vec(),
        ),
        ("xl/worksheets/sheet1.xml", sheet.to_vec()),
        ("xl/sharedStrings.xml", shared.to_vec()),
    ])
}

const XML_DICT: &[&str] = &[
    r#"r="A99999999999""#,
    r#"r="XFD1048576""#,
    r#"r="ZZZZZZZZZZ1""#,
    r#"r="A0""#,
    r#"r="""#,
    r#"r="1A""#,
    r#"t="s""#,
    r#"t="d""#,
    r#"t="b""#,
    r#"t="e""#,
    r#"t="str""#,
    r#"t="inlineStr""#,
    r#"t="n""#,
    r#"s="99""#,
    "<v>99999999999999999999</v>",
    "<v>1e309</v>",
    "<v>-1</v>",
    "<v>4294967296</v>",
    "<v>NaN</v>",
    "<v>2026-11-28T10:00:00</v>",
    "<v></v>",
    "<f>SUM(A1:A3)</f>",
    "</c>",
    r#"<c r="B2">"#,
    r#"<row r="4294967296">"#,
    r#"<row r="0">"#,
    "</row>",
    "&amp;",
    "&#0;",
    "&#xFFFF;",
    "&bogus;",
    "<![CDATA[x]]>",
    "<is><t>",
    "</t></is>",
    r#"<dimension ref="A1:XFD1048576"/>"#,
    r#"<dimension ref="A99999999999"/>"#,
    r#"<mergeCells count="1"><mergeCell ref="A1:B2"/></mergeCells>"#,
    "<si><t>x</t></si>",
    "<!--",
    "-->",
    "<",
    ">",
    "\"",
    "\u{0}",
    "\u{feff}",
];

#[test]
fn observations_hand_built_xlsx_never_panic() {
    let strategy = (edits(6), edits(3), zones());
    fuzz(
        "hand-built xlsx",
        strategy,
        |(sheet_edits, shared_edits, tz), tally| {
            let sheet = mutate(SHEET_XML.as_bytes(), &sheet_edits, XML_DICT);
            let shared = mutate(SHARED_XML.as_bytes(), &shared_edits, XML_DICT);
            through(
                tally,
                xlsx_rows(&hand_xlsx(&sheet, &shared), 10_000),
                tz,
                true,
            )
        },
    )
    .require("hand-built XLSX", 10, 3);
}

#[test]
fn upload_bytes_never_panic() {
    fuzz(
        "random uploads",
        prop::collection::vec(any::<u8>(), 0..2000),
        |raw, _| {
            let mut zip = b"PK\x03\x04".to_vec();
            zip.extend_from_slice(&raw);
            for body in [&raw, &zip] {
                let _ = xlsx_rows(body, 10_000);
                let _ = csv_rows(body, 10_000);
                let _ = json_rows(body, 10_000);
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------------------------
// TOML values: replace, drop or add values deep inside a valid table

fn toml_value() -> impl Strategy<Value = toml::Value> {
    use toml::Value;
    let leaf = prop_oneof![
        prop::sample::select(TOML_DICT).prop_map(|s| Value::String(s.to_string())),
        prop::sample::select(NUMBERS).prop_map(|s| Value::String(s.to_string())),
        prop::sample::select(TIMES).prop_map(|s| Value::String(s.to_string())),
        prop::sample::select(
            &[
                "*/5 * * * *",
                "0 7 * * 1-5",
                "@hourly",
                "*/0 * * * *",
                "0 0 31 2 *",
                "1d",
                "1mo",
                "3mo",
                "0s",
                "10s",
                "500ms",
                "99999999999999999999m",
                "999999999999999999m",
                "18446744073709551615m",
                "1y",
                "increase",
                "decrease",
                "maintain",
                "level",
                "cumulative",
                "quick_win",
                "short",
                "json",
                "csv",
                "prometheus",
                "ckan",
                "sum",
                "avg",
                "none",
                "count",
                "mean",
                "last",
                "id",
                "offset",
                "unix",
                "unix_ms",
                "%d/%m/%Y",
                "%Q",
                "%",
                "env:HOME",
                "env:",
                "http://x/",
                "https://data.example.go.id/api",
                "/data/total",
                "~1",
                "/a/~2",
                "Asia/Jakarta",
                "Mars/Olympus",
                "127.0.0.1:0",
                "[::1]:99999",
                "id",
                "en",
            ][..]
        )
        .prop_map(|s| Value::String(s.to_string())),
        "[a-z._-]{0,10}".prop_map(Value::String),
        prop_oneof![
            Just(0i64),
            Just(-1),
            Just(1),
            Just(i64::MAX),
            Just(i64::MIN),
            Just(4_294_967_296),
            any::<i64>()
        ]
        .prop_map(Value::Integer),
        prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
            Just(1e308),
            Just(-1e308),
            Just(5e-324),
            any::<f64>(),
            -10.0f64..200.0
        ]
        .prop_map(Value::Float),
        any::<bool>().prop_map(Value::Boolean),
        prop_oneof![
            Just("2024-02-29"),
            Just("1900-01-01"),
            Just("0001-01-01"),
            Just("9999-12-31"),
            Just("2022-12-31"),
            Just("2030-01-01"),
            Just("2026-11-28"),
            Just("1979-05-27T07:32:00Z"),
            Just("07:32:00"),
            Just("2024-06-01T10:00:00")
        ]
        .prop_map(|s| Value::Datetime(s.parse().unwrap())),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-z_]{1,10}", inner), 0..4)
                .prop_map(|kv| Value::Table(kv.into_iter().collect())),
        ]
    })
}

#[derive(Debug, Clone)]
struct ValueEdit {
    path: Vec<usize>,
    /// 0 removes, 1 adds a key beside, 2 replaces with `value`, 3 and more replace with a value
    /// of the same kind (a number with another number, a date with another date), which the
    /// validator more often accepts, so that odd but valid plans reach the progress engine.
    action: u8,
    value: toml::Value,
    number: f64,
    date: toml::value::Datetime,
}

fn value_edit() -> impl Strategy<Value = ValueEdit> {
    let number = prop_oneof![
        3 => -1e3f64..1e3,
        1 => prop::sample::select(&[0.0, -0.0, 1e308, -1e308, 5e-324, 1e-9, 0.5, 1.0, 1e15][..]),
        1 => any::<f64>(),
    ];
    let date = (1900u16..2200, 1u8..13, 1u8..29).prop_map(|(y, m, d)| {
        format!("{y:04}-{m:02}-{d:02}")
            .parse::<toml::value::Datetime>()
            .unwrap()
    });
    (
        prop::collection::vec(any::<usize>(), 2..7),
        0u8..12,
        toml_value(),
        number,
        date,
    )
        .prop_map(|(path, action, value, number, date)| ValueEdit {
            path,
            action,
            value,
            number,
            date,
        })
}

/// Walks `path` (each step picks a key or an element) and replaces, removes or adds a value.
fn apply_value_edit(v: &mut toml::Value, e: &ValueEdit) {
    use toml::Value;
    fn replacement(old: Option<&Value>, e: &ValueEdit) -> Value {
        match (e.action, old) {
            (3.., Some(Value::Float(_))) => Value::Float(e.number),
            (3.., Some(Value::Integer(i))) => {
                Value::Integer(if e.number.is_finite() && e.number.abs() < 9e18 {
                    e.number as i64
                } else {
                    i.wrapping_neg()
                })
            }
            (3.., Some(Value::Datetime(_))) => Value::Datetime(e.date),
            (3.., Some(Value::Boolean(b))) => Value::Boolean(!b),
            _ => e.value.clone(),
        }
    }
    fn walk(v: &mut Value, path: &[usize], e: &ValueEdit) {
        let step = path.first().copied().unwrap_or(0);
        let rest = path.get(1..).unwrap_or(&[]);
        match v {
            Value::Table(t) if !t.is_empty() => {
                let key = t.keys().nth(step % t.len()).unwrap().clone();
                let leaf = matches!(t.get(&key), Some(x) if !x.is_table() && !x.is_array());
                if leaf || rest.is_empty() {
                    match e.action {
                        0 => {
                            t.remove(&key);
                        }
                        1 => {
                            t.insert(format!("{key}_x"), e.value.clone());
                        }
                        _ => {
                            let new = replacement(t.get(&key), e);
                            t.insert(key, new);
                        }
                    }
                } else {
                    walk(t.get_mut(&key).unwrap(), rest, e);
                }
            }
            Value::Array(a) if !a.is_empty() => {
                let i = step % a.len();
                if rest.is_empty() || (!a[i].is_table() && !a[i].is_array()) {
                    match e.action {
                        0 => {
                            a.remove(i);
                        }
                        1 => a.push(e.value.clone()),
                        _ => a[i] = replacement(Some(&a[i]), e),
                    }
                } else {
                    walk(&mut a[i], rest, e);
                }
            }
            _ => *v = replacement(Some(v), e),
        }
    }
    walk(v, &e.path, e);
}

// ---------------------------------------------------------------------------------------------
// Feed formats: mapping tables and response bodies

struct FeedSeed {
    format: &'static str,
    mapping: &'static str,
    bodies: &'static [&'static str],
}

const FEED_SEEDS: &[FeedSeed] = &[
    FeedSeed {
        format: "json",
        mapping: r#"points = [{ indicator = "living.health.stunting", value = "/data/prevalensi", time = "/data/diperbarui", scale = 1.0 }]"#,
        bodies: &[
            r#"{"data":{"prevalensi":12.5,"diperbarui":"2026-11-28T10:00:00+07:00"}}"#,
            r#"{"data":{"prevalensi":"12,5","diperbarui":1795834800}}"#,
            r#"{"data":{"prevalensi":null,"diperbarui":"2026-11-28"}}"#,
        ],
    },
    FeedSeed {
        format: "json",
        mapping: r#"records = { path = "/items", indicator_field = "indikator", rename = { izin = "gov.permit.days" }, value = "nilai", time = "waktu" }
missing = ["TIDAK ADA DATA", "-"]
time_format = "%d/%m/%Y""#,
        bodies: &[
            r#"{"items":[{"indikator":"izin","nilai":4.5,"waktu":"28/11/2026"},{"indikator":"izin","nilai":"-","waktu":"27/11/2026"}]}"#,
            r#"{"items":[]}"#,
        ],
    },
    FeedSeed {
        format: "csv",
        mapping: r#"time_column = "tanggal"
series = [
  { indicator = "env.air.ispu-mean", aggregate = "mean", column = "max", exclude = { categori = "TIDAK ADA DATA" } },
  { indicator = "env.air.good-days", aggregate = "count", filter = { categori = "BAIK" } },
]"#,
        bodies: &[
            "tanggal,stasiun,max,categori\n2026-11-27,DKI1,55,BAIK\n2026-11-27,DKI2,,TIDAK ADA DATA\n2026-11-28,DKI1,101,SEDANG\n",
            "\u{feff}tanggal,max,categori\r\n2026-11-28,NaN,BAIK\r\n",
        ],
    },
    FeedSeed {
        format: "csv",
        mapping: r#"delimiter = ";"
decimal_comma = true
time_column = "waktu"
time_format = "%d/%m/%Y %H:%M"
series = [{ indicator = "economy.tax.pad", aggregate = "sum", column = "nilai" }, { indicator = "economy.umkm.digital", aggregate = "last", column = "n" }]"#,
        bodies: &["waktu;nilai;n\n28/11/2026 10:00;1.234,5;3\n28/11/2026 11:00;2,5;4\n"],
    },
    FeedSeed {
        format: "prometheus",
        mapping: r#"series = [{ indicator = "gov.spbe.uptime", metric = "up_ratio", labels = { job = ["spbe", ""] }, aggregate = "avg", scale = 100.0 }]"#,
        bodies: &[
            "# HELP up_ratio Uptime.\n# TYPE up_ratio gauge\nup_ratio{job=\"spbe\",instance=\"a\"} 0.99\nup_ratio{job=\"spbe\",instance=\"b\"} 0.97 1795834800000\n",
            "# TYPE up_ratio gauge\nup_ratio{job=\"spbe\"} 0.5 1795834800\n# EOF\n",
            "up_ratio{job=\"a,}b\"} NaN\nup_ratio +Inf\n",
        ],
    },
    FeedSeed {
        format: "ckan",
        mapping: r#"resource_id = "umkm-digital"
limit = 1000
filters = { wilayah = "Prajurit Kulon" }
time_field = "tanggal"
series = [{ indicator = "economy.umkm.digital", aggregate = "sum", field = "jumlah" }]"#,
        bodies: &[
            r#"{"success":true,"result":{"records":[{"_id":1,"tanggal":"2026-11-28","jumlah":3},{"_id":2,"tanggal":"2026-11-28","jumlah":"4"}],"total":2,"limit":1000,"_links":{"next":"/api/3/action/datastore_search?offset=1000"}}}"#,
            r#"{"success":false,"error":{"message":"Not found","__type":"Not Found Error"}}"#,
        ],
    },
];

const FEED_DICT: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ",",
    ";",
    ":",
    "=",
    "#",
    "# EOF\n",
    "# TYPE up_ratio counter\n",
    "# HELP",
    "# UNIT up_ratio s\n",
    "up_ratio_total",
    "up_ratio_bucket{le=\"+Inf\"} 1\n",
    "{job=\"spbe\"}",
    "\\\"",
    "\\n",
    "NaN",
    "+Inf",
    "-Inf",
    "1e309",
    "null",
    "true",
    "\"-\"",
    "\"TIDAK ADA DATA\"",
    "\n",
    "\r\n",
    "\u{feff}",
    "\u{0}",
    "<html>",
    "2026-11-28",
    "28/11/2026",
    "1795834800",
    "1795834800000",
    "99999999999999999999",
    "\"_links\"",
    "\"next_page\"",
    "\"total\"",
    "\"total_was_estimated\":true",
    "\"records\"",
    "\"result\"",
    "\"success\"",
    "\"offset\"",
    "?offset=99999999999999999999",
    "http://other.example/x?offset=-1",
    "\"items\"",
    "\"data\"",
    "é",
    "\u{7f}",
];

fn build_format(format: &str, table: toml::Value) -> Result<FeedFormat, Vec<(String, String)>> {
    FeedFormat::from_config(format, Some(table))
}

/// Extracts the points of `body` and validates them as the poller does: (read, accepted).
fn feed_points_through_validation(
    format: &FeedFormat,
    body: &[u8],
    current: &reqwest::Url,
    tz: chrono_tz::Tz,
) -> (bool, bool) {
    let base = reqwest::Url::parse("http://feed.example/api/3/action/datastore_search").unwrap();
    let ctx = ExtractContext { tz, now: NOW };
    let _ = format.first_url(&base);
    let Ok(page) = format.extract(body, &base, current, &ctx) else {
        return (false, false);
    };
    {
        let rows: Vec<RawRow> = page
            .points
            .into_iter()
            .enumerate()
            .map(|(i, p)| RawRow {
                line: i + 1,
                indicator: Some(p.indicator),
                time: Some(RawTime::Instant(p.time.unwrap_or(NOW))),
                value: Some(RawValue::Number(p.value)),
                note: None,
            })
            .collect();
        if rows.is_empty() {
            return (true, false);
        }
        (true, validate_and_compute(rows, tz))
    }
}

#[test]
fn feed_bodies_never_panic() {
    let strategy = (
        0usize..FEED_SEEDS.len(),
        any::<usize>(),
        edits(8),
        any::<usize>(),
        prop::collection::vec(any::<u8>(), 0..400),
        prop_oneof![
            Just("http://feed.example/api/3/action/datastore_search".to_string()),
            "http://feed\\.example/api/3/action/datastore_search\\?(offset=[0-9-]{0,22}&)?(limit=[0-9-]{0,22})?",
        ],
        zones(),
    );
    fuzz(
        "feed bodies",
        strategy,
        |(seed, body, edits, other, raw, current, tz), tally| {
            let s = &FEED_SEEDS[seed];
            let table: toml::Value = toml::from_str::<toml::Table>(s.mapping)
                .map(toml::Value::Table)
                .unwrap();
            let format = build_format(s.format, table)
                .unwrap_or_else(|p| panic!("seed mapping for {} is invalid: {p:?}", s.format));
            let current = reqwest::Url::parse(&current).unwrap();
            let seed_body = s.bodies[body % s.bodies.len()];
            let mutated = mutate(seed_body.as_bytes(), &edits, FEED_DICT);
            // A body meant for another format, mutated too.
            let o = &FEED_SEEDS[other % FEED_SEEDS.len()];
            let foreign = mutate(
                o.bodies[other % o.bodies.len()].as_bytes(),
                &edits,
                FEED_DICT,
            );
            // The first body of each seed is valid: it must extract (else the seed is wrong).
            let first = s.bodies[0].as_bytes();
            let base =
                reqwest::Url::parse("http://feed.example/api/3/action/datastore_search").unwrap();
            let page = format.extract(first, &base, &base, &ExtractContext { tz, now: NOW });
            prop_assert!(
                page.is_ok(),
                "the first seed body of {} does not extract: {page:?}",
                s.format
            );
            feed_points_through_validation(&format, seed_body.as_bytes(), &current, tz);
            for (b, counted) in [(&mutated, true), (&foreign, false), (&raw, false)] {
                let (read, accepted) = feed_points_through_validation(&format, b, &current, tz);
                if counted {
                    tally.input();
                    if read {
                        tally.parsed();
                    }
                    if accepted {
                        tally.accepted();
                    }
                }
            }
            let _ = pantau::feeds::format::prometheus::parse_exposition(&mutated);
            Ok(())
        },
    )
    .require("feed bodies", 20, 5);
}

#[test]
fn feed_mappings_never_panic() {
    let strategy = (
        0usize..FEED_SEEDS.len(),
        prop::collection::vec(value_edit(), 1..4),
        edits(4),
        prop_oneof![
            8 => Just(None),
            1 => prop::sample::select(&["json", "csv", "prometheus", "ckan", "", "JSON", "xml"][..]).prop_map(Some),
        ],
        prop::bool::weighted(0.05),
        edits(4),
        zones(),
    );
    fuzz(
        "feed mappings",
        strategy,
        |(seed, value_edits, text_edits, format, absent, edits_body, tz), tally| {
            let s = &FEED_SEEDS[seed];
            let mut table: toml::Value = toml::Value::Table(toml::from_str(s.mapping).unwrap());
            for e in &value_edits {
                apply_value_edit(&mut table, e);
            }
            let format_name = format.unwrap_or(s.format);
            let built = if absent {
                FeedFormat::from_config(format_name, None)
            } else {
                build_format(format_name, table)
            };
            tally.input();
            match built {
                Ok(format) => {
                    tally.parsed();
                    tally.accepted();
                    let _ = format.indicators();
                    let current = reqwest::Url::parse(
                        "http://feed.example/api/3/action/datastore_search?offset=4",
                    )
                    .unwrap();
                    for b in s.bodies {
                        feed_points_through_validation(&format, b.as_bytes(), &current, tz);
                        let mutated = mutate(b.as_bytes(), &edits_body, FEED_DICT);
                        feed_points_through_validation(&format, &mutated, &current, tz);
                    }
                }
                Err(problems) => {
                    prop_assert!(!problems.is_empty());
                    for (field, message) in &problems {
                        prop_assert!(!message.is_empty(), "an empty message for {field}");
                    }
                }
            }
            // The mapping as text, mutated, then parsed as TOML first.
            let text = mutate(s.mapping.as_bytes(), &text_edits, TOML_DICT);
            if let Ok(t) = toml::from_str::<toml::Table>(&String::from_utf8_lossy(&text)) {
                let _ = build_format(s.format, toml::Value::Table(t));
            }
            Ok(())
        },
    )
    .require("feed mappings", 3, 3);
}

// ---------------------------------------------------------------------------------------------
// Configuration files

/// Loads settings and masterplan texts the way `pantau check` does; a valid result is then
/// exercised: feed schedules, and the progress engine with a few observations per indicator.
fn load_and_use(
    settings: &str,
    masterplan: &str,
    env: &[(String, String)],
    tally: &Tally,
) -> Result<(), TestCaseError> {
    tally.input();
    let m = masterplan.to_string();
    match Config::from_texts(
        settings,
        "pantau.toml",
        move |_| Ok((m, "masterplan.toml".into())),
        |_| {
            Ok(Some((
                pantau::config::EMBEDDED_SCREENS.to_string(),
                "screens.toml".into(),
            )))
        },
        env,
        ConfigOrigin::Embedded,
    ) {
        Ok(config) => {
            tally.parsed();
            tally.accepted();
            let tz = config.settings.city.time_zone;
            let now = chrono::DateTime::from_timestamp_millis(NOW).unwrap();
            for f in &config.feeds {
                let _ = f.schedule.next_after(now, tz);
                let _ = f.format.indicators();
            }
            let mut series = HashMap::new();
            for (k, i) in config.masterplan.indicators.iter().enumerate() {
                let start = pantau::domain::date_start_millis(i.baseline.date, tz);
                let points: Vec<(Millis, f64)> = (0..4)
                    .map(|j| {
                        (
                            start + j * 86_400_000 * 40,
                            i.baseline.value + (j as f64) * (k as f64 - 3.0),
                        )
                    })
                    .collect();
                series.insert(i.id.to_string(), points);
            }
            compute(Arc::new(config.masterplan), tz, series);
        }
        Err(e) => {
            prop_assert!(!e.problems.is_empty());
            let shown = e.to_string();
            prop_assert!(shown.contains("problem"));
        }
    }
    Ok(())
}

fn env_pair() -> impl Strategy<Value = (String, String)> {
    (
        prop::sample::select(
            &[
                "PANTAU_SERVER__LISTEN",
                "PANTAU_SERVER__MAX_BODY_BYTES",
                "PANTAU_SERVER__HEADER_READ_TIMEOUT",
                "PANTAU_PROGRESS__ON_TRACK",
                "PANTAU_PROGRESS__TICK_SECONDS",
                "PANTAU_CITY__TIME_ZONE",
                "PANTAU_AUTH__ADMIN_TOKEN",
                "PANTAU_MASTERPLAN",
                "PANTAU_NOSUCH__KEY",
                "PANTAU_CITY",
                "PANTAU___",
                "PANTAU_WEBHOOKS__URLS",
                "PANTAU_STORAGE__DATABASE",
                "OTHER",
            ][..],
        )
        .prop_map(str::to_string),
        prop_oneof![
            prop::sample::select(TOML_DICT).prop_map(str::to_string),
            prop::sample::select(NUMBERS).prop_map(str::to_string),
            ".{0,20}",
        ],
    )
}

#[test]
fn config_texts_never_panic() {
    let strategy = (
        edits(4),
        edits(6),
        0u8..3,
        prop::collection::vec(env_pair(), 0..3),
    );
    fuzz(
        "config texts",
        strategy,
        |(settings_edits, masterplan_edits, which, env), tally| {
            let settings = match which {
                1 => String::from_utf8_lossy(&mutate(
                    EMBEDDED_SETTINGS.as_bytes(),
                    &settings_edits,
                    TOML_DICT,
                ))
                .into_owned(),
                _ => EMBEDDED_SETTINGS.to_string(),
            };
            let masterplan = match which {
                0 | 2 => String::from_utf8_lossy(&mutate(
                    EMBEDDED_MASTERPLAN.as_bytes(),
                    &masterplan_edits,
                    TOML_DICT,
                ))
                .into_owned(),
                _ => EMBEDDED_MASTERPLAN.to_string(),
            };
            load_and_use(&settings, &masterplan, &env, tally)?;
            let mut problems = Vec::new();
            let _ = pantau::config::parse_masterplan(
                &masterplan,
                "masterplan.toml",
                &[],
                &mut problems,
            );
            Ok(())
        },
    )
    .require("config texts", 5, 5);
}

#[test]
fn config_values_never_panic() {
    // Most edits break the plan at its first check (a removed key, an unknown one, a value of
    // the wrong kind); a third of the cases leave the masterplan's values alone, so that the
    // feeds added below and the settings' edits still reach every later stage.
    let strategy = (
        prop::collection::vec(value_edit(), 0..3),
        prop::collection::vec(value_edit(), 0..2),
        any::<bool>(),
    );
    fuzz(
        "config values",
        strategy,
        |(masterplan_edits, settings_edits, with_feeds), tally| {
            let mut plan: toml::Value =
                toml::Value::Table(toml::from_str(EMBEDDED_MASTERPLAN).unwrap());
            if with_feeds {
                // The example has no feeds: add one of each format so their sections are mutated too.
                let mut feeds = Vec::new();
                for (i, s) in FEED_SEEDS.iter().enumerate() {
                    let mapping: toml::Table = toml::from_str(s.mapping).unwrap();
                    let mut f = toml::Table::new();
                    f.insert("id".into(), format!("feed-{i}").into());
                    f.insert("department".into(), "dinkes".into());
                    f.insert("url".into(), "https://data.example.go.id/api".into());
                    f.insert("format".into(), s.format.into());
                    f.insert("schedule".into(), "*/15 * * * *".into());
                    f.insert("timeout".into(), "30s".into());
                    f.insert(s.format.into(), toml::Value::Table(mapping));
                    feeds.push(toml::Value::Table(f));
                }
                plan.as_table_mut()
                    .unwrap()
                    .insert("feed".into(), toml::Value::Array(feeds));
            }
            for e in &masterplan_edits {
                apply_value_edit(&mut plan, e);
            }
            let mut settings: toml::Value =
                toml::Value::Table(toml::from_str(EMBEDDED_SETTINGS).unwrap());
            for e in &settings_edits {
                apply_value_edit(&mut settings, e);
            }
            // Values TOML cannot write (a table in an array of scalars, ...) end the case quietly.
            let (Ok(plan), Ok(settings)) = (toml::to_string(&plan), toml::to_string(&settings))
            else {
                return Ok(());
            };
            load_and_use(&settings, &plan, &[], tally)?;
            Ok(())
        },
    )
    .require("config values", 4, 4);
}

// ---------------------------------------------------------------------------------------------
// Cron schedules

fn cron_field() -> impl Strategy<Value = String> {
    let n = prop_oneof![
        4 => 0u64..62,
        1 => prop::sample::select(&[99u64, 255, 256, 1000, 65_536, 4_294_967_296, u64::MAX][..]),
    ];
    let name = prop::sample::select(
        &[
            "mon", "sun", "sat", "MON", "jan", "dec", "feb", "xyz", "L", "W", "?", "LW", "5L",
            "1#2",
        ][..],
    );
    prop_oneof![
        6 => Just("*".to_string()),
        2 => n.clone().prop_map(|a| a.to_string()),
        2 => n.clone().prop_map(|a| format!("*/{a}")),
        2 => (n.clone(), n.clone()).prop_map(|(a, b)| format!("{a}-{b}")),
        1 => (n.clone(), n.clone(), n.clone()).prop_map(|(a, b, c)| format!("{a}-{b}/{c}")),
        1 => (n.clone(), n.clone()).prop_map(|(a, b)| format!("{a},{b}")),
        1 => (n.clone(), n).prop_map(|(a, b)| format!("{a}/{b}")),
        1 => name.prop_map(str::to_string),
        1 => "[0-9*/,\\-a-zA-Z?#L]{0,6}",
    ]
}

#[test]
fn cron_schedules_never_panic() {
    let strategy = (
        prop_oneof![
            6 => prop::collection::vec(cron_field(), 5..7),
            1 => prop::collection::vec(cron_field(), 0..9),
        ],
        prop_oneof![
            "@[a-z]{0,9}",
            prop::sample::select(
                &[
                    "@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@reboot", "@"
                ][..]
            )
            .prop_map(str::to_string),
            ".{0,30}",
        ],
        prop::collection::vec(-2_208_988_800_000i64..7_258_118_400_000, 1..4),
        zones(),
    );
    fuzz(
        "cron schedules",
        strategy,
        |(fields, raw, starts, tz), tally| {
            let text = fields.join(" ");
            for t in [text.as_str(), raw.as_str()] {
                tally.input();
                match Schedule::parse(t) {
                    Ok(s) => {
                        tally.parsed();
                        tally.accepted();
                        for start in &starts {
                            let at = chrono::DateTime::from_timestamp_millis(*start).unwrap();
                            if let Some(next) = s.next_after(at, tz) {
                                prop_assert!(next > at, "`{t}`: {next} is not after {at}");
                            }
                        }
                    }
                    Err(e) => {
                        prop_assert!(e.contains('`'), "the error should quote the schedule: {e}")
                    }
                }
            }
            Ok(())
        },
    )
    .require("cron schedules", 10, 10);
}

/// Inputs the fuzzers once found panicking, kept as plain checks.
#[test]
fn regressions() {
    // `n * 60` overflowed in `parse_duration` (found through PANTAU_SERVER__HEADER_READ_TIMEOUT).
    let env = [(
        "PANTAU_SERVER__HEADER_READ_TIMEOUT".to_string(),
        "999999999999999999m".to_string(),
    )];
    let e = Config::from_texts(
        EMBEDDED_SETTINGS,
        "pantau.toml",
        |_| Ok((EMBEDDED_MASTERPLAN.to_string(), "masterplan.toml".into())),
        |_| {
            Ok(Some((
                pantau::config::EMBEDDED_SCREENS.to_string(),
                "screens.toml".into(),
            )))
        },
        &env,
        ConfigOrigin::Embedded,
    )
    .unwrap_err();
    assert!(e.to_string().contains("header_read_timeout"), "{e}");
    let settings =
        EMBEDDED_SETTINGS.replace("timeout = \"5s\"", "timeout = \"999999999999999999m\"");
    let e = Config::from_texts(
        &settings,
        "pantau.toml",
        |_| Ok((EMBEDDED_MASTERPLAN.to_string(), "masterplan.toml".into())),
        |_| {
            Ok(Some((
                pantau::config::EMBEDDED_SCREENS.to_string(),
                "screens.toml".into(),
            )))
        },
        &[],
        ConfigOrigin::Embedded,
    )
    .unwrap_err();
    assert!(e.to_string().contains("timeout"), "{e}");
    // A day-of-week step beyond u64 overflowed `d += step` (a hang in release builds).
    assert!(Schedule::parse("* * * * 1/18446744073709551615").is_ok());
    // calamine overflowed on a huge cell reference; the upload is refused, nothing panics.
    let valid = xlsx_rows(&hand_xlsx(SHEET_XML.as_bytes(), SHARED_XML.as_bytes()), 10);
    assert_eq!(valid.map(|r| r.len()).ok(), Some(2));
    let huge = SHEET_XML.replace(r#"r="C2""#, r#"r="C99999999999""#);
    let e = xlsx_rows(&hand_xlsx(huge.as_bytes(), SHARED_XML.as_bytes()), 10).unwrap_err();
    assert!(e.message.contains("XLSX"), "{e:?}");
    // One cell at the last possible position made calamine allocate the whole bounding box
    // (1048576 rows x 16384 columns, 512 GiB) and abort the process: a one-upload denial of service.
    let far = SHEET_XML.replace(
        "</sheetData>",
        r#"<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>"#,
    );
    let rows = xlsx_rows(&hand_xlsx(far.as_bytes(), SHARED_XML.as_bytes()), 10).unwrap();
    assert_eq!(rows.len(), 3, "the far cell is a row of its own");
    assert_eq!(rows[2].line, 1_048_576);
    // A deadline too far ahead overflowed `Instant + Duration` in hyper's header timer.
    for huge in ["18446744073709551615s", "18446744073709551615ms", "1441m"] {
        let env = [(
            "PANTAU_SERVER__HEADER_READ_TIMEOUT".to_string(),
            huge.to_string(),
        )];
        let e = Config::from_texts(
            EMBEDDED_SETTINGS,
            "pantau.toml",
            |_| Ok((EMBEDDED_MASTERPLAN.to_string(), "masterplan.toml".into())),
            |_| {
                Ok(Some((
                    pantau::config::EMBEDDED_SCREENS.to_string(),
                    "screens.toml".into(),
                )))
            },
            &env,
            ConfigOrigin::Embedded,
        )
        .unwrap_err();
        assert!(e.to_string().contains("longer than a day"), "{e}");
    }
}
