//! One shape for SIA and Contact ID events, for display, storage and the core's mapping.

use vagt_cid::{CidEvent, Qualifier};
use vagt_sia::SiaEvent;

/// Which code table an event's code belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Contact ID (DC-05) three-digit codes.
    Cid,
    /// SIA DC-03 two-letter codes.
    Sia,
}

/// An event from either payload format.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Event {
    /// The code table the code belongs to.
    pub scheme: Scheme,
    /// The event code: `BA`, `QA` (SIA) or `130`, `101` (Contact ID).
    pub code: String,
    /// Contact ID qualifier digit (`1` new, `3` restore, `6` status).
    pub qualifier: Option<char>,
    /// Zone, for zone-addressed codes.
    pub zone: Option<String>,
    /// User, for user-addressed codes (or the SIA `id` modifier).
    pub user: Option<String>,
    /// Area / partition / group (SIA `ri` or area address; Contact ID `GG`).
    pub area: Option<String>,
    /// SIA `ti` modifier: time of the event.
    pub time: Option<String>,
    /// Free text attached to the event.
    pub text: Option<String>,
    /// Code-table name, if known.
    pub name: Option<&'static str>,
    /// Code-table category, if known.
    pub category: Option<&'static str>,
    /// Default priority hint (1 life safety … 5 informational), if known.
    pub priority: Option<u8>,
    /// A restore: Contact ID qualifier 3, or a SIA code whose category is a restore/restoral.
    pub restore: bool,
}

/// What a decoder read of one event, borrowed: the fields an [`Event`] has before the code
/// table is consulted. A journal record keeps these, so the core rebuilds the event without
/// decoding (or decrypting) the frame again; [`Event::from_parts`] adds the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventParts<'a> {
    /// The code table the code belongs to.
    pub scheme: Scheme,
    /// The event code.
    pub code: &'a str,
    /// Contact ID qualifier digit.
    pub qualifier: Option<char>,
    /// Zone.
    pub zone: Option<&'a str>,
    /// User.
    pub user: Option<&'a str>,
    /// Area / partition / group.
    pub area: Option<&'a str>,
    /// SIA `ti` modifier.
    pub time: Option<&'a str>,
    /// Free text.
    pub text: Option<&'a str>,
}

impl<'a> EventParts<'a> {
    /// Of a SIA event.
    pub fn of_sia(e: &'a SiaEvent) -> Self {
        Self {
            scheme: Scheme::Sia,
            code: &e.code,
            qualifier: None,
            zone: e.zone(),
            user: e.user(),
            area: e.area(),
            time: e.time(),
            text: e.text.as_deref(),
        }
    }

    /// Of a Contact ID event.
    pub fn of_cid(e: &'a CidEvent) -> Self {
        Self {
            scheme: Scheme::Cid,
            code: &e.code,
            qualifier: Some(e.qualifier.digit()),
            zone: e.zone(),
            user: e.user(),
            area: Some(&e.group),
            time: None,
            text: None,
        }
    }
}

impl Event {
    /// From a SIA event.
    pub fn from_sia(e: &SiaEvent) -> Self {
        Self::from_parts(&EventParts::of_sia(e))
    }

    /// From a Contact ID event.
    pub fn from_cid(e: &CidEvent) -> Self {
        Self::from_parts(&EventParts::of_cid(e))
    }

    /// From what a decoder read, with name, category, priority and the restore flag from the
    /// code table (a Contact ID restore is qualifier 3; a SIA one is a restore/restoral code).
    pub fn from_parts(p: &EventParts<'_>) -> Self {
        let (name, category, priority, restore) = match p.scheme {
            Scheme::Sia => {
                let info = vagt_sia::lookup(p.code);
                (
                    info.map(|i| i.name),
                    info.map(|i| i.category),
                    info.map(|i| i.priority),
                    info.is_some_and(|i| i.category.contains("restor")),
                )
            }
            Scheme::Cid => {
                let info = vagt_cid::lookup(p.code);
                (
                    info.map(|i| i.name),
                    info.map(|i| i.category),
                    info.map(|i| i.priority),
                    p.qualifier == Some(Qualifier::Restore.digit()),
                )
            }
        };
        let owned = |f: Option<&str>| f.map(str::to_owned);
        Self {
            scheme: p.scheme,
            code: p.code.to_owned(),
            qualifier: p.qualifier,
            zone: owned(p.zone),
            user: owned(p.user),
            area: owned(p.area),
            time: owned(p.time),
            text: owned(p.text),
            name,
            category,
            priority,
            restore,
        }
    }
}
