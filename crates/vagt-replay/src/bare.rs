//! The floor to compare a receiver with: a TCP/UDP server that answers every frame with an
//! `ACK` echoing its sequence number and account, and does nothing else — no CRC check, no
//! decryption, no journal, no fsync. Whatever a real receiver adds shows up as the difference.

use std::net::SocketAddr;

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, UdpSocket};

/// The `ACK` for one frame's bytes (`LF crc 0LLL "ID"SSSS…#acct[…] CR`), if it has a header.
pub fn ack_for(frame: &[u8]) -> Option<Vec<u8>> {
    let body = frame.get(9..)?;
    let q1 = body.iter().position(|&b| b == b'"')?;
    let q2 = q1 + 1 + body.get(q1 + 1..)?.iter().position(|&b| b == b'"')?;
    let seq = body.get(q2 + 1..q2 + 5)?;
    let hash = body.iter().position(|&b| b == b'#')?;
    let end = hash + body.get(hash..)?.iter().position(|&b| b == b'[')?;
    let account = body.get(hash + 1..end)?;
    let mut ack = b"\"ACK\"".to_vec();
    ack.extend_from_slice(seq);
    ack.extend_from_slice(b"L0#");
    ack.extend_from_slice(account);
    ack.extend_from_slice(b"[]");
    vagt_dc09::wrap_body(&ack).ok()
}

/// Serves TCP and UDP on `addr` until the process ends.
pub async fn serve(addr: SocketAddr) -> anyhow::Result<()> {
    let tcp = deep_listener(addr).with_context(|| format!("binding TCP {addr}"))?;
    let addr = tcp.local_addr()?;
    let udp = UdpSocket::bind(addr)
        .await
        .with_context(|| format!("binding UDP {addr}"))?;
    eprintln!("vagt-replay bare: answering every frame with ACK on {addr} (tcp+udp)");
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((n, peer)) = udp.recv_from(&mut buf).await {
            if let Some(ack) = buf.get(..n).and_then(ack_for) {
                let _ = udp.send_to(&ack, peer).await;
            }
        }
    });
    loop {
        let Ok((mut s, _)) = tcp.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let mut buf = Vec::with_capacity(4096);
            let mut out = Vec::new();
            loop {
                match s.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                out.clear();
                let mut start = 0;
                while let Some(cr) = buf
                    .get(start..)
                    .and_then(|b| b.iter().position(|&c| c == b'\r'))
                {
                    let frame = buf.get(start..start + cr).unwrap_or_default();
                    let lf = frame.iter().rposition(|&c| c == b'\n').unwrap_or(0);
                    if let Some(ack) = frame.get(lf..).and_then(ack_for) {
                        out.extend_from_slice(&ack);
                    }
                    start += cr + 1;
                }
                buf.drain(..start);
                if s.write_all(&out).await.is_err() {
                    return;
                }
            }
        });
    }
}

/// A listener with the gateway's deep accept backlog (8 192), so a burst of thousands of
/// devices connecting at once meets the same kernel queue on both servers being compared.
fn deep_listener(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(8192)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ack_echoes_sequence_and_account() {
        let frame = vagt_dc09::wrap_body(b"*\"SIA-DCS\"0042L1#100007[ABCDEF]").unwrap();
        let ack = ack_for(&frame[..frame.len() - 1]).unwrap();
        assert_eq!(
            ack,
            vagt_dc09::wrap_body(b"\"ACK\"0042L0#100007[]").unwrap()
        );
        assert_eq!(ack_for(b"\n12340010garbage"), None);
    }
}
