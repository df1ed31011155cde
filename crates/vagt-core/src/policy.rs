//! Escalation policy: deadlines per priority and per shift, in local time.

use serde::{Deserialize, Serialize};

/// A part of the day with its own staffing and promises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shift {
    /// 07:00–15:00 local.
    Day,
    /// 15:00–23:00 local.
    Evening,
    /// 23:00–07:00 local.
    Night,
}

/// Deadlines and limits (one set for normal staffing, one for emergency staffing). In a
/// configuration file every key is optional (the default applies) and unknown keys are errors.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Seconds an alarm may wait unclaimed, by priority 1…5.
    pub claim_within_secs: [u64; 5],
    /// Seconds an operator may hold an alarm before resolving or forwarding it.
    pub handle_within_secs: u64,
    /// Seconds a responder has to accept a forwarded alarm.
    pub accept_within_secs: u64,
    /// Promised time on site from forwarding, day and evening shifts (30 min).
    pub on_site_day_evening_secs: u64,
    /// Promised time on site from forwarding, night shift (60 min).
    pub on_site_night_secs: u64,
    /// Seconds a visit may stay open after arrival.
    pub close_within_secs: u64,
    /// A restore cancels an alarm nobody has claimed yet.
    pub cancel_unclaimed_on_restore: bool,
    /// Seconds of grace after a supervision interval before the device counts as silent.
    pub supervision_grace_secs: u64,
    /// More than this many alarm events …
    pub runaway_events: usize,
    /// … within this many seconds flags the account.
    pub runaway_window_secs: u64,
    /// Local time = UTC + this offset (seconds). A fixed offset: daylight-saving changes are
    /// not applied yet.
    pub utc_offset_secs: i64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            claim_within_secs: [60, 120, 300, 900, 1800],
            handle_within_secs: 600,
            accept_within_secs: 300,
            on_site_day_evening_secs: 30 * 60,
            on_site_night_secs: 60 * 60,
            close_within_secs: 2 * 3600,
            cancel_unclaimed_on_restore: true,
            supervision_grace_secs: 60,
            runaway_events: 20,
            runaway_window_secs: 3600,
            utc_offset_secs: 3600,
        }
    }
}

impl Policy {
    /// Checks the values make sense; names the first that does not.
    pub fn validate(&self) -> Result<(), String> {
        let checks = [
            (
                "claim_within_secs",
                self.claim_within_secs.iter().all(|s| *s > 0),
            ),
            ("handle_within_secs", self.handle_within_secs > 0),
            ("accept_within_secs", self.accept_within_secs > 0),
            (
                "on_site_day_evening_secs",
                self.on_site_day_evening_secs > 0,
            ),
            ("on_site_night_secs", self.on_site_night_secs > 0),
            ("close_within_secs", self.close_within_secs > 0),
            ("runaway_events", self.runaway_events > 0),
            ("runaway_window_secs", self.runaway_window_secs > 0),
            ("utc_offset_secs", self.utc_offset_secs.abs() <= 14 * 3600),
        ];
        match checks.iter().find(|(_, ok)| !ok) {
            Some((name, _)) => Err(format!("{name} is out of range")),
            None => Ok(()),
        }
    }

    /// The shift at `now` (seconds since the Unix epoch, UTC).
    pub fn shift_at(&self, now: u64) -> Shift {
        let local = i64::try_from(now)
            .unwrap_or(i64::MAX)
            .saturating_add(self.utc_offset_secs);
        match local.rem_euclid(86_400) / 3_600 {
            7..=14 => Shift::Day,
            15..=22 => Shift::Evening,
            _ => Shift::Night,
        }
    }

    /// Seconds an alarm of `priority` may wait unclaimed.
    pub fn claim_within(&self, priority: u8) -> u64 {
        let i = usize::from(priority.clamp(1, 5) - 1);
        self.claim_within_secs.get(i).copied().unwrap_or(60)
    }

    /// The promised time on site for a visit forwarded at `at`.
    pub fn on_site_within(&self, at: u64) -> u64 {
        match self.shift_at(at) {
            Shift::Night => self.on_site_night_secs,
            Shift::Day | Shift::Evening => self.on_site_day_evening_secs,
        }
    }
}
