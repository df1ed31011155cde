//! Metric names (one place), their descriptions, and the `/metrics` HTTP endpoint.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use axum::routing::get;
use axum::{Json, Router};
use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio_util::sync::CancellationToken;

use crate::engine::Engine;

/// Frames by `type` (ID token, `*` when encrypted, `none` if unparsed) and `outcome`
/// (`ack`, `nak`, `duh`, `silent`, `duplicate`, `failed`).
pub const FRAMES: &str = "vagt_frames_total";
/// Receive → ACK written to the socket, seconds (accepted frames, incl. duplicates).
pub const ACK_LATENCY: &str = "vagt_ack_latency_seconds";
/// Journal batch write + fdatasync, seconds.
pub const JOURNAL_COMMIT: &str = "vagt_journal_commit_seconds";
/// Records per journal batch (group commit size).
pub const JOURNAL_BATCH: &str = "vagt_journal_batch_records";
/// Bytes appended to the journal.
pub const JOURNAL_BYTES: &str = "vagt_journal_bytes_total";
/// Records appended to the journal.
pub const JOURNAL_RECORDS: &str = "vagt_journal_records_total";
/// Open TCP connections.
pub const CONNECTIONS_OPEN: &str = "vagt_connections_open";
/// TCP connections accepted.
pub const CONNECTIONS: &str = "vagt_connections_total";
/// TCP connections refused or closed by a limit, by `reason` (`max_connections`, `per_ip`,
/// `first_frame_timeout`, `idle_timeout`, `garbage`, `shutdown`).
pub const DISCONNECTS: &str = "vagt_disconnects_total";
/// Decode errors by `kind` (`bad_crc`, `garbage`, `bad_sequence`, `time_window`, …).
pub const DECODE_ERRORS: &str = "vagt_decode_errors_total";
/// Retransmissions recognised by dedup (ACKed again, not stored).
pub const DEDUP_HITS: &str = "vagt_dedup_hits_total";
/// Frames from accounts not in the accounts file.
pub const UNKNOWN_ACCOUNT: &str = "vagt_unknown_account_frames_total";
/// UDP datagrams not answered because the journal queue was full (the device retransmits).
pub const UDP_SHED: &str = "vagt_udp_shed_total";

/// Open alarms by `state` and `priority` (set at scrape time).
pub const CORE_OPEN: &str = "vagt_core_alarms_open";
/// Seconds the oldest unclaimed alarm has waited (the key SLO; 0 when none waits).
pub const CORE_OLDEST_UNCLAIMED: &str = "vagt_core_oldest_unclaimed_seconds";
/// Journal bytes durable but not yet applied by the core.
pub const CORE_LAG: &str = "vagt_core_lag_bytes";
/// Alarms opened, by `priority`.
pub const CORE_OPENED: &str = "vagt_core_alarms_opened_total";
/// Further alarm events attached to an open alarm (repeat calls).
pub const CORE_REPEATS: &str = "vagt_core_repeat_events_total";
/// Escalations by missed `deadline` and new `level`.
pub const CORE_ESCALATIONS: &str = "vagt_core_escalations_total";
/// Opened → claimed, seconds.
pub const CORE_TIME_TO_CLAIM: &str = "vagt_core_time_to_claim_seconds";
/// Forwarded → responder on site, seconds.
pub const CORE_TIME_TO_ON_SITE: &str = "vagt_core_time_to_on_site_seconds";
/// Alarms closed, by `classification` (false, repeat and reassurance calls are the ones the
/// centre resolved itself).
pub const CORE_CLOSED: &str = "vagt_core_alarms_closed_total";
/// Supervised devices found silent.
pub const CORE_SUPERVISION_LOST: &str = "vagt_core_supervision_lost_total";
/// Accounts flagged as runaway.
pub const CORE_RUNAWAY: &str = "vagt_core_runaway_total";
/// Door-access grants given to responders.
pub const CORE_DOOR_GRANTS: &str = "vagt_core_door_grants_total";
/// Door webhook notices by `outcome` (delivered, retried, failed, dropped).
pub const CORE_DOOR_WEBHOOK: &str = "vagt_core_door_webhook_total";
/// Journal records the core could not read or decode, and failed snapshots.
pub const CORE_FEED_ERRORS: &str = "vagt_core_feed_errors_total";

const SLA_BUCKETS: &[f64] = &[
    5.0, 15.0, 30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0,
];

const LATENCY_BUCKETS: &[f64] = &[
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
const BATCH_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder once per process and describes every metric.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    // Two gateways starting at once in one process (tests) must not both try to install.
    static INSTALLING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = INSTALLING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(ACK_LATENCY.into()), LATENCY_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(JOURNAL_COMMIT.into()), LATENCY_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(JOURNAL_BATCH.into()), BATCH_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(CORE_TIME_TO_CLAIM.into()), SLA_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(CORE_TIME_TO_ON_SITE.into()), SLA_BUCKETS)?
        .install_recorder()
        .context("installing the metrics recorder")?;
    describe_counter!(FRAMES, "DC-09 frames by type and outcome");
    describe_histogram!(ACK_LATENCY, Unit::Seconds, "receive to ACK written");
    describe_histogram!(
        JOURNAL_COMMIT,
        Unit::Seconds,
        "journal batch write + fdatasync"
    );
    describe_histogram!(JOURNAL_BATCH, Unit::Count, "records per journal batch");
    describe_counter!(JOURNAL_BYTES, Unit::Bytes, "bytes appended to the journal");
    describe_counter!(JOURNAL_RECORDS, "records appended to the journal");
    describe_gauge!(CONNECTIONS_OPEN, "open TCP connections");
    describe_counter!(CONNECTIONS, "TCP connections accepted");
    describe_counter!(
        DISCONNECTS,
        "connections refused or closed by a limit, by reason"
    );
    describe_counter!(DECODE_ERRORS, "frames refused or bytes discarded, by kind");
    describe_counter!(
        DEDUP_HITS,
        "retransmissions acknowledged again without a new record"
    );
    describe_counter!(
        UNKNOWN_ACCOUNT,
        "frames from accounts not in the accounts file"
    );
    describe_counter!(
        UDP_SHED,
        "UDP datagrams left unanswered because the journal queue was full"
    );
    describe_gauge!(CORE_OPEN, "open alarms by state and priority");
    describe_gauge!(
        CORE_OLDEST_UNCLAIMED,
        Unit::Seconds,
        "age of the oldest alarm nobody has claimed"
    );
    describe_gauge!(
        CORE_LAG,
        Unit::Bytes,
        "journal bytes not yet applied by the core"
    );
    describe_counter!(CORE_OPENED, "alarms opened, by priority");
    describe_counter!(CORE_REPEATS, "alarm events attached to an open alarm");
    describe_counter!(CORE_ESCALATIONS, "escalations by missed deadline and level");
    describe_histogram!(CORE_TIME_TO_CLAIM, Unit::Seconds, "opened to claimed");
    describe_histogram!(
        CORE_TIME_TO_ON_SITE,
        Unit::Seconds,
        "forwarded to responder on site"
    );
    describe_counter!(CORE_CLOSED, "alarms closed, by classification");
    describe_counter!(CORE_SUPERVISION_LOST, "supervised devices found silent");
    describe_counter!(CORE_RUNAWAY, "accounts flagged as runaway");
    describe_counter!(CORE_DOOR_GRANTS, "door-access grants given to responders");
    describe_counter!(
        CORE_DOOR_WEBHOOK,
        "door grant/revoke notices to the lock vendor's webhook, by outcome"
    );
    describe_counter!(
        CORE_FEED_ERRORS,
        "journal records the core could not read or decode; failed snapshots"
    );
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
                e.refresh_gauges(crate::engine::secs(crate::receiver::clock().1));
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
