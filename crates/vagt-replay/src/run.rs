//! Runs a fleet: one task per device on a multi-threaded runtime, with a progress line.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::device::{self, Acked, Counts, DeviceConfig, Progress, Step};
use crate::report::Report;
use crate::scenario::{Connection, Scenario, Transport};

/// The outcome of a run.
#[derive(Debug)]
pub struct Outcome {
    /// The report.
    pub report: Report,
    /// Every ACKed message (for `--verify-journal`).
    pub acked: Vec<Acked>,
}

/// One device and what it sends when.
pub type Plan = (DeviceConfig, Vec<(Duration, Step)>);

/// Runs `scenario` against `target`.
pub fn run(scenario: &Scenario, target: SocketAddr) -> anyhow::Result<Outcome> {
    let plans = (0..scenario.fleet.devices)
        .map(|i| {
            let steps = scenario
                .plan(i)
                .into_iter()
                .map(|p| (p.at, Step::Build(p.kind)))
                .collect();
            Ok((DeviceConfig::of(scenario, i, target)?, steps))
        })
        .collect::<anyhow::Result<Vec<Plan>>>()?;
    let transport = match (scenario.transport, scenario.connection) {
        (Transport::Udp, _) => "udp",
        (Transport::Tcp, Connection::Persistent) => "tcp, persistent",
        (Transport::Tcp, Connection::PerMessage) => "tcp, connection per message",
    };
    run_plans(&scenario.name, target, transport, plans)
}

/// Runs every device's plan and waits for all of them.
pub fn run_plans(
    name: &str,
    target: SocketAddr,
    transport: &str,
    plans: Vec<Plan>,
) -> anyhow::Result<Outcome> {
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let devices = plans.len();
    let total: usize = plans.iter().map(|(_, s)| s.len()).sum();
    let progress = Arc::new(Progress::default());
    let started = Instant::now();
    let results = rt.block_on(async {
        // Every device task exists before the plans' clock starts.
        let start = tokio::time::Instant::now() + Duration::from_millis(200);
        let tasks: Vec<_> = plans
            .into_iter()
            .map(|(config, steps)| {
                tokio::spawn(device::run(config, steps, start, Arc::clone(&progress)))
            })
            .collect();
        let ticker = std::io::stderr().is_terminal().then(|| {
            let progress = Arc::clone(&progress);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(250));
                loop {
                    tick.tick().await;
                    let (sent, acked) = (
                        progress.sent.load(Ordering::Relaxed),
                        progress.acked.load(Ordering::Relaxed),
                    );
                    eprint!("\r  {sent}/{total} sent, {acked} acked   ");
                }
            })
        });
        let mut results = Vec::with_capacity(tasks.len());
        for t in tasks {
            results.push(t.await);
        }
        if let Some(t) = ticker {
            t.abort();
            eprint!("\r{:60}\r", "");
        }
        results
    });
    let wall = started.elapsed();
    let mut counts = Counts::default();
    let mut acked = Vec::new();
    for r in results {
        let r = r.context("a device task failed")??;
        counts.add(&r.counts);
        acked.extend(r.acked);
    }
    let report = Report::new(
        (
            name.to_owned(),
            target.to_string(),
            transport.to_owned(),
            devices,
        ),
        wall,
        counts,
        &acked,
    );
    Ok(Outcome { report, acked })
}
