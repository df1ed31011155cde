//! `vagt decode`: inspect a capture of DC-09 frames.

use std::io::{BufWriter, Read, Write};

use anyhow::{Context, bail};
use bytes::BytesMut;
use vagt_dc09::{AccountKey, FrameDecoder, Key, Payload as Dc09Payload, Policy, Timestamp, Window};
use vagt_proto::Settings;

use super::json;
use crate::cli::DecodeArgs;

/// Reads stdin to the end, printing one JSON object per frame (and per discarded run of bytes).
pub fn run(args: &DecodeArgs) -> anyhow::Result<()> {
    let key = match &args.key {
        Some(k) => Some(Key::parse(k).context("--key")?),
        None => None,
    };
    let now = match &args.now {
        Some(t) => match Timestamp::parse_rfc3339(t) {
            Some(ts) => ts,
            None => bail!("--now: {t:?} is not an RFC 3339 time such as 2024-05-01T12:00:00Z"),
        },
        None => vagt_records::time::clock().0,
    };
    let settings = Settings {
        tolerance: Default::default(),
        policy: Policy {
            window: Window {
                max_age_secs: args.max_age,
                max_ahead_secs: args.max_ahead,
            },
            window_for_clear_text: args.window_for_clear_text,
            ..Policy::default()
        },
    };
    let decoder = FrameDecoder::new(usize::from(args.max_len))
        .tolerate_decimal_length(args.tolerate_decimal_length);
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut stdin = std::io::stdin().lock();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    let mut rng = rand::rng();
    loop {
        let n = stdin.read(&mut chunk).context("reading stdin")?;
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        loop {
            let line = match decoder.decode(&mut buf) {
                Ok(None) => break,
                Err(e) => json::framing_error(&e),
                Ok(Some(raw)) => {
                    let p = vagt_proto::process(&raw, &settings, now, |frame| {
                        match (&key, &frame.payload) {
                            (Some(k), Dc09Payload::Encrypted(_)) => AccountKey::Encrypted(k),
                            (Some(k), _) if args.require_encryption => AccountKey::Encrypted(k),
                            _ => AccountKey::Clear,
                        }
                    });
                    let bytes = p
                        .response
                        .encode(now, &mut rng)
                        .context("encoding response")?;
                    json::processed(&p, bytes.as_deref())
                }
            };
            writeln!(out, "{line}")?;
        }
        if n == 0 {
            break;
        }
    }
    if !buf.is_empty() {
        let message = format!("incomplete frame at end of input ({} bytes)", buf.len());
        writeln!(out, "{}", json::discarded("incomplete", &message))?;
    }
    out.flush()?;
    Ok(())
}
