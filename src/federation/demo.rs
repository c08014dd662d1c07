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
fn start_city(dir: &std::path::Path, id: &str, name: &str) -> anyhow::Result<(CityProcess, String)> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args(["demo", "--listen", "127.0.0.1:0", "--db"])
        .arg(dir.join(format!("{id}.db")))
        .env("PANTAU_CITY__NAME", name)
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

/// Runs the federation demo until Ctrl-C.
pub async fn run(
    listen: Option<std::net::SocketAddr>,
    dashboards: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let stop = crate::server::shutdown_signal();
    let dir = std::env::temp_dir().join(format!("pantau-federation-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut cities = Vec::new();
    let mut toml = String::from("[federation]\nname = \"Diskominfo Provinsi Jawa Timur (demo)\"\nstale_after = \"2m\"\n");
    for (id, name, kind) in CITIES {
        let (process, addr) = start_city(&dir, id, name)?;
        eprintln!("pantau demo: {name} at http://{addr}/");
        toml.push_str(&format!(
            "\n[[city]]\nid = \"{id}\"\nname = \"{name}\"\nkind = \"{kind}\"\nprovince = \"Jawa Timur\"\nurl = \"http://{addr}\"\n"
        ));
        cities.push(process);
    }
    std::fs::write(dir.join(super::config::FILE), &toml)?;
    let settings = format!(
        "[server]\nlisten = \"{}\"\n[storage]\ndatabase = \"federation.db\"\n[city]\nname = \"Provinsi Jawa Timur\"\n",
        listen.map(|l| l.to_string()).unwrap_or_else(|| "127.0.0.1:8090".into())
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
