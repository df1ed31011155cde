//! The core's inputs as journal records (`C`, `T`, `S`), and every record as the core reads it
//! (frames included).
//!
//! Everything that changes the core goes through the journal first, so the journal alone
//! rebuilds it: `C` a person's command (actor, time, client), `T` a clock tick, `S` "the
//! accounts file was (re)loaded" (the point from which its supervision and teams apply) — with
//! the accounts themselves (without their keys), in parts of at most [`SETUP_PART_BYTES`], so a
//! replay and a report use the accounts that were in force, not today's file. (An `S` record
//! of eight bytes, from before, carries none: the file given to the replay applies.)

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, bail};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use vagt_core::{Actor, Command};
use vagt_dc09::{Frame, RawFrame, Timestamp, UnknownAccount, Window};
use vagt_proto::{Event, Settings};

use crate::accounts::{AccountEntry, Accounts};
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
    /// The accounts file applies from `at` (seconds): an old record that does not say which
    /// accounts (the file given to the core applies).
    Setup(u64),
    /// One part of the accounts in force; [`SetupParts`] makes [`Input::Accounts`] of the
    /// last.
    SetupPart(Arc<SetupPart>),
    /// These accounts apply from `at` (seconds): their supervision, teams, door locks and
    /// priorities for the core, their citizens and municipalities for the reports.
    Accounts {
        /// From when.
        at: u64,
        /// The accounts (without keys).
        accounts: Arc<Accounts>,
    },
}

/// One part of an `S` record's accounts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupPart {
    /// From when the accounts apply (seconds).
    #[serde(skip)]
    pub at: u64,
    /// Which set of parts (one per load of the accounts file).
    pub set: u64,
    /// This part's number, from 0.
    pub part: u32,
    /// How many parts the set has.
    pub parts: u32,
    /// Some of the accounts.
    pub accounts: Vec<AccountEntry>,
}

/// The most bytes of accounts in one `S` record (the journal takes records of up to 1 MiB).
pub const SETUP_PART_BYTES: usize = 256 << 10;

/// Gathers the parts of a set, in order, into the accounts they make. Sets may interleave (two
/// cluster nodes starting at once); a few are gathered at a time.
#[derive(Debug, Default)]
pub struct SetupParts {
    /// Sets being gathered: their id, the next part expected, the accounts so far, and when
    /// (in inputs seen) their last part came.
    open: Vec<(u64, u32, Vec<AccountEntry>, u64)>,
    /// Inputs seen.
    seen: u64,
}

/// Sets gathered at once; an older one beyond this is dropped.
const OPEN_SETS: usize = 4;
/// A set whose next part has not come within this many inputs is dropped (its writer died
/// between parts: the next start journals a whole set).
const STALE_AFTER: u64 = 100_000;

impl SetupParts {
    /// Passes every input through, except parts: the last part of a set (after all before it,
    /// in order) becomes [`Input::Accounts`], the others `None`. A set whose parts do not all
    /// come in order is dropped (the accounts in force stay), as is a set that does not check.
    pub fn take(&mut self, input: Input) -> Option<Input> {
        self.seen += 1;
        let seen = self.seen;
        self.open.retain(|(.., last)| seen - *last <= STALE_AFTER);
        let Input::SetupPart(p) = input else {
            return Some(input);
        };
        if p.part == 0 {
            self.open.retain(|(set, ..)| *set != p.set);
            if self.open.len() >= OPEN_SETS {
                self.open.remove(0);
            }
            self.open.push((p.set, 0, Vec::new(), seen));
        }
        let i = self.open.iter().position(|(set, ..)| *set == p.set)?;
        let (_, next, got, last) = &mut self.open[i];
        if p.part != *next {
            self.open.remove(i);
            return None;
        }
        got.extend(p.accounts.iter().cloned());
        *next += 1;
        *last = seen;
        if *next < p.parts {
            return None;
        }
        let (_, _, got, _) = self.open.remove(i);
        let accounts = Accounts::from_entries(got).ok()?;
        Some(Input::Accounts {
            at: p.at,
            accounts: Arc::new(accounts),
        })
    }

    /// A frame went by (routed without [`SetupParts::take`]): counted like any input, for the
    /// staleness bound (a set whose next part has not come within 100 000 inputs is dropped).
    pub fn passed(&mut self) {
        self.seen += 1;
    }

    /// Whether a set is half gathered: a snapshot of the core now would lose it (the replay
    /// after that snapshot would see only its later parts), so the core waits.
    pub fn gathering(&self) -> bool {
        !self.open.is_empty()
    }
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

/// Encodes a setup record that does not carry the accounts (as before they were journaled).
pub fn encode_setup(at: u64) -> Vec<u8> {
    let mut out = vec![SETUP_TAG];
    out.extend_from_slice(&at.to_le_bytes());
    out
}

/// Encodes "these accounts apply from `at`" as one or more `S` records, to be journaled in
/// this order; `set` tells this set of parts from another's (e.g. another node's).
pub fn encode_accounts(at: u64, accounts: &Accounts, set: u64) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut chunks: Vec<Vec<AccountEntry>> = vec![Vec::new()];
    let mut bytes = 0;
    for entry in accounts.sorted_entries() {
        let size = serde_json::to_vec(entry)?.len() + 1;
        if bytes + size > SETUP_PART_BYTES && chunks.last().is_some_and(|c| !c.is_empty()) {
            chunks.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        if let Some(c) = chunks.last_mut() {
            c.push(entry.clone());
        }
    }
    let parts = u32::try_from(chunks.len()).context("too many accounts")?;
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, accounts)| {
            let part = SetupPart {
                at,
                set,
                part: u32::try_from(i).context("too many accounts")?,
                parts,
                accounts,
            };
            let mut out = vec![SETUP_TAG];
            out.extend_from_slice(&at.to_le_bytes());
            serde_json::to_writer(&mut out, &part)?;
            Ok(out)
        })
        .collect()
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
        SETUP_TAG if rest.len() == 8 => Input::Setup(le_u64(rest)?),
        SETUP_TAG => {
            let at = le_u64(rest.get(..8).context("setup record too short")?)?;
            let mut part: SetupPart =
                serde_json::from_slice(&rest[8..]).context("setup record's accounts")?;
            part.at = at;
            Input::SetupPart(Arc::new(part))
        }
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
