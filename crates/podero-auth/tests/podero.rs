//! podero-auth over real HTTP on loopback (wiremock): the documented request byte for byte,
//! the form-body option, URL building, responses, errors, environment loading, and that no
//! error ever carries the secret.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::ffi::OsString;
use std::time::Duration;

use auth_core::{
    AuthError, BodyEncoding, Clock, ConfigError, ManualClock, OAuthErrorCode, RetryPolicy,
    TokenSource,
};
use podero_auth::{Environment, PoderoAuth, SourceConfig as _};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const AWKWARD: &str = "a b:c+d/e=f%&é";
const AWKWARD_ENCODED: &str = "a+b%3Ac%2Bd%2Fe%3Df%25%26%C3%A9";
const SECRET: &str = "podero-secret-4711";

fn documented_response() -> serde_json::Value {
    serde_json::json!({
        "access_token": "PaZDOD5UwzbGOFsQr34LQ7JUYOj3yK",
        "expires_in": 36000,
        "token_type": "Bearer",
        "scope": "read write",
    })
}

async fn server_answering(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token/"))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

fn auth(server: &MockServer, id: &str, secret: &str, clock: &ManualClock) -> PoderoAuth {
    PoderoAuth::new(id, secret)
        .environment(Environment::Custom(server.uri()))
        .clock(clock.clone())
}

async fn only_request(server: &MockServer) -> Request {
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    requests.into_iter().next().unwrap()
}

fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).map(|v| v.to_str().unwrap())
}

fn basic(id: &str, secret: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

#[tokio::test]
async fn sends_the_documented_request_byte_for_byte() {
    let server =
        server_answering(ResponseTemplate::new(200).set_body_json(documented_response())).await;
    let clock = ManualClock::at_epoch_2025();
    auth(&server, AWKWARD, AWKWARD, &clock)
        .into_source()
        .unwrap()
        .fetch_token()
        .await
        .unwrap();
    let request = only_request(&server).await;
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), "/oauth2/token/");
    // RFC 6749 section 2.3.1: form-urlencoded before base64.
    assert_eq!(
        header(&request, "authorization"),
        Some(basic(AWKWARD_ENCODED, AWKWARD_ENCODED).as_str())
    );
    assert_eq!(header(&request, "content-type"), Some("application/json"));
    assert_eq!(header(&request, "accept"), Some("application/json"));
    assert_eq!(header(&request, "cache-control"), Some("no-cache"));
    assert_eq!(request.body, br#"{"grant_type":"client_credentials"}"#);
}

#[tokio::test]
async fn alphanumeric_credentials_give_the_documents_plain_base64() {
    let server =
        server_answering(ResponseTemplate::new(200).set_body_json(documented_response())).await;
    let clock = ManualClock::at_epoch_2025();
    auth(&server, "client123", "Secret456", &clock)
        .into_source()
        .unwrap()
        .fetch_token()
        .await
        .unwrap();
    let request = only_request(&server).await;
    assert_eq!(
        header(&request, "authorization"),
        Some(basic("client123", "Secret456").as_str())
    );
}

#[tokio::test]
async fn the_form_body_option_sends_rfc_6749_form_encoding() {
    let server =
        server_answering(ResponseTemplate::new(200).set_body_json(documented_response())).await;
    let clock = ManualClock::at_epoch_2025();
    auth(&server, "id", "secret", &clock)
        .body_encoding(BodyEncoding::Form)
        .scopes(auth_core::Scopes::parse("read"))
        .into_source()
        .unwrap()
        .fetch_token()
        .await
        .unwrap();
    let request = only_request(&server).await;
    assert_eq!(
        header(&request, "content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(request.body, b"grant_type=client_credentials&scope=read");
    assert_eq!(
        header(&request, "authorization"),
        Some(basic("id", "secret").as_str())
    );
}

#[tokio::test]
async fn the_documented_response_becomes_a_ten_hour_token() {
    let server =
        server_answering(ResponseTemplate::new(200).set_body_json(documented_response())).await;
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
        "Bearer PaZDOD5UwzbGOFsQr34LQ7JUYOj3yK"
    );
}

#[tokio::test]
async fn into_cache_serves_repeated_calls_from_one_request() {
    let server =
        server_answering(ResponseTemplate::new(200).set_body_json(documented_response())).await;
    let clock = ManualClock::at_epoch_2025();
    let cache = auth(&server, "id", "secret", &clock).into_cache().unwrap();
    for _ in 0..5 {
        cache.token().await.unwrap();
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_shared_http_client_is_used() {
    let server =
        server_answering(ResponseTemplate::new(200).set_body_json(documented_response())).await;
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

#[test]
fn environments_build_their_urls() {
    assert_eq!(
        Environment::Production.base_url().unwrap().as_str(),
        "https://app.podero.com/"
    );
    assert_eq!(
        Environment::Sandbox("Acme-Test".into())
            .base_url()
            .unwrap()
            .as_str(),
        "https://acme-test.podero.com/"
    );
    let source = PoderoAuth::new("id", "secret")
        .environment(Environment::Sandbox("acme".into()))
        .into_source()
        .unwrap();
    assert_eq!(
        source.token_url().to_string(),
        "https://acme.podero.com/oauth2/token/"
    );
    for bad in ["", "-acme", "acme.evil.com", "a/b", &"x".repeat(64)] {
        assert!(
            matches!(
                Environment::Sandbox(bad.into()).base_url(),
                Err(ConfigError::Invalid { .. })
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        Environment::Custom("http://podero.example.com".into()).base_url(),
        Err(ConfigError::InsecureUrl { .. })
    ));
    assert!(
        Environment::Custom("http://127.0.0.1:8080".into())
            .base_url()
            .is_ok()
    );
}

#[tokio::test]
async fn rejected_credentials_are_not_retried_and_keep_the_vendors_description() {
    let server = server_answering(ResponseTemplate::new(401).set_body_json(serde_json::json!({
        "error": "invalid_client",
        "error_description": "Invalid client credentials",
    })))
    .await;
    let clock = ManualClock::at_epoch_2025();
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
    assert_eq!(oauth.error, OAuthErrorCode::InvalidClient);
    assert_eq!(
        oauth.error_description.as_deref(),
        Some("Invalid client credentials")
    );
    assert!(!error.is_retryable());
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_503_then_success_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(documented_response()))
        .mount(&server)
        .await;
    let clock = ManualClock::at_epoch_2025();
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
    let auth = PoderoAuth::from_lookup(vars(&[
        ("PODERO_CLIENT_ID", "id"),
        ("PODERO_CLIENT_SECRET", SECRET),
    ]))
    .unwrap();
    assert_eq!(auth.base_url().unwrap().as_str(), "https://app.podero.com/");
    assert_eq!(auth.client_id().as_str(), "id");

    let auth = PoderoAuth::from_lookup(vars(&[
        ("PODERO_CLIENT_ID", "id"),
        ("PODERO_CLIENT_SECRET", SECRET),
        ("PODERO_BASE_URL", "https://sandbox.podero.com"),
    ]))
    .unwrap();
    assert_eq!(
        auth.base_url().unwrap().as_str(),
        "https://sandbox.podero.com/"
    );

    let missing = PoderoAuth::from_lookup(vars(&[("PODERO_CLIENT_ID", "id")])).unwrap_err();
    assert!(matches!(
        missing,
        ConfigError::MissingEnv {
            name: "PODERO_CLIENT_SECRET",
            ..
        }
    ));
    let empty = PoderoAuth::from_lookup(vars(&[
        ("PODERO_CLIENT_ID", " "),
        ("PODERO_CLIENT_SECRET", SECRET),
    ]))
    .unwrap_err();
    assert!(matches!(
        empty,
        ConfigError::EmptyEnv {
            name: "PODERO_CLIENT_ID",
            ..
        }
    ));
    assert_eq!(
        empty.to_string(),
        "environment variable PODERO_CLIENT_ID is empty"
    );
    let insecure = PoderoAuth::from_lookup(vars(&[
        ("PODERO_CLIENT_ID", "id"),
        ("PODERO_CLIENT_SECRET", SECRET),
        ("PODERO_BASE_URL", "http://podero.example.com"),
    ]))
    .unwrap_err();
    assert!(matches!(
        insecure,
        ConfigError::InsecureUrl {
            what: "PODERO_BASE_URL",
            ..
        }
    ));
    // A query or fragment would put the endpoint path in the wrong place: refused, naming the
    // variable.
    for base in ["https://host/prefix?tenant=a", "https://host/prefix#frag"] {
        let error = PoderoAuth::from_lookup(vars(&[
            ("PODERO_CLIENT_ID", "id"),
            ("PODERO_CLIENT_SECRET", SECRET),
            ("PODERO_BASE_URL", base),
        ]))
        .unwrap_err();
        assert!(
            error.to_string().starts_with("invalid PODERO_BASE_URL: "),
            "{error}"
        );
    }
}

#[test]
fn the_token_body_variable_chooses_the_encoding() {
    for (value, expected) in [
        ("json", BodyEncoding::Json),
        ("FORM", BodyEncoding::Form),
        ("auto", BodyEncoding::Auto),
    ] {
        let source = PoderoAuth::from_lookup(vars(&[
            ("PODERO_CLIENT_ID", "id"),
            ("PODERO_CLIENT_SECRET", SECRET),
            ("PODERO_TOKEN_BODY", value),
        ]))
        .unwrap()
        .into_source()
        .unwrap();
        let first = match expected {
            BodyEncoding::Form => BodyEncoding::Form,
            _ => BodyEncoding::Json,
        };
        assert_eq!(source.current_body_encoding(), first, "{value}");
    }
    let error = PoderoAuth::from_lookup(vars(&[
        ("PODERO_CLIENT_ID", "id"),
        ("PODERO_CLIENT_SECRET", SECRET),
        ("PODERO_TOKEN_BODY", "xml"),
    ]))
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid PODERO_TOKEN_BODY: it must be `json`, `form` or `auto`"
    );
}

#[track_caller]
fn assert_secret_free(error: &(impl std::fmt::Display + std::fmt::Debug)) {
    let text = format!("{error} | {error:?}");
    assert!(!text.contains(SECRET), "the secret leaked: {text}");
    assert!(
        !text.contains("PaZDOD5UwzbGOFsQr34LQ7JUYOj3yK"),
        "a token leaked: {text}"
    );
}

#[tokio::test]
async fn no_error_path_carries_the_secret_or_a_token() {
    let echo = format!("client_secret={SECRET} token PaZDOD5UwzbGOFsQr34LQ7JUYOj3yK");
    let responses = [
        ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "error": "invalid_client", "error_description": format!("bad secret {SECRET}"),
        })),
        ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": "invalid_request", "error_description": echo.clone(),
        })),
        ResponseTemplate::new(502).set_body_raw(format!("<html>{echo}</html>"), "text/html"),
        ResponseTemplate::new(401).set_body_raw(echo.clone(), "text/plain"),
        ResponseTemplate::new(200)
            .set_body_raw(format!("{{\"access_token\":\"{SECRET}"), "application/json"),
        ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({"error": "server_error", "error_description": echo})),
        ResponseTemplate::new(200)
            .set_body_json(documented_response())
            .set_delay(Duration::from_secs(5)),
    ];
    let clock = ManualClock::at_epoch_2025();
    for response in responses {
        let server = server_answering(response).await;
        let error = auth(&server, "id", SECRET, &clock)
            .retry(RetryPolicy::never())
            .timeout(Duration::from_millis(50))
            .into_source()
            .unwrap()
            .fetch_token()
            .await
            .unwrap_err();
        assert_secret_free(&error);
    }
    // Transport failure: nothing listens.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let error = PoderoAuth::new("id", SECRET)
        .environment(Environment::Custom(format!("http://{addr}")))
        .retry(RetryPolicy::never())
        .into_source()
        .unwrap()
        .fetch_token()
        .await
        .unwrap_err();
    assert_secret_free(&error);
    // Configuration errors.
    let error = PoderoAuth::new("id", SECRET)
        .environment(Environment::Custom(format!("https://user:{SECRET}@host")))
        .into_source()
        .unwrap_err();
    assert_secret_free(&error);
    let debug = format!("{:?}", PoderoAuth::new("id", SECRET));
    assert!(!debug.contains(SECRET), "{debug}");
}

/// DOT's default backend: a JSON body has no `grant_type` for it.
async fn form_only_server(form_answer: ResponseTemplate) -> MockServer {
    use wiremock::matchers::header;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("content-type", "application/json"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(serde_json::json!({"error": "unsupported_grant_type"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(form_answer)
        .mount(&server)
        .await;
    server
}

fn content_types(requests: &[Request]) -> Vec<String> {
    requests
        .iter()
        .map(|r| header(r, "content-type").unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn auto_falls_back_to_a_form_body_once_and_remembers_it() {
    let server =
        form_only_server(ResponseTemplate::new(200).set_body_json(documented_response())).await;
    let clock = ManualClock::at_epoch_2025();
    let source = auth(&server, "id", SECRET, &clock).into_source().unwrap();
    source.fetch_token().await.unwrap();
    assert_eq!(source.current_body_encoding(), BodyEncoding::Form);
    source.fetch_token().await.unwrap();
    let requests = server.received_requests().await.unwrap();
    assert_eq!(
        content_types(&requests),
        [
            "application/json",
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded"
        ]
    );
}

#[tokio::test]
async fn auto_reports_a_wrong_secret_on_a_form_only_server_as_rejected_credentials() {
    let server = form_only_server(
        ResponseTemplate::new(401).set_body_json(serde_json::json!({"error": "invalid_client"})),
    )
    .await;
    let clock = ManualClock::at_epoch_2025();
    let error = auth(&server, "id", SECRET, &clock)
        .into_source()
        .unwrap()
        .fetch_token()
        .await
        .unwrap_err();
    assert!(error.is_rejected_credentials(), "{error:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn auto_never_doubles_a_request_for_any_other_answer() {
    let answers = [
        ResponseTemplate::new(401).set_body_json(serde_json::json!({"error": "invalid_client"})),
        ResponseTemplate::new(400).set_body_json(serde_json::json!({"error": "invalid_scope"})),
        ResponseTemplate::new(400).set_body_json(
            serde_json::json!({"error": "invalid_request", "error_description": "bad scope"}),
        ),
        ResponseTemplate::new(400)
            .set_body_json(serde_json::json!({"error": "unauthorized_client"})),
        ResponseTemplate::new(404).set_body_string("not found"),
    ];
    let clock = ManualClock::at_epoch_2025();
    for answer in answers {
        let server = server_answering(answer).await;
        let source = auth(&server, "id", SECRET, &clock)
            .retry(RetryPolicy::never())
            .into_source()
            .unwrap();
        source.fetch_token().await.unwrap_err();
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
        assert_eq!(source.current_body_encoding(), BodyEncoding::Json);
    }
}

#[tokio::test]
async fn fixed_encodings_never_negotiate() {
    let server =
        form_only_server(ResponseTemplate::new(200).set_body_json(documented_response())).await;
    let clock = ManualClock::at_epoch_2025();
    let error = auth(&server, "id", SECRET, &clock)
        .body_encoding(BodyEncoding::Json)
        .into_source()
        .unwrap()
        .fetch_token()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, AuthError::OAuth { error, .. } if error.error == OAuthErrorCode::UnsupportedGrantType),
        "{error:?}"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}
