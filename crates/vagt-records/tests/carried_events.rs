//! Every DC-09 vector the receiver accepts, journaled as the ACK path writes it: the events the
//! record carries are the events the frame held, and the same as decoding the stored body again
//! (what the core did before records carried them, and still does for records without them).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use bytes::BytesMut;
use vagt_dc09::{Decoded, Frame, FrameDecoder, Timestamp, UnknownAccount, Window};
use vagt_proto::Settings;
use vagt_records::{Accounts, DedupKey, FrameRecord, Input, Transport};
use vagt_testkit::{Vector, vectors};

/// The vector's accounts as an accounts file (keys as the receiver was configured).
fn accounts(v: &Vector) -> Accounts {
    let mut text = String::new();
    for a in &v.receiver_config.accounts {
        if Accounts::parse(&format!("[[accounts]]\naccount = {:?}\n", a.account_id)).is_err() {
            continue; // an account id the accounts file refuses: the frame stays unknown
        }
        text.push_str(&format!("[[accounts]]\naccount = {:?}\n", a.account_id));
        if let Some(k) = &a.key {
            text.push_str(&format!("key = \"text:{k}\"\n"));
        }
    }
    Accounts::parse(&text).unwrap()
}

/// Any time is inside the window: the frames were accepted once, the window is not the point.
fn settings() -> Settings {
    let mut s = Settings::default();
    s.policy.window = Window {
        max_age_secs: u32::MAX,
        max_ahead_secs: u32::MAX,
    };
    s.policy.unknown_account = UnknownAccount::Accept;
    s
}

#[test]
fn records_carry_the_events_of_every_accepted_vector() {
    let settings = settings();
    let now = Timestamp::from_unix(1_714_564_800).unwrap();
    let peer = "10.0.0.9:5000".parse().unwrap();
    let (mut checked, mut encrypted) = (0, 0);
    for v in vectors().iter().filter(|v| v.kind == "dc09_frame") {
        let accounts = accounts(v);
        let mut buf = BytesMut::from(&v.frame()[..]);
        while let Ok(Some(raw)) = FrameDecoder::default().decode(&mut buf) {
            let Ok(frame) = Frame::parse(&raw, &settings.tolerance) else {
                continue;
            };
            let p = vagt_proto::process_frame(&frame, &settings, now, accounts.key_for(&frame));
            let (Decoded::Accepted(m), Some(payload)) = (&p.decoded, &p.payload) else {
                continue;
            };
            let key = DedupKey::of(m);
            let record =
                FrameRecord::encode_message(m, Some(payload), &key, peer, Transport::Tcp, 7_000)
                    .unwrap();
            let view = FrameRecord::view(&record).unwrap().unwrap();
            let carried = view.events().expect("the record carries its events");
            assert_eq!(carried, payload.events(), "{}", v.name);
            let decoded_again =
                vagt_records::input::events_of(view.body, 7_000, &accounts, &settings);
            assert_eq!(carried, decoded_again, "{}", v.name);
            // What the core reads needs no key: after the account's key was changed (or the
            // account removed), a replay still finds the events of an encrypted frame.
            let Ok(Some(Input::Frame { events, .. })) =
                vagt_records::input::decode(&record, &Accounts::default(), &settings)
            else {
                panic!("{}: not a frame input", v.name)
            };
            assert_eq!(events, carried, "{}", v.name);
            encrypted += usize::from(m.header.encrypted && !events.is_empty());
            // The rest of the record is what it was without the events.
            let plain = FrameRecord::encode_message(m, None, &key, peer, Transport::Tcp, 7_000);
            let plain = FrameRecord::decode(&plain.unwrap()).unwrap();
            assert_eq!(FrameRecord::decode(&record).unwrap(), plain, "{}", v.name);
            checked += 1;
        }
    }
    // The vectors hold dozens of accepted frames (SIA, Contact ID, link tests, AES).
    assert!(checked >= 30, "only {checked} accepted vectors");
    assert!(
        encrypted >= 5,
        "only {encrypted} encrypted vectors with events"
    );
}
