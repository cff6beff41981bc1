//! [`TokenCache`]: turns any [`TokenSource`] into a [`TokenProvider`] with a lock-free hot
//! path, single flight, refresh ahead, compare-and-invalidate and failure backoff.
//!
//! # States of the cached token
//! See [`schedule`] for the rule and its diagram: a token is **fresh** (served from the read
//! path), then in its **refresh-ahead** window (still served at once; the first caller starts
//! one background fetch), then inside its **safety margin** or expired (callers wait for the
//! single flight).
//!
//! # Failures
//! A failed fetch records its error and a time before which no new fetch starts:
//! - rejected credentials and other errors that retrying cannot fix: the maximum backoff
//!   (default 60 s), so they are retried slowly rather than never (secrets get rotated);
//! - a failed background refresh, while the token is still served: exponential backoff with
//!   equal jitter from the probe interval, leaving room for another try before the margin;
//! - otherwise (no usable token): the probe interval (default 1 s), or the endpoint's
//!   `Retry-After` up to the maximum backoff. A failing endpoint gets at most one request per
//!   interval, and the cache recovers within about one interval after the endpoint does.
//!
//! Until that time callers get the still-valid token if there is one, else the recorded error.
//! The waiters of a failed fetch likewise get the still-valid token if there is one, else that
//! fetch's error. A token that arrives already expired is never served: it is a failure
//! ([`AuthError::ExpiredOnArrival`]).
//!
//! # Runtimes
//! A fetch runs as a task on the runtime of the caller that starts it; callers on any runtime
//! wait on a `watch` channel. Its deadlines are kept by a process-wide watchdog thread, outside
//! every runtime: a task never polled within a second (its runtime is not driven) or dropped
//! unfinished (its runtime shut down) is *abandoned*, which is not a failure: no backoff, no
//! error, and its waiters start a new flight on their own runtime. A task still running at the
//! fetch timeout is aborted and fails with [`AuthError::Timeout`]. The cache itself uses no
//! Tokio timer, so it works on a runtime without a time driver; a source that needs one (the
//! HTTP exchange) fails there with [`ConfigError::DisabledDriver`].
//!
//! # Invariants
//! - The mutex is never held across an `.await`; the hot path never takes it.
//! - At most one fetch runs at a time; cancelling a caller never cancels it; every flight ends
//!   exactly once ([`Shared::finish`]).

mod counters;
mod flight;
mod read;
pub(crate) mod schedule;
mod watchdog;

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tracing::{debug, warn};

pub use self::counters::CacheMetrics;
use self::counters::Counters;
use self::flight::{Ending, Flight, Launch, Outcome, TaskHandle};
use self::read::{Gate, ReadPath};
pub(crate) use self::schedule::Schedule;
use self::schedule::{Deadlines, Latency};
use self::watchdog::{Check, Expire};
use crate::clock::{Clock, SharedClock, duration_nanos, nanos_duration, unix_nanos};
use crate::error::{AuthError, ConfigError};
use crate::provider::{FetchContext, FetchReason, TokenProvider, TokenSource};
use crate::retry::{equal_jitter, exponential};
use crate::token::{AccessToken, Token};

/// How many times one call starts a new flight after the one it waited for was abandoned.
const MAX_RESTARTS: u32 = 3;

/// The cache's settings; see [`TokenCacheBuilder`] for each one's meaning and default.
#[derive(Clone, Debug, PartialEq)]
pub struct CacheConfig {
    refresh_ahead: f64,
    refresh_jitter: f64,
    safety_margin: Duration,
    default_lifetime: Duration,
    probe_interval: Duration,
    max_backoff: Duration,
    fetch_timeout: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            refresh_ahead: 0.2,
            refresh_jitter: 0.5,
            safety_margin: Duration::from_secs(60),
            default_lifetime: Duration::from_secs(3600),
            probe_interval: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            fetch_timeout: Duration::from_secs(120),
        }
    }
}

impl CacheConfig {
    /// The fraction of the lifetime, before the safety margin, in which a background refresh
    /// starts.
    pub fn refresh_ahead(&self) -> f64 {
        self.refresh_ahead
    }

    /// The fraction of the refresh-ahead window randomised per token.
    pub fn refresh_jitter(&self) -> f64 {
        self.refresh_jitter
    }

    /// The safety margin before expiry (capped at a tenth of the lifetime per token).
    pub fn safety_margin(&self) -> Duration {
        self.safety_margin
    }

    /// The lifetime assumed for a token without an expiry.
    pub fn default_lifetime(&self) -> Duration {
        self.default_lifetime
    }

    /// The least time between fetches while fetches fail.
    pub fn probe_interval(&self) -> Duration {
        self.probe_interval
    }

    /// The longest wait after a failure (rejected credentials wait this long at once).
    pub fn max_backoff(&self) -> Duration {
        self.max_backoff
    }

    /// The longest one fetch may take before it fails with [`AuthError::Timeout`].
    pub fn fetch_timeout(&self) -> Duration {
        self.fetch_timeout
    }
}

/// A caching, single-flight [`TokenProvider`] over a [`TokenSource`].
///
/// Cloning is cheap and clones share the cache. Fetches run as Tokio tasks, so the cache must
/// be used inside a Tokio runtime (any flavour, any number of them).
///
/// ```
/// # use auth_core::{AccessToken, AuthError, TokenCache, TokenSource};
/// # use chrono::{TimeDelta, Utc};
/// struct Fixed;
///
/// impl TokenSource for Fixed {
///     async fn fetch_token(&self) -> Result<AccessToken, AuthError> {
///         # #[allow(clippy::disallowed_methods)]
///         let now = Utc::now();
///         Ok(AccessToken::bearer("t0k3n", now)?.with_expires_at(now + TimeDelta::hours(1)))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), AuthError> {
/// let cache = TokenCache::new(Fixed);
/// let first = cache.token().await?;
/// let second = cache.token().await?; // served from the cache
/// assert!(first.is(&second));
/// assert_eq!(cache.metrics().fetches, 1);
/// # Ok(())
/// # }
/// ```
pub struct TokenCache<S> {
    shared: Arc<Shared<S>>,
}

impl<S> Clone for TokenCache<S> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

struct Shared<S> {
    source: S,
    clock: SharedClock,
    config: CacheConfig,
    read: ReadPath,
    state: Mutex<State>,
    counters: Counters,
}

/// The authoritative cached token and its deadlines.
struct Entry {
    generation: u64,
    token: AccessToken,
    deadlines: Deadlines,
}

/// No fetch starts in `[since, until)`; the last failure's error.
struct Backoff {
    since: i64,
    until: i64,
    error: AuthError,
}

impl Backoff {
    /// Whether the backoff holds at `now`. A clock that went back before its start ends it.
    fn active(&self, now: i64) -> bool {
        self.since <= now && now < self.until
    }
}

#[derive(Default)]
struct State {
    current: Option<Entry>,
    flight: Option<Flight>,
    backoff: Option<Backoff>,
    /// A token a server rejected that no flight has been told about yet.
    rejected: Option<Token>,
    consecutive_failures: u32,
    latency: Latency,
    last_generation: u64,
    last_flight: u64,
}

impl State {
    fn next_generation(&mut self) -> u64 {
        self.last_generation += 1;
        self.last_generation
    }
}

impl<S: TokenSource> TokenCache<S> {
    /// A cache with the default settings and the system clock.
    pub fn new(source: S) -> Self {
        Self::builder(source).build()
    }

    /// Starts configuring a cache.
    pub fn builder(source: S) -> TokenCacheBuilder<S> {
        TokenCacheBuilder {
            source,
            clock: None,
            config: CacheConfig::default(),
            name: Cow::Borrowed("default"),
        }
    }

    /// A token valid for at least the safety margin.
    ///
    /// A fresh token is returned without locking or waiting. Otherwise the caller joins the
    /// single flight (starting it if none is running), or gets the still-valid token or the
    /// last error while a failure backoff lasts.
    ///
    /// # Errors
    /// The error of the fetch this call waited for, or the last fetch's error during a
    /// backoff; [`ConfigError::NoRuntime`] outside a Tokio runtime.
    #[inline]
    pub async fn token(&self) -> Result<Token, AuthError> {
        if let Some(token) = self.fresh_token() {
            return Ok(token);
        }
        self.token_slow().await
    }

    /// The token, if it is fresh (or inside its refresh-ahead window while a refresh is
    /// already running): served without locking, waiting or starting any work.
    #[inline]
    pub fn fresh_token(&self) -> Option<Token> {
        let shared = &*self.shared;
        let (token, slot_hits) = shared.read.fresh(|| shared.clock.now_unix_nanos())?;
        if slot_hits % 1024 == 0 {
            shared.counters.publish_hits(shared.read.hits());
        }
        Some(token)
    }

    /// Drops the cached token if it is still `rejected`; see [`TokenProvider::invalidate`].
    /// The next fetch tells the source which token was rejected
    /// ([`FetchContext::rejected`]).
    pub fn invalidate(&self, rejected: &Token) {
        let shared = &*self.shared;
        let mut state = shared.lock();
        if state.current.as_ref().is_some_and(|entry| {
            entry.generation == rejected.generation() && entry.token.same_token(rejected)
        }) {
            state.current = None;
            state.rejected = Some(rejected.clone());
            let generation = state.next_generation();
            shared.read.publish(generation);
            shared.counters.invalidation();
            debug!(
                generation = rejected.generation(),
                "cached token invalidated after a rejection"
            );
        }
    }

    /// A snapshot of the counters.
    pub fn metrics(&self) -> CacheMetrics {
        let hits = self.shared.read.hits();
        self.shared.counters.snapshot(hits)
    }

    /// The token source.
    pub fn source(&self) -> &S {
        &self.shared.source
    }

    /// The clock.
    pub fn clock(&self) -> &SharedClock {
        &self.shared.clock
    }

    /// The settings.
    pub fn config(&self) -> &CacheConfig {
        &self.shared.config
    }

    async fn token_slow(&self) -> Result<Token, AuthError> {
        let shared = &*self.shared;
        let mut waiting_since = None;
        let mut restarts = 0;
        let result = loop {
            let (decision, launch) = self.decide();
            // Spawned only now, with the lock released: a runtime that is shutting down drops
            // the task at once, and its completion guard then takes the lock.
            if let Some(launch) = launch {
                launch.start();
            }
            let mut result = match decision {
                Decision::Done(result) => break result,
                Decision::Wait(result) => result,
            };
            if waiting_since.is_none() {
                shared.counters.wait();
                waiting_since = Some(shared.clock.now_unix_nanos());
            }
            let outcome = result
                .wait_for(Option::is_some)
                .await
                .ok()
                .and_then(|outcome| outcome.clone());
            if let Some(Outcome::Done(result)) = outcome {
                break result;
            }
            // Abandoned (its runtime stopped or never ran it): start a new flight here.
            restarts += 1;
            if restarts >= MAX_RESTARTS {
                break Err(AuthError::FetchAborted);
            }
        };
        if let Some(since) = waiting_since {
            let waited = shared.clock.now_unix_nanos().saturating_sub(since);
            shared.counters.waited(nanos_duration(waited));
        }
        result
    }

    /// Decides, under the lock, what a caller that missed the read path gets.
    fn decide(&self) -> (Decision, Option<Launch<S>>) {
        let shared = &*self.shared;
        let mut state = shared.lock();
        shared.counters.publish_hits(shared.read.hits());
        let now = shared.clock.now_unix_nanos();
        let backing_off = state.backoff.as_ref().is_some_and(|b| b.active(now));

        if let Some(entry) = &state.current
            && now < entry.deadlines.must_refresh_at
        {
            // Fresh, or in the refresh-ahead window: serve, and refresh in the background if
            // nobody is and no backoff forbids it.
            let token = shared.serve(entry);
            let refresh =
                now >= entry.deadlines.refresh_at && state.flight.is_none() && !backing_off;
            let launch = if refresh {
                match self.start_flight(&mut state, FetchReason::RefreshAhead) {
                    Ok((_, launch)) => Some(launch),
                    Err(error) => {
                        warn!(%error, "could not start a background token refresh");
                        None
                    }
                }
            } else {
                None
            };
            return (Decision::Done(Ok(token)), launch);
        }

        if let Some(flight) = &state.flight {
            return (Decision::Wait(flight.result.subscribe()), None);
        }
        if backing_off {
            // No fetch before the backoff ends: a still-valid token, else the last error.
            let result = match (&state.current, &state.backoff) {
                (Some(entry), _) if now < entry.deadlines.expires_at => Ok(shared.serve(entry)),
                (_, Some(backoff)) => Err(backoff.error.clone()),
                (_, None) => Err(AuthError::FetchAborted),
            };
            return (Decision::Done(result), None);
        }
        let reason = if state.rejected.is_some() {
            FetchReason::Rejected
        } else if state.current.is_some() {
            FetchReason::Expiring
        } else {
            FetchReason::Empty
        };
        match self.start_flight(&mut state, reason) {
            Ok((result, launch)) => (Decision::Wait(result), Some(launch)),
            Err(error) => (Decision::Done(Err(error)), None),
        }
    }

    /// Registers the single flight; the caller holds the lock and starts the returned launch
    /// after releasing it.
    fn start_flight(
        &self,
        state: &mut State,
        reason: FetchReason,
    ) -> Result<(watch::Receiver<Option<Outcome>>, Launch<S>), AuthError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ConfigError::NoRuntime)?;
        let shared = &*self.shared;
        let background = reason == FetchReason::RefreshAhead;
        let (sender, receiver) = watch::channel(None);
        state.last_flight += 1;
        let id = state.last_flight;
        let rejected = state.rejected.take();
        let context = FetchContext::new(reason, rejected.clone(), shared.schedule(state));
        let task = Arc::new(TaskHandle::default());
        state.flight = Some(Flight {
            id,
            background,
            result: sender,
            task: Arc::clone(&task),
            rejected,
        });
        shared.read.set_gate(Gate::Fetching);
        shared.counters.fetch(background);
        debug!(?reason, "token fetch started");
        let launch = Launch {
            runtime,
            id,
            background,
            context,
            task,
            shared: Arc::clone(&self.shared),
        };
        Ok((receiver, launch))
    }
}

/// What a caller that missed the read path gets.
enum Decision {
    /// An answer now.
    Done(Result<Token, AuthError>),
    /// The outcome of the running flight.
    Wait(watch::Receiver<Option<Outcome>>),
}

impl<S> Shared<S> {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; if something ever did, the state is still
        // consistent field by field, so carrying on beats wedging every caller.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn schedule(&self, state: &State) -> Schedule {
        Schedule::new(&self.config, state.latency.slowest())
    }

    /// Serves the current entry: counts a hit and refreshes this thread's replica.
    fn serve(&self, entry: &Entry) -> Token {
        self.read.count_hit();
        self.replica(entry)
    }

    /// A handle to the current entry, refreshing this thread's replica; no hit is counted.
    fn replica(&self, entry: &Entry) -> Token {
        self.read.fill(
            entry.generation,
            &entry.token,
            entry.deadlines.refresh_at,
            entry.deadlines.must_refresh_at,
        )
    }

    /// Ends flight `id` (if it is still the running one) and tells its waiters.
    fn finish(&self, id: u64, ending: Ending) {
        let now = self.clock.now_unix_nanos();
        let mut state = self.lock();
        let Some(flight) = state.flight.take_if(|flight| flight.id == id) else {
            return;
        };
        let outcome = match ending {
            Ending::Answered { result, started } => {
                state.latency.record(now.saturating_sub(started));
                self.answered(&mut state, &flight, result, now)
            }
            Ending::Dropped | Ending::Stranded => {
                flight.task.abort();
                self.abandoned(&mut state, &flight)
            }
            Ending::TimedOut => {
                flight.task.abort();
                let error = AuthError::timeout(self.config.fetch_timeout);
                self.failed(&mut state, &flight, error, now)
            }
        };
        drop(state);
        flight.result.send_replace(Some(outcome));
    }

    fn answered(
        &self,
        state: &mut State,
        flight: &Flight,
        result: Result<AccessToken, AuthError>,
        now: i64,
    ) -> Outcome {
        let token = match result {
            Ok(token) => token,
            Err(error) => return self.failed(state, flight, error, now),
        };
        // A token equal to a rejection this flight's source was not told about (it started
        // before the rejection) must not come back: ask again, telling the source.
        if state
            .rejected
            .as_ref()
            .is_some_and(|rejected| rejected.same_token(&token))
        {
            debug!("the fetch returned a token rejected meanwhile; fetching again");
            return self.abandoned(state, flight);
        }
        let deadlines = self.schedule(state).deadlines(
            unix_nanos(token.obtained_at()),
            token.expires_at().map(unix_nanos),
            fastrand::f64(),
        );
        if deadlines.expires_at <= now {
            let expired_for = nanos_duration(now.saturating_sub(deadlines.expires_at));
            warn!(
                expires_at = ?token.expires_at(),
                obtained_at = %token.obtained_at(),
                "the token source returned a token that had already expired: the token server's clock, or the source, is wrong"
            );
            return self.failed(
                state,
                flight,
                AuthError::ExpiredOnArrival { expired_for },
                now,
            );
        }
        let generation = state.next_generation();
        let entry = Entry {
            generation,
            token,
            deadlines,
        };
        let served = Token::with_generation(Arc::new(entry.token.deep_copy()), generation);
        state.current = Some(entry);
        state.backoff = None;
        state.consecutive_failures = 0;
        self.read.publish(generation);
        self.read.set_gate(Gate::Open);
        debug!(generation, "token fetch succeeded");
        Outcome::Done(Ok(served))
    }

    fn failed(&self, state: &mut State, flight: &Flight, error: AuthError, now: i64) -> Outcome {
        self.counters.failure(flight.background);
        state.consecutive_failures = state.consecutive_failures.saturating_add(1);
        if state.rejected.is_none() {
            state.rejected.clone_from(&flight.rejected);
        }
        let usable = state
            .current
            .as_ref()
            .filter(|e| now < e.deadlines.expires_at);
        let delay = self.failure_delay(&error, usable, state.consecutive_failures, now);
        let until = now.saturating_add(duration_nanos(delay));
        self.read.set_gate(Gate::BackingOff { since: now, until });
        warn!(
            %error,
            background = flight.background,
            consecutive_failures = state.consecutive_failures,
            next_attempt_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            "token fetch failed"
        );
        state.backoff = Some(Backoff {
            since: now,
            until,
            error: error.clone(),
        });
        match &state.current {
            // The waiters waited: the still-valid token they get is no hit (and a failed
            // background refresh has no waiters at all).
            Some(entry) if now < entry.deadlines.expires_at => {
                Outcome::Done(Ok(self.replica(entry)))
            }
            _ => Outcome::Done(Err(error)),
        }
    }

    fn abandoned(&self, state: &mut State, flight: &Flight) -> Outcome {
        self.counters.abandoned();
        if state.rejected.is_none() {
            state.rejected.clone_from(&flight.rejected);
        }
        self.read.set_gate(Gate::Open);
        debug!(
            flight = flight.id,
            "token fetch abandoned: its runtime stopped or never ran it"
        );
        Outcome::Abandoned
    }

    /// How long after a failure no new fetch starts (see the module docs).
    fn failure_delay(
        &self,
        error: &AuthError,
        usable: Option<&Entry>,
        failures: u32,
        now: i64,
    ) -> Duration {
        let (probe, max) = (self.config.probe_interval, self.config.max_backoff);
        if !error.is_retryable() {
            return max;
        }
        let asked = error.retry_after().unwrap_or_default().min(max);
        let delay = match usable {
            Some(entry) if now < entry.deadlines.must_refresh_at => {
                // A background refresh failed: back off, but leave room for another try
                // before callers would have to wait.
                let room = nanos_duration(entry.deadlines.must_refresh_at.saturating_sub(now) / 2);
                equal_jitter(exponential(probe, max, failures)).min(room)
            }
            _ => probe,
        };
        delay.max(asked).max(probe.min(max))
    }
}

impl<S: TokenSource> Expire for Shared<S> {
    fn expire(&self, flight: u64, check: Check) {
        match check {
            Check::FirstPoll => {
                let stranded = self.lock().flight.as_ref().is_some_and(|f| {
                    f.id == flight && !f.task.polled.load(std::sync::atomic::Ordering::Acquire)
                });
                if stranded {
                    warn!(
                        "a token fetch was never run by the runtime it was spawned on; starting it again elsewhere"
                    );
                    self.finish(flight, Ending::Stranded);
                }
            }
            Check::Timeout => self.finish(flight, Ending::TimedOut),
        }
    }
}

impl<S: TokenSource> TokenProvider for TokenCache<S> {
    fn token(&self) -> impl Future<Output = Result<Token, AuthError>> + Send {
        TokenCache::token(self)
    }

    fn invalidate(&self, rejected: &Token) {
        TokenCache::invalidate(self, rejected);
    }

    fn fresh_token(&self) -> Option<Token> {
        TokenCache::fresh_token(self)
    }

    fn clock(&self) -> SharedClock {
        self.shared.clock.clone()
    }
}

impl<S: fmt::Debug + TokenSource> fmt::Debug for TokenCache<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("source", &self.shared.source)
            .field("config", &self.shared.config)
            .field("metrics", &self.metrics())
            .finish_non_exhaustive()
    }
}

/// Configures a [`TokenCache`].
#[must_use]
pub struct TokenCacheBuilder<S> {
    source: S,
    clock: Option<SharedClock>,
    config: CacheConfig,
    name: Cow<'static, str>,
}

impl<S: fmt::Debug> fmt::Debug for TokenCacheBuilder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCacheBuilder")
            .field("source", &self.source)
            .field("config", &self.config)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<S: TokenSource> TokenCacheBuilder<S> {
    /// The clock deciding expiry (default: the system clock, [`SharedClock::system`]). Use the
    /// same clock as the source, so that `obtained_at` and the cache agree; vendor crates'
    /// `into_cache_builder` does.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(SharedClock::new(clock));
        self
    }

    /// A name for this cache in logs and in the published metrics' `cache` label (default:
    /// `default`).
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// The fraction of the lifetime, before the safety margin, in which a background refresh
    /// starts (default 0.2). Clamped to `0.0..=0.9`; 0 disables refresh ahead. The window is
    /// never shorter than six times the slowest recent fetch.
    pub fn refresh_ahead(mut self, fraction: f64) -> Self {
        self.config.refresh_ahead = clamp(fraction, 0.0, 0.9, 0.2);
        self
    }

    /// The fraction of the refresh-ahead window that is randomised per token (default 0.5: a
    /// refresh starts in the first half of the window). Clamped to `0.0..=1.0`; 0 makes it
    /// deterministic.
    pub fn refresh_jitter(mut self, fraction: f64) -> Self {
        self.config.refresh_jitter = clamp(fraction, 0.0, 1.0, 0.5);
        self
    }

    /// How long before expiry callers stop being served the cached token and wait for a new
    /// one (default 60 s), capped per token at a tenth of its lifetime.
    pub fn safety_margin(mut self, margin: Duration) -> Self {
        self.config.safety_margin = margin;
        self
    }

    /// The lifetime assumed for a token the server gave no expiry (default 1 hour, at least
    /// 1 s). Never "forever": a token that lives on in a cache after the server revoked it
    /// would only be found out by a failed call.
    pub fn default_lifetime(mut self, lifetime: Duration) -> Self {
        self.config.default_lifetime = lifetime.max(Duration::from_secs(1));
        self
    }

    /// The failure timing: `probe` is the least time between fetches while they fail (default
    /// 1 s), `max` the longest wait (default 60 s; rejected credentials wait this long). See
    /// the module docs.
    pub fn failure_backoff(mut self, probe: Duration, max: Duration) -> Self {
        self.config.probe_interval = probe;
        self.config.max_backoff = max.max(probe);
        self
    }

    /// The longest one fetch may take (default 120 s) before its waiters get
    /// [`AuthError::Timeout`] and the cache backs off: a source that hangs cannot wedge the
    /// cache, whatever its runtime does. The client-credentials exchange bounds itself well
    /// within it (30 s per attempt, 60 s for all retries).
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.config.fetch_timeout = timeout;
        self
    }

    /// Builds the cache.
    pub fn build(self) -> TokenCache<S> {
        TokenCache {
            shared: Arc::new(Shared {
                source: self.source,
                clock: self.clock.unwrap_or_default(),
                config: self.config,
                read: ReadPath::new(),
                state: Mutex::new(State::default()),
                counters: Counters::new(&self.name),
            }),
        }
    }
}

fn clamp(value: f64, min: f64, max: f64, default: f64) -> f64 {
    if value.is_nan() {
        default
    } else {
        value.clamp(min, max)
    }
}
