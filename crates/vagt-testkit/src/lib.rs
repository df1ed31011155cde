//! Test support for Vagt (not published).
//!
//! Loads the protocol test vectors from `../shared/protocol/vectors/dc09_vectors.json` beside
//! the repository (override the folder with `VAGT_SHARED=/path/to/shared`). Tests that need the
//! vectors fail with a clear message when the folder is missing: CI always has it.

#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod pg;

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

/// The `shared/` folder: `$VAGT_SHARED`, else `<repository>/../shared`.
pub fn shared_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("VAGT_SHARED") {
        return PathBuf::from(dir);
    }
    // crates/vagt-testkit → repository root → its parent.
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// One account as the vector's receiver was configured.
#[derive(Clone, Debug, Deserialize)]
pub struct AccountConfig {
    /// Account number as configured.
    pub account_id: String,
    /// The key string given to pysiaalarm (its character codes are the key bytes), if any.
    pub key: Option<String>,
}

/// The receiver configuration of a vector.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ReceiverConfig {
    /// Configured accounts.
    #[serde(default, rename = "pysiaalarm_accounts")]
    pub accounts: Vec<AccountConfig>,
    /// The receiver's clock (RFC 3339) when the vector was answered.
    pub receiver_clock_utc: Option<String>,
}

/// One test vector.
#[derive(Clone, Debug, Deserialize)]
pub struct Vector {
    /// Unique name.
    pub name: String,
    /// `dc09_frame`, `contact_id_dtmf` or `crc16`.
    pub kind: String,
    /// Exact frame bytes, hex (DC-09 vectors).
    pub frame_hex: Option<String>,
    /// The AES key bytes the sender used, hex.
    pub key_hex: Option<String>,
    /// Receiver configuration.
    #[serde(default)]
    pub receiver_config: ReceiverConfig,
    /// Expected values (see the vectors' README for which are authoritative).
    #[serde(default)]
    pub expected: Value,
    /// Contact ID fields given to the encoder.
    #[serde(default)]
    pub fields: Value,
    /// CRC input, hex.
    pub input_hex: Option<String>,
}

impl Vector {
    /// The frame bytes.
    pub fn frame(&self) -> Vec<u8> {
        hex(self.frame_hex.as_deref().expect("vector has frame_hex"))
    }

    /// The sender's key bytes, if the frame is encrypted.
    pub fn key(&self) -> Option<Vec<u8>> {
        self.key_hex.as_deref().map(hex)
    }

    /// A string field of `expected`.
    pub fn expect_str(&self, field: &str) -> Option<&str> {
        self.expected.get(field).and_then(Value::as_str)
    }
}

#[derive(Deserialize)]
struct File {
    vectors: Vec<Vector>,
}

/// All vectors from `dc09_vectors.json`.
pub fn vectors() -> Vec<Vector> {
    let path = shared_dir().join("protocol/vectors/dc09_vectors.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e} (clone the repository beside ../shared or set VAGT_SHARED)",
            path.display()
        )
    });
    let file: File = serde_json::from_str(&text).expect("dc09_vectors.json parses");
    file.vectors
}

/// Decodes hex text; panics on bad input (test data only).
pub fn hex(text: &str) -> Vec<u8> {
    vagt_dc09::decode_hex(text.as_bytes()).expect("hex")
}

/// A SIA event for core tests and benches: `code` in zone 1 with the given priority hint
/// (`None`: a code the table does not know) and restore flag; name and category from the SIA
/// code table, as the decoder gives them.
pub fn sia_event(code: &str, priority: Option<u8>, restore: bool) -> vagt_proto::Event {
    vagt_proto::Event {
        scheme: vagt_proto::Scheme::Sia,
        code: code.into(),
        qualifier: None,
        zone: Some("1".into()),
        user: None,
        area: None,
        time: None,
        text: None,
        name: vagt_sia::lookup(code).map(|i| i.name),
        category: vagt_sia::lookup(code).map(|i| i.category),
        priority,
        restore,
    }
}
