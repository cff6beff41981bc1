//! The token store the commands share between runs: the encrypted file store (the default) or
//! Redis, as one type the commands can hold whichever was chosen. A store is an optimisation:
//! when Redis is unreachable, the commands fetch their token directly.

use std::path::Path;
use std::time::Duration;

use auth_core::store::{
    FileStore, Fingerprint, LockOwner, StoreEntry, StoreError, StoreKey, StoreRead, TokenStore,
};
use auth_redis::RedisStore;

use crate::error::CliError;

/// The chosen store.
#[derive(Clone, Debug)]
pub(crate) enum Store {
    /// Encrypted files in the cache directory.
    File(FileStore),
    /// Redis or Redis Cluster (several comma-separated node URLs).
    Redis(RedisStore),
}

impl Store {
    /// The file store in `dir`, or none if it cannot be used.
    pub(crate) fn file(dir: &Path) -> Option<Self> {
        match FileStore::open(dir) {
            Ok(store) => Some(Self::File(store)),
            Err(error) => {
                tracing::debug!(%error, "the token cache directory cannot be used; keeping no token");
                None
            }
        }
    }

    /// Redis at `url` (or a Redis Cluster, for several comma-separated node URLs). The URL is
    /// never repeated in an error: it may hold a password.
    pub(crate) fn redis(url: &str) -> Result<Self, CliError> {
        let lookup =
            |name: &str| (name == auth_redis::ENV_REDIS_URL).then(|| std::ffi::OsString::from(url));
        RedisStore::from_lookup(lookup)
            .map(Self::Redis)
            .map_err(|error| {
                CliError::usage(
                    format!("the Redis URL cannot be used: {error}"),
                    "give redis://host:port (rediss:// for TLS) in --redis-url or PARTNER_REDIS_URL",
                )
            })
    }
}

macro_rules! each_store {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            Store::File($store) => $call,
            Store::Redis($store) => $call,
        }
    };
}

impl TokenStore for Store {
    async fn get(&self, key: &StoreKey) -> Result<Option<StoreRead>, StoreError> {
        each_store!(self, store => store.get(key).await)
    }

    async fn put_if_newer(
        &self,
        key: &StoreKey,
        entry: &StoreEntry,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        each_store!(self, store => store.put_if_newer(key, entry, ttl).await)
    }

    async fn delete_if(
        &self,
        key: &StoreKey,
        fingerprint: &Fingerprint,
    ) -> Result<bool, StoreError> {
        each_store!(self, store => store.delete_if(key, fingerprint).await)
    }

    async fn try_lock(
        &self,
        key: &StoreKey,
        owner: &LockOwner,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        each_store!(self, store => store.try_lock(key, owner, ttl).await)
    }

    async fn extend_lock(
        &self,
        key: &StoreKey,
        owner: &LockOwner,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        each_store!(self, store => store.extend_lock(key, owner, ttl).await)
    }

    async fn unlock(&self, key: &StoreKey, owner: &LockOwner) -> Result<(), StoreError> {
        each_store!(self, store => store.unlock(key, owner).await)
    }

    async fn wait_for_change(&self, key: &StoreKey, timeout: Duration) -> Result<(), StoreError> {
        each_store!(self, store => store.wait_for_change(key, timeout).await)
    }
}
