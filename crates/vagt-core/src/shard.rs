//! One shard of the core: a single-writer state machine over the alarms of its accounts.
//!
//! Everything takes `now` (seconds since the Unix epoch) from the caller, so every rule runs the
//! same in production and in virtual-time tests. The shard's clock never runs backwards: an
//! input stamped earlier than one already seen counts as "now". Every method returns the
//! [`Change`]s it made, for the caller to publish. Given the same inputs in the same order, a
//! shard makes the same changes: that is what lets the runtime rebuild it from the journal.

use std::collections::{HashMap, VecDeque};

use vagt_proto::Event;

use crate::accounts::{AccountIx, AccountTable};
use crate::correlation;
use crate::model::{Actor, Alarm, AlarmId, Change, ChangeKind, Classification, Deadline, State};
use crate::policy::Policy;
use crate::wheel::Wheel;

/// What a timer on the wheel is for.
#[derive(Clone, Debug)]
pub(crate) enum Timer {
    /// An alarm's deadline.
    Alarm(AlarmId, Deadline),
    /// An account's supervision interval (plus grace) ran out.
    Supervision(AccountIx),
}

/// The event code of the alarm opened when a device falls silent.
pub const SUPERVISION_LOST: &str = "supervision_lost";

/// How many closed or cancelled alarms a shard keeps for look-ups after they finish.
const FINISHED_KEPT: usize = 4096;

/// Per-account settings the core needs (from the accounts file).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountSetup {
    /// The device must be heard at least this often (seconds), plus the policy's grace.
    pub supervision_secs: Option<u64>,
    /// The team a plain "forward" sends the alarm to: the provider for a *nødkald*, the
    /// home-nurse district for a *sygeplejekald*.
    pub team: Option<String>,
    /// The citizen's electronic door lock, if any: forwarding grants the responder access.
    pub lock: Option<String>,
    /// The next responder: a forwarded alarm the team does not accept in time goes here.
    pub backup_team: Option<String>,
    /// Priority by event code, overriding the code table for this account.
    pub priorities: HashMap<String, u8>,
}

/// The shard.
pub struct Shard {
    pub(crate) alarms: HashMap<AlarmId, Alarm>,
    pub(crate) finished: VecDeque<AlarmId>,
    /// Each account's open alarms, oldest first (usually one; one per kind and zone).
    pub(crate) open_by_account: HashMap<String, Vec<AlarmId>>,
    pub(crate) wheel: Wheel<Timer>,
    pub(crate) accounts: AccountTable,
    pub(crate) normal: Policy,
    pub(crate) emergency: Policy,
    pub(crate) emergency_mode: bool,
    pub(crate) recent: HashMap<String, VecDeque<u64>>,
    pub(crate) next_id: u64,
    pub(crate) id_stride: u64,
    pub(crate) clock: u64,
    /// When the runaway windows were last swept.
    pub(crate) swept: u64,
}

impl Shard {
    /// Shard `index` of `count` (ids are `index + k·count`, unique across shards), clock at `now`.
    pub fn new(index: u64, count: u64, normal: Policy, emergency: Policy, now: u64) -> Self {
        Self {
            alarms: HashMap::new(),
            finished: VecDeque::new(),
            open_by_account: HashMap::new(),
            wheel: Wheel::new(now),
            accounts: AccountTable::default(),
            normal,
            emergency,
            emergency_mode: false,
            recent: HashMap::new(),
            next_id: index + count.max(1),
            id_stride: count.max(1),
            clock: now,
            swept: now,
        }
    }

    pub(crate) fn policy(&self) -> &Policy {
        if self.emergency_mode {
            &self.emergency
        } else {
            &self.normal
        }
    }

    /// Moves the shard's clock to `at` unless it is already later; returns the clock.
    pub(crate) fn observe(&mut self, at: u64) -> u64 {
        self.clock = self.clock.max(at);
        self.clock
    }

    /// The shift at `at` under the policy in force (normal or emergency staffing).
    pub fn shift_at(&self, at: u64) -> crate::policy::Shift {
        self.policy().shift_at(at)
    }

    /// The shard's clock: the latest time it has seen.
    pub fn clock(&self) -> u64 {
        self.clock
    }

    /// Whether emergency staffing mode is on.
    pub fn emergency_mode(&self) -> bool {
        self.emergency_mode
    }

    /// An alarm by id (open, or among the recently finished).
    pub fn alarm(&self, id: AlarmId) -> Option<&Alarm> {
        self.alarms.get(&id)
    }

    /// All alarms still open.
    pub fn open_alarms(&self) -> impl Iterator<Item = &Alarm> {
        self.alarms.values().filter(|a| a.state.is_open())
    }

    /// The most urgent open alarm of an account, if any.
    pub fn open_alarm_of(&self, account: &str) -> Option<&Alarm> {
        self.open_alarms_of(account).min_by_key(|a| a.queue_order())
    }

    /// Every open alarm of an account, oldest first.
    pub fn open_alarms_of(&self, account: &str) -> impl Iterator<Item = &Alarm> {
        self.open_by_account
            .get(account)
            .into_iter()
            .flatten()
            .filter_map(|id| self.alarms.get(id))
    }

    /// The account's open alarm of one call (its kind and zone), if any.
    pub fn open_call(&self, account: &str, kind: &str, zone: Option<&str>) -> Option<AlarmId> {
        self.find_open(account, |a| a.kind == kind && a.zone.as_deref() == zone)
    }

    /// The account's open alarm `matches` picks, if any.
    fn find_open(&self, account: &str, matches: impl Fn(&Alarm) -> bool) -> Option<AlarmId> {
        self.open_alarms_of(account)
            .find(|a| matches(a))
            .map(|a| a.id)
    }

    /// Timers pending.
    pub fn pending_timers(&self) -> usize {
        self.wheel.len()
    }

    /// Sets an account's core settings; starts (or re-times) its supervision. An account already
    /// supervised at the same interval keeps its running clock.
    pub fn configure(&mut self, account: &str, setup: AccountSetup, now: u64) {
        let now = self.observe(now);
        let ix = self.accounts.find_or_add(account);
        self.accounts
            .set_teams(ix, setup.team.as_deref(), setup.backup_team.as_deref());
        if let Some(a) = self.accounts.get_mut(ix) {
            a.lock = setup.lock.map(String::into_boxed_str);
            let mut overrides: Vec<(Box<str>, u8)> = setup
                .priorities
                .into_iter()
                .map(|(code, p)| (code.into_boxed_str(), p))
                .collect();
            overrides.sort();
            a.priorities = (!overrides.is_empty()).then(|| overrides.into_boxed_slice());
        }
        let interval = setup
            .supervision_secs
            .map_or(0, |s| u32::try_from(s).unwrap_or(u32::MAX));
        let current = self.accounts.get(ix).map_or(0, |a| a.interval);
        if interval == 0 {
            if let Some(a) = self.accounts.get(ix) {
                self.wheel.cancel(a.timer);
            }
            self.accounts.set_interval(ix, 0);
        } else if interval != current {
            let due = now + u64::from(interval) + self.policy().supervision_grace_secs;
            self.watch(ix, interval, due);
        }
    }

    /// Applies a whole accounts file: every listed account is configured, and every account
    /// the shard knows but the list no longer has loses its settings (and its supervision).
    pub fn reconfigure(&mut self, list: &[(String, AccountSetup)], now: u64) {
        let listed: std::collections::HashSet<&str> =
            list.iter().map(|(a, _)| a.as_str()).collect();
        let gone: Vec<String> = self
            .accounts
            .iter()
            .filter(|a| !listed.contains(&*a.name))
            .map(|a| a.name.to_string())
            .collect();
        for account in gone {
            self.configure(&account, AccountSetup::default(), now);
        }
        for (account, setup) in list {
            self.configure(account, setup.clone(), now);
        }
    }

    /// A journaled frame of `account` with its events (none for a `NULL` link test). Any frame
    /// proves the device alive (supervision). An alarm event attaches to the account's open
    /// alarm of the same kind and zone (a repeat, [`crate::correlation`]) or opens its own;
    /// a restore may cancel the unclaimed alarms it restores (same kind and zone);
    /// informational events (tests, open/close) open nothing. Unknown codes open an
    /// *unclassified* alarm: never dropped.
    pub fn on_events(&mut self, account: &str, events: &[Event], now: u64) -> Vec<Change> {
        let now = self.observe(now);
        let mut out = Vec::new();
        self.heard(account, now, &mut out);
        for e in events {
            let kind = correlation::kind(e.category, &e.code);
            let zone = e.zone.as_deref();
            if e.restore {
                self.on_restore(account, &kind, zone, now, &mut out);
                continue;
            }
            let overridden = self
                .accounts
                .by_name(account)
                .and_then(|a| a.priority_of(&e.code));
            // Informational: stored in the journal, no alarm.
            let Some(priority) = correlation::alarm_priority(overridden.or(e.priority)) else {
                continue;
            };
            self.count_for_runaway(account, now, &mut out);
            match self.open_call(account, &kind, zone) {
                Some(id) => self.attach(id, &e.code, priority, now, &mut out),
                None => {
                    let what = Opening {
                        code: &e.code,
                        name: e.name,
                        kind: kind.into_owned(),
                        zone: e.zone.clone(),
                        priority,
                    };
                    self.open(account, what, now, &mut out);
                }
            }
        }
        out
    }

    fn open(&mut self, account: &str, what: Opening<'_>, now: u64, out: &mut Vec<Change>) {
        let Opening {
            code,
            name,
            kind,
            zone,
            priority,
        } = what;
        let id = AlarmId(self.next_id);
        self.next_id += self.id_stride;
        let alarm = Alarm {
            id,
            account: account.to_owned(),
            opened_at: now,
            code: code.to_owned(),
            name: name.map(str::to_owned),
            kind,
            zone,
            priority,
            state: State::Queued,
            owner: None,
            classification: None,
            team: None,
            forwarded_at: None,
            escalation_level: 0,
            repeats: 0,
            notes: Vec::new(),
            door: None,
            armed: None,
            timer: None,
        };
        self.alarms.insert(id, alarm);
        let due = now + self.policy().claim_within(priority, now);
        self.rearm(id, Deadline::Claim, due);
        self.open_by_account
            .entry(account.to_owned())
            .or_default()
            .push(id);
        let kind = ChangeKind::Opened {
            alarm: id,
            account: account.to_owned(),
            code: code.to_owned(),
            priority,
        };
        out.push(system(now, kind));
    }

    pub(crate) fn attach(
        &mut self,
        id: AlarmId,
        code: &str,
        priority: u8,
        now: u64,
        out: &mut Vec<Change>,
    ) {
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
        out.push(system(now, kind));
    }

    /// A restore of `kind` in `zone`: cancels the account's unclaimed alarms it restores (if
    /// the policy says so); alarms of other kinds or zones are untouched.
    fn on_restore(
        &mut self,
        account: &str,
        kind: &str,
        zone: Option<&str>,
        now: u64,
        out: &mut Vec<Change>,
    ) {
        if !self.policy().cancel_unclaimed_on_restore {
            return;
        }
        let restored: Vec<AlarmId> = self
            .open_alarms_of(account)
            .filter(|a| {
                a.state == State::Queued
                    && a.kind == kind
                    && correlation::restore_matches(zone, a.zone.as_deref())
            })
            .map(|a| a.id)
            .collect();
        for id in restored {
            self.finish(id, State::Cancelled, None, now, out);
            out.push(system(now, ChangeKind::Cancelled { alarm: id }));
        }
    }

    fn count_for_runaway(&mut self, account: &str, now: u64, out: &mut Vec<Change>) {
        let (limit, window) = (
            self.policy().runaway_events,
            self.policy().runaway_window_secs,
        );
        // Looked up before inserting: an account heard before costs no allocation.
        if !self.recent.contains_key(account) {
            self.recent.insert(account.to_owned(), VecDeque::new());
        }
        let Some(times) = self.recent.get_mut(account) else {
            return;
        };
        while times.front().is_some_and(|&t| t + window <= now) {
            times.pop_front();
        }
        let was_over = times.len() > limit;
        times.push_back(now);
        // Only the newest limit + 1 times matter (is the (limit+1)-th newest inside the
        // window?): a device sending thousands of events an hour costs no more memory than one
        // that just crossed the limit. Kept for the larger limit of the two modes, so a switch
        // of staffing mode counts the same events.
        let keep = self
            .normal
            .runaway_events
            .max(self.emergency.runaway_events)
            + 1;
        if times.len() > keep {
            times.pop_front();
        }
        // Flag when the count first exceeds the limit within the window.
        if !was_over && times.len() > limit {
            let kind = ChangeKind::Runaway {
                account: account.to_owned(),
                events: times.len(),
            };
            out.push(system(now, kind));
        }
    }

    /// Advances the clock: every missed deadline escalates its alarm one level (priority up by
    /// one) and re-arms the same deadline, so an alarm is never forgotten.
    pub fn tick(&mut self, now: u64) -> Vec<Change> {
        let now = self.observe(now);
        let mut out = Vec::new();
        // Runaway windows of quiet accounts are forgotten (bounded memory).
        if now >= self.swept + 600 {
            self.swept = now;
            let window = self.policy().runaway_window_secs;
            self.recent
                .retain(|_, t| t.back().is_some_and(|&last| last + window > now));
        }
        // Everything due fires "now"; a fixed order (not insertion order) keeps a shard rebuilt
        // from a snapshot making exactly the changes the live one made.
        let mut fired: Vec<Timer> = self
            .wheel
            .advance(now)
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        fired.sort_by(|a, b| match (a, b) {
            (Timer::Alarm(x, _), Timer::Alarm(y, _)) => x.cmp(y),
            (Timer::Alarm(..), Timer::Supervision(_)) => std::cmp::Ordering::Less,
            (Timer::Supervision(_), Timer::Alarm(..)) => std::cmp::Ordering::Greater,
            // By name, not by table index: a restored shard numbers its accounts differently.
            (Timer::Supervision(x), Timer::Supervision(y)) => {
                self.accounts.name(*x).cmp(self.accounts.name(*y))
            }
        });
        for timer in fired {
            let (id, deadline) = match timer {
                Timer::Alarm(id, deadline) => (id, deadline),
                Timer::Supervision(ix) => {
                    self.silent(ix, now, &mut out);
                    continue;
                }
            };
            let interval = match deadline {
                Deadline::Claim => self
                    .policy()
                    .claim_within(self.priority(id).saturating_sub(1).max(1), now),
                Deadline::Handle => self.policy().handle_within_secs,
                Deadline::Accept => self.policy().accept_within_secs,
                Deadline::OnSite => self.policy().on_site_within(now),
                Deadline::Close => self.policy().close_within_secs,
            };
            if !self.alarms.contains_key(&id) {
                continue;
            }
            self.rearm(id, deadline, now + interval);
            let Some(a) = self.alarms.get_mut(&id) else {
                continue;
            };
            a.escalation_level = a.escalation_level.saturating_add(1);
            a.priority = a.priority.saturating_sub(1).max(1);
            let kind = ChangeKind::Escalated {
                alarm: id,
                deadline,
                level: a.escalation_level,
                priority: a.priority,
            };
            out.push(system(now, kind));
            // Not accepted in time: forward to the next responder, if the account has one.
            let backup = match (deadline, a.team.as_deref()) {
                (Deadline::Accept, team) => self
                    .accounts
                    .by_name(&a.account)
                    .and_then(|acc| acc.backup.as_deref())
                    .filter(|b| Some(*b) != team)
                    .map(str::to_owned),
                _ => None,
            };
            if let Some(team) = backup {
                let kind = ChangeKind::Forwarded {
                    alarm: id,
                    team: team.clone(),
                };
                out.push(system(now, kind));
                self.send_to(id, &team, now, &mut out);
            }
        }
        out
    }

    /// Supervises `account`: it must be heard (any frame) at least every `interval_secs`, plus
    /// the policy's grace, or a [`SUPERVISION_LOST`] alarm opens. Calling again changes the
    /// interval and restarts the clock.
    pub fn supervise(&mut self, account: &str, interval_secs: u64, now: u64) {
        let now = self.observe(now);
        let ix = self.accounts.find_or_add(account);
        let interval = u32::try_from(interval_secs).unwrap_or(u32::MAX).max(1);
        let due = now + u64::from(interval) + self.policy().supervision_grace_secs;
        self.watch(ix, interval, due);
    }

    /// (Re-)arms the silence timer of account `ix` for `due`.
    pub(crate) fn watch(&mut self, ix: AccountIx, interval: u32, due: u64) {
        let Some(a) = self.accounts.get(ix) else {
            return;
        };
        if a.interval > 0 {
            self.wheel.cancel(a.timer);
        }
        let timer = self.wheel.insert(due, Timer::Supervision(ix));
        self.accounts.set_interval(ix, interval);
        if let Some(a) = self.accounts.get_mut(ix) {
            a.timer = timer;
            a.due = due;
        }
    }

    /// Accounts under supervision.
    pub fn supervised_accounts(&self) -> usize {
        self.accounts.supervised()
    }

    /// A frame from `account`: restart its supervision clock; restore a lost supervision.
    fn heard(&mut self, account: &str, now: u64, out: &mut Vec<Change>) {
        if let Some(ix) = self.accounts.find(account) {
            let interval = self.accounts.get(ix).map_or(0, |a| a.interval);
            if interval > 0 {
                let due = now + u64::from(interval) + self.policy().supervision_grace_secs;
                self.watch(ix, interval, due);
            }
        }
        let Some(id) = self.find_open(account, |a| a.code == SUPERVISION_LOST) else {
            return;
        };
        let Some(a) = self.alarms.get(&id) else {
            return;
        };
        if a.state == State::Queued {
            self.finish(id, State::Cancelled, None, now, out);
            out.push(system(now, ChangeKind::SupervisionRestored { alarm: id }));
        } else if let Some(a) = self.alarms.get_mut(&id) {
            // Someone is already on it: tell them, leave the decision to them.
            let text = "device heard again (supervision restored)".to_owned();
            a.notes.push(text.clone());
            out.push(system(now, ChangeKind::Noted { alarm: id, text }));
        }
    }

    /// The supervision timer of `account` ran out: the device is silent.
    fn silent(&mut self, ix: AccountIx, now: u64, out: &mut Vec<Change>) {
        let Some(a) = self.accounts.get(ix) else {
            return;
        };
        let (account, interval) = (a.name.to_string(), a.interval);
        let account = account.as_str();
        // Keep watching: the next loss is reported one interval later if it stays silent.
        self.watch(ix, interval, now + u64::from(interval));
        let kind = ChangeKind::SupervisionLost {
            account: account.to_owned(),
        };
        out.push(system(now, kind));
        // A technical fault is its own alarm, never attached to the citizen's call; one per
        // silent spell.
        if self
            .find_open(account, |a| a.code == SUPERVISION_LOST)
            .is_none()
        {
            let what = Opening {
                code: SUPERVISION_LOST,
                name: Some("Supervision lost (the device went silent)"),
                kind: SUPERVISION_LOST.to_owned(),
                zone: None,
                priority: 3,
            };
            self.open(account, what, now, out);
        }
    }

    pub(crate) fn priority(&self, id: AlarmId) -> u8 {
        self.alarms.get(&id).map_or(3, |a| a.priority)
    }

    /// Replaces the alarm's pending deadline.
    pub(crate) fn rearm(&mut self, id: AlarmId, deadline: Deadline, due: u64) {
        let old = self.alarms.get(&id).and_then(|a| a.timer);
        if let Some(t) = old {
            self.wheel.cancel(t);
        }
        let timer = self.wheel.insert(due, Timer::Alarm(id, deadline));
        if let Some(a) = self.alarms.get_mut(&id) {
            a.timer = Some(timer);
            a.armed = Some((deadline, due));
        }
    }

    /// Ends an alarm: no more deadline, revoke its door grant, keep it among the finished.
    pub(crate) fn finish(
        &mut self,
        id: AlarmId,
        state: State,
        classification: Option<Classification>,
        now: u64,
        out: &mut Vec<Change>,
    ) {
        let Some(a) = self.alarms.get_mut(&id) else {
            return;
        };
        if let Some(t) = a.timer.take() {
            self.wheel.cancel(t);
        }
        a.armed = None;
        a.state = state;
        if classification.is_some() {
            a.classification = classification;
        }
        if let Some(grant) = a.door.take() {
            let kind = ChangeKind::DoorRevoked {
                alarm: id,
                lock: grant.lock,
            };
            out.push(system(now, kind));
        }
        if let Some(open) = self.open_by_account.get_mut(&a.account) {
            open.retain(|o| *o != id);
            if open.is_empty() {
                self.open_by_account.remove(&a.account);
            }
        }
        self.finished.push_back(id);
        while self.finished.len() > FINISHED_KEPT {
            if let Some(old) = self.finished.pop_front() {
                self.alarms.remove(&old);
            }
        }
    }
}

/// What opens an alarm.
struct Opening<'a> {
    code: &'a str,
    name: Option<&'a str>,
    kind: String,
    zone: Option<String>,
    priority: u8,
}

/// A change made by the engine itself.
pub(crate) fn system(now: u64, kind: ChangeKind) -> Change {
    Change {
        at: now,
        actor: Actor::system(),
        kind,
    }
}
