//! partner-sdk against a real django-oauth-toolkit (DOT 3.4.1, `interop/dot`): what the CLI,
//! which fetches a token per invocation, cannot show. A token revoked during a session, and a
//! listing whose pages straddle a token's expiry.
//!
//! The server support is the CLI interop suite's (`crates/partner-cli/tests/interop/support.rs`,
//! included below). These tests use the SDK as users do (`PoderoClient::with_tokens` over a
//! `podero-auth` cache, `users().list_stream()`).
//!
//! `pending.rs` holds the tests of the rule for bare 403s on stale tokens.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../partner-cli/tests/interop/support.rs"]
mod support;

mod session;

mod forbidden;

use auth_core::SharedClock;
use partner_sdk::PoderoClient;
use partner_sdk::podero::{NewUser, OrgId, Role, User};
use podero_auth::{Environment, PoderoAuth, PoderoTokenCache, SourceConfig as _};

use support::{Credentials, DotServer};

/// A Podero client for `credentials` at `server`, for the organisation `org`, on `clock` (the
/// system clock if `None`), and its token cache (for its counters).
pub(crate) fn client(
    server: &DotServer,
    credentials: &Credentials,
    org: OrgId,
    clock: Option<SharedClock>,
) -> (PoderoClient, PoderoTokenCache) {
    let mut auth = PoderoAuth::new(
        credentials.client_id.as_str(),
        credentials.client_secret.as_str(),
    )
    .environment(Environment::Custom(server.base_url().to_owned()));
    if let Some(clock) = clock {
        auth = auth.clock(clock);
    }
    let cache = auth.into_cache().unwrap();
    let podero = PoderoClient::with_tokens(cache.clone(), server.base_url(), org).unwrap();
    (podero, cache)
}

/// A fresh organisation with `count` users, created by an application of its own (so the
/// tokens of the client under test are only its own).
pub(crate) async fn org_with_users(server: &DotServer, count: usize) -> (OrgId, Vec<User>) {
    let org = OrgId::new(uuid::Uuid::new_v4());
    let (creator, _) = client(server, &server.new_client(), org, None);
    let mut users = Vec::new();
    for n in 0..count {
        let user = creator
            .users()
            .create(&NewUser::new(format!("user{n}@example.com"), Role::User))
            .await
            .unwrap();
        users.push(user);
    }
    (org, users)
}

/// The access token `client`'s cache holds now.
pub(crate) async fn current_token(client: &PoderoClient) -> String {
    client
        .api()
        .tokens()
        .token()
        .await
        .unwrap()
        .expose_secret()
        .to_owned()
}
