//! A shard's whole state as data: written periodically so a restart replays only the journal
//! after it, and compared in tests to prove a rebuilt shard equals the live one.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::model::{Alarm, AlarmId};
use crate::policy::Policy;
use crate::shard::{Shard, Timer};

/// Everything that decides a shard's future behaviour, in a canonical order (equal shards give
/// equal snapshots).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardSnapshot {
    /// The shard's clock.
    pub clock: u64,
    /// The last second its timers were advanced to.
    pub timers_at: u64,
    /// The next alarm id it will give out.
    pub next_id: u64,
    /// Ids step by the shard count.
    pub id_stride: u64,
    /// Emergency staffing mode.
    pub emergency_mode: bool,
    /// When runaway windows were last swept.
    pub swept: u64,
    /// Open alarms and the recently finished, by id (deadlines included).
    pub alarms: Vec<Alarm>,
    /// The recently finished, oldest first.
    pub finished: Vec<AlarmId>,
    /// Supervised accounts: account, interval, due second of the silence timer.
    pub supervised: Vec<(String, u64, u64)>,
    /// Recent alarm-event times per account (runaway detection).
    pub recent: Vec<(String, Vec<u64>)>,
}

impl Shard {
    /// The shard's state as data.
    pub fn snapshot(&self) -> ShardSnapshot {
        let mut alarms: Vec<Alarm> = self
            .alarms
            .values()
            .map(|a| Alarm {
                timer: None, // a wheel handle, not state
                ..a.clone()
            })
            .collect();
        alarms.sort_by_key(|a| a.id);
        let mut supervised: Vec<(String, u64, u64)> = self
            .accounts
            .iter()
            .filter(|a| a.interval > 0)
            .map(|a| (a.name.to_string(), u64::from(a.interval), a.due))
            .collect();
        supervised.sort();
        let mut recent: Vec<(String, Vec<u64>)> = self
            .recent
            .iter()
            .map(|(a, t)| (a.clone(), t.iter().copied().collect()))
            .collect();
        recent.sort();
        ShardSnapshot {
            clock: self.clock,
            timers_at: self.wheel.now(),
            next_id: self.next_id,
            id_stride: self.id_stride,
            emergency_mode: self.emergency_mode,
            swept: self.swept,
            alarms,
            finished: self.finished.iter().copied().collect(),
            supervised,
            recent,
        }
    }

    /// A shard with the state of `snap`, under these policies. Per-account settings are not part
    /// of the state: apply them with [`Shard::configure`] afterwards.
    pub fn restore(snap: ShardSnapshot, normal: Policy, emergency: Policy) -> Self {
        let mut shard = Self::new(0, snap.id_stride, normal, emergency, snap.timers_at);
        shard.clock = snap.clock;
        shard.next_id = snap.next_id;
        shard.emergency_mode = snap.emergency_mode;
        shard.swept = snap.swept;
        shard.finished = VecDeque::from(snap.finished);
        for mut a in snap.alarms {
            a.timer = a
                .armed
                .map(|(deadline, due)| shard.wheel.insert(due, Timer::Alarm(a.id, deadline)));
            if a.state.is_open() {
                shard
                    .open_by_account
                    .entry(a.account.clone())
                    .or_default()
                    .push(a.id);
            }
            shard.alarms.insert(a.id, a);
        }
        for (account, interval, due) in snap.supervised {
            let ix = shard.accounts.find_or_add(&account);
            let interval = u32::try_from(interval).unwrap_or(u32::MAX).max(1);
            shard.watch(ix, interval, due);
        }
        shard.recent = snap
            .recent
            .into_iter()
            .map(|(a, t)| (a, VecDeque::from(t)))
            .collect::<HashMap<_, _>>();
        shard
    }
}
