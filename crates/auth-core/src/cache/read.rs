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

use crate::token::AccessToken;

/// A reader's view of the current entry.
pub(super) struct Replica {
    generation: u64,
    token: Arc<AccessToken>,
    refresh_at: i64,
    must_refresh_at: i64,
}

/// One slot: a replica and its hit counter, alone on their cache lines.
#[repr(align(128))]
struct Slot {
    replica: ArcSwapOption<Replica>,
    hits: AtomicU64,
}

pub(super) struct ReadPath {
    /// The generation of the authoritative entry; 0 while there is none.
    generation: AtomicU64,
    /// No background refresh may start before this instant (Unix nanoseconds): `i64::MAX`
    /// while a fetch is running, the end of the backoff after a failure, `i64::MIN` otherwise.
    /// While it lies ahead, readers inside the refresh-ahead window are served here too.
    gate: AtomicI64,
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
            gate: AtomicI64::new(i64::MIN),
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
    /// the refresh-ahead window, or inside it while a refresh is running or backing off.
    #[inline]
    pub(super) fn fresh(&self, now: impl FnOnce() -> i64) -> Option<Arc<AccessToken>> {
        let generation = self.generation.load(Ordering::Acquire);
        let slot = self.slot();
        let guard = slot.replica.load();
        let replica = guard.as_ref()?;
        if replica.generation != generation {
            return None;
        }
        let now = now();
        let serve = now < replica.refresh_at
            || (now < replica.must_refresh_at && now < self.gate.load(Ordering::Relaxed));
        if !serve {
            return None;
        }
        slot.hits.fetch_add(1, Ordering::Relaxed);
        Some(Arc::clone(&replica.token))
    }

    /// Makes `generation` current and drops every replica (freeing, and so zeroizing, copies
    /// of a replaced token at once). Called with the cache's mutex held.
    pub(super) fn publish(&self, generation: u64) {
        self.generation.store(generation, Ordering::Release);
        for slot in &*self.slots {
            slot.replica.store(None);
        }
    }

    /// Stores a fresh deep copy of `token` in this thread's slot and returns it. Called with
    /// the cache's mutex held, with the current entry.
    pub(super) fn fill(
        &self,
        generation: u64,
        token: &AccessToken,
        refresh_at: i64,
        must_refresh_at: i64,
    ) -> Arc<AccessToken> {
        let token = Arc::new(token.deep_copy());
        self.slot().replica.store(Some(Arc::new(Replica {
            generation,
            token: Arc::clone(&token),
            refresh_at,
            must_refresh_at,
        })));
        token
    }

    pub(super) fn set_gate(&self, at: i64) {
        self.gate.store(at, Ordering::Relaxed);
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
