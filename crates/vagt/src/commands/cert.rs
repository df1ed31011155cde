//! `vagt cert dev`: a self-signed console certificate, and client certificates from a dev CA.

use std::path::Path;

/// Writes the pair (and one client certificate per `client` user) into `out`.
pub fn dev(out: &Path, names: &[String], clients: &[String]) -> anyhow::Result<()> {
    let (cert, key) = vagt_console::tls::dev_cert(out, names)?;
    println!("wrote {} and {}", cert.display(), key.display());
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
