//! Vagt's console server: operators, supervisors, responders and auditors work Vagt through
//! WebSocket connections over TLS (rustls, `ring` provider) with JSON messages.
//!
//! * [`client`] — the terminal client's line mode (`vagt console`).
//! * [`http`] — the web console's files on the same port.
//! * [`tls`] — certificate and key from PEM; `vagt cert dev` for a first run.
//! * [`users`] — the users file (argon2 hashes), roles and teams.
//! * [`setup`] — the first run: a one-time link that creates the first admin.
//! * [`admin`] — admins change the users and the citizen register from the console.
//! * [`protocol`] — the messages, version 2.
//! * [`server`] — handshake, login (rate-limited), snapshot + change feed, authorised commands,
//!   through the [`server::Backend`] the binary implements over the engine.
//! * [`config`] — the `[console]` section; [`start`] runs the console on its own runtime at a
//!   CPU priority below the gateway's.

pub mod admin;
pub mod audit;
pub mod client;
pub mod config;
mod guard;
pub mod http;
pub mod protocol;
mod run;
pub mod server;
pub mod setup;
pub mod tls;
pub mod users;

pub use config::{ConsoleConfig, ConsoleCpu};
pub use run::{Priority, RunningConsole, lower_priority, start};
