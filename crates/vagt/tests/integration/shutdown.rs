//! Shutdown when something is stuck: the process still closes the journal and the core in
//! order and exits with the error, instead of hanging (it used to wait forever for an appender
//! held by the stuck task).

use std::io::Write;
use std::time::Duration;

use crate::gateway::{Gateway, sia, signal};
use crate::ordering::build_probe;
use crate::storage::{acked, exited_within, quiet_config};

#[test]
fn a_frame_stuck_past_the_grace_still_exits_with_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let probe = build_probe(dir.path());
    let slow = dir.path().join("slow-disk");
    let config = quiet_config(dir.path());
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("shutdown_grace_secs = 10", "shutdown_grace_secs = 1"),
    )
    .unwrap();
    let env = [
        ("LD_PRELOAD", probe.as_os_str()),
        ("VAGT_PROBE_SLOW_IF", slow.as_os_str()),
        ("VAGT_PROBE_DELAY_US", std::ffi::OsStr::new("4000000")),
    ];
    let mut g = Gateway::start_with_env(&data, &["--config", config.to_str().unwrap()], &env);
    assert!(acked(&g, &sia("1234", 1, "MA1")));
    // The disk hangs for 4 s: the next frame is in flight past the 1 s grace.
    std::fs::write(&slow, b"").unwrap();
    let mut stuck = std::net::TcpStream::connect(g.addr).unwrap();
    stuck.write_all(&sia("1234", 2, "MA1")).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    signal(&g.child, "TERM");
    let code = exited_within(&mut g, Duration::from_secs(60))
        .expect("a stuck frame must not keep the process from exiting");
    assert_eq!(code, Some(2), "grace exceeded is an error exit");
    drop(stuck);
    drop(g);
    // The journal was closed in order: it reopens without a torn tail to cut.
    std::fs::remove_file(&slow).unwrap();
    let g = Gateway::start_on(&data, &["--config", config.to_str().unwrap()]);
    assert!(acked(&g, &sia("1234", 3, "MA1")));
    assert_eq!(g.stop(), Some(0));
}

/// `vagt <args>` with a config file holding the default plus `extra`.
fn vagt_with(dir: &std::path::Path, extra: &str, args: &[&str]) -> std::process::Output {
    let path = dir.join("with-console.toml");
    let text = crate::gateway::base_config()
        .replace("listen = \"0.0.0.0:7050\"", "listen = \"127.0.0.1:0\"")
        .replace("metrics = \"127.0.0.1:9464\"", "metrics = \"127.0.0.1:0\"")
        + extra;
    std::fs::write(&path, text).unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_vagt"))
        .args(args)
        .arg("--config")
        .arg(&path)
        .arg("--data")
        .arg(dir.join("data"))
        .output()
        .unwrap()
}

#[test]
fn check_config_refuses_what_serve_would_refuse_in_the_console_section() {
    let dir = tempfile::tempdir().unwrap();
    let section = crate::console::console_section(dir.path());
    let ok = vagt_with(dir.path(), &section, &["check-config"]);
    assert!(ok.status.success(), "{ok:?}");
    assert!(String::from_utf8_lossy(&ok.stdout).contains(", console 127.0.0.1:0"));
    let users = std::fs::read(dir.path().join("users.toml")).unwrap();
    std::fs::write(dir.path().join("users.toml"), "[[users]]\nname = 1\n").unwrap();
    let out = vagt_with(dir.path(), &section, &["check-config"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("users.toml"),
        "{out:?}"
    );
    std::fs::write(dir.path().join("users.toml"), users).unwrap();
    std::fs::remove_file(dir.path().join("console-key.pem")).unwrap();
    for cmd in ["check-config", "serve"] {
        let out = vagt_with(dir.path(), &section, &[cmd]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {err}");
        assert!(err.contains("console-key.pem"), "{cmd}: {err}");
    }
}

#[test]
fn a_console_port_in_use_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let section = crate::console::console_section(dir.path()).replace(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:{port}\""),
    );
    let out = vagt_with(dir.path(), &section, &["serve"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].contains(&format!("binding console 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// Two free loopback ports (bound and released: the gateway binds them right after).
fn free_ports() -> (u16, u16) {
    let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

#[test]
fn a_closed_stdout_or_stderr_never_stops_the_acks_or_the_signals() {
    for closed in ["stdout", "stderr"] {
        let dir = tempfile::tempdir().unwrap();
        let (port, metrics) = free_ports();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_vagt"));
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--metrics", &format!("127.0.0.1:{metrics}")])
            .arg("--data")
            .arg(dir.path())
            .env("RUST_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        // Close the read end of one of the pipes: every write to it fails (EPIPE).
        match closed {
            "stdout" => drop(child.stdout.take()),
            _ => drop(child.stderr.take()),
        }
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut stream = None;
        for _ in 0..200 {
            if let Ok(s) = std::net::TcpStream::connect(addr) {
                stream = Some(s);
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut s = stream.unwrap_or_else(|| panic!("{closed} closed: the gateway never listened"));
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(&sia("1234", 1, "MA1")).unwrap();
        crate::gateway::read_frames(&mut s, 1);
        drop(s);
        signal(&child, "TERM");
        let start = std::time::Instant::now();
        let code = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status.code();
            }
            if start.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                panic!("{closed} closed: SIGTERM ignored");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(code, Some(0), "{closed} closed: a clean stop");
    }
}

#[test]
fn issuing_a_client_certificate_keeps_the_server_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let vagt = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vagt"))
            .args(["cert", "dev", "--out"])
            .arg(dir.path())
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    vagt(&[]);
    let cert = std::fs::read(dir.path().join("console-cert.pem")).unwrap();
    let said = vagt(&["--client", "bob"]);
    assert!(said.contains("kept the existing"), "{said}");
    assert_eq!(
        std::fs::read(dir.path().join("console-cert.pem")).unwrap(),
        cert
    );
    assert!(dir.path().join("bob-cert.pem").is_file(), "{said}");
}
