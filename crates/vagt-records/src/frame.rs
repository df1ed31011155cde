//! `F`: what the ACK path writes to the journal for each accepted frame.
//!
//! Layout of a journal payload: `b'F'`, metadata length (u32 LE), metadata as JSON, then the
//! raw frame body as received. The body stays byte-exact (x-data may hold 8-bit text).

use std::net::SocketAddr;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use vagt_dc09::{Message, wrap_body};

use crate::DedupKey;

const FRAME_TAG: u8 = b'F';

/// How a frame arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// A TCP connection.
    Tcp,
    /// A UDP datagram.
    Udp,
}

impl Transport {
    /// `tcp` or `udp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        }
    }
}

/// Metadata of a journaled frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameMeta {
    /// Receive time, milliseconds since the Unix epoch.
    pub received_at_ms: i64,
    /// The peer's address.
    pub peer: SocketAddr,
    /// TCP or UDP.
    pub transport: Transport,
    /// ID token, with `*` when encrypted.
    #[serde(rename = "type")]
    pub token: String,
    /// Sequence as received.
    pub sequence: String,
    /// `R` field.
    pub receiver: Option<String>,
    /// `L` field.
    pub line: Option<String>,
    /// The account.
    pub account: String,
    /// Not in the accounts file (accepted and flagged).
    pub unknown_account: bool,
    /// Content checksum used by the dedup key.
    pub content: u64,
}

/// A frame record's metadata (JSON) and body; `Ok(None)` for records of other kinds.
fn split(payload: &[u8]) -> anyhow::Result<Option<(&[u8], &[u8])>> {
    let Some((&tag, rest)) = payload.split_first() else {
        bail!("empty record")
    };
    if tag != FRAME_TAG {
        return Ok(None);
    }
    let (len, rest) = rest.split_at_checked(4).context("record cut short")?;
    let len = u32::from_le_bytes(len.try_into().context("record cut short")?) as usize;
    let parts = rest
        .split_at_checked(len)
        .context("record metadata cut short")?;
    Ok(Some(parts))
}

/// The parts of a journaled frame the core reads, borrowed from the record.
#[derive(Clone, Debug)]
pub struct FrameView<'a> {
    /// The account, as received.
    pub account: std::borrow::Cow<'a, str>,
    /// When it was received (milliseconds since the Unix epoch).
    pub received_at_ms: i64,
    /// The frame body.
    pub body: &'a [u8],
}

/// A journaled frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameRecord {
    /// Metadata.
    pub meta: FrameMeta,
    /// The frame body as received (between the length field and CR).
    pub body: Vec<u8>,
}

impl FrameRecord {
    /// The record for an accepted message.
    pub fn new(
        m: &Message,
        key: &DedupKey,
        peer: SocketAddr,
        transport: Transport,
        received_at_ms: i64,
    ) -> Self {
        let h = &m.header;
        Self {
            meta: FrameMeta {
                received_at_ms,
                peer,
                transport,
                token: h.type_label(),
                sequence: h.sequence.as_str().to_owned(),
                receiver: h.receiver.as_ref().map(|r| r.as_str().to_owned()),
                line: h.line.as_ref().map(|l| l.as_str().to_owned()),
                account: m.account.clone(),
                unknown_account: m.unknown_account,
                content: key.content,
            },
            body: m.body.to_vec(),
        }
    }

    /// Encodes the journal payload.
    pub fn encode(&self) -> anyhow::Result<Vec<u8>> {
        let meta = serde_json::to_vec(&self.meta)?;
        let len = u32::try_from(meta.len()).context("metadata too large")?;
        let mut out = Vec::with_capacity(5 + meta.len() + self.body.len());
        out.push(FRAME_TAG);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&meta);
        out.extend_from_slice(&self.body);
        Ok(out)
    }

    /// Decodes a journal payload; `Ok(None)` for records of other kinds.
    pub fn decode(payload: &[u8]) -> anyhow::Result<Option<Self>> {
        let Some((meta, body)) = split(payload)? else {
            return Ok(None);
        };
        Ok(Some(Self {
            meta: serde_json::from_slice(meta)?,
            body: body.to_vec(),
        }))
    }

    /// What the core needs of a frame record, borrowed from the payload without decoding the
    /// rest of the metadata (`Ok(None)` for records of other kinds).
    pub fn view(payload: &[u8]) -> anyhow::Result<Option<FrameView<'_>>> {
        #[derive(Deserialize)]
        struct Lite<'a> {
            #[serde(borrow)]
            account: std::borrow::Cow<'a, str>,
            received_at_ms: i64,
        }
        let Some((meta, body)) = split(payload)? else {
            return Ok(None);
        };
        let m: Lite<'_> = serde_json::from_slice(meta)?;
        Ok(Some(FrameView {
            account: m.account,
            received_at_ms: m.received_at_ms,
            body,
        }))
    }

    /// The complete frame as it was on the wire (LF, CRC, length, body, CR).
    pub fn wire(&self) -> Vec<u8> {
        wrap_body(&self.body).unwrap_or_default()
    }

    /// The dedup key this record was stored under.
    pub fn dedup_key(&self) -> DedupKey {
        let m = &self.meta;
        DedupKey::new(
            m.receiver.as_deref(),
            m.line.as_deref(),
            &m.account,
            &m.sequence,
            m.content,
        )
    }
}
