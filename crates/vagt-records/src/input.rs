//! The core's inputs as journal records (`C`, `T`, `S`), and every record as the core reads it
//! (frames included).
//!
//! Everything that changes the core goes through the journal first, so the journal alone
//! rebuilds it: `C` a person's command (actor, time, client), `T` a clock tick, `S` "the
//! accounts file was (re)loaded" (the point from which its supervision and teams apply).

use std::net::SocketAddr;

use anyhow::{Context, bail};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use vagt_core::{Actor, Command};
use vagt_dc09::{Frame, RawFrame, Timestamp, UnknownAccount, Window};
use vagt_proto::{Event, Settings};

use crate::accounts::Accounts;
use crate::frame::FrameRecord;

const COMMAND_TAG: u8 = b'C';
const TICK_TAG: u8 = b'T';
const SETUP_TAG: u8 = b'S';
const REFUSAL_TAG: u8 = b'R';
const VIEW_TAG: u8 = b'V';
const ADMIN_TAG: u8 = b'A';

/// A console user was shown a citizen's record from the register, with an alarm (journaled
/// before it is shown: every view of health data is audited). The core ignores these records;
/// they hold the citizen's reference, never the record itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewRecord {
    /// When (milliseconds since the Unix epoch).
    pub at_ms: i64,
    /// The console user.
    pub user: String,
    /// Their console role.
    pub role: String,
    /// From where.
    pub client: Option<SocketAddr>,
    /// The alarm it was shown with (`None`: an admin viewing the register itself).
    pub alarm: Option<u64>,
    /// The citizen's reference (`*` for the register's list: every reference and name).
    pub citizen: String,
    /// The register version the record was shown from ([`crate::Citizens::version`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub register: Option<String>,
}

/// An administrator's change (a console user added, disabled, given a new role or password; a
/// citizen's record added, changed or removed) or a new version of the citizen register taking
/// effect (loaded at start, reloaded on SIGHUP): journaled before it takes effect, for the
/// audit trail. The core ignores these records. They never hold a password or a citizen's
/// data: users by name, citizens by reference, changed fields by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminRecord {
    /// When (milliseconds since the Unix epoch).
    pub at_ms: i64,
    /// Who (`None`: the server itself, e.g. the register loaded at start or on SIGHUP).
    pub user: Option<String>,
    /// Their console role.
    pub role: Option<String>,
    /// From where.
    pub client: Option<SocketAddr>,
    /// What: `add_user`, `update_user`, `set_password`, `disable_user`, `enable_user`,
    /// `put_citizen`, `remove_citizen`, `register_loaded`.
    pub action: String,
    /// The user's name or the citizen's reference it concerns (empty for the whole register).
    pub target: String,
    /// The rest, without secrets or health data: a user's role, team and municipality; the
    /// names of the citizen fields changed; the register's version and size.
    #[serde(default)]
    pub details: serde_json::Value,
}

/// Encodes an admin record.
pub fn encode_admin(a: &AdminRecord) -> anyhow::Result<Vec<u8>> {
    let mut out = vec![ADMIN_TAG];
    serde_json::to_writer(&mut out, a)?;
    Ok(out)
}

/// Decodes a record only if it is an admin record (`Ok(None)` otherwise).
pub fn decode_admin(payload: &[u8]) -> anyhow::Result<Option<AdminRecord>> {
    match payload.split_first() {
        Some((&ADMIN_TAG, rest)) => Ok(Some(serde_json::from_slice(rest).context("admin record")?)),
        _ => Ok(None),
    }
}

/// Encodes a view record.
pub fn encode_view(v: &ViewRecord) -> anyhow::Result<Vec<u8>> {
    let mut out = vec![VIEW_TAG];
    serde_json::to_writer(&mut out, v)?;
    Ok(out)
}

/// Decodes a record only if it is a citizen view (`Ok(None)` otherwise).
pub fn decode_view(payload: &[u8]) -> anyhow::Result<Option<ViewRecord>> {
    match payload.split_first() {
        Some((&VIEW_TAG, rest)) => Ok(Some(serde_json::from_slice(rest).context("view record")?)),
        _ => Ok(None),
    }
}

/// A request the console layer refused before it reached the core (a responder's command on
/// another team's alarm, an auditor's command, a report the role may not fetch), journaled for
/// the audit trail. The core ignores these records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalRecord {
    /// When (milliseconds since the Unix epoch).
    pub at_ms: i64,
    /// The console user.
    pub user: String,
    /// The user's console role (`operator`, `auditor`, …).
    pub role: String,
    /// From where (console client address), if known.
    pub client: Option<SocketAddr>,
    /// What was asked, as the client sent it.
    pub request: serde_json::Value,
    /// Why it was refused, as the user was told.
    pub reason: String,
    /// The user's refusals answered but not journaled since their previous journaled one (over
    /// the console's budget of 20 at once, 1 a second).
    #[serde(default)]
    pub suppressed: u64,
}

/// Encodes a refusal record.
pub fn encode_refusal(r: &RefusalRecord) -> anyhow::Result<Vec<u8>> {
    let mut out = vec![REFUSAL_TAG];
    serde_json::to_writer(&mut out, r)?;
    Ok(out)
}

/// Decodes a record only if it is a console-layer refusal (`Ok(None)` otherwise).
pub fn decode_refusal(payload: &[u8]) -> anyhow::Result<Option<RefusalRecord>> {
    match payload.split_first() {
        Some((&REFUSAL_TAG, rest)) => Ok(Some(
            serde_json::from_slice(rest).context("refusal record")?,
        )),
        _ => Ok(None),
    }
}

/// A person's command as journaled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRecord {
    /// The request number the waiting caller knows it by (unique within one process run; only
    /// commands journaled by the running process are answered).
    #[serde(default)]
    pub request: u64,
    /// When it was given (milliseconds since the Unix epoch).
    pub at_ms: i64,
    /// Who gave it.
    pub actor: Actor,
    /// From where (console client address), if known.
    pub client: Option<SocketAddr>,
    /// What.
    pub command: Command,
}

/// One journal record, as the core sees it.
#[derive(Clone, Debug)]
pub enum Input {
    /// A journaled frame: its account, events and receive time (seconds).
    Frame {
        /// The account.
        account: String,
        /// The events (none for a link test, or if the body no longer decodes).
        events: Vec<Event>,
        /// Receive time, seconds since the Unix epoch.
        at: u64,
    },
    /// A command.
    Command(CommandRecord),
    /// The clock reached `at` (seconds).
    Tick(u64),
    /// The accounts file applies from `at` (seconds).
    Setup(u64),
}

/// Encodes a command record.
pub fn encode_command(c: &CommandRecord) -> anyhow::Result<Vec<u8>> {
    let mut out = vec![COMMAND_TAG];
    serde_json::to_writer(&mut out, c)?;
    Ok(out)
}

/// Encodes a tick record.
pub fn encode_tick(at: u64) -> Vec<u8> {
    let mut out = vec![TICK_TAG];
    out.extend_from_slice(&at.to_le_bytes());
    out
}

/// Encodes a setup record.
pub fn encode_setup(at: u64) -> Vec<u8> {
    let mut out = vec![SETUP_TAG];
    out.extend_from_slice(&at.to_le_bytes());
    out
}

/// Decodes any journal record into the core's input; `Ok(None)` for kinds the core ignores.
pub fn decode(
    payload: &[u8],
    accounts: &Accounts,
    settings: &Settings,
) -> anyhow::Result<Option<Input>> {
    if let Some(input) = decode_core_record(payload)? {
        return Ok(Some(input));
    }
    Ok(FrameRecord::view(payload)?.map(|f| Input::Frame {
        events: f
            .events()
            .unwrap_or_else(|| events_of(f.body, f.received_at_ms, accounts, settings)),
        account: f.account.to_ascii_uppercase(),
        at: u64::try_from(f.received_at_ms.div_euclid(1000)).unwrap_or(0),
    }))
}

/// Decodes the core's own records (`C`, `T`, `S`); `Ok(None)` for any other kind.
fn decode_core_record(payload: &[u8]) -> anyhow::Result<Option<Input>> {
    let Some((&tag, rest)) = payload.split_first() else {
        bail!("empty record")
    };
    Ok(Some(match tag {
        COMMAND_TAG => Input::Command(serde_json::from_slice(rest).context("command record")?),
        TICK_TAG => Input::Tick(le_u64(rest)?),
        SETUP_TAG => Input::Setup(le_u64(rest)?),
        _ => return Ok(None),
    }))
}

/// Decodes a record only if it is a person's command (`Ok(None)` otherwise).
pub fn decode_command_only(payload: &[u8]) -> anyhow::Result<Option<Input>> {
    match payload.first() {
        Some(&COMMAND_TAG) => decode_core_record(payload),
        _ => Ok(None),
    }
}

/// How the feed routes a record, decided without decoding a frame's body (the shard threads
/// do that, in parallel).
#[derive(Debug)]
pub enum Route {
    /// A frame of this account (upper-cased): its shard decodes it.
    Frame(String),
    /// Anything else, decoded.
    Input(Input),
}

/// Reads just enough of a record to route it; `Ok(None)` for kinds the core ignores.
pub fn route(payload: &[u8]) -> anyhow::Result<Option<Route>> {
    if let Some(input) = decode_core_record(payload)? {
        return Ok(Some(Route::Input(input)));
    }
    Ok(FrameRecord::view(payload)?.map(|f| Route::Frame(f.account.to_ascii_uppercase())))
}

fn le_u64(bytes: &[u8]) -> anyhow::Result<u64> {
    let b: [u8; 8] = bytes.try_into().context("record of the wrong length")?;
    Ok(u64::from_le_bytes(b))
}

/// The events of a journaled frame, decoded again (decrypted with the account's key). The frame
/// was accepted once: the window and unknown-account checks are not applied again.
pub fn events_of(
    body: &[u8],
    received_at_ms: i64,
    accounts: &Accounts,
    settings: &Settings,
) -> Vec<Event> {
    let raw = RawFrame {
        body: Bytes::copy_from_slice(body),
        decimal_length: false,
    };
    let Ok(frame) = Frame::parse(&raw, &settings.tolerance) else {
        return Vec::new();
    };
    let mut settings = *settings;
    settings.policy.window = Window {
        max_age_secs: u32::MAX,
        max_ahead_secs: u32::MAX,
    };
    settings.policy.unknown_account = UnknownAccount::Accept;
    let now = Timestamp::from_unix(received_at_ms.div_euclid(1000)).unwrap_or(Timestamp::EPOCH);
    vagt_proto::process_frame(&frame, &settings, now, accounts.key_for(&frame))
        .payload
        .map(|p| p.events())
        .unwrap_or_default()
}
