//! Vagt's console server: operators, supervisors, responders and auditors work Vagt through
//! WebSocket connections over TLS (rustls, `ring` provider) with JSON messages.
//!
//! * [`client`] — the terminal client's line mode (`vagt console`).
//! * [`http`] — the web console's files on the same port.
//! * [`tls`] — certificate and key from PEM; `vagt cert dev` for a first run.
//! * [`users`] — the users file (argon2 hashes), roles and teams.
//! * [`protocol`] — the messages, version 1.
//! * [`server`] — handshake, login (rate-limited), snapshot + change feed, authorised commands,
//!   through the [`server::Backend`] the gateway implements over its core.

pub mod client;
pub mod http;
pub mod protocol;
pub mod server;
pub mod tls;
pub mod users;
