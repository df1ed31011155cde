//! Which alarm an event belongs to (DESIGN.md §5; README "Repeats and restores").
//!
//! An account can have several open alarms at once. An alarm event is a **repeat** of an open
//! alarm only when it is the same call again: the same *kind* (its code-table category, with a
//! restore mapped onto what it restores) and the same zone — a citizen pressing the pendant
//! again, a detector tripping again. Anything else — a fire while a burglary is open, a medical
//! alarm, another zone, a technical fault — opens its own alarm with its own priority and
//! deadlines, so nothing hides inside another alarm. A **restore** clears only the alarms it
//! restores: the same kind, and the same zone when both name one.

use std::borrow::Cow;

/// The kind of an event, for correlation: its category with a restore mapped onto what it
/// restores (`burglary restoral` → `burglary alarm`, `fire trouble restore` → `fire trouble`,
/// `trouble restore (vendor)` → `trouble (vendor)`); events without a known category are their
/// own kind per code.
pub fn kind<'a>(category: Option<&'a str>, code: &str) -> Cow<'a, str> {
    let Some(c) = category else {
        return Cow::Owned(format!("code {code}"));
    };
    if let Some(base) = c.strip_suffix(" restoral") {
        return Cow::Owned(format!("{base} alarm"));
    }
    if let Some(base) = c.strip_suffix(" restore") {
        return Cow::Borrowed(base);
    }
    if let Some(base) = c.strip_suffix(" restore (vendor)") {
        return Cow::Owned(format!("{base} (vendor)"));
    }
    Cow::Borrowed(c)
}

/// The priority an event (not a restore) opens or repeats an alarm with, from its priority
/// (the account's override, else the code table's): its own when 1–3, 3 for an unclassified
/// code (shown, never dropped); `None` for an informational event, which opens nothing.
pub fn alarm_priority(priority: Option<u8>) -> Option<u8> {
    match priority {
        Some(p @ 1..=3) => Some(p),
        Some(_) => None,
        None => Some(3),
    }
}

/// Whether a restore for `zone` clears an alarm of `alarm_zone` (of the same kind): yes when
/// either names no zone, or both name the same one.
pub(crate) fn restore_matches(zone: Option<&str>, alarm_zone: Option<&str>) -> bool {
    match (zone, alarm_zone) {
        (Some(z), Some(a)) => z == a,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restores_map_onto_what_they_restore() {
        for (restore, alarm) in [
            ("burglary restoral", "burglary alarm"),
            ("burglary alarm restore", "burglary alarm"),
            ("fire trouble restore", "fire trouble"),
            ("medical restoral", "medical alarm"),
            ("trouble restore (vendor)", "trouble (vendor)"),
            ("activity monitoring restore", "activity monitoring"),
        ] {
            assert_eq!(kind(Some(restore), "XX"), alarm, "{restore}");
            assert_eq!(kind(Some(alarm), "XX"), alarm);
        }
        assert_eq!(kind(None, "ZQ"), "code ZQ");
        assert_ne!(
            kind(Some("fire alarm"), "FA"),
            kind(Some("burglary alarm"), "BA")
        );
    }

    #[test]
    fn a_restore_without_a_zone_clears_every_zone() {
        assert!(restore_matches(None, Some("3")));
        assert!(restore_matches(Some("3"), None));
        assert!(restore_matches(Some("3"), Some("3")));
        assert!(!restore_matches(Some("3"), Some("4")));
    }
}
