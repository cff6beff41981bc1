//! The token store the commands share between runs: the encrypted file store (the default) or
//! Redis, as one type the commands can hold whichever was chosen.

use std::path::Path;
use std::time::Duration;

use auth_core::store::{
    FileStore, Fingerprint, LockOwner, StoreEntry, StoreError, StoreKey, StoreRead, TokenStore,
};

use crate::error::CliError;

/// The chosen store.
#[derive(Clone, Debug)]
pub(crate) enum Store {
    /// Encrypted files in the cache directory.
    File(FileStore),
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

    /// Redis at `url`.
    pub(crate) fn redis(_url: &str) -> Result<Self, CliError> {
        Err(CliError::usage(
            "this build of partner has no Redis support",
            "unset PARTNER_REDIS_URL and drop --redis-url",
        ))
    }
}

macro_rules! each_store {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            Store::File($store) => $call,
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
