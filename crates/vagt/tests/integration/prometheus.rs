//! The shipped alert rules (`deploy/prometheus/`) and Grafana dashboard (`deploy/grafana/`)
//! against a real Prometheus scraping a real gateway: promtool's checks and unit tests, every
//! rule evaluated without error over the gateway's real series, every dashboard query valid,
//! and `VagtDown` raised when the gateway dies.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::gateway::{Gateway, sia};

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

/// `prometheus` or `promtool` (Debian's `prometheus` package; `./scripts/test` installs it).
fn program(name: &str) -> Command {
    let found = ["/usr/bin", "/usr/local/bin", "/usr/sbin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("no {name}: ./scripts/test installs the prometheus package"));
    Command::new(found)
}

/// A Prometheus server for the test, killed when dropped.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Scrapes `target` as job `vagt` every second with the shipped rules, evaluated every second.
    fn scraping(target: SocketAddr) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let rules = deploy().join("prometheus/vagt-rules.yml");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
                 rule_files: [\"{}\"]\n\
                 scrape_configs:\n  - job_name: vagt\n    static_configs:\n      - targets: [\"{target}\"]\n",
                rules.display()
            ),
        )
        .unwrap();
        let addr: SocketAddr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let child = program("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let p = Self {
            child,
            addr,
            _dir: dir,
        };
        assert!(
            until(30, || p.try_api("/-/ready").is_some()),
            "Prometheus did not start"
        );
        p
    }

    fn try_api(&self, path: &str) -> Option<String> {
        let mut s = TcpStream::connect(self.addr).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
        let mut r = String::new();
        s.read_to_string(&mut r).ok()?;
        let (head, body) = r.split_once("\r\n\r\n")?;
        head.starts_with("HTTP/1.0 200")
            .then(|| body.to_owned())
            .or_else(|| head.starts_with("HTTP/1.1 200").then(|| body.to_owned()))
    }

    /// `GET /api/v1/…` as JSON (`status` must be `success`).
    fn api(&self, path: &str) -> Value {
        let body = self
            .try_api(path)
            .unwrap_or_else(|| panic!("GET {path} failed"));
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["status"], "success", "{path}: {v}");
        v["data"].clone()
    }

    fn query(&self, expr: &str) -> Vec<Value> {
        let v = self.api(&format!("/api/v1/query?query={}", encode(expr)));
        v["result"].as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn until(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// Percent-encodes a query parameter.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every `expr` of the dashboard's panels.
fn dashboard_queries() -> Vec<String> {
    let text = std::fs::read_to_string(deploy().join("grafana/vagt-dashboard.json")).unwrap();
    let d: Value = serde_json::from_str(&text).unwrap();
    d["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| t["expr"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn promtool_checks_and_unit_tests_pass() {
    let dir = deploy().join("prometheus");
    for args in [
        &["check", "rules", "vagt-rules.yml"][..],
        &["check", "config", "prometheus.yml"][..],
        &["test", "rules", "vagt-rules.test.yml"][..],
    ] {
        let out = program("promtool")
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn rules_and_dashboard_work_against_a_real_prometheus_and_gateway() {
    let g = Gateway::start(&[]);
    let prom = Prometheus::scraping(g.metrics);
    for seq in 1..=5u16 {
        assert_eq!(g.exchange(&sia("1234", seq, "BA1"), 1).len(), 1);
    }
    assert!(
        until(30, || !prom
            .query("vagt_frames_total{outcome=\"ack\"}")
            .is_empty()),
        "Prometheus never scraped the gateway"
    );
    // Every rule was evaluated over the real series, without an error.
    assert!(
        until(30, || {
            let rules = prom.api("/api/v1/rules");
            let all: Vec<Value> = rules["groups"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
                .collect();
            all.len() >= 14
                && all
                    .iter()
                    .all(|r| r["health"] == "ok" && r["lastEvaluation"] != "0001-01-01T00:00:00Z")
        }),
        "rules not all evaluated cleanly: {}",
        prom.api("/api/v1/rules")
    );
    // A healthy gateway raises nothing.
    let firing = prom.api("/api/v1/alerts");
    assert_eq!(firing["alerts"].as_array().unwrap().len(), 0, "{firing}");
    // Every dashboard query is valid PromQL; the receiving panels have data.
    let queries = dashboard_queries();
    assert!(queries.len() >= 15);
    for q in &queries {
        prom.query(q);
    }
    for q in queries.iter().filter(|q| {
        q.contains("vagt_frames_total")
            || q.contains("vagt_connections_open")
            || q.contains("vagt_core_alarms_open")
    }) {
        assert!(until(30, || !prom.query(q).is_empty()), "no data for {q}");
    }
    // The gateway dies: VagtDown is raised (pending for its 30 s, then firing).
    g.kill();
    assert!(
        until(30, || {
            prom.api("/api/v1/alerts")["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["labels"]["alertname"] == "VagtDown")
        }),
        "VagtDown was not raised"
    );
}
