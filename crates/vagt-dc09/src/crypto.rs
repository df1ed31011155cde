//! AES-CBC with a zero IV, as DC-09 encrypts message content (REFERENCE.md §3).
//!
//! The cipher has no padding of its own: the sender prefixes the plaintext with pad bytes so that
//! its length is a multiple of 16. Keys come in two conventions, both needed in the field: a
//! hex key (32/48/64 hex digits) and a text key (16/24/32 characters whose codes are the key
//! bytes).

use std::fmt;

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use rand_core::RngCore;

const IV: [u8; 16] = [0; 16];

/// An AES key of 128, 192 or 256 bits.
#[derive(Clone, PartialEq, Eq)]
pub struct Key(KeyBytes);

#[derive(Clone, PartialEq, Eq)]
enum KeyBytes {
    Aes128([u8; 16]),
    Aes192([u8; 24]),
    Aes256([u8; 32]),
}

/// Why a key string was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A 32-character hex string could be a 128-bit hex key or a 256-bit text key.
    #[error(
        "ambiguous key: 32 hex characters may be a 128-bit hex key or a 256-bit text key; \
         write it as `hex:…` or `text:…`"
    )]
    Ambiguous,
    /// `hex:` key with characters that are not hex digits or an odd count.
    #[error("hex key must be 32, 48 or 64 hex digits")]
    BadHex,
    /// The key has a length that is no AES key size.
    #[error(
        "key must be 16, 24 or 32 bytes: 32/48/64 hex digits or 16/24/32 characters of text, got {len} characters"
    )]
    BadLength {
        /// Characters in the key as given.
        len: usize,
    },
}

impl Key {
    /// Builds a key from raw bytes (16, 24 or 32 of them).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let bad = || KeyError::BadLength { len: bytes.len() };
        Ok(Self(match bytes.len() {
            16 => KeyBytes::Aes128(bytes.try_into().map_err(|_| bad())?),
            24 => KeyBytes::Aes192(bytes.try_into().map_err(|_| bad())?),
            32 => KeyBytes::Aes256(bytes.try_into().map_err(|_| bad())?),
            _ => return Err(bad()),
        }))
    }

    /// Parses a key as configured: `hex:<digits>`, `text:<chars>`, or bare.
    ///
    /// Bare keys: 48 or 64 hex digits are hex; 16, 24 or 32 characters are text, except a
    /// 32-character all-hex string, which is ambiguous and must carry a prefix.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        if let Some(hex) = text.strip_prefix("hex:") {
            let bytes = decode_hex(hex.as_bytes()).ok_or(KeyError::BadHex)?;
            return Self::from_bytes(&bytes).map_err(|_| KeyError::BadHex);
        }
        if let Some(raw) = text.strip_prefix("text:") {
            return Self::from_bytes(raw.as_bytes());
        }
        let all_hex = text.bytes().all(|b| b.is_ascii_hexdigit());
        match (text.len(), all_hex) {
            (32, true) => Err(KeyError::Ambiguous),
            (48 | 64, true) => Self::parse(&format!("hex:{text}")),
            _ => Self::from_bytes(text.as_bytes()),
        }
    }

    /// Key size in bits.
    pub fn bits(&self) -> u16 {
        match &self.0 {
            KeyBytes::Aes128(_) => 128,
            KeyBytes::Aes192(_) => 192,
            KeyBytes::Aes256(_) => 256,
        }
    }

    /// Decrypts `buf` in place; `buf.len()` must be a non-zero multiple of 16.
    pub fn decrypt(&self, buf: &mut [u8]) -> Result<(), CipherLengthError> {
        if buf.is_empty() || !buf.len().is_multiple_of(16) {
            return Err(CipherLengthError);
        }
        let done = match &self.0 {
            KeyBytes::Aes128(k) => decrypt_with::<cbc::Decryptor<aes::Aes128>>(k, buf),
            KeyBytes::Aes192(k) => decrypt_with::<cbc::Decryptor<aes::Aes192>>(k, buf),
            KeyBytes::Aes256(k) => decrypt_with::<cbc::Decryptor<aes::Aes256>>(k, buf),
        };
        done.ok_or(CipherLengthError)
    }

    /// Encrypts `buf` in place; `buf.len()` must be a non-zero multiple of 16.
    pub fn encrypt(&self, buf: &mut [u8]) -> Result<(), CipherLengthError> {
        if buf.is_empty() || !buf.len().is_multiple_of(16) {
            return Err(CipherLengthError);
        }
        let done = match &self.0 {
            KeyBytes::Aes128(k) => encrypt_with::<cbc::Encryptor<aes::Aes128>>(k, buf),
            KeyBytes::Aes192(k) => encrypt_with::<cbc::Encryptor<aes::Aes192>>(k, buf),
            KeyBytes::Aes256(k) => encrypt_with::<cbc::Encryptor<aes::Aes256>>(k, buf),
        };
        done.ok_or(CipherLengthError)
    }
}

impl fmt::Debug for Key {
    /// Never prints key material: only its size.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key(AES-{})", self.bits())
    }
}

/// The buffer handed to the cipher was not a non-zero multiple of 16 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("ciphertext length is not a non-zero multiple of 16 bytes")]
pub struct CipherLengthError;

fn decrypt_with<C: KeyIvInit + BlockModeDecrypt>(key: &[u8], buf: &mut [u8]) -> Option<()> {
    let cipher = C::new_from_slices(key, &IV).ok()?;
    cipher.decrypt_padded::<NoPadding>(buf).ok().map(|_| ())
}

fn encrypt_with<C: KeyIvInit + BlockModeEncrypt>(key: &[u8], buf: &mut [u8]) -> Option<()> {
    let cipher = C::new_from_slices(key, &IV).ok()?;
    let len = buf.len();
    cipher
        .encrypt_padded::<NoPadding>(buf, len)
        .ok()
        .map(|_| ())
}

/// Characters used for pad bytes we generate: printable, never `|`, `[` or `]`.
const PAD_ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Builds `pad + rest` with a pad of 1–16 random alphanumerics, so the total is a multiple of 16.
pub(crate) fn pad_plaintext(rest: &[u8], rng: &mut dyn RngCore) -> Vec<u8> {
    let pad_len = 16 - rest.len() % 16;
    let mut out = Vec::with_capacity(pad_len + rest.len());
    let mut random = [0u8; 16];
    rng.fill_bytes(&mut random);
    out.extend(random.iter().take(pad_len).filter_map(|b| {
        PAD_ALPHABET
            .get(usize::from(*b) % PAD_ALPHABET.len())
            .copied()
    }));
    out.extend_from_slice(rest);
    out
}

/// Decodes hex text (either case) into bytes; `None` on odd length or a non-hex character.
pub fn decode_hex(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 2);
    for pair in text.chunks_exact(2) {
        let [hi, lo] = pair else { return None };
        out.push(hex_value(*hi)? << 4 | hex_value(*lo)?);
    }
    Some(out)
}

/// Appends `bytes` as upper-case hex.
pub fn encode_hex_upper(bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve(bytes.len() * 2);
    for b in bytes {
        out.extend_from_slice(&[hex_digit(b >> 4), hex_digit(b & 0x0F)]);
    }
}

/// The upper-case hex digit of a nibble (0–15; higher bits are ignored).
pub(crate) fn hex_digit(n: u8) -> u8 {
    let n = n & 0x0F;
    if n < 10 { b'0' + n } else { b'A' + n - 10 }
}

/// The value of one hex digit (either case).
pub(crate) fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn key_conventions() {
        assert_eq!(Key::parse("0123456789ABCDEF").unwrap().bits(), 128);
        assert_eq!(Key::parse("0123456789ABCDEF01234567").unwrap().bits(), 192);
        assert_eq!(
            Key::parse("0123456789ABCDEF0123456789ABCDEF"),
            Err(KeyError::Ambiguous)
        );
        assert_eq!(
            Key::parse("text:0123456789ABCDEF0123456789ABCDEF")
                .unwrap()
                .bits(),
            256
        );
        assert_eq!(
            Key::parse("hex:850CBA22F7DD4F033405DA83E4C5BAE9")
                .unwrap()
                .bits(),
            128
        );
        assert_eq!(Key::parse(&"ab".repeat(24)).unwrap().bits(), 192);
        assert_eq!(Key::parse(&"ab".repeat(32)).unwrap().bits(), 256);
        assert_eq!(Key::parse("short"), Err(KeyError::BadLength { len: 5 }));
        assert_eq!(Key::parse("hex:zz"), Err(KeyError::BadHex));
        // The text form and the hex form of the same bytes are the same key.
        assert_eq!(
            Key::parse("text:0123456789ABCDEF").unwrap(),
            Key::parse("hex:30313233343536373839414243444546").unwrap()
        );
    }

    #[test]
    fn debug_hides_key_material() {
        let key = Key::parse("0123456789ABCDEF").unwrap();
        assert_eq!(format!("{key:?}"), "Key(AES-128)");
    }

    #[test]
    fn round_trip_every_size() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for key in [
            "0123456789ABCDEF",
            "0123456789ABCDEF01234567",
            &"cd".repeat(32),
        ] {
            let key = Key::parse(key).unwrap();
            let plain = pad_plaintext(b"|#1234|NBA5]_12:00:00,05-01-2024", &mut rng);
            assert_eq!(plain.len() % 16, 0);
            let mut buf = plain.clone();
            key.encrypt(&mut buf).unwrap();
            assert_ne!(buf, plain);
            key.decrypt(&mut buf).unwrap();
            assert_eq!(buf, plain);
        }
    }

    #[test]
    fn rejects_partial_blocks() {
        let key = Key::parse("0123456789ABCDEF").unwrap();
        assert_eq!(key.decrypt(&mut [0u8; 15]), Err(CipherLengthError));
        assert_eq!(key.decrypt(&mut []), Err(CipherLengthError));
    }
}
