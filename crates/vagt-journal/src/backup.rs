//! A consistent copy of a journal while its writer runs (`vagt journal backup`).
//!
//! Sealed segments never change and the active one only grows, a whole record after another,
//! so a copy that keeps the whole valid records it read is a journal as a crash at that moment
//! would have left it: every segment in order, the last one ending at its last whole record (a
//! record being written just then is left out). Offsets are the same as in the original, so
//! the copy opens as it is. Archived segments ([`crate::archive`]) are copied into the copy's
//! archive. Damage anywhere but the end being written is refused: the copy would not open
//! either (`vagt journal salvage` is for that).

use std::path::Path;

use crate::segment::{self, Scan};
use crate::{JournalError, Offset};

/// What [`backup`] copied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackupReport {
    /// Segment files written.
    pub segments: usize,
    /// Whole records copied.
    pub records: u64,
    /// Bytes copied.
    pub bytes: u64,
    /// The copy's end: every record before it is in the copy.
    pub end: Offset,
}

/// Copies the journal in `dir` into `dest` (a new directory, made 0700; files 0600, each
/// synced, then the directory).
pub fn backup(dir: &Path, dest: &Path) -> Result<BackupReport, JournalError> {
    let segments = segment::list_chain(dir)?;
    let archived = segment::archive_dir(dir);
    if segment::list_chain(dest).is_ok_and(|s| !s.is_empty()) {
        return Err(JournalError::Io {
            path: dest.to_owned(),
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "already holds a journal: back up into a new directory",
            ),
        });
    }
    segment::create_dir(dest)?;
    let dest_archive = segment::archive_dir(dest);
    let mut report = BackupReport::default();
    let last = segments.len().saturating_sub(1);
    for (i, seg) in segments.iter().enumerate() {
        let bytes = segment::read_moved(&seg.path)?;
        let (records, valid) = whole_records(&bytes, &seg.path, i == last)?;
        if i > 0 && seg.base != report.end.0 {
            return Err(JournalError::Corrupt {
                segment: seg.path.clone(),
                position: 0,
                why: "segment does not start where the previous one ended",
            });
        }
        let whole = bytes.get(..valid).unwrap_or(&bytes);
        // An archived segment goes to the copy's archive.
        let into = if seg.path.parent() == Some(archived.as_path()) {
            if !dest_archive.is_dir() {
                segment::create_dir(&dest_archive)?;
            }
            dest_archive.as_path()
        } else {
            dest
        };
        segment::write_synced(&segment::segment_path(into, seg.base), whole, false)?;
        report.segments += 1;
        report.records += records;
        report.bytes += valid as u64;
        report.end = Offset(seg.base + valid as u64);
    }
    segment::sync_dir(dest)?;
    if dest_archive.is_dir() {
        segment::sync_dir(&dest_archive)?;
    }
    Ok(report)
}

/// The whole valid records at the start of `bytes` and where they end. Only the last segment
/// may end in a record cut short (being written), and only if nothing valid follows it.
fn whole_records(bytes: &[u8], path: &Path, last: bool) -> Result<(u64, usize), JournalError> {
    let (mut records, mut pos) = (0, 0);
    loop {
        match segment::scan(bytes, pos) {
            Scan::Record { next, .. } => {
                records += 1;
                pos = next;
            }
            Scan::End => return Ok((records, pos)),
            Scan::Damaged(_) if last && segment::next_valid_record(bytes, pos).is_none() => {
                return Ok((records, pos));
            }
            Scan::Damaged(why) => {
                return Err(JournalError::Corrupt {
                    segment: path.to_owned(),
                    position: pos as u64,
                    why,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::fs;

    use super::*;
    use crate::segment::encoded as record;

    #[test]
    fn the_copy_ends_at_the_last_whole_record_and_refuses_damage_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let (src, dest) = (dir.path().join("src"), dir.path().join("dest"));
        segment::create_dir(&src).unwrap();
        let (a, b) = (record(b"first"), record(b"second"));
        let mut first = a.clone();
        first.extend_from_slice(&b);
        fs::write(segment::segment_path(&src, 0), &first).unwrap();
        // The active segment: one whole record, then one being written.
        let c = record(b"third");
        let mut active = c.clone();
        active.extend_from_slice(&record(b"fourth")[..7]);
        let base = first.len() as u64;
        fs::write(segment::segment_path(&src, base), &active).unwrap();
        let report = backup(&src, &dest).unwrap();
        assert_eq!(report.records, 3);
        assert_eq!(report.end, Offset(base + c.len() as u64));
        assert_eq!(fs::read(segment::segment_path(&dest, 0)).unwrap(), first);
        assert_eq!(fs::read(segment::segment_path(&dest, base)).unwrap(), c);
        assert_eq!(crate::verify(&dest).unwrap(), 3);
        // Into a directory that holds a journal: refused.
        assert!(backup(&src, &dest).is_err());
        // A flipped bit in a sealed segment is refused, not copied.
        let mut bad = first.clone();
        bad[10] ^= 1;
        fs::write(segment::segment_path(&src, 0), &bad).unwrap();
        let e = backup(&src, &dir.path().join("other")).unwrap_err();
        assert!(e.to_string().contains("checksum"), "{e}");
    }
}
