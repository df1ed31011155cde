//! UDP: one DC-09 frame per datagram; the answer goes back to the datagram's source.

use std::sync::Arc;

use bytes::BytesMut;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use vagt_dc09::{FrameDecoder, FramingError};

use vagt_records::Transport;

use crate::ack::AckPath;

/// Receives datagrams until `stop` is cancelled; each frame is answered from its own task so a
/// slow commit never holds up the socket.
pub async fn recv_loop(
    socket: Arc<UdpSocket>,
    ack: Arc<AckPath>,
    decoder: FrameDecoder,
    stop: CancellationToken,
    tracker: TaskTracker,
) {
    let mut datagram = vec![0u8; 65_536];
    loop {
        let (n, peer) = tokio::select! {
            _ = stop.cancelled() => return,
            r = socket.recv_from(&mut datagram) => match r {
                Ok(x) => x,
                Err(_) => continue, // e.g. ICMP port unreachable from an earlier send
            },
        };
        let received = std::time::Instant::now();
        let bytes = datagram.get(..n).unwrap_or_default();
        if !bytes.contains(&b'\n') {
            // No frame can start in it (a flood of junk): counted, nothing allocated.
            ack.framing_error(&FramingError::Garbage { skipped: n });
            continue;
        }
        let mut buf = BytesMut::from(bytes);
        loop {
            let raw = match decoder.decode(&mut buf) {
                Ok(Some(raw)) => raw,
                Ok(None) => break,
                Err(e) => {
                    ack.framing_error(&e);
                    continue;
                }
            };
            // No push-back on UDP: a full journal queue means no answer; the device resends.
            let pending = ack.submit(&raw, peer, Transport::Udp, false).await;
            let socket = Arc::clone(&socket);
            let ack = Arc::clone(&ack);
            tracker.spawn(async move {
                let answer = pending.resolve().await;
                if let Some(bytes) = answer.bytes
                    && socket.send_to(&bytes, peer).await.is_ok()
                    && answer.acknowledged
                {
                    ack.acknowledged(received);
                }
            });
        }
    }
}
