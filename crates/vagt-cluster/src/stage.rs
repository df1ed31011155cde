//! The stager: what a replicated acknowledgement waits for. It follows the node's local journal
//! and commits each group of locally durable records as one row of `vagt_stage` (schema
//! migration 6) — a table no other writer locks, so one node's stagings, and every node's,
//! commit side by side in PostgreSQL's own group commit, with the synchronous standby's flush —
//! and then acknowledges exactly the records of that row ([`Pending::staged`]).
//!
//! The shipper (ship.rs) still orders the same records into `vagt_log` under the sequencing
//! lock, one call at a time, and deletes the staged rows it covered — now off the ACK path, so a
//! serialized commit no longer caps how many frames a second a node acknowledges. The staged
//! row is only the proof that the records are on both database machines: if the node dies
//! before its shipper got to them, the leader ships them (adopt.rs).
//!
//! Nothing depends on the stager for correctness. A group it fails to stage (an error, the
//! commit timeout) is not retried: its records wait for the shipper or the timeout like before.
//! While the node is degraded it stages nothing (every record is acknowledged at once then).
//!
//! [`Pending::staged`]: crate::pending::Pending::staged

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use metrics::{counter, histogram};
use tokio_postgres::{Client, Statement};
use vagt_journal::Record;

use crate::{Inner, connect, metrics as m, within};

/// Records per staged row at most.
const GROUP: usize = 2_000;

/// One group, one row.
const STAGE: &str = "INSERT INTO vagt_stage (node, start_, end_, origins, payloads)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING";

/// A connection with the staging statement prepared on it.
struct Conn {
    client: Client,
    stage: Statement,
}

/// Runs on its own thread until the node stops.
pub(crate) fn run(inner: &Arc<Inner>) {
    // A node that started without PostgreSQL stages nothing before it has joined.
    let wait = Duration::from_millis(100);
    while inner
        .handle
        .block_on(async { tokio::time::timeout(wait, inner.gate.opened()).await })
        .is_err()
    {
        if inner.stopping.load(Ordering::Acquire) {
            return;
        }
    }
    let local = inner.local.committed();
    let mut tail = inner.local.follow(local.end());
    let mut conn: Option<Conn> = None;
    let mut records = Vec::new();
    let mut failures = 0u32;
    while !inner.stopping.load(Ordering::Acquire) {
        let (end, closed) = local.wait_beyond(tail.position(), Duration::from_millis(100));
        if closed {
            return;
        }
        if end <= tail.position() {
            continue;
        }
        if inner.pending.is_degraded() {
            // Acknowledged at once while degraded: start at the end when it is over.
            tail = inner.local.follow(end);
            continue;
        }
        records.clear();
        let read = tail.read_to(end, &mut records);
        let staged = stage_all(inner, &mut conn, &mut records, tail.position().0);
        if read.is_err() || !staged {
            failures += 1;
            std::thread::sleep(Duration::from_millis(100 * u64::from(failures.min(10))));
            // What came meanwhile is left to the shipper: staging late gains nothing.
            tail = inner.local.follow(local.end());
        } else {
            failures = 0;
        }
    }
}

/// Stages `records` (ending at local offset `end`) in rows of at most [`GROUP`]; false at the
/// first row that failed (the rest is left to the shipper).
fn stage_all(inner: &Inner, conn: &mut Option<Conn>, records: &mut Vec<Record>, end: u64) -> bool {
    let mut rest = std::mem::take(records).into_iter().peekable();
    while let Some(first) = rest.next() {
        let start = first.offset.0;
        let mut origins = vec![i64::try_from(start).unwrap_or(i64::MAX)];
        let mut payloads = vec![first.payload];
        while payloads.len() < GROUP
            && let Some(r) = rest.next()
        {
            origins.push(i64::try_from(r.offset.0).unwrap_or(i64::MAX));
            payloads.push(r.payload);
        }
        let row_end = rest.peek().map_or(end, |n| n.offset.0);
        let started = Instant::now();
        let staged = inner
            .handle
            .block_on(stage_row(inner, conn, start, row_end, &origins, &payloads));
        histogram!(m::STAGE_SECONDS).record(started.elapsed().as_secs_f64());
        match staged {
            Ok(true) => {
                counter!(m::STAGED).increment(payloads.len() as u64);
                inner.pending.staged(start, row_end);
            }
            // A row with this start was staged before (by an earlier run of this node): it may
            // end elsewhere, so it proves nothing about these records.
            Ok(false) => {}
            Err(e) => {
                *conn = None;
                counter!(m::STAGE_ERRORS).increment(1);
                tracing::debug!("staging failed (the shipper covers it): {e:#}");
                return false;
            }
        }
    }
    true
}

/// Commits one row within the commit timeout; whether it was new.
async fn stage_row(
    inner: &Inner,
    conn: &mut Option<Conn>,
    start: u64,
    end: u64,
    origins: &[i64],
    payloads: &[Vec<u8>],
) -> anyhow::Result<bool> {
    if conn.is_none() {
        let client = connect(&inner.config).await?;
        let stage = within(client.prepare(STAGE), "preparing the staging statement").await??;
        *conn = Some(Conn { client, stage });
    }
    let Some(c) = conn.as_ref() else {
        anyhow::bail!("no connection");
    };
    let (start, end) = (i64::try_from(start)?, i64::try_from(end)?);
    let node = inner.config.node.as_str();
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
        [&node, &start, &end, &origins, &payloads];
    let deadline = inner.config.commit_timeout();
    if let Ok(done) = tokio::time::timeout(deadline, c.client.execute(&c.stage, &params)).await {
        return Ok(done? == 1);
    }
    // Its records are acknowledged degraded by now; do not leave a backend waiting behind.
    crate::cancel(&c.client, &inner.config).await;
    anyhow::bail!("PostgreSQL did not commit the staged row within {deadline:?}")
}
