//! The operations endpoint (plain HTTP, meant for loopback or the monitoring network): the
//! Prometheus recorder for every crate's metrics, and `GET /metrics`, `/alarms`, `/core`.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
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

/// Serves the operations endpoints on a bound listener until `stop` is cancelled:
/// `GET /metrics` (Prometheus), and with the core running `GET /alarms` (open alarms, most urgent
/// first, JSON) and `GET /core` (how far the core has applied the journal, JSON).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    handle: PrometheusHandle,
    engine: Option<Arc<Engine>>,
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
    let mut app = Router::new().route(
        "/metrics",
        get(move || {
            if let Some(e) = &for_metrics {
                e.refresh_gauges(vagt_records::time::now_secs());
            }
            std::future::ready(handle.render())
        }),
    );
    if let Some(engine) = engine {
        let e = Arc::clone(&engine);
        app = app
            .route(
                "/alarms",
                get(move || std::future::ready(Json(e.open_alarms()))),
            )
            .route(
                "/core",
                get(move || std::future::ready(Json(engine.status()))),
            );
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await?;
    Ok(())
}
