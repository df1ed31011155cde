//! A scenario file: the fleet of simulated devices, how they talk, and what they send when.
//!
//! Every random choice (keys, phases, alarm times, CID or SIA) comes from `seed`, so the same
//! file gives the same traffic.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use serde::Deserialize;
use vagt_dc09::Key;

/// How devices reach the receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// TCP.
    Tcp,
    /// UDP datagrams.
    Udp,
}

/// TCP connection use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Connection {
    /// One connection per device, kept open (IP communicators).
    Persistent,
    /// A new connection for every message (simple diallers).
    PerMessage,
}

/// The scenario file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A name for reports.
    pub name: String,
    /// The receiver (`--target` overrides it).
    #[serde(default = "default_target")]
    pub target: SocketAddr,
    /// `tcp` or `udp`.
    #[serde(default = "default_transport")]
    pub transport: Transport,
    /// `persistent` or `per_message` (TCP only).
    #[serde(default = "default_connection")]
    pub connection: Connection,
    /// Seconds of background traffic (alarms, `NULL` polls) after the start.
    #[serde(default)]
    pub duration_secs: f64,
    /// Seed for every random choice.
    #[serde(default)]
    pub seed: u64,
    /// The devices.
    pub fleet: Fleet,
    /// "Everyone presses at once".
    #[serde(default)]
    pub burst: Option<Burst>,
    /// Device behaviour on the wire.
    #[serde(default)]
    pub device: DeviceBehaviour,
}

/// The simulated devices.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fleet {
    /// How many.
    pub devices: usize,
    /// Device `i` has account number `account_start + i` (decimal digits, valid hex).
    #[serde(default = "default_account_start")]
    pub account_start: u64,
    /// The `L` (line / account prefix) field every device sends.
    #[serde(default = "default_line")]
    pub line: String,
    /// The `R` (receiver) field, if devices send one.
    #[serde(default)]
    pub receiver: Option<String>,
    /// AES key size for every device (128, 192, 256), or 0 for clear text. Keys are derived
    /// from the seed; `vagt-replay accounts` prints the matching accounts file.
    #[serde(default)]
    pub key_bits: u16,
    /// Share of alarms sent as ADM-CID (the rest SIA-DCS), 0…1.
    #[serde(default)]
    pub cid_share: f64,
    /// Each device sends a `NULL` link test this often (0 = never).
    #[serde(default)]
    pub null_interval_secs: f64,
    /// Mean seconds between background alarms per device (0 = none).
    #[serde(default)]
    pub alarm_interval_secs: f64,
    /// Every device's clock is this far off (seconds; the receiver's NAK corrects it).
    #[serde(default)]
    pub clock_skew_secs: i64,
}

/// A burst: every device sends one alarm within `within_secs` of `at_secs`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Burst {
    /// Seconds after the start.
    #[serde(default)]
    pub at_secs: f64,
    /// Spread (0 = all at the same instant).
    #[serde(default)]
    pub within_secs: f64,
}

/// How a device waits and retries.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeviceBehaviour {
    /// Milliseconds to wait for an answer before retransmitting the same frame.
    pub ack_timeout_ms: u64,
    /// Retransmissions before the message counts as lost.
    pub retries: u32,
    /// Extra copies of every frame sent straight after it, without waiting (a device stuck
    /// resending): the receiver must ACK each and store one.
    pub extra_copies: u32,
    /// Misbehaving peers: share of messages whose first transmission has a wrong CRC (the
    /// receiver must stay silent; the device then retransmits a good copy), 0…1.
    pub corrupt_crc_share: f64,
    /// Misbehaving peers: bytes of line noise (printable, no LF) sent before every frame.
    pub garbage_bytes: usize,
    /// Misbehaving peers: every TCP frame is written in 4 pieces this many ms apart.
    pub trickle_ms: u64,
}

impl Default for DeviceBehaviour {
    fn default() -> Self {
        Self {
            ack_timeout_ms: 5_000,
            retries: 3,
            extra_copies: 0,
            corrupt_crc_share: 0.0,
            garbage_bytes: 0,
            trickle_ms: 0,
        }
    }
}

fn default_target() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7050))
}

fn default_transport() -> Transport {
    Transport::Tcp
}

fn default_connection() -> Connection {
    Connection::Persistent
}

fn default_account_start() -> u64 {
    100_000
}

fn default_line() -> String {
    "1".into()
}

impl Scenario {
    /// Reads and checks a scenario file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading scenario {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("scenario {}", path.display()))
    }

    /// Parses and checks scenario text.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let s: Self = toml::from_str(text)?;
        s.validate()?;
        Ok(s)
    }

    fn validate(&self) -> anyhow::Result<()> {
        let f = &self.fleet;
        ensure!(
            (1..=100_000).contains(&f.devices),
            "fleet.devices must be 1..=100000"
        );
        let last = f.account_start + f.devices as u64 - 1;
        ensure!(
            f.account_start.to_string().len() >= 3 && last.to_string().len() <= 16,
            "fleet.account_start: accounts must have 3-16 digits"
        );
        ensure!(
            matches!(f.key_bits, 0 | 128 | 192 | 256),
            "fleet.key_bits must be 0, 128, 192 or 256"
        );
        ensure!(
            (0.0..=1.0).contains(&f.cid_share),
            "fleet.cid_share must be 0..=1"
        );
        ensure!(
            f.null_interval_secs >= 0.0 && f.alarm_interval_secs >= 0.0,
            "fleet intervals must not be negative"
        );
        ensure!(
            self.duration_secs >= 0.0 && self.duration_secs <= 86_400.0,
            "duration_secs must be 0..=86400"
        );
        if let Some(b) = &self.burst {
            ensure!(
                b.at_secs >= 0.0 && b.within_secs >= 0.0,
                "burst times must not be negative"
            );
        }
        ensure!(
            self.device.ack_timeout_ms >= 1,
            "device.ack_timeout_ms must be at least 1"
        );
        ensure!(
            (0.0..=1.0).contains(&self.device.corrupt_crc_share),
            "device.corrupt_crc_share must be 0..=1"
        );
        ensure!(
            self.device.garbage_bytes <= 4096,
            "device.garbage_bytes must be at most 4096"
        );
        ensure!(
            hex_field(&f.line, 1, 6),
            "fleet.line must be 1-6 hex digits"
        );
        if let Some(r) = &f.receiver {
            ensure!(hex_field(r, 1, 6), "fleet.receiver must be 1-6 hex digits");
        }
        let sends = self.burst.is_some()
            || (self.duration_secs > 0.0
                && (f.null_interval_secs > 0.0 || f.alarm_interval_secs > 0.0));
        if !sends {
            bail!("the scenario sends nothing: add [burst], or duration_secs with an interval");
        }
        Ok(())
    }

    /// Device `i`'s account number.
    pub fn account(&self, i: usize) -> String {
        (self.fleet.account_start + i as u64).to_string()
    }

    /// Device `i`'s AES key bytes, if the fleet encrypts.
    pub fn key_bytes(&self, i: usize) -> Option<Vec<u8>> {
        if self.fleet.key_bits == 0 {
            return None;
        }
        let mut rng = StdRng::seed_from_u64(self.seed ^ 0x6b65_7973 ^ (i as u64) << 20);
        let mut key = vec![0; usize::from(self.fleet.key_bits / 8)];
        rng.fill_bytes(&mut key);
        Some(key)
    }

    /// Device `i`'s key.
    pub fn key(&self, i: usize) -> anyhow::Result<Option<Key>> {
        self.key_bytes(i)
            .map(|k| Key::from_bytes(&k).map_err(|e| anyhow::anyhow!("device key: {e}")))
            .transpose()
    }

    /// What device `i` sends and when, in time order.
    pub fn plan(&self, i: usize) -> Vec<Planned> {
        let mut rng =
            StdRng::seed_from_u64(self.seed.wrapping_mul(0x9E37_79B9).wrapping_add(i as u64));
        let f = &self.fleet;
        let mut out = Vec::new();
        let alarm = |rng: &mut StdRng| {
            if rng.random::<f64>() < f.cid_share {
                Kind::Cid
            } else {
                Kind::Sia
            }
        };
        if let Some(b) = &self.burst {
            let at = b.at_secs + rng.random::<f64>() * b.within_secs;
            let kind = alarm(&mut rng);
            out.push(Planned { at: secs(at), kind });
        }
        if f.alarm_interval_secs > 0.0 {
            let mut t = 0.0;
            loop {
                // Exponential gaps: a Poisson process with the given mean.
                t += -f.alarm_interval_secs * (1.0 - rng.random::<f64>()).ln();
                if t >= self.duration_secs {
                    break;
                }
                let kind = alarm(&mut rng);
                out.push(Planned { at: secs(t), kind });
            }
        }
        if f.null_interval_secs > 0.0 {
            let mut t = rng.random::<f64>() * f.null_interval_secs;
            while t < self.duration_secs {
                out.push(Planned {
                    at: secs(t),
                    kind: Kind::Null,
                });
                t += f.null_interval_secs;
            }
        }
        out.sort_by_key(|p| p.at);
        out
    }

    /// The accounts file a Vagt gateway needs for this fleet (keys included).
    pub fn accounts_file(&self) -> String {
        let mut out = format!(
            "# Accounts for the vagt-replay scenario {:?} ({} devices).\n",
            self.name, self.fleet.devices
        );
        for i in 0..self.fleet.devices {
            out.push_str(&format!(
                "\n[[accounts]]\naccount = \"{}\"\n",
                self.account(i)
            ));
            if let Some(k) = self.key_bytes(i) {
                let mut hex = Vec::new();
                vagt_dc09::encode_hex_upper(&k, &mut hex);
                out.push_str(&format!(
                    "key = \"hex:{}\"\n",
                    String::from_utf8_lossy(&hex)
                ));
            }
            out.push_str("call_type = \"nodkald\"\n");
        }
        out
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

fn hex_field(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What a device sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A SIA-DCS alarm (`QA`, emergency).
    Sia,
    /// An ADM-CID alarm (`1100`, personal emergency).
    Cid,
    /// A `NULL` link test.
    Null,
}

impl Kind {
    /// The frame type as reports show it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Sia => "SIA-DCS",
            Self::Cid => "ADM-CID",
            Self::Null => "NULL",
        }
    }
}

/// One message in a device's plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Planned {
    /// When, after the start.
    pub at: Duration,
    /// What.
    pub kind: Kind,
}

#[cfg(test)]
mod tests {
    use super::*;

    const BURST: &str = r#"
name = "burst"
[fleet]
devices = 10
key_bits = 128
cid_share = 0.5
[burst]
at_secs = 1
within_secs = 0.5
"#;

    #[test]
    fn plans_are_reproducible_and_inside_the_burst() {
        let s = Scenario::parse(BURST).unwrap();
        for i in 0..10 {
            let p = s.plan(i);
            assert_eq!(p, s.plan(i));
            assert_eq!(p.len(), 1);
            assert!(p[0].at >= Duration::from_secs(1) && p[0].at <= Duration::from_millis(1500));
        }
        assert_eq!(s.key_bytes(3).unwrap().len(), 16);
        assert_ne!(s.key_bytes(3), s.key_bytes(4));
        let accounts = s.accounts_file();
        assert_eq!(accounts.matches("[[accounts]]").count(), 10);
        assert!(accounts.contains("account = \"100009\""));
    }

    #[test]
    fn bad_scenarios_are_named() {
        for (from, to, named) in [
            ("devices = 10", "devices = 0", "fleet.devices"),
            ("key_bits = 128", "key_bits = 100", "fleet.key_bits"),
            ("cid_share = 0.5", "cid_shar = 0.5", "cid_shar"),
            (
                "[burst]\nat_secs = 1\nwithin_secs = 0.5",
                "",
                "sends nothing",
            ),
        ] {
            let e = format!(
                "{:#}",
                Scenario::parse(&BURST.replace(from, to)).unwrap_err()
            );
            assert!(e.contains(named), "{e}");
        }
    }

    #[test]
    fn every_shipped_scenario_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/replay");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            Scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
            n += 1;
        }
        assert!(n >= 6, "{n} scenarios");
    }

    #[test]
    fn steady_traffic_follows_the_intervals() {
        let text = "name = \"steady\"\nduration_secs = 600\n[fleet]\ndevices = 1\nnull_interval_secs = 60\nalarm_interval_secs = 30\n";
        let s = Scenario::parse(text).unwrap();
        let p = s.plan(0);
        let nulls = p.iter().filter(|m| m.kind == Kind::Null).count();
        let alarms = p.len() - nulls;
        assert_eq!(nulls, 10);
        assert!(
            (5..=40).contains(&alarms),
            "{alarms} alarms in 600 s at one per 30 s"
        );
        assert!(p.windows(2).all(|w| w[0].at <= w[1].at));
    }
}
