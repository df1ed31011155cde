//! Following the journal as it grows: the committed end, and a reader that tails it.
//!
//! The writer publishes the journal's durable end after every group commit ([`Committed`]);
//! a [`Tail`] reads the records between its position and that end straight from the segment
//! files (the page cache, in practice). A follower therefore only ever sees durable records, in
//! offset order, and can never slow the writer: if it lags, it reads more per call.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::read::Record;
use crate::segment::{self, Scan};
use crate::{JournalError, Offset};

/// The journal's durable end, published by the writer after every commit.
#[derive(Clone, Debug)]
pub struct Committed {
    inner: Arc<(Mutex<CommitState>, Condvar)>,
}

#[derive(Debug)]
struct CommitState {
    end: u64,
    closed: bool,
}

impl Committed {
    /// A durable end starting at `end` (a journal implementation publishes to it).
    pub fn new(end: Offset) -> Self {
        Self {
            inner: Arc::new((
                Mutex::new(CommitState {
                    end: end.0,
                    closed: false,
                }),
                Condvar::new(),
            )),
        }
    }

    /// Moves the durable end to `end` (never backwards) and wakes followers.
    pub fn publish(&self, end: u64) {
        let (lock, cv) = &*self.inner;
        if let Ok(mut s) = lock.lock() {
            s.end = s.end.max(end);
        }
        cv.notify_all();
    }

    /// The writer has stopped: followers stop waiting.
    pub fn close(&self) {
        let (lock, cv) = &*self.inner;
        if let Ok(mut s) = lock.lock() {
            s.closed = true;
        }
        cv.notify_all();
    }

    /// The durable end now: every record before it is on disk.
    pub fn end(&self) -> Offset {
        let (lock, _) = &*self.inner;
        Offset(lock.lock().map_or(0, |s| s.end))
    }

    /// Waits until the durable end passes `offset` (or `timeout` passes, or the writer stops);
    /// returns the end and whether the writer has stopped.
    pub fn wait_beyond(&self, offset: Offset, timeout: Duration) -> (Offset, bool) {
        let (lock, cv) = &*self.inner;
        let Ok(guard) = lock.lock() else {
            return (offset, true);
        };
        match cv.wait_timeout_while(guard, timeout, |s| s.end <= offset.0 && !s.closed) {
            Ok((s, _)) => (Offset(s.end), s.closed),
            Err(_) => (offset, true),
        }
    }
}

/// Reads durable records in order from a position, following the journal across segments.
pub struct Tail {
    dir: PathBuf,
    /// The next record's offset.
    pos: u64,
    /// The open segment: its base and file.
    segment: Option<(u64, File)>,
    buf: Vec<u8>,
}

impl Tail {
    /// A tail of the journal in `dir` starting at `from`, which must be a record boundary (a
    /// record's offset or the end of one, as [`Tail::position`] returns).
    pub fn new(dir: &Path, from: Offset) -> Self {
        Self {
            dir: dir.to_owned(),
            pos: from.0,
            segment: None,
            buf: Vec::new(),
        }
    }

    /// The offset of the next record to be read.
    pub fn position(&self) -> Offset {
        Offset(self.pos)
    }

    /// Appends to `out` every record from the position up to `end` (a durable end from
    /// [`Committed`]), and moves past them.
    pub fn read_to(&mut self, end: Offset, out: &mut Vec<Record>) -> Result<(), JournalError> {
        while self.pos < end.0 {
            let base = self.open_segment_for(self.pos)?;
            let want = usize::try_from(end.0 - self.pos).unwrap_or(usize::MAX);
            self.buf.resize(want.min(8 << 20), 0);
            let Some((_, file)) = &self.segment else {
                return Err(JournalError::Closed);
            };
            let got = read_at_most(file, &mut self.buf, self.pos - base).map_err(|source| {
                JournalError::Io {
                    path: segment::segment_path(&self.dir, base),
                    source,
                }
            })?;
            if got == 0 {
                // This segment is done: the next one starts exactly here.
                self.segment = None;
                self.open_segment_at(self.pos)?;
                continue;
            }
            let bytes = self.buf.get(..got).unwrap_or_default();
            let mut at = 0;
            loop {
                match segment::scan(bytes, at) {
                    Scan::Record { payload, next } => {
                        out.push(Record {
                            offset: Offset(self.pos + at as u64),
                            payload: payload.to_vec(),
                        });
                        at = next;
                    }
                    // The read stopped inside a record (the buffer cap): read on from here.
                    Scan::End
                    | Scan::Damaged("record header cut short" | "record payload cut short")
                        if at > 0 =>
                    {
                        break;
                    }
                    Scan::End => break,
                    Scan::Damaged(why) => {
                        return Err(JournalError::Corrupt {
                            segment: segment::segment_path(&self.dir, base),
                            position: self.pos - base + at as u64,
                            why,
                        });
                    }
                }
            }
            self.pos += at as u64;
        }
        Ok(())
    }

    /// Opens the segment holding `pos` unless one is open; returns its base.
    fn open_segment_for(&mut self, pos: u64) -> Result<u64, JournalError> {
        if let Some((base, _)) = &self.segment {
            return Ok(*base);
        }
        let base = segment::list_chain(&self.dir)?
            .into_iter()
            .map(|s| s.base)
            .take_while(|b| *b <= pos)
            .last()
            .unwrap_or(0);
        self.open_segment_at(base)?;
        Ok(base)
    }

    fn open_segment_at(&mut self, base: u64) -> Result<(), JournalError> {
        let path = segment::segment_path(&self.dir, base);
        // An archived segment (the start-up replay of a core without a snapshot) is read where
        // it was moved to.
        let file = File::open(&path)
            .or_else(|e| match e.kind() {
                std::io::ErrorKind::NotFound => File::open(segment::segment_path(
                    &segment::archive_dir(&self.dir),
                    base,
                )),
                _ => Err(e),
            })
            .map_err(|source| JournalError::Io { path, source })?;
        self.segment = Some((base, file));
        Ok(())
    }
}

impl crate::Follow for Tail {
    fn read_to(&mut self, end: Offset, out: &mut Vec<Record>) -> Result<(), JournalError> {
        Self::read_to(self, end, out)
    }

    fn position(&self) -> Offset {
        Self::position(self)
    }
}

/// Reads up to `buf.len()` bytes at `at`, stopping early only at the end of the file.
fn read_at_most(file: &File, buf: &mut [u8], at: u64) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        let Some(rest) = buf.get_mut(got..) else {
            break;
        };
        match file.read_at(rest, at + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}
