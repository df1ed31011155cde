//! The ACK path (DESIGN.md promises 1–4 and 8): from a device's bytes to its answer.
//!
//! ```text
//!  tcp.rs / udp.rs ──► ack.rs AckPath::submit ──► vagt_proto::process_frame (decode, window, answer)
//!   (limits,            │ refused → NAK / DUH / silence now
//!    framing)           ▼ accepted
//!                     dedup.rs claim(key) ── retransmission ─► wait for the original's commit
//!                       ▼ new
//!                     Journal::try_append (bounded; full → TCP waits for room, UDP sheds)
//!                       ▼ Pending::resolve: the journal's callback after the fsync
//!                     the ACK, written in frame order
//! ```
//!
//! Protocol decisions are never made here: [`vagt_proto`] returns the payload and the answer.
//! Nothing downstream of the journal (the engine, consoles, reports) is a dependency of this
//! crate — `scripts/test` checks it with `cargo tree`.

pub mod ack;
pub mod config;
pub mod dedup;
mod link;
pub mod metrics;
mod silent;
pub mod tcp;
pub mod udp;

pub use ack::{AckPath, Answer, Pending};
pub use dedup::Dedup;
