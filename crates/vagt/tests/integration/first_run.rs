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

/// Starts `vagt serve` on the embedded default in `dir` (with `args`); the child, the
/// console's address and the line after the ready line, if one was printed.
fn first_start(
    dir: &Path,
    args: &[&str],
) -> (std::process::Child, std::net::SocketAddr, Option<String>) {
    let mut child = crate::gateway::serve_command(dir)
        .args(args)
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
    let next = std::thread::spawn(move || {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        line
    });
    let next = (0..50)
        .find_map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            next.is_finished().then_some(())
        })
        .map(|()| next.join().unwrap());
    (child, console, next)
}

/// The token in the set-up link file in `dir`, if there is one.
fn link_token(dir: &Path) -> Option<String> {
    let link = std::fs::read_to_string(dir.join("first-admin-link")).ok()?;
    let token = link.trim().split_once("#setup=").unwrap().1.to_owned();
    assert_eq!(token.len(), 32, "{link}");
    Some(token)
}

#[test]
fn the_first_start_makes_the_console_and_a_one_time_link_for_the_first_admin() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, console, line) = first_start(dir.path(), &[]);
    let line = line.expect("no set-up line printed");
    // Not on a terminal (a service's stdout goes to its log): the line names the file only.
    assert!(
        line.contains("first-admin-link") && !line.contains("#setup="),
        "{line}"
    );
    let token = link_token(dir.path()).expect("no set-up link file");
    // For images without a shell: the link from the command line.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vagt"))
        .args(["user", "setup-link", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("#setup={token}")));
    let cert = dir.path().join("console-cert.pem");
    for f in [
        "console-cert.pem",
        "console-key.pem",
        "users.toml",
        "first-admin-link",
    ] {
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
    assert!(
        !dir.path().join("first-admin-link").exists(),
        "the spent link stays on disk"
    );
    crate::gateway::signal(&child, "TERM");
    assert_eq!(child.wait().unwrap().code(), Some(0));
    // The next start keeps the pair and the admin, and offers no link.
    let pem = std::fs::read(&cert).unwrap();
    let (mut child, _, line) = first_start(dir.path(), &[]);
    assert_eq!(line, None, "an admin exists: no set-up link");
    assert_eq!(link_token(dir.path()), None);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vagt"))
        .args(["user", "setup-link", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no open set-up link"));
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

#[test]
fn a_users_file_the_config_names_gets_no_set_up_link() {
    // An operator-only users file of the centre's own: nobody may make themselves its admin.
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("centre-users.toml");
    std::fs::write(&users, "# no admin yet\n").unwrap();
    let config = dir.path().join("vagt.toml");
    std::fs::write(
        &config,
        format!("[console]\nusers = \"{}\"\n", users.display()),
    )
    .unwrap();
    let (mut child, _, line) = first_start(dir.path(), &["--config", config.to_str().unwrap()]);
    assert_eq!(
        line, None,
        "a set-up link for a users file Vagt did not make"
    );
    assert_eq!(link_token(dir.path()), None);
    crate::gateway::signal(&child, "TERM");
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

/// Runs `vagt user add` for `name` on a real terminal (a pseudo-terminal), typing `first`
/// and `again` at its prompts; everything the terminal showed, and the exit code.
fn user_add_at_a_terminal(file: &Path, name: &str, first: &str, again: &str) -> (String, i32) {
    const SCRIPT: &str = r#"
import os, pty, select, sys
vagt, file, name, first, again = sys.argv[1:6]
pid, fd = pty.fork()
if pid == 0:
    os.execv(vagt, [vagt, "user", "add", "--name", name, "--role", "operator", "--file", file])
out = b""
def more():
    global out
    ready, _, _ = select.select([fd], [], [], 10)
    if not ready:
        sys.stdout.write(out.decode(errors="replace") + "\n[no prompt within 10 s]")
        os.kill(pid, 9)
        sys.exit(3)
    try:
        data = os.read(fd, 1024)
    except OSError:
        data = b""
    out += data
    return data
for prompt, answer in [(b"Password for " + name.encode() + b": ", first), (b"Again: ", again)]:
    while prompt not in out:
        if not more():
            break
    os.write(fd, answer.encode() + b"\n")
while more():
    pass
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", SCRIPT, env!("CARGO_BIN_EXE_vagt")])
        .arg(file)
        .args([name, first, again])
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn user_add_at_a_terminal_asks_twice_and_never_shows_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.toml");
    let (shown, code) = user_add_at_a_terminal(&file, "ida", "hemmelig-kode-1", "hemmelig-kode-1");
    assert_eq!(code, 0, "{shown}");
    assert!(
        shown.contains("Password for ida: ") && shown.contains("Again: "),
        "{shown}"
    );
    assert!(shown.contains("added ida"), "{shown}");
    assert!(
        !shown.contains("hemmelig"),
        "the password was echoed: {shown}"
    );
    let users = vagt_console::users::Users::load(&file).unwrap();
    assert!(users.check("ida", "hemmelig-kode-1").is_some());

    // Typed differently the second time: nothing is added.
    let (shown, code) = user_add_at_a_terminal(&file, "bo", "hemmelig-kode-2", "hemmelig-kode-3");
    assert_ne!(code, 0, "{shown}");
    assert!(shown.contains("the two passwords differ"), "{shown}");
    let users = vagt_console::users::Users::load(&file).unwrap();
    assert!(users.get("bo").is_none());
    assert!(users.get("ida").is_some());
}
