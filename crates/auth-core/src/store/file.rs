//! [`FileStore`]: a [`TokenStore`] for every process on one machine, in a directory of files
//! (feature `file-store`).
//!
//! For each store key `K` (its [`file_stem`](super::StoreKey::file_stem)):
//! - `K.token`: the entry (version, fingerprint, envelope, expiry), written to a temporary file
//!   and renamed over the old one, so readers never see half an entry;
//! - `K.lock`: the fetch lock, an OS file lock (`flock`) held by the process fetching: if that
//!   process dies, the operating system releases it at once;
//! - `K.mutex`: an OS file lock held for the few microseconds of each read-compare-write, which
//!   makes put-if-newer and compare-and-delete atomic between processes.
//!
//! The directory is created with mode 0700 and every file with 0600 (on Unix). Waiting for a
//! change polls the token file every 25 to 75 ms. Blocking file operations run on Tokio's
//! blocking pool.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use super::envelope::Fingerprint;
use super::{LockOwner, StoreEntry, StoreError, StoreKey, StoreRead, TokenStore};
use crate::clock::{Clock, SharedClock, duration_nanos, nanos_duration};

/// A directory of encrypted token files shared by the processes of one machine.
#[derive(Clone)]
pub struct FileStore {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    clock: SharedClock,
    /// The open lock files of the fetch locks this process holds, by owner.
    held: Mutex<HashMap<String, File>>,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

/// The token file's content.
#[derive(Serialize, Deserialize)]
struct Record {
    version: i64,
    fingerprint: String,
    envelope: String,
    /// When the entry expires, in Unix nanoseconds of this machine's clock.
    expires_at: i64,
}

fn io_error(what: &str, error: &std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("{what}: {}", error.kind()))
}

impl FileStore {
    /// A store in `dir`, created (with mode 0700 on Unix) if it does not exist.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if the directory cannot be created or is not a directory.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::with_clock(dir, SharedClock::system())
    }

    /// As [`open`](Self::open), with the clock that measures expiry (for tests).
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn with_clock(dir: impl AsRef<Path>, clock: impl Clock) -> Result<Self, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        create_private_dir(&dir).map_err(|e| io_error("cannot create the token directory", &e))?;
        if !dir.is_dir() {
            return Err(StoreError::Unavailable(
                "the token directory is not a directory".into(),
            ));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                dir,
                clock: SharedClock::new(clock),
                held: Mutex::default(),
            }),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    fn path(&self, key: &StoreKey, extension: &str) -> PathBuf {
        self.inner
            .dir
            .join(format!("{}.{extension}", key.file_stem()))
    }

    /// Runs a blocking file operation on Tokio's blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&FileStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || work(&this))
            .await
            .map_err(|_| StoreError::Unavailable("a file operation was cancelled".into()))?
    }

    /// Runs `work` holding the key's mutex file lock.
    fn exclusive<T>(
        &self,
        key: &StoreKey,
        work: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mutex = open_private(&self.path(key, "mutex"))
            .map_err(|e| io_error("cannot open the token mutex file", &e))?;
        mutex
            .lock()
            .map_err(|e| io_error("cannot lock the token mutex file", &e))?;
        let result = work();
        let _ = mutex.unlock();
        result
    }

    fn read_record(&self, key: &StoreKey) -> Result<Option<Record>, StoreError> {
        let path = self.path(key, "token");
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(io_error("cannot read the token file", &error)),
        };
        // A file that is not a record (garbage, another program's) is no entry.
        Ok(serde_json::from_slice(&bytes).ok())
    }

    fn write_record(&self, key: &StoreKey, record: &Record) -> Result<(), StoreError> {
        let path = self.path(key, "token");
        let temporary = self.inner.dir.join(format!(
            ".{}.{:016x}.tmp",
            key.file_stem(),
            fastrand::u64(..)
        ));
        let bytes = serde_json::to_vec(record)
            .map_err(|e| StoreError::Unavailable(format!("cannot encode the entry: {e}")))?;
        let written = (|| {
            let mut file = create_private(&temporary)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            fs::rename(&temporary, &path)
        })();
        if let Err(error) = written {
            let _ = fs::remove_file(&temporary);
            return Err(io_error("cannot write the token file", &error));
        }
        Ok(())
    }

    fn remove_record(&self, key: &StoreKey) -> Result<(), StoreError> {
        match fs::remove_file(self.path(key, "token")) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(io_error("cannot remove the token file", &error)),
        }
    }

    /// A signature of the token file that changes whenever it is replaced or removed.
    fn signature(&self, key: &StoreKey) -> Option<(std::time::SystemTime, u64)> {
        let metadata = fs::metadata(self.path(key, "token")).ok()?;
        Some((metadata.modified().ok()?, metadata.len()))
    }
}

impl TokenStore for FileStore {
    async fn get(&self, key: &StoreKey) -> Result<Option<StoreRead>, StoreError> {
        let key = key.clone();
        self.blocking(move |store| {
            let Some(record) = store.read_record(&key)? else {
                return Ok(None);
            };
            let now = store.inner.clock.now_unix_nanos();
            let remaining = record.expires_at.saturating_sub(now);
            if remaining <= 0 {
                return Ok(None);
            }
            let (Some(fingerprint), Ok(envelope)) = (
                Fingerprint::from_hex(&record.fingerprint),
                BASE64.decode(record.envelope.as_bytes()),
            ) else {
                return Ok(None);
            };
            Ok(Some(StoreRead {
                entry: StoreEntry {
                    version: record.version,
                    fingerprint,
                    envelope,
                },
                remaining: nanos_duration(remaining),
            }))
        })
        .await
    }

    async fn put_if_newer(
        &self,
        key: &StoreKey,
        entry: &StoreEntry,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let key = key.clone();
        let entry = entry.clone();
        self.blocking(move |store| {
            store.exclusive(&key, || {
                let now = store.inner.clock.now_unix_nanos();
                let newer_present = store.read_record(&key)?.is_some_and(|current| {
                    current.expires_at > now && current.version >= entry.version
                });
                if newer_present {
                    return Ok(false);
                }
                store.write_record(
                    &key,
                    &Record {
                        version: entry.version,
                        fingerprint: entry.fingerprint.to_hex(),
                        envelope: BASE64.encode(&entry.envelope),
                        expires_at: now.saturating_add(duration_nanos(ttl)),
                    },
                )?;
                Ok(true)
            })
        })
        .await
    }

    async fn delete_if(
        &self,
        key: &StoreKey,
        fingerprint: &Fingerprint,
    ) -> Result<bool, StoreError> {
        let key = key.clone();
        let fingerprint = fingerprint.to_hex();
        self.blocking(move |store| {
            store.exclusive(&key, || {
                let matches = store
                    .read_record(&key)?
                    .is_some_and(|current| current.fingerprint == fingerprint);
                if matches {
                    store.remove_record(&key)?;
                }
                Ok(matches)
            })
        })
        .await
    }

    async fn try_lock(
        &self,
        key: &StoreKey,
        owner: &LockOwner,
        _ttl: Duration,
    ) -> Result<bool, StoreError> {
        let key = key.clone();
        let owner = owner.as_str().to_owned();
        self.blocking(move |store| {
            let file = open_private(&store.path(&key, "lock"))
                .map_err(|e| io_error("cannot open the token lock file", &e))?;
            match file.try_lock() {
                Ok(()) => {
                    store
                        .inner
                        .held
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(owner, file);
                    Ok(true)
                }
                Err(std::fs::TryLockError::WouldBlock) => Ok(false),
                Err(std::fs::TryLockError::Error(error)) => {
                    Err(io_error("cannot lock the token lock file", &error))
                }
            }
        })
        .await
    }

    async fn extend_lock(
        &self,
        _key: &StoreKey,
        owner: &LockOwner,
        _ttl: Duration,
    ) -> Result<bool, StoreError> {
        // An OS lock lives as long as its holder: nothing to extend.
        Ok(self
            .inner
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(owner.as_str()))
    }

    async fn unlock(&self, _key: &StoreKey, owner: &LockOwner) -> Result<(), StoreError> {
        let file = self
            .inner
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(owner.as_str());
        if let Some(file) = file {
            // Closing the file releases the lock too; unlocking first makes it immediate.
            let _ = file.unlock();
        }
        Ok(())
    }

    async fn wait_for_change(&self, key: &StoreKey, timeout: Duration) -> Result<(), StoreError> {
        let start = tokio::time::Instant::now();
        let before = self.signature(key);
        loop {
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Ok(());
            }
            let pause = Duration::from_millis(25 + fastrand::u64(..50)).min(left);
            tokio::time::sleep(pause).await;
            if self.signature(key) != before {
                return Ok(());
            }
        }
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    {
        fs::create_dir_all(dir)
    }
}

fn options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options
}

fn open_private(path: &Path) -> std::io::Result<File> {
    options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

fn create_private(path: &Path) -> std::io::Result<File> {
    options().write(true).create_new(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::KeyId;
    use crate::store::StoreKeys;

    fn entry(version: i64, token: &str) -> StoreEntry {
        let keys = StoreKeys::explicit(KeyId::new("k").unwrap(), [7; 32]);
        StoreEntry {
            version,
            fingerprint: keys.fingerprint(token),
            envelope: vec![1, 2, 3],
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "auth-core-file-store-{name}-{:016x}",
            fastrand::u64(..)
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[tokio::test]
    async fn put_if_newer_compare_and_delete_and_locks() {
        let dir = temp_dir("ops");
        let store = FileStore::open(&dir).unwrap();
        let key = StoreKey::new("test", "abc").unwrap();
        assert!(store.get(&key).await.unwrap().is_none());
        assert!(
            store
                .put_if_newer(&key, &entry(5, "a"), Duration::from_secs(60))
                .await
                .unwrap()
        );
        assert!(
            !store
                .put_if_newer(&key, &entry(4, "b"), Duration::from_secs(60))
                .await
                .unwrap()
        );
        let read = store.get(&key).await.unwrap().unwrap();
        assert_eq!(read.entry.version, 5);
        assert!(read.remaining <= Duration::from_secs(60));
        assert!(
            !store
                .delete_if(&key, &entry(0, "b").fingerprint)
                .await
                .unwrap()
        );
        assert!(
            store
                .delete_if(&key, &entry(0, "a").fingerprint)
                .await
                .unwrap()
        );
        assert!(store.get(&key).await.unwrap().is_none());

        let (one, two) = (LockOwner::random(), LockOwner::random());
        assert!(
            store
                .try_lock(&key, &one, Duration::from_secs(5))
                .await
                .unwrap()
        );
        assert!(
            !store
                .try_lock(&key, &two, Duration::from_secs(5))
                .await
                .unwrap()
        );
        assert!(
            store
                .extend_lock(&key, &one, Duration::from_secs(5))
                .await
                .unwrap()
        );
        assert!(
            !store
                .extend_lock(&key, &two, Duration::from_secs(5))
                .await
                .unwrap()
        );
        store.unlock(&key, &two).await.unwrap();
        assert!(
            !store
                .try_lock(&key, &two, Duration::from_secs(5))
                .await
                .unwrap()
        );
        store.unlock(&key, &one).await.unwrap();
        assert!(
            store
                .try_lock(&key, &two, Duration::from_secs(5))
                .await
                .unwrap()
        );

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir), 0o700);
            store
                .put_if_newer(&key, &entry(9, "c"), Duration::from_secs(60))
                .await
                .unwrap();
            assert_eq!(mode(&store.path(&key, "token")), 0o600);
        }
        let _ = fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn garbage_files_are_no_entry_and_a_file_is_no_directory() {
        let dir = temp_dir("garbage");
        let store = FileStore::open(&dir).unwrap();
        let key = StoreKey::new("test", "abc").unwrap();
        fs::write(store.path(&key, "token"), b"\x00garbage").unwrap();
        assert!(store.get(&key).await.unwrap().is_none());
        assert!(
            store
                .put_if_newer(&key, &entry(1, "a"), Duration::from_secs(60))
                .await
                .unwrap()
        );
        let file = dir.join("plain-file");
        fs::write(&file, b"x").unwrap();
        assert!(FileStore::open(&file).is_err());
        let _ = fs::remove_dir_all(&dir);
    }
}
