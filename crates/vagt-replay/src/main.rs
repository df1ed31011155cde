//! The `vagt-replay` command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use vagt_replay::scenario::Scenario;

/// Simulated DC-09 device fleets against any receiver: bursts, steady traffic, retransmission
/// storms; ACK latency and counts as a summary, JSON and HTML.
#[derive(Parser)]
#[command(name = "vagt-replay", version)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Runs a scenario file against a receiver.
    Run {
        /// The scenario (see config/replay/).
        scenario: PathBuf,
        /// The receiver's address (overrides the scenario's `target`).
        #[arg(long)]
        target: Option<SocketAddr>,
        /// Write the report as JSON to this file (`-` for stdout).
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write the report as a self-contained HTML page with charts.
        #[arg(long)]
        html: Option<PathBuf>,
        /// After the run, check that every ACKed message is in this Vagt data directory's
        /// journal exactly once (exit status 1 if not).
        #[arg(long)]
        verify_journal: Option<PathBuf>,
    },
    /// Prints the accounts file a Vagt gateway needs for a scenario's fleet (keys included).
    Accounts {
        /// The scenario.
        scenario: PathBuf,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vagt-replay: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Cmd::Accounts { scenario } => {
            print!("{}", Scenario::load(&scenario)?.accounts_file());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Run {
            scenario,
            target,
            json,
            html,
            verify_journal,
        } => {
            let scenario = Scenario::load(&scenario)?;
            let target = target.unwrap_or(scenario.target);
            let outcome = vagt_replay::run::run(scenario.clone(), target)?;
            let report = &outcome.report;
            let mut value = serde_json::to_value(report)?;
            eprint!("{}", report.summary());
            let mut code = ExitCode::SUCCESS;
            if let Some(dir) = verify_journal {
                let v = vagt_replay::verify::verify(&scenario, &dir, &outcome.acked)?;
                eprintln!(
                    "  journal: {} of {} ACKed messages stored exactly once; {} missing, {} duplicated; {} stored but not ACKed",
                    v.once, v.acked, v.missing_count, v.duplicated_count, v.stored_not_acked
                );
                for m in &v.missing {
                    eprintln!("    missing: {m}");
                }
                for d in &v.duplicated {
                    eprintln!("    duplicated: {d}");
                }
                if !v.ok() {
                    code = ExitCode::from(1);
                }
                if let Some(obj) = value.as_object_mut() {
                    obj.insert("journal".into(), serde_json::to_value(&v)?);
                }
            }
            if let Some(path) = json {
                let text = serde_json::to_string_pretty(&value)?;
                if path.as_os_str() == "-" {
                    println!("{text}");
                } else {
                    std::fs::write(&path, text + "\n")
                        .with_context(|| format!("writing {}", path.display()))?;
                }
            }
            if let Some(path) = html {
                std::fs::write(&path, report.html())
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            Ok(code)
        }
    }
}
