//! Printable rendering of raw bytes, in the notation of the test vectors' `frame_text`.

use std::fmt::Write;

/// Renders bytes as text: printable ASCII as is, LF as `<LF>`, CR as `<CR>`, anything else as
/// `<XX>` (two upper-case hex digits).
pub fn display_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 8);
    for &b in bytes {
        match b {
            b'\n' => out.push_str("<LF>"),
            b'\r' => out.push_str("<CR>"),
            0x20..=0x7E => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "<{b:02X}>");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_the_vectors() {
        assert_eq!(display_bytes(b"\nAB\r\x00\x9a"), "<LF>AB<CR><00><9A>");
    }
}
