//! Recorded traffic: `vagt journal export` output (JSON lines with `frame_hex`,
//! `received_at_ms`, `account`) or a file of raw frames, sent again at the original pace, N×
//! faster, or as fast as the receiver answers. Each account is one device with its own TCP
//! connection; its frames keep their order and their bytes (sequence numbers, encryption).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::BytesMut;
use vagt_dc09::{Frame, FrameDecoder, RawFrame, Tolerance};

use crate::device::{DeviceConfig, Step};
use crate::message::{Identity, Outgoing};
use crate::run::Plan;
use crate::scenario::{Connection, Transport};

/// One recorded frame.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// When it was received, ms since the Unix epoch (`None` for raw frames: no timing).
    pub at_ms: Option<i64>,
    /// The frame bytes.
    pub frame: Vec<u8>,
}

/// Reads a journal export (one JSON object per line) or a raw frame file.
pub fn load(path: &Path) -> anyhow::Result<Vec<Recorded>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.first() == Some(&b'{') {
        let mut out = Vec::new();
        for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let v: serde_json::Value = serde_json::from_slice(line)
                .with_context(|| format!("{} line {}: not JSON", path.display(), n + 1))?;
            let hex = v["frame_hex"]
                .as_str()
                .with_context(|| format!("{} line {}: no frame_hex", path.display(), n + 1))?;
            let frame = vagt_dc09::decode_hex(hex.as_bytes())
                .with_context(|| format!("{} line {}: bad frame_hex", path.display(), n + 1))?;
            out.push(Recorded {
                at_ms: v["received_at_ms"].as_i64(),
                frame,
            });
        }
        return Ok(out);
    }
    // Raw frames: LF … CR, one after another.
    let decoder = FrameDecoder::new(vagt_dc09::MAX_BODY_LEN);
    let mut buf = BytesMut::from(&bytes[..]);
    let mut out = Vec::new();
    while let Some(raw) = decoder.decode(&mut buf).ok().flatten() {
        out.push(Recorded {
            at_ms: None,
            frame: wire(&raw)?,
        });
    }
    if out.is_empty() {
        bail!(
            "{}: no frames found (expected `vagt journal export` JSON lines or raw DC-09 frames)",
            path.display()
        );
    }
    Ok(out)
}

fn wire(raw: &RawFrame) -> anyhow::Result<Vec<u8>> {
    Ok(vagt_dc09::wrap_body(&raw.body)?)
}

/// One device per account; `speed` 0 sends as fast as answers come, otherwise the recorded
/// gaps divided by `speed`.
pub fn plans(
    frames: &[Recorded],
    target: SocketAddr,
    speed: f64,
    timeout: Duration,
    retries: u32,
) -> anyhow::Result<Vec<Plan>> {
    let first = frames.iter().filter_map(|f| f.at_ms).min().unwrap_or(0);
    let mut by_account: BTreeMap<String, Vec<(Duration, Step)>> = BTreeMap::new();
    let decoder = FrameDecoder::new(vagt_dc09::MAX_BODY_LEN);
    for (i, f) in frames.iter().enumerate() {
        let mut buf = BytesMut::from(&f.frame[..]);
        let raw = decoder
            .decode(&mut buf)
            .ok()
            .flatten()
            .with_context(|| format!("recorded frame {} does not frame", i + 1))?;
        let parsed = Frame::parse(&raw, &Tolerance::default())
            .with_context(|| format!("recorded frame {} has a bad header", i + 1))?;
        let account = parsed.account().unwrap_or("").to_owned();
        let at = match (f.at_ms, speed > 0.0) {
            (Some(ms), true) => {
                Duration::from_secs_f64((ms - first).max(0) as f64 / 1000.0 / speed)
            }
            _ => Duration::ZERO,
        };
        let out = Outgoing {
            sequence: parsed.header.sequence.value(),
            data: String::new(),
            frame: f.frame.clone(),
        };
        by_account
            .entry(account)
            .or_default()
            .push((at, Step::Recorded(out)));
    }
    Ok(by_account
        .into_iter()
        .enumerate()
        .map(|(i, (account, steps))| {
            let config = DeviceConfig {
                id: Identity {
                    account,
                    line: "0".into(),
                    receiver: None,
                    key: None,
                },
                target,
                transport: Transport::Tcp,
                connection: Connection::Persistent,
                timeout,
                retries,
                extra_copies: 0,
                corrupt_crc_share: 0.0,
                garbage_bytes: 0,
                trickle: Duration::ZERO,
                skew: 0,
                seed: i as u64,
            };
            (config, steps)
        })
        .collect())
}
