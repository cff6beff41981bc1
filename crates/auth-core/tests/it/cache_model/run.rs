//! The run: a sequence applied to the real cache and to the model, checked after each step.

#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) struct Caller {
    pub(super) handle: JoinHandle<(Result<Token, AuthError>, i64)>,
    pub(super) last_poll: Arc<AtomicU64>,
}

pub(super) struct Harness {
    pub(super) clock: ManualClock,
    pub(super) script: Script,
    pub(super) cache: TokenCache<Script>,
    pub(super) model: Model,
    pub(super) steps: Arc<AtomicU64>,
    pub(super) callers: BTreeMap<usize, Caller>,
    pub(super) next_caller: usize,
    pub(super) served: Vec<Token>,
    pub(super) next_token: usize,
    pub(super) hangs: usize,
    /// When the step that started the running fetch began (the fetch timeout counts from a
    /// little later).
    pub(super) flight_began: Option<std::time::Instant>,
    /// When the current step began.
    pub(super) step_began: std::time::Instant,
    /// A fetch that was not hung stayed open for a fetch timeout: it may have timed out.
    pub(super) slow: bool,
}

/// The real time now: the cache's watchdog keeps the fetch timeout and the first-poll check
/// in real time, whatever the cache's clock, so the harness measures them the same way.
#[allow(clippy::disallowed_methods)] // Real time, on purpose: see above.
pub(super) fn real_now() -> std::time::Instant {
    std::time::Instant::now()
}

/// Why a sequence failed, or that the machine was too slow to tell.
pub(super) enum Verdict {
    Failed(String),
    Inconclusive(String),
}

impl Harness {
    pub(super) fn new(settings: Settings) -> Self {
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
    pub(super) async fn run(mut self, ops: &[Op]) -> Result<Counters, Verdict> {
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
    pub(super) fn noise(&self) -> Option<String> {
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
    pub(super) fn grace(&self) -> Duration {
        self.model
            .settings
            .fetch_timeout
            .min(Duration::from_secs(1))
    }

    pub(super) async fn step(&mut self, op: &Op) -> Result<(), String> {
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

    pub(super) fn spawn_caller(&mut self) -> usize {
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

    pub(super) fn is_finished(&self, id: usize) -> bool {
        self.callers.get(&id).is_none_or(|c| c.handle.is_finished())
    }

    /// The answer of a finished caller.
    pub(super) async fn take_answer(&mut self, id: usize) -> Result<(Answer, i64), String> {
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
    pub(super) fn check_served(&self, token: &Token) -> Result<(), String> {
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

    pub(super) async fn call(&mut self, cancel: bool) -> Result<(), String> {
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
    pub(super) async fn await_fetch(&mut self) -> Result<(), String> {
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

    pub(super) fn fresh_token(&mut self) -> Result<(), String> {
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

    pub(super) fn invalidate(&mut self, which: Which) {
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
    pub(super) fn reply_token(&mut self, reply: &Reply) -> Option<(String, i64, Option<i64>)> {
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

    pub(super) async fn answer(&mut self, reply: &Reply) -> Result<(), String> {
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

    pub(super) async fn hang(&mut self) -> Result<(), String> {
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
    pub(super) async fn flight_ended(
        &mut self,
        outcome: Outcome,
        answered_at: u64,
    ) -> Result<(), String> {
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
    pub(super) async fn restart(
        &mut self,
        waiters: BTreeSet<usize>,
        answered_at: u64,
    ) -> Result<(), String> {
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

    pub(super) fn check_invariants(&self) -> Result<(), String> {
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

pub(super) fn unix_nanos(at: chrono::DateTime<chrono::Utc>) -> i64 {
    at.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// Runs one sequence on a fresh runtime and cache; the counters at its end.
pub(super) fn run_case(settings: Settings, ops: &[Op]) -> Result<Counters, TestCaseError> {
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
