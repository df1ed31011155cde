//! Console fan-out under load (issue #5): 200 consoles connected over TLS follow the live queue
//! while devices send 10 000 alarms/s; the gateway's ACK latency is measured with and without
//! the consoles (promise 2: it must not rise).
//!
//! The gateway runs in-process (fsync on, console on loopback, dev certificate); the load is
//! vagt-replay's fleet (1 000 devices on their own connections, a Poisson alarm every 0.1 s each,
//! for `VAGT_FANOUT_SECS`, default 5); every console reads every change and counts it. Runs
//! without and with consoles alternate, `VAGT_FANOUT_ROUNDS` times each (default 3).
//! `VAGT_FANOUT_NICE=n` runs the console threads at nice `n` instead of `SCHED_IDLE`.
//! `VAGT_FANOUT_SPLIT=1` stands in for separate machines: the gateway (with its console) and the
//! load generator are pinned to CPU 0 (`taskset`), the 200 clients run in a second process of
//! this bench pinned to CPU 1.
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
use vagt::config::{Config, default_without_console};
use vagt_console::users::{User, UserRole, entry, hash_password};
use vagt_records::Accounts;
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

/// What the consoles saw.
#[derive(Default)]
struct Seen {
    changes: AtomicU64,
    messages: AtomicU64,
    bytes: AtomicU64,
    snapshots: AtomicU64,
    resyncs: AtomicU64,
}

/// Connects `n` consoles; returns the counters of what they saw.
async fn consoles(
    n: usize,
    addr: SocketAddr,
    cert: &Path,
) -> (Arc<Seen>, Vec<tokio::task::JoinHandle<()>>) {
    let seen = Arc::new(Seen::default());
    let mut tasks = Vec::new();
    for _ in 0..n {
        let mut ws = vagt_console::client::connect(addr, "localhost", cert)
            .await
            .unwrap();
        let login = r#"{"type":"login","user":"op","password":"op-password"}"#;
        ws.send(Message::Text(login.into())).await.unwrap();
        let seen = Arc::clone(&seen);
        tasks.push(tokio::spawn(async move {
            let mut snapshots = 0;
            while let Some(Ok(Message::Text(t))) = ws.next().await {
                if t.as_str().starts_with(r#"{"type":"changes""#) {
                    // Counted, not parsed: parsing 200 consoles' JSON would measure this
                    // machine's clients, not the server. Every change, and nothing else in
                    // a batch, has an `at` field.
                    let n = t.as_str().matches(r#""at":"#).count();
                    seen.changes.fetch_add(n as u64, Ordering::Relaxed);
                    seen.messages.fetch_add(1, Ordering::Relaxed);
                    seen.bytes.fetch_add(t.len() as u64, Ordering::Relaxed);
                } else if t.as_str().starts_with(r#"{"type":"snapshot""#) {
                    snapshots += 1;
                    seen.snapshots.fetch_add(1, Ordering::Relaxed);
                    if snapshots > 1 {
                        seen.resyncs.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    (seen, tasks)
}

impl Seen {
    /// Changes, messages, bytes and resyncs so far.
    fn counts(&self) -> [u64; 4] {
        [
            self.changes.load(Ordering::Relaxed),
            self.messages.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
            self.resyncs.load(Ordering::Relaxed),
        ]
    }

    /// Waits until every console has its first snapshot.
    fn wait_following(&self) {
        while self.snapshots.load(Ordering::Relaxed) < CONSOLES as u64 {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The 200 consoles of one run: in this process, or (`VAGT_FANOUT_SPLIT=1`) in a second
/// process of this bench pinned to the other CPU.
enum Clients {
    Here(Arc<Seen>, Vec<tokio::task::JoinHandle<()>>),
    Process(
        std::process::Child,
        std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
    ),
}

impl Clients {
    /// What they saw so far.
    fn counts(&mut self) -> [u64; 4] {
        match self {
            Self::Here(seen, _) => seen.counts(),
            Self::Process(child, lines) => Self::ask(child, lines),
        }
    }

    /// Stops them; what they saw.
    fn finish(mut self) -> [u64; 4] {
        let counts = self.counts();
        match self {
            Self::Here(_, tasks) => tasks.iter().for_each(tokio::task::JoinHandle::abort),
            Self::Process(mut child, _) => {
                drop(child.stdin.take());
                child.wait().unwrap();
            }
        }
        counts
    }

    /// The counts so far of a clients process.
    fn ask(
        child: &mut std::process::Child,
        lines: &mut std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
    ) -> [u64; 4] {
        use std::io::Write;
        let stdin = child.stdin.as_mut().unwrap();
        stdin.write_all(b"count\n").unwrap();
        stdin.flush().unwrap();
        let line = lines.next().unwrap().unwrap();
        let v: Vec<u64> = line.split(' ').map(|x| x.parse().unwrap()).collect();
        [v[0], v[1], v[2], v[3]]
    }

    /// Changes delivered once the consoles have caught up (no new delivery for 2 s; at most
    /// 120 s); only measured for a clients process.
    fn caught_up(&mut self) -> Option<u64> {
        let Self::Process(child, lines) = self else {
            return None;
        };
        let (mut last, mut still) = (0, 0);
        for _ in 0..240 {
            let [changes, ..] = Self::ask(child, lines);
            if changes == last {
                still += 1;
                if still == 4 {
                    break;
                }
            } else {
                (last, still) = (changes, 0);
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        Some(last)
    }
}

/// The second process's part: connect, say "ready" once every console follows, and print the
/// counts when standard input closes.
fn clients_role() {
    use std::io::Write;
    let addr: SocketAddr = std::env::var("VAGT_FANOUT_ADDR").unwrap().parse().unwrap();
    let cert = std::path::PathBuf::from(std::env::var("VAGT_FANOUT_CERT").unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (seen, _tasks) = rt.block_on(consoles(CONSOLES, addr, &cert));
    seen.wait_following();
    println!("ready");
    std::io::stdout().flush().unwrap();
    // Each input line asks for the counts; the end of input ends the process.
    for _ in std::io::stdin().lines() {
        let [c, m, b, r] = seen.counts();
        println!("{c} {m} {b} {r}");
        std::io::stdout().flush().unwrap();
    }
    std::process::exit(0);
}

/// Pins this process's threads (and so every thread created later) to CPU `cpu`.
fn pin_self(cpu: u32) {
    let pid = std::process::id().to_string();
    let ok = std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", &cpu.to_string(), &pid])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "taskset failed");
}

fn main() {
    if std::env::var("VAGT_FANOUT_ROLE").as_deref() == Ok("clients") {
        return clients_role();
    }
    let split = std::env::var("VAGT_FANOUT_SPLIT").as_deref() == Ok("1");
    if split {
        // The gateway, its console and the load generator on CPU 0; the clients on CPU 1.
        pin_self(0);
    }
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
            municipality: None,
            password: hash_password("op-password").unwrap(),
            disabled: false,
        })
        .unwrap(),
    )
    .unwrap();
    // This machine is shared: ACK latency between runs varies by several times. So runs with
    // and without consoles alternate, and the medians are compared.
    let rounds: u64 = std::env::var("VAGT_FANOUT_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let loads: Vec<Scenario> = (0..2 * rounds)
        .map(|i| scenario(secs, 800_000 + 1_000 * i))
        .collect();
    let text = default_without_console()
        .replace("listen = \"0.0.0.0:7050\"", "listen = \"127.0.0.1:0\"")
        .replace("metrics = \"127.0.0.1:9464\"", "metrics = \"127.0.0.1:0\"")
        + &format!(
            "\n[console]\nlisten = \"127.0.0.1:0\"\ncert = \"{}\"\nkey = \"{}\"\nusers = \"{}\"\n",
            cert.display(),
            key.display(),
            users.display()
        );
    let mut config = Config::parse(&text, Path::new(".")).unwrap();
    // VAGT_FANOUT_NICE: the console threads at this nice value instead of SCHED_IDLE.
    if let Some(nice) = std::env::var("VAGT_FANOUT_NICE")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        let console = config.console.as_mut().unwrap();
        console.cpu = vagt_console::ConsoleCpu::Nice;
        console.nice = nice;
    }
    config.gateway.data = dir.path().join("data");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let accounts = Accounts::parse(
        &loads
            .iter()
            .map(Scenario::accounts_file)
            .collect::<String>(),
    )
    .unwrap();
    let running = rt.block_on(vagt::serve::start(config, accounts)).unwrap();
    let (dc09, console) = (running.addr, running.console_addr.unwrap());

    // The consoles stand in for the operators' own machines: their own runtime, at the lowest
    // CPU priority, so that on this one machine they take only what the gateway leaves.
    let clients_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .on_thread_start(|| {
            vagt_console::lower_priority(vagt_console::Priority::Idle);
        })
        .enable_all()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    let mut p99s: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for (load, with_consoles) in loads.iter().zip([false, true].into_iter().cycle()) {
        // Measured once every console is following (has its snapshot of the queue so far).
        let mut clients = with_consoles.then(|| {
            if split {
                let mut child = std::process::Command::new("taskset")
                    .args(["-c", "1"])
                    .arg(std::env::current_exe().unwrap())
                    .env("VAGT_FANOUT_ROLE", "clients")
                    .env("VAGT_FANOUT_ADDR", console.to_string())
                    .env("VAGT_FANOUT_CERT", &cert)
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                let mut lines =
                    std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
                assert_eq!(lines.next().unwrap().unwrap(), "ready");
                Clients::Process(child, lines)
            } else {
                let (seen, tasks) = clients_rt.block_on(consoles(CONSOLES, console, &cert));
                seen.wait_following();
                Clients::Here(seen, tasks)
            }
        });
        std::thread::sleep(Duration::from_millis(500));
        let outcome = vagt_replay::run::run(load, dc09).unwrap();
        std::thread::sleep(Duration::from_secs(1)); // the feed drains
        let r = &outcome.report;
        p99s[usize::from(with_consoles)].push(r.latency_ms.p99);
        let at_end = clients.as_mut().map(Clients::counts);
        let eventually = clients.as_mut().and_then(Clients::caught_up);
        let final_counts = clients.map_or([0; 4], Clients::finish);
        let [changes, messages, bytes, _] = at_end.unwrap_or([0; 4]);
        let resyncs = final_counts[3];
        rows.push(format!(
            "| {} | {} | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {} | {} | {} | {:.0} | {} |",
            if with_consoles { CONSOLES } else { 0 },
            r.counts.acked,
            r.counts.acked as f64 / secs as f64,
            r.latency_ms.p50,
            r.latency_ms.p99,
            r.latency_ms.p999,
            r.latency_ms.max,
            changes,
            eventually.map_or_else(|| "—".to_owned(), |n| n.to_string()),
            messages,
            bytes as f64 / 1e6 / secs as f64,
            resyncs
        ));
    }
    println!(
        "\n| consoles | alarms ACKed | alarms/s | ACK p50 | p99 | p99.9 | max | changes delivered to consoles (1 s after the load) | once caught up | messages | MB/s to consoles | resyncs |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
    for (consoles, mut v) in [0, CONSOLES].into_iter().zip(p99s) {
        v.sort_by(f64::total_cmp);
        println!(
            "median ACK p99 with {consoles} consoles over {} runs: {:.2} ms",
            v.len(),
            v[v.len() / 2]
        );
    }
    rt.block_on(running.shutdown(Duration::from_secs(10)))
        .unwrap();
}
