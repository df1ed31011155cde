//! The 16-digit DTMF form `ACCT MT Q XYZ GG CCC S` with its mod-15 checksum (REFERENCE.md §6.1).
//!
//! Strings here are DTMF keys: `0`–`9`, `*`, `#`, `A`–`D`. Hex digits B–F travel on the keys
//! `*`, `#`, `A`, `B`, `C`; `0` is valued 10. Decoded fields are shown as hex digits (`B2C4`).

use crate::event::{CidError, CidEvent, event_from_digits};

/// A complete Contact ID message as sent over a phone line.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DtmfMessage {
    /// Four-digit account, as hex digits (`1234`, `B2C4`).
    pub account: String,
    /// Message type: `18` (preferred) or `98`.
    pub message_type: String,
    /// The event.
    pub event: CidEvent,
}

/// The checksum value of one hex digit: `0` counts as 10, B–F as 11–15; hex `A` has none.
fn value(hex: u8) -> Result<u8, CidError> {
    match hex {
        b'0' => Ok(10),
        b'1'..=b'9' => Ok(hex - b'0'),
        b'B'..=b'F' => Ok(hex - b'A' + 10),
        _ => Err(CidError::BadDigit(char::from(hex))),
    }
}

/// DTMF key → hex digit.
fn key_to_hex(key: u8) -> Result<u8, CidError> {
    match key {
        b'0'..=b'9' => Ok(key),
        b'*' => Ok(b'B'),
        b'#' => Ok(b'C'),
        b'A' => Ok(b'D'),
        b'B' => Ok(b'E'),
        b'C' => Ok(b'F'),
        _ => Err(CidError::BadDigit(char::from(key))),
    }
}

/// Hex digit → DTMF key.
fn hex_to_key(hex: u8) -> Result<u8, CidError> {
    match hex.to_ascii_uppercase() {
        d @ b'0'..=b'9' => Ok(d),
        b'B' => Ok(b'*'),
        b'C' => Ok(b'#'),
        b'D' => Ok(b'A'),
        b'E' => Ok(b'B'),
        b'F' => Ok(b'C'),
        other => Err(CidError::BadDigit(char::from(other))),
    }
}

impl DtmfMessage {
    /// Parses and checks a 16-key DTMF string.
    ///
    /// A checksum key `D` is accepted as the value 10 (libspandsp 0.0.6 sends it instead of the
    /// standard `0`).
    pub fn parse(keys: &str) -> Result<Self, CidError> {
        let keys = keys.as_bytes();
        let [body @ .., check] = keys else {
            return Err(CidError::BadLayout);
        };
        if keys.len() != 16 {
            return Err(CidError::BadLayout);
        }
        let hex = body
            .iter()
            .map(|&k| key_to_hex(k))
            .collect::<Result<Vec<u8>, _>>()?;
        let check_value = match *check {
            b'D' => 10,
            k => value(key_to_hex(k)?)?,
        };
        let sum = hex.iter().try_fold(u32::from(check_value), |acc, &h| {
            value(h).map(|v| acc + u32::from(v))
        })?;
        if sum % 15 != 0 {
            return Err(CidError::BadChecksum);
        }
        let (account, rest) = hex.split_at(4);
        let (mt, event) = rest.split_at(2);
        if mt != b"18" && mt != b"98" {
            return Err(CidError::BadMessageType);
        }
        Ok(Self {
            account: String::from_utf8_lossy(account).into_owned(),
            message_type: String::from_utf8_lossy(mt).into_owned(),
            event: event_from_digits(event)?,
        })
    }

    /// Encodes the message as 16 DTMF keys with the standard checksum key.
    pub fn encode(&self) -> Result<String, CidError> {
        let hex = format!(
            "{}{}{}{}{}{}",
            self.account,
            self.message_type,
            self.event.qualifier.digit(),
            self.event.code,
            self.event.group,
            self.event.zone_or_user
        );
        if hex.len() != 15 {
            return Err(CidError::BadLayout);
        }
        let mut keys = Vec::with_capacity(16);
        let mut sum = 0u32;
        for h in hex.bytes() {
            sum += u32::from(value(h.to_ascii_uppercase())?);
            keys.push(hex_to_key(h)?);
        }
        // The checksum value 1–15 as a hex digit: 10 is `0`, 11–15 are B–F (15 is sent on `C`).
        let check = match u8::try_from(15 - sum % 15).unwrap_or(0) {
            10 => b'0',
            v @ 1..=9 => b'0' + v,
            v => hex_to_key(b'A' + v - 10)?,
        };
        keys.push(check);
        Ok(String::from_utf8_lossy(&keys).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Qualifier;

    #[test]
    fn worked_example() {
        let m = DtmfMessage::parse("1234181131010158").unwrap();
        assert_eq!(m.account, "1234");
        assert_eq!(m.event.qualifier, Qualifier::New);
        assert_eq!(m.event.code, "131");
        assert_eq!(m.event.zone_or_user, "015");
        assert_eq!(m.encode().unwrap(), "1234181131010158");
    }

    #[test]
    fn checksum_f_and_ten() {
        assert_eq!(
            DtmfMessage::parse("123418340103005C")
                .unwrap()
                .encode()
                .unwrap(),
            "123418340103005C"
        );
        // libspandsp's `D` for the value 10 is accepted; we send the standard `0`.
        let m = DtmfMessage::parse("123418113001019D").unwrap();
        assert_eq!(m.encode().unwrap(), "1234181130010190");
        let hex = DtmfMessage::parse("*2#418113001015D").unwrap();
        assert_eq!(hex.account, "B2C4");
        assert_eq!(hex.encode().unwrap(), "*2#4181130010150");
    }

    #[test]
    fn rejects() {
        assert_eq!(
            DtmfMessage::parse("1234181131010151"),
            Err(CidError::BadChecksum)
        );
        assert_eq!(
            DtmfMessage::parse("123418113101015"),
            Err(CidError::BadLayout)
        );
        assert_eq!(
            DtmfMessage::parse("1234171131010158").unwrap_err(),
            CidError::BadChecksum
        );
        assert_eq!(
            DtmfMessage::parse("12341811310101X8"),
            Err(CidError::BadDigit('X'))
        );
    }
}
