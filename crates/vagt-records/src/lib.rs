//! Every record Vagt writes to its journal, in one place, and what they are read with.
//!
//! The journal stores opaque payloads; this crate gives them meaning. The first byte is the
//! kind:
//!
//! | tag | record | written by | module |
//! |---|---|---|---|
//! | `F` | an accepted DC-09 frame (metadata JSON + the body as received) | the ACK path | [`frame`] |
//! | `C` | a person's command (actor, time, client, request number) | consoles, via the engine | [`input`] |
//! | `T` | a clock tick (seconds) | the ticker | [`input`] |
//! | `S` | "the accounts file applies from here" (seconds) | start-up | [`input`] |
//! | `R` | a request the console refused before the core (audit) | consoles, via the engine | [`input`] |
//! | `V` | a citizen's record was shown to a user, with an alarm (audit) | consoles, via the engine | [`input`] |
//!
//! Also here: the dedup key every frame is stored under ([`DedupKey`]), the accounts file the
//! records are read against ([`accounts`]), the citizen register ([`citizens`]), and time units
//! ([`time`]). Sans-I/O: no sockets, no async runtime (checked by `scripts/test`); the only side
//! effects are reading the clock and loading the accounts file and the register.

pub mod accounts;
pub mod citizens;
pub mod frame;
pub mod input;
mod key;
pub mod time;

pub use accounts::{AccountEntry, Accounts, CallType, described as toml_error};
pub use citizens::{Citizen, Citizens};
pub use frame::{FrameMeta, FrameRecord, FrameView, Transport, is_frame};
pub use input::{CommandRecord, Input, Route};
pub use key::DedupKey;
