//! The gateway's configuration file (TOML), with every key checked.
//!
//! Unknown keys are rejected with their name (`deny_unknown_fields`), and values are validated
//! after parsing, so a typo never silently falls back to a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;
use vagt_dc09::{Policy, Tolerance, UnknownAccount, Window};

/// The embedded default configuration (`config/vagt.toml`), used when no `--config` is given.
pub const DEFAULT_CONFIG: &str = include_str!("../../../config/vagt.toml");

/// The whole configuration file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listeners, limits and files.
    pub gateway: Gateway,
    /// Protocol policy and tolerances.
    #[serde(default)]
    pub protocol: Protocol,
    /// Journal settings.
    #[serde(default)]
    pub journal: Journal,
    /// Retransmission suppression.
    #[serde(default)]
    pub dedup: Dedup,
    /// The alarm core: shards, snapshots, escalation policies.
    #[serde(default)]
    pub core: CoreConfig,
    /// The operator console (off when absent).
    #[serde(default)]
    pub console: Option<crate::console::ConsoleConfig>,
}

/// `[core]`, with `[core.normal]` and `[core.emergency]` escalation policies. The emergency
/// set starts as a copy of the normal one: `[core.emergency]` lists only what differs.
#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "RawCore")]
pub struct CoreConfig {
    /// Shard threads (accounts are spread over them by hash).
    pub shards: usize,
    /// Seconds between snapshots (a restart replays the journal after the newest).
    pub snapshot_every_secs: u64,
    /// Seconds between clock ticks journaled for the core's timers.
    pub tick_secs: u64,
    /// The policy set for normal staffing.
    pub normal: vagt_core::Policy,
    /// The policy set for emergency staffing (switched at runtime, journaled with who did it).
    pub emergency: vagt_core::Policy,
    /// Where door grants and revocations are sent (`[core.door_webhook]`), if anywhere.
    pub door_webhook: Option<crate::engine::door::DoorWebhook>,
}

/// `[core]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawCore {
    shards: usize,
    snapshot_every_secs: u64,
    tick_secs: u64,
    normal: vagt_core::Policy,
    emergency: toml::Table,
    door_webhook: Option<crate::engine::door::DoorWebhook>,
}

impl Default for RawCore {
    fn default() -> Self {
        let d = CoreConfig::default();
        Self {
            shards: d.shards,
            snapshot_every_secs: d.snapshot_every_secs,
            tick_secs: d.tick_secs,
            normal: d.normal,
            emergency: toml::Table::new(),
            door_webhook: None,
        }
    }
}

impl TryFrom<RawCore> for CoreConfig {
    type Error = String;

    fn try_from(raw: RawCore) -> Result<Self, String> {
        let mut merged = toml::Table::try_from(&raw.normal).map_err(|e| e.to_string())?;
        merged.extend(raw.emergency);
        let emergency = vagt_core::Policy::deserialize(toml::Value::Table(merged))
            .map_err(|e| format!("core.emergency: {e}"))?;
        Ok(Self {
            shards: raw.shards,
            snapshot_every_secs: raw.snapshot_every_secs,
            tick_secs: raw.tick_secs,
            normal: raw.normal,
            emergency,
            door_webhook: raw.door_webhook,
        })
    }
}

impl Default for CoreConfig {
    fn default() -> Self {
        Self {
            shards: 2,
            snapshot_every_secs: 300,
            tick_secs: 1,
            normal: vagt_core::Policy::default(),
            emergency: vagt_core::Policy::default(),
            door_webhook: None,
        }
    }
}

/// `[gateway]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
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
    #[serde(default = "defaults::max_connections")]
    pub max_connections: usize,
    /// Most simultaneous TCP connections from one IP address.
    #[serde(default = "defaults::max_connections_per_ip")]
    pub max_connections_per_ip: usize,
    /// Seconds a new connection has to deliver its first complete frame.
    #[serde(default = "defaults::first_frame_timeout_secs")]
    pub first_frame_timeout_secs: u64,
    /// Seconds a connection may stay silent before it is closed.
    #[serde(default = "defaults::idle_timeout_secs")]
    pub idle_timeout_secs: u64,
    /// Largest accepted frame body (at most 4095).
    #[serde(default = "defaults::max_frame_len")]
    pub max_frame_len: usize,
    /// Most frames handled per read before the connection yields to others.
    #[serde(default = "defaults::max_frames_per_read")]
    pub max_frames_per_read: usize,
    /// Bytes of garbage (outside any valid frame) after which a TCP peer is disconnected.
    #[serde(default = "defaults::garbage_limit_bytes")]
    pub garbage_limit_bytes: usize,
    /// Seconds SIGTERM waits for in-flight frames before exiting anyway.
    #[serde(default = "defaults::shutdown_grace_secs")]
    pub shutdown_grace_secs: u64,
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

/// `[journal]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Journal {
    /// fdatasync every batch. `false` is for benchmarks only and is logged loudly.
    pub fsync: bool,
    /// Segment size in MiB.
    pub segment_mib: u64,
    /// Most records per fsync.
    pub max_batch: usize,
    /// Records that may wait for the writer before readers are pushed back.
    pub queue_capacity: usize,
}

impl Default for Journal {
    fn default() -> Self {
        Self {
            fsync: true,
            segment_mib: 64,
            max_batch: 4096,
            queue_capacity: 65_536,
        }
    }
}

/// `[dedup]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dedup {
    /// Seconds a (receiver, line, account, sequence, content) stays a retransmission.
    pub window_secs: u64,
}

impl Default for Dedup {
    fn default() -> Self {
        Self { window_secs: 900 }
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

impl Config {
    /// Parses and validates configuration text; `base` resolves relative paths in it.
    pub fn parse(text: &str, base: &Path) -> anyhow::Result<Self> {
        let mut config: Self = toml::from_str(text)?;
        config.validate()?;
        if let Some(a) = &config.gateway.accounts
            && a.is_relative()
        {
            config.gateway.accounts = Some(base.join(a));
        }
        if let Some(c) = &mut config.console {
            for p in [&mut c.cert, &mut c.key, &mut c.users] {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            }
        }
        Ok(config)
    }

    /// Loads `path`, or the embedded default when `None`.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        match path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading config {}", p.display()))?;
                let base = p.parent().unwrap_or_else(|| Path::new("."));
                Self::parse(&text, base).with_context(|| format!("config {}", p.display()))
            }
            None => Self::parse(DEFAULT_CONFIG, Path::new(".")).context("embedded default config"),
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        let g = &self.gateway;
        let checks: [(&str, bool, &str); 9] = [
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
                "journal.segment_mib",
                (1..=4096).contains(&self.journal.segment_mib),
                "must be 1..=4096",
            ),
            (
                "journal.max_batch",
                self.journal.max_batch >= 1,
                "must be at least 1",
            ),
            (
                "dedup.window_secs",
                self.dedup.window_secs >= 1,
                "must be at least 1",
            ),
        ];
        for (key, ok, rule) in checks {
            if !ok {
                bail!("{key} {rule}");
            }
        }
        if self.journal.queue_capacity < 1 {
            bail!("journal.queue_capacity must be at least 1");
        }
        let c = &self.core;
        if !(1..=64).contains(&c.shards) {
            bail!("core.shards must be 1..=64");
        }
        if c.snapshot_every_secs < 1 || c.tick_secs < 1 {
            bail!("core.snapshot_every_secs and core.tick_secs must be at least 1");
        }
        for (name, p) in [("core.normal", &c.normal), ("core.emergency", &c.emergency)] {
            p.validate().map_err(|e| anyhow::anyhow!("{name}.{e}"))?;
        }
        if let Some(w) = &c.door_webhook {
            w.validate()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_parses() {
        let c = Config::load(None).unwrap();
        assert!(c.journal.fsync);
        assert_eq!(c.protocol.unknown_account, UnknownAccountPolicy::Accept);
    }

    #[test]
    fn every_shipped_config_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name.ends_with(".toml") && !name.starts_with("accounts") {
                Config::load(Some(&path)).unwrap_or_else(|e| panic!("{name}: {e:#}"));
                n += 1;
            }
        }
        assert!(n >= 1);
    }

    #[test]
    fn emergency_staffing_inherits_what_it_does_not_change() {
        let text = DEFAULT_CONFIG
            .replace(
                "time_zone = \"Europe/Copenhagen\"",
                "time_zone = \"Europe/London\"",
            )
            .replace("accept_within_secs = 300", "accept_within_secs = 240");
        let c = Config::parse(&text, Path::new(".")).unwrap();
        assert_eq!(c.core.emergency.time_zone.name(), "Europe/London");
        assert_eq!(c.core.emergency.accept_within_secs, 240);
        assert_eq!(c.core.emergency.claim_within_secs, [30, 60, 120, 300, 600]);
        assert_eq!(c.core.normal.claim_within_secs, [60, 120, 300, 900, 1800]);
        for (from, to, named) in [
            (
                "time_zone = \"Europe/Copenhagen\"",
                "time_zone = \"Europe/Atlantis\"",
                "unknown time zone \"Europe/Atlantis\"",
            ),
            (
                "[core.emergency]",
                "[core.emergency]\nclaim_within = 5",
                "claim_within",
            ),
            (
                "shift_starts = [7, 15, 23]",
                "shift_starts = [7, 23, 15]",
                "core.normal.shift_starts",
            ),
        ] {
            assert!(DEFAULT_CONFIG.contains(from), "{from}");
            let e = format!(
                "{:#}",
                Config::parse(&DEFAULT_CONFIG.replace(from, to), Path::new(".")).unwrap_err()
            );
            assert!(e.contains(named), "{e}");
        }
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let base = Path::new(".");
        let text = DEFAULT_CONFIG.replace("[journal]", "[journal]\nfsynk = false");
        let e = format!("{:#}", Config::parse(&text, base).unwrap_err());
        assert!(e.contains("fsynk"), "{e}");
        let text = DEFAULT_CONFIG.replace("max_frame_len = 1024", "max_frame_len = 9000");
        let e = format!("{:#}", Config::parse(&text, base).unwrap_err());
        assert!(e.contains("gateway.max_frame_len must be 16..=4095"), "{e}");
        let text = DEFAULT_CONFIG.replace(
            "unknown_account = \"accept\"",
            "unknown_account = \"maybe\"",
        );
        let e = format!("{:#}", Config::parse(&text, base).unwrap_err());
        assert!(e.contains("maybe"), "{e}");
    }
}
