//! One fetch: the task that runs the source, how it ends, and what its waiters get.
//!
//! A flight ends exactly once, in [`Shared::finish`](super::Shared::finish), by whichever comes
//! first: the source's result, the task being dropped (its runtime shut down), or a watchdog
//! deadline (never polled: its runtime is not driven; or the fetch timeout). Only a result or
//! a timeout is a failure of the token endpoint; a dropped or never-polled task is *abandoned*:
//! no backoff, and its waiters start a new flight on their own runtime.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::Poll;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::AbortHandle;
use tracing::Instrument as _;

use super::Shared;
use super::watchdog::{self, Check, Expire};
use crate::clock::{Clock, real_instant};
use crate::error::{AuthError, ConfigError};
use crate::provider::{FetchContext, TokenSource};
use crate::token::{AccessToken, Token};

/// How long a spawned fetch may wait for its first poll before it counts as stranded on a
/// runtime nobody drives (capped at the fetch timeout).
pub(super) const FIRST_POLL_GRACE: Duration = Duration::from_secs(1);

/// What the waiters of a flight get.
#[derive(Clone, Debug)]
pub(super) enum Outcome {
    /// The flight's answer: a token, or the error to report.
    Done(Result<Token, AuthError>),
    /// The flight was abandoned without an answer: start a new one.
    Abandoned,
}

/// How a flight ended.
pub(super) enum Ending {
    /// The source answered (`started` is when, on the cache's clock, it was called).
    Answered {
        result: Result<AccessToken, AuthError>,
        started: i64,
    },
    /// The task was dropped before it answered.
    Dropped,
    /// The watchdog found the task never polled.
    Stranded,
    /// The watchdog's fetch timeout passed.
    TimedOut,
}

/// The running flight, as the cache's state holds it.
pub(super) struct Flight {
    pub(super) id: u64,
    pub(super) background: bool,
    pub(super) result: watch::Sender<Option<Outcome>>,
    pub(super) task: Arc<TaskHandle>,
    /// The rejected token this flight's source was told about, handed back if it fails.
    pub(super) rejected: Option<Token>,
}

/// What the cache knows of a flight's task.
#[derive(Default)]
pub(super) struct TaskHandle {
    pub(super) polled: AtomicBool,
    abort: OnceLock<AbortHandle>,
}

impl TaskHandle {
    pub(super) fn abort(&self) {
        if let Some(abort) = self.abort.get() {
            abort.abort();
        }
    }
}

/// A registered flight, ready to be spawned once the cache's mutex is released.
pub(super) struct Launch<S> {
    pub(super) runtime: tokio::runtime::Handle,
    pub(super) id: u64,
    pub(super) background: bool,
    pub(super) context: FetchContext,
    pub(super) task: Arc<TaskHandle>,
    pub(super) shared: Arc<Shared<S>>,
}

impl<S: TokenSource> Launch<S> {
    pub(super) fn start(self) {
        let Self {
            runtime,
            id,
            background,
            context,
            task,
            shared,
        } = self;
        let timeout = shared.config.fetch_timeout;
        let spawned = real_instant();
        let target: std::sync::Weak<dyn Expire> = Arc::downgrade(&shared) as _;
        let mut completion = Completion {
            shared,
            id,
            done: false,
        };
        let polled = Arc::clone(&task);
        let span = tracing::debug_span!("token_cache_fetch", background);
        let join = runtime.spawn(
            async move {
                polled.polled.store(true, Ordering::Release);
                let shared = Arc::clone(&completion.shared);
                let started = shared.clock.now_unix_nanos();
                let mut fetch = std::pin::pin!(shared.source.fetch_token_with(&context));
                // A panicking source fails this flight like any error instead of taking the
                // task down silently.
                let result = std::future::poll_fn(|cx| {
                    match catch_unwind(AssertUnwindSafe(|| fetch.as_mut().poll(cx))) {
                        Ok(poll) => poll,
                        Err(panic) => Poll::Ready(Err(panic_error(&*panic))),
                    }
                })
                .await;
                completion.finish(Ending::Answered { result, started });
            }
            .instrument(span),
        );
        let _ = task.abort.set(join.abort_handle());
        watchdog::arm(
            spawned + FIRST_POLL_GRACE.min(timeout),
            id,
            Check::FirstPoll,
            target.clone(),
        );
        if let Some(deadline) = spawned.checked_add(timeout) {
            watchdog::arm(deadline, id, Check::Timeout, target);
        }
    }
}

/// Ends the flight when the task answers, or as [`Ending::Dropped`] if the task is dropped
/// first (its runtime shut down, or the watchdog aborted it).
struct Completion<S> {
    shared: Arc<Shared<S>>,
    id: u64,
    done: bool,
}

impl<S> Completion<S> {
    fn finish(&mut self, ending: Ending) {
        self.done = true;
        self.shared.finish(self.id, ending);
    }
}

impl<S> Drop for Completion<S> {
    fn drop(&mut self) {
        if !self.done {
            self.shared.finish(self.id, Ending::Dropped);
        }
    }
}

/// The error a panic in the source becomes. Tokio's timers and sockets panic when the
/// runtime was built without their driver: that is a configuration error, and says so.
fn panic_error(panic: &(dyn std::any::Any + Send)) -> AuthError {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or_default();
    if message.contains("timers are disabled") {
        ConfigError::DisabledDriver {
            enable: "enable_time",
        }
        .into()
    } else if message.contains("IO is disabled") {
        ConfigError::DisabledDriver {
            enable: "enable_io",
        }
        .into()
    } else {
        AuthError::FetchAborted
    }
}
