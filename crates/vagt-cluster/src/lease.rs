//! The leader lease: one node at a time does what must happen once (clock ticks, door
//! webhooks). A lease row in PostgreSQL, taken when expired and renewed every second by its
//! holder; its expiry is PostgreSQL's clock, so nodes' clocks do not matter.
//!
//! Fencing, twice: the node believes it leads only until *its own* monotonic clock says the
//! lease (minus a margin) ran out since the renewal was sent — a node paused past its lease
//! (SIGSTOP, a VM freeze) wakes up as a follower — and the shipper's insert drops a tick from a
//! node that does not hold the lease in PostgreSQL at commit time.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use metrics::gauge;
use tokio_postgres::Client;
use tracing::{info, warn};

use crate::{Inner, connect, metrics as m};

const RENEW: &str = "\
UPDATE vagt_leader
SET holder = $1,
    epoch = epoch + CASE WHEN holder IS DISTINCT FROM $1 THEN 1 ELSE 0 END,
    expires_at = clock_timestamp() + make_interval(secs => $2)
WHERE id = 1 AND (holder = $1 OR expires_at < clock_timestamp())
RETURNING epoch";

/// Whether this node leads, as far as its own clock can tell.
#[derive(Default)]
pub(crate) struct Lease {
    valid_until: Mutex<Option<Instant>>,
}

impl Lease {
    /// Whether the lease is held now (false once it may have expired).
    pub(crate) fn held(&self) -> bool {
        self.valid_until
            .lock()
            .ok()
            .and_then(|v| *v)
            .is_some_and(|until| Instant::now() < until)
    }

    fn set(&self, until: Option<Instant>) {
        if let Ok(mut v) = self.valid_until.lock() {
            *v = until;
        }
    }
}

/// Takes or renews the lease every second until the node stops (once the node has joined);
/// gives it up on stop.
pub(crate) async fn run(inner: Arc<Inner>) {
    let lease = Duration::from_secs(inner.config.lease_secs);
    // What the node may believe after a renewal: the lease less a margin for clock rates.
    let trust = lease.saturating_sub(Duration::from_secs(1));
    let mut client: Option<Client> = None;
    let mut leading = false;
    let mut epoch = 0;
    // A node that started without PostgreSQL leads nothing before its core follows the log.
    tokio::select! {
        () = inner.gate.opened() => {}
        () = inner.closing.cancelled() => {}
    }
    while !inner.closing.is_cancelled() {
        let sent = Instant::now();
        let renewed = renew(&inner, &mut client, lease).await;
        match renewed {
            Ok(Some(e)) => {
                inner.lease.set(Some(sent + trust));
                if !leading || e != epoch {
                    info!(epoch = e, node = %inner.config.node, "this node is the leader (ticks, door webhooks)");
                }
                leading = true;
                epoch = e;
            }
            Ok(None) => {
                inner.lease.set(None);
                if leading {
                    warn!("this node lost the leader lease");
                }
                leading = false;
            }
            Err(e) => {
                // Keep what was valid: it runs out by itself if PostgreSQL stays away.
                if leading {
                    warn!("cannot renew the leader lease: {e:#}");
                }
                client = None;
            }
        }
        gauge!(m::LEADER).set(if inner.lease.held() { 1.0 } else { 0.0 });
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            () = inner.closing.cancelled() => {}
        }
    }
    inner.lease.set(None);
    gauge!(m::LEADER).set(0.0);
    if leading && let Some(c) = &client {
        // Hand over at once instead of after the lease.
        let _ = c
            .execute(
                "UPDATE vagt_leader SET expires_at = 'epoch' WHERE id = 1 AND holder = $1",
                &[&inner.config.node],
            )
            .await;
    }
}

async fn renew(
    inner: &Inner,
    client: &mut Option<Client>,
    lease: Duration,
) -> anyhow::Result<Option<i64>> {
    if client.is_none() {
        *client = Some(connect(&inner.config).await?);
    }
    let Some(c) = client.as_ref() else {
        anyhow::bail!("no connection");
    };
    let secs = lease.as_secs_f64();
    let row = tokio::time::timeout(
        Duration::from_secs(2),
        c.query_opt(RENEW, &[&inner.config.node, &secs]),
    )
    .await
    .map_err(|_| anyhow::anyhow!("lease renewal timed out"))??;
    Ok(row.map(|r| r.get(0)))
}
