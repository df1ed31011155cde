//! The Contact ID event-code table and which codes carry a user number instead of a zone.

use crate::codes::EVENT_CODES;
pub use vagt_sia::{CodeInfo, Origin};

/// Looks up a Contact ID event code (`"101"`, `"130"`, …).
pub fn lookup(code: &str) -> Option<&'static CodeInfo> {
    EVENT_CODES
        .binary_search_by(|c| c.code.cmp(code))
        .ok()
        .and_then(|i| EVENT_CODES.get(i))
}

/// Every Contact ID event code in the table, sorted by code.
pub fn all() -> &'static [CodeInfo] {
    EVENT_CODES
}

/// Whether the CCC field of `code` is a user number rather than a zone (REFERENCE.md §6.2:
/// open/close, access and user codes, per dc09-spt, spandsp and siadc09).
pub fn is_user_code(code: u16) -> bool {
    matches!(
        code,
        121 | 313
            | 400..=409
            | 411..=415
            | 421..=425
            | 429..=431
            | 441..=442
            | 450..=459
            | 462..=464
            | 466
            | 574
            | 604
            | 607
            | 625
            | 642
            | 652
            | 653
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        assert!(EVENT_CODES.windows(2).all(|w| w[0].code < w[1].code));
        assert_eq!(EVENT_CODES.len(), 323);
        assert_eq!(lookup("101").unwrap().name, "Personal Emergency");
        assert_eq!(lookup("103").unwrap().priority, 1);
        assert_eq!(lookup("899"), None);
    }

    #[test]
    fn user_codes() {
        assert!(is_user_code(401));
        assert!(is_user_code(121));
        assert!(!is_user_code(130));
        assert!(!is_user_code(101));
    }
}
