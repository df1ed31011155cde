//! `vagt`: the Vagt alarm-receiving-centre engine's command-line entry point.

use std::process::ExitCode;

use clap::Parser;
use vagt_gateway::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decode(args) => vagt_gateway::decode::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vagt: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
