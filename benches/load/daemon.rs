//! The daemon under test: the real `pantau` binary (built by `cargo bench` with the bench
//! profile) started as a child process on a loopback port, so that its own CPU time and peak RSS
//! can be read from /proc, apart from the load clients in the harness process.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running pantau.
pub struct Daemon {
    child: Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
    /// From spawn to the first successful `GET /healthz`.
    pub startup: Duration,
}

/// The pantau binary cargo built for this bench.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pantau"))
}

/// A free loopback port (bound and released; the daemon binds it right after).
pub fn free_port() -> std::io::Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    l.local_addr()
}

impl Daemon {
    /// Starts `pantau run` with the settings at `config` and waits until it serves.
    pub async fn start(config: &Path) -> anyhow::Result<Daemon> {
        let addr = free_port()?;
        let log = config.with_file_name("pantau.log");
        let began = Instant::now();
        let child = Command::new(binary())
            .arg("--config")
            .arg(config)
            .arg("run")
            .arg("--listen")
            .arg(addr.to_string())
            .env("PANTAU_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()?;
        let mut d = Daemon {
            child,
            addr,
            log,
            startup: Duration::ZERO,
        };
        let deadline = began + Duration::from_secs(120);
        loop {
            if let Ok(mut c) = crate::http::Conn::connect(addr).await {
                if let Ok(r) = c.get("/healthz").await {
                    if r.status == 200 {
                        d.startup = began.elapsed();
                        return Ok(d);
                    }
                }
            }
            if let Some(status) = d.child.try_wait()? {
                anyhow::bail!(
                    "pantau exited with {status} before serving; its log:\n{}",
                    std::fs::read_to_string(&d.log).unwrap_or_default()
                );
            }
            if Instant::now() > deadline {
                anyhow::bail!("pantau did not serve within 120 s");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// User plus system CPU seconds the daemon has used so far.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.pid()).unwrap_or(f64::NAN)
    }

    /// The daemon's peak resident set (VmHWM), in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        peak_rss_mib(self.pid()).unwrap_or(f64::NAN)
    }

    /// SIGTERM, as an operator would stop it; waits for a clean exit.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        for _ in 0..400 {
            if let Some(status) = self.child.try_wait()? {
                anyhow::ensure!(status.success(), "pantau exited with {status}");
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.child.kill();
        anyhow::bail!("pantau did not stop within 20 s of SIGTERM")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Only reached without `stop` (an error on the way): never leave a daemon behind.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`, 100 on Linux).
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// utime + stime of a process, in seconds (children not included).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after its closing parenthesis start at field 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

/// VmHWM of a process, in MiB.
pub fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
