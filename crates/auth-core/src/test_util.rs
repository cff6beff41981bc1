//! Helpers for tests of code built on this crate (feature `test-util`), shared by this
//! workspace's test suites instead of being copied between them.
//!
//! - [`CountingSource`]: a token source that counts its calls, can be held open, and plays a
//!   script of results.
//! - [`TokioClock`]: a clock that follows Tokio's time, so tests under
//!   `tokio::time::pause` (auto-advance) see the cache and the source move together.
//! - [`secret_forms`] and [`assert_no_secret`]: scan output for a secret in every encoding a
//!   server or a log might carry it in.
//! - [`store`] (with feature `store`): one behavioural suite that every token store's tests
//!   run against a real store.

#[cfg(feature = "store")]
pub mod store;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::TimeDelta;
use tokio::sync::watch;

pub use crate::clock::ManualClock;
use crate::clock::{Clock, SharedClock};
use crate::error::AuthError;
use crate::provider::TokenSource;
use crate::token::AccessToken;

/// A token source that counts its calls, can be held open until released, and returns
/// scripted results (after the script, tokens `token-<n>` living `lifetime`, obtained at the
/// clock's time when the call began).
#[derive(Clone)]
pub struct CountingSource {
    inner: Arc<Inner>,
}

struct Inner {
    clock: SharedClock,
    calls: AtomicUsize,
    open: watch::Sender<bool>,
    script: Mutex<VecDeque<Scripted>>,
    lifetime: Option<Duration>,
    latency: Mutex<Duration>,
}

enum Scripted {
    Result(Result<AccessToken, AuthError>),
    Delay(Duration),
}

impl std::fmt::Debug for CountingSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CountingSource")
            .field("calls", &self.calls())
            .finish_non_exhaustive()
    }
}

impl CountingSource {
    /// A source issuing tokens that live `lifetime` (no expiry if `None`), by `clock`.
    pub fn new(clock: impl Clock, lifetime: Option<Duration>) -> Self {
        Self {
            inner: Arc::new(Inner {
                clock: SharedClock::new(clock),
                calls: AtomicUsize::new(0),
                open: watch::Sender::new(true),
                script: Mutex::default(),
                lifetime,
                latency: Mutex::default(),
            }),
        }
    }

    /// How many times it was called.
    pub fn calls(&self) -> usize {
        self.inner.calls.load(Ordering::SeqCst)
    }

    /// Fetches wait until [`release`](Self::release).
    pub fn hold(&self) {
        self.inner.open.send_replace(false);
    }

    /// Lets held fetches go on.
    pub fn release(&self) {
        self.inner.open.send_replace(true);
    }

    /// The next scripted fetch returns `error`.
    pub fn fail_next(&self, error: AuthError) {
        self.script(Scripted::Result(Err(error)));
    }

    /// The next scripted fetch returns `token`.
    pub fn return_next(&self, token: AccessToken) {
        self.script(Scripted::Result(Ok(token)));
    }

    /// The next scripted fetch first sleeps `delay` on the source's clock, then issues a token.
    pub fn delay_next(&self, delay: Duration) {
        self.script(Scripted::Delay(delay));
    }

    fn script(&self, step: Scripted) {
        self.inner
            .script
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(step);
    }

    /// Every later fetch takes `latency` on the source's clock before it answers.
    pub fn set_latency(&self, latency: Duration) {
        *self
            .inner
            .latency
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = latency;
    }

    /// Waits until the source has been called `n` times, or panics after `deadline` of real
    /// time (a test failure, never a hang).
    pub async fn wait_for_calls(&self, n: usize, deadline: Duration) {
        wait_until(deadline, || self.calls() >= n).await;
    }
}

impl TokenSource for CountingSource {
    async fn fetch_token(&self) -> Result<AccessToken, AuthError> {
        let inner = &*self.inner;
        let n = inner.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let obtained_at = inner.clock.now();
        let mut open = inner.open.subscribe();
        // The sender lives in `inner`, so the channel cannot close while we wait.
        let _ = open.wait_for(|open| *open).await;
        let latency = *inner.latency.lock().unwrap_or_else(PoisonError::into_inner);
        if !latency.is_zero() {
            inner.clock.sleep(latency).await;
        }
        let step = inner
            .script
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front();
        match step {
            Some(Scripted::Result(result)) => return result,
            Some(Scripted::Delay(delay)) => inner.clock.sleep(delay).await,
            None => {}
        }
        let token = AccessToken::bearer(format!("token-{n}"), obtained_at)?;
        Ok(match inner.lifetime {
            Some(lifetime) => token.with_expires_at(
                obtained_at + TimeDelta::from_std(lifetime).unwrap_or(TimeDelta::MAX),
            ),
            None => token,
        })
    }
}

/// A clock that follows Tokio's clock from a fixed start date: under `tokio::time::pause`,
/// time stands still until every task waits on a timer, then jumps to the next one, so a test
/// of hours of traffic runs in milliseconds and deterministically. `sleep` is Tokio's.
#[derive(Clone, Debug)]
pub struct TokioClock {
    start: tokio::time::Instant,
    start_nanos: i64,
}

impl TokioClock {
    /// A clock standing at 2025-01-01T00:00:00Z now.
    pub fn at_epoch_2025() -> Self {
        Self {
            start: tokio::time::Instant::now(),
            start_nanos: 1_735_689_600 * 1_000_000_000,
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_nanos(self.now_unix_nanos())
    }

    fn now_unix_nanos(&self) -> i64 {
        let elapsed = i64::try_from(self.start.elapsed().as_nanos()).unwrap_or(i64::MAX);
        self.start_nanos.saturating_add(elapsed)
    }
}

/// Polls `condition` (yielding to the runtime between polls) until it holds, or panics after
/// `deadline` of real time: a test waits on a condition, never on a fixed number of yields.
#[allow(clippy::panic)] // A helper for tests: a missed deadline is a failed test.
pub async fn wait_until(deadline: Duration, mut condition: impl FnMut() -> bool) {
    let start = crate::clock::real_instant();
    while !condition() {
        assert!(
            start.elapsed() < deadline,
            "the condition did not hold within {deadline:?}"
        );
        tokio::task::yield_now().await;
    }
}

/// Awaits `condition()` (yielding between tries) until it yields `true`, or panics after
/// `deadline` of real time.
#[allow(clippy::panic)] // A helper for tests: a missed deadline is a failed test.
pub async fn eventually<F, Fut>(deadline: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = crate::clock::real_instant();
    while !condition().await {
        assert!(
            start.elapsed() < deadline,
            "the condition did not hold within {deadline:?}"
        );
        tokio::task::yield_now().await;
    }
}

/// Every form in which `secret` could appear in output: as is, form-urlencoded,
/// percent-encoded, JSON-escaped, and base64 (alone, and as Basic credentials with `client_id`
/// if given).
pub fn secret_forms(secret: &str, client_id: Option<&str>) -> Vec<String> {
    let mut forms = vec![secret.to_owned()];
    forms.push(form_urlencoded::byte_serialize(secret.as_bytes()).collect());
    let json = serde_json::to_string(secret).unwrap_or_default();
    forms.push(json.trim_matches('"').to_owned());
    forms.push(json.trim_matches('"').replace('/', "\\/"));
    forms.push(STANDARD.encode(secret));
    forms.push(URL_SAFE_NO_PAD.encode(secret));
    if let Some(id) = client_id {
        let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        forms.push(STANDARD.encode(format!("{}:{}", encode(id), encode(secret))));
        forms.push(STANDARD.encode(format!("{id}:{secret}")));
    }
    forms.sort();
    forms.dedup();
    forms
}

/// Fails if `text` contains any of `secrets` in any form of [`secret_forms`].
#[track_caller]
#[allow(clippy::panic)] // A helper for tests: a leak is a failed test.
pub fn assert_no_secret(text: &str, secrets: &[&str]) {
    for secret in secrets {
        for form in secret_forms(secret, None) {
            assert!(
                !text.contains(&form),
                "a secret leaked: {form:?} (a form of a secret) appears in {text:?}"
            );
        }
    }
}
