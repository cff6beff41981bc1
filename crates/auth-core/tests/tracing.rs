//! Tracing output at TRACE level holds no secret, in any encoding.
//!
//! Its own test binary, because it owns the process's global subscriber: a thread-local
//! subscriber (`set_default`) misses events whose callsites another test registered first
//! with a different interest, which made this check fail under `--test-threads=64`. Here every
//! event of every test in this binary lands in one buffer, and each test scans all of it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use auth_core::test_util::assert_no_secret;
use auth_core::{ClientCredentials, ManualClock, TokenCache, TokenSource, TokenUrl};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Collects everything the global subscriber writes.
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

/// The log of every test in this binary so far, with a TRACE subscriber installed once.
fn logs() -> &'static Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer({
                let captured = captured.clone();
                move || captured.clone()
            })
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        captured
    })
}

fn text(captured: &Captured) -> String {
    String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned()
}

const SECRET: &str = "client-secret-value-4711/é";
const TOKEN: &str = "issued-token-value-0815";

#[tokio::test(flavor = "current_thread")]
async fn a_whole_token_lifecycle_logs_no_secret() {
    let logs = logs();
    let server = MockServer::start().await;
    // The secret echoed back raw and JSON-escaped the way PHP and Python escape it.
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_string(r#"{"detail": "echo client-secret-value-4711\/\u00e9"}"#),
        )
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
    .clock(clock.clone())
    .build()
    .unwrap();
    let cache = TokenCache::builder(source.clone()).clock(clock).build();
    let token = cache.token().await.unwrap();
    cache.invalidate(&token);
    let error = cache.token().await.unwrap_err();
    let error_text = format!("{error} {error:?}");
    let direct = source.fetch_token().await.unwrap_err();

    let logged = text(logs);
    assert!(logged.contains("request failed; retrying"), "{logged}");
    assert!(logged.contains("token fetch failed"), "{logged}");
    assert_no_secret(&logged, &[SECRET, TOKEN]);
    assert_no_secret(&error_text, &[SECRET, TOKEN]);
    assert_no_secret(&format!("{direct} {direct:?}"), &[SECRET, TOKEN]);
}
