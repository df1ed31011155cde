//! Reading the journal back: iteration from an offset, and verification.

use std::fs;
use std::path::Path;

use crate::segment::{self, Scan, Segment};
use crate::{JournalError, Offset};

/// One record read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Where it is.
    pub offset: Offset,
    /// What was appended.
    pub payload: Vec<u8>,
}

/// Iterates over records in offset order, one segment in memory at a time.
///
/// Reading does not repair: a damaged record ends the iteration with an error (a torn tail
/// included; open the journal for writing to truncate it).
pub struct Reader {
    segments: std::vec::IntoIter<Segment>,
    from: u64,
    current: Option<(u64, Vec<u8>, usize)>,
    current_path: Option<std::path::PathBuf>,
    /// Where the previous segment ended (a segment starting elsewhere is a gap: an error).
    expected: Option<u64>,
    failed: bool,
}

impl Reader {
    /// Opens the journal in `dir` (and its archive, [`crate::archive_dir`]) for reading
    /// records at or after `from`.
    pub fn open(dir: &Path, from: Offset) -> Result<Self, JournalError> {
        let segments = segment::list_chain(dir)?;
        Ok(Self {
            segments: segments.into_iter(),
            from: from.0,
            current: None,
            current_path: None,
            expected: None,
            failed: false,
        })
    }

    fn load_next_segment(&mut self) -> Option<Result<(), JournalError>> {
        loop {
            let seg = self.segments.next()?;
            let bytes = match segment::read_moved(&seg.path) {
                Ok(b) => b,
                Err(e) => return Some(Err(e)),
            };
            let seg_end = seg.base + bytes.len() as u64;
            if self.expected.is_some_and(|e| e != seg.base) {
                return Some(Err(JournalError::Corrupt {
                    segment: seg.path,
                    position: 0,
                    why: "segment does not start where the previous one ended",
                }));
            }
            self.expected = Some(seg_end);
            if seg_end <= self.from {
                continue; // wholly before the start
            }
            self.current_path = Some(seg.path);
            self.current = Some((seg.base, bytes, 0));
            return Some(Ok(()));
        }
    }
}

impl Iterator for Reader {
    type Item = Result<Record, JournalError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            if self.current.is_none()
                && let Err(e) = self.load_next_segment()?
            {
                self.failed = true;
                return Some(Err(e));
            }
            let (base, bytes, pos) = self.current.as_mut()?;
            match segment::scan(bytes, *pos) {
                Scan::End => self.current = None,
                Scan::Record { payload, next } => {
                    let offset = *base + *pos as u64;
                    let payload = payload.to_vec();
                    *pos = next;
                    if offset >= self.from {
                        return Some(Ok(Record {
                            offset: Offset(offset),
                            payload,
                        }));
                    }
                }
                Scan::Damaged(why) => {
                    self.failed = true;
                    let segment = self.current_path.clone().unwrap_or_default();
                    return Some(Err(JournalError::Corrupt {
                        segment,
                        position: *pos as u64,
                        why,
                    }));
                }
            }
        }
    }
}

/// Checks every record's checksum; returns the number of valid records.
pub fn verify(dir: &Path) -> Result<u64, JournalError> {
    let mut n = 0;
    for r in Reader::open(dir, Offset(0))? {
        r?;
        n += 1;
    }
    Ok(n)
}

/// A segment file of the journal.
#[derive(Clone, Debug)]
pub struct SegmentInfo {
    /// Offset of its first record.
    pub base: Offset,
    /// The file.
    pub path: std::path::PathBuf,
    /// When it was last written.
    pub modified: Option<std::time::SystemTime>,
}

/// The journal's segments in offset order (e.g. to start reading at the first one written
/// after some time).
pub fn segments(dir: &Path) -> Result<Vec<SegmentInfo>, JournalError> {
    Ok(segment::list(dir)?
        .into_iter()
        .map(|s| SegmentInfo {
            base: Offset(s.base),
            modified: fs::metadata(&s.path).and_then(|m| m.modified()).ok(),
            path: s.path,
        })
        .collect())
}
