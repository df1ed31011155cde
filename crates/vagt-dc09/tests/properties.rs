//! Property tests: encode → decode round trips, and no panic on arbitrary input.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use rand::SeedableRng;
use vagt_dc09::{
    AccountKey, Content, Decoded, Frame, FrameDecoder, Header, HexField, Key, Policy, Response,
    Sequence, Timestamp, Token, Tolerance, XData, encode_frame, respond,
};

fn hex_field(min: usize, max: usize) -> impl Strategy<Value = HexField> {
    proptest::string::string_regex(&format!("[0-9A-F]{{{min},{max}}}"))
        .unwrap()
        .prop_map(move |s| HexField::new(&s, min, max).unwrap())
}

fn header() -> impl Strategy<Value = Header> {
    (
        prop_oneof![Just(Token::SiaDcs), Just(Token::AdmCid), Just(Token::Null)],
        0u16..=9999,
        proptest::option::of(hex_field(1, 6)),
        hex_field(1, 6),
        hex_field(3, 16),
    )
        .prop_map(|(token, seq, receiver, line, account)| Header {
            token,
            encrypted: false,
            sequence: Sequence::new(seq).unwrap(),
            receiver,
            line: Some(line),
            account: Some(account),
        })
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    // 2000-01-01 … 2099-12-31.
    (946_684_800i64..4_102_444_799).prop_map(|s| Timestamp::from_unix(s).unwrap())
}

fn content(with_ts: bool) -> impl Strategy<Value = Content> {
    // Data and x-data values: printable, without the bytes DC-09 reserves (`[`, `]`, CR, LF).
    let data = proptest::string::string_regex("[ -Z\\\\^-~]{0,60}").unwrap();
    let xdata = proptest::collection::vec(
        (
            b'A'..=b'Z',
            proptest::string::string_regex("[ -Z\\\\^-~]{0,20}").unwrap(),
        ),
        0..3,
    );
    let ts = if with_ts {
        timestamp().prop_map(Some).boxed()
    } else {
        proptest::option::of(timestamp()).boxed()
    };
    (data, xdata, ts).prop_map(|(data, xdata, timestamp)| Content {
        data: Bytes::from(data),
        xdata: xdata
            .into_iter()
            .map(|(id, v)| XData {
                id,
                value: Bytes::from(v),
            })
            .collect(),
        timestamp,
    })
}

fn key() -> impl Strategy<Value = Key> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 16),
        proptest::collection::vec(any::<u8>(), 24),
        proptest::collection::vec(any::<u8>(), 32),
    ]
    .prop_map(|bytes| Key::from_bytes(&bytes).unwrap())
}

fn decode_one(wire: &[u8]) -> Frame {
    let mut buf = BytesMut::from(wire);
    let raw = FrameDecoder::default().decode(&mut buf).unwrap().unwrap();
    assert!(buf.is_empty());
    Frame::parse(&raw, &Tolerance::default()).unwrap()
}

proptest! {
    #[test]
    fn clear_frames_round_trip(h in header(), c in content(false), seed in any::<u64>()) {
        // A pipe-free data block would be mistaken for pad on decryption only; clear is exact.
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let wire = encode_frame(&h, &c, None, &mut rng).unwrap();
        let frame = decode_one(&wire);
        prop_assert_eq!(&frame.header, &h);
        let now = c.timestamp.unwrap_or_else(|| Timestamp::from_unix(1_714_564_800).unwrap());
        let m = frame.open(AccountKey::Clear, &Policy::default(), now).unwrap();
        prop_assert_eq!(m.content, c);
    }

    #[test]
    fn encrypted_frames_round_trip(mut h in header(), c in content(true), k in key(), seed in any::<u64>()) {
        h.encrypted = true;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let wire = encode_frame(&h, &c, Some(&k), &mut rng).unwrap();
        let frame = decode_one(&wire);
        prop_assert_eq!(&frame.header, &h);
        let now = c.timestamp.unwrap();
        let m = frame.open(AccountKey::Encrypted(&k), &Policy::default(), now).unwrap();
        prop_assert_eq!(&m.content, &c);
        // The answer is a *ACK under the same key, carrying our time.
        let resp = respond(&Decoded::Accepted(m));
        prop_assert_eq!(resp.class(), "*ACK");
        let ack = resp.encode(now, &mut rng).unwrap().unwrap();
        let (ack_content, _) = decode_one(&ack).decrypt(&k).unwrap();
        prop_assert_eq!(ack_content.timestamp, Some(now));
    }

    #[test]
    fn decoder_never_panics(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8)) {
        let dec = FrameDecoder::new(256).tolerate_decimal_length(true);
        let now = Timestamp::from_unix(1_714_564_800).unwrap();
        let key = Key::parse("0123456789ABCDEF").unwrap();
        let mut buf = BytesMut::new();
        for chunk in chunks {
            buf.extend_from_slice(&chunk);
            for _ in 0..64 {
                match dec.decode(&mut buf) {
                    Ok(None) => break,
                    Ok(Some(raw)) => {
                        for k in [AccountKey::Clear, AccountKey::Encrypted(&key), AccountKey::Unknown] {
                            let d = vagt_dc09::decode(&raw, &Tolerance::default(), &Policy::default(), now, |_| k);
                            let _ = respond(&d).encode(now, &mut rand::rngs::StdRng::seed_from_u64(1));
                        }
                    }
                    Err(_) => {}
                }
            }
        }
    }

    #[test]
    fn a_changed_byte_is_never_acknowledged(pos in 0usize..32, byte in any::<u8>()) {
        // One changed body byte breaks the CRC (CRC-16 detects every single-byte error), so the
        // frame is never acknowledged: the sender retransmits the original.
        let mut wire = b"\n8D570020\"SIA-DCS\"0001L0#1234[#1234|NBA5]\r".to_vec();
        let at = 9 + pos;
        prop_assume!(wire[at] != byte);
        wire[at] = byte;
        let mut buf = BytesMut::from(&wire[..]);
        let now = Timestamp::from_unix(1_714_564_800).unwrap();
        let dec = FrameDecoder::default();
        loop {
            match dec.decode(&mut buf) {
                Ok(None) => break,
                Err(_) => {}
                Ok(Some(raw)) => {
                    let d = vagt_dc09::decode(&raw, &Tolerance::default(), &Policy::default(), now, |_| AccountKey::Clear);
                    let acked = matches!(respond(&d), Response::Ack { .. });
                    prop_assert!(!acked, "acknowledged a corrupted frame");
                }
            }
        }
    }
}
