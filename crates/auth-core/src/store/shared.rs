//! [`SharedSource`]: the one algorithm that makes many processes behave like one cache.
//!
//! On a fetch (the local cache missed, or wants a refresh):
//! 1. if a server rejected a token, delete it from the store, if the store still holds it
//!    (compare-and-delete by keyed fingerprint);
//! 2. read the store: a token with enough life left (the cache would serve it without
//!    refreshing it at once) is used as it is;
//! 3. otherwise take the store's lock without waiting, read again, fetch from the inner
//!    source, store the token (put-if-newer), release the lock;
//! 4. if another process holds the lock, wait for the token it stores, reading the store at
//!    least every 200 ms, and take the lock when its holder died (its lock expires after its
//!    TTL); after three lock TTLs without a token, fetch directly.
//!
//! Refresh ahead goes through the same steps: the first process to reach its refresh point
//! takes the lock and refreshes for everybody; the others find the new token at their own.
//!
//! The store is an optimisation, never a dependency: any store error or timeout sends this
//! fetch, and the fetches of the next cool-down period (a circuit breaker), straight to the
//! inner source. Each store operation is bounded by its own timeout.
//!
//! Clock skew: the store keeps each token's lifetime and its own time to live; a reader
//! re-anchors the token on its own clock (expires = now + the store's remaining TTL), so pods
//! whose clocks disagree agree on how long the token has left, and none uses it past expiry.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use aws_lc_rs::digest;
use tracing::{debug, warn};

use super::envelope::{StoreKeys, StoredToken};
use super::{LockOwner, StoreEntry, StoreError, StoreKey, TokenStore};
use crate::clock::{Clock, SharedClock, duration_nanos};
use crate::error::{AuthError, ConfigError};
use crate::exchange::ClientCredentials;
use crate::provider::{FetchContext, TokenSource};
use crate::secret::ClientSecret;
use crate::token::AccessToken;

/// What names and protects one client's tokens in a store: the parts of its identity (token
/// URL, client id, scopes, extra parameters), hashed into the store key, and the client
/// secret the default encryption key is derived from.
#[derive(Clone)]
pub struct SourceIdentity {
    parts: Vec<String>,
    secret: ClientSecret,
}

impl SourceIdentity {
    /// An identity from its parts and the secret.
    pub fn new<I, P>(parts: I, secret: ClientSecret) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        Self {
            parts: parts.into_iter().map(Into::into).collect(),
            secret,
        }
    }

    /// The identity of a client-credentials exchange.
    pub fn of(exchange: &ClientCredentials) -> Self {
        exchange.store_identity()
    }

    fn digest(&self) -> String {
        let mut context = digest::Context::new(&digest::SHA256);
        for part in &self.parts {
            context.update(&u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
            context.update(part.as_bytes());
        }
        context.finish().as_ref()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl fmt::Debug for SourceIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceIdentity")
            .field("digest", &self.digest())
            .finish_non_exhaustive()
    }
}

/// Counters of what a [`SharedSource`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SharedMetrics {
    /// Fetches answered from the store.
    pub store_hits: u64,
    /// Fetches that found no usable token in the store.
    pub store_misses: u64,
    /// Tokens fetched from the inner source while holding the store's lock.
    pub fetches: u64,
    /// Times this process waited for another holder of the lock.
    pub lock_waits: u64,
    /// Fetches sent straight to the inner source because the store failed, timed out or its
    /// breaker was open, or a lock holder never stored a token.
    pub fallbacks: u64,
    /// Entries that did not decrypt (wrong or rotated key, tampering, garbage): misses,
    /// overwritten.
    pub decrypt_failures: u64,
    /// Rejected tokens deleted from the store.
    pub deletions: u64,
}

#[derive(Default)]
struct Counters {
    store_hits: AtomicU64,
    store_misses: AtomicU64,
    fetches: AtomicU64,
    lock_waits: AtomicU64,
    fallbacks: AtomicU64,
    decrypt_failures: AtomicU64,
    deletions: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// A [`TokenSource`] decorator that shares tokens through a [`TokenStore`]; put a
/// [`TokenCache`](crate::TokenCache) in front of it. See the module docs for the algorithm.
///
/// ```no_run
/// # #[cfg(feature = "file-store")]
/// # fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use auth_core::store::{FileStore, SharedSource};
/// use auth_core::{ClientCredentials, TokenCache, TokenUrl};
///
/// let exchange = ClientCredentials::builder(
///     TokenUrl::parse("https://auth.example.com/oauth2/token")?,
///     "client-id",
///     "client-secret",
/// )
/// .build()?;
/// let store = FileStore::open("/var/cache/my-service/tokens")?;
/// let cache = TokenCache::new(SharedSource::for_exchange(exchange, store).build()?);
/// # let _ = cache;
/// # Ok(())
/// # }
/// ```
pub struct SharedSource<S, St> {
    inner: Arc<Inner<S, St>>,
}

impl<S, St> Clone for SharedSource<S, St> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<S, St> {
    source: S,
    store: St,
    key: StoreKey,
    keys: StoreKeys,
    clock: SharedClock,
    lock_ttl: Duration,
    store_timeout: Duration,
    breaker_cooldown: Duration,
    /// No store operation before this instant (clock nanoseconds): the breaker is open.
    breaker_open_until: AtomicI64,
    counters: Counters,
}

/// Configures a [`SharedSource`].
#[must_use]
pub struct SharedSourceBuilder<S, St> {
    source: S,
    store: St,
    identity: Option<SourceIdentity>,
    keys: Option<StoreKeys>,
    prefix: String,
    clock: SharedClock,
    lock_ttl: Duration,
    store_timeout: Duration,
    breaker_cooldown: Duration,
}

impl<S, St> fmt::Debug for SharedSourceBuilder<S, St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedSourceBuilder")
            .field("identity", &self.identity)
            .field("keys", &self.keys)
            .field("prefix", &self.prefix)
            .field("lock_ttl", &self.lock_ttl)
            .field("store_timeout", &self.store_timeout)
            .field("breaker_cooldown", &self.breaker_cooldown)
            .finish_non_exhaustive()
    }
}

impl<S: TokenSource, St: TokenStore> SharedSource<S, St> {
    /// Starts configuring a shared source over any `source`; give it an
    /// [`identity`](SharedSourceBuilder::identity).
    pub fn builder(source: S, store: St) -> SharedSourceBuilder<S, St> {
        SharedSourceBuilder {
            source,
            store,
            identity: None,
            keys: None,
            prefix: "partner-auth".to_owned(),
            clock: SharedClock::system(),
            lock_ttl: Duration::from_secs(10),
            store_timeout: Duration::from_secs(2),
            breaker_cooldown: Duration::from_secs(30),
        }
    }

    /// A counters snapshot.
    pub fn metrics(&self) -> SharedMetrics {
        let c = &self.inner.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SharedMetrics {
            store_hits: load(&c.store_hits),
            store_misses: load(&c.store_misses),
            fetches: load(&c.fetches),
            lock_waits: load(&c.lock_waits),
            fallbacks: load(&c.fallbacks),
            decrypt_failures: load(&c.decrypt_failures),
            deletions: load(&c.deletions),
        }
    }

    /// The inner source.
    pub fn source(&self) -> &S {
        &self.inner.source
    }

    /// The store.
    pub fn store(&self) -> &St {
        &self.inner.store
    }

    /// The store key of this client's token.
    pub fn key(&self) -> &StoreKey {
        &self.inner.key
    }
}

impl<S: TokenSource, St: TokenStore> SharedSource<S, St> {
    /// Fetches a new token from the inner source and stores it, whatever the store holds
    /// (`partner token --fresh`). The store is best effort here: if it fails, the token is
    /// still returned.
    ///
    /// # Errors
    /// The inner source's error.
    pub async fn replace(&self) -> Result<AccessToken, AuthError> {
        let inner = &*self.inner;
        let context = FetchContext::standalone();
        let owner = LockOwner::random();
        let locked = inner.breaker_closed()
            && matches!(
                inner
                    .op(inner.store.try_lock(&inner.key, &owner, inner.lock_ttl))
                    .await,
                Ok(true)
            );
        bump(&inner.counters.fetches);
        let token = inner.source.fetch_token_with(&context).await;
        if let Ok(token) = &token {
            inner.store_token(&context, token).await;
        }
        if locked {
            let _ = inner.op(inner.store.unlock(&inner.key, &owner)).await;
        }
        token
    }
}

impl<S: crate::HasExchange, St> crate::HasExchange for SharedSource<S, St> {
    fn exchange(&self) -> &ClientCredentials {
        self.inner.source.exchange()
    }
}

impl<St: TokenStore> SharedSource<ClientCredentials, St> {
    /// A shared source over a client-credentials exchange, named and keyed by its identity.
    pub fn for_exchange(
        exchange: ClientCredentials,
        store: St,
    ) -> SharedSourceBuilder<ClientCredentials, St> {
        let identity = exchange.store_identity();
        let clock = exchange.clock().clone();
        Self::builder(exchange, store)
            .identity(identity)
            .clock(clock)
    }
}

impl<S: TokenSource, St: TokenStore> SharedSourceBuilder<S, St> {
    /// What names the token in the store and, unless [`keys`](Self::keys) are given, derives
    /// its encryption key.
    pub fn identity(mut self, identity: SourceIdentity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Explicit encryption keys (default: derived from the identity's client secret).
    pub fn keys(mut self, keys: StoreKeys) -> Self {
        self.keys = Some(keys);
        self
    }

    /// The prefix of store keys (default `partner-auth`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The clock (default: the system clock; use the inner source's).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = SharedClock::new(clock);
        self
    }

    /// How long the store's lock lives unless its holder extends it (default 10 s): how long
    /// other processes wait for a holder that died.
    pub fn lock_ttl(mut self, ttl: Duration) -> Self {
        self.lock_ttl = ttl.max(Duration::from_millis(100));
        self
    }

    /// The longest one store operation may take (default 2 s).
    pub fn store_timeout(mut self, timeout: Duration) -> Self {
        self.store_timeout = timeout;
        self
    }

    /// How long the store is left alone after it failed (default 30 s).
    pub fn breaker_cooldown(mut self, cooldown: Duration) -> Self {
        self.breaker_cooldown = cooldown;
        self
    }

    /// Builds the source.
    ///
    /// # Errors
    /// [`ConfigError`] without an identity, or with a prefix that cannot be part of a key.
    pub fn build(self) -> Result<SharedSource<S, St>, ConfigError> {
        let identity = self.identity.ok_or_else(|| {
            ConfigError::invalid("shared token store", "the source's identity is not set")
        })?;
        let key = StoreKey::new(&self.prefix, &identity.digest()).map_err(|_| {
            ConfigError::invalid(
                "token store prefix",
                "it must be 1 to 128 characters without braces or whitespace",
            )
        })?;
        let keys = self
            .keys
            .unwrap_or_else(|| StoreKeys::from_secret(identity.secret.expose_secret()));
        Ok(SharedSource {
            inner: Arc::new(Inner {
                source: self.source,
                store: self.store,
                key,
                keys,
                clock: self.clock,
                lock_ttl: self.lock_ttl,
                store_timeout: self.store_timeout,
                breaker_cooldown: self.breaker_cooldown,
                breaker_open_until: AtomicI64::new(i64::MIN),
                counters: Counters::default(),
            }),
        })
    }
}

impl<S: TokenSource, St: TokenStore> TokenSource for SharedSource<S, St> {
    async fn fetch_token(&self) -> Result<AccessToken, AuthError> {
        self.fetch_token_with(&FetchContext::standalone()).await
    }

    async fn fetch_token_with(&self, context: &FetchContext) -> Result<AccessToken, AuthError> {
        let inner = &*self.inner;
        if !inner.breaker_closed() {
            return inner.fallback(context, "the store's breaker is open").await;
        }
        match inner.shared_fetch(context).await {
            Ok(token) => Ok(token),
            Err(Step::Source(error)) => Err(error),
            Err(Step::Store(error)) => {
                inner.trip(&error);
                inner.fallback(context, "the store failed").await
            }
        }
    }
}

/// Why the shared algorithm stopped: the inner source's error (returned as it is), or the
/// store's (which means a direct fetch instead).
enum Step {
    Source(AuthError),
    Store(StoreError),
}

impl From<StoreError> for Step {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// What a read of the store found.
enum Found {
    /// A token this process may use.
    Usable(AccessToken),
    /// Nothing usable (absent, stale, rejected, or undecryptable).
    Nothing,
}

impl<S: TokenSource, St: TokenStore> Inner<S, St> {
    fn breaker_closed(&self) -> bool {
        self.clock.now_unix_nanos() >= self.breaker_open_until.load(Ordering::Relaxed)
    }

    fn trip(&self, error: &StoreError) {
        let until = self
            .clock
            .now_unix_nanos()
            .saturating_add(duration_nanos(self.breaker_cooldown));
        self.breaker_open_until.store(until, Ordering::Relaxed);
        warn!(
            key = %self.key,
            %error,
            cooldown = ?self.breaker_cooldown,
            "the shared token store failed: fetching directly until it has cooled down"
        );
    }

    async fn fallback(&self, context: &FetchContext, why: &str) -> Result<AccessToken, AuthError> {
        bump(&self.counters.fallbacks);
        debug!(key = %self.key, why, "fetching the token directly");
        self.source.fetch_token_with(context).await
    }

    /// Runs one store operation under the store timeout.
    async fn op<T>(
        &self,
        operation: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.store_timeout, operation).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Timeout(self.store_timeout)),
        }
    }

    async fn shared_fetch(&self, context: &FetchContext) -> Result<AccessToken, Step> {
        if let Some(rejected) = context.rejected() {
            let fingerprint = self.keys.fingerprint(rejected.expose_secret());
            if self
                .op(self.store.delete_if(&self.key, &fingerprint))
                .await?
            {
                bump(&self.counters.deletions);
                debug!(key = %self.key, "deleted the rejected token from the store");
            }
        }
        if let Found::Usable(token) = self.read(context).await? {
            bump(&self.counters.store_hits);
            return Ok(token);
        }
        bump(&self.counters.store_misses);
        let owner = LockOwner::random();
        if self
            .op(self.store.try_lock(&self.key, &owner, self.lock_ttl))
            .await?
        {
            return self.fetch_holding(context, &owner).await;
        }
        // Another process is fetching: wait for what it stores. While the lock is held the
        // holder is alive (a dead holder's lock expires after its TTL and is taken over here),
        // so keep waiting, up to three lock TTLs in all; only then fetch directly.
        bump(&self.counters.lock_waits);
        let deadline = tokio::time::Instant::now() + self.lock_ttl.saturating_mul(3);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                break;
            }
            // Short rounds: a token stored just before a round began is seen at the next
            // read, within a round.
            let wait = left
                .min(self.lock_ttl / 4)
                .min(Duration::from_millis(200))
                .max(Duration::from_millis(10));
            self.op_bounded(self.store.wait_for_change(&self.key, wait), wait)
                .await?;
            if let Found::Usable(token) = self.read(context).await? {
                bump(&self.counters.store_hits);
                return Ok(token);
            }
            if self
                .op(self.store.try_lock(&self.key, &owner, self.lock_ttl))
                .await?
            {
                // The holder finished without storing a token, or died and its lock expired.
                return self.fetch_holding(context, &owner).await;
            }
        }
        bump(&self.counters.fallbacks);
        debug!(key = %self.key, "the lock holder stored no token in time; fetching directly");
        self.source
            .fetch_token_with(context)
            .await
            .map_err(Step::Source)
    }

    /// Runs a store wait under its own duration plus the store timeout.
    async fn op_bounded<T>(
        &self,
        operation: impl Future<Output = Result<T, StoreError>>,
        wait: Duration,
    ) -> Result<T, StoreError> {
        let limit = wait.saturating_add(self.store_timeout);
        match tokio::time::timeout(limit, operation).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Timeout(limit)),
        }
    }

    /// With the lock held: read again, else fetch, store, and release the lock.
    async fn fetch_holding(
        &self,
        context: &FetchContext,
        owner: &LockOwner,
    ) -> Result<AccessToken, Step> {
        let result = self.fetch_and_store(context, owner).await;
        // Releasing is best effort: the lock expires on its own.
        if let Err(error) = self.op(self.store.unlock(&self.key, owner)).await {
            debug!(key = %self.key, %error, "could not release the store's lock");
        }
        result
    }

    async fn fetch_and_store(
        &self,
        context: &FetchContext,
        owner: &LockOwner,
    ) -> Result<AccessToken, Step> {
        if let Found::Usable(token) = self.read(context).await? {
            bump(&self.counters.store_hits);
            return Ok(token);
        }
        bump(&self.counters.fetches);
        let token = self.fetch_extending(context, owner).await?;
        self.store_token(context, &token).await;
        Ok(token)
    }

    /// Encrypts and stores `token` (put-if-newer). A store failure here costs the fleet a
    /// duplicate fetch later, never this token.
    async fn store_token(&self, context: &FetchContext, token: &AccessToken) {
        let expires_at = context.expires_at(token);
        let now = self.clock.now();
        let ttl = (expires_at - now).to_std().unwrap_or_default();
        if ttl.is_zero() {
            return;
        }
        let stored = StoredToken::new(token, expires_at);
        let Some(envelope) = self.keys.seal(&stored, &self.key.token_key()) else {
            return;
        };
        let entry = StoreEntry {
            version: expires_at.timestamp_millis(),
            fingerprint: self.keys.fingerprint(token.expose_secret()),
            envelope,
        };
        match self
            .op(self.store.put_if_newer(&self.key, &entry, ttl))
            .await
        {
            Ok(written) => debug!(key = %self.key, written, "token stored"),
            Err(error) => self.trip(&error),
        }
    }

    /// Fetches from the inner source, extending the lock while the fetch runs.
    async fn fetch_extending(
        &self,
        context: &FetchContext,
        owner: &LockOwner,
    ) -> Result<AccessToken, Step> {
        let mut fetch = std::pin::pin!(self.source.fetch_token_with(context));
        let period = self.lock_ttl / 3;
        loop {
            match tokio::time::timeout(period, &mut fetch).await {
                Ok(result) => return result.map_err(Step::Source),
                Err(_) => {
                    let extended = self
                        .op(self.store.extend_lock(&self.key, owner, self.lock_ttl))
                        .await;
                    if !matches!(extended, Ok(true)) {
                        debug!(key = %self.key, "could not extend the store's lock");
                    }
                }
            }
        }
    }

    /// Reads the store's token and decides whether this process may use it.
    async fn read(&self, context: &FetchContext) -> Result<Found, StoreError> {
        let Some(read) = self.op(self.store.get(&self.key)).await? else {
            return Ok(Found::Nothing);
        };
        let Some(stored) = self.keys.open(&read.entry.envelope, &self.key.token_key()) else {
            bump(&self.counters.decrypt_failures);
            debug!(key = %self.key, "the stored token does not decrypt; replacing it");
            // Out of the way, so the next put is not refused by its version.
            self.op(self.store.delete_if(&self.key, &read.entry.fingerprint))
                .await?;
            return Ok(Found::Nothing);
        };
        let now = self.clock.now();
        let Some(token) = stored.to_access_token(now, read.remaining) else {
            return Ok(Found::Nothing);
        };
        let rejected = context
            .rejected()
            .is_some_and(|rejected| rejected.same_token(&token));
        if rejected || !context.is_fresh(&token, now) {
            return Ok(Found::Nothing);
        }
        Ok(Found::Usable(token))
    }
}

impl<S: fmt::Debug, St: fmt::Debug> fmt::Debug for SharedSource<S, St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedSource")
            .field("source", &self.inner.source)
            .field("store", &self.inner.store)
            .field("key", &self.inner.key)
            .field("keys", &self.inner.keys)
            .finish_non_exhaustive()
    }
}
