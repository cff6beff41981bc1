//! No error path carries the secret or a token: one row per way the endpoint can answer,
//! then a configuration error and the configuration's `Debug`.

use std::time::Duration;

use auth_core::test_util::wire::token_endpoint;
use auth_core::test_util::{assert_no_secret, assert_prints_no_secret};
use auth_core::{ManualClock, RetryPolicy, TokenSource as _};
use poa_auth::{DEFAULT_TOKEN_PATH, PoaAuth, SourceConfig as _};
use wiremock::ResponseTemplate;

use super::{SECRET, auth, jwt, keycloak_response};

/// Answers that echo the secret or `token` back in every place a server might.
fn answers(token: &str) -> Vec<ResponseTemplate> {
    let echo = format!("client_secret={SECRET}&access_token={token}");
    vec![
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
        // A timeout.
        ResponseTemplate::new(200)
            .set_body_json(keycloak_response(token))
            .set_delay(Duration::from_secs(5)),
    ]
}

#[tokio::test]
async fn no_error_path_carries_the_secret_or_a_token() {
    let token = jwt(1_735_691_400);
    let clock = ManualClock::at_epoch_2025();
    for answer in answers(&token) {
        let server = token_endpoint(DEFAULT_TOKEN_PATH, answer).await;
        let error = auth(&server, "id", SECRET, &clock)
            .retry(RetryPolicy::never())
            .timeout(Duration::from_millis(50))
            .into_source()
            .unwrap()
            .fetch_token()
            .await
            .unwrap_err();
        assert_prints_no_secret(&error, &[SECRET, &token]);
    }
    let error = PoaAuth::new(format!("https://id:{SECRET}@poa.example.com"), "id", SECRET)
        .into_source()
        .unwrap_err();
    assert_prints_no_secret(&error, &[SECRET, &token]);
    let debug = format!(
        "{:?}",
        PoaAuth::new("https://poa.example.com", "id", SECRET)
    );
    assert_no_secret(&debug, &[SECRET]);
}
