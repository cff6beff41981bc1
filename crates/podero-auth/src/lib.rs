//! Authentication for the [Podero](https://podero.com) Partner API.
//!
//! Podero's OAuth2 server issues tokens by the client-credentials grant at
//! `POST {base}/oauth2/token/`, with the client authenticated by HTTP Basic and, as Podero
//! documents it, a JSON body `{"grant_type":"client_credentials"}`. Tokens live about ten hours
//! (`expires_in` 36000) with scope `read write`. This crate configures
//! [`auth_core::ClientCredentials`] for exactly that request and hands back a ready
//! [`TokenCache`].
//!
//! ```no_run
//! use podero_auth::{PoderoAuth, SourceConfig as _};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // PODERO_CLIENT_ID, PODERO_CLIENT_SECRET and optionally PODERO_BASE_URL.
//! let tokens = PoderoAuth::from_env()?.into_cache()?;
//! let token = tokens.token().await?;
//! let users = reqwest::Client::new()
//!     .get("https://app.podero.com/api/partners/v2.0/org/016b78a7-0c7c-4241-a277-015c3ad3cb90/users")
//!     .header(reqwest::header::AUTHORIZATION, token.authorization().clone())
//!     .send()
//!     .await;
//! # let _ = users;
//! # Ok(())
//! # }
//! ```
//!
//! # The token body
//! Podero documents a JSON body, which django-oauth-toolkit (the software behind Podero's
//! token endpoint) parses only with its deprecated JSON backend; its default backend parses
//! form bodies only. The default, [`BodyEncoding::Auto`], sends JSON as documented and, if the
//! server answers that it found no grant type, the same request once more as a form, then
//! keeps whichever worked. `PODERO_TOKEN_BODY=json|form|auto` or
//! [`PoderoAuth::body_encoding`] fixes it.
//!
//! What is sent, what is accepted and how the documents' inconsistencies are handled:
//! `docs/vendors/podero.md`.

use std::borrow::Cow;
use std::fmt;

pub use auth_core::SourceConfig;
use auth_core::env;
use auth_core::url::parse_base_url;
use auth_core::{
    BodyEncoding, ClientAuth, ClientCredentials, ClientId, ClientSecret, ConfigError,
    ExchangeOptions, Scopes, TokenCache, TokenUrl,
};
use reqwest::Url;
use reqwest::header::{CACHE_CONTROL, HeaderValue};

/// Podero production: `https://app.podero.com`.
pub const PRODUCTION_URL: &str = "https://app.podero.com";
/// The token endpoint's path.
pub const TOKEN_PATH: &str = "/oauth2/token/";

/// `PODERO_CLIENT_ID`
pub const ENV_CLIENT_ID: &str = "PODERO_CLIENT_ID";
/// `PODERO_CLIENT_SECRET`
pub const ENV_CLIENT_SECRET: &str = "PODERO_CLIENT_SECRET";
/// `PODERO_BASE_URL` (optional; default [`PRODUCTION_URL`])
pub const ENV_BASE_URL: &str = "PODERO_BASE_URL";
/// `PODERO_TOKEN_BODY` (optional; `json`, `form` or `auto`, the default)
pub const ENV_TOKEN_BODY: &str = "PODERO_TOKEN_BODY";
/// `PODERO_TIMEOUT` (optional; seconds per attempt, e.g. `10` or `0.5`; default 30)
pub const ENV_TIMEOUT: &str = "PODERO_TIMEOUT";

/// The token cache this crate builds.
pub type PoderoTokenCache = TokenCache<ClientCredentials>;

/// Which Podero deployment to talk to.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Environment {
    /// `https://app.podero.com`
    Production,
    /// A sandbox on its own subdomain: `Sandbox("acme")` is `https://acme.podero.com`.
    Sandbox(String),
    /// Any base URL (the emulator, a proxy): `https://`, or `http://` for loopback only; no
    /// query or fragment.
    Custom(String),
}

impl Environment {
    /// The base URL, validated.
    ///
    /// # Errors
    /// [`ConfigError`] for a sandbox name that is not a DNS label, or a custom URL that does
    /// not parse or is plain HTTP to a non-loopback host.
    pub fn base_url(&self) -> Result<Url, ConfigError> {
        let url = match self {
            Self::Production => PRODUCTION_URL.to_owned(),
            Self::Sandbox(name) => {
                if !is_dns_label(name) {
                    return Err(ConfigError::invalid(
                        "Podero sandbox name",
                        format!(
                            "{:?} is not a subdomain label (letters, digits and inner hyphens, at most 63)",
                            auth_core::redact::sanitize(name, 80)
                        ),
                    ));
                }
                format!("https://{}.podero.com", name.to_ascii_lowercase())
            }
            Self::Custom(url) => url.clone(),
        };
        parse_base_url(&url, "Podero base URL")
    }
}

fn is_dns_label(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// Podero client configuration: credentials, environment and exchange options.
///
/// Every setter consumes and returns `self`. The transport settings (`http_client`, `clock`,
/// `retry`, `timeout`) and the ways to finish (`into_cache`, `into_cache_builder`,
/// `into_source`) come from [`SourceConfig`]: bring it into scope.
#[derive(Clone)]
#[must_use]
pub struct PoderoAuth {
    client_id: ClientId,
    client_secret: ClientSecret,
    environment: Environment,
    scopes: Scopes,
    body_encoding: BodyEncoding,
    options: ExchangeOptions,
}

impl PoderoAuth {
    /// Credentials for Podero production; change the target with
    /// [`environment`](Self::environment).
    pub fn new(client_id: impl Into<ClientId>, client_secret: impl Into<ClientSecret>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            environment: Environment::Production,
            scopes: Scopes::empty(),
            body_encoding: BodyEncoding::Auto,
            options: ExchangeOptions::default(),
        }
    }

    /// Reads `PODERO_CLIENT_ID`, `PODERO_CLIENT_SECRET` and, if set, `PODERO_BASE_URL`,
    /// `PODERO_TOKEN_BODY` and `PODERO_TIMEOUT` (the timeout of one token request attempt, in
    /// seconds).
    ///
    /// # Errors
    /// [`ConfigError::MissingEnv`], [`ConfigError::EmptyEnv`] or
    /// [`ConfigError::NonUnicodeEnv`] naming the variable (never its value); an invalid
    /// `PODERO_BASE_URL`, `PODERO_TOKEN_BODY` or `PODERO_TIMEOUT`, naming the variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(env::process)
    }

    /// As [`from_env`](Self::from_env), reading variables through `lookup` (for tests and
    /// configuration systems).
    ///
    /// # Errors
    /// As [`from_env`](Self::from_env).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Result<Self, ConfigError> {
        let client_id = env::required(&lookup, ENV_CLIENT_ID)?;
        let client_secret = env::required(&lookup, ENV_CLIENT_SECRET)?;
        let mut auth = Self::new(client_id, client_secret);
        if let Some(base_url) = env::optional(&lookup, ENV_BASE_URL)? {
            // Checked now, so the error names the variable.
            parse_base_url(&base_url, ENV_BASE_URL)?;
            auth.environment = Environment::Custom(base_url);
        }
        if let Some(body) = env::optional(&lookup, ENV_TOKEN_BODY)? {
            auth.body_encoding = match body.to_ascii_lowercase().as_str() {
                "json" => BodyEncoding::Json,
                "form" => BodyEncoding::Form,
                "auto" => BodyEncoding::Auto,
                _ => {
                    return Err(ConfigError::invalid(
                        ENV_TOKEN_BODY,
                        "it must be `json`, `form` or `auto`",
                    ));
                }
            };
        }
        auth.options.timeout = env::optional_timeout(&lookup, ENV_TIMEOUT)?;
        Ok(auth)
    }

    /// The deployment (default: production).
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = environment;
        self
    }

    /// Scopes to request (default: none, so Podero grants `read write`).
    pub fn scopes(mut self, scopes: Scopes) -> Self {
        self.scopes = scopes;
        self
    }

    /// The request body encoding: [`BodyEncoding::Auto`] by default (JSON as Podero
    /// documents, a form body if the server does not parse JSON; see the crate docs),
    /// [`BodyEncoding::Json`] or [`BodyEncoding::Form`] to fix it.
    pub fn body_encoding(mut self, body_encoding: BodyEncoding) -> Self {
        self.body_encoding = body_encoding;
        self
    }

    /// The client id.
    pub fn client_id(&self) -> &ClientId {
        &self.client_id
    }

    /// The base URL of the configured environment.
    ///
    /// # Errors
    /// As [`Environment::base_url`].
    pub fn base_url(&self) -> Result<Url, ConfigError> {
        self.environment.base_url()
    }

    /// The HTTP client given to [`SourceConfig::http_client`], if any.
    pub fn configured_http_client(&self) -> Option<&reqwest::Client> {
        self.options.http_client.as_ref()
    }
}

impl SourceConfig for PoderoAuth {
    type Source = ClientCredentials;

    fn exchange_options(&mut self) -> &mut ExchangeOptions {
        &mut self.options
    }

    fn cache_name(&self) -> Cow<'static, str> {
        Cow::Borrowed("podero")
    }

    /// The exchange, without a cache.
    ///
    /// # Errors
    /// [`ConfigError`] for an invalid environment or credentials.
    fn into_source(self) -> Result<ClientCredentials, ConfigError> {
        let base = self.environment.base_url()?;
        let token_url = TokenUrl::from_base(base.as_str(), TOKEN_PATH)?;
        ClientCredentials::builder(token_url, self.client_id, self.client_secret)
            .client_auth(ClientAuth::BasicHeader)
            .body_encoding(self.body_encoding)
            .scopes(self.scopes)
            // Podero's documented request carries it; it keeps intermediaries from caching
            // token responses.
            .header(CACHE_CONTROL, HeaderValue::from_static("no-cache"))
            .label(Cow::Borrowed("podero"))
            .options(self.options)
            .build()
    }
}

impl fmt::Debug for PoderoAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoderoAuth")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("environment", &self.environment)
            .field("scopes", &self.scopes)
            .field("body_encoding", &self.body_encoding)
            .finish_non_exhaustive()
    }
}
