//! Cluster mode on real PostgreSQL servers (started here: a primary, and a streaming standby
//! where a test needs one): a node killed mid-burst, a database failover, a paused leader, and
//! a claim race between operators on two nodes.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use vagt::config::Config;
use vagt::serve::start;
use vagt_records::{Accounts, FrameRecord};
use vagt_testkit::pg::Postgres;

use crate::console::{Guard, login, next_answer, send};
use crate::gateway::{ACCOUNTS, Gateway, sia, signal};

/// A `[cluster]` section for node `name` (short timeouts: the tests wait for them).
fn cluster_section(url: &str, name: &str) -> String {
    format!(
        "\n[cluster]\nurl = \"{url}\"\nnode = \"{name}\"\ncommit_timeout_ms = 500\nlease_secs = 3\n"
    )
}

/// A `vagt serve` process as cluster node `name`, data in `dir`.
fn node(dir: &Path, url: &str, name: &str) -> Gateway {
    std::fs::create_dir_all(dir).unwrap();
    let config = dir.join("vagt.toml");
    std::fs::write(&config, cluster_section(url, name)).unwrap();
    Gateway::start_on(dir, &["--config", config.to_str().unwrap()])
}

/// What a fleet of panels saw: the frames acknowledged, and the longest wait for an ACK.
#[derive(Default)]
struct Seen {
    acked: Vec<(String, String)>,
    longest_gap: Duration,
}

/// A panel: sends `frames` alarms one at a time, waiting for each ACK (2 s); on a refused
/// connection or no answer it retransmits the same frame to the other receiver, like a panel
/// alternating primary and backup.
fn panel(receivers: [SocketAddr; 2], account: String, frames: u16, seen: &Mutex<Seen>) {
    let mut which = 0;
    let mut conn: Option<TcpStream> = None;
    for seq in 1..=frames {
        let frame = sia(&account, seq, "QA1");
        let started = Instant::now();
        loop {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "{account} {seq}: no receiver answers"
            );
            if conn.is_none() {
                conn = TcpStream::connect_timeout(&receivers[which], Duration::from_secs(1)).ok();
                if let Some(s) = &conn {
                    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                } else {
                    which ^= 1;
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            }
            let s = conn.as_mut().unwrap();
            if s.write_all(&frame).is_ok() && read_ack(s) {
                let mut seen = seen.lock().unwrap();
                seen.acked.push((account.clone(), format!("{seq:04}")));
                seen.longest_gap = seen.longest_gap.max(started.elapsed());
                break;
            }
            conn = None;
            which ^= 1;
        }
    }
}

/// Reads one answer frame; whether it is an ACK.
fn read_ack(s: &mut TcpStream) -> bool {
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while let Ok(1) = s.read(&mut byte) {
        answer.push(byte[0]);
        if byte[0] == b'\r' {
            return answer.windows(5).any(|w| w == b"\"ACK\"");
        }
    }
    false
}

/// Every frame in the cluster log, as (account, sequence) → how many times it is stored.
fn stored_frames(pg: &Postgres) -> HashMap<(String, String), usize> {
    let mut stored = HashMap::new();
    let rows = pg.sql("SELECT encode(payload, 'hex') FROM vagt_log WHERE dedup IS NOT NULL");
    for hex in rows.lines() {
        let payload = vagt_testkit::hex(hex);
        let f = FrameRecord::decode(&payload).unwrap().unwrap();
        *stored.entry((f.meta.account, f.meta.sequence)).or_default() += 1;
    }
    stored
}

/// Acknowledged frames not stored exactly once.
fn not_once(seen: &Seen, stored: &HashMap<(String, String), usize>) -> Vec<(String, String)> {
    seen.acked
        .iter()
        .filter(|k| stored.get(*k) != Some(&1))
        .cloned()
        .collect()
}

/// Waits (up to `limit`) for `ok`; returns how long it took, or `None`.
fn wait_for(limit: Duration, mut ok: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if ok() {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Starts `n` panels over `receivers`, `frames` each, on unique accounts from `first`.
fn fleet(
    receivers: [SocketAddr; 2],
    n: u16,
    first: u16,
    frames: u16,
) -> (Arc<Mutex<Seen>>, Vec<std::thread::JoinHandle<()>>) {
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let threads = (0..n)
        .map(|i| {
            let seen = Arc::clone(&seen);
            let account = format!("{:04X}", first + i);
            std::thread::spawn(move || panel(receivers, account, frames, &seen))
        })
        .collect();
    (seen, threads)
}

#[test]
fn a_node_killed_mid_burst_loses_nothing_and_its_duties_move() {
    let pg = Postgres::primary();
    let standby = pg.standby("s1");
    pg.require_sync_standby("s1");
    let dir = tempfile::tempdir().unwrap();
    let a = node(&dir.path().join("a"), &pg.url(), "a");
    // a leads (it came first): ticks are a's.
    assert!(
        wait_for(Duration::from_secs(20), || a
            .metric("vagt_cluster_leader", "")
            == 1.0)
        .is_some()
    );
    let b = node(&dir.path().join("b"), &pg.url(), "b");
    let (seen, panels) = fleet([a.addr, b.addr], 24, 0xB000, 60);
    assert!(
        wait_for(Duration::from_secs(60), || seen.lock().unwrap().acked.len()
            >= 400)
        .is_some()
    );
    a.kill();
    let took_over = wait_for(Duration::from_secs(30), || {
        b.metric("vagt_cluster_leader", "") == 1.0
    })
    .expect("b never took over the leader lease");
    for p in panels {
        p.join().unwrap();
    }
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.acked.len(),
        24 * 60,
        "every frame was acknowledged by one node or the other"
    );
    // Stored exactly once, on the primary and on the synchronous standby alike.
    let lost = not_once(&seen, &stored_frames(&pg));
    assert!(
        lost.is_empty(),
        "{} acknowledged frames not stored once, e.g. {:?}",
        lost.len(),
        lost.first()
    );
    assert!(
        wait_for(Duration::from_secs(30), || stored_frames(&standby).len()
            == seen.acked.len())
        .is_some()
    );
    // b's live core folded every frame exactly once: one alarm per panel, the rest repeats.
    let end: f64 = pg.sql("SELECT next FROM vagt_seq").parse().unwrap();
    assert!(
        wait_for(Duration::from_secs(30), || b.get_json("/core")["applied"]
            .as_f64()
            >= Some(end))
        .is_some()
    );
    let opened = b.metric("vagt_core_alarms_opened_total", "");
    let repeats = b.metric("vagt_core_repeat_events_total", "");
    assert_eq!(
        (opened, opened + repeats),
        (24.0, 24.0 * 60.0),
        "b's core: alarms, frames"
    );
    // b's queue, read back from the cluster log, holds every panel's alarm.
    let alarms = b.alarms();
    assert_eq!(alarms.as_array().unwrap().len(), 24, "{alarms}");
    eprintln!(
        "node loss: the longest wait for an ACK was {:?}; b led {:?} after a died",
        seen.longest_gap, took_over
    );
    assert_eq!(b.stop(), Some(0));
}

#[test]
fn a_database_failover_is_bridged_by_the_degraded_mode_and_drained_without_duplicates() {
    let mut pg = Postgres::primary();
    let standby = pg.standby("s1");
    pg.require_sync_standby("s1");
    let url = format!(
        "host=127.0.0.1,127.0.0.1 port={},{} user=vagt dbname=postgres connect_timeout=1 target_session_attrs=read-write",
        pg.port, standby.port
    );
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), &url, "a");
    let (seen, panels) = fleet([a.addr, a.addr], 16, 0xC000, 80);
    assert!(
        wait_for(Duration::from_secs(60), || seen.lock().unwrap().acked.len()
            >= 300)
        .is_some()
    );
    pg.kill();
    std::thread::sleep(Duration::from_secs(2));
    standby.promote();
    for p in panels {
        p.join().unwrap();
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.acked.len(), 16 * 80);
    assert!(
        a.metric("vagt_cluster_acks_total", "mode=\"degraded\"") > 0.0,
        "the outage was bridged degraded"
    );
    let drained = wait_for(Duration::from_secs(60), || {
        a.metric("vagt_cluster_degraded", "") == 0.0
            && a.metric("vagt_cluster_unshipped_bytes", "") == 0.0
    });
    assert!(
        drained.is_some(),
        "the local journal was not drained into the new primary"
    );
    let lost = not_once(&seen, &stored_frames(&standby));
    assert!(
        lost.is_empty(),
        "{} acknowledged frames not stored once on the new primary, e.g. {:?}",
        lost.len(),
        lost.first()
    );
    eprintln!(
        "database failover: the longest wait for an ACK was {:?}",
        seen.longest_gap
    );
    assert_eq!(a.stop(), Some(0));
}

#[test]
fn a_paused_leader_wakes_as_a_follower_and_emits_no_tick() {
    let pg = Postgres::primary();
    let dir = tempfile::tempdir().unwrap();
    let a = node(&dir.path().join("a"), &pg.url(), "a");
    assert!(
        wait_for(Duration::from_secs(20), || a
            .metric("vagt_cluster_leader", "")
            == 1.0)
        .is_some()
    );
    let b = node(&dir.path().join("b"), &pg.url(), "b");
    signal(&a.child, "STOP");
    let took_over = wait_for(Duration::from_secs(30), || {
        pg.sql("SELECT holder FROM vagt_leader") == "b"
    });
    assert!(
        took_over.is_some(),
        "b never took over from the paused leader"
    );
    let from = pg.sql("SELECT next FROM vagt_seq");
    signal(&a.child, "CONT");
    std::thread::sleep(Duration::from_secs(4));
    let ticks_of = |who: &str| -> u64 {
        pg.sql(&format!(
            "SELECT count(*) FROM vagt_log WHERE node = '{who}' AND get_byte(payload, 0) = 84 AND gseq >= {from}"
        ))
        .parse()
        .unwrap()
    };
    assert_eq!(
        ticks_of("a"),
        0,
        "the old leader's ticks after it lost the lease"
    );
    assert!(ticks_of("b") >= 2, "the new leader ticks");
    assert_eq!(a.metric("vagt_cluster_leader", ""), 0.0);
    assert_eq!(pg.sql("SELECT holder FROM vagt_leader"), "b");
    assert_eq!(a.stop(), Some(0));
    assert_eq!(b.stop(), Some(0));
}

/// A node with its console, in this process, stopped in order when dropped.
fn console_node<'a>(
    dir: &Path,
    url: &str,
    name: &str,
    rt: &'a tokio::runtime::Runtime,
) -> Guard<'a> {
    std::fs::create_dir_all(dir).unwrap();
    let section = crate::console::console_section(dir);
    console_node_with(dir, url, name, rt, section)
}

/// [`console_node`] with the `[console]` section given (its files already written).
fn console_node_with<'a>(
    dir: &Path,
    url: &str,
    name: &str,
    rt: &'a tokio::runtime::Runtime,
    section: String,
) -> Guard<'a> {
    let text = crate::gateway::base_config()
        .replace("listen = \"0.0.0.0:7050\"", "listen = \"127.0.0.1:0\"")
        .replace("metrics = \"127.0.0.1:9464\"", "metrics = \"127.0.0.1:0\"")
        + &section
        + &cluster_section(url, name);
    // Also as a file, for the offline commands (`vagt audit export --config`).
    std::fs::write(dir.join("vagt.toml"), &text).unwrap();
    let mut config = Config::parse(&text, Path::new(".")).unwrap();
    config.gateway.data = dir.join("data");
    let running = rt
        .block_on(start(config, Accounts::parse(ACCOUNTS).unwrap()))
        .unwrap();
    Guard {
        rt,
        running: Some(running),
    }
}

#[test]
fn operators_on_two_nodes_racing_for_one_alarm_get_one_owner() {
    let pg = Postgres::primary();
    let dir = tempfile::tempdir().unwrap();
    let rt = crate::console::runtime();
    let (da, db) = (dir.path().join("a"), dir.path().join("b"));
    let mut a = console_node(&da, &pg.url(), "a", &rt);
    let mut b = console_node(&db, &pg.url(), "b", &rt);
    let (ca, cb) = (
        a.running.as_ref().unwrap().console_addr.unwrap(),
        b.running.as_ref().unwrap().console_addr.unwrap(),
    );
    let dc09 = a.running.as_ref().unwrap().addr;
    rt.block_on(async {
        let (mut ole, _) = login(ca, &da.join("console-cert.pem"), "ole").await;
        let (mut mette, _) = login(cb, &db.join("console-cert.pem"), "mette").await;
        tokio::task::spawn_blocking(move || {
            let mut s = TcpStream::connect(dc09).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(&sia("1234", 1, "QA")).unwrap();
            assert!(read_ack(&mut s));
        })
        .await
        .unwrap();
        // The alarm arrived on a; b's queue shows it too (it folds the same log).
        let mut id = None;
        while id.is_none() {
            let batch = crate::console::next(&mut mette, "changes").await;
            id = batch["changes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["kind"]["change"] == "opened")
                .and_then(|c| c["kind"]["alarm"].as_u64());
        }
        let id = id.expect("the alarm never reached b's console");
        let claim =
            json!({"type": "command", "id": 1, "command": {"command": "claim", "alarm": id}});
        send(&mut ole, claim.clone()).await;
        send(&mut mette, claim).await;
        let (x, y) = (next_answer(&mut ole).await, next_answer(&mut mette).await);
        let (winner, loser) = if x["type"] == "result" {
            ("ole", y)
        } else {
            ("mette", x)
        };
        assert_eq!(loser["type"], "refused", "{loser}");
        assert_eq!(loser["error"]["error"], "already_claimed");
        assert_eq!(loser["error"]["by"], winner);
    });
    // Both nodes' cores agree on the owner.
    let owner = |g: &Guard<'_>| {
        g.running.as_ref().unwrap().engine().open_alarms()[0]
            .owner
            .clone()
    };
    assert!(
        wait_for(Duration::from_secs(10), || owner(&a).is_some()
            && owner(&a) == owner(&b))
        .is_some()
    );
    // The audit trail from the cluster log, as any node's config reads it: both claims, the
    // refused one included, each with its operator.
    let mut claims: Vec<String> = crate::gateway::json_lines(
        std::process::Command::new(env!("CARGO_BIN_EXE_vagt"))
            .args(["audit", "export", "--config"])
            .arg(db.join("vagt.toml")),
    )
    .into_iter()
    .filter(|a| a["command"]["command"] == "claim")
    .map(|a| a["user"].as_str().unwrap().to_owned())
    .collect();
    claims.sort();
    assert_eq!(claims, ["mette", "ole"]);
    a.stop();
    b.stop();
}

#[test]
fn every_node_restarted_folds_the_same_state_it_had() {
    let pg = Postgres::primary();
    let dir = tempfile::tempdir().unwrap();
    let rt = crate::console::runtime();
    let (da, db) = (dir.path().join("a"), dir.path().join("b"));
    let state = |g: &Guard<'_>| {
        serde_json::to_value(g.running.as_ref().unwrap().engine().open_alarms()).unwrap()
    };
    let mut a = console_node(&da, &pg.url(), "a", &rt);
    let mut b = console_node(&db, &pg.url(), "b", &rt);
    let ca = a.running.as_ref().unwrap().console_addr.unwrap();
    let dc09 = b.running.as_ref().unwrap().addr;
    let mut s = TcpStream::connect(dc09).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for (seq, (account, code)) in [
        ("1234", "QA"),
        ("4321", "MA"),
        ("1234", "QA"),
        ("4321", "FA01"),
    ]
    .iter()
    .enumerate()
    {
        s.write_all(&sia(account, seq as u16 + 1, code)).unwrap();
        let answer = crate::gateway::read_frames(&mut s, 1);
        assert!(
            answer[0].windows(5).any(|w| w == b"\"ACK\""),
            "{seq}: {}",
            String::from_utf8_lossy(&answer[0])
        );
    }
    assert!(
        wait_for(Duration::from_secs(10), || state(&a)
            .as_array()
            .unwrap()
            .len()
            == 3)
        .is_some()
    );
    rt.block_on(async {
        // The console's copy of the queue follows the core's feed: log in until it has them.
        let (mut ole, id) = loop {
            let (ole, snap) = login(ca, &da.join("console-cert.pem"), "ole").await;
            if let Some(id) = snap["alarms"][0]["id"].as_u64() {
                break (ole, id);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        send(
            &mut ole,
            json!({"type": "command", "id": 1, "command": {"command": "claim", "alarm": id}}),
        )
        .await;
        assert_eq!(next_answer(&mut ole).await["type"], "result");
    });
    assert!(
        wait_for(Duration::from_secs(10), || state(&a) == state(&b)
            && state(&a).to_string().contains("\"ole\""))
        .is_some()
    );
    let before = state(&a);
    a.stop();
    b.stop();
    let a = console_node(&da, &pg.url(), "a", &rt);
    let b = console_node(&db, &pg.url(), "b", &rt);
    for g in [&a, &b] {
        assert!(
            wait_for(Duration::from_secs(10), || g
                .running
                .as_ref()
                .unwrap()
                .engine()
                .caught_up())
            .is_some()
        );
        assert_eq!(
            state(g),
            before,
            "open alarms, owners and escalation levels after a restart"
        );
    }
}

/// Pings until the pong's `degraded` is `want`; returns that pong.
async fn degraded_becomes(ws: &mut crate::console::Ws, want: bool) -> serde_json::Value {
    for id in 100.. {
        send(ws, json!({"type": "ping", "id": id})).await;
        let pong = crate::console::next(ws, "pong").await;
        if pong["degraded"] == want {
            return pong;
        }
        assert!(id < 400, "the console never said degraded = {want}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    unreachable!()
}

#[test]
fn every_console_says_when_the_node_is_degraded_and_when_it_is_over() {
    let mut pg = Postgres::primary();
    let dir = tempfile::tempdir().unwrap();
    let rt = crate::console::runtime();
    let da = dir.path().join("a");
    let mut a = console_node(&da, &pg.url(), "a", &rt);
    let (console, dc09) = {
        let r = a.running.as_ref().unwrap();
        (r.console_addr.unwrap(), r.addr)
    };
    let alarm = |seq: u16| {
        let mut s = TcpStream::connect(dc09).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(&sia("1234", seq, "QA")).unwrap();
        assert!(read_ack(&mut s), "alarm {seq} not acknowledged");
    };
    let mut ole =
        rt.block_on(async { login(console, &da.join("console-cert.pem"), "ole").await.0 });
    rt.block_on(degraded_becomes(&mut ole, false));
    pg.kill();
    // Still answered: on the local fsync alone, after commit_timeout_ms.
    alarm(1);
    let pong = rt.block_on(degraded_becomes(&mut ole, true));
    // The alarm is not in the shared queue yet, but the console lists it.
    assert_eq!(pong["provisional"][0]["account"], "1234", "{pong}");
    assert_eq!(pong["provisional"][0]["code"], "QA", "{pong}");
    pg.start();
    alarm(2);
    rt.block_on(degraded_becomes(&mut ole, false));
    assert_eq!(
        pg.sql("SELECT count(*) FROM vagt_log WHERE dedup IS NOT NULL"),
        "2",
        "the alarm ACKed while degraded was drained into PostgreSQL"
    );
    a.stop();
}

#[test]
fn a_command_given_while_the_database_is_away_is_decided_when_it_is_back_and_the_console_stays_live()
 {
    let mut pg = Postgres::primary();
    let dir = tempfile::tempdir().unwrap();
    let rt = crate::console::runtime();
    let da = dir.path().join("a");
    let mut a = console_node(&da, &pg.url(), "a", &rt);
    let (console, dc09) = {
        let r = a.running.as_ref().unwrap();
        (r.console_addr.unwrap(), r.addr)
    };
    alarm_to(dc09, "1234", 1);
    let (mut ole, id) = rt.block_on(async {
        loop {
            let (ole, snap) = login(console, &da.join("console-cert.pem"), "ole").await;
            if let Some(id) = snap["alarms"][0]["id"].as_u64() {
                break (ole, id);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    pg.kill();
    alarm_to(dc09, "4321", 1); // degraded from here
    rt.block_on(async {
        degraded_becomes(&mut ole, true).await;
        // The claim is journaled on the node's disk; the core decides it in the shared order,
        // which waits for PostgreSQL.
        send(
            &mut ole,
            json!({"type": "command", "id": 7, "command": {"command": "claim", "alarm": id}}),
        )
        .await;
        // Meanwhile the same connection answers (the browser treats 15 s of silence as a lost
        // connection): pings, and a look at the alarm.
        for ping in 0..3 {
            send(&mut ole, json!({"type": "ping", "id": 200 + ping})).await;
            let pong = crate::console::next(&mut ole, "pong").await;
            assert_eq!(pong["degraded"], true, "{pong}");
        }
        send(&mut ole, json!({"type": "detail", "id": 8, "alarm": id})).await;
        let detail = next_answer(&mut ole).await;
        assert_eq!(detail["type"], "detail", "{detail}");
        assert_eq!(
            detail["alarm"]["state"], "queued",
            "not decided yet: {detail}"
        );
    });
    pg.start();
    rt.block_on(async {
        let result = next_answer(&mut ole).await;
        assert_eq!(
            (result["type"].as_str(), result["id"].as_u64()),
            (Some("result"), Some(7)),
            "{result}"
        );
        assert_eq!(
            result["changes"][0]["kind"]["change"], "claimed",
            "{result}"
        );
    });
    a.stop();
}

#[test]
fn an_alarm_acknowledged_while_degraded_is_claimed_from_the_banner_with_one_owner_across_nodes() {
    let mut pg = Postgres::primary();
    let dir = tempfile::tempdir().unwrap();
    let rt = crate::console::runtime();
    let (da, db) = (dir.path().join("a"), dir.path().join("b"));
    let mut a = console_node(&da, &pg.url(), "a", &rt);
    let mut b = console_node(&db, &pg.url(), "b", &rt);
    let addrs = |g: &Guard<'_>| {
        let r = g.running.as_ref().unwrap();
        (r.console_addr.unwrap(), r.addr)
    };
    let ((ca, a_dc09), (cb, b_dc09)) = (addrs(&a), addrs(&b));
    let (mut ole, mut mette) = rt.block_on(async {
        let (ole, _) = login(ca, &da.join("console-cert.pem"), "ole").await;
        let (mette, _) = login(cb, &db.join("console-cert.pem"), "mette").await;
        (ole, mette)
    });
    pg.kill();
    // The citizen presses; the pendant's receiver a answers on its disk alone, and the same frame
    // sent again to the backup receiver b is answered there too.
    alarm_to(a_dc09, "1234", 1);
    alarm_to(b_dc09, "1234", 1);
    // Each operator sees it under the banner only, with the command that claims it by its call.
    let claims: Vec<serde_json::Value> = rt.block_on(async {
        let mut claims = Vec::new();
        for ws in [&mut ole, &mut mette] {
            let pong = degraded_becomes(ws, true).await;
            let claim = pong["provisional"][0]["claim"].clone();
            assert_eq!(claim["command"], "claim_call", "{pong}");
            assert_eq!(claim["account"], "1234", "{pong}");
            assert_eq!(claim["kind"], "emergency alarm", "{pong}");
            claims.push(claim);
        }
        claims
    });
    assert_eq!(claims[0], claims[1], "the same call on both nodes");
    rt.block_on(async {
        for (ws, id) in [(&mut ole, 11), (&mut mette, 12)] {
            let cmd = json!({"type": "command", "id": id, "command": claims[0]});
            send(ws, cmd).await;
        }
    });
    pg.start();
    // Decided in the shared order: the first claim shipped wins, the other learns who has it.
    let (x, y) =
        rt.block_on(async { (next_answer(&mut ole).await, next_answer(&mut mette).await) });
    let (winner, loser) = if x["type"] == "result" {
        (("ole", x), y)
    } else {
        (("mette", y), x)
    };
    assert_eq!(winner.1["type"], "result", "{}", winner.1);
    assert_eq!(
        winner.1["changes"][0]["kind"]["change"], "claimed",
        "{}",
        winner.1
    );
    assert_eq!(loser["type"], "refused", "{loser}");
    assert_eq!(loser["error"]["error"], "already_claimed", "{loser}");
    assert_eq!(loser["error"]["by"], winner.0, "{loser}");
    // One alarm (the frame b stored again is a duplicate in the log), owned by the winner on
    // both nodes.
    let open = |g: &Guard<'_>| {
        let alarms = g.running.as_ref().unwrap().engine().open_alarms();
        alarms
            .iter()
            .map(|x| (x.account.clone(), x.owner.clone()))
            .collect::<Vec<_>>()
    };
    let want = vec![("1234".to_owned(), Some(winner.0.to_owned()))];
    assert!(
        wait_for(Duration::from_secs(10), || open(&a) == want
            && open(&b) == want)
        .is_some(),
        "a: {:?}, b: {:?}",
        open(&a),
        open(&b)
    );
    a.stop();
    b.stop();
}

#[test]
fn the_web_console_shows_the_degraded_banner_in_chromium() {
    let mut pg = Postgres::primary();
    let dir = tempfile::tempdir().unwrap();
    let rt = crate::console::runtime();
    let da = dir.path().join("a");
    let mut a = console_node(&da, &pg.url(), "a", &rt);
    let (console, dc09) = {
        let r = a.running.as_ref().unwrap();
        (r.console_addr.unwrap(), r.addr)
    };
    // VAGT_KEEP_SCREENSHOTS=docs/screenshots keeps degraded.png (README); else a temp dir.
    let shots = std::env::var_os("VAGT_KEEP_SCREENSHOTS")
        .map_or_else(|| dir.path().to_owned(), std::path::PathBuf::from);
    let (mut browser, mut lines) = crate::browser::run_script(
        "degraded.mjs",
        console,
        &[("VAGT_SCREENSHOT_DIR", shots.as_os_str())],
    );
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    pg.kill();
    crate::browser::press(dc09, "1234");
    assert_eq!(lines.next().unwrap().unwrap(), "degraded");
    pg.start();
    crate::browser::press(dc09, "4321");
    assert_eq!(lines.next().unwrap().unwrap(), "over");
    assert!(browser.wait().unwrap().success());
    a.stop();
}

/// `vagt serve` as node `name` with `extra` lines in its `[cluster]` section, expected to
/// refuse to start: its exit code and stderr.
fn node_refused(dir: &Path, url: &str, name: &str, extra: &str) -> (Option<i32>, String) {
    std::fs::create_dir_all(dir).unwrap();
    let config = dir.join("vagt.toml");
    std::fs::write(&config, cluster_section(url, name) + extra).unwrap();
    let mut child = crate::gateway::serve_command(dir)
        .arg("--config")
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A node that starts after all (what this guards against) is stopped, not waited for.
    let exited = wait_for(Duration::from_secs(30), || {
        child.try_wait().is_ok_and(|s| s.is_some())
    });
    if exited.is_none() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    let code = exited.and_then(|_| out.status.code());
    (code, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn nodes_reach_postgresql_only_over_verified_tls() {
    let mut pg = Postgres::primary();
    let (ca, cert, key) = vagt_testkit::pg::test_ca();
    pg.require_tls(&cert, &key);
    let dir = tempfile::tempdir().unwrap();
    // Plain TCP is refused by the server: the node says so and exits 2.
    let (code, err) = node_refused(&dir.path().join("plain"), &pg.url(), "a", "");
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("no encryption") || err.contains("pg_hba"),
        "{err}"
    );
    // A CA that did not sign the server's certificate: refused, naming the certificate.
    let (other_ca, _, _) = vagt_testkit::pg::test_ca();
    let wrong = dir.path().join("wrong");
    std::fs::create_dir_all(&wrong).unwrap();
    std::fs::write(wrong.join("ca.pem"), other_ca).unwrap();
    let (code, err) = node_refused(&wrong, &pg.url(), "a", "ca_file = \"ca.pem\"\n");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    // With the right CA (a path relative to the config file): alarms are ACKed after their
    // commit in PostgreSQL, and every connection the node holds is encrypted.
    let ok = dir.path().join("ok");
    std::fs::create_dir_all(&ok).unwrap();
    std::fs::write(ok.join("ca.pem"), ca).unwrap();
    let config = ok.join("vagt.toml");
    std::fs::write(
        &config,
        cluster_section(&pg.url(), "a") + "ca_file = \"ca.pem\"\n",
    )
    .unwrap();
    let g = Gateway::start_on(&ok, &["--config", config.to_str().unwrap()]);
    let mut s = g.tcp();
    s.write_all(&sia("1234", 1, "BA1")).unwrap();
    assert!(read_ack(&mut s), "no ACK over a TLS cluster");
    assert_eq!(
        pg.sql("SELECT count(*) FROM vagt_log WHERE node = 'a' AND dedup IS NOT NULL"),
        "1"
    );
    let conns = pg.sql(
        "SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_ssl s \
         JOIN pg_stat_activity a USING (pid) \
         WHERE a.client_addr IS NOT NULL AND a.application_name <> 'psql'",
    );
    let (encrypted, all) = conns.split_once('|').unwrap();
    assert_eq!(encrypted, all, "{conns}");
    assert!(all.parse::<u32>().unwrap() >= 2, "{conns}");
    // `vagt alarms` reads the cluster log over TLS too.
    assert_eq!(g.settled_alarms().as_array().unwrap().len(), 1);
}

#[test]
fn with_a_ca_file_a_server_without_tls_is_refused_never_used_in_the_clear() {
    // A server with TLS off (the default initdb setup): libpq's "prefer" would fall back to
    // plain TCP; a node with ca_file must not.
    let pg = Postgres::primary();
    let (ca, _, _) = vagt_testkit::pg::test_ca();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca).unwrap();
    let (code, err) = node_refused(dir.path(), &pg.url(), "a", "ca_file = \"ca.pem\"\n");
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.to_lowercase().contains("tls") || err.contains("SSL"),
        "{err}"
    );
    assert_eq!(
        pg.sql("SELECT count(*) FROM pg_tables WHERE tablename = 'vagt_log'"),
        "0"
    );
}

/// One alarm to `at`, waiting for its ACK.
fn alarm_to(at: SocketAddr, account: &str, seq: u16) {
    let mut s = TcpStream::connect(at).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&sia(account, seq, "QA")).unwrap();
    assert!(read_ack(&mut s), "alarm {account} {seq} not acknowledged");
}

#[test]
fn a_node_that_joined_before_starts_while_postgresql_is_away_and_joins_when_it_is_back() {
    let mut pg = Postgres::primary();
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), &pg.url(), "a");
    alarm_to(a.addr, "1234", 1);
    assert_eq!(a.stop(), Some(0));
    // A database failover, a network cut: the node restarts meanwhile (a deploy, a crash).
    pg.kill();
    let a = node(dir.path(), &pg.url(), "a");
    assert_eq!(
        a.metric("vagt_cluster_degraded", ""),
        1.0,
        "degraded from the start"
    );
    assert!(
        a.get("/readyz").contains(" 200 OK"),
        "it answers, so it takes traffic: {}",
        a.get("/readyz")
    );
    alarm_to(a.addr, "4321", 1);
    assert!(a.metric("vagt_cluster_acks_total", "mode=\"degraded\"") >= 1.0);
    pg.start();
    let joined = wait_for(Duration::from_secs(60), || {
        a.metric("vagt_cluster_degraded", "") == 0.0
            && a.metric("vagt_cluster_unshipped_bytes", "") == 0.0
    });
    assert!(
        joined.is_some(),
        "the node never joined when PostgreSQL was back"
    );
    let stored = stored_frames(&pg);
    assert_eq!(stored.get(&("1234".into(), "0001".into())), Some(&1));
    assert_eq!(stored.get(&("4321".into(), "0001".into())), Some(&1));
    assert_eq!(stored.len(), 2, "{stored:?}");
    // The core folds the log from where the node left it: both alarms open; only the one
    // acknowledged in this run is live (counted), the other is the start-up replay.
    let folded = wait_for(Duration::from_secs(30), || {
        a.get_json("/core")["open_alarms"] == 2
    });
    assert!(folded.is_some(), "{}", a.get_json("/core"));
    assert_eq!(a.metric("vagt_core_alarms_opened_total", ""), 1.0);
    assert_eq!(a.stop(), Some(0));
}

#[test]
fn a_node_that_never_joined_refuses_to_start_without_postgresql() {
    let mut pg = Postgres::primary();
    let url = pg.url();
    pg.kill();
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = node_refused(dir.path(), &url, "a", "");
    assert_eq!(code, Some(2), "{stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("vagt: error"))
        .collect();
    assert_eq!(errors.len(), 1, "one line: {stderr}");
    assert!(errors[0].contains("never joined the cluster"), "{stderr}");
}

/// `vagt serve` started again in `dir` (its config there) while PostgreSQL is away: the child
/// and its DC-09 address.
fn late_node(dir: &Path) -> (std::process::Child, SocketAddr) {
    let config = dir.join("vagt.toml");
    let mut child = crate::gateway::serve_command(dir)
        .arg("--config")
        .arg(&config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut ready,
    )
    .unwrap();
    let at = ready
        .split_once("listening on ")
        .and_then(|(_, r)| r.split_once(' '))
        .map(|(a, _)| a.parse().unwrap())
        .unwrap_or_else(|| panic!("not started: {ready:?}"));
    (child, at)
}

/// Asserts that `child` stops by itself within a minute, non-zero (fail-stop, for the
/// supervisor); its stderr.
fn fails_stop(mut child: std::process::Child, what: &str) -> String {
    let stopped = wait_for(Duration::from_secs(60), || {
        child.try_wait().is_ok_and(|s| s.is_some())
    });
    if stopped.is_none() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(stopped.is_some(), "{what}: {stderr}");
    assert!(
        out.status.code().is_some_and(|c| c != 0),
        "fail-stop: non-zero for the supervisor, not {}",
        out.status
    );
    stderr
}

/// Node "a" joins and acknowledges `alarms` alarms, stops; `sql` changes the database behind
/// its back; the node restarts while PostgreSQL is down, acknowledges an alarm on its own
/// journal, and must stop (fail-stop) once PostgreSQL is back: its stderr.
fn late_join_after(alarms: u16, sql: &str, what: &str) -> String {
    let mut pg = Postgres::primary();
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), &pg.url(), "a");
    for seq in 1..=alarms {
        alarm_to(a.addr, "1234", seq);
    }
    // The stop writes the core's snapshot at its position in the log.
    assert_eq!(a.stop(), Some(0));
    pg.sql(sql);
    pg.kill();
    let (child, at) = late_node(dir.path());
    alarm_to(at, "4321", 1);
    pg.start();
    fails_stop(child, what)
}

#[test]
fn a_late_joining_node_that_postgresql_knows_by_another_tag_stops() {
    // The database was replaced behind the node's back: it knows "a" by another number now.
    let stderr = late_join_after(
        0,
        "UPDATE vagt_nodes SET id = 77 WHERE node = 'a'",
        "the node ran on under a tag that is not its own",
    );
    assert!(stderr.contains("has tag 77"), "{stderr}");
}

#[test]
fn a_late_joining_node_whose_core_is_ahead_of_the_log_stops_instead_of_following_it() {
    // The database restored from a backup older than the core's snapshot.
    let stderr = late_join_after(
        3,
        "TRUNCATE vagt_log; UPDATE vagt_seq SET next = 1",
        "the node followed a log its core is ahead of",
    );
    assert!(stderr.contains("not of this cluster's log"), "{stderr}");
}

#[test]
fn a_late_joining_node_whose_snapshot_is_not_of_the_grown_log_stops_instead_of_following_it() {
    // The log was rewritten behind the node (here: every row one place later) and is now longer
    // than it was at the core's snapshot: the end is no help, the snapshot's last record is.
    let stderr = late_join_after(
        3,
        "CREATE TEMP TABLE t AS SELECT * FROM vagt_log; TRUNCATE vagt_log; \
         INSERT INTO vagt_log (gseq, node, origin, written_at, dedup, payload) \
         SELECT gseq + 1, node, origin, written_at, dedup, payload FROM t; \
         UPDATE vagt_seq SET next = next + 1",
        "the node followed a log its snapshot is not of",
    );
    assert!(stderr.contains("does not hold"), "{stderr}");
}

#[test]
fn a_node_whose_snapshot_is_not_of_the_restored_log_replays_the_log() {
    // The database is restored from a backup taken before node a shipped anything, and node b
    // writes more than the log held when a's core took its snapshot, before a starts again: a
    // must fold the log as it is (as b does), not its old state with the log after it.
    let pg = Postgres::primary();
    let dir = tempfile::tempdir().unwrap();
    let rt = crate::console::runtime();
    let (da, db) = (dir.path().join("a"), dir.path().join("b"));
    let state = |g: &Guard<'_>| {
        let mut v: Vec<_> = g
            .running
            .as_ref()
            .unwrap()
            .engine()
            .open_alarms()
            .iter()
            .map(|a| (a.account.clone(), a.repeats))
            .collect();
        v.sort();
        v
    };
    let mut a = console_node(&da, &pg.url(), "a", &rt);
    for seq in 1..=3 {
        alarm_to(a.running.as_ref().unwrap().addr, "1234", seq);
    }
    assert!(
        wait_for(Duration::from_secs(10), || state(&a)
            == [("1234".to_owned(), 2)])
        .is_some()
    );
    a.stop(); // writes the core's snapshot
    let snapshot_at = std::fs::read_dir(da.join("data/core-cluster"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_prefix("snapshot-")?
                .strip_suffix(".json")?
                .parse::<u64>()
                .ok()
        })
        .max()
        .expect("a's stop wrote a snapshot");
    pg.sql("TRUNCATE vagt_log; UPDATE vagt_seq SET next = 1; UPDATE vagt_nodes SET shipped = 0");
    let b = console_node(&db, &pg.url(), "b", &rt);
    let b_addr = b.running.as_ref().unwrap().addr;
    let mut seq = 0;
    while pg.sql("SELECT next FROM vagt_seq").parse::<u64>().unwrap() <= snapshot_at {
        seq += 1;
        alarm_to(b_addr, "4321", seq);
    }
    let a = console_node(&da, &pg.url(), "a", &rt);
    let both = [
        ("1234".to_owned(), 2),
        ("4321".to_owned(), u32::from(seq) - 1),
    ];
    assert!(
        wait_for(Duration::from_secs(15), || state(&a) == both
            && state(&b) == both)
        .is_some(),
        "a: {:?}, b: {:?}, want {both:?}",
        state(&a),
        state(&b)
    );
}

#[test]
fn a_late_join_that_postgresql_refuses_stops_the_node() {
    // Another node upgraded the schema past this build while this one was down.
    let stderr = late_join_after(
        0,
        "INSERT INTO vagt_schema VALUES (999)",
        "the refused node retried for ever",
    );
    assert!(stderr.contains("newer than this Vagt"), "{stderr}");
}

#[test]
fn a_cluster_nodes_console_lets_admins_look_but_not_change_a_nodes_files() {
    use serde_json::json;
    let pg = Postgres::primary();
    let dir = tempfile::tempdir().unwrap();
    let rt = crate::console::runtime();
    let da = dir.path().join("a");
    std::fs::create_dir_all(&da).unwrap();
    // The config file goes unused: the node is started from the section itself.
    let _ = crate::admin::config_with_admin(&da, "");
    let section = std::fs::read_to_string(da.join("vagt.toml")).unwrap();
    let mut a = console_node_with(&da, &pg.url(), "a", &rt, section);
    let console = a.running.as_ref().unwrap().console_addr.unwrap();
    rt.block_on(async {
        let (mut anna, _) = login(console, &da.join("console-cert.pem"), "anna").await;
        let users = crate::admin::admin(&mut anna, 1, json!({"action": "users"})).await;
        assert_eq!(users["type"], "admin", "{users}");
        for (id, change) in [
            (2, json!({"action": "add_user", "name": "nina", "role": "operator", "password": "nina-long-password"})),
            (3, json!({"action": "put_citizen", "record": {"citizen": "borger-9", "name": "Ib"}})),
            (4, json!({"action": "remove_account", "account": "1234"})),
        ] {
            let e = crate::admin::admin(&mut anna, id, change).await;
            assert_eq!(e["type"], "error", "{e}");
            assert!(e["message"].as_str().unwrap().contains("in a cluster"), "{e}");
        }
    });
    a.stop();
}

/// Node "a" on `pg`, started as a child whose stderr is kept (for a node expected to stop):
/// the child and its DC-09 address.
fn watched_node(dir: &Path, pg: &Postgres) -> (std::process::Child, SocketAddr) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("vagt.toml"), cluster_section(&pg.url(), "a")).unwrap();
    late_node(dir)
}

/// The log's end and node a's shipped mark, read in one snapshot (a backup of the database).
fn backup_point(pg: &Postgres) -> (String, String) {
    let both = pg.sql(
        "SELECT (SELECT next FROM vagt_seq) || ' ' || (SELECT shipped FROM vagt_nodes WHERE node = 'a')",
    );
    let (next, shipped) = both.split_once(' ').unwrap();
    (next.to_owned(), shipped.to_owned())
}

/// The database as restored from a backup taken at `point` (what was committed after it is
/// gone), and the log's end then moved to `next`.
fn restore_to(pg: &Postgres, (at, shipped): &(String, String), next: &str) {
    pg.sql(&format!(
        "UPDATE vagt_seq SET next = {next}; DELETE FROM vagt_log WHERE gseq >= {at}; \
         UPDATE vagt_nodes SET shipped = {shipped} WHERE node = 'a'"
    ));
}

/// Node a (a child, as [`watched_node`]) acknowledges alarms 1–3 of account 1234, the
/// database backed up after the first ([`backup_point`]): the child, its address, the point.
fn backed_up_after_one_of_three(
    dir: &Path,
    pg: &Postgres,
) -> (std::process::Child, SocketAddr, (String, String)) {
    let (child, at) = watched_node(dir, pg);
    alarm_to(at, "1234", 1);
    let point = backup_point(pg);
    alarm_to(at, "1234", 2);
    alarm_to(at, "1234", 3);
    (child, at, point)
}

/// Restarted after a fail-stop over a database that lost its alarms 2 and 3, node a ships them
/// again: alarms 1–3 of account 1234 are each in the log exactly once.
fn ships_the_lost_alarms_again(dir: &Path, pg: &Postgres) {
    let a = node(dir, &pg.url(), "a");
    let once = |pg: &Postgres| {
        let mut of_1234: Vec<usize> = stored_frames(pg)
            .into_iter()
            .filter(|((account, _), _)| account == "1234")
            .map(|(_, n)| n)
            .collect();
        of_1234.sort_unstable();
        of_1234
    };
    assert!(
        wait_for(Duration::from_secs(30), || once(pg) == [1, 1, 1]).is_some(),
        "alarms of 1234 in the log, times each: {:?}",
        once(pg)
    );
    assert_eq!(a.stop(), Some(0));
}

#[test]
fn a_running_node_stops_when_the_database_loses_committed_records_and_ships_them_again() {
    // The database is restored from a backup while node a runs (an operator did not stop the
    // nodes first, or a failover went to a standby that was behind): a has folded, and shipped,
    // records the log no longer holds.
    let pg = Postgres::primary();
    let dir = tempfile::tempdir().unwrap();
    let (child, _, point) = backed_up_after_one_of_three(dir.path(), &pg);
    restore_to(&pg, &point, &point.0);
    let stderr = fails_stop(child, "the node folded on over a log that lost records");
    // Seen by the committed-end watcher (within 50 ms), or by the next shipping call if the
    // leader's clock tick goes first.
    assert!(
        stderr.contains("committed end went back") || stderr.contains("lost records of node a"),
        "{stderr}"
    );
    ships_the_lost_alarms_again(dir.path(), &pg);
}

#[test]
fn a_node_whose_shipped_records_the_database_lost_stops_even_when_the_log_grew_past_them() {
    // As above, but while a was paused, and other nodes wrote past its view of the log before
    // it woke (the end alone no longer shows the loss): its next shipping call does.
    let pg = Postgres::primary();
    let dir = tempfile::tempdir().unwrap();
    let (child, at, point) = backed_up_after_one_of_three(dir.path(), &pg);
    signal(&child, "STOP");
    let grown = pg.sql("SELECT next + 1000 FROM vagt_seq");
    restore_to(&pg, &point, &grown);
    signal(&child, "CONT");
    // Something to ship (its ACK does not matter here: the node may stop before it).
    if let Ok(mut s) = TcpStream::connect(at) {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.write_all(&sia("4321", 1, "QA"));
        let _ = read_ack(&mut s);
    }
    let stderr = fails_stop(child, "the node shipped on past records the log lost");
    assert!(stderr.contains("lost records of node a"), "{stderr}");
    ships_the_lost_alarms_again(dir.path(), &pg);
}

#[test]
fn a_frame_is_shipped_to_postgresql_only_once_the_local_fsync_is_done_and_acked_after_both() {
    // The shipper reads only what the local journal has made durable: PostgreSQL's mark of how
    // far a node is shipped must never pass the node's durable end (after a power cut or a
    // failed fsync the journal writes other records at those offsets, and the mark would skip
    // them). Here the node's fdatasync hangs for 8 s (the probe of ordering.rs, while a file
    // exists): meanwhile PostgreSQL has no copy of the frame and the device no ACK; then both.
    let pg = Postgres::primary();
    let dir = tempfile::tempdir().unwrap();
    let probe = crate::ordering::build_probe(dir.path());
    let slow = dir.path().join("disk-hangs");
    let data = dir.path().join("a");
    std::fs::create_dir_all(&data).unwrap();
    let config = data.join("vagt.toml");
    std::fs::write(&config, cluster_section(&pg.url(), "a")).unwrap();
    let env = [
        ("LD_PRELOAD", probe.as_os_str()),
        ("VAGT_PROBE_SLOW_IF", slow.as_os_str()),
        ("VAGT_PROBE_DELAY_US", std::ffi::OsStr::new("8000000")),
    ];
    let a = Gateway::start_with_env(&data, &["--config", config.to_str().unwrap()], &env);
    let mut s = a.tcp();
    std::fs::write(&slow, "").unwrap();
    s.write_all(&sia("1234", 1, "QA1")).unwrap();
    let frame = ("1234".to_owned(), "0001".to_owned());
    // Its record written to the node's journal file (the fsync of its batch starts now, and
    // hangs; a clock tick's fsync may have held the writer up to here).
    let written = wait_for(Duration::from_secs(30), || {
        journal_holds(&data.join("journal"), b"QA1")
    });
    assert!(
        written.is_some(),
        "the frame never reached the node's journal file"
    );
    // Well inside the 8 s its fsync hangs (a shipping call takes milliseconds).
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !stored_frames(&pg).contains_key(&frame),
        "shipped to PostgreSQL before it was durable on the node's disk"
    );
    s.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let early = s.read(&mut byte);
    assert!(
        matches!(&early, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "answered before the local fsync completed: {early:?}"
    );
    std::fs::remove_file(&slow).unwrap();
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    assert!(read_ack(&mut s), "acknowledged once the fsync is done");
    assert_eq!(
        stored_frames(&pg).get(&frame),
        Some(&1),
        "and committed in PostgreSQL"
    );
    assert_eq!(a.stop(), Some(0));
}

/// Whether a segment file of the journal in `dir` holds `bytes` (written, synced or not).
fn journal_holds(dir: &Path, bytes: &[u8]) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.filter_map(Result::ok).any(|e| {
            std::fs::read(e.path()).is_ok_and(|b| b.windows(bytes.len()).any(|w| w == bytes))
        })
    })
}
