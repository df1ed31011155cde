//! A shard thread: applies its inputs in journal order, then publishes — the read side for
//! consoles and `/alarms`, metrics, and the answer to whoever is waiting on a command.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crossbeam_channel::{Receiver, Sender};
use metrics::{counter, histogram};
use vagt_core::{AccountSetup, Change, ChangeKind, Shard, ShardSnapshot};

use super::records::Input;
use super::{Shared, secs};
use crate::metrics as m;

/// One input and where it is in the journal.
pub(super) struct Item {
    pub(super) offset: u64,
    pub(super) input: Input,
}

/// What the feed sends a shard.
pub(super) enum Msg {
    /// Inputs in journal order; afterwards everything before `upto` is applied.
    Batch { items: Vec<Item>, upto: u64 },
    /// Send your state.
    Snapshot(Sender<(usize, ShardSnapshot)>),
}

/// The shard thread's loop; ends when the feed hangs up.
pub(super) fn run(
    index: usize,
    mut shard: Shard,
    rx: &Receiver<Msg>,
    setups: &[(String, AccountSetup)],
    shared: &Arc<Shared>,
) {
    for msg in rx {
        match msg {
            Msg::Batch { items, upto } => {
                for item in items {
                    let live = item.offset >= shared.live_from;
                    let changes = apply(index, &mut shard, item, setups, shared);
                    publish(&shard, &changes, live, shared);
                }
                if let Some(a) = shared.applied.get(index) {
                    a.store(upto, Ordering::Release);
                }
            }
            Msg::Snapshot(tx) => {
                let _ = tx.send((index, shard.snapshot()));
            }
        }
    }
}

fn apply(
    index: usize,
    shard: &mut Shard,
    item: Item,
    setups: &[(String, AccountSetup)],
    shared: &Shared,
) -> Vec<Change> {
    match item.input {
        Input::Frame {
            account,
            events,
            at,
        } => shard.on_events(&account, &events, at),
        Input::Tick(at) => shard.tick(at),
        Input::Setup(at) => {
            for (account, setup) in setups {
                shard.configure(account, setup.clone(), at);
            }
            Vec::new()
        }
        Input::Command(c) => {
            let result = shard.command(&c.actor, &c.command, secs(c.at_ms));
            // A centre-wide command reaches every shard; one answers.
            let answers = c.command.alarm().is_some() || index == 0;
            if answers && let Some((_, tx)) = shared.waiters.remove(&item.offset) {
                let _ = tx.send(Ok(result.clone()));
            }
            result.unwrap_or_default()
        }
    }
}

/// Updates the read side and, for live inputs (not the replay at start-up), the metrics.
fn publish(shard: &Shard, changes: &[Change], live: bool, shared: &Shared) {
    for c in changes {
        if let Some(id) = c.kind.alarm() {
            match shard.alarm(id) {
                Some(a) if a.state.is_open() => {
                    shared.views.insert(id, a.clone());
                }
                _ => {
                    shared.views.remove(&id);
                }
            }
        }
        if let ChangeKind::EmergencyMode { on } = c.kind {
            shared.emergency.store(on, Ordering::Release);
        }
        if live {
            count(shard, c);
        }
    }
}

fn count(shard: &Shard, c: &Change) {
    match &c.kind {
        ChangeKind::Opened { priority, .. } => {
            counter!(m::CORE_OPENED, "priority" => priority.to_string()).increment(1);
        }
        ChangeKind::Attached { .. } => counter!(m::CORE_REPEATS).increment(1),
        ChangeKind::Escalated {
            deadline, level, ..
        } => {
            let deadline = format!("{deadline:?}").to_lowercase();
            counter!(m::CORE_ESCALATIONS, "deadline" => deadline, "level" => level.to_string())
                .increment(1);
        }
        ChangeKind::Claimed { alarm } => {
            if let Some(a) = shard.alarm(*alarm) {
                histogram!(m::CORE_TIME_TO_CLAIM).record(c.at.saturating_sub(a.opened_at) as f64);
            }
        }
        ChangeKind::Arrived { alarm } => {
            if let Some(since) = shard.alarm(*alarm).and_then(|a| a.forwarded_at) {
                histogram!(m::CORE_TIME_TO_ON_SITE).record(c.at.saturating_sub(since) as f64);
            }
        }
        ChangeKind::SupervisionLost { .. } => counter!(m::CORE_SUPERVISION_LOST).increment(1),
        ChangeKind::Runaway { .. } => counter!(m::CORE_RUNAWAY).increment(1),
        ChangeKind::DoorGranted { .. } => counter!(m::CORE_DOOR_GRANTS).increment(1),
        _ => {}
    }
}
