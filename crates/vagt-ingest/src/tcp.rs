//! TCP: accept loop with connection limits, and one task per connection.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use dashmap::DashMap;
use metrics::{counter, gauge, histogram};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};
use vagt_dc09::{FrameDecoder, FramingError};

use crate::metrics as m;
use vagt_records::Transport;

use crate::ack::{AckPath, since};

/// Connection limits and timeouts.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Most open connections.
    pub max_connections: usize,
    /// Most open connections per IP address.
    pub max_per_ip: usize,
    /// Time to deliver the first frame, and to finish any started frame.
    pub first_frame: Duration,
    /// Silence allowed between frames.
    pub idle: Duration,
    /// Frames handled per wake-up before yielding.
    pub max_frames_per_read: usize,
    /// Garbage bytes tolerated before disconnecting.
    pub garbage_limit: usize,
}

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
    let per_ip: Arc<DashMap<IpAddr, usize>> = Arc::new(DashMap::new());
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
        let Some(ip_guard) = IpGuard::take(&per_ip, peer.ip(), limits.max_per_ip) else {
            counter!(m::DISCONNECTS, "reason" => "per_ip").increment(1);
            drop(stream);
            continue;
        };
        counter!(m::CONNECTIONS).increment(1);
        let (ack, decoder, limits, stop) = (
            Arc::clone(&ack),
            decoder.clone(),
            limits.clone(),
            stop.clone(),
        );
        tracker.spawn(async move {
            gauge!(m::CONNECTIONS_OPEN).increment(1.0);
            let mut conn = Connection {
                stream,
                peer,
                ack,
                decoder,
                limits,
            };
            let reason = conn.run(&stop).await;
            // Count before closing, so whoever sees the close also sees the metric.
            gauge!(m::CONNECTIONS_OPEN).decrement(1.0);
            if let Some(reason) = reason {
                counter!(m::DISCONNECTS, "reason" => reason).increment(1);
            }
            debug!(%peer, reason = reason.unwrap_or("closed by peer"), "connection ended");
            drop((conn, permit, ip_guard));
        });
    }
}

/// Counts a connection against its IP address while alive.
struct IpGuard {
    map: Arc<DashMap<IpAddr, usize>>,
    ip: IpAddr,
}

impl IpGuard {
    fn take(map: &Arc<DashMap<IpAddr, usize>>, ip: IpAddr, max: usize) -> Option<Self> {
        let mut n = map.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Self {
            map: Arc::clone(map),
            ip,
        })
    }
}

impl Drop for IpGuard {
    fn drop(&mut self) {
        self.map.remove_if_mut(&self.ip, |_, n| {
            *n -= 1;
            *n == 0
        });
    }
}

struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    ack: Arc<AckPath>,
    decoder: FrameDecoder,
    limits: Limits,
}

impl Connection {
    /// Serves the connection; returns why we closed it (`None`: the peer closed).
    async fn run(&mut self, stop: &CancellationToken) -> Option<&'static str> {
        let opened = Instant::now();
        let mut buf = BytesMut::with_capacity(4096);
        let mut seen_frame = false;
        let mut garbage = 0usize;
        let mut partial_since: Option<Instant> = None;
        let mut out = Vec::with_capacity(512);
        loop {
            // Decode what is buffered: submit every frame, then answer them in order.
            let received = Instant::now();
            let mut pending = Vec::new();
            let mut drained = false;
            while pending.len() < self.limits.max_frames_per_read {
                match self.decoder.decode(&mut buf) {
                    Ok(None) => {
                        drained = true;
                        break;
                    }
                    Ok(Some(raw)) => {
                        seen_frame = true;
                        garbage = 0;
                        pending.push(self.ack.submit(&raw, self.peer, Transport::Tcp, true).await);
                    }
                    Err(e) => {
                        self.ack.framing_error(&e);
                        garbage += match e {
                            FramingError::Garbage { skipped } => skipped,
                            _ => 1,
                        };
                    }
                }
            }
            out.clear();
            let mut acks = 0;
            for p in pending {
                let answer = p.resolve().await;
                acks += usize::from(answer.acknowledged);
                out.extend(answer.bytes.unwrap_or_default());
            }
            if !out.is_empty() {
                if self.stream.write_all(&out).await.is_err() {
                    return Some("write_error");
                }
                for _ in 0..acks {
                    histogram!(m::ACK_LATENCY).record(since(received));
                }
            }
            if garbage > self.limits.garbage_limit {
                return Some("garbage");
            }
            if !drained {
                // More complete frames are buffered: let other connections run first.
                tokio::task::yield_now().await;
                continue;
            }
            partial_since = match (buf.is_empty(), partial_since) {
                (true, _) => None,
                (false, None) => Some(Instant::now()),
                (false, since) => since,
            };
            let (deadline, reason) = if !seen_frame {
                (opened + self.limits.first_frame, "first_frame_timeout")
            } else if let Some(t) = partial_since {
                // A started frame must be finished promptly: defeats slow-loris trickling.
                (t + self.limits.first_frame, "frame_timeout")
            } else {
                (Instant::now() + self.limits.idle, "idle_timeout")
            };
            tokio::select! {
                biased;
                _ = stop.cancelled() => return Some("shutdown"),
                r = tokio::time::timeout_at(deadline.into(), self.stream.read_buf(&mut buf)) => match r {
                    Err(_) => return Some(reason),
                    Ok(Ok(0)) => return None,
                    Ok(Ok(_)) => {}
                    Ok(Err(_)) => return Some("read_error"),
                },
            }
        }
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
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}
