//! Arbitrary bytes as ADM-CID data and as a DTMF string: no panic, and every DTMF message that
//! parses encodes back to a string that parses to the same message.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vagt_cid::{DtmfMessage, parse_adm_cid};

fuzz_target!(|data: &[u8]| {
    let _ = parse_adm_cid(data);
    let text = String::from_utf8_lossy(data);
    if let Ok(m) = DtmfMessage::parse(&text) {
        let encoded = m.encode().expect("a parsed message encodes");
        assert_eq!(DtmfMessage::parse(&encoded).expect("re-parses"), m);
    }
});
