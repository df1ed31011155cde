//! The shipper: follows the node's local journal and commits each group of records into
//! PostgreSQL's log in one transaction — normally within milliseconds of the local fsync, and
//! after an outage as fast as PostgreSQL takes them (the local journal is the queue, so nothing
//! waits in memory and nothing is lost while PostgreSQL is away).
//!
//! One transaction per group — one call of the `vagt_ship` function (schema migrations 2–5), so one
//! round trip and one commit: take the sequencing row lock (`UPDATE vagt_seq`, held until
//! commit: the total order), insert the group with the next `gseq`s — dropping a frame whose
//! dedup key is already in the log within the window (a retransmission stored by another node,
//! or a record shipped twice), and a clock tick if this node does not hold the leader lease —
//! and record how far this node is shipped, all committed together. Records below what
//! `vagt_nodes.shipped` already says are skipped, so a group retried after a commit whose
//! answer was lost (a failover at the wrong moment) is in the log exactly once.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use metrics::{counter, gauge, histogram};
use tokio_postgres::{Client, Statement};
use tracing::warn;
use vagt_journal::{Follow, Offset, Record};
use vagt_records::FrameRecord;

use crate::{Inner, connect, metrics as m, within};

/// Records per transaction at most (after an outage the backlog goes in groups of this size).
const GROUP: usize = 2_000;

/// The shipping call (`vagt_ship`, schema migrations 2–5, does the whole transaction).
const SHIP: &str = "SELECT vagt_ship($1, $2, $3, $4, $5, $6, $7)";

/// One group of local records, as columns.
#[derive(Default)]
struct Group {
    origins: Vec<i64>,
    dedups: Vec<Option<Vec<u8>>>,
    ticks: Vec<bool>,
    payloads: Vec<Vec<u8>>,
    /// The local offset after the group's last record.
    end: u64,
}

impl Group {
    fn push(&mut self, r: Record, end: u64) {
        let dedup = match FrameRecord::decode(&r.payload) {
            Ok(Some(f)) => {
                let k = f.dedup_key();
                let mut key = Vec::with_capacity(16);
                key.extend_from_slice(&k.identity.to_be_bytes());
                key.extend_from_slice(&k.content.to_be_bytes());
                Some(key)
            }
            _ => None,
        };
        self.origins
            .push(i64::try_from(r.offset.0).unwrap_or(i64::MAX));
        self.ticks.push(r.payload.first() == Some(&b'T'));
        self.dedups.push(dedup);
        self.payloads.push(r.payload);
        self.end = end;
    }
}

/// Runs on its own thread until the node stops: ships everything locally durable, then (when
/// stopping) what is left, within a bound.
pub(crate) fn run(inner: &Arc<Inner>, mut tail: Box<dyn Follow>) {
    let local = inner.local.committed();
    let mut client: Option<Conn> = None;
    let mut records = Vec::new();
    loop {
        let stopping = inner.stopping.load(Ordering::Acquire);
        let (end, closed) = local.wait_beyond(tail.position(), Duration::from_millis(100));
        records.clear();
        let read = tail.read_to(end, &mut records);
        // What was read before an error is shipped all the same: the tail has moved past it,
        // and the shipped mark must never pass a record that is not in PostgreSQL.
        let last_end = tail.position().0;
        // None: stopping and PostgreSQL is away; the rest ships on the next start.
        let Some(caught_up) = ship_all(inner, &mut client, &mut records, last_end, stopping) else {
            return;
        };
        if let Err(e) = read {
            warn!("the shipper cannot read the local journal: {e}; retrying");
            if stopping {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
            continue;
        }
        gauge!(m::UNSHIPPED_BYTES).set(local.end().0.saturating_sub(last_end) as f64);
        // Keeping up (the last read fitted in one group and committed): leave the degraded mode
        // even while traffic goes on.
        if inner.pending.is_degraded() && caught_up && client.is_some() {
            inner.pending.set_degraded(false, "");
        }
        if (stopping || closed) && last_end >= local.end().0 {
            return;
        }
    }
}

/// Ships `records` (ending at local offset `end`) in groups; retries until each is committed.
/// Returns whether they fitted in one group (the shipper keeps up), or `None` if it gave up
/// because the node is stopping.
fn ship_all(
    inner: &Arc<Inner>,
    client: &mut Option<Conn>,
    records: &mut Vec<Record>,
    end: u64,
    stopping: bool,
) -> Option<bool> {
    let caught_up = records.len() < GROUP;
    let mut rest = std::mem::take(records).into_iter().peekable();
    while rest.peek().is_some() {
        let mut group = Group::default();
        while group.payloads.len() < GROUP {
            let Some(r) = rest.next() else { break };
            let group_end = rest.peek().map_or(end, |n| n.offset.0);
            group.push(r, group_end);
        }
        let mut attempts = 0u32;
        loop {
            let started = Instant::now();
            let shipped = inner.handle.block_on(ship_group(inner, client, &group));
            // Failed calls too: a database that stalls until the call times out is the slowest
            // commit of all (`VagtClusterCommitSlow`).
            histogram!(m::SHIP_SECONDS).record(started.elapsed().as_secs_f64());
            match shipped {
                Ok(log_end) => {
                    histogram!(m::SHIP_GROUP).record(group.payloads.len() as f64);
                    // Every gseq below the group's end is committed (or a gap): the sequencing
                    // lock was ours until our commit, so followers may read up to it now.
                    inner.committed.publish(log_end);
                    break;
                }
                Err(e) => {
                    *client = None;
                    counter!(m::SHIP_ERRORS).increment(1);
                    if let Some(lost) = lost_records(&e) {
                        // Shipping on would leave a hole in the log and fold a history the other
                        // nodes do not have; the next start ships from where the database is.
                        inner.fail(format!(
                            "{lost}: stopping; start the node again to follow the log as it is and ship the lost records again"
                        ));
                        return None;
                    }
                    inner.pending.set_degraded(true, &format!("{e:#}"));
                    attempts += 1;
                    if (stopping || inner.stopping.load(Ordering::Acquire)) && attempts >= 3 {
                        return None;
                    }
                    std::thread::sleep(Duration::from_millis(200 * u64::from(attempts.min(10))));
                }
            }
        }
        counter!(m::SHIPPED).increment(group.payloads.len() as u64);
        inner.pending.shipped(group.end);
    }
    Some(caught_up)
}

/// The database's refusal of a group that starts past what it has from this node (migration
/// 5, SQLSTATE `VG001`: it lost committed records), if that is what `e` is.
fn lost_records(e: &anyhow::Error) -> Option<String> {
    let db = e
        .chain()
        .find_map(|c| c.downcast_ref::<tokio_postgres::Error>())?
        .as_db_error()?;
    (db.code().code() == "VG001").then(|| db.message().to_owned())
}

/// A connection to PostgreSQL with the shipping call prepared on it.
pub(crate) struct Conn {
    client: Client,
    ship: Statement,
}

/// Commits `group` in one call; the log's committed end after it (the group's last `gseq` + 1).
async fn ship_group(inner: &Inner, conn: &mut Option<Conn>, group: &Group) -> anyhow::Result<u64> {
    if conn.is_none() {
        let client = connect(&inner.config).await?;
        let ship = within(client.prepare(SHIP), "preparing the shipping call").await??;
        *conn = Some(Conn { client, ship });
    }
    let Some(c) = conn.as_ref() else {
        anyhow::bail!("no connection");
    };
    let deadline = inner.config.commit_timeout().max(Duration::from_secs(5));
    let node = inner.config.node.as_str();
    let window = inner.config.dedup_window_secs as f64;
    let end = i64::try_from(group.end)?;
    // One statement in autocommit: one round trip and one commit (one WAL flush, and the
    // synchronous standby's) per group.
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] = [
        &node,
        &group.origins,
        &group.dedups,
        &group.ticks,
        &group.payloads,
        &window,
        &end,
    ];
    let call = c.client.query_one(&c.ship, &params);
    if let Ok(done) = tokio::time::timeout(deadline, call).await {
        let base: i64 = done?.try_get(0)?;
        let n = group.payloads.len() as u64;
        return Ok(u64::try_from(base).unwrap_or(0) + n);
    }
    // Cancel it, so a backend stuck waiting (for the synchronous standby, for the sequencing
    // lock) does not stay behind holding a connection slot; the group is retried, and what the
    // cancelled call did commit is skipped by the shipped mark.
    crate::cancel(&c.client, &inner.config).await;
    anyhow::bail!("PostgreSQL did not commit within {deadline:?}")
}

/// Where the shipper starts: how far PostgreSQL has this node's journal — or the local journal's
/// end, if it is shorter than that: it is not the journal that was shipped (a restored backup, a
/// salvaged copy, a new disk), and shipping it again would store commands and ticks twice (frames
/// only are deduplicated, within a window).
pub(crate) fn start_offset(shipped: u64, local_end: u64) -> Offset {
    if shipped > local_end {
        warn!(
            shipped,
            local_end,
            "the local journal is shorter than what PostgreSQL has from this node (restored, salvaged or a new data directory): shipping starts at its end; records it holds that PostgreSQL lacks are not shipped"
        );
        Offset(local_end)
    } else {
        Offset(shipped)
    }
}
