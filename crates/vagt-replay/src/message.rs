//! The device side of DC-09: building the frames a device sends and reading the receiver's
//! answer (no I/O here).

use bytes::{Bytes, BytesMut};
use rand::RngCore;
use vagt_dc09::{
    Content, Frame, FrameDecoder, Header, HexField, Key, Payload, RawFrame, Sequence, Timestamp,
    Token, Tolerance,
};

use crate::scenario::Kind;

/// Who a device is on the wire.
#[derive(Clone, Debug)]
pub struct Identity {
    /// Account number.
    pub account: String,
    /// `L` field.
    pub line: String,
    /// `R` field, if sent.
    pub receiver: Option<String>,
    /// AES key, if the device encrypts.
    pub key: Option<Key>,
}

/// One message as a device sends it (and retransmits it, byte for byte).
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// The sequence number.
    pub sequence: u16,
    /// The data block (`#acct|NQA017`), what the receiver must store.
    pub data: String,
    /// The frame bytes.
    pub frame: Vec<u8>,
}

/// A clear SIA-DCS alarm frame `code` from `account` with sequence `seq` (1..=9999).
pub fn sia_alarm(account: impl std::fmt::Display, seq: u16, code: &str) -> anyhow::Result<Vec<u8>> {
    let body = format!("\"SIA-DCS\"{seq:04}L0#{account}[#{account}|N{code}]");
    vagt_dc09::wrap_body(body.as_bytes()).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Builds message number `n` of a device: SIA `QA` / CID `1100` alarms carry `n` in the zone so
/// every message is distinct; the timestamp is the device's clock.
pub fn build(
    id: &Identity,
    kind: Kind,
    sequence: u16,
    n: u64,
    device_time: i64,
    rng: &mut dyn RngCore,
) -> anyhow::Result<Outgoing> {
    let acct = &id.account;
    let zone = n % 1000;
    let (token, data) = match kind {
        Kind::Sia => (Token::SiaDcs, format!("#{acct}|NQA{zone:03}")),
        Kind::Cid => (Token::AdmCid, format!("#{acct}|1100 01 {zone:03}")),
        Kind::Null => (Token::Null, String::new()),
    };
    let field = |text: &str, min, max| {
        HexField::new(text, min, max).ok_or_else(|| anyhow::anyhow!("bad header field {text:?}"))
    };
    let header = Header {
        token,
        encrypted: id.key.is_some(),
        sequence: Sequence::new(sequence)
            .ok_or_else(|| anyhow::anyhow!("bad sequence {sequence}"))?,
        receiver: id.receiver.as_deref().map(|r| field(r, 1, 6)).transpose()?,
        line: Some(field(&id.line, 1, 6)?),
        account: Some(field(acct, 3, 16)?),
    };
    let content = Content {
        data: Bytes::from(data.clone()),
        xdata: Vec::new(),
        timestamp: Timestamp::from_unix(device_time),
    };
    let frame = vagt_dc09::encode_frame(&header, &content, id.key.as_ref(), rng)?;
    Ok(Outgoing {
        sequence,
        data,
        frame,
    })
}

/// The receiver's answer to a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// `ACK` (or `*ACK`) for this sequence number.
    Ack(u16),
    /// `NAK`, with the receiver's time if it sent one (seconds since the Unix epoch).
    Nak(Option<i64>),
    /// `DUH`.
    Duh(u16),
    /// Anything else a receiver should not send.
    Other(String),
}

/// Reads answers out of bytes received on a connection.
#[derive(Debug)]
pub struct AnswerReader {
    decoder: FrameDecoder,
    buf: BytesMut,
}

impl Default for AnswerReader {
    fn default() -> Self {
        Self {
            decoder: FrameDecoder::new(vagt_dc09::MAX_BODY_LEN),
            buf: BytesMut::with_capacity(256),
        }
    }
}

impl AnswerReader {
    /// Where received bytes go.
    pub fn buffer(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// The next complete answer, if one is buffered. Bytes that do not frame are skipped.
    pub fn next_answer(&mut self) -> Option<Answer> {
        loop {
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(raw)) => return Some(answer_of(&raw)),
                Ok(None) => return None,
                Err(_) => continue, // the decoder has discarded the bad bytes
            }
        }
    }
}

/// Classifies one answer frame.
pub fn answer_of(raw: &RawFrame) -> Answer {
    let frame = match Frame::parse(raw, &Tolerance::default()) {
        Ok(f) => f,
        Err(e) => return Answer::Other(format!("unparsable answer: {e}")),
    };
    let seq = frame.header.sequence.value();
    match (&frame.header.token, &frame.payload) {
        (Token::Ack, _) => Answer::Ack(seq),
        (Token::Duh, _) => Answer::Duh(seq),
        (Token::Nak, Payload::Clear(c)) => Answer::Nak(c.timestamp.map(Timestamp::unix)),
        (Token::Nak, Payload::Encrypted(_)) => Answer::Nak(None),
        (t, _) => Answer::Other(t.as_str().to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use vagt_dc09::{AccountKey, Decoded, Policy};

    use super::*;

    fn raw(wire: &[u8]) -> RawFrame {
        let mut buf = BytesMut::from(wire);
        FrameDecoder::new(4095).decode(&mut buf).unwrap().unwrap()
    }

    #[test]
    fn built_frames_decode_on_the_receiver_side() {
        let key = Key::from_bytes(&[7; 32]).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        for (kind, key, data) in [
            (Kind::Sia, None, "#123456|NQA042"),
            (Kind::Cid, Some(key.clone()), "#123456|1100 01 042"),
            (Kind::Null, Some(key.clone()), ""),
        ] {
            let id = Identity {
                account: "123456".into(),
                line: "1".into(),
                receiver: Some("A1".into()),
                key: key.clone(),
            };
            let now = 1_714_521_600;
            let out = build(&id, kind, 17, 1042, now, &mut rng).unwrap();
            assert_eq!(out.data, data);
            let account_key = match &key {
                Some(k) => AccountKey::Encrypted(k),
                None => AccountKey::Clear,
            };
            let decoded = vagt_dc09::decode(
                &raw(&out.frame),
                &Tolerance::default(),
                &Policy::default(),
                Timestamp::from_unix(now).unwrap(),
                |_| account_key,
            );
            let Decoded::Accepted(m) = decoded else {
                panic!("{kind:?}: {decoded:?}");
            };
            assert_eq!(m.header.sequence.value(), 17);
            assert_eq!(m.account, "123456");
        }
    }

    #[test]
    fn answers_are_classified() {
        let mut r = AnswerReader::default();
        r.buffer()
            .extend_from_slice(&vagt_dc09::wrap_body(b"\"ACK\"0017L1#123456[]").unwrap());
        r.buffer().extend_from_slice(b"noise");
        r.buffer().extend_from_slice(
            &vagt_dc09::wrap_body(b"\"NAK\"0000R0L0A0[]_12:00:00,05-01-2024").unwrap(),
        );
        assert_eq!(r.next_answer(), Some(Answer::Ack(17)));
        assert_eq!(r.next_answer(), Some(Answer::Nak(Some(1_714_564_800))));
        assert_eq!(r.next_answer(), None);
    }
}
