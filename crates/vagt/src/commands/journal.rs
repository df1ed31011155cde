//! `vagt journal export | verify | salvage` and `vagt audit export`.

use std::io::{BufWriter, Write};

use anyhow::{Context, bail};
use serde_json::json;
use vagt_dc09::{Timestamp, display_bytes, encode_hex_upper};
use vagt_journal::{Offset, Reader};

use crate::cli::{AuditArgs, CopyArgs, JournalArgs};
use vagt_records::FrameRecord;

/// Prints one JSON object per journaled frame.
pub fn export(args: &JournalArgs) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    export_to(args, &mut BufWriter::new(stdout.lock()))
}

/// Writes one JSON object per journaled frame to `out`.
pub fn export_to(args: &JournalArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let dir = crate::config::existing_journal_dir(&args.data)?;
    for record in Reader::open(&dir, Offset(args.from))? {
        let record = record.with_context(|| format!("reading {}", dir.display()))?;
        let Some(f) = FrameRecord::decode(&record.payload)
            .with_context(|| format!("record at offset {}", record.offset))?
        else {
            continue;
        };
        let m = &f.meta;
        let secs = m.received_at_ms.div_euclid(1000);
        let received = Timestamp::from_unix(secs).map(|t| {
            let rfc = t.rfc3339();
            format!(
                "{}.{:03}Z",
                rfc.trim_end_matches('Z'),
                m.received_at_ms.rem_euclid(1000)
            )
        });
        let wire = f.wire();
        let mut frame_hex = Vec::with_capacity(wire.len() * 2);
        encode_hex_upper(&wire, &mut frame_hex);
        let line = json!({
            "offset": record.offset.0,
            "received_at": received,
            "received_at_ms": m.received_at_ms,
            "peer": m.peer.to_string(),
            "transport": m.transport.as_str(),
            "account": m.account,
            "sequence": m.sequence,
            "type": m.token,
            "receiver": m.receiver,
            "line": m.line,
            "unknown_account": m.unknown_account,
            "frame": display_bytes(&wire),
            "frame_hex": String::from_utf8_lossy(&frame_hex),
        });
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(())
}

/// `vagt audit export`: one JSON object per person's command in the journal — who (name and
/// role), from where (client address), when, and what — and per request the console refused
/// before the core (with `refused` and `refused_by`), per citizen record shown (`viewed`) and
/// per admin change or citizen register taking effect (`admin`), in journal order.
pub fn audit_export(args: &AuditArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let from = args.journal.from;
    let cluster = match &args.config {
        Some(path) => crate::config::Config::load(Some(path))?.cluster,
        None => None,
    };
    let (records, source): (vagt_journal::Records, String) = match cluster {
        Some(c) => (vagt_cluster::read_log(&c)?, "the cluster log".to_owned()),
        None => {
            let dir = crate::config::existing_journal_dir(&args.journal.data)?;
            (
                Box::new(Reader::open(&dir, Offset(from))?),
                dir.display().to_string(),
            )
        }
    };
    for record in records {
        let record = record.with_context(|| format!("reading {source}"))?;
        if record.offset.0 < from {
            continue;
        }
        if let Ok(Some(r)) = vagt_records::input::decode_refusal(&record.payload) {
            writeln!(out, "{}", refusal_line(record.offset.0, &r))?;
            continue;
        }
        if let Ok(Some(v)) = vagt_records::input::decode_view(&record.payload) {
            writeln!(out, "{}", view_line(record.offset.0, &v))?;
            continue;
        }
        if let Ok(Some(a)) = vagt_records::input::decode_admin(&record.payload) {
            writeln!(out, "{}", admin_line(record.offset.0, &a))?;
            continue;
        }
        let Ok(Some(vagt_records::Input::Command(c))) =
            vagt_records::input::decode_command_only(&record.payload)
        else {
            continue;
        };
        let secs = c.at_ms.div_euclid(1000);
        let at = Timestamp::from_unix(secs).map(|t| t.rfc3339());
        let line = json!({
            "offset": record.offset.0,
            "at": at,
            "at_ms": c.at_ms,
            "user": c.actor.name,
            "role": c.actor.role,
            "client": c.client.map(|a| a.to_string()),
            "command": c.command,
        });
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(())
}

/// An audit line for a request the console refused before it reached the core.
fn refusal_line(offset: u64, r: &vagt_records::input::RefusalRecord) -> serde_json::Value {
    let at = Timestamp::from_unix(r.at_ms.div_euclid(1000)).map(|t| t.rfc3339());
    json!({
        "offset": offset,
        "at": at,
        "at_ms": r.at_ms,
        "user": r.user,
        "role": r.role,
        "client": r.client.map(|a| a.to_string()),
        "request": r.request,
        "refused": r.reason,
        "refused_by": "console",
        "suppressed_before": r.suppressed,
    })
}

/// An audit line for a citizen's record shown to a user with an alarm.
fn view_line(offset: u64, v: &vagt_records::input::ViewRecord) -> serde_json::Value {
    let at = Timestamp::from_unix(v.at_ms.div_euclid(1000)).map(|t| t.rfc3339());
    json!({
        "offset": offset,
        "at": at,
        "at_ms": v.at_ms,
        "user": v.user,
        "role": v.role,
        "client": v.client.map(|a| a.to_string()),
        "viewed": "citizen",
        "citizen": v.citizen,
        "alarm": v.alarm,
        "register": v.register,
    })
}

/// An audit line for an admin's change or a citizen register taking effect.
fn admin_line(offset: u64, a: &vagt_records::input::AdminRecord) -> serde_json::Value {
    let at = Timestamp::from_unix(a.at_ms.div_euclid(1000)).map(|t| t.rfc3339());
    json!({
        "offset": offset,
        "at": at,
        "at_ms": a.at_ms,
        "user": a.user,
        "role": a.role,
        "client": a.client.map(|c| c.to_string()),
        "admin": a.action,
        "target": a.target,
        "details": a.details,
    })
}

/// `vagt journal salvage`: copies every valid record into a new journal, one fsync at the end,
/// and prints each unreadable range (segment, bytes) on stderr and a summary on stdout.
pub fn salvage(args: &CopyArgs) -> anyhow::Result<()> {
    let from = crate::config::existing_journal_dir(&args.data)?;
    let to = crate::config::journal_dir(&args.to);
    if vagt_journal::segments(&to).is_ok_and(|s| !s.is_empty()) {
        bail!(
            "{} already holds a journal: salvage into a new directory",
            to.display()
        );
    }
    let journal = vagt_journal::SegmentJournal::open(vagt_journal::Config::new(&to), |_| {})
        .with_context(|| format!("creating {}", to.display()))?;
    let appender = journal.appender()?;
    let (tx, rx) = std::sync::mpsc::channel();
    let report = vagt_journal::salvage(&from, |_, payload| {
        let tx = tx.clone();
        appender.append(payload.to_vec(), move |r| {
            let _ = tx.send(r.is_ok());
        })
    })
    .with_context(|| format!("reading {}", from.display()))?;
    drop((appender, tx));
    journal.close();
    let stored = rx.iter().filter(|ok| *ok).count() as u64;
    if stored != report.records {
        bail!(
            "only {stored} of {} valid records could be written to {}",
            report.records,
            to.display()
        );
    }
    let lost: u64 = report.lost.iter().map(|l| l.to - l.from).sum();
    for l in &report.lost {
        eprintln!(
            "lost: {} bytes {}..{} ({} bytes: {})",
            l.segment.display(),
            l.from,
            l.to,
            l.to - l.from,
            l.why
        );
    }
    println!(
        "salvaged {} records into {}; {} damaged ranges, {lost} bytes unreadable",
        report.records,
        to.display(),
        report.lost.len()
    );
    Ok(())
}

/// The data directory's files beside the journal that a restore needs (when present): the
/// console's users, the citizen register and the accounts file when they are kept there (the
/// defaults, and where admins can edit them from the console), the console's pair, the
/// cluster node's tag.
const BESIDE_THE_JOURNAL: &[&str] = &[
    "users.toml",
    "citizens.csv",
    "citizens.json",
    "accounts.toml",
    "console-cert.pem",
    "console-key.pem",
    vagt_cluster::membership::FILE,
];

/// `vagt journal backup`: a consistent copy of the journal while it is written, and the
/// small files beside it, into a new data directory (owner-only, synced).
pub fn backup(args: &CopyArgs) -> anyhow::Result<()> {
    let from = crate::config::existing_journal_dir(&args.data)?;
    let to = crate::config::journal_dir(&args.to);
    // A new directory only: nothing half-written is ever mistaken for a finished copy.
    if std::fs::read_dir(&args.to).is_ok_and(|mut d| d.next().is_some()) {
        bail!(
            "{} is not empty: back up into a new directory",
            args.to.display()
        );
    }
    let report = vagt_journal::backup(&from, &to)
        .with_context(|| format!("backing up {} into {}", from.display(), to.display()))?;
    let mut copied = Vec::new();
    for name in BESIDE_THE_JOURNAL {
        let src = args.data.join(name);
        match std::fs::read(&src) {
            Ok(bytes) => {
                write_private(&args.to.join(name), &bytes)?;
                copied.push(*name);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", src.display())),
        }
    }
    // The copy's directory, and its entry in the parent, are durable too.
    let parent = args
        .to
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| std::path::Path::new("."));
    for d in [args.to.as_path(), parent] {
        std::fs::File::open(d)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("syncing {}", d.display()))?;
    }
    println!(
        "backed up {} records ({} bytes, {} segments) up to journal offset {} into {}{}",
        report.records,
        report.bytes,
        report.segments,
        report.end.0,
        to.display(),
        if copied.is_empty() {
            String::new()
        } else {
            format!("; also {}", copied.join(", "))
        }
    );
    Ok(())
}

/// Writes a new owner-only file and syncs it.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// Checks every record; fails on the first damaged one.
pub fn verify(args: &JournalArgs) -> anyhow::Result<()> {
    let dir = crate::config::existing_journal_dir(&args.data)?;
    let n = vagt_journal::verify(&dir).with_context(|| format!("journal {}", dir.display()))?;
    println!(
        "journal {}: {n} records, all checksums valid",
        dir.display()
    );
    Ok(())
}
