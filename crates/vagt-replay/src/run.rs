//! Runs a whole fleet: one task per device on a multi-threaded runtime.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::device::{self, Acked, Counts};
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

/// Runs `scenario` against `target` and waits for every device to finish its plan.
pub fn run(scenario: Scenario, target: SocketAddr) -> anyhow::Result<Outcome> {
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let scenario = Arc::new(scenario);
    let started = Instant::now();
    let results = rt.block_on(async {
        // Every device task exists before the plan's clock starts.
        let start = tokio::time::Instant::now() + Duration::from_millis(200);
        let tasks: Vec<_> = (0..scenario.fleet.devices)
            .map(|i| tokio::spawn(device::run(Arc::clone(&scenario), i, target, start)))
            .collect();
        let mut results = Vec::with_capacity(tasks.len());
        for t in tasks {
            results.push(t.await);
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
    let transport = match (scenario.transport, scenario.connection) {
        (Transport::Udp, _) => "udp",
        (Transport::Tcp, Connection::Persistent) => "tcp, persistent",
        (Transport::Tcp, Connection::PerMessage) => "tcp, connection per message",
    };
    let report = Report::new(
        (
            scenario.name.clone(),
            target.to_string(),
            transport.into(),
            scenario.fleet.devices,
        ),
        wall,
        counts,
        &acked,
    );
    Ok(Outcome { report, acked })
}
