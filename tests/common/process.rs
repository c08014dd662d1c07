//! The real `pantau` binary as tests use it: a daemon child process (`pantau run --config`) whose
//! address is read from its `open http://` line (plain, or a JSON log event) and whose standard
//! error is kept, and one-shot
//! commands (`pantau check`, `import`, `token`, ...).
#![allow(dead_code)]

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A `pantau` command with quiet logs unless the test sets its own.
pub fn pantau() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pantau"));
    c.env("PANTAU_LOG", "warn");
    c
}

/// Runs `pantau <args>` to completion.
pub fn pantau_output(args: &[&str]) -> Output {
    pantau().args(args).output().expect("run pantau")
}

/// A running `pantau run` child, killed when dropped.
pub struct Daemon {
    pub child: std::process::Child,
    /// `host:port` it serves on.
    pub addr: String,
    stderr: Arc<Mutex<String>>,
}

impl Daemon {
    /// Starts `pantau run --config <config> [extra...]` and waits until it says where it serves.
    pub fn start(config: &Path) -> Daemon {
        Self::start_with(config, &[], &[])
    }

    /// Like `start`, with more arguments and environment variables.
    pub fn start_with(config: &Path, args: &[&str], env: &[(&str, &str)]) -> Daemon {
        match Self::try_start(config, args, env) {
            Ok(d) => d,
            Err(log) => panic!("pantau exited before serving:\n{log}"),
        }
    }

    /// Starts the daemon; Err(standard error) when it exits before serving.
    pub fn try_start(config: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<Daemon, String> {
        let mut all = vec!["run", "--config", config.to_str().expect("a UTF-8 path")];
        all.extend_from_slice(args);
        Self::spawn(&all, env)
    }

    /// Starts `pantau <args>` (a command that serves, such as `run` or `demo`) and waits for its
    /// `open http://` line; Err(standard error) when it exits before serving.
    pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> Result<Daemon, String> {
        let mut cmd = pantau();
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Self::spawn_command(cmd)
    }

    /// Starts `pantau run --config <config>` with its open-file limit lowered to `open_files`
    /// (`sh -c 'ulimit -n N; exec pantau run ...'`), so that descriptors run out for real.
    pub fn start_with_open_files(config: &Path, open_files: u64, env: &[(&str, &str)]) -> Daemon {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!(
                "ulimit -n {open_files} && exec \"$0\" run --config \"$1\""
            ))
            .arg(env!("CARGO_BIN_EXE_pantau"))
            .arg(config)
            .env("PANTAU_LOG", "warn");
        for (k, v) in env {
            cmd.env(k, v);
        }
        match Self::spawn_command(cmd) {
            Ok(d) => d,
            Err(log) => panic!("pantau exited before serving:\n{log}"),
        }
    }

    /// Spawns `cmd` (a `pantau run`) and waits until it says where it serves; Err(standard
    /// error) when it exits before that.
    pub fn spawn_command(mut cmd: Command) -> Result<Daemon, String> {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start pantau");
        let mut reader = std::io::BufReader::new(child.stderr.take().unwrap());
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut line = String::new();
        let addr = loop {
            line.clear();
            let n = reader.read_line(&mut line).unwrap_or(0);
            if n == 0 {
                let _ = child.wait();
                return Err(stderr.lock().unwrap().clone());
            }
            stderr.lock().unwrap().push_str(&line);
            // `pantau: <city> — open http://ADDR/`, as a plain line or inside a JSON log event
            // (PANTAU_LOG_FORMAT=json): the address is what follows, up to the slash.
            if let Some(rest) = line.split("open http://").nth(1) {
                let addr: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '[' | ']'))
                    .collect();
                break addr;
            }
        };
        // Keep draining standard error so that logging never blocks the daemon.
        let keep = stderr.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                keep.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        Ok(Daemon {
            child,
            addr,
            stderr,
        })
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The status of `GET /healthz` over a plain blocking socket, if it answers.
    pub fn healthz(&self) -> Option<u16> {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&self.addr).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(
            s,
            "GET /healthz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .ok()?;
        let mut head = [0u8; 12];
        s.read_exact(&mut head).ok()?;
        std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
    }

    /// Everything the daemon wrote to standard error so far.
    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends a signal by name (`HUP`, `TERM`, `KILL`, ...).
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// SIGKILL and reap.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
    }

    /// Waits up to `limit` for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
