//! DC-09 timestamps (`HH:MM:SS,MM-DD-YYYY`, UTC) and the receiver's acceptance window.

use std::fmt;

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// A point in time, UTC, to the second: what a DC-09 timestamp can express.
///
/// The crate never reads a clock: callers pass `now` in as a `Timestamp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(PrimitiveDateTime);

/// Length of the wire form `HH:MM:SS,MM-DD-YYYY` (without the leading `_`).
pub(crate) const WIRE_LEN: usize = 19;

impl Timestamp {
    /// 1970-01-01 00:00:00 UTC.
    pub const EPOCH: Self = Self(time::macros::datetime!(1970-01-01 0:00));

    /// Builds a timestamp from seconds since the Unix epoch; `None` if out of range.
    pub fn from_unix(secs: i64) -> Option<Self> {
        let t = OffsetDateTime::from_unix_timestamp(secs).ok()?;
        Some(Self(PrimitiveDateTime::new(t.date(), t.time())))
    }

    /// Seconds since the Unix epoch.
    pub fn unix(self) -> i64 {
        self.0.assume_utc().unix_timestamp()
    }

    /// Builds a timestamp from calendar fields; `None` if they do not form a valid date and time.
    pub fn from_fields(year: i32, month: u8, day: u8, hour: u8, min: u8, sec: u8) -> Option<Self> {
        let month = Month::try_from(month).ok()?;
        let date = Date::from_calendar_date(year, month, day).ok()?;
        let time = Time::from_hms(hour, min, sec).ok()?;
        Some(Self(PrimitiveDateTime::new(date, time)))
    }

    /// Parses the wire form `HH:MM:SS,MM-DD-YYYY` (exactly 19 bytes, no leading `_`).
    pub fn parse(wire: &[u8]) -> Option<Self> {
        let [
            h1,
            h2,
            b':',
            m1,
            m2,
            b':',
            s1,
            s2,
            b',',
            mo1,
            mo2,
            b'-',
            d1,
            d2,
            b'-',
            y1,
            y2,
            y3,
            y4,
        ] = *wire
        else {
            return None;
        };
        let two = |a: u8, b: u8| Some(digit(a)? * 10 + digit(b)?);
        let year = i32::from(two(y1, y2)?) * 100 + i32::from(two(y3, y4)?);
        Self::from_fields(
            year,
            two(mo1, mo2)?,
            two(d1, d2)?,
            two(h1, h2)?,
            two(m1, m2)?,
            two(s1, s2)?,
        )
    }

    /// Appends the wire form `HH:MM:SS,MM-DD-YYYY` (no leading `_`).
    pub fn write_wire(&self, out: &mut Vec<u8>) {
        let (d, t) = (self.0.date(), self.0.time());
        let two = |out: &mut Vec<u8>, v: u8| out.extend_from_slice(&[b'0' + v / 10, b'0' + v % 10]);
        two(out, t.hour());
        out.push(b':');
        two(out, t.minute());
        out.push(b':');
        two(out, t.second());
        out.push(b',');
        two(out, u8::from(d.month()));
        out.push(b'-');
        two(out, d.day());
        out.push(b'-');
        // The window keeps years to four digits; the text form is the fallback otherwise.
        match u16::try_from(d.year()) {
            Ok(y @ 0..=9999) => {
                let (hi, lo) = ((y / 100) as u8, (y % 100) as u8);
                two(out, hi);
                two(out, lo);
            }
            _ => out.extend_from_slice(format!("{:04}", d.year()).as_bytes()),
        }
    }

    /// The wire form `HH:MM:SS,MM-DD-YYYY` as a string.
    pub fn wire(&self) -> String {
        let mut out = Vec::with_capacity(19);
        self.write_wire(&mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// Formats as RFC 3339 (`2024-05-01T12:00:00Z`).
    pub fn rfc3339(&self) -> String {
        let (d, t) = (self.0.date(), self.0.time());
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            d.year(),
            u8::from(d.month()),
            d.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }

    /// Parses RFC 3339 (`2024-05-01T12:00:00Z`, `2024-05-01T14:00:00+02:00`); sub-seconds are
    /// dropped.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let t = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
        Self::from_unix(t.unix_timestamp())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

fn digit(b: u8) -> Option<u8> {
    b.is_ascii_digit().then(|| b - b'0')
}

/// How far a message timestamp may lie from the receiver's clock (REFERENCE.md §2.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Seconds a message may be older than `now` (default 40).
    pub max_age_secs: u32,
    /// Seconds a message may be ahead of `now` (default 20).
    pub max_ahead_secs: u32,
}

impl Default for Window {
    fn default() -> Self {
        Self {
            max_age_secs: 40,
            max_ahead_secs: 20,
        }
    }
}

impl Window {
    /// Whether `ts` lies in `[now - max_age, now + max_ahead]`.
    pub fn contains(&self, ts: Timestamp, now: Timestamp) -> bool {
        let offset = ts.unix() - now.unix();
        offset >= -i64::from(self.max_age_secs) && offset <= i64::from(self.max_ahead_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_writes_wire_form() {
        let ts = Timestamp::parse(b"12:00:00,05-01-2024").unwrap();
        assert_eq!(ts.rfc3339(), "2024-05-01T12:00:00Z");
        assert_eq!(ts.wire(), "12:00:00,05-01-2024");
    }

    #[test]
    fn rejects_impossible_values() {
        assert_eq!(Timestamp::parse(b"25:61:00,13-40-2024"), None);
        assert_eq!(Timestamp::parse(b"12:00:00,02-30-2024"), None);
        assert_eq!(Timestamp::parse(b"12:00:00 05-01-2024"), None);
        assert_eq!(Timestamp::parse(b"12:00:00,05-01-202"), None);
    }

    #[test]
    fn window_edges() {
        let now = Timestamp::parse(b"12:00:00,05-01-2024").unwrap();
        let w = Window::default();
        let at = |d: i64| Timestamp::from_unix(now.unix() + d).unwrap();
        assert!(w.contains(at(-40), now));
        assert!(!w.contains(at(-41), now));
        assert!(w.contains(at(20), now));
        assert!(!w.contains(at(21), now));
    }

    #[test]
    fn rfc3339_with_offset() {
        let ts = Timestamp::parse_rfc3339("2024-05-01T14:00:00+02:00").unwrap();
        assert_eq!(ts.rfc3339(), "2024-05-01T12:00:00Z");
    }
}
