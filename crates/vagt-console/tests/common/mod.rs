//! What the console's integration tests share: a core stand-in and users.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use vagt_console::server::{Backend, BoxFuture, Failure, Tap};
use vagt_console::users::{User, UserRole, Users, entry, hash_password};
use vagt_core::{Actor, Alarm, Change, Command};

/// What the test feeds the console through.
pub(crate) type FeedSender = crossbeam_channel::Sender<(Change, Option<Alarm>)>;

/// A core stand-in: a change feed the test drives, and an empty queue.
pub(crate) struct Feed(Mutex<Option<Tap>>);

impl Feed {
    /// The stand-in, and the sender that feeds it.
    pub(crate) fn new() -> (Self, FeedSender) {
        let (feed, tx, _) = Self::with_capacity(1 << 16);
        (feed, tx)
    }

    /// With a queue of `capacity`; also the flag a core sets when the queue was full.
    pub(crate) fn with_capacity(capacity: usize) -> (Self, FeedSender, Arc<AtomicBool>) {
        let (tx, rx) = crossbeam_channel::bounded(capacity);
        let overflowed = Arc::new(AtomicBool::new(false));
        let tap = Tap {
            rx,
            overflowed: Arc::clone(&overflowed),
        };
        (Self(Mutex::new(Some(tap))), tx, overflowed)
    }
}

impl Backend for Feed {
    fn command(
        &self,
        _: Actor,
        _: Command,
        _: Option<SocketAddr>,
        _: Option<String>,
    ) -> BoxFuture<'_, Result<Vec<Change>, Failure>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    fn open_alarms(&self) -> Vec<Alarm> {
        Vec::new()
    }
    fn tap(&self) -> Option<Tap> {
        self.0.lock().unwrap().take()
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
                disabled: false,
            })
            .unwrap()
        })
        .collect();
    Users::parse(&text).unwrap()
}

/// Sends the login of `user` (password `<user>-password`).
pub(crate) async fn login<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>, user: &str)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures_util::SinkExt;
    let login =
        serde_json::json!({"type": "login", "user": user, "password": format!("{user}-password")});
    ws.send(tokio_tungstenite::tungstenite::Message::Text(
        login.to_string().into(),
    ))
    .await
    .unwrap();
}
