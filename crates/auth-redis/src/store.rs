//! [`RedisStore`] and its [`RedisStoreBuilder`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use auth_core::reqwest::Url;
use auth_core::store::{
    Fingerprint, LockOwner, StoreEntry, StoreError, StoreKey, StoreRead, TokenStore,
};
use redis::aio::ConnectionManagerConfig;
use redis::{Cmd, FromRedisValue, Script, Value};

use crate::error::scrub;
use crate::scripts;

/// The variable [`RedisStore::from_env`] reads: `PARTNER_REDIS_URL`.
pub const ENV_REDIS_URL: &str = "PARTNER_REDIS_URL";

/// The default connect timeout: 1 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// The default response timeout: 1 s.
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(1);
/// The default poll interval of [`TokenStore::wait_for_change`]: 50 ms (each pause is drawn
/// between half and one and a half of it).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The longest TTL written (100 years): Redis refuses expiry times that overflow.
const MAX_TTL_MS: u64 = 100 * 365 * 24 * 3600 * 1000;

/// A [`TokenStore`] on Redis or Redis Cluster: one entry per token (a hash of version,
/// fingerprint and encrypted envelope, with the token's TTL), one lock key per token
/// (`SET NX PX`), and Lua scripts that make put-if-newer, compare-and-delete and the
/// owner-checked lock operations atomic. See the [crate docs](crate).
///
/// Cloning is cheap; clones share the connection. `Debug` shows the server's address
/// without credentials.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    connection: Connection,
    /// The address(es), without credentials, for `Debug`.
    target: String,
    connect_timeout: Duration,
    response_timeout: Duration,
    poll_interval: Duration,
    /// The bound of one operation: connecting, then one request.
    op_timeout: Duration,
}

#[derive(Clone)]
enum Connection {
    Standalone(redis::aio::ConnectionManager),
    #[cfg(feature = "cluster")]
    Cluster(redis::cluster_async::ClusterConnection),
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        let mode = match inner.connection {
            Connection::Standalone(_) => "standalone",
            #[cfg(feature = "cluster")]
            Connection::Cluster(_) => "cluster",
        };
        f.debug_struct("RedisStore")
            .field("mode", &mode)
            .field("target", &inner.target)
            .field("connect_timeout", &inner.connect_timeout)
            .field("response_timeout", &inner.response_timeout)
            .field("poll_interval", &inner.poll_interval)
            .finish()
    }
}

/// Configures a [`RedisStore`]: a server URL or (feature `cluster`) the cluster's nodes, and
/// timeouts.
#[must_use]
pub struct RedisStoreBuilder {
    url: Option<String>,
    #[cfg(feature = "cluster")]
    cluster_nodes: Vec<String>,
    connect_timeout: Duration,
    response_timeout: Duration,
    poll_interval: Duration,
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("RedisStoreBuilder");
        debug.field("url", &self.url.as_deref().map(redacted));
        #[cfg(feature = "cluster")]
        debug.field(
            "cluster_nodes",
            &self
                .cluster_nodes
                .iter()
                .map(|node| redacted(node))
                .collect::<Vec<_>>(),
        );
        debug
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("poll_interval", &self.poll_interval)
            .finish()
    }
}

impl RedisStore {
    /// Starts configuring a store.
    pub fn builder() -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: None,
            #[cfg(feature = "cluster")]
            cluster_nodes: Vec::new(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
            poll_interval: DEFAULT_POLL_INTERVAL,
        }
    }

    /// A store on the server at `url` with the default timeouts; see
    /// [`RedisStoreBuilder::build`].
    ///
    /// # Errors
    /// As [`RedisStoreBuilder::build`].
    pub fn open(url: &str) -> Result<Self, StoreError> {
        Self::builder().url(url).build()
    }

    /// A store configured by `PARTNER_REDIS_URL` ([`ENV_REDIS_URL`]): one URL
    /// (`redis://[user:password@]host[:port][/db]`, `rediss://` for TLS,
    /// `redis+unix:///path`), or with feature `cluster`, the comma-separated URLs of some
    /// nodes of a Redis Cluster. Default timeouts.
    ///
    /// # Errors
    /// [`StoreError::Config`] if the variable is unset, empty, not Unicode or not valid
    /// (the message names the variable, never its value), or as
    /// [`RedisStoreBuilder::build`].
    pub fn from_env() -> Result<Self, StoreError> {
        Self::from_lookup(|name| std::env::var_os(name))
    }

    /// As [`from_env`](Self::from_env), reading the variable through `lookup`.
    ///
    /// # Errors
    /// As [`from_env`](Self::from_env).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Result<Self, StoreError> {
        let value = lookup(ENV_REDIS_URL)
            .ok_or_else(|| StoreError::Config(format!("{ENV_REDIS_URL} is not set")))?
            .into_string()
            .map_err(|_| StoreError::Config(format!("{ENV_REDIS_URL} is not valid Unicode")))?;
        let urls: Vec<&str> = value
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .collect();
        let builder = match urls.as_slice() {
            [] => return Err(StoreError::Config(format!("{ENV_REDIS_URL} is empty"))),
            [url] => Self::builder().url(*url),
            #[cfg(feature = "cluster")]
            nodes => Self::builder().cluster_nodes(nodes.iter().copied()),
            #[cfg(not(feature = "cluster"))]
            _ => {
                return Err(StoreError::Config(format!(
                    "{ENV_REDIS_URL} lists several URLs, which needs auth-redis's `cluster` feature"
                )));
            }
        };
        builder.build().map_err(|error| match error {
            StoreError::Config(reason) => StoreError::Config(format!("{ENV_REDIS_URL}: {reason}")),
            other => other,
        })
    }

    async fn query<T: FromRedisValue>(&self, command: &Cmd) -> Result<T, StoreError> {
        let inner = &*self.inner;
        self.bounded(|| async {
            match &inner.connection {
                Connection::Standalone(manager) => command.query_async(&mut manager.clone()).await,
                #[cfg(feature = "cluster")]
                Connection::Cluster(cluster) => command.query_async(&mut cluster.clone()).await,
            }
        })
        .await
    }

    async fn script<T: FromRedisValue>(
        &self,
        script: &Script,
        key: &str,
        args: &[&[u8]],
    ) -> Result<T, StoreError> {
        let inner = &*self.inner;
        let mut invocation = script.key(key);
        for arg in args {
            invocation.arg(*arg);
        }
        let invocation = &invocation;
        self.bounded(|| async move {
            match &inner.connection {
                Connection::Standalone(manager) => {
                    invocation.invoke_async(&mut manager.clone()).await
                }
                #[cfg(feature = "cluster")]
                Connection::Cluster(cluster) => invocation.invoke_async(&mut cluster.clone()).await,
            }
        })
        .await
    }

    /// Runs one request under the operation timeout, scrubbing its error.
    ///
    /// A request refused because the connection could not be made is tried once more at
    /// once: the connection manager starts a new connection when it sees the failure, so a
    /// server that came back since the last attempt is reached now instead of at the next
    /// operation. (A refused connection means the request was never sent, so nothing runs
    /// twice.)
    async fn bounded<T, F>(&self, run: impl Fn() -> F) -> Result<T, StoreError>
    where
        F: Future<Output = redis::RedisResult<T>>,
    {
        let inner = &*self.inner;
        let attempts = async {
            match run().await {
                Err(error) if error.is_connection_refusal() => run().await,
                result => result,
            }
        };
        match tokio::time::timeout(inner.op_timeout, attempts).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                let error = scrub(&error, inner.response_timeout);
                tracing::debug!(target = %inner.target, %error, "redis operation failed");
                Err(error)
            }
            Err(_) => Err(StoreError::Timeout(inner.op_timeout)),
        }
    }

    /// The fingerprint of the entry at `key`, or `None`: what `wait_for_change` compares.
    async fn signature(&self, key: &StoreKey) -> Result<Option<Fingerprint>, StoreError> {
        Ok(self.get(key).await?.map(|read| read.entry.fingerprint))
    }
}

impl RedisStoreBuilder {
    /// The server's URL: `redis://[user:password@]host[:port][/db]`, `rediss://...` for TLS
    /// (rustls, the operating system's root certificates), or `redis+unix:///path/to.sock`.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// The URLs of some nodes of a Redis Cluster (feature `cluster`); the others are found
    /// through them. Replaces [`url`](Self::url).
    #[cfg(feature = "cluster")]
    pub fn cluster_nodes<I, U>(mut self, nodes: I) -> Self
    where
        I: IntoIterator<Item = U>,
        U: Into<String>,
    {
        self.cluster_nodes = nodes.into_iter().map(Into::into).collect();
        self
    }

    /// How long one connection attempt may take (default [`DEFAULT_CONNECT_TIMEOUT`], 1 s;
    /// at least 1 ms).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long the server may take to answer one request (default
    /// [`DEFAULT_RESPONSE_TIMEOUT`], 1 s; at least 1 ms). Every operation of the store ends
    /// within the connect timeout plus the response timeout, with a [`StoreError`] if
    /// the server did not answer.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How often [`TokenStore::wait_for_change`] reads the entry again (default
    /// [`DEFAULT_POLL_INTERVAL`], 50 ms; at least 1 ms): each pause is drawn at random
    /// between half and one and a half of it, so waiting processes do not poll in step.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// Builds the store. It connects lazily, on its first operation, and reconnects by
    /// itself: a server that is down now is a [`StoreError`] for each operation until it is
    /// back (which `SharedSource` turns into direct fetches), not an error here.
    ///
    /// Call it inside a Tokio runtime: the connection's background tasks run there.
    ///
    /// # Errors
    /// [`StoreError::Config`] without a URL, for a URL that does not parse (the message never
    /// holds the URL), or outside a Tokio runtime.
    pub fn build(self) -> Result<RedisStore, StoreError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(StoreError::Config(
                "a RedisStore must be built inside a Tokio runtime".into(),
            ));
        }
        let op_timeout = self.connect_timeout.saturating_add(self.response_timeout);
        #[cfg(feature = "cluster")]
        if !self.cluster_nodes.is_empty() {
            let connection = self.cluster()?;
            let target = self
                .cluster_nodes
                .iter()
                .map(|node| redacted(node))
                .collect::<Vec<_>>()
                .join(",");
            return Ok(self.finish(connection, target, op_timeout));
        }
        let url = self
            .url
            .as_deref()
            .ok_or_else(|| StoreError::Config("no Redis URL given".into()))?;
        let client = redis::Client::open(url)
            .map_err(|_| StoreError::Config("the Redis URL is not valid".into()))?;
        // One connection attempt per operation, bounded by the connect timeout: when the
        // server is down, every operation fails fast and the next one tries again.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(self.response_timeout))
            .set_number_of_retries(0);
        let manager = redis::aio::ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|error| scrub(&error, self.response_timeout))?;
        let target = redacted(url);
        Ok(self.finish(Connection::Standalone(manager), target, op_timeout))
    }

    #[cfg(feature = "cluster")]
    fn cluster(&self) -> Result<Connection, StoreError> {
        let client = redis::cluster::ClusterClientBuilder::new(self.cluster_nodes.iter().cloned())
            .connection_timeout(self.connect_timeout)
            .response_timeout(self.response_timeout)
            .retries(2)
            .build()
            .map_err(|_| StoreError::Config("the Redis Cluster node URLs are not valid".into()))?;
        let config = redis::cluster::ClusterConfig::new()
            .set_connection_timeout(self.connect_timeout)
            .set_response_timeout(self.response_timeout);
        Ok(Connection::Cluster(
            client.get_pending_async_connection_with_config(config),
        ))
    }

    fn finish(self, connection: Connection, target: String, op_timeout: Duration) -> RedisStore {
        RedisStore {
            inner: Arc::new(Inner {
                connection,
                target,
                connect_timeout: self.connect_timeout,
                response_timeout: self.response_timeout,
                poll_interval: self.poll_interval,
                op_timeout,
            }),
        }
    }
}

/// `url` without user name, password, query or fragment: `scheme://host:port/path`.
fn redacted(url: &str) -> String {
    match Url::parse(url) {
        Ok(url) => {
            let host = url.host_str().unwrap_or("");
            let port = url
                .port()
                .map(|port| format!(":{port}"))
                .unwrap_or_default();
            format!("{}://{host}{port}{}", url.scheme(), url.path())
        }
        Err(_) => "[invalid URL]".to_owned(),
    }
}

fn ttl_millis(ttl: Duration) -> Vec<u8> {
    let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
    millis.clamp(1, MAX_TTL_MS).to_string().into_bytes()
}

/// The entry in a `GET` script reply, or `None` for anything that is not a whole entry.
fn parse_read(value: Value) -> Option<StoreRead> {
    let Value::Array(items) = value else {
        return None;
    };
    let [version, fingerprint, envelope, pttl] = <[Value; 4]>::try_from(items).ok()?;
    let text = |value: Value| match value {
        Value::BulkString(bytes) => String::from_utf8(bytes).ok(),
        Value::SimpleString(text) => Some(text),
        _ => None,
    };
    let version = text(version)?.parse::<i64>().ok()?;
    let fingerprint = Fingerprint::from_hex(&text(fingerprint)?)?;
    let Value::BulkString(envelope) = envelope else {
        return None;
    };
    let Value::Int(pttl) = pttl else {
        return None;
    };
    let remaining = Duration::from_millis(u64::try_from(pttl).ok().filter(|ms| *ms > 0)?);
    Some(StoreRead {
        entry: StoreEntry {
            version,
            fingerprint,
            envelope,
        },
        remaining,
    })
}

impl TokenStore for RedisStore {
    async fn get(&self, key: &StoreKey) -> Result<Option<StoreRead>, StoreError> {
        let reply: Value = self.script(&scripts::GET, &key.token_key(), &[]).await?;
        Ok(parse_read(reply))
    }

    async fn put_if_newer(
        &self,
        key: &StoreKey,
        entry: &StoreEntry,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let version = entry.version.to_string();
        let fingerprint = entry.fingerprint.to_hex();
        let written: i64 = self
            .script(
                &scripts::PUT_IF_NEWER,
                &key.token_key(),
                &[
                    version.as_bytes(),
                    fingerprint.as_bytes(),
                    &entry.envelope,
                    &ttl_millis(ttl),
                ],
            )
            .await?;
        Ok(written == 1)
    }

    async fn delete_if(
        &self,
        key: &StoreKey,
        fingerprint: &Fingerprint,
    ) -> Result<bool, StoreError> {
        let fingerprint = fingerprint.to_hex();
        let deleted: i64 = self
            .script(
                &scripts::DELETE_IF,
                &key.token_key(),
                &[fingerprint.as_bytes()],
            )
            .await?;
        Ok(deleted == 1)
    }

    async fn try_lock(
        &self,
        key: &StoreKey,
        owner: &LockOwner,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut command = redis::cmd("SET");
        command
            .arg(key.lock_key())
            .arg(owner.as_str())
            .arg("NX")
            .arg("PX")
            .arg(ttl_millis(ttl));
        let reply: Value = self.query(&command).await?;
        Ok(matches!(reply, Value::Okay) || matches!(&reply, Value::SimpleString(ok) if ok == "OK"))
    }

    async fn extend_lock(
        &self,
        key: &StoreKey,
        owner: &LockOwner,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let extended: i64 = self
            .script(
                &scripts::EXTEND_LOCK,
                &key.lock_key(),
                &[owner.as_str().as_bytes(), &ttl_millis(ttl)],
            )
            .await?;
        Ok(extended == 1)
    }

    async fn unlock(&self, key: &StoreKey, owner: &LockOwner) -> Result<(), StoreError> {
        let _: i64 = self
            .script(
                &scripts::UNLOCK,
                &key.lock_key(),
                &[owner.as_str().as_bytes()],
            )
            .await?;
        Ok(())
    }

    async fn wait_for_change(&self, key: &StoreKey, timeout: Duration) -> Result<(), StoreError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let before = self.signature(key).await?;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            let base = self.inner.poll_interval;
            let pause = base.mul_f64(0.5 + fastrand::f64()).min(left);
            tokio::time::sleep(pause).await;
            if self.signature(key).await? != before {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_credentials() {
        assert_eq!(
            redacted("redis://user:hunter2@cache.internal:6380/2?x=y"),
            "redis://cache.internal:6380/2"
        );
        assert_eq!(redacted("rediss://:hunter2@h"), "rediss://h");
        assert_eq!(redacted("not a url hunter2"), "[invalid URL]");
    }

    #[test]
    fn replies_that_are_not_whole_entries_are_no_entry() {
        let fingerprint = "ab".repeat(32);
        let whole = |pttl| {
            Value::Array(vec![
                Value::BulkString(b"17".to_vec()),
                Value::BulkString(fingerprint.clone().into_bytes()),
                Value::BulkString(vec![1, 2, 3]),
                Value::Int(pttl),
            ])
        };
        let read = parse_read(whole(1500)).unwrap();
        assert_eq!(read.entry.version, 17);
        assert_eq!(read.remaining, Duration::from_millis(1500));
        assert!(parse_read(whole(0)).is_none());
        assert!(parse_read(whole(-1)).is_none());
        assert!(parse_read(Value::Nil).is_none());
        assert!(parse_read(Value::Array(vec![Value::Nil; 4])).is_none());
        assert!(
            parse_read(Value::Array(vec![
                Value::BulkString(b"x".to_vec()),
                Value::BulkString(fingerprint.into_bytes()),
                Value::BulkString(vec![]),
                Value::Int(5),
            ]))
            .is_none()
        );
        assert_eq!(ttl_millis(Duration::ZERO), b"1");
        assert_eq!(
            ttl_millis(Duration::MAX),
            MAX_TTL_MS.to_string().into_bytes()
        );
    }
}
