//! Calls (alarms) with their lifecycle timestamps, collected from the core's changes.

use std::collections::BTreeMap;

use serde::Serialize;
use vagt_core::{Change, ChangeKind, Classification};
use vagt_records::{AccountEntry, Accounts};

/// One alarm from opening to its end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Call {
    /// Alarm id.
    pub alarm: u64,
    /// Account.
    pub account: String,
    /// The event code that opened it.
    pub code: String,
    /// Priority when opened.
    pub priority: u8,
    /// Opened (seconds since the Unix epoch).
    pub opened: u64,
    /// First claimed.
    pub claimed: Option<u64>,
    /// By whom.
    pub claimed_by: Option<String>,
    /// First forwarded to a responder.
    pub forwarded: Option<u64>,
    /// Accepted by the responder.
    pub accepted: Option<u64>,
    /// Responder on site.
    pub on_site: Option<u64>,
    /// Closed.
    pub closed: Option<u64>,
    /// Cancelled (by a restore, before anyone claimed it).
    pub cancelled: Option<u64>,
    /// Classification (last given).
    pub classification: Option<Classification>,
    /// The responder team (last forwarded to).
    pub team: Option<String>,
    /// Missed deadlines.
    pub escalations: u32,
    /// Repeat events attached.
    pub repeats: u32,
    /// Presses: every alarm event this call carried (the one that opened it and each repeat)
    /// — what a municipality counts as calls.
    pub presses: u32,
    /// The event codes it carried, in order (the opening code first).
    pub events: Vec<String>,
}

impl Call {
    /// A call just opened by `code` on `account` at `at`: one press, nothing else yet.
    pub fn opened(alarm: u64, account: &str, code: &str, priority: u8, at: u64) -> Self {
        Self {
            alarm,
            account: account.to_owned(),
            code: code.to_owned(),
            priority,
            opened: at,
            claimed: None,
            claimed_by: None,
            forwarded: None,
            accepted: None,
            on_site: None,
            closed: None,
            cancelled: None,
            classification: None,
            team: None,
            escalations: 0,
            repeats: 0,
            presses: 1,
            events: vec![code.to_owned()],
        }
    }

    /// Opened → first claim, seconds.
    pub fn time_to_claim(&self) -> Option<u64> {
        self.claimed.map(|c| c.saturating_sub(self.opened))
    }

    /// First forward → on site, seconds.
    pub fn time_to_on_site(&self) -> Option<u64> {
        Some(self.on_site?.saturating_sub(self.forwarded?))
    }
}

/// Everything the changes tell, by alarm; plus runaway flags by account.
#[derive(Debug, Default)]
pub struct Collected {
    /// Calls by alarm id.
    pub calls: BTreeMap<u64, Call>,
    /// When each account was flagged as a runaway device.
    pub runaways: BTreeMap<String, Vec<u64>>,
    /// What the accounts in force said about each alarm's account when it opened (`None`:
    /// not an account then), when the changes came with them ([`Collected::add_in_force`]).
    pub opened_as: BTreeMap<u64, Option<AccountEntry>>,
    /// The same for each runaway account, when it was last flagged.
    pub flagged_as: BTreeMap<String, Option<AccountEntry>>,
}

impl Collected {
    /// Takes one change into account, with the accounts in force when it was made.
    pub fn add_in_force(&mut self, c: &Change, accounts: &Accounts) {
        match &c.kind {
            ChangeKind::Opened { alarm, account, .. } => {
                self.opened_as
                    .insert(alarm.0, accounts.entry(account).cloned());
            }
            ChangeKind::Runaway { account, .. } => {
                self.flagged_as
                    .insert(account.clone(), accounts.entry(account).cloned());
            }
            _ => {}
        }
        self.add(c);
    }

    /// Takes one change into account.
    pub fn add(&mut self, c: &Change) {
        let at = c.at;
        match &c.kind {
            ChangeKind::Opened {
                alarm,
                account,
                code,
                priority,
            } => {
                self.calls
                    .insert(alarm.0, Call::opened(alarm.0, account, code, *priority, at));
            }
            ChangeKind::Runaway { account, .. } => {
                self.runaways.entry(account.clone()).or_default().push(at);
            }
            kind => {
                let Some(call) = kind.alarm().and_then(|id| self.calls.get_mut(&id.0)) else {
                    return;
                };
                match kind {
                    ChangeKind::Attached { code, .. } => {
                        call.repeats += 1;
                        call.presses += 1;
                        call.events.push(code.clone());
                    }
                    ChangeKind::Claimed { .. } if call.claimed.is_none() => {
                        call.claimed = Some(at);
                        call.claimed_by = Some(c.actor.name.clone());
                    }
                    ChangeKind::Forwarded { team, .. } => {
                        call.forwarded.get_or_insert(at);
                        call.team = Some(team.clone());
                    }
                    ChangeKind::Accepted { .. } => {
                        call.accepted.get_or_insert(at);
                    }
                    ChangeKind::Arrived { .. } => {
                        call.on_site.get_or_insert(at);
                    }
                    ChangeKind::Classified { classification, .. } => {
                        call.classification = Some(*classification);
                    }
                    ChangeKind::Closed { classification, .. } => {
                        call.closed = Some(at);
                        call.classification = Some(*classification);
                    }
                    ChangeKind::Cancelled { .. } => call.cancelled = Some(at),
                    ChangeKind::Escalated { .. } => call.escalations += 1,
                    _ => {}
                }
            }
        }
    }
}
