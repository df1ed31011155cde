//! `vagt report monthly`: the extract a municipality receives, computed from the journal alone
//! (the core is replayed offline, [`crate::engine::fold`]), so the same journal always gives
//! the same bytes.

pub mod calls;
pub mod monthly;
pub mod render;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};

use vagt_proto::Settings;

use crate::accounts::Accounts;
use crate::cli::{ReportArgs, ReportFormat, ReportTable};
use crate::config::CoreConfig;
use crate::engine::fold::fold;
use crate::serve::load_config;

/// Runs `vagt report monthly`, writing to `out`.
pub fn run(args: &ReportArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let (config, accounts) = load_config(&args.serve)?;
    let source = Source {
        core: config.core,
        settings: config.protocol.settings(),
        accounts: Arc::new(accounts),
        journal: config.gateway.data.join("journal"),
    };
    let request = Request {
        month: Some(monthly::Month::parse(&args.month)?),
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

/// What reports are computed from: the journal and the set-up it was written under.
#[derive(Clone)]
pub struct Source {
    /// The core's settings (shards, policies, time zone).
    pub core: CoreConfig,
    /// Protocol settings (the frames in the journal are decoded again).
    pub settings: Settings,
    /// The accounts (citizen references, municipalities).
    pub accounts: Arc<Accounts>,
    /// The journal directory.
    pub journal: PathBuf,
}

/// One report.
#[derive(Clone, Debug)]
pub struct Request {
    /// The month; `None`: the current one (so far).
    pub month: Option<monthly::Month>,
    /// Only citizens of this municipality.
    pub municipality: Option<String>,
    /// Only citizens whose calls go to this provider or district.
    pub provider: Option<String>,
    /// Format.
    pub format: ReportFormat,
    /// For CSV: which table.
    pub table: ReportTable,
    /// CSV separator.
    pub delimiter: char,
}

impl Source {
    /// Computes `request` from the whole journal (the same journal gives the same bytes).
    pub fn report(&self, request: &Request) -> anyhow::Result<String> {
        if !self.journal.is_dir() {
            bail!("no journal at {}", self.journal.display());
        }
        let policy = &self.core.normal;
        let month = match request.month {
            Some(m) => m,
            None => {
                let now = crate::engine::secs(crate::receiver::clock().1);
                let today = policy.time_zone.date(now);
                monthly::Month::parse(today.get(..7).unwrap_or_default())?
            }
        };
        let mut collected = calls::Collected::default();
        fold(
            &self.core,
            &self.accounts,
            &self.settings,
            &self.journal,
            |c| collected.add(c),
        )?;
        let m = monthly::monthly(
            &collected,
            &self.accounts,
            policy,
            month,
            monthly::Scope {
                municipality: request.municipality.as_deref(),
                provider: request.provider.as_deref(),
            },
        )?;
        Ok(match (request.format, request.table) {
            (ReportFormat::Json, _) => serde_json::to_string_pretty(&m)? + "\n",
            (ReportFormat::Summary, _) => {
                serde_json::to_string_pretty(&monthly::Summary::of(&m))? + "\n"
            }
            (ReportFormat::Csv, ReportTable::Calls) => {
                render::calls_csv(&m, &policy.time_zone, request.delimiter)
            }
            (ReportFormat::Csv, ReportTable::Citizens) => {
                render::citizens_csv(&m, request.delimiter)
            }
            (ReportFormat::Html, _) => render::html(&m, &policy.time_zone),
        })
    }
}
