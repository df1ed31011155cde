//! The console's backend: the engine (commands, open alarms, the live feed), the accounts and
//! the reports, as `vagt-console` asks for them.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock, Weak};

use vagt_console::admin::{AccountsChange, RegisterChange, blocking};
use vagt_console::audit::{AdminAction, Refusal, View};
use vagt_console::protocol::AccountView;
use vagt_console::protocol::{AccountInfo, ReportRequest};
use vagt_console::server::{Backend, BoxFuture, Failure, Tap};
use vagt_console::{ConsoleConfig, RunningConsole};
use vagt_core::{Actor, Alarm, AlarmId, Change, Command};
use vagt_engine::{Engine, EngineError};
use vagt_records::input::{AdminRecord, RefusalRecord, ViewRecord};
use vagt_records::{Citizen, Citizens};
use vagt_report::{Month, ReportFormat, ReportTable};

/// The core as the console sees it. It holds the engine weakly: shutdown does not wait for
/// console connections to let go of it.
struct EngineBackend {
    engine: Weak<Engine>,
    reports: Arc<vagt_report::Source>,
    /// The gateway's runtime: commands are journaled from its threads, not the console's
    /// low-priority ones (which must never hold a lock the ACK path needs).
    gateway: tokio::runtime::Handle,
    /// Cluster mode: whether the node is degraded, and what it acknowledged meanwhile.
    cluster: Option<Arc<vagt_cluster::Cluster>>,
    /// The citizen register.
    register: Register,
    /// The accounts as they are now (replaced on SIGHUP and by admins' edits): account
    /// details, forward targets, the admin page.
    reload: Arc<crate::reload::Reload>,
}

/// Alarms acknowledged while degraded, listed at most (the newest).
const PROVISIONAL_LIMIT: usize = 200;

/// The citizen register the console shows: loaded at start, replaced whole on reload (SIGHUP)
/// or when an admin changes a record in the console; a reader keeps the version it took.
#[derive(Clone)]
pub struct Register {
    config: ConsoleConfig,
    current: Arc<RwLock<Arc<Citizens>>>,
    /// One admin's change at a time: journaled, written, used — in that order.
    writing: Arc<tokio::sync::Mutex<()>>,
}

impl Register {
    /// Loads `config.citizens` (empty without it).
    pub fn load(config: &ConsoleConfig) -> anyhow::Result<Self> {
        Ok(Self {
            current: Arc::new(RwLock::new(Arc::new(config.load_citizens()?))),
            config: config.clone(),
            writing: Arc::default(),
        })
    }

    /// Reads the file again (after any admin's change under way), and the record that says
    /// so. On error the old register stays.
    pub async fn reload(&self) -> anyhow::Result<AdminRecord> {
        let _turn = self.writing.lock().await;
        let config = self.config.clone();
        let fresh = Arc::new(tokio::task::spawn_blocking(move || config.load_citizens()).await??);
        let record = loaded(&fresh, "reload");
        self.set(fresh);
        Ok(record)
    }

    /// The record saying which register is in force from now (`why`: `start`, `reload`).
    pub fn loaded(&self, why: &str) -> AdminRecord {
        loaded(&self.current(), why)
    }

    fn current(&self) -> Arc<Citizens> {
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    fn set(&self, register: Arc<Citizens>) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = register;
    }

    fn get(&self, reference: &str) -> Option<Citizen> {
        self.current().get(reference).cloned()
    }

    /// Whether the file is still the register in use (a hand edit not yet reloaded would be
    /// lost by writing the register over it).
    async fn unchanged_on_disk(&self) -> Result<(), String> {
        let config = self.config.clone();
        let disk = blocking(move || config.load_citizens()).await?;
        if disk.version() != self.current().version() {
            return Err(
                "the citizen register was changed on disk since it was loaded: reload \
                 (SIGHUP) to use it, then change it here — nothing was changed"
                    .into(),
            );
        }
        Ok(())
    }

    /// The register `change` makes and its file's bytes (in the file's format).
    fn changed(&self, change: RegisterChange) -> Result<(Citizens, Vec<u8>), String> {
        let mut next = Citizens::clone(&self.current());
        match change {
            RegisterChange::Put(record, expected) => {
                let reference = record.citizen.clone();
                match (next.get(&reference), expected) {
                    (Some(now), Some(seen)) if *now != *seen => {
                        return Err(format!(
                            "citizen {reference} was changed since you opened it: open it again"
                        ));
                    }
                    (Some(_), None) => {
                        return Err(format!("citizen {reference} exists: open it to change it"));
                    }
                    (None, Some(_)) => {
                        return Err(format!(
                            "citizen {reference} was removed since you opened it"
                        ));
                    }
                    _ => {}
                }
                next.put(*record);
            }
            RegisterChange::Remove(reference) => {
                if next.remove(&reference).is_none() {
                    return Err(format!("no citizen {reference} in the register"));
                }
            }
        }
        let json = self
            .config
            .citizens
            .as_ref()
            .is_some_and(|p| p.extension().is_some_and(|e| e == "json"));
        let bytes = next.encode(json).map_err(|e| format!("{e:#}"))?;
        // Read back as the next start will: its version is the file's.
        let next = Citizens::decode(&bytes, json).map_err(|e| format!("{e:#}"))?;
        Ok((next, bytes))
    }
}

/// The accounts `change` makes of `now`, and the names of the fields it changed (`new` for a
/// new account, `removed` for a removed one).
fn accounts_changed(
    now: &vagt_records::Accounts,
    change: AccountsChange,
) -> Result<(vagt_records::Accounts, Vec<&'static str>), String> {
    match change {
        AccountsChange::Put(entry, key, expected) => {
            let same = |e: &&vagt_records::AccountEntry| {
                e.account.eq_ignore_ascii_case(&entry.account)
                    && e.line == entry.line
                    && e.receiver == entry.receiver
            };
            let old = now.entries().find(same).cloned();
            still_as_seen(old.as_ref(), expected.as_deref(), &entry.account)?;
            let probe = (*entry).clone();
            let next = now.with_entry(*entry, key).map_err(|e| format!("{e:#}"))?;
            let new = next.entries().find(|e| {
                e.account.eq_ignore_ascii_case(&probe.account)
                    && e.line == probe.line
                    && e.receiver == probe.receiver
            });
            let fields = match (&old, new) {
                (Some(old), Some(new)) => new.changed_fields(old),
                _ => vec!["new"],
            };
            Ok((next, fields))
        }
        AccountsChange::Remove(account, line, receiver) => now
            .without_entry(&account, line.as_deref(), receiver.as_deref())
            .map(|next| (next, vec!["removed"]))
            .ok_or_else(|| format!("no account {account} with that line and receiver")),
    }
}

/// Whether the entry an admin changes is still the one they saw (`seen`; `None`: a new one).
fn still_as_seen(
    now: Option<&vagt_records::AccountEntry>,
    seen: Option<&AccountView>,
    account: &str,
) -> Result<(), String> {
    let view = now.map(|e| AccountView {
        encrypted: e.key.is_some(),
        entry: vagt_records::AccountEntry {
            key: None,
            ..e.clone()
        },
    });
    match (view, seen) {
        (Some(now), Some(seen)) if now != *seen => Err(format!(
            "account {account} was changed since you opened it (another admin, or a reload): open it again"
        )),
        (Some(_), None) => Err(format!(
            "account {account} with that line and receiver exists: open it to change it"
        )),
        (None, Some(_)) => Err(format!(
            "account {account} with that line and receiver is not the entry you opened: use New for a new one"
        )),
        _ => Ok(()),
    }
}

/// The accounts as the admin page shows them: without keys, sorted.
fn account_views(accounts: &vagt_records::Accounts) -> Vec<AccountView> {
    accounts
        .sorted_entries()
        .into_iter()
        .map(|e| AccountView {
            encrypted: e.key.is_some(),
            entry: vagt_records::AccountEntry {
                key: None,
                ..e.clone()
            },
        })
        .collect()
}

/// The record of `register` taking effect.
fn loaded(register: &Citizens, why: &str) -> AdminRecord {
    AdminRecord {
        at_ms: vagt_records::time::now_ms(),
        user: None,
        role: None,
        client: None,
        action: "register_loaded".into(),
        target: String::new(),
        details: serde_json::json!({
            "why": why,
            "version": register.version(),
            "citizens": register.len(),
        }),
    }
}

/// An admin's change as its journal record, with `extra` details added.
fn admin_record(action: AdminAction, extra: &[(&str, serde_json::Value)]) -> AdminRecord {
    let mut details = action.details;
    if let serde_json::Value::Object(m) = &mut details {
        for (k, v) in extra {
            m.insert((*k).to_owned(), v.clone());
        }
    }
    AdminRecord {
        at_ms: vagt_records::time::now_ms(),
        user: Some(action.user),
        role: Some(role_name(action.role)),
        client: action.client,
        action: action.action.to_owned(),
        target: action.target,
        details,
    }
}

/// Starts the console over `engine` (commands run on the calling runtime), with the reports'
/// source, the cluster (if any), the citizen register, and the accounts it shows (reloaded on SIGHUP).
pub async fn start(
    config: &ConsoleConfig,
    engine: &Arc<Engine>,
    (reports, cluster, register): (
        vagt_report::Source,
        Option<Arc<vagt_cluster::Cluster>>,
        Register,
    ),
    reload: Arc<crate::reload::Reload>,
) -> anyhow::Result<RunningConsole> {
    let backend = EngineBackend {
        reload,
        engine: Arc::downgrade(engine),
        reports: Arc::new(reports),
        gateway: tokio::runtime::Handle::current(),
        cluster,
        register,
    };
    vagt_console::start(config, Arc::new(backend)).await
}

impl EngineBackend {
    /// Journals an audit record on the gateway's runtime and waits until it is durable.
    fn journal_audit(&self, record: anyhow::Result<Vec<u8>>) -> BoxFuture<'_, Result<(), String>> {
        let engine = self.engine.upgrade();
        let run = async move {
            let engine = engine.ok_or_else(|| "stopping".to_owned())?;
            let record = record.map_err(|e| e.to_string())?;
            engine
                .journal_audit(record)
                .await
                .map_err(|e| e.to_string())
        };
        let task = self.gateway.spawn(run);
        Box::pin(async move { task.await.map_err(|e| e.to_string())? })
    }
}

/// The command that claims the alarm a frame's first alarm event opens (or repeats), by its
/// call: the account, the event's kind and zone as the core correlates them. `None` when no
/// event opens one (restores; informational codes, as the code table rates them — an account
/// that raises one to an alarm gets no button here, its alarm is claimed from the queue).
fn claim_call(account: &str, events: &[vagt_proto::Event]) -> Option<Command> {
    let e = events
        .iter()
        .find(|e| !e.restore && vagt_core::correlation::alarm_priority(e.priority).is_some())?;
    Some(Command::ClaimCall {
        account: account.to_owned(),
        kind: vagt_core::correlation::kind(e.category, &e.code).into_owned(),
        zone: e.zone.clone(),
    })
}

/// A console role's name as the audit trail writes it (`operator`, `auditor`, …).
fn role_name(role: vagt_console::users::UserRole) -> String {
    serde_json::to_value(role)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl Backend for EngineBackend {
    fn command(
        &self,
        actor: Actor,
        command: Command,
        client: Option<SocketAddr>,
        team: Option<String>,
    ) -> BoxFuture<'_, Result<Vec<Change>, Failure>> {
        let engine = self.engine.upgrade();
        let run = async move {
            let engine = engine.ok_or_else(|| Failure::Unavailable("stopping".into()))?;
            if let Some(team) = team {
                let theirs = command
                    .alarm()
                    .and_then(|id| engine.alarm(id))
                    .is_some_and(|a| a.team.as_ref() == Some(&team));
                if !theirs {
                    return Err(Failure::NotYours);
                }
            }
            engine
                .command(actor, command, client)
                .await
                .map_err(|e| match e {
                    EngineError::Refused(r) => Failure::Refused(r),
                    EngineError::Unavailable(u) => Failure::Unavailable(u),
                })
        };
        let task = self.gateway.spawn(run);
        Box::pin(async move {
            task.await
                .map_err(|e| Failure::Unavailable(e.to_string()))?
        })
    }

    fn audit_refusal(&self, refusal: Refusal) -> BoxFuture<'_, Result<(), String>> {
        let record = vagt_records::input::encode_refusal(&RefusalRecord {
            at_ms: vagt_records::time::now_ms(),
            user: refusal.user,
            role: role_name(refusal.role),
            client: refusal.client,
            request: refusal.request,
            reason: refusal.reason,
            suppressed: refusal.suppressed,
        });
        self.journal_audit(record)
    }

    fn citizen(&self, reference: &str) -> Option<Citizen> {
        self.register.get(reference)
    }

    fn audit_view(&self, view: View) -> BoxFuture<'_, Result<(), String>> {
        let record = vagt_records::input::encode_view(&ViewRecord {
            at_ms: vagt_records::time::now_ms(),
            user: view.user,
            role: role_name(view.role),
            client: view.client,
            alarm: view.alarm,
            citizen: view.citizen,
            register: Some(self.register.current().version().to_owned()).filter(|v| !v.is_empty()),
        });
        self.journal_audit(record)
    }

    fn audit_admin(&self, action: AdminAction) -> BoxFuture<'_, Result<(), String>> {
        self.journal_audit(vagt_records::input::encode_admin(&admin_record(
            action,
            &[],
        )))
    }

    fn accounts(&self) -> Vec<AccountView> {
        account_views(&self.reload.accounts.load())
    }

    fn change_accounts(
        &self,
        action: AdminAction,
        change: AccountsChange,
    ) -> BoxFuture<'_, Result<Vec<AccountView>, String>> {
        Box::pin(async move {
            let reload = &self.reload;
            let Some(path) = reload.accounts_file.clone() else {
                return Err(
                    "no accounts file is configured (gateway.accounts or --accounts)".into(),
                );
            };
            let _turn = reload.editing.lock().await;
            let now = reload.accounts.load_full();
            let on_disk = path.clone();
            let disk = blocking(move || vagt_records::Accounts::load(&on_disk)).await?;
            if disk.sorted_entries() != now.sorted_entries() {
                return Err(
                    "the accounts file was changed on disk since it was loaded: reload \
                     (SIGHUP) to use it, then change it here — nothing was changed"
                        .into(),
                );
            }
            let (next, fields) = accounts_changed(&now, change)?;
            let text = next.to_file().map_err(|e| format!("{e:#}"))?;
            let staged =
                blocking(move || vagt_console::users::stage_private(&path, text.as_bytes()))
                    .await?;
            let record = admin_record(action, &[("fields", serde_json::json!(fields))]);
            self.journal_audit(vagt_records::input::encode_admin(&record))
                .await
                .map_err(|e| format!("not changed: it could not be recorded ({e})"))?;
            blocking(move || staged.commit()).await?;
            let next = Arc::new(next);
            let installing = (Arc::clone(reload), Arc::clone(&next));
            blocking(move || installing.0.install(installing.1))
                .await
                .map_err(|e| format!("written, not used: {e} (reload with SIGHUP)"))?;
            Ok(account_views(&next))
        })
    }

    fn register(&self) -> Arc<Citizens> {
        self.register.current()
    }

    fn change_register(
        &self,
        action: AdminAction,
        change: RegisterChange,
    ) -> BoxFuture<'_, Result<Arc<Citizens>, String>> {
        Box::pin(async move {
            let register = &self.register;
            let Some(path) = register.config.citizens.clone() else {
                return Err("no citizen register is configured ([console] citizens)".to_owned());
            };
            let _turn = register.writing.lock().await;
            register.unchanged_on_disk().await?;
            let (next, bytes) = register.changed(change)?;
            let extra = [
                ("version", serde_json::json!(next.version())),
                ("citizens", serde_json::json!(next.len())),
            ];
            // Staged first: a file that cannot be written refuses the change before the audit
            // trail records it.
            let staged =
                blocking(move || vagt_console::users::stage_private(&path, &bytes)).await?;
            let record = vagt_records::input::encode_admin(&admin_record(action, &extra));
            self.journal_audit(record)
                .await
                .map_err(|e| format!("not changed: it could not be recorded ({e})"))?;
            blocking(move || staged.commit()).await?;
            let next = Arc::new(next);
            register.set(Arc::clone(&next));
            Ok(next)
        })
    }

    fn open_alarms(&self) -> Vec<Alarm> {
        self.engine
            .upgrade()
            .map(|e| e.open_alarms())
            .unwrap_or_default()
    }

    fn history(&self, alarm: AlarmId) -> BoxFuture<'_, Vec<Change>> {
        let engine = self.engine.upgrade();
        let task = self
            .gateway
            .spawn(async move { engine.map(|e| e.history(alarm)).unwrap_or_default() });
        Box::pin(async move { task.await.unwrap_or_default() })
    }

    fn admin_edits(&self) -> Result<(), String> {
        match self.cluster {
            Some(_) => Err(
                "in a cluster every node has its own users file, citizen register and \
                 accounts file: change them on every node and reload (SIGHUP), not in one node's \
                 console"
                    .to_owned(),
            ),
            None => Ok(()),
        }
    }

    fn emergency_mode(&self) -> bool {
        self.engine
            .upgrade()
            .is_some_and(|e| e.status().emergency_mode)
    }

    fn degraded(&self) -> bool {
        self.cluster.as_ref().is_some_and(|c| c.degraded())
    }

    fn provisional(&self) -> Vec<vagt_console::protocol::Provisional> {
        let Some(cluster) = &self.cluster else {
            return Vec::new();
        };
        let r = &self.reports;
        cluster
            .unshipped_frames(PROVISIONAL_LIMIT)
            .iter()
            .filter_map(
                |p| match vagt_records::input::decode(p, &r.accounts, &r.settings) {
                    Ok(Some(vagt_records::Input::Frame {
                        account,
                        events,
                        at,
                    })) => {
                        let first = events.first();
                        Some(vagt_console::protocol::Provisional {
                            claim: claim_call(&account, &events),
                            account,
                            received_at: at,
                            code: first.map(|e| e.code.clone()),
                            kind: first.and_then(|e| e.name).map(str::to_owned),
                        })
                    }
                    _ => None,
                },
            )
            .collect()
    }

    fn tap(&self) -> Option<Tap> {
        let (rx, overflowed) = self.engine.upgrade()?.tap()?;
        Some(Tap { rx, overflowed })
    }

    fn teams(&self) -> Vec<String> {
        self.reload
            .accounts
            .load()
            .entries()
            .flat_map(|e| [&e.provider, &e.district, &e.backup_team])
            .filter_map(|t| t.clone())
            .collect()
    }

    fn call_type(&self, account: &str) -> Option<&'static str> {
        let accounts = self.reload.accounts.load();
        accounts.entry(account).map(|e| e.call_type.as_str())
    }

    fn account(&self, account: &str) -> Option<AccountInfo> {
        let accounts = self.reload.accounts.load();
        let e = accounts.entry(account)?;
        Some(AccountInfo {
            citizen: e.citizen.clone(),
            call_type: e.call_type.as_str().to_owned(),
            provider: e.provider.clone(),
            district: e.district.clone(),
            municipality: e.municipality.clone(),
            backup_team: e.backup_team.clone(),
            door_lock: e.door_lock.clone(),
            supervision_interval_secs: e.supervision_interval_secs,
        })
    }

    fn report(&self, request: ReportRequest) -> BoxFuture<'_, Result<String, String>> {
        let reports = Arc::clone(&self.reports);
        Box::pin(async move {
            let request = report_request(&request, &reports).map_err(|e| format!("{e:#}"))?;
            // Replaying the journal is work for a blocking thread (of the console's runtime,
            // at its lower priority).
            tokio::task::spawn_blocking(move || reports.report(&request))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("{e:#}"))
        })
    }
}

/// The console's report request as `vagt report monthly` would take it (no month: this one).
fn report_request(
    r: &ReportRequest,
    reports: &vagt_report::Source,
) -> anyhow::Result<vagt_report::Request> {
    use vagt_console::protocol::{ReportFormat as F, ReportTable as T};
    let month = match r.month.as_deref() {
        Some(m) => Month::parse(m)?,
        None => Month::current(&reports.core.normal, vagt_records::time::now_secs())?,
    };
    Ok(vagt_report::Request {
        month,
        municipality: r.municipality.clone(),
        provider: r.provider.clone(),
        format: match r.format {
            F::Summary => ReportFormat::Summary,
            F::Json => ReportFormat::Json,
            F::Csv => ReportFormat::Csv,
            F::Html => ReportFormat::Html,
        },
        table: match r.table {
            T::Calls => ReportTable::Calls,
            T::Citizens => ReportTable::Citizens,
        },
        delimiter: r.delimiter.unwrap_or(','),
    })
}
