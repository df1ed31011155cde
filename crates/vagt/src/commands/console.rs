//! `vagt console`: the terminal client.

use anyhow::Context;

use crate::cli::ConsoleArgs;

/// Connects to the console and runs the line-mode client on stdin/stdout.
pub fn run(args: ConsoleArgs) -> anyhow::Result<()> {
    let (addr, url_host) = vagt_console::client::parse_server(&args.server)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(vagt_console::client::run(
        addr,
        args.host.as_deref().unwrap_or(&url_host),
        &args.cert,
        &args.user,
        args.client_cert.as_deref().zip(args.client_key.as_deref()),
        tokio::io::stdin(),
        tokio::io::stdout(),
    ))
}
