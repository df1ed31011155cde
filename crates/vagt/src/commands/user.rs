//! `vagt user add` and `vagt user setup-link`.

use anyhow::Context;

/// `vagt user add`: asks for the password (or reads it from stdin), appends the user with its
/// argon2 hash.
pub fn add(
    file: &std::path::Path,
    name: String,
    role: &str,
    team: Option<String>,
    municipality: Option<String>,
) -> anyhow::Result<()> {
    use vagt_console::users::{User, UserRole, append, hash_password};
    let role: UserRole = serde_json::from_value(serde_json::Value::String(role.to_owned()))
        .map_err(|_| {
            anyhow::anyhow!(
                "--role must be operator, supervisor, responder, auditor or admin (got {role:?})"
            )
        })?;
    let password = read_password(&name)?;
    let password = password.as_str();
    anyhow::ensure!(
        password.len() >= 8,
        "the password must have at least 8 characters"
    );
    let user = User {
        name,
        role,
        team,
        municipality,
        password: hash_password(password)?,
        disabled: false,
    };
    append(file, &user)?;
    println!(
        "added {} ({:?}) to {}",
        user.name,
        user.role,
        file.display()
    );
    Ok(())
}

/// The new user's password: asked twice without echo at a terminal, else the first line of
/// standard input (scripts pipe it in).
fn read_password(name: &str) -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal};
    if std::io::stdin().is_terminal() {
        let first =
            prompt_hidden(&format!("Password for {name}: ")).context("reading the password")?;
        let again = prompt_hidden("Again: ").context("reading the password")?;
        anyhow::ensure!(
            first == again,
            "the two passwords differ; nothing was added"
        );
        return Ok(first);
    }
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .context("reading the password from standard input")?;
    Ok(password.trim_end_matches(['\r', '\n']).to_owned())
}

/// Asks on the terminal with echo off — turned off *before* the prompt is shown, so nothing
/// typed after the prompt appears (one typed at once would otherwise race the switch) — and
/// turned back on however the read ends.
fn prompt_hidden(prompt: &str) -> std::io::Result<String> {
    use rustix::termios::{LocalModes, OptionalActions, Termios, tcgetattr, tcsetattr};
    use std::io::{BufRead, Write};
    struct Restore<'a>(&'a std::fs::File, Termios);
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            let _ = tcsetattr(self.0, OptionalActions::Now, &self.1);
        }
    }
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")?;
    let saved = tcgetattr(&tty)?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    quiet.local_modes.insert(LocalModes::ECHONL);
    tcsetattr(&tty, OptionalActions::Now, &quiet)?;
    let _restore = Restore(&tty, saved);
    (&tty).write_all(prompt.as_bytes())?;
    (&tty).flush()?;
    let mut line = String::new();
    std::io::BufReader::new(&tty).read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// `vagt user setup-link`: the open first-run link, or why there is none.
pub fn setup_link(data: &std::path::Path) -> anyhow::Result<()> {
    let file = data.join(vagt_console::setup::LINK_FILE);
    match std::fs::read_to_string(&file) {
        Ok(link) => {
            println!("{}", link.trim());
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => anyhow::bail!(
            "no open set-up link in {} (an admin exists, or the gateway has not started with its console)",
            data.display()
        ),
        Err(e) => Err(e).with_context(|| format!("reading {}", file.display())),
    }
}
