//! The message content: `data ] [x-data]… [_timestamp]` — clear text, or decrypted plaintext
//! after its pad (REFERENCE.md §2.6, §3).

use bytes::Bytes;

use crate::error::ParseError;
use crate::reader::Reader;
use crate::timestamp::{self, Timestamp};

/// One extended-data block `[<Letter><value>]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct XData {
    /// The identifying letter (`X`, `Y`, `M`, `H`, `V`, …).
    pub id: u8,
    /// The value as received (raw bytes: text fields may be Windows-1252 or UTF-8).
    pub value: Bytes,
}

/// Data, extended data and timestamp of a message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Content {
    /// The data block without its brackets, e.g. `#1234|NBA5`. Interpreted by `vagt-sia` /
    /// `vagt-cid`.
    pub data: Bytes,
    /// Extended-data blocks in order.
    pub xdata: Vec<XData>,
    /// The message timestamp, if present.
    pub timestamp: Option<Timestamp>,
}

impl Content {
    /// Parses `data]` + `[Xvalue]`… + optional `_HH:MM:SS,MM-DD-YYYY`, which must end the input.
    ///
    /// `source` is the buffer `text` lives in, so data and values are sliced, not copied.
    pub(crate) fn parse(source: &Bytes, text: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(text);
        let data = r.take_until(b']').ok_or(ParseError::BadData)?;
        r.expect(b']').ok_or(ParseError::BadData)?;
        let mut xdata = Vec::new();
        while r.eat(b'[') {
            let block = r.take_until(b']').ok_or(ParseError::BadXData)?;
            r.expect(b']').ok_or(ParseError::BadXData)?;
            let (&id, value) = block.split_first().ok_or(ParseError::BadXData)?;
            if !id.is_ascii_uppercase() || value.contains(&b'[') {
                return Err(ParseError::BadXData);
            }
            xdata.push(XData {
                id,
                value: source.slice_ref(value),
            });
        }
        let timestamp = if r.eat(b'_') {
            let wire = r
                .take(timestamp::WIRE_LEN)
                .ok_or(ParseError::BadTimestamp)?;
            Some(Timestamp::parse(wire).ok_or(ParseError::BadTimestamp)?)
        } else {
            None
        };
        if !r.is_empty() {
            return Err(ParseError::BadData);
        }
        Ok(Self {
            data: source.slice_ref(data),
            xdata,
            timestamp,
        })
    }

    /// The account at the start of the data (`#acct|…`), if any.
    pub fn data_account(&self) -> Option<&str> {
        let rest = self.data.strip_prefix(b"#")?;
        let end = rest.iter().position(|&b| b == b'|').unwrap_or(rest.len());
        let acct = std::str::from_utf8(rest.get(..end)?).ok()?;
        (!acct.is_empty() && acct.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(acct)
    }

    /// The value of the first extended-data block with letter `id`.
    pub fn xdata(&self, id: u8) -> Option<&Bytes> {
        self.xdata.iter().find(|x| x.id == id).map(|x| &x.value)
    }

    /// Appends `data]` + x-data + timestamp in wire form (what follows `[` in clear text).
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.data);
        out.push(b']');
        for x in &self.xdata {
            out.push(b'[');
            out.push(x.id);
            out.extend_from_slice(&x.value);
            out.push(b']');
        }
        if let Some(ts) = &self.timestamp {
            out.push(b'_');
            ts.write_wire(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &[u8]) -> Result<Content, ParseError> {
        let source = Bytes::copy_from_slice(text);
        Content::parse(&source, &source)
    }

    #[test]
    fn data_xdata_timestamp() {
        let c = parse(b"#1234|NPA501][X006E07.7777][M0026B9E4268B]_12:00:00,05-01-2024").unwrap();
        assert_eq!(&c.data[..], b"#1234|NPA501");
        assert_eq!(c.xdata.len(), 2);
        assert_eq!(&c.xdata(b'M').unwrap()[..], b"0026B9E4268B");
        assert_eq!(c.timestamp.unwrap().rfc3339(), "2024-05-01T12:00:00Z");
        assert_eq!(c.data_account(), Some("1234"));
        let mut out = Vec::new();
        c.write(&mut out);
        assert_eq!(parse(&out).unwrap(), c);
    }

    #[test]
    fn malformed() {
        assert_eq!(parse(b"#1234|NBA5"), Err(ParseError::BadData));
        assert_eq!(parse(b"#1234|NBA5]junk"), Err(ParseError::BadData));
        assert_eq!(parse(b"#1234|NBA5][x1]"), Err(ParseError::BadXData));
        assert_eq!(parse(b"#1234|NBA5][]"), Err(ParseError::BadXData));
        assert_eq!(
            parse(b"]_25:61:00,13-40-2024"),
            Err(ParseError::BadTimestamp)
        );
        assert_eq!(parse(b"]_12:00"), Err(ParseError::BadTimestamp));
    }
}
