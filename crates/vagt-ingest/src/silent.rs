//! The per-address cap on *silent* connections: those that have not sent a valid frame yet.
//!
//! Devices that talk never count — a municipality's pendants behind one mobile carrier's NAT share
//! an address. When an address is at its cap, the new connection is accepted and the address's
//! **oldest** silent connection is closed instead (`vagt_disconnects_total{reason="per_ip"}`):
//! an attacker holding idle connections then only churns its own, and a device that sends its
//! frame right after connecting (as panels do) gets in unless the address opens the cap's worth
//! of new connections before that frame arrives (a frame already waiting is read first).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;
use tokio_util::sync::CancellationToken;

/// Every address's silent connections, oldest first.
pub(crate) struct SilentSlots {
    map: DashMap<IpAddr, BTreeMap<u64, CancellationToken>>,
    next: AtomicU64,
    max: usize,
}

/// One connection's place among its address's silent connections; dropped when it talks or
/// closes.
pub(crate) struct Silent {
    slots: Arc<SilentSlots>,
    ip: IpAddr,
    id: u64,
    /// Cancelled when a newer connection from the address took this one's place.
    pub(crate) evicted: CancellationToken,
}

impl SilentSlots {
    /// At most `max` silent connections per address (at least 1).
    pub(crate) fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            map: DashMap::new(),
            next: AtomicU64::new(0),
            max: max.max(1),
        })
    }

    /// Registers a new connection from `ip`, evicting the address's oldest silent connections
    /// beyond the cap.
    pub(crate) fn take(self: &Arc<Self>, ip: IpAddr) -> Silent {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let evicted = CancellationToken::new();
        let mut slots = self.map.entry(ip).or_default();
        while slots.len() >= self.max {
            let Some((_, oldest)) = slots.pop_first() else {
                break;
            };
            // The connection closes itself and counts `reason="per_ip"`.
            oldest.cancel();
        }
        slots.insert(id, evicted.clone());
        Silent {
            slots: Arc::clone(self),
            ip,
            id,
            evicted,
        }
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.slots.map.remove_if_mut(&self.ip, |_, slots| {
            slots.remove(&self.id);
            slots.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_silent_connection_gives_way() {
        let slots = SilentSlots::new(2);
        let ip = IpAddr::from([10, 0, 0, 1]);
        let a = slots.take(ip);
        let b = slots.take(ip);
        let other = slots.take(IpAddr::from([10, 0, 0, 2]));
        assert!(!a.evicted.is_cancelled() && !b.evicted.is_cancelled());
        let c = slots.take(ip);
        assert!(a.evicted.is_cancelled(), "the oldest goes");
        assert!(!b.evicted.is_cancelled() && !c.evicted.is_cancelled());
        assert!(
            !other.evicted.is_cancelled(),
            "another address is untouched"
        );
        // b talks (its slot is dropped): d fits without evicting c.
        drop(b);
        let d = slots.take(ip);
        assert!(!c.evicted.is_cancelled() && !d.evicted.is_cancelled());
        drop((a, c, d, other));
        assert!(slots.map.is_empty());
    }
}
