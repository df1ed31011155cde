//! A simulated device: sends its plan, waits for each answer, retransmits the same frame when
//! the answer is late, corrects its clock when NAKed, reconnects when the connection drops.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::message::{Answer, AnswerReader, Identity, Outgoing, build};
use crate::scenario::{Connection, Kind, Scenario, Transport};

/// Counts of what happened on the wire.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Messages sent (first transmissions).
    pub sent: u64,
    /// Messages ACKed.
    pub acked: u64,
    /// NAK answers (each is followed by a corrected retransmission).
    pub nak: u64,
    /// DUH answers (the message is given up).
    pub duh: u64,
    /// Retransmissions after a late answer.
    pub retransmissions: u64,
    /// Messages given up with no answer after every retry.
    pub timeouts: u64,
    /// ACKs for a sequence number no longer waited for (the answer to an earlier copy).
    pub late_acks: u64,
    /// Other answers (unparsable, wrong token).
    pub odd_answers: u64,
    /// Transmissions sent with a deliberately wrong CRC (misbehaving-peer scenarios).
    pub corrupted: u64,
    /// Failed connection attempts and dropped connections.
    pub connection_errors: u64,
}

impl Counts {
    /// Adds `o` to these counts.
    pub fn add(&mut self, o: &Self) {
        self.sent += o.sent;
        self.acked += o.acked;
        self.nak += o.nak;
        self.duh += o.duh;
        self.retransmissions += o.retransmissions;
        self.timeouts += o.timeouts;
        self.late_acks += o.late_acks;
        self.odd_answers += o.odd_answers;
        self.corrupted += o.corrupted;
        self.connection_errors += o.connection_errors;
    }
}

/// One ACKed message.
#[derive(Clone, Debug)]
pub struct Acked {
    /// When its first copy was sent, since the run's start.
    pub sent_at: Duration,
    /// First send → ACK.
    pub latency: Duration,
    /// Account, sequence and data block: what the receiver's journal must hold once.
    pub account: String,
    /// Sequence number.
    pub sequence: u16,
    /// Data block (empty for recorded frames, whose content is not decoded).
    pub data: String,
}

/// What one device did.
#[derive(Debug, Default)]
pub struct DeviceResult {
    /// Counts.
    pub counts: Counts,
    /// ACKed messages.
    pub acked: Vec<Acked>,
}

/// A device's connection to the receiver.
enum Link {
    None,
    Tcp(TcpStream),
    Udp(UdpSocket),
}

/// How one device behaves (from a scenario, or for recorded traffic).
#[derive(Clone, Debug)]
pub struct DeviceConfig {
    /// Who it is.
    pub id: Identity,
    /// The receiver.
    pub target: SocketAddr,
    /// TCP or UDP.
    pub transport: Transport,
    /// Keep the TCP connection or open one per message.
    pub connection: Connection,
    /// How long to wait for an answer.
    pub timeout: Duration,
    /// Retransmissions before giving up.
    pub retries: u32,
    /// Extra copies sent at once.
    pub extra_copies: u32,
    /// Share of first transmissions sent with a wrong CRC.
    pub corrupt_crc_share: f64,
    /// Line noise before every frame.
    pub garbage_bytes: usize,
    /// Write TCP frames in 4 pieces this far apart.
    pub trickle: Duration,
    /// Device clock minus real clock, seconds.
    pub skew: i64,
    /// Seed for the encryption pads.
    pub seed: u64,
}

impl DeviceConfig {
    /// Device `index` of `scenario`.
    pub fn of(scenario: &Scenario, index: usize, target: SocketAddr) -> anyhow::Result<Self> {
        Ok(Self {
            id: Identity {
                account: scenario.account(index),
                line: scenario.fleet.line.clone(),
                receiver: scenario.fleet.receiver.clone(),
                key: scenario.key(index)?,
            },
            target,
            transport: scenario.transport,
            connection: scenario.connection,
            timeout: Duration::from_millis(scenario.device.ack_timeout_ms),
            retries: scenario.device.retries,
            extra_copies: scenario.device.extra_copies,
            corrupt_crc_share: scenario.device.corrupt_crc_share,
            garbage_bytes: scenario.device.garbage_bytes,
            trickle: Duration::from_millis(scenario.device.trickle_ms),
            skew: scenario.fleet.clock_skew_secs,
            seed: scenario.seed ^ index as u64,
        })
    }
}

/// One thing a device sends.
#[derive(Clone, Debug)]
pub enum Step {
    /// A message it builds (sequence number, clock, encryption of its own).
    Build(Kind),
    /// A recorded frame, sent byte for byte.
    Recorded(Outgoing),
}

/// Live totals for a progress line.
#[derive(Debug, Default)]
pub struct Progress {
    /// Messages sent.
    pub sent: AtomicU64,
    /// Messages ACKed.
    pub acked: AtomicU64,
}

/// Runs one device: each step at `start + at`.
pub async fn run(
    config: DeviceConfig,
    plan: Vec<(Duration, Step)>,
    start: tokio::time::Instant,
    progress: Arc<Progress>,
) -> anyhow::Result<DeviceResult> {
    let mut device = Device {
        rng: StdRng::seed_from_u64(config.seed),
        skew: config.skew,
        config,
        link: Link::None,
        reader: AnswerReader::default(),
        sequence: 0,
        n: 0,
        result: DeviceResult::default(),
        start,
        progress,
    };
    // An IP communicator is connected before anything happens; a dialler connects per message.
    if device.config.connection == Connection::Persistent && !plan.is_empty() {
        device.connect().await;
    }
    for (at, step) in plan {
        tokio::time::sleep_until(start + at).await;
        device.send(step).await?;
    }
    device.close().await;
    Ok(device.result)
}

struct Device {
    config: DeviceConfig,
    /// Device clock minus real clock, seconds (corrected by NAKs).
    skew: i64,
    link: Link,
    reader: AnswerReader,
    rng: StdRng,
    sequence: u16,
    n: u64,
    result: DeviceResult,
    start: tokio::time::Instant,
    progress: Arc<Progress>,
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Device {
    async fn send(&mut self, step: Step) -> anyhow::Result<()> {
        let mut out = match &step {
            Step::Build(kind) => {
                // Sequence numbers run 0001…9999 and wrap.
                self.sequence = self.sequence % 9999 + 1;
                self.n += 1;
                self.build(*kind)?
            }
            Step::Recorded(out) => out.clone(),
        };
        let first = Instant::now();
        let sent_at = self.start.elapsed();
        self.result.counts.sent += 1;
        self.progress.sent.fetch_add(1, Ordering::Relaxed);
        let (mut tries, mut naks) = (0, 0);
        loop {
            match self.exchange(&out, tries == 0 && naks == 0).await {
                Some(Answer::Ack(seq)) if seq == out.sequence => {
                    self.result.counts.acked += 1;
                    self.progress.acked.fetch_add(1, Ordering::Relaxed);
                    self.result.acked.push(Acked {
                        sent_at,
                        latency: first.elapsed(),
                        account: self.config.id.account.clone(),
                        sequence: out.sequence,
                        data: out.data,
                    });
                    break;
                }
                Some(Answer::Nak(time)) => {
                    self.result.counts.nak += 1;
                    naks += 1;
                    if let Some(receiver_time) = time {
                        // Set the device clock to the receiver's, as a panel does.
                        self.skew = receiver_time - unix_now();
                    }
                    let Step::Build(kind) = step else {
                        break; // a recorded frame cannot be re-timed
                    };
                    if naks > self.config.retries {
                        self.result.counts.timeouts += 1;
                        break;
                    }
                    // A new frame with the corrected time, same sequence number.
                    out = self.build(kind)?;
                }
                Some(Answer::Duh(_)) => {
                    self.result.counts.duh += 1;
                    break;
                }
                Some(Answer::Ack(_) | Answer::Other(_)) | None => {
                    if tries >= self.config.retries {
                        self.result.counts.timeouts += 1;
                        break;
                    }
                    tries += 1;
                    self.result.counts.retransmissions += 1;
                }
            }
        }
        if self.config.connection == Connection::PerMessage {
            self.close().await;
        }
        Ok(())
    }

    /// Hangs up as a well-behaved device does: a TCP link is shut down for writing and read to
    /// its end (answers to retransmissions included), so the receiver gets every frame sent
    /// and the close is not a reset that could discard frames it has not read yet.
    async fn close(&mut self) {
        if let Link::Tcp(s) = &mut self.link {
            let drain = async {
                s.shutdown().await.ok()?;
                let mut sink = [0u8; 4096];
                while s.read(&mut sink).await.ok()? > 0 {}
                Some(())
            };
            let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
        }
        self.link = Link::None;
        self.reader = AnswerReader::default();
    }

    fn build(&mut self, kind: Kind) -> anyhow::Result<Outgoing> {
        let device_time = unix_now() + self.skew;
        build(
            &self.config.id,
            kind,
            self.sequence,
            self.n,
            device_time,
            &mut self.rng,
        )
    }

    /// Sends `out` once and waits up to the timeout for its answer. `None`: no answer in time
    /// (or the connection failed: it is re-opened on the next try).
    async fn exchange(&mut self, out: &Outgoing, first: bool) -> Option<Answer> {
        if matches!(self.link, Link::None) && !self.connect().await {
            tokio::time::sleep(self.config.timeout.min(Duration::from_millis(500))).await;
            return None;
        }
        let deadline = tokio::time::Instant::now() + self.config.timeout;
        let corrupt = first && self.rng.random::<f64>() < self.config.corrupt_crc_share;
        let wire = self.wire(&out.frame, corrupt);
        if corrupt {
            self.result.counts.corrupted += 1;
        }
        let mut sent = true;
        for _ in 0..=self.config.extra_copies {
            sent &= self.write(&wire).await;
        }
        self.result.counts.retransmissions += u64::from(self.config.extra_copies);
        if !sent {
            self.drop_link();
            return None;
        }
        loop {
            while let Some(answer) = self.reader.next_answer() {
                match answer {
                    Answer::Ack(seq) if seq != out.sequence => self.result.counts.late_acks += 1,
                    Answer::Other(_) => self.result.counts.odd_answers += 1,
                    a => return Some(a),
                }
            }
            let read = async {
                match &mut self.link {
                    Link::Tcp(s) => s.read_buf(self.reader.buffer()).await.ok(),
                    Link::Udp(s) => {
                        let mut datagram = [0u8; 2048];
                        let n = s.recv(&mut datagram).await.ok()?;
                        self.reader.buffer().extend_from_slice(&datagram[..n]);
                        Some(n)
                    }
                    Link::None => None,
                }
            };
            match tokio::time::timeout_at(deadline, read).await {
                Ok(Some(n)) if n > 0 => {}
                Ok(_) => {
                    // Closed or failed: the next try reconnects.
                    self.drop_link();
                    tokio::time::sleep_until(deadline).await;
                    return None;
                }
                Err(_) => return None,
            }
        }
    }

    /// The bytes to send for `frame`: with line noise before it, and a wrong CRC if `corrupt`.
    fn wire(&mut self, frame: &[u8], corrupt: bool) -> Vec<u8> {
        let mut wire = Vec::with_capacity(self.config.garbage_bytes + frame.len());
        for _ in 0..self.config.garbage_bytes {
            wire.push(self.rng.random_range(b'!'..=b'~'));
        }
        let at = wire.len();
        wire.extend_from_slice(frame);
        if corrupt && let Some(digit) = wire.get_mut(at + 1) {
            // The CRC's first hex digit, changed to another hex digit.
            *digit = if *digit == b'0' { b'1' } else { b'0' };
        }
        wire
    }

    /// Writes `wire` (TCP: trickled in 4 pieces if configured).
    async fn write(&mut self, wire: &[u8]) -> bool {
        match &mut self.link {
            Link::Tcp(s) if !self.config.trickle.is_zero() => {
                for piece in wire.chunks(wire.len().div_ceil(4).max(1)) {
                    if s.write_all(piece).await.is_err() {
                        return false;
                    }
                    tokio::time::sleep(self.config.trickle).await;
                }
                true
            }
            Link::Tcp(s) => s.write_all(wire).await.is_ok(),
            Link::Udp(s) => s.send(wire).await.is_ok(),
            Link::None => false,
        }
    }

    async fn connect(&mut self) -> bool {
        let target = self.config.target;
        let link = match self.config.transport {
            Transport::Tcp => TcpStream::connect(target).await.map(|s| {
                let _ = s.set_nodelay(true);
                Link::Tcp(s)
            }),
            Transport::Udp => {
                let bind = if target.is_ipv4() {
                    "0.0.0.0:0"
                } else {
                    "[::]:0"
                };
                match UdpSocket::bind(bind).await {
                    Ok(s) => s.connect(target).await.map(|()| Link::Udp(s)),
                    Err(e) => Err(e),
                }
            }
        };
        match link {
            Ok(l) => {
                self.link = l;
                true
            }
            Err(_) => {
                self.result.counts.connection_errors += 1;
                false
            }
        }
    }

    fn drop_link(&mut self) {
        if !matches!(self.link, Link::None) {
            self.result.counts.connection_errors += 1;
        }
        self.link = Link::None;
        self.reader = AnswerReader::default();
    }
}
