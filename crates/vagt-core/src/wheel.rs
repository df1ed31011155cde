//! A hashed timing wheel: O(1) insert, O(1) cancel, one-second resolution, virtual time.
//!
//! `SLOTS` one-second slots form a ring; a timer due `d` seconds ahead goes into slot
//! `(now + d) % SLOTS` with `d / SLOTS` full turns still to wait. Advancing the clock visits only
//! the slots it passes. Cancelling bumps the timer's generation in a slab; the stale entry is
//! dropped when its slot comes round, so cancel never searches.

/// Slots in the ring (one per second): 4096 s ≈ 68 min per turn.
const SLOTS: usize = 4096;

/// A handle for cancelling a timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerId {
    index: u32,
    generation: u32,
}

impl TimerId {
    /// A handle that names no timer (cancelling it does nothing).
    pub const NONE: Self = Self {
        index: u32::MAX,
        generation: u32::MAX,
    };
}

struct Entry<T> {
    id: TimerId,
    due: u64,
    payload: T,
}

/// A timing wheel holding payloads of type `T`, driven by seconds passed in by the caller.
pub struct Wheel<T> {
    slots: Vec<Vec<Entry<T>>>,
    /// Live generation per slab index; an entry whose id does not match was cancelled.
    generations: Vec<u32>,
    free: Vec<u32>,
    /// The last second processed.
    now: u64,
    live: usize,
}

impl<T> Wheel<T> {
    /// An empty wheel whose clock reads `now` (seconds).
    pub fn new(now: u64) -> Self {
        Self {
            slots: (0..SLOTS).map(|_| Vec::new()).collect(),
            generations: Vec::new(),
            free: Vec::new(),
            now,
            live: 0,
        }
    }

    /// The last second advanced to.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Timers pending.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Schedules `payload` for second `due` (a past `due` fires at the next advance).
    pub fn insert(&mut self, due: u64, payload: T) -> TimerId {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.generations.push(0);
                u32::try_from(self.generations.len() - 1).unwrap_or(u32::MAX)
            }
        };
        let generation = self.generations.get(index as usize).copied().unwrap_or(0);
        let id = TimerId { index, generation };
        let due = due.max(self.now + 1);
        if let Some(slot) = self.slots.get_mut(slot_of(due)) {
            slot.push(Entry { id, due, payload });
        }
        self.live += 1;
        id
    }

    /// Cancels a timer; `false` if it already fired or was cancelled.
    pub fn cancel(&mut self, id: TimerId) -> bool {
        match self.generations.get_mut(id.index as usize) {
            Some(g) if *g == id.generation => {
                *g = g.wrapping_add(1);
                self.free.push(id.index);
                self.live -= 1;
                true
            }
            _ => false,
        }
    }

    /// Whether `id` is still pending.
    pub fn is_pending(&self, id: TimerId) -> bool {
        self.generations.get(id.index as usize) == Some(&id.generation)
    }

    /// Moves the clock to `now` (seconds) and returns the payloads that came due, in due order.
    pub fn advance(&mut self, now: u64) -> Vec<(TimerId, T)> {
        let mut fired = Vec::new();
        // More than a full turn behind: every slot is visited once.
        let steps = now.saturating_sub(self.now).min(SLOTS as u64);
        for step in 1..=steps {
            let second = self.now + step;
            let Some(slot) = self.slots.get_mut(slot_of(second)) else {
                continue;
            };
            let entries = std::mem::take(slot);
            for e in entries {
                let live = self.generations.get(e.id.index as usize) == Some(&e.id.generation);
                if !live {
                    continue; // cancelled
                }
                if e.due <= now {
                    fired.push(e);
                } else if let Some(s) = self.slots.get_mut(slot_of(second)) {
                    s.push(e); // a later turn
                }
            }
        }
        self.now = self.now.max(now);
        fired.sort_by_key(|e| e.due);
        fired
            .into_iter()
            .map(|e| {
                // Fired timers are done: free their slab index.
                if let Some(g) = self.generations.get_mut(e.id.index as usize) {
                    *g = g.wrapping_add(1);
                }
                self.free.push(e.id.index);
                self.live -= 1;
                (e.id, e.payload)
            })
            .collect()
    }
}

fn slot_of(second: u64) -> usize {
    (second % SLOTS as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_at_the_due_second_in_order() {
        let mut w = Wheel::new(1_000);
        w.insert(1_010, "b");
        w.insert(1_005, "a");
        w.insert(1_000 + 5_000, "far"); // more than one turn ahead
        assert!(w.advance(1_004).is_empty());
        let fired: Vec<_> = w.advance(1_010).into_iter().map(|(_, p)| p).collect();
        assert_eq!(fired, ["a", "b"]);
        assert!(
            w.advance(1_000 + 4_999).is_empty(),
            "the far timer waits a full turn"
        );
        assert_eq!(w.advance(6_000).len(), 1);
        assert!(w.is_empty());
    }

    #[test]
    fn cancel_is_final_and_ids_are_not_confused_after_reuse() {
        let mut w = Wheel::new(0);
        let a = w.insert(10, 1);
        assert!(w.cancel(a));
        assert!(!w.cancel(a));
        let b = w.insert(10, 2); // reuses a's slab index with a new generation
        assert!(!w.is_pending(a));
        assert!(w.is_pending(b));
        assert_eq!(w.advance(10), vec![(b, 2)]);
        assert!(!w.is_pending(b));
    }

    #[test]
    fn a_jump_of_more_than_a_turn_fires_everything_due() {
        let mut w = Wheel::new(0);
        for s in [1, 100, 4_095, 4_096, 9_000] {
            w.insert(s, s);
        }
        let fired: Vec<u64> = w.advance(10_000).into_iter().map(|(_, p)| p).collect();
        assert_eq!(fired, [1, 100, 4_095, 4_096, 9_000]);
    }

    #[test]
    fn a_million_timers() {
        let mut w = Wheel::new(0);
        let ids: Vec<_> = (0..1_000_000u64)
            .map(|i| w.insert(1 + i % 7_200, i))
            .collect();
        for id in ids.iter().step_by(2) {
            w.cancel(*id);
        }
        assert_eq!(w.len(), 500_000);
        assert_eq!(w.advance(7_200).len(), 500_000);
    }
}
