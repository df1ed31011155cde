//! Hostile peers for the hardening bench (issue #15, `benches/run-hostile.sh`): each kind is
//! rate-limited so that it uses little CPU — it shares the machine with the receiver and the good
//! devices — and keeps attacking when the receiver cuts it off (it reconnects).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// What the hostile peers do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Pipeline valid alarms and never read the ACKs.
    NoRead,
    /// One valid alarm, then a stream of NUL bytes.
    Nul,
    /// Connect and say nothing (from the good devices' own address), reconnect when cut.
    Idle,
    /// Connect and close at once, over and over.
    Reconnect,
    /// UDP datagrams of random bytes.
    UdpGarbage,
    /// No network at all: spin `rate` milliseconds of CPU per second — the control, what
    /// sharing the machine's cores alone costs the good devices.
    Cpu,
}

/// A hostile run.
#[derive(Clone, Debug)]
pub struct Hostile {
    /// The receiver.
    pub target: SocketAddr,
    /// What to do.
    pub kind: Kind,
    /// Concurrent connections (tasks for `reconnect`, ignored for `udp-garbage`).
    pub connections: usize,
    /// Frames, bytes (`nul`: 64-byte writes), connects or datagrams per second, all together.
    pub rate: f64,
    /// How long.
    pub duration: Duration,
    /// First account number of the `no-read` and `nul` connections.
    pub account_start: u64,
    /// Kernel clock ticks per second (`getconf CLK_TCK`), for the CPU time.
    pub clk_tck: u64,
}

/// What the hostile peers did.
#[derive(Debug, Default, Serialize)]
pub struct Done {
    /// TCP connections opened.
    pub connects: u64,
    /// Connections the receiver closed (or refused).
    pub cut: u64,
    /// Units sent (frames, 64-byte writes, datagrams).
    pub sent: u64,
    /// CPU seconds the hostile process used (it shares the machine with the receiver).
    pub cpu_secs: Option<f64>,
}

#[derive(Default)]
struct Counters {
    connects: AtomicU64,
    cut: AtomicU64,
    sent: AtomicU64,
}

/// Runs the hostile peers for `h.duration`.
pub async fn run(h: &Hostile) -> anyhow::Result<Done> {
    let counters = Arc::new(Counters::default());
    let until = Instant::now() + h.duration;
    if h.kind == Kind::Cpu {
        let busy = Duration::from_secs_f64(h.rate.clamp(0.0, 1000.0) / 1000.0);
        tokio::task::spawn_blocking(move || spin(busy, until)).await?;
        return Ok(Done {
            cpu_secs: own_cpu_secs(h.clk_tck),
            ..Done::default()
        });
    }
    let tasks = if h.kind == Kind::UdpGarbage {
        1
    } else {
        h.connections.max(1)
    };
    // Each task sends at its share of the rate.
    let period = Duration::from_secs_f64(tasks as f64 / h.rate.max(0.001));
    let mut handles = Vec::with_capacity(tasks);
    for i in 0..tasks {
        let (h, c) = (h.clone(), Arc::clone(&counters));
        let account = h.account_start + i as u64;
        handles.push(tokio::spawn(async move {
            // Spread the tasks' starts over one period (at most a second).
            let spread = period.min(Duration::from_secs(1));
            tokio::time::sleep(spread.mul_f64(i as f64 / tasks as f64)).await;
            match h.kind {
                Kind::UdpGarbage => udp_garbage(&h, period, until, &c).await,
                kind => {
                    while Instant::now() < until {
                        if !tcp_once(&h, kind, account, period, until, &c).await {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            }
        }));
    }
    for t in handles {
        let _ = t.await;
    }
    Ok(Done {
        connects: counters.connects.load(Ordering::Relaxed),
        cut: counters.cut.load(Ordering::Relaxed),
        sent: counters.sent.load(Ordering::Relaxed),
        cpu_secs: own_cpu_secs(h.clk_tck),
    })
}

/// Spins `busy` out of every second (in 10 ms slices) until `until`.
fn spin(busy: Duration, until: Instant) {
    let slice = Duration::from_millis(10);
    let work = busy / 100;
    while Instant::now() < until {
        let start = Instant::now();
        while start.elapsed() < work {
            std::hint::spin_loop();
        }
        std::thread::sleep(slice.saturating_sub(start.elapsed()));
    }
}

/// This process's CPU time so far (user + system), from `/proc/self/stat`.
fn own_cpu_secs(clk_tck: u64) -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let (_, ticks) = crate::closed::parse_stat(&stat)?;
    Some(ticks as f64 / clk_tck.max(1) as f64)
}

/// One connection's life; `false` if it could not connect.
async fn tcp_once(
    h: &Hostile,
    kind: Kind,
    account: u64,
    period: Duration,
    until: Instant,
    c: &Counters,
) -> bool {
    let Ok(mut s) = TcpStream::connect(h.target).await else {
        return false;
    };
    c.connects.fetch_add(1, Ordering::Relaxed);
    let mut seq = 0u16;
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let alive = match kind {
        Kind::Reconnect => {
            ticks.tick().await;
            ticks.tick().await;
            return true;
        }
        Kind::Idle => wait_for_close(&mut s, until).await,
        Kind::Nul => {
            let hello = crate::message::sia_alarm(account, 1, "BA1").unwrap_or_default();
            let mut ack = [0u8; 256];
            if s.write_all(&hello).await.is_err() || s.read(&mut ack).await.unwrap_or(0) == 0 {
                false
            } else {
                send_every(&mut s, &mut ticks, until, c, || vec![0u8; 64]).await
            }
        }
        Kind::NoRead | Kind::UdpGarbage | Kind::Cpu => {
            send_every(&mut s, &mut ticks, until, c, || {
                seq = seq % 9_999 + 1;
                crate::message::sia_alarm(account, seq, "BA1").unwrap_or_default()
            })
            .await
        }
    };
    if !alive {
        c.cut.fetch_add(1, Ordering::Relaxed);
    }
    true
}

/// Writes `next()` every tick until `until`; `false` when the receiver closed the connection.
async fn send_every(
    s: &mut TcpStream,
    ticks: &mut tokio::time::Interval,
    until: Instant,
    c: &Counters,
    mut next: impl FnMut() -> Vec<u8>,
) -> bool {
    while Instant::now() < until {
        ticks.tick().await;
        let bytes = next();
        match tokio::time::timeout_at(until.into(), s.write_all(&bytes)).await {
            Ok(Ok(())) => c.sent.fetch_add(1, Ordering::Relaxed),
            Ok(Err(_)) => return false,
            Err(_) => return true,
        };
    }
    true
}

/// Holds a silent connection until the receiver closes it (`false`) or time is up (`true`).
async fn wait_for_close(s: &mut TcpStream, until: Instant) -> bool {
    let mut buf = [0u8; 64];
    loop {
        match tokio::time::timeout_at(until.into(), s.read(&mut buf)).await {
            Err(_) => return true,
            Ok(Ok(0) | Err(_)) => return false,
            Ok(Ok(_)) => {}
        }
    }
}

async fn udp_garbage(h: &Hostile, period: Duration, until: Instant, c: &Counters) {
    let Ok(socket) = UdpSocket::bind(("127.0.0.1", 0)).await else {
        return;
    };
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut datagram = [0u8; 64];
    while Instant::now() < until {
        ticks.tick().await;
        rand::Rng::fill(&mut rand::rng(), &mut datagram[..]);
        if socket.send_to(&datagram, h.target).await.is_ok() {
            c.sent.fetch_add(1, Ordering::Relaxed);
        }
    }
}
