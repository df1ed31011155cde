//! The core at work behind the journal: the feed, shard threads, offline fold, snapshots, the
//! door webhook — and its config section and metrics.
//!
//! ```text
//!  ACK path ──append──▶ journal ──(durable end)──▶ feed thread ──hash(account)──▶ shard threads
//!  commands ──append──▶    ▲                       (Tail: reads               │ read side (views),
//!  ticker (1/s) ─append────┘                        durable records)          ▼ metrics, answers
//! ```
//!
//! * **Never on the ACK path.** The feed follows the journal's durable end from the segment
//!   files; if the core lags, it reads more per round. Nothing the ACK path does waits for it.
//! * **Event-sourced.** Every input — frames, people's commands (with actor, time and client),
//!   clock ticks, "accounts loaded" — is a journal record, and shards are deterministic, so the
//!   journal alone rebuilds the core. Snapshots (`<data>/core/`) bound the replay at start-up.
//! * **Sharded single writers.** Shard = CRC-32C(account) mod N; alarm ids are
//!   `shard + k·N`, so a command goes straight to its shard. Each shard thread owns its state;
//!   readers see a concurrent map of open alarms, never a lock on a shard.

pub mod config;
pub mod door;
mod feed;
pub mod fold;
pub mod metrics;
mod snapshot;
mod worker;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

use anyhow::Context;
use dashmap::DashMap;
use tokio::sync::oneshot;
use tracing::{info, warn};
use vagt_core::{AccountSetup, Actor, Alarm, AlarmId, Change, Command, CommandError, Shard};
use vagt_journal::{Committed, Journal, JournalError, Offset};
use vagt_proto::Settings;
use vagt_records::input as records;
use vagt_records::{Accounts, CallType, CommandRecord, Input};

pub use crate::config::CoreConfig;

/// Whether this node may do the once-only duties now (door webhooks): the cluster's leader
/// lease, or always when embedded.
pub type Leads = Arc<dyn Fn() -> bool + Send + Sync>;

/// Who this engine is among the nodes folding one log.
#[derive(Clone)]
pub struct Node {
    /// A number unique among the nodes (command request numbers carry it, so one node's
    /// answer never goes to another node's waiter); 0 when embedded.
    pub tag: u16,
    /// See [`Leads`].
    pub leads: Leads,
    /// The log's end is not known yet (a cluster node that started while PostgreSQL was
    /// away): the snapshot is trusted as it is, nothing is replayed or live until
    /// [`Engine::set_live_from`] says where the live inputs start.
    pub late: bool,
}

impl Default for Node {
    fn default() -> Self {
        Self {
            tag: 0,
            leads: Arc::new(|| true),
            late: false,
        }
    }
}

/// `live_from` of a late node before it is told: nothing is live.
const NOT_YET: u64 = u64::MAX;

/// The first request number of an engine: the node's tag in the top 16 bits, then the start
/// time in milliseconds shifted to leave room for 1 024 commands per millisecond of uptime —
/// so numbers do not repeat across restarts (replayed commands never answer a new waiter).
fn first_request(tag: u16) -> u64 {
    let ms = u64::try_from(vagt_records::time::now_ms()).unwrap_or(0);
    (u64::from(tag) << 48) | ((ms << 10) & ((1 << 48) - 1))
}
pub use snapshot::CoreSnapshot;

type Answer = Result<Result<Vec<Change>, CommandError>, String>;

/// Changes kept per open alarm for its detail view: its first [`HISTORY_FIRST`] (how it opened
/// and was first handled) and the newest after them. A runaway device's thousandth press does
/// not grow it: ≈ 100 changes of ≈ 100 bytes bound an open alarm's history to ≈ 10 KB.
pub const HISTORY_PER_ALARM: usize = 100;

/// How many of an alarm's first changes its history always keeps.
pub const HISTORY_FIRST: usize = 10;

/// Open alarms' histories as a snapshot keeps them, by alarm.
pub(crate) type History = Vec<(AlarmId, Vec<Change>)>;

/// An open alarm on the read side: as it is now, and its changes, oldest first, at most
/// [`HISTORY_PER_ALARM`] (what the detail view shows; kept in the core's snapshots, so a
/// restart still shows what came before it).
pub(crate) struct View {
    alarm: Alarm,
    history: VecDeque<Change>,
}

/// State shared by the feed, the shard threads and the handle.
pub(crate) struct Shared {
    /// Open alarms by id: the read side.
    views: DashMap<AlarmId, View>,
    /// Commands waiting for their shard's answer, by request number.
    waiters: DashMap<u64, oneshot::Sender<Answer>>,
    /// The last request number given out.
    requests: AtomicU64,
    /// Per shard: every record before this offset is applied.
    applied: Vec<AtomicU64>,
    /// Inputs at or after this offset are live (metrics, the console's feed, door webhooks);
    /// earlier ones are the start-up replay. [`NOT_YET`] until a late node is told.
    live_from: AtomicU64,
    /// Emergency staffing mode, as last applied.
    emergency: AtomicBool,
    /// Live changes for the console, each with the alarm as it is after it (set once the
    /// console taps the feed; the core never waits for it).
    tap: OnceLock<TapSender>,
}

/// The console's end of the core's feed: each change with the alarm as it is after it, and the
/// flag the core sets when the queue was full.
pub type Tapped = (
    crossbeam_channel::Receiver<(Change, Option<Alarm>)>,
    Arc<AtomicBool>,
);

/// The core's end of the console's feed.
pub(crate) struct TapSender {
    tx: crossbeam_channel::Sender<(Change, Option<Alarm>)>,
    overflowed: Arc<AtomicBool>,
}

impl TapSender {
    /// Queues a change without waiting; a full queue marks the feed overflowed.
    pub(crate) fn send(&self, change: Change, alarm: Option<Alarm>) {
        if self.tx.try_send((change, alarm)).is_err() {
            self.overflowed.store(true, Ordering::Release);
        }
    }
}

/// Why a command got no answer from the core.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The core refused it (the alarm's state, owner, role…).
    #[error(transparent)]
    Refused(#[from] CommandError),
    /// It could not be journaled or the core is stopping.
    #[error("core unavailable: {0}")]
    Unavailable(String),
}

/// The running core: the handle for commands and the read side.
pub struct Engine {
    shared: Arc<Shared>,
    journal: Mutex<Option<Arc<dyn Journal>>>,
    committed: Committed,
    threads: Mutex<Vec<JoinHandle<()>>>,
    shards: usize,
    /// Where the restored snapshot left off (0: replayed from the start).
    restored: u64,
    /// The last record the restored snapshot includes, if it names it.
    anchor: Option<snapshot::Anchor>,
    /// The newest snapshot's offset on disk.
    snapshotted: Arc<AtomicU64>,
}

/// Where the core is, for `/core` and tests.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Status {
    /// Every record before this offset is applied by every shard.
    pub applied: u64,
    /// The journal's durable end.
    pub journal_end: u64,
    /// Open alarms.
    pub open_alarms: usize,
    /// Shards.
    pub shards: usize,
    /// Emergency staffing mode.
    pub emergency_mode: bool,
}

/// CRC-32C: spreads accounts over shards, and fingerprints a snapshot's last record.
pub(crate) const CRC32C: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// The shard an account belongs to (stable across restarts: snapshots depend on it).
pub fn shard_of(account: &str, shards: usize) -> usize {
    CRC32C.checksum(account.to_ascii_uppercase().as_bytes()) as usize % shards.max(1)
}

/// The one shard an input goes to, or `None` for every shard (ticks, set-up, centre-wide
/// commands). Alarm ids are `shard + k·n`, so a command finds its alarm's shard.
pub(crate) fn shard_for(input: &Input, n: usize) -> Option<usize> {
    match input {
        Input::Frame { account, .. } => Some(shard_of(account, n)),
        Input::Command(c) => match (c.command.alarm(), c.command.account()) {
            (Some(id), _) => Some(usize::try_from(id.0 % n.max(1) as u64).unwrap_or(0)),
            (None, Some(account)) => Some(shard_of(account, n)),
            (None, None) => None,
        },
        Input::Tick(_) | Input::Setup(_) | Input::SetupPart(_) | Input::Accounts { .. } => None,
    }
}

impl Engine {
    /// Starts the core on `journal`: restores the newest snapshot in `snap_dir`, then replays
    /// the journal after it and keeps following it; commands are journaled through it.
    pub fn start(
        config: &CoreConfig,
        accounts: &Accounts,
        settings: Settings,
        snap_dir: &Path,
        journal: Arc<dyn Journal>,
    ) -> anyhow::Result<Self> {
        Self::start_as(
            config,
            accounts,
            settings,
            snap_dir,
            journal,
            Node::default(),
        )
    }

    /// [`Engine::start`] as one of several nodes folding the same log.
    pub fn start_as(
        config: &CoreConfig,
        accounts: &Accounts,
        settings: Settings,
        snap_dir: &Path,
        journal: Arc<dyn Journal>,
        node: Node,
    ) -> anyhow::Result<Self> {
        let n = config.shards.max(1);
        let snap_dir = snap_dir.to_owned();
        let committed = journal.committed();
        let per_shard = setups_by_shard(accounts, n);
        // A late node cannot know the log's end yet: its snapshot is taken as it is, and checked
        // against the log when it joins.
        let end = (!node.late).then(|| committed.end().0);
        let Restored {
            mut shards,
            from,
            history: restored,
            anchor,
        } = restore(config, n, &snap_dir, &*journal, end)?;
        // Restored shards had these settings live; re-apply them without moving any clock.
        if from > 0 {
            for (shard, list) in shards.iter_mut().zip(&per_shard) {
                let at = shard.clock();
                shard.reconfigure(list, at);
            }
        }
        let shared = Arc::new(Shared {
            views: DashMap::new(),
            waiters: DashMap::new(),
            requests: AtomicU64::new(first_request(node.tag)),
            applied: (0..n).map(|_| AtomicU64::new(from)).collect(),
            live_from: AtomicU64::new(if node.late {
                NOT_YET
            } else {
                committed.end().0
            }),
            emergency: AtomicBool::new(shards.first().is_some_and(Shard::emergency_mode)),
            tap: OnceLock::new(),
        });
        let mut restored: std::collections::HashMap<_, _> = restored.into_iter().collect();
        for shard in &shards {
            for a in shard.open_alarms() {
                let history = restored.remove(&a.id).unwrap_or_default();
                let view = View {
                    alarm: a.clone(),
                    history: VecDeque::from(history),
                };
                shared.views.insert(a.id, view);
            }
        }
        let mut threads = Vec::new();
        let (door, door_thread) = match config.door_webhook.clone() {
            Some(hook) => {
                info!(url = %hook.url, "door grants go to the lock vendor's webhook");
                let (queue, thread) = door::start(hook, Arc::clone(&node.leads))?;
                (Some(queue), Some(thread))
            }
            None => (None, None),
        };
        let mut senders = Vec::new();
        let accounts = Arc::new(accounts.clone());
        for (index, (shard, setups)) in shards.into_iter().zip(per_shard).enumerate() {
            let cx = worker::Context {
                index,
                shards: n,
                setups,
                accounts: Arc::clone(&accounts),
                settings,
                shared: Arc::clone(&shared),
                door: door.clone(),
                counters: metrics::ShardCounters::default(),
            };
            let (tx, thread) = spawn_shard(shard, cx)?;
            senders.push(tx);
            threads.push(thread);
        }
        let snapshotted = Arc::new(AtomicU64::new(from));
        let feed = feed::Feed {
            snapshotted: Arc::clone(&snapshotted),
            tail: journal.follow(Offset(from)),
            committed: committed.clone(),
            shards: senders,
            snap_dir,
            snapshot_every: std::time::Duration::from_secs(config.snapshot_every_secs),
            parts: records::SetupParts::default(),
            last: anchor,
        };
        threads.push(
            std::thread::Builder::new()
                .name("vagt-core-feed".into())
                .spawn(move || feed.run())
                .context("starting the core feed thread")?,
        );
        // Last: it drains once the shard threads (its senders) are gone.
        drop(door);
        threads.extend(door_thread);
        Ok(Self {
            shared,
            journal: Mutex::new(Some(journal)),
            committed,
            threads: Mutex::new(threads),
            shards: n,
            restored: from,
            anchor,
            snapshotted,
        })
    }

    /// Journals a person's command and waits for its shard's answer.
    pub async fn command(
        &self,
        actor: Actor,
        command: Command,
        client: Option<SocketAddr>,
    ) -> Result<Vec<Change>, EngineError> {
        let request = self.shared.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let record = records::encode_command(&CommandRecord {
            request,
            at_ms: vagt_records::time::now_ms(),
            actor,
            client,
            command,
        })
        .map_err(|e| EngineError::Unavailable(e.to_string()))?;
        let (tx, rx) = oneshot::channel();
        // Registered before the record exists, so its shard always finds the waiter.
        self.shared.waiters.insert(request, tx);
        let shared = Arc::clone(&self.shared);
        let done = move |r: Result<Offset, JournalError>| {
            if let Err(e) = r
                && let Some((_, tx)) = shared.waiters.remove(&request)
            {
                let _ = tx.send(Err(e.to_string()));
            }
        };
        if let Err(e) = self.append(record, Box::new(done)).await {
            self.shared.waiters.remove(&request);
            return Err(EngineError::Unavailable(e));
        }
        match rx.await {
            Ok(Ok(result)) => Ok(result?),
            Ok(Err(e)) => Err(EngineError::Unavailable(e)),
            Err(_) => Err(EngineError::Unavailable("core stopped".into())),
        }
    }

    /// Journals a record the core does not apply (a console-layer refusal, for the audit
    /// trail) and waits until it is durable.
    pub async fn journal_audit(&self, record: Vec<u8>) -> Result<(), EngineError> {
        let (tx, rx) = oneshot::channel();
        let done = move |r: Result<Offset, JournalError>| {
            let _ = tx.send(r.map(|_| ()).map_err(|e| e.to_string()));
        };
        self.append(record, Box::new(done))
            .await
            .map_err(EngineError::Unavailable)?;
        match rx.await {
            Ok(r) => r.map_err(EngineError::Unavailable),
            Err(_) => Err(EngineError::Unavailable("journal closed".into())),
        }
    }

    /// Hands a record to the journal (blocking while its queue is full, off the async threads).
    async fn append(&self, record: Vec<u8>, done: vagt_journal::Done) -> Result<(), String> {
        match self.journal.lock().ok().and_then(|a| a.clone()) {
            Some(journal) => tokio::task::spawn_blocking(move || journal.append(record, done))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string())),
            None => Err("stopping".to_owned()),
        }
    }

    /// Open alarms, most urgent first (priority, then age).
    pub fn open_alarms(&self) -> Vec<Alarm> {
        let mut v: Vec<Alarm> = self
            .shared
            .views
            .iter()
            .map(|e| e.value().alarm.clone())
            .collect();
        v.sort_by_key(Alarm::queue_order);
        v
    }

    /// One open alarm.
    pub fn alarm(&self, id: AlarmId) -> Option<Alarm> {
        self.shared.views.get(&id).map(|v| v.value().alarm.clone())
    }

    /// An open alarm's changes, oldest first (the newest [`HISTORY_PER_ALARM`]), including
    /// those before the last restart.
    pub fn history(&self, id: AlarmId) -> Vec<Change> {
        self.shared
            .views
            .get(&id)
            .map(|v| v.history.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The live feed for the console: each change made after this call, with the alarm as it
    /// is after it, in a queue of `FEED_CAPACITY` the core never waits on (when it is full the
    /// flag is set and changes are dropped until the reader empties it). Taken once: `None`
    /// after the first call.
    pub fn tap(&self) -> Option<Tapped> {
        let (tx, rx) = crossbeam_channel::bounded(FEED_CAPACITY);
        let overflowed = Arc::new(AtomicBool::new(false));
        let sender = TapSender {
            tx,
            overflowed: Arc::clone(&overflowed),
        };
        self.shared.tap.set(sender).ok()?;
        Some((rx, overflowed))
    }

    /// Where the core is.
    pub fn status(&self) -> Status {
        Status {
            applied: self
                .shared
                .applied
                .iter()
                .map(|a| a.load(Ordering::Acquire))
                .min()
                .unwrap_or(0),
            journal_end: self.committed.end().0,
            open_alarms: self.shared.views.len(),
            shards: self.shards,
            emergency_mode: self.shared.emergency.load(Ordering::Acquire),
        }
    }

    /// Whether the start-up replay is done: every shard has applied the journal as it was when
    /// the core started (readiness; live records follow).
    pub fn caught_up(&self) -> bool {
        // A late node has nothing it could replay until it joins.
        let live_from = self.shared.live_from.load(Ordering::Acquire);
        live_from == NOT_YET || self.status().applied >= live_from
    }

    /// A late node joined: inputs from `end` on are live, earlier ones its start-up replay
    /// (call before the journal's end moves past `end`). Refused when the snapshot the core
    /// started from is past `end`: it was not taken from this log (the cluster database was
    /// replaced or restored from an older backup) and the core must not follow it from there;
    /// also when the log holds another record where the snapshot's last one was (the log was
    /// restored and has grown past the snapshot since).
    pub fn set_live_from(&self, end: u64) -> Result<(), String> {
        if self.restored > end {
            return Err(format!(
                "the core started from a snapshot at log position {}, past the cluster log's end {end}: {NOT_OF_THIS_LOG}",
                self.restored
            ));
        }
        let journal = self.journal.lock().ok().and_then(|j| j.clone());
        if let (Some(anchor), Some(journal)) = (self.anchor, journal)
            && let Err(why) = anchor.held_by(&*journal, self.restored)
        {
            return Err(format!(
                "the core started from a snapshot at log position {} whose last record the cluster log does not hold ({why}): {NOT_OF_THIS_LOG}",
                self.restored
            ));
        }
        self.shared.live_from.store(end, Ordering::Release);
        Ok(())
    }

    /// Every record before this offset is in the core's newest snapshot on disk: a restart
    /// replays nothing before it (segments wholly before it may be archived).
    pub fn snapshotted(&self) -> u64 {
        self.snapshotted.load(Ordering::Acquire)
    }

    /// Sets the gauges that are cheaper to compute at scrape time than to keep up to date.
    pub fn refresh_gauges(&self, now: u64) {
        use ::metrics::gauge;
        let mut counts = [[0u64; 5]; 5];
        let mut oldest_queued: Option<u64> = None;
        for e in &self.shared.views {
            let a = &e.value().alarm;
            let s = state_index(a.state);
            let p = usize::from(a.priority.clamp(1, 5) - 1);
            if let Some(c) = counts.get_mut(s).and_then(|r| r.get_mut(p)) {
                *c += 1;
            }
            if a.state == vagt_core::State::Queued {
                oldest_queued = Some(oldest_queued.map_or(a.opened_at, |o| o.min(a.opened_at)));
            }
        }
        for (s, row) in counts.iter().enumerate() {
            for (p, n) in row.iter().enumerate() {
                gauge!(metrics::CORE_OPEN, "state" => STATE_NAMES[s], "priority" => PRIORITY_NAMES[p])
                    .set(*n as f64);
            }
        }
        let age = oldest_queued.map_or(0, |t| now.saturating_sub(t));
        gauge!(metrics::CORE_OLDEST_UNCLAIMED).set(age as f64);
        let st = self.status();
        gauge!(metrics::CORE_LAG).set(st.journal_end.saturating_sub(st.applied) as f64);
    }

    /// Stops journaling commands (before the journal closes).
    pub fn stop_appending(&self) {
        if let Ok(mut a) = self.journal.lock() {
            *a = None;
        }
    }

    /// Waits for the core to apply everything journaled and write its last snapshot; call after
    /// the journal is closed.
    pub fn join(&self) {
        let threads = std::mem::take(
            &mut *self
                .threads
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for t in threads {
            let _ = t.join();
        }
    }
}

/// Starts shard `cx.index`'s thread; returns its input queue.
fn spawn_shard(
    shard: Shard,
    cx: worker::Context,
) -> anyhow::Result<(crossbeam_channel::Sender<worker::Msg>, JoinHandle<()>)> {
    let (tx, rx) = crossbeam_channel::bounded(64);
    let thread = std::thread::Builder::new()
        .name(format!("vagt-core-{}", cx.index))
        .spawn(move || worker::run(shard, &rx, &cx))
        .context("starting a core shard thread")?;
    Ok((tx, thread))
}

/// How a late-joining node's refusal of a snapshot ends.
const NOT_OF_THIS_LOG: &str = "the snapshot is not of this cluster's log (database replaced or restored?); stopping — the next start replays the log from PostgreSQL";

/// What the core starts from.
struct Restored {
    shards: Vec<Shard>,
    /// The first record to replay.
    from: u64,
    history: History,
    /// The restored snapshot's last record, if it names it.
    anchor: Option<snapshot::Anchor>,
}

/// The newest usable snapshot's shards and offset, or fresh shards replaying from 0 (a
/// snapshot ahead of the journal's end, not of this journal, or for another shard count, is not
/// used). `journal_end` is `None` when it is not known yet (a node joining its cluster late:
/// [`Engine::set_live_from`] checks the snapshot then).
fn restore(
    config: &CoreConfig,
    n: usize,
    snap_dir: &Path,
    journal: &dyn Journal,
    journal_end: Option<u64>,
) -> anyhow::Result<Restored> {
    // Nothing restored: every alarm's history is rebuilt by the replay from the start.
    let from_start = || {
        let (shards, from) = fresh(config, n);
        Restored {
            shards,
            from,
            history: Vec::new(),
            anchor: None,
        }
    };
    // Checked once the snapshot is known to end inside the journal (not for a late node).
    let not_held = |s: &CoreSnapshot| {
        journal_end?;
        s.last?.held_by(journal, s.offset).err()
    };
    let Some(s) = snapshot::load_latest(snap_dir)? else {
        return Ok(from_start());
    };
    if s.format != CoreSnapshot::FORMAT {
        info!(
            format = s.format,
            "snapshot of an older format; replaying the whole journal"
        );
        return Ok(from_start());
    }
    if journal_end.is_some_and(|end| s.offset > end) {
        warn!(
            offset = s.offset,
            journal_end = journal_end,
            "snapshot is ahead of the journal (journal cut back?); replaying the whole journal"
        );
        return Ok(from_start());
    }
    if s.shards.len() != n {
        info!("snapshot is for another shard count; replaying the whole journal");
        return Ok(from_start());
    }
    if let Some(why) = not_held(&s) {
        warn!(
            offset = s.offset,
            "snapshot is not of this journal ({why}: the journal or the cluster database was restored or replaced); replaying the whole journal"
        );
        return Ok(from_start());
    }
    info!(
        offset = s.offset,
        "core restored from snapshot; replaying the journal after it"
    );
    let shards: Vec<Shard> = s
        .shards
        .into_iter()
        .map(|snap| Shard::restore(snap, config.normal.clone(), config.emergency.clone()))
        .collect();
    Ok(Restored {
        shards,
        from: s.offset,
        history: s.history,
        anchor: s.last,
    })
}

/// Every account's core settings, on the shard that owns the account.
pub(crate) fn setups_by_shard(accounts: &Accounts, n: usize) -> Vec<Vec<(String, AccountSetup)>> {
    let mut per_shard = vec![Vec::new(); n];
    for (account, setup) in setups(accounts) {
        if let Some(v) = per_shard.get_mut(shard_of(&account, n)) {
            v.push((account, setup));
        }
    }
    per_shard
}

/// The core settings of the accounts on shard `index` of `n`.
pub(crate) fn setups_of_shard(
    accounts: &Accounts,
    index: usize,
    n: usize,
) -> Vec<(String, AccountSetup)> {
    setups(accounts)
        .into_iter()
        .filter(|(account, _)| shard_of(account, n) == index)
        .collect()
}

/// New, empty shards that will replay the journal from its start.
pub(crate) fn fresh(config: &CoreConfig, n: usize) -> (Vec<Shard>, u64) {
    let shards = (0..n as u64)
        .map(|i| {
            Shard::new(
                i,
                n as u64,
                config.normal.clone(),
                config.emergency.clone(),
                0,
            )
        })
        .collect();
    (shards, 0)
}

/// Changes the console feed holds for a slow client before it must resync.
const FEED_CAPACITY: usize = 65_536;

const STATE_NAMES: [&str; 5] = ["queued", "claimed", "forwarded", "accepted", "on_site"];
const PRIORITY_NAMES: [&str; 5] = ["1", "2", "3", "4", "5"];

fn state_index(s: vagt_core::State) -> usize {
    use vagt_core::State;
    match s {
        State::Queued => 0,
        State::Claimed => 1,
        State::Forwarded => 2,
        State::Accepted => 3,
        State::OnSite | State::Closed | State::Cancelled => 4,
    }
}

/// The core settings of every account in the accounts file.
pub(crate) fn setups(accounts: &Accounts) -> Vec<(String, AccountSetup)> {
    accounts
        .entries()
        .map(|e| {
            let team = match e.call_type {
                CallType::Sygeplejekald => e.district.clone().or_else(|| e.provider.clone()),
                _ => e.provider.clone().or_else(|| e.district.clone()),
            };
            let setup = AccountSetup {
                supervision_secs: e.supervision_interval_secs,
                team,
                lock: e.door_lock.clone(),
                backup_team: e.backup_team.clone(),
                priorities: e.priorities.clone(),
            };
            (e.account.to_ascii_uppercase(), setup)
        })
        .collect()
}
