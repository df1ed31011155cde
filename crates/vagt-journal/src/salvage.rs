//! Getting the valid records out of a damaged journal.
//!
//! When recovery refuses to open a journal (damage that is not a torn tail), the operator
//! copies what is still valid into a new journal with [`salvage`] and is told exactly which
//! byte ranges of which segments could not be read.

use std::path::PathBuf;

use crate::segment::{self, Scan};
use crate::{JournalError, Offset};

/// A byte range of a segment that holds no readable record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lost {
    /// The segment file.
    pub segment: PathBuf,
    /// First unreadable byte (position in the segment).
    pub from: u64,
    /// Where the next valid record starts, or the segment's length.
    pub to: u64,
    /// What was wrong at `from`.
    pub why: &'static str,
}

/// What [`salvage`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SalvageReport {
    /// Valid records handed to the sink.
    pub records: u64,
    /// Unreadable ranges, in journal order.
    pub lost: Vec<Lost>,
}

/// Hands every valid record of the journal in `dir`, in order, to `sink` (with its offset in
/// the damaged journal); skips damaged ranges to the next valid record and reports them.
pub fn salvage(
    dir: &std::path::Path,
    mut sink: impl FnMut(Offset, &[u8]) -> Result<(), JournalError>,
) -> Result<SalvageReport, JournalError> {
    let mut report = SalvageReport::default();
    for seg in segment::list_chain(dir)? {
        let bytes = segment::read_moved(&seg.path)?;
        let mut pos = 0;
        loop {
            match segment::scan(&bytes, pos) {
                Scan::Record { payload, next } => {
                    sink(Offset(seg.base + pos as u64), payload)?;
                    report.records += 1;
                    pos = next;
                }
                Scan::End => break,
                Scan::Damaged(why) => {
                    let next = segment::next_valid_record(&bytes, pos);
                    report.lost.push(Lost {
                        segment: seg.path.clone(),
                        from: pos as u64,
                        to: next.unwrap_or(bytes.len()) as u64,
                        why,
                    });
                    match next {
                        Some(q) => pos = q,
                        None => break,
                    }
                }
            }
        }
    }
    Ok(report)
}
