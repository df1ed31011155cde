//! The typed result of parsing SIA-DCS data.

use compact_str::CompactString;
use smallvec::SmallVec;

use crate::code::{AddressKind, CodeInfo, lookup};

/// Whether an event block reports new or old (already reported, buffered) events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BlockKind {
    /// `N`: new event(s).
    New,
    /// `O`: old event(s).
    Old,
}

/// A modifier packet (`ri1`, `id3`, `ti10:15`, …) as received.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Modifier {
    /// The two lower-case letters (`ri`, `id`, `ti`, `da`, `pi`, …).
    pub name: [u8; 2],
    /// The value as received.
    pub value: CompactString,
    /// Optional `^text^` after the value (e.g. an area or user name).
    pub text: Option<CompactString>,
}

impl Modifier {
    /// The modifier name as text.
    pub fn name(&self) -> &str {
        std::str::from_utf8(&self.name).unwrap_or("??")
    }
}

/// One event packet with the modifiers that applied to it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SiaEvent {
    /// New or old.
    pub block: BlockKind,
    /// The two-letter event code (`BA`, `QA`, …), upper case.
    pub code: CompactString,
    /// The address after the code (zone, user, area or door number), as received.
    pub address: Option<CompactString>,
    /// Modifiers in force for this event, in the order received (up to two without an
    /// allocation).
    pub modifiers: SmallVec<[Modifier; 2]>,
    /// `^text^` after the address, or the text of a following `A` block.
    pub text: Option<CompactString>,
    /// `*value UNIT` after the address, as received (without `*`).
    pub unit: Option<CompactString>,
}

impl SiaEvent {
    /// The code-table entry, if the code is known.
    pub fn info(&self) -> Option<&'static CodeInfo> {
        lookup(&self.code)
    }

    /// What the address numbers for this code.
    pub fn address_kind(&self) -> AddressKind {
        AddressKind::of(&self.code)
    }

    /// The value of the last modifier called `name` (`b"ri"`, …).
    pub fn modifier(&self, name: &[u8; 2]) -> Option<&str> {
        self.modifiers
            .iter()
            .rev()
            .find(|m| &m.name == name)
            .map(|m| m.value.as_str())
    }

    /// The zone, for zone-addressed codes.
    pub fn zone(&self) -> Option<&str> {
        self.address_as(AddressKind::Zone)
    }

    /// The user: the address of user-addressed codes, else the `id` modifier.
    pub fn user(&self) -> Option<&str> {
        self.address_as(AddressKind::User)
            .or_else(|| self.modifier(b"id"))
    }

    /// The area: the address of area-addressed codes, else the `ri` modifier.
    pub fn area(&self) -> Option<&str> {
        self.address_as(AddressKind::Area)
            .or_else(|| self.modifier(b"ri"))
    }

    /// The door, for door-addressed codes.
    pub fn door(&self) -> Option<&str> {
        self.address_as(AddressKind::Door)
    }

    /// The `ti` modifier (time of the event, `hh:mm` or `hh:mm:ss`).
    pub fn time(&self) -> Option<&str> {
        self.modifier(b"ti")
    }

    fn address_as(&self, kind: AddressKind) -> Option<&str> {
        (self.address_kind() == kind)
            .then_some(self.address.as_deref())
            .flatten()
    }
}

/// A block other than an event or text block (`E`, `C`, `P`, …), kept raw.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OtherBlock {
    /// The function code (first character).
    pub function: char,
    /// The rest of the block as received.
    pub content: CompactString,
}

/// Everything in one SIA-DCS data field.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SiaData {
    /// The `#acct` block, if present (may differ from the DC-09 header account).
    pub account: Option<CompactString>,
    /// Events from `N` and `O` blocks, in order.
    pub events: Vec<SiaEvent>,
    /// Texts from `A` blocks, in order.
    pub texts: Vec<CompactString>,
    /// Other blocks, kept raw.
    pub other: Vec<OtherBlock>,
}
