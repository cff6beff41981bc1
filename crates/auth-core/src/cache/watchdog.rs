//! Deadlines that hold whatever happens to the runtime a fetch was spawned on.
//!
//! A fetch runs as a task on the runtime of the caller that started it. If that runtime stops
//! being driven (a current-thread runtime whose `block_on` returned, one runtime per thread
//! with an idle thread) or has no time driver, nothing inside the task can end it. So the
//! deadlines live outside every runtime: one process-wide thread, started on first use, keeps
//! a heap of `(instant, flight)` and calls back into the cache when one passes. The callback
//! only takes the cache's mutex, ends the flight and wakes its waiters through their `watch`
//! channel, which works across runtimes.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Condvar, Mutex, OnceLock, PoisonError, Weak};
use std::time::Instant;

use crate::clock::real_instant;

/// What a deadline checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Check {
    /// The flight's task must have been polled by now.
    FirstPoll,
    /// The flight must have finished by now.
    Timeout,
}

/// The cache side of a deadline.
pub(super) trait Expire: Send + Sync {
    fn expire(&self, flight: u64, check: Check);
}

struct Deadline {
    at: Instant,
    seq: u64,
    flight: u64,
    check: Check,
    target: Weak<dyn Expire>,
}

impl PartialEq for Deadline {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Deadline {}

impl PartialOrd for Deadline {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Deadline {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

#[derive(Default)]
struct Heap {
    deadlines: BinaryHeap<Reverse<Deadline>>,
    seq: u64,
}

struct Watchdog {
    heap: Mutex<Heap>,
    wake: Condvar,
}

fn watchdog() -> Option<&'static Watchdog> {
    static WATCHDOG: OnceLock<Option<&'static Watchdog>> = OnceLock::new();
    *WATCHDOG.get_or_init(|| {
        let watchdog: &'static Watchdog = Box::leak(Box::new(Watchdog {
            heap: Mutex::default(),
            wake: Condvar::new(),
        }));
        match std::thread::Builder::new()
            .name("auth-core-watchdog".into())
            .spawn(move || run(watchdog))
        {
            Ok(_) => Some(watchdog),
            Err(error) => {
                tracing::error!(
                    %error,
                    "could not start the token cache's watchdog thread: fetch deadlines are not enforced"
                );
                None
            }
        }
    })
}

/// Calls `target.expire(flight, check)` at `at` (or soon after), unless the target is gone.
pub(super) fn arm(at: Instant, flight: u64, check: Check, target: Weak<dyn Expire>) {
    let Some(watchdog) = watchdog() else {
        return;
    };
    let mut heap = watchdog.heap.lock().unwrap_or_else(PoisonError::into_inner);
    heap.seq = heap.seq.wrapping_add(1);
    let seq = heap.seq;
    let earliest = heap.deadlines.peek().is_none_or(|Reverse(d)| at < d.at);
    heap.deadlines.push(Reverse(Deadline {
        at,
        seq,
        flight,
        check,
        target,
    }));
    drop(heap);
    if earliest {
        watchdog.wake.notify_one();
    }
}

fn run(watchdog: &'static Watchdog) {
    let mut heap = watchdog.heap.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        let now = real_instant();
        let due = match heap.deadlines.peek() {
            Some(Reverse(next)) if next.at <= now => heap.deadlines.pop(),
            _ => None,
        };
        if let Some(Reverse(deadline)) = due {
            // The callback takes the cache's mutex: never while holding the heap's.
            drop(heap);
            if let Some(target) = deadline.target.upgrade() {
                target.expire(deadline.flight, deadline.check);
            }
            heap = watchdog.heap.lock().unwrap_or_else(PoisonError::into_inner);
            continue;
        }
        heap = match heap.deadlines.peek() {
            Some(Reverse(next)) => {
                let wait = next.at.saturating_duration_since(now);
                watchdog
                    .wake
                    .wait_timeout(heap, wait)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => watchdog
                .wake
                .wait(heap)
                .unwrap_or_else(PoisonError::into_inner),
        };
    }
}
