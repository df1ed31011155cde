//! A shard's accounts: settings and supervision clock of every configured device in one compact
//! table, because a centre supervises up to a million of them.
//!
//! Accounts live in a `Vec` (dense, ~5 % slack) and are found by name through a hash table that
//! holds only their 4-byte index; timers refer to an account by that index, so the name is
//! stored once. Team names are shared (a district serves thousands of citizens). An account
//! stays in the table once configured; removing its settings only clears them.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use hashbrown::HashTable;

use crate::wheel::TimerId;

/// An account's place in the table (stable for the shard's lifetime).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct AccountIx(u32);

/// Priority by event code, sorted by code.
pub(crate) type Overrides = Box<[(Box<str>, u8)]>;

/// One configured account.
#[derive(Debug)]
pub(crate) struct Account {
    pub(crate) name: Box<str>,
    /// The team a plain "forward" goes to.
    pub(crate) team: Option<Arc<str>>,
    /// The next responder when the team does not accept in time.
    pub(crate) backup: Option<Arc<str>>,
    /// The citizen's electronic door lock.
    pub(crate) lock: Option<Box<str>>,
    /// Priority overrides by event code (few, and rare: a boxed slice searched in order).
    pub(crate) priorities: Option<Overrides>,
    /// Supervision interval in seconds; 0 = not supervised.
    pub(crate) interval: u32,
    /// The pending silence timer (meaningful while supervised).
    pub(crate) timer: TimerId,
    /// When that timer falls due.
    pub(crate) due: u64,
}

/// The table.
#[derive(Debug, Default)]
pub(crate) struct AccountTable {
    accounts: Vec<Account>,
    index: HashTable<u32>,
    hasher: RandomState,
    teams: HashSet<Arc<str>>,
    supervised: usize,
}

impl Account {
    /// This account's priority for event `code`, if overridden.
    pub(crate) fn priority_of(&self, code: &str) -> Option<u8> {
        self.priorities
            .as_deref()?
            .iter()
            .find(|(c, _)| &**c == code)
            .map(|(_, p)| *p)
    }
}

impl AccountTable {
    fn hash(&self, name: &str) -> u64 {
        self.hasher.hash_one(name)
    }

    /// The account called `name`, if configured.
    pub(crate) fn find(&self, name: &str) -> Option<AccountIx> {
        let accounts = &self.accounts;
        self.index
            .find(self.hash(name), |&i| {
                accounts.get(i as usize).is_some_and(|a| &*a.name == name)
            })
            .map(|&i| AccountIx(i))
    }

    /// The account called `name`, added with no settings if new.
    pub(crate) fn find_or_add(&mut self, name: &str) -> AccountIx {
        if let Some(ix) = self.find(name) {
            return ix;
        }
        let i = u32::try_from(self.accounts.len()).unwrap_or(u32::MAX);
        self.accounts.push(Account {
            name: name.into(),
            team: None,
            backup: None,
            lock: None,
            priorities: None,
            interval: 0,
            timer: TimerId::NONE,
            due: 0,
        });
        let (accounts, hasher) = (&self.accounts, &self.hasher);
        self.index.insert_unique(self.hash(name), i, |&j| {
            accounts
                .get(j as usize)
                .map_or(0, |a| hasher.hash_one(&*a.name))
        });
        AccountIx(i)
    }

    /// The account at `ix`.
    pub(crate) fn get(&self, ix: AccountIx) -> Option<&Account> {
        self.accounts.get(ix.0 as usize)
    }

    /// The account at `ix`, to change.
    pub(crate) fn get_mut(&mut self, ix: AccountIx) -> Option<&mut Account> {
        self.accounts.get_mut(ix.0 as usize)
    }

    /// The account called `name`, if configured.
    pub(crate) fn by_name(&self, name: &str) -> Option<&Account> {
        self.find(name).and_then(|ix| self.get(ix))
    }

    /// The name of the account at `ix` ("" if there is none).
    pub(crate) fn name(&self, ix: AccountIx) -> &str {
        self.get(ix).map_or("", |a| &a.name)
    }

    /// Sets the account's team and backup team, sharing one copy of each team name.
    pub(crate) fn set_teams(&mut self, ix: AccountIx, team: Option<&str>, backup: Option<&str>) {
        let team = team.map(|t| self.team_named(t));
        let backup = backup.map(|t| self.team_named(t));
        if let Some(a) = self.get_mut(ix) {
            a.team = team;
            a.backup = backup;
        }
    }

    fn team_named(&mut self, name: &str) -> Arc<str> {
        match self.teams.get(name) {
            Some(shared) => Arc::clone(shared),
            None => {
                let shared: Arc<str> = name.into();
                self.teams.insert(Arc::clone(&shared));
                shared
            }
        }
    }

    /// Marks the account supervised (`interval > 0`) or not, keeping the count.
    pub(crate) fn set_interval(&mut self, ix: AccountIx, interval: u32) {
        let Some(a) = self.accounts.get_mut(ix.0 as usize) else {
            return;
        };
        match (a.interval > 0, interval > 0) {
            (false, true) => self.supervised += 1,
            (true, false) => self.supervised -= 1,
            _ => {}
        }
        a.interval = interval;
    }

    /// Accounts under supervision.
    pub(crate) fn supervised(&self) -> usize {
        self.supervised
    }

    /// Every account.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Account> {
        self.accounts.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_found_by_name_and_teams_are_shared() {
        let mut t = AccountTable::default();
        let a = t.find_or_add("1234");
        let b = t.find_or_add("5678");
        assert_ne!(a, b);
        assert_eq!(t.find_or_add("1234"), a, "an account is added once");
        assert_eq!(t.find("5678"), Some(b));
        assert_eq!(t.find("9999"), None);
        for i in 0..10_000 {
            t.find_or_add(&format!("X{i}"));
        }
        assert_eq!(t.find("X9999").map(|ix| t.name(ix)), Some("X9999"));
        assert_eq!(t.name(a), "1234");
        t.set_teams(a, Some("nord"), None);
        t.set_teams(b, Some("nord"), Some("syd"));
        let (ta, tb) = (
            t.get(a).unwrap().team.clone(),
            t.get(b).unwrap().team.clone(),
        );
        assert!(Arc::ptr_eq(&ta.unwrap(), &tb.unwrap()));
        t.set_interval(a, 60);
        t.set_interval(a, 120);
        t.set_interval(b, 60);
        t.set_interval(b, 0);
        assert_eq!(t.supervised(), 1);
    }
}
