//! Metric names (one place), their descriptions, and the `/metrics` HTTP endpoint.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::routing::get;
use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio_util::sync::CancellationToken;

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

const LATENCY_BUCKETS: &[f64] = &[
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
const BATCH_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder once per process and describes every metric.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(ACK_LATENCY.into()), LATENCY_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(JOURNAL_COMMIT.into()), LATENCY_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(JOURNAL_BATCH.into()), BATCH_BUCKETS)?
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
    Ok(HANDLE.get_or_init(|| handle).clone())
}

/// Serves `GET /metrics` on `addr` until `stop` is cancelled; runs the exporter's upkeep.
pub async fn serve(
    addr: SocketAddr,
    handle: PrometheusHandle,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding metrics address {addr}"))?;
    serve_on(listener, handle, stop).await
}

/// Serves `/metrics` on a bound listener.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    handle: PrometheusHandle,
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
    let app = Router::new().route("/metrics", get(move || std::future::ready(handle.render())));
    axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await?;
    Ok(())
}
