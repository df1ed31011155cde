//! The configuration file (TOML), composed from the sections each crate owns.
//!
//! | section | owned by |
//! |---|---|
//! | `[gateway]`, `[protocol]`, `[dedup]` | `vagt-ingest` (listeners, limits, policy, dedup window) |
//! | `[journal]` | here (how the segment journal is opened) |
//! | `[core]` (`.normal`, `.emergency`, `.door_webhook`) | `vagt-engine` |
//! | `[console]` | `vagt-console` |
//!
//! Unknown keys are rejected with their name (`deny_unknown_fields`); [`Config::parse`] calls
//! every section's `validate()`, and [`Config::check_files`] loads what start-up would load
//! (the console's TLS pair and users), so `vagt check-config` refuses what `vagt serve` would.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;
use vagt_console::ConsoleConfig;
use vagt_engine::CoreConfig;
use vagt_ingest::config::{Dedup, Gateway, Protocol};

/// The embedded default configuration (`config/vagt.toml`), used when no `--config` is given.
pub const DEFAULT_CONFIG: &str = include_str!("../../../config/vagt.toml");

/// The embedded default without its `[console]` section (the last one): for in-process
/// gateways in tests and benches that run no console or bring their own section.
pub fn default_without_console() -> String {
    DEFAULT_CONFIG
        .find("\n[console]")
        .map_or(DEFAULT_CONFIG, |at| &DEFAULT_CONFIG[..=at])
        .to_owned()
}

/// The whole configuration file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listeners, limits and files.
    #[serde(default)]
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
    /// The operator console (off when absent from a config file; on in the embedded default).
    #[serde(default)]
    pub console: Option<ConsoleConfig>,
    /// Several nodes on PostgreSQL (absent: the embedded journal alone).
    #[serde(default)]
    pub cluster: Option<vagt_cluster::ClusterConfig>,
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
    /// Retention: sealed segments last written more than this many days ago (and already in
    /// the core's snapshot) move to `<data>/journal-archive`, where reports and every reader
    /// still find them. Absent: they stay in the journal directory.
    pub archive_after_days: Option<u64>,
}

impl Default for Journal {
    fn default() -> Self {
        Self {
            fsync: true,
            segment_mib: 64,
            max_batch: 4096,
            queue_capacity: 65_536,
            archive_after_days: None,
        }
    }
}

impl Journal {
    /// Checks every value; the error names the key.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(1..=4096).contains(&self.segment_mib) {
            bail!("journal.segment_mib must be 1..=4096");
        }
        if self.max_batch < 1 {
            bail!("journal.max_batch must be at least 1");
        }
        if self.queue_capacity < 1 {
            bail!("journal.queue_capacity must be at least 1");
        }
        if self.archive_after_days == Some(0) {
            bail!("journal.archive_after_days must be at least 1 (or left out: keep everything)");
        }
        Ok(())
    }

    /// How the segment journal in `dir` is opened.
    pub fn open_config(&self, dir: &Path) -> vagt_journal::Config {
        vagt_journal::Config {
            segment_bytes: self.segment_mib << 20,
            fsync: self.fsync,
            max_batch: self.max_batch,
            queue_capacity: self.queue_capacity,
            ..vagt_journal::Config::new(dir)
        }
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
        if let Some(c) = &mut config.cluster {
            c.resolve_paths(base);
        }
        if let Some(c) = &mut config.console {
            for p in [&mut c.cert, &mut c.key, &mut c.users, &mut c.citizens]
                .into_iter()
                .flatten()
            {
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

    /// Every section's `validate()`.
    fn validate(&self) -> anyhow::Result<()> {
        self.gateway.validate()?;
        self.dedup.validate()?;
        self.journal.validate()?;
        self.core.validate()?;
        if let Some(c) = &self.console {
            c.validate()?;
        }
        if let Some(c) = &self.cluster {
            c.validate()?;
        }
        if let Some(days) = self.journal.archive_after_days {
            if self.cluster.is_some() {
                bail!(
                    "journal.archive_after_days is for the embedded journal: in cluster mode the shared log is PostgreSQL's to keep"
                );
            }
            if days.saturating_mul(86_400) <= self.dedup.window_secs {
                bail!(
                    "journal.archive_after_days must be longer than dedup.window_secs (the dedup window is rebuilt from the journal directory)"
                );
            }
        }
        Ok(())
    }

    /// Loads the files start-up would load besides the accounts (the console's certificate,
    /// key, client CA and users), so a broken one is reported before serving.
    pub fn check_files(&self) -> anyhow::Result<()> {
        if let Some(c) = &self.console {
            c.check()?;
        }
        if let Some(c) = &self.cluster {
            c.check_files()?;
        }
        Ok(())
    }

    /// The journal directory.
    pub fn journal_dir(&self) -> PathBuf {
        journal_dir(&self.gateway.data)
    }

    /// What reports are computed from under this configuration.
    pub fn report_source(
        &self,
        accounts: std::sync::Arc<vagt_records::Accounts>,
    ) -> vagt_report::Source {
        vagt_report::Source {
            core: self.core.clone(),
            settings: self.protocol.settings(),
            accounts,
            journal: self.log(),
        }
    }

    /// The log offline readers fold: the cluster's PostgreSQL log with `[cluster]`, else the
    /// journal directory.
    pub fn log(&self) -> vagt_engine::fold::Log {
        match &self.cluster {
            Some(c) => {
                let c = c.clone();
                vagt_engine::fold::Log::Store(std::sync::Arc::new(move || {
                    vagt_cluster::read_log(&c)
                }))
            }
            None => vagt_engine::fold::Log::Dir(self.journal_dir()),
        }
    }
}

/// The journal directory of a data directory (`<data>/journal`).
pub fn journal_dir(data: &Path) -> PathBuf {
    data.join("journal")
}

/// [`journal_dir`], for commands that read a journal: an error if there is none.
pub fn existing_journal_dir(data: &Path) -> anyhow::Result<PathBuf> {
    let dir = journal_dir(data);
    if !dir.is_dir() {
        bail!("no journal at {}", dir.display());
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vagt_ingest::config::UnknownAccountPolicy;

    #[test]
    fn every_section_and_key_is_optional_with_the_shipped_defaults() {
        let shipped = Config::load(None).unwrap();
        let empty = Config::parse("", Path::new(".")).unwrap();
        assert_eq!(
            format!("{:?}", empty.gateway),
            format!("{:?}", shipped.gateway)
        );
        assert_eq!(format!("{:?}", empty.core), format!("{:?}", shipped.core));
        assert_eq!(
            format!("{:?}", empty.protocol),
            format!("{:?}", shipped.protocol)
        );
        assert_eq!(
            format!("{:?}", empty.journal),
            format!("{:?}", shipped.journal)
        );
        // The README's console lines alone make a valid file.
        let console = Config::parse(
            "[console]\nlisten = \"127.0.0.1:7443\"\ncert = \"data/console-cert.pem\"\n\
             key = \"data/console-key.pem\"\nusers = \"users.toml\"\n",
            Path::new("/etc/vagt"),
        )
        .unwrap();
        let c = console.console.unwrap();
        assert_eq!(c.users(), Path::new("/etc/vagt/users.toml"));
        assert_eq!(console.gateway.listen, shipped.gateway.listen);
    }

    #[test]
    fn retention_is_refused_where_it_would_lose_what_a_reader_needs() {
        let parse = |text: &str| Config::parse(text, Path::new(".")).map_err(|e| format!("{e:#}"));
        assert!(parse("[journal]\narchive_after_days = 30\n").is_ok());
        let zero = parse("[journal]\narchive_after_days = 0\n").unwrap_err();
        assert!(
            zero.contains("archive_after_days must be at least 1"),
            "{zero}"
        );
        let window =
            parse("[journal]\narchive_after_days = 1\n[dedup]\nwindow_secs = 86400\n").unwrap_err();
        assert!(window.contains("dedup.window_secs"), "{window}");
        let cluster = parse(
            "[journal]\narchive_after_days = 30\n[cluster]\nurl = \"host=db\"\nnode = \"a\"\n",
        )
        .unwrap_err();
        assert!(cluster.contains("cluster mode"), "{cluster}");
    }

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
    fn io_threads_default_to_half_the_cores() {
        let mut g = Config::parse(DEFAULT_CONFIG, Path::new("."))
            .unwrap()
            .gateway;
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(g.io_threads(), (cores / 2).max(1));
        g.io_threads = 3;
        assert_eq!(g.io_threads(), 3);
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
        let text = DEFAULT_CONFIG.replace("io_threads = 0", "io_threads = 5000");
        let e = format!("{:#}", Config::parse(&text, base).unwrap_err());
        assert!(e.contains("gateway.io_threads must be 0"), "{e}");
        let text = DEFAULT_CONFIG.replace(
            "unknown_account = \"accept\"",
            "unknown_account = \"maybe\"",
        );
        let e = format!("{:#}", Config::parse(&text, base).unwrap_err());
        assert!(e.contains("maybe"), "{e}");
    }
}
