//! `vagt user add` and `vagt user setup-link`.

use anyhow::Context;

/// `vagt user add`: reads the password from stdin, appends the user with its argon2 hash.
pub fn add(
    file: &std::path::Path,
    name: String,
    role: &str,
    team: Option<String>,
    municipality: Option<String>,
) -> anyhow::Result<()> {
    use std::io::BufRead;
    use vagt_console::users::{User, UserRole, append, hash_password};
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
    let user = User {
        name,
        role,
        team,
        municipality,
        password: hash_password(password)?,
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
