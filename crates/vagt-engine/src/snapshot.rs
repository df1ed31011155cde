//! Snapshot files: the whole core's state at a journal offset, so a restart replays only what
//! came after it.
//!
//! `<data>/core/snapshot-<offset, 20 digits>.json`, written to a temporary file, fsynced and
//! renamed into place (a crash leaves the previous snapshot, never half of one). The newest
//! two are kept.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use vagt_core::{AlarmId, Change, ShardSnapshot};
use vagt_journal::{Journal, Offset, Record};

const PREFIX: &str = "snapshot-";
const SUFFIX: &str = ".json";
const KEEP: usize = 2;

/// The core's state after every record before `offset`.
#[derive(Debug, Serialize, Deserialize)]
pub struct CoreSnapshot {
    /// The state's format ([`CoreSnapshot::FORMAT`]); a snapshot of another format is not
    /// restored (the journal is replayed instead), so a change to what the shards keep can never
    /// make a restored core differ from a replayed one. Absent in the first format (0).
    #[serde(default)]
    pub format: u32,
    /// Journal offset: the first record not included.
    pub offset: u64,
    /// One per shard, in shard order.
    pub shards: Vec<ShardSnapshot>,
    /// The open alarms' histories (format 2 on), by alarm id.
    #[serde(default)]
    pub history: Vec<(AlarmId, Vec<Change>)>,
    /// The last record the state includes (absent in snapshots written before it was kept):
    /// before the snapshot is restored, the journal must still hold this record here — else it
    /// is not the journal the state was folded from (a restored or replaced cluster database, a
    /// journal put back from a backup) and the whole journal is replayed instead.
    #[serde(default)]
    pub last: Option<Anchor>,
}

/// Where a record is and a checksum of its payload: enough to tell whether a journal still
/// holds the record a snapshot was taken after.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    /// The record's offset (a byte offset in the segment journal, a `gseq` in the cluster log).
    pub offset: u64,
    /// CRC-32C of its payload.
    pub crc: u32,
}

impl Anchor {
    /// The anchor of `record`.
    pub fn of(record: &Record) -> Self {
        Self {
            offset: record.offset.0,
            crc: crate::CRC32C.checksum(&record.payload),
        }
    }

    /// Whether `journal` holds this record as the last one before `end` (read on a thread of
    /// its own: a cluster log's reader blocks on its runtime, which the caller may be running
    /// on). A record that cannot be read counts as not held: replaying the whole journal is
    /// always right.
    pub fn held_by(&self, journal: &dyn Journal, end: u64) -> Result<(), String> {
        let read = std::thread::scope(|s| {
            s.spawn(|| {
                let mut out = Vec::new();
                journal
                    .follow(Offset(self.offset))
                    .read_to(Offset(end), &mut out)
                    .map(|()| out)
            })
            .join()
        });
        match read {
            Ok(Ok(records)) => match records.first() {
                Some(r) if r.offset.0 != self.offset => {
                    Err(format!("no record at {} any more", self.offset))
                }
                Some(r) if Self::of(r) != *self => {
                    Err(format!("another record at {}", self.offset))
                }
                Some(_) if records.len() == 1 => Ok(()),
                Some(_) => Err(format!(
                    "records after {} that it did not include",
                    self.offset
                )),
                None => Err(format!("no record at {} any more", self.offset)),
            },
            Ok(Err(e)) => Err(format!("the record at {} cannot be read: {e}", self.offset)),
            Err(_) => Err("the check failed".to_owned()),
        }
    }
}

impl CoreSnapshot {
    /// The current format: 1 = alarms correlated by kind and zone; 2 = with the open alarms'
    /// histories (an older snapshot is not restored: the whole journal is replayed, which
    /// rebuilds them).
    pub const FORMAT: u32 = 2;
}

fn snapshots(dir: &Path) -> anyhow::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        let offset = name
            .to_str()
            .and_then(|n| n.strip_prefix(PREFIX))
            .and_then(|n| n.strip_suffix(SUFFIX))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(o) = offset {
            out.push((o, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// The newest readable snapshot in `dir`, if any. An unreadable one is reported and skipped
/// (the journal still has everything: the core replays further back).
pub(super) fn load_latest(dir: &Path) -> anyhow::Result<Option<CoreSnapshot>> {
    for (_, path) in snapshots(dir)?.into_iter().rev() {
        let parsed = fs::read(&path)
            .map_err(anyhow::Error::from)
            .and_then(|b| serde_json::from_slice::<CoreSnapshot>(&b).map_err(Into::into));
        match parsed {
            Ok(s) => return Ok(Some(s)),
            Err(e) => tracing::warn!(path = %path.display(), "skipping unreadable snapshot: {e:#}"),
        }
    }
    Ok(None)
}

/// Creates `dir` (0700), or makes an existing one 0700.
fn private_dir(dir: &Path) -> anyhow::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("making {} private", dir.display()))
}

/// Writes a snapshot durably and removes all but the newest two.
pub(super) fn write(dir: &Path, snap: &CoreSnapshot) -> anyhow::Result<PathBuf> {
    private_dir(dir)?;
    let path = dir.join(format!("{PREFIX}{:020}{SUFFIX}", snap.offset));
    let tmp = path.with_extension("tmp");
    // The core's state names citizens: the owner's only, whatever the umask.
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    let mut w = std::io::BufWriter::new(&mut f);
    serde_json::to_writer(&mut w, snap)?;
    w.flush()?;
    drop(w);
    f.sync_all()?;
    fs::rename(&tmp, &path)?;
    fs::File::open(dir)?.sync_all()?;
    let all = snapshots(dir)?;
    for (_, old) in all.iter().take(all.len().saturating_sub(KEEP)) {
        let _ = fs::remove_file(old);
    }
    Ok(path)
}
