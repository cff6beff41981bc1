//! Cybrilla POA's token endpoint as its Keycloak server answers, at the documented path
//! `POST /v2/auth/cybrillarta/token` and at the documents' sample path `POST /poa/auth/token`,
//! and the emulator-only `GET /__emulator/poa/whoami` that accepts POA tokens.
//!
//! The checks, their order and every string follow the workspace's Keycloak notes
//! (`keycloak-token-endpoint.md`; "row N" below is a row of its §2 error table, "§1.N" a step
//! of its check order). The first failing check answers:
//! 1. `Content-Type: application/x-www-form-urlencoded` (§1.1, row 4) → else
//!    415 `{"error":"HTTP 415 Unsupported Media Type"}`; the body at most 64 KiB (→ 413, an
//!    emulator bound);
//! 2. from here on every answer carries `Cache-Control: no-store` and `Pragma: no-cache`
//!    (§1.3), and control characters are removed from form values (§1.2);
//! 3. `grant_type`, before any credential (§1.6): missing → 400 `invalid_request`
//!    "Missing form parameter: grant_type" (row 7); anything but `client_credentials` →
//!    400 `unsupported_grant_type` "Unsupported grant_type" (row 8);
//! 4. client authentication (§5): HTTP Basic, both halves URL-decoded after base64 (RFC 6749
//!    section 2.3.1), then a form `client_id` / `client_secret` replaces each half; no id,
//!    or an unknown one → 401 `invalid_client` (rows 9, 10, 16); a missing or wrong secret →
//!    401 `unauthorized_client` (rows 12, 13); a Basic half with a malformed `%` escape →
//!    400 `unauthorized_client` "Unexpected error when authenticating client" (row 17).
//!    Client failures carry no `WWW-Authenticate`;
//! 5. any form parameter given twice → 400 `invalid_request` "duplicated parameter" (row 19);
//! 6. the client may use the grant (service accounts enabled) → else 401
//!    `unauthorized_client` "Client not enabled to retrieve service account" (row 23).
//!
//! Tokens are JWT-shaped: a real header and real claims, but a random "signature" that
//! nothing can verify; the emulator recognises its tokens by remembering them, not by checking
//! signatures.

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use chrono::DateTime;
use serde_json::{Value, json};

use crate::bearer::{self, PoaRejection};
use crate::http::{self, authorization, media_type};
use crate::oauth::{
    self, Escapes, MalformedEscape, OAuthError, TokenRejection, decode_component, no_store,
    token_response,
};
use crate::state::{State, later};
use crate::types::{Client, Vendor};

fn invalid_request(description: &'static str) -> OAuthError {
    OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request").description(description)
}

/// The description of every client authentication failure (rows 9–14).
const INVALID_CLIENT: &str = "Invalid client or Invalid client credentials";

/// `POST /v2/auth/cybrillarta/token` and `POST /poa/auth/token`
pub(crate) async fn token(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, TokenRejection> {
    // Row 4: JAX-RS refuses any other media type before Keycloak's code runs, so this answer
    // carries none of the headers the token endpoint sets.
    if media_type(&headers).as_deref() != Some("application/x-www-form-urlencoded") {
        return Err(OAuthError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "HTTP 415 Unsupported Media Type",
        )
        .into());
    }
    let body = http::body(body)?;
    // §1.3: set before any check, so every later answer, errors included, carries them.
    Ok(no_store(
        grant(&state, &headers, &body).unwrap_or_else(IntoResponse::into_response),
    ))
}

/// Checks 3 to 5 of the module documentation, then issues the token.
fn grant(state: &State, headers: &HeaderMap, body: &[u8]) -> Result<Response, OAuthError> {
    let form = Form::parse(body);
    // Row 7, row 8: the grant type comes before the client (§1.6); the first value counts.
    match form.first("grant_type") {
        None => return Err(invalid_request("Missing form parameter: grant_type")),
        Some("client_credentials") => {}
        Some(_) => {
            return Err(
                OAuthError::new(StatusCode::BAD_REQUEST, "unsupported_grant_type")
                    .description("Unsupported grant_type"),
            );
        }
    }
    let client = authenticate(state, headers, &form)?;
    // Row 19: after client authentication, which already used the first values.
    if form.has_duplicates() {
        return Err(invalid_request("duplicated parameter"));
    }
    // Row 23, checked by the grant itself (§1.12).
    if !client.allows_client_credentials_grant() {
        return Err(
            OAuthError::new(StatusCode::UNAUTHORIZED, "unauthorized_client")
                .description("Client not enabled to retrieve service account"),
        );
    }
    let client_id = client.credentials().client_id.as_str();

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
        "azp": client_id,
        "scope": "partner",
        "typ": "Bearer",
    }));
    // A resource server checking this JWT would refuse it after `exp`, so the emulator stops
    // honouring it at the earlier of `exp` and `expires_in`.
    let exp_at = DateTime::from_timestamp(exp, 0).unwrap_or(DateTime::<chrono::Utc>::MAX_UTC);
    oauth::issue(
        state,
        Vendor::Poa,
        client_id,
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

/// Keycloak's client authentication (`ClientIdAndSecretAuthenticator`, §5): Basic first,
/// then each form value replaces its Basic half. Answers the authenticated client.
fn authenticate(state: &State, headers: &HeaderMap, form: &Form) -> Result<Client, OAuthError> {
    let (basic_id, basic_secret) = match keycloak_basic(headers) {
        Ok(Some((id, secret))) => (Some(id), Some(secret)),
        // Row 16: an undecodable header is as good as none.
        Ok(None) => (None, None),
        // Row 17.
        Err(MalformedEscape) => {
            return Err(
                OAuthError::new(StatusCode::BAD_REQUEST, "unauthorized_client")
                    .description("Unexpected error when authenticating client"),
            );
        }
    };
    let id = form.first("client_id").map(str::to_owned).or(basic_id);
    let secret = form
        .first("client_secret")
        .map(str::to_owned)
        .or(basic_secret);
    let invalid_client =
        || OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client").description(INVALID_CLIENT);
    // Rows 9 and 10: no id, or no such client.
    let id = id.ok_or_else(invalid_client)?;
    let client = state
        .clients()
        .get(Vendor::Poa, &id)
        .cloned()
        .ok_or_else(invalid_client)?;
    // Rows 12 and 13: a missing or wrong secret.
    if secret.as_deref() != Some(client.credentials().client_secret.as_str()) {
        return Err(
            OAuthError::new(StatusCode::UNAUTHORIZED, "unauthorized_client")
                .description(INVALID_CLIENT),
        );
    }
    Ok(client)
}

/// A form body as JAX-RS hands it to Keycloak: every pair in order, with control characters
/// removed from the values (§1.2).
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    pub(crate) fn parse(body: &[u8]) -> Self {
        Self(
            form_urlencoded::parse(body)
                .map(|(name, value)| {
                    let value: String = value.chars().filter(|c| !c.is_control()).collect();
                    (name.into_owned(), value)
                })
                .collect(),
        )
    }

    /// The first value of `name` (`MultivaluedMap.getFirst`).
    pub(crate) fn first(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(given, _)| given == name)
            .map(|(_, value)| value.as_str())
    }

    /// Every pair, in order.
    pub(crate) fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// Whether any parameter is given more than once.
    pub(crate) fn has_duplicates(&self) -> bool {
        let mut seen = HashSet::new();
        !self.0.iter().all(|(name, _)| seen.insert(name.as_str()))
    }
}

/// Keycloak's reading of a Basic header (`BasicAuthHelper.RFC6749.parseHeader`): scheme
/// compared case-insensitively, base64 decoded, split at the first `:`, each half URL-decoded
/// (§5). `Ok(None)` for a header that is absent or does not decode to `id:secret`.
pub(crate) fn keycloak_basic(
    headers: &HeaderMap,
) -> Result<Option<(String, String)>, MalformedEscape> {
    let Some(encoded) = authorization(headers, "basic") else {
        return Ok(None);
    };
    let Ok(decoded) = JAVA_BASE64.decode(encoded) else {
        return Ok(None);
    };
    let decoded = String::from_utf8_lossy(&decoded);
    let Some((id, secret)) = decoded.split_once(':') else {
        return Ok(None);
    };
    // `java.net.URLDecoder`: a malformed escape is an error.
    let decode = |half: &str| decode_component(half, Escapes::Strict);
    Ok(Some((decode(id)?, decode(secret)?)))
}

/// `java.util.Base64.getDecoder()`: the standard alphabet, padding optional.
const JAVA_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

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
            "client_id": &*issued.client_id,
            "scope": "partner",
            "exp": issued.exp,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_keep_every_pair_and_drop_control_characters() {
        let form = Form::parse(b"a=1&b=x%0Ay%07&a=2");
        assert_eq!(form.first("a"), Some("1"));
        assert_eq!(form.first("b"), Some("xy"));
        assert_eq!(form.first("c"), None);
        assert!(form.has_duplicates());
        assert!(!Form::parse(b"a=1&b=2").has_duplicates());
    }
}
