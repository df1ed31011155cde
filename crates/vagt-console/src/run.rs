//! Starting the console: its own runtime, at a CPU priority below the gateway's, on its own
//! listener.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::config::{ConsoleConfig, ConsoleCpu};
use crate::server::{Backend, Console};

/// The running console: its own runtime, apart from the gateway's.
pub struct RunningConsole {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The first-run set-up link, `https://ADDR/#setup=TOKEN`, while the users file made in
    /// the data directory has no admin; and the file that holds it (see [`crate::setup`]).
    pub setup: Option<(String, std::path::PathBuf)>,
    runtime: Option<tokio::runtime::Runtime>,
    console: Option<Arc<Console>>,
}

impl RunningConsole {
    fn handle(&self) -> anyhow::Result<tokio::runtime::Handle> {
        self.runtime
            .as_ref()
            .map(|rt| rt.handle().clone())
            .context("the console's runtime is gone")
    }

    /// Reads the users file again (SIGHUP), on the console's runtime; logs the outcome.
    pub fn reload_users(&self) {
        let (Some(console), Ok(rt)) = (self.console.clone(), self.handle()) else {
            return;
        };
        rt.spawn(async move {
            match console.reload_users().await {
                Ok(n) => tracing::info!(users = n, "SIGHUP: console users reloaded"),
                Err(e) => tracing::warn!(
                    "SIGHUP: console users not reloaded, the previous ones stay: {e:#}"
                ),
            }
        });
    }

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

/// Binds the console and serves `backend` on a runtime of its own, whose threads run below the
/// caller's priority (`config.cpu`).
pub async fn start(
    config: &ConsoleConfig,
    backend: Arc<dyn Backend>,
) -> anyhow::Result<RunningConsole> {
    config.first_run()?;
    let (tls, users) = config.check()?;
    let tls = tls.context("console TLS: no certificate after the first-run set-up")?;
    let setup = offer_setup(config, &users)?;
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
    // From here every early return drops the runtime through `RunningConsole`, which shuts it
    // down in the background (dropping a runtime inside async code would panic).
    let mut running = RunningConsole {
        addr: config.listen,
        setup: None,
        runtime: Some(runtime),
        console: None,
    };
    let rt = running.handle()?;
    let listen = config.listen;
    // The listener belongs to the runtime that polls it: bound there.
    let listener = rt
        .spawn(async move { TcpListener::bind(listen).await })
        .await
        .context("binding the console")?
        .with_context(|| format!("binding console {listen}"))?;
    running.addr = listener.local_addr()?;
    let console = Console::new(tls, users, backend);
    console.manage_users(config.users().to_owned());
    running.console = Some(Arc::clone(&console));
    if let Some((mut setup, token, file)) = setup {
        let url = format!("https://{}/#setup={token}", browsable(running.addr));
        setup.keep_link(&file, &url)?;
        console.offer_setup(setup);
        running.setup = Some((url, file));
    }
    rt.spawn(console.serve(listener));
    Ok(running)
}

/// A first-run set-up (its token and link file) if the users file is the one made in the
/// data directory and has no admin; a stale link file of an earlier run is removed.
fn offer_setup(
    config: &ConsoleConfig,
    users: &crate::users::Users,
) -> anyhow::Result<Option<(crate::setup::Setup, String, std::path::PathBuf)>> {
    if !config.made.users {
        if !users.has_admin() {
            tracing::info!(users = %config.users().display(), "console: no admin yet; add one with `vagt user add --file USERS --name NAME --role admin`");
        }
        return Ok(None);
    }
    let dir = config
        .users()
        .parent()
        .unwrap_or_else(|| std::path::Path::new("."));
    let file = dir.join(crate::setup::LINK_FILE);
    let offered = crate::setup::Setup::offer(users, config.users());
    if offered.is_none() {
        match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing {}", file.display()));
            }
            _ => {}
        }
    }
    Ok(offered.map(|(setup, token)| (setup, token, file)))
}

/// `addr` as a browser can open it: an unspecified address (all interfaces) is loopback.
pub(crate) fn browsable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::from(([127, 0, 0, 1], addr.port()))
        }
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, addr.port()))
        }
        _ => addr,
    }
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
