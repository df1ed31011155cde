//! `vagt`: the Vagt alarm-receiving-centre engine's command-line entry point.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use vagt_gateway::cli::{Cli, Command, JournalCommand, ReportCommand};
use vagt_gateway::{decode, journal_cmd, report, serve};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decode(args) => decode::run(&args),
        Command::Serve(args) => serve_command(&args),
        Command::CheckConfig(args) => serve::load_config(&args).map(|(config, accounts)| {
            println!(
                "config OK: listen {} (tcp+udp), metrics {}, data {}, {} accounts",
                config.gateway.listen,
                config.gateway.metrics,
                config.gateway.data.display(),
                accounts.len()
            );
        }),
        Command::Journal(JournalCommand::Export(args)) => journal_cmd::export(&args),
        Command::Journal(JournalCommand::Verify(args)) => journal_cmd::verify(&args),
        Command::Report(ReportCommand::Monthly(args)) => {
            report::run(&args, &mut std::io::stdout().lock())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vagt: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn serve_command(args: &vagt_gateway::cli::ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let (config, accounts) = serve::load_config(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("vagt")
        .build()
        .context("starting the runtime")?;
    runtime.block_on(serve::run(config, accounts))
}
