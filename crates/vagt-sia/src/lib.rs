//! Sans-I/O parser for SIA DC-03 data as carried in DC-09 `SIA-DCS` frames.
//!
//! The data field holds blocks separated by `|` (`#acct`, `N` new events, `O` old events, `A`
//! text, …). An event block is a run of packets: lower-case modifiers (`ri` area, `id` user,
//! `ti` time, …) that apply to the following events, and upper-case two-letter event codes with
//! an address, in any order, with or without `/` separators. Unlike a fixed-order regex, this
//! reads every event of a multi-event block.
//!
//! The crate knows nothing of Vagt's domain; the code table ([`lookup`]) is generated from the
//! project's `event_codes.csv` and carries a category and a default priority hint for mapping.
//!
//! ```
//! let data = vagt_sia::parse(b"#1234|Nri1/BA5/BA6").unwrap();
//! assert_eq!(data.events.len(), 2);
//! assert_eq!(data.events[1].zone(), Some("6"));
//! assert_eq!(data.events[1].area(), Some("1"));
//! assert_eq!(data.events[1].info().unwrap().name, "Burglary Alarm");
//! ```

#![cfg_attr(not(test), warn(clippy::indexing_slicing))]

mod code;
#[rustfmt::skip]
mod codes;
mod event;
mod parse;

pub use code::{AddressKind, CodeInfo, Origin, all, lookup, lookup_environmental};
pub use event::{BlockKind, Modifier, OtherBlock, SiaData, SiaEvent};
pub use parse::{SiaError, parse};
