//! Console fan-out under load (issue #5): 200 consoles connected over TLS follow the live queue
//! while devices send 10 000 alarms/s; the gateway's ACK latency is measured with and without
//! the consoles (promise 2: it must not rise).
//!
//! The gateway runs in-process (fsync on, console on loopback, dev certificate); the load is
//! vagt-replay's fleet (1 000 devices on their own connections, a Poisson alarm every 0.1 s each,
//! for `VAGT_FANOUT_SECS`, default 5); every console reads every change and counts it.
//!
//! Run: `cargo bench -p vagt-benches --bench console_fanout`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use vagt_console::users::{User, UserRole, entry, hash_password};
use vagt_gateway::accounts::Accounts;
use vagt_gateway::config::{Config, DEFAULT_CONFIG};
use vagt_replay::scenario::Scenario;

const CONSOLES: usize = 200;

/// The load; each run gets its own accounts (the same frames again would be retransmissions,
/// answered from the dedup window without new records).
fn scenario(secs: u64, account_start: u64) -> Scenario {
    Scenario::parse(&format!(
        "name = \"fanout-load\"\nduration_secs = {secs}\nseed = 9\n[fleet]\ndevices = 1000\n\
         account_start = {account_start}\nalarm_interval_secs = 0.1\n[device]\nack_timeout_ms = 10000\n"
    ))
    .unwrap()
}

/// Connects `n` consoles; returns the counters of changes and resyncs they saw.
async fn consoles(
    n: usize,
    addr: SocketAddr,
    cert: &Path,
) -> (
    Arc<AtomicU64>,
    Arc<AtomicU64>,
    Vec<tokio::task::JoinHandle<()>>,
) {
    let changes = Arc::new(AtomicU64::new(0));
    let resyncs = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..n {
        let mut ws = vagt_console::client::connect(addr, "localhost", cert)
            .await
            .unwrap();
        let login = r#"{"type":"login","user":"op","password":"op-password"}"#;
        ws.send(Message::Text(login.into())).await.unwrap();
        let (changes, resyncs) = (Arc::clone(&changes), Arc::clone(&resyncs));
        tasks.push(tokio::spawn(async move {
            let mut snapshots = 0;
            while let Some(Ok(Message::Text(t))) = ws.next().await {
                if t.as_str().starts_with(r#"{"type":"change""#) {
                    changes.fetch_add(1, Ordering::Relaxed);
                } else if t.as_str().starts_with(r#"{"type":"snapshot""#) {
                    snapshots += 1;
                    if snapshots > 1 {
                        resyncs.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    (changes, resyncs, tasks)
}

fn main() {
    let secs: u64 = std::env::var("VAGT_FANOUT_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = vagt_console::tls::dev_cert(dir.path(), &[]).unwrap();
    let users = dir.path().join("users.toml");
    std::fs::write(
        &users,
        entry(&User {
            name: "op".into(),
            role: UserRole::Operator,
            team: None,
            password: hash_password("op-password").unwrap(),
        })
        .unwrap(),
    )
    .unwrap();
    let loads = [scenario(secs, 800_000), scenario(secs, 801_000)];
    let text = DEFAULT_CONFIG
        .replace("listen = \"0.0.0.0:7050\"", "listen = \"127.0.0.1:0\"")
        .replace("metrics = \"127.0.0.1:9464\"", "metrics = \"127.0.0.1:0\"")
        + &format!(
            "\n[console]\nlisten = \"127.0.0.1:0\"\ncert = \"{}\"\nkey = \"{}\"\nusers = \"{}\"\n",
            cert.display(),
            key.display(),
            users.display()
        );
    let mut config = Config::parse(&text, Path::new(".")).unwrap();
    config.gateway.data = dir.path().join("data");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let accounts =
        Accounts::parse(&(loads[0].accounts_file() + &loads[1].accounts_file())).unwrap();
    let running = rt
        .block_on(vagt_gateway::serve::start(config, accounts))
        .unwrap();
    let (dc09, console) = (running.addr, running.console_addr.unwrap());

    let mut rows = Vec::new();
    for (load, with_consoles) in loads.iter().zip([false, true]) {
        let clients = with_consoles.then(|| rt.block_on(consoles(CONSOLES, console, &cert)));
        std::thread::sleep(Duration::from_millis(500));
        let outcome = vagt_replay::run::run(load, dc09).unwrap();
        std::thread::sleep(Duration::from_secs(1)); // the feed drains
        let r = &outcome.report;
        let (changes, resyncs) = clients.as_ref().map_or((0, 0), |(c, s, _)| {
            (c.load(Ordering::Relaxed), s.load(Ordering::Relaxed))
        });
        rows.push(format!(
            "| {} | {} | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {} | {} |",
            if with_consoles { CONSOLES } else { 0 },
            r.counts.acked,
            r.counts.acked as f64 / secs as f64,
            r.latency_ms.p50,
            r.latency_ms.p99,
            r.latency_ms.p999,
            r.latency_ms.max,
            changes,
            resyncs
        ));
        if let Some((_, _, tasks)) = clients {
            for t in tasks {
                t.abort();
            }
        }
    }
    println!(
        "\n| consoles | alarms ACKed | alarms/s | ACK p50 | p99 | p99.9 | max | changes delivered to consoles | resyncs |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
    rt.block_on(running.shutdown(Duration::from_secs(10)))
        .unwrap();
}
