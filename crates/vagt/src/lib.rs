//! The `vagt` binary's library: it composes the stages, it decides nothing about alarms.
//!
//! * [`config`] — the configuration file, composed from the sections each crate owns, with
//!   every section's `validate()`.
//! * [`serve`] — `vagt serve`: start order and ordered shutdown; [`reload`] — what SIGHUP reads
//!   again (the accounts file, the citizen register), and admins' edits of the accounts.
//! * [`ops`] — the operations endpoint (`/metrics`, `/alarms`, `/core`).
//! * [`backend`] — the console's view of the engine, accounts and reports.
//! * [`cli`] and [`commands`] — the command line, one module per subcommand.
//!
//! The ACK path is `vagt-ingest`, the core behind the journal `vagt-engine`, the monthly extract
//! `vagt-report`, the console `vagt-console` (ARCHITECTURE.md has the map).

pub mod backend;
pub mod cli;
pub mod commands;
pub mod config;
pub mod ops;
pub mod reload;
pub mod retention;
pub mod serve;
