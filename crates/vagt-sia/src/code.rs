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

/// User codes (open/close by user, …), door codes (access control) and area codes of the
/// DC-03 table's address column; every other code addresses a zone.
const USER_CODES: &[&[u8; 2]] = &[
    b"BC", b"CE", b"CF", b"CJ", b"CK", b"CL", b"CP", b"CQ", b"CR", b"DA", b"DB", b"EE", b"JD",
    b"JH", b"JK", b"JP", b"JS", b"JT", b"JV", b"JX", b"JY", b"JZ", b"OC", b"OH", b"OJ", b"OK",
    b"OL", b"OP", b"OQ", b"OR", b"OT", b"RX",
];
const DOOR_CODES: &[&[u8; 2]] = &[
    b"DC", b"DD", b"DE", b"DF", b"DG", b"DH", b"DI", b"DJ", b"DK", b"DL", b"DM", b"DN", b"DO",
    b"DP", b"DQ", b"DR", b"DS", b"DV", b"DW", b"DX", b"DY", b"DZ",
];
const AREA_CODES: &[&[u8; 2]] = &[
    b"BV", b"CA", b"CD", b"CG", b"CI", b"CT", b"CW", b"FI", b"FK", b"JA", b"JR", b"NF", b"NL",
    b"NM", b"OA", b"OG", b"OI",
];

/// Every two-letter code's address kind, built at compile time from the lists above: a look-up
/// per event instead of a search through them. Evaluated by the compiler: an index out of range
/// fails the build, it cannot panic at run time.
#[allow(clippy::indexing_slicing)]
const ADDRESS_KINDS: [AddressKind; 26 * 26] = {
    let mut table = [AddressKind::Zone; 26 * 26];
    let lists: [(&[&[u8; 2]], AddressKind); 3] = [
        (USER_CODES, AddressKind::User),
        (DOOR_CODES, AddressKind::Door),
        (AREA_CODES, AddressKind::Area),
    ];
    let mut l = 0;
    while l < lists.len() {
        let (codes, kind) = lists[l];
        let mut i = 0;
        while i < codes.len() {
            table[letter_pair(codes[i][0], codes[i][1])] = kind;
            i += 1;
        }
        l += 1;
    }
    table
};

/// The index of two upper-case letters in [`ADDRESS_KINDS`].
const fn letter_pair(a: u8, b: u8) -> usize {
    (a - b'A') as usize * 26 + (b - b'A') as usize
}

impl AddressKind {
    /// The address kind of `code`, after the DC-03 table's address column as the dc09-spt
    /// sender encodes it: user codes (open/close by user, …), door codes (access control) and
    /// area codes; every other code addresses a zone.
    pub fn of(code: &str) -> Self {
        match code.as_bytes() {
            &[a @ b'A'..=b'Z', b @ b'A'..=b'Z'] => ADDRESS_KINDS
                .get(letter_pair(a, b))
                .copied()
                .unwrap_or(Self::Zone),
            _ => Self::Zone,
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
    fn the_address_table_is_the_lists() {
        let listed = |code: &str| {
            let is = |list: &[&[u8; 2]]| list.iter().any(|c| &c[..] == code.as_bytes());
            match () {
                () if is(USER_CODES) => AddressKind::User,
                () if is(DOOR_CODES) => AddressKind::Door,
                () if is(AREA_CODES) => AddressKind::Area,
                () => AddressKind::Zone,
            }
        };
        let mut codes: Vec<String> = (b'A'..=b'Z')
            .flat_map(|a| (b'A'..=b'Z').map(move |b| String::from_utf8(vec![a, b]).unwrap()))
            .collect();
        codes.extend(["", "B", "bc", "BCX", "Bc", "ÆØ", "[]", "@Z"].map(String::from));
        for code in &codes {
            assert_eq!(AddressKind::of(code), listed(code), "{code}");
        }
        let counts = [USER_CODES.len(), DOOR_CODES.len(), AREA_CODES.len()];
        assert_eq!(counts, [32, 22, 17]);
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
