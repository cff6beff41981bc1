//! The vendor-neutral client: POA tokens, URLs, error bodies, secrets.

use auth_core::ManualClock;
use partner_emulator::Endpoint;
use partner_sdk::{ApiError, AuthenticatedClient, ErrorBody};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::setup;
use podero_auth::SourceConfig as _;

#[tokio::test]
async fn a_poa_token_cache_drives_a_generic_get() {
    let setup = setup().await;
    let credentials = setup.emulator.poa_credentials();
    let tokens = poa_auth::PoaAuth::new(
        setup.emulator.base_url(),
        credentials.client_id.as_str(),
        credentials.client_secret.as_str(),
    )
    .into_cache()
    .unwrap();
    let poa = AuthenticatedClient::builder(setup.emulator.base_url(), tokens)
        .build()
        .unwrap();
    let whoami: serde_json::Value = poa.get_json("/__emulator/poa/whoami").await.unwrap();
    assert_eq!(whoami["client_id"], credentials.client_id.as_str());
    assert_eq!(whoami["scope"], "partner");
    let again: serde_json::Value = poa.get_json("/__emulator/poa/whoami").await.unwrap();
    assert_eq!(again, whoami);
    assert_eq!(setup.emulator.request_count(Endpoint::PoaToken), 1);
}

#[tokio::test]
async fn urls_on_another_origin_are_refused() {
    let setup = setup().await;
    let api = setup.client.api();
    assert!(api.url("/api/x").is_ok());
    assert!(
        api.url(&format!("{}/api/x", setup.emulator.base_url()))
            .is_ok()
    );
    let error = api.url("https://evil.example.com/api/x").unwrap_err();
    assert!(matches!(error, ApiError::Config(_)), "{error:?}");
    assert!(
        AuthenticatedClient::builder(
            "http://api.example.com",
            setup.client.api().tokens().clone()
        )
        .build()
        .is_err(),
        "plain http to a remote host"
    );
}

#[tokio::test]
async fn error_bodies_request_ids_and_no_secrets() {
    let setup = setup().await;
    let clock = ManualClock::at_epoch_2025();
    let tokens = crate::support::auth_for(&setup.emulator, &clock)
        .into_cache()
        .unwrap();
    let token = tokens.token().await.unwrap();
    let secret = token.expose_secret().to_owned();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::path("/json"))
        .respond_with(
            ResponseTemplate::new(409)
                .set_body_json(serde_json::json!({"detail": "conflict"}))
                .insert_header("x-request-id", "req-42"),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::path("/echo"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(serde_json::json!({"detail": format!("bad token {secret}")})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::path("/html"))
        .respond_with(ResponseTemplate::new(500).set_body_raw("<h1>Oops</h1>", "text/html"))
        .mount(&server)
        .await;
    let client = AuthenticatedClient::builder(server.uri(), tokens)
        .build()
        .unwrap();

    let error = client
        .get_json::<serde_json::Value>("/json")
        .await
        .unwrap_err();
    let ApiError::Status(answer) = &error else {
        panic!("{error:?}");
    };
    assert_eq!(
        answer.body(),
        &ErrorBody::Json(serde_json::json!({"detail": "conflict"}))
    );
    assert_eq!(answer.request_id(), Some("req-42"));
    insta::assert_snapshot!(error, @r#"GET /json answered HTTP 409 Conflict: {"detail":"conflict"} (request id req-42)"#);

    let error = client
        .get_json::<serde_json::Value>("/echo")
        .await
        .unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(!text.contains(&secret), "the token leaked: {text}");

    let error = client
        .get_json::<serde_json::Value>("/html")
        .await
        .unwrap_err();
    insta::assert_snapshot!(error, @"GET /html answered HTTP 500 Internal Server Error: <h1>Oops</h1>");
}

#[tokio::test]
async fn from_auth_shares_the_configured_http_client_with_api_calls() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::path("/oauth2/token/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "t0k3n", "expires_in": 36000, "token_type": "Bearer",
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([])))
        .mount(&server)
        .await;
    let http = auth_core::http::client_builder()
        .user_agent("my-service/1.0")
        .build()
        .unwrap();
    let auth = podero_auth::PoderoAuth::new("id", "secret")
        .environment(podero_auth::Environment::Custom(server.uri()))
        .http_client(http);
    let org = partner_sdk::podero::OrgId::new(uuid::Uuid::new_v4());
    let podero = partner_sdk::PoderoClient::from_auth(auth, org).unwrap();
    assert!(podero.users().list().await.unwrap().is_empty());
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    for request in requests {
        assert_eq!(
            request.headers["user-agent"], "my-service/1.0",
            "{}",
            request.url
        );
    }
}
