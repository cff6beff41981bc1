//! auth-redis's integration tests, all against real `redis-server` processes started per
//! test (`auth_redis::test_util`): the store suite shared with every store
//! (`auth_core::test_util::store`) on a standalone server and on a 3-master Redis Cluster,
//! then what only Redis has (lock expiry, a server killed and restarted, foreign values at
//! the keys, passwords, configuration).
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cluster;
mod redis_only;
mod standalone;
mod support;
