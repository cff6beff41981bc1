//! Shared token stores (feature `store`): one token for every process on a machine or in a
//! fleet.
//!
//! - [`TokenStore`]: the small seam a store implements (get, put-if-newer,
//!   compare-and-delete, a lock with a TTL and an owner, a way to wait for a change). The
//!   encrypted [`FileStore`] (feature `file-store`) lives here; Redis and Redis Cluster live in
//!   the `auth-redis` crate.
//! - [`SharedSource`]: the one algorithm over any store, as a [`TokenSource`] decorator that a
//!   [`TokenCache`](crate::TokenCache) sits in front of. The cache's hot path never touches
//!   the store.
//! - [`StoreKeys`]: what encrypts the stored tokens (AES-256-GCM, the store key as associated
//!   data), by default derived from the client secret.
//!
//! A store is an optimisation, never a dependency: any store error or timeout becomes a direct
//! fetch, behind a circuit breaker. A distributed lock is an efficiency measure, not a
//! correctness one: a duplicate fetch is harmless, a lost lock never wedges anything.
//!
//! [`TokenSource`]: crate::TokenSource

mod envelope;
#[cfg(feature = "file-store")]
mod file;
mod shared;

use std::fmt;
use std::time::Duration;

pub use self::envelope::{Fingerprint, KeyId, StoreKeys, StoredToken};
#[cfg(feature = "file-store")]
pub use self::file::FileStore;
pub use self::shared::{SharedMetrics, SharedSource, SharedSourceBuilder, SourceIdentity};

/// Where one token lives in a store: a name derived (hashed) from the token URL, client id,
/// scopes and extra parameters, under a configurable prefix. Every key of one token (its
/// value, its lock) shares the hash tag `{prefix:hash}`, so in Redis Cluster they share a slot.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct StoreKey {
    tag: String,
}

impl StoreKey {
    /// A key from its parts: the prefix (e.g. `partner-auth`) and the hex digest of the
    /// token's identity. Both must be non-empty and free of `{`, `}` and whitespace.
    ///
    /// # Errors
    /// [`StoreError::InvalidKey`].
    pub fn new(prefix: &str, digest: &str) -> Result<Self, StoreError> {
        let valid = |part: &str| {
            !part.is_empty()
                && part.len() <= 128
                && !part
                    .chars()
                    .any(|c| c == '{' || c == '}' || c.is_whitespace() || c.is_control())
        };
        if !valid(prefix) || !valid(digest) {
            return Err(StoreError::InvalidKey);
        }
        Ok(Self {
            tag: format!("{prefix}:{digest}"),
        })
    }

    /// The hash tag `{prefix:digest}`, the common part of every key of this token.
    pub fn tag(&self) -> String {
        format!("{{{}}}", self.tag)
    }

    /// The name of the token's value: `{prefix:digest}:token`. It is also the associated data
    /// of the stored envelope, binding the ciphertext to this key.
    pub fn token_key(&self) -> String {
        format!("{{{}}}:token", self.tag)
    }

    /// The name of the token's lock: `{prefix:digest}:lock`.
    pub fn lock_key(&self) -> String {
        format!("{{{}}}:lock", self.tag)
    }

    /// A name usable as a file name: `prefix:digest` with `:` replaced by `-`.
    pub fn file_stem(&self) -> String {
        self.tag.replace(':', "-")
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("StoreKey").field(&self.tag).finish()
    }
}

impl fmt::Display for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.tag)
    }
}

/// An entry as a store holds it: opaque bytes to the store, except for the version (for
/// put-if-newer) and the fingerprint (for compare-and-delete).
#[derive(Clone, PartialEq, Eq)]
pub struct StoreEntry {
    /// Orders entries: a put succeeds only over an entry with a smaller version. The
    /// [`SharedSource`] uses the token's expiry in Unix milliseconds.
    pub version: i64,
    /// A keyed fingerprint of the token (never the token): what compare-and-delete compares.
    pub fingerprint: Fingerprint,
    /// The AEAD envelope (see [`StoreKeys`]).
    pub envelope: Vec<u8>,
}

impl fmt::Debug for StoreEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreEntry")
            .field("version", &self.version)
            .field("fingerprint", &self.fingerprint)
            .field("envelope_bytes", &self.envelope.len())
            .finish()
    }
}

/// An entry read from a store, with the store's own view of how long it has left (the TTL
/// it was written with, counted down by the store): pods whose clocks disagree by a few
/// seconds still agree on a token's remaining life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreRead {
    /// The entry.
    pub entry: StoreEntry,
    /// The remaining time to live, as the store counts it.
    pub remaining: Duration,
}

/// The owner of a lock: a random value only its holder knows, so that only the holder can
/// extend or release it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LockOwner(String);

impl LockOwner {
    /// A fresh random owner (128 bits).
    pub fn random() -> Self {
        Self(format!(
            "{:016x}{:016x}",
            fastrand::u64(..),
            fastrand::u64(..)
        ))
    }

    /// The owner value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for LockOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LockOwner").field(&self.0).finish()
    }
}

/// Why a store operation failed. Every one of them makes the [`SharedSource`] fall back to a
/// direct fetch; none reaches a caller.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store is unreachable or answered with an error.
    #[error("the token store is unavailable: {0}")]
    Unavailable(String),
    /// The store did not answer in time.
    #[error("the token store did not answer within {0:?}")]
    Timeout(Duration),
    /// A store key would be invalid.
    #[error("invalid token store key")]
    InvalidKey,
    /// The store's configuration cannot work.
    #[error("invalid token store configuration: {0}")]
    Config(String),
}

/// A shared store of encrypted tokens: the seam between [`SharedSource`] and Redis, a file
/// directory, or anything else.
///
/// Every operation is one round trip, atomic on its own; implementations bound each with a
/// timeout and report failures as [`StoreError`]. Implement it with plain `async fn`s.
pub trait TokenStore: Send + Sync + 'static {
    /// The entry at `key` and the time it has left, if there is one that has not expired.
    fn get(
        &self,
        key: &StoreKey,
    ) -> impl Future<Output = Result<Option<StoreRead>, StoreError>> + Send;

    /// Writes `entry`, to expire after `ttl`, unless the store holds an entry with a version
    /// at least as large. Returns whether it wrote.
    fn put_if_newer(
        &self,
        key: &StoreKey,
        entry: &StoreEntry,
        ttl: Duration,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes the entry if its fingerprint is `fingerprint`. Returns whether it deleted.
    fn delete_if(
        &self,
        key: &StoreKey,
        fingerprint: &Fingerprint,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Takes the lock of `key` as `owner` for `ttl` if nobody holds it; never waits. Returns
    /// whether it took it.
    fn try_lock(
        &self,
        key: &StoreKey,
        owner: &LockOwner,
        ttl: Duration,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Extends the lock to `ttl` from now if `owner` still holds it. Returns whether it did.
    fn extend_lock(
        &self,
        key: &StoreKey,
        owner: &LockOwner,
        ttl: Duration,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Releases the lock if `owner` still holds it.
    fn unlock(
        &self,
        key: &StoreKey,
        owner: &LockOwner,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Returns when the entry at `key` may have changed, or after `timeout` at the latest
    /// (polling with jitter, or a notification: either way, callers read again).
    fn wait_for_change(
        &self,
        key: &StoreKey,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

impl<T: TokenStore> TokenStore for std::sync::Arc<T> {
    fn get(
        &self,
        key: &StoreKey,
    ) -> impl Future<Output = Result<Option<StoreRead>, StoreError>> + Send {
        (**self).get(key)
    }

    fn put_if_newer(
        &self,
        key: &StoreKey,
        entry: &StoreEntry,
        ttl: Duration,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        (**self).put_if_newer(key, entry, ttl)
    }

    fn delete_if(
        &self,
        key: &StoreKey,
        fingerprint: &Fingerprint,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        (**self).delete_if(key, fingerprint)
    }

    fn try_lock(
        &self,
        key: &StoreKey,
        owner: &LockOwner,
        ttl: Duration,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        (**self).try_lock(key, owner, ttl)
    }

    fn extend_lock(
        &self,
        key: &StoreKey,
        owner: &LockOwner,
        ttl: Duration,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        (**self).extend_lock(key, owner, ttl)
    }

    fn unlock(
        &self,
        key: &StoreKey,
        owner: &LockOwner,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).unlock(key, owner)
    }

    fn wait_for_change(
        &self,
        key: &StoreKey,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).wait_for_change(key, timeout)
    }
}

/// A vendor configuration with a shared store in front of its exchange: what
/// [`SourceConfig::shared`](crate::SourceConfig::shared) returns. It is a [`SourceConfig`]
/// itself, so it finishes the same way (`into_cache`, `into_cache_builder`, `into_source`).
///
/// [`SourceConfig`]: crate::SourceConfig
pub struct Shared<C, St> {
    config: C,
    store: St,
    keys: Option<StoreKeys>,
    prefix: Option<String>,
    lock_ttl: Option<Duration>,
    store_timeout: Option<Duration>,
    breaker_cooldown: Option<Duration>,
}

impl<C: fmt::Debug, St: fmt::Debug> fmt::Debug for Shared<C, St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .field("store", &self.store)
            .field("keys", &self.keys)
            .field("prefix", &self.prefix)
            .field("lock_ttl", &self.lock_ttl)
            .field("store_timeout", &self.store_timeout)
            .field("breaker_cooldown", &self.breaker_cooldown)
            .finish()
    }
}

impl<C, St> Shared<C, St>
where
    C: crate::SourceConfig,
    C::Source: crate::HasExchange,
    St: TokenStore,
{
    pub(crate) fn new(config: C, store: St) -> Self {
        Self {
            config,
            store,
            keys: None,
            prefix: None,
            lock_ttl: None,
            store_timeout: None,
            breaker_cooldown: None,
        }
    }

    /// Explicit encryption keys (default: derived from the client secret).
    #[must_use]
    pub fn keys(mut self, keys: StoreKeys) -> Self {
        self.keys = Some(keys);
        self
    }

    /// The prefix of store keys (default `partner-auth`).
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// How long the store's lock lives unless its holder extends it (default 10 s); see
    /// [`SharedSourceBuilder::lock_ttl`].
    #[must_use]
    pub fn lock_ttl(mut self, ttl: Duration) -> Self {
        self.lock_ttl = Some(ttl);
        self
    }

    /// The longest one store operation may take (default 2 s); see
    /// [`SharedSourceBuilder::store_timeout`].
    #[must_use]
    pub fn store_timeout(mut self, timeout: Duration) -> Self {
        self.store_timeout = Some(timeout);
        self
    }

    /// How long the store is left alone after it failed (default 30 s); see
    /// [`SharedSourceBuilder::breaker_cooldown`].
    #[must_use]
    pub fn breaker_cooldown(mut self, cooldown: Duration) -> Self {
        self.breaker_cooldown = Some(cooldown);
        self
    }
}

impl<C, St> crate::SourceConfig for Shared<C, St>
where
    C: crate::SourceConfig,
    C::Source: crate::HasExchange,
    St: TokenStore,
{
    type Source = SharedSource<C::Source, St>;

    fn exchange_options(&mut self) -> &mut crate::ExchangeOptions {
        self.config.exchange_options()
    }

    fn cache_name(&self) -> std::borrow::Cow<'static, str> {
        self.config.cache_name()
    }

    fn into_source(self) -> Result<Self::Source, crate::ConfigError> {
        let source = self.config.into_source()?;
        let exchange = crate::HasExchange::exchange(&source);
        let identity = exchange.store_identity();
        let clock = exchange.clock().clone();
        let mut builder = SharedSource::builder(source, self.store)
            .identity(identity)
            .clock(clock);
        if let Some(keys) = self.keys {
            builder = builder.keys(keys);
        }
        if let Some(prefix) = self.prefix {
            builder = builder.prefix(prefix);
        }
        if let Some(ttl) = self.lock_ttl {
            builder = builder.lock_ttl(ttl);
        }
        if let Some(timeout) = self.store_timeout {
            builder = builder.store_timeout(timeout);
        }
        if let Some(cooldown) = self.breaker_cooldown {
            builder = builder.breaker_cooldown(cooldown);
        }
        builder.build()
    }
}
