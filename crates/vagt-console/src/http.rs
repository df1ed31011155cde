//! The console's one port speaks HTTP too: a browser loads the web console (`/`, `/app.js`,
//! `/style.css`, built into the binary) and then opens the WebSocket on the same address.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// The longest request head accepted.
const MAX_HEAD: usize = 8192;

/// A request head read off a connection (and every byte read with it).
pub struct Head {
    /// The bytes read, head included.
    pub bytes: Vec<u8>,
    /// The path of the request line.
    pub path: String,
    /// `Upgrade: websocket`.
    pub websocket: bool,
}

/// Reads up to the end of the request head; `None` if the peer closed or sent too much.
pub async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> io::Result<Option<Head>> {
    let mut bytes = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(bytes.get(..end).unwrap_or_default()).into_owned();
            let path = head
                .lines()
                .next()
                .and_then(|l| l.split(' ').nth(1))
                .unwrap_or("/")
                .to_owned();
            let websocket = head.lines().skip(1).any(|l| {
                l.split_once(':').is_some_and(|(k, v)| {
                    k.trim().eq_ignore_ascii_case("upgrade")
                        && v.trim().eq_ignore_ascii_case("websocket")
                })
            });
            return Ok(Some(Head {
                bytes,
                path,
                websocket,
            }));
        }
        if bytes.len() > MAX_HEAD {
            return Ok(None);
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        bytes.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}

/// Answers a plain HTTP request with a built-in file (or 404) and closes.
pub async fn serve_file<S: AsyncWrite + Unpin>(stream: &mut S, path: &str) -> io::Result<()> {
    let (status, kind, body): (&str, &str, &[u8]) = match path.split('?').next().unwrap_or("/") {
        "/" | "/index.html" => (
            "200 OK",
            "text/html; charset=utf-8",
            include_bytes!("../web/index.html"),
        ),
        "/app.js" => (
            "200 OK",
            "text/javascript; charset=utf-8",
            include_bytes!("../web/app.js"),
        ),
        "/style.css" => (
            "200 OK",
            "text/css; charset=utf-8",
            include_bytes!("../web/style.css"),
        ),
        _ => ("404 Not Found", "text/plain; charset=utf-8", b"not found\n"),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\
         Content-Security-Policy: default-src 'self'; connect-src 'self'\r\n\
         Strict-Transport-Security: max-age=31536000\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.flush().await?;
    stream.shutdown().await
}

/// A stream that first replays bytes already read from it (the request head the WebSocket
/// handshake still needs).
pub struct Prefixed<S> {
    prefix: Vec<u8>,
    pos: usize,
    inner: S,
}

impl<S> Prefixed<S> {
    /// `inner`, with `prefix` read first.
    pub fn new(prefix: Vec<u8>, inner: S) -> Self {
        Self {
            prefix,
            pos: 0,
            inner,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        if let Some(rest) = me.prefix.get(me.pos..).filter(|r| !r.is_empty()) {
            let n = rest.len().min(buf.remaining());
            buf.put_slice(rest.get(..n).unwrap_or_default());
            me.pos += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut me.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
