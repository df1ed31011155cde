//! `vagt`: the Vagt alarm-receiving-centre engine's command-line entry point.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use vagt::cli::{
    AuditCommand, CertCommand, Cli, Command, JournalCommand, ReportCommand, ServeArgs, UserCommand,
};
use vagt::commands::{alarms, cert, check, console, decode, health, journal, report, user};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decode(args) => decode::run(&args),
        Command::Serve(args) => serve(&args),
        Command::CheckConfig(args) => check::run(&args),
        Command::Alarms(args) => alarms::run(&args, &mut std::io::stdout().lock()),
        Command::Journal(JournalCommand::Export(args)) => journal::export(&args),
        Command::Journal(JournalCommand::Verify(args)) => journal::verify(&args),
        Command::Journal(JournalCommand::Salvage(args)) => journal::salvage(&args),
        Command::Journal(JournalCommand::Backup(args)) => journal::backup(&args),
        Command::Console(args) => console::run(args),
        Command::Health(args) => health::run(&args),
        Command::Audit(AuditCommand::Export(args)) => journal::audit_export(
            &args,
            &mut std::io::BufWriter::new(std::io::stdout().lock()),
        ),
        Command::Cert(CertCommand::Dev { out, name, client }) => cert::dev(&out, &name, &client),
        Command::User(UserCommand::Add {
            file,
            name,
            role,
            team,
            municipality,
        }) => user::add(&file, name, &role, team, municipality),
        Command::User(UserCommand::SetupLink { data }) => user::setup_link(&data),
        Command::Report(ReportCommand::Monthly(args)) => {
            report::run(&args, &mut std::io::stdout().lock())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            vagt::serve::say(&mut std::io::stderr(), format_args!("vagt: error: {e:#}"));
            ExitCode::from(2)
        }
    }
}

/// `vagt serve`: logging, the runtime, then [`vagt::serve::run`].
fn serve(args: &ServeArgs) -> anyhow::Result<()> {
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never into a file or journald.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        // A closed stderr must not take the process down: tracing would report its own write
        // error with `eprintln!`, which panics.
        .log_internal_errors(false);
    match args.log_format {
        vagt::cli::LogFormat::Text => logs.init(),
        vagt::cli::LogFormat::Json => logs.json().with_current_span(false).init(),
    }
    let (config, accounts) = vagt::serve::load_config(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.gateway.io_threads())
        .enable_all()
        .thread_name("vagt")
        .build()
        .context("starting the runtime")?;
    let result = runtime.block_on(vagt::serve::run(config, accounts));
    // Never wait without limit for blocking work left behind (a final snapshot on a failing
    // disk, door notices to an unreachable webhook): exit promptly, the journal is closed.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    result
}
