//! `vagt cert dev`: a self-signed console certificate, and client certificates from a dev CA.

use std::path::Path;

/// Writes the server pair into `out` — unless `clients` are asked for and a pair is already
/// there: issuing a client certificate never replaces the certificate consoles already trust —
/// and one client certificate per `clients` user.
pub fn dev(out: &Path, names: &[String], clients: &[String]) -> anyhow::Result<()> {
    let (cert, key) = (out.join("console-cert.pem"), out.join("console-key.pem"));
    if clients.is_empty() || !(cert.is_file() && key.is_file()) {
        let (cert, key) = vagt_console::tls::dev_cert(out, names)?;
        println!("wrote {} and {}", cert.display(), key.display());
    } else {
        println!(
            "kept the existing {} and {} (run without --client to replace them)",
            cert.display(),
            key.display()
        );
    }
    for user in clients {
        let (ca, cert, key) = vagt_console::tls::dev_client_cert(out, user)?;
        println!(
            "wrote {} and {} (client certificate for {user}, from the CA {})",
            cert.display(),
            key.display(),
            ca.display()
        );
    }
    Ok(())
}
