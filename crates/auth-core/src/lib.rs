//! Vendor-neutral core for OAuth2 client-credentials (RFC 6749 section 4.4) clients.
//!
//! - [`ClientId`], [`ClientSecret`], [`AccessToken`], [`Scopes`]: secrets that redact
//!   themselves and are zeroized on drop.
//! - [`Clock`]: the time seam; [`SystemClock`] is monotonic, `ManualClock` (feature
//!   `test-util`) is moved by tests.
//! - [`TokenSource`] (one exchange) and [`TokenProvider`] (what callers use).
//! - [`TokenCache`]: lock-free hot path, single flight, refresh ahead, compare-and-invalidate,
//!   failure backoff, counters.
//! - [`ClientCredentials`]: the exchange over reqwest, configurable per vendor (client
//!   authentication, body encoding, extra parameters and headers, timeouts, retries).
//! - [`response`]: RFC 6749 token and error response parsing.
//!
//! # Example
//! ```no_run
//! use auth_core::{ClientCredentials, TokenCache, TokenUrl};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), auth_core::AuthError> {
//! let source = ClientCredentials::builder(
//!     TokenUrl::parse("https://auth.example.com/oauth2/token")?,
//!     "client-id",
//!     "client-secret",
//! )
//! .build()?;
//! let cache = TokenCache::new(source);
//!
//! // Every call returns a valid token; only the first one waits for the endpoint.
//! let token = cache.token().await?;
//! let request = reqwest::Client::new()
//!     .get("https://api.example.com/things")
//!     .header(reqwest::header::AUTHORIZATION, token.authorization().clone());
//! # let _ = request;
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//! - `test-util`: [`ManualClock`], `MockClock` and `MockTokenSource`/`MockTokenProvider`
//!   (mockall), for tests of code built on this crate.

mod cache;
mod clock;
pub mod env;
mod error;
mod exchange;
pub mod http;
mod provider;
pub mod response;
pub mod retry;
mod secret;
mod token;
pub mod url;

pub use cache::{CacheConfig, CacheMetrics, TokenCache, TokenCacheBuilder};
pub use clock::{Clock, SystemClock};
#[cfg(feature = "test-util")]
pub use clock::{ManualClock, MockClock};
pub use error::{
    AuthError, ConfigError, Excerpt, OAuthErrorCode, OAuthErrorResponse, Redactor, TransportKind,
    is_transient_status,
};
pub use exchange::{
    BodyEncoding, ClientAuth, ClientCredentials, ClientCredentialsBuilder, DEFAULT_TIMEOUT,
    ExchangeOptions, retry_after,
};
#[cfg(feature = "test-util")]
pub use provider::{MockTokenProvider, MockTokenSource};
pub use provider::{TokenProvider, TokenSource};
pub use retry::RetryPolicy;
pub use secret::{ClientId, ClientSecret};
pub use token::{AccessToken, InvalidTokenValue, Scopes, TokenType};
pub use url::TokenUrl;
