//! `vagt health`: one HTTP request to a running gateway's `/readyz` or `/healthz`, for health
//! checks in images that carry no HTTP client.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::cli::HealthArgs;

/// How long the whole check may take at most, per step.
const LIMIT: Duration = Duration::from_secs(3);

/// Asks the gateway; `Ok` (and the answer on stdout) only for `200 OK`.
pub fn run(args: &HealthArgs) -> anyhow::Result<()> {
    let path = if args.live { "/healthz" } else { "/readyz" };
    let answer =
        get(args.metrics, path).with_context(|| format!("asking http://{}{path}", args.metrics))?;
    let (status, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = status.lines().next().unwrap_or_default();
    let body = body.trim();
    if status.split_whitespace().nth(1) != Some("200") {
        bail!("{path}: {status}: {body}");
    }
    println!("{path}: {body}");
    Ok(())
}

/// The whole answer to `GET path` (at most 64 KiB).
fn get(addr: std::net::SocketAddr, path: &str) -> anyhow::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, LIMIT)?;
    s.set_read_timeout(Some(LIMIT))?;
    s.set_write_timeout(Some(LIMIT))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    s.take(64 * 1024).read_to_end(&mut answer)?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}
