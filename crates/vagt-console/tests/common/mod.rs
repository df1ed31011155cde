//! What the console's integration tests share: a core stand-in and users.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;

use tokio::sync::broadcast;
use vagt_console::server::{Backend, BoxFuture, Failure};
use vagt_console::users::{User, UserRole, Users, entry, hash_password};
use vagt_core::{Actor, Alarm, AlarmId, Change, Command};

/// A core stand-in: a change feed and an empty queue.
pub(crate) struct Feed(pub(crate) broadcast::Sender<Change>);

impl Backend for Feed {
    fn command(
        &self,
        _: Actor,
        _: Command,
        _: Option<SocketAddr>,
    ) -> BoxFuture<'_, Result<Vec<Change>, Failure>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    fn open_alarms(&self) -> Vec<Alarm> {
        Vec::new()
    }
    fn alarm(&self, _: AlarmId) -> Option<Alarm> {
        None
    }
    fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.0.subscribe()
    }
}

/// Operators named `names`, each with the password `<name>-password`.
pub(crate) fn users(names: &[&str]) -> Users {
    let text: String = names
        .iter()
        .map(|name| {
            entry(&User {
                name: (*name).into(),
                role: UserRole::Operator,
                team: None,
                municipality: None,
                password: hash_password(&format!("{name}-password")).unwrap(),
            })
            .unwrap()
        })
        .collect();
    Users::parse(&text).unwrap()
}
