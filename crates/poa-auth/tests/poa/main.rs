//! poa-auth's integration tests: one binary, a module per boundary, cases as rows of data.
//! Real HTTP on loopback (wiremock endpoints from `auth_core::test_util::wire`), Keycloak
//! responses and JWT-aware expiry, the vendor fixtures, environment loading, and that no error
//! ever carries the secret.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod config;
mod exchange;
mod fixtures;
mod secrets;

use auth_core::ManualClock;
use base64::Engine as _;
use poa_auth::PoaAuth;
use wiremock::MockServer;

/// A secret that must never be printed.
const SECRET: &str = "poa-secret-0815";

/// A Keycloak-style JWT (not signed for real) expiring at `exp` (seconds since the epoch).
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

/// Keycloak's token response for `access_token`: `expires_in` 1800 and Keycloak's extra
/// fields.
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

/// A configuration for `server` with these credentials and `clock`.
fn auth(server: &MockServer, id: &str, secret: &str, clock: &ManualClock) -> PoaAuth {
    use poa_auth::SourceConfig as _;
    PoaAuth::new(server.uri(), id, secret).clock(clock.clone())
}
