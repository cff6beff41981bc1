//! The tokens the emulator has issued and still honours: issuing, checking, revoking (all of
//! them, or one client's earlier ones), and pruning so that the map stays bounded however many
//! tokens a benchmark asks for.
//!
//! Times here are on the emulator's clock (see `state.rs`); this module never reads a clock
//! itself, so callers pass `now`.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::types::Vendor;

/// Below this many stored tokens nothing is pruned.
const PRUNE_FLOOR: usize = 1_024;

/// The most tokens remembered. Beyond it the oldest are forgotten (and then rejected as
/// unknown), which only a benchmark hammering a token endpoint with long lifetimes reaches.
pub(crate) const MAX_TOKENS: usize = 100_000;

/// What is remembered about an issued token.
#[derive(Clone, Debug)]
pub(crate) struct Issued {
    pub(crate) vendor: Vendor,
    /// The client it was issued to.
    pub(crate) client_id: Arc<str>,
    /// When the server stops honouring it.
    pub(crate) expires_at: DateTime<Utc>,
    /// The JWT `exp` claim (POA) or the same instant in seconds (Podero).
    pub(crate) exp: i64,
    /// Issue order, used to forget the oldest tokens first.
    serial: u64,
}

/// A token to remember.
#[derive(Clone, Debug)]
pub(crate) struct NewToken {
    pub(crate) token: String,
    pub(crate) vendor: Vendor,
    /// The client it is issued to.
    pub(crate) client_id: Arc<str>,
    /// When the server stops honouring it.
    pub(crate) expires_at: DateTime<Utc>,
    /// The JWT `exp` claim (POA) or the same instant in seconds (Podero).
    pub(crate) exp: i64,
}

/// What the store knows about a presented token.
#[derive(Clone, Debug)]
pub(crate) enum Lookup {
    /// Known, of the vendor asked about, unexpired and unrevoked.
    Valid(Issued),
    /// Known and of that vendor, but past its expiry.
    Expired,
    /// Never issued, revoked, forgotten, or another vendor's.
    Unknown,
}

#[derive(Debug)]
pub(crate) struct TokenStore {
    tokens: HashMap<String, Issued>,
    /// Per vendor and client, the serial below which tokens count as revoked (set when a new
    /// token replaces the earlier ones).
    revoked_below: HashMap<(Vendor, Arc<str>), u64>,
    next_serial: u64,
    /// The size at which the next prune runs; doubling it after each prune keeps pruning
    /// amortised O(1) per issued token.
    prune_at: usize,
}

impl Default for TokenStore {
    fn default() -> Self {
        Self {
            tokens: HashMap::new(),
            revoked_below: HashMap::new(),
            next_serial: 0,
            prune_at: PRUNE_FLOOR,
        }
    }
}

impl TokenStore {
    /// Remembers a new token. With `revoke_earlier`, every token issued before to the same
    /// client of the same vendor is rejected from now on.
    pub(crate) fn issue(&mut self, new: NewToken, now: DateTime<Utc>, revoke_earlier: bool) {
        let NewToken {
            token,
            vendor,
            client_id,
            expires_at,
            exp,
        } = new;
        if self.tokens.len() >= self.prune_at {
            self.prune(now);
        }
        let serial = self.next_serial;
        self.next_serial += 1;
        if revoke_earlier {
            self.revoked_below
                .insert((vendor, Arc::clone(&client_id)), serial);
        }
        self.tokens.insert(
            token,
            Issued {
                vendor,
                client_id,
                expires_at,
                exp,
                serial,
            },
        );
    }

    /// What the store knows about `token` as a token of `vendor` at `now`.
    pub(crate) fn lookup(&self, token: &str, vendor: Vendor, now: DateTime<Utc>) -> Lookup {
        match self.tokens.get(token) {
            Some(issued) if issued.vendor == vendor && !self.revoked(issued) => {
                if now < issued.expires_at {
                    Lookup::Valid(issued.clone())
                } else {
                    Lookup::Expired
                }
            }
            _ => Lookup::Unknown,
        }
    }

    /// The token, if it is known, of `vendor`, unrevoked and unexpired at `now`.
    pub(crate) fn check(&self, token: &str, vendor: Vendor, now: DateTime<Utc>) -> Option<Issued> {
        match self.lookup(token, vendor, now) {
            Lookup::Valid(issued) => Some(issued),
            Lookup::Expired | Lookup::Unknown => None,
        }
    }

    /// Whether a newer token of the same client replaced this one.
    fn revoked(&self, issued: &Issued) -> bool {
        self.revoked_below
            .get(&(issued.vendor, Arc::clone(&issued.client_id)))
            .is_some_and(|below| issued.serial < *below)
    }

    /// Every token remembered, in no particular order.
    pub(crate) fn all(&self) -> Vec<String> {
        self.tokens.keys().cloned().collect()
    }

    /// Forgets every token: all of them are rejected from now on.
    pub(crate) fn revoke_all(&mut self) {
        self.tokens.clear();
        self.revoked_below.clear();
        self.prune_at = PRUNE_FLOOR;
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Drops expired tokens, then, above [`MAX_TOKENS`], the oldest ones down to three
    /// quarters of it, so that the next forced eviction is far away again.
    fn prune(&mut self, now: DateTime<Utc>) {
        let revoked_below = std::mem::take(&mut self.revoked_below);
        self.tokens.retain(|_, issued| {
            let replaced = revoked_below
                .get(&(issued.vendor, Arc::clone(&issued.client_id)))
                .is_some_and(|below| issued.serial < *below);
            now < issued.expires_at && !replaced
        });
        self.revoked_below = revoked_below;
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

    fn client() -> Arc<str> {
        Arc::from("client")
    }

    fn new(
        token: impl Into<String>,
        vendor: Vendor,
        client_id: Arc<str>,
        expires_at: DateTime<Utc>,
    ) -> NewToken {
        NewToken {
            token: token.into(),
            vendor,
            client_id,
            expires_at,
            exp: 0,
        }
    }

    #[test]
    fn a_new_token_can_replace_the_same_clients_earlier_ones() {
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let later = now + TimeDelta::hours(1);
        let mut store = TokenStore::default();
        let other: Arc<str> = Arc::from("other");
        store.issue(new("a1", Vendor::Poa, client(), later), now, false);
        store.issue(
            new("b1", Vendor::Poa, Arc::clone(&other), later),
            now,
            false,
        );
        store.issue(new("p1", Vendor::Podero, client(), later), now, false);
        store.issue(new("a2", Vendor::Poa, client(), later), now, true);
        assert!(matches!(
            store.lookup("a1", Vendor::Poa, now),
            Lookup::Unknown
        ));
        assert!(store.check("a2", Vendor::Poa, now).is_some());
        assert!(
            store.check("b1", Vendor::Poa, now).is_some(),
            "another client"
        );
        assert!(
            store.check("p1", Vendor::Podero, now).is_some(),
            "another vendor"
        );
        assert!(matches!(
            store.lookup("a2", Vendor::Poa, later),
            Lookup::Expired
        ));
        assert!(matches!(
            store.lookup("a2", Vendor::Podero, now),
            Lookup::Unknown
        ));
        store.prune(now);
        assert_eq!(store.len(), 3);
    }

    #[test]
    fn expired_tokens_are_pruned_and_the_store_stays_bounded() {
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let mut store = TokenStore::default();
        // Short-lived tokens: pruned once they expire.
        for n in 0..PRUNE_FLOOR {
            store.issue(
                new(format!("old{n}"), Vendor::Podero, client(), now),
                now,
                false,
            );
        }
        store.issue(
            new("fresh", Vendor::Podero, client(), now + TimeDelta::hours(1)),
            now,
            false,
        );
        assert_eq!(store.len(), 1);
        assert!(store.check("fresh", Vendor::Podero, now).is_some());
        assert!(store.check("fresh", Vendor::Poa, now).is_none());

        // Long-lived tokens: bounded by MAX_TOKENS, newest kept.
        let later = now + TimeDelta::days(1);
        for n in 0..(MAX_TOKENS + 10) {
            store.issue(
                new(format!("t{n}"), Vendor::Poa, client(), later),
                now,
                false,
            );
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
