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

impl Event {
    /// From a SIA event.
    pub fn from_sia(e: &SiaEvent) -> Self {
        let info = e.info();
        Self {
            scheme: Scheme::Sia,
            code: e.code.clone(),
            qualifier: None,
            zone: e.zone().map(str::to_owned),
            user: e.user().map(str::to_owned),
            area: e.area().map(str::to_owned),
            time: e.time().map(str::to_owned),
            text: e.text.clone(),
            name: info.map(|i| i.name),
            category: info.map(|i| i.category),
            priority: info.map(|i| i.priority),
            restore: info.is_some_and(|i| i.category.contains("restor")),
        }
    }

    /// From a Contact ID event.
    pub fn from_cid(e: &CidEvent) -> Self {
        let info = e.info();
        Self {
            scheme: Scheme::Cid,
            code: e.code.clone(),
            qualifier: Some(e.qualifier.digit()),
            zone: e.zone().map(str::to_owned),
            user: e.user().map(str::to_owned),
            area: Some(e.group.clone()),
            time: None,
            text: None,
            name: info.map(|i| i.name),
            category: info.map(|i| i.category),
            priority: info.map(|i| i.priority),
            restore: e.qualifier == Qualifier::Restore,
        }
    }
}
