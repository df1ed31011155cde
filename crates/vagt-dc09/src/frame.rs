//! A parsed frame (header + clear or encrypted content), and the frame encoder.

use bytes::Bytes;
use rand_core::RngCore;

use crate::content::Content;
use crate::crc::crc16;
use crate::crypto::{self, Key};
use crate::error::ParseError;
use crate::framing::{MAX_BODY_LEN, RawFrame};
use crate::header::{Header, Tolerance};
use crate::reader::Reader;

/// What follows the header's `[`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// Clear-text content.
    Clear(Content),
    /// Ciphertext as hex text, as transmitted (either case); decrypt with [`Frame::decrypt`].
    Encrypted(Bytes),
}

/// A frame with a parsed header; encrypted content is not decrypted yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The clear-text header.
    pub header: Header,
    /// Clear content or ciphertext.
    pub payload: Payload,
    /// The body as received (for the journal and for display).
    pub body: Bytes,
}

/// Why an encrypted payload could not be opened. Answered with NAK.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("decrypted content is not a valid DC-09 structure (wrong key?)")]
pub struct DecryptError;

impl Frame {
    /// Parses the body of a frame whose CRC and length were checked.
    pub fn parse(raw: &RawFrame, tol: &Tolerance) -> Result<Self, ParseError> {
        let body = &raw.body;
        let mut r = Reader::new(body);
        let header = Header::parse(&mut r, tol)?;
        r.expect(b'[').ok_or(ParseError::MissingData)?;
        let payload = if header.encrypted {
            let hex = r.rest();
            if hex.is_empty()
                || !hex.len().is_multiple_of(32)
                || !hex.iter().all(u8::is_ascii_hexdigit)
            {
                return Err(ParseError::BadCiphertext);
            }
            Payload::Encrypted(body.slice_ref(hex))
        } else {
            Payload::Clear(Content::parse(body, r.rest())?)
        };
        let frame = Self {
            header,
            payload,
            body: body.clone(),
        };
        if frame.header.account.is_none() && !frame.header.token.is_response() {
            let from_data = match &frame.payload {
                Payload::Clear(c) if tol.account_from_data => c.data_account(),
                _ => None,
            };
            from_data.ok_or(ParseError::MissingAccount)?;
        }
        Ok(frame)
    }

    /// The account that identifies the sender: the header's `#acct`, else the data's `#acct|`.
    pub fn account(&self) -> Option<&str> {
        match (&self.header.account, &self.payload) {
            (Some(a), _) => Some(a.as_str()),
            (None, Payload::Clear(c)) => c.data_account(),
            (None, Payload::Encrypted(_)) => None,
        }
    }

    /// Decrypts the payload with `key` and parses the plaintext.
    ///
    /// Returns the content and the full plaintext (pad included, for display).
    pub fn decrypt(&self, key: &Key) -> Result<(Content, Bytes), DecryptError> {
        let Payload::Encrypted(hex) = &self.payload else {
            return Err(DecryptError);
        };
        let mut plain = crypto::decode_hex(hex).ok_or(DecryptError)?;
        key.decrypt(&mut plain).map_err(|_| DecryptError)?;
        let plain = Bytes::from(plain);
        // Pad never holds `|`, `[` or `]`: if `|` comes before the first `]`, data starts after
        // it; otherwise the data is empty and starts at the `]` (REFERENCE.md §3).
        let pipe = plain.iter().position(|&b| b == b'|');
        let close = plain.iter().position(|&b| b == b']').ok_or(DecryptError)?;
        let start = match pipe {
            Some(p) if p < close => p + 1,
            _ => close,
        };
        let pad = plain.get(..start).ok_or(DecryptError)?;
        if pad.contains(&b'[') {
            return Err(DecryptError);
        }
        let text = plain.get(start..).ok_or(DecryptError)?;
        let content = Content::parse(&plain, text).map_err(|_| DecryptError)?;
        Ok((content, plain))
    }
}

/// Why a frame could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The body would exceed the 0x0FFF bytes the length field can express.
    #[error("frame body of {len} bytes exceeds 0x0FFF")]
    TooLong {
        /// The body length.
        len: usize,
    },
    /// The header says encrypted but no key was given, or the content has no timestamp.
    #[error("an encrypted frame needs a key and a timestamp")]
    NeedsKeyAndTimestamp,
}

/// Encodes a complete frame: `LF CRC 0LLL header [content CR`.
///
/// With `header.encrypted`, the content (which must carry a timestamp) is encrypted with `key`
/// behind a pad of random alphanumerics drawn from `rng`; otherwise `key` and `rng` are unused.
pub fn encode_frame(
    header: &Header,
    content: &Content,
    key: Option<&Key>,
    rng: &mut dyn RngCore,
) -> Result<Vec<u8>, EncodeError> {
    // One buffer: room for `LF CRC 0LLL`, the body, then the prefix filled in.
    let mut out = Vec::with_capacity(PREFIX + 64 + content.data.len());
    out.extend_from_slice(&[0; PREFIX]);
    header.write(&mut out);
    out.push(b'[');
    if header.encrypted {
        let key = key.ok_or(EncodeError::NeedsKeyAndTimestamp)?;
        if content.timestamp.is_none() {
            return Err(EncodeError::NeedsKeyAndTimestamp);
        }
        let mut inner = Vec::with_capacity(content.data.len() + 40);
        if !content.data.is_empty() {
            inner.push(b'|');
        }
        content.write(&mut inner);
        let mut plain = crypto::pad_plaintext(&inner, rng);
        key.encrypt(&mut plain)
            .map_err(|_| EncodeError::NeedsKeyAndTimestamp)?;
        crypto::encode_hex_upper(&plain, &mut out);
    } else {
        content.write(&mut out);
    }
    finish_frame(out)
}

/// Bytes before the body: `LF`, four CRC digits, `0` and three length digits.
const PREFIX: usize = 9;

/// Wraps a body as `LF CRC(4 hex) 0LLL body CR`.
pub fn wrap_body(body: &[u8]) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(PREFIX + body.len() + 1);
    out.extend_from_slice(&[0; PREFIX]);
    out.extend_from_slice(body);
    finish_frame(out)
}

/// Fills in the prefix of `out` (`PREFIX` placeholder bytes, then the body) and appends CR.
fn finish_frame(mut out: Vec<u8>) -> Result<Vec<u8>, EncodeError> {
    let (prefix, body) = out.split_at_mut_checked(PREFIX).unwrap_or_default();
    if body.len() > MAX_BODY_LEN {
        return Err(EncodeError::TooLong { len: body.len() });
    }
    let (crc, len) = (crc16(body), body.len());
    let hex = |v: usize, shift: u32| crypto::hex_digit((v >> shift) as u8);
    let crc = usize::from(crc);
    prefix.copy_from_slice(&[
        b'\n',
        hex(crc, 12),
        hex(crc, 8),
        hex(crc, 4),
        hex(crc, 0),
        b'0',
        hex(len, 8),
        hex(len, 4),
        hex(len, 0),
    ]);
    out.push(b'\r');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use rand::SeedableRng;

    use super::*;
    use crate::framing::FrameDecoder;
    use crate::header::{HexField, Sequence, Token};
    use crate::timestamp::Timestamp;

    fn frame_of(bytes: &[u8]) -> Frame {
        let raw = FrameDecoder::default()
            .decode(&mut BytesMut::from(bytes))
            .unwrap()
            .unwrap();
        Frame::parse(&raw, &Tolerance::default()).unwrap()
    }

    #[test]
    fn encodes_the_reference_example() {
        let header = Header {
            token: Token::SiaDcs,
            encrypted: false,
            sequence: Sequence::new(1).unwrap(),
            receiver: None,
            line: HexField::new("0", 1, 6),
            account: HexField::new("1234", 3, 16),
        };
        let content = Content {
            data: Bytes::from_static(b"#1234|NBA5"),
            ..Content::default()
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let wire = encode_frame(&header, &content, None, &mut rng).unwrap();
        assert_eq!(wire, b"\n8D570020\"SIA-DCS\"0001L0#1234[#1234|NBA5]\r");
    }

    #[test]
    fn encrypted_round_trip() {
        let key = Key::parse("0123456789ABCDEF").unwrap();
        let header = Header {
            token: Token::Null,
            encrypted: true,
            sequence: Sequence::ZERO,
            receiver: HexField::new("12", 1, 6),
            line: HexField::new("0", 1, 6),
            account: HexField::new("1234", 3, 16),
        };
        let content = Content {
            timestamp: Timestamp::parse(b"12:00:00,05-01-2024"),
            ..Content::default()
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let wire = encode_frame(&header, &content, Some(&key), &mut rng).unwrap();
        let frame = frame_of(&wire);
        assert_eq!(frame.header, header);
        assert_eq!(frame.decrypt(&key).unwrap().0, content);
        let wrong = Key::parse("FEDCBA9876543210").unwrap();
        assert_eq!(frame.decrypt(&wrong), Err(DecryptError));
    }

    #[test]
    fn account_from_data_when_header_has_none() {
        let body = b"\"SIA-DCS\"4738R0001L0001[#006969|Nri04/OP001NM]";
        let frame = frame_of(&wrap_body(body).unwrap());
        assert_eq!(frame.header.account, None);
        assert_eq!(frame.account(), Some("006969"));
        let strict = Tolerance {
            account_from_data: false,
            ..Tolerance::default()
        };
        let raw = RawFrame {
            body: Bytes::from_static(body),
            decimal_length: false,
        };
        assert_eq!(Frame::parse(&raw, &strict), Err(ParseError::MissingAccount));
    }
}
