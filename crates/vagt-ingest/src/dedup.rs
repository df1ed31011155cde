//! Retransmission suppression (DESIGN.md promise 4): the same (receiver, line, account,
//! sequence, content) inside the window is acknowledged again but stored once.
//!
//! Two generations of concurrent maps (`dashmap`): inserts go to the current one, lookups check
//! both, and every `window` the older generation is dropped whole — no per-entry timers, no
//! sweeps. A key lives at least one window.
//!
//! Memory is bounded by `max_keys` too: when the current generation holds half of them it is
//! rotated early (WARN, `vagt_dedup_early_rotations_total`). A flood of distinct frames then
//! shortens the window instead of growing the process without limit; a retransmission older
//! than the shortened window is stored a second time (the core treats it as a repeat), never
//! lost.
//!
//! A retransmission may arrive while the first copy is still being committed. It then waits for
//! that commit and is answered only if it succeeded: an ACK never precedes the fsync.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, UNIX_EPOCH};

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use event_listener::Event;
use metrics::counter;
use tracing::warn;
use vagt_journal::{Journal, JournalError, Offset};
pub use vagt_records::DedupKey;
use vagt_records::FrameRecord;

use crate::metrics as m;

/// A key's state: being committed (wait on its outcome) or committed at an offset.
#[derive(Clone, Debug)]
enum Slot {
    Pending(Arc<Outcome>),
    Committed(Offset),
}

/// The outcome of a commit in flight, for retransmissions that arrive meanwhile: one atomic
/// and an event that costs nothing until someone listens (almost every message is sent once,
/// so almost no commit has a listener).
#[derive(Debug, Default)]
struct Outcome {
    /// [`Outcome::PENDING`], [`Outcome::FAILED`], or the offset + 1.
    state: AtomicU64,
    decided: Event,
}

impl Outcome {
    const PENDING: u64 = 0;
    const FAILED: u64 = u64::MAX;

    fn set(&self, offset: Option<Offset>) {
        let v = offset.map_or(Self::FAILED, |o| o.0.saturating_add(1));
        self.state.store(v, Ordering::Release);
        self.decided.notify(usize::MAX);
    }

    fn get(&self) -> Option<Option<Offset>> {
        match self.state.load(Ordering::Acquire) {
            Self::PENDING => None,
            Self::FAILED => Some(None),
            v => Some(Some(Offset(v - 1))),
        }
    }

    async fn wait(&self) -> Option<Offset> {
        loop {
            if let Some(o) = self.get() {
                return o;
            }
            // Listen before looking again: a decision in between is not missed.
            let listener = self.decided.listen();
            if let Some(o) = self.get() {
                return o;
            }
            listener.await;
        }
    }
}

type Map = DashMap<DedupKey, Slot>;

struct Generations {
    current: Arc<Map>,
    previous: Arc<Map>,
    rotated: Instant,
}

/// The dedup window.
pub struct Dedup {
    generations: RwLock<Generations>,
    window: Duration,
    /// Keys one generation may take before it is rotated early (half of `max_keys`).
    per_generation: usize,
    /// Keys inserted into the current generation.
    inserted: AtomicUsize,
}

/// The result of [`Dedup::claim`].
pub enum Claim {
    /// First sighting: store it, then call [`NewClaim::committed`] or [`NewClaim::failed`].
    New(NewClaim),
    /// A retransmission: [`Duplicate::wait`] tells whether the original was committed.
    Duplicate(Duplicate),
}

/// The right (and duty) to store a new message.
pub struct NewClaim {
    key: DedupKey,
    map: Arc<Map>,
    outcome: Arc<Outcome>,
    done: bool,
}

/// A retransmission of a message seen before.
pub struct Duplicate(Slot);

impl Dedup {
    /// An empty window of `window` length holding at most `max_keys` keys (at least 2).
    pub fn new(window: Duration, max_keys: usize) -> Self {
        Self {
            generations: RwLock::new(Generations {
                current: Arc::new(Map::new()),
                previous: Arc::new(Map::new()),
                rotated: Instant::now(),
            }),
            window,
            per_generation: (max_keys / 2).max(1),
            inserted: AtomicUsize::new(0),
        }
    }

    /// Whether the current generation is due: a window old, or full.
    fn due(&self, g: &Generations) -> Option<&'static str> {
        if g.rotated.elapsed() >= self.window {
            Some("window")
        } else if self.inserted.load(Ordering::Relaxed) >= self.per_generation {
            Some("full")
        } else {
            None
        }
    }

    fn maps(&self) -> (Arc<Map>, Arc<Map>) {
        {
            let g = self.generations.read().unwrap_or_else(|e| e.into_inner());
            if self.due(&g).is_none() {
                return (Arc::clone(&g.current), Arc::clone(&g.previous));
            }
        }
        let mut g = self.generations.write().unwrap_or_else(|e| e.into_inner());
        if let Some(why) = self.due(&g) {
            if why == "full" {
                counter!(m::DEDUP_EARLY_ROTATIONS).increment(1);
                warn!(
                    keys = self.per_generation,
                    held_secs = g.rotated.elapsed().as_secs(),
                    "dedup window full: rotated early (retransmissions older than this are \
                     stored again)"
                );
            }
            g.previous = std::mem::replace(&mut g.current, Arc::new(Map::new()));
            g.rotated = Instant::now();
            self.inserted.store(0, Ordering::Relaxed);
        }
        (Arc::clone(&g.current), Arc::clone(&g.previous))
    }

    /// Atomically claims `key`: exactly one caller gets [`Claim::New`].
    pub fn claim(&self, key: DedupKey) -> Claim {
        let (current, previous) = self.maps();
        if let Some(slot) = previous.get(&key) {
            return Claim::Duplicate(Duplicate(slot.clone()));
        }
        let outcome = match current.entry(key) {
            Entry::Occupied(e) => return Claim::Duplicate(Duplicate(e.get().clone())),
            Entry::Vacant(e) => {
                let outcome = Arc::new(Outcome::default());
                e.insert(Slot::Pending(Arc::clone(&outcome)));
                self.inserted.fetch_add(1, Ordering::Relaxed);
                outcome
            }
        };
        Claim::New(NewClaim {
            key,
            map: current,
            outcome,
            done: false,
        })
    }

    /// Records a message already in the journal (rebuilding the window at start-up).
    pub fn insert_committed(&self, key: DedupKey, offset: Offset) {
        let (current, _) = self.maps();
        if current.insert(key, Slot::Committed(offset)).is_none() {
            self.inserted.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Re-inserts the keys of the frames the journal received within the window (start-up:
    /// a device retransmitting across a restart is still deduplicated); returns how many.
    pub fn rebuild(&self, journal: &dyn Journal) -> Result<usize, RebuildError> {
        // One reading of the clock: the cutoff in record time and as the file times see it.
        let cutoff_ms = vagt_records::time::now_ms()
            .saturating_sub(i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX));
        let cutoff = UNIX_EPOCH + Duration::from_millis(u64::try_from(cutoff_ms).unwrap_or(0));
        let mut n = 0;
        for r in journal.written_since(cutoff)? {
            let r = r?;
            let rec = FrameRecord::decode(&r.payload).map_err(|e| RebuildError::Record {
                offset: r.offset,
                why: format!("{e:#}"),
            })?;
            if let Some(rec) = rec
                && rec.meta.received_at_ms >= cutoff_ms
            {
                self.insert_committed(rec.dedup_key(), r.offset);
                n += 1;
            }
        }
        Ok(n)
    }

    /// Keys held (both generations).
    pub fn len(&self) -> usize {
        let (current, previous) = self.maps();
        current.len() + previous.len()
    }

    /// Whether no keys are held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why the window could not be rebuilt from the journal.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// Reading the journal failed.
    #[error("rebuilding the dedup window: {0}")]
    Journal(#[from] JournalError),
    /// A frame record did not decode.
    #[error("rebuilding the dedup window: record at {offset}: {why}")]
    Record {
        /// Where it is.
        offset: Offset,
        /// What is wrong.
        why: String,
    },
}

impl NewClaim {
    /// The message is durable at `offset`: later retransmissions are acknowledged.
    pub fn committed(mut self, offset: Offset) {
        if let Some(mut slot) = self.map.get_mut(&self.key) {
            *slot = Slot::Committed(offset);
        }
        self.outcome.set(Some(offset));
        self.done = true;
    }

    /// Storing failed: forget the key so a retransmission is stored afresh.
    pub fn failed(mut self) {
        self.forget();
    }

    fn forget(&mut self) {
        self.map.remove(&self.key);
        self.outcome.set(None);
        self.done = true;
    }
}

impl Drop for NewClaim {
    fn drop(&mut self) {
        // A claim dropped without an outcome (task cancelled) must not block retransmissions.
        if !self.done {
            self.forget();
        }
    }
}

impl Duplicate {
    /// Waits for the original's commit: `Some(offset)` if it is durable, `None` if it failed.
    pub async fn wait(self) -> Option<Offset> {
        match self.0 {
            Slot::Committed(o) => Some(o),
            Slot::Pending(outcome) => outcome.wait().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seq: &str) -> DedupKey {
        DedupKey::new(None, Some("0"), "1234", seq, 7)
    }

    #[tokio::test]
    async fn second_claim_waits_for_the_first_commit() {
        let d = Dedup::new(Duration::from_secs(60), 1_000);
        let Claim::New(first) = d.claim(key("0001")) else {
            panic!("new")
        };
        let Claim::Duplicate(dup) = d.claim(key("0001")) else {
            panic!("dup")
        };
        let waiter = tokio::spawn(dup.wait());
        tokio::task::yield_now().await;
        assert!(
            !waiter.is_finished(),
            "a duplicate is not answered before the commit"
        );
        first.committed(Offset(42));
        assert_eq!(waiter.await.unwrap(), Some(Offset(42)));
        let Claim::Duplicate(again) = d.claim(key("0001")) else {
            panic!("dup")
        };
        assert_eq!(again.wait().await, Some(Offset(42)));
        assert!(matches!(d.claim(key("0002")), Claim::New(_)));
    }

    #[tokio::test]
    async fn failed_commit_releases_the_key() {
        let d = Dedup::new(Duration::from_secs(60), 1_000);
        let Claim::New(first) = d.claim(key("0001")) else {
            panic!("new")
        };
        let Claim::Duplicate(dup) = d.claim(key("0001")) else {
            panic!("dup")
        };
        first.failed();
        assert_eq!(dup.wait().await, None);
        assert!(matches!(d.claim(key("0001")), Claim::New(_)));
    }

    #[tokio::test]
    async fn keys_expire_after_two_rotations() {
        let d = Dedup::new(Duration::from_millis(30), 1_000);
        d.insert_committed(key("0001"), Offset(1));
        std::thread::sleep(Duration::from_millis(35));
        assert!(
            matches!(d.claim(key("0001")), Claim::Duplicate(_)),
            "kept one window"
        );
        std::thread::sleep(Duration::from_millis(35));
        // The claim above inserted nothing new; two rotations later the key is gone.
        assert!(matches!(d.claim(key("0001")), Claim::New(_)));
    }

    #[test]
    fn a_flood_of_distinct_keys_stays_within_max_keys() {
        let d = Dedup::new(Duration::from_secs(3600), 100);
        for i in 0..10_000u32 {
            let Claim::New(c) = d.claim(key(&format!("{:04}", i % 10_000))) else {
                panic!("distinct keys are new")
            };
            c.committed(Offset(u64::from(i)));
            assert!(d.len() <= 100, "{} keys held after {i}", d.len());
        }
        // The newest keys are still recognised.
        assert!(matches!(d.claim(key("9999")), Claim::Duplicate(_)));
        assert!(matches!(d.claim(key("9950")), Claim::Duplicate(_)));
    }
}
