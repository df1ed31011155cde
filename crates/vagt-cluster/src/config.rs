//! `[cluster]`: where PostgreSQL is, who this node is, and how long the ACK path waits for it.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// `[cluster]` (absent: the embedded journal alone, one process).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// A libpq-style connection string, e.g.
    /// `host=db1,db2 port=5432,5432 user=vagt dbname=vagt target_session_attrs=read-write`
    /// (several hosts: the promoted standby is found after a failover).
    pub url: String,
    /// This node's name: unique in the cluster, stable across restarts (letters, digits, `-`,
    /// `_`; at most 32). May be left out when every start passes `vagt serve --node NAME`.
    #[serde(default)]
    pub node: String,
    /// Milliseconds the ACK path waits for PostgreSQL's commit before acknowledging on the
    /// local fsync alone (degraded): well inside a panel's retry (5–13 s).
    #[serde(default = "default_commit_timeout_ms")]
    pub commit_timeout_ms: u64,
    /// Seconds a leader's lease lasts without renewal (renewed every second): the longest a
    /// dead leader's once-only duties (ticks, door webhooks) wait for another node.
    #[serde(default = "default_lease_secs")]
    pub lease_secs: u64,
    /// Seconds the dedup check in PostgreSQL looks back (a retransmission to another node
    /// within it is the same message; DC-09 sequence numbers wrap, so it is not forever).
    #[serde(default = "default_dedup_window_secs")]
    pub dedup_window_secs: u64,
    /// The CA that signed PostgreSQL's certificate (PEM): every connection is then TLS, and the
    /// server's certificate is verified for the host it was reached at. Absent: plain TCP.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// This node's client certificate chain (PEM), with `key_file`.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
}

fn default_commit_timeout_ms() -> u64 {
    1500
}

fn default_lease_secs() -> u64 {
    5
}

fn default_dedup_window_secs() -> u64 {
    3600
}

impl ClusterConfig {
    /// The node's name is set (in `[cluster]` or by `vagt serve --node`).
    pub fn require_node(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            !self.node.is_empty(),
            "cluster.node is not set: name this node in [cluster] or with vagt serve --node NAME"
        );
        Ok(())
    }

    /// Checks the settings; names what is wrong. The node's name may still be missing (the
    /// command line may give it: [`ClusterConfig::require_node`]).
    pub fn validate(&self) -> anyhow::Result<()> {
        let name_ok = self.node.len() <= 32
            && self
                .node
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        anyhow::ensure!(
            name_ok,
            "cluster.node (or vagt serve --node) must be 1–32 letters, digits, '-' or '_' (got {:?})",
            self.node
        );
        let url = self.url.parse::<tokio_postgres::Config>().map_err(|e| {
            anyhow::anyhow!("cluster.url is not a PostgreSQL connection string: {e}")
        })?;
        anyhow::ensure!(
            self.ca_file.is_some() || (self.cert_file.is_none() && self.key_file.is_none()),
            "cluster.cert_file and cluster.key_file need cluster.ca_file (the server is verified)"
        );
        anyhow::ensure!(
            self.cert_file.is_some() == self.key_file.is_some(),
            "cluster.cert_file and cluster.key_file go together"
        );
        anyhow::ensure!(
            self.ca_file.is_none()
                || url.get_ssl_mode() != tokio_postgres::config::SslMode::Disable,
            "cluster.url says sslmode=disable but cluster.ca_file asks for TLS"
        );
        anyhow::ensure!(
            (50..=10_000).contains(&self.commit_timeout_ms),
            "cluster.commit_timeout_ms must be 50..=10000 (a panel retries after 5–13 s)"
        );
        anyhow::ensure!(
            (3..=60).contains(&self.lease_secs),
            "cluster.lease_secs must be 3..=60 (it is renewed every second)"
        );
        anyhow::ensure!(
            (60..=86_400).contains(&self.dedup_window_secs),
            "cluster.dedup_window_secs must be 60..=86400"
        );
        Ok(())
    }

    /// Loads the TLS files (CA, client certificate and key), so a broken one is reported
    /// before serving.
    pub fn check_files(&self) -> anyhow::Result<()> {
        crate::tls::connector(self).map(|_| ())
    }

    /// Resolves the relative file paths against `base` (the config file's directory).
    pub fn resolve_paths(&mut self, base: &std::path::Path) {
        for p in [&mut self.ca_file, &mut self.cert_file, &mut self.key_file]
            .into_iter()
            .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
    }

    /// The commit timeout as a duration.
    pub fn commit_timeout(&self) -> Duration {
        Duration::from_millis(self.commit_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(text: &str) -> anyhow::Result<ClusterConfig> {
        let c: ClusterConfig = toml::from_str(text)?;
        c.validate()?;
        Ok(c)
    }

    #[test]
    fn defaults_fill_what_is_left_out() {
        let c = parse("url = \"host=127.0.0.1 user=vagt\"\nnode = \"a-1\"").unwrap();
        assert_eq!(c.commit_timeout_ms, 1500);
        assert_eq!(c.lease_secs, 5);
    }

    #[test]
    fn bad_names_and_urls_are_refused_with_the_key() {
        let e = parse("url = \"host=x\"\nnode = \"a b\"").unwrap_err();
        assert!(e.to_string().contains("cluster.node"), "{e}");
        let e = parse("url = \"host=x port=notaport\"\nnode = \"a\"").unwrap_err();
        assert!(e.to_string().contains("cluster.url"), "{e}");
        let e = parse("url = \"host=x sslmode=disable\"\nnode = \"a\"\nca_file = \"ca.pem\"")
            .unwrap_err();
        assert!(e.to_string().contains("sslmode=disable"), "{e}");
        let e = parse("url = \"host=x\"\nnode = \"a\"\ncert_file = \"c.pem\"").unwrap_err();
        assert!(e.to_string().contains("cluster.ca_file"), "{e}");
        let e = parse("url = \"host=x\"\nnode = \"a\"\nca_file = \"missing.pem\"").unwrap();
        let e = e.check_files().unwrap_err();
        assert!(format!("{e:#}").contains("cluster.ca_file"), "{e:#}");
    }
}
