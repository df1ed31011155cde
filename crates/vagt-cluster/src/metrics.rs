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
