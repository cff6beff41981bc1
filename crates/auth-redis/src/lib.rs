//! A fleet-wide token store on Redis and Redis Cluster: [`RedisStore`] implements
//! `auth-core`'s [`TokenStore`](auth_core::store::TokenStore) seam, so that a
//! [`SharedSource`](auth_core::store::SharedSource) behind each process's
//! [`TokenCache`](auth_core::TokenCache) makes a whole fleet fetch one token per lifetime.
//!
//! # Example
//! ```no_run
//! use auth_core::store::SharedSource;
//! use auth_core::{ClientCredentials, TokenCache, TokenUrl};
//! use auth_redis::RedisStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let exchange = ClientCredentials::builder(
//!     TokenUrl::parse("https://auth.example.com/oauth2/token")?,
//!     "client-id",
//!     "client-secret",
//! )
//! .build()?;
//! // PARTNER_REDIS_URL, e.g. redis://:password@redis.internal:6379/0
//! let store = RedisStore::from_env()?;
//! let cache = TokenCache::new(SharedSource::for_exchange(exchange, store).build()?);
//! let token = cache.token().await?; // from Redis if another process fetched one already
//! # let _ = token;
//! # Ok(())
//! # }
//! ```
//! A vendor configuration takes the store the same way: `PoderoAuth::from_env()?`
//! `.shared(RedisStore::from_env()?).into_cache()?`.
//!
//! # What is stored
//! For each token (its [`StoreKey`](auth_core::store::StoreKey), a hash of token URL, client
//! id, scopes and parameters under a prefix):
//! - `{prefix:digest}:token`: a hash with the version `v` (the token's expiry in Unix
//!   milliseconds), the keyed fingerprint `f` (hex HMAC-SHA-256, useless without the key) and
//!   the envelope `e` (AES-256-GCM, bound to the key's name), with the token's remaining
//!   lifetime as its TTL. [`get`](auth_core::store::TokenStore::get) reports the TTL that
//!   Redis counts down (`PTTL`), so pods whose clocks disagree agree on how long a token has
//!   left. The token itself is never stored in clear.
//! - `{prefix:digest}:lock`: the fetch lock, `SET NX PX` with a random owner; extended and
//!   released only by its owner (Lua compare-then-`PEXPIRE` and compare-then-`DEL`).
//!
//! Put-if-newer and compare-and-delete are Lua scripts, so each is atomic; they compare the
//! version and the fingerprint only. Both keys of a token share the hash tag
//! `{prefix:digest}`, so in Redis Cluster they live in one slot and every script touches one
//! node. Waiting for another process's token polls the entry with jitter
//! ([`RedisStoreBuilder::poll_interval`]).
//!
//! # Failures
//! Every operation ends within the connect timeout plus the response timeout (1 s each by
//! default) with a [`StoreError`](auth_core::store::StoreError), which `SharedSource` turns
//! into a direct fetch behind its circuit breaker. The store connects lazily and reconnects by
//! itself. Error messages are built from fixed words and Redis error codes only: they never
//! hold the URL, its password, a key's value or a server's error text.
//!
//! # Configuration
//! - [`RedisStore::from_env`]: `PARTNER_REDIS_URL` ([`ENV_REDIS_URL`]), one URL
//!   (`redis://`, `rediss://` for TLS with rustls and the OS's root certificates,
//!   `redis+unix://`), or with feature `cluster` several comma-separated node URLs.
//! - [`RedisStore::builder`]: the URL or (feature `cluster`) the cluster's nodes, the connect
//!   and response timeouts, the poll interval.
//!
//! # Features
//! - `cluster`: Redis Cluster ([`RedisStoreBuilder::cluster_nodes`]).

mod error;
mod scripts;
mod store;
#[cfg(feature = "test-util")]
#[doc(hidden)]
pub mod test_util;

pub use store::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_POLL_INTERVAL, DEFAULT_RESPONSE_TIMEOUT, ENV_REDIS_URL,
    RedisStore, RedisStoreBuilder,
};
