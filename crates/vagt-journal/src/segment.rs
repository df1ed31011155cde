//! Segment files: naming, record layout, scanning and torn-tail recovery.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::{JournalError, MAX_RECORD_LEN, Offset, RECORD_HEADER_LEN};

/// Slice-by-16 tables: the journal checksums every record it writes and reads.
const CRC32C: crc::Crc<u32, crc::Table<16>> =
    crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISCSI);
const SUFFIX: &str = ".seg";

/// One segment file and the offset of its first byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Segment {
    pub(crate) base: u64,
    pub(crate) path: PathBuf,
}

/// The path of the segment starting at `base`.
pub(crate) fn segment_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}{SUFFIX}"))
}

/// The segments in `dir`, in offset order.
pub(crate) fn list(dir: &Path) -> Result<Vec<Segment>, JournalError> {
    let io = |source| JournalError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let Some(base) = name.to_str().and_then(|n| n.strip_suffix(SUFFIX)) else {
            continue;
        };
        if let Ok(base) = base.parse::<u64>() {
            out.push(Segment {
                base,
                path: entry.path(),
            });
        }
    }
    out.sort_by_key(|s| s.base);
    Ok(out)
}

/// Where the journal in `dir` keeps its archived segments: the sibling directory
/// `<dir>-archive` (e.g. `data/journal-archive`; mount another disk there to keep old
/// segments elsewhere). Readers read it before `dir`; the writer never touches it.
pub fn archive_dir(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_owned();
    name.push("-archive");
    dir.with_file_name(name)
}

/// The segments of the journal in `dir` and of its archive, in offset order (a segment in
/// both, mid-move, is the journal's).
pub(crate) fn list_chain(dir: &Path) -> Result<Vec<Segment>, JournalError> {
    // The journal first: segments only move journal → archive, so one moved between the two
    // listings is found in the second (listed the other way round it would be in neither).
    let here = list(dir)?;
    let archive = archive_dir(dir);
    let mut all = if archive.is_dir() {
        list(&archive)?
    } else {
        Vec::new()
    };
    all.retain(|a| here.iter().all(|s| s.base != a.base));
    all.extend(here);
    all.sort_by_key(|s| s.base);
    Ok(all)
}

/// Reads the segment at `path`; if it was moved to the archive meanwhile, from there.
pub(crate) fn read_moved(path: &Path) -> Result<Vec<u8>, JournalError> {
    match fs::read(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let moved = path
                .parent()
                .map(archive_dir)
                .and_then(|a| Some(a.join(path.file_name()?)));
            match moved {
                Some(m) => fs::read(&m).map_err(|source| JournalError::Io { path: m, source }),
                None => Err(JournalError::Io {
                    path: path.to_owned(),
                    source: e,
                }),
            }
        }
        other => other.map_err(|source| JournalError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Encodes one record (header + payload) onto `out`.
pub(crate) fn encode(payload: &[u8], out: &mut Vec<u8>) -> Result<(), JournalError> {
    if payload.is_empty() {
        return Err(JournalError::Empty);
    }
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|l| *l <= MAX_RECORD_LEN)
        .ok_or(JournalError::TooLarge { len: payload.len() })?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&CRC32C.checksum(payload).to_le_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// What lies at a position of a segment's bytes.
pub(crate) enum Scan<'a> {
    /// A whole, valid record, and the position after it.
    Record { payload: &'a [u8], next: usize },
    /// The clean end of the segment.
    End,
    /// Something that is not a valid record.
    Damaged(&'static str),
}

/// Reads the record at `pos`.
pub(crate) fn scan(bytes: &[u8], pos: usize) -> Scan<'_> {
    let Some(rest) = bytes.get(pos..) else {
        return Scan::Damaged("position past end");
    };
    if rest.is_empty() {
        return Scan::End;
    }
    let (Some(len), Some(crc)) = (le_u32(rest, 0), le_u32(rest, 4)) else {
        return Scan::Damaged("record header cut short");
    };
    if len > MAX_RECORD_LEN {
        return Scan::Damaged("record length out of range");
    }
    if len == 0 {
        // Never written (empty payloads are refused): zeros where a record should be.
        return Scan::Damaged("empty record");
    }
    let start = RECORD_HEADER_LEN as usize;
    let Some(payload) = rest.get(start..start + len as usize) else {
        return Scan::Damaged("record payload cut short");
    };
    if CRC32C.checksum(payload) != crc {
        return Scan::Damaged("record checksum mismatch");
    }
    Scan::Record {
        payload,
        next: pos + start + payload.len(),
    }
}

/// The first position after `pos` where a whole, valid record starts, if any.
///
/// A torn write can only be the end of what was written: nothing valid follows it (the rest is
/// the cut-off record, or zeros the file system allocated). A valid record after a damaged one
/// means the damage is corruption of data that was once durable.
pub(crate) fn next_valid_record(bytes: &[u8], pos: usize) -> Option<usize> {
    (pos + 1..bytes.len()).find(|&q| matches!(scan(bytes, q), Scan::Record { .. }))
}

fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_le_bytes(b))
}

/// What opening the journal found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Segment files found.
    pub segments: usize,
    /// Valid records found.
    pub records: u64,
    /// Where the next record will go.
    pub end: Offset,
    /// Bytes of a torn tail cut off the last segment (0 after a clean stop).
    pub truncated_bytes: u64,
}

/// Opens (creating if needed, `0700` / `0600`) the journal in `dir`: validates every segment,
/// truncates a torn tail of the last one, and returns the last segment opened for appending.
pub(crate) fn recover(dir: &Path) -> Result<(RecoveryReport, Segment, File), JournalError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| JournalError::Io { path, source }
    };
    create_dir(dir)?;
    let mut segments = list(dir)?;
    if segments.is_empty() {
        let first = Segment {
            base: 0,
            path: segment_path(dir, 0),
        };
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&first.path)
            .map_err(io(&first.path))?;
        sync_dir(dir)?;
        segments.push(first);
    }
    let mut report = RecoveryReport {
        segments: segments.len(),
        ..RecoveryReport::default()
    };
    let last_index = segments.len() - 1;
    let mut expected_base = segments.first().map_or(0, |s| s.base);
    for (i, seg) in segments.iter().enumerate() {
        if seg.base != expected_base {
            return Err(JournalError::Corrupt {
                segment: seg.path.clone(),
                position: 0,
                why: "segment does not start where the previous one ended",
            });
        }
        let bytes = fs::read(&seg.path).map_err(io(&seg.path))?;
        let mut pos = 0;
        loop {
            match scan(&bytes, pos) {
                Scan::Record { next, .. } => {
                    report.records += 1;
                    pos = next;
                }
                Scan::End => break,
                Scan::Damaged(why) if i != last_index => {
                    return Err(JournalError::Corrupt {
                        segment: seg.path.clone(),
                        position: pos as u64,
                        why,
                    });
                }
                Scan::Damaged(why) => {
                    if let Some(next_valid) = next_valid_record(&bytes, pos) {
                        return Err(JournalError::CorruptBeforeValid {
                            segment: seg.path.clone(),
                            position: pos as u64,
                            next_valid: next_valid as u64,
                            why,
                        });
                    }
                    // A torn tail: the crash interrupted this write, so it was never committed
                    // (never acknowledged). Cut it off.
                    report.truncated_bytes = (bytes.len() - pos) as u64;
                    break;
                }
            }
        }
        expected_base = seg.base + pos as u64;
        if i == last_index && report.truncated_bytes > 0 {
            let f = OpenOptions::new()
                .write(true)
                .open(&seg.path)
                .map_err(io(&seg.path))?;
            f.set_len(pos as u64).map_err(io(&seg.path))?;
            f.sync_all().map_err(io(&seg.path))?;
        }
    }
    report.end = Offset(expected_base);
    let last = segments.swap_remove(last_index);
    let file = OpenOptions::new()
        .append(true)
        .open(&last.path)
        .map_err(io(&last.path))?;
    // What was read back may be in the page cache only (a process killed between write and
    // fdatasync): make it durable before anything trusts it as stored (dedup re-ACKs it).
    file.sync_data().map_err(io(&last.path))?;
    Ok((report, last, file))
}

/// Creates the journal directory (and its parents) readable by its owner only.
pub(crate) fn create_dir(dir: &Path) -> Result<(), JournalError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| JournalError::Io {
            path: dir.to_owned(),
            source,
        })
}

/// Makes a directory's entries (new segment files) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| JournalError::Io {
            path: dir.to_owned(),
            source,
        })
}

/// Writes `bytes` to an owner-only file at `path` and syncs it: a new file, or with `replace`
/// one that may exist already (a temporary file an interrupted move left).
pub(crate) fn write_synced(path: &Path, bytes: &[u8], replace: bool) -> Result<(), JournalError> {
    let io = |source| JournalError::Io {
        path: path.to_owned(),
        source,
    };
    let mut options = OpenOptions::new();
    options.write(true).mode(0o600);
    if replace {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut f = options.open(path).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)
}

/// One record as it is stored (tests build segments with it).
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) fn encoded(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode(payload, &mut out).unwrap();
    out
}

/// Creates the segment starting at `base`, durably.
pub(crate) fn create(dir: &Path, base: u64) -> Result<(Segment, File), JournalError> {
    let path = segment_path(dir, base);
    let mut file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .mode(0o600)
        .open(&path)
        .map_err(|source| JournalError::Io {
            path: path.clone(),
            source,
        })?;
    file.flush().map_err(|source| JournalError::Io {
        path: path.clone(),
        source,
    })?;
    sync_dir(dir)?;
    Ok((Segment { base, path }, file))
}
