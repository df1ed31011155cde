//! Escalation policy: deadlines per priority and per shift, in the centre's local time
//! (an IANA time zone, daylight-saving changes included).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A part of the day with its own staffing and promises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shift {
    /// From `shift_starts[0]` (07:00 local by default).
    Day,
    /// From `shift_starts[1]` (15:00).
    Evening,
    /// From `shift_starts[2]` (23:00) to the next day's start.
    Night,
}

impl Shift {
    /// `day`, `evening` or `night`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Evening => "evening",
            Self::Night => "night",
        }
    }
}

/// The centre's time zone, by IANA name (the database is built in, so a host without
/// `/usr/share/zoneinfo` gives the same answers).
#[derive(Clone, Debug)]
pub struct Zone {
    name: String,
    tz: jiff::tz::TimeZone,
}

impl Zone {
    /// The zone called `name` (e.g. `Europe/Copenhagen`).
    pub fn named(name: &str) -> Result<Self, String> {
        let tz = jiff::tz::TimeZone::get(name).map_err(|e| {
            format!(
                "unknown time zone {name:?} (use an IANA name such as \"Europe/Copenhagen\"): {e}"
            )
        })?;
        Ok(Self {
            name: name.to_owned(),
            tz,
        })
    }

    /// Its IANA name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `secs` (since the Unix epoch) as local time, RFC 3339 with the offset
    /// (`2024-05-01T14:00:00+02:00`).
    pub fn rfc3339(&self, secs: u64) -> String {
        let utc = i64::try_from(secs).unwrap_or(i64::MAX);
        jiff::Timestamp::from_second(utc).map_or_else(
            |_| String::new(),
            |t| {
                t.to_zoned(self.tz.clone())
                    .strftime("%Y-%m-%dT%H:%M:%S%:z")
                    .to_string()
            },
        )
    }

    /// The local calendar day of `secs`, `YYYY-MM-DD`.
    pub fn date(&self, secs: u64) -> String {
        self.rfc3339(secs).chars().take(10).collect()
    }

    /// When local month `month` (1–12) of `year` starts, in seconds since the Unix epoch.
    pub fn month_start(&self, year: i16, month: i8) -> Result<u64, String> {
        let start = jiff::civil::Date::new(year, month, 1)
            .map_err(|e| e.to_string())?
            .at(0, 0, 0, 0)
            .to_zoned(self.tz.clone())
            .map_err(|e| e.to_string())?;
        u64::try_from(start.timestamp().as_second()).map_err(|e| e.to_string())
    }

    /// Seconds since local midnight at `now` (seconds since the Unix epoch).
    pub fn second_of_day(&self, now: u64) -> u64 {
        let utc = i64::try_from(now).unwrap_or(i64::MAX);
        let offset = jiff::Timestamp::from_second(utc)
            .map(|t| i64::from(self.tz.to_offset(t).seconds()))
            .unwrap_or(0);
        utc.saturating_add(offset).rem_euclid(86_400).unsigned_abs()
    }
}

impl Default for Zone {
    fn default() -> Self {
        Self::named("Europe/Copenhagen").unwrap_or_else(|_| Self {
            name: "UTC".into(),
            tz: jiff::tz::TimeZone::UTC,
        })
    }
}

impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Zone {}

impl Serialize for Zone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}

impl<'de> Deserialize<'de> for Zone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Self::named(&name).map_err(serde::de::Error::custom)
    }
}

/// Deadlines and limits (one set for normal staffing, one for emergency staffing). In a
/// configuration file every key is optional (the default applies) and unknown keys are errors.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Seconds an alarm may wait unclaimed, by priority 1…5 (day shift, and any shift without
    /// its own list).
    pub claim_within_secs: [u64; 5],
    /// The same for alarms waiting in the evening shift, if different.
    pub claim_within_secs_evening: Option<[u64; 5]>,
    /// The same for alarms waiting in the night shift, if different.
    pub claim_within_secs_night: Option<[u64; 5]>,
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
    /// The centre's time zone (IANA name): shifts follow local time, summer time included.
    pub time_zone: Zone,
    /// Local hours at which the day, evening and night shifts start.
    pub shift_starts: [u8; 3],
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            claim_within_secs: [60, 120, 300, 900, 1800],
            claim_within_secs_evening: None,
            claim_within_secs_night: None,
            handle_within_secs: 600,
            accept_within_secs: 300,
            on_site_day_evening_secs: 30 * 60,
            on_site_night_secs: 60 * 60,
            close_within_secs: 2 * 3600,
            cancel_unclaimed_on_restore: true,
            supervision_grace_secs: 60,
            runaway_events: 20,
            runaway_window_secs: 3600,
            time_zone: Zone::default(),
            shift_starts: [7, 15, 23],
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
            (
                "claim_within_secs_evening",
                self.claim_within_secs_evening
                    .is_none_or(|v| v.iter().all(|s| *s > 0)),
            ),
            (
                "claim_within_secs_night",
                self.claim_within_secs_night
                    .is_none_or(|v| v.iter().all(|s| *s > 0)),
            ),
            (
                "shift_starts (hours, day < evening < night, each 0-23)",
                self.shift_starts[0] < self.shift_starts[1]
                    && self.shift_starts[1] < self.shift_starts[2]
                    && self.shift_starts[2] < 24,
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
        ];
        match checks.iter().find(|(_, ok)| !ok) {
            Some((name, _)) => Err(format!("{name} is out of range")),
            None => Ok(()),
        }
    }

    /// The shift at `now` (seconds since the Unix epoch, UTC), in the centre's local time.
    pub fn shift_at(&self, now: u64) -> Shift {
        let hour = self.time_zone.second_of_day(now) / 3_600;
        let [day, evening, night] = self.shift_starts.map(u64::from);
        if hour >= night || hour < day {
            Shift::Night
        } else if hour >= evening {
            Shift::Evening
        } else {
            Shift::Day
        }
    }

    /// Seconds an alarm of `priority` may wait unclaimed, if it starts waiting at `now`.
    pub fn claim_within(&self, priority: u8, now: u64) -> u64 {
        let table = match self.shift_at(now) {
            Shift::Day => None,
            Shift::Evening => self.claim_within_secs_evening.as_ref(),
            Shift::Night => self.claim_within_secs_night.as_ref(),
        }
        .unwrap_or(&self.claim_within_secs);
        let i = usize::from(priority.clamp(1, 5) - 1);
        table.get(i).copied().unwrap_or(60)
    }

    /// The promised time on site for a visit forwarded at `at`.
    pub fn on_site_within(&self, at: u64) -> u64 {
        match self.shift_at(at) {
            Shift::Night => self.on_site_night_secs,
            Shift::Day | Shift::Evening => self.on_site_day_evening_secs,
        }
    }
}
