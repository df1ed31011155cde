//! Integration tests of the `vagt` binary (one test binary, modules per area).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub
)] // test code

mod admin;
mod browser;
mod citizens;
mod cluster;
mod console;
mod container;
mod core;
mod crash;
mod decode;
mod first_run;
mod gateway;
mod hostile;
mod kubernetes;
mod ordering;
mod prometheus;
mod reload;
mod report;
mod serve;
mod shutdown;
mod storage;
