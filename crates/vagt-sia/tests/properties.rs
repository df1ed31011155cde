//! Property tests: generated DC-03 event blocks parse back to the events they were built from,
//! and arbitrary bytes never panic the parser.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use proptest::prelude::*;

/// (modifiers, code, address) for one event packet.
fn packet() -> impl Strategy<Value = (Vec<(String, String)>, String, Option<String>)> {
    let modifier = (
        prop_oneof![Just("ri"), Just("id"), Just("ti"), Just("pi")],
        "[0-9]{1,3}",
    )
        .prop_map(|(n, v)| (n.to_owned(), v));
    (
        proptest::collection::vec(modifier, 0..3),
        "[A-Z]{2}",
        proptest::option::of("[0-9]{1,4}"),
    )
}

proptest! {
    #[test]
    fn generated_blocks_parse_back(acct in "[0-9A-F]{3,16}", packets in proptest::collection::vec(packet(), 1..5), slashes in any::<bool>()) {
        let mut data = format!("#{acct}|N");
        for (mods, code, addr) in &packets {
            for (name, value) in mods {
                data.push_str(name);
                data.push_str(value);
                if slashes { data.push('/'); }
            }
            data.push_str(code);
            data.push_str(addr.as_deref().unwrap_or(""));
            data.push('/');
        }
        let parsed = vagt_sia::parse(data.as_bytes()).unwrap();
        prop_assert_eq!(parsed.account.as_deref(), Some(acct.as_str()));
        prop_assert_eq!(parsed.events.len(), packets.len());
        let mut in_force: Vec<(String, String)> = Vec::new();
        for (ev, (mods, code, addr)) in parsed.events.iter().zip(&packets) {
            for m in mods {
                in_force.retain(|(n, _)| n != &m.0);
                in_force.push(m.clone());
            }
            prop_assert_eq!(&ev.code, code);
            prop_assert_eq!(ev.address.as_deref(), addr.as_deref());
            for (name, value) in &in_force {
                let key: [u8; 2] = name.as_bytes().try_into().unwrap();
                prop_assert_eq!(ev.modifier(&key), Some(value.as_str()));
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = vagt_sia::parse(&bytes);
    }

    #[test]
    fn sia_like_text_never_panics(text in "[#|NOAri0-9A-Z/^*\":.-]{0,80}") {
        let _ = vagt_sia::parse(text.as_bytes());
    }
}
