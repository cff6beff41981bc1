//! `fleet-worker`: one process of a test fleet. It builds a Podero client the way an
//! application would (`PoderoAuth::from_env()?.shared(store)`, a `TokenCache`, a
//! `PoderoClient`), prints `ready`, then runs the commands it reads from stdin, answering
//! each with one JSON line ([`fleet_tests::Report`]):
//!
//! - `calls N`: N `users().list()` calls, one after the other;
//! - `run MS PAUSE_MS`: calls for MS milliseconds, pausing PAUSE_MS between them, noting when
//!   a call finds that the shared source fetched directly;
//! - `exit`.
//!
//! Configuration, from the environment: `PODERO_CLIENT_ID`, `PODERO_CLIENT_SECRET`,
//! `PODERO_BASE_URL`, `PODERO_ORG_ID`; `FLEET_STORE` = `redis` (`PARTNER_REDIS_URL`, read by
//! `RedisStore::from_env`), `file` (`FLEET_FILE_DIR`) or `none`; `FLEET_LOCK_TTL_MS`,
//! `FLEET_STORE_TIMEOUT_MS`, `FLEET_BREAKER_MS`; `FLEET_KEY` (64 hex digits: explicit store
//! keys instead of the ones derived from the secret); `FLEET_LOG` (a tracing filter such as
//! `warn`: log lines on stderr, naming the thread `fleet-worker-PID`; none by default).
//!
//! The report lists the tokens this process received, so that the test can scan the store
//! for them: this is a test worker talking to its test over a pipe, not a log.

// A test worker: its stdout is its answer to the test that runs it.
#![allow(clippy::print_stdout)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use auth_core::store::{FileStore, KeyId, SharedMetrics, SharedSource, StoreKeys, TokenStore};
use auth_core::{AccessToken, AuthError, FetchContext, TokenCache, TokenSource};
use auth_redis::RedisStore;
use fleet_tests::{Report, SharedReport};
use partner_sdk::PoderoClient;
use partner_sdk::podero::org_from_lookup;
use podero_auth::{PoderoAuth, SourceConfig as _};
use tokio::io::{AsyncBufReadExt as _, BufReader};

/// A token source that remembers every token its inner source handed over.
struct Recording<S> {
    inner: S,
    seen: Arc<Mutex<BTreeSet<String>>>,
}

impl<S: TokenSource> TokenSource for Recording<S> {
    async fn fetch_token(&self) -> Result<AccessToken, AuthError> {
        self.fetch_token_with(&FetchContext::standalone()).await
    }

    async fn fetch_token_with(&self, context: &FetchContext) -> Result<AccessToken, AuthError> {
        let token = self.inner.fetch_token_with(context).await?;
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(token.expose_secret().to_owned());
        Ok(token)
    }
}

fn millis(name: &str) -> Result<Option<Duration>> {
    match std::env::var(name) {
        Ok(value) => Ok(Some(Duration::from_millis(
            value
                .parse()
                .with_context(|| format!("{name} is not a number"))?,
        ))),
        Err(_) => Ok(None),
    }
}

fn explicit_keys() -> Result<Option<StoreKeys>> {
    let Ok(hex) = std::env::var("FLEET_KEY") else {
        return Ok(None);
    };
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        let pair = hex
            .get(2 * i..2 * i + 2)
            .context("FLEET_KEY: 64 hex digits")?;
        *byte = u8::from_str_radix(pair, 16).context("FLEET_KEY: 64 hex digits")?;
    }
    let id = KeyId::new("fleet").context("key id")?;
    Ok(Some(StoreKeys::explicit(id, key)))
}

/// A way to read the shared source's counters.
type Metrics = Box<dyn Fn() -> Option<SharedMetrics> + Send + Sync>;

/// The cache of a process with a shared store.
type SharedCache<St> = TokenCache<Recording<SharedSource<auth_core::ClientCredentials, St>>>;

/// The process's token cache over `store`, and a way to read its shared-source counters.
fn shared<St: TokenStore>(
    auth: PoderoAuth,
    store: St,
    seen: &Arc<Mutex<BTreeSet<String>>>,
) -> Result<(SharedCache<St>, Metrics)> {
    let mut config = auth.shared(store);
    if let Some(ttl) = millis("FLEET_LOCK_TTL_MS")? {
        config = config.lock_ttl(ttl);
    }
    if let Some(timeout) = millis("FLEET_STORE_TIMEOUT_MS")? {
        config = config.store_timeout(timeout);
    }
    if let Some(cooldown) = millis("FLEET_BREAKER_MS")? {
        config = config.breaker_cooldown(cooldown);
    }
    if let Some(keys) = explicit_keys()? {
        config = config.keys(keys);
    }
    let source = config.into_source()?;
    let handle = source.clone();
    let cache = TokenCache::new(Recording {
        inner: source,
        seen: Arc::clone(seen),
    });
    Ok((cache, Box::new(move || Some(handle.metrics()))))
}

fn main() -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLEET_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_thread_names(true)
        .init();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        // The thread name, in every log line, tells the processes apart.
        .thread_name(format!("fleet-worker-{}", std::process::id()))
        .build()?
        .block_on(work())
}

async fn work() -> Result<()> {
    let auth = PoderoAuth::from_env()?;
    let base_url = auth.base_url()?;
    let org = org_from_lookup(&|name| std::env::var_os(name))?;
    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let store = std::env::var("FLEET_STORE").unwrap_or_else(|_| "none".into());
    let (client, metrics): (PoderoClient, Metrics) = match store.as_str() {
        "redis" => {
            let (cache, metrics) = shared(auth, RedisStore::from_env()?, &seen)?;
            (
                PoderoClient::with_tokens(cache, base_url.as_str(), org)?,
                metrics,
            )
        }
        "file" => {
            let dir = std::env::var("FLEET_FILE_DIR").context("FLEET_FILE_DIR")?;
            let (cache, metrics) = shared(auth, FileStore::open(dir)?, &seen)?;
            (
                PoderoClient::with_tokens(cache, base_url.as_str(), org)?,
                metrics,
            )
        }
        "none" => {
            let cache = TokenCache::new(Recording {
                inner: auth.into_source()?,
                seen: Arc::clone(&seen),
            });
            let metrics: Metrics = Box::new(|| None);
            (
                PoderoClient::with_tokens(cache, base_url.as_str(), org)?,
                metrics,
            )
        }
        other => bail!("FLEET_STORE={other}: expected redis, file or none"),
    };
    println!("ready");

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let words: Vec<&str> = line.split_whitespace().collect();
        let clock = tokio::time::Instant::now();
        let mut report = Report::default();
        match words.as_slice() {
            ["calls", n] => {
                for _ in 0..n.parse::<u64>()? {
                    call(&client, &mut report).await;
                }
            }
            ["run", ms, pause] => {
                let until = clock + Duration::from_millis(ms.parse()?);
                let pause = Duration::from_millis(pause.parse()?);
                let fallbacks = || metrics().map_or(0, |m| m.fallbacks);
                let mut seen_fallbacks = fallbacks();
                while tokio::time::Instant::now() < until {
                    call(&client, &mut report).await;
                    let now = fallbacks();
                    let ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
                    for _ in seen_fallbacks..now {
                        report.fallbacks_at_ms.push(ms);
                    }
                    seen_fallbacks = now;
                    tokio::time::sleep(pause).await;
                }
            }
            ["exit"] => break,
            _ => bail!("unknown command {line:?}"),
        }
        report.elapsed_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
        report.tokens = seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect();
        report.shared = metrics().map(|m| SharedReport {
            store_hits: m.store_hits,
            store_misses: m.store_misses,
            fetches: m.fetches,
            lock_waits: m.lock_waits,
            fallbacks: m.fallbacks,
            decrypt_failures: m.decrypt_failures,
            deletions: m.deletions,
        });
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(())
}

async fn call(client: &PoderoClient, report: &mut Report) {
    match client.users().list().await {
        Ok(_) => report.ok += 1,
        Err(error) => report.errors.push(error.to_string()),
    }
}
