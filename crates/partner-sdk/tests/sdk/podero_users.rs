//! The typed users API: CRUD, validation errors, unknown org, pagination.

use partner_emulator::{Endpoint, ListFormat};
use partner_sdk::podero::{NewUser, OrgId, Role, UserUpdate};
use partner_sdk::{ApiError, ErrorBody};

use crate::support::{client_for, setup};
use podero_auth::SourceConfig as _;

#[tokio::test]
async fn full_crud_round_trip() {
    let setup = setup().await;
    let users = setup.client.users();
    assert!(users.list().await.unwrap().is_empty());

    let created = users
        .create(
            &NewUser::new("jane@example.com", Role::Staff)
                .first_name("Jane")
                .last_name("Doe")
                .zip_code("01067")
                .country("DE")
                .external_user_id("customer_12345"),
        )
        .await
        .unwrap();
    assert_eq!(created.email, "jane@example.com");
    assert_eq!(created.role, Role::Staff);
    assert_eq!(created.zip_code.as_deref(), Some("01067"));
    assert_eq!(created.country.as_deref(), Some("DE"));
    assert_eq!(created.town, None);

    let fetched = users.get(&created.id).await.unwrap();
    assert_eq!(fetched, created);

    let updated = users
        .update(
            &created.id,
            &UserUpdate::new().town("Dresden").role(Role::Admin),
        )
        .await
        .unwrap();
    assert_eq!(updated.town.as_deref(), Some("Dresden"));
    assert_eq!(updated.role, Role::Admin);
    // Fields not in the update are unchanged.
    assert_eq!(updated.first_name.as_deref(), Some("Jane"));
    assert_eq!(updated.zip_code.as_deref(), Some("01067"));

    let listed = users.list().await.unwrap();
    assert_eq!(listed, vec![updated.clone()]);

    users.delete(&created.id).await.unwrap();
    let gone = users.get(&created.id).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone:?}");
    assert!(users.list().await.unwrap().is_empty());
    // One token served the whole session.
    assert_eq!(setup.token_requests(), 1);
}

#[tokio::test]
async fn validation_errors_carry_the_field_messages() {
    let setup = setup().await;
    let error = setup
        .client
        .users()
        .create(&NewUser::new("not-an-email", Role::User))
        .await
        .unwrap_err();
    let ApiError::Status(answer) = &error else {
        panic!("{error:?}");
    };
    assert_eq!(answer.status().as_u16(), 400);
    let ErrorBody::Json(body) = answer.body() else {
        panic!("{answer:?}");
    };
    assert!(body.get("email").is_some(), "{body}");
    // Not retried: a 400 is final.
    assert_eq!(setup.emulator.request_count(Endpoint::CreateUser), 1);
}

#[tokio::test]
async fn an_unknown_org_is_a_typed_404() {
    let setup = setup().await;
    let stranger = client_for(
        &setup.emulator,
        &setup.clock,
        OrgId::new(uuid::Uuid::new_v4()),
    );
    let error = stranger.users().list().await.unwrap_err();
    assert!(error.is_not_found(), "{error:?}");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(404));
    assert!(
        error.to_string().starts_with("GET /api/partners/v2.0/org/"),
        "{error}"
    );
}

#[tokio::test]
async fn paginated_envelopes_are_followed_to_the_end() {
    let setup = setup().await;
    let users = setup.client.users();
    for n in 0..5 {
        users
            .create(&NewUser::new(format!("user{n}@example.com"), Role::User))
            .await
            .unwrap();
    }
    for format in [
        ListFormat::Results { page_size: 2 },
        ListFormat::Items { page_size: 2 },
        ListFormat::BareArray,
    ] {
        setup.emulator.set_list_format(format.clone());
        let before = setup.emulator.request_count(Endpoint::ListUsers);
        let listed = users.list().await.unwrap();
        let emails: Vec<_> = listed.iter().map(|u| u.email.as_str()).collect();
        assert_eq!(
            emails,
            [
                "user0@example.com",
                "user1@example.com",
                "user2@example.com",
                "user3@example.com",
                "user4@example.com"
            ],
            "{format:?}"
        );
        let pages = setup.emulator.request_count(Endpoint::ListUsers) - before;
        let expected_pages = if matches!(format, ListFormat::BareArray) {
            1
        } else {
            3
        };
        assert_eq!(pages, expected_pages, "{format:?}");
    }
}

#[tokio::test]
async fn list_stream_yields_users_page_by_page() {
    use futures_util::TryStreamExt as _;
    let setup = setup().await;
    let users = setup.client.users();
    for n in 0..3 {
        users
            .create(&NewUser::new(format!("s{n}@example.com"), Role::User))
            .await
            .unwrap();
    }
    setup
        .emulator
        .set_list_format(ListFormat::Results { page_size: 1 });
    let streamed: Vec<_> = users.list_stream().try_collect().await.unwrap();
    assert_eq!(streamed.len(), 3);
}

#[tokio::test]
async fn a_client_from_a_token_cache_and_an_org_id() {
    let setup = setup().await;
    let tokens = crate::support::auth_for(&setup.emulator, &setup.clock)
        .into_cache()
        .unwrap();
    let client = partner_sdk::PoderoClient::with_tokens(
        tokens,
        setup.emulator.base_url(),
        OrgId::new(setup.emulator.org_id()),
    )
    .unwrap();
    assert!(client.users().list().await.unwrap().is_empty());
    assert!(
        partner_sdk::PoderoClient::with_tokens(
            client.api().tokens().clone(),
            "http://podero.example.com",
            client.org_id()
        )
        .is_err()
    );
}
