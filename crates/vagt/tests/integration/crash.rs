//! Crash safety: SIGKILL mid-burst loses no acknowledged alarm; a torn tail is recovered.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::gateway::{Gateway, export, sia};

#[test]
fn every_acked_frame_survives_sigkill_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gateway::start_on(dir.path(), &[]);
    let addr = g.addr;
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let threads: Vec<_> = (0..64)
        .map(|c| {
            let acked = Arc::clone(&acked);
            std::thread::spawn(move || {
                let account = format!("{:04X}", 0xA000 + c);
                let Ok(mut s) = std::net::TcpStream::connect(addr) else {
                    return;
                };
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                for seq in 1..=2000u16 {
                    if s.write_all(&sia(&account, seq, "QA1")).is_err() {
                        return;
                    }
                    let mut answer = Vec::new();
                    let mut byte = [0u8; 1];
                    loop {
                        match s.read(&mut byte) {
                            Ok(1) => {
                                answer.push(byte[0]);
                                if byte[0] == b'\r' {
                                    break;
                                }
                            }
                            _ => return, // killed: this frame was not acknowledged
                        }
                    }
                    if answer.windows(5).any(|w| w == b"\"ACK\"") {
                        acked
                            .lock()
                            .unwrap()
                            .push((account.clone(), format!("{seq:04}")));
                    }
                }
            })
        })
        .collect();
    // Let the burst run, then crash the gateway mid-flight.
    while acked.lock().unwrap().len() < 3000 {
        std::thread::sleep(Duration::from_millis(5));
    }
    g.kill();
    for t in threads {
        t.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 3000);
    // Restart on the same data: recovery runs, then export.
    let g = Gateway::start_on(dir.path(), &[]);
    assert_eq!(g.stop(), Some(0));
    let mut stored: HashMap<(String, String), usize> = HashMap::new();
    for r in export(dir.path()) {
        let key = (
            r["account"].as_str().unwrap().to_owned(),
            r["sequence"].as_str().unwrap().to_owned(),
        );
        *stored.entry(key).or_default() += 1;
    }
    let lost: Vec<_> = acked
        .iter()
        .filter(|k| stored.get(*k) != Some(&1))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged frames not stored exactly once, e.g. {:?}",
        lost.len(),
        acked.len(),
        lost.first()
    );
    assert!(stored.values().all(|&n| n == 1), "a frame was stored twice");
}

#[test]
fn torn_tail_is_truncated_at_restart() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gateway::start_on(dir.path(), &[]);
    for seq in 1..=3 {
        g.exchange(&sia("1234", seq, "MA1"), 1);
    }
    assert_eq!(g.stop(), Some(0));
    let seg = dir.path().join("journal/00000000000000000000.seg");
    let len = std::fs::metadata(&seg).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(len - 7)
        .unwrap();
    // Restart: the gateway truncates the torn record and goes on journaling after it.
    let g = Gateway::start_on(dir.path(), &[]);
    g.exchange(&sia("1234", 4, "MA1"), 1);
    assert_eq!(g.stop(), Some(0));
    let seqs: Vec<String> = export(dir.path())
        .iter()
        .map(|r| r["sequence"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(seqs, ["0001", "0002", "0004"]);
}

#[test]
fn dedup_window_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gateway::start_on(dir.path(), &[]);
    g.exchange(&sia("1234", 77, "QA1"), 1);
    assert_eq!(g.stop(), Some(0));
    let g = Gateway::start_on(dir.path(), &[]);
    let mut s = g.tcp();
    s.write_all(&sia("1234", 77, "QA1")).unwrap();
    crate::gateway::read_frames(&mut s, 1);
    assert_eq!(g.metric("vagt_dedup_hits_total", ""), 1.0);
    assert_eq!(g.stop(), Some(0));
    assert_eq!(export(dir.path()).len(), 1);
}
