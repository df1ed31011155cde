//! JSON views of processed frames (one object per frame), for `vagt decode` and exports.

use serde_json::{Map, Value, json};
use vagt_dc09::{Decoded, FramingError, Header, Message, display_bytes};
use vagt_proto::{Event, Payload, Processed, Scheme};

/// The JSON object for one processed frame; `response` is the exact response text, if any.
pub(super) fn processed(p: &Processed, response: Option<&[u8]>) -> Value {
    let mut obj = Map::new();
    let (header, error) = match &p.decoded {
        Decoded::Accepted(m) => (Some(&m.header), None),
        Decoded::Refused(r) => (
            r.header.as_deref(),
            Some((r.reason.kind(), r.reason.to_string())),
        ),
        Decoded::Framing(e) => (None, Some((e.kind(), e.to_string()))),
    };
    obj.insert("ok".into(), json!(error.is_none()));
    header_fields(&mut obj, header);
    let message = match &p.decoded {
        Decoded::Accepted(m) => Some(m),
        _ => None,
    };
    message_fields(&mut obj, message);
    let events: Vec<Value> = p
        .payload
        .iter()
        .flat_map(Payload::events)
        .map(|e| event(&e))
        .collect();
    obj.insert("events".into(), Value::Array(events));
    if let Some(Payload::Sia(s)) = &p.payload {
        obj.insert(
            "texts".into(),
            json!(s.texts.iter().map(|t| t.as_str()).collect::<Vec<_>>()),
        );
    }
    obj.insert("error".into(), json!(error.as_ref().map(|(_, text)| text)));
    obj.insert("error_kind".into(), json!(error.map(|(kind, _)| kind)));
    obj.insert("response_class".into(), json!(p.response.class()));
    obj.insert(
        "response".into(),
        json!(response.map(|r| String::from_utf8_lossy(r))),
    );
    Value::Object(obj)
}

/// The JSON object for bytes the framer discarded (never answered).
pub(super) fn framing_error(e: &FramingError) -> Value {
    discarded(e.kind(), &e.to_string())
}

/// The JSON object for bytes that never became a frame: `kind` and a human message.
pub(super) fn discarded(kind: &str, error: &str) -> Value {
    let mut obj = Map::new();
    obj.insert("ok".into(), json!(false));
    header_fields(&mut obj, None);
    message_fields(&mut obj, None);
    obj.insert("events".into(), json!([]));
    obj.insert("error".into(), json!(error));
    obj.insert("error_kind".into(), json!(kind));
    obj.insert("response_class".into(), json!("none"));
    obj.insert("response".into(), Value::Null);
    Value::Object(obj)
}

fn header_fields(obj: &mut Map<String, Value>, h: Option<&Header>) {
    let ty = h.map(Header::type_label);
    obj.insert("type".into(), json!(ty));
    obj.insert("encrypted".into(), json!(h.map(|h| h.encrypted)));
    obj.insert("sequence".into(), json!(h.map(|h| h.sequence.as_str())));
    obj.insert(
        "receiver".into(),
        json!(h.and_then(|h| h.receiver.as_ref()).map(|r| r.as_str())),
    );
    obj.insert(
        "line".into(),
        json!(h.and_then(|h| h.line.as_ref()).map(|l| l.as_str())),
    );
    obj.insert(
        "account".into(),
        json!(h.and_then(|h| h.account.as_ref()).map(|a| a.as_str())),
    );
}

fn message_fields(obj: &mut Map<String, Value>, m: Option<&Message>) {
    if let Some(m) = m {
        // The header may lack `#acct` (tolerated): the account then comes from the data.
        obj.insert("account".into(), json!(m.account));
    }
    obj.insert(
        "unknown_account".into(),
        json!(m.map(|m| m.unknown_account)),
    );
    let ts = m.and_then(|m| m.content.timestamp).map(|t| t.rfc3339());
    obj.insert("timestamp".into(), json!(ts));
    let data = m.map(|m| display_bytes(&m.content.data));
    obj.insert("data".into(), json!(data));
    let xdata: Option<Map<String, Value>> = m.map(|m| {
        m.content
            .xdata
            .iter()
            .map(|x| (char::from(x.id).to_string(), json!(display_bytes(&x.value))))
            .collect()
    });
    obj.insert("xdata".into(), json!(xdata));
    let plain = m
        .and_then(|m| m.plaintext.as_ref())
        .map(|p| display_bytes(p));
    obj.insert("plaintext".into(), json!(plain));
}

/// One event as JSON.
pub(super) fn event(e: &Event) -> Value {
    json!({
        "scheme": match e.scheme { Scheme::Cid => "CID", Scheme::Sia => "SIA" },
        "code": e.code,
        "event_code": (e.scheme == Scheme::Cid).then_some(&e.code),
        "qualifier": e.qualifier.map(String::from),
        "zone": e.zone,
        "user": e.user,
        "area": e.area,
        "time": e.time,
        "text": e.text,
        "name": e.name,
        "category": e.category,
        "priority": e.priority,
        "restore": e.restore,
    })
}
