//! Test harness: the real `vagt serve` as a child process on loopback ports, with a temp data dir.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// A running gateway.
pub struct Gateway {
    pub child: Child,
    pub addr: SocketAddr,
    pub metrics: SocketAddr,
    /// The console's address, if it runs.
    pub console: Option<SocketAddr>,
    /// The data directory.
    pub data: std::path::PathBuf,
    /// `--config PATH`, if it was started with one.
    config: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

pub const ACCOUNTS: &str = r#"
[[accounts]]
account = "1234"
citizen = "borger-1"
call_type = "nodkald"

[[accounts]]
account = "5678"
key = "text:0123456789ABCDEF"
call_type = "sygeplejekald"

[[accounts]]
account = "4321"
citizen = "borger-3"
call_type = "sygeplejekald"
district = "sygepleje-vest"
door_lock = "lock-3"
supervision_interval_secs = 3600
"#;

impl Gateway {
    /// Starts a gateway with a fresh data dir and the test accounts.
    pub fn start(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut g = Self::start_on(dir.path(), extra);
        g._dir = Some(dir);
        g
    }

    /// Starts a gateway with a fresh data dir and the embedded default changed by
    /// `replacements` (see [`config_with`]).
    pub fn start_configured(replacements: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = config_with(dir.path(), replacements);
        let mut g = Self::start_on(dir.path(), &["--config", &config]);
        g._dir = Some(dir);
        g
    }

    /// Starts a gateway on an existing data dir (restarts).
    pub fn start_on(data: &Path, extra: &[&str]) -> Self {
        Self::start_with_env(data, extra, &[])
    }

    /// Starts a gateway with extra environment variables (e.g. `LD_PRELOAD`).
    pub fn start_with_env(data: &Path, extra: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> Self {
        let mut vagt = Command::new(env!("CARGO_BIN_EXE_vagt"));
        vagt.envs(env.iter().copied());
        Self::start_command(vagt, data, extra)
    }

    /// Starts `vagt serve` through `command` (the binary, or a wrapper that execs the binary
    /// with the arguments that follow, e.g. to set resource limits).
    pub fn start_command(mut command: Command, data: &Path, extra: &[&str]) -> Self {
        std::fs::create_dir_all(data).unwrap();
        let accounts = data.join("accounts.toml");
        std::fs::write(&accounts, ACCOUNTS).unwrap();
        let mut child = command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--metrics",
                "127.0.0.1:0",
                "--console",
                "127.0.0.1:0",
            ])
            .arg("--data")
            .arg(data)
            .arg("--accounts")
            .arg(&accounts)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = between(&line, "listening on ", " (tcp+udp)")
            .parse()
            .unwrap_or_else(|_| panic!("no address in {line:?}"));
        let metrics = between(&line, "metrics on http://", "/metrics")
            .parse()
            .unwrap();
        let console = line
            .contains("console wss://")
            .then(|| between(&line, "console wss://", "/").parse().unwrap());
        let config = extra
            .iter()
            .position(|a| *a == "--config")
            .and_then(|i| extra.get(i + 1))
            .map(|c| (*c).to_owned());
        Self {
            child,
            addr,
            metrics,
            console,
            data: data.to_owned(),
            config,
            _dir: None,
        }
    }

    /// Sends SIGTERM and returns the exit code.
    pub fn stop(mut self) -> Option<i32> {
        signal(&self.child, "TERM");
        self.child.wait().unwrap().code()
    }

    /// SIGKILL: a crash.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub fn tcp(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_nodelay(true).unwrap();
        s
    }

    /// Sends bytes on a new connection and reads `n` answer frames.
    pub fn exchange(&self, bytes: &[u8], n: usize) -> Vec<Vec<u8>> {
        let mut s = self.tcp();
        s.write_all(bytes).unwrap();
        read_frames(&mut s, n)
    }

    pub fn udp(&self, bytes: &[u8]) -> Vec<u8> {
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        u.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        u.send_to(bytes, self.addr).unwrap();
        let mut buf = [0u8; 2048];
        let (n, from) = u.recv_from(&mut buf).unwrap();
        assert_eq!(from, self.addr);
        buf[..n].to_vec()
    }

    pub fn scrape(&self) -> String {
        self.get("/metrics")
    }

    /// `GET path` on the operations port; the whole response (headers included).
    pub fn get(&self, path: &str) -> String {
        let mut s = TcpStream::connect(self.metrics).unwrap();
        write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
        let mut body = String::new();
        s.read_to_string(&mut body).unwrap();
        body
    }

    /// `GET path` as JSON (the body after the headers).
    pub fn get_json(&self, path: &str) -> Value {
        let r = self.get(path);
        let body = r.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: {e}: {r}"))
    }

    /// Waits until the core has applied everything journaled so far; returns the open alarms
    /// (`vagt alarms`: alarm data is not on the unauthenticated ops port).
    pub fn settled_alarms(&self) -> Value {
        for _ in 0..500 {
            let st = self.get_json("/core");
            if st["applied"] == st["journal_end"] {
                return self.alarms();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the core did not catch up: {}", self.get_json("/core"));
    }

    /// `vagt alarms` on this gateway's data directory, accounts and config.
    pub fn alarms(&self) -> Value {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vagt"));
        cmd.arg("alarms")
            .arg("--data")
            .arg(&self.data)
            .arg("--accounts")
            .arg(self.data.join("accounts.toml"));
        if let Some(c) = &self.config {
            cmd.args(["--config", c]);
        }
        serde_json::from_str(&stdout_of(&mut cmd)).unwrap()
    }

    /// A metric's value (sum over label sets matching `labels`).
    pub fn metric(&self, name: &str, labels: &str) -> f64 {
        self.scrape()
            .lines()
            .filter(|l| l.starts_with(name) && l.contains(labels))
            .filter(|l| l[name.len()..].starts_with(['{', ' ']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `vagt serve` on loopback ports picked by the kernel, data in `data` (add what a test needs).
pub fn serve_command(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vagt"));
    c.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--metrics",
        "127.0.0.1:0",
        "--console",
        "127.0.0.1:0",
        "--data",
    ])
    .arg(data);
    c
}

pub fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(ok.success());
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> &'a str {
    let from = s.find(start).map(|i| i + start.len()).unwrap_or(0);
    let to = s[from..].find(end).map(|i| from + i).unwrap_or(s.len());
    &s[from..to]
}

/// Reads `n` complete frames (LF … CR) from a stream.
pub fn read_frames(s: &mut TcpStream, n: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let mut byte = [0u8; 1];
    while out.len() < n {
        let got = s.read(&mut byte).unwrap();
        assert_eq!(
            got,
            1,
            "connection closed after {} of {n} answers",
            out.len()
        );
        cur.push(byte[0]);
        if byte[0] == b'\r' {
            out.push(std::mem::take(&mut cur));
        }
    }
    out
}

/// `vagt journal export` of a data dir, parsed.
pub fn export(data: &Path) -> Vec<Value> {
    json_lines(
        Command::new(env!("CARGO_BIN_EXE_vagt"))
            .args(["journal", "export", "--data"])
            .arg(data),
    )
}

/// Runs a command that must succeed (its stderr otherwise); its stdout.
pub fn stdout_of(command: &mut Command) -> String {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        command.get_program(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a `vagt` command that prints one JSON object per line (it must succeed); the objects.
pub fn json_lines(command: &mut Command) -> Vec<Value> {
    stdout_of(command)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A clear SIA-DCS frame for `account` / `seq` reporting `code` in `zone`.
pub fn sia(account: &str, seq: u16, code: &str) -> Vec<u8> {
    let body = format!("\"SIA-DCS\"{seq:04}L0#{account}[#{account}|N{code}]");
    vagt_dc09::wrap_body(body.as_bytes()).unwrap()
}

/// Writes a variant of the embedded default config and returns its path.
pub fn config_with(dir: &Path, replacements: &[(&str, &str)]) -> String {
    let mut text = base_config();
    for (from, to) in replacements {
        assert!(text.contains(from), "{from} not in the default config");
        text = text.replace(from, to);
    }
    let path = dir.join("vagt.toml");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

/// The embedded default without its `[console]` section, for tests that add their own.
pub fn base_config() -> String {
    vagt::config::default_without_console()
}
