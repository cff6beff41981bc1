//! What only Redis has: lock expiry is in the suite; here a server killed and restarted,
//! foreign values at the keys, the stored layout, passwords, the cluster's hash slots and
//! configuration from the environment.

use std::ffi::OsString;
use std::time::Duration;

use auth_core::store::{StoreError, StoreKey, TokenStore as _};
use auth_core::test_util::store::{
    StoreHarness as _, entry, every_operation_fails_within, unique_key, wait_until_available,
};
use auth_redis::RedisStore;
use auth_redis::test_util::RedisServer;

use crate::support::{CONNECT_TIMEOUT, Cluster, RESPONSE_TIMEOUT, Standalone};

const MINUTE: Duration = Duration::from_secs(60);

/// Every operation's bound: one connection attempt and one request, plus scheduling slack.
fn bound() -> Duration {
    CONNECT_TIMEOUT + RESPONSE_TIMEOUT + Duration::from_millis(300)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_fails_every_operation_in_time_then_the_store_reconnects() {
    let mut redis = Standalone::start();
    let store = redis.open();
    let key = unique_key();
    store
        .put_if_newer(&key, &entry(1, "a"), MINUTE)
        .await
        .unwrap();

    redis.break_store();
    every_operation_fails_within(&store, bound()).await;

    redis.restore_store();
    wait_until_available(&store, Duration::from_secs(10)).await;
    // The restarted server is empty; the same handle works on it.
    assert!(store.get(&key).await.unwrap().is_none());
    assert!(
        store
            .put_if_newer(&key, &entry(1, "a"), MINUTE)
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_cluster_fails_every_operation_in_time_then_the_store_reconnects() {
    let mut redis = Cluster::start();
    let store = redis.open();
    let key = unique_key();
    store
        .put_if_newer(&key, &entry(1, "a"), MINUTE)
        .await
        .unwrap();

    redis.break_store();
    every_operation_fails_within(&store, bound()).await;

    redis.restore_store();
    wait_until_available(&store, Duration::from_secs(20)).await;
    assert!(
        store
            .put_if_newer(&key, &entry(2, "a"), MINUTE)
            .await
            .unwrap()
    );
    assert_eq!(store.get(&key).await.unwrap().unwrap().entry.version, 2);
}

#[tokio::test]
async fn an_entry_is_a_hash_of_version_fingerprint_and_envelope_with_the_ttl() {
    let redis = Standalone::start();
    let store = redis.open();
    let key = unique_key();
    let written = entry(42, "a");
    store
        .put_if_newer(&key, &written, Duration::from_secs(30))
        .await
        .unwrap();
    let fields = String::from_utf8(redis.server.cli(&["HGETALL", &key.token_key()])).unwrap();
    let fields: Vec<&str> = fields.lines().collect();
    assert_eq!(
        fields,
        [
            "v",
            "42",
            "f",
            written.fingerprint.to_hex().as_str(),
            "e",
            "envelope of 42"
        ]
    );
    let pttl: i64 = String::from_utf8(redis.server.cli(&["PTTL", &key.token_key()]))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!((25_000..=30_000).contains(&pttl), "{pttl}");
    let read = store.get(&key).await.unwrap().unwrap();
    assert!(read.remaining <= Duration::from_millis(u64::try_from(pttl).unwrap()));
}

#[tokio::test]
async fn foreign_values_at_the_keys_are_no_entry_and_are_overwritten() {
    let redis = Standalone::start();
    let store = redis.open();
    let cli = |args: &[&str]| redis.server.cli(args);

    // A string where the hash should be.
    let key = unique_key();
    cli(&["SET", &key.token_key(), "garbage"]);
    assert!(store.get(&key).await.unwrap().is_none());
    assert!(
        store
            .put_if_newer(&key, &entry(1, "a"), MINUTE)
            .await
            .unwrap()
    );
    assert_eq!(store.get(&key).await.unwrap().unwrap().entry, entry(1, "a"));

    // A hash with garbage fields, and a hash without a TTL (with a huge version).
    for fields in [
        &["v", "not a number", "f", "zz", "e", "x"][..],
        &["v", "99999999999999", "f", &"ab".repeat(32), "e", "x"][..],
    ] {
        let key = unique_key();
        let mut args = vec!["HSET", key.token_key().leak() as &str];
        args.extend_from_slice(fields);
        cli(&args);
        assert!(store.get(&key).await.unwrap().is_none(), "{fields:?}");
        assert!(
            store
                .put_if_newer(&key, &entry(1, "a"), MINUTE)
                .await
                .unwrap(),
            "{fields:?}"
        );
        assert_eq!(store.get(&key).await.unwrap().unwrap().entry, entry(1, "a"));
    }

    // A list at the lock key: an error, not a panic.
    let key = unique_key();
    cli(&["RPUSH", &key.lock_key(), "x"]);
    let owner = auth_core::store::LockOwner::random();
    assert!(store.extend_lock(&key, &owner, MINUTE).await.is_err());
    assert!(!store.try_lock(&key, &owner, MINUTE).await.unwrap());
}

#[tokio::test]
async fn passwords_reach_neither_errors_nor_debug() {
    let server = RedisServer::start_with(&["--requirepass", "right-pass-8c1e"]);
    let port = server.port();
    let wrong = RedisStore::builder()
        .url(format!("redis://:wrong-pass-51ab@127.0.0.1:{port}"))
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .unwrap();
    let error = wrong.get(&unique_key()).await.unwrap_err();
    let texts = [
        error.to_string(),
        format!("{error:?}"),
        format!("{wrong:?}"),
    ];
    for text in &texts {
        assert!(!text.contains("wrong-pass-51ab"), "{text}");
    }
    assert!(texts[0].contains("authentication failed"), "{}", texts[0]);

    let right = RedisStore::open(&format!("redis://:right-pass-8c1e@127.0.0.1:{port}")).unwrap();
    assert!(right.get(&unique_key()).await.unwrap().is_none());
    let debug = format!("{right:?}");
    assert!(!debug.contains("right-pass-8c1e"), "{debug}");
    assert!(
        debug.contains(&format!("redis://127.0.0.1:{port}")),
        "{debug}"
    );
}

#[tokio::test]
async fn a_tokens_keys_share_one_cluster_slot() {
    let redis = Cluster::start();
    let store = redis.open();
    let node = redis.cluster.urls()[0].clone();
    let port = node.rsplit(':').next().unwrap().to_owned();
    let slot = |name: &str| {
        let output = std::process::Command::new("redis-cli")
            .args(["-p", &port, "CLUSTER", "KEYSLOT", name])
            .output()
            .unwrap();
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    };
    for _ in 0..10 {
        let key = unique_key();
        assert_eq!(slot(&key.token_key()), slot(&key.lock_key()));
        // And the scripts run on that slot's node, wherever it is.
        assert!(
            store
                .put_if_newer(&key, &entry(1, "a"), MINUTE)
                .await
                .unwrap()
        );
        assert!(store.get(&key).await.unwrap().is_some());
    }
}

#[tokio::test]
async fn configuration_from_the_environment_names_the_variable_never_the_value() {
    let lookup = |value: Option<&'static str>| {
        move |name: &str| (name == "PARTNER_REDIS_URL").then(|| value.map(OsString::from))?
    };
    let config = |result: Result<RedisStore, StoreError>| match result {
        Err(StoreError::Config(reason)) => reason,
        other => panic!("expected a configuration error, got {other:?}"),
    };
    assert_eq!(
        config(RedisStore::from_lookup(lookup(None))),
        "PARTNER_REDIS_URL is not set"
    );
    assert_eq!(
        config(RedisStore::from_lookup(lookup(Some(" , ")))),
        "PARTNER_REDIS_URL is empty"
    );
    let reason = config(RedisStore::from_lookup(lookup(Some(
        "http://user:hunter2@host:6379",
    ))));
    assert!(reason.starts_with("PARTNER_REDIS_URL"), "{reason}");
    assert!(!reason.contains("hunter2"), "{reason}");

    let server = RedisServer::start();
    let url: &'static str = server.url().leak();
    let store = RedisStore::from_lookup(lookup(Some(url))).unwrap();
    assert!(store.get(&unique_key()).await.unwrap().is_none());
    // Several URLs are a cluster's nodes (feature `cluster`).
    let nodes: &'static str = format!("{url},{url}").leak();
    let cluster = RedisStore::from_lookup(lookup(Some(nodes))).unwrap();
    assert!(format!("{cluster:?}").contains("cluster"));
}

#[test]
fn a_store_built_outside_a_runtime_is_a_configuration_error() {
    let error = RedisStore::open("redis://127.0.0.1:1").unwrap_err();
    assert!(matches!(error, StoreError::Config(_)), "{error:?}");
}

#[tokio::test]
async fn a_store_key_with_a_prefix_lives_under_it() {
    let redis = Standalone::start();
    let store = redis.open();
    let key = StoreKey::new("my-service", "0123abcd").unwrap();
    store
        .put_if_newer(&key, &entry(1, "a"), MINUTE)
        .await
        .unwrap();
    let keys = String::from_utf8(redis.server.cli(&["KEYS", "*"])).unwrap();
    assert_eq!(keys.trim(), "{my-service:0123abcd}:token");
}
