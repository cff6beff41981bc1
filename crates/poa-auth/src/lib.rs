//! Authentication for Cybrilla's POA partner APIs.
//!
//! POA runs Keycloak. A partner obtains a token by the client-credentials grant at
//! `POST {base}/v2/auth/cybrillarta/token` with a form body carrying `client_id`,
//! `client_secret` and `grant_type=client_credentials`; the answer is Keycloak-shaped
//! (`expires_in` 1800, `refresh_expires_in`, `not-before-policy`, scope `partner`) and the access
//! token is a JWT. This crate configures [`auth_core::ClientCredentials`] for that request and
//! adds one rule: when the JWT carries an `exp` claim, the token expires at the earlier of `exp`
//! and `expires_in`.
//!
//! ```no_run
//! # async fn run() -> Result<(), auth_core::AuthError> {
//! // POA_BASE_URL, POA_CLIENT_ID, POA_CLIENT_SECRET and optionally POA_TOKEN_PATH.
//! let tokens = poa_auth::PoaAuth::from_env()?.into_cache()?;
//! let token = tokens.token().await?;
//! println!("token expires at {:?}", token.expires_at());
//! # Ok(())
//! # }
//! ```
//!
//! What is sent, what is accepted and how the documents' inconsistencies are handled:
//! `docs/vendors/poa.md`.

pub mod jwt;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use auth_core::url::{check_transport_security, parse_url};
use auth_core::{
    AccessToken, AuthError, BodyEncoding, ClientAuth, ClientCredentials, ClientId, ClientSecret,
    Clock, ConfigError, ExchangeOptions, Redactor, RetryPolicy, TokenCache, TokenCacheBuilder,
    TokenSource, TokenUrl, env,
};
use chrono::{DateTime, Utc};
use reqwest::StatusCode;

/// The token path POA documents as its endpoint.
pub const DEFAULT_TOKEN_PATH: &str = "/v2/auth/cybrillarta/token";
/// The path the POA documents' sample request posts to instead.
pub const SAMPLE_TOKEN_PATH: &str = "/poa/auth/token";

/// `POA_BASE_URL` (required: POA publishes no public default)
pub const ENV_BASE_URL: &str = "POA_BASE_URL";
/// `POA_CLIENT_ID`
pub const ENV_CLIENT_ID: &str = "POA_CLIENT_ID";
/// `POA_CLIENT_SECRET`
pub const ENV_CLIENT_SECRET: &str = "POA_CLIENT_SECRET";
/// `POA_TOKEN_PATH` (optional; default [`DEFAULT_TOKEN_PATH`])
pub const ENV_TOKEN_PATH: &str = "POA_TOKEN_PATH";

/// The token cache this crate builds.
pub type PoaTokenCache = TokenCache<PoaTokenSource>;

/// POA client configuration.
///
/// Every setter consumes and returns `self`; finish with [`into_cache`](Self::into_cache) (or
/// [`into_source`](Self::into_source) for the bare exchange).
#[derive(Clone)]
#[must_use]
pub struct PoaAuth {
    base_url: String,
    token_path: String,
    client_id: ClientId,
    client_secret: ClientSecret,
    options: ExchangeOptions,
}

impl PoaAuth {
    /// Credentials for the POA deployment at `base_url` (e.g. the URL POA support gave you).
    pub fn new(
        base_url: impl Into<String>,
        client_id: impl Into<ClientId>,
        client_secret: impl Into<ClientSecret>,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            token_path: DEFAULT_TOKEN_PATH.to_owned(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            options: ExchangeOptions::default(),
        }
    }

    /// Reads `POA_BASE_URL`, `POA_CLIENT_ID`, `POA_CLIENT_SECRET` and, if set,
    /// `POA_TOKEN_PATH`.
    ///
    /// # Errors
    /// [`ConfigError::MissingEnv`], [`ConfigError::EmptyEnv`] or
    /// [`ConfigError::NonUnicodeEnv`] naming the variable (never its value).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(env::process)
    }

    /// As [`from_env`](Self::from_env), reading variables through `lookup`.
    ///
    /// # Errors
    /// As [`from_env`](Self::from_env).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Result<Self, ConfigError> {
        let base_url = env::required(&lookup, ENV_BASE_URL)?;
        let client_id = env::required(&lookup, ENV_CLIENT_ID)?;
        let client_secret = env::required(&lookup, ENV_CLIENT_SECRET)?;
        let mut auth = Self::new(base_url, client_id, client_secret);
        if let Some(path) = env::optional(&lookup, ENV_TOKEN_PATH)? {
            auth.token_path = path;
        }
        Ok(auth)
    }

    /// The token path (default [`DEFAULT_TOKEN_PATH`]; the documents' sample uses
    /// [`SAMPLE_TOKEN_PATH`]).
    pub fn token_path(mut self, path: impl Into<String>) -> Self {
        self.token_path = path.into();
        self
    }

    /// The HTTP client to share with API calls (build it from
    /// [`auth_core::http::client_builder`]).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.options.http_client = Some(http);
        self
    }

    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.options.clock = Some(clock);
        self
    }

    /// The retry policy of the token request (default: [`RetryPolicy::default`]).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.options.retry = Some(retry);
        self
    }

    /// The timeout of one token request attempt (default: 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// The client id.
    pub fn client_id(&self) -> &ClientId {
        &self.client_id
    }

    /// The base URL, validated.
    ///
    /// # Errors
    /// [`ConfigError`] if it does not parse or is plain HTTP to a non-loopback host.
    pub fn base_url(&self) -> Result<reqwest::Url, ConfigError> {
        let url = parse_url(&self.base_url, "POA base URL")?;
        check_transport_security(&url, "POA base URL")?;
        Ok(url)
    }

    /// The exchange, without a cache.
    ///
    /// # Errors
    /// [`AuthError::Config`] for an invalid URL or credentials.
    pub fn into_source(self) -> Result<PoaTokenSource, AuthError> {
        let base = self.base_url()?;
        let token_url = TokenUrl::from_base(base.as_str(), &self.token_path)?;
        let builder = ClientCredentials::builder(token_url, self.client_id, self.client_secret)
            .client_auth(ClientAuth::RequestBody)
            .body_encoding(BodyEncoding::Form)
            .label(Cow::Borrowed("poa"))
            .options(self.options);
        Ok(PoaTokenSource {
            exchange: builder.build()?,
        })
    }

    /// A cache builder over the exchange, using the same clock, for custom cache settings.
    ///
    /// # Errors
    /// As [`into_source`](Self::into_source).
    pub fn into_cache_builder(self) -> Result<TokenCacheBuilder<PoaTokenSource>, AuthError> {
        let source = self.into_source()?;
        let clock = Arc::clone(source.exchange.clock());
        Ok(TokenCache::builder(source).clock(clock))
    }

    /// A ready token cache with the default settings.
    ///
    /// # Errors
    /// As [`into_source`](Self::into_source).
    pub fn into_cache(self) -> Result<PoaTokenCache, AuthError> {
        Ok(self.into_cache_builder()?.build())
    }
}

impl fmt::Debug for PoaAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoaAuth")
            .field("base_url", &self.base_url)
            .field("token_path", &self.token_path)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .finish_non_exhaustive()
    }
}

/// The POA exchange: the client-credentials request, then JWT-aware expiry.
#[derive(Clone, Debug)]
pub struct PoaTokenSource {
    exchange: ClientCredentials,
}

impl PoaTokenSource {
    /// The underlying exchange (its request, HTTP client and clock).
    pub fn exchange(&self) -> &ClientCredentials {
        &self.exchange
    }
}

#[async_trait]
impl TokenSource for PoaTokenSource {
    async fn fetch_token(&self) -> Result<AccessToken, AuthError> {
        Ok(effective_expiry(self.exchange.fetch_token().await?))
    }
}

/// Applies the JWT rule: the token expires at the earlier of its `exp` claim and the
/// response's `expires_in`, or at `exp` alone if there was no `expires_in`.
///
/// An `exp` at or before `obtained_at` is ignored (with a warning): it means the client's and
/// Keycloak's clocks disagree, and trusting it would make every token look expired on arrival.
/// Tokens that are not JWTs, or JWTs without `exp`, are returned unchanged.
pub fn effective_expiry(token: AccessToken) -> AccessToken {
    let Some(exp) = jwt::expiry(token.expose_secret()) else {
        return token;
    };
    if exp <= token.obtained_at() {
        tracing::warn!(
            %exp,
            obtained_at = %token.obtained_at(),
            "the token's JWT exp is not after the request time (clock skew?); using expires_in"
        );
        return token;
    }
    match token.expires_at() {
        Some(expires_at) if expires_at <= exp => token,
        _ => token.with_expires_at(exp),
    }
}

/// Parses a POA token response as the exchange does, the JWT rule included (for fixtures and
/// tools that hold a response body).
///
/// # Errors
/// As [`auth_core::response::parse_token_response`].
pub fn parse_token_response(
    status: StatusCode,
    body: &[u8],
    obtained_at: DateTime<Utc>,
    redactor: &Redactor,
) -> Result<AccessToken, AuthError> {
    auth_core::response::parse_token_response(status, body, obtained_at, redactor)
        .map(effective_expiry)
}
