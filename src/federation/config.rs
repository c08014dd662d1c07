//! `federation.toml`: the cities a province's or the ministry's pantau follows (`[[city]]`) and
//! how it follows them (`[federation]`), validated into `FederationConfig` with every problem
//! reported at once, in the same form as the rest of the configuration (`config::Problem`).
//!
//! It sits beside `pantau.toml` in place of `masterplan.toml`: when the folder holds one, the
//! daemon runs as a federation.

use crate::config::{Config, ConfigError, Problem, Secret, Settings};
use chrono_tz::Tz;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The name of the federation file beside `pantau.toml`.
pub const FILE: &str = "federation.toml";

/// Most cities one federation follows.
pub const MAX_CITIES: usize = 5_000;

/// A city's kind: a city (kota) or a regency (kabupaten).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CityKind {
    Kota,
    Kabupaten,
}

/// One city that the federation follows.
#[derive(Debug, Clone)]
pub struct CitySpec {
    /// Short id (`mojokerto`, `kab-malang`): lowercase letters, digits, `-` and `_`.
    pub id: String,
    pub name: String,
    pub kind: CityKind,
    pub province: String,
    /// The city's pantau (`https://pantau.mojokertokota.go.id`); its API is under `/api/v1`.
    pub url: reqwest::Url,
    /// Sent as `Authorization: Bearer` to the city; `env:NAME` reads it from the environment.
    pub token: Option<Secret>,
    /// The city's time zone, when it differs from the federation's (WITA, WIT).
    pub zone: Option<Tz>,
}

impl CitySpec {
    /// The city's live websocket address, resuming at (`since`, `epoch`) when given.
    pub fn live_url(&self, resume: Option<(u64, &str)>) -> String {
        let mut url = self.url.clone();
        let _ = url.set_scheme(if self.url.scheme() == "https" {
            "wss"
        } else {
            "ws"
        });
        let path = format!("{}/api/v1/live", url.path().trim_end_matches('/'));
        url.set_path(&path);
        url.set_query(None);
        if let Some((since, epoch)) = resume {
            url.query_pairs_mut()
                .append_pair("since", &since.to_string())
                .append_pair("epoch", epoch);
        }
        url.to_string()
    }

    /// An address on the city's pantau (`/healthz`, `/quick-wins`).
    pub fn page(&self, path: &str) -> String {
        format!("{}{path}", self.url.as_str().trim_end_matches('/'))
    }
}

/// `[federation]`: how the cities are followed.
#[derive(Debug, Clone)]
pub struct FollowSettings {
    /// The federation's name on the wall (default: `[city] name` of pantau.toml).
    pub name: Option<String>,
    /// Time to open a city's websocket (TCP, HTTP upgrade) before giving up.
    pub connect_timeout: Duration,
    /// Longest silence from a connected city (it pings every 15 s) before reconnecting.
    pub read_timeout: Duration,
    /// Largest message or frame accepted from a city.
    pub max_message_bytes: usize,
    /// A city whose last data is older than this is shown as stale.
    pub stale_after: Duration,
    /// Longest wait between reconnection attempts (backoff doubles up to it, with jitter).
    pub backoff_max: Duration,
}

impl Default for FollowSettings {
    fn default() -> Self {
        FollowSettings {
            name: None,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            max_message_bytes: 16 * 1024 * 1024,
            stale_after: Duration::from_secs(600),
            backoff_max: Duration::from_secs(60),
        }
    }
}

/// A validated federation configuration.
#[derive(Debug, Clone)]
pub struct FederationConfig {
    pub settings: Settings,
    pub follow: FollowSettings,
    pub cities: Vec<CitySpec>,
    /// The federation file it was read from.
    pub file: PathBuf,
}

impl FederationConfig {
    /// The name shown on the wall.
    pub fn name(&self) -> &str {
        self.follow
            .name
            .as_deref()
            .unwrap_or(&self.settings.city.name)
    }
}

/// The federation file that `--config` (a folder or a settings file, or nothing for `config/`)
/// points at, when there is one.
pub fn find(config: Option<&Path>) -> Option<PathBuf> {
    let dir = match config {
        Some(p) if p.is_dir() => p.to_path_buf(),
        Some(p) => p.parent().map(Path::to_path_buf).unwrap_or_default(),
        None => PathBuf::from("config"),
    };
    let file = dir.join(FILE);
    file.is_file().then_some(file)
}

/// Loads `federation.toml` and the `pantau.toml` beside it (the embedded settings when there
/// is none), collecting the problems of both.
pub fn load(file: &Path) -> Result<FederationConfig, ConfigError> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    let mut problems = Vec::new();
    let settings_path = file
        .parent()
        .map(|d| d.join("pantau.toml"))
        .unwrap_or_else(|| PathBuf::from("pantau.toml"));
    let settings = match Config::settings_only(&settings_path) {
        Ok(s) => Some(s),
        Err(e) => {
            problems.extend(e.problems);
            None
        }
    };
    let name = file.display().to_string();
    let parsed = match std::fs::read_to_string(file) {
        Ok(text) => parse(&text, &name, &env, &mut problems),
        Err(e) => {
            problems.push(Problem {
                file: name,
                item: "file".into(),
                field: String::new(),
                message: format!("cannot read the federation file ({e}); check its permissions"),
            });
            None
        }
    };
    match (settings, parsed) {
        (Some(settings), Some((follow, cities))) if problems.is_empty() => Ok(FederationConfig {
            settings,
            follow,
            cities,
            file: file.to_path_buf(),
        }),
        _ => Err(ConfigError { problems }),
    }
}

/// Collects problems of one item.
struct Item<'a> {
    file: &'a str,
    item: String,
    problems: &'a mut Vec<Problem>,
}

impl Item<'_> {
    fn problem(&mut self, field: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            file: self.file.to_string(),
            item: self.item.clone(),
            field: field.to_string(),
            message: message.into(),
        });
    }

    /// A string field; a value of another type is a problem.
    fn string(&mut self, t: &toml::Table, key: &str) -> Option<String> {
        match t.get(key) {
            None => None,
            Some(toml::Value::String(s)) => Some(s.trim().to_string()),
            Some(other) => {
                self.problem(
                    key,
                    format!(
                        "must be a string in quotes, found {}",
                        shorten(&other.to_string())
                    ),
                );
                None
            }
        }
    }

    fn required(&mut self, t: &toml::Table, key: &str, example: &str) -> Option<String> {
        match self.string(t, key) {
            Some(s) if !s.is_empty() => Some(s),
            Some(_) => {
                self.problem(key, format!("is empty; write e.g. {key} = \"{example}\""));
                None
            }
            None if t.contains_key(key) => None,
            None => {
                self.problem(key, format!("is missing; write e.g. {key} = \"{example}\""));
                None
            }
        }
    }

    fn unknown(&mut self, t: &toml::Table, known: &[&str]) {
        for key in t.keys() {
            if !known.contains(&key.as_str()) {
                let hint = known
                    .iter()
                    .find(|k| close(k, key))
                    .map(|k| format!("; did you mean `{k}`?"))
                    .unwrap_or_else(|| format!("; the fields are {}", known.join(", ")));
                self.problem(key, format!("is not a known field{hint}"));
            }
        }
    }

    fn duration(&mut self, t: &toml::Table, key: &str, default: Duration) -> Duration {
        match self.string(t, key) {
            None => default,
            Some(text) => match parse_duration(&text) {
                Some(d) if !d.is_zero() => d,
                _ => {
                    self.problem(
                        key,
                        format!(
                            "`{}` is not a duration; write e.g. \"10s\", \"5m\" or \"1h\"",
                            shorten(&text)
                        ),
                    );
                    default
                }
            },
        }
    }
}

/// `500ms`, `10s`, `5m`, `1h`.
fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = text.split_at(split);
    let n: u64 = n.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n.checked_mul(60)?)),
        "h" => Some(Duration::from_secs(n.checked_mul(3600)?)),
        _ => None,
    }
}

/// Two names one typo apart (for "did you mean").
fn close(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()] <= 2
}

fn shorten(t: &str) -> String {
    let mut s: String = t.chars().take(100).collect();
    if s.len() < t.len() {
        s.push('…');
    }
    s
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
}

/// Parses and validates federation text; None when a problem makes it unusable.
pub fn parse(
    text: &str,
    file: &str,
    env: &[(String, String)],
    problems: &mut Vec<Problem>,
) -> Option<(FollowSettings, Vec<CitySpec>)> {
    let before = problems.len();
    let table: toml::Table = match toml::from_str(text) {
        Ok(t) => t,
        Err(e) => {
            problems.push(Problem {
                file: file.to_string(),
                item: "file".into(),
                field: String::new(),
                message: format!("is not valid TOML: {}", e.to_string().trim()),
            });
            return None;
        }
    };
    let mut top = Item {
        file,
        item: "top level".into(),
        problems,
    };
    top.unknown(&table, &["federation", "city"]);
    let defaults = FollowSettings::default();
    let follow = match table.get("federation") {
        None => defaults,
        Some(toml::Value::Table(t)) => {
            let mut r = Item {
                file,
                item: "[federation]".into(),
                problems: top.problems,
            };
            r.unknown(
                t,
                &[
                    "name",
                    "connect_timeout",
                    "read_timeout",
                    "max_message_bytes",
                    "stale_after",
                    "backoff_max",
                ],
            );
            let name = r.string(t, "name").filter(|n| !n.is_empty());
            let max_message_bytes = match t.get("max_message_bytes") {
                None => defaults.max_message_bytes,
                Some(toml::Value::Integer(n)) if (1024..=256 * 1024 * 1024).contains(n) => {
                    *n as usize
                }
                Some(other) => {
                    r.problem(
                        "max_message_bytes",
                        format!(
                            "must be a whole number of bytes between 1024 and 268435456 (256 MiB), found {}; e.g. 16777216 (16 MiB)",
                            shorten(&other.to_string())
                        ),
                    );
                    defaults.max_message_bytes
                }
            };
            FollowSettings {
                name,
                connect_timeout: r.duration(t, "connect_timeout", defaults.connect_timeout),
                read_timeout: r.duration(t, "read_timeout", defaults.read_timeout),
                max_message_bytes,
                stale_after: r.duration(t, "stale_after", defaults.stale_after),
                backoff_max: r.duration(t, "backoff_max", defaults.backoff_max),
            }
        }
        Some(_) => {
            top.problem(
                "federation",
                "must be a table; write `[federation]` on its own line",
            );
            defaults
        }
    };
    let problems = top.problems;
    let entries: Vec<&toml::Table> = match table.get("city") {
        None => Vec::new(),
        Some(toml::Value::Array(a)) => {
            let mut out = Vec::new();
            for (i, v) in a.iter().enumerate() {
                match v {
                    toml::Value::Table(t) => out.push(t),
                    _ => problems.push(Problem {
                        file: file.to_string(),
                        item: format!("city[{i}]"),
                        field: String::new(),
                        message: "must be a table; write each city as a `[[city]]` section".into(),
                    }),
                }
            }
            out
        }
        Some(_) => {
            problems.push(Problem {
                file: file.to_string(),
                item: "top level".into(),
                field: "city".into(),
                message: "must be a list of tables; write each city as a `[[city]]` section".into(),
            });
            Vec::new()
        }
    };
    if entries.is_empty() && table.get("city").is_none() {
        problems.push(Problem {
            file: file.to_string(),
            item: "top level".into(),
            field: "city".into(),
            message: "no city is listed; add a `[[city]]` section with id, name, kind, province and url for each city to follow".into(),
        });
    }
    if entries.len() > MAX_CITIES {
        problems.push(Problem {
            file: file.to_string(),
            item: "top level".into(),
            field: "city".into(),
            message: format!(
                "{} cities are listed; one federation follows at most {MAX_CITIES}",
                entries.len()
            ),
        });
    }
    let mut cities = Vec::new();
    let mut seen_ids: HashMap<String, usize> = HashMap::new();
    let mut seen_urls: HashMap<String, String> = HashMap::new();
    for (i, t) in entries.iter().enumerate() {
        let label = t
            .get("id")
            .and_then(|v| v.as_str())
            .map(|id| format!("city {}", shorten(id)))
            .unwrap_or_else(|| format!("city[{i}]"));
        let mut r = Item {
            file,
            item: label,
            problems,
        };
        r.unknown(
            t,
            &["id", "name", "kind", "province", "url", "token", "zone"],
        );
        let id = r.required(t, "id", "mojokerto");
        let id = match id {
            Some(id) if !valid_id(&id) => {
                r.problem(
                    "id",
                    format!(
                        "`{}` is not a city id; use lowercase letters, digits, `-` and `_` (at most 64), e.g. \"mojokerto\" or \"kab-malang\"",
                        shorten(&id)
                    ),
                );
                None
            }
            Some(id) => {
                if let Some(first) = seen_ids.insert(id.clone(), i) {
                    r.problem(
                        "id",
                        format!("`{id}` is used by city[{first}] too; every city needs its own id"),
                    );
                    None
                } else {
                    Some(id)
                }
            }
            None => None,
        };
        let name = r.required(t, "name", "Kota Mojokerto");
        let kind = match r.required(t, "kind", "kota").as_deref() {
            Some("kota") => Some(CityKind::Kota),
            Some("kabupaten") => Some(CityKind::Kabupaten),
            Some(other) => {
                r.problem(
                    "kind",
                    format!(
                        "`{}` is not a kind of city; use \"kota\" or \"kabupaten\"",
                        shorten(other)
                    ),
                );
                None
            }
            None => None,
        };
        let province = r.required(t, "province", "Jawa Timur");
        let url = match r.required(t, "url", "https://pantau.mojokertokota.go.id") {
            Some(text) => match reqwest::Url::parse(&text) {
                Ok(u)
                    if matches!(u.scheme(), "http" | "https")
                        && u.host().is_some()
                        && u.query().is_none()
                        && u.username().is_empty()
                        && u.password().is_none() =>
                {
                    let key = u.as_str().trim_end_matches('/').to_string();
                    let this = id.clone().unwrap_or_else(|| format!("city[{i}]"));
                    if let Some(other) = seen_urls.insert(key, this) {
                        r.problem(
                            "url",
                            format!(
                                "`{}` is the url of city {other} too; each city has its own pantau",
                                shorten(&text)
                            ),
                        );
                        None
                    } else {
                        Some(u)
                    }
                }
                _ => {
                    r.problem(
                        "url",
                        format!(
                            "`{}` is not the address of a city's pantau; write its http(s) address without query or credentials, e.g. \"https://pantau.mojokertokota.go.id\" (put a token in `token`)",
                            shorten(&text)
                        ),
                    );
                    None
                }
            },
            None => None,
        };
        let token = match r.string(t, "token") {
            None => None,
            Some(s) if s.is_empty() => None,
            Some(s) => match s.strip_prefix("env:") {
                Some(var) => match env.iter().find(|(k, _)| k == var) {
                    Some((_, v)) if !v.is_empty() => Some(Secret::new(v.clone())),
                    _ => {
                        r.problem(
                            "token",
                            format!(
                                "the environment variable `{}` is not set; set it to the city's read token, or remove `token`",
                                shorten(var)
                            ),
                        );
                        None
                    }
                },
                None => Some(Secret::new(s)),
            },
        };
        let zone = match r.string(t, "zone") {
            None => None,
            Some(z) => match z.parse::<Tz>() {
                Ok(tz) => Some(tz),
                Err(_) => {
                    r.problem(
                        "zone",
                        format!(
                            "`{}` is not an IANA time zone; use \"Asia/Jakarta\" (WIB), \"Asia/Makassar\" (WITA) or \"Asia/Jayapura\" (WIT)",
                            shorten(&z)
                        ),
                    );
                    None
                }
            },
        };
        if let (Some(id), Some(name), Some(kind), Some(province), Some(url)) =
            (id, name, kind, province, url)
        {
            cities.push(CitySpec {
                id,
                name,
                kind,
                province,
                url,
                token,
                zone,
            });
        }
    }
    if problems.len() > before {
        return None;
    }
    Some((follow, cities))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str, env: &[(&str, &str)]) -> (Option<Vec<CitySpec>>, Vec<Problem>) {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let mut problems = Vec::new();
        let out = parse(text, "federation.toml", &env, &mut problems).map(|(_, c)| c);
        (out, problems)
    }

    #[test]
    fn a_valid_federation_is_read() {
        let (cities, p) = run(
            r#"
[federation]
name = "Diskominfo Provinsi Jawa Timur"
read_timeout = "30s"
[[city]]
id = "mojokerto"
name = "Kota Mojokerto"
kind = "kota"
province = "Jawa Timur"
url = "http://127.0.0.1:8080/"
token = "env:MJK_TOKEN"
[[city]]
id = "kab-malang"
name = "Kabupaten Malang"
kind = "kabupaten"
province = "Jawa Timur"
url = "https://pantau.malangkab.go.id/sub"
zone = "Asia/Jakarta"
"#,
            &[("MJK_TOKEN", "secret-of-mojokerto")],
        );
        assert!(p.is_empty(), "{p:?}");
        let cities = cities.unwrap();
        assert_eq!(cities.len(), 2);
        assert_eq!(
            cities[0].token.as_ref().unwrap().expose(),
            "secret-of-mojokerto"
        );
        assert_eq!(
            cities[1].live_url(Some((7, "abc"))),
            "wss://pantau.malangkab.go.id/sub/api/v1/live?since=7&epoch=abc"
        );
        assert_eq!(cities[0].live_url(None), "ws://127.0.0.1:8080/api/v1/live");
        assert_eq!(cities[0].page("/healthz"), "http://127.0.0.1:8080/healthz");
    }

    #[test]
    fn every_problem_is_reported() {
        let (cities, p) = run(
            r#"
[federation]
read_timeout = "soon"
[[city]]
id = "mojokerto"
name = "Kota Mojokerto"
kind = "kota"
province = "Jawa Timur"
url = "http://127.0.0.1:8080"
[[city]]
id = "mojokerto"
name = "Kota Mojokerto Lagi"
kind = "kotamadya"
province = "Jawa Timur"
url = "ftp://example"
[[city]]
id = "Surabaya!"
kind = "kota"
province = "Jawa Timur"
url = "http://127.0.0.1:8080/"
token = "env:NOT_SET_ANYWHERE"
zone = "Asia/Surabaya"
urll = "x"
"#,
            &[],
        );
        assert!(cities.is_none());
        let got: Vec<(String, String)> = p
            .iter()
            .map(|p| (p.item.clone(), p.field.clone()))
            .collect();
        let want = [
            ("[federation]", "read_timeout"),
            ("city mojokerto", "id"),
            ("city mojokerto", "kind"),
            ("city mojokerto", "url"),
            ("city Surabaya!", "urll"),
            ("city Surabaya!", "id"),
            ("city Surabaya!", "name"),
            ("city Surabaya!", "url"),
            ("city Surabaya!", "token"),
            ("city Surabaya!", "zone"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(got, want, "{p:#?}");
        assert!(p[1].message.contains("city[0]"), "{}", p[1].message);
        assert!(
            p[4].message.contains("did you mean `url`"),
            "{}",
            p[4].message
        );
        assert!(p[7].message.contains("city mojokerto"), "{}", p[7].message);
    }

    #[test]
    fn no_city_is_a_problem() {
        let (_, p) = run("[federation]\nname = \"x\"\n", &[]);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].field, "city");
        let (_, p) = run("city = 3\n", &[]);
        assert_eq!(p[0].field, "city");
    }

    #[test]
    fn durations_read_as_written() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("m"), None);
        assert_eq!(parse_duration("5 days"), None);
    }
}
