//! Door-access grants delivered to the lock vendor: every grant and revocation the core makes
//! live is POSTed as JSON to a configured webhook, from its own thread (a slow or failing vendor
//! never holds up a shard).
//!
//! Delivery is retried with back-off; what still fails is logged and counted
//! (`vagt_core_door_webhook_total{outcome="failed"}`). The journal remains the record of every
//! grant: a grant made while the gateway was down is not sent again on replay.

use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use metrics::counter;
use serde::{Deserialize, Serialize};
use tracing::{info, warn};
use vagt_core::{AlarmId, ChangeKind, Shard};

use crate::metrics as m;

/// `[core.door_webhook]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoorWebhook {
    /// `http://` or `https://` URL the notices are POSTed to.
    pub url: String,
    /// Sent as `Authorization: Bearer <token>`, if set.
    #[serde(default)]
    pub token: Option<String>,
    /// Seconds one attempt may take.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Attempts after the first (1 s, 2 s, 4 s … apart).
    #[serde(default = "default_retries")]
    pub retries: u32,
}

fn default_timeout() -> u64 {
    5
}

fn default_retries() -> u32 {
    3
}

impl DoorWebhook {
    /// Checks the settings; names what is wrong.
    pub fn validate(&self) -> anyhow::Result<()> {
        let scheme_ok = self.url.starts_with("http://") || self.url.starts_with("https://");
        anyhow::ensure!(
            scheme_ok,
            "core.door_webhook.url must start with http:// or https:// (got {:?})",
            self.url
        );
        anyhow::ensure!(
            (1..=60).contains(&self.timeout_secs),
            "core.door_webhook.timeout_secs must be 1..=60"
        );
        anyhow::ensure!(
            self.retries <= 10,
            "core.door_webhook.retries must be at most 10"
        );
        Ok(())
    }
}

/// What the vendor receives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoorNotice {
    /// `granted` or `revoked`.
    pub event: String,
    /// The alarm the grant belongs to.
    pub alarm: AlarmId,
    /// The citizen's account.
    pub account: String,
    /// The lock.
    pub lock: String,
    /// Who may open it (grants only).
    pub to: Option<String>,
    /// Valid until, seconds since the Unix epoch (grants only).
    pub until: Option<u64>,
    /// When the core made the change, seconds since the Unix epoch.
    pub at: u64,
}

impl DoorNotice {
    /// The notice for a change, if it is a door change.
    pub fn of(shard: &Shard, kind: &ChangeKind, at: u64) -> Option<Self> {
        let (event, alarm, lock, to, until) = match kind {
            ChangeKind::DoorGranted { alarm, grant } => (
                "granted",
                *alarm,
                grant.lock.clone(),
                Some(grant.to.clone()),
                Some(grant.until),
            ),
            ChangeKind::DoorRevoked { alarm, lock } => {
                ("revoked", *alarm, lock.clone(), None, None)
            }
            _ => return None,
        };
        Some(Self {
            event: event.into(),
            alarm,
            account: shard.alarm(alarm).map(|a| a.account.clone())?,
            lock,
            to,
            until,
            at,
        })
    }
}

/// The queue to the delivery thread.
#[derive(Clone, Debug)]
pub struct DoorQueue(Sender<DoorNotice>);

impl DoorQueue {
    /// Queues a notice; never blocks a shard (a full queue drops it, logged and counted).
    pub fn send(&self, notice: DoorNotice) {
        match self.0.try_send(notice) {
            Ok(()) => {}
            Err(TrySendError::Full(n)) => {
                warn!(alarm = n.alarm.0, lock = %n.lock, "door webhook queue full; notice dropped");
                counter!(m::CORE_DOOR_WEBHOOK, "outcome" => "dropped").increment(1);
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

/// Starts the delivery thread; it ends when every [`DoorQueue`] is dropped and the queue is
/// delivered.
///
/// `leads` says whether this node may deliver now (a cluster's leader; always true when
/// embedded): a notice made while it is false is not sent by this node — the leader's core
/// made the same notice and sends it.
pub fn start(
    config: DoorWebhook,
    leads: crate::Leads,
) -> anyhow::Result<(DoorQueue, JoinHandle<()>)> {
    let (tx, rx) = crossbeam_channel::bounded(10_000);
    let thread = std::thread::Builder::new()
        .name("vagt-door-webhook".into())
        .spawn(move || deliver_all(&config, &rx, &leads))
        .context("starting the door webhook thread")?;
    Ok((DoorQueue(tx), thread))
}

fn deliver_all(config: &DoorWebhook, rx: &Receiver<DoorNotice>, leads: &crate::Leads) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(config.timeout_secs)))
        .http_status_as_error(true)
        .build()
        .into();
    for notice in rx {
        if !leads() {
            counter!(m::CORE_DOOR_WEBHOOK, "outcome" => "not_leader").increment(1);
            continue;
        }
        let mut attempt = 0;
        loop {
            // Before every attempt: a node that lost the lease while retrying stops sending.
            if attempt > 0 && !leads() {
                counter!(m::CORE_DOOR_WEBHOOK, "outcome" => "not_leader").increment(1);
                break;
            }
            match post(&agent, config, &notice) {
                Ok(()) => {
                    info!(alarm = notice.alarm.0, lock = %notice.lock, event = %notice.event, "door webhook delivered");
                    counter!(m::CORE_DOOR_WEBHOOK, "outcome" => "delivered").increment(1);
                    break;
                }
                Err(e) if attempt < config.retries => {
                    counter!(m::CORE_DOOR_WEBHOOK, "outcome" => "retried").increment(1);
                    warn!(
                        alarm = notice.alarm.0,
                        "door webhook attempt {} failed: {e}; retrying",
                        attempt + 1
                    );
                    std::thread::sleep(Duration::from_secs(1 << attempt.min(5)));
                    attempt += 1;
                }
                Err(e) => {
                    counter!(m::CORE_DOOR_WEBHOOK, "outcome" => "failed").increment(1);
                    warn!(alarm = notice.alarm.0, lock = %notice.lock, "door webhook failed for good: {e}");
                    break;
                }
            }
        }
    }
}

fn post(agent: &ureq::Agent, config: &DoorWebhook, notice: &DoorNotice) -> Result<(), ureq::Error> {
    let mut request = agent.post(&config.url);
    if let Some(token) = &config.token {
        request = request.header("Authorization", &format!("Bearer {token}"));
    }
    request.send_json(notice).map(|_| ())
}
