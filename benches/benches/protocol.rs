//! The receive path per frame: framing + CRC, header, decryption, payload parse, response.
//!
//! Run: `cargo bench -p vagt-benches --bench protocol`. Throughput is in frames per second.
//! Instructions per frame, stable on a noisy machine: `benches/run-instructions.sh`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use bytes::BytesMut;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;

#[path = "shared/protocol_cases.rs"]
mod cases;
use cases::{BURST, cases, receive};

fn receive_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("receive_path");
    group.throughput(Throughput::Elements(BURST as u64));
    for case in cases() {
        group.bench_function(case.name, |b| {
            let mut rng = rand::rngs::StdRng::seed_from_u64(2);
            b.iter_batched(
                || BytesMut::from(&case.bytes[..]),
                |mut buf| assert_eq!(receive(&mut buf, case.key.as_ref(), &mut rng), BURST),
                BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

fn pieces(c: &mut Criterion) {
    let mut group = c.benchmark_group("pieces");
    let body = br#""SIA-DCS"0001L0#1234[#1234|Nri1/BA5]"#;
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("crc16_body", |b| {
        b.iter(|| vagt_dc09::crc16(std::hint::black_box(body)))
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("sia_parse_two_events", |b| {
        b.iter(|| vagt_sia::parse(std::hint::black_box(b"#1234|Nri1ti12:34:56/BA5/BA6")).unwrap())
    });
    group.bench_function("adm_cid_parse", |b| {
        b.iter(|| vagt_cid::parse_adm_cid(std::hint::black_box(b"#1234|1101 00 002")).unwrap())
    });
    group.bench_function("dtmf_parse", |b| {
        b.iter(|| vagt_cid::DtmfMessage::parse(std::hint::black_box("1234181131010158")).unwrap())
    });
    group.finish();
}

criterion_group!(benches, receive_path, pieces);
criterion_main!(benches);
