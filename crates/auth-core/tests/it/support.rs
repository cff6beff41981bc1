//! Shared test helpers: a counting, gateable token source and secret scanning.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use auth_core::{AccessToken, AuthError, Clock, ManualClock, TokenSource};
use chrono::TimeDelta;
use tokio::sync::watch;

/// A token source that counts its calls, can be held closed until released, and returns
/// scripted results (after the script, tokens `token-<n>` living `lifetime`).
#[derive(Clone)]
pub(crate) struct CountingSource {
    inner: Arc<Inner>,
}

struct Inner {
    clock: ManualClock,
    calls: AtomicUsize,
    open: watch::Sender<bool>,
    script: Mutex<VecDeque<Result<AccessToken, AuthError>>>,
    lifetime: Option<Duration>,
}

impl CountingSource {
    pub(crate) fn new(clock: &ManualClock, lifetime: Option<Duration>) -> Self {
        Self {
            inner: Arc::new(Inner {
                clock: clock.clone(),
                calls: AtomicUsize::new(0),
                open: watch::Sender::new(true),
                script: Mutex::default(),
                lifetime,
            }),
        }
    }

    pub(crate) fn calls(&self) -> usize {
        self.inner.calls.load(Ordering::SeqCst)
    }

    /// Fetches wait until [`release`](Self::release).
    pub(crate) fn hold(&self) {
        self.inner.open.send_replace(false);
    }

    pub(crate) fn release(&self) {
        self.inner.open.send_replace(true);
    }

    /// The next fetch returns `error`.
    pub(crate) fn fail_next(&self, error: AuthError) {
        self.inner.script.lock().unwrap().push_back(Err(error));
    }

    /// Waits (yielding) until the source has been called `n` times.
    pub(crate) async fn wait_for_calls(&self, n: usize) {
        for _ in 0..100_000 {
            if self.calls() >= n {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("the source was called {} times, expected {n}", self.calls());
    }
}

#[async_trait]
impl TokenSource for CountingSource {
    async fn fetch_token(&self) -> Result<AccessToken, AuthError> {
        let n = self.inner.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let obtained_at = self.inner.clock.now();
        let mut open = self.inner.open.subscribe();
        open.wait_for(|open| *open).await.unwrap();
        if let Some(result) = self.inner.script.lock().unwrap().pop_front() {
            return result;
        }
        let token = AccessToken::bearer(format!("token-{n}"), obtained_at).unwrap();
        Ok(match self.inner.lifetime {
            Some(lifetime) => {
                token.with_expires_at(obtained_at + TimeDelta::from_std(lifetime).unwrap())
            }
            None => token,
        })
    }
}

/// A retryable error, as a 503 from the token endpoint gives.
pub(crate) fn unavailable() -> AuthError {
    AuthError::UnexpectedStatus {
        status: reqwest::StatusCode::SERVICE_UNAVAILABLE,
        excerpt: None,
    }
}

/// Fails if `text` contains any of `secrets`.
#[track_caller]
pub(crate) fn assert_no_secret(text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "a secret leaked: {secret:?} appears in {text:?}"
        );
    }
}
