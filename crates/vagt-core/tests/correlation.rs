//! Correlation for every category of the code table (`event_codes.csv`, compiled into the SIA
//! and Contact ID crates): a repeat is the same kind and zone; every other alarm is its own; a
//! restore clears only what it restores.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use std::collections::BTreeMap;

use vagt_core::{Actor, AlarmId, ChangeKind, Policy, Shard, State, correlation};
use vagt_proto::{Event, Scheme};

const T0: u64 = 1_714_550_400;

/// One code of the table.
#[derive(Clone, Copy, Debug)]
struct Code {
    scheme: Scheme,
    code: &'static str,
    category: &'static str,
    priority: u8,
}

fn table() -> Vec<Code> {
    let sia = vagt_sia::all().iter().map(|i| Code {
        scheme: Scheme::Sia,
        code: i.code,
        category: i.category,
        priority: i.priority,
    });
    let cid = vagt_cid::all().iter().map(|i| Code {
        scheme: Scheme::Cid,
        code: i.code,
        category: i.category,
        priority: i.priority,
    });
    sia.chain(cid).collect()
}

fn event(c: Code, zone: &str, restore: bool) -> Event {
    Event {
        scheme: c.scheme,
        code: c.code.to_owned(),
        qualifier: (c.scheme == Scheme::Cid).then_some(if restore { '3' } else { '1' }),
        zone: Some(zone.to_owned()),
        user: None,
        area: None,
        time: None,
        text: None,
        name: None,
        category: Some(c.category),
        priority: Some(c.priority),
        restore,
    }
}

/// Codes that open an alarm (priority 1–3, not a restore).
fn alarm_codes() -> Vec<Code> {
    table()
        .into_iter()
        .filter(|c| (1..=3).contains(&c.priority) && !c.category.contains("restor"))
        .collect()
}

/// One alarm code per kind.
fn one_per_kind() -> BTreeMap<String, Code> {
    let mut kinds = BTreeMap::new();
    for c in alarm_codes() {
        kinds
            .entry(correlation::kind(Some(c.category), c.code).into_owned())
            .or_insert(c);
    }
    kinds
}

fn shard() -> Shard {
    Shard::new(0, 1, Policy::default(), Policy::default(), T0)
}

fn opened(changes: &[vagt_core::Change]) -> Vec<AlarmId> {
    changes
        .iter()
        .filter_map(|c| match c.kind {
            ChangeKind::Opened { alarm, .. } => Some(alarm),
            _ => None,
        })
        .collect()
}

#[test]
fn the_same_call_again_is_a_repeat_another_zone_is_its_own_alarm() {
    let codes = alarm_codes();
    assert!(
        codes.len() > 150,
        "the table has the alarm codes: {}",
        codes.len()
    );
    for c in codes {
        let mut s = shard();
        let first = opened(&s.on_events("1234", &[event(c, "1", false)], T0));
        assert_eq!(first.len(), 1, "{c:?} opens an alarm");
        let again = s.on_events("1234", &[event(c, "1", false)], T0 + 10);
        assert!(opened(&again).is_empty(), "{c:?} again is a repeat");
        assert_eq!(s.alarm(first[0]).unwrap().repeats, 1, "{c:?}");
        let other_zone = opened(&s.on_events("1234", &[event(c, "2", false)], T0 + 20));
        assert_eq!(
            other_zone.len(),
            1,
            "{c:?} in another zone is its own alarm"
        );
        assert_eq!(s.open_alarms().count(), 2, "{c:?}");
    }
}

#[test]
fn an_alarm_of_another_kind_never_hides_in_an_open_one() {
    let kinds = one_per_kind();
    assert!(kinds.len() > 40, "kinds: {}", kinds.len());
    let fire = kinds["fire alarm"];
    for (kind, c) in &kinds {
        let mut s = shard();
        let first = opened(&s.on_events("1234", &[event(*c, "1", false)], T0))[0];
        let other = if kind == "fire alarm" {
            kinds["medical alarm"]
        } else {
            fire
        };
        let second = opened(&s.on_events("1234", &[event(other, "1", false)], T0 + 5));
        assert_eq!(
            second.len(),
            1,
            "{} while {kind} is open opens its own alarm",
            other.code
        );
        let a = s.alarm(second[0]).unwrap();
        assert_eq!(a.code, other.code, "the new row has the new event's name");
        assert_eq!(
            a.priority, other.priority,
            "and its priority (and so its deadlines)"
        );
        let b = s.alarm(first).unwrap();
        assert_eq!(
            (b.code.as_str(), b.repeats),
            (c.code, 0),
            "{kind} untouched"
        );
    }
}

#[test]
fn a_restore_clears_only_the_unclaimed_alarms_it_restores() {
    let kinds = one_per_kind();
    let restores: Vec<(Code, Event)> = table()
        .into_iter()
        .filter(|c| c.category.contains("restor"))
        .map(|c| (c, event(c, "1", true)))
        .chain(
            table()
                .into_iter()
                .filter(|c| c.scheme == Scheme::Cid && (1..=3).contains(&c.priority))
                .map(|c| (c, event(c, "1", true))),
        )
        .collect();
    assert!(restores.len() > 100, "restores: {}", restores.len());
    let mut cancelled_some = 0;
    for (c, restore) in restores {
        let mut s = shard();
        let mut ids = BTreeMap::new();
        for (kind, code) in &kinds {
            ids.insert(
                kind.clone(),
                opened(&s.on_events("1234", &[event(*code, "1", false)], T0))[0],
            );
        }
        let what = correlation::kind(Some(c.category), c.code).into_owned();
        s.on_events("1234", &[restore], T0 + 5);
        for (kind, id) in &ids {
            let state = s.alarm(*id).unwrap().state;
            let expected = if *kind == what {
                State::Cancelled
            } else {
                State::Queued
            };
            assert_eq!(
                state, expected,
                "restore {} ({}) on {kind}",
                c.code, c.category
            );
        }
        cancelled_some += usize::from(ids.contains_key(&what));
    }
    assert!(
        cancelled_some > 50,
        "restores that matched an alarm: {cancelled_some}"
    );
}

#[test]
fn a_restore_in_another_zone_or_of_a_claimed_alarm_clears_nothing() {
    let kinds = one_per_kind();
    let burglary = kinds["burglary alarm"];
    let br = table().into_iter().find(|c| c.code == "BR").unwrap();
    let mut s = shard();
    let zone1 = opened(&s.on_events("1234", &[event(burglary, "1", false)], T0))[0];
    let zone2 = opened(&s.on_events("1234", &[event(burglary, "2", false)], T0))[0];
    s.on_events("1234", &[event(br, "2", true)], T0 + 5);
    assert_eq!(s.alarm(zone1).unwrap().state, State::Queued);
    assert_eq!(s.alarm(zone2).unwrap().state, State::Cancelled);
    s.claim(zone1, &Actor::operator("ole"), T0 + 6).unwrap();
    s.on_events("1234", &[event(br, "1", true)], T0 + 7);
    assert_eq!(
        s.alarm(zone1).unwrap().state,
        State::Claimed,
        "a claimed alarm stays"
    );
}

#[test]
fn the_correlation_survives_a_snapshot() {
    let kinds = one_per_kind();
    let mut s = shard();
    let fire = opened(&s.on_events("1234", &[event(kinds["fire alarm"], "1", false)], T0))[0];
    let medical = opened(&s.on_events("1234", &[event(kinds["medical alarm"], "1", false)], T0))[0];
    let json = serde_json::to_string(&s.snapshot()).unwrap();
    let mut back = Shard::restore(
        serde_json::from_str(&json).unwrap(),
        Policy::default(),
        Policy::default(),
    );
    back.on_events("1234", &[event(kinds["medical alarm"], "1", false)], T0 + 5);
    assert_eq!(back.alarm(medical).unwrap().repeats, 1);
    assert_eq!(back.alarm(fire).unwrap().repeats, 0);
    assert_eq!(back.open_alarms().count(), 2);
}

#[test]
fn a_claim_by_call_takes_exactly_that_calls_alarm_and_one_operator_wins() {
    use vagt_core::{Classification, Command, CommandError};
    let kinds = one_per_kind();
    let mut codes = kinds.values().copied();
    let (c, other) = (codes.next().unwrap(), codes.next().unwrap());
    let kind = correlation::kind(Some(c.category), c.code).into_owned();
    let mut s = shard();
    // The same account with the call asked for, the same kind in another zone, another kind in
    // the same zone, and the same call on another account.
    let wanted = opened(&s.on_events("1234", &[event(c, "1", false)], T0))[0];
    let zone2 = opened(&s.on_events("1234", &[event(c, "2", false)], T0 + 1))[0];
    let other_kind = opened(&s.on_events("1234", &[event(other, "1", false)], T0 + 2))[0];
    let other_account = opened(&s.on_events("9999", &[event(c, "1", false)], T0 + 3))[0];
    let claim = Command::ClaimCall {
        account: "1234".into(),
        kind: kind.clone(),
        zone: Some("1".into()),
    };
    let ole = Actor::operator("ole");
    let changes = s.command(&ole, &claim, T0 + 4).unwrap();
    assert!(
        matches!(changes[..], [vagt_core::Change { kind: ChangeKind::Claimed { alarm }, .. }] if alarm == wanted),
        "{changes:?}"
    );
    assert_eq!(s.alarm(wanted).unwrap().owner.as_deref(), Some("ole"));
    for id in [zone2, other_kind, other_account] {
        assert_eq!(s.alarm(id).unwrap().state, State::Queued, "{id} untouched");
    }
    assert_eq!(
        s.command(&Actor::operator("ida"), &claim, T0 + 5),
        Err(CommandError::AlreadyClaimed { by: "ole".into() }),
        "the second claim of the same call loses and learns who has it"
    );
    let close = Command::Close {
        alarm: wanted,
        classification: Classification::FalseCall,
    };
    s.command(&ole, &close, T0 + 6).unwrap();
    assert_eq!(
        s.command(&ole, &claim, T0 + 7),
        Err(CommandError::NoOpenCall {
            account: "1234".into(),
            kind,
        }),
        "no open alarm of the call: refused, nothing else claimed"
    );
    assert_eq!(s.alarm(zone2).unwrap().state, State::Queued);
}
