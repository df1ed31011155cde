//! The one wall clock, and the time units records carry.
//!
//! Records hold milliseconds since the Unix epoch (a frame's receive time, a command's time);
//! the core works in whole seconds (`now` comes in with every input, so a replay sees the same
//! times). Reading the clock is the only thing here that is not a pure function.

use std::time::{SystemTime, UNIX_EPOCH};

use vagt_dc09::Timestamp;

/// Milliseconds since the Unix epoch, now (0 if the clock is before 1970).
pub fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// Whole seconds since the Unix epoch from milliseconds (0 before 1970).
pub fn secs(ms: i64) -> u64 {
    u64::try_from(ms.div_euclid(1000)).unwrap_or(0)
}

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> u64 {
    secs(now_ms())
}

/// The receiver clock for the ACK path: as a DC-09 timestamp, and in milliseconds.
pub fn clock() -> (Timestamp, i64) {
    let ms = now_ms();
    (
        Timestamp::from_unix(ms.div_euclid(1000)).unwrap_or(Timestamp::EPOCH),
        ms,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_down_and_never_go_negative() {
        assert_eq!(secs(1_999), 1);
        assert_eq!(secs(-1), 0);
        let (ts, ms) = clock();
        assert_eq!(ts, Timestamp::from_unix(ms.div_euclid(1000)).unwrap());
    }
}
