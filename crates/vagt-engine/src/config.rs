//! `[core]`, with `[core.normal]`, `[core.emergency]` and `[core.door_webhook]`: the engine's
//! configuration section and its `validate()`.

use serde::Deserialize;

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
    pub door_webhook: Option<crate::door::DoorWebhook>,
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
    door_webhook: Option<crate::door::DoorWebhook>,
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
        // Normal staffing, then the emergency defaults (shorter claim deadlines), then what
        // `[core.emergency]` says.
        let mut merged = toml::Table::try_from(&raw.normal).map_err(|e| e.to_string())?;
        let faster =
            toml::Value::try_from(EMERGENCY_CLAIM_WITHIN_SECS).map_err(|e| e.to_string())?;
        merged.insert("claim_within_secs".into(), faster);
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

/// Claim deadlines by priority under emergency staffing, unless `[core.emergency]` sets them.
pub const EMERGENCY_CLAIM_WITHIN_SECS: [u64; 5] = [30, 60, 120, 300, 600];

impl Default for CoreConfig {
    fn default() -> Self {
        Self {
            shards: 2,
            snapshot_every_secs: 300,
            tick_secs: 1,
            normal: vagt_core::Policy::default(),
            emergency: vagt_core::Policy {
                claim_within_secs: EMERGENCY_CLAIM_WITHIN_SECS,
                ..vagt_core::Policy::default()
            },
            door_webhook: None,
        }
    }
}

impl CoreConfig {
    /// Checks every value (policies, webhook); the error names the key.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(1..=64).contains(&self.shards) {
            anyhow::bail!("core.shards must be 1..=64");
        }
        if self.snapshot_every_secs < 1 || self.tick_secs < 1 {
            anyhow::bail!("core.snapshot_every_secs and core.tick_secs must be at least 1");
        }
        for (name, p) in [
            ("core.normal", &self.normal),
            ("core.emergency", &self.emergency),
        ] {
            p.validate().map_err(|e| anyhow::anyhow!("{name}.{e}"))?;
        }
        if let Some(w) = &self.door_webhook {
            w.validate()?;
        }
        Ok(())
    }
}
