//! Domain types: alarms, their states, classifications, actors and lifecycle events.

use std::fmt;

use crate::wheel::TimerId;

/// An alarm's id, unique within the centre.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AlarmId(pub u64);

impl fmt::Display for AlarmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "A{}", self.0)
    }
}

/// Where an alarm is in its life (DESIGN.md §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    /// Still needs someone: not closed or cancelled.
    pub fn is_open(self) -> bool {
        !matches!(self, Self::Closed | Self::Cancelled)
    }
}

/// How a call is classified when closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

/// Who acts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alarm {
    /// Id.
    pub id: AlarmId,
    /// The account (device) it came from.
    pub account: String,
    /// When it opened (seconds since the Unix epoch).
    pub opened_at: u64,
    /// The event code that opened it.
    pub code: String,
    /// 1 (life safety) … 5; escalation raises it.
    pub priority: u8,
    /// Where it is.
    pub state: State,
    /// The operator who owns it.
    pub owner: Option<String>,
    /// The responder team it was forwarded to.
    pub team: Option<String>,
    /// When it was forwarded.
    pub forwarded_at: Option<u64>,
    /// Set when closed.
    pub classification: Option<Classification>,
    /// How many times it escalated.
    pub escalation_level: u8,
    /// Further alarm events from the same account while this one was open.
    pub repeats: u32,
    /// Notes and call-back records, in order.
    pub notes: Vec<String>,
    /// The pending deadline timer (every open alarm has one).
    pub(crate) timer: Option<(TimerId, Deadline)>,
}

impl Alarm {
    /// The deadline currently armed, if any.
    pub fn deadline(&self) -> Option<Deadline> {
        self.timer.map(|(_, d)| d)
    }
}

/// A change the core made; each is journaled with its actor and time (event sourcing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// When (seconds since the Unix epoch).
    pub at: u64,
    /// Who.
    pub actor: Actor,
    /// What.
    pub kind: ChangeKind,
}

/// What changed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChangeKind {
    /// A responder accepted.
    Accepted(AlarmId),
    /// The responder arrived.
    Arrived(AlarmId),
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
    Cancelled(AlarmId),
    /// An operator claimed it.
    Claimed(AlarmId),
    /// Closed with a classification.
    Closed(AlarmId, Classification),
    /// Emergency staffing mode switched.
    EmergencyMode(bool),
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
    Forwarded(AlarmId, String),
    /// A note or call-back record.
    Noted(AlarmId, String),
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
    /// The owner let it go back to the queue.
    Released(AlarmId),
    /// A supervised device was silent past its interval plus grace.
    SupervisionLost(String),
    /// The device was heard again and its unclaimed supervision alarm was cleared.
    SupervisionRestored(AlarmId),
    /// An account sent more than the runaway limit: flagged, supervisors notified.
    Runaway {
        /// The account.
        account: String,
        /// Events in the window.
        events: usize,
    },
}
