//! Arbitrary bytes as SIA-DCS data: the tokenizer never panics, and every parsed event's
//! accessors work.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(parsed) = vagt_sia::parse(data) {
        for e in &parsed.events {
            let _ = (e.info(), e.zone(), e.user(), e.area(), e.door(), e.time());
        }
    }
});
