//! The tokens the emulator has issued and still honours: issuing, checking, revoking, and
//! pruning so that the map stays bounded however many tokens a benchmark asks for.
//!
//! Times here are on the emulator's clock (see `state.rs`); this module never reads a clock
//! itself, so callers pass `now`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::types::Vendor;

/// Below this many stored tokens nothing is pruned.
const PRUNE_FLOOR: usize = 1_024;

/// The most tokens remembered. Beyond it the oldest are forgotten (and then rejected as
/// unknown), which only a benchmark hammering a token endpoint with long lifetimes reaches.
pub(crate) const MAX_TOKENS: usize = 100_000;

/// What is remembered about an issued token.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Issued {
    pub(crate) vendor: Vendor,
    /// When the server stops honouring it.
    pub(crate) expires_at: DateTime<Utc>,
    /// The JWT `exp` claim (POA) or the same instant in seconds (Podero).
    pub(crate) exp: i64,
    /// Issue order, used to forget the oldest tokens first.
    serial: u64,
}

#[derive(Debug)]
pub(crate) struct TokenStore {
    tokens: HashMap<String, Issued>,
    next_serial: u64,
    /// The size at which the next prune runs; doubling it after each prune keeps pruning
    /// amortised O(1) per issued token.
    prune_at: usize,
}

impl Default for TokenStore {
    fn default() -> Self {
        Self {
            tokens: HashMap::new(),
            next_serial: 0,
            prune_at: PRUNE_FLOOR,
        }
    }
}

impl TokenStore {
    pub(crate) fn issue(
        &mut self,
        token: String,
        vendor: Vendor,
        expires_at: DateTime<Utc>,
        exp: i64,
        now: DateTime<Utc>,
    ) {
        if self.tokens.len() >= self.prune_at {
            self.prune(now);
        }
        let serial = self.next_serial;
        self.next_serial += 1;
        self.tokens.insert(
            token,
            Issued {
                vendor,
                expires_at,
                exp,
                serial,
            },
        );
    }

    /// The token, if it is known, of `vendor`, and unexpired at `now`.
    pub(crate) fn check(&self, token: &str, vendor: Vendor, now: DateTime<Utc>) -> Option<Issued> {
        self.tokens
            .get(token)
            .filter(|issued| issued.vendor == vendor && now < issued.expires_at)
            .copied()
    }

    /// Forgets every token: all of them are rejected from now on.
    pub(crate) fn revoke_all(&mut self) {
        self.tokens.clear();
        self.prune_at = PRUNE_FLOOR;
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Drops expired tokens, then, above [`MAX_TOKENS`], the oldest ones down to three
    /// quarters of it, so that the next forced eviction is far away again.
    fn prune(&mut self, now: DateTime<Utc>) {
        self.tokens.retain(|_, issued| now < issued.expires_at);
        if self.tokens.len() > MAX_TOKENS {
            let keep = MAX_TOKENS / 4 * 3;
            let mut serials: Vec<u64> = self.tokens.values().map(|issued| issued.serial).collect();
            let cut = serials.len() - keep;
            let (_, oldest_kept, _) = serials.select_nth_unstable(cut);
            let oldest_kept = *oldest_kept;
            self.tokens.retain(|_, issued| issued.serial >= oldest_kept);
            tracing::debug!(
                kept = self.tokens.len(),
                "emulator: token limit reached, forgot the oldest tokens"
            );
        }
        self.prune_at = (self.tokens.len() * 2).clamp(PRUNE_FLOOR, MAX_TOKENS + 1);
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    #[test]
    fn expired_tokens_are_pruned_and_the_store_stays_bounded() {
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let mut store = TokenStore::default();
        // Short-lived tokens: pruned once they expire.
        for n in 0..PRUNE_FLOOR {
            store.issue(format!("old{n}"), Vendor::Podero, now, 0, now);
        }
        store.issue(
            "fresh".into(),
            Vendor::Podero,
            now + TimeDelta::hours(1),
            0,
            now,
        );
        assert_eq!(store.len(), 1);
        assert!(store.check("fresh", Vendor::Podero, now).is_some());
        assert!(store.check("fresh", Vendor::Poa, now).is_none());

        // Long-lived tokens: bounded by MAX_TOKENS, newest kept.
        let later = now + TimeDelta::days(1);
        for n in 0..(MAX_TOKENS + 10) {
            store.issue(format!("t{n}"), Vendor::Poa, later, 0, now);
            assert!(store.len() <= MAX_TOKENS + 1);
        }
        assert!(
            store
                .check(&format!("t{}", MAX_TOKENS + 9), Vendor::Poa, now)
                .is_some()
        );
        assert!(store.check("t0", Vendor::Poa, now).is_none());
    }
}
