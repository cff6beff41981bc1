//! The rule for bare 403s on stale tokens: DOT's `ProtectedResourceView` answers a revoked or
//! expired token with a bare 403 (empty body, no `WWW-Authenticate`), and the Podero client
//! gives it the one refresh and retry a 401 gets.

use auth_core::{ManualClock, SharedClock};
use partner_sdk::podero::{NewUser, OrgId, Role};
use tokio::task::block_in_place;

use crate::session::{JSON_PROTECTED, SHORT_SECONDS, list_across_expiry};
use crate::support::DotServer;
use crate::{client, current_token};

#[tokio::test(flavor = "multi_thread")]
async fn a_bare_403_on_a_token_revoked_mid_session_gets_one_refresh() {
    let server = DotServer::shared(JSON_PROTECTED);
    let credentials = server.new_client();
    let (podero, cache) = client(server, &credentials, OrgId::new(uuid::Uuid::new_v4()), None);
    let users = podero.users();
    let created = users
        .create(&NewUser::new("revoked@example.com", Role::User))
        .await
        .unwrap();
    let revoked = current_token(&podero).await;
    block_in_place(|| server.revoke(&revoked, &credentials));
    assert_eq!(block_in_place(|| server.status_with_token(&revoked)), 403);

    let listed = users.list().await.unwrap();
    assert_eq!(listed, [created]);
    let tokens = block_in_place(|| server.tokens_of(&credentials.client_id));
    assert_eq!(tokens.len(), 2, "{tokens:?}");
    let metrics = cache.metrics();
    assert_eq!((metrics.fetches, metrics.invalidations), (2, 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_across_an_expiry_the_client_misses_get_one_refresh_on_a_bare_403() {
    let clock = SharedClock::new(ManualClock::at_epoch_2025());
    let listing =
        list_across_expiry(JSON_PROTECTED.token_seconds(SHORT_SECONDS), Some(clock)).await;
    assert_eq!(listing.listed, listing.created, "every user once, in order");
    assert_eq!((listing.issued, listing.invalidations), (2, 1));
}
