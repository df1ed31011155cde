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
//!   bad checksum at the end of the last segment, e.g. after a crash mid-write) is truncated
//!   away. Damage anywhere else is an error: that data was once acknowledged.
//!
//! The crate is synchronous (std threads, crossbeam) and knows nothing of what records mean.

#![cfg_attr(not(test), warn(clippy::indexing_slicing))]

mod read;
mod segment;
mod tail;
mod writer;

use std::fmt;
use std::path::PathBuf;

pub use read::{Reader, Record, SegmentInfo, segments, verify};
pub use segment::RecoveryReport;
pub use tail::{Committed, Tail};
pub use writer::{Appender, CommitStats, Journal};

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
    /// The writer has stopped (shut down, or an earlier I/O error).
    #[error("journal writer is not running")]
    Closed,
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
