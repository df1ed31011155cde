//! The container image's runtime stage without a container engine (none can pull an image
//! here): `deploy/container/rootfs.sh` assembles its files into a directory, and the binary is
//! started from it as the container would start it — the Containerfile's ENTRYPOINT and CMD,
//! as its USER, chrooted into that root, which that user cannot write — then its HEALTHCHECK is
//! run the same way, a real DC-09 frame is acknowledged, and SIGTERM stops it cleanly.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::gateway::{read_frames, sia, signal};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Containerfile's runtime stage: `(USER, ENTRYPOINT + CMD, HEALTHCHECK's command)`.
fn runtime_stage() -> (String, Vec<String>, Vec<String>) {
    let text = std::fs::read_to_string(repo().join("deploy/container/Containerfile")).unwrap();
    let stage: Vec<&str> = text
        .lines()
        .skip_while(|l| !(l.starts_with("FROM ") && l.ends_with(" AS runtime")))
        .collect();
    assert!(!stage.is_empty(), "no runtime stage");
    let value = |key: &str| {
        stage
            .iter()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key}"))
            .trim()
            .to_owned()
    };
    let array = |s: &str| -> Vec<String> { serde_json::from_str(s).unwrap() };
    let mut run = array(&value("ENTRYPOINT "));
    run.extend(array(&value("CMD ")));
    let health = value("HEALTHCHECK ");
    let health = array(health.split_once(" CMD ").unwrap().1);
    (value("USER "), run, health)
}

/// Every path under `root` (but `skip`) with its size, mode, owner and mtime.
fn listing(root: &Path, skip: &Path) -> Vec<(PathBuf, u64, u32, u32, i64)> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p == skip {
                continue;
            }
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                dirs.push(p.clone());
            }
            out.push((p, m.len(), m.mode(), m.uid(), m.mtime()));
        }
    }
    out.sort();
    out
}

/// `command` run as the container runs it: chrooted into `root`, as `user`, no environment.
fn in_container(root: &Path, user: &str, command: &[String]) -> Command {
    let mut c = Command::new("/usr/sbin/chroot");
    c.arg(format!("--userspec={user}"))
        .arg(root)
        .args(command)
        .env_clear()
        .current_dir("/");
    c
}

#[test]
fn the_image_runs_as_nonroot_on_a_root_it_cannot_write_and_reports_healthy() {
    let uid = std::fs::metadata("/proc/self").unwrap().uid();
    assert_eq!(
        uid, 0,
        "this test chroots like a container engine: run it as root (CI does)"
    );
    let (user, run, health) = runtime_stage();
    assert_ne!(user.split(':').next(), Some("0"), "the image runs as root");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("rootfs");
    let bin = Path::new(env!("CARGO_BIN_EXE_vagt")).parent().unwrap();
    let built = Command::new(repo().join("deploy/container/rootfs.sh"))
        .arg(&root)
        .arg(bin)
        .status()
        .unwrap();
    assert!(built.success());
    let volume = root.join("var/lib/vagt");
    assert_eq!(
        std::fs::metadata(&volume).unwrap().uid().to_string(),
        user.split(':').next().unwrap()
    );
    let before = listing(&root, &volume);
    for (p, _, mode, owner, _) in &before {
        assert!(
            *owner == 0 && (mode & 0o022 == 0 || p.ends_with("tmp")),
            "{} writable by the image's user",
            p.display()
        );
    }

    let mut gateway = in_container(&root, &user, &run)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(gateway.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    if !ready.contains("listening on") {
        let mut err = String::new();
        let _ = gateway.stderr.take().unwrap().read_to_string(&mut err);
        panic!(
            "the image's command did not start (are its ports 7050/7443/9464 free?): {ready}{err}"
        );
    }
    let dc09 = ready
        .split_once("listening on ")
        .and_then(|(_, r)| r.split_once(' '))
        .map(|(a, _)| a.parse::<std::net::SocketAddr>().unwrap())
        .unwrap();
    // The HEALTHCHECK, run inside as the engine runs it: ready once the core caught up.
    let healthy = (0..100).any(|_| {
        let ok = in_container(&root, &user, &health)
            .output()
            .unwrap()
            .status
            .success();
        if !ok {
            std::thread::sleep(Duration::from_millis(100));
        }
        ok
    });
    assert!(healthy, "the image's HEALTHCHECK never passed");
    let mut s = std::net::TcpStream::connect(("127.0.0.1", dc09.port())).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&sia("1234", 1, "QA")).unwrap();
    let ack = read_frames(&mut s, 1);
    assert!(String::from_utf8_lossy(&ack[0]).contains("\"ACK\""));

    signal(&gateway, "TERM");
    assert_eq!(
        gateway.wait().unwrap().code(),
        Some(0),
        "STOPSIGNAL is clean"
    );
    // It wrote its volume only, and that owner-only.
    assert_eq!(
        listing(&root, &volume),
        before,
        "the root filesystem was written"
    );
    for f in [
        "journal",
        "console-key.pem",
        "users.toml",
        "first-admin-link",
    ] {
        let m = std::fs::metadata(volume.join(f)).unwrap();
        assert_eq!(m.permissions().mode() & 0o077, 0, "{f}");
    }
    assert!(
        std::fs::read_dir(volume.join("journal")).unwrap().any(|e| e
            .unwrap()
            .metadata()
            .unwrap()
            .len()
            > 0),
        "the frame is not in the volume's journal"
    );
}
