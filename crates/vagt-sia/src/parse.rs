//! The DC-03 tokenizer: blocks on `|`, packets on `/`, then lower-case modifiers and upper-case
//! event codes in any order (REFERENCE.md §5).

use compact_str::CompactString;
use smallvec::SmallVec;

use crate::event::{BlockKind, Modifier, OtherBlock, SiaData, SiaEvent};

/// Why SIA-DCS data could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SiaError {
    /// The `#acct` block is not 3–16 alphanumerics.
    #[error("account block is malformed")]
    BadAccount,
    /// A packet in an event block is neither a modifier nor an event code.
    #[error("unexpected byte {byte:#04x} at offset {offset} of an event block")]
    BadPacket {
        /// Offset in the block.
        offset: usize,
        /// The byte found there.
        byte: u8,
    },
    /// A `^text^` or `*"text"` is not closed.
    #[error("unterminated text in an event block")]
    UnterminatedText,
    /// The data holds no event and no text: nothing to act on.
    #[error("data holds no event")]
    NoEvents,
}

/// Parses SIA-DCS data (the DC-09 data block without brackets, e.g. `#1234|Nri1/BA5/BA6`).
pub fn parse(data: &[u8]) -> Result<SiaData, SiaError> {
    let mut out = SiaData::default();
    for (i, block) in data.split(|&b| b == b'|').enumerate() {
        let Some((&function, rest)) = block.split_first() else {
            continue; // empty block, e.g. a leading `|`
        };
        match function {
            b'#' if i == 0 => {
                let ok =
                    (3..=16).contains(&rest.len()) && rest.iter().all(u8::is_ascii_alphanumeric);
                if !ok {
                    return Err(SiaError::BadAccount);
                }
                out.account = Some(text(rest));
            }
            b'N' => parse_events(BlockKind::New, rest, &mut out.events)?,
            b'O' => parse_events(BlockKind::Old, rest, &mut out.events)?,
            b'A' => {
                let t = text(rest);
                if let Some(last) = out.events.last_mut().filter(|e| e.text.is_none()) {
                    last.text = Some(t.clone());
                }
                out.texts.push(t);
            }
            _ => out.other.push(OtherBlock {
                function: char::from(function),
                content: text(rest),
            }),
        }
    }
    if out.events.is_empty() && out.texts.is_empty() {
        return Err(SiaError::NoEvents);
    }
    Ok(out)
}

/// Parses the packets of one `N`/`O` block into events.
///
/// Each event carries the modifiers in force when it came. They are copied into an event only
/// when they change after it or another event follows; the block's last event takes them
/// without a copy (most blocks hold one event).
fn parse_events(kind: BlockKind, block: &[u8], events: &mut Vec<SiaEvent>) -> Result<(), SiaError> {
    let mut modifiers: SmallVec<[Modifier; 2]> = SmallVec::new();
    // The block's latest event, whose modifiers are not given yet.
    let mut unfilled: Option<usize> = None;
    let mut s = Scanner {
        bytes: block,
        pos: 0,
    };
    while let Some(b) = s.peek() {
        let next = s.peek_at(1);
        if b == b'/' {
            s.pos += 1;
        } else if b.is_ascii_lowercase() && next.is_some_and(|n| n.is_ascii_lowercase()) {
            let name = [b, next.unwrap_or_default()];
            s.pos += 2;
            let value =
                text(s.take_while(|c| c.is_ascii_digit() || matches!(c, b':' | b'-' | b'.')));
            let note = s.caret_text()?;
            // A later modifier of the same name replaces the earlier one for following events.
            fill(&mut unfilled, events, &modifiers);
            modifiers.retain(|m| m.name != name);
            modifiers.push(Modifier {
                name,
                value,
                text: note,
            });
        } else if b.is_ascii_uppercase() && next.is_some_and(|n| n.is_ascii_uppercase()) {
            let code = text(s.bytes.get(s.pos..s.pos + 2).unwrap_or_default());
            s.pos += 2;
            let address = s.take_while(|c| c.is_ascii_digit() || matches!(c, b'-' | b':'));
            let address = (!address.is_empty()).then(|| text(address));
            let mut note = s.caret_text()?;
            let unit = s.unit()?;
            if note.is_none() {
                note = s.caret_text()?;
            }
            fill(&mut unfilled, events, &modifiers);
            events.push(SiaEvent {
                block: kind,
                code,
                address,
                modifiers: SmallVec::new(),
                text: note,
                unit,
            });
            unfilled = Some(events.len() - 1);
        } else {
            return Err(SiaError::BadPacket {
                offset: s.pos,
                byte: b,
            });
        }
    }
    if let Some(e) = unfilled.and_then(|j| events.get_mut(j)) {
        e.modifiers = modifiers;
    }
    Ok(())
}

/// Gives the `unfilled` event (if any) a copy of the modifiers in force.
fn fill(unfilled: &mut Option<usize>, events: &mut [SiaEvent], modifiers: &[Modifier]) {
    if let Some(e) = unfilled.take().and_then(|j| events.get_mut(j)) {
        e.modifiers = modifiers.iter().cloned().collect();
    }
}

/// A cursor over one block; every access is checked.
struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.peek_at(0)
    }

    fn peek_at(&self, n: usize) -> Option<u8> {
        self.bytes.get(self.pos + n).copied()
    }

    fn take_while(&mut self, pred: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&pred) {
            self.pos += 1;
        }
        self.bytes.get(start..self.pos).unwrap_or_default()
    }

    /// Consumes bytes up to and including the closing `close`; returns what lies between.
    fn delimited(&mut self, close: u8) -> Result<&'a [u8], SiaError> {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        let end = rest
            .iter()
            .position(|&b| b == close)
            .ok_or(SiaError::UnterminatedText)?;
        self.pos += end + 1;
        Ok(rest.get(..end).unwrap_or_default())
    }

    /// An optional `^text^`.
    fn caret_text(&mut self) -> Result<Option<CompactString>, SiaError> {
        if self.peek() != Some(b'^') {
            return Ok(None);
        }
        self.pos += 1;
        Ok(Some(text(self.delimited(b'^')?)))
    }

    /// An optional `*value UNIT` or `*"text"UNIT`, returned without the `*`.
    fn unit(&mut self) -> Result<Option<CompactString>, SiaError> {
        if self.peek() != Some(b'*') {
            return Ok(None);
        }
        let start = self.pos;
        self.pos += 1;
        if self.peek() == Some(b'"') {
            self.pos += 1;
            self.delimited(b'"')?;
        } else {
            self.take_while(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'+'));
        }
        self.take_while(|c| c.is_ascii_uppercase());
        Ok(Some(text(
            self.bytes.get(start + 1..self.pos).unwrap_or_default(),
        )))
    }
}

/// Bytes as text; DC-03 text may be Windows-1252, so invalid UTF-8 is replaced, never fatal.
/// Up to 24 bytes (an account, a code, an address, a modifier's value) it is stored inline,
/// with no allocation.
fn text(bytes: &[u8]) -> CompactString {
    match std::str::from_utf8(bytes) {
        Ok(s) => CompactString::new(s),
        Err(_) => CompactString::from_utf8_lossy(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(d: &SiaData) -> Vec<&str> {
        d.events.iter().map(|e| e.code.as_str()).collect()
    }

    #[test]
    fn single_event_with_account() {
        let d = parse(b"#1234|NBA5").unwrap();
        assert_eq!(d.account.as_deref(), Some("1234"));
        assert_eq!(codes(&d), ["BA"]);
        assert_eq!(d.events[0].zone(), Some("5"));
    }

    #[test]
    fn two_events_share_modifiers() {
        let d = parse(b"#1234|Nri1/BA5/BA6").unwrap();
        assert_eq!(codes(&d), ["BA", "BA"]);
        assert_eq!(d.events[1].zone(), Some("6"));
        assert_eq!(d.events[1].area(), Some("1"));
    }

    #[test]
    fn each_event_keeps_the_modifiers_in_force_when_it_came() {
        let d = parse(b"#1234|Nri1/BA5/ri2/BA6/id3/BA7|Nri4/BA8").unwrap();
        let areas: Vec<_> = d.events.iter().map(SiaEvent::area).collect();
        let users: Vec<_> = d.events.iter().map(SiaEvent::user).collect();
        assert_eq!(areas, [Some("1"), Some("2"), Some("2"), Some("4")]);
        assert_eq!(users, [None, None, Some("3"), None]);
        assert_eq!(d.events[2].modifiers.len(), 2);
        // Modifiers after the block's last event apply to nothing.
        assert!(parse(b"NBA5/ri9").unwrap().events[0].modifiers.is_empty());
    }

    #[test]
    fn modifiers_in_any_order_without_separators() {
        let d = parse(b"#1234|Nri1ti12:34:56TA5").unwrap();
        assert_eq!(d.events[0].area(), Some("1"));
        assert_eq!(d.events[0].time(), Some("12:34:56"));
        assert_eq!(d.events[0].zone(), Some("5"));
        let d = parse(b"#1234|Nti10:15/id3/ri2/CL3").unwrap();
        assert_eq!(d.events[0].user(), Some("3"));
        assert_eq!(d.events[0].area(), Some("2"));
        assert_eq!(d.events[0].zone(), None);
    }

    #[test]
    fn text_blocks_and_carets() {
        let d = parse(b"#1234|NMA1|APendant").unwrap();
        assert_eq!(d.events[0].text.as_deref(), Some("Pendant"));
        assert_eq!(d.texts, ["Pendant"]);
        let d = parse(b"#123456|Nri1CL0^VX FRONTE ^").unwrap();
        assert_eq!(d.events[0].text.as_deref(), Some("VX FRONTE "));
        let d = parse(b"#1234|NRR|Atest").unwrap();
        assert_eq!(codes(&d), ["RR"]);
    }

    #[test]
    fn units_and_quoted_text() {
        let d = parse(b"NKA3*72.5DF").unwrap();
        assert_eq!(d.events[0].unit.as_deref(), Some("72.5DF"));
        let d = parse(b"#1234|NOP3*\"front door\"NM").unwrap();
        assert_eq!(d.events[0].unit.as_deref(), Some("\"front door\"NM"));
    }

    #[test]
    fn without_account_and_leading_pipe() {
        assert_eq!(codes(&parse(b"|Nri1/CL501").unwrap()), ["CL"]);
        assert_eq!(codes(&parse(b"Nri1/WA000").unwrap()), ["WA"]);
        assert_eq!(parse(b"OBA5").unwrap().events[0].block, BlockKind::Old);
    }

    #[test]
    fn errors() {
        assert_eq!(parse(b""), Err(SiaError::NoEvents));
        assert_eq!(parse(b"#1234"), Err(SiaError::NoEvents));
        assert_eq!(parse(b"#12|NBA5"), Err(SiaError::BadAccount));
        assert_eq!(
            parse(b"NBA5!"),
            Err(SiaError::BadPacket {
                offset: 3,
                byte: b'!'
            })
        );
        assert_eq!(parse(b"NBA5^open"), Err(SiaError::UnterminatedText));
    }

    #[test]
    fn unknown_codes_still_parse() {
        let d = parse(b"#1234|NZX1").unwrap();
        assert_eq!(codes(&d), ["ZX"]);
        assert!(d.events[0].info().is_none());
    }
}
