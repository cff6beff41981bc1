//! The token request on the wire, byte for byte (one row per configuration), and what comes
//! back: the documented response, retries (one row per sequence of answers), the cache, a
//! shared HTTP client.

use auth_core::test_util::wire::{
    AWKWARD, AWKWARD_FORM_ENCODED, basic_authorization, describe_exchange, header, only_request,
    requests, token_endpoint_in_turn,
};
use auth_core::{BodyEncoding, Clock as _, ManualClock, Scopes, TokenSource as _};
use podero_auth::SourceConfig as _;
use wiremock::{Request, ResponseTemplate};

use super::{TOKEN, auth, documented_response, podero_documented};

/// A configuration and the request it must send.
struct RequestRow {
    case: &'static str,
    id: &'static str,
    secret: &'static str,
    body_encoding: Option<BodyEncoding>,
    scope: Option<&'static str>,
    /// The Basic user and password, as they must be encoded before base64.
    basic: (&'static str, &'static str),
    content_type: &'static str,
    body: &'static str,
}

const JSON_BODY: &str = r#"{"grant_type":"client_credentials"}"#;

const REQUESTS: &[RequestRow] = &[
    RequestRow {
        case: "the documented request; RFC 6749 section 2.3.1: form-urlencoded before base64",
        id: AWKWARD,
        secret: AWKWARD,
        body_encoding: None,
        scope: None,
        basic: (AWKWARD_FORM_ENCODED, AWKWARD_FORM_ENCODED),
        content_type: "application/json",
        body: JSON_BODY,
    },
    RequestRow {
        case: "alphanumeric credentials give the documents' plain base64",
        id: "client123",
        secret: "Secret456",
        body_encoding: None,
        scope: None,
        basic: ("client123", "Secret456"),
        content_type: "application/json",
        body: JSON_BODY,
    },
    RequestRow {
        case: "the form body option sends RFC 6749 form encoding",
        id: "id",
        secret: "secret",
        body_encoding: Some(BodyEncoding::Form),
        scope: Some("read"),
        basic: ("id", "secret"),
        content_type: "application/x-www-form-urlencoded",
        body: "grant_type=client_credentials&scope=read",
    },
];

#[tokio::test]
async fn each_configuration_sends_its_request_byte_for_byte() {
    let clock = ManualClock::at_epoch_2025();
    for row in REQUESTS {
        let server = podero_documented().await;
        let mut auth = auth(&server, row.id, row.secret, &clock);
        if let Some(body_encoding) = row.body_encoding {
            auth = auth.body_encoding(body_encoding);
        }
        if let Some(scope) = row.scope {
            auth = auth.scopes(Scopes::parse(scope));
        }
        auth.into_source().unwrap().fetch_token().await.unwrap();
        check_request(row, &only_request(&server).await);
    }
}

#[track_caller]
fn check_request(row: &RequestRow, request: &Request) {
    let case = row.case;
    let basic = basic_authorization(row.basic.0, row.basic.1);
    assert_eq!(request.method.as_str(), "POST", "{case}");
    assert_eq!(request.url.path(), "/oauth2/token/", "{case}");
    assert_eq!(
        header(request, "authorization"),
        Some(basic.as_str()),
        "{case}"
    );
    assert_eq!(
        header(request, "content-type"),
        Some(row.content_type),
        "{case}"
    );
    assert_eq!(
        header(request, "accept"),
        Some("application/json"),
        "{case}"
    );
    assert_eq!(header(request, "cache-control"), Some("no-cache"), "{case}");
    assert_eq!(std::str::from_utf8(&request.body), Ok(row.body), "{case}");
}

#[tokio::test]
async fn the_documented_response_becomes_a_ten_hour_token() {
    let server = podero_documented().await;
    let clock = ManualClock::at_epoch_2025();
    let token = auth(&server, "id", "secret", &clock)
        .into_source()
        .unwrap()
        .fetch_token()
        .await
        .unwrap();
    assert_eq!(
        token.expires_at(),
        Some(clock.now() + chrono::TimeDelta::hours(10))
    );
    assert_eq!(token.scopes().iter().collect::<Vec<_>>(), ["read", "write"]);
    assert_eq!(
        token.authorization().to_str().unwrap(),
        format!("Bearer {TOKEN}")
    );
}

/// Answers given in turn, and the outcome with the number of requests it took.
fn retry_rows() -> Vec<(&'static str, Vec<ResponseTemplate>, &'static str)> {
    vec![
        (
            "rejected credentials are not retried and keep the vendor's description",
            vec![ResponseTemplate::new(401).set_body_json(serde_json::json!({
                "error": "invalid_client",
                "error_description": "Invalid client credentials",
            }))],
            "rejected_credentials InvalidClient Some(\"Invalid client credentials\"), \
             not retryable; 1 request",
        ),
        (
            "a 503 then success is retried",
            vec![
                ResponseTemplate::new(503),
                ResponseTemplate::new(200).set_body_json(documented_response()),
            ],
            "token; 2 requests",
        ),
    ]
}

#[tokio::test]
async fn each_sequence_of_answers_takes_its_requests() {
    let clock = ManualClock::at_epoch_2025();
    for (case, answers, expected) in retry_rows() {
        let server = token_endpoint_in_turn(podero_auth::TOKEN_PATH, answers).await;
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

#[tokio::test]
async fn into_cache_serves_repeated_calls_from_one_request() {
    let server = podero_documented().await;
    let clock = ManualClock::at_epoch_2025();
    let cache = auth(&server, "id", "secret", &clock).into_cache().unwrap();
    for _ in 0..5 {
        cache.token().await.unwrap();
    }
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn a_shared_http_client_is_used() {
    let server = podero_documented().await;
    let http = auth_core::http::client_builder()
        .user_agent("shared-client/1.0")
        .build()
        .unwrap();
    let clock = ManualClock::at_epoch_2025();
    auth(&server, "id", "secret", &clock)
        .http_client(http)
        .into_source()
        .unwrap()
        .fetch_token()
        .await
        .unwrap();
    let request = only_request(&server).await;
    assert_eq!(header(&request, "user-agent"), Some("shared-client/1.0"));
}
