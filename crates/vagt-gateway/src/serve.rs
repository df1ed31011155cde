//! `vagt serve`: start-up, the listeners, signals and ordered shutdown.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use metrics::{counter, histogram};
use tokio::net::{TcpListener, UdpSocket};
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};
use vagt_dc09::FrameDecoder;
use vagt_journal::{Appender, Journal, Reader};

use crate::accounts::Accounts;
use crate::cli::ServeArgs;
use crate::config::Config;
use crate::dedup::Dedup;
use crate::engine::{Engine, records};
use crate::metrics as m;
use crate::receiver::{Receiver, clock};
use crate::record::FrameRecord;
use crate::{tcp, udp};

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
    if let Some(addr) = args.console {
        match &mut config.console {
            Some(c) => c.listen = addr,
            None => anyhow::bail!(
                "--console needs a [console] section with cert, key and users (see README)"
            ),
        }
    }
    let accounts = match &g.accounts {
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
    console: Option<crate::console::RunningConsole>,
    stop: CancellationToken,
    metrics_stop: CancellationToken,
    tracker: TaskTracker,
    journal: Journal,
    engine: Arc<Engine>,
    metrics_task: tokio::task::JoinHandle<anyhow::Result<()>>,
    journal_failed: Option<tokio::sync::oneshot::Receiver<String>>,
}

/// The journal could not be opened: say what the operator can do about it.
fn open_error(e: vagt_journal::JournalError, dir: &Path) -> anyhow::Error {
    use vagt_journal::JournalError as E;
    let hint = match &e {
        E::Corrupt { .. } | E::CorruptBeforeValid { .. } => {
            "; refusing to start rather than lose acknowledged alarms. `vagt journal verify` \
             shows it, `vagt journal salvage --data <data> --to <new data>` copies every valid \
             record and lists what is lost"
        }
        E::Locked { .. } => {
            "; only one vagt may serve a data directory: stop the other one or use another --data"
        }
        _ => "",
    };
    anyhow::anyhow!("opening journal {}: {e}{hint}", dir.display())
}

/// Runs the gateway until SIGTERM or SIGINT.
pub async fn run(config: Config, accounts: Accounts) -> anyhow::Result<()> {
    // Signal handlers first: a SIGTERM during start-up must stop us gracefully, not kill us.
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let grace_term = Duration::from_secs(config.gateway.shutdown_grace_secs);
    let mut running = start(config, accounts).await?;
    // One parseable line for operators and tests: the bound addresses.
    println!(
        "vagt: listening on {} (tcp+udp), metrics on http://{}/metrics, journal {}{}",
        running.addr,
        running.metrics_addr,
        running.journal_dir.display(),
        running
            .console_addr
            .map(|a| format!(", console wss://{a}/"))
            .unwrap_or_default()
    );
    let mut failed = running.journal_failed.take();
    let grace = tokio::select! {
        _ = term.recv() => { info!("SIGTERM: stopping gracefully"); grace_term }
        _ = int.recv() => { info!("SIGINT: stopping"); Duration::from_secs(1).min(grace_term) }
        Some(why) = async { failed.as_mut()?.await.ok() } => {
            return fail_stop(running, &why).await;
        }
    };
    running.shutdown(grace).await
}

/// The journal could not write or sync: nothing more can be acknowledged. Stop at once and exit
/// non-zero so the supervisor restarts us (recovery then reads only what was synced); a retried
/// fsync after an I/O error could report success for data the kernel has dropped.
async fn fail_stop(running: Running, why: &str) -> anyhow::Result<()> {
    error!(
        error = why,
        "journal write failed: no frame can be acknowledged; stopping (fail-stop)"
    );
    let grace = Duration::from_secs(2);
    match tokio::time::timeout(grace * 2, running.shutdown(grace)).await {
        Ok(Ok(()) | Err(_)) | Err(_) => {}
    }
    bail!("journal write failed, stopped to be restarted: {why}")
}

/// Recovers the journal, rebuilds the dedup window, binds the listeners and starts serving.
pub async fn start(config: Config, accounts: Accounts) -> anyhow::Result<Running> {
    let handle = m::install()?;
    let g = config.gateway.clone();
    let journal_dir = g.data.join("journal");
    if !config.journal.fsync {
        warn!(
            "!!! journal.fsync = false: acknowledged alarms can be LOST on a crash. Benchmarks only. !!!"
        );
        eprintln!(
            "vagt: WARNING: journal.fsync = false — acknowledged alarms can be lost on a crash (benchmarks only)"
        );
    }
    let journal_config = vagt_journal::Config {
        segment_bytes: config.journal.segment_mib << 20,
        fsync: config.journal.fsync,
        max_batch: config.journal.max_batch,
        queue_capacity: config.journal.queue_capacity,
        ..vagt_journal::Config::new(&journal_dir)
    };
    let journal = Journal::open(journal_config, |s| {
        histogram!(m::JOURNAL_COMMIT).record(s.write_and_sync.as_secs_f64());
        histogram!(m::JOURNAL_BATCH).record(s.records as f64);
        counter!(m::JOURNAL_BYTES).increment(s.bytes as u64);
        counter!(m::JOURNAL_RECORDS).increment(s.records as u64);
    })
    .map_err(|e| open_error(e, &journal_dir))?;
    let (failed_tx, journal_failed) = tokio::sync::oneshot::channel();
    journal.on_failure(move |why| {
        let _ = failed_tx.send(why.to_owned());
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
    let window = Duration::from_secs(config.dedup.window_secs);
    let dedup = Dedup::new(window);
    let rebuilt = rebuild_dedup(&dedup, &journal_dir, window)?;
    info!(keys = rebuilt, "dedup window rebuilt from the journal tail");

    let tcp = tcp::bind_listener(g.listen).with_context(|| format!("binding TCP {}", g.listen))?;
    let addr = tcp.local_addr()?;
    let udp = UdpSocket::bind(addr)
        .await
        .with_context(|| format!("binding UDP {addr}"))?;
    let metrics_listener = TcpListener::bind(g.metrics)
        .await
        .with_context(|| format!("binding metrics address {}", g.metrics))?;
    let metrics_addr = metrics_listener.local_addr()?;

    // The core follows the journal; from this record on, this accounts file applies.
    let appender = journal.appender()?;
    let (now_secs, _) = clock_secs();
    appender
        .append(records::encode_setup(now_secs), |_| {})
        .context("journaling the accounts set-up")?;
    let engine = Arc::new(Engine::start(
        &config.core,
        &accounts,
        config.protocol.settings(),
        &g.data,
        journal.committed(),
        appender.clone(),
    )?);

    let decoder = FrameDecoder::new(g.max_frame_len)
        .tolerate_decimal_length(config.protocol.tolerate_decimal_length);
    let accounts = Arc::new(accounts);
    let receiver = Arc::new(Receiver::new(
        config.protocol.settings(),
        Arc::clone(&accounts),
        dedup,
        journal.appender()?,
    ));
    let limits = tcp::Limits {
        max_connections: g.max_connections,
        max_per_ip: g.max_connections_per_ip,
        first_frame: Duration::from_secs(g.first_frame_timeout_secs),
        idle: Duration::from_secs(g.idle_timeout_secs),
        max_frames_per_read: g.max_frames_per_read,
        garbage_limit: g.garbage_limit_bytes,
    };
    let console = match &config.console {
        Some(c) => {
            let reports = crate::report::Source {
                core: config.core.clone(),
                settings: config.protocol.settings(),
                accounts,
                journal: journal_dir.clone(),
            };
            Some(crate::console::start(c, &engine, reports).await?)
        }
        None => None,
    };
    let console_addr = console.as_ref().map(|c| c.addr);
    let stop = CancellationToken::new();
    let metrics_stop = CancellationToken::new();
    let tracker = TaskTracker::new();
    let metrics_task = tokio::spawn(m::serve_on(
        metrics_listener,
        handle,
        Some(Arc::clone(&engine)),
        metrics_stop.clone(),
    ));
    tracker.spawn(ticker(
        appender,
        Duration::from_secs(config.core.tick_secs),
        stop.clone(),
    ));
    tracker.spawn(tcp::accept_loop(
        tcp,
        Arc::clone(&receiver),
        decoder.clone(),
        limits,
        stop.clone(),
        tracker.clone(),
    ));
    tracker.spawn(udp::recv_loop(
        Arc::new(udp),
        receiver,
        decoder,
        stop.clone(),
        tracker.clone(),
    ));
    Ok(Running {
        addr,
        metrics_addr,
        journal_dir,
        data_dir: g.data.clone(),
        console_addr,
        console,
        stop,
        metrics_stop,
        tracker,
        journal,
        engine,
        metrics_task,
        journal_failed: Some(journal_failed),
    })
}

impl Running {
    /// Ordered shutdown: stop accepting and reading, let in-flight frames finish their commit
    /// and ACK (up to `grace`), close the journal (its last commit), then stop `/metrics`.
    pub async fn shutdown(self, grace: Duration) -> anyhow::Result<()> {
        if let Some(c) = self.console {
            c.stop();
        }
        self.stop.cancel();
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            error!("in-flight work did not finish within {grace:?}; exiting anyway");
            bail!("shutdown grace period of {grace:?} exceeded");
        }
        // Every appender is gone with the tasks (the engine's is dropped here): closing waits for
        // the last commit; then the core applies the rest and writes its snapshot.
        self.engine.stop_appending();
        let journal = self.journal;
        tokio::task::spawn_blocking(move || journal.close()).await?;
        self.metrics_stop.cancel();
        let _ = self.metrics_task.await;
        if let Ok(engine) = Arc::try_unwrap(self.engine) {
            tokio::task::spawn_blocking(move || engine.join()).await?;
        }
        info!("stopped cleanly");
        Ok(())
    }
}

impl Running {
    /// The core: commands and the read side.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }
}

/// Journals a clock tick every `every` for the core's timers (escalation, supervision).
async fn ticker(appender: Appender, every: Duration, stop: CancellationToken) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = interval.tick() => {
                let (now, _) = clock_secs();
                // A full queue skips this tick; the next one carries a later time.
                let _ = appender.try_append(records::encode_tick(now), |_| {});
            }
        }
    }
}

fn clock_secs() -> (u64, i64) {
    let (_, ms) = clock();
    (crate::engine::secs(ms), ms)
}

/// Re-inserts the keys of frames received within `window` (from the segments written within it).
fn rebuild_dedup(dedup: &Dedup, dir: &Path, window: Duration) -> anyhow::Result<usize> {
    let cutoff = SystemTime::now() - window;
    let cutoff_ms = i64::try_from(
        cutoff
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(0);
    // Segments last written before the cutoff hold only older records: skip them.
    let first_recent = vagt_journal::segments(dir)?
        .into_iter()
        .find(|s| s.modified.is_none_or(|t| t >= cutoff));
    let Some(first_recent) = first_recent else {
        return Ok(0);
    };
    let from = first_recent.base;
    let mut n = 0;
    for r in Reader::open(dir, from)? {
        let r = r?;
        if let Some(rec) = FrameRecord::decode(&r.payload)?
            && rec.meta.received_at_ms >= cutoff_ms
        {
            dedup.insert_committed(rec.dedup_key(), r.offset);
            n += 1;
        }
    }
    Ok(n)
}
