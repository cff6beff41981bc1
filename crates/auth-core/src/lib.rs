//! Vendor-neutral core for OAuth2 client-credentials (RFC 6749 section 4.4) clients.
//!
//! - [`ClientId`], [`ClientSecret`], [`AccessToken`], [`Scopes`]: secrets that redact
//!   themselves and are zeroized on drop; [`Token`], the cheap handle providers hand out.
//! - [`Clock`] and [`SharedClock`]: the time seam; [`SystemClock`] is monotonic and shared by
//!   everything built with defaults, `ManualClock` (feature `test-util`) is moved by tests.
//! - [`TokenSource`] (one exchange) and [`TokenProvider`] (what callers use), both
//!   implementable with a plain `async fn`; [`SharedTokenProvider`], the type-erased handle.
//! - [`TokenCache`]: lock-free hot path, single flight, refresh ahead for every lifetime,
//!   compare-and-invalidate, failure probing and backoff, runtime independence, counters.
//! - [`ClientCredentials`]: the exchange over reqwest, configurable per vendor (client
//!   authentication, body encoding, extra parameters and headers, timeouts, retries);
//!   [`SourceConfig`], the settings every vendor configuration shares.
//! - [`response`]: RFC 6749 token and error response parsing; [`redact`]: making server text
//!   safe to show.
//!
//! # Example
//! ```no_run
//! use auth_core::{ClientCredentials, TokenCache, TokenUrl};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
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
//! - `test-util`: [`ManualClock`], `MockClock`, `MockTokenSource`/`MockTokenProvider`
//!   (mockall) and the helpers in `test_util`, for tests of code built on this crate.
//! - `metrics`: publishes the cache's counters through the `metrics` facade (names in
//!   [`CacheMetrics`]'s module docs and `docs/configuration.md`).
//! - `native-tls`: the OS's TLS stack for the default HTTP client instead of rustls.
//! - `store`: shared token stores ([`store`]): the seam, the `SharedSource` algorithm and the
//!   encrypted envelope (AES-256-GCM from aws-lc-rs).
//! - `file-store`: the encrypted [`store::FileStore`] for the processes of one machine.

mod cache;
mod clock;
#[doc(hidden)]
pub mod env;
mod error;
mod exchange;
pub mod http;
mod provider;
pub mod redact;
pub mod response;
pub mod retry;
mod secret;
#[cfg(feature = "store")]
pub mod store;
#[cfg(feature = "test-util")]
pub mod test_util;
mod token;
pub mod url;

pub use reqwest;

pub use cache::{CacheConfig, CacheMetrics, TokenCache, TokenCacheBuilder};
pub use clock::{Clock, SharedClock, SystemClock};
#[cfg(feature = "test-util")]
pub use clock::{ManualClock, MockClock};
pub use error::{
    AuthError, ConfigError, OAuthErrorCode, OAuthErrorResponse, OtherErrorCode, SourceError,
    TransportKind, is_transient_status,
};
pub use exchange::{
    BodyEncoding, ClientAuth, ClientCredentials, ClientCredentialsBuilder, DEFAULT_TIMEOUT,
    ExchangeOptions, HasExchange, SourceConfig,
};
pub use provider::{
    FetchContext, FetchReason, SharedTokenProvider, TokenFuture, TokenProvider, TokenSource,
};
#[cfg(feature = "test-util")]
pub use provider::{MockTokenProvider, MockTokenSource};
pub use redact::{Excerpt, Redactor};
pub use retry::RetryPolicy;
pub use secret::{ClientId, ClientSecret};
pub use token::{AccessToken, InvalidTokenValue, OtherTokenType, Scopes, Token, TokenType};
pub use url::TokenUrl;
