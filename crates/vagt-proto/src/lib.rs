//! Sans-I/O glue of the three protocol crates.
//!
//! [`process`] takes one raw DC-09 frame through `vagt-dc09` (header, key, timestamp window),
//! parses its payload with `vagt-sia` or `vagt-cid`, and decides the answer with
//! [`vagt_dc09::respond`]: a frame whose payload does not parse for its token gets `DUH`. The
//! gateway, the `vagt decode` tool and the tests all call this one function, so no caller decides
//! protocol answers itself.
//!
//! Unknown event codes are *not* a reason to refuse: they parse, are acknowledged and stored, and
//! the core shows them as unclassified (DESIGN.md §5).

#![cfg_attr(not(test), warn(clippy::indexing_slicing))]

mod event;

pub use event::{Event, EventParts, Scheme};
use vagt_cid::AdmCid;
use vagt_dc09::{
    AccountKey, Decoded, Frame, Policy, RawFrame, Reason, Refusal, Response, Timestamp, Token,
    Tolerance, respond,
};
use vagt_sia::SiaData;

/// The parsed payload of an accepted frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// Contact ID data (`ADM-CID`).
    Cid(AdmCid),
    /// A link test (`NULL`).
    Null,
    /// SIA DC-03 data (`SIA-DCS`).
    Sia(SiaData),
}

impl Payload {
    /// The payload's events in one shape, in order.
    pub fn events(&self) -> Vec<Event> {
        self.event_parts().map(|p| Event::from_parts(&p)).collect()
    }

    /// What was read of each event, borrowed, in order (no allocation).
    pub fn event_parts(&self) -> impl Iterator<Item = EventParts<'_>> + Clone {
        let (cid, sia) = match self {
            Self::Cid(c) => (Some(EventParts::of_cid(&c.event)), &[][..]),
            Self::Null => (None, &[][..]),
            Self::Sia(s) => (None, &s.events[..]),
        };
        cid.into_iter().chain(sia.iter().map(EventParts::of_sia))
    }
}

/// Receiver settings that shape decoding and answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// Header deviations accepted.
    pub tolerance: Tolerance,
    /// Key, window and unknown-account policy.
    pub policy: Policy,
}

/// One frame, fully processed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Processed {
    /// What `vagt-dc09` made of it (after the payload check).
    pub decoded: Decoded,
    /// The parsed payload, for accepted frames.
    pub payload: Option<Payload>,
    /// The answer to send.
    pub response: Response,
}

/// Processes one raw frame: parse, open with the key `lookup` gives, parse the payload, answer.
pub fn process<'k>(
    raw: &RawFrame,
    settings: &Settings,
    now: Timestamp,
    lookup: impl FnOnce(&Frame) -> AccountKey<'k>,
) -> Processed {
    match Frame::parse(raw, &settings.tolerance) {
        Ok(frame) => {
            let key = lookup(&frame);
            process_frame(&frame, settings, now, key)
        }
        Err(e) => {
            let decoded = Decoded::Refused(Refusal::parse(e));
            let response = respond(&decoded);
            Processed {
                decoded,
                payload: None,
                response,
            }
        }
    }
}

/// Processes a parsed frame for an account whose key policy the caller has looked up (so it
/// can also choose per-account settings, such as the timestamp window).
pub fn process_frame(
    frame: &Frame,
    settings: &Settings,
    now: Timestamp,
    key: AccountKey<'_>,
) -> Processed {
    let (decoded, payload) = match frame.open(key, &settings.policy, now) {
        Ok(m) => match parse_payload(&m.header.token, &m.content.data) {
            Ok(p) => (Decoded::Accepted(m), Some(p)),
            Err(why) => {
                let header = Some(Box::new(m.header));
                (
                    Decoded::Refused(Refusal {
                        reason: Reason::NotUnderstood(why),
                        header,
                    }),
                    None,
                )
            }
        },
        Err(r) => (Decoded::Refused(r), None),
    };
    let response = respond(&decoded);
    Processed {
        decoded,
        payload,
        response,
    }
}

/// Parses the data block for its token.
pub fn parse_payload(token: &Token, data: &[u8]) -> Result<Payload, String> {
    match token {
        Token::SiaDcs => vagt_sia::parse(data)
            .map(Payload::Sia)
            .map_err(|e| e.to_string()),
        Token::AdmCid => vagt_cid::parse_adm_cid(data)
            .map(Payload::Cid)
            .map_err(|e| e.to_string()),
        Token::Null => Ok(Payload::Null),
        other => Err(format!("no payload parser for {other}")),
    }
}
