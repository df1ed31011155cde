//! The receive path's instructions per frame, for `valgrind --tool=callgrind`: runs each case's
//! burst `ROUNDS` times (first argument, default 1) and exits. `benches/run-instructions.sh`
//! runs it at two round counts and divides the difference by the frames, so start-up and the
//! bursts' construction cancel out.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use bytes::BytesMut;
use rand::SeedableRng;

#[path = "shared/protocol_cases.rs"]
mod cases;
use cases::{BURST, cases, receive};

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().map_or(1, |r| r.parse().expect("ROUNDS"));
    let only = args.next();
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    for case in cases() {
        if only.as_deref().is_some_and(|o| o != case.name) {
            continue;
        }
        for _ in 0..rounds {
            let mut buf = BytesMut::from(&case.bytes[..]);
            assert_eq!(receive(&mut buf, case.key.as_ref(), &mut rng), BURST);
        }
    }
}
