//! `[console]`: where the console listens, its TLS pair, users, client certificates and CPU
//! priority — with `validate()` (values) and `check()` (the files load), so `vagt check-config`
//! refuses what `vagt serve` would.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::tls::ClientCerts;
use crate::users::Users;

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
    /// The citizen register (CSV or JSON, not readable by others): names, addresses, phones
    /// and care notes shown with an alarm's detail. Reloaded on SIGHUP.
    #[serde(default)]
    pub citizens: Option<PathBuf>,
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

impl ConsoleConfig {
    /// Checks every value; the error names the key.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.threads == 0 {
            bail!("console.threads must be at least 1");
        }
        if !(-20..=19).contains(&self.nice) {
            bail!("console.nice must be between -20 and 19, not {}", self.nice);
        }
        if self.client_ca.is_none() && self.client_certs == ClientCerts::Required {
            bail!("console.client_certs = \"required\" needs client_ca (the CA that issues them)");
        }
        Ok(())
    }

    /// Loads what the console would load at start — the TLS pair (and client CA) and the users
    /// file — and returns them.
    pub fn check(&self) -> anyhow::Result<(std::sync::Arc<rustls::ServerConfig>, Users)> {
        self.validate()?;
        let clients = self.client_ca.as_deref().map(|ca| (ca, self.client_certs));
        let tls = crate::tls::server_config_with_clients(&self.cert, &self.key, clients).context(
            "console TLS (make a self-signed pair for a first run with `vagt cert dev`)",
        )?;
        let users = Users::load(&self.users)?;
        self.load_citizens()?;
        Ok((tls, users))
    }

    /// The citizen register (empty without `citizens`).
    pub fn load_citizens(&self) -> anyhow::Result<vagt_records::Citizens> {
        match &self.citizens {
            Some(path) => vagt_records::Citizens::load(path),
            None => Ok(vagt_records::Citizens::default()),
        }
    }
}
