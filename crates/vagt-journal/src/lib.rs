//! Vagt's journal: an append-only, segmented log of opaque records.
//!
//! * **Format.** Segment files `<base offset, 20 digits>.seg` in one directory. A record is
//!   `len: u32 LE | crc32c(payload): u32 LE | payload`. A record's [`Offset`] is its global byte
//!   position (segment base + position in the segment), so offsets only grow.
//! * **Group commit.** One writer thread owns the files. Appenders hand records over a bounded
//!   channel; the writer takes the first, drains whatever else is waiting (up to a batch cap),
//!   writes them all, calls `fdatasync` once, and only then completes each record's callback.
//!   The cost of an fsync is shared by every record that arrived while the previous one ran.
//! * **Recovery.** On open, every segment is scanned; a torn tail (a record cut short or with a
//!   bad checksum at the end of the last segment, e.g. after a crash mid-write, followed by
//!   nothing valid) is truncated away. Damage anywhere else — in an earlier segment, or in the
//!   last one with valid records after it — is an error: that data was once acknowledged.
//!   [`salvage`] copies what is still valid out of a damaged journal.
//! * **Failure is final.** A failed write or fsync is never retried (after `EIO` the kernel may
//!   have dropped the unwritten pages and a second fsync would "succeed"): the writer cuts the
//!   segment back to the last synced byte, fails the batch and every later append, and tells
//!   the owner ([`SegmentJournal::on_failure`]) so the process can stop and be restarted.
//! * **One writer.** The journal directory is locked (`flock` on `LOCK`, which holds the
//!   holder's pid) for as long as the journal is open.
//!
//! The crate is synchronous (std threads, crossbeam) and knows nothing of what records mean.

#![cfg_attr(not(test), warn(clippy::indexing_slicing))]

mod api;
mod archive;
mod backup;
mod lock;
mod read;
mod salvage;
mod segment;
mod tail;
mod writer;

use std::fmt;
use std::path::PathBuf;

pub use api::{Done, Follow, Journal, Records, Refused, Room};
pub use archive::{ArchiveReport, archive};
pub use backup::{BackupReport, backup};
pub use read::{Reader, Record, SegmentInfo, segments, verify};
pub use salvage::{Lost, SalvageReport, salvage};
pub use segment::RecoveryReport;
pub use segment::archive_dir;
pub use tail::{Committed, Tail};
pub use writer::{Appender, CommitStats, SegmentJournal};

/// A record's position: its byte offset in the whole journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Offset(pub u64);

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Bytes before a record's payload (length + checksum).
pub const RECORD_HEADER_LEN: u64 = 8;
/// The largest payload accepted (a DC-09 frame is at most 4 KiB; records carry metadata too).
pub const MAX_RECORD_LEN: u32 = 1 << 20;

/// How a journal is opened.
#[derive(Clone, Debug)]
pub struct Config {
    /// Directory of the segment files (created if missing).
    pub dir: PathBuf,
    /// Start a new segment once the current one reaches this size.
    pub segment_bytes: u64,
    /// `fdatasync` every batch. `false` is for benchmarks only: acknowledged records can be lost.
    pub fsync: bool,
    /// Most records written per fsync.
    pub max_batch: usize,
    /// Capacity of the appenders' queue; when full, appenders block (push-back).
    pub queue_capacity: usize,
}

impl Config {
    /// Defaults for `dir`: 64 MiB segments, fsync on, batches of up to 4096, queue of 65 536.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            segment_bytes: 64 << 20,
            fsync: true,
            max_batch: 4096,
            queue_capacity: 65_536,
        }
    }
}

/// Journal failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// A record in the middle of the journal is damaged (not a torn tail).
    #[error("journal damaged in {segment} at byte {position}: {why}")]
    Corrupt {
        /// The segment file.
        segment: PathBuf,
        /// Position in the segment.
        position: u64,
        /// What is wrong.
        why: &'static str,
    },
    /// A damaged record in the last segment with valid records after it: corruption, not a
    /// torn write (a torn write is only ever followed by nothing or by zeros).
    #[error(
        "journal damaged in {segment} at byte {position} ({why}), with valid records after it \
         from byte {next_valid}: this is corruption of stored records, not a torn write"
    )]
    CorruptBeforeValid {
        /// The segment file.
        segment: PathBuf,
        /// Position of the damaged record in the segment.
        position: u64,
        /// Position of the first valid record after it.
        next_valid: u64,
        /// What is wrong at `position`.
        why: &'static str,
    },
    /// Another process holds the journal's lock.
    #[error("{dir} is in use by another process{}", holder.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    Locked {
        /// The journal directory.
        dir: PathBuf,
        /// The holder's process id, as it wrote it in the lock file.
        holder: Option<u32>,
    },
    /// An empty payload: never stored (zeros on disk must never read as records).
    #[error("empty records are not stored")]
    Empty,
    /// The writer has stopped (shut down, or an earlier I/O error).
    #[error("journal writer is not running")]
    Closed,
    /// A replicated store (the cluster's database) could not be read or written.
    #[error("{0}")]
    Store(String),
    /// An I/O error.
    #[error("journal I/O on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A record is larger than [`MAX_RECORD_LEN`].
    #[error("record of {len} bytes exceeds the maximum of {MAX_RECORD_LEN}")]
    TooLarge {
        /// The payload length.
        len: usize,
    },
    /// The writer could not write or sync; the journal refuses further appends.
    #[error("journal write failed: {0}")]
    WriteFailed(String),
}

#[cfg(test)]
mod tests;
