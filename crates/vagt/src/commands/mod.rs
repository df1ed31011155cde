//! One module per subcommand (besides `serve`, which is [`crate::serve`]).

pub mod alarms;
pub mod cert;
pub mod check;
pub mod console;
pub mod decode;
pub mod health;
pub mod journal;
mod json;
pub mod report;
pub mod user;
