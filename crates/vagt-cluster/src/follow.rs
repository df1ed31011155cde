//! Reading the cluster's total order: the committed end (the next `gseq`: polled here for other
//! nodes' commits, and published by the shipper after each of this node's own) and a follower
//! that reads `vagt_log` in `gseq` order.
//!
//! Why a follower never skips or reorders: `gseq`s are handed out under the `vagt_seq` row
//! lock, held until the handing transaction commits, so every row below a committed
//! `vagt_seq.next` is either committed or never will be (a gap). The follower reads only below
//! the `next` it saw committed, so a row cannot appear later behind its position.

use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::{Client, Statement};
use tracing::warn;
use vagt_journal::{Follow, JournalError, Offset, Record};

use crate::{Inner, connect, within};

/// Rows read per query at most.
const PAGE: i64 = 10_000;

/// The committed end: `vagt_seq.next` as committed now.
pub(crate) async fn committed_end(c: &Client) -> anyhow::Result<u64> {
    let next: i64 = c
        .query_one("SELECT next FROM vagt_seq WHERE id = 1", &[])
        .await?
        .get(0);
    Ok(u64::try_from(next).unwrap_or(0))
}

/// The committed end as the primary has it; an error from a server in recovery (a standby
/// reached through a multi-host `url` without `target_session_attrs=read-write`, or an address
/// that points at one during a switchover): it may be behind, and is not the log.
async fn primary_end(c: &Client) -> anyhow::Result<u64> {
    let row = c
        .query_one(
            "SELECT next, pg_is_in_recovery() FROM vagt_seq WHERE id = 1",
            &[],
        )
        .await?;
    anyhow::ensure!(
        !row.get::<_, bool>(1),
        "the server is a standby (in recovery), not the primary"
    );
    Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
}

/// Publishes the committed end until the node stops: every 50 ms (other nodes' commits; the
/// shipper publishes this node's own at once).
pub(crate) async fn watch(inner: Arc<Inner>) {
    let mut client: Option<Client> = None;
    let mut failing = false;
    // A node that started without PostgreSQL publishes nothing before it has joined.
    tokio::select! {
        () = inner.gate.opened() => {}
        () = inner.closing.cancelled() => {}
    }
    while !inner.closing.is_cancelled() {
        if client.is_none() {
            client = connect(&inner.config).await.ok();
        }
        if let Some(c) = &client {
            // Read before the query: everything published so far (by this watcher or by the
            // shipper after its own commit) was committed before the query's snapshot.
            let published = inner.committed.end().0;
            match within(primary_end(c), "reading the committed end")
                .await
                .and_then(|r| r)
            {
                Ok(end) if end < published => {
                    // Records this node may already have folded are gone from the log: folding
                    // on would give it a history the other nodes do not have.
                    inner.fail(format!(
                        "the cluster log's committed end went back from gseq {published} to {end}: the database lost committed records (restored from an older backup, or a failover to a standby that was behind); stopping: start the node again to fold the log as it is"
                    ));
                    break;
                }
                Ok(end) => {
                    inner.committed.publish(end);
                    failing = false;
                }
                Err(e) => {
                    if !failing {
                        warn!("cannot read the cluster's committed end: {e}; retrying");
                    }
                    failing = true;
                    client = None;
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
            () = inner.closing.cancelled() => {}
        }
    }
    // The last commits of the shipper are visible: publish them before followers stop.
    if let Some(c) = &client
        && let Ok(Ok(end)) = within(primary_end(c), "reading the committed end").await
    {
        inner.committed.publish(end);
    }
    inner.committed.close();
}

/// Reads `vagt_log` from a `gseq` on (its own connection, reconnecting after errors).
pub(crate) struct PgFollow {
    pub(crate) inner: Arc<Inner>,
    pub(crate) reader: Option<Reader>,
    pub(crate) position: u64,
}

/// The log's read: rows from a `gseq`, capped at the committed `vagt_seq.next` seen in the same
/// snapshot. One statement, so one snapshot: the rows and the cap are seen together; a server
/// that is behind (a standby reached after a failover) returns an earlier cap, and the reader
/// never moves past a row it has not seen.
const READ: &str = "SELECT e.cap, l.gseq, l.payload
     FROM (SELECT LEAST($2, next) AS cap FROM vagt_seq WHERE id = 1) e
     LEFT JOIN LATERAL (
         SELECT gseq, payload FROM vagt_log
         WHERE gseq >= $1 AND gseq < e.cap ORDER BY gseq LIMIT $3
     ) l ON true";

/// A connection with the log's read prepared on it once: a node's own follower reads after
/// each of its shipped groups, hundreds of times a second, and a query sent as text is parsed
/// and planned anew every time (measured, `benches/run-pg-cpu.sh`: 5.1 µs of PostgreSQL's CPU
/// per ACK for node a's follower, 1.2 prepared; node b's, which reads the same rows in fewer,
/// larger pages, 0.8).
pub(crate) struct Reader {
    client: Client,
    read: Statement,
}

impl Reader {
    /// Prepares the read on `client`.
    pub(crate) async fn new(client: Client) -> anyhow::Result<Self> {
        let read = within(client.prepare(READ), "preparing the log read").await??;
        Ok(Self { client, read })
    }
}

impl Follow for PgFollow {
    fn read_to(&mut self, end: Offset, out: &mut Vec<Record>) -> Result<(), JournalError> {
        let inner = Arc::clone(&self.inner);
        let from = self.position;
        let reader = self.reader.take();
        let result = inner.handle.block_on(async {
            let r = match reader {
                Some(r) => r,
                None => Reader::new(connect(&inner.config).await?).await?,
            };
            let rows = read(&r, from, end.0).await;
            rows.map(|rows| (r, rows))
        });
        match result {
            Ok((r, (rows, next))) => {
                self.reader = Some(r);
                if next == from && end.0 > from {
                    // The server is behind the end we were told of: do not spin on it.
                    std::thread::sleep(Duration::from_millis(20));
                }
                self.position = next;
                out.extend(rows);
                Ok(())
            }
            Err(e) => Err(JournalError::Store(format!(
                "reading the cluster log from gseq {from}: {e:#}"
            ))),
        }
    }

    fn position(&self) -> Offset {
        Offset(self.position)
    }
}

/// Rows with `from <= gseq < end`, at most a page; and where the next read starts.
pub(crate) async fn read(r: &Reader, from: u64, end: u64) -> anyhow::Result<(Vec<Record>, u64)> {
    let rows = within(
        r.client.query(
            &r.read,
            &[&i64::try_from(from)?, &i64::try_from(end)?, &PAGE],
        ),
        "reading the log",
    )
    .await??;
    let cap = rows
        .first()
        .map_or(from, |r| u64::try_from(r.get::<_, i64>(0)).unwrap_or(from));
    let mut records = Vec::with_capacity(rows.len());
    for r in &rows {
        if let Some(gseq) = r.get::<_, Option<i64>>(1) {
            records.push(Record {
                offset: Offset(u64::try_from(gseq).unwrap_or(0)),
                payload: r.get::<_, Option<Vec<u8>>>(2).unwrap_or_default(),
            });
        }
    }
    // A full page: the next read starts after its last row; else everything below the cap
    // was read.
    let next = match records.last() {
        Some(last) if records.len() >= PAGE as usize => last.offset.0 + 1,
        _ => cap.max(from),
    };
    Ok((records, next))
}
