//! The clear-text header of a DC-09 body: `"ID"SSSS[Rr]Lp#acct` (REFERENCE.md §2.3–2.5).

use std::fmt;

use crate::error::ParseError;
use crate::reader::Reader;

/// The ID token between the quotes, without the `*` that marks encryption.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Token {
    /// `ACK`: positive acknowledgement (receiver to sender).
    Ack,
    /// `ADM-CID`: Ademco Contact ID data (DC-05).
    AdmCid,
    /// `DUH`: frame fine, content not processable (receiver to sender).
    Duh,
    /// `NAK`: negative acknowledgement (receiver to sender).
    Nak,
    /// `NULL`: link test / supervision poll.
    Null,
    /// `RSP`: response carrying data (receiver to sender).
    Rsp,
    /// `SIA-DCS`: SIA DC-03 data.
    SiaDcs,
    /// Any other token, e.g. a legacy format carried over IP (`ADM-41E`, `SIA-PUL`, …).
    Other(String),
}

impl Token {
    /// Parses the token text; anything printable is a token, known or not.
    fn parse(text: &[u8]) -> Result<Self, ParseError> {
        Ok(match text {
            b"ACK" => Self::Ack,
            b"ADM-CID" => Self::AdmCid,
            b"DUH" => Self::Duh,
            b"NAK" => Self::Nak,
            b"NULL" => Self::Null,
            b"RSP" => Self::Rsp,
            b"SIA-DCS" => Self::SiaDcs,
            _ if !text.is_empty() && text.iter().all(|b| b.is_ascii_graphic() && *b != b'*') => {
                Self::Other(String::from_utf8_lossy(text).into_owned())
            }
            _ => return Err(ParseError::BadToken),
        })
    }

    /// The token as written on the wire (without `*`).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Ack => "ACK",
            Self::AdmCid => "ADM-CID",
            Self::Duh => "DUH",
            Self::Nak => "NAK",
            Self::Null => "NULL",
            Self::Rsp => "RSP",
            Self::SiaDcs => "SIA-DCS",
            Self::Other(s) => s,
        }
    }

    /// Whether this token is one a receiver sends, never one it should receive.
    pub fn is_response(&self) -> bool {
        matches!(self, Self::Ack | Self::Duh | Self::Nak | Self::Rsp)
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A field of hex digits kept exactly as received (case and width), so it can be echoed.
///
/// Held inline (at most [`HexField::CAPACITY`] digits, the account's maximum): parsing a
/// header, or echoing it in the answer, allocates nothing for its fields.
#[derive(Clone, Copy)]
pub struct HexField {
    len: u8,
    digits: [u8; Self::CAPACITY],
}

impl HexField {
    /// The most digits a field holds (an account: 3–16).
    pub const CAPACITY: usize = 16;

    /// Builds a field from text of `min..=max` hex digits (at most [`HexField::CAPACITY`]).
    pub fn new(text: &str, min: usize, max: usize) -> Option<Self> {
        let hex = text.bytes().all(|b| b.is_ascii_hexdigit());
        hex.then(|| Self::of_hex(text.as_bytes(), min, max))
            .flatten()
    }

    /// From bytes already known to be hex digits, if there are `min..=max` of them.
    fn of_hex(hex: &[u8], min: usize, max: usize) -> Option<Self> {
        if !(min..=max.min(Self::CAPACITY)).contains(&hex.len()) {
            return None;
        }
        let mut digits = [0; Self::CAPACITY];
        digits.get_mut(..hex.len())?.copy_from_slice(hex);
        Some(Self {
            len: u8::try_from(hex.len()).ok()?,
            digits,
        })
    }

    /// The digits as received.
    pub fn as_str(&self) -> &str {
        let digits = self.digits.get(..usize::from(self.len)).unwrap_or_default();
        // Only ASCII hex digits are ever stored.
        std::str::from_utf8(digits).unwrap_or_default()
    }
}

impl PartialEq for HexField {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for HexField {}

impl std::hash::Hash for HexField {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialOrd for HexField {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for HexField {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl fmt::Debug for HexField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("HexField").field(&self.as_str()).finish()
    }
}

impl fmt::Display for HexField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The 4-digit decimal sequence number, kept as received.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sequence([u8; 4]);

impl Sequence {
    /// `0000`, used by NAK and by many senders for polls.
    pub const ZERO: Self = Self(*b"0000");

    /// Builds a sequence from its number (0–9999).
    pub fn new(n: u16) -> Option<Self> {
        (n <= 9999).then(|| {
            let d = |div: u16| b'0' + u8::try_from(n / div % 10).unwrap_or(0);
            Self([d(1000), d(100), d(10), d(1)])
        })
    }

    /// The number, 0–9999.
    pub fn value(self) -> u16 {
        self.0
            .iter()
            .fold(0, |acc, d| acc * 10 + u16::from(d - b'0'))
    }

    /// The four digits.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("0000")
    }

    /// The next sequence for a new message: 9999 rolls over to 0001 (REFERENCE.md §2.4).
    pub fn next(self) -> Self {
        match self.value() {
            9999 => Self(*b"0001"),
            n => Self::new(n + 1).unwrap_or(Self::ZERO),
        }
    }
}

/// Which deviations from the standard header the parser accepts (REFERENCE.md §2.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tolerance {
    /// Accept an `L` with no digits (seen from a real panel, ioBroker.sia issue #11). Default on.
    pub empty_line: bool,
    /// Accept a header with no `L` field at all (dc09-spt without a line). Default off: the field
    /// is mandatory and both reference receivers reject it.
    pub missing_line: bool,
    /// Accept a header without `#acct` when the data starts with `#acct|`. Default on.
    pub account_from_data: bool,
}

impl Default for Tolerance {
    fn default() -> Self {
        Self {
            empty_line: true,
            missing_line: false,
            account_from_data: true,
        }
    }
}

/// The clear-text header of a frame, with every field as received.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// The ID token.
    pub token: Token,
    /// `*` before the token: the content is encrypted.
    pub encrypted: bool,
    /// The sequence number.
    pub sequence: Sequence,
    /// `R` field: receiver number, 1–6 hex digits, optional.
    pub receiver: Option<HexField>,
    /// `L` field: account prefix / line, 1–6 hex digits (0 digits or absent only if tolerated).
    pub line: Option<HexField>,
    /// `#` field: account, 3–16 hex digits; absent only if tolerated, and in NAK (`A0`).
    pub account: Option<HexField>,
}

impl Header {
    /// The frame type as reports and the test vectors show it: the ID token, with `*` first when
    /// encrypted (`*SIA-DCS`).
    pub fn type_label(&self) -> String {
        format!("{}{}", if self.encrypted { "*" } else { "" }, self.token)
    }

    /// Parses the header and leaves `r` at the `[` that opens the data.
    pub(crate) fn parse(r: &mut Reader<'_>, tol: &Tolerance) -> Result<Self, ParseError> {
        r.expect(b'"').ok_or(ParseError::BadToken)?;
        let encrypted = r.eat(b'*');
        let token = Token::parse(r.take_until(b'"').ok_or(ParseError::BadToken)?)?;
        r.expect(b'"').ok_or(ParseError::BadToken)?;
        let seq = r.take(4).ok_or(ParseError::BadSequence)?;
        let sequence = match *seq {
            [a, b, c, d] if seq.iter().all(u8::is_ascii_digit) => Sequence([a, b, c, d]),
            _ => return Err(ParseError::BadSequence),
        };
        let receiver = if r.eat(b'R') {
            Some(hex_field(r, 1, 6).ok_or(ParseError::BadReceiver)?)
        } else {
            None
        };
        let line = if r.eat(b'L') {
            let min = if tol.empty_line { 0 } else { 1 };
            if token == Token::Nak {
                // `L0A0`: `A` is a hex digit, so stop the line at the NAK's `A` marker.
                let digits = r.take_while(|b| b.is_ascii_hexdigit() && *b != b'A');
                let text = std::str::from_utf8(digits).map_err(|_| ParseError::BadLine)?;
                Some(HexField::new(text, min, 6).ok_or(ParseError::BadLine)?)
            } else {
                Some(hex_field(r, min, 6).ok_or(ParseError::BadLine)?)
            }
        } else if tol.missing_line {
            None
        } else {
            return Err(ParseError::MissingLine);
        };
        let account = if r.eat(b'#') {
            Some(hex_field(r, 3, 16).ok_or(ParseError::BadAccount)?)
        } else if token == Token::Nak && r.eat(b'A') {
            hex_field(r, 1, 16).ok_or(ParseError::BadAccount)?;
            None
        } else {
            None
        };
        if r.peek() != Some(b'[') {
            return Err(ParseError::MissingData);
        }
        Ok(Self {
            token,
            encrypted,
            sequence,
            receiver,
            line,
            account,
        })
    }

    /// Appends the header in wire form.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.push(b'"');
        if self.encrypted {
            out.push(b'*');
        }
        out.extend_from_slice(self.token.as_str().as_bytes());
        out.push(b'"');
        out.extend_from_slice(&self.sequence.0);
        if let Some(r) = &self.receiver {
            out.push(b'R');
            out.extend_from_slice(r.as_str().as_bytes());
        }
        if let Some(l) = &self.line {
            out.push(b'L');
            out.extend_from_slice(l.as_str().as_bytes());
        }
        match &self.account {
            Some(a) => {
                out.push(b'#');
                out.extend_from_slice(a.as_str().as_bytes());
            }
            // The NAK header is fixed: `"NAK"0000R0L0A0` (REFERENCE.md §4.1).
            None if self.token == Token::Nak => out.extend_from_slice(b"A0"),
            None => {}
        }
    }
}

/// Reads hex digits up to the next non-hex byte and checks their count.
fn hex_field(r: &mut Reader<'_>, min: usize, max: usize) -> Option<HexField> {
    HexField::of_hex(r.take_while(|b| b.is_ascii_hexdigit()), min, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &[u8]) -> Result<Header, ParseError> {
        Header::parse(&mut Reader::new(text), &Tolerance::default())
    }

    #[test]
    fn full_header() {
        let h = parse(b"\"*SIA-DCS\"0003RABCDEFL123456#1234[").unwrap();
        assert!(h.encrypted);
        assert_eq!(h.token, Token::SiaDcs);
        assert_eq!(h.sequence.value(), 3);
        assert_eq!(h.receiver.unwrap().as_str(), "ABCDEF");
        assert_eq!(h.line.unwrap().as_str(), "123456");
        assert_eq!(h.account.unwrap().as_str(), "1234");
    }

    #[test]
    fn field_errors() {
        assert_eq!(
            parse(b"\"SIA-DCS\"00X5L0#1234["),
            Err(ParseError::BadSequence)
        );
        assert_eq!(
            parse(b"\"SIA-DCS\"000AL0#1234["),
            Err(ParseError::BadSequence)
        );
        assert_eq!(parse(b"\"SIA-DCS\"0008L0#12["), Err(ParseError::BadAccount));
        assert_eq!(
            parse(b"\"SIA-DCS\"0001#1234["),
            Err(ParseError::MissingLine)
        );
        assert_eq!(
            parse(b"\"SIA-DCS\"0001R1234567L0#1234["),
            Err(ParseError::BadReceiver)
        );
        assert_eq!(parse(b"\"\"0001L0#1234["), Err(ParseError::BadToken));
        assert_eq!(
            parse(b"\"SIA-DCS\"0001L0#1234"),
            Err(ParseError::MissingData)
        );
    }

    #[test]
    fn nak_header_round_trips() {
        let h = parse(b"\"NAK\"0000R0L0A0[").unwrap();
        assert_eq!(h.account, None);
        let mut out = Vec::new();
        h.write(&mut out);
        assert_eq!(out, b"\"NAK\"0000R0L0A0");
    }

    #[test]
    fn sequence_rolls_over_to_one() {
        assert_eq!(Sequence::new(9999).unwrap().next().as_str(), "0001");
        assert_eq!(Sequence::new(41).unwrap().next().as_str(), "0042");
        assert_eq!(Sequence::new(10_000), None);
    }
}
