//! `vagt serve`: the start order, the signals, and the ordered shutdown.
//!
//! Start: lock and recover the journal → rebuild the dedup window → bind every listener (a bind
//! error stops us before anything runs) → the "accounts loaded" record → the engine (snapshot +
//! replay, then following) → the console → the ops endpoint, ticker, TCP and UDP.
//!
//! Stop ([`Running::shutdown`], one tree of tokens): stop accepting and reading → in-flight
//! frames finish their commit and ACK (up to the grace) → consoles closed → the engine stops
//! journaling commands → the journal commits what is queued and stops (even if a task stuck
//! past the grace still holds an appender) → the core applies the rest and writes its snapshot
//! → the ops endpoint last.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::net::{TcpListener, UdpSocket};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};
use vagt_cluster::Cluster;
use vagt_console::RunningConsole;
use vagt_engine::{Engine, Leads, Node};
use vagt_ingest::{AckPath, Dedup, tcp, udp};
use vagt_journal::{Journal, JournalError, SegmentJournal};
use vagt_records::{Accounts, input, time};

use crate::cli::ServeArgs;
use crate::config::Config;
use crate::ops;

/// Loads the configuration with the command line's overrides applied.
pub fn load_config(args: &ServeArgs) -> anyhow::Result<(Config, Accounts)> {
    let mut config = Config::load(args.config.as_deref())?;
    let g = &mut config.gateway;
    if let Some(a) = args.listen {
        g.listen = a;
    }
    if let Some(a) = args.metrics {
        g.metrics = a;
    }
    if let Some(d) = &args.data {
        g.data.clone_from(d);
    }
    if let Some(a) = &args.accounts {
        g.accounts = Some(a.clone());
    }
    if let Some(name) = &args.node {
        let Some(c) = &mut config.cluster else {
            bail!("--node names a cluster node, but the configuration has no [cluster] section");
        };
        c.node.clone_from(name);
        c.validate()?;
    }
    if args.no_console {
        config.console = None;
    } else if let Some(addr) = args.console {
        config.console.get_or_insert_with(Default::default).listen = addr;
    }
    if let Some(c) = &mut config.console {
        c.in_data(&config.gateway.data);
    }
    let accounts = match &config.gateway.accounts {
        Some(p) => Accounts::load(p)?,
        None => Accounts::default(),
    };
    Ok((config, accounts))
}

/// A started gateway: its bound addresses and what is needed to stop it in order.
pub struct Running {
    /// DC-09 address (TCP and UDP).
    pub addr: SocketAddr,
    /// `/metrics` address.
    pub metrics_addr: SocketAddr,
    /// The journal directory.
    pub journal_dir: PathBuf,
    /// Data directory.
    pub data_dir: PathBuf,
    /// The console's address, if it runs.
    pub console_addr: Option<SocketAddr>,
    console: Option<RunningConsole>,
    /// What SIGHUP reads again.
    reload: Arc<crate::reload::Reload>,
    stop: CancellationToken,
    ops_stop: CancellationToken,
    tracker: TaskTracker,
    journal: SegmentJournal,
    cluster: Option<Arc<Cluster>>,
    engine: Arc<Engine>,
    ops_task: tokio::task::JoinHandle<anyhow::Result<()>>,
    /// Why the node must stop (fail-stop): a journal write, or the cluster.
    fatal: Option<mpsc::UnboundedReceiver<Fatal>>,
}

/// Runs the gateway until SIGTERM or SIGINT, or until the journal fails (fail-stop).
pub async fn run(config: Config, accounts: Accounts) -> anyhow::Result<()> {
    // Signal handlers first: a SIGTERM during start-up must stop us gracefully, not kill us.
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let grace_term = Duration::from_secs(config.gateway.shutdown_grace_secs);
    let mut running = start(config, accounts).await?;
    // One parseable line for operators and tests: the bound addresses. A closed stdout must
    // not take the process down: the line is best effort.
    say(
        &mut std::io::stdout(),
        format_args!(
            "vagt: listening on {} (tcp+udp), metrics on http://{}/metrics, journal {}{}",
            running.addr,
            running.metrics_addr,
            running.journal_dir.display(),
            running
                .console_addr
                .map(|a| format!(", console wss://{a}/"))
                .unwrap_or_default()
        ),
    );
    if let Some((url, file)) = running.setup_link() {
        // The token is a key to the console: on a terminal only, never into a log.
        let line = if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            format!(
                "vagt: first run: create the console's first admin at {url} (the browser warns about the self-signed certificate in {}; the link works once)",
                running.data_dir.display()
            )
        } else {
            format!(
                "vagt: first run: the one-time link that creates the console's first admin is in {} (readable by this user only)",
                file.display()
            )
        };
        say(&mut std::io::stdout(), format_args!("{line}"));
    }
    let mut fatal = running.fatal.take();
    let grace = loop {
        tokio::select! {
            _ = term.recv() => { info!("SIGTERM: stopping gracefully"); break grace_term }
            _ = int.recv() => {
                info!("SIGINT: stopping");
                break Duration::from_secs(1).min(grace_term);
            }
            _ = hup.recv() => {
                running.reload.run(&running.engine);
                if let Some(console) = &running.console {
                    console.reload_users();
                }
            }
            Some(why) = async { fatal.as_mut()?.recv().await } => {
                return fail_stop(running, why).await;
            }
        }
    };
    running.shutdown(grace).await
}

/// Writes one line to a standard stream, ignoring a closed or full one (`println!` would
/// panic): nothing the gateway prints is worth stopping the ACKs for.
pub fn say(out: &mut dyn std::io::Write, line: std::fmt::Arguments<'_>) {
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// Why a running node must stop at once.
#[derive(Debug)]
enum Fatal {
    /// The journal could not write or sync.
    Journal(String),
    /// The cluster cannot go on with this node (PostgreSQL gave it another tag).
    Cluster(String),
}

/// The journal could not write or sync: nothing more can be acknowledged. Stop at once and exit
/// non-zero so the supervisor restarts us (recovery then reads only what was synced); a retried
/// fsync after an I/O error could report success for data the kernel has dropped. Or the node
/// cannot go on in the cluster (refused at a late join, or the database lost records it had
/// committed): stop rather than run on as what it is not.
async fn fail_stop(running: Running, why: Fatal) -> anyhow::Result<()> {
    let (what, why) = match why {
        Fatal::Journal(why) => ("journal write failed", why),
        Fatal::Cluster(why) => ("this node cannot go on in the cluster", why),
    };
    error!(error = %why, "{what}: stopping (fail-stop)");
    let grace = Duration::from_secs(2);
    let _ = tokio::time::timeout(grace * 2, running.shutdown(grace)).await;
    bail!("{what}, stopped to be restarted: {why}")
}

/// The sockets, bound before anything starts (a bind error is reported at once).
struct Listeners {
    tcp: TcpListener,
    udp: UdpSocket,
    ops: TcpListener,
}

async fn bind(config: &Config) -> anyhow::Result<Listeners> {
    let g = &config.gateway;
    let tcp = tcp::bind_listener(g.listen).with_context(|| format!("binding TCP {}", g.listen))?;
    let addr = tcp.local_addr()?;
    let udp = UdpSocket::bind(addr)
        .await
        .with_context(|| format!("binding UDP {addr}"))?;
    let ops = TcpListener::bind(g.metrics)
        .await
        .with_context(|| format!("binding metrics address {}", g.metrics))?;
    Ok(Listeners { tcp, udp, ops })
}

/// Locks and recovers the journal; `fatal` hears if a write or fsync ever fails.
fn open_journal(
    config: &Config,
    dir: &Path,
    health: &ops::Health,
    fatal: mpsc::UnboundedSender<Fatal>,
) -> anyhow::Result<SegmentJournal> {
    if !config.journal.fsync {
        warn!(
            "!!! journal.fsync = false: acknowledged alarms can be LOST on a crash. Benchmarks only. !!!"
        );
        say(
            &mut std::io::stderr(),
            format_args!(
                "vagt: WARNING: journal.fsync = false — acknowledged alarms can be lost on a crash (benchmarks only)"
            ),
        );
    }
    let journal = SegmentJournal::open(
        config.journal.open_config(dir),
        vagt_ingest::metrics::journal_commit,
    )
    .map_err(|e| open_error(e, dir))?;
    let flag = Arc::clone(&health.journal_failed);
    journal.on_failure(move |why| {
        flag.store(true, std::sync::atomic::Ordering::Release);
        let _ = fatal.send(Fatal::Journal(why.to_owned()));
    });
    let rec = journal.recovery();
    if rec.truncated_bytes > 0 {
        warn!(
            records = rec.records,
            truncated_bytes = rec.truncated_bytes,
            "journal recovered: a torn final write (never acknowledged) was cut off"
        );
    } else {
        info!(
            records = rec.records,
            segments = rec.segments,
            "journal recovered"
        );
    }
    Ok(journal)
}

/// The journal could not be opened: say what the operator can do about it.
fn open_error(e: JournalError, dir: &Path) -> anyhow::Error {
    let hint = match &e {
        JournalError::Corrupt { .. } | JournalError::CorruptBeforeValid { .. } => {
            "; refusing to start rather than lose acknowledged alarms. `vagt journal verify` \
             shows it, `vagt journal salvage --data <data> --to <new data>` copies every valid \
             record and lists what is lost"
        }
        JournalError::Locked { .. } => {
            "; only one vagt may serve a data directory: stop the other one or use another --data"
        }
        _ => "",
    };
    anyhow::anyhow!("opening journal {}: {e}{hint}", dir.display())
}

/// Recovers the journal, rebuilds the dedup window, binds the listeners and starts serving.
pub async fn start(mut config: Config, accounts: Accounts) -> anyhow::Result<Running> {
    // The console's files left out of the config live in the data directory.
    let data = config.gateway.data.clone();
    if let Some(c) = &mut config.console {
        c.in_data(&data);
    }
    let handle = ops::install()?;
    let journal_dir = config.journal_dir();
    let health = ops::Health::default();
    let (fatal_tx, fatal) = mpsc::unbounded_channel();
    let journal = open_journal(&config, &journal_dir, &health, fatal_tx.clone())?;
    let local: Arc<dyn Journal> = Arc::new(journal.appender()?);
    let dedup = Dedup::new(config.dedup.window(), config.dedup.max_keys);
    let rebuilt = dedup.rebuild(local.as_ref())?;
    info!(keys = rebuilt, "dedup window rebuilt from the journal tail");
    let listeners = bind(&config).await?;
    let (cluster, appender, node) = join_cluster(&config, local).await?;

    // The core follows the journal; from these records on, these accounts apply (they carry
    // them, without keys, so replays and reports use what was in force).
    crate::reload::journal_accounts(appender.as_ref(), &accounts)?;
    let settings = config.protocol.settings();
    // A cluster's snapshots are positions in PostgreSQL's log, not in the local journal.
    let snap_dir = config.gateway.data.join(match cluster {
        Some(_) => "core-cluster",
        None => "core",
    });
    let leads = Arc::clone(&node.leads);
    let engine = Arc::new(Engine::start_as(
        &config.core,
        &accounts,
        settings,
        &snap_dir,
        Arc::clone(&appender),
        node,
    )?);
    if let Some(c) = &cluster {
        let engine = Arc::clone(&engine);
        c.on_late_join(move |end| engine.set_live_from(end));
        c.on_failure(move |why| {
            let _ = fatal_tx.send(Fatal::Cluster(why.to_owned()));
        });
    }
    let accounts = Arc::new(accounts);
    let register = config
        .console
        .as_ref()
        .map(crate::backend::Register::load)
        .transpose()?;
    if let Some(r) = &register {
        tokio::spawn(crate::reload::journal_loaded(
            Arc::clone(&engine),
            r.loaded("start"),
        ));
    }
    let ack = Arc::new(AckPath::new(
        settings,
        Arc::clone(&accounts),
        dedup,
        Arc::clone(&appender),
    ));
    let reload = Arc::new(crate::reload::Reload::new(
        config.gateway.accounts.clone(),
        Arc::clone(&accounts),
        Arc::clone(&ack),
        Arc::clone(&appender),
        register.clone(),
    ));
    let console = match (&config.console, &register) {
        (Some(c), Some(r)) => {
            let reports = config.report_source(Arc::clone(&accounts));
            let backend = (reports, cluster.clone(), r.clone());
            Some(crate::backend::start(c, &engine, backend, Arc::clone(&reload)).await?)
        }
        _ => None,
    };
    let addr = listeners.tcp.local_addr()?;
    let metrics_addr = listeners.ops.local_addr()?;
    let ops_stop = CancellationToken::new();
    let ops_task = tokio::spawn(ops::serve_on(
        listeners.ops,
        handle,
        Some(Arc::clone(&engine)),
        health,
        ops_stop.clone(),
    ));
    let running = Running {
        addr,
        metrics_addr,
        journal_dir,
        data_dir: config.gateway.data.clone(),
        console_addr: console.as_ref().map(|c| c.addr),
        console,
        reload,
        stop: CancellationToken::new(),
        ops_stop,
        tracker: TaskTracker::new(),
        journal,
        cluster,
        engine,
        ops_task,
        fatal: Some(fatal),
    };
    running.spawn_ingest(
        &config,
        listeners.tcp,
        listeners.udp,
        ack,
        (appender, leads),
    );
    if let Some(days) = config.journal.archive_after_days {
        running.tracker.spawn(crate::retention::run(
            config.journal_dir(),
            Arc::clone(&running.engine),
            Duration::from_secs(days.saturating_mul(86_400)),
            Duration::from_secs(config.core.snapshot_every_secs),
            running.stop.clone(),
        ));
    }
    Ok(running)
}

/// With `[cluster]`: joins it (PostgreSQL must answer within 10 s) and returns the replicated
/// journal and who this node is; without it: the local journal, alone.
async fn join_cluster(
    config: &Config,
    local: Arc<dyn Journal>,
) -> anyhow::Result<(Option<Arc<Cluster>>, Arc<dyn Journal>, Node)> {
    let Some(c) = config.cluster.clone() else {
        return Ok((None, local, Node::default()));
    };
    c.require_node()?;
    vagt_cluster::check_url(&c.url);
    let name = c.node.clone();
    let data = config.gateway.data.clone();
    let (cluster, started) = tokio::task::spawn_blocking(move || {
        Cluster::start(c, local, Duration::from_secs(10), &data)
    })
    .await?
    .with_context(|| format!("joining the cluster as node {name:?}"))?;
    if started.away.is_none() {
        info!(
            node = %name,
            tag = started.tag,
            schema = started.schema,
            log_end = started.log_end,
            unshipped_bytes = started.unshipped,
            "cluster mode: acknowledging after the local fsync and the PostgreSQL commit"
        );
    }
    let cluster = Arc::new(cluster);
    let node = Node {
        tag: started.tag,
        leads: Arc::new(cluster.leader_check()),
        late: started.away.is_some(),
    };
    let journal = cluster.journal();
    Ok((Some(cluster), journal, node))
}

impl Running {
    /// The console's first-run set-up link and the file that holds it, while it has no admin.
    pub fn setup_link(&self) -> Option<(&str, &Path)> {
        let (url, file) = self.console.as_ref()?.setup.as_ref()?;
        Some((url.as_str(), file.as_path()))
    }

    /// The token in the console's first-run set-up link, while it has no admin.
    pub fn setup_token(&self) -> Option<&str> {
        self.setup_link()?.0.split_once("#setup=").map(|(_, t)| t)
    }

    /// The ticker and the ACK path's listeners, tracked for shutdown.
    fn spawn_ingest(
        &self,
        config: &Config,
        tcp: TcpListener,
        udp: UdpSocket,
        ack: Arc<AckPath>,
        (journal, leads): (Arc<dyn Journal>, Leads),
    ) {
        let decoder = config.gateway.decoder(&config.protocol);
        let every = Duration::from_secs(config.core.tick_secs);
        self.tracker
            .spawn(ticker(journal, leads, every, self.stop.clone()));
        self.tracker.spawn(tcp::accept_loop(
            tcp,
            Arc::clone(&ack),
            decoder.clone(),
            config.gateway.limits(),
            self.stop.clone(),
            self.tracker.clone(),
        ));
        self.tracker.spawn(udp::recv_loop(
            Arc::new(udp),
            ack,
            decoder,
            self.stop.clone(),
            self.tracker.clone(),
        ));
    }

    /// Ordered shutdown (see the module docs). Returns an error if in-flight work did not
    /// finish within `grace` — after still closing the journal and the core in order.
    pub async fn shutdown(self, grace: Duration) -> anyhow::Result<()> {
        drop(self.console);
        self.stop.cancel();
        self.tracker.close();
        let in_time = tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_ok();
        if !in_time {
            error!("in-flight work did not finish within {grace:?}; closing the journal anyway");
        }
        // The journal commits what is queued and stops, even if a stuck task still holds an
        // appender; then the core applies the rest and writes its snapshot.
        self.engine.stop_appending();
        if let Some(c) = self.cluster.clone() {
            // Ships what the local journal holds, then lets the core's follower finish.
            tokio::task::spawn_blocking(move || c.close()).await?;
        }
        let journal = self.journal;
        tokio::task::spawn_blocking(move || journal.close()).await?;
        let engine = Arc::clone(&self.engine);
        tokio::task::spawn_blocking(move || engine.join()).await?;
        drop(self.cluster);
        self.ops_stop.cancel();
        let _ = self.ops_task.await;
        if !in_time {
            bail!("shutdown grace period of {grace:?} exceeded");
        }
        info!("stopped cleanly");
        Ok(())
    }

    /// The core: commands and the read side.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }
}

/// Journals a clock tick every `every` for the core's timers (escalation, supervision) — in a
/// cluster only while this node leads.
async fn ticker(journal: Arc<dyn Journal>, leads: Leads, every: Duration, stop: CancellationToken) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = interval.tick() => {
                if !leads() {
                    continue;
                }
                // A full queue skips this tick; the next one carries a later time.
                let _ = journal.try_append(input::encode_tick(time::now_secs()), Box::new(|_| {}));
            }
        }
    }
}
