//! Every rule of the core in virtual time: exact escalation instants, claim races, repeat calls,
//! runaway devices, restores, emergency staffing, and random interleavings.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use proptest::prelude::*;
use vagt_core::{
    Actor, AlarmId, ChangeKind, Classification, CommandError, Deadline, Policy, Role,
    SUPERVISION_LOST, Shard, State,
};
use vagt_proto::Event;

/// 2024-05-01 00:00:00 UTC.
const MIDNIGHT_UTC: u64 = 1_714_521_600;
/// Local (UTC+1) clock time `h:m` on that day, as Unix seconds.
fn local(h: u64, m: u64) -> u64 {
    MIDNIGHT_UTC + h * 3600 + m * 60 - 3600
}

fn event(code: &str, priority: Option<u8>, restore: bool) -> Event {
    vagt_testkit::sia_event(code, priority, restore)
}

fn pendant() -> Event {
    event("QA", Some(1), false)
}

fn shard(now: u64) -> Shard {
    let emergency = Policy {
        claim_within_secs: [30, 60, 120, 300, 600],
        ..Policy::default()
    };
    Shard::new(0, 1, Policy::default(), emergency, now)
}

fn opened(changes: &[vagt_core::Change]) -> AlarmId {
    changes
        .iter()
        .find_map(|c| match c.kind {
            ChangeKind::Opened { alarm, .. } => Some(alarm),
            _ => None,
        })
        .expect("an alarm opened")
}

fn escalations(changes: &[vagt_core::Change]) -> Vec<(Deadline, u8)> {
    changes
        .iter()
        .filter_map(|c| match c.kind {
            ChangeKind::Escalated {
                deadline, level, ..
            } => Some((deadline, level)),
            _ => None,
        })
        .collect()
}

#[test]
fn unclaimed_alarm_escalates_at_the_exact_second_and_keeps_escalating() {
    let t0 = local(10, 0);
    let mut s = shard(t0);
    let id = opened(&s.on_events("1234", &[event("BA", Some(2), false)], t0));
    // Priority 2: claim within 120 s.
    assert!(s.tick(t0 + 119).is_empty());
    assert_eq!(escalations(&s.tick(t0 + 120)), [(Deadline::Claim, 1)]);
    assert_eq!(
        s.alarm(id).unwrap().priority,
        1,
        "escalation raises the priority"
    );
    // Now priority 1: the next step comes 60 s later.
    assert!(s.tick(t0 + 179).is_empty());
    assert_eq!(escalations(&s.tick(t0 + 180)), [(Deadline::Claim, 2)]);
}

#[test]
fn on_site_promise_is_30_minutes_by_day_and_60_by_night() {
    for (forward_at, promise) in [
        (local(10, 0), 30 * 60),
        (local(18, 0), 30 * 60),
        (local(2, 0), 60 * 60),
    ] {
        let mut s = shard(forward_at - 100);
        let id = opened(&s.on_events("1234", &[pendant()], forward_at - 100));
        let op = Actor::operator("ole");
        let nurse = Actor {
            name: "team-nord".into(),
            role: Role::Responder,
        };
        s.claim(id, &op, forward_at - 50).unwrap();
        s.forward(id, &op, "team-nord", forward_at).unwrap();
        s.accept(id, &nurse, forward_at + 60).unwrap();
        assert!(
            s.tick(forward_at + promise - 1).is_empty(),
            "forwarded at {forward_at}"
        );
        assert_eq!(
            escalations(&s.tick(forward_at + promise)),
            [(Deadline::OnSite, 1)]
        );
        s.arrive(id, &nurse, forward_at + promise + 5).unwrap();
        s.close(
            id,
            &nurse,
            Classification::Emergency,
            forward_at + promise + 600,
        )
        .unwrap();
        assert_eq!(s.alarm(id).unwrap().state, State::Closed);
        assert_eq!(s.pending_timers(), 0);
    }
}

#[test]
fn two_claimers_one_winner_and_the_loser_learns_who() {
    let t0 = local(9, 0);
    let mut s = shard(t0);
    let id = opened(&s.on_events("1234", &[pendant()], t0));
    let (ole, mette) = (Actor::operator("ole"), Actor::operator("mette"));
    assert!(s.claim(id, &ole, t0 + 5).is_ok());
    assert_eq!(
        s.claim(id, &mette, t0 + 5),
        Err(CommandError::AlreadyClaimed { by: "ole".into() })
    );
    assert_eq!(
        s.forward(id, &mette, "x", t0 + 6),
        Err(CommandError::NotOwner {
            owner: "ole".into()
        })
    );
    // Released, the other may claim it.
    s.release(id, &ole, t0 + 10).unwrap();
    assert!(s.claim(id, &mette, t0 + 11).is_ok());
    assert_eq!(s.alarm(id).unwrap().owner.as_deref(), Some("mette"));
}

#[test]
fn repeat_calls_attach_to_the_open_alarm() {
    let t0 = local(9, 0);
    let mut s = shard(t0);
    let id = opened(&s.on_events("1234", &[pendant()], t0));
    let changes = s.on_events("1234", &[pendant(), pendant()], t0 + 30);
    assert!(
        changes
            .iter()
            .all(|c| matches!(c.kind, ChangeKind::Attached { alarm, .. } if alarm == id))
    );
    assert_eq!(s.alarm(id).unwrap().repeats, 2);
    assert_eq!(s.open_alarms().count(), 1);
    // After closing, the next call is a new alarm.
    let op = Actor::operator("ole");
    s.claim(id, &op, t0 + 40).unwrap();
    s.close(id, &op, Classification::RepeatCall, t0 + 50)
        .unwrap();
    assert_ne!(opened(&s.on_events("1234", &[pendant()], t0 + 60)), id);
}

#[test]
fn informational_events_open_nothing_and_unknown_codes_open_unclassified_alarms() {
    let t0 = local(9, 0);
    let mut s = shard(t0);
    assert!(
        s.on_events(
            "1234",
            &[event("RP", Some(5), false), event("CL", Some(4), false)],
            t0
        )
        .is_empty()
    );
    let id = opened(&s.on_events("1234", &[event("ZX", None, false)], t0));
    assert_eq!(s.alarm(id).unwrap().priority, 3);
}

#[test]
fn runaway_device_is_flagged_once_and_still_handled() {
    let t0 = local(9, 0);
    let mut s = shard(t0);
    let mut flags = 0;
    for i in 0..25 {
        flags += s
            .on_events("1234", &[pendant()], t0 + i * 60)
            .iter()
            .filter(|c| matches!(c.kind, ChangeKind::Runaway { .. }))
            .count();
    }
    assert_eq!(flags, 1, "more than 20 in an hour flags once");
    assert_eq!(s.open_alarm_of("1234").unwrap().repeats, 24);
}

#[test]
fn restore_cancels_only_an_unclaimed_alarm() {
    let t0 = local(9, 0);
    let mut s = shard(t0);
    let a = opened(&s.on_events("1111", &[event("BA", Some(2), false)], t0));
    s.on_events("1111", &[event("BH", Some(4), true)], t0 + 5);
    assert_eq!(s.alarm(a).unwrap().state, State::Cancelled);
    let b = opened(&s.on_events("2222", &[event("BA", Some(2), false)], t0));
    s.claim(b, &Actor::operator("ole"), t0 + 1).unwrap();
    s.on_events("2222", &[event("BH", Some(4), true)], t0 + 5);
    assert_eq!(s.alarm(b).unwrap().state, State::Claimed);
    assert_eq!(s.pending_timers(), 1);
}

#[test]
fn emergency_mode_switches_the_policy_and_is_attributed() {
    let t0 = local(9, 0);
    let mut s = shard(t0);
    let sup = Actor {
        name: "sara".into(),
        role: Role::Supervisor,
    };
    let changes = s.set_emergency_mode(true, &sup, t0);
    assert_eq!(changes[0].actor, sup);
    assert_eq!(changes[0].kind, ChangeKind::EmergencyMode(true));
    // Priority 1 claims within 30 s under the emergency policy (60 s normally).
    opened(&s.on_events("1234", &[pendant()], t0));
    assert_eq!(escalations(&s.tick(t0 + 30)), [(Deadline::Claim, 1)]);
}

#[test]
fn invalid_transitions_are_typed() {
    let t0 = local(9, 0);
    let mut s = shard(t0);
    let id = opened(&s.on_events("1234", &[pendant()], t0));
    let op = Actor::operator("ole");
    assert_eq!(
        s.accept(id, &op, t0),
        Err(CommandError::InvalidTransition {
            action: "accept",
            state: State::Queued
        })
    );
    assert_eq!(
        s.close(id, &op, Classification::FalseCall, t0),
        Err(CommandError::InvalidTransition {
            action: "close",
            state: State::Queued
        })
    );
    assert_eq!(
        s.claim(AlarmId(999), &op, t0),
        Err(CommandError::NotFound(AlarmId(999)))
    );
}

#[test]
fn silent_device_raises_supervision_lost_at_interval_plus_grace_and_a_frame_restores_it() {
    let t0 = local(9, 0);
    let mut s = shard(t0);
    s.supervise("1234", 3600, t0);
    // Heard at t0 + 1000 (a NULL poll: no events): the clock restarts.
    assert!(s.on_events("1234", &[], t0 + 1_000).is_empty());
    assert!(s.tick(t0 + 1_000 + 3_600 + 59).is_empty(), "grace is 60 s");
    let lost = s.tick(t0 + 1_000 + 3_660);
    assert!(
        lost.iter()
            .any(|c| c.kind == ChangeKind::SupervisionLost("1234".into()))
    );
    let id = opened(&lost);
    assert_eq!(s.alarm(id).unwrap().code, SUPERVISION_LOST);
    // Still silent an interval later: reported again, but no second alarm.
    let again = s.tick(t0 + 1_000 + 3_660 + 3_600);
    assert!(
        again
            .iter()
            .any(|c| matches!(c.kind, ChangeKind::SupervisionLost(_)))
    );
    assert_eq!(s.open_alarms().filter(|a| a.account == "1234").count(), 1);
    // The next frame restores it: the unclaimed supervision alarm is cleared.
    let back = s.on_events("1234", &[], t0 + 9_000);
    assert_eq!(back[0].kind, ChangeKind::SupervisionRestored(id));
    assert_eq!(s.alarm(id).unwrap().state, State::Cancelled);
    assert_eq!(s.pending_timers(), 1, "only the supervision clock is left");
}

#[test]
fn a_claimed_supervision_alarm_is_left_to_its_operator_when_the_device_returns() {
    let t0 = local(9, 0);
    let mut s = shard(t0);
    s.supervise("1234", 600, t0);
    let id = opened(&s.tick(t0 + 660));
    s.claim(id, &Actor::operator("ole"), t0 + 700).unwrap();
    let back = s.on_events("1234", &[], t0 + 800);
    assert!(matches!(&back[0].kind, ChangeKind::Noted(a, _) if *a == id));
    assert_eq!(s.alarm(id).unwrap().state, State::Claimed);
}

#[derive(Clone, Debug)]
enum Op {
    Event(u8, bool),
    Null(u8),
    Claim(u8, u8),
    Release(u8, u8),
    Forward(u8, u8),
    Accept(u8),
    Arrive(u8),
    Close(u8, u8),
    Tick(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..4, any::<bool>()).prop_map(|(a, r)| Op::Event(a, r)),
        (0u8..4).prop_map(Op::Null),
        (0u8..8, 0u8..2).prop_map(|(i, o)| Op::Claim(i, o)),
        (0u8..8, 0u8..2).prop_map(|(i, o)| Op::Release(i, o)),
        (0u8..8, 0u8..2).prop_map(|(i, o)| Op::Forward(i, o)),
        (0u8..8).prop_map(Op::Accept),
        (0u8..8).prop_map(Op::Arrive),
        (0u8..8, 0u8..2).prop_map(|(i, o)| Op::Close(i, o)),
        (1u16..4000).prop_map(Op::Tick),
    ]
}

proptest! {
    #[test]
    fn no_two_owners_no_lost_alarm_no_open_alarm_without_a_timer(ops in proptest::collection::vec(op(), 1..200)) {
        let mut now = local(12, 0);
        let mut s = shard(now);
        let ops_actors = [Actor::operator("ole"), Actor::operator("mette")];
        let nurse = Actor { name: "team".into(), role: Role::Responder };
        let mut ids: Vec<AlarmId> = Vec::new();
        // Two of the four devices are supervised (10 min).
        s.supervise("A0", 600, now);
        s.supervise("A1", 600, now);
        let track = |changes: Vec<vagt_core::Change>, ids: &mut Vec<AlarmId>| {
            for c in changes {
                if let ChangeKind::Opened { alarm, .. } = c.kind { ids.push(alarm); }
            }
        };
        for op in ops {
            now += 1;
            let pick = |i: u8| ids.get(usize::from(i) % ids.len().max(1)).copied().unwrap_or(AlarmId(0));
            match op {
                Op::Event(a, restore) => {
                    let e = if restore { event("BH", Some(4), true) } else { pendant() };
                    track(s.on_events(&format!("A{a}"), &[e], now), &mut ids);
                }
                Op::Null(a) => track(s.on_events(&format!("A{a}"), &[], now), &mut ids),
                Op::Claim(i, o) => {
                    let id = pick(i);
                    let before = s.alarm(id).and_then(|a| a.owner.clone());
                    if let Err(CommandError::AlreadyClaimed { by }) = s.claim(id, &ops_actors[usize::from(o)], now) {
                        prop_assert_eq!(Some(by), before, "the loser learns the real owner");
                    }
                }
                Op::Release(i, o) => { let _ = s.release(pick(i), &ops_actors[usize::from(o)], now); }
                Op::Forward(i, o) => { let _ = s.forward(pick(i), &ops_actors[usize::from(o)], "team", now); }
                Op::Accept(i) => { let _ = s.accept(pick(i), &nurse, now); }
                Op::Arrive(i) => { let _ = s.arrive(pick(i), &nurse, now); }
                Op::Close(i, o) => {
                    let actor = if o == 0 { &ops_actors[0] } else { &nurse };
                    let _ = s.close(pick(i), actor, Classification::FalseCall, now);
                }
                Op::Tick(d) => { now += u64::from(d); track(s.tick(now), &mut ids); }
            }
            // Invariants after every step.
            let open: Vec<_> = s.open_alarms().collect();
            prop_assert_eq!(
                s.pending_timers(),
                open.len() + s.supervised_accounts(),
                "exactly one pending deadline per open alarm, one clock per supervised device"
            );
            for a in &open {
                prop_assert!(a.deadline().is_some(), "open alarm {} has no deadline", a.id);
                match a.state {
                    State::Claimed => prop_assert!(a.owner.is_some()),
                    State::Queued => prop_assert!(a.owner.is_none()),
                    _ => {}
                }
                prop_assert_eq!(s.open_alarm_of(&a.account).map(|x| x.id), Some(a.id), "one open alarm per account");
            }
            // No alarm is lost: every id ever opened is still known.
            for id in &ids {
                prop_assert!(s.alarm(*id).is_some());
            }
        }
    }
}
