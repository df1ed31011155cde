//! Group commit on real files with fdatasync: the cost per record as the burst grows.
//!
//! Each iteration appends a burst of B records from B concurrent appenders (as B connections
//! would) and waits until every one is durable. With group commit, one fsync serves many
//! records, so time per record falls as B grows: a burst does not queue behind per-record
//! fsyncs. Run: `cargo bench -p vagt-benches --bench journal`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::mpsc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use vagt_journal::{Config, SegmentJournal};

fn burst(c: &mut Criterion) {
    let mut group = c.benchmark_group("journal_burst_fsync");
    group.sample_size(20);
    let payload = vec![b'x'; 120]; // about one journaled SIA-DCS frame with its metadata
    for b in [1usize, 16, 256, 4096] {
        let dir = tempfile::tempdir().unwrap();
        let journal = SegmentJournal::open(Config::new(dir.path()), |_| {}).unwrap();
        let appender = journal.appender().unwrap();
        group.throughput(Throughput::Elements(b as u64));
        group.bench_with_input(BenchmarkId::from_parameter(b), &b, |bench, &b| {
            bench.iter(|| {
                let (tx, rx) = mpsc::channel();
                for _ in 0..b {
                    let tx = tx.clone();
                    appender
                        .append(payload.clone(), move |r| tx.send(r.is_ok()).unwrap())
                        .unwrap();
                }
                drop(tx);
                assert!(rx.iter().take(b).all(|ok| ok));
            });
        });
        drop(appender);
        journal.close();
    }
    group.finish();
}

criterion_group!(benches, burst);
criterion_main!(benches);
