//! Vagt's domain core: turns journaled frames into alarms that people handle, and makes sure
//! none is forgotten (DESIGN.md §2 promises 4–7, §5).
//!
//! Sans-I/O like the protocol crates: no async runtime, no clock, no sockets. A [`Shard`] is a
//! single-writer state machine over the alarms of its accounts; the caller feeds it events from
//! the journal, operator commands and clock ticks, each with `now`, and journals the [`Change`]s
//! it returns. Deadlines live on a hashed timing [`wheel`] (O(1) insert and cancel).
//!
//! Status: the lifecycle, claims, repeat calls, runaway flagging, escalation by shift and the
//! emergency policy set and supervision are here and tested in virtual time. Not yet: wiring into `vagt serve`
//! (shard threads fed from the journal), rebuilding state from journaled changes and snapshots,
//! per-account priority overrides, door-access grants, metrics.

#![cfg_attr(not(test), warn(clippy::indexing_slicing))]

mod model;
mod policy;
mod shard;
pub mod wheel;

pub use model::{Actor, Alarm, AlarmId, Change, ChangeKind, Classification, Deadline, Role, State};
pub use policy::{Policy, Shift};
pub use shard::{CommandError, SUPERVISION_LOST, Shard};
