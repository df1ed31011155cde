//! The ACK path's metrics: names (one place), descriptions and histogram buckets.
//!
//! The binary installs the Prometheus recorder and calls [`describe`]; the code here only
//! emits. No label value here comes from a peer except the frame's ID token, which the protocol
//! restricts to a handful of names; nothing personal is ever a label.

use std::sync::OnceLock;

use metrics::{
    Counter, Unit, counter, describe_counter, describe_gauge, describe_histogram, histogram,
};
use vagt_journal::CommitStats;

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
/// `first_frame_timeout`, `frame_timeout`, `idle_timeout`, `write_timeout`, `garbage`,
/// `read_error`, `write_error`, `shutdown`).
pub const DISCONNECTS: &str = "vagt_disconnects_total";
/// TCP connections slowed down because they sent more than a device's worth of garbage since
/// their last valid frame (counted once per connection; see the README's limits).
pub const TARPITTED: &str = "vagt_tarpitted_connections_total";
/// Decode errors by `kind` (`bad_crc`, `garbage`, `bad_sequence`, `time_window`, …).
pub const DECODE_ERRORS: &str = "vagt_decode_errors_total";
/// Retransmissions recognised by dedup (ACKed again, not stored).
pub const DEDUP_HITS: &str = "vagt_dedup_hits_total";
/// Times the dedup window was rotated before its time because it held `dedup.max_keys`.
pub const DEDUP_EARLY_ROTATIONS: &str = "vagt_dedup_early_rotations_total";
/// Frames from accounts not in the accounts file.
pub const UNKNOWN_ACCOUNT: &str = "vagt_unknown_account_frames_total";
/// UDP datagrams not answered because the journal queue was full (the device retransmits).
pub const UDP_SHED: &str = "vagt_udp_shed_total";

/// Buckets of the latency histograms (seconds).
pub const LATENCY_BUCKETS: &[f64] = &[
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
/// Buckets of the batch-size histogram (records).
pub const BATCH_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0,
];

/// The `type` label values: the protocol's own ID tokens (`*` when encrypted), then `other`,
/// `*other` and `none` (unparsed). Only these become label values — any other token a peer
/// sends is `other` — so a peer can never grow the metric registry.
const TYPES: [&str; 13] = [
    "SIA-DCS", "*SIA-DCS", "ADM-CID", "*ADM-CID", "NULL", "*NULL", "ACK", "NAK", "DUH", "RSP",
    "*other", "other", "none",
];

/// A frame's `type` label, as an index into the label values (see [`FrameType::label`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameType(usize);

impl FrameType {
    /// Frames whose header did not parse.
    pub const NONE: Self = Self(TYPES.len() - 1);

    /// The type of a frame with this header.
    pub fn of(header: &vagt_dc09::Header) -> Self {
        use vagt_dc09::Token;
        Self(match (header.encrypted, &header.token) {
            (false, Token::SiaDcs) => 0,
            (true, Token::SiaDcs) => 1,
            (false, Token::AdmCid) => 2,
            (true, Token::AdmCid) => 3,
            (false, Token::Null) => 4,
            (true, Token::Null) => 5,
            (false, Token::Ack) => 6,
            (false, Token::Nak) => 7,
            (false, Token::Duh) => 8,
            (false, Token::Rsp) => 9,
            (true, _) => 10,
            (false, _) => 11,
        })
    }

    /// The label value.
    pub fn label(self) -> &'static str {
        TYPES.get(self.0).copied().unwrap_or("other")
    }
}

/// A frame's `outcome` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Acknowledged after its record was durable.
    Ack,
    /// Refused with a NAK.
    Nak,
    /// Refused with a DUH.
    Duh,
    /// Not answered.
    Silent,
    /// A retransmission, acknowledged again.
    Duplicate,
    /// Not durable: not answered.
    Failed,
}

impl Outcome {
    const ALL: [Self; 6] = [
        Self::Ack,
        Self::Nak,
        Self::Duh,
        Self::Silent,
        Self::Duplicate,
        Self::Failed,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::Ack => "ack",
            Self::Nak => "nak",
            Self::Duh => "duh",
            Self::Silent => "silent",
            Self::Duplicate => "duplicate",
            Self::Failed => "failed",
        }
    }
}

/// `vagt_frames_total` by type and outcome, each handle looked up in the registry once, on its
/// first use (a series appears when it first counts, as before): the ACK path counts every
/// frame, and a registry look-up with labels costs more than the rest of the count.
pub struct FrameCounters {
    cells: [[OnceLock<Counter>; Outcome::ALL.len()]; TYPES.len()],
}

impl Default for FrameCounters {
    fn default() -> Self {
        Self {
            cells: std::array::from_fn(|_| std::array::from_fn(|_| OnceLock::new())),
        }
    }
}

impl FrameCounters {
    /// Counts one frame.
    pub fn count(&self, ty: FrameType, outcome: Outcome) {
        let Some(cell) = self
            .cells
            .get(ty.0)
            .and_then(|row| row.get(outcome as usize))
        else {
            return;
        };
        cell.get_or_init(|| counter!(FRAMES, "type" => ty.label(), "outcome" => outcome.label()))
            .increment(1);
    }
}

/// Histograms with their buckets, for the recorder.
pub const HISTOGRAMS: &[(&str, &[f64])] = &[
    (ACK_LATENCY, LATENCY_BUCKETS),
    (JOURNAL_COMMIT, LATENCY_BUCKETS),
    (JOURNAL_BATCH, BATCH_BUCKETS),
];

/// Describes every metric of the ACK path.
pub fn describe() {
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
    describe_counter!(
        TARPITTED,
        "connections read at most once per pause after sending garbage"
    );
    describe_counter!(DECODE_ERRORS, "frames refused or bytes discarded, by kind");
    describe_counter!(
        DEDUP_HITS,
        "retransmissions acknowledged again without a new record"
    );
    describe_counter!(
        DEDUP_EARLY_ROTATIONS,
        "dedup window rotated early because it held dedup.max_keys"
    );
    describe_counter!(
        UNKNOWN_ACCOUNT,
        "frames from accounts not in the accounts file"
    );
    describe_counter!(
        UDP_SHED,
        "UDP datagrams left unanswered because the journal queue was full"
    );
}

/// Records one group commit (the journal's `on_commit` hook, on its writer thread).
pub fn journal_commit(s: &CommitStats) {
    histogram!(JOURNAL_COMMIT).record(s.write_and_sync.as_secs_f64());
    histogram!(JOURNAL_BATCH).record(s.records as f64);
    counter!(JOURNAL_BYTES).increment(s.bytes as u64);
    counter!(JOURNAL_RECORDS).increment(s.records as u64);
}
