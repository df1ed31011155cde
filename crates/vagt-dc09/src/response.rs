//! The receiver's answers (REFERENCE.md §4) and the one function that chooses them.

use bytes::Bytes;
use rand_core::RngCore;

use crate::content::Content;
use crate::crypto::Key;
use crate::frame::{EncodeError, encode_frame};
use crate::framing::FramingError;
use crate::header::{Header, HexField, Sequence, Token};
use crate::message::{Message, Reason, Refusal, UnknownAccount};
use crate::timestamp::Timestamp;

/// The answer to one received frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// `ACK` echoing the request's header; `*ACK` (encrypted with `key`) when `key` is set.
    Ack {
        /// The request header (sequence, receiver, line and account are echoed).
        header: Header,
        /// The request's key: the ACK is a `*ACK` encrypted with it.
        key: Option<Key>,
    },
    /// `DUH` echoing the request's header, always clear.
    Duh {
        /// The request header.
        header: Header,
    },
    /// `NAK` with the fixed header `"NAK"0000R0L0A0[]` and the receiver's time; never encrypted.
    Nak,
    /// No answer at all (bad CRC, no frame, a response token).
    Silent,
}

impl Response {
    /// The response class as a short name: `ACK`, `*ACK`, `DUH`, `NAK` or `none`.
    pub fn class(&self) -> &'static str {
        match self {
            Self::Ack { key: Some(_), .. } => "*ACK",
            Self::Ack { key: None, .. } => "ACK",
            Self::Duh { .. } => "DUH",
            Self::Nak => "NAK",
            Self::Silent => "none",
        }
    }

    /// Encodes the response frame; `None` for [`Response::Silent`].
    ///
    /// `now` is the receiver's clock (NAK and `*ACK` carry it); `rng` draws the `*ACK` pad.
    pub fn encode(
        &self,
        now: Timestamp,
        rng: &mut dyn RngCore,
    ) -> Result<Option<Vec<u8>>, EncodeError> {
        let (header, key, timestamp) = match self {
            Self::Silent => return Ok(None),
            Self::Ack { header, key } => (
                answer_header(Token::Ack, header, key.is_some()),
                key.as_ref(),
                key.as_ref().map(|_| now),
            ),
            Self::Duh { header } => (answer_header(Token::Duh, header, false), None, None),
            Self::Nak => (nak_header(), None, Some(now)),
        };
        let content = Content {
            data: Bytes::new(),
            xdata: Vec::new(),
            timestamp,
        };
        encode_frame(&header, &content, key, rng).map(Some)
    }
}

/// The answer header: the request's sequence, receiver, line and account, byte for byte.
fn answer_header(token: Token, request: &Header, encrypted: bool) -> Header {
    Header {
        token,
        encrypted,
        ..request.clone()
    }
}

fn nak_header() -> Header {
    Header {
        token: Token::Nak,
        encrypted: false,
        sequence: Sequence::ZERO,
        receiver: HexField::new("0", 1, 1),
        line: HexField::new("0", 1, 1),
        account: None,
    }
}

/// Everything the receiver can make of some received bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "Accepted is the common case; boxing it would allocate for every frame"
)]
pub enum Decoded {
    /// Bytes discarded by the framer (bad CRC, bad length, garbage…).
    Framing(FramingError),
    /// A frame that is refused.
    Refused(Refusal),
    /// A frame to store and acknowledge.
    Accepted(Message),
}

/// The protocol's answer to a decoded frame (REFERENCE.md §4.2), as one pure function:
///
/// * framing errors (bad CRC, bad length, garbage): no answer;
/// * malformed header or data, failed decryption, missing/out-of-window timestamp, a key
///   mismatch: `NAK` with the receiver's time;
/// * unsupported token or content not understood: `DUH`;
/// * response tokens (ACK/NAK/DUH/RSP sent to us): no answer;
/// * unknown account: per [`UnknownAccount`];
/// * accepted: `ACK`, or `*ACK` when the request was encrypted.
pub fn respond(decoded: &Decoded) -> Response {
    match decoded {
        Decoded::Framing(_) => Response::Silent,
        Decoded::Accepted(m) => Response::Ack {
            header: m.header.clone(),
            key: m.key.clone(),
        },
        Decoded::Refused(Refusal { reason, header }) => match (reason, header) {
            (Reason::ResponseToken(_), _) => Response::Silent,
            (Reason::UnknownAccount(UnknownAccount::Duh), Some(h))
            | (Reason::UnsupportedToken(_) | Reason::NotUnderstood(_), Some(h)) => Response::Duh {
                header: (**h).clone(),
            },
            _ => Response::Nak,
        },
    }
}
