//! The core's hot operations: timers for a million accounts, and alarms through a shard.
//!
//! Run: `cargo bench -p vagt-benches --bench core`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use vagt_core::wheel::Wheel;
use vagt_core::{AccountSetup, Actor, ChangeKind, Classification, Policy, Shard};
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

/// Events through one shard: 10 000 accounts each send an alarm, four repeats of it and five
/// `NULL` link tests (which restart supervision) — 100 000 frames.
fn shard_events(c: &mut Criterion) {
    let mut g = c.benchmark_group("shard");
    const ACCOUNTS: usize = 10_000;
    const PER_ACCOUNT: usize = 10;
    g.throughput(Throughput::Elements((ACCOUNTS * PER_ACCOUNT) as u64));
    let alarm = [pendant()];
    let accounts: Vec<String> = (0..ACCOUNTS).map(|i| format!("{i:06X}")).collect();
    let setup = AccountSetup {
        supervision_secs: Some(3600),
        ..AccountSetup::default()
    };
    g.bench_function("events_100k", |b| {
        b.iter_batched(
            || {
                let mut s = Shard::new(0, 1, Policy::default(), Policy::default(), T0);
                for a in &accounts {
                    s.configure(a, setup.clone(), T0);
                }
                s
            },
            |mut s| {
                let mut changes = 0;
                for round in 0..PER_ACCOUNT {
                    let events: &[Event] = if round % 2 == 0 { &alarm } else { &[] };
                    for a in &accounts {
                        changes += s.on_events(a, events, T0 + round as u64).len();
                    }
                }
                assert!(changes >= ACCOUNTS * 5);
                s
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

const T0: u64 = 1_714_521_600;

/// Supervision of a million accounts (one hour interval each, due times spread over the hour):
/// the memory it takes per account, a heartbeat from every account, and the clock running
/// through a whole interval (every heartbeat left a cancelled entry behind to drop).
fn supervision(c: &mut Criterion) {
    const N: usize = 1_000_000;
    let accounts: Vec<String> = (0..N)
        .map(|i| format!("{:010}", 4_000_000_000 + i))
        .collect();
    let setup = AccountSetup {
        supervision_secs: Some(3600),
        team: Some("hjemmepleje-nord".into()),
        ..AccountSetup::default()
    };
    let supervised = |accounts: &[String]| {
        let mut s = Shard::new(0, 1, Policy::default(), Policy::default(), T0);
        for (i, a) in accounts.iter().enumerate() {
            s.configure(a, setup.clone(), T0 + (i % 3600) as u64);
        }
        s
    };
    // Memory: resident growth for a million supervised, configured accounts (measured first,
    // before the benchmarks below leave freed memory in the allocator).
    let before = resident_bytes();
    let s = supervised(&accounts);
    let bytes = resident_bytes().saturating_sub(before);
    assert_eq!(s.supervised_accounts(), N);
    println!(
        "supervision memory: {bytes} bytes for {N} accounts = {} bytes per supervised account",
        bytes / N
    );
    drop(s);

    let mut g = c.benchmark_group("supervision");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("configure_1m", |b| b.iter(|| supervised(&accounts)));
    g.bench_function("heartbeat_1m", |b| {
        b.iter_batched(
            || supervised(&accounts),
            |mut s| {
                for a in &accounts {
                    s.on_events(a, &[], T0 + 3600);
                }
                s
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("tick_through_interval_1m", |b| {
        b.iter_batched(
            || {
                let mut s = supervised(&accounts);
                for a in &accounts {
                    s.on_events(a, &[], T0 + 3599);
                }
                s
            },
            |mut s| {
                // One tick per second for an hour: nobody is silent, nothing opens.
                for t in T0 + 3600..T0 + 7200 {
                    assert!(s.tick(t).is_empty());
                }
                s
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn wheel_expire(c: &mut Criterion) {
    let mut g = c.benchmark_group("wheel");
    const N: u64 = 1_000_000;
    g.throughput(Throughput::Elements(N));
    g.sample_size(10);
    // A million timers spread over an hour, then the clock runs through the hour: all fire.
    g.bench_function("expire_1m", |b| {
        b.iter_batched(
            || {
                let mut w = Wheel::new(0);
                for i in 0..N {
                    w.insert(1 + i % 3600, i);
                }
                w
            },
            |mut w| {
                let mut fired = 0;
                for t in 1..=3600 {
                    fired += w.advance(t).len();
                }
                assert_eq!(fired as u64, N);
                w
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// Resident memory of this process (bytes), from `/proc/self/statm`: what the shard really
/// costs, allocator overhead and slack included.
fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

criterion_group!(
    benches,
    supervision,
    wheel,
    wheel_expire,
    shard,
    shard_events
);
criterion_main!(benches);
