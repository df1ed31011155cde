//! TLS to PostgreSQL (rustls on ring, like the console): with `cluster.ca_file` every connection
//! is encrypted and the server's certificate is verified against that CA for the host name in
//! `cluster.url` (libpq's `sslmode=verify-full`; a server without TLS is refused, never used in
//! the clear). `cluster.cert_file` + `cluster.key_file` add a client certificate (PostgreSQL's
//! `cert` authentication or `clientcert=verify-full` in `pg_hba.conf`).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::ClusterConfig;

/// The connector for `config`: `None` without `ca_file` (plain TCP).
pub(crate) fn connector(config: &ClusterConfig) -> anyhow::Result<Option<MakeRustlsConnect>> {
    let Some(ca) = &config.ca_file else {
        return Ok(None);
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).with_context(|| read_error("ca_file", ca))? {
        let cert = cert.with_context(|| read_error("ca_file", ca))?;
        roots
            .add(cert)
            .with_context(|| format!("cluster.ca_file {}: not a CA certificate", ca.display()))?;
    }
    anyhow::ensure!(
        !roots.is_empty(),
        "cluster.ca_file {} holds no certificate",
        ca.display()
    );
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS to PostgreSQL")?
        .with_root_certificates(roots);
    let tls = match (&config.cert_file, &config.key_file) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .with_context(|| read_error("cert_file", cert))?
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| read_error("cert_file", cert))?;
            let key =
                PrivateKeyDer::from_pem_file(key).with_context(|| read_error("key_file", key))?;
            builder.with_client_auth_cert(chain, key).context(
                "cluster.cert_file and cluster.key_file do not make a client certificate",
            )?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => anyhow::bail!("cluster.cert_file and cluster.key_file go together"),
    };
    Ok(Some(MakeRustlsConnect::new(tls)))
}

fn read_error(key: &str, path: &Path) -> String {
    format!("cluster.{key}: reading {}", path.display())
}
