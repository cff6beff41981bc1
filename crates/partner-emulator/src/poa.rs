//! Cybrilla POA's token endpoint as its Keycloak server answers, at the documented path
//! `POST /v2/auth/cybrillarta/token` and at the documents' sample path `POST /poa/auth/token`,
//! and the emulator-only `GET /__emulator/poa/whoami` that accepts POA tokens.
//!
//! Check order of the token endpoint (the first failing check answers), as Keycloak checks
//! the grant type before the client:
//! 1. `Content-Type: application/x-www-form-urlencoded` → else 400 `invalid_request`;
//! 2. the body: at most 64 KiB (→ 413), no parameter repeated (→ 400 `invalid_request`);
//! 3. `grant_type` present (→ 400 `invalid_request`) and `client_credentials`
//!    (→ 400 `unsupported_grant_type`);
//! 4. `client_id` and `client_secret` present and non-empty → else 400 `invalid_request`;
//! 5. both right → else 401 `unauthorized_client`,
//!    `"Invalid client or Invalid client credentials"`.
//!
//! An `Authorization` header is ignored. Tokens are JWT-shaped: a real header and real claims,
//! but a random "signature" that nothing can verify; the emulator recognises its tokens by
//! remembering them, not by checking signatures.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::DateTime;
use serde_json::{Value, json};

use crate::bearer::{self, PoaRejection};
use crate::http::{self, media_type};
use crate::oauth::{self, OAuthError, TokenRejection, token_response};
use crate::state::{State, later};
use crate::types::Vendor;

fn invalid_request(description: &'static str) -> OAuthError {
    OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request").description(description)
}

/// `POST /v2/auth/cybrillarta/token` and `POST /poa/auth/token`
pub(crate) async fn token(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, TokenRejection> {
    if media_type(&headers).as_deref() != Some("application/x-www-form-urlencoded") {
        return Err(
            invalid_request("Content-Type must be application/x-www-form-urlencoded").into(),
        );
    }
    let body = http::body(body)?;
    let mut parameters = HashMap::new();
    for (name, value) in form_urlencoded::parse(&body) {
        if parameters
            .insert(name.into_owned(), value.into_owned())
            .is_some()
        {
            return Err(invalid_request("duplicated parameter").into());
        }
    }
    match parameters.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        None => return Err(invalid_request("Missing form parameter: grant_type").into()),
        Some(_) => {
            return Err(
                OAuthError::new(StatusCode::BAD_REQUEST, "unsupported_grant_type")
                    .description("Unsupported grant_type")
                    .into(),
            );
        }
    }
    let present = |name: &str| parameters.get(name).filter(|value| !value.is_empty());
    let (Some(id), Some(secret)) = (present("client_id"), present("client_secret")) else {
        return Err(invalid_request("Missing form parameter: client_id or client_secret").into());
    };
    let client = &state.config.poa;
    if *id != client.client_id || *secret != client.client_secret {
        return Err(
            OAuthError::new(StatusCode::UNAUTHORIZED, "unauthorized_client")
                .description("Invalid client or Invalid client credentials")
                .into(),
        );
    }

    let settings = state.settings();
    let now = state.now();
    let iat = now.timestamp();
    let expires_at = later(now, settings.poa_lifetime);
    let exp = match settings.poa_jwt_lifetime {
        Some(jwt_lifetime) => iat.saturating_add(seconds(jwt_lifetime)),
        None => iat.saturating_add(seconds(settings.poa_lifetime)),
    };
    let token = jwt(&json!({
        "exp": exp,
        "iat": iat,
        "jti": uuid::Uuid::new_v4(),
        "iss": format!("{}/realms/cybrillarta", state.config.base_url),
        "azp": client.client_id,
        "scope": "partner",
        "typ": "Bearer",
    }));
    // A resource server checking this JWT would refuse it after `exp`, so the emulator stops
    // honouring it at the earlier of `exp` and `expires_in`.
    let exp_at = DateTime::from_timestamp(exp, 0).unwrap_or(DateTime::<chrono::Utc>::MAX_UTC);
    oauth::issue(
        &state,
        Vendor::Poa,
        token.clone(),
        expires_at.min(exp_at),
        exp,
        now,
    );
    Ok(token_response(&json!({
        "access_token": token,
        "expires_in": settings.poa_lifetime.as_secs(),
        "refresh_expires_in": 0,
        "token_type": "Bearer",
        "not-before-policy": 0,
        "scope": "partner",
    })))
}

/// Whole seconds of `duration`, saturating at `i64::MAX`.
fn seconds(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// A JWT-shaped token: base64url (no padding) of a real header and of `claims`, and a random
/// 32-byte "signature" that nothing can verify.
fn jwt(claims: &Value) -> String {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": "emulator"});
    let signature: Vec<u8> = std::iter::repeat_with(|| fastrand::u8(..))
        .take(32)
        .collect();
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// `GET /__emulator/poa/whoami`: who a valid POA token belongs to. Anything but a known,
/// unexpired, unrevoked POA token is a 401 with `WWW-Authenticate: Bearer error="invalid_token"`.
pub(crate) async fn whoami(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
) -> Result<Response, PoaRejection> {
    let issued = bearer::poa(&state, &headers)?;
    Ok(http::json(
        StatusCode::OK,
        &json!({
            "client_id": state.config.poa.client_id,
            "scope": "partner",
            "exp": issued.exp,
        }),
    ))
}
