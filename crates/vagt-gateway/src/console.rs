//! The operator console inside `vagt serve`: `vagt-console`'s server over this gateway's core.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Weak};

use anyhow::Context;
use serde::Deserialize;
use vagt_console::server::{Backend, BoxFuture, Console, Failure};
use vagt_console::users::Users;
use vagt_core::{Actor, Alarm, AlarmId, Change, Command};

use crate::engine::{Engine, EngineError};

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
}

/// The core as the console sees it. It holds the engine weakly: shutdown does not wait for
/// console connections to let go of it.
struct EngineBackend(Weak<Engine>);

impl Backend for EngineBackend {
    fn command(
        &self,
        actor: Actor,
        command: Command,
        client: Option<SocketAddr>,
    ) -> BoxFuture<'_, Result<Vec<Change>, Failure>> {
        let engine = self.0.upgrade();
        Box::pin(async move {
            let engine = engine.ok_or_else(|| Failure::Unavailable("stopping".into()))?;
            engine
                .command(actor, command, client)
                .await
                .map_err(|e| match e {
                    EngineError::Refused(r) => Failure::Refused(r),
                    EngineError::Unavailable(u) => Failure::Unavailable(u),
                })
        })
    }

    fn open_alarms(&self) -> Vec<Alarm> {
        self.0
            .upgrade()
            .map(|e| e.open_alarms())
            .unwrap_or_default()
    }

    fn alarm(&self, id: AlarmId) -> Option<Alarm> {
        self.0.upgrade()?.alarm(id)
    }

    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Change> {
        match self.0.upgrade() {
            Some(e) => e.subscribe(),
            // Stopping: a feed that is already closed.
            None => tokio::sync::broadcast::channel(1).1,
        }
    }
}

/// Binds the console and serves it over `engine`; returns its address and task.
pub async fn start(
    config: &ConsoleConfig,
    engine: &Arc<Engine>,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let tls = vagt_console::tls::server_config(&config.cert, &config.key)
        .context("console TLS (make a self-signed pair for a first run with `vagt cert dev`)")?;
    let users = Users::load(&config.users)?;
    let listener = crate::tcp::bind_listener(config.listen)
        .with_context(|| format!("binding console {}", config.listen))?;
    let addr = listener.local_addr()?;
    let console = Console::new(tls, users, Arc::new(EngineBackend(Arc::downgrade(engine))));
    Ok((addr, tokio::spawn(console.serve(listener))))
}
