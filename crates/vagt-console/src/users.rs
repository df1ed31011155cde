//! The users file: names, roles, teams and argon2 password hashes.
//!
//! ```toml
//! [[users]]
//! name = "ole"
//! role = "operator"          # operator | supervisor | responder | auditor | admin
//! password = "$argon2id$v=19$…"   # from `vagt user add`
//! # team = "hjemmepleje-nord"  # responders: the team whose alarms they see
//! # municipality = "Aarhus"     # auditors: the one municipality whose reports they get
//! # disabled = true             # may not log in (kept: the audit trail names them)
//! ```
//!
//! Admins change it from the console too ([`crate::admin`]): the file is then written whole
//! (sorted by name, comments not kept).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, bail};
use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::{Deserialize, Serialize};
use vagt_core::Role;

/// One user as written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Login name (also the actor name in the journal).
    pub name: String,
    /// What they may do.
    pub role: UserRole,
    /// For responders: their team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// For auditors: the one municipality whose reports they may fetch (none: every one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub municipality: Option<String>,
    /// The argon2 hash (PHC string).
    pub password: String,
    /// May not log in (an admin disabled them; users are disabled, not deleted, so the audit
    /// trail's names stay someone's).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
}

/// Console roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserRole {
    /// Takes alarms from the queue.
    Operator,
    /// Operator rights, plus reassign and emergency staffing mode.
    Supervisor,
    /// Sees and acts on the alarms forwarded to their team.
    Responder,
    /// Read-only: the queue and reports.
    Auditor,
    /// Administers users and the citizen register (in the console).
    Admin,
}

impl UserRole {
    /// The core's role for commands (`None`: may not give commands).
    pub fn core_role(self) -> Option<Role> {
        match self {
            Self::Operator => Some(Role::Operator),
            Self::Supervisor => Some(Role::Supervisor),
            Self::Responder => Some(Role::Responder),
            Self::Auditor | Self::Admin => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    users: Vec<User>,
}

/// The loaded users, by name.
#[derive(Clone, Debug, Default)]
pub struct Users {
    by_name: HashMap<String, User>,
}

impl Users {
    /// Loads and checks a users file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading users file {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("users file {}", path.display()))
    }

    /// Parses users-file text.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        // Never the file's text in the error: a quoted line may be a password hash.
        let file: File = toml::from_str(text)
            .map_err(|e| anyhow::anyhow!(vagt_records::toml_error(&e, text)))?;
        let mut by_name = HashMap::new();
        for (i, u) in file.users.into_iter().enumerate() {
            if u.name.is_empty() {
                bail!("users[{i}]: empty name");
            }
            PasswordHash::new(&u.password).map_err(|e| {
                anyhow::anyhow!(
                    "users[{i}] ({}): password is not an argon2 hash: {e}",
                    u.name
                )
            })?;
            if u.role == UserRole::Responder && u.team.is_none() {
                bail!("users[{i}] ({}): a responder needs a team", u.name);
            }
            if by_name.insert(u.name.clone(), u).is_some() {
                bail!("users[{i}]: duplicate name");
            }
        }
        Ok(Self { by_name })
    }

    /// The user if the password is right. An unknown name is checked against a dummy hash,
    /// so it takes as long as a wrong password (no user enumeration by timing).
    pub fn check(&self, name: &str, password: &str) -> Option<&User> {
        let user = self.by_name.get(name);
        let stored: &str = match user {
            Some(u) => &u.password,
            None => dummy_hash(),
        };
        let hash = PasswordHash::new(stored).ok()?;
        let right = Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok();
        user.filter(|u| right && !u.disabled)
    }

    /// The user of this name, disabled or not.
    pub fn get(&self, name: &str) -> Option<&User> {
        self.by_name.get(name)
    }

    /// The user of this name if they may log in (for a client certificate that names them).
    pub fn enabled(&self, name: &str) -> Option<&User> {
        self.get(name).filter(|u| !u.disabled)
    }

    /// Every user, by name.
    pub fn list(&self) -> Vec<&User> {
        let mut list: Vec<&User> = self.by_name.values().collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }

    /// The users with `user` added or replacing the one of its name, if the file would load
    /// (a responder needs a team) and an admin who may log in remains.
    pub fn with(&self, user: User) -> anyhow::Result<Self> {
        let mut by_name = self.by_name.clone();
        by_name.insert(user.name.clone(), user);
        let next = Self { by_name };
        Self::parse(&next.encode()?)?;
        if self.has_admin() && !next.has_admin() {
            bail!("the last admin who can log in cannot be disabled or given another role");
        }
        Ok(next)
    }

    /// The users file's text: every user, by name.
    pub fn encode(&self) -> anyhow::Result<String> {
        let mut text = String::from(
            "# Console users: `vagt user add`, or the console's admin page (which writes this file whole).\n",
        );
        for user in self.list() {
            text += &entry(user)?;
        }
        Ok(text)
    }

    /// The responder teams users belong to.
    pub fn teams(&self) -> impl Iterator<Item = &str> {
        self.by_name.values().filter_map(|u| u.team.as_deref())
    }

    /// Whether one of them is an admin who may log in (else the console offers the first-run
    /// set-up).
    pub fn has_admin(&self) -> bool {
        self.by_name
            .values()
            .any(|u| u.role == UserRole::Admin && !u.disabled)
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// A hash no password is known for, made once with the same parameters as real ones.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let secret = SaltString::generate(&mut OsRng);
        hash_password(secret.as_str()).unwrap_or_default()
    })
}

/// An argon2id hash of `password` with a fresh salt.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))
}

/// The TOML entry for a new user (what `vagt user add` appends).
pub fn entry(user: &User) -> anyhow::Result<String> {
    #[derive(Serialize)]
    struct One<'a> {
        users: [&'a User; 1],
    }
    let text = toml::to_string(&One { users: [user] })?;
    Ok(text.replacen("[[users]]", "\n[[users]]", 1))
}

/// Appends `user` to the users file `path` (made if missing) and returns the users it then
/// holds. A file that would not load (a duplicate name, a responder without a team) is not
/// written. The file is replaced atomically and readable by its owner only (it holds password
/// hashes).
pub fn append(path: &Path, user: &User) -> anyhow::Result<Users> {
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let text = existing + &entry(user)?;
    let users = Users::parse(&text).with_context(|| format!("adding to {}", path.display()))?;
    write_private(path, text.as_bytes())?;
    Ok(users)
}

/// Makes an empty users file (owner-only).
pub fn create_empty(path: &Path) -> anyhow::Result<()> {
    write_private(
        path,
        b"# Console users: `vagt user add`, or the first-run set-up link for the first admin.\n",
    )
}

/// Writes `bytes` to `path` through a temporary file (fsync, rename, directory fsync), mode
/// 0600 (users file, console key and certificate, the set-up link, the citizen register).
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    stage_private(path, bytes)?.commit()
}

/// A file written and synced beside `path` but not yet in its place: an admin's change is
/// staged, then journaled, then committed — so a file that cannot be written (a read-only
/// `/etc`, a Secret) refuses the change before the audit trail says it was made.
pub struct Staged {
    tmp: Option<std::path::PathBuf>,
    path: std::path::PathBuf,
}

/// Writes `bytes` (mode 0600) and syncs them next to `path`, for [`Staged::commit`].
pub fn stage_private(path: &Path, bytes: &[u8]) -> anyhow::Result<Staged> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    };
    write().with_context(|| format!("writing {}", path.display()))?;
    Ok(Staged {
        tmp: Some(tmp),
        path: path.to_owned(),
    })
}

impl Staged {
    /// Puts the file in its place (rename, directory fsync).
    pub fn commit(mut self) -> anyhow::Result<()> {
        let Some(tmp) = self.tmp.take() else {
            return Ok(());
        };
        let path = &self.path;
        let commit = || -> std::io::Result<()> {
            std::fs::rename(&tmp, path)?;
            // The rename is durable only once the directory is.
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
            std::fs::File::open(dir.unwrap_or_else(|| Path::new(".")))?.sync_all()
        };
        commit().with_context(|| format!("writing {}", path.display()))
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_file_is_named_by_line_without_quoting_it() {
        let hash = hash_password("hemmelig-nok").unwrap();
        let text =
            format!("[[users]]\nname = \"ole\"\nrole = \"operator\"\npassword = \"{hash}\" x\n");
        let e = format!("{:#}", Users::parse(&text).unwrap_err());
        assert!(e.contains("line 4"), "{e}");
        assert!(!e.contains("argon2"), "the error quotes the file: {e}");
    }

    #[test]
    fn passwords_verify_and_files_are_checked() {
        let user = User {
            name: "ole".into(),
            role: UserRole::Operator,
            team: None,
            municipality: None,
            password: hash_password("hemmelig").unwrap(),
            disabled: false,
        };
        let users = Users::parse(&entry(&user).unwrap()).unwrap();
        assert_eq!(
            users.check("ole", "hemmelig").map(|u| u.role),
            Some(UserRole::Operator)
        );
        assert!(users.check("ole", "forkert").is_none());
        assert!(users.check("mette", "hemmelig").is_none());
        let e =
            Users::parse("[[users]]\nname = \"x\"\nrole = \"operator\"\npassword = \"plain\"\n")
                .unwrap_err();
        assert!(format!("{e:#}").contains("not an argon2 hash"));
        let responder = entry(&User {
            role: UserRole::Responder,
            ..user
        })
        .unwrap();
        assert!(format!("{:#}", Users::parse(&responder).unwrap_err()).contains("needs a team"));
    }

    #[test]
    fn a_disabled_user_cannot_log_in_and_the_last_admin_stays() {
        let admin = User {
            name: "mette".into(),
            role: UserRole::Admin,
            team: None,
            municipality: None,
            password: hash_password("hemmelig").unwrap(),
            disabled: false,
        };
        let users = Users::default().with(admin.clone()).unwrap();
        let off = User {
            disabled: true,
            ..admin.clone()
        };
        let e = users.with(off.clone()).unwrap_err().to_string();
        assert!(e.contains("last admin"), "{e}");
        let demoted = User {
            role: UserRole::Operator,
            ..admin.clone()
        };
        assert!(users.with(demoted).is_err());
        let two = users
            .with(User {
                name: "ole".into(),
                ..admin.clone()
            })
            .unwrap();
        let one_off = two.with(off).unwrap();
        assert!(one_off.check("mette", "hemmelig").is_none(), "disabled");
        assert!(one_off.enabled("mette").is_none());
        assert!(one_off.check("ole", "hemmelig").is_some());
        let reread = Users::parse(&one_off.encode().unwrap()).unwrap();
        assert!(reread.get("mette").unwrap().disabled);
        assert!(!reread.get("ole").unwrap().disabled);
    }
}
