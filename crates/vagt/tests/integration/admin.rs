//! Administration in the console (README "Administration in the console"), over real TLS to a
//! real `vagt serve`: an admin adds, changes, disables and re-passwords users — the changed
//! user's sessions end at once, the users file on disk is what the next start reads — and edits
//! the citizen register, which the operators' consoles show at once; every change and every
//! view of the register is in the audit trail, without a password or a citizen's data.

use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use vagt_console::users::{User, UserRole, Users, entry, hash_password};

use crate::console::{
    Ws, connect, console_section, login, login_with, next, next_answer, send, write_register,
};
use crate::gateway::{Gateway, json_lines, sia, signal};

/// The console section of [`console_section`] with an admin `anna` added to its users file,
/// and `extra` appended; the config file's path.
pub(crate) fn config_with_admin(dir: &Path, extra: &str) -> String {
    let section = console_section(dir);
    let users = dir.join("users.toml");
    let mut text = std::fs::read_to_string(&users).unwrap();
    text += &entry(&User {
        name: "anna".into(),
        role: UserRole::Admin,
        team: None,
        municipality: None,
        password: hash_password("anna-password").unwrap(),
        disabled: false,
    })
    .unwrap();
    std::fs::write(&users, text).unwrap();
    let config = dir.join("vagt.toml");
    std::fs::write(&config, section + extra).unwrap();
    config.to_string_lossy().into_owned()
}

/// Sends an admin request; the `admin` or `error` answer.
pub(crate) async fn admin(ws: &mut Ws, id: u64, request: Value) -> Value {
    send(ws, json!({"type": "admin", "id": id, "request": request})).await;
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .expect("an answer")
            .unwrap()
            .unwrap();
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if v["type"] == "admin" || v["type"] == "error" {
                assert_eq!(v["id"], id, "{v}");
                return v;
            }
        }
    }
}

/// A login with `password`: the first answer (`welcome` or `denied`).
async fn try_login(addr: std::net::SocketAddr, cert: &Path, user: &str, password: &str) -> Value {
    let mut ws = connect(addr, cert).await;
    send(
        &mut ws,
        json!({"type": "login", "user": user, "password": password}),
    )
    .await;
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .expect("an answer to the login")
            .unwrap()
            .unwrap();
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if v["type"] == "welcome" || v["type"] == "denied" {
                return v;
            }
        }
    }
}

fn audit(data: &Path) -> Vec<Value> {
    json_lines(
        std::process::Command::new(env!("CARGO_BIN_EXE_vagt"))
            .args(["audit", "export", "--data"])
            .arg(data),
    )
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn an_admin_manages_users_and_a_changed_users_sessions_end_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_admin(dir.path(), "");
    let data = dir.path().join("data");
    let g = Gateway::start_on(&data, &["--config", &config]);
    let console = g.console.expect("console address");
    let cert = dir.path().join("console-cert.pem");
    let rt = crate::console::runtime();
    rt.block_on(async {
        let (mut anna, _) = login(console, &cert, "anna").await;
        let (mut ole, _) = login(console, &cert, "ole").await;
        let list = admin(&mut anna, 1, json!({"action": "users"})).await;
        let names: Vec<&str> = list["reply"]["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"ole") && names.contains(&"anna"), "{list}");
        assert!(!list.to_string().contains("argon2"), "no hashes: {list}");
        // A new operator logs in with the password the admin gave.
        let added = admin(
            &mut anna,
            2,
            json!({"action": "add_user", "name": "nina", "role": "operator", "password": "nina-first-password"}),
        )
        .await;
        assert_eq!(added["done"], "user nina added", "{added}");
        assert_eq!(
            try_login(console, &cert, "nina", "nina-first-password").await["type"],
            "welcome"
        );
        // What would not load, or would lock everyone out, is refused and changes nothing.
        for (id, bad, why) in [
            (3, json!({"action": "add_user", "name": "kim", "role": "operator", "password": "short"}), "at least 12"),
            (4, json!({"action": "add_user", "name": "kim", "role": "responder", "password": "kim-long-password"}), "needs a team"),
            (5, json!({"action": "add_user", "name": "ole", "role": "operator", "password": "ole-long-password"}), "exists"),
            (6, json!({"action": "set_disabled", "name": "anna", "disabled": true}), "yourself"),
            (7, json!({"action": "update_user", "name": "anna", "role": "operator"}), "your own admin role"),
            (8, json!({"action": "set_disabled", "name": "nobody", "disabled": true}), "no user"),
        ] {
            let e = admin(&mut anna, id, bad).await;
            assert_eq!(e["type"], "error", "{e}");
            assert!(e["message"].as_str().unwrap().contains(why), "{e}");
        }
        // Disabled: ole's open session ends at once, and he cannot log in again.
        let off = admin(&mut anna, 9, json!({"action": "set_disabled", "name": "ole", "disabled": true})).await;
        assert_eq!(off["done"], "user ole disabled", "{off}");
        let ended = next(&mut ole, "denied").await;
        assert!(ended["reason"].as_str().unwrap().contains("changed by an administrator"), "{ended}");
        assert_eq!(try_login(console, &cert, "ole", "ole-password").await["type"], "denied");
        // A new password: the old one no longer works, the new one does.
        let (mut nina, _) = login_with(console, &cert, "nina", "nina-first-password").await;
        let reset = admin(&mut anna, 10, json!({"action": "set_password", "name": "nina", "password": "nina-second-password"})).await;
        assert_eq!(reset["type"], "admin", "{reset}");
        next(&mut nina, "denied").await;
        assert_eq!(try_login(console, &cert, "nina", "nina-first-password").await["type"], "denied");
        assert_eq!(try_login(console, &cert, "nina", "nina-second-password").await["type"], "welcome");
        // A new role and team: mette is a responder of her team from her next login.
        let moved = admin(&mut anna, 11, json!({"action": "update_user", "name": "mette", "role": "responder", "team": "hjemmepleje-nord"})).await;
        assert_eq!(moved["type"], "admin", "{moved}");
        let welcome = try_login(console, &cert, "mette", "mette-password").await;
        assert_eq!((welcome["role"].as_str(), welcome["team"].as_str()), (Some("responder"), Some("hjemmepleje-nord")), "{welcome}");
        // A login still checking its password when the user is disabled does not outlive it.
        let mut late = connect(console, &cert).await;
        send(&mut late, json!({"type": "login", "user": "revisor", "password": "revisor-password"})).await;
        let off = admin(&mut anna, 13, json!({"action": "set_disabled", "name": "revisor", "disabled": true})).await;
        assert_eq!(off["type"], "admin", "{off}");
        let ended = next(&mut late, "denied").await;
        assert!(ended["reason"].as_str().is_some(), "{ended}");
        // Other roles may not administer: refused, and the refusal is journaled.
        let (mut sara, _) = login(console, &cert, "sara").await;
        let no = admin(&mut sara, 12, json!({"action": "add_user", "name": "eve", "role": "admin", "password": "eve-long-password"})).await;
        assert_eq!(no["type"], "error", "{no}");
        assert!(no["message"].as_str().unwrap().contains("may not administer"), "{no}");
    });
    // The file on disk is what the next start reads: owner-only, ole disabled, mette moved.
    let users_path = dir.path().join("users.toml");
    assert_eq!(mode(&users_path), 0o600);
    let users = Users::load(&users_path).unwrap();
    assert!(users.get("ole").unwrap().disabled);
    assert_eq!(
        users.get("mette").unwrap().team.as_deref(),
        Some("hjemmepleje-nord")
    );
    assert!(users.check("nina", "nina-second-password").is_some());
    assert_eq!(g.stop(), Some(0));
    // The audit trail: every change, by whom, from where — never a password.
    let trail = audit(&data);
    let changes: Vec<(&str, &str)> = trail
        .iter()
        .filter(|a| a["user"] == "anna")
        .filter_map(|a| Some((a["admin"].as_str()?, a["target"].as_str()?)))
        .collect();
    assert_eq!(
        changes,
        [
            ("add_user", "nina"),
            ("disable_user", "ole"),
            ("set_password", "nina"),
            ("update_user", "mette"),
            ("disable_user", "revisor")
        ],
        "{trail:#?}"
    );
    assert!(
        trail
            .iter()
            .any(|a| a["user"] == "sara" && a["refused_by"] == "console")
    );
    let text = format!("{trail:?}");
    for secret in [
        "nina-first-password",
        "nina-second-password",
        "eve-long-password",
        "argon2",
    ] {
        assert!(!text.contains(secret), "{secret} in the audit trail");
    }
}

/// `vagt console` as `user`, given `line` after the password; what it printed.
fn terminal(
    console: std::net::SocketAddr,
    cert: &Path,
    user: &str,
    password: &str,
    line: &str,
) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vagt"))
        .args([
            "console",
            "--server",
            &console.to_string(),
            "--user",
            user,
            "--cert",
        ])
        .arg(cert)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{password}\n{line}").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn an_admin_edits_the_citizen_register_and_operators_see_it_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let register = write_register(dir.path(), 0o600);
    let config = config_with_admin(
        dir.path(),
        &format!("citizens = \"{}\"\n", register.display()),
    );
    let data = dir.path().join("data");
    let g = Gateway::start_on(&data, &["--config", &config]);
    let console = g.console.expect("console address");
    let cert = dir.path().join("console-cert.pem");
    assert_eq!(g.exchange(&sia("1234", 1, "MA1"), 1).len(), 1);
    let rt = crate::console::runtime();
    let (before, after) = rt.block_on(async {
        let (mut anna, _) = login(console, &cert, "anna").await;
        let list = admin(&mut anna, 1, json!({"action": "citizens"})).await;
        let entries = &list["reply"]["citizens"];
        assert_eq!(entries, &json!([{"citizen": "borger-1", "name": "Karen Jensen"}, {"citizen": "borger-3", "name": "Ib Holm"}]), "{list}");
        let before = list["reply"]["version"].as_str().unwrap().to_owned();
        let one = admin(&mut anna, 2, json!({"action": "citizen", "citizen": "borger-1"})).await;
        let opened = one["reply"]["record"].clone();
        let mut karen = opened.clone();
        assert_eq!(karen["key_box"], "Nøgleboks 1234", "{one}");
        karen["phones"] = json!(["+45 70 70 70 70"]);
        // An existing record is changed only as the admin opened it.
        let blind = admin(&mut anna, 30, json!({"action": "put_citizen", "record": karen})).await;
        assert!(blind["message"].as_str().unwrap().contains("open it to change it"), "{blind}");
        let changed = admin(&mut anna, 3, json!({"action": "put_citizen", "record": karen, "expected": opened})).await;
        assert_eq!(changed["done"], "citizen borger-1 changed", "{changed}");
        // A second admin who opened it before that change does not overwrite it.
        let mut stale = opened.clone();
        stale["care_notes"] = json!("Diabetes");
        let lost = admin(&mut anna, 31, json!({"action": "put_citizen", "record": stale, "expected": opened})).await;
        assert!(lost["message"].as_str().unwrap().contains("changed since you opened it"), "{lost}");
        let after = changed["reply"]["version"].as_str().unwrap().to_owned();
        assert_ne!(before, after);
        // The operator's detail shows the new number at once: no restart, no SIGHUP.
        let (mut ole, snapshot) = login(console, &cert, "ole").await;
        let mut alarm = snapshot["alarms"][0]["id"].as_u64();
        while alarm.is_none() {
            alarm = next(&mut ole, "changes").await["alarms"][0]["id"].as_u64();
        }
        send(&mut ole, json!({"type": "detail", "id": 1, "alarm": alarm.unwrap()})).await;
        let d = next_answer(&mut ole).await;
        assert_eq!(d["citizen"]["phones"], json!(["+45 70 70 70 70"]), "{d}");
        // Add one, remove one; what would not read back is refused.
        let new = json!({"citizen": "borger-7", "name": "Else Holm", "address": "Søndergade 7", "phones": ["+4533333333"]});
        let added = admin(&mut anna, 4, json!({"action": "put_citizen", "record": new})).await;
        assert_eq!(added["done"], "citizen borger-7 added", "{added}");
        let removed = admin(&mut anna, 5, json!({"action": "remove_citizen", "citizen": "borger-3"})).await;
        let refs: Vec<&str> = removed["reply"]["citizens"].as_array().unwrap().iter().map(|c| c["citizen"].as_str().unwrap()).collect();
        assert_eq!(refs, ["borger-1", "borger-7"], "{removed}");
        for (id, bad) in [
            (6, json!({"action": "remove_citizen", "citizen": "borger-3"})),
            (7, json!({"action": "put_citizen", "record": {"citizen": "borger-8", "name": "X", "contacts": ["A; B"]}})),
            (8, json!({"action": "put_citizen", "record": {"citizen": "borger-8", "name": ""}})),
        ] {
            assert_eq!(admin(&mut anna, id, bad).await["type"], "error");
        }
        // An operator may not open the register itself.
        let no = admin(&mut ole, 9, json!({"action": "citizens"})).await;
        assert_eq!(no["type"], "error", "{no}");
        // A hand edit of the file not yet reloaded is not written over.
        let mut text = std::fs::read_to_string(&register).unwrap();
        text += "borger-9,Hand Edit,,,,,,\n";
        std::fs::write(&register, text).unwrap();
        let new = json!({"citizen": "borger-10", "name": "Ny Borger"});
        let over = admin(&mut anna, 10, json!({"action": "put_citizen", "record": new})).await;
        assert!(over["message"].as_str().unwrap().contains("changed on disk"), "{over}");
        (before, after)
    });
    // The file is the edited register, owner-only, and what a reload reads.
    assert_eq!(mode(&register), 0o600);
    let on_disk = vagt_records::Citizens::load(&register).unwrap();
    assert_eq!(on_disk.get("borger-1").unwrap().phones, ["+45 70 70 70 70"]);
    assert!(on_disk.get("borger-3").is_none() && on_disk.get("borger-7").is_some());
    signal(&g.child, "HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(g.stop(), Some(0));
    let trail = audit(&data);
    let loaded: Vec<(&str, &str)> = trail
        .iter()
        .filter(|a| a["admin"] == "register_loaded")
        .map(|a| {
            (
                a["details"]["why"].as_str().unwrap(),
                a["details"]["version"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(loaded[0], ("start", before.as_str()), "{trail:#?}");
    assert_eq!(loaded.last().unwrap().0, "reload", "{trail:#?}");
    let put = trail.iter().find(|a| a["admin"] == "put_citizen").unwrap();
    assert_eq!(
        (put["user"].as_str(), put["target"].as_str()),
        (Some("anna"), Some("borger-1"))
    );
    assert_eq!(put["details"]["fields"], json!(["phones"]));
    assert_eq!(put["details"]["version"], after.as_str());
    // Every view is there: anna's list and record, ole's detail — with the version shown.
    let views: Vec<(&str, &str, Option<&str>)> = trail
        .iter()
        .filter(|a| a["viewed"] == "citizen")
        .map(|a| {
            (
                a["user"].as_str().unwrap(),
                a["citizen"].as_str().unwrap(),
                a["register"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        views,
        [
            ("anna", "*", Some(before.as_str())),
            ("anna", "borger-1", Some(before.as_str())),
            ("ole", "borger-1", Some(after.as_str()))
        ],
        "{trail:#?}"
    );
    let text = format!("{trail:?}");
    for data in ["Karen", "70 70 70 70", "Else", "Nøgleboks"] {
        assert!(!text.contains(data), "{data} in the audit trail");
    }
}

#[test]
fn without_a_configured_register_the_first_record_makes_one_in_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_admin(dir.path(), "");
    let data = dir.path().join("data");
    let g = Gateway::start_on(&data, &["--config", &config]);
    let console = g.console.expect("console address");
    let cert = dir.path().join("console-cert.pem");
    let rt = crate::console::runtime();
    rt.block_on(async {
        let (mut anna, _) = login(console, &cert, "anna").await;
        let list = admin(&mut anna, 1, json!({"action": "citizens"})).await;
        assert_eq!(list["reply"]["citizens"], json!([]), "{list}");
        let karen =
            json!({"citizen": "borger-1", "name": "Karen Jensen", "phones": ["+4512345678"]});
        let added = admin(
            &mut anna,
            2,
            json!({"action": "put_citizen", "record": karen}),
        )
        .await;
        assert_eq!(added["done"], "citizen borger-1 added", "{added}");
    });
    assert_eq!(g.stop(), Some(0));
    let made = data.join("citizens.csv");
    assert_eq!(mode(&made), 0o600);
    // The next start reads it: the operator sees Karen with the account's alarm.
    let g = Gateway::start_on(&data, &["--config", &config]);
    let console = g.console.expect("console address");
    assert_eq!(g.exchange(&sia("1234", 1, "MA1"), 1).len(), 1);
    rt.block_on(async {
        let (mut ole, snapshot) = login(console, &cert, "ole").await;
        let mut alarm = snapshot["alarms"][0]["id"].as_u64();
        while alarm.is_none() {
            alarm = next(&mut ole, "changes").await["alarms"][0]["id"].as_u64();
        }
        send(
            &mut ole,
            json!({"type": "detail", "id": 1, "alarm": alarm.unwrap()}),
        )
        .await;
        let d = next_answer(&mut ole).await;
        assert_eq!(d["citizen"]["name"], "Karen Jensen", "{d}");
    });
    assert_eq!(g.stop(), Some(0));
}

#[test]
fn an_admin_edits_the_accounts_and_the_ack_path_uses_them_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_admin(dir.path(), "");
    let data = dir.path().join("data");
    let g = Gateway::start_on(&data, &["--config", &config]);
    let console = g.console.expect("console address");
    let cert = dir.path().join("console-cert.pem");
    assert_eq!(g.exchange(&sia("1234", 1, "MA1"), 1).len(), 1);
    let rt = crate::console::runtime();
    rt.block_on(async {
        let (mut anna, _) = login(console, &cert, "anna").await;
        let list = admin(&mut anna, 1, json!({"action": "accounts"})).await;
        let accounts = list["reply"]["accounts"].as_array().unwrap();
        let keyed = accounts.iter().find(|a| a["account"] == "5678").unwrap();
        assert_eq!(keyed["encrypted"], true, "{list}");
        assert!(
            !list.to_string().contains("0123456789ABCDEF"),
            "a key was sent: {list}"
        );
        // A bad key is refused without being repeated; nothing changes.
        let mut record = keyed.clone();
        record.as_object_mut().unwrap().remove("encrypted");
        let bad = admin(
            &mut anna,
            2,
            json!({"action": "put_account", "record": record, "key": "text:tooshort"}),
        )
        .await;
        assert_eq!(bad["type"], "error", "{bad}");
        assert!(!bad.to_string().contains("tooshort"), "{bad}");
        // A change keeps the key; a removed account is unknown to the ACK path at once.
        record["district"] = json!("sygepleje-syd");
        let saved = admin(
            &mut anna,
            3,
            json!({"action": "put_account", "record": record, "expected": keyed}),
        )
        .await;
        assert_eq!(saved["done"], "account 5678 saved", "{saved}");
        // The entry as it was before is no longer what is there: a stale form is refused.
        let stale = admin(
            &mut anna,
            30,
            json!({"action": "put_account", "record": record, "expected": keyed}),
        )
        .await;
        assert!(
            stale["message"]
                .as_str()
                .unwrap()
                .contains("changed since you opened it"),
            "{stale}"
        );
        let removed = admin(
            &mut anna,
            4,
            json!({"action": "remove_account", "account": "4321"}),
        )
        .await;
        let left: Vec<&str> = removed["reply"]["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["account"].as_str().unwrap())
            .collect();
        assert!(
            !left.contains(&"4321") && left.contains(&"5678"),
            "{removed}"
        );
        let (mut ole, _) = login(console, &cert, "ole").await;
        let no = admin(&mut ole, 5, json!({"action": "accounts"})).await;
        assert_eq!(no["type"], "error", "{no}");
        // A key inside the record is refused, not silently dropped.
        let keyed = json!({"account": "9999", "call_type": "fire", "key": "text:RECORDKEY1234567"});
        let wrong = admin(
            &mut anna,
            6,
            json!({"action": "put_account", "record": keyed}),
        )
        .await;
        assert!(
            wrong["message"]
                .as_str()
                .unwrap()
                .contains("not in the record"),
            "{wrong}"
        );
        // A hand edit not yet reloaded is not written over: refused until SIGHUP.
        let file = data.join("accounts.toml");
        let edited = std::fs::read_to_string(&file)
            .unwrap()
            .replace("sygepleje-syd", "sygepleje-nord");
        std::fs::write(&file, edited).unwrap();
        let new = json!({"account": "9999", "call_type": "fire"});
        let over = admin(
            &mut anna,
            7,
            json!({"action": "put_account", "record": new}),
        )
        .await;
        assert!(
            over["message"]
                .as_str()
                .unwrap()
                .contains("changed on disk"),
            "{over}"
        );
        let register = data.join("citizens.csv");
        assert!(!register.exists());
    });
    signal(&g.child, "HUP");
    let mut took = false;
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(100));
        let line = "{\"type\": \"admin\", \"request\": {\"action\": \"put_account\", \"record\": {\"account\": \"9999\", \"call_type\": \"fire\"}}}";
        let out = terminal(console, &cert, "anna", "anna-password", line);
        if out.contains("account 9999 saved") {
            took = true;
            break;
        }
    }
    assert!(
        took,
        "the change was not taken after the reload (through the terminal client)"
    );
    assert_eq!(g.exchange(&sia("4321", 9, "MA1"), 1).len(), 1);
    // The queue says what each alarm's account is now: a pendant, or not an account of ours.
    rt.block_on(async {
        let (mut ole, snapshot) = login(console, &cert, "ole").await;
        let mut alarms = snapshot["alarms"].as_array().unwrap().clone();
        while !alarms.iter().any(|a| a["account"] == "4321") {
            alarms.extend(
                next(&mut ole, "changes").await["alarms"]
                    .as_array()
                    .unwrap()
                    .clone(),
            );
        }
        let of = |acct: &str| {
            alarms
                .iter()
                .find(|a| a["account"] == acct)
                .unwrap()
                .clone()
        };
        let (pendant, gone) = (of("1234"), of("4321"));
        assert_eq!(
            (
                pendant["call_type"].as_str(),
                pendant["unknown_account"].as_bool()
            ),
            (Some("nodkald"), Some(false)),
            "{pendant}"
        );
        assert_eq!(
            (
                gone["call_type"].as_str(),
                gone["unknown_account"].as_bool()
            ),
            (None, Some(true)),
            "{gone}"
        );
    });
    assert_eq!(g.stop(), Some(0));
    // The file: 5678 keeps its key, with the district of the hand edit reloaded after the
    // admin's change (neither lost), 4321 is gone, 9999 added after the reload.
    let file = data.join("accounts.toml");
    assert_eq!(mode(&file), 0o600);
    let on_disk = vagt_records::Accounts::load(&file).unwrap();
    let e = on_disk.entry("5678").unwrap();
    assert_eq!(
        (e.key.as_deref(), e.district.as_deref()),
        (Some("text:0123456789ABCDEF"), Some("sygepleje-nord"))
    );
    assert!(on_disk.entry("4321").is_none() && on_disk.entry("9999").is_some());
    // The frame after the removal was journaled as an unknown account's.
    let frames = crate::gateway::export(&data);
    let last = frames
        .iter()
        .rev()
        .find(|f| f["account"] == "4321")
        .unwrap();
    assert_eq!(last["unknown_account"], true, "{last}");
    let trail = audit(&data);
    let changes: Vec<(&str, &str, Value)> = trail
        .iter()
        .filter(|a| a["user"] == "anna")
        .filter_map(|a| {
            Some((
                a["admin"].as_str()?,
                a["target"].as_str()?,
                a["details"]["fields"].clone(),
            ))
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("put_account", "5678", json!(["district"])),
            ("remove_account", "4321", json!(["removed"])),
            ("put_account", "9999", json!(["new"]))
        ],
        "{trail:#?}"
    );
    assert!(!format!("{trail:?}").contains("0123456789ABCDEF"));
}

#[test]
fn a_users_file_that_cannot_be_written_refuses_the_change_before_it_is_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_admin(dir.path(), "");
    let data = dir.path().join("data");
    let g = Gateway::start_on(&data, &["--config", &config]);
    let console = g.console.expect("console address");
    let cert = dir.path().join("console-cert.pem");
    // Where the new file would be written first is taken (as a read-only /etc would refuse it).
    std::fs::create_dir(dir.path().join("users.tmp")).unwrap();
    let rt = crate::console::runtime();
    rt.block_on(async {
        let (mut anna, _) = login(console, &cert, "anna").await;
        let e = admin(
            &mut anna,
            1,
            json!({"action": "set_disabled", "name": "ole", "disabled": true}),
        )
        .await;
        assert_eq!(e["type"], "error", "{e}");
        assert!(e["message"].as_str().unwrap().contains("users.toml"), "{e}");
        // Nothing changed: ole still logs in.
        assert_eq!(
            try_login(console, &cert, "ole", "ole-password").await["type"],
            "welcome"
        );
    });
    assert_eq!(g.stop(), Some(0));
    let trail = audit(&data);
    assert!(
        !trail.iter().any(|a| a["admin"] == "disable_user"),
        "{trail:#?}"
    );
    assert!(
        !Users::load(&dir.path().join("users.toml"))
            .unwrap()
            .get("ole")
            .unwrap()
            .disabled
    );
}
