//! The dedup key: what makes two frames the same message (DESIGN.md promise 4).

use vagt_dc09::Message;

const CRC64: crc::Crc<u64, crc::Table<16>> =
    crc::Crc::<u64, crc::Table<16>>::new(&crc::CRC_64_ECMA_182);

/// What identifies a message for dedup: a 128-bit digest of (receiver, line, account,
/// sequence) and of the content (token, data and x-data — not the timestamp or pad: a
/// retransmission after a clock correction or re-encryption is still the same message).
///
/// Two CRC-64s (ECMA-182 over the identity, over the content) make a fixed 16-byte key: no
/// allocation per frame, cheap to hash, and small when a busy window holds millions of keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DedupKey {
    /// CRC-64 of receiver, line, account and sequence (each field length-prefixed).
    pub identity: u64,
    /// CRC-64 of token, data and x-data.
    pub content: u64,
}

impl DedupKey {
    /// The key of an accepted message.
    pub fn of(m: &Message) -> Self {
        let h = &m.header;
        let mut content = CRC64.digest();
        content.update(h.token.as_str().as_bytes());
        content.update(&[0]);
        content.update(&m.content.data);
        for x in &m.content.xdata {
            content.update(&[0, x.id]);
            content.update(&x.value);
        }
        Self::new(
            h.receiver.as_ref().map(|r| r.as_str()),
            h.line.as_ref().map(|l| l.as_str()),
            &m.account,
            h.sequence.as_str(),
            content.finalize(),
        )
    }

    /// The key from its parts (also used to rebuild the window from journal records).
    pub fn new(
        receiver: Option<&str>,
        line: Option<&str>,
        account: &str,
        sequence: &str,
        content: u64,
    ) -> Self {
        let mut identity = CRC64.digest();
        for field in [receiver, line, Some(account), Some(sequence)] {
            match field {
                // Length-prefixed, and absent ≠ empty: fields can never run into each other.
                Some(f) => {
                    identity.update(&[1]);
                    identity.update(&(f.len() as u64).to_le_bytes());
                    identity.update(f.as_bytes());
                }
                None => identity.update(&[0]),
            }
        }
        Self {
            identity: identity.finalize(),
            content,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DedupKey;

    #[test]
    fn the_sliced_table_gives_the_digest_of_the_bytewise_one() {
        // Keys are stored (PostgreSQL's unique dedup column, rebuilt windows): the faster table
        // must not change a single one.
        let bytewise = crc::Crc::<u64>::new(&crc::CRC_64_ECMA_182);
        for len in 0..300usize {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 + len) as u8).collect();
            assert_eq!(super::CRC64.checksum(&data), bytewise.checksum(&data));
        }
    }

    #[test]
    fn fields_cannot_run_into_each_other() {
        let k = DedupKey::new;
        assert_ne!(
            k(None, Some("12"), "345", "0001", 1),
            k(None, Some("123"), "45", "0001", 1)
        );
        assert_ne!(
            k(None, Some("1"), "234", "0001", 1),
            k(Some("1"), None, "234", "0001", 1)
        );
        assert_ne!(
            k(None, Some("0"), "1234", "0001", 1),
            k(None, Some("0"), "1234", "0001", 2)
        );
        assert_eq!(
            k(None, Some("0"), "1234", "0001", 1),
            k(None, Some("0"), "1234", "0001", 1)
        );
    }
}
