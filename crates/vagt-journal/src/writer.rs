//! The writer thread: group commit.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};
use event_listener::Event;

use crate::api::{Follow, Records, Refused, Room};
use crate::lock::DirLock;
use crate::read::Reader;
use crate::segment::{self, RecoveryReport};
use crate::tail::{Committed, Tail};
use crate::{Config, JournalError, Offset};

pub(crate) use crate::api::Done;

/// One record on its way to the writer.
struct Append {
    payload: Vec<u8>,
    done: Done,
}

/// What the writer's queue carries.
enum Msg {
    /// A record to commit.
    Append(Append),
    /// Commit everything before this, then stop (appenders may still be alive).
    Stop,
}

/// What one group commit did; handed to the `on_commit` hook (metrics).
#[derive(Clone, Copy, Debug)]
pub struct CommitStats {
    /// Records in the batch.
    pub records: usize,
    /// Bytes written.
    pub bytes: usize,
    /// Time to write and fdatasync the batch.
    pub write_and_sync: Duration,
}

/// Told once why the writer failed.
type OnFailure = Box<dyn FnOnce(&str) + Send>;

/// Whether the writer has failed, and who to tell.
#[derive(Default)]
struct FailState {
    why: Option<String>,
    notify: Option<OnFailure>,
}

type Failure = Arc<Mutex<FailState>>;

/// The segment log, open: the owner of its writer thread. Hand out [`Appender`]s (the
/// [`crate::Journal`] implementation) to the ACK path and the engine; [`SegmentJournal::close`]
/// commits what is queued once they are all gone.
pub struct SegmentJournal {
    tx: Option<Sender<Msg>>,
    thread: Option<JoinHandle<()>>,
    recovery: RecoveryReport,
    committed: Committed,
    failure: Failure,
    room: Arc<Event>,
    dir: PathBuf,
}

/// A cheap, clonable handle for appending from many tasks and following what is durable.
#[derive(Clone)]
pub struct Appender {
    tx: Sender<Msg>,
    room: Arc<Event>,
    committed: Committed,
    dir: PathBuf,
}

impl SegmentJournal {
    /// Opens the journal (locking its directory, recovering it) and starts the writer thread.
    /// `on_commit` runs on the writer thread after every batch.
    pub fn open(
        config: Config,
        on_commit: impl Fn(&CommitStats) + Send + 'static,
    ) -> Result<Self, JournalError> {
        segment::create_dir(&config.dir)?;
        let config_dir = config.dir.clone();
        let lock = DirLock::acquire(&config.dir)?;
        let (recovery, segment, file) = segment::recover(&config.dir)?;
        let failure = Failure::default();
        let (tx, rx) = bounded(config.queue_capacity.max(1));
        let committed = Committed::new(recovery.end);
        let room = Arc::new(Event::new());
        let state = Writer {
            committed: committed.clone(),
            dir: config.dir.clone(),
            segment_path: segment.path,
            segment_start: segment.base,
            file,
            end: recovery.end.0,
            failed: None,
            failure: Arc::clone(&failure),
            room: Arc::clone(&room),
            config,
            _lock: lock,
        };
        let thread = std::thread::Builder::new()
            .name("vagt-journal".into())
            .spawn(move || state.run(&rx, &on_commit))
            .map_err(|source| JournalError::Io {
                path: PathBuf::from("<journal thread>"),
                source,
            })?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
            recovery,
            committed,
            failure,
            room,
            dir: config_dir,
        })
    }

    /// Runs `notify` (on the writer thread, or now if it already happened) when a write or
    /// fsync fails. From then on the journal takes nothing: the process should stop, and be
    /// restarted to recover (fail-stop).
    pub fn on_failure(&self, notify: impl FnOnce(&str) + Send + 'static) {
        let mut state = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        match &state.why {
            Some(why) => {
                let why = why.clone();
                drop(state);
                notify(&why);
            }
            None => state.notify = Some(Box::new(notify)),
        }
    }

    /// What recovery found when the journal was opened.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// The durable end, for followers ([`crate::Tail`]).
    pub fn committed(&self) -> Committed {
        self.committed.clone()
    }

    /// A handle for appending from other threads or tasks.
    pub fn appender(&self) -> Result<Appender, JournalError> {
        self.tx
            .clone()
            .map(|tx| Appender {
                tx,
                room: Arc::clone(&self.room),
                committed: self.committed.clone(),
                dir: self.dir.clone(),
            })
            .ok_or(JournalError::Closed)
    }

    /// Stops the writer after it has committed everything queued before this call, and waits
    /// for it. Appenders still alive are refused from then on ([`crate::Refused::Closed`]).
    pub fn close(mut self) {
        self.stop();
    }

    /// Tells the writer to stop after what is queued now — even while appenders are still
    /// alive (a task stuck past the shutdown grace holds one) — and waits for it.
    fn stop(&mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Msg::Stop);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SegmentJournal {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Appender {
    /// Queues `payload`; `done` runs on the writer thread once the record is durable (or failed).
    /// Blocks while the queue is full: push-back for synchronous callers.
    pub fn append(
        &self,
        payload: Vec<u8>,
        done: impl FnOnce(Result<Offset, JournalError>) + Send + 'static,
    ) -> Result<(), JournalError> {
        self.tx
            .send(Msg::Append(Append {
                payload,
                done: Box::new(done),
            }))
            .map_err(|_| JournalError::Closed)
    }

    /// Records waiting for the writer.
    pub fn queued(&self) -> usize {
        self.tx.len()
    }
}

impl crate::Journal for Appender {
    fn try_append(&self, payload: Vec<u8>, done: Done) -> Result<(), Refused> {
        match self.tx.try_send(Msg::Append(Append { payload, done })) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(Msg::Append(a))) => Err(Refused::Full(a.payload, a.done)),
            Err(TrySendError::Full(Msg::Stop) | TrySendError::Disconnected(_)) => {
                Err(Refused::Closed)
            }
        }
    }

    fn room(&self) -> Room {
        let listener = self.room.listen();
        if self.tx.len() < self.tx.capacity().unwrap_or(usize::MAX) {
            // Room already (the writer drained while we registered): do not wait for the next
            // batch's notice.
            return Box::pin(std::future::ready(()));
        }
        Box::pin(listener)
    }

    fn append(&self, payload: Vec<u8>, done: Done) -> Result<(), JournalError> {
        self.tx
            .send(Msg::Append(Append { payload, done }))
            .map_err(|_| JournalError::Closed)
    }

    fn committed(&self) -> Committed {
        self.committed.clone()
    }

    fn follow(&self, from: Offset) -> Box<dyn Follow> {
        Box::new(Tail::new(&self.dir, from))
    }

    fn written_since(&self, since: SystemTime) -> Result<Records, JournalError> {
        // Segments last written before `since` hold only older records: skip them.
        let first = crate::segments(&self.dir)?
            .into_iter()
            .find(|s| s.modified.is_none_or(|t| t >= since));
        match first {
            Some(first) => Ok(Box::new(Reader::open(&self.dir, first.base)?)),
            None => Ok(Box::new(std::iter::empty())),
        }
    }
}

struct Writer {
    dir: PathBuf,
    segment_path: PathBuf,
    segment_start: u64,
    file: File,
    end: u64,
    failed: Option<String>,
    failure: Failure,
    room: Arc<Event>,
    config: Config,
    committed: Committed,
    _lock: DirLock,
}

impl Writer {
    fn run(mut self, rx: &Receiver<Msg>, on_commit: &dyn Fn(&CommitStats)) {
        let mut batch: Vec<Append> = Vec::with_capacity(self.config.max_batch);
        let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
        let mut stopping = false;
        // Block for the first record, then take whatever else is already waiting.
        while let Ok(Msg::Append(first)) = rx.recv() {
            batch.push(first);
            while batch.len() < self.config.max_batch {
                match rx.try_recv() {
                    Ok(Msg::Append(a)) => batch.push(a),
                    Ok(Msg::Stop) => {
                        stopping = true;
                        break;
                    }
                    Err(_) => break,
                }
            }
            // The queue has room now: wake appenders waiting for it (no cost when none waits).
            self.room.notify(usize::MAX);
            self.commit(&mut batch, &mut buf, on_commit);
            if let Some(why) = &self.failed {
                // Fail-stop: fail what is queued and take nothing more.
                while let Ok(Msg::Append(a)) = rx.try_recv() {
                    (a.done)(Err(JournalError::WriteFailed(why.clone())));
                }
                break;
            }
            if stopping {
                break;
            }
        }
        self.committed.close();
        // Appenders waiting for room find the journal closed instead of waiting forever.
        self.room.notify(usize::MAX);
    }

    fn commit(
        &mut self,
        batch: &mut Vec<Append>,
        buf: &mut Vec<u8>,
        on_commit: &dyn Fn(&CommitStats),
    ) {
        let started = Instant::now();
        let result = self.rotate_if_full().and_then(|()| {
            buf.clear();
            let mut offsets = Vec::with_capacity(batch.len());
            for a in batch.iter() {
                let at = Offset(self.end + buf.len() as u64);
                offsets.push(segment::encode(&a.payload, buf).map(|()| at));
            }
            self.write_and_sync(buf)?;
            Ok(offsets)
        });
        match result {
            Ok(offsets) => {
                self.end += buf.len() as u64;
                let stats = CommitStats {
                    records: batch.len(),
                    bytes: buf.len(),
                    write_and_sync: started.elapsed(),
                };
                // Before the callbacks: whoever is told "durable" (an ACK sent, a command
                // answered) can already find the record through `Committed`.
                self.committed.publish(self.end);
                for (a, offset) in batch.drain(..).zip(offsets) {
                    (a.done)(offset);
                }
                on_commit(&stats);
            }
            Err(e) => {
                // The data may be partly on disk but was never synced: nothing in this batch is
                // acknowledged, and nothing of it may be read back as stored after a restart.
                let why = match self.cut_unsynced() {
                    Ok(()) => e.to_string(),
                    Err(cut) => format!("{e}; cutting the unsynced batch off failed too: {cut}"),
                };
                for a in batch.drain(..) {
                    (a.done)(Err(JournalError::WriteFailed(why.clone())));
                }
                self.fail(why);
            }
        }
    }

    /// Cuts the segment back to the last synced byte: a batch whose write or fsync failed must
    /// not be read back on restart (its bytes may sit in the page cache without ever reaching
    /// the disk, and its frames were never acknowledged).
    fn cut_unsynced(&mut self) -> Result<(), JournalError> {
        let synced = self.end - self.segment_start;
        self.file
            .set_len(synced)
            .and_then(|()| self.file.sync_all())
            .map_err(|source| JournalError::Io {
                path: self.segment_path.clone(),
                source,
            })
    }

    /// Records the failure (once) and tells the owner.
    fn fail(&mut self, why: String) {
        self.failed = Some(why.clone());
        let notify = {
            let mut state = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
            state.why = Some(why.clone());
            state.notify.take()
        };
        if let Some(notify) = notify {
            notify(&why);
        }
    }

    fn write_and_sync(&mut self, buf: &[u8]) -> Result<(), JournalError> {
        let io = |source| JournalError::Io {
            path: self.segment_path.clone(),
            source,
        };
        self.file.write_all(buf).map_err(io)?;
        if self.config.fsync {
            self.file.sync_data().map_err(|source| JournalError::Io {
                path: self.segment_path.clone(),
                source,
            })?;
        }
        Ok(())
    }

    fn rotate_if_full(&mut self) -> Result<(), JournalError> {
        if self.end - self.segment_start < self.config.segment_bytes {
            return Ok(());
        }
        let (seg, file) = segment::create(&self.dir, self.end)?;
        self.segment_path = seg.path;
        self.segment_start = seg.base;
        self.file = file;
        Ok(())
    }
}
