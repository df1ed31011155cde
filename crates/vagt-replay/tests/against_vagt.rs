//! `vagt-replay` (the real binary) against a real Vagt gateway on loopback: every ACKed alarm
//! is in the journal exactly once, the tool's counts agree with the gateway's `/metrics`, and
//! storms, NAKs and UDP behave as a device would.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use vagt::config::{Config, default_without_console};
use vagt::serve::{Running, start};
use vagt_records::Accounts;
use vagt_replay::scenario::Scenario;

/// Metrics are per process: gateways in this file run one at a time, and counts are compared
/// as differences.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

struct Gateway {
    _one: std::sync::MutexGuard<'static, ()>,
    rt: tokio::runtime::Runtime,
    running: Option<Running>,
    dir: tempfile::TempDir,
}

impl Gateway {
    /// A gateway whose accounts file is the fleets' of `scenarios`.
    fn start(scenarios: &[&str]) -> Self {
        let one = ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let dir = tempfile::tempdir().unwrap();
        let accounts: String = scenarios
            .iter()
            .map(|s| Scenario::parse(s).unwrap().accounts_file())
            .collect();
        let text = default_without_console()
            .replace("listen = \"0.0.0.0:7050\"", "listen = \"127.0.0.1:0\"")
            .replace("metrics = \"127.0.0.1:9464\"", "metrics = \"127.0.0.1:0\"");
        let mut config = Config::parse(&text, Path::new(".")).unwrap();
        config.gateway.data = dir.path().to_owned();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let running = rt
            .block_on(start(config, Accounts::parse(&accounts).unwrap()))
            .unwrap();
        Self {
            _one: one,
            rt,
            running: Some(running),
            dir,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.running.as_ref().unwrap().addr
    }

    /// The sum of a counter's series whose labels contain `labels`.
    fn metric(&self, name: &str, labels: &str) -> f64 {
        let addr = self.running.as_ref().unwrap().metrics_addr;
        let mut s = TcpStream::connect(addr).unwrap();
        write!(
            s,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        text.lines()
            .filter(|l| l.starts_with(name) && l.contains(labels))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            let _ = self.rt.block_on(r.shutdown(Duration::from_secs(5)));
        }
    }
}

/// Runs `scenario` with the tool against `target`, verifying the journal in `data`, with an
/// HTML report too; returns the exit status and the JSON report.
fn replay(scenario: &str, target: SocketAddr, data: &Path) -> (i32, Value) {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("scenario.toml");
    std::fs::write(&path, scenario).unwrap();
    let html = dir.path().join("report.html");
    let (code, report, stderr) = tool(&[
        "run",
        path.to_str().unwrap(),
        "--target",
        &target.to_string(),
        "--verify-journal",
        data.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert!(stderr.contains("ACK latency ms"), "{stderr}");
    assert!(std::fs::read_to_string(&html).unwrap().contains("<svg"));
    (code, report)
}

const BURST: &str = r#"
name = "burst"
seed = 7
[fleet]
devices = 60
account_start = 700000
key_bits = 128
cid_share = 0.5
[burst]
at_secs = 0.1
within_secs = 0.3
"#;

const STORM: &str = r#"
name = "storm"
seed = 8
[fleet]
devices = 40
account_start = 710000
key_bits = 256
[burst]
within_secs = 0.05
[device]
ack_timeout_ms = 1
retries = 200
extra_copies = 3
"#;

const UDP_SKEWED: &str = r#"
name = "udp-skewed"
transport = "udp"
seed = 9
[fleet]
devices = 20
account_start = 720000
key_bits = 192
clock_skew_secs = -900
[burst]
within_secs = 0.2
[device]
ack_timeout_ms = 2000
"#;

const DIALLERS: &str = r#"
name = "diallers"
connection = "per_message"
duration_secs = 2
seed = 10
[fleet]
devices = 10
account_start = 730000
null_interval_secs = 0.5
alarm_interval_secs = 0.5
"#;

#[test]
fn every_acked_alarm_is_journaled_once_and_counts_match_the_gateway() {
    let g = Gateway::start(&[BURST, STORM, UDP_SKEWED, DIALLERS]);
    let data = g.dir.path().to_owned();

    let acks = g.metric("vagt_frames_total", "outcome=\"ack\"");
    let sia = g.metric("vagt_frames_total", "type=\"*SIA-DCS\"");
    let cid = g.metric("vagt_frames_total", "type=\"*ADM-CID\"");
    let naks = g.metric("vagt_frames_total", "outcome=\"nak\"");
    let (code, r) = replay(BURST, g.addr(), &data);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["counts"]["sent"], 60);
    assert_eq!(r["counts"]["acked"], 60);
    assert_eq!(r["journal"]["once"], 60);
    assert_eq!(
        g.metric("vagt_frames_total", "outcome=\"ack\"") - acks,
        60.0
    );
    let sia = g.metric("vagt_frames_total", "type=\"*SIA-DCS\"") - sia;
    let cid = g.metric("vagt_frames_total", "type=\"*ADM-CID\"") - cid;
    assert!(sia > 0.0 && cid > 0.0, "both formats sent: {sia} {cid}");
    assert_eq!(sia + cid, 60.0);

    // Three extra copies of every frame, and retransmissions after 1 ms: every copy is ACKed
    // again, one is stored.
    let hits = g.metric("vagt_dedup_hits_total", "");
    let (code, r) = replay(STORM, g.addr(), &data);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["counts"]["acked"], 40);
    let resent = r["counts"]["retransmissions"].as_f64().unwrap();
    assert!(resent >= 120.0, "{r:#}");
    assert_eq!(g.metric("vagt_dedup_hits_total", "") - hits, resent);
    assert_eq!(r["journal"]["once"], 40);
    assert_eq!(r["journal"]["duplicated_count"], 0);

    // Clocks 15 min behind: NAKed with the receiver's time, corrected, accepted.
    let (code, r) = replay(UDP_SKEWED, g.addr(), &data);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["counts"]["nak"], 20);
    assert_eq!(r["counts"]["acked"], 20);
    assert_eq!(r["journal"]["once"], 20);
    assert_eq!(
        g.metric("vagt_frames_total", "outcome=\"nak\"") - naks,
        20.0
    );

    // A new connection per message, NULL polls and alarms for 2 s.
    let (code, r) = replay(DIALLERS, g.addr(), &data);
    assert_eq!(code, 0, "{r:#}");
    let acked = r["counts"]["acked"].as_u64().unwrap();
    assert_eq!(r["counts"]["sent"].as_u64().unwrap(), acked);
    assert!(acked >= 40, "10 devices × 4 NULL polls at least: {r:#}");
    assert_eq!(r["journal"]["once"].as_u64().unwrap(), acked);
    assert!(
        r["series"].as_array().unwrap().len() >= 20,
        "2 s in 100 ms slices"
    );
}

#[test]
fn a_journal_missing_acked_alarms_fails_the_check() {
    let g = Gateway::start(&[BURST]);
    // Verify against an empty data directory instead of the gateway's: all 60 are missing.
    let empty = tempfile::tempdir().unwrap();
    std::fs::create_dir(empty.path().join("journal")).unwrap();
    let (code, r) = replay(BURST, g.addr(), empty.path());
    assert_eq!(code, 1);
    assert_eq!(r["journal"]["missing_count"], 60);
}

#[test]
fn nothing_listening_is_counted_not_hung() {
    // A port with no receiver: every message times out after its retries.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let scenario = BURST.replace("devices = 60", "devices = 3").replace(
        "[burst]",
        "[device]\nack_timeout_ms = 50\nretries = 1\n[burst]",
    );
    let empty = tempfile::tempdir().unwrap();
    std::fs::create_dir(empty.path().join("journal")).unwrap();
    let (code, r) = replay(&scenario, port, empty.path());
    assert_eq!(code, 0, "nothing was ACKed, so nothing is missing");
    assert_eq!(r["counts"]["acked"], 0);
    assert_eq!(r["counts"]["timeouts"], 3);
    assert!(r["counts"]["connection_errors"].as_u64().unwrap() >= 3);
}

/// Runs the tool with `args` and `--json`; returns its exit status, JSON report and stderr.
fn tool(args: &[&str]) -> (i32, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_vagt-replay"))
        .args(args)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_slice(&std::fs::read(&json).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {stderr}"));
    (out.status.code().unwrap(), report, stderr)
}

#[test]
fn a_journal_export_replays_byte_for_byte_into_another_gateway() {
    let first = Gateway::start(&[BURST]);
    let (code, _) = replay(BURST, first.addr(), first.dir.path());
    assert_eq!(code, 0);
    let args = vagt::cli::JournalArgs {
        data: first.dir.path().to_owned(),
        from: 0,
    };
    let mut export = Vec::new();
    vagt::commands::journal::export_to(&args, &mut export).unwrap();
    drop(first);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &export).unwrap();

    let second = Gateway::start(&[BURST]);
    let target = second.addr().to_string();
    let path = file.path().to_str().unwrap();
    let (code, r, _) = tool(&["replay", path, "--target", &target, "--speed", "0"]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["counts"]["sent"], 60);
    assert_eq!(r["counts"]["acked"], 60);
    assert_eq!(r["devices"], 60, "one device per account");
    // The second journal holds the same frames, byte for byte.
    let args = vagt::cli::JournalArgs {
        data: second.dir.path().to_owned(),
        from: 0,
    };
    let mut again = Vec::new();
    vagt::commands::journal::export_to(&args, &mut again).unwrap();
    let frames = |text: &[u8]| -> Vec<String> {
        let mut v: Vec<String> = text
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| {
                serde_json::from_slice::<Value>(l).unwrap()["frame_hex"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(frames(&again), frames(&export));
}

#[test]
fn the_bare_floor_answers_every_frame() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    rt.spawn(vagt_replay::bare::serve(addr));
    std::thread::sleep(Duration::from_millis(200));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    std::fs::write(&path, BURST).unwrap();
    let target = addr.to_string();
    let (code, r, _) = tool(&["run", path.to_str().unwrap(), "--target", &target]);
    assert_eq!(code, 0);
    assert_eq!(r["counts"]["acked"], 60);
    assert_eq!(r["counts"]["timeouts"], 0);
}

const MISBEHAVING: &str = r#"
name = "misbehaving"
seed = 11
[fleet]
devices = 20
account_start = 740000
key_bits = 128
[burst]
within_secs = 0.2
[device]
ack_timeout_ms = 300
retries = 3
corrupt_crc_share = 1.0
garbage_bytes = 20
trickle_ms = 20
"#;

#[test]
fn misbehaving_peers_get_silence_then_their_good_copy_is_acked_once() {
    let g = Gateway::start(&[MISBEHAVING]);
    let bad_crc = g.metric("vagt_decode_errors_total", "kind=\"bad_crc\"");
    let (code, r) = replay(MISBEHAVING, g.addr(), g.dir.path());
    assert_eq!(code, 0, "{r:#}");
    // Every first copy had a wrong CRC: silence, then the retransmitted good copy is ACKed.
    assert_eq!(r["counts"]["corrupted"], 20);
    assert_eq!(r["counts"]["acked"], 20);
    assert!(r["counts"]["retransmissions"].as_u64().unwrap() >= 20);
    assert_eq!(r["journal"]["once"], 20);
    assert_eq!(
        g.metric("vagt_decode_errors_total", "kind=\"bad_crc\"") - bad_crc,
        20.0
    );
}
