//! Arbitrary bytes, fed in arbitrary chunks, through framing, parsing, opening (clear, keyed and
//! unknown accounts), payload parsing and response encoding: nothing may panic.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use vagt_dc09::{AccountKey, FrameDecoder, Key, Timestamp};
use vagt_proto::{Settings, process};

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let key = Key::from_bytes(b"0123456789ABCDEF").ok();
    let now = Timestamp::from_unix(1_714_564_800);
    let (Some(key), Some(now)) = (key, now) else {
        return;
    };
    let decoder = FrameDecoder::new(1024).tolerate_decimal_length(split & 1 == 1);
    let mut rng = rand::rngs::StdRng::seed_from_u64(u64::from(split));
    let mut buf = BytesMut::new();
    let step = usize::from(split).max(1);
    for chunk in rest.chunks(step) {
        buf.extend_from_slice(chunk);
        // Every error consumes at least one byte, so this loop always ends.
        loop {
            match decoder.decode(&mut buf) {
                Ok(None) => break,
                Err(_) => {}
                Ok(Some(raw)) => {
                    for lookup in [
                        AccountKey::Clear,
                        AccountKey::Encrypted(&key),
                        AccountKey::Unknown,
                    ] {
                        let p = process(&raw, &Settings::default(), now, |_| lookup);
                        let _ = p.response.encode(now, &mut rng);
                    }
                }
            }
        }
    }
});
