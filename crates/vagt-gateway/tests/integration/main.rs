//! Integration tests of the `vagt` binary (one test binary, modules per command).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod decode;
