//! The feed thread: follows the journal's durable end, decodes each record into the core's
//! input and routes it to its shard, in journal order; takes periodic snapshots.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use metrics::counter;
use tracing::{error, info, warn};
use vagt_journal::{Committed, Follow, Record};

use super::records::{self, Route};
use super::snapshot::{self, Anchor, CoreSnapshot};
use super::worker::{Item, Msg, Work};
use super::{shard_for, shard_of};
use crate::metrics as m;

/// Under load the feed takes what became durable at most this often. Each wake-up costs the
/// feed and every shard thread a context switch, and the journal commits far more often than an
/// operator could tell apart (≈ 1 800 group commits a second at 100 closed-loop connections on
/// the build machine): batching them costs the core a little latency, not the ACK path CPU. A
/// lone alarm is routed as soon as it is durable; only records that become durable within this
/// time of the previous wake-up wait, for at most this long.
const PACE: Duration = Duration::from_millis(2);

pub(super) struct Feed {
    pub(super) tail: Box<dyn Follow>,
    pub(super) committed: Committed,
    pub(super) shards: Vec<Sender<Msg>>,
    pub(super) snap_dir: PathBuf,
    pub(super) snapshot_every: Duration,
    /// The newest snapshot's offset on disk (read by the archiver).
    pub(super) snapshotted: Arc<AtomicU64>,
    /// The parts of a journaled set of accounts, gathered before the shards get it whole.
    pub(super) parts: records::SetupParts,
    /// The last record read (the restored snapshot's, until one is read): each snapshot names
    /// it, so a restart can tell whether the journal is still the one it was folded from.
    pub(super) last: Option<Anchor>,
}

impl Feed {
    /// Runs until the journal is closed and everything in it is applied; then writes a final
    /// snapshot and hangs up on the shards (which then stop).
    pub(super) fn run(mut self) {
        let mut records: Vec<Record> = Vec::new();
        let mut last_snapshot = Instant::now();
        let mut since_snapshot = 0u64;
        let mut failing = 0u32;
        loop {
            let (end, closed) = self
                .committed
                .wait_beyond(self.tail.position(), Duration::from_millis(200));
            let woke = Instant::now();
            records.clear();
            if let Err(e) = self.tail.read_to(end, &mut records) {
                // The journal is the source of truth; a record we cannot read is not skipped.
                // The first failure, then one line a minute (a cluster log away for a while).
                if failing.is_multiple_of(60) {
                    error!(
                        failures = failing + 1,
                        "core feed cannot read the journal: {e}; retrying every second"
                    );
                }
                failing = failing.saturating_add(1);
                counter!(m::CORE_FEED_ERRORS).increment(1);
                if closed {
                    return; // shutting down: the journal will not change any more
                }
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
            if failing > 0 {
                info!(failures = failing, "core feed reads the journal again");
                failing = 0;
            }
            since_snapshot += records.len() as u64;
            if let Some(r) = records.last() {
                self.last = Some(Anchor::of(r));
            }
            self.route(records.drain(..));
            let caught_up = self.tail.position() >= self.committed.end();
            if closed && caught_up {
                break;
            }
            // Not between the parts of a set of accounts: the replay after the snapshot would
            // miss its first parts.
            let due = since_snapshot > 0 && last_snapshot.elapsed() >= self.snapshot_every;
            if due && !self.parts.gathering() {
                self.snapshot();
                last_snapshot = Instant::now();
                since_snapshot = 0;
            }
            if let Some(rest) = PACE.checked_sub(woke.elapsed()) {
                std::thread::sleep(rest);
            }
        }
        if since_snapshot > 0 && !self.parts.gathering() {
            self.snapshot();
        }
    }

    fn route(&mut self, records: impl Iterator<Item = Record>) {
        let n = self.shards.len();
        let mut batches: Vec<Vec<Item>> = (0..n).map(|_| Vec::new()).collect();
        for r in records {
            // Frames are decoded by their shard thread (in parallel); the feed reads only the
            // account.
            let route = match records::route(&r.payload) {
                Ok(Some(route)) => route,
                Ok(None) => continue,
                Err(e) => {
                    warn!(
                        offset = r.offset.0,
                        "core skips a record it cannot decode: {e:#}"
                    );
                    counter!(m::CORE_FEED_ERRORS).increment(1);
                    continue;
                }
            };
            let offset = r.offset.0;
            let (target, work) = match route {
                Route::Frame(account) => {
                    self.parts.passed();
                    (Some(shard_of(&account, n)), Work::Frame(r.payload))
                }
                Route::Input(input) => match self.parts.take(input) {
                    Some(input) => (shard_for(&input, n), Work::Input(input)),
                    None => continue,
                },
            };
            match target {
                Some(i) => {
                    if let Some(b) = batches.get_mut(i) {
                        b.push(Item { offset, work });
                    }
                }
                None => {
                    for b in &mut batches {
                        b.push(Item {
                            offset,
                            work: work.clone(),
                        });
                    }
                }
            }
        }
        let upto = self.tail.position().0;
        for (tx, items) in self.shards.iter().zip(batches) {
            // Blocks when a shard is behind: the feed (never the ACK path) waits.
            let _ = tx.send(Msg::Batch { items, upto });
        }
    }

    fn snapshot(&self) {
        let (tx, rx) = crossbeam_channel::bounded(self.shards.len());
        for s in &self.shards {
            let _ = s.send(Msg::Snapshot(tx.clone()));
        }
        drop(tx);
        let mut parts: Vec<_> = rx.iter().collect();
        if parts.len() != self.shards.len() {
            return;
        }
        parts.sort_by_key(|(i, _, _)| *i);
        let mut history: Vec<_> = parts.iter_mut().flat_map(|(_, _, h)| h.drain(..)).collect();
        history.sort_by_key(|(id, _)| *id);
        let snap = CoreSnapshot {
            format: CoreSnapshot::FORMAT,
            offset: self.tail.position().0,
            shards: parts.into_iter().map(|(_, s, _)| s).collect(),
            history,
            last: self.last,
        };
        match snapshot::write(&self.snap_dir, &snap) {
            Ok(path) => {
                info!(path = %path.display(), "core snapshot written");
                self.snapshotted.fetch_max(snap.offset, Ordering::AcqRel);
            }
            Err(e) => {
                error!("core snapshot failed: {e:#}");
                counter!(m::CORE_FEED_ERRORS).increment(1);
            }
        }
    }
}
