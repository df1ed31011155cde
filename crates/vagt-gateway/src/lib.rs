//! The `vagt` binary's library: command-line interface, gateway and commands.
//!
//! Protocol decisions are never made here: frames go through [`vagt_proto`], which returns the
//! parsed payload and the protocol's answer. The gateway adds what sits around it: sockets,
//! limits, dedup, the journal (ACK only after the commit) and metrics.

pub mod accounts;
pub mod cli;
pub mod config;
pub mod console;
pub mod decode;
pub mod dedup;
pub mod engine;
pub mod journal_cmd;
pub mod json;
pub mod metrics;
pub mod receiver;
pub mod record;
pub mod report;
pub mod serve;
pub mod tcp;
pub mod udp;
