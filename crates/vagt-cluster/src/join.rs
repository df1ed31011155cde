//! Joining the cluster: at start when PostgreSQL answers, or later — *late* — when a node that
//! joined before restarts while PostgreSQL is away (a database failover takes 20–60 s; a node
//! that refused to start for that long would leave its panels unanswered).
//!
//! A late-joining node starts degraded on its remembered tag ([`crate::membership`]): frames are
//! acknowledged on the local fsync alone, the shipper retries the join, and only once it has
//! joined does the follower read PostgreSQL's log — after the engine was told where its live
//! inputs start ([`Gate`]), exactly as at a normal start. If PostgreSQL then says the node's
//! tag is another, the node stops (fail-stop): the requests it numbered could reach another
//! node's waiters.

use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;
use tracing::{info, warn};
use vagt_journal::Offset;

use crate::{ClusterConfig, connect, follow, schema, ship};

/// What PostgreSQL said when the node joined.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Joined {
    pub(crate) schema: i32,
    pub(crate) tag: u16,
    /// Where shipping the local journal starts.
    pub(crate) from: Offset,
    /// The log's committed end then.
    pub(crate) log_end: u64,
}

/// PostgreSQL did not answer in time.
#[derive(Debug)]
pub(crate) struct Unanswered(pub(crate) String);

impl std::fmt::Display for Unanswered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unanswered {}

/// Whether `e` says PostgreSQL is away — down, unreachable, starting up, shutting down, or
/// read-only during a failover — rather than refusing this node (authentication, TLS, a
/// missing database, a newer schema): only then may a node that joined before start without it.
pub(crate) fn away(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        if c.is::<Unanswered>() {
            return true;
        }
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            // TLS failures (a wrong CA, a bad certificate) are InvalidData: a refusal. Every
            // other kind counts as away, on purpose: a read-only standby mid-failover is
            // PermissionDenied, a primary dying mid-handshake UnexpectedEof, a name with no
            // address yet InvalidInput. A refusal mistaken for away leaves the node degraded
            // and loud; away mistaken for a refusal would stop a node that could answer.
            return io.kind() != std::io::ErrorKind::InvalidData;
        }
        c.downcast_ref::<tokio_postgres::Error>().is_some_and(|pg| {
            pg.is_closed()
                || pg.code().is_some_and(|code| {
                    let s = code.code();
                    // 08: connection exception, 57: shutdown / starting up, 25006: read-only.
                    s.starts_with("08") || s.starts_with("57") || s == "25006"
                })
        })
    })
}

/// Connects, migrates, registers this node (`local_end`: the local journal's end when the node
/// started; it decides where shipping starts).
pub(crate) async fn register(config: &ClusterConfig, local_end: u64) -> anyhow::Result<Joined> {
    let mut c = connect(config).await?;
    let schema = schema::migrate(&mut c).await?;
    // Looked up first: an upsert would use up a serial number (a node tag) on every start.
    let found = c
        .query_opt(
            "UPDATE vagt_nodes SET seen_at = now() WHERE node = $1 RETURNING id, shipped",
            &[&config.node],
        )
        .await?;
    let row = match found {
        Some(row) => row,
        None => {
            c.query_one(
                "INSERT INTO vagt_nodes (node) VALUES ($1)
                 ON CONFLICT (node) DO UPDATE SET seen_at = now() RETURNING id, shipped",
                &[&config.node],
            )
            .await?
        }
    };
    let tag = u16::try_from(row.get::<_, i32>(0)).context("more than 65 535 nodes")?;
    let shipped = u64::try_from(row.get::<_, i64>(1)).unwrap_or(0);
    let from = ship::start_offset(shipped, local_end);
    if from.0 < shipped {
        // Shipping starts here; the database's mark follows, so every group is contiguous with
        // what it has (migration 5 refuses a gap as records the database lost).
        c.execute(
            "UPDATE vagt_nodes SET shipped = $2 WHERE node = $1",
            &[&config.node, &i64::try_from(from.0)?],
        )
        .await?;
    }
    let log_end = follow::committed_end(&c).await?;
    info!(node = %config.node, schema, log_end, "joined the cluster");
    Ok(Joined {
        schema,
        tag,
        from,
        log_end,
    })
}

/// [`register`] within `limit`.
pub(crate) async fn register_within(
    config: &ClusterConfig,
    local_end: u64,
    limit: Duration,
) -> anyhow::Result<Joined> {
    tokio::time::timeout(limit, register(config, local_end))
        .await
        .map_err(|_| {
            anyhow::Error::new(Unanswered(format!(
                "PostgreSQL did not answer within {limit:?}"
            )))
        })?
}

/// What waits for a late join: told the log's end; `Err` says why the node cannot follow
/// from there (fail-stop).
pub(crate) type OnJoin = Box<dyn FnOnce(u64) -> Result<(), String> + Send>;

/// Opens the follower's reading of PostgreSQL's log: at once for a node that joined at start;
/// for a late-joining node once it has joined *and* the engine was told the log's end then.
pub(crate) struct Gate {
    open: watch::Sender<bool>,
    state: Mutex<Late>,
}

enum Late {
    /// Joined at start, or the late join is complete.
    Done,
    /// Not joined yet; the engine's callback, once given.
    Waiting(Option<OnJoin>),
    /// Joined at this end; nobody told yet.
    Joined(u64),
}

impl Gate {
    /// A gate for a node that joined at start (open) or will join late (closed).
    pub(crate) fn new(joined: bool) -> Self {
        Self {
            open: watch::Sender::new(joined),
            state: Mutex::new(if joined {
                Late::Done
            } else {
                Late::Waiting(None)
            }),
        }
    }

    /// Waits until the follower may read.
    pub(crate) async fn opened(&self) {
        let mut rx = self.open.subscribe();
        let _ = rx.wait_for(|open| *open).await;
    }

    /// `f` is told the log's end at a late join (at once if the node has joined already and
    /// nobody was told); never for a node that joined at start. The gate opens only if `f`
    /// accepts the end; its `Err` is returned.
    pub(crate) fn on_late_join(&self, f: OnJoin) -> Result<(), String> {
        let Ok(mut s) = self.state.lock() else {
            return Ok(());
        };
        match std::mem::replace(&mut *s, Late::Done) {
            Late::Done => Ok(()),
            Late::Waiting(_) => {
                *s = Late::Waiting(Some(f));
                Ok(())
            }
            Late::Joined(end) => self.tell(f, end),
        }
    }

    /// The node joined late at `log_end`; `Err` if the engine cannot follow from there (the
    /// gate stays closed).
    pub(crate) fn joined(&self, log_end: u64) -> Result<(), String> {
        let Ok(mut s) = self.state.lock() else {
            return Ok(());
        };
        match std::mem::replace(&mut *s, Late::Done) {
            Late::Waiting(Some(f)) => self.tell(f, log_end),
            Late::Waiting(None) => {
                *s = Late::Joined(log_end);
                Ok(())
            }
            other => {
                *s = other;
                Ok(())
            }
        }
    }

    fn tell(&self, f: OnJoin, end: u64) -> Result<(), String> {
        f(end)?;
        self.open.send_replace(true);
        Ok(())
    }
}

/// How long one late-join attempt may take.
const ATTEMPT: Duration = Duration::from_secs(10);

/// Retries the join while PostgreSQL is away, until it succeeds (`Ok(Some)`) or the node
/// stops (`Ok(None)`). A refusal, or another tag than the one the node runs with, is `Err`
/// (fail-stop).
pub(crate) fn late(
    handle: &tokio::runtime::Handle,
    config: &ClusterConfig,
    local_end: u64,
    tag: u16,
    stopping: impl Fn() -> bool,
) -> anyhow::Result<Option<Joined>> {
    let mut attempts = 0u32;
    while !stopping() {
        match handle.block_on(register_within(config, local_end, ATTEMPT)) {
            Ok(j) if j.tag == tag => return Ok(Some(j)),
            Ok(j) => anyhow::bail!(
                "PostgreSQL says node {:?} has tag {}, but it started on the tag it remembered, {tag} (was the cluster database replaced?); stopping: remove {} from the data directory and start again",
                config.node,
                j.tag,
                crate::membership::FILE
            ),
            // Refused (authentication, TLS, a newer schema): retrying would keep the node's
            // alarms out of every console for good; its panels turn to their backup receiver.
            Err(e) if !away(&e) => {
                return Err(e.context(
                    "PostgreSQL refused this node's late join; stopping (its panels use their backup receiver)",
                ));
            }
            Err(e) => {
                // The first failure, then one line a minute.
                if attempts.is_multiple_of(60) {
                    warn!(
                        attempts,
                        "not joined to the cluster yet (acknowledging on the local journal alone): {e:#}"
                    );
                }
                attempts += 1;
                std::thread::sleep(Duration::from_millis(250 * u64::from(attempts.min(4))));
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use std::io::{Error, ErrorKind};

    use super::*;

    fn io(kind: ErrorKind, what: &str) -> anyhow::Error {
        anyhow::Error::new(Error::new(kind, what.to_owned())).context("connecting")
    }

    #[test]
    fn a_failover_is_away_and_a_refusal_is_not() {
        for (kind, what) in [
            (ErrorKind::ConnectionRefused, "connection refused"),
            (
                ErrorKind::PermissionDenied,
                "database does not allow writes",
            ),
            (ErrorKind::UnexpectedEof, "tls handshake eof"),
            (ErrorKind::InvalidInput, "could not resolve any addresses"),
        ] {
            assert!(away(&io(kind, what)), "{what}");
        }
        assert!(away(&anyhow::Error::new(Unanswered("no answer".into()))));
        assert!(!away(&io(
            ErrorKind::InvalidData,
            "invalid peer certificate"
        )));
        assert!(!away(&anyhow::anyhow!(
            "the database has schema version 9, newer than this Vagt's 3: upgrade Vagt"
        )));
    }
}
