//! Closed-loop load, like panels: each connection sends one alarm, waits for its ACK, sends the
//! next — as fast as the receiver answers — and the receiver's CPU time is read from `/proc`
//! around the measured interval (whole process and per thread), so the cost per ACKed frame is
//! a stable figure even on a shared machine where wall-clock rates wander.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What to run.
#[derive(Clone, Debug)]
pub struct Load {
    /// The receiver.
    pub target: SocketAddr,
    /// Connections, one account each.
    pub connections: usize,
    /// Account of the first connection (decimal digits; use a fresh range per round).
    pub account_start: u64,
    /// Unmeasured seconds first (connections open, caches warm).
    pub warmup: Duration,
    /// Measured seconds.
    pub measure: Duration,
    /// The receiver's process id, for its CPU time.
    pub pid: Option<u32>,
    /// Kernel clock ticks per second (`getconf CLK_TCK`).
    pub clk_tck: u64,
    /// What a connection does when its receiver fails or does not answer.
    pub failover: Failover,
}

/// A panel's retry rule: wait `ack_timeout` for an ACK, retransmit the same alarm up to `tries`
/// times on a receiver, then turn to the other one (if there is a backup).
#[derive(Clone, Copy, Debug)]
pub struct Failover {
    /// The backup receiver.
    pub backup: Option<SocketAddr>,
    /// How long to wait for an ACK.
    pub ack_timeout: Duration,
    /// Attempts on one receiver before the other.
    pub tries: u32,
}

/// What was measured.
#[derive(Clone, Debug, Serialize)]
pub struct Measured {
    /// Connections.
    pub connections: usize,
    /// ACKs received in the measured interval.
    pub acks: u64,
    /// Measured seconds.
    pub secs: f64,
    /// ACKs per second.
    pub acks_per_sec: f64,
    /// Send → ACK, milliseconds.
    pub p50_ms: f64,
    /// Send → ACK, milliseconds.
    pub p99_ms: f64,
    /// Receiver CPU (user + system) per ACK, microseconds (with `pid`).
    pub cpu_us_per_ack: Option<f64>,
    /// The same per thread name (`vagt` = the ACK path's runtime, `vagt-journal`, `vagt-core-*`).
    pub cpu_us_per_ack_by_thread: BTreeMap<String, f64>,
    /// Answers that were not an ACK, and connections that failed.
    pub errors: u64,
    /// The longest first send → ACK of one alarm (retransmissions and failover included),
    /// milliseconds.
    pub max_ms: f64,
    /// Times a connection turned to the other receiver.
    pub failovers: u64,
}

/// Runs the load and measures it.
pub async fn run(load: &Load) -> anyhow::Result<Measured> {
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::with_capacity(load.connections);
    for i in 0..load.connections {
        let stream = TcpStream::connect(load.target)
            .await
            .with_context(|| format!("connecting to {}", load.target))?;
        stream.set_nodelay(true)?;
        let panel = Panel {
            receivers: [load.target, load.failover.backup.unwrap_or(load.target)],
            failover: load.failover,
            account: (load.account_start + i as u64).to_string(),
        };
        tasks.push(tokio::spawn(panel.run(
            stream,
            Arc::clone(&stop),
            Arc::clone(&measuring),
        )));
    }
    tokio::time::sleep(load.warmup).await;
    let cpu_before = load.pid.map(cpu_by_thread).transpose()?;
    let started = Instant::now();
    measuring.store(true, Ordering::Release);
    tokio::time::sleep(load.measure).await;
    measuring.store(false, Ordering::Release);
    let secs = started.elapsed().as_secs_f64();
    let cpu_after = load.pid.map(cpu_by_thread).transpose()?;
    stop.store(true, Ordering::Release);
    let mut hist = histogram();
    let mut errors = 0;
    let mut failovers = 0;
    for t in tasks {
        let done = t.await?;
        hist.add(&done.hist).ok();
        errors += done.errors;
        failovers += done.failovers;
    }
    let acks = hist.len();
    let per_ack = |ticks: u64| ticks as f64 * 1e6 / load.clk_tck as f64 / acks.max(1) as f64;
    let mut by_thread = BTreeMap::new();
    let mut total = None;
    if let (Some(before), Some(after)) = (cpu_before, cpu_after) {
        let mut sum = 0;
        for (name, ticks) in &after {
            let d = ticks.saturating_sub(before.get(name).copied().unwrap_or(0));
            sum += d;
            by_thread.insert(name.clone(), per_ack(d));
        }
        total = Some(per_ack(sum));
    }
    Ok(Measured {
        connections: load.connections,
        acks,
        secs,
        acks_per_sec: acks as f64 / secs,
        p50_ms: hist.value_at_quantile(0.5) as f64 / 1000.0,
        p99_ms: hist.value_at_quantile(0.99) as f64 / 1000.0,
        cpu_us_per_ack: total,
        cpu_us_per_ack_by_thread: by_thread,
        errors,
        max_ms: hist.max() as f64 / 1000.0,
        failovers,
    })
}

#[allow(clippy::expect_used)] // constant bounds that hdrhistogram accepts: cannot fail
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds")
}

/// One simulated panel: its receivers (primary, backup), retry rule and account.
struct Panel {
    receivers: [SocketAddr; 2],
    failover: Failover,
    account: String,
}

/// What a panel measured: send → ACK latencies (microseconds), errors, failovers.
struct Done {
    hist: Histogram<u64>,
    errors: u64,
    failovers: u64,
}

impl Panel {
    /// Send, wait for the ACK, repeat; a failed or silent receiver gets the same alarm again,
    /// then the other receiver does.
    async fn run(
        self,
        first: TcpStream,
        stop: Arc<AtomicBool>,
        measuring: Arc<AtomicBool>,
    ) -> Done {
        let mut done = Done {
            hist: histogram(),
            errors: 0,
            failovers: 0,
        };
        let mut conn = Some(first);
        let (mut which, mut tries) = (0usize, 0u32);
        let mut seq: u16 = 0;
        while !stop.load(Ordering::Acquire) {
            seq = seq % 9999 + 1;
            let Ok(frame) = crate::message::sia_alarm(&self.account, seq, "MA1") else {
                done.errors += 1;
                return done;
            };
            let sent = Instant::now();
            // Until this alarm is acknowledged (or the run ends).
            while !stop.load(Ordering::Acquire) {
                if conn.is_none() {
                    conn = self.connect(which).await;
                }
                let acked = match conn.as_mut() {
                    Some(s) => self.exchange(s, &frame).await,
                    None => Err(()),
                };
                match acked {
                    Ok(true) => {
                        tries = 0;
                        if measuring.load(Ordering::Acquire) {
                            let us = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                            let _ = done.hist.record(us.max(1));
                        }
                        break;
                    }
                    Ok(false) => {
                        done.errors += 1; // answered, but not with an ACK: the next alarm
                        break;
                    }
                    Err(()) => {
                        done.errors += 1;
                        conn = None;
                        tries += 1;
                        if tries >= self.failover.tries && self.receivers[0] != self.receivers[1] {
                            which ^= 1;
                            tries = 0;
                            done.failovers += 1;
                        }
                    }
                }
            }
        }
        done
    }

    async fn connect(&self, which: usize) -> Option<TcpStream> {
        let addr = self.receivers[which];
        let s = tokio::time::timeout(self.failover.ack_timeout, TcpStream::connect(addr));
        match s.await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                Some(s)
            }
            _ => {
                // A refused connection comes back at once: do not spin on it.
                tokio::time::sleep(Duration::from_millis(50)).await;
                None
            }
        }
    }

    /// Sends `frame` and reads the answer: whether it is an ACK, or `Err` when the connection
    /// failed or stayed silent past the ACK timeout.
    async fn exchange(&self, s: &mut TcpStream, frame: &[u8]) -> Result<bool, ()> {
        let answer = async {
            s.write_all(frame).await.map_err(|_| ())?;
            let mut buf = [0u8; 256];
            let mut got = 0;
            loop {
                match s.read(buf.get_mut(got..).unwrap_or_default()).await {
                    Ok(0) | Err(_) => return Err(()),
                    Ok(n) => got += n,
                }
                let b = buf.get(..got).unwrap_or_default();
                if b.contains(&b'\r') || got == buf.len() {
                    return Ok(b.windows(5).any(|w| w == b"\"ACK\""));
                }
            }
        };
        tokio::time::timeout(self.failover.ack_timeout, answer)
            .await
            .unwrap_or(Err(()))
    }
}

/// CPU ticks (user + system) of each of a process's threads, summed by thread name.
fn cpu_by_thread(pid: u32) -> anyhow::Result<BTreeMap<String, u64>> {
    let dir = format!("/proc/{pid}/task");
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {dir}"))? {
        let path = entry?.path().join("stat");
        let Ok(stat) = std::fs::read_to_string(&path) else {
            continue; // the thread ended meanwhile
        };
        if let Some((name, ticks)) = parse_stat(&stat) {
            let name = thread_group(&name);
            *out.entry(name).or_insert(0) += ticks;
        }
    }
    Ok(out)
}

/// The thread name and utime + stime of a `/proc/…/stat` line.
pub(crate) fn parse_stat(stat: &str) -> Option<(String, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = stat.get(close + 2..)?.split(' ').collect();
    // After the name: state is field 3 of the line, utime 14 and stime 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((name, utime + stime))
}

/// Threads grouped by stage: numbered shard threads as one.
fn thread_group(name: &str) -> String {
    match name.strip_prefix("vagt-core-") {
        Some(n) if n.chars().all(|c| c.is_ascii_digit()) => "vagt-core-shards".to_owned(),
        _ => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn free_port() -> SocketAddr {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    }

    /// A primary that accepts and never answers (a frozen machine), a backup that ACKs: every
    /// panel turns to the backup after its tries and its alarms are acknowledged there.
    #[tokio::test]
    async fn panels_turn_to_the_backup_when_the_primary_is_silent() {
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let primary = silent.local_addr().unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = silent.accept().await {
                held.push(s); // open, read by no one
            }
        });
        let backup = free_port();
        tokio::spawn(crate::bare::serve(backup));
        tokio::time::sleep(Duration::from_millis(200)).await;
        let load = Load {
            target: primary,
            connections: 4,
            account_start: 1000,
            warmup: Duration::ZERO,
            measure: Duration::from_secs(2),
            pid: None,
            clk_tck: 100,
            failover: Failover {
                backup: Some(backup),
                ack_timeout: Duration::from_millis(200),
                tries: 2,
            },
        };
        let m = run(&load).await.unwrap();
        assert_eq!(m.failovers, 4, "each panel switched once: {m:?}");
        assert!(m.acks > 100, "{m:?}");
        assert!(
            m.max_ms >= 400.0,
            "the first alarm waited two timeouts: {m:?}"
        );
    }

    #[test]
    fn stat_lines_give_name_and_cpu_ticks() {
        let line = "4242 (vagt-core-1) S 1 4242 4242 0 -1 4194560 100 0 0 0 17 5 0 0 20 0 9 0";
        assert_eq!(parse_stat(line), Some(("vagt-core-1".to_owned(), 22)));
        assert_eq!(thread_group("vagt-core-1"), "vagt-core-shards");
        assert_eq!(thread_group("vagt-core-feed"), "vagt-core-feed");
        let odd = "7 (a) b) R 1 2 3 4 5 6 7 8 9 10 3 4 0";
        assert_eq!(parse_stat(odd), Some(("a) b".to_owned(), 7)));
    }
}
