//! [`TokenCache`]: turns any [`TokenSource`] into a [`TokenProvider`] with a lock-free hot
//! path, single flight, refresh ahead, compare-and-invalidate and failure backoff.
//!
//! # States of the cached token
//! With `L` its lifetime (from `obtained_at` to `expires_at`, or the default lifetime when the
//! server gave none):
//! - **fresh** until the refresh-ahead point (by default somewhere in 80 %..90 % of `L`,
//!   random per token so a fleet does not refresh in lockstep): served from the read path.
//! - **refresh ahead** until the must-refresh point: still served at once, and the first
//!   caller to see this state starts one background fetch.
//! - **must refresh** from `expires_at - min(safety margin, L / 2)`, and **expired**: callers
//!   wait for the single flight.
//!
//! # Failures
//! A failed fetch records its error and a backoff (exponential with equal jitter for
//! retryable errors, the maximum at once for the others, such as rejected credentials).
//! Until the backoff ends no new fetch starts: callers get the still-valid token if there is
//! one, else the recorded error. The waiters of a failed fetch likewise get the still-valid
//! token if there is one, else that fetch's error.
//!
//! # Invariants
//! - The mutex is never held across an `.await`; the hot path never takes it.
//! - At most one fetch runs at a time, in its own task: cancelling a caller never cancels it,
//!   a fetch that panics or is dropped still completes its flight with
//!   [`AuthError::FetchAborted`], and one that hangs is ended by the fetch timeout.

mod read;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;
use tracing::{Instrument as _, debug, warn};

use self::read::ReadPath;
use crate::clock::{Clock, SystemClock, duration_nanos, unix_nanos};
use crate::error::{AuthError, ConfigError};
use crate::provider::{TokenProvider, TokenSource};
use crate::retry::{equal_jitter, exponential};
use crate::token::AccessToken;

/// The cache's settings; see [`TokenCacheBuilder`] for each one's meaning and default.
#[derive(Clone, Debug, PartialEq)]
pub struct CacheConfig {
    refresh_ahead: f64,
    refresh_jitter: f64,
    safety_margin: Duration,
    default_lifetime: Duration,
    backoff_initial: Duration,
    backoff_max: Duration,
    fetch_timeout: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            refresh_ahead: 0.2,
            refresh_jitter: 0.5,
            safety_margin: Duration::from_secs(60),
            default_lifetime: Duration::from_secs(3600),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            fetch_timeout: Duration::from_secs(120),
        }
    }
}

impl CacheConfig {
    /// The fraction of the lifetime at its end in which a background refresh starts.
    pub fn refresh_ahead(&self) -> f64 {
        self.refresh_ahead
    }

    /// The fraction of the refresh-ahead window randomised per token.
    pub fn refresh_jitter(&self) -> f64 {
        self.refresh_jitter
    }

    /// The safety margin before expiry (capped at half the lifetime per token).
    pub fn safety_margin(&self) -> Duration {
        self.safety_margin
    }

    /// The lifetime assumed for a token without an expiry.
    pub fn default_lifetime(&self) -> Duration {
        self.default_lifetime
    }

    /// The backoff bounds after failed fetches.
    pub fn failure_backoff(&self) -> (Duration, Duration) {
        (self.backoff_initial, self.backoff_max)
    }

    /// The longest one fetch may take before it fails with [`AuthError::Timeout`].
    pub fn fetch_timeout(&self) -> Duration {
        self.fetch_timeout
    }
}

/// Counters of what the cache did, since it was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheMetrics {
    /// Calls to the token source (fetches started), background refreshes included.
    pub fetches: u64,
    /// Tokens served without waiting for a fetch.
    pub hits: u64,
    /// Background refreshes started in the refresh-ahead window.
    pub refreshes_ahead: u64,
    /// Invalidations that dropped the cached token (reports about an already replaced token
    /// are not counted).
    pub invalidations: u64,
    /// Fetches that failed.
    pub failures: u64,
}

/// A caching, single-flight [`TokenProvider`] over a [`TokenSource`].
///
/// Cloning is cheap and clones share the cache. Fetches run as Tokio tasks, so the cache must
/// be used inside a Tokio runtime.
///
/// ```
/// # use std::sync::Arc;
/// # use auth_core::{AccessToken, AuthError, TokenCache, TokenSource};
/// # use async_trait::async_trait;
/// # use chrono::{TimeDelta, Utc};
/// struct Fixed;
///
/// #[async_trait]
/// impl TokenSource for Fixed {
///     async fn fetch_token(&self) -> Result<AccessToken, AuthError> {
///         let now = Utc::now();
///         Ok(AccessToken::bearer("t0k3n", now)
///             .map_err(|_| AuthError::FetchAborted)?
///             .with_expires_at(now + TimeDelta::hours(1)))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), AuthError> {
/// let cache = TokenCache::new(Fixed);
/// let first = cache.token().await?;
/// let second = cache.token().await?; // served from the cache
/// assert!(first.same_token(&second));
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
    clock: Arc<dyn Clock>,
    config: CacheConfig,
    read: ReadPath,
    state: Mutex<State>,
    fetches: AtomicU64,
    refreshes_ahead: AtomicU64,
    invalidations: AtomicU64,
    failures: AtomicU64,
}

/// The authoritative cached token and its deadlines (Unix nanoseconds).
struct Entry {
    generation: u64,
    token: AccessToken,
    refresh_at: i64,
    must_refresh_at: i64,
    expires_at: i64,
}

type FlightResult = Result<Arc<AccessToken>, AuthError>;

struct Flight {
    id: u64,
    result: watch::Receiver<Option<FlightResult>>,
}

struct Backoff {
    until: i64,
    error: AuthError,
}

#[derive(Default)]
struct State {
    current: Option<Entry>,
    flight: Option<Flight>,
    backoff: Option<Backoff>,
    consecutive_failures: u32,
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
    pub async fn token(&self) -> Result<Arc<AccessToken>, AuthError> {
        let shared = &*self.shared;
        if let Some(token) = shared.read.fresh(|| shared.clock.now_unix_nanos()) {
            return Ok(token);
        }
        self.token_slow().await
    }

    /// Drops the cached token if it is still `rejected`; see [`TokenProvider::invalidate`].
    pub fn invalidate(&self, rejected: &AccessToken) {
        let shared = &*self.shared;
        let mut state = shared.lock();
        if state
            .current
            .as_ref()
            .is_some_and(|entry| entry.token.same_token(rejected))
        {
            state.current = None;
            let generation = state.next_generation();
            shared.read.publish(generation);
            shared.invalidations.fetch_add(1, Ordering::Relaxed);
            debug!("cached token invalidated after a rejection");
        }
    }

    /// A snapshot of the counters.
    pub fn metrics(&self) -> CacheMetrics {
        let shared = &*self.shared;
        CacheMetrics {
            fetches: shared.fetches.load(Ordering::Relaxed),
            hits: shared.read.hits(),
            refreshes_ahead: shared.refreshes_ahead.load(Ordering::Relaxed),
            invalidations: shared.invalidations.load(Ordering::Relaxed),
            failures: shared.failures.load(Ordering::Relaxed),
        }
    }

    /// The token source.
    pub fn source(&self) -> &S {
        &self.shared.source
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.shared.clock
    }

    /// The settings.
    pub fn config(&self) -> &CacheConfig {
        &self.shared.config
    }

    async fn token_slow(&self) -> Result<Arc<AccessToken>, AuthError> {
        let (decision, launch) = self.decide();
        // Spawned only now, with the lock released: a runtime that is shutting down drops the
        // task at once, and its completion guard then takes the lock.
        if let Some(launch) = launch {
            launch.start();
        }
        let mut result = match decision {
            Decision::Done(result) => return result,
            Decision::Wait(result) => result,
        };
        match result.wait_for(Option::is_some).await {
            Ok(outcome) => outcome.clone().unwrap_or(Err(AuthError::FetchAborted)),
            // The sender is gone without a result: only if the runtime dropped the task before
            // its completion guard could run.
            Err(_) => Err(AuthError::FetchAborted),
        }
    }

    /// Decides, under the lock, what a caller that missed the read path gets.
    fn decide(&self) -> (Decision, Option<Launch<S>>) {
        let shared = &*self.shared;
        let mut state = shared.lock();
        let now = shared.clock.now_unix_nanos();
        let backing_off = state.backoff.as_ref().is_some_and(|b| now < b.until);

        if let Some(entry) = &state.current
            && now < entry.must_refresh_at
        {
            // Fresh, or in the refresh-ahead window: serve, and refresh in the background if
            // nobody is and no backoff forbids it.
            let token = shared.serve(entry);
            let refresh = now >= entry.refresh_at && state.flight.is_none() && !backing_off;
            let launch = if refresh {
                match self.start_flight(&mut state, true) {
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
            return (Decision::Wait(flight.result.clone()), None);
        }
        if backing_off {
            // No fetch before the backoff ends: a still-valid token, else the last error.
            let result = match (&state.current, &state.backoff) {
                (Some(entry), _) if now < entry.expires_at => Ok(shared.serve(entry)),
                (_, Some(backoff)) => Err(backoff.error.clone()),
                (_, None) => Err(AuthError::FetchAborted),
            };
            return (Decision::Done(result), None);
        }
        match self.start_flight(&mut state, false) {
            Ok((result, launch)) => (Decision::Wait(result), Some(launch)),
            Err(error) => (Decision::Done(Err(error)), None),
        }
    }

    /// Registers the single flight; the caller holds the lock and starts the returned launch
    /// after releasing it.
    fn start_flight(
        &self,
        state: &mut State,
        background: bool,
    ) -> Result<(watch::Receiver<Option<FlightResult>>, Launch<S>), AuthError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ConfigError::NoRuntime)?;
        let shared = &*self.shared;
        let (sender, receiver) = watch::channel(None);
        state.last_flight += 1;
        let id = state.last_flight;
        state.flight = Some(Flight {
            id,
            result: receiver.clone(),
        });
        shared.read.set_gate(i64::MAX);
        shared.fetches.fetch_add(1, Ordering::Relaxed);
        if background {
            shared.refreshes_ahead.fetch_add(1, Ordering::Relaxed);
        }
        debug!(background, "token fetch started");
        let launch = Launch {
            runtime,
            background,
            completion: Completion {
                shared: Arc::clone(&self.shared),
                id,
                sender: Some(sender),
            },
        };
        Ok((receiver, launch))
    }
}

/// What a caller that missed the read path gets.
enum Decision {
    /// An answer now.
    Done(Result<Arc<AccessToken>, AuthError>),
    /// The result of the running flight.
    Wait(watch::Receiver<Option<FlightResult>>),
}

/// A registered flight, ready to be spawned.
struct Launch<S> {
    runtime: tokio::runtime::Handle,
    background: bool,
    completion: Completion<S>,
}

impl<S: TokenSource> Launch<S> {
    fn start(self) {
        let Self {
            runtime,
            background,
            mut completion,
        } = self;
        let span = tracing::debug_span!("token_cache_fetch", background);
        runtime.spawn(
            async move {
                // A source that never answers must not wedge the cache: the flight ends after
                // the fetch timeout whatever the source does.
                let limit = completion.shared.config.fetch_timeout;
                let result =
                    match tokio::time::timeout(limit, completion.shared.source.fetch_token()).await
                    {
                        Ok(result) => result,
                        Err(_) => Err(AuthError::Timeout { after: limit }),
                    };
                completion.complete(result);
            }
            .instrument(span),
        );
    }
}

impl<S> Shared<S> {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; if something ever did, the state is still
        // consistent field by field, so carrying on beats wedging every caller.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Serves the current entry: counts a hit and refreshes this thread's replica.
    fn serve(&self, entry: &Entry) -> Arc<AccessToken> {
        self.read.count_hit();
        self.read.fill(
            entry.generation,
            &entry.token,
            entry.refresh_at,
            entry.must_refresh_at,
        )
    }

    fn entry(&self, token: AccessToken, generation: u64) -> Entry {
        let config = &self.config;
        let obtained_at = unix_nanos(token.obtained_at());
        let expires_at = token.expires_at().map_or_else(
            || obtained_at.saturating_add(duration_nanos(config.default_lifetime)),
            unix_nanos,
        );
        let lifetime = expires_at.saturating_sub(obtained_at).max(0);
        let margin = duration_nanos(config.safety_margin).min(lifetime / 2);
        let must_refresh_at = expires_at.saturating_sub(margin);
        let window = lifetime as f64 * config.refresh_ahead;
        let ahead = window * (1.0 - config.refresh_jitter * fastrand::f64());
        let refresh_at = expires_at.saturating_sub(ahead as i64).min(must_refresh_at);
        Entry {
            generation,
            token,
            refresh_at,
            must_refresh_at,
            expires_at,
        }
    }

    /// Records a fetch's result and returns what its waiters get.
    fn complete(&self, flight: u64, result: Result<AccessToken, AuthError>) -> FlightResult {
        let now = self.clock.now_unix_nanos();
        let mut state = self.lock();
        if state.flight.as_ref().is_some_and(|f| f.id == flight) {
            state.flight = None;
        }
        match result {
            Ok(token) => {
                let generation = state.next_generation();
                let entry = self.entry(token, generation);
                let served = Arc::new(entry.token.deep_copy());
                state.current = Some(entry);
                state.backoff = None;
                state.consecutive_failures = 0;
                self.read.publish(generation);
                self.read.set_gate(i64::MIN);
                debug!("token fetch succeeded");
                Ok(served)
            }
            Err(error) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                state.consecutive_failures = state.consecutive_failures.saturating_add(1);
                let (initial, max) = (self.config.backoff_initial, self.config.backoff_max);
                let delay = if error.is_retryable() {
                    equal_jitter(exponential(initial, max, state.consecutive_failures))
                } else {
                    max
                };
                let until = now.saturating_add(duration_nanos(delay));
                self.read.set_gate(until);
                warn!(
                    %error,
                    consecutive_failures = state.consecutive_failures,
                    next_attempt_in_ms = delay.as_millis() as u64,
                    "token fetch failed"
                );
                state.backoff = Some(Backoff {
                    until,
                    error: error.clone(),
                });
                match &state.current {
                    Some(entry) if now < entry.expires_at => Ok(self.serve(entry)),
                    _ => Err(error),
                }
            }
        }
    }
}

/// Completes a flight exactly once: with the fetch's result, or with
/// [`AuthError::FetchAborted`] if the task is dropped first (a panic in the source, or the
/// runtime shutting down). Without it a dead fetch would leave every later caller waiting.
struct Completion<S> {
    shared: Arc<Shared<S>>,
    id: u64,
    sender: Option<watch::Sender<Option<FlightResult>>>,
}

impl<S> Completion<S> {
    fn complete(&mut self, result: Result<AccessToken, AuthError>) {
        if let Some(sender) = self.sender.take() {
            let outcome = self.shared.complete(self.id, result);
            sender.send_replace(Some(outcome));
        }
    }
}

impl<S> Drop for Completion<S> {
    fn drop(&mut self) {
        self.complete(Err(AuthError::FetchAborted));
    }
}

#[async_trait]
impl<S: TokenSource> TokenProvider for TokenCache<S> {
    async fn token(&self) -> Result<Arc<AccessToken>, AuthError> {
        TokenCache::token(self).await
    }

    fn invalidate(&self, rejected: &AccessToken) {
        TokenCache::invalidate(self, rejected);
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
    clock: Option<Arc<dyn Clock>>,
    config: CacheConfig,
}

impl<S: TokenSource> TokenCacheBuilder<S> {
    /// The clock deciding expiry (default: a [`SystemClock`]). Use the same clock as the
    /// source, so that `obtained_at` and the cache agree.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The fraction of the lifetime, at its end, in which a background refresh starts
    /// (default 0.2: the last 20 %). Clamped to `0.0..=0.9`; 0 disables refresh ahead.
    pub fn refresh_ahead(mut self, fraction: f64) -> Self {
        self.config.refresh_ahead = clamp(fraction, 0.0, 0.9, 0.2);
        self
    }

    /// The fraction of the refresh-ahead window that is randomised per token (default 0.5:
    /// with the default window, refreshing starts between 80 % and 90 % of the lifetime).
    /// Clamped to `0.0..=1.0`; 0 makes it deterministic.
    pub fn refresh_jitter(mut self, fraction: f64) -> Self {
        self.config.refresh_jitter = clamp(fraction, 0.0, 1.0, 0.5);
        self
    }

    /// How long before expiry callers stop being served the cached token and wait for a new
    /// one (default 60 s), capped per token at half its lifetime.
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

    /// The backoff between failed fetches (default 1 s doubling up to 60 s, equal jitter);
    /// non-retryable failures wait `max` at once.
    pub fn failure_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.config.backoff_initial = initial;
        self.config.backoff_max = max.max(initial);
        self
    }

    /// The longest one fetch may take (default 120 s) before its waiters get
    /// [`AuthError::Timeout`] and the cache backs off: a source that hangs cannot wedge the
    /// cache. The client-credentials exchange bounds itself well within it (30 s per attempt,
    /// 60 s for all retries).
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.config.fetch_timeout = timeout;
        self
    }

    /// Builds the cache.
    pub fn build(self) -> TokenCache<S> {
        TokenCache {
            shared: Arc::new(Shared {
                source: self.source,
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock::new())),
                config: self.config,
                read: ReadPath::new(),
                state: Mutex::new(State::default()),
                fetches: AtomicU64::new(0),
                refreshes_ahead: AtomicU64::new(0),
                invalidations: AtomicU64::new(0),
                failures: AtomicU64::new(0),
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
