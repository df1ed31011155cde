//! Command-line interface (clap).

use clap::{Args, Parser, Subcommand};

/// Vagt: alarm-receiving-centre engine for SIA DC-09 (SIA-DCS, Contact ID).
#[derive(Debug, Parser)]
#[command(name = "vagt", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decode a raw byte stream of DC-09 frames from stdin: one JSON object per frame on stdout,
    /// with the fields, events and the exact response Vagt would send.
    Decode(DecodeArgs),
}

/// Arguments of `vagt decode`.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// AES key for encrypted frames: `hex:<32/48/64 hex digits>`, `text:<16/24/32 chars>`, or
    /// bare (48/64 hex digits = hex; 16/24/32 characters = text; 32 hex digits need a prefix).
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// With --key: treat every account as keyed, so clear-text frames are refused (NAK), as the
    /// gateway does for an account configured with a key.
    #[arg(long, requires = "key")]
    pub require_encryption: bool,
    /// The receiver clock for the timestamp window and responses (RFC 3339, e.g.
    /// 2024-05-01T12:00:00Z). Default: the system clock.
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,
    /// Largest accepted frame body in bytes (at most 4095).
    #[arg(long, default_value_t = 4095, value_parser = clap::value_parser!(u16).range(16..=4095))]
    pub max_len: u16,
    /// Accept a length field written in decimal (a known panel quirk).
    #[arg(long)]
    pub tolerate_decimal_length: bool,
    /// Apply the timestamp window to clear-text frames too.
    #[arg(long)]
    pub window_for_clear_text: bool,
    /// Seconds a timestamp may lag the receiver clock.
    #[arg(long, default_value_t = 40)]
    pub max_age: u32,
    /// Seconds a timestamp may lead the receiver clock.
    #[arg(long, default_value_t = 20)]
    pub max_ahead: u32,
}
