//! Journal tests on real files with fsync.

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;

fn append_all(j: &SegmentJournal, payloads: &[Vec<u8>]) -> Vec<Offset> {
    let (tx, rx) = mpsc::channel();
    let appender = j.appender().unwrap();
    for (i, p) in payloads.iter().enumerate() {
        let tx = tx.clone();
        appender
            .append(p.clone(), move |r| tx.send((i, r.unwrap())).unwrap())
            .unwrap();
    }
    drop(tx);
    let mut out: Vec<(usize, Offset)> = rx.iter().collect();
    out.sort();
    out.into_iter().map(|(_, o)| o).collect()
}

fn read_all(dir: &std::path::Path) -> Vec<Record> {
    Reader::open(dir, Offset(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn appends_are_read_back_in_order_with_their_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let payloads: Vec<Vec<u8>> = (0..500)
        .map(|i| format!("record {i}").into_bytes())
        .collect();
    let j = SegmentJournal::open(Config::new(dir.path()), |_| {}).unwrap();
    let offsets = append_all(&j, &payloads);
    j.close();
    let records = read_all(dir.path());
    assert_eq!(records.len(), 500);
    for ((r, p), o) in records.iter().zip(&payloads).zip(&offsets) {
        assert_eq!(&r.payload, p);
        assert_eq!(r.offset, *o);
    }
    // Reading from an offset skips what is before it.
    let from = Reader::open(dir.path(), offsets[250])
        .unwrap()
        .map(Result::unwrap)
        .collect::<Vec<_>>();
    assert_eq!(from.len(), 250);
    assert_eq!(from[0].payload, payloads[250]);
}

#[test]
fn concurrent_appenders_share_fsyncs() {
    let dir = tempfile::tempdir().unwrap();
    let batches = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&batches);
    let j = SegmentJournal::open(Config::new(dir.path()), move |s| {
        seen.lock().unwrap().push(s.records)
    })
    .unwrap();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let a = j.appender().unwrap();
            std::thread::spawn(move || {
                for i in 0..200 {
                    let (tx, rx) = mpsc::channel();
                    a.append(format!("{t}/{i}").into_bytes(), move |r| {
                        tx.send(r).unwrap()
                    })
                    .unwrap();
                    rx.recv().unwrap().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    j.close();
    let batches = batches.lock().unwrap();
    assert_eq!(batches.iter().sum::<usize>(), 1600);
    // Eight appenders each waiting for their commit: batches must hold more than one record.
    assert!(
        batches.len() < 1600,
        "no group commit: {} batches",
        batches.len()
    );
    assert_eq!(verify(dir.path()).unwrap(), 1600);
}

#[test]
fn torn_tail_is_truncated_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let j = SegmentJournal::open(Config::new(dir.path()), |_| {}).unwrap();
    append_all(&j, &[b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]);
    j.close();
    let seg = segment::segment_path(dir.path(), 0);
    let full = std::fs::metadata(&seg).unwrap().len();
    // Cut the last record in the middle of its payload, as a crash mid-write would.
    OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(full - 2)
        .unwrap();
    assert!(verify(dir.path()).is_err(), "reading does not repair");
    let j = SegmentJournal::open(Config::new(dir.path()), |_| {}).unwrap();
    assert_eq!(j.recovery().records, 2);
    assert_eq!(j.recovery().truncated_bytes, (RECORD_HEADER_LEN + 5 - 2));
    // Appending after recovery continues cleanly where the valid data ended.
    append_all(&j, &[b"four".to_vec()]);
    j.close();
    let payloads: Vec<Vec<u8>> = read_all(dir.path())
        .into_iter()
        .map(|r| r.payload)
        .collect();
    assert_eq!(
        payloads,
        [b"one".to_vec(), b"two".to_vec(), b"four".to_vec()]
    );
}

#[test]
fn garbage_after_the_last_record_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let j = SegmentJournal::open(Config::new(dir.path()), |_| {}).unwrap();
    append_all(&j, &[b"one".to_vec()]);
    j.close();
    let seg = segment::segment_path(dir.path(), 0);
    OpenOptions::new()
        .append(true)
        .open(&seg)
        .unwrap()
        .write_all(&[0xFF; 5])
        .unwrap();
    let j = SegmentJournal::open(Config::new(dir.path()), |_| {}).unwrap();
    assert_eq!((j.recovery().records, j.recovery().truncated_bytes), (1, 5));
}

#[test]
fn damage_before_the_tail_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::new(dir.path());
    cfg.segment_bytes = 64;
    let j = SegmentJournal::open(cfg.clone(), |_| {}).unwrap();
    for i in 0..20 {
        append_all(&j, &[format!("payload number {i}").into_bytes()]);
    }
    j.close();
    let segments = segment::list(dir.path()).unwrap();
    assert!(segments.len() > 3, "rotation happened: {segments:?}");
    assert_eq!(read_all(dir.path()).len(), 20);
    // Flip a payload byte in the first segment: that record was acknowledged once.
    let first = &segments[0].path;
    let mut bytes = std::fs::read(first).unwrap();
    bytes[10] ^= 0x55;
    std::fs::write(first, bytes).unwrap();
    assert!(matches!(
        SegmentJournal::open(cfg, |_| {}),
        Err(JournalError::Corrupt { .. })
    ));
}

#[test]
fn reopen_continues_offsets_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::new(dir.path());
    cfg.segment_bytes = 100;
    let j = SegmentJournal::open(cfg.clone(), |_| {}).unwrap();
    let first = append_all(&j, &(0..10).map(|i| vec![i; 30]).collect::<Vec<_>>());
    j.close();
    let j = SegmentJournal::open(cfg, |_| {}).unwrap();
    assert_eq!(j.recovery().records, 10);
    let second = append_all(&j, &[vec![99; 30]]);
    j.close();
    assert!(second[0] > *first.last().unwrap());
    let all = read_all(dir.path());
    assert_eq!(all.len(), 11);
    assert_eq!(all.last().unwrap().offset, second[0]);
}

#[test]
fn oversized_records_are_refused_alone() {
    let dir = tempfile::tempdir().unwrap();
    let j = SegmentJournal::open(Config::new(dir.path()), |_| {}).unwrap();
    let (tx, rx) = mpsc::channel();
    let a = j.appender().unwrap();
    let tx2 = tx.clone();
    a.append(vec![0; MAX_RECORD_LEN as usize + 1], move |r| {
        tx.send(r.is_ok()).unwrap()
    })
    .unwrap();
    a.append(b"fine".to_vec(), move |r| tx2.send(r.is_ok()).unwrap())
        .unwrap();
    drop(a);
    let results: Vec<bool> = rx.iter().take(2).collect();
    assert_eq!(results, [false, true]);
    j.close();
    assert_eq!(read_all(dir.path()).len(), 1);
}

#[test]
fn a_tail_follows_appends_across_segments_and_sees_only_durable_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::new(dir.path());
    cfg.segment_bytes = 300; // many rotations
    // Something already there: the tail starts after it.
    let j = SegmentJournal::open(cfg.clone(), |_| {}).unwrap();
    let before = append_all(&j, &[b"old".to_vec()]);
    j.close();
    let j = SegmentJournal::open(cfg, |_| {}).unwrap();
    let committed = j.committed();
    let start = committed.end();
    assert!(start > before[0]);
    let path = dir.path().to_owned();
    let follower = std::thread::spawn(move || {
        let mut tail = Tail::new(&path, start);
        let mut got = Vec::new();
        loop {
            let (end, closed) = committed.wait_beyond(tail.position(), Duration::from_secs(5));
            tail.read_to(end, &mut got).unwrap();
            // Every record seen is durable: at or before the published end.
            assert!(got.iter().all(|r: &Record| r.offset < end));
            if closed && tail.position() >= committed.end() {
                return got;
            }
        }
    });
    let payloads: Vec<Vec<u8>> = (0..300u32)
        .map(|i| format!("rec-{i}-{}", "x".repeat((i % 40) as usize)).into_bytes())
        .collect();
    let mut offsets = Vec::new();
    for chunk in payloads.chunks(7) {
        offsets.extend(append_all(&j, chunk));
    }
    j.close();
    let got = follower.join().unwrap();
    assert_eq!(got.len(), payloads.len());
    for ((r, p), o) in got.iter().zip(&payloads).zip(&offsets) {
        assert_eq!(&r.payload, p);
        assert_eq!(r.offset, *o);
    }
    assert!(segments(dir.path()).unwrap().len() > 10);
}

#[test]
fn a_record_is_visible_to_followers_when_its_appender_hears_it_is_durable() {
    let dir = tempfile::tempdir().unwrap();
    let j = SegmentJournal::open(Config::new(dir.path()), |_| {}).unwrap();
    let committed = j.committed();
    let (tx, rx) = mpsc::channel();
    let appender = j.appender().unwrap();
    for i in 0..50u32 {
        let (committed, tx) = (committed.clone(), tx.clone());
        appender
            .append(i.to_le_bytes().to_vec(), move |r| {
                // An ACK sent from here must never precede the record's visibility.
                let offset = r.unwrap();
                tx.send(committed.end() > offset).unwrap();
            })
            .unwrap();
    }
    drop((tx, appender));
    j.close();
    let seen: Vec<bool> = rx.iter().collect();
    assert_eq!(seen.len(), 50);
    assert!(seen.iter().all(|v| *v), "{seen:?}");
}

/// Three segments' worth of numbered records, closed; returns the records.
fn journal_of(dir: &std::path::Path, n: usize) -> Vec<Record> {
    let j = SegmentJournal::open(Config::new(dir), |_| {}).unwrap();
    let payloads: Vec<Vec<u8>> = (0..n)
        .map(|i| format!("alarm record number {i:04}").into_bytes())
        .collect();
    append_all(&j, &payloads);
    j.close();
    read_all(dir)
}

#[test]
fn a_flipped_bit_in_the_last_segment_is_corruption_not_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let records = journal_of(dir.path(), 100);
    let seg = segment::segment_path(dir.path(), 0);
    let mut bytes = std::fs::read(&seg).unwrap();
    let hit = usize::try_from(records[40].offset.0).unwrap() + 12;
    bytes[hit] ^= 0x04;
    std::fs::write(&seg, &bytes).unwrap();
    let before = std::fs::metadata(&seg).unwrap().len();
    let Err(JournalError::CorruptBeforeValid {
        position,
        next_valid,
        ..
    }) = SegmentJournal::open(Config::new(dir.path()), |_| {})
    else {
        panic!("a damaged record followed by valid ones must refuse to open")
    };
    assert_eq!(position, records[40].offset.0);
    assert_eq!(next_valid, records[41].offset.0);
    assert_eq!(
        std::fs::metadata(&seg).unwrap().len(),
        before,
        "nothing was cut off"
    );
    assert!(verify(dir.path()).is_err());

    // Salvage copies every valid record and names the one range that is lost.
    let mut copied = Vec::new();
    let report = salvage(dir.path(), |offset, payload| {
        copied.push((offset, payload.to_vec()));
        Ok(())
    })
    .unwrap();
    assert_eq!(report.records, 99);
    assert_eq!(
        report.lost,
        [Lost {
            segment: seg.clone(),
            from: records[40].offset.0,
            to: records[41].offset.0,
            why: "record checksum mismatch",
        }]
    );
    let expected: Vec<_> = records
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 40)
        .map(|(_, r)| (r.offset, r.payload.clone()))
        .collect();
    assert_eq!(copied, expected);
}

#[test]
fn a_torn_record_followed_by_zeros_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let records = journal_of(dir.path(), 10);
    let seg = segment::segment_path(dir.path(), 0);
    let mut bytes = std::fs::read(&seg).unwrap();
    let last = usize::try_from(records[9].offset.0).unwrap();
    // The last record cut in its payload, then zeros (blocks allocated, never written).
    bytes.truncate(last + 14);
    bytes.extend_from_slice(&[0; 4096]);
    std::fs::write(&seg, &bytes).unwrap();
    let j = SegmentJournal::open(Config::new(dir.path()), |_| {}).unwrap();
    assert_eq!(j.recovery().records, 9);
    assert_eq!(j.recovery().truncated_bytes, 14 + 4096);
    j.close();
    assert_eq!(verify(dir.path()).unwrap(), 9);
}

#[test]
fn zeros_never_read_as_records_and_empty_payloads_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    journal_of(dir.path(), 3);
    let seg = segment::segment_path(dir.path(), 0);
    OpenOptions::new()
        .append(true)
        .open(&seg)
        .unwrap()
        .write_all(&[0; 64])
        .unwrap();
    let j = SegmentJournal::open(Config::new(dir.path()), |_| {}).unwrap();
    assert_eq!(
        (j.recovery().records, j.recovery().truncated_bytes),
        (3, 64)
    );
    let (tx, rx) = mpsc::channel();
    j.appender()
        .unwrap()
        .append(Vec::new(), move |r| tx.send(r).unwrap())
        .unwrap();
    assert!(matches!(rx.recv().unwrap(), Err(JournalError::Empty)));
}

#[test]
fn a_second_writer_is_refused_with_the_holders_pid() {
    let dir = tempfile::tempdir().unwrap();
    let j = SegmentJournal::open(Config::new(dir.path()), |_| {}).unwrap();
    match SegmentJournal::open(Config::new(dir.path()), |_| {}) {
        Err(JournalError::Locked { holder, .. }) => {
            assert_eq!(holder, Some(std::process::id()));
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("two writers on one journal"),
    }
    j.close();
    // Released on close: the next writer opens it.
    SegmentJournal::open(Config::new(dir.path()), |_| {})
        .unwrap()
        .close();
}

#[test]
fn journal_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    journal_of(&journal, 1);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&journal), 0o700);
    assert_eq!(mode(&segment::segment_path(&journal, 0)), 0o600);
    assert_eq!(mode(&journal.join("LOCK")), 0o600);
}
