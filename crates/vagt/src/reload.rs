//! SIGHUP (`systemctl reload`): the accounts file and the citizen register are read again,
//! without a restart. A file that does not load keeps the one in use (WARN).
//!
//! New accounts are journaled first (the `S` records that carry them: the core applies their
//! supervision, teams and priorities from there, and replays and reports see them from there),
//! then the ACK path and the consoles use them — so a frame of a new account is journaled after
//! the accounts that know it. In a cluster every node folds the journaled accounts; reload every
//! node (with the same file), or one node's ACK path keeps the old keys and accounts.

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tracing::{info, warn};
use vagt_engine::Engine;
use vagt_ingest::AckPath;
use vagt_journal::Journal;
use vagt_records::{Accounts, input};

use crate::backend::Register;

/// What SIGHUP reads again, and who uses it.
pub struct Reload {
    /// The accounts file (none configured: nothing to reload).
    pub(crate) accounts_file: Option<PathBuf>,
    /// The accounts in use (the consoles show them: account details, forward targets).
    pub(crate) accounts: ArcSwap<Accounts>,
    /// The ACK path (keys, known accounts, per-account windows).
    ack: Arc<AckPath>,
    /// Where the accounts in force are journaled.
    journal: Arc<dyn Journal>,
    /// The citizen register the console shows.
    register: Option<Register>,
    /// One change of the accounts at a time (a reload, an admin's edit).
    pub(crate) editing: tokio::sync::Mutex<()>,
}

impl Reload {
    /// What SIGHUP reloads, starting with `accounts` (from `accounts_file`).
    pub(crate) fn new(
        accounts_file: Option<PathBuf>,
        accounts: Arc<Accounts>,
        ack: Arc<AckPath>,
        journal: Arc<dyn Journal>,
        register: Option<Register>,
    ) -> Self {
        Self {
            accounts_file,
            accounts: ArcSwap::new(accounts),
            ack,
            journal,
            register,
            editing: tokio::sync::Mutex::new(()),
        }
    }

    /// Reads both again, in the background (never holding up the signals), each after any
    /// admin's edit under way, the file work off the async threads; the register's new
    /// version is journaled.
    pub(crate) fn run(self: &Arc<Self>, engine: &Arc<Engine>) {
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let _turn = me.editing.lock().await;
            let blocking = Arc::clone(&me);
            let _ = tokio::task::spawn_blocking(move || blocking.reload_accounts()).await;
        });
        let Some(r) = self.register.clone() else {
            return;
        };
        let engine = Arc::clone(engine);
        tokio::spawn(async move {
            match r.reload().await {
                Ok(record) => {
                    info!(citizens = %record.details["citizens"], version = %record.details["version"], "SIGHUP: citizen register reloaded");
                    journal_loaded(engine, record).await;
                }
                Err(e) => {
                    warn!("SIGHUP: citizen register not reloaded, the previous one stays: {e:#}");
                }
            }
        });
    }

    fn reload_accounts(&self) {
        let Some(path) = &self.accounts_file else {
            info!("SIGHUP: no accounts file configured");
            return;
        };
        let fresh = match Accounts::load(path) {
            Ok(a) => Arc::new(a),
            Err(e) => {
                warn!("SIGHUP: accounts not reloaded, the previous ones stay: {e:#}");
                return;
            }
        };
        let n = fresh.len();
        match self.install(fresh) {
            Ok(()) => info!(accounts = n, "SIGHUP: accounts reloaded"),
            Err(e) => warn!("SIGHUP: accounts not reloaded (they could not be journaled): {e:#}"),
        }
    }

    /// Uses `fresh` from now on: journaled first, then the ACK path and the consoles.
    pub(crate) fn install(&self, fresh: Arc<Accounts>) -> anyhow::Result<()> {
        journal_accounts(self.journal.as_ref(), &fresh)?;
        self.ack.replace_accounts(Arc::clone(&fresh));
        self.accounts.store(fresh);
        Ok(())
    }
}

/// Journals the accounts that apply from now, in one or more records (in this order).
pub(crate) fn journal_accounts(journal: &dyn Journal, accounts: &Accounts) -> anyhow::Result<()> {
    use anyhow::Context;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let set = nanos ^ (u64::from(std::process::id()) << 40);
    for record in input::encode_accounts(vagt_records::time::now_secs(), accounts, set)? {
        journal
            .append(record, Box::new(|_| {}))
            .context("journaling the accounts in force")?;
    }
    Ok(())
}

/// Journals which citizen register is in force from now (the audit trail's answer to "which
/// version of the record was shown"), in the background (never holding up the start or the
/// signals); a failure is logged, the register is used anyway (the views themselves are
/// journaled with its version, or not shown).
pub(crate) async fn journal_loaded(engine: Arc<Engine>, record: input::AdminRecord) {
    let journaled = match input::encode_admin(&record) {
        Ok(bytes) => engine.journal_audit(bytes).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = journaled {
        warn!("the citizen register's version could not be journaled: {e}");
    }
}
