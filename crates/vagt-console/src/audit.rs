//! What the console layer decides on its own: refusals it makes before a request reaches the
//! core (journaled for the audit trail through [`crate::server::Backend::audit_refusal`]), and
//! the bounds on what people write into an alarm.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Instant;

use vagt_core::Command;

use crate::users::UserRole;

/// A request the console refused itself: a responder's command on another team's alarm, a
/// command or report the role may not give or fetch, an alarm outside the responder's queue.
#[derive(Clone, Debug)]
pub struct Refusal {
    /// The console user.
    pub user: String,
    /// Their role.
    pub role: UserRole,
    /// From where.
    pub client: Option<SocketAddr>,
    /// What was asked (the command, report request or alarm, as JSON).
    pub request: serde_json::Value,
    /// Why not, as the user was told.
    pub reason: String,
    /// Refusals of this user answered but not journaled since the last journaled one (over
    /// their budget).
    pub suppressed: u64,
}

/// Refusals journaled per user at once …
const REFUSAL_BURST: f64 = 20.0;
/// … and per second after that.
const REFUSAL_PER_SEC: f64 = 1.0;
/// The largest request kept in a refusal record (bytes of JSON); a bigger one is recorded by
/// its size.
const REQUEST_MAX_BYTES: usize = 1024;

/// `request`, or `{"bytes": n}` if its JSON is longer than [`REQUEST_MAX_BYTES`].
pub(crate) fn bounded(request: serde_json::Value) -> serde_json::Value {
    let n = request.to_string().len();
    if n > REQUEST_MAX_BYTES {
        serde_json::json!({ "bytes": n })
    } else {
        request
    }
}

/// Each user's budget of journaled refusals (a token bucket per user name), and how many were
/// not journaled since the last one that was.
#[derive(Default)]
pub(crate) struct RefusalBudget {
    users: Mutex<HashMap<String, (f64, Instant, u64)>>,
}

impl RefusalBudget {
    /// `Some(suppressed before this one)` if this refusal is journaled; `None` if over budget.
    pub(crate) fn admit(&self, user: &str) -> Option<u64> {
        let mut users = self
            .users
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let (tokens, since, suppressed) =
            users
                .entry(user.to_owned())
                .or_insert((REFUSAL_BURST, now, 0));
        *tokens = (*tokens + since.elapsed().as_secs_f64() * REFUSAL_PER_SEC).min(REFUSAL_BURST);
        *since = now;
        if *tokens < 1.0 {
            *suppressed += 1;
            return None;
        }
        *tokens -= 1.0;
        Some(std::mem::take(suppressed))
    }
}

/// How long a journaled citizen view covers further views by the same user of the same alarm.
const VIEW_COVERS: std::time::Duration = std::time::Duration::from_secs(600);

/// When each (user, alarm) view was last journaled.
#[derive(Default)]
pub(crate) struct RecentViews {
    seen: Mutex<HashMap<(String, u64), Instant>>,
}

impl RecentViews {
    /// Whether a view of `alarm` by `user` must be journaled now (none in the last ten
    /// minutes); records it as journaled.
    pub(crate) fn first_in_a_while(&self, user: &str, alarm: u64) -> bool {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.len() > 10_000 {
            seen.retain(|_, at| at.elapsed() < VIEW_COVERS);
        }
        let key = (user.to_owned(), alarm);
        match seen.get(&key) {
            Some(at) if at.elapsed() < VIEW_COVERS => false,
            _ => {
                seen.insert(key, Instant::now());
                true
            }
        }
    }

    /// Forgets a view that could not be journaled (the next one tries again).
    pub(crate) fn forget(&self, user: &str, alarm: u64) {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&(user.to_owned(), alarm));
    }
}

/// A citizen's record shown to a user with an alarm; journaled before it is shown.
#[derive(Clone, Debug)]
pub struct View {
    /// The console user.
    pub user: String,
    /// Their role.
    pub role: UserRole,
    /// From where.
    pub client: Option<SocketAddr>,
    /// The alarm (`None`: an admin viewing the register).
    pub alarm: Option<u64>,
    /// The citizen's reference (never the record); `*` for the register's list.
    pub citizen: String,
}

/// An admin's change, journaled before it takes effect: who, from where, what, on whom —
/// never a password or a citizen's data.
#[derive(Clone, Debug)]
pub struct AdminAction {
    /// The admin.
    pub user: String,
    /// Their role.
    pub role: UserRole,
    /// From where.
    pub client: Option<SocketAddr>,
    /// What (`add_user`, `put_citizen`, …: [`vagt_records::input::AdminRecord::action`]).
    pub action: &'static str,
    /// The user's name or the citizen's reference.
    pub target: String,
    /// Role, team and municipality of a user; the names of a citizen's changed fields.
    pub details: serde_json::Value,
}

/// The longest note or call-back text, in characters (a page of text).
pub const NOTE_MAX_CHARS: usize = 2_000;
/// Notes and call-backs a user may write at once …
const NOTE_BURST: f64 = 20.0;
/// … and per second after that (30 a minute: more than anyone types).
const NOTE_PER_SEC: f64 = 0.5;

/// Each user's budget of notes and call-backs (a token bucket per user name, over all their
/// connections).
#[derive(Default)]
pub(crate) struct NoteBudget {
    users: Mutex<HashMap<String, (f64, Instant)>>,
}

impl NoteBudget {
    /// Checks a note or call-back's size, then takes one from the user's budget; `Err` says why
    /// not. Other commands pass.
    pub(crate) fn admit(&self, user: &str, command: &Command) -> Result<(), String> {
        let (Command::Note { text, .. } | Command::Callback { text, .. }) = command else {
            return Ok(());
        };
        if text.chars().count() > NOTE_MAX_CHARS {
            return Err(format!("a note may be at most {NOTE_MAX_CHARS} characters"));
        }
        let mut users = self
            .users
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let (tokens, since) = users.entry(user.to_owned()).or_insert((NOTE_BURST, now));
        *tokens = (*tokens + since.elapsed().as_secs_f64() * NOTE_PER_SEC).min(NOTE_BURST);
        *since = now;
        if *tokens < 1.0 {
            return Err("too many notes: wait a little and try again".to_owned());
        }
        *tokens -= 1.0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vagt_core::AlarmId;

    fn note(text: &str) -> Command {
        Command::Note {
            alarm: AlarmId(1),
            text: text.to_owned(),
        }
    }

    #[test]
    fn refusals_are_journaled_within_a_budget_and_the_rest_counted() {
        let b = RefusalBudget::default();
        for _ in 0..20 {
            assert_eq!(b.admit("revisor"), Some(0));
        }
        assert_eq!(b.admit("revisor"), None);
        assert_eq!(b.admit("revisor"), None);
        assert_eq!(b.admit("ole"), Some(0), "another user's budget");
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert_eq!(
            b.admit("revisor"),
            Some(2),
            "the next journaled one says how many were not"
        );
        let big = serde_json::json!({ "text": "x".repeat(5000) });
        assert!(bounded(big)["bytes"].as_u64().unwrap() > 5000);
        assert_eq!(bounded(serde_json::json!({"a": 1}))["a"], 1);
    }

    #[test]
    fn a_view_is_journaled_once_per_user_and_alarm_in_ten_minutes() {
        let v = RecentViews::default();
        assert!(v.first_in_a_while("ole", 7));
        assert!(!v.first_in_a_while("ole", 7));
        assert!(v.first_in_a_while("mette", 7));
        assert!(v.first_in_a_while("ole", 8));
        v.forget("ole", 7);
        assert!(
            v.first_in_a_while("ole", 7),
            "a view that could not be journaled is tried again"
        );
    }

    #[test]
    fn notes_are_bounded_in_size_and_rate_per_user() {
        let b = NoteBudget::default();
        assert!(b.admit("ana", &note(&"x".repeat(NOTE_MAX_CHARS))).is_ok());
        let long = b.admit("ana", &note(&"æ".repeat(NOTE_MAX_CHARS + 1)));
        assert!(long.unwrap_err().contains("at most 2000"));
        for _ in 1..20 {
            assert!(b.admit("ana", &note("faldet")).is_ok());
        }
        assert!(b.admit("ana", &note("one too many")).is_err());
        // Another user has their own budget; other commands are not counted.
        assert!(b.admit("bo", &note("ok")).is_ok());
        assert!(
            b.admit("ana", &Command::Claim { alarm: AlarmId(1) })
                .is_ok()
        );
    }
}
