//! `vagt report monthly`: the extract a municipality receives, computed from the journal alone
//! (the core is replayed offline, [`crate::engine::fold`]), so the same journal always gives
//! the same bytes.

pub mod calls;
pub mod monthly;
pub mod render;

use std::io::Write;

use anyhow::{Context, bail};

use crate::cli::{ReportArgs, ReportFormat, ReportTable};
use crate::engine::fold::fold;
use crate::serve::load_config;

/// Runs `vagt report monthly`, writing to `out`.
pub fn run(args: &ReportArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let (config, accounts) = load_config(&args.serve)?;
    let month = monthly::Month::parse(&args.month)?;
    let journal = config.gateway.data.join("journal");
    if !journal.is_dir() {
        bail!("no journal at {}", journal.display());
    }
    let mut collected = calls::Collected::default();
    fold(
        &config.core,
        &accounts,
        &config.protocol.settings(),
        &journal,
        |c| collected.add(c),
    )?;
    let policy = &config.core.normal;
    let m = monthly::monthly(
        &collected,
        &accounts,
        policy,
        month,
        args.municipality.as_deref(),
    )?;
    let text = match (args.format, args.table) {
        (ReportFormat::Json, _) => serde_json::to_string_pretty(&m)? + "\n",
        (ReportFormat::Csv, ReportTable::Calls) => {
            render::calls_csv(&m, &policy.time_zone, args.delimiter)
        }
        (ReportFormat::Csv, ReportTable::Citizens) => render::citizens_csv(&m, args.delimiter),
        (ReportFormat::Html, _) => render::html(&m, &policy.time_zone),
    };
    out.write_all(text.as_bytes())
        .context("writing the report")?;
    out.flush().context("writing the report")?;
    Ok(())
}
