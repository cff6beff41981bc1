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
//! use poa_auth::{PoaAuth, SourceConfig as _};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // POA_BASE_URL, POA_CLIENT_ID, POA_CLIENT_SECRET and optionally POA_TOKEN_PATH.
//! let tokens = PoaAuth::from_env()?.into_cache()?;
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

pub use auth_core::SourceConfig;
use auth_core::url::parse_base_url;
use auth_core::{
    AccessToken, AuthError, BodyEncoding, ClientAuth, ClientCredentials, ClientId, ClientSecret,
    ConfigError, ExchangeOptions, Redactor, TokenCache, TokenSource, TokenUrl, env,
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
/// `POA_TIMEOUT` (optional; seconds per token request attempt, e.g. `10` or `0.5`; default 30)
pub const ENV_TIMEOUT: &str = "POA_TIMEOUT";

/// The token cache this crate builds.
pub type PoaTokenCache = TokenCache<PoaTokenSource>;

/// POA client configuration.
///
/// Every setter consumes and returns `self`. The transport settings (`http_client`, `clock`,
/// `retry`, `timeout`) and the ways to finish (`into_cache`, `into_cache_builder`,
/// `into_source`) come from [`SourceConfig`]: bring it into scope.
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
    /// `POA_TOKEN_PATH` and `POA_TIMEOUT` (the timeout of one token request attempt, in
    /// seconds).
    ///
    /// # Errors
    /// [`ConfigError::MissingEnv`], [`ConfigError::EmptyEnv`] or
    /// [`ConfigError::NonUnicodeEnv`] naming the variable (never its value); an invalid
    /// `POA_BASE_URL` or `POA_TIMEOUT`, naming the variable.
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
        // Checked now, so the error names the variable.
        parse_base_url(&base_url, ENV_BASE_URL)?;
        let client_id = env::required(&lookup, ENV_CLIENT_ID)?;
        let client_secret = env::required(&lookup, ENV_CLIENT_SECRET)?;
        let mut auth = Self::new(base_url, client_id, client_secret);
        if let Some(path) = env::optional(&lookup, ENV_TOKEN_PATH)? {
            auth.token_path = path;
        }
        auth.options.timeout = env::optional_timeout(&lookup, ENV_TIMEOUT)?;
        Ok(auth)
    }

    /// The token path (default [`DEFAULT_TOKEN_PATH`]; the documents' sample uses
    /// [`SAMPLE_TOKEN_PATH`]).
    pub fn token_path(mut self, path: impl Into<String>) -> Self {
        self.token_path = path.into();
        self
    }

    /// The client id.
    pub fn client_id(&self) -> &ClientId {
        &self.client_id
    }

    /// The base URL, validated.
    ///
    /// # Errors
    /// [`ConfigError`] if it does not parse, is plain HTTP to a non-loopback host, or has a
    /// query or fragment.
    pub fn base_url(&self) -> Result<reqwest::Url, ConfigError> {
        parse_base_url(&self.base_url, "POA base URL")
    }
}

impl SourceConfig for PoaAuth {
    type Source = PoaTokenSource;

    fn exchange_options(&mut self) -> &mut ExchangeOptions {
        &mut self.options
    }

    fn cache_name(&self) -> Cow<'static, str> {
        Cow::Borrowed("poa")
    }

    /// The exchange, without a cache.
    ///
    /// # Errors
    /// [`ConfigError`] for an invalid URL or credentials.
    fn into_source(self) -> Result<PoaTokenSource, ConfigError> {
        let base = self.base_url()?;
        let token_url = TokenUrl::from_base(base.as_str(), &self.token_path)?;
        let exchange = ClientCredentials::builder(token_url, self.client_id, self.client_secret)
            .client_auth(ClientAuth::RequestBody)
            .body_encoding(BodyEncoding::Form)
            .label(Cow::Borrowed("poa"))
            .options(self.options)
            .build()?;
        Ok(PoaTokenSource { exchange })
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

impl auth_core::HasExchange for PoaTokenSource {
    fn exchange(&self) -> &ClientCredentials {
        &self.exchange
    }
}

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
