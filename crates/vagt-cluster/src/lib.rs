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
mod join;
mod lease;
mod log;
pub mod membership;
pub mod metrics;
mod pending;
pub mod schema;
mod ship;
mod tls;

use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use anyhow::Context;
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
    /// No more appends; the shipper drains and stops.
    stopping: AtomicBool,
    /// The watcher and the lease stop.
    closing: CancellationToken,
    /// Opens the follower's reading of the log (late for a node that started without
    /// PostgreSQL).
    gate: join::Gate,
    /// Why the node must stop, and who to tell.
    failure: Mutex<Failure>,
}

/// Told why the node must stop.
type OnFailure = Box<dyn FnOnce(&str) + Send>;

/// A reason to stop the node (fail-stop) and the callback to tell it to.
#[derive(Default)]
struct Failure {
    why: Option<String>,
    tell: Option<OnFailure>,
}

impl Inner {
    /// The node cannot go on (fail-stop): tells the callback, once.
    fn fail(&self, why: String) {
        tracing::error!("{why}");
        let Ok(mut f) = self.failure.lock() else {
            return;
        };
        match f.tell.take() {
            Some(tell) => tell(&why),
            None => f.why = Some(why),
        }
    }
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
    tokio::time::timeout(QUERY_TIMEOUT, fut).await.map_err(|_| {
        anyhow::Error::new(join::Unanswered(format!(
            "PostgreSQL: {what} took longer than {QUERY_TIMEOUT:?}"
        )))
    })
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
#[derive(Clone, Debug)]
pub struct Started {
    /// The schema version (0: not joined yet).
    pub schema: i32,
    /// The cluster log's committed end (next `gseq`; 0: not joined yet).
    pub log_end: u64,
    /// Bytes of the local journal PostgreSQL did not have yet (shipped now; with `away`: all of
    /// what was written since the last shipped record, unknown until the join).
    pub unshipped: u64,
    /// The node's number in the cluster (assigned when it first joined).
    pub tag: u16,
    /// PostgreSQL was away: the node started degraded on its remembered tag and joins when
    /// PostgreSQL answers (why it was away).
    pub away: Option<String>,
}

/// How the shipper starts.
enum Start {
    /// Joined: ship from this offset.
    Joined(Offset),
    /// Join first (local journal's end at start, remembered tag).
    Late(u64, u16),
}

impl Cluster {
    /// Connects (waiting at most `connect_timeout`), migrates the schema, registers the node
    /// and starts shipping `local` into PostgreSQL, following the log and running for the
    /// leader lease. A node that joined before (its tag is remembered in `data`) starts even
    /// when PostgreSQL is away — degraded, joining when it answers; see
    /// [`Cluster::on_late_join`]. Call from outside an async context (it blocks on its own
    /// runtime).
    pub fn start(
        config: ClusterConfig,
        local: Arc<dyn Journal>,
        connect_timeout: Duration,
        data: &Path,
    ) -> anyhow::Result<(Self, Started)> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("vagt-cluster")
            .enable_all()
            .build()
            .context("starting the cluster runtime")?;
        let handle = runtime.handle().clone();
        let local_end = local.committed().end().0;
        let file = membership::path(data);
        let remembered = membership::load(&file)?.filter(|m| m.node == config.node);
        let joined = handle.block_on(join::register_within(&config, local_end, connect_timeout));
        let (start, started) = match joined {
            Ok(j) => {
                remember(&file, &config.node, j.tag, remembered.as_ref())?;
                let started = Started {
                    schema: j.schema,
                    log_end: j.log_end,
                    unshipped: local_end.saturating_sub(j.from.0),
                    tag: j.tag,
                    away: None,
                };
                (Start::Joined(j.from), started)
            }
            Err(e) if join::away(&e) && remembered.is_some() => {
                let tag = remembered.map_or(0, |m| m.tag);
                let why = format!("{e:#}");
                warn!(
                    node = %config.node,
                    tag,
                    "PostgreSQL is away ({why}): starting on the local journal alone (DEGRADED), joining the cluster when it answers"
                );
                let started = Started {
                    schema: 0,
                    log_end: 0,
                    unshipped: 0,
                    tag,
                    away: Some(why),
                };
                (Start::Late(local_end, tag), started)
            }
            Err(e) if join::away(&e) => {
                return Err(e.context(format!(
                    "this node never joined the cluster (no {}): it must reach PostgreSQL once",
                    file.display()
                )));
            }
            Err(e) => return Err(e),
        };
        let (shipped, log_end) = match start {
            Start::Joined(from) => (from.0, started.log_end),
            // Nothing before the local end waits for an ACK; the log's end is unknown yet.
            Start::Late(end, _) => (end, 0),
        };
        let inner = Arc::new(Inner {
            pending: pending::Pending::new(shipped, config.commit_timeout()),
            config,
            local,
            handle: handle.clone(),
            committed: Committed::new(Offset(log_end)),
            lease: lease::Lease::default(),
            stopping: AtomicBool::new(false),
            closing: CancellationToken::new(),
            gate: join::Gate::new(matches!(start, Start::Joined(_))),
            failure: Mutex::new(Failure::default()),
        });
        if let Some(why) = &started.away {
            inner.pending.set_degraded(true, why);
        }
        let shipper = {
            let inner = Arc::clone(&inner);
            std::thread::Builder::new()
                .name("vagt-cluster-ship".into())
                .spawn(move || ship_from(&inner, start))
                .context("starting the shipper thread")?
        };
        let tasks = vec![
            handle.spawn(follow::watch(Arc::clone(&inner))),
            handle.spawn(lease::run(Arc::clone(&inner))),
            handle.spawn(expire(Arc::clone(&inner))),
        ];
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

    /// For a node that started while PostgreSQL was away: `f` is told the log's committed end
    /// when the node joins — where the engine's live inputs start — and only then does the
    /// follower read the log (so call this for such a node, or it never follows). Never called
    /// for a node that joined at start. If `f` refuses the end (its state is ahead of this
    /// log: another cluster database), nothing is followed and the node fails
    /// ([`Cluster::on_failure`]).
    pub fn on_late_join(&self, f: impl FnOnce(u64) -> Result<(), String> + Send + 'static) {
        if let Err(why) = self.inner.gate.on_late_join(Box::new(f)) {
            self.inner.fail(why);
        }
    }

    /// `f` is told, once, why the node cannot go on (PostgreSQL gave it another tag at a late
    /// join): stop it (fail-stop).
    pub fn on_failure(&self, f: impl FnOnce(&str) + Send + 'static) {
        let Ok(mut failure) = self.inner.failure.lock() else {
            return;
        };
        match failure.why.take() {
            Some(why) => f(&why),
            None => failure.tell = Some(Box::new(f)),
        }
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
                .filter(|r| vagt_records::is_frame(&r.payload))
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

/// Remembers this node's tag for starts without PostgreSQL; says when it changed.
fn remember(
    file: &Path,
    node: &str,
    tag: u16,
    before: Option<&membership::Membership>,
) -> anyhow::Result<()> {
    if let Some(m) = before.filter(|m| m.tag != tag) {
        warn!(
            node,
            remembered = m.tag,
            tag,
            "PostgreSQL gave this node another tag than the one it remembered (a new cluster database?)"
        );
    }
    if before.is_none_or(|m| m.tag != tag) {
        let m = membership::Membership {
            node: node.to_owned(),
            tag,
        };
        membership::save(file, &m)?;
    }
    Ok(())
}

/// The shipper thread: joins first if the node started without PostgreSQL, then ships.
fn ship_from(inner: &Arc<Inner>, start: Start) {
    let from = match start {
        Start::Joined(from) => from,
        Start::Late(local_end, tag) => {
            let stopping = || inner.stopping.load(Ordering::Acquire);
            match join::late(&inner.handle, &inner.config, local_end, tag, stopping) {
                Ok(Some(j)) => {
                    info!(
                        unshipped_bytes = local_end.saturating_sub(j.from.0),
                        log_end = j.log_end,
                        "joined the cluster late: shipping what was acknowledged meanwhile"
                    );
                    if let Err(why) = inner.gate.joined(j.log_end) {
                        return inner.fail(why);
                    }
                    j.from
                }
                Ok(None) => return, // stopping: shipped on the next start
                Err(e) => return inner.fail(format!("{e:#}")),
            }
        }
    };
    ship::run(inner, inner.local.follow(from));
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
            reader: None,
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
