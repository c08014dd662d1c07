//! Test helpers: start the real daemon on port 0 with a temporary database, and talk to it over
//! loopback with real HTTP and real websockets.
#![allow(dead_code)]

pub mod postgres;
pub mod process;
#[allow(unused_imports)]
pub use process::{Daemon, pantau, pantau_output};
use std::sync::Arc;

use futures_util::StreamExt;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

pub const ADMIN: &str = "admin-token-for-tests-0123456789";

/// One quick-win program with one increasing indicator (`living.health.visits`) owned by Dinkes,
/// its target far away: a plan whose every post is valid, for floods and operations.
pub const VISITS_PLAN: &str = r#"
[[department]]
id = "dinkes"
name = "Dinas Kesehatan"
[[dimension]]
id = "living"
name = "Smart Living"
[[program]]
id = "living.health"
dimension = "living"
name = "Mojokerto Sehat"
department = "dinkes"
quick_win = true
start = 2020-01-01
due = 2030-12-31
[[indicator]]
id = "living.health.visits"
program = "living.health"
name = "Kunjungan puskesmas"
unit = "orang"
direction = "increase"
baseline = { date = 2020-01-01, value = 0.0 }
targets = [{ date = 2030-12-31, value = 1000000000.0 }]
update_every = "1d"
"#;

/// The example masterplan shipped in config/.
pub fn example_masterplan() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/masterplan.toml"
    ))
    .unwrap()
}

pub struct TestApp {
    pub addr: std::net::SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub config_path: PathBuf,
    /// The PostgreSQL cluster the daemon stores in (None: SQLite at `db`).
    pub cluster: Option<Arc<postgres::Cluster>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// Which store a test's daemon uses: the same tests run on both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where a test's daemon stores: the `[storage]` lines for its settings, and the cluster that
/// must outlive it (PostgreSQL).
pub struct Storage {
    pub settings: String,
    pub cluster: Option<Arc<postgres::Cluster>>,
}

impl Storage {
    /// The SQLite file `pantau.db` in `dir`, or a new PostgreSQL cluster. None: PostgreSQL is
    /// missing and `PANTAU_TEST_POSTGRES=skip` is set.
    pub fn new(backend: Backend, dir: &Path) -> Option<Storage> {
        Some(match backend {
            Backend::Sqlite => Storage {
                settings: format!("database = \"{}\"", dir.join("pantau.db").display()),
                cluster: None,
            },
            Backend::Postgres => Self::on(Arc::new(postgres::Cluster::start()?)),
        })
    }

    /// Database `postgres` of `cluster`.
    pub fn on(cluster: Arc<postgres::Cluster>) -> Storage {
        Storage {
            settings: format!("url = \"{}\"", cluster.url("postgres")),
            cluster: Some(cluster),
        }
    }
}

/// Writes pantau.toml + masterplan.toml into `dir` and returns the settings path.
pub fn write_config(dir: &Path, masterplan: &str, extra_settings: &str) -> PathBuf {
    let storage = format!("database = \"{}\"", dir.join("pantau.db").display());
    write_config_on(dir, masterplan, extra_settings, &storage)
}

/// Like `write_config`, with `storage` as the `[storage]` table's lines.
pub fn write_config_on(
    dir: &Path,
    masterplan: &str,
    extra_settings: &str,
    storage: &str,
) -> PathBuf {
    std::fs::write(dir.join("masterplan.toml"), masterplan).unwrap();
    let settings = format!(
        "masterplan = \"masterplan.toml\"\n[server]\nlisten = \"127.0.0.1:0\"\n{extra_settings}\n[storage]\n{storage}\n[city]\nname = \"Kota Uji\"\ntime_zone = \"Asia/Jakarta\"\n[auth]\nadmin_token = \"{ADMIN}\"\n",
    );
    let path = dir.join("pantau.toml");
    std::fs::write(&path, settings).unwrap();
    path
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&example_masterplan(), "").await
}

pub async fn spawn_app_with(masterplan: &str, extra_settings: &str) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_config(dir.path(), masterplan, extra_settings);
    start_in(dir, config_path, pantau::app::RunOptions::default()).await
}

/// Starts the daemon on `backend`; None when PostgreSQL is missing and
/// `PANTAU_TEST_POSTGRES=skip` is set (the test then returns).
pub async fn spawn_app_on(
    backend: Backend,
    masterplan: &str,
    extra_settings: &str,
) -> Option<TestApp> {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::new(backend, dir.path())?;
    let config_path = write_config_on(dir.path(), masterplan, extra_settings, &storage.settings);
    let mut app = start_in(dir, config_path, pantau::app::RunOptions::default()).await;
    app.cluster = storage.cluster;
    Some(app)
}

/// Runs each named `async fn(Backend)` as two tests, `<name>::sqlite` and `<name>::postgres`
/// (`multi_thread: names` runs them on a runtime of two worker threads).
#[macro_export]
macro_rules! on_both_backends {
    (multi_thread: $($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::common::Backend::Postgres).await
                }
            }
        )*
    };
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
                #[tokio::test]
                async fn postgres() {
                    super::$name($crate::common::Backend::Postgres).await
                }
            }
        )*
    };
}

/// A client that asks for English answers (`Accept-Language: en`).
pub fn english_client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "accept-language",
        reqwest::header::HeaderValue::from_static("en"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

/// Starts the daemon on an existing folder (for restarts).
pub async fn start_in(
    dir: tempfile::TempDir,
    config_path: PathBuf,
    options: pantau::app::RunOptions,
) -> TestApp {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = pantau::config::Config::load(Some(&config_path)).expect("valid test config");
    let db = config.settings.database.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(pantau::server::run(config, listener, options, async move {
        let _ = rx.await;
    }));
    let app = TestApp {
        addr,
        base: format!("http://{addr}"),
        // API errors answer in the request's language, else the city's (`id`); the tests that
        // read English messages ask for English, as an English-speaking client would.
        client: english_client(),
        dir,
        db,
        config_path,
        cluster: None,
        stop: Some(tx),
        handle: Some(handle),
    };
    for _ in 0..200 {
        if let Ok(r) = app.client.get(format!("{}/healthz", app.base)).send().await {
            if r.status().is_success() {
                return app;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("daemon did not start");
}

impl TestApp {
    /// Stops the daemon (as SIGTERM would) and waits for it; returns the folder for a restart.
    pub async fn stop(mut self) -> (tempfile::TempDir, PathBuf) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            tokio::time::timeout(Duration::from_secs(20), h)
                .await
                .expect("daemon stops within 20 s")
                .unwrap()
                .expect("daemon exits cleanly");
        }
        (self.dir, self.config_path)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self.client.get(self.url(path)).send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// The status and the body as text (for `/metrics` and pages).
    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let r = self.client.get(self.url(path)).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.text().await.unwrap())
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn post_bytes(
        &self,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// The settings the daemon runs with.
    pub fn config(&self) -> pantau::config::Config {
        pantau::config::Config::load(Some(&self.config_path)).expect("valid test config")
    }

    /// Runs a query that yields one text column, on whichever store the daemon uses.
    pub fn rows(&self, sql: &str) -> Vec<String> {
        if let Some(cluster) = &self.cluster {
            return cluster.query("postgres", sql);
        }
        let c = rusqlite::Connection::open(&self.db).unwrap();
        let mut s = c.prepare(sql).unwrap();
        s.query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    }

    /// Runs a statement that yields nothing (an `UPDATE` crafting the data), on whichever store
    /// the daemon uses.
    pub fn execute(&self, sql: &str) {
        if let Some(cluster) = &self.cluster {
            cluster.query("postgres", sql);
            return;
        }
        rusqlite::Connection::open(&self.db)
            .unwrap()
            .execute(sql, [])
            .unwrap();
    }

    /// Revokes token `token` the way `pantau token revoke` does.
    pub fn revoke(&self, token: &str) {
        let id: i64 = token.split('_').nth(1).unwrap().parse().unwrap();
        let revoked = match &self.config().settings.postgres {
            Some(p) => pantau::store::postgres::revoke_token_blocking(p, id).unwrap(),
            None => {
                let conn = pantau::store::open_writer(&self.db).unwrap();
                pantau::store::tokens::revoke(&conn, id).unwrap()
            }
        };
        assert_eq!(revoked, pantau::store::tokens::Revoked::Now);
    }

    /// Creates a department token the way `pantau token create` does.
    pub fn token(&self, department: &str) -> String {
        if let Some(p) = &self.config().settings.postgres {
            let d = pantau::domain::DepartmentId::parse(department).unwrap();
            return pantau::store::postgres::create_token_blocking(p, &d, "")
                .unwrap()
                .1;
        }
        let conn = pantau::store::open_writer(&self.db).unwrap();
        let d = pantau::domain::DepartmentId::parse(department).unwrap();
        pantau::store::tokens::create(&conn, &d, "test").unwrap().1
    }

    pub async fn indicator(&self, id: &str) -> Value {
        let (s, v) = self.get("/api/v1/progress").await;
        assert_eq!(s, 200);
        v["indicators"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("indicator {id} not in progress"))
    }

    pub fn ws_url(&self, query: &str) -> String {
        format!("ws://{}/api/v1/live{query}", self.addr)
    }
}

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn connect(url: &str) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket connects");
    ws
}

/// The next JSON text message, within `secs` seconds.
pub async fn next_json(ws: &mut Ws, secs: u64) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(secs), ws.next())
            .await
            .expect("a message in time")
            .expect("stream open")
            .expect("no websocket error");
        if let Message::Text(t) = msg {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

/// Today in Jakarta as YYYY-MM-DD, and `days` before it.
pub fn jakarta_date(days_ago: i64) -> String {
    let now = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Jakarta)
        .date_naive();
    (now - chrono::Duration::days(days_ago)).to_string()
}

/// Asserts that the JSON number `a` is `b`, within a millionth of it (or of 1 near zero).
pub fn close(a: &Value, b: f64) {
    let a = a.as_f64().unwrap_or_else(|| panic!("{a} is not a number"));
    assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{a} != {b}");
}

/// Milliseconds since the epoch as RFC 3339 in UTC, to the second.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The SQLite database at `db`, opened read-only (beside a daemon that writes it).
pub fn open_ro(db: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
}

/// A new token of `department`, stored in the SQLite database at `db` as `pantau token create`
/// stores it (for a daemon that runs in a child process).
pub fn department_token(db: &Path, department: &str) -> String {
    let conn = pantau::store::open_writer(db).unwrap();
    let d = pantau::domain::DepartmentId::parse(department).unwrap();
    pantau::store::tokens::create(&conn, &d, "test").unwrap().1
}

/// A new token of `department`, made by the real `pantau token create --config <config>`.
pub fn cli_token(config: &Path, department: &str) -> String {
    let out = pantau()
        .args(["token", "create", department, "--config"])
        .arg(config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A temporary folder holding `masterplan.toml` (`plan`) and `pantau.toml` (`write_config`,
/// with `server_extra` in its `[server]` table); the folder and the settings path.
pub fn config_dir(plan: &str, server_extra: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), plan, server_extra);
    (dir, config)
}

/// A client whose every request gives up after `timeout`.
pub fn client(timeout: Duration) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(timeout).build().unwrap()
}

/// The value of an unlabelled metric in Prometheus text.
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// The text of `GET {base}/metrics`.
pub async fn metrics(client: &reqwest::Client, base: &str) -> String {
    client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}
