//! [`AuthenticatedClient`]: HTTP calls to any partner API with a bearer token from any
//! [`TokenProvider`](auth_core::TokenProvider).
//!
//! This module owns one attempt of a call: it attaches the token, refreshes it once when the
//! server rejects it (see [the rule](#the-rule-for-rejected-tokens)), reads bodies up to a
//! bound and turns failures into [`ApiError`]. Retrying transient failures goes through
//! `auth_core`'s one retry loop with [`crate::retry`]'s classification. It knows nothing about
//! any vendor's resources.
//!
//! # The rule for rejected tokens
//! A 401 gets exactly one token refresh and one retry per call, never more: the client
//! invalidates exactly the token it sent (compare-and-invalidate, so many concurrent 401s for
//! one token cause one new fetch), asks for a token again, and repeats the request once if
//! that token is a newer one (by generation: no clocks are compared). A second 401 is the
//! answer. The refresh is not a retry: it does not count against the retry policy and does
//! not wait. With [`refresh_on_forbidden`](AuthenticatedClientBuilder::refresh_on_forbidden),
//! a 403 without an `insufficient_scope` challenge is treated the same way, at most once per
//! token: a 403 that a freshly obtained token gets as well is taken as the server's answer.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use auth_core::http::{BodyError, read_body_limited, retry_after, transport_kind};
use auth_core::redact::sanitize;
use auth_core::retry::{self, Failed};
use auth_core::url::{check_transport_security, join, parse_url};
use auth_core::{
    Clock as _, ConfigError, Redactor, RetryPolicy, SharedClock, SharedTokenProvider, Token,
};
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, WWW_AUTHENTICATE,
};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::{Instrument as _, debug};

use crate::error::{ApiError, ErrorBody, StatusError};
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
/// Cloning is cheap; clones share the HTTP connection pool and the token provider. It holds
/// any provider behind a [`SharedTokenProvider`], so its type never names the provider.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use partner_sdk::AuthenticatedClient;
/// use poa_auth::{PoaAuth, SourceConfig as _};
///
/// // Any TokenProvider works; here Cybrilla POA's token cache.
/// let tokens = PoaAuth::from_env()?.into_cache()?;
/// let poa = AuthenticatedClient::builder("https://poa.example.com", tokens).build()?;
/// let folios: serde_json::Value = poa.get_json("/poa/v1/folios").await?;
/// # let _ = folios;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct AuthenticatedClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    tokens: SharedTokenProvider,
    base: Url,
    retry: RetryPolicy,
    clock: SharedClock,
    timeout: Duration,
    refresh_on_forbidden: bool,
    /// One more than the newest token generation that got a 403 right after a refresh (0:
    /// none): 403s on tokens up to it are the server's answer, not staleness.
    forbidden_confirmed: AtomicU64,
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

    /// A 200 answer with `body` to `method path`, for parsing outside a request (the fuzz
    /// entry points).
    pub(crate) fn from_body(method: Method, path: &str, body: Vec<u8>) -> Self {
        Self {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body,
            method,
            path: path.to_owned(),
        }
    }

    /// An [`ApiError::Decode`] about this response.
    pub(crate) fn decode_error(&self, reason: impl Into<String>) -> ApiError {
        ApiError::decode(
            &self.method,
            &self.path,
            reason,
            Redactor::new().excerpt(&self.body),
        )
    }
}

/// One request to send: method, URL, optional JSON body, and the path template for traces.
pub(crate) struct Call<'a> {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) template: Cow<'a, str>,
    pub(crate) body: Option<bytes_body::Body>,
}

impl AuthenticatedClient {
    /// Starts configuring a client for the API at `base_url` (e.g. `https://app.podero.com`)
    /// with tokens from `tokens`: any [`TokenProvider`](auth_core::TokenProvider), or a
    /// [`SharedTokenProvider`].
    pub fn builder(
        base_url: impl Into<String>,
        tokens: impl Into<SharedTokenProvider>,
    ) -> AuthenticatedClientBuilder {
        AuthenticatedClientBuilder {
            base_url: base_url.into(),
            tokens: tokens.into(),
            http: None,
            retry: RetryPolicy::default(),
            timeout: DEFAULT_TIMEOUT,
            refresh_on_forbidden: false,
        }
    }

    /// The token provider.
    pub fn tokens(&self) -> &SharedTokenProvider {
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

    /// The absolute URL for `path`: a path relative to the base URL (`/v1/things`, optionally
    /// with a `?query`), joined segment by segment, or an absolute URL on the same origin (a
    /// pagination `next` link; the scheme and host compare case-insensitively). A URL on
    /// another origin is refused: the bearer token must not travel to a host it was not
    /// issued for.
    ///
    /// # Errors
    /// [`ApiError::Config`] for an unparsable URL or another origin.
    pub fn url(&self, path: &str) -> Result<Url, ApiError> {
        let base = &self.inner.base;
        if let Ok(absolute) = Url::parse(path.trim()) {
            if absolute.origin() != base.origin() {
                return Err(ConfigError::invalid_url(
                    "API URL",
                    format!(
                        "{} is not on the API's origin {}; the token is not sent elsewhere",
                        sanitize(&absolute.origin().ascii_serialization(), 200),
                        base.origin().ascii_serialization()
                    ),
                )
                .into());
            }
            return Ok(absolute);
        }
        let path = path.split('#').next().unwrap_or_default();
        let (path, query) = match path.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path, None),
        };
        let mut url = join(base, path);
        url.set_query(query);
        Ok(url)
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

    /// The request loop: attempts under the retry policy, in a span.
    pub(crate) async fn execute(&self, call: Call<'_>) -> Result<ApiResponse, ApiError> {
        let span = tracing::info_span!(
            "api_request",
            method = %call.method,
            path = %call.template,
        );
        let inner = &*self.inner;
        retry::run(&inner.retry, &inner.clock, "API request", |_| {
            self.attempt(&call)
        })
        .instrument(span)
        .await
    }

    /// One attempt, with the one token refresh a rejection gets.
    async fn attempt(&self, call: &Call<'_>) -> Result<ApiResponse, Failed<ApiError>> {
        let inner = &*self.inner;
        let path = call.url.path().to_owned();
        let mut token = inner
            .tokens
            .token()
            .await
            .map_err(|e| Failed::fatal(e.into()))?;
        let mut refreshed = false;
        loop {
            let response = match inner.http.execute(self.request(call, &token)).await {
                Ok(response) => response,
                Err(error) => {
                    let kind = transport_kind(&error);
                    let verdict = classify_transport(&call.method, kind.never_sent());
                    return Err(failed(
                        verdict,
                        self.transport_error(call, &path, error),
                        None,
                    ));
                }
            };
            let status = response.status();
            tracing::Span::current().record("status", status.as_u16());
            if !refreshed && self.rejects_token(status, response.headers(), &token) {
                refreshed = true;
                debug!(
                    status = status.as_u16(),
                    "the token was rejected: refreshing it once"
                );
                inner.tokens.invalidate(&token);
                let fresh = inner
                    .tokens
                    .token()
                    .await
                    .map_err(|e| Failed::fatal(e.into()))?;
                if fresh.generation() > token.generation() || !fresh.same_token(&token) {
                    token = fresh;
                    continue;
                }
                // The provider handed back the rejected token: repeating would be refused too.
            } else if refreshed && status == StatusCode::FORBIDDEN {
                // A fresh token got a 403 too: for this token, 403 is the server's answer.
                inner
                    .forbidden_confirmed
                    .fetch_max(token.generation().saturating_add(1), Ordering::Relaxed);
            }
            return self.finish(call, path, response, &token).await;
        }
    }

    /// Whether a `status` answer says the token (rather than the request) was refused.
    fn rejects_token(&self, status: StatusCode, headers: &HeaderMap, token: &Token) -> bool {
        match status {
            StatusCode::UNAUTHORIZED => true,
            StatusCode::FORBIDDEN => {
                let inner = &*self.inner;
                inner.refresh_on_forbidden
                    && !challenge_names(headers, "insufficient_scope")
                    && token.generation().saturating_add(1)
                        > inner.forbidden_confirmed.load(Ordering::Relaxed)
            }
            _ => false,
        }
    }

    /// Reads the answer: the response, or the error with its retry verdict.
    async fn finish(
        &self,
        call: &Call<'_>,
        path: String,
        mut response: reqwest::Response,
        token: &Token,
    ) -> Result<ApiResponse, Failed<ApiError>> {
        let status = response.status();
        // Moved out rather than cloned: the body is read without them.
        let headers = std::mem::take(response.headers_mut());
        let asked = retry_after(&headers, self.inner.clock.now());
        let body = match read_body_limited(response, MAX_RESPONSE_BYTES).await {
            Ok(body) => body,
            Err(BodyError::Read(error)) => {
                let verdict = classify_transport(&call.method, false);
                return Err(failed(
                    verdict,
                    self.transport_error(call, &path, error),
                    None,
                ));
            }
            Err(other) => {
                return Err(Failed::fatal(ApiError::decode(
                    &call.method,
                    &path,
                    other.to_string(),
                    None,
                )));
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
        let error = ApiError::Status(StatusError::new(
            status,
            call.method.clone(),
            path,
            error_body(&body, token),
            request_id(&headers),
            challenge_description(&headers),
        ));
        Err(failed(classify_status(&call.method, status), error, asked))
    }

    fn request(&self, call: &Call<'_>, token: &Token) -> reqwest::Request {
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

    fn transport_error(&self, call: &Call<'_>, path: &str, error: reqwest::Error) -> ApiError {
        if error.is_timeout() {
            return ApiError::Timeout {
                method: call.method.clone(),
                path: path.to_owned(),
                after: self.inner.timeout,
            };
        }
        ApiError::Transport {
            method: call.method.clone(),
            path: path.to_owned(),
            kind: transport_kind(&error),
            source: Arc::new(error.without_url()),
        }
    }
}

fn failed(verdict: Retry, error: ApiError, retry_after: Option<Duration>) -> Failed<ApiError> {
    match verdict {
        Retry::Transient => Failed::transient(error, retry_after),
        Retry::Fatal => Failed::fatal(error),
    }
}

/// The error body: JSON as sent, unless it contains the token that was sent in any encoding
/// (then, like any other body, a redacted excerpt).
fn error_body(body: &[u8], token: &Token) -> ErrorBody {
    let redactor = Redactor::new().with_secret(token.expose_secret());
    if !redactor.contains_secret(body)
        && let Ok(value) = serde_json::from_slice(body)
    {
        return ErrorBody::Json(value);
    }
    match redactor.excerpt(body) {
        Some(excerpt) => ErrorBody::Text(excerpt),
        None => ErrorBody::Empty,
    }
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    REQUEST_ID_HEADERS.iter().find_map(|name| {
        headers
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .map(|v| sanitize(v, 128))
    })
}

/// Whether a `WWW-Authenticate` challenge carries `error="<code>"` (RFC 6750 section 3).
fn challenge_names(headers: &HeaderMap, code: &str) -> bool {
    headers.get_all(WWW_AUTHENTICATE).iter().any(|value| {
        value
            .to_str()
            .is_ok_and(|v| challenge_param(v, "error").is_some_and(|e| e == code))
    })
}

/// The `error_description` of a `WWW-Authenticate` challenge, escaped and shortened.
fn challenge_description(headers: &HeaderMap) -> Option<String> {
    headers.get_all(WWW_AUTHENTICATE).iter().find_map(|value| {
        let value = value.to_str().ok()?;
        let description = challenge_param(value, "error_description")?;
        Some(Redactor::new().text(description))
    })
}

/// The value of `name="value"` (or `name=value`) in a challenge's parameters.
fn challenge_param<'a>(challenge: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = challenge;
    while let Some(at) = rest.find(name) {
        let before = rest[..at].chars().next_back();
        let after = &rest[at + name.len()..];
        let after = after.trim_start();
        if before.is_none_or(|c| c == ' ' || c == ',')
            && let Some(value) = after.strip_prefix('=')
        {
            let value = value.trim_start();
            return Some(match value.strip_prefix('"') {
                Some(quoted) => quoted.split('"').next().unwrap_or_default(),
                None => value.split([',', ' ']).next().unwrap_or_default(),
            });
        }
        rest = &rest[at + name.len()..];
    }
    None
}

impl fmt::Debug for AuthenticatedClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticatedClient")
            .field("base_url", &self.inner.base.as_str())
            .field("tokens", &self.inner.tokens)
            .field("retry", &self.inner.retry)
            .field("timeout", &self.inner.timeout)
            .field("refresh_on_forbidden", &self.inner.refresh_on_forbidden)
            .finish_non_exhaustive()
    }
}

/// Configures an [`AuthenticatedClient`].
#[must_use]
#[derive(Debug)]
pub struct AuthenticatedClientBuilder {
    base_url: String,
    tokens: SharedTokenProvider,
    http: Option<reqwest::Client>,
    retry: RetryPolicy,
    timeout: Duration,
    refresh_on_forbidden: bool,
}

impl AuthenticatedClientBuilder {
    /// The HTTP client (default: one from [`auth_core::http::client_builder`]). Share it with
    /// the token source.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// The retry policy for transient failures (default: [`RetryPolicy::default`]: 3
    /// attempts, full-jitter backoff from 200 ms to 5 s, `Retry-After` honoured up to 30 s,
    /// 60 s in all). Retry waits use the token provider's clock.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The total timeout of one attempt (default: 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether a 403 without an `insufficient_scope` challenge gets the one refresh and retry
    /// a 401 gets (default: no). Servers that answer a revoked or expired token with a bare
    /// 403 (django-oauth-toolkit's `ProtectedResourceView` does) need it; it costs at most one
    /// token request per token, because a 403 that a freshly obtained token gets as well is
    /// taken as the answer for every later call with that token.
    pub fn refresh_on_forbidden(mut self, refresh: bool) -> Self {
        self.refresh_on_forbidden = refresh;
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`ConfigError`] for a base URL that does not parse or is plain HTTP to a non-loopback
    /// host, or an HTTP client that cannot be built.
    pub fn build(self) -> Result<AuthenticatedClient, ConfigError> {
        let base = parse_url(&self.base_url, "API base URL")?;
        check_transport_security(&base, "API base URL")?;
        if base.cannot_be_a_base() {
            return Err(ConfigError::invalid_url(
                "API base URL",
                "it cannot have a path",
            ));
        }
        let http = match self.http {
            Some(http) => http,
            None => auth_core::http::default_client()?,
        };
        let clock = self.tokens.clock();
        Ok(AuthenticatedClient {
            inner: Arc::new(Inner {
                http,
                tokens: self.tokens,
                base,
                retry: self.retry,
                clock,
                timeout: self.timeout,
                refresh_on_forbidden: self.refresh_on_forbidden,
                forbidden_confirmed: AtomicU64::new(0),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_parameters_are_read() {
        let challenge = r#"Bearer realm="api", error="invalid_token", error_description="The access token expired""#;
        assert_eq!(challenge_param(challenge, "error"), Some("invalid_token"));
        assert_eq!(
            challenge_param(challenge, "error_description"),
            Some("The access token expired")
        );
        assert_eq!(
            challenge_param("Bearer error=insufficient_scope", "error"),
            Some("insufficient_scope")
        );
        assert_eq!(challenge_param("Bearer realm=\"x\"", "error"), None);
    }
}
