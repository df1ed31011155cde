//! Property tests: DTMF and ADM-CID round trips; arbitrary input never panics.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use proptest::prelude::*;
use vagt_cid::{CidEvent, DtmfMessage, Qualifier, parse_adm_cid};

/// Events with hex digits Contact ID can carry (no `A`).
fn event() -> impl Strategy<Value = CidEvent> {
    (
        prop_oneof![
            Just(Qualifier::New),
            Just(Qualifier::Restore),
            Just(Qualifier::Status)
        ],
        "[0-9B-F]{3}",
        "[0-9B-F]{2}",
        "[0-9B-F]{3}",
    )
        .prop_map(|(qualifier, code, group, zone_or_user)| CidEvent {
            qualifier,
            code: code.into(),
            group: group.into(),
            zone_or_user: zone_or_user.into(),
        })
}

proptest! {
    #[test]
    fn dtmf_round_trip(account in "[0-9B-F]{4}", mt in prop_oneof![Just("18"), Just("98")], event in event()) {
        let m = DtmfMessage { account, message_type: mt.to_owned(), event };
        let keys = m.encode().unwrap();
        prop_assert_eq!(keys.len(), 16);
        prop_assert_eq!(DtmfMessage::parse(&keys).unwrap(), m);
    }

    #[test]
    fn dtmf_single_key_change_is_detected(event in event(), pos in 0usize..16, key in prop_oneof![Just(b'1'), Just(b'5'), Just(b'9'), Just(b'*')]) {
        let m = DtmfMessage { account: "1234".into(), message_type: "18".into(), event };
        let mut keys = m.encode().unwrap().into_bytes();
        prop_assume!(keys[pos] != key);
        // Swapping one key for another of a different value changes the sum mod 15 unless the
        // values differ by 15, which no two keys do.
        keys[pos] = key;
        let changed = String::from_utf8(keys).unwrap();
        prop_assert!(DtmfMessage::parse(&changed).is_err());
    }

    #[test]
    fn adm_cid_round_trip(acct in proptest::option::of("[0-9A-F]{3,16}"), event in event()) {
        let data = match &acct {
            Some(a) => format!("#{a}|{event}"),
            None => event.to_string(),
        };
        let parsed = parse_adm_cid(data.as_bytes()).unwrap();
        prop_assert_eq!(parsed.account.as_deref(), acct.as_deref());
        prop_assert_eq!(parsed.event, event);
    }

    #[test]
    fn arbitrary_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40), text in "[0-9A-D*#]{0,20}") {
        let _ = parse_adm_cid(&bytes);
        let _ = DtmfMessage::parse(&text);
        let _ = DtmfMessage::parse(&String::from_utf8_lossy(&bytes));
    }
}
