//! Sessions that outlive a token: revocation through DOT's `/oauth2/revoke_token/` and expiry
//! between two pages of a listing.

use std::time::Duration;

use auth_core::{ManualClock, SharedClock};
use futures_util::TryStreamExt as _;
use partner_sdk::podero::{NewUser, OrgId, Role, User};
use tokio::task::block_in_place;

use crate::support::{Backend, DotServer, Style, Variant};
use crate::{client, current_token, org_with_users};

pub(crate) const JSON_DRF: Variant = Variant::new(Backend::Json, Style::Drf);
pub(crate) const JSON_PROTECTED: Variant = Variant::new(Backend::Json, Style::Protected);
pub(crate) const SHORT_SECONDS: u32 = 5;

#[tokio::test(flavor = "multi_thread")]
async fn a_token_revoked_mid_session_costs_one_401_and_one_refresh() {
    let server = DotServer::shared(JSON_DRF);
    let credentials = server.new_client();
    let (podero, cache) = client(server, &credentials, OrgId::new(uuid::Uuid::new_v4()), None);
    let users = podero.users();
    let created = users
        .create(&NewUser::new("revoked@example.com", Role::User))
        .await
        .unwrap();
    let revoked = current_token(&podero).await;
    block_in_place(|| server.revoke(&revoked, &credentials));
    assert_eq!(block_in_place(|| server.status_with_token(&revoked)), 401);

    // The cached token is stale now: DRF's 401 invalidates it, one new token, one repeat.
    let listed = users.list().await.unwrap();
    assert_eq!(listed, [created]);
    assert_ne!(current_token(&podero).await, revoked);
    let tokens = block_in_place(|| server.tokens_of(&credentials.client_id));
    assert_eq!(tokens.len(), 2, "{tokens:?}");
    let metrics = cache.metrics();
    assert_eq!((metrics.fetches, metrics.invalidations), (2, 1));
}

/// What a listing across an expiry saw.
pub(crate) struct Listing {
    pub(crate) created: Vec<User>,
    pub(crate) listed: Vec<User>,
    /// Tokens DOT issued to the listing client.
    pub(crate) issued: usize,
    /// Tokens the listing client's cache dropped after a rejection.
    pub(crate) invalidations: u64,
}

/// Lists five users, two per page; between the first page and the rest, DOT lets the token
/// expire (the test polls DOT until it rejects the token). `clock`: the client's clock.
pub(crate) async fn list_across_expiry(variant: Variant, clock: Option<SharedClock>) -> Listing {
    let server = DotServer::shared(variant);
    let (org, created) = org_with_users(server, 5).await;
    let credentials = server.new_client();
    let (podero, cache) = client(server, &credentials, org, clock);
    let users = podero.users();
    let stream = users.list_stream();
    futures_util::pin_mut!(stream);
    let mut listed = Vec::new();
    for _ in 0..2 {
        listed.push(stream.try_next().await.unwrap().unwrap());
    }
    let first = current_token(&podero).await;
    block_in_place(|| server.wait_until_rejected(&first, Duration::from_secs(30)));
    while let Some(user) = stream.try_next().await.unwrap() {
        listed.push(user);
    }
    Listing {
        created,
        listed,
        issued: block_in_place(|| server.tokens_of(&credentials.client_id)).len(),
        invalidations: cache.metrics().invalidations,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_across_an_expiry_the_client_foresees_need_no_401() {
    // The client's clock runs with DOT's: the cache knows the token is due and fetches a new
    // one before the next page, so DRF never sees the dead token.
    let listing = list_across_expiry(JSON_DRF.token_seconds(SHORT_SECONDS), None).await;
    assert_eq!(listing.listed, listing.created, "every user once, in order");
    assert_eq!((listing.issued, listing.invalidations), (2, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_across_an_expiry_the_client_foresees_need_no_403_either() {
    // The same on DOT's own protected views, which would answer a bare 403.
    let listing = list_across_expiry(JSON_PROTECTED.token_seconds(SHORT_SECONDS), None).await;
    assert_eq!(listing.listed, listing.created, "every user once, in order");
    assert_eq!((listing.issued, listing.invalidations), (2, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_across_an_expiry_the_client_misses_cost_one_401_and_one_refresh() {
    // The client's clock stands still (a client whose clock lags DOT's): it believes the token
    // fresh, DRF answers the next page with 401, the SDK refreshes once and repeats the page.
    let clock = SharedClock::new(ManualClock::at_epoch_2025());
    let listing = list_across_expiry(JSON_DRF.token_seconds(SHORT_SECONDS), Some(clock)).await;
    assert_eq!(listing.listed, listing.created, "every user once, in order");
    assert_eq!((listing.issued, listing.invalidations), (2, 1));
}
