//! `vagt report monthly`.

use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use vagt_report::{Month, Request};

use crate::cli::ReportArgs;
use crate::serve::load_config;

/// Computes the report the arguments ask for and writes it to `out`.
pub fn run(args: &ReportArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let month = Month::parse(&args.month)?;
    let (config, accounts) = load_config(&args.serve)?;
    // Without the accounts every call would have no citizen and call type "other": a report
    // the municipality cannot use, and that looks like one it can.
    anyhow::ensure!(
        config.gateway.accounts.is_some(),
        "the report needs the accounts file: --accounts FILE, or [gateway] accounts in --config"
    );
    let source = config.report_source(Arc::new(accounts));
    let request = Request {
        month,
        municipality: args.municipality.clone(),
        provider: args.provider.clone(),
        format: args.format,
        table: args.table,
        delimiter: args.delimiter,
    };
    let text = source.report(&request)?;
    out.write_all(text.as_bytes())
        .context("writing the report")?;
    out.flush().context("writing the report")?;
    Ok(())
}
