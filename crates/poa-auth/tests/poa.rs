//! poa-auth over real HTTP on loopback (wiremock): the documented form request byte for byte,
//! the configurable token path, Keycloak responses and errors, JWT-aware expiry, environment
//! loading, and that no error ever carries the secret.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::ffi::OsString;
use std::time::Duration;

use auth_core::{
    AuthError, Clock, ConfigError, ManualClock, OAuthErrorCode, RetryPolicy, TokenSource,
};
use base64::Engine as _;
use chrono::TimeDelta;
use poa_auth::{PoaAuth, SourceConfig as _};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const AWKWARD: &str = "a b:c+d/e=f%&é";
const AWKWARD_ENCODED: &str = "a+b%3Ac%2Bd%2Fe%3Df%25%26%C3%A9";
const SECRET: &str = "poa-secret-0815";

fn jwt(exp: i64) -> String {
    let encode = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    format!(
        "{}.{}.{}",
        encode(r#"{"alg":"RS256","typ":"JWT","kid":"k1"}"#),
        encode(&format!(
            r#"{{"exp":{exp},"iat":{},"scope":"partner"}}"#,
            exp - 1800
        )),
        encode("not-a-real-signature")
    )
}

fn keycloak_response(access_token: &str) -> serde_json::Value {
    serde_json::json!({
        "access_token": access_token,
        "expires_in": 1800,
        "refresh_expires_in": 0,
        "token_type": "Bearer",
        "not-before-policy": 0,
        "scope": "partner",
    })
}

async fn server_answering(token_path: &str, response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(token_path))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

fn auth(server: &MockServer, id: &str, secret: &str, clock: &ManualClock) -> PoaAuth {
    PoaAuth::new(server.uri(), id, secret).clock(clock.clone())
}

async fn only_request(server: &MockServer) -> Request {
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    requests.into_iter().next().unwrap()
}

fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn sends_the_documented_form_request_byte_for_byte() {
    let clock = ManualClock::at_epoch_2025();
    let server = server_answering(
        "/v2/auth/cybrillarta/token",
        ResponseTemplate::new(200).set_body_json(keycloak_response(&jwt(1_735_691_400))),
    )
    .await;
    auth(&server, AWKWARD, AWKWARD, &clock)
        .into_source()
        .unwrap()
        .fetch_token()
        .await
        .unwrap();
    let request = only_request(&server).await;
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), "/v2/auth/cybrillarta/token");
    assert_eq!(header(&request, "authorization"), None);
    assert_eq!(
        header(&request, "content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(header(&request, "accept"), Some("application/json"));
    assert_eq!(
        String::from_utf8(request.body).unwrap(),
        format!(
            "client_id={AWKWARD_ENCODED}&client_secret={AWKWARD_ENCODED}&grant_type=client_credentials"
        )
    );
}

#[tokio::test]
async fn the_token_path_is_configurable() {
    let clock = ManualClock::at_epoch_2025();
    let server = server_answering(
        "/poa/auth/token",
        ResponseTemplate::new(200).set_body_json(keycloak_response("opaque")),
    )
    .await;
    auth(&server, "id", "secret", &clock)
        .token_path(poa_auth::SAMPLE_TOKEN_PATH)
        .into_source()
        .unwrap()
        .fetch_token()
        .await
        .unwrap();
    assert_eq!(only_request(&server).await.url.path(), "/poa/auth/token");
}

#[tokio::test]
async fn keycloak_fields_are_kept_and_reachable() {
    let clock = ManualClock::at_epoch_2025();
    let server = server_answering(
        poa_auth::DEFAULT_TOKEN_PATH,
        ResponseTemplate::new(200).set_body_json(keycloak_response("opaque")),
    )
    .await;
    let token = auth(&server, "id", "secret", &clock)
        .into_source()
        .unwrap()
        .fetch_token()
        .await
        .unwrap();
    assert_eq!(token.extra()["refresh_expires_in"], 0);
    assert_eq!(token.extra()["not-before-policy"], 0);
    assert!(token.scopes().contains("partner"));
    // Not a JWT: expires_in decides.
    assert_eq!(
        token.expires_at(),
        Some(clock.now() + TimeDelta::seconds(1800))
    );
}

#[tokio::test]
async fn a_jwt_exp_earlier_than_expires_in_wins() {
    let clock = ManualClock::at_epoch_2025();
    let exp = clock.now().timestamp() + 600;
    let server = server_answering(
        poa_auth::DEFAULT_TOKEN_PATH,
        ResponseTemplate::new(200).set_body_json(keycloak_response(&jwt(exp))),
    )
    .await;
    let token = auth(&server, "id", "secret", &clock)
        .into_source()
        .unwrap()
        .fetch_token()
        .await
        .unwrap();
    assert_eq!(token.expires_at().unwrap().timestamp(), exp);
}

#[tokio::test]
async fn a_jwt_exp_later_than_expires_in_does_not_extend_the_token() {
    let clock = ManualClock::at_epoch_2025();
    let server = server_answering(
        poa_auth::DEFAULT_TOKEN_PATH,
        ResponseTemplate::new(200)
            .set_body_json(keycloak_response(&jwt(clock.now().timestamp() + 7200))),
    )
    .await;
    let token = auth(&server, "id", "secret", &clock)
        .into_source()
        .unwrap()
        .fetch_token()
        .await
        .unwrap();
    assert_eq!(
        token.expires_at(),
        Some(clock.now() + TimeDelta::seconds(1800))
    );
}

#[tokio::test]
async fn the_cache_refreshes_by_the_jwt_exp() {
    let clock = ManualClock::at_epoch_2025();
    let exp = clock.now().timestamp() + 600;
    let server = server_answering(
        poa_auth::DEFAULT_TOKEN_PATH,
        ResponseTemplate::new(200).set_body_json(keycloak_response(&jwt(exp))),
    )
    .await;
    let cache = auth(&server, "id", "secret", &clock)
        .into_cache_builder()
        .unwrap()
        .refresh_ahead(0.0)
        .build();
    cache.token().await.unwrap();
    // 600 s lifetime, 60 s margin: refreshed from 540 s on, although expires_in said 1800.
    clock.advance(Duration::from_secs(539));
    cache.token().await.unwrap();
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    clock.advance(Duration::from_secs(1));
    cache.token().await.unwrap();
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn keycloak_errors_map_to_rejected_credentials() {
    for status in [400, 401] {
        let clock = ManualClock::at_epoch_2025();
        let server = server_answering(
            poa_auth::DEFAULT_TOKEN_PATH,
            ResponseTemplate::new(status).set_body_json(serde_json::json!({
                "error": "unauthorized_client",
                "error_description": "Invalid client or Invalid client credentials",
            })),
        )
        .await;
        let error = auth(&server, "id", "wrong", &clock)
            .into_source()
            .unwrap()
            .fetch_token()
            .await
            .unwrap_err();
        let AuthError::RejectedCredentials {
            error: Some(oauth), ..
        } = &error
        else {
            panic!("{error:?}");
        };
        assert_eq!(oauth.error, OAuthErrorCode::UnauthorizedClient);
        assert_eq!(
            oauth.error_description.as_deref(),
            Some("Invalid client or Invalid client credentials")
        );
        assert!(!error.is_retryable());
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            1,
            "HTTP {status}"
        );
    }
}

#[tokio::test]
async fn a_503_then_success_is_retried() {
    let clock = ManualClock::at_epoch_2025();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(keycloak_response("opaque")))
        .mount(&server)
        .await;
    auth(&server, "id", "secret", &clock)
        .into_source()
        .unwrap()
        .fetch_token()
        .await
        .unwrap();
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
    let map: HashMap<String, OsString> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), OsString::from(*v)))
        .collect();
    move |name| map.get(name).cloned()
}

#[test]
fn environment_variables_present_missing_and_empty() {
    let full = [
        ("POA_BASE_URL", "https://poa.example.com"),
        ("POA_CLIENT_ID", "id"),
        ("POA_CLIENT_SECRET", SECRET),
    ];
    let source = PoaAuth::from_lookup(vars(&full))
        .unwrap()
        .into_source()
        .unwrap();
    assert_eq!(
        source.exchange().token_url().to_string(),
        "https://poa.example.com/v2/auth/cybrillarta/token"
    );
    let mut with_path = full.to_vec();
    with_path.push(("POA_TOKEN_PATH", "/poa/auth/token"));
    let source = PoaAuth::from_lookup(vars(&with_path))
        .unwrap()
        .into_source()
        .unwrap();
    assert_eq!(
        source.exchange().token_url().to_string(),
        "https://poa.example.com/poa/auth/token"
    );
    assert!(matches!(
        PoaAuth::from_lookup(vars(&full[1..])).unwrap_err(),
        ConfigError::MissingEnv {
            name: "POA_BASE_URL",
            ..
        }
    ));
    let mut empty = full.to_vec();
    empty[2] = ("POA_CLIENT_SECRET", "");
    assert!(matches!(
        PoaAuth::from_lookup(vars(&empty)).unwrap_err(),
        ConfigError::EmptyEnv {
            name: "POA_CLIENT_SECRET",
            ..
        }
    ));
    let mut query = full.to_vec();
    query[0] = ("POA_BASE_URL", "https://poa.example.com/base?tenant=a");
    let error = PoaAuth::from_lookup(vars(&query)).unwrap_err();
    assert!(
        error.to_string().starts_with("invalid POA_BASE_URL: "),
        "{error}"
    );
    let insecure = PoaAuth::new("http://poa.example.com", "id", SECRET)
        .into_source()
        .unwrap_err();
    assert!(matches!(insecure, ConfigError::InsecureUrl { .. }));
}

#[track_caller]
fn assert_secret_free(error: &dyn std::fmt::Debug, token: &str) {
    let text = format!("{error:?}");
    assert!(!text.contains(SECRET), "the secret leaked: {text}");
    assert!(!text.contains(token), "a token leaked: {text}");
}

#[track_caller]
fn assert_error_secret_free(error: &AuthError, token: &str) {
    let text = format!("{error} | {error:?}");
    assert!(!text.contains(SECRET), "the secret leaked: {text}");
    assert!(!text.contains(token), "a token leaked: {text}");
}

#[tokio::test]
async fn no_error_path_carries_the_secret_or_a_token() {
    let token = jwt(1_735_691_400);
    let echo = format!("client_secret={SECRET}&access_token={token}");
    let responses = [
        ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "error": "unauthorized_client", "error_description": format!("{SECRET} is wrong"),
        })),
        ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": "invalid_request", "error_description": echo.clone(),
        })),
        ResponseTemplate::new(502).set_body_raw(format!("<html>{echo}</html>"), "text/html"),
        ResponseTemplate::new(200)
            .set_body_raw(format!("{{\"access_token\":\"{token}"), "application/json"),
        ResponseTemplate::new(200).set_body_raw(echo, "application/x-www-form-urlencoded"),
        ResponseTemplate::new(200)
            .set_body_json(keycloak_response(&token))
            .set_delay(Duration::from_secs(5)),
    ];
    let clock = ManualClock::at_epoch_2025();
    for response in responses {
        let server = server_answering(poa_auth::DEFAULT_TOKEN_PATH, response).await;
        let error = auth(&server, "id", SECRET, &clock)
            .retry(RetryPolicy::never())
            .timeout(Duration::from_millis(50))
            .into_source()
            .unwrap()
            .fetch_token()
            .await
            .unwrap_err();
        assert_error_secret_free(&error, &token);
    }
    let error = PoaAuth::new(format!("https://id:{SECRET}@poa.example.com"), "id", SECRET)
        .into_source()
        .unwrap_err();
    assert_secret_free(&error, &token);
    let debug = format!(
        "{:?}",
        PoaAuth::new("https://poa.example.com", "id", SECRET)
    );
    assert!(!debug.contains(SECRET), "{debug}");
}
