//! podero-auth's integration tests: one binary, a module per boundary, cases as rows of data.
//! Real HTTP on loopback (wiremock endpoints from `auth_core::test_util::wire`), the vendor
//! fixtures, environment loading, and that no error ever carries the secret.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod config;
mod exchange;
mod fixtures;
mod negotiation;
mod secrets;

use auth_core::ManualClock;
use auth_core::test_util::wire::token_endpoint;
use podero_auth::{Environment, PoderoAuth};
use wiremock::{MockServer, ResponseTemplate};

/// A secret that must never be printed.
const SECRET: &str = "podero-secret-4711";

/// The token of Podero's documented response.
const TOKEN: &str = "PaZDOD5UwzbGOFsQr34LQ7JUYOj3yK";

/// The success response Podero documents: a ten-hour bearer token with scope `read write`.
fn documented_response() -> serde_json::Value {
    serde_json::json!({
        "access_token": TOKEN,
        "expires_in": 36000,
        "token_type": "Bearer",
        "scope": "read write",
    })
}

/// Podero's token endpoint on loopback, answering `response`.
async fn podero_answering(response: ResponseTemplate) -> MockServer {
    token_endpoint(podero_auth::TOKEN_PATH, response).await
}

/// Podero's token endpoint on loopback, answering the documented response.
async fn podero_documented() -> MockServer {
    podero_answering(ResponseTemplate::new(200).set_body_json(documented_response())).await
}

/// A configuration for `server` with these credentials and `clock`.
fn auth(server: &MockServer, id: &str, secret: &str, clock: &ManualClock) -> PoderoAuth {
    use podero_auth::SourceConfig as _;
    PoderoAuth::new(id, secret)
        .environment(Environment::Custom(server.uri()))
        .clock(clock.clone())
}
