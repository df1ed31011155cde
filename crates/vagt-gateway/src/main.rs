//! `vagt`: the Vagt alarm-receiving-centre engine's command-line entry point.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use vagt_gateway::cli::{
    AuditCommand, CertCommand, Cli, Command, JournalCommand, ReportCommand, UserCommand,
};
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
        Command::Journal(JournalCommand::Salvage(args)) => journal_cmd::salvage(&args),
        Command::Console {
            server,
            host,
            cert,
            user,
            client_cert,
            client_key,
        } => vagt_console::client::parse_server(&server).and_then(|(addr, url_host)| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the runtime")?;
            rt.block_on(vagt_console::client::run(
                addr,
                host.as_deref().unwrap_or(&url_host),
                &cert,
                &user,
                client_cert.as_deref().zip(client_key.as_deref()),
                tokio::io::stdin(),
                tokio::io::stdout(),
            ))
        }),
        Command::Audit(AuditCommand::Export(args)) => journal_cmd::audit_export(
            &args,
            &mut std::io::BufWriter::new(std::io::stdout().lock()),
        ),
        Command::Cert(CertCommand::Dev { out, name, client }) => {
            vagt_console::tls::dev_cert(&out, &name).and_then(|(cert, key)| {
                println!("wrote {} and {}", cert.display(), key.display());
                for user in client {
                    let (ca, cert, key) = vagt_console::tls::dev_client_cert(&out, &user)?;
                    println!(
                        "wrote {} and {} (client certificate for {user}, from the CA {})",
                        cert.display(),
                        key.display(),
                        ca.display()
                    );
                }
                Ok(())
            })
        }
        Command::User(UserCommand::Add {
            file,
            name,
            role,
            team,
            municipality,
        }) => add_user(&file, name, &role, team, municipality),
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

/// `vagt user add`: reads the password from stdin, appends the user with its argon2 hash.
fn add_user(
    file: &std::path::Path,
    name: String,
    role: &str,
    team: Option<String>,
    municipality: Option<String>,
) -> anyhow::Result<()> {
    use std::io::{BufRead, Write};
    use vagt_console::users::{User, UserRole, Users, entry, hash_password};
    let role: UserRole = serde_json::from_value(serde_json::Value::String(role.to_owned()))
        .map_err(|_| {
            anyhow::anyhow!(
                "--role must be operator, supervisor, responder, auditor or admin (got {role:?})"
            )
        })?;
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .context("reading the password from standard input")?;
    let password = password.trim_end_matches(['\r', '\n']);
    anyhow::ensure!(
        password.len() >= 8,
        "the password must have at least 8 characters"
    );
    let existing = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    };
    let user = User {
        name,
        role,
        team,
        municipality,
        password: hash_password(password)?,
    };
    let text = existing + &entry(&user)?;
    // Refuse to write a file that would not load (duplicate name, responder without team).
    Users::parse(&text).with_context(|| format!("adding to {}", file.display()))?;
    let mut f =
        std::fs::File::create(file).with_context(|| format!("writing {}", file.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", file.display()))?;
    println!(
        "added {} ({:?}) to {}",
        user.name,
        user.role,
        file.display()
    );
    Ok(())
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
