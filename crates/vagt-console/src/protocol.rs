//! The console protocol, version 2: JSON text messages over a WebSocket over TLS
//! (`docs/console-protocol.md`).

use serde::{Deserialize, Serialize};
use vagt_core::{Alarm, AlarmId, Change, Command, CommandError};

/// The protocol version the server speaks.
pub const VERSION: u32 = 2;

/// How long the server gathers changes into one `changes` message while they keep coming. An
/// idle feed sends a change at once; a busy one sends at most one message per window per client
/// (20 a second) instead of one per change.
pub const BATCH_WINDOW_MS: u64 = 50;

/// Client → server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// The first message: who is this.
    Login {
        /// User name.
        user: String,
        /// Password; may be left out on a connection with a client certificate for `user`.
        #[serde(default)]
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
    /// What changed since the last `changes` (or the snapshot): the feed, batched. Under load
    /// the server gathers changes for up to [`BATCH_WINDOW_MS`] and sends them as one message,
    /// with each alarm they touched once, as it is now.
    Changes {
        /// The changes, in the order the core made them.
        changes: Vec<Change>,
        /// Every alarm the changes touched that is still open, as it is now.
        alarms: Vec<Alarm>,
        /// Alarms the changes touched that left this user's queue (closed, cancelled, or —
        /// for a responder — forwarded to another team).
        gone: Vec<AlarmId>,
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
