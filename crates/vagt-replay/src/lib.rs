//! `vagt-replay`: simulated DC-09 device fleets against any receiver, with ACK-latency reports
//! and a cross-check of Vagt's journal.
//!
//! * [`scenario`] — the scenario file: fleet, transport, bursts, background traffic.
//! * [`message`] — the device side of DC-09 (frames out, answers in), no I/O.
//! * [`device`] — one simulated device on a real socket.
//! * [`report`] — percentiles, per-second series, summary / JSON / HTML.
//! * [`verify`] — every ACKed message in the journal exactly once.
//! * [`recorded`] — recorded traffic (`vagt journal export`, raw frames) sent again.
//! * [`bare`] — the floor: a receiver that only answers ACK.
//! * [`closed`] — closed-loop load (send, wait for the ACK, repeat) with the receiver's CPU
//!   time per ACK from `/proc`.
//! * [`hostile`] — rate-limited hostile peers (never reading ACKs, NUL streams, idle
//!   connections, reconnect storms, UDP garbage) for the hardening bench.

pub mod bare;
pub mod closed;
pub mod device;
pub mod hostile;
pub mod message;
pub mod recorded;
pub mod report;
pub mod run;
pub mod scenario;
pub mod verify;
