//! Incremental DC-09 framing: find `<LF> CRC(4) 0LLL body <CR>` in a byte stream.
//!
//! The decoder works on the caller's [`BytesMut`]: it consumes what it has judged (a frame or
//! garbage) and leaves the rest for the next call. `Ok(None)` means "need more bytes". Lengths are
//! checked before the body is buffered: a frame announcing more than `max_body_len` bytes is
//! rejected as soon as its header arrives.

use bytes::{Buf, Bytes, BytesMut};

use crate::crc::crc16;
use crate::crypto::hex_value;

/// Bytes before the body: LF, 4 CRC digits, 4 length digits.
const HEAD_LEN: usize = 9;
/// The largest body the length field can express (`0FFF`).
pub const MAX_BODY_LEN: usize = 0x0FFF;

/// A frame whose CRC and length were checked; the body is not parsed yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawFrame {
    /// The body: from the opening `"` up to, not including, the CR.
    pub body: Bytes,
    /// The sender wrote the length field in decimal (accepted only with the tolerance on).
    pub decimal_length: bool,
}

/// Why bytes were discarded instead of yielding a frame. None of these is answered on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FramingError {
    /// The CRC field does not match the body (answer: none, per the 2007 test plan).
    #[error("CRC mismatch: frame says {announced:04X}, body has {computed:04X}")]
    BadCrc {
        /// CRC written in the frame.
        announced: u16,
        /// CRC computed over the body.
        computed: u16,
    },
    /// An LF was not followed by 4 hex CRC digits and a `0LLL` length field.
    #[error("malformed frame head after LF")]
    BadHead,
    /// The body is not followed by CR where the length field says it ends.
    #[error("length field {announced:#06X} does not match the body")]
    BadLength {
        /// Body length announced by the frame.
        announced: usize,
    },
    /// Bytes outside any frame (before an LF), e.g. a TLS hello or an HTTP request.
    #[error("{skipped} bytes of garbage outside any frame")]
    Garbage {
        /// How many bytes were discarded.
        skipped: usize,
    },
    /// The length field announces more than the configured maximum.
    #[error("frame of {announced} bytes exceeds the maximum of {max}")]
    TooLong {
        /// Body length announced by the frame.
        announced: usize,
        /// The configured maximum.
        max: usize,
    },
}

impl FramingError {
    /// A short stable name, for metrics labels and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::BadCrc { .. } => "bad_crc",
            Self::BadHead => "bad_head",
            Self::BadLength { .. } => "bad_length",
            Self::Garbage { .. } => "garbage",
            Self::TooLong { .. } => "too_long",
        }
    }
}

/// Splits a byte stream into DC-09 frames.
#[derive(Clone, Debug)]
pub struct FrameDecoder {
    max_body_len: usize,
    tolerate_decimal_length: bool,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new(MAX_BODY_LEN)
    }
}

impl FrameDecoder {
    /// A decoder that rejects bodies longer than `max_body_len` (capped at 0x0FFF).
    pub fn new(max_body_len: usize) -> Self {
        Self {
            max_body_len: max_body_len.min(MAX_BODY_LEN),
            tolerate_decimal_length: false,
        }
    }

    /// Also accept frames whose length field is written in decimal (a known panel quirk).
    pub fn tolerate_decimal_length(mut self, on: bool) -> Self {
        self.tolerate_decimal_length = on;
        self
    }

    /// Takes the next frame out of `buf`.
    ///
    /// Returns `Ok(Some(frame))`, `Ok(None)` when more bytes are needed, or an error for bytes it
    /// discarded; after an error, call again: the decoder has resynchronised on the next LF.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<RawFrame>, FramingError> {
        // Everything before the first LF can never be part of a frame.
        let start = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
        if start > 0 {
            let garbage = buf.iter().take(start).any(|&b| !is_filler(b));
            buf.advance(start);
            if garbage {
                return Err(FramingError::Garbage { skipped: start });
            }
        }
        if buf.is_empty() {
            return Ok(None);
        }
        let head = check_head(buf)?;
        let Some((crc, announced)) = head else {
            return Ok(None);
        };
        if announced > self.max_body_len {
            buf.advance(1);
            return Err(FramingError::TooLong {
                announced,
                max: self.max_body_len,
            });
        }
        let body_len = match self.body_len(buf, announced) {
            BodyEnd::Complete(len) => len,
            BodyEnd::Incomplete => return Ok(None),
            BodyEnd::Wrong => {
                buf.advance(1);
                return Err(FramingError::BadLength { announced });
            }
        };
        let decimal_length = body_len != announced;
        let mut frame = buf.split_to(HEAD_LEN + body_len + 1);
        frame.advance(HEAD_LEN);
        frame.truncate(body_len);
        let computed = crc16(&frame);
        if computed != crc {
            return Err(FramingError::BadCrc {
                announced: crc,
                computed,
            });
        }
        Ok(Some(RawFrame {
            body: frame.freeze(),
            decimal_length,
        }))
    }

    /// Where the body ends: at `announced`, or (tolerantly) at the decimal reading of the field.
    fn body_len(&self, buf: &BytesMut, announced: usize) -> BodyEnd {
        let hex = body_end(buf, announced);
        if !self.tolerate_decimal_length || matches!(hex, BodyEnd::Complete(_)) {
            return hex;
        }
        match decimal_length(buf) {
            Some(dec) if dec != announced => match body_end(buf, dec) {
                BodyEnd::Complete(len) => BodyEnd::Complete(len),
                // Prefer waiting if either reading could still complete.
                BodyEnd::Incomplete | BodyEnd::Wrong if matches!(hex, BodyEnd::Incomplete) => {
                    BodyEnd::Incomplete
                }
                other => other,
            },
            _ => hex,
        }
    }
}

enum BodyEnd {
    Complete(usize),
    Incomplete,
    Wrong,
}

/// Checks a body of `len` bytes followed by CR; CR or LF inside the body is a wrong length.
fn body_end(buf: &BytesMut, len: usize) -> BodyEnd {
    let arrived = buf.get(HEAD_LEN..).unwrap_or_default();
    let body = arrived.get(..len).unwrap_or(arrived);
    if memchr::memchr2(b'\r', b'\n', body).is_some() {
        return BodyEnd::Wrong;
    }
    match buf.get(HEAD_LEN + len) {
        None => BodyEnd::Incomplete,
        Some(b'\r') => BodyEnd::Complete(len),
        Some(_) => BodyEnd::Wrong,
    }
}

/// Validates the 8 bytes after LF as far as they have arrived.
///
/// `Ok(None)`: valid so far but incomplete. `Ok(Some((crc, len)))`: complete head.
fn check_head(buf: &mut BytesMut) -> Result<Option<(u16, usize)>, FramingError> {
    let mut crc: u16 = 0;
    let mut len: usize = 0;
    for (i, &b) in buf.iter().enumerate().take(HEAD_LEN).skip(1) {
        let valid = match (i, hex_value(b)) {
            (5, _) => b == b'0',
            (_, None) => false,
            (1..=4, Some(v)) => {
                crc = crc << 4 | u16::from(v);
                true
            }
            (_, Some(v)) => {
                len = len << 4 | usize::from(v);
                true
            }
        };
        if !valid {
            buf.advance(1);
            return Err(FramingError::BadHead);
        }
    }
    Ok((buf.len() >= HEAD_LEN).then_some((crc, len)))
}

/// The length field read as decimal digits, if it is all decimal.
fn decimal_length(buf: &BytesMut) -> Option<usize> {
    buf.iter().skip(5).take(4).try_fold(0usize, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + usize::from(b - b'0'))
    })
}

/// Bytes tolerated between frames without counting as garbage: NUL, CR, space, tab.
fn is_filler(b: u8) -> bool {
    matches!(b, 0 | b'\r' | b' ' | b'\t')
}

#[cfg(test)]
mod tests {
    use super::*;

    const BA5: &[u8] = b"\n8D570020\"SIA-DCS\"0001L0#1234[#1234|NBA5]\r";

    fn decode_all(dec: &FrameDecoder, bytes: &[u8]) -> Vec<Result<RawFrame, FramingError>> {
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(f)) => out.push(Ok(f)),
                Ok(None) => return out,
                Err(e) => out.push(Err(e)),
            }
        }
    }

    #[test]
    fn one_frame() {
        let frames = decode_all(&FrameDecoder::default(), BA5);
        assert_eq!(frames.len(), 1);
        assert_eq!(
            &frames[0].as_ref().unwrap().body[..],
            &BA5[9..BA5.len() - 1]
        );
    }

    #[test]
    fn split_at_every_byte() {
        let dec = FrameDecoder::default();
        for cut in 0..BA5.len() {
            let mut buf = BytesMut::from(&BA5[..cut]);
            assert_eq!(dec.decode(&mut buf), Ok(None), "cut at {cut}");
            buf.extend_from_slice(&BA5[cut..]);
            assert!(dec.decode(&mut buf).unwrap().is_some(), "cut at {cut}");
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn two_frames_and_trailing_nuls() {
        let mut bytes = BA5.to_vec();
        bytes.extend_from_slice(b"\0\0");
        bytes.extend_from_slice(BA5);
        let frames = decode_all(&FrameDecoder::default(), &bytes);
        assert_eq!(frames.len(), 2);
        assert!(frames.iter().all(Result::is_ok));
    }

    #[test]
    fn garbage_then_frame() {
        let mut bytes = b"GET / HTTP/1.1".to_vec();
        bytes.extend_from_slice(BA5);
        let frames = decode_all(&FrameDecoder::default(), &bytes);
        assert_eq!(frames[0], Err(FramingError::Garbage { skipped: 14 }));
        assert!(frames[1].is_ok());
    }

    #[test]
    fn bad_crc_is_consumed_whole() {
        let bytes = b"\n00000020\"SIA-DCS\"0001L0#1234[#1234|NBA5]\r";
        let frames = decode_all(&FrameDecoder::default(), bytes);
        assert_eq!(
            frames,
            vec![Err(FramingError::BadCrc {
                announced: 0,
                computed: 0x8D57
            })]
        );
    }

    #[test]
    fn lower_case_crc_is_accepted() {
        let bytes = b"\n8d570020\"SIA-DCS\"0001L0#1234[#1234|NBA5]\r";
        assert!(decode_all(&FrameDecoder::default(), bytes)[0].is_ok());
    }

    #[test]
    fn too_long_is_rejected_before_the_body_arrives() {
        let dec = FrameDecoder::new(64);
        let mut buf = BytesMut::from(&b"\n12340FFF\"SIA-DCS\""[..]);
        assert_eq!(
            dec.decode(&mut buf),
            Err(FramingError::TooLong {
                announced: 0xFFF,
                max: 64
            })
        );
    }

    #[test]
    fn short_length_fails_early() {
        // Length says 0x21, body is 0x20: the CR arrives inside the announced body.
        let bytes = b"\n09A60021\"SIA-DCS\"0005L0#1234[#1234|NBA5]\r";
        let frames = decode_all(&FrameDecoder::default(), bytes);
        assert_eq!(frames[0], Err(FramingError::BadLength { announced: 0x21 }));
    }

    #[test]
    fn decimal_length_only_when_tolerated() {
        let bytes = b"\n09A60032\"SIA-DCS\"0005L0#1234[#1234|NBA5]\r";
        let strict = decode_all(&FrameDecoder::default(), bytes);
        assert_eq!(strict[0], Err(FramingError::BadLength { announced: 0x32 }));
        let tolerant = decode_all(
            &FrameDecoder::default().tolerate_decimal_length(true),
            bytes,
        );
        assert!(tolerant[0].as_ref().unwrap().decimal_length);
    }

    #[test]
    fn lf_cr_alone_is_rejected_at_once() {
        let frames = decode_all(&FrameDecoder::default(), b"\n\r");
        assert_eq!(frames, vec![Err(FramingError::BadHead)]);
    }
}
