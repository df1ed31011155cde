//! The console protocol, version 1: JSON text messages over a WebSocket over TLS
//! (`docs/console-protocol.md`).

use serde::{Deserialize, Serialize};
use vagt_core::{Alarm, Change, Command, CommandError};

/// The protocol version the server speaks.
pub const VERSION: u32 = 1;

/// Client → server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// The first message: who is this.
    Login {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
    /// A command to the core; the answer carries the same `id`.
    Command {
        /// Chosen by the client.
        id: u64,
        /// What (e.g. `{"command":"claim","alarm":7}`).
        command: Command,
    },
}

/// Server → client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// Logged in.
    Welcome {
        /// Protocol version.
        v: u32,
        /// User name.
        user: String,
        /// Role.
        role: crate::users::UserRole,
        /// A responder's team.
        team: Option<String>,
    },
    /// Login refused (the connection closes).
    Denied {
        /// Why.
        reason: String,
    },
    /// The whole queue as this user may see it, most urgent first; sent after login and
    /// whenever the client fell behind the change feed.
    Snapshot {
        /// Open alarms.
        alarms: Vec<Alarm>,
    },
    /// Something changed.
    Change {
        /// The change.
        change: Change,
        /// The alarm it concerns as it is now, if it is still open (absent once it closed or
        /// for centre-wide changes).
        alarm: Option<Box<Alarm>>,
    },
    /// A command succeeded.
    Result {
        /// The command's id.
        id: u64,
        /// What it changed.
        changes: Vec<Change>,
    },
    /// A command was refused, with the core's reason (e.g. already claimed by someone).
    Refused {
        /// The command's id.
        id: u64,
        /// Why.
        error: CommandError,
    },
    /// A command could not be carried out (not allowed for this role, core unavailable, bad
    /// message).
    Error {
        /// The command's id, if the message had one.
        id: Option<u64>,
        /// What went wrong.
        message: String,
    },
}
