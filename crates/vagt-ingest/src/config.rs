//! The ACK path's configuration sections: `[gateway]` (listeners and connection limits),
//! `[protocol]` (policy and tolerances) and `[dedup]`, each with its `validate()`.
//!
//! Unknown keys are rejected with their name (`deny_unknown_fields`); values are checked by
//! `validate()`, which the binary calls for every section so `vagt check-config` refuses what
//! `vagt serve` would.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use serde::Deserialize;
use vagt_dc09::{FrameDecoder, Policy, Tolerance, UnknownAccount, Window};

use crate::tcp::Limits;

/// `[gateway]` (every key optional; the defaults are `config/vagt.toml`'s).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Gateway {
    /// DC-09 address, served on TCP and UDP.
    pub listen: SocketAddr,
    /// Prometheus `/metrics` address (plain HTTP).
    pub metrics: SocketAddr,
    /// Data directory (the journal lives in `<data>/journal`).
    pub data: PathBuf,
    /// Accounts file; relative paths are relative to the config file. Optional.
    pub accounts: Option<PathBuf>,
    /// Most simultaneous TCP connections.
    pub max_connections: usize,
    /// Most simultaneous TCP connections from one IP address that have not yet sent a valid
    /// frame (talking devices behind one NAT do not count).
    pub max_connections_per_ip: usize,
    /// Seconds a new connection has to deliver its first complete frame.
    pub first_frame_timeout_secs: u64,
    /// Seconds a connection may go without a valid frame before it is closed.
    pub idle_timeout_secs: u64,
    /// Seconds an answer may wait for room in the connection's send buffer before it is closed.
    pub write_timeout_secs: u64,
    /// Largest accepted frame body (at most 4095).
    pub max_frame_len: usize,
    /// Most frames handled per read before the connection yields to others.
    pub max_frames_per_read: usize,
    /// Bytes of garbage (outside any valid frame) after which a TCP peer is disconnected.
    pub garbage_limit_bytes: usize,
    /// Seconds SIGTERM waits for in-flight frames before exiting anyway.
    pub shutdown_grace_secs: u64,
    /// Threads serving connections (the async runtime's workers); 0: half this machine's
    /// cores, at least one — the other half runs the journal writer and the core's threads.
    pub io_threads: usize,
}

impl Default for Gateway {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 7050)),
            metrics: SocketAddr::from(([127, 0, 0, 1], 9464)),
            data: PathBuf::from("./data"),
            accounts: None,
            max_connections: defaults::max_connections(),
            max_connections_per_ip: defaults::max_connections_per_ip(),
            first_frame_timeout_secs: defaults::first_frame_timeout_secs(),
            idle_timeout_secs: defaults::idle_timeout_secs(),
            write_timeout_secs: defaults::write_timeout_secs(),
            max_frame_len: defaults::max_frame_len(),
            max_frames_per_read: defaults::max_frames_per_read(),
            garbage_limit_bytes: defaults::garbage_limit_bytes(),
            shutdown_grace_secs: defaults::shutdown_grace_secs(),
            io_threads: 0,
        }
    }
}

/// `[protocol]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Protocol {
    /// Seconds an encrypted message's timestamp may lag our clock.
    pub window_max_age_secs: u32,
    /// Seconds it may lead our clock.
    pub window_max_ahead_secs: u32,
    /// Also NAK clear-text messages outside the window.
    pub window_for_clear_text: bool,
    /// `accept` (ACK, store, flag), `nak` or `duh`.
    pub unknown_account: UnknownAccountPolicy,
    /// Accept `L` without digits.
    pub tolerate_empty_line: bool,
    /// Accept a header without `L`.
    pub tolerate_missing_line: bool,
    /// Accept a header without `#acct` when the data starts with `#acct|`.
    pub tolerate_account_from_data: bool,
    /// Accept a length field written in decimal.
    pub tolerate_decimal_length: bool,
}

impl Default for Protocol {
    fn default() -> Self {
        let t = Tolerance::default();
        let w = Window::default();
        Self {
            window_max_age_secs: w.max_age_secs,
            window_max_ahead_secs: w.max_ahead_secs,
            window_for_clear_text: false,
            unknown_account: UnknownAccountPolicy::Accept,
            tolerate_empty_line: t.empty_line,
            tolerate_missing_line: t.missing_line,
            tolerate_account_from_data: t.account_from_data,
            tolerate_decimal_length: false,
        }
    }
}

impl Protocol {
    /// The protocol settings for `vagt_proto::process`.
    pub fn settings(&self) -> vagt_proto::Settings {
        vagt_proto::Settings {
            tolerance: Tolerance {
                empty_line: self.tolerate_empty_line,
                missing_line: self.tolerate_missing_line,
                account_from_data: self.tolerate_account_from_data,
            },
            policy: Policy {
                window: Window {
                    max_age_secs: self.window_max_age_secs,
                    max_ahead_secs: self.window_max_ahead_secs,
                },
                window_for_clear_text: self.window_for_clear_text,
                unknown_account: match self.unknown_account {
                    UnknownAccountPolicy::Accept => UnknownAccount::Accept,
                    UnknownAccountPolicy::Duh => UnknownAccount::Duh,
                    UnknownAccountPolicy::Nak => UnknownAccount::Nak,
                },
            },
        }
    }
}

/// Values of `protocol.unknown_account`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum UnknownAccountPolicy {
    /// Acknowledge, store and flag.
    Accept,
    /// Answer DUH.
    Duh,
    /// Answer NAK.
    Nak,
}

/// `[dedup]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dedup {
    /// Seconds a (receiver, line, account, sequence, content) stays a retransmission.
    pub window_secs: u64,
    /// Most keys held (the memory bound: about 100 bytes each); a full window rotates early.
    pub max_keys: usize,
}

impl Default for Dedup {
    fn default() -> Self {
        Self {
            window_secs: 900,
            max_keys: 1_000_000,
        }
    }
}

mod defaults {
    pub(super) fn max_connections() -> usize {
        10_000
    }
    pub(super) fn max_connections_per_ip() -> usize {
        1_000
    }
    pub(super) fn first_frame_timeout_secs() -> u64 {
        10
    }
    pub(super) fn idle_timeout_secs() -> u64 {
        300
    }
    pub(super) fn write_timeout_secs() -> u64 {
        10
    }
    pub(super) fn max_frame_len() -> usize {
        1_024
    }
    pub(super) fn max_frames_per_read() -> usize {
        64
    }
    pub(super) fn garbage_limit_bytes() -> usize {
        4_096
    }
    pub(super) fn shutdown_grace_secs() -> u64 {
        10
    }
}

impl Gateway {
    /// Checks every value; the error names the key.
    pub fn validate(&self) -> anyhow::Result<()> {
        let g = self;
        let checks: [(&str, bool, &str); 8] = [
            (
                "gateway.max_connections",
                g.max_connections >= 1,
                "must be at least 1",
            ),
            (
                "gateway.max_connections_per_ip",
                g.max_connections_per_ip >= 1,
                "must be at least 1",
            ),
            (
                "gateway.first_frame_timeout_secs",
                g.first_frame_timeout_secs >= 1,
                "must be at least 1",
            ),
            (
                "gateway.idle_timeout_secs",
                g.idle_timeout_secs >= 1,
                "must be at least 1",
            ),
            (
                "gateway.write_timeout_secs",
                g.write_timeout_secs >= 1,
                "must be at least 1",
            ),
            (
                "gateway.max_frame_len",
                (16..=vagt_dc09::MAX_BODY_LEN).contains(&g.max_frame_len),
                "must be 16..=4095",
            ),
            (
                "gateway.max_frames_per_read",
                g.max_frames_per_read >= 1,
                "must be at least 1",
            ),
            (
                "gateway.io_threads",
                g.io_threads <= 1_024,
                "must be 0 (half the cores) to 1024",
            ),
        ];
        for (key, ok, rule) in checks {
            if !ok {
                bail!("{key} {rule}");
            }
        }
        Ok(())
    }

    /// The number of runtime workers [`Gateway::io_threads`] asks for on this machine.
    ///
    /// Measured on the 2-core build machine (BENCHMARKS.md, issue #18): one worker beside the
    /// journal and core threads costs ≈ 10 % less CPU per acknowledged frame than one per core,
    /// as the workers stop waking and stealing from each other.
    pub fn io_threads(&self) -> usize {
        match self.io_threads {
            0 => std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
            n => n,
        }
    }

    /// The TCP connection limits.
    pub fn limits(&self) -> Limits {
        Limits {
            max_connections: self.max_connections,
            max_per_ip: self.max_connections_per_ip,
            first_frame: Duration::from_secs(self.first_frame_timeout_secs),
            idle: Duration::from_secs(self.idle_timeout_secs),
            write: Duration::from_secs(self.write_timeout_secs),
            max_frames_per_read: self.max_frames_per_read,
            garbage_limit: self.garbage_limit_bytes,
        }
    }

    /// The framer for TCP and UDP.
    pub fn decoder(&self, protocol: &Protocol) -> FrameDecoder {
        FrameDecoder::new(self.max_frame_len)
            .tolerate_decimal_length(protocol.tolerate_decimal_length)
    }
}

impl Dedup {
    /// Checks every value; the error names the key.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.window_secs < 1 {
            bail!("dedup.window_secs must be at least 1");
        }
        if self.max_keys < 1_000 {
            bail!("dedup.max_keys must be at least 1000");
        }
        Ok(())
    }

    /// The window.
    pub fn window(&self) -> Duration {
        Duration::from_secs(self.window_secs)
    }
}
