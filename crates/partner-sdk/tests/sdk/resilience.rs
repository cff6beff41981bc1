//! Transient failures: what is retried, what never is, and how long the client waits.

use std::time::Duration;

use auth_core::{ManualClock, TransportKind};
use partner_emulator::{Endpoint, Fault};
use partner_sdk::podero::{NewUser, Role};
use partner_sdk::{ApiError, AuthenticatedClient};

use crate::support::setup;
use podero_auth::SourceConfig as _;

#[tokio::test]
async fn a_get_succeeds_after_503_503_200() {
    let setup = setup().await;
    let users = setup.client.users();
    let user = users
        .create(&NewUser::new("retry@example.com", Role::User))
        .await
        .unwrap();
    setup
        .emulator
        .inject_fault(Endpoint::GetUser, Fault::status(503).times(2));
    assert_eq!(users.get(&user.id).await.unwrap().id, user.id);
    assert_eq!(setup.statuses(Endpoint::GetUser), [503, 503, 200]);
    assert!(
        setup.clock.slept() > Duration::ZERO,
        "backoff waits go through the clock"
    );
}

#[tokio::test]
async fn a_post_answered_503_is_not_repeated() {
    let setup = setup().await;
    let users = setup.client.users();
    setup
        .emulator
        .inject_fault(Endpoint::CreateUser, Fault::status(503));
    let error = users
        .create(&NewUser::new("once@example.com", Role::User))
        .await
        .unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(setup.statuses(Endpoint::CreateUser), [503]);
    assert!(
        users.list().await.unwrap().is_empty(),
        "no user may be created twice"
    );
}

#[tokio::test]
async fn a_post_whose_connection_broke_is_not_repeated() {
    let setup = setup().await;
    let users = setup.client.users();
    setup
        .emulator
        .inject_fault(Endpoint::CreateUser, Fault::close_connection());
    let error = users
        .create(&NewUser::new("once@example.com", Role::User))
        .await
        .unwrap_err();
    assert!(matches!(error, ApiError::Transport { .. }), "{error:?}");
    assert_eq!(setup.emulator.request_count(Endpoint::CreateUser), 1);
}

#[tokio::test]
async fn a_get_whose_connection_broke_is_repeated() {
    let setup = setup().await;
    setup
        .emulator
        .inject_fault(Endpoint::ListUsers, Fault::close_connection());
    setup.client.users().list().await.unwrap();
    assert_eq!(setup.emulator.request_count(Endpoint::ListUsers), 2);
}

#[tokio::test]
async fn retry_after_is_waited_for_even_on_a_post() {
    let setup = setup().await;
    setup
        .emulator
        .inject_fault(Endpoint::CreateUser, Fault::status(429).retry_after(1));
    setup
        .client
        .users()
        .create(&NewUser::new("patient@example.com", Role::User))
        .await
        .unwrap();
    // 429 means "not processed": safe to repeat even a POST, after the asked-for second.
    assert_eq!(setup.statuses(Endpoint::CreateUser), [429, 201]);
    assert_eq!(setup.clock.slept(), Duration::from_secs(1));
    assert_eq!(setup.client.users().list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_refused_connection_is_retried_even_for_a_post() {
    // Bound, not listening: connections are refused, and no other test takes the port.
    let refusing = tokio::net::TcpSocket::new_v4().unwrap();
    refusing.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = refusing.local_addr().unwrap();
    let setup = setup().await;
    let clock = ManualClock::at_epoch_2025();
    let tokens = crate::support::auth_for(&setup.emulator, &clock)
        .into_cache()
        .unwrap();
    let client = AuthenticatedClient::builder(format!("http://{addr}"), tokens)
        .build()
        .unwrap();
    let error = client
        .post_json::<_, serde_json::Value>("/things", &serde_json::json!({"a": 1}))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ApiError::Transport {
                kind: TransportKind::Connect,
                ..
            }
        ),
        "{error:?}"
    );
    // It was retried (the request provably never left): two backoff waits for three attempts.
    assert!(clock.slept() > Duration::ZERO);
}
