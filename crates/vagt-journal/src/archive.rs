//! Retention: sealed segments past a given age move to the journal's archive directory
//! ([`crate::archive_dir`]), where every reader still finds them (reports fold the whole log)
//! but the writer, its recovery and the core's restarts no longer read them.
//!
//! A segment is moved only when it is sealed (not the newest), was last written before the
//! cut-off, and ends at or before `below` — the caller's promise that nothing it restarts from
//! needs it (the core's newest snapshot). The move is a rename within one file system; across
//! file systems (an archive on another disk) the segment is copied, synced and renamed into
//! the archive before the original is removed, so it is in at least one of the two
//! directories at every moment — readers take the journal's copy when it is in both.

use std::fs;
use std::path::Path;
use std::time::SystemTime;

use crate::segment::{self, Segment};
use crate::{JournalError, Offset};

/// What [`archive`] moved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArchiveReport {
    /// Segments moved.
    pub segments: usize,
    /// Their bytes.
    pub bytes: u64,
    /// The journal directory's first offset now.
    pub journal_starts: Offset,
}

/// Moves the sealed segments of the journal in `dir` last written before `older_than` and
/// ending at or before `below` into its archive (made 0700; files keep their 0600).
pub fn archive(
    dir: &Path,
    older_than: SystemTime,
    below: Offset,
) -> Result<ArchiveReport, JournalError> {
    let segments = segment::list(dir)?;
    let archive = segment::archive_dir(dir);
    let mut report = ArchiveReport::default();
    // The newest segment is the writer's: never a candidate. Oldest first, stopping at the
    // first that must stay (the journal directory stays one unbroken run of segments).
    let sealed = segments.len().saturating_sub(1);
    for (seg, next) in segments.iter().take(sealed).zip(segments.iter().skip(1)) {
        let old = fs::metadata(&seg.path)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < older_than);
        if !old || next.base > below.0 {
            break;
        }
        if report.segments == 0 && !archive.is_dir() {
            segment::create_dir(&archive)?;
            if let Some(parent) = archive.parent() {
                segment::sync_dir(parent)?;
            }
        }
        report.bytes += move_segment(seg, &archive)?;
        report.segments += 1;
    }
    if report.segments > 0 {
        segment::sync_dir(&archive)?;
        segment::sync_dir(dir)?;
    }
    report.journal_starts = Offset(segment::list(dir)?.first().map_or(0, |s: &Segment| s.base));
    Ok(report)
}

/// Moves one segment into `archive`; its size.
fn move_segment(seg: &Segment, archive: &Path) -> Result<u64, JournalError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| JournalError::Io { path, source }
    };
    let to = segment::segment_path(archive, seg.base);
    let len = fs::metadata(&seg.path).map_err(io(&seg.path))?.len();
    match fs::rename(&seg.path, &to) {
        Ok(()) => return Ok(len),
        Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices => {}
        Err(e) => return Err(io(&seg.path)(e)),
    }
    // Another file system: copy, sync, rename into place, sync the archive, then remove.
    let bytes = fs::read(&seg.path).map_err(io(&seg.path))?;
    let tmp = to.with_extension("tmp");
    segment::write_synced(&tmp, &bytes, true)?;
    fs::rename(&tmp, &to).map_err(io(&to))?;
    segment::sync_dir(archive)?;
    fs::remove_file(&seg.path).map_err(io(&seg.path))?;
    Ok(len)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use super::*;
    use crate::Reader;
    use crate::segment::encoded as record;

    /// Three segments of one record each: bases 0, n, 2n.
    fn journal(dir: &Path) -> u64 {
        segment::create_dir(dir).unwrap();
        let n = record(b"record 0").len() as u64;
        for i in 0..3u64 {
            fs::write(
                segment::segment_path(dir, i * n),
                record(format!("record {i}").as_bytes()),
            )
            .unwrap();
        }
        n
    }

    fn read_all(dir: &Path) -> Vec<(u64, Vec<u8>)> {
        Reader::open(dir, Offset(0))
            .unwrap()
            .map(|r| r.map(|r| (r.offset.0, r.payload)).unwrap())
            .collect()
    }

    #[test]
    fn old_sealed_segments_below_the_mark_move_and_every_reader_still_finds_them() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("journal");
        let n = journal(&dir);
        let before = read_all(&dir);
        let future = SystemTime::now() + Duration::from_secs(60);
        // Nothing is old enough: nothing moves.
        let none = archive(&dir, SystemTime::UNIX_EPOCH, Offset(u64::MAX)).unwrap();
        assert_eq!(none.segments, 0);
        // Only what ends at or before the mark; never the newest segment.
        let one = archive(&dir, future, Offset(n)).unwrap();
        assert_eq!((one.segments, one.journal_starts), (1, Offset(n)));
        let all = archive(&dir, future, Offset(u64::MAX)).unwrap();
        assert_eq!((all.segments, all.journal_starts), (1, Offset(2 * n)));
        assert_eq!(segment::list(&dir).unwrap().len(), 1, "the newest stays");
        let archived = segment::archive_dir(&dir);
        assert_eq!(archived, tmp.path().join("journal-archive"));
        assert_eq!(segment::list(&archived).unwrap().len(), 2);
        // Readers see one journal as before; a tail replaying from the start too.
        assert_eq!(read_all(&dir), before);
        let mut tail = crate::Tail::new(&dir, Offset(0));
        let mut out = Vec::new();
        tail.read_to(Offset(3 * n), &mut out).unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(crate::verify(&dir).unwrap(), 3);
        // A segment missing in the middle is an error, never a shorter journal.
        fs::remove_file(segment::segment_path(&archived, n)).unwrap();
        let e = crate::verify(&dir).unwrap_err();
        assert!(e.to_string().contains("does not start where"), "{e}");
    }
}
