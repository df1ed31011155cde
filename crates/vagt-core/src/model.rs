//! Domain types: alarms, their states, classifications, actors and lifecycle events.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::wheel::TimerId;

/// An alarm's id, unique within the centre.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AlarmId(pub u64);

impl fmt::Display for AlarmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "A{}", self.0)
    }
}

/// Where an alarm is in its life (DESIGN.md §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// An operator owns it (calling back, deciding).
    Claimed,
    /// Cleared by a restore before anyone claimed it.
    Cancelled,
    /// Done.
    Closed,
    /// Handed to a responder team, not yet accepted.
    Forwarded,
    /// The responder accepted the visit.
    Accepted,
    /// The responder is with the citizen.
    OnSite,
    /// Waiting for an operator.
    Queued,
}

impl State {
    /// The name as JSON, metrics and reports spell it (`on_site`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Claimed => "claimed",
            Self::Cancelled => "cancelled",
            Self::Closed => "closed",
            Self::Forwarded => "forwarded",
            Self::Accepted => "accepted",
            Self::OnSite => "on_site",
            Self::Queued => "queued",
        }
    }

    /// Still needs someone: not closed or cancelled.
    pub fn is_open(self) -> bool {
        !matches!(self, Self::Closed | Self::Cancelled)
    }
}

/// How a call is classified when closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// A real emergency.
    Emergency,
    /// Pressed by mistake.
    FalseCall,
    /// The citizen needed reassurance.
    ReassuranceCall,
    /// The same need, called again.
    RepeatCall,
    /// Low battery, tamper, lost supervision…
    Technical,
}

impl Classification {
    /// The name as JSON, metrics and reports spell it (`false_call`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Emergency => "emergency",
            Self::FalseCall => "false_call",
            Self::ReassuranceCall => "reassurance_call",
            Self::RepeatCall => "repeat_call",
            Self::Technical => "technical",
        }
    }
}

/// Who acts.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    /// The user name (or `system`).
    pub name: String,
    /// Their role.
    pub role: Role,
}

impl Actor {
    /// The engine itself (timers, rules).
    pub fn system() -> Self {
        Self {
            name: "system".into(),
            role: Role::System,
        }
    }

    /// An operator called `name`.
    pub fn operator(name: &str) -> Self {
        Self {
            name: name.into(),
            role: Role::Operator,
        }
    }
}

/// Roles (the console enforces them; the core records them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Centre operator.
    Operator,
    /// Home-care / home-nurse responder.
    Responder,
    /// Supervisor.
    Supervisor,
    /// The engine.
    System,
}

/// Which deadline a timer guards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Deadline {
    /// Not claimed in time.
    Claim,
    /// Claimed but neither resolved nor forwarded in time.
    Handle,
    /// Forwarded but not accepted by the responder in time.
    Accept,
    /// Accepted but the responder not on site by the promised time.
    OnSite,
    /// On site but the visit not closed in time.
    Close,
}

/// An alarm.
///
/// Two alarms are equal when their state is: the wheel entry behind `armed` is not compared
/// (a restored shard re-creates it in another slot).
#[derive(Debug, Eq, Serialize, Deserialize)]
pub struct Alarm {
    /// Id.
    pub id: AlarmId,
    /// The account (device) it came from.
    pub account: String,
    /// When it opened (seconds since the Unix epoch).
    pub opened_at: u64,
    /// The event code that opened it.
    pub code: String,
    /// The code table's name for it (`Burglary Alarm`, `Medical Emergency`), if the code is
    /// known: what the operator reads instead of the code.
    #[serde(default)]
    pub name: Option<String>,
    /// What kind of call it is, for correlation ([`crate::correlation::kind`]): events of
    /// another kind open their own alarm.
    #[serde(default)]
    pub kind: String,
    /// The zone of the event that opened it, if the event named one.
    #[serde(default)]
    pub zone: Option<String>,
    /// 1 (life safety) … 5; escalation raises it.
    pub priority: u8,
    /// Where it is.
    pub state: State,
    /// The operator who owns it.
    pub owner: Option<String>,
    /// The classification chosen so far (set by classify, fixed by close).
    pub classification: Option<Classification>,
    /// The responder team it was forwarded to.
    pub team: Option<String>,
    /// When it was forwarded.
    pub forwarded_at: Option<u64>,
    /// How many times it escalated.
    pub escalation_level: u8,
    /// Further events of the same call (same kind and zone) while this one was open.
    pub repeats: u32,
    /// Notes and call-back records, in order.
    pub notes: Vec<String>,
    /// The door-access grant given to the responder, while it lasts.
    pub door: Option<DoorGrant>,
    /// The pending deadline and when it falls due (every open alarm has one).
    pub armed: Option<(Deadline, u64)>,
    /// The wheel entry behind `armed` (not part of the state: re-created on restore).
    #[serde(skip)]
    pub(crate) timer: Option<TimerId>,
}

impl PartialEq for Alarm {
    fn eq(&self, other: &Self) -> bool {
        // Destructured so that a new field cannot be forgotten here.
        let Self {
            id,
            account,
            opened_at,
            code,
            name,
            kind,
            zone,
            priority,
            state,
            owner,
            classification,
            team,
            forwarded_at,
            escalation_level,
            repeats,
            notes,
            door,
            armed,
            timer: _,
        } = self;
        *id == other.id
            && *account == other.account
            && *opened_at == other.opened_at
            && *code == other.code
            && *name == other.name
            && *kind == other.kind
            && *zone == other.zone
            && *priority == other.priority
            && *state == other.state
            && *owner == other.owner
            && *classification == other.classification
            && *team == other.team
            && *forwarded_at == other.forwarded_at
            && *escalation_level == other.escalation_level
            && *repeats == other.repeats
            && *notes == other.notes
            && *door == other.door
            && *armed == other.armed
    }
}

impl Clone for Alarm {
    fn clone(&self) -> Self {
        let mut out = Self {
            id: self.id,
            account: String::new(),
            opened_at: 0,
            code: String::new(),
            name: None,
            kind: String::new(),
            zone: None,
            priority: 0,
            state: self.state,
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
        out.clone_from(self);
        out
    }

    /// Field by field, reusing this alarm's strings: the read side refreshes its copy after
    /// every change without allocating.
    fn clone_from(&mut self, from: &Self) {
        // Destructured so that a new field cannot be forgotten here.
        let Self {
            id,
            account,
            opened_at,
            code,
            name,
            kind,
            zone,
            priority,
            state,
            owner,
            classification,
            team,
            forwarded_at,
            escalation_level,
            repeats,
            notes,
            door,
            armed,
            timer,
        } = from;
        self.id = *id;
        self.account.clone_from(account);
        self.opened_at = *opened_at;
        self.code.clone_from(code);
        self.name.clone_from(name);
        self.kind.clone_from(kind);
        self.zone.clone_from(zone);
        self.priority = *priority;
        self.state = *state;
        self.owner.clone_from(owner);
        self.classification = *classification;
        self.team.clone_from(team);
        self.forwarded_at = *forwarded_at;
        self.escalation_level = *escalation_level;
        self.repeats = *repeats;
        self.notes.clone_from(notes);
        self.door.clone_from(door);
        self.armed = *armed;
        self.timer = *timer;
    }
}

impl Alarm {
    /// The deadline currently armed, if any.
    pub fn deadline(&self) -> Option<Deadline> {
        self.armed.map(|(d, _)| d)
    }

    /// Its place in the queue: most urgent first (priority, then age, then id).
    pub fn queue_order(&self) -> (u8, u64, AlarmId) {
        (self.priority, self.opened_at, self.id)
    }
}

/// A personal, time-limited access grant to the citizen's electronic door lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoorGrant {
    /// The lock's id (from the accounts file).
    pub lock: String,
    /// Who may open it: the responder team the alarm was forwarded to.
    pub to: String,
    /// Valid until (seconds since the Unix epoch); revoked earlier when the alarm closes.
    pub until: u64,
}

/// A change the core made, with its actor and time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// When (seconds since the Unix epoch).
    pub at: u64,
    /// Who.
    pub actor: Actor,
    /// What.
    pub kind: ChangeKind,
}

/// What changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChangeKind {
    /// A responder accepted.
    Accepted {
        /// The alarm.
        alarm: AlarmId,
    },
    /// The responder arrived.
    Arrived {
        /// The alarm.
        alarm: AlarmId,
    },
    /// A further event from the same account attached to an open alarm.
    Attached {
        /// The open alarm.
        alarm: AlarmId,
        /// The event code.
        code: String,
        /// Repeats so far.
        repeats: u32,
    },
    /// A restore cleared an unclaimed alarm.
    Cancelled {
        /// The alarm.
        alarm: AlarmId,
    },
    /// An operator claimed it.
    Claimed {
        /// The alarm.
        alarm: AlarmId,
    },
    /// Classified (before closing).
    Classified {
        /// The alarm.
        alarm: AlarmId,
        /// How.
        classification: Classification,
    },
    /// Closed with a classification.
    Closed {
        /// The alarm.
        alarm: AlarmId,
        /// How.
        classification: Classification,
    },
    /// A door-access grant was given to the responder.
    DoorGranted {
        /// The alarm.
        alarm: AlarmId,
        /// The grant.
        grant: DoorGrant,
    },
    /// The grant was revoked (the alarm closed).
    DoorRevoked {
        /// The alarm.
        alarm: AlarmId,
        /// The lock.
        lock: String,
    },
    /// Emergency staffing mode switched.
    EmergencyMode {
        /// On or off.
        on: bool,
    },
    /// A deadline passed: escalated one level.
    Escalated {
        /// The alarm.
        alarm: AlarmId,
        /// The deadline missed.
        deadline: Deadline,
        /// New level.
        level: u8,
        /// New priority.
        priority: u8,
    },
    /// Forwarded to a responder team.
    Forwarded {
        /// The alarm.
        alarm: AlarmId,
        /// The team.
        team: String,
    },
    /// A note or call-back record.
    Noted {
        /// The alarm.
        alarm: AlarmId,
        /// The text.
        text: String,
    },
    /// A new alarm.
    Opened {
        /// Its id.
        alarm: AlarmId,
        /// The account.
        account: String,
        /// The event code.
        code: String,
        /// Its priority.
        priority: u8,
    },
    /// A supervisor gave it to another operator.
    Reassigned {
        /// The alarm.
        alarm: AlarmId,
        /// The new owner.
        to: String,
    },
    /// The owner let it go back to the queue.
    Released {
        /// The alarm.
        alarm: AlarmId,
    },
    /// A supervised device was silent past its interval plus grace.
    SupervisionLost {
        /// The account.
        account: String,
    },
    /// The device was heard again and its unclaimed supervision alarm was cleared.
    SupervisionRestored {
        /// The alarm.
        alarm: AlarmId,
    },
    /// An account sent more than the runaway limit: flagged, supervisors notified.
    Runaway {
        /// The account.
        account: String,
        /// Events in the window.
        events: usize,
    },
}

impl ChangeKind {
    /// The alarm the change is about, if it is about one.
    pub fn alarm(&self) -> Option<AlarmId> {
        match self {
            Self::Accepted { alarm }
            | Self::Arrived { alarm }
            | Self::Attached { alarm, .. }
            | Self::Cancelled { alarm }
            | Self::Claimed { alarm }
            | Self::Classified { alarm, .. }
            | Self::Closed { alarm, .. }
            | Self::DoorGranted { alarm, .. }
            | Self::DoorRevoked { alarm, .. }
            | Self::Escalated { alarm, .. }
            | Self::Forwarded { alarm, .. }
            | Self::Noted { alarm, .. }
            | Self::Opened { alarm, .. }
            | Self::Reassigned { alarm, .. }
            | Self::Released { alarm }
            | Self::SupervisionRestored { alarm } => Some(*alarm),
            Self::EmergencyMode { .. } | Self::Runaway { .. } | Self::SupervisionLost { .. } => {
                None
            }
        }
    }
}
