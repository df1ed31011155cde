//! The core's hot operations: timers for a million accounts, and alarms through a shard.
//!
//! Run: `cargo bench -p vagt-benches --bench core`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use vagt_core::wheel::Wheel;
use vagt_core::{Actor, ChangeKind, Classification, Policy, Shard};
use vagt_proto::Event;

fn pendant() -> Event {
    vagt_testkit::sia_event("QA", Some(1), false)
}

fn wheel(c: &mut Criterion) {
    let mut g = c.benchmark_group("wheel");
    const N: u64 = 1_000_000;
    g.throughput(Throughput::Elements(N));
    g.sample_size(10);
    // One supervision timer per account for a million accounts, spread over 25 hours.
    g.bench_function("insert_1m", |b| {
        b.iter(|| {
            let mut w = Wheel::new(0);
            for i in 0..N {
                w.insert(1 + (i * 97) % 90_000, i);
            }
            w
        })
    });
    g.bench_function("cancel_1m", |b| {
        b.iter_batched(
            || {
                let mut w = Wheel::new(0);
                let ids: Vec<_> = (0..N).map(|i| w.insert(1 + (i * 97) % 90_000, i)).collect();
                (w, ids)
            },
            |(mut w, ids)| {
                for id in ids {
                    w.cancel(id);
                }
                w
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn shard(c: &mut Criterion) {
    let mut g = c.benchmark_group("shard");
    const ALARMS: u64 = 10_000;
    g.throughput(Throughput::Elements(ALARMS));
    let events = [pendant()];
    let accounts: Vec<String> = (0..ALARMS).map(|i| format!("{i:06X}")).collect();
    // Open 10 000 alarms, claim, and close each: the full lifecycle of a burst.
    g.bench_function("open_claim_close_10k", |b| {
        b.iter(|| {
            let now = 1_714_521_600;
            let mut s = Shard::new(0, 1, Policy::default(), Policy::default(), now);
            let op = Actor::operator("ole");
            for a in &accounts {
                let ch = s.on_events(a, &events, now);
                let ChangeKind::Opened { alarm, .. } = ch[0].kind else {
                    unreachable!()
                };
                s.claim(alarm, &op, now + 1).unwrap();
                s.close(alarm, &op, Classification::FalseCall, now + 2)
                    .unwrap();
            }
            s
        })
    });
    // 10 000 unclaimed alarms all missing their claim deadline in the same second.
    g.bench_function("escalate_10k", |b| {
        b.iter_batched(
            || {
                let now = 1_714_521_600;
                let mut s = Shard::new(0, 1, Policy::default(), Policy::default(), now);
                for a in &accounts {
                    s.on_events(a, &events, now);
                }
                s
            },
            |mut s| {
                let n = s.tick(1_714_521_600 + 60).len();
                assert_eq!(n as u64, ALARMS);
                s
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, wheel, shard);
criterion_main!(benches);
