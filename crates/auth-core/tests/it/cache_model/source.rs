//! The scripted source: each fetch is held open until the sequence says how it ends.

#[allow(clippy::wildcard_imports)]
use super::*;

/// What the source was asked.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Call {
    pub(super) reason: FetchReason,
    pub(super) rejected: Option<Served>,
    /// The clock when the fetch began.
    pub(super) started: i64,
}

pub(super) enum Response {
    Result(Result<AccessToken, AuthError>),
    Panic,
}

#[derive(Default)]
pub(super) struct ScriptState {
    pub(super) calls: Vec<Call>,
    /// The running fetch's answer channel.
    pub(super) pending: Option<oneshot::Sender<Response>>,
    pub(super) alive: usize,
    pub(super) max_alive: usize,
    /// Fetches dropped before they answered: aborted at their timeout.
    pub(super) unanswered_drops: usize,
    /// Fetches that ended (answered or not).
    pub(super) ended: usize,
    /// The step number at which the last answer was returned (see [`Tracked`]).
    pub(super) answered_at: u64,
}

/// A source whose every fetch waits for the test to say how it ends.
#[derive(Clone)]
pub(super) struct Script {
    pub(super) state: Arc<Mutex<ScriptState>>,
    pub(super) clock: ManualClock,
    pub(super) steps: Arc<AtomicU64>,
    /// How many fetches were dropped without an answer: what a hang waits for, asleep.
    pub(super) timed_out: Arc<tokio::sync::watch::Sender<usize>>,
}

impl Script {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, ScriptState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn calls(&self) -> usize {
        self.lock().calls.len()
    }

    pub(super) fn ended(&self) -> usize {
        self.lock().ended
    }

    pub(super) fn unanswered_drops(&self) -> usize {
        self.lock().unanswered_drops
    }
}

/// Counts a running fetch; on drop, whether it answered.
pub(super) struct Alive {
    pub(super) state: Arc<Mutex<ScriptState>>,
    pub(super) timed_out: Arc<tokio::sync::watch::Sender<usize>>,
    pub(super) answered: bool,
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
pub(super) struct Tracked<F> {
    pub(super) inner: Pin<Box<F>>,
    pub(super) steps: Arc<AtomicU64>,
    pub(super) last_poll: Arc<AtomicU64>,
}

impl<F: Future> Future for Tracked<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let step = self.steps.fetch_add(1, Ordering::SeqCst) + 1;
        self.last_poll.store(step, Ordering::SeqCst);
        self.inner.as_mut().poll(cx)
    }
}
