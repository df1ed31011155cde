//! CRC-16/ARC over a frame body, as DC-09 uses it (REFERENCE.md §2.1).

/// The CRC-16/ARC algorithm: polynomial 0x8005 reflected, init 0, no final XOR; sixteen
/// tables (16 bytes a step), as every frame is checked once on receipt and once in its answer.
const ARC: crc::Crc<u16, crc::Table<16>> = crc::Crc::<u16, crc::Table<16>>::new(&crc::CRC_16_ARC);

/// Computes the DC-09 CRC of `body` (the bytes from the opening `"` up to, not including, CR).
pub fn crc16(body: &[u8]) -> u16 {
    ARC.checksum(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliced_tables_give_the_bytewise_checksum() {
        let bytewise = crc::Crc::<u16, crc::NoTable>::new(&crc::CRC_16_ARC);
        let body: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for len in 0..body.len() {
            assert_eq!(
                crc16(&body[..len]),
                bytewise.checksum(&body[..len]),
                "{len}"
            );
        }
    }

    #[test]
    fn check_value() {
        assert_eq!(crc16(b"123456789"), 0xBB3D);
    }

    #[test]
    fn worked_example_from_reference() {
        // REFERENCE.md §2: <LF>8D57 0020 "SIA-DCS"0001L0#1234[#1234|NBA5]<CR>
        assert_eq!(crc16(br#""SIA-DCS"0001L0#1234[#1234|NBA5]"#), 0x8D57);
    }
}
