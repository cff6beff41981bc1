//! [`AuthenticatedClient`]: HTTP calls to any partner API with a bearer token from any
//! [`TokenProvider`].
//!
//! This module owns the request loop: it attaches the token, refreshes it once on a 401
//! (compare-and-invalidate, outside the backoff), retries what [`crate::retry`] classifies as
//! transient under an [`auth_core::RetryPolicy`], reads bodies up to a bound and turns failures
//! into [`ApiError`]. It knows nothing about any vendor's resources.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use auth_core::http::{BodyError, read_body_limited};
use auth_core::url::{check_transport_security, parse_url};
use auth_core::{
    AccessToken, Clock, ConfigError, Redactor, RetryPolicy, SystemClock, TokenProvider,
};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::{Instrument as _, debug, field, warn};

use crate::error::{ApiError, ErrorBody};
use crate::retry::{Retry, classify_status, classify_transport};

/// The largest response body read, in bytes.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// The default total timeout of one attempt.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Response headers that carry a request id, in the order they are looked for.
const REQUEST_ID_HEADERS: [&str; 4] = [
    "x-request-id",
    "x-correlation-id",
    "request-id",
    "x-amzn-requestid",
];

/// An HTTP client for one API base URL that authenticates every request with a bearer token.
///
/// Cloning is cheap; clones share the HTTP connection pool and the token provider.
///
/// ```no_run
/// # async fn run() -> Result<(), partner_sdk::ApiError> {
/// use partner_sdk::AuthenticatedClient;
///
/// // Any TokenProvider works; here Cybrilla POA's token cache.
/// let tokens = poa_auth::PoaAuth::from_env()?.into_cache()?;
/// let poa = AuthenticatedClient::builder("https://poa.example.com", tokens).build()?;
/// let folios: serde_json::Value = poa.get_json("/poa/v1/folios").await?;
/// # let _ = folios;
/// # Ok(())
/// # }
/// ```
pub struct AuthenticatedClient<P> {
    inner: Arc<Inner<P>>,
}

impl<P> Clone for AuthenticatedClient<P> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<P> {
    http: reqwest::Client,
    tokens: P,
    base: Url,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
    timeout: Duration,
}

/// A success answer: status, headers and the whole body.
#[derive(Clone, Debug)]
pub struct ApiResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
    method: Method,
    path: String,
}

impl ApiResponse {
    /// The status (always 2xx).
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body decoded from JSON.
    ///
    /// # Errors
    /// [`ApiError::Decode`] if it is not JSON of that shape.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_json::from_slice(&self.body).map_err(|e| self.decode_error(e.to_string()))
    }

    /// An [`ApiError::Decode`] about this response.
    pub(crate) fn decode_error(&self, reason: impl Into<String>) -> ApiError {
        ApiError::Decode {
            method: self.method.clone(),
            path: self.path.clone(),
            reason: reason.into(),
            excerpt: Redactor::new().excerpt(&self.body),
        }
    }
}

/// One request to send: method, URL, optional JSON body, and the path template for traces.
pub(crate) struct Call<'a> {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) template: Cow<'a, str>,
    pub(crate) body: Option<bytes_body::Body>,
}

impl<P: TokenProvider> AuthenticatedClient<P> {
    /// Starts configuring a client for the API at `base_url` (e.g. `https://app.podero.com`).
    pub fn builder(base_url: impl Into<String>, tokens: P) -> AuthenticatedClientBuilder<P> {
        AuthenticatedClientBuilder {
            base_url: base_url.into(),
            tokens,
            http: None,
            retry: RetryPolicy::default(),
            clock: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The token provider.
    pub fn tokens(&self) -> &P {
        &self.inner.tokens
    }

    /// The HTTP client.
    pub fn http_client(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// The base URL.
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// The absolute URL for `path`: a path relative to the base URL (`/v1/things`), or an
    /// absolute URL on the same origin (a pagination `next` link). A URL on another origin is
    /// refused: the bearer token must not travel to a host it was not issued for.
    ///
    /// # Errors
    /// [`ApiError::Config`] for an unparsable URL or another origin.
    pub fn url(&self, path: &str) -> Result<Url, ApiError> {
        let base = &self.inner.base;
        if path.starts_with("http://") || path.starts_with("https://") {
            let url = parse_url(path, "API URL")?;
            if url.origin() != base.origin() {
                return Err(ConfigError::InvalidUrl {
                    what: "API URL",
                    reason: format!(
                        "{} is not on the API's origin {}; the token is not sent elsewhere",
                        url.origin().ascii_serialization(),
                        base.origin().ascii_serialization()
                    ),
                }
                .into());
            }
            return Ok(url);
        }
        let joined = format!(
            "{}/{}",
            base.as_str().trim_end_matches('/'),
            path.trim_start_matches('/')
        );
        Ok(parse_url(&joined, "API URL")?)
    }

    /// Sends a request with an optional JSON body; any 2xx answer is returned.
    ///
    /// # Errors
    /// [`ApiError`]: no token, a non-2xx answer after retries, transport failure, timeout.
    pub async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<ApiResponse, ApiError> {
        let url = self.url(path)?;
        let body = body
            .map(|b| bytes_body::Body::json(b, &method, &url))
            .transpose()?;
        let template = Cow::Owned(url.path().to_owned());
        self.execute(Call {
            method,
            url,
            template,
            body,
        })
        .await
    }

    /// `GET path`, decoding the JSON answer.
    ///
    /// # Errors
    /// As [`send`](Self::send), or [`ApiError::Decode`].
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        self.send::<()>(Method::GET, path, None).await?.json()
    }

    /// `POST path` with a JSON body, decoding the JSON answer.
    ///
    /// # Errors
    /// As [`send`](Self::send), or [`ApiError::Decode`].
    pub async fn post_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        self.send(Method::POST, path, Some(body)).await?.json()
    }

    /// `PUT path` with a JSON body, decoding the JSON answer.
    ///
    /// # Errors
    /// As [`send`](Self::send), or [`ApiError::Decode`].
    pub async fn put_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        self.send(Method::PUT, path, Some(body)).await?.json()
    }

    /// `DELETE path`, ignoring any body of the answer.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn delete(&self, path: &str) -> Result<(), ApiError> {
        self.send::<()>(Method::DELETE, path, None).await.map(drop)
    }

    /// The request loop.
    pub(crate) async fn execute(&self, call: Call<'_>) -> Result<ApiResponse, ApiError> {
        let span = tracing::info_span!(
            "api_request",
            method = %call.method,
            path = %call.template,
            status = field::Empty,
            attempt = field::Empty,
        );
        self.run(call).instrument(span).await
    }

    async fn run(&self, call: Call<'_>) -> Result<ApiResponse, ApiError> {
        let inner = &*self.inner;
        let path = call.url.path().to_owned();
        let started = inner.clock.now();
        let mut attempts = 0;
        let mut refreshed = false;
        loop {
            attempts += 1;
            tracing::Span::current().record("attempt", attempts);
            let token = inner.tokens.token().await?;
            // A token obtained after this call began was fetched for it: a 401 on it means
            // the server refuses this client, and another token would not change that. (With
            // a coarse clock, a token fetched within the same tick counts as older and gets the
            // one refresh: bounded, and never a loop.)
            let fetched_for_this_call = token.obtained_at() > started;
            let outcome = inner.http.execute(self.request(&call, &token)).await;

            let (verdict, retry_after, error) = match outcome {
                Err(error) => {
                    let never_sent = error.is_connect();
                    let error = self.transport_error(&call.method, &path, error);
                    (classify_transport(&call.method, never_sent), None, error)
                }
                Ok(mut response) => {
                    let status = response.status();
                    tracing::Span::current().record("status", status.as_u16());
                    if status == StatusCode::UNAUTHORIZED && !refreshed && !fetched_for_this_call {
                        // Drop exactly the rejected token (if nobody replaced it already) and
                        // try once more with a fresh one. Not an attempt, not a backoff.
                        debug!("401 Unauthorized: refreshing the token once");
                        inner.tokens.invalidate(&token);
                        refreshed = true;
                        attempts -= 1;
                        continue;
                    }
                    // Moved out rather than cloned: the body is read without them.
                    let headers = std::mem::take(response.headers_mut());
                    let retry_after = auth_core::retry_after(&headers, inner.clock.now());
                    let body = match read_body_limited(response, MAX_RESPONSE_BYTES).await {
                        Ok(body) => body,
                        Err(BodyError::Read(error)) => {
                            let error = self.transport_error(&call.method, &path, error);
                            let verdict = classify_transport(&call.method, false);
                            match self.backoff(verdict, attempts, started, None) {
                                Some(delay) => {
                                    self.wait(delay, &error).await;
                                    continue;
                                }
                                None => return Err(error),
                            }
                        }
                        Err(other) => {
                            return Err(ApiError::Decode {
                                method: call.method.clone(),
                                path,
                                reason: other.to_string(),
                                excerpt: None,
                            });
                        }
                    };
                    if status.is_success() {
                        return Ok(ApiResponse {
                            status,
                            headers,
                            body,
                            method: call.method.clone(),
                            path,
                        });
                    }
                    let error = ApiError::Status {
                        status,
                        method: call.method.clone(),
                        path: path.clone(),
                        body: error_body(&body, &token),
                        request_id: request_id(&headers),
                    };
                    (classify_status(&call.method, status), retry_after, error)
                }
            };
            match self.backoff(verdict, attempts, started, retry_after) {
                Some(delay) => self.wait(delay, &error).await,
                None => return Err(error),
            }
        }
    }

    fn request(&self, call: &Call<'_>, token: &AccessToken) -> reqwest::Request {
        let mut request = reqwest::Request::new(call.method.clone(), call.url.clone());
        let headers = request.headers_mut();
        headers.insert(AUTHORIZATION, token.authorization().clone());
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(body) = &call.body {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            *request.body_mut() = Some(body.to_reqwest());
        }
        *request.timeout_mut() = Some(self.inner.timeout);
        request
    }

    fn backoff(
        &self,
        verdict: Retry,
        attempts: u32,
        started: chrono::DateTime<chrono::Utc>,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        if verdict == Retry::Fatal {
            return None;
        }
        let elapsed = (self.inner.clock.now() - started)
            .to_std()
            .unwrap_or_default();
        self.inner.retry.next_delay(attempts, elapsed, retry_after)
    }

    async fn wait(&self, delay: Duration, error: &ApiError) {
        warn!(error = %error, retry_in_ms = delay.as_millis() as u64, "API request failed; retrying");
        self.inner.clock.sleep(delay).await;
    }

    fn transport_error(&self, method: &Method, path: &str, error: reqwest::Error) -> ApiError {
        if error.is_timeout() {
            return ApiError::Timeout {
                method: method.clone(),
                path: path.to_owned(),
                after: self.inner.timeout,
            };
        }
        let kind = if error.is_connect() {
            auth_core::TransportKind::Connect
        } else if error.is_body() || error.is_decode() {
            auth_core::TransportKind::ReadBody
        } else {
            auth_core::TransportKind::Send
        };
        ApiError::Transport {
            method: method.clone(),
            path: path.to_owned(),
            kind,
            source: Arc::new(error.without_url()),
        }
    }
}

/// The error body: JSON as sent, unless it contains the token that was sent (then, like any
/// other body, a redacted excerpt).
fn error_body(body: &[u8], token: &AccessToken) -> ErrorBody {
    let secret = token.expose_secret();
    let contains_token = body.windows(secret.len()).any(|w| w == secret.as_bytes());
    if !contains_token && let Ok(value) = serde_json::from_slice(body) {
        return ErrorBody::Json(value);
    }
    match Redactor::new().with_secret(secret).excerpt(body) {
        Some(excerpt) => ErrorBody::Text(excerpt),
        None => ErrorBody::Empty,
    }
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    REQUEST_ID_HEADERS.iter().find_map(|name| {
        headers
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(128).collect())
    })
}

impl<P> fmt::Debug for AuthenticatedClient<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticatedClient")
            .field("base_url", &self.inner.base.as_str())
            .field("retry", &self.inner.retry)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

/// Configures an [`AuthenticatedClient`].
#[must_use]
pub struct AuthenticatedClientBuilder<P> {
    base_url: String,
    tokens: P,
    http: Option<reqwest::Client>,
    retry: RetryPolicy,
    clock: Option<Arc<dyn Clock>>,
    timeout: Duration,
}

impl<P: TokenProvider> AuthenticatedClientBuilder<P> {
    /// The HTTP client (default: one from [`auth_core::http::client_builder`]). Share it with
    /// the token source.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// The retry policy for transient failures (default: [`RetryPolicy::default`]: 3
    /// attempts, full-jitter backoff from 200 ms to 5 s, `Retry-After` honoured up to 30 s,
    /// 60 s in all).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The clock for retry waits and token freshness (default: a [`SystemClock`]). Use the
    /// token source's clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The total timeout of one attempt (default: 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`ApiError::Config`] for a base URL that does not parse or is plain HTTP to a
    /// non-loopback host, or an HTTP client that cannot be built.
    pub fn build(self) -> Result<AuthenticatedClient<P>, ApiError> {
        let base = parse_url(&self.base_url, "API base URL")?;
        check_transport_security(&base, "API base URL")?;
        let http = match self.http {
            Some(http) => http,
            None => auth_core::http::default_client()?,
        };
        Ok(AuthenticatedClient {
            inner: Arc::new(Inner {
                http,
                tokens: self.tokens,
                base,
                retry: self.retry,
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock::new())),
                timeout: self.timeout,
            }),
        })
    }
}

/// Request bodies, serialised once and shared by every attempt.
pub(crate) mod bytes_body {
    use reqwest::{Method, Url};
    use serde::Serialize;

    use crate::error::ApiError;

    /// A serialised JSON body.
    pub(crate) struct Body(Vec<u8>);

    impl Body {
        pub(crate) fn json<B: Serialize + ?Sized>(
            body: &B,
            method: &Method,
            url: &Url,
        ) -> Result<Self, ApiError> {
            serde_json::to_vec(body)
                .map(Self)
                .map_err(|e| ApiError::Encode {
                    method: method.clone(),
                    path: url.path().to_owned(),
                    reason: e.to_string(),
                })
        }

        pub(crate) fn to_reqwest(&self) -> reqwest::Body {
            reqwest::Body::from(self.0.clone())
        }
    }
}
