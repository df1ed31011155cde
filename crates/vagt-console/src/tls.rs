//! TLS for the console: certificate and key from PEM files, rustls with the `ring` provider;
//! and a self-signed pair for a first run (`vagt cert dev`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

use crate::users::write_private;

/// Whether the console asks clients for a certificate (mTLS).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientCerts {
    /// A client may present one (then it logs in as the user it names, without a password) or
    /// log in with a password.
    #[default]
    Optional,
    /// Every client must present a certificate from the configured CA; the TLS handshake
    /// fails without one.
    Required,
}

/// A server configuration from a PEM certificate chain and private key.
pub fn server_config(cert: &Path, key: &Path) -> anyhow::Result<Arc<ServerConfig>> {
    server_config_with_clients(cert, key, None)
}

/// As [`server_config`], verifying client certificates against the CA certificates in
/// `clients.0` when given.
pub fn server_config_with_clients(
    cert: &Path,
    key: &Path,
    clients: Option<(&Path, ClientCerts)>,
) -> anyhow::Result<Arc<ServerConfig>> {
    let certs = read_certs(cert)?;
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading private key {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let builder = match clients {
        None => builder.with_no_client_auth(),
        Some((ca, mode)) => builder.with_client_cert_verifier(client_verifier(ca, mode, provider)?),
    };
    let config = builder
        .with_single_cert(certs, key)
        .context("certificate and key do not fit together")?;
    Ok(Arc::new(config))
}

/// A verifier of client certificates against the CA certificates in `ca`.
pub(crate) fn client_verifier(
    ca: &Path,
    mode: ClientCerts,
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> anyhow::Result<Arc<dyn rustls::server::danger::ClientCertVerifier>> {
    let mut roots = rustls::RootCertStore::empty();
    for c in read_certs(ca)? {
        roots
            .add(c)
            .with_context(|| format!("client CA {}", ca.display()))?;
    }
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    let verifier = match mode {
        ClientCerts::Optional => verifier.allow_unauthenticated(),
        ClientCerts::Required => verifier,
    };
    verifier
        .build()
        .with_context(|| format!("client CA {}", ca.display()))
}

/// Every certificate in a PEM file (at least one).
fn read_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("reading certificate {}", path.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing certificate {}", path.display()))?;
    if certs.is_empty() {
        bail!("no certificate in {}", path.display());
    }
    Ok(certs)
}

/// The user a (verified) client certificate names: its subject's common name.
pub fn certificate_user(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, x509) = x509_parser::parse_x509_certificate(cert).ok()?;
    let cn = x509.subject().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_owned)
}

/// Issues a client certificate for user `name` from the development CA in `dir`
/// (`console-ca.pem`, `console-ca-key.pem`, made on first use) and writes it to
/// `dir/<name>-cert.pem` and `dir/<name>-key.pem`; returns the CA, certificate and key paths.
/// For a first run and tests: a centre issues client certificates from its own CA.
pub fn dev_client_cert(dir: &Path, name: &str) -> anyhow::Result<(PathBuf, PathBuf, PathBuf)> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || "-_.".contains(c))
    {
        bail!("a user name of letters, digits, '-', '_' or '.', not {name:?}");
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let ca = dir.join("console-ca.pem");
    let ca_key = dir.join("console-ca-key.pem");
    let issuer = if ca.exists() {
        let key = rcgen::KeyPair::from_pem(
            &std::fs::read_to_string(&ca_key)
                .with_context(|| format!("reading {}", ca_key.display()))?,
        )
        .with_context(|| format!("parsing {}", ca_key.display()))?;
        let pem =
            std::fs::read_to_string(&ca).with_context(|| format!("reading {}", ca.display()))?;
        rcgen::Issuer::from_ca_cert_pem(&pem, key)
            .with_context(|| format!("parsing {}", ca.display()))?
    } else {
        let mut params = rcgen::CertificateParams::new(Vec::new())?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Vagt development console CA");
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let key = rcgen::KeyPair::generate().context("generating the CA key")?;
        let cert = params.self_signed(&key).context("making the CA")?;
        std::fs::write(&ca, cert.pem()).with_context(|| format!("writing {}", ca.display()))?;
        write_private(&ca_key, key.serialize_pem().as_bytes())?;
        rcgen::Issuer::new(params, key)
    };
    let mut params = rcgen::CertificateParams::new(Vec::new())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let key = rcgen::KeyPair::generate().context("generating the client key")?;
    let cert = params
        .signed_by(&key, &issuer)
        .context("signing the client certificate")?;
    let cert_path = dir.join(format!("{name}-cert.pem"));
    let key_path = dir.join(format!("{name}-key.pem"));
    std::fs::write(&cert_path, cert.pem())
        .with_context(|| format!("writing {}", cert_path.display()))?;
    write_private(&key_path, key.serialize_pem().as_bytes())?;
    Ok((ca, cert_path, key_path))
}

/// Writes a self-signed certificate for `localhost` / `127.0.0.1` / `::1` (and `names`) to
/// `dir/console-cert.pem` and `dir/console-key.pem`; returns their paths.
pub fn dev_cert(dir: &Path, names: &[String]) -> anyhow::Result<(PathBuf, PathBuf)> {
    let mut subject = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    subject.extend(names.iter().cloned());
    let certified =
        rcgen::generate_simple_self_signed(subject).context("generating a certificate")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let cert = dir.join("console-cert.pem");
    let key = dir.join("console-key.pem");
    // The key first: a crash between the two leaves a key without a certificate, which the
    // first-run set-up recognises as a half pair and makes again.
    write_private(&key, certified.signing_key.serialize_pem().as_bytes())?;
    write_private(&cert, certified.cert.pem().as_bytes())?;
    Ok((cert, key))
}

/// A client configuration trusting exactly the certificate in `cert` (terminal client, tests).
pub fn client_config(cert: &Path) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    client_config_with_identity(cert, None)
}

/// As [`client_config`], presenting the client certificate and key in `identity` (mTLS).
pub fn client_config_with_identity(
    cert: &Path,
    identity: Option<(&Path, &Path)>,
) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("reading certificate {}", cert.display()))?
    {
        roots
            .add(c.context("parsing certificate")?)
            .context("adding the certificate")?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS protocol versions")?
    .with_root_certificates(roots);
    let config = match identity {
        None => config.with_no_client_auth(),
        Some((cert, key)) => config
            .with_client_auth_cert(
                read_certs(cert)?,
                PrivateKeyDer::from_pem_file(key)
                    .with_context(|| format!("reading private key {}", key.display()))?,
            )
            .context("client certificate and key do not fit together")?,
    };
    Ok(Arc::new(config))
}
