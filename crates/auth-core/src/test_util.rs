//! Helpers for tests of code built on this crate (feature `test-util`), shared by this
//! workspace's test suites instead of being copied between them.
//!
//! - [`CountingSource`]: a token source that counts its calls, can be held open, and plays a
//!   script of results.
//! - [`TokioClock`]: a clock that follows Tokio's time, so tests under
//!   `tokio::time::pause` (auto-advance) see the cache and the source move together.
//! - [`secret_forms`], [`assert_no_secret`] and [`assert_prints_no_secret`]: scan output for a
//!   secret in every encoding a server or a log might carry it in.
//! - [`env_lookup`]: a fixed environment for the vendors' `from_lookup` loaders.
//! - [`describe_outcome`] and [`describe_config_error`]: one-line descriptions that
//!   table-driven tests compare with the expected text of a row.
//! - [`wire`]: token endpoints on loopback (wiremock), the request they received, Basic
//!   credentials, and credentials that exercise RFC 6749's form encoding.
//! - [`fixture`]: replaying the vendor fixtures (`fixtures/<vendor>/*.json`).
//! - [`store`] (with feature `store`): one behavioural suite that every token store's tests
//!   run against a real store.

#[cfg(feature = "store")]
pub mod store;

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use chrono::TimeDelta;
use tokio::sync::watch;

pub use crate::clock::ManualClock;
use crate::clock::{Clock, SharedClock};
use crate::error::{AuthError, ConfigError};
use crate::provider::TokenSource;
use crate::token::AccessToken;

pub mod fixture;
pub mod wire;

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

/// Every form in which `secret` could appear in output, as the [`Redactor`](crate::Redactor)
/// knows them: as is, form-urlencoded, percent-encoded (either hex case), JSON-escaped (as
/// `serde_json` writes it, with `/` as `\/`, and with every non-ASCII character as a `\u00e9`
/// escape in either hex case, as PHP's `json_encode` and Python's `json.dumps` do),
/// HTML-escaped, and base64 in its four alphabets and paddings (alone, and as Basic
/// credentials with `client_id` if given, form-urlencoded first as RFC 6749 section 2.3.1 says
/// and as is).
pub fn secret_forms(secret: &str, client_id: Option<&str>) -> Vec<String> {
    let form = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let mut forms = vec![secret.to_owned(), form(secret)];
    for upper in [true, false] {
        forms.push(percent_encoded(secret, upper));
        forms.push(json_ascii(secret, upper));
        forms.push(json_ascii(secret, upper).replace('/', "\\/"));
    }
    let json = serde_json::to_string(secret).unwrap_or_default();
    forms.push(json.trim_matches('"').to_owned());
    forms.push(json.trim_matches('"').replace('/', "\\/"));
    forms.push(
        secret
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#x27;"),
    );
    forms.extend(base64_forms(secret));
    if let Some(id) = client_id {
        forms.extend(base64_forms(&format!("{}:{}", form(id), form(secret))));
        forms.extend(base64_forms(&format!("{id}:{secret}")));
    }
    forms.retain(|form| !form.is_empty());
    forms.sort();
    forms.dedup();
    forms
}

fn base64_forms(text: &str) -> [String; 4] {
    [
        STANDARD.encode(text),
        STANDARD_NO_PAD.encode(text),
        URL_SAFE.encode(text),
        URL_SAFE_NO_PAD.encode(text),
    ]
}

/// RFC 3986 percent-encoding of everything but the unreserved characters.
fn percent_encoded(text: &str, upper: bool) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(byte).to_string()
            }
            _ if upper => format!("%{byte:02X}"),
            _ => format!("%{byte:02x}"),
        })
        .collect()
}

/// The inside of a JSON string with every non-ASCII character (and control character) as a
/// `\uXXXX` escape.
fn json_ascii(text: &str, upper: bool) -> String {
    let json = serde_json::to_string(text).unwrap_or_default();
    json.trim_matches('"')
        .chars()
        .map(|c| {
            if c.is_ascii() {
                c.to_string()
            } else {
                c.encode_utf16(&mut [0; 2])
                    .iter()
                    .map(|unit| {
                        if upper {
                            format!("\\u{unit:04X}")
                        } else {
                            format!("\\u{unit:04x}")
                        }
                    })
                    .collect()
            }
        })
        .collect()
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

/// Fails if `value`'s `Display`, `Debug` or alternate `Debug` output contains any of `secrets`
/// in any form of [`secret_forms`]: for errors and configurations that hold a secret.
#[track_caller]
pub fn assert_prints_no_secret(
    value: &(impl fmt::Display + fmt::Debug + ?Sized),
    secrets: &[&str],
) {
    assert_no_secret(&format!("{value} | {value:?} | {value:#?}"), secrets);
}

/// An environment holding exactly `pairs`, as the lookup function the vendors' `from_lookup`
/// loaders take (tests never touch the process environment).
pub fn env_lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> + use<> {
    let vars: HashMap<String, OsString> = pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), OsString::from(value)))
        .collect();
    move |name| vars.get(name).cloned()
}

/// A token exchange's outcome in one line, for table-driven tests: `token`, or the error's
/// kind ([`fixture::error_kind`]), its RFC 6749 code and description if the server sent one,
/// and whether it is retryable, e.g.
/// `rejected_credentials InvalidClient Some("Invalid client credentials"), not retryable`.
pub fn describe_outcome(result: &Result<AccessToken, AuthError>) -> String {
    let error = match result {
        Ok(_) => return "token".to_owned(),
        Err(error) => error,
    };
    let oauth = match error {
        AuthError::RejectedCredentials {
            error: Some(oauth), ..
        }
        | AuthError::OAuth { error: oauth, .. } => {
            format!(" {:?} {:?}", oauth.error, oauth.error_description)
        }
        _ => String::new(),
    };
    let retryable = if error.is_retryable() { "" } else { "not " };
    format!(
        "{}{oauth}, {retryable}retryable",
        fixture::error_kind(error)
    )
}

/// A configuration error in one line, for table-driven tests: its variant and its message,
/// e.g. `MissingEnv: environment variable PODERO_CLIENT_SECRET is not set`.
pub fn describe_config_error(error: &ConfigError) -> String {
    let debug = format!("{error:?}");
    let variant: String = debug
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    format!("{variant}: {error}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Redactor;

    #[test]
    fn every_form_the_scan_knows_is_one_the_redactor_removes() {
        let (id, secret) = ("client id", "hs-P0d!s3cr&=/é");
        let forms = secret_forms(secret, Some(id));
        for expected in [
            r"hs-P0d!s3cr&=\/\u00e9",
            r"hs-P0d!s3cr&=\/\u00E9",
            "hs-P0d%21s3cr%26%3D%2F%C3%A9",
            "hs-P0d%21s3cr%26%3d%2f%c3%a9",
            "hs-P0d%21s3cr%26%3D%2F%C3%A9",
            "hs-P0d!s3cr&amp;=/é",
        ] {
            assert!(forms.iter().any(|form| form == expected), "{expected}");
        }
        let redactor = Redactor::new().with_basic_credentials(id, secret);
        for form in &forms {
            let body = format!(r#"{{"detail": "authentication failed for {form}"}}"#);
            let shown = redactor.excerpt(body.as_bytes()).unwrap();
            assert!(!shown.as_str().contains(form.as_str()), "{form}: {shown}");
        }
    }
}
