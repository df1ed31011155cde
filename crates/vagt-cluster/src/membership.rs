//! What a node remembers of its cluster in its own data directory: its name and the tag
//! PostgreSQL gave it when it first joined. With it a node that restarts while PostgreSQL is
//! away (a database failover, a network cut) starts at once on its local journal — degraded —
//! instead of refusing to start; it joins when PostgreSQL answers. A node that never joined has
//! no tag and must reach PostgreSQL first.
//!
//! The file (`cluster-node`, 0600) is two `key=value` lines; it is written atomically
//! (temporary file, fsync, rename, fsync of the directory).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// The file's name in the data directory.
pub const FILE: &str = "cluster-node";

/// A node's name and tag, as PostgreSQL's `vagt_nodes` assigned them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Membership {
    pub(crate) node: String,
    pub(crate) tag: u16,
}

/// Where the membership of the node with data directory `data` is kept.
pub(crate) fn path(data: &Path) -> PathBuf {
    data.join(FILE)
}

/// The remembered membership, if the node joined before.
pub(crate) fn load(path: &Path) -> anyhow::Result<Option<Membership>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    parse(&text)
        .map(Some)
        .with_context(|| format!("{} is not a Vagt node membership file", path.display()))
}

fn parse(text: &str) -> anyhow::Result<Membership> {
    let mut node = None;
    let mut tag = None;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match line.split_once('=') {
            Some(("node", v)) => node = Some(v.trim().to_owned()),
            Some(("tag", v)) => tag = Some(v.trim().parse::<u16>().context("tag")?),
            _ => anyhow::bail!("unexpected line {line:?}"),
        }
    }
    match (node, tag) {
        (Some(node), Some(tag)) if !node.is_empty() => Ok(Membership { node, tag }),
        _ => anyhow::bail!("node= or tag= missing"),
    }
}

/// Writes `m` atomically, readable by its owner only.
pub(crate) fn save(path: &Path, m: &Membership) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let tmp = path.with_extension("tmp");
    let write = || -> std::io::Result<()> {
        let mut f = open_private(&tmp)?;
        write!(f, "node={}\ntag={}\n", m.node, m.tag)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        fs::File::open(dir)?.sync_all()
    };
    write().with_context(|| format!("writing {}", path.display()))
}

#[cfg(unix)]
fn open_private(p: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(p)
}

#[cfg(not(unix))]
fn open_private(p: &Path) -> std::io::Result<fs::File> {
    fs::File::create(p)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_saved_membership_loads_back_and_only_its_owner_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(dir.path());
        assert_eq!(load(&p).unwrap(), None, "never joined");
        let m = Membership {
            node: "node-a".into(),
            tag: 7,
        };
        save(&p, &m).unwrap();
        assert_eq!(load(&p).unwrap(), Some(m));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn a_damaged_file_is_an_error_not_a_guess() {
        assert!(parse("node=a\n").is_err());
        assert!(parse("node=a\ntag=70000\n").is_err());
        assert!(parse("tag=1\nnode=\n").is_err());
        assert!(parse("garbage").is_err());
        assert_eq!(parse("node=a\ntag=2\n").unwrap().tag, 2);
    }
}
