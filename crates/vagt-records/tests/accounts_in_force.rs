//! The accounts in force as journal records (`S`): split into parts when large, gathered back
//! whole in order — also when two sets interleave (two cluster nodes starting at once) — and
//! never carrying a key.

#![allow(clippy::unwrap_used, missing_docs)]

use vagt_records::input::{self, Input, SETUP_PART_BYTES, SetupParts};
use vagt_records::{AccountEntry, Accounts};

fn accounts(n: usize, key: bool) -> Accounts {
    let mut text = String::new();
    for i in 0..n {
        text += &format!(
            "[[accounts]]\naccount = \"{:04X}\"\ncitizen = \"borger-{i}\"\nprovider = \"hjemmepleje-{}\"\nmunicipality = \"Aarhus\"\n{}\n",
            0x1000 + i,
            i % 7,
            if key {
                "key = \"text:0123456789ABCDEF\""
            } else {
                ""
            }
        );
    }
    Accounts::parse(&text).unwrap()
}

fn sorted(a: &Accounts) -> Vec<AccountEntry> {
    a.sorted_entries()
        .into_iter()
        .map(|e| AccountEntry {
            key: None,
            ..e.clone()
        })
        .collect()
}

/// Decodes `records` through `parts`: the accounts the last part gave.
fn gather(parts: &mut SetupParts, records: &[Vec<u8>]) -> Vec<Option<Input>> {
    let none = Accounts::default();
    records
        .iter()
        .map(|r| {
            let input = input::decode(r, &none, &Default::default())
                .unwrap()
                .unwrap();
            parts.take(input)
        })
        .collect()
}

#[test]
fn many_accounts_take_several_records_and_come_back_whole_without_keys() {
    let many = accounts(6_000, true);
    let records = input::encode_accounts(1_790_000_000, &many, 7).unwrap();
    assert!(records.len() > 1, "{} records", records.len());
    for r in &records {
        assert!(r.len() <= SETUP_PART_BYTES + 1024, "{} bytes", r.len());
        let text = String::from_utf8_lossy(r);
        assert!(!text.contains("0123456789ABCDEF") && !text.contains("\"key\""));
    }
    let mut parts = SetupParts::default();
    let out = gather(&mut parts, &records);
    assert!(out[..out.len() - 1].iter().all(Option::is_none));
    let Some(Some(Input::Accounts { at, accounts: got })) = out.last() else {
        panic!("no accounts from the last part");
    };
    assert_eq!(*at, 1_790_000_000);
    assert_eq!(sorted(got), sorted(&many));
}

#[test]
fn interleaved_sets_each_come_back_and_a_set_missing_a_part_never_does() {
    let a = input::encode_accounts(10, &accounts(3_000, false), 1).unwrap();
    let b = input::encode_accounts(20, &accounts(2_500, false), 2).unwrap();
    assert!(a.len() > 1 && b.len() > 1);
    // a0 b0 a1 b1 …
    let mut mixed = Vec::new();
    for i in 0..a.len().max(b.len()) {
        mixed.extend(a.get(i).cloned());
        mixed.extend(b.get(i).cloned());
    }
    let mut parts = SetupParts::default();
    let whole: Vec<(u64, usize)> = gather(&mut parts, &mixed)
        .into_iter()
        .flatten()
        .map(|i| match i {
            Input::Accounts { at, accounts } => (at, accounts.len()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(whole.len(), 2);
    assert!(whole.contains(&(10, 3_000)) && whole.contains(&(20, 2_500)));
    // A part lost (a torn set): nothing, and the next whole set still comes through.
    let mut torn = a.clone();
    torn.remove(1);
    torn.extend(b.iter().cloned());
    let mut parts = SetupParts::default();
    let out: Vec<Input> = gather(&mut parts, &torn).into_iter().flatten().collect();
    assert_eq!(out.len(), 1);
    assert!(matches!(&out[0], Input::Accounts { at: 20, .. }));
}

#[test]
fn an_old_setup_record_still_reads_as_the_file_applying() {
    let old = input::encode_setup(42);
    let none = Accounts::default();
    let input = input::decode(&old, &none, &Default::default())
        .unwrap()
        .unwrap();
    assert!(matches!(input, Input::Setup(42)));
}

#[test]
fn a_half_gathered_set_holds_snapshots_back_until_it_is_whole_or_stale() {
    let records = input::encode_accounts(10, &accounts(3_000, false), 1).unwrap();
    assert!(records.len() > 1);
    let mut parts = SetupParts::default();
    gather(&mut parts, &records[..1]);
    assert!(parts.gathering(), "after the first part");
    gather(&mut parts, &records[1..]);
    assert!(!parts.gathering(), "whole");
    // A writer that died between parts: the set is dropped once many records went by.
    gather(&mut parts, &records[..1]);
    for _ in 0..100_001 {
        parts.passed();
    }
    let out = gather(&mut parts, &records[1..2]);
    assert!(!parts.gathering() && out.iter().all(Option::is_none));
}
