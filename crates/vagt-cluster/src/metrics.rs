//! The cluster's metric names (nothing personal in any of them).

/// Acknowledgements released, by `mode`: `replicated` (local fsync + PostgreSQL commit) or
/// `degraded` (local fsync alone).
pub const ACKS: &str = "vagt_cluster_acks_total";
/// 1 while the node acknowledges on its local fsync alone.
pub const DEGRADED: &str = "vagt_cluster_degraded";
/// 1 while the node holds the leader lease.
pub const LEADER: &str = "vagt_cluster_leader";
/// Local records committed into PostgreSQL.
pub const SHIPPED: &str = "vagt_cluster_shipped_records_total";
/// Failed shipping transactions (each is retried).
pub const SHIP_ERRORS: &str = "vagt_cluster_ship_errors_total";
/// Bytes of the local journal not yet in PostgreSQL.
pub const UNSHIPPED_BYTES: &str = "vagt_cluster_unshipped_bytes";
/// Seconds from sending a group to PostgreSQL to its commit (the synchronous standby's flush
/// included) or its failure (a timeout included): what a replicated ACK waits for after the
/// local fsync.
pub const SHIP_SECONDS: &str = "vagt_cluster_ship_seconds";
/// Records per shipped group (one transaction each).
pub const SHIP_GROUP: &str = "vagt_cluster_ship_group_records";

/// Buckets of the cluster's histograms.
pub const HISTOGRAMS: &[(&str, &[f64])] = &[
    (
        SHIP_SECONDS,
        &[
            0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ],
    ),
    (
        SHIP_GROUP,
        &[
            1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0,
        ],
    ),
];
