//! Records durable in the local journal, waiting for PostgreSQL's commit before their
//! acknowledgement — or for the commit timeout, after which they are acknowledged on the local
//! fsync alone (degraded).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use metrics::{counter, gauge};
use tracing::{info, warn};
use vagt_journal::{Done, Offset};

use crate::metrics as m;

/// The waiting records and how far the local journal is shipped.
pub(crate) struct Pending {
    state: Mutex<State>,
    /// PostgreSQL is not committing in time: acknowledge on the local fsync at once.
    degraded: AtomicBool,
    timeout: Duration,
}

struct State {
    /// Every local record before this offset is committed in PostgreSQL.
    shipped: u64,
    /// Local offset → (when it became locally durable, its callback).
    waiting: BTreeMap<u64, (Instant, Done)>,
}

impl Pending {
    /// Nothing waiting; the local journal shipped up to `shipped`.
    pub(crate) fn new(shipped: u64, timeout: Duration) -> Self {
        Self {
            state: Mutex::new(State {
                shipped,
                waiting: BTreeMap::new(),
            }),
            degraded: AtomicBool::new(false),
            timeout,
        }
    }

    /// A record at `offset` is durable locally: acknowledge it once shipped (at once if it
    /// already is, or if the node is degraded).
    pub(crate) fn durable_locally(&self, offset: Offset, done: Done) {
        let ready = {
            let Ok(mut s) = self.state.lock() else {
                return done(Ok(offset));
            };
            if offset.0 < s.shipped {
                Some(Mode::Replicated)
            } else if self.degraded.load(Ordering::Acquire) {
                Some(Mode::Degraded)
            } else {
                s.waiting.insert(offset.0, (Instant::now(), done));
                return;
            }
        };
        if let Some(mode) = ready {
            mode.count();
            done(Ok(offset));
        }
    }

    /// Everything before `end` is committed in PostgreSQL: acknowledge what waited for it.
    pub(crate) fn shipped(&self, end: u64) {
        let ready = {
            let Ok(mut s) = self.state.lock() else { return };
            s.shipped = s.shipped.max(end);
            let rest = s.waiting.split_off(&end);
            std::mem::replace(&mut s.waiting, rest)
        };
        fire(ready, Mode::Replicated);
    }

    /// Acknowledges on the local fsync alone what waited longer than the commit timeout, and
    /// enters the degraded mode if anything did.
    pub(crate) fn expire(&self) {
        let now = Instant::now();
        let expired = {
            let Ok(mut s) = self.state.lock() else { return };
            let late: Vec<u64> = s
                .waiting
                .iter()
                .filter(|(_, (at, _))| now.duration_since(*at) >= self.timeout)
                .map(|(k, _)| *k)
                .collect();
            late.iter()
                .filter_map(|k| s.waiting.remove_entry(k))
                .collect::<BTreeMap<_, _>>()
        };
        if !expired.is_empty() {
            self.set_degraded(true, "PostgreSQL did not commit within the commit timeout");
            fire(expired, Mode::Degraded);
        }
    }

    /// Acknowledges everything still waiting (on stop: it is durable locally and shipped on
    /// the next start).
    pub(crate) fn release_all(&self) {
        let all = match self.state.lock() {
            Ok(mut s) => std::mem::take(&mut s.waiting),
            Err(_) => return,
        };
        fire(all, Mode::Degraded);
    }

    /// Enters or leaves the degraded mode (logged once per change).
    pub(crate) fn set_degraded(&self, on: bool, why: &str) {
        if self.degraded.swap(on, Ordering::AcqRel) != on {
            gauge!(m::DEGRADED).set(if on { 1.0 } else { 0.0 });
            if on {
                warn!(
                    reason = why,
                    "DEGRADED: acknowledging on the local fsync alone; the local journal is shipped to PostgreSQL when it is back"
                );
            } else {
                info!(
                    "PostgreSQL commits again: every acknowledged record is in it; leaving the degraded mode"
                );
            }
        }
    }

    /// Every local record before this offset is committed in PostgreSQL.
    pub(crate) fn shipped_mark(&self) -> u64 {
        self.state.lock().map_or(0, |s| s.shipped)
    }

    /// Whether the node acknowledges on its local fsync alone.
    pub(crate) fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Acquire)
    }
}

#[derive(Clone, Copy)]
enum Mode {
    Replicated,
    Degraded,
}

impl Mode {
    fn count(self) {
        let label = match self {
            Self::Replicated => "replicated",
            Self::Degraded => "degraded",
        };
        counter!(m::ACKS, "mode" => label).increment(1);
    }
}

fn fire(ready: BTreeMap<u64, (Instant, Done)>, mode: Mode) {
    for (offset, (_, done)) in ready {
        mode.count();
        done(Ok(Offset(offset)));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use super::*;

    fn counter() -> (Arc<AtomicUsize>, impl Fn() -> Done) {
        let n = Arc::new(AtomicUsize::new(0));
        let m = Arc::clone(&n);
        (n, move || {
            let m = Arc::clone(&m);
            Box::new(move |_| {
                m.fetch_add(1, Ordering::SeqCst);
            })
        })
    }

    #[test]
    fn a_record_waits_for_its_shipping_and_not_longer() {
        let p = Pending::new(0, Duration::from_secs(60));
        let (n, done) = counter();
        p.durable_locally(Offset(0), done());
        p.durable_locally(Offset(100), done());
        p.shipped(100);
        assert_eq!(n.load(Ordering::SeqCst), 1, "only the record before 100");
        p.shipped(101);
        assert_eq!(n.load(Ordering::SeqCst), 2);
        p.durable_locally(Offset(50), done());
        assert_eq!(n.load(Ordering::SeqCst), 3, "already shipped: at once");
    }

    #[test]
    fn the_timeout_acknowledges_degraded_and_later_ones_go_at_once() {
        let p = Pending::new(0, Duration::ZERO);
        let (n, done) = counter();
        p.durable_locally(Offset(0), done());
        assert_eq!(n.load(Ordering::SeqCst), 0);
        p.expire();
        assert_eq!(n.load(Ordering::SeqCst), 1);
        assert!(p.is_degraded());
        p.durable_locally(Offset(10), done());
        assert_eq!(n.load(Ordering::SeqCst), 2, "degraded: no waiting");
        p.set_degraded(false, "");
        p.durable_locally(Offset(20), done());
        assert_eq!(n.load(Ordering::SeqCst), 2, "replicated again: waits");
    }
}
