//! A Contact ID event: qualifier, event code, group and zone/user, and the ADM-CID data form.

use std::fmt;

use compact_str::CompactString;

use crate::code::{CodeInfo, is_user_code, lookup};

/// The event qualifier digit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Qualifier {
    /// `1`: new event, or opening (disarm).
    New,
    /// `3`: restore, or closing (arm).
    Restore,
    /// `6`: previously reported condition still present (status).
    Status,
}

impl Qualifier {
    /// Parses the qualifier digit.
    pub fn from_digit(d: u8) -> Option<Self> {
        match d {
            b'1' => Some(Self::New),
            b'3' => Some(Self::Restore),
            b'6' => Some(Self::Status),
            _ => None,
        }
    }

    /// The qualifier digit.
    pub fn digit(self) -> char {
        match self {
            Self::New => '1',
            Self::Restore => '3',
            Self::Status => '6',
        }
    }
}

/// One Contact ID event.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CidEvent {
    /// Event qualifier.
    pub qualifier: Qualifier,
    /// Three-digit event code (`101`, `130`, …) as received.
    pub code: CompactString,
    /// Two-digit group / partition (`00` = none) as received.
    pub group: CompactString,
    /// Three-digit zone or user number (`000` = none) as received.
    pub zone_or_user: CompactString,
}

impl CidEvent {
    /// The event code as a number, if it is decimal.
    pub fn code_number(&self) -> Option<u16> {
        self.code.parse().ok()
    }

    /// The code-table entry, if the code is known.
    pub fn info(&self) -> Option<&'static CodeInfo> {
        lookup(&self.code)
    }

    /// Whether CCC is a user number for this code.
    pub fn is_user(&self) -> bool {
        self.code_number().is_some_and(is_user_code)
    }

    /// The zone, for zone codes.
    pub fn zone(&self) -> Option<&str> {
        (!self.is_user()).then_some(self.zone_or_user.as_str())
    }

    /// The user, for user codes.
    pub fn user(&self) -> Option<&str> {
        self.is_user().then_some(self.zone_or_user.as_str())
    }
}

impl fmt::Display for CidEvent {
    /// The ADM-CID form `QXYZ GG CCC`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{} {} {}",
            self.qualifier.digit(),
            self.code,
            self.group,
            self.zone_or_user
        )
    }
}

/// Why Contact ID data could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CidError {
    /// The `#acct` prefix is malformed.
    #[error("account prefix is malformed")]
    BadAccount,
    /// The checksum of a DTMF message does not make the digit sum a multiple of 15.
    #[error("checksum does not match")]
    BadChecksum,
    /// A character that has no Contact ID meaning (or hex `A`, which cannot be sent).
    #[error("character {0:?} is not a Contact ID digit")]
    BadDigit(char),
    /// Not `QXYZ GG CCC` (or the 16-digit DTMF layout).
    #[error("not a Contact ID event (expected QXYZ GG CCC)")]
    BadLayout,
    /// Message type other than 18 or 98.
    #[error("message type must be 18 or 98")]
    BadMessageType,
    /// Qualifier other than 1, 3 or 6.
    #[error("qualifier must be 1, 3 or 6")]
    BadQualifier,
}

/// The content of an ADM-CID data block: optional account, then one event.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AdmCid {
    /// The `#acct|` prefix, if present.
    pub account: Option<CompactString>,
    /// The event.
    pub event: CidEvent,
}

/// Parses ADM-CID data: `[#ACCT|]QXYZ GG CCC` (REFERENCE.md §6.2). Hex digits B–F (and A) are
/// accepted in the fields; the spaces may be missing.
pub fn parse_adm_cid(data: &[u8]) -> Result<AdmCid, CidError> {
    let (account, body) = match data.strip_prefix(b"#") {
        Some(rest) => {
            let bar = rest
                .iter()
                .position(|&b| b == b'|')
                .ok_or(CidError::BadAccount)?;
            let (acct, body) = rest.split_at(bar);
            let ok = (3..=16).contains(&acct.len()) && acct.iter().all(u8::is_ascii_hexdigit);
            if !ok {
                return Err(CidError::BadAccount);
            }
            (
                Some(CompactString::from_utf8_lossy(acct)),
                body.get(1..).unwrap_or_default(),
            )
        }
        None => (None, data),
    };
    let digits: [u8; 9] = match *body {
        [q, x, y, z, b' ', g1, g2, b' ', c1, c2, c3] | [q, x, y, z, g1, g2, c1, c2, c3] => {
            [q, x, y, z, g1, g2, c1, c2, c3]
        }
        _ => return Err(CidError::BadLayout),
    };
    if let Some(&bad) = digits.iter().find(|b| !b.is_ascii_hexdigit()) {
        return Err(CidError::BadDigit(char::from(bad)));
    }
    event_from_digits(&digits).map(|event| AdmCid { account, event })
}

/// Builds an event from the 9 hex digits `Q XYZ GG CCC`.
pub(crate) fn event_from_digits(d: &[u8]) -> Result<CidEvent, CidError> {
    let [q, x, y, z, g1, g2, c1, c2, c3] = *d else {
        return Err(CidError::BadLayout);
    };
    let qualifier = Qualifier::from_digit(q).ok_or(CidError::BadQualifier)?;
    // At most three hex digits (checked by the callers), upper-cased, stored inline.
    let s = |bytes: &[u8]| {
        let mut up = [0u8; 3];
        for (u, b) in up.iter_mut().zip(bytes) {
            *u = b.to_ascii_uppercase();
        }
        CompactString::from_utf8_lossy(up.get(..bytes.len()).unwrap_or_default())
    };
    Ok(CidEvent {
        qualifier,
        code: s(&[x, y, z]),
        group: s(&[g1, g2]),
        zone_or_user: s(&[c1, c2, c3]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_and_without_account() {
        let a = parse_adm_cid(b"#1234|1130 01 015").unwrap();
        assert_eq!(a.account.as_deref(), Some("1234"));
        assert_eq!(a.event.qualifier, Qualifier::New);
        assert_eq!(a.event.code, "130");
        assert_eq!(a.event.group, "01");
        assert_eq!(a.event.zone(), Some("015"));
        assert_eq!(a.event.to_string(), "1130 01 015");
        let b = parse_adm_cid(b"1401 01 003").unwrap();
        assert_eq!(b.account, None);
        assert_eq!(b.event.user(), Some("003"));
        assert_eq!(b.event.zone(), None);
    }

    #[test]
    fn variants() {
        assert_eq!(
            parse_adm_cid(b"#12345A|6130 01 015")
                .unwrap()
                .event
                .qualifier,
            Qualifier::Status
        );
        assert_eq!(
            parse_adm_cid(b"3401 01 05B").unwrap().event.zone_or_user,
            "05B"
        );
        assert_eq!(parse_adm_cid(b"113001015").unwrap().event.code, "130");
    }

    #[test]
    fn errors() {
        assert_eq!(parse_adm_cid(b"2130 01 015"), Err(CidError::BadQualifier));
        assert_eq!(parse_adm_cid(b"1130 01"), Err(CidError::BadLayout));
        assert_eq!(parse_adm_cid(b"1130 01 0!5"), Err(CidError::BadDigit('!')));
        assert_eq!(parse_adm_cid(b"#12|1130 01 015"), Err(CidError::BadAccount));
        assert_eq!(parse_adm_cid(b""), Err(CidError::BadLayout));
    }
}
