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
    /// The alarm.
    pub alarm: u64,
    /// The citizen's reference (never the record).
    pub citizen: String,
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
