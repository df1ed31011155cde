//! `[console]`: where the console listens, its TLS pair, users, client certificates and CPU
//! priority — with `validate()` (values) and `check()` (the files load), so `vagt check-config`
//! refuses what `vagt serve` would.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::tls::ClientCerts;
use crate::users::Users;

/// `[console]`: where the console listens, its TLS pair and its users.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Address (TLS only); default `127.0.0.1:7443` (loopback: open it wider on purpose).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// PEM certificate chain. Absent (with `key`): `<data>/console-cert.pem`, a self-signed
    /// pair made on the first start.
    #[serde(default)]
    pub cert: Option<PathBuf>,
    /// PEM private key (absent: `<data>/console-key.pem`, with `cert`).
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// Users file (`vagt user add`). Absent: `<data>/users.toml`, made empty on the first
    /// start; while it has no admin the console offers a one-time set-up link.
    #[serde(default)]
    pub users: Option<PathBuf>,
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
    /// and care notes shown with an alarm's detail. Reloaded on SIGHUP; admins edit it in the
    /// console. Absent: `<data>/citizens.csv`, made by the first record an admin adds.
    #[serde(default)]
    pub citizens: Option<PathBuf>,
    /// Which files are the defaults in the data directory, made on the first start (set by
    /// [`ConsoleConfig::in_data`]).
    #[serde(skip)]
    pub made: Made,
}

/// Console files the configuration left out: kept in the data directory and made on the first
/// start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Made {
    /// The TLS pair (self-signed for localhost, 127.0.0.1 and ::1).
    pub tls: bool,
    /// The users file (empty).
    pub users: bool,
    /// The citizen register (made by the first record an admin adds).
    pub citizens: bool,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            cert: None,
            key: None,
            users: None,
            client_ca: None,
            client_certs: ClientCerts::default(),
            threads: default_threads(),
            cpu: ConsoleCpu::default(),
            nice: default_nice(),
            citizens: None,
            made: Made::default(),
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7443))
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
    /// Puts the files the configuration left out in the data directory `data` (made on the
    /// first start: [`ConsoleConfig::first_run`]).
    pub fn in_data(&mut self, data: &Path) {
        if self.cert.is_none() && self.key.is_none() {
            self.made.tls = true;
            self.cert = Some(data.join("console-cert.pem"));
            self.key = Some(data.join("console-key.pem"));
        }
        if self.users.is_none() {
            self.made.users = true;
            self.users = Some(data.join("users.toml"));
        }
        if self.citizens.is_none() {
            self.made.citizens = true;
            self.citizens = Some(data.join("citizens.csv"));
        }
    }

    /// The certificate chain's path.
    pub fn cert(&self) -> &Path {
        self.cert
            .as_deref()
            .unwrap_or_else(|| Path::new("console-cert.pem"))
    }

    /// The private key's path.
    pub fn key(&self) -> &Path {
        self.key
            .as_deref()
            .unwrap_or_else(|| Path::new("console-key.pem"))
    }

    /// The users file's path.
    pub fn users(&self) -> &Path {
        self.users
            .as_deref()
            .unwrap_or_else(|| Path::new("users.toml"))
    }

    /// Makes the default files that are missing: a self-signed TLS pair and an empty users
    /// file (both readable by their owner only). Files that exist are never replaced.
    pub fn first_run(&self) -> anyhow::Result<()> {
        let (cert, key) = (self.cert().exists(), self.key().exists());
        if self.made.tls && !(cert && key) {
            // One of Vagt's own pair without the other (a crash while it was made) is of no
            // use: made again, both.
            if cert || key {
                tracing::warn!(cert = %self.cert().display(), "console: only half of the self-signed pair is there; making a new pair");
            }
            let dir = self.cert().parent().unwrap_or_else(|| Path::new("."));
            crate::tls::dev_cert(dir, &[])?;
            tracing::info!(cert = %self.cert().display(), "console: made a self-signed certificate (first start)");
        }
        if self.made.users && !self.users().exists() {
            crate::users::create_empty(self.users())?;
        }
        Ok(())
    }

    /// Checks every value; the error names the key.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.cert.is_some() != self.key.is_some() {
            bail!(
                "console.cert and console.key go together (leave both out for a self-signed pair in the data directory)"
            );
        }
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
    /// file — and returns them (no TLS pair yet: it is made on the first start).
    pub fn check(&self) -> anyhow::Result<(Option<std::sync::Arc<rustls::ServerConfig>>, Users)> {
        self.validate()?;
        let clients = self.client_ca.as_deref().map(|ca| (ca, self.client_certs));
        let first_run_tls = self.made.tls && !(self.cert().exists() && self.key().exists());
        let tls = if first_run_tls {
            // The pair comes at the first start; the client CA is the operator's: checked now.
            if let Some((ca, mode)) = clients {
                let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
                crate::tls::client_verifier(ca, mode, provider)?;
            }
            None
        } else {
            Some(
                crate::tls::server_config_with_clients(self.cert(), self.key(), clients).context(
                    "console TLS (make a self-signed pair for a first run with `vagt cert dev`)",
                )?,
            )
        };
        let users = if self.made.users && !self.users().exists() {
            Users::default()
        } else {
            Users::load(self.users())?
        };
        self.load_citizens()?;
        Ok((tls, users))
    }

    /// The citizen register (empty without `citizens`, or before the default one is made).
    pub fn load_citizens(&self) -> anyhow::Result<vagt_records::Citizens> {
        match &self.citizens {
            Some(path) if self.made.citizens && !path.exists() => {
                Ok(vagt_records::Citizens::default())
            }
            Some(path) => vagt_records::Citizens::load(path),
            None => Ok(vagt_records::Citizens::default()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn in_data(dir: &Path) -> ConsoleConfig {
        let mut c = ConsoleConfig::default();
        c.in_data(dir);
        c
    }

    #[test]
    fn half_of_a_made_pair_is_made_again_as_a_whole() {
        for left in ["console-cert.pem", "console-key.pem"] {
            let dir = tempfile::tempdir().unwrap();
            let c = in_data(dir.path());
            c.first_run().unwrap();
            // A crash while the pair was made: one of the two is there.
            let other = if left == "console-cert.pem" {
                "console-key.pem"
            } else {
                "console-cert.pem"
            };
            std::fs::remove_file(dir.path().join(other)).unwrap();
            c.first_run().unwrap();
            let (tls, _) = c.check().unwrap();
            assert!(tls.is_some(), "no usable pair after {left} alone");
        }
    }

    #[test]
    fn a_missing_client_ca_is_refused_before_the_first_start_too() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = in_data(dir.path());
        c.client_ca = Some(dir.path().join("no-such-ca.pem"));
        let e = c.check().unwrap_err();
        assert!(format!("{e:#}").contains("no-such-ca.pem"), "{e:#}");
    }
}
