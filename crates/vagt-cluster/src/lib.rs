//! Vagt on PostgreSQL: no single point of failure (DESIGN.md §6).
//!
//! ```text
//!  ACK path ─append─▶ local journal ─fsync─▶ shipper ─one tx per group─▶ PostgreSQL vagt_log
//!      ▲                  (the queue)            │                         (one total order)
//!      └── ACK: committed in PostgreSQL ─────────┘                               │
//!          or, after commit_timeout, on the local fsync alone (degraded)         ▼
//!  every node's core ◀──────── follower: gseq order, below the committed end ────┘
//! ```
//!
//! [`Cluster`] is a [`vagt_journal::Journal`]: the ACK path and the engine use it exactly as
//! they use the embedded segment journal. A record is acknowledged when it is durable in the
//! node's local journal *and* committed in PostgreSQL (with a synchronous standby: on two
//! machines). If PostgreSQL does not commit within `commit_timeout_ms`, the node acknowledges
//! on its local fsync alone — *degraded*: a WARN, `vagt_cluster_degraded` = 1 — and the shipper
//! drains the local journal into PostgreSQL when it is back. Frames are deduplicated in
//! PostgreSQL (within the window), so a retransmission to another node, or a record shipped
//! again, is never a second alarm. The engine follows PostgreSQL's log, not the local journal:
//! every node folds the same order and decides every command the same way.
//!
//! [`Cluster::leads`] says whether this node holds the leader lease (ticks, door webhooks).

pub mod config;
mod follow;
mod lease;
mod log;
pub mod metrics;
mod pending;
pub mod schema;
mod ship;
mod tls;

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use tokio::sync::Notify;
use tokio_postgres::{Client, NoTls};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use vagt_journal::{
    Committed, Done, Follow, Journal, JournalError, Offset, Records, Refused, Room,
};

pub use config::ClusterConfig;
pub use log::read_log;

/// State shared by the journal handle and the cluster's threads and tasks.
pub(crate) struct Inner {
    config: ClusterConfig,
    /// The node's own journal: durable first, and the shipper's queue.
    local: Arc<dyn Journal>,
    handle: tokio::runtime::Handle,
    pending: pending::Pending,
    /// PostgreSQL's committed end (the next `gseq`).
    committed: Committed,
    lease: lease::Lease,
    /// Wakes the committed-end watcher after this node's commits.
    poke: Notify,
    /// No more appends; the shipper drains and stops.
    stopping: AtomicBool,
    /// The watcher and the lease stop.
    closing: CancellationToken,
}

/// Connects to PostgreSQL (over TLS with `ca_file`); the connection runs on the current
/// runtime.
pub(crate) async fn connect(config: &ClusterConfig) -> anyhow::Result<Client> {
    let mut pg: tokio_postgres::Config = config
        .url
        .parse()
        .context("cluster.url is not a PostgreSQL connection string")?;
    match tls::connector(config)? {
        Some(tls) => {
            // Never fall back to plain TCP when TLS was asked for.
            pg.ssl_mode(tokio_postgres::config::SslMode::Require);
            start(within(pg.connect(tls), "connecting").await?).await
        }
        None => start(within(pg.connect(NoTls), "connecting").await?).await,
    }
}

/// Runs a new connection on the current runtime; its client.
async fn start<S, T>(
    connected: Result<(Client, tokio_postgres::Connection<S, T>), tokio_postgres::Error>,
) -> anyhow::Result<Client>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (client, connection) = connected.context("connecting to PostgreSQL")?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("PostgreSQL connection ended: {e}");
        }
    });
    Ok(client)
}

/// Cancels the query running on `client`'s connection (over TLS with `ca_file`).
pub(crate) async fn cancel(client: &Client, config: &ClusterConfig) {
    let token = client.cancel_token();
    let _ = match tls::connector(config) {
        Ok(Some(tls)) => within(token.cancel_query(tls), "cancelling").await,
        _ => within(token.cancel_query(NoTls), "cancelling").await,
    };
}

/// How long one connect or query to PostgreSQL may take before it counts as failed (a
/// blackholed server must not hang the node or its shutdown).
pub(crate) const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// `fut` within [`QUERY_TIMEOUT`].
pub(crate) async fn within<T>(fut: impl Future<Output = T>, what: &str) -> anyhow::Result<T> {
    tokio::time::timeout(QUERY_TIMEOUT, fut)
        .await
        .map_err(|_| anyhow::anyhow!("PostgreSQL: {what} took longer than {QUERY_TIMEOUT:?}"))
}

/// A node of a Vagt cluster: the replicated journal, the follower of the total order, and the
/// leader lease.
pub struct Cluster {
    inner: Arc<Inner>,
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    shipper: Mutex<Option<JoinHandle<()>>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// [`Cluster::unshipped_frames`], and when it was read.
    unshipped: Mutex<(Option<std::time::Instant>, Vec<Vec<u8>>)>,
}

/// What happened at start, for the log.
#[derive(Clone, Copy, Debug)]
pub struct Started {
    /// The schema version.
    pub schema: i32,
    /// The cluster log's committed end (next `gseq`).
    pub log_end: u64,
    /// Bytes of the local journal PostgreSQL did not have yet (shipped now).
    pub unshipped: u64,
    /// The node's number in the cluster (assigned when it first joined).
    pub tag: u16,
}

impl Cluster {
    /// Connects (waiting at most `connect_timeout`), migrates the schema, registers the node
    /// and starts shipping `local` into PostgreSQL, following the log and running for the
    /// leader lease. Call from outside an async context (it blocks on its own runtime).
    pub fn start(
        config: ClusterConfig,
        local: Arc<dyn Journal>,
        connect_timeout: Duration,
    ) -> anyhow::Result<(Self, Started)> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("vagt-cluster")
            .enable_all()
            .build()
            .context("starting the cluster runtime")?;
        let handle = runtime.handle().clone();
        let local_end = local.committed().end().0;
        let (schema, tag, from, log_end) = handle.block_on(async {
            tokio::time::timeout(connect_timeout, register(&config, local_end))
                .await
                .map_err(|_| {
                    anyhow::anyhow!("PostgreSQL did not answer within {connect_timeout:?}")
                })?
        })?;
        let inner = Arc::new(Inner {
            pending: pending::Pending::new(from.0, config.commit_timeout()),
            config,
            local,
            handle: handle.clone(),
            committed: Committed::new(Offset(log_end)),
            lease: lease::Lease::default(),
            poke: Notify::new(),
            stopping: AtomicBool::new(false),
            closing: CancellationToken::new(),
        });
        let tail = inner.local.follow(from);
        let shipper = {
            let inner = Arc::clone(&inner);
            std::thread::Builder::new()
                .name("vagt-cluster-ship".into())
                .spawn(move || ship::run(&inner, tail))
                .context("starting the shipper thread")?
        };
        let tasks = vec![
            handle.spawn(follow::watch(Arc::clone(&inner))),
            handle.spawn(lease::run(Arc::clone(&inner))),
            handle.spawn(expire(Arc::clone(&inner))),
        ];
        let started = Started {
            schema,
            log_end,
            unshipped: local_end.saturating_sub(from.0),
            tag,
        };
        Ok((
            Self {
                inner,
                runtime: Mutex::new(Some(runtime)),
                shipper: Mutex::new(Some(shipper)),
                tasks: Mutex::new(tasks),
                unshipped: Mutex::new((None, Vec::new())),
            },
            started,
        ))
    }

    /// The journal the ACK path and the engine use.
    pub fn journal(&self) -> Arc<dyn Journal> {
        Arc::new(Handle(Arc::clone(&self.inner)))
    }

    /// Whether this node holds the leader lease now (do once-only duties only while true).
    pub fn leads(&self) -> bool {
        self.inner.lease.held()
    }

    /// A cheap check of [`Cluster::leads`] to hand to other parts (the ticker, the door).
    pub fn leader_check(&self) -> impl Fn() -> bool + Send + Sync + 'static {
        let inner = Arc::clone(&self.inner);
        move || inner.lease.held()
    }

    /// Whether the node acknowledges on its local fsync alone (PostgreSQL is not committing).
    pub fn degraded(&self) -> bool {
        self.inner.pending.is_degraded()
    }

    /// The newest `limit` frame records of the local journal that are not in PostgreSQL yet
    /// (acknowledged while degraded; none normally), oldest first. Read at most once a second
    /// however often it is asked (every console asks every 5 s).
    pub fn unshipped_frames(&self, limit: usize) -> Vec<Vec<u8>> {
        let Ok(mut cache) = self.unshipped.lock() else {
            return Vec::new();
        };
        if cache
            .0
            .is_some_and(|at| at.elapsed() < Duration::from_secs(1))
        {
            return cache.1.clone();
        }
        let mark = self.inner.pending.shipped_mark();
        let end = self.inner.local.committed().end();
        let mut frames = Vec::new();
        if end.0 > mark {
            let mut tail = self.inner.local.follow(Offset(mark));
            let mut records = Vec::new();
            // What was read before an error still counts: the list is for people to see.
            let _ = tail.read_to(end, &mut records);
            frames = records
                .into_iter()
                .filter(|r| r.payload.first() == Some(&b'F'))
                .map(|r| r.payload)
                .collect();
            let skip = frames.len().saturating_sub(limit);
            frames.drain(..skip);
        }
        *cache = (Some(std::time::Instant::now()), frames.clone());
        frames
    }

    /// Stops taking records, ships what the local journal holds (giving up after a few
    /// attempts if PostgreSQL is away: it ships on the next start), acknowledges anything still
    /// waiting (it is durable locally), gives up the lease and closes the committed end so
    /// followers finish. The runtime stays until [`Drop`] (followers still read).
    pub fn close(&self) {
        self.inner.stopping.store(true, Ordering::Release);
        if let Some(t) = self.shipper.lock().ok().and_then(|mut s| s.take()) {
            let _ = t.join();
        }
        self.inner.pending.release_all();
        self.inner.closing.cancel();
        let tasks = self
            .tasks
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default();
        let handle = self.inner.handle.clone();
        for t in tasks {
            let _ =
                handle.block_on(async { tokio::time::timeout(Duration::from_secs(3), t).await });
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Dropped without close() (start-up failed later on): stop everything; the runtime goes
        // only after the shipper thread, which still uses it, has ended.
        self.inner.stopping.store(true, Ordering::Release);
        self.inner.closing.cancel();
        let runtime = self.runtime.lock().ok().and_then(|mut r| r.take());
        let shipper = self.shipper.lock().ok().and_then(|mut s| s.take());
        match (runtime, shipper) {
            (Some(rt), Some(shipper)) => {
                let _ = std::thread::Builder::new()
                    .name("vagt-cluster-drop".into())
                    .spawn(move || {
                        let _ = shipper.join();
                        rt.shutdown_background();
                    });
            }
            (Some(rt), None) => rt.shutdown_background(),
            _ => {}
        }
    }
}

/// Connects, migrates, registers this node; returns (schema, tag, where shipping starts, log
/// end).
async fn register(
    config: &ClusterConfig,
    local_end: u64,
) -> anyhow::Result<(i32, u16, Offset, u64)> {
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
        c.execute(
            "UPDATE vagt_nodes SET shipped = 0 WHERE node = $1",
            &[&config.node],
        )
        .await?;
    }
    let log_end = follow::committed_end(&c).await?;
    info!(
        node = %config.node,
        schema,
        log_end,
        "joined the cluster"
    );
    Ok((schema, tag, from, log_end))
}

/// Acknowledges, every 50 ms, what waited longer than the commit timeout.
async fn expire(inner: Arc<Inner>) {
    while !inner.closing.is_cancelled() {
        inner.pending.expire();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The cluster as a [`Journal`].
struct Handle(Arc<Inner>);

impl Handle {
    fn wrap(&self, done: Done) -> Done {
        let inner = Arc::clone(&self.0);
        Box::new(move |r: Result<Offset, JournalError>| match r {
            Ok(at) => inner.pending.durable_locally(at, done),
            Err(e) => done(Err(e)),
        })
    }
}

impl Journal for Handle {
    fn try_append(&self, payload: Vec<u8>, done: Done) -> Result<(), Refused> {
        if self.0.stopping.load(Ordering::Acquire) {
            return Err(Refused::Closed);
        }
        self.0.local.try_append(payload, self.wrap(done))
    }

    fn room(&self) -> Room {
        self.0.local.room()
    }

    fn append(&self, payload: Vec<u8>, done: Done) -> Result<(), JournalError> {
        if self.0.stopping.load(Ordering::Acquire) {
            return Err(JournalError::Closed);
        }
        self.0.local.append(payload, self.wrap(done))
    }

    fn committed(&self) -> Committed {
        self.0.committed.clone()
    }

    fn follow(&self, from: Offset) -> Box<dyn Follow> {
        Box::new(follow::PgFollow {
            inner: Arc::clone(&self.0),
            client: None,
            position: from.0.max(1),
        })
    }

    fn written_since(&self, since: SystemTime) -> Result<Records, JournalError> {
        self.0.local.written_since(since)
    }
}

/// Warns once if `url` has no `target_session_attrs=read-write` while naming several hosts
/// (after a failover the node could connect to the read-only old primary's standby).
pub fn check_url(url: &str) {
    if let Ok(c) = url.parse::<tokio_postgres::Config>()
        && c.get_hosts().len() > 1
        && c.get_target_session_attrs() != tokio_postgres::config::TargetSessionAttrs::ReadWrite
    {
        warn!("cluster.url names several hosts without target_session_attrs=read-write");
    }
}
