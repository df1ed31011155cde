//! The monthly extract a municipality receives (`vagt report monthly`, and over the console),
//! computed from the journal alone: the core is replayed offline ([`vagt_engine::fold`]), so
//! the same journal always gives the same bytes.
//!
//! [`calls`] collects each call from the core's changes, [`monthly`] computes the figures
//! (per citizen, per shift, exceptions, top callers), [`render`] writes CSV and HTML. The caller
//! says which month ([`Month::current`] for the month so far).

pub mod calls;
pub mod monthly;
pub mod render;

use std::sync::Arc;

use vagt_engine::CoreConfig;
use vagt_engine::fold::fold_log_in_force;
use vagt_proto::Settings;
use vagt_records::Accounts;

pub use monthly::Month;

/// Report formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ReportFormat {
    /// Comma- (or `--delimiter`-) separated values, UTF-8.
    Csv,
    /// Everything, as one JSON document.
    Json,
    /// A self-contained page with charts.
    Html,
    /// The figures without the call and citizen lists (JSON): SLA per shift, exceptions, top
    /// callers — the supervisor view.
    Summary,
}

/// Which table a CSV report holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ReportTable {
    /// One row per call.
    Calls,
    /// One row per citizen.
    Citizens,
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
    /// The log: the journal directory, or the cluster's store.
    pub journal: vagt_engine::fold::Log,
}

/// One report.
#[derive(Clone, Debug)]
pub struct Request {
    /// The month.
    pub month: Month,
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
        let policy = &self.core.normal;
        let month = request.month;
        let mut collected = calls::Collected::default();
        fold_log_in_force(
            &self.core,
            &self.accounts,
            &self.settings,
            &self.journal,
            |c, accounts| collected.add_in_force(c, accounts),
        )?;
        let m = monthly::monthly(
            &collected,
            &self.accounts,
            policy,
            month,
            monthly::Scope {
                municipality: request.municipality.as_deref(),
                provider: request.provider.as_deref(),
                as_of: vagt_records::time::now_secs(),
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
