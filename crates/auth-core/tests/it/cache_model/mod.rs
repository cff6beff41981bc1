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

mod model;
mod ops;
mod run;
mod source;

use model::*;
use ops::*;
use run::*;
use source::*;

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

/// Runs a fixed sequence. A run the machine made inconclusive (a held fetch timed out on its
/// own, a fetch task not polled within its grace: see the module docs) is run again, up to
/// [`REPLAY_ATTEMPTS`] times; a failure fails at once.
#[track_caller]
fn replay(settings: Settings, ops: &[Op]) -> Counters {
    let mut inconclusive = Vec::new();
    for _ in 0..REPLAY_ATTEMPTS {
        match run_case(settings.clone(), ops) {
            Ok(counters) => return counters,
            Err(TestCaseError::Reject(why)) => inconclusive.push(why),
            Err(error) => panic!("{error}"),
        }
    }
    panic!("every run was inconclusive: {inconclusive:?}");
}

/// How many times [`replay`] runs a sequence that a loaded machine made inconclusive.
const REPLAY_ATTEMPTS: usize = 5;

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
