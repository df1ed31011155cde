//! The receive path per frame: framing + CRC, header, decryption, payload parse, response.
//!
//! Run: `cargo bench -p vagt-benches --bench protocol`. Throughput is in frames per second.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use vagt_dc09::{
    AccountKey, Content, FrameDecoder, Header, HexField, Key, Sequence, Timestamp, Token,
    encode_frame,
};
use vagt_proto::{Settings, process};

const BURST: usize = 1_000;

fn now() -> Timestamp {
    Timestamp::parse(b"12:00:00,05-01-2024").unwrap()
}

/// `BURST` frames of one kind back to back, as a busy TCP stream would deliver them.
fn stream(token: Token, data: &[u8], key: Option<&Key>) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut out = Vec::new();
    for i in 0..BURST {
        let header = Header {
            token: token.clone(),
            encrypted: key.is_some(),
            sequence: Sequence::new(u16::try_from(i % 9999).unwrap() + 1).unwrap(),
            receiver: HexField::new("12", 1, 6),
            line: HexField::new("1", 1, 6),
            account: HexField::new("1234", 3, 16),
        };
        let content = Content {
            data: Bytes::copy_from_slice(data),
            xdata: Vec::new(),
            timestamp: Some(now()),
        };
        out.extend(encode_frame(&header, &content, key, &mut rng).unwrap());
    }
    out
}

fn receive_path(c: &mut Criterion) {
    let aes128 = Key::parse("0123456789ABCDEF").unwrap();
    let aes256 = Key::parse("text:0123456789ABCDEF0123456789ABCDEF").unwrap();
    let cases = [
        (
            "sia_dcs_clear",
            stream(Token::SiaDcs, b"#1234|Nri1/BA5", None),
            None,
        ),
        (
            "adm_cid_clear",
            stream(Token::AdmCid, b"#1234|1101 00 002", None),
            None,
        ),
        (
            "sia_dcs_aes128",
            stream(Token::SiaDcs, b"#1234|Nri1/BA5", Some(&aes128)),
            Some(&aes128),
        ),
        (
            "sia_dcs_aes256",
            stream(Token::SiaDcs, b"#1234|Nri1/BA5", Some(&aes256)),
            Some(&aes256),
        ),
        ("null_clear", stream(Token::Null, b"", None), None),
    ];
    let mut group = c.benchmark_group("receive_path");
    group.throughput(Throughput::Elements(BURST as u64));
    let decoder = FrameDecoder::default();
    let settings = Settings::default();
    for (name, bytes, key) in &cases {
        group.bench_function(*name, |b| {
            let mut rng = rand::rngs::StdRng::seed_from_u64(2);
            b.iter_batched(
                || BytesMut::from(&bytes[..]),
                |mut buf| {
                    let mut acked = 0;
                    while let Ok(Some(raw)) = decoder.decode(&mut buf) {
                        let p = process(&raw, &settings, now(), |_| match key {
                            Some(k) => AccountKey::Encrypted(k),
                            None => AccountKey::Clear,
                        });
                        let wire = p.response.encode(now(), &mut rng).unwrap();
                        acked += usize::from(wire.is_some());
                    }
                    assert_eq!(acked, BURST);
                },
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
