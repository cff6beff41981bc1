//! Tokens over the life of a session: expiry, revocation, single flight under load, the one
//! refresh a 401 gets, and the middleware doing the same.

use std::sync::Arc;
use std::time::Duration;

use auth_core::{AccessToken, AuthError, Clock, ManualClock, Token, TokenProvider};
use partner_emulator::{Endpoint, Vendor};
use partner_sdk::AuthenticatedClient;
use partner_sdk::podero::{NewUser, Role};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::setup;
use podero_auth::SourceConfig as _;

#[tokio::test]
async fn a_token_expiring_mid_session_is_replaced_transparently() {
    let setup = setup().await;
    setup
        .emulator
        .set_token_lifetime(Vendor::Podero, Duration::from_secs(120));
    let users = setup.client.users();
    users.list().await.unwrap();
    assert_eq!(setup.token_requests(), 1);

    // Both sides see the token expire: the cache fetches before calling, no 401 at all.
    setup.clock.advance(Duration::from_secs(121));
    setup.emulator.advance_time(Duration::from_secs(121));
    users.list().await.unwrap();
    assert_eq!(setup.token_requests(), 2);
    assert_eq!(setup.statuses(Endpoint::ListUsers), [200, 200]);

    // Only the server sees it expire (the client's clock lags): one 401, one refresh.
    setup.emulator.advance_time(Duration::from_secs(121));
    setup.clock.advance(Duration::from_secs(1));
    users.list().await.unwrap();
    assert_eq!(setup.token_requests(), 3);
    assert_eq!(setup.statuses(Endpoint::ListUsers), [200, 200, 401, 200]);
}

#[tokio::test]
async fn revoked_tokens_cost_one_401_and_one_refresh() {
    let setup = setup().await;
    let users = setup.client.users();
    users.list().await.unwrap();
    setup.emulator.revoke_all_tokens();
    users.list().await.unwrap();
    assert_eq!(setup.token_requests(), 2);
    assert_eq!(setup.statuses(Endpoint::ListUsers), [200, 401, 200]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_calls_on_a_cold_client_fetch_one_token() {
    let setup = setup().await;
    let calls: Vec<_> = (0..1_000)
        .map(|_| {
            let client = setup.client.clone();
            tokio::spawn(async move { client.users().list().await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(setup.token_requests(), 1);
    assert_eq!(setup.emulator.request_count(Endpoint::ListUsers), 1_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_401s_for_one_token_fetch_one_new_token() {
    let setup = setup().await;
    let users = setup.client.users();
    let someone = users
        .create(&NewUser::new("someone@example.com", Role::User))
        .await
        .unwrap();
    setup.emulator.revoke_all_tokens();
    let calls: Vec<_> = (0..100)
        .map(|_| {
            let client = setup.client.clone();
            let id = someone.id;
            tokio::spawn(async move { client.users().get(&id).await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap().id, someone.id);
    }
    assert_eq!(
        setup.token_requests(),
        2,
        "one token before, exactly one after the 401s"
    );
    let statuses = setup.statuses(Endpoint::GetUser);
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 100);
    assert!(statuses.iter().filter(|s| **s == 401).count() >= 1);
}

/// A token provider that counts fetches and hands out `token-<n>` with generation n; with
/// `stubborn`, it ignores invalidations (and so keeps handing out the rejected token).
#[derive(Clone, Default)]
struct Counting {
    fetched: Arc<std::sync::atomic::AtomicUsize>,
    cached: Arc<std::sync::Mutex<Option<Token>>>,
    stubborn: bool,
}

impl Counting {
    fn fetched(&self) -> usize {
        self.fetched.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl TokenProvider for Counting {
    async fn token(&self) -> Result<Token, AuthError> {
        let mut cached = self.cached.lock().unwrap();
        if let Some(token) = &*cached {
            return Ok(token.clone());
        }
        let n = self
            .fetched
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        let at = ManualClock::at_epoch_2025().now();
        let token = Token::with_generation(
            Arc::new(AccessToken::bearer(format!("token-{n}"), at).unwrap()),
            n as u64,
        );
        *cached = Some(token.clone());
        Ok(token)
    }

    fn invalidate(&self, rejected: &Token) {
        let mut cached = self.cached.lock().unwrap();
        if !self.stubborn && cached.as_ref().is_some_and(|t| t.is(rejected)) {
            *cached = None;
        }
    }
}

async fn always_401() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/things"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("WWW-Authenticate", "Bearer error=\"invalid_token\""),
        )
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_second_401_is_an_error_not_a_loop() {
    let server = always_401().await;
    let tokens = Counting::default();
    // A token cached before the call, then one for the retry: two requests, never a third.
    tokens.token().await.unwrap();
    let client = AuthenticatedClient::builder(server.uri(), tokens.clone())
        .build()
        .unwrap();
    let error = client
        .get_json::<serde_json::Value>("/things")
        .await
        .unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(401));
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
    assert_eq!(tokens.fetched(), 2);
}

#[tokio::test]
async fn a_401_on_a_token_fetched_for_this_call_gets_the_same_one_refresh() {
    // The rule does not depend on when the token was fetched: a token can be revoked between
    // its fetch and its first use.
    let server = always_401().await;
    let tokens = Counting::default();
    let client = AuthenticatedClient::builder(server.uri(), tokens.clone())
        .build()
        .unwrap();
    let error = client
        .get_json::<serde_json::Value>("/things")
        .await
        .unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(401));
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
    assert_eq!(tokens.fetched(), 2);
}

#[tokio::test]
async fn a_provider_that_hands_back_the_rejected_token_is_not_asked_to_repeat() {
    let server = always_401().await;
    let tokens = Counting {
        stubborn: true,
        ..Counting::default()
    };
    let client = AuthenticatedClient::builder(server.uri(), tokens.clone())
        .build()
        .unwrap();
    let error = client
        .get_json::<serde_json::Value>("/things")
        .await
        .unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(401));
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_revoked_token_gives_the_same_outcome_every_time() {
    // The rule is deterministic: a hundred runs of "revoked before the first call" all refresh
    // once and succeed.
    for _ in 0..100 {
        let setup = setup().await;
        setup.client.api().tokens().token().await.unwrap();
        setup.emulator.revoke_all_tokens();
        let users = setup.client.users().list().await.unwrap();
        assert!(users.is_empty());
        assert_eq!(setup.statuses(Endpoint::ListUsers), [401, 200]);
        assert_eq!(setup.token_requests(), 2);
    }
}

#[tokio::test]
async fn the_middleware_refreshes_once_on_401() {
    use partner_sdk::middleware::BearerAuth;
    let setup = setup().await;
    let tokens = crate::support::auth_for(&setup.emulator, &setup.clock)
        .into_cache()
        .unwrap();
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(BearerAuth::new(tokens.clone(), setup.emulator.base_url()).unwrap())
        .build();
    let url = format!(
        "{}/api/partners/v2.0/org/{}/users",
        setup.emulator.base_url(),
        setup.emulator.org_id()
    );
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    setup.emulator.revoke_all_tokens();
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    assert_eq!(setup.token_requests(), 2);
    assert_eq!(setup.statuses(Endpoint::ListUsers), [200, 401, 200]);
    assert_eq!(tokens.metrics().invalidations, 1);
}

#[tokio::test]
async fn the_middleware_sends_the_token_only_to_its_origins() {
    use partner_sdk::middleware::BearerAuth;
    let elsewhere = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&elsewhere)
        .await;
    let home = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&home)
        .await;
    let tokens = Counting::default();
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(BearerAuth::new(tokens.clone(), &home.uri()).unwrap())
        .build();
    client
        .get(format!("{}/x", home.uri()))
        .send()
        .await
        .unwrap();
    client
        .get(format!("{}/y", elsewhere.uri()))
        .header("authorization", "Bearer smuggled")
        .send()
        .await
        .unwrap();
    let at_home = &home.received_requests().await.unwrap()[0];
    assert_eq!(at_home.headers["authorization"], "Bearer token-1");
    let there = &elsewhere.received_requests().await.unwrap()[0];
    assert!(there.headers.get("authorization").is_none(), "{there:?}");
    // Another origin can be allowed explicitly.
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(
            BearerAuth::new(tokens, &home.uri())
                .unwrap()
                .allow_origin(&elsewhere.uri())
                .unwrap(),
        )
        .build();
    client
        .get(format!("{}/z", elsewhere.uri()))
        .send()
        .await
        .unwrap();
    let there = &elsewhere.received_requests().await.unwrap()[1];
    assert_eq!(there.headers["authorization"], "Bearer token-1");
}
