//! DESIGN.md promise 1, observed in the process: the ACK for a frame is sent only after an
//! `fdatasync` of the journal completed.
//!
//! A SIGKILL test cannot show this (written-but-unsynced data survives a process kill). Here a
//! small probe (`fsync_probe.c`, compiled with the system C compiler and loaded with
//! `LD_PRELOAD`) makes every `fdatasync` 30 ms slower and logs, in order, each completed
//! `fdatasync` and each ACK about to be sent. One client sends frames one at a time; before each
//! ACK there must be a completed fdatasync that the previous ACK did not already use.

use std::io::Write;
use std::process::Command;

use crate::gateway::{Gateway, read_frames, sia};

/// Compiles `fsync_probe.c` into `dir`; returns the shared object for `LD_PRELOAD`.
pub fn build_probe(dir: &std::path::Path) -> std::path::PathBuf {
    let probe = dir.join("fsync_probe.so");
    let source = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/integration/fsync_probe.c"
    );
    let cc = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&probe)
        .arg(source)
        .arg("-ldl")
        .status();
    assert!(
        cc.is_ok_and(|s| s.success()),
        "building the probe needs a C compiler (cc)"
    );
    probe
}

#[test]
fn every_ack_is_sent_after_an_fdatasync() {
    let dir = tempfile::tempdir().unwrap();
    let probe = build_probe(dir.path());
    let log = dir.path().join("probe.log");
    let env = [
        ("LD_PRELOAD", probe.as_os_str()),
        ("VAGT_PROBE_LOG", log.as_os_str()),
        ("VAGT_PROBE_DELAY_US", std::ffi::OsStr::new("30000")),
    ];
    let g = Gateway::start_with_env(dir.path(), &[], &env);
    let mut s = g.tcp();
    const FRAMES: u16 = 10;
    for seq in 1..=FRAMES {
        s.write_all(&sia("1234", seq, "QA1")).unwrap();
        read_frames(&mut s, 1);
    }
    drop(s);
    assert_eq!(g.stop(), Some(0));

    let events = std::fs::read_to_string(&log).unwrap();
    let mut synced = false;
    let mut acks = 0;
    for (i, e) in events.lines().enumerate() {
        match e {
            "S" => synced = true,
            "A" => {
                assert!(
                    synced,
                    "ACK {} sent before an fdatasync completed (event {i}): {events:?}",
                    acks + 1
                );
                synced = false;
                acks += 1;
            }
            other => panic!("unexpected probe line {other:?}"),
        }
    }
    assert_eq!(
        acks,
        usize::from(FRAMES),
        "the probe saw every ACK: {events:?}"
    );
}
