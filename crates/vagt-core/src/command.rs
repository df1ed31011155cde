//! What people do to alarms: the commands a console sends, and their rules.

use serde::{Deserialize, Serialize};

use crate::model::{
    Actor, Alarm, AlarmId, Change, ChangeKind, Classification, Deadline, DoorGrant, Role, State,
};
use crate::shard::{Shard, system};

/// A command from a person (through a console).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Take the alarm: exactly one operator wins.
    Claim {
        /// The alarm.
        alarm: AlarmId,
    },
    /// Give it back to the queue (owner only).
    Release {
        /// The alarm.
        alarm: AlarmId,
    },
    /// Add a note.
    Note {
        /// The alarm.
        alarm: AlarmId,
        /// The text.
        text: String,
    },
    /// Record a call back to the citizen.
    Callback {
        /// The alarm.
        alarm: AlarmId,
        /// What came of it.
        text: String,
    },
    /// Classify the call (it can be changed until the alarm closes).
    Classify {
        /// The alarm.
        alarm: AlarmId,
        /// How.
        classification: Classification,
    },
    /// Forward to a responder team: the named one, or the account's own (provider for a
    /// *nødkald*, home-nurse district for a *sygeplejekald*).
    Forward {
        /// The alarm.
        alarm: AlarmId,
        /// The team; `None` for the account's default.
        team: Option<String>,
    },
    /// The responder accepts the visit.
    Accept {
        /// The alarm.
        alarm: AlarmId,
    },
    /// The responder is with the citizen.
    Arrive {
        /// The alarm.
        alarm: AlarmId,
    },
    /// Close: by its owner at the centre, or after the visit.
    Close {
        /// The alarm.
        alarm: AlarmId,
        /// How it ends.
        classification: Classification,
    },
    /// A supervisor gives a claimed alarm to another operator.
    Reassign {
        /// The alarm.
        alarm: AlarmId,
        /// The new owner.
        to: String,
    },
    /// Take the account's open alarm of one call — its kind and zone, as the correlation groups
    /// events ([`crate::correlation`]) — by what it is rather than its id: for an alarm
    /// acknowledged while the cluster database was away, which has no id until it is in the
    /// shared order. Decided there like a claim (one owner across nodes); the alarm the frame
    /// opened precedes it in that order when both came through the same node.
    ClaimCall {
        /// The account.
        account: String,
        /// The call's kind (`medical alarm`, `fire alarm`, `code QZ` …).
        kind: String,
        /// Its zone, if the event named one.
        #[serde(default)]
        zone: Option<String>,
    },
    /// Switch emergency staffing mode (every shard).
    EmergencyMode {
        /// On or off.
        on: bool,
    },
}

impl Command {
    /// The alarm the command is about (`None` for centre-wide commands).
    pub fn alarm(&self) -> Option<AlarmId> {
        match self {
            Self::Claim { alarm }
            | Self::Release { alarm }
            | Self::Note { alarm, .. }
            | Self::Callback { alarm, .. }
            | Self::Classify { alarm, .. }
            | Self::Forward { alarm, .. }
            | Self::Accept { alarm }
            | Self::Arrive { alarm }
            | Self::Close { alarm, .. }
            | Self::Reassign { alarm, .. } => Some(*alarm),
            Self::ClaimCall { .. } | Self::EmergencyMode { .. } => None,
        }
    }

    /// The account the command is about when it names no alarm (it goes to that account's
    /// shard).
    pub fn account(&self) -> Option<&str> {
        match self {
            Self::ClaimCall { account, .. } => Some(account),
            _ => None,
        }
    }

    /// Whether the command is for the whole centre (every shard applies it).
    pub fn is_centre_wide(&self) -> bool {
        self.alarm().is_none() && self.account().is_none()
    }
}

/// Why a command was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "error", rename_all = "snake_case")]
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
        action: String,
        /// Where the alarm is.
        state: State,
    },
    /// Forward without a team, and the account has none configured.
    #[error("the account has no default team: name one")]
    NoTeam,
    /// Only the owner may do this.
    #[error("only the owner ({owner}) may do this")]
    NotOwner {
        /// The owner.
        owner: String,
    },
    /// No such alarm.
    #[error("no alarm {alarm}")]
    NotFound {
        /// The id asked for.
        alarm: AlarmId,
    },
    /// No open alarm of the account is of that call (closed or cancelled meanwhile, or the
    /// event opened none).
    #[error("no open {kind} alarm of {account}")]
    NoOpenCall {
        /// The account asked for.
        account: String,
        /// The call's kind asked for.
        kind: String,
    },
    /// The actor's role may not do this.
    #[error("a {role:?} may not {action}")]
    Forbidden {
        /// The actor's role.
        role: Role,
        /// What was asked.
        action: String,
    },
}

impl Shard {
    /// Applies a command by `actor` at `now`.
    pub fn command(
        &mut self,
        actor: &Actor,
        command: &Command,
        now: u64,
    ) -> Result<Vec<Change>, CommandError> {
        let now = self.observe(now);
        match command {
            Command::Claim { alarm } => self.claim(*alarm, actor, now),
            Command::ClaimCall {
                account,
                kind,
                zone,
            } => {
                let id = self
                    .open_call(account, kind, zone.as_deref())
                    .ok_or_else(|| CommandError::NoOpenCall {
                        account: account.clone(),
                        kind: kind.clone(),
                    })?;
                self.claim(id, actor, now)
            }
            Command::Release { alarm } => self.release(*alarm, actor, now),
            Command::Note { alarm, text } => self.note(*alarm, actor, text, now),
            Command::Callback { alarm, text } => {
                self.note(*alarm, actor, &format!("callback: {text}"), now)
            }
            Command::Classify {
                alarm,
                classification,
            } => self.classify(*alarm, actor, *classification, now),
            Command::Forward { alarm, team } => {
                let team = match team {
                    Some(t) => t.clone(),
                    None => self.default_team(*alarm)?,
                };
                self.forward(*alarm, actor, &team, now)
            }
            Command::Accept { alarm } => self.accept(*alarm, actor, now),
            Command::Arrive { alarm } => self.arrive(*alarm, actor, now),
            Command::Close {
                alarm,
                classification,
            } => self.close(*alarm, actor, *classification, now),
            Command::Reassign { alarm, to } => self.reassign(*alarm, actor, to, now),
            Command::EmergencyMode { .. } if actor.role != Role::Supervisor => {
                Err(CommandError::Forbidden {
                    role: actor.role,
                    action: "switch emergency staffing mode".into(),
                })
            }
            Command::EmergencyMode { on } => Ok(self.set_emergency_mode(*on, actor, now)),
        }
    }

    /// Claims an alarm: exactly one operator wins; the others learn who.
    pub fn claim(
        &mut self,
        id: AlarmId,
        actor: &Actor,
        now: u64,
    ) -> Result<Vec<Change>, CommandError> {
        let now = self.observe(now);
        let a = self.get(id)?;
        match (a.state, &a.owner) {
            (State::Queued, _) => {}
            (State::Claimed, Some(owner)) => {
                return Err(CommandError::AlreadyClaimed { by: owner.clone() });
            }
            (state, _) => return Err(invalid("claim", state)),
        }
        let due = now + self.policy().handle_within_secs;
        self.move_to(id, State::Claimed, Deadline::Handle, due);
        if let Some(a) = self.alarms.get_mut(&id) {
            a.owner = Some(actor.name.clone());
        }
        Ok(one(now, actor, ChangeKind::Claimed { alarm: id }))
    }

    /// The owner gives the alarm back to the queue.
    pub fn release(
        &mut self,
        id: AlarmId,
        actor: &Actor,
        now: u64,
    ) -> Result<Vec<Change>, CommandError> {
        let now = self.observe(now);
        self.owned_in(id, actor, State::Claimed, "release")?;
        let due = now + self.policy().claim_within(self.priority(id), now);
        self.move_to(id, State::Queued, Deadline::Claim, due);
        if let Some(a) = self.alarms.get_mut(&id) {
            a.owner = None;
        }
        Ok(one(now, actor, ChangeKind::Released { alarm: id }))
    }

    /// Adds a note (or a call-back record) to an open alarm.
    pub fn note(
        &mut self,
        id: AlarmId,
        actor: &Actor,
        text: &str,
        now: u64,
    ) -> Result<Vec<Change>, CommandError> {
        let now = self.observe(now);
        let a = self.open_mut(id, "note")?;
        a.notes.push(text.to_owned());
        let kind = ChangeKind::Noted {
            alarm: id,
            text: text.to_owned(),
        };
        Ok(one(now, actor, kind))
    }

    /// Sets the classification of an open alarm.
    pub fn classify(
        &mut self,
        id: AlarmId,
        actor: &Actor,
        classification: Classification,
        now: u64,
    ) -> Result<Vec<Change>, CommandError> {
        let now = self.observe(now);
        self.open_mut(id, "classify")?.classification = Some(classification);
        let kind = ChangeKind::Classified {
            alarm: id,
            classification,
        };
        Ok(one(now, actor, kind))
    }

    /// The owner forwards the alarm to a responder team; a door lock on the account gets a
    /// time-limited grant for that team.
    pub fn forward(
        &mut self,
        id: AlarmId,
        actor: &Actor,
        team: &str,
        now: u64,
    ) -> Result<Vec<Change>, CommandError> {
        let now = self.observe(now);
        self.owned_in(id, actor, State::Claimed, "forward")?;
        let due = now + self.policy().accept_within_secs;
        self.move_to(id, State::Forwarded, Deadline::Accept, due);
        let mut out = one(
            now,
            actor,
            ChangeKind::Forwarded {
                alarm: id,
                team: team.to_owned(),
            },
        );
        if let Some(a) = self.alarms.get_mut(&id) {
            a.forwarded_at = Some(now);
        }
        self.send_to(id, team, now, &mut out);
        Ok(out)
    }

    /// Makes `team` the alarm's responder; the door grant (if the account has a lock) moves to
    /// it: the previous team's is revoked.
    pub(crate) fn send_to(&mut self, id: AlarmId, team: &str, now: u64, out: &mut Vec<Change>) {
        let lasts = self.policy().on_site_within(now) + self.policy().close_within_secs;
        let lock = self
            .alarms
            .get(&id)
            .and_then(|a| self.accounts.by_name(&a.account))
            .and_then(|s| s.lock.as_deref().map(str::to_owned));
        let Some(a) = self.alarms.get_mut(&id) else {
            return;
        };
        a.team = Some(team.to_owned());
        if let Some(old) = a.door.take() {
            let kind = ChangeKind::DoorRevoked {
                alarm: id,
                lock: old.lock,
            };
            out.push(system(now, kind));
        }
        if let Some(lock) = lock {
            let grant = DoorGrant {
                lock,
                to: team.to_owned(),
                until: now + lasts,
            };
            a.door = Some(grant.clone());
            out.push(system(now, ChangeKind::DoorGranted { alarm: id, grant }));
        }
    }

    /// The responder accepts the visit; the on-site promise runs from the forwarding time.
    pub fn accept(
        &mut self,
        id: AlarmId,
        actor: &Actor,
        now: u64,
    ) -> Result<Vec<Change>, CommandError> {
        let now = self.observe(now);
        let since = self
            .in_state(id, State::Forwarded, "accept")?
            .forwarded_at
            .unwrap_or(now);
        let due = since + self.policy().on_site_within(since);
        self.move_to(id, State::Accepted, Deadline::OnSite, due);
        Ok(one(now, actor, ChangeKind::Accepted { alarm: id }))
    }

    /// The responder is with the citizen.
    pub fn arrive(
        &mut self,
        id: AlarmId,
        actor: &Actor,
        now: u64,
    ) -> Result<Vec<Change>, CommandError> {
        let now = self.observe(now);
        self.in_state(id, State::Accepted, "arrive")?;
        let due = now + self.policy().close_within_secs;
        self.move_to(id, State::OnSite, Deadline::Close, due);
        Ok(one(now, actor, ChangeKind::Arrived { alarm: id }))
    }

    /// Closes an alarm: resolved at the centre by its owner, or after the visit.
    pub fn close(
        &mut self,
        id: AlarmId,
        actor: &Actor,
        classification: Classification,
        now: u64,
    ) -> Result<Vec<Change>, CommandError> {
        let now = self.observe(now);
        match self.get(id)?.state {
            State::Claimed => self.owned_in(id, actor, State::Claimed, "close")?,
            State::OnSite => {}
            state => return Err(invalid("close", state)),
        }
        let mut out = one(
            now,
            actor,
            ChangeKind::Closed {
                alarm: id,
                classification,
            },
        );
        self.finish(id, State::Closed, Some(classification), now, &mut out);
        Ok(out)
    }

    /// A supervisor gives a claimed alarm to another operator.
    pub fn reassign(
        &mut self,
        id: AlarmId,
        actor: &Actor,
        to: &str,
        now: u64,
    ) -> Result<Vec<Change>, CommandError> {
        let now = self.observe(now);
        if actor.role != Role::Supervisor {
            return Err(CommandError::Forbidden {
                role: actor.role,
                action: "reassign".into(),
            });
        }
        self.in_state(id, State::Claimed, "reassign")?;
        let due = now + self.policy().handle_within_secs;
        self.rearm(id, Deadline::Handle, due);
        if let Some(a) = self.alarms.get_mut(&id) {
            a.owner = Some(to.to_owned());
        }
        let kind = ChangeKind::Reassigned {
            alarm: id,
            to: to.to_owned(),
        };
        Ok(one(now, actor, kind))
    }

    /// Switches emergency staffing mode (the other policy set applies to new deadlines).
    pub fn set_emergency_mode(&mut self, on: bool, actor: &Actor, now: u64) -> Vec<Change> {
        let now = self.observe(now);
        self.emergency_mode = on;
        one(now, actor, ChangeKind::EmergencyMode { on })
    }

    fn default_team(&self, id: AlarmId) -> Result<String, CommandError> {
        let a = self.get(id)?;
        self.accounts
            .by_name(&a.account)
            .and_then(|s| s.team.as_deref().map(str::to_owned))
            .ok_or(CommandError::NoTeam)
    }

    fn get(&self, id: AlarmId) -> Result<&Alarm, CommandError> {
        self.alarms
            .get(&id)
            .ok_or(CommandError::NotFound { alarm: id })
    }

    fn open_mut(&mut self, id: AlarmId, action: &str) -> Result<&mut Alarm, CommandError> {
        let a = self
            .alarms
            .get_mut(&id)
            .ok_or(CommandError::NotFound { alarm: id })?;
        if !a.state.is_open() {
            return Err(invalid(action, a.state));
        }
        Ok(a)
    }

    fn owned_in(
        &self,
        id: AlarmId,
        actor: &Actor,
        state: State,
        action: &str,
    ) -> Result<(), CommandError> {
        match &self.in_state(id, state, action)?.owner {
            Some(owner) if owner != &actor.name => Err(CommandError::NotOwner {
                owner: owner.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// The alarm, if it is in `state`; otherwise why `action` does not apply.
    fn in_state(&self, id: AlarmId, state: State, action: &str) -> Result<&Alarm, CommandError> {
        let a = self.get(id)?;
        if a.state != state {
            return Err(invalid(action, a.state));
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
}

fn invalid(action: &str, state: State) -> CommandError {
    CommandError::InvalidTransition {
        action: action.to_owned(),
        state,
    }
}

/// One change by `actor` at `now`, as a command's result.
fn one(now: u64, actor: &Actor, kind: ChangeKind) -> Vec<Change> {
    vec![Change {
        at: now,
        actor: actor.clone(),
        kind,
    }]
}
