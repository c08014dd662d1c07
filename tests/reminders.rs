//! Reminders against a real SMTP server on loopback (Python's aiosmtpd, started by the test) and
//! a real webhook receiver: an overdue update reaches its department by e-mail once per period
//! (also across a restart) and as an `update_overdue` event; a department without an address gets
//! the event only; a mail server that is down delays nothing else; the daily digest.

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use warp::Filter;

/// aiosmtpd writing every message it receives into a maildir.
struct Smtp {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl Smtp {
    fn start(dir: &Path) -> Smtp {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let maildir = dir.join("maildir");
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m aiosmtpd (pip install aiosmtpd; .ci/run installs it)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Smtp {
            child,
            port,
            maildir,
        }
    }

    /// Every message received so far, as text with quoted-printable decoded.
    fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.maildir.join(sub)) else {
                continue;
            };
            for e in entries.flatten() {
                if let Ok(raw) = std::fs::read(e.path()) {
                    out.push(decode_quoted_printable(&String::from_utf8_lossy(&raw)));
                }
            }
        }
        out
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Soft line breaks removed and `=XX` decoded (UTF-8), enough to read the body of a message.
fn decode_quoted_printable(s: &str) -> String {
    let joined = s.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A webhook receiver on loopback collecting every event it is sent.
async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    let route = warp::post().and(warp::body::json()).map(move |v: Value| {
        keep.lock().unwrap().push(v);
        warp::reply()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(route).incoming(listener).run());
    (format!("http://{addr}/hook"), got)
}

/// Dinkes (with an address) and DLH (without) each own a daily indicator with no value yet, and
/// Dinkes one that is up to date.
fn plan() -> String {
    let start = jakarta_date(20);
    format!(
        r#"
[[department]]
id = "dinkes"
name = "Dinas Kesehatan"
email = ["kadis@dinkes.kota.example"]
[[department]]
id = "dlh"
name = "Dinas Lingkungan Hidup"
[[dimension]]
id = "living"
name = "Smart Living"
[[program]]
id = "living.health"
dimension = "living"
name = "Kota Sehat"
department = "dinkes"
horizon = "short"
start = {start}
due = 2035-12-31
[[indicator]]
id = "living.health.visits"
program = "living.health"
name = "Kunjungan posyandu harian"
unit = "orang"
direction = "increase"
baseline = {{ date = {start}, value = 0.0 }}
targets = [{{ date = 2035-12-31, value = 100.0 }}]
update_every = "1d"
[[indicator]]
id = "living.health.fresh"
program = "living.health"
name = "Selalu diperbarui"
unit = "orang"
direction = "increase"
baseline = {{ date = {start}, value = 0.0 }}
targets = [{{ date = 2035-12-31, value = 100.0 }}]
update_every = "1y"
[[indicator]]
id = "living.health.air"
program = "living.health"
name = "Sampel udara harian"
unit = "sampel"
department = "dlh"
direction = "increase"
baseline = {{ date = {start}, value = 0.0 }}
targets = [{{ date = 2035-12-31, value = 100.0 }}]
update_every = "1d"
"#
    )
}

/// Extra settings for `write_config`, which puts them inside `[server]` (where `public_url` is).
fn settings(smtp_port: u16, hook: &str, extra: &str) -> String {
    format!(
        "public_url = \"https://pantau.kota.example\"\n[reminders]\nenabled = true\ncheck_every = \"1s\"\n{extra}\n[smtp]\nhost = \"127.0.0.1\"\nport = {smtp_port}\nsecurity = \"none\"\nfrom = \"pantau <pantau@kota.example>\"\ntimeout = \"2s\"\n[webhooks]\nurls = [\"{hook}\"]\nretries = 0\n"
    )
}

async fn wait_for(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn overdue_events(got: &Arc<Mutex<Vec<Value>>>) -> Vec<Value> {
    got.lock()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "update_overdue")
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdue_update_reaches_its_department_once_per_period() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = Smtp::start(dir.path());
    let (hook, got) = receiver().await;
    let app = spawn_app_with(&plan(), &settings(smtp.port, &hook, "")).await;
    let (s, _) = app
        .post_json(
            "/api/v1/observations",
            Some(ADMIN),
            &json!({"observations": [{"indicator": "living.health.fresh", "time": jakarta_date(0), "value": 5.0}]}),
        )
        .await;
    assert_eq!(s, 200);

    wait_for("a reminder e-mail", 20, || !smtp.messages().is_empty()).await;
    wait_for("two update_overdue events", 20, || {
        overdue_events(&got).len() >= 2
    })
    .await;
    let mail = smtp.messages().remove(0);
    for needle in [
        "kadis@dinkes.kota.example",
        "indikator Dinas Kesehatan belum diperbarui",
        "Yth. Kepala Dinas Kesehatan",
        "Kunjungan posyandu harian (living.health.visits)",
        "tenggat:",
        "https://pantau.kota.example/department/dinkes",
    ] {
        assert!(mail.contains(needle), "missing `{needle}` in:\n{mail}");
    }
    assert!(
        !mail.contains("Selalu diperbarui"),
        "an up-to-date indicator is not in it"
    );
    assert!(
        !mail.contains("Sampel udara"),
        "another department's indicator is not in it"
    );
    let events = overdue_events(&got);
    let ids: Vec<&str> = events.iter().filter_map(|e| e["id"].as_str()).collect();
    assert!(
        ids.contains(&"living.health.visits") && ids.contains(&"living.health.air"),
        "{ids:?}"
    );

    // Several looks later: still one e-mail and one event per indicator.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(smtp.messages().len(), 1);
    assert_eq!(overdue_events(&got).len(), 2);
    let (_, metrics) = app.get_text("/metrics").await;
    assert!(
        metrics.contains("pantau_reminder_emails_sent_total 1"),
        "{metrics}"
    );

    // Across a restart nothing goes out again.
    let (dir2, cfg) = app.stop().await;
    let app = start_in(dir2, cfg, Default::default()).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(smtp.messages().len(), 1, "no second e-mail after a restart");
    assert_eq!(
        overdue_events(&got).len(),
        2,
        "no second event after a restart"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_server_that_is_down_delays_nothing_else() {
    // A port that accepts connections and never answers (the worst kind of down).
    let hang = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = hang.local_addr().unwrap().port();
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = hang.accept().await {
            keep.lock().unwrap().push(s);
        }
    });
    let (hook, got) = receiver().await;
    let app = spawn_app_with(&plan(), &settings(port, &hook, "")).await;
    wait_for("the events", 20, || overdue_events(&got).len() >= 2).await;
    // While the e-mail hangs, posts and reads are served.
    let (s, _) = app
        .post_json(
            "/api/v1/observations",
            Some(ADMIN),
            &json!({"observations": [{"indicator": "living.health.fresh", "time": jakarta_date(0), "value": 7.0}]}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = app.get("/healthz").await;
    assert_eq!(s, 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, metrics) = app.get_text("/metrics").await;
        if metrics
            .lines()
            .any(|l| l.starts_with("pantau_reminder_email_failures_total") && !l.ends_with(" 0"))
        {
            break;
        }
        assert!(Instant::now() < deadline, "no failure counted:\n{metrics}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_digest_lists_every_overdue_update_on_its_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = Smtp::start(dir.path());
    let (hook, _got) = receiver().await;
    let app = spawn_app_with(
        &plan(),
        &settings(smtp.port, &hook, "digest = \"*/2 * * * * *\""),
    )
    .await;
    wait_for("a digest", 20, || !smtp.messages().is_empty()).await;
    let mail = smtp.messages().remove(0);
    assert!(mail.contains("Ringkasan harian"), "{mail}");
    assert!(mail.contains("living.health.visits"), "{mail}");
    // One digest per fire, never one per indicator.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let n = smtp.messages().len();
    assert!(
        (2..=5).contains(&n),
        "{n} digests in about 6 s of a 2 s schedule"
    );
    app.stop().await;
}
