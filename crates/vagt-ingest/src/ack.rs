//! The per-frame ACK path, shared by TCP and UDP: decode → dedup → journal commit → answer.
//!
//! [`AckPath::submit`] does everything that does not wait for the disk and hands back a
//! [`Pending`]; [`Pending::resolve`] waits for the commit. A connection submits every frame of
//! a read before resolving any, so pipelined frames share one group commit, and answers still
//! go out in order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use metrics::{Counter, Histogram, counter, histogram};
use tokio::sync::oneshot;
use vagt_dc09::{
    AccountKey, Decoded, Frame, FramingError, RawFrame, Refusal, Response, Timestamp, Window,
    respond,
};
use vagt_journal::{Done, Journal, JournalError, Offset, Refused};
use vagt_proto::{Processed, Settings};
use vagt_records::{Accounts, DedupKey, FrameRecord, Transport};

use crate::dedup::{Claim, Dedup, Duplicate, NewClaim};
use crate::metrics::{self as m, FrameCounters, FrameType, Outcome};

/// Everything the ACK path needs; shared by all connection tasks.
pub struct AckPath {
    settings: Settings,
    /// Replaced whole when the accounts file is reloaded (SIGHUP); each frame reads the
    /// accounts in use when it arrives, without a lock.
    accounts: ArcSwap<Accounts>,
    dedup: Dedup,
    journal: Arc<dyn Journal>,
    /// Handles looked up once: a flood of junk must not cost a registry lookup per datagram,
    /// nor a valid frame one per count.
    garbage: Counter,
    frames: Arc<FrameCounters>,
    unknown_account: Counter,
    dedup_hits: Counter,
    latency: Histogram,
}

/// A frame on its way to an answer.
pub enum Pending {
    /// The answer is known (NAK, DUH or silence).
    Now(Option<Vec<u8>>),
    /// A new message: answered once its record is durable.
    Commit {
        /// The journal's reply.
        done: oneshot::Receiver<Result<Offset, JournalError>>,
        /// Our dedup claim, settled with the outcome.
        claim: NewClaim,
        /// The ACK to send after the commit.
        ack: Vec<u8>,
        /// Frame type, for metrics.
        ty: FrameType,
        /// Where to count the outcome.
        frames: Arc<FrameCounters>,
    },
    /// A retransmission: answered once the original is durable.
    Duplicate {
        /// The original's state.
        dup: Duplicate,
        /// The ACK to send.
        ack: Vec<u8>,
        /// Frame type, for metrics.
        ty: FrameType,
        /// Where to count the outcome (and the hit).
        counters: (Arc<FrameCounters>, Counter),
    },
}

/// The answer to send, and whether it acknowledges a stored alarm (for the latency metric).
pub struct Answer {
    /// Bytes to send, if any.
    pub bytes: Option<Vec<u8>>,
    /// An ACK of a journaled (or already journaled) message.
    pub acknowledged: bool,
}

impl AckPath {
    /// An ACK path storing accepted frames in `journal`.
    pub fn new(
        settings: Settings,
        accounts: Arc<Accounts>,
        dedup: Dedup,
        journal: Arc<dyn Journal>,
    ) -> Self {
        Self {
            settings,
            accounts: ArcSwap::new(accounts),
            dedup,
            journal,
            garbage: counter!(m::DECODE_ERRORS, "kind" => "garbage"),
            frames: Arc::default(),
            unknown_account: counter!(m::UNKNOWN_ACCOUNT),
            dedup_hits: counter!(m::DEDUP_HITS),
            latency: histogram!(m::ACK_LATENCY),
        }
    }

    /// Uses `accounts` for every frame from now on (a reloaded accounts file).
    pub fn replace_accounts(&self, accounts: Arc<Accounts>) {
        self.accounts.store(accounts);
    }

    /// Records the time from `received` to an acknowledgement written to the device.
    pub fn acknowledged(&self, received: Instant) {
        self.latency.record(since(received));
    }

    /// Counts bytes the framer discarded (never answered).
    pub fn framing_error(&self, e: &FramingError) {
        match e {
            FramingError::Garbage { .. } => self.garbage.increment(1),
            _ => counter!(m::DECODE_ERRORS, "kind" => e.kind()).increment(1),
        }
        self.frames.count(FrameType::NONE, Outcome::Silent);
    }

    /// Decodes and checks one frame, claims it in the dedup window and hands a new message to the
    /// journal. Waits only when the journal queue is full and `push_back` is set (TCP: the
    /// connection stops reading meanwhile); without `push_back` (UDP) a full queue means no
    /// answer, and the device retransmits.
    pub async fn submit(
        &self,
        raw: &RawFrame,
        peer: SocketAddr,
        transport: Transport,
        push_back: bool,
    ) -> Pending {
        let (now, now_ms) = vagt_records::time::clock();
        let processed = self.process(raw, now);
        let bytes = processed
            .response
            .encode(now, &mut rand::rng())
            .ok()
            .flatten();
        let Decoded::Accepted(message) = &processed.decoded else {
            self.count_refusal(&processed);
            return Pending::Now(bytes);
        };
        let Some(ack) = bytes else {
            return Pending::Now(None);
        };
        let ty = FrameType::of(&message.header);
        if message.unknown_account {
            self.unknown_account.increment(1);
        }
        let key = DedupKey::of(message);
        let claim = match self.dedup.claim(key) {
            Claim::Duplicate(dup) => {
                let counters = (Arc::clone(&self.frames), self.dedup_hits.clone());
                return Pending::Duplicate {
                    dup,
                    ack,
                    ty,
                    counters,
                };
            }
            Claim::New(c) => c,
        };
        let Ok(record) = FrameRecord::encode_message(
            message,
            processed.payload.as_ref(),
            &key,
            peer,
            transport,
            now_ms,
        ) else {
            claim.failed();
            return Pending::Now(None);
        };
        let Some(done) = self.store(record, push_back).await else {
            return Pending::Now(None);
        };
        Pending::Commit {
            done,
            claim,
            ack,
            ty,
            frames: Arc::clone(&self.frames),
        }
    }

    /// Decodes the frame and decides the protocol's answer (the account's key and window).
    fn process(&self, raw: &RawFrame, now: Timestamp) -> Processed {
        let frame = match Frame::parse(raw, &self.settings.tolerance) {
            Ok(frame) => frame,
            Err(e) => {
                let decoded = Decoded::Refused(Refusal::parse(e));
                return Processed {
                    response: respond(&decoded),
                    decoded,
                    payload: None,
                };
            }
        };
        let accounts = self.accounts.load();
        let account = accounts.find(&frame);
        let mut settings = self.settings;
        if let Some(a) = account {
            let w = &mut settings.policy.window;
            *w = Window {
                max_age_secs: a.entry.window_max_age_secs.unwrap_or(w.max_age_secs),
                max_ahead_secs: a.entry.window_max_ahead_secs.unwrap_or(w.max_ahead_secs),
            };
        }
        let key = match account {
            Some(a) => a
                .key
                .as_ref()
                .map_or(AccountKey::Clear, AccountKey::Encrypted),
            None => AccountKey::Unknown,
        };
        vagt_proto::process_frame(&frame, &settings, now, key)
    }

    /// Counts a refused frame by its decode error and answer.
    fn count_refusal(&self, processed: &Processed) {
        let (ty, kind) = match &processed.decoded {
            Decoded::Refused(r) => (
                r.header.as_deref().map_or(FrameType::NONE, FrameType::of),
                r.reason.kind(),
            ),
            _ => (FrameType::NONE, "other"),
        };
        counter!(m::DECODE_ERRORS, "kind" => kind).increment(1);
        self.frames.count(ty, outcome(&processed.response));
    }

    /// Hands the record to the journal; the receiver hears the outcome. `None`: not queued
    /// (no answer: the device retransmits).
    async fn store(
        &self,
        payload: Vec<u8>,
        push_back: bool,
    ) -> Option<oneshot::Receiver<Result<Offset, JournalError>>> {
        let (tx, rx) = oneshot::channel();
        let done: Done = Box::new(move |r| {
            let _ = tx.send(r);
        });
        let mut item = (payload, done);
        loop {
            match self.journal.try_append(item.0, item.1) {
                Ok(()) => return Some(rx),
                // `room()` listens before it looks at the queue, so a writer draining between
                // this refusal and the wait is not missed; nothing is set up while there is room.
                Err(Refused::Full(payload, done)) if push_back => {
                    item = (payload, done);
                    self.journal.room().await;
                }
                Err(Refused::Full(..)) => {
                    counter!(m::UDP_SHED).increment(1);
                    return None;
                }
                Err(Refused::Closed) => return None,
            }
        }
    }
}

impl Pending {
    /// Waits for whatever the answer depends on.
    pub async fn resolve(self) -> Answer {
        match self {
            Self::Now(bytes) => Answer {
                bytes,
                acknowledged: false,
            },
            Self::Commit {
                done,
                claim,
                ack,
                ty,
                frames,
            } => match done.await {
                Ok(Ok(offset)) => {
                    claim.committed(offset);
                    frames.count(ty, Outcome::Ack);
                    Answer {
                        bytes: Some(ack),
                        acknowledged: true,
                    }
                }
                _ => {
                    // Not durable: no ACK. The device retransmits; the claim is released.
                    claim.failed();
                    frames.count(ty, Outcome::Failed);
                    Answer {
                        bytes: None,
                        acknowledged: false,
                    }
                }
            },
            Self::Duplicate {
                dup,
                ack,
                ty,
                counters: (frames, hits),
            } => match dup.wait().await {
                Some(_) => {
                    hits.increment(1);
                    frames.count(ty, Outcome::Duplicate);
                    Answer {
                        bytes: Some(ack),
                        acknowledged: true,
                    }
                }
                None => Answer {
                    bytes: None,
                    acknowledged: false,
                },
            },
        }
    }
}

fn outcome(r: &Response) -> Outcome {
    match r {
        Response::Ack { .. } => Outcome::Ack,
        Response::Duh { .. } => Outcome::Duh,
        Response::Nak => Outcome::Nak,
        Response::Silent => Outcome::Silent,
    }
}

/// Time since `started`, for the ACK-latency histogram.
pub fn since(started: Instant) -> f64 {
    started.elapsed().as_secs_f64()
}
