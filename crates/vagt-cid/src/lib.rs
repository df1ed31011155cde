//! Sans-I/O Ademco Contact ID (SIA DC-05).
//!
//! Two forms: the ADM-CID data block inside DC-09 frames (`#acct|QXYZ GG CCC`, no message type
//! and no checksum; [`parse_adm_cid`]) and the 16-digit DTMF message of phone-line receivers with
//! its mod-15 checksum ([`DtmfMessage`]). The code table ([`lookup`]) is generated from the
//! project's `event_codes.csv`.
//!
//! ```
//! let cid = vagt_cid::parse_adm_cid(b"#1234|1101 00 002").unwrap();
//! assert_eq!(cid.event.info().unwrap().name, "Personal Emergency");
//! assert_eq!(cid.event.zone(), Some("002"));
//! ```

#![cfg_attr(not(test), warn(clippy::indexing_slicing))]

mod code;
#[rustfmt::skip]
mod codes;
mod dtmf;
mod event;

pub use code::{CodeInfo, Origin, all, is_user_code, lookup};
pub use dtmf::DtmfMessage;
pub use event::{AdmCid, CidError, CidEvent, Qualifier, parse_adm_cid};
