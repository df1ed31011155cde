//! Every rule of the core in virtual time: exact escalation instants, claim races, repeat calls,
//! runaway devices, restores, emergency staffing, and random interleavings.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use proptest::prelude::*;
use vagt_core::{
    AccountSetup, Actor, AlarmId, Change, ChangeKind, Classification, Command, CommandError,
    Deadline, DoorGrant, Policy, Role, SUPERVISION_LOST, Shard, State,
};
use vagt_proto::Event;

/// 2024-05-01 00:00:00 UTC.
const MIDNIGHT_UTC: u64 = 1_714_521_600;
/// Copenhagen clock time `h:m` on that day (summer time, UTC+2), as Unix seconds.
fn local(h: u64, m: u64) -> u64 {
    MIDNIGHT_UTC + h * 3600 + m * 60 - 7200
}

fn event(code: &str, priority: Option<u8>, restore: bool) -> Event {
    vagt_testkit::sia_event(code, priority, restore)
}

fn pendant() -> Event {
    event("QA", Some(1), false)
}

fn emergency_policy() -> Policy {
    Policy {
        claim_within_secs: [30, 60, 120, 300, 600],
        ..Policy::default()
    }
}

fn shard(now: u64) -> Shard {
    Shard::new(0, 1, Policy::default(), emergency_policy(), now)
}

fn opened(changes: &[Change]) -> AlarmId {
    changes
        .iter()
        .find_map(|c| match c.kind {
            ChangeKind::Opened { alarm, .. } => Some(alarm),
            _ => None,
        })
        .expect("an alarm opened")
}

fn escalations(changes: &[Change]) -> Vec<(Deadline, u8)> {
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

/// 2024-01-15 05:30 UTC is 06:30 in Copenhagen (winter time, UTC+1): still night.
const JANUARY_0530_UTC: u64 = 1_705_296_600;
/// 2024-07-15 05:30 UTC is 07:30 in Copenhagen (summer time, UTC+2): already day.
const JULY_0530_UTC: u64 = 1_721_021_400;

/// The visit promised for an alarm forwarded at `at`, seen as the on-site escalation instant.
fn on_site_deadline(policy: Policy, at: u64) -> u64 {
    let mut s = Shard::new(0, 1, policy, Policy::default(), at - 100);
    let id = opened(&s.on_events("1234", &[pendant()], at - 100));
    let op = Actor::operator("ole");
    let nurse = Actor {
        name: "team-nord".into(),
        role: Role::Responder,
    };
    s.claim(id, &op, at - 50).unwrap();
    s.forward(id, &op, "team-nord", at).unwrap();
    s.accept(id, &nurse, at + 60).unwrap();
    (at + 61..at + 2 * 3600)
        .find(|&t| !escalations(&s.tick(t)).is_empty())
        .unwrap()
}

#[test]
fn shifts_follow_the_local_clock_through_summer_time() {
    let p = Policy::default();
    assert_eq!(p.time_zone.name(), "Europe/Copenhagen");
    // The same UTC time of day is night in January and day in July.
    assert_eq!(p.shift_at(JANUARY_0530_UTC), vagt_core::Shift::Night);
    assert_eq!(p.shift_at(JULY_0530_UTC), vagt_core::Shift::Day);
    assert_eq!(
        on_site_deadline(p.clone(), JANUARY_0530_UTC),
        JANUARY_0530_UTC + 3600
    );
    assert_eq!(
        on_site_deadline(p.clone(), JULY_0530_UTC),
        JULY_0530_UTC + 1800
    );
    // Boundaries are local hours, and configurable.
    assert_eq!(p.shift_at(local(6, 59)), vagt_core::Shift::Night);
    assert_eq!(p.shift_at(local(7, 0)), vagt_core::Shift::Day);
    assert_eq!(p.shift_at(local(15, 0)), vagt_core::Shift::Evening);
    assert_eq!(p.shift_at(local(23, 0)), vagt_core::Shift::Night);
    let late = Policy {
        shift_starts: [8, 16, 22],
        ..Policy::default()
    };
    assert_eq!(late.shift_at(local(7, 30)), vagt_core::Shift::Night);
    assert_eq!(late.shift_at(local(22, 0)), vagt_core::Shift::Night);
    // Another zone: UTC.
    let utc = Policy {
        time_zone: vagt_core::Zone::named("UTC").unwrap(),
        ..Policy::default()
    };
    assert_eq!(utc.shift_at(JULY_0530_UTC), vagt_core::Shift::Night);
    assert!(vagt_core::Zone::named("Europe/Nowhere").is_err());
}

#[test]
fn the_claim_deadline_depends_on_the_shift_the_alarm_waits_in() {
    let policy = Policy {
        claim_within_secs: [60, 120, 300, 900, 1800],
        claim_within_secs_night: Some([30, 60, 120, 300, 600]),
        ..Policy::default()
    };
    for (at, within) in [(local(12, 0), 60), (local(19, 0), 60), (local(3, 0), 30)] {
        let mut s = Shard::new(0, 1, policy.clone(), Policy::default(), at);
        s.on_events("1234", &[pendant()], at);
        assert!(s.tick(at + within - 1).is_empty(), "opened at {at}");
        assert_eq!(
            escalations(&s.tick(at + within)),
            [(Deadline::Claim, 1)],
            "opened at {at}"
        );
    }
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
fn a_flooding_device_costs_bounded_state_and_is_flagged_again_after_a_quiet_hour() {
    let t0 = local(9, 0);
    let mut s = shard(t0);
    let runaways = |changes: &[Change]| {
        changes
            .iter()
            .filter(|c| matches!(c.kind, ChangeKind::Runaway { .. }))
            .count()
    };
    let mut flags = 0;
    for i in 0..10_000u64 {
        flags += runaways(&s.on_events("1234", &[pendant()], t0 + i / 100));
    }
    assert_eq!(flags, 1);
    // The shard keeps the newest 21 event times of the account, not 10 000.
    let recent = s.snapshot().recent;
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].1.len(), 21, "{:?}", recent[0].1.len());
    // An hour later a new burst is flagged again.
    let later = t0 + 100 + 3_600;
    let again: usize = (0..25u64)
        .map(|i| runaways(&s.on_events("1234", &[pendant()], later + i)))
        .sum();
    assert_eq!(again, 1);
}

#[test]
fn an_alarm_carries_the_code_tables_name_for_the_operator() {
    let t0 = local(9, 0);
    let mut s = shard(t0);
    let named = Event {
        name: Some("Emergency Alarm"),
        ..pendant()
    };
    let id = opened(&s.on_events("1234", &[named], t0));
    assert_eq!(
        s.alarm(id).unwrap().name.as_deref(),
        Some("Emergency Alarm")
    );
    // An unknown code is still an alarm, without a name.
    let id = opened(&s.on_events("5678", &[event("ZX", None, false)], t0));
    assert_eq!(s.alarm(id).unwrap().name, None);
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
    // Only a supervisor may switch it.
    let refused = s.command(
        &Actor::operator("ole"),
        &Command::EmergencyMode { on: true },
        t0,
    );
    assert!(
        matches!(refused, Err(CommandError::Forbidden { .. })),
        "{refused:?}"
    );
    assert!(!s.emergency_mode());
    let changes = s
        .command(&sup, &Command::EmergencyMode { on: true }, t0)
        .unwrap();
    assert_eq!(changes[0].actor, sup);
    assert_eq!(changes[0].kind, ChangeKind::EmergencyMode { on: true });
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
            action: "accept".into(),
            state: State::Queued
        })
    );
    assert_eq!(
        s.close(id, &op, Classification::FalseCall, t0),
        Err(CommandError::InvalidTransition {
            action: "close".into(),
            state: State::Queued
        })
    );
    assert_eq!(
        s.claim(AlarmId(999), &op, t0),
        Err(CommandError::NotFound {
            alarm: AlarmId(999)
        })
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
    assert!(lost.iter().any(|c| c.kind
        == ChangeKind::SupervisionLost {
            account: "1234".into()
        }));
    let id = opened(&lost);
    assert_eq!(s.alarm(id).unwrap().code, SUPERVISION_LOST);
    // Still silent an interval later: reported again, but no second alarm.
    let again = s.tick(t0 + 1_000 + 3_660 + 3_600);
    assert!(
        again
            .iter()
            .any(|c| matches!(c.kind, ChangeKind::SupervisionLost { .. }))
    );
    assert_eq!(s.open_alarms().filter(|a| a.account == "1234").count(), 1);
    // The next frame restores it: the unclaimed supervision alarm is cleared.
    let back = s.on_events("1234", &[], t0 + 9_000);
    assert_eq!(back[0].kind, ChangeKind::SupervisionRestored { alarm: id });
    assert_eq!(s.alarm(id).unwrap().state, State::Cancelled);
    assert_eq!(s.pending_timers(), 1, "only the supervision clock is left");
}

#[test]
fn an_account_dropped_from_the_accounts_file_is_no_longer_supervised() {
    let t0 = local(9, 0);
    let mut s = shard(t0);
    let watched = |secs| AccountSetup {
        supervision_secs: Some(secs),
        team: Some("nord".into()),
        ..AccountSetup::default()
    };
    s.reconfigure(
        &[
            ("1234".into(), watched(3600)),
            ("5678".into(), watched(600)),
        ],
        t0,
    );
    assert_eq!(s.supervised_accounts(), 2);
    // The file is reloaded without 5678: its clock stops, 1234's keeps running.
    s.reconfigure(&[("1234".into(), watched(3600))], t0 + 100);
    assert_eq!(s.supervised_accounts(), 1);
    assert_eq!(s.pending_timers(), 1);
    let lost = s.tick(t0 + 3_660);
    assert_eq!(
        lost.iter()
            .filter(
                |c| matches!(&c.kind, ChangeKind::SupervisionLost { account } if account == "1234")
            )
            .count(),
        1,
        "{lost:?}"
    );
    assert!(s.open_alarm_of("5678").is_none());
}

#[test]
fn a_claimed_supervision_alarm_is_left_to_its_operator_when_the_device_returns() {
    let t0 = local(9, 0);
    let mut s = shard(t0);
    s.supervise("1234", 600, t0);
    let id = opened(&s.tick(t0 + 660));
    s.claim(id, &Actor::operator("ole"), t0 + 700).unwrap();
    let back = s.on_events("1234", &[], t0 + 800);
    assert!(matches!(&back[0].kind, ChangeKind::Noted { alarm, .. } if *alarm == id));
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
    Emergency(bool),
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
        any::<bool>().prop_map(Op::Emergency),
    ]
}

/// A scenario driver: four devices (two supervised, one with a door lock, three with a backup
/// team), two operators, a nurse team; applies one op through the public command API and remembers opened ids.
struct Scenario {
    now: u64,
    ids: Vec<AlarmId>,
}

impl Scenario {
    fn start(s: &mut Shard) -> Self {
        let now = local(12, 0);
        for (account, secs) in [
            ("A0", Some(600)),
            ("A1", Some(600)),
            ("A2", None),
            ("A3", None),
        ] {
            let setup = AccountSetup {
                supervision_secs: secs,
                team: Some("nurses-north".into()),
                lock: (account == "A2").then(|| "lock-17".into()),
                backup_team: (account != "A3").then(|| "nurses-south".into()),
                ..AccountSetup::default()
            };
            s.configure(account, setup, now);
        }
        Self {
            now,
            ids: Vec::new(),
        }
    }

    fn apply(&mut self, s: &mut Shard, op: &Op) -> Result<Vec<Change>, CommandError> {
        let ops = [Actor::operator("ole"), Actor::operator("mette")];
        let supervisor = Actor {
            name: "sup".into(),
            role: Role::Supervisor,
        };
        let nurse = Actor {
            name: "nurses-north".into(),
            role: Role::Responder,
        };
        self.now += 1;
        let now = self.now;
        let pick = |i: u8| {
            self.ids
                .get(usize::from(i) % self.ids.len().max(1))
                .copied()
                .unwrap_or(AlarmId(0))
        };
        let result = match *op {
            Op::Event(a, restore) => {
                let e = if restore {
                    event("BH", Some(4), true)
                } else {
                    pendant()
                };
                Ok(s.on_events(&format!("A{a}"), &[e], now))
            }
            Op::Null(a) => Ok(s.on_events(&format!("A{a}"), &[], now)),
            Op::Claim(i, o) => s.command(
                &ops[usize::from(o)],
                &Command::Claim { alarm: pick(i) },
                now,
            ),
            Op::Release(i, o) => s.command(
                &ops[usize::from(o)],
                &Command::Release { alarm: pick(i) },
                now,
            ),
            Op::Forward(i, o) => s.command(
                &ops[usize::from(o)],
                &Command::Forward {
                    alarm: pick(i),
                    team: None,
                },
                now,
            ),
            Op::Accept(i) => s.command(&nurse, &Command::Accept { alarm: pick(i) }, now),
            Op::Arrive(i) => s.command(&nurse, &Command::Arrive { alarm: pick(i) }, now),
            Op::Close(i, o) => {
                let actor = if o == 0 { &ops[0] } else { &nurse };
                let close = Command::Close {
                    alarm: pick(i),
                    classification: Classification::FalseCall,
                };
                s.command(actor, &close, now)
            }
            Op::Tick(d) => {
                self.now += u64::from(d);
                Ok(s.tick(self.now))
            }
            Op::Emergency(on) => s.command(&supervisor, &Command::EmergencyMode { on }, now),
        };
        for c in result.iter().flatten() {
            if let ChangeKind::Opened { alarm, .. } = c.kind {
                self.ids.push(alarm);
            }
        }
        result
    }
}

proptest! {
    #[test]
    fn no_two_owners_no_lost_alarm_no_open_alarm_without_a_timer(ops in proptest::collection::vec(op(), 1..200)) {
        let mut s = shard(0);
        let mut run = Scenario::start(&mut s);
        for op in &ops {
            let before = match op {
                Op::Claim(i, _) => run.ids.get(usize::from(*i) % run.ids.len().max(1)).and_then(|id| s.alarm(*id)).and_then(|a| a.owner.clone()),
                _ => None,
            };
            if let Err(CommandError::AlreadyClaimed { by }) = run.apply(&mut s, op) {
                prop_assert_eq!(Some(by), before, "the loser learns the real owner");
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
                // One open alarm per call: never two of the same kind and zone on an account.
                let same_call = s
                    .open_alarms_of(&a.account)
                    .filter(|x| x.kind == a.kind && x.zone == a.zone)
                    .count();
                prop_assert_eq!(same_call, 1, "one open alarm per call");
                // A door grant lasts exactly as long as the visit is open.
                prop_assert_eq!(a.door.is_some(), a.account == "A2" && a.team.is_some());
            }
            // No alarm is lost: every id ever opened is still known.
            for id in &run.ids {
                prop_assert!(s.alarm(*id).is_some());
            }
        }
    }

    /// A shard restored from a snapshot (through JSON, as on disk) behaves exactly like the live
    /// one: the same changes for the same inputs, the same state after them.
    #[test]
    fn a_shard_rebuilt_from_a_snapshot_makes_the_same_changes(
        ops in proptest::collection::vec(op(), 1..150),
        split in any::<prop::sample::Index>(),
    ) {
        let mut live = shard(0);
        let mut run = Scenario::start(&mut live);
        let split = split.index(ops.len());
        for op in &ops[..split] {
            let _ = run.apply(&mut live, op);
        }
        let json = serde_json::to_string(&live.snapshot()).unwrap();
        let mut rebuilt = Shard::restore(serde_json::from_str(&json).unwrap(), Policy::default(), emergency_policy());
        let mut run2 = Scenario { now: run.now, ids: run.ids.clone() };
        Scenario::start(&mut rebuilt); // accounts are configured again after a restore
        run2.now = run.now;
        prop_assert_eq!(rebuilt.snapshot(), live.snapshot());
        for op in &ops[split..] {
            let a = run.apply(&mut live, op);
            let b = run2.apply(&mut rebuilt, op);
            prop_assert_eq!(a, b);
        }
        prop_assert_eq!(rebuilt.snapshot(), live.snapshot());
    }
}

#[test]
fn a_visit_not_accepted_in_time_goes_to_the_backup_team_and_the_door_grant_follows() {
    let t0 = local(14, 0);
    let mut s = shard(t0);
    let setup = AccountSetup {
        team: Some("nord".into()),
        backup_team: Some("syd".into()),
        lock: Some("lock-9".into()),
        ..AccountSetup::default()
    };
    s.configure("1234", setup, t0);
    let op = Actor::operator("ole");
    let id = opened(&s.on_events("1234", &[pendant()], t0));
    s.claim(id, &op, t0 + 5).unwrap();
    s.command(
        &op,
        &Command::Forward {
            alarm: id,
            team: None,
        },
        t0 + 60,
    )
    .unwrap();
    // accept_within_secs = 300: one second early nothing happens.
    assert!(s.tick(t0 + 359).is_empty());
    let changes = s.tick(t0 + 360);
    let kinds: Vec<&ChangeKind> = changes.iter().map(|c| &c.kind).collect();
    assert!(matches!(
        kinds[0],
        ChangeKind::Escalated {
            deadline: Deadline::Accept,
            level: 1,
            ..
        }
    ));
    assert_eq!(
        *kinds[1],
        ChangeKind::Forwarded {
            alarm: id,
            team: "syd".into()
        }
    );
    assert_eq!(
        *kinds[2],
        ChangeKind::DoorRevoked {
            alarm: id,
            lock: "lock-9".into()
        }
    );
    assert!(matches!(kinds[3], ChangeKind::DoorGranted { grant, .. } if grant.to == "syd"));
    let a = s.alarm(id).unwrap();
    assert_eq!(
        (a.state, a.team.as_deref()),
        (State::Forwarded, Some("syd"))
    );
    assert_eq!(
        a.forwarded_at,
        Some(t0 + 60),
        "the promise still counts from the first forward"
    );
    // The backup does not accept either: it escalates again but stays with the backup.
    let again = s.tick(t0 + 660);
    assert_eq!(escalations(&again), [(Deadline::Accept, 2)]);
    assert_eq!(again.len(), 1);
    // Without a backup team nothing moves.
    s.configure(
        "5678",
        AccountSetup {
            team: Some("nord".into()),
            ..AccountSetup::default()
        },
        t0 + 700,
    );
    let other = opened(&s.on_events("5678", &[pendant()], t0 + 700));
    s.claim(other, &op, t0 + 701).unwrap();
    s.command(
        &op,
        &Command::Forward {
            alarm: other,
            team: None,
        },
        t0 + 702,
    )
    .unwrap();
    let late = s.tick(t0 + 1002);
    assert!(late.iter().any(|c| matches!(c.kind,
        ChangeKind::Escalated { alarm, deadline: Deadline::Accept, level: 1, .. } if alarm == other)));
    assert!(
        !late
            .iter()
            .any(|c| matches!(c.kind, ChangeKind::Forwarded { .. })),
        "{late:?}"
    );
    assert_eq!(s.alarm(other).unwrap().team.as_deref(), Some("nord"));
}

#[test]
fn forward_uses_the_accounts_team_and_grants_the_door_until_close() {
    let t0 = local(14, 0);
    let mut s = shard(t0);
    let setup = AccountSetup {
        team: Some("hjemmepleje-syd".into()),
        lock: Some("lock-9".into()),
        ..AccountSetup::default()
    };
    s.configure("1234", setup, t0);
    s.configure("5678", AccountSetup::default(), t0);
    let op = Actor::operator("ole");
    let nurse = Actor {
        name: "hjemmepleje-syd".into(),
        role: Role::Responder,
    };
    let id = opened(&s.on_events("1234", &[pendant()], t0));
    s.claim(id, &op, t0 + 5).unwrap();
    let fwd = s
        .command(
            &op,
            &Command::Forward {
                alarm: id,
                team: None,
            },
            t0 + 60,
        )
        .unwrap();
    assert_eq!(
        fwd[0].kind,
        ChangeKind::Forwarded {
            alarm: id,
            team: "hjemmepleje-syd".into()
        }
    );
    // Valid for the on-site promise (30 min by day) plus the visit (2 h).
    let grant = DoorGrant {
        lock: "lock-9".into(),
        to: "hjemmepleje-syd".into(),
        until: t0 + 60 + 1800 + 7200,
    };
    assert_eq!(
        fwd[1].kind,
        ChangeKind::DoorGranted {
            alarm: id,
            grant: grant.clone()
        }
    );
    assert_eq!(s.alarm(id).unwrap().door, Some(grant));
    s.accept(id, &nurse, t0 + 120).unwrap();
    s.arrive(id, &nurse, t0 + 900).unwrap();
    let closed = s
        .command(
            &nurse,
            &Command::Close {
                alarm: id,
                classification: Classification::Emergency,
            },
            t0 + 1500,
        )
        .unwrap();
    assert_eq!(
        closed[1].kind,
        ChangeKind::DoorRevoked {
            alarm: id,
            lock: "lock-9".into()
        }
    );
    assert_eq!(s.alarm(id).unwrap().door, None);
    // No default team, none named: a typed refusal.
    let other = opened(&s.on_events("5678", &[pendant()], t0));
    s.claim(other, &op, t0).unwrap();
    assert_eq!(
        s.command(
            &op,
            &Command::Forward {
                alarm: other,
                team: None
            },
            t0
        ),
        Err(CommandError::NoTeam)
    );
}

#[test]
fn per_account_priorities_override_the_code_table() {
    let t0 = local(10, 0);
    let mut s = shard(t0);
    // This citizen's "QA" is routine (priority 3), and a test code ("RP", informational) must
    // open an alarm for them.
    let setup = AccountSetup {
        priorities: [("QA".to_owned(), 3), ("RP".to_owned(), 2)].into(),
        ..AccountSetup::default()
    };
    s.configure("1234", setup, t0);
    let id = opened(&s.on_events("1234", &[pendant()], t0));
    assert_eq!(s.alarm(id).unwrap().priority, 3);
    let other = opened(&s.on_events("9999", &[pendant()], t0));
    assert_eq!(
        s.alarm(other).unwrap().priority,
        1,
        "other accounts keep the table"
    );
    assert!(
        s.on_events("9999", &[event("RP", Some(5), false)], t0)
            .is_empty()
    );
    s.close(other, &Actor::operator("x"), Classification::FalseCall, t0)
        .unwrap_err();
}

#[test]
fn classify_then_close_and_only_a_supervisor_reassigns() {
    let t0 = local(10, 0);
    let mut s = shard(t0);
    let ole = Actor::operator("ole");
    let boss = Actor {
        name: "birgit".into(),
        role: Role::Supervisor,
    };
    let id = opened(&s.on_events("1234", &[pendant()], t0));
    s.claim(id, &ole, t0).unwrap();
    s.command(
        &ole,
        &Command::Classify {
            alarm: id,
            classification: Classification::ReassuranceCall,
        },
        t0,
    )
    .unwrap();
    assert_eq!(
        s.alarm(id).unwrap().classification,
        Some(Classification::ReassuranceCall)
    );
    assert_eq!(
        s.command(
            &ole,
            &Command::Reassign {
                alarm: id,
                to: "mette".into()
            },
            t0
        ),
        Err(CommandError::Forbidden {
            role: Role::Operator,
            action: "reassign".into()
        })
    );
    s.command(
        &boss,
        &Command::Reassign {
            alarm: id,
            to: "mette".into(),
        },
        t0,
    )
    .unwrap();
    assert_eq!(s.alarm(id).unwrap().owner.as_deref(), Some("mette"));
    assert_eq!(
        s.close(id, &ole, Classification::FalseCall, t0),
        Err(CommandError::NotOwner {
            owner: "mette".into()
        })
    );
    let cb = s
        .command(
            &Actor::operator("mette"),
            &Command::Callback {
                alarm: id,
                text: "all well".into(),
            },
            t0,
        )
        .unwrap();
    assert_eq!(
        cb[0].kind,
        ChangeKind::Noted {
            alarm: id,
            text: "callback: all well".into()
        }
    );
    s.close(
        id,
        &Actor::operator("mette"),
        Classification::ReassuranceCall,
        t0,
    )
    .unwrap();
    assert_eq!(s.alarm(id).unwrap().state, State::Closed);
}

#[test]
fn state_and_classification_names_are_the_json_names() {
    use vagt_core::{Classification, State};
    for s in [
        State::Claimed,
        State::Cancelled,
        State::Closed,
        State::Forwarded,
        State::Accepted,
        State::OnSite,
        State::Queued,
    ] {
        assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
    }
    for c in [
        Classification::Emergency,
        Classification::FalseCall,
        Classification::ReassuranceCall,
        Classification::RepeatCall,
        Classification::Technical,
    ] {
        assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
    }
}
