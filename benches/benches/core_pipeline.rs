//! Events through the whole core as `vagt serve` runs it: the feed thread reads journaled
//! frames (real segment files), decodes each frame again (DC-09, SIA-DCS / Contact ID), routes
//! it to its shard thread by account, and the shards apply it and publish the read side.
//!
//! The journal holds 200 000 frames from 20 000 supervised accounts (alarm, repeats, Contact ID
//! alarms and `NULL` link tests); one iteration starts the core on it with no snapshot and
//! measures until every record is applied — which is also the start-up replay time.
//!
//! Run: `cargo bench -p vagt-benches --bench core_pipeline`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use vagt::config::{Config, default_without_console};
use vagt_engine::Engine;
use vagt_journal::SegmentJournal;
use vagt_records::Accounts;
use vagt_records::input as records;
use vagt_records::{FrameMeta, FrameRecord, Transport};

const ACCOUNTS: usize = 20_000;
const ROUNDS: usize = 10;
const T0_MS: i64 = 1_714_521_600_000;

fn account(i: usize) -> String {
    format!("{:06}", 100_000 + i)
}

fn accounts_file() -> String {
    let mut text = String::new();
    for i in 0..ACCOUNTS {
        let _ = write!(
            text,
            "[[accounts]]\naccount = \"{}\"\ncall_type = \"nodkald\"\nprovider = \"hjemmepleje-{}\"\nsupervision_interval_secs = 86400\n\n",
            account(i),
            i % 7
        );
    }
    text
}

/// The body of round `round`'s frame from account `a`.
fn body(a: &str, seq: usize, round: usize) -> String {
    match round % 5 {
        0 | 2 => format!("\"SIA-DCS\"{seq:04}L0#{a}[#{a}|NQA]"),
        4 => format!("\"ADM-CID\"{seq:04}L0#{a}[#{a}|1100 01 001]"),
        _ => format!("\"NULL\"{seq:04}L0#{a}[]"),
    }
}

fn fill_journal(dir: &Path) -> u64 {
    let journal = SegmentJournal::open(
        vagt_journal::Config {
            fsync: false,
            ..vagt_journal::Config::new(dir.join("journal"))
        },
        |_| {},
    )
    .unwrap();
    let appender = journal.appender().unwrap();
    appender
        .append(records::encode_setup((T0_MS / 1000) as u64), |_| {})
        .unwrap();
    let mut n = 0;
    for round in 0..ROUNDS {
        for i in 0..ACCOUNTS {
            let a = account(i);
            let seq = round + 1;
            let record = FrameRecord {
                meta: FrameMeta {
                    received_at_ms: T0_MS + (round * 1000) as i64,
                    peer: "127.0.0.1:40000".parse().unwrap(),
                    transport: Transport::Tcp,
                    token: if round % 5 == 4 { "ADM-CID" } else { "SIA-DCS" }.into(),
                    sequence: format!("{seq:04}"),
                    receiver: None,
                    line: Some("0".into()),
                    account: a.clone(),
                    unknown_account: false,
                    content: (i * ROUNDS + round) as u64,
                },
                body: body(&a, seq, round).into_bytes(),
            };
            appender.append(record.encode().unwrap(), |_| {}).unwrap();
            n += 1;
        }
    }
    drop(appender);
    journal.close();
    n
}

/// Starts the core on the journal in `dir` and returns the time until it applied everything.
fn replay(dir: &Path, config: &Config, accounts: &Accounts) -> Duration {
    let _ = std::fs::remove_dir_all(dir.join("core"));
    let journal =
        SegmentJournal::open(vagt_journal::Config::new(dir.join("journal")), |_| {}).unwrap();
    let started = Instant::now();
    let engine = Engine::start(
        &config.core,
        accounts,
        config.protocol.settings(),
        &dir.join("core"),
        std::sync::Arc::new(journal.appender().unwrap()),
    )
    .unwrap();
    loop {
        let st = engine.status();
        if st.applied >= st.journal_end {
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let elapsed = started.elapsed();
    assert_eq!(engine.status().open_alarms, ACCOUNTS);
    engine.stop_appending();
    journal.close();
    engine.join();
    elapsed
}

fn pipeline(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let frames = fill_journal(dir.path());
    let accounts = Accounts::parse(&accounts_file()).unwrap();
    let mut g = c.benchmark_group("core_pipeline");
    g.sample_size(10);
    g.throughput(Throughput::Elements(frames));
    for shards in [1, 2, 4] {
        let text = default_without_console().replace("shards = 2", &format!("shards = {shards}"));
        let mut config = Config::parse(&text, Path::new(".")).unwrap();
        config.gateway.data = dir.path().to_owned();
        g.bench_with_input(
            BenchmarkId::new("replay_200k_frames", format!("{shards}_shards")),
            &config,
            |b, config| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| replay(dir.path(), config, &accounts))
                        .sum()
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
