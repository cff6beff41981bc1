//! The client-credentials exchange (RFC 6749 section 4.4) over reqwest: a [`TokenSource`]
//! that vendor crates configure.
//!
//! This module owns the wire: how the client authenticates (Basic header with form-urlencoded
//! id and secret, RFC 6749 section 2.3.1, or body parameters), how the body is encoded (form or
//! JSON), timeouts, and the retry loop for transient failures. It caches nothing.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde::ser::{Serialize, SerializeMap, Serializer};
use tracing::{Instrument as _, debug, field, warn};

use crate::clock::{Clock, SystemClock};
use crate::error::{AuthError, ConfigError, Redactor};
use crate::http::{BodyError, default_client, read_body_limited};
use crate::provider::TokenSource;
use crate::response::{MAX_BODY_BYTES, parse_token_response};
use crate::retry::RetryPolicy;
use crate::secret::{ClientId, ClientSecret};
use crate::token::{AccessToken, Scopes};
use crate::url::TokenUrl;

/// How the client authenticates to the token endpoint (RFC 6749 section 2.3.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAuth {
    /// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))`, the method every
    /// server must support (`client_secret_basic`).
    #[default]
    BasicHeader,
    /// `client_id` and `client_secret` as body parameters (`client_secret_post`).
    RequestBody,
}

/// How the token request body is encoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyEncoding {
    /// `application/x-www-form-urlencoded`, as RFC 6749 specifies.
    #[default]
    Form,
    /// `application/json` with the same parameters as string members (Podero's documented
    /// request).
    Json,
}

/// The default total timeout of one token request attempt.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A [`TokenSource`] that performs the client-credentials grant.
///
/// ```
/// # fn main() -> Result<(), auth_core::AuthError> {
/// use auth_core::{BodyEncoding, ClientAuth, ClientCredentials, TokenCache, TokenUrl};
///
/// let source = ClientCredentials::builder(
///     TokenUrl::parse("https://auth.example.com/oauth2/token")?,
///     "my-client",
///     "my-secret",
/// )
/// .client_auth(ClientAuth::BasicHeader)
/// .body_encoding(BodyEncoding::Form)
/// .build()?;
/// let cache = TokenCache::new(source);
/// # let _ = cache;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ClientCredentials {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    token_url: TokenUrl,
    client_id: ClientId,
    client_secret: ClientSecret,
    client_auth: ClientAuth,
    body_encoding: BodyEncoding,
    scopes: Scopes,
    params: Vec<(String, String)>,
    headers: HeaderMap,
    timeout: Duration,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
    label: Cow<'static, str>,
    redactor: Redactor,
}

impl ClientCredentials {
    /// Starts configuring an exchange with the token URL and the client's credentials.
    pub fn builder(
        token_url: TokenUrl,
        client_id: impl Into<ClientId>,
        client_secret: impl Into<ClientSecret>,
    ) -> ClientCredentialsBuilder {
        ClientCredentialsBuilder {
            token_url,
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            client_auth: ClientAuth::default(),
            body_encoding: BodyEncoding::default(),
            scopes: Scopes::empty(),
            params: Vec::new(),
            headers: HeaderMap::new(),
            timeout: DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
            http: None,
            clock: None,
            label: Cow::Borrowed("oauth2"),
        }
    }

    /// The token URL.
    pub fn token_url(&self) -> &TokenUrl {
        &self.inner.token_url
    }

    /// The client id.
    pub fn client_id(&self) -> &ClientId {
        &self.inner.client_id
    }

    /// The clock used for `obtained_at` and retry waits.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The HTTP client, to share with API calls.
    pub fn http_client(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// A redactor that knows this client's secret, for errors built from its responses.
    pub fn redactor(&self) -> &Redactor {
        &self.inner.redactor
    }

    /// The request one attempt sends, built but not sent: for inspection, fixtures and tests.
    ///
    /// # Errors
    /// [`AuthError::MalformedResponse`] never; [`AuthError::Config`] if the body cannot be
    /// encoded.
    pub fn token_request(&self) -> Result<reqwest::Request, AuthError> {
        let inner = &*self.inner;
        let scope = inner.scopes.to_string();
        let mut params: Vec<(&str, &str)> = Vec::with_capacity(4 + inner.params.len());
        if inner.client_auth == ClientAuth::RequestBody {
            params.push(("client_id", inner.client_id.as_str()));
            params.push(("client_secret", inner.client_secret.expose_secret()));
        }
        params.push(("grant_type", "client_credentials"));
        if !inner.scopes.is_empty() {
            params.push(("scope", &scope));
        }
        params.extend(inner.params.iter().map(|(k, v)| (k.as_str(), v.as_str())));

        let (content_type, body) = match inner.body_encoding {
            BodyEncoding::Form => (
                "application/x-www-form-urlencoded",
                form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&params)
                    .finish()
                    .into_bytes(),
            ),
            BodyEncoding::Json => (
                "application/json",
                serde_json::to_vec(&OrderedObject(&params)).map_err(|e| ConfigError::Invalid {
                    field: "token request body",
                    reason: e.to_string(),
                })?,
            ),
        };

        let mut request = reqwest::Request::new(Method::POST, inner.token_url.as_url().clone());
        let headers = request.headers_mut();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        for (name, value) in &inner.headers {
            headers.insert(name, value.clone());
        }
        if inner.client_auth == ClientAuth::BasicHeader {
            headers.insert(
                AUTHORIZATION,
                basic_authorization(&inner.client_id, &inner.client_secret)?,
            );
        }
        *request.body_mut() = Some(body.into());
        *request.timeout_mut() = Some(inner.timeout);
        Ok(request)
    }

    /// One attempt: send, read the body up to the bound, parse.
    async fn attempt(&self) -> Result<AccessToken, Failure> {
        let inner = &*self.inner;
        let request = self.token_request().map_err(Failure::new)?;
        let sent_at = inner.clock.now();
        let started = Instant::now();
        let response = inner
            .http
            .execute(request)
            .await
            .map_err(|e| Failure::new(self.map_reqwest(e)))?;
        let status = response.status();
        let retry_after = retry_after(response.headers(), inner.clock.now());
        let body = read_body_limited(response, MAX_BODY_BYTES)
            .await
            .map_err(|e| Failure {
                error: match e {
                    BodyError::Read(e) => self.map_reqwest(e),
                    BodyError::TooLarge { limit } => AuthError::MalformedResponse {
                        status,
                        reason: format!("the body is larger than {limit} bytes"),
                        excerpt: None,
                    },
                },
                retry_after,
            })?;
        debug!(
            status = status.as_u16(),
            duration_ms = started.elapsed().as_millis() as u64,
            "token endpoint answered"
        );
        let parsed = if status.is_redirection() {
            // Never followed (see `http::client_builder`); say so plainly.
            Err(AuthError::UnexpectedStatus {
                status,
                excerpt: None,
            })
        } else {
            parse_token_response(status, &body, sent_at, &inner.redactor)
        };
        parsed.map_err(|error| Failure { error, retry_after })
    }

    fn map_reqwest(&self, error: reqwest::Error) -> AuthError {
        if error.is_timeout() {
            AuthError::Timeout {
                after: self.inner.timeout,
            }
        } else {
            AuthError::transport(error)
        }
    }
}

#[async_trait]
impl TokenSource for ClientCredentials {
    async fn fetch_token(&self) -> Result<AccessToken, AuthError> {
        let inner = &*self.inner;
        let span = tracing::info_span!(
            "token_exchange",
            vendor = %inner.label,
            host = %inner.token_url.host(),
            attempt = field::Empty,
            status = field::Empty,
        );
        async {
            let started = inner.clock.now();
            let mut attempts = 0;
            loop {
                attempts += 1;
                tracing::Span::current().record("attempt", attempts);
                let failure = match self.attempt().await {
                    Ok(token) => {
                        tracing::Span::current().record("status", 200);
                        debug!(
                            expires_at = ?token.expires_at(),
                            scopes = %token.scopes(),
                            "token obtained"
                        );
                        return Ok(token);
                    }
                    Err(failure) => failure,
                };
                let error = failure.error;
                if let Some(status) = error.status() {
                    tracing::Span::current().record("status", status.as_u16());
                }
                let elapsed = (inner.clock.now() - started).to_std().unwrap_or_default();
                let delay = error
                    .is_retryable()
                    .then(|| {
                        inner
                            .retry
                            .next_delay(attempts, elapsed, failure.retry_after)
                    })
                    .flatten();
                let Some(delay) = delay else {
                    warn!(error = %error, attempts, "token request failed");
                    return Err(error);
                };
                warn!(
                    error = %error,
                    attempts,
                    retry_in_ms = delay.as_millis() as u64,
                    "token request failed; retrying"
                );
                inner.clock.sleep(delay).await;
            }
        }
        .instrument(span)
        .await
    }
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("ClientCredentials")
            .field("label", &inner.label)
            .field("token_url", &inner.token_url)
            .field("client_id", &inner.client_id)
            .field("client_secret", &inner.client_secret)
            .field("client_auth", &inner.client_auth)
            .field("body_encoding", &inner.body_encoding)
            .field("scopes", &inner.scopes)
            .field("timeout", &inner.timeout)
            .field("retry", &inner.retry)
            .finish_non_exhaustive()
    }
}

/// A failed attempt: the error, and the server's `Retry-After` if it sent one.
struct Failure {
    error: AuthError,
    retry_after: Option<Duration>,
}

impl Failure {
    fn new(error: AuthError) -> Self {
        Self {
            error,
            retry_after: None,
        }
    }
}

/// The transport settings vendor configurations pass through to the exchange unchanged: the
/// HTTP client, the clock, the retry policy and the per-attempt timeout. `None` keeps the
/// exchange's default.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct ExchangeOptions {
    /// The HTTP client (see [`ClientCredentialsBuilder::http_client`]).
    pub http_client: Option<reqwest::Client>,
    /// The clock (see [`ClientCredentialsBuilder::clock`]).
    pub clock: Option<Arc<dyn Clock>>,
    /// The retry policy (see [`ClientCredentialsBuilder::retry`]).
    pub retry: Option<RetryPolicy>,
    /// The per-attempt timeout (see [`ClientCredentialsBuilder::timeout`]).
    pub timeout: Option<Duration>,
}

impl fmt::Debug for ExchangeOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeOptions")
            .field("http_client", &self.http_client.is_some())
            .field("clock", &self.clock.is_some())
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Configures a [`ClientCredentials`]; every setting has a default except the URL and
/// credentials.
#[must_use]
pub struct ClientCredentialsBuilder {
    token_url: TokenUrl,
    client_id: ClientId,
    client_secret: ClientSecret,
    client_auth: ClientAuth,
    body_encoding: BodyEncoding,
    scopes: Scopes,
    params: Vec<(String, String)>,
    headers: HeaderMap,
    timeout: Duration,
    retry: RetryPolicy,
    http: Option<reqwest::Client>,
    clock: Option<Arc<dyn Clock>>,
    label: Cow<'static, str>,
}

impl ClientCredentialsBuilder {
    /// How the client authenticates (default: Basic header).
    pub fn client_auth(mut self, client_auth: ClientAuth) -> Self {
        self.client_auth = client_auth;
        self
    }

    /// How the body is encoded (default: form).
    pub fn body_encoding(mut self, body_encoding: BodyEncoding) -> Self {
        self.body_encoding = body_encoding;
        self
    }

    /// The scopes to request (default: none, the server's default applies).
    pub fn scopes(mut self, scopes: Scopes) -> Self {
        self.scopes = scopes;
        self
    }

    /// An extra body parameter (e.g. `audience`). `grant_type`, `scope`, `client_id` and
    /// `client_secret` are set by the builder and refused here.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// An extra request header (e.g. `Cache-Control: no-cache`).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// The total timeout of one attempt, from connecting to the end of the body (default:
    /// 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The retry policy for transient failures (default: [`RetryPolicy::default`]).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The HTTP client to use, to share connection pools with API calls. Build it from
    /// [`http::client_builder`](crate::http::client_builder) so that redirects stay off; its
    /// connect timeout is yours. Default: a client from that builder.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// The clock for `obtained_at` and retry waits (default: a [`SystemClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Applies every setting `options` holds; the others keep their current value.
    pub fn options(mut self, options: ExchangeOptions) -> Self {
        if let Some(http) = options.http_client {
            self.http = Some(http);
        }
        if let Some(clock) = options.clock {
            self.clock = Some(clock);
        }
        if let Some(retry) = options.retry {
            self.retry = retry;
        }
        if let Some(timeout) = options.timeout {
            self.timeout = timeout;
        }
        self
    }

    /// A name for logs and traces, such as the vendor (default: `oauth2`).
    pub fn label(mut self, label: impl Into<Cow<'static, str>>) -> Self {
        self.label = label.into();
        self
    }

    /// Builds the exchange.
    ///
    /// # Errors
    /// [`AuthError::Config`] for an empty client id, a reserved extra parameter, or an HTTP
    /// client that cannot be built.
    pub fn build(self) -> Result<ClientCredentials, AuthError> {
        if self.client_id.as_str().is_empty() {
            return Err(ConfigError::Invalid {
                field: "client id",
                reason: "it is empty".into(),
            }
            .into());
        }
        if let Some((name, _)) = self.params.iter().find(|(name, _)| {
            matches!(
                name.as_str(),
                "grant_type" | "scope" | "client_id" | "client_secret"
            )
        }) {
            return Err(ConfigError::Invalid {
                field: "token request parameter",
                reason: format!("`{name}` is set by the exchange itself"),
            }
            .into());
        }
        let http = match self.http {
            Some(http) => http,
            None => default_client()?,
        };
        let redactor = Redactor::new().with_secret(self.client_secret.expose_secret());
        Ok(ClientCredentials {
            inner: Arc::new(Inner {
                http,
                token_url: self.token_url,
                client_id: self.client_id,
                client_secret: self.client_secret,
                client_auth: self.client_auth,
                body_encoding: self.body_encoding,
                scopes: self.scopes,
                params: self.params,
                headers: self.headers,
                timeout: self.timeout,
                retry: self.retry,
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock::new())),
                label: self.label,
                redactor,
            }),
        })
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))`, marked sensitive.
///
/// RFC 6749 section 2.3.1 form-urlencodes both parts first, so a `:` in the id cannot split it
/// wrongly; for alphanumeric credentials this equals plain `base64(id:secret)`.
fn basic_authorization(id: &ClientId, secret: &ClientSecret) -> Result<HeaderValue, AuthError> {
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let credentials = format!("{}:{}", encode(id.as_str()), encode(secret.expose_secret()));
    let mut header = HeaderValue::try_from(format!("Basic {}", BASE64.encode(credentials)))
        .map_err(|_| ConfigError::Invalid {
            field: "client credentials",
            reason: "they cannot be encoded into a Basic header".into(),
        })?;
    header.set_sensitive(true);
    Ok(header)
}

/// Serialises parameters as a JSON object, in order.
struct OrderedObject<'a>(&'a [(&'a str, &'a str)]);

impl Serialize for OrderedObject<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// Parses `Retry-After`: delta-seconds or an HTTP date (RFC 9110 section 10.2.3).
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    Some((at.with_timezone(&Utc) - now).to_std().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_form_urlencodes_first() {
        let header = basic_authorization(
            &ClientId::new("a b:c+d/e=f%&é"),
            &ClientSecret::new("a b:c+d/e=f%&é"),
        )
        .unwrap();
        let encoded = header.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let decoded = String::from_utf8(BASE64.decode(encoded).unwrap()).unwrap();
        assert_eq!(
            decoded,
            "a+b%3Ac%2Bd%2Fe%3Df%25%26%C3%A9:a+b%3Ac%2Bd%2Fe%3Df%25%26%C3%A9"
        );
        assert!(header.is_sensitive());
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));
        headers.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:30 GMT"),
        );
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(30)));
        headers.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, now), None);
    }
}
