//! Harnesses that put a real Redis behind the shared store suite.

use std::time::Duration;

use auth_core::test_util::store::StoreHarness;
use auth_redis::RedisStore;
use auth_redis::test_util::{RedisCluster, RedisServer};

/// Short timeouts, so that tests of a dead server stay fast.
// Generous: the suites run with 64 threads on 2 cores, and a store operation that times out
// sends a process to a direct fetch, which the behaviour tests count.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
pub(crate) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);

/// A standalone `redis-server` of this test's own.
pub(crate) struct Standalone {
    pub(crate) server: RedisServer,
}

impl Standalone {
    pub(crate) fn start() -> Self {
        Self {
            server: RedisServer::start(),
        }
    }
}

impl StoreHarness for Standalone {
    type Store = RedisStore;

    fn open(&self) -> RedisStore {
        RedisStore::builder()
            .url(self.server.url())
            .connect_timeout(CONNECT_TIMEOUT)
            .response_timeout(RESPONSE_TIMEOUT)
            .build()
            .unwrap()
    }

    fn break_store(&mut self) {
        self.server.kill();
    }

    fn restore_store(&mut self) {
        self.server.restart();
    }

    fn dump(&self) -> Vec<u8> {
        self.server.dump()
    }
}

/// A 3-master Redis Cluster of this test's own.
pub(crate) struct Cluster {
    pub(crate) cluster: RedisCluster,
}

impl Cluster {
    pub(crate) fn start() -> Self {
        Self {
            cluster: RedisCluster::start(),
        }
    }
}

impl StoreHarness for Cluster {
    type Store = RedisStore;

    fn open(&self) -> RedisStore {
        RedisStore::builder()
            .cluster_nodes(self.cluster.urls())
            .connect_timeout(CONNECT_TIMEOUT)
            .response_timeout(RESPONSE_TIMEOUT)
            .build()
            .unwrap()
    }

    fn break_store(&mut self) {
        self.cluster.kill();
    }

    fn restore_store(&mut self) {
        self.cluster.restart();
    }

    fn dump(&self) -> Vec<u8> {
        self.cluster.dump()
    }
}

/// Generates one test per suite function, each with a fresh harness of type `$harness`.
macro_rules! suite_tests {
    ($harness:ty; store: $($store:ident),* ; shared: $($shared:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $store() {
                let harness = <$harness>::start();
                auth_core::test_util::store::$store(&harness.open()).await;
            }
        )*
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $shared() {
                let mut harness = <$harness>::start();
                auth_core::test_util::store::$shared(&mut harness).await;
            }
        )*
    };
}
pub(crate) use suite_tests;
