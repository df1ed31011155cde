//! Administration in the console (admins only): the console users — add, disable or enable, a
//! new password, role and team —, the citizen register — list, view, add or change, remove —
//! and the accounts — list (keys never shown), add or change (a new key may be set), remove.
//!
//! Every change is journaled before it takes effect ([`Backend::audit_admin`], or with the
//! register's change itself), without passwords or a citizen's data: users by name, citizens by
//! reference, changed fields by name. Every view of the register (its list, one record) is
//! journaled as a citizen view before it is shown. A user whose entry changed (disabled, new
//! role, team or password) is logged out of every console at once: the next login uses the
//! file as it is now.
//!
//! [`Backend::audit_admin`]: crate::server::Backend::audit_admin

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;
use tracing::{info, warn};
use vagt_records::Citizen;

use crate::audit::{AdminAction, View};
use crate::protocol::{AdminReply, AdminRequest, CitizenEntry, ServerMsg, UserInfo};
use crate::server::{Console, error};
use crate::setup::{MIN_PASSWORD, check_name};
use crate::users::{User, UserRole, Users, hash_password};

/// A change to the accounts.
#[derive(Clone, Debug)]
pub enum AccountsChange {
    /// Adds the entry, or replaces the one with its account, line and receiver; with a new key
    /// if one is given (else the old entry's).
    Put(
        Box<vagt_records::AccountEntry>,
        Option<String>,
        Option<Box<crate::protocol::AccountView>>,
    ),
    /// Removes the entry of this account, line and receiver.
    Remove(String, Option<String>, Option<String>),
}

/// A change to the citizen register.
#[derive(Clone, Debug)]
pub enum RegisterChange {
    /// Adds the record, or replaces the one with its reference if it is still the second
    /// (`None`: a new record, refused if one exists).
    Put(Box<Citizen>, Option<Box<Citizen>>),
    /// Removes the record of this reference.
    Remove(String),
}

/// Where the console writes its users, and the lock that keeps two admins' changes in order.
pub(crate) struct UsersFile {
    pub(crate) path: PathBuf,
    pub(crate) lock: tokio::sync::Mutex<()>,
}

impl Console {
    /// Answers an admin request, or refuses it (and journals the refusal) for other roles.
    pub(crate) async fn admin(
        &self,
        user: &User,
        peer: SocketAddr,
        id: u64,
        request: AdminRequest,
    ) -> ServerMsg {
        if user.role != UserRole::Admin {
            let asked = json!({ "admin": admin_kind(&request) });
            let reason = format!("the {:?} role may not administer the console", user.role);
            return self.refuse(user, peer, id, asked, &reason).await;
        }
        let who = |action: &'static str, target: &str, details: serde_json::Value| AdminAction {
            user: user.name.clone(),
            role: user.role,
            client: Some(peer),
            action,
            target: target.to_owned(),
            details,
        };
        let looks = matches!(
            request,
            AdminRequest::Users
                | AdminRequest::Citizens
                | AdminRequest::Citizen { .. }
                | AdminRequest::Accounts
        );
        if !looks && let Err(why) = self.backend.admin_edits() {
            return error(Some(id), &why);
        }
        let answer = match request {
            AdminRequest::Users => Ok((self.user_list(), None)),
            AdminRequest::Citizens => self.register_list(user, peer).await.map(|r| (r, None)),
            AdminRequest::Citizen { citizen } => self
                .register_record(user, peer, &citizen)
                .await
                .map(|r| (r, None)),
            AdminRequest::PutCitizen { record, expected } => {
                self.put_citizen(record, expected, who).await
            }
            AdminRequest::RemoveCitizen { citizen } => {
                let action = who("remove_citizen", &citizen, json!({}));
                self.change_register(action, RegisterChange::Remove(citizen.clone()))
                    .await
                    .map(|r| (r, Some(format!("citizen {citizen} removed"))))
            }
            AdminRequest::Accounts => Ok((
                AdminReply::Accounts {
                    accounts: self.backend.accounts(),
                },
                None,
            )),
            AdminRequest::PutAccount {
                record,
                key,
                expected,
            } => {
                if record.key.is_some() {
                    let why =
                        "a key goes in the request's `key`, not in the record (it was not saved)";
                    return error(Some(id), why);
                }
                let account = record.account.clone();
                let action = who("put_account", &account, json!({}));
                self.backend
                    .change_accounts(action, AccountsChange::Put(record, key, expected))
                    .await
                    .map(|accounts| {
                        let done = format!("account {account} saved");
                        (AdminReply::Accounts { accounts }, Some(done))
                    })
            }
            AdminRequest::RemoveAccount {
                account,
                line,
                receiver,
            } => {
                let action = who("remove_account", &account, json!({}));
                let change = AccountsChange::Remove(account.clone(), line, receiver);
                self.backend
                    .change_accounts(action, change)
                    .await
                    .map(|accounts| {
                        let done = format!("account {account} removed");
                        (AdminReply::Accounts { accounts }, Some(done))
                    })
            }
            change => self.change_user(change, user, peer).await,
        };
        match answer {
            Ok((reply, done)) => ServerMsg::Admin { id, reply, done },
            Err(message) => {
                warn!(%peer, admin = %user.name, "console admin request refused: {message}");
                error(Some(id), &message)
            }
        }
    }

    fn user_list(&self) -> AdminReply {
        let users = self.users();
        AdminReply::Users {
            users: users
                .list()
                .into_iter()
                .map(|u| UserInfo {
                    name: u.name.clone(),
                    role: u.role,
                    team: u.team.clone(),
                    municipality: u.municipality.clone(),
                    disabled: u.disabled,
                })
                .collect(),
        }
    }

    /// Reads the users file again (SIGHUP, after `vagt user add` or an edit by hand): used at
    /// once, and the open sessions of users it changed or removed end. A file that does not
    /// load keeps the users in use. How many users it has.
    pub async fn reload_users(&self) -> anyhow::Result<usize> {
        let Some(file) = self.users_file.get() else {
            anyhow::bail!("this console's users are not kept in a file");
        };
        let _turn = file.lock.lock().await;
        let users = on_disk(&file.path)
            .await
            .map_err(anyhow::Error::msg)?
            .ok_or_else(|| anyhow::anyhow!("{} does not exist", file.path.display()))?;
        // A file cut short or emptied by mistake must not lock every admin out.
        if self.users().has_admin() && !users.has_admin() {
            anyhow::bail!("{} has no admin who can log in", file.path.display());
        }
        let n = users.len();
        self.replace_users(users);
        Ok(n)
    }

    /// A change to a user: checked, hashed (off the async threads), journaled, written, used;
    /// the user's sessions end.
    async fn change_user(
        &self,
        request: AdminRequest,
        admin: &User,
        peer: SocketAddr,
    ) -> Result<(AdminReply, Option<String>), String> {
        let Some(file) = self.users_file.get() else {
            return Err("this console's users are not kept in a file it may write".into());
        };
        // A password is hashed before the lock is taken (argon2 is slow), on the login pool.
        let password = match &request {
            AdminRequest::AddUser { password, .. } | AdminRequest::SetPassword { password, .. } => {
                if password.chars().count() < MIN_PASSWORD {
                    return Err(format!(
                        "the password must have at least {MIN_PASSWORD} characters"
                    ));
                }
                let password = password.clone();
                let hashed = self
                    .logins
                    .check(move || hash_password(&password).map_err(|e| format!("{e:#}")))
                    .await
                    .map_err(|e| e.to_string())?;
                Some(hashed?)
            }
            _ => None,
        };
        let _turn = file.lock.lock().await;
        // The file as it is now (`vagt user add` may have added someone since it was read).
        let users = on_disk(&file.path)
            .await?
            .unwrap_or_else(|| Users::clone(&self.users()));
        let (changed, action, done) = edited(&users, request, password, &admin.name)?;
        let next = users.with(changed.clone()).map_err(|e| format!("{e:#}"))?;
        let details = json!({
            "role": changed.role,
            "team": changed.team,
            "municipality": changed.municipality,
            "disabled": changed.disabled,
        });
        let action = AdminAction {
            user: admin.name.clone(),
            role: admin.role,
            client: Some(peer),
            action,
            target: changed.name.clone(),
            details,
        };
        // Written beside the file first: one that cannot be written refuses the change before
        // the audit trail records it.
        let text = next.encode().map_err(|e| format!("{e:#}"))?;
        let path = file.path.clone();
        let staged = blocking(move || crate::users::stage_private(&path, text.as_bytes())).await?;
        self.backend
            .audit_admin(action)
            .await
            .map_err(|e| format!("not changed: it could not be recorded ({e})"))?;
        blocking(move || staged.commit()).await?;
        self.replace_users(next);
        info!(%peer, admin = %admin.name, user = %changed.name, "console: {done}");
        Ok((self.user_list(), Some(done)))
    }

    async fn put_citizen(
        &self,
        record: Box<Citizen>,
        expected: Option<Box<Citizen>>,
        who: impl Fn(&'static str, &str, serde_json::Value) -> AdminAction,
    ) -> Result<(AdminReply, Option<String>), String> {
        let record = Box::new(record.checked()?);
        let reference = record.citizen.clone();
        let register = self.backend.register();
        let (details, done) = match register.get(&reference) {
            Some(old) => (
                json!({ "fields": record.changed_fields(old) }),
                format!("citizen {reference} changed"),
            ),
            None => (json!({ "new": true }), format!("citizen {reference} added")),
        };
        let action = who("put_citizen", &reference, details);
        let reply = self
            .change_register(action, RegisterChange::Put(record, expected))
            .await?;
        Ok((reply, Some(done)))
    }

    async fn change_register(
        &self,
        action: AdminAction,
        change: RegisterChange,
    ) -> Result<AdminReply, String> {
        let register = self.backend.change_register(action, change).await?;
        Ok(citizen_list(&register))
    }

    /// The register's list, once the view is journaled.
    async fn register_list(&self, user: &User, peer: SocketAddr) -> Result<AdminReply, String> {
        let register = self.backend.register();
        self.journal_view(user, peer, "*").await?;
        Ok(citizen_list(&register))
    }

    /// One citizen's record, once the view is journaled.
    async fn register_record(
        &self,
        user: &User,
        peer: SocketAddr,
        reference: &str,
    ) -> Result<AdminReply, String> {
        let register = self.backend.register();
        let Some(record) = register.get(reference).cloned() else {
            return Err(format!("no citizen {reference} in the register"));
        };
        self.journal_view(user, peer, reference).await?;
        Ok(AdminReply::Citizen {
            record,
            version: register.version().to_owned(),
        })
    }

    async fn journal_view(
        &self,
        user: &User,
        peer: SocketAddr,
        citizen: &str,
    ) -> Result<(), String> {
        let view = View {
            user: user.name.clone(),
            role: user.role,
            client: Some(peer),
            alarm: None,
            citizen: citizen.to_owned(),
        };
        self.backend
            .audit_view(view)
            .await
            .map_err(|e| format!("not shown: the view could not be recorded ({e})"))
    }
}

/// Runs file (and journal) work off the async threads; its error as the admin is told it.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("{e:#}"))
}

/// The users file as it is on disk (`None` if there is none yet); one that does not load
/// refuses every change until it is mended.
async fn on_disk(path: &std::path::Path) -> Result<Option<Users>, String> {
    let path = path.to_owned();
    blocking(move || match std::fs::metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        _ => Users::load(&path).map(Some),
    })
    .await
}

/// The user `request` makes of `users`' entry, the audit action's name and what to tell the
/// admin. An admin may not disable themselves or take their own admin role.
fn edited(
    users: &Users,
    request: AdminRequest,
    password: Option<String>,
    admin: &str,
) -> Result<(User, &'static str, String), String> {
    let existing = |name: &str| {
        users
            .get(name)
            .cloned()
            .ok_or_else(|| format!("no user {name:?}"))
    };
    let team_of = |role: UserRole, team: Option<String>| {
        let team = team.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
        match (role, team) {
            (UserRole::Responder, None) => Err("a responder needs a team".to_owned()),
            (UserRole::Responder, team) => Ok(team),
            _ => Ok(None),
        }
    };
    let municipality_of = |role: UserRole, m: Option<String>| {
        m.map(|m| m.trim().to_owned())
            .filter(|m| !m.is_empty() && role == UserRole::Auditor)
    };
    Ok(match request {
        AdminRequest::AddUser {
            name,
            role,
            team,
            municipality,
            ..
        } => {
            check_name(&name)?;
            if users.get(&name).is_some() {
                return Err(format!("a user {name:?} exists"));
            }
            let user = User {
                team: team_of(role, team)?,
                municipality: municipality_of(role, municipality),
                name: name.clone(),
                role,
                password: password.unwrap_or_default(),
                disabled: false,
            };
            (user, "add_user", format!("user {name} added"))
        }
        AdminRequest::UpdateUser {
            name,
            role,
            team,
            municipality,
        } => {
            if name == admin && role != UserRole::Admin {
                return Err("you cannot take your own admin role".into());
            }
            let user = User {
                team: team_of(role, team)?,
                municipality: municipality_of(role, municipality),
                role,
                ..existing(&name)?
            };
            (user, "update_user", format!("user {name} changed"))
        }
        AdminRequest::SetPassword { name, .. } => {
            let user = User {
                password: password.unwrap_or_default(),
                ..existing(&name)?
            };
            (user, "set_password", format!("password of {name} set"))
        }
        AdminRequest::SetDisabled { name, disabled } => {
            if name == admin && disabled {
                return Err("you cannot disable yourself".into());
            }
            let user = User {
                disabled,
                ..existing(&name)?
            };
            let (action, done) = if disabled {
                ("disable_user", format!("user {name} disabled"))
            } else {
                ("enable_user", format!("user {name} enabled"))
            };
            (user, action, done)
        }
        _ => return Err("not a change to a user".into()),
    })
}

fn citizen_list(register: &Arc<vagt_records::Citizens>) -> AdminReply {
    AdminReply::Citizens {
        citizens: register
            .list()
            .into_iter()
            .map(|c| CitizenEntry {
                citizen: c.citizen.clone(),
                name: c.name.clone(),
            })
            .collect(),
        version: register.version().to_owned(),
    }
}

/// What an admin request is, for a refusal's record (no passwords, no citizen's data).
fn admin_kind(request: &AdminRequest) -> serde_json::Value {
    match serde_json::to_value(request) {
        Ok(serde_json::Value::Object(m)) => {
            let keep = [
                "action",
                "name",
                "role",
                "team",
                "municipality",
                "citizen",
                "disabled",
                "account",
            ];
            m.into_iter()
                .filter(|(k, _)| keep.contains(&k.as_str()))
                .collect()
        }
        _ => serde_json::Value::Null,
    }
}
