//! What the ACK path and the engine need of storage, as a trait: [`Journal`].
//!
//! The segment log of this crate ([`crate::Appender`], a handle of a [`crate::SegmentJournal`])
//! is its first implementation; a replicated one (PostgreSQL, the cluster) plugs in behind the
//! same trait without touching the ACK path or the engine.
//!
//! * **Append** a record and be told, through its [`Done`] callback, when it is durable (or that
//!   it never will be). The queue is bounded: [`Journal::try_append`] hands a record back when
//!   the queue is full, and [`Journal::room`] is a future that resolves when it may have room —
//!   an async caller waits on it instead of polling.
//! * **Follow** what is durable: [`Journal::committed`] is the durable end, and
//!   [`Journal::follow`] reads the records from an offset up to it, in offset order.

use std::future::Future;
use std::pin::Pin;
use std::time::SystemTime;

use crate::read::Record;
use crate::tail::Committed;
use crate::{JournalError, Offset};

/// Called once with a record's outcome: its offset once durable, or why it is not.
pub type Done = Box<dyn FnOnce(Result<Offset, JournalError>) + Send>;

/// Why [`Journal::try_append`] did not take a record.
pub enum Refused {
    /// The queue is full: the record and its callback, to retry once there is
    /// [`Journal::room`].
    Full(Vec<u8>, Done),
    /// The journal takes nothing more (stopping, or failed).
    Closed,
}

/// A future that resolves when the append queue may have room (it may resolve spuriously:
/// retry, and wait again if still full).
pub type Room = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A reader of durable records from a position on.
pub trait Follow: Send {
    /// Appends to `out` every record from the position up to `end` (a durable end from
    /// [`Journal::committed`]) and moves past them.
    fn read_to(&mut self, end: Offset, out: &mut Vec<Record>) -> Result<(), JournalError>;

    /// The offset of the next record to be read.
    fn position(&self) -> Offset;
}

/// Records read back in offset order.
pub type Records = Box<dyn Iterator<Item = Result<Record, JournalError>> + Send>;

/// Durable, ordered storage of opaque records: what the ACK path appends to and the engine
/// follows.
pub trait Journal: Send + Sync {
    /// Queues `payload` without waiting; `done` runs once it is durable or has failed.
    fn try_append(&self, payload: Vec<u8>, done: Done) -> Result<(), Refused>;

    /// Resolves when the queue may have room for [`Journal::try_append`]. It must start
    /// listening before it looks at the queue (resolving at once if there is room), so a caller
    /// refused a moment ago cannot miss the writer draining in between.
    fn room(&self) -> Room;

    /// Queues `payload`, blocking the calling thread while the queue is full (for synchronous
    /// callers: the engine's commands, start-up).
    fn append(&self, payload: Vec<u8>, done: Done) -> Result<(), JournalError>;

    /// The durable end, published after every commit.
    fn committed(&self) -> Committed;

    /// A reader of durable records starting at `from` (a record boundary).
    fn follow(&self, from: Offset) -> Box<dyn Follow>;

    /// Every record that may have been written at or after `since` (older ones may be
    /// included: the caller filters by the time inside the record), e.g. to rebuild the
    /// dedup window at start.
    fn written_since(&self, since: SystemTime) -> Result<Records, JournalError>;
}
