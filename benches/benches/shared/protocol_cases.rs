//! The receive path's cases, shared by the `protocol` bench (time) and `protocol_count`
//! (instructions, under callgrind).

use bytes::{Bytes, BytesMut};
use rand::SeedableRng;
use rand::rngs::StdRng;
use vagt_dc09::{
    AccountKey, Content, FrameDecoder, Header, HexField, Key, Sequence, Timestamp, Token,
    encode_frame,
};
use vagt_proto::{Settings, process};

/// Frames per burst.
pub(crate) const BURST: usize = 1_000;

/// The receiver's clock: 12:00:00 on 1 May 2024 (`12:00:00,05-01-2024` on the wire).
const NOW_UNIX: i64 = 1_714_564_800;

/// The receiver's clock, made from seconds once per frame as the gateway makes it
/// (`vagt_records::time::clock`).
pub(crate) fn now() -> Timestamp {
    Timestamp::from_unix(NOW_UNIX).unwrap()
}

/// `BURST` frames of one kind back to back, as a busy TCP stream would deliver them.
fn stream(token: Token, data: &[u8], key: Option<&Key>) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(1);
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

/// One case: its name, a burst of its frames and the account's key.
pub(crate) struct Case {
    /// Name.
    pub(crate) name: &'static str,
    /// `BURST` frames.
    pub(crate) bytes: Vec<u8>,
    /// The key, for encrypted frames.
    pub(crate) key: Option<Key>,
}

/// Every case.
pub(crate) fn cases() -> Vec<Case> {
    let aes128 = Key::parse("0123456789ABCDEF").unwrap();
    let aes256 = Key::parse("text:0123456789ABCDEF0123456789ABCDEF").unwrap();
    let sia = b"#1234|Nri1/BA5";
    vec![
        Case {
            name: "sia_dcs_clear",
            bytes: stream(Token::SiaDcs, sia, None),
            key: None,
        },
        Case {
            name: "adm_cid_clear",
            bytes: stream(Token::AdmCid, b"#1234|1101 00 002", None),
            key: None,
        },
        Case {
            name: "sia_dcs_aes128",
            bytes: stream(Token::SiaDcs, sia, Some(&aes128)),
            key: Some(aes128),
        },
        Case {
            name: "sia_dcs_aes256",
            bytes: stream(Token::SiaDcs, sia, Some(&aes256)),
            key: Some(aes256),
        },
        Case {
            name: "null_clear",
            bytes: stream(Token::Null, b"", None),
            key: None,
        },
    ]
}

/// Decodes every frame of `buf` and encodes its answer, as the gateway does; returns the ACKs.
pub(crate) fn receive(buf: &mut BytesMut, key: Option<&Key>, rng: &mut StdRng) -> usize {
    let decoder = FrameDecoder::default();
    let settings = Settings::default();
    let mut acked = 0;
    while let Ok(Some(raw)) = decoder.decode(buf) {
        let now = now();
        let p = process(&raw, &settings, now, |_| match key {
            Some(k) => AccountKey::Encrypted(k),
            None => AccountKey::Clear,
        });
        let wire = p.response.encode(now, rng).unwrap();
        acked += usize::from(wire.is_some());
    }
    acked
}
