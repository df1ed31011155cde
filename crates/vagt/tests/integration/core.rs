//! The core inside the gateway: alarms from real frames, commands through the journal, and a
//! restart (graceful, from a snapshot, from the journal alone, and after SIGKILL) that rebuilds
//! the same open alarms, owners and deadlines.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use vagt::config::Config;
use vagt::serve::{Running, start};
use vagt_core::{Actor, AlarmId, ChangeKind, Classification, Command, CommandError, Role, State};
use vagt_engine::{Engine, EngineError};
use vagt_records::Accounts;

use crate::gateway::{ACCOUNTS, Gateway, read_frames, sia};

/// Frames for three citizens: a pendant press, a repeat press, a nurse call.
fn send_alarms(addr: std::net::SocketAddr) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for (i, (account, code)) in [
        ("1234", "QA"),
        ("1234", "QA"),
        ("4321", "MA"),
        ("9999", "FA"),
    ]
    .iter()
    .enumerate()
    {
        s.write_all(&sia(account, i as u16 + 1, code)).unwrap();
    }
    read_frames(&mut s, 4);
}

struct InProcess {
    rt: tokio::runtime::Runtime,
    running: Option<Running>,
}

impl InProcess {
    fn start(data: &Path) -> Self {
        Self::start_with(data, "")
    }

    /// Starts with `extra` appended to the configuration.
    fn start_with(data: &Path, extra: &str) -> Self {
        let text = crate::gateway::base_config()
            .replace("listen = \"0.0.0.0:7050\"", "listen = \"127.0.0.1:0\"")
            .replace("metrics = \"127.0.0.1:9464\"", "metrics = \"127.0.0.1:0\"")
            // Deadlines far enough away that no escalation fires while the test runs.
            .replace("shards = 2", "shards = 3")
            .replace(
                "claim_within_secs = [60, 120, 300, 900, 1800]",
                "claim_within_secs = [3600, 3600, 3600, 3600, 3600]",
            )
            + extra;
        let mut config = Config::parse(&text, Path::new(".")).unwrap();
        config.gateway.data = data.to_owned();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let accounts = Accounts::parse(ACCOUNTS).unwrap();
        let running = rt.block_on(start(config, accounts)).unwrap();
        Self {
            rt,
            running: Some(running),
        }
    }

    fn engine(&self) -> &Arc<Engine> {
        self.running.as_ref().unwrap().engine()
    }

    fn command(&self, actor: &Actor, c: Command) -> Result<Vec<vagt_core::Change>, EngineError> {
        self.rt
            .block_on(self.engine().command(actor.clone(), c, None))
    }

    /// Open alarms once the core has applied everything journaled.
    fn settled(&self) -> Vec<vagt_core::Alarm> {
        for _ in 0..500 {
            let st = self.engine().status();
            if st.applied >= st.journal_end {
                return self.engine().open_alarms();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("core did not catch up: {:?}", self.engine().status());
    }

    fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(running) = self.running.take() {
            let stopped = self.rt.block_on(running.shutdown(Duration::from_secs(10)));
            if !std::thread::panicking() {
                stopped.unwrap();
            }
        }
    }
}

impl Drop for InProcess {
    /// Also when a test fails: a gateway left running would keep the test process alive.
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn opened_alarm(alarms: &[vagt_core::Alarm], account: &str) -> AlarmId {
    alarms.iter().find(|a| a.account == account).unwrap().id
}

#[test]
fn commands_go_through_the_journal_and_a_restart_rebuilds_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    let g = InProcess::start(dir.path());
    send_alarms(g.running.as_ref().unwrap().addr);
    let alarms = g.settled();
    assert_eq!(alarms.len(), 3, "{alarms:#?}");
    // The pendant (QA, priority 1) with its repeat attached, not queued twice.
    let p = alarms.iter().find(|a| a.account == "1234").unwrap();
    assert_eq!((p.priority, p.repeats), (1, 1));
    assert!(
        alarms.windows(2).all(|w| w[0].priority <= w[1].priority),
        "most urgent first"
    );
    assert!(alarms.iter().all(|a| a.state == State::Queued));
    let pendant = opened_alarm(&alarms, "1234");
    let nurse_call = opened_alarm(&alarms, "4321");
    let unknown = opened_alarm(&alarms, "9999");

    // Two operators race for one alarm: one wins, the other learns who.
    let (ole, mette) = (Actor::operator("ole"), Actor::operator("mette"));
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| g.command(&ole, Command::Claim { alarm: pendant }));
        let b = s.spawn(|| g.command(&mette, Command::Claim { alarm: pendant }));
        (a.join().unwrap(), b.join().unwrap())
    });
    let (winner, loser) = match (&a, &b) {
        (Ok(_), Err(_)) => ("ole", b),
        (Err(_), Ok(_)) => ("mette", a),
        _ => panic!("exactly one claim must win: {a:?} {b:?}"),
    };
    match loser {
        Err(EngineError::Refused(CommandError::AlreadyClaimed { by })) => assert_eq!(by, winner),
        other => panic!("{other:?}"),
    }
    // Forward the nurse call to the account's district; its door lock gets a grant.
    g.command(&ole, Command::Claim { alarm: nurse_call })
        .unwrap();
    let fwd = g
        .command(
            &ole,
            Command::Forward {
                alarm: nurse_call,
                team: None,
            },
        )
        .unwrap();
    assert!(matches!(&fwd[0].kind, ChangeKind::Forwarded { team, .. } if team == "sygepleje-vest"));
    assert!(
        matches!(&fwd[1].kind, ChangeKind::DoorGranted { grant, .. } if grant.lock == "lock-3")
    );
    let nurse = Actor {
        name: "sygepleje-vest".into(),
        role: Role::Responder,
    };
    g.command(&nurse, Command::Accept { alarm: nurse_call })
        .unwrap();
    g.command(
        &Actor::operator("x"),
        Command::Note {
            alarm: unknown,
            text: "unknown device".into(),
        },
    )
    .unwrap();
    let before = g.settled();
    assert_eq!(
        before
            .iter()
            .find(|a| a.id == pendant)
            .unwrap()
            .owner
            .as_deref(),
        Some(winner)
    );
    assert_eq!(
        before.iter().find(|a| a.id == nurse_call).unwrap().state,
        State::Accepted
    );

    // Time to claim is measured per shift (the SLA figure, live).
    let metrics = scrape(g.running.as_ref().unwrap().metrics_addr);
    let shift = vagt_core::Policy::default().shift_at(p.opened_at).as_str();
    assert!(
        metrics.contains(&format!(
            "vagt_core_time_to_claim_seconds_count{{shift=\"{shift}\"}}"
        )),
        "{metrics}"
    );

    // 1. Graceful restart: the final snapshot restores the state.
    g.stop();
    let g = InProcess::start(dir.path());
    assert_eq!(g.settled(), before, "after a restart from the snapshot");
    // Commands still work on the restored state; the closed alarm leaves the queue.
    let w = Actor::operator(winner);
    g.command(
        &w,
        Command::Close {
            alarm: pendant,
            classification: Classification::ReassuranceCall,
        },
    )
    .unwrap();
    let after_close = g.settled();
    assert_eq!(after_close.len(), 2);
    // Closed calls are counted by classification.
    let metrics = scrape(g.running.as_ref().unwrap().metrics_addr);
    assert!(
        metrics.contains("vagt_core_alarms_closed_total{classification=\"reassurance_call\"}"),
        "{metrics}"
    );
    g.stop();

    // 2. No snapshot at all: the journal alone rebuilds the same state.
    std::fs::remove_dir_all(dir.path().join("core")).unwrap();
    let g = InProcess::start(dir.path());
    assert_eq!(
        g.settled(),
        after_close,
        "after replaying the whole journal"
    );
    g.stop();
}

#[test]
fn open_alarms_survive_sigkill_and_are_served_on_the_ops_port() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gateway::start_on(dir.path(), &[]);
    send_alarms(g.addr);
    let before = g.settled_alarms();
    let list = before.as_array().unwrap();
    assert_eq!(list.len(), 3, "{before:#}");
    let p = list.iter().find(|a| a["account"] == "1234").unwrap();
    assert_eq!(p["repeats"], 1);
    assert_eq!(p["state"], "queued");
    assert_eq!(p["armed"][0], "claim");
    assert_eq!(g.metric("vagt_core_alarms_open", "state=\"queued\""), 3.0);
    assert_eq!(g.metric("vagt_core_alarms_opened_total", ""), 3.0);
    assert_eq!(g.metric("vagt_core_repeat_events_total", ""), 1.0);
    g.kill();
    // No final snapshot after SIGKILL: the core replays the journal.
    let g = Gateway::start_on(dir.path(), &[]);
    let after = g.settled_alarms();
    assert_eq!(
        after, before,
        "ids, deadlines and repeats rebuilt from the journal"
    );
    assert_eq!(g.stop(), Some(0));
}

/// A lock vendor's webhook on loopback: answers the first request 500, the rest 200, and hands
/// over each request's `Authorization` header and JSON body.
fn lock_vendor() -> (
    String,
    std::sync::mpsc::Receiver<(String, serde_json::Value)>,
) {
    use std::io::{BufRead, BufReader, Read};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/door-grants", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let mut conn = conn.unwrap();
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let (mut len, mut auth) = (0, String::new());
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                if lower.starts_with("authorization:") {
                    auth = line["authorization:".len()..].trim().to_owned();
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let status = if n == 0 {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            write!(
                conn,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            if n > 0 {
                tx.send((auth, serde_json::from_slice(&body).unwrap()))
                    .unwrap();
            }
        }
    });
    (url, rx)
}

#[test]
fn door_grants_and_revocations_reach_the_lock_vendor() {
    let (url, vendor) = lock_vendor();
    let dir = tempfile::tempdir().unwrap();
    let extra =
        format!("\n[core.door_webhook]\nurl = \"{url}\"\ntoken = \"s3cret\"\nretries = 2\n");
    let g = InProcess::start_with(dir.path(), &extra);
    send_alarms(g.running.as_ref().unwrap().addr);
    let nurse_call = opened_alarm(&g.settled(), "4321");
    let ole = Actor::operator("ole");
    let nurse = Actor {
        name: "sygepleje-vest".into(),
        role: Role::Responder,
    };
    g.command(&ole, Command::Claim { alarm: nurse_call })
        .unwrap();
    let fwd = Command::Forward {
        alarm: nurse_call,
        team: None,
    };
    g.command(&ole, fwd).unwrap();
    // The first attempt gets a 500; the retry is delivered.
    let (auth, granted) = vendor.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(auth, "Bearer s3cret");
    assert_eq!(granted["event"], "granted");
    assert_eq!(granted["lock"], "lock-3");
    assert_eq!(granted["account"], "4321");
    assert_eq!(granted["to"], "sygepleje-vest");
    assert_eq!(granted["alarm"], nurse_call.0);
    for c in [
        Command::Accept { alarm: nurse_call },
        Command::Arrive { alarm: nurse_call },
        Command::Close {
            alarm: nurse_call,
            classification: Classification::Emergency,
        },
    ] {
        g.command(&nurse, c).unwrap();
    }
    let (_, revoked) = vendor.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(revoked["event"], "revoked");
    assert_eq!(revoked["lock"], "lock-3");
    assert!(revoked["to"].is_null());
    g.stop();
    // A restart replays the whole journal (no snapshot) but does not send the grants again.
    std::fs::remove_dir_all(dir.path().join("core")).unwrap();
    let g = InProcess::start_with(dir.path(), &extra);
    g.settled();
    g.stop();
    assert!(vendor.recv_timeout(Duration::from_millis(500)).is_err());
}

/// The gateway's `/metrics` page.
fn scrape(addr: std::net::SocketAddr) -> String {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    write!(
        conn,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    conn.read_to_string(&mut text).unwrap();
    text
}

/// Sends `codes` from `account` as one frame each (sequence numbers from `seq`), each ACKed.
fn send_codes(g: &Gateway, account: &str, seq: u16, codes: &[&str]) {
    let mut s = g.tcp();
    for (i, code) in codes.iter().enumerate() {
        s.write_all(&sia(account, seq + i as u16, code)).unwrap();
        read_frames(&mut s, 1);
    }
}

#[test]
fn a_fire_never_hides_in_an_open_burglary_and_a_restore_clears_only_what_it_restores() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gateway::start_on(dir.path(), &[]);
    // Burglary in zone 1, then a fire and a medical alarm from the same panel, then the
    // burglary's restoral.
    send_codes(&g, "1234", 1, &["BA1", "FA1", "MA2", "BR1"]);
    let alarms = g.settled_alarms();
    let open: Vec<(&str, u64, &str)> = alarms
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["code"].as_str().unwrap(),
                a["priority"].as_u64().unwrap(),
                a["state"].as_str().unwrap(),
            )
        })
        .collect();
    // Most urgent first; the burglary was cancelled by its restoral, the others stay.
    assert_eq!(
        open,
        [("FA", 1, "queued"), ("MA", 1, "queued")],
        "{alarms:#}"
    );
    let fire = &alarms[0];
    assert_eq!(fire["kind"], "fire alarm");
    assert_eq!(fire["repeats"], 0);
    // The fire's own claim deadline: priority 1 (60 s in the default policy).
    let opened = fire["opened_at"].as_u64().unwrap();
    assert_eq!(fire["armed"][1].as_u64().unwrap() - opened, 60);
    // The same fire again is a repeat of the fire alarm, not a new row.
    send_codes(&g, "1234", 5, &["FA1"]);
    let alarms = g.settled_alarms();
    assert_eq!(alarms.as_array().unwrap().len(), 2);
    assert_eq!(alarms[0]["repeats"], 1);
    assert_eq!(g.stop(), Some(0));
}

#[test]
fn every_press_is_counted_in_the_monthly_extract() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gateway::start_on(dir.path(), &[]);
    send_codes(&g, "4321", 1, &["QA1", "QA1", "QA1", "QA1", "QA1"]);
    let alarms = g.settled_alarms();
    assert_eq!(
        alarms.as_array().unwrap().len(),
        1,
        "one alarm in the queue"
    );
    assert_eq!(alarms[0]["repeats"], 4);
    assert_eq!(g.stop(), Some(0));
    let month = String::from_utf8(
        std::process::Command::new("date")
            .env("TZ", "Europe/Copenhagen")
            .arg("+%Y-%m")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vagt"))
        .args([
            "report",
            "monthly",
            "--format",
            "json",
            "--month",
            month.trim(),
        ])
        .arg("--data")
        .arg(dir.path())
        .arg("--accounts")
        .arg(dir.path().join("accounts.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let citizen = &m["citizens"][0];
    assert_eq!(citizen["citizen"], "borger-3");
    assert_eq!(
        (citizen["calls"].as_u64(), citizen["alarms"].as_u64()),
        (Some(5), Some(1))
    );
    assert_eq!(m["calls"][0]["presses"], 5);
    assert_eq!(m["top_callers"][0]["calls"], 5);
}

#[test]
fn the_ops_port_serves_health_and_metrics_but_no_alarm_data() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gateway::start_on(dir.path(), &[]);
    send_codes(&g, "4321", 1, &["MA1"]);
    let alarms = g.settled_alarms();
    assert_eq!(alarms[0]["account"], "4321", "`vagt alarms` has the queue");
    let not_here = g.get("/alarms");
    assert!(
        not_here.starts_with("HTTP/1.0 404") || not_here.starts_with("HTTP/1.1 404"),
        "{not_here}"
    );
    let health = g.get("/healthz");
    assert!(
        health.contains(" 200 ") && health.ends_with("ok\n"),
        "{health}"
    );
    let ready = g.get("/readyz");
    assert!(
        ready.contains(" 200 ") && ready.ends_with("ready\n"),
        "{ready}"
    );
    // A token a peer makes up never becomes a label value (the registry cannot be grown).
    let made_up = vagt_dc09::wrap_body(b"\"ZZ-RANDOM7\"0001L0#4321[]").unwrap();
    g.exchange(&made_up, 1);
    let metrics = g.scrape();
    assert!(metrics.contains("type=\"other\""), "{metrics}");
    for private in ["4321", "borger-3", "sygepleje-vest", "lock-3", "ZZ-RANDOM7"] {
        assert!(!metrics.contains(private), "{private} in /metrics");
    }
    assert_eq!(g.stop(), Some(0));
}

/// Open alarms as (account, code, repeats), in queue order.
fn summary(alarms: &[vagt_core::Alarm]) -> Vec<(String, String, u32)> {
    alarms
        .iter()
        .map(|a| (a.account.clone(), a.code.clone(), a.repeats))
        .collect()
}

#[test]
fn a_snapshot_is_not_restored_over_another_journal_that_has_grown_past_it() {
    // A journal put back from elsewhere (a backup that served for a while, copied over the data
    // directory's journal) beside core snapshots of the journal that was there: the snapshot's
    // offset is inside the new journal, but its state is of the old one.
    let (old, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let g = InProcess::start(old.path());
    send_alarms(g.running.as_ref().unwrap().addr);
    assert_eq!(g.settled().len(), 3);
    g.stop(); // writes the core's snapshot
    let snapshots = std::fs::read_dir(old.path().join("core")).unwrap().count();
    assert!(snapshots > 0, "the stop wrote no snapshot");

    let g = InProcess::start(other.path());
    let addr = g.running.as_ref().unwrap().addr;
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // More frames than the old journal had, from one citizen: its journal passes the snapshot.
    for seq in 1..=12u16 {
        s.write_all(&sia("5555", seq, "QA")).unwrap();
        read_frames(&mut s, 1);
    }
    let want = summary(&g.settled());
    assert_eq!(want, [("5555".to_owned(), "QA".to_owned(), 11)]);
    g.stop();

    std::fs::remove_dir_all(old.path().join("journal")).unwrap();
    std::process::Command::new("cp")
        .arg("-a")
        .arg(other.path().join("journal"))
        .arg(old.path().join("journal"))
        .status()
        .unwrap();
    let g = InProcess::start(old.path());
    assert_eq!(
        summary(&g.settled()),
        want,
        "the open alarms are those of the journal the gateway runs on, not of an old snapshot"
    );
    g.stop();
}
