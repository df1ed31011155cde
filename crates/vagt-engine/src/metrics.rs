//! The engine's metrics: names, descriptions and histogram buckets. Label values are fixed
//! names (states, priorities, shifts, classifications), never anything personal.

use std::sync::OnceLock;

use metrics::{Counter, Unit, counter, describe_counter, describe_gauge, describe_histogram};

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

/// Buckets of the SLA histograms (seconds).
pub const SLA_BUCKETS: &[f64] = &[
    5.0, 15.0, 30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0,
];

/// Histograms with their buckets, for the recorder.
pub const HISTOGRAMS: &[(&str, &[f64])] = &[
    (CORE_TIME_TO_CLAIM, SLA_BUCKETS),
    (CORE_TIME_TO_ON_SITE, SLA_BUCKETS),
];

/// Describes every metric of the engine.
pub fn describe() {
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
}

/// The counters a shard bumps for most inputs, each looked up in the registry once (on first
/// use, so a series appears when it first counts): a registry look-up with a label costs more
/// than the rest of counting an opened alarm.
#[derive(Default)]
pub(crate) struct ShardCounters {
    /// `vagt_core_alarms_opened_total` by priority 0–9 (priorities are 1–5 by default).
    opened: [OnceLock<Counter>; 10],
    repeats: OnceLock<Counter>,
}

impl ShardCounters {
    /// Counts an alarm opened with `priority`.
    pub(crate) fn opened(&self, priority: u8) {
        match self.opened.get(usize::from(priority)) {
            Some(cell) => cell
                .get_or_init(|| counter!(CORE_OPENED, "priority" => priority.to_string()))
                .increment(1),
            None => counter!(CORE_OPENED, "priority" => priority.to_string()).increment(1),
        }
    }

    /// Counts an event attached to an open alarm.
    pub(crate) fn repeat(&self) {
        self.repeats
            .get_or_init(|| counter!(CORE_REPEATS))
            .increment(1);
    }
}
