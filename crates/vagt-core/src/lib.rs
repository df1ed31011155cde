//! Vagt's domain core: turns journaled frames into alarms that people handle, and makes sure
//! none is forgotten (DESIGN.md §2 promises 4–7, §5).
//!
//! Sans-I/O like the protocol crates: no async runtime, no clock, no sockets. A [`Shard`] is a
//! single-writer state machine over the alarms of its accounts; the caller feeds it events from
//! the journal, operator [`Command`]s and clock ticks, each with `now`, and publishes the
//! [`Change`]s it returns. Deadlines live on a hashed timing [`wheel`] (O(1) insert and cancel).
//!
//! A shard is deterministic: the same inputs in the same order give the same changes and the
//! same [`ShardSnapshot`]. `vagt serve` relies on that to rebuild it from the journal.

#![cfg_attr(not(test), warn(clippy::indexing_slicing))]

mod accounts;
mod command;
pub mod correlation;
mod model;
mod policy;
mod shard;
mod snapshot;
pub mod wheel;

pub use command::{Command, CommandError};
pub use model::{
    Actor, Alarm, AlarmId, Change, ChangeKind, Classification, Deadline, DoorGrant, Role, State,
};
pub use policy::{Policy, Shift, Zone};
pub use shard::{AccountSetup, SUPERVISION_LOST, Shard};
pub use snapshot::ShardSnapshot;
