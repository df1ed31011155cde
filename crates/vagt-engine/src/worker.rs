//! A shard thread: applies its inputs in journal order, then publishes — the read side for
//! consoles and `/alarms`, metrics, and the answer to whoever is waiting on a command.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crossbeam_channel::{Receiver, Sender};
use dashmap::mapref::entry::Entry;
use metrics::{counter, histogram};
use vagt_core::{AccountSetup, Change, ChangeKind, Shard, ShardSnapshot};

use tracing::warn;
use vagt_proto::Settings;

use super::door::{DoorNotice, DoorQueue};
use super::records::{self, Input};
use vagt_records::time::secs;

use super::{HISTORY_FIRST, HISTORY_PER_ALARM, History, Shared, View};
use crate::metrics as m;
use vagt_records::Accounts;

/// One record for a shard and where it is in the journal.
pub(super) struct Item {
    pub(super) offset: u64,
    pub(super) work: Work,
}

/// A record as the feed passes it on.
#[derive(Clone)]
pub(super) enum Work {
    /// A frame record, still to be decoded (by the shard, so decoding runs in parallel).
    Frame(Vec<u8>),
    /// Any other record, decoded.
    Input(Input),
}

/// What a shard thread needs besides its shard.
pub(super) struct Context {
    pub(super) index: usize,
    /// How many shards there are.
    pub(super) shards: usize,
    /// This shard's accounts' settings at start (the accounts file); a journaled set of
    /// accounts replaces them from its record on.
    pub(super) setups: Vec<(String, AccountSetup)>,
    pub(super) accounts: Arc<Accounts>,
    pub(super) settings: Settings,
    pub(super) shared: Arc<Shared>,
    /// The lock vendor's webhook queue, if configured.
    pub(super) door: Option<DoorQueue>,
    /// Handles of the counters bumped most.
    pub(super) counters: m::ShardCounters,
}

/// What the feed sends a shard.
pub(super) enum Msg {
    /// Inputs in journal order; afterwards everything before `upto` is applied.
    Batch { items: Vec<Item>, upto: u64 },
    /// Send your state, and your open alarms' histories.
    Snapshot(Sender<(usize, ShardSnapshot, History)>),
}

/// The shard thread's loop; ends when the feed hangs up.
pub(super) fn run(mut shard: Shard, rx: &Receiver<Msg>, cx: &Context) {
    let shared = &*cx.shared;
    let mut setups = Setups {
        index: cx.index,
        shards: cx.shards,
        list: cx.setups.clone(),
    };
    for msg in rx {
        match msg {
            Msg::Batch { items, upto } => {
                for item in items {
                    let live = item.offset >= shared.live_from.load(Ordering::Acquire);
                    let input = match item.work {
                        Work::Input(input) => input,
                        Work::Frame(payload) => {
                            match records::decode(&payload, &cx.accounts, &cx.settings) {
                                Ok(Some(input)) => input,
                                Ok(None) => continue,
                                Err(e) => {
                                    warn!(
                                        offset = item.offset,
                                        "core skips a record it cannot decode: {e:#}"
                                    );
                                    counter!(m::CORE_FEED_ERRORS).increment(1);
                                    continue;
                                }
                            }
                        }
                    };
                    apply(&mut shard, item.offset, input, live, cx, &mut setups);
                }
                if let Some(a) = shared.applied.get(cx.index) {
                    a.store(upto, Ordering::Release);
                }
            }
            Msg::Snapshot(tx) => {
                let history = shard
                    .open_alarms()
                    .filter_map(|a| {
                        let v = shared.views.get(&a.id)?;
                        Some((a.id, v.history.iter().cloned().collect()))
                    })
                    .collect();
                let _ = tx.send((cx.index, shard.snapshot(), history));
            }
        }
    }
}

/// Applies an input, publishes what changed, then answers the command's waiter — in that order,
/// so whoever hears "done" already finds the change on the read side.
fn apply(
    shard: &mut Shard,
    offset: u64,
    input: Input,
    live: bool,
    cx: &Context,
    setups: &mut Setups,
) {
    let result = apply_input(shard, &input, setups);
    let changes = result.clone().unwrap_or_default();
    publish(shard, &changes, live, cx);
    if let Input::Command(c) = &input {
        // A centre-wide command reaches every shard; one answers.
        // Only commands of this run have a waiter (a replayed one may reuse its number).
        let answers = offset >= cx.shared.live_from.load(Ordering::Acquire)
            && (!c.command.is_centre_wide() || cx.index == 0);
        if answers && let Some((_, tx)) = cx.shared.waiters.remove(&c.request) {
            let _ = tx.send(Ok(result));
        }
    }
}

/// A shard's accounts' settings as they are in force: the accounts file's at start, then each
/// journaled set of accounts' from its record on.
pub(crate) struct Setups {
    /// Which shard.
    pub(crate) index: usize,
    /// Of how many.
    pub(crate) shards: usize,
    /// This shard's accounts and their settings.
    pub(crate) list: Vec<(String, AccountSetup)>,
}

/// Applies one journaled input to a shard — the same step live, at start-up and offline
/// (reports): a refused command is `Err` and changes nothing.
pub(crate) fn apply_input(
    shard: &mut Shard,
    input: &Input,
    setups: &mut Setups,
) -> Result<Vec<Change>, vagt_core::CommandError> {
    Ok(match input {
        Input::Frame {
            account,
            events,
            at,
        } => shard.on_events(account, events, *at),
        Input::Tick(at) => shard.tick(*at),
        Input::Setup(at) => {
            shard.reconfigure(&setups.list, *at);
            Vec::new()
        }
        Input::Accounts { at, accounts } => {
            setups.list = super::setups_of_shard(accounts, setups.index, setups.shards);
            shard.reconfigure(&setups.list, *at);
            Vec::new()
        }
        // Parts are gathered before they reach a shard (`SetupParts`).
        Input::SetupPart(_) => Vec::new(),
        Input::Command(c) => return shard.command(&c.actor, &c.command, secs(c.at_ms)),
    })
}

/// Updates the read side and, for live inputs (not the replay at start-up), the metrics.
fn publish(shard: &Shard, changes: &[Change], live: bool, cx: &Context) {
    let shared = &*cx.shared;
    for c in changes {
        let open = c
            .kind
            .alarm()
            .and_then(|id| shard.alarm(id))
            .filter(|a| a.state.is_open());
        if let Some(id) = c.kind.alarm() {
            match open {
                Some(a) => match shared.views.entry(id) {
                    Entry::Occupied(mut e) => {
                        let view = e.get_mut();
                        view.alarm.clone_from(a);
                        remember(&mut view.history, c.clone());
                    }
                    Entry::Vacant(e) => {
                        e.insert(View {
                            alarm: a.clone(),
                            history: VecDeque::from([c.clone()]),
                        });
                    }
                },
                None => {
                    shared.views.remove(&id);
                }
            }
        }
        if let ChangeKind::EmergencyMode { on } = c.kind {
            shared.emergency.store(on, Ordering::Release);
        }
        if live {
            count(shard, c, &cx.counters);
            if let Some(tap) = shared.tap.get() {
                tap.send(c.clone(), open.cloned());
            }
            if let Some(door) = &cx.door
                && let Some(notice) = DoorNotice::of(shard, &c.kind, c.at)
            {
                door.send(notice);
            }
        }
    }
}

/// Adds `c` to an alarm's history; when full, the oldest change after the first
/// [`HISTORY_FIRST`] makes room (so "opened" and the first claim stay in view).
fn remember(history: &mut VecDeque<Change>, c: Change) {
    if history.len() >= HISTORY_PER_ALARM {
        history.remove(HISTORY_FIRST.min(history.len() - 1));
    }
    history.push_back(c);
}

fn count(shard: &Shard, c: &Change, counters: &m::ShardCounters) {
    match &c.kind {
        ChangeKind::Opened { priority, .. } => counters.opened(*priority),
        ChangeKind::Attached { .. } => counters.repeat(),
        ChangeKind::Escalated {
            deadline, level, ..
        } => {
            let deadline = format!("{deadline:?}").to_lowercase();
            counter!(m::CORE_ESCALATIONS, "deadline" => deadline, "level" => level.to_string())
                .increment(1);
        }
        ChangeKind::Claimed { alarm } => {
            if let Some(a) = shard.alarm(*alarm) {
                let shift = shard.shift_at(a.opened_at).as_str();
                histogram!(m::CORE_TIME_TO_CLAIM, "shift" => shift)
                    .record(c.at.saturating_sub(a.opened_at) as f64);
            }
        }
        ChangeKind::Arrived { alarm } => {
            if let Some(since) = shard.alarm(*alarm).and_then(|a| a.forwarded_at) {
                let shift = shard.shift_at(since).as_str();
                histogram!(m::CORE_TIME_TO_ON_SITE, "shift" => shift)
                    .record(c.at.saturating_sub(since) as f64);
            }
        }
        ChangeKind::Closed { classification, .. } => {
            let class = classification.as_str();
            counter!(m::CORE_CLOSED, "classification" => class).increment(1);
        }
        ChangeKind::SupervisionLost { .. } => counter!(m::CORE_SUPERVISION_LOST).increment(1),
        ChangeKind::Runaway { .. } => counter!(m::CORE_RUNAWAY).increment(1),
        ChangeKind::DoorGranted { .. } => counter!(m::CORE_DOOR_GRANTS).increment(1),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use vagt_core::{Actor, AlarmId, ChangeKind};

    use super::*;

    fn attached(repeats: u32) -> Change {
        Change {
            at: u64::from(repeats),
            actor: Actor::system(),
            kind: ChangeKind::Attached {
                alarm: AlarmId(1),
                code: "QA".into(),
                repeats,
            },
        }
    }

    #[test]
    fn a_long_history_keeps_its_first_changes_and_the_newest() {
        let mut history = VecDeque::new();
        for n in 0..1_000 {
            remember(&mut history, attached(n));
        }
        assert_eq!(history.len(), HISTORY_PER_ALARM);
        let times: Vec<u64> = history.iter().map(|c| c.at).collect();
        let first: Vec<u64> = (0..HISTORY_FIRST as u64).collect();
        let newest: Vec<u64> =
            (1_000 - (HISTORY_PER_ALARM - HISTORY_FIRST) as u64..1_000).collect();
        assert_eq!(times, [first, newest].concat());
    }
}
