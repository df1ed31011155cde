//! Sans-I/O codec for SIA DC-09 ("SIA IP reporting") frames.
//!
//! This crate turns bytes into checked frames and decisions into response bytes. It has no
//! sockets, no async runtime, no clock and no global state: the caller passes in buffers, keys,
//! the receiver's `now` and a random source for encryption pads. It knows nothing of Vagt's
//! domain; the payloads inside frames are interpreted by `vagt-sia` and `vagt-cid`.
//!
//! The receive path, step by step:
//!
//! 1. [`FrameDecoder::decode`] finds `<LF> CRC 0LLL body <CR>` in a stream buffer, checking the
//!    CRC-16/ARC and the length before buffering an oversized body.
//! 2. [`Frame::parse`] reads the header (`"ID"SSSS[Rr]Lp#acct`) and the content or ciphertext.
//! 3. [`Frame::open`] applies the account's key and the receiver's [`Policy`]: decryption,
//!    downgrade refusal, timestamp window, supported tokens.
//! 4. [`respond`] maps the outcome to ACK / `*ACK` / NAK / DUH / silence, and
//!    [`Response::encode`] produces the bytes.
//!
//! [`decode`] runs steps 2–3 for one raw frame. Senders (the replay tool, tests) build frames
//! with [`encode_frame`].
//!
//! ```
//! use bytes::BytesMut;
//! use vagt_dc09::{AccountKey, Decoded, FrameDecoder, Policy, Timestamp, Tolerance, respond};
//!
//! let mut buf = BytesMut::from(&b"\n8D570020\"SIA-DCS\"0001L0#1234[#1234|NBA5]\r"[..]);
//! let raw = FrameDecoder::default().decode(&mut buf).unwrap().unwrap();
//! let now = Timestamp::parse(b"12:00:00,05-01-2024").unwrap();
//! let decoded = vagt_dc09::decode(&raw, &Tolerance::default(), &Policy::default(), now, |_| {
//!     AccountKey::Clear
//! });
//! let response = respond(&decoded);
//! let bytes = response.encode(now, &mut rand::rng()).unwrap().unwrap();
//! assert_eq!(bytes, b"\n1BC10012\"ACK\"0001L0#1234[]\r");
//! ```

#![cfg_attr(not(test), warn(clippy::indexing_slicing))]

mod content;
mod crc;
mod crypto;
mod display;
mod error;
mod frame;
mod framing;
mod header;
mod message;
mod reader;
mod response;
mod timestamp;

pub use content::{Content, XData};
pub use crc::crc16;
pub use crypto::{CipherLengthError, Key, KeyError, decode_hex, encode_hex_upper};
pub use display::display_bytes;
pub use error::ParseError;
pub use frame::{DecryptError, EncodeError, Frame, Payload, encode_frame, wrap_body};
pub use framing::{FrameDecoder, FramingError, MAX_BODY_LEN, RawFrame};
pub use header::{Header, HexField, Sequence, Token, Tolerance};
pub use message::{AccountKey, Message, Policy, Reason, Refusal, UnknownAccount};
pub use response::{Decoded, Response, respond};
pub use timestamp::{Timestamp, Window};

/// Parses and opens one raw frame: [`Frame::parse`], then [`Frame::open`] with the key that
/// `lookup` gives for the parsed frame (the caller looks up receiver, line and account).
pub fn decode<'k>(
    raw: &RawFrame,
    tolerance: &Tolerance,
    policy: &Policy,
    now: Timestamp,
    lookup: impl FnOnce(&Frame) -> AccountKey<'k>,
) -> Decoded {
    let frame = match Frame::parse(raw, tolerance) {
        Ok(f) => f,
        Err(e) => return Decoded::Refused(Refusal::parse(e)),
    };
    match frame.open(lookup(&frame), policy, now) {
        Ok(m) => Decoded::Accepted(m),
        Err(r) => Decoded::Refused(r),
    }
}
