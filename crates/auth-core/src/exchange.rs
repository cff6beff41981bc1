//! The client-credentials exchange (RFC 6749 section 4.4) over reqwest: a [`TokenSource`]
//! that vendor crates configure, and [`SourceConfig`], the settings every vendor
//! configuration passes through to it.
//!
//! This module owns the wire: how the client authenticates (Basic header with form-urlencoded
//! id and secret, RFC 6749 section 2.3.1, or body parameters), how the body is encoded (form,
//! JSON, or negotiated), timeouts, and one attempt of the request; the retries go through the
//! one retry loop ([`crate::retry::run`]). It caches nothing.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde::ser::{Serialize, SerializeMap, Serializer};
use tracing::{Instrument as _, debug, warn};

use crate::cache::{TokenCache, TokenCacheBuilder};
use crate::clock::{Clock, SharedClock, nanos_duration};
use crate::error::{AuthError, ConfigError, OAuthErrorCode};
use crate::http::{BodyError, default_client, read_body_limited, retry_after, transport_kind};
use crate::provider::TokenSource;
use crate::redact::Redactor;
use crate::response::{MAX_BODY_BYTES, parse_token_response};
use crate::retry::{self, Failed, RetryPolicy};
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
    /// JSON first; when the server answers that it found no grant type
    /// (`unsupported_grant_type`, or `invalid_request` about a missing `grant_type`: it does
    /// not parse JSON bodies), the same request once more as a form, and from then on
    /// whichever encoding worked, for the life of the source. No other answer ever causes a
    /// second request.
    Auto,
}

/// The default total timeout of one token request attempt.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A [`TokenSource`] that performs the client-credentials grant.
///
/// ```
/// # fn main() -> Result<(), auth_core::ConfigError> {
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
    /// With [`BodyEncoding::Auto`]: whether the server turned out to want a form body.
    negotiated_form: AtomicBool,
    scopes: Scopes,
    params: Vec<(String, String)>,
    headers: HeaderMap,
    timeout: Duration,
    retry: RetryPolicy,
    clock: SharedClock,
    label: Cow<'static, str>,
    redactor: Redactor,
}

/// The encoding one attempt uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wire {
    Form,
    Json,
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
            options: ExchangeOptions::default(),
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
    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    /// The HTTP client, to share with API calls.
    pub fn http_client(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// A redactor that knows this client's secret (and Basic credentials), for errors built
    /// from its responses.
    pub fn redactor(&self) -> &Redactor {
        &self.inner.redactor
    }

    /// What names and protects this client's tokens in a shared store (feature `store`):
    /// token URL, client id, scopes and extra parameters, and the secret.
    #[cfg(feature = "store")]
    pub fn store_identity(&self) -> crate::store::SourceIdentity {
        let inner = &*self.inner;
        let mut parts = vec![
            inner.token_url.to_string(),
            inner.client_id.as_str().to_owned(),
            inner.scopes.to_string(),
        ];
        for (name, value) in &inner.params {
            parts.push(format!("{name}={value}"));
        }
        crate::store::SourceIdentity::new(parts, inner.client_secret.clone())
    }

    /// The body encoding the next request uses: [`BodyEncoding::Form`] or
    /// [`BodyEncoding::Json`], negotiated so far if the configuration says
    /// [`BodyEncoding::Auto`].
    pub fn current_body_encoding(&self) -> BodyEncoding {
        match self.wire() {
            Wire::Form => BodyEncoding::Form,
            Wire::Json => BodyEncoding::Json,
        }
    }

    fn wire(&self) -> Wire {
        match self.inner.body_encoding {
            BodyEncoding::Form => Wire::Form,
            BodyEncoding::Json => Wire::Json,
            BodyEncoding::Auto if self.inner.negotiated_form.load(Ordering::Relaxed) => Wire::Form,
            BodyEncoding::Auto => Wire::Json,
        }
    }

    /// The request one attempt sends, built but not sent: for inspection, fixtures and tests.
    ///
    /// # Errors
    /// [`ConfigError`] if the body or the Basic header cannot be encoded.
    pub fn token_request(&self) -> Result<reqwest::Request, ConfigError> {
        self.request(self.wire())
    }

    fn request(&self, wire: Wire) -> Result<reqwest::Request, ConfigError> {
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

        let (content_type, body) = match wire {
            Wire::Form => (
                "application/x-www-form-urlencoded",
                form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&params)
                    .finish()
                    .into_bytes(),
            ),
            Wire::Json => (
                "application/json",
                serde_json::to_vec(&OrderedObject(&params))
                    .map_err(|e| ConfigError::invalid("token request body", e.to_string()))?,
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

    /// One attempt: send (negotiating the body encoding if configured to), read the body up to
    /// the bound, parse.
    async fn attempt(&self) -> Result<AccessToken, Failed<AuthError>> {
        let wire = self.wire();
        let result = self.send(wire).await;
        if self.inner.body_encoding != BodyEncoding::Auto {
            return result;
        }
        match result {
            Err(failed) if names_no_grant_type(&failed.error) => {
                let other = match wire {
                    Wire::Json => Wire::Form,
                    Wire::Form => Wire::Json,
                };
                debug!(
                    from = ?wire,
                    to = ?other,
                    "the token endpoint found no grant type in the body; trying the other encoding once"
                );
                let retried = self.send(other).await;
                if retried.is_ok() {
                    self.inner
                        .negotiated_form
                        .store(other == Wire::Form, Ordering::Relaxed);
                }
                retried
            }
            result => result,
        }
    }

    async fn send(&self, wire: Wire) -> Result<AccessToken, Failed<AuthError>> {
        let inner = &*self.inner;
        let request = self.request(wire).map_err(|e| Failed::fatal(e.into()))?;
        let sent_at = inner.clock.now();
        let started = inner.clock.now_unix_nanos();
        let response = inner.http.execute(request).await.map_err(|e| {
            let error = self.map_reqwest(e);
            let retryable = error.is_retryable();
            Failed {
                error,
                retryable,
                retry_after: None,
            }
        })?;
        let status = response.status();
        let asked = retry_after(response.headers(), inner.clock.now());
        let body = read_body_limited(response, MAX_BODY_BYTES)
            .await
            .map_err(|e| {
                let error = match e {
                    BodyError::Read(e) => self.map_reqwest(e),
                    BodyError::TooLarge { limit } => AuthError::MalformedResponse {
                        status,
                        reason: format!("the body is larger than {limit} bytes"),
                        excerpt: None,
                    },
                };
                let retryable = error.is_retryable();
                Failed {
                    error,
                    retryable,
                    retry_after: asked,
                }
            })?;
        debug!(
            status = status.as_u16(),
            duration_ms = u64::try_from(
                nanos_duration(inner.clock.now_unix_nanos().saturating_sub(started)).as_millis()
            )
            .unwrap_or(u64::MAX),
            "token endpoint answered"
        );
        let parsed = if status.is_redirection() {
            // Never followed (see `http::client_builder`); say so plainly.
            Err(AuthError::unexpected_status(status))
        } else {
            parse_token_response(status, &body, sent_at, &inner.redactor)
        };
        parsed.map_err(|error| {
            let error = error.with_retry_after(asked);
            let retryable = error.is_retryable();
            Failed {
                error,
                retryable,
                retry_after: asked,
            }
        })
    }

    fn map_reqwest(&self, error: reqwest::Error) -> AuthError {
        if error.is_timeout() {
            AuthError::timeout(self.inner.timeout)
        } else {
            AuthError::Transport {
                kind: transport_kind(&error),
                source: Arc::new(error.without_url()),
            }
        }
    }
}

/// Whether the server says it found no grant type: what a server that does not parse this
/// body encoding answers.
fn names_no_grant_type(error: &AuthError) -> bool {
    let Some(oauth) = error.oauth_error() else {
        return false;
    };
    match oauth.error {
        OAuthErrorCode::UnsupportedGrantType => true,
        OAuthErrorCode::InvalidRequest => oauth
            .error_description
            .as_deref()
            .is_some_and(|d| d.contains("grant_type")),
        _ => false,
    }
}

impl TokenSource for ClientCredentials {
    async fn fetch_token(&self) -> Result<AccessToken, AuthError> {
        let inner = &*self.inner;
        let span = tracing::info_span!(
            "token_exchange",
            vendor = %inner.label,
            host = %inner.token_url.host(),
        );
        async {
            let result = retry::run(&inner.retry, &inner.clock, "token request", |_| {
                self.attempt()
            })
            .await;
            match &result {
                Ok(token) => debug!(
                    expires_at = ?token.expires_at(),
                    scopes = %token.scopes(),
                    "token obtained"
                ),
                Err(error) => warn!(%error, "token request failed"),
            }
            result
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

/// The transport settings vendor configurations pass through to the exchange unchanged: the
/// HTTP client, the clock, the retry policy and the per-attempt timeout. `None` keeps the
/// exchange's default.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct ExchangeOptions {
    /// The HTTP client (see [`ClientCredentialsBuilder::http_client`]).
    pub http_client: Option<reqwest::Client>,
    /// The clock (see [`ClientCredentialsBuilder::clock`]).
    pub clock: Option<SharedClock>,
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

/// The settings every vendor configuration shares, written once: the exchange's transport
/// options, and the ways to finish a configuration (a bare source, a cache, a cache builder).
///
/// A vendor configuration implements the two required methods; everything else comes with
/// it. Bring the trait into scope to call them (`use podero_auth::SourceConfig as _;`, or
/// the vendor crate's re-export).
pub trait SourceConfig: Sized {
    /// The token source this configuration builds.
    type Source: TokenSource;

    /// The transport options, for the provided setters.
    fn exchange_options(&mut self) -> &mut ExchangeOptions;

    /// Builds the exchange, without a cache.
    ///
    /// # Errors
    /// [`ConfigError`] for a configuration that cannot work.
    fn into_source(self) -> Result<Self::Source, ConfigError>;

    /// The name of caches built from this configuration, for logs and metrics (default
    /// `oauth2`).
    fn cache_name(&self) -> Cow<'static, str> {
        Cow::Borrowed("oauth2")
    }

    /// The HTTP client to share with API calls (build it from
    /// [`http::client_builder`](crate::http::client_builder) so that redirects stay off).
    #[must_use]
    fn http_client(mut self, http: reqwest::Client) -> Self {
        self.exchange_options().http_client = Some(http);
        self
    }

    /// The clock for `obtained_at`, retry waits and the cache (default: the system clock).
    #[must_use]
    fn clock(mut self, clock: impl Clock) -> Self {
        self.exchange_options().clock = Some(SharedClock::new(clock));
        self
    }

    /// The retry policy of the token request (default: [`RetryPolicy::default`]).
    #[must_use]
    fn retry(mut self, retry: RetryPolicy) -> Self {
        self.exchange_options().retry = Some(retry);
        self
    }

    /// The timeout of one token request attempt (default: 30 s).
    #[must_use]
    fn timeout(mut self, timeout: Duration) -> Self {
        self.exchange_options().timeout = Some(timeout);
        self
    }

    /// A cache builder over the exchange, using the same clock, for custom cache settings.
    ///
    /// # Errors
    /// As [`into_source`](Self::into_source).
    fn into_cache_builder(mut self) -> Result<TokenCacheBuilder<Self::Source>, ConfigError> {
        let clock = self.exchange_options().clock.clone().unwrap_or_default();
        let name = self.cache_name();
        Ok(TokenCache::builder(self.into_source()?)
            .clock(clock)
            .name(name))
    }

    /// A ready token cache with the default settings.
    ///
    /// # Errors
    /// As [`into_source`](Self::into_source).
    fn into_cache(self) -> Result<TokenCache<Self::Source>, ConfigError> {
        Ok(self.into_cache_builder()?.build())
    }

    /// The same configuration with a shared token store in front of the exchange (feature
    /// `store`): finish it like this one, e.g. `.shared(store).into_cache()`.
    #[cfg(feature = "store")]
    fn shared<St: crate::store::TokenStore>(self, store: St) -> crate::store::Shared<Self, St>
    where
        Self::Source: HasExchange,
    {
        crate::store::Shared::new(self, store)
    }
}

/// A source that is a client-credentials exchange underneath (perhaps with rules of its own
/// on top), so that a shared store can name and encrypt its tokens.
pub trait HasExchange {
    /// The exchange.
    fn exchange(&self) -> &ClientCredentials;
}

impl HasExchange for ClientCredentials {
    fn exchange(&self) -> &ClientCredentials {
        self
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
    options: ExchangeOptions,
    label: Cow<'static, str>,
}

impl fmt::Debug for ClientCredentialsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentialsBuilder")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("client_auth", &self.client_auth)
            .field("body_encoding", &self.body_encoding)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
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
        self.options.timeout = Some(timeout);
        self
    }

    /// The retry policy for transient failures (default: [`RetryPolicy::default`]).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.options.retry = Some(retry);
        self
    }

    /// The HTTP client to use, to share connection pools with API calls. Build it from
    /// [`http::client_builder`](crate::http::client_builder) so that redirects stay off; its
    /// connect timeout is yours. Default: a client from that builder.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.options.http_client = Some(http);
        self
    }

    /// The clock for `obtained_at` and retry waits (default: the system clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.options.clock = Some(SharedClock::new(clock));
        self
    }

    /// Applies every setting `options` holds; the others keep their current value.
    pub fn options(mut self, options: ExchangeOptions) -> Self {
        let current = &mut self.options;
        if options.http_client.is_some() {
            current.http_client = options.http_client;
        }
        if options.clock.is_some() {
            current.clock = options.clock;
        }
        if options.retry.is_some() {
            current.retry = options.retry;
        }
        if options.timeout.is_some() {
            current.timeout = options.timeout;
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
    /// [`ConfigError`] for an empty client id, a reserved extra parameter, or an HTTP client
    /// that cannot be built.
    pub fn build(self) -> Result<ClientCredentials, ConfigError> {
        if self.client_id.as_str().is_empty() {
            return Err(ConfigError::invalid("client id", "it is empty"));
        }
        if let Some((name, _)) = self.params.iter().find(|(name, _)| {
            matches!(
                name.as_str(),
                "grant_type" | "scope" | "client_id" | "client_secret"
            )
        }) {
            return Err(ConfigError::invalid(
                "token request parameter",
                format!(
                    "`{}` is set by the exchange itself",
                    crate::redact::sanitize(name, 40)
                ),
            ));
        }
        let options = self.options;
        let http = match options.http_client {
            Some(http) => http,
            None => default_client()?,
        };
        let redactor = Redactor::new()
            .with_basic_credentials(self.client_id.as_str(), self.client_secret.expose_secret());
        let client = ClientCredentials {
            inner: Arc::new(Inner {
                http,
                token_url: self.token_url,
                client_id: self.client_id,
                client_secret: self.client_secret,
                client_auth: self.client_auth,
                body_encoding: self.body_encoding,
                negotiated_form: AtomicBool::new(false),
                scopes: self.scopes,
                params: self.params,
                headers: self.headers,
                timeout: options.timeout.unwrap_or(DEFAULT_TIMEOUT),
                retry: options.retry.unwrap_or_default(),
                clock: options.clock.unwrap_or_default(),
                label: self.label,
                redactor,
            }),
        };
        // Fail now, not at the first request, if the credentials cannot be encoded.
        client.token_request()?;
        Ok(client)
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))`, marked sensitive.
///
/// RFC 6749 section 2.3.1 form-urlencodes both parts first, so a `:` in the id cannot split it
/// wrongly; for alphanumeric credentials this equals plain `base64(id:secret)`.
fn basic_authorization(id: &ClientId, secret: &ClientSecret) -> Result<HeaderValue, ConfigError> {
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let credentials = format!("{}:{}", encode(id.as_str()), encode(secret.expose_secret()));
    let mut header = HeaderValue::try_from(format!("Basic {}", BASE64.encode(credentials)))
        .map_err(|_| {
            ConfigError::invalid(
                "client credentials",
                "they cannot be encoded into a Basic header",
            )
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
    fn only_a_missing_grant_type_triggers_negotiation() {
        use crate::error::OAuthErrorResponse;
        use reqwest::StatusCode;
        let oauth = |code: &str, description: Option<&str>| {
            let mut error = OAuthErrorResponse::new(OAuthErrorCode::parse(code));
            if let Some(description) = description {
                error = error.with_description(description);
            }
            AuthError::oauth(StatusCode::BAD_REQUEST, error)
        };
        assert!(names_no_grant_type(&oauth("unsupported_grant_type", None)));
        assert!(names_no_grant_type(&oauth(
            "invalid_request",
            Some("Missing form parameter: grant_type")
        )));
        assert!(!names_no_grant_type(&oauth(
            "invalid_request",
            Some("bad scope")
        )));
        assert!(!names_no_grant_type(&oauth("invalid_client", None)));
        assert!(!names_no_grant_type(&AuthError::unexpected_status(
            StatusCode::BAD_REQUEST
        )));
    }
}
