//! `vagt report monthly` on a fixture journal with known answers: a month with a summer-time
//! change, calls answered at the centre and forwarded, a late claim, a late visit, a repeat, an
//! escalation, and a call in the month before (for the trend).
//!
//! The fixture is written in the gateway's own record formats (frames, commands, ticks, the
//! accounts-loaded record) with chosen times, as a gateway would have journaled them.

use std::path::Path;
use std::process::Command as Process;

use serde_json::Value;
use vagt_core::{Actor, AlarmId, Classification, Command, Role};
use vagt_engine::shard_of;
use vagt_journal::SegmentJournal;
use vagt_records::input::{self as records, CommandRecord};
use vagt_records::{FrameMeta, FrameRecord, Transport};

const ACCOUNTS: &str = r#"
[[accounts]]
account = "1001"
citizen = "borger-1"
call_type = "nodkald"
provider = "nord"
municipality = "Aarhus"

[[accounts]]
account = "1002"
citizen = "borger-2"
call_type = "sygeplejekald"
district = "vest"
municipality = "Aarhus"

[[accounts]]
account = "1003"
citizen = "borger-3"
call_type = "nodkald"
provider = "syd"
municipality = "Odense"
"#;

/// 2026-10-01 00:00 in Copenhagen (summer time, UTC+2), as Unix seconds.
const OCT_1: u64 = 1_790_805_600;

/// Local time in October 2026: day `d`, `h:m` (summer time until the 25th, 03:00).
fn oct(d: u64, h: u64, m: u64) -> u64 {
    let summer = OCT_1 + (d - 1) * 86_400 + h * 3600 + m * 60;
    if d >= 26 { summer + 3600 } else { summer }
}

struct Fixture {
    appender: vagt_journal::Appender,
    /// Next alarm id per shard (2 shards, as in the default config).
    next: [u64; 2],
    seq: u16,
}

impl Fixture {
    fn frame(&mut self, account: &str, code: &str, at: u64) {
        self.seq += 1;
        let body = format!("\"SIA-DCS\"{:04}L0#{account}[#{account}|N{code}]", self.seq);
        let record = FrameRecord {
            meta: FrameMeta {
                received_at_ms: (at * 1000) as i64,
                peer: "127.0.0.1:4000".parse().unwrap(),
                transport: Transport::Tcp,
                token: "SIA-DCS".into(),
                sequence: format!("{:04}", self.seq),
                receiver: None,
                line: Some("0".into()),
                account: account.into(),
                unknown_account: false,
                content: u64::from(self.seq),
            },
            body: body.into_bytes(),
        };
        self.append(record.encode().unwrap());
    }

    /// A new alarm from `account` at `at`: its id (as the shard will number it).
    fn alarm(&mut self, account: &str, code: &str, at: u64) -> AlarmId {
        let shard = shard_of(account, 2);
        let id = self.next[shard];
        self.next[shard] += 2;
        self.frame(account, code, at);
        AlarmId(id)
    }

    fn command(&mut self, who: &Actor, command: Command, at: u64) {
        let record = CommandRecord {
            request: 0,
            at_ms: (at * 1000) as i64,
            actor: who.clone(),
            client: None,
            command,
        };
        self.append(records::encode_command(&record).unwrap());
    }

    fn append(&self, payload: Vec<u8>) {
        self.appender
            .append(payload, |r| assert!(r.is_ok()))
            .unwrap();
    }
}

/// Writes the fixture month into `data/journal`.
fn write_fixture(data: &Path) {
    let journal =
        SegmentJournal::open(vagt_journal::Config::new(data.join("journal")), |_| {}).unwrap();
    let mut f = Fixture {
        appender: journal.appender().unwrap(),
        next: [2, 3], // shard i of n numbers its alarms i + n, i + 2n, …
        seq: 0,
    };
    let ole = Actor::operator("ole");
    let nurse = |team: &str| Actor {
        name: team.into(),
        role: Role::Responder,
    };
    let close = |alarm, classification| Command::Close {
        alarm,
        classification,
    };
    let forward = |alarm| Command::Forward { alarm, team: None };
    f.append(records::encode_setup(oct(1, 0, 0) - 40 * 86_400));

    // The month before: one call from borger-1 (Sept 30, 23:30).
    let sept = f.alarm("1001", "QA", OCT_1 - 1800);
    f.command(&ole, Command::Claim { alarm: sept }, OCT_1 - 1790);
    f.command(&ole, close(sept, Classification::FalseCall), OCT_1 - 1700);

    // 1. Oct 1, 10:00 (day): borger-1 presses twice; answered at the centre in 30 s.
    let c1 = f.alarm("1001", "QA", oct(1, 10, 0));
    f.frame("1001", "QA", oct(1, 10, 0) + 10);
    f.command(&ole, Command::Claim { alarm: c1 }, oct(1, 10, 0) + 30);
    f.command(&ole, close(c1, Classification::FalseCall), oct(1, 10, 5));

    // 2. Oct 2, 20:00 (evening): borger-2's nurse call, claimed after 90 s (one escalation at
    // 60 s), forwarded to the district, on site 25 min after the forward (promise 30).
    let c2 = f.alarm("1002", "MA", oct(2, 20, 0));
    f.append(records::encode_tick(oct(2, 20, 0) + 61));
    f.command(&ole, Command::Claim { alarm: c2 }, oct(2, 20, 0) + 90);
    f.command(&ole, forward(c2), oct(2, 20, 3));
    f.command(&nurse("vest"), Command::Accept { alarm: c2 }, oct(2, 20, 4));
    f.command(
        &nurse("vest"),
        Command::Arrive { alarm: c2 },
        oct(2, 20, 28),
    );
    f.command(
        &nurse("vest"),
        close(c2, Classification::Emergency),
        oct(2, 21, 0),
    );

    // 3. Oct 3, 02:00 (night): borger-1 again; claimed in 20 s, forwarded, on site after 70 min
    // (promise 60).
    let c3 = f.alarm("1001", "QA", oct(3, 2, 0));
    f.command(&ole, Command::Claim { alarm: c3 }, oct(3, 2, 0) + 20);
    f.command(&ole, forward(c3), oct(3, 2, 2));
    f.command(&nurse("nord"), Command::Accept { alarm: c3 }, oct(3, 2, 5));
    f.command(&nurse("nord"), Command::Arrive { alarm: c3 }, oct(3, 3, 12));
    f.command(
        &nurse("nord"),
        close(c3, Classification::Emergency),
        oct(3, 4, 0),
    );

    // 4. Oct 26, 10:00 (winter time now): borger-3 in Odense, reassured at the centre.
    let c4 = f.alarm("1003", "QA", oct(26, 10, 0));
    f.command(&ole, Command::Claim { alarm: c4 }, oct(26, 10, 0) + 10);
    f.command(
        &ole,
        close(c4, Classification::ReassuranceCall),
        oct(26, 10, 3),
    );

    drop(f);
    journal.close();
}

fn report(data: &Path, accounts: &Path, extra: &[&str]) -> Vec<u8> {
    let out = Process::new(env!("CARGO_BIN_EXE_vagt"))
        .args(["report", "monthly", "--month", "2026-10", "--data"])
        .arg(data)
        .arg("--accounts")
        .arg(accounts)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn the_monthly_extract_has_the_known_answers_and_is_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path());
    let accounts = dir.path().join("accounts.toml");
    std::fs::write(&accounts, ACCOUNTS).unwrap();

    let json = report(dir.path(), &accounts, &["--format", "json"]);
    let m: Value = serde_json::from_slice(&json).unwrap();
    let calls = m["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 4, "{m:#}");
    let citizens: Vec<&str> = calls
        .iter()
        .map(|c| c["citizen"].as_str().unwrap())
        .collect();
    assert_eq!(citizens, ["borger-1", "borger-2", "borger-1", "borger-3"]);
    assert_eq!(calls[0]["repeats"], 1);
    // Every press counts: the repeat press is in the call's events.
    assert_eq!(calls[0]["presses"], 2);
    assert_eq!(calls[0]["events"], serde_json::json!(["QA", "QA"]));
    assert_eq!(calls[0]["classification"], "false_call");
    assert_eq!(calls[1]["escalations"], 1);
    assert_eq!(calls[1]["team"], "vest");
    assert_eq!(calls[2]["team"], "nord");

    // SLA per shift.
    let sla = &m["sla"];
    assert_eq!(sla["day"]["calls"], 2);
    assert_eq!(sla["day"]["share_within_60s"], 1.0);
    assert_eq!(sla["evening"]["calls"], 1);
    assert_eq!(sla["evening"]["claimed_within_60s"], 0);
    assert_eq!(sla["evening"]["claimed_within_180s"], 1);
    assert_eq!(sla["evening"]["target_60s_met"], false);
    assert_eq!(sla["evening"]["share_on_site_in_time"], 1.0);
    assert_eq!(sla["night"]["visits"], 1);
    assert_eq!(sla["night"]["on_site_in_time"], 0);
    let exceptions: Vec<&str> = m["exceptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["what"].as_str().unwrap())
        .collect();
    assert_eq!(
        exceptions,
        [
            "claimed after 90 s",
            "on site after 70 min (promise 60 min)"
        ]
    );

    // Per citizen, and the top callers with last month's count.
    let b1 = &m["citizens"][0];
    assert_eq!(b1["citizen"], "borger-1");
    // Three presses (one a repeat while the first alarm was open) in two alarms.
    assert_eq!(b1["calls"], 3);
    assert_eq!(b1["alarms"], 2);
    assert_eq!(b1["at_centre"], 1);
    assert_eq!(b1["forwarded"], 1);
    assert_eq!(b1["median_time_to_claim"], 20);
    assert_eq!(b1["worst_time_to_claim"], 30);
    assert_eq!(b1["worst_time_to_on_site"], 70 * 60);
    assert_eq!(b1["by_classification"]["emergency"], 1);
    let top = &m["top_callers"];
    assert_eq!(top[0]["citizen"], "borger-1");
    assert_eq!(
        (top[0]["calls"].as_u64(), top[0]["previous_month"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(top[1]["previous_month"], 0);

    // The CSV a spreadsheet opens: local times with their offsets, across the DST change.
    let csv = String::from_utf8(report(dir.path(), &accounts, &["--delimiter", ";"])).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5);
    assert!(lines[0].starts_with("alarm;citizen;account;call_type;municipality;code;"));
    assert!(lines[1].contains(";2026-10-01T10:00:00+02:00;2026-10-01T10:00:30+02:00;ole;"));
    assert!(
        lines[4].contains(";2026-10-26T10:00:00+01:00;"),
        "{}",
        lines[4]
    );
    assert!(lines[2].contains(";sygeplejekald;Aarhus;MA;1;evening;"));

    // One municipality only.
    let odense: Value = serde_json::from_slice(&report(
        dir.path(),
        &accounts,
        &["--format", "json", "--municipality", "Odense"],
    ))
    .unwrap();
    assert_eq!(odense["calls"].as_array().unwrap().len(), 1);
    assert_eq!(odense["calls"][0]["citizen"], "borger-3");
    // One provider (or home-nurse district) only.
    for (provider, citizen) in [("nord", "borger-1"), ("vest", "borger-2")] {
        let theirs: Value = serde_json::from_slice(&report(
            dir.path(),
            &accounts,
            &["--format", "json", "--provider", provider],
        ))
        .unwrap();
        let citizens: Vec<&str> = theirs["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["citizen"].as_str().unwrap())
            .collect();
        assert!(
            !citizens.is_empty() && citizens.iter().all(|c| *c == citizen),
            "{provider}: {citizens:?}"
        );
        assert_eq!(theirs["provider"], provider);
    }

    // The same journal gives the same bytes, in every format.
    assert_eq!(report(dir.path(), &accounts, &["--format", "json"]), json);
    for format in ["csv", "html"] {
        let a = report(dir.path(), &accounts, &["--format", format]);
        assert_eq!(
            a,
            report(dir.path(), &accounts, &["--format", format]),
            "{format}"
        );
    }
    let html = String::from_utf8(report(dir.path(), &accounts, &["--format", "html"])).unwrap();
    assert!(html.contains("<svg") && html.contains("borger-1"));
    let per_citizen =
        String::from_utf8(report(dir.path(), &accounts, &["--table", "citizens"])).unwrap();
    assert!(
        per_citizen
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("borger-1,3,2,1,1,0,0,0,0,1,1,20,30,")
    );
}

#[test]
fn a_bad_month_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = Process::new(env!("CARGO_BIN_EXE_vagt"))
        .args(["report", "monthly", "--month", "2026-13", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--month must be YYYY-MM"));
}

#[test]
fn without_the_accounts_file_the_report_is_refused_not_written_citizen_less() {
    let dir = tempfile::tempdir().unwrap();
    let out = Process::new(env!("CARGO_BIN_EXE_vagt"))
        .args(["report", "monthly", "--month", "2026-10", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs the accounts file"), "{err}");
}

/// The accounts file after borger-1's pendant moved to another citizen in another municipality
/// with another provider (account 1001 reused).
const ACCOUNTS_LATER: &str = r#"
[[accounts]]
account = "1001"
citizen = "borger-11"
call_type = "nodkald"
provider = "odder-hjemmepleje"
municipality = "Odder"
"#;

#[test]
fn a_report_names_the_citizen_municipality_and_team_in_force_when_the_call_came() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let journal =
        SegmentJournal::open(vagt_journal::Config::new(data.join("journal")), |_| {}).unwrap();
    let mut f = Fixture {
        appender: journal.appender().unwrap(),
        next: [2, 3],
        seq: 0,
    };
    let ole = Actor::operator("ole");
    let in_force = |text: &str, at: u64, set: u64| {
        records::encode_accounts(at, &vagt_records::Accounts::parse(text).unwrap(), set).unwrap()
    };
    // The gateway started with the first file, then again on Oct 10 with the later one.
    for record in in_force(ACCOUNTS, oct(1, 0, 0), 1) {
        f.append(record);
    }
    let first = f.alarm("1001", "QA", oct(5, 10, 0));
    f.command(&ole, Command::Claim { alarm: first }, oct(5, 10, 0) + 20);
    f.command(
        &ole,
        Command::Forward {
            alarm: first,
            team: None,
        },
        oct(5, 10, 1),
    );
    let nord = Actor {
        name: "nord".into(),
        role: Role::Responder,
    };
    f.command(&nord, Command::Accept { alarm: first }, oct(5, 10, 5));
    f.command(&nord, Command::Arrive { alarm: first }, oct(5, 10, 20));
    let closed = Command::Close {
        alarm: first,
        classification: Classification::Emergency,
    };
    f.command(&nord, closed, oct(5, 10, 40));
    for record in in_force(ACCOUNTS_LATER, oct(10, 0, 0), 2) {
        f.append(record);
    }
    let second = f.alarm("1001", "QA", oct(12, 10, 0));
    f.command(&ole, Command::Claim { alarm: second }, oct(12, 10, 0) + 20);
    f.command(
        &ole,
        Command::Forward {
            alarm: second,
            team: None,
        },
        oct(12, 10, 1),
    );
    drop(f);
    journal.close();

    // The report is made with today's file (the later one), as an auditor would.
    let today = dir.path().join("accounts.toml");
    std::fs::write(&today, ACCOUNTS_LATER).unwrap();
    let json: Value =
        serde_json::from_slice(&report(&data, &today, &["--format", "json"])).unwrap();
    let calls = json["calls"].as_array().unwrap();
    let rows: Vec<(u64, &str, &str, &str)> = calls
        .iter()
        .map(|c| {
            (
                c["alarm"].as_u64().unwrap(),
                c["citizen"].as_str().unwrap(),
                c["municipality"].as_str().unwrap(),
                c["team"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (first.0, "borger-1", "Aarhus", "nord"),
            (second.0, "borger-11", "Odder", "odder-hjemmepleje")
        ],
        "{json:#}"
    );
    // Each citizen's calls are their own: borger-1 is not charged with borger-11's call.
    let aarhus: Value = serde_json::from_slice(&report(
        &data,
        &today,
        &["--format", "json", "--municipality", "Aarhus"],
    ))
    .unwrap();
    assert_eq!(aarhus["calls"].as_array().unwrap().len(), 1, "{aarhus:#}");
}
