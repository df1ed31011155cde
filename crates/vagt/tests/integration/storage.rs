//! Storage faults (README "When storage fails"): a failing fsync or a full disk stops the
//! gateway loudly and promptly (fail-stop) without trusting what was never synced; corruption
//! is never mistaken for a torn write; one data directory has one gateway.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::gateway::{Gateway, export, sia};
use crate::ordering::build_probe;

/// The shipped config with clock ticks an hour apart: the only fsyncs are the test's frames.
pub fn quiet_config(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../config/vagt.toml"
    ))
    .unwrap();
    assert!(text.contains("tick_secs = 1\n"));
    let path = dir.join("quiet.toml");
    std::fs::write(&path, text.replace("tick_secs = 1\n", "tick_secs = 3600\n")).unwrap();
    path
}

/// Waits up to `limit` for the gateway to exit on its own; its exit code.
pub fn exited_within(g: &mut Gateway, limit: Duration) -> Option<Option<i32>> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = g.child.try_wait().unwrap() {
            return Some(status.code());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Sends one frame on a new connection; whether an ACK came back (any close or timeout: no).
pub fn acked(g: &Gateway, frame: &[u8]) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(g.addr) else {
        return false;
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    if s.write_all(frame).is_err() {
        return false;
    }
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while let Ok(1) = s.read(&mut byte) {
        answer.push(byte[0]);
        if byte[0] == b'\r' {
            break;
        }
    }
    answer.windows(5).any(|w| w == b"\"ACK\"")
}

fn sequences(data: &Path) -> Vec<String> {
    export(data)
        .iter()
        .map(|r| r["sequence"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_failed_fsync_stops_the_gateway_and_its_batch_is_not_trusted_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let probe = build_probe(dir.path());
    let marker = dir.path().join("fail-fsync");
    let config = quiet_config(dir.path());
    let config = config.to_str().unwrap();
    let env = [
        ("LD_PRELOAD", probe.as_os_str()),
        ("VAGT_PROBE_FAIL_IF", marker.as_os_str()),
    ];
    let mut g = Gateway::start_with_env(&data, &["--config", config], &env);
    assert!(acked(&g, &sia("1234", 1, "MA1")));
    std::fs::write(&marker, b"").unwrap();
    assert!(
        !acked(&g, &sia("1234", 2, "MA1")),
        "an ACK for a frame whose fsync failed"
    );
    let code = exited_within(&mut g, Duration::from_secs(15))
        .expect("the gateway must stop by itself when an fsync fails (fail-stop)");
    assert_ne!(code, Some(0), "a failed journal must exit non-zero");
    // Written but never synced: not in the journal.
    assert_eq!(sequences(&data), ["0001"]);

    // Restarted on a working disk, the retransmission is stored afresh, not ACKed as a
    // duplicate of bytes that may never have reached the disk.
    drop(g);
    let g = Gateway::start_on(&data, &["--config", config]);
    assert!(acked(&g, &sia("1234", 2, "MA1")));
    assert_eq!(g.metric("vagt_dedup_hits_total", ""), 0.0);
    assert_eq!(g.stop(), Some(0));
    assert_eq!(sequences(&data), ["0001", "0002"]);
}

#[test]
fn a_full_disk_stops_the_gateway_and_loses_no_acknowledged_frame() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = quiet_config(dir.path());
    let config = config.to_str().unwrap();
    // A 48 KiB file-size limit stands in for a full disk: writes past it fail (EFBIG).
    let mut limited = Command::new("bash");
    limited.args([
        "-c",
        "trap '' XFSZ; ulimit -f 48; exec \"$0\" \"$@\"",
        env!("CARGO_BIN_EXE_vagt"),
    ]);
    let mut g = Gateway::start_command(limited, &data, &["--config", config]);
    let mut acknowledged = Vec::new();
    let mut refused = None;
    for seq in 1..=2000u16 {
        if acked(&g, &sia("1234", seq, "MA1")) {
            acknowledged.push(format!("{seq:04}"));
        } else {
            refused = Some(seq);
            break;
        }
    }
    let refused = refused.expect("48 KiB must fill up");
    assert!(acknowledged.len() > 10, "{acknowledged:?}");
    let code = exited_within(&mut g, Duration::from_secs(15))
        .expect("the gateway must stop by itself when the disk is full");
    assert_ne!(code, Some(0));
    drop(g);
    assert_eq!(
        sequences(&data),
        acknowledged,
        "exactly the acknowledged frames"
    );

    // Space is back: it recovers and takes the refused frame.
    let g = Gateway::start_on(&data, &["--config", config]);
    assert!(acked(&g, &sia("1234", refused, "MA1")));
    assert_eq!(g.stop(), Some(0));
    acknowledged.push(format!("{refused:04}"));
    assert_eq!(sequences(&data), acknowledged);
}

#[test]
fn a_second_gateway_on_the_same_data_directory_is_refused_naming_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gateway::start_on(dir.path(), &[]);
    let out = serve_refused(dir.path());
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("in use by another process")
            && stderr.contains(&format!("pid {}", g.child.id())),
        "{stderr}"
    );
    assert!(acked(&g, &sia("1234", 1, "MA1")), "the first one serves on");
    assert_eq!(g.stop(), Some(0));
}

#[test]
fn corruption_in_the_last_segment_refuses_to_start_and_salvage_keeps_every_valid_frame() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let g = Gateway::start_on(&data, &[]);
    for seq in 1..=50 {
        assert!(acked(&g, &sia("1234", seq, "MA1")));
    }
    assert_eq!(g.stop(), Some(0));
    let records = export(&data);
    let hit = records[20]["offset"].as_u64().unwrap() + 30;
    let seg = data.join("journal/00000000000000000000.seg");
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[usize::try_from(hit).unwrap()] ^= 0x01;
    std::fs::write(&seg, &bytes).unwrap();

    let vagt = || Command::new(env!("CARGO_BIN_EXE_vagt"));
    let out = serve_refused(&data);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let at = records[20]["offset"].as_u64().unwrap();
    assert!(
        stderr.contains("00000000000000000000.seg")
            && stderr.contains(&format!("at byte {at}"))
            && stderr.contains("salvage"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&seg).unwrap(), bytes, "nothing was cut off");
    let verify = vagt()
        .args(["journal", "verify", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!verify.status.success(), "verify must see the damage");

    let salvaged = dir.path().join("salvaged");
    let out = vagt()
        .args(["journal", "salvage", "--data"])
        .arg(&data)
        .arg("--to")
        .arg(&salvaged)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("1 damaged ranges"), "{stdout}");
    let next = records[21]["offset"].as_u64().unwrap();
    assert!(stderr.contains(&format!("bytes {at}..{next}")), "{stderr}");
    let mut expected = sequences_of(&records);
    expected.remove(20);
    assert_eq!(sequences(&salvaged), expected);
    let g = Gateway::start_on(&salvaged, &[]);
    assert!(acked(&g, &sia("1234", 99, "MA1")));
    assert_eq!(g.stop(), Some(0));
}

/// `vagt serve` on `data` that is expected to refuse to start: its output once it exited.
fn serve_refused(data: &Path) -> std::process::Output {
    crate::gateway::serve_command(data)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn sequences_of(records: &[serde_json::Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["sequence"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn journal_and_snapshots_are_the_owners_only_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut open = Command::new("bash");
    open.args([
        "-c",
        "umask 000; exec \"$0\" \"$@\"",
        env!("CARGO_BIN_EXE_vagt"),
    ]);
    let g = Gateway::start_command(open, &data, &[]);
    assert!(acked(&g, &sia("1234", 1, "MA1")));
    // SIGTERM writes the final core snapshot.
    assert_eq!(g.stop(), Some(0));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let mut checked = 0;
    for sub in ["journal", "core"] {
        let d = data.join(sub);
        assert_eq!(mode(&d), 0o700, "{}", d.display());
        for f in std::fs::read_dir(&d).unwrap() {
            let f = f.unwrap().path();
            assert_eq!(mode(&f), 0o600, "{}", f.display());
            checked += 1;
        }
    }
    assert!(checked >= 3, "a segment, the lock and a snapshot");
}

/// `vagt journal backup --data data --to to`: its stdout.
fn backup(data: &Path, to: &Path) -> String {
    crate::gateway::stdout_of(
        Command::new(env!("CARGO_BIN_EXE_vagt"))
            .args(["journal", "backup", "--data"])
            .arg(data)
            .arg("--to")
            .arg(to),
    )
}

#[test]
fn a_backup_taken_while_serving_restores_the_same_journal_alarms_and_dedup() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = quiet_config(dir.path());
    let g = Gateway::start_on(&data, &["--config", config.to_str().unwrap()]);
    let accounts = ["1234", "5678", "4321"];
    let frame = |i: u16| sia(accounts[usize::from(i) % 2 * 2], i, "QA");
    for i in 1..=20 {
        assert!(acked(&g, &frame(i)), "frame {i}");
    }
    let alarms = g.settled_alarms();
    // The register admins edit in the console lives in the data directory by default.
    let register = data.join("citizens.csv");
    std::fs::write(&register, crate::console::REGISTER).unwrap();
    std::fs::set_permissions(&register, std::fs::Permissions::from_mode(0o600)).unwrap();
    let quiet = dir.path().join("quiet-copy");
    let said = backup(&data, &quiet);
    assert!(
        said.contains("backed up") && said.contains("users.toml"),
        "{said}"
    );
    for f in ["citizens.csv", "accounts.toml"] {
        assert_eq!(
            std::fs::read(quiet.join(f)).unwrap(),
            std::fs::read(data.join(f)).unwrap(),
            "{f}"
        );
    }
    // A second copy while frames keep arriving: a prefix of the journal, whole records only.
    let busy = dir.path().join("busy-copy");
    let sending = std::thread::scope(|s| {
        let sender = s.spawn(|| (21..=80).filter(|&i| acked(&g, &frame(i))).count());
        std::thread::sleep(Duration::from_millis(20));
        backup(&data, &busy);
        sender.join().unwrap()
    });
    assert_eq!(sending, 60);
    assert_eq!(g.stop(), Some(0));

    let original = export(&data);
    for copy in [&quiet, &busy] {
        let copied = export(copy);
        assert!(copied.len() >= 20, "{}", copied.len());
        assert_eq!(
            copied[..],
            original[..copied.len()],
            "not a prefix of the journal"
        );
        for f in ["journal", "users.toml", "console-key.pem"] {
            let mode = std::fs::metadata(copy.join(f))
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode & 0o077, 0, "{f} readable by others: {mode:o}");
        }
    }
    // Into a directory that is not empty: refused, nothing written.
    let out = Command::new(env!("CARGO_BIN_EXE_vagt"))
        .args(["journal", "backup", "--data"])
        .arg(&data)
        .arg("--to")
        .arg(&quiet)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    // The restore: `vagt serve` on the quiet copy folds the alarms open when it was taken.
    let restored = Gateway::start_on(&quiet, &["--config", config.to_str().unwrap()]);
    assert_eq!(restored.settled_alarms(), alarms);
    assert_eq!(restored.stop(), Some(0));
    // The copy taken under load opens too and knows every frame it holds: a panel's
    // retransmission is ACKed as a duplicate, not journaled as a second frame.
    let restored = Gateway::start_on(&busy, &["--config", config.to_str().unwrap()]);
    let open = restored.settled_alarms();
    let records = export(&busy).len();
    assert!(acked(&restored, &frame(7)));
    assert_eq!(
        restored.settled_alarms(),
        open,
        "a retransmission made an alarm"
    );
    assert_eq!(restored.stop(), Some(0));
    let after = export(&busy);
    assert_eq!(
        after.len(),
        records,
        "the duplicate was journaled as a new frame: {:?}",
        &after[records..]
    );
}

/// `vagt journal verify --data data`: the number of records it counted.
fn verified_records(data: &Path) -> u64 {
    let said = crate::gateway::stdout_of(
        Command::new(env!("CARGO_BIN_EXE_vagt"))
            .args(["journal", "verify", "--data"])
            .arg(data),
    );
    said.split(": ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Segment files in `dir` (none if it does not exist).
fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "seg"));
    files.sort();
    files
}

#[test]
fn old_segments_move_to_the_archive_and_every_reader_and_a_full_replay_still_find_them() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let quiet = std::fs::read_to_string(quiet_config(dir.path())).unwrap();
    let text = quiet
        .replace("segment_mib = 64\n", "segment_mib = 1\n")
        .replace(
            "queue_capacity = 65536\n",
            "queue_capacity = 65536\narchive_after_days = 1\n",
        )
        .replace("snapshot_every_secs = 300\n", "snapshot_every_secs = 1\n");
    assert!(text.contains("archive_after_days") && text.contains("snapshot_every_secs = 1\n"));
    let config = dir.path().join("archive.toml");
    std::fs::write(&config, text).unwrap();
    let args = ["--config", config.to_str().unwrap()];
    let g = Gateway::start_on(&data, &args);
    let journal = data.join("journal");
    // Frames until the journal has three segments (1 MiB each), 100 in flight at a time.
    let mut s = g.tcp();
    let mut sent = 0u32;
    while segment_files(&journal).len() < 3 {
        let batch: Vec<u8> = (0..100)
            .flat_map(|_| {
                sent += 1;
                sia(
                    &format!("{:X}", 0x1000 + sent / 9000),
                    (sent % 9000) as u16 + 1,
                    "QA",
                )
            })
            .collect();
        s.write_all(&batch).unwrap();
        crate::gateway::read_frames(&mut s, 100);
    }
    let alarms = g.settled_alarms();
    let records = verified_records(&data);
    // Everything but the newest segment was last written three days ago.
    let files = segment_files(&journal);
    for f in &files[..files.len() - 1] {
        let touched = Command::new("touch")
            .args(["-d", "3 days ago"])
            .arg(f)
            .status()
            .unwrap();
        assert!(touched.success());
    }
    let archive = data.join("journal-archive");
    let start = Instant::now();
    while segment_files(&archive).len() < files.len() - 1
        && start.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        segment_files(&archive).len(),
        files.len() - 1,
        "not archived"
    );
    assert_eq!(
        segment_files(&journal),
        files[files.len() - 1..],
        "the newest stays"
    );
    assert!(g.metric("vagt_journal_archived_segments_total", "") >= 2.0);
    let mode = std::fs::metadata(&archive).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    // Every reader reads one journal as before: verify, export, the offline fold.
    assert_eq!(verified_records(&data), records);
    assert_eq!(export(&data).len(), sent as usize);
    assert_eq!(g.alarms(), alarms);
    assert_eq!(g.stop(), Some(0));
    // A restart without the core's snapshots replays from offset 0, archive included.
    std::fs::remove_dir_all(data.join("core")).unwrap();
    let g = Gateway::start_on(&data, &args);
    assert_eq!(g.settled_alarms(), alarms);
    assert_eq!(g.stop(), Some(0));
    // A backup carries the archive.
    let copy = dir.path().join("copy");
    backup(&data, &copy);
    assert_eq!(
        segment_files(&copy.join("journal-archive")).len(),
        files.len() - 1
    );
    assert_eq!(verified_records(&copy), verified_records(&data));
}
