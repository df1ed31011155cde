//! The console protocol, version 2: JSON text messages over a WebSocket over TLS
//! (`docs/console-protocol.md`).

use serde::{Deserialize, Serialize};
use vagt_core::{Alarm, AlarmId, Change, Command, CommandError};

/// The protocol version the server speaks.
pub const VERSION: u32 = 2;

/// How often the server sends what changed since the last time, as one `changes` message per
/// client (at most 20 a second, instead of one per change).
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
    /// The first message instead of `login`, on a first run only (the users file has no
    /// admin): creates the first admin with the set-up link's token and logs in as them.
    Setup {
        /// The token of the set-up link `vagt serve` printed.
        token: String,
        /// The admin's user name.
        user: String,
        /// Their password (at least 12 characters).
        password: String,
    },
    /// A command to the core; the answer carries the same `id`.
    Command {
        /// Chosen by the client.
        id: u64,
        /// What (e.g. `{"command":"claim","alarm":7}`).
        command: Command,
    },
    /// One alarm in full: the account's citizen and services, and its history.
    Detail {
        /// Chosen by the client.
        id: u64,
        /// Which alarm.
        alarm: AlarmId,
    },
    /// A report from the journal (supervisors, auditors, admins); the answer carries `id`.
    Report {
        /// Chosen by the client.
        id: u64,
        /// Which report.
        #[serde(default)]
        request: ReportRequest,
    },
    /// An administrator's request (admins only): the users and the citizen register. The
    /// answer is `admin` with the same `id`, or `error`.
    Admin {
        /// Chosen by the client.
        id: u64,
        /// What.
        request: AdminRequest,
    },
    /// Is the connection alive? Answered at once with `pong` and the same `id` (the web
    /// console sends one every 5 s and shows NOT LIVE when no message came for 15 s: a
    /// silently dead connection is never taken for a quiet queue).
    Ping {
        /// Chosen by the client.
        id: u64,
    },
}

/// What an admin asks (`{"action": "add_user", …}`). Every change is journaled before it
/// takes effect (`vagt audit export`), without passwords or a citizen's data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum AdminRequest {
    /// Every console user (no password hashes).
    Users,
    /// A new user.
    AddUser {
        /// Login name: 1–64 letters, digits, `.`, `_` or `-`.
        name: String,
        /// Their role.
        role: crate::users::UserRole,
        /// A responder's team.
        #[serde(default)]
        team: Option<String>,
        /// An auditor's municipality.
        #[serde(default)]
        municipality: Option<String>,
        /// At least 12 characters.
        password: String,
    },
    /// A user's role, team and municipality (their sessions end: they log in again).
    UpdateUser {
        /// Which user.
        name: String,
        /// The new role.
        role: crate::users::UserRole,
        /// A responder's team.
        #[serde(default)]
        team: Option<String>,
        /// An auditor's municipality.
        #[serde(default)]
        municipality: Option<String>,
    },
    /// A new password for a user (their sessions end).
    SetPassword {
        /// Which user.
        name: String,
        /// At least 12 characters.
        password: String,
    },
    /// Disables (or enables again) a user: a disabled user cannot log in, and their sessions
    /// end at once.
    SetDisabled {
        /// Which user.
        name: String,
        /// Disabled or not.
        disabled: bool,
    },
    /// The register's list: every citizen's reference and name (journaled as a view).
    Citizens,
    /// One citizen's record (journaled as a view).
    Citizen {
        /// The reference.
        citizen: String,
    },
    /// Adds a citizen's record, or replaces the one with its reference; the register file is
    /// written (owner-only) and used at once. A record that exists is replaced only with
    /// `expected` — the record as the admin opened it — and only if it is still that (another
    /// admin's change or a reload in between refuses it).
    PutCitizen {
        /// The record.
        record: Box<vagt_records::Citizen>,
        /// The record as the admin opened it (absent: a new record).
        #[serde(default)]
        expected: Option<Box<vagt_records::Citizen>>,
    },
    /// Removes a citizen's record.
    RemoveCitizen {
        /// The reference.
        citizen: String,
    },
    /// Every account (without keys: whether it has one).
    Accounts,
    /// Adds an account or replaces the one with its account, line and receiver; the accounts
    /// file is written and used at once (journaled first, as a reload is). An entry that exists
    /// is replaced only with `expected` (as the admin saw it) and only if it is still that.
    PutAccount {
        /// The account's fields (its `key` is ignored: see `key`).
        record: Box<vagt_records::AccountEntry>,
        /// A new AES key (`hex:…` / `text:…`); absent or empty: the account keeps its key.
        #[serde(default)]
        key: Option<String>,
        /// The entry as the admin saw it (absent: a new entry).
        #[serde(default)]
        expected: Option<Box<AccountView>>,
    },
    /// Removes an account.
    RemoveAccount {
        /// The account number.
        account: String,
        /// Its line, if the entry names one.
        #[serde(default)]
        line: Option<String>,
        /// Its receiver, if the entry names one.
        #[serde(default)]
        receiver: Option<String>,
    },
}

/// An account as an admin sees it: its fields, and whether it has a key (never the key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    /// The accounts file's fields (the key is never sent).
    #[serde(flatten)]
    pub entry: vagt_records::AccountEntry,
    /// Whether the account has an AES key.
    pub encrypted: bool,
}

/// A console user as an admin sees them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// Login name.
    pub name: String,
    /// Role.
    pub role: crate::users::UserRole,
    /// A responder's team.
    pub team: Option<String>,
    /// An auditor's municipality.
    pub municipality: Option<String>,
    /// May not log in.
    pub disabled: bool,
}

/// One line of the register's list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CitizenEntry {
    /// The reference.
    pub citizen: String,
    /// The name.
    pub name: String,
}

/// The answer to an [`AdminRequest`] (`{"result": "users", …}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum AdminReply {
    /// Every user, by name (after a change to users: as they are now).
    Users {
        /// The users.
        users: Vec<UserInfo>,
    },
    /// The register's list (after a change to it: as it is now).
    Citizens {
        /// By reference.
        citizens: Vec<CitizenEntry>,
        /// The register's version ([`vagt_records::Citizens::version`]).
        version: String,
    },
    /// One citizen's record.
    Citizen {
        /// The record.
        record: vagt_records::Citizen,
        /// The register's version it is from.
        version: String,
    },
    /// Every account, by account number (after a change to them: as they are now).
    Accounts {
        /// The accounts.
        accounts: Vec<AccountView>,
    },
}

/// An alarm as the queue shows it: the core's alarm, and what the accounts in use say of its
/// account — its call type, or that it is not an account of the centre's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueAlarm {
    /// The alarm, its fields at the top level.
    #[serde(flatten)]
    pub alarm: Alarm,
    /// `nodkald`, `sygeplejekald`, `intrusion`, `fire` or `other` (none: unknown account).
    #[serde(default)]
    pub call_type: Option<String>,
    /// The account is not in the accounts file (its frames are acknowledged and flagged).
    #[serde(default)]
    pub unknown_account: bool,
}

/// An alarm acknowledged while degraded and not yet in the shared queue.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provisional {
    /// The account.
    pub account: String,
    /// When it was received (seconds since the Unix epoch).
    pub received_at: u64,
    /// The first event's code (`FA`, `QA`, `1100` …), if it decoded.
    pub code: Option<String>,
    /// What the code means (`fire alarm` …).
    pub kind: Option<String>,
    /// The command that claims the alarm this frame opens (`claim_call`: account, kind and
    /// zone), decided when the frame is in the shared order; `None` when it opens none (a
    /// restore, an informational event).
    #[serde(default)]
    pub claim: Option<Command>,
}

/// What the accounts file says about the account an alarm came from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountInfo {
    /// Pseudonymous citizen reference.
    pub citizen: Option<String>,
    /// `nodkald`, `sygeplejekald`, `intrusion`, `fire` or `other`.
    pub call_type: String,
    /// Home-care provider.
    pub provider: Option<String>,
    /// Home-nurse district.
    pub district: Option<String>,
    /// Municipality.
    pub municipality: Option<String>,
    /// Backup responder team.
    pub backup_team: Option<String>,
    /// Electronic door lock.
    pub door_lock: Option<String>,
    /// Supervision interval (seconds), if the device is supervised.
    pub supervision_interval_secs: Option<u64>,
}

/// Which report: `vagt report monthly` over the console.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    /// `YYYY-MM` in the centre's time zone; absent: the current month so far.
    #[serde(default)]
    pub month: Option<String>,
    /// Only citizens of this municipality (an auditor bound to one always gets theirs).
    #[serde(default)]
    pub municipality: Option<String>,
    /// Only citizens whose calls go to this provider or home-nurse district.
    #[serde(default)]
    pub provider: Option<String>,
    /// What to send back.
    #[serde(default)]
    pub format: ReportFormat,
    /// For `csv`: which table.
    #[serde(default)]
    pub table: ReportTable,
    /// For `csv`: the field separator (`;` for Danish Excel); default `,`.
    #[serde(default)]
    pub delimiter: Option<char>,
}

/// Report formats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    /// SLA per shift, exceptions and top callers, without the call and citizen lists (JSON):
    /// the supervisor view.
    #[default]
    Summary,
    /// The whole extract as JSON.
    Json,
    /// One table as CSV (UTF-8).
    Csv,
    /// A self-contained page with charts.
    Html,
}

/// Which table a CSV report holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportTable {
    /// One row per call.
    #[default]
    Calls,
    /// One row per citizen.
    Citizens,
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
        /// The responder teams an alarm can be forwarded to, sorted: every team of the users
        /// file and every provider, district and backup team of the accounts file.
        teams: Vec<String>,
        /// For supervisors: the operators and supervisors an alarm can be reassigned to,
        /// sorted (disabled users left out).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        operators: Vec<String>,
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
        alarms: Vec<QueueAlarm>,
        /// Whether emergency staffing mode is on (later switches come as `emergency_mode`
        /// changes).
        #[serde(default)]
        emergency_mode: bool,
    },
    /// What changed since the last `changes` (or the snapshot): the feed, batched every
    /// [`BATCH_WINDOW_MS`], with each alarm the changes touched once, as it is now.
    Changes {
        /// The changes, in the order the core made them.
        changes: Vec<Change>,
        /// Every alarm the changes touched that is still open, as it is now.
        alarms: Vec<QueueAlarm>,
        /// Alarms the changes touched that left this user's queue (closed, cancelled, or —
        /// for a responder — forwarded to another team).
        gone: Vec<AlarmId>,
    },
    /// The answer to `ping`.
    Pong {
        /// The ping's id.
        id: u64,
        /// The node acknowledges alarms on its own disk alone (cluster mode: the database is
        /// not committing); consoles show it until it is over.
        #[serde(default)]
        degraded: bool,
        /// While degraded: alarms this node acknowledged that are not in the shared queue yet
        /// (they appear there when the database is back), newest last; operators and
        /// supervisors only.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        provisional: Vec<Provisional>,
    },
    /// A command succeeded.
    Result {
        /// The command's id.
        id: u64,
        /// What it changed.
        changes: Vec<Change>,
    },
    /// One alarm in full.
    Detail {
        /// The request's id.
        id: u64,
        /// The alarm as it is now.
        alarm: Box<Alarm>,
        /// Its account, if the accounts file has it.
        account: Option<AccountInfo>,
        /// The citizen from the register, when the account names one the register has (the
        /// view is journaled before this is sent).
        citizen: Option<Box<vagt_records::Citizen>>,
        /// What happened to it, oldest first, as this console server saw it (since the
        /// server started; at most the last 200 changes).
        history: Vec<Change>,
    },
    /// The answer to an `admin` request.
    Admin {
        /// The request's id.
        id: u64,
        /// What was asked for, or the state after the change.
        reply: AdminReply,
        /// For a change: what was done ("user ole added").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        done: Option<String>,
    },
    /// A report, as asked.
    Report {
        /// The request's id.
        id: u64,
        /// Its format.
        format: ReportFormat,
        /// The report (JSON, CSV or HTML text).
        body: String,
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
