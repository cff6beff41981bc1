//! One behavioural suite for every [`TokenStore`] (features `test-util` and `store`): each
//! store's tests call these functions with a real store (a directory, a real Redis, a real
//! Redis Cluster), so that every store is held to the same contract.
//!
//! - The seam itself: put-if-newer ordering, TTLs as the store counts them, compare-and-delete
//!   by fingerprint, the lock (exclusive, extended and released only by its owner, expiring
//!   when the store's locks expire), `wait_for_change` returning on a change and on timeout,
//!   and the atomicity of each operation under 50 concurrent callers.
//! - [`SharedSource`] and [`TokenCache`] over the store, with two "processes" (two
//!   source-and-cache pairs sharing one store): one token request for both, a rejected token
//!   deleted for everybody, a wrong key being a miss and an overwrite, a broken store being
//!   direct fetches behind the breaker, sharing resuming once the store is back, and no token
//!   ever stored in clear. A [`StoreHarness`] breaks, restores and dumps the store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test support: a failure is a failed test.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::TimeDelta;

use super::secret_forms;
use crate::TokenCache;
use crate::clock::{Clock as _, SharedClock};
use crate::error::AuthError;
use crate::provider::TokenSource;
use crate::secret::ClientSecret;
use crate::store::{
    Fingerprint, KeyId, LockOwner, SharedSource, SourceIdentity, StoreEntry, StoreError, StoreKey,
    StoreKeys, StoreRead, TokenStore,
};
use crate::token::AccessToken;

/// A key no other test uses.
pub fn unique_key() -> StoreKey {
    StoreKey::new(
        "suite",
        &format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..)),
    )
    .expect("a valid key")
}

/// An entry with `version` whose fingerprint is that of `token` (under fixed keys).
pub fn entry(version: i64, token: &str) -> StoreEntry {
    let keys = StoreKeys::explicit(KeyId::new("suite").expect("key id"), [7; 32]);
    StoreEntry {
        version,
        fingerprint: keys.fingerprint(token),
        envelope: format!("envelope of {version}").into_bytes(),
    }
}

fn fingerprint(token: &str) -> Fingerprint {
    entry(0, token).fingerprint
}

const MINUTE: Duration = Duration::from_secs(60);

/// A live entry with a smaller or equal version never replaces a larger one; a larger one
/// does.
pub async fn put_if_newer_keeps_the_highest_version<S: TokenStore>(store: &S) {
    let key = unique_key();
    assert!(store.get(&key).await.unwrap().is_none());
    assert!(
        store
            .put_if_newer(&key, &entry(5, "a"), MINUTE)
            .await
            .unwrap()
    );
    assert!(
        !store
            .put_if_newer(&key, &entry(4, "b"), MINUTE)
            .await
            .unwrap()
    );
    assert!(
        !store
            .put_if_newer(&key, &entry(5, "c"), MINUTE)
            .await
            .unwrap()
    );
    let read = store.get(&key).await.unwrap().unwrap();
    assert_eq!(read.entry, entry(5, "a"));
    assert!(
        store
            .put_if_newer(&key, &entry(6, "d"), MINUTE)
            .await
            .unwrap()
    );
    assert_eq!(store.get(&key).await.unwrap().unwrap().entry, entry(6, "d"));
}

/// `get` reports the remaining TTL as the store counts it down; an entry is gone once its TTL
/// has passed, and an expired entry does not block a put with a smaller version.
pub async fn ttls_count_down_and_entries_expire<S: TokenStore>(store: &S) {
    let key = unique_key();
    store
        .put_if_newer(&key, &entry(9, "a"), Duration::from_secs(30))
        .await
        .unwrap();
    let first = store.get(&key).await.unwrap().unwrap().remaining;
    assert!(first <= Duration::from_secs(30), "{first:?}");
    assert!(first > Duration::from_secs(25), "{first:?}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = store.get(&key).await.unwrap().unwrap().remaining;
    assert!(second < first, "{second:?} after {first:?}");

    let short = unique_key();
    // Timed from before the put: the store counts the TTL from when it writes, and a loaded
    // machine can spend most of it inside the put.
    let start = tokio::time::Instant::now();
    store
        .put_if_newer(&short, &entry(9, "a"), Duration::from_millis(300))
        .await
        .unwrap();
    loop {
        if store.get(&short).await.unwrap().is_none() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the entry never expired"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Not early (less a coarse clock's granularity).
    assert!(start.elapsed() >= Duration::from_millis(280));
    assert!(
        store
            .put_if_newer(&short, &entry(1, "b"), MINUTE)
            .await
            .unwrap()
    );
}

/// Compare-and-delete deletes only the entry with that fingerprint.
pub async fn delete_if_compares_fingerprints<S: TokenStore>(store: &S) {
    let key = unique_key();
    assert!(!store.delete_if(&key, &fingerprint("a")).await.unwrap());
    store
        .put_if_newer(&key, &entry(5, "a"), MINUTE)
        .await
        .unwrap();
    assert!(!store.delete_if(&key, &fingerprint("b")).await.unwrap());
    assert!(store.get(&key).await.unwrap().is_some());
    assert!(store.delete_if(&key, &fingerprint("a")).await.unwrap());
    assert!(store.get(&key).await.unwrap().is_none());
    // After a delete, any version may be written again.
    assert!(
        store
            .put_if_newer(&key, &entry(1, "c"), MINUTE)
            .await
            .unwrap()
    );
}

/// The lock is exclusive, and only its owner extends or releases it.
pub async fn locks_are_exclusive_and_owned<S: TokenStore>(store: &S) {
    let key = unique_key();
    let ttl = Duration::from_secs(10);
    let (one, two) = (LockOwner::random(), LockOwner::random());
    assert!(store.try_lock(&key, &one, ttl).await.unwrap());
    assert!(!store.try_lock(&key, &two, ttl).await.unwrap());
    assert!(
        !store.try_lock(&key, &one, ttl).await.unwrap(),
        "not re-entrant"
    );
    assert!(store.extend_lock(&key, &one, ttl).await.unwrap());
    assert!(!store.extend_lock(&key, &two, ttl).await.unwrap());
    store.unlock(&key, &two).await.unwrap();
    assert!(
        !store.try_lock(&key, &two, ttl).await.unwrap(),
        "a stranger released it"
    );
    store.unlock(&key, &one).await.unwrap();
    assert!(store.try_lock(&key, &two, ttl).await.unwrap());
    assert!(!store.extend_lock(&key, &one, ttl).await.unwrap());
    store.unlock(&key, &two).await.unwrap();
    // The lock and the entry are independent.
    store
        .put_if_newer(&key, &entry(1, "a"), MINUTE)
        .await
        .unwrap();
    assert!(store.try_lock(&key, &one, ttl).await.unwrap());
    assert!(store.get(&key).await.unwrap().is_some());
    store.unlock(&key, &one).await.unwrap();
}

/// A lock whose holder neither extends nor releases it expires after its TTL (stores whose
/// locks have a TTL), and extending it pushes that back.
pub async fn locks_expire_unless_extended<S: TokenStore>(store: &S) {
    let key = unique_key();
    let (one, two) = (LockOwner::random(), LockOwner::random());
    // Extended every half TTL, so a loaded machine has half a TTL of slack (400 ms lost it).
    let ttl = Duration::from_secs(2);
    assert!(store.try_lock(&key, &one, ttl).await.unwrap());
    let start = tokio::time::Instant::now();
    // Extended twice, it outlives its first TTL.
    for _ in 0..2 {
        tokio::time::sleep(ttl / 2).await;
        assert!(store.extend_lock(&key, &one, ttl).await.unwrap());
    }
    assert!(!store.try_lock(&key, &two, ttl).await.unwrap());
    assert!(start.elapsed() >= ttl);
    // Then left alone, it expires and somebody else takes it.
    loop {
        if store.try_lock(&key, &two, ttl).await.unwrap() {
            break;
        }
        assert!(start.elapsed() < ttl * 5, "the lock never expired");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !store.extend_lock(&key, &one, ttl).await.unwrap(),
        "the old owner lost it"
    );
}

/// `wait_for_change` returns soon after a put or a delete, and at its timeout without one.
pub async fn wait_for_change_returns_on_change_and_on_timeout<S: TokenStore + Clone>(store: &S) {
    let key = unique_key();
    // No change: it waits for the timeout.
    let start = tokio::time::Instant::now();
    store
        .wait_for_change(&key, Duration::from_millis(300))
        .await
        .unwrap();
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(290), "{waited:?}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");

    // Changes while it waits: it returns long before its timeout. The writer keeps changing
    // the entry (a put of a newer version, or a delete then a put) until the waiter returns,
    // so the test never depends on when the waiter began to look.
    for change in ["put", "delete"] {
        let waiter = {
            let store = store.clone();
            let key = key.clone();
            tokio::spawn(async move {
                store
                    .wait_for_change(&key, Duration::from_secs(60))
                    .await
                    .unwrap();
            })
        };
        let start = tokio::time::Instant::now();
        let mut version = 1;
        while !waiter.is_finished() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{change}: wait_for_change did not return after changes"
            );
            version += 1;
            if change == "put" {
                store
                    .put_if_newer(&key, &entry(version, "a"), MINUTE)
                    .await
                    .unwrap();
            } else {
                store.delete_if(&key, &fingerprint("a")).await.unwrap();
                store
                    .put_if_newer(&key, &entry(version, "a"), MINUTE)
                    .await
                    .unwrap();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        waiter.await.unwrap();
    }
}

/// 50 concurrent put-if-newer calls with random versions: the highest version is what stays.
pub async fn concurrent_puts_keep_the_highest<S: TokenStore + Clone>(store: &S) {
    for _ in 0..3 {
        let key = unique_key();
        let versions: Vec<i64> = (0..50).map(|_| fastrand::i64(1..1_000_000)).collect();
        let tasks: Vec<_> = versions
            .iter()
            .map(|&version| {
                let store = store.clone();
                let key = key.clone();
                tokio::spawn(async move {
                    store
                        .put_if_newer(&key, &entry(version, &version.to_string()), MINUTE)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut written = 0;
        for task in tasks {
            written += usize::from(task.await.unwrap());
        }
        let highest = versions.iter().copied().max().unwrap();
        let read = store.get(&key).await.unwrap().unwrap();
        assert_eq!(read.entry, entry(highest, &highest.to_string()));
        assert!(written >= 1);
    }
}

/// 50 concurrent `try_lock` calls: exactly one wins.
pub async fn concurrent_try_lock_has_one_winner<S: TokenStore + Clone>(store: &S) {
    for _ in 0..3 {
        let key = unique_key();
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let store = store.clone();
                let key = key.clone();
                tokio::spawn(async move {
                    let owner = LockOwner::random();
                    let won = store
                        .try_lock(&key, &owner, Duration::from_secs(10))
                        .await
                        .unwrap();
                    (won, owner)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            let (won, owner) = task.await.unwrap();
            if won {
                winners.push(owner);
            }
        }
        assert_eq!(winners.len(), 1);
        store.unlock(&key, &winners[0]).await.unwrap();
    }
}

/// Compare-and-delete of the old token racing a put of a new one: the new one always stays.
pub async fn delete_racing_put_never_loses_the_new_entry<S: TokenStore + Clone>(store: &S) {
    for round in 0..30 {
        let key = unique_key();
        store
            .put_if_newer(&key, &entry(1, "old"), MINUTE)
            .await
            .unwrap();
        let deleter = {
            let store = store.clone();
            let key = key.clone();
            tokio::spawn(async move { store.delete_if(&key, &fingerprint("old")).await.unwrap() })
        };
        let putter = {
            let store = store.clone();
            let key = key.clone();
            tokio::spawn(async move {
                store
                    .put_if_newer(&key, &entry(2, "new"), MINUTE)
                    .await
                    .unwrap()
            })
        };
        let (_, put) = (deleter.await.unwrap(), putter.await.unwrap());
        assert!(put, "round {round}: the put of a newer version was refused");
        let read = store.get(&key).await.unwrap();
        assert_eq!(
            read.map(|r| r.entry),
            Some(entry(2, "new")),
            "round {round}"
        );
    }
}

/// What a harness does to the store under test.
pub trait StoreHarness: Send {
    /// The store type.
    type Store: TokenStore + Clone + std::fmt::Debug;

    /// A handle on the store, as a new process would open it.
    fn open(&self) -> Self::Store;

    /// Makes every operation of every handle fail (kills the server, removes the directory).
    fn break_store(&mut self);

    /// Undoes [`break_store`](Self::break_store) (an empty store on the same address).
    fn restore_store(&mut self);

    /// Every byte the store holds (key names and values), to scan for plaintext.
    fn dump(&self) -> Vec<u8>;
}

/// A token source that issues random 40-character tokens living `lifetime`, counts its calls,
/// can take a while to answer, and remembers every token it issued.
#[derive(Clone, Debug)]
pub struct IssuingSource {
    inner: Arc<Issuing>,
}

#[derive(Debug)]
struct Issuing {
    calls: AtomicUsize,
    lifetime: Duration,
    latency: Mutex<Duration>,
    issued: Mutex<Vec<String>>,
    clock: SharedClock,
}

impl IssuingSource {
    /// A source of tokens living `lifetime`, on the system clock.
    pub fn new(lifetime: Duration) -> Self {
        Self {
            inner: Arc::new(Issuing {
                calls: AtomicUsize::new(0),
                lifetime,
                latency: Mutex::new(Duration::ZERO),
                issued: Mutex::default(),
                clock: SharedClock::system(),
            }),
        }
    }

    /// How many tokens it was asked for.
    pub fn calls(&self) -> usize {
        self.inner.calls.load(Ordering::SeqCst)
    }

    /// Every fetch takes `latency` from now on.
    pub fn set_latency(&self, latency: Duration) {
        *self
            .inner
            .latency
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = latency;
    }

    /// Every token issued so far.
    pub fn issued(&self) -> Vec<String> {
        self.inner
            .issued
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl TokenSource for IssuingSource {
    async fn fetch_token(&self) -> Result<AccessToken, AuthError> {
        let inner = &*self.inner;
        inner.calls.fetch_add(1, Ordering::SeqCst);
        let obtained_at = inner.clock.now();
        let latency = *inner.latency.lock().unwrap_or_else(PoisonError::into_inner);
        tokio::time::sleep(latency).await;
        let value: String = std::iter::repeat_with(fastrand::alphanumeric)
            .take(40)
            .collect();
        inner
            .issued
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(value.clone());
        let expires = obtained_at + TimeDelta::from_std(inner.lifetime).unwrap_or(TimeDelta::MAX);
        Ok(AccessToken::bearer(value, obtained_at)?.with_expires_at(expires))
    }
}

/// One "process": a token cache over a shared source over a store.
pub type Process<St> = TokenCache<SharedSource<IssuingSource, St>>;

/// The settings of a [`process`].
#[derive(Clone, Debug)]
pub struct ProcessOptions {
    /// The identity's name (processes with the same one share tokens).
    pub name: String,
    /// Explicit keys (default: derived from the secret).
    pub keys: Option<[u8; 32]>,
    /// The store timeout.
    pub store_timeout: Duration,
    /// The breaker's cool-down.
    pub breaker_cooldown: Duration,
    /// The lock TTL.
    pub lock_ttl: Duration,
}

impl Default for ProcessOptions {
    fn default() -> Self {
        Self {
            name: "suite-client".into(),
            keys: None,
            // Longer than a real deployment's: the suites run with 64 threads on 2 cores, and
            // a store operation cut short sends a process to a direct fetch, which they count.
            store_timeout: Duration::from_secs(5),
            breaker_cooldown: Duration::from_millis(300),
            lock_ttl: Duration::from_secs(5),
        }
    }
}

/// A process over `store` and `source`.
pub fn process<St: TokenStore>(
    source: &IssuingSource,
    store: St,
    options: &ProcessOptions,
) -> Process<St> {
    let identity = SourceIdentity::new(
        ["https://auth.example/token", options.name.as_str()],
        ClientSecret::new("suite-secret"),
    );
    let mut builder = SharedSource::builder(source.clone(), store)
        .identity(identity)
        .store_timeout(options.store_timeout)
        .breaker_cooldown(options.breaker_cooldown)
        .lock_ttl(options.lock_ttl);
    if let Some(key) = options.keys {
        builder = builder.keys(StoreKeys::explicit(KeyId::new("suite").unwrap(), key));
    }
    TokenCache::new(builder.build().expect("a shared source"))
}

/// Asks `process` for a token in a task of its own.
fn spawn_token<St: TokenStore>(
    process: &Process<St>,
) -> tokio::task::JoinHandle<Result<crate::Token, AuthError>> {
    let process = process.clone();
    tokio::spawn(async move { process.token().await })
}

const LIFETIME: Duration = Duration::from_secs(3600);

/// Two processes cold at once make one token request between them, and both get its token.
///
/// A store operation that a loaded machine lets run past the store timeout sends a process to
/// a direct fetch (a counted fallback, as it should): such a run proves nothing either way, so
/// it is run again under another name, up to three times in all.
pub async fn cold_processes_make_one_request<H: StoreHarness>(harness: &H) {
    const ATTEMPTS: usize = 3;
    for attempt in 1..=ATTEMPTS {
        let source = IssuingSource::new(LIFETIME);
        source.set_latency(Duration::from_millis(200));
        let options = ProcessOptions {
            name: format!("cold-{attempt}"),
            ..ProcessOptions::default()
        };
        let one = process(&source, harness.open(), &options);
        let two = process(&source, harness.open(), &options);
        let (a, b) = (spawn_token(&one), spawn_token(&two));
        let (a, b) = (a.await.unwrap().unwrap(), b.await.unwrap().unwrap());
        let metrics = [one.source().metrics(), two.source().metrics()];
        if metrics.iter().any(|m| m.fallbacks > 0) && attempt < ATTEMPTS {
            continue;
        }
        assert_eq!(source.calls(), 1, "{metrics:?}");
        assert!(a.same_token(&b));
        // A third process, later, finds it in the store.
        let three = process(&source, harness.open(), &options);
        assert!(three.token().await.unwrap().same_token(&a));
        assert_eq!(source.calls(), 1);
        assert_eq!(three.source().metrics().store_hits, 1);
        return;
    }
}

/// A token rejected in one process is deleted from the store: no process is handed it by the
/// store again, and the others pick up the replacement without a request of their own.
pub async fn rejected_tokens_are_deleted_fleet_wide<H: StoreHarness>(harness: &H) {
    let source = IssuingSource::new(LIFETIME);
    let options = ProcessOptions::default();
    let one = process(&source, harness.open(), &options);
    let two = process(&source, harness.open(), &options);
    let first = one.token().await.unwrap();
    assert!(two.token().await.unwrap().same_token(&first));
    assert_eq!(source.calls(), 1);

    one.invalidate(&first);
    let second = one.token().await.unwrap();
    assert!(!second.same_token(&first));
    assert_eq!(source.calls(), 2);
    assert_eq!(one.source().metrics().deletions, 1);

    // The other process gets its own 401 for the old token: the store hands it the new one.
    let stale = two.token().await.unwrap();
    assert!(
        stale.same_token(&first),
        "served from its own cache until rejected"
    );
    two.invalidate(&stale);
    assert!(two.token().await.unwrap().same_token(&second));
    assert_eq!(source.calls(), 2);

    // A new process never sees the rejected token.
    let three = process(&source, harness.open(), &options);
    assert!(three.token().await.unwrap().same_token(&second));
    assert_eq!(source.calls(), 2);
}

/// A process with other keys cannot read the stored token: a miss, a fetch, an overwrite,
/// never an error; the first process's keys then miss on the overwritten entry in turn.
pub async fn a_wrong_key_is_a_miss_and_an_overwrite<H: StoreHarness>(harness: &H) {
    let source = IssuingSource::new(LIFETIME);
    let right = ProcessOptions {
        keys: Some([1; 32]),
        ..ProcessOptions::default()
    };
    let wrong = ProcessOptions {
        keys: Some([2; 32]),
        ..ProcessOptions::default()
    };
    let one = process(&source, harness.open(), &right);
    let first = one.token().await.unwrap();
    let two = process(&source, harness.open(), &wrong);
    let second = two.token().await.unwrap();
    assert!(!second.same_token(&first));
    assert_eq!(source.calls(), 2);
    let metrics = two.source().metrics();
    assert_eq!(metrics.decrypt_failures, 1);
    assert_eq!(metrics.fallbacks, 0, "a wrong key is not a store failure");
    // The entry is now the wrong-key process's: a process with the right key misses on it
    // and overwrites it.
    let three = process(&source, harness.open(), &right);
    let third = three.token().await.unwrap();
    assert!(!third.same_token(&second));
    assert_eq!(three.source().metrics().decrypt_failures, 1);
    // And the right key reads what it wrote.
    let four = process(&source, harness.open(), &right);
    assert!(four.token().await.unwrap().same_token(&third));
    assert_eq!(source.calls(), 3);
    assert_no_plaintext(harness, &source);
}

/// With the store broken, processes fetch directly, no caller sees an error, and the
/// breaker keeps them from trying the store on every fetch; once the store is back and the
/// breaker has cooled down, processes share tokens again.
pub async fn a_broken_store_means_direct_fetches_then_sharing_resumes<H: StoreHarness>(
    harness: &mut H,
) {
    let source = IssuingSource::new(LIFETIME);
    // The default store timeout (5 s): a broken store fails at once, and a healthy one must
    // not time out on a loaded machine (1 s did, sending a process to a direct fetch).
    let options = ProcessOptions {
        breaker_cooldown: Duration::from_millis(500),
        ..ProcessOptions::default()
    };
    let counting = CountingStore::new(harness.open());
    let one = process(&source, counting.clone(), &options);
    let two = process(&source, harness.open(), &options);
    one.token().await.unwrap();
    two.token().await.unwrap();
    assert_eq!(source.calls(), 1);

    harness.break_store();
    let start = tokio::time::Instant::now();
    let before = counting.operations();
    let first = one.token().await.unwrap();
    one.invalidate(&first);
    let direct = one
        .token()
        .await
        .expect("no caller error while the store is down");
    assert!(!direct.same_token(&first));
    assert_eq!(source.calls(), 2);
    assert!(one.source().metrics().fallbacks >= 1);
    let tried = counting.operations() - before;
    // Three more rejections: the breaker is open, the store is not touched.
    for _ in 0..3 {
        let token = one.token().await.unwrap();
        one.invalidate(&token);
        one.token().await.unwrap();
    }
    assert_eq!(source.calls(), 5);
    let elapsed = start.elapsed();
    if elapsed < options.breaker_cooldown {
        assert_eq!(
            counting.operations() - before,
            tried,
            "the breaker was open"
        );
    }
    assert!(one.source().metrics().fallbacks >= 4);

    harness.restore_store();
    // Once the breaker has cooled down, a fetch goes through the store again and a new
    // process reads what it stored.
    tokio::time::sleep(options.breaker_cooldown).await;
    let token = one.token().await.unwrap();
    one.invalidate(&token);
    let shared = one.token().await.unwrap();
    assert_eq!(source.calls(), 6);
    let three = process(&source, harness.open(), &options);
    let got = three.token().await.unwrap();
    assert!(got.same_token(&shared), "sharing resumed");
    assert_eq!(source.calls(), 6);
    assert_no_plaintext(harness, &source);
}

/// The store holds none of the issued tokens, in any encoding.
#[track_caller]
pub fn assert_no_plaintext<H: StoreHarness>(harness: &H, source: &IssuingSource) {
    let dump = harness.dump();
    assert_no_token_in(&dump, &source.issued());
}

/// `bytes` contain none of `tokens` in any of their encodings ([`secret_forms`]).
#[track_caller]
pub fn assert_no_token_in(bytes: &[u8], tokens: &[String]) {
    assert!(!tokens.is_empty(), "no token to look for");
    for token in tokens {
        for form in secret_forms(token, None) {
            assert!(
                !bytes
                    .windows(form.len())
                    .any(|window| window == form.as_bytes()),
                "a token is stored in clear (as {} bytes of {})",
                form.len(),
                bytes.len()
            );
        }
    }
}

/// A store wrapper that counts the operations reaching the store.
#[derive(Clone, Debug)]
pub struct CountingStore<S> {
    store: S,
    operations: Arc<AtomicUsize>,
}

impl<S> CountingStore<S> {
    /// Wraps `store`.
    pub fn new(store: S) -> Self {
        Self {
            store,
            operations: Arc::default(),
        }
    }

    /// How many operations were called.
    pub fn operations(&self) -> usize {
        self.operations.load(Ordering::SeqCst)
    }

    fn count(&self) {
        self.operations.fetch_add(1, Ordering::SeqCst);
    }
}

impl<S: TokenStore> TokenStore for CountingStore<S> {
    async fn get(&self, key: &StoreKey) -> Result<Option<StoreRead>, StoreError> {
        self.count();
        self.store.get(key).await
    }

    async fn put_if_newer(
        &self,
        key: &StoreKey,
        entry: &StoreEntry,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.count();
        self.store.put_if_newer(key, entry, ttl).await
    }

    async fn delete_if(&self, key: &StoreKey, fp: &Fingerprint) -> Result<bool, StoreError> {
        self.count();
        self.store.delete_if(key, fp).await
    }

    async fn try_lock(
        &self,
        key: &StoreKey,
        owner: &LockOwner,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.count();
        self.store.try_lock(key, owner, ttl).await
    }

    async fn extend_lock(
        &self,
        key: &StoreKey,
        owner: &LockOwner,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.count();
        self.store.extend_lock(key, owner, ttl).await
    }

    async fn unlock(&self, key: &StoreKey, owner: &LockOwner) -> Result<(), StoreError> {
        self.count();
        self.store.unlock(key, owner).await
    }

    async fn wait_for_change(&self, key: &StoreKey, timeout: Duration) -> Result<(), StoreError> {
        self.count();
        self.store.wait_for_change(key, timeout).await
    }
}

/// Every operation of `store` fails with a [`StoreError`] (no panic) within `bound`.
pub async fn every_operation_fails_within<S: TokenStore>(store: &S, bound: Duration) {
    let key = unique_key();
    let owner = LockOwner::random();
    macro_rules! fails {
        ($operation:expr, $name:literal) => {{
            let started = tokio::time::Instant::now();
            let result = tokio::time::timeout(bound * 2, $operation)
                .await
                .unwrap_or_else(|_| panic!("{} hung while the store was down", $name));
            assert!(
                result.is_err(),
                "{} succeeded while the store was down",
                $name
            );
            assert!(
                started.elapsed() <= bound,
                "{} took {:?}",
                $name,
                started.elapsed()
            );
        }};
    }
    fails!(store.get(&key), "get");
    fails!(
        store.put_if_newer(&key, &entry(1, "a"), MINUTE),
        "put_if_newer"
    );
    fails!(store.delete_if(&key, &fingerprint("a")), "delete_if");
    fails!(store.try_lock(&key, &owner, MINUTE), "try_lock");
    fails!(store.extend_lock(&key, &owner, MINUTE), "extend_lock");
    fails!(store.unlock(&key, &owner), "unlock");
    fails!(
        store.wait_for_change(&key, Duration::from_millis(100)),
        "wait_for_change"
    );
}

/// Waits (polling, up to `deadline`) until `store` answers a `get` again.
pub async fn wait_until_available<S: TokenStore>(store: &S, deadline: Duration) {
    let key = unique_key();
    let start = tokio::time::Instant::now();
    while store.get(&key).await.is_err() {
        assert!(
            start.elapsed() < deadline,
            "the store did not come back within {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
