//! TCP: accept loop with connection limits, and one task per connection.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use metrics::{counter, gauge};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;
use tokio_util::sync::{
    CancellationToken, WaitForCancellationFuture, WaitForCancellationFutureOwned,
};
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};
use vagt_dc09::FrameDecoder;

use crate::metrics as m;
use vagt_records::Transport;

use crate::ack::{AckPath, Pending};
use crate::link::Link;
use crate::silent::{Silent, SilentSlots};

/// Connection limits and timeouts.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Most open connections.
    pub max_connections: usize,
    /// Most connections per IP address that have not yet sent a valid frame (the oldest gives
    /// way to a new one).
    pub max_per_ip: usize,
    /// Time to deliver the first frame, and to finish any started frame.
    pub first_frame: Duration,
    /// Time allowed without a valid frame (filler and garbage do not keep a connection open).
    pub idle: Duration,
    /// Time an answer may wait for room in the send buffer (a peer that never reads).
    pub write: Duration,
    /// Frames handled per wake-up before yielding.
    pub max_frames_per_read: usize,
    /// Bytes outside valid frames (garbage and filler) tolerated between two valid frames.
    pub garbage_limit: usize,
}

/// The kernel send buffer asked for on every connection (Linux doubles it). It bounds what a
/// peer that pipelines frames without reading its ACKs can make us process and hold: once the
/// buffer and the peer's receive window are full the connection is no longer read, and after
/// `write_timeout_secs` it is closed. A panel waits for each ACK, so it never comes near it.
const SEND_BUFFER: usize = 16 * 1024;

/// Accepts connections until `stop` is cancelled; connection tasks go on `tracker`.
pub async fn accept_loop(
    listener: TcpListener,
    ack: Arc<AckPath>,
    decoder: FrameDecoder,
    limits: Limits,
    stop: CancellationToken,
    tracker: TaskTracker,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let silent = SilentSlots::new(limits.max_per_ip);
    // Looked up once: a reconnect storm must not cost registry look-ups per connection.
    let accepted = counter!(m::CONNECTIONS);
    let open = gauge!(m::CONNECTIONS_OPEN);
    let mut backoff = Duration::from_millis(5);
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.cancelled() => return,
            r = listener.accept() => match r {
                Ok(x) => { backoff = Duration::from_millis(5); x }
                Err(e) => {
                    // e.g. out of file descriptors: back off instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            },
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            counter!(m::DISCONNECTS, "reason" => "max_connections").increment(1);
            drop(stream);
            continue;
        };
        accepted.increment(1);
        let conn = Connection {
            stream: Link::new(stream),
            peer,
            ack: Arc::clone(&ack),
            decoder: decoder.clone(),
            limits: limits.clone(),
            silent: Some(silent.take(peer.ip())),
        };
        tracker.spawn(serve(conn, stop.clone(), permit, open.clone()));
    }
}

/// Runs one connection to its end, with its metrics.
async fn serve(
    mut conn: Connection,
    stop: CancellationToken,
    permit: OwnedSemaphorePermit,
    open: metrics::Gauge,
) {
    open.increment(1.0);
    let reason = conn.run(&stop).await;
    // Count before closing, so whoever sees the close also sees the metric.
    open.decrement(1.0);
    if let Some(reason) = reason {
        counter!(m::DISCONNECTS, "reason" => reason).increment(1);
    }
    let peer = conn.peer;
    debug!(%peer, reason = reason.unwrap_or("closed by peer"), "connection ended");
    drop((conn, permit));
}

struct Connection {
    stream: Link,
    peer: SocketAddr,
    ack: Arc<AckPath>,
    decoder: FrameDecoder,
    limits: Limits,
    /// Counts against the peer's address until its first valid frame.
    silent: Option<Silent>,
}

/// Garbage bytes since the last valid frame past which a peer is read at most once per
/// [`TARPIT_PAUSE`]: more than any device sends between two frames (a frame with a bad CRC
/// counts whole), well below the limit that cuts the connection.
const TARPIT_AFTER: usize = 512;

/// Bytes taken from a tarpitted peer's socket per read at most.
const TARPIT_READ: usize = 4096;

/// Fires when the connection's per-address slot is taken for a newer silent connection.
type Evicted = Pin<Box<WaitForCancellationFutureOwned>>;

/// How long a peer past [`TARPIT_AFTER`] waits before each read. A valid frame resets its
/// garbage count; such a frame is answered up to this much later, far inside a panel's wait.
const TARPIT_PAUSE: Duration = Duration::from_millis(500);

/// A connection's one deadline timer, moved only when the deadline comes earlier or it has
/// fired: a deadline that moves later with every frame (the idle timeout) costs a timer-wheel
/// update per timeout period, not per read.
struct LazyTimer {
    sleep: Pin<Box<Sleep>>,
    at: Instant,
    fired: bool,
}

impl LazyTimer {
    fn new(at: Instant) -> Self {
        Self {
            sleep: Box::pin(tokio::time::sleep_until(at.into())),
            at,
            fired: false,
        }
    }

    /// Makes sure the timer fires no later than `deadline`.
    fn due(&mut self, deadline: Instant) {
        if self.fired || deadline < self.at {
            self.sleep.as_mut().reset(deadline.into());
            self.at = deadline;
            self.fired = false;
        }
    }

    /// Waits until the timer fires (possibly before the latest deadline: check it).
    async fn wait(&mut self) {
        self.sleep.as_mut().await;
        self.fired = true;
    }
}

/// What the connection's deadlines are measured from.
struct Clock {
    opened: Instant,
    last_frame: Option<Instant>,
    partial_since: Option<Instant>,
    /// Bytes outside valid frames since the last valid frame.
    garbage: usize,
}

impl Clock {
    /// The next deadline and the reason it would close the connection.
    fn deadline(&mut self, buffered: bool, limits: &Limits) -> (Instant, &'static str) {
        self.partial_since = match (buffered, self.partial_since) {
            (false, _) => None,
            (true, None) => Some(Instant::now()),
            (true, since) => since,
        };
        match (self.last_frame, self.partial_since) {
            (None, _) => (self.opened + limits.first_frame, "first_frame_timeout"),
            // A started frame must be finished promptly: defeats slow-loris trickling.
            (Some(_), Some(t)) => (t + limits.first_frame, "frame_timeout"),
            (Some(t), None) => (t + limits.idle, "idle_timeout"),
        }
    }
}

impl Connection {
    /// Serves the connection; returns why we closed it (`None`: the peer closed).
    async fn run(&mut self, stop: &CancellationToken) -> Option<&'static str> {
        let mut clock = Clock {
            opened: Instant::now(),
            last_frame: None,
            partial_since: None,
            garbage: 0,
        };
        let mut buf = BytesMut::with_capacity(4096);
        let mut out = Vec::with_capacity(512);
        // Made once, not per read: each would register a waiter (a lock and a list entry).
        let stopped = stop.cancelled();
        tokio::pin!(stopped);
        let mut evicted: Option<Evicted> = self
            .silent
            .as_ref()
            .map(|s| Box::pin(s.evicted.clone().cancelled_owned()));
        let mut timer = LazyTimer::new(clock.opened + self.limits.first_frame);
        let mut tarpitted = false;
        loop {
            // Decode what is buffered: submit every frame, then answer them in order.
            let received = Instant::now();
            let (pending, drained) = self.submit_buffered(&mut buf, &mut clock).await;
            let acks = match self.answer(pending, received, &mut out).await {
                Ok(acks) => acks,
                Err(reason) => return Some(reason),
            };
            if acks > 0 {
                // Only an acknowledged frame makes a device: a frame with a good CRC that the
                // protocol refuses does not take the connection out of the per-address cap, nor
                // keep it open.
                clock.last_frame = Some(Instant::now());
                self.silent = None;
                evicted = None;
            }
            if clock.garbage > self.limits.garbage_limit {
                return Some("garbage");
            }
            if !drained {
                // More complete frames are buffered: let other connections run first.
                tokio::task::yield_now().await;
                continue;
            }
            let (deadline, reason) = clock.deadline(!buf.is_empty(), &self.limits);
            if Instant::now() >= deadline {
                // Bytes that kept arriving (never a valid frame) do not hold the deadline off.
                return Some(reason);
            }
            timer.due(deadline);
            if clock.garbage > TARPIT_AFTER {
                if !tarpitted {
                    tarpitted = true;
                    counter!(m::TARPITTED).increment(1);
                }
                if self.stream.park().is_err() {
                    return Some("read_error");
                }
                let due = (deadline, reason);
                match self
                    .tarpit_read(&mut buf, stopped.as_mut(), &mut evicted, due)
                    .await
                {
                    Ok(()) => continue,
                    Err(why) => return why,
                }
            }
            let Ok(stream) = self.stream.live() else {
                return Some("read_error");
            };
            tokio::select! {
                biased;
                _ = &mut stopped => return Some("shutdown"),
                // Before the eviction: a frame already waiting is read, and the device stays.
                r = stream.read_buf(&mut buf) => match r {
                    Ok(0) => return None,
                    Ok(_) => {}
                    Err(_) => return Some("read_error"),
                },
                // Round again: the deadline is checked at the top of the loop.
                () = timer.wait() => {}
                _ = async { evicted.as_mut()?.await; Some(()) }, if evicted.is_some() => {
                    return Some("per_ip");
                }
            }
        }
    }

    /// Reads a tarpitted (parked) peer: waits [`TARPIT_PAUSE`] (or until its deadline), then
    /// takes what its socket holds, until something was read; `Err` with the reason to close
    /// (`None`: the peer closed). Shutdown, the per-address eviction and the deadline apply as
    /// on a live connection: a peer that trickles bytes is cut at its deadline all the same.
    async fn tarpit_read(
        &mut self,
        buf: &mut BytesMut,
        mut stopped: Pin<&mut WaitForCancellationFuture<'_>>,
        evicted: &mut Option<Evicted>,
        (deadline, reason): (Instant, &'static str),
    ) -> Result<(), Option<&'static str>> {
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(Some(reason));
            }
            let until = (now + TARPIT_PAUSE).min(deadline);
            tokio::select! {
                biased;
                _ = stopped.as_mut() => return Err(Some("shutdown")),
                _ = async { evicted.as_mut()?.await; Some(()) }, if evicted.is_some() => {
                    return Err(Some("per_ip"));
                }
                () = tokio::time::sleep_until(until.into()) => {}
            }
            // Read straight into the buffer (no array kept across the wait above: it would
            // make every connection's future that much larger).
            let start = buf.len();
            buf.resize(start + TARPIT_READ, 0);
            let read = self.stream.read_now(&mut buf[start..]);
            buf.truncate(start + *read.as_ref().unwrap_or(&0));
            match read {
                Ok(0) => return Err(None),
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return Err(Some("read_error")),
            }
        }
    }

    /// Submits up to `max_frames_per_read` buffered frames; `true` when the buffer holds no
    /// further complete frame. Every byte the framer discards — garbage, a bad frame, filler —
    /// counts towards the garbage limit; only a valid frame resets it.
    async fn submit_buffered(
        &mut self,
        buf: &mut BytesMut,
        clock: &mut Clock,
    ) -> (Vec<Pending>, bool) {
        let mut pending = Vec::new();
        while pending.len() < self.limits.max_frames_per_read {
            let before = buf.len();
            let decoded = self.decoder.decode(buf);
            let consumed = before - buf.len();
            match decoded {
                Ok(None) => {
                    clock.garbage += consumed;
                    return (pending, true);
                }
                Ok(Some(raw)) => {
                    clock.garbage = 0;
                    pending.push(self.ack.submit(&raw, self.peer, Transport::Tcp, true).await);
                }
                Err(e) => {
                    self.ack.framing_error(&e);
                    clock.garbage += consumed.max(1);
                }
            }
        }
        (pending, false)
    }

    /// Waits for each frame's answer and writes them in order; how many were ACKs, or why the
    /// connection closes.
    async fn answer(
        &mut self,
        pending: Vec<Pending>,
        received: Instant,
        out: &mut Vec<u8>,
    ) -> Result<usize, &'static str> {
        out.clear();
        let mut acks = 0;
        for p in pending {
            let answer = p.resolve().await;
            acks += usize::from(answer.acknowledged);
            out.extend(answer.bytes.unwrap_or_default());
        }
        if out.is_empty() {
            return Ok(acks);
        }
        let Ok(stream) = self.stream.live() else {
            return Err("write_error");
        };
        match tokio::time::timeout(self.limits.write, stream.write_all(out)).await {
            Err(_) => return Err("write_timeout"),
            Ok(Err(_)) => return Err("write_error"),
            Ok(Ok(())) => {}
        }
        for _ in 0..acks {
            self.ack.acknowledged(received);
        }
        Ok(acks)
    }
}

/// Connection requests the kernel may queue before `accept` (capped by `net.core.somaxconn`):
/// thousands of devices reconnect at once after a network outage.
const LISTEN_BACKLOG: u32 = 8192;

/// A TCP listener on `addr` with a backlog deep enough for a reconnect storm (the default of
/// 1 024 drops connection requests when 10 000 devices connect at once).
pub fn bind_listener(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    // Accepted connections inherit it (no system call per connection in a reconnect storm).
    socket.set_send_buffer_size(SEND_BUFFER as u32)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}
