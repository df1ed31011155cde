//! Round trip: every frame that opens (clear, or encrypted under the fixed key) re-encodes to a
//! frame that decodes and opens to the same header and content.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use vagt_dc09::{
    AccountKey, Decoded, Frame, FrameDecoder, Key, Policy, Timestamp, Tolerance, encode_frame,
};

fuzz_target!(|data: &[u8]| {
    let (Ok(key), Some(now)) = (
        Key::from_bytes(b"0123456789ABCDEF"),
        Timestamp::from_unix(1_714_564_800),
    ) else {
        return;
    };
    let tolerance = Tolerance::default();
    let policy = Policy {
        window: vagt_dc09::Window {
            max_age_secs: u32::MAX,
            max_ahead_secs: u32::MAX,
        },
        ..Policy::default()
    };
    let decoder = FrameDecoder::default();
    let mut buf = BytesMut::from(data);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    loop {
        let raw = match decoder.decode(&mut buf) {
            Ok(None) => break,
            Err(_) => continue,
            Ok(Some(raw)) => raw,
        };
        let Decoded::Accepted(first) = vagt_dc09::decode(&raw, &tolerance, &policy, now, |f| {
            if f.header.encrypted {
                AccountKey::Encrypted(&key)
            } else {
                AccountKey::Clear
            }
        }) else {
            continue;
        };
        // Re-encode what was understood. A header without `#acct` only parses with the data's
        // account, which the content still carries.
        let wire = encode_frame(&first.header, &first.content, first.key.as_ref(), &mut rng)
            .expect("an accepted frame re-encodes");
        let again = decoder
            .decode(&mut BytesMut::from(&wire[..]))
            .expect("frames")
            .expect("whole");
        let frame = Frame::parse(&again, &tolerance).expect("re-encoded frame parses");
        let second = frame
            .open(
                first
                    .key
                    .as_ref()
                    .map_or(AccountKey::Clear, AccountKey::Encrypted),
                &policy,
                now,
            )
            .expect("re-encoded frame opens");
        assert_eq!(second.header, first.header);
        assert_eq!(second.content, first.content);
    }
});
