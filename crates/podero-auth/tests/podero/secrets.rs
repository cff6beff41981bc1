//! No error path carries the secret or a token: one row per way the endpoint can answer,
//! then a transport failure, a configuration error and the configuration's `Debug`.

use std::time::Duration;

use auth_core::test_util::{assert_no_secret, assert_prints_no_secret};
use auth_core::{ManualClock, RetryPolicy, TokenSource as _};
use podero_auth::{Environment, PoderoAuth, SourceConfig as _};
use wiremock::ResponseTemplate;

use super::{SECRET, TOKEN, auth, documented_response, podero_answering};

/// Answers that echo the secret or a token back in every place a server might.
fn answers() -> Vec<ResponseTemplate> {
    let echo = format!("client_secret={SECRET} token {TOKEN}");
    vec![
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
        // A timeout.
        ResponseTemplate::new(200)
            .set_body_json(documented_response())
            .set_delay(Duration::from_secs(5)),
    ]
}

#[tokio::test]
async fn no_error_path_carries_the_secret_or_a_token() {
    let clock = ManualClock::at_epoch_2025();
    for answer in answers() {
        let server = podero_answering(answer).await;
        let error = auth(&server, "id", SECRET, &clock)
            .retry(RetryPolicy::never())
            .timeout(Duration::from_millis(50))
            .into_source()
            .unwrap()
            .fetch_token()
            .await
            .unwrap_err();
        assert_prints_no_secret(&error, &[SECRET, TOKEN]);
    }
    // Transport failure: nothing listens.
    // Bound, not listening: connections are refused, and no other test takes the port.
    let refusing = tokio::net::TcpSocket::new_v4().unwrap();
    refusing.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = refusing.local_addr().unwrap();
    let error = PoderoAuth::new("id", SECRET)
        .environment(Environment::Custom(format!("http://{addr}")))
        .retry(RetryPolicy::never())
        .into_source()
        .unwrap()
        .fetch_token()
        .await
        .unwrap_err();
    assert_prints_no_secret(&error, &[SECRET, TOKEN]);
    // A configuration error.
    let error = PoderoAuth::new("id", SECRET)
        .environment(Environment::Custom(format!("https://user:{SECRET}@host")))
        .into_source()
        .unwrap_err();
    assert_prints_no_secret(&error, &[SECRET, TOKEN]);
    assert_no_secret(&format!("{:?}", PoderoAuth::new("id", SECRET)), &[SECRET]);
}
