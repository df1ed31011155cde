//! The core replayed offline over a whole journal, on this thread: every change it made, in
//! journal order — what reports are computed from. The same routing and the same step as the
//! live shards (`worker::apply_input`), so the alarms and their ids are the live ones.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use vagt_core::Change;
use vagt_journal::{Offset, Reader, Records};
use vagt_proto::Settings;

use super::records;
use super::worker::{Setups, apply_input};
use super::{fresh, setups_by_shard, shard_for};
use crate::config::CoreConfig;
use vagt_records::{Accounts, Input};

/// Opens a log from its start.
pub type OpenLog = Arc<dyn Fn() -> anyhow::Result<Records> + Send + Sync>;

/// Where the log that is folded offline is.
#[derive(Clone)]
pub enum Log {
    /// The embedded segment journal in this directory.
    Dir(PathBuf),
    /// Another store (the cluster's PostgreSQL log), opened by the function.
    Store(OpenLog),
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Dir(d) => write!(f, "journal {}", d.display()),
            Self::Store(_) => f.write_str("the cluster log"),
        }
    }
}

impl Log {
    /// Every record from the start, in log order.
    pub fn open(&self) -> anyhow::Result<Records> {
        match self {
            Self::Dir(dir) => {
                anyhow::ensure!(dir.is_dir(), "no journal at {}", dir.display());
                let reader = Reader::open(dir, Offset(0))
                    .with_context(|| format!("opening the journal in {}", dir.display()))?;
                Ok(Box::new(reader))
            }
            Self::Store(open) => open(),
        }
    }
}

/// Replays the journal in `journal_dir` from its start through fresh shards and hands every
/// change to `on_change`. Returns the number of records read.
pub fn fold(
    config: &CoreConfig,
    accounts: &Accounts,
    settings: &Settings,
    journal_dir: &Path,
    on_change: impl FnMut(&Change),
) -> anyhow::Result<u64> {
    fold_log(
        config,
        accounts,
        settings,
        &Log::Dir(journal_dir.to_owned()),
        on_change,
    )
}

/// [`fold`] over any [`Log`].
pub fn fold_log(
    config: &CoreConfig,
    accounts: &Accounts,
    settings: &Settings,
    log: &Log,
    mut on_change: impl FnMut(&Change),
) -> anyhow::Result<u64> {
    replay(config, accounts, settings, log, |c, _| on_change(c)).map(|(_, read)| read)
}

/// [`fold_log`], handing each change the accounts in force when it was made: `accounts` until
/// the log's first journaled set of accounts, then each set from its record on (reports name
/// the citizen and municipality an account had then, not today's).
pub fn fold_log_in_force(
    config: &CoreConfig,
    accounts: &Accounts,
    settings: &Settings,
    log: &Log,
    on_change: impl FnMut(&Change, &Accounts),
) -> anyhow::Result<u64> {
    replay(config, accounts, settings, log, on_change).map(|(_, read)| read)
}

/// The open alarms after the whole journal, most urgent first — the live core's queue when it
/// has caught up (`vagt alarms`).
pub fn open_alarms(
    config: &CoreConfig,
    accounts: &Accounts,
    settings: &Settings,
    log: &Log,
) -> anyhow::Result<Vec<vagt_core::Alarm>> {
    let (shards, _) = replay(config, accounts, settings, log, |_, _| {})?;
    let mut open: Vec<vagt_core::Alarm> = shards
        .iter()
        .flat_map(|s| s.open_alarms().cloned())
        .collect();
    open.sort_by_key(vagt_core::Alarm::queue_order);
    Ok(open)
}

/// [`fold`], returning the shards as they are after the last record.
fn replay(
    config: &CoreConfig,
    accounts: &Accounts,
    settings: &Settings,
    log: &Log,
    mut on_change: impl FnMut(&Change, &Accounts),
) -> anyhow::Result<(Vec<vagt_core::Shard>, u64)> {
    let n = config.shards.max(1);
    let mut per_shard: Vec<Setups> = setups_by_shard(accounts, n)
        .into_iter()
        .enumerate()
        .map(|(index, list)| Setups {
            index,
            shards: n,
            list,
        })
        .collect();
    let (mut shards, _) = fresh(config, n);
    let mut parts = records::SetupParts::default();
    let mut in_force: Option<Arc<Accounts>> = None;
    let mut read = 0;
    for record in log.open()? {
        let record = record.with_context(|| format!("reading {log:?}"))?;
        read += 1;
        // A record the live core could not decode was skipped there too. Frames are decoded
        // with the given accounts' keys (journaled accounts carry none).
        let Ok(Some(input)) = records::decode(&record.payload, accounts, settings) else {
            continue;
        };
        let Some(input) = parts.take(input) else {
            continue;
        };
        if let Input::Accounts { accounts, .. } = &input {
            in_force = Some(Arc::clone(accounts));
        }
        let now = in_force.as_deref().unwrap_or(accounts);
        let targets: Vec<usize> = match shard_for(&input, n) {
            Some(i) => vec![i],
            None => (0..n).collect(),
        };
        for i in targets {
            let (Some(shard), Some(setups)) = (shards.get_mut(i), per_shard.get_mut(i)) else {
                continue;
            };
            if let Ok(changes) = apply_input(shard, &input, setups) {
                for c in &changes {
                    on_change(c, now);
                }
            }
        }
    }
    Ok((shards, read))
}
