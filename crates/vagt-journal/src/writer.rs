//! The writer thread: group commit.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};

use crate::lock::DirLock;
use crate::segment::{self, RecoveryReport};
use crate::tail::Committed;
use crate::{Config, JournalError, Offset};

/// Called with the outcome of one append, after the batch holding it was synced (or failed).
type Done = Box<dyn FnOnce(Result<Offset, JournalError>) + Send>;

/// One record on its way to the writer.
struct Append {
    payload: Vec<u8>,
    done: Done,
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

/// The open journal: a handle to its writer thread.
pub struct Journal {
    tx: Option<Sender<Append>>,
    thread: Option<JoinHandle<()>>,
    recovery: RecoveryReport,
    committed: Committed,
    failure: Failure,
}

/// A cheap, clonable handle for appending from many tasks.
#[derive(Clone)]
pub struct Appender {
    tx: Sender<Append>,
}

impl Journal {
    /// Opens the journal (locking its directory, recovering it) and starts the writer thread.
    /// `on_commit` runs on the writer thread after every batch.
    pub fn open(
        config: Config,
        on_commit: impl Fn(&CommitStats) + Send + 'static,
    ) -> Result<Self, JournalError> {
        segment::create_dir(&config.dir)?;
        let lock = DirLock::acquire(&config.dir)?;
        let (recovery, segment, file) = segment::recover(&config.dir)?;
        let failure = Failure::default();
        let (tx, rx) = bounded(config.queue_capacity.max(1));
        let committed = Committed::new(recovery.end);
        let state = Writer {
            committed: committed.clone(),
            dir: config.dir.clone(),
            segment_path: segment.path,
            segment_start: segment.base,
            file,
            end: recovery.end.0,
            failed: None,
            failure: Arc::clone(&failure),
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

    /// Why the writer failed, if it did.
    pub fn failed(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .why
            .clone()
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
            .map(|tx| Appender { tx })
            .ok_or(JournalError::Closed)
    }

    /// Stops the writer after it has committed everything queued, and waits for it. Every
    /// [`Appender`] must have been dropped, or this waits for them.
    pub fn close(mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
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
            .send(Append {
                payload,
                done: Box::new(done),
            })
            .map_err(|_| JournalError::Closed)
    }

    /// Like [`Appender::append`] but never blocks: a full queue returns the payload and the
    /// callback in `Err(Some(..))` so an async caller can wait and retry; `Err(None)` means closed.
    #[expect(
        clippy::type_complexity,
        reason = "returns exactly what the caller handed in"
    )]
    pub fn try_append(
        &self,
        payload: Vec<u8>,
        done: impl FnOnce(Result<Offset, JournalError>) + Send + 'static,
    ) -> Result<
        (),
        Option<(
            Vec<u8>,
            Box<dyn FnOnce(Result<Offset, JournalError>) + Send>,
        )>,
    > {
        match self.tx.try_send(Append {
            payload,
            done: Box::new(done),
        }) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(a)) => Err(Some((a.payload, a.done))),
            Err(TrySendError::Disconnected(_)) => Err(None),
        }
    }

    /// Records waiting for the writer.
    pub fn queued(&self) -> usize {
        self.tx.len()
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
    config: Config,
    committed: Committed,
    _lock: DirLock,
}

impl Writer {
    fn run(mut self, rx: &Receiver<Append>, on_commit: &dyn Fn(&CommitStats)) {
        let mut batch: Vec<Append> = Vec::with_capacity(self.config.max_batch);
        let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
        // Block for the first record, then take whatever else is already waiting.
        while let Ok(first) = rx.recv() {
            batch.push(first);
            while batch.len() < self.config.max_batch {
                match rx.try_recv() {
                    Ok(a) => batch.push(a),
                    Err(_) => break,
                }
            }
            self.commit(&mut batch, &mut buf, on_commit);
            if let Some(why) = &self.failed {
                // Fail-stop: fail what is queued and take nothing more.
                while let Ok(a) = rx.try_recv() {
                    (a.done)(Err(JournalError::WriteFailed(why.clone())));
                }
                break;
            }
        }
        self.committed.close();
    }

    fn commit(
        &mut self,
        batch: &mut Vec<Append>,
        buf: &mut Vec<u8>,
        on_commit: &dyn Fn(&CommitStats),
    ) {
        if let Some(why) = &self.failed {
            for a in batch.drain(..) {
                (a.done)(Err(JournalError::WriteFailed(why.clone())));
            }
            return;
        }
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
