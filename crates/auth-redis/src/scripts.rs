//! The Lua scripts that make each store operation one atomic step on the server.
//!
//! A token's entry is a hash at [`StoreKey::token_key`](auth_core::store::StoreKey::token_key)
//! with three fields: `v` (the version, a decimal integer), `f` (the keyed fingerprint, hex)
//! and `e` (the AEAD envelope, bytes), and a TTL. The scripts compare `v` and `f` only: they
//! never see a token. A value of another type at the key (not written by this crate) counts
//! as no entry and is overwritten by the next put; so is a hash without a TTL.
//!
//! Versions are compared as Lua numbers (doubles): exact up to 2^53, far beyond the Unix
//! milliseconds `SharedSource` uses.

use std::sync::LazyLock;

use redis::Script;

/// `KEYS[1]` token key. Returns nil when there is no usable entry, else `{v, f, e, pttl}`
/// (a missing field comes back nil). One script, so the fields and the TTL are read at once.
pub(crate) static GET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then return false end
local pttl = redis.call('PTTL', KEYS[1])
if pttl <= 0 then return false end
local fields = redis.call('HMGET', KEYS[1], 'v', 'f', 'e')
return {fields[1], fields[2], fields[3], pttl}
",
    )
});

/// `KEYS[1]` token key; `ARGV` version, fingerprint hex, envelope, TTL in milliseconds.
/// Writes unless a live entry has a version at least as large; returns 1 if it wrote.
pub(crate) static PUT_IF_NEWER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('TYPE', KEYS[1]).ok == 'hash' and redis.call('PTTL', KEYS[1]) > 0 then
  local current = tonumber(redis.call('HGET', KEYS[1], 'v'))
  if current and current >= tonumber(ARGV[1]) then return 0 end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'f', ARGV[2], 'e', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
",
    )
});

/// `KEYS[1]` token key; `ARGV[1]` fingerprint hex. Deletes the entry if its fingerprint is
/// that one; returns 1 if it deleted.
pub(crate) static DELETE_IF: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then return 0 end
if redis.call('HGET', KEYS[1], 'f') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
",
    )
});

/// `KEYS[1]` lock key; `ARGV` owner, TTL in milliseconds. Sets the TTL if the owner holds
/// the lock; returns 1 if it did.
pub(crate) static EXTEND_LOCK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
",
    )
});

/// `KEYS[1]` lock key; `ARGV[1]` owner. Deletes the lock if the owner holds it; returns 1 if
/// it did.
pub(crate) static UNLOCK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
",
    )
});
