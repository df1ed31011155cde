//! The console over real TLS on loopback: login, snapshot and change feed, a claim race between
//! two operators, a responder who sees only their team's alarms, roles that may not command,
//! and a plain-text client refused.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use vagt::config::Config;
use vagt::serve::{Running, start};
use vagt_console::users::{User, UserRole, entry, hash_password};
use vagt_records::Accounts;

use crate::gateway::{ACCOUNTS, read_frames, sia};

pub type Ws = vagt_console::client::ConsoleStream;

/// Writes a dev certificate (with `vagt cert dev`, which also issues ole a client certificate)
/// and a users file into `dir`; returns the `[console]` section (client certificates
/// optional).
pub fn console_section(dir: &Path) -> String {
    let made = std::process::Command::new(env!("CARGO_BIN_EXE_vagt"))
        .args(["cert", "dev", "--client", "ole", "--out"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let (cert, key) = (dir.join("console-cert.pem"), dir.join("console-key.pem"));
    let mut users = String::new();
    for (name, role, team) in [
        ("ole", UserRole::Operator, None),
        ("mette", UserRole::Operator, None),
        ("vest-1", UserRole::Responder, Some("sygepleje-vest")),
        ("revisor", UserRole::Auditor, None),
        ("aarhus-revisor", UserRole::Auditor, None),
        ("sara", UserRole::Supervisor, None),
    ] {
        users += &entry(&User {
            name: name.into(),
            role,
            team: team.map(str::to_owned),
            municipality: (name == "aarhus-revisor").then(|| "Aarhus".to_owned()),
            password: hash_password(&format!("{name}-password")).unwrap(),
            disabled: false,
        })
        .unwrap();
    }
    let users_path = dir.join("users.toml");
    std::fs::write(&users_path, users).unwrap();
    format!(
        "\n[console]\nlisten = \"127.0.0.1:0\"\ncert = \"{}\"\nkey = \"{}\"\nusers = \"{}\"\n\
         client_ca = \"{}\"\n",
        cert.display(),
        key.display(),
        users_path.display(),
        dir.join("console-ca.pem").display()
    )
}

/// The test citizen register: the citizens behind the test accounts' references.
pub const REGISTER: &str = "citizen,name,address,phones,contacts,language,care_notes,key_box\n\
    borger-1,Karen Jensen,\"Nørregade 1, 8000 Aarhus C\",+45 12 34 56 78,\
    \"Per Jensen (søn) +4587654321\",da,\"Diabetes; hører dårligt\",Nøgleboks 1234\n\
    borger-3,Ib Holm,Vestergade 3,+4511111111,,da,,\n";

/// Writes [`REGISTER`] to `dir/citizens.csv` with `mode`; its path.
pub fn write_register(dir: &Path, mode: u32) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("citizens.csv");
    std::fs::write(&path, REGISTER).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

pub async fn connect(addr: SocketAddr, cert: &Path) -> Ws {
    vagt_console::client::connect(addr, "localhost", cert)
        .await
        .unwrap()
}

pub async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// The next message of `type` (others are skipped).
pub async fn next(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind} message"))
            .unwrap()
            .unwrap();
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if v["type"] == kind {
                return v;
            }
        }
    }
}

pub async fn login(addr: SocketAddr, cert: &Path, user: &str) -> (Ws, Value) {
    login_with(addr, cert, user, &format!("{user}-password")).await
}

/// As [`login`] with a password of one's own.
pub async fn login_with(addr: SocketAddr, cert: &Path, user: &str, password: &str) -> (Ws, Value) {
    let mut ws = connect(addr, cert).await;
    send(
        &mut ws,
        json!({"type": "login", "user": user, "password": password}),
    )
    .await;
    let welcome = next(&mut ws, "welcome").await;
    let snapshot = next(&mut ws, "snapshot").await;
    assert_eq!(welcome["user"], user);
    (ws, snapshot)
}

/// The runtime in-process gateways run on in these tests (two workers, like the machine).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A gateway with its console on loopback (data, certificate and users in `dir`) and the
/// runtime it runs on.
pub fn start_with_console(dir: &Path) -> (tokio::runtime::Runtime, Running) {
    let rt = runtime();
    let running = start_with_console_on(dir, &rt, None).unwrap();
    (rt, running)
}

/// As [`start_with_console`] on `rt`, at given console and DC-09 addresses (`None`: any).
pub fn start_with_console_on(
    dir: &Path,
    rt: &tokio::runtime::Runtime,
    at: Option<(SocketAddr, SocketAddr)>,
) -> anyhow::Result<Running> {
    let (console, dc09) = at.map_or_else(
        || ("127.0.0.1:0".to_owned(), "127.0.0.1:0".to_owned()),
        |(c, d)| (c.to_string(), d.to_string()),
    );
    let text = crate::gateway::base_config()
        .replace("listen = \"0.0.0.0:7050\"", &format!("listen = \"{dc09}\""))
        .replace("metrics = \"127.0.0.1:9464\"", "metrics = \"127.0.0.1:0\"")
        + &console_section(dir).replace(
            "listen = \"127.0.0.1:0\"",
            &format!("listen = \"{console}\""),
        );
    let text = text + &format!("citizens = \"{}\"\n", write_register(dir, 0o600).display());
    let mut config = Config::parse(&text, Path::new(".")).unwrap();
    config.gateway.data = dir.join("data");
    rt.block_on(start(config, Accounts::parse(ACCOUNTS).unwrap()))
}

#[test]
fn operators_responders_and_auditors_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (rt, running) = start_with_console(dir.path());
    let console = running.console_addr.unwrap();
    let dc09 = running.addr;
    // Stopped in order even when an assertion fails (a gateway left running hangs the test).
    let mut guard = Guard {
        rt: &rt,
        running: Some(running),
    };
    let cert = dir.path().join("console-cert.pem");

    // The console's threads are SCHED_IDLE: the gateway's take the CPU from them at once.
    let policies: Vec<String> = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| {
            let t = t.unwrap().path();
            let comm = std::fs::read_to_string(t.join("comm")).ok()?;
            let stat = std::fs::read_to_string(t.join("stat")).ok()?;
            // Field 41 (policy), counted after the parenthesised command name.
            let after = stat.rsplit_once(')')?.1;
            let policy = after.split_whitespace().nth(38)?.to_owned();
            (comm.trim() == "vagt-console").then_some(policy)
        })
        .collect();
    assert!(
        !policies.is_empty() && policies.iter().all(|p| p == "5"),
        "{policies:?}"
    );

    let pendant = rt.block_on(async {
        // Wrong password: denied.
        let mut ws = connect(console, &cert).await;
        send(&mut ws, json!({"type": "login", "user": "ole", "password": "nope-nope"})).await;
        assert_eq!(next(&mut ws, "denied").await["reason"], "wrong user name or password");

        // Two operators and a responder log in; then alarms arrive as real DC-09 frames.
        let (mut ole, empty) = login(console, &cert, "ole").await;
        assert_eq!(empty["alarms"], json!([]));
        let (mut mette, _) = login(console, &cert, "mette").await;
        let (mut nurse, _) = login(console, &cert, "vest-1").await;
        tokio::task::spawn_blocking(move || {
            let mut s = std::net::TcpStream::connect(dc09).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            std::io::Write::write_all(&mut s, &sia("1234", 1, "QA")).unwrap();
            std::io::Write::write_all(&mut s, &sia("4321", 2, "MA")).unwrap();
            read_frames(&mut s, 2);
        })
        .await
        .unwrap();
        let mut opened = Vec::new();
        while opened.len() < 2 {
            let batch = next(&mut ole, "changes").await;
            for c in batch["changes"].as_array().unwrap() {
                if c["kind"]["change"] == "opened" {
                    // Each batch carries the alarms it touched as they are now.
                    let alarm = batch["alarms"].as_array().unwrap().iter().find(|a| a["id"] == c["kind"]["alarm"]);
                    assert_eq!(alarm.unwrap()["state"], "queued", "{batch}");
                    opened.push(c["kind"].clone());
                }
            }
        }
        let id_of = |account: &str| {
            opened.iter().find(|o| o["account"] == account).unwrap()["alarm"]
                .as_u64()
                .unwrap()
        };
        let (pendant, nurse_call) = (id_of("1234"), id_of("4321"));

        // The race: both claim the pendant alarm; one wins, the other is told who.
        let claim = |id| json!({"type": "command", "id": 1, "command": {"command": "claim", "alarm": id}});
        send(&mut ole, claim(pendant)).await;
        send(&mut mette, claim(pendant)).await;
        let (a, b) = (next_answer(&mut ole).await, next_answer(&mut mette).await);
        let (winner, loser) = if a["type"] == "result" { ("ole", b) } else { ("mette", a) };
        assert_eq!(loser["type"], "refused", "{loser}");
        assert_eq!(loser["error"]["error"], "already_claimed");
        assert_eq!(loser["error"]["by"], winner);

        // Alarm detail: the account's citizen and services from the accounts file, and the
        // alarm's history (the claim race above is in it).
        // The history follows the feed (batched): asked until the claim has reached it.
        let (history, detail) = history_of(&mut ole, pendant, 2).await;
        assert_eq!(detail["account"]["citizen"], "borger-1");
        assert_eq!(detail["account"]["call_type"], "nodkald");
        assert_eq!(history, ["opened", "claimed"]);
        // A responder gets no detail of another team's alarm.
        send(&mut nurse, json!({"type": "detail", "id": 12, "alarm": pendant})).await;
        let refused = next_answer(&mut nurse).await;
        assert_eq!(refused["message"], format!("no open alarm {pendant} in your queue"), "{refused}");
        // The responder cannot act on an alarm not forwarded to their team …
        send(&mut nurse, json!({"type": "command", "id": 2, "command": {"command": "accept", "alarm": nurse_call}})).await;
        assert_eq!(next(&mut nurse, "error").await["message"], "not an alarm of your team");
        // … until it is: then it is in their queue and they can accept it.
        send(&mut ole, claim(nurse_call)).await;
        let claimed = next_answer(&mut ole).await;
        let forwarder = if claimed["type"] == "result" { &mut ole } else { &mut mette };
        if claimed["type"] != "result" {
            send(forwarder, claim(nurse_call)).await;
            assert_eq!(next_answer(forwarder).await["type"], "result");
        }
        send(forwarder, json!({"type": "command", "id": 3, "command": {"command": "forward", "alarm": nurse_call, "team": null}})).await;
        assert_eq!(next_answer(forwarder).await["type"], "result");
        send(&mut nurse, json!({"type": "command", "id": 4, "command": {"command": "accept", "alarm": nurse_call}})).await;
        let accepted = next_answer(&mut nurse).await;
        assert_eq!(accepted["type"], "result", "{accepted}");
        assert_eq!(accepted["changes"][0]["actor"]["name"], "vest-1");
        // The responder's feed carried their alarm once it was theirs, and nothing else.
        let mut theirs = Vec::new();
        while !theirs.iter().any(|a: &Value| a["state"] == "accepted") {
            let batch = next(&mut nurse, "changes").await;
            for a in batch["alarms"].as_array().unwrap() {
                assert_eq!(a["id"], nurse_call, "another team's alarm in a responder's feed: {batch}");
                theirs.push(a.clone());
            }
            for c in batch["changes"].as_array().unwrap() {
                assert_eq!(c["kind"]["alarm"], nurse_call, "{batch}");
            }
        }
        // A fresh responder login sees exactly their team's alarm.
        let (_, snap) = login(console, &cert, "vest-1").await;
        let ids: Vec<u64> = snap["alarms"].as_array().unwrap().iter().map(|a| a["id"].as_u64().unwrap()).collect();
        assert_eq!(ids, [nurse_call]);

        // An auditor sees the queue but may not command.
        let (mut auditor, snap) = login(console, &cert, "revisor").await;
        assert_eq!(snap["alarms"].as_array().unwrap().len(), 2);
        send(&mut auditor, claim(pendant)).await;
        assert!(next(&mut auditor, "error").await["message"].as_str().unwrap().contains("may not give commands"));

        // Reports over the console: the auditor gets this month's figures from the journal …
        send(&mut auditor, json!({"type": "report", "id": 5, "request": {"format": "summary"}})).await;
        let summary = next_answer(&mut auditor).await;
        assert_eq!((summary["type"].as_str(), summary["id"].as_u64(), summary["format"].as_str()), (Some("report"), Some(5), Some("summary")), "{summary}");
        let figures: Value = serde_json::from_str(summary["body"].as_str().unwrap()).unwrap();
        assert_eq!(figures["calls"], 2, "{figures}");
        assert_eq!(figures["top_callers"].as_array().unwrap().len(), 2, "{figures}");
        // … and the call list as CSV for Danish Excel: a header and one row per call.
        send(&mut auditor, json!({"type": "report", "id": 6, "request": {"format": "csv", "table": "calls", "delimiter": ";"}})).await;
        let csv = next_answer(&mut auditor).await;
        let body = csv["body"].as_str().unwrap();
        assert_eq!(body.lines().count(), 3, "{body}");
        assert!(body.lines().next().unwrap().contains(';'), "{body}");
        assert!(body.contains("borger-1") && body.contains("borger-3"), "{body}");
        // An auditor bound to a municipality gets only its figures, and may not ask for others.
        let (mut local, _) = login(console, &cert, "aarhus-revisor").await;
        send(&mut local, json!({"type": "report", "id": 7, "request": {"format": "summary"}})).await;
        let theirs: Value = serde_json::from_str(next_answer(&mut local).await["body"].as_str().unwrap()).unwrap();
        assert_eq!((theirs["municipality"].as_str(), theirs["calls"].as_u64()), (Some("Aarhus"), Some(0)), "{theirs}");
        send(&mut local, json!({"type": "report", "id": 8, "request": {"municipality": "Odense"}})).await;
        assert_eq!(next_answer(&mut local).await["message"], "your reports are limited to Aarhus");
        // Operators may not fetch reports; a bad month is a clear error.
        send(&mut ole, json!({"type": "report", "id": 9, "request": {}})).await;
        assert!(next_answer(&mut ole).await["message"].as_str().unwrap().contains("may not fetch reports"));
        send(&mut auditor, json!({"type": "report", "id": 10, "request": {"month": "2026-13"}})).await;
        assert!(next_answer(&mut auditor).await["message"].as_str().unwrap().contains("YYYY-MM"));

        // Notes are bounded: 2 000 characters, and 20 at once per user (then 30 a minute).
        let note = |id: u64, text: String| json!({"type": "command", "id": id, "command": {"command": "note", "alarm": pendant, "text": text}});
        send(&mut mette, note(20, "x".repeat(2001))).await;
        assert!(next_answer(&mut mette).await["message"].as_str().unwrap().contains("at most 2000 characters"));
        let mut answers = Vec::new();
        for i in 0..25 {
            send(&mut mette, note(21 + i, format!("note {i}"))).await;
            answers.push(next_answer(&mut mette).await);
        }
        let done = answers.iter().filter(|a| a["type"] == "result").count();
        assert_eq!(done, 20, "{answers:#?}");
        assert!(answers[24]["message"].as_str().unwrap().contains("too many notes"), "{answers:#?}");

        // The same port serves the web console's files over HTTPS.
        let page = https_get(console, &cert, "/").await;
        assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
        assert!(page.contains("text/html") && page.contains("<script src=\"/app.js\">"));
        let js = https_get(console, &cert, "/app.js").await;
        assert!(js.contains("text/javascript") && js.contains("wss://"));
        assert!(https_get(console, &cert, "/etc/passwd").await.starts_with("HTTP/1.1 404"));

        // Plain text on the console port gets no WebSocket: the TLS handshake fails.
        let tcp = TcpStream::connect(console).await.unwrap();
        let plain = tokio::time::timeout(
            Duration::from_secs(20),
            tokio_tungstenite::client_async(format!("ws://{console}/"), tcp),
        )
        .await
        .unwrap();
        assert!(plain.is_err(), "plain-text connection accepted");
        pendant
    });

    // The terminal client: password, then commands as lines; JSON lines back.
    // `--server` as an address (the certificate checked for its IP) or as a wss:// URL.
    let terminal = |server: &str| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_vagt"));
        c.args(["console", "--server", server, "--user", "ole", "--cert"])
            .arg(&cert)
            .env_remove("VAGT_PASSWORD");
        c
    };
    let mut child = terminal(&console.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let input = format!("ole-password\nnote {pendant} called back, all well\nclaim nope\n");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), input.as_bytes()).unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.iter().any(|l| l["type"] == "welcome"));
    assert!(lines.iter().any(|l| l["type"] == "input_error"));
    let answer = lines.iter().find(|l| l["id"] == 1).unwrap();
    // The note is the owner's or not, depending on who won the race; either way the core
    // answered it.
    assert!(
        ["result", "refused"].contains(&answer["type"].as_str().unwrap()),
        "{answer}"
    );

    // The terminal client with ole's client certificate: no password asked or sent.
    let out = terminal(&format!("wss://localhost:{}/", console.port()))
        .arg("--client-cert")
        .arg(dir.path().join("ole-cert.pem"))
        .arg("--client-key")
        .arg(dir.path().join("ole-key.pem"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let first: Value = serde_json::from_str(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["type"], "welcome", "{first}");
    assert_eq!(first["user"], "ole");

    guard.stop();

    // The audit trail: every console command with user, role, client address and time.
    let audit = crate::gateway::json_lines(
        std::process::Command::new(env!("CARGO_BIN_EXE_vagt"))
            .args(["audit", "export", "--data"])
            .arg(dir.path().join("data")),
    );
    let accept = audit
        .iter()
        .find(|a| a["command"]["command"] == "accept")
        .unwrap();
    assert_eq!(accept["user"], "vest-1");
    assert_eq!(accept["role"], "responder");
    assert!(accept["client"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(accept["at"].as_str().unwrap().ends_with('Z'));
    // Both claims of the race are there, the refused one included.
    let claims = audit
        .iter()
        .filter(|a| a["command"]["command"] == "claim")
        .count();
    assert!(claims >= 3, "{audit:#?}");
    // So is every request the console refused before the core: who, what, why.
    let refused = |user: &str, why: &str| {
        audit
            .iter()
            .find(|a| a["user"] == user && a["refused"].as_str().is_some_and(|r| r.contains(why)))
            .unwrap_or_else(|| panic!("no refusal of {user} ({why}) in {audit:#?}"))
    };
    let auditor = refused("revisor", "may not give commands");
    assert_eq!(
        (
            auditor["role"].as_str(),
            auditor["request"]["command"].as_str()
        ),
        (Some("auditor"), Some("claim"))
    );
    assert_eq!(auditor["refused_by"], "console");
    assert!(
        auditor["client"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    assert_eq!(
        refused("vest-1", "not an alarm of your team")["request"]["command"],
        "accept"
    );
    assert!(refused("vest-1", "in your queue")["request"]["detail"].is_u64());
    assert_eq!(
        refused("aarhus-revisor", "limited to Aarhus")["request"]["report"]["municipality"],
        "Odense"
    );
    refused("ole", "may not fetch reports");
    // Notes refused for size or rate are not authorisation refusals: answered, not journaled.
    assert!(
        audit
            .iter()
            .all(|a| !a["refused"].as_str().is_some_and(|r| r.contains("note")))
    );
}

/// Stops a gateway in order when dropped (also when an assertion failed).
pub struct Guard<'a> {
    pub rt: &'a tokio::runtime::Runtime,
    pub running: Option<Running>,
}

impl Guard<'_> {
    /// Stops it now.
    pub fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            let stopped = self.rt.block_on(r.shutdown(Duration::from_secs(5)));
            if !std::thread::panicking() {
                stopped.unwrap();
            }
        }
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A whole HTTPS response (head and body) for `GET path`.
async fn https_get(addr: SocketAddr, cert: &Path, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let config = vagt_console::tls::client_config(cert).unwrap();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .unwrap();
    tls.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// The next `result`, `refused` or `error`.
pub async fn next_answer(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .expect("an answer")
            .unwrap()
            .unwrap();
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if ["result", "refused", "error", "report", "detail"]
                .contains(&v["type"].as_str().unwrap_or(""))
            {
                return v;
            }
        }
    }
}

/// The history the detail view shows of `alarm`, once it has `want` changes (the feed is
/// batched), as the changes' names; and the last detail.
async fn history_of(ws: &mut Ws, alarm: u64, want: usize) -> (Vec<String>, Value) {
    let mut history = Vec::new();
    let mut detail = Value::Null;
    for _ in 0..200 {
        send(ws, json!({"type": "detail", "id": 31, "alarm": alarm})).await;
        detail = next_answer(ws).await;
        // Right after a start the core may still be replaying the journal: not there yet.
        let replaying = detail["type"] == "error"
            && detail["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("no open alarm"));
        if replaying {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        assert_eq!(detail["type"], "detail", "{detail}");
        history = detail["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["kind"]["change"].as_str().unwrap().to_owned())
            .collect();
        if history.len() >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (history, detail)
}

#[test]
fn an_open_alarms_history_survives_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let cert = dir.path().join("console-cert.pem");
    let expected = ["opened", "claimed", "noted", "attached"];
    let mut guard = Guard {
        rt: &rt,
        running: Some(start_with_console_on(dir.path(), &rt, None).unwrap()),
    };
    let running = guard.running.as_ref().unwrap();
    let (console, dc09) = (running.console_addr.unwrap(), running.addr);
    let pendant = rt.block_on(async {
        let (mut ole, _) = login(console, &cert, "ole").await;
        let send_frame = |seq| {
            tokio::task::spawn_blocking(move || {
                let mut s = std::net::TcpStream::connect(dc09).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                std::io::Write::write_all(&mut s, &sia("1234", seq, "QA")).unwrap();
                read_frames(&mut s, 1);
            })
        };
        send_frame(1).await.unwrap();
        let pendant = loop {
            let batch = next(&mut ole, "changes").await;
            let opened = batch["changes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["kind"]["change"] == "opened");
            if let Some(c) = opened {
                break c["kind"]["alarm"].as_u64().unwrap();
            }
        };
        let command = |id, command: Value| json!({"type": "command", "id": id, "command": command});
        send(
            &mut ole,
            command(1, json!({"command": "claim", "alarm": pendant})),
        )
        .await;
        assert_eq!(next_answer(&mut ole).await["type"], "result");
        let note = json!({"command": "note", "alarm": pendant, "text": "ringer op"});
        send(&mut ole, command(2, note)).await;
        assert_eq!(next_answer(&mut ole).await["type"], "result");
        // The citizen presses again: a repeat, attached to the open alarm.
        send_frame(2).await.unwrap();
        assert_eq!(history_of(&mut ole, pendant, 4).await.0, expected);
        pendant
    });

    // A clean restart: the history comes back from the core's final snapshot …
    guard.stop();
    guard.running = Some(start_with_console_on(dir.path(), &rt, None).unwrap());
    let console = guard.running.as_ref().unwrap().console_addr.unwrap();
    rt.block_on(async {
        let (mut ole, _) = login(console, &cert, "ole").await;
        assert_eq!(history_of(&mut ole, pendant, 4).await.0, expected);
    });

    // … and without any snapshot, from replaying the journal.
    guard.stop();
    std::fs::remove_dir_all(dir.path().join("data/core")).unwrap();
    guard.running = Some(start_with_console_on(dir.path(), &rt, None).unwrap());
    let console = guard.running.as_ref().unwrap().console_addr.unwrap();
    rt.block_on(async {
        let (mut ole, _) = login(console, &cert, "ole").await;
        assert_eq!(history_of(&mut ole, pendant, 4).await.0, expected);
    });
}
