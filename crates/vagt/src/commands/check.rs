//! `vagt check-config`: everything `vagt serve` would refuse at start, refused now.

use crate::cli::ServeArgs;
use crate::serve::load_config;

/// Parses and validates the configuration (every section), loads the accounts file and the
/// console's certificate, key and users, and prints a one-line summary.
pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let (config, accounts) = load_config(args)?;
    config.check_files()?;
    if let Some(c) = &config.cluster {
        c.require_node()?;
    }
    let g = &config.gateway;
    println!(
        "config OK: listen {} (tcp+udp), metrics {}, data {}, {} accounts{}",
        g.listen,
        g.metrics,
        g.data.display(),
        accounts.len(),
        config
            .console
            .as_ref()
            .map(|c| format!(", console {}", c.listen))
            .unwrap_or_default()
    );
    Ok(())
}
