//! The first run: while the users file Vagt made in the data directory has no admin, the
//! console offers a one-time set-up link, `https://HOST:PORT/#setup=TOKEN`, as Grafana and
//! Jenkins do. Whoever has it creates the first admin from the browser — no file to edit.
//! The token is random (128 bits), compared in constant time, spent by the first admin
//! created, and never logged: `vagt serve` shows the link only on a terminal; the link is
//! kept in [`LINK_FILE`] in the data directory (owner only), removed once spent. A users file
//! the configuration names gets no link: its admins come from `vagt user add`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use argon2::password_hash::rand_core::{OsRng, RngCore};

use crate::users::{User, UserRole, Users, append, hash_password};

/// The shortest password the set-up accepts.
pub const MIN_PASSWORD: usize = 12;

/// The file in the data directory that holds the open set-up link (mode 0600).
pub const LINK_FILE: &str = "first-admin-link";

/// An open first-run set-up.
pub struct Setup {
    /// `None` once spent.
    token: Mutex<Option<String>>,
    /// Where the admin is written.
    file: PathBuf,
    /// The link's file, removed once spent.
    link: Option<PathBuf>,
}

impl Setup {
    /// A set-up for `users` (kept in `file`) if it has no admin yet; and its token.
    pub fn offer(users: &Users, file: &Path) -> Option<(Self, String)> {
        if users.has_admin() {
            return None;
        }
        let mut bytes = [0u8; 16];
        OsRng.fill_bytes(&mut bytes);
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let setup = Self {
            token: Mutex::new(Some(token.clone())),
            file: file.to_owned(),
            link: None,
        };
        Some((setup, token))
    }

    /// Writes `url` (the link with the token) to `path`, owner-only, and removes it once the
    /// set-up is spent.
    pub fn keep_link(&mut self, path: &Path, url: &str) -> anyhow::Result<()> {
        crate::users::write_private(path, format!("{url}\n").as_bytes())?;
        self.link = Some(path.to_owned());
        Ok(())
    }

    /// Whether the set-up is still open.
    pub fn is_open(&self) -> bool {
        self.token.lock().is_ok_and(|t| t.is_some())
    }

    /// Creates the first admin `name` with `password` if `token` is the set-up's (slow: an
    /// argon2 hash and a file write — call off the async threads). The token is spent by
    /// success only. Returns the admin and every user now in the file, or why not.
    pub fn create(&self, token: &str, name: &str, password: &str) -> Result<(User, Users), String> {
        let Ok(mut held) = self.token.lock() else {
            return Err("set-up unavailable".into());
        };
        let right = held
            .as_deref()
            .is_some_and(|t| constant_time_eq(t.as_bytes(), token.as_bytes()));
        if !right {
            return Err("no such set-up link (it is spent once the first admin exists)".into());
        }
        check_name(name)?;
        if password.chars().count() < MIN_PASSWORD {
            return Err(format!(
                "the password must have at least {MIN_PASSWORD} characters"
            ));
        }
        let user = User {
            name: name.to_owned(),
            role: UserRole::Admin,
            team: None,
            municipality: None,
            password: hash_password(password).map_err(|e| format!("{e:#}"))?,
            disabled: false,
        };
        let users = append(&self.file, &user).map_err(|e| format!("{e:#}"))?;
        *held = None;
        if let Some(link) = &self.link
            && let Err(e) = std::fs::remove_file(link)
        {
            tracing::warn!(
                "console: removing the spent set-up link {}: {e}",
                link.display()
            );
        }
        Ok((user, users))
    }
}

/// A user name: 1–64 letters, digits, `.`, `_` or `-`.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err("the user name must be 1–64 letters, digits, '.', '_' or '-'".into())
    }
}

/// Equality that takes as long whatever the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_token_makes_one_admin_and_is_spent() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("users.toml");
        let (setup, token) = Setup::offer(&Users::default(), &file).unwrap();
        assert_eq!(token.len(), 32);
        assert!(setup.create("wrong", "mette", "a long password").is_err());
        assert!(setup.create(&token, "mette", "short").is_err(), "too short");
        assert!(setup.create(&token, "me tte", "a long password").is_err());
        assert!(setup.is_open(), "refusals do not spend it");
        let (admin, users) = setup.create(&token, "mette", "a long password").unwrap();
        assert_eq!(admin.role, UserRole::Admin);
        assert!(users.check("mette", "a long password").is_some());
        assert!(!setup.is_open());
        assert!(
            setup.create(&token, "ole", "a long password").is_err(),
            "spent"
        );
        let loaded = Users::load(&file).unwrap();
        assert!(loaded.has_admin());
        assert!(
            Setup::offer(&loaded, &file).is_none(),
            "an admin exists: no set-up"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
