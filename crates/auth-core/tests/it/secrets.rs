//! Secrets never leak: not in `Debug`, `Display`, errors, or tracing output.

use std::io::Write;
use std::sync::{Arc, Mutex};

use auth_core::{
    AccessToken, ClientCredentials, ClientSecret, ManualClock, TokenCache, TokenSource, TokenUrl,
};
use chrono::DateTime;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::assert_no_secret;

const SECRET: &str = "client-secret-value-4711";
const TOKEN: &str = "issued-token-value-0815";

#[test]
fn debug_output_is_redacted() {
    let secret = ClientSecret::new(SECRET);
    let token = AccessToken::bearer(TOKEN, DateTime::from_timestamp(1_735_689_600, 0).unwrap())
        .unwrap()
        .with_scopes(auth_core::Scopes::parse("read write"));
    insta::assert_snapshot!(format!("{secret:?}"), @"ClientSecret([redacted])");
    insta::assert_snapshot!(format!("{token:#?}"), @r#"
    AccessToken {
        secret: [redacted],
        token_type: Bearer,
        scopes: Scopes(
            [
                "read",
                "write",
            ],
        ),
        obtained_at: 2025-01-01T00:00:00Z,
        expires_at: None,
        extra: [],
    }
    "#);
    let header = format!("{:?}", token.authorization());
    assert_no_secret(&header, &[TOKEN]);
    assert_eq!(header, "Sensitive");
}

#[test]
fn configured_exchange_and_cache_print_no_secret() {
    let source = ClientCredentials::builder(
        TokenUrl::parse("https://auth.example.com/token").unwrap(),
        "client-id",
        SECRET,
    )
    .build()
    .unwrap();
    let request = source.token_request().unwrap();
    assert_no_secret(&format!("{source:?} {request:?}"), &[SECRET]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let cache = TokenCache::new(source);
        assert_no_secret(&format!("{cache:?}"), &[SECRET]);
    });
}

/// Collects everything a tracing subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn tracing_output_at_trace_level_holds_no_secret() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer({
            let captured = captured.clone();
            move || captured.clone()
        })
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string(format!("echo {SECRET}")))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": TOKEN, "expires_in": 3600, "token_type": "Bearer",
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "error": "invalid_client", "error_description": format!("bad {SECRET}"),
        })))
        .mount(&server)
        .await;
    let clock = ManualClock::at_epoch_2025();
    let source = ClientCredentials::builder(
        TokenUrl::from_base(&server.uri(), "/token").unwrap(),
        "client-id",
        SECRET,
    )
    .clock(Arc::new(clock.clone()))
    .build()
    .unwrap();
    let cache = TokenCache::builder(source.clone())
        .clock(Arc::new(clock.clone()))
        .build();
    let token = cache.token().await.unwrap();
    cache.invalidate(&token);
    let error = cache.token().await.unwrap_err();
    let error_text = format!("{error} {error:?}");
    let direct = source.fetch_token().await.unwrap_err();

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("token request failed"), "{logs}");
    assert!(logs.contains("token fetch failed"), "{logs}");
    assert_no_secret(&logs, &[SECRET, TOKEN]);
    assert_no_secret(&error_text, &[SECRET, TOKEN]);
    assert_no_secret(&format!("{direct} {direct:?}"), &[SECRET, TOKEN]);
}
