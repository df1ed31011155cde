//! The citizen register (README "The citizen register"): shown with the alarm to those who may
//! see the alarm, every view journaled before it is shown, never in the journal export or the
//! metrics, refused when others can read the file, reloaded on SIGHUP.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::console::{REGISTER, console_section, login, next, next_answer, send, write_register};
use crate::gateway::{Gateway, export, json_lines, sia, signal};

/// Writes the register (mode `mode`) and a config with the console reading it; the config path.
fn setup(dir: &Path, mode: u32) -> String {
    let register = write_register(dir, mode);
    let config = dir.join("vagt.toml");
    std::fs::write(
        &config,
        console_section(dir) + &format!("citizens = \"{}\"\n", register.display()),
    )
    .unwrap();
    config.to_string_lossy().into_owned()
}

/// The detail answer for `alarm`.
async fn detail(ws: &mut crate::console::Ws, id: u64, alarm: u64) -> Value {
    send(ws, json!({"type": "detail", "id": id, "alarm": alarm})).await;
    next_answer(ws).await
}

#[test]
fn a_register_others_can_read_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), 0o644);
    for cmd in ["check-config", "serve"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vagt"))
            .args([cmd, "--config", &config, "--data"])
            .arg(dir.path().join("data"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("readable by others"), "{cmd}: {err}");
        assert!(!err.contains("Karen"), "{err}");
    }
}

#[test]
fn the_citizen_is_shown_with_the_alarm_audited_and_nowhere_else() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), 0o600);
    let data = dir.path().join("data");
    let g = Gateway::start_on(&data, &["--config", &config]);
    let console = g.console.expect("console address");
    let cert = dir.path().join("console-cert.pem");
    assert_eq!(g.exchange(&sia("1234", 1, "MA1"), 1).len(), 1);
    let rt = crate::console::runtime();
    let alarm = rt.block_on(async {
        let (mut ole, snapshot) = login(console, &cert, "ole").await;
        // The alarm is in the queue (or arrives); its detail carries the register's record.
        let mut alarm = snapshot["alarms"][0]["id"].as_u64();
        while alarm.is_none() {
            alarm = next(&mut ole, "changes").await["alarms"][0]["id"].as_u64();
        }
        let alarm = alarm.unwrap();
        let d = detail(&mut ole, 1, alarm).await;
        assert_eq!(d["type"], "detail", "{d}");
        let c = &d["citizen"];
        assert_eq!(c["name"], "Karen Jensen", "{d}");
        assert_eq!(c["address"], "Nørregade 1, 8000 Aarhus C");
        assert_eq!(c["phones"], json!(["+45 12 34 56 78"]));
        assert_eq!(c["care_notes"], "Diabetes; hører dårligt");
        // A responder of another team gets neither the alarm nor the citizen.
        let (mut nurse, _) = login(console, &cert, "vest-1").await;
        let refused = detail(&mut nurse, 2, alarm).await;
        assert_eq!(refused["type"], "error", "{refused}");
        assert!(!refused.to_string().contains("Karen"));
        // An auditor sees the alarm (for the queue and reports), not the citizen.
        let (mut auditor, _) = login(console, &cert, "revisor").await;
        let seen = detail(&mut auditor, 3, alarm).await;
        assert_eq!(seen["type"], "detail", "{seen}");
        assert!(
            seen["citizen"].is_null() && !seen.to_string().contains("Karen"),
            "{seen}"
        );
        // The register changes and is reloaded without a restart.
        let register = dir.path().join("citizens.csv");
        std::fs::write(
            &register,
            REGISTER.replace("+45 12 34 56 78", "+45 99 99 99 99"),
        )
        .unwrap();
        signal(&g.child, "HUP");
        let mut updated = false;
        for i in 0..50 {
            let d = detail(&mut ole, 10 + i, alarm).await;
            if d["citizen"]["phones"] == json!(["+45 99 99 99 99"]) {
                updated = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(updated, "the register was not reloaded on SIGHUP");
        alarm
    });
    // Every view is in the audit trail: who, which alarm, which citizen (never the record).
    let audit = json_lines(
        std::process::Command::new(env!("CARGO_BIN_EXE_vagt"))
            .args(["audit", "export", "--data"])
            .arg(&data),
    );
    // Ole opened the detail several times within ten minutes: one record covers them.
    let views: Vec<&Value> = audit.iter().filter(|a| a["viewed"] == "citizen").collect();
    assert_eq!(views.len(), 1, "{audit:#?}");
    let v = views[0];
    assert_eq!(
        (v["user"].as_str(), v["role"].as_str()),
        (Some("ole"), Some("operator"))
    );
    assert_eq!(
        (v["citizen"].as_str(), v["alarm"].as_u64()),
        (Some("borger-1"), Some(alarm))
    );
    assert!(v["client"].as_str().unwrap().starts_with("127.0.0.1:"));
    // The responder's refused look is in the trail too.
    assert!(audit.iter().any(|a| {
        a["user"] == "vest-1"
            && a["refused"]
                .as_str()
                .is_some_and(|r| r.contains("in your queue"))
    }));
    assert!(!format!("{audit:?}").contains("Karen"));
    // Not in the journal export, not in the metrics.
    assert!(!format!("{:?}", export(&data)).contains("Karen"));
    assert!(!g.scrape().contains("Karen"));
    assert_eq!(g.stop(), Some(0));
}
