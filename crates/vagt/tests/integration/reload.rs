//! SIGHUP reloads the accounts file (README "Reloading"): a new encrypted account is answered
//! with its key, the core forwards its alarms to its provider, the console shows its details —
//! without a restart — and the journal keeps which accounts were in force, so a report made
//! later with another file still names the citizen the account had. A broken file keeps the
//! accounts in use.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use vagt_dc09::{Content, Header, HexField, Key, Sequence, Token, encode_frame};

use crate::console::{console_section, login, next, next_answer, send};
use crate::gateway::{ACCOUNTS, Gateway, signal};

const NEW_ACCOUNT: &str = r#"
[[accounts]]
account = "7777"
key = "text:FEDCBA9876543210"
citizen = "borger-7"
call_type = "nodkald"
provider = "hjemmepleje-syd"
municipality = "Aarhus"
"#;

/// An encrypted pendant press from 7777 with sequence `seq`.
pub(crate) fn press_7777(seq: u16) -> Vec<u8> {
    let key = Key::parse("text:FEDCBA9876543210").unwrap();
    let header = Header {
        token: Token::SiaDcs,
        encrypted: true,
        sequence: Sequence::new(seq).unwrap(),
        receiver: None,
        line: HexField::new("0", 1, 6),
        account: HexField::new("7777", 3, 16),
    };
    let (now, _) = vagt_records::time::clock();
    let content = Content {
        data: Bytes::from_static(b"#7777|NQA1"),
        xdata: vec![],
        timestamp: Some(now),
    };
    encode_frame(&header, &content, Some(&key), &mut rand::rng()).unwrap()
}

pub(crate) fn acked(answer: &[u8]) -> bool {
    // Encrypted answers are "*ACK".
    answer.windows(4).any(|w| w == b"ACK\"")
}

#[test]
fn sighup_reloads_the_accounts_for_the_ack_path_the_core_and_the_consoles() {
    let dir = tempfile::tempdir().unwrap();
    let (g, console, cert) = start_with_console(dir.path());
    let data = dir.path().join("data");
    // Not an account yet: its encrypted frame cannot be read.
    assert!(!acked(&g.exchange(&press_7777(1), 1)[0]));

    let accounts = data.join("accounts.toml");
    std::fs::write(&accounts, format!("{ACCOUNTS}{NEW_ACCOUNT}")).unwrap();
    signal(&g.child, "HUP");
    let mut seq = 2;
    while !acked(&g.exchange(&press_7777(seq), 1)[0]) {
        assert!(seq < 60, "the new account was never answered");
        seq += 1;
        std::thread::sleep(Duration::from_millis(100));
    }

    let rt = crate::console::runtime();
    rt.block_on(async {
        let (mut ole, snapshot) = login(console, &cert, "ole").await;
        let find = |alarms: &Value| {
            alarms.as_array().and_then(|a| {
                a.iter()
                    .find(|x| x["account"] == "7777")
                    .and_then(|x| x["id"].as_u64())
            })
        };
        let mut alarm = find(&snapshot["alarms"]);
        while alarm.is_none() {
            alarm = find(&next(&mut ole, "changes").await["alarms"]);
        }
        let alarm = alarm.unwrap();
        // The core knows the account's provider: forward goes there.
        for (id, command) in [(1, "claim"), (2, "forward")] {
            send(&mut ole, json!({"type": "command", "id": id, "command": {"command": command, "alarm": alarm}})).await;
            let answer = next_answer(&mut ole).await;
            assert_eq!(answer["type"], "result", "{command}: {answer}");
            if command == "forward" {
                assert_eq!(answer["changes"][0]["kind"]["team"], "hjemmepleje-syd", "{answer}");
            }
        }
        // The console shows the account as the new file has it, and offers its provider.
        send(&mut ole, json!({"type": "detail", "id": 3, "alarm": alarm})).await;
        let d = next_answer(&mut ole).await;
        assert_eq!(d["account"]["citizen"], "borger-7", "{d}");
        let (_, welcome) = {
            let mut ws = crate::console::connect(console, &cert).await;
            send(&mut ws, json!({"type": "login", "user": "mette", "password": "mette-password"})).await;
            let w = next(&mut ws, "welcome").await;
            (ws, w)
        };
        assert!(welcome["teams"].as_array().unwrap().contains(&json!("hjemmepleje-syd")), "{welcome}");
    });

    // A broken file keeps the accounts in use.
    std::fs::write(&accounts, "[[accounts]]\naccount = \"12\"\n").unwrap();
    signal(&g.child, "HUP");
    std::thread::sleep(Duration::from_millis(300));
    assert!(acked(&g.exchange(&press_7777(seq + 1), 1)[0]));
    assert_eq!(g.stop(), Some(0));

    // Later, with a file that no longer has 7777, the report still names its citizen then.
    let today = dir.path().join("today.toml");
    std::fs::write(&today, ACCOUNTS).unwrap();
    let report = report_json(&data, &today);
    let call = report["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["account"] == "7777")
        .cloned()
        .unwrap_or_else(|| panic!("no call of 7777: {report:#}"));
    assert_eq!(
        (call["citizen"].as_str(), call["team"].as_str()),
        (Some("borger-7"), Some("hjemmepleje-syd")),
        "{call}"
    );
}

fn report_json(data: &Path, accounts: &Path) -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vagt"))
        .args([
            "report",
            "monthly",
            "--format",
            "json",
            "--month",
            &this_month(),
        ])
        .arg("--data")
        .arg(data)
        .arg("--accounts")
        .arg(accounts)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// This month in the centre's time zone (the default one), as the alarms were made in it.
fn this_month() -> String {
    let policy = vagt_engine::CoreConfig::default().normal;
    vagt_report::Month::current(&policy, vagt_records::time::now_secs())
        .unwrap()
        .to_string()
}

#[test]
fn sighup_reads_the_users_file_again_a_new_user_logs_in_and_a_disabled_ones_session_ends() {
    let dir = tempfile::tempdir().unwrap();
    let (g, console, cert) = start_with_console(dir.path());
    let users = dir.path().join("users.toml");
    let rt = crate::console::runtime();
    let (mut mette, _) = rt.block_on(login(console, &cert, "mette"));
    // `vagt user add` while the gateway runs; and mette disabled by hand in the same file.
    for (name, role) in [("nina", "operator"), ("anna", "admin")] {
        user_add(&users, name, role);
    }
    let text = std::fs::read_to_string(&users).unwrap();
    let mette_entry = text.find("name = \"mette\"").unwrap();
    let (before, after) = text.split_at(mette_entry);
    std::fs::write(&users, format!("{before}disabled = true\n{after}")).unwrap();
    signal(&g.child, "HUP");
    rt.block_on(async {
        // Her open session ends, with the reason.
        let denied = next(&mut mette, "denied").await;
        assert!(
            denied["reason"].as_str().unwrap().contains("changed"),
            "{denied}"
        );
        let (_, snapshot) = login(console, &cert, "nina").await;
        assert!(snapshot["alarms"].is_array(), "{snapshot}");
    });
    // A file that does not load keeps the users in use: nina still logs in.
    std::fs::write(&users, "[[users]]\nname = \"x\"\n").unwrap();
    signal(&g.child, "HUP");
    std::thread::sleep(Duration::from_millis(300));
    rt.block_on(login(console, &cert, "nina"));
    // Nor does a file without an admin who can log in (cut short, emptied by mistake).
    std::fs::write(&users, "").unwrap();
    user_add(&users, "otto", "operator");
    signal(&g.child, "HUP");
    std::thread::sleep(Duration::from_millis(300));
    rt.block_on(login(console, &cert, "anna"));
}

/// A gateway with the test console (users, certificate) in `dir`, its data in `dir/data`; the
/// console's address and the certificate to trust.
fn start_with_console(dir: &Path) -> (Gateway, std::net::SocketAddr, std::path::PathBuf) {
    let config = dir.join("vagt.toml");
    std::fs::write(&config, console_section(dir)).unwrap();
    let g = Gateway::start_on(&dir.join("data"), &["--config", config.to_str().unwrap()]);
    let console = g.console.expect("console address");
    (g, console, dir.join("console-cert.pem"))
}

/// `vagt user add` of `name` with the password `NAME-password`.
fn user_add(users: &Path, name: &str, role: &str) {
    use std::io::Write;
    let mut add = std::process::Command::new(env!("CARGO_BIN_EXE_vagt"))
        .args(["user", "add", "--file"])
        .arg(users)
        .args(["--name", name, "--role", role])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let password = format!("{name}-password\n");
    add.stdin
        .take()
        .unwrap()
        .write_all(password.as_bytes())
        .unwrap();
    assert!(add.wait().unwrap().success());
}
