//! A throwaway PostgreSQL cluster for a test: `initdb` and `pg_ctl` in a temporary folder, on a
//! free loopback port, with password authentication (scram-sha-256), stopped and deleted when
//! dropped. As root (CI), the server runs as `nobody` through `runuser`, since PostgreSQL
//! refuses to run as root.
//!
//! Without PostgreSQL's binaries the test fails, saying how to install them, unless
//! `PANTAU_TEST_POSTGRES=skip` is set; then `Cluster::start` returns None and the test returns.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub const USER: &str = "pantau";

pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    pub password: String,
    /// `fsync` on (the load harness: commits as durable as SQLite's); off for the tests.
    durable: bool,
}

/// Whether PostgreSQL's server binaries are here.
pub fn available() -> bool {
    find_bin().is_some()
}

/// The folder with `initdb`, `pg_ctl` and `postgres`: `PANTAU_TEST_POSTGRES_BIN`, else the
/// newest `/usr/lib/postgresql/<version>/bin`, else the `PATH`.
fn find_bin() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("PANTAU_TEST_POSTGRES_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find(|p| p.join("initdb").exists() && p.join("pg_ctl").exists())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Cluster {
    /// A new running cluster, or None when PostgreSQL is missing and `PANTAU_TEST_POSTGRES=skip`.
    pub fn start() -> Option<Cluster> {
        Self::start_as(false)
    }

    /// A new running cluster whose commits reach the disk (`fsync = on`), for measurements.
    pub fn start_durable() -> Option<Cluster> {
        Self::start_as(true)
    }

    fn start_as(durable: bool) -> Option<Cluster> {
        // The test's own HTTP clients and the daemon's TLS share the process's provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let Some(bin) = find_bin() else {
            if std::env::var("PANTAU_TEST_POSTGRES").as_deref() == Ok("skip") {
                eprintln!("PostgreSQL is not installed; skipped (PANTAU_TEST_POSTGRES=skip)");
                return None;
            }
            panic!(
                "the PostgreSQL tests need PostgreSQL's server binaries (initdb, pg_ctl, postgres): install Debian's `postgresql` package (apt-get install postgresql), point PANTAU_TEST_POSTGRES_BIN at their folder, or set PANTAU_TEST_POSTGRES=skip to skip these tests"
            );
        };
        let dir = tempfile::Builder::new()
            .prefix("pantau-pg")
            .tempdir()
            .unwrap();
        let mut password = [0u8; 12];
        getrandom::fill(&mut password).unwrap();
        let cluster = Cluster {
            dir,
            bin,
            port: free_port(),
            password: hex::encode(password),
            durable,
        };
        // The server's user must be able to enter the folder.
        std::fs::set_permissions(
            cluster.dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .unwrap();
        let pwfile = cluster.dir.path().join("pw");
        std::fs::write(&pwfile, &cluster.password).unwrap();
        std::fs::set_permissions(&pwfile, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .unwrap();
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                USER,
                "--auth=scram-sha-256",
                &format!("--pwfile={}", pwfile.display()),
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        );
        cluster.pg_ctl_start();
        Some(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, program: &str, args: &[&str]) {
        let exe = self.bin.join(program);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "nobody", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
        assert!(
            out.status.success(),
            "{program} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn pg_ctl_start(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync={} -c max_connections=200",
            self.port,
            self.dir.path().display(),
            if self.durable { "on" } else { "off" }
        );
        let data = self.data();
        let log = self.dir.path().join("log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-o",
                &options,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "30",
                "start",
            ],
        );
    }

    /// Stops the server at once (as a crash would), leaving its data.
    pub fn stop(&self) {
        let data = self.data();
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }

    /// Starts the server again after `stop`, on the same port.
    pub fn start_again(&self) {
        self.pg_ctl_start();
    }

    /// The URL of database `db` with the password in it.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://{USER}:{}@127.0.0.1:{}/{db}",
            self.password, self.port
        )
    }

    /// The URL without the password (it comes from `PGPASSWORD` or `password = "env:…"`).
    pub fn url_without_password(&self, db: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{db}", self.port)
    }

    /// Runs SQL on database `db` and returns each row's columns joined by `|`.
    pub fn query(&self, db: &str, sql: &str) -> Vec<String> {
        let url = self.url(db);
        let sql = sql.to_string();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .expect("connect to the test cluster");
                tokio::spawn(conn);
                let mut out = Vec::new();
                for m in client.simple_query(&sql).await.expect("test query") {
                    if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
                        let cols: Vec<&str> =
                            (0..r.len()).map(|i| r.get(i).unwrap_or("NULL")).collect();
                        out.push(cols.join("|"));
                    }
                }
                out
            })
        })
        .join()
        .unwrap()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data();
        let exe = self.bin.join("pg_ctl");
        let args = [
            "-D",
            data.to_str().unwrap(),
            "-m",
            "immediate",
            "-w",
            "stop",
        ];
        let _ = if is_root() {
            Command::new("runuser")
                .args(["-u", "nobody", "--"])
                .arg(&exe)
                .args(args)
                .output()
        } else {
            Command::new(&exe).args(args).output()
        };
    }
}
