//! The web console in a real browser: headless Chromium (driven by `e2e/console.mjs` with
//! playwright-core) logs in over HTTPS, sees an alarm sent as a real DC-09 frame appear, and
//! claims, classifies and closes it by clicking; the journal's audit trail shows the actions.
//! Then a supervisor's page shows the month's SLA per shift with that call, and downloads the
//! call list as CSV.
//!
//! Needs `/usr/bin/chromium` (Debian `chromium`), `node` and `e2e/node_modules`
//! (`npm ci --prefix e2e`): `scripts/test` installs them.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::console::{Guard, start_with_console};
use crate::gateway::{read_frames, sia};

fn e2e_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../e2e")
}

/// The browser to drive, after checking it and playwright-core are installed.
fn chromium() -> String {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists() && e2e_dir().join("node_modules/playwright-core").exists(),
        "the browser test needs {chromium} and e2e/node_modules: run ./scripts/test (it installs \
         them: apt-get install chromium; npm ci --prefix e2e)"
    );
    chromium
}

/// Runs `script` from `e2e/` against the console at `console`, logged in as ole, with `env`;
/// returns the process and its stdout's lines.
pub(crate) fn run_script(
    script: &str,
    console: std::net::SocketAddr,
    env: &[(&str, &std::ffi::OsStr)],
) -> (
    std::process::Child,
    std::io::Lines<BufReader<std::process::ChildStdout>>,
) {
    let mut browser = Command::new("node")
        .arg(e2e_dir().join(script))
        .env("VAGT_URL", format!("https://127.0.0.1:{}/", console.port()))
        .env("VAGT_USER", "ole")
        .env("VAGT_PASSWORD", "ole-password")
        .env("CHROMIUM", chromium())
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node (the browser test needs node and chromium; see scripts/test)");
    let lines = BufReader::new(browser.stdout.take().unwrap()).lines();
    (browser, lines)
}

/// A pendant press on `account`: a real DC-09 frame to the gateway, ACKed.
pub(crate) fn press(dc09: std::net::SocketAddr, account: &str) {
    press_seq(dc09, account, 1);
}

/// A press with sequence number `seq` (a new message, not a retransmission of the last).
pub(crate) fn press_seq(dc09: std::net::SocketAddr, account: &str, seq: u16) {
    let mut s = std::net::TcpStream::connect(dc09).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    std::io::Write::write_all(&mut s, &sia(account, seq, "QA")).unwrap();
    read_frames(&mut s, 1);
}

#[test]
fn an_operator_handles_an_alarm_in_the_web_console() {
    let dir = tempfile::tempdir().unwrap();
    let (rt, running) = start_with_console(dir.path());
    let (console, dc09) = (running.console_addr.unwrap(), running.addr);
    let mut guard = Guard {
        rt: &rt,
        running: Some(running),
    };

    let os = std::ffi::OsStr::new;
    let detail_shot = dir.path().join("detail.png");
    let (mut browser, mut lines) = run_script(
        "console.mjs",
        console,
        &[
            ("VAGT_ACCOUNT", os("1234")),
            ("VAGT_CITIZEN", os("borger-1")),
            ("VAGT_CITIZEN_NAME", os("Karen Jensen")),
            ("VAGT_EVENT_NAME", os("Emergency Alarm")),
            ("VAGT_CALL_TYPE", os("emergency pendant")),
            ("VAGT_DETAIL_SCREENSHOT", detail_shot.as_os_str()),
            ("VAGT_SUPERVISOR", os("sara")),
            ("VAGT_SUPERVISOR_PASSWORD", os("sara-password")),
            ("VAGT_FORWARD_TEAM", os("sygepleje-vest")),
        ],
    );
    let ready = lines.next().unwrap().unwrap();
    assert_eq!(ready, "ready", "the page did not log in");

    // Now the pendant is pressed.
    press(dc09, "1234");
    // The first call is handled at the centre; then the citizen presses again.
    let second = lines.next().unwrap().unwrap();
    assert_eq!(second, "ready for a second alarm");
    press_seq(dc09, "1234", 2);

    // Two calls this month, and the call list downloaded as vagt-YYYY-MM-calls.csv (the month
    // the browser's form suggests).
    let supervisor = lines.next().unwrap().unwrap();
    let file = supervisor
        .strip_prefix("supervisor 2 vagt-")
        .unwrap_or_default();
    assert!(
        file.len() == "YYYY-MM-calls.csv".len() && file.ends_with("-calls.csv"),
        "the supervisor's view: {supervisor}"
    );
    let done = lines.next().unwrap().unwrap();
    assert!(browser.wait().unwrap().success(), "{done}");
    let alarm: u64 = done.strip_prefix("done ").unwrap().parse().unwrap();
    guard.stop();
    assert!(detail_shot.metadata().unwrap().len() > 1000);
    if let Ok(keep) = std::env::var("VAGT_KEEP_SCREENSHOTS") {
        std::fs::copy(&detail_shot, Path::new(&keep).join("citizen-detail.png")).unwrap();
    }

    // The journal has the clicks, attributed to the operator.
    let audit = audit_trail(&dir.path().join("data"));
    assert_eq!(
        actions(&audit, alarm),
        by("ole", &["claim", "callback", "classify", "close"])
    );
    // The second call went to the team the operator chose (the account names no provider).
    let forwarded: Vec<&serde_json::Value> = audit
        .iter()
        .filter(|a| a["command"]["command"] == "forward")
        .collect();
    assert_eq!(forwarded.len(), 1, "{audit:?}");
    assert_eq!(forwarded[0]["command"]["team"], "sygepleje-vest");
    assert_ne!(forwarded[0]["command"]["alarm"], alarm);
}

#[test]
fn the_console_says_when_it_is_not_live_and_reconnects_by_itself_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (rt, running) = start_with_console(dir.path());
    let (console, dc09) = (running.console_addr.unwrap(), running.addr);
    let mut guard = Guard {
        rt: &rt,
        running: Some(running),
    };
    let shots = dir.path().join("shots");
    std::fs::create_dir_all(&shots).unwrap();
    let (mut browser, mut lines) = run_script(
        "reconnect.mjs",
        console,
        &[
            ("VAGT_ACCOUNT", std::ffi::OsStr::new("4321")),
            ("VAGT_SCREENSHOT_DIR", shots.as_os_str()),
        ],
    );
    assert_eq!(lines.next().unwrap().unwrap(), "ready");

    // The server restarts mid-shift.
    guard.stop();
    assert_eq!(
        lines.next().unwrap().unwrap(),
        "stale",
        "the page must say it is not live"
    );
    guard.running = Some(restart_with_console(dir.path(), &rt, console, dc09));
    // A priority-1 alarm arrives on the restarted server.
    press(dc09, "4321");

    let live = lines.next().unwrap().unwrap();
    assert!(browser.wait().unwrap().success(), "{live}");
    let alarm: u64 = live.strip_prefix("live ").unwrap().parse().unwrap();
    let engine = guard.running.as_ref().unwrap().engine();
    assert_eq!(
        engine
            .alarm(vagt_core::AlarmId(alarm))
            .unwrap()
            .owner
            .as_deref(),
        Some("ole")
    );
    for shot in ["stale.png", "live.png"] {
        assert!(shots.join(shot).metadata().unwrap().len() > 1000, "{shot}");
    }
    if let Ok(keep) = std::env::var("VAGT_KEEP_SCREENSHOTS") {
        for shot in ["stale.png", "live.png"] {
            std::fs::copy(
                shots.join(shot),
                Path::new(&keep).join(format!("console-{shot}")),
            )
            .unwrap();
        }
    }
}

/// The same gateway again: same data directory, same DC-09 and console addresses (retrying
/// while the old listeners close).
fn restart_with_console(
    dir: &Path,
    rt: &tokio::runtime::Runtime,
    console: std::net::SocketAddr,
    dc09: std::net::SocketAddr,
) -> vagt::serve::Running {
    for _ in 0..50 {
        match crate::console::start_with_console_on(dir, rt, Some((console, dc09))) {
            Ok(r) => return r,
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
    panic!("the gateway did not start again on {console} / {dc09}");
}

/// `vagt serve` on the embedded default in `data` with its console on `console` (retrying
/// while an earlier one's listener closes), after its ready line.
fn serve_console_at(data: &Path, console: std::net::SocketAddr) -> std::process::Child {
    for _ in 0..50 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vagt"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--metrics",
                "127.0.0.1:0",
            ])
            .arg("--console")
            .arg(console.to_string())
            .arg("--data")
            .arg(data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        if ready.contains("console wss://") {
            return child;
        }
        let _ = child.wait();
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("the gateway did not start with its console on {console}");
}

#[test]
fn the_first_admin_is_made_from_the_set_up_link_in_the_browser_and_logs_in_plainly_after() {
    let dir = tempfile::tempdir().unwrap();
    let console = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut gateway = serve_console_at(dir.path(), console);
    let link = std::fs::read_to_string(dir.path().join("first-admin-link")).unwrap();
    let token = link.trim().split_once("#setup=").unwrap().1.to_owned();
    let os = std::ffi::OsStr::new;
    let mut browser = Command::new("node")
        .arg(e2e_dir().join("setup.mjs"))
        .env("VAGT_URL", format!("https://127.0.0.1:{}/", console.port()))
        .env("VAGT_TOKEN", &token)
        .env("VAGT_USER", "mette")
        .env("VAGT_PASSWORD", "the first password")
        .env("VAGT_NEW_PASSWORD", os("the second password"))
        .env("CHROMIUM", chromium())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node (the browser test needs node and chromium; see scripts/test)");
    let mut lines = BufReader::new(browser.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    crate::gateway::signal(&gateway, "TERM");
    gateway.wait().unwrap();
    assert_eq!(first, "admin");
    let users = dir.path().join("users.toml");
    assert!(std::fs::read_to_string(&users).unwrap().contains("mette"));
    // The admin's password is changed while the server is down.
    std::fs::remove_file(&users).unwrap();
    let mut add = Command::new(env!("CARGO_BIN_EXE_vagt"))
        .args([
            "user", "add", "--name", "mette", "--role", "admin", "--file",
        ])
        .arg(&users)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(add.stdin.as_mut().unwrap(), b"the second password\n").unwrap();
    assert!(add.wait().unwrap().success());
    let mut gateway = serve_console_at(dir.path(), console);
    let denied = lines.next().unwrap().unwrap();
    let live = lines.next().map(|l| l.unwrap());
    let ok = browser.wait().unwrap().success();
    crate::gateway::signal(&gateway, "TERM");
    gateway.wait().unwrap();
    assert_eq!(denied, "denied");
    assert_eq!(live.as_deref(), Some("live"));
    assert!(ok);
}

#[test]
fn a_responder_handles_the_visit_on_a_phone() {
    use crate::console::{login, next, next_answer, send};
    use serde_json::json;
    let dir = tempfile::tempdir().unwrap();
    let (rt, running) = start_with_console(dir.path());
    let (console, dc09) = (running.console_addr.unwrap(), running.addr);
    let mut guard = Guard {
        rt: &rt,
        running: Some(running),
    };
    let cert = dir.path().join("console-cert.pem");
    let os = std::ffi::OsStr::new;
    let shot = dir.path().join("responder.png");
    let (mut browser, mut lines) = run_script(
        "responder.mjs",
        console,
        &[
            ("VAGT_USER", os("vest-1")),
            ("VAGT_PASSWORD", os("vest-1-password")),
            ("VAGT_ACCOUNT", os("4321")),
            ("VAGT_CITIZEN_NAME", os("Ib Holm")),
            ("VAGT_ADDRESS", os("Vestergade 3")),
            ("VAGT_LOCK", os("lock-3")),
            ("VAGT_SCREENSHOT", shot.as_os_str()),
        ],
    );
    assert_eq!(lines.next().unwrap().unwrap(), "ready");

    // A nurse call arrives; an operator claims it and forwards it to the account's home-nurse
    // district, the responder's team.
    rt.block_on(async {
        let (mut ole, _) = login(console, &cert, "ole").await;
        tokio::task::spawn_blocking(move || press(dc09, "4321"))
            .await
            .unwrap();
        let alarm = loop {
            let batch = next(&mut ole, "changes").await;
            let opened = batch["changes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["kind"]["change"] == "opened" && c["kind"]["account"] == "4321");
            if let Some(c) = opened {
                break c["kind"]["alarm"].clone();
            }
        };
        for (id, command) in [(1, "claim"), (2, "forward")] {
            send(&mut ole, json!({"type": "command", "id": id, "command": {"command": command, "alarm": alarm}})).await;
            let answer = next_answer(&mut ole).await;
            assert_eq!(answer["type"], "result", "{answer}");
        }
    });

    let done = lines.next().unwrap().unwrap();
    assert!(browser.wait().unwrap().success(), "{done}");
    let alarm: u64 = done.strip_prefix("done ").unwrap().parse().unwrap();
    guard.stop();
    assert!(shot.metadata().unwrap().len() > 1000);
    if let Ok(keep) = std::env::var("VAGT_KEEP_SCREENSHOTS") {
        std::fs::copy(&shot, Path::new(&keep).join("responder-phone.png")).unwrap();
    }
    // The taps are in the audit trail, as the responder's.
    let theirs: Vec<(String, String)> = actions(&audit_trail(&dir.path().join("data")), alarm)
        .into_iter()
        .filter(|(user, _)| user == "vest-1")
        .collect();
    assert_eq!(theirs, by("vest-1", &["accept", "arrive", "close"]));
}

/// `vagt audit export` of the journal in `data`, one JSON value per record.
fn audit_trail(data: &Path) -> Vec<serde_json::Value> {
    crate::gateway::json_lines(
        Command::new(env!("CARGO_BIN_EXE_vagt"))
            .args(["audit", "export", "--data"])
            .arg(data),
    )
}

/// Who gave which command on `alarm`, in journal order.
fn actions(audit: &[serde_json::Value], alarm: u64) -> Vec<(String, String)> {
    audit
        .iter()
        .filter(|a| a["command"]["alarm"] == alarm)
        .map(|a| {
            (
                a["user"].as_str().unwrap().to_owned(),
                a["command"]["command"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// `commands`, each given by `user`.
fn by(user: &str, commands: &[&str]) -> Vec<(String, String)> {
    commands
        .iter()
        .map(|c| (user.to_owned(), (*c).to_owned()))
        .collect()
}

#[test]
fn an_admin_manages_users_citizens_and_accounts_in_the_browser() {
    let dir = tempfile::tempdir().unwrap();
    let register = crate::console::write_register(dir.path(), 0o600);
    let config = crate::admin::config_with_admin(
        dir.path(),
        &format!("citizens = \"{}\"\n", register.display()),
    );
    let data = dir.path().join("data");
    let g = crate::gateway::Gateway::start_on(&data, &["--config", &config]);
    let os = std::ffi::OsStr::new;
    let shot = dir.path().join("admin.png");
    let (mut browser, mut lines) = run_script(
        "admin.mjs",
        g.console.expect("console address"),
        &[
            ("VAGT_USER", os("anna")),
            ("VAGT_PASSWORD", os("anna-password")),
            ("VAGT_NEW_USER", os("nina")),
            ("VAGT_NEW_PASSWORD", os("nina-long-password")),
            ("VAGT_DISABLE", os("mette")),
            ("VAGT_SEARCH", os("karen")),
            ("VAGT_CITIZEN", os("borger-1")),
            ("VAGT_PHONE", os("+45 70 70 70 70\n+4512345678")),
            ("VAGT_ACCOUNT", os("1234")),
            ("VAGT_PROVIDER", os("hjemmepleje-øst")),
            ("VAGT_KEY", os("text:FEDCBA9876543210")),
            ("VAGT_SCREENSHOT", shot.as_os_str()),
        ],
    );
    let done = lines.next().map(|l| l.unwrap());
    let ok = browser.wait().unwrap().success();
    // The account added in the browser is answered at once, with its key.
    let answer = g.exchange(&crate::reload::press_7777(1), 1).remove(0);
    assert!(crate::reload::acked(&answer), "{answer:?}");
    assert_eq!(g.stop(), Some(0));
    assert_eq!(done.as_deref(), Some("done"));
    assert!(ok);
    if let Ok(keep) = std::env::var("VAGT_KEEP_SCREENSHOTS") {
        std::fs::copy(&shot, Path::new(&keep).join("admin.png")).unwrap();
    }
    // What the clicks did is on disk: the users file and the register the next start reads.
    let users = vagt_console::users::Users::load(&dir.path().join("users.toml")).unwrap();
    assert!(users.check("nina", "nina-long-password").is_some());
    assert!(users.get("mette").unwrap().disabled);
    let citizens = vagt_records::Citizens::load(&register).unwrap();
    assert_eq!(
        citizens.get("borger-1").unwrap().phones,
        ["+45 70 70 70 70", "+4512345678"]
    );
    assert_eq!(citizens.get("borger-7").unwrap().name, "Else Holm");
    let accounts = vagt_records::Accounts::load(&data.join("accounts.toml")).unwrap();
    assert_eq!(
        accounts.entry("1234").unwrap().provider.as_deref(),
        Some("hjemmepleje-øst")
    );
    let new = accounts.entry("7777").unwrap();
    assert_eq!(new.key.as_deref(), Some("text:FEDCBA9876543210"));
    assert_eq!(new.citizen.as_deref(), Some("borger-7"));
    // And in the audit trail, as anna's, from her browser.
    let trail = audit_trail(&data);
    let anna: Vec<(&str, &str)> = trail
        .iter()
        .filter(|a| a["user"] == "anna" && a["admin"].is_string())
        .map(|a| (a["admin"].as_str().unwrap(), a["target"].as_str().unwrap()))
        .collect();
    assert_eq!(
        anna,
        [
            ("add_user", "nina"),
            ("disable_user", "mette"),
            ("put_citizen", "borger-1"),
            ("put_citizen", "borger-7"),
            ("put_account", "1234"),
            ("put_account", "7777")
        ]
    );
    assert!(
        !format!("{trail:?}").contains("FEDCBA9876543210"),
        "a key in the audit trail"
    );
}

#[test]
fn a_busy_shift_burst_emergency_staffing_a_runaway_and_a_reassign_in_three_browsers() {
    let dir = tempfile::tempdir().unwrap();
    let (rt, running) = start_with_console(dir.path());
    let (console, dc09) = (running.console_addr.unwrap(), running.addr);
    let mut guard = Guard {
        rt: &rt,
        running: Some(running),
    };
    let os = std::ffi::OsStr::new;
    let shot = dir.path().join("shift.png");
    const BURST: u16 = 40;
    const PRESSES: u16 = 21; // the default runaway limit is 20 events an hour
    let (mut browser, mut lines) = run_script(
        "shift.mjs",
        console,
        &[
            ("VAGT_USER2", os("mette")),
            ("VAGT_PASSWORD2", os("mette-password")),
            ("VAGT_SUPERVISOR", os("sara")),
            ("VAGT_SUPERVISOR_PASSWORD", os("sara-password")),
            ("VAGT_BURST", os(&BURST.to_string())),
            ("VAGT_RUNAWAY", os("1234")),
            ("VAGT_PRESSES", os(&PRESSES.to_string())),
            ("VAGT_CITIZEN", os("borger-1")),
            ("VAGT_SCREENSHOT", shot.as_os_str()),
        ],
    );
    let mut next = || lines.next().map(|l| l.unwrap()).unwrap_or_default();
    assert_eq!(next(), "ready");
    // Forty devices press at the same moment, each on its own connection.
    let presses: Vec<_> = (0..BURST)
        .map(|i| std::thread::spawn(move || press(dc09, &format!("{:04}", 2000 + i))))
        .collect();
    for p in presses {
        p.join().unwrap();
    }
    assert_eq!(next(), "burst");
    assert_eq!(next(), "emergency");
    for seq in 1..=PRESSES {
        press_seq(dc09, "1234", seq);
    }
    assert_eq!(next(), "runaway");
    let reassigned = next();
    let ok = browser.wait().unwrap().success();
    guard.stop();
    assert!(ok, "{reassigned}");
    let alarm: u64 = reassigned
        .strip_prefix("reassigned ")
        .unwrap()
        .parse()
        .unwrap();
    if let Ok(keep) = std::env::var("VAGT_KEEP_SCREENSHOTS") {
        std::fs::copy(&shot, Path::new(&keep).join("shift.png")).unwrap();
    }
    // The journal has who did it: the supervisor's switch and reassign, the operator's claim.
    let audit = audit_trail(&dir.path().join("data"));
    assert_eq!(
        actions(&audit, alarm),
        [
            ("ole".to_owned(), "claim".to_owned()),
            ("sara".to_owned(), "reassign".to_owned())
        ]
    );
    assert!(audit.iter().any(|a| a["user"] == "sara"
        && a["command"]["command"] == "emergency_mode"
        && a["command"]["on"] == true));
}
