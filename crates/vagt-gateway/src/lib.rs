//! The `vagt` binary's library: command-line interface and commands.
//!
//! Protocol decisions are never made here: frames go through [`vagt_proto::process`], which
//! returns the parsed payload and the protocol's answer.

pub mod cli;
pub mod decode;
pub mod json;
