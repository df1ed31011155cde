//! Opening a frame for one account: key, downgrade, timestamp window and token checks.
//!
//! The result is either a [`Message`] to store and acknowledge, or a [`Refusal`] that says which
//! protocol answer the sender gets. [`crate::respond`] turns either into the response.

use bytes::Bytes;

use crate::content::Content;
use crate::crypto::Key;
use crate::error::ParseError;
use crate::frame::{Frame, Payload};
use crate::header::{Header, Token};
use crate::timestamp::{Timestamp, Window};

/// What the receiver knows about the account a frame claims to come from.
#[derive(Clone, Copy, Debug)]
pub enum AccountKey<'a> {
    /// The account is configured to send clear text.
    Clear,
    /// The account is configured with this AES key: clear text from it is refused.
    Encrypted(&'a Key),
    /// The account is not configured.
    Unknown,
}

/// What to do with frames from accounts the receiver does not know.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnknownAccount {
    /// Acknowledge and store (the caller flags it); encrypted frames still get NAK, no key.
    #[default]
    Accept,
    /// Answer DUH ("cannot process").
    Duh,
    /// Answer NAK.
    Nak,
}

/// The receiver's protocol policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Timestamp acceptance window (default −40 s / +20 s).
    pub window: Window,
    /// Also apply the window to clear-text messages. Default off: the standard's test is for
    /// encrypted messages, and an ARC must accept buffered events from panels with bad clocks
    /// (REFERENCE.md §2.7).
    pub window_for_clear_text: bool,
    /// Unknown-account handling.
    pub unknown_account: UnknownAccount,
}

/// A frame accepted for storage and acknowledgement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The header as received.
    pub header: Header,
    /// The account (header `#acct`, else the data's `#acct|`).
    pub account: String,
    /// Clear or decrypted content.
    pub content: Content,
    /// The decrypted plaintext including its pad, for encrypted frames.
    pub plaintext: Option<Bytes>,
    /// The key the frame was decrypted with; the `*ACK` is encrypted with it.
    pub key: Option<Key>,
    /// The account is not configured (accepted under [`UnknownAccount::Accept`]).
    pub unknown_account: bool,
    /// The raw body as received.
    pub body: Bytes,
}

/// Why a frame is refused, and so which answer the sender gets.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Reason {
    /// Encrypted frame that does not decrypt to a valid structure (wrong key). NAK.
    #[error("content does not decrypt to a valid message (wrong key?)")]
    DecryptFailed,
    /// Clear-text frame from an account configured with a key. NAK.
    #[error("clear-text message from an account that requires encryption")]
    Downgrade,
    /// Encrypted message without timestamp (mandatory when encrypted). NAK.
    #[error("encrypted message has no timestamp")]
    MissingTimestamp,
    /// Encrypted frame for an account without a key. NAK.
    #[error("encrypted message but no key is configured for the account")]
    NoKey,
    /// The content is not understood (data does not parse for its token). DUH.
    #[error("content not understood: {0}")]
    NotUnderstood(String),
    /// Malformed body. NAK.
    #[error("malformed frame: {0}")]
    Parse(ParseError),
    /// A receiver-to-sender token (ACK, NAK, DUH, RSP) arrived at the receiver. No answer.
    #[error("received a response frame ({0}); not answered")]
    ResponseToken(Token),
    /// Timestamp outside the window. NAK with our time, so the sender can correct its clock.
    #[error("timestamp {offset_secs:+} s from receiver clock is outside the window")]
    TimeWindow {
        /// Message time minus receiver time, in seconds.
        offset_secs: i64,
    },
    /// Account not configured, and the policy refuses unknown accounts.
    #[error("unknown account")]
    UnknownAccount(UnknownAccount),
    /// Token not supported (legacy formats, unknown tokens). DUH.
    #[error("ID token {0} is not supported")]
    UnsupportedToken(Token),
}

impl Reason {
    /// A short stable name, for metrics labels and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::DecryptFailed => "decrypt_failed",
            Self::Downgrade => "downgrade",
            Self::MissingTimestamp => "missing_timestamp",
            Self::NoKey => "no_key",
            Self::NotUnderstood(_) => "not_understood",
            Self::Parse(e) => e.kind(),
            Self::ResponseToken(_) => "response_token",
            Self::TimeWindow { .. } => "time_window",
            Self::UnknownAccount(_) => "unknown_account",
            Self::UnsupportedToken(_) => "unsupported_token",
        }
    }
}

/// A refused frame: the reason, and the header to echo when the answer echoes one (DUH).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Refusal {
    /// Why.
    pub reason: Reason,
    /// The header, when the frame got that far (boxed: refusals are the rare path).
    pub header: Option<Box<Header>>,
}

impl Refusal {
    /// A refusal for a malformed body (no header to echo).
    pub fn parse(e: ParseError) -> Self {
        Self {
            reason: Reason::Parse(e),
            header: None,
        }
    }
}

impl Frame {
    /// Applies the receiver's policy for the frame's account and opens the content.
    pub fn open(
        &self,
        key: AccountKey<'_>,
        policy: &Policy,
        now: Timestamp,
    ) -> Result<Message, Refusal> {
        let refuse = |reason| Refusal {
            reason,
            header: Some(Box::new(self.header.clone())),
        };
        if self.header.token.is_response() {
            return Err(refuse(Reason::ResponseToken(self.header.token.clone())));
        }
        let unknown_account = matches!(key, AccountKey::Unknown);
        match (key, policy.unknown_account) {
            (AccountKey::Unknown, UnknownAccount::Accept) => {}
            (AccountKey::Unknown, answer) => return Err(refuse(Reason::UnknownAccount(answer))),
            _ => {}
        }
        let (content, plaintext, key) = match (&self.payload, key) {
            (Payload::Clear(_), AccountKey::Encrypted(_)) => return Err(refuse(Reason::Downgrade)),
            (Payload::Clear(c), _) => (c.clone(), None, None),
            (Payload::Encrypted(_), AccountKey::Encrypted(k)) => {
                let (content, plain) =
                    self.decrypt(k).map_err(|_| refuse(Reason::DecryptFailed))?;
                (content, Some(plain), Some(k.clone()))
            }
            (Payload::Encrypted(_), _) => return Err(refuse(Reason::NoKey)),
        };
        let check_window = self.header.encrypted || policy.window_for_clear_text;
        match content.timestamp {
            None if self.header.encrypted => return Err(refuse(Reason::MissingTimestamp)),
            Some(ts) if check_window && !policy.window.contains(ts, now) => {
                return Err(refuse(Reason::TimeWindow {
                    offset_secs: ts.unix() - now.unix(),
                }));
            }
            _ => {}
        }
        if !matches!(
            self.header.token,
            Token::SiaDcs | Token::AdmCid | Token::Null
        ) {
            return Err(refuse(Reason::UnsupportedToken(self.header.token.clone())));
        }
        let account = self
            .header
            .account
            .as_ref()
            .map(|a| a.as_str())
            .or_else(|| content.data_account())
            .ok_or_else(|| refuse(Reason::Parse(ParseError::MissingAccount)))?
            .to_owned();
        Ok(Message {
            header: self.header.clone(),
            account,
            content,
            plaintext,
            key,
            unknown_account,
            body: self.body.clone(),
        })
    }
}
