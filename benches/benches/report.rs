//! `vagt report monthly` on a month of traffic: the journal is replayed through the core
//! offline and the extract computed.
//!
//! The journal holds a month (30 days) for 20 000 citizens: a clock tick every second, `NULL`
//! link tests, and alarms that an operator claims after 20 s and closes after 2 min — records
//! in the proportions a centre's journal has. `VAGT_REPORT_RECORDS` sets the size (default
//! 1 000 000; the figure is for 10 000 000).
//!
//! Run: `VAGT_REPORT_RECORDS=10000000 cargo bench -p vagt-benches --bench report`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vagt::cli::{ReportArgs, ReportFormat, ReportTable, ServeArgs};
use vagt_core::{Actor, AlarmId, Classification, Command};
use vagt_engine::shard_of;
use vagt_journal::SegmentJournal;
use vagt_records::input::{self as records, CommandRecord};
use vagt_records::{FrameMeta, FrameRecord, Transport};

const CITIZENS: u64 = 20_000;
/// 2026-10-01 00:00 in Copenhagen.
const OCT_1: u64 = 1_790_805_600;
const MONTH_SECS: u64 = 30 * 86_400;

fn account(i: u64) -> String {
    format!("{}", 100_000 + i % CITIZENS)
}

fn frame(account: &str, code: Option<&str>, seq: u64, at: u64) -> Vec<u8> {
    let seq = seq % 9999 + 1;
    let (token, data) = match code {
        Some(c) => ("SIA-DCS", format!("#{account}|N{c}")),
        None => ("NULL", String::new()),
    };
    FrameRecord {
        meta: FrameMeta {
            received_at_ms: (at * 1000) as i64,
            peer: "10.0.0.1:4000".parse().unwrap(),
            transport: Transport::Tcp,
            token: token.into(),
            sequence: format!("{seq:04}"),
            receiver: None,
            line: Some("0".into()),
            account: account.into(),
            unknown_account: false,
            content: seq,
        },
        body: format!("\"{token}\"{seq:04}L0#{account}[{data}]").into_bytes(),
    }
    .encode()
    .unwrap()
}

fn command(who: &Actor, command: Command, at: u64) -> Vec<u8> {
    records::encode_command(&CommandRecord {
        request: 0,
        at_ms: (at * 1000) as i64,
        actor: who.clone(),
        client: None,
        command,
    })
    .unwrap()
}

/// Writes about `records` records spread over the month; returns how many were written.
fn write_month(dir: &Path, records: u64) -> u64 {
    let journal = SegmentJournal::open(
        vagt_journal::Config {
            fsync: false,
            ..vagt_journal::Config::new(dir.join("journal"))
        },
        |_| {},
    )
    .unwrap();
    let appender = journal.appender().unwrap();
    let mut written = 0;
    let mut put = |payload: Vec<u8>| {
        appender.append(payload, |_| {}).unwrap();
        written += 1;
    };
    put(records::encode_setup(OCT_1 - 86_400));
    // Per second: one tick; the rest split 96 % link tests, 4 % alarms (each alarm brings a
    // claim and a close, so 12 % of the rest is alarm traffic).
    let per_sec = (records as f64 / MONTH_SECS as f64 - 1.0).max(0.0);
    let (mut nulls, mut alarms) = (0.0_f64, 0.0_f64);
    let mut next_id = [2u64, 3];
    let mut pending: std::collections::VecDeque<(u64, AlarmId, bool)> = Default::default();
    let ole = Actor::operator("ole");
    let (mut n_null, mut n_alarm) = (0u64, 0u64);
    for s in 0..MONTH_SECS {
        let now = OCT_1 + s;
        put(records::encode_tick(now));
        nulls += per_sec * 0.88;
        alarms += per_sec * 0.04;
        while nulls >= 1.0 {
            nulls -= 1.0;
            n_null += 1;
            put(frame(&account(n_null * 7919), None, n_null, now));
        }
        while alarms >= 1.0 {
            alarms -= 1.0;
            n_alarm += 1;
            // Round-robin: an account's alarm is long closed before its next.
            let a = account(n_alarm);
            let shard = shard_of(&a, 2);
            let id = AlarmId(next_id[shard]);
            next_id[shard] += 2;
            put(frame(&a, Some("QA"), n_alarm, now));
            pending.push_back((now + 20, id, false));
            pending.push_back((now + 120, id, true));
        }
        while pending.front().is_some_and(|(at, _, _)| *at <= now) {
            let Some((at, alarm, close)) = pending.pop_front() else {
                break;
            };
            let c = if close {
                Command::Close {
                    alarm,
                    classification: Classification::ReassuranceCall,
                }
            } else {
                Command::Claim { alarm }
            };
            put(command(&ole, c, at));
        }
        // Claims and closes were queued in time order per kind; keep the queue sorted.
        pending.make_contiguous().sort_by_key(|(at, _, _)| *at);
    }
    drop(appender);
    journal.close();
    written
}

fn accounts_file() -> String {
    let mut s = String::new();
    for i in 0..CITIZENS {
        let _ = write!(
            s,
            "[[accounts]]\naccount = \"{}\"\ncitizen = \"borger-{i}\"\ncall_type = \"nodkald\"\nprovider = \"nord\"\nmunicipality = \"{}\"\n\n",
            account(i),
            if i % 2 == 0 { "Aarhus" } else { "Odense" }
        );
    }
    s
}

fn report(c: &mut Criterion) {
    let records: u64 = std::env::var("VAGT_REPORT_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let written = write_month(dir.path(), records);
    let accounts = dir.path().join("accounts.toml");
    std::fs::write(&accounts, accounts_file()).unwrap();
    println!(
        "report bench: journal of {written} records written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let args = ReportArgs {
        month: "2026-10".into(),
        municipality: None,
        provider: None,
        format: ReportFormat::Json,
        table: ReportTable::Calls,
        delimiter: ',',
        serve: ServeArgs {
            config: None,
            listen: None,
            metrics: None,
            data: Some(dir.path().to_owned()),
            accounts: Some(accounts),
            console: None,
            no_console: true,
            node: None,
            log_format: vagt::cli::LogFormat::Text,
        },
    };
    // What the extract holds, once (and a check that the month's alarms are in it).
    let mut out = Vec::new();
    vagt::commands::report::run(&args, &mut out).unwrap();
    let m: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let calls = m["calls"].as_array().map_or(0, Vec::len);
    println!(
        "report bench: {calls} calls from {} citizens in the extract ({} bytes of JSON)",
        m["citizens"].as_array().map_or(0, Vec::len),
        out.len()
    );
    let mut g = c.benchmark_group("report");
    g.sample_size(10);
    g.throughput(Throughput::Elements(written));
    g.bench_function(format!("monthly_{written}_records"), |b| {
        b.iter(|| {
            let mut out = Vec::new();
            vagt::commands::report::run(&args, &mut out).unwrap();
            assert!(out.len() > 1000);
            out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, report);
criterion_main!(benches);
