//! The cache's read path: what every `token()` call touches, with no lock and no shared write.
//!
//! The authoritative entry lives under the cache's mutex; readers never take it while the
//! token is fresh. Instead each reader looks at a *replica*: one per slot, slots chosen per
//! thread, each replica holding its own deep copy of the token. Cloning the `Arc` of a replica
//! only touches that slot's reference count, so threads on different slots never write to the
//! same cache line, and a cached read stays flat as threads are added. A global generation
//! number tells a reader whether its replica is current; a stale or missing replica sends the
//! reader to the slow path, which refills it.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};

use arc_swap::ArcSwapOption;

use crate::token::{AccessToken, Token};

/// A reader's view of the current entry.
struct Replica {
    token: Token,
    refresh_at: i64,
    must_refresh_at: i64,
}

/// One slot: a replica and its hit counter, alone on their cache lines.
#[repr(align(128))]
struct Slot {
    replica: ArcSwapOption<Replica>,
    hits: AtomicU64,
}

/// Whether readers inside the refresh-ahead window may be served without the slow path: while
/// a fetch is running, or while a failure backoff forbids starting one. Encoded in one place
/// ([`GateCell`]) as the interval `[since, until)` of instants in which that holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Gate {
    /// No fetch runs and none is forbidden: the first reader in the window starts one.
    Open,
    /// A fetch is running.
    Fetching,
    /// No fetch may start in `[since, until)`. A clock that moves backwards to before `since`
    /// ends the backoff instead of extending it.
    BackingOff { since: i64, until: i64 },
}

struct GateCell {
    since: AtomicI64,
    until: AtomicI64,
}

impl GateCell {
    fn new() -> Self {
        let cell = Self {
            since: AtomicI64::new(0),
            until: AtomicI64::new(0),
        };
        cell.set(Gate::Open);
        cell
    }

    fn set(&self, gate: Gate) {
        let (since, until) = match gate {
            Gate::Open => (i64::MAX, i64::MIN),
            Gate::Fetching => (i64::MIN, i64::MAX),
            Gate::BackingOff { since, until } => (since, until),
        };
        // Readers may see one store without the other for an instant; either mix sends them to
        // the slow path or serves a token that is still before its must-refresh point, which
        // are both correct.
        self.since.store(since, Ordering::Relaxed);
        self.until.store(until, Ordering::Relaxed);
    }

    #[inline]
    fn closed_at(&self, now: i64) -> bool {
        self.since.load(Ordering::Relaxed) <= now && now < self.until.load(Ordering::Relaxed)
    }
}

pub(super) struct ReadPath {
    /// The generation of the authoritative entry; 0 while there is none.
    generation: AtomicU64,
    gate: GateCell,
    slots: Box<[Slot]>,
}

static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's slot number, assigned round-robin on first use.
    static THREAD_SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn thread_slot() -> usize {
    THREAD_SLOT.with(|slot| {
        let mut index = slot.get();
        if index == usize::MAX {
            index = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
            slot.set(index);
        }
        index
    })
}

impl ReadPath {
    pub(super) fn new() -> Self {
        // One slot per hardware thread is enough to keep them apart; more only costs memory.
        let slots = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .next_power_of_two()
            .clamp(1, 64);
        Self {
            generation: AtomicU64::new(0),
            gate: GateCell::new(),
            slots: (0..slots)
                .map(|_| Slot {
                    replica: ArcSwapOption::empty(),
                    hits: AtomicU64::new(0),
                })
                .collect(),
        }
    }

    fn slot(&self) -> &Slot {
        // `slots.len()` is a power of two.
        &self.slots[thread_slot() & (self.slots.len() - 1)]
    }

    /// The token, if this thread's replica is current and the token needs no action: before
    /// the refresh-ahead window, or inside it while the gate is closed. Returns the slot's new
    /// hit count alongside.
    #[inline]
    pub(super) fn fresh(&self, now: impl FnOnce() -> i64) -> Option<(Token, u64)> {
        let generation = self.generation.load(Ordering::Acquire);
        let slot = self.slot();
        let guard = slot.replica.load();
        let replica = guard.as_ref()?;
        if replica.token.generation() != generation {
            return None;
        }
        let now = now();
        let serve =
            now < replica.refresh_at || (now < replica.must_refresh_at && self.gate.closed_at(now));
        if !serve {
            return None;
        }
        let hits = slot.hits.fetch_add(1, Ordering::Relaxed) + 1;
        Some((replica.token.clone(), hits))
    }

    /// Makes `generation` current and drops every replica (freeing, and so zeroizing, copies
    /// of a replaced token at once). Called with the cache's mutex held.
    pub(super) fn publish(&self, generation: u64) {
        self.generation.store(generation, Ordering::Release);
        for slot in &*self.slots {
            slot.replica.store(None);
        }
    }

    /// Stores a fresh deep copy of `token` in this thread's slot and returns a handle to it.
    /// Called with the cache's mutex held, with the current entry.
    pub(super) fn fill(
        &self,
        generation: u64,
        token: &AccessToken,
        refresh_at: i64,
        must_refresh_at: i64,
    ) -> Token {
        let token = Token::with_generation(Arc::new(token.deep_copy()), generation);
        self.slot().replica.store(Some(Arc::new(Replica {
            token: token.clone(),
            refresh_at,
            must_refresh_at,
        })));
        token
    }

    pub(super) fn set_gate(&self, gate: Gate) {
        self.gate.set(gate);
    }

    pub(super) fn count_hit(&self) {
        self.slot().hits.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn hits(&self) -> u64 {
        self.slots
            .iter()
            .map(|slot| slot.hits.load(Ordering::Relaxed))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_encodes_each_state() {
        let gate = GateCell::new();
        assert!(!gate.closed_at(0));
        gate.set(Gate::Fetching);
        assert!(gate.closed_at(i64::MIN) && gate.closed_at(i64::MAX - 1));
        gate.set(Gate::BackingOff {
            since: 10,
            until: 20,
        });
        assert!(!gate.closed_at(9) && gate.closed_at(10) && gate.closed_at(19));
        assert!(!gate.closed_at(20));
        gate.set(Gate::Open);
        assert!(!gate.closed_at(15));
    }
}
