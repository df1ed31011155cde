//! `vagt alarms`: the open alarms, replayed from the journal.
//!
//! Alarm data (accounts, owners, notes, door locks) is served only behind the console's
//! authentication, never on the unauthenticated operations port; this command reads it from
//! the journal files, which only the service's user can read (`0600`).

use std::io::Write;

use anyhow::Context;

use crate::cli::ServeArgs;
use crate::serve::load_config;

/// Prints the open alarms as one JSON array, most urgent first (while `vagt serve` runs too:
/// reading needs no lock).
pub fn run(args: &ServeArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let (config, accounts) = load_config(args)?;
    if config.cluster.is_none() {
        crate::config::existing_journal_dir(&config.gateway.data)?;
    }
    let open = vagt_engine::fold::open_alarms(
        &config.core,
        &accounts,
        &config.protocol.settings(),
        &config.log(),
    )?;
    serde_json::to_writer_pretty(&mut *out, &open)?;
    writeln!(out).context("writing the alarms")?;
    Ok(())
}
