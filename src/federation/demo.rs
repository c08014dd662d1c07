//! `pantau demo --federation`: several simulated cities, each a real `pantau demo` child process
//! on loopback with its own name, database and moving feeds, and one federation daemon over them
//! in this process. Prints the wall's address; Ctrl-C stops the federation and the cities.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};

/// The simulated cities: id, name, kind.
const CITIES: &[(&str, &str, &str)] = &[
    ("mojokerto", "Kota Mojokerto", "kota"),
    ("blitar", "Kota Blitar", "kota"),
    ("kab-malang", "Kabupaten Malang", "kabupaten"),
    ("madiun", "Kota Madiun", "kota"),
];

/// A city child process, killed when dropped.
struct CityProcess {
    child: Child,
}

impl Drop for CityProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `pantau demo` for one city and returns it with the address it serves on.
fn start_city(
    dir: &std::path::Path,
    id: &str,
    name: &str,
    admin: &str,
) -> anyhow::Result<(CityProcess, String)> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args(["demo", "--listen", "127.0.0.1:0", "--db"])
        .arg(dir.join(format!("{id}.db")))
        .env("PANTAU_CITY__NAME", name)
        .env("PANTAU_AUTH__ADMIN_TOKEN", admin)
        .env("PANTAU_LOG", "warn")
        .env_remove("PANTAU_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| anyhow::anyhow!("no standard error from the {name} demo"))?;
    let process = CityProcess { child };
    let mut reader = std::io::BufReader::new(stderr);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            anyhow::bail!("the {name} demo exited before serving");
        }
        if let Some(rest) = line.split("open http://").nth(1) {
            let addr = rest
                .split_whitespace()
                .next()
                .unwrap_or("")
                .trim_end_matches('/')
                .to_string();
            // Keep reading so that its log never blocks it.
            std::thread::spawn(move || {
                let mut sink = String::new();
                while reader.read_line(&mut sink).unwrap_or(0) > 0 {
                    sink.clear();
                }
            });
            return Ok((process, addr));
        }
    }
}

/// Gives city number `n` figures of its own: every indicator of the example plan gets a value
/// somewhere between its baseline and its final target, different in each city (the simulated
/// feeds keep moving theirs).
async fn vary(http: &reqwest::Client, addr: &str, admin: &str, n: usize) -> anyhow::Result<()> {
    let progress: serde_json::Value = http
        .get(format!("http://{addr}/api/v1/progress"))
        .send()
        .await?
        .json()
        .await?;
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Jakarta)
        .date_naive()
        .to_string();
    let mut rows = Vec::new();
    for (i, ind) in progress["indicators"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let (Some(b), Some(t)) = (
            ind["baseline"]["value"].as_f64(),
            ind["target"]["value"].as_f64(),
        ) else {
            continue;
        };
        if ind["kind"] != "level" || (i + n) % 3 == 0 {
            continue;
        }
        // A spread from about a third of the way to the target up to it, by city and indicator.
        let f = 0.3 + 0.7 * (((i * 7 + n * 13) % 11) as f64 / 10.0);
        let value = ((b + (t - b) * f) * 100.0).round() / 100.0;
        rows.push(serde_json::json!({ "indicator": ind["id"], "time": today, "value": value }));
    }
    let resp = http
        .post(format!("http://{addr}/api/v1/observations"))
        .bearer_auth(admin)
        .json(&serde_json::json!({ "observations": rows }))
        .send()
        .await?;
    if !resp.status().is_success() {
        let status = resp.status();
        let mut body = resp.text().await.unwrap_or_default();
        body.truncate(300);
        anyhow::bail!("the city answered {status}: {body}");
    }
    Ok(())
}

/// Runs the federation demo until Ctrl-C.
pub async fn run(
    listen: Option<std::net::SocketAddr>,
    dashboards: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let stop = crate::server::shutdown_signal();
    let dir = std::env::temp_dir().join(format!("pantau-federation-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()?;
    let mut b = [0u8; 18];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let admin = format!("demo-admin-{}", hex::encode(b));
    let mut cities = Vec::new();
    let mut toml = String::from(
        "[federation]\nname = \"Diskominfo Provinsi Jawa Timur (demo)\"\nstale_after = \"2m\"\n",
    );
    for (n, (id, name, kind)) in CITIES.iter().enumerate() {
        let (process, addr) = start_city(&dir, id, name, &admin)?;
        if let Err(e) = vary(&http, &addr, &admin, n).await {
            eprintln!("pantau demo: {name} keeps the example's figures ({e})");
        }
        eprintln!("pantau demo: {name} at http://{addr}/");
        toml.push_str(&format!(
            "\n[[city]]\nid = \"{id}\"\nname = \"{name}\"\nkind = \"{kind}\"\nprovince = \"Jawa Timur\"\nurl = \"http://{addr}\"\n"
        ));
        cities.push(process);
    }
    std::fs::write(dir.join(super::config::FILE), &toml)?;
    let settings = format!(
        "[server]\nlisten = \"{}\"\n[storage]\ndatabase = \"federation.db\"\n[city]\nname = \"Provinsi Jawa Timur\"\n",
        listen
            .map(|l| l.to_string())
            .unwrap_or_else(|| "127.0.0.1:8090".into())
    );
    std::fs::write(dir.join("pantau.toml"), settings)?;
    let config = super::load(&dir.join(super::config::FILE))?;
    let listener = match tokio::net::TcpListener::bind(config.settings.server.listen).await {
        Ok(l) => l,
        Err(e) if listen.is_none() => {
            eprintln!(
                "pantau demo: {} is busy ({e}); using a free port instead",
                config.settings.server.listen
            );
            tokio::net::TcpListener::bind("127.0.0.1:0").await?
        }
        Err(e) => return Err(e.into()),
    };
    let addr = listener.local_addr()?;
    eprintln!(
        "pantau: {} — a federation of {} simulated cities — open http://{addr}/",
        config.name(),
        config.cities.len()
    );
    let result = super::run(
        config,
        listener,
        super::FederationOptions {
            dashboards_dir: dashboards,
        },
        stop,
    )
    .await;
    drop(cities);
    result
}
