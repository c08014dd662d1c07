//! A small Chrome DevTools Protocol client for browser tests: starts Debian's headless Chromium,
//! opens pages (one flattened session each), navigates, evaluates JavaScript, collects console
//! errors and uncaught exceptions, takes screenshots, emulates print media and prints to PDF.
//! Chromium is killed when the `Browser` is dropped.
#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Where Chromium is expected (Debian's package); `PANTAU_CHROMIUM` overrides it.
pub const CHROMIUM: &str = "/usr/bin/chromium";

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value, String>>>>>;

/// The DevTools connection shared by every page of one browser.
struct Conn {
    out: mpsc::UnboundedSender<Message>,
    pending: Pending,
    next_id: AtomicU64,
    events: broadcast::Sender<Value>,
    /// Console errors and exceptions per session id.
    errors: Arc<Mutex<HashMap<String, Vec<String>>>>,
}

impl Conn {
    async fn call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, tx);
        self.out
            .send(Message::text(msg.to_string()))
            .map_err(|_| format!("{method}: the DevTools connection is closed"))?;
        match tokio::time::timeout(Duration::from_secs(30), rx).await {
            Ok(Ok(r)) => r.map_err(|e| format!("{method}: {e}")),
            Ok(Err(_)) => Err(format!("{method}: the DevTools connection closed")),
            Err(_) => Err(format!("{method}: no answer from Chromium within 30 s")),
        }
    }
}

/// A headless Chromium.
pub struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    conn: Arc<Conn>,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromium_path() -> PathBuf {
    let path = std::env::var_os("PANTAU_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(CHROMIUM));
    assert!(
        path.exists(),
        "browser tests need Chromium at {}: run `apt-get install -y chromium` (or set PANTAU_CHROMIUM)",
        path.display()
    );
    path
}

impl Browser {
    /// Starts Chromium with a fresh profile and connects to it.
    pub async fn launch() -> Browser {
        let path = chromium_path();
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(&path)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-default-apps",
                "--no-first-run",
                "--no-default-browser-check",
                "--hide-scrollbars",
                "--mute-audio",
                "--remote-debugging-port=0",
                "--window-size=1920,1080",
                "--lang=id-ID",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {}: {e}; run `apt-get install -y chromium`",
                    path.display()
                )
            });
        let stderr = child.stderr.take().unwrap();
        let (url_tx, url_rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            // Reads the DevTools address, then keeps draining stderr so Chromium never blocks.
            let mut sent = false;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if !sent {
                    if let Some(i) = line.find("ws://") {
                        let _ = url_tx.send(line[i..].trim().to_string());
                        sent = true;
                    }
                }
            }
        });
        let ws_url = match url_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(u) => u,
            Err(_) => {
                let _ = child.kill();
                panic!("Chromium did not print its DevTools address within 30 s");
            }
        };
        let config = WebSocketConfig::default()
            .read_buffer_size(16 * 1024)
            .max_message_size(Some(512 << 20))
            .max_frame_size(Some(512 << 20));
        let (ws, _) =
            tokio_tungstenite::connect_async_with_config(ws_url.as_str(), Some(config), true)
                .await
                .expect("connects to Chromium's DevTools websocket");
        let (mut sink, mut stream) = ws.split();
        let (out, mut out_rx) = mpsc::unbounded_channel::<Message>();
        tokio::spawn(async move {
            while let Some(m) = out_rx.recv().await {
                if sink.send(m).await.is_err() {
                    break;
                }
            }
        });
        let pending: Pending = Arc::default();
        let errors: Arc<Mutex<HashMap<String, Vec<String>>>> = Arc::default();
        let (events, _) = broadcast::channel(1024);
        {
            let pending = pending.clone();
            let errors = errors.clone();
            let events = events.clone();
            tokio::spawn(async move {
                while let Some(Ok(msg)) = stream.next().await {
                    let Message::Text(text) = msg else { continue };
                    let Ok(v) = serde_json::from_str::<Value>(text.as_str()) else {
                        continue;
                    };
                    if let Some(id) = v["id"].as_u64() {
                        if let Some(tx) = pending.lock().unwrap().remove(&id) {
                            let r = match v.get("error") {
                                Some(e) => Err(e.to_string()),
                                None => Ok(v["result"].clone()),
                            };
                            let _ = tx.send(r);
                        }
                        continue;
                    }
                    if let Some(error) = console_error(&v) {
                        let session = v["sessionId"].as_str().unwrap_or("").to_string();
                        errors
                            .lock()
                            .unwrap()
                            .entry(session)
                            .or_default()
                            .push(error);
                    }
                    let _ = events.send(v);
                }
            });
        }
        Browser {
            child,
            _profile: profile,
            conn: Arc::new(Conn {
                out,
                pending,
                next_id: AtomicU64::new(0),
                events,
                errors,
            }),
        }
    }

    /// Opens a new tab of `width` x `height` CSS pixels.
    pub async fn new_page(&self, width: u32, height: u32) -> Page {
        let target = self
            .conn
            .call(None, "Target.createTarget", json!({ "url": "about:blank" }))
            .await
            .unwrap();
        let target_id = target["targetId"].as_str().unwrap().to_string();
        let attached = self
            .conn
            .call(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target_id, "flatten": true }),
            )
            .await
            .unwrap();
        let session = attached["sessionId"].as_str().unwrap().to_string();
        let page = Page {
            conn: self.conn.clone(),
            session,
        };
        for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
            page.call(domain, json!({})).await;
        }
        page.resize(width, height).await;
        page
    }
}

/// The text of a console error, uncaught exception or error log entry, if `v` is one.
fn console_error(v: &Value) -> Option<String> {
    let p = &v["params"];
    match v["method"].as_str()? {
        "Runtime.consoleAPICalled" if p["type"] == "error" || p["type"] == "assert" => {
            let args: Vec<String> = p["args"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| {
                            x["value"]
                                .as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| x["description"].to_string())
                        })
                        .collect()
                })
                .unwrap_or_default();
            Some(format!("console.error: {}", args.join(" ")))
        }
        "Runtime.exceptionThrown" => {
            let d = &p["exceptionDetails"];
            let text = d["exception"]["description"]
                .as_str()
                .or(d["text"].as_str())
                .unwrap_or("exception");
            Some(format!(
                "uncaught: {text} ({}:{})",
                d["url"].as_str().unwrap_or(""),
                d["lineNumber"]
            ))
        }
        "Log.entryAdded" if p["entry"]["level"] == "error" => Some(format!(
            "log: {} {}",
            p["entry"]["text"].as_str().unwrap_or(""),
            p["entry"]["url"].as_str().unwrap_or("")
        )),
        _ => None,
    }
}

/// One tab.
pub struct Page {
    conn: Arc<Conn>,
    session: String,
}

impl Page {
    async fn call(&self, method: &str, params: Value) -> Value {
        self.conn
            .call(Some(&self.session), method, params)
            .await
            .unwrap()
    }

    /// Sets the viewport to `width` x `height` CSS pixels at a device scale of 1.
    pub async fn resize(&self, width: u32, height: u32) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await;
    }

    /// Loads `url` and waits for its load event.
    pub async fn goto(&self, url: &str) {
        let mut events = self.conn.events.subscribe();
        let r = self.call("Page.navigate", json!({ "url": url })).await;
        assert!(r.get("errorText").is_none(), "cannot load {url}: {r}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Ok(ev))
                    if ev["method"] == "Page.loadEventFired"
                        && ev["sessionId"] == self.session.as_str() =>
                {
                    return;
                }
                Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
                Ok(Err(_)) => panic!("the DevTools connection closed while loading {url}"),
                Err(_) => panic!("{url} did not finish loading within 20 s"),
            }
        }
    }

    /// Evaluates `expression` (awaiting a promise) and returns its JSON value.
    pub async fn try_eval(&self, expression: &str) -> Result<Value, String> {
        let r = self
            .conn
            .call(
                Some(&self.session),
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await?;
        if let Some(d) = r.get("exceptionDetails") {
            return Err(d["exception"]["description"]
                .as_str()
                .or(d["text"].as_str())
                .unwrap_or("exception")
                .to_string());
        }
        Ok(r["result"]["value"].clone())
    }

    pub async fn eval(&self, expression: &str) -> Value {
        self.try_eval(expression)
            .await
            .unwrap_or_else(|e| panic!("evaluating `{expression}`: {e}"))
    }

    /// Polls `expression` until it is truthy, returning its value; None after `timeout`.
    pub async fn wait_for(&self, expression: &str, timeout: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Ok(v) = self.try_eval(expression).await {
                let truthy = !matches!(&v, Value::Null | Value::Bool(false))
                    && v != json!(0)
                    && v != json!("");
                if truthy {
                    return Some(v);
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Console errors and uncaught exceptions seen so far in this tab.
    pub fn errors(&self) -> Vec<String> {
        self.conn
            .errors
            .lock()
            .unwrap()
            .get(&self.session)
            .cloned()
            .unwrap_or_default()
    }

    /// Forgets the errors seen so far.
    pub fn clear_errors(&self) {
        self.conn.errors.lock().unwrap().remove(&self.session);
    }

    /// Puts the file at `path` into the file input matching `selector`, as a person choosing it would.
    pub async fn set_file(&self, selector: &str, path: &Path) {
        let doc = self.call("DOM.getDocument", json!({})).await;
        let root = doc["root"]["nodeId"].clone();
        let found = self
            .call(
                "DOM.querySelector",
                json!({ "nodeId": root, "selector": selector }),
            )
            .await;
        assert!(
            found["nodeId"].as_u64().unwrap_or(0) > 0,
            "no `{selector}` to put a file into"
        );
        self.call(
            "DOM.setFileInputFiles",
            json!({ "nodeId": found["nodeId"], "files": [path.display().to_string()] }),
        )
        .await;
    }

    /// Every piece of visible text that is cut off, clipped, spills out of its box or is
    /// smaller than the rules allow (see `TEXT_PROBLEMS_JS`).
    pub async fn text_problems(&self, rules: TextRules) -> Vec<String> {
        let v = self
            .eval(&format!(
                "{TEXT_PROBLEMS_JS}({}, {})",
                rules.min_px, rules.clip_viewport_y
            ))
            .await;
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `text_problems` inside the frame whose address contains `url_part` (an `<iframe>` of the
    /// page, such as the report preview), laid out at the frame's own size; panics when no such
    /// frame has loaded.
    pub async fn text_problems_in_frame(&self, url_part: &str, rules: TextRules) -> Vec<String> {
        fn find(tree: &Value, part: &str) -> Option<String> {
            if tree["frame"]["parentId"].is_string()
                && tree["frame"]["url"]
                    .as_str()
                    .is_some_and(|u| u.contains(part))
            {
                return tree["frame"]["id"].as_str().map(String::from);
            }
            tree["childFrames"]
                .as_array()?
                .iter()
                .find_map(|c| find(c, part))
        }
        let tree = self.call("Page.getFrameTree", json!({})).await;
        let frame = find(&tree["frameTree"], url_part)
            .unwrap_or_else(|| panic!("no frame of {url_part} in {tree}"));
        let world = self
            .call(
                "Page.createIsolatedWorld",
                json!({ "frameId": frame, "worldName": "text-problems" }),
            )
            .await;
        let r = self
            .call(
                "Runtime.evaluate",
                json!({
                    "expression": format!("{TEXT_PROBLEMS_JS}({}, {})", rules.min_px, rules.clip_viewport_y),
                    "contextId": world["executionContextId"],
                    "returnByValue": true,
                }),
            )
            .await;
        assert!(r.get("exceptionDetails").is_none(), "in the frame: {r}");
        r["result"]["value"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(|p| format!("in the frame: {p}")))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Writes a PNG of the viewport to `path`, creating its folder.
    pub async fn screenshot(&self, path: &Path) {
        let r = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        let png = base64_decode(r["data"].as_str().expect("screenshot data"));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }
}

/// What `Page::text_problems` looks for.
#[derive(Debug, Clone, Copy)]
pub struct TextRules {
    /// Smallest font size in CSS pixels that visible text may have.
    pub min_px: f64,
    /// Text below the bottom of the viewport counts as cut off (the wall does not scroll).
    pub clip_viewport_y: bool,
}

/// Finds text a person cannot read whole: text whose box is too narrow for it (scrollWidth over
/// clientWidth, `text-overflow: ellipsis` in use, lines clamped), text clipped by an ancestor
/// that hides or scrolls its overflow (and, for the wall, by the viewport), text spilling out of
/// the box it sits in (across a card's border), and text smaller than `min_px`. Returns one line
/// per problem naming the element and its text.
const TEXT_PROBLEMS_JS: &str = r#"((minPx, clipY) => {
  const problems = [];
  const seen = new Set();
  const label = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    if (el.classList.length) s += '.' + [...el.classList].slice(0, 3).join('.');
    const owner = el.closest('[data-id]');
    if (owner) s += ` in [data-id=${owner.dataset.id}]`;
    return s;
  };
  const report = (el, what, text) => {
    const key = what + '|' + label(el) + '|' + text;
    if (seen.has(key) || problems.length > 60) return;
    seen.add(key);
    problems.push(`${what}: ${label(el)} "${text.trim().replace(/\s+/g, ' ').slice(0, 80)}"`);
  };
  const boxOf = (el) => {
    for (let a = el; a; a = a.parentElement) {
      const d = getComputedStyle(a).display;
      if (d !== 'inline' && d !== 'contents' && !d.startsWith('table-') ) return a;
      if (d === 'table-cell') return a;
    }
    return document.documentElement;
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const text = node.textContent;
    if (!text.trim()) continue;
    const el = node.parentElement;
    if (!el || el.closest('script, style, template, option, select, textarea, title')) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const rects = [...range.getClientRects()].filter((r) => r.width > 0.5 && r.height > 0.5);
    if (!rects.length) continue;
    const cs = getComputedStyle(el);
    if (cs.visibility !== 'visible') continue;
    let hidden = false;
    for (let a = el; a; a = a.parentElement) if (Number(getComputedStyle(a).opacity) === 0) hidden = true;
    if (hidden) continue;
    const size = parseFloat(cs.fontSize);
    if (size + 0.05 < minPx) report(el, `text of ${size.toFixed(1)}px under ${minPx.toFixed(1)}px`, text);
    const box = boxOf(el);
    const bcs = getComputedStyle(box);
    if (bcs.textOverflow === 'ellipsis' && box.scrollWidth > box.clientWidth + 1) report(box, 'cut with an ellipsis', text);
    if (bcs.webkitLineClamp && bcs.webkitLineClamp !== 'none' && box.scrollHeight > box.clientHeight + 1) report(box, 'lines clamped', text);
    if (bcs.overflowX !== 'visible' && box.scrollWidth > box.clientWidth + 1) report(box, 'wider than its box', text);
    // The text must lie across inside every box it sits in (a cell, a column, a card), and
    // inside every ancestor that clips.
    for (let a = box; a && a !== document.documentElement && a !== document.body; a = a.parentElement) {
      const d = getComputedStyle(a).display;
      if (d === 'inline' || d === 'contents' || (d.startsWith('table-') && d !== 'table-cell')) continue;
      const br = a.getBoundingClientRect();
      if (rects.some((r) => r.left < br.left - 2 || r.right > br.right + 2)) {
        report(el, `spills out of ${label(a)}`, text);
        break;
      }
    }
    for (let a = el.parentElement; a && a !== document.documentElement; a = a.parentElement) {
      const s = getComputedStyle(a);
      const clipX = s.overflowX !== 'visible';
      const clipY = s.overflowY === 'hidden' || s.overflowY === 'clip';
      if (!clipX && !clipY) continue;
      const ar = a.getBoundingClientRect();
      for (const r of rects) {
        if (clipX && (r.left < ar.left - 2 || r.right > ar.right + 2)) report(el, `clipped by ${label(a)}`, text);
        if (clipY && (r.top < ar.top - 2 || r.bottom > ar.bottom + 2)) report(el, `clipped by ${label(a)}`, text);
      }
    }
    for (const r of rects) {
      if (r.right > innerWidth + 1 || r.left < -1) report(el, "beyond the screen's width", text);
      if (clipY && (r.bottom > innerHeight + 1)) report(el, 'below the screen', text);
    }
  }
  // No badge or chip sticks out of the card or cell it sits in.
  for (const b of document.querySelectorAll('.badge, .overdue-chip, .stale-chip, .opd, .qw')) {
    const r = b.getBoundingClientRect();
    if (!r.width) continue;
    for (let a = b.parentElement; a && a !== document.body; a = a.parentElement) {
      const d = getComputedStyle(a).display;
      if (d === 'inline' || d === 'contents' || (d.startsWith('table-') && d !== 'table-cell')) continue;
      const ar = a.getBoundingClientRect();
      if (r.left < ar.left - 1 || r.right > ar.right + 1) {
        report(b, `badge sticks out of ${label(a)}`, b.textContent);
        break;
      }
    }
  }
  if (document.documentElement.scrollWidth > innerWidth + 1) problems.push(`the page is ${document.documentElement.scrollWidth}px wide on a ${innerWidth}px screen`);
  return problems;
})"#;

impl Page {
    /// Lays the page out for `media` (`print` or `screen`), as printing would.
    pub async fn emulate_media(&self, media: &str) {
        self.call("Emulation.setEmulatedMedia", json!({ "media": media }))
            .await;
    }

    /// Prints the page to PDF with the page size and margins its CSS `@page` asks for, with
    /// backgrounds, writes it to `path` (creating its folder) and returns the bytes.
    pub async fn print_to_pdf(&self, path: &Path) -> Vec<u8> {
        let r = self
            .call(
                "Page.printToPDF",
                json!({ "preferCSSPageSize": true, "printBackground": true }),
            )
            .await;
        let pdf = base64_decode(r["data"].as_str().expect("PDF data"));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, &pdf).unwrap();
        pdf
    }
}

/// Decodes standard base64 (as DevTools sends screenshots).
fn base64_decode(s: &str) -> Vec<u8> {
    fn val(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some((c - b'A') as u32),
            b'a'..=b'z' => Some((c - b'a') as u32 + 26),
            b'0'..=b'9' => Some((c - b'0') as u32 + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for v in s.bytes().filter_map(val) {
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

#[test]
fn decodes_base64() {
    assert_eq!(base64_decode("aGVsbG8="), b"hello");
    assert_eq!(base64_decode("aGk="), b"hi");
}
