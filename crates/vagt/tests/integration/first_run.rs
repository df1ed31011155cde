//! The first run: `vagt serve` with nothing configured runs the console on loopback with a
//! self-signed pair it made, and a one-time set-up link that creates the first admin.

use std::io::BufRead;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::json;

use crate::console::{connect, next, send};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Starts `vagt serve` on the embedded default in `dir`; the child, the console's address
/// and the set-up token, if one was printed.
fn first_start(dir: &Path) -> (std::process::Child, std::net::SocketAddr, Option<String>) {
    let mut child = crate::gateway::serve_command(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut ready = String::new();
    out.read_line(&mut ready).unwrap();
    let console = ready
        .split_once("console wss://")
        .and_then(|(_, r)| r.split_once('/'))
        .map(|(a, _)| a.parse().unwrap())
        .unwrap_or_else(|| panic!("no console in {ready:?}"));
    // The set-up line follows at once when there is one; the process keeps stdout open.
    let token = std::thread::spawn(move || {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        line.split_once("#setup=")
            .map(|(_, t)| t.split_whitespace().next().unwrap().to_owned())
    });
    let token = (0..50)
        .find_map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            token.is_finished().then_some(())
        })
        .and_then(|()| token.join().unwrap());
    (child, console, token)
}

#[test]
fn the_first_start_makes_the_console_and_a_one_time_link_for_the_first_admin() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, console, token) = first_start(dir.path());
    let token = token.expect("no set-up link printed");
    let cert = dir.path().join("console-cert.pem");
    for f in ["console-cert.pem", "console-key.pem", "users.toml"] {
        assert_eq!(mode(&dir.path().join(f)), 0o600, "{f}");
    }
    let rt = crate::console::runtime();
    rt.block_on(async {
        // Without the token, or with a short password: refused, nothing created.
        let mut ws = connect(console, &cert).await;
        send(&mut ws, json!({"type": "setup", "token": "0".repeat(32), "user": "mette", "password": "a long password"})).await;
        assert!(next(&mut ws, "denied").await["reason"].as_str().unwrap().contains("no such set-up link"));
        let mut ws = connect(console, &cert).await;
        send(&mut ws, json!({"type": "setup", "token": token, "user": "mette", "password": "short"})).await;
        assert!(next(&mut ws, "denied").await["reason"].as_str().unwrap().contains("12 characters"));
        // With it: the admin exists and is logged in.
        let mut ws = connect(console, &cert).await;
        send(&mut ws, json!({"type": "setup", "token": token, "user": "mette", "password": "a long password"})).await;
        let welcome = next(&mut ws, "welcome").await;
        assert_eq!(welcome["role"], "admin", "{welcome}");
        // The link is spent; the admin logs in like anyone else.
        let mut ws = connect(console, &cert).await;
        send(&mut ws, json!({"type": "setup", "token": token, "user": "ole", "password": "a long password"})).await;
        assert!(next(&mut ws, "denied").await["reason"].as_str().unwrap().contains("no set-up is open"));
        let mut ws = connect(console, &cert).await;
        send(&mut ws, json!({"type": "login", "user": "mette", "password": "a long password"})).await;
        assert_eq!(next(&mut ws, "welcome").await["user"], "mette");
    });
    let users = std::fs::read_to_string(dir.path().join("users.toml")).unwrap();
    assert!(
        users.contains("name = \"mette\"") && users.contains("$argon2"),
        "{users}"
    );
    assert_eq!(mode(&dir.path().join("users.toml")), 0o600);
    crate::gateway::signal(&child, "TERM");
    assert_eq!(child.wait().unwrap().code(), Some(0));
    // The next start keeps the pair and the admin, and offers no link.
    let pem = std::fs::read(&cert).unwrap();
    let (mut child, _, token) = first_start(dir.path());
    assert_eq!(token, None, "an admin exists: no set-up link");
    assert_eq!(
        std::fs::read(&cert).unwrap(),
        pem,
        "the certificate was replaced"
    );
    crate::gateway::signal(&child, "TERM");
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn no_console_runs_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let g = crate::gateway::Gateway::start_on(dir.path(), &["--no-console"]);
    assert!(g.console.is_none());
    assert!(!dir.path().join("console-key.pem").exists());
    assert_eq!(g.stop(), Some(0));
}
