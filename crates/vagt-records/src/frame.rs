//! `G` (and the older `F`): what the ACK path writes to the journal for each accepted frame.
//!
//! Layout of a journal payload (`G`, binary metadata; every integer little-endian):
//!
//! ```text
//! b'G' | received_at_ms i64 | content u64
//!      | flags u8 (1 = UDP, 2 = unknown account, 4 = events follow the account)
//!      | peer: 4 + IPv4 (4) + port u16, or 6 + IPv6 (16) + port u16 + scope id u32
//!      | token, sequence, receiver, line, account: each a string
//!      | if flag 4: event count u8, then per event: scheme u8 (0 SIA, 1 Contact ID),
//!        qualifier u8 (the ASCII digit, 0 = none), code, zone, user, area, time, text
//!      | the raw frame body as received, to the end
//! string: u16 length + UTF-8 (0xFFFF = absent)
//! ```
//!
//! The body stays byte-exact (x-data may hold 8-bit text). The events are what the ACK path
//! read of the frame when it acknowledged it: the core rebuilds them from the record (names and
//! priorities from the code table) instead of decoding, and decrypting, every frame again — and
//! a replay finds the events even after the account's key was changed. A record without flag 4
//! (written before, or with more than 255 events) is decoded from its body. Journals written
//! before carry `F` records (`b'F'`, metadata length u32, metadata as JSON, body); both are
//! read, only `G` is written: it costs the ACK path no text formatting and the core no JSON
//! parse per frame.

use std::net::SocketAddr;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use vagt_dc09::{Message, wrap_body};
use vagt_proto::{Event, EventParts, Payload, Scheme};

use crate::DedupKey;

/// The older frame record: JSON metadata.
const JSON_TAG: u8 = b'F';
/// The frame record: binary metadata.
const FRAME_TAG: u8 = b'G';
/// A string field's length that means "absent".
const ABSENT: u16 = u16::MAX;
const UDP: u8 = 1;
const UNKNOWN_ACCOUNT: u8 = 2;
const EVENTS: u8 = 4;
/// Where the flags are in a `G` payload (after the tag, the time and the content checksum).
const FLAGS_AT: usize = 17;

/// Whether `payload` is a frame record (of either format).
pub fn is_frame(payload: &[u8]) -> bool {
    matches!(payload.first(), Some(&FRAME_TAG | &JSON_TAG))
}

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

/// A JSON frame record's metadata and body (the tag already taken off).
fn split_json(rest: &[u8]) -> anyhow::Result<(&[u8], &[u8])> {
    let (len, rest) = rest.split_at_checked(4).context("record cut short")?;
    let len = u32::from_le_bytes(len.try_into().context("record cut short")?) as usize;
    rest.split_at_checked(len)
        .context("record metadata cut short")
}

/// A binary frame record's metadata, borrowed, and its body.
struct Binary<'a> {
    received_at_ms: i64,
    content: u64,
    flags: u8,
    peer: SocketAddr,
    token: &'a str,
    sequence: &'a str,
    receiver: Option<&'a str>,
    line: Option<&'a str>,
    account: &'a str,
    /// The encoded event section (count and events), if the record carries one.
    events: Option<&'a [u8]>,
    body: &'a [u8],
}

/// Reads a binary record's fields in order.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> anyhow::Result<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n).context("record cut short")?;
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> anyhow::Result<[u8; N]> {
        Ok(self.take(N)?.try_into()?)
    }

    fn u8(&mut self) -> anyhow::Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> anyhow::Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    fn field(&mut self) -> anyhow::Result<Option<&'a str>> {
        let len = self.u16()?;
        if len == ABSENT {
            return Ok(None);
        }
        let bytes = self.take(usize::from(len))?;
        Ok(Some(
            std::str::from_utf8(bytes).context("record field not UTF-8")?,
        ))
    }

    fn text(&mut self) -> anyhow::Result<&'a str> {
        self.field()?.context("record field missing")
    }

    /// One event of an event section.
    fn event(&mut self) -> anyhow::Result<EventParts<'a>> {
        let scheme = match self.u8()? {
            0 => Scheme::Sia,
            1 => Scheme::Cid,
            s => bail!("record event of unknown scheme {s}"),
        };
        let qualifier = match self.u8()? {
            0 => None,
            q => Some(char::from(q)),
        };
        Ok(EventParts {
            scheme,
            qualifier,
            code: self.text()?,
            zone: self.field()?,
            user: self.field()?,
            area: self.field()?,
            time: self.field()?,
            text: self.field()?,
        })
    }

    /// Takes an event section off the front, checked, and hands back its bytes.
    fn event_section(&mut self) -> anyhow::Result<&'a [u8]> {
        let start = self.0;
        let count = self.u8()?;
        for _ in 0..count {
            self.event()?;
        }
        Ok(start.get(..start.len() - self.0.len()).unwrap_or_default())
    }

    fn peer(&mut self) -> anyhow::Result<SocketAddr> {
        Ok(match self.u8()? {
            4 => {
                let ip = std::net::Ipv4Addr::from(self.array::<4>()?);
                SocketAddr::V4(std::net::SocketAddrV4::new(ip, self.u16()?))
            }
            6 => {
                let ip = std::net::Ipv6Addr::from(self.array::<16>()?);
                let port = self.u16()?;
                let scope = u32::from_le_bytes(self.array()?);
                SocketAddr::V6(std::net::SocketAddrV6::new(ip, port, 0, scope))
            }
            f => bail!("record peer of unknown family {f}"),
        })
    }
}

impl<'a> Binary<'a> {
    /// Parses a binary record (the tag already taken off).
    fn parse(rest: &'a [u8]) -> anyhow::Result<Self> {
        let mut c = Cursor(rest);
        let received_at_ms = i64::from_le_bytes(c.array()?);
        let content = u64::from_le_bytes(c.array()?);
        let flags = c.u8()?;
        let peer = c.peer()?;
        Ok(Self {
            received_at_ms,
            content,
            flags,
            peer,
            token: c.text()?,
            sequence: c.text()?,
            receiver: c.field()?,
            line: c.field()?,
            account: c.text()?,
            events: match flags & EVENTS {
                0 => None,
                _ => Some(c.event_section()?),
            },
            body: c.0,
        })
    }

    /// Appends the record's encoding to `out`.
    fn write(&self, out: &mut Vec<u8>) -> anyhow::Result<()> {
        self.write_head(out)?;
        if let Some(events) = self.events {
            out.extend_from_slice(events);
        }
        out.extend_from_slice(self.body);
        Ok(())
    }

    /// Appends everything before the event section.
    fn write_head(&self, out: &mut Vec<u8>) -> anyhow::Result<()> {
        out.push(FRAME_TAG);
        out.extend_from_slice(&self.received_at_ms.to_le_bytes());
        out.extend_from_slice(&self.content.to_le_bytes());
        out.push(self.flags);
        match self.peer {
            SocketAddr::V4(a) => {
                out.push(4);
                out.extend_from_slice(&a.ip().octets());
                out.extend_from_slice(&a.port().to_le_bytes());
            }
            SocketAddr::V6(a) => {
                out.push(6);
                out.extend_from_slice(&a.ip().octets());
                out.extend_from_slice(&a.port().to_le_bytes());
                out.extend_from_slice(&a.scope_id().to_le_bytes());
            }
        }
        for f in [
            Some(self.token),
            Some(self.sequence),
            self.receiver,
            self.line,
            Some(self.account),
        ] {
            write_field(out, f)?;
        }
        Ok(())
    }

    /// Bytes [`Binary::write`] appends.
    fn encoded_len(&self) -> usize {
        let peer = if self.peer.is_ipv4() { 7 } else { 23 };
        let fields = [self.token, self.sequence, self.account]
            .iter()
            .chain(self.receiver.iter())
            .chain(self.line.iter())
            .map(|f| f.len())
            .sum::<usize>();
        let events = self.events.map_or(0, <[u8]>::len);
        1 + 8 + 8 + 1 + peer + 5 * 2 + fields + events + self.body.len()
    }

    fn meta(&self) -> FrameMeta {
        FrameMeta {
            received_at_ms: self.received_at_ms,
            peer: self.peer,
            transport: if self.flags & UDP != 0 {
                Transport::Udp
            } else {
                Transport::Tcp
            },
            token: self.token.to_owned(),
            sequence: self.sequence.to_owned(),
            receiver: self.receiver.map(str::to_owned),
            line: self.line.map(str::to_owned),
            account: self.account.to_owned(),
            unknown_account: self.flags & UNKNOWN_ACCOUNT != 0,
            content: self.content,
        }
    }
}

/// Appends a string field.
fn write_field(out: &mut Vec<u8>, f: Option<&str>) -> anyhow::Result<()> {
    match f {
        Some(f) => {
            let len = u16::try_from(f.len())
                .ok()
                .filter(|&n| n != ABSENT)
                .context("record field too long")?;
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(f.as_bytes());
        }
        None => out.extend_from_slice(&ABSENT.to_le_bytes()),
    }
    Ok(())
}

/// Appends an event section; `Err` (with `out` part-written) when it cannot hold them.
fn write_events<'a>(
    out: &mut Vec<u8>,
    events: impl Iterator<Item = EventParts<'a>>,
) -> anyhow::Result<()> {
    let count_at = out.len();
    out.push(0);
    let mut count = 0u8;
    for e in events {
        count = count
            .checked_add(1)
            .context("too many events for a record")?;
        out.push(match e.scheme {
            Scheme::Sia => 0,
            Scheme::Cid => 1,
        });
        out.push(match e.qualifier {
            Some(q) if q.is_ascii() && q != '\0' => q as u8,
            Some(_) => bail!("event qualifier not ASCII"),
            None => 0,
        });
        for f in [Some(e.code), e.zone, e.user, e.area, e.time, e.text] {
            write_field(out, f)?;
        }
    }
    if let Some(c) = out.get_mut(count_at) {
        *c = count;
    }
    Ok(())
}

fn flags(transport: Transport, unknown_account: bool) -> u8 {
    let udp = if transport == Transport::Udp { UDP } else { 0 };
    udp | if unknown_account { UNKNOWN_ACCOUNT } else { 0 }
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
    /// The events the ACK path read, if the record carries them.
    events: Option<&'a [u8]>,
}

impl FrameView<'_> {
    /// The events the record carries (as the frame was read when acknowledged), or `None`
    /// when it carries none and the body must be decoded.
    pub fn events(&self) -> Option<Vec<Event>> {
        let mut c = Cursor(self.events?);
        let count = c.u8().ok()?;
        (0..count)
            .map(|_| c.event().ok().map(|p| Event::from_parts(&p)))
            .collect()
    }
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

    /// The journal payload of an accepted message, written straight from the decoded frame
    /// and its parsed `payload` (the ACK path: one allocation, no text formatting).
    pub fn encode_message(
        m: &Message,
        payload: Option<&Payload>,
        key: &DedupKey,
        peer: SocketAddr,
        transport: Transport,
        received_at_ms: i64,
    ) -> anyhow::Result<Vec<u8>> {
        let h = &m.header;
        // Clear frames (the most) need no formatting: the label is the token itself.
        let token = match h.encrypted {
            false => std::borrow::Cow::Borrowed(h.token.as_str()),
            true => std::borrow::Cow::Owned(h.type_label()),
        };
        let flags = flags(transport, m.unknown_account);
        let b = Binary {
            received_at_ms,
            content: key.content,
            flags: flags | payload.map_or(0, |_| EVENTS),
            peer,
            token: &token,
            sequence: h.sequence.as_str(),
            receiver: h.receiver.as_ref().map(|r| r.as_str()),
            line: h.line.as_ref().map(|l| l.as_str()),
            account: &m.account,
            events: None,
            body: &m.body,
        };
        let mut out = Vec::with_capacity(b.encoded_len() + 64);
        b.write_head(&mut out)?;
        if let Some(p) = payload {
            let head = out.len();
            if write_events(&mut out, p.event_parts()).is_err() {
                // Too many (or too long) to carry: the core decodes the body instead.
                out.truncate(head);
                if let Some(f) = out.get_mut(FLAGS_AT) {
                    *f = flags;
                }
            }
        }
        out.extend_from_slice(&m.body);
        Ok(out)
    }

    fn write(b: &Binary<'_>) -> anyhow::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(b.encoded_len());
        b.write(&mut out)?;
        Ok(out)
    }

    /// Encodes the journal payload.
    pub fn encode(&self) -> anyhow::Result<Vec<u8>> {
        let m = &self.meta;
        Self::write(&Binary {
            received_at_ms: m.received_at_ms,
            content: m.content,
            flags: flags(m.transport, m.unknown_account),
            peer: m.peer,
            token: &m.token,
            sequence: &m.sequence,
            receiver: m.receiver.as_deref(),
            line: m.line.as_deref(),
            account: &m.account,
            events: None,
            body: &self.body,
        })
    }

    /// Decodes a journal payload (either format); `Ok(None)` for records of other kinds.
    pub fn decode(payload: &[u8]) -> anyhow::Result<Option<Self>> {
        Ok(Some(match payload.split_first() {
            Some((&FRAME_TAG, rest)) => {
                let b = Binary::parse(rest)?;
                Self {
                    meta: b.meta(),
                    body: b.body.to_vec(),
                }
            }
            Some((&JSON_TAG, rest)) => {
                let (meta, body) = split_json(rest)?;
                Self {
                    meta: serde_json::from_slice(meta)?,
                    body: body.to_vec(),
                }
            }
            Some(_) => return Ok(None),
            None => bail!("empty record"),
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
        Ok(Some(match payload.split_first() {
            Some((&FRAME_TAG, rest)) => {
                let b = Binary::parse(rest)?;
                FrameView {
                    account: std::borrow::Cow::Borrowed(b.account),
                    received_at_ms: b.received_at_ms,
                    body: b.body,
                    events: b.events,
                }
            }
            Some((&JSON_TAG, rest)) => {
                let (meta, body) = split_json(rest)?;
                let m: Lite<'_> = serde_json::from_slice(meta)?;
                FrameView {
                    account: m.account,
                    received_at_ms: m.received_at_ms,
                    body,
                    events: None,
                }
            }
            Some(_) => return Ok(None),
            None => bail!("empty record"),
        }))
    }

    /// The older JSON encoding (`F`), as journals written before the binary one hold it; kept
    /// to prove such journals still read the same.
    pub fn encode_json(&self) -> anyhow::Result<Vec<u8>> {
        let meta = serde_json::to_vec(&self.meta)?;
        let len = u32::try_from(meta.len()).context("metadata too large")?;
        let mut out = Vec::with_capacity(5 + meta.len() + self.body.len());
        out.push(JSON_TAG);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&meta);
        out.extend_from_slice(&self.body);
        Ok(out)
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

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use vagt_dc09::{AccountKey, Decoded, Frame, FrameDecoder, Timestamp};

    use super::*;

    fn record(peer: &str, receiver: Option<&str>, transport: Transport) -> FrameRecord {
        FrameRecord {
            meta: FrameMeta {
                received_at_ms: 1_764_000_000_123,
                peer: peer.parse().unwrap(),
                transport,
                token: "*SIA-DCS".into(),
                sequence: "0042".into(),
                receiver: receiver.map(str::to_owned),
                line: Some("3".into()),
                account: "12AB".into(),
                unknown_account: transport == Transport::Udp,
                content: 0xDEAD_BEEF_0123_4567,
            },
            // 8-bit bytes in the body are kept as they are.
            body: b"\"*SIA-DCS\"0042L3#12AB[\xe6\xf8\xe5]".to_vec(),
        }
    }

    fn cases() -> Vec<FrameRecord> {
        vec![
            record("10.1.2.3:40000", Some("7"), Transport::Tcp),
            record("[fe80::1%3]:9000", None, Transport::Udp),
        ]
    }

    #[test]
    fn binary_records_read_back_as_written() {
        for rec in cases() {
            let payload = rec.encode().unwrap();
            assert_eq!(payload[0], b'G');
            assert!(is_frame(&payload));
            assert_eq!(FrameRecord::decode(&payload).unwrap(), Some(rec.clone()));
            let view = FrameRecord::view(&payload).unwrap().unwrap();
            assert_eq!(view.account, "12AB");
            assert_eq!(view.received_at_ms, rec.meta.received_at_ms);
            assert_eq!(view.body, &rec.body[..]);
        }
    }

    #[test]
    fn json_records_of_older_journals_read_the_same() {
        for rec in cases() {
            let payload = rec.encode_json().unwrap();
            assert_eq!(payload[0], b'F');
            assert!(is_frame(&payload));
            assert_eq!(FrameRecord::decode(&payload).unwrap(), Some(rec.clone()));
            let view = FrameRecord::view(&payload).unwrap().unwrap();
            let binary = rec.encode().unwrap();
            let other = FrameRecord::view(&binary).unwrap().unwrap();
            assert_eq!(
                (view.account, view.received_at_ms, view.body),
                (other.account, other.received_at_ms, other.body)
            );
        }
    }

    #[test]
    fn a_record_cut_inside_its_metadata_is_an_error_not_a_panic() {
        let rec = record("[fe80::1%3]:9000", Some("7"), Transport::Udp);
        let payload = rec.encode().unwrap();
        let meta_end = payload.len() - rec.body.len();
        for cut in 1..meta_end {
            assert!(
                FrameRecord::decode(&payload[..cut]).is_err(),
                "cut at {cut}"
            );
            assert!(FrameRecord::view(&payload[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad = payload.clone();
        bad[18] = 5; // peer family
        assert!(FrameRecord::decode(&bad).is_err());
        assert_eq!(FrameRecord::decode(b"T12345678").unwrap(), None);
        assert!(FrameRecord::decode(b"").is_err());
    }

    /// `body` framed, decoded and processed as the ACK path does (an unknown account).
    fn processed(body: &str) -> vagt_proto::Processed {
        let wire = wrap_body(body.as_bytes()).unwrap();
        let raw = FrameDecoder::new(4095)
            .decode(&mut BytesMut::from(&wire[..]))
            .unwrap()
            .unwrap();
        let frame = Frame::parse(&raw, &Default::default()).unwrap();
        let now = Timestamp::from_unix(1_764_000_000).unwrap();
        vagt_proto::process_frame(&frame, &Default::default(), now, AccountKey::Unknown)
    }

    #[test]
    fn the_ack_paths_encoding_is_the_records() {
        let body = r#""SIA-DCS"0042R7L3#12AB[#12AB|NBA5]"#;
        let processed = processed(body);
        let Decoded::Accepted(m) = &processed.decoded else {
            panic!("not accepted: {:?}", processed.decoded)
        };
        let key = DedupKey::of(m);
        let peer = "10.0.0.9:5000".parse().unwrap();
        let direct = FrameRecord::encode_message(m, None, &key, peer, Transport::Tcp, 1).unwrap();
        let built = FrameRecord::new(m, &key, peer, Transport::Tcp, 1);
        assert_eq!(direct, built.encode().unwrap());
        assert_eq!(FrameRecord::view(&direct).unwrap().unwrap().events(), None);
        let back = FrameRecord::decode(&direct).unwrap().unwrap();
        assert_eq!(back, built);
        assert_eq!(back.dedup_key(), key);
        assert_eq!(back.meta.token, "SIA-DCS");
        assert_eq!(back.meta.receiver.as_deref(), Some("7"));

        // With the events: the same record plus them, readable on their own.
        let payload = processed.payload.as_ref().unwrap();
        let with = FrameRecord::encode_message(m, Some(payload), &key, peer, Transport::Tcp, 1);
        let with = with.unwrap();
        assert_eq!(FrameRecord::decode(&with).unwrap().unwrap(), built);
        let view = FrameRecord::view(&with).unwrap().unwrap();
        assert_eq!(view.body, body.as_bytes());
        let events = view.events().unwrap();
        assert_eq!(events, payload.events());
        assert_eq!(
            (events[0].code.as_str(), events[0].zone.as_deref()),
            ("BA", Some("5"))
        );
        // Cut anywhere before the body, the record is an error, not a shorter event list.
        for cut in 1..with.len() - body.len() {
            assert!(FrameRecord::view(&with[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn more_events_than_a_record_holds_are_decoded_from_the_body() {
        let events: String = (0..300).map(|i| format!("/BA{}", i % 99 + 1)).collect();
        let body = format!(r#""SIA-DCS"0042L0#12AB[#12AB|N{}]"#, &events[1..]);
        let processed = processed(&body);
        let Decoded::Accepted(m) = &processed.decoded else {
            panic!("not accepted: {:?}", processed.decoded)
        };
        let payload = processed.payload.as_ref().unwrap();
        assert_eq!(payload.events().len(), 300);
        let key = DedupKey::of(m);
        let peer = "10.0.0.9:5000".parse().unwrap();
        let record =
            FrameRecord::encode_message(m, Some(payload), &key, peer, Transport::Tcp, 1).unwrap();
        let view = FrameRecord::view(&record).unwrap().unwrap();
        assert_eq!(view.events(), None);
        assert_eq!(view.body, body.as_bytes());
    }
}
