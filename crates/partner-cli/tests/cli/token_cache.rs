//! The tokens `partner` keeps between runs: the encrypted cache directory (the default), Redis
//! (`--redis-url`), `--fresh` and `--no-token-cache`.

use partner_emulator::{Emulator, Endpoint};
use serde_json::Value;

use crate::{borrow, fastrand_u64, podero_env, run, stderr, stdout};

/// A token cache directory for a test, removed when dropped.
struct CacheDir(std::path::PathBuf);

impl CacheDir {
    fn new() -> Self {
        Self(std::env::temp_dir().join(format!("partner-cli-cache-{:016x}", fastrand_u64())))
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }

    /// Every byte of every file in it.
    fn contents(&self) -> Vec<(String, Vec<u8>)> {
        std::fs::read_dir(&self.0)
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let name = entry.file_name().to_string_lossy().into_owned();
                (name, std::fs::read(entry.path()).unwrap())
            })
            .collect()
    }
}

impl Drop for CacheDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_share_one_token_through_the_encrypted_cache_directory() {
    let emulator = Emulator::builder().start().await.unwrap();
    let base = emulator.base_url().to_owned();
    let cache = CacheDir::new();
    let mut vars = podero_env(&emulator);
    vars.push(("PARTNER_TOKEN_CACHE_DIR", cache.path().to_owned()));
    let vars = borrow(&vars);
    let token = |args: &'static [&'static str]| {
        let mut all = vec!["--base-url", base.as_str(), "token", "--vendor", "podero"];
        all.extend_from_slice(args);
        all
    };

    // Two runs of `token`, one of `users list`: one token request.
    let first = run(&token(&["--show-secret"]), &vars).await;
    assert!(first.status.success(), "{}", stderr(&first));
    let first: Value = serde_json::from_str(&stdout(&first)).unwrap();
    let second = run(&token(&["--show-secret"]), &vars).await;
    let second: Value = serde_json::from_str(&stdout(&second)).unwrap();
    assert_eq!(first["access_token"], second["access_token"]);
    let listed = run(&["--base-url", &base, "users", "list"], &vars).await;
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert_eq!(emulator.request_count(Endpoint::PoderoToken), 1);

    // Kept encrypted: no file holds the token or the secret, and only the owner can read.
    let secret = emulator.podero_credentials().client_secret.clone();
    let plain = first["access_token"].as_str().unwrap().to_owned();
    for (name, bytes) in cache.contents() {
        let text = String::from_utf8_lossy(&bytes);
        auth_core::test_util::assert_no_secret(&text, &[&plain, &secret]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(cache.0.join(&name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
    }

    // `--fresh` fetches a new token and keeps it; the next run uses that one.
    let fresh = run(&token(&["--show-secret", "--fresh"]), &vars).await;
    let fresh: Value = serde_json::from_str(&stdout(&fresh)).unwrap();
    assert_ne!(fresh["access_token"], first["access_token"]);
    let after = run(&token(&["--show-secret"]), &vars).await;
    let after: Value = serde_json::from_str(&stdout(&after)).unwrap();
    assert_eq!(after["access_token"], fresh["access_token"]);
    assert_eq!(emulator.request_count(Endpoint::PoderoToken), 2);

    // `--no-token-cache` neither reads nor writes it.
    let uncached = run(
        &[
            "--no-token-cache",
            "--base-url",
            &base,
            "token",
            "--vendor",
            "podero",
            "--show-secret",
        ],
        &vars,
    )
    .await;
    let uncached: Value = serde_json::from_str(&stdout(&uncached)).unwrap();
    assert_ne!(uncached["access_token"], fresh["access_token"]);
    assert_eq!(emulator.request_count(Endpoint::PoderoToken), 3);
    let after = run(&token(&["--show-secret"]), &vars).await;
    let after: Value = serde_json::from_str(&stdout(&after)).unwrap();
    assert_eq!(after["access_token"], fresh["access_token"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_revoked_at_the_server_is_dropped_from_the_cache_directory() {
    let emulator = Emulator::builder().start().await.unwrap();
    let base = emulator.base_url().to_owned();
    let cache = CacheDir::new();
    let mut vars = podero_env(&emulator);
    vars.push(("PARTNER_TOKEN_CACHE_DIR", cache.path().to_owned()));
    let vars = borrow(&vars);
    let list = ["--base-url", base.as_str(), "users", "list"];
    assert!(run(&list, &vars).await.status.success());
    emulator.revoke_all_tokens();
    // One 401, one new token, and the run after uses the new one without a 401.
    for _ in 0..2 {
        let output = run(&list, &vars).await;
        assert!(output.status.success(), "{}", stderr(&output));
    }
    assert_eq!(emulator.request_count(Endpoint::PoderoToken), 2);
    let statuses: Vec<u16> = emulator
        .request_log()
        .into_iter()
        .filter(|entry| entry.endpoint == Some(Endpoint::ListUsers))
        .map(|entry| entry.status)
        .collect();
    assert_eq!(statuses, [200, 401, 200, 200]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unusable_cache_directory_means_no_cache_not_a_failure() {
    let emulator = Emulator::builder().start().await.unwrap();
    let base = emulator.base_url().to_owned();
    let file = CacheDir::new();
    std::fs::write(&file.0, b"a file, not a directory").unwrap();
    let mut vars = podero_env(&emulator);
    vars.push(("PARTNER_TOKEN_CACHE_DIR", file.path().to_owned()));
    let output = run(
        &["--base-url", &base, "token", "--vendor", "podero"],
        &borrow(&vars),
    )
    .await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).is_empty(), "{}", stderr(&output));
    let _ = std::fs::remove_file(&file.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_share_one_token_through_redis_and_fall_back_when_it_is_down() {
    let mut redis = auth_redis::test_util::RedisServer::start();
    let emulator = Emulator::builder().start().await.unwrap();
    let base = emulator.base_url().to_owned();
    let url = redis.url();
    let vars = podero_env(&emulator);
    let vars = borrow(&vars);
    let token = [
        "--redis-url",
        url.as_str(),
        "--base-url",
        base.as_str(),
        "token",
        "--vendor",
        "podero",
        "--show-secret",
    ];

    let first = run(&token, &vars).await;
    assert!(first.status.success(), "{}", stderr(&first));
    let first: Value = serde_json::from_str(&stdout(&first)).unwrap();
    let second = run(&token, &vars).await;
    let second: Value = serde_json::from_str(&stdout(&second)).unwrap();
    assert_eq!(first["access_token"], second["access_token"]);
    assert_eq!(emulator.request_count(Endpoint::PoderoToken), 1);
    // Nothing in Redis holds the token or the secret in clear.
    let plain = first["access_token"].as_str().unwrap().to_owned();
    let secret = emulator.podero_credentials().client_secret.clone();
    let dump = String::from_utf8_lossy(&redis.dump()).into_owned();
    auth_core::test_util::assert_no_secret(&dump, &[&plain, &secret]);

    // Redis down: the run fetches directly, with no error and no extra output.
    redis.kill();
    let without = run(&token, &vars).await;
    assert!(without.status.success(), "{}", stderr(&without));
    assert!(stderr(&without).is_empty(), "{}", stderr(&without));
    assert_eq!(emulator.request_count(Endpoint::PoderoToken), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unusable_redis_url_exits_2_without_repeating_it() {
    let emulator = Emulator::builder().start().await.unwrap();
    let vars = podero_env(&emulator);
    let output = run(
        &[
            "--redis-url",
            "postgres://user:hunter2@host",
            "token",
            "--vendor",
            "podero",
        ],
        &borrow(&vars),
    )
    .await;
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(!stderr(&output).contains("hunter2"), "{}", stderr(&output));
    assert_eq!(emulator.request_count(Endpoint::PoderoToken), 0);
}
