//! The reference model: the cache's rules as a plain state machine.

#[allow(clippy::wildcard_imports)]
use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tri {
    Yes,
    No,
    Unknown,
}

impl Tri {
    pub(super) fn of(value: bool) -> Self {
        if value { Self::Yes } else { Self::No }
    }

    pub(super) fn not(self) -> Self {
        match self {
            Self::Yes => Self::No,
            Self::No => Self::Yes,
            Self::Unknown => Self::Unknown,
        }
    }

    pub(super) fn and(self, other: Self) -> Self {
        match (self, other) {
            (Self::No, _) | (_, Self::No) => Self::No,
            (Self::Yes, Self::Yes) => Self::Yes,
            _ => Self::Unknown,
        }
    }
}

/// The cached token: the refresh point is known to lie in `refresh`.
#[derive(Clone, Debug)]
pub(super) struct Entry {
    pub(super) served: Served,
    pub(super) refresh: (i64, i64),
    pub(super) must: i64,
    pub(super) expires: i64,
}

/// No fetch starts in `[since, until)`; `until` is known to lie in the interval.
#[derive(Clone, Debug)]
pub(super) struct Backoff {
    pub(super) since: i64,
    pub(super) until: (i64, i64),
    pub(super) error: Failure,
}

#[derive(Clone, Debug)]
pub(super) struct Flight {
    pub(super) background: bool,
    pub(super) reason: FetchReason,
    pub(super) rejected: Option<Served>,
    /// The clock when the fetch began.
    pub(super) started: i64,
    /// The callers waiting for it.
    pub(super) waiters: BTreeSet<usize>,
}

#[derive(Clone, Debug)]
pub(super) struct Waiter {
    pub(super) since: i64,
    pub(super) restarts: u32,
}

/// The counters, as the model expects them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Counters {
    pub(super) fetches: u64,
    pub(super) hits: u64,
    pub(super) refreshes_ahead: u64,
    pub(super) invalidations: u64,
    pub(super) failures: u64,
    pub(super) refresh_failures: u64,
    pub(super) waits: u64,
    pub(super) wait_time: Duration,
    pub(super) abandoned: u64,
}

impl Counters {
    pub(super) fn of(metrics: &auth_core::CacheMetrics) -> Self {
        Self {
            fetches: metrics.fetches,
            hits: metrics.hits,
            refreshes_ahead: metrics.refreshes_ahead,
            invalidations: metrics.invalidations,
            failures: metrics.failures,
            refresh_failures: metrics.refresh_failures,
            waits: metrics.waits,
            wait_time: metrics.wait_time,
            abandoned: metrics.abandoned,
        }
    }
}

/// What a caller that misses the hot path gets.
#[derive(Debug)]
pub(super) enum Got {
    Now(Answer),
    Waits,
}

/// How a flight ends, for its waiters.
#[derive(Debug)]
pub(super) enum Outcome {
    Done(Answer),
    Abandoned,
}

pub(super) struct Model {
    pub(super) settings: Settings,
    pub(super) now: i64,
    pub(super) current: Option<Entry>,
    pub(super) flight: Option<Flight>,
    pub(super) backoff: Option<Backoff>,
    pub(super) rejected: Option<Served>,
    pub(super) consecutive_failures: u32,
    pub(super) latency: Vec<i64>,
    pub(super) last_generation: u64,
    pub(super) counters: Counters,
    pub(super) invalidated: BTreeSet<u64>,
    pub(super) waiters: BTreeMap<usize, Waiter>,
}

impl Model {
    pub(super) fn new(settings: Settings, now: i64) -> Self {
        Self {
            settings,
            now,
            current: None,
            flight: None,
            backoff: None,
            rejected: None,
            consecutive_failures: 0,
            latency: Vec::new(),
            last_generation: 0,
            counters: Counters::default(),
            invalidated: BTreeSet::new(),
            waiters: BTreeMap::new(),
        }
    }

    pub(super) fn landmark(&self, landmark: Landmark) -> Option<i64> {
        let entry = self.current.as_ref();
        let backoff = self.backoff.as_ref();
        match landmark {
            Landmark::RefreshEarliest => entry.map(|e| e.refresh.0),
            Landmark::RefreshLatest => entry.map(|e| e.refresh.1),
            Landmark::MustRefresh => entry.map(|e| e.must),
            Landmark::Expiry => entry.map(|e| e.expires),
            Landmark::BackoffStart => backoff.map(|b| b.since),
            Landmark::BackoffEarliestEnd => backoff.map(|b| b.until.0),
            Landmark::BackoffLatestEnd => backoff.map(|b| b.until.1),
        }
    }

    pub(super) fn backoff_active(&self) -> Tri {
        let Some(backoff) = &self.backoff else {
            return Tri::No;
        };
        let now = self.now;
        if now < backoff.since || now >= backoff.until.1 {
            Tri::No
        } else if now < backoff.until.0 {
            Tri::Yes
        } else {
            Tri::Unknown
        }
    }

    /// Records what the cache showed: whether its backoff holds now.
    pub(super) fn learn_backoff(&mut self, active: bool) {
        let now = self.now;
        if let Some(backoff) = &mut self.backoff {
            if active {
                backoff.until.0 = backoff.until.0.max(now + 1);
            } else if now >= backoff.since {
                backoff.until.1 = backoff.until.1.min(now);
            }
        }
    }

    pub(super) fn refresh_due(entry: &Entry, now: i64) -> Tri {
        if now >= entry.refresh.1 {
            Tri::Yes
        } else if now < entry.refresh.0 {
            Tri::No
        } else {
            Tri::Unknown
        }
    }

    /// Records what the cache showed: whether the current token's refresh point has passed.
    pub(super) fn learn_refresh(&mut self, due: bool) {
        let now = self.now;
        if let Some(entry) = &mut self.current {
            if due {
                entry.refresh.1 = entry.refresh.1.min(now);
            } else {
                entry.refresh.0 = entry.refresh.0.max(now + 1);
            }
        }
    }

    /// What a caller missing the hot path gets; `started` is whether the cache was seen to
    /// start a fetch meanwhile.
    pub(super) fn decide(&mut self, started: bool) -> Result<Got, String> {
        let now = self.now;
        let backing_off = self.backoff_active();
        if let Some(entry) = &self.current
            && now < entry.must
        {
            // Fresh or ahead: served; a background refresh if it is due, none runs and no
            // backoff holds.
            let served = entry.served.clone();
            let due = Self::refresh_due(entry, now);
            let expected = if self.flight.is_some() {
                Tri::No
            } else {
                due.and(backing_off.not())
            };
            check("a background refresh", expected, started)?;
            if expected == Tri::Unknown {
                if started {
                    self.learn_refresh(true);
                    self.learn_backoff(false);
                } else if due == Tri::Yes {
                    self.learn_backoff(true);
                } else if backing_off == Tri::No {
                    self.learn_refresh(false);
                }
            }
            self.counters.hits += 1;
            if started {
                self.start_flight(FetchReason::RefreshAhead);
            }
            return Ok(Got::Now(Ok(served)));
        }
        if self.flight.is_some() {
            check("a fetch while one runs", Tri::No, started)?;
            return Ok(Got::Waits);
        }
        if backing_off == Tri::Unknown {
            self.learn_backoff(!started);
        } else {
            check("a fetch after a failure", backing_off.not(), started)?;
        }
        if !started {
            // Backing off: a still-valid token, else the last error.
            let backoff = self.backoff.as_ref().ok_or("no fetch without a backoff")?;
            return Ok(Got::Now(match &self.current {
                Some(entry) if now < entry.expires => {
                    self.counters.hits += 1;
                    Ok(entry.served.clone())
                }
                _ => Err(backoff.error.clone()),
            }));
        }
        let reason = if self.rejected.is_some() {
            FetchReason::Rejected
        } else if self.current.is_some() {
            FetchReason::Expiring
        } else {
            FetchReason::Empty
        };
        self.start_flight(reason);
        Ok(Got::Waits)
    }

    pub(super) fn start_flight(&mut self, reason: FetchReason) {
        let background = reason == FetchReason::RefreshAhead;
        self.counters.fetches += 1;
        if background {
            self.counters.refreshes_ahead += 1;
        }
        self.flight = Some(Flight {
            background,
            reason,
            rejected: self.rejected.take(),
            started: self.now,
            waiters: BTreeSet::new(),
        });
    }

    /// Caller `id` waits for the running flight.
    pub(super) fn wait(&mut self, id: usize) {
        self.counters.waits += 1;
        self.waiters.insert(
            id,
            Waiter {
                since: self.now,
                restarts: 0,
            },
        );
        if let Some(flight) = &mut self.flight {
            flight.waiters.insert(id);
        }
    }

    /// Caller `id` got its answer at `end` on the clock.
    pub(super) fn finished_waiting(&mut self, id: usize, end: i64) {
        if let Some(waiter) = self.waiters.remove(&id) {
            let waited = u64::try_from(end.saturating_sub(waiter.since)).unwrap_or(0);
            self.counters.wait_time += Duration::from_nanos(waited);
        }
    }

    /// Caller `id` was cancelled while it waited: counted as a wait, with no wait time.
    pub(super) fn cancelled(&mut self, id: usize) {
        self.waiters.remove(&id);
        if let Some(flight) = &mut self.flight {
            flight.waiters.remove(&id);
        }
    }

    pub(super) fn invalidate(&mut self, token: &Served) -> bool {
        let matches = self
            .current
            .as_ref()
            .is_some_and(|entry| entry.served == *token);
        if matches {
            self.current = None;
            self.rejected = Some(token.clone());
            self.last_generation += 1;
            self.counters.invalidations += 1;
            self.invalidated.insert(token.generation);
        }
        matches
    }

    /// The deadlines of a token, as `cache/schedule.rs` documents them, with the jitter an
    /// interval.
    pub(super) fn deadlines(&self, obtained: i64, expires: Option<i64>) -> Entry {
        let s = &self.settings;
        let expires = expires.unwrap_or_else(|| obtained.saturating_add(s.default_lifetime));
        let lifetime = expires.saturating_sub(obtained).max(0);
        let margin = s.margin.min(lifetime / 10);
        let must = expires.saturating_sub(margin);
        let refresh = if s.refresh_ahead <= 0.0 {
            (must, must)
        } else {
            let slowest = self.latency.iter().copied().max().unwrap_or(0);
            let window = (lifetime as f64 * s.refresh_ahead).max(slowest.saturating_mul(6) as f64);
            let earliest = obtained.saturating_add(must.saturating_sub(obtained).max(0) / 2);
            let at = |lead: f64| must.saturating_sub(lead as i64).max(earliest).min(must);
            (at(window), at(window * (1.0 - s.jitter)))
        };
        Entry {
            served: Served {
                secret: String::new(),
                generation: 0,
            },
            refresh,
            must,
            expires,
        }
    }

    /// The running flight answered `result` (a token: value, `obtained_at`, `expires_at`);
    /// the flight stays in the model until its waiters are checked.
    pub(super) fn answered(
        &mut self,
        result: Result<(String, i64, Option<i64>), Failure>,
    ) -> Outcome {
        let now = self.now;
        let Some(flight) = self.flight.clone() else {
            return Outcome::Abandoned;
        };
        if self.latency.len() == LATENCY_SAMPLES {
            self.latency.remove(0);
        }
        self.latency.push(now.saturating_sub(flight.started).max(0));
        let (secret, obtained, expires) = match result {
            Ok(token) => token,
            Err(failure) => return self.failed(&flight, failure),
        };
        if self.rejected.as_ref().is_some_and(|r| r.secret == secret) {
            // A token rejected meanwhile: the waiters start again, telling the source.
            self.counters.abandoned += 1;
            if self.rejected.is_none() {
                self.rejected.clone_from(&flight.rejected);
            }
            return Outcome::Abandoned;
        }
        let mut entry = self.deadlines(obtained, expires);
        if entry.expires <= now {
            let late = u64::try_from(now.saturating_sub(entry.expires)).unwrap_or(0);
            return self.failed(
                &flight,
                Failure::ExpiredOnArrival(Duration::from_nanos(late)),
            );
        }
        self.last_generation += 1;
        entry.served = Served {
            secret,
            generation: self.last_generation,
        };
        let served = entry.served.clone();
        self.current = Some(entry);
        self.backoff = None;
        self.consecutive_failures = 0;
        Outcome::Done(Ok(served))
    }

    /// The running flight hung until the fetch timeout.
    pub(super) fn timed_out(&mut self) -> Outcome {
        let Some(flight) = self.flight.clone() else {
            return Outcome::Abandoned;
        };
        self.failed(&flight, Failure::Timeout)
    }

    pub(super) fn failed(&mut self, flight: &Flight, failure: Failure) -> Outcome {
        let now = self.now;
        self.counters.failures += 1;
        if flight.background {
            self.counters.refresh_failures += 1;
        }
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        if self.rejected.is_none() {
            self.rejected.clone_from(&flight.rejected);
        }
        let usable = self.current.clone().filter(|entry| now < entry.expires);
        let (low, high) = self.failure_delay(&failure, usable.as_ref());
        self.backoff = Some(Backoff {
            since: now,
            until: (now.saturating_add(low), now.saturating_add(high)),
            error: failure.clone(),
        });
        // Waiters of a failed fetch get the still-valid token: they waited, so it is no hit.
        Outcome::Done(match usable {
            Some(entry) => Ok(entry.served),
            None => Err(failure),
        })
    }

    /// The backoff after a failure, as an interval (its jitter is random); see
    /// `Shared::failure_delay`.
    pub(super) fn failure_delay(&self, failure: &Failure, usable: Option<&Entry>) -> (i64, i64) {
        let (probe, max) = (self.settings.probe, self.settings.max_backoff);
        if !failure.is_retryable() {
            return (max, max);
        }
        let asked = failure.retry_after().min(max);
        let (low, high) = match usable {
            Some(entry) if self.now < entry.must => {
                let room = entry.must.saturating_sub(self.now) / 2;
                let factor = 1i64 << self.consecutive_failures.saturating_sub(1).min(31);
                let ceiling = probe.saturating_mul(factor).min(max);
                // Equal jitter: [ceiling / 2, ceiling], give or take a rounding.
                let half = ceiling / 2;
                ((half - 1_000).min(room), (2 * half + 1_000).min(room))
            }
            _ => (probe, probe),
        };
        let floor = asked.max(probe.min(max));
        (low.max(floor), high.max(floor))
    }
}

#[track_caller]
pub(super) fn check(what: &str, expected: Tri, seen: bool) -> Result<(), String> {
    match expected {
        Tri::Unknown => Ok(()),
        _ if expected == Tri::of(seen) => Ok(()),
        _ => Err(format!(
            "{what}: the model expected {expected:?}, the cache did {}",
            if seen { "it" } else { "not" }
        )),
    }
}

/// Polls `condition` (yielding to the runtime between polls) until it holds: what
/// `test_util::wait_until` does, but a missed deadline is an error naming the condition, so a
/// failing sequence says what did not happen and shrinks like any other failure.
pub(super) async fn until(what: &str, mut condition: impl FnMut() -> bool) -> Result<(), String> {
    let start = real_now();
    while !condition() {
        if start.elapsed() > DEADLINE {
            return Err(format!("{what}: not within {DEADLINE:?}"));
        }
        tokio::task::yield_now().await;
    }
    Ok(())
}
