//! The operations endpoint (plain HTTP, meant for loopback or the monitoring network): the
//! Prometheus recorder for every crate's metrics, and `GET /metrics`, `/healthz`, `/readyz`,
//! `/core`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio_util::sync::CancellationToken;
use vagt_engine::Engine;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder once per process (buckets and descriptions from the crates
/// that emit the metrics).
pub fn install() -> anyhow::Result<PrometheusHandle> {
    // Two gateways starting at once in one process (tests) must not both try to install.
    static INSTALLING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = INSTALLING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let mut builder = PrometheusBuilder::new();
    for (name, buckets) in vagt_ingest::metrics::HISTOGRAMS
        .iter()
        .chain(vagt_engine::metrics::HISTOGRAMS)
        .chain(vagt_cluster::metrics::HISTOGRAMS)
    {
        builder = builder.set_buckets_for_metric(Matcher::Full((*name).into()), buckets)?;
    }
    let handle = builder
        .install_recorder()
        .context("installing the metrics recorder")?;
    vagt_ingest::metrics::describe();
    vagt_engine::metrics::describe();
    Ok(HANDLE.get_or_init(|| handle).clone())
}

/// What `/readyz` checks besides the engine: the journal still takes records.
#[derive(Clone, Debug, Default)]
pub struct Health {
    /// Set when a journal write or fsync failed (the process is stopping).
    pub journal_failed: Arc<AtomicBool>,
}

/// Serves the operations endpoints on a bound listener until `stop` is cancelled:
/// `GET /metrics` (Prometheus), `GET /healthz` (the process answers), `GET /readyz` (the journal
/// takes records, the listeners are bound, the core has replayed the journal: 200, else 503
/// with the reason) and `GET /core` (how far the core has applied the journal, JSON). No alarm
/// or citizen data is served here: it is unauthenticated (`vagt alarms` and the console have
/// it).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    handle: PrometheusHandle,
    engine: Option<Arc<Engine>>,
    health: Health,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let upkeep = handle.clone();
    let upkeep_stop = stop.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                _ = upkeep_stop.cancelled() => break,
                _ = tick.tick() => upkeep.run_upkeep(),
            }
        }
    });
    let for_metrics = engine.clone();
    let for_ready = engine.clone();
    let mut app = Router::new()
        .route(
            "/metrics",
            get(move || {
                if let Some(e) = &for_metrics {
                    e.refresh_gauges(vagt_records::time::now_secs());
                }
                std::future::ready(handle.render())
            }),
        )
        .route("/healthz", get(|| std::future::ready("ok\n")))
        .route(
            "/readyz",
            get(move || std::future::ready(readiness(for_ready.as_deref(), &health))),
        );
    if let Some(engine) = engine {
        app = app.route(
            "/core",
            get(move || std::future::ready(Json(engine.status()))),
        );
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await?;
    Ok(())
}

/// `/readyz`: 200 when the gateway should get traffic, 503 and why not.
fn readiness(engine: Option<&Engine>, health: &Health) -> (StatusCode, String) {
    if health.journal_failed.load(Ordering::Acquire) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the journal failed (stopping to be restarted)\n".into(),
        );
    }
    if let Some(e) = engine
        && !e.caught_up()
    {
        let st = e.status();
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "not ready: the core is replaying the journal ({} of {} bytes)\n",
                st.applied, st.journal_end
            ),
        );
    }
    (StatusCode::OK, "ready\n".into())
}
