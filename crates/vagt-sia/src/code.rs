//! The DC-03 event-code table and what each code's address field means.

use crate::codes::{ENVIRONMENTAL_CODES, EVENT_CODES};

/// Where a table entry comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Origin {
    /// The DC-03 standard (2017 table).
    Standard,
    /// A vendor extension outside DC-03 (seen in pysiaalarm's table).
    Vendor,
}

/// One row of the event-code table (`event_codes.csv`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CodeInfo {
    /// The two-letter code.
    pub code: &'static str,
    /// Short label.
    pub name: &'static str,
    /// Category (this project's heuristic, see EVENT_CODES.md).
    pub category: &'static str,
    /// Default priority hint: 1 life safety … 5 informational.
    pub priority: u8,
    /// Standard or vendor.
    pub origin: Origin,
}

/// Looks up a DC-03 event code (`BA`, `QA`, …) in the table.
pub fn lookup(code: &str) -> Option<&'static CodeInfo> {
    find(EVENT_CODES, code)
}

/// Looks up a DC-03 environmental-block code (`DA` temperature, …).
pub fn lookup_environmental(code: &str) -> Option<&'static CodeInfo> {
    find(ENVIRONMENTAL_CODES, code)
}

/// Every DC-03 event code in the table, sorted by code.
pub fn all() -> &'static [CodeInfo] {
    EVENT_CODES
}

fn find(table: &'static [CodeInfo], code: &str) -> Option<&'static CodeInfo> {
    table
        .binary_search_by(|c| c.code.cmp(code))
        .ok()
        .and_then(|i| table.get(i))
}

/// What the address after an event code numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddressKind {
    /// An area (partition).
    Area,
    /// A door.
    Door,
    /// A user.
    User,
    /// A zone (the default for zone-type codes such as BA, FA, MA, QA).
    Zone,
}

impl AddressKind {
    /// The address kind of `code`, after the DC-03 table's address column as the dc09-spt
    /// sender encodes it: user codes (open/close by user, …), door codes (access control) and
    /// area codes; every other code addresses a zone.
    pub fn of(code: &str) -> Self {
        const USER: &[&str] = &[
            "BC", "CE", "CF", "CJ", "CK", "CL", "CP", "CQ", "CR", "DA", "DB", "EE", "JD", "JH",
            "JK", "JP", "JS", "JT", "JV", "JX", "JY", "JZ", "OC", "OH", "OJ", "OK", "OL", "OP",
            "OQ", "OR", "OT", "RX",
        ];
        const DOOR: &[&str] = &[
            "DC", "DD", "DE", "DF", "DG", "DH", "DI", "DJ", "DK", "DL", "DM", "DN", "DO", "DP",
            "DQ", "DR", "DS", "DV", "DW", "DX", "DY", "DZ",
        ];
        const AREA: &[&str] = &[
            "BV", "CA", "CD", "CG", "CI", "CT", "CW", "FI", "FK", "JA", "JR", "NF", "NL", "NM",
            "OA", "OG", "OI",
        ];
        if USER.contains(&code) {
            Self::User
        } else if DOOR.contains(&code) {
            Self::Door
        } else if AREA.contains(&code) {
            Self::Area
        } else {
            Self::Zone
        }
    }

    /// Lower-case name: `zone`, `user`, `area`, `door`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Area => "area",
            Self::Door => "door",
            Self::User => "user",
            Self::Zone => "zone",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_complete() {
        assert!(EVENT_CODES.windows(2).all(|w| w[0].code < w[1].code));
        assert!(
            ENVIRONMENTAL_CODES
                .windows(2)
                .all(|w| w[0].code < w[1].code)
        );
        // 305 DC-03 codes + 20 vendor codes (EVENT_CODES.md).
        assert_eq!(EVENT_CODES.len(), 325);
        assert_eq!(ENVIRONMENTAL_CODES.len(), 4);
    }

    #[test]
    fn lookups() {
        assert_eq!(lookup("QA").unwrap().priority, 1);
        assert_eq!(lookup("BA").unwrap().name, "Burglary Alarm");
        assert_eq!(lookup("NP").unwrap().origin, Origin::Vendor);
        assert_eq!(lookup("ZX"), None);
        assert_eq!(
            lookup_environmental("DA").unwrap().category,
            "environmental report"
        );
    }

    #[test]
    fn address_kinds() {
        assert_eq!(AddressKind::of("BA"), AddressKind::Zone);
        assert_eq!(AddressKind::of("OP"), AddressKind::User);
        assert_eq!(AddressKind::of("CL"), AddressKind::User);
        assert_eq!(AddressKind::of("CI"), AddressKind::Area);
        assert_eq!(AddressKind::of("DD"), AddressKind::Door);
    }
}
