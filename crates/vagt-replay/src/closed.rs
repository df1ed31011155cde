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
        let account = (load.account_start + i as u64).to_string();
        tasks.push(tokio::spawn(connection(
            stream,
            account,
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
    for t in tasks {
        let (h, e) = t.await?;
        hist.add(&h).ok();
        errors += e;
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
    })
}

#[allow(clippy::expect_used)] // constant bounds that hdrhistogram accepts: cannot fail
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds")
}

/// One panel: send, wait for the answer, repeat. Latencies in microseconds.
async fn connection(
    mut s: TcpStream,
    account: String,
    stop: Arc<AtomicBool>,
    measuring: Arc<AtomicBool>,
) -> (Histogram<u64>, u64) {
    let mut hist = histogram();
    let mut errors = 0;
    let mut buf = vec![0u8; 256];
    let mut seq: u16 = 0;
    while !stop.load(Ordering::Acquire) {
        seq = seq % 9999 + 1;
        let body = format!("\"SIA-DCS\"{seq:04}L0#{account}[#{account}|NMA1]");
        let Ok(frame) = vagt_dc09::wrap_body(body.as_bytes()) else {
            return (hist, errors + 1);
        };
        let sent = Instant::now();
        if s.write_all(&frame).await.is_err() {
            return (hist, errors + 1);
        }
        let mut got = 0;
        loop {
            match s.read(buf.get_mut(got..).unwrap_or_default()).await {
                Ok(0) | Err(_) => return (hist, errors + 1),
                Ok(n) => got += n,
            }
            if buf.get(..got).is_some_and(|b| b.contains(&b'\r')) || got == buf.len() {
                break;
            }
        }
        let answer = buf.get(..got).unwrap_or_default();
        if !answer.windows(5).any(|w| w == b"\"ACK\"") {
            errors += 1;
            continue;
        }
        if measuring.load(Ordering::Acquire) {
            let us = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
            let _ = hist.record(us.max(1));
        }
    }
    (hist, errors)
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
fn parse_stat(stat: &str) -> Option<(String, u64)> {
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
    use super::*;

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
