//! The token request on the wire, byte for byte (one row per configuration), and what comes
//! back: the expiry each token gives (one row per token), Keycloak's fields, the cache
//! refreshing by the JWT's `exp`, and retries (one row per sequence of answers).

use std::time::Duration;

use auth_core::test_util::wire::{
    AWKWARD, AWKWARD_FORM_ENCODED, describe_exchange, header, only_request, requests,
    token_endpoint, token_endpoint_in_turn,
};
use auth_core::{Clock as _, ManualClock, TokenSource as _};
use chrono::TimeDelta;
use poa_auth::{DEFAULT_TOKEN_PATH, SAMPLE_TOKEN_PATH, SourceConfig as _};
use wiremock::{Request, ResponseTemplate};

use super::{auth, jwt, keycloak_response};

/// A configuration (the token path, if set) and the request it must send.
struct RequestRow {
    case: &'static str,
    id: &'static str,
    secret: &'static str,
    token_path: Option<&'static str>,
    path: &'static str,
    body: &'static str,
}

const REQUESTS: &[RequestRow] = &[
    RequestRow {
        case: "the documented form request; credentials form-encoded in the body",
        id: AWKWARD,
        secret: AWKWARD,
        token_path: None,
        path: DEFAULT_TOKEN_PATH,
        body: "client_id=a+b%3Ac%2Bd%2Fe%3Df%25%26%C3%A9\
               &client_secret=a+b%3Ac%2Bd%2Fe%3Df%25%26%C3%A9&grant_type=client_credentials",
    },
    RequestRow {
        case: "the token path is configurable",
        id: "id",
        secret: "secret",
        token_path: Some(SAMPLE_TOKEN_PATH),
        path: "/poa/auth/token",
        body: "client_id=id&client_secret=secret&grant_type=client_credentials",
    },
];

#[tokio::test]
async fn each_configuration_sends_its_request_byte_for_byte() {
    let clock = ManualClock::at_epoch_2025();
    for row in REQUESTS {
        let answer =
            ResponseTemplate::new(200).set_body_json(keycloak_response(&jwt(1_735_691_400)));
        let server = token_endpoint(row.path, answer).await;
        let mut auth = auth(&server, row.id, row.secret, &clock);
        if let Some(token_path) = row.token_path {
            auth = auth.token_path(token_path);
        }
        auth.into_source().unwrap().fetch_token().await.unwrap();
        check_request(row, &only_request(&server).await);
    }
}

#[track_caller]
fn check_request(row: &RequestRow, request: &Request) {
    let case = row.case;
    assert_eq!(request.method.as_str(), "POST", "{case}");
    assert_eq!(request.url.path(), row.path, "{case}");
    assert_eq!(header(request, "authorization"), None, "{case}");
    assert_eq!(
        header(request, "content-type"),
        Some("application/x-www-form-urlencoded"),
        "{case}"
    );
    assert_eq!(
        header(request, "accept"),
        Some("application/json"),
        "{case}"
    );
    assert_eq!(std::str::from_utf8(&request.body), Ok(row.body), "{case}");
}

#[test]
fn the_awkward_body_is_the_form_encoding_of_the_credentials() {
    // Keeps the first row's literal honest.
    assert!(
        REQUESTS[0]
            .body
            .contains(&format!("client_id={AWKWARD_FORM_ENCODED}&"))
    );
}

/// What the endpoint issues (always with `expires_in` 1800).
enum Issued {
    /// Not a JWT.
    Opaque,
    /// A JWT whose `exp` is this many seconds after the clock's now.
    JwtExpiringIn(i64),
}

/// What is issued, and the seconds from now to the expiry the adapter gives the token: the
/// earlier of the JWT's `exp` and `expires_in`.
const EXPIRY_ROWS: &[(&str, Issued, i64)] = &[
    ("not a JWT: expires_in decides", Issued::Opaque, 1800),
    (
        "a JWT exp earlier than expires_in wins",
        Issued::JwtExpiringIn(600),
        600,
    ),
    (
        "a JWT exp later than expires_in does not extend the token",
        Issued::JwtExpiringIn(7200),
        1800,
    ),
];

#[tokio::test]
async fn each_token_gets_its_expiry() {
    let clock = ManualClock::at_epoch_2025();
    let now = clock.now();
    for (case, issued, seconds) in EXPIRY_ROWS {
        let access_token = match issued {
            Issued::Opaque => "opaque".to_owned(),
            Issued::JwtExpiringIn(seconds) => jwt(now.timestamp() + seconds),
        };
        let answer = ResponseTemplate::new(200).set_body_json(keycloak_response(&access_token));
        let server = token_endpoint(DEFAULT_TOKEN_PATH, answer).await;
        let token = auth(&server, "id", "secret", &clock)
            .into_source()
            .unwrap()
            .fetch_token()
            .await
            .unwrap();
        assert_eq!(
            token.expires_at(),
            Some(now + TimeDelta::seconds(*seconds)),
            "{case}"
        );
    }
}

#[tokio::test]
async fn keycloak_fields_are_kept_and_reachable() {
    let clock = ManualClock::at_epoch_2025();
    let answer = ResponseTemplate::new(200).set_body_json(keycloak_response("opaque"));
    let server = token_endpoint(DEFAULT_TOKEN_PATH, answer).await;
    let token = auth(&server, "id", "secret", &clock)
        .into_source()
        .unwrap()
        .fetch_token()
        .await
        .unwrap();
    assert_eq!(token.extra()["refresh_expires_in"], 0);
    assert_eq!(token.extra()["not-before-policy"], 0);
    assert!(token.scopes().contains("partner"));
}

#[tokio::test]
async fn the_cache_refreshes_by_the_jwt_exp() {
    let clock = ManualClock::at_epoch_2025();
    let exp = clock.now().timestamp() + 600;
    let answer = ResponseTemplate::new(200).set_body_json(keycloak_response(&jwt(exp)));
    let server = token_endpoint(DEFAULT_TOKEN_PATH, answer).await;
    let cache = auth(&server, "id", "secret", &clock)
        .into_cache_builder()
        .unwrap()
        .refresh_ahead(0.0)
        .build();
    cache.token().await.unwrap();
    // 600 s lifetime, 60 s margin: refreshed from 540 s on, although expires_in said 1800.
    clock.advance(Duration::from_secs(539));
    cache.token().await.unwrap();
    assert_eq!(requests(&server).await.len(), 1);
    clock.advance(Duration::from_secs(1));
    cache.token().await.unwrap();
    assert_eq!(requests(&server).await.len(), 2);
}

/// Answers given in turn, and the outcome with the number of requests it took.
fn retry_rows() -> Vec<(&'static str, Vec<ResponseTemplate>, &'static str)> {
    let keycloak_rejection = |status| {
        ResponseTemplate::new(status).set_body_json(serde_json::json!({
            "error": "unauthorized_client",
            "error_description": "Invalid client or Invalid client credentials",
        }))
    };
    let rejected = "rejected_credentials UnauthorizedClient \
                    Some(\"Invalid client or Invalid client credentials\"), not retryable; \
                    1 request";
    vec![
        (
            "Keycloak's 400 maps to rejected credentials",
            vec![keycloak_rejection(400)],
            rejected,
        ),
        (
            "Keycloak's 401 maps to rejected credentials",
            vec![keycloak_rejection(401)],
            rejected,
        ),
        (
            "a 503 then success is retried",
            vec![
                ResponseTemplate::new(503),
                ResponseTemplate::new(200).set_body_json(keycloak_response("opaque")),
            ],
            "token; 2 requests",
        ),
    ]
}

#[tokio::test]
async fn each_sequence_of_answers_takes_its_requests() {
    let clock = ManualClock::at_epoch_2025();
    for (case, answers, expected) in retry_rows() {
        let server = token_endpoint_in_turn(DEFAULT_TOKEN_PATH, answers).await;
        let result = auth(&server, "id", "wrong", &clock)
            .into_source()
            .unwrap()
            .fetch_token()
            .await;
        assert_eq!(
            describe_exchange(&result, &server).await,
            expected,
            "{case}"
        );
    }
}
