//! `--verify-journal`: after a run against Vagt, every ACKed message must be in the journal
//! exactly once (DESIGN.md promises 1 and 4), matched by account, sequence number and data.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;
use bytes::Bytes;
use serde::Serialize;
use vagt_dc09::{Frame, Payload, RawFrame, Tolerance};
use vagt_journal::{Offset, Reader};
use vagt_records::FrameRecord;

use crate::device::Acked;
use crate::scenario::Scenario;

/// What the cross-check found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Verification {
    /// ACKed messages checked.
    pub acked: usize,
    /// Of those, found exactly once.
    pub once: usize,
    /// ACKed but not in the journal (first few).
    pub missing: Vec<String>,
    /// ACKed and stored more than once (first few).
    pub duplicated: Vec<String>,
    /// How many ACKed messages were missing / duplicated in all.
    pub missing_count: usize,
    /// See `missing_count`.
    pub duplicated_count: usize,
    /// Fleet records in the journal that were not ACKed to the device (stored, but the ACK was
    /// lost or late: the device's retransmission finds it through dedup). Not an error.
    pub stored_not_acked: usize,
}

impl Verification {
    /// Whether every ACKed message is stored exactly once.
    pub fn ok(&self) -> bool {
        self.missing_count == 0 && self.duplicated_count == 0
    }
}

type Key3 = (String, u16, String);

/// Reads the journal under `data` (a Vagt data directory or its `journal/`) and checks `acked`.
pub fn verify(scenario: &Scenario, data: &Path, acked: &[Acked]) -> anyhow::Result<Verification> {
    let dir = if data.join("journal").is_dir() {
        data.join("journal")
    } else {
        data.to_owned()
    };
    let mut stored: HashMap<Key3, usize> = HashMap::new();
    let reader = Reader::open(&dir, Offset(0))
        .with_context(|| format!("opening the journal in {}", dir.display()))?;
    for record in reader {
        let record = record.with_context(|| format!("reading {}", dir.display()))?;
        let Ok(Some(f)) = FrameRecord::decode(&record.payload) else {
            continue;
        };
        if let Some(key) = message_of(scenario, &f) {
            *stored.entry(key).or_default() += 1;
        }
    }
    let mut v = Verification {
        acked: acked.len(),
        ..Verification::default()
    };
    let mut seen: HashMap<Key3, usize> = HashMap::new();
    for a in acked {
        let key = (a.account.clone(), a.sequence, a.data.clone());
        *seen.entry(key.clone()).or_default() += 1;
        let label = || format!("#{} seq {:04} [{}]", a.account, a.sequence, a.data);
        match stored.get(&key).copied().unwrap_or(0) {
            1 => v.once += 1,
            0 => {
                v.missing_count += 1;
                if v.missing.len() < 10 {
                    v.missing.push(label());
                }
            }
            _ => {
                v.duplicated_count += 1;
                if v.duplicated.len() < 10 {
                    v.duplicated.push(label());
                }
            }
        }
    }
    v.stored_not_acked = stored.keys().filter(|k| !seen.contains_key(*k)).count();
    Ok(v)
}

/// The (account, sequence, data) of a journaled frame from this fleet.
fn message_of(scenario: &Scenario, f: &FrameRecord) -> Option<Key3> {
    let index = f
        .meta
        .account
        .parse::<u64>()
        .ok()?
        .checked_sub(scenario.fleet.account_start)?;
    let index = usize::try_from(index)
        .ok()
        .filter(|i| *i < scenario.fleet.devices)?;
    let raw = RawFrame {
        body: Bytes::copy_from_slice(&f.body),
        decimal_length: false,
    };
    let frame = Frame::parse(&raw, &Tolerance::default()).ok()?;
    let data = match &frame.payload {
        Payload::Clear(c) => c.data.clone(),
        Payload::Encrypted(_) => {
            let key = scenario.key(index).ok()??;
            frame.decrypt(&key).ok()?.0.data
        }
    };
    Some((
        f.meta.account.clone(),
        frame.header.sequence.value(),
        String::from_utf8_lossy(&data).into_owned(),
    ))
}
