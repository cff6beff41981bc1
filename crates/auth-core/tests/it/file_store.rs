//! The shared token store suite (`auth_core::test_util::store`) against the encrypted
//! [`FileStore`], in a fresh temporary directory per test.
//!
//! What does not apply to a directory of files: its lock is an OS file lock that lives as
//! long as its holder (no TTL to expire), and a broken directory makes `wait_for_change`
//! poll on rather than fail.

use std::path::PathBuf;

use auth_core::store::FileStore;
use auth_core::test_util::store::{self as suite, StoreHarness};

struct Files {
    dir: PathBuf,
}

impl Files {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "auth-core-store-suite-{}-{:016x}",
            std::process::id(),
            fastrand::u64(..)
        ));
        Self { dir }
    }
}

impl StoreHarness for Files {
    type Store = FileStore;

    fn open(&self) -> FileStore {
        FileStore::open(&self.dir).unwrap()
    }

    /// Replaces the directory with a plain file: every file operation under it fails.
    fn break_store(&mut self) {
        std::fs::remove_dir_all(&self.dir).unwrap();
        std::fs::write(&self.dir, b"not a directory").unwrap();
    }

    fn restore_store(&mut self) {
        std::fs::remove_file(&self.dir).unwrap();
        drop(FileStore::open(&self.dir).unwrap());
    }

    fn dump(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(&self.dir).unwrap() {
            let path = entry.unwrap().path();
            bytes.extend_from_slice(path.to_string_lossy().as_bytes());
            bytes.extend_from_slice(&std::fs::read(&path).unwrap_or_default());
        }
        bytes
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(&self.dir);
    }
}

macro_rules! store_tests {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let files = Files::new();
            suite::$name(&files.open()).await;
        }
    )*};
}

store_tests!(
    put_if_newer_keeps_the_highest_version,
    ttls_count_down_and_entries_expire,
    delete_if_compares_fingerprints,
    locks_are_exclusive_and_owned,
    wait_for_change_returns_on_change_and_on_timeout,
    concurrent_puts_keep_the_highest,
    concurrent_try_lock_has_one_winner,
    delete_racing_put_never_loses_the_new_entry,
);

macro_rules! shared_tests {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let mut files = Files::new();
            suite::$name(&mut files).await;
        }
    )*};
}

shared_tests!(
    cold_processes_make_one_request,
    rejected_tokens_are_deleted_fleet_wide,
    a_wrong_key_is_a_miss_and_an_overwrite,
    a_broken_store_means_direct_fetches_then_sharing_resumes,
);
