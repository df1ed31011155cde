//! One shard of the core: a single-writer state machine over the alarms of its accounts.
//!
//! Everything takes `now` (seconds since the Unix epoch) from the caller, so every rule runs the
//! same in production and in virtual-time tests. Every method returns the [`Change`]s it made,
//! which the caller journals (event sourcing) and publishes.

use std::collections::{HashMap, VecDeque};

use vagt_proto::Event;

use crate::model::{Actor, Alarm, AlarmId, Change, ChangeKind, Classification, Deadline, State};
use crate::policy::Policy;
use crate::wheel::Wheel;

/// Why a command was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// Someone else owns the alarm.
    #[error("already claimed by {by}")]
    AlreadyClaimed {
        /// The owner.
        by: String,
    },
    /// The command does not apply in the alarm's state.
    #[error("cannot {action} an alarm that is {state:?}")]
    InvalidTransition {
        /// What was asked.
        action: &'static str,
        /// Where the alarm is.
        state: State,
    },
    /// Only the owner may do this.
    #[error("only the owner ({owner}) may do this")]
    NotOwner {
        /// The owner.
        owner: String,
    },
    /// No such alarm.
    #[error("no alarm {0}")]
    NotFound(AlarmId),
}

/// What a timer on the wheel is for.
#[derive(Clone, Debug)]
enum Timer {
    /// An alarm's deadline.
    Alarm(AlarmId, Deadline),
    /// An account's supervision interval (plus grace) ran out.
    Supervision(String),
}

/// The event code of the alarm opened when a device falls silent.
pub const SUPERVISION_LOST: &str = "supervision_lost";

/// The shard.
pub struct Shard {
    alarms: HashMap<AlarmId, Alarm>,
    open_by_account: HashMap<String, AlarmId>,
    wheel: Wheel<Timer>,
    /// Supervised accounts: interval (seconds) and the pending silence timer.
    supervised: HashMap<String, (u64, crate::wheel::TimerId)>,
    normal: Policy,
    emergency: Policy,
    emergency_mode: bool,
    recent: HashMap<String, VecDeque<u64>>,
    next_id: u64,
    id_stride: u64,
}

impl Shard {
    /// Shard `index` of `count` (ids are `index + k·count`, unique across shards), clock at `now`.
    pub fn new(index: u64, count: u64, normal: Policy, emergency: Policy, now: u64) -> Self {
        Self {
            alarms: HashMap::new(),
            open_by_account: HashMap::new(),
            wheel: Wheel::new(now),
            supervised: HashMap::new(),
            normal,
            emergency,
            emergency_mode: false,
            recent: HashMap::new(),
            next_id: index + count.max(1),
            id_stride: count.max(1),
        }
    }

    fn policy(&self) -> &Policy {
        if self.emergency_mode {
            &self.emergency
        } else {
            &self.normal
        }
    }

    /// An alarm by id.
    pub fn alarm(&self, id: AlarmId) -> Option<&Alarm> {
        self.alarms.get(&id)
    }

    /// All alarms still open.
    pub fn open_alarms(&self) -> impl Iterator<Item = &Alarm> {
        self.alarms.values().filter(|a| a.state.is_open())
    }

    /// The open alarm of an account, if any.
    pub fn open_alarm_of(&self, account: &str) -> Option<&Alarm> {
        self.open_by_account
            .get(account)
            .and_then(|id| self.alarms.get(id))
    }

    /// Timers pending.
    pub fn pending_timers(&self) -> usize {
        self.wheel.len()
    }

    /// A journaled frame of `account` with its events (none for a `NULL` link test). Any frame
    /// proves the device alive (supervision). Alarm events open an alarm or attach to the
    /// account's open one; restores may cancel an unclaimed alarm; informational events (tests,
    /// open/close) open nothing. Unknown codes open an *unclassified* alarm: never dropped.
    pub fn on_events(&mut self, account: &str, events: &[Event], now: u64) -> Vec<Change> {
        let mut out = Vec::new();
        self.heard(account, now, &mut out);
        for e in events {
            if e.restore {
                self.on_restore(account, now, &mut out);
                continue;
            }
            let priority = match e.priority {
                Some(p @ 1..=3) => p,
                Some(_) => continue, // informational: stored in the journal, no alarm
                None => 3,           // unclassified: shown, never dropped
            };
            self.count_for_runaway(account, now, &mut out);
            match self.open_by_account.get(account).copied() {
                Some(id) => self.attach(id, &e.code, priority, now, &mut out),
                None => self.open(account, &e.code, priority, now, &mut out),
            }
        }
        out
    }

    fn open(&mut self, account: &str, code: &str, priority: u8, now: u64, out: &mut Vec<Change>) {
        let id = AlarmId(self.next_id);
        self.next_id += self.id_stride;
        let mut alarm = Alarm {
            id,
            account: account.to_owned(),
            opened_at: now,
            code: code.to_owned(),
            priority,
            state: State::Queued,
            owner: None,
            team: None,
            forwarded_at: None,
            classification: None,
            escalation_level: 0,
            repeats: 0,
            notes: Vec::new(),
            timer: None,
        };
        let due = now + self.policy().claim_within(priority);
        alarm.timer = Some((
            self.wheel.insert(due, Timer::Alarm(id, Deadline::Claim)),
            Deadline::Claim,
        ));
        self.alarms.insert(id, alarm);
        self.open_by_account.insert(account.to_owned(), id);
        let kind = ChangeKind::Opened {
            alarm: id,
            account: account.to_owned(),
            code: code.to_owned(),
            priority,
        };
        out.push(Change {
            at: now,
            actor: Actor::system(),
            kind,
        });
    }

    fn attach(&mut self, id: AlarmId, code: &str, priority: u8, now: u64, out: &mut Vec<Change>) {
        let Some(a) = self.alarms.get_mut(&id) else {
            return;
        };
        a.repeats += 1;
        a.priority = a.priority.min(priority);
        let kind = ChangeKind::Attached {
            alarm: id,
            code: code.to_owned(),
            repeats: a.repeats,
        };
        out.push(Change {
            at: now,
            actor: Actor::system(),
            kind,
        });
    }

    fn on_restore(&mut self, account: &str, now: u64, out: &mut Vec<Change>) {
        let Some(&id) = self.open_by_account.get(account) else {
            return;
        };
        let cancel = self.policy().cancel_unclaimed_on_restore
            && self
                .alarms
                .get(&id)
                .is_some_and(|a| a.state == State::Queued);
        if cancel {
            self.finish(id, State::Cancelled, None);
            out.push(Change {
                at: now,
                actor: Actor::system(),
                kind: ChangeKind::Cancelled(id),
            });
        }
    }

    fn count_for_runaway(&mut self, account: &str, now: u64, out: &mut Vec<Change>) {
        let (limit, window) = (
            self.policy().runaway_events,
            self.policy().runaway_window_secs,
        );
        let times = self.recent.entry(account.to_owned()).or_default();
        times.push_back(now);
        while times.front().is_some_and(|&t| t + window <= now) {
            times.pop_front();
        }
        // Flag when the count first exceeds the limit within the window.
        if times.len() == limit + 1 {
            let kind = ChangeKind::Runaway {
                account: account.to_owned(),
                events: times.len(),
            };
            out.push(Change {
                at: now,
                actor: Actor::system(),
                kind,
            });
        }
    }

    /// Claims an alarm: exactly one operator wins; the others learn who.
    pub fn claim(
        &mut self,
        id: AlarmId,
        actor: &Actor,
        now: u64,
    ) -> Result<Vec<Change>, CommandError> {
        let a = self.alarms.get(&id).ok_or(CommandError::NotFound(id))?;
        match (a.state, &a.owner) {
            (State::Queued, _) => {}
            (State::Claimed, Some(owner)) => {
                return Err(CommandError::AlreadyClaimed { by: owner.clone() });
            }
            (state, _) => {
                return Err(CommandError::InvalidTransition {
                    action: "claim",
                    state,
                });
            }
        }
        let due = now + self.policy().handle_within_secs;
        self.move_to(id, State::Claimed, Deadline::Handle, due);
        if let Some(a) = self.alarms.get_mut(&id) {
            a.owner = Some(actor.name.clone());
        }
        Ok(change(now, actor, ChangeKind::Claimed(id)))
    }

    /// The owner gives the alarm back to the queue.
    pub fn release(
        &mut self,
        id: AlarmId,
        actor: &Actor,
        now: u64,
    ) -> Result<Vec<Change>, CommandError> {
        self.owned_in(id, actor, State::Claimed, "release")?;
        let due = now + self.policy().claim_within(self.priority(id));
        self.move_to(id, State::Queued, Deadline::Claim, due);
        if let Some(a) = self.alarms.get_mut(&id) {
            a.owner = None;
        }
        Ok(change(now, actor, ChangeKind::Released(id)))
    }

    /// Adds a note (or a call-back record) to an open alarm.
    pub fn note(
        &mut self,
        id: AlarmId,
        actor: &Actor,
        text: &str,
        now: u64,
    ) -> Result<Vec<Change>, CommandError> {
        let a = self.alarms.get_mut(&id).ok_or(CommandError::NotFound(id))?;
        if !a.state.is_open() {
            return Err(CommandError::InvalidTransition {
                action: "note",
                state: a.state,
            });
        }
        a.notes.push(text.to_owned());
        Ok(change(now, actor, ChangeKind::Noted(id, text.to_owned())))
    }

    /// The owner forwards the alarm to a responder team.
    pub fn forward(
        &mut self,
        id: AlarmId,
        actor: &Actor,
        team: &str,
        now: u64,
    ) -> Result<Vec<Change>, CommandError> {
        self.owned_in(id, actor, State::Claimed, "forward")?;
        let due = now + self.policy().accept_within_secs;
        self.move_to(id, State::Forwarded, Deadline::Accept, due);
        if let Some(a) = self.alarms.get_mut(&id) {
            a.team = Some(team.to_owned());
            a.forwarded_at = Some(now);
        }
        Ok(change(
            now,
            actor,
            ChangeKind::Forwarded(id, team.to_owned()),
        ))
    }

    /// The responder accepts the visit; the on-site promise runs from the forwarding time.
    pub fn accept(
        &mut self,
        id: AlarmId,
        actor: &Actor,
        now: u64,
    ) -> Result<Vec<Change>, CommandError> {
        let since = self
            .in_state(id, State::Forwarded, "accept")?
            .forwarded_at
            .unwrap_or(now);
        let due = since + self.policy().on_site_within(since);
        self.move_to(id, State::Accepted, Deadline::OnSite, due);
        Ok(change(now, actor, ChangeKind::Accepted(id)))
    }

    /// The responder is with the citizen.
    pub fn arrive(
        &mut self,
        id: AlarmId,
        actor: &Actor,
        now: u64,
    ) -> Result<Vec<Change>, CommandError> {
        self.in_state(id, State::Accepted, "arrive")?;
        let due = now + self.policy().close_within_secs;
        self.move_to(id, State::OnSite, Deadline::Close, due);
        Ok(change(now, actor, ChangeKind::Arrived(id)))
    }

    /// Closes an alarm: resolved at the centre by its owner, or after the visit.
    pub fn close(
        &mut self,
        id: AlarmId,
        actor: &Actor,
        classification: Classification,
        now: u64,
    ) -> Result<Vec<Change>, CommandError> {
        let a = self.alarms.get(&id).ok_or(CommandError::NotFound(id))?;
        match a.state {
            State::Claimed => {
                self.owned_in(id, actor, State::Claimed, "close")?;
            }
            State::OnSite => {}
            state => {
                return Err(CommandError::InvalidTransition {
                    action: "close",
                    state,
                });
            }
        }
        self.finish(id, State::Closed, Some(classification));
        Ok(change(now, actor, ChangeKind::Closed(id, classification)))
    }

    /// Switches emergency staffing mode (the other policy set applies to new deadlines).
    pub fn set_emergency_mode(&mut self, on: bool, actor: &Actor, now: u64) -> Vec<Change> {
        self.emergency_mode = on;
        change(now, actor, ChangeKind::EmergencyMode(on))
    }

    /// Advances the clock: every missed deadline escalates its alarm one level (priority up by
    /// one) and re-arms the same deadline, so an alarm is never forgotten.
    pub fn tick(&mut self, now: u64) -> Vec<Change> {
        let mut out = Vec::new();
        for (_, timer) in self.wheel.advance(now) {
            let (id, deadline) = match timer {
                Timer::Alarm(id, deadline) => (id, deadline),
                Timer::Supervision(account) => {
                    self.silent(&account, now, &mut out);
                    continue;
                }
            };
            let interval = match deadline {
                Deadline::Claim => self
                    .policy()
                    .claim_within(self.priority(id).saturating_sub(1).max(1)),
                Deadline::Handle => self.policy().handle_within_secs,
                Deadline::Accept => self.policy().accept_within_secs,
                Deadline::OnSite => self.policy().on_site_within(now),
                Deadline::Close => self.policy().close_within_secs,
            };
            if !self.alarms.contains_key(&id) {
                continue;
            }
            let timer = self
                .wheel
                .insert(now + interval, Timer::Alarm(id, deadline));
            let Some(a) = self.alarms.get_mut(&id) else {
                continue;
            };
            a.escalation_level = a.escalation_level.saturating_add(1);
            a.priority = a.priority.saturating_sub(1).max(1);
            a.timer = Some((timer, deadline));
            let kind = ChangeKind::Escalated {
                alarm: id,
                deadline,
                level: a.escalation_level,
                priority: a.priority,
            };
            out.push(Change {
                at: now,
                actor: Actor::system(),
                kind,
            });
        }
        out
    }

    /// Supervises `account`: it must be heard (any frame) at least every `interval_secs`, plus
    /// the policy's grace, or a [`SUPERVISION_LOST`] alarm opens. Calling again changes the
    /// interval and restarts the clock.
    pub fn supervise(&mut self, account: &str, interval_secs: u64, now: u64) {
        if let Some((_, t)) = self.supervised.remove(account) {
            self.wheel.cancel(t);
        }
        let due = now + interval_secs + self.policy().supervision_grace_secs;
        let t = self
            .wheel
            .insert(due, Timer::Supervision(account.to_owned()));
        self.supervised
            .insert(account.to_owned(), (interval_secs, t));
    }

    /// Accounts under supervision.
    pub fn supervised_accounts(&self) -> usize {
        self.supervised.len()
    }

    /// A frame from `account`: restart its supervision clock; restore a lost supervision.
    fn heard(&mut self, account: &str, now: u64, out: &mut Vec<Change>) {
        if let Some(&(interval, _)) = self.supervised.get(account) {
            self.supervise(account, interval, now);
        }
        let Some(&id) = self.open_by_account.get(account) else {
            return;
        };
        let Some(a) = self.alarms.get(&id) else {
            return;
        };
        if a.code != SUPERVISION_LOST {
            return;
        }
        if a.state == State::Queued {
            self.finish(id, State::Cancelled, None);
            out.push(Change {
                at: now,
                actor: Actor::system(),
                kind: ChangeKind::SupervisionRestored(id),
            });
        } else if let Some(a) = self.alarms.get_mut(&id) {
            // Someone is already on it: tell them, leave the decision to them.
            let note = "device heard again (supervision restored)".to_owned();
            a.notes.push(note.clone());
            out.push(Change {
                at: now,
                actor: Actor::system(),
                kind: ChangeKind::Noted(id, note),
            });
        }
    }

    /// The supervision timer of `account` ran out: the device is silent.
    fn silent(&mut self, account: &str, now: u64, out: &mut Vec<Change>) {
        let Some(&(interval, _)) = self.supervised.get(account) else {
            return;
        };
        // Keep watching: the next loss is reported one interval later if it stays silent.
        let t = self
            .wheel
            .insert(now + interval, Timer::Supervision(account.to_owned()));
        self.supervised.insert(account.to_owned(), (interval, t));
        out.push(Change {
            at: now,
            actor: Actor::system(),
            kind: ChangeKind::SupervisionLost(account.to_owned()),
        });
        match self.open_by_account.get(account).copied() {
            Some(id) => {
                let already = self
                    .alarms
                    .get(&id)
                    .is_some_and(|a| a.code == SUPERVISION_LOST);
                if !already {
                    self.attach(id, SUPERVISION_LOST, 3, now, out);
                }
            }
            None => self.open(account, SUPERVISION_LOST, 3, now, out),
        }
    }

    fn priority(&self, id: AlarmId) -> u8 {
        self.alarms.get(&id).map_or(3, |a| a.priority)
    }

    fn owned_in(
        &self,
        id: AlarmId,
        actor: &Actor,
        state: State,
        action: &'static str,
    ) -> Result<(), CommandError> {
        match &self.in_state(id, state, action)?.owner {
            Some(owner) if owner != &actor.name => Err(CommandError::NotOwner {
                owner: owner.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// The alarm, if it is in `state`; otherwise why `action` does not apply.
    fn in_state(
        &self,
        id: AlarmId,
        state: State,
        action: &'static str,
    ) -> Result<&Alarm, CommandError> {
        let a = self.alarms.get(&id).ok_or(CommandError::NotFound(id))?;
        if a.state != state {
            return Err(CommandError::InvalidTransition {
                action,
                state: a.state,
            });
        }
        Ok(a)
    }

    /// Moves the alarm to `state` with `deadline` armed at `due`.
    fn move_to(&mut self, id: AlarmId, state: State, deadline: Deadline, due: u64) {
        self.rearm(id, deadline, due);
        if let Some(a) = self.alarms.get_mut(&id) {
            a.state = state;
        }
    }

    /// Replaces the alarm's pending deadline.
    fn rearm(&mut self, id: AlarmId, deadline: Deadline, due: u64) {
        let old = self.alarms.get(&id).and_then(|a| a.timer);
        if let Some((t, _)) = old {
            self.wheel.cancel(t);
        }
        let timer = self.wheel.insert(due, Timer::Alarm(id, deadline));
        if let Some(a) = self.alarms.get_mut(&id) {
            a.timer = Some((timer, deadline));
        }
    }

    fn finish(&mut self, id: AlarmId, state: State, classification: Option<Classification>) {
        let Some(a) = self.alarms.get_mut(&id) else {
            return;
        };
        if let Some((t, _)) = a.timer.take() {
            self.wheel.cancel(t);
        }
        a.state = state;
        a.classification = classification;
        if self.open_by_account.get(&a.account) == Some(&id) {
            self.open_by_account.remove(&a.account);
        }
    }
}

/// One change by `actor` at `now`, as a command's result.
fn change(now: u64, actor: &Actor, kind: ChangeKind) -> Vec<Change> {
    vec![Change {
        at: now,
        actor: actor.clone(),
        kind,
    }]
}
