//! The shared store suite against a RedisStore on a 3-master Redis Cluster.

use auth_core::test_util::store::StoreHarness as _;

use crate::support::{Cluster, suite_tests};

suite_tests!(
    Cluster;
    store:
    put_if_newer_keeps_the_highest_version,
    ttls_count_down_and_entries_expire,
    delete_if_compares_fingerprints,
    locks_are_exclusive_and_owned,
    locks_expire_unless_extended,
    wait_for_change_returns_on_change_and_on_timeout,
    concurrent_puts_keep_the_highest,
    concurrent_try_lock_has_one_winner,
    delete_racing_put_never_loses_the_new_entry;
    shared:
    cold_processes_make_one_request,
    rejected_tokens_are_deleted_fleet_wide,
    a_wrong_key_is_a_miss_and_an_overwrite,
    a_broken_store_means_direct_fetches_then_sharing_resumes,
);
