//! The monthly extract: the call list, per-citizen figures, SLA compliance per shift and the
//! top callers — everything in a fixed order, so the same journal gives the same bytes.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use serde::Serialize;
use vagt_core::{Policy, Shift};

use vagt_records::{AccountEntry, Accounts, CallType};

use crate::calls::{Call, Collected};

/// Claims within this many seconds count as answered in time (the centre's 60 s promise)…
pub const CLAIM_TARGET_SECS: u64 = 60;
/// … and 97.5 % of calls must be.
pub const CLAIM_TARGET_SHARE: f64 = 0.975;
/// The second claim target: 99 % within 180 s.
pub const CLAIM_TARGET2_SECS: u64 = 180;
/// See [`CLAIM_TARGET2_SECS`].
pub const CLAIM_TARGET2_SHARE: f64 = 0.99;

/// A month, `YYYY-MM`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Month {
    /// Year.
    pub year: i16,
    /// Month 1–12.
    pub month: i8,
}

impl Month {
    /// Parses `YYYY-MM`.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let bad = || format!("--month must be YYYY-MM (e.g. 2026-10), not {text:?}");
        let (y, m) = text.split_once('-').with_context(bad)?;
        let (year, month): (i16, i8) = (
            y.parse().ok().with_context(bad)?,
            m.parse().ok().with_context(bad)?,
        );
        if y.len() != 4 || m.len() != 2 || !(1..=12).contains(&month) {
            bail!(bad());
        }
        Ok(Self { year, month })
    }

    /// The month that holds `now` (seconds since the Unix epoch) in `policy`'s time zone.
    pub fn current(policy: &Policy, now: u64) -> anyhow::Result<Self> {
        let today = policy.time_zone.date(now);
        Self::parse(today.get(..7).unwrap_or_default())
    }

    /// The month before.
    pub fn previous(self) -> Self {
        match self.month {
            1 => Self {
                year: self.year - 1,
                month: 12,
            },
            m => Self {
                year: self.year,
                month: m - 1,
            },
        }
    }

    fn next(self) -> Self {
        match self.month {
            12 => Self {
                year: self.year + 1,
                month: 1,
            },
            m => Self {
                year: self.year,
                month: m + 1,
            },
        }
    }

    /// `[start, end)` in seconds since the Unix epoch, in the centre's time zone.
    pub fn bounds(self, policy: &Policy) -> anyhow::Result<(u64, u64)> {
        let z = &policy.time_zone;
        let start = z
            .month_start(self.year, self.month)
            .map_err(anyhow::Error::msg)?;
        let next = self.next();
        let end = z
            .month_start(next.year, next.month)
            .map_err(anyhow::Error::msg)?;
        Ok((start, end))
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// One row of the call list.
#[derive(Clone, Debug, Serialize)]
pub struct CallRow {
    /// The call.
    #[serde(flatten)]
    pub call: Call,
    /// Pseudonymous citizen reference ("" if the account has none).
    pub citizen: String,
    /// `nodkald`, `sygeplejekald`, …
    pub call_type: String,
    /// Municipality.
    pub municipality: String,
    /// The shift it opened in.
    pub shift: Shift,
}

/// Per-citizen figures.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Citizen {
    /// Reference (the account if the citizen has none).
    pub citizen: String,
    /// Calls: every press (alarm event) the citizen's devices sent, repeats included — a
    /// citizen who pressed 700 times shows 700, however the queue grouped them.
    pub calls: u64,
    /// Alarms the centre handled (a repeat press joins the open alarm of the same call).
    pub alarms: u64,
    /// Calls by classification (`unclassified` for calls still open or cancelled).
    pub by_classification: BTreeMap<String, u64>,
    /// Resolved at the centre (closed without a forward).
    pub at_centre: u64,
    /// Forwarded to a responder.
    pub forwarded: u64,
    /// Median opened → claimed, seconds.
    pub median_time_to_claim: Option<u64>,
    /// Worst opened → claimed.
    pub worst_time_to_claim: Option<u64>,
    /// Median forward → on site.
    pub median_time_to_on_site: Option<u64>,
    /// Worst forward → on site.
    pub worst_time_to_on_site: Option<u64>,
    /// Times the device was flagged as a runaway this month.
    pub runaway_flags: u64,
}

/// SLA figures of one shift.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ShiftSla {
    /// Calls opened in the shift.
    pub calls: u64,
    /// Claimed within 60 s.
    pub claimed_within_60s: u64,
    /// Claimed within 180 s.
    pub claimed_within_180s: u64,
    /// Still unclaimed and younger than 60 s when the report was made: not counted in the
    /// 60 s share (neither met nor missed yet).
    pub pending_60s: u64,
    /// The same for the 180 s target.
    pub pending_180s: u64,
    /// Share claimed within 60 s of the calls decided for it (0…1; 1 when none were).
    pub share_within_60s: f64,
    /// Share within 180 s.
    pub share_within_180s: f64,
    /// 97.5 % within 60 s met.
    pub target_60s_met: bool,
    /// 99 % within 180 s met.
    pub target_180s_met: bool,
    /// Visits (forwarded in this shift and reached).
    pub visits: u64,
    /// On site within the promise (30 min day/evening, 60 min night, from the forward).
    pub on_site_in_time: u64,
    /// Share of visits on site in time.
    pub share_on_site_in_time: f64,
}

/// A call that missed a promise.
#[derive(Clone, Debug, Serialize)]
pub struct Exception {
    /// Alarm id.
    pub alarm: u64,
    /// Citizen.
    pub citizen: String,
    /// What was missed.
    pub what: String,
}

/// A top caller and the trend against the previous month.
#[derive(Clone, Debug, Serialize)]
pub struct TopCaller {
    /// Citizen.
    pub citizen: String,
    /// Calls (presses) this month.
    pub calls: u64,
    /// Alarms handled this month.
    pub alarms: u64,
    /// Calls (presses) the month before.
    pub previous_month: u64,
}

/// The whole extract.
#[derive(Clone, Debug, Serialize)]
pub struct Monthly {
    /// The month.
    pub month: String,
    /// The centre's time zone.
    pub time_zone: String,
    /// Limited to this municipality, if asked.
    pub municipality: Option<String>,
    /// Limited to this provider or district, if asked.
    pub provider: Option<String>,
    /// Every call opened in the month, by opening time.
    pub calls: Vec<CallRow>,
    /// Per citizen, by reference.
    pub citizens: Vec<Citizen>,
    /// SLA per shift: `day`, `evening`, `night`.
    pub sla: BTreeMap<String, ShiftSla>,
    /// Calls that missed a promise.
    pub exceptions: Vec<Exception>,
    /// The ten citizens who called most, with last month's count.
    pub top_callers: Vec<TopCaller>,
}

/// The extract without its call and citizen lists: what a supervisor watches.
#[derive(Clone, Debug, Serialize)]
pub struct Summary<'a> {
    /// The month.
    pub month: &'a str,
    /// The centre's time zone.
    pub time_zone: &'a str,
    /// Limited to this municipality, if asked.
    pub municipality: Option<&'a str>,
    /// Limited to this provider or district, if asked.
    pub provider: Option<&'a str>,
    /// Calls opened in the month.
    pub calls: usize,
    /// Citizens who called.
    pub citizens: usize,
    /// SLA per shift.
    pub sla: &'a BTreeMap<String, ShiftSla>,
    /// Calls that missed a promise.
    pub exceptions: &'a [Exception],
    /// The ten citizens who called most.
    pub top_callers: &'a [TopCaller],
}

impl<'a> Summary<'a> {
    /// The summary of `m`.
    pub fn of(m: &'a Monthly) -> Self {
        Self {
            month: &m.month,
            time_zone: &m.time_zone,
            municipality: m.municipality.as_deref(),
            provider: m.provider.as_deref(),
            calls: m.calls.len(),
            citizens: m.citizens.len(),
            sla: &m.sla,
            exceptions: &m.exceptions,
            top_callers: &m.top_callers,
        }
    }
}

fn median(v: &mut [u64]) -> Option<u64> {
    v.sort_unstable();
    v.get(v.len().saturating_sub(1) / 2).copied()
}

fn share(n: u64, of: u64) -> f64 {
    if of == 0 {
        1.0
    } else {
        // Four decimals: stable text in JSON and CSV.
        ((n as f64 / of as f64) * 10_000.0).round() / 10_000.0
    }
}

/// Whose calls a report covers.
#[derive(Clone, Copy, Debug, Default)]
pub struct Scope<'a> {
    /// Only citizens of this municipality.
    pub municipality: Option<&'a str>,
    /// Only citizens whose calls go to this provider or home-nurse district.
    pub provider: Option<&'a str>,
    /// When the report is made (seconds): a call still unclaimed and still within a target at
    /// that moment is *pending* for that target, not missed (it matters for the current month
    /// only).
    pub as_of: u64,
}

/// Builds the extract for `month` from everything the core did.
pub fn monthly(
    collected: &Collected,
    accounts: &Accounts,
    policy: &Policy,
    month: Month,
    scope: Scope<'_>,
) -> anyhow::Result<Monthly> {
    let Scope {
        municipality,
        provider,
        as_of,
    } = scope;
    let entries: BTreeMap<String, &AccountEntry> = accounts
        .entries()
        .map(|e| (e.account.to_ascii_uppercase(), e))
        .collect();
    // The account as the accounts in force said when the alarm opened (or the runaway was
    // flagged); without them (a journal from before they were journaled), as `accounts` says.
    let entry_of = |alarm: Option<u64>, account: &str| -> Option<&AccountEntry> {
        let then = match alarm {
            Some(a) => collected.opened_as.get(&a),
            None => collected.flagged_as.get(account),
        };
        match then {
            Some(e) => e.as_ref(),
            None => entries.get(account).copied(),
        }
    };
    let citizen_of = |alarm: Option<u64>, account: &str| -> String {
        entry_of(alarm, account)
            .and_then(|e| e.citizen.clone())
            .unwrap_or_else(|| account.to_owned())
    };
    let in_scope = |alarm: Option<u64>, account: &str| {
        let entry = entry_of(alarm, account);
        let is = |field: Option<&str>, wanted: &str| {
            field.is_some_and(|x| x.eq_ignore_ascii_case(wanted))
        };
        municipality.is_none_or(|m| is(entry.and_then(|e| e.municipality.as_deref()), m))
            && provider.is_none_or(|p| {
                is(entry.and_then(|e| e.provider.as_deref()), p)
                    || is(entry.and_then(|e| e.district.as_deref()), p)
            })
    };
    let (start, end) = month.bounds(policy)?;
    let (prev_start, _) = month.previous().bounds(policy)?;

    let mut calls: Vec<CallRow> = Vec::new();
    let mut previous: BTreeMap<String, u64> = BTreeMap::new();
    for call in collected.calls.values() {
        if !in_scope(Some(call.alarm), &call.account) {
            continue;
        }
        if (prev_start..start).contains(&call.opened) {
            *previous
                .entry(citizen_of(Some(call.alarm), &call.account))
                .or_default() += u64::from(call.presses);
        }
        if !(start..end).contains(&call.opened) {
            continue;
        }
        let entry = entry_of(Some(call.alarm), &call.account);
        calls.push(CallRow {
            call: call.clone(),
            citizen: entry.and_then(|e| e.citizen.clone()).unwrap_or_default(),
            call_type: entry
                .map_or(CallType::Other, |e| e.call_type)
                .as_str()
                .into(),
            municipality: entry
                .and_then(|e| e.municipality.clone())
                .unwrap_or_default(),
            shift: policy.shift_at(call.opened),
        });
    }
    calls.sort_by_key(|r| (r.call.opened, r.call.alarm));

    // Per citizen.
    let mut citizens: BTreeMap<String, (Citizen, Vec<u64>, Vec<u64>)> = BTreeMap::new();
    for r in &calls {
        let key = citizen_of(Some(r.call.alarm), &r.call.account);
        let (c, claims, visits) = citizens.entry(key.clone()).or_default();
        c.citizen = key;
        c.calls += u64::from(r.call.presses);
        c.alarms += 1;
        let class = r
            .call
            .classification
            .map_or("unclassified", vagt_core::Classification::as_str);
        *c.by_classification.entry(class.to_owned()).or_default() += 1;
        if r.call.forwarded.is_some() {
            c.forwarded += 1;
        } else if r.call.closed.is_some() {
            c.at_centre += 1;
        }
        claims.extend(r.call.time_to_claim());
        visits.extend(r.call.time_to_on_site());
    }
    for (account, flags) in &collected.runaways {
        if !in_scope(None, account) {
            continue;
        }
        let n = flags.iter().filter(|t| (start..end).contains(*t)).count() as u64;
        if n > 0 {
            let key = citizen_of(None, account);
            let (c, _, _) = citizens.entry(key.clone()).or_default();
            c.citizen = key;
            c.runaway_flags += n;
        }
    }
    let citizens: Vec<Citizen> = citizens
        .into_values()
        .map(|(mut c, mut claims, mut visits)| {
            c.median_time_to_claim = median(&mut claims);
            c.worst_time_to_claim = claims.iter().max().copied();
            c.median_time_to_on_site = median(&mut visits);
            c.worst_time_to_on_site = visits.iter().max().copied();
            c
        })
        .collect();

    // SLA per shift, and the exceptions.
    let mut sla: BTreeMap<String, ShiftSla> = ["day", "evening", "night"]
        .into_iter()
        .map(|s| (s.to_owned(), ShiftSla::default()))
        .collect();
    let mut exceptions = Vec::new();
    for r in &calls {
        let c = &r.call;
        if let Some(s) = sla.get_mut(r.shift.as_str()) {
            s.calls += 1;
            match c.time_to_claim() {
                Some(t) => {
                    s.claimed_within_60s += u64::from(t <= CLAIM_TARGET_SECS);
                    s.claimed_within_180s += u64::from(t <= CLAIM_TARGET2_SECS);
                    if t > CLAIM_TARGET_SECS {
                        exceptions.push(Exception {
                            alarm: c.alarm,
                            citizen: citizen_of(Some(c.alarm), &c.account),
                            what: format!("claimed after {t} s"),
                        });
                    }
                }
                None if c.cancelled.is_some() => {}
                None => {
                    let age = as_of.saturating_sub(c.opened);
                    let open = c.closed.is_none();
                    s.pending_60s += u64::from(open && age <= CLAIM_TARGET_SECS);
                    s.pending_180s += u64::from(open && age <= CLAIM_TARGET2_SECS);
                    // Pending is not an exception (yet); the text does not depend on when the
                    // report is made, so a past month's report is the same every time.
                    if !open || age > CLAIM_TARGET_SECS {
                        exceptions.push(Exception {
                            alarm: c.alarm,
                            citizen: citizen_of(Some(c.alarm), &c.account),
                            what: "never claimed".into(),
                        });
                    }
                }
            }
        }
        if let (Some(fwd), Some(t)) = (c.forwarded, c.time_to_on_site()) {
            let promise = policy.on_site_within(fwd);
            if let Some(s) = sla.get_mut(policy.shift_at(fwd).as_str()) {
                s.visits += 1;
                s.on_site_in_time += u64::from(t <= promise);
            }
            if t > promise {
                exceptions.push(Exception {
                    alarm: c.alarm,
                    citizen: citizen_of(Some(c.alarm), &c.account),
                    what: format!(
                        "on site after {} min (promise {} min)",
                        t.div_ceil(60),
                        promise / 60
                    ),
                });
            }
        }
    }
    for s in sla.values_mut() {
        s.share_within_60s = share(s.claimed_within_60s, s.calls.saturating_sub(s.pending_60s));
        s.share_within_180s = share(
            s.claimed_within_180s,
            s.calls.saturating_sub(s.pending_180s),
        );
        s.target_60s_met = s.share_within_60s >= CLAIM_TARGET_SHARE;
        s.target_180s_met = s.share_within_180s >= CLAIM_TARGET2_SHARE;
        s.share_on_site_in_time = share(s.on_site_in_time, s.visits);
    }

    let mut top: Vec<TopCaller> = citizens
        .iter()
        .map(|c| TopCaller {
            citizen: c.citizen.clone(),
            calls: c.calls,
            alarms: c.alarms,
            previous_month: previous.get(&c.citizen).copied().unwrap_or(0),
        })
        .filter(|t| t.calls > 0)
        .collect();
    top.sort_by(|a, b| {
        b.calls
            .cmp(&a.calls)
            .then_with(|| a.citizen.cmp(&b.citizen))
    });
    top.truncate(10);

    Ok(Monthly {
        month: month.to_string(),
        time_zone: policy.time_zone.name().to_owned(),
        municipality: municipality.map(str::to_owned),
        provider: provider.map(str::to_owned),
        calls,
        citizens,
        sla,
        exceptions,
        top_callers: top,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::calls::{Call, Collected};

    fn call(alarm: u64, opened: u64, claimed: Option<u64>) -> Call {
        Call {
            claimed,
            claimed_by: claimed.map(|_| "ole".into()),
            ..Call::opened(alarm, "1234", "QA", 1, opened)
        }
    }

    #[test]
    fn open_alarms_within_a_target_are_pending_not_missed() {
        // 2026-12-02 10:00 Copenhagen: the day shift.
        let t0 = 1_796_202_000;
        let mut collected = Collected::default();
        for c in [
            call(1, t0, Some(t0 + 30)), // claimed in 30 s: met
            call(2, t0 + 89, None),     // 11 s old, unclaimed: pending for both targets
            call(3, t0, None),          // 100 s old, unclaimed: missed 60 s, pending 180 s
        ] {
            collected.calls.insert(c.alarm, c);
        }
        let scope = Scope {
            municipality: None,
            provider: None,
            as_of: t0 + 100,
        };
        let policy = Policy::default();
        let m = monthly(
            &collected,
            &Accounts::default(),
            &policy,
            Month::parse("2026-12").unwrap(),
            scope,
        )
        .unwrap();
        let day = &m.sla["day"];
        assert_eq!((day.calls, day.pending_60s, day.pending_180s), (3, 1, 2));
        assert_eq!(day.share_within_60s, 0.5, "1 of the 2 decided");
        assert_eq!(day.share_within_180s, 1.0, "the one decided was met");
        let what: Vec<&str> = m.exceptions.iter().map(|e| e.what.as_str()).collect();
        assert_eq!(
            what,
            ["never claimed"],
            "the 100 s one; the pending one is no exception"
        );
    }
}
