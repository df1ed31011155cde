//! Errors for a frame whose CRC and length were fine but whose body is malformed.

/// What is wrong with a frame body. Answered with a NAK (fixed header, our time): the frame
/// arrived intact, so the sender is misconfigured and should learn it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// `#` account field is not 3–16 hex digits.
    #[error("account must be 3-16 hex digits")]
    BadAccount,
    /// Encrypted content is not hex text of whole 16-byte blocks.
    #[error("ciphertext is not hex of whole 16-byte blocks")]
    BadCiphertext,
    /// The data block does not close with `]`, or is followed by something unexpected.
    #[error("data block is malformed")]
    BadData,
    /// `L` field is not 1–6 hex digits.
    #[error("line (L) must be 1-6 hex digits")]
    BadLine,
    /// `R` field is not 1–6 hex digits.
    #[error("receiver (R) must be 1-6 hex digits")]
    BadReceiver,
    /// The sequence is not 4 decimal digits.
    #[error("sequence must be 4 decimal digits")]
    BadSequence,
    /// The timestamp is not a valid `_HH:MM:SS,MM-DD-YYYY`.
    #[error("timestamp is not a valid _HH:MM:SS,MM-DD-YYYY")]
    BadTimestamp,
    /// The ID token is missing or not printable.
    #[error("ID token is missing or malformed")]
    BadToken,
    /// An extended-data block is malformed.
    #[error("extended data block is malformed")]
    BadXData,
    /// Neither the header nor the data carries an account.
    #[error("no account in header or data")]
    MissingAccount,
    /// No `[` data block after the header.
    #[error("no data block after the header")]
    MissingData,
    /// No `L` field (it is mandatory).
    #[error("line (L) field is missing")]
    MissingLine,
}

impl ParseError {
    /// A short stable name, for metrics labels and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::BadAccount => "bad_account",
            Self::BadCiphertext => "bad_ciphertext",
            Self::BadData => "bad_data",
            Self::BadLine => "bad_line",
            Self::BadReceiver => "bad_receiver",
            Self::BadSequence => "bad_sequence",
            Self::BadTimestamp => "bad_timestamp",
            Self::BadToken => "bad_token",
            Self::BadXData => "bad_xdata",
            Self::MissingAccount => "missing_account",
            Self::MissingData => "missing_data",
            Self::MissingLine => "missing_line",
        }
    }
}
