//! `vagt user add`.

use anyhow::Context;

/// `vagt user add`: reads the password from stdin, appends the user with its argon2 hash.
pub fn add(
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
