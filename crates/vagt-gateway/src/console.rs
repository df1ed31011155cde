//! The operator console inside `vagt serve`: `vagt-console`'s server over this gateway's core.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Weak};

use anyhow::Context;
use serde::Deserialize;
use vagt_console::protocol::{AccountInfo, ReportRequest};
use vagt_console::server::{Backend, BoxFuture, Console, Failure, Tap};
use vagt_console::tls::ClientCerts;
use vagt_console::users::Users;
use vagt_core::{Actor, Alarm, Change, Command};

use crate::cli::{ReportFormat, ReportTable};
use crate::engine::{Engine, EngineError};
use crate::report::{self, monthly::Month};

/// `[console]`: where the console listens, its TLS pair and its users.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Address (TLS only), e.g. `0.0.0.0:7443`.
    pub listen: SocketAddr,
    /// PEM certificate chain (`vagt cert dev` makes a self-signed one).
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// Users file (`vagt user add`).
    pub users: PathBuf,
    /// CA certificate(s) (PEM) that client certificates must chain to (mTLS). A client with
    /// one logs in as the user its common name names, without a password.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
    /// With `client_ca`: `optional` (password logins still allowed) or `required` (no
    /// certificate, no TLS handshake).
    #[serde(default)]
    pub client_certs: ClientCerts,
    /// Threads of the console's own runtime (TLS, WebSocket and JSON work for every client).
    #[serde(default = "default_threads")]
    pub threads: usize,
    /// How those threads are scheduled beside the gateway's: `idle` (default) or `nice`.
    #[serde(default)]
    pub cpu: ConsoleCpu,
    /// With `cpu = "nice"`: their Unix nice value (0 = the gateway's own, 19 = the lowest).
    #[serde(default = "default_nice")]
    pub nice: i32,
}

/// How the console's threads share the CPU with the gateway's (promise 2: however many
/// consoles follow the queue, the ACK path gets the CPU first; consoles that cannot keep up
/// are resynced).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsoleCpu {
    /// Linux `SCHED_IDLE`: they run on CPU time the gateway leaves, and a gateway thread that
    /// wakes takes the CPU from them at once. Under a load that takes every core, consoles
    /// wait (and are resynced) rather than the ACKs.
    #[default]
    Idle,
    /// Normal scheduling at `nice`: they keep a small share even when the gateway is saturated,
    /// at the cost of ACK latency while it is.
    Nice,
}

fn default_threads() -> usize {
    1
}

fn default_nice() -> i32 {
    10
}

/// The core as the console sees it. It holds the engine weakly: shutdown does not wait for
/// console connections to let go of it.
struct EngineBackend {
    engine: Weak<Engine>,
    reports: Arc<report::Source>,
    /// The gateway's runtime: commands are journaled from its threads, not the console's
    /// low-priority ones (which must never hold a lock the ACK path needs).
    gateway: tokio::runtime::Handle,
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

    fn open_alarms(&self) -> Vec<Alarm> {
        self.engine
            .upgrade()
            .map(|e| e.open_alarms())
            .unwrap_or_default()
    }

    fn tap(&self) -> Option<Tap> {
        let (rx, overflowed) = self.engine.upgrade()?.tap()?;
        Some(Tap { rx, overflowed })
    }

    fn account(&self, account: &str) -> Option<AccountInfo> {
        let e = self.reports.accounts.entry(account)?;
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
            let request = report_request(&request).map_err(|e| format!("{e:#}"))?;
            // Replaying the journal is work for a blocking thread (of the console's runtime,
            // at its lower priority).
            tokio::task::spawn_blocking(move || reports.report(&request))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("{e:#}"))
        })
    }
}

/// The console's report request as `vagt report monthly` would take it.
fn report_request(r: &ReportRequest) -> anyhow::Result<report::Request> {
    use vagt_console::protocol::{ReportFormat as F, ReportTable as T};
    Ok(report::Request {
        month: r.month.as_deref().map(Month::parse).transpose()?,
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

/// The running console: its own runtime, apart from the gateway's.
pub struct RunningConsole {
    /// Where it listens.
    pub addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl RunningConsole {
    /// Stops serving: drops every console connection without waiting for them (as dropping it
    /// does).
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for RunningConsole {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Binds the console and serves it over `engine` on a runtime of its own, whose threads run at
/// `config.nice`.
pub async fn start(
    config: &ConsoleConfig,
    engine: &Arc<Engine>,
    reports: report::Source,
) -> anyhow::Result<RunningConsole> {
    if config.threads == 0 {
        anyhow::bail!("[console] threads must be at least 1");
    }
    if !(-20..=19).contains(&config.nice) {
        anyhow::bail!(
            "[console] nice must be between -20 and 19, not {}",
            config.nice
        );
    }
    if config.client_ca.is_none() && config.client_certs == ClientCerts::Required {
        anyhow::bail!(
            "[console] client_certs = \"required\" needs client_ca (the CA that issues them)"
        );
    }
    let clients = config
        .client_ca
        .as_deref()
        .map(|ca| (ca, config.client_certs));
    let tls = vagt_console::tls::server_config_with_clients(&config.cert, &config.key, clients)
        .context("console TLS (make a self-signed pair for a first run with `vagt cert dev`)")?;
    let users = Users::load(&config.users)?;
    let priority = match config.cpu {
        ConsoleCpu::Idle => Priority::Idle,
        ConsoleCpu::Nice => Priority::Nice(config.nice),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.threads)
        .thread_name("vagt-console")
        .on_thread_start(move || lower_priority(priority))
        .enable_all()
        .build()
        .context("starting the console's runtime")?;
    let listen = config.listen;
    // The listener belongs to the runtime that polls it: bound there.
    let listener = runtime
        .spawn(async move { crate::tcp::bind_listener(listen) })
        .await?
        .with_context(|| format!("binding console {listen}"))?;
    let addr = listener.local_addr()?;
    let backend = EngineBackend {
        engine: Arc::downgrade(engine),
        reports: Arc::new(reports),
        gateway: tokio::runtime::Handle::current(),
    };
    let console = Console::new(tls, users, Arc::new(backend));
    runtime.spawn(console.serve(listener));
    Ok(RunningConsole {
        addr,
        runtime: Some(runtime),
    })
}

/// A CPU priority below the gateway's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// `SCHED_IDLE`.
    Idle,
    /// Normal scheduling at this nice value.
    Nice(i32),
}

/// Gives the calling thread `priority` (Linux: per thread; lowering it needs no privilege).
#[cfg(target_os = "linux")]
pub fn lower_priority(priority: Priority) {
    use thread_priority::{
        NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
        set_thread_priority_and_policy, thread_native_id,
    };
    let set = match priority {
        Priority::Idle => set_thread_priority_and_policy(
            thread_native_id(),
            ThreadPriority::Min,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
        )
        .map_err(|e| format!("{e:?}")),
        Priority::Nice(nice) => {
            rustix::process::setpriority_process(Some(rustix::thread::gettid()), nice)
                .map_err(|e| e.to_string())
        }
    };
    if let Err(e) = set {
        tracing::warn!("console thread keeps the gateway's CPU priority: {e}");
    }
}

/// Elsewhere the console threads keep the gateway's priority.
#[cfg(not(target_os = "linux"))]
pub fn lower_priority(_priority: Priority) {}
