//! A model-based test of the token cache (proptest).
//!
//! Random sequences of operations run against a real [`TokenCache`] and against [`Model`], a
//! plain state machine written from the rules in `cache/mod.rs` and `cache/schedule.rs`:
//! callers on their own tasks (some cancelled while they wait), `fresh_token`, invalidations of
//! the latest token, of a stale one and of a look-alike, the clock moved forward and back, and
//! a scripted source whose fetch is held open until the sequence says how it ends: a token
//! (any lifetime, obtained at any time, or the token just rejected), an error (retryable with
//! or without `Retry-After`, or not retryable), a panic, or a hang that only the fetch timeout
//! ends. Clock moves while a fetch is held are its latency.
//!
//! After every step: every token a caller got is the model's, neither invalidated nor expired;
//! at most one fetch ever ran at a time; the source was called exactly as often as the model
//! says, for the reason and with the rejected token the model says; every waiter got its answer
//! when its flight ended (a hung one at the fetch timeout, give or take the watchdog's
//! scheduling); and every counter of
//! [`CacheMetrics`](auth_core::CacheMetrics) equals the model's.
//!
//! Randomness in the cache (the refresh point's jitter, the equal jitter of a backoff) is an
//! interval in the model, narrowed by what the cache is seen to do. Time is a [`ManualClock`];
//! a fetch is held on a channel, never on a sleep; every wait is on a condition with a
//! deadline. The fetch timeout and the first-poll check are kept in real time by the cache's
//! watchdog: a machine so slow that one fires on its own (a held fetch timed out, a fetch task
//! not polled within its grace) makes the case inconclusive (rejected), never failed.

use std::collections::{BTreeMap, BTreeSet};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use auth_core::{
    AccessToken, AuthError, Clock, FetchContext, FetchReason, ManualClock, Token, TokenCache,
    TokenSource,
};
use chrono::DateTime;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
/// How many times one call starts a new flight after the one it waited for was abandoned.
const MAX_RESTARTS: u32 = 3;
/// How many recent fetch durations the refresh window accounts for.
const LATENCY_SAMPLES: usize = 8;
/// How long a condition may take to hold. Each holds within microseconds unless the cache is
/// wrong; shorter than the suite's deadline because shrinking a failure meets it often.
const DEADLINE: Duration = Duration::from_secs(3);
/// How late past the fetch timeout a hung fetch's waiters may get their answer (the watchdog
/// is a thread on a loaded machine).
const TIMEOUT_SLACK: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// Operations

/// The cache's settings for one sequence.
#[derive(Clone, Debug)]
struct Settings {
    refresh_ahead: f64,
    jitter: f64,
    margin: i64,
    default_lifetime: i64,
    probe: i64,
    max_backoff: i64,
    fetch_timeout: Duration,
}

#[derive(Clone, Debug)]
enum Op {
    /// A new task calls `token()`.
    Call,
    /// A new task calls `token()` and is cancelled if it waits.
    CallAndCancel,
    /// `fresh_token()`, the hot path alone.
    FreshToken,
    /// `invalidate` of a token some caller got.
    Invalidate(Which),
    /// The clock moves forward, by milliseconds.
    Advance(u64),
    /// The clock moves back, by milliseconds.
    Rewind(u64),
    /// The clock moves (either way) to a point of the model's state, give or take
    /// milliseconds: where the interesting boundaries are.
    Jump(Landmark, i64),
    /// The running fetch answers (nothing happens if none runs).
    Answer(Reply),
    /// The running fetch never answers: the fetch timeout ends it.
    Hang,
}

#[derive(Clone, Copy, Debug)]
enum Landmark {
    /// The earliest and the latest possible refresh point of the cached token.
    RefreshEarliest,
    RefreshLatest,
    /// Where callers stop being served the cached token.
    MustRefresh,
    Expiry,
    /// The start, and the earliest and latest possible end, of the backoff.
    BackoffStart,
    BackoffEarliestEnd,
    BackoffLatestEnd,
}

#[derive(Clone, Copy, Debug)]
enum Which {
    /// The token the latest caller got.
    Latest,
    /// The first token any caller got.
    Oldest,
    /// The latest token's value, but not from this cache (generation 0).
    Lookalike,
}

#[derive(Clone, Debug)]
enum Reply {
    Token {
        /// Seconds from `obtained_at` to `expires_at`; no expiry if `None`.
        lifetime: Option<u64>,
        /// `obtained_at` relative to the clock at the answer, in seconds.
        obtained: i64,
        /// The value of the token rejected last, if any (a server that hands it out again).
        rejected_again: bool,
    },
    Fail {
        retryable: bool,
        retry_after: Option<u64>,
    },
    Panic,
}

fn settings(fetch_timeout: Duration) -> impl Strategy<Value = Settings> {
    (
        prop::sample::select(vec![0.0, 0.2, 0.5]),
        prop::sample::select(vec![0.0, 0.5, 1.0]),
        prop::sample::select(vec![0, 10, 60]),
        prop::sample::select(vec![1, 60, 3600]),
        prop::sample::select(vec![100, 1_000, 5_000]),
        prop::sample::select(vec![0, 10_000, 60_000]),
    )
        .prop_map(
            move |(refresh_ahead, jitter, margin, lifetime, probe, max)| Settings {
                refresh_ahead,
                jitter,
                margin: margin * S,
                default_lifetime: lifetime * S,
                probe: probe * MS,
                max_backoff: (max * MS).max(probe * MS),
                fetch_timeout,
            },
        )
}

fn millis() -> impl Strategy<Value = u64> {
    prop_oneof![1..1_000u64, 1_000..120_000u64, 120_000..7_200_000u64]
}

fn landmark() -> impl Strategy<Value = Landmark> {
    prop::sample::select(vec![
        Landmark::RefreshEarliest,
        Landmark::RefreshLatest,
        Landmark::MustRefresh,
        Landmark::Expiry,
        Landmark::BackoffStart,
        Landmark::BackoffEarliestEnd,
        Landmark::BackoffLatestEnd,
    ])
}

fn reply() -> impl Strategy<Value = Reply> {
    let lifetime = prop_oneof![
        1 => Just(None),
        1 => (0..3u64).prop_map(Some),
        6 => prop::sample::select(vec![10, 60, 300, 1_000, 3_600, 36_000]).prop_map(Some),
    ];
    let obtained = prop_oneof![6 => Just(0), 1 => -7_200..60i64];
    prop_oneof![
        8 => (lifetime, obtained, prop::bool::weighted(0.3)).prop_map(
            |(lifetime, obtained, rejected_again)| Reply::Token { lifetime, obtained, rejected_again }
        ),
        2 => (any::<bool>(), prop::option::of(0..120u64))
            .prop_map(|(retryable, retry_after)| Reply::Fail { retryable, retry_after }),
        1 => Just(Reply::Panic),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => Just(Op::Call),
        2 => Just(Op::CallAndCancel),
        1 => Just(Op::FreshToken),
        2 => prop::sample::select(vec![Which::Latest, Which::Oldest, Which::Lookalike])
            .prop_map(Op::Invalidate),
        2 => millis().prop_map(Op::Advance),
        1 => millis().prop_map(Op::Rewind),
        4 => (landmark(), prop_oneof![Just(0), Just(-1), Just(1), -2_000..2_000i64])
            .prop_map(|(landmark, offset)| Op::Jump(landmark, offset)),
        5 => reply().prop_map(Op::Answer),
    ]
}

/// Operations with a hang or two among them.
fn ops_with_hangs() -> impl Strategy<Value = Vec<Op>> {
    (
        prop::collection::vec(op(), 1..30),
        prop::collection::vec(any::<prop::sample::Index>(), 1..3),
    )
        .prop_map(|(mut ops, hangs)| {
            for at in hangs {
                let at = at.index(ops.len() + 1);
                ops.insert(at, Op::Hang);
            }
            ops
        })
}

// ---------------------------------------------------------------------------------------------
// What callers see

/// A token as the model knows it: its value and generation.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Served {
    secret: String,
    generation: u64,
}

impl Served {
    fn of(token: &Token) -> Self {
        Self {
            secret: token.expose_secret().to_owned(),
            generation: token.generation(),
        }
    }
}

/// An error as the model knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Failure {
    Unavailable(Option<Duration>),
    Rejected,
    Timeout,
    Aborted,
    ExpiredOnArrival(Duration),
}

impl Failure {
    fn of(error: &AuthError) -> Self {
        match error {
            AuthError::UnexpectedStatus { .. } => Self::Unavailable(error.retry_after()),
            AuthError::RejectedCredentials { .. } => Self::Rejected,
            AuthError::Timeout { .. } => Self::Timeout,
            AuthError::FetchAborted => Self::Aborted,
            AuthError::ExpiredOnArrival { expired_for, .. } => Self::ExpiredOnArrival(*expired_for),
            other => panic!("an error the model does not know: {other:?}"),
        }
    }

    fn is_retryable(&self) -> bool {
        !matches!(self, Self::Rejected | Self::ExpiredOnArrival(_))
    }

    fn retry_after(&self) -> i64 {
        match self {
            Self::Unavailable(Some(after)) => nanos(*after),
            _ => 0,
        }
    }
}

type Answer = Result<Served, Failure>;

fn nanos(duration: Duration) -> i64 {
    i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX)
}

// ---------------------------------------------------------------------------------------------
// The scripted source

/// What the source was asked.
#[derive(Clone, Debug, PartialEq)]
struct Call {
    reason: FetchReason,
    rejected: Option<Served>,
    /// The clock when the fetch began.
    started: i64,
}

enum Response {
    Result(Result<AccessToken, AuthError>),
    Panic,
}

#[derive(Default)]
struct ScriptState {
    calls: Vec<Call>,
    /// The running fetch's answer channel.
    pending: Option<oneshot::Sender<Response>>,
    alive: usize,
    max_alive: usize,
    /// Fetches dropped before they answered: aborted at their timeout.
    unanswered_drops: usize,
    /// Fetches that ended (answered or not).
    ended: usize,
    /// The step number at which the last answer was returned (see [`Tracked`]).
    answered_at: u64,
}

/// A source whose every fetch waits for the test to say how it ends.
#[derive(Clone)]
struct Script {
    state: Arc<Mutex<ScriptState>>,
    clock: ManualClock,
    steps: Arc<AtomicU64>,
    /// How many fetches were dropped without an answer: what a hang waits for, asleep.
    timed_out: Arc<tokio::sync::watch::Sender<usize>>,
}

impl Script {
    fn lock(&self) -> std::sync::MutexGuard<'_, ScriptState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn calls(&self) -> usize {
        self.lock().calls.len()
    }

    fn ended(&self) -> usize {
        self.lock().ended
    }

    fn unanswered_drops(&self) -> usize {
        self.lock().unanswered_drops
    }
}

/// Counts a running fetch; on drop, whether it answered.
struct Alive {
    state: Arc<Mutex<ScriptState>>,
    timed_out: Arc<tokio::sync::watch::Sender<usize>>,
    answered: bool,
}

impl Drop for Alive {
    fn drop(&mut self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.alive -= 1;
        state.ended += 1;
        if !self.answered {
            state.unanswered_drops += 1;
            self.timed_out.send_replace(state.unanswered_drops);
        }
    }
}

impl TokenSource for Script {
    async fn fetch_token(&self) -> Result<AccessToken, AuthError> {
        unreachable!("the cache calls fetch_token_with")
    }

    async fn fetch_token_with(&self, context: &FetchContext) -> Result<AccessToken, AuthError> {
        let (sender, receiver) = oneshot::channel();
        let mut alive = {
            let mut state = self.lock();
            state.calls.push(Call {
                reason: context.reason(),
                rejected: context.rejected().map(Served::of),
                started: self.clock.now_unix_nanos(),
            });
            state.pending = Some(sender);
            state.alive += 1;
            state.max_alive = state.max_alive.max(state.alive);
            Alive {
                state: Arc::clone(&self.state),
                timed_out: Arc::clone(&self.timed_out),
                answered: false,
            }
        };
        // A dropped sender is a hang: only the fetch timeout ends this fetch.
        let Ok(response) = receiver.await else {
            return std::future::pending().await;
        };
        alive.answered = true;
        self.lock().answered_at = self.steps.fetch_add(1, Ordering::SeqCst) + 1;
        match response {
            Response::Result(result) => result,
            // Unwinds without the panic hook: no message, no backtrace on stderr.
            Response::Panic => std::panic::resume_unwind(Box::new("the scripted source panics")),
        }
    }
}

/// A caller's future, recording the step number at which it was last polled: a waiter polled
/// after its flight answered has seen the answer.
struct Tracked<F> {
    inner: Pin<Box<F>>,
    steps: Arc<AtomicU64>,
    last_poll: Arc<AtomicU64>,
}

impl<F: Future> Future for Tracked<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let step = self.steps.fetch_add(1, Ordering::SeqCst) + 1;
        self.last_poll.store(step, Ordering::SeqCst);
        self.inner.as_mut().poll(cx)
    }
}

// ---------------------------------------------------------------------------------------------
// The model

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tri {
    Yes,
    No,
    Unknown,
}

impl Tri {
    fn of(value: bool) -> Self {
        if value { Self::Yes } else { Self::No }
    }

    fn not(self) -> Self {
        match self {
            Self::Yes => Self::No,
            Self::No => Self::Yes,
            Self::Unknown => Self::Unknown,
        }
    }

    fn and(self, other: Self) -> Self {
        match (self, other) {
            (Self::No, _) | (_, Self::No) => Self::No,
            (Self::Yes, Self::Yes) => Self::Yes,
            _ => Self::Unknown,
        }
    }
}

/// The cached token: the refresh point is known to lie in `refresh`.
#[derive(Clone, Debug)]
struct Entry {
    served: Served,
    refresh: (i64, i64),
    must: i64,
    expires: i64,
}

/// No fetch starts in `[since, until)`; `until` is known to lie in the interval.
#[derive(Clone, Debug)]
struct Backoff {
    since: i64,
    until: (i64, i64),
    error: Failure,
}

#[derive(Clone, Debug)]
struct Flight {
    background: bool,
    reason: FetchReason,
    rejected: Option<Served>,
    /// The clock when the fetch began.
    started: i64,
    /// The callers waiting for it.
    waiters: BTreeSet<usize>,
}

#[derive(Clone, Debug)]
struct Waiter {
    since: i64,
    restarts: u32,
}

/// The counters, as the model expects them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Counters {
    fetches: u64,
    hits: u64,
    refreshes_ahead: u64,
    invalidations: u64,
    failures: u64,
    refresh_failures: u64,
    waits: u64,
    wait_time: Duration,
    abandoned: u64,
}

impl Counters {
    fn of(metrics: &auth_core::CacheMetrics) -> Self {
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
enum Got {
    Now(Answer),
    Waits,
}

/// How a flight ends, for its waiters.
#[derive(Debug)]
enum Outcome {
    Done(Answer),
    Abandoned,
}

struct Model {
    settings: Settings,
    now: i64,
    current: Option<Entry>,
    flight: Option<Flight>,
    backoff: Option<Backoff>,
    rejected: Option<Served>,
    consecutive_failures: u32,
    latency: Vec<i64>,
    last_generation: u64,
    counters: Counters,
    invalidated: BTreeSet<u64>,
    waiters: BTreeMap<usize, Waiter>,
}

impl Model {
    fn new(settings: Settings, now: i64) -> Self {
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

    fn landmark(&self, landmark: Landmark) -> Option<i64> {
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

    fn backoff_active(&self) -> Tri {
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
    fn learn_backoff(&mut self, active: bool) {
        let now = self.now;
        if let Some(backoff) = &mut self.backoff {
            if active {
                backoff.until.0 = backoff.until.0.max(now + 1);
            } else if now >= backoff.since {
                backoff.until.1 = backoff.until.1.min(now);
            }
        }
    }

    fn refresh_due(entry: &Entry, now: i64) -> Tri {
        if now >= entry.refresh.1 {
            Tri::Yes
        } else if now < entry.refresh.0 {
            Tri::No
        } else {
            Tri::Unknown
        }
    }

    /// Records what the cache showed: whether the current token's refresh point has passed.
    fn learn_refresh(&mut self, due: bool) {
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
    fn decide(&mut self, started: bool) -> Result<Got, String> {
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

    fn start_flight(&mut self, reason: FetchReason) {
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
    fn wait(&mut self, id: usize) {
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
    fn finished_waiting(&mut self, id: usize, end: i64) {
        if let Some(waiter) = self.waiters.remove(&id) {
            let waited = u64::try_from(end.saturating_sub(waiter.since)).unwrap_or(0);
            self.counters.wait_time += Duration::from_nanos(waited);
        }
    }

    /// Caller `id` was cancelled while it waited: counted as a wait, with no wait time.
    fn cancelled(&mut self, id: usize) {
        self.waiters.remove(&id);
        if let Some(flight) = &mut self.flight {
            flight.waiters.remove(&id);
        }
    }

    fn invalidate(&mut self, token: &Served) -> bool {
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
    fn deadlines(&self, obtained: i64, expires: Option<i64>) -> Entry {
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
    fn answered(&mut self, result: Result<(String, i64, Option<i64>), Failure>) -> Outcome {
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
    fn timed_out(&mut self) -> Outcome {
        let Some(flight) = self.flight.clone() else {
            return Outcome::Abandoned;
        };
        self.failed(&flight, Failure::Timeout)
    }

    fn failed(&mut self, flight: &Flight, failure: Failure) -> Outcome {
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
    fn failure_delay(&self, failure: &Failure, usable: Option<&Entry>) -> (i64, i64) {
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
fn check(what: &str, expected: Tri, seen: bool) -> Result<(), String> {
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
async fn until(what: &str, mut condition: impl FnMut() -> bool) -> Result<(), String> {
    let start = real_now();
    while !condition() {
        if start.elapsed() > DEADLINE {
            return Err(format!("{what}: not within {DEADLINE:?}"));
        }
        tokio::task::yield_now().await;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The run

struct Caller {
    handle: JoinHandle<(Result<Token, AuthError>, i64)>,
    last_poll: Arc<AtomicU64>,
}

struct Harness {
    clock: ManualClock,
    script: Script,
    cache: TokenCache<Script>,
    model: Model,
    steps: Arc<AtomicU64>,
    callers: BTreeMap<usize, Caller>,
    next_caller: usize,
    served: Vec<Token>,
    next_token: usize,
    hangs: usize,
    /// When the step that started the running fetch began (the fetch timeout counts from a
    /// little later).
    flight_began: Option<std::time::Instant>,
    /// When the current step began.
    step_began: std::time::Instant,
    /// A fetch that was not hung stayed open for a fetch timeout: it may have timed out.
    slow: bool,
}

/// The real time now: the cache's watchdog keeps the fetch timeout and the first-poll check
/// in real time, whatever the cache's clock, so the harness measures them the same way.
#[allow(clippy::disallowed_methods)] // Real time, on purpose: see above.
fn real_now() -> std::time::Instant {
    std::time::Instant::now()
}

/// Why a sequence failed, or that the machine was too slow to tell.
enum Verdict {
    Failed(String),
    Inconclusive(String),
}

impl Harness {
    fn new(settings: Settings) -> Self {
        let clock = ManualClock::at_epoch_2025();
        let steps = Arc::new(AtomicU64::new(0));
        let script = Script {
            state: Arc::default(),
            clock: clock.clone(),
            steps: Arc::clone(&steps),
            timed_out: Arc::new(tokio::sync::watch::Sender::new(0)),
        };
        let cache = TokenCache::builder(script.clone())
            .clock(clock.clone())
            .refresh_ahead(settings.refresh_ahead)
            .refresh_jitter(settings.jitter)
            .safety_margin(Duration::from_nanos(settings.margin as u64))
            .default_lifetime(Duration::from_nanos(settings.default_lifetime as u64))
            .failure_backoff(
                Duration::from_nanos(settings.probe as u64),
                Duration::from_nanos(settings.max_backoff as u64),
            )
            .fetch_timeout(settings.fetch_timeout)
            .build();
        let now = clock.now_unix_nanos();
        Self {
            clock,
            script,
            cache,
            model: Model::new(settings, now),
            steps,
            callers: BTreeMap::new(),
            next_caller: 0,
            served: Vec::new(),
            next_token: 0,
            hangs: 0,
            flight_began: None,
            step_began: real_now(),
            slow: false,
        }
    }

    /// Runs `ops`; a mismatch with the model fails the sequence unless the machine was too
    /// slow for the real-time deadlines, which makes it inconclusive.
    async fn run(mut self, ops: &[Op]) -> Result<Counters, Verdict> {
        for (i, op) in ops.iter().enumerate() {
            self.step_began = real_now();
            let result = match self.step(op).await {
                Ok(()) => self.check_invariants(),
                Err(error) => Err(error),
            };
            if let Err(error) = result {
                let message = format!("step {i} ({op:?}): {error}");
                return Err(match self.noise() {
                    Some(noise) => Verdict::Inconclusive(format!("{message} ({noise})")),
                    None => Verdict::Failed(message),
                });
            }
        }
        Ok(self.model.counters)
    }

    /// A real-time deadline that fired on its own.
    fn noise(&self) -> Option<String> {
        let drops = self.script.unanswered_drops();
        if self.slow
            || self
                .flight_began
                .is_some_and(|began| began.elapsed() >= self.grace())
        {
            Some(format!(
                "a fetch was held for {:?} or longer: it may have timed out, or not been polled in time",
                self.grace()
            ))
        } else if drops > self.hangs {
            Some(format!("{drops} fetches timed out, {} hung", self.hangs))
        } else {
            None
        }
    }

    /// How long a fetch may stay open before a real-time deadline may end it: the fetch
    /// timeout, or the first-poll grace (1 s, at most the timeout).
    fn grace(&self) -> Duration {
        self.model
            .settings
            .fetch_timeout
            .min(Duration::from_secs(1))
    }

    async fn step(&mut self, op: &Op) -> Result<(), String> {
        match op {
            Op::Call => self.call(false).await,
            Op::CallAndCancel => self.call(true).await,
            Op::FreshToken => self.fresh_token(),
            Op::Invalidate(which) => {
                self.invalidate(*which);
                Ok(())
            }
            Op::Advance(ms) => {
                self.clock.advance(Duration::from_millis(*ms));
                self.model.now = self.model.now.saturating_add(*ms as i64 * MS);
                Ok(())
            }
            Op::Rewind(ms) => {
                self.clock.rewind(Duration::from_millis(*ms));
                self.model.now = self.model.now.saturating_sub(*ms as i64 * MS);
                Ok(())
            }
            Op::Jump(landmark, offset) => {
                if let Some(at) = self.model.landmark(*landmark) {
                    let target = at.saturating_add(offset.saturating_mul(MS));
                    let by = target.saturating_sub(self.model.now);
                    if by >= 0 {
                        self.clock.advance(Duration::from_nanos(by as u64));
                    } else {
                        self.clock.rewind(Duration::from_nanos(by.unsigned_abs()));
                    }
                    self.model.now = target;
                }
                Ok(())
            }
            Op::Answer(reply) => self.answer(reply).await,
            Op::Hang => self.hang().await,
        }
    }

    fn spawn_caller(&mut self) -> usize {
        let id = self.next_caller;
        self.next_caller += 1;
        let last_poll = Arc::new(AtomicU64::new(0));
        let cache = self.cache.clone();
        let clock = self.clock.clone();
        let handle = tokio::spawn(Tracked {
            inner: Box::pin(async move {
                let result = cache.token().await;
                (result, clock.now_unix_nanos())
            }),
            steps: Arc::clone(&self.steps),
            last_poll: Arc::clone(&last_poll),
        });
        self.callers.insert(id, Caller { handle, last_poll });
        id
    }

    fn is_finished(&self, id: usize) -> bool {
        self.callers.get(&id).is_none_or(|c| c.handle.is_finished())
    }

    /// The answer of a finished caller.
    async fn take_answer(&mut self, id: usize) -> Result<(Answer, i64), String> {
        let caller = self.callers.remove(&id).ok_or("no such caller")?;
        let (result, end) = caller
            .handle
            .await
            .map_err(|e| format!("caller {id} did not finish: {e}"))?;
        let answer = match result {
            Ok(token) => {
                self.check_served(&token)?;
                let served = Served::of(&token);
                self.served.push(token);
                Ok(served)
            }
            Err(error) => Err(Failure::of(&error)),
        };
        Ok((answer, end))
    }

    /// A served token is neither invalidated nor expired.
    fn check_served(&self, token: &Token) -> Result<(), String> {
        let now = self.model.now;
        if self.model.invalidated.contains(&token.generation()) {
            return Err(format!("an invalidated token was served: {token:?}"));
        }
        let expires = token.expires_at().map_or_else(
            || unix_nanos(token.obtained_at()) + self.model.settings.default_lifetime,
            unix_nanos,
        );
        if now >= expires {
            return Err(format!("an expired token was served at {now}: {token:?}"));
        }
        Ok(())
    }

    async fn call(&mut self, cancel: bool) -> Result<(), String> {
        let before = self.cache.metrics();
        let id = self.spawn_caller();
        let cache = self.cache.clone();
        let caller = &self.callers[&id].handle;
        until("the caller is answered or waits", || {
            caller.is_finished() || cache.metrics().waits > before.waits
        })
        .await?;
        let started = self.cache.metrics().fetches > before.fetches;
        match self.model.decide(started)? {
            Got::Now(expected) => {
                if !self.is_finished(id) {
                    return Err(format!("the caller waits; the model says {expected:?}"));
                }
                let (answer, _) = self.take_answer(id).await?;
                if answer != expected {
                    return Err(format!(
                        "the caller got {answer:?}; the model says {expected:?}"
                    ));
                }
            }
            Got::Waits => {
                if self.is_finished(id) {
                    let (answer, _) = self.take_answer(id).await?;
                    return Err(format!(
                        "the caller got {answer:?}; the model says it waits"
                    ));
                }
                self.model.wait(id);
                if cancel {
                    self.callers[&id].handle.abort();
                    until("the cancelled caller ends", || self.is_finished(id)).await?;
                    self.callers.remove(&id);
                    self.model.cancelled(id);
                }
            }
        }
        if started {
            self.await_fetch().await?;
        }
        Ok(())
    }

    /// Waits until the source is called for the flight the model just started, and checks
    /// what it was told.
    async fn await_fetch(&mut self) -> Result<(), String> {
        self.flight_began = Some(self.step_began);
        let expected = self.model.counters.fetches as usize;
        let script = self.script.clone();
        until("the source is called", || script.calls() >= expected).await?;
        let call = self.script.lock().calls.last().cloned().ok_or("no call")?;
        let flight = self.model.flight.as_ref().ok_or("no flight in the model")?;
        let model = Call {
            reason: flight.reason,
            rejected: flight.rejected.clone(),
            started: flight.started,
        };
        if call != model {
            return Err(format!(
                "the source was asked {call:?}; the model says {model:?}"
            ));
        }
        Ok(())
    }

    fn fresh_token(&mut self) -> Result<(), String> {
        let Some(token) = self.cache.fresh_token() else {
            return Ok(());
        };
        self.check_served(&token)?;
        let served = Served::of(&token);
        let model = &mut self.model;
        let entry = model
            .current
            .as_ref()
            .ok_or("fresh_token served with no token")?;
        if entry.served != served || model.now >= entry.must {
            return Err(format!(
                "fresh_token served {served:?}; the model has {entry:?}"
            ));
        }
        // Inside the window the hot path serves only while a fetch runs or a backoff holds.
        if Model::refresh_due(entry, model.now) == Tri::Yes && model.flight.is_none() {
            if model.backoff_active() == Tri::No {
                return Err("fresh_token served a due token with no fetch or backoff".into());
            }
            model.learn_backoff(true);
        }
        model.counters.hits += 1;
        self.served.push(token);
        Ok(())
    }

    fn invalidate(&mut self, which: Which) {
        let token = match which {
            Which::Latest => self.served.last().cloned(),
            Which::Oldest => self.served.first().cloned(),
            Which::Lookalike => self.served.last().map(|token| {
                Token::new(
                    AccessToken::bearer(token.expose_secret(), token.obtained_at())
                        .expect("a valid value"),
                )
            }),
        };
        if let Some(token) = token {
            self.cache.invalidate(&token);
            self.model.invalidate(&Served::of(&token));
        }
    }

    /// The value the running fetch answers with.
    fn reply_token(&mut self, reply: &Reply) -> Option<(String, i64, Option<i64>)> {
        let Reply::Token {
            lifetime,
            obtained,
            rejected_again,
        } = reply
        else {
            return None;
        };
        let rejected = self
            .model
            .rejected
            .clone()
            .or_else(|| self.model.flight.as_ref()?.rejected.clone());
        let secret = match rejected {
            Some(rejected) if *rejected_again => rejected.secret,
            _ => {
                self.next_token += 1;
                format!("token-{}", self.next_token)
            }
        };
        let obtained = self.model.now.saturating_add(obtained.saturating_mul(S));
        let expires = lifetime.map(|l| obtained.saturating_add(l as i64 * S));
        Some((secret, obtained, expires))
    }

    async fn answer(&mut self, reply: &Reply) -> Result<(), String> {
        if self.model.flight.is_none() {
            return Ok(());
        }
        let sender = self
            .script
            .lock()
            .pending
            .take()
            .ok_or("no fetch to answer")?;
        let (response, result) = match reply {
            Reply::Token { .. } => {
                let (secret, obtained, expires) = self.reply_token(reply).ok_or("no token")?;
                let mut token =
                    AccessToken::bearer(secret.clone(), DateTime::from_timestamp_nanos(obtained))
                        .expect("a valid value");
                if let Some(expires) = expires {
                    token = token.with_expires_at(DateTime::from_timestamp_nanos(expires));
                }
                (Response::Result(Ok(token)), Ok((secret, obtained, expires)))
            }
            Reply::Fail {
                retryable,
                retry_after,
            } => {
                let error = if *retryable {
                    AuthError::unexpected_status(reqwest::StatusCode::SERVICE_UNAVAILABLE)
                        .with_retry_after(retry_after.map(Duration::from_secs))
                } else {
                    AuthError::rejected_credentials(reqwest::StatusCode::UNAUTHORIZED, None)
                };
                let failure = Failure::of(&error);
                (Response::Result(Err(error)), Err(failure))
            }
            Reply::Panic => (Response::Panic, Err(Failure::Aborted)),
        };
        let _ = sender.send(response);
        let script = self.script.clone();
        // The fetch is dropped right after the cache has recorded its end (a new one may start
        // at once, from a waiter that starts again).
        let calls = self.script.calls();
        until("the answered fetch ends", || script.ended() >= calls).await?;
        let grace = self.grace();
        self.slow |= self
            .flight_began
            .take()
            .is_some_and(|began| began.elapsed() >= grace);
        let answered_at = self.script.lock().answered_at;
        let outcome = self.model.answered(result);
        self.flight_ended(outcome, answered_at).await
    }

    async fn hang(&mut self) -> Result<(), String> {
        if self.model.flight.is_none() {
            return Ok(());
        }
        // Dropping the answer channel leaves the fetch pending for ever.
        drop(self.script.lock().pending.take());
        self.hangs += 1;
        let hung_at = real_now();
        let failures = self.model.counters.failures + 1;
        let waiters: Vec<usize> = self
            .model
            .flight
            .iter()
            .flat_map(|f| f.waiters.clone())
            .collect();
        // Asleep until the watchdog aborts the fetch (a fetch timeout of real time), then a
        // moment for it to finish recording the failure and answering the waiters.
        let hangs = self.hangs;
        let mut timed_out = self.script.timed_out.subscribe();
        let deadline = self.model.settings.fetch_timeout + DEADLINE;
        tokio::time::timeout(deadline, timed_out.wait_for(|n| *n >= hangs))
            .await
            .map_err(|_| format!("the hung fetch did not time out within {deadline:?}"))?
            .map_err(|e| e.to_string())?;
        let cache = self.cache.clone();
        until("the hung fetch's failure is recorded", || {
            cache.metrics().failures >= failures && waiters.iter().all(|id| self.is_finished(*id))
        })
        .await?;
        let late = hung_at.elapsed();
        self.flight_began = None;
        let timeout = self.model.settings.fetch_timeout;
        if late > timeout + TIMEOUT_SLACK {
            return Err(format!(
                "a hung fetch ended after {late:?}, its timeout is {timeout:?}"
            ));
        }
        let outcome = self.model.timed_out();
        self.flight_ended(outcome, 0).await
    }

    /// Checks what the waiters of the flight that just ended got.
    async fn flight_ended(&mut self, outcome: Outcome, answered_at: u64) -> Result<(), String> {
        let Some(flight) = self.model.flight.take() else {
            return Err("no flight ended in the model".into());
        };
        match outcome {
            Outcome::Done(expected) => {
                for id in flight.waiters {
                    until("a waiter is answered", || self.is_finished(id)).await?;
                    let (answer, end) = self.take_answer(id).await?;
                    if answer != expected {
                        return Err(format!(
                            "a waiter got {answer:?}; the model says {expected:?}"
                        ));
                    }
                    self.model.finished_waiting(id, end);
                }
                Ok(())
            }
            Outcome::Abandoned => self.restart(flight.waiters, answered_at).await,
        }
    }

    /// The waiters of an abandoned flight start again.
    async fn restart(&mut self, waiters: BTreeSet<usize>, answered_at: u64) -> Result<(), String> {
        // Each waiter has seen the end once it is done or polled after the answer.
        for id in &waiters {
            let last_poll = Arc::clone(&self.callers[id].last_poll);
            until("the waiters see the abandoned fetch", || {
                self.is_finished(*id) || last_poll.load(Ordering::SeqCst) > answered_at
            })
            .await?;
        }
        let started = self.cache.metrics().fetches > self.model.counters.fetches;
        let mut waiting = BTreeSet::new();
        for id in waiters {
            let restarts = {
                let waiter = self.model.waiters.get_mut(&id).ok_or("no waiter")?;
                waiter.restarts += 1;
                waiter.restarts
            };
            let got = if restarts >= MAX_RESTARTS {
                Got::Now(Err(Failure::Aborted))
            } else {
                let observed = started && self.model.flight.is_none();
                self.model.decide(observed)?
            };
            match got {
                Got::Now(expected) => {
                    until("a waiter is answered", || self.is_finished(id)).await?;
                    let (answer, end) = self.take_answer(id).await?;
                    if answer != expected {
                        return Err(format!(
                            "a restarted waiter got {answer:?}; the model says {expected:?}"
                        ));
                    }
                    self.model.finished_waiting(id, end);
                }
                Got::Waits => {
                    if self.is_finished(id) {
                        return Err("a restarted waiter finished; the model says it waits".into());
                    }
                    waiting.insert(id);
                }
            }
        }
        if let Some(flight) = &mut self.model.flight {
            flight.waiters.extend(waiting);
        }
        if started {
            self.await_fetch().await?;
        }
        Ok(())
    }

    fn check_invariants(&self) -> Result<(), String> {
        let counters = Counters::of(&self.cache.metrics());
        if counters != self.model.counters {
            return Err(format!(
                "the counters are {counters:?}; the model says {:?}",
                self.model.counters
            ));
        }
        let state = self.script.lock();
        if state.max_alive > 1 {
            return Err(format!("{} fetches ran at once", state.max_alive));
        }
        if state.calls.len() as u64 != self.model.counters.fetches {
            return Err(format!(
                "the source was called {} times; the model says {}",
                state.calls.len(),
                self.model.counters.fetches
            ));
        }
        Ok(())
    }
}

fn unix_nanos(at: chrono::DateTime<chrono::Utc>) -> i64 {
    at.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// Runs one sequence on a fresh runtime and cache; the counters at its end.
fn run_case(settings: Settings, ops: &[Op]) -> Result<Counters, TestCaseError> {
    // A timer only for the deadline of a hang; the cache uses none.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    match runtime.block_on(Harness::new(settings).run(ops)) {
        Ok(counters) => Ok(counters),
        Err(Verdict::Failed(message)) => Err(TestCaseError::fail(message)),
        Err(Verdict::Inconclusive(message)) => Err(TestCaseError::reject(message)),
    }
}

/// `PROPTEST_CASES` if set (a longer search: `PROPTEST_CASES=20000 cargo test -p auth-core
/// --test it cache_model`), else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// A fetch timeout no test step comes near: a held fetch never times out on its own.
const LONG_TIMEOUT: Duration = Duration::from_secs(60);
/// The fetch timeout of the sequences with hangs: each hang costs this much real time.
const SHORT_TIMEOUT: Duration = Duration::from_millis(150);

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(256),
        failure_persistence: None,
        max_shrink_time: 120_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_cache_follows_the_model(
        settings in settings(LONG_TIMEOUT),
        ops in prop::collection::vec(op(), 1..60),
    ) {
        run_case(settings, &ops)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(16),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_cache_follows_the_model_through_hangs(
        settings in settings(SHORT_TIMEOUT),
        ops in ops_with_hangs(),
    ) {
        run_case(settings, &ops)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Regressions and scenarios: sequences the search found (shrunk), and sequences through paths
// it reaches rarely, run on every `cargo test`.

/// Deterministic settings: no jitter, a 60 s margin, 1 s probes, a 60 s cap.
fn plain(refresh_ahead: f64, fetch_timeout: Duration) -> Settings {
    Settings {
        refresh_ahead,
        jitter: 0.0,
        margin: 60 * S,
        default_lifetime: 3_600 * S,
        probe: S,
        max_backoff: 60 * S,
        fetch_timeout,
    }
}

fn token(lifetime: u64) -> Op {
    Op::Answer(Reply::Token {
        lifetime: Some(lifetime),
        obtained: 0,
        rejected_again: false,
    })
}

#[track_caller]
fn replay(settings: Settings, ops: &[Op]) -> Counters {
    run_case(settings, ops).unwrap_or_else(|error| panic!("{error}"))
}

/// Found by the search (shrunk): a background refresh fails while the token is still valid.
/// The cache counted a hit for it, though nobody was served (the waiters of a failed fetch
/// that get the still-valid token waited: no hit either).
#[test]
fn regression_a_failed_refresh_counts_no_hit() {
    let counters = replay(
        plain(0.2, LONG_TIMEOUT),
        &[
            Op::Call,
            token(1_000),
            Op::Jump(Landmark::RefreshLatest, 0),
            Op::Call,
            Op::Answer(Reply::Fail {
                retryable: false,
                retry_after: None,
            }),
            Op::Call,
            Op::Jump(Landmark::MustRefresh, 0),
            Op::Call,
        ],
    );
    // Served: the first call waited, the second was a hit that started the refresh, the
    // third a hit during the backoff; the fourth, inside the margin, waited for a new fetch.
    assert_eq!(
        (counters.refresh_failures, counters.hits, counters.waits),
        (1, 2, 2)
    );
}

/// A background refresh returns the very token a server rejected meanwhile: its waiters start
/// again, telling the source which token was rejected.
#[test]
fn scenario_a_token_rejected_during_a_refresh_comes_back() {
    let counters = replay(
        plain(0.2, LONG_TIMEOUT),
        &[
            Op::Call,
            token(1_000),
            Op::Jump(Landmark::RefreshLatest, 0),
            Op::Call,
            Op::Invalidate(Which::Latest),
            Op::Call,
            Op::CallAndCancel,
            Op::Call,
            Op::Answer(Reply::Token {
                lifetime: Some(1_000),
                obtained: 0,
                rejected_again: true,
            }),
            token(1_000),
            Op::Call,
        ],
    );
    assert_eq!((counters.abandoned, counters.invalidations), (1, 1));
    assert_eq!(counters.fetches, 3);
}

/// A clock set back before a failure ends its backoff; a token served from a backoff is the
/// still-valid one, never an expired one.
#[test]
fn scenario_clock_moves_around_a_backoff() {
    let counters = replay(
        plain(0.0, LONG_TIMEOUT),
        &[
            Op::Call,
            token(1_000),
            Op::Jump(Landmark::MustRefresh, 1),
            Op::Call,
            Op::Answer(Reply::Fail {
                retryable: true,
                retry_after: Some(30),
            }),
            Op::Call,
            Op::Jump(Landmark::Expiry, 0),
            Op::Call,
            Op::Jump(Landmark::BackoffStart, -1),
            Op::Call,
            Op::Answer(Reply::Panic),
            Op::Rewind(3_600_000),
            Op::Call,
            token(60),
        ],
    );
    assert_eq!(counters.failures, 2);
}

/// A hung fetch ends at the fetch timeout for every waiter; the next one is probed later.
#[test]
fn scenario_a_hung_fetch_times_out() {
    let counters = replay(
        plain(0.2, SHORT_TIMEOUT),
        &[
            Op::Call,
            Op::Call,
            Op::Hang,
            Op::Call,
            Op::Jump(Landmark::BackoffLatestEnd, 0),
            Op::Call,
            token(300),
            Op::Jump(Landmark::RefreshLatest, 0),
            Op::Call,
            Op::Hang,
            Op::Call,
        ],
    );
    assert_eq!((counters.failures, counters.refresh_failures), (2, 1));
}
