//! Adoption: the leader ships what another node staged but did not ship itself — the node died
//! (or hangs) between acknowledging records on their staged row and ordering them into
//! `vagt_log`. Those records were acknowledged as replicated, so they must reach every node's
//! fold without their node.
//!
//! Rows staged more than [`STALE`] ago are adopted (a live node's shipper deletes its rows
//! within milliseconds). Adopting is safe even if that node is alive after all: `vagt_ship`
//! takes the node's `vagt_nodes` row lock and skips every record below its shipped mark, so of
//! the node's own call and the leader's, whichever commits second stores nothing twice. Only the
//! staged rows that continue the node's shipped mark without a hole are shipped (the records of
//! a hole were never acknowledged as replicated: the node shipped or staged in order, and the
//! rows above a hole wait for nothing).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use metrics::counter;
use tracing::{info, warn};
use vagt_journal::{Offset, Record};

use crate::ship::{self, Conn, Group};
use crate::{Inner, connect, metrics as m, within};

/// Staged rows older than this are adopted.
const STALE: &str = "3 seconds";

/// Records per adopting call at most (as the shipper's groups).
const GROUP: usize = 2_000;

/// One staged row.
struct Staged {
    start: u64,
    end: u64,
    origins: Vec<i64>,
    payloads: Vec<Vec<u8>>,
}

/// Looks for stale staged rows every second while this node leads, until the node stops.
pub(crate) async fn run(inner: Arc<Inner>) {
    tokio::select! {
        () = inner.gate.opened() => {}
        () = inner.closing.cancelled() => {}
    }
    let mut conn: Option<Conn> = None;
    let mut failing = false;
    while !inner.closing.is_cancelled() {
        if inner.lease.held() {
            match adopt(&inner, &mut conn).await {
                Ok(()) => failing = false,
                Err(e) => {
                    if !failing {
                        warn!("cannot ship other nodes' staged records: {e:#}; retrying");
                    }
                    failing = true;
                    conn = None;
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            () = inner.closing.cancelled() => {}
        }
    }
}

/// Ships every other node's stale staged rows that continue its shipped mark.
async fn adopt(inner: &Inner, conn: &mut Option<Conn>) -> anyhow::Result<()> {
    let c = match conn {
        Some(c) => c,
        None => conn.insert(ship::prepare(connect(&inner.config).await?).await?),
    };
    let rows = within(
        c.client().query(
            &format!(
                "SELECT s.node, n.shipped, s.start_, s.end_, s.origins, s.payloads
                 FROM vagt_stage s JOIN vagt_nodes n USING (node)
                 WHERE s.node <> $1 AND s.end_ > n.shipped
                   AND s.node IN (SELECT node FROM vagt_stage
                                  WHERE staged_at < now() - interval '{STALE}')
                 ORDER BY s.node, s.start_"
            ),
            &[&inner.config.node],
        ),
        "reading staged rows",
    )
    .await??;
    let mut nodes: BTreeMap<String, (u64, Vec<Staged>)> = BTreeMap::new();
    for r in rows {
        let shipped = u64::try_from(r.try_get::<_, i64>(1)?).unwrap_or(0);
        nodes
            .entry(r.try_get(0)?)
            .or_insert_with(|| (shipped, Vec::new()))
            .1
            .push(Staged {
                start: u64::try_from(r.try_get::<_, i64>(2)?).unwrap_or(0),
                end: u64::try_from(r.try_get::<_, i64>(3)?).unwrap_or(0),
                origins: r.try_get(4)?,
                payloads: r.try_get(5)?,
            });
    }
    for (node, (shipped, staged)) in nodes {
        let groups = continuing(shipped, staged);
        let records: usize = groups.iter().map(Group::len).sum();
        for group in &groups {
            match ship::ship_group(inner, conn, &node, group).await {
                Ok(log_end) => inner.committed.publish(log_end),
                // The database lost what the node had shipped; that node stops on its own next
                // call and ships it again from its journal — not ours to mend.
                Err(e) if ship::lost_records(&e).is_some() => {
                    warn!(node = %node, "not shipping the node's staged records: {e:#}");
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        if records > 0 {
            counter!(m::ADOPTED).increment(records as u64);
            info!(node = %node, records, "shipped records another node acknowledged and staged but did not ship (it is down?)");
        }
    }
    Ok(())
}

/// The staged rows' records from local offset `from` on, as long as each row starts at or
/// before where the last one ended, in groups of at most [`GROUP`].
fn continuing(from: u64, staged: Vec<Staged>) -> Vec<Group> {
    let mut groups = vec![Group::default()];
    let mut at = from;
    for row in staged {
        if row.start > at {
            break; // a hole: nothing above it was acknowledged as replicated
        }
        let origins: Vec<u64> = row
            .origins
            .iter()
            .map(|o| u64::try_from(*o).unwrap_or(0))
            .collect();
        for (k, payload) in row.payloads.into_iter().enumerate() {
            let Some(&origin) = origins.get(k) else { break };
            if origin < at {
                continue;
            }
            // A record ends where the next one of its row starts, the last where the row ends.
            let end = origins.get(k + 1).copied().unwrap_or(row.end);
            if groups.last().is_some_and(|g| g.len() >= GROUP) {
                groups.push(Group::default());
            }
            if let Some(g) = groups.last_mut() {
                g.push(
                    Record {
                        offset: Offset(origin),
                        payload,
                    },
                    end,
                );
            }
        }
        at = at.max(row.end);
    }
    groups.retain(|g| g.len() > 0);
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(start: u64, origins: &[i64], end: u64) -> Staged {
        Staged {
            start,
            end,
            origins: origins.to_vec(),
            payloads: origins
                .iter()
                .map(|o| format!("C{o}").into_bytes())
                .collect(),
        }
    }

    #[test]
    fn only_rows_that_continue_the_shipped_mark_are_shipped_from_the_mark_on() {
        // Shipped up to 20 (inside the first row), the second row follows on, the third comes
        // after a hole (30..40 was never staged).
        let rows = vec![
            row(10, &[10, 20], 25),
            row(25, &[25], 30),
            row(40, &[40], 45),
        ];
        let groups = continuing(20, rows);
        assert_eq!(groups.len(), 1);
        assert_eq!(
            groups[0].len(),
            2,
            "20 and 25, not 10 (shipped) nor 40 (after a hole)"
        );
        assert_eq!(groups[0].end, 30);
    }

    #[test]
    fn a_long_run_is_split_into_groups_that_each_end_where_the_next_starts() {
        let origins: Vec<i64> = (0..2_500).collect();
        let groups = continuing(0, vec![row(0, &origins, 2_500)]);
        assert_eq!(
            groups.iter().map(Group::len).collect::<Vec<_>>(),
            [2_000, 500]
        );
        assert_eq!((groups[0].end, groups[1].end), (2_000, 2_500));
    }
}
