//! The client-credentials exchange over real HTTP on loopback (wiremock): request shapes,
//! retries, `Retry-After`, redirects, timeouts, transport security.

use std::time::Duration;

use auth_core::test_util::wire::{AWKWARD, AWKWARD_FORM_ENCODED, header, only_request};
use auth_core::{
    AuthError, BodyEncoding, ClientAuth, ClientCredentials, ConfigError, ManualClock,
    OAuthErrorCode, RetryPolicy, TokenSource, TokenUrl, TransportKind,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn token_body() -> serde_json::Value {
    serde_json::json!({
        "access_token": "PaZDOD5UwzbGOFsQr34LQ7JUYOj3yK",
        "expires_in": 36000,
        "token_type": "Bearer",
        "scope": "read write",
    })
}

fn exchange(server: &MockServer, clock: &ManualClock) -> auth_core::ClientCredentialsBuilder {
    ClientCredentials::builder(
        TokenUrl::from_base(&server.uri(), "/oauth2/token/").unwrap(),
        AWKWARD,
        AWKWARD,
    )
    .clock(clock.clone())
}

/// Mounts `response` for every POST (expected `expect` times), runs one exchange with the
/// default settings and a manual clock, and returns the error it ends with.
async fn fetch_error(response: ResponseTemplate, expect: u64) -> (AuthError, ManualClock) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(response)
        .expect(expect)
        .mount(&server)
        .await;
    let clock = ManualClock::at_epoch_2025();
    let error = exchange(&server, &clock)
        .build()
        .unwrap()
        .fetch_token()
        .await
        .unwrap_err();
    (error, clock)
}

/// The wire shape without the credentials, for snapshots.
fn shape(request: &Request) -> String {
    let mut names: Vec<_> = request
        .headers
        .keys()
        .map(|name| name.as_str())
        .filter(|name| !matches!(*name, "host" | "content-length" | "user-agent"))
        .collect();
    names.sort_unstable();
    let headers: Vec<String> = names
        .into_iter()
        .map(|name| {
            let value = match name {
                "authorization" => "Basic [credentials]",
                _ => header(request, name).unwrap(),
            };
            format!("{name}: {value}")
        })
        .collect();
    let body = String::from_utf8(request.body.clone())
        .unwrap()
        .replace(AWKWARD_FORM_ENCODED, "[credential]")
        .replace(AWKWARD, "[credential]");
    format!(
        "{} {}\n{}\n\n{body}",
        request.method,
        request.url.path(),
        headers.join("\n")
    )
}

#[tokio::test]
async fn basic_auth_with_json_body_is_byte_exact() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body()))
        .expect(1)
        .mount(&server)
        .await;
    let clock = ManualClock::at_epoch_2025();
    let source = exchange(&server, &clock)
        .body_encoding(BodyEncoding::Json)
        .build()
        .unwrap();
    let token = source.fetch_token().await.unwrap();
    assert_eq!(token.expose_secret(), "PaZDOD5UwzbGOFsQr34LQ7JUYOj3yK");

    let request = only_request(&server).await;
    let expected = format!(
        "Basic {}",
        base64_encode(&format!("{AWKWARD_FORM_ENCODED}:{AWKWARD_FORM_ENCODED}"))
    );
    assert_eq!(header(&request, "authorization"), Some(expected.as_str()));
    assert_eq!(request.body, br#"{"grant_type":"client_credentials"}"#);
    insta::assert_snapshot!(shape(&request), @r#"
    POST /oauth2/token/
    accept: application/json
    authorization: Basic [credentials]
    content-type: application/json

    {"grant_type":"client_credentials"}
    "#);
}

#[tokio::test]
async fn body_credentials_with_form_body_are_byte_exact() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body()))
        .mount(&server)
        .await;
    let clock = ManualClock::at_epoch_2025();
    let source = exchange(&server, &clock)
        .client_auth(ClientAuth::RequestBody)
        .body_encoding(BodyEncoding::Form)
        .scopes(auth_core::Scopes::parse("read write"))
        .param("audience", "partners")
        .build()
        .unwrap();
    source.fetch_token().await.unwrap();
    let request = only_request(&server).await;
    assert_eq!(header(&request, "authorization"), None);
    assert_eq!(
        String::from_utf8(request.body.clone()).unwrap(),
        format!(
            "client_id={AWKWARD_FORM_ENCODED}&client_secret={AWKWARD_FORM_ENCODED}\
             &grant_type=client_credentials&scope=read+write&audience=partners"
        )
    );
    insta::assert_snapshot!(shape(&request), @r"
    POST /oauth2/token/
    accept: application/json
    content-type: application/x-www-form-urlencoded

    client_id=[credential]&client_secret=[credential]&grant_type=client_credentials&scope=read+write&audience=partners
    ");
}

#[tokio::test]
async fn extra_headers_are_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body()))
        .mount(&server)
        .await;
    let clock = ManualClock::at_epoch_2025();
    let source = exchange(&server, &clock)
        .header(
            reqwest::header::CACHE_CONTROL,
            reqwest::header::HeaderValue::from_static("no-cache"),
        )
        .build()
        .unwrap();
    source.fetch_token().await.unwrap();
    let request = only_request(&server).await;
    assert_eq!(header(&request, "cache-control"), Some("no-cache"));
}

#[tokio::test]
async fn transient_failures_are_retried_503_503_200() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body()))
        .expect(1)
        .mount(&server)
        .await;
    let clock = ManualClock::at_epoch_2025();
    let source = exchange(&server, &clock).build().unwrap();
    let token = source.fetch_token().await.unwrap();
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
    // Backoff waits went through the clock; the token's lifetime starts at the last attempt.
    let slept = clock.slept();
    assert!(slept <= Duration::from_millis(200 + 400), "{slept:?}");
    assert_eq!(
        token.obtained_at(),
        auth_core::Clock::now(&clock),
        "expiry counts from when the successful request was sent"
    );
}

#[tokio::test]
async fn invalid_client_401_is_not_retried() {
    let (error, clock) = fetch_error(
        ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "error": "invalid_client",
            "error_description": "Client authentication failed",
        })),
        1,
    )
    .await;
    let AuthError::RejectedCredentials {
        status,
        error: Some(oauth),
        ..
    } = &error
    else {
        panic!("unexpected {error:?}");
    };
    assert_eq!(status.as_u16(), 401);
    assert_eq!(oauth.error, OAuthErrorCode::InvalidClient);
    assert!(!error.is_retryable());
    assert_eq!(
        error.to_string(),
        "the token endpoint rejected the client credentials (HTTP 401 Unauthorized): \
         invalid_client: Client authentication failed"
    );
    assert_eq!(clock.slept(), Duration::ZERO);
}

#[tokio::test]
async fn a_400_is_not_retried() {
    let (error, _) = fetch_error(
        ResponseTemplate::new(400)
            .set_body_json(serde_json::json!({"error": "unsupported_grant_type"})),
        1,
    )
    .await;
    assert!(matches!(error, AuthError::OAuth { .. }), "{error:?}");
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "7"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body()))
        .mount(&server)
        .await;
    let clock = ManualClock::at_epoch_2025();
    exchange(&server, &clock)
        .build()
        .unwrap()
        .fetch_token()
        .await
        .unwrap();
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
    assert_eq!(clock.slept(), Duration::from_secs(7));
}

#[tokio::test]
async fn a_retry_after_beyond_the_cap_ends_the_retries() {
    let (error, clock) = fetch_error(
        ResponseTemplate::new(503).insert_header("Retry-After", "3600"),
        1,
    )
    .await;
    assert_eq!(
        error.status(),
        Some(reqwest::StatusCode::SERVICE_UNAVAILABLE)
    );
    assert_eq!(clock.slept(), Duration::ZERO);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token/"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("Location", format!("{}/elsewhere", server.uri())),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/elsewhere"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body()))
        .expect(0)
        .mount(&server)
        .await;
    let clock = ManualClock::at_epoch_2025();
    let error = exchange(&server, &clock)
        .build()
        .unwrap()
        .fetch_token()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, AuthError::UnexpectedStatus { status, .. } if status.as_u16() == 307),
        "{error:?}"
    );
}

#[tokio::test]
async fn plain_http_to_a_remote_host_is_refused() {
    let error = TokenUrl::parse("http://app.podero.com/oauth2/token/").unwrap_err();
    assert!(matches!(error, ConfigError::InsecureUrl { .. }));
    assert_eq!(
        error.to_string(),
        "token URL must use https:// (plain http:// is allowed for loopback hosts only), \
         got http://app.podero.com"
    );
}

#[tokio::test]
async fn a_slow_endpoint_times_out_with_a_typed_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(token_body())
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&server)
        .await;
    let clock = ManualClock::at_epoch_2025();
    let error = exchange(&server, &clock)
        .timeout(Duration::from_millis(50))
        .retry(RetryPolicy::never())
        .build()
        .unwrap()
        .fetch_token()
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::Timeout { .. }), "{error:?}");
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error() {
    // A socket bound but not listening: connections to its port are refused, and no other
    // test can take the port meanwhile (a dropped listener's port was taken by another
    // test's server once, which answered with a token).
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    let clock = ManualClock::at_epoch_2025();
    let error = ClientCredentials::builder(
        TokenUrl::parse(&format!("http://{addr}/token")).unwrap(),
        "id",
        "secret",
    )
    .clock(clock.clone())
    .build()
    .unwrap()
    .fetch_token()
    .await
    .unwrap_err();
    assert!(
        matches!(
            error,
            AuthError::Transport {
                kind: TransportKind::Connect,
                ..
            }
        ),
        "{error:?}"
    );
    // Retried (3 attempts by default) before giving up.
    assert!(clock.slept() > Duration::ZERO);
}

#[tokio::test]
async fn an_oversized_body_is_refused() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("x".repeat(100 * 1024)))
        .mount(&server)
        .await;
    let clock = ManualClock::at_epoch_2025();
    let error = exchange(&server, &clock)
        .build()
        .unwrap()
        .fetch_token()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, AuthError::MalformedResponse { reason, .. } if reason.contains("larger than")),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_html_502_page_is_retried_then_reported_with_a_scrubbed_excerpt() {
    let (error, _) = fetch_error(
        ResponseTemplate::new(502).set_body_raw(
            "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
            "text/html",
        ),
        3,
    )
    .await;
    insta::assert_snapshot!(error, @"the token endpoint answered HTTP 502 Bad Gateway; body starts: <html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>");
}

#[tokio::test]
async fn an_error_inside_a_200_is_an_error() {
    let (error, _) = fetch_error(
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "error": "invalid_scope",
            "error_description": "scope admin is not allowed",
        })),
        1,
    )
    .await;
    assert!(
        matches!(&error, AuthError::OAuth { error, .. } if error.error == OAuthErrorCode::InvalidScope),
        "{error:?}"
    );
}

#[test]
fn reserved_parameters_are_refused() {
    let result = ClientCredentials::builder(
        TokenUrl::parse("https://auth.example.com/token").unwrap(),
        "id",
        "secret",
    )
    .param("client_secret", "other")
    .build();
    assert!(matches!(result, Err(ConfigError::Invalid { .. })));
}

fn base64_encode(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}
